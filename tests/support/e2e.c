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
	int in[2], out[2], err[2];
	size_t n = 0;

	memset(r, 0, sizeof(*r));
	while (argv[n])
		n++;
	const char **args = calloc(n + 2, sizeof(*args));
	args[0] = e2e_spate();
	for (size_t i = 0; i < n; i++)
		args[i + 1] = argv[i];
	if (pipe(in) || pipe(out) || pipe(err))
		abort();
	pid_t pid = fork();
	if (pid == 0) {
		dup2(in[0], 0);
		dup2(out[1], 1);
		dup2(err[1], 2);
		close(in[1]);
		close(out[0]);
		close(err[0]);
		if (cwd && chdir(cwd))
			_exit(126);
		for (size_t i = 0; env && env[i]; i++)
			putenv((char *)env[i]);
		execv(args[0], (char *const *)args);
		_exit(127);
	}
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
	bool out_open = true, err_open = true;
	while (out_open || err_open) {
		struct pollfd p[3] = {{out[0], POLLIN, 0}, {err[0], POLLIN, 0},
				      {in[1], POLLOUT, 0}};
		p[0].fd = out_open ? out[0] : -1;
		p[1].fd = err_open ? err[0] : -1;
		if (poll(p, 3, -1) < 0 && errno != EINTR)
			break;
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
	int st;
	waitpid(pid, &st, 0);
	r->exit_code = WIFEXITED(st) ? WEXITSTATUS(st) : 128 + WTERMSIG(st);
	free(args);
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

char *e2e_read_text(const char *path, size_t *len)
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
