/*
 * Flow files and validation: the DESIGN example loads with the exact
 * graph, every invalid flow gets its exact message and line, and saving is
 * deterministic (save -> load -> save gives the same bytes).  The stage
 * types are small stand-ins defined here, so these tests do not depend on
 * the real stage registry.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "support/diags.h"
#include "support/expenses.h"

/* ---- stand-in stage types ---------------------------------------------- */

struct reader_cfg {
	char *path;
	int format; /* index in formats */
};
static const char *const formats[] = { "jsonl", "csv", NULL };
static const struct sp_option reader_opts[] = {
	{ .name = "path", .type = SP_OPT_STRING, .required = true,
	  .offset = offsetof(struct reader_cfg, path) },
	{ .name = "format", .type = SP_OPT_ENUM, .def = "jsonl",
	  .choices = formats, .offset = offsetof(struct reader_cfg, format) },
	{ 0 },
};

struct remover_cfg {
	struct sp_strlist fields;
};
static const struct sp_option remover_opts[] = {
	{ .name = "fields", .type = SP_OPT_STRING_LIST, .required = true,
	  .offset = offsetof(struct remover_cfg, fields) },
	{ 0 },
};

struct renamer_cfg {
	struct sp_strmap fields;
	bool overwrite;
};
static const struct sp_option renamer_opts[] = {
	{ .name = "fields", .type = SP_OPT_MAP, .required = true,
	  .offset = offsetof(struct renamer_cfg, fields) },
	{ .name = "overwrite", .type = SP_OPT_BOOL, .def = "false",
	  .offset = offsetof(struct renamer_cfg, overwrite) },
	{ 0 },
};

struct selector_cfg {
	struct sp_strmap lanes;
	int mode; /* index in modes */
};
static const char *const modes[] = { "all", "first_match", NULL };
static const struct sp_option selector_opts[] = {
	{ .name = "lanes", .type = SP_OPT_MAP, .required = true,
	  .offset = offsetof(struct selector_cfg, lanes) },
	{ .name = "mode", .type = SP_OPT_ENUM, .def = "all", .choices = modes,
	  .offset = offsetof(struct selector_cfg, mode) },
	{ 0 },
};

static uint32_t selector_lanes(const void *config, const char **lanes,
			       uint32_t max)
{
	const struct selector_cfg *c = config;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->lanes.n && n + 1 < max; i++)
		lanes[n++] = c->lanes.keys[i];
	lanes[n++] = "default";
	return n;
}

struct writer_cfg {
	char *dir;
};
static const struct sp_option writer_opts[] = {
	{ .name = "dir", .type = SP_OPT_STRING, .required = true,
	  .offset = offsetof(struct writer_cfg, dir) },
	{ 0 },
};

struct finisher_cfg {
	struct sp_strlist on;
};
static const struct sp_option finisher_opts[] = {
	{ .name = "on", .type = SP_OPT_STRING_LIST, .def = "no-more-data",
	  .offset = offsetof(struct finisher_cfg, on) },
	{ 0 },
};

static const struct sp_stage_desc descs[] = {
	{ .abi = SP_STAGE_ABI, .name = "file_reader", .kind = SP_ORIGIN,
	  .options = reader_opts, .config_size = sizeof(struct reader_cfg) },
	{ .abi = SP_STAGE_ABI, .name = "field_remover", .kind = SP_PROCESSOR,
	  .options = remover_opts, .config_size = sizeof(struct remover_cfg) },
	{ .abi = SP_STAGE_ABI, .name = "field_renamer", .kind = SP_PROCESSOR,
	  .options = renamer_opts, .config_size = sizeof(struct renamer_cfg) },
	{ .abi = SP_STAGE_ABI, .name = "stream_selector", .kind = SP_PROCESSOR,
	  .options = selector_opts, .config_size = sizeof(struct selector_cfg),
	  .lanes = selector_lanes },
	{ .abi = SP_STAGE_ABI, .name = "filter", .kind = SP_PROCESSOR,
	  .options = NULL, .config_size = 0 },
	{ .abi = SP_STAGE_ABI, .name = "file_writer", .kind = SP_DESTINATION,
	  .options = writer_opts, .config_size = sizeof(struct writer_cfg) },
	{ .abi = SP_STAGE_ABI, .name = "pipeline_finisher",
	  .kind = SP_EXECUTOR, .options = finisher_opts,
	  .config_size = sizeof(struct finisher_cfg) },
};

