/*
 * XXH64 of a whole file (see core/xxh64.h).
 *
 * A file in the page cache costs two passes: the kernel's copy into our
 * buffer (read) and the hash of it, the copy the slower of the two (on
 * the VM measured, three to four times).  For a large file two threads
 * copy blocks into a ring, each its own blocks, while this one hashes
 * them in order, so that the passes overlap and the copy is shared; the
 * run's own threads have not started when inputs are hashed, so the
 * other cores are idle.  A 139 MB file in the page cache: 34-44 ms with
 * one copying thread, 23-27 ms with two.
 */
#include "core/xxh64.h"

#include "core/hugemem.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdlib.h>
#include <sys/stat.h>
#include <unistd.h>

#define PLAIN_BLOCK (256u << 10) /* in cache while it is hashed */
#define RING_BLOCK (1u << 20)	 /* 4 of them: copy and hash overlap best */
#define SLOTS 4u		 /* blocks read ahead of the hash, at most */
#define READERS 2u		 /* threads copying them (<= SLOTS) */
#define AHEAD_MIN (8ull << 20)	 /* smaller files: a thread costs more */

static ssize_t read_block(int fd, char *buf, size_t len)
{
	ssize_t n;

	do
		n = read(fd, buf, len);
	while (n < 0 && errno == EINTR);
	return n < 0 ? -errno : n;
}

static int hash_plain(int fd, XXH64_state_t *s, uint64_t *total)
{
	char *buf = malloc(PLAIN_BLOCK);
	ssize_t n;

	if (!buf)
		return -ENOMEM;
	while ((n = read_block(fd, buf, PLAIN_BLOCK)) > 0) {
		XXH64_update(s, buf, (size_t)n);
		*total += (uint64_t)n;
	}
	free(buf);
	return n < 0 ? (int)n : 0;
}

/* A block of the file at off, whole unless the file ends within it:
 * its length, or -errno. */
static ssize_t read_at(int fd, char *buf, size_t len, off_t off)
{
	size_t got = 0;

	while (got < len) {
		ssize_t n = pread(fd, buf + got, len - got, off + (off_t)got);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		if (n == 0)
			break;
		got += (size_t)n;
	}
	return (ssize_t)got;
}

/* The ring between the reading threads and the hashing one.  Reader k
 * reads blocks k, k + READERS, ... of the file (from base), block i into
 * slot i % SLOTS once the blocks before i - SLOTS + 1 are hashed; the
 * hash takes them in order.  A short block is the last (end of file, or
 * -errno): its reader ends there, and the hash stops at the first. */
struct ring {
	int fd;
	off_t base;
	char *buf;
	ssize_t len[SLOTS];
	uint64_t holds[SLOTS]; /* 1 + the block the slot holds; 0: none */
	uint64_t hashed;       /* blocks hashed */
	bool done;	       /* the hash has ended: readers stop */
	pthread_mutex_t mu;
	pthread_cond_t cv;
};

struct reader {
	struct ring *r;
	unsigned k;
};

static void *ring_reader(void *arg)
{
	const struct reader *rd = arg;
	struct ring *r = rd->r;
	ssize_t n;

	for (uint64_t i = rd->k;; i += READERS) {
		unsigned slot = (unsigned)(i % SLOTS);

		pthread_mutex_lock(&r->mu);
		while (!r->done && i >= r->hashed + SLOTS)
			pthread_cond_wait(&r->cv, &r->mu);
		bool stop = r->done;
		pthread_mutex_unlock(&r->mu);
		if (stop)
			break;
		/* the slot's block before i is hashed, and no other reader
		 * has a block that maps to it before i + SLOTS */
		n = read_at(r->fd, r->buf + (size_t)slot * RING_BLOCK,
			    RING_BLOCK, r->base + (off_t)(i * RING_BLOCK));
		pthread_mutex_lock(&r->mu);
		r->len[slot] = n;
		r->holds[slot] = i + 1;
		pthread_cond_broadcast(&r->cv);
		pthread_mutex_unlock(&r->mu);
		if (n < (ssize_t)RING_BLOCK)
			break;
	}
	return NULL;
}

