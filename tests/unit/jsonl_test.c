/* Unit tests for codec/jsonl.c: parsing into batches, record errors, and the
 * encoder's byte-identical round trips. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/symtab.h"
#include "codec/jsonl.h"

static struct sp_symtab *st;
static struct sp_batch *b;
static struct sp_jsonl_parser ps;
static struct sp_buf out;

static void setup(void)
{
	st = sp_symtab_create();
	cr_assert_not_null(st);
	b = sp_batch_create(st);
	cr_assert_not_null(b);
	b->source = "data/in.jsonl";
	sp_jsonl_parser_init(&ps, st);
	sp_buf_init(&out);
}

static void teardown(void)
{
	sp_buf_fini(&out);
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
}

TestSuite(jsonl, .init = setup, .fini = teardown);

static int parse_n(const char *s, size_t len, uint64_t first_line)
{
	return sp_jsonl_parse(&ps, s, len, first_line, 0, b);
}

static int parse(const char *s)
{
	return parse_n(s, strlen(s), 1);
}

static uint32_t sym(const char *name)
{
	return sp_symtab_intern(st, name, strlen(name));
}

static void expect_out(const char *want)
{
	size_t n = strlen(want);

	cr_assert(out.len == n && memcmp(out.data, want, n) == 0,
		  "encoded\n%.*s\nwant\n%s", (int)out.len, out.data, want);
}

static void encode_all(void)
{
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode(b, NULL, b->nrecs, &out), 0);
}

static void mark_all_changed(void)
{
	for (uint32_t i = 0; i < b->nrecs; i++)
		b->recs[i].flags |= SP_RECORD_CHANGED;
}

static const char round_trip_input[] =
    "{\"id\":1,\"s\":\"a\\\"b\\\\c\\u00e9 \\ud83d\\ude00\\n\","
    "\"n\":12345.50,\"e\":1e3,\"neg\":-0.0,\"big\":"
    "123456789012345678901234567890,"
    "\"o\":{\"k\":[1,2,{\"z\":null}],\"e\":{}},\"a\":[],\"t\":true,"
    "\"f\":false,\"z\":null}\n"
    "{}\n"
    "{\"u\":\"caf\xc3\xa9 \xe2\x9c\x93 \xf0\x9f\x98\x80\",\"w\":\"\"}\n";

Test(jsonl, round_trip_unchanged_is_byte_identical)
{
	cr_assert_eq(parse(round_trip_input), 3);
	cr_assert_eq(b->nerrors, 0);
	encode_all();
	expect_out(round_trip_input);
}

Test(jsonl, round_trip_changed_is_byte_identical)
{
	cr_assert_eq(parse(round_trip_input), 3);
	mark_all_changed();
	encode_all();
	expect_out(round_trip_input);
}

/* Changed records re-encode keys and values of every length from 1 to 40
 * (the short ones are copied inline, by overlapping moves) exactly. */
Test(jsonl, changed_records_keep_keys_and_values_of_every_length)
{
	static struct sp_buf in;
	char key[48], val[48];

	sp_buf_init(&in);
	for (int n = 1; n <= 40; n++) {
		for (int i = 0; i < n; i++) {
			key[i] = (char)('a' + (i * 7 + n) % 26);
			val[i] = (char)('0' + (i * 3 + n) % 10);
		}
		char num[48], line[200];
		memcpy(num, val, (size_t)n);
		num[0] = '7'; /* no leading zero */
		int len =
		    snprintf(line, sizeof(line),
			     "{\"%.*s\":\"%.*s\",\"n\":%.*s,\"o\":[%.*s]}\n", n,
			     key, n, val, n, num, n, num);
		cr_assert_eq(sp_buf_append(&in, line, (size_t)len), 0);
	}
	cr_assert_eq(sp_buf_putc(&in, '\0'), 0);
	cr_assert_eq(parse(in.data), 40);
	cr_assert_eq(b->nerrors, 0);
	mark_all_changed();
	encode_all();
	expect_out(in.data);
	sp_buf_fini(&in);
}

/* Unchanged records back to back are appended in one piece; a blank line,
 * a CRLF line end, a changed record or the limit ends the piece. */