static const struct sp_stage_desc *lookup(const char *type, bool origin)
{
	(void)origin;
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (strcmp(descs[i].name, type) == 0)
			return &descs[i];
	return NULL;
}

/* ---- helpers ------------------------------------------------------------ */

static const char design_flow[] =
	"name: expenses                 # required, [A-Za-z0-9_-]+\n"
	"workers: 2                     # optional; default: CPUs this process may use\n"
	"error_stage: errors            # optional: destination id that receives error records\n"
	"stages:\n"
	"  - id: src                    # unique, [A-Za-z0-9_]+\n"
	"    type: file_reader\n"
	"    path: data/*.jsonl         # glob or list; relative to the flow file's folder\n"
	"    format: jsonl              # jsonl | csv\n"
	"  - id: drop\n"
	"    type: field_remover\n"
	"    inputs: [src]\n"
	"    fields: [/tags]\n"
	"  - id: rename\n"
	"    type: field_renamer\n"
	"    inputs: [drop]\n"
	"    fields: {/user: /user_name}\n"
	"  - id: split\n"
	"    type: stream_selector\n"
	"    inputs: [rename]\n"
	"    lanes:                     # ordered; records matching none go to `default`\n"
	"      high: '${record:value(\"/expense\") >= 10000}'\n"
	"      low: '${record:value(\"/expense\") < -10000}'\n"
	"  - {id: out_high, type: file_writer, inputs: [split.high], dir: out/high}\n"
	"  - {id: out_low,  type: file_writer, inputs: [split.low],  dir: out/low}\n"
	"  - {id: out_rest, type: file_writer, inputs: [split.default], dir: out/rest}\n"
	"  - {id: errors,   type: file_writer, dir: out/errors}\n"
	"  - {id: done, type: pipeline_finisher, event_inputs: [src]}\n";

static char *save(const struct sp_flow *f)
{
	struct sp_buf b;

	sp_buf_init(&b);
	cr_assert_eq(sp_flow_save_yaml(f, &b), 0);
	sp_buf_putc(&b, '\0');
	return b.data;
}

static struct sp_flow *load_ok(const char *yaml)
{
	struct sp_diags d;
	struct sp_flow *f = NULL;
	char *t;

	sp_diags_init(&d, "flow.yaml");
	cr_assert_eq(sp_flow_load_string(yaml, "flow.yaml", &f, &d), 0);
	t = diags_text(&d);
	cr_assert_str_eq(t, "");
	free(t);
	sp_diags_fini(&d);
	return f;
}

/* Loads yaml, validates it and returns every message (load + validate). */
static char *problems_of(const char *yaml)
{
	struct sp_diags d;
	struct sp_flow *f = NULL;
	char *t;
	int r;

	sp_diags_init(&d, "flow.yaml");
	r = sp_flow_load_string(yaml, "flow.yaml", &f, &d);
	if (r == 0) {
		int n = sp_flow_validate(f, lookup, &d);

		cr_assert_geq(n, 0);
		cr_assert_eq(f->valid, n == 0);
	} else {
		cr_assert_null(f);
		cr_assert_gt(d.n, 0);
	}
	t = diags_text(&d);
	sp_flow_destroy(f);
	sp_diags_fini(&d);
	return t;
}

static void expect_problems(const char *yaml, const char *want)
{
	char *got = problems_of(yaml);

	cr_assert_str_eq(got, want);
	free(got);
}

#define HEAD "name: t\nstages:\n  - {id: src, type: file_reader, path: x}\n"

/* ---- loading the DESIGN example ---------------------------------------- */

