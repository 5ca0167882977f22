/*
 * The stage registry: the table of built-in stage types and the stages
 * loaded from plugins.  Every descriptor that enters the registry is
 * checked once here (ABI, name, kind, callbacks, option table), so the
 * engine can call a registered stage's callbacks without further checks.
 * Plugin stages live in a small array guarded by a mutex; lookups are not
 * on the per-batch path.
 */
#include "stages/registry.h"

#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

extern const struct sp_stage_desc sp_stage_file_reader;
extern const struct sp_stage_desc sp_stage_dev_data_generator;
extern const struct sp_stage_desc sp_stage_dev_raw_data;
extern const struct sp_stage_desc sp_stage_stdin;
extern const struct sp_stage_desc sp_stage_postgres_origin;
extern const struct sp_stage_desc sp_stage_field_remover;
extern const struct sp_stage_desc sp_stage_field_renamer;
extern const struct sp_stage_desc sp_stage_field_setter;
extern const struct sp_stage_desc sp_stage_filter;
extern const struct sp_stage_desc sp_stage_field_type_converter;
extern const struct sp_stage_desc sp_stage_stream_selector;
extern const struct sp_stage_desc sp_stage_file_writer;
extern const struct sp_stage_desc sp_stage_trash;
extern const struct sp_stage_desc sp_stage_stdout;
extern const struct sp_stage_desc sp_stage_sink;
extern const struct sp_stage_desc sp_stage_postgres;
extern const struct sp_stage_desc sp_stage_mysql;
extern const struct sp_stage_desc sp_stage_pipeline_finisher;
extern const struct sp_stage_desc sp_stage_shell;

static const struct sp_stage_desc *const builtins[] = {
	&sp_stage_file_reader,
	&sp_stage_dev_data_generator,
	&sp_stage_dev_raw_data,
	&sp_stage_stdin,
	&sp_stage_postgres_origin,
	&sp_stage_field_remover,
	&sp_stage_field_renamer,
	&sp_stage_field_setter,
	&sp_stage_filter,
	&sp_stage_field_type_converter,
	&sp_stage_stream_selector,
	&sp_stage_file_writer,
	&sp_stage_trash,
	&sp_stage_stdout,
	&sp_stage_sink,
	&sp_stage_postgres,
	&sp_stage_mysql,
	&sp_stage_pipeline_finisher,
	&sp_stage_shell,
};

#define NBUILTINS (sizeof(builtins) / sizeof(builtins[0]))
#define MAX_PLUGIN_STAGES 256
#define MAX_PLUGIN_FILES 64

struct plugin_stage {
	const struct sp_stage_desc *desc;
	char *origin; /* file it came from, for messages */
};

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct plugin_stage plugins[MAX_PLUGIN_STAGES];
static uint32_t nplugins;
static void *handles[MAX_PLUGIN_FILES];
static uint32_t nhandles;

static const char *const kind_names[] = {"origin", "processor",
					 "destination", "executor"};

/* A built-in name may stand for an origin and for another kind (postgres:
 * the origin reads a query, the destination loads a table); origin picks
 * which of the two, and a name with one kind is found either way. */
static const struct sp_stage_desc *find_builtin(const char *type, bool origin)
{
	const struct sp_stage_desc *found = NULL;

	for (size_t i = 0; i < NBUILTINS; i++) {
		if (strcmp(builtins[i]->name, type) != 0)
			continue;
		if ((builtins[i]->kind == SP_ORIGIN) == origin)
			return builtins[i];
		found = builtins[i];
	}
	return found;
}

/* caller holds lock */
static const struct plugin_stage *find_plugin(const char *type)
{
	for (uint32_t i = 0; i < nplugins; i++)
		if (strcmp(plugins[i].desc->name, type) == 0)
			return &plugins[i];
	return NULL;
}

const struct sp_stage_desc *sp_registry_lookup(const char *type, bool origin)
{
	const struct sp_stage_desc *d;
	const struct plugin_stage *p;

	if (!type)
		return NULL;
	d = find_builtin(type, origin);
	if (d)
		return d;
	pthread_mutex_lock(&lock);
	p = find_plugin(type);
	d = p ? p->desc : NULL;
	pthread_mutex_unlock(&lock);
	return d;
}

