/* Test S3 servers on loopback: s3rver and the signature-checking proxy. */
#define _GNU_SOURCE
#include "support/s3srv.h"

#include <fcntl.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "support/e2e.h"

static pid_t spawn(const char *const *argv, const char *log)
{
	unlink(log); /* an earlier server's port is not this one's */
	pid_t pid = fork();

	if (pid == 0) {
		setsid();
		int fd = open(log, O_WRONLY | O_CREAT | O_TRUNC, 0600);
		int nul = open("/dev/null", O_RDONLY);
		if (fd < 0 || nul < 0)
			_exit(127);
		dup2(nul, 0);
		dup2(fd, 1);
		dup2(fd, 2);
		execvp(argv[0], (char *const *)argv);
		_exit(127);
	}
	return pid;
}

/* Waits up to 15 s for "listening on 127.0.0.1:PORT" in log. */
static int wait_port(pid_t pid, const char *log)
{
	for (int i = 0; i < 1500; i++) {
		size_t len;
		char *t = e2e_read(log, &len);
		const char *p = t ? strstr(t, "listening on 127.0.0.1:") : NULL;
		int port = p ? atoi(p + 23) : 0;
		free(t);
		if (port > 0)
			return port;
		if (waitpid(pid, NULL, WNOHANG) == pid)
			return -1;
		e2e_sleep_ms(10);
	}
	return -1;
}

static void stop_pid(pid_t *pid)
{
	if (*pid <= 0)
		return;
	kill(-*pid, SIGTERM);
	kill(*pid, SIGTERM);
	waitpid(*pid, NULL, 0);
	*pid = 0;
}

bool s3srv_start(struct s3srv *s, const char *const *buckets, char *why,
		 size_t len)
{
	const char *bin = getenv("SPATE_S3RVER");
	char path[4096], log[4096], data[4096];
	const char *argv[64];
	int n = 0, port;

	memset(s, 0, sizeof(*s));
	if (!bin) {
		snprintf(path, sizeof(path),
			 "%s/build/npm/node_modules/.bin/s3rver",
			 e2e_source_dir());
		bin = path;
	}
	if (access(bin, X_OK)) {
		snprintf(why, len,
			 "s3rver is not installed at %s (scripts/deps installs "
			 "it)",
			 bin);
		return false;
	}
	s->dir = e2e_tmpdir();
	snprintf(log, sizeof(log), "%s/s3rver.log", s->dir);
	snprintf(data, sizeof(data), "%s/data", s->dir);
	mkdir(data, 0700);
	argv[n++] = "node";
	/* s3rver's continuation tokens use DES, legacy in OpenSSL 3 */
	argv[n++] = "--openssl-legacy-provider";
	argv[n++] = bin;
	argv[n++] = "-d";
	argv[n++] = data;
	argv[n++] = "-a";
	argv[n++] = "127.0.0.1";
	argv[n++] = "-p";
	argv[n++] = "0";
	argv[n++] = "--silent";
	for (int i = 0; buckets && buckets[i] && n < 60; i++) {
		argv[n++] = "--configure-bucket";
		argv[n++] = buckets[i];
	}
	argv[n] = NULL;
	s->pid = spawn(argv, log);
	if ((port = wait_port(s->pid, log)) < 0) {
		snprintf(why, len, "s3rver did not start (log: %s)", log);
		stop_pid(&s->pid);
		return false;
	}
	snprintf(s->endpoint, sizeof(s->endpoint), "http://127.0.0.1:%d", port);
	return true;
}

