/*
 * The columns of a table being loaded: which ones a load fills and from
 * which record paths, how their names are quoted, and the encoder that
 * turns a batch's records into rows (COPY/LOAD DATA text or INSERT
 * tuples), routing each record whose value does not fit its column to the
 * record errors (db/dbconv.c does the conversion).
 */
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/dbcol.h"

struct sp_dbcol *sp_dbcols_add(struct sp_dbcols *cols, const char *name,
			       const char *type, enum sp_dbcol_kind kind,
			       enum sp_db_dialect dialect)
{
	struct sp_dbcol *c;

	if (cols->n == cols->cap) {
		uint32_t cap = cols->cap ? cols->cap * 2 : 16;
		void *v = realloc(cols->v, cap * sizeof(*cols->v));

		if (!v)
			return NULL;
		cols->v = v;
		cols->cap = cap;
	}
	c = &cols->v[cols->n];
	memset(c, 0, sizeof(*c));
	c->name = strdup(name);
	c->type = strdup(type);
	if (!c->name || !c->type) {
		free(c->name);
		free(c->type);
		return NULL;
	}
	c->kind = kind;
	c->dialect = dialect;
	c->min = INT64_MIN;
	c->max = INT64_MAX;
	c->precision = -1;
	c->scale = -1;
	cols->n++;
	return c;
}

static void col_fini(struct sp_dbcol *c)
{
	free(c->name);
	free(c->type);
	if (c->mapped)
		sp_path_fini(&c->path);
}

void sp_dbcols_fini(struct sp_dbcols *cols)
{
	for (uint32_t i = 0; i < cols->n; i++)
		col_fini(&cols->v[i]);
	free(cols->v);
	memset(cols, 0, sizeof(*cols));
}

static int map_one(struct sp_dbcol *c, const char *path, struct sp_symtab *st,
		   char *err, size_t errlen)
{
	const char *why = NULL;
	char *def = NULL;
	int rc;

	if (!path) {
		def = malloc(strlen(c->name) + 2);
		if (!def)
			return -ENOMEM;
		def[0] = '/';
		strcpy(def + 1, c->name);
		path = def;
	}
	rc = sp_path_parse(path, st, &c->path, &why);
	if (rc)
		snprintf(err, errlen, "option 'columns': column '%s': path "
			 "'%s': %s", c->name, path, why ? why : "invalid");
	else
		c->mapped = true;
	free(def);
	return rc;
}

/* the map's value for column name, or NULL; *found tells whether the map
 * names it */
static const char *map_find(const struct sp_strmap *map, const char *name,
			    bool *found)
{
	*found = false;
	for (uint32_t k = 0; map && k < map->n; k++)
		if (!strcmp(map->keys[k], name)) {
			*found = true;
			return map->values[k];
		}
	return NULL;
}

static int map_check_keys(const struct sp_dbcols *cols, const char *table,
			  const struct sp_strmap *map, char *err,
			  size_t errlen)
{
	for (uint32_t k = 0; map && k < map->n; k++) {
		uint32_t i;

		for (i = 0; i < cols->n && strcmp(cols->v[i].name,
						  map->keys[k]);
		     i++)
			;
		if (i == cols->n) {
			snprintf(err, errlen, "option 'columns': table %s has "
				 "no column '%s'", table, map->keys[k]);
			return -EINVAL;
		}
	}
	return 0;
}

int sp_dbcols_map(struct sp_dbcols *cols, const char *table,
		  const struct sp_strmap *map, struct sp_symtab *st, char *err,
		  size_t errlen)
{
	bool explicit = map && map->n;
	uint32_t kept = 0;
	int rc;

	rc = map_check_keys(cols, table, map, err, errlen);
	if (rc)
		return rc;
	for (uint32_t i = 0; i < cols->n; i++) {
		struct sp_dbcol *c = &cols->v[i];
		bool found;
		const char *path = map_find(map, c->name, &found);
		bool use = explicit ? found : !c->has_default;

		if (!use) {
			if (c->not_null && !c->has_default) {
				snprintf(err, errlen, "option 'columns': "
					 "column '%s' of %s is NOT NULL "
					 "without a default; map it to a "
					 "record path", c->name, table);
				return -EINVAL;
			}
			col_fini(c);
			continue;
		}
		rc = map_one(c, path, st, err, errlen);
		if (rc)
			return rc;
		cols->v[kept++] = *c;
	}
	for (uint32_t i = kept; i < cols->n; i++)
		memset(&cols->v[i], 0, sizeof(cols->v[i]));
	cols->n = kept;
	if (!kept) {
		snprintf(err, errlen, "table %s: no column to load (every "
			 "column has a default; name them in 'columns')",
			 table);
		return -EINVAL;
	}
	return 0;
}

int sp_db_ident(enum sp_db_dialect d, const char *name, size_t len,
		struct sp_buf *out)
{
	char q = d == SP_DB_MYSQL ? '`' : '"';

