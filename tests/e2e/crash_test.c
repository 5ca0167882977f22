/*
 * Crash tests of the atomic commit: spate is killed with SIGKILL at
 * several points of a run (while reading and writing, and while it
 * publishes its files), and the target directory must never show partial
 * output: either nothing, or a complete manifest whose files all exist
 * with the listed sizes.  A rerun without the kill must then complete with
 * every record, and no hidden staging directory may stay beside the
 * target.  Runs on the plain-syscall path (SPATE_IO=sync) and the default
 * one.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

/* About 3 MB of JSON lines. */
static void gen_input(struct e2e_text *t)
{
	uint64_t seed = 99;

	for (int i = 0; i < 30000; i++) {
		e2e_text_printf(t, "{\"id\":%d,\"v\":%llu,\"s\":\"", i,
				(unsigned long long)e2e_lcg(&seed));
		size_t n = e2e_lcg(&seed) % 150;
		for (size_t k = 0; k < n; k++)
			e2e_text_add(t, &"spatecrash"[e2e_lcg(&seed) % 10], 1);
		e2e_text_add(t, "\"}\n", 3);
	}
}

/* Starts spate run FLOW in cwd with env added, under the command pre
 * (its arguments up to a NULL; none: NULL) when there is one; stdout
 * and stderr go to cwd/spate.log.  Returns the pid. */
static pid_t spawn_run_under(const char *cwd, const char *const *env,
			     const char *const *pre, const char *flow)
{
	pid_t pid = fork();

	cr_assert(pid >= 0);
	if (pid == 0) {
		if (chdir(cwd))
			_exit(126);
		int fd = open("spate.log", O_WRONLY | O_CREAT | O_APPEND, 0644);
		if (fd >= 0) {
			dup2(fd, 1);
			dup2(fd, 2);
			close(fd);
		}
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		alarm(E2E_RUN_LIMIT_S); /* kept across exec: a hung run ends */
		const char *argv[24];
		size_t n = 0;
		for (; pre && pre[n] && n < 19; n++)
			argv[n] = pre[n];
		argv[n++] = e2e_spate();
		argv[n++] = "run";
		argv[n++] = flow;
		argv[n++] = "--quiet";
		argv[n] = NULL;
		execv(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

static pid_t spawn_run(const char *cwd, const char *const *env,
		       const char *flow)
{
	return spawn_run_under(cwd, env, NULL, flow);
}

/* Kills pid after ms milliseconds (unless it ended); returns its status. */
static int kill_after(pid_t pid, int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};
	int st;

	nanosleep(&ts, NULL);
	kill(pid, SIGKILL);
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	return st;
}

/* ---- what a reader of the target may see --------------------------------- */

/* Nothing visible, or a manifest whose files all exist with their listed
 * sizes and nothing else.  Returns the files listed (0: nothing). */
static int check_visible(const char *target, const char *what, const char *io)
{
	DIR *d = opendir(target);
	char *names[1024];
	int n = 0;

	if (!d)
		return 0; /* not even created */
	for (struct dirent *e; (e = readdir(d)) && n < 1024;)
		if (e->d_name[0] != '.')
			names[n++] = strdup(e->d_name);
	closedir(d);

	char *mp = e2e_join(target, "_manifest.json");
	char *m = e2e_read(mp, NULL);
	free(mp);
	if (!m) {
		cr_expect_eq(n, 0,
			     "[%s] %s: %d entries visible without a manifest, "
			     "e.g. %s",
			     io, what, n, n ? names[0] : "");
		for (int i = 0; i < n; i++)
			free(names[i]);
		return 0;
	}
	int listed = 0;
	const char *p = e2e_after_key(m, "files");
	cr_assert(p && *p == '[', "[%s] %s: bad manifest %s", io, what, m);
	while ((p = strchr(p, '{'))) {
		const char *end = strchr(p, '}');
		cr_assert(end, "[%s] %s: bad manifest %s", io, what, m);
		char *obj = strndup(p, (size_t)(end - p + 1));
		const char *q = e2e_after_key(obj, "name");
		cr_assert(q && *q == '"', "[%s] %s", io, m);
		char name[256];
		size_t k = 0;
		for (q++; *q && *q != '"' && k + 1 < sizeof(name); q++)
			name[k++] = *q;
		name[k] = '\0';
		q = e2e_after_key(obj, "bytes");
		cr_assert(q, "[%s] %s", io, m);
		unsigned long long bytes = strtoull(q, NULL, 10);
		char *fp = e2e_join(target, name);
		struct stat st = {0};
		cr_expect(
		    stat(fp, &st) == 0 &&
			(unsigned long long)st.st_size == bytes,
		    "[%s] %s: %s listed with %llu bytes, on disk: %s %lld", io,
		    what, name, bytes, stat(fp, &st) ? strerror(errno) : "size",
		    (long long)st.st_size);
		for (int i = 0; i < n; i++)
			if (names[i] && !strcmp(names[i], name)) {
				free(names[i]);
				names[i] = NULL;
			}
		free(fp);
		free(obj);
		listed++;
		p = end + 1;
	}
	for (int i = 0; i < n; i++) {
		if (names[i] && strcmp(names[i], "_manifest.json"))
			cr_expect_fail("[%s] %s: %s is visible but not in the "
				       "manifest",
				       io, what, names[i]);
		free(names[i]);
	}
	free(m);
	return listed ? listed : 1;
}

static void assert_no_hidden(const char *dir, const char *io)
{
	DIR *d = opendir(dir);

	cr_assert(d);
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' && strcmp(e->d_name, ".") &&
		    strcmp(e->d_name, ".."))
			cr_expect_fail("[%s] %s left in %s", io, e->d_name,
				       dir);
	}
	closedir(d);
}

