/*
 * The stage API: what a stage type is (a const descriptor with an option
 * table and callbacks) and the calls a stage may make into the engine.
 * Stages see this header and the record core (batch.h, value.h, expr.h),
 * never the scheduler.  External stages (plugins) export a descriptor with
 * the same layout under the symbol `spate_stage_descriptors` (a
 * NULL-terminated array of pointers).
 *
 * Threads: create/start/finish/close run on the controlling thread;
 * next() on the origin's reader thread; parse/process/stage_batch and the
 * worker_* callbacks on worker threads (with that worker's wstate), so a
 * stage's shared state must be read-only there or guarded by the stage.
 */
#ifndef SPATE_ENGINE_STAGE_H
#define SPATE_ENGINE_STAGE_H

#include <stdarg.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#include "record/batch.h"
#include "config/options.h"
#include "core/log.h"
#include "record/symtab.h"

/* Callbacks are only ever appended; a plugin built for ABI n loads in any
 * engine with ABI >= n, except that an ABI 1 plugin with an enum option
 * is refused (ABI 2 binds enums to an index instead of a string), and an
 * ABI 1 or 2 plugin with an expression option (SP_OPT_EXPR, a MAP with
 * exprs) is refused (ABI 3 binds them compiled, not as text).  The
 * callbacks appended in ABI 4 are read only from stages built for it. */
#define SP_STAGE_ABI 4

enum sp_stage_kind {
	SP_ORIGIN = 0,
	SP_PROCESSOR,
	SP_DESTINATION,
	SP_EXECUTOR,
};

const char *sp_stage_kind_name(enum sp_stage_kind k);

/* Maximum output lanes of one stage (the selector's lanes + default). */
#define SP_MAX_LANES 32

/* A unit of origin output handed to a worker: raw input bytes (parsed on
 * the worker) or a range of records to generate. */
struct sp_chunk {
	const char *data; /* bytes, or NULL for generated chunks */
	size_t len;
	uint64_t first;	   /* first line (files) or first record number */
	uint64_t count;	   /* records to generate (generators) */
	uint64_t offset;   /* byte offset of data in its input */
	uint64_t seq;	   /* set by the engine: position in origin order */
	const char *source; /* input name for messages; outlives the chunk */
	void *ctx;	   /* origin-private (e.g. per-file parser) */
	void *buf;	   /* origin-private buffer handle for release */
};

/* What the engine tells a stage when it is created. */
struct sp_stage_services;

struct sp_stage_ctx {
	const char *flow;     /* flow name */
	const char *flow_dir; /* folder of the flow file ("." for the SDK) */
	const char *id;	      /* stage id */
	const char *run_id;   /* this run's id (deterministic per flow + input);
			       * "" until known: see run_id_at_start */
	struct sp_symtab *symtab;
	unsigned workers;
	bool force;	      /* --force: replace earlier committed output */
	void *engine; /* opaque handle of the running engine */
	int stop_fd;	      /* readable once the run stops (poll it in a
			       * blocking read); <= 0 when unavailable */
	const char *catalog;  /* stage catalog database (include/spate/
			       * catalog.h); NULL: the default */
	bool validate_only;   /* --validate-only: nothing is written */
	/* true once the run ended and its output is committed (finished, or
	 * drained and committed); final when close() is called */
	const bool *committed;
	/* what the running engine does for a stage (events, stop), with
	 * engine as its handle; NULL outside a run (unit tests).  Last, so
	 * that the layout of the fields before it stays as plugins of
	 * earlier builds know it. */
	const struct sp_stage_services *services;
	uint32_t index;		/* the stage's position in the flow */
	const char *log_prefix; /* "[origin:file_reader:src]" */
	/* --trust-mtime: origins fingerprint files by size and mtime instead
	 * of reading them to hash their content */
	bool trust_mtime;
	/* an origin of the flow is streaming (see sp_stage_desc.streaming):
	 * every run is new input, its run id is unique */
	bool streaming;
};

/* An event a stage raises (file-closed, no-more-data, ...): name plus
 * string fields, delivered to the executors and destinations connected to
 * the stage's event lane. */
#define SP_EVENT_MAX_FIELDS 8

