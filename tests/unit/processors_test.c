/*
 * Tests of the built-in processors, called through their descriptors:
 * options bound from YAML text by the option table, records parsed from
 * JSON lines, every output record encoded and compared, lanes and record
 * errors (reason, record, line) checked.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"
#include "codec/jsonl.h"
#include "support/stage_harness.h"

extern const struct sp_stage_desc sp_stage_field_remover;
extern const struct sp_stage_desc sp_stage_field_renamer;
extern const struct sp_stage_desc sp_stage_field_setter;
extern const struct sp_stage_desc sp_stage_filter;
extern const struct sp_stage_desc sp_stage_field_type_converter;
extern const struct sp_stage_desc sp_stage_stream_selector;

#define MAXREC 64

static struct stage_harness h;

/* What run() parsed and what process put in each lane. */
static struct {
	struct sp_batch *b;
	char *input;
	uint32_t in[MAXREC];
	uint32_t idx[SP_MAX_LANES][MAXREC];
	struct sp_selection out[SP_MAX_LANES];
} r;

static int bind(const struct sp_stage_desc *d, const char *yaml)
{
	return stage_harness_bind(&h, d, NULL, yaml);
}

static int open_stage(const struct sp_stage_desc *d, const char *yaml)
{
	return stage_harness_open(&h, d, NULL, yaml);
}

static void open_ok(const struct sp_stage_desc *d, const char *yaml)
{
	int rc = open_stage(d, yaml);

	cr_assert_eq(rc, 0, "create: %d %s", rc, h.err);
}

static void close_stage(void)
{
	sp_batch_destroy(r.b);
	free(r.input);
	memset(&r, 0, sizeof(r));
	stage_harness_close(&h);
}

/* Parses lines, runs process over all records; returns process's rc. */
static int run(const char *lines)
{
	struct sp_jsonl_parser p;
	int n;

	r.b = sp_batch_create(h.symtab);
	r.b->source = "test";
	r.input = strdup(lines);
	sp_jsonl_parser_init(&p, h.symtab);
	n = sp_jsonl_parse(&p, r.input, strlen(r.input), 1, 0, r.b);
	cr_assert_geq(n, 0);
	cr_assert_eq(r.b->nerrors, 0, "test input does not parse");
	cr_assert_leq(r.b->nrecs, MAXREC);
	for (uint32_t i = 0; i < r.b->nrecs; i++)
		r.in[i] = i;
	for (uint32_t l = 0; l < SP_MAX_LANES; l++) {
		r.out[l].idx = r.idx[l];
		r.out[l].n = 0;
	}
	return h.desc->process(h.state, h.ws, r.b, r.in, r.b->nrecs, r.out);
}

/* The records of lane l as JSON lines. */
static char *lane_text(uint32_t l)
{
	static char text[8192];
	struct sp_buf buf;

	sp_buf_init(&buf);
	cr_assert_eq(sp_jsonl_encode(r.b, r.out[l].idx, r.out[l].n, &buf), 0);
	cr_assert_lt(buf.len, sizeof(text));
	memcpy(text, buf.data ? buf.data : "", buf.len);
	text[buf.len] = '\0';
	sp_buf_fini(&buf);
	return text;
}

static void expect_lane(uint32_t l, const char *want)
{
	cr_assert_str_eq(lane_text(l), want, "lane %u", l);
}

static void expect_error(uint32_t i, uint32_t rec, const char *reason)
{
	cr_assert_gt(r.b->nerrors, i);
	cr_assert_eq(r.b->errors[i].record, rec);
	cr_assert_eq(r.b->errors[i].line, rec + 1);
	cr_assert_str_eq(r.b->errors[i].reason, reason);
	cr_assert_eq(r.b->errors[i].raw, r.b->recs[rec].raw);
}

/* ---- field_remover ---------------------------------------------------- */

Test(processors, remover_removes_listed_fields)
{
	open_ok(&sp_stage_field_remover, "fields: [/b, /zz]");
	cr_assert_eq(run("{\"a\":1,\"b\":\"x\",\"c\":true}\n"
			 "{\"a\":2}\n"
			 "{\"b\":[1,2],\"b\":3,\"d\":null}\n"),
		     0);
	expect_lane(0, "{\"a\":1,\"c\":true}\n"
		       "{\"a\":2}\n"
		       "{\"d\":null}\n");
	cr_assert_eq(r.b->recs[0].flags & SP_RECORD_CHANGED,
		     SP_RECORD_CHANGED);
	cr_assert_eq(r.b->recs[1].flags & SP_RECORD_CHANGED, 0,
		     "nothing removed: record stays unchanged");
	cr_assert_eq(r.b->nerrors, 0);
	close_stage();
}

