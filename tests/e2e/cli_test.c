/*
 * End-to-end tests of the spate command line: --version and --help,
 * unknown commands and options, `spate validate` on every kind of
 * invalid flow (exit 2, each problem with file:line), `spate stages`,
 * `spate graph`, --set, --workers, a missing flow file and the --json
 * status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define LIMIT_S 30

static void spate(struct e2e_result *r, const char *cwd,
		  const char *const *argv)
{
	e2e_run_timed(r, cwd, e2e_sync_env, NULL, argv, LIMIT_S);
}

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

/* spate argv in cwd is a usage error: exit 2, stderr exactly err and
 * nothing on stdout. */
static void expect_usage_error(const char *cwd, const char *const *argv,
			       const char *err)
{
	struct e2e_result r;

	spate(&r, cwd, argv);
	cr_assert_eq(r.exit_code, 2, "exit %d\n%s", r.exit_code, r.err);
	cr_assert_str_eq(r.err, err, "--- got\n%s--- want\n%s", r.err, err);
	cr_assert_str_eq(r.out, "", "stdout: %s", r.out);
	e2e_result_free(&r);
}

/* spate argv must succeed, its output starting with head. */
static void expect_output(struct e2e_result *r, const char *const *argv,
			  const char *head)
{
	spate(r, NULL, argv);
	cr_assert_eq(r->exit_code, 0, "exit %d\n%s", r->exit_code, r->err);
	cr_assert(strncmp(r->out, head, strlen(head)) == 0, "%s", r->out);
}

/* spate argv must succeed, its output starting with head and holding each
 * of the NULL-terminated needles. */
static void expect_output_holds(const char *const *argv, const char *head,
				const char *const *needles)
{
	struct e2e_result r;

	expect_output(&r, argv, head);
	for (; *needles; needles++)
		CONTAINS(r.out, *needles);
	e2e_result_free(&r);
}

/* ---- version, help, usage errors -------------------------------------- */

Test(cli, version)
{
	static const char *const argv[] = {"--version", NULL};
	struct e2e_result r;

	expect_output(&r, argv, "spate ");
	cr_assert(r.out[6] >= '0' && r.out[6] <= '9', "%s", r.out);
	cr_assert_eq(e2e_count_lines(r.out, r.out_len), 1);
	cr_assert_str_eq(r.err, "");
	e2e_result_free(&r);
}

Test(cli, help)
{
	static const char *const argv[] = {"--help", NULL};
	static const char *const needles[] = {
	    "  run FLOW ",
	    "  validate FLOW ",
	    "  graph FLOW ",
	    "  stages [TYPE] ",
	    "exit codes: 0 success, 1 the run failed, 2 bad usage "
	    "or invalid flow",
	    NULL};

	expect_output_holds(argv, "usage: spate <command> [options]\n",
			    needles);
}

Test(cli, run_help)
{
	static const char *const argv[] = {"run", "--help", NULL};
	static const char *const needles[] = {
	    "--workers N", "--set STAGE.OPTION=V", "--json", "--force", NULL};

	expect_output_holds(argv, "usage: spate run FLOW [options]\n", needles);
}

Test(cli, no_command_is_usage_error)
{
	static const char *const argv[] = {NULL};
	struct e2e_result r;

	spate(&r, NULL, argv);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "usage: spate <command> [options]");
	e2e_result_free(&r);
}

Test(cli, unknown_command_suggests)
{
	static const char *const argv[] = {"rn", "flow.yaml", NULL};

	expect_usage_error(NULL, argv,
			   "spate: unknown command 'rn' (did you mean "
			   "'run'?)\n");
}

Test(cli, unknown_run_option_suggests)
{
	static const char *const argv[] = {"run", "--wrkers", "2", "f.yaml",
					   NULL};
	struct e2e_result r;

	spate(&r, NULL, argv);
	cr_assert_eq(r.exit_code, 2);
	cr_assert(strncmp(r.err,
			  "spate: unknown option '--wrkers' (did you mean "
			  "'--workers'?)\n",
			  59) == 0,
		  "%s", r.err);
	e2e_result_free(&r);
}

