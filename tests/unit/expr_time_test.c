/*
 * The time functions of the expression language (time:now, format,
 * parse, trunc, extract) and the function reference: every function the
 * compiler knows has a signature, a line of documentation and an example
 * that compiles, and the reference names no other.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <string.h>
#include <time.h>

#include "expr/expr.h"
#include "record/batch.h"
#include "record/symtab.h"

static struct sp_symtab *st;
static struct sp_batch *b;
static struct sp_expr_ctx *c;

static void setup(void)
{
	st = sp_symtab_create();
	b = sp_batch_create(st);
	c = sp_expr_ctx_create();
	cr_assert(st && b && c);
	struct sp_record *r = sp_batch_record_begin(b);
	cr_assert_not_null(r);
	r->raw = "r";
	r->raw_len = 1;
}

static void teardown(void)
{
	sp_expr_ctx_destroy(c);
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
}

TestSuite(expr_time, .init = setup, .fini = teardown);

/* evaluates text over record 0: 0 or -EINVAL with *why */
static int eval(const char *text, struct sp_value *v, const char **why)
{
	struct sp_expr_error err;
	struct sp_expr *e = sp_expr_compile(text, st, &err);

	cr_assert_not_null(e, "%s: %s", text, err.message);
	int rc = sp_expr_eval(e, c, b, 0, v, why);
	sp_expr_destroy(e);
	return rc;
}

static int64_t eval_int(const char *text)
{
	struct sp_value v;
	const char *why = NULL;

	cr_assert_eq(eval(text, &v, &why), 0, "%s: %s", text, why);
	cr_assert_eq(v.type, SP_INT, "%s: type %d", text, v.type);
	return v.i;
}

static void expect_str(const char *text, const char *want)
{
	struct sp_value v;
	const char *why = NULL;

	cr_assert_eq(eval(text, &v, &why), 0, "%s: %s", text, why);
	cr_assert_eq(v.type, SP_STRING, "%s", text);
	cr_expect_eq(v.len, strlen(want), "%s: %.*s", text, (int)v.len, v.str);
	cr_expect_eq(memcmp(v.str, want, v.len), 0, "%s: %.*s", text,
		     (int)v.len, v.str);
}

static void expect_error(const char *text, const char *want)
{
	struct sp_value v;
	const char *why = NULL;

	cr_assert_eq(eval(text, &v, &why), -EINVAL, "%s", text);
	cr_expect(strstr(why, want) != NULL, "%s: %s", text, why);
}

/* 2026-11-05T13:04:09.250Z, a Thursday */
#define T "1793883849250"

Test(expr_time, now_is_the_clock)
{
	int64_t before = (int64_t)time(NULL) * 1000;
	int64_t now = eval_int("${time:now()}");
	int64_t after = (int64_t)time(NULL) * 1000 + 1000;

	cr_expect(now >= before && now <= after, "%lld", (long long)now);
}

Test(expr_time, format)
{
	expect_str("${time:format(" T ", \"yyyy-MM-dd'T'HH:mm:ss.SSS\")}",
		   "2026-11-05T13:04:09.250");
	expect_str("${time:format(" T ", 'yy/MM dd')}", "26/11 05");
	expect_str("${time:format(0, \"yyyy-MM-dd HH:mm\")}",
		   "1970-01-01 00:00");
	expect_str("${time:format(-1, \"yyyy-MM-dd HH:mm:ss.SSS\")}",
		   "1969-12-31 23:59:59.999");
	expect_str("${time:format('" T "', \"yyyy\")}", "2026");
	expect_error("${time:format(" T ", \"YYYY\")}",
		     "time:format: pattern \"YYYY\": 'YYYY' is not one of");
}

Test(expr_time, parse_and_round_trip)
{
	cr_expect_eq(eval_int("${time:parse('2026-11-05T13:04:09.250', "
			      "\"yyyy-MM-dd'T'HH:mm:ss.SSS\")}"),
		     1793883849250);
	cr_expect_eq(eval_int("${time:parse('1970-01-02', 'yyyy-MM-dd')}"),
		     86400000);
	cr_expect_eq(eval_int("${time:parse(time:format(" T ", 'yyyyMMdd"
			      "HHmmssSSS'), 'yyyyMMddHHmmssSSS')}"),
		     1793883849250);
	expect_error("${time:parse('2026-1-05', 'yyyy-MM-dd')}",
		     "time:parse: \"2026-1-05\" does not match pattern "
		     "\"yyyy-MM-dd\"");
	expect_error("${time:parse('2026-11-05x', 'yyyy-MM-dd')}",
		     "does not match");
}

Test(expr_time, trunc_and_extract)
{
	cr_expect_eq(eval_int("${time:trunc(" T ", 'day')}"), 1793836800000);
	cr_expect_eq(eval_int("${time:trunc(" T ", 'hour')}"), 1793883600000);
	cr_expect_eq(eval_int("${time:trunc(" T ", 'second')}"),
		     1793883849000);
	cr_expect_eq(eval_int("${time:trunc(" T ", 'month')}"),
		     1793491200000);
	cr_expect_eq(eval_int("${time:trunc(" T ", 'year')}"), 1767225600000);
	cr_expect_eq(eval_int("${time:extract(" T ", 'year')}"), 2026);
	cr_expect_eq(eval_int("${time:extract(" T ", 'month')}"), 11);
	cr_expect_eq(eval_int("${time:extract(" T ", 'day')}"), 5);
	cr_expect_eq(eval_int("${time:extract(" T ", 'hour')}"), 13);
	cr_expect_eq(eval_int("${time:extract(" T ", 'minute')}"), 4);
	cr_expect_eq(eval_int("${time:extract(" T ", 'second')}"), 9);
	cr_expect_eq(eval_int("${time:extract(" T ", 'dayOfWeek')}"), 4);
	expect_error("${time:trunc(" T ", 'week')}",
		     "time:trunc: unknown unit \"week\"");
	expect_error("${time:trunc(" T ", 'dayOfWeek')}", "unknown unit");

	struct sp_value v;
	const char *why = NULL;
	cr_assert_eq(eval("${time:extract(record:value('/none'), 'day')}", &v,
			  &why),
		     0);
	cr_expect_eq(v.type, SP_NULL);
}

Test(expr_time, reference_lists_every_function_once)
{
	size_t n, known = 0;
	const struct sp_expr_fn_doc *fd = sp_expr_functions(&n);

	for (const char *name; (name = sp_expr_function_name(known));
	     known++) {
		size_t hits = 0;
		for (size_t i = 0; i < n; i++)
			hits += !strcmp(fd[i].name, name);
		cr_expect_eq(hits, 1, "%s is in the reference %zu times", name,
			     hits);
	}
	cr_expect_eq(n, known, "the reference has %zu, the compiler %zu", n,
		     known);
	for (size_t i = 0; i < n; i++) {
		struct sp_expr_error err;
		struct sp_expr *e = sp_expr_compile(fd[i].example, st, &err);
		cr_expect_not_null(e, "%s: %s", fd[i].example, err.message);
		sp_expr_destroy(e);
		cr_expect(!strncmp(fd[i].signature, fd[i].name,
				   strlen(fd[i].name)) &&
			      fd[i].doc[0],
			  "%s", fd[i].name);
	}
}
