/*
 * The stage catalog (include/spate/catalog.h) on SQLite: the only file
 * that includes sqlite3.h.  Two tables, stages and loads, created on first
 * use and versioned with PRAGMA user_version; every change runs in a
 * BEGIN IMMEDIATE transaction (the write lock is taken up front, so two
 * processes queue on the busy timeout instead of failing on a lock
 * upgrade).
 */
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

static const char stage_columns[] =
	"name, kind, url, bucket, path, endpoint, region, key_id_env, "
	"secret_env, credentials_file, enabled, created, comment";

const char *spate_stage_kind_name(enum spate_stage_kind kind)
{
	return kind == SPATE_STAGE_S3 ? "s3" : "local";
}

static void set_err(char *err, size_t errlen, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void set_err(char *err, size_t errlen, const char *fmt, ...)
{
	va_list ap;

	if (!err || !errlen)
		return;
	va_start(ap, fmt);
	vsnprintf(err, errlen, fmt, ap);
	va_end(ap);
}

/* SQLite's answer as -errno, with what failed in err. */
static int db_fail(struct spate_catalog *c, int rc, const char *what,
		   char *err, size_t errlen)
{
	int prim = rc & 0xff;

	if (prim == SQLITE_BUSY || prim == SQLITE_LOCKED) {
		set_err(err, errlen,
			"catalog %s is busy: another process held it for "
			"more than %d s",
			c->path, SPATE_CATALOG_BUSY_MS / 1000);
		return -EBUSY;
	}
	set_err(err, errlen, "catalog %s: %s: %s", c->path, what,
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

	return rc == SQLITE_OK ? 0 : db_fail(c, rc, sql, err, errlen);
}

static int begin(struct spate_catalog *c, char *err, size_t errlen)
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

static void rollback(struct spate_catalog *c)
{
	sqlite3_exec(c->db, "ROLLBACK", NULL, NULL, NULL);
}

/* Finalizes st (NULL: none) and ends the transaction: committed when rc
 * is 0, else rolled back and rc returned. */
static int end_txn(struct spate_catalog *c, sqlite3_stmt *st, int rc,
		   char *err, size_t errlen)
{
	sqlite3_finalize(st);
	if (rc) {
		rollback(c);
		return rc;
	}
	return commit(c, err, errlen);
}

static int prepare(struct spate_catalog *c, const char *sql,
		   sqlite3_stmt **st, char *err, size_t errlen)
{
	int rc = sqlite3_prepare_v2(c->db, sql, -1, st, NULL);

	return rc == SQLITE_OK ? 0 : db_fail(c, rc, "prepare", err, errlen);
}

/* Binds a string or NULL. */
static int bind_text(sqlite3_stmt *st, int i, const char *s)
{
	return s ? sqlite3_bind_text(st, i, s, -1, SQLITE_TRANSIENT)
		 : sqlite3_bind_null(st, i);
}

static char *col_dup(sqlite3_stmt *st, int i)
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
static int clean_path(const char *in, char *out, size_t len)
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
	int rc = begin(c, err, errlen);

	if (rc)
		return rc;
	int version = -1, tables = 0;
	if ((rc = prepare(c, "PRAGMA user_version", &st, err, errlen)))
		goto out;
	if (sqlite3_step(st) == SQLITE_ROW)
		version = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if ((rc = prepare(c, "SELECT count(*) FROM sqlite_master", &st, err,
			  errlen)))
		goto out;
	int step = sqlite3_step(st);
	if (step == SQLITE_ROW)
		tables = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	if (step != SQLITE_ROW) {
		rc = db_fail(c, step, "read schema", err, errlen);
		goto out;
	}
	if (version > SPATE_CATALOG_SCHEMA) {
		set_err(err, errlen,
			"catalog %s has schema version %d; this spate knows "
			"versions up to %d (use a newer spate)",
			c->path, version, SPATE_CATALOG_SCHEMA);
		rc = -EPROTO;
		goto out;
	}
	if (version == 0 && tables) {
		set_err(err, errlen,
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
	rollback(c);
	return rc;
}

int spate_catalog_open(const char *path, struct spate_catalog **out,
		       char *err, size_t errlen)
{
	char def[PATH_MAX];
	struct stat sb;
	int rc;

	if (!path) {
		rc = spate_catalog_default_path(def, sizeof(def));
		if (rc) {
			set_err(err, errlen,
				"no catalog: set SPATE_HOME (or HOME), or give "
				"--catalog PATH");
			return rc;
		}
		path = def;
	}
	if (!*path) {
		set_err(err, errlen, "empty catalog path");
		return -EINVAL;
	}
	struct spate_catalog *c = calloc(1, sizeof(*c));
	if (!c || !(c->path = strdup(path))) {
		free(c);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* create it ourselves so that it is 0600 from the first byte */
	if (stat(path, &sb) < 0) {
		if ((rc = make_parents(path)) < 0) {
			set_err(err, errlen,
				"cannot create the folder of catalog %s: %s",
				path, strerror(-rc));
			goto fail;
		}
		int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC,
			      0600);
		if (fd < 0 && errno != EEXIST) {
			rc = -errno;
			set_err(err, errlen, "cannot create catalog %s: %s",
				path, strerror(errno));
			goto fail;
		}
		if (fd >= 0)
			close(fd);
	} else if (S_ISDIR(sb.st_mode)) {
		set_err(err, errlen, "catalog %s is a directory", path);
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
		rc = db_fail(c, rc, "cannot open", err, errlen);
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

/* ---- validation ---------------------------------------------------------- */

static int check_name(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n > 0 && n <= SPATE_STAGE_NAME_MAX &&
		  ((name[0] >= 'a' && name[0] <= 'z') ||
		   (name[0] >= 'A' && name[0] <= 'Z'));

	for (size_t i = 0; ok && i < n; i++) {
		char ch = name[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
	}
	if (!ok)
		set_err(err, errlen,
			"bad stage name '%s': use letters, digits, '_' and "
			"'-', starting with a letter, at most %d characters",
			name ? name : "", SPATE_STAGE_NAME_MAX);
	return ok ? 0 : -EINVAL;
}

static bool is_env_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* S3 bucket naming rules: 3-63 of [a-z0-9.-], letter or digit at both
 * ends. */
static bool is_bucket(const char *s, size_t n)
{
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum = (ch >= 'a' && ch <= 'z') ||
			     (ch >= '0' && ch <= '9');
		bool end = i == 0 || i == n - 1;
		if (!alnum && (end || (ch != '.' && ch != '-')))
			return false;
	}
	return true;
}

static int check_credentials(const char *key_env, const char *secret_env,
			     const char *file, char *err, size_t errlen)
{
	if ((key_env != NULL) != (secret_env != NULL)) {
		set_err(err, errlen,
			"give both --key-id-env and --secret-env (the names "
			"of the variables holding the key id and the secret)");
		return -EINVAL;
	}
	if (key_env && file) {
		set_err(err, errlen,
			"give either --key-id-env/--secret-env or "
			"--credentials-file, not both");
		return -EINVAL;
	}
	if (key_env && (!is_env_name(key_env) || !is_env_name(secret_env))) {
		set_err(err, errlen,
			"bad variable name '%s': --key-id-env and --secret-env "
			"take the NAMES of environment variables "
			"([A-Za-z_][A-Za-z0-9_]*), never the values",
			is_env_name(key_env) ? secret_env : key_env);
		return -EINVAL;
	}
	if (file && file[0] != '/') {
		set_err(err, errlen,
			"credentials file '%s' must be an absolute path", file);
		return -EINVAL;
	}
	return 0;
}

static char *s3_url(const char *bucket, const char *prefix)
{
	char *url;

	if (asprintf(&url, "s3://%s%s%s", bucket, prefix && *prefix ? "/" : "",
		     prefix ? prefix : "") < 0)
		return NULL;
	return url;
}

/* "s3://bucket[/prefix]" into bucket and prefix (malloc'd). */
static int parse_s3_url(const char *url, char **bucket, char **prefix,
			char *err, size_t errlen)
{
	if (strncmp(url, "s3://", 5) != 0) {
		set_err(err, errlen, "bad URL '%s': an S3 stage takes "
				     "s3://BUCKET[/PREFIX]", url);
		return -EINVAL;
	}
	const char *b = url + 5;
	const char *slash = strchrnul(b, '/');
	if (!is_bucket(b, (size_t)(slash - b))) {
		set_err(err, errlen,
			"bad bucket name in '%s': 3 to 63 of a-z 0-9 . -, "
			"starting and ending with a letter or digit",
			url);
		return -EINVAL;
	}
	const char *p = slash;
	while (*p == '/')
		p++;
	*bucket = strndup(b, (size_t)(slash - b));
	*prefix = strdup(p);
	if (!*bucket || !*prefix) {
		free(*bucket);
		free(*prefix);
		return -ENOMEM;
	}
	return 0;
}

/* A local root from "/abs" or "file:///abs", cleaned, into out. */
static int local_root(const char *in, char *out, size_t len, char *err,
		      size_t errlen)
{
	const char *p = in;

	if (!strncmp(p, "file://", 7))
		p += 7;
	if (p[0] != '/') {
		set_err(err, errlen,
			"bad path '%s': a local stage needs an absolute path "
			"(or file:///path)",
			in);
		return -EINVAL;
	}
	if (clean_path(p, out, len)) {
		set_err(err, errlen, "path '%s' is too long", in);
		return -ENAMETOOLONG;
	}
	return 0;
}

/* ---- stages -------------------------------------------------------------- */

/* "no stage 'x' in the catalog P (did you mean 'y'?)" */
static int unknown_stage(struct spate_catalog *c, const char *name,
			 char *err, size_t errlen)
{
	struct spate_catalog_stage *v = NULL;
	size_t n = 0;
	const char *hint = NULL;
	const char **names = NULL;

	if (spate_catalog_list(c, &v, &n, NULL, 0) == 0 && n &&
	    (names = calloc(n, sizeof(*names)))) {
		for (size_t i = 0; i < n; i++)
			names[i] = v[i].name;
		hint = sp_suggest(name, names, n);
	}
	if (hint)
		set_err(err, errlen,
			"no stage '%s' in the catalog %s (did you mean '%s'?)",
			name, c->path, hint);
	else
		set_err(err, errlen,
			"no stage '%s' in the catalog %s (`spate stage list` "
			"shows them)",
			name, c->path);
	free(names);
	spate_catalog_stages_free(v, n);
	return -ENOENT;
}

static int insert_stage(struct spate_catalog *c,
			const struct spate_catalog_stage *s, char *err,
			size_t errlen)
{
	sqlite3_stmt *st = NULL;
	int rc = begin(c, err, errlen);

	if (rc)
		return rc;
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO stages (%s) VALUES "
		 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 stage_columns);
	if ((rc = prepare(c, sql, &st, err, errlen)))
		goto out;
	bind_text(st, 1, s->name);
	bind_text(st, 2, spate_stage_kind_name(s->kind));
	bind_text(st, 3, s->url);
	bind_text(st, 4, s->bucket);
	bind_text(st, 5, s->path);
	bind_text(st, 6, s->endpoint);
	bind_text(st, 7, s->region);
	bind_text(st, 8, s->key_id_env);
	bind_text(st, 9, s->secret_env);
	bind_text(st, 10, s->credentials_file);
	sqlite3_bind_int(st, 11, s->enabled);
	sqlite3_bind_int64(st, 12, s->created);
	bind_text(st, 13, s->comment && *s->comment ? s->comment : NULL);
	int step = sqlite3_step(st);
	if ((step & 0xff) == SQLITE_CONSTRAINT) {
		set_err(err, errlen,
			"a stage named '%s' exists already in the catalog %s "
			"(`spate stage alter` changes it, `spate stage drop` "
			"removes it)",
			s->name, c->path);
		rc = -EEXIST;
	} else if (step != SQLITE_DONE) {
		rc = db_fail(c, step, "add stage", err, errlen);
	}
out:
	return end_txn(c, st, rc, err, errlen);
}

int spate_catalog_create_local(struct spate_catalog *c, const char *name,
			       const char *path, const char *comment,
			       char *err, size_t errlen)
{
	char root[PATH_MAX];
	char *url = NULL;
	int rc;

	if ((rc = check_name(name, err, errlen)))
		return rc;
	if (!path || (rc = local_root(path, root, sizeof(root), err, errlen)))
		return path ? rc : -EINVAL;
	if (asprintf(&url, "file://%s", root) < 0)
		return -ENOMEM;
	struct spate_catalog_stage s = {
		.name = (char *)name,
		.kind = SPATE_STAGE_LOCAL,
		.url = url,
		.path = root,
		.enabled = true,
		.created = (int64_t)time(NULL),
		.comment = (char *)comment,
	};
	rc = insert_stage(c, &s, err, errlen);
	free(url);
	return rc;
}

int spate_catalog_create_s3(struct spate_catalog *c, const char *name,
			    const struct spate_s3_spec *spec, char *err,
			    size_t errlen)
{
	int rc;

	if ((rc = check_name(name, err, errlen)))
		return rc;
	if (!spec->bucket || !is_bucket(spec->bucket, strlen(spec->bucket))) {
		set_err(err, errlen,
			"bad bucket name '%s': 3 to 63 of a-z 0-9 . -, "
			"starting and ending with a letter or digit",
			spec->bucket ? spec->bucket : "");
		return -EINVAL;
	}
	if (spec->endpoint && strncmp(spec->endpoint, "http://", 7) &&
	    strncmp(spec->endpoint, "https://", 8)) {
		set_err(err, errlen,
			"bad endpoint '%s': give http://HOST[:PORT] or "
			"https://HOST[:PORT]",
			spec->endpoint);
		return -EINVAL;
	}
	if (spec->region) {
		bool ok = *spec->region != '\0';
		for (const char *p = spec->region; ok && *p; p++)
			ok = (*p >= 'a' && *p <= 'z') ||
			     (*p >= '0' && *p <= '9') || *p == '-';
		if (!ok) {
			set_err(err, errlen,
				"bad region '%s' (e.g. us-east-1)",
				spec->region);
			return -EINVAL;
		}
	}
	if ((rc = check_credentials(spec->key_id_env, spec->secret_env,
				    spec->credentials_file, err, errlen)))
		return rc;
	const char *prefix = spec->path ? spec->path : "";
	while (*prefix == '/')
		prefix++;
	char *url = s3_url(spec->bucket, prefix);
	if (!url)
		return -ENOMEM;
	struct spate_catalog_stage s = {
		.name = (char *)name,
		.kind = SPATE_STAGE_S3,
		.url = url,
		.bucket = (char *)spec->bucket,
		.path = (char *)prefix,
		.endpoint = (char *)spec->endpoint,
		.region = (char *)spec->region,
		.key_id_env = (char *)spec->key_id_env,
		.secret_env = (char *)spec->secret_env,
		.credentials_file = (char *)spec->credentials_file,
		.enabled = true,
		.created = (int64_t)time(NULL),
		.comment = (char *)spec->comment,
	};
	rc = insert_stage(c, &s, err, errlen);
	free(url);
	return rc;
}

/* Every row of st, read by read_row into an array of elements of size
 * sz: the array in *out, its length in *n.  On failure what was read is
 * given to free_rows and the error returned (what: the step failing, for
 * the message).  st is finalized either way. */
static int read_rows(struct spate_catalog *c, sqlite3_stmt *st, size_t sz,
		     int (*read_row)(sqlite3_stmt *st, void *row),
		     void (*free_rows)(void *v, size_t n), const char *what,
		     void **out, size_t *n, char *err, size_t errlen)
{
	char *v = NULL;
	size_t cnt = 0, cap = 0;
	int step;

	while ((step = sqlite3_step(st)) == SQLITE_ROW) {
		if (cnt == cap) {
			size_t nc = cap ? cap * 2 : 8;
			char *p = realloc(v, nc * sz);
			if (!p)
				goto oom;
			v = p;
			cap = nc;
		}
		/* counted first: a row read in part is freed with the rest */
		if (read_row(st, v + cnt++ * sz))
			goto oom;
	}
	sqlite3_finalize(st);
	if (step != SQLITE_DONE) {
		free_rows(v, cnt);
		return db_fail(c, step, what, err, errlen);
	}
	*out = v;
	*n = cnt;
	return 0;
oom:
	sqlite3_finalize(st);
	free_rows(v, cnt);
	set_err(err, errlen, "out of memory");
	return -ENOMEM;
}

static int read_stage(sqlite3_stmt *st, struct spate_catalog_stage *s)
{
	const unsigned char *kind = sqlite3_column_text(st, 1);

	memset(s, 0, sizeof(*s));
	s->name = col_dup(st, 0);
	s->kind = kind && !strcmp((const char *)kind, "s3") ? SPATE_STAGE_S3
							    : SPATE_STAGE_LOCAL;
	s->url = col_dup(st, 2);
	s->bucket = col_dup(st, 3);
	s->path = col_dup(st, 4);
	s->endpoint = col_dup(st, 5);
	s->region = col_dup(st, 6);
	s->key_id_env = col_dup(st, 7);
	s->secret_env = col_dup(st, 8);
	s->credentials_file = col_dup(st, 9);
	s->enabled = sqlite3_column_int(st, 10) != 0;
	s->created = sqlite3_column_int64(st, 11);
	s->comment = col_dup(st, 12);
	if (!s->name || !s->url)
		return -ENOMEM;
	return 0;
}

static void stage_fini(struct spate_catalog_stage *s)
{
	free(s->name);
	free(s->url);
	free(s->bucket);
	free(s->path);
	free(s->endpoint);
	free(s->region);
	free(s->key_id_env);
	free(s->secret_env);
	free(s->credentials_file);
	free(s->comment);
}

void spate_catalog_stage_free(struct spate_catalog_stage *s)
{
	if (!s)
		return;
	stage_fini(s);
	free(s);
}

void spate_catalog_stages_free(struct spate_catalog_stage *v, size_t n)
{
	for (size_t i = 0; v && i < n; i++)
		stage_fini(&v[i]);
	free(v);
}

int spate_catalog_get(struct spate_catalog *c, const char *name,
		      struct spate_catalog_stage **out, char *err,
		      size_t errlen)
{
	sqlite3_stmt *st;
	char sql[256];
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s FROM stages WHERE name = ?",
		 stage_columns);
	if ((rc = prepare(c, sql, &st, err, errlen)))
		return rc;
	bind_text(st, 1, name ? name : "");
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		sqlite3_finalize(st);
		return unknown_stage(c, name ? name : "", err, errlen);
	}
	if (step != SQLITE_ROW) {
		rc = db_fail(c, step, "read stage", err, errlen);
		sqlite3_finalize(st);
		return rc;
	}
	struct spate_catalog_stage *s = calloc(1, sizeof(*s));
	if (!s || read_stage(st, s)) {
		spate_catalog_stage_free(s);
		sqlite3_finalize(st);
		set_err(err, errlen, "out of memory");
		return -ENOMEM;
	}
	sqlite3_finalize(st);
	*out = s;
	return 0;
}

static int read_stage_row(sqlite3_stmt *st, void *row)
{
	return read_stage(st, row);
}

static void free_stage_rows(void *v, size_t n)
{
	spate_catalog_stages_free(v, n);
}

int spate_catalog_list(struct spate_catalog *c,
		       struct spate_catalog_stage **out, size_t *n, char *err,
		       size_t errlen)
{
	sqlite3_stmt *st;
	char sql[256];
	void *v;
	int rc;

	snprintf(sql, sizeof(sql), "SELECT %s FROM stages ORDER BY name",
		 stage_columns);
	if ((rc = prepare(c, sql, &st, err, errlen)))
		return rc;
	rc = read_rows(c, st, sizeof(**out), read_stage_row, free_stage_rows,
		       "list stages", &v, n, err, errlen);
	if (!rc)
		*out = v;
	return rc;
}

/* Runs sql, a change of stage name: the n strings of v (or NULLs) bound
 * first, name last.  -ENOENT when no row changed. */
static int update_stage(struct spate_catalog *c, const char *sql,
			const char *const *v, int n, const char *name,
			char *err, size_t errlen)
{
	sqlite3_stmt *st;
	int rc = prepare(c, sql, &st, err, errlen);

	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		bind_text(st, i + 1, v[i]);
	bind_text(st, n + 1, name);
	int step = sqlite3_step(st);
	if (step != SQLITE_DONE)
		rc = db_fail(c, step, "change stage", err, errlen);
	else if (sqlite3_changes(c->db) == 0)
		rc = -ENOENT;
	sqlite3_finalize(st);
	return rc;
}

int spate_catalog_alter(struct spate_catalog *c, const char *name,
			const struct spate_stage_change *ch, char *err,
			size_t errlen)
{
	struct spate_catalog_stage *s = NULL;
	char root[PATH_MAX];
	char *bucket = NULL, *prefix = NULL, *url = NULL;
	int rc;

	if ((rc = check_credentials(ch->key_id_env, ch->secret_env,
				    ch->credentials_file, err, errlen)))
		return rc;
	if ((rc = begin(c, err, errlen)))
		return rc;
	/* read inside the transaction: nobody changes it under us */
	if ((rc = spate_catalog_get(c, name, &s, err, errlen)))
		goto out;
	bool creds = ch->key_id_env || ch->credentials_file;
	if (s->kind == SPATE_STAGE_LOCAL && creds) {
		set_err(err, errlen,
			"stage '%s' is a local folder: it takes no "
			"credentials",
			name);
		rc = -EINVAL;
		goto out;
	}
	if (ch->url && s->kind == SPATE_STAGE_LOCAL) {
		if (!strncmp(ch->url, "s3://", 5)) {
			set_err(err, errlen,
				"stage '%s' is local and '%s' is an S3 URL: "
				"drop the stage and create an S3 one",
				name, ch->url);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = local_root(ch->url, root, sizeof(root), err, errlen)))
			goto out;
		prefix = strdup(root);
		if (!prefix || asprintf(&url, "file://%s", root) < 0) {
			url = NULL;
			rc = -ENOMEM;
			goto out;
		}
	} else if (ch->url) {
		if ((rc = parse_s3_url(ch->url, &bucket, &prefix, err, errlen)))
			goto out;
		if (!(url = s3_url(bucket, prefix))) {
			rc = -ENOMEM;
			goto out;
		}
	}
	if (url) {
		const char *v[] = {url, prefix, bucket};

		if ((rc = update_stage(c,
				       "UPDATE stages SET url = ?, path = ?, "
				       "bucket = coalesce(?, bucket) "
				       "WHERE name = ?",
				       v, 3, name, err, errlen)))
			goto out;
	}
	if (creds) {
		const char *v[] = {ch->key_id_env, ch->secret_env,
				   ch->credentials_file};

		if ((rc = update_stage(c,
				       "UPDATE stages SET key_id_env = ?, "
				       "secret_env = ?, credentials_file = ? "
				       "WHERE name = ?",
				       v, 3, name, err, errlen)))
			goto out;
	}
	if (ch->comment) {
		const char *v[] = {*ch->comment ? ch->comment : NULL};

		if ((rc = update_stage(c,
				       "UPDATE stages SET comment = ? "
				       "WHERE name = ?",
				       v, 1, name, err, errlen)))
			goto out;
	}
	if (ch->enabled >= 0)
		rc = update_stage(c,
				  ch->enabled ? "UPDATE stages SET enabled = 1 "
						"WHERE name = ?"
					      : "UPDATE stages SET enabled = 0 "
						"WHERE name = ?",
				  NULL, 0, name, err, errlen);
out:
	rc = end_txn(c, NULL, rc, err, errlen);
	spate_catalog_stage_free(s);
	free(bucket);
	free(prefix);
	free(url);
	return rc;
}

int spate_catalog_drop(struct spate_catalog *c, const char *name, char *err,
		       size_t errlen)
{
	int rc = begin(c, err, errlen);

	if (rc)
		return rc;
	rc = update_stage(c, "DELETE FROM stages WHERE name = ?", NULL, 0,
			  name, err, errlen);
	if (rc == -ENOENT) {
		rollback(c);
		return unknown_stage(c, name, err, errlen);
	}
	return end_txn(c, NULL, rc, err, errlen);
}

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
	if ((rc = begin(c, err, errlen)))
		return rc;
	if ((rc = prepare(c,
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
		bind_text(st, 1, v[i].stage);
		bind_text(st, 2, v[i].path);
		sqlite3_bind_int64(st, 3, (int64_t)v[i].size);
		sqlite3_bind_int64(st, 4, v[i].mtime);
		bind_text(st, 5, hex);
		bind_text(st, 6, v[i].flow);
		bind_text(st, 7, v[i].run_id ? v[i].run_id : "");
		sqlite3_bind_int64(st, 8, (int64_t)v[i].records);
		sqlite3_bind_int64(st, 9, now);
		int step = sqlite3_step(st);
		if (step != SQLITE_DONE) {
			rc = db_fail(c, step, "record load", err, errlen);
			break;
		}
	}
out:
	return end_txn(c, st, rc, err, errlen);
}

int spate_catalog_is_loaded(struct spate_catalog *c, const char *flow,
			    const char *stage, const char *path,
			    uint64_t size, const uint64_t *xxh64)
{
	sqlite3_stmt *st;
	char hex[17];
	int rc;

	rc = prepare(c,
		     xxh64 ? "SELECT 1 FROM loads WHERE flow = ? AND stage = ? "
			     "AND path = ? AND size = ? AND xxh64 = ? LIMIT 1"
			   : "SELECT 1 FROM loads WHERE flow = ? AND stage = ? "
			     "AND path = ? AND size = ? LIMIT 1",
		     &st, NULL, 0);
	if (rc)
		return rc;
	bind_text(st, 1, flow);
	bind_text(st, 2, stage);
	bind_text(st, 3, path);
	sqlite3_bind_int64(st, 4, (int64_t)size);
	if (xxh64) {
		snprintf(hex, sizeof(hex), "%016" PRIx64, *xxh64);
		bind_text(st, 5, hex);
	}
	int step = sqlite3_step(st);
	sqlite3_finalize(st);
	if (step == SQLITE_ROW)
		return 1;
	if (step == SQLITE_DONE)
		return 0;
	return db_fail(c, step, "read load history", NULL, 0);
}

static int read_load_row(sqlite3_stmt *st, void *row)
{
	struct spate_catalog_load *l = row;
	const unsigned char *hex;

	memset(l, 0, sizeof(*l));
	l->stage = col_dup(st, 0);
	l->path = col_dup(st, 1);
	l->size = (uint64_t)sqlite3_column_int64(st, 2);
	l->mtime = sqlite3_column_int64(st, 3);
	hex = sqlite3_column_text(st, 4);
	l->xxh64 = hex ? strtoull((const char *)hex, NULL, 16) : 0;
	l->flow = col_dup(st, 5);
	l->run_id = col_dup(st, 6);
	l->records = (uint64_t)sqlite3_column_int64(st, 7);
	l->time = sqlite3_column_int64(st, 8);
	return !l->stage || !l->path || !l->flow || !l->run_id ? -ENOMEM : 0;
}

static void free_load_rows(void *v, size_t n)
{
	spate_catalog_loads_free(v, n);
}

int spate_catalog_history(struct spate_catalog *c, const char *flow,
			  struct spate_catalog_load **out, size_t *n,
			  char *err, size_t errlen)
{
	sqlite3_stmt *st;
	void *v;
	int rc;

	rc = prepare(c,
		     flow ? "SELECT stage, path, size, mtime, xxh64, flow, "
			    "run_id, records, time FROM loads WHERE flow = ? "
			    "ORDER BY id"
			  : "SELECT stage, path, size, mtime, xxh64, flow, "
			    "run_id, records, time FROM loads ORDER BY id",
		     &st, err, errlen);
	if (rc)
		return rc;
	if (flow)
		bind_text(st, 1, flow);
	rc = read_rows(c, st, sizeof(**out), read_load_row, free_load_rows,
		       "read load history", &v, n, err, errlen);
	if (!rc)
		*out = v;
	return rc;
}
