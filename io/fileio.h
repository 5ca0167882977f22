/*
 * File I/O for readers and staging writers: sequential block reads with
 * several reads in flight, and appending writes with several writes in
 * flight, over one of two backends chosen at run time:
 *
 *   io_uring  (io/uring_io.c)  queue kept full, submitted in bursts;
 *   sync      (io/sync_io.c)   plain pread/pwrite/read, one at a time.
 *
 * io_uring is used unless SPATE_IO=sync is set or io_uring_queue_init fails
 * (old kernel: -ENOSYS; seccomp or kernel.io_uring_disabled: -EPERM); then
 * the sync backend is used and the reason is logged once per process at
 * info level.  SPATE_IO=io_uring makes sp_io_create fail instead of falling
 * back.  Both backends behave the same through this interface.
 *
 * Threads: a struct sp_io and everything opened on it belong to one thread;
 * nothing here is thread-safe.  Completion callbacks run on that thread from
 * inside a later sp_io_* call and must not call sp_io_* functions.
 *
 * Fault injection (tests, end-to-end failure tests), read at sp_io_create:
 *   SPATE_FAULT_WRITE=ENOSPC:<n>  (or EIO:<n>) the n-th sp_io_writer_append
 *       of the process (1-based, counted over all writers of all threads)
 *       completes with -ENOSPC (-EIO) without writing anything; its done()
 *       callback sees the error and flush/close return it.
 *   SPATE_FAULT_SHORT_IO=<bytes>  every read and write is issued for at
 *       most <bytes> bytes, so the short-read and short-write paths run.
 */
#ifndef SPATE_IO_FILEIO_H
#define SPATE_IO_FILEIO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct sp_io;
struct sp_io_reader;
struct sp_io_writer;

enum sp_io_kind {
	SP_IO_AUTO = 0, /* io_uring when it works, else sync (SPATE_IO) */
	SP_IO_URING,	/* io_uring or fail */
	SP_IO_SYNC,	/* read/pwrite */
};

/* Largest accepted depth. */
#define SP_IO_MAX_DEPTH 4096

/* Creates the I/O context of the calling thread; depth (1..SP_IO_MAX_DEPTH)
 * is the most operations in flight at once.  Backend as described above.
 * Returns 0, -EINVAL, -ENOMEM, or (SPATE_IO=io_uring only) the error of
 * io_uring_queue_init. */
int sp_io_create(unsigned depth, struct sp_io **out);

/* Same with an explicit backend (SPATE_IO is ignored unless kind is
 * SP_IO_AUTO).  SP_IO_URING returns io_uring's error (-ENOSYS, -EPERM,
 * -ENOMEM ...) rather than falling back. */
int sp_io_create_kind(enum sp_io_kind kind, unsigned depth, struct sp_io **out);

/* Waits for every operation still in flight, then frees the context.
 * Readers and writers must be closed first.  NULL is a no-op. */
void sp_io_destroy(struct sp_io *io);

/* "io_uring" or "sync". */
const char *sp_io_backend(const struct sp_io *io);

/* Registers long-lived buffers (e.g. a writer's block pool) with the
 * kernel so that appends from inside them skip per-write page mapping
 * (io_uring fixed buffers).  The buffers must stay valid until
 * sp_io_unregister_buffers or sp_io_destroy.  One set per context.
 * Returns 0 (also on the sync backend, where it does nothing), -EBUSY when
 * a set is already registered, or the kernel's refusal (-ENOMEM when over
 * RLIMIT_MEMLOCK ...): I/O keeps working unregistered in that case. */
int sp_io_register_buffers(struct sp_io *io, const struct iovec *iov,
			   unsigned n);
/* Waits for all operations in flight, then unregisters the set. */
void sp_io_unregister_buffers(struct sp_io *io);

/*
 * Sequential reader of one file with up to nblocks block reads in flight.
 * Memory is bounded: nblocks buffers of block_size bytes, recycled.
 * Regular files are read from offset 0 up to their size at open time.
 * Other files (pipes, terminals, /dev/stdin), regular files of 0 bytes
 * (those of /proc hold text all the same) and the files of the kernel's
 * file systems (sp_io_fd_is_pseudo: /sys says 4096 bytes of a file that
 * holds 2) are read to their end with one read in flight; their blocks
 * may be shorter than block_size and sp_io_reader_size returns 0.
 */
/* Returns 0, -EINVAL (block_size or nblocks 0), -ENOMEM, or the -errno of
 * open/fstat (-ENOENT, -EACCES, -EISDIR ...). */
/* Whether the file is on one of the kernel's file systems (proc, sysfs,
 * debugfs, tracefs, securityfs, cgroup), whose files are made
 * when read: the size stat gives them is not their length. */
bool sp_io_fd_is_pseudo(int fd);
bool sp_io_path_is_pseudo(const char *path);
int sp_io_reader_open(struct sp_io *io, const char *path, size_t block_size,
		      unsigned nblocks, struct sp_io_reader **out);
