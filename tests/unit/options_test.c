/*
 * Option binding: every option type, defaults, bounds, choices, required
 * options, unknown keys with suggestions, object lists, expressions, and
 * the exact messages with their lines; plus configuration trees and help.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "flow/flow.h"
#include "config/options.h"
#include "record/symtab.h"
#include "support/diags.h"
#include "config/yaml.h"

struct field_cfg {
	char *name;
	int type; /* index in field_types */
	int64_t min;
};

static const char *const field_types[] = { "int", "string", "double",
					   NULL };
static const struct sp_option field_opts[] = {
	{ .name = "name", .type = SP_OPT_STRING, .required = true,
	  .offset = offsetof(struct field_cfg, name) },
	{ .name = "type", .type = SP_OPT_ENUM, .def = "string",
	  .choices = field_types, .offset = offsetof(struct field_cfg, type) },
	{ .name = "min", .type = SP_OPT_INT, .def = "0",
	  .offset = offsetof(struct field_cfg, min) },
	{ 0 },
};

struct cfg {
	char *path;
	int64_t level;
	double ratio;
	bool header;
	int format; /* index in fmts */
	char delimiter;
	uint64_t max_bytes;
	struct sp_strlist fields;
	struct sp_strmap rename;
	struct sp_objlist schema;
	struct sp_expr *condition;
	struct sp_strlist on;
};

static const char *const fmts[] = { "jsonl", "csv", NULL };
static const struct sp_option opts[] = {
	{ .name = "path", .type = SP_OPT_STRING, .required = true,
	  .offset = offsetof(struct cfg, path), .help = "input files" },
	{ .name = "level", .type = SP_OPT_INT, .def = "3", .bounded = true,
	  .min = 1, .max = 22, .offset = offsetof(struct cfg, level),
	  .help = "zstd level" },
	{ .name = "ratio", .type = SP_OPT_DOUBLE, .def = "0.5",
	  .bounded = true, .min = 0, .max = 1,
	  .offset = offsetof(struct cfg, ratio) },
	{ .name = "header", .type = SP_OPT_BOOL, .def = "yes",
	  .offset = offsetof(struct cfg, header) },
	{ .name = "format", .type = SP_OPT_ENUM, .def = "jsonl",
	  .choices = fmts, .offset = offsetof(struct cfg, format) },
	{ .name = "delimiter", .type = SP_OPT_CHAR, .def = ",",
	  .offset = offsetof(struct cfg, delimiter) },
	{ .name = "max_bytes", .type = SP_OPT_SIZE, .def = "64M",
	  .offset = offsetof(struct cfg, max_bytes) },
	{ .name = "fields", .type = SP_OPT_STRING_LIST, .bounded = true,
	  .min = 0, .max = 3, .offset = offsetof(struct cfg, fields) },
	{ .name = "rename", .type = SP_OPT_MAP,
	  .offset = offsetof(struct cfg, rename) },
	{ .name = "schema", .type = SP_OPT_OBJECT_LIST, .items = field_opts,
	  .item_size = sizeof(struct field_cfg),
	  .offset = offsetof(struct cfg, schema) },
	{ .name = "condition", .type = SP_OPT_EXPR,
	  .offset = offsetof(struct cfg, condition) },
	{ .name = "on", .type = SP_OPT_STRING_LIST, .def = "[a, b]",
	  .offset = offsetof(struct cfg, on) },
	{ 0 },
};

static const char *const skip[] = { "id", "type", "inputs", NULL };

