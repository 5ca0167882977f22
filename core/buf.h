/* Growable byte buffer for encoders. */
#ifndef SPATE_ENGINE_BUF_H
#define SPATE_ENGINE_BUF_H

#include <stddef.h>
#include <string.h>

struct sp_buf {
	char *data;
	size_t len;
	size_t cap;
};

void sp_buf_init(struct sp_buf *b);
void sp_buf_fini(struct sp_buf *b);

/* Makes room for at least n more bytes.  0 or -ENOMEM. */
int sp_buf_grow(struct sp_buf *b, size_t n);

static inline int sp_buf_reserve(struct sp_buf *b, size_t n)
{
	return b->cap - b->len >= n ? 0 : sp_buf_grow(b, n);
}

static inline int sp_buf_append(struct sp_buf *b, const void *p, size_t n)
{
	if (n == 0) /* data may still be NULL */
		return 0;
	if (sp_buf_reserve(b, n))
		return -12; /* -ENOMEM */
	memcpy(b->data + b->len, p, n);
	b->len += n;
	return 0;
}

static inline int sp_buf_putc(struct sp_buf *b, char c)
{
	if (sp_buf_reserve(b, 1))
		return -12;
	b->data[b->len++] = c;
	return 0;
}

#endif