Test(jsonl, encode_run_copies_back_to_back_records_at_once)
{
	static const char in[] = "{\"a\":1}\n{\"a\":2}\n\n{\"a\":3}\r\n"
				 "{\"a\":4}\n{\"a\":5}\n{\"a\":6}\n";
	static const uint32_t want_done[] = {2, 1, 1, 2};
	uint32_t sel[6] = {0, 1, 2, 3, 4, 5}, done, k = 0;

	cr_assert_eq(parse(in), 6);
	b->recs[3].flags |= SP_RECORD_CHANGED;
	out.len = 0;
	for (uint32_t run = 0; k < 6; run++) {
		cr_assert_lt(run, 4);
		cr_assert_eq(
		    sp_jsonl_encode_run(b, sel + k, 6 - k, 100, &out, &done),
		    0);
		cr_assert_eq(done, want_done[run], "run %u", run);
		k += done;
	}
	expect_out("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}\n"
		   "{\"a\":6}\n");
	/* the limit, and a selection that skips a record */
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode_run(b, sel, 6, 1, &out, &done), 0);
	cr_assert_eq(done, 1);
	uint32_t gap[] = {4, 5, 0};
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode_run(b, gap, 3, 100, &out, &done), 0);
	cr_assert_eq(done, 2);
	expect_out("{\"a\":5}\n{\"a\":6}\n");
	encode_all();
	expect_out("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n{\"a\":5}\n"
		   "{\"a\":6}\n");
}

Test(jsonl, values_are_zero_copy_with_types)
{
	cr_assert_eq(parse(round_trip_input), 3);
	const struct sp_value *v = sp_record_get(b, 0, sym("n"));
	cr_assert_not_null(v);
	cr_assert_eq(v->type, SP_DOUBLE);
	cr_assert_eq(v->flags, SP_VALUE_TEXT);
	cr_assert(v->len == 8 && memcmp(v->str, "12345.50", 8) == 0);
	cr_assert(v->str > round_trip_input &&
		  v->str < round_trip_input + sizeof(round_trip_input));

	v = sp_record_get(b, 0, sym("id"));
	cr_assert_eq(v->type, SP_INT);
	int64_t i;
	cr_assert_eq(sp_value_to_int(v, &i), 0);
	cr_assert_eq(i, 1);
	v = sp_record_get(b, 0, sym("e"));
	cr_assert_eq(v->type, SP_DOUBLE);
	double d;
	cr_assert_eq(sp_value_to_double(v, &d), 0);
	cr_assert_eq(d, 1000.0);

	v = sp_record_get(b, 0, sym("s"));
	cr_assert_eq(v->type, SP_STRING);
	cr_assert_eq(v->flags, SP_VALUE_ESCAPED);
	const char *s;
	size_t n;
	cr_assert_eq(sp_value_string_bytes(v, &b->arena, &s, &n), 0);
	const char want[] = "a\"b\\c\xc3\xa9 \xf0\x9f\x98\x80\n";
	cr_assert_eq(n, sizeof(want) - 1);
	cr_assert(memcmp(s, want, n) == 0);

	v = sp_record_get(b, 0, sym("o"));
	cr_assert_eq(v->type, SP_OBJECT);
	const char *o = "{\"k\":[1,2,{\"z\":null}],\"e\":{}}";
	cr_assert(v->len == strlen(o) && memcmp(v->str, o, v->len) == 0);
	cr_assert_eq(sp_record_get(b, 0, sym("a"))->type, SP_ARRAY);
	cr_assert(sp_record_get(b, 0, sym("t"))->type == SP_BOOL &&
		  sp_record_get(b, 0, sym("t"))->b);
	cr_assert(sp_record_get(b, 0, sym("f"))->type == SP_BOOL &&
		  !sp_record_get(b, 0, sym("f"))->b);
	cr_assert_eq(sp_record_get(b, 0, sym("z"))->type, SP_NULL);
	cr_assert_eq(b->recs[1].nfields, 0);
	v = sp_record_get(b, 2, sym("w"));
	cr_assert(v->type == SP_STRING && v->len == 0 &&
		  v->flags == SP_VALUE_JSON_SAFE);
}

