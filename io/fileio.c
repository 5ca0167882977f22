/*
 * File I/O common to both backends: backend choice, the pool of operation
 * slots that bounds what is in flight, the sequential block reader, the
 * appending writer, short read/write handling and fault injection.  The
 * backends (io/uring_io.c, io/sync_io.c) only start single operations and
 * report their results; everything that decides what to read or write
 * next lives here, so both backends behave the same.
 */
#define _GNU_SOURCE
#include "io/fileio.h"

#include <assert.h>
#include <errno.h>
#include <fcntl.h>
#include <linux/magic.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/vfs.h>
#include <unistd.h>

#include "core/hugemem.h"
#include "core/log.h"
#include "core/xxh64.h"

/* One operation moves at most this much (a CQE result is an int). */
#define SP_IO_MAX_OP ((size_t)1 << 30)

struct sp_io {
	const struct sp_io_backend *be;
	void *priv;
	unsigned depth;
	unsigned inflight; /* slots taken from the pool */
	struct sp_io_op *ops;
	struct sp_io_op *free_ops;
	struct iovec *reg; /* registered buffers */
	unsigned nreg;
	int fault_err;		 /* SPATE_FAULT_WRITE error, 0: none */
	unsigned long fault_nth; /* ... on this append of the process */
	size_t max_op;		 /* SPATE_FAULT_SHORT_IO or SP_IO_MAX_OP */
};

enum sp_io_block_state {
	SP_BLOCK_FREE,
	SP_BLOCK_READING,
	SP_BLOCK_READY,
	SP_BLOCK_HELD,
};

struct sp_io_block {
	char *buf;
	size_t len;
	size_t want;
	uint64_t seq;
	int state; /* enum sp_io_block_state */
	int err;
};

struct sp_io_reader {
	struct sp_io *io;
	int fd;
	bool stream;	 /* not a regular file: read(), one at a time */
	bool stream_eof; /* a stream read returned 0 */
	bool eof;	 /* end of file handed out */
	int err;	 /* first read error, sticky */
	uint64_t size;	 /* regular file size at open */
	uint64_t end;	 /* reads stop here (size, less if it shrank) */
	uint64_t next_off;
	uint64_t submit_seq;
	uint64_t deliver_seq;
	unsigned reading; /* blocks in flight */
	size_t block_size;
	unsigned nblocks;
	char *mem;
	size_t huge_len; /* mem's size when in huge pages, else 0 */
	struct sp_io_block blocks[];
};

struct sp_io_writer {
	struct sp_io *io;
	int fd;
	int err;	   /* first write error, sticky */
	unsigned inflight; /* appends not yet done() */
	uint64_t off;	   /* end of everything queued */
	uint64_t bytes;	   /* bytes the kernel took */
	XXH64_state_t hash; /* of everything queued, in file order */
};

/* appends of the process, counted only while a fault is configured */
static atomic_ulong sp_io_fault_count;
static atomic_flag sp_io_fallback_logged = ATOMIC_FLAG_INIT;

static void io_parse_faults(struct sp_io *io)
{
	const char *s = getenv("SPATE_FAULT_WRITE");
	char *end;

	io->max_op = SP_IO_MAX_OP;
	if (s && *s) {
		const char *colon = strchr(s, ':');
		unsigned long n = colon ? strtoul(colon + 1, &end, 10) : 0;
		size_t nlen = colon ? (size_t)(colon - s) : 0;

		if (nlen == 6 && !strncmp(s, "ENOSPC", 6))
			io->fault_err = -ENOSPC;
		else if (nlen == 3 && !strncmp(s, "EIO", 3))
			io->fault_err = -EIO;
		if (!io->fault_err || n == 0 || *end) {
			sp_log_warn("SPATE_FAULT_WRITE=%s ignored: expected "
				    "ENOSPC:<n> or EIO:<n> with n >= 1",
				    s);
			io->fault_err = 0;
		} else {
			io->fault_nth = n;
		}
	}
	s = getenv("SPATE_FAULT_SHORT_IO");
	if (s && *s) {
		unsigned long n = strtoul(s, &end, 10);

		if (n == 0 || *end)
			sp_log_warn("SPATE_FAULT_SHORT_IO=%s ignored: expected "
				    "a byte count >= 1",
				    s);
		else if (n < SP_IO_MAX_OP)
			io->max_op = n;
	}
}

static enum sp_io_kind io_kind_from_env(void)
{
	const char *s = getenv("SPATE_IO");

