/* End-to-end test helpers: process spawning and output reading. */
#define _GNU_SOURCE
#include "support/e2e.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <poll.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zstd.h>

const char *e2e_spate(void)
{
	const char *p = getenv("SPATE_BIN");
	return p ? p : "spate";
}

const char *e2e_source_dir(void)
{
	const char *p = getenv("SPATE_SOURCE_DIR");
	return p ? p : ".";
}

static void append(char **buf, size_t *len, size_t *cap, const char *p,
		   size_t n)
{
	if (*len + n + 1 > *cap) {
		size_t c = *cap ? *cap : 4096;
		while (c < *len + n + 1)
			c *= 2;
		*buf = realloc(*buf, c);
		*cap = c;
	}
	memcpy(*buf + *len, p, n);
	*len += n;
	(*buf)[*len] = '\0';
}

void e2e_run(struct e2e_result *r, const char *cwd, const char *const *env,
	     const char *stdin_data, const char *const *argv)
{
	e2e_run_timed(r, cwd, env, stdin_data, argv, 0);
}

void e2e_result_free(struct e2e_result *r)
{
	free(r->out);
	free(r->err);
	memset(r, 0, sizeof(*r));
}

char *e2e_tmpdir(void)
{
	char *t = strdup("/tmp/spate-e2e-XXXXXX");
	if (!mkdtemp(t))
		abort();
	return t;
}

void e2e_rmrf(const char *dir)
{
	char *cmd;
	if (asprintf(&cmd, "rm -rf '%s'", dir) > 0) {
		if (system(cmd)) {
		}
		free(cmd);
	}
}

static void mkparents(char *path)
{
	for (char *p = path + 1; *p; p++)
		if (*p == '/') {
			*p = '\0';
			mkdir(path, 0755);
			*p = '/';
		}
}

char *e2e_write(const char *dir, const char *name, const char *data,
		size_t len)
{
	char *path;
	if (asprintf(&path, "%s/%s", dir, name) < 0)
		abort();
	mkparents(path);
	FILE *f = fopen(path, "wb");
	if (!f)
		abort();
	fwrite(data, 1, len, f);
	fclose(f);
	return path;
}

char *e2e_read(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	if (!f)
		return NULL;
	size_t cap = 0, n = 0;
	char *buf = NULL, tmp[65536];
	size_t k;
	append(&buf, &n, &cap, "", 0);
	while ((k = fread(tmp, 1, sizeof(tmp), f)) > 0)
		append(&buf, &n, &cap, tmp, k);
	fclose(f);
	if (len)
		*len = n;
	return buf;
}

/* kind: 'R' error records, 'L' log lines, 'J' log lines of a run under
 * --log-format json (each must be a JSON object) */
