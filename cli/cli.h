/* The spate command: shared helpers of the subcommands. */
#ifndef SPATE_CLI_CLI_H
#define SPATE_CLI_CLI_H

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>

#include "core/log.h"
#include "flow/flow.h"
#include "runtime/runtime.h"

/* exit codes */
#define SPATE_EXIT_OK 0
#define SPATE_EXIT_FAILED 1
#define SPATE_EXIT_USAGE 2
/* finished, but record errors were discarded without the flow choosing
 * it (no error stage, no explicit on_record_error: discard) */
#define SPATE_EXIT_DISCARDED 3
/* the output is committed, but recording it afterwards (load history)
 * failed: the message says what to do */
#define SPATE_EXIT_RECORDING 4
/* interrupted by signal N: 128 + N (130 SIGINT, 143 SIGTERM, 129 SIGHUP) */

/* A line for people on stderr (notice.c): "spate: MESSAGE" as text, a
 * JSON log line at level under --log-format json; always written. */
void cli_notice(enum sp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));
/* text[0..len) as it is, or under --log-format json each of its lines
 * as a JSON log line at level (a summary table, a problem list). */
void cli_notice_lines(enum sp_log_level level, const char *text, size_t len);

int cli_run(int argc, char **argv);
int cli_validate(int argc, char **argv);
int cli_stages(int argc, char **argv);
int cli_graph(int argc, char **argv);
int cli_bench(int argc, char **argv);
int cli_stage(int argc, char **argv);
int cli_history(int argc, char **argv);
int cli_worker(int argc, char **argv);
int cli_submit(int argc, char **argv);
int cli_jobs(int argc, char **argv);
int cli_functions(int argc, char **argv);

/* ---- cluster mode (cluster_cmd.c, jobs_cmd.c) ---- */
struct sp_jsq;
struct sp_cjob_state;
struct sp_cjob_progress;
extern const char cli_jobs_usage[];
/* Connects (creating the stream and buckets); NULL after a message. */
struct sp_jsq *cli_open_queue(const char *urls, unsigned replicas,
			      const char *who);
/* One job's status as one line of JSON. */
void cli_job_status_json(FILE *f, const char *job, const char *flow,
			 const struct sp_cjob_state *st, unsigned shards,
			 const struct sp_cjob_progress *p);

/* Loads path with the --param assignments params (NULL: none; see
 * config/params.h), loads its plugins, applies the --set assignments, calls
 * edit(f, arg) (when not NULL) and validates, with `stage:` options
 * resolved in catalog (NULL: the default).  Every problem goes to d
 * (initialised by the caller with the file name path); prints nothing.
 * Returns the flow, or NULL and in *name (when not NULL) the flow's name
 * when the file gave one (to free). */
struct sp_params;
struct sp_flow *cli_flow_load(const char *path, const struct sp_params *params,
			      const char *catalog,
			      char **sets, int nsets,
			      void (*edit)(struct sp_flow *f, void *arg),
			      void *arg, struct sp_diags *d, char **name);
/* Prints every problem of d on stderr with the "N problems; nothing was
 * run" line and, json, the status "invalid" on stdout (flow: its name or
 * NULL when unknown). */
void cli_problems_print(const struct sp_diags *d, const char *flow, bool json);
/* The problems of d as a JSON array of {file, line, stage, option,
 * message} (line, stage, option: null when unknown). */
void cli_problems_json(struct sp_buf *b, const struct sp_diags *d);
/* {"flow", "file", "status", "problems"} and a newline on out. */
void cli_status_json(FILE *out, const char *flow, const char *file,
		     const char *status, const struct sp_diags *d);

/* Loads path with the --param assignments params (NULL: none), loads its
 * plugins and validates; prints every problem to stderr.  Returns the
 * flow or NULL (exit 2). */
struct sp_flow *cli_load_flow(const char *path,
			      const struct sp_params *params);
/* The same with --set assignments and no parameters, calling edit(f,
 * arg) after the overrides and before the
 * validation (plugins are loaded then). */
struct sp_flow *cli_load_flow_edit(const char *path, char **sets, int nsets,
				   void (*edit)(struct sp_flow *f, void *arg),
				   void *arg);
/* cli_load_flow for its shape only (`spate graph`): the graph and the
 * options are checked, not what a run needs (input files, catalog). */
struct sp_flow *cli_load_flow_shape(const char *path,
				    const struct sp_params *params);

/* Summary table of a finished run, for people. */
void cli_print_summary(FILE *out, const struct sp_flow *f,
		       const struct sp_run_report *rep);
/* The --json status object of DESIGN.md section 9. */
void cli_print_json(FILE *out, const struct sp_flow *f,
		    const struct sp_run_report *rep);

/* The stage reference of README.md (Markdown table) or doc/spate.1 (roff,
 * roff=true) from the option tables of the built-in stages. */
int cli_stages_reference(FILE *out, bool roff);
/* Every stage type with its options as a JSON array (stages --json). */
int cli_stages_json(FILE *out);

/* ---- watching a run (monitor.c) ---- */

/* The one-line progress text of a report (no \r, no colour). */
void cli_progress_format(char *out, size_t len,
			 const struct sp_run_report *rep);

/* rep in the Prometheus text format on out: 0 or -EIO. */
int cli_metrics_put(FILE *out, const char *flow,
		    const struct sp_run_report *rep);
/* Writes rep as a Prometheus text-format file at path, replacing it
 * atomically (temp file beside it + rename).  0 or -errno. */