	if (!s || !*s || !strcmp(s, "auto"))
		return SP_IO_AUTO;
	if (!strcmp(s, "sync"))
		return SP_IO_SYNC;
	if (!strcmp(s, "io_uring") || !strcmp(s, "uring"))
		return SP_IO_URING;
	sp_log_warn("SPATE_IO=%s ignored: expected sync, io_uring or auto", s);
	return SP_IO_AUTO;
}

int sp_io_create(unsigned depth, struct sp_io **out)
{
	return sp_io_create_kind(SP_IO_AUTO, depth, out);
}

int sp_io_create_kind(enum sp_io_kind kind, unsigned depth, struct sp_io **out)
{
	struct sp_io *io;
	int rc;

	*out = NULL;
	if (depth == 0 || depth > SP_IO_MAX_DEPTH)
		return -EINVAL;
	io = calloc(1, sizeof(*io));
	if (!io)
		return -ENOMEM;
	io->ops = calloc(depth, sizeof(*io->ops));
	if (!io->ops) {
		rc = -ENOMEM;
		goto free_io;
	}
	for (unsigned i = 0; i < depth; i++) {
		io->ops[i].next = io->free_ops;
		io->free_ops = &io->ops[i];
	}
	io->depth = depth;
	io_parse_faults(io);

	if (kind == SP_IO_AUTO)
		kind = io_kind_from_env();
	if (kind != SP_IO_SYNC) {
		rc = sp_io_backend_uring.init(depth, &io->priv);
		if (rc == 0) {
			io->be = &sp_io_backend_uring;
		} else if (kind == SP_IO_URING) {
			goto free_ops;
		} else if (!atomic_flag_test_and_set(&sp_io_fallback_logged)) {
			sp_log_info("io_uring unavailable (%s): using "
				    "read/pwrite",
				    strerrordesc_np(-rc));
		}
	}
	if (!io->be) {
		rc = sp_io_backend_sync.init(depth, &io->priv);
		if (rc)
			goto free_ops;
		io->be = &sp_io_backend_sync;
	}
	*out = io;
	return 0;

free_ops:
	free(io->ops);
free_io:
	free(io);
	return rc;
}

/* Runs completions until every operation has finished.  0 or -errno. */
static int io_drain(struct sp_io *io)
{
	while (io->inflight) {
		int rc = io->be->reap(io->priv, true);

		if (rc < 0)
			return rc;
	}
	return 0;
}

void sp_io_destroy(struct sp_io *io)
{
	if (!io)
		return;
	if (io_drain(io) < 0) {
		/* buffers may still be the kernel's: leak rather than free */
		sp_log_error("I/O context torn down with %u operations in "
			     "flight",
			     io->inflight);
		return;
	}
	if (io->reg)
		io->be->unregister_buffers(io->priv);
	io->be->fini(io->priv);
	free(io->reg);
	free(io->ops);
	free(io);
}

const char *sp_io_backend(const struct sp_io *io)
{
	return io->be->name;
}

int sp_io_register_buffers(struct sp_io *io, const struct iovec *iov,
			   unsigned n)
{
	struct iovec *copy;
	int rc;

	if (io->reg)
		return -EBUSY;
	if (n == 0)
		return -EINVAL;
	copy = malloc(n * sizeof(*copy));
	if (!copy)
		return -ENOMEM;
	memcpy(copy, iov, n * sizeof(*copy));
	rc = io->be->register_buffers(io->priv, iov, n);
	if (rc < 0) {
		sp_log_debug("registering %u I/O buffers failed: %s", n,
			     strerrordesc_np(-rc));
		free(copy);
		return rc;
	}
	io->reg = copy;
	io->nreg = n;
	return 0;
}

void sp_io_unregister_buffers(struct sp_io *io)
{
	if (!io->reg)
		return;
	if (io_drain(io) < 0)
		return;
	io->be->unregister_buffers(io->priv);
	free(io->reg);
	io->reg = NULL;
	io->nreg = 0;
}

static int io_find_registered(const struct sp_io *io, const void *buf,
			      size_t len)
{
	const char *p = buf;

	for (unsigned i = 0; i < io->nreg; i++) {
		const char *base = io->reg[i].iov_base;

		if (p >= base && len <= io->reg[i].iov_len &&
		    (size_t)(p - base) <= io->reg[i].iov_len - len)
			return (int)i;
	}
	return -1;
}

/* Takes an operation slot, reaping completions while none is free. */
static int io_get_op(struct sp_io *io, struct sp_io_op **out)
{
	struct sp_io_op *op;

	while (!io->free_ops) {
		int rc = io->be->reap(io->priv, true);

		if (rc < 0)
			return rc;
	}
	op = io->free_ops;
	io->free_ops = op->next;
	io->inflight++;
	memset(op, 0, sizeof(*op));
	op->buf_index = -1;
	*out = op;
	return 0;
}