static void assert_complete(const char *dir, const char *target,
			    const struct e2e_text *in, const char *io)
{
	size_t len;
	char *got = e2e_read_dir(target, NULL, &len);

	cr_expect(len == in->len && !memcmp(got, in->p, len),
		  "[%s] output after the rerun: %zu bytes (%zu lines), "
		  "expected %zu bytes (%zu lines)",
		  io, len, e2e_count_lines(got, len), in->len,
		  e2e_count_lines(in->p, in->len));
	free(got);
	assert_no_hidden(dir, io);
}

/* A fresh test folder holding in.jsonl (in) and flow.yaml (flow). */
static char *case_dir(const struct e2e_text *in, const char *flow)
{
	char *dir = e2e_tmpdir();

	e2e_put(dir, "in.jsonl", in->p, in->len);
	/* not being written: a run into a new target hashes it as it reads
	 * it, and takes the run id after the data */
	e2e_age(dir, "in.jsonl");
	e2e_put_str(dir, "flow.yaml", flow);
	return dir;
}

/* After what (a kill), flow.yaml run again in dir must complete: target
 * shows a manifest and every record of in, no staging is left. */
static void rerun_completes(const char *dir, const char *target,
			    const char *const *env, const struct e2e_text *in,
			    const char *what, const char *io)
{
	struct e2e_result r;

	e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s] rerun after %s: exit %d:\n%s", io,
		     what, r.exit_code, r.err);
	e2e_result_free(&r);
	cr_expect_gt(check_visible(target, "after the rerun", io), 0,
		     "[%s] no output after the rerun", io);
	assert_complete(dir, target, in, io);
}

static const char flow_run[] =
    "name: crash\n"
    "stages:\n"
    "  - {id: src, type: file_reader, path: in.jsonl, chunk_size: 4096}\n"
    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
    "ordered: true, max_file_records: 2000}\n";

/* Killed while reading, writing or publishing: never partial output; the
 * next run cleans up and completes.  Two kills in a row, then a rerun. */
E2E_BOTH_IO(crash, kill9_during_run)
{
	static const int delays[] = {10, 50, 150, 400};
	struct e2e_text in = {0};

	gen_input(&in);
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		char *dir = case_dir(&in, flow_run);
		char what[64];
		char *target = e2e_join(dir, "out");

		snprintf(what, sizeof(what), "kill after %d ms", delays[i]);
		kill_after(spawn_run(dir, env, "flow.yaml"), delays[i]);
		check_visible(target, what, io);
		/* killed again, at another point, over what the first left */
		snprintf(what, sizeof(what), "second kill after %d ms",
			 delays[i] / 2 + 30);
		kill_after(spawn_run(dir, env, "flow.yaml"),
			   delays[i] / 2 + 30);
		check_visible(target, what, io);

		rerun_completes(dir, target, env, &in, what, io);
		free(target);
		e2e_rmrf(dir);
		free(dir);
	}
	free(in.p);
}

