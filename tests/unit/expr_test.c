/*
 * Expression language: compile errors with their columns, every operator
 * and function over hand-built records, null and number semantics, record
 * errors, the fast path against the general machine, and two threads
 * sharing one compiled expression.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/batch.h"
#include "expr/expr.h"
#include "expr/expr_parse.h"
#include "record/symtab.h"

static struct sp_symtab *st;
static struct sp_batch *b;
static uint32_t nerr;

static struct sp_value text_num(enum sp_type t, const char *s)
{
	return (struct sp_value){.type = t,
				 .flags = SP_VALUE_TEXT,
				 .len = (uint32_t)strlen(s),
				 .str = s};
}

static struct sp_value str(const char *s)
{
	return sp_value_string(s, (uint32_t)strlen(s));
}

static struct sp_value escaped(const char *s)
{
	struct sp_value v = str(s);

	v.flags = SP_VALUE_ESCAPED;
	return v;
}

static struct sp_value object(const char *s)
{
	return (struct sp_value){
	    .type = SP_OBJECT, .len = (uint32_t)strlen(s), .str = s};
}

static void field(struct sp_batch *to, const char *name, struct sp_value v)
{
	struct sp_field *f = sp_batch_field_add(to);

	cr_assert_not_null(f);
	f->sym = sp_symtab_intern(st, name, strlen(name));
	f->v = v;
}

static const char *raws[] = {"rec0", "rec1", "rec2", "rec3", "rec4", "rec5"};

static void record(struct sp_batch *to, uint32_t i)
{
	struct sp_record *r = sp_batch_record_begin(to);

	cr_assert_not_null(r);
	r->raw = raws[i];
	r->raw_len = 4;
	r->line = 100 + i;
}

/*
 * rec | x                    | s           | d         | flag   | other
 *   0 | 5 (text)             | apple       | 1.5 (text)| true   | o = {...}
 *   1 | 10 (text)            | Banana      | -2.25     | false  | o = {...}
 *   2 | 15 (binary)          | say "hi" (escaped) | 12345.50 (text) | true
 *   3 | -                    | ""          | -         | null   |
 *   4 | null                 | "12"        | 1e3 (text)|        |
 *   5 | 9223372036854775807  | "  pad  "   |           | "TRUE" | n = "abc"
 */
static void setup(void)
{
	st = sp_symtab_create();
	b = sp_batch_create(st);
	cr_assert(st && b);
	record(b, 0);
	field(b, "x", text_num(SP_INT, "5"));
	field(b, "s", str("apple"));
	field(b, "d", text_num(SP_DOUBLE, "1.5"));
	field(b, "flag", sp_value_bool(true));
	field(b, "o", object("{\"a\": {\"b\": 7}, \"c\": \"q\"}"));
	record(b, 1);
	field(b, "x", text_num(SP_INT, "10"));
	field(b, "s", str("Banana"));
	field(b, "d", sp_value_double(-2.25));
	field(b, "flag", sp_value_bool(false));
	field(b, "o", object("{\"a\": {\"b\": \"7x\"}}"));
	record(b, 2);
	field(b, "x", sp_value_int(15));
	field(b, "s", escaped("say \\\"hi\\\""));
	field(b, "d", text_num(SP_DOUBLE, "12345.50"));
	field(b, "flag", sp_value_bool(true));
	record(b, 3);
	field(b, "s", str(""));
	field(b, "flag", sp_value_null());
	record(b, 4);
	field(b, "x", sp_value_null());
	field(b, "s", str("12"));
	field(b, "d", text_num(SP_DOUBLE, "1e3"));
	record(b, 5);
	field(b, "x", text_num(SP_INT, "9223372036854775807"));
	field(b, "s", str("  pad  "));
	field(b, "flag", str("TRUE"));
	field(b, "n", str("abc"));
}

static void teardown(void)
{
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
}

TestSuite(expr, .init = setup, .fini = teardown);

/* The selected record indices as "0,2,5"; errors go to nerr. */
static const char *sel(const char *text)
{
	static char out[128];
	struct sp_expr_error err;
	uint32_t in[16], res[16];
	size_t len = 0;

	struct sp_expr *e = sp_expr_compile(text, st, &err);
	cr_assert_not_null(e, "%s: column %u: %s", text, err.column,
			   err.message);
	struct sp_expr_ctx *c = sp_expr_ctx_create();
	cr_assert_not_null(c);
	for (uint32_t i = 0; i < b->nrecs; i++)
		in[i] = i;
	b->nerrors = 0;
	uint32_t n = sp_expr_select(e, c, b, in, b->nrecs, res, &nerr);
	cr_assert_eq(nerr, b->nerrors);
	out[0] = '\0';
	for (uint32_t i = 0; i < n; i++)
		len += (size_t)snprintf(out + len, sizeof(out) - len, "%s%u",
					i ? "," : "", res[i]);
	sp_expr_ctx_destroy(c);
	sp_expr_destroy(e);
	return out;
}

