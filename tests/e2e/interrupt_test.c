/*
 * The interruption contract and the rerun that follows it (README
 * "Interruptions and reruns"): a batch run hit by SIGINT, SIGTERM or
 * SIGHUP at a random moment exits 128 + the signal with nothing
 * published, or 0 when it had committed already, and the plain rerun
 * then yields every input record exactly once - for a file flow with
 * several inputs and two destinations behind a selector, and for a
 * catalog flow with {run} in the name; the records are field-dense
 * (unicode raw and escaped, nulls, nesting) and compared byte for byte.
 * Also: stdin is new input every
 * run, a file whose content changed (size and mtime kept) is read again,
 * a deleted destination is rebuilt, a crash between two destinations'
 * exchanges converges on the rerun, a read-only catalog is refused before
 * anything moves, and a file that shrinks while read fails the run.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <fcntl.h>
#include <limits.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

#define NFILES 4
#define PER_FILE 3000
#define LIMIT_S 60

/* Interrupted runs per signal and flow: fewer under the sanitizers, whose
 * slowdown makes each run long (SPATE_TEST_LOOPS overrides). */
static int loops(void)
{
	const char *v = getenv("SPATE_TEST_LOOPS");
#if defined(__SANITIZE_ADDRESS__) || defined(__SANITIZE_THREAD__)
	int n = 8;
#else
	int n = 30;
#endif
	return v && atoi(v) > 0 ? atoi(v) : n;
}

/* One field-dense record shaped like a real export: short fields of every
 * type, nulls, decimals written with trailing zeros, a key with a space,
 * non-ASCII text raw and as \\u escapes (a surrogate pair too), quotes,
 * backslashes and tabs escaped, nested objects and arrays.  Records pass
 * the flows unchanged, so each output line must equal its input line. */
static void dense_record(struct e2e_text *t, int k, int f, int i)
{
	static const char *const names[] = {
	    "Zo\u00eb", "Ren\u00e9e \\\"R\\\"", "\u5f20\u4f1f",
	    "\\ud83d\\ude00 smile", "tab\\there", "plain"};
	const char *name = names[(unsigned)i % 6];

	e2e_text_printf(
	    t,
	    "{\"k\":%d,\"f\":%d,\"v\":\"r%d\",\"name\":\"%s\","
	    "\"amount\":%d.%02d0,\"ratio\":%de-3,\"flag\":%s,\"none\":null,"
	    "\"first seen\":\"2026-0%d-1%dT0%d:30:00Z\",\"city\":\"K\u00f6ln\","
	    "\"tags\":[\"a\",\"\u00df\",%d,null,true],"
	    "\"geo\":{\"lat\":50.9%03d,\"lon\":-6.9%03d,\"alt\":null,"
	    "\"path\":[{\"x\":%d},{\"y\":[]}]},\"note\":\"\"}\n",
	    k, f, i, name, i % 10000, i % 100, i, i % 3 ? "true" : "false",
	    1 + i % 9, i % 10, i % 10, i % 7, i % 1000, i % 1000, i);
}

/* NFILES inputs under dir/sub of PER_FILE distinct records each, an hour
 * old; returns all their lines, sorted. */
static char *make_inputs(const char *dir, const char *sub)
{
	struct e2e_text all = {0};
	char *in = e2e_join(dir, sub);

	for (int f = 0; f < NFILES; f++) {
		struct e2e_text t = {0};
		for (int i = 0; i < PER_FILE; i++)
			dense_record(&t, f * PER_FILE + i, f, i);
		char name[32];
		snprintf(name, sizeof(name), "in%d.jsonl", f);
		e2e_put(in, name, t.p, t.len);
		/* old files: a run into a new target takes its run id after
		 * the data, so the interrupted runs and their reruns take
		 * both ways */
		e2e_age(in, name);
		e2e_text_add(&all, t.p, t.len);
		free(t.p);
	}
	free(in);
	e2e_sort_lines(all.p, all.len);
	return all.p;
}

/* The data files of the directories dirs (NULL-terminated, under dir),
 * concatenated and sorted, compared with want. */
static void assert_exactly_once(const char *dir, const char *const *dirs,
				const char *want, const char *what)
{
	struct e2e_text got = {0};

	e2e_text_add(&got, "", 0);
	for (int i = 0; dirs[i]; i++) {
		size_t n;
		char *s = e2e_read_out(dir, dirs[i], &n);
		cr_assert_not_null(s, "%s: %s unreadable", what, dirs[i]);
		e2e_text_add(&got, s, n);
		free(s);
	}
	e2e_sort_lines(got.p, got.len);
	e2e_assert_same(got.p, got.len, want, strlen(want), what, "");
	free(got.p);
}

