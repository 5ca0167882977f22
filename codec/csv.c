/*
 * CSV codec.  The parser turns chunks of RFC 4180 text into batch records:
 * one tokenizer (quotes open only at the start of a field, a doubled quote
 * stands for one, text after a closing quote up to the next delimiter is an
 * error) is shared by the record parser, the header reader and, in a faster
 * quote-jumping form, by sp_csv_split, so that a chunk boundary is always a
 * record boundary for the parser too.  Fields without doubled quotes point
 * into the input; typed columns (schema) are converted to binary values and
 * a value that does not convert is a record error naming column and value.
 * The encoder writes records back with the same quoting rules.
 */
#ifndef _GNU_SOURCE
#define _GNU_SOURCE /* memrchr */
#endif
#include "codec/csv.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "core/arena.h"
#include "record/json.h"
#include "record/value.h"

/* longest value text quoted in a conversion error */
#define CSV_VALUE_SHOWN 64

static const char *const type_names[] = {
    [SP_CSV_STRING] = "string",	      [SP_CSV_INT] = "int",
    [SP_CSV_DOUBLE] = "double",	      [SP_CSV_BOOL] = "bool",
    [SP_CSV_TIMESTAMP] = "timestamp",
};

int sp_csv_type_parse(const char *name, enum sp_csv_type *out)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]);
	     i++) {
		if (strcasecmp(name, type_names[i]) == 0) {
			*out = (enum sp_csv_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sp_csv_type_name(enum sp_csv_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0])
		   ? type_names[t]
		   : "?";
}

/* ------------------------------------------------------------------ */
/* Tokenizer                                                           */

/*
 * The tokenizer walks a bit mask of the bytes that can end or open a field
 * (delimiter, quote, newline), 64 input bytes per mask, instead of calling
 * memchr once per field: CSV fields are short, and the per-call cost was
 * most of the parse time.  The mask also marks the bytes JSON must escape
 * ('"', backslash, control bytes), so that a field without them is known
 * to be JSON-safe and an encoder copies it without scanning it again.
 */

enum tok_end {
	TOK_DELIM,	  /* field ended by a delimiter; more follow */
	TOK_EOL,	  /* field ended the record at a newline */
	TOK_EOF,	  /* field ended the record at the end of the buffer */
	TOK_UNTERMINATED, /* quoted field without closing quote */
};

struct tok {
	const char *buf;
	size_t len;
	size_t pos;	   /* next byte to read */
	uint64_t newlines; /* quoted newlines met so far */
	size_t mbase;	   /* offset of the 64-byte block mask describes */
	uint64_t mask;	   /* bit i: buf[mbase + i] is special (tok_block) */
	uint64_t dmask; /* its delimiters, when JSON holds them as they are */
	bool d_plain;	/* JSON holds the delimiter as it is */
	char d, q;
};

struct tok_field {
	size_t start, end; /* content; inside the quotes when quoted */
	size_t garbage;	   /* first byte after a closing quote, or SIZE_MAX */
	bool quoted;
	bool doubled; /* holds doubled quotes: needs unquoting */
	bool plain;   /* no byte JSON escapes but the quotes of doubled pairs */
};

/* A byte JSON holds between quotes as it is. */
static inline bool json_plain_byte(unsigned char c)
{
	return c >= 0x20 && c != '"' && c != '\\';
}

static inline void tok_init(struct tok *t, const char *buf, size_t len,
			    size_t pos, char d, char q)
{
	*t = (struct tok){.buf = buf,
			  .len = len,
			  .pos = pos,
			  .mbase = SIZE_MAX,
			  .d_plain = json_plain_byte((unsigned char)d),
			  .d = d,
			  .q = q};
}

static inline bool tok_special(const struct tok *t, unsigned char c)
{
	return c == (unsigned char)t->d || c == (unsigned char)t->q ||
	       c == '"' || c == '\\' || c < 0x20;
}

/* The special bytes of buf[base..base+64) (fewer at the buffer's end):
 * delimiter, quote, and what JSON escapes: '"', backslash and control
 * bytes (newline among them); *dm: the delimiters among them when JSON
 * holds the delimiter as it is (a quoted field skips them), else 0. */
static inline uint64_t tok_block(const struct tok *t, size_t base, uint64_t *dm)
{
	const char *p = t->buf + base;
	uint64_t m = 0;

	*dm = 0;
	if (base + 64 <= t->len) {
#if defined(__SSE2__)
		const __m128i vd = _mm_set1_epi8(t->d),
			      vq = _mm_set1_epi8(t->q), vj = _mm_set1_epi8('"'),
			      vb = _mm_set1_epi8('\\'),
			      vc = _mm_set1_epi8(0x1f);
		for (int i = 0; i < 4; i++) {
			__m128i x =
			    _mm_loadu_si128((const __m128i *)(p + 16 * i));
			/* max(x, 0x1f) == 0x1f: unsigned x <= 0x1f */
			__m128i ed = _mm_cmpeq_epi8(x, vd);
			__m128i e = _mm_or_si128(
			    _mm_or_si128(ed, _mm_cmpeq_epi8(x, vq)),
			    _mm_or_si128(
				_mm_or_si128(_mm_cmpeq_epi8(x, vj),
					     _mm_cmpeq_epi8(x, vb)),
				_mm_cmpeq_epi8(_mm_max_epu8(x, vc), vc)));
			m |= (uint64_t)(uint16_t)_mm_movemask_epi8(e)
			     << (16 * i);
			*dm |= (uint64_t)(uint16_t)_mm_movemask_epi8(ed)
			       << (16 * i);
		}
		if (!t->d_plain)
			*dm = 0;
		return m;
#endif
	}
	for (size_t i = 0; i < 64 && base + i < t->len; i++) {
		if (tok_special(t, (unsigned char)p[i]))
			m |= 1ull << i;
		if (t->d_plain && p[i] == t->d)
			*dm |= 1ull << i;
	}
	return m;
}

/* Offset of the first special byte at or after from, or len when there is
 * none; in_quotes: not counting delimiters that JSON holds as they are
 * (inside quotes they are text, and the field stays plain). */
static inline __attribute__((always_inline)) size_t
tok_next(struct tok *t, size_t from, bool in_quotes)
{
	size_t base = from & ~(size_t)63;
	uint64_t m;

	if (from >= t->len)
		return t->len;
	if (base != t->mbase) {
		t->mbase = base;
		t->mask = tok_block(t, base, &t->dmask);
	}
	m = (t->mask & ~(in_quotes ? t->dmask : 0)) & (~0ull << (from & 63));
	while (!m) {
		base += 64;
		if (base >= t->len)
			return t->len;
		t->mbase = base;
		t->mask = tok_block(t, base, &t->dmask);
		m = t->mask & ~(in_quotes ? t->dmask : 0);
	}
	return base + (size_t)__builtin_ctzll(m);
}

/* Finishes a field that ends at the delimiter or line end after from;
 * *plain is cleared when the text holds a byte JSON must escape. */
static inline __attribute__((always_inline)) enum tok_end
tok_tail(struct tok *t, size_t from, size_t *fend, bool *plain)
{
	const char *buf = t->buf;
	size_t e = tok_next(t, from, false);

	/* a quote inside an unquoted field is text, like the other specials
	 * that are neither delimiter nor newline (a CR before LF ends it) */
	while (e < t->len && buf[e] != t->d && buf[e] != '\n') {
		if (!(buf[e] == '\r' && e + 1 < t->len && buf[e + 1] == '\n'))
			*plain = false;
		e = tok_next(t, e + 1, false);
	}
	*fend = e;
	if (e < t->len && t->buf[e] == t->d) {
		t->pos = e + 1;
		return TOK_DELIM;
	}
	if (*fend > from && t->buf[*fend - 1] == '\r')
		(*fend)--;
	if (e == t->len) {
		t->pos = t->len;
		return TOK_EOF;
	}
	t->pos = e + 1;
	return TOK_EOL;
}

static inline __attribute__((always_inline)) enum tok_end
tok_field(struct tok *t, struct tok_field *f)
{
	const char *buf = t->buf;
	size_t len = t->len, pos = t->pos, s, a, unused;

	f->garbage = SIZE_MAX;
	f->doubled = false;
	f->plain = true;
	if (pos >= len || buf[pos] != t->q) {
		f->quoted = false;
		f->start = pos;
		if (pos >= len) {
			f->end = pos;
			t->pos = len;
			return TOK_EOF;
		}
		return tok_tail(t, pos, &f->end, &f->plain);
	}
	f->quoted = true;
	f->start = pos + 1;
	s = pos + 1;
	uint64_t newlines_before = t->newlines;
	for (;;) {
		s = tok_next(t, s, true);
		if (s == len) {
			/* lines count to where the field starts */
			t->newlines = newlines_before;
			f->start = pos; /* the opening quote */
			f->end = len;
			t->pos = len;
			return TOK_UNTERMINATED;
		}
		if (buf[s] != t->q) {
			t->newlines += buf[s] == '\n';
			/* a delimiter inside quotes is text: plain unless JSON
			 * escapes it too (tab, '"' or backslash delimiters) */
			if (!json_plain_byte((unsigned char)buf[s]))
				f->plain = false;
			s++;
			continue;
		}
		if (s + 1 < len && buf[s + 1] == t->q) {
			f->doubled = true;
			s += 2;
			continue;
		}
		break;
	}
	f->end = s;
	a = s + 1;
	if (a == len) {
		t->pos = len;
		return TOK_EOF;
	}
	if (buf[a] == t->d) {
		t->pos = a + 1;
		return TOK_DELIM;
	}
	if (buf[a] == '\n') {
		t->pos = a + 1;
		return TOK_EOL;
	}
	if (buf[a] == '\r') {
		if (a + 1 == len) {
			t->pos = len;
			return TOK_EOF;
		}
		if (buf[a + 1] == '\n') {
			t->pos = a + 2;
			return TOK_EOL;
		}
	}
	f->garbage = a;
	return tok_tail(t, a, &unused, &f->plain);
}

/* The JSON-escaped form of quoted text whose only special bytes are
 * doubled '"': each "" becomes \", so the length stays the same. */
static void escape_doubled(const char *s, size_t len, char *out)
{
	bool second = false; /* the next quote closes a pair */
	size_t i = 0;

	memcpy(out, s, len);
#if defined(__SSE2__)
	/* quotes found 16 bytes at a time: a memchr call per pair cost more */
	const __m128i vq = _mm_set1_epi8('"');
	for (; i + 16 <= len; i += 16) {
		unsigned m = (unsigned)_mm_movemask_epi8(_mm_cmpeq_epi8(
		    _mm_loadu_si128((const __m128i *)(out + i)), vq));
		for (; m; m &= m - 1) {
			if (!second)
				out[i + (unsigned)__builtin_ctz(m)] = '\\';
			second = !second;
		}
	}
#endif
	for (; i < len; i++) {
		if (out[i] != '"')
			continue;
		if (!second)
			out[i] = '\\';
		second = !second;
	}
}

/* Copies quoted text without its doubled quotes; returns the new length. */
static size_t unquote(const char *s, size_t len, char q, char *out)
{
	const char *end = s + len, *c;
	size_t n = 0;

	while ((c = memchr(s, q, (size_t)(end - s)))) {
		size_t run = (size_t)(c - s) + 1; /* with one quote */
		memcpy(out + n, s, run);
		n += run;
		s = c + 1;
		if (s < end && *s == q)
			s++;
	}
	memcpy(out + n, s, (size_t)(end - s));
	return n + (size_t)(end - s);
}

/* ------------------------------------------------------------------ */
/* UTF-8                                                               */

/* True when s[0..n) is all ASCII without NUL (eight bytes at a time). */
static inline bool plain_ascii(const unsigned char *s, size_t n)
{
	const uint64_t hi = 0x8080808080808080ull, lo = 0x0101010101010101ull;
	size_t i = 0;
	uint64_t acc = 0;

#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i zero = _mm_setzero_si128();
		__m128i any = zero;
		/* a high bit, or a byte equal to zero */
		for (; i + 16 <= n; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
			any = _mm_or_si128(
			    any, _mm_or_si128(x, _mm_cmpeq_epi8(x, zero)));
		}
		__m128i x = _mm_loadu_si128((const __m128i *)(s + n - 16));
		any =
		    _mm_or_si128(any, _mm_or_si128(x, _mm_cmpeq_epi8(x, zero)));
		return _mm_movemask_epi8(any) == 0;
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		acc |= (w | ((w - lo) & ~w)) & hi;
	}
	if (acc)
		return false;
	for (; i < n; i++)
		if (s[i] == 0 || s[i] >= 0x80)
			return false;
	return true;
}