Test(flow, design_example_loads_exactly)
{
	struct sp_flow *f = load_ok(design_flow);
	struct sp_diags d;
	static const char *const ids[] = { "src",      "drop",    "rename",
					   "split",    "out_high", "out_low",
					   "out_rest", "errors",  "done" };
	static const uint32_t lines[] = { 5, 9, 13, 17, 23, 24, 25, 26, 27 };
	const struct sp_node *lanes, *fields;

	cr_assert_str_eq(f->name, "expenses");
	cr_assert_eq(f->workers, 2);
	cr_assert_str_eq(f->error_stage, "errors");
	cr_assert_eq(f->line_name, 1);
	cr_assert_eq(f->line_workers, 2);
	cr_assert_eq(f->line_error_stage, 3);
	cr_assert_str_eq(f->dir, ".");
	cr_assert_eq(f->nstages, 9);
	for (uint32_t i = 0; i < 9; i++) {
		cr_assert_str_eq(f->stages[i]->id, ids[i]);
		cr_assert_eq(f->stages[i]->line, lines[i], "%s line %u",
			     ids[i], f->stages[i]->line);
	}
	cr_assert_str_eq(f->stages[0]->type, "file_reader");
	cr_assert_str_eq(
		sp_node_map_get(f->stages[0]->config, "path")->text,
		"data/*.jsonl");
	cr_assert_eq(sp_node_map_get(f->stages[0]->config, "path")->line, 7);
	cr_assert_eq(f->stages[0]->config->n, 2);
	cr_assert_eq(f->stages[4]->inputs.n, 1);
	cr_assert_str_eq(f->stages[4]->inputs.v[0], "split.high");
	cr_assert_str_eq(f->stages[8]->event_inputs.v[0], "src");
	fields = sp_node_map_get(f->stages[2]->config, "fields");
	cr_assert_eq(fields->kind, SP_NODE_MAP);
	cr_assert_str_eq(fields->keys[0], "/user");
	cr_assert_str_eq(fields->items[0]->text, "/user_name");
	lanes = sp_node_map_get(f->stages[3]->config, "lanes");
	cr_assert_eq(lanes->kind, SP_NODE_MAP);
	cr_assert_eq(lanes->n, 2);
	cr_assert_eq(lanes->line, 20);
	cr_assert_str_eq(lanes->keys[0], "high");
	cr_assert_str_eq(lanes->keys[1], "low");
	cr_assert_str_eq(lanes->items[0]->text,
			 "${record:value(\"/expense\") >= 10000}");
	cr_assert(lanes->items[0]->quoted);
	cr_assert_eq(lanes->items[1]->line, 22);

	sp_diags_init(&d, "flow.yaml");
	cr_assert_eq(sp_flow_validate(f, lookup, &d), 0);
	cr_assert_eq(d.n, 0);
	cr_assert(f->valid);

	/* edges in consumer order, then input order */
	static const struct sp_edge want[] = {
		{ 0, 0, 1 }, { 1, 0, 2 }, { 2, 0, 3 },
		{ 3, 0, 4 }, { 3, 1, 5 }, { 3, 2, 6 },
	};
	cr_assert_eq(f->nedges, 6);
	for (uint32_t i = 0; i < 6; i++) {
		cr_assert_eq(f->edges[i].from, want[i].from, "edge %u", i);
		cr_assert_eq(f->edges[i].lane, want[i].lane, "edge %u", i);
		cr_assert_eq(f->edges[i].to, want[i].to, "edge %u", i);
	}
	cr_assert_eq(f->nevent_edges, 1);
	cr_assert_eq(f->event_edges[0].from, 0);
	cr_assert_eq(f->event_edges[0].to, 8);
	cr_assert_eq(f->error_stage_index, 7);

	/* lanes and bound options */
	cr_assert_eq(f->stages[3]->nlanes, 3);
	cr_assert_str_eq(f->stages[3]->lanes[0], "high");
	cr_assert_str_eq(f->stages[3]->lanes[1], "low");
	cr_assert_str_eq(f->stages[3]->lanes[2], "default");
	cr_assert_eq(f->stages[0]->nlanes, 1);
	cr_assert_str_eq(f->stages[0]->lanes[0], "");
	{
		const struct reader_cfg *rc = f->stages[0]->bound;
		const struct selector_cfg *sc = f->stages[3]->bound;
		const struct finisher_cfg *fc = f->stages[8]->bound;

		cr_assert_str_eq(rc->path, "data/*.jsonl");
		cr_assert_eq(rc->format, 0); /* jsonl */
		cr_assert_eq(sc->mode, 0);   /* all */
		cr_assert_eq(sc->lanes.n, 2);
		cr_assert_eq(fc->on.n, 1);
		cr_assert_str_eq(fc->on.v[0], "no-more-data");
	}
	/* with an error_stage, stages default to to_error; the error stage
	 * itself to discard */
	cr_assert_eq(f->stages[0]->on_error, SP_ON_ERROR_TO_ERROR);
	cr_assert_eq(f->stages[7]->on_error, SP_ON_ERROR_DISCARD);

	/* validating again frees and rebuilds the binding */
	cr_assert_eq(sp_flow_validate(f, lookup, &d), 0);
	cr_assert_eq(f->nedges, 6);
	sp_diags_fini(&d);
	sp_flow_destroy(f);
}

