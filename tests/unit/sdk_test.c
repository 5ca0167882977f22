/*
 * The SDK's graph-editing half: build the DESIGN expenses flow through the
 * API and get the same YAML as the flow file, connect/disconnect chains,
 * listing connections, removal, configuration get/set, predicates,
 * validation messages and save -> load -> save identity.  Stage types are
 * stand-ins defined here and handed to the SDK with sp_sdk_set_lookup.
 * The running half (suite sdk_run, at the end) uses the real stages.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "spate/spate.h"
#include "stages/registry.h"
#include "support/expenses.h"

struct one_str {
	char *s;
};
struct two {
	struct sp_strmap map;
	int mode;
};

static const char *const fmts[] = { "jsonl", "csv", NULL };
static const char *const modes[] = { "all", "first_match", NULL };

static const struct sp_option reader_opts[] = {
	{ .name = "path", .type = SP_OPT_STRING, .required = true },
	{ .name = "format", .type = SP_OPT_ENUM, .def = "jsonl",
	  .choices = fmts, .offset = sizeof(char *) },
	{ 0 },
};
static const struct sp_option remover_opts[] = {
	{ .name = "fields", .type = SP_OPT_STRING_LIST, .required = true },
	{ 0 },
};
static const struct sp_option renamer_opts[] = {
	{ .name = "fields", .type = SP_OPT_MAP, .required = true },
	{ 0 },
};
static const struct sp_option selector_opts[] = {
	{ .name = "lanes", .type = SP_OPT_MAP, .required = true,
	  .offset = offsetof(struct two, map) },
	{ .name = "mode", .type = SP_OPT_ENUM, .def = "all", .choices = modes,
	  .offset = offsetof(struct two, mode) },
	{ 0 },
};
static const struct sp_option writer_opts[] = {
	{ .name = "dir", .type = SP_OPT_STRING, .required = true },
	{ 0 },
};

static uint32_t selector_lanes(const void *config, const char **lanes,
			       uint32_t max)
{
	const struct two *c = config;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->map.n && n + 1 < max; i++)
		lanes[n++] = c->map.keys[i];
	lanes[n++] = "default";
	return n;
}

static const struct sp_stage_desc descs[] = {
	{ .abi = SP_STAGE_ABI, .name = "file_reader", .kind = SP_ORIGIN,
	  .options = reader_opts, .config_size = 2 * sizeof(char *) },
	{ .abi = SP_STAGE_ABI, .name = "dev_data_generator",
	  .kind = SP_ORIGIN },
	{ .abi = SP_STAGE_ABI, .name = "field_remover", .kind = SP_PROCESSOR,
	  .options = remover_opts, .config_size = sizeof(struct sp_strlist) },
	{ .abi = SP_STAGE_ABI, .name = "field_renamer", .kind = SP_PROCESSOR,
	  .options = renamer_opts, .config_size = sizeof(struct sp_strmap) },
	{ .abi = SP_STAGE_ABI, .name = "stream_selector", .kind = SP_PROCESSOR,
	  .options = selector_opts, .config_size = sizeof(struct two),
	  .lanes = selector_lanes },
	{ .abi = SP_STAGE_ABI, .name = "file_writer", .kind = SP_DESTINATION,
	  .options = writer_opts, .config_size = sizeof(struct one_str) },
	{ .abi = SP_STAGE_ABI, .name = "trash", .kind = SP_DESTINATION },
	{ .abi = SP_STAGE_ABI, .name = "pipeline_finisher",
	  .kind = SP_EXECUTOR },
};

static const struct sp_stage_desc *lookup(const char *type, bool origin)
{
	(void)origin;
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (strcmp(descs[i].name, type) == 0)
			return &descs[i];
	return NULL;
}

static void setup(void)
{
	sp_sdk_set_lookup(lookup);
}

static void teardown(void)
{
	sp_sdk_set_lookup(NULL);
}

TestSuite(sdk, .init = setup, .fini = teardown);


/* The selector of the expenses flow (high, low, default) and its four
 * writers, errors being the flow's error stage; added in this order. */
struct split_stages {
	struct spate_stage *split, *hi, *lo, *rest, *errors;
};

static void add_split(struct spate_flow *flow, struct split_stages *x)
{
	x->split = spate_flow_add_stage(flow, "stream_selector", "split");
	x->hi = spate_flow_add_stage(flow, "file_writer", "out_high");
	x->lo = spate_flow_add_stage(flow, "file_writer", "out_low");
	x->rest = spate_flow_add_stage(flow, "file_writer", "out_rest");
	x->errors = spate_flow_add_stage(flow, "file_writer", "errors");
	cr_assert(x->split && x->hi && x->lo && x->rest && x->errors);
	cr_assert_eq(spate_stage_add_predicate(
			     x->split, "high",
			     "${record:value(\"/expense\") >= 10000}"), 0);
	cr_assert_eq(spate_stage_add_predicate(
			     x->split, "low",
			     "${record:value(\"/expense\") < -10000}"), 0);
	cr_assert_eq(spate_flow_set_error_stage(flow, x->errors), 0);
}

static struct spate_flow *build_expenses(void)
{
	struct spate_flow *flow = spate_flow_create("expenses");
	struct spate_stage *src, *drop, *rename, *done;
	struct split_stages x;

	cr_assert_not_null(flow);
	src = spate_flow_add_stage(flow, "file_reader", "src");
	drop = spate_flow_add_stage(flow, "field_remover", "drop");
	rename = spate_flow_add_stage(flow, "field_renamer", "rename");
	add_split(flow, &x);
	struct spate_stage *split = x.split, *hi = x.hi, *lo = x.lo,
			   *rest = x.rest, *errors = x.errors;
	done = spate_flow_add_stage(flow, "pipeline_finisher", "done");
	cr_assert(src && drop && rename && done);
	cr_assert_eq(spate_flow_set_workers(flow, 2), 0);
	cr_assert_eq(spate_stage_set_config(src, "path", "data/*.jsonl"), 0);
	cr_assert_eq(spate_stage_set_config(src, "format", "jsonl"), 0);
	cr_assert_eq(spate_stage_set_config(drop, "fields", "[/tags]"), 0);
	cr_assert_eq(spate_stage_set_config(rename, "fields",
					    "{/user: /user_name}"), 0);
	cr_assert_eq(spate_stage_set_config(hi, "dir", "out/high"), 0);
	cr_assert_eq(spate_stage_set_config(lo, "dir", "out/low"), 0);
	cr_assert_eq(spate_stage_set_config(rest, "dir", "out/rest"), 0);
	cr_assert_eq(spate_stage_set_config(errors, "dir", "out/errors"), 0);
	/* chains return the other stage */
	cr_assert_eq(spate_stage_connect_output(
			     spate_stage_connect_output(
				     spate_stage_connect_output(src, drop),
				     rename),
			     split),
		     split);
	cr_assert_eq(spate_stage_connect_lane(split, "high", hi), hi);
	cr_assert_eq(spate_stage_connect_input_lane(lo, split, "low"), split);
	cr_assert_eq(spate_stage_connect_lane(split, "default", rest), rest);
	cr_assert_eq(spate_stage_connect_event(src, done), done);
	return flow;
}

