/*
 * JSON primitives: the strict scanner that the JSON-lines parser and field
 * paths (/a/b) share, and string unescaping (the writer is json_write.c).
 * Scanning is bounded by an end pointer and iterative (an explicit stack of
 * SP_JSON_MAX_DEPTH levels), so no input, however deep or malformed, can
 * overflow the C stack.
 */
#include "record/json.h"

#include "core/utf8.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static inline const char *skip_ws(const char *p, const char *end)
{
	while (p < end && is_ws((unsigned char)*p))
		p++;
	return p;
}

static inline int hex_val(unsigned char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	c |= 0x20;
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	return -1;
}

/* four hex digits at s (caller checked the length); -1 when not hex */
static inline int32_t hex4(const char *s)
{
	int32_t v = 0;

	for (int i = 0; i < 4; i++) {
		int h = hex_val((unsigned char)s[i]);
		if (h < 0)
			return -1;
		v = v << 4 | h;
	}
	return v;
}

/*
 * Reads the escape at s[0] == '\\' (s < end).  Returns the bytes it takes
 * (2, 6 or 12) and the code point in *cp (-1 for the one-byte escapes,
 * whose decoded byte is in *cp's low byte as a positive value otherwise),
 * or 0 with *why set when malformed.
 */
static size_t read_escape(const char *s, const char *end, int32_t *cp,
			  const char **why)
{
	if (end - s < 2) {
		*why = "invalid escape in string";
		return 0;
	}
	switch (s[1]) {
	case '"':
	case '\\':
	case '/':
		*cp = (unsigned char)s[1];
		return 2;
	case 'b':
		*cp = '\b';
		return 2;
	case 'f':
		*cp = '\f';
		return 2;
	case 'n':
		*cp = '\n';
		return 2;
	case 'r':
		*cp = '\r';
		return 2;
	case 't':
		*cp = '\t';
		return 2;
	case 'u':
		break;
	default:
		*why = "invalid escape in string";
		return 0;
	}
	int32_t hi = end - s >= 6 ? hex4(s + 2) : -1;
	if (hi < 0) {
		*why = "invalid \\u escape in string";
		return 0;
	}
	if (hi >= 0xdc00 && hi <= 0xdfff) {
		*why = "unpaired surrogate in string";
		return 0;
	}
	if (hi < 0xd800 || hi > 0xdbff) {
		*cp = hi;
		return 6;
	}
	int32_t lo =
	    end - s >= 12 && s[6] == '\\' && s[7] == 'u' ? hex4(s + 8) : -1;
	if (lo < 0xdc00 || lo > 0xdfff) {
		*why = "unpaired surrogate in string";
		return 0;
	}
	*cp = 0x10000 + ((hi - 0xd800) << 10) + (lo - 0xdc00);
	return 12;
}

static inline size_t put_utf8(char *o, int32_t cp)
{
	if (cp < 0x80) {
		o[0] = (char)cp;
		return 1;
	}
	if (cp < 0x800) {
		o[0] = (char)(0xc0 | cp >> 6);
		o[1] = (char)(0x80 | (cp & 0x3f));
		return 2;
	}
	if (cp < 0x10000) {
		o[0] = (char)(0xe0 | cp >> 12);
		o[1] = (char)(0x80 | (cp >> 6 & 0x3f));
		o[2] = (char)(0x80 | (cp & 0x3f));
		return 3;
	}
	o[0] = (char)(0xf0 | cp >> 18);
	o[1] = (char)(0x80 | (cp >> 12 & 0x3f));
	o[2] = (char)(0x80 | (cp >> 6 & 0x3f));
	o[3] = (char)(0x80 | (cp & 0x3f));
	return 4;
}

ssize_t sp_json_unescape(const char *s, size_t len, char *out)
{
	const char *end = s + len, *why;
	char *o = out;

	while (s < end) {
		const char *bs = memchr(s, '\\', (size_t)(end - s));
		size_t run = bs ? (size_t)(bs - s) : (size_t)(end - s);

		memmove(o, s, run);
		o += run;
		s += run;
		if (!bs)
			break;
		int32_t cp;
		size_t n = read_escape(s, end, &cp, &why);
		if (!n)
			return -EINVAL;
		o += put_utf8(o, cp);
		s += n;
	}
	return o - out;
}