/* Killed the moment its first file appears in the target, i.e. while it
 * publishes (commit: run renames many files, then writes the manifest). */
E2E_BOTH_IO(crash, kill9_while_publishing)
{
	struct e2e_text in = {0};
	static const char flow[] =
	    "name: publish\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 150}\n";

	gen_input(&in);
	char *dir = case_dir(&in, flow);
	char *target = e2e_join(dir, "out");
	cr_assert_eq(mkdir(target, 0755), 0);

	int fd = inotify_init1(IN_CLOEXEC);
	cr_assert(fd >= 0);
	cr_assert(inotify_add_watch(fd, target, IN_MOVED_TO | IN_CREATE) >= 0);
	/* publication may swap a whole new version of out/ into place */
	cr_assert(inotify_add_watch(fd, dir, IN_MOVED_TO) >= 0);
	pid_t pid = spawn_run(dir, env, "flow.yaml");
	bool seen = false;
	while (!seen) {
		struct pollfd p = {fd, POLLIN, 0};
		int k = poll(&p, 1, 100);
		if (k == 0) {
			int st;
			if (waitpid(pid, &st, WNOHANG) == pid) {
				pid = -1; /* ended without publishing */
				break;
			}
			continue;
		}
		char buf[4096] __attribute__((aligned(8)));
		ssize_t n = read(fd, buf, sizeof(buf));
		for (char *q = buf; n > 0 && q < buf + n;) {
			struct inotify_event *e = (void *)q;
			if (e->len && e->name[0] != '.' &&
			    strcmp(e->name, "in.jsonl") != 0)
				seen = true;
			q += sizeof(*e) + e->len;
		}
	}
	if (pid > 0) {
		kill(pid, SIGKILL);
		waitpid(pid, NULL, 0);
	}
	close(fd);
	cr_assert(seen, "[%s] the run published nothing", io);
	check_visible(target, "kill while publishing", io);

	rerun_completes(dir, target, env, &in, "a kill while publishing", io);
	free(target);
	e2e_rmrf(dir);
	free(dir);
	free(in.p);
}

/* commit: file publishes files as they close, so a killed run may leave
 * some; the rerun of the same flow over the same input still completes
 * with every record exactly once. */
E2E_BOTH_IO(crash, kill9_commit_file_rerun)
{
	static const int delays[] = {40, 150};
	struct e2e_text in = {0};
	static const char flow[] =
	    "name: perfile\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 2000, commit: file}\n";

	gen_input(&in);
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		char *dir = case_dir(&in, flow);
		char *target = e2e_join(dir, "out");

		kill_after(spawn_run(dir, env, "flow.yaml"), delays[i]);
		rerun_completes(dir, target, env, &in,
				"a killed commit: file run", io);
		free(target);
		e2e_rmrf(dir);
		free(dir);
	}
	free(in.p);
}

/* The run id in the commit record dir/name, or in dir/name's manifest
 * (a directory), into run; false when there is none. */
static bool run_of(const char *dir, const char *name, char *run, size_t len)
{
	char *p = e2e_join(dir, name), *m = e2e_join(p, "_manifest.json");
	char *text = e2e_read(m, NULL);
	const char *v = NULL;

	if (!text)
		text = e2e_read(p, NULL);
	if (text && (v = e2e_after_key(text, "run_id")) && *v == '"')
		v++;
	else if (text && (v = strstr(text, "\nrun ")))
		v += 5;
	else
		v = NULL;
	if (v)
		snprintf(run, len, "%.*s", (int)strcspn(v, "\"\n"), v);
	free(text);
	free(m);
	free(p);
	return v != NULL;
}

/* A first run into a new target, over old input (its run id is taken
 * after the data), killed once it has written its commit record: strace
 * injects SIGKILL into its first call of syscall on path, the exchange
 * of its staged version with the target (nothing published yet) or the
 * removal of the record after the exchange (published, the record
 * left).  The record is history: the rerun hashes the input before the
 * run, must come to the run id of the record, complete the publication
 * (or find it done) and be skipped; then the target holds every record
 * once and nothing is left beside it. */
