/*
 * The expression evaluator: runs a compiled expression (expr_parse.c) over
 * the records of a batch.  Each record is one pass over the instruction
 * array with a value stack kept in the caller's sp_expr_ctx, so a compiled
 * expression is read-only and shared by every worker.  Values read from
 * the record stay zero-copy; numbers kept as source text are converted
 * when an operator needs them, strings are unescaped into the batch arena
 * only when compared or passed to a function.  The common selector shape
 * "record:value(P) op number" skips the stack machine altogether.
 *
 * Semantics follow the Java EL that StreamSets uses: longs stay longs in
 * + - * % (promoted to double on overflow), / divides as doubles, a string
 * that reads as a number compares as one, null compares false except with
 * a written-out == null / != null, and && || treat null as false.
 */
#define _GNU_SOURCE /* memmem */
#include "expr/expr.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

#include "expr/expr_parse.h"

struct sp_expr_ctx {
	struct sp_value *stack;
	uint32_t cap;
	pcre2_match_data *md;
	/* the last regular expression compiled from a computed pattern */
	pcre2_code *dyn_re;
	char *dyn_pat;
	size_t dyn_len;
	char why[320];
};

enum num_kind { NUM_ERR = -2, NUM_NONE = -1, NUM_INT = 0, NUM_DBL = 1 };

static const char *const fn_names[] = {
    [SP_FN_STR_CONTAINS] = "str:contains",
    [SP_FN_STR_STARTS_WITH] = "str:startsWith",
    [SP_FN_STR_ENDS_WITH] = "str:endsWith",
    [SP_FN_STR_TO_UPPER] = "str:toUpper",
    [SP_FN_STR_TO_LOWER] = "str:toLower",
    [SP_FN_STR_LENGTH] = "str:length",
    [SP_FN_STR_TRIM] = "str:trim",
    [SP_FN_STR_SUBSTRING] = "str:substring",
    [SP_FN_STR_CONCAT] = "str:concat",
    [SP_FN_STR_INDEX_OF] = "str:indexOf",
    [SP_FN_STR_MATCHES] = "str:matches",
    [SP_FN_MATH_ABS] = "math:abs",
    [SP_FN_MATH_MIN] = "math:min",
    [SP_FN_MATH_MAX] = "math:max",
    [SP_FN_MATH_FLOOR] = "math:floor",
    [SP_FN_MATH_CEIL] = "math:ceil",
    [SP_FN_MATH_ROUND] = "math:round",
    [SP_FN_MATH_SQRT] = "math:sqrt",
};

static int fail(struct sp_expr_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int fail(struct sp_expr_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The type names of record:type and of messages, as StreamSets has them. */
static const char *el_type(const struct sp_value *v)
{
	switch (v->type) {
	case SP_BOOL:
		return "BOOLEAN";
	case SP_INT:
		return "LONG";
	case SP_DOUBLE:
		return "DOUBLE";
	case SP_STRING:
		return "STRING";
	case SP_OBJECT:
		return "MAP";
	case SP_ARRAY:
		return "LIST";
	default:
		return "NULL";
	}
}

/* "STRING \"abc\"", "LONG 5", "MAP" - for messages, cut to fit. */
static const char *describe(struct sp_batch *b, const struct sp_value *v,
			    char *buf, size_t size)
{
	const char *s;
	size_t len;

	if (v->type == SP_OBJECT || v->type == SP_ARRAY || v->type == SP_NULL ||
	    sp_value_text(v, &b->arena, &s, &len)) {
		snprintf(buf, size, "%s", el_type(v));
		return buf;
	}
	int cut = len > 40 ? 40 : (int)len;
	if (v->type == SP_STRING)
		snprintf(buf, size, "STRING \"%.*s%s\"", cut, s,
			 (size_t)cut < len ? "..." : "");
	else
		snprintf(buf, size, "%s %.*s", el_type(v), cut, s);
	return buf;
}

/* A value's text (strings unescaped, numbers as written). */
static int text_of(struct sp_expr_ctx *c, struct sp_batch *b,
		   const struct sp_value *v, const char **s, size_t *len)
{
	int rc = sp_value_text(v, &b->arena, s, len);

	if (rc == -ENOMEM)
		return fail(c, "out of memory");
	if (rc)
		return fail(c, "cannot decode the escapes of a string");
	return 0;
}

/* ---- numbers ---- */

static bool is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* Strict number syntax: [+-] digits [. digits] [e [+-] digits]. */
static bool number_syntax(const char *s, size_t len, bool *is_int)
{
	size_t i = 0, digits = 0;

	*is_int = true;
	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.') {
		*is_int = false;
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	}
	if (!digits)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		*is_int = false;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == len || !is_digit(s[i]))
			return false;
		while (i < len && is_digit(s[i]))
			i++;
	}
	return i == len;
}

