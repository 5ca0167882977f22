/*
 * Options: a stage declares what it accepts in a {0}-terminated table of
 * sp_option; this module binds a configuration tree (a map parsed from
 * YAML or built by the SDK) to the stage's config struct through that
 * table: every value goes through one converter per type, defaults go
 * through the same converters, and every problem becomes a diagnostic
 * that names the line, the stage, the option and what to fix.  Nothing
 * here runs on the per-record path.
 */
#include "config/config_internal.h"

/* ---- option tables ---------------------------------------------------- */

static const char *kind_name(enum sp_node_kind k)
{
	switch (k) {
	case SP_NODE_SCALAR:
		return "a scalar";
	case SP_NODE_LIST:
		return "a list";
	case SP_NODE_MAP:
		return "a map";
	}
	return "?";
}

/* Plain null: `key:`, `key: ~` and `key: null` mean "not given". */
static bool node_is_null(const struct sp_node *n)
{
	if (!n)
		return true;
	if (n->kind != SP_NODE_SCALAR || n->quoted)
		return false;
	return !n->text || !n->text[0] || strcmp(n->text, "~") == 0 ||
	       strcmp(n->text, "null") == 0 || strcmp(n->text, "Null") == 0 ||
	       strcmp(n->text, "NULL") == 0;
}

/* State shared by one sp_options_bind call. */
struct bind {
	const char *stage;
	struct sp_diags *d;
	struct sp_symtab *symtab; /* what expressions and paths use */
	int problems;
};

static void problem(struct bind *b, const struct sp_node *n,
		    uint32_t fallback_line, const char *option, const char *fmt,
		    ...) __attribute__((format(printf, 5, 6)));

static void problem(struct bind *b, const struct sp_node *n,
		    uint32_t fallback_line, const char *option, const char *fmt,
		    ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp_diags_add(b->d, n && n->line ? n->line : fallback_line, b->stage,
		     option, "%s", msg);
	b->problems++;
}

static const char *enum_suggest(const char *const *choices, const char *v)
{
	size_t n = 0;

	while (choices && choices[n])
		n++;
	return sp_suggest(v, (const char *const *)choices, n);
}

static bool check_bounds(struct bind *b, const struct sp_option *o,
			 const struct sp_node *n, uint32_t line,
			 const char *name, double v, const char *shown)
{
	char lo[32], hi[32];

	if (!o->bounded || (v >= o->min && v <= o->max))
		return true;
	cfg_fmt_num(lo, sizeof(lo), o->min);
	cfg_fmt_num(hi, sizeof(hi), o->max);
	problem(b, n, line, name, "%s is out of range (%s..%s)", shown, lo, hi);
	return false;
}

static bool check_count(struct bind *b, const struct sp_option *o,
			const struct sp_node *n, uint32_t line,
			const char *name, uint32_t count)
{
	char lo[32], hi[32];

	if (!o->bounded || (count >= o->min && count <= o->max))
		return true;
	cfg_fmt_num(lo, sizeof(lo), o->min);
	cfg_fmt_num(hi, sizeof(hi), o->max);
	problem(b, n, line, name, "%u item%s, expected %s..%s", count,
		count == 1 ? "" : "s", lo, hi);
	return false;
}

static int bind_table(const struct sp_option *table, const struct sp_node *map,
		      const char *const *skip, void *config, const char *prefix,
		      uint32_t line, struct bind *b);

static bool has_symtab(struct bind *b, const struct sp_node *n,
		       uint32_t line, const char *name)
{
	if (b->symtab)
		return true;
	problem(b, n, line, name,
		"internal: no symbol table to compile this option against");
	return false;
}

/* Compiles t against the flow's table: a bad expression is a validation
 * problem with its column, and the program is what the stage runs.
 * NULL after a problem. */
static struct sp_expr *compile_expr(struct bind *b, const struct sp_node *n,
				    uint32_t line, const char *name,
				    const char *t)
{
	struct sp_expr_error err;
	struct sp_expr *e;

	if (!has_symtab(b, n, line, name))
		return NULL;
	memset(&err, 0, sizeof(err));
	e = sp_expr_compile(t, b->symtab, &err);
	if (e)
		return e;
	if (err.column == 0 && !err.message[0])
		problem(b, n, line, name, "out of memory");
	else
		problem(b, n, line, name, "expression error at column %u: %s",
			err.column, err.message);
	return NULL;
}