Test(cli, bad_workers_value)
{
	static const char *const argv[] = {"run", "f.yaml", "--workers", "0",
					   NULL};

	expect_usage_error(NULL, argv,
			   "spate: --workers 0: give a number from 1 to "
			   "1024\n");
}

/* With --json, a bad command line still answers on stdout: one status
 * object "usage" with what was wrong (even when --json comes after the
 * argument that stopped the parsing), exit 2, the message on stderr. */
Test(cli, usage_error_with_json_prints_a_status)
{
	static const struct {
		const char *argv[7];
		const char *out, *err;
	} cases[] = {
	    {{"run", "x.yaml", "--bogus", "--json", NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--bogus\",\"message\":\"unknown option "
	     "'--bogus'\"}]}\n",
	     "spate: unknown option '--bogus'\n\nusage: spate run FLOW"},
	    {{"run", "x.yaml", "--json", "--wrkers", "2", NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--wrkers\",\"message\":\"unknown option "
	     "'--wrkers' (did you mean '--workers'?)\"}]}\n",
	     "spate: unknown option '--wrkers' (did you mean '--workers'?)\n"},
	    {{"run", "--json", NULL},
	     "{\"flow\":null,\"file\":null,\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":null,\"message\":\"which flow? give a flow "
	     "file\"}]}\n",
	     "spate: which flow? give a flow file\n"},
	    {{"run", "x.yaml", "--workers", "0", "--json", NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--workers\",\"message\":\"--workers 0: give a "
	     "number from 1 to 1024\"}]}\n",
	     "spate: --workers 0: give a number from 1 to 1024\n"},
	    {{"run", "x.yaml", "y.yaml", "--json", NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":null,\"message\":\"one flow file at a time "
	     "('x.yaml' and 'y.yaml')\"}]}\n",
	     "spate: one flow file at a time ('x.yaml' and 'y.yaml')\n"},
	    {{"validate", "x.yaml", "--json", "--progress-interval", "1",
	      NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--progress-interval\",\"message\":\"unknown "
	     "option '--progress-interval'\"}]}\n",
	     "spate: unknown option '--progress-interval'\n\nusage: spate "
	     "validate FLOW"},
	    {{"run", "x.yaml", "--json", "--progress-interval", NULL},
	     "{\"flow\":null,\"file\":\"x.yaml\",\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--progress-interval\",\"message\":\""
	     "--progress-interval needs a value\"}]}\n",
	     "spate: --progress-interval needs a value\n"},
	    /* every command that prints JSON does the same */
	    {{"history", "--json", "--bogus", NULL},
	     "{\"flow\":null,\"file\":null,\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--bogus\",\"message\":\"unknown option "
	     "'--bogus'\"}]}\n",
	     "spate: unknown option '--bogus'\n\nusage: spate history"},
	    {{"stages", "--json=1", NULL},
	     "{\"flow\":null,\"file\":null,\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--json\",\"message\":\"--json takes no "
	     "value\"}]}\n",
	     "spate: --json takes no value\n"},
	    {{"stage", "list", "--json", "--bogus", NULL},
	     "{\"flow\":null,\"file\":null,\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--bogus\",\"message\":\"unknown option "
	     "'--bogus'\"}]}\n",
	     "spate: unknown option '--bogus'\n"},
	    {{"jobs", "--nats", "nats://127.0.0.1:1", "--json", "--bogus",
	      NULL},
	     "{\"flow\":null,\"file\":null,\"status\":\"usage\","
	     "\"problems\":[{\"file\":null,\"line\":null,\"stage\":null,"
	     "\"option\":\"--bogus\",\"message\":\"unknown option "
	     "'--bogus'\"}]}\n",
	     "spate: unknown option '--bogus'\n"},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct e2e_result r;

		spate(&r, NULL, cases[i].argv);
		cr_assert_eq(r.exit_code, 2, "%s: exit %d\n%s",
			     cases[i].argv[2], r.exit_code, r.err);
		cr_assert_str_eq(r.out, cases[i].out, "--- got\n%s--- want\n%s",
				 r.out, cases[i].out);
		cr_assert(strncmp(r.err, cases[i].err,
				  strlen(cases[i].err)) == 0,
			  "--- got\n%s--- want\n%s", r.err, cases[i].err);
		e2e_result_free(&r);
	}
}

Test(cli, missing_flow_file)
{
	char *dir = e2e_tmpdir();
	static const char *const argv[] = {"run", "nope.yaml", NULL};

	expect_usage_error(dir, argv,
			   "nope.yaml: cannot open: No such file or directory\n"
			   "spate: nope.yaml: 1 problem; nothing was run\n");
	e2e_rmrf(dir);
	free(dir);
}

/* ---- validate --------------------------------------------------------- */

/* Runs `spate validate flow.yaml` on yaml; the result is in r. */
static void validate(struct e2e_result *r, const char *yaml)
{
	char *dir = e2e_tmpdir();
	static const char *const argv[] = {"validate", "flow.yaml", NULL};

	free(e2e_write(dir, "flow.yaml", yaml, strlen(yaml)));
	spate(r, dir, argv);
	e2e_rmrf(dir);
	free(dir);
}

/* exit 2 and stderr exactly the problems given plus the count line */
static void assert_invalid(const char *yaml, const char *problems, int n)
{
	struct e2e_result r;
	char *want;

	validate(&r, yaml);
	if (asprintf(&want,
		     "%sspate: flow.yaml: %d problem%s; nothing was run\n",
		     problems, n, n == 1 ? "" : "s") < 0)
		abort();
	cr_assert_eq(r.exit_code, 2, "exit %d\n%s%s", r.exit_code, r.out,
		     r.err);
	cr_assert_str_eq(r.err, want, "--- got\n%s--- want\n%s", r.err, want);
	cr_assert_str_eq(r.out, "");
	free(want);
	e2e_result_free(&r);
}

Test(validate, valid_flow)
{
	struct e2e_result r;

	validate(&r, "name: ok\n"
		     "stages:\n"
		     "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		     "  - {id: f, type: filter, inputs: [src], "
		     "condition: '${true}'}\n"
		     "  - {id: t, type: trash, inputs: [f]}\n");
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "flow.yaml: flow 'ok' is valid (3 stages)\n");
	cr_assert_str_eq(r.err, "");
	e2e_result_free(&r);
}

Test(validate, unknown_stage_type)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - id: src\n"
		       "    type: dev_raw_dta\n"
		       "    data: '{}'\n",
		       "flow.yaml:3: stage 'src': unknown stage type "
		       "'dev_raw_dta' (did you mean 'dev_raw_data'?)\n",
		       1);
}

Test(validate, unknown_option)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - id: rm\n"
		       "    type: field_remover\n"
		       "    inputs: [src]\n"
		       "    fields: [/a]\n"
		       "    actoin: keep\n"
		       "  - {id: t, type: trash, inputs: [rm]}\n",
		       "flow.yaml:8: stage 'rm': unknown option 'actoin' (did "
		       "you mean 'action'?)\n",
		       1);
}

Test(validate, wrong_option_type)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - id: gen\n"
		       "    type: dev_data_generator\n"
		       "    records: lots\n"
		       "  - {id: t, type: trash, inputs: [gen]}\n",
		       "flow.yaml:5: stage 'gen': option 'records': \"lots\" "
		       "is not an integer\n",
		       1);
}

