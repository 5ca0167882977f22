/*
 * Batches: flat arrays of records and fields that grow by doubling and are
 * kept across resets, so a recycled batch allocates nothing.  Field paths
 * are parsed here too, since looking one up is a record operation.
 */
#include "record/batch.h"

#include "core/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/json.h"

struct sp_batch *sp_batch_create(struct sp_symtab *st)
{
	struct sp_batch *b = calloc(1, sizeof(*b));

	if (!b)
		return NULL;
	b->symtab = st;
	/* never NULL: &fields[rec->first] is valid for a record of no
	 * fields in a batch of such records */
	b->cap_fields = 64;
	b->fields = malloc(b->cap_fields * sizeof(*b->fields));
	if (!b->fields) {
		free(b);
		return NULL;
	}
	sp_arena_init(&b->arena, 64 * 1024);
	return b;
}

void sp_batch_destroy(struct sp_batch *b)
{
	if (!b)
		return;
	free(b->recs);
	free(b->fields);
	free(b->errors);
	sp_arena_fini(&b->arena);
	free(b);
}

void sp_batch_reset(struct sp_batch *b)
{
	b->nrecs = 0;
	b->nfields = 0;
	b->nerrors = 0;
	b->source = NULL;
	b->seq = 0;
	b->bytes_in = 0;
	b->input = NULL;
	b->input_offset = 0;
	sp_arena_reset(&b->arena);
}

static int grow(void **arr, uint32_t *cap, size_t elem, uint32_t need)
{
	uint32_t n = *cap ? *cap : 256;

	while (n < need) {
		if (n > UINT32_MAX / 2)
			return -ENOMEM;
		n *= 2;
	}
	void *p = realloc(*arr, (size_t)n * elem);
	if (!p)
		return -ENOMEM;
	*arr = p;
	*cap = n;
	return 0;
}

struct sp_record *sp_batch_record_begin(struct sp_batch *b)
{
	if (b->nrecs == b->cap_recs &&
	    grow((void **)&b->recs, &b->cap_recs, sizeof(*b->recs),
		 b->nrecs + 1))
		return NULL;
	struct sp_record *r = &b->recs[b->nrecs++];
	r->first = b->nfields;
	r->nfields = 0;
	r->raw = NULL;
	r->raw_len = 0;
	r->flags = 0;
	r->line = 0;
	return r;
}

struct sp_field *sp_batch_field_add(struct sp_batch *b)
{
	if (b->nfields == b->cap_fields &&
	    grow((void **)&b->fields, &b->cap_fields, sizeof(*b->fields),
		 b->nfields + 1))
		return NULL;
	b->recs[b->nrecs - 1].nfields++;
	return &b->fields[b->nfields++];
}

void sp_batch_record_abort(struct sp_batch *b)
{
	struct sp_record *r = &b->recs[--b->nrecs];
	b->nfields = r->first;
}

struct sp_field *sp_batch_record_append(struct sp_batch *b, uint32_t rec)
{
	struct sp_record *r = &b->recs[rec];

	if (r->first + r->nfields != b->nfields) {
		uint32_t need = b->nfields + r->nfields + 1;
		if (need > b->cap_fields &&
		    grow((void **)&b->fields, &b->cap_fields,
			 sizeof(*b->fields), need))
			return NULL;
		r = &b->recs[rec];
		memcpy(&b->fields[b->nfields], &b->fields[r->first],
		       r->nfields * sizeof(*b->fields));
		r->first = b->nfields;
		b->nfields += r->nfields;
	} else if (b->nfields == b->cap_fields &&
		   grow((void **)&b->fields, &b->cap_fields,
			sizeof(*b->fields), b->nfields + 1)) {
		return NULL;
	}
	r = &b->recs[rec];
	r->nfields++;
	r->flags |= SP_RECORD_CHANGED;
	struct sp_field *f = &b->fields[b->nfields++];
	memset(f, 0, sizeof(*f));
	return f;
}