/* No manifest and no data file in dir/sub (absent is fine). */
static void assert_unpublished(const char *dir, const char *sub,
			       const char *what)
{
	char *p = e2e_join(dir, sub);
	int n = e2e_count_files(p, NULL, false);

	cr_assert(n <= 0, "%s: %d files published in %s", what, n, sub);
	free(p);
}

/* A background run of `spate run flow --quiet [extra]` in dir. */
static pid_t start(const char *dir, const char *const *env, const char *flow,
		   const char *extra)
{
	const char *argv[] = {"run", flow, "--quiet", "--workers", "2", extra,
			      NULL};
	char *out = e2e_join(dir, ".out"), *err = e2e_join(dir, ".err");
	pid_t pid = e2e_bg_start(dir, env, argv, out, err, NULL);

	free(out);
	free(err);
	return pid;
}

static char *stderr_of(const char *dir)
{
	char *p = e2e_join(dir, ".err");
	char *s = e2e_read(p, NULL);

	free(p);
	cr_assert_not_null(s);
	return s;
}

static long now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* How long one uninterrupted run of flow takes here (ms, at least 5). */
static long calibrate(const char *dir, const char *const *env,
		      const char *flow, const char *extra)
{
	long t0 = now_ms();
	int code = e2e_bg_wait(start(dir, env, flow, extra), LIMIT_S);

	cr_assert_eq(code, 0, "calibration run: exit %d", code);
	long ms = now_ms() - t0;
	return ms < 5 ? 5 : ms;
}

struct loop {
	const char *dir;
	const char *const *env;
	const char *flow; /* flow file, NULL: printf'd per round */
	const char *const *outs; /* output folders under dir */
	const char *want;
	int sig;
	int rolled_back, completed; /* rounds of each outcome */
};

/* One round: the run is signalled after a random delay up to 1.3 times
 * a whole run, must exit 128 + sig with nothing published (or 0: it had
 * committed), and the plain rerun must leave every record once.  The
 * last round of a loop in which no run was interrupted yet is signalled
 * within the first tenth of a run: the calibration run may have been
 * slowed by other tests, and then every signal could come too late. */
static void round_once(struct loop *l, const char *flow, long run_ms,
		       uint64_t *seed, bool last)
{
	long delay = (long)(e2e_lcg(seed) % (uint64_t)(run_ms * 13 / 10 + 1));

	if (last && l->rolled_back == 0)
		delay %= run_ms / 10 + 1;
	pid_t pid = start(l->dir, l->env, flow, NULL);

	e2e_sleep_ms((int)delay);
	kill(pid, l->sig);
	int code = e2e_bg_wait(pid, LIMIT_S);
	char *err = stderr_of(l->dir);
	/* the moment is random, so two outcomes are right: rolled back
	 * (128 + sig) or, when the signal came once the output was being
	 * committed or after the run, complete (0); what spate said must
	 * match the code */
	cr_assert(code == 128 + l->sig || code == 0,
		  "signal %d after %ld ms: exit %d\n%s", l->sig, delay, code,
		  err);
	cr_assert(code == 0 ? !strstr(err, "nothing was published")
			    : !strstr(err, "the run is complete"),
		  "signal %d after %ld ms: exit %d\n%s", l->sig, delay, code,
		  err);
	if (code == 128 + l->sig) {
		l->rolled_back++;
		for (int i = 0; l->outs[i]; i++)
			assert_unpublished(l->dir, l->outs[i], err);
	} else {
		l->completed++;
	}
	free(err);
	pid = start(l->dir, l->env, flow, NULL);
	code = e2e_bg_wait(pid, LIMIT_S);
	err = stderr_of(l->dir);
	cr_assert_eq(code, 0, "rerun after signal %d at %ld ms: exit %d\n%s",
		     l->sig, delay, code, err);
	free(err);
	assert_exactly_once(l->dir, l->outs, l->want, "rerun");
}

/* ---- a file flow: four inputs, a selector, two destinations ---- */