/* Parses t as a field path into *out (fini'd by the caller either way:
 * a failed parse leaves it empty).  true when parsed. */
static bool parse_path(struct bind *b, const struct sp_node *n,
		       uint32_t line, const char *name, const char *t,
		       struct sp_path *out)
{
	const char *why = NULL;

	memset(out, 0, sizeof(*out));
	if (!has_symtab(b, n, line, name))
		return false;
	if (sp_path_parse(t, b->symtab, out, &why) == 0)
		return true;
	if (why && strcmp(why, "out of memory") == 0)
		problem(b, n, line, name, "out of memory");
	else
		problem(b, n, line, name, "'%s' is not a field path: %s", t,
			why ? why : "invalid");
	return false;
}

/* Converts one scalar n for option o into dst.  true when bound. */
static bool bind_scalar(struct bind *b, const struct sp_option *o,
			const struct sp_node *n, uint32_t line,
			const char *name, void *dst)
{
	const char *t = n->text ? n->text : "";
	char shown[96];
	int r;

	snprintf(shown, sizeof(shown), "\"%.80s%s\"", t,
		 strlen(t) > 80 ? "..." : "");
	switch (o->type) {
	case SP_OPT_STRING: {
		char *s = strdup(t);

		if (!s)
			goto nomem;
		*(char **)dst = s;
		return true;
	}
	case SP_OPT_INT: {
		int64_t v;

		r = sp_parse_int(t, &v);
		if (r == -ERANGE) {
			problem(b, n, line, name, "%s is too large", shown);
			return false;
		}
		if (r) {
			problem(b, n, line, name, "%s is not an integer",
				shown);
			return false;
		}
		if (!check_bounds(b, o, n, line, name, (double)v, t))
			return false;
		*(int64_t *)dst = v;
		return true;
	}
	case SP_OPT_DOUBLE: {
		double v;

		if (cfg_parse_double(t, &v)) {
			problem(b, n, line, name, "%s is not a number", shown);
			return false;
		}
		if (!check_bounds(b, o, n, line, name, v, t))
			return false;
		*(double *)dst = v;
		return true;
	}
	case SP_OPT_BOOL:
		if (cfg_parse_bool(t, (bool *)dst)) {
			problem(b, n, line, name,
				"%s is not a boolean (true or false)", shown);
			return false;
		}
		return true;
	case SP_OPT_ENUM: {
		char list[512];
		const char *s;

		for (int i = 0; o->choices && o->choices[i]; i++) {
			if (strcmp(o->choices[i], t) == 0) {
				*(int *)dst = i;
				return true;
			}
		}
		cfg_enum_choices(o->choices, list, sizeof(list));
		s = enum_suggest(o->choices, t);
		if (s)
			problem(b, n, line, name,
				"%s is not one of %s (did you mean %s?)", shown,
				list, s);
		else
			problem(b, n, line, name, "%s is not one of %s", shown,
				list);
		return false;
	}
	case SP_OPT_CHAR:
		if (strlen(t) == 1) {
			*(char *)dst = t[0];
			return true;
		}
		if (strcmp(t, "\\t") == 0 || strcmp(t, "tab") == 0) {
			*(char *)dst = '\t';
			return true;
		}
		problem(b, n, line, name,
			"%s is not a single character (or \\t, tab)", shown);
		return false;
	case SP_OPT_SIZE: {
		uint64_t v;

		r = cfg_parse_size(t, &v);
		if (r == -ERANGE) {
			problem(b, n, line, name, "%s is too large", shown);
			return false;
		}
		if (r) {
			problem(b, n, line, name,
				"%s is not a size (bytes, or with K, M, G, T)",
				shown);
			return false;
		}
		if (!check_bounds(b, o, n, line, name, (double)v, t))
			return false;
		*(uint64_t *)dst = v;
		return true;
	}
	case SP_OPT_EXPR:
		*(struct sp_expr **)dst = compile_expr(b, n, line, name, t);
		return *(struct sp_expr **)dst != NULL;
	default:
		break;
	}
	problem(b, n, line, name, "internal: option type %d is not a scalar",
		(int)o->type);
	return false;
nomem:
	problem(b, n, line, name, "out of memory");
	return false;
}