static void note_lines(const char *s, size_t len, char kind)
{
	bool log_lines = kind != 'R';
	const char *path = getenv("SPATE_ERROR_LINES");
	if (!path || !s)
		return;
	int fd = open(path, O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return;
	const char *end = s + len;
	while (s < end) {
		const char *nl = memchr(s, '\n', (size_t)(end - s));
		const char *e = nl ? nl + 1 : end;
		bool take = log_lines ? e > s + 1
				      : memmem(s, (size_t)(e - s),
					       "\"spate_error\"", 13) != NULL;
		if (take) {
			/* one write per line: tests run in parallel */
			size_t n = (size_t)(e - s) + 2;
			char *line = malloc(n + 1);
			line[0] = kind;
			line[1] = ' ';
			memcpy(line + 2, s, (size_t)(e - s));
			if (line[n - 1] != '\n')
				line[n++] = '\n';
			if (write(fd, line, n) != (ssize_t)n)
				abort();
			free(line);
		}
		s = e;
	}
	close(fd);
}

void e2e_note_output(const char *s, size_t len, bool log_lines)
{
	note_lines(s, len, log_lines ? 'L' : 'R');
}

/* Whether spate runs with --log-format json (argument or environment):
 * then every line it writes on stderr must be a JSON log line. */
static bool json_logs(const char *const *env, const char *const *argv)
{
	const char *e = getenv("SPATE_LOG_FORMAT");
	bool json = e && !strcmp(e, "json");

	for (size_t i = 0; env && env[i]; i++)
		if (!strncmp(env[i], "SPATE_LOG_FORMAT=", 17))
			json = !strcmp(env[i] + 17, "json");
	for (size_t i = 0; argv[i]; i++) {
		if (!strcmp(argv[i], "--log-format") && argv[i + 1])
			json = !strcmp(argv[i + 1], "json");
		else if (!strncmp(argv[i], "--log-format=", 13))
			json = !strcmp(argv[i] + 13, "json");
	}
	return json;
}

static char *read_text(const char *path, size_t *len);

char *e2e_read_text(const char *path, size_t *len)
{
	size_t n;
	char *t = read_text(path, &n);

	e2e_note_output(t, t ? n : 0, false);
	if (t && len)
		*len = n;
	return t;
}

static char *read_text(const char *path, size_t *len)
{
	size_t n;
	char *raw = e2e_read(path, &n);
	if (!raw)
		return NULL;
	if (n < 4 || memcmp(raw, "\x28\xb5\x2f\xfd", 4) != 0) {
		if (len)
			*len = n;
		return raw;
	}
	ZSTD_DStream *ds = ZSTD_createDStream();
	ZSTD_inBuffer in = {raw, n, 0};
	char *out = NULL;
	size_t out_len = 0, cap = 0, ret = 0;
	char tmp[1 << 16];
	append(&out, &out_len, &cap, "", 0);
	while (in.pos < in.size) {
		ZSTD_outBuffer ob = {tmp, sizeof(tmp), 0};
		ret = ZSTD_decompressStream(ds, &ob, &in);
		if (ZSTD_isError(ret)) {
			free(out);
			out = NULL;
			break;
		}
		append(&out, &out_len, &cap, tmp, ob.pos);
	}
	for (;;) { /* flush what is left */
		ZSTD_outBuffer ob = {tmp, sizeof(tmp), 0};
		if (!out)
			break;
		ret = ZSTD_decompressStream(ds, &ob, &in);
		if (ZSTD_isError(ret) || ob.pos == 0)
			break;
		append(&out, &out_len, &cap, tmp, ob.pos);
	}
	ZSTD_freeDStream(ds);
	free(raw);
	if (out && len)
		*len = out_len;
	return out;
}

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static bool has_suffix(const char *s, const char *suffix)
{
	size_t n = strlen(s), m = suffix ? strlen(suffix) : 0;
	return n >= m && strcmp(s + n - m, suffix ? suffix : "") == 0;
}

char *e2e_read_dir(const char *dir, const char *suffix, size_t *len)
{
	DIR *d = opendir(dir);
	char *names[4096];
	size_t nn = 0;
	char *all = NULL;
	size_t all_len = 0, cap = 0;

	append(&all, &all_len, &cap, "", 0);
	if (d) {
		struct dirent *e;
		while ((e = readdir(d)) && nn < 4096) {
			if (e->d_name[0] == '.' ||
			    !strcmp(e->d_name, "_manifest.json") ||
			    !has_suffix(e->d_name, suffix))
				continue;
			names[nn++] = strdup(e->d_name);
		}
		closedir(d);
	}
	qsort(names, nn, sizeof(names[0]), cmp_str);
	for (size_t i = 0; i < nn; i++) {
		char *path;
		size_t n;
		if (asprintf(&path, "%s/%s", dir, names[i]) < 0)
			abort();
		char *t = e2e_read_text(path, &n);
		if (t)
			append(&all, &all_len, &cap, t, n);
		free(t);
		free(path);
		free(names[i]);
	}
	if (len)
		*len = all_len;
	return all;
}

int e2e_count_files(const char *dir, const char *suffix, bool hidden)
{
	DIR *d = opendir(dir);
	int n = 0;
	if (!d)
		return -1;
	struct dirent *e;
	while ((e = readdir(d))) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		if (e->d_name[0] == '.' && !hidden)
			continue;
		if (has_suffix(e->d_name, suffix))
			n++;
	}
	closedir(d);
	return n;
}

size_t e2e_count_lines(const char *s, size_t len)
{
	size_t n = 0;
	for (size_t i = 0; i < len; i++)
		n += s[i] == '\n';
	return n;
}

void e2e_sort_lines(char *s, size_t len)
{
	size_t n = e2e_count_lines(s, len), k = 0;
	char **lines = calloc(n + 1, sizeof(*lines));
	char *copy = malloc(len + 1);
	memcpy(copy, s, len);
	copy[len] = '\0';
	for (char *p = copy, *nl; k < n && (nl = strchr(p, '\n')); p = nl + 1) {
		*nl = '\0';
		lines[k++] = p;
	}
	qsort(lines, k, sizeof(*lines), cmp_str);
	size_t off = 0;
	for (size_t i = 0; i < k; i++) {
		size_t l = strlen(lines[i]);
		memcpy(s + off, lines[i], l);
		s[off + l] = '\n';
		off += l + 1;
	}
	free(lines);
	free(copy);
}