static const char split_flow[] =
    "name: split\n"
    "stages:\n"
    "  - {id: src, type: file_reader, path: 'in/*.jsonl', chunk_size: 16K}\n"
    "  - id: sel\n"
    "    type: stream_selector\n"
    "    inputs: [src]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/k\") >= 6000}'\n"
    "  - {id: out_high, type: file_writer, inputs: [sel.high], dir: "
    "out/high, max_file_records: 4000, fsync: false}\n"
    "  - {id: out_rest, type: file_writer, inputs: [sel.default], dir: "
    "out/rest, max_file_records: 4000, fsync: false}\n";

static const char *const split_outs[] = {"out/high", "out/rest", NULL};

static void split_loop(int sig)
{
	char *dir = e2e_tmpdir();
	char *want = make_inputs(dir, "in");
	char *out = e2e_join(dir, "out");
	struct loop l = {.dir = dir, .outs = split_outs, .want = want,
			 .sig = sig};
	uint64_t seed = 0x5eed0000u + (uint64_t)sig;

	e2e_put_str(dir, "flow.yaml", split_flow);
	long run_ms = calibrate(dir, NULL, "flow.yaml", NULL);
	for (int i = 0, n = loops(); i < n; i++) {
		e2e_rmrf(out);
		round_once(&l, "flow.yaml", run_ms, &seed, i == n - 1);
	}
	cr_log_info("signal %d, file flow: %d rounds rolled back, %d had "
		    "committed (run %ld ms)",
		    sig, l.rolled_back, l.completed, run_ms);
	cr_assert_gt(l.rolled_back, 0, "no round was interrupted in time");
	free(out);
	free(want);
	e2e_rmrf(dir);
	free(dir);
}

Test(interrupt, sigint_file_flow_then_rerun, .timeout = 300)
{
	split_loop(SIGINT);
}

Test(interrupt, sigterm_file_flow_then_rerun, .timeout = 300)
{
	split_loop(SIGTERM);
}

Test(interrupt, sighup_file_flow_then_rerun, .timeout = 300)
{
	split_loop(SIGHUP);
}

/* ---- a catalog flow with {run} in the name ---- */

/* SPATE_HOME=dir/home and stages raw (dir/raw) and wh (dir/wh). */
static void make_catalog(const char *dir, char *home_env, size_t len)
{
	char *raw = e2e_join(dir, "raw"), *wh = e2e_join(dir, "wh");
	snprintf(home_env, len, "SPATE_HOME=%s/home", dir);
	const char *env[] = {home_env, NULL};
	const char *a1[] = {"stage", "create-local", "raw", raw, NULL};
	const char *a2[] = {"stage", "create-local", "wh", wh, NULL};
	struct e2e_result r;

	e2e_run(&r, dir, env, NULL, a1);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	e2e_run(&r, dir, env, NULL, a2);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	free(raw);
	free(wh);
}

static void write_catalog_flow(const char *dir, const char *file, int n)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "name: load%d\n"
		 "stages:\n"
		 "  - {id: src, type: file_reader, stage: raw, path: "
		 "'*.jsonl', chunk_size: 16K}\n"
		 "  - {id: out, type: file_writer, inputs: [src], stage: wh, "
		 "dir: ev%d, name: '{flow}-{run}-{seq}.{ext}', "
		 "max_file_records: 4000, fsync: false}\n",
		 n, n);
	e2e_put_str(dir, file, yaml);
}

static void catalog_loop(int sig)
{
	char *dir = e2e_tmpdir();
	char *want = make_inputs(dir, "raw");
	char home[512];
	make_catalog(dir, home, sizeof(home));
	const char *env[] = {home, NULL};
	struct loop l = {.dir = dir, .env = env, .want = want, .sig = sig};
	uint64_t seed = 0xca7a0000u + (uint64_t)sig;

	write_catalog_flow(dir, "cal.yaml", 1000);
	long run_ms = calibrate(dir, env, "cal.yaml", NULL);
	for (int i = 0, n = loops(); i < n; i++) {
		/* each round a flow of its own: its own load history */
		char sub[32];
		snprintf(sub, sizeof(sub), "wh/ev%d", i);
		const char *outs[] = {sub, NULL};
		l.outs = outs;
		write_catalog_flow(dir, "flow.yaml", i);
		round_once(&l, "flow.yaml", run_ms, &seed, i == n - 1);
		/* the load history holds every file once: a third run loads
		 * nothing and is skipped */
		pid_t pid = start(dir, env, "flow.yaml", NULL);
		int code = e2e_bg_wait(pid, LIMIT_S);
		char *err = stderr_of(dir);
		cr_assert_eq(code, 0, "third run: exit %d\n%s", code, err);
		cr_assert(strstr(err, "skipped") != NULL, "%s", err);
		free(err);
		assert_exactly_once(dir, outs, want, "third run");
	}
	cr_log_info("signal %d, catalog flow: %d rounds rolled back, %d had "
		    "committed (run %ld ms)",
		    sig, l.rolled_back, l.completed, run_ms);
	cr_assert_gt(l.rolled_back, 0, "no round was interrupted in time");
	free(want);
	e2e_rmrf(dir);
	free(dir);
}