Test(flow, default_on_record_error_without_error_stage_is_discard)
{
	struct sp_flow *f = load_ok(
		HEAD "  - {id: w, type: file_writer, inputs: [src], dir: o,"
		     " on_record_error: stop}\n");
	struct sp_diags d;

	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_flow_validate(f, lookup, &d), 0);
	cr_assert_eq(f->stages[0]->on_error, SP_ON_ERROR_DISCARD);
	cr_assert_eq(f->stages[1]->on_error, SP_ON_ERROR_STOP);
	cr_assert_eq(f->error_stage_index, UINT32_MAX);
	sp_diags_fini(&d);
	sp_flow_destroy(f);
}

Test(flow, load_file_sets_file_and_dir)
{
	char dir[] = "/tmp/spate_flow_testXXXXXX";
	char path[256];
	struct sp_diags d;
	struct sp_flow *f = NULL;
	FILE *fp;

	cr_assert_not_null(mkdtemp(dir));
	snprintf(path, sizeof(path), "%s/flow.yaml", dir);
	fp = fopen(path, "w");
	cr_assert_not_null(fp);
	fputs(design_flow, fp);
	fclose(fp);
	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_flow_load_file(path, &f, &d), 0);
	cr_assert_eq(d.n, 0);
	cr_assert_str_eq(f->file, path);
	cr_assert_str_eq(f->dir, dir);
	cr_assert_eq(f->nstages, 9);
	sp_flow_destroy(f);
	sp_diags_fini(&d);
	unlink(path);
	rmdir(dir);

	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_flow_load_file("/nonexistent/flow.yaml", &f, &d),
		     -ENOENT);
	cr_assert_null(f);
	{
		char *t = diags_text(&d);

		cr_assert_str_eq(t, "/nonexistent/flow.yaml: cannot open: "
				    "No such file or directory\n");
		free(t);
	}
	sp_diags_fini(&d);
}

/* ---- invalid flows: exact messages and lines ---------------------------- */

Test(flow, bad_lane_reference)
{
	expect_problems(
		HEAD "  - id: split\n"
		     "    type: stream_selector\n"
		     "    inputs: [src]\n"
		     "    lanes: {high: a, low: b}\n"
		     "  - {id: out_high, type: file_writer, inputs: [split.hgh], dir: o}\n",
		"flow.yaml:8: stage 'out_high': input 'split.hgh': stage "
		"'split' has no lane 'hgh' (lanes: high, low, default)\n");
}

Test(flow, plain_reference_to_a_stage_with_lanes)
{
	expect_problems(
		HEAD "  - {id: split, type: stream_selector, inputs: [src], lanes: {high: a}}\n"
		     "  - {id: out, type: file_writer, inputs: [split], dir: o}\n",
		"flow.yaml:5: stage 'out': input 'split': stage 'split' has "
		"lanes; name one: split.high, split.default\n");
}

Test(flow, lane_on_a_single_output_stage)
{
	expect_problems(
		HEAD "  - {id: out, type: file_writer, inputs: [src.x], dir: o}\n",
		"flow.yaml:4: stage 'out': input 'src.x': stage 'src' has a "
		"single output without lanes; use 'src'\n");
}

Test(flow, unknown_type_with_suggestion)
{
	expect_problems(
		HEAD "  - {id: x, type: fitler, inputs: [src]}\n"
		     "  - {id: y, type: zzz, inputs: [src]}\n",
		"flow.yaml:4: stage 'x': unknown stage type 'fitler' (did you "
		"mean 'filter'?)\n"
		"flow.yaml:5: stage 'y': unknown stage type 'zzz'\n");
}

Test(flow, unknown_option_and_bad_choice)
{
	expect_problems(
		"name: t\n"
		"stages:\n"
		"  - id: src\n"
		"    type: file_reader\n"
		"    path: x\n"
		"    format: jsn\n"
		"  - id: out\n"
		"    type: file_writer\n"
		"    inputs: [src]\n"
		"    dri: o\n"
		"    input: [src]\n",
		"flow.yaml:6: stage 'src': option 'format': \"jsn\" is not one "
		"of jsonl, csv (did you mean jsonl?)\n"
		"flow.yaml:10: stage 'out': unknown option 'dri' (did you mean "
		"'dir'?)\n"
		"flow.yaml:11: stage 'out': unknown option 'input' (did you "
		"mean 'inputs'?)\n"
		"flow.yaml:7: stage 'out': option 'dir': required option is "
		"missing\n");
}