static char *to_yaml(const struct spate_flow *flow)
{
	int n = spate_flow_to_yaml(flow, NULL, 0);
	char *buf;

	cr_assert_gt(n, 0);
	buf = malloc((size_t)n + 1);
	cr_assert_eq(spate_flow_to_yaml(flow, buf, (size_t)n + 1), n);
	return buf;
}

Test(sdk, builds_the_expenses_flow)
{
	struct spate_flow *flow = build_expenses(), *again;
	char err[1024], *a, *b;

	cr_assert_eq(spate_flow_validate(flow, err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_str_eq(err, "");
	a = to_yaml(flow);
	cr_assert_str_eq(a, expenses_saved_yaml);
	cr_assert_eq(spate_flow_load_string(a, &again, err, sizeof(err)), 0,
		     "%s", err);
	b = to_yaml(again);
	cr_assert_str_eq(a, b);
	cr_assert_eq(spate_flow_validate(again, err, sizeof(err)), 0, "%s",
		     err);
	free(a);
	free(b);
	spate_flow_destroy(again);
	spate_flow_destroy(flow);
}

Test(sdk, save_and_load_a_file)
{
	struct spate_flow *flow = build_expenses(), *again = NULL;
	char dir[] = "/tmp/spate_sdk_testXXXXXX", path[256], err[512];
	char *a, *b;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/expenses.yaml", dir);
	cr_assert_eq(spate_flow_save(flow, path), 0);
	cr_assert_eq(spate_flow_load(path, &again, err, sizeof(err)), 0, "%s",
		     err);
	a = to_yaml(flow);
	b = to_yaml(again);
	cr_assert_str_eq(a, b);
	cr_assert_eq(sp_sdk_flow(again)->nstages, 9);
	cr_assert_str_eq(sp_sdk_flow(again)->dir, dir);
	free(a);
	free(b);
	spate_flow_destroy(again);
	unlink(path);
	rmdir(dir);

	cr_assert_eq(spate_flow_load("/nonexistent/x.yaml", &again, err,
				     sizeof(err)), -ENOENT);
	cr_assert_null(again);
	cr_assert_str_eq(err, "/nonexistent/x.yaml: cannot open: No such "
			      "file or directory");
	cr_assert_eq(spate_flow_save(flow, "/nonexistent/x.yaml"), -ENOENT);
	spate_flow_destroy(flow);
}

Test(sdk, load_rejects_structural_problems)
{
	struct spate_flow *flow = (void *)1;
	char err[512];

	cr_assert_eq(spate_flow_load_string("name: x\nstges: []\n", &flow,
					    err, sizeof(err)), -EINVAL);
	cr_assert_null(flow);
	cr_assert_str_eq(err, "flow:2: unknown key 'stges' (did you mean "
			      "'stages'?)");
	cr_assert_eq(spate_flow_load_string("name: [x\n", &flow, err,
					    sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "flow:2: YAML syntax: while parsing a flow "
			      "sequence, did not find expected ',' or ']'");
	/* truncation keeps the buffer terminated */
	cr_assert_eq(spate_flow_load_string("name: x\nstges: []\n", &flow,
					    err, 8), -EINVAL);
	cr_assert_str_eq(err, "flow:2:");
}

Test(sdk, add_stage_ids_and_listing)
{
	struct spate_flow *flow = spate_flow_create("f");
	struct spate_stage *a, *b, *c, *list[8];

	a = spate_flow_add_stage(flow, "trash", NULL);
	b = spate_flow_add_stage(flow, "trash", NULL);
	c = spate_flow_add_stage(flow, "my-plugin.x", NULL);
	cr_assert_str_eq(spate_stage_id(a), "trash_01");
	cr_assert_str_eq(spate_stage_id(b), "trash_02");
	cr_assert_str_eq(spate_stage_id(c), "my_plugin_x_01");
	cr_assert_str_eq(spate_stage_type(c), "my-plugin.x");
	errno = 0;
	cr_assert_null(spate_flow_add_stage(flow, "trash", "trash_01"));
	cr_assert_eq(errno, EEXIST);
	cr_assert_null(spate_flow_add_stage(flow, "", "x"));
	cr_assert_eq(errno, EINVAL);
	cr_assert_eq(spate_flow_stages(flow, list, 8), 3);
	cr_assert_eq(list[0], a);
	cr_assert_eq(list[2], c);
	cr_assert_eq(spate_flow_stages(flow, list, 1), 3);
	cr_assert_eq(spate_flow_find_stage(flow, "trash_02"), b);
	cr_assert_null(spate_flow_find_stage(flow, "nope"));
	cr_assert_str_eq(spate_flow_name(flow), "f");
	cr_assert_eq(spate_flow_set_workers(flow, 2000), -EINVAL);
	spate_flow_destroy(flow);
}

/* the option of type's kind called name: index, or -1 */
static int kind_option(const char *type, const char *kind, const char *name)
{
	struct spate_stage_type_info ti;
	struct spate_option_info oi;

	cr_assert_eq(spate_stage_kind_info(type, kind, &ti), 0, "%s %s", type,
		     kind);
	for (uint32_t i = 0; i < ti.noptions; i++) {
		cr_assert_eq(spate_stage_kind_option(type, kind, i, &oi), 0);
		if (!strcmp(oi.name, name))
			return (int)i;
	}
	return -1;
}

/* what `spate stages` lists (the registry): every kind, postgres twice */
Test(sdk, stage_kinds_list_every_kind)
{
	const struct sp_stage_desc *reg[128];
	struct spate_stage_type_info v[128], ti;
	struct spate_option_info oi;
	uint32_t nreg = sp_registry_list(reg, 128);
	size_t n = spate_stage_kinds(v, 128), pg = 0;

	cr_assert_eq(n, nreg);
	cr_assert_eq(spate_stage_kinds(NULL, 0), n);
	for (size_t i = 0; i < n; i++) {
		cr_assert_str_eq(v[i].name, reg[i]->name);
		cr_assert_str_eq(v[i].kind, sp_stage_kind_name(reg[i]->kind));
		cr_assert_str_eq(v[i].help, reg[i]->help);
		pg += !strcmp(v[i].name, "postgres");
	}
	cr_assert_eq(pg, 2);
	cr_assert_lt(spate_stage_types(NULL, 0), n);

	cr_assert_geq(kind_option("postgres", "origin", "query"), 0);
	cr_assert_eq(kind_option("postgres", "origin", "table"), -1);
	cr_assert_geq(kind_option("postgres", "destination", "table"), 0);
	cr_assert_eq(kind_option("postgres", "destination", "query"), -1);
	/* no kind: as spate_stage_type_info, the destination */
	cr_assert_eq(spate_stage_kind_info("postgres", NULL, &ti), 0);
	cr_assert_str_eq(ti.kind, "destination");
	cr_assert_eq(spate_stage_kind_info("mysql", "origin", &ti), -ENOENT);
	cr_assert_eq(spate_stage_kind_info("file_reader", "destination", &ti),
		     -ENOENT);
	cr_assert_eq(spate_stage_kind_info("nope", "origin", &ti), -ENOENT);
	cr_assert_eq(spate_stage_kind_option("postgres", "origin", 99, &oi),
		     -ENOENT);
}

Test(sdk, connect_several_and_list)
{
	struct spate_flow *flow = spate_flow_create("f");
	struct spate_stage *src = spate_flow_add_stage(flow,
						       "dev_data_generator",
						       NULL);
	struct spate_stage *r1 = spate_flow_add_stage(flow, "field_renamer",
						      NULL);
	struct spate_stage *r2 = spate_flow_add_stage(flow, "field_renamer",
						      NULL);
	struct spate_stage *trash = spate_flow_add_stage(flow, "trash", NULL);
	struct spate_stage *fin = spate_flow_add_stage(flow,
						       "pipeline_finisher",
						       NULL);
	struct spate_stage *to[] = { r1, r2 }, *out[8];

	cr_assert_eq(spate_stage_connect_outputs(src, NULL, to, 2), 0);
	cr_assert_eq(spate_stage_connect_outputs(src, NULL, to, 2), 0);
	cr_assert_eq(spate_stage_connect_input(trash, r1), r1);
	cr_assert_eq(spate_stage_connect_input(trash, r2), r2);
	cr_assert_eq(spate_stage_connect_event(src, fin), fin);
	cr_assert_eq(spate_stage_connect_event(trash, fin), fin);

	cr_assert_eq(spate_stage_outputs(src, out, 8), 2);
	cr_assert_eq(out[0], r1);
	cr_assert_eq(out[1], r2);
	cr_assert_eq(sp_sdk_flow(flow)->stages[1]->inputs.n, 1);
	cr_assert_eq(spate_stage_inputs(trash, out, 8), 2);
	cr_assert_eq(out[0], r1);
	cr_assert_eq(out[1], r2);
	cr_assert_eq(spate_stage_events(src, out, 8), 1);
	cr_assert_eq(out[0], fin);
	cr_assert_eq(spate_stage_inputs(fin, out, 8), 0);
	cr_assert_eq(spate_stage_outputs(trash, out, 8), 0);

	/* disconnect chains too */
	cr_assert_eq(spate_stage_disconnect_output(src, r1), r1);
	cr_assert_eq(spate_stage_disconnect_input(trash, r2), r2);
	cr_assert_eq(spate_stage_disconnect_event(src, fin), fin);
	cr_assert_eq(spate_stage_outputs(src, out, 8), 1);
	cr_assert_eq(out[0], r2);
	cr_assert_eq(spate_stage_inputs(trash, out, 8), 1);
	cr_assert_eq(out[0], r1);
	cr_assert_eq(spate_stage_events(src, out, 8), 0);
	cr_assert_eq(spate_stage_events(trash, out, 8), 1);

	/* NULL ends a chain; stages of another flow are refused */
	{
		struct spate_flow *other = spate_flow_create("g");
		struct spate_stage *x = spate_flow_add_stage(other, "trash",
							     "x");

		cr_assert_null(spate_stage_connect_output(
			spate_stage_connect_output(NULL, r1), trash));
		errno = 0;
		cr_assert_null(spate_stage_connect_output(src, x));
		cr_assert_eq(errno, EINVAL);
		cr_assert_eq(spate_stage_connect_outputs(src, NULL, &x, 1),
			     -EINVAL);
		cr_assert_eq(spate_flow_remove_stage(flow, x), -ENOENT);
		spate_flow_destroy(other);
	}
	spate_flow_destroy(flow);
}

Test(sdk, remove_stage_disconnects)
{
	struct spate_flow *flow = build_expenses();
	struct spate_stage *split = spate_flow_find_stage(flow, "split");
	struct spate_stage *src = spate_flow_find_stage(flow, "src");
	struct spate_stage *errors = spate_flow_find_stage(flow, "errors");
	struct spate_stage *out[16];
	char err[2048];

	cr_assert_eq(spate_flow_remove_stage(flow, split), 0);
	cr_assert_eq(spate_flow_stages(flow, out, 16), 8);
	cr_assert_str_eq(spate_stage_id(out[3]), "out_high");
	cr_assert_eq(spate_stage_inputs(out[3], out + 8, 8), 0);
	cr_assert_eq(spate_flow_remove_stage(flow, src), 0);
	cr_assert_eq(spate_stage_events(spate_flow_find_stage(flow, "done"),
					out, 16), 0);
	cr_assert_eq(spate_stage_inputs(spate_flow_find_stage(flow, "done"),
					out, 16), 0);
	cr_assert_eq(spate_flow_remove_stage(flow, errors), 0);
	cr_assert_null(sp_sdk_flow(flow)->error_stage);
	cr_assert_eq(spate_flow_validate(flow, err, sizeof(err)), 6);
	cr_assert_str_eq(err,
			 "stage 'drop': a processor needs inputs\n"
			 "stage 'out_high': a destination needs inputs\n"
			 "stage 'out_low': a destination needs inputs\n"
			 "stage 'out_rest': a destination needs inputs\n"
			 "stage 'done': an executor needs event_inputs\n"
			 "stage 'rename': unreachable: no origin feeds this "
			 "stage");
	spate_flow_destroy(flow);
}

/* spate_stage_get_config(s, key) gives want. */
static void expect_config(struct spate_stage *s, const char *key,
			  const char *want)
{
	char buf[512];

	cr_assert_gt(spate_stage_get_config(s, key, buf, sizeof(buf)), 0,
		     "%s", key);
	cr_assert_str_eq(buf, want, "%s", key);
}

Test(sdk, config_get_and_set)
{
	struct spate_flow *flow = build_expenses();
	struct spate_stage *src = spate_flow_find_stage(flow, "src");
	struct spate_stage *rename = spate_flow_find_stage(flow, "rename");
	struct spate_stage *drop = spate_flow_find_stage(flow, "drop");
	char buf[256];

	cr_assert_eq(spate_stage_get_config(src, "path", buf, sizeof(buf)),
		     12);
	cr_assert_str_eq(buf, "data/*.jsonl");
	cr_assert_eq(spate_stage_get_config(src, "path", buf, 5), 12);
	cr_assert_str_eq(buf, "data");
	cr_assert_eq(spate_stage_get_config(rename, "fields", buf,
					    sizeof(buf)), 19);
	cr_assert_str_eq(buf, "{/user: /user_name}");
	expect_config(drop, "fields", "[/tags]");
	cr_assert_eq(spate_stage_get_config(src, "compression", buf,
					    sizeof(buf)), -ENOENT);

	cr_assert_eq(spate_stage_set_config(drop, "fields",
					    "[/a, 'b c', '[x]']"), 0);
	expect_config(drop, "fields", "[/a, 'b c', '[x]']");
	cr_assert_eq(spate_stage_set_config(drop, "fields", "[/a, "), -EINVAL);
	cr_assert_eq(spate_stage_set_config(src, "inputs", "[x]"), -EINVAL);
	cr_assert_eq(spate_stage_set_config(src, "on_record_error", "stop"),
		     0);
	expect_config(src, "on_record_error", "stop");
	cr_assert_eq(spate_stage_set_config(src, "format", "csv"), 0);
	expect_config(src, "format", "csv");
	cr_assert_eq(spate_stage_set_config(src, "format", NULL), 0);
	cr_assert_eq(spate_stage_get_config(src, "format", buf, sizeof(buf)),
		     -ENOENT);

	/* an option the type does not have is refused at once, with
	 * the reason (and the nearest name) in spate_flow_error() */
	cr_assert_eq(spate_stage_set_config(src, "pth", "x"), -EINVAL);
	cr_assert_str_eq(spate_flow_error(flow),
			 "stage 'src' (file_reader): unknown option 'pth' "
			 "(did you mean 'path'?)");
	expect_config(src, "path", "data/*.jsonl");
	cr_assert_eq(spate_stage_set_config(src, "color", "x"), -EINVAL);
	cr_assert_str_eq(spate_flow_error(flow),
			 "stage 'src' (file_reader): unknown option 'color'");
	cr_assert_eq(spate_stage_get_config(src, "color", buf, sizeof(buf)),
		     -ENOENT);
	cr_assert_eq(spate_stage_set_config(src, "inputs", "[x]"), -EINVAL);
	cr_assert_str_eq(spate_flow_error(flow),
			 "stage 'src' (file_reader): 'inputs' is not an "
			 "option: it belongs to the graph (connect stages "
			 "instead)");
	cr_assert_eq(spate_stage_set_config(drop, "fields", "[/a, "), -EINVAL);
	cr_assert_str_eq(spate_flow_error(flow),
			 "stage 'drop' (field_remover): option 'fields': "
			 "[/a,  is not valid flow-style YAML");
	/* a call that succeeds clears the message; removing any name is
	 * allowed (a loaded flow may hold a misspelt option) */
	cr_assert_eq(spate_stage_set_config(src, "color", NULL), 0);
	cr_assert_str_eq(spate_flow_error(flow), "");

	/* a bad value is found by validation */
	cr_assert_eq(spate_stage_set_config(src, "format", "jsn"), 0);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf,
			 "stage 'src': option 'format': \"jsn\" is not one of "
			 "jsonl, csv (did you mean jsonl?)");
	spate_flow_destroy(flow);
}

/* A stage of a type not known yet (a plugin to be loaded) takes any
 * option; validation reports the type.  A name that is an origin and a
 * destination (postgres) takes either's options before it is
 * connected. */
Test(sdk, unknown_option_checks_follow_the_type)
{
	sp_sdk_set_lookup(NULL); /* the real stages: postgres is both */
	struct spate_flow *flow = spate_flow_create("f");
	struct spate_stage *p = spate_flow_add_stage(flow, "my_plugin", "p");
	struct spate_stage *pg = spate_flow_add_stage(flow, "postgres", "pg");

	cr_assert_eq(spate_stage_set_config(p, "anything", "1"), 0);
	cr_assert_eq(spate_stage_set_config(pg, "table", "t"), 0);
	cr_assert_eq(spate_stage_set_config(pg, "query", "select 1"), 0);
	cr_assert_eq(spate_stage_set_config(pg, "tabel", "t"), -EINVAL);
	cr_assert(strstr(spate_flow_error(flow), "unknown option 'tabel'"),
		  "%s", spate_flow_error(flow));
	spate_flow_destroy(flow);
}

Test(sdk, predicates_add_and_remove)
{
	struct spate_flow *flow = build_expenses();
	struct spate_stage *split = spate_flow_find_stage(flow, "split");
	struct spate_stage *lo = spate_flow_find_stage(flow, "out_low");
	struct spate_stage *out[4];
	char buf[512];

	cr_assert_eq(spate_stage_add_predicate(split, "default", "${true}"),
		     -EINVAL);
	cr_assert_eq(spate_stage_add_predicate(split, "a.b", "${true}"),
		     -EINVAL);
	cr_assert_eq(spate_stage_add_predicate(split, "mid", "${1 == 1}"), 0);
	/* replacing keeps the lane's place */
	cr_assert_eq(spate_stage_add_predicate(split, "high", "${2 == 2}"), 0);
	expect_config(split, "lanes",
		      "{high: '${2 == 2}', low: '${record:value(\"/expense"
		      "\") < -10000}', mid: '${1 == 1}'}");
	cr_assert_eq(spate_stage_remove_predicate(split, "low"), 0);
	cr_assert_eq(spate_stage_remove_predicate(split, "low"), -ENOENT);
	/* the stage that read the lane is disconnected */
	cr_assert_eq(spate_stage_inputs(lo, out, 4), 0);
	cr_assert_eq(spate_stage_outputs(split, out, 4), 2);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "stage 'out_low': a destination needs inputs");
	cr_assert_eq(spate_stage_connect_lane(split, "mid", lo), lo);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 0, "%s", buf);
	cr_assert_eq(spate_stage_connect_lane(split, "nope", lo), lo);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 1);
	cr_assert_str_eq(buf, "stage 'out_low': input 'split.nope': stage "
			      "'split' has no lane 'nope' (lanes: high, mid, "
			      "default)");

	/* a selector without lanes gets them on the first predicate */
	{
		struct spate_stage *s2 = spate_flow_add_stage(
			flow, "stream_selector", NULL);

		cr_assert_eq(spate_stage_get_config(s2, "lanes", buf,
						    sizeof(buf)), -ENOENT);
		cr_assert_eq(spate_stage_add_predicate(s2, "x", "${1 > 0}"),
			     0);
		expect_config(s2, "lanes", "{x: '${1 > 0}'}");
	}
	spate_flow_destroy(flow);
}

