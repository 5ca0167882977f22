/*
 * field_setter: sets top-level fields from expressions or literal text
 * ({/total: '${record:value("/a") + record:value("/b")}', /src: web}).
 * Every expression sees the record as it came in: all values are computed
 * first, then written, so a record whose evaluation fails is rejected
 * unchanged.  New fields are appended; values made here live in the
 * batch's arena.
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "stage_api/stage.h"

struct setter_config {
	struct sp_boundmap fields; /* paths and expressions compiled */
};

/* Points into the config, which outlives the stage. */
struct setter_field {
	uint32_t sym;
	const char *path;
	const struct sp_expr *expr; /* NULL: literal */
	struct sp_value literal;
};

struct setter {
	uint32_t n;
	struct setter_field *f;
};

struct setter_worker {
	struct sp_expr_ctx *ctx;
	struct sp_value *vals;
};

static const struct sp_option setter_options[] = {
	{.name = "fields",
	 .type = SP_OPT_PATH_MAP,
	 .required = true,
	 .exprs = SP_EXPRS_MARKED,
	 .offset = offsetof(struct setter_config, fields),
	 .help = "map of top-level path to an expression ${...} or literal "
		 "text, e.g. {/total: '${record:value(\"/a\") * 2}', /src: "
		 "web}"},
	{0},
};

static void setter_close(void *state)
{
	struct setter *s = state;

	if (!s)
		return;
	free(s->f);
	free(s);
}

/* Field i of the bound map: a top-level field and its expression or
 * literal text. */
static int setter_field_init(struct setter_field *sf,
			     const struct sp_boundmap *m, uint32_t i,
			     char *err, size_t errlen)
{
	const struct sp_path *p = &m->key_paths[i];
	const char *text = m->values[i];

	sf->sym = p->sym;
	sf->path = m->keys[i];
	if (p->sym == SP_SYM_NONE) {
		snprintf(err, errlen, "fields: '/' is the whole record; name "
			 "a field to set");
		return -EINVAL;
	}
	if (p->depth) {
		snprintf(err, errlen, "fields: '%s': nested paths are not "
			 "supported by field_setter yet", sf->path);
		return -EINVAL;
	}
	sf->expr = m->exprs[i];
	if (sf->expr)
		return 0;
	if (strstr(text, "${")) {
		snprintf(err, errlen, "fields: %s: '%s' mixes text and ${...}; "
			 "write either one expression ${...} or plain text",
			 sf->path, text);
		return -EINVAL;
	}
	sf->literal = sp_value_string(text, (uint32_t)strlen(text));
	return 0;
}

/* Whether field i sets the same symbol as a field before it. */
static bool set_before(const struct setter_field *f, uint32_t i)
{
	for (uint32_t j = 0; j < i; j++)
		if (f[j].sym == f[i].sym)
			return true;
	return false;
}

static int setter_create(const void *config, const struct sp_stage_ctx *ctx,
			 void **state, char *err, size_t errlen)
{
	const struct setter_config *cfg = config;
	struct setter *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		goto nomem;
	s->f = calloc(cfg->fields.n ? cfg->fields.n : 1, sizeof(*s->f));
	if (!s->f)
		goto nomem;
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		s->n++;
		rc = setter_field_init(&s->f[i], &cfg->fields, i, err, errlen);
		if (rc)
			goto fail;
		if (set_before(s->f, i)) {
			snprintf(err, errlen, "fields: %s is set twice",
				 s->f[i].path);
			rc = -EINVAL;
			goto fail;
		}
	}
	*state = s;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	setter_close(s);
	return rc;
}

static void *setter_worker_create(void *state, unsigned worker)
{
	const struct setter *s = state;
	struct setter_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ctx = sp_expr_ctx_create();
	w->vals = calloc(s->n ? s->n : 1, sizeof(*w->vals));
	if (!w->ctx || !w->vals) {
		sp_expr_ctx_destroy(w->ctx);
		free(w->vals);
		free(w);
		return NULL;
	}
	return w;
}

static void setter_worker_destroy(void *state, void *wstate)
{
	struct setter_worker *w = wstate;

	if (!w)
		return;
	sp_expr_ctx_destroy(w->ctx);
	free(w->vals);
	free(w);
}

/* Text a value points at must outlive the batch: input text of the record
 * does; anything else is copied into the arena. */
static int keep_value(struct sp_batch *b, uint32_t rec, struct sp_value *v)
{
	const struct sp_record *r = &b->recs[rec];
	bool has_text = v->type == SP_STRING || v->type == SP_OBJECT ||
			v->type == SP_ARRAY || (v->flags & SP_VALUE_TEXT);
	char *copy;

	if (!has_text || v->len == 0)
		return 0;
	if (r->raw && v->str >= r->raw && v->str + v->len <= r->raw + r->raw_len)
		return 0;
	copy = sp_arena_strndup(&b->arena, v->str, v->len);
	if (!copy)
		return -ENOMEM;
	v->str = copy;
	return 0;
}

static int setter_process(void *state, void *wstate, struct sp_batch *b,
			  const uint32_t *in, uint32_t n,
			  struct sp_selection *out)
{
	const struct setter *s = state;
	struct setter_worker *w = wstate;
	uint32_t nout = 0;

	for (uint32_t k = 0; k < n; k++) {
		uint32_t rec = in[k];
		const char *why = NULL;
		uint32_t i;
		int rc = 0;

		for (i = 0; i < s->n; i++) {
			if (!s->f[i].expr) {
				w->vals[i] = s->f[i].literal;
				continue;
			}
			rc = sp_expr_eval(s->f[i].expr, w->ctx, b, rec,
					  &w->vals[i], &why);
			if (rc == -ENOMEM)
				return rc;
			if (rc)
				break;
			rc = keep_value(b, rec, &w->vals[i]);
			if (rc)
				return rc;
		}
		if (i < s->n) {
			const struct sp_record *r = &b->recs[rec];
			sp_batch_error_add(b, rec, r->line, 0, r->raw,
					   r->raw_len, "cannot set %s: %s",
					   s->f[i].path,
					   why ? why : "evaluation failed");
			continue;
		}
		for (i = 0; i < s->n; i++) {
			struct sp_field *f = sp_record_fields(b, rec);
			struct sp_record *r = &b->recs[rec];
			uint32_t j;

			for (j = 0; j < r->nfields; j++)
				if (f[j].sym == s->f[i].sym)
					break;
			if (j == r->nfields) {
				struct sp_field *nf =
					sp_batch_record_append(b, rec);
				if (!nf)
					return -ENOMEM;
				nf->sym = s->f[i].sym;
				nf->v = w->vals[i];
			} else {
				f[j].v = w->vals[i];
				r->flags |= SP_RECORD_CHANGED;
			}
		}
		out[0].idx[nout++] = rec;
	}
	out[0].n = nout;
	return 0;
}

const struct sp_stage_desc sp_stage_field_setter = {
	.abi = SP_STAGE_ABI,
	.name = "field_setter",
	.kind = SP_PROCESSOR,
	.help = "sets fields to the value of an expression or to literal text",
	.options = setter_options,
	.config_size = sizeof(struct setter_config),
	.mutates = true,
	.create = setter_create,
	.create_checks = true,
	.worker_create = setter_worker_create,
	.worker_destroy = setter_worker_destroy,
	.process = setter_process,
	.close = setter_close,
};
