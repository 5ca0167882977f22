/*
 * End-to-end tests of the engine through the spate binary: record error
 * handling (discard, to_error, stop), the accounting invariant, reruns
 * (exactly once), Ctrl-C drain and abort, and plugin stages.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/e2e.h"

#define LIMIT_S 30

/* dir holds no hidden entry (a staging directory); what says which. */
static void assert_no_staging(const char *dir, const char *what)
{
	cr_assert_eq(e2e_count_files(dir, NULL, true) -
			 e2e_count_files(dir, NULL, false),
		     0, "%s in %s", what, dir);
}

/* ---- on_record_error -------------------------------------------------- */

/* line 3 does not parse; line 4 does not convert */
static const char errors_flow[] =
    "name: errs\n"
    "%s"
    "stages:\n"
    "  - id: src\n"
    "    type: dev_raw_data\n"
    "    data: |\n"
    "      {\"a\":\"1\"}\n"
    "      {\"a\":\"2\"}\n"
    "      {\"a\": oops\n"
    "      {\"a\":\"x\",\"b\":true}\n"
    "      {\"a\":\"5\"}\n"
    "  - id: conv\n"
    "    type: field_type_converter\n"
    "    inputs: [src]\n"
    "    fields: {/a: int}\n"
    "%s"
    "  - {id: out, type: file_writer, inputs: [conv], dir: out, "
    "compression: none, ordered: true}\n"
    "%s";

static const char error_sink[] =
    "  - {id: bad, type: file_writer, dir: bad, compression: none, "
    "ordered: true}\n";

Test(engine, on_record_error_discard_is_default_without_error_stage)
{
	struct e2e_flow x = {0};

	e2e_flow_run_fmt(&x, e2e_sync_env, NULL, errors_flow, "", "", "");
	/* finished, but the two records are lost without the flow choosing
	 * it: exit 3, and the status counts them */
	cr_assert_eq(x.r.exit_code, 3, "exit %d: %s", x.r.exit_code, x.r.err);
	cr_assert_str_eq(x.st.status, "finished");
	cr_assert_eq(x.st.discarded, 2);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n{\"a\":2}\n{\"a\":5}\n");
	e2e_flow_assert_counts(&x, "src", 5, 4, 1, 0);
	e2e_flow_assert_counts(&x, "conv", 4, 3, 1, 0);
	e2e_flow_assert_counts(&x, "out", 3, 3, 0, 0);
	/* the first errors are logged with source, line and reason */
	cr_assert(strstr(x.r.err, "dev_raw_data:3") != NULL, "%s", x.r.err);
	cr_assert(strstr(x.r.err, "dev_raw_data:4") != NULL, "%s", x.r.err);
	cr_assert(strstr(x.r.err, "field /a: cannot convert \"x\" (string) to "
				  "int: not a number") != NULL,
		  "%s", x.r.err);
	e2e_flow_done(&x);
}

Test(engine, on_record_error_discard_explicit_with_error_stage)
{
	struct e2e_flow x = {0};

	e2e_flow_run_fmt(&x, e2e_sync_env, NULL, errors_flow,
			 "error_stage: bad\n", "    on_record_error: discard\n",
			 error_sink);
	cr_assert_eq(x.r.exit_code, 0, "%s", x.r.err);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n{\"a\":2}\n{\"a\":5}\n");
	/* src still sends its parse error there (default to_error), conv
	 * discards its own */
	e2e_flow_assert_out(
	    &x, "bad",
	    "{\"spate_error\":{\"stage\":\"src\",\"reason\":"
	    "\"expected a value at column 7\",\"source\":"
	    "\"dev_raw_data:3\",\"raw\":\"{\\\"a\\\": oops\"}}\n");
	e2e_flow_assert_counts(&x, "conv", 4, 3, 1, 0);
	e2e_flow_assert_counts(&x, "bad", 1, 1, 0, 0);
	e2e_flow_done(&x);
}

