/*
 * spate - the C SDK.
 *
 * Build, edit, validate and save flows from C, the same flows a YAML flow
 * file describes (the calls mirror the StreamSets SDK: add/remove stage,
 * connect/disconnect output, input and event, list connections, edit a
 * stage's configuration, add/remove selector predicates).
 *
 *	struct spate_flow *flow = spate_flow_create("expenses");
 *	struct spate_stage *src = spate_flow_add_stage(flow, "file_reader",
 *						       "src");
 *	struct spate_stage *out = spate_flow_add_stage(flow, "file_writer",
 *						       NULL);
 *	spate_stage_set_config(src, "path", "data/in.jsonl");
 *	spate_stage_set_config(out, "dir", "out");
 *	spate_stage_connect_output(src, out);
 *	if (spate_flow_validate(flow, err, sizeof(err)) == 0)
 *		spate_flow_save(flow, "expenses.yaml");
 *	spate_flow_destroy(flow);
 *
 * Conventions:
 * - Calls returning int return 0 (or a count, or a length) on success and a
 *   negative errno value on failure.  Calls returning a pointer return NULL
 *   on failure and set errno.
 * - Strings passed in are copied; the caller keeps ownership.  Strings
 *   returned (ids, names) belong to the flow and stay valid until the
 *   stage is removed or the flow destroyed.
 * - A stage handle belongs to its flow: it stays valid until
 *   spate_flow_remove_stage() or spate_flow_destroy().
 * - Threads: a flow and its stages must be used by one thread at a time
 *   (there is no locking inside); different flows may be used from
 *   different threads at once.  A run (spate_flow_start()) may be
 *   watched and stopped from any thread: each call says.
 * - Editing never validates (beyond refusing an option name the stage's
 *   type does not have): a flow may be incomplete or inconsistent
 *   while it is being built.  spate_flow_validate() checks everything and
 *   reports every problem, as `spate validate` does.
 */
#ifndef SPATE_SPATE_H
#define SPATE_SPATE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

struct spate_flow;
struct spate_stage;

/* ---- flows ------------------------------------------------------------ */

/* A new, empty flow named name ([A-Za-z0-9_-]+, checked by validation).
 * NULL when out of memory.  Free it with spate_flow_destroy(). */
struct spate_flow *spate_flow_create(const char *name);

/* Reads a flow file.  0 and *out (owned by the caller) on success; a
 * negative errno when the file cannot be read or is not a well-formed
 * flow file (YAML syntax, a stage without id or type, unknown top-level
 * keys, ...), with every message, one per line ("flow.yaml:12: ..."), in
 * errbuf (errlen bytes, always NUL-terminated; errbuf may be NULL).
 * Loading does not validate: call spate_flow_validate() for that. */
int spate_flow_load(const char *path, struct spate_flow **out, char *errbuf,
		    size_t errlen);

/* The same from YAML text in memory (messages name it "flow"). */
int spate_flow_load_string(const char *yaml, struct spate_flow **out,
			   char *errbuf, size_t errlen);

/* Frees the flow and all its stage handles.  NULL is a no-op. */
void spate_flow_destroy(struct spate_flow *flow);

/* The flow's name (owned by the flow), or NULL when it has none. */
const char *spate_flow_name(const struct spate_flow *flow);

/* Worker threads for runs; 0 means the CPUs this process may use.
 * 0 or -EINVAL (more than 1024). */
int spate_flow_set_workers(struct spate_flow *flow, unsigned workers);

/* Makes stage (a destination) the flow's error stage, which receives the
 * records that other stages reject with on_record_error: to_error.  NULL
 * removes the error stage.  0 or -EINVAL (stage of another flow). */
int spate_flow_set_error_stage(struct spate_flow *flow,
			       struct spate_stage *stage);

/* ---- stages ------------------------------------------------------------ */

/* Adds a stage of the given type (file_reader, stream_selector, ...).  id
 * NULL picks the first free "<type>_01", "<type>_02", ...  The type is
 * checked by validation, not here, so plugin types can be used.  Returns
 * the stage, or NULL with errno EEXIST (id taken), EINVAL or ENOMEM. */
struct spate_stage *spate_flow_add_stage(struct spate_flow *flow,
					 const char *type, const char *id);

/* Removes stage from flow and disconnects it from every stage that used it
 * (inputs, event inputs, error stage).  The handle is freed.  0 or
 * -ENOENT (not a stage of this flow). */
