/*
 * Memory for the few large buffers a run fills from end to end (read
 * blocks, chunk buffers, encode buffers): allocated with malloc's family,
 * so free() and realloc() take it as usual, but aligned to 2 MiB and
 * advised for transparent huge pages.  Each huge page is one page fault
 * instead of 512; where a fault is expensive (virtual machines with
 * shadow paging: 3-4 us for each 4 KiB page touched the first time) the
 * first touch of a run's buffers was a tenth of a short run's time.
 * Only the 2 MiB stretches wholly inside the buffer are advised, so a
 * buffer's resident size never exceeds what it spans.
 */
#ifndef SPATE_ENGINE_HUGEMEM_H
#define SPATE_ENGINE_HUGEMEM_H

#include <stddef.h>

#define SP_HUGE_PAGE ((size_t)2 << 20)

/* size bytes as malloc() gives them; huge-page advised when size is at
 * least SP_HUGE_PAGE (and the kernel allows it).  NULL when out of
 * memory. */
void *sp_huge_malloc(size_t size);

/* Frees p (from sp_huge_malloc(size), NULL allowed), taking the advice
 * back first: malloc may hand the range out again in small pieces. */
void sp_huge_free(void *p, size_t size);

#endif