struct sp_event {
	const char *type; /* "file-closed", "no-more-data", ... */
	const char *stage;
	uint32_t nfields;
	const char *keys[SP_EVENT_MAX_FIELDS];
	const char *values[SP_EVENT_MAX_FIELDS];
};

/* The services a run offers its stages, reached through the stage's
 * context so that stages depend on this contract only, never on the
 * runtime that implements it. */
struct sp_stage_services {
	/* Raises an event from any thread; copied before it returns. */
	void (*emit_event)(void *engine, const struct sp_event *ev);
	/* Asks the run to drain and stop (pipeline_finisher); any thread. */
	void (*request_stop)(void *engine, const char *why);
	/* Counts a warning of stage `stage` (its index); any thread. */
	void (*count_warning)(void *engine, uint32_t stage);
	/* Destinations that publish together (the run-level commit record,
	 * io/commit.h) name their target at start (copied; start thread)
	 * and read every target of the run at prepare: a NULL-terminated
	 * list valid until the run is destroyed. */
	void (*add_target)(void *engine, const char *target);
	const char *const *(*targets)(void *engine);
	/* Fails the run with message why (copied): it rolls back; any
	 * thread.  An executor whose action failed calls it. */
	void (*fail)(void *engine, const char *why);
};

/* run_id_at_start of a stage that never reads the run id (a destination
 * without lasting output: trash, stdout). */
static inline bool sp_stage_no_run_id_at_start(void *state)
{
	(void)state;
	return false;
}

static inline void sp_stage_emit_event(const struct sp_stage_ctx *ctx,
				       const struct sp_event *ev)
{
	if (ctx->services)
		ctx->services->emit_event(ctx->engine, ev);
}

/* Logs a message of the stage, prefixed with its kind, type and id
 * ("[origin:file_reader:src] ...").  Never per record. */