Test(jsonl, whitespace_kept_raw_and_normalised_when_changed)
{
	const char *in = "  { \"a\" : 1 ,\t\"b\" : [ 1 , 2 ] }  \n";

	cr_assert_eq(parse(in), 1);
	cr_assert_eq(b->recs[0].raw, in);
	cr_assert_eq(b->recs[0].raw_len, strlen(in) - 1);
	encode_all();
	expect_out(in);
	mark_all_changed();
	encode_all();
	expect_out("{\"a\":1,\"b\":[ 1 , 2 ]}\n");
}

Test(jsonl, crlf_lines)
{
	const char *in = "{\"a\":1}\r\n{\"b\":\"x\"}\r\n";

	cr_assert_eq(parse(in), 2);
	cr_assert_eq(b->recs[0].raw_len, 7);
	cr_assert_eq(b->recs[1].raw_len, 9);
	cr_assert_eq(b->recs[1].raw, in + 9);
	cr_assert_eq(b->recs[1].line, 2);
	encode_all();
	expect_out("{\"a\":1}\n{\"b\":\"x\"}\n");
}

Test(jsonl, blank_lines_last_line_and_line_numbers)
{
	const char *in = "\n{\"a\":1}\n   \n\r\n{\"a\":2}\n\n{\"a\":3}";

	cr_assert_eq(parse_n(in, strlen(in), 10), 3);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_eq(b->recs[0].line, 11);
	cr_assert_eq(b->recs[1].line, 14);
	cr_assert_eq(b->recs[2].line, 16);
	cr_assert_eq(b->recs[2].raw_len, 7);
	cr_assert(memcmp(b->recs[2].raw, "{\"a\":3}", 7) == 0);
	encode_all();
	expect_out("{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
}

Test(jsonl, line_numbers_across_a_batch)
{
	struct sp_buf in;

	sp_buf_init(&in);
	for (int i = 0; i < 3000; i++) {
		char line[64];
		int n = snprintf(line, sizeof(line),
				 i % 3 == 1 ? "{\"i\":%d,\"x\":\"y\"}\n"
					    : "{\"i\":%d}\n",
				 i);
		sp_buf_append(&in, line, (size_t)n);
		if (i % 100 == 0)
			sp_buf_append(&in, "\n", 1);
	}
	cr_assert_eq(sp_jsonl_parse(&ps, in.data, in.len, 1000, 0, b), 3000);
	uint32_t si = sym("i");
	uint64_t line = 1000;
	for (int i = 0; i < 3000; i++) {
		cr_assert_eq(b->recs[i].line, line, "record %d", i);
		const struct sp_value *v = sp_record_get(b, (uint32_t)i, si);
		int64_t got;
		cr_assert_eq(sp_value_to_int(v, &got), 0);
		cr_assert_eq(got, i);
		line += i % 100 == 0 ? 2 : 1;
	}
	sp_buf_fini(&in);
}

struct bad_line {
	const char *text;
	size_t len;
	const char *why;
};

#define BAD(s, w)                                                              \
	{                                                                      \
		s, sizeof(s) - 1, w                                            \
	}

static const struct bad_line bad_lines[] = {
    BAD("{\"a\":1", "expected ',' or '}' after object member at column 7"),
    BAD("{\"a\" 1}", "expected ':' after object key at column 6"),
    BAD("{\"a\":\"abc", "unterminated string at column 6"),
    BAD("{\"ab", "unterminated string at column 2"),
    BAD("[1,2]", "top-level value is not an object at column 1"),
    BAD("  \"x\"", "top-level value is not an object at column 3"),
    BAD("42", "top-level value is not an object at column 1"),
    BAD("{\"a\":1}x", "unexpected data after the object at column 8"),
    BAD("{\"a\":1} {\"b\":2}", "unexpected data after the object at column 9"),
    BAD("{\"a\":\"\xff\"}", "invalid UTF-8 in string at column 7"),
    BAD("{\"a\":\"ok \xe2\x82\"}", "invalid UTF-8 in string at column 10"),
    BAD("{\"a\xc3\":1}", "invalid UTF-8 in string at column 4"),
    BAD("{\"a\":\"x\x01\"}",
	"unescaped control character in string at column 8"),
    BAD("{\"a\":\"x\0y\"}", "NUL byte in string at column 8"),
    BAD("{\"a\":1,}", "expected object key after ',' at column 8"),
    BAD("{,}", "expected object key or '}' at column 2"),
    BAD("{", "expected object key or '}' at column 2"),
    BAD("{\"a\":}", "expected a value at column 6"),
    BAD("{\"a\":", "expected a value at column 6"),
    BAD("{\"a\":tru}", "expected a value at column 6"),
    BAD("{\"a\":01}", "invalid number at column 6"),
    BAD("{\"a\":-}", "invalid number at column 6"),
    BAD("{\"a\":\"\\x\"}", "invalid escape in string at column 7"),
    BAD("{\"a\":\"\\u12\"}", "invalid \\u escape in string at column 7"),
    BAD("{\"a\":\"\\ud800\"}", "unpaired surrogate in string at column 7"),
    BAD("{\"a\":[1,2}", "expected ',' or ']' after array element at column 10"),
    BAD("{\"a\":{\"b\" 2}}", "expected ':' after object key at column 11"),
    BAD("\xef\xbb\xbf{}", "top-level value is not an object at column 1"),
};

Test(jsonl, bad_lines_are_record_errors)
{
	for (size_t i = 0; i < sizeof(bad_lines) / sizeof(bad_lines[0]); i++) {
		const struct bad_line *bl = &bad_lines[i];
		struct sp_buf in;

		sp_batch_reset(b);
		b->source = "data/in.jsonl";
		sp_buf_init(&in);
		sp_buf_append(&in, "{\"ok\":1}\n", 9);
		sp_buf_append(&in, bl->text, bl->len);
		sp_buf_append(&in, "\n{\"ok\":2}\n", 10);
		int n = sp_jsonl_parse(&ps, in.data, in.len, 1, 1000, b);
		cr_assert_eq(n, 2, "line %zu: %d records", i, n);
		cr_assert_eq(b->nerrors, 1, "line %zu", i);
		const struct sp_record_error *e = &b->errors[0];
		cr_assert_str_eq(e->reason, bl->why, "line %zu", i);
		cr_assert_eq(e->line, 2, "line %zu", i);
		cr_assert_eq(e->offset, 1009, "line %zu", i);
		cr_assert_eq(e->record, SP_NO_RECORD);
		cr_assert_eq(e->raw, in.data + 9);
		cr_assert_eq(e->raw_len, bl->len);
		cr_assert_eq(b->recs[0].line, 1);
		cr_assert_eq(b->recs[1].line, 3);
		cr_assert_eq(b->recs[1].nfields, 1);
		cr_assert_eq(b->recs[1].raw, in.data + 10 + bl->len);
		cr_assert_eq(sp_record_fields(b, 1)[0].sym, sym("ok"));
		cr_assert_str_eq(b->source, "data/in.jsonl");
		out.len = 0;
		cr_assert_eq(sp_jsonl_encode(b, NULL, b->nrecs, &out), 0);
		expect_out("{\"ok\":1}\n{\"ok\":2}\n");
		sp_buf_fini(&in);
	}
}

Test(jsonl, nesting_10000_deep_is_an_error)
{
	size_t depth = 10000;
	char *line = malloc(depth * 2 + 32);
	size_t n = 0;

	n += (size_t)sprintf(line, "{\"a\":");
	memset(line + n, '[', depth);
	n += depth;
	memset(line + n, ']', depth);
	n += depth;
	line[n++] = '}';
	line[n++] = '\n';
	memcpy(line + n, "{\"b\":2}", 7);
	n += 7;
	cr_assert_eq(parse_n(line, n, 5), 1);
	cr_assert_eq(b->nerrors, 1);
	cr_assert_str_eq(b->errors[0].reason,
			 "nesting deeper than 512 at column 517");
	cr_assert_eq(b->errors[0].line, 5);
	cr_assert_eq(b->errors[0].offset, 0);
	cr_assert_eq(b->recs[0].line, 6);

	/* 512 levels in all (the record's object plus 511) are fine */
	sp_batch_reset(b);
	n = (size_t)sprintf(line, "{\"a\":");
	memset(line + n, '[', 511);
	n += 511;
	memset(line + n, ']', 511);
	n += 511;
	line[n++] = '}';
	cr_assert_eq(parse_n(line, n, 1), 1);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_eq(sp_record_fields(b, 0)[0].v.len, 1022);
	line[5 + 510] = '{'; /* not an array any more: syntax error */
	sp_batch_reset(b);
	cr_assert_eq(parse_n(line, n, 1), 0);
	cr_assert_eq(b->nerrors, 1);
	free(line);

	/* deep objects, never closed */
	size_t m = 10000;
	char *obj = malloc(m * 5);
	for (size_t i = 0; i < m; i++)
		memcpy(obj + i * 5, "{\"a\":", 5);
	sp_batch_reset(b);
	cr_assert_eq(parse_n(obj, m * 5, 1), 0);
	cr_assert_str_eq(b->errors[0].reason,
			 "nesting deeper than 512 at column 2561");
	free(obj);
}

Test(jsonl, sixteen_mib_field)
{
	size_t big = 16u << 20;
	char *in = malloc(big + 64);
	size_t n = (size_t)sprintf(in, "{\"blob\":\"");

	for (size_t i = 0; i < big; i++)
		in[n + i] = i % 1000 == 999 ? 'q' : (char)('a' + i % 26);
	memcpy(in + n + 100, "\\\"", 2); /* one escape in the middle */
	n += big;
	n += (size_t)sprintf(in + n, "\",\"n\":1}\n{\"n\":2}\n");
	cr_assert_eq(parse_n(in, n, 1), 2);
	cr_assert_eq(b->nerrors, 0);
	const struct sp_value *v = sp_record_get(b, 0, sym("blob"));
	cr_assert_eq(v->type, SP_STRING);
	cr_assert_eq(v->len, big);
	cr_assert_eq(v->flags, SP_VALUE_ESCAPED);
	mark_all_changed();
	encode_all();
	cr_assert_eq(out.len, n);
	cr_assert(memcmp(out.data, in, n) == 0);
	free(in);
}

Test(jsonl, field_paths)
{
	const char *in =
	    "{\"a\":{\"b\":{\"c\":5},\"d\":\"x\",\"e\\u0066\":[1]},"
	    "\"e\":1}\n";
	struct sp_path path;
	struct sp_value v;
	const char *why;

	cr_assert_eq(parse(in), 1);
	cr_assert_eq(sp_path_parse("/a/b/c", st, &path, &why), 0);
	cr_assert_eq(sp_record_get_path(b, 0, &path, &v), 0);
	cr_assert(v.type == SP_INT && v.len == 1 && v.str[0] == '5');
	sp_path_fini(&path);

	cr_assert_eq(sp_path_parse("/a/d", st, &path, &why), 0);
	cr_assert_eq(sp_record_get_path(b, 0, &path, &v), 0);
	cr_assert(v.type == SP_STRING && v.len == 1 && v.str[0] == 'x');
	sp_path_fini(&path);

	cr_assert_eq(sp_path_parse("/a/ef", st, &path, &why), 0);
	cr_assert_eq(sp_record_get_path(b, 0, &path, &v), 0);
	cr_assert(v.type == SP_ARRAY && v.len == 3);
	sp_path_fini(&path);

	cr_assert_eq(sp_path_parse("/a/b", st, &path, &why), 0);
	cr_assert_eq(sp_record_get_path(b, 0, &path, &v), 0);
	cr_assert(v.type == SP_OBJECT && v.len == 7 &&
		  memcmp(v.str, "{\"c\":5}", 7) == 0);
	sp_path_fini(&path);

	const char *missing[] = {"/a/zz", "/e/x", "/a/b/c/d", "/nope"};
	for (size_t i = 0; i < 4; i++) {
		cr_assert_eq(sp_path_parse(missing[i], st, &path, &why), 0);
		cr_assert_eq(sp_record_get_path(b, 0, &path, &v), -ENOENT, "%s",
			     missing[i]);
		sp_path_fini(&path);
	}
}

Test(jsonl, renamed_and_removed_fields)
{
	cr_assert_eq(parse("{\"a\":1,\"b\":\"x\\ty\",\"c\":[1],\"d\":2.50}\n"
			   "{\"a\":3}\n"),
		     2);
	struct sp_field *f = sp_record_fields(b, 0);
	f[0].sym = sym("alpha");
	f[1].sym = SP_SYM_NONE;
	f[3].sym = sym("we\"ird");
	b->recs[0].flags |= SP_RECORD_CHANGED;
	sp_record_fields(b, 1)[0].sym = SP_SYM_NONE;
	b->recs[1].flags |= SP_RECORD_CHANGED;
	encode_all();
	expect_out("{\"alpha\":1,\"c\":[1],\"we\\\"ird\":2.50}\n{}\n");

	/* re-parse what was written: the renamed key reads back */
	struct sp_batch *b2 = sp_batch_create(st);
	char *copy = malloc(out.len);
	memcpy(copy, out.data, out.len);
	cr_assert_eq(sp_jsonl_parse(&ps, copy, out.len, 1, 0, b2), 2);
	cr_assert_eq(sp_record_fields(b2, 0)[2].sym, sym("we\"ird"));
	cr_assert_eq(b2->recs[1].nfields, 0);
	sp_batch_destroy(b2);
	free(copy);
}

Test(jsonl, new_values_from_stages)
{
	cr_assert_eq(parse("{\"a\":1}\n"), 1);
	struct sp_field *f = sp_batch_record_append(b, 0);
	f->sym = sym("s");
	f->v = sp_value_string("q\"x\n", 4);
	f = sp_batch_record_append(b, 0);
	f->sym = sym("i");
	f->v = sp_value_int(-9000000000LL);
	f = sp_batch_record_append(b, 0);
	f->sym = sym("d");
	f->v = sp_value_double(0.25);
	f = sp_batch_record_append(b, 0);
	f->sym = sym("nan");
	f->v = sp_value_double(0.0 / 0.0);
	f = sp_batch_record_append(b, 0);
	f->sym = sym("t");
	f->v = sp_value_bool(true);
	f = sp_batch_record_append(b, 0);
	f->sym = sym("z");
	f->v = sp_value_null();
	encode_all();
	expect_out("{\"a\":1,\"s\":\"q\\\"x\\n\",\"i\":-9000000000,"
		   "\"d\":0.25,\"nan\":null,\"t\":true,\"z\":null}\n");
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode_record(b, 0, &out), 0);
	cr_assert_eq(out.data[out.len - 1], '}');
}

