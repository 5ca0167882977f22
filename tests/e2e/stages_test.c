/*
 * End-to-end tests of every built-in stage type: each runs a tiny flow
 * through the spate binary (dev_raw_data or dev_data_generator in, an
 * ordered uncompressed file_writer or stdout out), compares every output
 * record byte for byte, and checks the --json counters and the accounting
 * invariant of every stage.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define LIMIT_S 30

static const char *const sync_env[] = {"SPATE_IO=sync", NULL};

struct run {
	char *dir;
	struct e2e_result r;
	struct e2e_status st;
};

/* Writes yaml to dir/flow.yaml and runs `spate run flow.yaml --json`
 * with the extra arguments; the status is parsed and its accounting
 * checked for every stage. */
static void run_flow_in(struct run *x, const char *yaml,
			const char *const *extra, const char *const *env,
			const char *in, const char *const *overlap)
{
	const char *argv[32] = {"run", "flow.yaml", "--json"};
	size_t n = 3;

	if (!x->dir)
		x->dir = e2e_tmpdir();
	free(e2e_write(x->dir, "flow.yaml", yaml, strlen(yaml)));
	for (size_t i = 0; extra && extra[i] && n < 31; i++)
		argv[n++] = extra[i];
	argv[n] = NULL;
	e2e_run_timed(&x->r, x->dir, env, in, argv, LIMIT_S);
	int rc = e2e_status_parse(x->r.out, &x->st);
	cr_assert_eq(rc, 0,
		     "no --json status (exit %d)\nstdout:\n%s\nstderr:\n%s",
		     x->r.exit_code, x->r.out, x->r.err);
	e2e_status_assert_accounting(&x->st, overlap);
}

static void run_flow(struct run *x, const char *yaml)
{
	run_flow_in(x, yaml, NULL, NULL, NULL, NULL);
}

static void run_done(struct run *x)
{
	e2e_result_free(&x->r);
	if (x->dir)
		e2e_rmrf(x->dir);
	free(x->dir);
	x->dir = NULL;
}

static void assert_finished(const struct run *x)
{
	cr_assert_eq(x->r.exit_code, 0, "exit %d\nstderr:\n%s", x->r.exit_code,
		     x->r.err);
	cr_assert_str_eq(x->st.status, "finished", "status %s\nstderr:\n%s",
			 x->st.status, x->r.err);
}

/* Output of a file_writer dir (relative to the run's dir). */
static char *out_dir(const struct run *x, const char *sub)
{
	char *path, *text;

	if (asprintf(&path, "%s/%s", x->dir, sub) < 0)
		abort();
	text = e2e_read_dir(path, NULL, NULL);
	free(path);
	return text;
}

static void assert_out(const struct run *x, const char *sub, const char *want)
{
	char *got = out_dir(x, sub);
	cr_assert_str_eq(got, want, "%s:\n--- got\n%s--- want\n%s", sub, got,
			 want);
	free(got);
}

/* What stdout stages wrote (stdout without the status line). */
static void assert_stdout(const struct run *x, const char *want)
{
	size_t n = e2e_status_records_len(x->r.out);
	char *got = strndup(x->r.out, n);
	cr_assert_str_eq(got, want, "stdout:\n--- got\n%s--- want\n%s", got,
			 want);
	free(got);
}

static const struct e2e_stage_status *stage(const struct run *x, const char *id)
{
	const struct e2e_stage_status *s = e2e_status_stage(&x->st, id);
	cr_assert_not_null(s, "no stage '%s' in the status", id);
	return s;
}

/* in, out (single lane), errors, dropped */
static void assert_counts(const struct run *x, const char *id, uint64_t in,
			  uint64_t out, uint64_t errors, uint64_t dropped)
{
	const struct e2e_stage_status *s = stage(x, id);
	cr_assert_eq(s->nlanes, 1, "%s: %u lanes", id, s->nlanes);
	cr_assert_str_eq(s->lane[0], "output", "%s: lane %s", id, s->lane[0]);
	cr_assert_eq(s->records_in, in, "%s: in %llu, want %llu", id,
		     (unsigned long long)s->records_in, (unsigned long long)in);
	cr_assert_eq(s->out[0], out, "%s: out %llu, want %llu", id,
		     (unsigned long long)s->out[0], (unsigned long long)out);
	cr_assert_eq(s->errors, errors, "%s: errors %llu, want %llu", id,
		     (unsigned long long)s->errors, (unsigned long long)errors);
	cr_assert_eq(s->dropped, dropped, "%s: dropped %llu, want %llu", id,
		     (unsigned long long)s->dropped,
		     (unsigned long long)dropped);
}

