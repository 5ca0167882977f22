/*
 * CSV parser configuration and preamble: the schema's columns and types,
 * the lines skipped at an input's start, the header record that names
 * the columns (matched against the schema), or _1.._n column names from
 * the first data row.  Once read, the configuration is shared read-only
 * by all parsing workers.
 */
#include "codec/csv.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/csv_tok.h"
#include "codec/csv_utf8.h"

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

/* Whether symbol s names a column of sym[0..n) other than column i. */
static bool name_taken(const uint32_t *sym, uint32_t n, uint32_t i, uint32_t s)
{
	for (uint32_t k = 0; k < n; k++)
		if (k != i && sym[k] == s)
			return true;
	return false;
}

/*
 * Header names made unique, left to right: the first column with a name
 * keeps it; a repeated name gets "_2", "_3", ... (a, a, b: a, a_2, b) and
 * an empty one "_N" (N: its 1-based column), either with the smallest
 * suffix that no other column of the header uses (a, , _2: a, _2_2, _2).
 * Each renaming is counted in p->renamed and listed in note.
 */
static int unique_names(struct sp_csv_parser *p, struct sp_symtab *st,
			uint32_t *sym, uint32_t n, char *note, size_t notelen)
{
	size_t used = 0;

	p->renamed = 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t was = sym[i], s = was;
		const char *base =
		    was == SP_SYM_NONE ? "" : sp_symtab_name(st, was, NULL);
		char gen[300];

		if (was != SP_SYM_NONE && !name_taken(sym, i, i, was))
			continue;
		for (uint32_t k = 1; k == 1 || name_taken(sym, n, i, s); k++) {
			int gl;

			if (was == SP_SYM_NONE)
				gl = k == 1 ? snprintf(gen, sizeof(gen), "_%u",
						       i + 1)
					    : snprintf(gen, sizeof(gen),
						       "_%u_%u", i + 1, k);
			else if (k == 1)
				continue;
			else
				gl = snprintf(gen, sizeof(gen), "%.*s_%u", 240,
					      base, k);
			s = sp_symtab_intern(st, gen, (size_t)gl);
			if (s == SP_SYM_NONE)
				return -ENOMEM;
		}
		sym[i] = s;
		p->renamed++;
		if (notelen > used) {
			int w = snprintf(note + used, notelen - used,
					 "%scolumn %u \"%.*s\" named \"%s\"",
					 used ? ", " : "header: ", i + 1, 64,
					 base, sp_symtab_name(st, s, NULL));
			used += w > 0 ? (size_t)w : 0;
		}
	}
	if (p->renamed && notelen > used)
		snprintf(note + used, notelen - used,
			 " (empty or repeated names are made unique)");
	return 0;
}

/* Reads the header record at *pos into columns. */
static ssize_t read_header(struct sp_csv_parser *p, struct sp_symtab *st,
			   const char *buf, size_t len, size_t pos, bool eof,
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
		if (end == TOK_UNTERMINATED && eof) {
			snprintf(err, errlen,
				 "header: unterminated quote in column %u "
				 "(opened at byte %zu; %zu bytes read)",
				 n + 1, f.start, len);
			ret = -EINVAL;
			goto out;
		}
		if (end == TOK_UNTERMINATED || (end == TOK_EOF && !eof)) {
			ret = -EAGAIN; /* the header line is not complete */
			goto out;
		}
		if (f.garbage != SIZE_MAX) {
			sp_csv_show_char(cbuf, sizeof(cbuf),
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
			slen = sp_csv_unquote(s, slen, t.q, name);
			s = name;
		}
		if (sp_csv_utf8_check((const unsigned char *)s, slen) != slen) {
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
		sym[n] = SP_SYM_NONE; /* empty: named by unique_names */
		if (slen &&
		    (sym[n] = sp_symtab_intern(st, s, slen)) == SP_SYM_NONE) {
			ret = -ENOMEM;
			goto out;
		}
		n++;
	} while (end == TOK_DELIM);
	if ((ret = unique_names(p, st, sym, n, err, errlen)))
		goto out;
	for (uint32_t i = 0; i < n; i++) {
		type[i] = SP_CSV_STRING;
		for (uint32_t k = 0; k < ns; k++)
			if (p->col_sym[p->ncols + k] == sym[i])
				type[i] = p->col_type[p->ncols + k];
	}
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
	if (end == TOK_EOF) /* a header without line end ends the input */
		t.pos = len;
	ret = (ssize_t)t.pos;
out:
	free(name);
	free(sym);
	free(type);
	return ret;
}

/* Names the columns _1.._n after the fields of the record at pos. */
static ssize_t first_row_columns(struct sp_csv_parser *p, struct sp_symtab *st,
				 const char *buf, size_t len, size_t pos,
				 bool eof)
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
	if (end == TOK_UNTERMINATED &&
	    (eof || len - pos >= SP_CSV_PREAMBLE_MAX))
		return 0; /* no fixed columns: the parser reports the row */
	if (end != TOK_EOL && !(end == TOK_EOF && eof))
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

/* -EAGAIN for a preamble not complete in buf[0..len), or an error once
 * SP_CSV_PREAMBLE_MAX bytes were read without it ending. */
static ssize_t incomplete(size_t len, bool eof, const char *what, char *err,
			  size_t errlen)
{
	if (eof || len < SP_CSV_PREAMBLE_MAX)
		return -EAGAIN;
	snprintf(err, errlen,
		 "%s does not end within %zu bytes (%zu bytes read, no line "
		 "end outside quotes: check the line ends, quote and "
		 "delimiter)",
		 what, SP_CSV_PREAMBLE_MAX, len);
	return -EINVAL;
}

ssize_t sp_csv_read_preamble(struct sp_csv_parser *p, struct sp_symtab *st,
			     const char *buf, size_t len, bool eof,
			     uint64_t *lines, char *err, size_t errlen)
{
	static const char bom[] = "\xef\xbb\xbf";
	size_t pos = 0;
	uint64_t nl = 0;
	ssize_t r;

	if (errlen)
		err[0] = '\0';
	if (len < 3 && !eof && (!len || memcmp(buf, bom, len) == 0))
		return -EAGAIN;
	if (len >= 3 && memcmp(buf, bom, 3) == 0)
		pos = 3;
	for (uint32_t i = 0; i < p->opt.ignore_lines; i++) {
		const char *e =
		    pos < len ? memchr(buf + pos, '\n', len - pos) : NULL;
		if (!e && eof)
			return (ssize_t)len; /* all skipped: no data */
		if (!e)
			return incomplete(len, eof, "ignore_lines", err,
					  errlen);
		pos = (size_t)(e - buf) + 1;
		nl++;
	}
	if (p->opt.header) {
		pos = sp_csv_skip_blank(buf, len, pos, &nl);
		if (pos >= len && eof)
			return (ssize_t)len; /* no header: no data */
		r = read_header(p, st, buf, len, pos, eof, &nl, err, errlen);
		if (r == -EAGAIN)
			return incomplete(len, eof, "header", err, errlen);
		if (r < 0)
			return r;
		pos = (size_t)r;
	} else if (!p->opt.nschema) {
		uint64_t ignored = 0;
		size_t at = sp_csv_skip_blank(buf, len, pos, &ignored);

		if (at >= len && eof)
			return (ssize_t)len; /* no data */
		r = first_row_columns(p, st, buf, len, at, eof);
		if (r < 0)
			return r;
	}
	*lines = nl;
	return (ssize_t)pos;
}