/* A byte order mark starts an input, not a line; later it is an error. */
Test(jsonl, bom_at_input_start_skipped)
{
	static const char in[] = "\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n";

	cr_assert_eq(parse(in), 2);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_eq(b->recs[0].raw_len, 7);
	cr_assert_eq(b->recs[0].line, 1);
	cr_assert_eq(sp_record_get(b, 0, sym("a"))->str[0], '1');
	sp_batch_reset(b);
	cr_assert_eq(sp_jsonl_parse(&ps, in, strlen(in), 5, 100, b), 1);
	cr_assert_eq(b->nerrors, 1);
}

/* A repeated key keeps its first place and takes its last value, whether
 * its names were predicted from the line before or not. */
Test(jsonl, duplicate_keys_last_wins)
{
	const char *in = "{\"a\":1,\"b\":0,\"a\":2}\n"
			 "{\"a\":3,\"b\":0,\"a\":20000}\n"
			 "{\"a\":1,\"a\":2}\n"
			 "{\"a\":5,\"a\":6}\n"
			 "{\"a\":7,\"b\":8}\n";

	cr_assert_eq(parse(in), 5);
	cr_assert_eq(b->recs[0].nfields, 2);
	cr_assert_eq(sp_record_fields(b, 0)[0].sym, sym("a"));
	cr_assert_eq(sp_record_fields(b, 0)[1].sym, sym("b"));
	cr_assert_eq(sp_record_get(b, 1, sym("a"))->str[0], '2');
	for (uint32_t r = 0; r < 4; r++)
		cr_assert(b->recs[r].flags & SP_RECORD_CHANGED, "record %u", r);
	cr_assert_eq(b->recs[4].flags & SP_RECORD_CHANGED, 0);
	cr_assert_eq(b->recs[3].nfields, 1);
	encode_all();
	expect_out("{\"a\":2,\"b\":0}\n{\"a\":20000,\"b\":0}\n{\"a\":2}\n"
		   "{\"a\":6}\n{\"a\":7,\"b\":8}\n");
}

