/*
 * The libpq wrapper (db/pg.h): connection, statements, the catalog query
 * that types a table's columns, COPY in and out, and the spate_loads
 * ledger.  libpq's error strings become err texts here; nothing else in
 * spate sees a PGconn.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "db/pg.h"
#include "db/pq_api.h"

struct sp_pg {
	PGconn *conn;
};

/* libpq's message without its trailing newline */
static void set_err(char *err, size_t errlen, const char *what, const char *msg)
{
	size_t n = strlen(msg);

	while (n && (msg[n - 1] == '\n' || msg[n - 1] == ' '))
		n--;
	snprintf(err, errlen, "%s: %.*s", what, (int)n, msg);
}

static int refuse_password(const char *conninfo, char *err, size_t errlen)
{
	char *perr = NULL;
	PQconninfoOption *opts = PQconninfoParse(conninfo, &perr);
	int rc = 0;

	if (!opts) {
		set_err(err, errlen, "option 'conninfo'",
			perr ? perr : "cannot be parsed");
		PQfreemem(perr);
		return -EINVAL;
	}
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (!strcmp(o->keyword, "password") && o->val && o->val[0]) {
			snprintf(err, errlen,
				 "option 'conninfo' holds a "
				 "password; give it in PGPASSWORD, ~/.pgpass "
				 "or the variable named by password_env");
			rc = -EINVAL;
		}
	PQconninfoFree(opts);
	return rc;
}

/* NOTICEs ("relation ... already exists, skipping") are not for users */
static void ignore_notice(void *arg, const char *msg)
{
}

int sp_pg_connect(const char *conninfo, const char *password_env,
		  struct sp_pg **out, char *err, size_t errlen)
{
	const char *keys[5] = {"dbname", "client_encoding",
			       "fallback_application_name", NULL, NULL};
	const char *vals[5] = {conninfo, "UTF8", "spate", NULL, NULL};
	struct sp_pg *pg;
	int rc = sp_pq_load(err, errlen);

	if (rc == 0)
		rc = refuse_password(conninfo, err, errlen);
	if (rc)
		return rc;
	if (password_env && password_env[0]) {
		vals[3] = getenv(password_env);
		keys[3] = "password";
		if (!vals[3]) {
			snprintf(err, errlen,
				 "option 'password_env': the "
				 "environment has no variable %s",
				 password_env);
			return -EINVAL;
		}
	}
	pg = calloc(1, sizeof(*pg));
	if (!pg) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	pg->conn = PQconnectdbParams(keys, vals, 1);
	if (!pg->conn || PQstatus(pg->conn) != CONNECTION_OK) {
		set_err(err, errlen, "cannot connect to PostgreSQL",
			pg->conn ? PQerrorMessage(pg->conn) : "out of memory");
		sp_pg_close(pg);
		return -ECONNREFUSED;
	}
	PQsetNoticeProcessor(pg->conn, ignore_notice, NULL);
	*out = pg;
	return 0;
}

void sp_pg_close(struct sp_pg *pg)
{
	if (!pg)
		return;
	PQfinish(pg->conn);
	free(pg);
}

/* a result of status want, or NULL with err set */
static PGresult *expect(struct sp_pg *pg, PGresult *res, ExecStatusType want,
			const char *what, char *err, size_t errlen)
{
	if (res && PQresultStatus(res) == want)
		return res;
	set_err(err, errlen, what,
		res ? PQresultErrorMessage(res) : PQerrorMessage(pg->conn));
	PQclear(res);
	return NULL;
}

int sp_pg_exec(struct sp_pg *pg, const char *sql, char *err, size_t errlen)
{
	PGresult *res = expect(pg, PQexec(pg->conn, sql), PGRES_COMMAND_OK, sql,
			       err, errlen);

	PQclear(res);
	return res ? 0 : -EIO;
}

static const char *const column_sql =
    "SELECT a.attname, format_type(a.atttypid, a.atttypmod), "
    "t.typname, a.atttypmod, a.attnotnull, "
    "a.atthasdef OR a.attidentity <> '' OR a.attgenerated <> '', "
    "$1::regclass::text "
    "FROM pg_attribute a JOIN pg_type t ON t.oid = a.atttypid "
    "WHERE a.attrelid = $1::regclass AND a.attnum > 0 "
    "AND NOT a.attisdropped ORDER BY a.attnum";

static enum sp_dbcol_kind kind_of(const char *t)
{
	static const struct {
		const char *name;
		enum sp_dbcol_kind kind;
	} map[] = {
	    {"bool", SP_DBCOL_BOOL},
	    {"int2", SP_DBCOL_INT},
	    {"int4", SP_DBCOL_INT},
	    {"int8", SP_DBCOL_INT},
	    {"float4", SP_DBCOL_FLOAT},
	    {"float8", SP_DBCOL_FLOAT},
	    {"numeric", SP_DBCOL_NUMERIC},
	    {"text", SP_DBCOL_TEXT},
	    {"varchar", SP_DBCOL_TEXT},
	    {"bpchar", SP_DBCOL_TEXT},
	    {"json", SP_DBCOL_JSON},
	    {"jsonb", SP_DBCOL_JSON},
	    {"date", SP_DBCOL_DATE},
	    {"timestamp", SP_DBCOL_TIMESTAMP},
	    {"timestamptz", SP_DBCOL_TIMESTAMP},
	    {"uuid", SP_DBCOL_UUID},
	};