static void io_put_op(struct sp_io *io, struct sp_io_op *op)
{
	op->next = io->free_ops;
	io->free_ops = op;
	io->inflight--;
}

/* Issues what is left of op's request (all of it, or at most max_op). */
static void io_issue(struct sp_io *io, struct sp_io_op *op)
{
	size_t left = op->req_len - op->req_done;

	op->buf = op->req_buf + op->req_done;
	op->len = left < io->max_op ? left : io->max_op;
	op->off =
	    op->req_off == UINT64_MAX ? UINT64_MAX : op->req_off + op->req_done;
	io->be->queue(io->priv, op);
}

/*
 * Reader.
 */

static bool reader_has_more(const struct sp_io_reader *r)
{
	if (r->stream)
		return !r->stream_eof && r->reading == 0;
	return r->next_off < r->end;
}

static void reader_complete(struct sp_io_op *op, int res)
{
	struct sp_io_reader *r = op->owner;
	struct sp_io_block *b = op->ctx;

	if (res == -EINTR) {
		io_issue(r->io, op);
		return;
	}
	if (res < 0) {
		b->err = res;
	} else if (res > 0) {
		op->req_done += (size_t)res;
		if (!r->stream && op->req_done < op->req_len) {
			io_issue(r->io, op); /* short read: the rest */
			return;
		}
	} else if (r->stream) {
		r->stream_eof = true;
	}
	b->len = op->req_done;
	b->state = SP_BLOCK_READY;
	r->reading--;
	io_put_op(r->io, op);
}

/* Starts reads into free blocks; 0 or -errno. */
static int reader_refill(struct sp_io_reader *r)
{
	struct sp_io *io = r->io;
	bool queued = false;

	for (unsigned i = 0; i < r->nblocks && reader_has_more(r); i++) {
		struct sp_io_block *b = &r->blocks[i];
		struct sp_io_op *op;
		int rc;

		if (b->state != SP_BLOCK_FREE)
			continue;
		/* with reads of ours in flight, do not wait for a slot */
		if (!io->free_ops && r->reading)
			break;
		rc = io_get_op(io, &op);
		if (rc < 0)
			return rc;
		b->state = SP_BLOCK_READING;
		b->seq = r->submit_seq++;
		b->len = 0;
		b->err = 0;
		op->kind = SP_IO_OP_READ;
		op->fd = r->fd;
		op->complete = reader_complete;
		op->owner = r;
		op->ctx = b;
		op->req_buf = b->buf;
		if (r->stream) {
			op->req_len = r->block_size;
			op->req_off = UINT64_MAX;
		} else {
			uint64_t left = r->end - r->next_off;

			op->req_len =
			    left < r->block_size ? (size_t)left : r->block_size;
			op->req_off = r->next_off;
			r->next_off += op->req_len;
		}
		b->want = op->req_len;
		r->reading++;
		io_issue(io, op);
		queued = true;
	}
	return queued ? io->be->submit(io->priv) : 0;
}

/* The kernel's file systems whose files are made when read: their size
 * by stat is 0 or a page, whatever they hold. */
static bool pseudo_fs(const struct statfs *fs)
{
	switch ((unsigned long)fs->f_type) {
	case PROC_SUPER_MAGIC:
	case SYSFS_MAGIC:
	case DEBUGFS_MAGIC:
	case TRACEFS_MAGIC:
	case SECURITYFS_MAGIC:
	case CGROUP_SUPER_MAGIC:
	case CGROUP2_SUPER_MAGIC:
		return true;
	default:
		return false;
	}
}

bool sp_io_fd_is_pseudo(int fd)
{
	struct statfs fs;

	return fstatfs(fd, &fs) == 0 && pseudo_fs(&fs);
}

bool sp_io_path_is_pseudo(const char *path)
{
	struct statfs fs;

	return statfs(path, &fs) == 0 && pseudo_fs(&fs);
}

