/*
 * postgres (origin): the rows of a PostgreSQL query as records, for backfills
 * that start in a database.  start() connects, fixes the session's output
 * forms (UTF-8, ISO dates in UTC, hex bytea), asks the server for the
 * query's columns and their types without running it, and starts
 * `COPY (SELECT ... FROM (query) q) TO STDOUT`: one statement, so one
 * snapshot of the data however long the read takes.  The reader thread
 * gathers rows into blocks of chunk_size bytes; workers decode the blocks
 * in place (db/pgtext.h has the type mapping).  The run's identity is the
 * connection string and the query, so a rerun of the same flow counts as
 * the same input (destinations that hold it already skip it; --force
 * loads again).
 */
#include <errno.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/xxh64.h"
#include "db/dbcol.h"
#include "db/pg.h"
#include "db/pgtext.h"
#include "stage_api/stage.h"

struct pgq_config {
	char *conninfo;
	char *password_env;
	char *query;
	uint64_t chunk_size;
};

struct pgq {
	const struct pgq_config *cfg;
	const struct sp_stage_ctx *ctx;
	struct sp_pg *pg;
	uint32_t ncols;
	char **names;
	uint32_t *types;
	struct sp_pgtext_cols cols;
	char source[160];
	bool copying;  /* reader thread after start */
	uint64_t rows; /* rows read so far (reader thread) */
	uint64_t bytes;
	atomic_uint_fast64_t rows_seen; /* rows, for status */
};

static const struct sp_option pgq_options[] = {
    {.name = "conninfo",
     .type = SP_OPT_STRING,
     .required = true,
     .offset = offsetof(struct pgq_config, conninfo),
     .help = "libpq connection string or URI (host=/tmp dbname=x, "
	     "postgresql://user@host/db); no password: it comes from "
	     "PGPASSWORD, ~/.pgpass or password_env"},
    {.name = "password_env",
     .type = SP_OPT_STRING,
     .offset = offsetof(struct pgq_config, password_env),
     .help = "name of an environment variable holding the password"},
    {.name = "query",
     .type = SP_OPT_STRING,
     .required = true,
     .offset = offsetof(struct pgq_config, query),
     .help = "a SELECT (or VALUES, TABLE t) whose rows become records, "
	     "one field per column under the column's name"},
    {.name = "chunk_size",
     .type = SP_OPT_SIZE,
     .def = "1M",
     .bounded = true,
     .min = 4096,
     .max = 1 << 30,
     .offset = offsetof(struct pgq_config, chunk_size),
     .help = "bytes of rows per batch handed to a worker"},
    {0},
};

static int pgq_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	struct pgq *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = config;
	s->ctx = ctx;
	snprintf(s->source, sizeof(s->source), "postgres:%s", ctx->id);
	*state = s;
	return 0;
}

/* output forms that do not depend on the server's or role's settings */
static const char *const session_sql =
    "SET client_encoding = 'UTF8'; SET DateStyle = 'ISO, YMD'; "
    "SET TimeZone = 'UTC'; SET bytea_output = 'hex'; "
    "SET IntervalStyle = 'iso_8601'; SET extra_float_digits = 1";

/* the query without trailing semicolons and blanks, for a subquery */
static size_t query_len(const char *q)
{
	size_t n = strlen(q);

	while (n && strchr("; \t\r\n", q[n - 1]))
		n--;
	return n;
}

/* kinds and fields of the columns; the COPY statement into sql */
static int plan(struct pgq *s, struct sp_buf *sql, char *err, size_t errlen)
{
	char *cats = calloc(s->ncols + 1, 1);
	int rc = -ENOMEM;

	s->cols.n = s->ncols;
	s->cols.syms = calloc(s->ncols + 1, sizeof(*s->cols.syms));
	s->cols.kinds = calloc(s->ncols + 1, sizeof(*s->cols.kinds));
	if (!cats || !s->cols.syms || !s->cols.kinds)
		goto nomem;
	rc =
	    sp_pg_type_categories(s->pg, s->ncols, s->types, cats, err, errlen);
	if (rc)
		goto out;
	rc = -ENOMEM;
	if (sp_buf_append(sql, "COPY (SELECT ", 13))
		goto nomem;
	for (uint32_t i = 0; i < s->ncols; i++) {
		bool wrap;

		s->cols.kinds[i] =
		    sp_pgtext_kind_of(s->types[i], cats[i], &wrap);
		s->cols.syms[i] = sp_symtab_intern(s->ctx->symtab, s->names[i],
						   strlen(s->names[i]));
		if ((i && sp_buf_append(sql, ", ", 2)) ||
		    (wrap && sp_buf_append(sql, "to_json(", 8)) ||
		    sp_buf_append(sql, "q.", 2) ||
		    sp_db_ident(SP_DB_POSTGRES, s->names[i],
				strlen(s->names[i]), sql) ||
		    (wrap && sp_buf_putc(sql, ')')))
			goto nomem;
	}
	if (sp_buf_append(sql, " FROM (", 7) ||
	    sp_buf_append(sql, s->cfg->query, query_len(s->cfg->query)) ||
	    sp_buf_append(sql, "\n) AS q) TO STDOUT", 19))
		goto nomem;
	rc = 0;
	goto out;
nomem:
	snprintf(err, errlen, "out of memory");
out:
	free(cats);
	return rc;
}

