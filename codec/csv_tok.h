/*
 * The CSV tokenizer, shared by the record parser and the header reader:
 * quotes open only at the start of a field, a doubled quote stands for
 * one, text after a closing quote up to the next delimiter is an error.
 * Inline, because it is the parser's inner loop.  Also the small helpers
 * that several CSV files use around it.
 */
#ifndef SPATE_CODEC_CSV_TOK_H
#define SPATE_CODEC_CSV_TOK_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

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

/* Copies quoted text without its doubled quotes; returns the new length. */
size_t sp_csv_unquote(const char *s, size_t len, char q, char *out);

/* 1-based field of record text raw[0..n) that holds byte at. */
uint32_t sp_csv_field_at(const char *raw, size_t n, size_t at, char d, char q);

/* Skips blank lines at pos (counting them); returns the new position. */
size_t sp_csv_skip_blank(const char *buf, size_t len, size_t pos,
			 uint64_t *lines);

/* Byte c as an error message shows it: itself, or \xNN. */
void sp_csv_show_char(char *out, size_t n, unsigned char c);

#endif