static void expect_names(uint32_t rec, const char *const *names, uint32_t n)
{
	cr_assert_eq(b->recs[rec].nfields, n, "record %u", rec);
	for (uint32_t i = 0; i < n; i++)
		cr_assert_eq(sp_record_fields(b, rec)[i].sym, sym(names[i]),
			     "record %u field %u", rec, i);
}

Test(jsonl, key_prediction_never_confuses_names)
{
	const char *in = "{\"a\":1,\"b\":2}\n"
			 "{\"b\":3,\"a\":4}\n"
			 "{\"ab\":5}\n"
			 "{\"a\":6}\n"
			 "{\"a\\u0062\":7}\n"
			 "{\"a\" :8, \"b\":9,\"c\":10}\n"
			 "{\"a\\\\\":11}\n"
			 "{\"a\\\\\":12}\n";

	cr_assert_eq(parse(in), 8);
	cr_assert_eq(b->nerrors, 0);
	expect_names(0, (const char *[]){"a", "b"}, 2);
	expect_names(1, (const char *[]){"b", "a"}, 2);
	expect_names(2, (const char *[]){"ab"}, 1);
	expect_names(3, (const char *[]){"a"}, 1);
	expect_names(4, (const char *[]){"ab"}, 1);
	expect_names(5, (const char *[]){"a", "b", "c"}, 3);
	expect_names(6, (const char *[]){"a\\"}, 1);
	expect_names(7, (const char *[]){"a\\"}, 1);
	/* a second parser shares the table: same ids */
	struct sp_jsonl_parser ps2;
	struct sp_batch *b2 = sp_batch_create(st);
	sp_jsonl_parser_init(&ps2, st);
	cr_assert_eq(sp_jsonl_parse(&ps2, "{\"c\":1,\"ab\":2}", 14, 1, 0, b2),
		     1);
	cr_assert_eq(sp_record_fields(b2, 0)[0].sym, sym("c"));
	cr_assert_eq(sp_record_fields(b2, 0)[1].sym, sym("ab"));
	sp_batch_destroy(b2);
}