/* two columns of one name would make two fields of one name */
static int check_names(const struct pgq *s, char *err, size_t errlen)
{
	if (!s->ncols) {
		snprintf(err, errlen, "option 'query': returns no columns");
		return -EINVAL;
	}
	for (uint32_t i = 0; i < s->ncols; i++)
		for (uint32_t j = 0; j < i; j++)
			if (!strcmp(s->names[i], s->names[j])) {
				snprintf(err, errlen,
					 "option 'query': two "
					 "columns are named '%s'; name them "
					 "apart with AS",
					 s->names[i]);
				return -EINVAL;
			}
	return 0;
}

static int pgq_start(void *state, char *err, size_t errlen)
{
	struct pgq *s = state;
	struct sp_buf sql;
	int rc;

	rc = sp_pg_connect(s->cfg->conninfo, s->cfg->password_env, &s->pg, err,
			   errlen);
	if (!rc)
		rc = sp_pg_exec(s->pg, session_sql, err, errlen);
	if (!rc)
		rc = sp_pg_describe(s->pg, s->cfg->query, &s->ncols, &s->names,
				    &s->types, err, errlen);
	if (!rc)
		rc = check_names(s, err, errlen);
	if (rc)
		return rc;
	sp_buf_init(&sql);
	rc = plan(s, &sql, err, errlen);
	if (!rc)
		rc = sp_buf_putc(&sql, '\0') ? -ENOMEM : 0;
	if (!rc)
		rc = sp_pg_copy_out_begin(s->pg, sql.data, err, errlen);
	sp_buf_fini(&sql);
	s->copying = rc == 0;
	return rc;
}

static int pgq_next(void *state, struct sp_chunk *out, char *err, size_t errlen)
{
	struct pgq *s = state;
	struct sp_buf b;
	uint64_t first = s->rows + 1;
	int n = 0;

	if (!s->copying)
		return 0;
	sp_buf_init(&b);
	while (b.len < s->cfg->chunk_size) {
		char *row;

		n = sp_pg_copy_out_row(s->pg, &row, err, errlen);
		if (n <= 0)
			break;
		if (sp_buf_append(&b, row, (size_t)n)) {
			sp_pg_row_free(row);
			n = -ENOMEM;
			snprintf(err, errlen, "out of memory");
			break;
		}
		sp_pg_row_free(row);
		s->rows++;
	}
	if (n <= 0)
		s->copying = false;
	if (n < 0 || !b.len) {
		sp_buf_fini(&b);
		return n < 0 ? n : 0;
	}
	memset(out, 0, sizeof(*out));
	out->data = b.data;
	out->len = b.len;
	out->first = first;
	out->count = s->rows + 1 - first;
	out->offset = s->bytes;
	out->source = s->source;
	out->buf = b.data;
	s->bytes += b.len;
	atomic_store_explicit(&s->rows_seen, s->rows, memory_order_relaxed);
	return 1;
}

static int pgq_parse(void *state, void *wstate, const struct sp_chunk *c,
		     struct sp_batch *b)
{
	struct pgq *s = state;

	/* the block is this origin's own buffer (out->buf): decoded in place */
	return sp_pgtext_parse(&s->cols, c->buf, c->len, c->first, b);
}

static void pgq_release(void *state, struct sp_chunk *c)
{
	free(c->buf);
}

static uint64_t pgq_identity(void *state)
{
	struct pgq *s = state;
	XXH64_state_t h;

	XXH64_reset(&h, 0);
	XXH64_update(&h, s->cfg->conninfo, strlen(s->cfg->conninfo) + 1);
	XXH64_update(&h, s->cfg->query, strlen(s->cfg->query));
	return XXH64_digest(&h);
}

static void pgq_status(void *state, struct sp_stage_status *st)
{
	struct pgq *s = state;

	snprintf(st->note, sizeof(st->note), "%llu rows read",
		 (unsigned long long)atomic_load_explicit(
		     &s->rows_seen, memory_order_relaxed));
}

static void pgq_close(void *state)
{
	struct pgq *s = state;

	if (!s)
		return;
	sp_pg_close(s->pg);
	sp_pg_names_free(s->names, s->ncols, s->types);
	free(s->cols.syms);
	free(s->cols.kinds);
	free(s);
}

const struct sp_stage_desc sp_stage_postgres_origin = {
    .abi = SP_STAGE_ABI,
    .name = "postgres",
    .kind = SP_ORIGIN,
    .help = "the rows of a PostgreSQL query as records (a postgres stage "
	    "without inputs; COPY TO STDOUT, one snapshot, numeric digits "
	    "kept exact)",
    .options = pgq_options,
    .config_size = sizeof(struct pgq_config),
    .create = pgq_create,
    .start = pgq_start,
    .next = pgq_next,
    .parse = pgq_parse,
    .release = pgq_release,
    .identity = pgq_identity,
    .status = pgq_status,
    .close = pgq_close,
};