/*
 * Decimal text to double.  Up to 2^53 of mantissa and 10^+-22 the result
 * of one IEEE multiplication or division is correctly rounded (Clinger's
 * fast path); anything else goes through strtod.
 */
static int text_to_double(const char *s, size_t len, double *out)
{
	static const double p10[] = {
	    1e0,  1e1,	1e2,  1e3,  1e4,  1e5,	1e6,  1e7,
	    1e8,  1e9,	1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
	    1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	const uint64_t big = 1ull << 53;
	size_t i = 0;
	bool neg = false, any = false;
	uint64_t m = 0;
	int exp = 0;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		neg = s[i++] == '-';
	for (; i < len && is_digit(s[i]); i++) {
		m = m * 10 + (uint64_t)(s[i] - '0');
		any = true;
		if (m > big)
			goto slow;
	}
	if (i < len && s[i] == '.') {
		for (i++; i < len && is_digit(s[i]); i++) {
			m = m * 10 + (uint64_t)(s[i] - '0');
			exp--;
			any = true;
			if (m > big)
				goto slow;
		}
	}
	if (!any)
		return -EINVAL;
	if (i < len && (s[i] == 'e' || s[i] == 'E'))
		goto slow;
	if (i != len)
		return -EINVAL;
	if (exp < -22)
		goto slow;
	*out = exp < 0 ? (double)m / p10[-exp] : (double)m;
	if (neg)
		*out = -*out;
	return 0;
slow:;
	struct sp_value v = {.type = SP_DOUBLE,
			     .flags = SP_VALUE_TEXT,
			     .len = (uint32_t)len,
			     .str = s};
	return sp_value_to_double(&v, out);
}

static int text_to_number(const char *s, size_t len, bool is_int, int64_t *i,
			  double *d)
{
	if (is_int) {
		struct sp_value v = {.type = SP_INT,
				     .flags = SP_VALUE_TEXT,
				     .len = (uint32_t)len,
				     .str = s};
		int rc = sp_value_to_int(&v, i);
		if (rc == 0)
			return NUM_INT;
		if (rc != -ERANGE)
			return NUM_NONE;
	}
	return text_to_double(s, len, d) ? NUM_NONE : NUM_DBL;
}

/* A number read from a record or made by an operator; no coercion. */
static int record_number(const struct sp_value *v, int64_t *i, double *d)
{
	if (v->type == SP_INT) {
		if (!(v->flags & SP_VALUE_TEXT)) {
			*i = v->i;
			return NUM_INT;
		}
		return text_to_number(v->str, v->len, true, i, d);
	}
	if (v->type == SP_DOUBLE) {
		if (!(v->flags & SP_VALUE_TEXT)) {
			*d = v->d;
			return NUM_DBL;
		}
		return text_to_double(v->str, v->len, d) ? NUM_NONE : NUM_DBL;
	}
	return NUM_NONE;
}

/* As record_number, and a string that reads fully as a number is one. */
static int number(struct sp_expr_ctx *c, struct sp_batch *b,
		  const struct sp_value *v, int64_t *i, double *d)
{
	const char *s;
	size_t len;
	bool is_int;

	if (v->type != SP_STRING)
		return record_number(v, i, d);
	if (text_of(c, b, v, &s, &len))
		return NUM_ERR;
	if (!number_syntax(s, len, &is_int))
		return NUM_NONE;
	return text_to_number(s, len, is_int, i, d);
}

static int cmp_int_double(int64_t i, double d)
{
	if (isnan(d))
		return 2;
	if (d >= 9223372036854775808.0)
		return -1;
	if (d < -9223372036854775808.0)
		return 1;
	int64_t t = (int64_t)d;
	if (i != t)
		return i < t ? -1 : 1;
	double frac = d - (double)t;
	return frac > 0 ? -1 : frac < 0 ? 1 : 0;
}

/* -1, 0, 1, or 2 when unordered (NaN) */
static int cmp_numbers(int kx, int64_t ix, double dx, int ky, int64_t iy,
		       double dy)
{
	if (kx == NUM_INT && ky == NUM_INT)
		return ix < iy ? -1 : ix > iy;
	if (kx == NUM_INT)
		return cmp_int_double(ix, dy);
	if (ky == NUM_INT) {
		int r = cmp_int_double(iy, dx);
		return r == 2 ? 2 : -r;
	}
	if (isnan(dx) || isnan(dy))
		return 2;
	return dx < dy ? -1 : dx > dy;
}

static bool cmp_holds(int op, int r)
{
	switch (op) {
	case SP_OP_EQ:
		return r == 0;
	case SP_OP_NE:
		return r != 0;
	case SP_OP_LT:
		return r == -1;
	case SP_OP_GT:
		return r == 1;
	case SP_OP_LE:
		return r == -1 || r == 0;
	case SP_OP_GE:
		return r == 1 || r == 0;
	default:
		return false;
	}
}

/* ---- operators ---- */

/* EL's coercion to boolean: null is false, a string is "true" or not. */
static int truth(struct sp_expr_ctx *c, struct sp_batch *b,
		 const struct sp_value *v, bool *t)
{
	const char *s;
	size_t len;
	char d[80];

	switch (v->type) {
	case SP_BOOL:
		*t = v->b;
		return 0;
	case SP_NULL:
		*t = false;
		return 0;
	case SP_STRING:
		if (text_of(c, b, v, &s, &len))
			return -EINVAL;
		*t = len == 4 && strncasecmp(s, "true", 4) == 0;
		return 0;
	default:
		return fail(c, "expected a boolean, got %s",
			    describe(b, v, d, sizeof(d)));
	}
}

static int compare(struct sp_expr_ctx *c, struct sp_batch *b, int op,
		   const struct sp_value *x, const struct sp_value *y, bool *t)
{
	int64_t ix = 0, iy = 0;
	double dx = 0, dy = 0;
	char d1[80], d2[80];
	const char *s1, *s2;
	size_t l1, l2;
	int r;

	if (x->type == SP_NULL || y->type == SP_NULL) {
		bool both = x->type == y->type;
		*t = op == SP_OP_EQ_NULL ? both : op == SP_OP_NE_NULL && !both;
		return 0;
	}
	if (op == SP_OP_EQ_NULL)
		op = SP_OP_EQ;
	else if (op == SP_OP_NE_NULL)
		op = SP_OP_NE;
	bool nx = x->type == SP_INT || x->type == SP_DOUBLE;
	bool ny = y->type == SP_INT || y->type == SP_DOUBLE;
	if ((nx || x->type == SP_STRING) && (ny || y->type == SP_STRING) &&
	    (nx || ny)) {
		int kx = number(c, b, x, &ix, &dx);
		int ky = number(c, b, y, &iy, &dy);
		if (kx == NUM_ERR || ky == NUM_ERR)
			return -EINVAL;
		if (kx == NUM_NONE || ky == NUM_NONE)
			return fail(c, "cannot compare %s with number",
				    describe(b, kx == NUM_NONE ? x : y, d1,
					     sizeof(d1)));
		*t = cmp_holds(op, cmp_numbers(kx, ix, dx, ky, iy, dy));
		return 0;
	}
	if (x->type == SP_STRING && y->type == SP_STRING) {
		if (text_of(c, b, x, &s1, &l1) || text_of(c, b, y, &s2, &l2))
			return -EINVAL;
		r = memcmp(s1, s2, l1 < l2 ? l1 : l2);
		if (r == 0)
			r = l1 < l2 ? -1 : l1 > l2;
		*t = cmp_holds(op, r < 0 ? -1 : r > 0);
		return 0;
	}
	if (x->type == SP_BOOL && y->type == SP_BOOL) {
		*t = cmp_holds(op, (int)x->b - (int)y->b);
		return 0;
	}
	if ((op == SP_OP_EQ || op == SP_OP_NE) &&
	    ((x->type == SP_BOOL && y->type == SP_STRING) ||
	     (x->type == SP_STRING && y->type == SP_BOOL))) {
		bool bx, by;
		if (truth(c, b, x, &bx) || truth(c, b, y, &by))
			return -EINVAL;
		*t = (bx == by) == (op == SP_OP_EQ);
		return 0;
	}
	if ((op == SP_OP_EQ || op == SP_OP_NE) && x->type == y->type &&
	    (x->type == SP_OBJECT || x->type == SP_ARRAY)) {
		bool same =
		    x->len == y->len && memcmp(x->str, y->str, x->len) == 0;
		*t = same == (op == SP_OP_EQ);
		return 0;
	}
	return fail(c, "cannot compare %s with %s",
		    describe(b, x, d1, sizeof(d1)),
		    describe(b, y, d2, sizeof(d2)));
}

static int operand(struct sp_expr_ctx *c, struct sp_batch *b,
		   const struct sp_value *v, const char *what, int64_t *i,
		   double *d)
{
	char buf[80];
	int k = number(c, b, v, i, d);

	if (k == NUM_NONE)
		return fail(c, "%s expects a number, got %s", what,
			    describe(b, v, buf, sizeof(buf)));
	return k;
}

static int arith(struct sp_expr_ctx *c, struct sp_batch *b, int op,
		 const struct sp_value *x, const struct sp_value *y,
		 struct sp_value *out)
{
	static const char *const names[] = {
	    [SP_OP_ADD] = "'+'", [SP_OP_SUB] = "'-'", [SP_OP_MUL] = "'*'",
	    [SP_OP_DIV] = "'/'", [SP_OP_MOD] = "'%'",
	};
	int64_t ix = 0, iy = 0, r;
	double dx = 0, dy = 0;

	if (x->type == SP_NULL || y->type == SP_NULL) {
		*out = sp_value_null();
		return 0;
	}
	int kx = operand(c, b, x, names[op], &ix, &dx);
	if (kx < 0)
		return -EINVAL;
	int ky = operand(c, b, y, names[op], &iy, &dy);
	if (ky < 0)
		return -EINVAL;
	if (kx == NUM_INT && ky == NUM_INT) {
		bool over = false;
		switch (op) {
		case SP_OP_ADD:
			over = __builtin_add_overflow(ix, iy, &r);
			break;
		case SP_OP_SUB:
			over = __builtin_sub_overflow(ix, iy, &r);
			break;
		case SP_OP_MUL:
			over = __builtin_mul_overflow(ix, iy, &r);
			break;
		case SP_OP_MOD:
			if (iy == 0)
				return fail(c, "modulo by zero");
			r = iy == -1 ? 0 : ix % iy;
			break;
		default:
			over = true; /* '/' divides as doubles */
			break;
		}
		if (!over) {
			*out = sp_value_int(r);
			return 0;
		}
	}
	if (kx == NUM_INT)
		dx = (double)ix;
	if (ky == NUM_INT)
		dy = (double)iy;
	switch (op) {
	case SP_OP_ADD:
		*out = sp_value_double(dx + dy);
		break;
	case SP_OP_SUB:
		*out = sp_value_double(dx - dy);
		break;
	case SP_OP_MUL:
		*out = sp_value_double(dx * dy);
		break;
	case SP_OP_DIV:
		*out = sp_value_double(dx / dy);
		break;
	default:
		*out = sp_value_double(fmod(dx, dy));
		break;
	}
	return 0;
}

static int negate(struct sp_expr_ctx *c, struct sp_batch *b, struct sp_value *v)
{
	int64_t i = 0;
	double d = 0;

	if (v->type == SP_NULL)
		return 0;
	int k = operand(c, b, v, "'-'", &i, &d);
	if (k < 0)
		return -EINVAL;
	if (k == NUM_INT && i != INT64_MIN)
		*v = sp_value_int(-i);
	else
		*v = sp_value_double(k == NUM_INT ? -(double)i : -d);
	return 0;
}

static bool is_empty(const struct sp_value *v)
{
	switch (v->type) {
	case SP_NULL:
		return true;
	case SP_STRING:
		return v->len == 0;
	case SP_OBJECT:
	case SP_ARRAY:
		for (uint32_t i = 1; i + 1 < v->len; i++)
			if (v->str[i] != ' ' && v->str[i] != '\t' &&
			    v->str[i] != '\n' && v->str[i] != '\r')
				return false;
		return true;
	default:
		return false;
	}
}

/* ---- functions ---- */

/* Byte offset of code point idx in s (UTF-8), clamped to len. */
static size_t cp_offset(const char *s, size_t len, int64_t idx)
{
	size_t i = 0;

	if (idx <= 0)
		return 0;
	for (; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && idx-- == 0)
			return i;
	}
	return len;
}