static void free_value(const struct sp_option *o, void *dst);

/* Whether option o binds a struct sp_boundmap. */
static bool binds_boundmap(const struct sp_option *o)
{
	return o->type == SP_OPT_PATH_MAP ||
	       (o->type == SP_OPT_MAP && o->exprs != SP_EXPRS_NONE);
}

static void boundmap_entry_fini(struct sp_boundmap *m, uint32_t k)
{
	free(m->keys[k]);
	free(m->values[k]);
	m->keys[k] = m->values[k] = NULL;
	if (m->key_paths)
		sp_path_fini(&m->key_paths[k]);
	if (m->exprs) {
		sp_expr_destroy(m->exprs[k]);
		m->exprs[k] = NULL;
	}
	if (m->value_paths)
		sp_path_fini(&m->value_paths[k]);
}

/* Compiles what o says of the key and the value of entry k of m; after
 * a problem the entry is left empty.  true when bound. */
static bool bind_boundmap_entry(struct bind *b, const struct sp_option *o,
				const struct sp_node *it, uint32_t line,
				const char *name, const char *key,
				struct sp_boundmap *m, uint32_t k)
{
	const char *v = it->text ? it->text : "";

	if (m->key_paths &&
	    !parse_path(b, it, line, name, key, &m->key_paths[k]))
		goto drop;
	if (m->exprs && (o->exprs == SP_EXPRS_ALL || strncmp(v, "${", 2) == 0))
		if (!(m->exprs[k] = compile_expr(b, it, line, name, v)))
			goto drop;
	if (m->value_paths &&
	    !parse_path(b, it, line, name, v, &m->value_paths[k]))
		goto drop;
	m->keys[k] = strdup(key);
	m->values[k] = strdup(v);
	if (m->keys[k] && m->values[k])
		return true;
	problem(b, it, line, name, "out of memory");
drop:
	boundmap_entry_fini(m, k);
	return false;
}

