/*
 * Tests of io/fileio: every test body runs on both backends (io_uring and
 * read/pwrite) and reads back everything it wrote.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "io/fileio.h"

/* Defines Test(fileio, name_uring) and Test(fileio, name_sync). */
#define BOTH(name)                                                             \
	static void name##_body(enum sp_io_kind kind);                         \
	Test(fileio, name##_uring)                                             \
	{                                                                      \
		name##_body(SP_IO_URING);                                      \
	}                                                                      \
	Test(fileio, name##_sync)                                              \
	{                                                                      \
		name##_body(SP_IO_SYNC);                                       \
	}                                                                      \
	static void name##_body(enum sp_io_kind kind)

static char tmpdir[64];

static void make_tmpdir(void)
{
	strcpy(tmpdir, "/tmp/spate-fileio-XXXXXX");
	cr_assert_not_null(mkdtemp(tmpdir));
}

static void tmp_path(char *out, size_t cap, const char *name)
{
	snprintf(out, cap, "%s/%s", tmpdir, name);
}

static void remove_tmpdir(const char *const *names)
{
	char p[128];

	for (; *names; names++) {
		tmp_path(p, sizeof(p), *names);
		unlink(p);
	}
	rmdir(tmpdir);
}

static struct sp_io *make_io(enum sp_io_kind kind, unsigned depth)
{
	struct sp_io *io = NULL;
	int rc = sp_io_create_kind(kind, depth, &io);

	if (kind == SP_IO_URING && rc < 0)
		cr_skip_test("io_uring unavailable here: %s", strerror(-rc));
	cr_assert_eq(rc, 0, "sp_io_create_kind: %d", rc);
	cr_assert_str_eq(sp_io_backend(io),
			 kind == SP_IO_URING ? "io_uring" : "sync");
	return io;
}

static void fill_pattern(char *p, size_t len, uint64_t seed)
{
	uint64_t x = seed * 0x9E3779B97F4A7C15ull + 1;

	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		p[i] = (char)x;
	}
}

struct done_log {
	unsigned calls;
	unsigned errors;
	int last_err;
	uintptr_t err_tag;
	uint64_t bytes;
	size_t sizes[4096];
	bool done[4096];
};

static struct done_log dlog;

static void on_done(void *tag, int result)
{
	uintptr_t i = (uintptr_t)tag;

	dlog.calls++;
	cr_assert_not(dlog.done[i], "done() twice for append %lu",
		      (unsigned long)i);
	dlog.done[i] = true;
	if (result < 0) {
		dlog.errors++;
		dlog.last_err = result;
		dlog.err_tag = i;
	} else {
		dlog.bytes += dlog.sizes[i];
	}
}

/* Writes len bytes of src as appends of varied sizes; returns the count. */
static unsigned write_file(struct sp_io *io, const char *path, const char *src,
			   size_t len)
{
	struct sp_io_writer *w;
	size_t off = 0;
	unsigned n = 0;
	uint64_t x = 12345;

	cr_assert_eq(sp_io_writer_open(io, path, &w), 0);
	memset(&dlog, 0, sizeof(dlog));
	while (off < len) {
		size_t chunk;

		x = x * 6364136223846793005ull + 1442695040888963407ull;
		chunk = 1 + (size_t)(x >> 33) % (96 * 1024);
		if (n % 17 == 5)
			chunk = 0; /* empty appends are allowed */
		if (chunk > len - off)
			chunk = len - off;
		cr_assert_lt(n, 4096u);
		dlog.sizes[n] = chunk;
		cr_assert_eq(sp_io_writer_append(w, src + off, chunk, on_done,
						 (void *)(uintptr_t)n),
			     0);
		off += chunk;
		n++;
	}
	cr_assert_eq(sp_io_writer_flush(w, true), 0);
	cr_assert_eq(dlog.calls, n, "done called %u times for %u appends",
		     dlog.calls, n);
	cr_assert_eq(dlog.errors, 0);
	cr_assert_eq(dlog.bytes, len);
	cr_assert_eq(sp_io_writer_bytes(w), len);
	cr_assert_eq(sp_io_writer_close(w), 0);
	return n;
}

/* Reads path through the reader and compares with want[0..len). */
static void check_file(struct sp_io *io, const char *path, const char *want,
		       size_t len, size_t block, unsigned nblocks)
{
	struct sp_io_reader *r;
	const char *data;
	size_t n, off = 0;
	int rc;

	cr_assert_eq(sp_io_reader_open(io, path, block, nblocks, &r), 0);
	cr_assert_eq(sp_io_reader_size(r), len);
	while ((rc = sp_io_reader_next(r, &data, &n)) == 1) {
		cr_assert_gt(n, 0);
		cr_assert_leq(n, block);
		cr_assert_leq(off + n, len, "read past the end: %zu", off + n);
		cr_assert_eq(memcmp(data, want + off, n), 0,
			     "bytes differ in block at %zu", off);
		off += n;
		sp_io_reader_release(r, data);
	}
	cr_assert_eq(rc, 0, "reader_next: %d", rc);
	cr_assert_eq(off, len, "read %zu of %zu bytes", off, len);
	/* stays at end of file */
	cr_assert_eq(sp_io_reader_next(r, &data, &n), 0);
	cr_assert_eq(n, 0);
	sp_io_reader_close(r);
}

BOTH(roundtrip)
{
	const size_t len = 5 * 1024 * 1024 + 4321;
	char *src = malloc(len);
	char path[128];
	struct sp_io *io;
	struct stat st;

	make_tmpdir();
	tmp_path(path, sizeof(path), "big.bin");
	fill_pattern(src, len, 1);
	io = make_io(kind, 4);
	cr_assert_gt(write_file(io, path, src, len), 50u);
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((size_t)st.st_size, len);
	mode_t mask = umask(0);

	umask(mask);
	cr_assert_eq(st.st_mode & 0777, 0644 & ~mask);
	check_file(io, path, src, len, 8191, 4);
	check_file(io, path, src, len, 1 << 20, 3);
	check_file(io, path, src, len, len + 100, 1);
	sp_io_destroy(io);
	free(src);
	remove_tmpdir((const char *[]){"big.bin", NULL});
}

BOTH(short_reads_and_writes)
{
	const size_t len = 700 * 1000 + 7;
	char *src = malloc(len);
	char path[128];
	struct sp_io *io;

	/* every operation moves at most 999 bytes: the rest is re-issued */
	setenv("SPATE_FAULT_SHORT_IO", "999", 1);
	make_tmpdir();
	tmp_path(path, sizeof(path), "short.bin");
	fill_pattern(src, len, 2);
	io = make_io(kind, 8);
	write_file(io, path, src, len);
	check_file(io, path, src, len, 4096, 5);
	sp_io_destroy(io);
	free(src);
	remove_tmpdir((const char *[]){"short.bin", NULL});
}

BOTH(registered_buffers)
{
	enum { NBUF = 4, BUFSZ = 64 * 1024, ROUNDS = 40 };
	char *pool = malloc(NBUF * BUFSZ);
	char *want = malloc((size_t)ROUNDS * BUFSZ);
	struct iovec iov[NBUF];
	struct sp_io_writer *w;
	char path[128];
	struct sp_io *io;
	int rc;

	make_tmpdir();
	tmp_path(path, sizeof(path), "fixed.bin");
	io = make_io(kind, NBUF);
	for (int i = 0; i < NBUF; i++)
		iov[i] = (struct iovec){pool + i * BUFSZ, BUFSZ};
	rc = sp_io_register_buffers(io, iov, NBUF);
	if (rc == -ENOMEM || rc == -EPERM)
		cr_skip_test("cannot register buffers here: %s", strerror(-rc));
	cr_assert_eq(rc, 0, "register: %d", rc);
	cr_assert_eq(sp_io_register_buffers(io, iov, NBUF), -EBUSY);

	cr_assert_eq(sp_io_writer_open(io, path, &w), 0);
	memset(&dlog, 0, sizeof(dlog));
	for (int i = 0; i < ROUNDS; i++) {
		char *b = pool + (i % NBUF) * BUFSZ;
		size_t n = BUFSZ - (size_t)i; /* also a partial buffer */

		/* a block is reused only after its done(): wait if needed */
		if (i >= NBUF && !dlog.done[i - NBUF])
			cr_assert_eq(sp_io_writer_flush(w, false), 0);
		cr_assert(i < NBUF || dlog.done[i - NBUF]);
		fill_pattern(b, n, 100 + (uint64_t)i);
		dlog.sizes[i] = n;
		cr_assert_eq(
		    sp_io_writer_append(w, b, n, on_done, (void *)(uintptr_t)i),
		    0);
	}
	cr_assert_eq(sp_io_writer_close(w), 0);
	cr_assert_eq(dlog.calls, ROUNDS);

	/* expected content, rebuilt */
	size_t total = 0;

	for (int i = 0; i < ROUNDS; i++) {
		fill_pattern(want + total, BUFSZ - (size_t)i,
			     100 + (uint64_t)i);
		total += BUFSZ - (size_t)i;
	}
	cr_assert_eq(dlog.bytes, total);
	check_file(io, path, want, total, 10000, 2);
	sp_io_unregister_buffers(io);
	sp_io_destroy(io);
	free(pool);
	free(want);
	remove_tmpdir((const char *[]){"fixed.bin", NULL});
}

BOTH(missing_and_existing_files)
{
	struct sp_io_reader *r = (void *)1;
	struct sp_io_writer *w = (void *)1;
	char path[128];
	struct sp_io *io;

	make_tmpdir();
	io = make_io(kind, 2);
	tmp_path(path, sizeof(path), "absent.bin");
	cr_assert_eq(sp_io_reader_open(io, path, 4096, 2, &r), -ENOENT);
	cr_assert_null(r);
	cr_assert_eq(sp_io_reader_open(io, tmpdir, 4096, 2, &r), -EISDIR);
	cr_assert_eq(sp_io_reader_open(io, path, 0, 2, &r), -EINVAL);

	/* the writer refuses to clobber */
	cr_assert_eq(sp_io_writer_open(io, path, &w), 0);
	cr_assert_eq(sp_io_writer_close(w), 0);
	cr_assert_eq(sp_io_writer_open(io, path, &w), -EEXIST);
	cr_assert_null(w);
	tmp_path(path, sizeof(path), "no/such/dir.bin");
	cr_assert_eq(sp_io_writer_open(io, path, &w), -ENOENT);

	/* an empty file is at EOF at once */
	tmp_path(path, sizeof(path), "absent.bin");
	cr_assert_eq(sp_io_reader_open(io, path, 4096, 2, &r), 0);
	cr_assert_eq(sp_io_reader_size(r), 0);
	const char *data;
	size_t n;

	cr_assert_eq(sp_io_reader_next(r, &data, &n), 0);
	sp_io_reader_close(r);
	sp_io_destroy(io);
	remove_tmpdir((const char *[]){"absent.bin", NULL});
}

BOTH(holding_every_block)
{
	char src[10000], path[128];
	const char *d1, *d2, *d3;
	struct sp_io_reader *r;
	struct sp_io *io;
	size_t n1, n2, n3;

	make_tmpdir();
	tmp_path(path, sizeof(path), "f.bin");
	fill_pattern(src, sizeof(src), 3);
	io = make_io(kind, 4);
	write_file(io, path, src, sizeof(src));
	cr_assert_eq(sp_io_reader_open(io, path, 3000, 2, &r), 0);
	cr_assert_eq(sp_io_reader_next(r, &d1, &n1), 1);
	cr_assert_eq(sp_io_reader_next(r, &d2, &n2), 1);
	cr_assert_eq(sp_io_reader_next(r, &d3, &n3), -ENOBUFS);
	cr_assert_eq(n1, 3000);
	cr_assert_eq(memcmp(d1, src, 3000), 0);
	cr_assert_eq(memcmp(d2, src + 3000, 3000), 0);
	/* release out of order, then go on */
	sp_io_reader_release(r, d2);
	sp_io_reader_release(r, d1);
	cr_assert_eq(sp_io_reader_next(r, &d3, &n3), 1);
	cr_assert_eq(n3, 3000);
	cr_assert_eq(memcmp(d3, src + 6000, 3000), 0);
	sp_io_reader_release(r, d3);
	cr_assert_eq(sp_io_reader_next(r, &d3, &n3), 1);
	cr_assert_eq(n3, 1000);
	cr_assert_eq(memcmp(d3, src + 9000, 1000), 0);
	/* close with a block still held and nothing in flight */
	sp_io_reader_close(r);
	sp_io_destroy(io);
	remove_tmpdir((const char *[]){"f.bin", NULL});
}

BOTH(pipe_input)
{
	const size_t len = 1000 * 1000 + 3;
	char *src = malloc(len);
	struct sp_io_reader *r;
	char path[128];
	struct sp_io *io;
	const char *data;
	size_t n, off = 0;
	pid_t pid;
	int rc, status;

	make_tmpdir();
	tmp_path(path, sizeof(path), "fifo");
	cr_assert_eq(mkfifo(path, 0600), 0);
	fill_pattern(src, len, 4);
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		int fd = open(path, O_WRONLY);
		size_t done = 0;

		/* dribble it out in odd pieces */
		while (fd >= 0 && done < len) {
			size_t k = len - done < 7777 ? len - done : 7777;
			ssize_t w = write(fd, src + done, k);

			if (w <= 0)
				_exit(1);
			done += (size_t)w;
		}
		_exit(fd < 0);
	}
	io = make_io(kind, 4);
	cr_assert_eq(sp_io_reader_open(io, path, 65536, 3, &r), 0);
	cr_assert_eq(sp_io_reader_size(r), 0);
	while ((rc = sp_io_reader_next(r, &data, &n)) == 1) {
		cr_assert_leq(off + n, len);
		cr_assert_eq(memcmp(data, src + off, n), 0);
		off += n;
		sp_io_reader_release(r, data);
	}
	cr_assert_eq(rc, 0);
	cr_assert_eq(off, len);
	sp_io_reader_close(r);
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	sp_io_destroy(io);
	free(src);
	remove_tmpdir((const char *[]){"fifo", NULL});
}

