/*
 * Option tables and configuration trees.  A stage declares its options in a
 * {0}-terminated table; the engine binds a configuration tree (parsed from
 * YAML or built through the SDK) to the stage's config struct: defaults,
 * types, bounds, required options and unknown keys are all checked here, so
 * no stage parses its own configuration.  The same table prints help.
 */
#ifndef SPATE_ENGINE_OPTIONS_H
#define SPATE_ENGINE_OPTIONS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

/* ---- configuration trees -------------------------------------------- */

enum sp_node_kind {
	SP_NODE_SCALAR = 0,
	SP_NODE_LIST,
	SP_NODE_MAP,
};

struct sp_node {
	enum sp_node_kind kind;
	char *text;  /* scalar text */
	bool quoted; /* scalar was quoted: "123" stays a string on save */
	uint32_t n;  /* list items / map entries */
	uint32_t cap;
	char **keys; /* map keys */
	struct sp_node **items;
	uint32_t line, column; /* 1-based position in the flow file, 0 if none */
};

struct sp_node *sp_node_scalar(const char *text);
struct sp_node *sp_node_list(void);
struct sp_node *sp_node_map(void);
/* Takes ownership of item.  0 or -ENOMEM. */
int sp_node_list_add(struct sp_node *list, struct sp_node *item);
/* Sets key to value (replacing and freeing an old value, keeping the
 * key's position).  Takes ownership of value.  0 or -ENOMEM. */
int sp_node_map_set(struct sp_node *map, const char *key,
		    struct sp_node *value);
/* Removes key; true when it was there. */
bool sp_node_map_remove(struct sp_node *map, const char *key);
struct sp_node *sp_node_map_get(const struct sp_node *map, const char *key);
struct sp_node *sp_node_clone(const struct sp_node *n);
void sp_node_free(struct sp_node *n);

/* ---- diagnostics ------------------------------------------------------ */

struct sp_diag {
	uint32_t line; /* 0 when not from a file */
	char *stage;   /* stage id or NULL */
	char *option;  /* option name or NULL */
	char *message;
};

struct sp_diags {
	const char *file; /* flow file name for messages, or NULL */
	struct sp_diag *v;
	uint32_t n, cap;
};

void sp_diags_init(struct sp_diags *d, const char *file);
void sp_diags_fini(struct sp_diags *d);
void sp_diags_add(struct sp_diags *d, uint32_t line, const char *stage,
		  const char *option, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));
/* "flow.yaml:12: stage 'split': option 'lanes': <message>" */
void sp_diag_format(const struct sp_diags *d, uint32_t i, struct sp_buf *out);

/* ---- option tables ---------------------------------------------------- */

enum sp_opt_type {
	SP_OPT_STRING = 0, /* char * */
	SP_OPT_INT,	   /* int64_t */
	SP_OPT_DOUBLE,	   /* double */
	SP_OPT_BOOL,	   /* bool: true/false/yes/no/on/off */
	SP_OPT_ENUM,	   /* int: the index of the value in choices */
	SP_OPT_CHAR,	   /* char: one character; "\t" and "tab" allowed */
	SP_OPT_SIZE,	   /* uint64_t bytes: 1048576, 64K, 256M, 1G */
	SP_OPT_STRING_LIST, /* struct sp_strlist: a scalar or list of scalars */
	SP_OPT_MAP,	   /* struct sp_strmap: map of scalar -> scalar */
	SP_OPT_OBJECT_LIST, /* struct sp_objlist: list of maps bound by items */
	SP_OPT_EXPR,	   /* struct sp_expr *: compiled (expr/expr.h) */
	SP_OPT_PATH_LIST,  /* struct sp_pathlist: a scalar or list of
			    * field paths, parsed (record/batch.h) */
	SP_OPT_PATH_MAP,   /* struct sp_boundmap: map keyed by field paths,
			    * values as exprs says */
};

struct sp_strlist {
	char **v;
	uint32_t n;
};

struct sp_strmap {
	char **keys;
	char **values;
	uint32_t n;
};

struct sp_objlist {
	void *items; /* n structs of the option's item_size */
	uint32_t n;
};

/* What the binder makes of the values of a MAP or PATH_MAP, so that a
 * bad one is found at validation and nothing is compiled twice.  A MAP
 * with exprs other than NONE binds a struct sp_boundmap. */