#define SEL(text, want) cr_expect_str_eq(sel(text), want, "%s", text)

#define SEL_OK(text, want)                                                     \
	do {                                                                   \
		SEL(text, want);                                               \
		cr_expect_eq(nerr, 0, "%s: %u errors, first: %s", text, nerr,  \
			     nerr ? b->errors[0].reason : "");                 \
	} while (0)

static void compile_error(const char *text, uint32_t column,
			  const char *message)
{
	struct sp_expr_error err;
	struct sp_expr *e = sp_expr_compile(text, st, &err);

	cr_expect_null(e, "%s compiled", text);
	sp_expr_destroy(e);
	cr_expect_eq(err.column, column, "%s: column %u, want %u (%s)", text,
		     err.column, column, err.message);
	cr_expect_str_eq(err.message, message, "%s", text);
}

Test(expr, literals)
{
	SEL_OK("${true}", "0,1,2,3,4,5");
	SEL_OK("${ false }", "");
	SEL_OK("${null}", "");
	SEL_OK("${1 == 1}", "0,1,2,3,4,5");
	SEL_OK("${1.5 == 1.5 && 1e3 == 1000 && .5 == 0.5}", "0,1,2,3,4,5");
	SEL_OK("${\"a\\\"b\" == 'a\"b' && 'x\\'y' == \"x'y\" && "
	       "'back\\\\slash' == \"back\\\\slash\"}",
	       "0,1,2,3,4,5");
	SEL_OK("${\"tab\" != 'tab'}", "");
	SEL_OK("${9223372036854775807 + 0 == 9223372036854775807}",
	       "0,1,2,3,4,5");
}

Test(expr, comparisons)
{
	SEL_OK("${record:value(\"/x\") > 5}", "1,2,5");
	SEL_OK("${record:value(\"/x\") >= 10}", "1,2,5");
	SEL_OK("${record:value(\"/x\") == 10}", "1");
	SEL_OK("${record:value(\"/x\") != 10}", "0,2,5");
	SEL_OK("${record:value(\"/x\") < 10}", "0");
	SEL_OK("${record:value(\"/x\") <= 10}", "0,1");
	SEL_OK("${record:value(\"/x\") gt 5}", "1,2,5");
	SEL_OK("${record:value(\"/x\") ge 10}", "1,2,5");
	SEL_OK("${record:value(\"/x\") eq 10}", "1");
	SEL_OK("${record:value(\"/x\") ne 10}", "0,2,5");
	SEL_OK("${record:value(\"/x\") lt 10}", "0");
	SEL_OK("${record:value(\"/x\") le 10}", "0,1");
	SEL_OK("${10 < record:value(\"/x\")}", "2,5");
	SEL_OK("${record:value('/x') == 9223372036854775807}", "5");
	SEL_OK("${record:value('/x') < -10000}", "");
	SEL_OK("${-record:value('/x') < -10000}", "5");
	SEL_OK("${true == true && false < true && !(true == false)}",
	       "0,1,2,3,4,5");
}

Test(expr, strings_compare_as_bytes)
{
	SEL_OK("${record:value(\"/s\") == 'apple'}", "0");
	SEL_OK("${record:value(\"/s\") == 'say \"hi\"'}", "2");
	SEL_OK("${record:value(\"/s\") == \"say \\\"hi\\\"\"}", "2");
	SEL_OK("${record:value(\"/s\") < \"b\"}", "0,1,3,4,5");
	SEL_OK("${record:value(\"/s\") >= \"apple\"}", "0,2");
	SEL_OK("${record:value(\"/s\") != \"apple\"}", "1,2,3,4,5");
	SEL_OK("${'abc' < 'abd' && 'ab' < 'abc' && 'B' < 'a'}", "0,1,2,3,4,5");
}

Test(expr, numbers_and_numeric_strings)
{
	/* "12" reads as a number; the others are record errors */
	SEL("${record:value(\"/s\") == 12}", "4");
	cr_assert_eq(nerr, 5);
	cr_expect_eq(b->errors[0].record, 0);
	cr_expect_eq(b->errors[0].line, 100);
	cr_expect_eq(b->errors[0].raw_len, 4);
	cr_expect_eq(memcmp(b->errors[0].raw, "rec0", 4), 0);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value(\"/s\") == 12}: cannot compare "
			 "STRING \"apple\" with number");
	cr_expect_str_eq(b->errors[2].reason,
			 "${record:value(\"/s\") == 12}: cannot compare "
			 "STRING \"say \"hi\"\" with number");
	cr_expect_eq(b->errors[4].record, 5);
	cr_expect_eq(b->errors[4].line, 105);
	SEL_OK("${'1e3' == 1000 && '-2.5' < 0 && 12 == '12'}", "0,1,2,3,4,5");
	/* int vs double compare numerically, exactly */
	SEL_OK("${record:value(\"/d\") > 1}", "0,2,4");
	SEL_OK("${record:value(\"/d\") == 12345.5}", "2");
	SEL_OK("${record:value(\"/d\") < 0}", "1");
	SEL_OK("${record:value(\"/x\") == 10.0}", "1");
	SEL_OK("${record:value(\"/x\") > 9.2233720368547748e18}", "5");
	SEL_OK("${record:value(\"/x\") < 9.2233720368547758e18}", "0,1,2,5");
	SEL_OK("${1 == 1.0 && 2 > 1.5 && 1.5 < 2}", "0,1,2,3,4,5");
}

