/*
 * The MySQL protocol (MySQL, MariaDB, MatrixOne, TiDB ...) through
 * libmariadb, the one place that includes mysql.h: connecting (the
 * password only from a named environment variable), statements, a
 * table's columns (db/dbcol.h), a streaming LOAD DATA LOCAL INFILE fed
 * from memory by a local-infile handler (no temporary file; the handler
 * serves only spate's rows, whatever file name the server asks for), and
 * the load ledger (spate_loads).
 *
 * Threads: one thread at a time uses a connection; while a load runs, its
 * loader thread owns the connection and other threads only call
 * sp_my_load_write (serialised by the caller) until sp_my_load_end.
 */
#ifndef SPATE_DB_MYSQL_H
#define SPATE_DB_MYSQL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "db/dbcol.h"

struct sp_my;

struct sp_my_params {
	const char *host;   /* NULL: localhost */
	int64_t port;	    /* 0: default */
	const char *socket; /* unix socket path, or NULL */
	const char *user;
	const char *password_env; /* variable holding the password, or NULL */
	const char *database;
};

/* 0 or -errno with err (which never holds the password). */
int sp_my_connect(const struct sp_my_params *p, struct sp_my **out, char *err,
		  size_t errlen);
/* Closes (a load still running is ended first); NULL is a no-op. */
void sp_my_close(struct sp_my *my);

/* Runs a statement, discarding any rows.  0 or -EIO with err. */
int sp_my_exec(struct sp_my *my, const char *sql, char *err, size_t errlen);
/* The first column of the first row of sql, as text (free it); NULL for
 * SQL NULL or no row.  0 or -EIO with err. */
int sp_my_value(struct sp_my *my, const char *sql, char **out, char *err,
		size_t errlen);

/* The columns of table ("db.table" or a table of the connection's
 * database) appended to cols; *qualified gets `db`.`table` (free it).
 * 0, -ENOENT or -EIO with err. */
int sp_my_columns(struct sp_my *my, const char *table, char **qualified,
		  struct sp_dbcols *cols, char *err, size_t errlen);

/* Streams a LOAD DATA LOCAL INFILE statement: begin starts a loader
 * thread running sql, write hands it rows (blocks while the server is
 * behind; -EIO once the load failed), end marks the end of the data and
 * waits for the server: *rows gets the rows loaded, and a load that left
 * warnings (values the server changed) fails with the first of them.
 * abort ends the data early and the load's outcome is ignored. */
int sp_my_load_begin(struct sp_my *my, const char *sql, char *err,
		     size_t errlen);
int sp_my_load_write(struct sp_my *my, const char *data, size_t len);
int sp_my_load_end(struct sp_my *my, bool abort, uint64_t *rows, char *err,
		   size_t errlen);

/* Runs an INSERT; *rows += the rows it added.  0 or -EIO with err. */
int sp_my_insert(struct sp_my *my, const char *sql, size_t len,
		 uint64_t *rows, char *err, size_t errlen);

/* The load ledger, as sp_pg_ledger_* (db/pg.h). */
int sp_my_ledger_init(struct sp_my *my, char *err, size_t errlen);
int sp_my_ledger_find(struct sp_my *my, const char *flow, const char *stage,
		      const char *run_id, bool *found, uint64_t *rows,
		      char *err, size_t errlen);
int sp_my_ledger_record(struct sp_my *my, const char *flow, const char *stage,
			const char *run_id, const char *target, uint64_t rows,
			bool force, char *err, size_t errlen);

#endif