int sp_batch_error_add(struct sp_batch *b, uint32_t record, uint64_t line,
		       uint64_t offset, const char *raw, uint32_t raw_len,
		       const char *fmt, ...)
{
	char msg[512], clean[512];
	va_list ap;

	if (b->nerrors == b->cap_errors &&
	    grow((void **)&b->errors, &b->cap_errors, sizeof(*b->errors),
		 b->nerrors + 1))
		return -ENOMEM;
	va_start(ap, fmt);
	int n = vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (n < 0)
		n = 0;
	if ((size_t)n >= sizeof(msg))
		n = sizeof(msg) - 1;
	/* reasons quote values: keep them valid UTF-8 (a cut value or a
	 * bad byte in it becomes U+FFFD) */
	size_t len = sp_utf8_sanitize(clean, sizeof(clean), msg, (size_t)n);
	char *reason = sp_arena_strndup(&b->arena, clean, len);
	if (!reason)
		return -ENOMEM;
	struct sp_record_error *e = &b->errors[b->nerrors++];
	e->reason = reason;
	e->raw = raw;
	e->raw_len = raw_len;
	e->record = record;
	e->line = line;
	e->offset = offset;
	return 0;
}

const struct sp_value *sp_record_get(const struct sp_batch *b, uint32_t rec,
				     uint32_t sym)
{
	const struct sp_record *r = &b->recs[rec];
	const struct sp_field *f = &b->fields[r->first];

	for (uint32_t i = 0; i < r->nfields; i++)
		if (f[i].sym == sym)
			return &f[i].v;
	return NULL;
}

int sp_batch_copy_records(struct sp_batch *dst, const struct sp_batch *src,
			  const uint32_t *sel, uint32_t n)
{
	for (uint32_t k = 0; k < n; k++) {
		const struct sp_record *sr = &src->recs[sel[k]];
		struct sp_record *dr = sp_batch_record_begin(dst);
		if (!dr)
			return -ENOMEM;
		uint32_t first = dr->first;
		*dr = *sr;
		dr->first = first;
		dr->nfields = 0;
		for (uint32_t i = 0; i < sr->nfields; i++) {
			struct sp_field *f = sp_batch_field_add(dst);
			if (!f)
				return -ENOMEM;
			*f = src->fields[sr->first + i];
		}
	}
	return 0;
}

int sp_path_parse(const char *text, struct sp_symtab *st, struct sp_path *path,
		  const char **why)
{
	memset(path, 0, sizeof(*path));
	if (text[0] != '/') {
		*why = "a field path starts with '/' (e.g. /user or /a/b)";
		return -EINVAL;
	}
	path->text = strdup(text);
	if (!path->text) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (text[1] == '\0')
		return 0; /* "/" is the whole record */
	char *p = path->text + 1;
	uint32_t n = 0;
	const char *part[SP_PATH_MAX_DEPTH];
	uint32_t len[SP_PATH_MAX_DEPTH];
	for (;;) {
		char *slash = strchr(p, '/');
		size_t l = slash ? (size_t)(slash - p) : strlen(p);
		if (l == 0) {
			*why = "a field path has an empty component ('//' or a "
			       "trailing '/')";
			goto fail;
		}
		if (n == SP_PATH_MAX_DEPTH) {
			*why = "a field path is nested more than 16 deep";
			goto fail;
		}
		part[n] = p;
		len[n++] = (uint32_t)l;
		if (!slash)
			break;
		p = slash + 1;
	}
	path->sym = sp_symtab_intern(st, part[0], len[0]);
	if (path->sym == SP_SYM_NONE) {
		*why = "out of memory";
		goto fail;
	}
	path->depth = n - 1;
	for (uint32_t i = 1; i < n; i++) {
		path->rest[i - 1] = part[i];
		path->rest_len[i - 1] = len[i];
	}
	return 0;
fail:
	free(path->text);
	path->text = NULL;
	return -EINVAL;
}

void sp_path_fini(struct sp_path *path)
{
	free(path->text);
	path->text = NULL;
}

int sp_record_get_path(const struct sp_batch *b, uint32_t rec,
		       const struct sp_path *path, struct sp_value *out)
{
	if (path->sym == SP_SYM_NONE)
		return -ENOENT;
	const struct sp_value *v = sp_record_get(b, rec, path->sym);
	if (!v)
		return -ENOENT;
	struct sp_value cur = *v;
	for (uint32_t i = 0; i < path->depth; i++) {
		if (cur.type != SP_OBJECT)
			return -ENOENT;
		if (sp_json_object_get(cur.str, cur.len, path->rest[i],
				       path->rest_len[i], &cur))
			return -ENOENT;
	}
	*out = cur;
	return 0;
}
