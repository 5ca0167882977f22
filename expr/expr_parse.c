/*
 * The expression compiler: turns the text of a StreamSets-style expression
 * (${record:value("/a") >= 10 && str:contains(record:value("/b"), "x")})
 * into a stack program once per flow.  The lexer (expr_lex.c) feeds a
 * recursive-descent parser with the Java EL precedence levels; the parser
 * emits instructions as it goes, resolves field paths and literal regular
 * expressions at compile time, folds negative number literals and spots the
 * common "field compared with a number" shape for the evaluator's fast
 * path.  Every error names a 1-based column of the full text.
 */
#include "expr/expr_parse.h"
#include "expr/expr_lex.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

static const struct {
	const char *name;
	int fn; /* enum sp_expr_fn, or -1 for the record functions */
	int op; /* record functions: the opcode */
	uint8_t argc;
} functions[] = {
    {"record:value", -1, SP_OP_VALUE, 1},
    {"record:valueOrDefault", -1, SP_OP_VALUE_OR, 2},
    {"record:exists", -1, SP_OP_EXISTS, 1},
    {"record:type", -1, SP_OP_TYPE, 1},
    {"str:contains", SP_FN_STR_CONTAINS, 0, 2},
    {"str:startsWith", SP_FN_STR_STARTS_WITH, 0, 2},
    {"str:endsWith", SP_FN_STR_ENDS_WITH, 0, 2},
    {"str:toUpper", SP_FN_STR_TO_UPPER, 0, 1},
    {"str:toLower", SP_FN_STR_TO_LOWER, 0, 1},
    {"str:length", SP_FN_STR_LENGTH, 0, 1},
    {"str:trim", SP_FN_STR_TRIM, 0, 1},
    {"str:substring", SP_FN_STR_SUBSTRING, 0, 3},
    {"str:concat", SP_FN_STR_CONCAT, 0, 2},
    {"str:indexOf", SP_FN_STR_INDEX_OF, 0, 2},
    {"str:matches", SP_FN_STR_MATCHES, 0, 2},
    {"math:abs", SP_FN_MATH_ABS, 0, 1},
    {"math:min", SP_FN_MATH_MIN, 0, 2},
    {"math:max", SP_FN_MATH_MAX, 0, 2},
    {"math:floor", SP_FN_MATH_FLOOR, 0, 1},
    {"math:ceil", SP_FN_MATH_CEIL, 0, 1},
    {"math:round", SP_FN_MATH_ROUND, 0, 1},
    {"math:sqrt", SP_FN_MATH_SQRT, 0, 1},
    {"time:now", SP_FN_TIME_NOW, 0, 0},
    {"time:format", SP_FN_TIME_FORMAT, 0, 2},
    {"time:parse", SP_FN_TIME_PARSE, 0, 2},
    {"time:trunc", SP_FN_TIME_TRUNC, 0, 2},
    {"time:extract", SP_FN_TIME_EXTRACT, 0, 2},
};

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

const char *sp_expr_function_name(size_t i)
{
	return i < ARRAY_LEN(functions) ? functions[i].name : NULL;
}

/* ---- code emission ---- */

static int grow(struct parser *p, void **arr, uint32_t *cap, size_t elem,
		uint32_t n)
{
	if (n < *cap)
		return 0;
	uint32_t c = *cap ? *cap * 2 : 16;
	void *a = realloc(*arr, (size_t)c * elem);
	if (!a)
		return sp_expr_fail_nomem(p);
	*arr = a;
	*cap = c;
	return 0;
}

static int emit(struct parser *p, enum sp_expr_op op, uint32_t arg, uint8_t n,
		int delta)
{
	struct sp_expr *e = p->e;

	if (grow(p, (void **)&e->code, &e->cap_code, sizeof(*e->code),
		 e->ncode))
		return -ENOMEM;
	e->code[e->ncode++] =
	    (struct sp_expr_insn){.op = (uint8_t)op, .n = n, .arg = arg};
	p->sp = (uint32_t)((int)p->sp + delta);
	if (p->sp > e->max_stack)
		e->max_stack = p->sp;
	return 0;
}

static int emit_const(struct parser *p, struct sp_value v)
{
	struct sp_expr *e = p->e;

	if (grow(p, (void **)&e->consts, &e->cap_consts, sizeof(*e->consts),
		 e->nconsts))
		return -ENOMEM;
	e->consts[e->nconsts] = v;
	return emit(p, SP_OP_CONST, e->nconsts++, 0, 1);
}

