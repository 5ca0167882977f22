/*
 * field_remover: removes the listed top-level fields from every record
 * (action: remove), or every field but those (action: keep).  A removal is
 * a tombstone (the field's symbol becomes SP_SYM_NONE), so records are
 * never moved.  The field set is a bitmap over symbols built at create and
 * read-only afterwards, so all workers share it.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"

struct remover_config {
	struct sp_pathlist fields; /* parsed at binding */
	int action; /* enum remover_action */
};

struct remover {
	bool keep;
	uint32_t nbits; /* symbols below nbits may be in the set */
	uint64_t *set;
};

enum remover_action { REMOVER_REMOVE = 0, REMOVER_KEEP };

static const char *const actions[] = {
    [REMOVER_REMOVE] = "remove", [REMOVER_KEEP] = "keep", NULL};

static const struct sp_option remover_options[] = {
	{.name = "fields",
	 .type = SP_OPT_PATH_LIST,
	 .required = true,
	 .offset = offsetof(struct remover_config, fields),
	 .help = "top-level field paths, e.g. [/tags, /debug]"},
	{.name = "action",
	 .type = SP_OPT_ENUM,
	 .def = "remove",
	 .choices = actions,
	 .offset = offsetof(struct remover_config, action),
	 .help = "remove: drop the listed fields; keep: drop every other "
		 "field"},
	{0},
};

static inline bool in_set(const struct remover *r, uint32_t sym)
{
	return sym < r->nbits && (r->set[sym / 64] >> (sym % 64)) & 1;
}

static void remover_close(void *state)
{
	struct remover *r = state;

	if (!r)
		return;
	free(r->set);
	free(r);
}

static int remover_create(const void *config, const struct sp_stage_ctx *ctx,
			  void **state, char *err, size_t errlen)
{
	const struct remover_config *cfg = config;
	const struct sp_path *paths = cfg->fields.v;
	struct remover *r;
	uint32_t max = 0;
	int rc = 0;

	r = calloc(1, sizeof(*r));
	if (!r) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	r->keep = cfg->action == REMOVER_KEEP;
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		const char *text = paths[i].text;

		if (paths[i].sym == SP_SYM_NONE) {
			snprintf(err, errlen, "fields: '/' is the whole record; "
				 "use a filter stage to drop records");
			rc = -EINVAL;
			goto fail;
		}
		if (paths[i].depth) {
			snprintf(err, errlen, "fields: '%s': nested paths are "
				 "not supported by field_remover yet", text);
			rc = -EINVAL;
			goto fail;
		}
		if (paths[i].sym > max)
			max = paths[i].sym;
	}
	r->nbits = max + 1;
	r->set = calloc((r->nbits + 63) / 64, sizeof(uint64_t));
	if (!r->set) {
		snprintf(err, errlen, "out of memory");
		rc = -ENOMEM;
		goto fail;
	}
	for (uint32_t i = 0; i < cfg->fields.n; i++)
		r->set[paths[i].sym / 64] |= 1ull << (paths[i].sym % 64);
	*state = r;
	return 0;
fail:
	remover_close(r);
	return rc;
}

static int remover_process(void *state, void *wstate, struct sp_batch *b,
			   const uint32_t *in, uint32_t n,
			   struct sp_selection *out)
{
	const struct remover *r = state;

	for (uint32_t k = 0; k < n; k++) {
		struct sp_record *rec = &b->recs[in[k]];
		struct sp_field *f = &b->fields[rec->first];
		bool changed = false;

		for (uint32_t i = 0; i < rec->nfields; i++) {
			uint32_t sym = f[i].sym;
			if (sym == SP_SYM_NONE || in_set(r, sym) == r->keep)
				continue;
			f[i].sym = SP_SYM_NONE;
			changed = true;
		}
		if (changed)
			rec->flags |= SP_RECORD_CHANGED;
		out[0].idx[k] = in[k];
	}
	out[0].n = n;
	return 0;
}

const struct sp_stage_desc sp_stage_field_remover = {
	.abi = SP_STAGE_ABI,
	.name = "field_remover",
	.kind = SP_PROCESSOR,
	.help = "removes the listed fields from each record (or keeps only "
		"them)",
	.options = remover_options,
	.config_size = sizeof(struct remover_config),
	.mutates = true,
	.create = remover_create,
	.create_checks = true,
	.process = remover_process,
	.close = remover_close,
};