/* ---- runs with a time limit, background runs, the --json status ---- */

#include <criterion/criterion.h>
#include <time.h>

static double now_s(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void e2e_sleep_ms(int ms)
{
	struct timespec ts = {ms / 1000, (long)(ms % 1000) * 1000000L};

	while (nanosleep(&ts, &ts) && errno == EINTR)
		;
}

static pid_t spawn(const char *cwd, const char *const *env,
		   const char *const *argv, int in_fd, int out_fd, int err_fd,
		   int *close_fds, size_t nclose)
{
	size_t n = 0;

	while (argv[n])
		n++;
	const char **args = calloc(n + 2, sizeof(*args));
	args[0] = e2e_spate();
	for (size_t i = 0; i < n; i++)
		args[i + 1] = argv[i];
	pid_t pid = fork();
	if (pid == 0) {
		/* a test that fails (and so never stops what it started)
		 * takes its spate process with it */
		prctl(PR_SET_PDEATHSIG, SIGKILL);
		dup2(in_fd, 0);
		dup2(out_fd, 1);
		dup2(err_fd, 2);
		for (size_t i = 0; i < nclose; i++)
			if (close_fds[i] > 2)
				close(close_fds[i]);
		if (cwd && chdir(cwd))
			_exit(126);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
	free(args);
	return pid;
}

static int status_code(int st)
{
	return WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
}

void e2e_run_timed(struct e2e_result *r, const char *cwd,
		   const char *const *env, const char *stdin_data,
		   const char *const *argv, int limit_s)
{
	int in[2], out[2], err[2];

	memset(r, 0, sizeof(*r));
	if (pipe(in) || pipe(out) || pipe(err))
		abort();
	int fds[6] = {in[0], in[1], out[0], out[1], err[0], err[1]};
	pid_t pid = spawn(cwd, env, argv, in[0], out[1], err[1], fds, 6);
	close(in[0]);
	close(out[1]);
	close(err[1]);
	signal(SIGPIPE, SIG_IGN);
	size_t in_len = stdin_data ? strlen(stdin_data) : 0, in_off = 0;
	if (in_len == 0) {
		close(in[1]);
		in[1] = -1;
	}
	size_t out_cap = 0, err_cap = 0;
	append(&r->out, &r->out_len, &out_cap, "", 0);
	append(&r->err, &r->err_len, &err_cap, "", 0);
	bool out_open = true, err_open = true, killed = false;
	double deadline = now_s() + limit_s;
	while (out_open || err_open) {
		struct pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0},
				      {in[1], POLLOUT, 0}};
		p[0].fd = out_open ? out[0] : -1;
		p[1].fd = err_open ? err[0] : -1;
		int timeout_ms = -1;
		if (limit_s > 0) {
			double left = deadline - now_s();
			if (left <= 0 && !killed) {
				kill(pid, SIGKILL);
				killed = true;
				/* a child of spate may hold the pipes: stop
				 * reading */
				deadline = now_s() + 5;
				continue;
			}
			if (left <= 0)
				break;
			timeout_ms = (int)(left * 1000) + 1;
		}
		int k0 = poll(p, 3, timeout_ms);
		if (k0 < 0 && errno != EINTR)
			break;
		if (k0 <= 0)
			continue;
		char buf[65536];
		if (p[0].revents) {
			ssize_t k = read(out[0], buf, sizeof(buf));
			if (k <= 0)
				out_open = false;
			else
				append(&r->out, &r->out_len, &out_cap, buf,
				       (size_t)k);
		}
		if (p[1].revents) {
			ssize_t k = read(err[0], buf, sizeof(buf));
			if (k <= 0)
				err_open = false;
			else
				append(&r->err, &r->err_len, &err_cap, buf,
				       (size_t)k);
		}
		if (in[1] >= 0 && p[2].revents) {
			ssize_t k = write(in[1], stdin_data + in_off,
					  in_len - in_off);
			if (k > 0)
				in_off += (size_t)k;
			if (k <= 0 || in_off == in_len) {
				close(in[1]);
				in[1] = -1;
			}
		}
	}
	if (in[1] >= 0)
		close(in[1]);
	close(out[0]);
	close(err[0]);
	if (killed) {
		int st;
		kill(pid, SIGKILL);
		waitpid(pid, &st, 0);
	} else if (limit_s <= 0) {
		int st;
		waitpid(pid, &st, 0);
		r->exit_code = status_code(st);
	} else {
		/* pipes closed; it may still be running: give it the rest */
		int left = (int)(deadline - now_s()) + 1;
		r->exit_code = e2e_bg_wait(pid, left > 1 ? left : 1);
		killed = r->exit_code == 128 + SIGKILL;
	}
	if (killed) {
		char note[64];
		int n = snprintf(note, sizeof(note),
				 "\ne2e: killed after %d s\n", limit_s);
		append(&r->err, &r->err_len, &err_cap, note, (size_t)n);
		r->exit_code = 128 + SIGKILL;
	}
	e2e_note_output(r->out, r->out_len, false);
	note_lines(r->err, r->err_len, json_logs(env, argv) ? 'J' : 'L');
}