int cli_metrics_write(const char *path, const char *flow,
		      const struct sp_run_report *rep);

/* The progress line (on stderr) and the metrics file of a run. */
struct cli_watch {
	struct sp_runtime *rt;
	const char *flow;
	bool progress;		  /* draw the progress line */
	const char *metrics_path; /* NULL: no metrics file */
	double log_interval_s;	  /* > 0: the line as an info log line
				   * this often (set after init) */
	bool metrics_warned, inited, started, done;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	pthread_t thread;
};

/* Sets w up for rt and, with a metrics path, writes the file once (state
 * created) so that an unwritable path is found before the run: 0 or
 * -errno (nothing to undo then). */
int cli_watch_init(struct cli_watch *w, struct sp_runtime *rt,
		   const char *flow, bool progress, const char *metrics_path);
/* Starts the watching thread (after sp_runtime_start succeeded). */
void cli_watch_start(struct cli_watch *w);
/* Stops the thread, draws the final line (then a newline) and writes the
 * final metrics from final (NULL: neither); no-op unless initialised. */
void cli_watch_finish(struct cli_watch *w, const struct sp_run_report *final);

/* ---- --http (http_routes.c, http_page.c) ---- */

struct cli_serve;

/* Binds addr (see cli_http_create) for the run rt of flow f; both must
 * outlive the server.  0 or -errno with err. */
int cli_serve_create(const char *addr, struct sp_runtime *rt,
		     const struct sp_flow *f, struct cli_serve **out, char *err,
		     size_t errlen);
/* "http://127.0.0.1:8080/" */
const char *cli_serve_url(const struct cli_serve *s);
/* Starts answering (after sp_runtime_start).  0 or -errno. */
int cli_serve_start(struct cli_serve *s);
/* Stops and frees; NULL is a no-op. */
void cli_serve_destroy(struct cli_serve *s);
/* The status page served at / (HTML, CSS and script in one). */
extern const char cli_status_page[];

/* ---- arguments (args.c) ---- */

/* The values of a repeatable option, in order (free v). */
struct cli_multi {
	const char **v;
	size_t n;
};

/* One option of a command: exactly one of value (the last one given
 * wins), flag (takes no value) and multi (repeatable) is set. */
struct cli_opt {
	const char *name;
	const char **value;
	bool *flag;
	struct cli_multi *multi;
};

/* Parses argv[1..argc) by opts ({NULL...}-terminated) into the options
 * and up to maxpos positional arguments (pos, *npos).  Returns -1 to go
 * on, or the exit code: 0 after printing usage for --help, 2 after a
 * usage error (printed). */
int cli_parse_args(int argc, char **argv, const struct cli_opt *opts,
		   const char **pos, int maxpos, int *npos, const char *usage);
/* A usage error: "spate: MESSAGE" on stderr and, when d is not NULL,
 * the problem in d (option: the argument it is about, or NULL).  Returns
 * exit code 2. */
int cli_usage_error(struct sp_diags *d, const char *option, const char *fmt,
		    ...) __attribute__((format(printf, 3, 4)));
/* The same, adding a usage error to d as well (option: the argument it
 * is about), for a --json status that reports it. */
int cli_parse_args_diags(int argc, char **argv, const struct cli_opt *opts,
			 const char **pos, int maxpos, int *npos,
			 const char *usage, struct sp_diags *d);

/* While set, cli_parse_args passes its table to add(d, opts) and returns
 * 0 without parsing, so a command called with it returns at once: how
 * `spate completion` learns every command's options. */
struct cli_describe {
	void (*add)(struct cli_describe *d, const struct cli_opt *opts);
};
extern struct cli_describe *cli_describing;

/* ---- commands (main.c, catalog_cmd.c, completion.c) ---- */

/* What a command's positional arguments are, for completion. */
enum cli_arg_kind {
	CLI_ARG_NONE,
	CLI_ARG_FILE,	 /* a path (a flow file) */
	CLI_ARG_TYPE,	 /* a stage type */
	CLI_ARG_COMMAND, /* a command of spate */
	CLI_ARG_SHELL,	 /* bash, zsh or fish */
};

/* One command of spate (main.c) or of `spate stage` (catalog_cmd.c,
 * called with the catalog given before it). */
struct cli_command {
	const char *name;
	const char *args; /* "FLOW", "[TYPE]", ... for the usage */
	const char *help; /* one line */
	enum cli_arg_kind kind;
	int (*fn)(int argc, char **argv);
	int (*sub_fn)(int argc, char **argv, const char *catalog);
	const struct cli_command *subs; /* its own commands, or NULL */
};

/* {NULL}-terminated */
extern const struct cli_command cli_commands[];

struct spate_catalog_stage;
/* An S3 stage's credential source, "env:A / env:B" or "file:/p", or NULL
 * when it names none (malloc'd): never a value (catalog_cmd.c). */
char *cli_stage_credential_source(const struct spate_catalog_stage *s);
/* `spate stage check` (stage_check.c). */
int cli_stage_check(int argc, char **argv, const char *catalog);
extern const struct cli_command cli_stage_commands[];
/* The global options (main.c): value takes a value. */
struct cli_global {
	const char *name;
	bool value;
	const char *choices; /* space-separated values, or NULL */
};
extern const struct cli_global cli_globals[];

int cli_completion(int argc, char **argv);

/* "unknown option '--wokers' (did you mean '--workers'?)" helper */
const char *cli_suggest(const char *word, const char *const *choices);

#endif
