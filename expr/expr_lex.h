/*
 * The expression compiler's shared parts: the tokens, the parser state the
 * lexer (expr_lex.c) and the grammar (expr_parse.c) both use, and the
 * error helpers that put a message and a 1-based column into the caller's
 * sp_expr_error.  Internal to expr/.
 */
#ifndef SPATE_EXPR_LEX_H
#define SPATE_EXPR_LEX_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "expr/expr_parse.h"

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

/* Records the first error at byte pos of the text; returns -EINVAL. */
int sp_expr_fail(struct parser *p, size_t pos, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
/* Records "out of memory" unless an error is already there; -ENOMEM. */
int sp_expr_fail_nomem(struct parser *p);
/* The current token as text, for messages. */
const char *sp_expr_tok_text(struct parser *p, char *buf, size_t size);
/* Reads the next token into p->tok; 0 or a recorded error. */
int sp_expr_next(struct parser *p);

#endif