pid_t e2e_bg_start(const char *cwd, const char *const *env,
		   const char *const *argv, const char *out_path,
		   const char *err_path, int *stdin_fd)
{
	int in[2] = {-1, -1};
	int out = open(out_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0644);
	int err = open(err_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC,
		       0644);

	if (out < 0 || err < 0)
		abort();
	if (stdin_fd) {
		if (pipe2(in, O_CLOEXEC))
			abort();
	} else {
		in[0] = open("/dev/null", O_RDONLY | O_CLOEXEC);
	}
	int fds[4] = {in[0], in[1], out, err};
	pid_t pid = spawn(cwd, env, argv, in[0], out, err, fds, 4);
	close(in[0]);
	close(out);
	close(err);
	if (stdin_fd)
		*stdin_fd = in[1];
	signal(SIGPIPE, SIG_IGN);
	return pid;
}

int e2e_bg_wait(pid_t pid, int limit_s)
{
	double deadline = now_s() + limit_s;
	int st;

	for (;;) {
		pid_t r = waitpid(pid, &st, WNOHANG);
		if (r == pid)
			return status_code(st);
		if (r < 0)
			return -1;
		if (now_s() > deadline) {
			kill(pid, SIGKILL);
			waitpid(pid, &st, 0);
			return 128 + SIGKILL;
		}
		e2e_sleep_ms(10);
	}
}

/* A small JSON reader for the status object: enough for its shape. */
struct jr {
	const char *p;
	bool bad;
};

static void jr_ws(struct jr *j)
{
	while (*j->p == ' ' || *j->p == '\n' || *j->p == '\t' ||
	       *j->p == '\r')
		j->p++;
}

static bool jr_eat(struct jr *j, char c)
{
	jr_ws(j);
	if (*j->p != c)
		return false;
	j->p++;
	return true;
}

/* a string into out (cap bytes; longer ones are cut) */
static void jr_string(struct jr *j, char *out, size_t cap)
{
	size_t n = 0;

	if (!jr_eat(j, '"')) {
		j->bad = true;
		return;
	}
	while (*j->p && *j->p != '"') {
		char c = *j->p++;
		if (c == '\\') {
			c = *j->p++;
			switch (c) {
			case 'n': c = '\n'; break;
			case 't': c = '\t'; break;
			case 'r': c = '\r'; break;
			case 'b': c = '\b'; break;
			case 'f': c = '\f'; break;
			case 'u': /* keep it simple: not in statuses */
				c = '?';
				for (int i = 0; i < 4 && *j->p; i++)
					j->p++;
				break;
			case '\0':
				j->bad = true;
				return;
			default:
				break;
			}
		}
		if (out && n + 1 < cap)
			out[n++] = c;
	}
	if (out && cap)
		out[n] = '\0';
	if (*j->p != '"')
		j->bad = true;
	else
		j->p++;
}

static double jr_number(struct jr *j)
{
	char *end;

	jr_ws(j);
	double v = strtod(j->p, &end);
	if (end == j->p)
		j->bad = true;
	j->p = end;
	return v;
}

static uint64_t jr_uint(struct jr *j)
{
	char *end;

	jr_ws(j);
	if (*j->p < '0' || *j->p > '9') {
		j->bad = true;
		return 0;
	}
	unsigned long long v = strtoull(j->p, &end, 10);
	j->p = end;
	return v;
}

static void jr_skip(struct jr *j)
{
	jr_ws(j);
	if (*j->p == '"') {
		jr_string(j, NULL, 0);
	} else if (*j->p == '{' || *j->p == '[') {
		char close = *j->p == '{' ? '}' : ']';
		j->p++;
		if (jr_eat(j, close))
			return;
		do {
			if (close == '}') {
				jr_string(j, NULL, 0);
				if (!jr_eat(j, ':'))
					j->bad = true;
			}
			jr_skip(j);
		} while (!j->bad && jr_eat(j, ','));
		if (!jr_eat(j, close))
			j->bad = true;
	} else if (!strncmp(j->p, "true", 4) || !strncmp(j->p, "null", 4)) {
		j->p += 4;
	} else if (!strncmp(j->p, "false", 5)) {
		j->p += 5;
	} else {
		jr_number(j);
	}
}