E2E_BOTH_IO(crash, kill9_after_the_commit_record_of_a_new_target)
{
	static const struct {
		const char *syscall, *path;
		bool published;
	} points[] = {
	    {"renameat2", ".out.spate-staging-out", false},
	    {"unlinkat", ".out.spate-commit-out", true},
	};
	struct e2e_text in = {0};

	if (access("/usr/bin/strace", X_OK) != 0)
		cr_skip("strace is not installed (scripts/deps installs it)");
	gen_input(&in);
	for (size_t i = 0; i < sizeof(points) / sizeof(points[0]); i++) {
		char *dir = case_dir(&in, flow_run);
		char *target = e2e_join(dir, "out");
		char inject[128], what[160], rec[32], run[32];
		snprintf(inject, sizeof(inject), "inject=%s:signal=KILL:when=1",
			 points[i].syscall);
		snprintf(what, sizeof(what), "a kill at the first %s of %s",
			 points[i].syscall, points[i].path);
		const char *const pre[] = {"/usr/bin/strace",
					   "-f",
					   "-o",
					   "/dev/null",
					   "-P",
					   points[i].path,
					   "-e",
					   "trace=renameat2,unlinkat",
					   "-e",
					   inject,
					   NULL};
		int st, w = e2e_opens_watch(dir);
		pid_t pid = spawn_run_under(dir, env, pre, "flow.yaml");
		cr_assert_eq(waitpid(pid, &st, 0), pid);
		/* read once: the run id taken after the data */
		cr_expect_eq(e2e_opens_count(w, "in.jsonl"), 1,
			     "[%s] the input was hashed before the run", io);
		char *log = e2e_join(dir, "spate.log");
		char *said = e2e_read(log, NULL);
		/* strace ends as its tracee did */
		cr_assert(WIFSIGNALED(st) && WTERMSIG(st) == SIGKILL,
			  "[%s] %s did not happen: status %d\n%s", io, what, st,
			  said);
		free(said);
		free(log);

		/* the record is there, of the run that staged or published */
		cr_assert(
		    run_of(dir, ".out.spate-commit-out", rec, sizeof(rec)),
		    "[%s] %s: no commit record", io, what);
		cr_expect_eq(strlen(rec), 16, "[%s] %s: run \"%s\"", io, what,
			     rec);
		cr_assert_eq(run_of(dir,
				    points[i].published
					? "out"
					: ".out.spate-staging-out",
				    run, sizeof(run)),
			     true, "[%s] %s: no manifest", io, what);
		cr_expect_str_eq(run, rec, "[%s] %s", io, what);
		cr_expect_eq(check_visible(target, what, io) > 0,
			     points[i].published, "[%s] %s: published %d", io,
			     what, !points[i].published);

		struct e2e_result r;
		e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info",
			     NULL);
		cr_expect_eq(r.exit_code, 0,
			     "[%s] rerun after %s: exit %d:\n%s", io, what,
			     r.exit_code, r.err);
		cr_expect(strstr(r.err, E2E_HASHED_BEFORE_OUT) &&
			      strstr(r.err, "skipped"),
			  "[%s] rerun after %s says:\n%s", io, what, r.err);
		char published[64];
		snprintf(published, sizeof(published), "published run %s", rec);
		cr_expect_eq(strstr(r.err, published) != NULL,
			     !points[i].published,
			     "[%s] rerun after %s says:\n%s", io, what, r.err);
		e2e_result_free(&r);
		cr_expect_gt(check_visible(target, "after the rerun", io), 0,
			     "[%s] no output after the rerun", io);
		cr_assert(run_of(dir, "out", run, sizeof(run)));
		cr_expect_str_eq(run, rec, "[%s] %s", io, what);
		assert_complete(dir, target, &in, io);

		/* and once more: nothing to do */
		e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
		cr_expect_eq(r.exit_code, 0, "[%s] %s", io, r.err);
		cr_expect(strstr(r.err, "skipped"), "[%s] %s", io, r.err);
		e2e_result_free(&r);
		free(target);
		e2e_rmrf(dir);
		free(dir);
	}
	free(in.p);
}