static uint64_t lane_count(const struct run *x, const char *id,
			   const char *lane)
{
	const struct e2e_stage_status *s = stage(x, id);
	for (uint32_t l = 0; l < s->nlanes; l++)
		if (!strcmp(s->lane[l], lane))
			return s->out[l];
	cr_assert_fail("stage '%s' has no lane '%s'", id, lane);
	return 0;
}

#define SINK(id, in, dir)                                                      \
	"  - {id: " id ", type: file_writer, inputs: [" in "], dir: " dir      \
	", compression: none, ordered: true}\n"

/* ---- field_remover ---------------------------------------------------- */

static const char remover_data[] =
    "  - id: src\n"
    "    type: dev_raw_data\n"
    "    data: |\n"
    "      {\"a\":1,\"b\":\"two\",\"c\":[1,2],\"d\":{\"e\":null}}\n"
    "      {\"b\":2}\n"
    "      {\"d\":4,\"a\":true}\n"
    "      {}\n";

Test(stages, field_remover_remove)
{
	struct run x = {0};
	char *yaml;

	if (asprintf(&yaml,
		     "name: rm\nstages:\n%s"
		     "  - {id: rm, type: field_remover, inputs: [src], "
		     "fields: [/b, /d, /missing]}\n" SINK("out", "rm", "out"),
		     remover_data) < 0)
		abort();
	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out",
		   "{\"a\":1,\"c\":[1,2]}\n"
		   "{}\n"
		   "{\"a\":true}\n"
		   "{}\n");
	assert_counts(&x, "src", 4, 4, 0, 0);
	assert_counts(&x, "rm", 4, 4, 0, 0);
	assert_counts(&x, "out", 4, 4, 0, 0);
	free(yaml);
	run_done(&x);
}

Test(stages, field_remover_keep)
{
	struct run x = {0};
	char *yaml;

	if (asprintf(
		&yaml,
		"name: keep\nstages:\n%s"
		"  - {id: rm, type: field_remover, inputs: [src], "
		"action: keep, fields: [/d, /a]}\n" SINK("out", "rm", "out"),
		remover_data) < 0)
		abort();
	run_flow(&x, yaml);
	assert_finished(&x);
	/* kept fields stay in record order */
	assert_out(&x, "out",
		   "{\"a\":1,\"d\":{\"e\":null}}\n"
		   "{}\n"
		   "{\"d\":4,\"a\":true}\n"
		   "{}\n");
	assert_counts(&x, "rm", 4, 4, 0, 0);
	free(yaml);
	run_done(&x);
}

/* ---- field_renamer ---------------------------------------------------- */

static const char renamer_src[] = "  - id: src\n"
				  "    type: dev_raw_data\n"
				  "    data: |\n"
				  "      {\"a\":1,\"x\":2,\"k\":3}\n"
				  "      {\"a\":4,\"k\":5}\n"
				  "      {\"b\":6}\n";

Test(stages, field_renamer_no_overwrite_rejects)
{
	struct run x = {0};
	char *yaml;

	if (asprintf(&yaml,
		     "name: ren\nerror_stage: errs\nstages:\n%s"
		     "  - id: ren\n"
		     "    type: field_renamer\n"
		     "    inputs: [src]\n"
		     "    fields: {/k: /kk, /a: /x}\n" SINK("out", "ren", "out")
			 SINK("errs", "", "errs"),
		     renamer_src) < 0)
		abort();
	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out", "{\"x\":4,\"kk\":5}\n{\"b\":6}\n");
	/* the rejected record is left as it came in: /k not renamed */
	assert_out(
	    &x, "errs",
	    "{\"a\":1,\"x\":2,\"k\":3,\"spate_error\":{\"stage\":\"ren\","
	    "\"reason\":\"field /x already exists (set overwrite: true "
	    "to replace it)\",\"source\":\"dev_raw_data:1\"}}\n");
	assert_counts(&x, "ren", 3, 2, 1, 0);
	assert_counts(&x, "errs", 1, 1, 0, 0);
	free(yaml);
	run_done(&x);
}

