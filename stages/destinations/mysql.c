/*
 * mysql: loads records into a table over the MySQL protocol (MySQL,
 * MariaDB, MatrixOne, TiDB ...) inside one transaction for the whole run.
 * start() reads the table's column types, checks the load ledger
 * (spate_loads) and starts the transaction and a streaming LOAD DATA
 * LOCAL INFILE, whose "file" is the rows the workers send (db/mysql.c);
 * where the server refuses LOCAL INFILE the rows go as multi-row INSERTs
 * instead.  Workers convert each record to the columns' types first (a
 * value that does not fit is a record error, never a value the server
 * silently changes).  prepare() ends the load, fails on any warning the
 * server left, and records the load in spate_loads in the same
 * transaction; finish() commits or rolls back.  A failed, stopped or
 * killed run leaves the table as it was (InnoDB rolls back).  A table
 * whose ledger holds this run already is kept as it is (dbdest.h).
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/log.h"
#include "db/mysql.h"
#include "stage_api/stage.h"
#include "stages/destinations/dbdest.h"

#define MYD_LOAD_BYTES (256u << 10)
#define MYD_INSERT_BYTES (1u << 20)

struct myd_config {
	char *host;
	int64_t port;
	char *socket;
	char *user;
	char *password_env;
	char *database;
	char *table;
	struct sp_strmap columns;
	int method; /* enum myd_method */
};

struct myd {
	struct sp_dbdest d; /* first: the shared callbacks take the state */
	const struct myd_config *cfg;
	struct sp_my *my;
	struct sp_buf prefix;
	bool load_data;
};

enum myd_method { MYD_AUTO = 0, MYD_LOAD_DATA, MYD_INSERT };

static const char *const methods[] = {
    [MYD_AUTO] = "auto", [MYD_LOAD_DATA] = "load_data",
    [MYD_INSERT] = "insert", NULL};

static const struct sp_option myd_options[] = {
	{.name = "host", .type = SP_OPT_STRING, .def = "localhost",
	 .offset = offsetof(struct myd_config, host),
	 .help = "server host name or address"},
	{.name = "port", .type = SP_OPT_INT, .def = "3306", .bounded = true,
	 .min = 1, .max = 65535, .offset = offsetof(struct myd_config, port),
	 .help = "server TCP port"},
	{.name = "socket", .type = SP_OPT_STRING,
	 .offset = offsetof(struct myd_config, socket),
	 .help = "unix socket path (with host localhost)"},
	{.name = "user", .type = SP_OPT_STRING, .def = "root",
	 .offset = offsetof(struct myd_config, user),
	 .help = "user name"},
	{.name = "password_env", .type = SP_OPT_STRING,
	 .offset = offsetof(struct myd_config, password_env),
	 .help = "name of an environment variable holding the password "
		 "(none: no password)"},
	{.name = "database", .type = SP_OPT_STRING,
	 .offset = offsetof(struct myd_config, database),
	 .help = "database (schema) to use"},
	{.name = "table", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct myd_config, table),
	 .help = "target table, optionally database-qualified (db.table)"},
	{.name = "columns", .type = SP_OPT_MAP,
	 .offset = offsetof(struct myd_config, columns),
	 .help = "column: record path (/a/b) to load; default: every column "
		 "without a default, from the top-level field of its name"},
	{.name = "method", .type = SP_OPT_ENUM, .def = "auto",
	 .choices = methods, .offset = offsetof(struct myd_config, method),
	 .help = "load_data: LOAD DATA LOCAL INFILE; insert: multi-row "
		 "INSERTs; auto: load_data unless the server has local_infile "
		 "off"},
	{0},
};

static int send_rows(void *arg, const char *p, size_t n, char *err,
		     size_t errlen)
{
	struct myd *s = arg;

	if (s->load_data)
		return sp_my_load_write(s->my, p, n) ? -EIO : 0;
	return sp_my_insert(s->my, p, n, &s->d.rows_loaded, err, errlen);
}

static int myd_exec(struct sp_dbdest *d, const char *sql, char *err,
		    size_t errlen)
{
	return sp_my_exec(((struct myd *)d)->my, sql, err, errlen);
}

static void myd_abort_load(struct sp_dbdest *d)
{
	char ignored[256];

	sp_my_load_end(((struct myd *)d)->my, true, NULL, ignored,
		       sizeof(ignored));
}

static const struct sp_dbdest_ops myd_ops = {
	.exec = myd_exec,
	.abort_load = myd_abort_load,
};

static int myd_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	struct myd *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->cfg = config;
	sp_buf_init(&s->prefix);
	sp_dbdest_init(&s->d, "mysql", &myd_ops, ctx, s->cfg->table, send_rows, s);
	*state = s;
	return 0;
}

/* exactly once: whether spate_loads holds this run (dbdest.h) */
static int check_ledger(struct myd *s, char *err, size_t errlen)
{
	const struct sp_stage_ctx *ctx = s->d.ctx;
	bool found;
	uint64_t rows;
	int rc = sp_my_ledger_init(s->my, err, errlen);

	if (!rc)
		rc = sp_my_ledger_find(s->my, ctx->flow, ctx->id, ctx->run_id,
				       &found, &rows, err, errlen);
	if (!rc)
		sp_dbdest_found(&s->d, found, rows);
	return rc;
}

