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

static void run_flow(struct e2e_flow *x, const char *yaml)
{
	e2e_flow_run(x, yaml, NULL, NULL, NULL, NULL);
}

/* What stdout stages wrote (stdout without the status line). */
static void assert_stdout(const struct e2e_flow *x, const char *want)
{
	size_t n = e2e_status_records_len(x->r.out);
	char *got = strndup(x->r.out, n);
	cr_assert_str_eq(got, want, "stdout:\n--- got\n%s--- want\n%s", got,
			 want);
	free(got);
}

static uint64_t lane_count(const struct e2e_flow *x, const char *id,
			   const char *lane)
{
	const struct e2e_stage_status *s = e2e_flow_stage(x, id);
	for (uint32_t l = 0; l < s->nlanes; l++)
		if (!strcmp(s->lane[l], lane))
			return s->out[l];
	cr_assert_fail("stage '%s' has no lane '%s'", id, lane);
	return 0;
}

/* A flow and what it must give: the data files of file_writer dirs (sub)
 * or what its stdout stages print (sub NULL), and the counts of stages
 * with the one lane "output".  The lists end at a NULL text or id. */
struct stage_case {
	const char *yaml;
	const char *stdin_data;
	const char *extra[4];
	struct {
		const char *sub, *text;
	} out[4];
	struct {
		const char *id;
		uint64_t in, out, errors, dropped;
	} counts[4];
};

/* Runs c's flow with its stdin and extra arguments: it must finish and
 * give what c lists. */
static void check_case(const struct stage_case *c)
{
	struct e2e_flow x = {0};

	e2e_flow_run(&x, c->yaml, c->extra, NULL, c->stdin_data, NULL);
	e2e_flow_assert_finished(&x);
	for (size_t i = 0; i < 4 && c->out[i].text; i++) {
		if (c->out[i].sub)
			e2e_flow_assert_out(&x, c->out[i].sub, c->out[i].text);
		else
			assert_stdout(&x, c->out[i].text);
	}
	for (size_t i = 0; i < 4 && c->counts[i].id; i++)
		e2e_flow_assert_counts(&x, c->counts[i].id, c->counts[i].in,
				       c->counts[i].out, c->counts[i].errors,
				       c->counts[i].dropped);
	e2e_flow_done(&x);
}

#define SINK(id, in, dir)                                                      \
	"  - {id: " id ", type: file_writer, inputs: [" in "], dir: " dir      \
	", compression: none, ordered: true}\n"

/* the origin of most cases: src, records from the lines that follow */
#define RAW_SRC "  - id: src\n    type: dev_raw_data\n    data: |\n"

/* ---- field_remover ---------------------------------------------------- */

#define REMOVER_SRC                                                            \
	RAW_SRC                                                                \
	"      {\"a\":1,\"b\":\"two\",\"c\":[1,2],\"d\":{\"e\":null}}\n"       \
	"      {\"b\":2}\n"                                                    \
	"      {\"d\":4,\"a\":true}\n"                                         \
	"      {}\n"

Test(stages, field_remover_remove)
{
	static const struct stage_case c = {
	    .yaml = "name: rm\nstages:\n" REMOVER_SRC
		    "  - {id: rm, type: field_remover, inputs: [src], "
		    "fields: [/b, /d, /missing]}\n" SINK("out", "rm", "out"),
	    .out = {{"out", "{\"a\":1,\"c\":[1,2]}\n"
			    "{}\n"
			    "{\"a\":true}\n"
			    "{}\n"}},
	    .counts = {{"src", 4, 4, 0, 0},
		       {"rm", 4, 4, 0, 0},
		       {"out", 4, 4, 0, 0}},
	};

	check_case(&c);
}

Test(stages, field_remover_keep)
{
	static const struct stage_case c = {
	    .yaml =
		"name: keep\nstages:\n" REMOVER_SRC
		"  - {id: rm, type: field_remover, inputs: [src], "
		"action: keep, fields: [/d, /a]}\n" SINK("out", "rm", "out"),
	    /* kept fields stay in record order */
	    .out = {{"out", "{\"a\":1,\"d\":{\"e\":null}}\n"
			    "{}\n"
			    "{\"d\":4,\"a\":true}\n"
			    "{}\n"}},
	    .counts = {{"rm", 4, 4, 0, 0}},
	};

	check_case(&c);
}