Test(expr, arithmetic)
{
	SEL_OK("${record:value(\"/x\") + 1 == 6}", "0");
	SEL_OK("${record:value(\"/x\") * 2 - 1 == 19}", "1");
	SEL_OK("${record:value(\"/x\") / 4 == 2.5}", "1");
	SEL_OK("${record:value(\"/x\") div 4 == 2.5}", "1");
	SEL_OK("${record:value(\"/x\") % 4 == 3}", "2,5");
	SEL_OK("${record:value(\"/x\") mod 4 == 1}", "0");
	SEL_OK("${record:value(\"/d\") * 2 == 24691}", "2");
	SEL_OK("${7 / 2 == 3.5 && 6 / 3 == 2 && -7 % 3 == -1}", "0,1,2,3,4,5");
	SEL_OK("${7.5 % 2 == 1.5 && 0.1 + 0.2 > 0.3}", "0,1,2,3,4,5");
	SEL_OK("${'3' + 4 == 7 && '2' * '3' == 6}", "0,1,2,3,4,5");
	/* overflow promotes to double */
	SEL_OK("${record:value(\"/x\") + 1 > 9223372036854775807}", "5");
	SEL_OK("${record:value(\"/x\") * 2 == 18446744073709551614}", "5");
	SEL_OK("${-9223372036854775807 - 2 < -9223372036854775807}",
	       "0,1,2,3,4,5");
}

Test(expr, precedence)
{
	SEL_OK("${1 + 2 * 3 == 7}", "0,1,2,3,4,5");
	SEL_OK("${(1 + 2) * 3 == 9}", "0,1,2,3,4,5");
	SEL_OK("${10 - 2 - 3 == 5 && 100 / 10 / 5 == 2}", "0,1,2,3,4,5");
	SEL_OK("${2 * 3 % 4 == 2}", "0,1,2,3,4,5");
	SEL_OK("${-2 * -3 == 6 && - (2 + 3) == -5}", "0,1,2,3,4,5");
	SEL_OK("${true || false && false}", "0,1,2,3,4,5");
	SEL_OK("${(true || false) && false}", "");
	SEL_OK("${!false && false}", "");
	SEL_OK("${not (false and true) or false}", "0,1,2,3,4,5");
	SEL_OK("${1 < 2 == true}", "0,1,2,3,4,5");
	SEL_OK("${1 + 2 > 2 ? true : false}", "0,1,2,3,4,5");
	SEL_OK("${false ? false : true ? true : false}", "0,1,2,3,4,5");
	SEL_OK("${record:value('/x') > 9 ? record:value('/s') == 'Banana' : "
	       "true}",
	       "0,1,3,4");
	SEL_OK("${(record:value('/x') > 9 ? 1 : 2) + 1 == 2}", "1,2,5");
}

Test(expr, null_semantics)
{
	SEL_OK("${record:value(\"/x\") == null}", "3,4");
	SEL_OK("${record:value(\"/x\") != null}", "0,1,2,5");
	SEL_OK("${null == record:value(\"/x\")}", "3,4");
	SEL_OK("${null == null && !(null != null)}", "0,1,2,3,4,5");
	/* null compares false with anything but a written null */
	SEL_OK("${record:value(\"/x\") < 100000000}", "0,1,2");
	SEL_OK("${record:value(\"/missing\") != 3}", "");
	SEL_OK("${record:value(\"/missing\") == record:value(\"/x\")}", "");
	SEL_OK("${record:value(\"/missing\") + 1 == null}", "0,1,2,3,4,5");
	SEL_OK("${record:value(\"/missing\") * 2 > 0}", "");
	SEL_OK("${record:value(\"/missing\") && true}", "");
	SEL_OK("${record:value(\"/missing\") || true}", "0,1,2,3,4,5");
	SEL_OK("${!record:value(\"/missing\")}", "0,1,2,3,4,5");
	SEL_OK("${record:value(\"/flag\")}", "0,2,5");
	SEL_OK("${record:value(\"/flag\") == true}", "0,2,5");
	SEL_OK("${-record:value(\"/missing\") == null}", "0,1,2,3,4,5");
	SEL_OK("${empty record:value(\"/x\")}", "3,4");
	SEL_OK("${empty record:value(\"/s\")}", "3");
	SEL_OK("${not empty record:value(\"/o\")}", "0,1");
	SEL_OK("${empty '' && !empty 'a' && !empty 0}", "0,1,2,3,4,5");
}

