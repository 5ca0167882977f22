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
#include "engine/log.h"

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
	"  --quiet                 no progress line and no summary\n"
	"  --force                 replace output an earlier run committed\n"
	"  --no-pin                do not pin workers to CPUs\n"
	"\n"
	"The first Ctrl-C drains (origins stop, records in flight are\n"
	"written, outputs commit); a second one aborts and rolls back.\n"
	"\n"
	"examples:\n"
	"  spate run examples/expenses.yaml\n"
	"  spate run flow.yaml --workers 2 --set gen.records=1000000 --json\n";

static const char validate_usage[] =
	"usage: spate validate FLOW [--set STAGE.OPTION=V ...]\n"
	"\n"
	"Checks FLOW without moving any data and prints every problem with\n"
	"its file:line, stage and option.  Exit 0 when valid, 2 otherwise.\n";

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

struct progress_ctx {
	struct sp_runtime *rt;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void print_progress(struct sp_runtime *rt)
{
	struct sp_run_report rep;

	if (sp_runtime_report(rt, &rep))
		return;
	uint64_t recs = 0, in_bytes = 0, out_bytes = 0, errors = 0;
	for (uint32_t i = 0; i < rep.nstages; i++) {
		struct sp_stage_report *s = &rep.stages[i];
		if (s->kind == SP_ORIGIN) {
			recs += s->forwarded;
			in_bytes += s->bytes_in;
		}
		out_bytes += s->bytes_out;
		errors += s->errors;
	}
	double t = rep.elapsed_s > 0 ? rep.elapsed_s : 1e-9;
	char pct[64] = "";
	if (rep.input_bytes && in_bytes) {
		double f = (double)in_bytes / (double)rep.input_bytes;
		double eta = f > 0 ? t / f - t : 0;
		snprintf(pct, sizeof(pct), " %5.1f%% eta %.0fs", f * 100, eta);
	}
	fprintf(stderr,
		"\r%.1fs  %llu records  %.0f rec/s  in %.1f MB/s  out %.1f "
		"MB/s  errors %llu%s   ",
		rep.elapsed_s, (unsigned long long)recs, (double)recs / t,
		(double)in_bytes / t / 1e6, (double)out_bytes / t / 1e6,
		(unsigned long long)errors, pct);
	sp_run_report_fini(&rep);
}

static void *progress_main(void *arg)
{
	struct progress_ctx *pc = arg;

	pthread_mutex_lock(&pc->lock);
	while (!pc->done) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_nsec += 500 * 1000 * 1000;
		if (ts.tv_nsec >= 1000000000) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000;
		}
		pthread_cond_timedwait(&pc->cond, &pc->lock, &ts);
		if (!pc->done)
			print_progress(pc->rt);
	}
	pthread_mutex_unlock(&pc->lock);
	return NULL;
}

struct run_args {
	const char *flow;
	char **sets;
	int nsets;
	struct sp_run_options opt;
	bool json, quiet;
};

static int parse_args(int argc, char **argv, struct run_args *a,
		      bool run_flags, const char *usage)
{
	static const char *const run_opts[] = {"--workers", "--set",   "--json",
					       "--quiet",   "--force", "--no-pin",
					       "--help",    NULL};
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
		} else if (run_flags && !strcmp(arg, "--json")) {
			a->json = true;
		} else if (run_flags && !strcmp(arg, "--quiet")) {
			a->quiet = true;
		} else if (run_flags && !strcmp(arg, "--force")) {
			a->opt.force = true;
		} else if (run_flags && !strcmp(arg, "--no-pin")) {
			a->opt.no_pin = true;
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
	printf("%s: flow '%s' is valid (%u stages)\n", a.flow, f->name,
	       f->nstages);
	sp_flow_destroy(f);
	return SPATE_EXIT_OK;
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
	struct progress_ctx pc = {.rt = rt};
	pthread_t prog_thread;
	pthread_mutex_init(&pc.lock, NULL);
	pthread_cond_init(&pc.cond, NULL);

	enum sp_run_state state;
	rc = sp_runtime_start(rt, err, sizeof(err));
	if (rc == -EALREADY) {
		/* exactly-once: this input's output is already committed */
		fprintf(stderr, "spate: %s: skipped: %s\n", a.flow, err);
		if (a.json)
			printf("{\"flow\":\"%s\",\"status\":\"skipped\","
			       "\"elapsed_s\":0,\"stages\":[]}\n",
			       f->name);
		pthread_kill(sig_thread, SIGUSR1);
		pthread_join(sig_thread, NULL);
		sp_runtime_destroy(rt);
		sp_flow_destroy(f);
		return SPATE_EXIT_OK;
	} else if (rc) {
		fprintf(stderr, "spate: %s: %s\n", a.flow, err);
		state = sp_runtime_wait(rt);
		state = SP_RUN_FAILED;
	} else {
		if (show_progress)
			pthread_create(&prog_thread, NULL, progress_main, &pc);
		state = sp_runtime_wait(rt);
		if (show_progress) {
			pthread_mutex_lock(&pc.lock);
			pc.done = true;
			pthread_cond_signal(&pc.cond);
			pthread_mutex_unlock(&pc.lock);
			pthread_join(prog_thread, NULL);
			fputc('\n', stderr);
		}
	}
	pthread_kill(sig_thread, SIGUSR1);
	pthread_join(sig_thread, NULL);

	struct sp_run_report rep;
	int exit_code = state == SP_RUN_FINISHED || state == SP_RUN_STOPPED
				? SPATE_EXIT_OK
				: SPATE_EXIT_FAILED;
	if (sp_runtime_report(rt, &rep) == 0) {
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
		sp_run_report_fini(&rep);
	}
	pthread_mutex_destroy(&pc.lock);
	pthread_cond_destroy(&pc.cond);
	sp_runtime_destroy(rt);
	sp_flow_destroy(f);
	return exit_code;
}