/* ---- field_renamer ---------------------------------------------------- */

#define RENAMER_SRC                                                            \
	RAW_SRC                                                                \
	"      {\"a\":1,\"x\":2,\"k\":3}\n"                                    \
	"      {\"a\":4,\"k\":5}\n"                                            \
	"      {\"b\":6}\n"

Test(stages, field_renamer_no_overwrite_rejects)
{
	static const struct stage_case c = {
	    .yaml = "name: ren\nerror_stage: errs\nstages:\n" RENAMER_SRC
		    "  - id: ren\n"
		    "    type: field_renamer\n"
		    "    inputs: [src]\n"
		    "    fields: {/k: /kk, /a: /x}\n" SINK("out", "ren", "out")
			SINK("errs", "", "errs"),
	    /* the rejected record is left as it came in: /k not renamed */
	    .out =
		{{"out", "{\"x\":4,\"kk\":5}\n{\"b\":6}\n"},
		 {"errs",
		  "{\"a\":1,\"x\":2,\"k\":3,\"spate_error\":{\"stage\":\"ren\","
		  "\"reason\":\"field /x already exists (set overwrite: true "
		  "to replace it)\",\"source\":\"dev_raw_data:1\"}}\n"}},
	    .counts = {{"ren", 3, 2, 1, 0}, {"errs", 1, 1, 0, 0}},
	};

	check_case(&c);
}

Test(stages, field_renamer_overwrite)
{
	static const struct stage_case c = {
	    .yaml = "name: ren\nstages:\n" RENAMER_SRC "  - id: ren\n"
		    "    type: field_renamer\n"
		    "    inputs: [src]\n"
		    "    overwrite: true\n"
		    "    fields: {/a: /x, /k: /kk}\n" SINK("out", "ren", "out"),
	    .out = {{"out", "{\"x\":1,\"kk\":3}\n"
			    "{\"x\":4,\"kk\":5}\n"
			    "{\"b\":6}\n"}},
	    .counts = {{"ren", 3, 3, 0, 0}},
	};

	check_case(&c);
}

/* ---- field_setter ----------------------------------------------------- */

Test(stages, field_setter_expressions_and_literals)
{
	static const struct stage_case c = {
	    .yaml = "name: set\n"
		    "stages:\n" RAW_SRC
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
		    "      /big: '${record:value(\"/a\") >= 2}'\n" SINK(
			"out", "set", "out"),
	    /* expressions see the record as it came in (/big uses the old /a);
	     * existing fields keep their place, new ones are appended */
	    .out = {{"out",
		     "{\"a\":2,\"s\":\"hi\",\"src\":\"web\",\"up\":\"HI\","
		     "\"len\":2,\"big\":false}\n"
		     "{\"a\":5.0,\"s\":\"Yo\",\"up\":\"YO\",\"src\":\"web\","
		     "\"len\":2,\"big\":true}\n"
		     "{\"s\":\"x\",\"a\":null,\"up\":\"X\",\"src\":\"web\","
		     "\"len\":1,\"big\":false}\n"}},
	    .counts = {{"set", 3, 3, 0, 0}},
	};

	check_case(&c);
}

/* ---- filter ----------------------------------------------------------- */

Test(stages, filter_drops_and_counts)
{
	static const struct stage_case c = {
	    .yaml =
		"name: flt\n"
		"stages:\n" RAW_SRC "      {\"n\":1,\"t\":\"keep\"}\n"
		"      {\"n\":20,\"t\":\"keep\"}\n"
		"      {\"n\":30,\"t\":\"test\"}\n"
		"      {\"t\":\"keep\"}\n"
		"      {\"n\":40,\"t\":\"x\"}\n"
		"  - id: f\n"
		"    type: filter\n"
		"    inputs: [src]\n"
		"    condition: '${record:value(\"/n\") >= 10 && "
		"record:value(\"/t\") != \"test\"}'\n" SINK("out", "f", "out"),
	    .out = {{"out",
		     "{\"n\":20,\"t\":\"keep\"}\n{\"n\":40,\"t\":\"x\"}\n"}},
	    .counts = {{"f", 5, 2, 0, 3}, {"out", 2, 2, 0, 0}},
	};

	check_case(&c);
}

