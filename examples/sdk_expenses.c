/*
 * The expenses flow of examples/expenses.yaml, built and run with the C
 * SDK (include/spate/spate.h).  So that it runs without prepared input,
 * the origin is a seeded dev_data_generator instead of a file_reader: its
 * records have the same fields (id, ts, user, country, expense, status,
 * tags, message).
 *
 *	src -> drop (/tags) -> rename (/user -> /user_name) -> split
 *	split.high    -> out_high   (expense >= 10000)
 *	split.low     -> out_low    (expense < -10000)
 *	split.default -> out_rest
 *	errors: the error stage; done: ends the run when src is exhausted
 *
 * usage: sdk_expenses [--force] [--workers N] [OUTDIR [RECORDS]]
 *
 * Writes OUTDIR/expenses.yaml (the same flow as a flow file) and the
 * outputs in OUTDIR/high, low, rest and errors; shows progress on stderr
 * while running (Ctrl-C drains the run) and the status of every stage on
 * stdout at the end.  Exit 0 when the run succeeded or was skipped (its
 * output was already there), 1 when it failed or was stopped, 2 on bad
 * arguments.
 */
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#include "spate/spate.h"

static const char usage[] =
	"usage: sdk_expenses [--force] [--workers N] [OUTDIR [RECORDS]]\n"
	"  OUTDIR   where the outputs go (default: sdk-expenses-out)\n"
	"  RECORDS  records to generate (default: 100000)\n";

static int set(struct spate_stage *s, const char *option, const char *value)
{
	int r = spate_stage_set_config(s, option, value);

	if (r)
		fprintf(stderr, "sdk_expenses: %s.%s: %s\n", spate_stage_id(s),
			option, strerror(-r));
	return r;
}

static int set_dir(struct spate_stage *s, const char *outdir,
		   const char *sub)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", outdir, sub);
	return set(s, "dir", path);
}

static struct spate_flow *build(const char *outdir, const char *records)
{
	struct spate_flow *flow = spate_flow_create("expenses");
	struct spate_stage *src, *drop, *rename, *split, *hi, *lo, *rest,
		*errors, *done;
	int r = 0;

	if (!flow)
		return NULL;
	src = spate_flow_add_stage(flow, "dev_data_generator", "src");
	drop = spate_flow_add_stage(flow, "field_remover", "drop");
	rename = spate_flow_add_stage(flow, "field_renamer", "rename");
	split = spate_flow_add_stage(flow, "stream_selector", "split");
	hi = spate_flow_add_stage(flow, "file_writer", "out_high");
	lo = spate_flow_add_stage(flow, "file_writer", "out_low");
	rest = spate_flow_add_stage(flow, "file_writer", "out_rest");
	errors = spate_flow_add_stage(flow, "file_writer", "errors");
	done = spate_flow_add_stage(flow, "pipeline_finisher", "done");
	if (!src || !drop || !rename || !split || !hi || !lo || !rest ||
	    !errors || !done)
		goto fail;

	r |= set(src, "records", records);
	r |= set(src, "seed", "42");
	r |= set(drop, "fields", "[/tags]");
	r |= set(rename, "fields", "{/user: /user_name}");
	r |= spate_stage_add_predicate(
		split, "high", "${record:value(\"/expense\") >= 10000}");
	r |= spate_stage_add_predicate(
		split, "low", "${record:value(\"/expense\") < -10000}");
	r |= set_dir(hi, outdir, "high");
	r |= set_dir(lo, outdir, "low");
	r |= set_dir(rest, outdir, "rest");
	r |= set_dir(errors, outdir, "errors");
	r |= spate_flow_set_error_stage(flow, errors);
	if (r)
		goto fail;

	/* connections chain: each call returns the other stage */
	if (!spate_stage_connect_output(
		    spate_stage_connect_output(
			    spate_stage_connect_output(src, drop), rename),
		    split) ||
	    !spate_stage_connect_lane(split, "high", hi) ||
	    !spate_stage_connect_lane(split, "low", lo) ||
	    !spate_stage_connect_lane(split, "default", rest) ||
	    !spate_stage_connect_event(src, done))
		goto fail;
	return flow;
fail:
	fprintf(stderr, "sdk_expenses: cannot build the flow\n");
	spate_flow_destroy(flow);
	return NULL;
}

/* Progress on stderr every 200 ms; SIGINT/SIGTERM (blocked in every
 * thread, taken here) drain the run, a second one aborts it. */
struct watcher {
	struct spate_run *run;
	sigset_t signals; /* SIGUSR1: the run has ended */
};

