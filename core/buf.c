/* Growable byte buffer: doubles its capacity, so appends are amortised O(1). */
#include "core/buf.h"

#include <errno.h>
#include <stdlib.h>

#include "core/hugemem.h"

void sp_buf_init(struct sp_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
	b->huge = false;
}

void sp_buf_fini(struct sp_buf *b)
{
	if (b->huge)
		sp_huge_free(b->data, b->cap);
	else
		free(b->data);
	sp_buf_init(b);
}

/* realloc() would keep the advice on the range it leaves behind, and
 * not give the new one any */
static char *grow_huge(struct sp_buf *b, size_t cap)
{
	char *p = sp_huge_malloc(cap);

	if (!p)
		return NULL;
	memcpy(p, b->data, b->len);
	sp_huge_free(b->data, b->cap);
	return p;
}

int sp_buf_grow(struct sp_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;

	while (cap - b->len < n)
		cap *= 2;
	char *p = b->huge ? grow_huge(b, cap) : realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}
