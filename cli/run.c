/*
 * `spate run` and `spate validate`.  run: load and validate the flow,
 * start it, show a progress line on a terminal, drain on the first
 * SIGINT/SIGTERM and abort on the second, then print the summary (or the
 * --json status) and exit 0, 1 or 2.
 */
#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
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
	"  --json                  print the final status as JSON on stdout\n"
	"  --metrics-file PATH     keep PATH up to date (every second and at\n"
	"                          the end) in Prometheus text format\n"
	"  --quiet                 no progress line and no summary\n"
	"  --force                 replace output an earlier run committed\n"
	"  --no-pin                do not pin workers to CPUs\n"
	"  --validate-only         parse and route everything, write nothing;\n"
	"                          report every record error (file, line,\n"
	"                          reason); exit 1 when there is one\n"
	"  --catalog PATH          the stage catalog for `stage:` options\n"
	"                          (default $SPATE_HOME/catalog.db, see\n"
	"                          `spate stage --help`)\n"
	"\n"
	"The first Ctrl-C drains (origins stop, records in flight are\n"
	"written, outputs commit); a second one aborts and rolls back.\n"
	"\n"
	"examples:\n"
	"  spate run examples/expenses.yaml\n"
	"  spate run flow.yaml --workers 2 --set gen.records=1000000 --json\n"
	"  spate run flow.yaml --quiet --metrics-file /var/lib/node/spate.prom\n";

static const char validate_usage[] =
	"usage: spate validate FLOW [--set STAGE.OPTION=V ...] "
	"[--catalog PATH]\n"
	"\n"
	"Checks FLOW without moving any data and prints every problem with\n"
	"its file:line, stage and option; catalog stages it names (`stage:`)\n"
	"must exist, be enabled and be local.  Exit 0 when valid, 2\n"
	"otherwise.  `spate run FLOW --validate-only` also checks the data.\n"
	"\n"
	"examples:\n"
	"  spate validate examples/expenses.yaml\n"
	"  spate validate flow.yaml --set split.mode=first_match\n";

struct signal_ctx {
	struct sp_runtime *rt;
	sigset_t set;
};

static void *signal_main(void *arg)
{
	struct signal_ctx *sc = arg;
	int sig, n = 0;

	while (sigwait(&sc->set, &sig) == 0) {
		if (sig == SIGUSR1) /* the run ended: leave */
			break;
		if (++n == 1) {
			fprintf(stderr, "\nspate: %s: draining (origins stop, "
					"outputs commit); again to abort\n",
				strsignal(sig));
			sp_runtime_stop(sc->rt, false);
		} else {
			fprintf(stderr, "\nspate: %s: aborting, rolling back\n",
				strsignal(sig));
			sp_runtime_stop(sc->rt, true);
		}
	}
	return NULL;
}

struct run_args {
	const char *flow;
	char **sets;
	int nsets;
	struct sp_run_options opt;
	bool json, quiet;
	const char *metrics; /* --metrics-file */
};