Test(expr, record_functions)
{
	SEL_OK("${record:exists(\"/x\")}", "0,1,2,4,5");
	SEL_OK("${record:exists('/n')}", "5");
	SEL_OK("${record:type(\"/x\") == \"LONG\"}", "0,1,2,5");
	SEL_OK("${record:type(\"/d\") == \"DOUBLE\"}", "0,1,2,4");
	SEL_OK("${record:type(\"/s\") == \"STRING\"}", "0,1,2,3,4,5");
	SEL_OK("${record:type(\"/flag\") == \"BOOLEAN\"}", "0,1,2");
	SEL_OK("${record:type(\"/o\") == \"MAP\"}", "0,1");
	SEL_OK("${record:type(\"/x\") == null}", "3,4");
	SEL_OK("${record:valueOrDefault(\"/x\", 7) == 7}", "3,4");
	SEL_OK("${record:valueOrDefault(\"/x\", 1 > 0 ? 7 : 8) == 7}", "3,4");
	SEL_OK("${record:valueOrDefault(\"/x\", 7) < 7}", "0");
}

Test(expr, nested_paths)
{
	SEL_OK("${record:exists(\"/o/a/b\")}", "0,1");
	SEL_OK("${record:value(\"/o/c\") == \"q\"}", "0");
	SEL_OK("${record:value(\"/o/a/missing\") == null}", "0,1,2,3,4,5");
	SEL("${record:value(\"/o/a/b\") >= 7}", "0");
	cr_assert_eq(nerr, 1);
	cr_expect_eq(b->errors[0].record, 1);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value(\"/o/a/b\") >= 7}: cannot compare "
			 "STRING \"7x\" with number");
}

Test(expr, string_functions)
{
	SEL_OK("${str:contains(record:value(\"/s\"), \"an\")}", "1");
	SEL_OK("${str:contains(record:value(\"/s\"), '\"hi\"')}", "2");
	SEL_OK("${str:startsWith(record:value(\"/s\"), \"B\")}", "1");
	SEL_OK("${str:endsWith(record:value(\"/s\"), \"a\")}", "1");
	SEL_OK("${str:endsWith(record:value(\"/s\"), \"\")}", "0,1,2,3,4,5");
	SEL_OK("${str:toUpper(record:value(\"/s\")) == \"APPLE\"}", "0");
	SEL_OK("${str:toLower(record:value(\"/s\")) == \"banana\"}", "1");
	SEL_OK("${str:length(record:value(\"/s\")) == 6}", "1");
	SEL_OK("${str:length(record:value(\"/s\")) == 8}", "2");
	SEL_OK("${str:length('h\xc3\xa9') == 2}", "0,1,2,3,4,5");
	SEL_OK("${str:trim(record:value(\"/s\")) == \"pad\"}", "5");
	SEL_OK("${str:substring(record:value(\"/s\"), 1, 3) == \"pp\"}", "0");
	SEL_OK("${str:substring(record:value(\"/s\"), 4, 99) == \"na\"}", "1");
	SEL_OK("${str:substring('abc', 2, 1) == '' && "
	       "str:substring('abc', 1.9, '3') == 'bc'}",
	       "0,1,2,3,4,5");
	SEL_OK("${str:concat(record:value(\"/s\"), \"!\") == \"apple!\"}", "0");
	SEL_OK("${str:concat(record:value(\"/missing\"), \"!\") == \"!\"}",
	       "0,1,2,3,4,5");
	SEL_OK("${str:indexOf(record:value(\"/s\"), \"na\") == 2}", "1");
	SEL_OK("${str:indexOf(record:value(\"/s\"), \"zz\") == -1}",
	       "0,1,2,3,4,5");
	SEL_OK("${str:contains(record:value(\"/missing\"), \"a\")}", "");
	SEL_OK("${str:length(record:value(\"/missing\")) == null}",
	       "0,1,2,3,4,5");
	/* numbers are strings to string functions */
	SEL_OK("${str:startsWith(record:value(\"/d\"), \"123\")}", "2");
	SEL_OK("${str:length(record:value(\"/x\")) == 2}", "1,2");
}

Test(expr, matches)
{
	SEL_OK("${str:matches(record:value(\"/s\"), \"[a-z]+\")}", "0");
	SEL_OK("${str:matches(record:value(\"/s\"), \"\\d+\")}", "4");
	SEL_OK("${str:matches(record:value(\"/s\"), \"\\\\d+\")}", "4");
	SEL_OK("${str:matches(record:value(\"/s\"), (\"B.*\"))}", "1");
	SEL_OK("${str:matches(record:value(\"/s\"), \".*a.*\")}", "0,1,2,5");
	SEL_OK("${str:matches(record:value(\"/s\"), "
	       "str:concat(\"[a-z]\", \"+\"))}",
	       "0");
	SEL_OK("${str:matches(record:value(\"/missing\"), \".*\")}", "");
	SEL("${str:matches(record:value('/s'), str:concat('(', ''))}", "");
	cr_assert_eq(nerr, 6);
	cr_expect_str_eq(b->errors[3].reason,
			 "${str:matches(record:value('/s'), str:concat('(', "
			 "''))}: invalid regular expression \"(\": missing "
			 "closing parenthesis at offset 1");
}