/* ---- field_type_converter --------------------------------------------- */

Test(stages, converter_each_type)
{
	static const struct stage_case c = {
	    .yaml = "name: conv\n"
		    "stages:\n" RAW_SRC "      "
		    "{\"i\":\"42\",\"d\":\"2.5\",\"b\":\"true\",\"s\":7,\"o\":{"
		    "\"x\":["
		    "1,2]}}\n"
		    "      {\"i\":3.0,\"d\":3,\"b\":0,\"s\":1.50,\"o\":null}\n"
		    "      "
		    "{\"i\":true,\"d\":false,\"b\":\"FALSE\",\"s\":true,\"o\":["
		    "1]}\n"
		    "      {\"i\":\"-7\",\"d\":\"-1e3\",\"b\":1,\"s\":\"t\"}\n"
		    "  - id: conv\n"
		    "    type: field_type_converter\n"
		    "    inputs: [src]\n"
		    "    fields: {/i: int, /d: double, /b: bool, /s: string, "
		    "/o: string}\n" SINK("out", "conv", "out"),
	    .out =
		{{"out",
		  "{\"i\":42,\"d\":2.5,\"b\":true,\"s\":\"7\","
		  "\"o\":\"{\\\"x\\\":[1,2]}\"}\n"
		  "{\"i\":3,\"d\":3.0,\"b\":false,\"s\":\"1.50\",\"o\":null}\n"
		  "{\"i\":1,\"d\":0.0,\"b\":false,\"s\":\"true\",\"o\":\"[1]\"}"
		  "\n"
		  "{\"i\":-7,\"d\":-1000.0,\"b\":true,\"s\":\"t\"}\n"}},
	    .counts = {{"conv", 4, 4, 0, 0}},
	};

	check_case(&c);
}

Test(stages, converter_failures_are_record_errors)
{
	static const struct stage_case c = {
	    .yaml = "name: convbad\n"
		    "error_stage: errs\n"
		    "stages:\n" RAW_SRC "      {\"v\":\"abc\"}\n"
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
			"out", "conv", "out") SINK("errs", "", "errs"),
	    .out =
		{{"out", "{\"v\":5,\"w\":true}\n"},
		 {"errs",
		  "{\"v\":\"abc\",\"spate_error\":{\"stage\":\"conv\","
		  "\"reason\":"
		  "\"field /v: cannot convert \\\"abc\\\" (string) to int: not "
		  "a "
		  "number\",\"source\":\"dev_raw_data:1\"}}\n"
		  "{\"v\":1.5,\"spate_error\":{\"stage\":\"conv\",\"reason\":"
		  "\"field /v: cannot convert 1.5 (double) to int: not a whole "
		  "number\",\"source\":\"dev_raw_data:2\"}}\n"
		  "{\"v\":1e30,\"spate_error\":{\"stage\":\"conv\",\"reason\":"
		  "\"field /v: cannot convert 1e30 (double) to int: out of "
		  "range "
		  "for int\",\"source\":\"dev_raw_data:3\"}}\n"
		  "{\"v\":{\"a\":1},\"spate_error\":{\"stage\":\"conv\","
		  "\"reason\":"
		  "\"field /v: cannot convert {\\\"a\\\":1} (object) to int: "
		  "not a "
		  "scalar\",\"source\":\"dev_raw_data:4\"}}\n"
		  "{\"v\":\"12\",\"w\":7,\"spate_error\":{\"stage\":\"conv\","
		  "\"reason\":\"field /w: cannot convert 7 (int) to bool: only "
		  "true/false/1/0 convert to bool\",\"source\":"
		  "\"dev_raw_data:5\"}}\n"
		  "{\"v\":\"99999999999999999999\",\"spate_error\":{\"stage\":"
		  "\"conv\",\"reason\":\"field /v: cannot convert "
		  "\\\"99999999999999999999\\\" (string) to int: out of range "
		  "for "
		  "int\",\"source\":\"dev_raw_data:6\"}}\n"
		  "{\"x\":9007199254740993,\"spate_error\":{\"stage\":\"conv\","
		  "\"reason\":\"field /x: cannot convert 9007199254740993 "
		  "(int) to "
		  "double: too large to be exact as a double\",\"source\":"
		  "\"dev_raw_data:8\"}}\n"}},
	    .counts = {{"conv", 8, 1, 7, 0}, {"errs", 7, 7, 0, 0}},
	};

	check_case(&c);
}