	for (size_t i = 0; i < sizeof(map) / sizeof(map[0]); i++)
		if (!strcmp(map[i].name, t))
			return map[i].kind;
	return SP_DBCOL_OTHER;
}

static void refine(struct sp_dbcol *c, const char *t, int typmod)
{
	if (!strcmp(t, "int2")) {
		c->min = -32768;
		c->max = 32767;
	} else if (!strcmp(t, "int4")) {
		c->min = INT32_MIN;
		c->max = INT32_MAX;
	}
	c->float4 = !strcmp(t, "float4");
	c->zone = !strcmp(t, "timestamptz");
	if (c->kind == SP_DBCOL_TEXT && strcmp(t, "text") && typmod > 4)
		c->max_chars = (uint32_t)(typmod - 4);
	if (c->kind == SP_DBCOL_NUMERIC && typmod > 4) {
		c->precision = ((typmod - 4) >> 16) & 0xffff;
		c->scale = (typmod - 4) & 0xffff;
	}
}

int sp_pg_columns(struct sp_pg *pg, const char *table, char **qualified,
		  struct sp_dbcols *cols, char *err, size_t errlen)
{
	const char *params[1] = {table};
	PGresult *res =
	    PQexecParams(pg->conn, column_sql, 1, NULL, params, NULL, NULL, 0);
	char what[300];

	snprintf(what, sizeof(what), "table %s", table);
	res = expect(pg, res, PGRES_TUPLES_OK, what, err, errlen);
	if (!res)
		return -ENOENT;
	for (int i = 0; i < PQntuples(res); i++) {
		const char *t = PQgetvalue(res, i, 2);
		struct sp_dbcol *c = sp_dbcols_add(cols, PQgetvalue(res, i, 0),
						   PQgetvalue(res, i, 1),
						   kind_of(t), SP_DB_POSTGRES);
		if (!c) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		refine(c, t, atoi(PQgetvalue(res, i, 3)));
		c->not_null = PQgetvalue(res, i, 4)[0] == 't';
		c->has_default = PQgetvalue(res, i, 5)[0] == 't';
	}
	*qualified = PQntuples(res) ? strdup(PQgetvalue(res, 0, 6)) : NULL;
	PQclear(res);
	if (!*qualified) {
		snprintf(err, errlen, "table %s has no columns", table);
		return -ENOENT;
	}
	return 0;
}

int sp_pg_copy_in_begin(struct sp_pg *pg, const char *sql, char *err,
			size_t errlen)
{
	PGresult *res =
	    expect(pg, PQexec(pg->conn, sql), PGRES_COPY_IN, sql, err, errlen);

	PQclear(res);
	return res ? 0 : -EIO;
}

int sp_pg_copy_put(struct sp_pg *pg, const char *data, size_t len)
{
	while (len) {
		int n = len > (1u << 30) ? 1 << 30 : (int)len;

		if (PQputCopyData(pg->conn, data, n) != 1)
			return -EIO;
		data += n;
		len -= (size_t)n;
	}
	return 0;
}

int sp_pg_copy_in_end(struct sp_pg *pg, const char *abort_msg, uint64_t *rows,
		      char *err, size_t errlen)
{
	PGresult *res;
	int rc = 0;

	if (PQputCopyEnd(pg->conn, abort_msg) != 1) {
		set_err(err, errlen, "COPY", PQerrorMessage(pg->conn));
		rc = -EIO;
	}
	while ((res = PQgetResult(pg->conn))) {
		if (PQresultStatus(res) == PGRES_COMMAND_OK) {
			if (rows)
				*rows = strtoull(PQcmdTuples(res), NULL, 10);
		} else if (!rc) {
			set_err(err, errlen, "COPY", PQresultErrorMessage(res));
			rc = -EIO;
		}
		PQclear(res);
	}
	return rc;
}