int sp_io_reader_open(struct sp_io *io, const char *path, size_t block_size,
		      unsigned nblocks, struct sp_io_reader **out)
{
	struct sp_io_reader *r;
	struct stat st;
	int rc;

	*out = NULL;
	if (block_size == 0 || nblocks == 0 || nblocks > SP_IO_MAX_DEPTH ||
	    block_size > SIZE_MAX / nblocks)
		return -EINVAL;
	r = calloc(1, sizeof(*r) + nblocks * sizeof(r->blocks[0]));
	if (!r)
		return -ENOMEM;
	r->io = io;
	r->block_size = block_size;
	r->nblocks = nblocks;
	r->fd = open(path, O_RDONLY | O_CLOEXEC);
	if (r->fd < 0) {
		rc = -errno;
		goto free_reader;
	}
	if (fstat(r->fd, &st) < 0) {
		rc = -errno;
		goto close_fd;
	}
	if (S_ISDIR(st.st_mode)) {
		rc = -EISDIR;
		goto close_fd;
	}
	/* a regular file that says it is empty is read to its end all the
	 * same (the files of /proc report 0 bytes and hold text), and so is
	 * a file whose size is not its length (those of /sys report 4096) */
	if (S_ISREG(st.st_mode) && st.st_size > 0 &&
	    !sp_io_fd_is_pseudo(r->fd)) {
		r->size = (uint64_t)st.st_size;
		r->end = r->size;
		posix_fadvise(r->fd, 0, 0, POSIX_FADV_SEQUENTIAL);
	} else {
		r->stream = true;
	}
	/* page-aligned: fit for O_DIRECT and registered buffers later; in
	 * huge pages when the file fills them (a small file's blocks stay
	 * small pages: many small files would each fault a huge one in) */
	size_t mem = nblocks * block_size;
	if (!r->stream && r->size >= mem && mem >= SP_HUGE_PAGE)
		r->mem = sp_huge_malloc(r->huge_len = mem);
	else if (posix_memalign((void **)&r->mem, 4096, mem))
		r->mem = NULL;
	if (!r->mem) {
		rc = -ENOMEM;
		goto close_fd;
	}
	for (unsigned i = 0; i < nblocks; i++)
		r->blocks[i].buf = r->mem + (size_t)i * block_size;
	*out = r;
	return 0;

close_fd:
	close(r->fd);
free_reader:
	free(r);
	return rc;
}

int sp_io_reader_range(struct sp_io_reader *r, uint64_t from, uint64_t to)
{
	if (r->stream || r->submit_seq || from > to)
		return -EINVAL;
	r->next_off = from;
	r->end = to < r->size ? to : r->size;
	if (r->next_off > r->end)
		r->next_off = r->end;
	return 0;
}

static struct sp_io_block *reader_pending(struct sp_io_reader *r)
{
	for (unsigned i = 0; i < r->nblocks; i++) {
		struct sp_io_block *b = &r->blocks[i];

		if ((b->state == SP_BLOCK_READING ||
		     b->state == SP_BLOCK_READY) &&
		    b->seq == r->deliver_seq)
			return b;
	}
	return NULL;
}

int sp_io_reader_next(struct sp_io_reader *r, const char **data, size_t *len)
{
	struct sp_io_block *b;
	int rc;

	*data = NULL;
	*len = 0;
	if (r->err)
		return r->err;
	if (r->eof)
		return 0;
	rc = reader_refill(r);
	if (rc < 0)
		goto fail;
	for (;;) {
		/* blocks in flight or ready carry the seqs from deliver_seq
		 * up to submit_seq, so the next one exists unless nothing
		 * was started */
		if (r->submit_seq == r->deliver_seq) {
			if (reader_has_more(r))
				return -ENOBUFS;
			r->eof = true;
			return 0;
		}
		b = reader_pending(r);
		assert(b);
		if (b->state == SP_BLOCK_READY)
			break;
		rc = r->io->be->reap(r->io->priv, true);
		if (rc < 0)
			goto fail;
	}
	if (b->err) {
		rc = b->err;
		goto fail;
	}
	r->deliver_seq++;
	if (b->len == 0) {
		/* end of a stream, or a regular file that shrank */
		b->state = SP_BLOCK_FREE;
		r->eof = true;
		return 0;
	}
	if (!r->stream && b->len < b->want) {
		/* the file shrank: this is its last block */
		r->end = r->next_off;
		r->eof = true;
	}
	b->state = SP_BLOCK_HELD;
	*data = b->buf;
	*len = b->len;
	/* read ahead while the caller works on this block */
	rc = reader_refill(r);
	if (rc < 0)
		r->err = rc; /* reported on the next call */
	return 1;

fail:
	r->err = rc;
	return rc;
}

void sp_io_reader_release(struct sp_io_reader *r, const char *data)
{
	for (unsigned i = 0; i < r->nblocks; i++) {
		struct sp_io_block *b = &r->blocks[i];

		if (b->buf == data && b->state == SP_BLOCK_HELD) {
			b->state = SP_BLOCK_FREE;
			return;
		}
	}
	assert(!"sp_io_reader_release: not a block held by the caller");
}