/* Offset of the first NUL or invalid UTF-8 byte in s[0..n), or n. */
static size_t utf8_check(const unsigned char *s, size_t n)
{
	size_t i = 0;

	while (i < n) {
		unsigned c = s[i];
		unsigned need, min;
		uint32_t cp;

		if (c == 0)
			return i;
		if (c < 0x80) {
			i++;
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			need = 1;
			cp = c & 0x1f;
			min = 0x80;
		} else if (c >= 0xe0 && c <= 0xef) {
			need = 2;
			cp = c & 0x0f;
			min = 0x800;
		} else if (c >= 0xf0 && c <= 0xf4) {
			need = 3;
			cp = c & 0x07;
			min = 0x10000;
		} else {
			return i;
		}
		if (n - i <= need)
			return i;
		for (unsigned k = 1; k <= need; k++) {
			if ((s[i + k] & 0xc0) != 0x80)
				return i;
			cp = (cp << 6) | (s[i + k] & 0x3f);
		}
		if (cp < min || cp > 0x10ffff || (cp >= 0xd800 && cp <= 0xdfff))
			return i;
		i += need + 1;
	}
	return n;
}

/* 1-based field of record text raw[0..n) that holds byte at. */
static uint32_t field_at(const char *raw, size_t n, size_t at, char d, char q)
{
	struct tok t;
	struct tok_field f;
	uint32_t field = 1;

	tok_init(&t, raw, n, 0, d, q);
	while (tok_field(&t, &f) == TOK_DELIM && t.pos <= at)
		field++;
	return field;
}