Test(validate, missing_required_option)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - id: conv\n"
		       "    type: field_type_converter\n"
		       "    inputs: [src]\n"
		       "  - {id: t, type: trash, inputs: [conv]}\n",
		       "flow.yaml:4: stage 'conv': option 'fields': required "
		       "option is missing\n",
		       1);
}

Test(validate, duplicate_id)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: t, type: trash, inputs: [src]}\n"
		       "  - {id: t, type: trash, inputs: [src]}\n",
		       "flow.yaml:5: duplicate stage id 't' (first at line "
		       "4)\n",
		       1);
}

Test(validate, dangling_input)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: t, type: trash, inputs: [src]}\n"
		       "  - {id: t2, type: trash, inputs: [nowhere]}\n",
		       "flow.yaml:5: stage 't2': input 'nowhere': no stage "
		       "'nowhere' in this flow\n",
		       1);
}

Test(validate, unknown_lane)
{
	assert_invalid(
	    "name: v\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{}'}\n"
	    "  - id: sel\n"
	    "    type: stream_selector\n"
	    "    inputs: [src]\n"
	    "    lanes: {hi: '${record:value(\"/a\") > 1}'}\n"
	    "  - {id: t, type: trash, inputs: [sel.hi, sel.default]}\n"
	    "  - {id: t2, type: trash, inputs: [sel.nolane]}\n",
	    "flow.yaml:9: stage 't2': input 'sel.nolane': stage "
	    "'sel' has no lane 'nolane' (lanes: hi, default)\n",
	    1);
}

