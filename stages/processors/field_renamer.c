/*
 * field_renamer: renames top-level fields ({from: to}), in the order the
 * map gives them.  A rename is a symbol change, not a copy.  When the
 * target already exists the record is rejected (or, with overwrite, the
 * old target field is removed).  A rejected record is left exactly as it
 * came in: the renames already applied to it are undone from a small log
 * kept per worker.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"

struct renamer_config {
	struct sp_boundmap fields; /* both sides parsed at binding */
	bool overwrite;
};

struct rename_pair {
	uint32_t from, to;
	const char *to_text; /* the config's */
};

struct renamer {
	bool overwrite;
	uint32_t n;
	struct rename_pair *pairs;
};

/* undo log: field index and its symbol before the change */
struct undo {
	uint32_t field;
	uint32_t sym;
};

struct renamer_worker {
	struct undo *log;
	uint32_t cap;
};

static const struct sp_option renamer_options[] = {
	{.name = "fields",
	 .type = SP_OPT_PATH_MAP,
	 .required = true,
	 .exprs = SP_EXPRS_PATHS,
	 .offset = offsetof(struct renamer_config, fields),
	 .help = "map of old path to new path, e.g. {/user: /user_name}; "
		 "applied in order"},
	{.name = "overwrite",
	 .type = SP_OPT_BOOL,
	 .def = "false",
	 .offset = offsetof(struct renamer_config, overwrite),
	 .help = "replace a field that already has the new name (else the "
		 "record is an error)"},
	{0},
};

static void renamer_close(void *state)
{
	struct renamer *r = state;

	if (!r)
		return;
	free(r->pairs);
	free(r);
}

static int top_level(const struct sp_path *p, uint32_t *sym, char *err,
		     size_t errlen)
{
	*sym = p->sym;
	if (p->sym == SP_SYM_NONE) {
		snprintf(err, errlen, "fields: '/' is the whole record and "
			 "cannot be renamed");
		return -EINVAL;
	}
	if (p->depth) {
		snprintf(err, errlen, "fields: '%s': nested paths are not "
			 "supported by field_renamer yet", p->text);
		return -EINVAL;
	}
	return 0;
}

static int renamer_create(const void *config, const struct sp_stage_ctx *ctx,
			  void **state, char *err, size_t errlen)
{
	const struct renamer_config *cfg = config;
	struct renamer *r;
	int rc;

	r = calloc(1, sizeof(*r));
	if (!r)
		goto nomem;
	r->overwrite = cfg->overwrite;
	r->pairs = calloc(cfg->fields.n ? cfg->fields.n : 1,
			  sizeof(*r->pairs));
	if (!r->pairs)
		goto nomem;
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		struct rename_pair *p = &r->pairs[i];

		rc = top_level(&cfg->fields.key_paths[i], &p->from, err,
			       errlen);
		if (!rc)
			rc = top_level(&cfg->fields.value_paths[i], &p->to, err,
				       errlen);
		if (rc)
			goto fail;
		if (p->from == p->to) {
			snprintf(err, errlen, "fields: '%s' is renamed to "
				 "itself", cfg->fields.keys[i]);
			rc = -EINVAL;
			goto fail;
		}
		p->to_text = cfg->fields.values[i];
		r->n++;
	}
	*state = r;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	renamer_close(r);
	return rc;
}

static void *renamer_worker_create(void *state, unsigned worker)
{
	const struct renamer *r = state;
	struct renamer_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->cap = 2 * r->n + 2;
	w->log = calloc(w->cap, sizeof(*w->log));
	if (!w->log) {
		free(w);
		return NULL;
	}
	return w;
}

static void renamer_worker_destroy(void *state, void *wstate)
{
	struct renamer_worker *w = wstate;

	if (!w)
		return;
	free(w->log);
	free(w);
}

static inline int64_t find_field(const struct sp_field *f, uint32_t n,
				 uint32_t sym)
{
	for (uint32_t i = 0; i < n; i++)
		if (f[i].sym == sym)
			return i;
	return -1;
}

static int renamer_process(void *state, void *wstate, struct sp_batch *b,
			   const uint32_t *in, uint32_t n,
			   struct sp_selection *out)
{
	const struct renamer *r = state;
	struct renamer_worker *w = wstate;
	uint32_t nout = 0;

	for (uint32_t k = 0; k < n; k++) {
		struct sp_record *rec = &b->recs[in[k]];
		struct sp_field *f = &b->fields[rec->first];
		uint32_t nlog = 0;
		int64_t bad = -1;

		for (uint32_t i = 0; i < r->n; i++) {
			const struct rename_pair *p = &r->pairs[i];
			int64_t from = find_field(f, rec->nfields, p->from);
			int64_t to;

			if (from < 0)
				continue;
			to = find_field(f, rec->nfields, p->to);
			if (to >= 0) {
				if (!r->overwrite) {
					bad = i;
					break;
				}
				w->log[nlog++] = (struct undo){(uint32_t)to,
							       p->to};
				f[to].sym = SP_SYM_NONE;
			}
			w->log[nlog++] = (struct undo){(uint32_t)from,
						       p->from};
			f[from].sym = p->to;
		}
		if (bad >= 0) {
			while (nlog--)
				f[w->log[nlog].field].sym = w->log[nlog].sym;
			sp_batch_error_add(b, in[k], rec->line, 0, rec->raw,
					   rec->raw_len,
					   "field %s already exists (set "
					   "overwrite: true to replace it)",
					   r->pairs[bad].to_text);
			continue;
		}
		if (nlog)
			rec->flags |= SP_RECORD_CHANGED;
		out[0].idx[nout++] = in[k];
	}
	out[0].n = nout;
	return 0;
}

const struct sp_stage_desc sp_stage_field_renamer = {
	.abi = SP_STAGE_ABI,
	.name = "field_renamer",
	.kind = SP_PROCESSOR,
	.help = "renames fields ({from: to})",
	.options = renamer_options,
	.config_size = sizeof(struct renamer_config),
	.mutates = true,
	.create = renamer_create,
	.create_checks = true,
	.worker_create = renamer_worker_create,
	.worker_destroy = renamer_worker_destroy,
	.process = renamer_process,
	.close = renamer_close,
};