const struct sp_stage_desc *sp_registry_find(const char *type)
{
	return sp_registry_lookup(type, false);
}

static int desc_cmp(const void *a, const void *b)
{
	const struct sp_stage_desc *x = *(const struct sp_stage_desc *const *)a;
	const struct sp_stage_desc *y = *(const struct sp_stage_desc *const *)b;

	if (x->kind != y->kind)
		return x->kind < y->kind ? -1 : 1;
	return strcmp(x->name, y->name);
}

uint32_t sp_registry_list(const struct sp_stage_desc **out, uint32_t max)
{
	const struct sp_stage_desc *all[NBUILTINS + MAX_PLUGIN_STAGES];
	uint32_t n = 0;

	for (size_t i = 0; i < NBUILTINS; i++)
		all[n++] = builtins[i];
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < nplugins; i++)
		all[n++] = plugins[i].desc;
	pthread_mutex_unlock(&lock);
	if (!out)
		return n;
	qsort(all, n, sizeof(all[0]), desc_cmp);
	if (n > max)
		n = max;
	memcpy(out, all, n * sizeof(all[0]));
	return n;
}

/* ---- checks ----------------------------------------------------------- */

static bool valid_name(const char *s)
{
	if (!s || !*s || strlen(s) > 64)
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= '0' && *s <= '9') ||
		      *s == '_'))
			return false;
	return true;
}

static size_t opt_type_size(const struct sp_option *o)
{
	switch (o->type) {
	case SP_OPT_STRING:
		return sizeof(char *);
	case SP_OPT_EXPR:
		return sizeof(struct sp_expr *);
	case SP_OPT_ENUM:
		return sizeof(int);
	case SP_OPT_INT:
		return sizeof(int64_t);
	case SP_OPT_DOUBLE:
		return sizeof(double);
	case SP_OPT_BOOL:
		return sizeof(bool);
	case SP_OPT_CHAR:
		return sizeof(char);
	case SP_OPT_SIZE:
		return sizeof(uint64_t);
	case SP_OPT_STRING_LIST:
		return sizeof(struct sp_strlist);
	case SP_OPT_MAP:
		return o->exprs != SP_EXPRS_NONE ? sizeof(struct sp_boundmap)
						 : sizeof(struct sp_strmap);
	case SP_OPT_OBJECT_LIST:
		return sizeof(struct sp_objlist);
	case SP_OPT_PATH_LIST:
		return sizeof(struct sp_pathlist);
	case SP_OPT_PATH_MAP:
		return sizeof(struct sp_boundmap);
	}
	return 0;
}

static int check_options(const struct sp_option *t, size_t size,
			 uint32_t abi, const char *what, unsigned depth,
			 char *err, size_t errlen)
{
	for (uint32_t i = 0; t[i].name; i++) {
		size_t sz = opt_type_size(&t[i]);

		if (sz == 0) {
			snprintf(err, errlen, "%s: option '%s' has an unknown "
				 "type %d", what, t[i].name, (int)t[i].type);
			return -EINVAL;
		}
		if (t[i].offset > size || size - t[i].offset < sz) {
			snprintf(err, errlen, "%s: option '%s' lies outside "
				 "the config struct (offset %zu, config_size "
				 "%zu)", what, t[i].name, t[i].offset, size);
			return -EINVAL;
		}
		if (t[i].type == SP_OPT_ENUM &&
		    (!t[i].choices || !t[i].choices[0])) {
			snprintf(err, errlen, "%s: enum option '%s' has no "
				 "choices", what, t[i].name);
			return -EINVAL;
		}
		if (t[i].type == SP_OPT_ENUM && abi < 2) {
			snprintf(err, errlen, "%s: enum option '%s' was built "
				 "for stage ABI %u, where enums bound to a "
				 "string (an index since ABI 2): rebuild the "
				 "plugin against this spate", what, t[i].name,
				 abi);
			return -EPROTO;
		}
		if ((t[i].type == SP_OPT_EXPR ||
		     (t[i].type == SP_OPT_MAP &&
		      t[i].exprs != SP_EXPRS_NONE)) &&
		    abi < 3) {
			snprintf(err, errlen, "%s: expression option '%s' was "
				 "built for stage ABI %u, where expressions "
				 "bound to their text (compiled since ABI 3): "
				 "rebuild the plugin against this spate", what,
				 t[i].name, abi);
			return -EPROTO;
		}
		if (t[i].type == SP_OPT_OBJECT_LIST) {
			if (!t[i].items || t[i].item_size == 0 || depth > 4) {
				snprintf(err, errlen, "%s: option '%s' is an "
					 "object list without an item table "
					 "and item_size", what, t[i].name);
				return -EINVAL;
			}
			int rc = check_options(t[i].items, t[i].item_size,
					       abi, what, depth + 1, err,
					       errlen);
			if (rc)
				return rc;
		}
	}
	return 0;
}

