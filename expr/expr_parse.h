/*
 * Inside the expression language: the program format shared by the
 * compiler (expr_parse.c) and the evaluator (expr.c).  A program is a flat
 * array of stack-machine instructions in reverse Polish order plus a
 * constant pool, the field paths and the regular expressions it uses.
 * Nothing here is visible outside the expression module.
 */
#ifndef SPATE_ENGINE_EXPR_PARSE_H
#define SPATE_ENGINE_EXPR_PARSE_H

#include <stdbool.h>
#include <stdint.h>

#include "record/batch.h"
#include "expr/expr.h"
#include "record/symtab.h"
#include "record/value.h"

/* deepest nesting of parentheses, calls and unary operators */
#define SP_EXPR_MAX_DEPTH 256

enum sp_expr_op {
	SP_OP_CONST,	/* push consts[arg] */
	SP_OP_VALUE,	/* push the value at paths[arg]; null when absent */
	SP_OP_VALUE_OR, /* top = value at paths[arg] unless absent or null */
	SP_OP_EXISTS,	/* push whether paths[arg] exists */
	SP_OP_TYPE,	/* push the type name at paths[arg], null if absent */
	SP_OP_NEG,	/* top = -top */
	SP_OP_NOT,	/* top = !top */
	SP_OP_EMPTY,	/* top = empty top */
	SP_OP_ADD,	/* binary: pop y, x; push x op y */
	SP_OP_SUB,
	SP_OP_MUL,
	SP_OP_DIV,
	SP_OP_MOD,
	SP_OP_EQ, /* comparisons: false when either side is null */
	SP_OP_NE,
	SP_OP_LT,
	SP_OP_GT,
	SP_OP_LE,
	SP_OP_GE,
	SP_OP_EQ_NULL,	  /* x == null written out: null equals only null */
	SP_OP_NE_NULL,	  /* x != null written out */
	SP_OP_JUMP,	  /* pc = arg */
	SP_OP_JUMP_FALSE, /* pop; pc = arg when it is not true */
	SP_OP_AND,	  /* top not true: top = false, pc = arg; else pop */
	SP_OP_OR,	  /* top true: top = true, pc = arg; else pop */
	SP_OP_BOOL,	  /* top = top as a boolean */
	SP_OP_CALL,	  /* call function arg with n arguments */
	SP_OP_MATCH,	  /* top = top matches regexes[arg] */
};

enum sp_expr_fn {
	SP_FN_STR_CONTAINS,
	SP_FN_STR_STARTS_WITH,
	SP_FN_STR_ENDS_WITH,
	SP_FN_STR_TO_UPPER,
	SP_FN_STR_TO_LOWER,
	SP_FN_STR_LENGTH,
	SP_FN_STR_TRIM,
	SP_FN_STR_SUBSTRING,
	SP_FN_STR_CONCAT,
	SP_FN_STR_INDEX_OF,
	SP_FN_STR_MATCHES, /* with a regex computed per record */
	SP_FN_MATH_ABS,
	SP_FN_MATH_MIN,
	SP_FN_MATH_MAX,
	SP_FN_MATH_FLOOR,
	SP_FN_MATH_CEIL,
	SP_FN_MATH_ROUND,
	SP_FN_MATH_SQRT,
	SP_FN_TIME_NOW, /* the time functions: expr_time.c */
	SP_FN_TIME_FORMAT,
	SP_FN_TIME_PARSE,
	SP_FN_TIME_TRUNC,
	SP_FN_TIME_EXTRACT,
};

struct sp_expr_insn {
	uint8_t op; /* enum sp_expr_op */
	uint8_t n;  /* argument count of SP_OP_CALL */
	uint16_t reserved;
	uint32_t arg;
};

struct sp_expr {
	char *text;
	struct sp_expr_insn *code;
	uint32_t ncode, cap_code;
	struct sp_value *consts; /* string constants point into strs */
	uint32_t nconsts, cap_consts;
	char **strs; /* owned bytes of the string constants */
	uint32_t nstrs, cap_strs;
	struct sp_path *paths;
	uint32_t npaths, cap_paths;
	void **regexes; /* pcre2_code_8 *, JIT-compiled */
	uint32_t nregexes, cap_regexes;
	uint32_t max_stack;
	/* fast path: the program is record:value(path) op number */
	bool fast;
	uint8_t fast_op;    /* SP_OP_EQ .. SP_OP_GE, path on the left */
	uint32_t fast_path; /* index into paths */
	int fast_kind;	    /* 0: int in fast_i, 1: double in fast_d */
	int64_t fast_i;
	double fast_d;
};

/* Parses e->text into e's program.  0, or -EINVAL / -ENOMEM with *err. */
int sp_expr_parse(struct sp_expr *e, struct sp_symtab *st,
		  struct sp_expr_error *err);

/* Frees everything the program owns except e itself and e->text. */
void sp_expr_program_fini(struct sp_expr *e);

#endif
