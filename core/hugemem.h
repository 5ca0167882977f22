/*
 * Memory for the few large buffers a run fills from end to end (read
 * blocks, chunk buffers, encode buffers): from malloc's family, so that
 * free() and realloc() take it, but aligned to 2 MiB and, where the
 * kernel gives huge pages on advice only (THP "madvise", Debian's
 * default), advised for them.  Each huge page is one page fault instead
 * of 512; where a fault is expensive (virtual machines with shadow
 * paging: 3-4 us for each 4 KiB page touched the first time) the first
 * touch of a run's buffers was a tenth of a short run's time.  Only the
 * 2 MiB stretches wholly inside a buffer are advised; one that is touched
 * at all is resident as a whole, so these are buffers a large input
 * fills anyway.  sp_huge_free takes the advice back before freeing, so
 * that malloc does not hand the range out again in small pieces that
 * each fault a huge page in; a buffer freed with free() (or moved by
 * realloc()) keeps it, which is why a growable buffer holding such
 * memory is marked (struct sp_buf's huge) and grows through here.
 *
 * A freed buffer is kept (up to four, 8 MiB in all) for the next
 * request of the same size, its pages still faulted in: the content
 * hash's 4 MiB ring becomes the first file's read blocks, and each
 * file's read blocks the next file's.  On the VM that measured it a
 * fresh huge page took 0.2-2.5 ms to fault in (as the host had its
 * memory ready or not), on the path from the start of a run to its
 * first records.  sp_huge_trim() gives them back; the
 * runtime calls it when a run is destroyed.
 */
#ifndef SPATE_ENGINE_HUGEMEM_H
#define SPATE_ENGINE_HUGEMEM_H

#include <stddef.h>

#define SP_HUGE_PAGE ((size_t)2 << 20)

/* size bytes as malloc() gives them; 2 MiB-aligned and huge-page
 * advised when size is at least SP_HUGE_PAGE.  NULL when out of
 * memory. */
void *sp_huge_malloc(size_t size);

/* Frees p (from sp_huge_malloc(size), NULL allowed), taking the advice
 * back first, or keeps it for the next sp_huge_malloc(size). */
void sp_huge_free(void *p, size_t size);

/* Frees the buffers kept for reuse. */
void sp_huge_trim(void);

/* Bytes kept for reuse now. */
size_t sp_huge_kept(void);

#endif
