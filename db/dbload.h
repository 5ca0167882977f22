/*
 * The worker side of a table load, shared by the database destinations:
 * each worker converts its records into rows in its own buffer (db/dbcol.h;
 * a record that does not fit becomes a record error) and, once the buffer
 * is large or its batch ends, hands the rows to the destination's send
 * callback under one lock, so rows of different workers never interleave
 * and the connection has one user at a time.  A failed send sticks: later
 * sends fail at once, and the message is kept for prepare().
 *
 * Threads: init/fini/error on the controlling thread; the worker calls on
 * worker threads, each with its own sp_dbload_worker.
 */
#ifndef SPATE_DB_DBLOAD_H
#define SPATE_DB_DBLOAD_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "db/dbcol.h"

struct sp_dbload {
	const struct sp_dbcols *cols;
	enum sp_db_format fmt;
	const char *prefix; /* put before each buffer of rows (INSERT ...) */
	size_t send_bytes;  /* a worker sends once it holds this much */
	/* sends rows (called under the lock); 0 or -errno with err */
	int (*send)(void *arg, const char *p, size_t n, char *err,
		    size_t errlen);
	void *arg;
	const char *who; /* "[destination:postgres:id]" for the log */
	pthread_mutex_t lock;
	int error; /* under lock */
	char errmsg[512];
	atomic_uint_fast64_t rows_sent, bytes_sent;
};

struct sp_dbload_worker {
	struct sp_dbload *l;
	struct sp_buf buf;
	struct sp_arena arena;
	uint64_t rows;
};

/* The caller sets cols, fmt, prefix, send_bytes, send, arg and who. */
void sp_dbload_init(struct sp_dbload *l);
void sp_dbload_fini(struct sp_dbload *l);

struct sp_dbload_worker *sp_dbload_worker_create(struct sp_dbload *l);
void sp_dbload_worker_destroy(struct sp_dbload_worker *w);

/* Converts records sel[0..n) of b; sends when the buffer is full.  0 or
 * -errno (the send failed: the run fails). */
int sp_dbload_stage(struct sp_dbload_worker *w, struct sp_batch *b,
		    const uint32_t *sel, uint32_t n);
/* Sends what the worker holds: bytes sent (>= 0) or -errno. */
int64_t sp_dbload_flush(struct sp_dbload_worker *w);

/* The sticky error (0 when none), its message copied to err. */
int sp_dbload_error(struct sp_dbload *l, char *err, size_t errlen);

#endif
