/*
 * The plain-syscall I/O backend: used where io_uring is unavailable (old
 * kernels, seccomp filters in containers, kernel.io_uring_disabled) or when
 * SPATE_IO=sync asks for it.  Queued operations wait in a FIFO and run one
 * at a time, pread/pwrite (read() for streams) retried on EINTR, when the
 * common code reaps; their completions run right after each call, so a
 * writer's done() callbacks fire inside the same sp_io_* call.
 */
#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <unistd.h>

#include "io/fileio.h"

struct sync_io {
	struct sp_io_op *head;
	struct sp_io_op *tail;
};

static int sync_init(unsigned depth, void **priv)
{
	struct sync_io *s = calloc(1, sizeof(*s));

	(void)depth;
	if (!s)
		return -ENOMEM;
	*priv = s;
	return 0;
}

static void sync_fini(void *priv)
{
	free(priv);
}

static int sync_register_buffers(void *priv, const struct iovec *iov,
				 unsigned n)
{
	(void)priv;
	(void)iov;
	(void)n;
	return 0;
}

static void sync_unregister_buffers(void *priv)
{
	(void)priv;
}

static void sync_queue(void *priv, struct sp_io_op *op)
{
	struct sync_io *s = priv;

	op->next = NULL;
	if (s->tail)
		s->tail->next = op;
	else
		s->head = op;
	s->tail = op;
}

static int sync_submit(void *priv)
{
	(void)priv;
	return 0;
}

static ssize_t sync_run(const struct sp_io_op *op)
{
	ssize_t n;

	if (op->fault)
		return op->fault;
	do {
		if (op->kind == SP_IO_OP_WRITE)
			n = pwrite(op->fd, op->buf, op->len, (off_t)op->off);
		else if (op->off == UINT64_MAX)
			n = read(op->fd, op->buf, op->len);
		else
			n = pread(op->fd, op->buf, op->len, (off_t)op->off);
	} while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int sync_reap(void *priv, bool wait)
{
	struct sync_io *s = priv;

	(void)wait; /* every queued operation completes right here */
	while (s->head) {
		struct sp_io_op *op = s->head;
		ssize_t n;

		s->head = op->next;
		if (!s->head)
			s->tail = NULL;
		n = sync_run(op);
		op->complete(op, (int)n);
	}
	return 0;
}

const struct sp_io_backend sp_io_backend_sync = {
    .name = "sync",
    .init = sync_init,
    .fini = sync_fini,
    .register_buffers = sync_register_buffers,
    .unregister_buffers = sync_unregister_buffers,
    .queue = sync_queue,
    .submit = sync_submit,
    .reap = sync_reap,
};
