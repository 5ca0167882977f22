/*
 * Workers' rows for a table load (db/dbload.h): encode per worker, send
 * under one lock, keep the first failure.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/dbload.h"

void sp_dbload_init(struct sp_dbload *l)
{
	pthread_mutex_init(&l->lock, NULL);
	l->error = 0;
	l->errmsg[0] = '\0';
	atomic_init(&l->rows_sent, 0);
	atomic_init(&l->bytes_sent, 0);
}

void sp_dbload_fini(struct sp_dbload *l)
{
	pthread_mutex_destroy(&l->lock);
}

static int start_buffer(struct sp_dbload_worker *w)
{
	const char *p = w->l->prefix;

	w->buf.len = 0;
	return p ? sp_buf_append(&w->buf, p, strlen(p)) : 0;
}

struct sp_dbload_worker *sp_dbload_worker_create(struct sp_dbload *l)
{
	struct sp_dbload_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->l = l;
	sp_buf_init(&w->buf);
	sp_arena_init(&w->arena, 64 << 10);
	if (start_buffer(w)) {
		sp_dbload_worker_destroy(w);
		return NULL;
	}
	return w;
}

void sp_dbload_worker_destroy(struct sp_dbload_worker *w)
{
	if (!w)
		return;
	sp_buf_fini(&w->buf);
	sp_arena_fini(&w->arena);
	free(w);
}

int64_t sp_dbload_flush(struct sp_dbload_worker *w)
{
	struct sp_dbload *l = w->l;
	int64_t sent = (int64_t)w->buf.len;
	int rc;

	if (!w->rows)
		return 0;
	pthread_mutex_lock(&l->lock);
	rc = l->error;
	if (!rc) {
		rc = l->send(l->arg, w->buf.data, w->buf.len, l->errmsg,
			     sizeof(l->errmsg));
		if (rc) {
			l->error = rc;
			sp_log_error("%s %s", l->who, l->errmsg);
		}
	}
	pthread_mutex_unlock(&l->lock);
	atomic_fetch_add(&l->rows_sent, w->rows);
	atomic_fetch_add(&l->bytes_sent, w->buf.len);
	w->rows = 0;
	if (start_buffer(w))
		return -ENOMEM;
	return rc ? rc : sent;
}

int sp_dbload_stage(struct sp_dbload_worker *w, struct sp_batch *b,
		    const uint32_t *sel, uint32_t n)
{
	int64_t rc = sp_db_encode(w->l->cols, w->l->fmt, b, sel, n, &w->arena,
				  &w->buf, &w->rows);

	sp_arena_reset(&w->arena);
	if (!rc && w->buf.len >= w->l->send_bytes)
		rc = sp_dbload_flush(w);
	return rc < 0 ? (int)rc : 0;
}

int sp_dbload_error(struct sp_dbload *l, char *err, size_t errlen)
{
	int rc;

	pthread_mutex_lock(&l->lock);
	rc = l->error;
	if (rc)
		snprintf(err, errlen, "%s", l->errmsg);
	pthread_mutex_unlock(&l->lock);
	return rc;
}