/* ------------------------------------------------------------------ */
/* Typed conversion                                                    */

enum conv_err {
	CONV_OK = 0,
	CONV_BAD,
	CONV_RANGE,
};

static enum conv_err conv_int(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t acc = 0;

	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return CONV_BAD;
	for (size_t k = i; k < len; k++)
		if ((unsigned)(s[k] - '0') > 9)
			return CONV_BAD;
	for (; i < len; i++) {
		unsigned dgt = (unsigned)(s[i] - '0');
		if (acc > (UINT64_MAX - dgt) / 10)
			return CONV_RANGE;
		acc = acc * 10 + dgt;
	}
	if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
		return CONV_RANGE;
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return CONV_OK;
}

/* Decimal syntax only: no hex, inf, nan or surrounding space. */
static bool double_syntax(const char *s, size_t len)
{
	size_t i = 0, digits = 0;

	if (s[i] == '-' || s[i] == '+')
		i++;
	while (i < len && (unsigned)(s[i] - '0') <= 9) {
		i++;
		digits++;
	}
	if (i < len && s[i] == '.') {
		i++;
		while (i < len && (unsigned)(s[i] - '0') <= 9) {
			i++;
			digits++;
		}
	}
	if (!digits)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == len || (unsigned)(s[i] - '0') > 9)
			return false;
		while (i < len && (unsigned)(s[i] - '0') <= 9)
			i++;
	}
	return i == len;
}

/*
 * Clinger's fast path: a mantissa below 2^53 scaled by a power of ten up
 * to 1e22 is one correctly rounded IEEE operation on exact operands.
 * False when the text needs strtod.  s has decimal syntax.
 */
static bool double_fast(const char *s, size_t len, double *out)
{
	static const double p10[] = {
	    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,
	    1e8,  1e9,	1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	uint64_t m = 0;
	int exp10 = 0, digits = 0;
	bool neg = false, frac = false;
	size_t i = 0;

	if (s[0] == '-' || s[0] == '+')
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		if ((unsigned)(s[i] - '0') > 9)
			return false; /* an exponent: leave it to strtod */
		if (m == 0 && s[i] == '0') {
			exp10 -= frac;
			continue;
		}
		if (++digits > 15)
			return false;
		m = m * 10 + (unsigned)(s[i] - '0');
		exp10 -= frac;
	}
	if (exp10 < -22)
		return false;
	double d = (double)m;
	d = exp10 < 0 ? d / p10[-exp10] : d;
	*out = neg ? -d : d;
	return true;
}

static enum conv_err conv_double(const char *s, size_t len,
				 struct sp_arena *arena, double *out)
{
	char tmp[96];
	char *copy = tmp, *end;

	if (!double_syntax(s, len))
		return CONV_BAD;
	if (double_fast(s, len, out))
		return CONV_OK;
	if (len >= sizeof(tmp)) {
		copy = sp_arena_strndup(arena, s, len);
		if (!copy)
			return CONV_BAD;
	} else {
		memcpy(tmp, s, len);
		tmp[len] = '\0';
	}
	errno = 0;
	double d = strtod(copy, &end);
	if (end != copy + len)
		return CONV_BAD;
	if (isinf(d))
		return CONV_RANGE;
	*out = d;
	return CONV_OK;
}

static enum conv_err conv_bool(const char *s, size_t len, bool *out)
{
	static const struct {
		const char *text;
		bool value;
	} words[] = {{"true", true}, {"false", false}, {"1", true},
		     {"0", false},   {"yes", true},    {"no", false}};

	for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].text) == len &&
		    strncasecmp(s, words[i].text, len) == 0) {
			*out = words[i].value;
			return CONV_OK;
		}
	}
	return CONV_BAD;
}

static bool digits_at(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned)(s[i] - '0') > 9)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

/* days since 1970-01-01 of a proleptic Gregorian date (H. Hinnant) */
static int64_t days_from_civil(int64_t y, int m, int d)
{
	y -= m <= 2;
	int64_t era = (y >= 0 ? y : y - 399) / 400;
	int64_t yoe = y - era * 400;
	int64_t doy = (153 * (m + (m > 2 ? -3 : 9)) + 2) / 5 + d - 1;
	int64_t doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;

	return era * 146097 + doe - 719468;
}