static const char *missing_callback(const struct sp_stage_desc *d)
{
	if (!d->create)
		return "create";
	switch (d->kind) {
	case SP_ORIGIN:
		if (!d->next)
			return "next";
		if (!d->parse)
			return "parse";
		break;
	case SP_PROCESSOR:
		if (!d->process)
			return "process";
		break;
	case SP_DESTINATION:
		if (!d->stage_batch)
			return "stage_batch";
		break;
	case SP_EXECUTOR:
		if (!d->on_event)
			return "on_event";
		break;
	}
	return NULL;
}

/* caller holds lock */
static int check_desc(const struct sp_stage_desc *d, uint32_t i,
		      const struct sp_stage_desc *const *descs,
		      const char *origin, char *err, size_t errlen)
{
	char what[160];
	const char *cb;
	const struct plugin_stage *other;

	if (d->abi == 0 || d->abi > SP_STAGE_ABI) {
		const char *n = d->name ? d->name : "?";
		if (d->abi == 0)
			snprintf(err, errlen, "plugin '%s': stage '%s' has "
				 "abi 0 (set .abi = SP_STAGE_ABI)", origin, n);
		else
			snprintf(err, errlen, "plugin '%s': stage '%s' needs "
				 "stage ABI %u but this spate has ABI %u "
				 "(rebuild the plugin against this spate or "
				 "upgrade spate)", origin, n, d->abi,
				 SP_STAGE_ABI);
		return -EPROTO;
	}
	if (!valid_name(d->name)) {
		snprintf(err, errlen, "plugin '%s': stage #%u has a bad name "
			 "'%s' (use [a-z0-9_], at most 64 characters)", origin,
			 i + 1, d->name ? d->name : "");
		return -EINVAL;
	}
	if ((unsigned)d->kind > SP_EXECUTOR) {
		snprintf(err, errlen, "plugin '%s': stage '%s' has an unknown "
			 "kind %d", origin, d->name, (int)d->kind);
		return -EINVAL;
	}
	if (find_builtin(d->name, false)) {
		snprintf(err, errlen, "plugin '%s': stage '%s' is already "
			 "defined (a built-in stage)", origin, d->name);
		return -EEXIST;
	}
	other = find_plugin(d->name);
	if (other) {
		snprintf(err, errlen, "plugin '%s': stage '%s' is already "
			 "defined (by plugin '%s')", origin, d->name,
			 other->origin);
		return -EEXIST;
	}
	for (uint32_t j = 0; j < i; j++) {
		if (strcmp(descs[j]->name, d->name) == 0) {
			snprintf(err, errlen, "plugin '%s': stage '%s' is "
				 "defined twice in the file", origin, d->name);
			return -EEXIST;
		}
	}
	cb = missing_callback(d);
	if (cb) {
		snprintf(err, errlen, "plugin '%s': %s '%s' has no %s "
			 "callback", origin, kind_names[d->kind], d->name, cb);
		return -EINVAL;
	}
	if (!d->options) {
		snprintf(err, errlen, "plugin '%s': stage '%s' has no option "
			 "table (use a table holding just {0})", origin,
			 d->name);
		return -EINVAL;
	}
	snprintf(what, sizeof(what), "plugin '%s': stage '%s'", origin,
		 d->name);
	return check_options(d->options, d->config_size, d->abi, what, 0, err,
			     errlen);
}

