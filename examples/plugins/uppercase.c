/*
 * uppercase: an example of a stage kept outside spate, built as a shared
 * object and loaded with `plugins: [uppercase.so]` in a flow.  It upper-
 * cases the ASCII letters of the listed string fields.  A plugin exports
 * spate_stage_descriptors, a NULL-terminated array of descriptors, and
 * uses the engine's functions from the spate executable that loads it.
 *
 *	cc -shared -fPIC uppercase.c -o uppercase.so \
 *	    $(pkg-config --cflags spate-plugin)
 *
 * (or -I<spate source> in place of the pkg-config part).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "stage_api/stage.h"

struct uppercase_config {
	struct sp_strlist fields;
};

struct uppercase {
	uint32_t n;
	uint32_t *syms;
};

static const struct sp_option uppercase_options[] = {
	{.name = "fields",
	 .type = SP_OPT_STRING_LIST,
	 .required = true,
	 .offset = offsetof(struct uppercase_config, fields),
	 .help = "top-level string fields to upper-case, e.g. [/country]"},
	{0},
};

static void uppercase_close(void *state)
{
	struct uppercase *u = state;

	if (!u)
		return;
	free(u->syms);
	free(u);
}

static int uppercase_create(const void *config,
			    const struct sp_stage_ctx *ctx, void **state,
			    char *err, size_t errlen)
{
	const struct uppercase_config *cfg = config;
	struct uppercase *u = calloc(1, sizeof(*u));

	if (!u || !(u->syms = calloc(cfg->fields.n + 1, sizeof(*u->syms)))) {
		free(u);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		struct sp_path p;
		const char *why;

		if (sp_path_parse(cfg->fields.v[i], ctx->symtab, &p, &why)) {
			snprintf(err, errlen, "fields: '%s': %s",
				 cfg->fields.v[i], why);
			uppercase_close(u);
			return -EINVAL;
		}
		if (p.sym == SP_SYM_NONE || p.depth) {
			snprintf(err, errlen, "fields: '%s': name a top-level "
				 "field", cfg->fields.v[i]);
			sp_path_fini(&p);
			uppercase_close(u);
			return -EINVAL;
		}
		u->syms[u->n++] = p.sym;
		sp_path_fini(&p);
	}
	*state = u;
	return 0;
}

/* Upper-cases s[0..len) into out.  Escaped JSON text keeps its escapes
 * as they are (\n stays \n, \u00e9 stays \u00e9). */
static void upper(const char *s, uint32_t len, bool escaped, char *out)
{
	for (uint32_t i = 0; i < len; i++) {
		char c = s[i];

		if (escaped && c == '\\' && i + 1 < len) {
			/* \n stays \n, \u00e9 keeps its digits */
			uint32_t n = s[i + 1] == 'u' ? 6 : 2;
			for (uint32_t k = 0; k < n && i < len; k++, i++)
				out[i] = s[i];
			i--;
			continue;
		}
		out[i] = c >= 'a' && c <= 'z' ? (char)(c - 'a' + 'A') : c;
	}
}

static int uppercase_process(void *state, void *wstate, struct sp_batch *b,
			     const uint32_t *in, uint32_t n,
			     struct sp_selection *out)
{
	const struct uppercase *u = state;

	for (uint32_t k = 0; k < n; k++) {
		struct sp_record *r = &b->recs[in[k]];
		struct sp_field *f = &b->fields[r->first];

		for (uint32_t i = 0; i < r->nfields; i++) {
			struct sp_value *v = &f[i].v;
			uint32_t j;
			char *s;

			if (v->type != SP_STRING || f[i].sym == SP_SYM_NONE)
				continue;
			for (j = 0; j < u->n && u->syms[j] != f[i].sym; j++)
				;
			if (j == u->n)
				continue;
			s = sp_arena_alloc(&b->arena, v->len + 1);
			if (!s)
				return -ENOMEM;
			upper(v->str, v->len, v->flags & SP_VALUE_ESCAPED, s);
			v->str = s;
			r->flags |= SP_RECORD_CHANGED;
		}
		out[0].idx[k] = in[k];
	}
	out[0].n = n;
	return 0;
}

static const struct sp_stage_desc uppercase_desc = {
	.abi = SP_STAGE_ABI,
	.name = "uppercase",
	.kind = SP_PROCESSOR,
	.help = "upper-cases the ASCII letters of string fields (example "
		"plugin)",
	.options = uppercase_options,
	.config_size = sizeof(struct uppercase_config),
	.mutates = true,
	.create = uppercase_create,
	.process = uppercase_process,
	.close = uppercase_close,
};

const struct sp_stage_desc *const spate_stage_descriptors[] = {
	&uppercase_desc,
	NULL,
};
