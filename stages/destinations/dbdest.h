/*
 * What the table destinations (postgres, mysql) share: the columns and
 * the workers' rows (db/dbload.h), the answer of the load ledger
 * (spate_loads) and the stage callbacks that do not depend on the
 * database.  A stage's state begins with its struct sp_dbdest, so the
 * callbacks below serve as the stage's own.
 *
 * A target whose ledger holds this run's load (and no --force) holds the
 * run (stage.h holds_run): the stage then opens no transaction, still
 * converts each record (a value that does not fit is the same record
 * error as in the run that loaded it, so a rebuilt error output is
 * exact) and drops the rows instead of sending them.  The run goes on
 * for destinations that lack their output, or ends "skipped" when every
 * destination holds it.
 *
 * Threads: init, found, recorded, fini on the controlling thread; the
 * worker callbacks on workers; status on any thread.
 */
#ifndef SPATE_STAGES_DBDEST_H
#define SPATE_STAGES_DBDEST_H

#include <stdbool.h>
#include <stdint.h>

#include "db/dbcol.h"
#include "db/dbload.h"
#include "stage_api/stage.h"

struct sp_dbdest;

/* What the shared transaction handling needs of the database. */
struct sp_dbdest_ops {
	/* runs a statement without rows (COMMIT, ROLLBACK): 0 or -errno
	 * with err */
	int (*exec)(struct sp_dbdest *d, const char *sql, char *err,
		    size_t errlen);
	/* ends the bulk load (COPY, LOAD DATA) that is still open when the
	 * run rolls back; the server's answer does not matter */
	void (*abort_load)(struct sp_dbdest *d);
};

struct sp_dbdest {
	const struct sp_dbdest_ops *ops;
	const struct sp_stage_ctx *ctx;
	const char *table; /* as configured, for messages */
	struct sp_dbcols cols;
	char *qualified; /* the table as the server names it (owned) */
	struct sp_dbload load;
	/* the backend's sender of rows (sp_dbload's send), not called while
	 * the target holds the run */
	int (*send)(void *arg, const char *p, size_t n, char *err,
		    size_t errlen);
	void *arg;
	char who[160]; /* "[destination:TYPE:ID]" */
	bool holds, committed;
	bool in_tx;   /* the run's transaction is open */
	bool loading; /* the bulk load is open (COPY, LOAD DATA) */
	uint64_t rows_loaded, rows_held;
};

/* type is the stage type ("postgres"); table and ctx must outlive d.
 * The caller then sets load.fmt, load.send_bytes (and load.prefix). */
void sp_dbdest_init(struct sp_dbdest *d, const char *type,
		    const struct sp_dbdest_ops *ops,
		    const struct sp_stage_ctx *ctx, const char *table,
		    int (*send)(void *, const char *, size_t, char *, size_t),
		    void *arg);
void sp_dbdest_fini(struct sp_dbdest *d);

/* The ledger's answer for this run: found (with its rows) holds the run
 * unless --force, which loads again beside the earlier rows (logged). */
void sp_dbdest_found(struct sp_dbdest *d, bool found, uint64_t rows);

/* prepare's ledger write returned rc: -EEXIST becomes the message of a
 * concurrent load of the same input.  Returns rc. */
int sp_dbdest_recorded(struct sp_dbdest *d, int rc, char *err,
		       size_t errlen);

/* Opens the run's transaction with the statement sql. */
int sp_dbdest_begin(struct sp_dbdest *d, const char *sql, char *err,
		    size_t errlen);

void *sp_dbdest_worker_create(void *state, unsigned worker);
void sp_dbdest_worker_destroy(void *state, void *wstate);
int sp_dbdest_stage_batch(void *state, void *wstate, struct sp_batch *b,
			  const uint32_t *sel, uint32_t n);
int64_t sp_dbdest_flush(void *state, void *wstate);
int64_t sp_dbdest_batch_end(void *state, void *wstate, uint64_t seq);
/* commits (ok) or rolls back the open transaction, ending an open load */
int sp_dbdest_finish(void *state, bool ok, char *err, size_t errlen);
void sp_dbdest_status(void *state, struct sp_stage_status *st);
bool sp_dbdest_holds_run(void *state);

#endif