static void jr_stage(struct jr *j, struct e2e_stage_status *s)
{
	char key[64];

	memset(s, 0, sizeof(*s));
	if (!jr_eat(j, '{')) {
		j->bad = true;
		return;
	}
	if (jr_eat(j, '}'))
		return;
	do {
		jr_string(j, key, sizeof(key));
		if (j->bad || !jr_eat(j, ':')) {
			j->bad = true;
			return;
		}
		if (!strcmp(key, "id")) {
			jr_string(j, s->id, sizeof(s->id));
			s->seen |= E2E_K_ID;
		} else if (!strcmp(key, "type")) {
			jr_string(j, s->type, sizeof(s->type));
			s->seen |= E2E_K_TYPE;
		} else if (!strcmp(key, "records_in")) {
			s->records_in = jr_uint(j);
			s->seen |= E2E_K_IN;
		} else if (!strcmp(key, "errors")) {
			s->errors = jr_uint(j);
			s->seen |= E2E_K_ERRORS;
		} else if (!strcmp(key, "warnings")) {
			s->warnings = jr_uint(j);
			s->seen |= E2E_K_WARNINGS;
		} else if (!strcmp(key, "dropped")) {
			s->dropped = jr_uint(j);
			s->seen |= E2E_K_DROPPED;
		} else if (!strcmp(key, "bytes_in")) {
			s->bytes_in = jr_uint(j);
			s->seen |= E2E_K_BYTES_IN;
		} else if (!strcmp(key, "bytes_out")) {
			s->bytes_out = jr_uint(j);
			s->seen |= E2E_K_BYTES_OUT;
		} else if (!strcmp(key, "records_out")) {
			s->seen |= E2E_K_OUT;
			if (!jr_eat(j, '{')) {
				j->bad = true;
				return;
			}
			if (jr_eat(j, '}'))
				continue;
			do {
				if (s->nlanes >= E2E_MAX_LANES) {
					j->bad = true;
					return;
				}
				jr_string(j, s->lane[s->nlanes], 64);
				if (!jr_eat(j, ':'))
					j->bad = true;
				s->out[s->nlanes++] = jr_uint(j);
			} while (!j->bad && jr_eat(j, ','));
			if (!jr_eat(j, '}'))
				j->bad = true;
		} else {
			jr_skip(j);
		}
	} while (!j->bad && jr_eat(j, ','));
	if (!jr_eat(j, '}'))
		j->bad = true;
}

static const char *status_line(const char *out)
{
	const char *last = NULL;

	for (const char *p = out; p && *p;) {
		if (!strncmp(p, "{\"flow\":", 8))
			last = p;
		p = strchr(p, '\n');
		if (p)
			p++;
	}
	return last;
}

size_t e2e_status_records_len(const char *out)
{
	const char *l = status_line(out);

	return l ? (size_t)(l - out) : strlen(out);
}

int e2e_status_parse(const char *out, struct e2e_status *st)
{
	const char *line = status_line(out);
	struct jr j = {line, false};
	char key[64];

	memset(st, 0, sizeof(*st));
	if (!line || !jr_eat(&j, '{'))
		return -1;
	do {
		jr_string(&j, key, sizeof(key));
		if (j.bad || !jr_eat(&j, ':'))
			return -1;
		if (!strcmp(key, "flow")) {
			jr_string(&j, st->flow, sizeof(st->flow));
			st->has_flow = true;
		} else if (!strcmp(key, "status")) {
			jr_string(&j, st->status, sizeof(st->status));
			st->has_status = true;
		} else if (!strcmp(key, "error")) {
			jr_string(&j, st->error, sizeof(st->error));
		} else if (!strcmp(key, "elapsed_s")) {
			st->elapsed_s = jr_number(&j);
			st->has_elapsed = true;
		} else if (!strcmp(key, "discarded")) {
			st->discarded = (uint64_t)jr_number(&j);
		} else if (!strcmp(key, "stages")) {
			st->has_stages = true;
			if (!jr_eat(&j, '['))
				return -1;
			if (jr_eat(&j, ']'))
				continue;
			do {
				if (st->nstages >= E2E_MAX_STAGES)
					return -1;
				jr_stage(&j, &st->st[st->nstages++]);
			} while (!j.bad && jr_eat(&j, ','));
			if (!jr_eat(&j, ']'))
				return -1;
		} else {
			jr_skip(&j);
		}
	} while (!j.bad && jr_eat(&j, ','));
	if (j.bad || !jr_eat(&j, '}'))
		return -1;
	jr_ws(&j);
	return *j.p == '\0' ? 0 : -1;
}