Test(interrupt, sigint_catalog_flow_then_rerun, .timeout = 300)
{
	catalog_loop(SIGINT);
}

Test(interrupt, sigterm_catalog_flow_then_rerun, .timeout = 300)
{
	catalog_loop(SIGTERM);
}

Test(interrupt, sighup_catalog_flow_then_rerun, .timeout = 300)
{
	catalog_loop(SIGHUP);
}

/* ---- new input, changed input, lost output ---- */

/* `spate run flow` in dir with stdin_data and extra arguments. */
static void run_in(struct e2e_result *r, const char *dir,
		   const char *const *env, const char *stdin_data,
		   const char *extra)
{
	const char *argv[] = {"run", "flow.yaml", "--quiet", extra, NULL};

	e2e_run_timed(r, dir, env, stdin_data, argv, LIMIT_S);
}

Test(interrupt, stdin_twice_keeps_both_runs)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;

	e2e_put_str(dir, "flow.yaml",
		    "name: pipe\n"
		    "stages:\n"
		    "  - {id: in, type: stdin}\n"
		    "  - {id: out, type: file_writer, inputs: [in], dir: out, "
		    "name: '{flow}-{run}-{seq}.{ext}'}\n");
	run_in(&r, dir, NULL, "{\"a\":1}\n", NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	run_in(&r, dir, NULL, "{\"a\":2}\n", NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") == NULL, "%s", r.err);
	e2e_result_free(&r);
	const char *const outs[] = {"out", NULL};
	assert_exactly_once(dir, outs, "{\"a\":1}\n{\"a\":2}\n", "stdin");
	e2e_rmrf(dir);
	free(dir);
}

/* Rewrites dir/name with other bytes of the same length and puts its
 * mtime (nanoseconds too) back. */
static void rewrite_same_size(const char *dir, const char *name,
			      const char *from, const char *to)
{
	char *p = e2e_join(dir, name);
	struct stat st;
	size_t n;

	cr_assert_eq(stat(p, &st), 0);
	char *s = e2e_read(p, &n);
	char *at = strstr(s, from);
	cr_assert_not_null(at);
	cr_assert_eq(strlen(from), strlen(to));
	memcpy(at, to, strlen(to));
	e2e_put(dir, name, s, n);
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0);
	free(s);
	free(p);
}

Test(interrupt, content_changed_same_size_and_mtime_is_read_again)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;

	e2e_put_str(dir, "in/a.jsonl", "{\"k\":1}\n{\"k\":2}\n");
	e2e_put_str(dir, "flow.yaml",
		    "name: ch\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: 'in/*.jsonl'}\n"
		    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
		    "name: '{flow}-{run}-{seq}.{ext}'}\n");
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") != NULL, "same input: %s", r.err);
	e2e_result_free(&r);
	rewrite_same_size(dir, "in/a.jsonl", "\"k\":2", "\"k\":7");
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") == NULL, "changed: %s", r.err);
	e2e_result_free(&r);
	const char *const outs[] = {"out", NULL};
	assert_exactly_once(dir, outs,
			    "{\"k\":1}\n{\"k\":1}\n{\"k\":2}\n{\"k\":7}\n",
			    "both versions");
	/* --trust-mtime takes size and mtime: another same-size change
	 * is not seen */
	rewrite_same_size(dir, "in/a.jsonl", "\"k\":7", "\"k\":8");
	run_in(&r, dir, NULL, NULL, "--trust-mtime");
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	run_in(&r, dir, NULL, NULL, "--trust-mtime");
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") != NULL, "trusted: %s", r.err);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* A, then B, then A again with {run} in the name: the third run's output
 * (A's) is in the folder already, beside B's, so it is skipped instead of
 * failing on A's file name or adding A twice. */
Test(interrupt, input_back_to_earlier_content_is_skipped)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	const char *const outs[] = {"out", NULL};

	e2e_put_str(dir, "flow.yaml",
		    "name: aba\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: 'in/*.jsonl'}\n"
		    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
		    "name: '{flow}-{run}-{seq}.{ext}'}\n");
	const char *versions[] = {"{\"k\":1}\n", "{\"k\":2}\n", "{\"k\":1}\n"};
	for (int v = 0; v < 3; v++) {
		e2e_put_str(dir, "in/a.jsonl", versions[v]);
		run_in(&r, dir, NULL, NULL, NULL);
		cr_assert_eq(r.exit_code, 0, "run %d: %s", v + 1, r.err);
		cr_assert_eq(strstr(r.err, "skipped") != NULL, v == 2,
			     "run %d: %s", v + 1, r.err);
		e2e_result_free(&r);
	}
	assert_exactly_once(dir, outs, "{\"k\":1}\n{\"k\":2}\n",
			    "A, B, A");
	e2e_rmrf(dir);
	free(dir);
}

