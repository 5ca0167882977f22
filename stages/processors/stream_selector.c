/*
 * stream_selector: routes records to named lanes by predicate, as the
 * StreamSets stream selector does.  Lanes are ordered; the last lane,
 * "default", takes the records that match no predicate.  mode: all sends
 * a record to every lane whose predicate holds; mode: first_match to the
 * first one only.  Predicates are evaluated over the whole batch (one
 * sp_expr_select per lane).  A record on which any predicate fails to
 * evaluate is one record error and goes to no lane.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "stage_api/stage.h"

struct selector_config {
	struct sp_boundmap lanes; /* each predicate compiled at binding */
	int mode;		  /* enum selector_mode */
};

struct selector {
	bool first_match;
	uint32_t n; /* predicate lanes; "default" is lane n */
	struct sp_expr *const *pred; /* the config's */
};

#define MATCHED 0x1
#define FAILED 0x2

struct selector_worker {
	struct sp_expr_ctx *ctx;
	uint8_t *mark;	 /* per record index of the batch */
	uint32_t *rest;	 /* first_match: records not routed yet */
	uint32_t *tmp;
	uint32_t cap_mark, cap_sel;
};

enum selector_mode { SELECTOR_ALL = 0, SELECTOR_FIRST_MATCH };

static const char *const modes[] = {
    [SELECTOR_ALL] = "all", [SELECTOR_FIRST_MATCH] = "first_match", NULL};

static const struct sp_option selector_options[] = {
	{.name = "lanes",
	 .type = SP_OPT_MAP,
	 .required = true,
	 .exprs = SP_EXPRS_ALL,
	 .offset = offsetof(struct selector_config, lanes),
	 .help = "ordered map of lane name to predicate, e.g. {high: "
		 "'${record:value(\"/expense\") >= 10000}'}; records matching "
		 "none go to the lane 'default'"},
	{.name = "mode",
	 .type = SP_OPT_ENUM,
	 .def = "all",
	 .choices = modes,
	 .offset = offsetof(struct selector_config, mode),
	 .help = "all: a record goes to every lane it matches; first_match: "
		 "to the first matching lane only"},
	{0},
};

static uint32_t selector_lanes(const void *config, const char **lanes,
			       uint32_t max)
{
	const struct selector_config *cfg = config;
	uint32_t n = 0;

	for (uint32_t i = 0; i < cfg->lanes.n && n + 1 < max; i++)
		lanes[n++] = cfg->lanes.keys[i];
	if (n < max)
		lanes[n++] = "default";
	return n;
}

static void selector_close(void *state)
{
	struct selector *s = state;

	free(s);
}

static int selector_create(const void *config,
			   const struct sp_stage_ctx *ctx, void **state,
			   char *err, size_t errlen)
{
	const struct selector_config *cfg = config;
	struct selector *s;

	if (cfg->lanes.n == 0) {
		snprintf(err, errlen, "lanes: give at least one lane with a "
			 "predicate");
		return -EINVAL;
	}
	if (cfg->lanes.n > SP_MAX_LANES - 1) {
		snprintf(err, errlen, "lanes: %u lanes, at most %d (plus "
			 "default)", cfg->lanes.n, SP_MAX_LANES - 1);
		return -EINVAL;
	}
	for (uint32_t i = 0; i < cfg->lanes.n; i++) {
		const char *name = cfg->lanes.keys[i];

		if (strcmp(name, "default") == 0) {
			snprintf(err, errlen, "lanes: 'default' is the lane "
				 "for records matching no predicate; it cannot "
				 "have one");
			return -EINVAL;
		}
		if (!name[0]) {
			snprintf(err, errlen, "lanes: a lane name is empty");
			return -EINVAL;
		}
		for (const char *p = name; *p; p++) {
			if (!((*p >= 'a' && *p <= 'z') ||
			      (*p >= 'A' && *p <= 'Z') ||
			      (*p >= '0' && *p <= '9') || *p == '_' ||
			      *p == '-')) {
				snprintf(err, errlen, "lanes: lane name '%s' "
					 "may only hold letters, digits, '_' "
					 "and '-'", name);
				return -EINVAL;
			}
		}
	}
	s = calloc(1, sizeof(*s));
	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->first_match = cfg->mode == SELECTOR_FIRST_MATCH;
	s->n = cfg->lanes.n;
	s->pred = cfg->lanes.exprs;
	*state = s;
	return 0;
}

static void *selector_worker_create(void *state, unsigned worker)
{
	struct selector_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->ctx = sp_expr_ctx_create();
	if (!w->ctx) {
		free(w);
		return NULL;
	}
	return w;
}

static void selector_worker_destroy(void *state, void *wstate)
{
	struct selector_worker *w = wstate;

	if (!w)
		return;
	sp_expr_ctx_destroy(w->ctx);
	free(w->mark);
	free(w->rest);
	free(w->tmp);
	free(w);
}