Test(expr, math_functions)
{
	SEL_OK("${math:abs(-3) == 3 && math:abs(-2.5) == 2.5}", "0,1,2,3,4,5");
	SEL_OK("${math:abs(record:value(\"/d\")) == 2.25}", "1");
	SEL_OK("${math:min(record:value(\"/x\"), 8) == 5}", "0");
	SEL_OK("${math:max(record:value(\"/x\"), 12) == 12}", "0,1");
	SEL_OK("${math:max(1, 2.5) == 2.5 && math:min(1, 2.5) == 1}",
	       "0,1,2,3,4,5");
	SEL_OK("${math:floor(2.7) == 2 && math:ceil(2.1) == 3 && "
	       "math:floor(-2.5) == -3 && math:ceil(4) == 4}",
	       "0,1,2,3,4,5");
	SEL_OK("${math:round(2.5) == 3 && math:round(-2.5) == -2 && "
	       "math:round(2.4) == 2}",
	       "0,1,2,3,4,5");
	/* beyond the int range: itself, not 9223372036854775807 */
	SEL_OK("${math:round(1e300) == 1e300 && math:round(-1e300) == -1e300 "
	       "&& math:round(1e300) > 9223372036854775807 && "
	       "math:round(9.3e18) == 9.3e18}",
	       "0,1,2,3,4,5");
	SEL_OK("${math:sqrt(16) == 4 && math:sqrt('2.25') == 1.5}",
	       "0,1,2,3,4,5");
	SEL_OK("${math:abs(record:value(\"/missing\")) == null}",
	       "0,1,2,3,4,5");
}

Test(expr, runtime_errors)
{
	SEL("${record:value(\"/n\") > 3}", "");
	cr_assert_eq(nerr, 1);
	cr_expect_eq(b->errors[0].record, 5);
	cr_expect_eq(b->errors[0].line, 105);
	cr_expect_eq(memcmp(b->errors[0].raw, "rec5", 4), 0);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value(\"/n\") > 3}: cannot compare STRING "
			 "\"abc\" with number");
	SEL("${3 < record:value(\"/n\")}", "");
	cr_expect_str_eq(b->errors[0].reason,
			 "${3 < record:value(\"/n\")}: cannot compare number "
			 "with STRING \"abc\"");

	SEL("${record:value('/o') + 1 > 0}", "");
	cr_assert_eq(nerr, 2);
	cr_expect_str_eq(b->errors[1].reason,
			 "${record:value('/o') + 1 > 0}: '+' expects a "
			 "number, got MAP");

	SEL("${record:value('/x') && true}", "");
	cr_assert_eq(nerr, 4);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value('/x') && true}: expected a boolean, "
			 "got LONG 5");

	SEL("${record:value('/x') % 0 == 0}", "");
	cr_assert_eq(nerr, 4);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value('/x') % 0 == 0}: modulo by zero");

	SEL("${record:value('/flag') > 1}", "");
	cr_assert_eq(nerr, 4);
	cr_expect_str_eq(b->errors[0].reason,
			 "${record:value('/flag') > 1}: cannot compare "
			 "BOOLEAN true with LONG 1");

	SEL("${math:sqrt(record:value('/s')) > 0}", "4");
	cr_assert_eq(nerr, 5);
	cr_expect_str_eq(b->errors[1].reason,
			 "${math:sqrt(record:value('/s')) > 0}: math:sqrt "
			 "expects a number, got STRING \"Banana\"");

	SEL("${record:value('/x')}", "");
	cr_assert_eq(nerr, 4);
	cr_expect_str_eq(b->errors[3].reason,
			 "${record:value('/x')}: expected a boolean, got "
			 "LONG 9223372036854775807");
}