static int64_t cp_count(const char *s, size_t len)
{
	int64_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int string_result(struct sp_expr_ctx *c, struct sp_batch *b,
			 const char *s1, size_t l1, const char *s2, size_t l2,
			 int map, struct sp_value *out)
{
	char *p = sp_arena_alloc(&b->arena, l1 + l2 + 1);

	if (!p)
		return fail(c, "out of memory");
	memcpy(p, s1, l1);
	if (l2)
		memcpy(p + l1, s2, l2);
	for (size_t i = 0; map && i < l1; i++) {
		if (map > 0 && p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
		else if (map < 0 && p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	}
	p[l1 + l2] = '\0';
	*out = sp_value_string(p, (uint32_t)(l1 + l2));
	return 0;
}

static int match(struct sp_expr_ctx *c, const pcre2_code *re, const char *s,
		 size_t len, struct sp_value *out)
{
	PCRE2_UCHAR msg[160];
	int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, NULL);

	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
		*out = sp_value_bool(rc >= 0);
		return 0;
	}
	pcre2_get_error_message(rc, msg, sizeof(msg));
	return fail(c, "regular expression match failed: %s",
		    (const char *)msg);
}

static int match_computed(struct sp_expr_ctx *c, const char *s, size_t len,
			  const char *pat, size_t plen, struct sp_value *out)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int errcode;

	if (!c->dyn_re || c->dyn_len != plen ||
	    memcmp(c->dyn_pat, pat, plen) != 0) {
		pcre2_code *re =
		    pcre2_compile((PCRE2_SPTR)pat, plen,
				  PCRE2_ANCHORED | PCRE2_ENDANCHORED |
				      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				  &errcode, &off, NULL);
		if (!re) {
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			return fail(c,
				    "invalid regular expression \"%.*s\": %s "
				    "at offset %zu",
				    (int)(plen > 40 ? 40 : plen), pat,
				    (const char *)msg, (size_t)off);
		}
		char *copy = malloc(plen + 1);
		if (!copy) {
			pcre2_code_free(re);
			return fail(c, "out of memory");
		}
		memcpy(copy, pat, plen);
		pcre2_code_free(c->dyn_re);
		free(c->dyn_pat);
		c->dyn_re = re;
		c->dyn_pat = copy;
		c->dyn_len = plen;
	}
	return match(c, c->dyn_re, s, len, out);
}