int sp_registry_add(const struct sp_stage_desc *const *descs,
		    const char *origin, char *err, size_t errlen)
{
	uint32_t n = 0;
	int rc = 0;

	if (!descs || !descs[0]) {
		snprintf(err, errlen, "plugin '%s': defines no stages "
			 "(spate_stage_descriptors is empty)", origin);
		return -EINVAL;
	}
	while (descs[n])
		n++;
	pthread_mutex_lock(&lock);
	if (n > MAX_PLUGIN_STAGES - nplugins) {
		snprintf(err, errlen, "plugin '%s': too many plugin stages "
			 "(at most %d in all)", origin, MAX_PLUGIN_STAGES);
		rc = -ENOSPC;
		goto unlock;
	}
	for (uint32_t i = 0; i < n; i++) {
		rc = check_desc(descs[i], i, descs, origin, err, errlen);
		if (rc)
			goto unlock;
	}
	for (uint32_t i = 0; i < n; i++) {
		char *o = strdup(origin);
		if (!o) {
			while (i--)
				free(plugins[--nplugins].origin);
			snprintf(err, errlen, "plugin '%s': out of memory",
				 origin);
			rc = -ENOMEM;
			goto unlock;
		}
		plugins[nplugins].desc = descs[i];
		plugins[nplugins++].origin = o;
	}
unlock:
	pthread_mutex_unlock(&lock);
	return rc;
}

int sp_registry_load_plugin(const char *path, char *err, size_t errlen)
{
	const struct sp_stage_desc *const *descs;
	void *h;
	int rc;

	pthread_mutex_lock(&lock);
	rc = nhandles == MAX_PLUGIN_FILES;
	pthread_mutex_unlock(&lock);
	if (rc) {
		snprintf(err, errlen, "plugin '%s': too many plugins (at most "
			 "%d)", path, MAX_PLUGIN_FILES);
		return -ENOSPC;
	}
	dlerror();
	h = dlopen(path, RTLD_NOW | RTLD_LOCAL);
	if (!h) {
		const char *why = dlerror();
		snprintf(err, errlen, "plugin '%s': cannot load it: %s", path,
			 why ? why : "unknown error");
		return -ENOENT;
	}
	descs = dlsym(h, "spate_stage_descriptors");
	if (!descs) {
		snprintf(err, errlen, "plugin '%s': it does not export "
			 "spate_stage_descriptors (a NULL-terminated array of "
			 "const struct sp_stage_desc pointers)", path);
		rc = -ENOENT;
		goto close;
	}
	rc = sp_registry_add(descs, path, err, errlen);
	if (rc)
		goto close;
	pthread_mutex_lock(&lock);
	handles[nhandles++] = h;
	pthread_mutex_unlock(&lock);
	return 0;
close:
	dlclose(h);
	return rc;
}

void sp_registry_reset_plugins(void)
{
	pthread_mutex_lock(&lock);
	for (uint32_t i = 0; i < nplugins; i++)
		free(plugins[i].origin);
	nplugins = 0;
	for (uint32_t i = 0; i < nhandles; i++)
		dlclose(handles[i]);
	nhandles = 0;
	pthread_mutex_unlock(&lock);
}

/* ---- suggestions ------------------------------------------------------ */

static unsigned edit_distance(const char *a, const char *b)
{
	unsigned row[65];
	size_t la = strlen(a), lb = strlen(b);

	if (la > 64 || lb > 64)
		return 99;
	for (size_t j = 0; j <= lb; j++)
		row[j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned diag = row[0];
		row[0] = (unsigned)i;
		for (size_t j = 1; j <= lb; j++) {
			unsigned up = row[j];
			unsigned best = diag + (a[i - 1] != b[j - 1]);
			if (up + 1 < best)
				best = up + 1;
			if (row[j - 1] + 1 < best)
				best = row[j - 1] + 1;
			row[j] = best;
			diag = up;
		}
	}
	return row[lb];
}

const char *sp_registry_suggest(const char *type)
{
	const struct sp_stage_desc *all[NBUILTINS + MAX_PLUGIN_STAGES];
	uint32_t n = sp_registry_list(all, NBUILTINS + MAX_PLUGIN_STAGES);
	const char *best = NULL;
	unsigned bestd = 3;

	if (!type)
		return NULL;
	for (uint32_t i = 0; i < n; i++) {
		unsigned d = edit_distance(type, all[i]->name);
		if (d < bestd) {
			bestd = d;
			best = all[i]->name;
		}
	}
	return best;
}