/* ---- stream_selector -------------------------------------------------- */

static const char selector_flow[] =
    "name: sel\n"
    "stages:\n" RAW_SRC "      {\"n\":1}\n"
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
	struct e2e_flow x = {0};
	static const char *const overlap[] = {"split", NULL};

	e2e_flow_run_fmt(&x, NULL, overlap, selector_flow, "all");
	e2e_flow_assert_finished(&x);
	e2e_flow_assert_out(&x, "big", "{\"n\":15}\n{\"n\":50}\n{\"n\":150}\n");
	e2e_flow_assert_out(&x, "huge", "{\"n\":150}\n");
	e2e_flow_assert_out(&x, "odd", "{\"n\":1}\n{\"n\":5}\n{\"n\":15}\n");
	e2e_flow_assert_out(&x, "def", "{\"m\":0}\n");
	const struct e2e_stage_status *s = e2e_flow_stage(&x, "split");
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
	e2e_flow_assert_counts(&x, "o_big", 3, 3, 0, 0);
	e2e_flow_assert_counts(&x, "o_def", 1, 1, 0, 0);
	e2e_flow_done(&x);
}

Test(stages, selector_first_match)
{
	struct e2e_flow x = {0};

	e2e_flow_run_fmt(&x, NULL, NULL, selector_flow, "first_match");
	e2e_flow_assert_finished(&x);
	e2e_flow_assert_out(&x, "big", "{\"n\":15}\n{\"n\":50}\n{\"n\":150}\n");
	e2e_flow_assert_out(&x, "huge", "");
	e2e_flow_assert_out(&x, "odd", "{\"n\":1}\n{\"n\":5}\n");
	e2e_flow_assert_out(&x, "def", "{\"m\":0}\n");
	cr_assert_eq(lane_count(&x, "split", "big"), 3);
	cr_assert_eq(lane_count(&x, "split", "huge"), 0);
	cr_assert_eq(lane_count(&x, "split", "odd"), 2);
	cr_assert_eq(lane_count(&x, "split", "default"), 1);
	e2e_flow_assert_counts(&x, "o_huge", 0, 0, 0, 0);
	e2e_flow_done(&x);
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
	struct e2e_flow x = {0};
	const char *extra[] = {"--workers", workers, NULL};

	e2e_flow_run(&x, gen_flow, extra, env, NULL, NULL);
	e2e_flow_assert_finished(&x);
	e2e_flow_assert_counts(&x, "gen", 2500, 2500, 0, 0);
	e2e_flow_assert_counts(&x, "out", 2500, 2500, 0, 0);
	char *text = e2e_flow_out(&x, "out");
	e2e_flow_done(&x);
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

static void check_same_any_workers(const char *const *env)
{
	char *w1 = gen_output(env, "1");
	char *w2 = gen_output(env, "2");

	check_generated(w1);
	cr_assert_str_eq(w1, w2, "workers 1 and 2 differ");
	free(w1);
	free(w2);
}

Test(stages, generator_same_seed_same_output_any_workers_sync)
{
	check_same_any_workers(e2e_sync_env);
}

Test(stages, generator_same_seed_same_output_any_workers_uring)
{
	check_same_any_workers(NULL);
}

Test(stages, generator_custom_fields_and_seed)
{
	struct e2e_flow a = {0}, b = {0}, c = {0};
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
	e2e_flow_assert_finished(&a);
	e2e_flow_assert_finished(&c);
	e2e_flow_assert_counts(&a, "gen", 5, 5, 0, 0);
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
	e2e_flow_done(&a);
	e2e_flow_done(&b);
	e2e_flow_done(&c);
}

/* ---- dev_raw_data ----------------------------------------------------- */

Test(stages, raw_data_jsonl)
{
	static const struct stage_case c = {
	    .yaml = "name: raw\n"
		    "stages:\n" RAW_SRC "      "
		    "{\"s\":\"a\\\"b\",\"u\":\"\\u00e9\",\"n\":-1.25e2,\"z\":"
		    "null}\n"
		    "      {\"nested\":{\"a\":[1,{\"b\":2}]},\"t\":true}\n"
		    "  - {id: out, type: stdout, inputs: [src]}\n",
	    /* unchanged records go out as they came in */
	    .out = {{NULL, "{\"s\":\"a\\\"b\",\"u\":\"\\u00e9\",\"n\":-1.25e2,"
			   "\"z\":null}\n"
			   "{\"nested\":{\"a\":[1,{\"b\":2}]},\"t\":true}\n"}},
	    .counts = {{"src", 2, 2, 0, 0}, {"out", 2, 2, 0, 0}},
	};

	check_case(&c);
}

Test(stages, raw_data_csv_to_jsonl)
{
	static const struct stage_case c = {
	    .yaml = "name: rawcsv\n"
		    "stages:\n"
		    "  - id: src\n"
		    "    type: dev_raw_data\n"
		    "    format: csv\n"
		    "    data: |\n"
		    "      name,age,note\n"
		    "      ann,30,\"hello, world\"\n"
		    "      bob,,\"say \"\"hi\"\"\"\n" SINK("out", "src", "out"),
	    /* CSV values are strings; the writer writes JSON lines */
	    .out = {{"out", "{\"name\":\"ann\",\"age\":\"30\",\"note\":\"hello,"
			    " world\"}\n"
			    "{\"name\":\"bob\",\"age\":\"\",\"note\":\"say "
			    "\\\"hi\\\"\"}\n"}},
	    .counts = {{"src", 2, 2, 0, 0}},
	};

	check_case(&c);
}

Test(stages, raw_data_csv_to_csv_stdout)
{
	static const struct stage_case c = {
	    .yaml = "name: rawcsv2\n"
		    "stages:\n"
		    "  - id: src\n"
		    "    type: dev_raw_data\n"
		    "    format: csv\n"
		    "    delimiter: ';'\n"
		    "    data: |\n"
		    "      a;b\n"
		    "      1;x y\n"
		    "      2;\"p;q\"\n"
		    "  - {id: out, type: stdout, format: csv, inputs: [src]}\n",
	    .out = {{NULL, "a,b\n1,x y\n2,p;q\n"}},
	};

	check_case(&c);
}

/* ---- stdin, stdout, trash --------------------------------------------- */

Test(stages, stdin_origin_to_stdout)
{
	static const struct stage_case c = {
	    .yaml = "name: in\n"
		    "stages:\n"
		    "  - {id: src, type: stdin}\n"
		    "  - {id: set, type: field_setter, inputs: [src], "
		    "fields: {/seen: yes}}\n"
		    "  - {id: out, type: stdout, inputs: [set]}\n",
	    .stdin_data = "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}",
	    .extra = {"--workers", "1", NULL},
	    .out = {{NULL, "{\"a\":1,\"seen\":\"yes\"}\n"
			   "{\"a\":2,\"seen\":\"yes\"}\n"
			   "{\"a\":3,\"seen\":\"yes\"}\n"}},
	    .counts = {{"src", 3, 3, 0, 0}, {"out", 3, 3, 0, 0}},
	};

	check_case(&c);
}

Test(stages, stdin_csv_with_parse_error)
{
	static const struct stage_case c = {
	    .yaml = "name: incsv\n"
		    "error_stage: errs\n"
		    "stages:\n"
		    "  - {id: src, type: stdin, format: csv}\n" SINK(
			"out", "src", "out") SINK("errs", "", "errs"),
	    .stdin_data = "k,v\n1,a\n2,\"b\n",
	    .out = {{"out", "{\"k\":\"1\",\"v\":\"a\"}\n"},
		    {"errs",
		     "{\"spate_error\":{\"stage\":\"src\",\"reason\":"
		     "\"unterminated quoted field starting at line 3\","
		     "\"source\":\"stdin:3\",\"raw\":\"2,\\\"b\\n\"}}\n"}},
	    .counts = {{"src", 2, 1, 1, 0}},
	};

	check_case(&c);
}

Test(stages, trash_counts_and_writes_nothing)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: tr\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 777, "
	    "batch_size: 100}\n"
	    "  - {id: t, type: trash, inputs: [gen]}\n";

	run_flow(&x, yaml);
	e2e_flow_assert_finished(&x);
	assert_stdout(&x, "");
	e2e_flow_assert_counts(&x, "gen", 777, 777, 0, 0);
	e2e_flow_assert_counts(&x, "t", 777, 777, 0, 0);
	cr_assert_eq(e2e_count_files(x.dir, NULL, true), 1); /* flow.yaml */
	e2e_flow_done(&x);
}