static int call_str(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		    struct sp_value *a, uint8_t n)
{
	const char *s[2] = {"", ""};
	size_t l[2] = {0, 0};
	int64_t idx[2] = {0, 0};
	double d;
	const char *p;

	for (uint8_t k = 0; k < n; k++) {
		if (a[k].type == SP_NULL) {
			if (fn != SP_FN_STR_CONCAT) {
				a[0] = sp_value_null();
				return 0;
			}
		} else if (fn == SP_FN_STR_SUBSTRING && k > 0) {
			int kind =
			    operand(c, b, &a[k], fn_names[fn], &idx[k - 1], &d);
			if (kind < 0)
				return -EINVAL;
			if (kind == NUM_DBL)
				idx[k - 1] = isnan(d)	 ? 0
					     : d > 1e18	 ? (int64_t)1e18
					     : d < -1e18 ? (int64_t)-1e18
							 : (int64_t)d;
		} else if (text_of(c, b, &a[k], &s[k], &l[k])) {
			return -EINVAL;
		}
	}
	switch (fn) {
	case SP_FN_STR_CONTAINS:
		a[0] = sp_value_bool(memmem(s[0], l[0], s[1], l[1]) != NULL);
		return 0;
	case SP_FN_STR_STARTS_WITH:
		a[0] = sp_value_bool(l[1] <= l[0] &&
				     memcmp(s[0], s[1], l[1]) == 0);
		return 0;
	case SP_FN_STR_ENDS_WITH:
		a[0] = sp_value_bool(l[1] <= l[0] && memcmp(s[0] + l[0] - l[1],
							    s[1], l[1]) == 0);
		return 0;
	case SP_FN_STR_TO_UPPER:
		return string_result(c, b, s[0], l[0], NULL, 0, 1, &a[0]);
	case SP_FN_STR_TO_LOWER:
		return string_result(c, b, s[0], l[0], NULL, 0, -1, &a[0]);
	case SP_FN_STR_LENGTH:
		a[0] = sp_value_int(cp_count(s[0], l[0]));
		return 0;
	case SP_FN_STR_TRIM: {
		size_t i = 0, j = l[0];
		while (i < j && (unsigned char)s[0][i] <= ' ')
			i++;
		while (j > i && (unsigned char)s[0][j - 1] <= ' ')
			j--;
		/* a plain slice of the text; escaped input was decoded */
		a[0] = sp_value_string(s[0] + i, (uint32_t)(j - i));
		return 0;
	}
	case SP_FN_STR_SUBSTRING: {
		size_t from = cp_offset(s[0], l[0], idx[0]);
		size_t to = cp_offset(s[0], l[0], idx[1]);
		if (to < from)
			to = from;
		a[0] = sp_value_string(s[0] + from, (uint32_t)(to - from));
		return 0;
	}
	case SP_FN_STR_CONCAT:
		return string_result(c, b, s[0], l[0], s[1], l[1], 0, &a[0]);
	case SP_FN_STR_INDEX_OF:
		p = memmem(s[0], l[0], s[1], l[1]);
		a[0] =
		    sp_value_int(p ? cp_count(s[0], (size_t)(p - s[0])) : -1);
		return 0;
	case SP_FN_STR_MATCHES:
		return match_computed(c, s[0], l[0], s[1], l[1], &a[0]);
	}
	return fail(c, "unknown function");
}