static void civil_from_days(int64_t z, int64_t *y, int *m, int *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	int64_t doe = z - era * 146097;
	int64_t yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	int64_t doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	int64_t mp = (5 * doy + 2) / 153;

	*d = (int)(doy - (153 * mp + 2) / 5 + 1);
	*m = (int)(mp < 10 ? mp + 3 : mp - 9);
	*y = yoe + era * 400 + (*m <= 2);
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30,
				  31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * ISO 8601 text to "YYYY-MM-DDTHH:MM:SS[.f]Z" (UTC) in out (32 bytes);
 * returns the length or 0 when s is no timestamp (or leaves 0000..9999).
 */
static size_t conv_timestamp(const char *s, size_t len, char *out)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	size_t i, frac = 0, frac_at = 0;

	if (len < 10 || s[4] != '-' || s[7] != '-' || !digits_at(s, 4, &y) ||
	    !digits_at(s + 5, 2, &mo) || !digits_at(s + 8, 2, &d))
		return 0;
	i = 10;
	if (i < len) {
		if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') ||
		    len - i < 9 || s[i + 3] != ':' || s[i + 6] != ':' ||
		    !digits_at(s + i + 1, 2, &h) ||
		    !digits_at(s + i + 4, 2, &mi) ||
		    !digits_at(s + i + 7, 2, &sec))
			return 0;
		i += 9;
		if (i < len && s[i] == '.') {
			frac_at = ++i;
			while (i < len && (unsigned)(s[i] - '0') <= 9)
				i++;
			frac = i - frac_at;
			if (frac < 1 || frac > 9)
				return 0;
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			sign = s[i] == '-' ? -1 : 1;
			i++;
			if (len - i == 5 && s[i + 2] == ':' &&
			    digits_at(s + i, 2, &oh) &&
			    digits_at(s + i + 3, 2, &om))
				i += 5;
			else if (len - i == 4 && digits_at(s + i, 2, &oh) &&
				 digits_at(s + i + 2, 2, &om))
				i += 4;
			else
				return 0;
			if (oh > 23 || om > 59)
				return 0;
		}
	}
	if (i != len || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return 0;
	if (!sign && len > 10) {
		/* already UTC: only the separator and the zone letter can
		 * differ from the canonical form */
		memcpy(out, s, len);
		out[10] = 'T';
		if (s[len - 1] == 'Z' || s[len - 1] == 'z') {
			out[len - 1] = 'Z';
			return len;
		}
		out[len] = 'Z';
		return len + 1;
	}

	int64_t t = days_from_civil(y, mo, d) * 86400 + h * 3600 + mi * 60 +
		    sec - (int64_t)sign * (oh * 3600 + om * 60);
	int64_t days = t >= 0 ? t / 86400 : -((-t + 86399) / 86400);
	int64_t rem = t - days * 86400, year;

	civil_from_days(days, &year, &mo, &d);
	if (year < 0 || year > 9999)
		return 0;
	y = (int)year;
	put2(out, y / 100);
	put2(out + 2, y % 100);
	out[4] = '-';
	put2(out + 5, mo);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, (int)(rem / 3600));
	out[13] = ':';
	put2(out + 14, (int)(rem / 60 % 60));
	out[16] = ':';
	put2(out + 17, (int)(rem % 60));
	i = 19;
	if (frac) {
		out[i++] = '.';
		memcpy(out + i, s + frac_at, frac);
		i += frac;
	}
	out[i++] = 'Z';
	return i;
}

/* ------------------------------------------------------------------ */
/* Parser configuration                                                */

/*
 * col_sym and col_type hold ncols columns followed by a copy of the
 * schema (opt.nschema entries), so that a header read later can be
 * matched against the schema without keeping the caller's array.
 */
static int set_columns(struct sp_csv_parser *p, uint32_t ncols,
		       const uint32_t *sym, const enum sp_csv_type *type)
{
	uint32_t ns = p->opt.schema ? p->opt.nschema : 0;
	size_t n = (size_t)ncols + ns;
	uint32_t *nsym = malloc((n ? n : 1) * sizeof(*nsym));
	enum sp_csv_type *ntype = malloc((n ? n : 1) * sizeof(*ntype));

	if (!nsym || !ntype) {
		free(nsym);
		free(ntype);
		return -ENOMEM;
	}
	memcpy(nsym, sym, ncols * sizeof(*nsym));
	memcpy(ntype, type, ncols * sizeof(*ntype));
	if (ns && p->col_sym) {
		memcpy(nsym + ncols, p->col_sym + p->ncols, ns * sizeof(*nsym));
		memcpy(ntype + ncols, p->col_type + p->ncols,
		       ns * sizeof(*ntype));
	}
	free(p->col_sym);
	free(p->col_type);
	p->col_sym = nsym;
	p->col_type = ntype;
	p->ncols = ncols;
	return 0;
}

int sp_csv_parser_init(struct sp_csv_parser *p,
		       const struct sp_csv_options *opt, struct sp_symtab *st)
{
	uint32_t ns;
	int err;

	memset(p, 0, sizeof(*p));
	p->opt = *opt;
	if (!p->opt.delimiter)
		p->opt.delimiter = ',';
	if (!p->opt.quote)
		p->opt.quote = '"';
	if (p->opt.delimiter == p->opt.quote || p->opt.delimiter == '\n' ||
	    p->opt.delimiter == '\r' || p->opt.quote == '\n' ||
	    p->opt.quote == '\r')
		return -EINVAL;
	if (!p->opt.schema)
		p->opt.nschema = 0;
	ns = p->opt.nschema;
	if (!ns) {
		p->opt.schema = NULL;
		return 0;
	}
	p->col_sym = calloc(2 * (size_t)ns, sizeof(*p->col_sym));
	p->col_type = calloc(2 * (size_t)ns, sizeof(*p->col_type));
	if (!p->col_sym || !p->col_type) {
		err = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < ns; i++) {
		const struct sp_csv_column *c = &opt->schema[i];

		err = -EINVAL;
		if (!c->name || !c->name[0] ||
		    (unsigned)c->type > SP_CSV_TIMESTAMP)
			goto fail;
		uint32_t sym = sp_symtab_intern(st, c->name, strlen(c->name));
		if (sym == SP_SYM_NONE) {
			err = -ENOMEM;
			goto fail;
		}
		for (uint32_t k = 0; k < i; k++)
			if (p->col_sym[k] == sym)
				goto fail; /* a column named twice */
		p->col_sym[i] = p->col_sym[ns + i] = sym;
		p->col_type[i] = p->col_type[ns + i] = c->type;
	}
	p->ncols = ns;
	p->opt.schema = NULL; /* not kept: the copy above is used */
	return 0;
fail:
	free(p->col_sym);
	free(p->col_type);
	p->col_sym = NULL;
	p->col_type = NULL;
	return err;
}

void sp_csv_parser_fini(struct sp_csv_parser *p)
{
	free(p->col_sym);
	free(p->col_type);
	p->col_sym = NULL;
	p->col_type = NULL;
	p->ncols = 0;
}

/* Skips blank lines at pos (counting them); returns the new position. */
static size_t skip_blank(const char *buf, size_t len, size_t pos,
			 uint64_t *lines)
{
	for (;;) {
		if (pos < len && buf[pos] == '\n') {
			pos++;
			(*lines)++;
		} else if (pos + 1 < len && buf[pos] == '\r' &&
			   buf[pos + 1] == '\n') {
			pos += 2;
			(*lines)++;
		} else {
			return pos;
		}
	}
}

static void show_char(char *out, size_t n, unsigned char c)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(out, n, "%c", c);
	else
		snprintf(out, n, "\\x%02x", c);
}

