/*
 * A real S3-compatible server for tests: s3rver (npm s3rver@3.7.1, which
 * scripts/deps installs into build/npm; SPATE_S3RVER names another
 * binary) started on loopback in a temporary folder, and optionally the
 * signature-checking proxy tests/support/s3_sigv4_proxy.py in front of
 * it.  Both are stopped (and the folder removed) by s3srv_stop.
 */
#ifndef SPATE_TESTS_S3SRV_H
#define SPATE_TESTS_S3SRV_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct s3srv {
	pid_t pid, proxy_pid;
	char *dir;
	char endpoint[64];	 /* http://127.0.0.1:PORT of s3rver */
	char proxy_endpoint[64]; /* of the proxy, once started */
	char *proxy_log;	 /* the proxy's request log */
};

/* Starts s3rver with the buckets named (NULL-terminated).  false when it
 * is not installed: why then says so (the caller skips). */
bool s3srv_start(struct s3srv *s, const char *const *buckets, char *why,
		 size_t len);

/* Starts the checking proxy in front (extra: its options, NULL-terminated,
 * may be NULL); stops a proxy started before.  false when python3 cannot
 * run it. */
bool s3srv_proxy_start(struct s3srv *s, const char *const *extra, char *why,
		       size_t len);

/* Lines of the proxy log starting with verdict ("OK ", "BADSIG " ...). */
int s3srv_proxy_count(const struct s3srv *s, const char *verdict);

void s3srv_stop(struct s3srv *s);

/* Through the curl command (signed as S3RVER), on s3rver itself:
 * uploads file as bucket/key (0 or -1); the object's bytes (NULL when
 * missing; *len its size); the keys under prefix, one a line, sorted. */
int s3srv_put(const struct s3srv *s, const char *bucket, const char *key,
	      const char *file);
char *s3srv_get(const struct s3srv *s, const char *bucket, const char *key,
		size_t *len);
char *s3srv_keys(const struct s3srv *s, const char *bucket,
		 const char *prefix);
/* Through the proxy: the keys of the multipart uploads under prefix that
 * are neither completed nor aborted, one a line; NULL when the listing
 * fails. */
char *s3srv_uploads(const struct s3srv *s, const char *bucket,
		    const char *prefix);

/* Skips the calling Criterion test when s3rver is missing, else starts
 * it into *s. */
#define S3SRV_START_OR_SKIP(s, ...)                                            \
	do {                                                                   \
		static const char *const b_[] = {__VA_ARGS__, NULL};           \
		char why_[256];                                                \
		if (!s3srv_start((s), b_, why_, sizeof(why_)))                 \
			cr_skip_test("%s", why_);                              \
	} while (0)

#endif
