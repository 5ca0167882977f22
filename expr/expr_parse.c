/*
 * The expression compiler: turns the text of a StreamSets-style expression
 * (${record:value("/a") >= 10 && str:contains(record:value("/b"), "x")})
 * into a stack program once per flow.  A hand-written lexer feeds a
 * recursive-descent parser with the Java EL precedence levels; the parser
 * emits instructions as it goes, resolves field paths and literal regular
 * expressions at compile time, folds negative number literals and spots the
 * common "field compared with a number" shape for the evaluator's fast
 * path.  Every error names a 1-based column of the full text.
 */
#include "expr/expr_parse.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define PCRE2_CODE_UNIT_WIDTH 8
#include <pcre2.h>

enum tok {
	T_END, /* end of text */
	T_BAD, /* a character that starts no token */
	T_INT,
	T_DBL,
	T_STR,
	T_TRUE,
	T_FALSE,
	T_NULL,
	T_FUNC,	 /* prefix:name */
	T_IDENT, /* a bare word */
	T_OR,
	T_AND,
	T_EQ,
	T_NE,
	T_LT,
	T_GT,
	T_LE,
	T_GE,
	T_PLUS,
	T_MINUS,
	T_STAR,
	T_SLASH,
	T_MOD,
	T_NOT,
	T_EMPTY,
	T_LPAREN,
	T_RPAREN,
	T_COMMA,
	T_QUEST,
	T_COLON,
	T_RBRACE,
};

struct parser {
	struct sp_expr *e;
	struct sp_symtab *st;
	struct sp_expr_error *err;
	const char *text;
	size_t pos; /* lexer position */
	/* current token */
	enum tok tok;
	size_t tpos, tlen; /* where it is in text */
	int64_t ival;
	double dval;
	char *sval; /* unescaped string literal (owned until used) */
	size_t slen;
	uint32_t depth;
	uint32_t sp; /* stack depth of the code emitted so far */
	bool failed;
};

