/*
 * The expression lexer: string literals with their escapes, numbers
 * (integers too big for 64 bits become doubles), the word
 * operators (and, or, eq, div, empty...), prefix:name function words and
 * punctuation.  One token of look-ahead in the parser state.
 */
#include "expr/expr_lex.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ARRAY_LEN(a) (sizeof(a) / sizeof((a)[0]))

static const struct {
	const char *name;
	enum tok tok;
} words[] = {
    {"and", T_AND},   {"or", T_OR},	  {"not", T_NOT},   {"eq", T_EQ},
    {"ne", T_NE},     {"lt", T_LT},	  {"gt", T_GT},	    {"le", T_LE},
    {"ge", T_GE},     {"div", T_SLASH},	  {"mod", T_MOD},   {"empty", T_EMPTY},
    {"true", T_TRUE}, {"false", T_FALSE}, {"null", T_NULL},
};

int sp_expr_fail(struct parser *p, size_t pos, const char *fmt, ...)
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

int sp_expr_fail_nomem(struct parser *p)
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
const char *sp_expr_tok_text(struct parser *p, char *buf, size_t size)
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
		return sp_expr_fail(p, p->pos, "unterminated string literal");
	char *out = malloc(end - i + 1);
	if (!out)
		return sp_expr_fail_nomem(p);
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
		return sp_expr_fail(p, p->pos, "malformed number '%.*s'",
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
		return sp_expr_fail(p, p->pos, "number literal too long");
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
int sp_expr_next(struct parser *p)
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