/* Reads the header record at *pos into columns. */
static ssize_t read_header(struct sp_csv_parser *p, struct sp_symtab *st,
			   const char *buf, size_t len, size_t pos,
			   uint64_t *lines, char *err, size_t errlen)
{
	struct tok t;
	struct tok_field f;
	enum tok_end end;
	uint32_t n = 0, cap = 16, ns = p->opt.nschema;
	uint32_t *sym = malloc(cap * sizeof(*sym));
	enum sp_csv_type *type = malloc(cap * sizeof(*type));
	char *name = NULL;
	ssize_t ret;

	if (!sym || !type) {
		ret = -ENOMEM;
		goto out;
	}
	tok_init(&t, buf, len, pos, p->opt.delimiter, p->opt.quote);
	do {
		char cbuf[8];
		const char *s;
		size_t slen;

		end = tok_field(&t, &f);
		if (end == TOK_UNTERMINATED || end == TOK_EOF) {
			ret = -EAGAIN; /* the header line is not complete */
			goto out;
		}
		if (f.garbage != SIZE_MAX) {
			show_char(cbuf, sizeof(cbuf),
				  (unsigned char)buf[f.garbage]);
			snprintf(err, errlen,
				 "header: unexpected '%s' after closing quote "
				 "in field %u",
				 cbuf, n + 1);
			ret = -EINVAL;
			goto out;
		}
		s = buf + f.start;
		slen = f.end - f.start;
		if (f.doubled) {
			free(name);
			name = malloc(slen + 1);
			if (!name) {
				ret = -ENOMEM;
				goto out;
			}
			slen = unquote(s, slen, t.q, name);
			s = name;
		}
		if (utf8_check((const unsigned char *)s, slen) != slen) {
			snprintf(err, errlen,
				 "header: invalid UTF-8 or NUL in column %u",
				 n + 1);
			ret = -EINVAL;
			goto out;
		}
		if (n == cap) {
			void *a = realloc(sym, 2 * cap * sizeof(*sym));
			if (a)
				sym = a;
			void *b = realloc(type, 2 * cap * sizeof(*type));
			if (b)
				type = b;
			if (!a || !b) {
				ret = -ENOMEM;
				goto out;
			}
			cap *= 2;
		}
		if (slen) {
			sym[n] = sp_symtab_intern(st, s, slen);
		} else {
			char gen[16]; /* an empty name gets the _N form */
			int gl = snprintf(gen, sizeof(gen), "_%u", n + 1);
			sym[n] = sp_symtab_intern(st, gen, (size_t)gl);
		}
		if (sym[n] == SP_SYM_NONE) {
			ret = -ENOMEM;
			goto out;
		}
		type[n] = SP_CSV_STRING;
		for (uint32_t k = 0; k < ns; k++)
			if (p->col_sym[p->ncols + k] == sym[n])
				type[n] = p->col_type[p->ncols + k];
		n++;
	} while (end == TOK_DELIM);
	for (uint32_t k = 0; k < ns; k++) {
		uint32_t want = p->col_sym[p->ncols + k], i;

		for (i = 0; i < n && sym[i] != want; i++)
			;
		if (i == n) {
			snprintf(err, errlen,
				 "header has no column '%s' named in schema",
				 sp_symtab_name(st, want, NULL));
			ret = -EINVAL;
			goto out;
		}
	}
	ret = set_columns(p, n, sym, type);
	if (ret)
		goto out;
	*lines += 1 + t.newlines;
	ret = (ssize_t)t.pos;
out:
	free(name);
	free(sym);
	free(type);
	return ret;
}

/* Names the columns _1.._n after the fields of the record at pos. */
static ssize_t first_row_columns(struct sp_csv_parser *p, struct sp_symtab *st,
				 const char *buf, size_t len, size_t pos)
{
	struct tok t;
	struct tok_field f;
	enum tok_end end;
	uint32_t n = 0, *sym = NULL;
	enum sp_csv_type *type = NULL;
	int ret;

	tok_init(&t, buf, len, pos, p->opt.delimiter, p->opt.quote);
	do {
		end = tok_field(&t, &f);
		n++;
	} while (end == TOK_DELIM);
	if (end != TOK_EOL)
		return -EAGAIN;
	sym = malloc(n * sizeof(*sym));
	type = calloc(n, sizeof(*type));
	ret = -ENOMEM;
	if (!sym || !type)
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		char gen[16];
		int gl = snprintf(gen, sizeof(gen), "_%u", i + 1);

		sym[i] = sp_symtab_intern(st, gen, (size_t)gl);
		if (sym[i] == SP_SYM_NONE)
			goto out;
	}
	ret = set_columns(p, n, sym, type);
out:
	free(sym);
	free(type);
	return ret;
}

ssize_t sp_csv_read_preamble(struct sp_csv_parser *p, struct sp_symtab *st,
			     const char *buf, size_t len, uint64_t *lines,
			     char *err, size_t errlen)
{
	static const char bom[] = "\xef\xbb\xbf";
	size_t pos = 0;
	uint64_t nl = 0;
	ssize_t r;

	if (errlen)
		err[0] = '\0';
	if (len < 3 && memcmp(buf, bom, len) == 0)
		return -EAGAIN;
	if (len >= 3 && memcmp(buf, bom, 3) == 0)
		pos = 3;
	for (uint32_t i = 0; i < p->opt.ignore_lines; i++) {
		const char *e = memchr(buf + pos, '\n', len - pos);
		if (!e)
			return -EAGAIN;
		pos = (size_t)(e - buf) + 1;
		nl++;
	}
	if (p->opt.header) {
		pos = skip_blank(buf, len, pos, &nl);
		r = read_header(p, st, buf, len, pos, &nl, err, errlen);
		if (r < 0)
			return r;
		pos = (size_t)r;
	} else if (!p->opt.nschema) {
		uint64_t ignored = 0;
		size_t at = skip_blank(buf, len, pos, &ignored);

		r = first_row_columns(p, st, buf, len, at);
		if (r < 0)
			return r;
	}
	*lines = nl;
	return (ssize_t)pos;
}

/* ------------------------------------------------------------------ */
/* Record parser                                                       */

struct rec_err {
	int kind; /* 0: none */
	uint32_t field;
	size_t at;
	const char *text; /* conversion: the value */
	size_t text_len;
	enum conv_err conv;
};

enum {
	REC_OK = 0,
	REC_GARBAGE,
	REC_CONV,
};

static const char *const conv_what[] = {
    [SP_CSV_STRING] = "a string",	[SP_CSV_INT] = "an int",
    [SP_CSV_DOUBLE] = "a double",	[SP_CSV_BOOL] = "a bool",
    [SP_CSV_TIMESTAMP] = "a timestamp",
};

/* Fills v from the field text s[0..n) for a column of type type;
 * str_flags: SP_VALUE_JSON_SAFE or SP_VALUE_ESCAPED for a string's text. */