Test(expr, compile_errors)
{
	char deep[1024];
	size_t n = 0;

	compile_error("record:value(\"/x\")", 1,
		      "expected '${' at the start of an expression");
	compile_error(" ${true}", 1,
		      "expected '${' at the start of an expression");
	compile_error("", 1, "expected '${' at the start of an expression");
	compile_error("${(1 + 2}", 9,
		      "expected ')' to close '(' opened at column 3");
	compile_error("${str:contains('a', 'b'}", 24,
		      "expected ')' to close '(' opened at column 15");
	compile_error("${str:foo(\"a\")}", 3, "unknown function 'str:foo'");
	compile_error("${1 + str:contains(\"a\")}", 7,
		      "str:contains takes 2 arguments, got 1");
	compile_error("${math:sqrt(1, 2)}", 3,
		      "math:sqrt takes 1 argument, got 2");
	compile_error("${str:trim()}", 3, "str:trim takes 1 argument, got 0");
	compile_error("${\"abc}", 3, "unterminated string literal");
	compile_error("${'abc\\'}", 3, "unterminated string literal");
	compile_error("${str:matches(\"a\", \"(ab\")}", 20,
		      "invalid regular expression: missing closing "
		      "parenthesis at offset 3");
	compile_error("${1 +}", 6,
		      "expected a value before the end of the expression");
	compile_error("${}", 3,
		      "expected a value before the end of the expression");
	compile_error("${1 2}", 5,
		      "unexpected '2'; expected an operator or '}'");
	compile_error("${1 = 2}", 5,
		      "unexpected '='; expected an operator or '}'");
	compile_error("${true", 7, "expected '}' at the end of the expression");
	compile_error("${true} x", 9, "unexpected 'x' after the closing '}'");
	compile_error("${foo}", 3, "unknown identifier 'foo'");
	compile_error("${@}", 3, "expected a value but found '@'");
	compile_error("${1.2.3}", 3, "malformed number '1.2.3'");
	compile_error("${record:value}", 15,
		      "expected '(' after 'record:value'");
	compile_error("${record:value(1)}", 16,
		      "record:value takes a field path as a string literal, "
		      "e.g. \"/a\"");
	compile_error("${record:value(\"x\")}", 16,
		      "invalid field path \"x\": a field path starts with '/' "
		      "(e.g. /user or /a/b)");
	compile_error("${record:valueOrDefault('/a' + '', 1)}", 25,
		      "record:valueOrDefault takes a field path as a string "
		      "literal, e.g. \"/a\"");
	compile_error("${true ? 1}", 11,
		      "expected ':' for the '?' at column 8");

	n += (size_t)snprintf(deep, sizeof(deep), "${");
	for (int i = 0; i < 300; i++)
		deep[n++] = '(';
	deep[n++] = '1';
	for (int i = 0; i < 300; i++)
		deep[n++] = ')';
	deep[n++] = '}';
	deep[n] = '\0';
	compile_error(deep, 259, "expression nested more than 256 deep");
	memset(deep, 0, sizeof(deep));
	strcpy(deep, "${");
	for (int i = 0; i < 300; i++)
		strcat(deep, "!");
	strcat(deep, "true}");
	compile_error(deep, 259, "expression nested more than 256 deep");

	/* 256 deep is still fine */
	n = (size_t)snprintf(deep, sizeof(deep), "${");
	for (int i = 0; i < 256; i++)
		deep[n++] = '(';
	deep[n++] = '1';
	for (int i = 0; i < 256; i++)
		deep[n++] = ')';
	strcpy(deep + n, " == 1}");
	SEL_OK(deep, "0,1,2,3,4,5");
}

/* Pairs that must select the same records, one on the fast path. */
Test(expr, fast_path_agrees)
{
	static const char *const ops[] = {"==", "!=", "<", ">", "<=", ">="};
	static const char *const consts[] = {
	    "10", "-3", "12345.5", "1e3", "9223372036854775807", "0.1"};
	static const char *const fields[] = {"/x",    "/d",	  "/s",
					     "/flag", "/missing", "/n"};
	struct sp_expr_error err;
	char fast[128], slow[128], want[128];

	for (size_t f = 0; f < 6; f++) {
		for (size_t o = 0; o < 6; o++) {
			for (size_t k = 0; k < 6; k++) {
				snprintf(fast, sizeof(fast),
					 "${record:value(\"%s\") %s %s}",
					 fields[f], ops[o], consts[k]);
				snprintf(slow, sizeof(slow),
					 "${record:value(\"%s\") %s %s && "
					 "true}",
					 fields[f], ops[o], consts[k]);
				struct sp_expr *e =
				    sp_expr_compile(fast, st, &err);
				cr_assert_not_null(e);
				cr_expect(e->fast, "%s not on the fast path",
					  fast);
				sp_expr_destroy(e);
				e = sp_expr_compile(slow, st, &err);
				cr_assert_not_null(e);
				cr_expect(!e->fast);
				sp_expr_destroy(e);
				snprintf(want, sizeof(want), "%s", sel(slow));
				uint32_t slow_err = nerr;
				cr_expect_str_eq(sel(fast), want, "%s", fast);
				cr_expect_eq(nerr, slow_err, "%s", fast);
			}
		}
	}
	/* reversed operands take the fast path with the operator flipped */
	struct sp_expr *e =
	    sp_expr_compile("${10 > record:value('/x')}", st, &err);
	cr_assert_not_null(e);
	cr_expect(e->fast);
	sp_expr_destroy(e);
	SEL_OK("${10 > record:value('/x')}", "0");
	SEL_OK("${-10000 < record:value('/d')}", "0,1,2,4");
}

