/*
 * CSV encoder: writes records back as CSV lines with a fixed column list
 * (taken from the first record when not given), quoting a field where it
 * holds the delimiter, the quote, a line end, edge blanks or a leading
 * byte order mark, and decoding JSON-escaped strings first.  A value
 * holding a NUL byte (JSON's \u0000) is refused as a record error: CSV
 * readers, spate's own among them, stop at it or reject the line.
 * Fields the CSV parser marked bare (SP_VALUE_CSV_BARE) that lie side by
 * side in their input are copied from it in one piece.
 */
#include "codec/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/json.h"
#include "record/value.h"

void sp_csv_encoder_init(struct sp_csv_encoder *e, char delimiter, char quote,
			 bool header)
{
	memset(e, 0, sizeof(*e));
	e->delimiter = delimiter ? delimiter : ',';
	e->quote = quote ? quote : '"';
	e->header = header;
	e->special[(unsigned char)e->delimiter] = 1;
	e->special[(unsigned char)e->quote] = 1;
	e->special['\n'] = 1;
	e->special['\r'] = 1;
	e->special[0] = 1; /* refused (put_field) */
}

void sp_csv_encoder_fini(struct sp_csv_encoder *e)
{
	free(e->cols);
	e->cols = NULL;
	e->ncols = 0;
}

static inline bool needs_quote(const struct sp_csv_encoder *e, const char *s,
			       size_t n)
{
	const unsigned char *u = (const unsigned char *)s;
	size_t i = 0;

	if (!n)
		return false;
	if (u[0] == ' ' || u[0] == '\t' || u[n - 1] == ' ' || u[n - 1] == '\t')
		return true;
	/* a leading byte order mark would be taken for the file's own */
	if (n >= 3 && u[0] == 0xef && u[1] == 0xbb && u[2] == 0xbf)
		return true;
	/* four table lookups a step: fields are short, a call costs more */
	for (; i + 4 <= n; i += 4)
		if (e->special[u[i]] | e->special[u[i + 1]] |
		    e->special[u[i + 2]] | e->special[u[i + 3]])
			return true;
	for (; i < n; i++)
		if (e->special[u[i]])
			return true;
	return false;
}

