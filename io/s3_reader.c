/*
 * One S3 object read in ranges: up to nblocks ranged GETs of block_size
 * bytes in flight at once on curl's multi interface (each on its own
 * connection), handed out strictly in object order, the same contract as
 * the file reader of io/fileio.h.  A range that fails transiently is
 * retried after its backoff while the others go on; a final failure
 * sticks and is returned by every later next().
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/s3_req.h"

enum blk_state { BLK_FREE, BLK_FLIGHT, BLK_WAIT, BLK_READY, BLK_HELD };

struct blk {
	enum blk_state state;
	char *buf;
	uint64_t off;
	size_t want;
	uint64_t due_ms; /* BLK_WAIT: when to try again */
	CURL *h;
	struct s3_req req;
};

struct sp_s3_reader {
	struct sp_s3 *s3;
	char *bucket, *key;
	uint64_t size, issued, delivered;
	size_t block_size;
	unsigned n;
	int err;
	CURLM *multi;
	struct blk *b;
};

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

static int start(struct sp_s3_reader *r, struct blk *b)
{
	int rc;

	curl_easy_reset(b->h);
	sp_s3_req_clear(&b->req);
	b->req = (struct s3_req){.method = "GET",
				 .bucket = r->bucket,
				 .key = r->key,
				 .ranged = true,
				 .range_off = b->off,
				 .range_len = b->want,
				 .buf = b->buf,
				 .cap = b->want,
				 .tries = b->req.tries,
				 .resp = b->req.resp};
	if ((rc = sp_s3_req_setup(r->s3, b->h, &b->req)))
		return rc;
	curl_easy_setopt(b->h, CURLOPT_PRIVATE, b);
	b->req.tries++;
	if (curl_multi_add_handle(r->multi, b->h) != CURLM_OK)
		return -ENOMEM;
	b->state = BLK_FLIGHT;
	return 0;
}

/* Starts ranges on free blocks up to the end of the object. */
static int issue(struct sp_s3_reader *r)
{
	for (unsigned i = 0; i < r->n && r->issued < r->size; i++) {
		struct blk *b = &r->b[i];
		if (b->state != BLK_FREE)
			continue;
		b->off = r->issued;
		b->want = r->size - b->off < r->block_size
			      ? (size_t)(r->size - b->off)
			      : r->block_size;
		b->req.tries = 0;
		r->issued += b->want;
		int rc = start(r, b);
		if (rc)
			return rc;
	}
	return 0;
}

static int finished(struct sp_s3_reader *r, struct blk *b, CURLcode cc)
{
	bool retry;
	int rc;

	curl_multi_remove_handle(r->multi, b->h);
	rc = sp_s3_req_outcome(r->s3, &b->req, cc, &retry);
	if (!rc && b->req.got != b->want) {
		snprintf(r->s3->error, sizeof(r->s3->error),
			 "S3 GET s3://%s/%s: %zu bytes at offset %llu where "
			 "%zu were asked for (did the object change?)",
			 r->bucket, r->key, b->req.got,
			 (unsigned long long)b->off, b->want);
		return -EIO;
	}
	if (!rc) {
		b->state = BLK_READY;
		return 0;
	}
	if (!retry)
		return rc;
	b->due_ms = now_ms() + sp_s3_req_note_retry(r->s3, &b->req, cc);
	b->state = BLK_WAIT;
	return 0;
}

/* Runs transfers until something finished or ~100 ms passed. */
static int pump(struct sp_s3_reader *r)
{
	int running, left, rc = 0;
	CURLMsg *m;
	uint64_t now = now_ms();

	for (unsigned i = 0; i < r->n; i++)
		if (r->b[i].state == BLK_WAIT && r->b[i].due_ms <= now &&
		    (rc = start(r, &r->b[i])))
			return rc;
	if (curl_multi_perform(r->multi, &running) != CURLM_OK)
		return -EIO;
	while ((m = curl_multi_info_read(r->multi, &left))) {
		struct blk *b;
		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, &b);
		if ((rc = finished(r, b, m->data.result)))
			return rc;
	}
	if (running &&
	    curl_multi_poll(r->multi, NULL, 0, 100, NULL) != CURLM_OK)
		return -EIO;
	if (!running)
		for (unsigned i = 0; i < r->n; i++)
			if (r->b[i].state == BLK_WAIT) {
				struct timespec ts = {0, 5 * 1000000};
				nanosleep(&ts, NULL);
				break;
			}
	return 0;
}

int sp_s3_reader_open(struct sp_s3 *s3, const char *bucket, const char *key,
		      uint64_t size, size_t block_size, unsigned nblocks,
		      struct sp_s3_reader **out)
{
	struct sp_s3_reader *r;

	if (!block_size || !nblocks)
		return -EINVAL;
	if (!(r = calloc(1, sizeof(*r))))
		return -ENOMEM;
	r->s3 = s3;
	r->size = size;
	r->block_size = block_size;
	r->n = nblocks;
	r->bucket = strdup(bucket);
	r->key = strdup(key);
	r->multi = curl_multi_init();
	r->b = calloc(nblocks, sizeof(*r->b));
	if (!r->bucket || !r->key || !r->multi || !r->b)
		goto nomem;
	for (unsigned i = 0; i < nblocks; i++) {
		r->b[i].buf = malloc(block_size);
		r->b[i].h = curl_easy_init();
		sp_buf_init(&r->b[i].req.resp);
		if (!r->b[i].buf || !r->b[i].h)
			goto nomem;
	}
	if ((r->err = issue(r)))
		goto fail;
	*out = r;
	return 0;
nomem:
	r->err = -ENOMEM;
fail:;
	int rc = r->err;
	sp_s3_reader_close(r);
	return rc;
}

int sp_s3_reader_next(struct sp_s3_reader *r, const char **data, size_t *len)
{
	struct blk *b = NULL;

	if (r->err)
		return r->err;
	if (r->delivered >= r->size)
		return 0;
	for (unsigned i = 0; i < r->n; i++)
		if (r->b[i].state != BLK_FREE && r->b[i].state != BLK_HELD &&
		    r->b[i].off == r->delivered)
			b = &r->b[i];
	if (!b)
		return -ENOBUFS;
	while (b->state != BLK_READY)
		if ((r->err = pump(r)))
			return r->err;
	b->state = BLK_HELD;
	*data = b->buf;
	*len = b->want;
	r->delivered += b->want;
	return 1;
}

void sp_s3_reader_release(struct sp_s3_reader *r, const char *data)
{
	for (unsigned i = 0; i < r->n; i++)
		if (r->b[i].buf == data && r->b[i].state == BLK_HELD) {
			r->b[i].state = BLK_FREE;
			if (!r->err)
				r->err = issue(r);
			return;
		}
}

void sp_s3_reader_close(struct sp_s3_reader *r)
{
	if (!r)
		return;
	for (unsigned i = 0; r->b && i < r->n; i++) {
		struct blk *b = &r->b[i];
		if (b->state == BLK_FLIGHT)
			curl_multi_remove_handle(r->multi, b->h);
		if (b->h)
			curl_easy_cleanup(b->h);
		sp_s3_req_fini(&b->req);
		free(b->buf);
	}
	if (r->multi)
		curl_multi_cleanup(r->multi);
	free(r->b);
	free(r->bucket);
	free(r->key);
	free(r);
}