Test(engine, on_record_error_to_error)
{
	struct e2e_flow x = {0};

	e2e_flow_run_fmt(&x, e2e_sync_env, NULL, errors_flow,
			 "error_stage: bad\n", "", error_sink);
	e2e_flow_assert_finished(&x);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n{\"a\":2}\n{\"a\":5}\n");
	/* parse errors carry the raw text; processor errors the record */
	char *got = e2e_flow_out(&x, "bad");
	size_t len = strlen(got);
	e2e_sort_lines(got, len);
	cr_assert_str_eq(
	    got,
	    "{\"a\":\"x\",\"b\":true,\"spate_error\":{\"stage\":\"conv\","
	    "\"reason\":\"field /a: cannot convert \\\"x\\\" (string) to "
	    "int: not a number\",\"source\":\"dev_raw_data:4\"}}\n"
	    "{\"spate_error\":{\"stage\":\"src\",\"reason\":"
	    "\"expected a value at column 7\",\"source\":"
	    "\"dev_raw_data:3\",\"raw\":\"{\\\"a\\\": oops\"}}\n",
	    "%s", got);
	free(got);
	e2e_flow_assert_counts(&x, "src", 5, 4, 1, 0);
	e2e_flow_assert_counts(&x, "conv", 4, 3, 1, 0);
	e2e_flow_assert_counts(&x, "bad", 2, 2, 0, 0);
	e2e_flow_done(&x);
}

Test(engine, on_record_error_stop_fails_and_commits_nothing)
{
	struct e2e_flow x = {0};

	e2e_flow_run_fmt(&x, e2e_sync_env, NULL, errors_flow,
			 "error_stage: bad\n", "    on_record_error: stop\n",
			 error_sink);
	cr_assert_eq(x.r.exit_code, 1, "%s", x.r.err);
	cr_assert_str_eq(x.st.status, "failed");
	cr_assert(strstr(x.st.error, "stage 'conv' stopped the run "
				     "(on_record_error: stop): "
				     "dev_raw_data:4") != NULL,
		  "%s", x.st.error);
	cr_assert(strstr(x.st.error, "field /a: cannot convert \"x\" (string) "
				     "to int: not a number") != NULL,
		  "%s", x.st.error);
	cr_assert(strstr(x.r.err, "spate: run failed: stage 'conv' stopped "
				  "the run") != NULL,
		  "%s", x.r.err);
	/* nothing visible in either output directory */
	char *out = e2e_join(x.dir, "out"), *bad = e2e_join(x.dir, "bad");
	cr_assert_leq(e2e_count_files(out, NULL, true), 0,
		      "files left in out/");
	cr_assert_leq(e2e_count_files(bad, NULL, true), 0,
		      "files left in bad/");
	/* and no staging directory beside them */
	assert_no_staging(x.dir, "hidden staging left");
	free(out);
	free(bad);
	e2e_flow_done(&x);
}

/* ---- reruns ----------------------------------------------------------- */

Test(engine, rerun_is_skipped_and_force_replaces)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: once\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 20, "
	    "fields: [{name: id, type: sequence, min: 1}]}\n"
	    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
	    "compression: none, ordered: true}\n";
	const char *force[] = {"--force", NULL};

	e2e_flow_run(&x, yaml, NULL, e2e_sync_env, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 0, "%s", x.r.err);
	char *out = e2e_join(x.dir, "out");
	char *first = e2e_read_dir(out, NULL, NULL);
	cr_assert_eq(e2e_count_lines(first, strlen(first)), 20);

	e2e_flow_run(&x, yaml, NULL, e2e_sync_env, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 0, "%s", x.r.err);
	cr_assert_str_eq(x.st.status, "skipped");
	cr_assert(strstr(x.r.err, "already holds the committed output") != NULL,
		  "%s", x.r.err);

	e2e_flow_run(&x, yaml, force, e2e_sync_env, NULL, NULL);
	e2e_flow_assert_finished(&x);
	char *again = e2e_read_dir(out, NULL, NULL);
	cr_assert_str_eq(first, again);
	cr_assert_eq(e2e_count_files(out, NULL, false), 2); /* + manifest */
	free(first);
	free(again);
	free(out);
	e2e_flow_done(&x);
}

/* ---- Ctrl-C ----------------------------------------------------------- */

static const char endless_flow[] =
    "name: endless\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "    records: 1000000000000\n"
    "    batch_size: 256\n"
    "    fields: [{name: id, type: sequence, min: 1}]\n"
    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
    "compression: none, ordered: true, fsync: false}\n";

struct bg {
	char *dir, *out, *err;
	pid_t pid;
	int code;
	bool waited;
	struct e2e_status st;
	char *stdout_text, *stderr_text;
};

