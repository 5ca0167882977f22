/* Tests of the CSV preamble: CR-only line ends, headers that do not end
 * (unterminated quote, no line end within the bound), empty and repeated
 * header names made unique, an empty input. */
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "codec/csv.h"
#include "core/buf.h"
#include "record/batch.h"
#include "record/symtab.h"

static struct sp_symtab *st;
static struct sp_batch *b;
static struct sp_csv_parser parser;
static struct sp_csv_options opt = {.delimiter = ',', .quote = '"'};
static char err[512];

static void setup(void)
{
	st = sp_symtab_create();
	b = sp_batch_create(st);
	cr_assert(st && b);
	opt.header = true;
	cr_assert_eq(sp_csv_parser_init(&parser, &opt, st), 0);
}

static void teardown(void)
{
	sp_csv_parser_fini(&parser);
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
}

TestSuite(csv_header, .init = setup, .fini = teardown);

/* The preamble of the whole input text, then its records. */
static int read_all(char *text, size_t len)
{
	uint64_t lines = 0;

	if (sp_csv_detect_cr(&parser.opt, text, len, true) == 1)
		sp_csv_cr_to_lf(text, len);
	ssize_t used = sp_csv_read_preamble(&parser, st, text, len, true,
					    &lines, err, sizeof(err));
	cr_assert_geq(used, 0, "preamble: %s", err);
	return sp_csv_parse(&parser, text + used, len - (size_t)used, lines + 1,
			    (uint64_t)used, b);
}

/* Field i of record rec is name=want (a string). */
static void expect(uint32_t rec, uint32_t i, const char *name, const char *want)
{
	const struct sp_field *f = &sp_record_fields(b, rec)[i];
	const char *s;
	size_t n;

	cr_assert_lt(i, b->recs[rec].nfields);
	cr_assert_str_eq(sp_symtab_name(st, f->sym, NULL), name);
	cr_assert_eq(sp_value_string_bytes(&f->v, &b->arena, &s, &n), 0);
	cr_assert_eq(n, strlen(want));
	cr_assert(memcmp(s, want, n) == 0, "rec %u field %u: %.*s", rec, i,
		  (int)n, s);
}

static const char *column(uint32_t i)
{
	cr_assert_lt(i, parser.ncols);
	return sp_symtab_name(st, parser.col_sym[i], NULL);
}

Test(csv_header, cr_only_detected)
{
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name\r1,a\r", 12, false), 1);
	cr_assert_eq(sp_csv_detect_cr(&opt, "\xef\xbb\xbfid\rx", 7, false), 1);
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name\r\n1,a\r\n", 14, false),
		     0);
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name\n1,\"a\rb\"\n", 16, false),
		     0);
	/* a CR inside quotes is text, not a line end */
	cr_assert_eq(sp_csv_detect_cr(&opt, "\"a\rb\",c\n", 8, false), 0);
	cr_assert_eq(sp_csv_detect_cr(&opt, "\"a\rb\",c\r1,2", 11, false), 1);
	/* undecided until the byte after a CR, or the input's end */
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name\r", 8, false), -EAGAIN);
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name", 7, false), -EAGAIN);
	cr_assert_eq(sp_csv_detect_cr(&opt, "id,name\r", 8, true), 0);
	cr_assert_eq(sp_csv_detect_cr(&opt, "", 0, true), 0);
}

Test(csv_header, cr_only_records)
{
	char text[] = "id,name\r1,a\r2,\"b\rc\"\r\r3,d\r";

	cr_assert_eq(read_all(text, strlen(text)), 3);
	cr_assert_eq(b->nerrors, 0);
	cr_assert_eq(parser.ncols, 2);
	expect(0, 0, "id", "1");
	expect(0, 1, "name", "a");
	expect(1, 0, "id", "2");
	expect(1, 1, "name", "b\nc");
	expect(2, 0, "id", "3");
	expect(2, 1, "name", "d");
	cr_assert_eq(b->recs[0].line, 2);
	cr_assert_eq(b->recs[2].line, 6);
}