bool s3srv_proxy_start(struct s3srv *s, const char *const *extra, char *why,
		       size_t len)
{
	char script[4096], log[4096], up[16];
	const char *argv[32];
	int n = 0, port;

	stop_pid(&s->proxy_pid);
	snprintf(script, sizeof(script), "%s/tests/support/s3_sigv4_proxy.py",
		 e2e_source_dir());
	snprintf(log, sizeof(log), "%s/proxy.out", s->dir);
	free(s->proxy_log);
	s->proxy_log = e2e_join(s->dir, "proxy.log");
	unlink(s->proxy_log);
	snprintf(up, sizeof(up), "%s", strrchr(s->endpoint, ':') + 1);
	argv[n++] = "python3";
	argv[n++] = script;
	argv[n++] = "--upstream";
	argv[n++] = up;
	argv[n++] = "--log";
	argv[n++] = s->proxy_log;
	for (int i = 0; extra && extra[i] && n < 30; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	s->proxy_pid = spawn(argv, log);
	if ((port = wait_port(s->proxy_pid, log)) < 0) {
		snprintf(why, len, "the SigV4 proxy did not start (see %s)",
			 log);
		stop_pid(&s->proxy_pid);
		return false;
	}
	snprintf(s->proxy_endpoint, sizeof(s->proxy_endpoint),
		 "http://127.0.0.1:%d", port);
	return true;
}

int s3srv_proxy_count(const struct s3srv *s, const char *verdict)
{
	size_t len, vl = strlen(verdict);
	char *t = s->proxy_log ? e2e_read(s->proxy_log, &len) : NULL;
	int n = 0;

	for (char *p = t; p && *p;) {
		if (!strncmp(p, verdict, vl))
			n++;
		char *nl = strchr(p, '\n');
		p = nl ? nl + 1 : NULL;
	}
	free(t);
	return n;
}

void s3srv_stop(struct s3srv *s)
{
	stop_pid(&s->proxy_pid);
	stop_pid(&s->pid);
	if (s->dir)
		e2e_rmrf(s->dir);
	free(s->dir);
	free(s->proxy_log);
	memset(s, 0, sizeof(*s));
}

/* curl ARGS... > out; its exit status. */
static int curl_cmd(const char *const *args, const char *out)
{
	const char *argv[32] = {"curl",
				"-sS",
				"-f",
				"--aws-sigv4",
				"aws:amz:us-east-1:s3",
				"--user",
				"S3RVER:S3RVER",
				"-H",
				"x-amz-content-sha256: UNSIGNED-PAYLOAD",
				"-o",
				out};
	int n = 11, st;

	for (int i = 0; args[i] && n < 31; i++)
		argv[n++] = args[i];
	argv[n] = NULL;
	pid_t pid = fork();
	if (pid == 0) {
		execvp("curl", (char *const *)argv);
		_exit(127);
	}
	if (pid < 0 || waitpid(pid, &st, 0) < 0)
		return -1;
	return WIFEXITED(st) ? WEXITSTATUS(st) : -1;
}

static char *url(const struct s3srv *s, const char *bucket, const char *key)
{
	char *u;

	if (asprintf(&u, "%s/%s/%s", s->endpoint, bucket, key) < 0)
		return NULL;
	return u;
}

int s3srv_put(const struct s3srv *s, const char *bucket, const char *key,
	      const char *file)
{
	char *u = url(s, bucket, key);
	const char *args[] = {"-T", file, u, NULL};
	int rc = curl_cmd(args, "/dev/null");

	free(u);
	return rc ? -1 : 0;
}

char *s3srv_get(const struct s3srv *s, const char *bucket, const char *key,
		size_t *len)
{
	char *u = url(s, bucket, key), *out = e2e_join(s->dir, "get.out");
	const char *args[] = {u, NULL};
	char *data = NULL;

	unlink(out);
	if (curl_cmd(args, out) == 0)
		data = e2e_read(out, len);
	free(u);
	free(out);
	return data;
}

/* The <Key> values of the XML document at u, one a line ("" when it
 * cannot be read, or NULL when strict). */
static char *keys_at(const struct s3srv *s, const char *u, bool strict)
{
	char *out = e2e_join(s->dir, "list.out");
	struct e2e_text t = {0};
	const char *args[] = {u, NULL};
	size_t len;

	e2e_text_add(&t, "", 0);
	char *doc = u && curl_cmd(args, out) == 0 ? e2e_read(out, &len) : NULL;
	if (!doc && strict) {
		free(t.p);
		t.p = NULL;
	}
	for (char *p = doc; p && (p = strstr(p, "<Key>"));) {
		char *e = strstr(p, "</Key>");
		if (!e)
			break;
		e2e_text_add(&t, p + 5, (size_t)(e - p - 5));
		e2e_text_add(&t, "\n", 1);
		p = e;
	}
	free(doc);
	free(out);
	return t.p;
}

char *s3srv_keys(const struct s3srv *s, const char *bucket, const char *prefix)
{
	char *u, *keys;

	if (asprintf(&u, "%s/%s/?list-type=2&max-keys=1000&prefix=%s",
		     s->endpoint, bucket, prefix) < 0)
		u = NULL;
	keys = keys_at(s, u, false);
	free(u);
	return keys;
}

char *s3srv_uploads(const struct s3srv *s, const char *bucket,
		    const char *prefix)
{
	char *u, *keys;

	struct e2e_text p = {0};

	e2e_text_add(&p, "", 0);
	for (const char *c = prefix; *c; c++)
		e2e_text_printf(&p, *c == '/' ? "%%2F" : "%c", *c);
	/* curl signs the query as written: its parameters sorted */
	if (asprintf(&u, "%s/%s?prefix=%s&uploads=", s->proxy_endpoint,
		     bucket, p.p) < 0)
		u = NULL;
	keys = keys_at(s, u, true);
	free(p.p);
	free(u);
	return keys;
}
