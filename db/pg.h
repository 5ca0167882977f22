/*
 * PostgreSQL through libpq, the one place that includes libpq-fe.h:
 * connecting (passwords from PGPASSWORD, ~/.pgpass or a named environment
 * variable, never from the connection string), statements, a table's
 * columns (db/dbcol.h), COPY in both directions, and the load ledger
 * (spate_loads) that makes a load exactly once.
 *
 * Threads: one connection is used by one thread at a time; callers that
 * share it between threads hold their own lock.  Errors come back as
 * -errno with a message in err that never holds a password.
 */
#ifndef SPATE_DB_PG_H
#define SPATE_DB_PG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/dbcol.h"

struct sp_pg;

/* Connects with a libpq connection string or URI.  password_env (may be
 * NULL) names an environment variable holding the password; a password
 * inside conninfo is refused.  0 or -errno with err. */
int sp_pg_connect(const char *conninfo, const char *password_env,
		  struct sp_pg **out, char *err, size_t errlen);
/* Closes the connection (an open transaction is rolled back by the
 * server); NULL is a no-op. */
void sp_pg_close(struct sp_pg *pg);

/* Runs a statement that returns no rows.  0 or -EIO with err. */
int sp_pg_exec(struct sp_pg *pg, const char *sql, char *err, size_t errlen);

/* The columns of table (any name PostgreSQL resolves, e.g. schema.table)
 * appended to cols; *qualified gets the name quoted for SQL (free it).
 * 0, -ENOENT (no such table) or -EIO with err. */
int sp_pg_columns(struct sp_pg *pg, const char *table, char **qualified,
		  struct sp_dbcols *cols, char *err, size_t errlen);

/* COPY ... FROM STDIN: begin with the COPY statement, put rows (any
 * split), end.  end with abort_msg != NULL cancels the COPY; else *rows
 * gets the rows the server took.  0 or -EIO with err (put: the message is
 * kept for end). */
int sp_pg_copy_in_begin(struct sp_pg *pg, const char *sql, char *err,
			size_t errlen);
int sp_pg_copy_put(struct sp_pg *pg, const char *data, size_t len);
int sp_pg_copy_in_end(struct sp_pg *pg, const char *abort_msg, uint64_t *rows,
		      char *err, size_t errlen);

/* The names and type OIDs of the columns query returns (without running
 * it); names[i] and the arrays are to free with sp_pg_names_free. */
int sp_pg_describe(struct sp_pg *pg, const char *query, uint32_t *n,
		   char ***names, uint32_t **types, char *err, size_t errlen);
void sp_pg_names_free(char **names, uint32_t n, uint32_t *types);

/* The pg_type category of each of the n type OIDs ('A' array, 'C'
 * composite, 'N' numeric, ...) into cats[0..n).  0 or -EIO with err. */
int sp_pg_type_categories(struct sp_pg *pg, uint32_t n, const uint32_t *types,
			  char *cats, char *err, size_t errlen);

/* COPY ... TO STDOUT: begin, then rows one at a time: > 0 = a row of that
 * length in *row (free with sp_pg_row_free), 0 = end (success checked),
 * -EIO with err. */
int sp_pg_copy_out_begin(struct sp_pg *pg, const char *sql, char *err,
			 size_t errlen);
int sp_pg_copy_out_row(struct sp_pg *pg, char **row, char *err,
		       size_t errlen);
void sp_pg_row_free(char *row);

/* The load ledger: creates spate_loads when missing (outside any
 * transaction), tells whether (flow, stage, run_id) is in it, and records
 * a load inside the current transaction (force: a load that is there
 * already is counted again instead of refused).  0 or -errno with err;
 * record returns -EEXIST when another run recorded the same load. */
int sp_pg_ledger_init(struct sp_pg *pg, char *err, size_t errlen);
int sp_pg_ledger_find(struct sp_pg *pg, const char *flow, const char *stage,
		      const char *run_id, bool *found, uint64_t *rows,
		      char *err, size_t errlen);
int sp_pg_ledger_record(struct sp_pg *pg, const char *flow, const char *stage,
			const char *run_id, const char *target, uint64_t rows,
			bool force, char *err, size_t errlen);

#endif