Test(csv_header, unterminated_quote_in_header)
{
	static const char text[] = "id,\"name\n1,a\n2,b\n";
	uint64_t lines = 0;

	cr_assert_eq(sp_csv_read_preamble(&parser, st, text, strlen(text),
					  false, &lines, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, text, strlen(text), true,
					  &lines, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "header: unterminated quote in column 2 "
			      "(opened at byte 3; 17 bytes read)");
}

Test(csv_header, header_without_line_end_within_bound)
{
	size_t len = SP_CSV_PREAMBLE_MAX + 10;
	char *text = malloc(len);
	uint64_t lines = 0;

	cr_assert_not_null(text);
	for (size_t i = 0; i < len; i++)
		text[i] = i % 2 ? ',' : 'a';
	cr_assert_eq(sp_csv_read_preamble(&parser, st, text, 1000, false,
					  &lines, err, sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, text, len, false, &lines,
					  err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "header does not end within 1048576 bytes "
			      "(1048586 bytes read, no line end outside "
			      "quotes: check the line ends, quote and "
			      "delimiter)");
	free(text);
}

Test(csv_header, last_line_header_at_eof)
{
	uint64_t lines = 0;

	cr_assert_eq(sp_csv_read_preamble(&parser, st, "a,b", 3, true, &lines,
					  err, sizeof(err)),
		     3);
	cr_assert_eq(parser.ncols, 2);
	cr_assert_str_eq(column(1), "b");
}

/* The header and one row of text give the fields name=value of want
 * (NULL-terminated pairs), with `renamed` columns renamed. */
static void expect_row(const char *text, uint32_t renamed,
		       const char *const *want)
{
	char *copy = strdup(text);

	cr_assert_eq(read_all(copy, strlen(copy)), 1);
	cr_assert_eq(parser.renamed, renamed);
	for (uint32_t i = 0; want[2 * i]; i++)
		expect(0, i, want[2 * i], want[2 * i + 1]);
	cr_assert_eq(b->recs[0].nfields, parser.ncols);
	free(copy);
}

Test(csv_header, repeated_names_made_unique)
{
	expect_row("a,a,b,a\n1,2,3,4\n", 2,
		   (const char *const[]){"a", "1", "a_2", "2", "b", "3", "a_3",
					 "4", NULL});
	cr_assert_str_eq(err, "header: column 2 \"a\" named \"a_2\", column 4 "
			      "\"a\" named \"a_3\" (empty or repeated names "
			      "are made unique)");
}

Test(csv_header, generated_names_avoid_the_header)
{
	expect_row("a,,_2,a,a_2\n1,2,3,4,5\n", 2,
		   (const char *const[]){"a", "1", "_2_2", "2", "_2", "3",
					 "a_3", "4", "a_2", "5", NULL});
}

Test(csv_header, empty_names)
{
	expect_row(",x,\n1,2,3\n", 2,
		   (const char *const[]){"_1", "1", "x", "2", "_3", "3", NULL});
}

Test(csv_header, unique_names_no_warning)
{
	expect_row("a,b\n1,2\n", 0,
		   (const char *const[]){"a", "1", "b", "2", NULL});
	cr_assert_str_eq(err, "");
}

/* an empty input (no buffer at all) is no header and no data; UBSan
 * checked memcmp on its NULL pointer */
Test(csv_header, empty_input)
{
	uint64_t lines = 0;

	cr_assert_eq(sp_csv_read_preamble(&parser, st, NULL, 0, false, &lines,
					  err, sizeof(err)),
		     -EAGAIN);
	cr_assert_eq(sp_csv_read_preamble(&parser, st, NULL, 0, true, &lines,
					  err, sizeof(err)),
		     0);
	cr_assert_eq(parser.ncols, 0);
}

/* The encoder never writes a NUL byte, which its own reader refuses: the
 * record is refused, the header stays written, the next record goes. */
Test(csv_header, encoder_refuses_nul_byte)
{
	struct sp_csv_encoder e;
	struct sp_buf out = {0};
	const char *why = NULL;
	uint32_t a = sp_symtab_intern(st, "a", 1);
	static const char *const vals[] = {"x\0y", "ok"};

	for (int i = 0; i < 2; i++) {
		sp_batch_record_begin(b);
		struct sp_field *f = sp_batch_field_add(b);
		f->sym = a;
		f->v = sp_value_string(vals[i], i ? 2 : 3);
	}
	sp_csv_encoder_init(&e, ',', '"', true);
	cr_assert_eq(sp_csv_encode_record(&e, b, 0, &out, &why), -EINVAL);
	cr_assert_str_eq(why, "a value holds a NUL byte (\\u0000), which CSV "
			      "cannot carry: its readers, spate's among them, "
			      "refuse it");
	cr_assert_eq(sp_csv_encode_record(&e, b, 1, &out, &why), 0);
	cr_assert_eq(out.len, 5);
	cr_assert(memcmp(out.data, "a\nok\n", 5) == 0, "%.*s", (int)out.len,
		  out.data);
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}