/* Lines long enough for keys to be matched as 16-byte words: names that
 * share a prefix, a 13-character name ("name": is 16 bytes) and a 14 (17),
 * spaces around the colon, and the values read after a matched key. */
Test(jsonl, key_prediction_by_words_never_confuses_names)
{
	static const char pad[] = "\"pad\":\"0123456789abcdef0123456789\"}\n";
	static const char *const lines[] = {
	    "{\"a\":1,\"abcdefghijklm\":2,\"abcdefghijklmn\":3,",
	    "{\"a\":4,\"abcdefghijklm\":5,\"abcdefghijklmn\":6,",
	    "{\"ab\":7,\"abcdefghijklX\":8,\"abcdefghijklmX\":9,",
	    "{\"a\": 10,\"abcdefghijklm\" :11,\"abcdefghijklmn\":\t12,",
	    "{\"a\":13,\"abcdefghijkl\":14,\"abcdefghijklmn\":15,",
	};
	static const char *const names[][4] = {
	    {"a", "abcdefghijklm", "abcdefghijklmn", "pad"},
	    {"a", "abcdefghijklm", "abcdefghijklmn", "pad"},
	    {"ab", "abcdefghijklX", "abcdefghijklmX", "pad"},
	    {"a", "abcdefghijklm", "abcdefghijklmn", "pad"},
	    {"a", "abcdefghijkl", "abcdefghijklmn", "pad"},
	};
	char in[1024] = "";

	for (size_t i = 0; i < 5; i++) {
		strcat(in, lines[i]);
		strcat(in, pad);
	}
	cr_assert_eq(parse(in), 5);
	cr_assert_eq(b->nerrors, 0);
	for (uint32_t r = 0; r < 5; r++) {
		expect_names(r, names[r], 4);
		for (uint32_t i = 0; i < 3; i++) {
			const struct sp_value *v = &sp_record_fields(b, r)[i].v;
			cr_assert_eq(v->len, r * 3 + i + 1 < 10 ? 1 : 2);
			cr_assert_eq(strtol(v->str, NULL, 10), r * 3 + i + 1,
				     "record %u field %u", r, i);
		}
	}
}