int spate_flow_remove_stage(struct spate_flow *flow,
			    struct spate_stage *stage);

/* Stores up to max stages, in flow order, into out and returns how many
 * the flow has (which may be more than max; out may be NULL if max is 0). */
size_t spate_flow_stages(const struct spate_flow *flow,
			 struct spate_stage **out, size_t max);

/* The stage with this id, or NULL. */
struct spate_stage *spate_flow_find_stage(const struct spate_flow *flow,
					  const char *id);

/* The stage's id and type (owned by the flow). */
const char *spate_stage_id(const struct spate_stage *stage);
const char *spate_stage_type(const struct spate_stage *stage);

/* ---- connections -------------------------------------------------------
 *
 * Data flows from an origin or processor to processors and destinations.
 * A stream selector has named lanes, one per predicate plus "default";
 * connecting from a selector names the lane.  Events (file-closed,
 * no-more-data, ...) flow separately, to executors and destinations.
 * Connecting twice is harmless (one connection).  The calls that return a
 * stage return the *other* stage, so calls chain:
 *
 *	spate_stage_connect_output(spate_stage_connect_output(src, proc), out);
 *
 * and a NULL argument makes them return NULL, so a failed link ends the
 * chain.  Both stages must belong to the same flow (else NULL, EINVAL).
 */

/* Connects lane of from (NULL: its single output) to each of to[0..n).
 * 0, or -EINVAL (NULL or foreign stage), -ENOMEM. */
int spate_stage_connect_outputs(struct spate_stage *from, const char *lane,
				struct spate_stage *const *to, size_t n);

/* from -> to; returns to. */
struct spate_stage *spate_stage_connect_output(struct spate_stage *from,
					       struct spate_stage *to);
/* from.lane -> to; returns to. */
struct spate_stage *spate_stage_connect_lane(struct spate_stage *from,
					     const char *lane,
					     struct spate_stage *to);
/* from -> to, written from the receiving side; returns from. */
struct spate_stage *spate_stage_connect_input(struct spate_stage *to,
					      struct spate_stage *from);
/* from.lane -> to, from the receiving side; returns from. */
struct spate_stage *spate_stage_connect_input_lane(struct spate_stage *to,
						   struct spate_stage *from,
						   const char *lane);
/* Removes every data connection (any lane) from -> to; returns to. */
struct spate_stage *spate_stage_disconnect_output(struct spate_stage *from,
						  struct spate_stage *to);
/* The same from the receiving side; returns from. */
struct spate_stage *spate_stage_disconnect_input(struct spate_stage *to,
						 struct spate_stage *from);
/* Sends from's events to to (an executor or destination); returns to. */
struct spate_stage *spate_stage_connect_event(struct spate_stage *from,
					      struct spate_stage *to);
/* Stops sending from's events to to; returns to. */
struct spate_stage *spate_stage_disconnect_event(struct spate_stage *from,
						 struct spate_stage *to);

/* The stages connected to stage, each once, in order: inputs (the stages
 * it reads from, in the order connected), outputs (the stages that read
 * from it, in flow order) and events (the stages that receive its events,
 * in flow order).  Up to max go to out; the total is returned. */
size_t spate_stage_inputs(const struct spate_stage *stage,
			  struct spate_stage **out, size_t max);
size_t spate_stage_outputs(const struct spate_stage *stage,
			   struct spate_stage **out, size_t max);
size_t spate_stage_events(const struct spate_stage *stage,
			  struct spate_stage **out, size_t max);

/* ---- configuration ------------------------------------------------------
 *
 * Options are the ones `spate stages TYPE` lists; they are checked by
 * validation.  on_record_error (discard | to_error | stop) is set the same
 * way.  Graph keys (id, type, inputs, event_inputs) are not options.
 */

/* Writes option's value into buf (len bytes, NUL-terminated, truncated
 * if needed): a scalar as its text, a list or map as one line of
 * flow-style YAML ("[/a, /b]", "{/user: /user_name}").  Returns the
 * length of the whole text (as snprintf does), -ENOENT when the option is
 * not set, or -EINVAL. */
int spate_stage_get_config(const struct spate_stage *stage,
			   const char *option, char *buf, size_t len);

