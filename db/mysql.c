/*
 * The libmariadb wrapper (db/mysql.h).  A streaming LOAD DATA LOCAL
 * INFILE works like this: a loader thread runs the statement; when the
 * server asks for the "file", libmariadb calls our local-infile handler,
 * which reads from a pipe that the stage's workers write their rows into.
 * Closing the pipe's write end is the end of the file.  After a failure
 * the loader keeps draining the pipe, so a writer never waits forever.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "db/mysql.h"
#include "db/mysql_api.h"

struct sp_my {
	MYSQL *conn;
	/* a running load */
	pthread_t loader;
	bool loading;
	int rfd, wfd;
	char *sql;
	atomic_bool failed;
	int load_rc;
	char load_err[512];
	uint64_t load_rows;
	unsigned load_warnings;
};

static void set_err(struct sp_my *my, char *err, size_t errlen,
		    const char *what)
{
	snprintf(err, errlen, "%s: %s", what, mysql_error(my->conn));
}

int sp_my_connect(const struct sp_my_params *p, struct sp_my **out, char *err,
		  size_t errlen)
{
	const char *password = NULL;
	unsigned one = 1;
	struct sp_my *my;
	int rc = sp_mysql_load(err, errlen);

	if (rc)
		return rc;
	if (p->password_env && p->password_env[0]) {
		password = getenv(p->password_env);
		if (!password) {
			snprintf(err, errlen,
				 "option 'password_env': the "
				 "environment has no variable %s",
				 p->password_env);
			return -EINVAL;
		}
	}
	my = calloc(1, sizeof(*my));
	if (!my || !(my->conn = mysql_init(NULL))) {
		free(my);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	my->rfd = my->wfd = -1;
	mysql_options(my->conn, MYSQL_OPT_LOCAL_INFILE, &one);
	mysql_options(my->conn, MYSQL_SET_CHARSET_NAME, "utf8mb4");
	if (!mysql_real_connect(my->conn, p->host, p->user, password,
				p->database, (unsigned)p->port, p->socket, 0)) {
		set_err(my, err, errlen, "cannot connect to MySQL");
		sp_my_close(my);
		return -ECONNREFUSED;
	}
	*out = my;
	return 0;
}

void sp_my_close(struct sp_my *my)
{
	if (!my)
		return;
	if (my->loading) {
		char err[64];

		sp_my_load_end(my, true, NULL, err, sizeof(err));
	}
	mysql_close(my->conn);
	free(my);
}

int sp_my_exec(struct sp_my *my, const char *sql, char *err, size_t errlen)
{
	MYSQL_RES *res;

	if (mysql_query(my->conn, sql)) {
		set_err(my, err, errlen, sql);
		return -EIO;
	}
	res = mysql_store_result(my->conn);
	mysql_free_result(res);
	return 0;
}

int sp_my_value(struct sp_my *my, const char *sql, char **out, char *err,
		size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;

	*out = NULL;
	if (mysql_query(my->conn, sql) ||
	    !(res = mysql_store_result(my->conn))) {
		set_err(my, err, errlen, sql);
		return -EIO;
	}
	row = mysql_fetch_row(res);
	if (row && row[0] && !(*out = strdup(row[0]))) {
		mysql_free_result(res);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	mysql_free_result(res);
	return 0;
}

/* 'text' as an SQL string literal */
static int literal(struct sp_my *my, struct sp_buf *b, const char *s, size_t n)
{
	if (sp_buf_reserve(b, 2 * n + 3))
		return -ENOMEM;
	b->data[b->len++] = '\'';
	b->len += mysql_real_escape_string(my->conn, b->data + b->len, s,
					   (unsigned long)n);
	b->data[b->len++] = '\'';
	return 0;
}

static const struct {
	const char *name;
	enum sp_dbcol_kind kind;
	int64_t min, max;
} my_types[] = {
    {"tinyint", SP_DBCOL_INT, -128, 127},
    {"smallint", SP_DBCOL_INT, -32768, 32767},
    {"mediumint", SP_DBCOL_INT, -8388608, 8388607},
    {"int", SP_DBCOL_INT, INT32_MIN, INT32_MAX},
    {"bigint", SP_DBCOL_INT, INT64_MIN, INT64_MAX},
    {"float", SP_DBCOL_FLOAT, 0, 0},
    {"double", SP_DBCOL_FLOAT, 0, 0},
    {"decimal", SP_DBCOL_NUMERIC, 0, 0},
    {"char", SP_DBCOL_TEXT, 0, 0},
    {"varchar", SP_DBCOL_TEXT, 0, 0},
    {"tinytext", SP_DBCOL_TEXT, 0, 0},
    {"text", SP_DBCOL_TEXT, 0, 0},
    {"mediumtext", SP_DBCOL_TEXT, 0, 0},
    {"longtext", SP_DBCOL_TEXT, 0, 0},
    {"json", SP_DBCOL_JSON, 0, 0},
    {"date", SP_DBCOL_DATE, 0, 0},
    {"datetime", SP_DBCOL_TIMESTAMP, 0, 0},
    {"timestamp", SP_DBCOL_TIMESTAMP, 0, 0},
};

/* row: name, column_type, data_type, is_nullable, char max, octet max,
 * precision, scale, has default */
static int add_column(struct sp_dbcols *cols, MYSQL_ROW row)
{
	enum sp_dbcol_kind kind = SP_DBCOL_OTHER;
	size_t t;
	struct sp_dbcol *c;

	for (t = 0; t < sizeof(my_types) / sizeof(my_types[0]); t++)
		if (!strcmp(my_types[t].name, row[2])) {
			kind = my_types[t].kind;
			break;
		}
	c = sp_dbcols_add(cols, row[0], row[1], kind, SP_DB_MYSQL);
	if (!c)
		return -ENOMEM;
	c->not_null = !strcmp(row[3], "NO");
	c->has_default = row[8] && row[8][0] == '1';
	if (kind == SP_DBCOL_INT) {
		bool uns = strstr(row[1], "unsigned") != NULL;

		c->min = uns ? 0 : my_types[t].min;
		c->max = my_types[t].max;
		if (uns && my_types[t].max < INT64_MAX)
			c->max = 2 * my_types[t].max + 1;
		c->bool_int = !strcmp(row[1], "tinyint(1)");
	}
	c->float4 = !strcmp(row[2], "float");
	if (kind == SP_DBCOL_TEXT && strstr(row[2], "char") && row[4])
		c->max_chars = (uint32_t)strtoul(row[4], NULL, 10);
	else if (kind == SP_DBCOL_TEXT && row[5] &&
		 strtoull(row[5], NULL, 10) < UINT32_MAX)
		c->max_bytes = (uint32_t)strtoul(row[5], NULL, 10);
	if (kind == SP_DBCOL_NUMERIC && row[6] && row[7]) {
		c->precision = atoi(row[6]);
		c->scale = atoi(row[7]);
	}
	return 0;
}

/* MariaDB's JSON is LONGTEXT with a json_valid() check: mark those
 * columns JSON (the query fails on MySQL, whose JSON type says so) */
static void mark_json(struct sp_my *my, struct sp_dbcols *cols,
		      const char *where)
{
	char sql[1200];
	MYSQL_RES *res;
	MYSQL_ROW row;

	snprintf(sql, sizeof(sql),
		 "SELECT CONSTRAINT_NAME FROM information_schema."
		 "CHECK_CONSTRAINTS WHERE %s AND CHECK_CLAUSE LIKE "
		 "'json_valid(%%'",
		 where);
	if (mysql_query(my->conn, sql) || !(res = mysql_store_result(my->conn)))
		return;
	while ((row = mysql_fetch_row(res)))
		for (uint32_t i = 0; row[0] && i < cols->n; i++)
			if (!strcmp(cols->v[i].name, row[0]))
				cols->v[i].kind = SP_DBCOL_JSON;
	mysql_free_result(res);
}

static int column_query(struct sp_my *my, const char *table, char *where,
			size_t wlen, char **qualified)
{
	const char *dot = strchr(table, '.');
	struct sp_buf b, q;
	int rc = -ENOMEM;

	sp_buf_init(&b);
	sp_buf_init(&q);
	if (sp_buf_append(&b, "CONSTRAINT_SCHEMA = ", 20))
		goto out;
	if (dot ? literal(my, &b, table, (size_t)(dot - table))
		: sp_buf_append(&b, "DATABASE()", 10))
		goto out;
	if (sp_buf_append(&b, " AND TABLE_NAME = ", 18) ||
	    literal(my, &b, dot ? dot + 1 : table,
		    strlen(dot ? dot + 1 : table)) ||
	    sp_buf_putc(&b, '\0') || b.len >= wlen)
		goto out;
	memcpy(where, b.data, b.len);
	if (dot && sp_db_ident(SP_DB_MYSQL, table, (size_t)(dot - table), &q))
		goto out;
	if ((dot && sp_buf_putc(&q, '.')) ||
	    sp_db_ident(SP_DB_MYSQL, dot ? dot + 1 : table,
			strlen(dot ? dot + 1 : table), &q) ||
	    sp_buf_putc(&q, '\0'))
		goto out;
	*qualified = strdup(q.data);
	rc = *qualified ? 0 : -ENOMEM;
out:
	sp_buf_fini(&b);
	sp_buf_fini(&q);
	return rc;
}

int sp_my_columns(struct sp_my *my, const char *table, char **qualified,
		  struct sp_dbcols *cols, char *err, size_t errlen)
{
	char where[1024], sql[2048];
	MYSQL_RES *res;
	MYSQL_ROW row;
	int rc;

	if (column_query(my, table, where, sizeof(where), qualified)) {
		snprintf(err, errlen, "table %s: name too long", table);
		return -EINVAL;
	}
	snprintf(sql, sizeof(sql),
		 "SELECT COLUMN_NAME, COLUMN_TYPE, DATA_TYPE, IS_NULLABLE, "
		 "CHARACTER_MAXIMUM_LENGTH, CHARACTER_OCTET_LENGTH, "
		 "NUMERIC_PRECISION, NUMERIC_SCALE, "
		 "(COLUMN_DEFAULT IS NOT NULL AND COLUMN_DEFAULT <> 'NULL') "
		 "OR EXTRA <> '' FROM information_schema.COLUMNS WHERE "
		 "TABLE_SCHEMA = %s ORDER BY ORDINAL_POSITION",
		 strchr(where, '=') + 2);
	if (mysql_query(my->conn, sql) ||
	    !(res = mysql_store_result(my->conn))) {
		snprintf(err, errlen, "table %s: %s", table,
			 mysql_error(my->conn));
		return -EIO;
	}
	rc = 0;
	while (!rc && (row = mysql_fetch_row(res)))
		rc = add_column(cols, row);
	mysql_free_result(res);
	if (rc) {
		snprintf(err, errlen, "out of memory");
		return rc;
	}
	if (!cols->n) {
		snprintf(err, errlen,
			 "table %s does not exist (or has no "
			 "columns)",
			 table);
		return -ENOENT;
	}
	mark_json(my, cols, where);
	return 0;
}

/* ---- streaming LOAD DATA LOCAL INFILE ---------------------------------- */

static int infile_init(void **ptr, const char *name, void *data)
{
	*ptr = data; /* whatever the server names, it gets spate's rows */
	return 0;
}

static int infile_read(void *ptr, char *buf, unsigned int len)
{
	struct sp_my *my = ptr;

	for (;;) {
		ssize_t n = read(my->rfd, buf, len);

		if (n >= 0)
			return (int)n;
		if (errno != EINTR)
			return -1;
	}
}

static void infile_end(void *ptr)
{
}

static int infile_error(void *ptr, char *msg, unsigned int len)
{
	snprintf(msg, len, "cannot read the rows spate sends");
	return 2000; /* CR_UNKNOWN_ERROR */
}

static void *loader_main(void *arg)
{
	struct sp_my *my = arg;
	char sink[65536];

	if (mysql_query(my->conn, my->sql)) {
		snprintf(my->load_err, sizeof(my->load_err), "LOAD DATA: %s",
			 mysql_error(my->conn));
		my->load_rc = -EIO;
		atomic_store(&my->failed, true);
	} else {
		my->load_rows = mysql_affected_rows(my->conn);
		my->load_warnings = mysql_warning_count(my->conn);
	}
	/* writers never block on a load that is over */
	while (read(my->rfd, sink, sizeof(sink)) > 0 || errno == EINTR)
		;
	return NULL;
}

int sp_my_load_begin(struct sp_my *my, const char *sql, char *err,
		     size_t errlen)
{
	int fds[2], rc;

	if (pipe2(fds, O_CLOEXEC)) {
		snprintf(err, errlen, "pipe: %s", strerror(errno));
		return -errno;
	}
	fcntl(fds[1], F_SETPIPE_SZ, 1 << 20); /* fewer wake-ups; may fail */
	my->rfd = fds[0];
	my->wfd = fds[1];
	my->sql = strdup(sql);
	my->load_rc = 0;
	my->load_err[0] = '\0';
	atomic_store(&my->failed, false);
	mysql_set_local_infile_handler(my->conn, infile_init, infile_read,
				       infile_end, infile_error, my);
	rc = my->sql ? pthread_create(&my->loader, NULL, loader_main, my)
		     : ENOMEM;
	if (rc) {
		close(my->rfd);
		close(my->wfd);
		my->rfd = my->wfd = -1;
		free(my->sql);
		my->sql = NULL;
		snprintf(err, errlen, "cannot start the loader: %s",
			 strerror(rc));
		return -rc;
	}
	my->loading = true;
	return 0;
}

int sp_my_load_write(struct sp_my *my, const char *data, size_t len)
{
	while (len) {
		ssize_t n;

		if (atomic_load(&my->failed))
			return -EIO;
		n = write(my->wfd, data, len);
		if (n < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

static void first_warning(struct sp_my *my, char *err, size_t errlen)
{
	MYSQL_RES *res;
	MYSQL_ROW row;
	unsigned n = my->load_warnings;

	if (mysql_query(my->conn, "SHOW WARNINGS LIMIT 1") ||
	    !(res = mysql_store_result(my->conn))) {
		snprintf(err, errlen, "LOAD DATA: %u warnings", n);
		return;
	}
	row = mysql_fetch_row(res);
	snprintf(err, errlen,
		 "LOAD DATA: the server changed values (%u "
		 "warning%s), first: %s %s: %s",
		 n, n == 1 ? "" : "s", row && row[0] ? row[0] : "",
		 row && row[1] ? row[1] : "", row && row[2] ? row[2] : "");
	mysql_free_result(res);
}

int sp_my_load_end(struct sp_my *my, bool abort, uint64_t *rows, char *err,
		   size_t errlen)
{
	if (!my->loading)
		return 0;
	if (abort)
		atomic_store(&my->failed, true);
	close(my->wfd);
	pthread_join(my->loader, NULL);
	close(my->rfd);
	my->rfd = my->wfd = -1;
	my->loading = false;
	free(my->sql);
	my->sql = NULL;
	if (abort)
		return 0;
	if (my->load_rc) {
		snprintf(err, errlen, "%s", my->load_err);
		return my->load_rc;
	}
	if (my->load_warnings) {
		first_warning(my, err, errlen);
		return -EIO;
	}
	if (rows)
		*rows = my->load_rows;
	return 0;
}

int sp_my_insert(struct sp_my *my, const char *sql, size_t len, uint64_t *rows,
		 char *err, size_t errlen)
{
	if (mysql_real_query(my->conn, sql, (unsigned long)len)) {
		set_err(my, err, errlen, "INSERT");
		return -EIO;
	}
	*rows += mysql_affected_rows(my->conn);
	if (mysql_warning_count(my->conn)) {
		my->load_warnings = mysql_warning_count(my->conn);
		first_warning(my, err, errlen);
		return -EIO;
	}
	return 0;
}

/* ---- the load ledger --------------------------------------------------- */

int sp_my_ledger_init(struct sp_my *my, char *err, size_t errlen)
{
	return sp_my_exec(my,
			  "CREATE TABLE IF NOT EXISTS spate_loads ("
			  "flow VARCHAR(128) NOT NULL, "
			  "stage VARCHAR(128) NOT NULL, "
			  "run_id VARCHAR(64) NOT NULL, "
			  "target VARCHAR(512) NOT NULL, "
			  "records BIGINT NOT NULL, "
			  "loads INT NOT NULL DEFAULT 1, "
			  "loaded_at TIMESTAMP NOT NULL DEFAULT "
			  "CURRENT_TIMESTAMP, "
			  "PRIMARY KEY (flow, stage, run_id)) "
			  "ENGINE=InnoDB DEFAULT CHARSET=utf8mb4",
			  err, errlen);
}

/* "flow = 'f' AND stage = 's' AND run_id = 'r'" */
static int ledger_key(struct sp_my *my, struct sp_buf *b, const char *flow,
		      const char *stage, const char *run_id)
{
	if (sp_buf_append(b, "flow = ", 7) ||
	    literal(my, b, flow, strlen(flow)) ||
	    sp_buf_append(b, " AND stage = ", 13) ||
	    literal(my, b, stage, strlen(stage)) ||
	    sp_buf_append(b, " AND run_id = ", 14) ||
	    literal(my, b, run_id, strlen(run_id)) || sp_buf_putc(b, '\0'))
		return -ENOMEM;
	return 0;
}

static const char find_sql[] = "SELECT records FROM spate_loads WHERE ";
static const char record_sql[] = "INSERT INTO spate_loads (flow, stage, "
				 "run_id, target, records) VALUES (";

int sp_my_ledger_find(struct sp_my *my, const char *flow, const char *stage,
		      const char *run_id, bool *found, uint64_t *rows,
		      char *err, size_t errlen)
{
	struct sp_buf b;
	char *v = NULL;
	int rc = -ENOMEM;

	sp_buf_init(&b);
	if (!sp_buf_append(&b, find_sql, strlen(find_sql)) &&
	    !ledger_key(my, &b, flow, stage, run_id))
		rc = sp_my_value(my, b.data, &v, err, errlen);
	else
		snprintf(err, errlen, "out of memory");
	sp_buf_fini(&b);
	*found = v != NULL;
	*rows = v ? strtoull(v, NULL, 10) : 0;
	free(v);
	return rc;
}

int sp_my_ledger_record(struct sp_my *my, const char *flow, const char *stage,
			const char *run_id, const char *target, uint64_t rows,
			bool force, char *err, size_t errlen)
{
	char tail[200];
	struct sp_buf b;
	int rc = -ENOMEM;

	snprintf(tail, sizeof(tail), ", %llu)%s", (unsigned long long)rows,
		 force ? " ON DUPLICATE KEY UPDATE records = VALUES(records), "
			 "target = VALUES(target), loads = loads + 1, "
			 "loaded_at = CURRENT_TIMESTAMP"
		       : "");
	sp_buf_init(&b);
	if (!sp_buf_append(&b, record_sql, strlen(record_sql)) &&
	    !literal(my, &b, flow, strlen(flow)) && !sp_buf_putc(&b, ',') &&
	    !literal(my, &b, stage, strlen(stage)) && !sp_buf_putc(&b, ',') &&
	    !literal(my, &b, run_id, strlen(run_id)) && !sp_buf_putc(&b, ',') &&
	    !literal(my, &b, target, strlen(target)) &&
	    !sp_buf_append(&b, tail, strlen(tail) + 1)) {
		rc = 0;
		if (mysql_query(my->conn, b.data)) {
			rc = mysql_errno(my->conn) == 1062 ? -EEXIST : -EIO;
			set_err(my, err, errlen, "spate_loads");
		}
	} else {
		snprintf(err, errlen, "out of memory");
	}
	sp_buf_fini(&b);
	return rc;
}