Test(validate, cycle)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: a, type: filter, inputs: [src, b], "
		       "condition: '${true}'}\n"
		       "  - {id: b, type: filter, inputs: [a], "
		       "condition: '${true}'}\n"
		       "  - {id: t, type: trash, inputs: [b]}\n",
		       "flow.yaml:4: cycle: a -> b -> a\n", 1);
}

Test(validate, origin_with_inputs)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: src2, type: dev_raw_data, data: '{}', "
		       "inputs: [src]}\n"
		       "  - {id: t, type: trash, inputs: [src2]}\n",
		       "flow.yaml:4: stage 'src2': an origin cannot have "
		       "inputs\n",
		       1);
}

Test(validate, destination_used_as_input)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: out, type: trash, inputs: [src]}\n"
		       "  - {id: after, type: trash, inputs: [out]}\n",
		       "flow.yaml:5: stage 'after': input 'out': stage 'out' "
		       "is a destination and has no output (only origins and "
		       "processors do)\n",
		       1);
}

Test(validate, unreachable_stage)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - {id: t, type: trash, inputs: [src]}\n"
		       "  - {id: p1, type: filter, inputs: [p2], "
		       "condition: '${true}'}\n"
		       "  - {id: p2, type: filter, inputs: [p1], "
		       "condition: '${true}'}\n"
		       "  - {id: t3, type: trash, inputs: [p2]}\n"
		       "  - {id: t4, type: trash}\n",
		       "flow.yaml:8: stage 't4': a destination needs inputs\n"
		       "flow.yaml:5: cycle: p1 -> p2 -> p1\n"
		       "flow.yaml:7: stage 't3': unreachable: no origin feeds "
		       "this stage\n",
		       3);
}

Test(validate, bad_filter_condition_names_the_column)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - id: f\n"
		       "    type: filter\n"
		       "    inputs: [src]\n"
		       "    condition: '${record:value(\"/a\") == }'\n"
		       "  - {id: t, type: trash, inputs: [f]}\n",
		       "flow.yaml:7: stage 'f': option 'condition': expression "
		       "error at column 25: expected a value before the end of "
		       "the expression\n",
		       1);
}

Test(validate, bad_selector_predicate_is_found_before_running)
{
	struct e2e_result r;

	validate(&r, "name: v\n"
		     "stages:\n"
		     "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		     "  - id: sel\n"
		     "    type: stream_selector\n"
		     "    inputs: [src]\n"
		     "    lanes:\n"
		     "      ok: '${record:value(\"/a\") > 1}'\n"
		     "      hi: '${record:value(\"/a\") >> 1}'\n"
		     "  - {id: t, type: trash, inputs: [sel.hi, sel.ok, "
		     "sel.default]}\n");
	cr_assert_eq(r.exit_code, 2,
		     "a bad lane predicate passed validate:\n"
		     "%s%s",
		     r.out, r.err);
	CONTAINS(r.err, "flow.yaml:9: stage 'sel'");
	CONTAINS(r.err, "column 23");
	CONTAINS(r.err, "expected a value but found '>'");
	e2e_result_free(&r);
}