enum sp_opt_exprs {
	SP_EXPRS_NONE = 0,
	SP_EXPRS_ALL,	 /* every value is an expression */
	SP_EXPRS_MARKED, /* values starting with "${" are; others literal */
	SP_EXPRS_PATHS,	 /* every value is a field path */
};

/* Compiled options hold objects of the layers below (expr/, record/):
 * struct sp_expr and struct sp_path.  They are compiled once, when the
 * options are bound, against the symbol table given to the binder (the
 * flow's): a run reads them with a table that holds the same symbols
 * (sp_symtab_clone), and only reads them, from any worker. */
struct sp_expr;
struct sp_path;
struct sp_symtab;

struct sp_pathlist {
	struct sp_path *v; /* v[i].text is the path as written */
	uint32_t n;
};

/* A map the binder compiled: a MAP with exprs, or a PATH_MAP. */
struct sp_boundmap {
	char **keys;		     /* as written */
	char **values;		     /* as written */
	struct sp_path *key_paths;   /* PATH_MAP: each key parsed; else NULL */
	struct sp_expr **exprs;	     /* exprs ALL or MARKED: each value
				      * compiled, NULL where it is literal
				      * text; else NULL */
	struct sp_path *value_paths; /* exprs PATHS: each value parsed; else
				      * NULL */
	uint32_t n;
};

struct sp_option {
	const char *name;
	enum sp_opt_type type;
	const char *def; /* default as text; NULL: unset (zero) */
	bool required;
	bool bounded; /* min/max apply (INT, DOUBLE, SIZE, list lengths) */
	double min, max;
	/* ENUM: NULL-terminated; the bound int is the index of the value
	 * written, so a stage declares its choices in the order of its own
	 * enum (designated initializers) and never compares the text */
	const char *const *choices;
	const struct sp_option *items; /* OBJECT_LIST: each item's table */
	size_t item_size;		 /* OBJECT_LIST: size of one item */
	enum sp_opt_exprs exprs;	 /* MAP, PATH_MAP: what values are */
	size_t offset;			 /* in the config struct */
	const char *help;
};

const char *sp_opt_type_name(enum sp_opt_type t);

/* A size as SIZE options take it ("4096", "256M", "1 GiB"): bytes.  0,
 * -EINVAL, -ERANGE.  For command-line options that take sizes too. */
int sp_size_parse(const char *s, uint64_t *out);

/* What min..max of a bounded option limit: "items" for lists and maps,
 * "range" for numbers (help text and the generated reference). */
const char *sp_opt_bound_noun(const struct sp_option *o);

/*
 * Binds map (option name -> value; NULL = empty) to config, which has room
 * for the stage's config_size bytes and is zeroed here first.  Keys in
 * skip (NULL-terminated: "id", "type", "inputs" ...) are ignored.
 * Expressions and field paths are compiled against symtab (the flow's
 * table; it may be NULL for a table without them).  Every problem is
 * added to d with the node's line, the stage id and the option: unknown
 * option (with a "did you mean" suggestion), wrong type, out of bounds,
 * not one of the choices, required option missing, bad expression (with
 * the column), bad field path.  Returns the number of problems added
 * (0 = bound).
 */
int sp_options_bind(const struct sp_option *table, const struct sp_node *map,
		    const char *const *skip, void *config, const char *stage,
		    struct sp_symtab *symtab, struct sp_diags *d);

/* Frees what bind allocated inside config (strings, lists, items,
 * compiled expressions and paths). */
void sp_options_free(const struct sp_option *table, void *config);

/* Help text for a table: one block per option (name, type, default,
 * bounds/choices, help), as `spate stages TYPE` prints it. */
void sp_options_help(const struct sp_option *table, struct sp_buf *out);

/* Closest name in table to word (edit distance <= 2), or NULL. */
const char *sp_options_suggest(const struct sp_option *table,
			       const char *word);

/* Closest of names[0..n) to word (edit distance <= 2, <= 1 for words of
 * one or two characters; transpositions count 1), or NULL. */
const char *sp_suggest(const char *word, const char *const *names, size_t n);

/* Strict integer: an optional sign and decimal digits, nothing else.
 * 0, -EINVAL (not an integer) or -ERANGE (does not fit). */
int sp_parse_int(const char *s, int64_t *out);

#endif