static const struct {
	const char *name;
	enum tok tok;
} words[] = {
    {"and", T_AND},   {"or", T_OR},	  {"not", T_NOT},   {"eq", T_EQ},
    {"ne", T_NE},     {"lt", T_LT},	  {"gt", T_GT},	    {"le", T_LE},
    {"ge", T_GE},     {"div", T_SLASH},	  {"mod", T_MOD},   {"empty", T_EMPTY},
    {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

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

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int fail(struct parser *p, size_t pos, const char *fmt, ...)
{
	va_list ap;

	if (p->failed)
		return -EINVAL;
	p->failed = true;
	p->err->column = (uint32_t)pos + 1;
	va_start(ap, fmt);
	vsnprintf(p->err->message, sizeof(p->err->message), fmt, ap);
	va_end(ap);
	return -EINVAL;
}

static int fail_nomem(struct parser *p)
{
	if (!p->failed) {
		p->failed = true;
		p->err->column = 0;
		snprintf(p->err->message, sizeof(p->err->message),
			 "out of memory");
	}
	return -ENOMEM;
}

static bool is_word_start(char c)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_';
}

static bool is_word_char(char c)
{
	return is_word_start(c) || (c >= '0' && c <= '9');
}

static bool is_digit(char c)
{
	return c >= '0' && c <= '9';
}

/* the current token as text, for messages */
static const char *tok_text(struct parser *p, char *buf, size_t size)
{
	if (p->tok == T_END)
		return "the end of the text";
	size_t n = p->tlen < 40 ? p->tlen : 40;
	snprintf(buf, size, "'%.*s%s'", (int)n, p->text + p->tpos,
		 n < p->tlen ? "..." : "");
	return buf;
}

static int lex_string(struct parser *p)
{
	const char *s = p->text;
	char q = s[p->pos];
	size_t i = p->pos + 1, n = 0;

	/* worst case every byte is kept */
	size_t end = i;
	while (s[end] && s[end] != q) {
		if (s[end] == '\\' && s[end + 1])
			end++;
		end++;
	}
	if (!s[end])
		return fail(p, p->pos, "unterminated string literal");
	char *out = malloc(end - i + 1);
	if (!out)
		return fail_nomem(p);
	while (i < end) {
		if (s[i] == '\\' &&
		    (s[i + 1] == '\\' || s[i + 1] == '"' || s[i + 1] == '\'')) {
			out[n++] = s[i + 1];
			i += 2;
		} else {
			/* other backslashes stay as written ("\d" in regexes)
			 */
			out[n++] = s[i++];
		}
	}
	out[n] = '\0';
	free(p->sval);
	p->sval = out;
	p->slen = n;
	p->tok = T_STR;
	p->pos = end + 1;
	return 0;
}

static int lex_number(struct parser *p)
{
	const char *s = p->text;
	size_t i = p->pos;
	bool dbl = false;
	char tmp[128];

	while (is_digit(s[i]))
		i++;
	if (s[i] == '.' && (i > p->pos || is_digit(s[i + 1]))) {
		dbl = true;
		i++;
		while (is_digit(s[i]))
			i++;
	}
	if ((s[i] == 'e' || s[i] == 'E') &&
	    (is_digit(s[i + 1]) ||
	     ((s[i + 1] == '+' || s[i + 1] == '-') && is_digit(s[i + 2])))) {
		dbl = true;
		i += 2;
		while (is_digit(s[i]))
			i++;
	}
	if (is_word_char(s[i]) || s[i] == '.') {
		while (is_word_char(s[i]) || s[i] == '.')
			i++;
		return fail(p, p->pos, "malformed number '%.*s'",
			    (int)(i - p->pos), s + p->pos);
	}
	size_t len = i - p->pos;
	if (!dbl) {
		uint64_t acc = 0;
		size_t k;
		for (k = p->pos; k < i; k++) {
			unsigned d = (unsigned)(s[k] - '0');
			if (acc > ((uint64_t)INT64_MAX - d) / 10)
				break;
			acc = acc * 10 + d;
		}
		if (k == i) {
			p->tok = T_INT;
			p->ival = (int64_t)acc;
			p->pos = i;
			return 0;
		}
		/* too big for a long: keep it as a double */
	}
	if (len >= sizeof(tmp))
		return fail(p, p->pos, "number literal too long");
	memcpy(tmp, s + p->pos, len);
	tmp[len] = '\0';
	p->dval = strtod(tmp, NULL);
	p->tok = T_DBL;
	p->pos = i;
	return 0;
}

static int lex_word(struct parser *p)
{
	const char *s = p->text;
	size_t i = p->pos;

	while (is_word_char(s[i]))
		i++;
	for (size_t k = 0; k < ARRAY_LEN(words); k++) {
		if (strlen(words[k].name) == i - p->pos &&
		    memcmp(words[k].name, s + p->pos, i - p->pos) == 0) {
			p->tok = words[k].tok;
			p->pos = i;
			return 0;
		}
	}
	p->tok = T_IDENT;
	if (s[i] == ':' && is_word_start(s[i + 1])) {
		i++;
		while (is_word_char(s[i]))
			i++;
		p->tok = T_FUNC;
	}
	p->pos = i;
	return 0;
}

/* Reads the next token into p->tok. */
static int next(struct parser *p)
{
	const char *s = p->text;
	int rc = 0;

	while (s[p->pos] == ' ' || s[p->pos] == '\t' || s[p->pos] == '\n' ||
	       s[p->pos] == '\r')
		p->pos++;
	p->tpos = p->pos;
	char c = s[p->pos], d = c ? s[p->pos + 1] : '\0';
	enum tok two = T_BAD, one = T_BAD;

	switch (c) {
	case '\0':
		p->tok = T_END;
		p->tlen = 0;
		return 0;
	case '"':
	case '\'':
		rc = lex_string(p);
		goto done;
	case '|':
		two = d == '|' ? T_OR : T_BAD;
		break;
	case '&':
		two = d == '&' ? T_AND : T_BAD;
		break;
	case '=':
		two = d == '=' ? T_EQ : T_BAD;
		break;
	case '!':
		two = d == '=' ? T_NE : T_BAD;
		one = T_NOT;
		break;
	case '<':
		two = d == '=' ? T_LE : T_BAD;
		one = T_LT;
		break;
	case '>':
		two = d == '=' ? T_GE : T_BAD;
		one = T_GT;
		break;
	case '+':
		one = T_PLUS;
		break;
	case '-':
		one = T_MINUS;
		break;
	case '*':
		one = T_STAR;
		break;
	case '/':
		one = T_SLASH;
		break;
	case '%':
		one = T_MOD;
		break;
	case '(':
		one = T_LPAREN;
		break;
	case ')':
		one = T_RPAREN;
		break;
	case ',':
		one = T_COMMA;
		break;
	case '?':
		one = T_QUEST;
		break;
	case ':':
		one = T_COLON;
		break;
	case '}':
		one = T_RBRACE;
		break;
	default:
		if (is_digit(c) || (c == '.' && is_digit(d)))
			rc = lex_number(p);
		else if (is_word_start(c))
			rc = lex_word(p);
		else
			p->tok = T_BAD;
		goto done;
	}
	if (two != T_BAD) {
		p->tok = two;
		p->pos += 2;
	} else {
		p->tok = one;
		p->pos += 1;
	}
done:
	if (p->tok == T_BAD && rc == 0)
		p->pos = p->tpos + 1;
	p->tlen = p->pos - p->tpos;
	return rc;
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
		return fail_nomem(p);
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
		return fail(p, p->tpos, "expression nested more than %d deep",
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
		return fail(p, col,
			    "%s takes a field path as a string literal, "
			    "e.g. \"/a\"",
			    fname);
	if (grow(p, (void **)&e->paths, &e->cap_paths, sizeof(*e->paths),
		 e->npaths))
		return -ENOMEM;
	int rc = sp_path_parse(v->str, p->st, &e->paths[e->npaths], &why);
	if (rc == -ENOMEM)
		return fail_nomem(p);
	if (rc)
		return fail(p, col, "invalid field path \"%.64s\": %s", v->str,
			    why);
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
		return fail(p, col,
			    "invalid regular expression: %s at offset %zu",
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
		return fail(p, col, "unknown function '%s'", name);
	if (next(p))
		return -EINVAL;
	if (p->tok != T_LPAREN)
		return fail(p, p->tpos, "expected '(' after '%s'", name);
	size_t open = p->tpos;
	if (next(p))
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
				if (next(p))
					return -EINVAL;
				continue;
			}
			break;
		}
	}
	if (p->tok != T_RPAREN)
		return fail(p, p->tpos,
			    "expected ')' to close '(' opened at column %zu",
			    open + 1);
	if (argc != functions[k].argc)
		return fail(p, col, "%s takes %u argument%s, got %u", name,
			    functions[k].argc,
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
				return fail(p, argcol[0],
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
	return next(p);
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
		if (enter(p) || next(p) || parse_ternary(p))
			return -EINVAL;
		if (p->tok != T_RPAREN)
			return fail(p, p->tpos,
				    "expected ')' to close '(' opened at "
				    "column %zu",
				    open + 1);
		p->depth--;
		return next(p);
	}
	case T_FUNC:
		if (enter(p) || parse_call(p))
			return -EINVAL;
		p->depth--;
		return 0;
	case T_IDENT:
		return fail(p, p->tpos, "unknown identifier %s",
			    tok_text(p, buf, sizeof(buf)));
	case T_RBRACE:
	case T_END:
		return fail(p, p->tpos,
			    "expected a value before the end of the "
			    "expression");
	default:
		return fail(p, p->tpos, "expected a value but found %s",
			    tok_text(p, buf, sizeof(buf)));
	}
	if (rc)
		return rc;
	return next(p);
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
	if (enter(p) || next(p))
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
		if (next(p))
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
	if (enter(p) || next(p))
		return -EINVAL;
	uint32_t jf = p->e->ncode;
	if (emit(p, SP_OP_JUMP_FALSE, 0, 0, -1) || parse_ternary(p))
		return -EINVAL;
	if (p->tok != T_COLON)
		return fail(p, p->tpos,
			    "expected ':' for the '?' at column %zu", q + 1);
	uint32_t j = p->e->ncode;
	if (emit(p, SP_OP_JUMP, 0, 0, -1) || next(p))
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
		fail(&p, 0, "expected '${' at the start of an expression");
		goto out;
	}
	p.pos = 2;
	if (next(&p) || parse_ternary(&p))
		goto out;
	if (p.tok == T_END) {
		fail(&p, p.tpos, "expected '}' at the end of the expression");
		goto out;
	}
	if (p.tok != T_RBRACE) {
		fail(&p, p.tpos, "unexpected %s; expected an operator or '}'",
		     tok_text(&p, buf, sizeof(buf)));
		goto out;
	}
	if (next(&p))
		goto out;
	if (p.tok != T_END) {
		fail(&p, p.tpos, "unexpected %s after the closing '}'",
		     tok_text(&p, buf, sizeof(buf)));
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
