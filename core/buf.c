/* Growable byte buffer: doubles its capacity, so appends are amortised O(1). */
#include "core/buf.h"

#include <errno.h>
#include <stdlib.h>

void sp_buf_init(struct sp_buf *b)
{
	b->data = NULL;
	b->len = b->cap = 0;
}

void sp_buf_fini(struct sp_buf *b)
{
	free(b->data);
	sp_buf_init(b);
}

int sp_buf_grow(struct sp_buf *b, size_t n)
{
	size_t cap = b->cap ? b->cap : 4096;

	while (cap - b->len < n)
		cap *= 2;
	char *p = realloc(b->data, cap);
	if (!p)
		return -ENOMEM;
	b->data = p;
	b->cap = cap;
	return 0;
}
