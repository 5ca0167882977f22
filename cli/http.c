/*
 * The HTTP server of `spate run --http`.  One thread polls the listening
 * socket and a wake-up pipe; each connection is read up to its blank line
 * (8 KiB at most, 2 s at most), answered by the handler and closed.  Only
 * GET and HEAD; anything else is 405, a malformed request 400.  Small on
 * purpose: it serves a status page, health checks and Prometheus scrapes
 * on loopback, not the public.
 */
#define _GNU_SOURCE
#include "cli/http.h"

#include <errno.h>
#include <fcntl.h>
#include <stdbool.h>
#include <netdb.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/time.h>
#include <unistd.h>

#define MAX_REQUEST 8192
#define IO_TIMEOUT_S 2

struct cli_http {
	int fd;
	int wake[2]; /* write a byte to [1] to stop the thread */
	cli_http_handler handler;
	void *arg;
	pthread_t thread;
	bool started;
	char url[NI_MAXHOST + NI_MAXSERV + 16];
};

/* host and port of addr into host/port; false when it has no port */
static bool split_addr(const char *addr, char *host, size_t hlen, char *port,
		       size_t plen)
{
	const char *colon = strrchr(addr, ':');
	const char *h = addr, *p = colon ? colon + 1 : addr;
	size_t n = colon ? (size_t)(colon - addr) : 0;

	if (n >= 2 && h[0] == '[' && h[n - 1] == ']') {
		h++;
		n -= 2;
	}
	if (!*p || strspn(p, "0123456789") != strlen(p) || strlen(p) > 5 ||
	    n >= hlen || strlen(p) >= plen)
		return false;
	if (n)
		snprintf(host, hlen, "%.*s", (int)n, h);
	else
		snprintf(host, hlen, "127.0.0.1");
	snprintf(port, plen, "%s", p);
	return atoi(p) <= 65535;
}

static int bind_one(const char *host, const char *port, char *err,
		    size_t errlen)
{
	struct addrinfo hints = {.ai_family = AF_UNSPEC,
				 .ai_socktype = SOCK_STREAM,
				 .ai_flags = AI_PASSIVE | AI_NUMERICSERV};
	struct addrinfo *ai;
	int rc = getaddrinfo(host, port, &hints, &ai);

	if (rc) {
		snprintf(err, errlen, "cannot resolve '%s': %s", host,
			 gai_strerror(rc));
		return -EINVAL;
	}
	int fd = socket(ai->ai_family, SOCK_STREAM | SOCK_CLOEXEC, 0);
	int one = 1;
	rc = fd < 0 ? -errno : 0;
	if (!rc)
		setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
	if (!rc && bind(fd, ai->ai_addr, ai->ai_addrlen))
		rc = -errno;
	if (!rc && listen(fd, 16))
		rc = -errno;
	freeaddrinfo(ai);
	if (rc) {
		snprintf(err, errlen, "cannot listen on %s:%s: %s", host, port,
			 strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc;
	}
	return fd;
}

/* the URL of the bound socket (the port 0 picked, too) */
static void make_url(struct cli_http *h)
{
	struct sockaddr_storage ss;
	socklen_t len = sizeof(ss);
	char host[NI_MAXHOST], port[NI_MAXSERV];

	if (getsockname(h->fd, (struct sockaddr *)&ss, &len) ||
	    getnameinfo((struct sockaddr *)&ss, len, host, sizeof(host), port,
			sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV)) {
		snprintf(h->url, sizeof(h->url), "http://?/");
		return;
	}
	bool v6 = ss.ss_family == AF_INET6;
	snprintf(h->url, sizeof(h->url), "http://%s%s%s:%s/", v6 ? "[" : "",
		 host, v6 ? "]" : "", port);
}

int cli_http_create(const char *addr, cli_http_handler handler, void *arg,
		    struct cli_http **out, char *err, size_t errlen)
{
	char host[256], port[8];

	*out = NULL;
	if (!split_addr(addr, host, sizeof(host), port, sizeof(port))) {
		snprintf(err, errlen,
			 "'%s': give PORT, HOST:PORT or [V6]:PORT (PORT 0 to "
			 "65535)",
			 addr);
		return -EINVAL;
	}
	struct cli_http *h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->fd = bind_one(host, port, err, errlen);
	if (h->fd < 0) {
		int rc = h->fd;
		free(h);
		return rc;
	}
	if (pipe2(h->wake, O_CLOEXEC)) {
		int rc = -errno;
		close(h->fd);
		free(h);
		return rc;
	}
	h->handler = handler;
	h->arg = arg;
	make_url(h);
	*out = h;
	return 0;
}

const char *cli_http_url(const struct cli_http *h)
{
	return h->url;
}

static const char *reason(int status)
{
	switch (status) {
	case 200:
		return "OK";
	case 400:
		return "Bad Request";
	case 404:
		return "Not Found";
	case 405:
		return "Method Not Allowed";
	case 503:
		return "Service Unavailable";
	default:
		return "Internal Server Error";
	}
}

static void send_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
		if (k <= 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return;
		p += k;
		n -= (size_t)k;
	}
}

