/*
 * The C SDK's view of the stage types (include/spate/spate.h, "stage
 * types"): the registry's descriptors and their option tables, as plain
 * structs for programs that list types and options to their users.
 */
#include "spate/spate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "stages/registry.h"

/* A name that is an origin and a destination (postgres) is kept once, at
 * its destination: names are what the calls below take.  New count. */
static uint32_t unique_names(const struct sp_stage_desc **v, uint32_t n)
{
	uint32_t k = 0;

	for (uint32_t i = 0; i < n; i++) {
		if (v[i] != sp_registry_find(v[i]->name))
			continue;
		v[k++] = v[i];
	}
	return k;
}

/* The registry's descriptors, sorted (caller frees *out); count */
static uint32_t all_descs(const struct sp_stage_desc ***out)
{
	uint32_t n = sp_registry_list(NULL, 0);

	*out = calloc(n ? n : 1, sizeof(**out));
	return *out ? sp_registry_list(*out, n) : 0;
}

size_t spate_stage_types(const char **out, size_t max)
{
	const struct sp_stage_desc **v;
	uint32_t n = all_descs(&v);

	if (!v)
		return sp_registry_list(NULL, 0);
	n = unique_names(v, n);
	for (uint32_t i = 0; out && i < n && i < max; i++)
		out[i] = v[i]->name;
	free(v);
	return n;
}

/* type's descriptor of kind (NULL: the one the name finds first) */
static const struct sp_stage_desc *find_kind(const char *type,
					     const char *kind)
{
	const struct sp_stage_desc *d;

	if (!type)
		return NULL;
	if (!kind)
		return sp_registry_find(type);
	d = sp_registry_lookup(type, !strcmp(kind, "origin"));
	return d && !strcmp(sp_stage_kind_name(d->kind), kind) ? d : NULL;
}

static void fill_info(const struct sp_stage_desc *d,
		      struct spate_stage_type_info *info)
{
	uint32_t n = 0;

	while (d->options && d->options[n].name)
		n++;
	memset(info, 0, sizeof(*info));
	info->name = d->name;
	info->kind = sp_stage_kind_name(d->kind);
	info->help = d->help;
	info->noptions = n;
}

size_t spate_stage_kinds(struct spate_stage_type_info *out, size_t max)
{
	const struct sp_stage_desc **v;
	uint32_t n = all_descs(&v);

	if (!v)
		return sp_registry_list(NULL, 0);
	for (uint32_t i = 0; out && i < n && i < max; i++)
		fill_info(v[i], &out[i]);
	free(v);
	return n;
}

int spate_stage_kind_info(const char *type, const char *kind,
			  struct spate_stage_type_info *info)
{
	const struct sp_stage_desc *d = find_kind(type, kind);

	if (!d || !info)
		return -ENOENT;
	fill_info(d, info);
	return 0;
}

int spate_stage_type_info(const char *type, struct spate_stage_type_info *info)
{
	return spate_stage_kind_info(type, NULL, info);
}

int spate_stage_kind_option(const char *type, const char *kind, uint32_t i,
			    struct spate_option_info *opt)
{
	const struct sp_stage_desc *d = find_kind(type, kind);
	struct spate_stage_type_info info;
	const struct sp_option *o;

	if (!d || !opt)
		return -ENOENT;
	fill_info(d, &info);
	if (i >= info.noptions)
		return -ENOENT;
	o = &d->options[i];
	memset(opt, 0, sizeof(*opt));
	opt->name = o->name;
	opt->type = sp_opt_type_name(o->type);
	opt->def = o->def;
	opt->required = o->required;
	opt->help = o->help;
	return 0;
}

int spate_stage_type_option(const char *type, uint32_t i,
			    struct spate_option_info *opt)
{
	return spate_stage_kind_option(type, NULL, i, opt);
}
