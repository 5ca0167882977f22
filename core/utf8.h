/*
 * UTF-8 checks shared by the JSON writer, log lines and value previews:
 * the length of one valid sequence, a cut that does not split a
 * character, and a copy that replaces invalid bytes by U+FFFD.
 */
#ifndef SPATE_CORE_UTF8_H
#define SPATE_CORE_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* U+FFFD REPLACEMENT CHARACTER in UTF-8 */
#define SP_UTF8_REPLACEMENT "\xef\xbf\xbd"

/* Length of the valid UTF-8 sequence at p (p[0] >= 0x80, p < end), 0 if
 * the bytes there are not one (overlong forms, surrogates and code points
 * past U+10FFFF are invalid). */
static inline size_t sp_utf8_seq(const unsigned char *p,
				 const unsigned char *end)
{
	unsigned char c = p[0], lo = 0x80, hi = 0xbf;
	size_t n;

	if (c < 0xc2)
		return 0;
	if (c < 0xe0) {
		n = 2;
	} else if (c < 0xf0) {
		n = 3;
		if (c == 0xe0)
			lo = 0xa0;
		else if (c == 0xed)
			hi = 0x9f;
	} else if (c < 0xf5) {
		n = 4;
		if (c == 0xf0)
			lo = 0x90;
		else if (c == 0xf4)
			hi = 0x8f;
	} else {
		return 0;
	}
	if ((size_t)(end - p) < n || p[1] < lo || p[1] > hi)
		return 0;
	for (size_t i = 2; i < n; i++)
		if ((p[i] & 0xc0) != 0x80)
			return 0;
	return n;
}

/* True when s[0..len) is valid UTF-8. */
bool sp_utf8_is_valid(const char *s, size_t len);

/* The largest n <= max such that s[0..n) does not end inside a character
 * of s[0..len) (bytes that are no valid character count as one each). */
size_t sp_utf8_cut(const char *s, size_t len, size_t max);

/* Copies s[0..len) into out (NUL-terminated, at most cap - 1 bytes, cut on
 * a character boundary), each invalid byte replaced by U+FFFD.  Returns
 * the length written.  cap must be at least 1. */
size_t sp_utf8_sanitize(char *out, size_t cap, const char *s, size_t len);

#endif
