/*
 * One S3 request as io/s3_client.c and io/s3_reader.c build, send and
 * judge it (internal to io/s3*.c: with io/curl_api.h, which includes curl.h).
 */
#ifndef SPATE_IO_S3_REQ_H
#define SPATE_IO_S3_REQ_H

#include "io/curl_api.h"

#include "core/buf.h"
#include "io/s3.h"

struct sp_s3 {
	struct sp_s3_config cfg;
	CURL *easy;
	char sigv4[128]; /* "aws:amz:REGION:s3" */
	char error[1024];
	char error_code[64]; /* S3's <Code> of the last failure, or "" */
	long error_status;   /* its HTTP status, 0 when none came */
	uint64_t retries;
};

struct s3_req {
	/* set by the caller */
	const char *method; /* GET HEAD PUT POST DELETE */
	const char *bucket;
	const char *key;   /* "" or NULL: the bucket itself */
	const char *query; /* sorted, encoded, without '?'; NULL: none */
	bool ranged;
	uint64_t range_off;
	size_t range_len;
	const void *body;
	size_t body_len;
	char *buf; /* a 2xx body goes here (up to cap) when not NULL */
	size_t cap;
	/* results */
	size_t got;	    /* bytes into buf */
	struct sp_buf resp; /* a 2xx body without buf; any error body */
	long status;
	unsigned tries;
	/* owned while set up */
	char *url;
	struct curl_slist *headers;
	CURL *h;
};

/* Prepares easy handle h for r (after curl_easy_reset).  0 or -ENOMEM /
 * -ENAMETOOLONG. */
int sp_s3_req_setup(struct sp_s3 *s3, CURL *h, struct s3_req *r);

/* Judges a finished transfer (cc: curl's result).  0 when it succeeded;
 * else -errno with *retry set when it may be tried again, and, when it
 * may not, the message in s3->error. */
int sp_s3_req_outcome(struct sp_s3 *s3, struct s3_req *r, CURLcode cc,
		      bool *retry);

/* Sends r on the client's own handle, retrying as allowed. */
int sp_s3_req_run(struct sp_s3 *s3, struct s3_req *r);

/* Forgets a try's output (before the next try). */
void sp_s3_req_clear(struct s3_req *r);
void sp_s3_req_fini(struct s3_req *r);

/* Whether one more try is allowed after r->tries tries. */
bool sp_s3_req_may_retry(const struct sp_s3 *s3, const struct s3_req *r);
/* Logs a retry about to happen (warn), counts it, returns the wait. */
unsigned sp_s3_req_note_retry(struct sp_s3 *s3, const struct s3_req *r,
			      CURLcode cc);

#endif