/* bytes that end a plain run inside a string: '"', '\\', < 0x20, >= 0x80 */
static inline bool str_special(unsigned char c)
{
	return c == '"' || c == '\\' || c < 0x20 || c >= 0x80;
}

#if defined(__SSE2__)
/* The specials among the 16 bytes at p: '"', backslash, and (by a signed
 * compare) bytes below 0x20 or from 0x80. */
static inline unsigned str_special_mask(const char *p)
{
	const __m128i q = _mm_set1_epi8('"');
	const __m128i bs = _mm_set1_epi8('\\');
	const __m128i sp = _mm_set1_epi8(0x20);
	__m128i x = _mm_loadu_si128((const __m128i *)p);

	return (unsigned)_mm_movemask_epi8(_mm_or_si128(
	    _mm_or_si128(_mm_cmpeq_epi8(x, q), _mm_cmpeq_epi8(x, bs)),
	    _mm_cmplt_epi8(x, sp)));
}
#endif

/*
 * One special byte at s (not the closing quote): an escape or a UTF-8
 * sequence is checked and its length returned; 0 with *why set when it
 * is malformed or a control byte.
 */
static inline size_t scan_special(const char *s, const char *end,
				  uint8_t *flags, const char **why)
{
	unsigned char c = (unsigned char)*s;
	size_t n;

	if (c >= 0x80) {
		n = sp_utf8_seq((const unsigned char *)s,
				(const unsigned char *)end);
		if (unlikely(!n))
			*why = "invalid UTF-8 in string";
		return n;
	}
	if (c == '\\') {
		int32_t cp;
		n = read_escape(s, end, &cp, why);
		*flags |= SP_VALUE_ESCAPED;
		return n;
	}
	*why = c == 0 ? "NUL byte in string"
		      : "unescaped control character in string";
	return 0;
}

int sp_json_scan_string(const char **pp, const char *end, uint8_t *flags,
			const char **why)
{
	const char *const start = *pp;
	const char *p = start;
	size_t n;

#if defined(__SSE2__)
	/* each 16-byte block is loaded once: the specials in it (escapes,
	 * UTF-8 sequences) are handled from its mask, bit by bit */
	while (end - p >= 16) {
		const char *base = p;
		unsigned mask = str_special_mask(base);

		while (mask) {
			const char *s = base + __builtin_ctz(mask);
			if (likely(*s == '"')) {
				*pp = s;
				return 0;
			}
			n = scan_special(s, end, flags, why);
			if (unlikely(!n)) {
				p = s;
				goto fail;
			}
			p = s + n;
			if (p - base >= 16)
				goto next;
			mask &= ~0u << (unsigned)(p - base);
		}
		p = base + 16;
	next:;
	}
	/* the last bytes: one load ending at end, over bytes already scanned,
	 * when the string is that long (the closing quote of a line's last
	 * value is often there) */
	if (p < end && end - start >= 16) {
		const char *t = end - 16;
		unsigned mask =
		    str_special_mask(t) & (~0u << (unsigned)(p - t));

		while (mask) {
			const char *s = t + __builtin_ctz(mask);
			if (likely(*s == '"')) {
				*pp = s;
				return 0;
			}
			n = scan_special(s, end, flags, why);
			if (unlikely(!n)) {
				p = s;
				goto fail;
			}
			p = s + n;
			if (p >= end)
				break;
			mask &= ~0u << (unsigned)(p - t);
		}
		if (!mask)
			p = end;
	}
#endif
	for (;;) {
		while (p < end && !str_special((unsigned char)*p))
			p++;
		if (unlikely(p >= end)) {
			*pp = *pp - 1;
			*why = "unterminated string";
			return -EINVAL;
		}
		if (likely(*p == '"')) {
			*pp = p;
			return 0;
		}
		n = scan_special(p, end, flags, why);
		if (unlikely(!n))
			goto fail;
		p += n;
	}
fail:
	*pp = p;
	return -EINVAL;
}