Test(flow, cycle_names_its_stages)
{
	expect_problems(
		HEAD "  - {id: a, type: field_remover, inputs: [src, c], fields: x}\n"
		     "  - {id: b, type: field_remover, inputs: [a], fields: x}\n"
		     "  - {id: c, type: field_remover, inputs: [b], fields: x}\n"
		     "  - {id: out, type: file_writer, inputs: [c], dir: o}\n",
		"flow.yaml:4: cycle: a -> b -> c -> a\n");
}

Test(flow, unreachable_stage)
{
	expect_problems(
		HEAD "  - {id: a, type: field_remover, inputs: [b], fields: x}\n"
		     "  - {id: b, type: field_remover, inputs: [a], fields: x}\n"
		     "  - {id: out, type: file_writer, inputs: [src], dir: o}\n"
		     "  - {id: orphan, type: file_writer, inputs: [a], dir: o}\n"
		     "  - {id: fin, type: pipeline_finisher, event_inputs: [orphan]}\n",
		"flow.yaml:4: cycle: a -> b -> a\n"
		"flow.yaml:7: stage 'orphan': unreachable: no origin feeds "
		"this stage\n"
		"flow.yaml:8: stage 'fin': unreachable: no origin feeds this "
		"stage\n");
}

Test(flow, kinds_and_connections)
{
	expect_problems(
		"name: t\n"
		"error_stage: p\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: x, inputs: [src2]}\n"
		"  - {id: src2, type: file_reader, path: y, event_inputs: [src]}\n"
		"  - {id: p, type: field_remover, fields: x}\n"
		"  - {id: out, type: file_writer, dir: o, inputs: [src, src, nope, srx]}\n"
		"  - {id: w2, type: file_writer, dir: o, inputs: [out]}\n"
		"  - {id: fin, type: pipeline_finisher, inputs: [src]}\n"
		"  - {id: fin2, type: pipeline_finisher}\n"
		"  - {id: self, type: field_remover, fields: x, inputs: [self]}\n",
		"flow.yaml:2: error_stage 'p' is a processor; it must be a "
		"destination\n"
		"flow.yaml:4: stage 'src': an origin cannot have inputs\n"
		"flow.yaml:5: stage 'src2': an origin cannot take event_inputs "
		"(only executors and destinations do)\n"
		"flow.yaml:6: stage 'p': a processor needs inputs\n"
		"flow.yaml:7: stage 'out': input 'src' is listed twice\n"
		"flow.yaml:7: stage 'out': input 'nope': no stage 'nope' in "
		"this flow\n"
		"flow.yaml:7: stage 'out': input 'srx': no stage 'srx' in this "
		"flow (did you mean 'src'?)\n"
		"flow.yaml:8: stage 'w2': input 'out': stage 'out' is a "
		"destination and has no output (only origins and processors "
		"do)\n"
		"flow.yaml:9: stage 'fin': an executor takes event_inputs, not "
		"inputs\n"
		"flow.yaml:10: stage 'fin2': an executor needs event_inputs\n"
		"flow.yaml:11: stage 'self': input 'self': a stage cannot be "
		"its own input\n"
		"flow.yaml:4: cycle: src -> src2 -> src\n");
}

Test(flow, error_stage_to_error_is_explicit_only)
{
	/* p above got to_error by default only because it was the error
	 * stage's own policy; an explicit one on a flow without error_stage
	 * is a problem too */
	expect_problems(
		HEAD "  - {id: out, type: file_writer, inputs: [src], dir: o,"
		     " on_record_error: to_error}\n"
		     "  - {id: o2, type: file_writer, inputs: [src], dir: o,"
		     " on_record_error: dicard}\n",
		"flow.yaml:4: stage 'out': option 'on_record_error': to_error "
		"needs an error_stage in the flow\n"
		"flow.yaml:5: stage 'o2': option 'on_record_error': \"dicard\" "
		"is not one of discard, to_error, stop (did you mean "
		"discard?)\n");
}

