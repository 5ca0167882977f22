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

size_t spate_stage_types(const char **out, size_t max)
{
	const struct sp_stage_desc **v;
	uint32_t n = sp_registry_list(NULL, 0);

	v = calloc(n ? n : 1, sizeof(*v));
	if (!v)
		return n;
	n = unique_names(v, sp_registry_list(v, n));
	for (uint32_t i = 0; out && i < n && i < max; i++)
		out[i] = v[i]->name;
	free(v);
	return n;
}

int spate_stage_type_info(const char *type, struct spate_stage_type_info *info)
{
	const struct sp_stage_desc *d = type ? sp_registry_find(type) : NULL;
	uint32_t n = 0;

	if (!d || !info)
		return -ENOENT;
	while (d->options && d->options[n].name)
		n++;
	memset(info, 0, sizeof(*info));
	info->name = d->name;
	info->kind = sp_stage_kind_name(d->kind);
	info->help = d->help;
	info->noptions = n;
	return 0;
}

int spate_stage_type_option(const char *type, uint32_t i,
			    struct spate_option_info *opt)
{
	struct spate_stage_type_info info;
	const struct sp_option *o;

	if (!opt || spate_stage_type_info(type, &info) || i >= info.noptions)
		return -ENOENT;
	o = &sp_registry_find(type)->options[i];
	memset(opt, 0, sizeof(*opt));
	opt->name = o->name;
	opt->type = sp_opt_type_name(o->type);
	opt->def = o->def;
	opt->required = o->required;
	opt->help = o->help;
	return 0;
}