Test(stages, field_renamer_overwrite)
{
	struct run x = {0};
	char *yaml;

	if (asprintf(
		&yaml,
		"name: ren\nstages:\n%s"
		"  - id: ren\n"
		"    type: field_renamer\n"
		"    inputs: [src]\n"
		"    overwrite: true\n"
		"    fields: {/a: /x, /k: /kk}\n" SINK("out", "ren", "out"),
		renamer_src) < 0)
		abort();
	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out",
		   "{\"x\":1,\"kk\":3}\n"
		   "{\"x\":4,\"kk\":5}\n"
		   "{\"b\":6}\n");
	assert_counts(&x, "ren", 3, 3, 0, 0);
	free(yaml);
	run_done(&x);
}

/* ---- field_setter ----------------------------------------------------- */

Test(stages, field_setter_expressions_and_literals)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: set\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      {\"a\":1,\"s\":\"hi\",\"src\":\"old\"}\n"
	    "      {\"a\":2.5,\"s\":\"Yo\"}\n"
	    "      {\"s\":\"x\"}\n"
	    "  - id: set\n"
	    "    type: field_setter\n"
	    "    inputs: [src]\n"
	    "    fields:\n"
	    "      /a: '${record:value(\"/a\") * 2}'\n"
	    "      /up: '${str:toUpper(record:value(\"/s\"))}'\n"
	    "      /src: web\n"
	    "      /len: '${str:length(record:value(\"/s\"))}'\n"
	    "      /big: '${record:value(\"/a\") >= 2}'\n" SINK("out", "set",
								"out");

	run_flow(&x, yaml);
	assert_finished(&x);
	/* expressions see the record as it came in (/big uses the old /a);
	 * existing fields keep their place, new ones are appended */
	assert_out(&x, "out",
		   "{\"a\":2,\"s\":\"hi\",\"src\":\"web\",\"up\":\"HI\","
		   "\"len\":2,\"big\":false}\n"
		   "{\"a\":5.0,\"s\":\"Yo\",\"up\":\"YO\",\"src\":\"web\","
		   "\"len\":2,\"big\":true}\n"
		   "{\"s\":\"x\",\"a\":null,\"up\":\"X\",\"src\":\"web\","
		   "\"len\":1,\"big\":false}\n");
	assert_counts(&x, "set", 3, 3, 0, 0);
	run_done(&x);
}

/* ---- filter ----------------------------------------------------------- */

Test(stages, filter_drops_and_counts)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: flt\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      {\"n\":1,\"t\":\"keep\"}\n"
	    "      {\"n\":20,\"t\":\"keep\"}\n"
	    "      {\"n\":30,\"t\":\"test\"}\n"
	    "      {\"t\":\"keep\"}\n"
	    "      {\"n\":40,\"t\":\"x\"}\n"
	    "  - id: f\n"
	    "    type: filter\n"
	    "    inputs: [src]\n"
	    "    condition: '${record:value(\"/n\") >= 10 && "
	    "record:value(\"/t\") != \"test\"}'\n" SINK("out", "f", "out");

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out",
		   "{\"n\":20,\"t\":\"keep\"}\n{\"n\":40,\"t\":\"x\"}\n");
	assert_counts(&x, "f", 5, 2, 0, 3);
	assert_counts(&x, "out", 2, 2, 0, 0);
	run_done(&x);
}

/* ---- field_type_converter --------------------------------------------- */

