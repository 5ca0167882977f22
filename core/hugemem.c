/* Large buffers aligned and advised for transparent huge pages (see
 * core/hugemem.h). */
#include "core/hugemem.h"

#include <stdint.h>
#include <stdlib.h>
#include <sys/mman.h>

void *sp_huge_malloc(size_t size)
{
	if (size < SP_HUGE_PAGE)
		return malloc(size);
	void *p;
	if (posix_memalign(&p, SP_HUGE_PAGE, size))
		return NULL;
#ifdef MADV_HUGEPAGE
	/* advice only: a kernel without THP (or with it off) says no and
	 * the buffer works as it is */
	(void)madvise(p, size & ~(SP_HUGE_PAGE - 1), MADV_HUGEPAGE);
#endif
	return p;
}

void sp_huge_free(void *p, size_t size)
{
#ifdef MADV_NOHUGEPAGE
	if (p && size >= SP_HUGE_PAGE)
		(void)madvise(p, size & ~(SP_HUGE_PAGE - 1), MADV_NOHUGEPAGE);
#endif
	free(p);
}