static void bg_start(struct bg *b, const char *yaml, const char *const *env,
		     int *stdin_fd)
{
	static const char *const argv[] = {"run", "flow.yaml", "--json", NULL};

	memset(b, 0, sizeof(*b));
	b->dir = e2e_tmpdir();
	free(e2e_write(b->dir, "flow.yaml", yaml, strlen(yaml)));
	b->out = e2e_join(b->dir, "stdout.txt");
	b->err = e2e_join(b->dir, "stderr.txt");
	b->pid = e2e_bg_start(b->dir, env, argv, b->out, b->err, stdin_fd);
}

static void bg_finish(struct bg *b)
{
	if (!b->waited)
		b->code = e2e_bg_wait(b->pid, LIMIT_S);
	b->waited = true;
	b->stdout_text = e2e_read(b->out, NULL);
	b->stderr_text = e2e_read(b->err, NULL);
	cr_assert_not_null(b->stdout_text);
	cr_assert_not_null(b->stderr_text);
	unlink(b->out);
	unlink(b->err);
}

static void bg_done(struct bg *b)
{
	free(b->stdout_text);
	free(b->stderr_text);
	e2e_rmrf(b->dir);
	free(b->dir);
	free(b->out);
	free(b->err);
}

/* A batch run (finite input, however large) interrupted by SIGINT rolls
 * back: exit 130, status "stopped", nothing published, no staging left. */
static void rollback_once(const char *const *env)
{
	struct bg b;

	bg_start(&b, endless_flow, env, NULL);
	e2e_sleep_ms(500);
	kill(b.pid, SIGINT);
	bg_finish(&b);
	cr_assert_eq(b.code, 130, "exit %d\n%s", b.code, b.stderr_text);
	cr_assert(strstr(b.stderr_text, "interrupted by Interrupt: rolled "
					"back, nothing was published") != NULL,
		  "%s", b.stderr_text);
	cr_assert_eq(e2e_status_parse(b.stdout_text, &b.st), 0, "%s",
		     b.stdout_text);
	cr_assert_str_eq(b.st.status, "stopped");
	const struct e2e_stage_status *w = e2e_status_stage(&b.st, "out");
	cr_assert(w && w->records_in > 0, "the writer took no record");
	char *out = e2e_join(b.dir, "out");
	cr_assert_eq(e2e_count_files(out, NULL, true), 0,
		     "files published by an interrupted run");
	assert_no_staging(b.dir, "staging left behind");
	free(out);
	bg_done(&b);
}

Test(engine, sigint_rolls_back_a_batch_run_sync)
{
	rollback_once(e2e_sync_env);
}

Test(engine, sigint_rolls_back_a_batch_run_uring)
{
	rollback_once(NULL);
}

/* zstd level 19 on long text: draining takes long enough for the second
 * Ctrl-C to find the run still going */
static const char slow_flow[] =
    "name: slow\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "    records: 1000000000000\n"
    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
    "level: 19, ordered: true}\n";

