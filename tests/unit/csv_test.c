/* Tests of the CSV codec: parsing, typed columns, errors, split, encoder. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/symtab.h"
#include "codec/csv.h"
#include "codec/csv_conv.h"

static struct sp_symtab *st;
static struct sp_batch *b;
static struct sp_csv_parser parser;
static bool parser_live;

/* the text parse_column parsed last: its records point into it */
static struct sp_buf column_text;

static void setup(void)
{
	st = sp_symtab_create();
	cr_assert_not_null(st);
	b = sp_batch_create(st);
	cr_assert_not_null(b);
	parser_live = false;
}

static void teardown(void)
{
	if (parser_live)
		sp_csv_parser_fini(&parser);
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
	sp_buf_fini(&column_text);
}

TestSuite(csv, .init = setup, .fini = teardown);

static struct sp_csv_options opts(char d, bool header)
{
	return (struct sp_csv_options){
	    .delimiter = d, .quote = '"', .header = header};
}

/* Reads the preamble and parses the rest of text; returns records added. */
static int parse_text(const struct sp_csv_options *o, const char *text,
		      size_t len)
{
	char err[256];
	uint64_t lines = 0;

	if (parser_live)
		sp_csv_parser_fini(&parser);
	cr_assert_eq(sp_csv_parser_init(&parser, o, st), 0);
	parser_live = true;
	ssize_t used = sp_csv_read_preamble(&parser, st, text, len, true, &lines, err,
					    sizeof(err));
	cr_assert_geq(used, 0, "preamble: %zd %s", used, err);
	return sp_csv_parse(&parser, text + used, len - (size_t)used, lines + 1,
			    (uint64_t)used, b);
}

static int parse_str(const struct sp_csv_options *o, const char *text)
{
	return parse_text(o, text, strlen(text));
}

static const char *name_of(uint32_t rec, uint32_t i)
{
	return sp_symtab_name(st, sp_record_fields(b, rec)[i].sym, NULL);
}

static const struct sp_value *val(uint32_t rec, uint32_t i)
{
	cr_assert_lt(i, b->recs[rec].nfields);
	return &sp_record_fields(b, rec)[i].v;
}

/* a number field's value, whether kept as its text or as binary */
static int64_t ival(uint32_t rec, uint32_t i)
{
	int64_t x = 0;

	cr_assert_eq(sp_value_to_int(val(rec, i), &x), 0);
	return x;
}

static double dval(uint32_t rec, uint32_t i)
{
	double x = 0;

	cr_assert_eq(sp_value_to_double(val(rec, i), &x), 0);
	return x;
}

/* true when a CSV field of the ',' '"' dialect holds s without quotes */
static bool csv_bare(const char *s)
{
	size_t n = strlen(s);

	if (n && (s[0] == ' ' || s[n - 1] == ' ' ||
		  !strncmp(s, "\xef\xbb\xbf", 3)))
		return false;
	return !strpbrk(s, ",\"\r\n\t");
}

/* true when JSON can hold s between quotes as it is */
static bool json_safe(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == '"' || *s == '\\')
			return false;
	return true;
}

static void expect_str(uint32_t rec, uint32_t i, const char *name,
		       const char *want)
{
	const struct sp_value *v = val(rec, i);

	cr_assert_str_eq(name_of(rec, i), name);
	cr_assert_eq(v->type, SP_STRING, "rec %u field %u type %d", rec, i,
		     v->type);
	const char *s;
	size_t len;

	/* JSON-safe may be claimed only for text that needs no escaping;
	 * escaped text (doubled quotes kept as \") is compared decoded */
	cr_assert_eq(v->flags & ~(SP_VALUE_JSON_SAFE | SP_VALUE_ESCAPED |
				  SP_VALUE_CSV_BARE),
		     0);
	if (v->flags & SP_VALUE_JSON_SAFE)
		cr_assert(json_safe(want), "rec %u field %u marked JSON-safe",
			  rec, i);
	if (v->flags & SP_VALUE_CSV_BARE)
		cr_assert(csv_bare(want), "rec %u field %u marked CSV-bare",
			  rec, i);
	cr_assert_eq(sp_value_string_bytes(v, &b->arena, &s, &len), 0);
	cr_assert_eq(len, strlen(want), "rec %u field %u: '%.*s'", rec, i,
		     (int)len, s);
	cr_assert(memcmp(s, want, len) == 0, "rec %u field %u: '%.*s'", rec, i,
		  (int)len, s);
}

static void expect_raw(uint32_t rec, const char *raw, uint64_t line)
{
	cr_assert_eq(b->recs[rec].raw_len, strlen(raw));
	cr_assert(memcmp(b->recs[rec].raw, raw, strlen(raw)) == 0, "raw '%.*s'",
		  (int)b->recs[rec].raw_len, b->recs[rec].raw);
	cr_assert_eq(b->recs[rec].line, line, "line %llu",
		     (unsigned long long)b->recs[rec].line);
}

static void expect_err(uint32_t i, uint64_t line, uint64_t offset,
		       const char *raw, const char *reason)
{
	cr_assert_lt(i, b->nerrors);
	const struct sp_record_error *e = &b->errors[i];
	cr_assert_str_eq(e->reason, reason);
	cr_assert_eq(e->record, SP_NO_RECORD);
	cr_assert_eq(e->line, line, "line %llu", (unsigned long long)e->line);
	cr_assert_eq(e->offset, offset, "offset %llu",
		     (unsigned long long)e->offset);
	cr_assert_eq(e->raw_len, strlen(raw), "raw '%.*s'", (int)e->raw_len,
		     e->raw);
	cr_assert(memcmp(e->raw, raw, strlen(raw)) == 0);
}

static bool in_input(const char *text, size_t len, const struct sp_value *v)
{
	return v->str >= text && v->str + v->len <= text + len;
}

/* Parses lines[0..n), one a line, as the single column col (no
 * header): the records parsed. */
static int parse_column(const struct sp_csv_column *col,
			const char *const *lines, unsigned n)
{
	struct sp_csv_options o = opts(',', false);

	o.schema = col;
	o.nschema = 1;
	column_text.len = 0;
	for (unsigned k = 0; k < n; k++) {
		sp_buf_append(&column_text, lines[k], strlen(lines[k]));
		sp_buf_putc(&column_text, '\n');
	}
	return parse_text(&o, column_text.data, column_text.len);
}

Test(csv, header_and_zero_copy)
{
	const char *text = "id,name,city\n1,ann,paris\n2,bob,\n";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, text), 2);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_eq(parser.ncols, 3);
	cr_assert_eq(b->recs[0].nfields, 3);
	expect_str(0, 0, "id", "1");
	expect_str(0, 1, "name", "ann");
	expect_str(0, 2, "city", "paris");
	expect_str(1, 0, "id", "2");
	expect_str(1, 2, "city", "");
	expect_raw(0, "1,ann,paris", 2);
	expect_raw(1, "2,bob,", 3);
	cr_assert(in_input(text, strlen(text), val(0, 1)));
	cr_assert_eq(val(0, 1)->str, text + 15);
}

Test(csv, quoted_fields)
{
	const char *text = "a,b,c\n"
			   "\"x,y\",\"say \"\"hi\"\"\",plain\n"
			   "\"multi\nline\",\"\",\"q\"\n"
			   "after,2,3\n";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, text), 3);
	cr_assert_eq(b->nerrors, 0);
	expect_str(0, 0, "a", "x,y");
	expect_str(0, 1, "b", "say \"hi\"");
	expect_str(0, 2, "c", "plain");
	/* no doubled quotes: zero copy; doubled quotes: unquoted copy */
	cr_assert(in_input(text, strlen(text), val(0, 0)));
	cr_assert_not(in_input(text, strlen(text), val(0, 1)));
	expect_str(1, 0, "a", "multi\nline");
	expect_str(1, 1, "b", "");
	expect_str(1, 2, "c", "q");
	expect_raw(0, "\"x,y\",\"say \"\"hi\"\"\",plain", 2);
	expect_raw(1, "\"multi\nline\",\"\",\"q\"", 3);
	/* the quoted newline counts: "after" is on line 5 */
	expect_raw(2, "after,2,3", 5);
}

Test(csv, crlf_line_ends)
{
	const char *text = "a,b\r\n1,\"two\"\r\n\"x\r\ny\",z\r\nlast,row";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, text), 3);
	cr_assert_eq(b->nerrors, 0);
	expect_str(0, 0, "a", "1");
	expect_str(0, 1, "b", "two");
	expect_raw(0, "1,\"two\"", 2);
	expect_str(1, 0, "a", "x\r\ny");
	expect_str(1, 1, "b", "z");
	expect_raw(1, "\"x\r\ny\",z", 3);
	expect_str(2, 0, "a", "last");
	expect_str(2, 1, "b", "row");
	expect_raw(2, "last,row", 5);
}