static bool bind_boundmap(struct bind *b, const struct sp_option *o,
			  const struct sp_node *n, uint32_t line,
			  const char *name, struct sp_boundmap *m)
{
	size_t cap = n->n ? n->n : 1;
	bool ok = true;

	if (n->kind != SP_NODE_MAP) {
		problem(b, n, line, name, "expected a map, got %s",
			kind_name(n->kind));
		return false;
	}
	m->keys = calloc(cap, sizeof(*m->keys));
	m->values = calloc(cap, sizeof(*m->values));
	if (o->type == SP_OPT_PATH_MAP)
		m->key_paths = calloc(cap, sizeof(*m->key_paths));
	if (o->exprs == SP_EXPRS_ALL || o->exprs == SP_EXPRS_MARKED)
		m->exprs = calloc(cap, sizeof(*m->exprs));
	if (o->exprs == SP_EXPRS_PATHS)
		m->value_paths = calloc(cap, sizeof(*m->value_paths));
	if (!m->keys || !m->values ||
	    (o->type == SP_OPT_PATH_MAP && !m->key_paths) ||
	    ((o->exprs == SP_EXPRS_ALL || o->exprs == SP_EXPRS_MARKED) &&
	     !m->exprs) ||
	    (o->exprs == SP_EXPRS_PATHS && !m->value_paths)) {
		problem(b, n, line, name, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		const struct sp_node *it = n->items[i];
		char sub[256];

		snprintf(sub, sizeof(sub), "%s.%s", name, n->keys[i]);
		if (it->kind != SP_NODE_SCALAR) {
			problem(b, it, line, sub, "expected a scalar, got %s",
				kind_name(it->kind));
			ok = false;
			continue;
		}
		if (bind_boundmap_entry(b, o, it, line, sub, n->keys[i], m,
					m->n))
			m->n++;
		else
			ok = false;
	}
	return ok && check_count(b, o, n, line, name, m->n);
}

/* A scalar (one path) or a list of scalars into a struct sp_pathlist. */
static bool bind_pathlist(struct bind *b, const struct sp_option *o,
			  const struct sp_node *n, uint32_t line,
			  const char *name, struct sp_pathlist *l)
{
	bool one = n->kind == SP_NODE_SCALAR;
	uint32_t count = one ? 1 : n->n;
	bool ok = true;

	if (n->kind == SP_NODE_MAP) {
		problem(b, n, line, name, "expected a list, got a map");
		return false;
	}
	l->v = calloc(count ? count : 1, sizeof(*l->v));
	if (!l->v) {
		problem(b, n, line, name, "out of memory");
		return false;
	}
	for (uint32_t i = 0; i < count; i++) {
		const struct sp_node *it = one ? n : n->items[i];
		char sub[256];

		snprintf(sub, sizeof(sub), one ? "%s" : "%s[%u]", name, i);
		if (it->kind != SP_NODE_SCALAR) {
			problem(b, it, line, sub, "expected a scalar, got %s",
				kind_name(it->kind));
			ok = false;
			continue;
		}
		if (parse_path(b, it, line, sub, it->text ? it->text : "",
			       &l->v[l->n]))
			l->n++;
		else
			ok = false;
	}
	return ok && check_count(b, o, n, line, name, l->n);
}

/* Binds value n (not null) of option o into dst. */
static bool bind_value(struct bind *b, const struct sp_option *o,
		       const struct sp_node *n, uint32_t line, const char *name,
		       void *dst)
{
	switch (o->type) {
	case SP_OPT_STRING_LIST: {
		struct sp_strlist *l = dst;
		bool ok = true;

		if (n->kind == SP_NODE_MAP) {
			problem(b, n, line, name, "expected a list, got a map");
			return false;
		}
		if (n->kind == SP_NODE_SCALAR) {
			l->v = calloc(1, sizeof(*l->v));
			if (!l->v ||
			    !(l->v[0] = strdup(n->text ? n->text : "")))
				goto nomem;
			l->n = 1;
			return check_count(b, o, n, line, name, 1);
		}
		l->v = calloc(n->n ? n->n : 1, sizeof(*l->v));
		if (!l->v)
			goto nomem;
		for (uint32_t i = 0; i < n->n; i++) {
			const struct sp_node *it = n->items[i];

			if (it->kind != SP_NODE_SCALAR) {
				char sub[256];

				snprintf(sub, sizeof(sub), "%s[%u]", name, i);
				problem(b, it, line, sub,
					"expected a scalar, got %s",
					kind_name(it->kind));
				ok = false;
				continue;
			}
			l->v[l->n] = strdup(it->text ? it->text : "");
			if (!l->v[l->n])
				goto nomem;
			l->n++;
		}
		return ok && check_count(b, o, n, line, name, l->n);
	}
	case SP_OPT_PATH_LIST:
		return bind_pathlist(b, o, n, line, name, dst);
	case SP_OPT_PATH_MAP:
		return bind_boundmap(b, o, n, line, name, dst);
	case SP_OPT_MAP: {
		struct sp_strmap *m = dst;
		bool ok = true;

		if (o->exprs != SP_EXPRS_NONE)
			return bind_boundmap(b, o, n, line, name, dst);
		if (n->kind != SP_NODE_MAP) {
			problem(b, n, line, name, "expected a map, got %s",
				kind_name(n->kind));
			return false;
		}
		m->keys = calloc(n->n ? n->n : 1, sizeof(*m->keys));
		m->values = calloc(n->n ? n->n : 1, sizeof(*m->values));
		if (!m->keys || !m->values)
			goto nomem;
		for (uint32_t i = 0; i < n->n; i++) {
			const struct sp_node *it = n->items[i];

			if (it->kind != SP_NODE_SCALAR) {
				char sub[256];

				snprintf(sub, sizeof(sub), "%s.%s", name,
					 n->keys[i]);
				problem(b, it, line, sub,
					"expected a scalar, got %s",
					kind_name(it->kind));
				ok = false;
				continue;
			}
			m->keys[m->n] = strdup(n->keys[i]);
			m->values[m->n] = strdup(it->text ? it->text : "");
			m->n++;
			if (!m->keys[m->n - 1] || !m->values[m->n - 1])
				goto nomem;
		}
		return ok && check_count(b, o, n, line, name, m->n);
	}
	case SP_OPT_OBJECT_LIST: {
		struct sp_objlist *l = dst;
		size_t sz = o->item_size ? o->item_size : 1;
		bool ok = true;

		if (n->kind != SP_NODE_LIST) {
			problem(b, n, line, name, "expected a list, got %s",
				kind_name(n->kind));
			return false;
		}
		l->items = calloc(n->n ? n->n : 1, sz);
		if (!l->items)
			goto nomem;
		l->n = n->n;
		for (uint32_t i = 0; i < n->n; i++) {
			const struct sp_node *it = n->items[i];
			char sub[256];

			snprintf(sub, sizeof(sub), "%s[%u]", name, i);
			if (it->kind != SP_NODE_MAP) {
				problem(b, it, line, sub,
					"expected a map, got %s",
					kind_name(it->kind));
				ok = false;
				continue;
			}
			if (bind_table(o->items, it, NULL,
				       (char *)l->items + i * sz, sub,
				       it->line ? it->line : line, b))
				ok = false;
		}
		return ok && check_count(b, o, n, line, name, l->n);
	}
	default:
		if (n->kind != SP_NODE_SCALAR) {
			problem(b, n, line, name, "expected %s, got %s",
				o->type == SP_OPT_INT || o->type == SP_OPT_SIZE
				    ? "an integer"
				: o->type == SP_OPT_DOUBLE ? "a number"
				: o->type == SP_OPT_BOOL   ? "a boolean"
				: o->type == SP_OPT_EXPR   ? "an expression"
				: o->type == SP_OPT_CHAR   ? "a character"
							   : "a scalar",
				kind_name(n->kind));
			return false;
		}
		return bind_scalar(b, o, n, line, name, dst);
	}
nomem:
	problem(b, n, line, name, "out of memory");
	return false;
}

static bool in_list(const char *const *list, const char *word)
{
	for (; list && *list; list++)
		if (strcmp(*list, word) == 0)
			return true;
	return false;
}

/* Bind one table; returns the number of problems added. */
static int bind_table(const struct sp_option *table, const struct sp_node *map,
		      const char *const *skip, void *config, const char *prefix,
		      uint32_t line, struct bind *b)
{
	int before = b->problems;
	char name[256];

	/* unknown keys first, in the order they were written */
	for (uint32_t i = 0; map && i < map->n; i++) {
		const char *key = map->keys[i];
		const struct sp_option *o;
		const char *names[256];
		const char *s;
		size_t nn = 0;

		if (in_list(skip, key))
			continue;
		for (o = table; o && o->name; o++)
			if (strcmp(o->name, key) == 0)
				break;
		if (o && o->name)
			continue;
		for (o = table; o && o->name && nn < 200; o++)
			names[nn++] = o->name;
		for (const char *const *k = skip; k && *k && nn < 256; k++)
			names[nn++] = *k;
		s = sp_suggest(key, names, nn);
		snprintf(name, sizeof(name), "%s%s%s", prefix ? prefix : "",
			 prefix ? "." : "", key);
		if (s)
			problem(b, map->items[i], line, NULL,
				"unknown option '%s' (did you mean '%s'?)",
				name, s);
		else
			problem(b, map->items[i], line, NULL,
				"unknown option '%s'", name);
	}

	for (const struct sp_option *o = table; o && o->name; o++) {
		const struct sp_node *n = sp_node_map_get(map, o->name);
		void *dst = (char *)config + o->offset;

		snprintf(name, sizeof(name), "%s%s%s", prefix ? prefix : "",
			 prefix ? "." : "", o->name);
		if (!node_is_null(n)) {
			if (!bind_value(b, o, n, line, name, dst))
				free_value(o, dst);
			continue;
		}
		if (o->required) {
			problem(b, n, line, name, "required option is missing");
			continue;
		}
		if (!o->def)
			continue;
		/* defaults take the same road as written values */
		{
			struct sp_node *dn;
			int before_def = b->problems;

			/* list and map defaults are written as flow YAML */
			if ((o->def[0] == '[' || o->def[0] == '{') &&
			    o->type != SP_OPT_STRING && o->type != SP_OPT_EXPR)
				dn = sp_node_parse_yaml(o->def, NULL, 0);
			else
				dn = sp_node_scalar(o->def);
			if (!dn) {
				problem(b, NULL, line, name,
					"invalid default \"%s\"", o->def);
				continue;
			}
			dn->line = 0;
			if (!bind_value(b, o, dn, line, name, dst))
				free_value(o, dst);
			if (b->problems != before_def)
				sp_diags_add(b->d, line, b->stage, name,
					     "(the default \"%s\" of this "
					     "option is invalid)",
					     o->def);
			sp_node_free(dn);
		}
	}
	return b->problems - before;
}

int sp_options_bind(const struct sp_option *table, const struct sp_node *map,
		    const char *const *skip, void *config, const char *stage,
		    struct sp_symtab *symtab, struct sp_diags *d)
{
	struct bind b = {.stage = stage, .d = d, .symtab = symtab};
	size_t size = 0;

	/* the config struct ends after the option stored last */
	for (const struct sp_option *o = table; o && o->name; o++) {
		size_t end = o->offset;

		switch (o->type) {
		case SP_OPT_INT:
			end += sizeof(int64_t);
			break;
		case SP_OPT_DOUBLE:
			end += sizeof(double);
			break;
		case SP_OPT_BOOL:
			end += sizeof(bool);
			break;
		case SP_OPT_ENUM:
			end += sizeof(int);
			break;
		case SP_OPT_CHAR:
			end += 1;
			break;
		case SP_OPT_SIZE:
			end += sizeof(uint64_t);
			break;
		case SP_OPT_STRING_LIST:
			end += sizeof(struct sp_strlist);
			break;
		case SP_OPT_MAP:
			end += binds_boundmap(o) ? sizeof(struct sp_boundmap)
						 : sizeof(struct sp_strmap);
			break;
		case SP_OPT_PATH_MAP:
			end += sizeof(struct sp_boundmap);
			break;
		case SP_OPT_PATH_LIST:
			end += sizeof(struct sp_pathlist);
			break;
		case SP_OPT_OBJECT_LIST:
			end += sizeof(struct sp_objlist);
			break;
		default:
			end += sizeof(char *);
			break;
		}
		if (end > size)
			size = end;
	}
	if (config)
		memset(config, 0, size);
	if (map && map->kind != SP_NODE_MAP) {
		problem(&b, map, 0, NULL, "options must be a map, got %s",
			kind_name(map->kind));
		return b.problems;
	}
	bind_table(table, map, skip, config, NULL, map ? map->line : 0, &b);
	return b.problems;
}

static void free_value(const struct sp_option *o, void *dst)
{
	if (binds_boundmap(o)) {
		struct sp_boundmap *m = dst;

		for (uint32_t i = 0; i < m->n; i++)
			boundmap_entry_fini(m, i);
		free(m->keys);
		free(m->values);
		free(m->key_paths);
		free(m->exprs);
		free(m->value_paths);
		memset(m, 0, sizeof(*m));
		return;
	}
	switch (o->type) {
	case SP_OPT_STRING:
		free(*(char **)dst);
		*(char **)dst = NULL;
		break;
	case SP_OPT_EXPR:
		sp_expr_destroy(*(struct sp_expr **)dst);
		*(struct sp_expr **)dst = NULL;
		break;
	case SP_OPT_PATH_LIST: {
		struct sp_pathlist *l = dst;

		for (uint32_t i = 0; l->v && i < l->n; i++)
			sp_path_fini(&l->v[i]);
		free(l->v);
		memset(l, 0, sizeof(*l));
		break;
	}
	case SP_OPT_STRING_LIST: {
		struct sp_strlist *l = dst;

		for (uint32_t i = 0; l->v && i < l->n; i++)
			free(l->v[i]);
		free(l->v);
		memset(l, 0, sizeof(*l));
		break;
	}
	case SP_OPT_MAP: {
		struct sp_strmap *m = dst;

		for (uint32_t i = 0; i < m->n; i++) {
			free(m->keys ? m->keys[i] : NULL);
			free(m->values ? m->values[i] : NULL);
		}
		free(m->keys);
		free(m->values);
		memset(m, 0, sizeof(*m));
		break;
	}
	case SP_OPT_OBJECT_LIST: {
		struct sp_objlist *l = dst;
		size_t sz = o->item_size ? o->item_size : 1;

		for (uint32_t i = 0; l->items && i < l->n; i++)
			sp_options_free(o->items, (char *)l->items + i * sz);
		free(l->items);
		memset(l, 0, sizeof(*l));
		break;
	}
	default:
		break;
	}
}

void sp_options_free(const struct sp_option *table, void *config)
{
	if (!config)
		return;
	for (const struct sp_option *o = table; o && o->name; o++)
		free_value(o, (char *)config + o->offset);
}