const struct e2e_stage_status *e2e_status_stage(const struct e2e_status *st,
						const char *id)
{
	for (uint32_t i = 0; i < st->nstages; i++)
		if (!strcmp(st->st[i].id, id))
			return &st->st[i];
	return NULL;
}

void e2e_status_assert_accounting(const struct e2e_status *st,
				  const char *const *overlap)
{
	cr_assert(st->has_flow && st->has_status && st->has_elapsed &&
		  st->has_stages, "status lacks flow, status, elapsed_s or "
		  "stages");
	for (uint32_t i = 0; i < st->nstages; i++) {
		const struct e2e_stage_status *s = &st->st[i];
		bool multi = false;
		uint64_t sum = 0;

		cr_assert_eq(s->seen, E2E_K_ALL, "stage '%s': keys missing "
			     "(seen %#x)", s->id, s->seen);
		cr_assert_geq(s->nlanes, 1, "stage '%s': no lanes", s->id);
		for (size_t k = 0; overlap && overlap[k]; k++)
			multi |= !strcmp(overlap[k], s->id);
		for (uint32_t l = 0; l < s->nlanes; l++)
			sum += s->out[l];
		cr_assert_geq(s->records_in, s->errors + s->dropped,
			      "stage '%s': in %llu < errors %llu + "
			      "dropped %llu",
			      s->id, (unsigned long long)s->records_in,
			      (unsigned long long)s->errors,
			      (unsigned long long)s->dropped);
		uint64_t passed = s->records_in - s->errors - s->dropped;
		if (!multi || s->nlanes == 1) {
			cr_assert_eq(s->records_in,
				     sum + s->errors + s->dropped,
				     "stage '%s': in %llu != out %llu + errors "
				     "%llu + dropped %llu",
				     s->id, (unsigned long long)s->records_in,
				     (unsigned long long)sum,
				     (unsigned long long)s->errors,
				     (unsigned long long)s->dropped);
			continue;
		}
		for (uint32_t l = 0; l < s->nlanes; l++)
			cr_assert_leq(s->out[l], passed, "stage '%s' lane %s: "
				      "%llu records, more than the %llu passed",
				      s->id, s->lane[l],
				      (unsigned long long)s->out[l],
				      (unsigned long long)passed);
		cr_assert_geq(sum, passed, "stage '%s': lanes hold %llu "
			      "records, fewer than the %llu passed", s->id,
			      (unsigned long long)sum,
			      (unsigned long long)passed);
	}
}

/* ---- texts, files in a test folder, flow runs, comparisons ---- */

#include <stdarg.h>

const char *const e2e_sync_env[] = {"SPATE_IO=sync", NULL};

void e2e_text_add(struct e2e_text *t, const char *s, size_t n)
{
	append(&t->p, &t->len, &t->cap, s, n);
}

void e2e_text_printf(struct e2e_text *t, const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0);
	e2e_text_add(t, s, (size_t)n);
	free(s);
}

char *e2e_join(const char *a, const char *b)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

void e2e_put(const char *dir, const char *name, const char *data, size_t len)
{
	free(e2e_write(dir, name, data, len));
}

void e2e_put_str(const char *dir, const char *name, const char *s)
{
	e2e_put(dir, name, s, strlen(s));
}

void e2e_age(const char *dir, const char *name)
{
	char *p = e2e_join(dir, name);
	struct timespec ts[2];

	clock_gettime(CLOCK_REALTIME, &ts[0]);
	ts[0].tv_sec -= 3600;
	ts[1] = ts[0];
	cr_assert_eq(utimensat(AT_FDCWD, p, ts, 0), 0, "%s: %s", p,
		     strerror(errno));
	free(p);
}

void e2e_sh(const char *dir, const char *cmd)
{
	char *line;

	cr_assert(asprintf(&line, "cd '%s' && %s", dir, cmd) > 0);
	cr_assert_eq(system(line), 0, "%s", line);
	free(line);
}

static void run_flow_va(struct e2e_result *r, const char *cwd,
			const char *const *env, const char *flow, va_list ap)
{
	const char *argv[16] = {"run", flow, "--quiet"};
	int n = 3;

	for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	argv[n] = NULL;
	e2e_run_timed(r, cwd, env, NULL, argv, E2E_RUN_LIMIT_S);
}