Test(validate, bad_on_record_error)
{
	assert_invalid("name: v\n"
		       "stages:\n"
		       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
		       "  - id: f\n"
		       "    type: filter\n"
		       "    inputs: [src]\n"
		       "    condition: '${true}'\n"
		       "    on_record_error: explode\n"
		       "  - {id: t, type: trash, inputs: [f]}\n",
		       "flow.yaml:8: stage 'f': option 'on_record_error': "
		       "\"explode\" is not one of discard, to_error, stop\n",
		       1);
}

Test(validate, every_problem_is_reported)
{
	assert_invalid(
	    "name: v\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{}'}\n"
	    "  - {id: rm, type: field_remover, inputs: [src], "
	    "feilds: [/a]}\n"
	    "  - {id: gen, type: dev_data_generator, records: lots}\n"
	    "  - {id: t, type: trash, inputs: [rm, gen]}\n"
	    "  - {id: t, type: trash, inputs: [src]}\n"
	    "  - {id: t2, type: trash, inputs: [nowhere]}\n",
	    "flow.yaml:4: stage 'rm': unknown option 'feilds' (did you "
	    "mean 'fields'?)\n"
	    "flow.yaml:4: stage 'rm': option 'fields': required option is "
	    "missing\n"
	    "flow.yaml:5: stage 'gen': option 'records': \"lots\" is not an "
	    "integer\n"
	    "flow.yaml:7: duplicate stage id 't' (first at line 6)\n"
	    "flow.yaml:8: stage 't2': input 'nowhere': no stage 'nowhere' "
	    "in this flow\n",
	    5);
}