Test(stages, stdout_union_of_two_inputs)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: un\n"
	    "stages:\n"
	    "  - {id: a, type: dev_raw_data, data: '{\"from\":\"a\"}'}\n"
	    "  - {id: b, type: dev_raw_data, data: '{\"from\":\"b\"}'}\n"
	    "  - {id: out, type: stdout, inputs: [a, b]}\n";

	run_flow(&x, yaml);
	e2e_flow_assert_finished(&x);
	size_t n = e2e_status_records_len(x.r.out);
	char *got = strndup(x.r.out, n);
	e2e_sort_lines(got, n);
	cr_assert_str_eq(got, "{\"from\":\"a\"}\n{\"from\":\"b\"}\n");
	e2e_flow_assert_counts(&x, "out", 2, 2, 0, 0);
	free(got);
	e2e_flow_done(&x);
}

/* ---- executors -------------------------------------------------------- */

Test(stages, pipeline_finisher_on_no_more_data)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: fin\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n" SINK(
		"out", "src", "out") "  - {id: done, type: pipeline_finisher, "
				     "event_inputs: [src]}\n";

	run_flow(&x, yaml);
	e2e_flow_assert_finished(&x);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n");
	/* one event (no-more-data) taken */
	cr_assert_eq(e2e_flow_stage(&x, "done")->records_in, 1);
	e2e_flow_done(&x);
}

