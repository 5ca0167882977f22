/*
 * End-to-end tests of spate as a process: closed standard descriptors
 * are opened on /dev/null (a flow reading a closed stdin ends with no
 * records instead of reading spate's own descriptors), and signals always
 * end the process, even when a stage does not stop.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

/* Runs `spate run flow.yaml --json` in dir with fd 0 closed, stdout to
 * dir/out and stderr to dir/err.  Returns the exit code (128 + signal
 * when killed after limit_s). */
static int run_without_stdin(const char *dir, int limit_s)
{
	char *out = e2e_join(dir, "out"), *err = e2e_join(dir, "err");
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		int o = open(out, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		int e = open(err, O_WRONLY | O_CREAT | O_TRUNC, 0644);
		if (o < 0 || e < 0 || dup2(o, 1) < 0 || dup2(e, 2) < 0 ||
		    chdir(dir))
			_exit(126);
		close(o);
		close(e);
		close(0);
		execl(e2e_spate(), e2e_spate(), "run", "flow.yaml", "--json",
		      (char *)NULL);
		_exit(127);
	}
	free(out);
	free(err);
	return e2e_bg_wait(pid, limit_s);
}

Test(process, closed_stdin_reads_as_empty)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "flow.yaml",
		    "name: nostdin\n"
		    "stages:\n"
		    "  - {id: in, type: stdin}\n"
		    "  - {id: out, type: file_writer, inputs: [in], dir: o, "
		    "compression: none}\n");
	int code = run_without_stdin(dir, 20);
	char *path = e2e_join(dir, "err");
	char *err = e2e_read(path, NULL);
	free(path);
	path = e2e_join(dir, "out");
	char *out = e2e_read(path, NULL);
	free(path);
	cr_assert_eq(code, 0, "exit %d, stderr:\n%s", code, err);
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(out, &st), 0, "%s", out);
	cr_assert_str_eq(st.status, "finished");
	const struct e2e_stage_status *in = e2e_status_stage(&st, "in");
	cr_assert(in);
	cr_assert_eq(in->out[0], 0);
	free(err);
	free(out);
	e2e_rmrf(dir);
	free(dir);
}

static double now_s(void)
{
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return (double)t.tv_sec + (double)t.tv_nsec / 1e9;
}

/* An executor command that outlives the abort: the third signal ends the
 * process at once with 128 + the signal. */
Test(process, third_signal_ends_a_run_that_does_not_stop)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "flow.yaml",
		    "name: stuck\n"
		    "stages:\n"
		    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
		    "  - {id: t, type: trash, inputs: [src]}\n"
		    "  - {id: sh, type: shell, event_inputs: [src], "
		    "command: 'sleep 30', timeout: 60}\n");
	char *out = e2e_join(dir, "out"), *errp = e2e_join(dir, "err");
	const char *argv[] = {"run", "flow.yaml", NULL};
	pid_t pid = e2e_bg_start(dir, NULL, argv, out, errp, NULL);
	e2e_sleep_ms(1000); /* the command is running */
	double t0 = now_s();
	for (int i = 0; i < 3; i++) {
		kill(pid, SIGTERM);
		e2e_sleep_ms(200);
	}
	int code = e2e_bg_wait(pid, 20);
	double took = now_s() - t0;
	char *err = e2e_read(errp, NULL);
	cr_assert_eq(code, 128 + SIGTERM, "exit %d, stderr:\n%s", code, err);
	cr_assert_lt(took, 5.0, "took %.1f s", took);
	cr_assert(strstr(err, "spate: the run did not end after the abort; "
			      "exiting (the next run cleans up)"),
		  "%s", err);
	free(err);
	free(out);
	free(errp);
	e2e_rmrf(dir);
	free(dir);
}