/* Appends s[0..n) as one field; with lone set an empty text is quoted. */
static inline int put_field(const struct sp_csv_encoder *e, struct sp_buf *out,
			    const char *s, size_t n, bool lone)
{
	if (!(lone && n == 0) && !needs_quote(e, s, n)) {
		if (n == 0) /* out->data may still be NULL */
			return 0;
		if (sp_buf_reserve(out, n))
			return -ENOMEM;
		sp_copy_short(out->data + out->len, s, n);
		out->len += n;
		return 0;
	}
	if (sp_buf_reserve(out, 2 * n + 2))
		return -ENOMEM;
	char *w = out->data + out->len;
	*w++ = e->quote;
	for (size_t i = 0; i < n; i++) {
		if (s[i] == e->quote)
			*w++ = e->quote;
		else if (!s[i])
			return -EINVAL; /* a NUL byte: nothing was appended */
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

/* The record's input text holds s[0..n) */
static inline bool in_raw(const struct sp_record *r, const char *s, size_t n)
{
	uintptr_t a = (uintptr_t)r->raw, p = (uintptr_t)s;

	return r->raw && p >= a && p + n <= a + r->raw_len;
}

/*
 * Writes field i, which is SP_VALUE_CSV_BARE, and the bare fields after it
 * whose text follows its own in the record's input with one comma
 * between: one copy of the input for all of them (a field-dense row
 * written back with a column left out is two copies).  Returns the last
 * field written, or UINT32_MAX when out of memory.
 */
static uint32_t put_bare_run(const struct sp_record *r,
			     const struct sp_field *f, uint32_t nf, uint32_t i,
			     struct sp_buf *out)
{
	const char *s = f[i].v.str, *end = s + f[i].v.len;

	if (in_raw(r, s, f[i].v.len))
		while (i + 1 < nf && f[i + 1].sym != SP_SYM_NONE &&
		       (f[i + 1].v.flags & SP_VALUE_CSV_BARE) &&
		       f[i + 1].v.str == end + 1 &&
		       in_raw(r, f[i + 1].v.str, f[i + 1].v.len) &&
		       *end == ',') {
			i++;
			end = f[i].v.str + f[i].v.len;
		}
	size_t n = (size_t)(end - s);
	if (n == 0)
		return i; /* out->data may still be NULL */
	if (sp_buf_reserve(out, n))
		return UINT32_MAX;
	memcpy(out->data + out->len, s, n);
	out->len += n;
	return i;
}

static __thread char why_buf[256];

/* The columns, when not set yet: the record's fields, each name once. */
static int take_columns(struct sp_csv_encoder *e, const struct sp_field *f,
			uint32_t nf)
{
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
	return 0;
}

/*
 * Checks that every field has a column: -EINVAL (with *why) when one has
 * none.  *in_order: the fields left (removed ones skipped) are exactly
 * the columns in their order, the common case that needs no lookup.
 */
static int check_fields(const struct sp_csv_encoder *e,
			const struct sp_batch *b, const struct sp_field *f,
			uint32_t nf, const char **why, bool *in_order)
{
	uint32_t next = 0; /* the column the next field should be */

	*in_order = true;
	for (uint32_t i = 0; i < nf; i++) {
		uint32_t k;

		if (f[i].sym == SP_SYM_NONE)
			continue;
		if (next < e->ncols && e->cols[next] == f[i].sym) {
			next++;
			continue;
		}
		*in_order = false;
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
	if (next != e->ncols)
		*in_order = false;
	return 0;
}

static int put_header(struct sp_csv_encoder *e, const struct sp_batch *b,
		      struct sp_buf *out)
{
	for (uint32_t k = 0; k < e->ncols; k++) {
		uint32_t nl;
		const char *name = sp_symtab_name(b->symtab, e->cols[k], &nl);

		if ((k && sp_buf_putc(out, e->delimiter)) ||
		    put_field(e, out, name, nl, e->ncols == 1))
			return -ENOMEM;
	}
	if (sp_buf_putc(out, '\n'))
		return -ENOMEM;
	e->header_written = true;
	return 0;
}

/* The value of column k: its field's, or null when the record has none. */
static const struct sp_value *column_value(const struct sp_csv_encoder *e,
					   const struct sp_field *f,
					   uint32_t nf, uint32_t k)
{
	static const struct sp_value null_value = {.type = SP_NULL};

	if (k < nf && f[k].sym == e->cols[k])
		return &f[k].v;
	for (uint32_t i = 0; i < nf; i++)
		if (f[i].sym == e->cols[k])
			return &f[i].v;
	return &null_value;
}

int sp_csv_encode_record(struct sp_csv_encoder *e, const struct sp_batch *b,
			 uint32_t rec, struct sp_buf *out, const char **why)
{
	const struct sp_record *r = &b->recs[rec];
	const struct sp_field *f = &b->fields[r->first];
	uint32_t nf = r->nfields;
	size_t mark = out->len;
	bool in_order, lone;
	int err;

	if (e->ncols == 0 && nf && take_columns(e, f, nf))
		return -ENOMEM;
	err = check_fields(e, b, f, nf, why, &in_order);
	if (err)
		return err;
	if (e->header && !e->header_written && e->ncols &&
	    put_header(e, b, out))
		goto nomem;
	mark = out->len; /* a refused record leaves the header written */
	/* a lone empty field is written "" so the line is not blank */
	lone = e->ncols == 1;
	if (in_order) {
		bool first = true,
		     bare = !lone && e->delimiter == ',' && e->quote == '"';

		for (uint32_t i = 0; i < nf; i++) {
			if (f[i].sym == SP_SYM_NONE)
				continue;
			if (!first && sp_buf_putc(out, e->delimiter))
				goto nomem;
			first = false;
			if (bare && (f[i].v.flags & SP_VALUE_CSV_BARE)) {
				i = put_bare_run(r, f, nf, i, out);
				if (i == UINT32_MAX)
					goto nomem;
				continue;
			}
			if ((err = put_value(e, out, &f[i].v, lone)))
				goto fail;
		}
	} else {
		for (uint32_t k = 0; k < e->ncols; k++) {
			if (k && sp_buf_putc(out, e->delimiter))
				goto nomem;
			if ((err = put_value(e, out, column_value(e, f, nf, k),
					     lone)))
				goto fail;
		}
	}
	if (sp_buf_putc(out, '\n'))
		goto nomem;
	return 0;
nomem:
	err = -ENOMEM;
fail:
	out->len = mark;
	if (err == -EINVAL && why)
		*why = "a value holds a NUL byte (\\u0000), which CSV cannot "
		       "carry: its readers, spate's among them, refuse it";
	return err;
}