/* JSON-safe: the text needs no escaping; escaped: the text is the JSON
 * form (a field whose only special bytes are doubled quotes) */
Test(csv, fields_are_marked_json_safe_or_kept_escaped)
{
	const char *text =
	    "a,b,c,d\r\n"
	    "plain,\"quoted, with comma\",\"say \"\"hi\"\"\",back\\slash\r\n"
	    "in\"side,\"two\nlines\",tab\there,\"\"\n"
	    "2024-06-05T02:58:49Z,,\"\"\"\"\"\",\"a\"\"\tb\"\n"
	    "\"\"\"x\"\"\",\"\",\"\",last";
	static const struct sp_csv_column schema[] = {
	    {.name = "a", .type = SP_CSV_STRING},
	};
	struct sp_csv_options o = opts(',', true);
	static const struct {
		uint32_t rec, field;
		const char *text;
		uint8_t flags;
	} want[] = {
	    {0, 0, "plain", SP_VALUE_JSON_SAFE | SP_VALUE_CSV_BARE},
	    {0, 1, "quoted, with comma", SP_VALUE_JSON_SAFE},
	    {0, 2, "say \\\"hi\\\"", SP_VALUE_ESCAPED},
	    {0, 3, "back\\slash", 0},
	    {1, 0, "in\"side", 0},
	    {1, 1, "two\nlines", 0},
	    {1, 2, "tab\there", 0},
	    {1, 3, "", SP_VALUE_JSON_SAFE},
	    {2, 0, "2024-06-05T02:58:49Z",
	     SP_VALUE_JSON_SAFE | SP_VALUE_CSV_BARE},
	    {2, 1, "", SP_VALUE_JSON_SAFE | SP_VALUE_CSV_BARE},
	    {2, 2, "\\\"\\\"", SP_VALUE_ESCAPED},
	    {2, 3, "a\"\tb", 0},
	    {3, 0, "\\\"x\\\"", SP_VALUE_ESCAPED},
	    {3, 3, "last", SP_VALUE_JSON_SAFE | SP_VALUE_CSV_BARE},
	};

	o.schema = schema;
	o.nschema = 1;
	cr_assert_eq(parse_str(&o, text), 4);
	cr_assert_eq(b->nerrors, 0);
	for (size_t k = 0; k < sizeof(want) / sizeof(want[0]); k++) {
		const struct sp_value *v = val(want[k].rec, want[k].field);

		cr_assert_eq(v->len, strlen(want[k].text), "case %zu", k);
		cr_assert(memcmp(v->str, want[k].text, v->len) == 0,
			  "case %zu: '%.*s'", k, (int)v->len, v->str);
		cr_assert_eq(v->flags, want[k].flags,
			     "case %zu ('%s'): flags %#x", k, want[k].text,
			     v->flags);
	}
}

/* Delimiters and quotes that JSON escapes: a backslash or '"' delimiter
 * inside quotes, a tab quote undoubled into the text. */
Test(csv, delimiters_and_quotes_json_escapes_are_never_marked_safe)
{
	static const struct {
		char d, q;
		const char *text, *want;
	} cases[] = {
	    {'\\', '"', "a\\b\n\"x\\y\"\\z\n", "x\\y"},
	    {'\\', '"', "a\\b\n\"m\\tc\"\"o\"\\z\n", "m\\tc\"o"},
	    {'"', '\'', "a\"b\n'x\"y'\"z\n", "x\"y"},
	    {',', '\t', "a,b\n\ta\t\tb\t,c\n", "a\tb"},
	    {',', '\001', "a,b\n\001a\001\001b\001,c\n", "a\001b"},
	};

	for (size_t k = 0; k < sizeof(cases) / sizeof(cases[0]); k++) {
		struct sp_csv_options o = opts(cases[k].d, true);

		o.quote = cases[k].q;
		sp_batch_reset(b);
		cr_assert_eq(parse_str(&o, cases[k].text), 1, "case %zu", k);
		cr_assert_eq(b->nerrors, 0, "case %zu", k);
		expect_str(0, 0, "a", cases[k].want);
		cr_assert_eq(val(0, 0)->flags, 0, "case %zu: flags %#x", k,
			     val(0, 0)->flags);
	}
}

Test(csv, timestamps_in_utc_keep_their_text)
{
	const char *text = "ts\n"
			   "2024-06-05T02:58:49Z\n"
			   "2024-06-05 02:58:49.125z\n"
			   "2024-06-05T02:58:49\n"
			   "2024-02-29\n"
			   "2024-06-05T02:58:49+02:00\n"
			   "2023-02-29T00:00:00Z\n";
	static const struct sp_csv_column schema[] = {
	    {.name = "ts", .type = SP_CSV_TIMESTAMP},
	};
	static const char *const want[] = {
	    "2024-06-05T02:58:49Z", "2024-06-05T02:58:49.125Z",
	    "2024-06-05T02:58:49Z", "2024-02-29T00:00:00Z",
	    "2024-06-05T00:58:49Z",
	};
	struct sp_csv_options o = opts(',', true);

	o.schema = schema;
	o.nschema = 1;
	cr_assert_eq(parse_str(&o, text), 5);
	cr_assert_eq(b->nerrors, 1, "2023-02-29 is not a date");
	for (uint32_t k = 0; k < 5; k++) {
		const struct sp_value *v = val(k, 0);

		cr_assert_eq(v->len, strlen(want[k]), "rec %u: '%.*s'", k,
			     (int)v->len, v->str);
		cr_assert(memcmp(v->str, want[k], v->len) == 0,
			  "rec %u: '%.*s'", k, (int)v->len, v->str);
		cr_assert(v->flags & SP_VALUE_JSON_SAFE);
	}
}

Test(csv, no_header_names_columns_by_position)
{
	const char *text = "1,2,3\n4,5,6\n";
	struct sp_csv_options o = opts(',', false);

	cr_assert_eq(parse_str(&o, text), 2);
	cr_assert_eq(parser.ncols, 3);
	expect_str(0, 0, "_1", "1");
	expect_str(0, 2, "_3", "3");
	expect_str(1, 1, "_2", "5");
	expect_raw(0, "1,2,3", 1);
	expect_raw(1, "4,5,6", 2);
}

Test(csv, custom_delimiters_and_quote)
{
	struct sp_csv_options o = opts('\t', true);

	cr_assert_eq(parse_str(&o, "a\tb\nx,y\t\"p\tq\"\n"), 1);
	expect_str(0, 0, "a", "x,y");
	expect_str(0, 1, "b", "p\tq");
	sp_batch_reset(b);

	o = opts(';', true);
	cr_assert_eq(parse_str(&o, "a;b\n1,5;\"x;y\"\n"), 1);
	expect_str(0, 0, "a", "1,5");
	expect_str(0, 1, "b", "x;y");
	sp_batch_reset(b);

	o = opts('|', true);
	o.quote = '\'';
	cr_assert_eq(parse_str(&o, "a|b\n'it''s|x'|\"q\"\n"), 1);
	expect_str(0, 0, "a", "it's|x");
	expect_str(0, 1, "b", "\"q\"");
}

Test(csv, ignore_lines_and_blank_lines)
{
	const char *text = "# exported\n# by tool\nk,v\n\na,1\n\r\nb,2\n";
	struct sp_csv_options o = opts(',', true);
	o.ignore_lines = 2;

	cr_assert_eq(parse_str(&o, text), 2);
	cr_assert_eq(b->nerrors, 0);
	expect_str(0, 0, "k", "a");
	expect_raw(0, "a,1", 5);
	expect_str(1, 1, "v", "2");
	expect_raw(1, "b,2", 7);
}

Test(csv, byte_order_mark_is_skipped)
{
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, "\xef\xbb\xbfid,v\n7,x\n"), 1);
	expect_str(0, 0, "id", "7");
}

Test(csv, preamble_needs_complete_header)
{
	struct sp_csv_options o = opts(',', true);
	char err[128];
	uint64_t lines = 99;

	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "a,b", 3, false, &lines, err,
					  sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "\"a\nb\",c", 7, false, &lines,
					  err, sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "\"a\nb\",c\n1,2\n", 12, false,
					  &lines, err, sizeof(err)),
		     8);
	cr_assert_eq(lines, 2);
	cr_assert_eq(parser.ncols, 2);
	cr_assert_str_eq(sp_symtab_name(st, parser.col_sym[0], NULL), "a\nb");
}

