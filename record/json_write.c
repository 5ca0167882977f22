/*
 * The JSON writer: a field value back into JSON text.  Strings are escaped
 * (control characters, quote, backslash) and checked as UTF-8, invalid
 * bytes written as U+FFFD; values that came from input keep their source
 * text and are copied unchanged; integers are formatted without printf.
 */
#include "record/json.h"

#include "core/utf8.h"

#include <errno.h>
#include <math.h>
#include <stdbool.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static const char hex_digits[] = "0123456789abcdef";

/* bytes that need an escape, and bytes from 0x80 (checked as UTF-8) */
static inline bool needs_escape(unsigned char c)
{
	return c < 0x20 || c == '"' || c == '\\' || c >= 0x80;
}

/* The first byte in [s, end) that needs an escape or starts a non-ASCII
 * character, or end. */
static inline const char *escape_scan(const char *s, const char *end)
{
#if defined(__SSE2__)
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i ctl = _mm_set1_epi8(0x1f);

	while (end - s >= 16) {
		__m128i x = _mm_loadu_si128((const __m128i *)s);
		/* max(x, 0x1f) == 0x1f: unsigned x <= 0x1f */
		__m128i m = _mm_or_si128(
		    _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
		    _mm_cmpeq_epi8(_mm_max_epu8(x, ctl), ctl));
		/* the sign bits: bytes from 0x80 */
		unsigned mask = (unsigned)_mm_movemask_epi8(m) |
				(unsigned)_mm_movemask_epi8(x);
		if (mask)
			return s + __builtin_ctz(mask);
		s += 16;
	}
#endif
	while (s < end && !needs_escape((unsigned char)*s))
		s++;
	return s;
}

/* Copies the character at *s (>= 0x80) when it is valid UTF-8, else
 * writes U+FFFD for its first byte, so that what is written is always
 * valid JSON text. */
static int append_utf8(struct sp_buf *buf, const char **s, const char *end)
{
	size_t n =
	    sp_utf8_seq((const unsigned char *)*s, (const unsigned char *)end);
	const char *src = n ? *s : SP_UTF8_REPLACEMENT;
	size_t w = n ? n : 3;

	if (sp_buf_reserve(buf, w + 1))
		return -ENOMEM;
	memcpy(buf->data + buf->len, src, w);
	buf->len += w;
	*s += n ? n : 1;
	return 0;
}

int sp_json_append_string(struct sp_buf *buf, const char *s, size_t len)
{
	const char *end = s + len;

	if (sp_buf_reserve(buf, len + 2))
		return -ENOMEM;
	buf->data[buf->len++] = '"';
	while (s < end) {
		const char *run = s;

		s = escape_scan(s, end);
		if (s > run) {
			/* room for the run and the closing quote */
			if (sp_buf_reserve(buf, (size_t)(s - run) + 1))
				return -ENOMEM;
			memcpy(buf->data + buf->len, run, (size_t)(s - run));
			buf->len += (size_t)(s - run);
		}
		if (s == end)
			break;
		if ((unsigned char)*s >= 0x80) {
			if (append_utf8(buf, &s, end))
				return -ENOMEM;
			continue;
		}
		unsigned char c = (unsigned char)*s++;
		char esc[6] = {'\\', 0};
		size_t n = 2;
		switch (c) {
		case '"':
		case '\\':
			esc[1] = (char)c;
			break;
		case '\b':
			esc[1] = 'b';
			break;
		case '\f':
			esc[1] = 'f';
			break;
		case '\n':
			esc[1] = 'n';
			break;
		case '\r':
			esc[1] = 'r';
			break;
		case '\t':
			esc[1] = 't';
			break;
		default:
			memcpy(esc, "\\u00", 4);
			esc[4] = hex_digits[c >> 4];
			esc[5] = hex_digits[c & 15];
			n = 6;
		}
		if (sp_buf_reserve(buf, n + 1))
			return -ENOMEM;
		memcpy(buf->data + buf->len, esc, n);
		buf->len += n;
	}
	if (sp_buf_reserve(buf, 1))
		return -ENOMEM;
	buf->data[buf->len++] = '"';
	return 0;
}

static const char digit_pairs[201] = "00010203040506070809"
				     "10111213141516171819"
				     "20212223242526272829"
				     "30313233343536373839"
				     "40414243444546474849"
				     "50515253545556575859"
				     "60616263646566676869"
				     "70717273747576777879"
				     "80818283848586878889"
				     "90919293949596979899";

/* %lld without printf; out needs 20 bytes, returns the length */
static size_t format_int(int64_t i, char *out)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = i < 0 ? 0 - (uint64_t)i : (uint64_t)i;

	while (u >= 100) {
		unsigned d = (unsigned)(u % 100) * 2;
		u /= 100;
		*--p = digit_pairs[d + 1];
		*--p = digit_pairs[d];
	}
	if (u >= 10) {
		*--p = digit_pairs[u * 2 + 1];
		*--p = digit_pairs[u * 2];
	} else {
		*--p = (char)('0' + u);
	}
	if (i < 0)
		*--p = '-';
	size_t n = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, n);
	return n;
}

static int append_raw(struct sp_buf *buf, const char *s, size_t n)
{
	return sp_buf_append(buf, s, n) ? -ENOMEM : 0;
}

int sp_json_append_value(struct sp_buf *buf, const struct sp_value *v)
{
	char tmp[32];
	size_t n;

	switch (v->type) {
	case SP_NULL:
		return append_raw(buf, "null", 4);
	case SP_BOOL:
		return v->b ? append_raw(buf, "true", 4)
			    : append_raw(buf, "false", 5);
	case SP_INT:
		if (v->flags & SP_VALUE_TEXT)
			return append_raw(buf, v->str, v->len);
		n = format_int(v->i, tmp);
		return append_raw(buf, tmp, n);
	case SP_DOUBLE:
		if (v->flags & SP_VALUE_TEXT)
			return append_raw(buf, v->str, v->len);
		if (isnan(v->d) || isinf(v->d))
			return append_raw(buf, "null", 4);
		n = (size_t)sp_format_double(v->d, tmp);
		return append_raw(buf, tmp, n);
	case SP_STRING:
		if (!(v->flags & (SP_VALUE_ESCAPED | SP_VALUE_JSON_SAFE)))
			return sp_json_append_string(buf, v->str, v->len);
		if (sp_buf_reserve(buf, (size_t)v->len + 2))
			return -ENOMEM;
		buf->data[buf->len++] = '"';
		memcpy(buf->data + buf->len, v->str, v->len);
		buf->len += v->len;
		buf->data[buf->len++] = '"';
		return 0;
	case SP_OBJECT:
		return v->len ? append_raw(buf, v->str, v->len)
			      : append_raw(buf, "{}", 2);
	case SP_ARRAY:
		return v->len ? append_raw(buf, v->str, v->len)
			      : append_raw(buf, "[]", 2);
	default:
		return append_raw(buf, "null", 4);
	}
}