static enum conv_err field_value(struct sp_batch *b, enum sp_csv_type type,
				 const char *s, size_t n, uint8_t str_flags,
				 struct sp_value *v)
{
	char ts[32];
	size_t tl;

	if (type == SP_CSV_STRING) {
		*v = sp_value_string(s, (uint32_t)n);
		v->flags |= str_flags;
		return CONV_OK;
	}
	if (n == 0) {
		*v = sp_value_null();
		return CONV_OK;
	}
	switch (type) {
	case SP_CSV_INT:
		*v = sp_value_int(0);
		return conv_int(s, n, &v->i);
	case SP_CSV_DOUBLE:
		*v = sp_value_double(0);
		return conv_double(s, n, &b->arena, &v->d);
	case SP_CSV_BOOL:
		*v = sp_value_bool(false);
		return conv_bool(s, n, &v->b);
	case SP_CSV_TIMESTAMP:
		tl = conv_timestamp(s, n, ts);
		if (!tl)
			return CONV_BAD;
		if (tl != n || memcmp(ts, s, n) != 0) {
			s = sp_arena_strndup(&b->arena, ts, tl);
			if (!s)
				return CONV_BAD;
		}
		*v = sp_value_string(s, (uint32_t)tl);
		v->flags |= SP_VALUE_JSON_SAFE; /* digits, '-', ':', 'T', 'Z' */
		return CONV_OK;
	default:
		return CONV_BAD;
	}
}

static size_t shown_len(const char *s, size_t n)
{
	if (n <= CSV_VALUE_SHOWN)
		return n;
	n = CSV_VALUE_SHOWN;
	/* do not cut a UTF-8 sequence in half */
	while (n > 0 && ((unsigned char)s[n] & 0xc0) == 0x80)
		n--;
	return n;
}

static int report(const struct sp_csv_parser *p, struct sp_batch *b,
		  const struct rec_err *re, uint32_t nf, const char *buf,
		  size_t rs, size_t re_end, uint64_t line, uint64_t base)
{
	const char *raw = buf + rs;
	uint32_t raw_len = (uint32_t)(re_end - rs);
	char cbuf[8];

	if (re->kind == REC_GARBAGE) {
		show_char(cbuf, sizeof(cbuf), (unsigned char)buf[re->at]);
		return sp_batch_error_add(
		    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
		    "unexpected '%s' after closing quote in field %u", cbuf,
		    re->field);
	}
	if (p->ncols && nf != p->ncols)
		return sp_batch_error_add(
		    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
		    "expected %u fields, found %u", p->ncols, nf);
	if (!plain_ascii((const unsigned char *)raw, raw_len)) {
		size_t bad = utf8_check((const unsigned char *)raw, raw_len);

		if (bad < raw_len) {
			uint32_t fi = field_at(raw, raw_len, bad,
					       p->opt.delimiter, p->opt.quote);
			return sp_batch_error_add(
			    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
			    "%s in field %u at byte offset %llu",
			    raw[bad] ? "invalid UTF-8" : "NUL byte", fi,
			    (unsigned long long)(base + rs + bad));
		}
	}
	if (re->kind == REC_CONV) {
		uint32_t sym = p->col_sym[re->field - 1];
		enum sp_csv_type type = p->col_type[re->field - 1];

		return sp_batch_error_add(
		    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
		    "column \"%s\" (field %u): \"%.*s\" is %s %s",
		    sp_symtab_name(b->symtab, sym, NULL), re->field,
		    (int)shown_len(re->text, re->text_len), re->text,
		    re->conv == CONV_RANGE ? "out of range for" : "not",
		    conv_what[type]);
	}
	return 1; /* no error */
}

int sp_csv_parse(const struct sp_csv_parser *p, const char *buf, size_t len,
		 uint64_t first_line, uint64_t base_offset, struct sp_batch *b)
{
	struct tok t;
	const uint32_t ncols = p->ncols;
	uint64_t line = first_line;
	int added = 0;

	tok_init(&t, buf, len, 0, p->opt.delimiter, p->opt.quote);
	while (t.pos < len) {
		struct tok_field f;
		struct rec_err re = {0};
		enum tok_end end;
		size_t rs, rend;
		uint64_t rline;
		uint32_t nf = 0;
		int r;

		t.pos = skip_blank(buf, len, t.pos, &line);
		if (t.pos >= len)
			break;
		if (t.pos + 1 == len && buf[t.pos] == '\r')
			break; /* a lone CR ends the input: a blank line */
		rs = t.pos;
		rline = line;
		t.newlines = 0;
		if (!sp_batch_record_begin(b))
			return -ENOMEM;
		do {
			end = tok_field(&t, &f);
			if (end == TOK_UNTERMINATED)
				break;
			nf++;
			if (f.garbage != SIZE_MAX && !re.kind) {
				re.kind = REC_GARBAGE;
				re.field = nf;
				re.at = f.garbage;
			}
			if (re.kind == REC_GARBAGE || (ncols && nf > ncols))
				continue;

			struct sp_field *fld = sp_batch_field_push(b);
			const char *s = buf + f.start;
			size_t n = f.end - f.start;
			enum sp_csv_type type = SP_CSV_STRING;
			uint8_t str_flags = f.plain ? SP_VALUE_JSON_SAFE : 0;

			if (!fld)
				return -ENOMEM;
			if (n > UINT32_MAX)
				n = UINT32_MAX; /* rejected as too long below */
			if (ncols)
				type = p->col_type[nf - 1];
			if (f.doubled) {
				char *u = sp_arena_alloc(&b->arena, n + 1);
				if (!u)
					return -ENOMEM;
				if (type == SP_CSV_STRING && f.plain &&
				    t.q == '"') {
					/* kept JSON-escaped: an encoder copies
					 * it, a reader of the text decodes it
					 */
					escape_doubled(s, n, u);
					str_flags = SP_VALUE_ESCAPED;
				} else {
					n = unquote(s, n, t.q, u);
					/* the quote is in the text now */
					if (!json_plain_byte(
						(unsigned char)t.q))
						str_flags = 0;
				}
				u[n] = '\0';
				s = u;
			}
			if (ncols) {
				fld->sym = p->col_sym[nf - 1];
			} else {
				char gen[16];
				int gl = snprintf(gen, sizeof(gen), "_%u", nf);
				fld->sym = sp_symtab_intern(b->symtab, gen,
							    (size_t)gl);
				if (fld->sym == SP_SYM_NONE)
					return -ENOMEM;
			}
			fld->reserved = 0;
			enum conv_err ce =
			    field_value(b, type, s, n, str_flags, &fld->v);
			if (ce != CONV_OK && !re.kind) {
				re.kind = REC_CONV;
				re.field = nf;
				re.text = s;
				re.text_len = n;
				re.conv = ce;
			}
		} while (end == TOK_DELIM);

		if (end == TOK_UNTERMINATED) {
			sp_batch_record_abort(b);
			rend = len;
			if (rend - rs > UINT32_MAX)
				rend = rs + UINT32_MAX;
			if (sp_batch_error_add(
				b, SP_NO_RECORD, rline, base_offset + rs,
				buf + rs, (uint32_t)(rend - rs),
				"unterminated quoted field starting at "
				"line %llu",
				(unsigned long long)(rline + t.newlines)))
				return -ENOMEM;
			break;
		}
		/* the record text, without its line end */
		rend = end == TOK_EOL ? t.pos - 1 : len;
		if (rend > rs && buf[rend - 1] == '\r')
			rend--;
		line += 1 + t.newlines;
		if (rend - rs > UINT32_MAX) {
			sp_batch_record_abort(b);
			if (sp_batch_error_add(
				b, SP_NO_RECORD, rline, base_offset + rs,
				buf + rs, UINT32_MAX,
				"record longer than %u bytes", UINT32_MAX))
				return -ENOMEM;
			continue;
		}
		r = report(p, b, &re, nf, buf, rs, rend, rline, base_offset);
		if (r <= 0) {
			sp_batch_record_abort(b);
			if (r < 0)
				return -ENOMEM;
			continue;
		}
		struct sp_record *rec = &b->recs[b->nrecs - 1];
		rec->raw = buf + rs;
		rec->raw_len = (uint32_t)(rend - rs);
		rec->line = rline;
		/* raw holds CSV text: an encoder must not copy it as JSON */
		rec->flags |= SP_RECORD_CHANGED;
		added++;
	}
	return added;
}

