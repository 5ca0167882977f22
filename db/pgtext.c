/*
 * COPY text rows to records (db/pgtext.h): splits a block of rows at tabs
 * and newlines, undoes COPY's backslash escapes in place and makes each
 * field a value of its column's kind, pointing into the block.  Numbers
 * keep PostgreSQL's digits as their text, so nothing is rounded on the
 * way through; JSON is squeezed of its whitespace so that it fits on one
 * line of JSON-lines output.
 */
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "db/pgtext.h"
#include "record/json.h"

enum sp_pgtext_kind sp_pgtext_kind_of(uint32_t oid, char cat, bool *wrap)
{
	*wrap = cat == 'A' || cat == 'C';
	if (*wrap)
		return SP_PGT_JSON;
	switch (oid) {
	case 16:
		return SP_PGT_BOOL;
	case 20: /* int8 */
	case 21: /* int2 */
	case 23: /* int4 */
	case 26: /* oid */
		return SP_PGT_INT;
	case 700:
	case 701:
		return SP_PGT_FLOAT;
	case 1700:
		return SP_PGT_NUMERIC;
	case 114:  /* json */
	case 3802: /* jsonb */
		return SP_PGT_JSON;
	case 1114:
		return SP_PGT_TIMESTAMP;
	case 1184:
		return SP_PGT_TIMESTAMPTZ;
	default:
		return SP_PGT_TEXT;
	}
}

static int hexval(char c)
{
	if (c >= '0' && c <= '9')
		return c - '0';
	if (c >= 'a' && c <= 'f')
		return c - 'a' + 10;
	if (c >= 'A' && c <= 'F')
		return c - 'A' + 10;
	return -1;
}

/* the escape after a backslash at *p (p < end): the byte it stands for */
static char unescape_one(const char **p, const char *end)
{
	char c = *(*p)++;
	int v, k;

	switch (c) {
	case 'b':
		return '\b';
	case 'f':
		return '\f';
	case 'n':
		return '\n';
	case 'r':
		return '\r';
	case 't':
		return '\t';
	case 'v':
		return '\v';
	case 'x':
		for (v = 0, k = 0; k < 2 && *p < end && hexval(**p) >= 0; k++)
			v = v * 16 + hexval(*(*p)++);
		return k ? (char)v : 'x';
	default:
		if (c < '0' || c > '7')
			return c;
		v = c - '0';
		for (k = 1; k < 3 && *p < end && **p >= '0' && **p <= '7'; k++)
			v = v * 8 + (*(*p)++ - '0');
		return (char)v;
	}
}

/* undoes the escapes of s[0..n) in place; the new length */
static size_t unescape(char *s, size_t n)
{
	const char *p = memchr(s, '\\', n), *end = s + n;
	char *o;

	if (!p)
		return n;
	o = s + (p - s);
	while (p < end) {
		if (*p != '\\' || p + 1 == end) {
			*o++ = *p++;
			continue;
		}
		p++;
		*o++ = unescape_one(&p, end);
	}
	return (size_t)(o - s);
}

/* removes whitespace outside JSON strings in place; the new length */
static size_t json_squeeze(char *s, size_t n)
{
	bool in_str = false, esc = false;
	size_t o = 0;

	for (size_t i = 0; i < n; i++) {
		char c = s[i];

		if (in_str) {
			if (esc)
				esc = false;
			else if (c == '\\')
				esc = true;
			else if (c == '"')
				in_str = false;
		} else if (c == ' ' || c == '\t' || c == '\n' || c == '\r') {
			continue;
		} else if (c == '"') {
			in_str = true;
		}
		s[o++] = c;
	}
	return o;
}

static bool is_word(const char *s, size_t n, const char *w)
{
	return n == strlen(w) && !memcmp(s, w, n);
}

/* NaN and the infinities have no JSON number: they stay strings */
static bool not_finite(const char *s, size_t n)
{
	return is_word(s, n, "NaN") || is_word(s, n, "Infinity") ||
	       is_word(s, n, "-Infinity");
}

