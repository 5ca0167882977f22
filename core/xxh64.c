/*
 * XXH64 of a whole file (see core/xxh64.h).
 *
 * A file in the page cache costs two passes of about the same length: the
 * kernel's copy into our buffer (read) and the hash of it.  For a large
 * file a second thread does the reads into a ring of blocks while this
 * one hashes, so that the two passes overlap; the run's own threads have
 * not started when inputs are hashed, so the other cores are idle.
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

/* The ring between the reading thread and the hashing one: blocks
 * [tail, head) are read and not yet hashed; a block's len <= 0 is the
 * last (end of file, or -errno), after which the reader has ended. */
struct ring {
	int fd;
	char *buf;
	ssize_t len[SLOTS];
	unsigned head, tail;
	pthread_mutex_t mu;
	pthread_cond_t cv; /* one side waits at a time: full or empty */
};

static void *ring_reader(void *arg)
{
	struct ring *r = arg;
	ssize_t n;

	do {
		pthread_mutex_lock(&r->mu);
		while (r->head - r->tail == SLOTS)
			pthread_cond_wait(&r->cv, &r->mu);
		unsigned slot = r->head % SLOTS;
		pthread_mutex_unlock(&r->mu);
		/* the slot is neither hashed nor read by anyone else now */
		n = read_block(r->fd, r->buf + (size_t)slot * RING_BLOCK,
			       RING_BLOCK);
		pthread_mutex_lock(&r->mu);
		r->len[slot] = n;
		r->head++;
		pthread_cond_signal(&r->cv);
		pthread_mutex_unlock(&r->mu);
	} while (n > 0);
	return NULL;
}

static int hash_ahead(int fd, XXH64_state_t *s, uint64_t *total)
{
	struct ring r = {.fd = fd};
	pthread_t th;
	int rc = 0;

	/* two huge pages, not a thousand page faults */
	r.buf = sp_huge_malloc((size_t)SLOTS * RING_BLOCK);
	if (!r.buf)
		return -ENOMEM;
	pthread_mutex_init(&r.mu, NULL);
	pthread_cond_init(&r.cv, NULL);
	if (pthread_create(&th, NULL, ring_reader, &r) != 0) {
		rc = -EAGAIN;
		goto out;
	}
	for (;;) {
		pthread_mutex_lock(&r.mu);
		while (r.tail == r.head)
			pthread_cond_wait(&r.cv, &r.mu);
		unsigned slot = r.tail % SLOTS;
		ssize_t n = r.len[slot];
		pthread_mutex_unlock(&r.mu);
		if (n <= 0) { /* the reader has ended */
			rc = (int)n;
			break;
		}
		XXH64_update(s, r.buf + (size_t)slot * RING_BLOCK, (size_t)n);
		*total += (uint64_t)n;
		pthread_mutex_lock(&r.mu);
		r.tail++;
		pthread_cond_signal(&r.cv);
		pthread_mutex_unlock(&r.mu);
	}
	pthread_join(th, NULL);
out:
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