Test(jsonl, many_fields_past_the_prediction_window)
{
	struct sp_buf in;

	sp_buf_init(&in);
	for (int line = 0; line < 3; line++) {
		sp_buf_putc(&in, '{');
		for (int i = 0; i < 100; i++) {
			char f[32];
			int k = line == 1 ? 99 - i : i;
			int n = snprintf(f, sizeof(f), "%s\"f%d\":%d",
					 i ? "," : "", k, k);
			sp_buf_append(&in, f, (size_t)n);
		}
		sp_buf_append(&in, "}\n", 2);
	}
	cr_assert_eq(sp_jsonl_parse(&ps, in.data, in.len, 1, 0, b), 3);
	for (uint32_t r = 0; r < 3; r++) {
		for (uint32_t i = 0; i < 100; i++) {
			char name[16];
			uint32_t k = r == 1 ? 99 - i : i;
			snprintf(name, sizeof(name), "f%u", k);
			cr_assert_eq(sp_record_fields(b, r)[i].sym, sym(name));
		}
	}
	mark_all_changed();
	encode_all();
	cr_assert_eq(out.len, in.len);
	cr_assert(memcmp(out.data, in.data, in.len) == 0);
	sp_buf_fini(&in);
}

Test(jsonl, encode_selection_in_order)
{
	cr_assert_eq(parse("{\"i\":0}\n{\"i\":1}\n{\"i\":2}\n"), 3);
	uint32_t sel[] = {2, 0};
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode(b, sel, 2, &out), 0);
	expect_out("{\"i\":2}\n{\"i\":0}\n");
	b->recs[0].flags |= SP_RECORD_CHANGED;
	sp_record_fields(b, 0)[0].sym = sym("j");
	out.len = 0;
	cr_assert_eq(sp_jsonl_encode(b, sel, 2, &out), 0);
	expect_out("{\"i\":2}\n{\"j\":0}\n");
}