Test(interrupt, catalog_content_changed_same_size_and_mtime_is_loaded_again)
{
	char *dir = e2e_tmpdir();
	char home[512];
	struct e2e_result r;

	make_catalog(dir, home, sizeof(home));
	const char *env[] = {home, NULL};
	e2e_put_str(dir, "raw/a.jsonl", "{\"k\":1}\n");
	e2e_put_str(dir, "raw/b.jsonl", "{\"k\":2}\n");
	write_catalog_flow(dir, "flow.yaml", 0);
	run_in(&r, dir, env, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	rewrite_same_size(dir, "raw/b.jsonl", "\"k\":2", "\"k\":3");
	run_in(&r, dir, env, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") == NULL, "%s", r.err);
	e2e_result_free(&r);
	const char *const outs[] = {"wh/ev0", NULL};
	assert_exactly_once(dir, outs, "{\"k\":1}\n{\"k\":2}\n{\"k\":3}\n",
			    "a once, b in both versions");
	e2e_rmrf(dir);
	free(dir);
}

Test(interrupt, deleted_destination_is_rebuilt)
{
	char *dir = e2e_tmpdir();
	char *want = make_inputs(dir, "in");
	char *rest = e2e_join(dir, "out/rest");
	struct e2e_result r;

	e2e_put_str(dir, "flow.yaml", split_flow);
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	e2e_rmrf(rest);
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") == NULL, "%s", r.err);
	e2e_result_free(&r);
	assert_exactly_once(dir, split_outs, want, "rebuilt");
	free(rest);
	free(want);
	e2e_rmrf(dir);
	free(dir);
}

/* The second directory exchange of a --force run is killed (strace
 * injects SIGKILL into the second renameat2): the plain rerun completes
 * the publication, and both destinations hold one run's records. */
Test(interrupt, crash_between_two_exchanges_converges)
{
	if (access("/usr/bin/strace", X_OK) != 0)
		cr_skip("strace is not installed (scripts/deps installs it)");
	char *dir = e2e_tmpdir();
	char *want = make_inputs(dir, "in");
	struct e2e_result r;

	e2e_put_str(dir, "flow.yaml", split_flow);
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	/* new input: the forced run has another run id than the first */
	e2e_put_str(dir, "in/in9.jsonl", "{\"k\":99999,\"f\":9,\"v\":\"n\"}\n");
	const char *argv[] = {"-f", "-o", "/dev/null", "-e",
			      "inject=renameat2:signal=KILL:when=2",
			      e2e_spate(), "run", "flow.yaml", "--quiet",
			      "--force", NULL};
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		const char *full[16] = {"strace"};
		for (int i = 0; argv[i]; i++)
			full[i + 1] = argv[i];
		if (chdir(dir) == 0)
			execv("/usr/bin/strace", (char *const *)full);
		_exit(127);
	}
	int code = e2e_bg_wait(pid, LIMIT_S);
	/* strace ends as its tracee did: killed by SIGKILL */
	cr_assert_eq(code, 128 + SIGKILL, "the injected kill did not happen: "
					  "exit %d",
		     code);
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	size_t wl = strlen(want);
	char *want2 = malloc(wl + 64);
	memcpy(want2, want, wl);
	strcpy(want2 + wl, "{\"k\":99999,\"f\":9,\"v\":\"n\"}\n");
	e2e_sort_lines(want2, strlen(want2));
	assert_exactly_once(dir, split_outs, want2, "after the crash");
	/* and once more: nothing to do */
	run_in(&r, dir, NULL, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") != NULL, "%s", r.err);
	e2e_result_free(&r);
	free(want2);
	free(want);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- refused or failed before anything is published ---- */

Test(interrupt, read_only_catalog_is_refused_before_reading)
{
	char *dir = e2e_tmpdir();
	char home[512];
	struct e2e_result r;

	make_catalog(dir, home, sizeof(home));
	const char *env[] = {home, NULL};
	char *db = e2e_join(dir, "home/catalog.db");
	e2e_put_str(dir, "raw/a.jsonl", "{\"k\":1}\n");
	write_catalog_flow(dir, "flow.yaml", 0);
	/* root writes a 0400 file: make it immutable instead */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd), "chattr +i '%s' 2>/dev/null", db);
	bool immutable = geteuid() == 0 && system(cmd) == 0;
	if (geteuid() == 0 && !immutable)
		cr_skip("root cannot make %s read-only here (chattr)", db);
	if (!immutable)
		cr_assert_eq(chmod(db, 0400), 0);
	run_in(&r, dir, env, NULL, NULL);
	if (immutable) {
		snprintf(cmd, sizeof(cmd), "chattr -i '%s'", db);
		cr_assert_eq(system(cmd), 0);
	}
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "cannot record the load history of stage "
				"'raw'") != NULL,
		  "%s", r.err);
	cr_assert(strstr(r.err, "is read-only") != NULL, "%s", r.err);
	cr_assert(strstr(r.err, "nothing was read") != NULL, "%s", r.err);
	e2e_result_free(&r);
	assert_unpublished(dir, "wh/ev0", "read-only catalog");
	/* writable again: the run loads it */
	chmod(db, 0600);
	run_in(&r, dir, env, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	const char *const outs[] = {"wh/ev0", NULL};
	assert_exactly_once(dir, outs, "{\"k\":1}\n", "loaded");
	free(db);
	e2e_rmrf(dir);
	free(dir);
}