Test(stages, shell_gets_file_closed_events)
{
	struct e2e_flow x = {0};
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
	e2e_flow_assert_finished(&x);
	/* files roll on batch boundaries: 3 + 3 + 4 records */
	e2e_flow_assert_out(
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
	cr_assert_eq(e2e_flow_stage(&x, "sh")->records_in, 3);
	cr_assert_eq(e2e_flow_stage(&x, "sh2")->records_in, 1);
	e2e_flow_done(&x);
}

Test(stages, shell_failure_is_reported)
{
	struct e2e_flow x = {0};
	static const char yaml[] =
	    "name: shf\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
	    "  - {id: t, type: trash, inputs: [src]}\n"
	    "  - {id: sh, type: shell, event_inputs: [src], "
	    "command: 'exit 3'}\n";

	run_flow(&x, yaml);
	/* a failed command fails the run */
	cr_assert_eq(x.r.exit_code, 1, "exit %d: %s", x.r.exit_code, x.r.err);
	cr_assert_str_eq(x.st.status, "failed");
	cr_assert_str_eq(x.st.error, "shell 'sh': command exited with status 3 "
				     "(event no-more-data): exit 3");
	e2e_flow_assert_counts(&x, "sh", 1, 0, 1, 0);
	e2e_flow_done(&x);
}

/* on_error: continue: the failure is logged and counted, the run goes
 * on; a timed-out command fails the run like a failed one. */
Test(stages, shell_on_error_continue_and_timeout)
{
	struct e2e_flow x = {0};

	run_flow(&x, "name: shc\n"
		     "stages:\n"
		     "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
		     "  - {id: t, type: trash, inputs: [src]}\n"
		     "  - {id: sh, type: shell, event_inputs: [src], "
		     "command: 'exit 3', on_error: continue}\n");
	e2e_flow_assert_finished(&x);
	cr_assert(strstr(x.r.err, "shell 'sh': command exited with status 3 "
				  "(event no-more-data)") != NULL,
		  "%s", x.r.err);
	e2e_flow_assert_counts(&x, "sh", 1, 0, 1, 0);
	e2e_flow_assert_counts(&x, "t", 1, 1, 0, 0);
	run_flow(&x, "name: sht\n"
		     "stages:\n"
		     "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
		     "  - {id: t, type: trash, inputs: [src]}\n"
		     "  - {id: sh, type: shell, event_inputs: [src], "
		     "command: 'sleep 5', timeout: 1}\n");
	cr_assert_eq(x.r.exit_code, 1, "exit %d: %s", x.r.exit_code, x.r.err);
	cr_assert_str_eq(x.st.error, "shell 'sh': command still running after "
				     "1 s, killed (event no-more-data): "
				     "sleep 5");
	e2e_flow_done(&x);
}