Test(stages, converter_each_type)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: conv\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      "
	    "{\"i\":\"42\",\"d\":\"2.5\",\"b\":\"true\",\"s\":7,\"o\":{\"x\":["
	    "1,2]}}\n"
	    "      {\"i\":3.0,\"d\":3,\"b\":0,\"s\":1.50,\"o\":null}\n"
	    "      "
	    "{\"i\":true,\"d\":false,\"b\":\"FALSE\",\"s\":true,\"o\":[1]}\n"
	    "      {\"i\":\"-7\",\"d\":\"-1e3\",\"b\":1,\"s\":\"t\"}\n"
	    "  - id: conv\n"
	    "    type: field_type_converter\n"
	    "    inputs: [src]\n"
	    "    fields: {/i: int, /d: double, /b: bool, /s: string, "
	    "/o: string}\n" SINK("out", "conv", "out");

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(
	    &x, "out",
	    "{\"i\":42,\"d\":2.5,\"b\":true,\"s\":\"7\","
	    "\"o\":\"{\\\"x\\\":[1,2]}\"}\n"
	    "{\"i\":3,\"d\":3.0,\"b\":false,\"s\":\"1.50\",\"o\":null}\n"
	    "{\"i\":1,\"d\":0.0,\"b\":false,\"s\":\"true\",\"o\":\"[1]\"}\n"
	    "{\"i\":-7,\"d\":-1000.0,\"b\":true,\"s\":\"t\"}\n");
	assert_counts(&x, "conv", 4, 4, 0, 0);
	run_done(&x);
}

Test(stages, converter_failures_are_record_errors)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: convbad\n"
	    "error_stage: errs\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      {\"v\":\"abc\"}\n"
	    "      {\"v\":1.5}\n"
	    "      {\"v\":1e30}\n"
	    "      {\"v\":{\"a\":1}}\n"
	    "      {\"v\":\"12\",\"w\":7}\n"
	    "      {\"v\":\"99999999999999999999\"}\n"
	    "      {\"v\":\"5\",\"w\":true}\n"
	    "      {\"x\":9007199254740993}\n"
	    "  - id: conv\n"
	    "    type: field_type_converter\n"
	    "    inputs: [src]\n"
	    "    fields: {/v: int, /w: bool, /x: double}\n" SINK(
		"out", "conv", "out") SINK("errs", "", "errs");

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out", "{\"v\":5,\"w\":true}\n");
	assert_out(
	    &x, "errs",
	    "{\"v\":\"abc\",\"spate_error\":{\"stage\":\"conv\",\"reason\":"
	    "\"field /v: cannot convert \\\"abc\\\" (string) to int: not a "
	    "number\",\"source\":\"dev_raw_data:1\"}}\n"
	    "{\"v\":1.5,\"spate_error\":{\"stage\":\"conv\",\"reason\":"
	    "\"field /v: cannot convert 1.5 (double) to int: not a whole "
	    "number\",\"source\":\"dev_raw_data:2\"}}\n"
	    "{\"v\":1e30,\"spate_error\":{\"stage\":\"conv\",\"reason\":"
	    "\"field /v: cannot convert 1e30 (double) to int: out of range "
	    "for int\",\"source\":\"dev_raw_data:3\"}}\n"
	    "{\"v\":{\"a\":1},\"spate_error\":{\"stage\":\"conv\",\"reason\":"
	    "\"field /v: cannot convert {\\\"a\\\":1} (object) to int: not a "
	    "scalar\",\"source\":\"dev_raw_data:4\"}}\n"
	    "{\"v\":\"12\",\"w\":7,\"spate_error\":{\"stage\":\"conv\","
	    "\"reason\":\"field /w: cannot convert 7 (int) to bool: only "
	    "true/false/1/0 convert to bool\",\"source\":"
	    "\"dev_raw_data:5\"}}\n"
	    "{\"v\":\"99999999999999999999\",\"spate_error\":{\"stage\":"
	    "\"conv\",\"reason\":\"field /v: cannot convert "
	    "\\\"99999999999999999999\\\" (string) to int: out of range for "
	    "int\",\"source\":\"dev_raw_data:6\"}}\n"
	    "{\"x\":9007199254740993,\"spate_error\":{\"stage\":\"conv\","
	    "\"reason\":\"field /x: cannot convert 9007199254740993 (int) to "
	    "double: too large to be exact as a double\",\"source\":"
	    "\"dev_raw_data:8\"}}\n");
	assert_counts(&x, "conv", 8, 1, 7, 0);
	assert_counts(&x, "errs", 7, 7, 0, 0);
	run_done(&x);
}

/* ---- stream_selector -------------------------------------------------- */