/* Next block in file order: *data and *len stay valid until
 * sp_io_reader_release(r, *data).  Returns 1 with a block (len > 0), 0 at
 * end of file, -errno on a read error (then again on every call), or
 * -ENOBUFS when the caller holds all nblocks blocks. */
int sp_io_reader_next(struct sp_io_reader *r, const char **data, size_t *len);
/* Hands a block back for reuse; data is a pointer returned by next. */
void sp_io_reader_release(struct sp_io_reader *r, const char *data);
/* Limits a regular file's reads to bytes [from, to) (to past the end:
 * its end), before the first sp_io_reader_next.  0, or -EINVAL for a
 * stream, a reader that has started, or from > to. */
int sp_io_reader_range(struct sp_io_reader *r, uint64_t from, uint64_t to);
/* Size of a regular file at open time, 0 for other files. */
uint64_t sp_io_reader_size(const struct sp_io_reader *r);
/* Waits for reads in flight, closes and frees.  NULL is a no-op. */
void sp_io_reader_close(struct sp_io_reader *r);

/*
 * Appending writer of one new file.
 */
/* Creates path (O_CREAT|O_EXCL|O_WRONLY|O_CLOEXEC, mode 0644).  Returns 0,
 * -ENOMEM, or the -errno of open (-EEXIST, -ENOENT, -EACCES ...). */
int sp_io_writer_open(struct sp_io *io, const char *path,
		      struct sp_io_writer **out);
/* Queues buf[0..len) at the end of the file (after everything queued
 * before).  Returns 0 when queued: buf then belongs to the I/O layer until
 * done(tag, result) is called exactly once (result 0 or -errno), from
 * inside this or a later sp_io_* call on this thread; completions may come
 * in any order.  Short writes are re-issued for the rest.  Blocks while
 * `depth` operations are in flight, until one completes.  Returns -errno
 * without queueing (done is not called, buf stays the caller's) when an
 * earlier write of this writer failed (that first error) or when waiting
 * for the kernel failed. */
int sp_io_writer_append(struct sp_io_writer *w, const void *buf, size_t len,
			void (*done)(void *tag, int result), void *tag);
/* Waits until every queued write completed, then fsync(fd) when sync is
 * true.  Returns 0 or the first error seen by this writer (-ENOSPC,
 * -EIO ...); the error sticks. */
int sp_io_writer_flush(struct sp_io_writer *w, bool sync);
/* Flush (without fsync) + close + free; returns the first error.  NULL is
 * a no-op returning 0. */
int sp_io_writer_close(struct sp_io_writer *w);
/* XXH64 (seed 0) of every byte queued so far, in file order: the file's
 * content hash once all of it is written, without reading it back. */
uint64_t sp_io_writer_digest(const struct sp_io_writer *w);
/* Bytes written so far (completed writes only). */
uint64_t sp_io_writer_bytes(const struct sp_io_writer *w);

/*
 * Backend interface (used by io/fileio.c, implemented by io/uring_io.c and
 * io/sync_io.c; nothing else needs it).
 */
enum sp_io_op_kind {
	SP_IO_OP_READ,	/* pread(fd, buf, len, off); off UINT64_MAX: read() */
	SP_IO_OP_WRITE, /* pwrite(fd, buf, len, off) */
};

struct sp_io_op {
	/* filled by fileio.c before queue() */
	enum sp_io_op_kind kind;
	int fd;
	int fault;     /* nonzero: complete with this -errno, no I/O */
	int buf_index; /* registered buffer holding buf, or -1 */
	char *buf;
	size_t len;
	uint64_t off;
	/* called by the backend from reap(), once per queue() */
	void (*complete)(struct sp_io_op *op, int result);
	/* owned by fileio.c: the whole request, issued in one or more
	 * operations when reads or writes come back short */
	void *owner;
	void *ctx;
	char *req_buf;
	size_t req_len;
	size_t req_done;
	uint64_t req_off;
	void (*done)(void *tag, int result);
	void *tag;
	struct sp_io_op *next; /* free list (fileio.c) or backend queue */
};

struct sp_io_backend {
	const char *name;
	/* private state for depth operations in flight; 0 or -errno */
	int (*init)(unsigned depth, void **priv);
	void (*fini)(void *priv);
	int (*register_buffers)(void *priv, const struct iovec *iov,
				unsigned n);
	void (*unregister_buffers)(void *priv);
	/* takes op (at most depth at once); never fails */
	void (*queue)(void *priv, struct sp_io_op *op);
	/* hands queued operations to the kernel; 0 or -errno */
	int (*submit)(void *priv);
	/* submits, then runs op->complete for finished operations; with
	 * wait, first waits until at least one has finished.  Completions
	 * may queue() again.  0 or -errno. */
	int (*reap)(void *priv, bool wait);
};

extern const struct sp_io_backend sp_io_backend_uring;
extern const struct sp_io_backend sp_io_backend_sync;

#endif