static void abort_twice(const char *const *env)
{
	struct bg b;

	bg_start(&b, slow_flow, env, NULL);
	e2e_sleep_ms(500);
	kill(b.pid, SIGINT);
	e2e_sleep_ms(20);
	kill(b.pid, SIGINT);
	bg_finish(&b);
	cr_assert_eq(b.code, 130, "exit %d\n%s", b.code, b.stderr_text);
	cr_assert(strstr(b.stderr_text, "rolling back") != NULL, "%s",
		  b.stderr_text);
	char *out = e2e_join(b.dir, "out");
	int files = e2e_count_files(out, NULL, true);
	cr_assert_leq(files, 0, "%d files committed after an abort", files);
	free(out);
	/* the next run cleans up whatever staging is left */
	static const char small[] =
	    "name: slow\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 3, "
	    "fields: [{name: id, type: sequence, min: 1}]}\n"
	    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
	    "compression: none}\n";
	static const char *const argv[] = {"run", "flow.yaml", "--json", NULL};
	struct e2e_result r;
	free(e2e_write(b.dir, "flow.yaml", small, sizeof(small) - 1));
	e2e_run_timed(&r, b.dir, env, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	char *text = e2e_read_out(b.dir, "out", NULL);
	cr_assert_str_eq(text, "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n");
	free(text);
	assert_no_staging(b.dir, "staging left behind after the next run");
	e2e_result_free(&r);
	bg_done(&b);
}

Test(engine, sigint_twice_aborts_and_commits_nothing_sync)
{
	abort_twice(e2e_sync_env);
}

Test(engine, sigint_twice_aborts_and_commits_nothing_uring)
{
	abort_twice(NULL);
}

/* Interrupts a stdin run that the producer keeps open after writing
 * lines; the run must end, with exactly want in its output. */
static void stdin_sigint_case(const char *lines, size_t len, const char *want,
			      const char *warning)
{
	static const char yaml[] =
	    "name: pipe\n"
	    "stages:\n"
	    "  - {id: src, type: stdin}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "compression: none, ordered: true}\n";
	struct bg b;
	int fd;

	bg_start(&b, yaml, e2e_sync_env, &fd);
	cr_assert_eq(write(fd, lines, len), (ssize_t)len);
	e2e_sleep_ms(300);
	kill(b.pid, SIGINT);
	/* stdin stays open: the drain must not wait for its end */
	b.code = e2e_bg_wait(b.pid, 10);
	b.waited = true;
	close(fd);
	bg_finish(&b);
	/* a stream drains: interrupted (130), what was read committed */
	cr_assert_eq(b.code, 130,
		     "exit %d (137: still running 10 s after "
		     "SIGINT)\n%s",
		     b.code, b.stderr_text);
	cr_assert(strstr(b.stderr_text, "drained, the records read before it "
					"are committed"),
		  "%s", b.stderr_text);
	cr_assert_eq(e2e_status_parse(b.stdout_text, &b.st), 0, "%s",
		     b.stdout_text);
	cr_assert_str_eq(b.st.status, "stopped");
	char *text = e2e_read_out(b.dir, "out", NULL);
	cr_assert_str_eq(text, want);
	free(text);
	if (warning)
		cr_assert(strstr(b.stderr_text, warning), "%s",
			  b.stderr_text);
	bg_done(&b);
}

/* a line the producer had not finished when the run stopped is not a
 * record: it is reported, never published cut short */
Test(engine, sigint_does_not_publish_half_a_stdin_line)
{
	static const char lines[] = "{\"a\":1}\n{\"a\":2";
	stdin_sigint_case(lines, sizeof(lines) - 1, "{\"a\":1}\n",
			  "line 2 was being written: its 6 bytes are not read");
}

Test(engine, sigint_stops_a_stdin_origin_that_is_still_open)
{
	static const char lines[] = "{\"a\":1}\n{\"a\":2}\n";
	stdin_sigint_case(lines, sizeof(lines) - 1, lines, NULL);
}

/* ---- plugins ---------------------------------------------------------- */

Test(engine, plugin_stage_loads_and_runs)
{
	const char *build = getenv("SPATE_BUILD_DIR");
	struct e2e_flow x = {0};
	char *so;

	if (!build)
		build = ".";
	so = realpath(build, NULL);
	cr_assert_not_null(so, "SPATE_BUILD_DIR %s", build);
	char *lib = e2e_join(so, "uppercase.so");
	cr_assert_eq(access(lib, R_OK), 0, "%s missing", lib);
	e2e_flow_run_fmt(
	    &x, e2e_sync_env, NULL,
	    "name: plug\n"
	    "plugins: [%s]\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      {\"c\":\"fr\",\"d\":\"keep me\",\"n\":1}\n"
	    "      {\"c\":\"Gb-x\",\"n\":2}\n"
	    "  - {id: up, type: uppercase, inputs: [src], "
	    "fields: [/c]}\n"
	    "  - {id: out, type: file_writer, inputs: [up], dir: out, "
	    "compression: none, ordered: true}\n",
	    lib);
	cr_assert_eq(x.r.exit_code, 0, "%s", x.r.err);
	e2e_flow_assert_out(&x, "out",
			    "{\"c\":\"FR\",\"d\":\"keep me\",\"n\":1}\n"
			    "{\"c\":\"GB-X\",\"n\":2}\n");
	cr_assert_str_eq(e2e_flow_stage(&x, "up")->type, "uppercase");
	e2e_flow_assert_counts(&x, "up", 2, 2, 0, 0);
	free(lib);
	free(so);
	e2e_flow_done(&x);
}