/* Adds the current string literal as a constant; its bytes move to e. */
static int emit_string(struct parser *p)
{
	struct sp_expr *e = p->e;

	if (grow(p, (void **)&e->strs, &e->cap_strs, sizeof(*e->strs),
		 e->nstrs))
		return -ENOMEM;
	e->strs[e->nstrs++] = p->sval;
	struct sp_value v = sp_value_string(p->sval, (uint32_t)p->slen);
	p->sval = NULL;
	return emit_const(p, v);
}

/* The constant when the code from start on is exactly one CONST. */
static const struct sp_value *only_const(struct parser *p, uint32_t start)
{
	struct sp_expr *e = p->e;

	if (start + 1 != e->ncode || e->code[start].op != SP_OP_CONST)
		return NULL;
	return &e->consts[e->code[start].arg];
}

static void patch(struct parser *p, uint32_t at)
{
	p->e->code[at].arg = p->e->ncode;
}

/* ---- grammar, lowest precedence first ---- */

static int parse_ternary(struct parser *p);

static int enter(struct parser *p)
{
	if (++p->depth > SP_EXPR_MAX_DEPTH)
		return sp_expr_fail(p, p->tpos,
				    "expression nested more than %d deep",
				    SP_EXPR_MAX_DEPTH);
	return 0;
}

static int path_arg(struct parser *p, const char *fname, uint32_t start,
		    size_t col, uint32_t *idx)
{
	struct sp_expr *e = p->e;
	const struct sp_value *v = only_const(p, start);
	const char *why = NULL;

	if (!v || v->type != SP_STRING)
		return sp_expr_fail(
		    p, col,
		    "%s takes a field path as a string literal, "
		    "e.g. \"/a\"",
		    fname);
	if (grow(p, (void **)&e->paths, &e->cap_paths, sizeof(*e->paths),
		 e->npaths))
		return -ENOMEM;
	int rc = sp_path_parse(v->str, p->st, &e->paths[e->npaths], &why);
	if (rc == -ENOMEM)
		return sp_expr_fail_nomem(p);
	if (rc)
		return sp_expr_fail(p, col, "invalid field path \"%.64s\": %s",
				    v->str, why);
	*idx = e->npaths++;
	/* the literal is consumed at compile time */
	e->ncode--;
	p->sp--;
	return 0;
}

static int regex_arg(struct parser *p, uint32_t start, size_t col,
		     uint32_t *idx)
{
	struct sp_expr *e = p->e;
	const struct sp_value *v = only_const(p, start);
	int errcode;
	PCRE2_SIZE off;
	PCRE2_UCHAR msg[160];

	if (grow(p, (void **)&e->regexes, &e->cap_regexes, sizeof(*e->regexes),
		 e->nregexes))
		return -ENOMEM;
	pcre2_code *re = pcre2_compile((PCRE2_SPTR)v->str, v->len,
				       PCRE2_ANCHORED | PCRE2_ENDANCHORED |
					   PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				       &errcode, &off, NULL);
	if (!re) {
		pcre2_get_error_message(errcode, msg, sizeof(msg));
		return sp_expr_fail(
		    p, col, "invalid regular expression: %s at offset %zu",
		    (const char *)msg, (size_t)off);
	}
	/* without JIT support the interpreter still matches */
	pcre2_jit_compile(re, PCRE2_JIT_COMPLETE);
	e->regexes[e->nregexes] = re;
	*idx = e->nregexes++;
	e->ncode--;
	p->sp--;
	return 0;
}