static void *watch_main(void *arg)
{
	struct watcher *w = arg;
	struct timespec tick = {0, 200 * 1000 * 1000};
	int stops = 0;

	for (;;) {
		int sig = sigtimedwait(&w->signals, NULL, &tick);
		struct spate_run_status st;

		if (sig == SIGUSR1)
			break;
		if (sig == SIGINT || sig == SIGTERM) {
			fprintf(stderr, "\nsdk_expenses: %s\n",
				stops ? "aborting" : "draining");
			spate_run_stop(w->run, stops++ > 0);
			continue;
		}
		if (spate_run_status(w->run, &st) == 0)
			fprintf(stderr, "\r%.1fs  %llu records in  %llu out  "
					"%llu errors   ",
				st.elapsed_s,
				(unsigned long long)st.records_in,
				(unsigned long long)st.records_out,
				(unsigned long long)st.errors);
	}
	return NULL;
}

static void print_status(struct spate_run *run)
{
	struct spate_run_status st;
	uint32_t n = spate_run_stage_count(run);

	if (spate_run_status(run, &st))
		return;
	printf("flow expenses: %s in %.2f s with %u workers\n",
	       spate_run_state_name(st.state), st.elapsed_s, st.workers);
	printf("records: %llu in, %llu out, %llu errors (%llu to the error "
	       "stage), %llu dropped\n",
	       (unsigned long long)st.records_in,
	       (unsigned long long)st.records_out,
	       (unsigned long long)st.errors,
	       (unsigned long long)st.error_records,
	       (unsigned long long)st.dropped);
	printf("%-9s %-19s %-11s %10s %10s %7s %7s %12s\n", "stage", "type",
	       "kind", "in", "out", "errors", "dropped", "bytes out");
	for (uint32_t i = 0; i < n; i++) {
		struct spate_stage_status s;

		if (spate_run_stage_status(run, i, &s))
			continue;
		printf("%-9s %-19s %-11s %10llu %10llu %7llu %7llu %12llu\n",
		       s.id, s.type, s.kind, (unsigned long long)s.records_in,
		       (unsigned long long)s.records_out,
		       (unsigned long long)s.errors,
		       (unsigned long long)s.dropped,
		       (unsigned long long)s.bytes_out);
		for (uint32_t l = 0; s.nlanes > 1 && l < s.nlanes; l++) {
			struct spate_lane_status ls;

			if (spate_run_lane_status(run, i, l, &ls) == 0)
				printf("  lane %-8s %10llu\n", ls.name,
				       (unsigned long long)ls.records);
		}
	}
}

int main(int argc, char **argv)
{
	struct spate_run_options opts = {0};
	const char *outdir = "sdk-expenses-out", *records = "100000";
	char err[4096], path[4096];
	int npos = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--force") == 0) {
			opts.force = true;
		} else if (strcmp(argv[i], "--workers") == 0 && i + 1 < argc) {
			opts.workers = (unsigned)strtoul(argv[++i], NULL, 10);
		} else if (argv[i][0] == '-') {
			fputs(usage, stderr);
			return 2;
		} else if (npos == 0) {
			outdir = argv[i];
			npos++;
		} else if (npos == 1) {
			records = argv[i];
			npos++;
		} else {
			fputs(usage, stderr);
			return 2;
		}
	}

	struct spate_flow *flow = build(outdir, records);
	if (!flow)
		return 2;
	if (spate_flow_validate(flow, err, sizeof(err))) {
		fprintf(stderr, "sdk_expenses: the flow is not valid:\n%s\n",
			err);
		spate_flow_destroy(flow);
		return 2;
	}
	/* the same flow as a flow file: `spate run OUTDIR/expenses.yaml` */
	mkdir(outdir, 0755);
	snprintf(path, sizeof(path), "%s/expenses.yaml", outdir);
	int r = spate_flow_save(flow, path);
	if (r)
		fprintf(stderr, "sdk_expenses: cannot save %s: %s\n", path,
			strerror(-r));

	struct watcher w;
	sigemptyset(&w.signals);
	sigaddset(&w.signals, SIGINT);
	sigaddset(&w.signals, SIGTERM);
	sigaddset(&w.signals, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &w.signals, NULL);

	struct spate_run *run;
	r = spate_flow_start(flow, &opts, &run, err, sizeof(err));
	/* the run has its own copy of the flow */
	spate_flow_destroy(flow);
	if (r) {
		fprintf(stderr, "sdk_expenses: cannot run: %s\n", err);
		return 1;
	}
	w.run = run;
	pthread_t watcher;
	pthread_create(&watcher, NULL, watch_main, &w);
	enum spate_run_state state = spate_run_wait(run);
	pthread_kill(watcher, SIGUSR1);
	pthread_join(watcher, NULL);
	fputc('\n', stderr);

	print_status(run);
	if (state == SPATE_RUN_FAILED || state == SPATE_RUN_SKIPPED)
		fprintf(stderr, "sdk_expenses: %s: %s\n",
			spate_run_state_name(state), spate_run_error(run));
	spate_run_destroy(run);
	return state == SPATE_RUN_SUCCEEDED || state == SPATE_RUN_SKIPPED ? 0
									  : 1;
}
