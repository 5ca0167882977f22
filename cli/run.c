/*
 * `spate run` and `spate validate`.  run: load and validate the flow,
 * start it, show a progress line on a terminal, drain on the first
 * SIGINT/SIGTERM and abort on the second, then print the summary (or the
 * --json status) and exit 0, 1 or 2.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "config/params.h"
#include "record/json.h"
#include "core/log.h"

static const char run_usage[] =
	"usage: spate run FLOW [options]\n"
	"\n"
	"Runs the flow file FLOW until its origins are exhausted (or a\n"
	"pipeline_finisher stops it), then prints a summary per stage.\n"
	"\n"
	"options:\n"
	"  --workers N             worker threads (default: the flow's\n"
	"                          `workers`, else the CPUs spate may use)\n"
	"  --set STAGE.OPTION=V    override an option (repeatable)\n"
	"  --param NAME=VALUE      the value of ${param:NAME} in FLOW\n"
	"                          (repeatable; ${env:NAME} reads the\n"
	"                          environment)\n"
	"  --json                  print the final status as JSON on stdout\n"
	"                          (also when the flow is invalid: status\n"
	"                          \"invalid\" with its problems; a bad\n"
	"                          command line: \"usage\")\n"
	"  --metrics-file PATH     keep PATH up to date (every second and at\n"
	"                          the end) in Prometheus text format\n"
	"  --progress-interval S   without a terminal, log the progress line\n"
	"                          at info level every S seconds (default\n"
	"                          10; 0: never; needs --log-level info)\n"
	"  --http ADDR:PORT        serve /health, /metrics (Prometheus),\n"
	"                          /status (the --json status, live) and a\n"
	"                          status page at / while the run goes on;\n"
	"                          ADDR defaults to 127.0.0.1, PORT 0 picks\n"
	"                          one (the address is printed)\n"
	"  --quiet                 no progress line and no summary\n"
	"  --force                 replace output an earlier run committed\n"
	"  --trust-mtime           take an input file as unchanged when its\n"
	"                          size and mtime are (instead of reading it\n"
	"                          to hash its content)\n"
	"  --no-pin                do not pin workers to CPUs\n"
	"  --validate-only         parse and route everything, write nothing;\n"
	"                          report every record error (file, line,\n"
	"                          reason); exit 1 when there is one\n"
	"  --catalog PATH          the stage catalog for `stage:` options\n"
	"                          (default $SPATE_HOME/catalog.db, see\n"
	"                          `spate stage --help`)\n"
	"\n"
	"Ctrl-C, SIGTERM or SIGHUP roll a run back: nothing is published\n"
	"and the plain rerun does the whole job (exit 130, 143, 129).  Over\n"
	"stdin the first one drains instead (what was read is committed);\n"
	"a second one aborts and rolls back.\n"
	"\n"
	"exit codes: 0 done (or skipped: the output is committed already),\n"
	"1 failed (nothing published), 2 bad usage or flow, 3 finished\n"
	"but record errors were discarded without an error_stage (or an\n"
	"explicit on_record_error: discard), 4 output committed but the\n"
	"load history could not be recorded, 128+N interrupted by signal N.\n"
	"\n"
	"examples:\n"
	"  spate run examples/expenses.yaml\n"
	"  spate run flow.yaml --workers 2 --set gen.records=1000000 --json\n"
	"  spate run flow.yaml --quiet --metrics-file /var/lib/node/spate.prom\n"
	"  spate run flow.yaml --http 127.0.0.1:9464\n"
	"  spate run month.yaml --param MONTH=2026-11\n";

static const char validate_usage[] =
	"usage: spate validate FLOW [--set STAGE.OPTION=V ...] "
	"[--param NAME=V ...]\n"
	"                      [--catalog PATH] [--json]\n"
	"\n"
	"Checks FLOW without moving any data and prints every problem with\n"
	"its file:line, stage and option; catalog stages it names (`stage:`)\n"
	"must exist, be enabled and be local.  Exit 0 when valid, 2\n"
	"otherwise.  `spate run FLOW --validate-only` also checks the data.\n"
	"--json prints {\"flow\", \"file\", \"status\": \"valid\"|\"invalid\",\n"
	"\"problems\": [{\"file\", \"line\", \"stage\", \"option\", \"message\"}]}\n"
	"on stdout (the same object `spate run --json` prints for an invalid\n"
	"flow).\n"
	"\n"
	"examples:\n"
	"  spate validate examples/expenses.yaml\n"
	"  spate validate flow.yaml --set split.mode=first_match\n"
	"  spate validate flow.yaml --json\n";

struct signal_ctx {
	struct sp_runtime *rt;
	sigset_t set;
	bool streaming;		/* an origin cannot be read again (stdin) */
	atomic_int first; /* the first signal, 0 until one came */
};