/* Scratch grows with the batch and is kept: no allocation once warm. */
static int reserve(struct selector_worker *w, uint32_t nrecs, uint32_t n)
{
	if (nrecs > w->cap_mark) {
		uint8_t *m = realloc(w->mark, nrecs);
		if (!m)
			return -ENOMEM;
		w->mark = m;
		w->cap_mark = nrecs;
	}
	if (n > w->cap_sel) {
		uint32_t *r = realloc(w->rest, n * sizeof(*r));
		if (!r)
			return -ENOMEM;
		w->rest = r;
		uint32_t *t = realloc(w->tmp, n * sizeof(*t));
		if (!t)
			return -ENOMEM;
		w->tmp = t;
		w->cap_sel = n;
	}
	return 0;
}

/* Marks the records named by the errors e0.. as failed, keeping one
 * error per record (a record may fail in several predicates). */
static void take_errors(struct sp_batch *b, uint32_t e0, uint8_t *mark)
{
	uint32_t keep = e0;

	for (uint32_t i = e0; i < b->nerrors; i++) {
		uint32_t rec = b->errors[i].record;

		if (rec != SP_NO_RECORD && rec < b->nrecs) {
			if (mark[rec] & FAILED)
				continue;
			mark[rec] |= FAILED;
		}
		b->errors[keep++] = b->errors[i];
	}
	b->nerrors = keep;
}

static int select_all(const struct selector *s, struct selector_worker *w,
		      struct sp_batch *b, const uint32_t *in, uint32_t n,
		      struct sp_selection *out)
{
	uint32_t e0 = b->nerrors;
	bool failed = false;
	uint32_t nerr;

	for (uint32_t l = 0; l < s->n; l++) {
		nerr = 0;
		out[l].n = sp_expr_select(s->pred[l], w->ctx, b, in, n,
					  out[l].idx, &nerr);
		for (uint32_t k = 0; k < out[l].n; k++)
			w->mark[out[l].idx[k]] |= MATCHED;
		failed |= nerr != 0;
	}
	if (failed || b->nerrors != e0) {
		take_errors(b, e0, w->mark);
		for (uint32_t l = 0; l < s->n; l++) {
			uint32_t m = 0;
			for (uint32_t k = 0; k < out[l].n; k++)
				if (!(w->mark[out[l].idx[k]] & FAILED))
					out[l].idx[m++] = out[l].idx[k];
			out[l].n = m;
		}
	}
	out[s->n].n = 0;
	for (uint32_t k = 0; k < n; k++)
		if (!w->mark[in[k]])
			out[s->n].idx[out[s->n].n++] = in[k];
	return 0;
}

static int select_first(const struct selector *s, struct selector_worker *w,
			struct sp_batch *b, const uint32_t *in, uint32_t n,
			struct sp_selection *out)
{
	uint32_t nrest = n;

	memcpy(w->rest, in, n * sizeof(*in));
	for (uint32_t l = 0; l < s->n; l++) {
		uint32_t e0 = b->nerrors, nerr = 0, m = 0;

		out[l].n = sp_expr_select(s->pred[l], w->ctx, b, w->rest,
					  nrest, out[l].idx, &nerr);
		for (uint32_t k = 0; k < out[l].n; k++)
			w->mark[out[l].idx[k]] |= MATCHED;
		if (nerr || b->nerrors != e0)
			take_errors(b, e0, w->mark);
		for (uint32_t k = 0; k < nrest; k++)
			if (!w->mark[w->rest[k]])
				w->tmp[m++] = w->rest[k];
		memcpy(w->rest, w->tmp, m * sizeof(*w->tmp));
		nrest = m;
	}
	memcpy(out[s->n].idx, w->rest, nrest * sizeof(*w->rest));
	out[s->n].n = nrest;
	return 0;
}

static int selector_process(void *state, void *wstate, struct sp_batch *b,
			    const uint32_t *in, uint32_t n,
			    struct sp_selection *out)
{
	const struct selector *s = state;
	struct selector_worker *w = wstate;

	if (!w || reserve(w, b->nrecs, n))
		return -ENOMEM;
	for (uint32_t k = 0; k < n; k++)
		w->mark[in[k]] = 0;
	if (s->first_match)
		return select_first(s, w, b, in, n, out);
	return select_all(s, w, b, in, n, out);
}

const struct sp_stage_desc sp_stage_stream_selector = {
	.abi = SP_STAGE_ABI,
	.name = "stream_selector",
	.kind = SP_PROCESSOR,
	.help = "routes records to lanes by predicate; records matching none "
		"go to 'default'",
	.options = selector_options,
	.config_size = sizeof(struct selector_config),
	.create = selector_create,
	.create_checks = true,
	.lanes = selector_lanes,
	.worker_create = selector_worker_create,
	.worker_destroy = selector_worker_destroy,
	.process = selector_process,
	.close = selector_close,
};