/* ------------------------------------------------------------------ */
/* Chunk splitting                                                     */

/* Bits at or above lo and below hi (0 <= lo <= hi <= 64). */
static inline uint64_t bit_range(unsigned lo, unsigned hi)
{
	uint64_t below_hi = hi >= 64 ? ~0ull : (1ull << hi) - 1;

	return lo >= 64 ? 0 : below_hi & (~0ull << lo);
}

/* The quotes (*qm), newlines (*nm) and delimiters (*dm) of
 * buf[base..base+64), fewer at the end of the buffer. */
static inline void split_block(const char *buf, size_t len, size_t base, char d,
			       char q, uint64_t *qm, uint64_t *nm, uint64_t *dm)
{
	const char *p = buf + base;

	*qm = *nm = *dm = 0;
	if (base + 64 <= len) {
#if defined(__SSE2__)
		const __m128i vq = _mm_set1_epi8(q), vn = _mm_set1_epi8('\n'),
			      vd = _mm_set1_epi8(d);
		for (int i = 0; i < 4; i++) {
			__m128i x =
			    _mm_loadu_si128((const __m128i *)(p + 16 * i));
			unsigned sh = 16 * (unsigned)i;
			*qm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vq))
			       << sh;
			*nm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vn))
			       << sh;
			*dm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vd))
			       << sh;
		}
		return;
#endif
	}
	for (size_t i = 0; i < 64 && base + i < len; i++) {
		*qm |= (uint64_t)(p[i] == q) << i;
		*nm |= (uint64_t)(p[i] == '\n') << i;
		*dm |= (uint64_t)(p[i] == d) << i;
	}
}

/* Bit i: the parity of the bits 0..i of x. */
static inline uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/*
 * Outside quotes, a quote opens a field only at a field start; inside, a
 * doubled quote stays inside; the last newline met outside quotes is the
 * boundary.  Per 64-byte block, with bit masks of its quotes, newlines and
 * delimiters: when every quote that toggles into a quoted field follows a
 * delimiter, a newline or a quote (a doubled one), the quoted bytes are
 * the prefix parity of the quotes, as in any CSV; a block with a quote
 * inside an unquoted field (text, not an opening) is walked quote by quote.
 */
size_t sp_csv_split(const struct sp_csv_options *opt, const char *buf,
		    size_t len)
{
	const char d = opt->delimiter ? opt->delimiter : ',';
	const char q = opt->quote ? opt->quote : '"';
	size_t last = 0; /* just past a boundary newline */
	size_t cur = 0;	 /* quotes before cur are accounted for */
	bool inside = false;
	uint64_t prev_starts = 1; /* the last block ends a field (in bit 0);
				     the buffer start does */

	for (size_t base = 0; base < len; base += 64) {
		uint64_t qm, nm, dm;
		unsigned n = len - base < 64 ? (unsigned)(len - base) : 64;

		split_block(buf, len, base, d, q, &qm, &nm, &dm);
		/* after a delimiter, a newline, or (the second of a doubled
		 * pair) a quote of this block */
		uint64_t starts = ((dm | nm | qm) << 1) | prev_starts;
		prev_starts = (dm | nm) >> 63;
		if (cur <= base) {
			uint64_t in = prefix_xor(qm) ^ (inside ? ~0ull : 0);
			uint64_t opening = qm & in;

			if (!(opening & ~starts)) {
				uint64_t nl = nm & ~in;
				if (nl)
					last = base + 64 -
					       (size_t)__builtin_clzll(nl);
				inside = (in >> (n - 1)) & 1;
				if (!inside && n == 64 && (qm >> 63) &&
				    base + 64 < len && buf[base + 64] == q) {
					/* a pair across blocks: the next block
					 * is walked from past its second quote
					 */
					inside = true;
					cur = base + 65;
				}
				continue;
			}
		}
		for (;;) {
			unsigned from = cur > base ? (unsigned)(cur - base) : 0;
			uint64_t qs = qm & bit_range(from, 64);

			if (inside) {
				if (!qs)
					break; /* still inside at block end */
				size_t at = base + (size_t)__builtin_ctzll(qs);
				if (at + 1 < len && buf[at + 1] == q) {
					cur =
					    at + 2; /* doubled: stays inside */
					continue;
				}
				inside = false;
				cur = at + 1;
				continue;
			}
			/* outside: the next quote at a field start opens */
			size_t open = SIZE_MAX;
			while (qs) {
				size_t at = base + (size_t)__builtin_ctzll(qs);
				if (at == 0 || buf[at - 1] == d ||
				    buf[at - 1] == '\n') {
					open = at;
					break;
				}
				qs &= qs - 1;
			}
			unsigned to =
			    open == SIZE_MAX ? 64 : (unsigned)(open - base);
			uint64_t nl = nm & bit_range(from, to);
			if (nl)
				last = base + 64 - (size_t)__builtin_clzll(nl);
			if (open == SIZE_MAX)
				break;
			inside = true;
			cur = open + 1;
		}
	}
	return last;
}