static int call_math(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		     struct sp_value *a, uint8_t n)
{
	int64_t i[2] = {0, 0};
	double d[2] = {0, 0};
	int k[2] = {NUM_INT, NUM_INT};

	for (uint8_t j = 0; j < n; j++) {
		if (a[j].type == SP_NULL) {
			a[0] = sp_value_null();
			return 0;
		}
		k[j] = operand(c, b, &a[j], fn_names[fn], &i[j], &d[j]);
		if (k[j] < 0)
			return -EINVAL;
		if (k[j] == NUM_INT)
			d[j] = (double)i[j];
	}
	bool ints = k[0] == NUM_INT && k[1] == NUM_INT;
	switch (fn) {
	case SP_FN_MATH_ABS:
		if (ints && i[0] != INT64_MIN)
			a[0] = sp_value_int(i[0] < 0 ? -i[0] : i[0]);
		else
			a[0] = sp_value_double(fabs(d[0]));
		return 0;
	case SP_FN_MATH_MIN:
	case SP_FN_MATH_MAX: {
		bool first = fn == SP_FN_MATH_MIN ? i[0] <= i[1] : i[0] >= i[1];
		if (ints)
			a[0] = sp_value_int(first ? i[0] : i[1]);
		else if (isnan(d[0]) || isnan(d[1]))
			a[0] = sp_value_double(NAN);
		else
			a[0] = sp_value_double(fn == SP_FN_MATH_MIN
						   ? fmin(d[0], d[1])
						   : fmax(d[0], d[1]));
		return 0;
	}
	case SP_FN_MATH_FLOOR:
	case SP_FN_MATH_CEIL:
		if (ints)
			a[0] = sp_value_int(i[0]);
		else
			a[0] = sp_value_double(
			    fn == SP_FN_MATH_FLOOR ? floor(d[0]) : ceil(d[0]));
		return 0;
	case SP_FN_MATH_ROUND:
		if (ints) {
			a[0] = sp_value_int(i[0]);
		} else {
			/* Java's Math.round: floor(x + 0.5), saturating */
			double r = floor(d[0] + 0.5);
			a[0] = sp_value_int(
			    isnan(r)			  ? 0
			    : r >= 9.2233720368547758e18  ? INT64_MAX
			    : r <= -9.2233720368547758e18 ? INT64_MIN
							  : (int64_t)r);
		}
		return 0;
	case SP_FN_MATH_SQRT:
		a[0] = sp_value_double(sqrt(d[0]));
		return 0;
	}
	return fail(c, "unknown function");
}