Test(flow, ids_names_workers)
{
	expect_problems(
		"name: bad name\n"
		"workers: 0\n"
		"error_stage: eror\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: x}\n"
		"  - {id: src, type: file_reader, path: y}\n"
		"  - {id: a.b, type: file_reader, path: z}\n"
		"  - {id: errors, type: file_writer, dir: e}\n",
		"flow.yaml:1: flow name 'bad name' may only use letters, "
		"digits, '_' and '-'\n"
		"flow.yaml:2: workers: 0 is out of range (1..1024)\n"
		"flow.yaml:6: duplicate stage id 'src' (first at line 5)\n"
		"flow.yaml:7: stage id 'a.b' may only use letters, digits and "
		"'_'\n"
		"flow.yaml:3: error_stage 'eror' is not a stage of this flow "
		"(did you mean 'errors'?)\n"
		"flow.yaml:8: stage 'errors': a destination needs inputs\n");
	expect_problems("name: t\nworkers: 2000\nstages: []\n",
			"flow.yaml:2: workers: 2000 is out of range "
			"(1..1024)\n"
			"flow.yaml: the flow has no stages\n");
}

Test(flow, structural_problems_at_load)
{
	expect_problems(
		"nme: t\n"
		"workers: many\n"
		"stages:\n"
		"  - {type: file_reader, path: x}\n"
		"  - {id: y}\n"
		"  - just text\n"
		"  - {id: z, type: file_reader, path: x, inputs: {a: b}}\n"
		"  - {id: w, type: file_reader, path: x, path: y}\n",
		"flow.yaml:8: duplicate key 'path' (first at line 8)\n"
		"flow.yaml:1: unknown key 'nme' (did you mean 'name'?)\n"
		"flow.yaml:2: workers: \"many\" is not an integer\n"
		"flow.yaml:4: stages: item 1 has no id\n"
		"flow.yaml:5: stage 'y': stage has no type\n"
		"flow.yaml:6: stages: item 3: expected a map with id and type, "
		"got a scalar\n"
		"flow.yaml:7: stage 'z': inputs: expected a list, got a map\n"
		"flow.yaml: the flow has no name (name: my_flow)\n"
		/* validation then sees what was loaded */
		"flow.yaml: the flow has no name\n");
}

Test(flow, yaml_syntax_errors)
{
	expect_problems("name: t\nstages:\n  - {id: a, type: [x\n",
			"flow.yaml:4: YAML syntax: while parsing a flow "
			"sequence, did not find expected ',' or ']'\n");
	expect_problems("name: t\n  bad: indent\n",
			"flow.yaml:2: YAML syntax: mapping values are not "
			"allowed in this context\n");
	expect_problems("- a\n- b\n",
			"flow.yaml:1: a flow file is a map (name:, stages: "
			"...), got a list\n");
	expect_problems("# nothing\n", "flow.yaml: the flow file is empty\n");
	expect_problems("name: &n t\nstages: *n\n",
			"flow.yaml:2: aliases (*n) are not supported; repeat "
			"the value\n");
	expect_problems("name: t\n---\nname: u\n",
			"flow.yaml:2: more than one YAML document; a flow "
			"file holds one\n");
}

Test(flow, deep_nesting_is_refused)
{
	struct sp_buf b;
	char *got;

	sp_buf_init(&b);
	sp_buf_append(&b, "name: ", 6);
	for (int i = 0; i < 100; i++)
		sp_buf_putc(&b, '[');
	for (int i = 0; i < 100; i++)
		sp_buf_putc(&b, ']');
	sp_buf_append(&b, "\n", 2);
	got = problems_of(b.data);
	cr_assert_str_eq(got, "flow.yaml:1: nested deeper than 64 levels\n");
	free(got);
	sp_buf_fini(&b);
}

/* ---- saving ------------------------------------------------------------- */

Test(flow, save_design_example)
{
	struct sp_flow *f = load_ok(design_flow), *g;
	char *a, *b;

	a = save(f);
	cr_assert_str_eq(a, expenses_saved_yaml);
	g = load_ok(a);
	b = save(g);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	sp_flow_destroy(f);
	sp_flow_destroy(g);
}