/* After the abort, the run has this long to roll back and end before
 * spate exits without it (a stage blocked in a call that no stop reaches
 * must not keep the process alive; the next run cleans up). */
#define ABORT_GRACE_S 10

/* The interruption contract (README "Interrupting a run"): a batch run
 * rolls back on the first SIGINT, SIGTERM or SIGHUP (nothing is
 * published; the plain rerun does the whole job); a run over a streaming
 * origin drains and commits what it read; a second signal aborts and
 * rolls back whatever is left to commit. */
static void *signal_main(void *arg)
{
	struct signal_ctx *sc = arg;
	struct timespec grace = {.tv_sec = ABORT_GRACE_S};
	int sig, n = 0;

	for (;;) {
		/* once aborting, a third signal or the grace period ends
		 * the process */
		if (n < 2) {
			if (sigwait(&sc->set, &sig))
				break;
		} else {
			sig = sigtimedwait(&sc->set, NULL, &grace);
			if (sig < 0 && errno == EINTR)
				continue;
		}
		if (sig == SIGUSR1) /* the run ended: leave */
			break;
		/* a line of its own after a progress line on a terminal */
		if (!sp_log_is_json())
			fputc('\n', stderr);
		if (n >= 2) {
			cli_notice(SP_LOG_ERROR, "the run did not end %s; "
						 "exiting (the next run cleans "
						 "up)",
				   sig < 0 ? "in time after the abort"
					   : "after the abort");
			_exit(128 + (sig > 0 ? sig : atomic_load(&sc->first)));
		}
		if (++n == 1)
			atomic_store(&sc->first, sig);
		if (n == 1 && sc->streaming) {
			cli_notice(SP_LOG_WARN, "%s: draining (the input "
						"read so far is committed); "
						"again to abort and roll back",
				   strsignal(sig));
			sp_runtime_stop(sc->rt, false);
		} else {
			cli_notice(SP_LOG_WARN, "%s: %s", strsignal(sig),
				   n == 1 ? "interrupted, rolling back "
					    "(nothing is published)"
					  : "aborting, rolling back");
			sp_runtime_stop(sc->rt, true);
		}
	}
	return NULL;
}

static bool flow_is_streaming(const struct sp_flow *f)
{
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_stage_desc *d = f->stages[i]->desc;

		if (d->kind == SP_ORIGIN && d->streaming)
			return true;
	}
	return false;
}

struct run_args {
	const char *flow;
	struct cli_multi sets;	 /* --set */
	struct cli_multi params; /* --param */
	struct sp_run_options opt;
	bool json, quiet;
	const char *metrics;  /* --metrics-file */
	const char *http;     /* --http */
	double progress_s;    /* --progress-interval; 0: none */
};

/* a number from lo to hi in text v of option name: 0, or exit code 2 */
static int number(const char *name, const char *v, double lo, double hi,
		  double *out, struct sp_diags *d)
{
	char *end;
	double x = strtod(v, &end);

	if (end == v || *end || !(x >= lo && x <= hi))
		return cli_usage_error(d, name, "%s %s: give a number from "
						"%g to %g",
				       name, v, lo, hi);
	*out = x;
	return 0;
}

/* --json anywhere on the command line, even after an argument that
 * ends the parsing (the usage error is then reported as JSON too) */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strcmp(argv[i], "--json"))
			return true;
	return false;
}

/* -1: go on; else the exit code, with a usage error in d.  run: the
 * options of `spate run`, else those of `spate validate`. */