Test(expr, eval_values)
{
	struct sp_expr_error err;
	struct sp_value v;
	const char *why = NULL;
	struct sp_expr_ctx *c = sp_expr_ctx_create();

	struct sp_expr *e =
	    sp_expr_compile("${record:value('/x') * 2}", st, &err);
	cr_assert_not_null(e);
	cr_expect_str_eq(sp_expr_text(e), "${record:value('/x') * 2}");
	cr_assert_eq(sp_expr_eval(e, c, b, 0, &v, &why), 0);
	cr_expect_eq(v.type, SP_INT);
	cr_expect_eq(v.i, 10);
	cr_assert_eq(sp_expr_eval(e, c, b, 1, &v, &why), 0);
	cr_expect_eq(v.i, 20);
	cr_assert_eq(sp_expr_eval(e, c, b, 4, &v, &why), 0);
	cr_expect_eq(v.type, SP_NULL);
	cr_assert_eq(sp_expr_eval(e, c, b, 5, &v, &why), 0);
	cr_expect_eq(v.type, SP_DOUBLE);
	cr_expect_eq(v.d, 18446744073709551614.0);
	sp_expr_destroy(e);

	/* values from the record stay zero-copy */
	e = sp_expr_compile("${record:value('/s')}", st, &err);
	cr_assert_not_null(e);
	cr_assert_eq(sp_expr_eval(e, c, b, 2, &v, &why), 0);
	const struct sp_value *src =
	    sp_record_get(b, 2, sp_symtab_find(st, "s", 1));
	cr_expect_eq(v.str, src->str);
	cr_expect_eq(v.flags, SP_VALUE_ESCAPED);
	sp_expr_destroy(e);

	e = sp_expr_compile("${str:toUpper(record:value('/s')) + ''}", st,
			    &err);
	cr_assert_not_null(e);
	cr_expect_eq(sp_expr_eval(e, c, b, 0, &v, &why), -EINVAL);
	cr_expect_str_eq(why, "${str:toUpper(record:value('/s')) + ''}: '+' "
			      "expects a number, got STRING \"APPLE\"");
	sp_expr_destroy(e);

	e = sp_expr_compile("${str:concat(str:toUpper(record:value('/s')), "
			    "record:type('/d'))}",
			    st, &err);
	cr_assert_not_null(e);
	cr_assert_eq(sp_expr_eval(e, c, b, 2, &v, &why), 0);
	cr_expect_eq(v.type, SP_STRING);
	cr_expect_eq(v.len, strlen("SAY \"HI\"DOUBLE"));
	cr_expect_eq(memcmp(v.str, "SAY \"HI\"DOUBLE", v.len), 0);
	sp_expr_destroy(e);

	e = sp_expr_compile("${record:value('/x') / 4}", st, &err);
	cr_assert_not_null(e);
	cr_assert_eq(sp_expr_eval(e, c, b, 1, &v, &why), 0);
	cr_expect_eq(v.type, SP_DOUBLE);
	cr_expect_eq(v.d, 2.5);
	sp_expr_destroy(e);
	sp_expr_ctx_destroy(c);
}

Test(expr, select_in_place)
{
	struct sp_expr_error err;
	uint32_t idx[6] = {5, 4, 3, 2, 1, 0}, ne = 9;
	struct sp_expr *e =
	    sp_expr_compile("${record:value('/x') >= 10}", st, &err);
	struct sp_expr_ctx *c = sp_expr_ctx_create();

	cr_assert(e && c);
	uint32_t n = sp_expr_select(e, c, b, idx, 6, idx, &ne);
	cr_assert_eq(n, 3);
	cr_expect_eq(ne, 0);
	cr_expect_eq(idx[0], 5);
	cr_expect_eq(idx[1], 2);
	cr_expect_eq(idx[2], 1);
	sp_expr_ctx_destroy(c);
	sp_expr_destroy(e);
}

/* ---- two threads, one compiled expression ---- */

#define THREAD_RECS 1000
#define THREAD_ROUNDS 200

/* r0 .. r999, filled before the threads start */
static char names[THREAD_RECS][16];

struct worker {
	const struct sp_expr *e;
	uint32_t expect;
	uint32_t bad; /* rounds that disagreed */
};

