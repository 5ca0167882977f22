/*
 * Load history: which input (identity and content hash) which flow loaded
 * and committed, so that a rerun of a backfill skips it.
 */
#include "catalog/catalog_internal.h"

/* ---- load history -------------------------------------------------------- */

void spate_catalog_loads_free(struct spate_catalog_load *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++) {
		free(v[i].stage);
		free(v[i].path);
		free(v[i].flow);
		free(v[i].run_id);
	}
	free(v);
}

int spate_catalog_record_loads(struct spate_catalog *c,
			       const struct spate_catalog_load *v, size_t n,
			       char *err, size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc;

	if (n == 0)
		return 0;
	if ((rc = cat_begin(c, err, errlen)))
		return rc;
	if ((rc = cat_prepare(
		 c,
		 "INSERT INTO loads (stage, path, size, mtime, xxh64, "
		 "flow, run_id, records, time) VALUES "
		 "(?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 &st, err, errlen)))
		goto out;
	int64_t now = (int64_t)time(NULL);
	for (size_t i = 0; i < n; i++) {
		char hex[17];
		snprintf(hex, sizeof(hex), "%016" PRIx64, v[i].xxh64);
		sqlite3_reset(st);
		cat_bind_text(st, 1, v[i].stage);
		cat_bind_text(st, 2, v[i].path);
		sqlite3_bind_int64(st, 3, (int64_t)v[i].size);
		sqlite3_bind_int64(st, 4, v[i].mtime);
		cat_bind_text(st, 5, hex);
		cat_bind_text(st, 6, v[i].flow);
		cat_bind_text(st, 7, v[i].run_id ? v[i].run_id : "");
		sqlite3_bind_int64(st, 8, (int64_t)v[i].records);
		sqlite3_bind_int64(st, 9, now);
		int step = sqlite3_step(st);
		if (step != SQLITE_DONE) {
			rc = cat_db_fail(c, step, "record load", err, errlen);
			break;
		}
	}
out:
	return cat_end_txn(c, st, rc, err, errlen);
}

int spate_catalog_is_loaded(struct spate_catalog *c, const char *flow,
			    const char *stage, const char *path, uint64_t size,
			    const uint64_t *xxh64)
{
	sqlite3_stmt *st;
	char hex[17];
	int rc;

	rc = cat_prepare(
	    c,
	    xxh64 ? "SELECT 1 FROM loads WHERE flow = ? AND stage = ? "
		    "AND path = ? AND size = ? AND xxh64 = ? LIMIT 1"
		  : "SELECT 1 FROM loads WHERE flow = ? AND stage = ? "
		    "AND path = ? AND size = ? LIMIT 1",
	    &st, NULL, 0);
	if (rc)
		return rc;
	cat_bind_text(st, 1, flow);
	cat_bind_text(st, 2, stage);
	cat_bind_text(st, 3, path);
	sqlite3_bind_int64(st, 4, (int64_t)size);
	if (xxh64) {
		snprintf(hex, sizeof(hex), "%016" PRIx64, *xxh64);
		cat_bind_text(st, 5, hex);
	}
	int step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step == SQLITE_ROW)
		return 1;
	if (step == SQLITE_DONE)
		return 0;
	return cat_db_fail(c, step, "read load history", NULL, 0);
}

static int read_load_row(sqlite3_stmt *st, void *row)
{
	struct spate_catalog_load *l = row;
	const unsigned char *hex;

	memset(l, 0, sizeof(*l));
	l->stage = cat_col_dup(st, 0);
	l->path = cat_col_dup(st, 1);
	l->size = (uint64_t)sqlite3_column_int64(st, 2);
	l->mtime = sqlite3_column_int64(st, 3);
	hex = sqlite3_column_text(st, 4);
	l->xxh64 = hex ? strtoull((const char *)hex, NULL, 16) : 0;
	l->flow = cat_col_dup(st, 5);
	l->run_id = cat_col_dup(st, 6);
	l->records = (uint64_t)sqlite3_column_int64(st, 7);
	l->time = sqlite3_column_int64(st, 8);
	return !l->stage || !l->path || !l->flow || !l->run_id ? -ENOMEM : 0;
}

static void free_load_rows(void *v, size_t n)
{
	spate_catalog_loads_free(v, n);
}

int spate_catalog_history(struct spate_catalog *c, const char *flow,
			  struct spate_catalog_load **out, size_t *n, char *err,
			  size_t errlen)
{
	sqlite3_stmt *st;
	void *v;
	int rc;

	rc = cat_prepare(
	    c,
	    flow ? "SELECT stage, path, size, mtime, xxh64, flow, "
		   "run_id, records, time FROM loads WHERE flow = ? "
		   "ORDER BY id"
		 : "SELECT stage, path, size, mtime, xxh64, flow, "
		   "run_id, records, time FROM loads ORDER BY id",
	    &st, err, errlen);
	if (rc)
		return rc;
	if (flow)
		cat_bind_text(st, 1, flow);
	rc = cat_read_rows(c, st, sizeof(**out), read_load_row, free_load_rows,
			   "read load history", &v, n, err, errlen);
	if (!rc)
		*out = v;
	return rc;
}

int spate_catalog_check_writable(struct spate_catalog *c, char *err,
				 size_t errlen)
{
	int rc;

	if (sqlite3_db_readonly(c->db, "main") == 1) {
		cat_set_err(err, errlen,
			    "catalog %s is read-only (its file or folder "
			    "cannot be written)",
			    c->path);
		return -EROFS;
	}
	/* a row written and rolled back: the journal beside the file must
	 * be creatable too */
	if ((rc = cat_begin(c, err, errlen)))
		return rc;
	int step = sqlite3_exec(c->db,
				"INSERT INTO loads (stage, path, size, mtime, "
				"xxh64, flow, run_id, records, time) VALUES "
				"('', '', 0, 0, '', '', '', 0, 0)",
				NULL, NULL, NULL);
	if (step != SQLITE_OK)
		rc = cat_db_fail(c, step, "cannot write", err, errlen);
	cat_rollback(c);
	return rc;
}
