/* Growable byte buffer for encoders. */
#ifndef SPATE_ENGINE_BUF_H
#define SPATE_ENGINE_BUF_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

struct sp_buf {
	char *data;
	size_t len;
	size_t cap;
	/* data came from sp_huge_malloc(cap) (core/hugemem.h): grown and
	 * freed through it, so that its advice goes with it */
	bool huge;
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

/*
 * memcpy for the short keys and values of records: overlapping fixed-size
 * moves, inline, never reading or writing outside [src, src+n) and
 * [dst, dst+n); a libc call per field cost more than the copy.
 */
static inline void sp_copy_short(char *dst, const char *src, size_t n)
{
	uint64_t a, z;
	uint32_t c, y;

	if (n >= 8) {
		if (n > 16) {
			if (n > 32) {
				memcpy(dst, src, n);
				return;
			}
			char h[16], t[16];
			memcpy(h, src, 16);
			memcpy(t, src + n - 16, 16);
			memcpy(dst, h, 16);
			memcpy(dst + n - 16, t, 16);
			return;
		}
		memcpy(&a, src, 8);
		memcpy(&z, src + n - 8, 8);
		memcpy(dst, &a, 8);
		memcpy(dst + n - 8, &z, 8);
	} else if (n >= 4) {
		memcpy(&c, src, 4);
		memcpy(&y, src + n - 4, 4);
		memcpy(dst, &c, 4);
		memcpy(dst + n - 4, &y, 4);
	} else if (n) {
		dst[0] = src[0];
		dst[n / 2] = src[n / 2];
		dst[n - 1] = src[n - 1];
	}
}

#endif