static const char selector_flow[] =
    "name: sel\n"
    "stages:\n"
    "  - id: src\n"
    "    type: dev_raw_data\n"
    "    data: |\n"
    "      {\"n\":1}\n"
    "      {\"n\":5}\n"
    "      {\"n\":15}\n"
    "      {\"n\":50}\n"
    "      {\"n\":150}\n"
    "      {\"m\":0}\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [src]\n"
    "    mode: %s\n"
    "    lanes:\n"
    "      big: '${record:value(\"/n\") >= 10}'\n"
    "      huge: '${record:value(\"/n\") >= 100}'\n"
    "      odd: '${record:value(\"/n\") %% 2 == 1}'\n" SINK(
	"o_big", "split.big", "big") SINK("o_huge", "split.huge", "huge")
	SINK("o_odd", "split.odd", "odd") SINK("o_def", "split.default", "def");

Test(stages, selector_mode_all_overlapping_lanes)
{
	struct run x = {0};
	static const char *const overlap[] = {"split", NULL};
	char *yaml;

	if (asprintf(&yaml, selector_flow, "all") < 0)
		abort();
	run_flow_in(&x, yaml, NULL, NULL, NULL, overlap);
	assert_finished(&x);
	assert_out(&x, "big", "{\"n\":15}\n{\"n\":50}\n{\"n\":150}\n");
	assert_out(&x, "huge", "{\"n\":150}\n");
	assert_out(&x, "odd", "{\"n\":1}\n{\"n\":5}\n{\"n\":15}\n");
	assert_out(&x, "def", "{\"m\":0}\n");
	const struct e2e_stage_status *s = stage(&x, "split");
	cr_assert_eq(s->nlanes, 4);
	cr_assert_str_eq(s->lane[0], "big");
	cr_assert_str_eq(s->lane[1], "huge");
	cr_assert_str_eq(s->lane[2], "odd");
	cr_assert_str_eq(s->lane[3], "default");
	cr_assert_eq(s->records_in, 6);
	cr_assert_eq(lane_count(&x, "split", "big"), 3);
	cr_assert_eq(lane_count(&x, "split", "huge"), 1);
	cr_assert_eq(lane_count(&x, "split", "odd"), 3);
	cr_assert_eq(lane_count(&x, "split", "default"), 1);
	cr_assert_eq(s->errors, 0);
	cr_assert_eq(s->dropped, 0);
	assert_counts(&x, "o_big", 3, 3, 0, 0);
	assert_counts(&x, "o_def", 1, 1, 0, 0);
	free(yaml);
	run_done(&x);
}

Test(stages, selector_first_match)
{
	struct run x = {0};
	char *yaml;

	if (asprintf(&yaml, selector_flow, "first_match") < 0)
		abort();
	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "big", "{\"n\":15}\n{\"n\":50}\n{\"n\":150}\n");
	assert_out(&x, "huge", "");
	assert_out(&x, "odd", "{\"n\":1}\n{\"n\":5}\n");
	assert_out(&x, "def", "{\"m\":0}\n");
	cr_assert_eq(lane_count(&x, "split", "big"), 3);
	cr_assert_eq(lane_count(&x, "split", "huge"), 0);
	cr_assert_eq(lane_count(&x, "split", "odd"), 2);
	cr_assert_eq(lane_count(&x, "split", "default"), 1);
	assert_counts(&x, "o_huge", 0, 0, 0, 0);
	free(yaml);
	run_done(&x);
}

/* ---- dev_data_generator ----------------------------------------------- */

static const char gen_flow[] =
    "name: gen\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "    records: 2500\n"
    "    batch_size: 100\n"
    "    seed: 7\n"
    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
    "compression: none, ordered: true}\n";

static char *gen_output(const char *const *env, const char *workers)
{
	struct run x = {0};
	const char *extra[] = {"--workers", workers, NULL};

	run_flow_in(&x, gen_flow, extra, env, NULL, NULL);
	assert_finished(&x);
	assert_counts(&x, "gen", 2500, 2500, 0, 0);
	assert_counts(&x, "out", 2500, 2500, 0, 0);
	char *text = out_dir(&x, "out");
	run_done(&x);
	return text;
}

