/*
 * The SDK's graph-editing half: build the DESIGN expenses flow through the
 * API and get the same YAML as the flow file, connect/disconnect chains,
 * listing connections, removal, configuration get/set, predicates,
 * validation messages and save -> load -> save identity.  Stage types are
 * stand-ins defined here and handed to the SDK with sp_sdk_set_lookup.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "engine/flow.h"
#include "spate/spate.h"
#include "stages/registry.h"

struct one_str {
	char *s;
};
struct two {
	struct sp_strmap map;
	char *mode;
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

static const struct sp_stage_desc *lookup(const char *type)
{
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (strcmp(descs[i].name, type) == 0)
			return &descs[i];
	return NULL;
}

/* Only used when the test is linked without stages/registry.c. */
__attribute__((weak)) const struct sp_stage_desc *
sp_registry_find(const char *type)
{
	(void)type;
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

/* The DESIGN example as `spate` saves it. */
static const char expenses_yaml[] =
	"name: expenses\n"
	"workers: 2\n"
	"error_stage: errors\n"
	"stages:\n"
	"  - id: src\n"
	"    type: file_reader\n"
	"    path: data/*.jsonl\n"
	"    format: jsonl\n"
	"  - id: drop\n"
	"    type: field_remover\n"
	"    inputs: [src]\n"
	"    fields: [/tags]\n"
	"  - id: rename\n"
	"    type: field_renamer\n"
	"    inputs: [drop]\n"
	"    fields:\n"
	"      /user: /user_name\n"
	"  - id: split\n"
	"    type: stream_selector\n"
	"    inputs: [rename]\n"
	"    lanes:\n"
	"      high: '${record:value(\"/expense\") >= 10000}'\n"
	"      low: '${record:value(\"/expense\") < -10000}'\n"
	"  - id: out_high\n"
	"    type: file_writer\n"
	"    inputs: [split.high]\n"
	"    dir: out/high\n"
	"  - id: out_low\n"
	"    type: file_writer\n"
	"    inputs: [split.low]\n"
	"    dir: out/low\n"
	"  - id: out_rest\n"
	"    type: file_writer\n"
	"    inputs: [split.default]\n"
	"    dir: out/rest\n"
	"  - id: errors\n"
	"    type: file_writer\n"
	"    dir: out/errors\n"
	"  - id: done\n"
	"    type: pipeline_finisher\n"
	"    event_inputs: [src]\n";

static struct spate_flow *build_expenses(void)
{
	struct spate_flow *flow = spate_flow_create("expenses");
	struct spate_stage *src, *drop, *rename, *split, *hi, *lo, *rest,
		*errors, *done;

	cr_assert_not_null(flow);
	src = spate_flow_add_stage(flow, "file_reader", "src");
	drop = spate_flow_add_stage(flow, "field_remover", "drop");
	rename = spate_flow_add_stage(flow, "field_renamer", "rename");
	split = spate_flow_add_stage(flow, "stream_selector", "split");
	hi = spate_flow_add_stage(flow, "file_writer", "out_high");
	lo = spate_flow_add_stage(flow, "file_writer", "out_low");
	rest = spate_flow_add_stage(flow, "file_writer", "out_rest");
	errors = spate_flow_add_stage(flow, "file_writer", "errors");
	done = spate_flow_add_stage(flow, "pipeline_finisher", "done");
	cr_assert(src && drop && rename && split && hi && lo && rest &&
		  errors && done);
	cr_assert_eq(spate_flow_set_workers(flow, 2), 0);
	cr_assert_eq(spate_flow_set_error_stage(flow, errors), 0);
	cr_assert_eq(spate_stage_set_config(src, "path", "data/*.jsonl"), 0);
	cr_assert_eq(spate_stage_set_config(src, "format", "jsonl"), 0);
	cr_assert_eq(spate_stage_set_config(drop, "fields", "[/tags]"), 0);
	cr_assert_eq(spate_stage_set_config(rename, "fields",
					    "{/user: /user_name}"), 0);
	cr_assert_eq(spate_stage_add_predicate(
			     split, "high",
			     "${record:value(\"/expense\") >= 10000}"), 0);
	cr_assert_eq(spate_stage_add_predicate(
			     split, "low",
			     "${record:value(\"/expense\") < -10000}"), 0);
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
	cr_assert_str_eq(a, expenses_yaml);
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
	cr_assert_gt(spate_stage_get_config(drop, "fields", buf, sizeof(buf)),
		     0);
	cr_assert_str_eq(buf, "[/tags]");
	cr_assert_eq(spate_stage_get_config(src, "compression", buf,
					    sizeof(buf)), -ENOENT);

	cr_assert_eq(spate_stage_set_config(drop, "fields",
					    "[/a, 'b c', '[x]']"), 0);
	cr_assert_gt(spate_stage_get_config(drop, "fields", buf, sizeof(buf)),
		     0);
	cr_assert_str_eq(buf, "[/a, 'b c', '[x]']");
	cr_assert_eq(spate_stage_set_config(drop, "fields", "[/a, "), -EINVAL);
	cr_assert_eq(spate_stage_set_config(src, "inputs", "[x]"), -EINVAL);
	cr_assert_eq(spate_stage_set_config(src, "on_record_error", "stop"),
		     0);
	cr_assert_gt(spate_stage_get_config(src, "on_record_error", buf,
					    sizeof(buf)), 0);
	cr_assert_str_eq(buf, "stop");
	cr_assert_eq(spate_stage_set_config(src, "format", "csv"), 0);
	cr_assert_gt(spate_stage_get_config(src, "format", buf, sizeof(buf)),
		     0);
	cr_assert_str_eq(buf, "csv");
	cr_assert_eq(spate_stage_set_config(src, "format", NULL), 0);
	cr_assert_eq(spate_stage_get_config(src, "format", buf, sizeof(buf)),
		     -ENOENT);

	/* a bad value is found by validation */
	cr_assert_eq(spate_stage_set_config(src, "format", "jsn"), 0);
	cr_assert_eq(spate_stage_set_config(src, "dri", "x"), 0);
	cr_assert_eq(spate_flow_validate(flow, buf, sizeof(buf)), 2);
	cr_assert_str_eq(buf,
			 "stage 'src': unknown option 'dri'\n"
			 "stage 'src': option 'format': \"jsn\" is not one of "
			 "jsonl, csv (did you mean jsonl?)");
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
	cr_assert_gt(spate_stage_get_config(split, "lanes", buf, sizeof(buf)),
		     0);
	cr_assert_str_eq(buf,
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
		cr_assert_gt(spate_stage_get_config(s2, "lanes", buf,
						    sizeof(buf)), 0);
		cr_assert_str_eq(buf, "{x: '${1 > 0}'}");
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