/* Binds yaml (a map) and checks the messages; returns the problem count. */
static int bind(const char *yaml, struct cfg *c, const char *want)
{
	struct sp_symtab *st;
	struct sp_node *m;
	struct sp_diags d;
	char err[256];
	char *got;
	int n;

	m = sp_node_parse_yaml(yaml, err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	sp_diags_init(&d, "f.yaml");
	/* compiled options keep no pointer to the table */
	st = sp_symtab_create();
	cr_assert_not_null(st);
	n = sp_options_bind(opts, m, skip, c, "s", st, &d);
	sp_symtab_destroy(st);
	cr_assert_eq((uint32_t)n, d.n);
	got = diags_text(&d);
	cr_assert_str_eq(got, want, "%s--- got\n%s--- want\n%s", yaml, got,
			 want);
	free(got);
	sp_diags_fini(&d);
	sp_node_free(m);
	return n;
}

/* bind that must find exactly the n problems of want; frees what it
 * bound. */
static void expect_problems(const char *yaml, const char *want, int n)
{
	struct cfg c;

	cr_assert_eq(bind(yaml, &c, want), n, "%s", yaml);
	sp_options_free(opts, &c);
}

Test(options, every_type_with_defaults)
{
	struct cfg c;

	memset(&c, 0x5a, sizeof(c)); /* bind zeroes it first */
	cr_assert_eq(bind("path: /data\n", &c, ""), 0);
	cr_assert_str_eq(c.path, "/data");
	cr_assert_eq(c.level, 3);
	cr_assert_float_eq(c.ratio, 0.5, 1e-12);
	cr_assert(c.header);
	cr_assert_eq(c.format, 0); /* jsonl */
	cr_assert_eq(c.delimiter, ',');
	cr_assert_eq(c.max_bytes, 64u << 20);
	cr_assert_eq(c.fields.n, 0);
	cr_assert_null(c.fields.v);
	cr_assert_eq(c.rename.n, 0);
	cr_assert_eq(c.schema.n, 0);
	cr_assert_null(c.condition);
	cr_assert_eq(c.on.n, 2);
	cr_assert_str_eq(c.on.v[0], "a");
	cr_assert_str_eq(c.on.v[1], "b");
	sp_options_free(opts, &c);
	cr_assert_null(c.path);
	cr_assert_null(c.on.v);
}

Test(options, every_type_given)
{
	struct cfg c;
	const struct field_cfg *f;

	expect_problems("id: x\n"
			"type: y\n"
			"path: \"123\"\n"
			"level: -0\n"
			"ratio: 1e-1\n"
			"header: off\n"
			"format: csv\n"
			"delimiter: tab\n"
			"max_bytes: 2KiB\n"
			"fields: /a\n"
			"rename: {/a: /b, /c: /d}\n"
			"schema:\n"
			"  - {name: a, type: int, min: 5}\n"
			"  - {name: b}\n"
			"condition: '${record:value(\"/a\") > 1}'\n"
			"on: [x]\n",
			"f.yaml:4: stage 's': option 'level': -0 is out of "
			"range (1..22)\n", 1);
	cr_assert_eq(bind("path: p\n"
			  "level: 22\n"
			  "ratio: 1\n"
			  "header: TRUE\n"
			  "format: csv\n"
			  "delimiter: \"\\t\"\n"
			  "max_bytes: 3 G\n"
			  "fields: [/a, /b]\n"
			  "rename: {/a: /b, /c: /d}\n"
			  "schema:\n"
			  "  - {name: a, type: int, min: 5}\n"
			  "  - {name: b}\n"
			  "condition: '${record:value(\"/a\") > 1}'\n"
			  "on: [x]\n",
			  &c, ""),
		     0);
	cr_assert_eq(c.level, 22);
	cr_assert_float_eq(c.ratio, 1.0, 1e-12);
	cr_assert(c.header);
	cr_assert_eq(c.format, 1); /* csv */
	cr_assert_eq(c.delimiter, '\t');
	cr_assert_eq(c.max_bytes, 3ull << 30);
	cr_assert_eq(c.fields.n, 2);
	cr_assert_str_eq(c.fields.v[1], "/b");
	cr_assert_eq(c.rename.n, 2);
	cr_assert_str_eq(c.rename.keys[1], "/c");
	cr_assert_str_eq(c.rename.values[1], "/d");
	cr_assert_eq(c.schema.n, 2);
	f = c.schema.items;
	cr_assert_str_eq(f[0].name, "a");
	cr_assert_eq(f[0].type, 0); /* int */
	cr_assert_eq(f[0].min, 5);
	cr_assert_str_eq(f[1].name, "b");
	cr_assert_eq(f[1].type, 1); /* string, the default */
	cr_assert_eq(f[1].min, 0);
	cr_assert_str_eq(sp_expr_text(c.condition),
			 "${record:value(\"/a\") > 1}");
	cr_assert_eq(c.on.n, 1);
	sp_options_free(opts, &c);
}

Test(options, scalar_conversions)
{
	static const struct {
		const char *yaml, *want;
	} bad[] = {
		{ "path: p\nlevel: 1_000\n",
		  "f.yaml:2: stage 's': option 'level': \"1_000\" is not an "
		  "integer\n" },
		{ "path: p\nlevel: 99999999999999999999\n",
		  "f.yaml:2: stage 's': option 'level': "
		  "\"99999999999999999999\" is too large\n" },
		{ "path: p\nratio: 0.5x\n",
		  "f.yaml:2: stage 's': option 'ratio': \"0.5x\" is not a "
		  "number\n" },
		{ "path: p\nratio: 1.5\n",
		  "f.yaml:2: stage 's': option 'ratio': 1.5 is out of range "
		  "(0..1)\n" },
		{ "path: p\nheader: maybe\n",
		  "f.yaml:2: stage 's': option 'header': \"maybe\" is not a "
		  "boolean (true or false)\n" },
		{ "path: p\ndelimiter: ab\n",
		  "f.yaml:2: stage 's': option 'delimiter': \"ab\" is not a "
		  "single character (or \\t, tab)\n" },
		{ "path: p\nmax_bytes: 12X\n",
		  "f.yaml:2: stage 's': option 'max_bytes': \"12X\" is not a "
		  "size (bytes, or with K, M, G, T)\n" },
		{ "path: p\nmax_bytes: 99999999999T\n",
		  "f.yaml:2: stage 's': option 'max_bytes': "
		  "\"99999999999T\" is too large\n" },
	};
	struct cfg c;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		expect_problems(bad[i].yaml, bad[i].want, 1);
	cr_assert_eq(bind("path: p\ndelimiter: '\\t'\nmax_bytes: 1k\n", &c,
			  ""), 0);
	cr_assert_eq(c.delimiter, '\t');
	cr_assert_eq(c.max_bytes, 1024);
	sp_options_free(opts, &c);
}

Test(options, choices_unknown_required)
{
	struct cfg c;

	expect_problems("format: jsn\nlvel: x\ninputs: [a]\nzzzz: 1\n",
			"f.yaml:2: stage 's': unknown option 'lvel' (did "
			"you mean 'level'?)\n"
			"f.yaml:4: stage 's': unknown option 'zzzz'\n"
			"f.yaml:1: stage 's': option 'path': required "
			"option is missing\n"
			"f.yaml:1: stage 's': option 'format': \"jsn\" is not "
			"one of jsonl, csv (did you mean jsonl?)\n", 4);
	/* null counts as not given */
	cr_assert_eq(bind("path:\nformat: ~\n", &c,
			  "f.yaml:1: stage 's': option 'path': required "
			  "option is missing\n"), 1);
	cr_assert_eq(c.format, 0);
	sp_options_free(opts, &c);
	/* a quoted empty string is a value */
	cr_assert_eq(bind("path: ''\nformat: xml\n", &c,
			  "f.yaml:2: stage 's': option 'format': \"xml\" is not "
			  "one of jsonl, csv\n"), 1);
	cr_assert_str_eq(c.path, "");
	sp_options_free(opts, &c);
}

Test(options, suggestion_knows_the_stage_keys)
{
	/* the skip list (id, type, inputs) is offered as well */
	expect_problems("path: p\ninptus: [a]\n",
			"f.yaml:2: stage 's': unknown option 'inptus' (did "
			"you mean 'inputs'?)\n", 1);
}

Test(options, wrong_node_kinds)
{
	expect_problems("path: [a]\n"
			"fields: {a: b}\n"
			"rename: [a]\n"
			"schema: x\n"
			"level: {a: 1}\n"
			"on: [[a]]\n",
			"f.yaml:1: stage 's': option 'path': expected a "
			"scalar, got a list\n"
			"f.yaml:5: stage 's': option 'level': expected an "
			"integer, got a map\n"
			"f.yaml:2: stage 's': option 'fields': expected a "
			"list, got a map\n"
			"f.yaml:3: stage 's': option 'rename': expected a "
			"map, got a list\n"
			"f.yaml:4: stage 's': option 'schema': expected a "
			"list, got a scalar\n"
			"f.yaml:6: stage 's': option 'on[0]': expected a "
			"scalar, got a list\n", 6);
	expect_problems("path: p\nrename: {a: [b]}\nfields: [a, b, c, d]\n",
			"f.yaml:3: stage 's': option 'fields': 4 items, "
			"expected 0..3\n"
			"f.yaml:2: stage 's': option 'rename.a': expected a "
			"scalar, got a list\n", 2);
}

Test(options, object_list_names_the_item)
{
	struct cfg c;

	cr_assert_eq(bind("path: p\n"
			  "schema:\n"
			  "  - {name: a}\n"
			  "  - {name: b, type: int}\n"
			  "  - name: c\n"
			  "    type: text\n"
			  "    mni: 3\n"
			  "  - {type: int}\n"
			  "  - just\n",
			  &c,
			  "f.yaml:7: stage 's': unknown option 'schema[2].mni' "
			  "(did you mean 'min'?)\n"
			  "f.yaml:6: stage 's': option 'schema[2].type': "
			  "\"text\" is not one of int, string, double\n"
			  "f.yaml:8: stage 's': option 'schema[3].name': "
			  "required option is missing\n"
			  "f.yaml:9: stage 's': option 'schema[4]': expected a "
			  "map, got a scalar\n"),
		     4);
	cr_assert_eq(c.schema.n, 0); /* freed on failure */
	sp_options_free(opts, &c);
}

Test(options, expressions_compile)
{
	struct sp_symtab *st = sp_symtab_create();
	struct sp_expr_error err;
	struct sp_expr *e;
	static const char bad[] = "${record:value(\"/a\") >}";
	char want[512], yaml[256];
	struct cfg c;

	memset(&err, 0, sizeof(err));
	e = sp_expr_compile(bad, st, &err);
	cr_assert_null(e);
	cr_assert_gt(err.column, 0);
	snprintf(want, sizeof(want),
		 "f.yaml:2: stage 's': option 'condition': expression error "
		 "at column %u: %s\n", err.column, err.message);
	snprintf(yaml, sizeof(yaml), "path: p\ncondition: '%s'\n", bad);
	cr_assert_eq(bind(yaml, &c, want), 1);
	cr_assert_null(c.condition);
	sp_options_free(opts, &c);
	sp_symtab_destroy(st);
}

struct compiled_cfg {
	struct sp_pathlist drop;
	struct sp_boundmap set;
	struct sp_boundmap lanes;
	struct sp_boundmap rename;
};

static const struct sp_option compiled_opts[] = {
	{ .name = "drop", .type = SP_OPT_PATH_LIST,
	  .offset = offsetof(struct compiled_cfg, drop) },
	{ .name = "set", .type = SP_OPT_PATH_MAP, .exprs = SP_EXPRS_MARKED,
	  .offset = offsetof(struct compiled_cfg, set) },
	{ .name = "lanes", .type = SP_OPT_MAP, .exprs = SP_EXPRS_ALL,
	  .offset = offsetof(struct compiled_cfg, lanes) },
	{ .name = "rename", .type = SP_OPT_PATH_MAP, .exprs = SP_EXPRS_PATHS,
	  .offset = offsetof(struct compiled_cfg, rename) },
	{ 0 },
};

/* Paths and expressions are compiled once, against the caller's table:
 * their symbols are that table's. */
Test(options, paths_and_expressions_bind_compiled)
{
	struct sp_symtab *st = sp_symtab_create();
	struct compiled_cfg c;
	struct sp_diags d;
	struct sp_node *m;
	char err[256];

	sp_symtab_intern(st, "first", 5); /* symbols do not start at 1 */
	m = sp_node_parse_yaml(
	    "drop: [/a, /b/c]\n"
	    "set: {/t: '${record:value(\"/x\") * 2}', /u: web}\n"
	    "lanes: {hi: '${record:value(\"/y\") > 1}'}\n"
	    "rename: {/a: /z}\n",
	    err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	sp_diags_init(&d, "f.yaml");
	cr_assert_eq(sp_options_bind(compiled_opts, m, NULL, &c, "s", st, &d),
		     0);
	cr_assert_eq(c.drop.n, 2);
	cr_assert_str_eq(c.drop.v[0].text, "/a");
	cr_assert_eq(c.drop.v[0].sym, sp_symtab_find(st, "a", 1));
	cr_assert_eq(c.drop.v[1].sym, sp_symtab_find(st, "b", 1));
	cr_assert_eq(c.drop.v[1].depth, 1);
	cr_assert_eq(c.set.n, 2);
	cr_assert_eq(c.set.key_paths[0].sym, sp_symtab_find(st, "t", 1));
	cr_assert_not_null(c.set.exprs[0]);
	cr_assert_null(c.set.exprs[1]); /* literal text */
	cr_assert_str_eq(c.set.values[1], "web");
	cr_assert_null(c.set.value_paths);
	cr_assert_neq(sp_symtab_find(st, "x", 1), SP_SYM_NONE);
	cr_assert_eq(c.lanes.n, 1);
	cr_assert_str_eq(c.lanes.keys[0], "hi");
	cr_assert_null(c.lanes.key_paths);
	cr_assert_str_eq(sp_expr_text(c.lanes.exprs[0]),
			 "${record:value(\"/y\") > 1}");
	cr_assert_eq(c.rename.key_paths[0].sym, c.drop.v[0].sym);
	cr_assert_eq(c.rename.value_paths[0].sym, sp_symtab_find(st, "z", 1));
	cr_assert_null(c.rename.exprs);
	sp_options_free(compiled_opts, &c);
	cr_assert_eq(c.drop.n, 0);
	cr_assert_null(c.set.key_paths);
	sp_node_free(m);
	sp_diags_fini(&d);
	sp_symtab_destroy(st);
}

/* A bad path, key or value, is one problem in the binder's words, and
 * the good entries around it are freed with the rest. */
Test(options, bad_paths_are_reported_by_the_binder)
{
	struct sp_symtab *st = sp_symtab_create();
	struct compiled_cfg c;
	struct sp_diags d;
	struct sp_node *m;
	char err[256], *got;

	m = sp_node_parse_yaml("drop: [/a, b]\n"
			       "set: {x: '${1}', /ok: '${2}'}\n"
			       "rename: {/a: /b//c}\n"
			       "lanes: {hi: '${1 +}'}\n",
			       err, sizeof(err));
	cr_assert_not_null(m, "%s", err);
	sp_diags_init(&d, "f.yaml");
	cr_assert_eq(sp_options_bind(compiled_opts, m, NULL, &c, "s", st, &d),
		     4);
	got = diags_text(&d);
	cr_assert(strstr(got, "f.yaml:1: stage 's': option 'drop[1]': 'b' is "
			      "not a field path: a field path starts with "
			      "'/' (e.g. /user or /a/b)\n"),
		  "%s", got);
	cr_assert(strstr(got, "f.yaml:2: stage 's': option 'set.x': 'x' is "
			      "not a field path: "),
		  "%s", got);
	cr_assert(strstr(got, "f.yaml:3: stage 's': option 'rename./a': "
			      "'/b//c' is not a field path: a field path has "
			      "an empty component"),
		  "%s", got);
	cr_assert(strstr(got, "f.yaml:4: stage 's': option 'lanes.hi': "
			      "expression error at column "),
		  "%s", got);
	free(got);
	sp_options_free(compiled_opts, &c);
	sp_node_free(m);
	sp_diags_fini(&d);
	sp_symtab_destroy(st);
}

Test(options, bad_default_is_reported)
{
	static const struct sp_option t[] = {
		{ .name = "n", .type = SP_OPT_INT, .def = "ten",
		  .offset = 0 },
		{ 0 },
	};
	struct sp_diags d;
	int64_t v = 7;
	char *got;

	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_options_bind(t, NULL, NULL, &v, "s", NULL, &d), 1);
	got = diags_text(&d);
	cr_assert_str_eq(got,
			 "stage 's': option 'n': \"ten\" is not an integer\n"
			 "stage 's': option 'n': (the default \"ten\" of this "
			 "option is invalid)\n");
	cr_assert_eq(v, 0);
	free(got);
	sp_diags_fini(&d);
}

Test(options, help_lists_every_option)
{
	struct sp_buf b;

	sp_buf_init(&b);
	sp_options_help(opts, &b);
	sp_buf_putc(&b, '\0');
	cr_assert_str_eq(
		b.data,
		"  path: string, required\n"
		"      input files\n"
		"  level: int, range 1..22, default: 3\n"
		"      zstd level\n"
		"  ratio: double, range 0..1, default: 0.5\n"
		"  header: bool, default: yes\n"
		"  format: enum, one of: jsonl, csv, default: jsonl\n"
		"  delimiter: char, default: ,\n"
		"  max_bytes: size, default: 64M\n"
		"  fields: string list, items 0..3\n"
		"  rename: map\n"
		"  schema: object list\n"
		"      each item:\n"
		"        name: string, required\n"
		"        type: enum, one of: int, string, double, default: "
		"string\n"
		"        min: int, default: 0\n"
		"  condition: expression\n"
		"  on: string list, default: [a, b]\n");
	sp_buf_fini(&b);
}

Test(options, suggest_and_type_names)
{
	static const char *const names[] = { "dir", "format", "filter" };

	cr_assert_str_eq(sp_options_suggest(opts, "pth"), "path");
	cr_assert_str_eq(sp_options_suggest(opts, "levle"), "level");
	cr_assert_null(sp_options_suggest(opts, "x"));
	cr_assert_null(sp_options_suggest(opts, "zzzzzz"));
	cr_assert_str_eq(sp_suggest("fitler", names, 3), "filter");
	cr_assert_str_eq(sp_suggest("dri", names, 3), "dir");
	cr_assert_null(sp_suggest("dir", names, 3)); /* equal: no advice */
	cr_assert_str_eq(sp_opt_type_name(SP_OPT_SIZE), "size");
	cr_assert_str_eq(sp_opt_type_name(SP_OPT_OBJECT_LIST), "object list");
}

Test(options, parse_int_is_strict)
{
	int64_t v;

	cr_assert_eq(sp_parse_int("12", &v), 0);
	cr_assert_eq(v, 12);
	cr_assert_eq(sp_parse_int("-3", &v), 0);
	cr_assert_eq(v, -3);
	cr_assert_eq(sp_parse_int("+7", &v), 0);
	cr_assert_eq(v, 7);
	cr_assert_eq(sp_parse_int("-9223372036854775808", &v), 0);
	cr_assert_eq(v, INT64_MIN);
	cr_assert_eq(sp_parse_int("9223372036854775808", &v), -ERANGE);
	cr_assert_eq(sp_parse_int("1_000", &v), -EINVAL);
	cr_assert_eq(sp_parse_int(" 1", &v), -EINVAL);
	cr_assert_eq(sp_parse_int("0x10", &v), -EINVAL);
	cr_assert_eq(sp_parse_int("", &v), -EINVAL);
	cr_assert_eq(sp_parse_int("-", &v), -EINVAL);
}

Test(options, node_trees)
{
	struct sp_node *m = sp_node_map(), *c;

	cr_assert_eq(sp_node_map_set(m, "a", sp_node_scalar("1")), 0);
	cr_assert_eq(sp_node_map_set(m, "b", sp_node_list()), 0);
	cr_assert_eq(sp_node_list_add(sp_node_map_get(m, "b"),
				      sp_node_scalar("x")), 0);
	cr_assert_eq(sp_node_map_set(m, "c", sp_node_scalar("3")), 0);
	/* replacing keeps the position */
	cr_assert_eq(sp_node_map_set(m, "a", sp_node_scalar("one")), 0);
	cr_assert_str_eq(m->keys[0], "a");
	cr_assert_str_eq(m->items[0]->text, "one");
	{
		struct sp_node *l = sp_node_list();

		/* not a list: refused, the item stays the caller's */
		cr_assert_eq(sp_node_list_add(m, l), -EINVAL);
		sp_node_free(l);
	}
	c = sp_node_clone(m);
	cr_assert(sp_node_map_remove(m, "a"));
	cr_assert_not(sp_node_map_remove(m, "a"));
	cr_assert_eq(m->n, 2);
	cr_assert_str_eq(m->keys[0], "b");
	cr_assert_eq(c->n, 3);
	cr_assert_str_eq(sp_node_map_get(c, "a")->text, "one");
	cr_assert_str_eq(sp_node_map_get(c, "b")->items[0]->text, "x");
	cr_assert_null(sp_node_map_get(c, "zz"));
	sp_node_free(m);
	sp_node_free(c);
	sp_node_free(NULL);
}

Test(options, diag_format_variants)
{
	struct sp_diags d;
	char *got;

	sp_diags_init(&d, "f.yaml");
	sp_diags_add(&d, 3, "st", "op", "bad %d", 1);
	sp_diags_add(&d, 0, NULL, NULL, "plain");
	got = diags_text(&d);
	cr_assert_str_eq(got, "f.yaml:3: stage 'st': option 'op': bad 1\n"
			      "f.yaml: plain\n");
	free(got);
	sp_diags_fini(&d);
	sp_diags_init(&d, NULL);
	sp_diags_add(&d, 4, NULL, "op", "x");
	got = diags_text(&d);
	cr_assert_str_eq(got, "line 4: option 'op': x\n");
	free(got);
	sp_diags_fini(&d);
}
