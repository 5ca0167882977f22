/*
 * The stage catalog's database: schema and its migration, the SQLite
 * helpers (errors, transactions, statements), the catalog's path, and
 * opening and closing it (0600, busy timeout).
 */
#include "catalog/catalog_internal.h"

static const char schema_v1[] =
    "CREATE TABLE stages ("
    " name TEXT PRIMARY KEY NOT NULL,"
    " kind TEXT NOT NULL CHECK (kind IN ('local', 's3')),"
    " url TEXT NOT NULL,"
    " bucket TEXT, path TEXT, endpoint TEXT, region TEXT,"
    /* credential source: variable names or a file, never values */
    " key_id_env TEXT, secret_env TEXT, credentials_file TEXT,"
    " enabled INTEGER NOT NULL DEFAULT 1,"
    " created INTEGER NOT NULL,"
    " comment TEXT);"
    "CREATE TABLE loads ("
    " id INTEGER PRIMARY KEY,"
    " stage TEXT NOT NULL, path TEXT NOT NULL,"
    " size INTEGER NOT NULL, mtime INTEGER NOT NULL,"
    " xxh64 TEXT NOT NULL,"
    " flow TEXT NOT NULL, run_id TEXT NOT NULL,"
    " records INTEGER NOT NULL, time INTEGER NOT NULL);"
    "CREATE INDEX loads_by_file ON loads (flow, stage, path, size);";

const char cat_stage_columns[] =
    "name, kind, url, bucket, path, endpoint, region, key_id_env, "
    "secret_env, credentials_file, enabled, created, comment";

const char *spate_stage_kind_name(enum spate_stage_kind kind)
{
	return kind == SPATE_STAGE_S3 ? "s3" : "local";
}

void cat_set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* SQLite's answer as -errno, with what failed in err. */
int cat_db_fail(struct spate_catalog *c, int rc, const char *what, char *err,
		size_t errlen)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		cat_set_err(err, errlen,
			    "catalog %s is busy: another process held it for "
			    "more than %d s",
			    c->path, SPATE_CATALOG_BUSY_MS / 1000);
		return -EBUSY;
	}
	cat_set_err(err, errlen, "catalog %s: %s: %s", c->path, what,
		    c->db ? sqlite3_errmsg(c->db) : sqlite3_errstr(rc));
	switch (prim) {
	case SQLITE_NOMEM:
		return -ENOMEM;
	case SQLITE_READONLY:
	case SQLITE_PERM:
		return -EACCES;
	case SQLITE_FULL:
		return -ENOSPC;
	case SQLITE_CONSTRAINT:
		return -EEXIST;
	case SQLITE_NOTADB:
	case SQLITE_CORRUPT:
		return -EIO;
	case SQLITE_CANTOPEN:
		return -ENOENT;
	default:
		return -EIO;
	}
}

static int exec(struct spate_catalog *c, const char *sql, char *err,
		size_t errlen)
{
	int rc = sqlite3_exec(c->db, sql, NULL, NULL, NULL);

	return rc == SQLITE_OK ? 0 : cat_db_fail(c, rc, sql, err, errlen);
}

int cat_begin(struct spate_catalog *c, char *err, size_t errlen)
{
	return exec(c, "BEGIN IMMEDIATE", err, errlen);
}

static int commit(struct spate_catalog *c, char *err, size_t errlen)
{
	int rc = exec(c, "COMMIT", err, errlen);

	if (rc)
		sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
	return rc;
}

void cat_rollback(struct spate_catalog *c)
{
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Finalizes st (NULL: none) and ends the transaction: committed when rc
 * is 0, else rolled back and rc returned. */
int cat_end_txn(struct spate_catalog *c, sqlite3_stmt *st, int rc, char *err,
		size_t errlen)
{
	sqlite3_finalize(st);
	if (rc) {
		cat_rollback(c);
		return rc;
	}
	return commit(c, err, errlen);
}

int cat_prepare(struct spate_catalog *c, const char *sql, sqlite3_stmt **st,
		char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0
			       : cat_db_fail(c, rc, "prepare", err, errlen);
}

/* Binds a string or NULL. */
int cat_bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
		 : sqlite3_bind_null(st, i);
}

char *cat_col_dup(sqlite3_stmt *st, int i)
{
	const unsigned char *t = sqlite3_column_text(st, i);

	return t ? strdup((const char *)t) : NULL;
}

/* ---- paths --------------------------------------------------------------- */

int spate_catalog_default_path(char *buf, size_t len)
{
	const char *home = getenv("SPATE_HOME");
	int n;

	if (home && *home)
		n = snprintf(buf, len, "%s/catalog.db", home);
	else if ((home = getenv("XDG_DATA_HOME")) && *home)
		n = snprintf(buf, len, "%s/spate/catalog.db", home);
	else if ((home = getenv("HOME")) && *home)
		n = snprintf(buf, len, "%s/.local/share/spate/catalog.db",
			     home);
	else
		return -ENOENT;
	return n < 0 || (size_t)n >= len ? -ENAMETOOLONG : 0;
}