Test(csv, header_errors)
{
	struct sp_csv_options o = opts(',', true);
	char err[128];
	uint64_t lines;

	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "a,\"b\"x,c\n", 9, false,
					  &lines, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(
	    err, "header: unexpected 'x' after closing quote in field 2");
}

Test(csv, schema_without_header)
{
	static const struct sp_csv_column schema[] = {
	    {"id", SP_CSV_INT},	      {"price", SP_CSV_DOUBLE},
	    {"ok", SP_CSV_BOOL},      {"name", SP_CSV_STRING},
	    {"at", SP_CSV_TIMESTAMP},
	};
	struct sp_csv_options o = opts(',', false);
	o.schema = schema;
	o.nschema = 5;

	cr_assert_eq(parse_str(&o, "42,-1.25,yes,ann,2024-03-01\n"
				   ",,,,\n"),
		     2);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_str_eq(name_of(0, 0), "id");
	cr_assert_eq(val(0, 0)->type, SP_INT);
	cr_assert_eq(ival(0, 0), 42);
	/* the text as it would be printed: kept, pointing into the input */
	cr_assert_eq(val(0, 0)->flags, SP_VALUE_TEXT | SP_VALUE_CSV_BARE);
	cr_assert_str_eq(name_of(0, 1), "price");
	cr_assert_eq(val(0, 1)->type, SP_DOUBLE);
	cr_assert_eq(dval(0, 1), -1.25);
	cr_assert_eq(val(0, 2)->type, SP_BOOL);
	cr_assert_eq(val(0, 2)->b, true);
	expect_str(0, 3, "name", "ann");
	expect_str(0, 4, "at", "2024-03-01T00:00:00Z");
	/* empty typed fields are null, an empty string stays a string */
	cr_assert_eq(val(1, 0)->type, SP_NULL);
	cr_assert_eq(val(1, 1)->type, SP_NULL);
	cr_assert_eq(val(1, 2)->type, SP_NULL);
	expect_str(1, 3, "name", "");
	cr_assert_eq(val(1, 4)->type, SP_NULL);
}

Test(csv, schema_with_header_by_name)
{
	static const struct sp_csv_column schema[] = {
	    {"n", SP_CSV_INT},
	    {"x", SP_CSV_DOUBLE},
	};
	struct sp_csv_options o = opts(',', true);
	o.schema = schema;
	o.nschema = 2;

	cr_assert_eq(parse_str(&o, "x,label,n\n2.5,hello,7\n"), 1);
	cr_assert_eq(parser.ncols, 3);
	cr_assert_str_eq(name_of(0, 0), "x");
	cr_assert_eq(val(0, 0)->type, SP_DOUBLE);
	cr_assert_eq(dval(0, 0), 2.5);
	expect_str(0, 1, "label", "hello");
	cr_assert_str_eq(name_of(0, 2), "n");
	cr_assert_eq(val(0, 2)->type, SP_INT);
	cr_assert_eq(ival(0, 2), 7);
}

Test(csv, schema_column_missing_from_header)
{
	static const struct sp_csv_column schema[] = {
	    {"id", SP_CSV_INT},
	    {"expense", SP_CSV_DOUBLE},
	};
	struct sp_csv_options o = opts(',', true);
	char err[128];
	uint64_t lines;

	o.schema = schema;
	o.nschema = 2;
	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "id,cost\n1,2\n", 12, false,
					  &lines, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "header has no column 'expense' named in schema");
}

Test(csv, int_conversion)
{
	static const struct sp_csv_column schema[] = {{"n", SP_CSV_INT}};
	struct sp_csv_options o = opts(',', true);
	const char *text = "n\n+5\n-9223372036854775808\n9223372036854775807\n"
			   "9223372036854775808\n12x\n 5\n-\n007\n";
	o.schema = schema;
	o.nschema = 1;

	cr_assert_eq(parse_str(&o, text), 4);
	cr_assert_eq(ival(0, 0), 5);
	cr_assert_eq(ival(1, 0), INT64_MIN);
	cr_assert_eq(ival(2, 0), INT64_MAX);
	cr_assert_eq(ival(3, 0), 7);
	expect_raw(3, "007", 9);
	cr_assert_eq(b->nerrors, 4);
	expect_err(0, 5, 46, "9223372036854775808",
		   "column \"n\" (field 1): \"9223372036854775808\" is out of "
		   "range for an int");
	expect_err(1, 6, 66, "12x",
		   "column \"n\" (field 1): \"12x\" is not an int");
	expect_err(2, 7, 70, " 5",
		   "column \"n\" (field 1): \" 5\" is not an int");
	expect_err(3, 8, 73, "-",
		   "column \"n\" (field 1): \"-\" is not an int");
}

Test(csv, double_conversion)
{
	static const struct sp_csv_column schema[] = {
	    {"id", SP_CSV_STRING}, {"expense", SP_CSV_DOUBLE}};
	struct sp_csv_options o = opts(',', true);
	const char *good[] = {
	    "1.5",
	    "-2e3",
	    ".5",
	    "5.",
	    "+0.1",
	    "1E-400",
	    "0.1000000000000000055511151231257827021181583404541015625"};
	const double want[] = {1.5, -2e3, .5, 5., 0.1, 0.0, 0.1};
	const char *bad[] = {"12x", "nan", "inf", "0x10", " 1", "1e", "."};
	struct sp_buf text;

	o.schema = schema;
	o.nschema = 2;
	sp_buf_init(&text);
	sp_buf_append(&text, "id,expense\n", 11);
	for (unsigned i = 0; i < 7; i++) {
		sp_buf_append(&text, "g,", 2);
		sp_buf_append(&text, good[i], strlen(good[i]));
		sp_buf_putc(&text, '\n');
	}
	for (unsigned i = 0; i < 7; i++) {
		sp_buf_append(&text, "b,", 2);
		sp_buf_append(&text, bad[i], strlen(bad[i]));
		sp_buf_putc(&text, '\n');
	}
	sp_buf_append(&text, "r,1e999\n", 8);
	cr_assert_eq(parse_text(&o, text.data, text.len), 7);
	for (unsigned i = 0; i < 7; i++) {
		cr_assert_eq(val(i, 1)->type, SP_DOUBLE);
		cr_assert_eq(dval(i, 1), want[i], "%s", good[i]);
	}
	cr_assert_eq(b->nerrors, 8);
	for (unsigned i = 0; i < 7; i++) {
		char reason[128];
		snprintf(reason, sizeof(reason),
			 "column \"expense\" (field 2): \"%s\" is not a double",
			 bad[i]);
		cr_assert_str_eq(b->errors[i].reason, reason);
		cr_assert_eq(b->errors[i].line, 9 + i);
	}
	cr_assert_str_eq(b->errors[7].reason,
			 "column \"expense\" (field 2): \"1e999\" is out of "
			 "range for a double");
	sp_buf_fini(&text);
}

Test(csv, bool_conversion)
{
	static const struct sp_csv_column schema[] = {{"f", SP_CSV_BOOL}};
	struct sp_csv_options o = opts(',', false);
	o.schema = schema;
	o.nschema = 1;

	cr_assert_eq(parse_str(&o, "TRUE\nfalse\nYes\nNO\n1\n0\nmaybe\n\"\"\n"),
		     7);
	const bool want[] = {true, false, true, false, true, false};
	for (unsigned i = 0; i < 6; i++) {
		cr_assert_eq(val(i, 0)->type, SP_BOOL);
		cr_assert_eq(val(i, 0)->b, want[i]);
	}
	cr_assert_eq(val(6, 0)->type, SP_NULL);
	cr_assert_eq(b->nerrors, 1);
	expect_err(0, 7, 22, "maybe",
		   "column \"f\" (field 1): \"maybe\" is not a bool");
}

/* Every offset form on the days where the calendar turns (month and
 * year ends, leap days, the first and last years a timestamp can name),
 * against libc's timegm/gmtime_r as the reference. */