/* ------------------------------------------------------------------ */
/* Encoder                                                             */

void sp_csv_encoder_init(struct sp_csv_encoder *e, char delimiter, char quote,
			 bool header)
{
	memset(e, 0, sizeof(*e));
	e->delimiter = delimiter ? delimiter : ',';
	e->quote = quote ? quote : '"';
	e->header = header;
}

void sp_csv_encoder_fini(struct sp_csv_encoder *e)
{
	free(e->cols);
	e->cols = NULL;
	e->ncols = 0;
}

static bool needs_quote(const struct sp_csv_encoder *e, const char *s, size_t n)
{
	if (n && (s[0] == ' ' || s[0] == '\t' || s[n - 1] == ' ' ||
		  s[n - 1] == '\t'))
		return true;
	/* a leading byte order mark would be taken for the file's own */
	if (n >= 3 && memcmp(s, "\xef\xbb\xbf", 3) == 0)
		return true;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		if (c == e->delimiter || c == e->quote || c == '\n' ||
		    c == '\r')
			return true;
	}
	return false;
}

/* Appends s[0..n) as one field; with lone set an empty text is quoted. */
static int put_field(const struct sp_csv_encoder *e, struct sp_buf *out,
		     const char *s, size_t n, bool lone)
{
	if (!(lone && n == 0) && !needs_quote(e, s, n))
		return sp_buf_append(out, s, n);
	if (sp_buf_reserve(out, 2 * n + 2))
		return -ENOMEM;
	char *w = out->data + out->len;
	*w++ = e->quote;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == e->quote)
			*w++ = e->quote;
		*w++ = s[i];
	}
	*w++ = e->quote;
	out->len = (size_t)(w - out->data);
	return 0;
}

static int put_value(const struct sp_csv_encoder *e, struct sp_buf *out,
		     const struct sp_value *v, bool force)
{
	char tmp[40];
	const char *s;
	size_t n;
	int r;

	switch (v->type) {
	case SP_NULL:
		return put_field(e, out, "", 0, force);
	case SP_BOOL:
		s = v->b ? "true" : "false";
		return put_field(e, out, s, strlen(s), false);
	case SP_INT:
	case SP_DOUBLE:
		if (v->flags & SP_VALUE_TEXT)
			return put_field(e, out, v->str, v->len, force);
		if (v->type == SP_DOUBLE) {
			r = sp_format_double(v->d, tmp);
			return put_field(e, out, tmp, (size_t)r, false);
		}
		{
			uint64_t u =
			    v->i < 0 ? 0 - (uint64_t)v->i : (uint64_t)v->i;
			char *w = tmp + sizeof(tmp);

			do {
				*--w = (char)('0' + u % 10);
				u /= 10;
			} while (u);
			if (v->i < 0)
				*--w = '-';
			return put_field(
			    e, out, w, (size_t)(tmp + sizeof(tmp) - w), false);
		}
	case SP_STRING:
		if (!(v->flags & SP_VALUE_ESCAPED))
			return put_field(e, out, v->str, v->len, force);
		/* decode past the room that the quoted text may take */
		n = v->len;
		if (sp_buf_reserve(out, 3 * n + 3))
			return -ENOMEM;
		{
			char *scratch = out->data + out->len + 2 * n + 2;
			ssize_t dn = sp_json_unescape(v->str, n, scratch);

			if (dn < 0)
				return put_field(e, out, v->str, v->len, force);
			return put_field(e, out, scratch, (size_t)dn, force);
		}
	case SP_OBJECT:
	case SP_ARRAY:
		return put_field(e, out, v->str, v->len, force);
	}
	return put_field(e, out, "", 0, force);
}

static __thread char why_buf[256];

int sp_csv_encode_record(struct sp_csv_encoder *e, const struct sp_batch *b,
			 uint32_t rec, struct sp_buf *out, const char **why)
{
	const struct sp_record *r = &b->recs[rec];
	const struct sp_field *f = &b->fields[r->first];
	uint32_t nf = r->nfields;
	size_t mark = out->len;
	int err;

	if (e->ncols == 0 && nf) {
		uint32_t n = 0;

		free(e->cols);
		e->cols = malloc(nf * sizeof(*e->cols));
		if (!e->cols)
			return -ENOMEM;
		for (uint32_t i = 0; i < nf; i++) {
			uint32_t k;

			if (f[i].sym == SP_SYM_NONE)
				continue;
			for (k = 0; k < n && e->cols[k] != f[i].sym; k++)
				;
			if (k == n)
				e->cols[n++] = f[i].sym;
		}
		e->ncols = n;
	}
	/* every field must have a column (same order is the fast path) */
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t k;

		if (f[i].sym == SP_SYM_NONE ||
		    (i < e->ncols && e->cols[i] == f[i].sym))
			continue;
		for (k = 0; k < e->ncols && e->cols[k] != f[i].sym; k++)
			;
		if (k == e->ncols) {
			snprintf(why_buf, sizeof(why_buf),
				 "field \"%s\" is not one of the CSV columns",
				 sp_symtab_name(b->symtab, f[i].sym, NULL));
			if (why)
				*why = why_buf;
			return -EINVAL;
		}
	}
	if (e->header && !e->header_written && e->ncols) {
		for (uint32_t k = 0; k < e->ncols; k++) {
			uint32_t nl;
			const char *name =
			    sp_symtab_name(b->symtab, e->cols[k], &nl);

			if ((k && sp_buf_putc(out, e->delimiter)) ||
			    put_field(e, out, name, nl, e->ncols == 1))
				goto nomem;
		}
		if (sp_buf_putc(out, '\n'))
			goto nomem;
		e->header_written = true;
	}
	for (uint32_t k = 0; k < e->ncols; k++) {
		const struct sp_value *v = NULL;
		static const struct sp_value null_value = {.type = SP_NULL};

		if (k < nf && f[k].sym == e->cols[k]) {
			v = &f[k].v;
		} else {
			for (uint32_t i = 0; i < nf; i++) {
				if (f[i].sym == e->cols[k]) {
					v = &f[i].v;
					break;
				}
			}
		}
		if (k && sp_buf_putc(out, e->delimiter))
			goto nomem;
		/* a lone empty field is written "" so the line is not blank */
		err = put_value(e, out, v ? v : &null_value, e->ncols == 1);
		if (err)
			goto nomem;
	}
	if (sp_buf_putc(out, '\n'))
		goto nomem;
	return 0;
nomem:
	out->len = mark;
	return -ENOMEM;
}