Test(sdk, validate_reports_everything)
{
	struct spate_flow *flow = spate_flow_create("bad name");
	struct spate_stage *a = spate_flow_add_stage(flow, "fitler", "a");
	struct spate_stage *w = spate_flow_add_stage(flow, "file_writer", "w");
	struct spate_stage *g = spate_flow_add_stage(flow, "dev_data_generator",
						     "g");
	char buf[1024];

	cr_assert_eq(spate_stage_connect_output(g, a), a);
	cr_assert_eq(spate_stage_connect_output(w, a), a);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 5, "%s",
		     buf);
	cr_assert_str_eq(buf,
			 "flow name 'bad name' may only use letters, digits, "
			 "'_' and '-'\n"
			 "stage 'a': unknown stage type 'fitler'\n"
			 "stage 'w': option 'dir': required option is "
			 "missing\n"
			 "stage 'a': input 'w': stage 'w' is a destination and "
			 "has no output (only origins and processors do)\n"
			 "stage 'w': a destination needs inputs");
	/* the count is also right when the buffer is too small */
	cr_assert_eq(spate_flow_validate(flow, buf, 10), 5);
	cr_assert_str_eq(buf, "flow name");
	cr_assert_eq(spate_flow_validate(flow, NULL, 0), 5);
	spate_flow_destroy(flow);
}

