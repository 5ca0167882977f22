/*
 * What the evaluator's files share: the evaluation context, number kinds
 * and the helpers for values, numbers and operators (expr_ops.c) that the
 * functions (expr_functions.c) and the machine (expr.c) use.
 *
 * Semantics follow the Java EL that StreamSets uses: longs stay longs in
 * + - * % (promoted to double on overflow), / divides as doubles, a string
 * that reads as a number compares as one, null compares false except with
 * a written-out == null / != null, and && || treat null as false.
 */
#ifndef SPATE_EXPR_EXPR_INTERNAL_H
#define SPATE_EXPR_EXPR_INTERNAL_H

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

static inline bool ex_is_digit(char ch)
{
	return ch >= '0' && ch <= '9';
}

/* whether comparison result r (-1, 0, 1) satisfies op */
static inline bool ex_cmp_holds(int op, int r)
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

/* shared between the files of this module */
extern const char *const ex_fn_names[];
int ex_fail(struct sp_expr_ctx *c, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
const char *ex_el_type(const struct sp_value *v);
int ex_text_of(struct sp_expr_ctx *c, struct sp_batch *b,
	       const struct sp_value *v, const char **s, size_t *len);
int ex_record_number(const struct sp_value *v, int64_t *i, double *d);
int ex_cmp_numbers(int kx, int64_t ix, double dx, int ky, int64_t iy,
		   double dy);
int ex_truth(struct sp_expr_ctx *c, struct sp_batch *b,
	     const struct sp_value *v, bool *t);
int ex_compare(struct sp_expr_ctx *c, struct sp_batch *b, int op,
	       const struct sp_value *x, const struct sp_value *y, bool *t);
int ex_operand(struct sp_expr_ctx *c, struct sp_batch *b,
	       const struct sp_value *v, const char *what, int64_t *i,
	       double *d);
int ex_arith(struct sp_expr_ctx *c, struct sp_batch *b, int op,
	     const struct sp_value *x, const struct sp_value *y,
	     struct sp_value *out);
int ex_negate(struct sp_expr_ctx *c, struct sp_batch *b, struct sp_value *v);
bool ex_is_empty(const struct sp_value *v);
int ex_match(struct sp_expr_ctx *c, const pcre2_code *re, const char *s,
	     size_t len, struct sp_value *out);
int ex_call_str(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		struct sp_value *a, uint8_t n);
int ex_call_math(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		 struct sp_value *a, uint8_t n);
int ex_call_time(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		 struct sp_value *a, uint8_t n);

#endif