static int parse_args(int argc, char **argv, struct run_args *a, bool run,
		      const char *usage, struct sp_diags *d)
{
	const char *workers = NULL, *interval = NULL, *pos[2];
	bool force = false, no_pin = false, validate_only = false;
	int npos;
	const struct cli_opt run_opts[] = {
	    {"--set", NULL, NULL, &a->sets},
	    {"--param", NULL, NULL, &a->params},
	    {"--json", NULL, &a->json, NULL},
	    {"--catalog", &a->opt.catalog, NULL, NULL},
	    {"--workers", &workers, NULL, NULL},
	    {"--metrics-file", &a->metrics, NULL, NULL},
	    {"--http", &a->http, NULL, NULL},
	    {"--progress-interval", &interval, NULL, NULL},
	    {"--quiet", NULL, &a->quiet, NULL},
	    {"--force", NULL, &force, NULL},
	    {"--no-pin", NULL, &no_pin, NULL},
	    {"--validate-only", NULL, &validate_only, NULL},
	    {"--trust-mtime", NULL, &a->opt.trust_mtime, NULL},
	    {NULL, NULL, NULL, NULL}};
	const struct cli_opt validate_opts[] = {
	    run_opts[0], run_opts[1], run_opts[2], run_opts[3],
	    {NULL, NULL, NULL, NULL}};

	memset(a, 0, sizeof(*a));
	a->progress_s = 10;
	a->json = wants_json(argc, argv);
	int rc = cli_parse_args_diags(argc, argv,
				      run ? run_opts : validate_opts, pos, 2,
				      &npos, usage, d);
	if (npos > 0)
		a->flow = pos[0];
	if (rc >= 0)
		return rc;
	if (npos == 2)
		return cli_usage_error(d, NULL, "one flow file at a time "
						"('%s' and '%s')",
				       pos[0], pos[1]);
	if (npos == 0) {
		cli_usage_error(d, NULL, "which flow? give a flow file");
		if (!sp_log_is_json())
			fprintf(stderr, "\n%s", usage);
		return SPATE_EXIT_USAGE;
	}
	a->opt.force = force;
	a->opt.no_pin = no_pin;
	a->opt.validate_only = validate_only;
	if (workers) {
		char *end;
		long n = strtol(workers, &end, 10);
		if (*end || end == workers || n < 1 || n > 1024)
			return cli_usage_error(d, "--workers",
					       "--workers %s: give a number "
					       "from 1 to 1024",
					       workers);
		a->opt.workers = (unsigned)n;
	}
	if (interval) {
		double v = 0;
		if (number("--progress-interval", interval, 0, 86400, &v, d))
			return SPATE_EXIT_USAGE;
		a->progress_s = v;
	}
	return -1; /* go on */
}

/* Loads and checks the flow of a (catalog stages included); problems are
 * printed (and with --json the status "invalid").  NULL: exit 2. */
static struct sp_flow *load(const struct run_args *a)
{
	struct sp_diags d;
	char *name = NULL;

	sp_diags_init(&d, a->flow);
	struct sp_params params = {a->params.v, a->params.n};
	struct sp_flow *f =
	    cli_flow_load(a->flow, &params, a->opt.catalog,
			  (char **)a->sets.v, (int)a->sets.n, NULL, NULL, &d,
			  &name);
	if (!f)
		cli_problems_print(&d, name, a->json);
	free(name);
	sp_diags_fini(&d);
	return f;
}

/* The command line read and the flow loaded, for run (run) or validate;
 * NULL with the exit code in *exit_code when either ends the command. */
static struct sp_flow *args_and_flow(int argc, char **argv,
				     struct run_args *a, bool run,
				     int *exit_code)
{
	struct sp_diags d;

	sp_diags_init(&d, NULL);
	int rc = parse_args(argc, argv, a, run,
			    run ? run_usage : validate_usage, &d);
	/* --json answers every outcome: a bad command line is the status
	 * "usage" with what was wrong (--help prints the usage instead) */
	if (rc == SPATE_EXIT_USAGE && a->json)
		cli_status_json(stdout, NULL, a->flow, "usage", &d);
	sp_diags_fini(&d);
	if (rc >= 0) {
		free(a->sets.v);
		free(a->params.v);
		*exit_code = rc;
		return NULL;
	}
	struct sp_flow *f = load(a);
	free(a->sets.v);
	free(a->params.v);
	*exit_code = SPATE_EXIT_USAGE;
	return f;
}