/* ---- running --------------------------------------------------------------
 *
 * Real stages from the registry: file_reader or dev_data_generator ->
 * stream_selector (high, low, default) -> file_writers (no compression)
 * in a fresh folder, outputs read back.
 */

#include <pthread.h>
#include <stdatomic.h>

#include "support/e2e.h"

static void run_setup(void)
{
	sp_sdk_set_lookup(NULL);
}

TestSuite(sdk_run, .init = run_setup, .timeout = 120);

#define NRAW 1000u

/* Record i: {"id":i,"expense":(i % 10) * 3000 - 12000}: i % 10 == 0 goes
 * to lane low (< -10000), 8 and 9 to high (>= 10000), the rest to
 * default. */
static int raw_expense(unsigned i)
{
	return (int)(i % 10) * 3000 - 12000;
}

static const char *raw_lane(unsigned i)
{
	int v = raw_expense(i);

	return v >= 10000 ? "high" : v < -10000 ? "low" : "rest";
}

/* The records of lane (all when NULL), one per line, with bad_line
 * added after record 499 when it is not NULL. */
static char *raw_text(const char *lane, const char *bad_line)
{
	struct sp_buf b;
	char line[64];

	sp_buf_init(&b);
	for (unsigned i = 0; i < NRAW; i++) {
		if (lane && strcmp(raw_lane(i), lane) != 0)
			continue;
		int n = snprintf(line, sizeof(line),
				 "{\"id\":%u,\"expense\":%d}\n", i,
				 raw_expense(i));
		cr_assert_eq(sp_buf_append(&b, line, (size_t)n), 0);
		if (i == 499 && bad_line)
			cr_assert_eq(sp_buf_append(&b, bad_line,
						   strlen(bad_line)), 0);
	}
	cr_assert_eq(sp_buf_putc(&b, '\0'), 0);
	return b.data;
}