/* mkdir -p of the folders above path (mode 0700 for new ones). */
static int make_parents(const char *path)
{
	char tmp[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(tmp))
		return -ENAMETOOLONG;
	memcpy(tmp, path, n + 1);
	char *slash = strrchr(tmp, '/');
	if (!slash || slash == tmp)
		return 0;
	*slash = '\0';
	for (char *p = tmp + 1; *p; p++) {
		if (*p != '/')
			continue;
		*p = '\0';
		if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	if (mkdir(tmp, 0700) < 0 && errno != EEXIST)
		return -errno;
	return 0;
}

/* Folds "//", "/./" and "/x/../" of an absolute path into out. */
int cat_clean_path(const char *in, char *out, size_t len)
{
	size_t n = 0;
	const char *p = in;

	if (in[0] != '/' || len < 2)
		return -EINVAL;
	out[n++] = '/';
	while (*p) {
		while (*p == '/')
			p++;
		const char *e = strchrnul(p, '/');
		size_t k = (size_t)(e - p);
		if (k == 0 || (k == 1 && p[0] == '.')) {
			/* nothing */
		} else if (k == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 1 && out[n - 1] != '/')
				n--;
			if (n > 1)
				n--; /* the slash before the removed name */
		} else {
			if (n > 1) {
				if (n + 1 >= len)
					return -ENAMETOOLONG;
				out[n++] = '/';
			}
			if (n + k >= len)
				return -ENAMETOOLONG;
			memcpy(out + n, p, k);
			n += k;
		}
		p = e;
	}
	out[n] = '\0';
	return 0;
}

/* ---- open and close ------------------------------------------------------ */

static int migrate(struct spate_catalog *c, char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = cat_begin(c, err, errlen);

	if (rc)
		return rc;
	int version = -1, tables = 0;
	if ((rc = cat_prepare(c, "PRAGMA user_version", &st, err, errlen)))
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if ((rc = cat_prepare(c, "SELECT count(*) FROM sqlite_master", &st, err,
			      errlen)))
		goto out;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (step != SQLITE_ROW) {
		rc = cat_db_fail(c, step, "read schema", err, errlen);
		goto out;
	}
	if (version > SPATE_CATALOG_SCHEMA) {
		cat_set_err(
		    err, errlen,
		    "catalog %s has schema version %d; this spate knows "
		    "versions up to %d (use a newer spate)",
		    c->path, version, SPATE_CATALOG_SCHEMA);
		rc = -EPROTO;
		goto out;
	}
	if (version == 0 && tables) {
		cat_set_err(err, errlen,
			    "%s is an SQLite database but not a spate catalog",
			    c->path);
		rc = -EIO;
		goto out;
	}
	if (version == 0) {
		if ((rc = exec(c, schema_v1, err, errlen)))
			goto out;
		char sql[64];
		snprintf(sql, sizeof(sql), "PRAGMA user_version = %d",
			 SPATE_CATALOG_SCHEMA);
		if ((rc = exec(c, sql, err, errlen)))
			goto out;
	}
	return commit(c, err, errlen);
out:
	cat_rollback(c);
	return rc;
}

int spate_catalog_open(const char *path, struct spate_catalog **out, char *err,
		       size_t errlen)
{
	char def[PATH_MAX];
	struct stat sb;
	int rc;

	if (!path) {
		rc = spate_catalog_default_path(def, sizeof(def));
		if (rc) {
			cat_set_err(
			    err, errlen,
			    "no catalog: set SPATE_HOME (or HOME), or give "
			    "--catalog PATH");
			return rc;
		}
		path = def;
	}
	if (!*path) {
		cat_set_err(err, errlen, "empty catalog path");
		return -EINVAL;
	}
	struct spate_catalog *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		cat_set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* create it ourselves so that it is 0600 from the first byte */
	if (stat(path, &sb) < 0) {
		if ((rc = make_parents(path)) < 0) {
			cat_set_err(
			    err, errlen,
			    "cannot create the folder of catalog %s: %s", path,
			    strerror(-rc));
			goto fail;
		}
		int fd =
		    open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
		if (fd < 0 && errno != EEXIST) {
			rc = -errno;
			cat_set_err(err, errlen, "cannot create catalog %s: %s",
				    path, strerror(errno));
			goto fail;
		}
		if (fd >= 0)
			close(fd);
	} else if (S_ISDIR(sb.st_mode)) {
		cat_set_err(err, errlen, "catalog %s is a directory", path);
		rc = -EISDIR;
		goto fail;
	} else if ((sb.st_mode & 077) && sb.st_uid == geteuid()) {
		/* someone widened it: the catalog names credential
		 * sources, keep it private */
		chmod(path, 0600);
	}
	rc = sqlite3_open_v2(path, &c->db,
			     SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX, NULL);
	if (rc != SQLITE_OK) {
		rc = cat_db_fail(c, rc, "cannot open", err, errlen);
		goto fail;
	}
	sqlite3_busy_timeout(c->db, SPATE_CATALOG_BUSY_MS);
	sqlite3_extended_result_codes(c->db, 1);
	if ((rc = migrate(c, err, errlen)))
		goto fail;
	*out = c;
	return 0;
fail:
	spate_catalog_close(c);
	return rc;
}

void spate_catalog_close(struct spate_catalog *c)
{
	if (!c)
		return;
	sqlite3_close(c->db);
	free(c->path);
	free(c);
}

const char *spate_catalog_path(const struct spate_catalog *c)
{
	return c->path;
}
