/*
 * The expression evaluator: runs a compiled expression (expr_parse.c) over
 * the records of a batch.  Each record is one pass over the instruction
 * array with a value stack kept in the caller's sp_expr_ctx, so a compiled
 * expression is read-only and shared by every worker.  Values read from
 * the record stay zero-copy; numbers kept as source text are converted
 * when an operator needs them, strings are unescaped into the batch arena
 * only when compared or passed to a function.  The common selector shape
 * "record:value(P) op number" skips the stack machine altogether.
 */
#include "expr/expr_internal.h"

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
				const char *n = ex_el_type(&v);
				st[sp++] =
				    sp_value_string(n, (uint32_t)strlen(n));
			}
			break;
		case SP_OP_NEG:
			rc = ex_negate(c, b, &st[sp - 1]);
			break;
		case SP_OP_NOT:
			rc = ex_truth(c, b, &st[sp - 1], &t);
			st[sp - 1] = sp_value_bool(!t);
			break;
		case SP_OP_EMPTY:
			st[sp - 1] = sp_value_bool(ex_is_empty(&st[sp - 1]));
			break;
		case SP_OP_ADD:
		case SP_OP_SUB:
		case SP_OP_MUL:
		case SP_OP_DIV:
		case SP_OP_MOD:
			rc = ex_arith(c, b, in->op, &st[sp - 2], &st[sp - 1],
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
			rc = ex_compare(c, b, in->op, &st[sp - 2], &st[sp - 1],
					&t);
			st[sp - 2] = sp_value_bool(t);
			sp--;
			break;
		case SP_OP_JUMP:
			pc = in->arg;
			break;
		case SP_OP_JUMP_FALSE:
			rc = ex_truth(c, b, &st[--sp], &t);
			if (!t)
				pc = in->arg;
			break;
		case SP_OP_AND:
		case SP_OP_OR:
			rc = ex_truth(c, b, &st[sp - 1], &t);
			if (t == (in->op == SP_OP_OR)) {
				st[sp - 1] = sp_value_bool(t);
				pc = in->arg;
			} else {
				sp--;
			}
			break;
		case SP_OP_BOOL:
			rc = ex_truth(c, b, &st[sp - 1], &t);
			st[sp - 1] = sp_value_bool(t);
			break;
		case SP_OP_CALL:
			sp -= in->n;
			if (in->arg <= SP_FN_STR_MATCHES)
				rc = ex_call_str(c, b, (int)in->arg, &st[sp],
						 in->n);
			else if (in->arg <= SP_FN_MATH_SQRT)
				rc = ex_call_math(c, b, (int)in->arg, &st[sp],
						  in->n);
			else
				rc = ex_call_time(c, b, (int)in->arg, &st[sp],
						  in->n);
			sp++;
			break;
		case SP_OP_MATCH: {
			const char *s;
			size_t len;
			if (st[sp - 1].type == SP_NULL)
				break;
			rc = ex_text_of(c, b, &st[sp - 1], &s, &len);
			if (rc == 0)
				rc = ex_match(c, e->regexes[in->arg], s, len,
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
	for (; k < len && ex_is_digit(s[k]); k++, digits++)
		ip = ip * 10 + (s[k] - '0');
	if (!digits || digits > 18)
		return false;
	if (k < len && s[k] == '.') {
		uint32_t f0 = ++k;
		for (; k < len && ex_is_digit(s[k]); k++)
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
		return ex_cmp_holds(e->fast_op, r);
	int k = ex_record_number(&v, &i, &d);
	if (k < 0)
		return -1;
	return ex_cmp_holds(e->fast_op, ex_cmp_numbers(k, i, d, e->fast_kind,
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
	if (ok && run(e, c, b, rec, &v) == 0 && ex_truth(c, b, &v, &t) == 0)
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