/* ---- the machine ---- */

static int run(const struct sp_expr *e, struct sp_expr_ctx *c,
	       struct sp_batch *b, uint32_t rec, struct sp_value *res)
{
	struct sp_value *st = c->stack, v;
	uint32_t sp = 0, pc = 0;
	bool t = false;
	int rc = 0;

	while (pc < e->ncode) {
		const struct sp_expr_insn *in = &e->code[pc++];

		switch (in->op) {
		case SP_OP_CONST:
			st[sp++] = e->consts[in->arg];
			break;
		case SP_OP_VALUE:
			if (sp_record_get_path(b, rec, &e->paths[in->arg],
					       &st[sp]))
				st[sp] = sp_value_null();
			sp++;
			break;
		case SP_OP_VALUE_OR:
			if (sp_record_get_path(b, rec, &e->paths[in->arg],
					       &v) == 0 &&
			    v.type != SP_NULL)
				st[sp - 1] = v;
			break;
		case SP_OP_EXISTS:
			st[sp++] = sp_value_bool(
			    sp_record_get_path(b, rec, &e->paths[in->arg],
					       &v) == 0);
			break;
		case SP_OP_TYPE:
			if (sp_record_get_path(b, rec, &e->paths[in->arg],
					       &v) ||
			    v.type == SP_NULL) {
				st[sp++] = sp_value_null();
			} else {
				const char *n = el_type(&v);
				st[sp++] =
				    sp_value_string(n, (uint32_t)strlen(n));
			}
			break;
		case SP_OP_NEG:
			rc = negate(c, b, &st[sp - 1]);
			break;
		case SP_OP_NOT:
			rc = truth(c, b, &st[sp - 1], &t);
			st[sp - 1] = sp_value_bool(!t);
			break;
		case SP_OP_EMPTY:
			st[sp - 1] = sp_value_bool(is_empty(&st[sp - 1]));
			break;
		case SP_OP_ADD:
		case SP_OP_SUB:
		case SP_OP_MUL:
		case SP_OP_DIV:
		case SP_OP_MOD:
			rc = arith(c, b, in->op, &st[sp - 2], &st[sp - 1],
				   &st[sp - 2]);
			sp--;
			break;
		case SP_OP_EQ:
		case SP_OP_NE:
		case SP_OP_LT:
		case SP_OP_GT:
		case SP_OP_LE:
		case SP_OP_GE:
		case SP_OP_EQ_NULL:
		case SP_OP_NE_NULL:
			rc =
			    compare(c, b, in->op, &st[sp - 2], &st[sp - 1], &t);
			st[sp - 2] = sp_value_bool(t);
			sp--;
			break;
		case SP_OP_JUMP:
			pc = in->arg;
			break;
		case SP_OP_JUMP_FALSE:
			rc = truth(c, b, &st[--sp], &t);
			if (!t)
				pc = in->arg;
			break;
		case SP_OP_AND:
		case SP_OP_OR:
			rc = truth(c, b, &st[sp - 1], &t);
			if (t == (in->op == SP_OP_OR)) {
				st[sp - 1] = sp_value_bool(t);
				pc = in->arg;
			} else {
				sp--;
			}
			break;
		case SP_OP_BOOL:
			rc = truth(c, b, &st[sp - 1], &t);
			st[sp - 1] = sp_value_bool(t);
			break;
		case SP_OP_CALL:
			sp -= in->n;
			if (in->arg <= SP_FN_STR_MATCHES)
				rc = call_str(c, b, (int)in->arg, &st[sp],
					      in->n);
			else
				rc = call_math(c, b, (int)in->arg, &st[sp],
					       in->n);
			sp++;
			break;
		case SP_OP_MATCH: {
			const char *s;
			size_t len;
			if (st[sp - 1].type == SP_NULL)
				break;
			rc = text_of(c, b, &st[sp - 1], &s, &len);
			if (rc == 0)
				rc = match(c, e->regexes[in->arg], s, len,
					   &st[sp - 1]);
			break;
		}
		}
		if (rc)
			return rc;
	}
	*res = st[0];
	return 0;
}