/* Sets option to value.  A value that starts with '[' or '{' is read as
 * flow-style YAML (a list or map, e.g. "{/user: /user_name}"); any other
 * value is taken as it is, as one scalar (so "${record:value('/a') > 1}"
 * needs no quoting; to set a string that starts with '[' or '{' write it
 * as a double-quoted YAML scalar, "\"[x]\"", which is read as YAML too).
 * value NULL removes the option (any name: also one the type does not
 * have).  0, -EINVAL (an option the stage's type does not have, a graph
 * key, bad YAML: spate_flow_error() says which, naming the option and,
 * for a misspelt one, the nearest option), -ENOMEM.  A stage of a type
 * that is not known yet (a plugin not loaded) takes any option name;
 * validation checks it. */
int spate_stage_set_config(struct spate_stage *stage, const char *option,
			   const char *value);

/* Why the last spate_stage_set_config() on one of flow's stages failed
 * with -EINVAL ("stage 'src' (file_reader): unknown option 'pth' (did
 * you mean 'path'?)"), or "" after one that succeeded.  The string
 * belongs to flow and changes with the next such call. */
const char *spate_flow_error(const struct spate_flow *flow);

/* Stream selectors: adds (or replaces) the predicate of lane, e.g.
 * spate_stage_add_predicate(split, "high",
 *			     "${record:value(\"/expense\") >= 10000}").
 * Lanes keep the order they were added in; records matching none go to
 * the "default" lane.  0, or -EINVAL (lane not [A-Za-z0-9_]+, or
 * "default"), -ENOMEM. */
int spate_stage_add_predicate(struct spate_stage *selector, const char *lane,
			      const char *predicate);

/* Removes lane's predicate and disconnects the stages that read that
 * lane.  0 or -ENOENT. */
int spate_stage_remove_predicate(struct spate_stage *selector,
				 const char *lane);

/* ---- validation and saving ---------------------------------------------- */

/* Checks the whole flow against the registered stage types: types,
 * options, connections, lanes, cycles, reachability.  Returns the number
 * of problems (0: the flow is valid and can run) with every message, one
 * per line, in errbuf (may be NULL); or a negative errno. */
int spate_flow_validate(struct spate_flow *flow, char *errbuf,
			size_t errlen);

/* Writes the flow as a YAML flow file (replacing path atomically).  The
 * output is deterministic: loading and saving it again gives the same
 * bytes.  0 or a negative errno. */
int spate_flow_save(const struct spate_flow *flow, const char *path);

/* The same YAML into buf (len bytes, NUL-terminated, truncated if
 * needed).  Returns the length of the whole text (as snprintf does) or a
 * negative errno. */
int spate_flow_to_yaml(const struct spate_flow *flow, char *buf, size_t len);

/* ---- running -------------------------------------------------------------
 *
 * A run validates the flow, then works on its own copy of it: once
 * spate_flow_run() or spate_flow_start() has returned, the flow may be
 * edited, run again or destroyed while the run goes on.  Relative paths
 * (file_reader's path, file_writer's dir) are relative to the folder of
 * the flow file for a loaded flow, else to the current directory.
 *
 *	struct spate_run *run;
 *	struct spate_run_status st;
 *
 *	if (spate_flow_start(flow, NULL, &run, err, sizeof(err)) == 0) {
 *		... spate_run_status(run, &st) from any thread ...
 *		if (spate_run_wait(run) == SPATE_RUN_FAILED)
 *			fprintf(stderr, "%s\n", spate_run_error(run));
 *		spate_run_destroy(run);
 *	}
 *
 * Exactly-once output: when the flow's file_writers already hold the
 * committed output of an earlier run of the same flow over the same
 * input, the run does nothing and ends "skipped" (set force to replace
 * that output).
 *
 * ABI: the structs below only ever grow into their reserved words, so
 * their size and the offsets of their fields do not change.
 */

struct spate_run;

enum spate_run_state {
	SPATE_RUN_CREATED = 0, /* not started (never seen by callers) */
	SPATE_RUN_RUNNING,
	SPATE_RUN_SUCCEEDED, /* origins exhausted (or a pipeline_finisher) */
	SPATE_RUN_FAILED,    /* a stage failed; outputs rolled back */
	SPATE_RUN_SKIPPED,   /* output already committed: nothing done */
	SPATE_RUN_STOPPED,   /* spate_run_stop(): drained or aborted */
	/* the name `spate run --json` and the metrics use for SUCCEEDED */
	SPATE_RUN_FINISHED = SPATE_RUN_SUCCEEDED,
};

/* "created", "running", "finished" (SPATE_RUN_SUCCEEDED: the word `spate
 * run` prints), "failed", "skipped", "stopped"; "?" for any other value.
 * Static strings; any thread. */