/* Exit 4: the output is committed but the load history cannot be written
 * (another process takes the catalog while the run reads, and holds it
 * past spate's busy timeout of 10 s).  The message says what to do, and
 * doing it - the same flow again, once the catalog is free - writes
 * nothing and records the file, so that the run after it loads only a
 * new file. */
Test(interrupt, unrecorded_load_exits_4_and_the_rerun_records_it,
     .timeout = 180)
{
	char *dir = e2e_tmpdir();
	char home[512];
	struct e2e_text t = {0};

	make_catalog(dir, home, sizeof(home));
	const char *env[] = {home, NULL};
	for (int i = 0; i < 100000; i++)
		e2e_text_printf(&t, "{\"k\":%d}\n", i);
	char *in = e2e_write(dir, "raw/a.jsonl", t.p, t.len);
	write_catalog_flow(dir, "flow.yaml", 0);
	/* the holder takes the catalog once told to, says so, and keeps
	 * it for 13 s */
	char cmd[1024];
	snprintf(cmd, sizeof(cmd),
		 "/usr/bin/python3 -c 'import sqlite3,sys,time\n"
		 "c=sqlite3.connect(sys.argv[1],isolation_level=None)\n"
		 "sys.stdin.readline()\n"
		 "c.execute(\"BEGIN EXCLUSIVE\")\n"
		 "open(sys.argv[2],\"w\").close()\n"
		 "time.sleep(13)\n"
		 "c.execute(\"ROLLBACK\")' '%s/home/catalog.db' '%s/locked'",
		 dir, dir);
	FILE *holder = popen(cmd, "w");
	cr_assert_not_null(holder);
	const char *argv[] = {"run", "flow.yaml", "--quiet", NULL};
	char *out = e2e_join(dir, ".out"), *err = e2e_join(dir, ".err");
	char *locked = e2e_join(dir, "locked");
	pid_t pid = e2e_bg_start(dir, env, argv, out, err, NULL);
	/* the writer's staging appears once every stage has started (the
	 * load history read, the catalog checked) */
	char *staging = e2e_join(dir, "wh/.ev0.spate-staging-out");
	bool held = false;
	for (int i = 0; i < 200000 && !held; i++) {
		if (access(staging, F_OK))
			continue;
		/* stopped: the run cannot commit before the lock is taken */
		kill(pid, SIGSTOP);
		fputs("go\n", holder);
		fflush(holder);
		for (int w = 0; w < 1000 && access(locked, F_OK); w++)
			e2e_sleep_ms(10);
		kill(pid, SIGCONT);
		held = true;
	}
	int code = e2e_bg_wait(pid, LIMIT_S);
	cr_assert_eq(pclose(holder), 0);
	char *msg = e2e_read(err, NULL);
	cr_assert(held, "the run never had its staging\n%s", msg);
	cr_assert_eq(code, 4, "exit %d\n%s", code, msg);
	cr_assert(strstr(msg, "the output is committed, but its 1 loaded "
			      "file could not be recorded") != NULL,
		  "%s", msg);
	cr_assert(strstr(msg, "run the same flow again") != NULL, "%s", msg);
	free(msg);
	e2e_sort_lines(t.p, t.len);
	const char *const outs[] = {"wh/ev0", NULL};
	assert_exactly_once(dir, outs, t.p, "exit 4");
	/* the catalog is free: the rerun writes nothing and records */
	struct e2e_result r;
	run_in(&r, dir, env, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped") != NULL, "%s", r.err);
	e2e_result_free(&r);
	/* a new file: only it is loaded */
	e2e_put_str(dir, "raw/b.jsonl", "{\"k\":-1}\n");
	run_in(&r, dir, env, NULL, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	e2e_text_add(&t, "{\"k\":-1}\n", 9);
	e2e_sort_lines(t.p, t.len);
	assert_exactly_once(dir, outs, t.p, "after the new file");
	free(staging);
	free(locked);
	free(out);
	free(err);
	free(in);
	free(t.p);
	e2e_rmrf(dir);
	free(dir);
}

/* Whether pid has path open. */
static bool has_open(pid_t pid, const char *path)
{
	char fds[64], link[4096];
	snprintf(fds, sizeof(fds), "/proc/%d/fd", (int)pid);
	DIR *d = opendir(fds);
	bool found = false;
	struct dirent *e;

	while (d && !found && (e = readdir(d))) {
		char p[512];
		snprintf(p, sizeof(p), "%s/%s", fds, e->d_name);
		ssize_t n = readlink(p, link, sizeof(link) - 1);
		if (n > 0) {
			link[n] = 0;
			found = !strcmp(link, path);
		}
	}
	if (d)
		closedir(d);
	return found;
}

/* Runs dir/flow.yaml in the background with one worker and, the first
 * time the run has the file real open, stops it, calls act(arg) and lets
 * it go on.  Returns its exit status; *msg: what it wrote to stderr (to
 * free).  Fails the test when the run never had real open. */
static int run_acting_while_open(const char *dir, const char *real,
				 void (*act)(void *), void *arg, char **msg)
{
	const char *argv[] = {"run", "flow.yaml", "--quiet", "--workers", "1",
			      NULL};
	char *out = e2e_join(dir, ".out"), *err = e2e_join(dir, ".err");
	pid_t pid = e2e_bg_start(dir, NULL, argv, out, err, NULL);
	bool acted = false;

	for (int i = 0; i < 200000 && !acted; i++) {
		if (has_open(pid, real)) {
			/* stopped: the change lands while the file is open */
			kill(pid, SIGSTOP);
			act(arg);
			kill(pid, SIGCONT);
			acted = true;
		}
	}
	int code = e2e_bg_wait(pid, LIMIT_S);
	*msg = e2e_read(err, NULL);
	cr_assert(acted, "the reader never had %s open\n%s", real, *msg);
	free(out);
	free(err);
	return code;
}

/* run_acting_while_open, which must fail the run (exit 1) with want in
 * its message and publish nothing in dir/out (what: the case). */
static void expect_failed_unpublished(const char *dir, const char *real,
				      void (*act)(void *), void *arg,
				      const char *want, const char *what)
{
	char *msg;
	int code = run_acting_while_open(dir, real, act, arg, &msg);

	cr_assert_eq(code, 1, "[%s] exit %d\n%s", what, code, msg);
	cr_assert(strstr(msg, want) != NULL, "[%s] %s", what, msg);
	assert_unpublished(dir, "out", what);
	free(msg);
}

struct cut {
	const char *path;
	size_t len;
};

static void cut_file(void *arg)
{
	const struct cut *c = arg;

	cr_assert_eq(truncate(c->path, (off_t)c->len), 0);
}

/* Writes dir/name, 400,000 JSON lines (about 15 MB: long enough to be
 * read in many chunks); its real path, to free; *len its size. */
static char *long_input(const char *dir, const char *name, size_t *len)
{
	struct e2e_text t = {0};

	for (int i = 0; i < 400000; i++)
		e2e_text_printf(&t, "{\"k\":%d,\"v\":\"abcdefghijklmnop\"}\n",
				i);
	char *path = e2e_write(dir, name, t.p, t.len);
	char *real = realpath(path, NULL);
	cr_assert_not_null(real);
	*len = t.len;
	free(path);
	free(t.p);
	return real;
}

Test(interrupt, file_shrinking_while_read_fails_the_run)
{
	char *dir = e2e_tmpdir();
	size_t len;
	char *real = long_input(dir, "in/big.jsonl", &len);
	e2e_put_str(dir, "flow.yaml",
		    "name: shrink\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: in/big.jsonl, "
		    "chunk_size: 16K}\n"
		    "  - {id: out, type: file_writer, inputs: [src], dir: out}\n");
	struct cut c = {real, len / 2};
	char want[256];
	snprintf(want, sizeof(want),
		 "file in/big.jsonl shrank from %zu to %zu bytes while being "
		 "read",
		 len, len / 2);
	expect_failed_unpublished(dir, real, cut_file, &c, want,
				  "shrunk input");
	free(real);
	e2e_rmrf(dir);
	free(dir);
}

/* A byte near the end of the file changes and its mtime is set back, as
 * `cp -p` or `rsync --inplace -t` of another version would leave it. */
static void rewrite_keeping_mtime(void *arg)
{
	const struct cut *c = arg;
	struct stat st;

	cr_assert_eq(stat(c->path, &st), 0);
	int fd = open(c->path, O_WRONLY);
	cr_assert(fd >= 0);
	cr_assert_eq(pwrite(fd, "X", 1, (off_t)c->len - 5), 1);
	close(fd);
	struct timespec ts[2] = {st.st_atim, st.st_mtim};
	cr_assert_eq(utimensat(AT_FDCWD, c->path, ts, 0), 0);
}

/* An old file to a new target: the run id waits for the data, and the
 * read takes the content hash, so no hash before the run can show that
 * the file changed.  Its ctime does, which no one can set back. */
Test(interrupt, file_rewritten_in_place_with_its_mtime_set_back_fails_the_run)
{
	char *dir = e2e_tmpdir();
	size_t len;
	char *real = long_input(dir, "in/big.jsonl", &len);
	e2e_age(dir, "in/big.jsonl");
	e2e_put_str(dir, "flow.yaml",
		    "name: inplace\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: in/big.jsonl, "
		    "chunk_size: 16K}\n"
		    "  - {id: out, type: file_writer, inputs: [src], dir: out}\n");
	struct cut c = {real, len};
	expect_failed_unpublished(dir, real, rewrite_keeping_mtime, &c,
				  "file in/big.jsonl was modified while being "
				  "read (its ctime changed",
				  "a file rewritten in place");
	free(real);
	e2e_rmrf(dir);
	free(dir);
}

static void append_half_records(void *path)
{
	FILE *f = fopen(path, "a");

	cr_assert_not_null(f);
	fputs("{\"k\":1}\n{\"k\":2", f); /* a record and half of one */
	fclose(f);
}

/* A file that is empty when the run lists it and written before the
 * reader gets to it (a producer that creates, then writes) fails the run
 * instead of being read in part: empty by stat, it is read to its end
 * (for the files of /proc), so what tells is that it is no longer empty
 * at its end. */
Test(interrupt, empty_file_written_during_the_run_fails_it)
{
	char *dir = e2e_tmpdir();
	size_t len;
	char *real = long_input(dir, "in/a.jsonl", &len);
	char *late = e2e_write(dir, "in/b.jsonl", "", 0);
	e2e_put_str(dir, "flow.yaml",
		    "name: late\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: [in/a.jsonl, "
		    "in/b.jsonl], chunk_size: 16K}\n"
		    "  - {id: out, type: file_writer, inputs: [src], dir: out}\n");
	/* while it reads a.jsonl, the run has listed b.jsonl, empty */
	expect_failed_unpublished(dir, real, append_half_records, late,
				  "file in/b.jsonl grew from 0 to 14 bytes "
				  "while being read",
				  "a file written during the run");
	free(real);
	free(late);
	e2e_rmrf(dir);
	free(dir);
}
