/*
 * The expression language: the StreamSets EL subset used by selector
 * predicates, filters and computed fields, e.g.
 *   ${record:value("/expense") >= 10000 && str:startsWith(record:value("/c"), "F")}
 * An expression is compiled once per flow into a compact program and then
 * evaluated over a batch; a compiled expression is immutable, so all
 * workers share it, each with its own sp_expr_ctx.
 */
#ifndef SPATE_ENGINE_EXPR_H
#define SPATE_ENGINE_EXPR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/batch.h"
#include "record/symtab.h"

struct sp_expr;
struct sp_expr_ctx;

struct sp_expr_error {
	uint32_t column;     /* 1-based column in the expression text */
	char message[256];   /* "expected ')' after function arguments" */
};

/* Compiles text, which must have the form ${...}.  Returns the program, or
 * NULL with *err filled (NULL only on out-of-memory leaves column 0). */
struct sp_expr *sp_expr_compile(const char *text, struct sp_symtab *st,
				struct sp_expr_error *err);
void sp_expr_destroy(struct sp_expr *e);

/* Per-thread scratch (value stack, PCRE2 match data). */
struct sp_expr_ctx *sp_expr_ctx_create(void);
void sp_expr_ctx_destroy(struct sp_expr_ctx *c);

/*
 * Evaluates e as a predicate over records in[0..n) of b.  The indices where
 * it is true go to out, in order; returns how many.  Records where it
 * cannot be evaluated (a type mismatch such as "abc" > 3) are not selected;
 * they are appended to b->errors (with the record index and a reason
 * naming the expression) and counted in *nerr.  null compares false except
 * with == null.
 */
uint32_t sp_expr_select(const struct sp_expr *e, struct sp_expr_ctx *c,
			struct sp_batch *b, const uint32_t *in, uint32_t n,
			uint32_t *out, uint32_t *nerr);

/* Evaluates e for record rec; the result's memory lives in b->arena.
 * 0, or -EINVAL with *why (in b->arena or static). */
int sp_expr_eval(const struct sp_expr *e, struct sp_expr_ctx *c,
		 struct sp_batch *b, uint32_t rec, struct sp_value *out,
		 const char **why);

/* The source text the expression was compiled from. */
const char *sp_expr_text(const struct sp_expr *e);

/* The reference of one function of the language (expr_doc.c). */
struct sp_expr_fn_doc {
	const char *name;      /* "str:toUpper" */
	const char *signature; /* "str:toUpper(string) -> string" */
	const char *doc;       /* one line */
	const char *example;   /* "${str:toUpper(\"ab\")}" */
};

/* Every function, in the order of the reference; *n of them. */
const struct sp_expr_fn_doc *sp_expr_functions(size_t *n);
/* The name of the i-th function the compiler knows, NULL past the end. */
const char *sp_expr_function_name(size_t i);

#endif
