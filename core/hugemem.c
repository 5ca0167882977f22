/* Large buffers aligned and advised for transparent huge pages (see
 * core/hugemem.h). */
#include "core/hugemem.h"

#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>

static pthread_once_t mode_once = PTHREAD_ONCE_INIT;
static bool advise; /* the kernel gives huge pages where advised only */

/* Advice is what counts in the kernel's "madvise" mode (Debian's
 * default).  In "always" every aligned region gets huge pages without
 * it, and advising or taking the advice back would only mark ranges
 * that malloc hands out again; in "never" (or without THP) it does
 * nothing. */
static void read_mode(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128] = "";

	if (!f)
		return;
	if (fgets(line, sizeof(line), f))
		advise = strstr(line, "[madvise]") != NULL;
	fclose(f);
}

static void set_advice(void *p, size_t size, int advice)
{
	size &= ~(SP_HUGE_PAGE - 1); /* whole huge pages inside the buffer */
	pthread_once(&mode_once, read_mode);
	if (advise && size)
		(void)madvise(p, size, advice);
}

/* Freed buffers kept for a request of the same size (see
 * core/hugemem.h), at most CACHE_SLOTS of them and CACHE_BYTES in all:
 * room for the ring of a hash and a file's read blocks, not for the
 * rings of all the hashing threads (idle for the rest of the run). */
#define CACHE_SLOTS 4
#define CACHE_BYTES ((size_t)8 << 20)

static struct {
	void *p;
	size_t size;
} cache[CACHE_SLOTS];
static size_t cached_bytes;
static pthread_mutex_t cache_mu = PTHREAD_MUTEX_INITIALIZER;

static void *cache_take(size_t size)
{
	void *p = NULL;

	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].p && cache[i].size == size) {
			p = cache[i].p;
			cache[i].p = NULL;
			cached_bytes -= size;
			break;
		}
	pthread_mutex_unlock(&cache_mu);
	return p;
}

static bool cache_keep(void *p, size_t size)
{
	bool kept = false;

	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CACHE_SLOTS && !kept; i++)
		if (!cache[i].p && cached_bytes + size <= CACHE_BYTES) {
			cache[i].p = p;
			cache[i].size = size;
			cached_bytes += size;
			kept = true;
		}
	pthread_mutex_unlock(&cache_mu);
	return kept;
}

void *sp_huge_malloc(size_t size)
{
	void *p;

	if (size < SP_HUGE_PAGE)
		return malloc(size);
	if ((p = cache_take(size)))
		return p;
	if (posix_memalign(&p, SP_HUGE_PAGE, size))
		return NULL;
	set_advice(p, size, MADV_HUGEPAGE);
	return p;
}

static void release(void *p, size_t size)
{
	set_advice(p, size, MADV_NOHUGEPAGE);
	free(p);
}

void sp_huge_free(void *p, size_t size)
{
	if (!p || size < SP_HUGE_PAGE) {
		free(p);
		return;
	}
	if (!cache_keep(p, size))
		release(p, size);
}

void sp_huge_trim(void)
{
	pthread_mutex_lock(&cache_mu);
	for (int i = 0; i < CACHE_SLOTS; i++)
		if (cache[i].p) {
			release(cache[i].p, cache[i].size);
			cache[i].p = NULL;
		}
	cached_bytes = 0;
	pthread_mutex_unlock(&cache_mu);
}

size_t sp_huge_kept(void)
{
	pthread_mutex_lock(&cache_mu);
	size_t n = cached_bytes;
	pthread_mutex_unlock(&cache_mu);
	return n;
}