#define sp_stage_log(ctx, level, fmt, ...)                                   \
	sp_log((level), "%s " fmt,                                            \
	       (ctx)->log_prefix ? (ctx)->log_prefix : "", ##__VA_ARGS__)

/* Logs a warning of the stage and counts it in the stage's warnings (the
 * status and summary show them): something the user should know that
 * did not lose or change a record (a file skipped on purpose, a renamed
 * duplicate column, ...). */
#define sp_stage_warn(ctx, fmt, ...)                                          \
	do {                                                                  \
		sp_stage_count_warning(ctx);                                  \
		sp_stage_log((ctx), SP_LOG_WARN, fmt, ##__VA_ARGS__);         \
	} while (0)

static inline void sp_stage_count_warning(const struct sp_stage_ctx *ctx)
{
	if (ctx->services && ctx->services->count_warning)
		ctx->services->count_warning(ctx->engine, ctx->index);
}

static inline void sp_stage_request_stop(const struct sp_stage_ctx *ctx,
					 const char *why)
{
	if (ctx->services)
		ctx->services->request_stop(ctx->engine, why);
}

static inline void sp_stage_fail(const struct sp_stage_ctx *ctx,
				 const char *why)
{
	if (ctx->services && ctx->services->fail)
		ctx->services->fail(ctx->engine, why);
}

static inline void sp_stage_add_target(const struct sp_stage_ctx *ctx,
				       const char *target)
{
	if (ctx->services && ctx->services->add_target)
		ctx->services->add_target(ctx->engine, target);
}

static inline const char *const *
sp_stage_targets(const struct sp_stage_ctx *ctx)
{
	return ctx->services && ctx->services->targets
		   ? ctx->services->targets(ctx->engine)
		   : NULL;
}

/* Status a stage may add to its counters (shown in summaries). */
struct sp_stage_status {
	uint64_t files;	    /* files written (destinations), read (origins) */
	uint64_t bytes_in;  /* when nonzero: replaces the engine's count */
	uint64_t bytes_out; /* when nonzero: replaces the engine's count */
	uint64_t skipped;   /* inputs skipped (already loaded) */
	char note[256];	    /* free text, e.g. "3 files committed" */
};

/*
 * A processor sees records in[0..n) of b and writes the records it passes
 * on into out[lane].idx (room for n each), setting out[lane].n.  A record
 * it rejects gets sp_batch_error_add(b, rec, ...) and goes nowhere; the
 * engine then applies the stage's on_record_error.  A record filtered out
 * on purpose is simply not output (counted as dropped).
 */
struct sp_selection {
	uint32_t *idx;
	uint32_t n;
};

struct sp_check;

struct sp_stage_desc {
	uint32_t abi; /* SP_STAGE_ABI at build time */
	const char *name;
	enum sp_stage_kind kind;
	const char *help; /* one line */
	const struct sp_option *options;
	size_t config_size;
	/* processor changes records in place: the engine hands it a private
	 * copy when another lane shares the batch */
	bool mutates;
	/* processor may drop records on purpose (filter); for any other
	 * stage a record that is neither output nor an error is a bug that
	 * the end-of-run accounting check reports */
	bool may_drop;

	/* config is the parsed option struct (owned by the engine, valid
	 * until close).  Returns 0 or -errno with a message in err. */
	int (*create)(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen);
	/* Output lanes (selector) from the bound config, in order, the
	 * "default" lane included: names into *lanes (valid while config
	 * lives), count returned.  NULL means one unnamed lane. */
	uint32_t (*lanes)(const void *config, const char **lanes, uint32_t max);
	/* Before data moves (threads, files).  0 or -errno + err.
	 * -EALREADY is not a failure but the exactly-once skip of the
	 * whole run: a destination that finds this run in its target (and
	 * ctx->force is false) returns -EALREADY with err saying where it
	 * found it; the run then ends "skipped" (nothing written, no later
	 * stage started, no after_commit).  Prefer holds_run, which lets
	 * the other destinations rebuild what they lack (the built-in
	 * file and database destinations answer it). */
	int (*start)(void *state, char *err, size_t errlen);

	/* per-worker state: optional.  worker_create returns NULL only when
	 * it fails (out of memory); the run then fails before any data
	 * moves, so the other callbacks never see a NULL worker state. */
	void *(*worker_create)(void *state, unsigned worker);
	void (*worker_destroy)(void *state, void *wstate);

	/* origin: produce the next chunk. 1 = chunk, 0 = no more, -errno
	 * (message in err) fails the run.  A draining run stops calling it. */
	int (*next)(void *state, struct sp_chunk *out, char *err,
		    size_t errlen);
	/* origin, on a worker: records of chunk c into b. -errno fails. */
	int (*parse)(void *state, void *wstate, const struct sp_chunk *c,
		     struct sp_batch *b);
	/* origin: the chunk's memory is no longer used (any thread). */
	void (*release)(void *state, struct sp_chunk *c);
	/* origin: bytes of input in total when known (for progress), else 0 */
	uint64_t (*input_size)(void *state);
	/* origin: fingerprint of its input (names, sizes, content hashes or
	 * mtimes), mixed into the run id so that a rerun over the same input
	 * is recognised; may be NULL.  ctx->run_id is final when start() is
	 * called, unless every destination says it can wait (ABI 4,
	 * run_id_at_start): then it is final before prepare(). */
	uint64_t (*identity)(void *state);

	/* processor, on a worker */
	int (*process)(void *state, void *wstate, struct sp_batch *b,
		       const uint32_t *in, uint32_t n,
		       struct sp_selection *out);

	/* destination, on a worker: take records sel[0..n) of b (possibly
	 * several calls per origin batch, one per input path).  0 or -errno
	 * (fails the run); a record it cannot write gets sp_batch_error_add.
	 * Nothing may point into b after the call returns. */
	int (*stage_batch)(void *state, void *wstate, struct sp_batch *b,
			   const uint32_t *sel, uint32_t n);
	/* destination, on a worker: the origin batch with sequence number seq
	 * is done (called once per batch and destination, records or not),
	 * so what stage_batch took may be sealed; ordered writers put seqs
	 * back in order.  Returns output bytes produced (>= 0) or -errno. */
	int64_t (*batch_end)(void *state, void *wstate, uint64_t seq);
	/* destination, on each worker once its input is exhausted: seal
	 * what is left.  Returns output bytes produced (>= 0) or -errno. */
	int64_t (*worker_flush)(void *state, void *wstate);

	/* executor (and destinations used as event sinks) */
	int (*on_event)(void *state, const struct sp_event *ev);

	/* After all data, on every stage before any finish: make sure the
	 * output can be committed (writes done, no error, no collision)
	 * without making anything visible.  One failure rolls back every
	 * destination, so that a run publishes all or nothing.  0 or -errno
	 * with err.  Optional. */
	int (*prepare)(void *state, char *err, size_t errlen);
	/* After all data: ok=true commits, ok=false rolls back. 0 or -errno
	 * with err. */
	int (*finish)(void *state, bool ok, char *err, size_t errlen);
	void (*status)(void *state, struct sp_stage_status *st);
	void (*close)(void *state);

	/* Appended after ABI 1 (a zero-filled tail in older plugins). */

	/* origin: its input cannot be read again (stdin, network): a run
	 * over it is never "the same input" as an earlier one, and the
	 * first signal drains and commits what was read instead of
	 * rolling back. */
	bool streaming;
	/* destination, after start: whether its target already holds the
	 * complete committed output of this run (same run id, so the same
	 * flow and input).  Such a destination keeps what it holds: it
	 * takes records without writing and commits nothing.  The run is
	 * skipped (nothing to do) when every destination that has this
	 * callback says true.  NULL: a destination without lasting output
	 * (trash, stdout). */
	bool (*holds_run)(void *state);
	/* After every finish of a run whose output is committed (or a run
	 * skipped because it was): record what depends on the commit, such
	 * as the load history.  0 or -errno with err: the output stays
	 * committed but the run exits non-zero with err, which says what to
	 * do.  Optional. */
	int (*after_commit)(void *state, char *err, size_t errlen);

	/* Flow validation (`spate validate`, spate_flow_validate and the
	 * start of `spate run` alike) checks what a run would refuse before
	 * it moves data, so that the three agree. */
	/* create() only checks and compiles the config (no files, no
	 * connections, no threads): validation calls create and close and
	 * reports what create refused ("OPTION: what is wrong"). */
	bool create_checks;
	/* Checks of the bound config beyond the option table (paths,
	 * templates, option combinations, what must exist), without side
	 * effects: each problem through sp_check_problem.  Optional. */
	void (*check)(const void *config, struct sp_check *chk);

	/* Appended in ABI 4: read only from stages whose abi is 4 or more. */

	/* origin: whether its identity still lacks what reading the input
	 * gives at no extra cost (file_reader: the content hash of its local
	 * files, which create leaves to the read when it may).  Optional. */
	bool (*identity_pending)(void *state);
	/* origin: takes what its identity lacks, now: before start when the
	 * run id is needed then, else after the data (what the read did not
	 * take: a file skipped after a bad record).  0 or -errno with err;
	 * an error fails the run.  Required with identity_pending. */
	int (*complete_identity)(void *state, char *err, size_t errlen);
	/* any stage, before start (no side effects): whether its start or
	 * its work on the data needs ctx->run_id (a destination that
	 * compares the id with what its target holds, or names files with
	 * it).  When no stage needs it, the engine takes the run id after
	 * the data, before prepare(), from what the read hashed: a run over
	 * new input reads it once instead of twice.  NULL: needed at start
	 * for a destination, not for a stage of another kind (which sees
	 * the id from prepare() on).  A stage built for an ABI before 4 is
	 * always given the id at start.  sp_stage_no_run_id_at_start suits
	 * a destination without lasting output. */
	bool (*run_id_at_start)(void *state);
};

/* What validation hands a stage's check callback. */
struct sp_check {
	const char *flow_dir; /* folder of the flow file ("." for the SDK) */
	const char *id;	      /* the stage's id */
	/* the root folder of the local catalog stage named by the stage's
	 * `stage` option; NULL without one, for an S3 stage, or when it did
	 * not resolve (validation reported that already) */
	const char *stage_root;
	bool stage_set;	 /* the `stage` option is given */
	bool streaming;	 /* an origin of the flow is streaming */
	/* engine side: report a problem of option (NULL: the stage) */
	void (*problem)(struct sp_check *chk, const char *option,
			const char *msg);
	/* engine side: the stage writes target (a folder, normalised by
	 * the engine); two stages of a flow may not write the same one */
	void (*claim)(struct sp_check *chk, const char *option,
		      const char *target);
	void *priv;
};

static inline void sp_check_problem(struct sp_check *chk, const char *option,
				    const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static inline void sp_check_problem(struct sp_check *chk, const char *option,
				    const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	chk->problem(chk, option, msg);
}

#endif