Test(validate, set_override_is_checked)
{
	char *dir = e2e_tmpdir();
	static const char yaml[] =
	    "name: v\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 5}\n"
	    "  - {id: t, type: trash, inputs: [gen]}\n";
	static const char *const argv[] = {"validate", "flow.yaml", "--set",
					   "gen.records=many", NULL};
	struct e2e_result r;

	free(e2e_write(dir, "flow.yaml", yaml, sizeof(yaml) - 1));
	spate(&r, dir, argv);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	CONTAINS(r.err, "stage 'gen'");
	CONTAINS(r.err, "many");
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- stages ----------------------------------------------------------- */

Test(cli, stages_lists_every_builtin_type)
{
	static const char *const argv[] = {"stages", NULL};
	static const char *const types[][2] = {
	    {"dev_data_generator", "origin"},
	    {"dev_raw_data", "origin"},
	    {"file_reader", "origin"},
	    {"postgres", "origin"},
	    {"stdin", "origin"},
	    {"field_remover", "processor"},
	    {"field_renamer", "processor"},
	    {"field_setter", "processor"},
	    {"field_type_converter", "processor"},
	    {"filter", "processor"},
	    {"stream_selector", "processor"},
	    {"file_writer", "destination"},
	    {"mysql", "destination"},
	    {"postgres", "destination"},
	    {"sink", "destination"},
	    {"stdout", "destination"},
	    {"trash", "destination"},
	    {"pipeline_finisher", "executor"},
	    {"shell", "executor"},
	};
	struct e2e_result r;

	spate(&r, NULL, argv);
	cr_assert_eq(r.exit_code, 0);
	size_t n = sizeof(types) / sizeof(types[0]);
	cr_assert_eq(e2e_count_lines(r.out, r.out_len), n, "%s", r.out);
	for (size_t i = 0; i < n; i++) {
		char *line;
		if (asprintf(&line, "\n%-22s %-12s ", types[i][0],
			     types[i][1]) < 0)
			abort();
		/* match at the start of a line (the first has no \n) */
		cr_assert(strstr(r.out, line) ||
			      !strncmp(r.out, line + 1, strlen(line) - 1),
			  "no line for %s in\n%s", types[i][0], r.out);
		free(line);
	}
	e2e_result_free(&r);
}

Test(cli, stages_file_writer_options_with_defaults)
{
	static const char *const argv[] = {"stages", "file_writer", NULL};
	static const char *const needles[] = {
	    "\n  dir: string, required\n",
	    "\n  format: enum, one of: jsonl, csv, default: jsonl\n",
	    "\n  compression: enum, one of: zstd, none, default: zstd\n",
	    "\n  level: int, range -7..19, default: 1\n",
	    "\n  max_file_bytes: size, range 0..1000000000000000, default: "
	    "1G\n",
	    "\n  name: string, default: {flow}-{stage}-{seq}.{ext}\n",
	    "\n  ordered: bool, default: false\n",
	    "\n  commit: enum, one of: run, file, default: run\n",
	    "on_record_error",
	    NULL};

	expect_output_holds(argv, "file_writer (destination): ", needles);
}

/* postgres is an origin (no inputs) and a destination: both are shown */
Test(cli, stages_postgres_and_mysql_options)
{
	static const char *const pg[] = {"stages", "postgres", NULL};
	static const char *const my[] = {"stages", "mysql", NULL};
	static const char *const pg_needles[] = {
	    "\n\npostgres (origin): the rows of a PostgreSQL query as "
	    "records",
	    "\n  query: string, required\n",
	    "\n  chunk_size: size, range 4096..1073741824, default: 1M\n",
	    "\n\npostgres (destination): load records into a PostgreSQL "
	    "table",
	    "\n  conninfo: string, required\n",
	    "\n  password_env: string\n",
	    "\n  table: string, required\n",
	    "\n  columns: map\n",
	    NULL};
	static const char *const my_needles[] = {
	    "\n  host: string, default: localhost\n",
	    "\n  port: int, range 1..65535, default: 3306\n",
	    "\n  socket: string\n",
	    "\n  user: string, default: root\n",
	    "\n  password_env: string\n",
	    "\n  database: string\n",
	    "\n  table: string, required\n",
	    "\n  columns: map\n",
	    "\n  method: enum, one of: auto, load_data, insert, default: "
	    "auto\n",
	    NULL};

	expect_output_holds(pg, "postgres is an origin when the stage has no "
				"inputs and a destination when it has "
				"inputs.\n",
			    pg_needles);
	expect_output_holds(my, "mysql (destination): load records into a "
				"MySQL/MariaDB/MatrixOne table",
			    my_needles);
}

Test(cli, stages_unknown_type_suggests)
{
	static const char *const argv[] = {"stages", "file_writr", NULL};

	expect_usage_error(NULL, argv,
			   "spate: unknown stage type 'file_writr' (did you "
			   "mean 'file_writer'?); `spate stages` lists them\n");
}

/* ---- graph ------------------------------------------------------------ */

/* spate graph examples/expenses.yaml [--format format] */
static void graph_expenses(struct e2e_result *r, const char *format)
{
	char *flow = e2e_join(e2e_source_dir(), "examples/expenses.yaml");
	const char *argv[] = {"graph", flow, "--format", format, NULL};

	if (!format)
		argv[2] = NULL;
	spate(r, NULL, argv);
	free(flow);
}

Test(cli, graph_text_of_the_expenses_example)
{
	struct e2e_result r;

	graph_expenses(&r, NULL);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "flow expenses\n"
				"  [origin] src (file_reader)\n"
				"      --> drop\n"
				"      events ~~> done\n"
				"  [processor] drop (field_remover)\n"
				"      --> rename\n"
				"  [processor] rename (field_renamer)\n"
				"      --> split\n"
				"  [processor] split (stream_selector)\n"
				"      high --> out_high\n"
				"      low --> out_low\n"
				"      default --> out_rest\n"
				"  [destination] out_high (file_writer)\n"
				"  [destination] out_low (file_writer)\n"
				"  [destination] out_rest (file_writer)\n"
				"  [destination] errors (file_writer)\n"
				"  [executor] done (pipeline_finisher)\n");
	e2e_result_free(&r);
}