const char *spate_run_state_name(enum spate_run_state state);

/* Options of a run.  Zero (or a NULL pointer for the whole struct) means
 * the default for each field, so {0} and designated initializers work. */
struct spate_run_options {
	unsigned workers; /* worker threads, at most 1024; 0: the flow's
			   * workers (spate_flow_set_workers), else the
			   * CPUs this process may use */
	bool force;	  /* replace output an earlier run committed */
	bool no_pin;	  /* do not pin workers to CPUs */
	bool trust_mtime; /* take an input file as unchanged when its size
			   * and mtime are (no hashing read before the run,
			   * as `spate run --trust-mtime`) */
	uint32_t reserved[6]; /* must be zero */
};

/* The whole run at one moment.  The record counts are sums over stages:
 * records_in is what the origins produced, records_out what the
 * destinations wrote (the error stage not included), errors the records
 * that stages rejected (some of which the error stage may have written:
 * error_records), dropped the records filters removed on purpose. */
struct spate_run_status {
	enum spate_run_state state;
	uint32_t workers;
	uint32_t nstages; /* indices for spate_run_stage_status() */
	double elapsed_s; /* since the start; frozen at the end */
	uint64_t records_in;
	uint64_t records_out;
	uint64_t error_records; /* written by the flow's error stage */
	uint64_t errors;
	uint64_t dropped;
	uint64_t bytes_in;    /* read by the origins */
	uint64_t bytes_out;   /* written by the destinations */
	uint64_t input_bytes; /* total size of the input when known, else 0 */
	/* record errors lost without the flow choosing it (no error stage,
	 * no explicit on_record_error: discard): `spate run` exits 3 and
	 * its --json status says "discarded" */
	uint64_t discarded;
	uint64_t reserved[7];
};

/* One stage of a run.  Strings belong to the run and stay valid until
 * spate_run_destroy().  For every stage but executors records_in ==
 * records_out + errors + dropped once the run has ended; records_out of
 * an origin or processor counts each record once even when it goes to
 * several lanes (per lane: spate_run_lane_status()). */
struct spate_stage_status {
	const char *id;
	const char *type;
	const char *kind; /* "origin", "processor", "destination",
			   * "executor" */
	uint64_t records_in; /* executors: events received */
	uint64_t records_out; /* passed on, or written by a destination */
	uint64_t errors;
	uint64_t warnings;
	uint64_t dropped;
	uint64_t bytes_in;
	uint64_t bytes_out;
	uint64_t batches;
	uint64_t files; /* files written (file_writer) */
	uint32_t nlanes; /* output lanes: origins and processors, else 0 */
	uint32_t reserved32;
	uint64_t reserved[8];
};

/* One output lane of an origin or processor. */
struct spate_lane_status {
	const char *name; /* "high", "default"; "" for a single output */
	uint64_t records;
	uint64_t reserved[4];
};

/* Validates flow (as spate_flow_validate() does), runs it to the end on
 * the calling thread and fills *status (may be NULL) with the final
 * counts; opts may be NULL (defaults).  Returns 0 when the run succeeded
 * or was skipped (status->state tells which; for a skipped run errbuf
 * says why), else a negative errno with the reason in errbuf (errlen
 * bytes, NUL-terminated; may be NULL):
 *   -EINVAL  the flow does not validate (every problem, one per line) or
 *            opts are bad;
 *   -EIO     the run failed (a stage failed, records went missing);
 *            outputs were rolled back;
 *   -ECANCELED  the run was stopped before the end;
 *   other    starting the stages failed: -EEXIST (a file_writer's dir
 *            holds the output of another run; set force), -EBUSY
 *            (another run is writing there), -ENOENT, -ENOMEM, ...
 * *status is always filled: state failed and zero counts when the run
 * did not get going.  Same threading as the other flow calls. */
int spate_flow_run(struct spate_flow *flow,
		   const struct spate_run_options *opts,
		   struct spate_run_status *status, char *errbuf,
		   size_t errlen);

/* Validates flow and starts a run of it in the background.  0 and *out
 * (destroy it with spate_run_destroy()), in state running -- or already
 * skipped, when the output is committed; spate_run_error() says why --
 * or a negative errno as for spate_flow_run() with the reason in errbuf,
 * and *out NULL.  Same threading as the other flow calls. */
int spate_flow_start(struct spate_flow *flow,
		     const struct spate_run_options *opts,
		     struct spate_run **out, char *errbuf, size_t errlen);