static int parse_args(int argc, char **argv, struct run_args *a,
		      bool run_flags, const char *usage)
{
	static const char *const run_opts[] = {"--workers", "--set",   "--json",
					       "--quiet",   "--force", "--no-pin",
					       "--help",    "--metrics-file",
					       "--catalog", "--validate-only",
					       NULL};
	memset(a, 0, sizeof(*a));
	a->sets = calloc((size_t)argc, sizeof(char *));
	for (int i = 1; i < argc; i++) {
		const char *arg = argv[i];
		if (!strcmp(arg, "-h") || !strcmp(arg, "--help")) {
			fputs(usage, stdout);
			return 0;
		} else if (!strcmp(arg, "--set") && i + 1 < argc) {
			a->sets[a->nsets++] = argv[++i];
		} else if (!strncmp(arg, "--set=", 6)) {
			a->sets[a->nsets++] = (char *)arg + 6;
		} else if (run_flags && !strcmp(arg, "--workers") &&
			   i + 1 < argc) {
			char *end;
			long n = strtol(argv[++i], &end, 10);
			if (*end || n < 1 || n > 1024) {
				fprintf(stderr, "spate: --workers %s: give a "
						"number from 1 to 1024\n",
					argv[i]);
				return SPATE_EXIT_USAGE;
			}
			a->opt.workers = (unsigned)n;
		} else if (run_flags && !strcmp(arg, "--metrics-file") &&
			   i + 1 < argc) {
			a->metrics = argv[++i];
		} else if (run_flags && !strncmp(arg, "--metrics-file=", 15)) {
			a->metrics = arg + 15;
		} else if (run_flags && !strcmp(arg, "--json")) {
			a->json = true;
		} else if (run_flags && !strcmp(arg, "--quiet")) {
			a->quiet = true;
		} else if (run_flags && !strcmp(arg, "--force")) {
			a->opt.force = true;
		} else if (run_flags && !strcmp(arg, "--no-pin")) {
			a->opt.no_pin = true;
		} else if (run_flags && !strcmp(arg, "--validate-only")) {
			a->opt.validate_only = true;
		} else if (!strcmp(arg, "--catalog") && i + 1 < argc) {
			a->opt.catalog = argv[++i];
		} else if (!strncmp(arg, "--catalog=", 10)) {
			a->opt.catalog = arg + 10;
		} else if (arg[0] == '-' && arg[1]) {
			const char *hint = cli_suggest(arg, run_opts);
			fprintf(stderr, "spate: unknown option '%s'", arg);
			if (hint)
				fprintf(stderr, " (did you mean '%s'?)", hint);
			fprintf(stderr, "\n\n%s", usage);
			return SPATE_EXIT_USAGE;
		} else if (!a->flow) {
			a->flow = arg;
		} else {
			fprintf(stderr, "spate: one flow file at a time ('%s' "
					"and '%s')\n",
				a->flow, arg);
			return SPATE_EXIT_USAGE;
		}
	}
	if (!a->flow) {
		fprintf(stderr, "spate: which flow? give a flow file\n\n%s",
			usage);
		return SPATE_EXIT_USAGE;
	}
	return -1; /* go on */
}

int cli_validate(int argc, char **argv)
{
	struct run_args a;
	int rc = parse_args(argc, argv, &a, false, validate_usage);

	if (rc >= 0) {
		free(a.sets);
		return rc;
	}
	struct sp_flow *f = cli_load_flow(a.flow, a.sets, a.nsets);
	free(a.sets);
	if (!f)
		return SPATE_EXIT_USAGE;
	if (cli_check_stage_refs(f, a.opt.catalog, a.flow)) {
		sp_flow_destroy(f);
		return SPATE_EXIT_USAGE;
	}
	printf("%s: flow '%s' is valid (%u stages)\n", a.flow, f->name,
	       f->nstages);
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
	fprintf(stderr,
		"spate: %s: validate-only: %llu record error%s in %llu "
		"record%s read; nothing was written\n",
		flow, (unsigned long long)errors, errors == 1 ? "" : "s",
		(unsigned long long)records, records == 1 ? "" : "s");
	return errors ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}