Test(csv, timestamp_offsets_against_libc)
{
	static const int years[] = {0, 1, 1899, 1900, 1969, 1970, 2000,
				    2023, 2024, 2100, 9999};
	static const int hours[] = {0, 1, 11, 22, 23};
	static const int mins[] = {0, 29, 59};
	static const char *const offs[] = {"+00:00", "-00:00", "+01:00",
					   "-01:00", "+05:30", "-09:45",
					   "+23:59", "-23:59", "+0130", "-1200"};
	static const int mdays[] = {31, 28, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	unsigned checked = 0, out_of_range = 0;

	for (size_t yi = 0; yi < sizeof(years) / sizeof(years[0]); yi++) {
		int y = years[yi];
		bool leap = (y % 4 == 0 && y % 100 != 0) || y % 400 == 0;
		for (int mo = 1; mo <= 12; mo++) {
			int last = mdays[mo - 1] + (mo == 2 && leap);
			const int days[] = {1, 2, last - 1, last};
			for (int di = 0; di < 4; di++)
			for (size_t hi = 0; hi < 5; hi++)
			for (size_t mi = 0; mi < 3; mi++)
			for (size_t oi = 0; oi < 10; oi++) {
				char in[40], want[40], got[32];
				const char *o = offs[oi];
				int d = days[di], h = hours[hi], m = mins[mi];
				int oh = (o[1] - '0') * 10 + (o[2] - '0');
				int om = strlen(o) == 6
					     ? (o[4] - '0') * 10 + (o[5] - '0')
					     : (o[3] - '0') * 10 + (o[4] - '0');
				int sign = o[0] == '-' ? -1 : 1;
				struct tm tm = {.tm_year = y - 1900,
						.tm_mon = mo - 1,
						.tm_mday = d,
						.tm_hour = h,
						.tm_min = m,
						.tm_sec = 7};
				time_t t = timegm(&tm) -
					   sign * (oh * 3600 + om * 60);
				struct tm u;

				cr_assert_not_null(gmtime_r(&t, &u));
				snprintf(in, sizeof(in),
					 "%04d-%02d-%02dT%02d:%02d:07.25%s",
					 y, mo, d, h, m, o);
				const char *text;
				size_t n = sp_csv_conv_timestamp(
				    in, strlen(in), got, &text);
				if (u.tm_year + 1900 < 0 ||
				    u.tm_year + 1900 > 9999) {
					cr_assert_eq(n, 0, "%s", in);
					out_of_range++;
					continue;
				}
				snprintf(want, sizeof(want),
					 "%04d-%02d-%02dT%02d:%02d:%02d.25Z",
					 u.tm_year + 1900, u.tm_mon + 1,
					 u.tm_mday, u.tm_hour, u.tm_min,
					 u.tm_sec);
				cr_assert_eq(n, strlen(want), "%s", in);
				cr_assert_eq(memcmp(text, want, n), 0,
					     "%s: %.*s, not %s", in, (int)n,
					     text, want);
				checked++;
			}
		}
	}
	cr_assert_gt(checked, 25000);
	cr_assert_gt(out_of_range, 0); /* year 0 back, 9999 forward */
}

Test(csv, timestamps_normalized_to_utc)
{
	static const struct sp_csv_column schema[] = {{"t", SP_CSV_TIMESTAMP}};
	struct sp_csv_options o = opts(',', false);
	static const char *const in[][2] = {
	    {"2024-03-01", "2024-03-01T00:00:00Z"},
	    {"2024-03-01T12:34:56", "2024-03-01T12:34:56Z"},
	    {"2024-03-01 12:34:56", "2024-03-01T12:34:56Z"},
	    {"2024-03-01T12:34:56Z", "2024-03-01T12:34:56Z"},
	    {"2024-03-01T12:34:56.5Z", "2024-03-01T12:34:56.5Z"},
	    {"2024-03-01T12:34:56.123456789Z",
	     "2024-03-01T12:34:56.123456789Z"},
	    {"2024-03-01T01:30:00+02:00", "2024-02-29T23:30:00Z"},
	    {"2023-12-31T23:30:00-0130", "2024-01-01T01:00:00Z"},
	    {"2024-02-29T10:00:00.250+05:30", "2024-02-29T04:30:00.250Z"},
	    {"1969-12-31T23:59:59-00:00", "1969-12-31T23:59:59Z"},
	};
	static const char *const bad[] = {
	    "2023-02-29",
	    "2024-13-01",
	    "2024-03-01T24:00:00",
	    "2024-03-01T12:34",
	    "2024-03-01T12:34:56.",
	    "2024-03-01T12:34:56.1234567890",
	    "2024-03-01T12:34:56+2",
	    "2024/03/01",
	    "0000-01-01T00:30:00+01:00",
	};
	struct sp_buf text;
	unsigned ngood = sizeof(in) / sizeof(in[0]);
	unsigned nbad = sizeof(bad) / sizeof(bad[0]);

	o.schema = schema;
	o.nschema = 1;
	sp_buf_init(&text);
	for (unsigned i = 0; i < ngood; i++) {
		sp_buf_append(&text, in[i][0], strlen(in[i][0]));
		sp_buf_putc(&text, '\n');
	}
	for (unsigned i = 0; i < nbad; i++) {
		sp_buf_append(&text, bad[i], strlen(bad[i]));
		sp_buf_putc(&text, '\n');
	}
	cr_assert_eq(parse_text(&o, text.data, text.len), (int)ngood);
	for (unsigned i = 0; i < ngood; i++)
		expect_str(i, 0, "t", in[i][1]);
	/* already canonical text stays in the input */
	cr_assert(in_input(text.data, text.len, val(3, 0)));
	cr_assert_not(in_input(text.data, text.len, val(0, 0)));
	cr_assert_eq(b->nerrors, nbad);
	for (unsigned i = 0; i < nbad; i++) {
		char reason[128];
		snprintf(reason, sizeof(reason),
			 "column \"t\" (field 1): \"%s\" is not a timestamp",
			 bad[i]);
		cr_assert_str_eq(b->errors[i].reason, reason);
		cr_assert_eq(b->errors[i].line, ngood + i + 1);
	}
	sp_buf_fini(&text);
}

Test(csv, field_count_errors_and_continue)
{
	const char *text =
	    "a,b,c,d,e\n1,2,3,4,5\n1,2,3,4,5,6\n1,2\nok,2,3,4,5\n";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, text), 2);
	expect_raw(0, "1,2,3,4,5", 2);
	expect_raw(1, "ok,2,3,4,5", 5);
	expect_str(1, 0, "a", "ok");
	cr_assert_eq(b->nerrors, 2);
	expect_err(0, 3, 20, "1,2,3,4,5,6", "expected 5 fields, found 6");
	expect_err(1, 4, 32, "1,2", "expected 5 fields, found 2");
}

Test(csv, garbage_after_closing_quote)
{
	const char *text = "a,b,c\n1,2,\"x\"y\n\"p\",\"q\" ,r\n3,4,5\n";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_str(&o, text), 1);
	expect_raw(0, "3,4,5", 4);
	cr_assert_eq(b->nerrors, 2);
	expect_err(0, 2, 6, "1,2,\"x\"y",
		   "unexpected 'y' after closing quote in field 3");
	expect_err(1, 3, 15, "\"p\",\"q\" ,r",
		   "unexpected ' ' after closing quote in field 2");
}

Test(csv, unterminated_quote_at_end)
{
	const char *text = "a,b\n1,2\n3,\"x\ny\n\n\"ok\",4\n\"z\n5,6\n";
	struct sp_csv_options o = opts(',', true);

	/* "x\ny\n\n" closes at the quote before ok: garbage 'o' */
	cr_assert_eq(parse_str(&o, text), 1);
	cr_assert_eq(b->nerrors, 2);
	expect_err(0, 3, 8, "3,\"x\ny\n\n\"ok\",4",
		   "unexpected 'o' after closing quote in field 2");
	expect_err(1, 7, 23, "\"z\n5,6\n",
		   "unterminated quoted field starting at line 7");
	sp_batch_reset(b);

	text = "a,b\n1,\"p\nq\",\"open\nmore\n";
	cr_assert_eq(parse_str(&o, text), 0);
	expect_err(0, 2, 4, "1,\"p\nq\",\"open\nmore\n",
		   "unterminated quoted field starting at line 3");
}

Test(csv, invalid_utf8_and_nul)
{
	const char text[] =
	    "a,b,c\nok,\xc3\xa9,1\nx,y\xff,z\n"
	    "n,o,p\0q\n\"\xe2\x82\xac\",\"\xed\xa0\x80\",2\nend,1,2\n";
	struct sp_csv_options o = opts(',', true);

	cr_assert_eq(parse_text(&o, text, sizeof(text) - 1), 2);
	expect_str(0, 1, "b", "\xc3\xa9");
	expect_raw(1, "end,1,2", 6);
	cr_assert_eq(b->nerrors, 3);
	expect_err(0, 3, 14, "x,y\xff,z",
		   "invalid UTF-8 in field 2 at byte offset 17");
	cr_assert_eq(b->errors[1].raw_len, 7);
	cr_assert_str_eq(b->errors[1].reason,
			 "NUL byte in field 3 at byte offset 26");
	cr_assert_eq(b->errors[1].line, 4);
	cr_assert_eq(b->errors[1].offset, 21);
	cr_assert_eq(b->errors[2].line, 5);
	cr_assert_eq(b->errors[2].offset, 29);
	cr_assert_str_eq(b->errors[2].reason,
			 "invalid UTF-8 in field 2 at byte offset 36");
}