uint64_t sp_io_reader_size(const struct sp_io_reader *r)
{
	return r->size;
}

void sp_io_reader_close(struct sp_io_reader *r)
{
	if (!r)
		return;
	while (r->reading) {
		if (r->io->be->reap(r->io->priv, true) < 0) {
			/* the kernel may still write into the blocks */
			sp_log_error("reader closed with %u reads in flight",
				     r->reading);
			close(r->fd);
			return;
		}
	}
	close(r->fd);
	sp_huge_free(r->mem, r->huge_len);
	free(r);
}

/*
 * Writer.
 */

static void writer_complete(struct sp_io_op *op, int res)
{
	struct sp_io_writer *w = op->owner;
	void (*done)(void *tag, int result) = op->done;
	void *tag = op->tag;

	if (res == -EINTR || res == -EAGAIN) {
		io_issue(w->io, op);
		return;
	}
	if (res == 0 && op->req_done < op->req_len) {
		res = -EIO; /* no progress on a regular file */
	} else if (res > 0) {
		op->req_done += (size_t)res;
		w->bytes += (uint64_t)res;
		if (op->req_done < op->req_len) {
			io_issue(w->io, op); /* short write: the rest */
			return;
		}
		res = 0;
	}
	if (res < 0 && !w->err)
		w->err = res;
	w->inflight--;
	io_put_op(w->io, op);
	if (done)
		done(tag, res);
}

int sp_io_writer_open(struct sp_io *io, const char *path,
		      struct sp_io_writer **out)
{
	struct sp_io_writer *w;
	int rc;

	*out = NULL;
	w = calloc(1, sizeof(*w));
	if (!w)
		return -ENOMEM;
	w->io = io;
	XXH64_reset(&w->hash, 0);
	w->fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (w->fd < 0) {
		rc = -errno;
		free(w);
		return rc;
	}
	*out = w;
	return 0;
}

uint64_t sp_io_writer_digest(const struct sp_io_writer *w)
{
	return XXH64_digest(&w->hash);
}

int sp_io_writer_append(struct sp_io_writer *w, const void *buf, size_t len,
			void (*done)(void *tag, int result), void *tag)
{
	struct sp_io *io = w->io;
	struct sp_io_op *op;
	int rc;

	if (w->err)
		return w->err;
	rc = io_get_op(io, &op);
	if (rc < 0)
		return rc;
	if (w->err) { /* seen while waiting for a slot */
		io_put_op(io, op);
		return w->err;
	}
	op->kind = SP_IO_OP_WRITE;
	op->fd = w->fd;
	op->complete = writer_complete;
	op->owner = w;
	op->done = done;
	op->tag = tag;
	op->req_buf = (char *)buf;
	op->req_len = len;
	op->req_off = w->off;
	op->buf_index = io_find_registered(io, buf, len);
	if (io->fault_err &&
	    atomic_fetch_add(&sp_io_fault_count, 1) + 1 == io->fault_nth)
		op->fault = io->fault_err;
	w->off += len;
	w->inflight++;
	XXH64_update(&w->hash, buf, len);
	if (len == 0 && !op->fault) {
		writer_complete(op, 0); /* nothing to write: done now */
		return 0;
	}
	io_issue(io, op);
	/* submits now; runs whatever already finished (sync: this write) */
	rc = io->be->reap(io->priv, false);
	if (rc < 0 && !w->err)
		w->err = rc; /* the write stays queued; done() still comes */
	return 0;
}

int sp_io_writer_flush(struct sp_io_writer *w, bool sync)
{
	while (w->inflight) {
		int rc = w->io->be->reap(w->io->priv, true);

		if (rc < 0) {
			if (!w->err)
				w->err = rc;
			return rc;
		}
	}
	if (sync && !w->err) {
		while (fsync(w->fd) < 0) {
			if (errno != EINTR) {
				w->err = -errno;
				break;
			}
		}
	}
	return w->err;
}

int sp_io_writer_close(struct sp_io_writer *w)
{
	int rc;

	if (!w)
		return 0;
	rc = sp_io_writer_flush(w, false);
	if (close(w->fd) < 0 && !rc)
		rc = -errno;
	if (w->inflight) {
		/* the kernel still holds operations naming w: leak it */
		sp_log_error("writer closed with %u writes in flight",
			     w->inflight);
		return rc;
	}
	free(w);
	return rc;
}

uint64_t sp_io_writer_bytes(const struct sp_io_writer *w)
{
	return w->bytes;
}