int cli_run(int argc, char **argv)
{
	struct run_args a;
	char err[1024] = "";
	int rc = parse_args(argc, argv, &a, true, run_usage);

	if (rc >= 0) {
		free(a.sets);
		return rc;
	}
	struct sp_flow *f = cli_load_flow(a.flow, a.sets, a.nsets);
	free(a.sets);
	if (!f)
		return SPATE_EXIT_USAGE;
	if (cli_check_stage_refs(f, a.opt.catalog, a.flow)) {
		sp_flow_destroy(f);
		return SPATE_EXIT_USAGE;
	}

	/* signals go to one thread, started after the runtime exists */
	struct signal_ctx sc;
	sigemptyset(&sc.set);
	sigaddset(&sc.set, SIGINT);
	sigaddset(&sc.set, SIGTERM);
	sigaddset(&sc.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sc.set, NULL);
	signal(SIGPIPE, SIG_IGN);

	struct sp_runtime *rt = NULL;
	if (sp_runtime_create(f, &a.opt, &rt, err, sizeof(err))) {
		fprintf(stderr, "spate: %s: %s\n", a.flow, err);
		sp_flow_destroy(f);
		return SPATE_EXIT_FAILED;
	}
	sc.rt = rt;
	pthread_t sig_thread;
	pthread_create(&sig_thread, NULL, signal_main, &sc);

	bool show_progress = !a.quiet && isatty(2);
	struct cli_watch watch;
	rc = cli_watch_init(&watch, rt, f->name, show_progress, a.metrics);
	if (rc) {
		fprintf(stderr, "spate: --metrics-file %s: %s\n", a.metrics,
			strerror(-rc));
		pthread_kill(sig_thread, SIGUSR1);
		pthread_join(sig_thread, NULL);
		sp_runtime_destroy(rt);
		sp_flow_destroy(f);
		return SPATE_EXIT_USAGE;
	}

	enum sp_run_state state;
	rc = sp_runtime_start(rt, err, sizeof(err));
	if (rc == -EALREADY) {
		/* exactly-once: this input's output is already committed */
		fprintf(stderr, "spate: %s: skipped: %s\n", a.flow, err);
		if (a.json) {
			struct sp_buf b;
			sp_buf_init(&b);
			sp_json_append_string(&b, f->name, strlen(f->name));
			printf("{\"flow\":%.*s,\"status\":\"skipped\","
			       "\"elapsed_s\":0,\"stages\":[]}\n",
			       (int)b.len, b.data);
			sp_buf_fini(&b);
		}
		pthread_kill(sig_thread, SIGUSR1);
		pthread_join(sig_thread, NULL);
		struct sp_run_report srep;
		if (sp_runtime_report(rt, &srep) == 0) {
			srep.state = SP_RUN_FINISHED;
			cli_watch_finish(&watch, &srep);
			sp_run_report_fini(&srep);
		}
		cli_watch_finish(&watch, NULL);
		sp_runtime_destroy(rt);
		sp_flow_destroy(f);
		return SPATE_EXIT_OK;
	} else if (rc) {
		fprintf(stderr, "spate: %s: %s\n", a.flow, err);
		state = sp_runtime_wait(rt);
		state = SP_RUN_FAILED;
	} else {
		cli_watch_start(&watch);
		state = sp_runtime_wait(rt);
	}
	pthread_kill(sig_thread, SIGUSR1);
	pthread_join(sig_thread, NULL);

	struct sp_run_report rep;
	int exit_code = state == SP_RUN_FINISHED || state == SP_RUN_STOPPED
				? SPATE_EXIT_OK
				: SPATE_EXIT_FAILED;
	if (sp_runtime_report(rt, &rep) == 0) {
		/* a run that failed to start never left "created" */
		rep.state = state;
		if (a.json && !rep.error[0] && state == SP_RUN_FAILED &&
		    err[0])
			snprintf(rep.error, sizeof(rep.error), "%s", err);
		/* the last progress line and metrics show the final counts */
		cli_watch_finish(&watch, &rep);
		if (rep.accounting[0]) {
			fprintf(stderr, "spate: accounting check failed: %s\n",
				rep.accounting);
			exit_code = SPATE_EXIT_FAILED;
		}
		if (a.json)
			cli_print_json(stdout, f, &rep);
		else if (!a.quiet)
			cli_print_summary(stderr, f, &rep);
		if (rep.error[0])
			fprintf(stderr, "spate: run failed: %s\n", rep.error);
		if (a.opt.validate_only && exit_code == SPATE_EXIT_OK)
			exit_code = validate_only_verdict(a.flow, &rep);
		sp_run_report_fini(&rep);
	}
	cli_watch_finish(&watch, NULL);
	sp_runtime_destroy(rt);
	sp_flow_destroy(f);
	return exit_code;
}