/* A NUL or a byte that starts no UTF-8 sequence at every position of
 * records of every length up to 40 (the check reads 16 bytes at a time),
 * and a valid two-byte sequence, which is kept. */
Test(csv, bad_bytes_found_at_every_position)
{
	struct sp_csv_options o = opts(',', false);
	char text[64];

	for (size_t len = 1; len <= 40; len++) {
		for (size_t at = 0; at < len; at++) {
			for (int kind = 0; kind < 3; kind++) {
				memset(text, 'x', len);
				text[len] = '\n';
				if (kind == 0)
					text[at] = '\0';
				else if (kind == 1)
					text[at] = (char)0xff;
				else if (at + 1 < len)
					memcpy(text + at, "\xc3\xa9", 2);
				else
					continue;
				sp_batch_reset(b);
				int n = parse_text(&o, text, len + 1);
				cr_assert_eq(n, kind == 2,
					     "len %zu at %zu kind %d", len, at,
					     kind);
				cr_assert_eq(b->nerrors, kind != 2,
					     "len %zu at %zu kind %d", len, at,
					     kind);
				if (kind == 2)
					continue;
				char want[80];
				snprintf(want, sizeof(want),
					 "%s in field 1 at byte offset %zu",
					 kind ? "invalid UTF-8" : "NUL byte",
					 at);
				cr_assert_str_eq(b->errors[0].reason, want);
			}
		}
	}
}

/* Doubled quotes at every position of fields up to 40 bytes (found 16
 * bytes at a time), alone and next to a second pair: kept escaped. */
Test(csv, doubled_quotes_kept_escaped_at_every_position)
{
	struct sp_csv_options o = opts(',', false);
	char text[64], want[64];

	for (size_t len = 2; len <= 40; len++) {
		for (size_t at = 0; at + 2 <= len; at++) {
			for (int pairs = 1; pairs <= 2; pairs++) {
				if (pairs == 2 && at + 4 > len)
					continue;
				memset(want, 'x', len);
				want[len] = '\0';
				text[0] = '"';
				for (int k = 0; k < pairs; k++) {
					want[at + 2 * (size_t)k] = '\\';
					want[at + 2 * (size_t)k + 1] = '"';
				}
				for (size_t i = 0; i < len; i++)
					text[1 + i] =
					    want[i] == '\\' ? '"' : want[i];
				memcpy(text + 1 + len, "\",1\n", 4);
				sp_batch_reset(b);
				cr_assert_eq(parse_text(&o, text, len + 5), 1);
				const struct sp_value *v = val(0, 0);
				cr_assert_eq(v->flags, SP_VALUE_ESCAPED);
				cr_assert_eq(v->len, len);
				cr_assert(memcmp(v->str, want, len) == 0,
					  "len %zu at %zu: '%.*s' want '%s'",
					  len, at, (int)v->len, v->str, want);
			}
		}
	}
}

Test(csv, long_value_truncated_in_reason)
{
	static const struct sp_csv_column schema[] = {{"v", SP_CSV_INT}};
	struct sp_csv_options o = opts(',', false);
	char text[200], want[200];

	o.schema = schema;
	o.nschema = 1;
	memset(text, 'a', 100);
	text[100] = '\n';
	text[101] = '\0';
	cr_assert_eq(parse_str(&o, text), 0);
	snprintf(want, sizeof(want),
		 "column \"v\" (field 1): \"%.64s\" is not an int", text);
	cr_assert_str_eq(b->errors[0].reason, want);
	cr_assert_eq(b->errors[0].raw_len, 100);
}

Test(csv, sixteen_mib_field)
{
	size_t n = 16u << 20;
	char *text = malloc(n + 64);
	struct sp_csv_options o = opts(',', true);
	size_t len = 0;

	cr_assert_not_null(text);
	memcpy(text, "k,v\n1,\"", 7);
	len = 7;
	for (size_t i = 0; i < n; i++)
		text[len + i] = (char)('a' + i % 26);
	text[len + 100] = '\n';
	text[len + 200] = ',';
	len += n;
	memcpy(text + len, "\"\n2,x\n", 6);
	len += 6;
	cr_assert_eq(parse_text(&o, text, len), 2);
	cr_assert_eq(val(0, 1)->len, n);
	cr_assert_eq(val(0, 1)->str, text + 7);
	expect_raw(1, "2,x", 4);
	cr_assert_eq(sp_csv_split(&o, text, len), len);
	cr_assert_eq(sp_csv_split(&o, text, len - 3), len - 4);
	cr_assert_eq(sp_csv_split(&o, text, len - 8), 4);
	free(text);
}

Test(csv, split_respects_quotes)
{
	struct sp_csv_options o = opts(',', false);
	const char *t1 = "a,\"b\nc\"\nd,e\n";

	cr_assert_eq(sp_csv_split(&o, t1, strlen(t1)), strlen(t1));
	/* cut right after the quoted newline: only nothing is complete */
	cr_assert_eq(sp_csv_split(&o, t1, 5), 0);
	cr_assert_eq(sp_csv_split(&o, t1, 8), 8);
	cr_assert_eq(sp_csv_split(&o, t1, 10), 8);
	cr_assert_eq(sp_csv_split(&o, "abc", 3), 0);
	/* a quote inside an unquoted field is data */
	const char *t2 = "ab\"c,d\nx,y\n";
	cr_assert_eq(sp_csv_split(&o, t2, strlen(t2)), strlen(t2));
	cr_assert_eq(sp_csv_split(&o, t2, 9), 7);
	/* doubled quotes and garbage after a closing quote */
	const char *t3 = "\"a\"\"\n\"\"b\",1\n\"q\"x\"\n,2\n";
	cr_assert_eq(sp_csv_split(&o, t3, strlen(t3)), strlen(t3));
	cr_assert_eq(sp_csv_split(&o, t3, 13), 12);
	cr_assert_eq(sp_csv_split(&o, t3, 5), 0);
	/* other delimiter and quote */
	struct sp_csv_options o2 = opts(';', false);
	o2.quote = '\'';
	const char *t4 = "1;'x\n';\"\n2;y\n";
	cr_assert_eq(sp_csv_split(&o2, t4, strlen(t4)), strlen(t4));
	cr_assert_eq(sp_csv_split(&o2, t4, 10), 9);
}

/* The boundary byte by byte: the last newline outside quotes, a quote
 * opening only at a field start, a doubled quote staying inside. */
static size_t split_reference(char d, char q, const char *buf, size_t len)
{
	bool inside = false;
	size_t last = 0;

	for (size_t i = 0; i < len; i++) {
		char c = buf[i];

		if (inside) {
			if (c == q && i + 1 < len && buf[i + 1] == q)
				i++;
			else if (c == q)
				inside = false;
		} else if (c == q &&
			   (i == 0 || buf[i - 1] == d || buf[i - 1] == '\n')) {
			inside = true;
		} else if (c == '\n') {
			last = i + 1;
		}
	}
	return last;
}

/* sp_csv_split against the reference on random text of delimiters,
 * quotes, newlines and letters, across the 64-byte blocks it scans. */
Test(csv, split_matches_a_byte_by_byte_reference)
{
	static const char dq[][2] = {{',', '"'}, {';', '\''}, {'\t', '"'}};
	uint64_t seed = 42;

	for (int round = 0; round < 20000; round++) {
		char d = dq[round % 3][0], q = dq[round % 3][1];
		const char alphabet[] = {d, q, q, '\n', 'a', 'b', '\r', d};
		char buf[400];
		size_t len;

		seed = seed * 6364136223846793005ull + 1442695040888963407ull;
		len = (size_t)(seed >> 33) % sizeof(buf);
		for (size_t i = 0; i < len; i++) {
			seed = seed * 6364136223846793005ull +
			       1442695040888963407ull;
			/* mostly letters: fields of realistic length */
			unsigned r = (unsigned)(seed >> 33) % 32;
			buf[i] = r < 8 ? alphabet[r] : (char)('c' + r % 20);
		}
		struct sp_csv_options o = opts(d, false);
		o.quote = q;
		char *exact = malloc(len ? len : 1); /* reads past end: ASan */
		cr_assert_not_null(exact);
		memcpy(exact, buf, len);
		cr_assert_eq(sp_csv_split(&o, exact, len),
			     split_reference(d, q, buf, len),
			     "round %d: '%.*s'", round, (int)len, buf);
		free(exact);
	}
}

