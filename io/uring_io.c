/*
 * The io_uring I/O backend: the only file that includes liburing.h.
 * Operations are prepared as SQEs as they are queued and handed to the
 * kernel in bursts (one io_uring_enter for everything queued since the last
 * submit); completions are reaped without a system call while the CQ ring
 * holds entries, and io_uring_submit_and_wait blocks only when the caller
 * needs a completion to go on.  Buffers of queued operations belong to the
 * kernel until their CQE is reaped (liburing's io_uring-cp pattern).  The
 * CQ ring is twice the depth and at most depth operations are in flight,
 * so it never overflows.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <liburing.h>

#include "io/fileio.h"

struct uring_io {
	struct io_uring ring;
	unsigned inflight;
	bool registered;
};

static int uring_init(unsigned depth, void **priv)
{
	struct io_uring_params p = {0};
	struct uring_io *u;
	int rc;

	u = calloc(1, sizeof(*u));
	if (!u)
		return -ENOMEM;
	/* completion work runs when we enter the kernel anyway, no IPIs */
	p.flags = IORING_SETUP_COOP_TASKRUN;
	rc = io_uring_queue_init_params(depth, &u->ring, &p);
	if (rc == -EINVAL) { /* kernel older than 5.19 */
		memset(&p, 0, sizeof(p));
		rc = io_uring_queue_init_params(depth, &u->ring, &p);
	}
	if (rc < 0) {
		free(u);
		return rc;
	}
	*priv = u;
	return 0;
}

static void uring_fini(void *priv)
{
	struct uring_io *u = priv;

	io_uring_queue_exit(&u->ring);
	free(u);
}

static int uring_register_buffers(void *priv, const struct iovec *iov,
				  unsigned n)
{
	struct uring_io *u = priv;
	int rc;

	if (u->registered)
		return -EBUSY;
	rc = io_uring_register_buffers(&u->ring, iov, n);
	if (rc < 0)
		return rc;
	u->registered = true;
	return 0;
}

static void uring_unregister_buffers(void *priv)
{
	struct uring_io *u = priv;

	if (!u->registered)
		return;
	io_uring_unregister_buffers(&u->ring);
	u->registered = false;
}

static int uring_submit(void *priv)
{
	struct uring_io *u = priv;
	int rc;

	if (!io_uring_sq_ready(&u->ring))
		return 0;
	do
		rc = io_uring_submit(&u->ring);
	while (rc == -EINTR);
	return rc < 0 ? rc : 0;
}

static void uring_queue(void *priv, struct sp_io_op *op)
{
	struct uring_io *u = priv;
	struct io_uring_sqe *sqe;

	/* at most depth operations exist, so a slot frees once the SQ ring
	 * is handed over */
	while (!(sqe = io_uring_get_sqe(&u->ring)))
		uring_submit(u);

	if (op->fault)
		io_uring_prep_nop(sqe);
	else if (op->kind == SP_IO_OP_WRITE && op->buf_index >= 0)
		io_uring_prep_write_fixed(sqe, op->fd, op->buf,
					  (unsigned)op->len, op->off,
					  op->buf_index);
	else if (op->kind == SP_IO_OP_WRITE)
		io_uring_prep_write(sqe, op->fd, op->buf, (unsigned)op->len,
				    op->off);
	else /* off UINT64_MAX (-1): read at the file position */
		io_uring_prep_read(sqe, op->fd, op->buf, (unsigned)op->len,
				   op->off);
	io_uring_sqe_set_data(sqe, op);
	u->inflight++;
}

static int uring_reap(void *priv, bool wait)
{
	struct uring_io *u = priv;
	struct io_uring_cqe *cqe;
	int rc;

	rc = uring_submit(u);
	if (rc < 0)
		return rc;
	if (wait && u->inflight && !io_uring_cq_ready(&u->ring)) {
		do
			rc = io_uring_submit_and_wait(&u->ring, 1);
		while (rc == -EINTR);
		if (rc < 0)
			return rc;
	}
	/* copy and retire each CQE before its callback, which may queue */
	while (io_uring_peek_cqe(&u->ring, &cqe) == 0) {
		struct sp_io_op *op = io_uring_cqe_get_data(cqe);
		int res = cqe->res;

		io_uring_cqe_seen(&u->ring, cqe);
		u->inflight--;
		if (op->fault)
			res = op->fault;
		op->complete(op, res);
	}
	return 0;
}

const struct sp_io_backend sp_io_backend_uring = {
    .name = "io_uring",
    .init = uring_init,
    .fini = uring_fini,
    .register_buffers = uring_register_buffers,
    .unregister_buffers = uring_unregister_buffers,
    .queue = uring_queue,
    .submit = uring_submit,
    .reap = uring_reap,
};
