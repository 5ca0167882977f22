/*
 * UTF-8 helpers: validity, character-boundary cuts and lossy copies for
 * text that leaves spate (log lines, error reasons, previews of values).
 * Records themselves are checked by the parsers; these keep whatever
 * spate writes about them valid even when the input was not.
 */
#include "core/utf8.h"

#include <string.h>

bool sp_utf8_is_valid(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		if (*p < 0x80) {
			p++;
			continue;
		}
		size_t n = sp_utf8_seq(p, end);
		if (!n)
			return false;
		p += n;
	}
	return true;
}

size_t sp_utf8_cut(const char *s, size_t len, size_t max)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t at = 0;

	if (max >= len)
		return len;
	while (at < max) {
		size_t n = p[at] < 0x80 ? 1 : sp_utf8_seq(p + at, end);
		if (!n)
			n = 1;
		if (at + n > max)
			break;
		at += n;
	}
	return at;
}

size_t sp_utf8_sanitize(char *out, size_t cap, const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;
	size_t o = 0;

	while (p < end) {
		size_t n = *p < 0x80 ? 1 : sp_utf8_seq(p, end);
		const char *src = (const char *)p;
		size_t w = n;
		if (!n) {
			src = SP_UTF8_REPLACEMENT;
			w = 3;
			n = 1;
		}
		if (o + w + 1 > cap)
			break;
		memcpy(out + o, src, w);
		o += w;
		p += n;
	}
	out[o] = '\0';
	return o;
}