/* Parsing chunks cut by sp_csv_split gives what parsing the whole gives. */
Test(csv, split_chunks_parse_like_whole)
{
	const char *text = "1,\"a\nb\",x\n2,\"c\"\"\n\",y\n3,z,\"\n\n\"\n"
			   "4,\"\",w\n5,p,q\n";
	size_t len = strlen(text);
	struct sp_csv_options o = opts(',', false);

	cr_assert_eq(parse_str(&o, text), 5);
	struct sp_batch *whole = b;
	for (size_t cut = 1; cut < len; cut++) {
		struct sp_batch *c = sp_batch_create(st);
		size_t first = sp_csv_split(&o, text, cut);
		uint64_t line = 1;

		for (size_t i = 0; i < first; i++)
			line += text[i] == '\n';
		/* the cut must leave a record boundary */
		cr_assert(first == 0 || text[first - 1] == '\n');
		cr_assert_geq(sp_csv_parse(&parser, text, first, 1, 0, c), 0);
		cr_assert_geq(sp_csv_parse(&parser, text + first, len - first,
					   line, first, c),
			      0);
		cr_assert_eq(c->nerrors, 0, "cut %zu", cut);
		cr_assert_eq(c->nrecs, whole->nrecs, "cut %zu", cut);
		for (uint32_t r = 0; r < c->nrecs; r++) {
			cr_assert_eq(c->recs[r].line, whole->recs[r].line,
				     "cut %zu rec %u", cut, r);
			for (uint32_t i = 0; i < 3; i++) {
				const struct sp_value *x =
				    &sp_record_fields(c, r)[i].v;
				const struct sp_value *y =
				    &sp_record_fields(whole, r)[i].v;
				cr_assert_eq(x->len, y->len);
				cr_assert(memcmp(x->str, y->str, x->len) == 0);
			}
		}
		sp_batch_destroy(c);
	}
}

Test(csv, encoder_quoting_and_header)
{
	struct sp_csv_encoder e;
	struct sp_buf out;
	uint32_t s_a = sp_symtab_intern(st, "a", 1);
	uint32_t s_b = sp_symtab_intern(st, "b", 1);
	uint32_t s_c = sp_symtab_intern(st, "c,d", 3);
	const char *why = NULL;

	sp_buf_init(&out);
	sp_csv_encoder_init(&e, 0, 0, true);
	sp_batch_record_begin(b);
	struct sp_field *f = sp_batch_field_add(b);
	f->sym = s_a;
	f->v = sp_value_string("x,y", 3);
	f = sp_batch_field_add(b);
	f->sym = s_b;
	f->v = sp_value_string("say \"hi\"", 8);
	f = sp_batch_field_add(b);
	f->sym = s_c;
	f->v = sp_value_int(-12);
	/* second record: fields in another order, one missing, a null */
	sp_batch_record_begin(b);
	f = sp_batch_field_add(b);
	f->sym = s_c;
	f->v = sp_value_null();
	f = sp_batch_field_add(b);
	f->sym = s_a;
	f->v = sp_value_string(" pad", 4);
	/* third: bool, double, text number, escaped string, newline */
	sp_batch_record_begin(b);
	f = sp_batch_field_add(b);
	f->sym = s_a;
	f->v = sp_value_bool(true);
	f = sp_batch_field_add(b);
	f->sym = s_b;
	f->v = (struct sp_value){.type = SP_STRING,
				 .flags = SP_VALUE_ESCAPED,
				 .len = 13,
				 .str = "q\\\"\\nr\\u00e9s"};
	f = sp_batch_field_add(b);
	f->sym = s_c;
	f->v = sp_value_double(2.5);
	/* fourth: a removed field and CR */
	sp_batch_record_begin(b);
	f = sp_batch_field_add(b);
	f->sym = SP_SYM_NONE;
	f->v = sp_value_string("gone", 4);
	f = sp_batch_field_add(b);
	f->sym = s_b;
	f->v = sp_value_string("a\rb", 3);

	for (uint32_t r = 0; r < 4; r++)
		cr_assert_eq(sp_csv_encode_record(&e, b, r, &out, &why), 0);
	const char *want = "a,b,\"c,d\"\n"
			   "\"x,y\",\"say \"\"hi\"\"\",-12\n"
			   "\" pad\",,\n"
			   "true,\"q\"\"\nrés\",2.5\n"
			   ",\"a\rb\",\n";
	cr_assert_eq(out.len, strlen(want), "%.*s", (int)out.len, out.data);
	cr_assert(memcmp(out.data, want, out.len) == 0, "%.*s", (int)out.len,
		  out.data);
	cr_assert(e.header_written);

	/* a field that is not a column is refused and nothing is written */
	uint32_t s_x = sp_symtab_intern(st, "extra", 5);
	sp_batch_record_begin(b);
	f = sp_batch_field_add(b);
	f->sym = s_a;
	f->v = sp_value_string("1", 1);
	f = sp_batch_field_add(b);
	f->sym = s_x;
	f->v = sp_value_string("2", 1);
	size_t before = out.len;
	cr_assert_eq(sp_csv_encode_record(&e, b, 4, &out, &why), -EINVAL);
	cr_assert_str_eq(why, "field \"extra\" is not one of the CSV columns");
	cr_assert_eq(out.len, before);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}

Test(csv, encoder_single_empty_column_keeps_line)
{
	struct sp_csv_options o = opts(',', false);
	struct sp_csv_encoder e;
	struct sp_buf out;
	const char *text = "x\n\"\"\ny\n";

	cr_assert_eq(parse_str(&o, text), 3);
	sp_buf_init(&out);
	sp_csv_encoder_init(&e, ',', '"', false);
	for (uint32_t r = 0; r < 3; r++)
		cr_assert_eq(sp_csv_encode_record(&e, b, r, &out, NULL), 0);
	cr_assert_eq(out.len, 7);
	cr_assert(memcmp(out.data, "x\n\"\"\ny\n", 7) == 0);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}

Test(csv, round_trip)
{
	static const struct sp_csv_column schema[] = {
	    {"id", SP_CSV_INT},
	    {"amount", SP_CSV_DOUBLE},
	    {"at", SP_CSV_TIMESTAMP},
	};
	const char *text =
	    "id;note;amount;at;flag\n"
	    "1;\"semi;colon\";1.5;2024-01-02T03:04:05+01:00;true\n"
	    "2;\"line\r\nbreak \"\"quoted\"\"\";-0.1;;  \n"
	    "3;plain;1e21;2024-01-02;\n"
	    "-4; x ;0.30000000000000004;2024-06-30T23:59:59.999Z;\"\"\n";
	struct sp_csv_options o = opts(';', true);
	struct sp_csv_encoder e;
	struct sp_buf out;

	o.schema = schema;
	o.nschema = 3;
	cr_assert_eq(parse_str(&o, text), 4);
	cr_assert_eq(b->nerrors, 0);
	sp_buf_init(&out);
	sp_csv_encoder_init(&e, ';', '"', true);
	for (uint32_t r = 0; r < b->nrecs; r++)
		cr_assert_eq(sp_csv_encode_record(&e, b, r, &out, NULL), 0);

	struct sp_batch *first = b;
	struct sp_csv_parser p1 = parser;
	b = sp_batch_create(st);
	parser_live = false;
	cr_assert_eq(parse_text(&o, out.data, out.len), 4, "%.*s", (int)out.len,
		     out.data);
	cr_assert_eq(b->nerrors, 0);
	for (uint32_t r = 0; r < 4; r++) {
		cr_assert_eq(b->recs[r].nfields, 5);
		for (uint32_t i = 0; i < 5; i++) {
			const struct sp_field *x = &sp_record_fields(b, r)[i];
			const struct sp_field *y =
			    &sp_record_fields(first, r)[i];
			cr_assert_eq(x->sym, y->sym);
			cr_assert_eq(x->v.type, y->v.type, "rec %u field %u", r,
				     i);
			switch (x->v.type) {
			case SP_INT: {
				int64_t xi, yi;
				cr_assert_eq(sp_value_to_int(&x->v, &xi), 0);
				cr_assert_eq(sp_value_to_int(&y->v, &yi), 0);
				cr_assert_eq(xi, yi);
				break;
			}
			case SP_DOUBLE: {
				double xd, yd;
				cr_assert_eq(sp_value_to_double(&x->v, &xd), 0);
				cr_assert_eq(sp_value_to_double(&y->v, &yd), 0);
				cr_assert_eq(xd, yd);
				break;
			}
			case SP_STRING:
				cr_assert_eq(x->v.len, y->v.len);
				cr_assert(
				    memcmp(x->v.str, y->v.str, x->v.len) == 0);
				break;
			default:
				break;
			}
		}
	}
	expect_str(1, 1, "note", "line\r\nbreak \"quoted\"");
	expect_str(1, 4, "flag", "  ");
	expect_str(0, 3, "at", "2024-01-02T02:04:05Z");
	sp_csv_parser_fini(&p1);
	sp_batch_destroy(first);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}

