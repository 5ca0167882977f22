/*
 * CSV encoder: writes records back as CSV lines with a fixed column list
 * (taken from the first record when not given), quoting a field where it
 * holds the delimiter, the quote, a line end, edge blanks or a leading
 * byte order mark, and decoding JSON-escaped strings first.
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