/* LOAD DATA, or INSERT where LOCAL INFILE is off; the row format follows */
static int choose_method(struct myd *s, char *err, size_t errlen)
{
	char *v = NULL;
	int rc;

	s->load_data = s->cfg->method != MYD_INSERT;
	if (s->cfg->method == MYD_AUTO) {
		rc = sp_my_value(s->my, "SELECT @@local_infile", &v, err,
				 errlen);
		if (rc)
			return rc;
		s->load_data = v && strcmp(v, "0") && strcasecmp(v, "OFF");
		free(v);
		if (!s->load_data)
			sp_log_info("%s the server has local_infile off: "
				    "loading with INSERTs", s->d.who);
	}
	s->d.load.fmt = SP_DB_TAB;
	s->d.load.send_bytes = MYD_LOAD_BYTES;
	if (s->load_data)
		return 0;
	rc = sp_my_value(s->my, "SELECT @@sql_mode", &v, err, errlen);
	if (rc)
		return rc;
	s->d.load.fmt = v && strstr(v, "NO_BACKSLASH_ESCAPES")
			      ? SP_DB_SQL_NO_BACKSLASH
			      : SP_DB_SQL;
	s->d.load.send_bytes = MYD_INSERT_BYTES;
	free(v);
	return 0;
}

/* "INSERT INTO t (cols) VALUES " or the LOAD DATA statement */
static int statement(struct myd *s, struct sp_buf *b)
{
	static const char tail[] = " CHARACTER SET utf8mb4 FIELDS TERMINATED "
				   "BY '\\t' ESCAPED BY '\\\\' LINES "
				   "TERMINATED BY '\\n' (";

	if (s->load_data
		    ? sp_buf_append(b, "LOAD DATA LOCAL INFILE 'spate' INTO "
				    "TABLE ", 42)
		    : sp_buf_append(b, "INSERT INTO ", 12))
		return -ENOMEM;
	if (sp_buf_append(b, s->d.qualified, strlen(s->d.qualified)))
		return -ENOMEM;
	if (s->load_data ? sp_buf_append(b, tail, strlen(tail))
			 : sp_buf_append(b, " (", 2))
		return -ENOMEM;
	if (sp_dbcols_list(&s->d.cols, b) ||
	    sp_buf_append(b, s->load_data ? ")" : ") VALUES ",
			  s->load_data ? 1 : 9) ||
	    sp_buf_putc(b, '\0'))
		return -ENOMEM;
	return 0;
}

static int begin_load(struct myd *s, char *err, size_t errlen)
{
	int rc = sp_dbdest_begin(&s->d, "START TRANSACTION", err, errlen);

	if (rc)
		return rc;
	if (statement(s, &s->prefix)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (!s->load_data) {
		s->d.load.prefix = s->prefix.data;
		return 0;
	}
	rc = sp_my_load_begin(s->my, s->prefix.data, err, errlen);
	s->d.loading = rc == 0;
	return rc;
}

static int myd_start(void *state, char *err, size_t errlen)
{
	struct myd *s = state;
	const struct myd_config *cfg = s->cfg;
	struct sp_my_params p = {
		.host = cfg->host,
		.port = cfg->port,
		.socket = cfg->socket,
		.user = cfg->user,
		.password_env = cfg->password_env,
		.database = cfg->database,
	};
	int rc = sp_my_connect(&p, &s->my, err, errlen);

	if (!rc)
		rc = check_ledger(s, err, errlen);
	if (!rc)
		rc = sp_my_columns(s->my, cfg->table, &s->d.qualified,
				   &s->d.cols, err, errlen);
	if (!rc)
		rc = sp_dbcols_map(&s->d.cols, cfg->table, &cfg->columns,
				   s->d.ctx->symtab, err, errlen);
	if (!rc)
		rc = choose_method(s, err, errlen);
	if (!rc && !s->d.holds)
		rc = begin_load(s, err, errlen);
	return rc;
}

static int myd_prepare(void *state, char *err, size_t errlen)
{
	struct myd *s = state;
	const struct sp_stage_ctx *ctx = s->d.ctx;
	int rc;

	if (!s->d.in_tx)
		return 0;
	rc = sp_dbload_error(&s->d.load, err, errlen);
	if (s->d.loading) {
		char why[512];
		int lrc = sp_my_load_end(s->my, false, &s->d.rows_loaded, why,
					 sizeof(why));

		s->d.loading = false;
		if (lrc) /* the server's reason beats "write failed" */
			snprintf(err, errlen, "%s", why);
		rc = lrc ? lrc : rc;
	}
	if (!rc)
		rc = sp_my_ledger_record(s->my, ctx->flow, ctx->id, ctx->run_id,
					 s->d.qualified, s->d.rows_loaded,
					 ctx->force, err, errlen);
	return sp_dbdest_recorded(&s->d, rc, err, errlen);
}

static void myd_close(void *state)
{
	struct myd *s = state;

	if (!s)
		return;
	sp_my_close(s->my);
	sp_buf_fini(&s->prefix);
	sp_dbdest_fini(&s->d);
	free(s);
}

const struct sp_stage_desc sp_stage_mysql = {
	.abi = SP_STAGE_ABI,
	.name = "mysql",
	.kind = SP_DESTINATION,
	.help = "load records into a MySQL/MariaDB/MatrixOne table (LOAD DATA "
		"LOCAL INFILE, one transaction per run, exactly once through "
		"spate_loads)",
	.options = myd_options,
	.config_size = sizeof(struct myd_config),
	.create = myd_create,
	.start = myd_start,
	.worker_create = sp_dbdest_worker_create,
	.worker_destroy = sp_dbdest_worker_destroy,
	.stage_batch = sp_dbdest_stage_batch,
	.batch_end = sp_dbdest_batch_end,
	.worker_flush = sp_dbdest_flush,
	.prepare = myd_prepare,
	.finish = sp_dbdest_finish,
	.status = sp_dbdest_status,
	.close = myd_close,
	.holds_run = sp_dbdest_holds_run,
};