static void check_generated(const char *text)
{
	size_t len = strlen(text);
	cr_assert_eq(e2e_count_lines(text, len), 2500);
	/* default fields, ids 1..2500 in order */
	const char *p = text;
	for (int id = 1; id <= 2500; id++) {
		char want[64];
		int n =
		    snprintf(want, sizeof(want), "{\"id\":%d,\"ts\":\"", id);
		cr_assert(strncmp(p, want, (size_t)n) == 0,
			  "record %d starts %.60s", id, p);
		const char *nl = strchr(p, '\n');
		cr_assert_not_null(nl);
		cr_assert_not_null(
		    memmem(p, (size_t)(nl - p), "\"user\":\"", 8));
		cr_assert_not_null(
		    memmem(p, (size_t)(nl - p), "\"message\":\"", 11));
		p = nl + 1;
	}
}

Test(stages, generator_same_seed_same_output_any_workers_sync)
{
	char *w1 = gen_output(sync_env, "1");
	char *w2 = gen_output(sync_env, "2");

	check_generated(w1);
	cr_assert_str_eq(w1, w2, "workers 1 and 2 differ");
	free(w1);
	free(w2);
}

Test(stages, generator_same_seed_same_output_any_workers_uring)
{
	char *w1 = gen_output(NULL, "1");
	char *w2 = gen_output(NULL, "2");

	check_generated(w1);
	cr_assert_str_eq(w1, w2, "workers 1 and 2 differ");
	free(w1);
	free(w2);
}

Test(stages, generator_custom_fields_and_seed)
{
	struct run a = {0}, b = {0}, c = {0};
	static const char yaml[] =
	    "name: genf\n"
	    "stages:\n"
	    "  - id: gen\n"
	    "    type: dev_data_generator\n"
	    "    records: 5\n"
	    "    seed: %d\n"
	    "    fields:\n"
	    "      - {name: n, type: sequence, min: 10}\n"
	    "      - {name: k, type: enum, values: [red]}\n"
	    "      - {name: v, type: int, min: 1, max: 1000000}\n"
	    "  - {id: out, type: stdout, inputs: [gen]}\n";
	char *y1, *y2;

	if (asprintf(&y1, yaml, 3) < 0 || asprintf(&y2, yaml, 4) < 0)
		abort();
	run_flow(&a, y1);
	run_flow(&b, y1);
	run_flow(&c, y2);
	assert_finished(&a);
	assert_finished(&c);
	assert_counts(&a, "gen", 5, 5, 0, 0);
	size_t na = e2e_status_records_len(a.r.out);
	size_t nb = e2e_status_records_len(b.r.out);
	size_t nc = e2e_status_records_len(c.r.out);
	cr_assert_eq(e2e_count_lines(a.r.out, na), 5);
	cr_assert(na == nb && memcmp(a.r.out, b.r.out, na) == 0,
		  "same seed, different records");
	cr_assert(na != nc || memcmp(a.r.out, c.r.out, na) != 0,
		  "another seed, same records");
	const char *p = a.r.out;
	for (int i = 0; i < 5; i++) {
		char want[64];
		int n = snprintf(want, sizeof(want),
				 "{\"n\":%d,\"k\":\"red\",\"v\":", 10 + i);
		cr_assert(strncmp(p, want, (size_t)n) == 0, "line %d: %.60s", i,
			  p);
		char *end;
		long v = strtol(p + n, &end, 10);
		cr_assert(v >= 1 && v <= 1000000 && !strncmp(end, "}\n", 2),
			  "line %d: %.60s", i, p);
		p = end + 2;
	}
	free(y1);
	free(y2);
	run_done(&a);
	run_done(&b);
	run_done(&c);
}

/* ---- dev_raw_data ----------------------------------------------------- */

Test(stages, raw_data_jsonl)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: raw\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: |\n"
	    "      "
	    "{\"s\":\"a\\\"b\",\"u\":\"\\u00e9\",\"n\":-1.25e2,\"z\":null}\n"
	    "      {\"nested\":{\"a\":[1,{\"b\":2}]},\"t\":true}\n"
	    "  - {id: out, type: stdout, inputs: [src]}\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	/* unchanged records go out as they came in */
	assert_stdout(&x, "{\"s\":\"a\\\"b\",\"u\":\"\\u00e9\",\"n\":-1.25e2,"
			  "\"z\":null}\n"
			  "{\"nested\":{\"a\":[1,{\"b\":2}]},\"t\":true}\n");
	assert_counts(&x, "src", 2, 2, 0, 0);
	assert_counts(&x, "out", 2, 2, 0, 0);
	run_done(&x);
}

