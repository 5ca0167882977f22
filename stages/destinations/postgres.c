/*
 * postgres: loads records into a PostgreSQL table with COPY ... FROM
 * STDIN (text format) inside one transaction for the whole run.  start()
 * reads the table's column types, checks the load ledger (spate_loads)
 * and opens the transaction and the COPY; workers convert their records
 * to the columns' types (a value that does not fit is a record error, so
 * the COPY never fails on data) and send their rows under a lock;
 * prepare() ends the COPY, checks it and records the load in spate_loads
 * in the same transaction; finish() commits or rolls back.  A run that
 * fails, is stopped or killed leaves the table as it was: the server
 * rolls back the open transaction when the connection ends.  A table
 * whose ledger holds this run already is kept as it is (dbdest.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"
#include "stage_api/stage.h"
#include "stages/destinations/dbdest.h"

/* a worker sends its rows once it holds this much */
#define PGD_SEND_BYTES (256u << 10)

struct pgd_config {
	char *conninfo;
	char *password_env;
	char *table;
	struct sp_strmap columns;
};

struct pgd {
	struct sp_dbdest d; /* first: the shared callbacks take the state */
	const struct pgd_config *cfg;
	struct sp_pg *pg;
};

static const struct sp_option pgd_options[] = {
	{.name = "conninfo", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct pgd_config, conninfo),
	 .help = "libpq connection string or URI (host=/tmp dbname=x, "
		 "postgresql://user@host/db); no password: it comes from "
		 "PGPASSWORD, ~/.pgpass or password_env"},
	{.name = "password_env", .type = SP_OPT_STRING,
	 .offset = offsetof(struct pgd_config, password_env),
	 .help = "name of an environment variable holding the password"},
	{.name = "table", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct pgd_config, table),
	 .help = "target table, optionally schema-qualified (schema.table)"},
	{.name = "columns", .type = SP_OPT_MAP,
	 .offset = offsetof(struct pgd_config, columns),
	 .help = "column: record path (/a/b) to load; default: every column "
		 "without a default, from the top-level field of its name"},
	{0},
};

/* the COPY's data; a failure ends the COPY to learn the server's reason */
static int send_rows(void *arg, const char *p, size_t n, char *err,
		     size_t errlen)
{
	struct pgd *s = arg;

	if (!sp_pg_copy_put(s->pg, p, n))
		return 0;
	s->d.loading = false;
	if (!sp_pg_copy_in_end(s->pg, NULL, NULL, err, errlen))
		snprintf(err, errlen, "COPY into %s failed", s->cfg->table);
	return -EIO;
}

static int pgd_exec(struct sp_dbdest *d, const char *sql, char *err,
		    size_t errlen)
{
	return sp_pg_exec(((struct pgd *)d)->pg, sql, err, errlen);
}

static void pgd_abort_copy(struct sp_dbdest *d)
{
	char ignored[256];

	sp_pg_copy_in_end(((struct pgd *)d)->pg, "spate: run rolled back",
			  NULL, ignored, sizeof(ignored));
}

static const struct sp_dbdest_ops pgd_ops = {
	.exec = pgd_exec,
	.abort_load = pgd_abort_copy,
};

static int pgd_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	struct pgd *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = config;
	sp_dbdest_init(&s->d, "postgres", &pgd_ops, ctx, s->cfg->table, send_rows, s);
	s->d.load.fmt = SP_DB_TAB;
	s->d.load.send_bytes = PGD_SEND_BYTES;
	*state = s;
	return 0;
}

/* exactly once: whether spate_loads holds this run (dbdest.h) */
static int check_ledger(struct pgd *s, char *err, size_t errlen)
{
	const struct sp_stage_ctx *ctx = s->d.ctx;
	bool found;
	uint64_t rows;
	int rc = sp_pg_ledger_init(s->pg, err, errlen);

	if (!rc)
		rc = sp_pg_ledger_find(s->pg, ctx->flow, ctx->id, ctx->run_id,
				       &found, &rows, err, errlen);
	if (!rc)
		sp_dbdest_found(&s->d, found, rows);
	return rc;
}

static int begin_copy(struct pgd *s, char *err, size_t errlen)
{
	struct sp_buf sql;
	int rc;

	rc = sp_dbdest_begin(&s->d, "BEGIN", err, errlen);
	if (rc)
		return rc;
	sp_buf_init(&sql);
	rc = -ENOMEM;
	if (!sp_buf_append(&sql, "COPY ", 5) &&
	    !sp_buf_append(&sql, s->d.qualified, strlen(s->d.qualified)) &&
	    !sp_buf_append(&sql, " (", 2) &&
	    !sp_dbcols_list(&s->d.cols, &sql) &&
	    !sp_buf_append(&sql, ") FROM STDIN", 13))
		rc = sp_pg_copy_in_begin(s->pg, sql.data, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	sp_buf_fini(&sql);
	s->d.loading = rc == 0;
	return rc;
}

static int pgd_start(void *state, char *err, size_t errlen)
{
	struct pgd *s = state;
	int rc;

	rc = sp_pg_connect(s->cfg->conninfo, s->cfg->password_env, &s->pg, err,
			   errlen);
	if (!rc)
		rc = check_ledger(s, err, errlen);
	if (!rc)
		rc = sp_pg_columns(s->pg, s->cfg->table, &s->d.qualified,
				   &s->d.cols, err, errlen);
	if (!rc)
		rc = sp_dbcols_map(&s->d.cols, s->cfg->table, &s->cfg->columns,
				   s->d.ctx->symtab, err, errlen);
	if (!rc && !s->d.holds)
		rc = begin_copy(s, err, errlen);
	return rc;
}

static int pgd_prepare(void *state, char *err, size_t errlen)
{
	struct pgd *s = state;
	const struct sp_stage_ctx *ctx = s->d.ctx;
	int rc;

	if (!s->d.in_tx)
		return 0;
	rc = sp_dbload_error(&s->d.load, err, errlen);
	if (rc)
		return rc;
	s->d.loading = false;
	rc = sp_pg_copy_in_end(s->pg, NULL, &s->d.rows_loaded, err, errlen);
	if (!rc)
		rc = sp_pg_ledger_record(s->pg, ctx->flow, ctx->id, ctx->run_id,
					 s->d.qualified, s->d.rows_loaded,
					 ctx->force, err, errlen);
	return sp_dbdest_recorded(&s->d, rc, err, errlen);
}

static void pgd_close(void *state)
{
	struct pgd *s = state;

	if (!s)
		return;
	sp_pg_close(s->pg);
	sp_dbdest_fini(&s->d);
	free(s);
}

const struct sp_stage_desc sp_stage_postgres = {
	.abi = SP_STAGE_ABI,
	.name = "postgres",
	.kind = SP_DESTINATION,
	.help = "load records into a PostgreSQL table (COPY, one transaction "
		"per run, exactly once through spate_loads)",
	.options = pgd_options,
	.config_size = sizeof(struct pgd_config),
	.create = pgd_create,
	.start = pgd_start,
	.worker_create = sp_dbdest_worker_create,
	.worker_destroy = sp_dbdest_worker_destroy,
	.stage_batch = sp_dbdest_stage_batch,
	.batch_end = sp_dbdest_batch_end,
	.worker_flush = sp_dbdest_flush,
	.prepare = pgd_prepare,
	.finish = sp_dbdest_finish,
	.status = sp_dbdest_status,
	.close = pgd_close,
	.holds_run = sp_dbdest_holds_run,
};