Test(flow, save_quotes_what_needs_it)
{
	static const char in[] =
		"name: q\n"
		"plugins: [./a.so, 'b c.so']\n"
		"stages:\n"
		"  - id: s\n"
		"    type: t\n"
		"    on_record_error: stop\n"
		"    num: \"007\"\n"
		"    plain: 007\n"
		"    empty: ''\n"
		"    null_value:\n"
		"    colon: 'a: b'\n"
		"    hash: 'a #b'\n"
		"    star: '*x'\n"
		"    dash: -3\n"
		"    lead: ' x'\n"
		"    tab: \"\\t\"\n"
		"    nl: \"a\\nb\"\n"
		"    quote: \"it's\"\n"
		"    uni: \"caf\\u00e9 \\u0085x\"\n"
		"    block: |\n"
		"      line one\n"
		"      line two\n"
		"    emptylist: []\n"
		"    emptymap: {}\n"
		"    schema:\n"
		"      - {name: a, type: int}\n"
		"      - name: b\n"
		"        type: string\n"
		"    nested: [[a, b], {k: v}]\n"
		"    'key: x': 1\n";
	static const char want[] =
		"name: q\n"
		"plugins: [./a.so, b c.so]\n"
		"stages:\n"
		"  - id: s\n"
		"    type: t\n"
		"    on_record_error: stop\n"
		"    num: '007'\n"
		"    plain: 007\n"
		"    empty: ''\n"
		"    null_value: ~\n"
		"    colon: 'a: b'\n"
		"    hash: 'a #b'\n"
		"    star: '*x'\n"
		"    dash: -3\n"
		"    lead: ' x'\n"
		"    tab: \"\\t\"\n"
		"    nl: \"a\\nb\"\n"
		"    quote: 'it''s'\n"
		"    uni: \"caf\xc3\xa9 \\x85x\"\n"
		"    block: \"line one\\nline two\\n\"\n"
		"    emptylist: []\n"
		"    emptymap: {}\n"
		"    schema:\n"
		"      - name: a\n"
		"        type: int\n"
		"      - name: b\n"
		"        type: string\n"
		"    nested:\n"
		"      - [a, b]\n"
		"      - k: v\n"
		"    'key: x': 1\n";
	struct sp_flow *f = load_ok(in), *g;
	char *a, *b;

	a = save(f);
	cr_assert_str_eq(a, want);
	g = load_ok(a);
	b = save(g);
	cr_assert_str_eq(a, b);
	cr_assert(sp_node_map_get(g->stages[0]->config, "num")->quoted);
	cr_assert_not(sp_node_map_get(g->stages[0]->config, "plain")->quoted);
	cr_assert_str_eq(sp_node_map_get(g->stages[0]->config, "uni")->text,
			 "caf\xc3\xa9 \xc2\x85x");
	cr_assert_str_eq(g->plugins.v[1], "b c.so");
	free(a);
	free(b);
	sp_flow_destroy(f);
	sp_flow_destroy(g);
}

/* A literal ${param: or ${env: (written $${ in the file) is saved as $${
 * again, in option values and in the flow's own fields, so that the saved
 * file loads without a parameter problem and gives the same text (a case
 * flow_fuzz found). */
Test(flow, save_keeps_literal_parameter_text_literal)
{
	static const char in[] =
		"name: $${param:n}\n"
		"stages:\n"
		"  - id: s\n"
		"    type: t\n"
		"    a: 'x $${env:HOME} $${param:p:-d} ${record:value(\"/a\")}'\n"
		"    list: ['$${param:q}']\n";
	struct sp_flow *f = load_ok(in), *g;
	char *a, *b;

	cr_assert_str_eq(f->name, "${param:n}");
	cr_assert_str_eq(sp_node_map_get(f->stages[0]->config, "a")->text,
			 "x ${env:HOME} ${param:p:-d} ${record:value(\"/a\")}");
	a = save(f);
	g = load_ok(a);
	cr_assert_str_eq(g->name, "${param:n}");
	cr_assert_str_eq(sp_node_map_get(g->stages[0]->config, "a")->text,
			 "x ${env:HOME} ${param:p:-d} ${record:value(\"/a\")}");
	b = save(g);
	cr_assert_str_eq(a, b);
	free(a);
	free(b);
	sp_flow_destroy(f);
	sp_flow_destroy(g);
}

/* ---- editing ------------------------------------------------------------ */