static inline bool is_word(char c)
{
	return (c | 0x20) >= 'a' && (c | 0x20) <= 'z';
}

/* true/false/null at p; returns its end or NULL */
static inline const char *scan_literal(const char *p, const char *end,
				       struct sp_value *out)
{
	size_t n = (size_t)(end - p);
	const char *q;

	if (n >= 4 && memcmp(p, "true", 4) == 0) {
		*out = sp_value_bool(true);
		q = p + 4;
	} else if (n >= 5 && memcmp(p, "false", 5) == 0) {
		*out = sp_value_bool(false);
		q = p + 5;
	} else if (n >= 4 && memcmp(p, "null", 4) == 0) {
		*out = sp_value_null();
		q = p + 4;
	} else {
		return NULL;
	}
	if (q < end && is_word(*q))
		return NULL;
	return q;
}

/*
 * Skips the object or array at *pp (which is '{' or '['), validating it,
 * with an explicit stack; depth levels are open around it already.
 */
static int skip_nested(const char **pp, const char *end, unsigned depth,
		       const char **why)
{
	char stack[SP_JSON_MAX_DEPTH]; /* '}' or ']' per open level */
	unsigned top = 0;
	const char *p = *pp, *tok;
	uint8_t fl = 0; /* string flags: not needed, the text is kept raw */
	bool dbl;

	if (depth >= SP_JSON_MAX_DEPTH)
		goto too_deep;
	goto open;

value:
	p = skip_ws(p, end);
	if (p == end)
		goto want_value;
	switch (*p) {
	case '{':
	case '[':
		if (depth + top >= SP_JSON_MAX_DEPTH)
			goto too_deep;
	open:
		stack[top++] = *p == '{' ? '}' : ']';
		p = skip_ws(p + 1, end);
		if (p < end && *p == stack[top - 1]) {
			p++;
			top--;
			goto after;
		}
		if (stack[top - 1] == ']')
			goto value;
		if (p == end || *p != '"') {
			*why = "expected object key or '}'";
			goto fail;
		}
		goto key;
	case '"':
		p++;
		if (sp_json_scan_string(&p, end, &fl, why))
			goto fail;
		p++;
		goto after;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			tok = sp_json_scan_number(p, end, &dbl);
			if (!tok) {
				*why = "invalid number";
				goto fail;
			}
		} else {
			struct sp_value lit;
			tok = scan_literal(p, end, &lit);
			if (!tok)
				goto want_value;
		}
		p = tok;
		goto after;
	}

key:
	p++;
	if (sp_json_scan_string(&p, end, &fl, why))
		goto fail;
	p = skip_ws(p + 1, end);
	if (p == end || *p != ':') {
		*why = "expected ':' after object key";
		goto fail;
	}
	p++;
	goto value;

after:
	if (top == 0) {
		*pp = p;
		return 0;
	}
	p = skip_ws(p, end);
	if (p < end && *p == ',') {
		p = skip_ws(p + 1, end);
		if (stack[top - 1] == ']')
			goto value;
		if (p == end || *p != '"') {
			*why = "expected object key after ','";
			goto fail;
		}
		goto key;
	}
	if (p < end && *p == stack[top - 1]) {
		p++;
		top--;
		goto after;
	}
	*why = stack[top - 1] == '}'
		   ? "expected ',' or '}' after object member"
		   : "expected ',' or ']' after array element";
	goto fail;

want_value:
	*why = "expected a value";
	goto fail;
too_deep:
	*why = "nesting deeper than 512";
fail:
	*pp = p;
	return -EINVAL;
}

int sp_json_scan_value_at(const char **pp, const char *end, unsigned depth,
			  struct sp_value *out, const char **why)
{
	const char *p = skip_ws(*pp, end), *start = p, *q;
	bool dbl;