/* Appends 8 blocks with SPATE_FAULT_WRITE=<spec> (the 3rd fails). */
static void injected_failure(enum sp_io_kind kind, const char *spec, int want)
{
	enum { N = 8, SZ = 50000 };
	static char src[N * SZ];
	struct sp_io_writer *w;
	unsigned accepted = 0;
	char path[128];
	struct sp_io *io;
	struct stat st;

	setenv("SPATE_FAULT_WRITE", spec, 1);
	make_tmpdir();
	tmp_path(path, sizeof(path), "fail.bin");
	fill_pattern(src, sizeof(src), 5);
	io = make_io(kind, 4);
	cr_assert_eq(sp_io_writer_open(io, path, &w), 0);
	memset(&dlog, 0, sizeof(dlog));
	for (int i = 0; i < N; i++) {
		int rc;

		dlog.sizes[i] = SZ;
		rc = sp_io_writer_append(w, src + i * SZ, SZ, on_done,
					 (void *)(uintptr_t)i);
		if (i < 3) {
			cr_assert_eq(rc, 0);
		} else if (rc != 0) {
			/* refused after the failure: not queued */
			cr_assert_eq(rc, want, "append %d: %d", i, rc);
			continue;
		}
		accepted++;
	}
	cr_assert_eq(sp_io_writer_flush(w, true), want);
	cr_assert_eq(dlog.calls, accepted);
	cr_assert_eq(dlog.errors, 1);
	cr_assert_eq(dlog.last_err, want);
	cr_assert_eq(dlog.err_tag, 2, "failed append: %lu",
		     (unsigned long)dlog.err_tag);
	/* sticky */
	cr_assert_eq(sp_io_writer_append(w, src, 1, on_done, (void *)99), want);
	cr_assert_eq(sp_io_writer_close(w), want);
	/* blocks 0..accepted-1 were queued; the failed one (2) left a hole,
	 * or the end when it was the last */
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_eq((uint64_t)st.st_size,
		     (uint64_t)(accepted == 3 ? 2 : accepted) * SZ);
	{
		static char got[N * SZ];
		int fd = open(path, O_RDONLY);

		cr_assert_eq(read(fd, got, sizeof(got)), st.st_size);
		close(fd);
		cr_assert_eq(memcmp(got, src, 2 * SZ), 0);
		for (unsigned i = 3; i < accepted; i++)
			cr_assert_eq(memcmp(got + i * SZ, src + i * SZ, SZ), 0);
		for (size_t i = 2 * SZ; i < 3 * SZ && i < (size_t)st.st_size;
		     i++)
			cr_assert_eq(got[i], 0);
	}
	sp_io_destroy(io);
	remove_tmpdir((const char *[]){"fail.bin", NULL});
}

BOTH(injected_enospc)
{
	injected_failure(kind, "ENOSPC:3", -ENOSPC);
}

BOTH(injected_eio)
{
	injected_failure(kind, "EIO:3", -EIO);
}

Test(fileio, backend_choice)
{
	struct sp_io *io;

	cr_assert_eq(sp_io_create(0, &io), -EINVAL);
	cr_assert_eq(sp_io_create(SP_IO_MAX_DEPTH + 1, &io), -EINVAL);
	setenv("SPATE_IO", "sync", 1);
	cr_assert_eq(sp_io_create(8, &io), 0);
	cr_assert_str_eq(sp_io_backend(io), "sync");
	sp_io_destroy(io);
	/* the sync backend ignores registration but accepts it */
	unsetenv("SPATE_IO");
	cr_assert_eq(sp_io_create_kind(SP_IO_SYNC, 8, &io), 0);
	char b[16];
	struct iovec iov = {b, sizeof(b)};

	cr_assert_eq(sp_io_register_buffers(io, &iov, 1), 0);
	sp_io_destroy(io);
	sp_io_destroy(NULL);
}