void e2e_run_flow(struct e2e_result *r, const char *cwd,
		  const char *const *env, const char *flow, ...)
{
	va_list ap;

	va_start(ap, flow);
	run_flow_va(r, cwd, env, flow, ap);
	va_end(ap);
}

void e2e_run_flow_ok(const char *cwd, const char *const *env, const char *io,
		     const char *flow, ...)
{
	struct e2e_result r;
	va_list ap;

	va_start(ap, flow);
	run_flow_va(&r, cwd, env, flow, ap);
	va_end(ap);
	e2e_assert_ok(&r, io);
	e2e_result_free(&r);
}

void e2e_assert_ok(const struct e2e_result *r, const char *io)
{
	cr_assert_eq(r->exit_code, 0, "[%s] exit %d%s, stderr:\n%s", io,
		     r->exit_code,
		     r->exit_code == 137 ? " (killed: hung?)" : "", r->err);
}

void e2e_assert_same(const char *got, size_t got_len, const char *want,
		     size_t want_len, const char *what, const char *io)
{
	size_t i = 0;

	while (i < got_len && i < want_len && got[i] == want[i])
		i++;
	if (i == got_len && i == want_len)
		return;
	size_t from = i > 60 ? i - 60 : 0;
	cr_expect_fail("[%s] %s: %zu bytes, expected %zu; first difference at "
		       "byte %zu:\n  got:  \"%.*s\"\n  want: \"%.*s\"",
		       io, what, got_len, want_len, i,
		       (int)((got_len - from) < 140 ? got_len - from : 140),
		       got + from,
		       (int)((want_len - from) < 140 ? want_len - from : 140),
		       want + from);
}

char *e2e_read_out(const char *dir, const char *sub, size_t *len)
{
	char *p = e2e_join(dir, sub);
	char *t = e2e_read_dir(p, NULL, len);

	free(p);
	return t;
}

void e2e_assert_out_n(const char *dir, const char *sub, const char *want,
		      size_t want_len, const char *io)
{
	size_t len;
	char *got = e2e_read_out(dir, sub, &len);

	e2e_assert_same(got, len, want, want_len, sub, io);
	free(got);
}

void e2e_assert_out(const char *dir, const char *sub, const char *want,
		    const char *io)
{
	e2e_assert_out_n(dir, sub, want, strlen(want), io);
}

uint64_t e2e_lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

const char *e2e_after_key(const char *p, const char *key)
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

/* ---- flows run with --json in a folder of their own ---- */

void e2e_flow_run(struct e2e_flow *x, const char *yaml,
		  const char *const *extra, const char *const *env,
		  const char *stdin_data, const char *const *overlap)
{
	const char *argv[32] = {"run", "flow.yaml", "--json"};
	size_t n = 3;

	if (!x->dir)
		x->dir = e2e_tmpdir();
	e2e_put_str(x->dir, "flow.yaml", yaml);
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	e2e_result_free(&x->r);
	e2e_run_timed(&x->r, x->dir, env, stdin_data, argv, E2E_RUN_LIMIT_S);
	int rc = e2e_status_parse(x->r.out, &x->st);
	cr_assert_eq(rc, 0,
		     "no --json status (exit %d)\nstdout:\n%s\nstderr:\n%s",
		     x->r.exit_code, x->r.out, x->r.err);
	e2e_status_assert_accounting(&x->st, overlap);
}

void e2e_flow_run_fmt(struct e2e_flow *x, const char *const *env,
		      const char *const *overlap, const char *fmt, ...)
{
	char *yaml;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&yaml, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0);
	e2e_flow_run(x, yaml, NULL, env, NULL, overlap);
	free(yaml);
}

void e2e_flow_done(struct e2e_flow *x)
{
	e2e_result_free(&x->r);
	if (x->dir)
		e2e_rmrf(x->dir);
	free(x->dir);
	x->dir = NULL;
}

void e2e_flow_assert_finished(const struct e2e_flow *x)
{
	cr_assert_eq(x->r.exit_code, 0, "exit %d\nstderr:\n%s", x->r.exit_code,
		     x->r.err);
	cr_assert_str_eq(x->st.status, "finished", "status %s\nstderr:\n%s",
			 x->st.status, x->r.err);
}

char *e2e_flow_out(const struct e2e_flow *x, const char *sub)
{
	return e2e_read_out(x->dir, sub, NULL);
}