/* Waits for the end of the run (running events to executors on the
 * calling thread meanwhile), commits or rolls back the outputs and
 * returns the final state: SPATE_RUN_FINISHED, _FAILED, _SKIPPED or
 * _STOPPED ("finished", ... as `spate run --json` names them).  Any
 * thread; callers after the first wait for the first and get the same
 * state. */
enum spate_run_state spate_run_wait(struct spate_run *run);

/* Stops the run.  Drain (abort false): origins stop reading, records in
 * flight are processed and written, outputs commit; the run ends stopped.
 * Over files that output is partial, yet its manifests name this input's
 * run id, so a later run over the same input is skipped: an application
 * that wants `spate run`'s interruption contract (nothing published, the
 * rerun does the whole job) stops a batch run with abort true; drain is
 * meant for endless or streaming origins (stdin, generators).
 * Abort: the remaining work is skipped and outputs roll back.  Returns at
 * once (spate_run_wait() for the end).  Any thread, any time, more than
 * once (abort after drain escalates); a no-op once the run has ended. */
void spate_run_stop(struct spate_run *run, bool abort);

/* Fills *st with the run's state and total counts at this moment.  Any
 * thread, any time, also while another thread is in spate_run_wait().
 * 0, or -EINVAL, -ENOMEM. */
int spate_run_status(struct spate_run *run, struct spate_run_status *st);

/* The number of stages of the run (flow order); any thread. */
uint32_t spate_run_stage_count(const struct spate_run *run);

/* Fills *st with stage i's counts (i in flow order, < the stage count) at
 * this moment.  Any thread, any time.  0, -ENOENT (no stage i), -EINVAL,
 * -ENOMEM. */
int spate_run_stage_status(struct spate_run *run, uint32_t i,
			   struct spate_stage_status *st);

/* The index of the stage with this id, for spate_run_stage_status(), or
 * -ENOENT.  Any thread. */
int spate_run_stage_index(const struct spate_run *run, const char *id);

/* Fills *st with lane `lane` of stage i (lane < its nlanes): its name and
 * the records sent to it.  Any thread, any time.  0, -ENOENT, -EINVAL,
 * -ENOMEM. */
int spate_run_lane_status(struct spate_run *run, uint32_t i, uint32_t lane,
			  struct spate_lane_status *st);

/* Why the run failed or was skipped, "" otherwise (and "" until the run
 * has ended: a run that is failing reports it once spate_run_wait()
 * returns).  The text belongs to the run and stays valid until
 * spate_run_destroy().  Any thread. */
const char *spate_run_error(struct spate_run *run);

/* Frees the run.  A run still going is aborted (outputs roll back) and
 * waited for first.  Call it once no other thread uses the run any more.
 * NULL is a no-op. */
void spate_run_destroy(struct spate_run *run);

/* ---- stage types ----------------------------------------------------------
 *
 * What `spate stages` lists: the built-in stage types and those of loaded
 * plugins, with their options, for programs that offer them to users (a
 * configuration editor, a language binding).  Strings are static (plugin
 * types: until the plugin is unloaded).  Any thread.
 */

struct spate_stage_type_info {
	const char *name;
	const char *kind; /* "origin", "processor", "destination",
			   * "executor" */
	const char *help; /* one line */
	uint32_t noptions;
	uint32_t reserved32;
	uint64_t reserved[4];
};

struct spate_option_info {
	const char *name;
	const char *type; /* "string", "int", "double", "bool", "enum",
			   * "char", "size", "string list", "map", ... (as
			   * `spate stages TYPE` prints) */
	const char *def;  /* default as text, NULL when none */
	bool required;
	const char *help;
	uint64_t reserved[4];
};

/* Stores up to max type names (sorted by kind, then name) into out and
 * returns how many types there are.  A name that is both an origin and a
 * destination (postgres: a flow stage without inputs is the origin) is
 * listed once and described below as the destination;
 * spate_stage_kinds lists each kind. */
size_t spate_stage_types(const char **out, size_t max);

/* Fills *info for type.  0 or -ENOENT (unknown type). */
int spate_stage_type_info(const char *type,
			  struct spate_stage_type_info *info);

/* Fills *opt with option i (< info.noptions) of type.  0, -ENOENT. */
int spate_stage_type_option(const char *type, uint32_t i,
			    struct spate_option_info *opt);

