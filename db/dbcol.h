/*
 * Table columns as spate sees them when it loads a database table: the
 * column's kind and limits, read from the database's catalog when a load
 * starts (db/pg.c, db/mysql.c), and the record path its value comes from.
 * sp_dbcol_convert() turns a record's value into the text the database
 * takes for that column, or says why the value cannot fit (wrong type,
 * NULL into NOT NULL, too long, out of range); such a record becomes a
 * record error instead of failing the whole bulk load on the server.
 *
 * Threads: a column list is built on the controlling thread and read-only
 * afterwards; workers convert with their own arena and scratch buffer.
 */
#ifndef SPATE_DB_DBCOL_H
#define SPATE_DB_DBCOL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "config/options.h"
#include "core/arena.h"
#include "core/buf.h"
#include "record/batch.h"

enum sp_db_dialect {
	SP_DB_POSTGRES = 0,
	SP_DB_MYSQL,
};

enum sp_dbcol_kind {
	SP_DBCOL_OTHER = 0, /* sent as text, checked by the server only */
	SP_DBCOL_BOOL,
	SP_DBCOL_INT,
	SP_DBCOL_FLOAT,
	SP_DBCOL_NUMERIC,
	SP_DBCOL_TEXT,
	SP_DBCOL_JSON,
	SP_DBCOL_DATE,
	SP_DBCOL_TIMESTAMP,
	SP_DBCOL_UUID,
};

struct sp_dbcol {
	char *name;
	char *type; /* the database's name of the type, for messages */
	enum sp_dbcol_kind kind;
	enum sp_db_dialect dialect;
	bool not_null;
	bool has_default; /* default, identity, serial, generated */
	bool bool_int;	  /* MySQL tinyint(1): true/false load as 1/0 */
	bool float4;	  /* single precision */
	bool zone;	  /* timestamp keeps a time zone (timestamptz) */
	int64_t min, max; /* INT bounds */
	uint32_t max_chars; /* TEXT: 0 = no limit */
	uint32_t max_bytes; /* TEXT: 0 = no limit */
	int32_t precision, scale; /* NUMERIC: -1 = unconstrained */
	struct sp_path path;	  /* where the record holds the value */
	bool mapped;		  /* path is set */
};

struct sp_dbcols {
	struct sp_dbcol *v;
	uint32_t n, cap;
};

/* Appends a column with name and type copied and integer bounds set from
 * kind; returns it for the caller to refine, or NULL (out of memory). */
struct sp_dbcol *sp_dbcols_add(struct sp_dbcols *cols, const char *name,
			       const char *type, enum sp_dbcol_kind kind,
			       enum sp_db_dialect dialect);
void sp_dbcols_fini(struct sp_dbcols *cols);

/*
 * Chooses the columns a load fills, in the table's order.  With a map
 * (column -> record path) exactly its columns, each from its path; without
 * one (map NULL or empty) every column that has no default, each from the
 * top-level field of its name.  A column the map names that the table
 * lacks, a bad path, or a NOT NULL column without a default that the load
 * leaves out is an error naming the table, column and option.  Columns
 * not loaded are removed from cols.  0 or -EINVAL/-ENOMEM with err.
 */
int sp_dbcols_map(struct sp_dbcols *cols, const char *table,
		  const struct sp_strmap *map, struct sp_symtab *st, char *err,
		  size_t errlen);

/* "a, b, c" with each name quoted as the dialect quotes identifiers. */
int sp_dbcols_list(const struct sp_dbcols *cols, struct sp_buf *out);

/* Appends name as a quoted identifier of the dialect ("x" or `x`). */
int sp_db_ident(enum sp_db_dialect d, const char *name, size_t len,
		struct sp_buf *out);

/*
 * The text the database takes for v (NULL when absent) in column c: *s
 * and *n point at it (in place, in a static string or in arena/scratch,
 * valid until those are reset), *s == NULL for SQL NULL.  *quote tells an
 * SQL literal writer that the text is not a bare number.  0; -EINVAL with
 * why (e.g. "too long for varchar(5): 7 characters") when the value does
 * not fit; -ENOMEM.
 */
int sp_dbcol_convert(const struct sp_dbcol *c, const struct sp_value *v,
		     struct sp_arena *arena, const char **s, size_t *n,
		     bool *quote, char *why, size_t whylen);

/* How sp_db_encode writes rows. */
enum sp_db_format {
	/* PostgreSQL COPY text and MySQL LOAD DATA (default options): tab
	 * between fields, newline after a row, \N for NULL, backslash
	 * escapes for backslash, tab, newline and carriage return */
	SP_DB_TAB = 0,
	/* ("a",1,NULL) tuples of an INSERT ... VALUES, comma-separated;
	 * strings quoted with backslash escapes */
	SP_DB_SQL,
	/* as SP_DB_SQL for a server in NO_BACKSLASH_ESCAPES mode: quotes
	 * doubled, backslashes as they are */
	SP_DB_SQL_NO_BACKSLASH,
};

/*
 * Appends records sel[0..n) of b as rows for cols to out.  A record with a
 * value that does not fit gets a record error (sp_batch_error_add) naming
 * the column and reason and is left out; *rows counts the rows written.
 * 0 or -ENOMEM.
 */
int sp_db_encode(const struct sp_dbcols *cols, enum sp_db_format fmt,
		 struct sp_batch *b, const uint32_t *sel, uint32_t n,
		 struct sp_arena *arena, struct sp_buf *out, uint64_t *rows);

/* True when s[0..n) is well-formed UTF-8 without NUL. */
bool sp_db_text_is_valid(const char *s, size_t n);

#endif