void e2e_flow_assert_out(const struct e2e_flow *x, const char *sub,
			 const char *want)
{
	char *got = e2e_flow_out(x, sub);

	cr_assert_str_eq(got, want, "%s:\n--- got\n%s--- want\n%s", sub, got,
			 want);
	free(got);
}

const struct e2e_stage_status *e2e_flow_stage(const struct e2e_flow *x,
					      const char *id)
{
	const struct e2e_stage_status *s = e2e_status_stage(&x->st, id);

	cr_assert_not_null(s, "no stage '%s' in the status", id);
	return s;
}

void e2e_flow_assert_counts(const struct e2e_flow *x, const char *id,
			    uint64_t in, uint64_t out, uint64_t errors,
			    uint64_t dropped)
{
	const struct e2e_stage_status *s = e2e_flow_stage(x, id);

	cr_assert_eq(s->nlanes, 1, "%s: %u lanes", id, s->nlanes);
	cr_assert_str_eq(s->lane[0], "output", "%s: lane %s", id, s->lane[0]);
	cr_assert_eq(s->records_in, in, "%s: in %llu, want %llu", id,
		     (unsigned long long)s->records_in, (unsigned long long)in);
	cr_assert_eq(s->out[0], out, "%s: out %llu, want %llu", id,
		     (unsigned long long)s->out[0], (unsigned long long)out);
	cr_assert_eq(s->errors, errors, "%s: errors %llu, want %llu", id,
		     (unsigned long long)s->errors, (unsigned long long)errors);
	cr_assert_eq(s->dropped, dropped, "%s: dropped %llu, want %llu", id,
		     (unsigned long long)s->dropped,
		     (unsigned long long)dropped);
}

/* ---- XXH64, input opens ---- */

/* written from the specification */
static const uint64_t X1 = 0x9E3779B185EBCA87ull, X2 = 0xC2B2AE3D27D4EB4Full,
		      X3 = 0x165667B19E3779F9ull, X4 = 0x85EBCA77C2B2AE63ull,
		      X5 = 0x27D4EB2F165667C5ull;

static uint64_t rol(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
	return rol(acc + in * X2, 31) * X1;
}

uint64_t e2e_xxh64(const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v[4] = {X1 + X2, X2, 0, -X1};
		for (; end - p >= 32; p += 32)
			for (int i = 0; i < 4; i++)
				v[i] = xround(v[i], rd64(p + 8 * i));
		h = rol(v[0], 1) + rol(v[1], 7) + rol(v[2], 12) + rol(v[3], 18);
		for (int i = 0; i < 4; i++)
			h = (h ^ xround(0, v[i])) * X1 + X4;
	} else {
		h = X5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rol(h ^ xround(0, rd64(p)), 27) * X1 + X4;
	if (end - p >= 4) {
		uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 |
			     (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
		h = rol(h ^ w * X1, 23) * X2 + X3;
		p += 4;
	}
	for (; p < end; p++)
		h = rol(h ^ *p * X5, 11) * X1;
	h ^= h >> 33;
	h *= X2;
	h ^= h >> 29;
	h *= X3;
	return h ^ (h >> 32);
}

#include <sys/inotify.h>

int e2e_opens_watch(const char *dir)
{
	int fd = inotify_init1(IN_NONBLOCK | IN_CLOEXEC);

	cr_assert(fd >= 0, "inotify: %s", strerror(errno));
	cr_assert(inotify_add_watch(fd, dir, IN_OPEN | IN_CLOSE_NOWRITE) >= 0,
		  "inotify on %s: %s", dir, strerror(errno));
	return fd;
}

void e2e_opens_read(int fd, const char *const *names, int *opens)
{
	char buf[64 << 10] __attribute__((aligned(8)));
	ssize_t n;

	for (size_t i = 0; names[i]; i++)
		opens[i] = 0;
	while ((n = read(fd, buf, sizeof(buf))) > 0)
		for (char *p = buf; p < buf + n;) {
			const struct inotify_event *e = (const void *)p;
			cr_assert(!(e->mask & IN_Q_OVERFLOW),
				  "inotify queue overflow");
			for (size_t i = 0; names[i]; i++)
				if (e->len && (e->mask & IN_OPEN) &&
				    !strcmp(e->name, names[i]))
					opens[i]++;
			p += sizeof(*e) + e->len;
		}
	cr_assert(n < 0 && errno == EAGAIN, "inotify read: %s",
		  strerror(errno));
	close(fd);
}

int e2e_opens_count(int fd, const char *name)
{
	const char *const names[] = {name, NULL};
	int opens;

	e2e_opens_read(fd, names, &opens);
	return opens;
}