int cli_validate(int argc, char **argv)
{
	struct run_args a;
	int rc;
	struct sp_flow *f = args_and_flow(argc, argv, &a, false, &rc);

	if (!f)
		return rc;
	if (a.json) {
		struct sp_diags none;
		sp_diags_init(&none, a.flow);
		cli_status_json(stdout, f->name, a.flow, "valid", &none);
		sp_diags_fini(&none);
	} else {
		printf("%s: flow '%s' is valid (%u stages)\n", a.flow, f->name,
		       f->nstages);
	}
	sp_flow_destroy(f);
	return SPATE_EXIT_OK;
}

/* --validate-only: every record error was logged as it was met; sum
 * them up.  Exit 0 without any, 1 otherwise. */
static int validate_only_verdict(const char *flow,
				 const struct sp_run_report *rep)
{
	uint64_t errors = 0, records = 0;

	for (uint32_t i = 0; i < rep->nstages; i++) {
		errors += rep->stages[i].errors;
		if (rep->stages[i].kind == SP_ORIGIN)
			records += rep->stages[i].in;
	}
	cli_notice(errors ? SP_LOG_ERROR : SP_LOG_INFO,
		   "%s: validate-only: %llu record error%s in %llu record%s "
		   "read; nothing was written",
		   flow, (unsigned long long)errors, errors == 1 ? "" : "s",
		   (unsigned long long)records, records == 1 ? "" : "s");
	return errors ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}

/* A run that ended before it began (runtime not created, metrics file
 * not writable): the message on stderr and, with --json, the status on
 * stdout: "invalid" with the problem (option: what to fix), or "failed"
 * with the error, as a failed run's status has it. */
static void early_failure(const struct run_args *a, const struct sp_flow *f,
			  const char *option, const char *value,
			  const char *msg)
{
	cli_notice(SP_LOG_ERROR, "%s%s%s: %s", option ? option : a->flow,
		   option ? " " : "", option ? value : "", msg);
	if (!a->json)
		return;
	if (option) {
		struct sp_diags d;
		sp_diags_init(&d, a->flow);
		sp_diags_add(&d, 0, NULL, option, "%s: %s", value, msg);
		cli_status_json(stdout, f->name, a->flow, "invalid", &d);
		sp_diags_fini(&d);
		return;
	}
	struct sp_buf b;
	sp_buf_init(&b);
	sp_buf_append(&b, "{\"flow\":", 8);
	sp_json_append_string(&b, f->name, strlen(f->name));
	sp_buf_append(&b, ",\"status\":\"failed\",\"elapsed_s\":0,\"error\":",
		      41);
	sp_json_append_string(&b, msg, strlen(msg));
	sp_buf_append(&b, ",\"stages\":[]}\n", 14);
	fwrite(b.data, 1, b.len, stdout);
	sp_buf_fini(&b);
}

/* exactly-once: this input's output is already committed */
static int run_skipped(const struct run_args *a, const struct sp_flow *f,
		       struct sp_runtime *rt, struct cli_watch *watch,
		       const char *err)
{
	cli_notice(SP_LOG_INFO, "%s: skipped: %s", a->flow, err);
	if (a->json) {
		struct sp_buf b;
		sp_buf_init(&b);
		sp_json_append_string(&b, f->name, strlen(f->name));
		printf("{\"flow\":%.*s,\"status\":\"skipped\","
		       "\"elapsed_s\":0,\"stages\":[]}\n",
		       (int)b.len, b.data);
		sp_buf_fini(&b);
	}
	int code = SPATE_EXIT_OK;
	struct sp_run_report srep;
	if (sp_runtime_report(rt, &srep) == 0) {
		/* recording what the committed run loaded failed */
		if (srep.error[0]) {
			cli_notice(SP_LOG_ERROR, "%s", srep.error);
			code = SPATE_EXIT_RECORDING;
		}
		srep.state = SP_RUN_FINISHED;
		cli_watch_finish(watch, &srep);
		sp_run_report_fini(&srep);
	}
	cli_watch_finish(watch, NULL);
	return code;
}