static int hash_ahead(int fd, XXH64_state_t *s, uint64_t *total)
{
	struct ring r = {.fd = fd, .base = lseek(fd, 0, SEEK_CUR)};
	struct reader rd[READERS];
	pthread_t th[READERS];
	unsigned started = 0;
	int rc = 0;

	if (r.base < 0)
		return -errno;
	/* two huge pages, not a thousand page faults */
	r.buf = sp_huge_malloc((size_t)SLOTS * RING_BLOCK);
	if (!r.buf)
		return -ENOMEM;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	for (; started < READERS; started++) {
		rd[started] = (struct reader){.r = &r, .k = started};
		if (pthread_create(&th[started], NULL, ring_reader,
				   &rd[started]) != 0)
			break;
	}
	if (started < READERS) {
		rc = -EAGAIN; /* nothing hashed yet: the caller reads plainly */
		goto stop;
	}
	for (uint64_t i = 0;; i++) {
		unsigned slot = (unsigned)(i % SLOTS);

		pthread_mutex_lock(&r.mu);
		while (r.holds[slot] != i + 1)
			pthread_cond_wait(&r.cv, &r.mu);
		ssize_t n = r.len[slot];
		pthread_mutex_unlock(&r.mu);
		if (n > 0) {
			XXH64_update(s, r.buf + (size_t)slot * RING_BLOCK,
				     (size_t)n);
			*total += (uint64_t)n;
		}
		if (n < (ssize_t)RING_BLOCK) {
			rc = n < 0 ? (int)n : 0;
			break;
		}
		pthread_mutex_lock(&r.mu);
		r.hashed = i + 1;
		pthread_cond_broadcast(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	/* as read() would leave it: after what was hashed */
	if (rc == 0)
		(void)lseek(fd, r.base + (off_t)*total, SEEK_SET);
stop:
	pthread_mutex_lock(&r.mu);
	r.done = true;
	pthread_cond_broadcast(&r.cv);
	pthread_mutex_unlock(&r.mu);
	for (unsigned k = 0; k < started; k++)
		pthread_join(th[k], NULL);
	pthread_cond_destroy(&r.cv);
	pthread_mutex_destroy(&r.mu);
	sp_huge_free(r.buf, (size_t)SLOTS * RING_BLOCK);
	return rc;
}

static int hash_fd(int fd, uint64_t *out, uint64_t *size, bool ahead)
{
	XXH64_state_t s;
	uint64_t total = 0;

	XXH64_reset(&s, 0);
	int rc = ahead ? hash_ahead(fd, &s, &total)
		       : hash_plain(fd, &s, &total);
	if (rc == 0) {
		*out = XXH64_digest(&s);
		if (size)
			*size = total;
	}
	return rc;
}

int sp_xxh64_fd(int fd, uint64_t *out, uint64_t *size)
{
	struct stat st;
	bool ahead = fstat(fd, &st) == 0 && S_ISREG(st.st_mode) &&
		     (uint64_t)st.st_size >= AHEAD_MIN;
	int rc = hash_fd(fd, out, size, ahead);

	/* no thread or no memory for the ring: nothing was read yet */
	if (ahead && (rc == -EAGAIN || rc == -ENOMEM))
		rc = hash_fd(fd, out, size, false);
	return rc;
}

int sp_xxh64_fd_ahead(int fd, uint64_t *out, uint64_t *size)
{
	return hash_fd(fd, out, size, true);
}

int sp_xxh64_file(const char *path, uint64_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = sp_xxh64_fd(fd, out, NULL);
	close(fd);
	return rc;
}

/* Files to hash are taken in turn by the threads of sp_xxh64_files,
 * until one cannot be read. */
struct many {
	struct sp_xxh64_job *jobs;
	size_t n;
	atomic_size_t next;
	atomic_bool failed;
};

static void *many_thread(void *arg)
{
	struct many *m = arg;
	size_t i;

	while (!atomic_load(&m->failed) &&
	       (i = atomic_fetch_add(&m->next, 1)) < m->n) {
		struct sp_xxh64_job *j = &m->jobs[i];

		j->rc = sp_xxh64_file(j->path, &j->hash);
		if (j->rc < 0)
			atomic_store(&m->failed, true);
	}
	return NULL;
}

void sp_xxh64_files(struct sp_xxh64_job *jobs, size_t n, unsigned threads)
{
	struct many m = {.jobs = jobs, .n = n};
	pthread_t th[SP_XXH64_MAX_THREADS];
	unsigned started = 0;

	atomic_init(&m.next, 0);
	atomic_init(&m.failed, false);
	for (size_t i = 0; i < n; i++)
		jobs[i].rc = -ECANCELED; /* until a thread takes it */
	if (threads > SP_XXH64_MAX_THREADS)
		threads = SP_XXH64_MAX_THREADS;
	if (threads > n)
		threads = (unsigned)n;
	/* this thread is one of them */
	while (started + 1 < threads &&
	       pthread_create(&th[started], NULL, many_thread, &m) == 0)
		started++;
	many_thread(&m);
	for (unsigned i = 0; i < started; i++)
		pthread_join(th[i], NULL);
}