/*
 * Compares decimal text (-?digits[.digits], as JSON writes most numbers)
 * with an integer exactly, without making a double: the integer part
 * decides unless it is equal, then any non-zero fraction does.  False when
 * the text has another shape (exponent, 19+ integer digits).
 */
static bool cmp_decimal_int(const char *s, uint32_t len, int64_t y, int *r)
{
	uint32_t k = 0, digits = 0;
	bool neg = false, frac = false;
	int64_t ip = 0;

	if (k < len && s[k] == '-')
		neg = true, k++;
	for (; k < len && is_digit(s[k]); k++, digits++)
		ip = ip * 10 + (s[k] - '0');
	if (!digits || digits > 18)
		return false;
	if (k < len && s[k] == '.') {
		uint32_t f0 = ++k;
		for (; k < len && is_digit(s[k]); k++)
			frac |= s[k] != '0';
		if (k == f0)
			return false;
	}
	if (k != len)
		return false;
	if (!neg) { /* x = ip + f, 0 <= f < 1 */
		*r = ip < y ? -1 : ip > y ? 1 : frac;
		return true;
	}
	/* x = -ip - f */
	if (!frac)
		*r = -ip < y ? -1 : -ip > y;
	else /* -ip - 1 < x < -ip, and y is whole */
		*r = y >= -ip ? -1 : 1;
	return true;
}

/* 1 or 0: the fast program's answer on the field's value (found: the
 * record has the field); -1: ask the machine. */
static int run_fast(const struct sp_expr *e, const struct sp_value *vp,
		    bool found)
{
	struct sp_value v = *vp;
	int64_t i = 0;
	double d = 0;
	int r;

	if (!found || v.type == SP_NULL)
		return 0;
	if (e->fast_kind == NUM_INT && (v.flags & SP_VALUE_TEXT) &&
	    (v.type == SP_DOUBLE || v.type == SP_INT) &&
	    cmp_decimal_int(v.str, v.len, e->fast_i, &r))
		return cmp_holds(e->fast_op, r);
	int k = record_number(&v, &i, &d);
	if (k < 0)
		return -1;
	return cmp_holds(e->fast_op, cmp_numbers(k, i, d, e->fast_kind,
						 e->fast_i, e->fast_d));
}

static int ctx_reserve(struct sp_expr_ctx *c, const struct sp_expr *e)
{
	uint32_t need = e->max_stack + 1;

	if (c->cap >= need)
		return 0;
	struct sp_value *s = realloc(c->stack, need * sizeof(*s));
	if (!s)
		return -ENOMEM;
	c->stack = s;
	c->cap = need;
	return 0;
}

/* Whether rec is selected, given the fast answer r (-1: none): runs the
 * machine when needed; an error is logged on the record and counted. */