Test(csv, options_and_type_names)
{
	enum sp_csv_type t;
	struct sp_csv_options o = opts(',', false);
	static const struct sp_csv_column dup[] = {{"a", SP_CSV_INT},
						   {"a", SP_CSV_BOOL}};

	cr_assert_eq(sp_csv_type_parse("int", &t), 0);
	cr_assert_eq(t, SP_CSV_INT);
	cr_assert_eq(sp_csv_type_parse("timestamp", &t), 0);
	cr_assert_eq(t, SP_CSV_TIMESTAMP);
	cr_assert_eq(sp_csv_type_parse("Double", &t), 0);
	cr_assert_eq(t, SP_CSV_DOUBLE);
	cr_assert_eq(sp_csv_type_parse("decimal", &t), -EINVAL);
	cr_assert_str_eq(sp_csv_type_name(SP_CSV_BOOL), "bool");
	cr_assert_str_eq(sp_csv_type_name(SP_CSV_STRING), "string");

	o.quote = ',';
	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), -EINVAL);
	o = opts(',', false);
	o.schema = dup;
	o.nschema = 2;
	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), -EINVAL);
	o = opts(0, false);
	o.quote = 0;
	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(parser.opt.delimiter, ',');
	cr_assert_eq(parser.opt.quote, '"');
}

Test(csv, parse_without_preamble_names_each_row)
{
	struct sp_csv_options o = opts(',', false);
	const char *text = "a,b\nc\n";

	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(sp_csv_parse(&parser, text, strlen(text), 10, 100, b), 2);
	cr_assert_eq(b->recs[0].nfields, 2);
	expect_str(0, 1, "_2", "b");
	expect_str(1, 0, "_1", "c");
	expect_raw(1, "c", 11);
}

Test(csv, first_row_columns_need_a_complete_row)
{
	struct sp_csv_options o = opts(',', false);
	char err[64];
	uint64_t lines = 5;

	cr_assert_eq(sp_csv_parser_init(&parser, &o, st), 0);
	parser_live = true;
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "1,\"2\n", 5, false, &lines,
					  err, sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, "\n1,\"2\n\",3\n", 10, false,
					  &lines, err, sizeof(err)),
		     0);
	cr_assert_eq(lines, 0);
	cr_assert_eq(parser.ncols, 3);
}

Test(csv, encoder_custom_delimiter_and_quote)
{
	struct sp_csv_options o = opts('\t', false);
	struct sp_csv_encoder e;
	struct sp_buf out;
	const char *text = "a b\t'q'\tx\"y\n-1\t\t\"\"\n";

	o.quote = '\'';
	cr_assert_eq(parse_str(&o, text), 2);
	expect_str(0, 1, "_2", "q");
	sp_buf_init(&out);
	sp_csv_encoder_init(&e, '\t', '\'', true);
	for (uint32_t r = 0; r < 2; r++)
		cr_assert_eq(sp_csv_encode_record(&e, b, r, &out, NULL), 0);
	const char *want = "_1\t_2\t_3\na b\tq\tx\"y\n-1\t\t\"\"\n";
	cr_assert_eq(out.len, strlen(want), "%.*s", (int)out.len, out.data);
	cr_assert(memcmp(out.data, want, out.len) == 0);

	/* a value holding the delimiter, the quote or edge spaces */
	sp_batch_reset(b);
	sp_batch_record_begin(b);
	struct sp_field *f = sp_batch_field_add(b);
	f->sym = parser.col_sym[0];
	f->v = sp_value_string("it's\tx", 6);
	f = sp_batch_field_add(b);
	f->sym = parser.col_sym[1];
	f->v = sp_value_string("x ", 2);
	f = sp_batch_field_add(b);
	f->sym = parser.col_sym[2];
	f->v = sp_value_int(INT64_MIN);
	out.len = 0;
	cr_assert_eq(sp_csv_encode_record(&e, b, 0, &out, NULL), 0);
	want = "'it''s\tx'\t'x '\t-9223372036854775808\n";
	cr_assert_eq(out.len, strlen(want), "%.*s", (int)out.len, out.data);
	cr_assert(memcmp(out.data, want, out.len) == 0);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}

/* Typed doubles read exactly as strtod reads them. */
Test(csv, doubles_match_strtod)
{
	static const struct sp_csv_column schema[] = {{"d", SP_CSV_DOUBLE}};
	struct sp_csv_options o = opts(',', false);
	struct sp_buf text;
	unsigned seed = 12345, n = 20000;
	size_t *at = calloc(n, sizeof(*at));

	o.schema = schema;
	o.nschema = 1;
	sp_buf_init(&text);
	for (unsigned i = 0; i < n; i++) {
		char num[64];
		int len, ip, fp;

		seed = seed * 1103515245u + 12345u;
		ip = (int)(seed >> 8) % 100000;
		seed = seed * 1103515245u + 12345u;
		fp = (int)(seed >> 4);
		switch (i % 4) {
		case 0:
			len = snprintf(num, sizeof(num), "%d.%d", ip, fp);
			break;
		case 1:
			len = snprintf(num, sizeof(num), "-0.%09d%d", fp, ip);
			break;
		case 2:
			len = snprintf(num, sizeof(num), "%d%d.5e-%d", fp, ip,
				       i % 30);
			break;
		default:
			len = snprintf(num, sizeof(num), "0.000%d", fp);
			break;
		}
		at[i] = text.len;
		sp_buf_append(&text, num, (size_t)len);
		sp_buf_putc(&text, '\n');
	}
	cr_assert_eq(parse_text(&o, text.data, text.len), (int)n);
	for (unsigned i = 0; i < n; i++) {
		double want = strtod(text.data + at[i], NULL);
		cr_assert_eq(dval(i, 0), want, "%.30s", text.data + at[i]);
	}
	free(at);
	sp_buf_fini(&text);
}

/* A typed number keeps its text only when an encoder would print exactly
 * that text for its value: outputs stay as they were, without formatting. */
/* An int in its printed form is kept as its text, an int all the same:
 * up to 18 digits it cannot be out of range and is not converted, from
 * 19 it is (and kept when in range). */
Test(csv, printed_ints_of_every_length_are_kept_as_ints)
{
	static const struct sp_csv_column schema[] = {{"n", SP_CSV_INT}};
	static const struct {
		const char *text;
		int64_t value;
	} rows[] = {
	    {"0", 0},
	    {"7", 7},
	    {"-7", -7},
	    {"999999999999999999", 999999999999999999},
	    {"-999999999999999999", -999999999999999999},
	    {"1000000000000000000", 1000000000000000000},
	    {"-1000000000000000000", -1000000000000000000},
	    {"9223372036854775807", INT64_MAX},
	};
	const unsigned n = sizeof(rows) / sizeof(rows[0]);
	const char *lines[sizeof(rows) / sizeof(rows[0])];

	for (unsigned k = 0; k < n; k++)
		lines[k] = rows[k].text;
	cr_assert_eq(parse_column(schema, lines, n), (int)n);
	cr_assert_eq(b->nerrors, 0);
	for (uint32_t r = 0; r < n; r++) {
		const struct sp_value *v = val(r, 0);

		cr_assert_eq(v->type, SP_INT, "row %u", r);
		cr_assert(v->flags & SP_VALUE_TEXT, "row %u", r);
		cr_assert_eq(v->str, b->recs[r].raw, "row %u", r);
		cr_assert_eq(v->len, strlen(rows[r].text), "row %u", r);
		cr_assert_eq(ival(r, 0), rows[r].value, "row %u", r);
	}
}

