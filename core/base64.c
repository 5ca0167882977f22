/*
 * Base64 encoding (RFC 4648 alphabet, '=' padding): lets spate carry
 * bytes that are not valid UTF-8 inside JSON output without losing any
 * of them.
 */
#include "core/base64.h"

#include <errno.h>

static const char alphabet[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

int sp_base64_append(struct sp_buf *buf, const void *s, size_t len)
{
	const unsigned char *p = s;
	size_t i = 0;

	if (sp_buf_reserve(buf, (len + 2) / 3 * 4))
		return -ENOMEM;
	char *o = buf->data + buf->len;
	for (; i + 3 <= len; i += 3) {
		unsigned v = (unsigned)p[i] << 16 | (unsigned)p[i + 1] << 8 |
			     p[i + 2];
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = alphabet[(v >> 6) & 63];
		*o++ = alphabet[v & 63];
	}
	if (i < len) {
		unsigned v = (unsigned)p[i] << 16;
		if (i + 1 < len)
			v |= (unsigned)p[i + 1] << 8;
		*o++ = alphabet[v >> 18];
		*o++ = alphabet[(v >> 12) & 63];
		*o++ = i + 1 < len ? alphabet[(v >> 6) & 63] : '=';
		*o++ = '=';
	}
	buf->len = (size_t)(o - buf->data);
	return 0;
}