Test(processors, remover_keep_drops_every_other_field)
{
	open_ok(&sp_stage_field_remover, "fields: [/a, /c]\naction: keep");
	cr_assert_eq(run("{\"a\":1,\"b\":\"x\",\"c\":{\"k\":1}}\n"
			 "{\"e\":5}\n"),
		     0);
	expect_lane(0, "{\"a\":1,\"c\":{\"k\":1}}\n{}\n");
	close_stage();
}

Test(processors, remover_rejects_nested_paths_and_bad_options)
{
	cr_assert_eq(open_stage(&sp_stage_field_remover, "fields: [/a/b]"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "fields: '/a/b': nested paths are not "
				"supported by field_remover yet");
	close_stage();
	/* a bad path is a validation problem, found before create */
	cr_assert_eq(bind(&sp_stage_field_remover, "fields: [/a, a]"), 1);
	cr_assert_str_eq(h.err, "line 1: stage 't': option 'fields[1]': 'a' "
				"is not a field path: a field path starts "
				"with '/' (e.g. /user or /a/b)");
	close_stage();
	cr_assert_eq(bind(&sp_stage_field_remover, "action: keep"), 1);
	cr_assert(strstr(h.err, "'fields'") && strstr(h.err, "required"),
		  "%s", h.err);
	close_stage();
	cr_assert_eq(bind(&sp_stage_field_remover,
			  "fields: [/a]\naction: drop"), 1);
	cr_assert(strstr(h.err, "remove"), "%s", h.err);
	close_stage();
}

/* ---- field_renamer ---------------------------------------------------- */

Test(processors, renamer_renames_in_order)
{
	open_ok(&sp_stage_field_renamer,
		"fields: {/user: /user_name, /user_name: /login, /x: /y}");
	cr_assert_eq(run("{\"user\":\"bob\",\"n\":1}\n"
			 "{\"n\":2}\n"),
		     0);
	/* applied in order: /user -> /user_name -> /login */
	expect_lane(0, "{\"login\":\"bob\",\"n\":1}\n{\"n\":2}\n");
	cr_assert_eq(r.b->recs[1].flags & SP_RECORD_CHANGED, 0);
	close_stage();
}

Test(processors, renamer_existing_target_is_a_record_error)
{
	open_ok(&sp_stage_field_renamer, "fields: {/a: /b, /c: /d}");
	cr_assert_eq(run("{\"a\":1,\"c\":2,\"d\":3}\n"
			 "{\"a\":1,\"c\":2}\n"),
		     0);
	/* record 0 is rejected as it came in: /a -> /b is undone */
	expect_lane(0, "{\"b\":1,\"d\":2}\n");
	cr_assert_eq(r.b->nerrors, 1);
	expect_error(0, 0, "field /d already exists (set overwrite: true to "
			   "replace it)");
	struct sp_buf buf;
	sp_buf_init(&buf);
	cr_assert_eq(sp_jsonl_encode_record(r.b, 0, &buf), 0);
	cr_assert_eq(buf.len, strlen("{\"a\":1,\"c\":2,\"d\":3}"));
	cr_assert_eq(memcmp(buf.data, "{\"a\":1,\"c\":2,\"d\":3}", buf.len), 0);
	cr_assert_eq(r.b->recs[0].flags & SP_RECORD_CHANGED, 0);
	sp_buf_fini(&buf);
	close_stage();
}

Test(processors, renamer_overwrite_replaces_the_target)
{
	open_ok(&sp_stage_field_renamer,
		"fields: {/a: /x}\noverwrite: true");
	cr_assert_eq(run("{\"a\":1,\"x\":2,\"z\":0}\n{\"x\":7}\n"), 0);
	expect_lane(0, "{\"x\":1,\"z\":0}\n{\"x\":7}\n");
	cr_assert_eq(r.b->nerrors, 0);
	close_stage();
}

Test(processors, renamer_rejects_bad_config)
{
	cr_assert_eq(open_stage(&sp_stage_field_renamer, "fields: {/a: /a}"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "fields: '/a' is renamed to itself");
	close_stage();
	cr_assert_eq(open_stage(&sp_stage_field_renamer,
				"fields: {/a/b: /c}"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "fields: '/a/b': nested paths are not "
				"supported by field_renamer yet");
	close_stage();
	cr_assert_eq(bind(&sp_stage_field_renamer, "fields: {/a: b}"), 1);
	cr_assert_str_eq(h.err, "line 1: stage 't': option 'fields./a': 'b' "
				"is not a field path: a field path starts "
				"with '/' (e.g. /user or /a/b)");
	close_stage();
}

/* ---- field_setter ----------------------------------------------------- */

Test(processors, setter_sets_expressions_and_literals)
{
	open_ok(&sp_stage_field_setter,
		"fields:\n"
		"  /b: '${record:value(\"/a\") * 2}'\n"
		"  /src: web\n"
		"  /a: '${str:toUpper(\"x\")}'\n");
	cr_assert_eq(run("{\"a\":2,\"src\":\"old\"}\n"
			 "{\"a\":10}\n"),
		     0);
	/* every expression sees the record as it came in: /b uses /a = 2 */
	expect_lane(0, "{\"a\":\"X\",\"src\":\"web\",\"b\":4}\n"
		       "{\"a\":\"X\",\"b\":20,\"src\":\"web\"}\n");
	cr_assert_eq(r.b->nerrors, 0);
	close_stage();
}

Test(processors, setter_copies_a_field_value)
{
	open_ok(&sp_stage_field_setter,
		"fields: {/copy: '${record:value(\"/s\")}'}");
	cr_assert_eq(run("{\"s\":\"a\\\"b\\u00e9\"}\n"), 0);
	expect_lane(0, "{\"s\":\"a\\\"b\\u00e9\",\"copy\":\"a\\\"b\\u00e9\"}\n");
	close_stage();
}

Test(processors, setter_evaluation_error_is_a_record_error)
{
	open_ok(&sp_stage_field_setter,
		"fields: {/n: '${record:value(\"/s\") * 2}', /t: lit}");
	cr_assert_eq(run("{\"s\":3}\n{\"s\":\"abc\"}\n{\"s\":4}\n"), 0);
	expect_lane(0, "{\"s\":3,\"n\":6,\"t\":\"lit\"}\n"
		       "{\"s\":4,\"n\":8,\"t\":\"lit\"}\n");
	cr_assert_eq(r.b->nerrors, 1);
	cr_assert_eq(r.b->errors[0].record, 1);
	cr_assert_eq(r.b->errors[0].line, 2);
	cr_assert(strncmp(r.b->errors[0].reason, "cannot set /n: ", 15) == 0,
		  "%s", r.b->errors[0].reason);
	/* rejected unchanged */
	cr_assert_eq(r.b->recs[1].nfields, 1);
	close_stage();
}

Test(processors, setter_rejects_bad_config)
{
	cr_assert_eq(open_stage(&sp_stage_field_setter,
				"fields: {/a: 'x ${record:value(\"/b\")}'}"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "fields: /a: 'x ${record:value(\"/b\")}' "
				"mixes text and ${...}; write either one "
				"expression ${...} or plain text");
	close_stage();
	/* a bad expression is a validation problem, found before create */
	cr_assert_eq(bind(&sp_stage_field_setter,
			  "fields: {/a: '${record:value(}'}"),
		     1);
	cr_assert(strstr(h.err, "option 'fields./a': expression error at "
				"column "),
		  "%s", h.err);
	close_stage();
}

/* ---- filter ----------------------------------------------------------- */

Test(processors, filter_keeps_matching_records)
{
	open_ok(&sp_stage_filter,
		"condition: '${record:value(\"/n\") > 1}'");
	cr_assert_eq(run("{\"n\":1}\n{\"n\":2}\n{\"x\":1}\n{\"n\":3.5}\n"
			 "{\"n\":\"abc\"}\n"),
		     0);
	expect_lane(0, "{\"n\":2}\n{\"n\":3.5}\n");
	/* "abc" > 1 cannot be evaluated: a record error, not a drop */
	cr_assert_eq(r.b->nerrors, 1);
	cr_assert_eq(r.b->errors[0].record, 4);
	cr_assert_eq(r.b->errors[0].line, 5);
	close_stage();
}

Test(processors, filter_needs_a_condition)
{
	cr_assert_eq(bind(&sp_stage_filter, "{}"), 1);
	cr_assert(strstr(h.err, "'condition'") && strstr(h.err, "required"),
		  "%s", h.err);
	close_stage();
	cr_assert_eq(bind(&sp_stage_filter, "condition: '${1 +}'"), 1);
	cr_assert(strstr(h.err, "expression error at column"), "%s", h.err);
	close_stage();
}

/* ---- field_type_converter --------------------------------------------- */

Test(processors, converter_converts_values)
{
	open_ok(&sp_stage_field_type_converter,
		"fields: {/i: int, /d: double, /b: bool, /s: string}");
	cr_assert_eq(run("{\"i\":\"42\",\"d\":\"-1.5e3\",\"b\":\"TRUE\","
			 "\"s\":12.50}\n"
			 "{\"i\":3.0,\"d\":7,\"b\":0,\"s\":true}\n"
			 "{\"i\":null,\"d\":null,\"s\":{\"k\":[1]}}\n"
			 "{\"i\":-9223372036854775808,\"s\":\"keep\\n\"}\n"
			 "{\"other\":1}\n"),
		     0);
	expect_lane(0,
		    "{\"i\":42,\"d\":-1500.0,\"b\":true,\"s\":\"12.50\"}\n"
		    "{\"i\":3,\"d\":7.0,\"b\":false,\"s\":\"true\"}\n"
		    "{\"i\":null,\"d\":null,\"s\":\"{\\\"k\\\":[1]}\"}\n"
		    "{\"i\":-9223372036854775808,\"s\":\"keep\\n\"}\n"
		    "{\"other\":1}\n");
	cr_assert_eq(r.b->nerrors, 0);
	cr_assert_eq(r.b->recs[4].flags & SP_RECORD_CHANGED, 0);
	close_stage();
}

/* a decimal string becomes a number exactly as written */
Test(processors, converter_keeps_decimal_text)
{
	open_ok(&sp_stage_field_type_converter, "fields: {/d: double}");
	cr_assert_eq(run("{\"d\":\"12.50\"}\n{\"d\":\"-0.10\"}\n"
			 "{\"d\":\"007.5\"}\n{\"d\":\"5.\"}\n"
			 "{\"d\":\"1e999\"}\n"),
		     0);
	expect_lane(0, "{\"d\":12.50}\n{\"d\":-0.10}\n{\"d\":7.5}\n"
		       "{\"d\":5.0}\n");
	cr_assert_eq(r.b->nerrors, 1);
	close_stage();
}

Test(processors, converter_never_converts_silently)
{
	open_ok(&sp_stage_field_type_converter,
		"fields: {/v: int, /w: bool}");
	cr_assert_eq(run("{\"v\":\"abc\"}\n"
			 "{\"v\":1.5}\n"
			 "{\"v\":1e30}\n"
			 "{\"v\":99999999999999999999}\n"
			 "{\"v\":\"7\",\"w\":7}\n"
			 "{\"v\":[1]}\n"
			 "{\"v\":\"12\",\"w\":\"yes\"}\n"
			 "{\"v\":\"8\"}\n"),
		     0);
	expect_lane(0, "{\"v\":8}\n");
	cr_assert_eq(r.b->nerrors, 7);
	expect_error(0, 0, "field /v: cannot convert \"abc\" (string) to int: "
			   "not a number");
	expect_error(1, 1, "field /v: cannot convert 1.5 (double) to int: "
			   "not a whole number");
	expect_error(2, 2, "field /v: cannot convert 1e30 (double) to int: "
			   "out of range for int");
	expect_error(3, 3, "field /v: cannot convert 99999999999999999999 "
			   "(int) to int: out of range for int");
	expect_error(4, 4, "field /w: cannot convert 7 (int) to bool: only "
			   "true/false/1/0 convert to bool");
	expect_error(5, 5, "field /v: cannot convert [1] (array) to int: not "
			   "a scalar");
	expect_error(6, 6, "field /w: cannot convert \"yes\" (string) to "
			   "bool: only true/false/1/0 convert to bool");
	/* rejected records are unchanged: /v of record 4 is still "7" */
	struct sp_buf buf;
	sp_buf_init(&buf);
	cr_assert_eq(sp_jsonl_encode_record(r.b, 4, &buf), 0);
	cr_assert_eq(buf.len, strlen("{\"v\":\"7\",\"w\":7}"));
	cr_assert_eq(memcmp(buf.data, "{\"v\":\"7\",\"w\":7}", buf.len), 0);
	sp_buf_fini(&buf);
	close_stage();
}

Test(processors, converter_rejects_unknown_types)
{
	cr_assert_eq(open_stage(&sp_stage_field_type_converter,
				"fields: {/a: integer}"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "fields: /a: unknown type 'integer' (int, "
				"double, bool or string)");
	close_stage();
}

/* ---- stream_selector -------------------------------------------------- */

static const char *const selector_yaml =
	"lanes:\n"
	"  high: '${record:value(\"/e\") >= 100}'\n"
	"  even: '${record:value(\"/e\") % 2 == 0}'\n";

Test(processors, selector_lanes_end_with_default)
{
	open_ok(&sp_stage_stream_selector, selector_yaml);
	cr_assert_eq(h.nlanes, 3);
	cr_assert_str_eq(h.lanes[0], "high");
	cr_assert_str_eq(h.lanes[1], "even");
	cr_assert_str_eq(h.lanes[2], "default");
	close_stage();
}

Test(processors, selector_mode_all_routes_to_every_match)
{
	open_ok(&sp_stage_stream_selector, selector_yaml);
	cr_assert_eq(run("{\"e\":200}\n{\"e\":3}\n{\"e\":101}\n{\"e\":4}\n"
			 "{\"x\":1}\n"),
		     0);
	expect_lane(0, "{\"e\":200}\n{\"e\":101}\n");
	expect_lane(1, "{\"e\":200}\n{\"e\":4}\n");
	expect_lane(2, "{\"e\":3}\n{\"x\":1}\n");
	cr_assert_eq(r.b->nerrors, 0);
	close_stage();
}

Test(processors, selector_first_match_routes_once)
{
	char yaml[512];

	snprintf(yaml, sizeof(yaml), "%smode: first_match\n", selector_yaml);
	open_ok(&sp_stage_stream_selector, yaml);
	cr_assert_eq(run("{\"e\":200}\n{\"e\":3}\n{\"e\":101}\n{\"e\":4}\n"),
		     0);
	expect_lane(0, "{\"e\":200}\n{\"e\":101}\n");
	expect_lane(1, "{\"e\":4}\n");
	expect_lane(2, "{\"e\":3}\n");
	close_stage();
}

Test(processors, selector_error_in_any_predicate_is_one_record_error)
{
	open_ok(&sp_stage_stream_selector, selector_yaml);
	cr_assert_eq(run("{\"e\":200}\n{\"e\":\"abc\"}\n{\"e\":5}\n"), 0);
	expect_lane(0, "{\"e\":200}\n");
	expect_lane(1, "{\"e\":200}\n");
	expect_lane(2, "{\"e\":5}\n");
	/* "abc" fails in both predicates but is one error */
	cr_assert_eq(r.b->nerrors, 1);
	cr_assert_eq(r.b->errors[0].record, 1);
	close_stage();

	open_ok(&sp_stage_stream_selector,
		"lanes:\n"
		"  a: '${record:value(\"/e\") == 1}'\n"
		"  b: '${record:value(\"/e\") > 0}'\n");
	/* "abc" == 1 is false, "abc" > 0 fails: the record leaves no trace
	 * in lane a (mode all) */
	cr_assert_eq(run("{\"e\":1}\n{\"e\":\"abc\"}\n"), 0);
	expect_lane(0, "{\"e\":1}\n");
	expect_lane(1, "{\"e\":1}\n");
	expect_lane(2, "");
	cr_assert_eq(r.b->nerrors, 1);
	cr_assert_eq(r.b->errors[0].record, 1);
	close_stage();
}

Test(processors, selector_rejects_a_default_lane)
{
	cr_assert_eq(open_stage(&sp_stage_stream_selector,
				"lanes: {default: '${true}'}"),
		     -EINVAL);
	cr_assert_str_eq(h.err, "lanes: 'default' is the lane for records "
				"matching no predicate; it cannot have one");
	close_stage();
	cr_assert_eq(bind(&sp_stage_stream_selector, "lanes: {a: 'x > 1'}"),
		     1);
	cr_assert(strstr(h.err, "option 'lanes.a': expression error at "
				"column 1: expected '${'"),
		  "%s", h.err);
	close_stage();
}