	if (sp_buf_putc(out, q))
		return -ENOMEM;
	for (size_t i = 0; i < len; i++) {
		if (name[i] == q && sp_buf_putc(out, q))
			return -ENOMEM;
		if (sp_buf_putc(out, name[i]))
			return -ENOMEM;
	}
	return sp_buf_putc(out, q);
}

int sp_dbcols_list(const struct sp_dbcols *cols, struct sp_buf *out)
{
	for (uint32_t i = 0; i < cols->n; i++) {
		const struct sp_dbcol *c = &cols->v[i];

		if (i && sp_buf_append(out, ", ", 2))
			return -ENOMEM;
		if (sp_db_ident(c->dialect, c->name, strlen(c->name), out))
			return -ENOMEM;
	}
	return 0;
}

/* COPY text / LOAD DATA: backslash, tab, newline and carriage return
 * escaped; everything else as it is */
static int put_tab_text(struct sp_buf *out, const char *s, size_t n)
{
	size_t run = 0;

	if (sp_buf_reserve(out, n))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char e;

		switch (s[i]) {
		case '\\': e = '\\'; break;
		case '\t': e = 't'; break;
		case '\n': e = 'n'; break;
		case '\r': e = 'r'; break;
		default: continue;
		}
		if (sp_buf_append(out, s + run, i - run) ||
		    sp_buf_putc(out, '\\') || sp_buf_putc(out, e))
			return -ENOMEM;
		run = i + 1;
	}
	return sp_buf_append(out, s + run, n - run);
}

/* an SQL string literal: backslash escapes, or quotes doubled only */
static int put_sql_text(struct sp_buf *out, const char *s, size_t n,
			bool backslash)
{
	if (sp_buf_putc(out, '\''))
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		char c = s[i];
		const char *e = NULL;

		if (c == '\'')
			e = backslash ? "\\'" : "''";
		else if (backslash && c == '\\')
			e = "\\\\";
		else if (backslash && c == '\n')
			e = "\\n";
		else if (backslash && c == '\r')
			e = "\\r";
		else if (backslash && c == 0x1a)
			e = "\\Z";
		if (e ? sp_buf_append(out, e, strlen(e)) : sp_buf_putc(out, c))
			return -ENOMEM;
	}
	return sp_buf_putc(out, '\'');
}

static int put_value(struct sp_buf *out, enum sp_db_format fmt, const char *s,
		     size_t n, bool quote)
{
	if (fmt == SP_DB_TAB)
		return s ? put_tab_text(out, s, n) : sp_buf_append(out, "\\N", 2);
	if (!s)
		return sp_buf_append(out, "NULL", 4);
	if (!quote)
		return sp_buf_append(out, s, n);
	return put_sql_text(out, s, n, fmt == SP_DB_SQL);
}

/* One record as a row; -EINVAL (error added, out unchanged) when a value
 * does not fit. */
static int encode_record(const struct sp_dbcols *cols, enum sp_db_format fmt,
			 struct sp_batch *b, uint32_t rec,
			 struct sp_arena *arena, struct sp_buf *out)
{
	size_t mark = out->len;
	bool sql = fmt != SP_DB_TAB;
	char why[200];
	int rc;

	/* tuples follow each other with a comma (after a prefix, none) */
	if (sql && out->len && out->data[out->len - 1] == ')' &&
	    sp_buf_putc(out, ','))
		return -ENOMEM;
	if (sql && sp_buf_putc(out, '('))
		return -ENOMEM;
	for (uint32_t i = 0; i < cols->n; i++) {
		const struct sp_dbcol *c = &cols->v[i];
		struct sp_value v;
		const char *s;
		size_t n;
		bool quote;

		rc = sp_record_get_path(b, rec, &c->path, &v);
		rc = sp_dbcol_convert(c, rc ? NULL : &v, arena, &s, &n, &quote,
				      why, sizeof(why));
		if (rc == 0 && i && sp_buf_putc(out, sql ? ',' : '\t'))
			rc = -ENOMEM;
		if (rc == 0)
			rc = put_value(out, fmt, s, n, quote);
		if (rc == -EINVAL) {
			const struct sp_record *r = &b->recs[rec];

			out->len = mark;
			rc = sp_batch_error_add(b, rec, r->line, 0, r->raw,
						r->raw_len, "column '%s' (%s): %s",
						c->name, c->type, why);
			return rc ? rc : -EINVAL;
		}
		if (rc)
			return rc;
	}
	return sp_buf_putc(out, sql ? ')' : '\n');
}

int sp_db_encode(const struct sp_dbcols *cols, enum sp_db_format fmt,
		 struct sp_batch *b, const uint32_t *sel, uint32_t n,
		 struct sp_arena *arena, struct sp_buf *out, uint64_t *rows)
{
	for (uint32_t k = 0; k < n; k++) {
		int rc = encode_record(cols, fmt, b, sel[k], arena, out);

		if (rc == 0)
			(*rows)++;
		else if (rc != -EINVAL)
			return rc;
	}
	return 0;
}
