/*
 * The runtime: runs a validated flow.  One reader thread per origin calls
 * next() and pushes chunks into a bounded ring; N pinned workers pop a
 * chunk, parse it into a batch and run it depth-first through processors,
 * selector lanes and destinations; events go to executors on the thread
 * that waits for the run.  Counters are per stage and worker, summed on
 * read, so status can be read from any thread at any time.
 */
#ifndef SPATE_ENGINE_RUNTIME_H
#define SPATE_ENGINE_RUNTIME_H

#include <stdbool.h>
#include <stdint.h>

#include "flow/flow.h"
#include "stage_api/stage.h"

enum sp_run_state {
	SP_RUN_CREATED = 0,
	SP_RUN_RUNNING,
	SP_RUN_FINISHED,
	SP_RUN_FAILED,
	SP_RUN_STOPPED,
};

const char *sp_run_state_name(enum sp_run_state s);

struct sp_run_options {
	unsigned workers;    /* 0: the flow's `workers`, else usable CPUs */
	bool force;	     /* replace output an earlier run committed */
	bool no_pin;	     /* do not pin workers to CPUs */
	const char *catalog; /* stage catalog database; NULL: the default */
	/* parse and route everything, write nothing: destinations and
	 * executors are not started and see no data; every record error is
	 * logged (none is sent to the error stage or stops the run) */
	bool validate_only;
	/* fingerprint input files by size and mtime instead of content */
	bool trust_mtime;
};

struct sp_stage_report {
	const char *id;
	const char *type;
	enum sp_stage_kind kind;
	uint64_t in;	    /* records (events for executors) taken in */
	uint64_t forwarded; /* records passed on (any lane) or written */
	uint64_t errors;
	uint64_t warnings;
	uint64_t dropped; /* filtered out on purpose */
	uint64_t bytes_in, bytes_out;
	uint64_t batches;
	uint64_t busy_ns;
	uint64_t input_size; /* origin: bytes of input when known, else 0 */
	uint32_t nlanes;
	const char *lanes[SP_MAX_LANES];
	uint64_t out[SP_MAX_LANES];
	struct sp_stage_status extra;
};

struct sp_run_report {
	enum sp_run_state state;
	double elapsed_s;
	unsigned workers;
	uint64_t input_bytes; /* total input size when known, else 0 */
	char run_id[17];      /* the run's id (hex), "" before it is known */
	char error[1024];     /* why the run failed, "" otherwise */
	char accounting[512]; /* "" when in = out + errors + dropped holds */
	/* the run's output is committed (finished or drained); with a
	 * failed state: committed, but what follows the commit failed
	 * (after_commit, e.g. the load history), error says what to do */
	bool committed;
	/* a stop arrived after the commit had begun: the run committed */
	bool stop_too_late;
	/* record errors of stages whose on_record_error was not given and
	 * that had no error stage to send them to: lost without the flow
	 * choosing it (exit 3) */
	uint64_t discarded;
	uint32_t nstages;
	struct sp_stage_report *stages;
};

struct sp_runtime;

/* Creates every stage (their create callbacks) for a validated flow; the
 * flow must outlive the runtime.  0 or -errno with err. */
int sp_runtime_create(struct sp_flow *f, const struct sp_run_options *opt,
		      struct sp_runtime **out, char *err, size_t errlen);

/* Starts the stages and threads.  0 or -errno with err.  -EALREADY is
 * the exactly-once skip, not a failure: the output of this run (same run
 * id) is committed already, because every destination's holds_run said
 * so or a destination's start returned -EALREADY (stage.h); err says
 * why, no data moves, and the caller reports the run as skipped
 * (`spate run` prints "skipped", the SDK ends the run
 * SPATE_RUN_SKIPPED) and destroys the runtime without sp_runtime_wait. */
int sp_runtime_start(struct sp_runtime *rt, char *err, size_t errlen);

/* Runs events to executors until the run ends, commits or rolls back
 * the destinations, and returns the final state.  One thread only. */
enum sp_run_state sp_runtime_wait(struct sp_runtime *rt);

/* Drain (abort=false): origins stop, batches in flight finish, outputs
 * commit.  Abort: remaining work is skipped and outputs roll back.  Any
 * thread; safe to call more than once. */
void sp_runtime_stop(struct sp_runtime *rt, bool abort);

/* Fills rep with the current counters; any thread, any time.  Free with
 * sp_run_report_fini.  0 or -ENOMEM. */
int sp_runtime_report(struct sp_runtime *rt, struct sp_run_report *rep);
void sp_run_report_fini(struct sp_run_report *rep);

void sp_runtime_destroy(struct sp_runtime *rt);

/* CPUs this process may run on (sched_getaffinity), at least 1. */
unsigned sp_usable_cpus(void);

#endif
