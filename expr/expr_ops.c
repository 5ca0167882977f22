/*
 * Expression values, numbers and operators: error messages that describe
 * a value, numbers read from text or records (decimal text compared
 * exactly), comparisons, arithmetic, truth.
 */
#include "expr/expr_internal.h"
#include "core/number.h"

const char *const ex_fn_names[] = {
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
    [SP_FN_TIME_NOW] = "time:now",
    [SP_FN_TIME_FORMAT] = "time:format",
    [SP_FN_TIME_PARSE] = "time:parse",
    [SP_FN_TIME_TRUNC] = "time:trunc",
    [SP_FN_TIME_EXTRACT] = "time:extract",
};

int ex_fail(struct sp_expr_ctx *c, const char *fmt, ...)
{
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(c->why, sizeof(c->why), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

/* The type names of record:type and of messages, as StreamSets has them. */
const char *ex_el_type(const struct sp_value *v)
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
		snprintf(buf, size, "%s", ex_el_type(v));
		return buf;
	}
	int cut = len > 40 ? 40 : (int)len;
	if (v->type == SP_STRING)
		snprintf(buf, size, "STRING \"%.*s%s\"", cut, s,
			 (size_t)cut < len ? "..." : "");
	else
		snprintf(buf, size, "%s %.*s", ex_el_type(v), cut, s);
	return buf;
}

/* A value's text (strings unescaped, numbers as written). */
int ex_text_of(struct sp_expr_ctx *c, struct sp_batch *b,
	       const struct sp_value *v, const char **s, size_t *len)
{
	int rc = sp_value_text(v, &b->arena, s, len);

	if (rc == -ENOMEM)
		return ex_fail(c, "out of memory");
	if (rc)
		return ex_fail(c, "cannot decode the escapes of a string");
	return 0;
}

/* ---- numbers ---- */


/* Number text to double; overflow keeps +-infinity, as strtod gives. */
static int text_to_double(const char *s, size_t len, double *out)
{
	int rc = sp_number_to_double(s, len, out);

	return rc == -ERANGE ? 0 : rc;
}

static int text_to_number(const char *s, size_t len, bool is_int, int64_t *i,
			  double *d)
{
	if (is_int) {
		int rc = sp_number_to_int64(s, len, i);
		if (rc == 0)
			return NUM_INT;
		if (rc != -ERANGE)
			return NUM_NONE;
	}
	return text_to_double(s, len, d) ? NUM_NONE : NUM_DBL;
}

/* A number read from a record or made by an operator; no coercion. */
int ex_record_number(const struct sp_value *v, int64_t *i, double *d)
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
		return ex_record_number(v, i, d);
	if (ex_text_of(c, b, v, &s, &len))
		return NUM_ERR;
	if (!sp_number_syntax(s, len, &is_int))
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
int ex_cmp_numbers(int kx, int64_t ix, double dx, int ky, int64_t iy, double dy)
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

/* ---- operators ---- */

/* EL's coercion to boolean: null is false, a string is "true" or not. */
int ex_truth(struct sp_expr_ctx *c, struct sp_batch *b,
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
		if (ex_text_of(c, b, v, &s, &len))
			return -EINVAL;
		*t = len == 4 && strncasecmp(s, "true", 4) == 0;
		return 0;
	default:
		return ex_fail(c, "expected a boolean, got %s",
			       describe(b, v, d, sizeof(d)));
	}
}

int ex_compare(struct sp_expr_ctx *c, struct sp_batch *b, int op,
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
		/* the operands named in their order: the one that is
		 * not a number on its side */
		if (kx == NUM_NONE)
			return ex_fail(c, "cannot compare %s with number",
				       describe(b, x, d1, sizeof(d1)));
		if (ky == NUM_NONE)
			return ex_fail(c, "cannot compare number with %s",
				       describe(b, y, d1, sizeof(d1)));
		*t = ex_cmp_holds(op, ex_cmp_numbers(kx, ix, dx, ky, iy, dy));
		return 0;
	}
	if (x->type == SP_STRING && y->type == SP_STRING) {
		if (ex_text_of(c, b, x, &s1, &l1) ||
		    ex_text_of(c, b, y, &s2, &l2))
			return -EINVAL;
		r = memcmp(s1, s2, l1 < l2 ? l1 : l2);
		if (r == 0)
			r = l1 < l2 ? -1 : l1 > l2;
		*t = ex_cmp_holds(op, r < 0 ? -1 : r > 0);
		return 0;
	}
	if (x->type == SP_BOOL && y->type == SP_BOOL) {
		*t = ex_cmp_holds(op, (int)x->b - (int)y->b);
		return 0;
	}
	if ((op == SP_OP_EQ || op == SP_OP_NE) &&
	    ((x->type == SP_BOOL && y->type == SP_STRING) ||
	     (x->type == SP_STRING && y->type == SP_BOOL))) {
		bool bx, by;
		if (ex_truth(c, b, x, &bx) || ex_truth(c, b, y, &by))
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
	return ex_fail(c, "cannot compare %s with %s",
		       describe(b, x, d1, sizeof(d1)),
		       describe(b, y, d2, sizeof(d2)));
}

int ex_operand(struct sp_expr_ctx *c, struct sp_batch *b,
	       const struct sp_value *v, const char *what, int64_t *i,
	       double *d)
{
	char buf[80];
	int k = number(c, b, v, i, d);

	if (k == NUM_NONE)
		return ex_fail(c, "%s expects a number, got %s", what,
			       describe(b, v, buf, sizeof(buf)));
	return k;
}

int ex_arith(struct sp_expr_ctx *c, struct sp_batch *b, int op,
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
	int kx = ex_operand(c, b, x, names[op], &ix, &dx);
	if (kx < 0)
		return -EINVAL;
	int ky = ex_operand(c, b, y, names[op], &iy, &dy);
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
				return ex_fail(c, "modulo by zero");
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

int ex_negate(struct sp_expr_ctx *c, struct sp_batch *b, struct sp_value *v)
{
	int64_t i = 0;
	double d = 0;

	if (v->type == SP_NULL)
		return 0;
	int k = ex_operand(c, b, v, "'-'", &i, &d);
	if (k < 0)
		return -EINVAL;
	if (k == NUM_INT && i != INT64_MIN)
		*v = sp_value_int(-i);
	else
		*v = sp_value_double(k == NUM_INT ? -(double)i : -d);
	return 0;
}

bool ex_is_empty(const struct sp_value *v)
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