Test(csv, numbers_keep_text_only_when_it_is_the_printed_form)
{
	static const struct sp_csv_column schema[] = {{"i", SP_CSV_INT},
						      {"d", SP_CSV_DOUBLE}};
	static const char *const kept[] = {"0,0.0",    "-7,-0.0",
					   "12,0.5",   "-3,1234.25",
					   "9,0.0001", "100,100.0"};
	static const char *const not_kept[] = {"+1,1.5e0",
					       "007,5.",
					       "-0,.5",
					       "1,1e3",
					       "1,0.00001",
					       "1,100",
					       "1,1234567890123456.5"};
	struct sp_csv_options o = opts(',', false);
	struct sp_buf text;

	o.schema = schema;
	o.nschema = 2;
	sp_buf_init(&text);
	for (unsigned k = 0; k < 6; k++) {
		sp_buf_append(&text, kept[k], strlen(kept[k]));
		sp_buf_putc(&text, '\n');
	}
	for (unsigned k = 0; k < 7; k++) {
		sp_buf_append(&text, not_kept[k], strlen(not_kept[k]));
		sp_buf_putc(&text, '\n');
	}
	cr_assert_eq(parse_text(&o, text.data, text.len), 13);
	for (uint32_t r = 0; r < 13; r++) {
		const struct sp_value *d = val(r, 1);

		cr_assert_eq(!!(d->flags & SP_VALUE_TEXT), r < 6, "row %u", r);
		cr_assert_eq(!!(val(r, 0)->flags & SP_VALUE_TEXT),
			     r < 6 || r == 9 || r == 10 || r == 11 || r == 12,
			     "row %u", r);
		if (r < 6)
			cr_assert_eq(d->str,
				     b->recs[r].raw +
					 (strchr(kept[r], ',') - kept[r]) + 1);
	}
	sp_buf_fini(&text);
}

/* Trailing zeros of a decimal do not change its value: the text without
 * them is kept when it is the printed form ("12.50" -> "12.5", "3.00" ->
 * "3.0"), and nothing else is cut ("1.0e10", "0.000010"). */
Test(csv, decimal_trailing_zeros_are_dropped_from_kept_text)
{
	static const struct sp_csv_column schema[] = {{"d", SP_CSV_DOUBLE}};
	static const struct {
		const char *in, *kept; /* kept NULL: formatted, not kept */
	} rows[] = {{"12.50", "12.5"},	   {"3.00", "3.0"},
		    {"-0.50", "-0.5"},	   {"1234.2500", "1234.25"},
		    {"1.0e10", NULL},	   {"0.000010", NULL},
		    {"100", NULL},	   {"7.000000000000000000", "7.0"}};
	const unsigned n = sizeof(rows) / sizeof(rows[0]);
	const char *lines[sizeof(rows) / sizeof(rows[0])];

	for (unsigned k = 0; k < n; k++)
		lines[k] = rows[k].in;
	cr_assert_eq(parse_column(schema, lines, n), (int)n);
	for (unsigned r = 0; r < n; r++) {
		const struct sp_value *d = val(r, 0);
		char printed[32];

		cr_assert_eq(dval(r, 0), strtod(rows[r].in, NULL), "row %u", r);
		cr_assert_eq(!!(d->flags & SP_VALUE_TEXT), rows[r].kept != NULL,
			     "row %u", r);
		if (!rows[r].kept)
			continue;
		cr_assert_eq(d->len, strlen(rows[r].kept), "row %u", r);
		cr_assert_eq(memcmp(d->str, rows[r].kept, d->len), 0, "row %u",
			     r);
		int len = sp_format_double(dval(r, 0), printed);
		cr_assert_eq((size_t)len, d->len, "row %u", r);
		cr_assert_eq(memcmp(printed, d->str, d->len), 0, "row %u", r);
	}
}

/* The kept text against sp_format_double on random decimal texts. */
Test(csv, kept_double_text_is_what_format_double_prints)
{
	static const struct sp_csv_column schema[] = {{"d", SP_CSV_DOUBLE}};
	struct sp_csv_options o = opts(',', false);
	struct sp_buf text;
	unsigned seed = 777, n = 40000, kept = 0;

	o.schema = schema;
	o.nschema = 1;
	sp_buf_init(&text);
	for (unsigned i = 0; i < n; i++) {
		char num[48];
		int len = 0;
		unsigned ni, nf, zeros;

		seed = seed * 1103515245u + 12345u;
		ni = (seed >> 4) % 18;
		nf = (seed >> 9) % 18;
		zeros = (seed >> 14) % 6;
		if ((seed >> 20) & 1)
			num[len++] = '-';
		if (!ni)
			num[len++] = '0';
		for (unsigned k = 0; k < ni; k++) {
			seed = seed * 1103515245u + 12345u;
			num[len++] = (char)('0' + (k ? (seed >> 16) % 10
						     : 1 + (seed >> 16) % 9));
		}
		num[len++] = '.';
		for (unsigned k = 0; k < zeros && !ni; k++)
			num[len++] = '0';
		for (unsigned k = 0; k <= nf; k++) {
			seed = seed * 1103515245u + 12345u;
			num[len++] = (char)('0' + (seed >> 16) % 10);
		}
		sp_buf_append(&text, num, (size_t)len);
		sp_buf_putc(&text, '\n');
	}
	cr_assert_eq(parse_text(&o, text.data, text.len), (int)n);
	for (unsigned i = 0; i < n; i++) {
		const struct sp_value *v = val(i, 0);
		char buf[40];
		double d;

		if (!(v->flags & SP_VALUE_TEXT))
			continue;
		kept++;
		cr_assert_eq(sp_value_to_double(v, &d), 0);
		int len = sp_format_double(d, buf);
		cr_assert(len == (int)v->len &&
			      memcmp(buf, v->str, v->len) == 0,
			  "kept %.*s, prints %s", (int)v->len, v->str, buf);
	}
	cr_assert_gt(kept, n / 8);
	sp_buf_fini(&text);
}

/* Rows written back with a column removed: fields the parser marked bare
 * (SP_VALUE_CSV_BARE) are copied from the input in runs, the rest written
 * value by value; the lines are what the encoder writes without the runs:
 * quotes only where needed, trimmed decimals, UTC timestamps, nulls empty. */
Test(csv, bare_runs_write_what_the_encoder_writes)
{
	static const struct sp_csv_column schema[] = {
	    {"id", SP_CSV_INT},		 {"name", SP_CSV_STRING},
	    {"cost", SP_CSV_DOUBLE},	 {"ts", SP_CSV_TIMESTAMP},
	    {"note", SP_CSV_STRING},	 {"site", SP_CSV_STRING},
	};
	static const char *const want[] = {
	    "1,alpha,12.5,2024-01-02T03:04:05Z,\"Depot, North\"\n",
	    "2,\" lead\",3.0,2024-01-02T03:04:05Z,x\n",
	    "-7,quoted,,2024-01-02T02:04:05Z,y\n",
	    "8,,1.25,2024-01-02T03:04:05Z,\"a \"\"b\"\"\"\n",
	};
	const char *text =
	    "id,name,cost,ts,note,site\n"
	    "1,alpha,12.50,2024-01-02T03:04:05Z,plain text,\"Depot, North\"\n"
	    "2, lead,3.0,2024-01-02 03:04:05,,x\n"
	    "-7,\"quoted\",,2024-01-02T03:04:05+01:00,tail ,y\n"
	    "8,,1.25,2024-01-02T03:04:05Z,n,\"a \"\"b\"\"\"\n";
	struct sp_csv_options o = opts(',', true);
	struct sp_csv_encoder e;
	struct sp_buf out;
	uint32_t note = sp_symtab_intern(st, "note", 4);

	o.schema = schema;
	o.nschema = 6;
	cr_assert_eq(parse_str(&o, text), 4);
	cr_assert_eq(b->nerrors, 0);
	/* what the parser may mark: unquoted plain strings, kept number
	 * text, timestamps, empty cells; never quoted or blank-edged text */
	cr_assert(val(0, 1)->flags & SP_VALUE_CSV_BARE);
	cr_assert(val(0, 2)->flags & SP_VALUE_CSV_BARE); /* "12.5" */
	cr_assert_not(val(0, 5)->flags & SP_VALUE_CSV_BARE);
	cr_assert_not(val(1, 1)->flags & SP_VALUE_CSV_BARE);
	cr_assert_not(val(2, 1)->flags & SP_VALUE_CSV_BARE);
	cr_assert(val(2, 2)->flags & SP_VALUE_CSV_BARE); /* null */
	cr_assert_not(val(2, 4)->flags & SP_VALUE_CSV_BARE);
	for (uint32_t r = 0; r < 4; r++)
		sp_record_fields(b, r)[4].sym = SP_SYM_NONE;
	sp_buf_init(&out);
	sp_csv_encoder_init(&e, ',', '"', false);
	for (uint32_t r = 0; r < 4; r++) {
		out.len = 0;
		cr_assert_eq(sp_csv_encode_record(&e, b, r, &out, NULL), 0);
		cr_assert_eq(out.len, strlen(want[r]), "row %u: %.*s", r,
			     (int)out.len, out.data);
		cr_assert_eq(memcmp(out.data, want[r], out.len), 0,
			     "row %u: %.*s", r, (int)out.len, out.data);
	}
	cr_assert_eq(e.ncols, 5);
	for (uint32_t k = 0; k < e.ncols; k++)
		cr_assert_neq(e.cols[k], note);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}