/* timestamps as RFC 3339: a T between date and time, UTC as Z */
static size_t rfc3339(char *s, size_t n, bool zone)
{
	if (n > 10 && s[10] == ' ')
		s[10] = 'T';
	if (zone && n > 19 && !memcmp(s + n - 3, "+00", 3)) {
		s[n - 3] = 'Z';
		n -= 2;
	}
	return n;
}

/* the value of field s[0..n) (escapes undone) of kind k; NULL: ok, else
 * why it does not read */
static const char *to_value(enum sp_pgtext_kind k, char *s, size_t n,
			    struct sp_value *v)
{
	const char *p = s, *why = NULL;

	*v = sp_value_string(s, (uint32_t)n);
	switch (k) {
	case SP_PGT_BOOL:
		if (n != 1 || (s[0] != 't' && s[0] != 'f'))
			return "not a boolean";
		*v = sp_value_bool(s[0] == 't');
		return NULL;
	case SP_PGT_INT:
	case SP_PGT_FLOAT:
	case SP_PGT_NUMERIC:
		if (k != SP_PGT_INT && not_finite(s, n))
			return NULL;
		/* numeric: an integer while it surely fits in 64 bits */
		if (k == SP_PGT_INT ||
		    (k == SP_PGT_NUMERIC && n < 19 && !memchr(s, '.', n) &&
		     !memchr(s, 'e', n)))
			v->type = SP_INT;
		else
			v->type = SP_DOUBLE;
		v->flags = SP_VALUE_TEXT;
		return n ? NULL : "not a number";
	case SP_PGT_JSON:
		n = json_squeeze(s, n);
		if (sp_json_scan_value(&p, s + n, v, &why))
			return why;
		return p == s + n ? NULL : "not one JSON value";
	case SP_PGT_TIMESTAMP:
	case SP_PGT_TIMESTAMPTZ:
		v->len = (uint32_t)rfc3339(s, n, k == SP_PGT_TIMESTAMPTZ);
		return NULL;
	default:
		return NULL;
	}
}

/* one row line[0..n) as a record; 0, or -ENOMEM */
static int parse_row(const struct sp_pgtext_cols *cols, char *line, size_t n,
		     uint64_t lineno, struct sp_batch *b)
{
	struct sp_record *r = sp_batch_record_begin(b);
	char *p = line, *end = line + n;
	const char *why = NULL;
	uint32_t i;

	if (!r)
		return -ENOMEM;
	r->line = lineno;
	r->flags = SP_RECORD_CHANGED;
	for (i = 0; i < cols->n && p <= end && !why; i++) {
		char *tab = memchr(p, '\t', (size_t)(end - p));
		size_t len = (size_t)((tab ? tab : end) - p);
		struct sp_field *f = sp_batch_field_push(b);

		if (!f)
			return -ENOMEM;
		f->sym = cols->syms[i];
		f->reserved = 0;
		if (len == 2 && p[0] == '\\' && p[1] == 'N')
			f->v = sp_value_null();
		else
			why = to_value(cols->kinds[i], p, unescape(p, len),
				       &f->v);
		p = (tab ? tab : end) + 1;
	}
	if (!why && (i < cols->n || p <= end))
		why = "the row does not have the query's columns";
	if (!why)
		return 0;
	sp_batch_record_abort(b);
	return sp_batch_error_add(b, SP_NO_RECORD, lineno, 0, line,
				  (uint32_t)(n > 200 ? 200 : n),
				  "column %u of the query's row %llu: %s", i,
				  (unsigned long long)lineno, why);
}

int sp_pgtext_parse(const struct sp_pgtext_cols *cols, char *data, size_t len,
		    uint64_t first, struct sp_batch *b)
{
	char *p = data, *end = data + len;
	int rc = 0;

	while (p < end && !rc) {
		char *nl = memchr(p, '\n', (size_t)(end - p));
		char *e = nl ? nl : end;

		rc = parse_row(cols, p, (size_t)(e - p), first++, b);
		p = e + 1;
	}
	return rc;
}