	if (p == end) {
		*why = "expected a value";
		goto fail;
	}
	switch (*p) {
	case '"': {
		uint8_t fl = 0;
		q = p + 1;
		if (sp_json_scan_string(&q, end, &fl, why)) {
			p = q;
			goto fail;
		}
		if ((size_t)(q - p - 1) > UINT32_MAX) {
			*why = "string longer than 4 GiB";
			goto fail;
		}
		*out = sp_value_string(p + 1, (uint32_t)(q - p - 1));
		/* the scanner let no raw quote, backslash or control byte
		 * through: without escapes the bytes are JSON as they are */
		out->flags =
		    fl & SP_VALUE_ESCAPED ? fl : fl | SP_VALUE_JSON_SAFE;
		*pp = q + 1;
		return 0;
	}
	case '{':
	case '[':
		q = p;
		if (skip_nested(&q, end, depth, why)) {
			p = q;
			goto fail;
		}
		if ((size_t)(q - start) > UINT32_MAX) {
			*why = "value longer than 4 GiB";
			goto fail;
		}
		out->type = *p == '{' ? SP_OBJECT : SP_ARRAY;
		out->flags = 0;
		out->reserved = 0;
		out->len = (uint32_t)(q - start);
		out->str = start;
		*pp = q;
		return 0;
	default:
		if (*p == '-' || (*p >= '0' && *p <= '9')) {
			q = sp_json_scan_number(p, end, &dbl);
			if (!q) {
				*why = "invalid number";
				goto fail;
			}
			*out = sp_json_number(p, q, dbl);
			*pp = q;
			return 0;
		}
		q = scan_literal(p, end, out);
		if (!q) {
			*why = "expected a value";
			goto fail;
		}
		*pp = q;
		return 0;
	}
fail:
	*pp = p;
	return -EINVAL;
}

int sp_json_scan_value(const char **p, const char *end, struct sp_value *out,
		       const char **why)
{
	return sp_json_scan_value_at(p, end, 0, out, why);
}

/* Whether escaped key text s[0..len) decodes to key[0..klen). */
static bool escaped_key_equals(const char *s, size_t len, const char *key,
			       size_t klen)
{
	const char *end = s + len, *why;
	size_t k = 0;

	while (s < end) {
		if (*s != '\\') {
			if (k == klen || key[k] != *s)
				return false;
			k++;
			s++;
			continue;
		}
		int32_t cp;
		char tmp[4];
		size_t n = read_escape(s, end, &cp, &why);
		if (!n)
			return false;
		size_t m = put_utf8(tmp, cp);
		if (klen - k < m || memcmp(key + k, tmp, m) != 0)
			return false;
		k += m;
		s += n;
	}
	return k == klen;
}

int sp_json_object_get(const char *obj, size_t len, const char *key,
		       size_t klen, struct sp_value *out)
{
	const char *p = obj, *end = obj + len, *why;
	bool found = false;

	p = skip_ws(p, end);
	if (p == end || *p != '{')
		return -EINVAL;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		return -ENOENT;
	for (;;) {
		uint8_t fl = 0;
		const char *k;
		size_t kl;
		struct sp_value v;

		if (p == end || *p != '"')
			return -EINVAL;
		k = ++p;
		if (sp_json_scan_string(&p, end, &fl, &why))
			return -EINVAL;
		kl = (size_t)(p - k);
		p = skip_ws(p + 1, end);
		if (p == end || *p != ':')
			return -EINVAL;
		p++;
		if (sp_json_scan_value_at(&p, end, 1, &v, &why))
			return -EINVAL;
		bool hit = fl & SP_VALUE_ESCAPED
			       ? escaped_key_equals(k, kl, key, klen)
			       : kl == klen && memcmp(k, key, klen) == 0;
		if (hit) { /* a repeated key: the last one wins */
			*out = v;
			found = true;
		}
		p = skip_ws(p, end);
		if (p < end && *p == '}')
			return found ? 0 : -ENOENT;
		if (p == end || *p != ',')
			return -EINVAL;
		p = skip_ws(p + 1, end);
	}
}