/* The exit code of a run that started (README "Exit codes"); first:
 * the first signal, read once for this and the note. */
static int run_verdict(const struct signal_ctx *sc, int first,
		       enum sp_run_state state, const struct sp_run_report *rep)
{
	if (state == SP_RUN_FAILED && rep->committed)
		return SPATE_EXIT_RECORDING;
	if (state == SP_RUN_FAILED)
		return SPATE_EXIT_FAILED;
	/* a batch run that committed before the signal took effect did
	 * the whole job */
	if (first && (!rep->committed || sc->streaming))
		return 128 + first;
	return rep->discarded ? SPATE_EXIT_DISCARDED : SPATE_EXIT_OK;
}

/* Record errors lost by default: how many, and how to choose. */
static void discarded_note(const char *flow, const struct sp_run_report *rep)
{
	if (!rep->discarded)
		return;
	cli_notice(SP_LOG_WARN,
		   "%s: %llu record error%s discarded: the flow has no "
		   "error_stage to keep them (or set on_record_error: discard "
		   "on the stage to drop them on purpose); exit 3",
		   flow, (unsigned long long)rep->discarded,
		   rep->discarded == 1 ? " was" : "s were");
}

/* After a signal: what was published, and what to do. */
static void interrupt_note(const char *flow, const struct signal_ctx *sc,
			   int first, const struct sp_run_report *rep)
{
	if (!first)
		return;
	if (rep->committed && sc->streaming)
		cli_notice(SP_LOG_WARN, "%s: interrupted by %s: drained, the "
					"records read before it are committed",
			   flow, strsignal(first));
	else if (rep->committed)
		cli_notice(SP_LOG_WARN, "%s: %s came while the output was "
					"being committed: the run is complete",
			   flow, strsignal(first));
	else
		cli_notice(SP_LOG_WARN, "%s: interrupted by %s: rolled back, "
					"nothing was published; run it again "
					"to do the whole job",
			   flow, strsignal(first));
}

/* The summary table for people, under --log-format json one log line
 * per row */
static void summary(const struct sp_flow *f, const struct sp_run_report *rep)
{
	char *text = NULL;
	size_t len = 0;
	FILE *m;

	if (!sp_log_is_json()) {
		cli_print_summary(stderr, f, rep);
		return;
	}
	m = open_memstream(&text, &len);
	if (!m)
		return;
	cli_print_summary(m, f, rep);
	if (fclose(m) == 0)
		cli_notice_lines(SP_LOG_INFO, text, len);
	free(text);
}

/* The end of a run: final progress line and metrics, the summary or the
 * --json status.  Returns the exit code. */
static int run_report(const struct run_args *a, const struct sp_flow *f,
		      struct sp_runtime *rt, struct cli_watch *watch,
		      enum sp_run_state state, const char *err,
		      const struct signal_ctx *sc)
{
	struct sp_run_report rep;
	/* the signal thread may still take one: verdict and note agree */
	int first = atomic_load(&sc->first);
	int exit_code = state == SP_RUN_FINISHED || state == SP_RUN_STOPPED
				? SPATE_EXIT_OK
				: SPATE_EXIT_FAILED;

	if (sp_runtime_report(rt, &rep) == 0) {
		exit_code = run_verdict(sc, first, state, &rep);
		/* a run that failed to start never left "created" */
		rep.state = state;
		if (a->json && !rep.error[0] && state == SP_RUN_FAILED &&
		    err[0])
			snprintf(rep.error, sizeof(rep.error), "%s", err);
		/* the last progress line and metrics show the final counts */
		cli_watch_finish(watch, &rep);
		if (rep.accounting[0]) {
			cli_notice(SP_LOG_ERROR, "accounting check failed: %s",
				   rep.accounting);
			exit_code = SPATE_EXIT_FAILED;
		}
		if (a->json)
			cli_print_json(stdout, f, &rep);
		else if (!a->quiet)
			summary(f, &rep);
		if (rep.error[0] && !rep.committed)
			cli_notice(SP_LOG_ERROR, "run failed: %s", rep.error);
		else if (rep.error[0])
			cli_notice(SP_LOG_ERROR, "%s", rep.error);
		interrupt_note(a->flow, sc, first, &rep);
		if (exit_code == SPATE_EXIT_DISCARDED && !a->opt.validate_only)
			discarded_note(a->flow, &rep);
		if (a->opt.validate_only && (exit_code == SPATE_EXIT_OK ||
					     exit_code == SPATE_EXIT_DISCARDED))
			exit_code = validate_only_verdict(a->flow, &rep);
		sp_run_report_fini(&rep);
	}
	cli_watch_finish(watch, NULL);
	return exit_code;
}