Test(flow, set_option_overrides)
{
	struct sp_flow *f = load_ok(design_flow);
	struct sp_diags d;
	char *t;

	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_flow_set_option(f, "split.mode=first_match", &d), 0);
	cr_assert_eq(sp_flow_set_option(f, "out_high.dir=/tmp/x", &d), 0);
	cr_assert_eq(sp_flow_set_option(f, "split.lanes.mid=${1 > 0}", &d),
		     0);
	cr_assert_eq(sp_flow_set_option(f, "drop.fields=[/a, /b]", &d), 0);
	cr_assert_eq(sp_flow_set_option(f, "src.on_record_error=stop", &d),
		     0);
	cr_assert_eq(sp_flow_set_option(f, "workers=8", &d), 0);
	cr_assert_eq(d.n, 0);
	cr_assert_str_eq(
		sp_node_map_get(f->stages[3]->config, "mode")->text,
		"first_match");
	cr_assert_str_eq(
		sp_node_map_get(f->stages[4]->config, "dir")->text, "/tmp/x");
	cr_assert_eq(sp_node_map_get(f->stages[3]->config, "lanes")->n, 3);
	cr_assert_eq(sp_node_map_get(f->stages[1]->config, "fields")->n, 2);
	cr_assert_str_eq(f->stages[0]->on_record_error, "stop");
	cr_assert_eq(f->workers, 8);

	cr_assert_eq(sp_flow_set_option(f, "splt.mode=all", &d), -EINVAL);
	cr_assert_eq(sp_flow_set_option(f, "nothing", &d), -EINVAL);
	cr_assert_eq(sp_flow_set_option(f, "split.inputs=[src]", &d),
		     -EINVAL);
	cr_assert_eq(sp_flow_set_option(f, "split.lanes={a: [b", &d),
		     -EINVAL);
	t = diags_text(&d);
	cr_assert_str_eq(
		t,
		"--set 'splt.mode=all': no stage 'splt' in this flow (did you "
		"mean 'split'?)\n"
		"--set 'nothing': expected stage.option=value\n"
		"stage 'split': option 'inputs': --set can change options, not "
		"the graph\n"
		"stage 'split': option 'lanes': --set 'split.lanes={a: [b': "
		"YAML syntax: while parsing a flow sequence, did not "
		"find expected ',' or ']'\n");
	free(t);
	sp_diags_fini(&d);

	/* the new values bind */
	sp_diags_init(&d, NULL);
	cr_assert_eq(sp_flow_validate(f, lookup, &d), 0);
	cr_assert_eq(f->stages[3]->nlanes, 4);
	cr_assert_str_eq(f->stages[3]->lanes[2], "mid");
	sp_diags_fini(&d);
	sp_flow_destroy(f);
}

Test(flow, remove_stage_disconnects_it)
{
	struct sp_flow *f = load_ok(design_flow);
	struct sp_diags d;
	char *t;

	cr_assert_eq(sp_flow_remove_stage(f, "split"), 0);
	cr_assert_eq(sp_flow_remove_stage(f, "split"), -ENOENT);
	cr_assert_eq(f->nstages, 8);
	cr_assert_null(sp_flow_find(f, "split"));
	cr_assert_eq(sp_flow_find(f, "out_high")->inputs.n, 0);
	cr_assert_eq(sp_flow_remove_stage(f, "src"), 0);
	cr_assert_eq(sp_flow_find(f, "done")->event_inputs.n, 0);
	cr_assert_eq(sp_flow_find(f, "drop")->inputs.n, 0);
	cr_assert_eq(sp_flow_remove_stage(f, "errors"), 0);
	cr_assert_null(f->error_stage);
	cr_assert_eq(sp_flow_index(f, sp_flow_find(f, "done")), 5);

	sp_diags_init(&d, "flow.yaml");
	cr_assert_eq(sp_flow_validate(f, lookup, &d), 6);
	t = diags_text(&d);
	cr_assert_str_eq(t,
			 "flow.yaml:9: stage 'drop': a processor needs inputs\n"
			 "flow.yaml:23: stage 'out_high': a destination needs "
			 "inputs\n"
			 "flow.yaml:24: stage 'out_low': a destination needs "
			 "inputs\n"
			 "flow.yaml:25: stage 'out_rest': a destination needs "
			 "inputs\n"
			 "flow.yaml:27: stage 'done': an executor needs "
			 "event_inputs\n"
			 "flow.yaml:13: stage 'rename': unreachable: no origin "
			 "feeds this stage\n");
	free(t);
	sp_diags_fini(&d);
	sp_flow_destroy(f);
}