/* Every stage type of every kind, as `spate stages` lists them (sorted by
 * kind, then name): a name of two kinds (postgres) comes twice, as the
 * origin and as the destination.  Stores up to max into out and returns
 * how many there are. */
size_t spate_stage_kinds(struct spate_stage_type_info *out, size_t max);

/* spate_stage_type_info and spate_stage_type_option for one kind of type
 * ("origin", "processor", "destination", "executor"; NULL: the kind
 * spate_stage_type_info describes).  0, or -ENOENT when type has no such
 * kind. */
int spate_stage_kind_info(const char *type, const char *kind,
			  struct spate_stage_type_info *info);
int spate_stage_kind_option(const char *type, const char *kind, uint32_t i,
			    struct spate_option_info *opt);

/* ---- sinks: destinations supplied by the program --------------------------
 *
 * A stage of type `sink` hands its records to callbacks that the program
 * running the flow registered under the stage's `name` option: a language
 * binding (the Python package's stages), an embedding application, a test,
 * or a plugin (which can call spate_sink_register when it is loaded).
 *
 *	  - {id: mine, type: sink, name: my_sink, inputs: [src]}
 *
 * The callbacks run on a thread of the sink stage's own, one batch at a
 * time: write() gets the records of one batch and may reject some of them
 * (spate_records_fail), which makes them record errors of the stage,
 * handled by its on_record_error like any other.  A negative return from
 * write fails the run (it drains, then rolls the outputs back) with the
 * message put in err; the records of that batch and of those still
 * arriving count as record errors of the stage.
 */

struct spate_records; /* one batch of records, valid during write() */

enum spate_value_type {
	SPATE_VALUE_NULL = 0,
	SPATE_VALUE_BOOL,
	SPATE_VALUE_INT,
	SPATE_VALUE_DOUBLE,
	SPATE_VALUE_STRING,
	SPATE_VALUE_OBJECT, /* text: the value as JSON text "{...}" */
	SPATE_VALUE_ARRAY,  /* text: the value as JSON text "[...]" */
};

/* One field of a record.  name and text point into the batch and stay
 * valid until write() returns; name_id is the same number for the same
 * name during a run (for caching keys). */
struct spate_field {
	const char *name;
	size_t name_len;
	uint32_t name_id;
	enum spate_value_type type;
	bool b;
	int64_t i;
	double d;
	const char *text; /* strings (unescaped UTF-8), objects, arrays */
	size_t text_len;
	uint64_t reserved[2];
};

struct spate_sink {
	/* when a run starts the stage (the thread that runs or starts the
	 * flow); may be NULL.  0 or -errno with a message in err. */
	int (*begin)(void *user, const char *stage_id, char *err,
		     size_t errlen);
	/* one batch, on the stage's thread; required. */
	int (*write)(void *user, struct spate_records *recs, char *err,
		     size_t errlen);
	/* once the run has decided: ok true when it commits; may be NULL */
	int (*end)(void *user, bool ok, char *err, size_t errlen);
	/* the registration is gone and no run uses it: user may be freed;
	 * may be NULL.  Any thread. */
	void (*release)(void *user);
	void *user;
	void *reserved[4]; /* must be NULL */
};

/* Registers sink (copied) under name ([A-Za-z0-9_.-]+, at most 128
 * bytes) for the whole process.  0, -EEXIST (name taken), -EINVAL,
 * -ENOMEM.  Any thread. */
int spate_sink_register(const char *name, const struct spate_sink *sink);

/* Removes the registration; runs that use it keep it until they end,
 * then release() is called.  0 or -ENOENT.  Any thread. */
int spate_sink_unregister(const char *name);

/* The number of records in recs. */
uint32_t spate_records_count(const struct spate_records *recs);

/* The next field of record rec (< count) after *pos (start with 0) into
 * *f.  1 while there is a field, 0 at the end, -ENOMEM, -EINVAL. */
int spate_records_next_field(struct spate_records *recs, uint32_t rec,
			     uint32_t *pos, struct spate_field *f);

/* Rejects record rec: it becomes a record error of the stage with reason
 * (copied).  0, -EINVAL, -ENOMEM. */
int spate_records_fail(struct spate_records *recs, uint32_t rec,
		       const char *reason);

/* Makes runs of flow use the stage catalog at path (NULL: the default,
 * see include/spate/catalog.h) for `stage:` options.  0 or -ENOMEM. */
int spate_flow_set_catalog(struct spate_flow *flow, const char *path);

#ifdef __cplusplus
}
#endif

#endif