/* Runs the runtime rt of flow f with the signal thread running; the exit
 * code. */
static int run_flow(const struct run_args *a, const struct sp_flow *f,
		    struct sp_runtime *rt, const struct signal_ctx *sc)
{
	char err[1024] = "";
	struct cli_watch watch;
	bool tty = !a->quiet && isatty(2);
	int rc = cli_watch_init(&watch, rt, f->name, tty, a->metrics);

	if (rc) {
		early_failure(a, f, "--metrics-file", a->metrics,
			      strerror(-rc));
		return SPATE_EXIT_USAGE;
	}
	struct cli_serve *srv = NULL;
	if (a->http) {
		rc = cli_serve_create(a->http, rt, f, &srv, err, sizeof(err));
		if (rc) {
			early_failure(a, f, "--http", a->http, err);
			cli_watch_finish(&watch, NULL);
			return SPATE_EXIT_USAGE;
		}
		if (!a->quiet)
			cli_notice(SP_LOG_INFO, "serving %s (/health, "
						"/metrics, /status)",
				   cli_serve_url(srv));
	}
	/* without a terminal, progress goes to the log at info level */
	if (!tty && !a->quiet)
		watch.log_interval_s = a->progress_s;
	enum sp_run_state state;
	rc = sp_runtime_start(rt, err, sizeof(err));
	if (rc == -EALREADY) {
		cli_serve_destroy(srv);
		return run_skipped(a, f, rt, &watch, err);
	}
	if (rc) {
		cli_notice(SP_LOG_ERROR, "%s: %s", a->flow, err);
		sp_runtime_wait(rt);
		state = SP_RUN_FAILED;
	} else {
		cli_watch_start(&watch);
		if (srv && cli_serve_start(srv))
			cli_notice(SP_LOG_WARN, "--http: cannot start its "
						"thread (the run goes on)");
		state = sp_runtime_wait(rt);
	}
	cli_serve_destroy(srv);
	return run_report(a, f, rt, &watch, state, err, sc);
}

int cli_run(int argc, char **argv)
{
	struct run_args a;
	char err[1024] = "";
	int rc;
	struct sp_flow *f = args_and_flow(argc, argv, &a, true, &rc);

	if (!f)
		return rc;

	/* signals go to one thread, started after the runtime exists */
	struct signal_ctx sc;
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGHUP);
	sigaddset(&sc.set, SIGUSR1);
	sc.streaming = flow_is_streaming(f);
	atomic_init(&sc.first, 0);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sp_runtime *rt = NULL;
	if (sp_runtime_create(f, &a.opt, &rt, err, sizeof(err))) {
		early_failure(&a, f, NULL, NULL, err);
		sp_flow_destroy(f);
		return SPATE_EXIT_FAILED;
	}
	sc.rt = rt;
	pthread_t sig_thread;
	rc = pthread_create(&sig_thread, NULL, signal_main, &sc);
	if (rc) {
		cli_notice(SP_LOG_ERROR, "%s: cannot start the signal thread: "
					 "%s",
			   a.flow, strerror(rc));
		sp_runtime_destroy(rt);
		sp_flow_destroy(f);
		return SPATE_EXIT_FAILED;
	}
	rc = run_flow(&a, f, rt, &sc);
	pthread_kill(sig_thread, SIGUSR1);
	pthread_join(sig_thread, NULL);
	sp_runtime_destroy(rt);
	sp_flow_destroy(f);
	return rc;
}