static void set_dir(struct spate_stage *s, const char *dir, const char *sub)
{
	char path[512];

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	cr_assert_eq(spate_stage_set_config(s, "dir", path), 0);
	cr_assert_eq(spate_stage_set_config(s, "compression", "none"), 0);
}

/* origin -> split -> out_high, out_low, out_rest; errors as error stage.
 * The origin is returned in *src for configuration. */
static struct spate_flow *split_flow(const char *name, const char *type,
				     const char *dir, struct spate_stage **src)
{
	struct spate_flow *flow = spate_flow_create(name);
	struct split_stages x;

	cr_assert_not_null(flow);
	*src = spate_flow_add_stage(flow, type, "src");
	cr_assert_not_null(*src);
	add_split(flow, &x);
	set_dir(x.hi, dir, "high");
	set_dir(x.lo, dir, "low");
	set_dir(x.rest, dir, "rest");
	set_dir(x.errors, dir, "errors");
	cr_assert_eq(spate_stage_connect_output(*src, x.split), x.split);
	cr_assert_eq(spate_stage_connect_lane(x.split, "high", x.hi), x.hi);
	cr_assert_eq(spate_stage_connect_lane(x.split, "low", x.lo), x.lo);
	cr_assert_eq(spate_stage_connect_lane(x.split, "default", x.rest),
		     x.rest);
	return flow;
}

/* file_reader of dir/in/records.jsonl (raw_text) -> split -> writers */
static struct spate_flow *raw_flow(const char *dir, const char *bad_line)
{
	struct spate_stage *src;
	struct spate_flow *flow = split_flow("raw", "file_reader", dir, &src);
	char *data = raw_text(NULL, bad_line);
	char *path = e2e_write(dir, "in/records.jsonl", data, strlen(data));

	cr_assert_eq(spate_stage_set_config(src, "path", path), 0);
	free(path);
	free(data);
	return flow;
}

/* What the writer committed in dir/sub, lines sorted. */
static char *output_of(const char *dir, const char *sub, size_t *lines)
{
	char path[512];
	size_t len;
	char *text;

	snprintf(path, sizeof(path), "%s/%s", dir, sub);
	text = e2e_read_dir(path, ".jsonl", &len);
	cr_assert_not_null(text);
	e2e_sort_lines(text, len);
	if (lines)
		*lines = e2e_count_lines(text, len);
	return text;
}

static void assert_lane_output(const char *dir, const char *lane)
{
	char *want = raw_text(lane, NULL);
	char *got = output_of(dir, lane, NULL);

	e2e_sort_lines(want, strlen(want));
	cr_assert_str_eq(got, want, "lane %s", lane);
	free(want);
	free(got);
}

/* Stage id's counts, found by id. */
static struct spate_stage_status stage_of(struct spate_run *run,
					  const char *id)
{
	struct spate_stage_status st;
	int i = spate_run_stage_index(run, id);

	cr_assert_geq(i, 0, "stage %s", id);
	cr_assert_eq(spate_run_stage_status(run, (uint32_t)i, &st), 0);
	cr_assert_str_eq(st.id, id);
	return st;
}

static uint64_t lane_of(struct spate_run *run, const char *id,
			const char *lane)
{
	struct spate_stage_status st = stage_of(run, id);
	uint32_t i = (uint32_t)spate_run_stage_index(run, id);
	struct spate_lane_status ls;

	for (uint32_t l = 0; l < st.nlanes; l++) {
		cr_assert_eq(spate_run_lane_status(run, i, l, &ls), 0);
		if (strcmp(ls.name, lane) == 0)
			return ls.records;
	}
	cr_assert_fail("stage %s has no lane %s", id, lane);
	return 0;
}

/* in == out + errors + dropped for every stage but executors, and every
 * record that left split arrived at the writer of its lane. */
static void assert_accounting(struct spate_run *run)
{
	uint32_t n = spate_run_stage_count(run);

	for (uint32_t i = 0; i < n; i++) {
		struct spate_stage_status st;

		cr_assert_eq(spate_run_stage_status(run, i, &st), 0);
		if (strcmp(st.kind, "executor") == 0)
			continue;
		cr_assert_eq(st.records_in,
			     st.records_out + st.errors + st.dropped,
			     "stage %s: in %llu out %llu errors %llu dropped "
			     "%llu",
			     st.id, (unsigned long long)st.records_in,
			     (unsigned long long)st.records_out,
			     (unsigned long long)st.errors,
			     (unsigned long long)st.dropped);
	}
	struct spate_stage_status src = stage_of(run, "src");
	struct spate_stage_status split = stage_of(run, "split");
	cr_assert_eq(src.records_out, split.records_in);
	cr_assert_eq(lane_of(run, "split", "high") +
			     lane_of(run, "split", "low") +
			     lane_of(run, "split", "default"),
		     split.records_out);
	cr_assert_eq(lane_of(run, "split", "high"),
		     stage_of(run, "out_high").records_in);
	cr_assert_eq(lane_of(run, "split", "low"),
		     stage_of(run, "out_low").records_in);
	cr_assert_eq(lane_of(run, "split", "default"),
		     stage_of(run, "out_rest").records_in);
	cr_assert_eq(spate_run_stage_status(run, n, &src), -ENOENT);
	cr_assert_eq(spate_run_stage_index(run, "nope"), -ENOENT);
}

