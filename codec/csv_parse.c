/*
 * CSV record parser: turns a chunk of records into batch records.  Fields
 * without doubled quotes point into the input; typed columns (schema) are
 * converted to binary values, and a row with the wrong number of fields,
 * text after a closing quote, invalid UTF-8 or a value that does not
 * convert is a record error naming line, offset, column and value.
 * Values whose text a CSV encoder would write as it is are marked
 * SP_VALUE_CSV_BARE; a decimal in its printed form is not converted
 * until a stage reads it.
 */
#include "codec/csv.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "codec/csv_conv.h"
#include "codec/csv_tok.h"
#include "codec/csv_utf8.h"
#include "core/arena.h"
#include "record/value.h"

/* longest value text quoted in a conversion error */
#define CSV_VALUE_SHOWN 64

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

struct rec_err {
	int kind; /* 0: none */
	uint32_t field;
	size_t at;
	const char *text; /* conversion: the value */
	size_t text_len;
	enum sp_csv_conv conv;
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

/* A number whose text is what an encoder would print keeps it, as a JSON
 * number does: encoders copy it instead of formatting it.  The length of
 * that text in s[0..n), or 0 when s is not in that form.  A decimal's
 * trailing zeros ("12.50", "3.00") do not change its value, so its text
 * without them may be that text ("12.5", "3.0"): a prefix of the field,
 * no formatting needed. */
static size_t double_text_len(const char *s, size_t n)
{
	size_t t = n;

	if (sp_csv_double_canonical(s, n))
		return n;
	if (s[n - 1] != '0' || !memchr(s, '.', n))
		return 0;
	while (t > 2 && s[t - 1] == '0' && s[t - 2] != '.')
		t--;
	return sp_csv_double_canonical(s, t) ? t : 0;
}

/* Fills v from the field text s[0..n) for a column of type type;
 * str_flags: SP_VALUE_JSON_SAFE or SP_VALUE_ESCAPED for a string's text. */
static enum sp_csv_conv field_value(struct sp_batch *b, enum sp_csv_type type,
				    const char *s, size_t n, uint8_t str_flags,
				    struct sp_value *v)
{
	enum sp_csv_conv ce;
	char ts[32];
	const char *tt;
	size_t tl;

	if (type == SP_CSV_STRING) {
		*v = sp_value_string(s, (uint32_t)n);
		v->flags |= str_flags;
		return SP_CSV_CONV_OK;
	}
	if (n == 0) {
		*v = sp_value_null();
		v->str = s; /* where the empty cell is: a run may go on */
		v->flags = SP_VALUE_CSV_BARE;
		return SP_CSV_CONV_OK;
	}
	switch (type) {
	case SP_CSV_INT:
		*v = sp_value_int(0);
		/* in the printed form with at most 18 digits: in range, so
		 * valid without converting it */
		if (n - (s[0] == '-') <= 18 && sp_csv_int_canonical(s, n))
			goto as_text;
		ce = sp_csv_conv_int(s, n, &v->i);
		break;
	case SP_CSV_DOUBLE:
		*v = sp_value_double(0);
		/* text in the printed form is a valid, finite double: its
		 * value is read when a stage asks for it, not here */
		if ((tl = double_text_len(s, n))) {
			n = tl;
			goto as_text;
		}
		ce = sp_csv_conv_double(s, n, &b->arena, &v->d);
		break;
	case SP_CSV_BOOL:
		*v = sp_value_bool(false);
		return sp_csv_conv_bool(s, n, &v->b);
	case SP_CSV_TIMESTAMP:
		tl = sp_csv_conv_timestamp(s, n, ts, &tt);
		if (!tl)
			return SP_CSV_CONV_BAD;
		if (tt != s && !(s = sp_arena_strndup(&b->arena, tt, tl)))
			return SP_CSV_CONV_BAD;
		*v = sp_value_string(s, (uint32_t)tl);
		/* digits, '-', ':', '.', 'T', 'Z' */
		v->flags |= SP_VALUE_JSON_SAFE | SP_VALUE_CSV_BARE;
		return SP_CSV_CONV_OK;
	default:
		return SP_CSV_CONV_BAD;
	}
	if (ce == SP_CSV_CONV_OK && type == SP_CSV_INT &&
	    sp_csv_int_canonical(s, n))
		goto as_text;
	return ce;
as_text: /* digits, '-' and '.' */
	v->flags = SP_VALUE_TEXT | SP_VALUE_CSV_BARE;
	v->len = (uint32_t)n;
	v->str = s;
	return SP_CSV_CONV_OK;
}

/* An unquoted string field that a CSV encoder of the ',' '"' dialect
 * writes as it is: read by a parser of that dialect (so it holds no
 * comma), without a byte JSON escapes (so no quote or line end), and
 * without what that encoder quotes besides: edge blanks, a leading byte
 * order mark. */
static bool bare_string(bool bare_dialect, const struct tok_field *f,
			const char *s, size_t n)
{
	const unsigned char *u = (const unsigned char *)s;

	if (!bare_dialect || f->quoted || !f->plain)
		return false;
	if (n == 0)
		return true;
	return u[0] != ' ' && u[n - 1] != ' ' &&
	       !(n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf);
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
		sp_csv_show_char(cbuf, sizeof(cbuf),
				 (unsigned char)buf[re->at]);
		return sp_batch_error_add(
		    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
		    "unexpected '%s' after closing quote in field %u", cbuf,
		    re->field);
	}
	if (p->ncols && nf != p->ncols)
		return sp_batch_error_add(
		    b, SP_NO_RECORD, line, base + rs, raw, raw_len,
		    "expected %u fields, found %u", p->ncols, nf);
	if (!sp_csv_plain_ascii((const unsigned char *)raw, raw_len)) {
		size_t bad =
		    sp_csv_utf8_check((const unsigned char *)raw, raw_len);

		if (bad < raw_len) {
			uint32_t fi = sp_csv_field_at(
			    raw, raw_len, bad, p->opt.delimiter, p->opt.quote);
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
		    re->conv == SP_CSV_CONV_RANGE ? "out of range for" : "not",
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
	/* whether plain fields can be marked SP_VALUE_CSV_BARE: once per
	 * chunk, not per field */
	const bool bare_dialect =
	    p->opt.delimiter == ',' && p->opt.quote == '"';

	tok_init(&t, buf, len, 0, p->opt.delimiter, p->opt.quote);
	while (t.pos < len) {
		struct tok_field f;
		struct rec_err re = {0};
		enum tok_end end;
		size_t rs, rend;
		uint64_t rline;
		uint32_t nf = 0;
		int r;

		t.pos = sp_csv_skip_blank(buf, len, t.pos, &line);
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
					n = sp_csv_unquote(s, n, t.q, u);
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
			enum sp_csv_conv ce =
			    field_value(b, type, s, n, str_flags, &fld->v);
			if (type == SP_CSV_STRING &&
			    bare_string(bare_dialect, &f, s, n))
				fld->v.flags |= SP_VALUE_CSV_BARE;
			if (ce != SP_CSV_CONV_OK && !re.kind) {
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