Test(cli, graph_dot_of_the_expenses_example)
{
	struct e2e_result r;

	graph_expenses(&r, "dot");
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(
	    r.out,
	    "digraph \"expenses\" {\n"
	    "  rankdir=LR;\n"
	    "  \"src\" [label=\"src\\nfile_reader\" shape=invhouse];\n"
	    "  \"drop\" [label=\"drop\\nfield_remover\" shape=box];\n"
	    "  \"rename\" [label=\"rename\\nfield_renamer\" shape=box];\n"
	    "  \"split\" [label=\"split\\nstream_selector\" shape=box];\n"
	    "  \"out_high\" [label=\"out_high\\nfile_writer\" shape=house];\n"
	    "  \"out_low\" [label=\"out_low\\nfile_writer\" shape=house];\n"
	    "  \"out_rest\" [label=\"out_rest\\nfile_writer\" shape=house];\n"
	    "  \"errors\" [label=\"errors\\nfile_writer\" shape=house];\n"
	    "  \"done\" [label=\"done\\npipeline_finisher\" shape=octagon];\n"
	    "  \"src\" -> \"drop\" [label=\"\"];\n"
	    "  \"drop\" -> \"rename\" [label=\"\"];\n"
	    "  \"rename\" -> \"split\" [label=\"\"];\n"
	    "  \"split\" -> \"out_high\" [label=\"high\"];\n"
	    "  \"split\" -> \"out_low\" [label=\"low\"];\n"
	    "  \"split\" -> \"out_rest\" [label=\"default\"];\n"
	    "  \"src\" -> \"done\" [style=dashed label=\"events\"];\n"
	    "}\n");
	e2e_result_free(&r);
}

Test(cli, graph_bad_format)
{
	struct e2e_result r;

	graph_expenses(&r, "svg");
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "usage: spate graph FLOW [--format text|dot]");
	e2e_result_free(&r);
}

/* ---- run: --set, --workers, --json ------------------------------------ */

static const char gen_flow[] =
    "name: cli-gen\n"
    "workers: 1\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "    records: 10\n"
    "    batch_size: 7\n"
    "    fields: [{name: id, type: sequence, min: 1}, {name: v, type: "
    "int}]\n"
    "  - id: f\n"
    "    type: field_remover\n"
    "    inputs: [gen]\n"
    "    fields: [/v]\n"
    "  - {id: out, type: file_writer, inputs: [gen], dir: %s, "
    "compression: none, ordered: true}\n"
    "  - {id: t, type: trash, inputs: [f]}\n";

/* A fresh folder with flow.yaml: gen_flow writing into out. */
static char *gen_dir(const char *out)
{
	char *dir = e2e_tmpdir(), *yaml;

	if (asprintf(&yaml, gen_flow, out) < 0)
		abort();
	e2e_put_str(dir, "flow.yaml", yaml);
	free(yaml);
	return dir;
}