static void *work(void *arg)
{
	struct worker *w = arg;
	struct sp_batch *tb = sp_batch_create(st);
	struct sp_expr_ctx *c = sp_expr_ctx_create();
	uint32_t *in = malloc(THREAD_RECS * sizeof(*in));
	uint32_t *out = malloc(THREAD_RECS * sizeof(*out));

	for (uint32_t i = 0; i < THREAD_RECS; i++) {
		struct sp_record *r = sp_batch_record_begin(tb);
		r->line = i + 1;
		struct sp_field *f = sp_batch_field_add(tb);
		f->sym = sp_symtab_intern(st, "x", 1);
		f->v = sp_value_int(i);
		f = sp_batch_field_add(tb);
		f->sym = sp_symtab_intern(st, "s", 1);
		f->v = str(names[i]);
		in[i] = i;
	}
	for (int round = 0; round < THREAD_ROUNDS; round++) {
		uint32_t ne = 0;
		uint32_t n =
		    sp_expr_select(w->e, c, tb, in, THREAD_RECS, out, &ne);
		if (n != w->expect || ne != 0)
			w->bad++;
		for (uint32_t k = 0; k < n; k++)
			if (out[k] % 3 != 0)
				w->bad++;
		sp_arena_reset(&tb->arena);
	}
	free(in);
	free(out);
	sp_expr_ctx_destroy(c);
	sp_batch_destroy(tb);
	return NULL;
}

Test(expr, two_threads_share_one_expression)
{
	struct sp_expr_error err;
	pthread_t t[2];
	struct worker w[2];

	for (uint32_t i = 0; i < THREAD_RECS; i++)
		snprintf(names[i], sizeof(names[i]), "r%u", i);
	struct sp_expr *e =
	    sp_expr_compile("${record:value('/x') % 3 == 0 && "
			    "str:matches(record:value('/s'), 'r[0-9]*7') && "
			    "str:toUpper(record:value('/s')) != 'X'}",
			    st, &err);
	cr_assert_not_null(e, "%s", err.message);
	/* the names ending in 7 at indices divisible by 3 */
	uint32_t expect = 0;
	for (uint32_t i = 0; i < THREAD_RECS; i++)
		if (i % 3 == 0 && i % 10 == 7)
			expect++;
	for (int k = 0; k < 2; k++) {
		w[k] = (struct worker){.e = e, .expect = expect};
		cr_assert_eq(pthread_create(&t[k], NULL, work, &w[k]), 0);
	}
	for (int k = 0; k < 2; k++)
		pthread_join(t[k], NULL);
	cr_expect_eq(w[0].bad, 0);
	cr_expect_eq(w[1].bad, 0);
	sp_expr_destroy(e);
}

/* The fast comparison of decimal text with a whole number agrees with
 * comparing the numbers as doubles, around every edge (sign, equal
 * integer part, zero fractions, -0). */
Test(expr, decimal_text_compares_exactly_with_whole_numbers)
{
	static const char *const texts[] = {
	    "0",     "-0",	"0.0",	  "-0.0",     "0.5",	   "-0.5",
	    "9",     "10",	"10.0",	  "10.00001", "9.99999",   "-10",
	    "-10.0", "-10.5",	"-9.5",	  "-11",      "10000",	   "9999.99",
	    "10000.01", "-20000.00", "123456789012345678", "-1.000"};
	static const long long consts[] = {0, 10, -10, -11, 9, 10000, -20000};
	static const char *const ops[] = {"<", "<=", ">", ">=", "==", "!="};
	const uint32_t n = sizeof(texts) / sizeof(texts[0]);
	struct sp_batch *nb = sp_batch_create(st);
	struct sp_expr_ctx *c = sp_expr_ctx_create();
	uint32_t in[64], res[64], nbad;

	cr_assert(nb && c);
	for (uint32_t i = 0; i < n; i++) {
		cr_assert_not_null(sp_batch_record_begin(nb));
		struct sp_field *f = sp_batch_field_add(nb);
		cr_assert_not_null(f);
		f->sym = sp_symtab_intern(st, "v", 1);
		f->v = text_num(strchr(texts[i], '.') ? SP_DOUBLE : SP_INT,
				texts[i]);
		in[i] = i;
	}
	for (size_t k = 0; k < sizeof(consts) / sizeof(consts[0]); k++) {
		for (size_t o = 0; o < sizeof(ops) / sizeof(ops[0]); o++) {
			char text[96];
			struct sp_expr_error err;
			snprintf(text, sizeof(text),
				 "${record:value('/v') %s %lld}", ops[o],
				 consts[k]);
			struct sp_expr *e = sp_expr_compile(text, st, &err);
			cr_assert_not_null(e, "%s", text);
			uint32_t got = sp_expr_select(e, c, nb, in, n, res,
						      &nbad);
			cr_assert_eq(nbad, 0, "%s", text);
			uint32_t j = 0;
			for (uint32_t i = 0; i < n; i++) {
				double x = strtod(texts[i], NULL);
				double y = (double)consts[k];
				bool want = o == 0 ? x < y : o == 1 ? x <= y
					  : o == 2 ? x > y : o == 3 ? x >= y
					  : o == 4 ? x == y : x != y;
				bool sel = j < got && res[j] == i;
				cr_expect_eq(sel, want, "%s %s %lld", texts[i],
					     ops[o], consts[k]);
				j += sel;
			}
			sp_expr_destroy(e);
		}
	}
	sp_expr_ctx_destroy(c);
	sp_batch_destroy(nb);
}