static void respond(int fd, struct cli_http_reply *r, bool head)
{
	char hdr[512];
	int n = snprintf(hdr, sizeof(hdr),
			 "HTTP/1.1 %d %s\r\nContent-Type: %s\r\n"
			 "Content-Length: %zu\r\nCache-Control: no-store\r\n"
			 "Connection: close\r\n\r\n",
			 r->status, reason(r->status), r->type, r->body.len);

	send_all(fd, hdr, (size_t)n);
	if (!head)
		send_all(fd, r->body.data, r->body.len);
}

/* Reads the request head into buf (NUL-terminated): its length, or -1 */
static ssize_t read_head(int fd, char *buf, size_t cap)
{
	size_t len = 0;

	while (len < cap - 1) {
		ssize_t k = recv(fd, buf + len, cap - 1 - len, 0);
		if (k < 0 && errno == EINTR)
			continue;
		if (k <= 0)
			return -1;
		len += (size_t)k;
		buf[len] = '\0';
		if (strstr(buf, "\r\n\r\n") || strstr(buf, "\n\n"))
			return (ssize_t)len;
	}
	return -1;
}

static void serve(struct cli_http *h, int fd)
{
	static __thread char buf[MAX_REQUEST];
	struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
	struct cli_http_reply r = {.status = 200,
				   .type = "text/plain; charset=utf-8"};

	setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof(tv));
	setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
	sp_buf_init(&r.body);
	char method[8], path[1024];
	if (read_head(fd, buf, sizeof(buf)) < 0 ||
	    sscanf(buf, "%7s %1023s HTTP/1.%*c", method, path) != 2 ||
	    path[0] != '/') {
		r.status = 400;
		sp_buf_append(&r.body, "bad request\n", 12);
		respond(fd, &r, false);
	} else if (strcmp(method, "GET") && strcmp(method, "HEAD")) {
		r.status = 405;
		sp_buf_append(&r.body, "GET only\n", 9);
		respond(fd, &r, false);
	} else {
		path[strcspn(path, "?#")] = '\0';
		h->handler(h->arg, path, &r);
		respond(fd, &r, !strcmp(method, "HEAD"));
	}
	sp_buf_fini(&r.body);
}

static void *http_main(void *arg)
{
	struct cli_http *h = arg;
	struct pollfd p[2] = {{.fd = h->fd, .events = POLLIN},
			      {.fd = h->wake[0], .events = POLLIN}};

	for (;;) {
		if (poll(p, 2, -1) < 0 && errno != EINTR)
			break;
		if (p[1].revents)
			break;
		if (!(p[0].revents & POLLIN))
			continue;
		int fd = accept4(h->fd, NULL, NULL, SOCK_CLOEXEC);
		if (fd < 0)
			continue;
		serve(h, fd);
		close(fd);
	}
	return NULL;
}

int cli_http_start(struct cli_http *h)
{
	int rc = pthread_create(&h->thread, NULL, http_main, h);

	if (rc)
		return -rc;
	h->started = true;
	return 0;
}

void cli_http_destroy(struct cli_http *h)
{
	if (!h)
		return;
	if (h->started) {
		char c = 0;
		while (write(h->wake[1], &c, 1) < 0 && errno == EINTR)
			;
		pthread_join(h->thread, NULL);
	}
	close(h->wake[0]);
	close(h->wake[1]);
	close(h->fd);
	free(h);
}
