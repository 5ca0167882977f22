/*
 * What the files of the stage catalog share: the catalog handle and the
 * SQLite helpers (catalog_db.c).  Only catalog/ includes sqlite3.h.
 * Two tables, stages and loads, created on first use and versioned with
 * PRAGMA user_version; every change runs in a BEGIN IMMEDIATE transaction
 * (the write lock is taken up front, so two processes queue on the busy
 * timeout instead of failing on a lock upgrade).
 */
#ifndef SPATE_CATALOG_CATALOG_INTERNAL_H
#define SPATE_CATALOG_CATALOG_INTERNAL_H

#define _GNU_SOURCE
#include "spate/catalog.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <sqlite3.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "config/options.h"

struct spate_catalog {
	sqlite3 *db;
	char *path;
};

/* shared between the files of this module */
extern const char cat_stage_columns[];
void cat_set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));
int cat_db_fail(struct spate_catalog *c, int rc, const char *what, char *err,
		size_t errlen);
int cat_begin(struct spate_catalog *c, char *err, size_t errlen);
void cat_rollback(struct spate_catalog *c);
int cat_end_txn(struct spate_catalog *c, sqlite3_stmt *st, int rc, char *err,
		size_t errlen);
int cat_prepare(struct spate_catalog *c, const char *sql, sqlite3_stmt **st,
		char *err, size_t errlen);
int cat_bind_text(sqlite3_stmt *st, int i, const char *s);
char *cat_col_dup(sqlite3_stmt *st, int i);
int cat_clean_path(const char *in, char *out, size_t len);
int cat_check_name(const char *name, char *err, size_t errlen);
bool cat_is_bucket(const char *s, size_t n);
int cat_check_credentials(const char *key_env, const char *secret_env,
			  const char *file, char *err, size_t errlen);
int cat_check_endpoint(const char *endpoint, char *err, size_t errlen);
int cat_check_region(const char *region, char *err, size_t errlen);
char *cat_s3_url(const char *bucket, const char *prefix);
int cat_parse_s3_url(const char *url, char **bucket, char **prefix, char *err,
		     size_t errlen);
int cat_local_root(const char *in, char *out, size_t len, char *err,
		   size_t errlen);
int cat_read_rows(struct spate_catalog *c, sqlite3_stmt *st, size_t sz,
		  int (*read_row)(sqlite3_stmt *st, void *row),
		  void (*free_rows)(void *v, size_t n), const char *what,
		  void **out, size_t *n, char *err, size_t errlen);

#endif