Test(stages, raw_data_csv_to_jsonl)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: rawcsv\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    format: csv\n"
	    "    data: |\n"
	    "      name,age,note\n"
	    "      ann,30,\"hello, world\"\n"
	    "      bob,,\"say \"\"hi\"\"\"\n" SINK("out", "src", "out");

	run_flow(&x, yaml);
	assert_finished(&x);
	/* CSV values are strings; the writer writes JSON lines */
	assert_out(
	    &x, "out",
	    "{\"name\":\"ann\",\"age\":\"30\",\"note\":\"hello, world\"}\n"
	    "{\"name\":\"bob\",\"age\":\"\",\"note\":\"say \\\"hi\\\"\"}\n");
	assert_counts(&x, "src", 2, 2, 0, 0);
	run_done(&x);
}

Test(stages, raw_data_csv_to_csv_stdout)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: rawcsv2\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    format: csv\n"
	    "    delimiter: ';'\n"
	    "    data: |\n"
	    "      a;b\n"
	    "      1;x y\n"
	    "      2;\"p;q\"\n"
	    "  - {id: out, type: stdout, format: csv, inputs: [src]}\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_stdout(&x, "a,b\n1,x y\n2,p;q\n");
	run_done(&x);
}

/* ---- stdin, stdout, trash --------------------------------------------- */

Test(stages, stdin_origin_to_stdout)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: in\n"
	    "stages:\n"
	    "  - {id: src, type: stdin}\n"
	    "  - {id: set, type: field_setter, inputs: [src], "
	    "fields: {/seen: yes}}\n"
	    "  - {id: out, type: stdout, inputs: [set]}\n";
	static const char input[] = "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}";
	const char *one[] = {"--workers", "1", NULL};

	run_flow_in(&x, yaml, one, NULL, input, NULL);
	assert_finished(&x);
	assert_stdout(&x, "{\"a\":1,\"seen\":\"yes\"}\n"
			  "{\"a\":2,\"seen\":\"yes\"}\n"
			  "{\"a\":3,\"seen\":\"yes\"}\n");
	assert_counts(&x, "src", 3, 3, 0, 0);
	assert_counts(&x, "out", 3, 3, 0, 0);
	run_done(&x);
}

Test(stages, stdin_csv_with_parse_error)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: incsv\n"
	    "error_stage: errs\n"
	    "stages:\n"
	    "  - {id: src, type: stdin, format: csv}\n" SINK(
		"out", "src", "out") SINK("errs", "", "errs");
	static const char input[] = "k,v\n1,a\n2,\"b\n";

	run_flow_in(&x, yaml, NULL, NULL, input, NULL);
	assert_finished(&x);
	assert_out(&x, "out", "{\"k\":\"1\",\"v\":\"a\"}\n");
	assert_out(&x, "errs",
		   "{\"spate_error\":{\"stage\":\"src\",\"reason\":"
		   "\"unterminated quoted field starting at line 3\","
		   "\"source\":\"stdin:3\",\"raw\":\"2,\\\"b\\n\"}}\n");
	assert_counts(&x, "src", 2, 1, 1, 0);
	run_done(&x);
}

Test(stages, trash_counts_and_writes_nothing)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: tr\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 777, "
	    "batch_size: 100}\n"
	    "  - {id: t, type: trash, inputs: [gen]}\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_stdout(&x, "");
	assert_counts(&x, "gen", 777, 777, 0, 0);
	assert_counts(&x, "t", 777, 777, 0, 0);
	cr_assert_eq(e2e_count_files(x.dir, NULL, true), 1); /* flow.yaml */
	run_done(&x);
}

Test(stages, stdout_union_of_two_inputs)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: un\n"
	    "stages:\n"
	    "  - {id: a, type: dev_raw_data, data: '{\"from\":\"a\"}'}\n"
	    "  - {id: b, type: dev_raw_data, data: '{\"from\":\"b\"}'}\n"
	    "  - {id: out, type: stdout, inputs: [a, b]}\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	size_t n = e2e_status_records_len(x.r.out);
	char *got = strndup(x.r.out, n);
	e2e_sort_lines(got, n);
	cr_assert_str_eq(got, "{\"from\":\"a\"}\n{\"from\":\"b\"}\n");
	assert_counts(&x, "out", 2, 2, 0, 0);
	free(got);
	run_done(&x);
}