Test(jsonl, split_on_last_newline)
{
	cr_assert_eq(sp_jsonl_split("a\nb\nc", 5), 4);
	cr_assert_eq(sp_jsonl_split("a\nb\n", 4), 4);
	cr_assert_eq(sp_jsonl_split("abc", 3), 0);
	cr_assert_eq(sp_jsonl_split("", 0), 0);
	cr_assert_eq(sp_jsonl_split("\n", 1), 1);
}

Test(jsonl, error_offsets_use_base_offset)
{
	const char *in = "{\"a\":1}\nnope\n{\"a\":2}\n[]";

	cr_assert_eq(sp_jsonl_parse(&ps, in, strlen(in), 41, 5000, b), 2);
	cr_assert_eq(b->nerrors, 2);
	cr_assert_eq(b->errors[0].line, 42);
	cr_assert_eq(b->errors[0].offset, 5008);
	cr_assert_str_eq(b->errors[0].reason,
			 "top-level value is not an object at column 1");
	cr_assert_eq(b->errors[1].line, 44);
	cr_assert_eq(b->errors[1].offset, 5021);
	cr_assert_eq(b->errors[1].raw_len, 2);
	cr_assert_eq(b->recs[1].line, 43);
}

/* line counting (SIMD blocks of 16, sums every 255 blocks) agrees with a
 * byte loop at every length and alignment */
Test(jsonl, count_lines_matches_a_byte_loop)
{
	static char buf[255 * 16 * 3 + 100];
	unsigned seed = 7;

	for (size_t i = 0; i < sizeof(buf); i++) {
		seed = seed * 1103515245u + 12345u;
		buf[i] = (seed >> 16) % 5 == 0 ? '\n' : 'a';
	}
	memset(buf + 100, '\n', 255 * 16 + 40); /* counters at their limit */
	const size_t lens[] = {0,  1,	     15,	   16,
			       17, 255 * 16, 255 * 16 + 1, sizeof(buf) - 3};
	for (size_t off = 0; off < 3; off++)
		for (size_t k = 0; k < sizeof(lens) / sizeof(lens[0]); k++) {
			size_t want = 0;
			for (size_t i = 0; i < lens[k]; i++)
				want += buf[off + i] == '\n';
			cr_expect_eq(sp_count_lines(buf + off, lens[k]), want,
				     "offset %zu length %zu", off, lens[k]);
		}
}