Test(sdk_run, run_to_the_end)
{
	char *dir = e2e_tmpdir(), err[1024];
	struct spate_flow *flow = raw_flow(dir, "{\"id\": oops}\n");
	struct spate_run_options opts = {.workers = 2};
	struct spate_run_status st;
	size_t n;
	char *errs;

	cr_assert_eq(spate_flow_run(flow, &opts, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(err, "");
	cr_assert_eq(st.state, SPATE_RUN_SUCCEEDED);
	cr_assert_str_eq(spate_run_state_name(st.state), "finished");
	cr_assert_eq(st.workers, 2);
	cr_assert_eq(st.nstages, 6);
	cr_assert_eq(st.records_in, NRAW + 1);
	cr_assert_eq(st.records_out, NRAW);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.error_records, 1);
	cr_assert_eq(st.discarded, 0);
	cr_assert_eq(st.dropped, 0);
	cr_assert_gt(st.bytes_in, 0);
	cr_assert_gt(st.bytes_out, 0);
	cr_assert_geq(st.elapsed_s, 0);

	assert_lane_output(dir, "high");
	assert_lane_output(dir, "low");
	assert_lane_output(dir, "rest");
	errs = output_of(dir, "errors", &n);
	cr_assert_eq(n, 1);
	cr_assert(strstr(errs, "oops"), "%s", errs);
	free(errs);
	spate_flow_destroy(flow);
	e2e_rmrf(dir);
	free(dir);
}

/* Without an error stage the bad record is lost by default: the status
 * counts it as discarded, as `spate run` does (exit 3); choosing
 * on_record_error: discard makes it no loss. */
Test(sdk_run, discarded_without_an_error_stage)
{
	char *dir = e2e_tmpdir(), err[1024];
	struct spate_flow *flow = raw_flow(dir, "{\"id\": oops}\n");
	struct spate_run_options opts = {.force = true};
	struct spate_run_status st;

	cr_assert_eq(spate_flow_remove_stage(
			 flow, spate_flow_find_stage(flow, "errors")),
		     0);
	cr_assert_eq(spate_flow_run(flow, &opts, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_str_eq(spate_run_state_name(st.state), "finished");
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.discarded, 1);
	cr_assert_eq(st.records_out, NRAW);

	cr_assert_eq(spate_stage_set_config(spate_flow_find_stage(flow, "src"),
					    "on_record_error", "discard"),
		     0);
	cr_assert_eq(spate_flow_run(flow, &opts, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(st.errors, 1);
	cr_assert_eq(st.discarded, 0);
	spate_flow_destroy(flow);
	e2e_rmrf(dir);
	free(dir);
}

Test(sdk_run, per_stage_and_lane_status)
{
	char *dir = e2e_tmpdir(), err[1024];
	struct spate_flow *flow = raw_flow(dir, NULL);
	struct spate_run *run;
	struct spate_run_status st;
	struct spate_stage_status s;
	struct spate_lane_status ls;

	cr_assert_eq(spate_flow_start(flow, NULL, &run, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(spate_run_wait(run), SPATE_RUN_SUCCEEDED);
	/* a second wait gives the same state */
	cr_assert_eq(spate_run_wait(run), SPATE_RUN_SUCCEEDED);
	cr_assert_str_eq(spate_run_error(run), "");
	cr_assert_eq(spate_run_status(run, &st), 0);
	cr_assert_eq(st.records_in, NRAW);
	cr_assert_eq(st.records_out, NRAW);
	cr_assert_eq(spate_run_stage_count(run), 6);

	s = stage_of(run, "src");
	cr_assert_str_eq(s.type, "file_reader");
	cr_assert_str_eq(s.kind, "origin");
	cr_assert_eq(s.records_out, NRAW);
	cr_assert_eq(s.nlanes, 1);
	cr_assert_eq(spate_run_lane_status(run, 0, 0, &ls), 0);
	cr_assert_str_eq(ls.name, "");
	cr_assert_eq(ls.records, NRAW);

	s = stage_of(run, "split");
	cr_assert_str_eq(s.kind, "processor");
	cr_assert_eq(s.nlanes, 3);
	cr_assert_eq(lane_of(run, "split", "high"), NRAW / 5);
	cr_assert_eq(lane_of(run, "split", "low"), NRAW / 10);
	cr_assert_eq(lane_of(run, "split", "default"), NRAW * 7 / 10);
	cr_assert_eq(spate_run_lane_status(run, 1, 3, &ls), -ENOENT);

	s = stage_of(run, "out_high");
	cr_assert_str_eq(s.kind, "destination");
	cr_assert_eq(s.records_out, NRAW / 5);
	cr_assert_eq(s.nlanes, 0);
	cr_assert_eq(s.files, 1);
	cr_assert_gt(s.bytes_out, 0);
	assert_accounting(run);
	spate_run_destroy(run);
	spate_flow_destroy(flow);
	e2e_rmrf(dir);
	free(dir);
}

/* Generator records split by the default expense field (-20000..20000). */
static struct spate_flow *gen_flow(const char *dir, const char *records)
{
	struct spate_stage *src;
	struct spate_flow *flow =
		split_flow("gen", "dev_data_generator", dir, &src);

	cr_assert_eq(spate_stage_set_config(src, "records", records), 0);
	cr_assert_eq(spate_stage_set_config(src, "seed", "7"), 0);
	cr_assert_eq(spate_stage_set_config(src, "batch_size", "1000"), 0);
	return flow;
}

struct poller {
	struct spate_run *run;
	atomic_bool done;
	atomic_bool saw_running;
	unsigned polls;
	uint64_t max_in;
	char problem[256];
};

static void *poll_main(void *arg)
{
	struct poller *p = arg;
	uint64_t last_in = 0, last_out = 0;

	while (!atomic_load(&p->done)) {
		struct spate_run_status st;
		struct spate_stage_status ss;

		if (spate_run_status(p->run, &st) ||
		    spate_run_stage_status(p->run, 0, &ss)) {
			snprintf(p->problem, sizeof(p->problem),
				 "status failed");
			break;
		}
		p->polls++;
		if (st.state == SPATE_RUN_RUNNING)
			atomic_store(&p->saw_running, true);
		else if (st.state != SPATE_RUN_SUCCEEDED)
			snprintf(p->problem, sizeof(p->problem),
				 "state %s", spate_run_state_name(st.state));
		if (st.records_in < last_in || st.records_out < last_out)
			snprintf(p->problem, sizeof(p->problem),
				 "counts went back: in %llu after %llu",
				 (unsigned long long)st.records_in,
				 (unsigned long long)last_in);
		if (st.records_out > st.records_in)
			snprintf(p->problem, sizeof(p->problem),
				 "out %llu > in %llu",
				 (unsigned long long)st.records_out,
				 (unsigned long long)st.records_in);
		last_in = st.records_in;
		last_out = st.records_out;
		if (strcmp(ss.id, "src") != 0)
			snprintf(p->problem, sizeof(p->problem), "stage 0 %s",
				 ss.id);
		e2e_sleep_ms(1);
	}
	p->max_in = last_in;
	return NULL;
}

Test(sdk_run, status_from_another_thread_while_running)
{
	char *dir = e2e_tmpdir(), err[1024];
	struct spate_flow *flow = gen_flow(dir, "200000");
	struct spate_run_options opts = {.workers = 2};
	struct poller p = {0};
	struct spate_run_status st;
	pthread_t t;
	size_t hi, lo, rest;

	cr_assert_eq(spate_flow_start(flow, &opts, &p.run, err, sizeof(err)),
		     0, "%s", err);
	/* the run has its own copy of the flow */
	spate_flow_destroy(flow);
	cr_assert_eq(pthread_create(&t, NULL, poll_main, &p), 0);
	/* the state stays running until wait ends the run */
	while (!atomic_load(&p.saw_running) && !p.problem[0])
		e2e_sleep_ms(1);
	cr_assert_eq(spate_run_wait(p.run), SPATE_RUN_SUCCEEDED);
	e2e_sleep_ms(20);
	atomic_store(&p.done, true);
	pthread_join(t, NULL);
	cr_assert_str_eq(p.problem, "");
	cr_assert_gt(p.polls, 0);
	cr_assert_eq(p.max_in, 200000);

	cr_assert_eq(spate_run_status(p.run, &st), 0);
	cr_assert_eq(st.state, SPATE_RUN_SUCCEEDED);
	cr_assert_eq(st.records_in, 200000);
	cr_assert_eq(st.records_out, 200000);
	cr_assert_eq(st.errors, 0);
	assert_accounting(p.run);
	free(output_of(dir, "high", &hi));
	free(output_of(dir, "low", &lo));
	free(output_of(dir, "rest", &rest));
	cr_assert_eq(hi, lane_of(p.run, "split", "high"));
	cr_assert_eq(lo, lane_of(p.run, "split", "low"));
	cr_assert_eq(rest, lane_of(p.run, "split", "default"));
	cr_assert_eq(hi + lo + rest, 200000);
	/* the default expenses spread over every lane */
	cr_assert(hi > 0 && lo > 0 && rest > 0);
	spate_run_destroy(p.run);
	e2e_rmrf(dir);
	free(dir);
}

/* Starts an endless generator and waits until records flow. */
static struct spate_run *start_endless(const char *dir)
{
	struct spate_flow *flow = gen_flow(dir, "1000000000000");
	struct spate_run_options opts = {.workers = 2};
	struct spate_run_status st;
	struct spate_run *run;
	char err[1024];

	cr_assert_eq(spate_flow_start(flow, &opts, &run, err, sizeof(err)), 0,
		     "%s", err);
	spate_flow_destroy(flow);
	for (int i = 0; i < 10000; i++) {
		cr_assert_eq(spate_run_status(run, &st), 0);
		cr_assert_eq(st.state, SPATE_RUN_RUNNING);
		if (stage_of(run, "out_rest").records_out > 0)
			break;
		e2e_sleep_ms(1);
	}
	return run;
}

struct stopper {
	struct spate_run *run;
	bool abort;
};

static void *stop_main(void *arg)
{
	struct stopper *s = arg;

	spate_run_stop(s->run, s->abort);
	return NULL;
}

Test(sdk_run, stop_drains_and_commits)
{
	char *dir = e2e_tmpdir();
	struct spate_run *run = start_endless(dir);
	struct stopper s = {.run = run, .abort = false};
	struct spate_run_status st;
	size_t hi, lo, rest;
	pthread_t t;

	/* from another thread */
	cr_assert_eq(pthread_create(&t, NULL, stop_main, &s), 0);
	pthread_join(t, NULL);
	cr_assert_eq(spate_run_wait(run), SPATE_RUN_STOPPED);
	spate_run_stop(run, true); /* ended: changes nothing */
	cr_assert_str_eq(spate_run_error(run), "");
	cr_assert_eq(spate_run_status(run, &st), 0);
	cr_assert_eq(st.state, SPATE_RUN_STOPPED);
	cr_assert_gt(st.records_in, 0);
	cr_assert_lt(st.records_in, 1000000000000ull);
	cr_assert_eq(st.records_out, st.records_in);
	cr_assert_eq(st.errors, 0);
	assert_accounting(run);
	/* drained: what was counted was written and committed */
	free(output_of(dir, "high", &hi));
	free(output_of(dir, "low", &lo));
	free(output_of(dir, "rest", &rest));
	cr_assert_eq(hi, stage_of(run, "out_high").records_out);
	cr_assert_eq(lo, stage_of(run, "out_low").records_out);
	cr_assert_eq(rest, stage_of(run, "out_rest").records_out);
	cr_assert_eq(hi + lo + rest, st.records_out);
	spate_run_destroy(run);
	e2e_rmrf(dir);
	free(dir);
}

Test(sdk_run, stop_abort_rolls_back)
{
	char *dir = e2e_tmpdir(), path[512];
	struct spate_run *run = start_endless(dir);
	struct spate_run_status st;

	spate_run_stop(run, true);
	cr_assert_eq(spate_run_wait(run), SPATE_RUN_STOPPED);
	cr_assert_eq(spate_run_status(run, &st), 0);
	cr_assert_eq(st.state, SPATE_RUN_STOPPED);
	cr_assert_gt(st.records_in, 0);
	/* nothing visible: no data files, no manifest */
	snprintf(path, sizeof(path), "%s/rest", dir);
	cr_assert_leq(e2e_count_files(path, NULL, false), 0);
	spate_run_destroy(run);

	/* destroying a run that is still going aborts it too */
	run = start_endless(dir);
	spate_run_destroy(run);
	cr_assert_leq(e2e_count_files(path, NULL, false), 0);
	e2e_rmrf(dir);
	free(dir);
}

Test(sdk_run, rerun_is_skipped_unless_forced)
{
	char *dir = e2e_tmpdir(), err[1024];
	struct spate_flow *flow = raw_flow(dir, NULL);
	struct spate_run_options force = {.force = true};
	struct spate_run_status st;
	struct spate_run *run;
	char *first, *again;

	cr_assert_eq(spate_flow_run(flow, NULL, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(st.state, SPATE_RUN_SUCCEEDED);
	first = output_of(dir, "rest", NULL);

	/* the same flow over the same input: nothing to do */
	cr_assert_eq(spate_flow_run(flow, NULL, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(st.state, SPATE_RUN_SKIPPED);
	cr_assert(strstr(err, "already holds the committed output"), "%s",
		  err);
	cr_assert_eq(st.records_in, 0);
	cr_assert_eq(st.records_out, 0);
	cr_assert_eq(st.nstages, 6);

	/* the same through start: a run that is skipped already */
	cr_assert_eq(spate_flow_start(flow, NULL, &run, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(spate_run_status(run, &st), 0);
	cr_assert_eq(st.state, SPATE_RUN_SKIPPED);
	cr_assert_eq(spate_run_wait(run), SPATE_RUN_SKIPPED);
	cr_assert(strstr(spate_run_error(run), "already holds the committed"),
		  "%s", spate_run_error(run));
	cr_assert_str_eq(stage_of(run, "out_rest").id, "out_rest");
	cr_assert_eq(stage_of(run, "out_rest").records_in, 0);
	spate_run_stop(run, false);
	spate_run_destroy(run);

	/* force replaces it */
	cr_assert_eq(spate_flow_run(flow, &force, &st, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(st.state, SPATE_RUN_SUCCEEDED);
	cr_assert_eq(st.records_out, NRAW);
	again = output_of(dir, "rest", NULL);
	cr_assert_str_eq(again, first);
	assert_lane_output(dir, "high");
	free(first);
	free(again);

	/* another flow's output is not replaced without force */
	cr_assert_eq(spate_stage_add_predicate(
			     spate_flow_find_stage(flow, "split"), "high",
			     "${record:value(\"/expense\") >= 12000}"), 0);
	cr_assert_eq(spate_flow_run(flow, NULL, &st, err, sizeof(err)),
		     -EEXIST, "%s", err);
	cr_assert(strstr(err, "holds the committed output of another run"),
		  "%s", err);
	cr_assert_eq(st.state, SPATE_RUN_FAILED);
	assert_lane_output(dir, "high");
	spate_flow_destroy(flow);
	e2e_rmrf(dir);
	free(dir);
}

Test(sdk_run, refuses_invalid_flows_and_options)
{
	struct spate_flow *flow = spate_flow_create("bad");
	struct spate_run_options opts = {.workers = 2000};
	struct spate_run_status st;
	struct spate_run *run = (void *)1;
	char err[1024];

	spate_flow_add_stage(flow, "dev_data_generator", "g");
	spate_flow_add_stage(flow, "file_writer", "w");
	cr_assert_eq(spate_flow_run(flow, NULL, &st, err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(st.state, SPATE_RUN_FAILED);
	cr_assert_str_eq(err, "stage 'w': option 'dir': required option is "
			      "missing\n"
			      "stage 'w': a destination needs inputs");
	cr_assert_eq(spate_flow_start(flow, NULL, &run, err, sizeof(err)),
		     -EINVAL);
	cr_assert_null(run);
	cr_assert_eq(spate_flow_run(flow, &opts, NULL, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "run options: workers 2000: give a number from "
			      "0 (default) to 1024");
	opts.workers = 0;
	opts.reserved[3] = 1;
	cr_assert_eq(spate_flow_run(flow, &opts, NULL, NULL, 0), -EINVAL);
	cr_assert_eq(spate_flow_start(NULL, NULL, &run, NULL, 0), -EINVAL);
	cr_assert_eq(spate_run_status(NULL, &st), -EINVAL);
	cr_assert_str_eq(spate_run_error(NULL), "");
	cr_assert_str_eq(spate_run_state_name(SPATE_RUN_STOPPED), "stopped");
	cr_assert_str_eq(spate_run_state_name((enum spate_run_state)42), "?");
	spate_run_destroy(NULL);
	spate_flow_destroy(flow);
}

/* ---- compiled options ---------------------------------------------------- */

#include "runtime/runtime.h"

/* Fields w, a, b come before x in the records, so a table the run built
 * on its own would give them the first symbols, and w is a name no option
 * mentions: what the options compiled against the flow's table read must
 * be the run's copy of that table. */
static const char twice_yaml[] =
	"name: twice\n"
	"workers: 2\n"
	"stages:\n"
	"  - id: src\n"
	"    type: dev_raw_data\n"
	"    data: \"{\\\"w\\\":0,\\\"a\\\":1,\\\"b\\\":2,\\\"x\\\":5}\\n"
	"{\\\"w\\\":0,\\\"a\\\":3,\\\"b\\\":4,\\\"x\\\":20}\\n"
	"{\\\"w\\\":0,\\\"b\\\":6,\\\"x\\\":30,\\\"a\\\":7}\\n\"\n"
	"  - {id: big, type: filter, inputs: [src],\n"
	"     condition: '${record:value(\"/x\") >= 10}'}\n"
	"  - {id: set, type: field_setter, inputs: [big],\n"
	"     fields: {/y: '${record:value(\"/x\") * 2}', /z: lit}}\n"
	"  - {id: drop, type: field_remover, inputs: [set], fields: [/b]}\n"
	"  - {id: ren, type: field_renamer, inputs: [drop], fields: {/a: /c}}\n"
	"  - id: split\n"
	"    type: stream_selector\n"
	"    inputs: [ren]\n"
	"    lanes: {many: '${record:value(\"/y\") > 50}'}\n"
	"  - {id: out, type: file_writer, inputs: [split.many], dir: %s/many,\n"
	"     compression: none, ordered: true}\n"
	"  - {id: rest, type: file_writer, inputs: [split.default],\n"
	"     dir: %s/rest, compression: none, ordered: true}\n";

static void run_engine_once(struct sp_flow *f)
{
	struct sp_run_options opt = {.workers = 2, .no_pin = true,
				     .force = true};
	struct sp_runtime *rt = NULL;
	char err[1024] = "";

	cr_assert_eq(sp_runtime_create(f, &opt, &rt, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(sp_runtime_start(rt, err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sp_runtime_wait(rt), SP_RUN_FINISHED);
	sp_runtime_destroy(rt);
}

static void assert_twice_output(const char *dir)
{
	char *got;
	size_t len;

	got = output_of(dir, "many", &len);
	cr_assert_str_eq(got, "{\"w\":0,\"x\":30,\"c\":7,\"y\":60,"
			      "\"z\":\"lit\"}\n");
	free(got);
	got = output_of(dir, "rest", &len);
	cr_assert_str_eq(got, "{\"w\":0,\"c\":3,\"x\":20,\"y\":40,"
			      "\"z\":\"lit\"}\n");
	free(got);
}

/* One validated flow, run twice: the options compiled at validation
 * serve both runs, and the runs leave the flow's table as it was. */
Test(sdk_run, compiled_options_serve_every_run)
{
	char *dir = e2e_tmpdir(), yaml[4096];
	struct sp_flow *f = NULL;
	struct sp_diags d;
	uint32_t names;
	const void *cond;

	snprintf(yaml, sizeof(yaml), twice_yaml, dir, dir);
	sp_diags_init(&d, "twice.yaml");
	cr_assert_eq(sp_flow_load_string(yaml, "twice.yaml", &f, &d), 0);
	cr_assert_eq(d.n, 0);
	cr_assert_eq(sp_flow_validate(f, sp_registry_lookup, &d), 0,
		     "%s", d.n ? d.v[0].message : "");
	cr_assert_not_null(f->symtab);
	cr_assert_eq(sp_symtab_find(f->symtab, "x", 1), 1);
	cr_assert_eq(sp_symtab_find(f->symtab, "w", 1), SP_SYM_NONE);
	names = sp_symtab_count(f->symtab);
	cond = *(const void *const *)f->stages[1]->bound;
	cr_assert_not_null(cond);
	for (int i = 0; i < 2; i++) {
		run_engine_once(f);
		assert_twice_output(dir);
	}
	/* w went into the runs' copies, not into the flow's table */
	cr_assert_eq(sp_symtab_count(f->symtab), names);
	cr_assert_eq(*(const void *const *)f->stages[1]->bound, cond);
	sp_flow_destroy(f);
	sp_diags_fini(&d);

	/* through the SDK: each run works on its own copy of the flow */
	struct spate_flow *flow = NULL;
	struct spate_run_options opts = {.workers = 2, .force = true};
	struct spate_run_status st;
	char err[1024];

	cr_assert_eq(spate_flow_load_string(yaml, &flow, err, sizeof(err)), 0,
		     "%s", err);
	for (int i = 0; i < 2; i++) {
		cr_assert_eq(spate_flow_run(flow, &opts, &st, err,
					    sizeof(err)),
			     0, "%s", err);
		cr_assert_eq(st.state, SPATE_RUN_SUCCEEDED, "%s", err);
		cr_assert_eq(st.records_in, 3);
		assert_twice_output(dir);
	}
	spate_flow_destroy(flow);
	e2e_rmrf(dir);
	free(dir);
}