static int parse_call(struct parser *p)
{
	char name[64];
	size_t col = p->tpos, len = p->tlen;
	uint32_t argstart[3];
	size_t argcol[3];
	uint32_t argc = 0;
	size_t k;

	snprintf(name, sizeof(name), "%.*s", (int)(len < 63 ? len : 63),
		 p->text + col);
	for (k = 0; k < ARRAY_LEN(functions); k++)
		if (strlen(functions[k].name) == len &&
		    memcmp(functions[k].name, p->text + col, len) == 0)
			break;
	if (k == ARRAY_LEN(functions))
		return sp_expr_fail(p, col, "unknown function '%s'", name);
	if (sp_expr_next(p))
		return -EINVAL;
	if (p->tok != T_LPAREN)
		return sp_expr_fail(p, p->tpos, "expected '(' after '%s'",
				    name);
	size_t open = p->tpos;
	if (sp_expr_next(p))
		return -EINVAL;
	if (p->tok != T_RPAREN) {
		for (;;) {
			if (argc < 3) {
				argstart[argc] = p->e->ncode;
				argcol[argc] = p->tpos;
			}
			argc++;
			if (parse_ternary(p))
				return -EINVAL;
			if (p->tok == T_COMMA) {
				if (sp_expr_next(p))
					return -EINVAL;
				continue;
			}
			break;
		}
	}
	if (p->tok != T_RPAREN)
		return sp_expr_fail(
		    p, p->tpos,
		    "expected ')' to close '(' opened at column %zu", open + 1);
	if (argc != functions[k].argc)
		return sp_expr_fail(p, col, "%s takes %u argument%s, got %u",
				    name, functions[k].argc,
				    functions[k].argc == 1 ? "" : "s", argc);

	uint32_t idx = 0;
	int op = functions[k].op;
	if (functions[k].fn < 0) {
		/* record:*: the path is resolved now; valueOrDefault's
		 * default stays on the stack */
		uint32_t start = argstart[0];
		if (op == SP_OP_VALUE_OR) {
			/* the path literal sits below the default: move it */
			const struct sp_value *v = NULL;
			if (argstart[1] == argstart[0] + 1 &&
			    p->e->code[argstart[0]].op == SP_OP_CONST)
				v = &p->e->consts[p->e->code[argstart[0]].arg];
			if (!v || v->type != SP_STRING)
				return sp_expr_fail(
				    p, argcol[0],
				    "%s takes a field path as a "
				    "string literal, e.g. \"/a\"",
				    name);
			struct sp_expr_insn lit = p->e->code[argstart[0]];
			memmove(
			    &p->e->code[argstart[0]], &p->e->code[argstart[1]],
			    (p->e->ncode - argstart[1]) * sizeof(*p->e->code));
			p->e->code[p->e->ncode - 1] = lit;
			/* jumps inside the default moved down by one */
			for (uint32_t i = argstart[0]; i < p->e->ncode - 1;
			     i++) {
				uint8_t o = p->e->code[i].op;
				if (o == SP_OP_JUMP || o == SP_OP_JUMP_FALSE ||
				    o == SP_OP_AND || o == SP_OP_OR)
					p->e->code[i].arg--;
			}
			start = p->e->ncode - 1;
		}
		if (path_arg(p, name, start, argcol[0], &idx))
			return -EINVAL;
		if (emit(p, (enum sp_expr_op)op, idx, 0,
			 op == SP_OP_VALUE_OR ? 0 : 1))
			return -ENOMEM;
	} else if (functions[k].fn == SP_FN_STR_MATCHES &&
		   only_const(p, argstart[1]) &&
		   only_const(p, argstart[1])->type == SP_STRING) {
		if (regex_arg(p, argstart[1], argcol[1], &idx))
			return -EINVAL;
		if (emit(p, SP_OP_MATCH, idx, 0, 0))
			return -ENOMEM;
	} else {
		if (emit(p, SP_OP_CALL, (uint32_t)functions[k].fn,
			 (uint8_t)argc, 1 - (int)argc))
			return -ENOMEM;
	}
	return sp_expr_next(p);
}

static int parse_primary(struct parser *p)
{
	char buf[64];
	int rc;

	switch (p->tok) {
	case T_INT:
		rc = emit_const(p, sp_value_int(p->ival));
		break;
	case T_DBL:
		rc = emit_const(p, sp_value_double(p->dval));
		break;
	case T_STR:
		rc = emit_string(p);
		break;
	case T_TRUE:
	case T_FALSE:
		rc = emit_const(p, sp_value_bool(p->tok == T_TRUE));
		break;
	case T_NULL:
		rc = emit_const(p, sp_value_null());
		break;
	case T_LPAREN: {
		size_t open = p->tpos;
		if (enter(p) || sp_expr_next(p) || parse_ternary(p))
			return -EINVAL;
		if (p->tok != T_RPAREN)
			return sp_expr_fail(
			    p, p->tpos,
			    "expected ')' to close '(' opened at "
			    "column %zu",
			    open + 1);
		p->depth--;
		return sp_expr_next(p);
	}
	case T_FUNC:
		if (enter(p) || parse_call(p))
			return -EINVAL;
		p->depth--;
		return 0;
	case T_IDENT:
		return sp_expr_fail(p, p->tpos, "unknown identifier %s",
				    sp_expr_tok_text(p, buf, sizeof(buf)));
	case T_RBRACE:
	case T_END:
		return sp_expr_fail(p, p->tpos,
				    "expected a value before the end of the "
				    "expression");
	default:
		return sp_expr_fail(p, p->tpos, "expected a value but found %s",
				    sp_expr_tok_text(p, buf, sizeof(buf)));
	}
	if (rc)
		return rc;
	return sp_expr_next(p);
}

