/*
 * Sinks: destinations whose records go to callbacks that the program
 * running spate supplies (a language binding, an embedding application, a
 * plugin), registered by name for the whole process.  A flow uses one with
 * a stage of type `sink` whose `name` option names the registration.  The
 * public face of this is spate_sink_register() in include/spate/spate.h.
 */
#ifndef SPATE_STAGES_SINK_H
#define SPATE_STAGES_SINK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"
#include "record/batch.h"

/* One batch of records handed to a sink's write callback: records
 * sel[0..n) of b.  scratch holds unescaped strings until the call returns;
 * a record the sink rejects gets sp_batch_error_add() on b. */
struct sp_sink_records {
	struct sp_batch *b;
	const uint32_t *sel;
	uint32_t n;
	struct sp_arena *scratch;
};

/* Callbacks; user is passed back to each.  begin runs when a run starts
 * the stage (controlling thread), write on the stage's own thread, one
 * batch at a time, end once the run has decided (ok: committing), release
 * once the registration is gone and no run uses it any more.  begin, end
 * and release may be NULL.  0 or -errno with a message in err. */
struct sp_sink_ops {
	int (*begin)(void *user, const char *stage_id, char *err,
		     size_t errlen);
	int (*write)(void *user, struct sp_sink_records *r, char *err,
		     size_t errlen);
	int (*end)(void *user, bool ok, char *err, size_t errlen);
	void (*release)(void *user);
	void *user;
};

/* Registers ops under name ([A-Za-z0-9_.-]+, at most 128 bytes).  0,
 * -EEXIST (name taken), -EINVAL, -ENOMEM. */
int sp_sink_register(const char *name, const struct sp_sink_ops *ops);

/* Removes the registration; a run using it keeps it until the run ends,
 * then release is called.  0 or -ENOENT. */
int sp_sink_unregister(const char *name);

#endif