/* A stage that may read the run id when it starts is given it there, also
 * when the file destination alone would let the engine take it after the
 * data: a plugin built for stage ABI 3, and an ABI 4 destination without
 * run_id_at_start.  Each fails the run if the id is empty at start.  The
 * input is old, so that only these stages keep the id from waiting. */
static void run_id_at_start_case(const char *lib, const char *probe,
				 const char *stages)
{
	static const char *const extra[] = {"--log-level", "info", NULL};
	static const char in[] = "{\"a\":1,\"s\":\"x\"}\n{\"a\":2}\n"
				 "{\"a\":3,\"s\":null}\n";
	struct e2e_flow x = {0};
	char *yaml;
	char want[160];

	x.dir = e2e_tmpdir();
	e2e_put_str(x.dir, "in.jsonl", in);
	e2e_age(x.dir, "in.jsonl");
	cr_assert(asprintf(&yaml,
			   "name: probe\n"
			   "plugins: [%s]\n"
			   "stages:\n"
			   "  - {id: src, type: file_reader, path: in.jsonl}\n"
			   "%s",
			   lib, stages) > 0);
	e2e_flow_run(&x, yaml, extra, e2e_sync_env, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 0, "[%s] exit %d:\n%s",
		     probe ? probe : "trash", x.r.exit_code, x.r.err);
	if (!probe) {
		/* trash keeps nothing: the id waits for the data */
		cr_expect(!strstr(x.r.err, "hashed before the run"),
			  "[trash] the input was hashed first:\n%s", x.r.err);
	} else {
		cr_expect(strstr(x.r.err, "run_id_probe saw run id "),
			  "[%s] the probe did not log its id:\n%s", probe,
			  x.r.err);
		snprintf(want, sizeof(want),
			 "the input is hashed before the run: stage 'p' (%s)",
			 probe);
		cr_expect(strstr(x.r.err, want), "[%s] the log does not say "
			  "why the input was hashed first:\n%s", probe,
			  x.r.err);
	}
	e2e_flow_assert_out(&x, "out", in);
	e2e_flow_assert_counts(&x, "out", 3, 3, 0, 0);
	free(yaml);
	e2e_flow_done(&x);
}

Test(engine, stages_that_read_the_run_id_at_start_are_given_it)
{
	const char *build = getenv("SPATE_BUILD_DIR");
	char *so = realpath(build ? build : ".", NULL);

	cr_assert_not_null(so, "SPATE_BUILD_DIR %s", build);
	char *lib = e2e_join(so, "run_id_probe.so");
	cr_assert_eq(access(lib, R_OK), 0, "%s missing", lib);
	run_id_at_start_case(lib, "run_id_probe_v3",
			     "  - {id: p, type: run_id_probe_v3, "
			     "inputs: [src]}\n"
			     "  - {id: out, type: file_writer, inputs: [p], "
			     "dir: out, compression: none, ordered: true}\n");
	run_id_at_start_case(lib, "run_id_probe_dest",
			     "  - {id: p, type: run_id_probe_dest, "
			     "inputs: [src]}\n"
			     "  - {id: out, type: file_writer, inputs: [src], "
			     "dir: out, compression: none, ordered: true}\n");
	run_id_at_start_case(lib, NULL,
			     "  - {id: p, type: trash, inputs: [src]}\n"
			     "  - {id: out, type: file_writer, inputs: [src], "
			     "dir: out, compression: none, ordered: true}\n");
	free(lib);
	free(so);
}

Test(engine, plugin_missing_is_a_flow_error)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: plug\n"
	    "plugins: [nowhere/missing.so]\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{}'}\n"
	    "  - {id: t, type: trash, inputs: [src]}\n";
	static const char *const argv[] = {"validate", "flow.yaml", NULL};

	x.dir = e2e_tmpdir();
	free(e2e_write(x.dir, "flow.yaml", yaml, sizeof(yaml) - 1));
	e2e_run_timed(&x.r, x.dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(x.r.exit_code, 2, "%s", x.r.err);
	cr_assert(strstr(x.r.err, "cannot load plugin ./nowhere/missing.so") !=
		      NULL,
		  "%s", x.r.err);
	e2e_flow_done(&x);
}