static int parse_unary(struct parser *p)
{
	enum tok t = p->tok;
	enum sp_expr_op op;

	switch (t) {
	case T_MINUS:
		op = SP_OP_NEG;
		break;
	case T_NOT:
		op = SP_OP_NOT;
		break;
	case T_EMPTY:
		op = SP_OP_EMPTY;
		break;
	default:
		return parse_primary(p);
	}
	if (enter(p) || sp_expr_next(p))
		return -EINVAL;
	uint32_t start = p->e->ncode;
	if (parse_unary(p))
		return -EINVAL;
	p->depth--;
	const struct sp_value *c = only_const(p, start);
	if (op == SP_OP_NEG && c && c->type == SP_INT && c->i != INT64_MIN) {
		/* fold -10000 into a constant (keeps the fast path) */
		p->e->consts[p->e->code[start].arg].i = -c->i;
		return 0;
	}
	if (op == SP_OP_NEG && c && c->type == SP_DOUBLE) {
		p->e->consts[p->e->code[start].arg].d = -c->d;
		return 0;
	}
	return emit(p, op, 0, 0, 0);
}

/* One left-associative binary level: operand (op operand)*. */
static int parse_binary(struct parser *p, int level);

static int operand(struct parser *p, int level)
{
	return level == 5 ? parse_unary(p) : parse_binary(p, level + 1);
}

static int binop(enum tok t, int level, enum sp_expr_op *op)
{
	static const struct {
		enum tok tok;
		int level;
		enum sp_expr_op op;
	} ops[] = {
	    {T_OR, 0, SP_OP_OR},    {T_AND, 1, SP_OP_AND},
	    {T_EQ, 2, SP_OP_EQ},    {T_NE, 2, SP_OP_NE},
	    {T_LT, 3, SP_OP_LT},    {T_GT, 3, SP_OP_GT},
	    {T_LE, 3, SP_OP_LE},    {T_GE, 3, SP_OP_GE},
	    {T_PLUS, 4, SP_OP_ADD}, {T_MINUS, 4, SP_OP_SUB},
	    {T_STAR, 5, SP_OP_MUL}, {T_SLASH, 5, SP_OP_DIV},
	    {T_MOD, 5, SP_OP_MOD},
	};
	for (size_t i = 0; i < ARRAY_LEN(ops); i++) {
		if (ops[i].tok == t && ops[i].level == level) {
			*op = ops[i].op;
			return 1;
		}
	}
	return 0;
}

static bool is_null_const(struct parser *p, uint32_t start, uint32_t end)
{
	const struct sp_expr *e = p->e;

	return start + 1 == end && e->code[start].op == SP_OP_CONST &&
	       e->consts[e->code[start].arg].type == SP_NULL;
}

static int parse_binary(struct parser *p, int level)
{
	enum sp_expr_op op;
	uint32_t lstart = p->e->ncode;

	if (operand(p, level))
		return -EINVAL;
	while (binop(p->tok, level, &op)) {
		uint32_t lend = p->e->ncode;
		if (sp_expr_next(p))
			return -EINVAL;
		if (op == SP_OP_AND || op == SP_OP_OR) {
			uint32_t j = p->e->ncode;
			if (emit(p, op, 0, 0, -1) || operand(p, level) ||
			    emit(p, SP_OP_BOOL, 0, 0, 0))
				return -EINVAL;
			patch(p, j);
			lstart = j;
			continue;
		}
		uint32_t rstart = p->e->ncode;
		if (operand(p, level))
			return -EINVAL;
		if ((op == SP_OP_EQ || op == SP_OP_NE) &&
		    (is_null_const(p, lstart, lend) ||
		     is_null_const(p, rstart, p->e->ncode)))
			op = op == SP_OP_EQ ? SP_OP_EQ_NULL : SP_OP_NE_NULL;
		if (emit(p, op, 0, 0, -1))
			return -ENOMEM;
		lstart = p->e->ncode;
	}
	return 0;
}

