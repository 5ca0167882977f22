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
 * rolls back the open transaction when the connection ends.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "db/dbcol.h"
#include "db/dbload.h"
#include "db/pg.h"
#include "stage_api/stage.h"

/* a worker sends its rows once it holds this much */
#define PGD_SEND_BYTES (256u << 10)

struct pgd_config {
	char *conninfo;
	char *password_env;
	char *table;
	struct sp_strmap columns;
};

struct pgd {
	const struct pgd_config *cfg;
	const struct sp_stage_ctx *ctx;
	struct sp_pg *pg;
	struct sp_dbcols cols;
	char *qualified;
	struct sp_dbload load;
	char who[160];
	bool copying, in_tx, skipped, committed;
	uint64_t rows_loaded;
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
	s->copying = false;
	if (!sp_pg_copy_in_end(s->pg, NULL, NULL, err, errlen))
		snprintf(err, errlen, "COPY into %s failed", s->cfg->table);
	return -EIO;
}

static int pgd_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	struct pgd *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = config;
	s->ctx = ctx;
	snprintf(s->who, sizeof(s->who), "[destination:postgres:%s]", ctx->id);
	s->load.cols = &s->cols;
	s->load.fmt = SP_DB_TAB;
	s->load.send_bytes = PGD_SEND_BYTES;
	s->load.send = send_rows;
	s->load.arg = s;
	s->load.who = s->who;
	sp_dbload_init(&s->load);
	*state = s;
	return 0;
}

/* exactly once: -EALREADY when this run's load is in spate_loads */
static int check_ledger(struct pgd *s, char *err, size_t errlen)
{
	bool found;
	uint64_t rows;
	int rc = sp_pg_ledger_init(s->pg, err, errlen);

	if (!rc)
		rc = sp_pg_ledger_find(s->pg, s->ctx->flow, s->ctx->id,
				       s->ctx->run_id, &found, &rows, err,
				       errlen);
	if (rc)
		return rc;
	if (found && !s->ctx->force) {
		s->skipped = true;
		snprintf(err, errlen, "table %s already holds this load (run "
			 "%s, %llu rows, see spate_loads); nothing to do "
			 "(--force loads the rows again beside them)",
			 s->cfg->table, s->ctx->run_id,
			 (unsigned long long)rows);
		return -EALREADY;
	}
	if (found)
		sp_log_warn("[destination:postgres:%s] --force: loading run %s "
			    "again; the %llu rows of its earlier load stay in "
			    "%s", s->ctx->id, s->ctx->run_id,
			    (unsigned long long)rows, s->cfg->table);
	return 0;
}

static int begin_copy(struct pgd *s, char *err, size_t errlen)
{
	struct sp_buf sql;
	int rc;

	rc = sp_pg_exec(s->pg, "BEGIN", err, errlen);
	if (rc)
		return rc;
	s->in_tx = true;
	sp_buf_init(&sql);
	rc = -ENOMEM;
	if (!sp_buf_append(&sql, "COPY ", 5) &&
	    !sp_buf_append(&sql, s->qualified, strlen(s->qualified)) &&
	    !sp_buf_append(&sql, " (", 2) && !sp_dbcols_list(&s->cols, &sql) &&
	    !sp_buf_append(&sql, ") FROM STDIN", 13))
		rc = sp_pg_copy_in_begin(s->pg, sql.data, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	sp_buf_fini(&sql);
	s->copying = rc == 0;
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
		rc = sp_pg_columns(s->pg, s->cfg->table, &s->qualified,
				   &s->cols, err, errlen);
	if (!rc)
		rc = sp_dbcols_map(&s->cols, s->cfg->table, &s->cfg->columns,
				   s->ctx->symtab, err, errlen);
	if (!rc)
		rc = begin_copy(s, err, errlen);
	return rc;
}

static void *pgd_worker_create(void *state, unsigned worker)
{
	struct pgd *s = state;

	return sp_dbload_worker_create(&s->load);
}

static void pgd_worker_destroy(void *state, void *wstate)
{
	sp_dbload_worker_destroy(wstate);
}

static int pgd_stage_batch(void *state, void *wstate, struct sp_batch *b,
			   const uint32_t *sel, uint32_t n)
{
	return wstate ? sp_dbload_stage(wstate, b, sel, n) : -ENOMEM;
}

static int64_t pgd_flush(void *state, void *wstate)
{
	return wstate ? sp_dbload_flush(wstate) : 0;
}

static int64_t pgd_batch_end(void *state, void *wstate, uint64_t seq)
{
	return pgd_flush(state, wstate);
}

static int pgd_prepare(void *state, char *err, size_t errlen)
{
	struct pgd *s = state;
	int rc;

	if (!s->pg)
		return 0;
	rc = sp_dbload_error(&s->load, err, errlen);
	if (rc)
		return rc;
	s->copying = false;
	rc = sp_pg_copy_in_end(s->pg, NULL, &s->rows_loaded, err, errlen);
	if (!rc)
		rc = sp_pg_ledger_record(s->pg, s->ctx->flow, s->ctx->id,
					 s->ctx->run_id, s->qualified,
					 s->rows_loaded, s->ctx->force, err,
					 errlen);
	if (rc == -EEXIST)
		snprintf(err, errlen, "another run loaded the same input into "
			 "%s meanwhile (spate_loads); this run rolls back",
			 s->cfg->table);
	return rc;
}

static int pgd_finish(void *state, bool ok, char *err, size_t errlen)
{
	struct pgd *s = state;
	int rc;

	if (!s->pg || !s->in_tx)
		return 0;
	if (s->copying)
		sp_pg_copy_in_end(s->pg, "spate: run rolled back", NULL, err,
				  errlen);
	s->copying = false;
	s->in_tx = false;
	if (!ok)
		return sp_pg_exec(s->pg, "ROLLBACK", err, errlen);
	rc = sp_pg_exec(s->pg, "COMMIT", err, errlen);
	s->committed = rc == 0;
	return rc;
}

static void pgd_status(void *state, struct sp_stage_status *st)
{
	struct pgd *s = state;

	st->bytes_out = atomic_load(&s->load.bytes_sent);
	if (s->skipped)
		st->skipped = 1;
	snprintf(st->note, sizeof(st->note), "%llu rows %s %s",
		 (unsigned long long)(s->committed
					      ? s->rows_loaded
					      : atomic_load(&s->load.rows_sent)),
		 s->committed ? "loaded into" : "sent to", s->cfg->table);
}

static void pgd_close(void *state)
{
	struct pgd *s = state;

	if (!s)
		return;
	sp_pg_close(s->pg);
	sp_dbcols_fini(&s->cols);
	free(s->qualified);
	sp_dbload_fini(&s->load);
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
	.worker_create = pgd_worker_create,
	.worker_destroy = pgd_worker_destroy,
	.stage_batch = pgd_stage_batch,
	.batch_end = pgd_batch_end,
	.worker_flush = pgd_flush,
	.prepare = pgd_prepare,
	.finish = pgd_finish,
	.status = pgd_status,
	.close = pgd_close,
};