/* ---- executors -------------------------------------------------------- */

Test(stages, pipeline_finisher_on_no_more_data)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: fin\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n" SINK(
		"out", "src", "out") "  - {id: done, type: pipeline_finisher, "
				     "event_inputs: [src]}\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	assert_out(&x, "out", "{\"a\":1}\n");
	/* one event (no-more-data) taken */
	cr_assert_eq(stage(&x, "done")->records_in, 1);
	run_done(&x);
}

Test(stages, shell_gets_file_closed_events)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: sh\n"
	    "stages:\n"
	    "  - id: gen\n"
	    "    type: dev_data_generator\n"
	    "    records: 10\n"
	    "    batch_size: 3\n"
	    "    fields: [{name: id, type: sequence, min: 1}]\n"
	    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
	    "compression: none, ordered: true, max_file_records: 4}\n"
	    "  - id: sh\n"
	    "    type: shell\n"
	    "    event_inputs: [out]\n"
	    "    command: 'echo \"$SPATE_EVENT $SPATE_STAGE $SPATE_PATH "
	    "$SPATE_RECORDS\" >> events.log'\n"
	    "  - id: sh2\n"
	    "    type: shell\n"
	    "    event_inputs: [gen]\n"
	    "    command: 'echo \"$SPATE_EVENT $SPATE_STAGE\" >> gen.log'\n";

	run_flow(&x, yaml);
	assert_finished(&x);
	/* files roll on batch boundaries: 3 + 3 + 4 records */
	assert_out(
	    &x, "out",
	    "{\"id\":1}\n{\"id\":2}\n{\"id\":3}\n{\"id\":4}\n{\"id\":5}\n"
	    "{\"id\":6}\n{\"id\":7}\n{\"id\":8}\n{\"id\":9}\n"
	    "{\"id\":10}\n");
	char *path, *log;
	if (asprintf(&path, "%s/events.log", x.dir) < 0)
		abort();
	log = e2e_read(path, NULL);
	cr_assert_not_null(log, "the shell command did not run");
	cr_assert_str_eq(log, "file-closed out ./out/sh-out-000000.jsonl 3\n"
			      "file-closed out ./out/sh-out-000001.jsonl 3\n"
			      "file-closed out ./out/sh-out-000002.jsonl 4\n");
	free(log);
	free(path);
	if (asprintf(&path, "%s/gen.log", x.dir) < 0)
		abort();
	log = e2e_read(path, NULL);
	cr_assert_not_null(log);
	cr_assert_str_eq(log, "no-more-data gen\n");
	free(log);
	free(path);
	/* the paths named in the events hold what the events say */
	for (int i = 0; i < 3; i++) {
		char *f;
		size_t len;
		if (asprintf(&f, "%s/out/sh-out-%06d.jsonl", x.dir, i) < 0)
			abort();
		char *t = e2e_read(f, &len);
		cr_assert_not_null(t, "%s missing", f);
		cr_assert_eq(e2e_count_lines(t, len), i == 2 ? 4u : 3u);
		free(t);
		free(f);
	}
	cr_assert_eq(stage(&x, "sh")->records_in, 3);
	cr_assert_eq(stage(&x, "sh2")->records_in, 1);
	run_done(&x);
}

Test(stages, shell_failure_is_reported)
{
	struct run x = {0};
	static const char yaml[] =
	    "name: shf\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
	    "  - {id: t, type: trash, inputs: [src]}\n"
	    "  - {id: sh, type: shell, event_inputs: [src], "
	    "command: 'exit 3'}\n";

	run_flow(&x, yaml);
	/* a failed command is an error of the executor, not of the run */
	assert_finished(&x);
	cr_assert(strstr(x.r.err, "shell 'sh': command exited with status 3 "
				  "(event no-more-data)") != NULL,
		  "%s", x.r.err);
	assert_counts(&x, "sh", 1, 0, 1, 0);
	assert_counts(&x, "t", 1, 1, 0, 0);
	run_done(&x);
}