static bool select_one(const struct sp_expr *e, struct sp_expr_ctx *c,
		       struct sp_batch *b, uint32_t rec, bool ok, int r,
		       uint32_t *errs)
{
	struct sp_value v;
	bool t = false;

	if (r >= 0)
		return r;
	if (ok && run(e, c, b, rec, &v) == 0 && truth(c, b, &v, &t) == 0)
		return t;
	const struct sp_record *rr = &b->recs[rec];
	sp_batch_error_add(b, rec, rr->line, 0, rr->raw, rr->raw_len, "%s: %s",
			   e->text, c->why);
	(*errs)++;
	return false;
}

/* records whose field values are looked up (and their text prefetched)
 * before any is compared: the text is in the input chunk, parsed long
 * before, and mostly out of the cache by now */
#define SELECT_GROUP 16

uint32_t sp_expr_select(const struct sp_expr *e, struct sp_expr_ctx *c,
			struct sp_batch *b, const uint32_t *in, uint32_t n,
			uint32_t *out, uint32_t *nerr)
{
	uint32_t k = 0, errs = 0;
	bool ok = ctx_reserve(c, e) == 0;

	if (!ok)
		snprintf(c->why, sizeof(c->why), "out of memory");
	if (!e->fast) {
		for (uint32_t i = 0; i < n; i++)
			if (select_one(e, c, b, in[i], ok, -1, &errs))
				out[k++] = in[i]; /* k <= i: out may be in */
		goto done;
	}
	for (uint32_t g = 0; g < n; g += SELECT_GROUP) {
		uint32_t m = n - g < SELECT_GROUP ? n - g : SELECT_GROUP;
		uint32_t recs[SELECT_GROUP];
		struct sp_value vals[SELECT_GROUP];
		bool found[SELECT_GROUP];

		for (uint32_t j = 0; j < m; j++) {
			recs[j] = in[g + j];
			found[j] = sp_record_get_path(b, recs[j],
						      &e->paths[e->fast_path],
						      &vals[j]) == 0;
			if (!found[j])
				vals[j] = sp_value_null();
			else if (vals[j].flags & SP_VALUE_TEXT)
				__builtin_prefetch(vals[j].str);
		}
		for (uint32_t j = 0; j < m; j++) {
			int r = run_fast(e, &vals[j], found[j]);
			if (select_one(e, c, b, recs[j], ok, r, &errs))
				out[k++] = recs[j]; /* k <= g + j */
		}
	}
done:
	if (nerr)
		*nerr = errs;
	return k;
}

int sp_expr_eval(const struct sp_expr *e, struct sp_expr_ctx *c,
		 struct sp_batch *b, uint32_t rec, struct sp_value *out,
		 const char **why)
{
	if (ctx_reserve(c, e)) {
		*why = "out of memory";
		return -ENOMEM;
	}
	if (run(e, c, b, rec, out) == 0)
		return 0;
	if (strcmp(c->why, "out of memory") == 0) {
		*why = "out of memory";
		return -ENOMEM;
	}
	size_t tl = strlen(e->text), wl = strlen(c->why);
	char *msg = sp_arena_alloc(&b->arena, tl + wl + 3);
	if (!msg) {
		*why = "out of memory";
		return -ENOMEM;
	}
	memcpy(msg, e->text, tl);
	memcpy(msg + tl, ": ", 2);
	memcpy(msg + tl + 2, c->why, wl + 1);
	*why = msg;
	return -EINVAL;
}

struct sp_expr *sp_expr_compile(const char *text, struct sp_symtab *st,
				struct sp_expr_error *err)
{
	struct sp_expr *e = calloc(1, sizeof(*e));

	if (!e || !(e->text = strdup(text ? text : ""))) {
		free(e);
		err->column = 0;
		snprintf(err->message, sizeof(err->message), "out of memory");
		return NULL;
	}
	if (sp_expr_parse(e, st, err)) {
		sp_expr_destroy(e);
		return NULL;
	}
	return e;
}

void sp_expr_destroy(struct sp_expr *e)
{
	if (!e)
		return;
	sp_expr_program_fini(e);
	free(e->text);
	free(e);
}

const char *sp_expr_text(const struct sp_expr *e)
{
	return e->text;
}

struct sp_expr_ctx *sp_expr_ctx_create(void)
{
	struct sp_expr_ctx *c = calloc(1, sizeof(*c));

	if (!c)
		return NULL;
	c->md = pcre2_match_data_create(1, NULL);
	if (!c->md) {
		free(c);
		return NULL;
	}
	return c;
}

void sp_expr_ctx_destroy(struct sp_expr_ctx *c)
{
	if (!c)
		return;
	pcre2_match_data_free(c->md);
	pcre2_code_free(c->dyn_re);
	free(c->dyn_pat);
	free(c->stack);
	free(c);
}