static void run_gen(struct e2e_result *r, char **dir, const char *out,
		    const char *const *extra, struct e2e_status *st)
{
	const char *argv[16] = {"run", "flow.yaml", "--json"};
	size_t n = 3;

	*dir = gen_dir(out);
	for (size_t i = 0; extra && extra[i]; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	spate(r, *dir, argv);
	cr_assert_eq(e2e_status_parse(r->out, st), 0, "exit %d\n%s\n%s",
		     r->exit_code, r->out, r->err);
	e2e_status_assert_accounting(st, NULL);
}

Test(cli, json_status_shape)
{
	struct e2e_result r;
	struct e2e_status st;
	char *dir;

	run_gen(&r, &dir, "out", NULL, &st);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	/* one line, the status object only */
	cr_assert_eq(e2e_count_lines(r.out, r.out_len), 1, "%s", r.out);
	cr_assert(strncmp(r.out,
			  "{\"flow\":\"cli-gen\",\"status\":\"finished\","
			  "\"elapsed_s\":",
			  50) == 0,
		  "%s", r.out);
	CONTAINS(r.out, "\"stages\":[{\"id\":\"gen\",\"type\":"
			"\"dev_data_generator\",\"records_in\":10,"
			"\"records_out\":{\"output\":10},\"errors\":0,"
			"\"warnings\":0,\"dropped\":0,\"bytes_in\":");
	cr_assert_str_eq(st.flow, "cli-gen");
	cr_assert_str_eq(st.status, "finished");
	cr_assert_geq(st.elapsed_s, 0.0);
	cr_assert_eq(st.nstages, 4);
	static const char *const ids[] = {"gen", "f", "out", "t"};
	static const char *const types[] = {
	    "dev_data_generator", "field_remover", "file_writer", "trash"};
	for (int i = 0; i < 4; i++) {
		cr_assert_str_eq(st.st[i].id, ids[i]);
		cr_assert_str_eq(st.st[i].type, types[i]);
		cr_assert_eq(st.st[i].seen, E2E_K_ALL);
	}
	const struct e2e_stage_status *f = e2e_status_stage(&st, "f");
	cr_assert_eq(f->records_in, 10);
	cr_assert_eq(f->out[0], 10);
	cr_assert_eq(f->dropped, 0);
	cr_assert_eq(e2e_status_stage(&st, "t")->records_in, 10);
	const struct e2e_stage_status *out = e2e_status_stage(&st, "out");
	cr_assert_eq(out->records_in, 10);
	cr_assert_gt(out->bytes_out, 0);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(cli, set_override_takes_effect)
{
	static const char *const extra[] = {"--set", "gen.records=25", "--set",
					    "out.dir=other", NULL};
	struct e2e_result r;
	struct e2e_status st;
	char *dir, *path;

	run_gen(&r, &dir, "out", extra, &st);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_eq(e2e_status_stage(&st, "gen")->out[0], 25);
	char *text = e2e_read_out(dir, "other", NULL);
	cr_assert_eq(e2e_count_lines(text, strlen(text)), 25, "%s", text);
	cr_assert(strncmp(text, "{\"id\":1,\"v\":", 12) == 0, "%s", text);
	free(text);
	path = e2e_join(dir, "out");
	cr_assert_leq(e2e_count_files(path, NULL, true), 0);
	free(path);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(cli, set_unknown_stage_or_option)
{
	const char *argv[] = {"run", "flow.yaml", "--set", "gen.recrds=25",
			      NULL};
	char *dir = gen_dir("out");
	struct e2e_result r;

	spate(&r, dir, argv);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	CONTAINS(r.err, "stage 'gen'");
	CONTAINS(r.err, "recrds");
	CONTAINS(r.err, "nothing was run");
	e2e_result_free(&r);
	argv[3] = "nosuch.records=1";
	spate(&r, dir, argv);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	CONTAINS(r.err, "nosuch");
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(cli, workers_1_and_2_give_the_same_ordered_output)
{
	static const char *const w1[] = {"--workers", "1", NULL};
	static const char *const w2[] = {"--workers", "2", NULL};
	struct e2e_result r1, r2;
	struct e2e_status s1, s2;
	char *d1, *d2;

	run_gen(&r1, &d1, "out", w1, &s1);
	run_gen(&r2, &d2, "out", w2, &s2);
	cr_assert_eq(r1.exit_code, 0, "%s", r1.err);
	cr_assert_eq(r2.exit_code, 0, "%s", r2.err);
	char *t1 = e2e_read_out(d1, "out", NULL);
	char *t2 = e2e_read_out(d2, "out", NULL);
	cr_assert_eq(e2e_count_lines(t1, strlen(t1)), 10);
	cr_assert_str_eq(t1, t2);
	free(t1);
	free(t2);
	e2e_result_free(&r1);
	e2e_result_free(&r2);
	e2e_rmrf(d1);
	e2e_rmrf(d2);
	free(d1);
	free(d2);
}

Test(cli, summary_without_json)
{
	char *dir = gen_dir("out");
	const char *argv[] = {"run", "flow.yaml", NULL};
	struct e2e_result r;

	spate(&r, dir, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "");
	CONTAINS(r.err, "flow 'cli-gen' finished in ");
	CONTAINS(r.err, " with 1 worker\n");
	CONTAINS(r.err, "\ngen              dev_data_generator  ");
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}
