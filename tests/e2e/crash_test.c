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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/inotify.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "support/e2e.h"

static const char *const sync_env[] = {"SPATE_IO=sync", NULL};

/* A run that takes longer is hung (runs take a second or two in release,
 * far less than this under the sanitizers): it is killed and fails. */
#define RUN_LIMIT_S 60

#define BOTH_IO(suite, name)                                                   \
	static void name##_body(const char *const *env, const char *io);       \
	Test(suite, name##_sync)                                               \
	{                                                                      \
		name##_body(sync_env, "sync");                                 \
	}                                                                      \
	Test(suite, name##_default_io)                                         \
	{                                                                      \
		name##_body(NULL, "default");                                  \
	}                                                                      \
	static void name##_body(const char *const *env, const char *io)

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t c = t->cap ? t->cap : 4096;
		while (c < t->len + n + 1)
			c *= 2;
		t->p = realloc(t->p, c);
		t->cap = c;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0);
	text_add(t, s, (size_t)n);
	free(s);
}

static char *join(const char *a, const char *b)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* About 3 MB of JSON lines. */
static void gen_input(struct text *t)
{
	uint64_t seed = 99;

	for (int i = 0; i < 30000; i++) {
		text_printf(t, "{\"id\":%d,\"v\":%llu,\"s\":\"", i,
			    (unsigned long long)lcg(&seed));
		size_t n = lcg(&seed) % 150;
		for (size_t k = 0; k < n; k++)
			text_add(t, &"spatecrash"[lcg(&seed) % 10], 1);
		text_add(t, "\"}\n", 3);
	}
}

/* Starts spate run FLOW in cwd with env added; stdout and stderr go to
 * cwd/spate.log.  Returns the pid. */
static pid_t spawn_run(const char *cwd, const char *const *env,
		       const char *flow)
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
		alarm(RUN_LIMIT_S); /* kept across exec: a hung run ends */
		execl(e2e_spate(), e2e_spate(), "run", flow, "--quiet",
		      (char *)NULL);
		_exit(127);
	}
	return pid;
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

/* After "key": skips blanks, ':' and blanks. */
static const char *after_key(const char *p, const char *key)
{
	char k[64];

	snprintf(k, sizeof(k), "\"%s\"", key);
	p = strstr(p, k);
	if (!p)
		return NULL;
	p += strlen(k);
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == ':')
		p++;
	return p;
}

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

	char *mp = join(target, "_manifest.json");
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
	const char *p = after_key(m, "files");
	cr_assert(p && *p == '[', "[%s] %s: bad manifest %s", io, what, m);
	while ((p = strchr(p, '{'))) {
		const char *end = strchr(p, '}');
		cr_assert(end, "[%s] %s: bad manifest %s", io, what, m);
		char *obj = strndup(p, (size_t)(end - p + 1));
		const char *q = after_key(obj, "name");
		cr_assert(q && *q == '"', "[%s] %s", io, m);
		char name[256];
		size_t k = 0;
		for (q++; *q && *q != '"' && k + 1 < sizeof(name); q++)
			name[k++] = *q;
		name[k] = '\0';
		q = after_key(obj, "bytes");
		cr_assert(q, "[%s] %s", io, m);
		unsigned long long bytes = strtoull(q, NULL, 10);
		char *fp = join(target, name);
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
			    const struct text *in, const char *io)
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

static void rerun(const char *dir, const char *const *env, const char *flow,
		  const char *what, const char *io)
{
	struct e2e_result r;
	const char *argv[] = {"run", flow, "--quiet", NULL};

	e2e_run_timed(&r, dir, env, NULL, argv, RUN_LIMIT_S);
	cr_expect_eq(r.exit_code, 0, "[%s] rerun after %s: exit %d:\n%s", io,
		     what, r.exit_code, r.err);
	e2e_result_free(&r);
}

static const char flow_run[] =
    "name: crash\n"
    "stages:\n"
    "  - {id: src, type: file_reader, path: in.jsonl, chunk_size: 4096}\n"
    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
    "ordered: true, max_file_records: 2000}\n";

/* Killed while reading, writing or publishing: never partial output; the
 * next run cleans up and completes.  Two kills in a row, then a rerun. */
BOTH_IO(crash, kill9_during_run)
{
	static const int delays[] = {10, 50, 150, 400};
	struct text in = {0};

	gen_input(&in);
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		char *dir = e2e_tmpdir();
		char what[64];
		free(e2e_write(dir, "in.jsonl", in.p, in.len));
		free(e2e_write(dir, "flow.yaml", flow_run, strlen(flow_run)));
		char *target = join(dir, "out");

		snprintf(what, sizeof(what), "kill after %d ms", delays[i]);
		kill_after(spawn_run(dir, env, "flow.yaml"), delays[i]);
		check_visible(target, what, io);
		/* killed again, at another point, over what the first left */
		snprintf(what, sizeof(what), "second kill after %d ms",
			 delays[i] / 2 + 30);
		kill_after(spawn_run(dir, env, "flow.yaml"),
			   delays[i] / 2 + 30);
		check_visible(target, what, io);

		rerun(dir, env, "flow.yaml", what, io);
		cr_expect_gt(check_visible(target, "after the rerun", io), 0,
			     "[%s] no output after the rerun", io);
		assert_complete(dir, target, &in, io);
		free(target);
		e2e_rmrf(dir);
		free(dir);
	}
	free(in.p);
}

/* Killed the moment its first file appears in the target, i.e. while it
 * publishes (commit: run renames many files, then writes the manifest). */
BOTH_IO(crash, kill9_while_publishing)
{
	struct text in = {0};
	static const char flow[] =
	    "name: publish\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 150}\n";

	gen_input(&in);
	char *dir = e2e_tmpdir();
	free(e2e_write(dir, "in.jsonl", in.p, in.len));
	free(e2e_write(dir, "flow.yaml", flow, strlen(flow)));
	char *target = join(dir, "out");
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

	rerun(dir, env, "flow.yaml", "a kill while publishing", io);
	cr_expect_gt(check_visible(target, "after the rerun", io), 0,
		     "[%s] no output after the rerun", io);
	assert_complete(dir, target, &in, io);
	free(target);
	e2e_rmrf(dir);
	free(dir);
	free(in.p);
}

/* commit: file publishes files as they close, so a killed run may leave
 * some; the rerun of the same flow over the same input still completes
 * with every record exactly once. */
BOTH_IO(crash, kill9_commit_file_rerun)
{
	static const int delays[] = {40, 150};
	struct text in = {0};
	static const char flow[] =
	    "name: perfile\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 2000, commit: file}\n";

	gen_input(&in);
	for (size_t i = 0; i < sizeof(delays) / sizeof(delays[0]); i++) {
		char *dir = e2e_tmpdir();
		free(e2e_write(dir, "in.jsonl", in.p, in.len));
		free(e2e_write(dir, "flow.yaml", flow, strlen(flow)));
		char *target = join(dir, "out");

		kill_after(spawn_run(dir, env, "flow.yaml"), delays[i]);
		rerun(dir, env, "flow.yaml", "a killed commit: file run", io);
		cr_expect_gt(check_visible(target, "after the rerun", io), 0,
			     "[%s] no output after the rerun", io);
		assert_complete(dir, target, &in, io);
		free(target);
		e2e_rmrf(dir);
		free(dir);
	}
	free(in.p);
}