int sp_pg_describe(struct sp_pg *pg, const char *query, uint32_t *n,
		   char ***names, uint32_t **types, char *err, size_t errlen)
{
	PGresult *res = expect(pg, PQprepare(pg->conn, "", query, 0, NULL),
			       PGRES_COMMAND_OK, "option 'query'", err, errlen);
	int k;

	if (!res)
		return -EINVAL;
	PQclear(res);
	res = expect(pg, PQdescribePrepared(pg->conn, ""), PGRES_COMMAND_OK,
		     "option 'query'", err, errlen);
	if (!res)
		return -EINVAL;
	k = PQnfields(res);
	*n = 0;
	*names = calloc((size_t)k + 1, sizeof(**names));
	*types = calloc((size_t)k + 1, sizeof(**types));
	if (!*names || !*types) {
		PQclear(res);
		sp_pg_names_free(*names, 0, *types);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (int i = 0; i < k; i++, (*n)++) {
		(*names)[i] = strdup(PQfname(res, i));
		(*types)[i] = PQftype(res, i);
		if (!(*names)[i]) {
			PQclear(res);
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	PQclear(res);
	return 0;
}

void sp_pg_names_free(char **names, uint32_t n, uint32_t *types)
{
	for (uint32_t i = 0; names && i < n; i++)
		free(names[i]);
	free(names);
	free(types);
}

int sp_pg_type_categories(struct sp_pg *pg, uint32_t n, const uint32_t *types,
			  char *cats, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < n; i++) {
		char oid[16];
		const char *params[1] = {oid};
		PGresult *res;

		snprintf(oid, sizeof(oid), "%u", types[i]);
		res =
		    PQexecParams(pg->conn,
				 "SELECT typcategory FROM pg_type WHERE oid = "
				 "$1::oid",
				 1, NULL, params, NULL, NULL, 0);
		res = expect(pg, res, PGRES_TUPLES_OK, "pg_type", err, errlen);
		if (!res)
			return -EIO;
		cats[i] = PQntuples(res) ? PQgetvalue(res, 0, 0)[0] : 'X';
		PQclear(res);
	}
	return 0;
}

int sp_pg_copy_out_begin(struct sp_pg *pg, const char *sql, char *err,
			 size_t errlen)
{
	PGresult *res = expect(pg, PQexec(pg->conn, sql), PGRES_COPY_OUT,
			       "option 'query'", err, errlen);

	PQclear(res);
	return res ? 0 : -EIO;
}

int sp_pg_copy_out_row(struct sp_pg *pg, char **row, char *err, size_t errlen)
{
	int n = PQgetCopyData(pg->conn, row, 0);
	PGresult *res;
	int rc = 0;

	if (n > 0)
		return n;
	if (n == -2) {
		set_err(err, errlen, "COPY", PQerrorMessage(pg->conn));
		return -EIO;
	}
	while ((res = PQgetResult(pg->conn))) {
		if (PQresultStatus(res) != PGRES_COMMAND_OK && !rc) {
			set_err(err, errlen, "query",
				PQresultErrorMessage(res));
			rc = -EIO;
		}
		PQclear(res);
	}
	return rc;
}

void sp_pg_row_free(char *row)
{
	PQfreemem(row);
}

int sp_pg_ledger_init(struct sp_pg *pg, char *err, size_t errlen)
{
	return sp_pg_exec(pg,
			  "CREATE TABLE IF NOT EXISTS spate_loads ("
			  "flow text NOT NULL, stage text NOT NULL, "
			  "run_id text NOT NULL, target text NOT NULL, "
			  "records bigint NOT NULL, "
			  "loads integer NOT NULL DEFAULT 1, "
			  "loaded_at timestamptz NOT NULL DEFAULT now(), "
			  "PRIMARY KEY (flow, stage, run_id))",
			  err, errlen);
}

int sp_pg_ledger_find(struct sp_pg *pg, const char *flow, const char *stage,
		      const char *run_id, bool *found, uint64_t *rows,
		      char *err, size_t errlen)
{
	const char *params[3] = {flow, stage, run_id};
	PGresult *res = PQexecParams(
	    pg->conn,
	    "SELECT records FROM spate_loads WHERE flow = $1 AND stage = $2 "
	    "AND run_id = $3",
	    3, NULL, params, NULL, NULL, 0);

	res = expect(pg, res, PGRES_TUPLES_OK, "spate_loads", err, errlen);
	if (!res)
		return -EIO;
	*found = PQntuples(res) > 0;
	*rows = *found ? strtoull(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return 0;
}

int sp_pg_ledger_record(struct sp_pg *pg, const char *flow, const char *stage,
			const char *run_id, const char *target, uint64_t rows,
			bool force, char *err, size_t errlen)
{
	char nrows[32];
	const char *params[5] = {flow, stage, run_id, target, nrows};
	PGresult *res;
	const char *state;
	int rc = 0;

	snprintf(nrows, sizeof(nrows), "%llu", (unsigned long long)rows);
	res = PQexecParams(
	    pg->conn,
	    force ? "INSERT INTO spate_loads (flow, stage, run_id, target, "
		    "records) VALUES ($1, $2, $3, $4, $5) ON CONFLICT (flow, "
		    "stage, run_id) DO UPDATE SET records = EXCLUDED.records, "
		    "target = EXCLUDED.target, loads = spate_loads.loads + "
		    "1, loaded_at = now()"
		  : "INSERT INTO spate_loads (flow, stage, run_id, target, "
		    "records) VALUES ($1, $2, $3, $4, $5)",
	    5, NULL, params, NULL, NULL, 0);
	state = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	if (state && !strcmp(state, "23505")) /* unique_violation */
		rc = -EEXIST;
	res = expect(pg, res, PGRES_COMMAND_OK, "spate_loads", err, errlen);
	PQclear(res);
	return res ? 0 : rc ? rc : -EIO;
}
