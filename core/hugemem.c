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

void *sp_huge_malloc(size_t size)
{
	void *p;

	if (size < SP_HUGE_PAGE)
		return malloc(size);
	if (posix_memalign(&p, SP_HUGE_PAGE, size))
		return NULL;
	set_advice(p, size, MADV_HUGEPAGE);
	return p;
}

void sp_huge_free(void *p, size_t size)
{
	if (p && size >= SP_HUGE_PAGE)
		set_advice(p, size, MADV_NOHUGEPAGE);
	free(p);
}