static int parse_ternary(struct parser *p)
{
	if (parse_binary(p, 0))
		return -EINVAL;
	if (p->tok != T_QUEST)
		return 0;
	size_t q = p->tpos;
	if (enter(p) || sp_expr_next(p))
		return -EINVAL;
	uint32_t jf = p->e->ncode;
	if (emit(p, SP_OP_JUMP_FALSE, 0, 0, -1) || parse_ternary(p))
		return -EINVAL;
	if (p->tok != T_COLON)
		return sp_expr_fail(p, p->tpos,
				    "expected ':' for the '?' at column %zu",
				    q + 1);
	uint32_t j = p->e->ncode;
	if (emit(p, SP_OP_JUMP, 0, 0, -1) || sp_expr_next(p))
		return -EINVAL;
	patch(p, jf);
	if (parse_ternary(p))
		return -EINVAL;
	patch(p, j);
	p->depth--;
	return 0;
}

/* The program is "record:value(P) op number" (either order): note it. */
static void find_fast_path(struct sp_expr *e)
{
	static const uint8_t flip[] = {
	    [SP_OP_EQ] = SP_OP_EQ, [SP_OP_NE] = SP_OP_NE, [SP_OP_LT] = SP_OP_GT,
	    [SP_OP_GT] = SP_OP_LT, [SP_OP_LE] = SP_OP_GE, [SP_OP_GE] = SP_OP_LE,
	};
	const struct sp_expr_insn *c = e->code;

	if (e->ncode != 3 || c[2].op < SP_OP_EQ || c[2].op > SP_OP_GE)
		return;
	const struct sp_expr_insn *val, *k;
	uint8_t op = c[2].op;
	if (c[0].op == SP_OP_VALUE && c[1].op == SP_OP_CONST) {
		val = &c[0];
		k = &c[1];
	} else if (c[0].op == SP_OP_CONST && c[1].op == SP_OP_VALUE) {
		val = &c[1];
		k = &c[0];
		op = flip[op];
	} else {
		return;
	}
	const struct sp_value *v = &e->consts[k->arg];
	if (v->type == SP_INT) {
		e->fast_kind = 0;
		e->fast_i = v->i;
	} else if (v->type == SP_DOUBLE) {
		e->fast_kind = 1;
		e->fast_d = v->d;
	} else {
		return;
	}
	e->fast = true;
	e->fast_op = op;
	e->fast_path = val->arg;
}

int sp_expr_parse(struct sp_expr *e, struct sp_symtab *st,
		  struct sp_expr_error *err)
{
	struct parser p = {.e = e, .st = st, .err = err, .text = e->text};
	int rc = -EINVAL;
	char buf[64];

	err->column = 0;
	err->message[0] = '\0';
	if (e->text[0] != '$' || e->text[1] != '{') {
		sp_expr_fail(&p, 0,
			     "expected '${' at the start of an expression");
		goto out;
	}
	p.pos = 2;
	if (sp_expr_next(&p) || parse_ternary(&p))
		goto out;
	if (p.tok == T_END) {
		sp_expr_fail(&p, p.tpos,
			     "expected '}' at the end of the expression");
		goto out;
	}
	if (p.tok != T_RBRACE) {
		sp_expr_fail(&p, p.tpos,
			     "unexpected %s; expected an operator or '}'",
			     sp_expr_tok_text(&p, buf, sizeof(buf)));
		goto out;
	}
	if (sp_expr_next(&p))
		goto out;
	if (p.tok != T_END) {
		sp_expr_fail(&p, p.tpos, "unexpected %s after the closing '}'",
			     sp_expr_tok_text(&p, buf, sizeof(buf)));
		goto out;
	}
	find_fast_path(e);
	rc = 0;
out:
	free(p.sval);
	if (rc && err->column == 0 &&
	    strcmp(err->message, "out of memory") == 0)
		rc = -ENOMEM;
	return rc;
}

void sp_expr_program_fini(struct sp_expr *e)
{
	for (uint32_t i = 0; i < e->nstrs; i++)
		free(e->strs[i]);
	for (uint32_t i = 0; i < e->npaths; i++)
		sp_path_fini(&e->paths[i]);
	for (uint32_t i = 0; i < e->nregexes; i++)
		pcre2_code_free(e->regexes[i]);
	free(e->code);
	free(e->consts);
	free(e->strs);
	free(e->paths);
	free(e->regexes);
}
