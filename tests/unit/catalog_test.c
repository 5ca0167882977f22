/*
 * Tests of the stage catalog (include/spate/catalog.h): schema creation
 * and versioning, file mode, default location, stages (create, duplicate,
 * unknown, alter, drop, list), load history, paths under a stage
 * (.., absolute, symlinks), the streaming content hash, and two processes
 * using one catalog at once.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <errno.h>
#include <fcntl.h>
#include <sqlite3.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/xxh64.h"
#include "io/commit.h"
#include "spate/catalog.h"

static char root[64];
static char db[128];
static char err[1024];

static void setup(void)
{
	strcpy(root, "/tmp/spate-catalog-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
	snprintf(db, sizeof(db), "%s/home/catalog.db", root);
	err[0] = '\0';
}

static void teardown(void)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", root);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(catalog, .init = setup, .fini = teardown);

static struct spate_catalog *open_db(void)
{
	struct spate_catalog *c = NULL;
	int rc = spate_catalog_open(db, &c, err, sizeof(err));

	cr_assert_eq(rc, 0, "open: %d %s", rc, err);
	return c;
}

static int pragma_int(const char *path, const char *sql)
{
	sqlite3 *h;
	sqlite3_stmt *st;
	int v = -1;

	cr_assert_eq(sqlite3_open_v2(path, &h, SQLITE_OPEN_READWRITE, NULL),
		     SQLITE_OK);
	cr_assert_eq(sqlite3_prepare_v2(h, sql, -1, &st, NULL), SQLITE_OK);
	if (sqlite3_step(st) == SQLITE_ROW)
		v = sqlite3_column_int(st, 0);
	sqlite3_finalize(st);
	sqlite3_close(h);
	return v;
}

static void sql_exec(const char *path, const char *sql)
{
	sqlite3 *h;

	cr_assert_eq(sqlite3_open(path, &h), SQLITE_OK);
	cr_assert_eq(sqlite3_exec(h, sql, NULL, NULL, NULL), SQLITE_OK, "%s",
		     sqlite3_errmsg(h));
	sqlite3_close(h);
}

/* ---- schema, file, location ---------------------------------------------- */

Test(catalog, created_on_first_use_with_schema_and_mode_0600)
{
	mode_t old = umask(0);
	struct spate_catalog *c = open_db();
	umask(old);
	struct stat st;

	cr_assert_str_eq(spate_catalog_path(c), db);
	spate_catalog_close(c);
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600, "mode %o", st.st_mode & 0777);
	char dir[160];
	snprintf(dir, sizeof(dir), "%s/home", root);
	cr_assert_eq(stat(dir, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0700, "dir mode %o", st.st_mode & 0777);
	cr_assert_eq(pragma_int(db, "PRAGMA user_version"),
		     SPATE_CATALOG_SCHEMA);
	cr_assert_eq(pragma_int(db, "SELECT count(*) FROM sqlite_master WHERE "
				    "type = 'table' AND name IN ('stages', "
				    "'loads')"),
		     2);
	/* opening again keeps what is there */
	c = open_db();
	cr_assert_eq(spate_catalog_create_local(c, "a", "/data", NULL, err,
						sizeof(err)),
		     0);
	spate_catalog_close(c);
	c = open_db();
	struct spate_catalog_stage *s = NULL;
	cr_assert_eq(spate_catalog_get(c, "a", &s, err, sizeof(err)), 0);
	spate_catalog_stage_free(s);
	spate_catalog_close(c);
}

Test(catalog, widened_file_mode_is_tightened)
{
	spate_catalog_close(open_db());
	cr_assert_eq(chmod(db, 0644), 0);
	spate_catalog_close(open_db());
	struct stat st;
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}

Test(catalog, newer_schema_and_foreign_files_refused)
{
	struct spate_catalog *c = NULL;

	spate_catalog_close(open_db());
	sql_exec(db, "PRAGMA user_version = 99");
	cr_assert_eq(spate_catalog_open(db, &c, err, sizeof(err)), -EPROTO);
	cr_assert_null(c);
	cr_assert_not_null(strstr(err, "schema version 99"), "%s", err);

	char other[160];
	snprintf(other, sizeof(other), "%s/other.db", root);
	sql_exec(other, "CREATE TABLE t (x)");
	cr_assert_eq(spate_catalog_open(other, &c, err, sizeof(err)), -EIO);
	cr_assert_not_null(strstr(err, "not a spate catalog"), "%s", err);

	char text[160];
	snprintf(text, sizeof(text), "%s/text.db", root);
	FILE *f = fopen(text, "w");
	cr_assert_not_null(f);
	fputs("this is not a database, just some text that is long enough "
	      "to fill SQLite's header of one hundred bytes.................",
	      f);
	fclose(f);
	cr_assert_eq(spate_catalog_open(text, &c, err, sizeof(err)), -EIO);

	cr_assert_eq(spate_catalog_open(root, &c, err, sizeof(err)), -EISDIR);
}

Test(catalog, default_path)
{
	char buf[512];
	char *home = getenv("HOME") ? strdup(getenv("HOME")) : NULL;

	setenv("SPATE_HOME", "/srv/spate", 1);
	setenv("XDG_DATA_HOME", "/xdg", 1);
	setenv("HOME", "/home/u", 1);
	cr_assert_eq(spate_catalog_default_path(buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/srv/spate/catalog.db");
	unsetenv("SPATE_HOME");
	cr_assert_eq(spate_catalog_default_path(buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/xdg/spate/catalog.db");
	setenv("XDG_DATA_HOME", "", 1);
	cr_assert_eq(spate_catalog_default_path(buf, sizeof(buf)), 0);
	cr_assert_str_eq(buf, "/home/u/.local/share/spate/catalog.db");
	unsetenv("XDG_DATA_HOME");
	unsetenv("HOME");
	cr_assert_eq(spate_catalog_default_path(buf, sizeof(buf)), -ENOENT);
	cr_assert_eq(spate_catalog_default_path(buf, 8), -ENOENT);
	setenv("SPATE_HOME", "/a/rather/long/folder", 1);
	cr_assert_eq(spate_catalog_default_path(buf, 8), -ENAMETOOLONG);

	/* open(NULL) uses it */
	char home_dir[160];
	snprintf(home_dir, sizeof(home_dir), "%s/spate-home", root);
	setenv("SPATE_HOME", home_dir, 1);
	struct spate_catalog *c = NULL;
	cr_assert_eq(spate_catalog_open(NULL, &c, err, sizeof(err)), 0, "%s",
		     err);
	char want[200];
	snprintf(want, sizeof(want), "%s/catalog.db", home_dir);
	cr_assert_str_eq(spate_catalog_path(c), want);
	spate_catalog_close(c);
	unsetenv("SPATE_HOME");
	if (home)
		setenv("HOME", home, 1);
	free(home);
}

/* ---- stages -------------------------------------------------------------- */

Test(catalog, create_local_and_get)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *s = NULL;

	cr_assert_eq(spate_catalog_create_local(c, "raw",
						"/data//in/./x/../y/",
						"daily drops", err,
						sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(spate_catalog_get(c, "raw", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->name, "raw");
	cr_assert_eq(s->kind, SPATE_STAGE_LOCAL);
	cr_assert_str_eq(s->path, "/data/in/y");
	cr_assert_str_eq(s->url, "file:///data/in/y");
	cr_assert_null(s->bucket);
	cr_assert_null(s->key_id_env);
	cr_assert_null(s->credentials_file);
	cr_assert(s->enabled);
	cr_assert_str_eq(s->comment, "daily drops");
	cr_assert(s->created > 1600000000);
	spate_catalog_stage_free(s);

	/* no comment is NULL; a file:// URL is a path too */
	cr_assert_eq(spate_catalog_create_local(c, "b", "file:///b", "", err,
						sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(spate_catalog_get(c, "b", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->path, "/b");
	cr_assert_null(s->comment);
	spate_catalog_stage_free(s);
	spate_catalog_close(c);
}

Test(catalog, bad_names_and_paths)
{
	struct spate_catalog *c = open_db();
	const char *bad[] = {"",     "1raw", "_raw", "a b", "a/b",
			     "a.b", "é",    NULL};

	for (int i = 0; bad[i]; i++) {
		cr_assert_eq(spate_catalog_create_local(c, bad[i], "/d", NULL,
							err, sizeof(err)),
			     -EINVAL, "name '%s'", bad[i]);
		cr_assert_not_null(strstr(err, "bad stage name"), "%s", err);
	}
	char longname[80];
	memset(longname, 'a', 65);
	longname[65] = '\0';
	cr_assert_eq(spate_catalog_create_local(c, longname, "/d", NULL, err,
						sizeof(err)),
		     -EINVAL);
	longname[64] = '\0';
	cr_assert_eq(spate_catalog_create_local(c, longname, "/d", NULL, err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_create_local(c, "rel", "data/in", NULL, err,
						sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "absolute"), "%s", err);
	struct spate_catalog_stage *v;
	size_t n;
	cr_assert_eq(spate_catalog_list(c, &v, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 1);
	spate_catalog_stages_free(v, n);
	spate_catalog_close(c);
}

Test(catalog, duplicate_name)
{
	struct spate_catalog *c = open_db();

	cr_assert_eq(spate_catalog_create_local(c, "raw", "/a", NULL, err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_create_local(c, "raw", "/b", NULL, err,
						sizeof(err)),
		     -EEXIST);
	cr_assert_not_null(strstr(err, "a stage named 'raw' exists already"),
			   "%s", err);
	struct spate_s3_spec spec = {.bucket = "bkt"};
	cr_assert_eq(spate_catalog_create_s3(c, "raw", &spec, err, sizeof(err)),
		     -EEXIST);
	/* the first one is unchanged */
	struct spate_catalog_stage *s;
	cr_assert_eq(spate_catalog_get(c, "raw", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->path, "/a");
	spate_catalog_stage_free(s);
	spate_catalog_close(c);
}

Test(catalog, unknown_name_suggests)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *s = NULL;

	cr_assert_eq(spate_catalog_get(c, "raw", &s, err, sizeof(err)),
		     -ENOENT);
	cr_assert_not_null(strstr(err, "no stage 'raw' in the catalog"), "%s",
			   err);
	cr_assert_not_null(strstr(err, db), "%s", err);
	cr_assert_eq(spate_catalog_create_local(c, "raw", "/a", NULL, err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_get(c, "rwa", &s, err, sizeof(err)),
		     -ENOENT);
	cr_assert_not_null(strstr(err, "did you mean 'raw'?"), "%s", err);
	cr_assert_null(s);
	cr_assert_eq(spate_catalog_drop(c, "rawx", err, sizeof(err)), -ENOENT);
	cr_assert_not_null(strstr(err, "did you mean 'raw'?"), "%s", err);
	struct spate_stage_change ch = {.enabled = 0};
	cr_assert_eq(spate_catalog_alter(c, "ra", &ch, err, sizeof(err)),
		     -ENOENT);
	cr_assert_not_null(strstr(err, "did you mean 'raw'?"), "%s", err);
	spate_catalog_close(c);
}

Test(catalog, create_s3)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *s;
	struct spate_s3_spec spec = {
		.bucket = "my-bucket",
		.path = "/data/",
		.endpoint = "http://localhost:9000",
		.region = "us-east-1",
		.key_id_env = "AWS_ACCESS_KEY_ID",
		.secret_env = "AWS_SECRET_ACCESS_KEY",
		.comment = "lake",
	};

	cr_assert_eq(spate_catalog_create_s3(c, "lake", &spec, err,
					     sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(spate_catalog_get(c, "lake", &s, err, sizeof(err)), 0);
	cr_assert_eq(s->kind, SPATE_STAGE_S3);
	cr_assert_str_eq(s->url, "s3://my-bucket/data/");
	cr_assert_str_eq(s->bucket, "my-bucket");
	cr_assert_str_eq(s->path, "data/");
	cr_assert_str_eq(s->endpoint, "http://localhost:9000");
	cr_assert_str_eq(s->region, "us-east-1");
	cr_assert_str_eq(s->key_id_env, "AWS_ACCESS_KEY_ID");
	cr_assert_str_eq(s->secret_env, "AWS_SECRET_ACCESS_KEY");
	cr_assert_null(s->credentials_file);
	spate_catalog_stage_free(s);

	struct spate_s3_spec bare = {.bucket = "b.k-t"};
	cr_assert_eq(spate_catalog_create_s3(c, "bare", &bare, err,
					     sizeof(err)),
		     0, "%s", err);
	cr_assert_eq(spate_catalog_get(c, "bare", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->url, "s3://b.k-t");
	cr_assert_null(s->endpoint);
	spate_catalog_stage_free(s);

	struct {
		struct spate_s3_spec spec;
		const char *why;
	} bad[] = {
		{{.bucket = "My_Bucket"}, "bad bucket name"},
		{{.bucket = "ab"}, "bad bucket name"},
		{{.bucket = "-ab"}, "bad bucket name"},
		{{.bucket = NULL}, "bad bucket name"},
		{{.bucket = "bkt", .endpoint = "localhost:9000"},
		 "bad endpoint"},
		{{.bucket = "bkt", .region = "US East"}, "bad region"},
		{{.bucket = "bkt", .key_id_env = "K"}, "give both"},
		{{.bucket = "bkt", .secret_env = "S"}, "give both"},
		{{.bucket = "bkt", .key_id_env = "K", .secret_env = "S",
		  .credentials_file = "/f"},
		 "not both"},
		{{.bucket = "bkt", .key_id_env = "AKIA/secret+value",
		  .secret_env = "S"},
		 "never the values"},
		{{.bucket = "bkt", .credentials_file = "rel/creds"},
		 "absolute"},
	};
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		err[0] = '\0';
		cr_assert_eq(spate_catalog_create_s3(c, "x", &bad[i].spec, err,
						     sizeof(err)),
			     -EINVAL, "case %zu", i);
		cr_assert_not_null(strstr(err, bad[i].why), "case %zu: %s", i,
				   err);
	}
	spate_catalog_close(c);
}

Test(catalog, alter)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *s;
	struct spate_s3_spec spec = {.bucket = "bkt",
				     .key_id_env = "K",
				     .secret_env = "S",
				     .comment = "old"};

	cr_assert_eq(spate_catalog_create_local(c, "raw", "/a", "c1", err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_create_s3(c, "lake", &spec, err,
					     sizeof(err)),
		     0);

	struct spate_stage_change ch = {.url = "/b/../c", .comment = "",
					.enabled = 0};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(spate_catalog_get(c, "raw", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->path, "/c");
	cr_assert_str_eq(s->url, "file:///c");
	cr_assert_null(s->comment);
	cr_assert_not(s->enabled);
	spate_catalog_stage_free(s);

	ch = (struct spate_stage_change){.enabled = 1};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)), 0);
	cr_assert_eq(spate_catalog_get(c, "raw", &s, err, sizeof(err)), 0);
	cr_assert(s->enabled);
	cr_assert_str_eq(s->path, "/c"); /* untouched */
	spate_catalog_stage_free(s);

	/* a local stage takes no credentials and no S3 URL */
	ch = (struct spate_stage_change){.credentials_file = "/f",
					 .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)),
		     -EINVAL);
	cr_assert_not_null(strstr(err, "takes no credentials"), "%s", err);
	ch = (struct spate_stage_change){.url = "s3://bkt/x", .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)),
		     -EINVAL);
	ch = (struct spate_stage_change){.url = "rel/path", .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)),
		     -EINVAL);

	/* S3: URL, then a credentials file replacing the variables */
	ch = (struct spate_stage_change){.url = "s3://other/p/q",
					 .credentials_file = "/etc/creds",
					 .comment = "new",
					 .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "lake", &ch, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(spate_catalog_get(c, "lake", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->url, "s3://other/p/q");
	cr_assert_str_eq(s->bucket, "other");
	cr_assert_str_eq(s->path, "p/q");
	cr_assert_str_eq(s->credentials_file, "/etc/creds");
	cr_assert_null(s->key_id_env);
	cr_assert_null(s->secret_env);
	cr_assert_str_eq(s->comment, "new");
	spate_catalog_stage_free(s);
	ch = (struct spate_stage_change){.url = "/local/path", .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "lake", &ch, err, sizeof(err)),
		     -EINVAL);
	ch = (struct spate_stage_change){.url = "s3://X/p", .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "lake", &ch, err, sizeof(err)),
		     -EINVAL);
	/* a failed alter changes nothing */
	ch = (struct spate_stage_change){.url = "s3://fine/p",
					 .key_id_env = "K",
					 .enabled = -1};
	cr_assert_eq(spate_catalog_alter(c, "lake", &ch, err, sizeof(err)),
		     -EINVAL);
	cr_assert_eq(spate_catalog_get(c, "lake", &s, err, sizeof(err)), 0);
	cr_assert_str_eq(s->bucket, "other");
	spate_catalog_stage_free(s);
	spate_catalog_close(c);
}

Test(catalog, drop_and_list)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *v;
	size_t n;

	cr_assert_eq(spate_catalog_list(c, &v, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 0);
	cr_assert_null(v);
	const char *names[] = {"zeta", "alpha", "mid"};
	for (int i = 0; i < 3; i++)
		cr_assert_eq(spate_catalog_create_local(c, names[i], "/d", NULL,
							err, sizeof(err)),
			     0);
	cr_assert_eq(spate_catalog_list(c, &v, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 3);
	cr_assert_str_eq(v[0].name, "alpha");
	cr_assert_str_eq(v[1].name, "mid");
	cr_assert_str_eq(v[2].name, "zeta");
	spate_catalog_stages_free(v, n);

	struct spate_catalog_load l = {.stage = "mid", .path = "a.jsonl",
				       .size = 3, .xxh64 = 7, .flow = "f",
				       .run_id = "r", .records = 1};
	cr_assert_eq(spate_catalog_record_loads(c, &l, 1, err, sizeof(err)), 0);
	cr_assert_eq(spate_catalog_drop(c, "mid", err, sizeof(err)), 0);
	cr_assert_eq(spate_catalog_drop(c, "mid", err, sizeof(err)), -ENOENT);
	cr_assert_eq(spate_catalog_list(c, &v, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].name, "alpha");
	cr_assert_str_eq(v[1].name, "zeta");
	spate_catalog_stages_free(v, n);
	/* the history stays */
	struct spate_catalog_load *h;
	cr_assert_eq(spate_catalog_history(c, NULL, &h, &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 1);
	spate_catalog_loads_free(h, n);
	spate_catalog_close(c);
}

/* ---- load history -------------------------------------------------------- */

Test(catalog, history)
{
	struct spate_catalog *c = open_db();
	struct spate_catalog_load v[] = {
		{.stage = "raw", .path = "a.jsonl", .size = 10, .mtime = 100,
		 .xxh64 = 0x0123456789abcdefull, .flow = "f1", .run_id = "r1",
		 .records = 4},
		{.stage = "raw", .path = "b.jsonl", .size = 20, .mtime = 200,
		 .xxh64 = 0xfedcba9876543210ull, .flow = "f1", .run_id = "r1",
		 .records = 7},
		{.stage = "raw", .path = "a.jsonl", .size = 10, .mtime = 100,
		 .xxh64 = 0x0123456789abcdefull, .flow = "f2", .run_id = "r2",
		 .records = 4},
	};
	struct spate_catalog_load *h;
	size_t n;

	cr_assert_eq(spate_catalog_history(c, NULL, &h, &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 0);
	cr_assert_eq(spate_catalog_record_loads(c, v, 3, err, sizeof(err)), 0,
		     "%s", err);
	cr_assert_eq(spate_catalog_history(c, NULL, &h, &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 3);
	for (size_t i = 0; i < 3; i++) {
		cr_assert_str_eq(h[i].stage, v[i].stage);
		cr_assert_str_eq(h[i].path, v[i].path);
		cr_assert_eq(h[i].size, v[i].size);
		cr_assert_eq(h[i].mtime, v[i].mtime);
		cr_assert_eq(h[i].xxh64, v[i].xxh64);
		cr_assert_str_eq(h[i].flow, v[i].flow);
		cr_assert_str_eq(h[i].run_id, v[i].run_id);
		cr_assert_eq(h[i].records, v[i].records);
		cr_assert(h[i].time > 1600000000);
	}
	spate_catalog_loads_free(h, n);
	cr_assert_eq(spate_catalog_history(c, "f2", &h, &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(h[0].run_id, "r2");
	spate_catalog_loads_free(h, n);

	uint64_t good = 0x0123456789abcdefull, other = 1;
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw", "a.jsonl", 10,
					     NULL),
		     1);
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw", "a.jsonl", 10,
					     &good),
		     1);
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw", "a.jsonl", 10,
					     &other),
		     0);
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw", "a.jsonl", 11,
					     NULL),
		     0);
	cr_assert_eq(spate_catalog_is_loaded(c, "f3", "raw", "a.jsonl", 10,
					     NULL),
		     0);
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw2", "a.jsonl", 10,
					     NULL),
		     0);
	cr_assert_eq(spate_catalog_is_loaded(c, "f1", "raw", "c.jsonl", 10,
					     NULL),
		     0);
	spate_catalog_close(c);
}

/* ---- paths under a stage ------------------------------------------------- */

static void touch(const char *path)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0644);

	cr_assert(fd >= 0, "%s: %s", path, strerror(errno));
	close(fd);
}

Test(catalog, local_root_and_paths)
{
	struct spate_catalog *c = open_db();
	char in[160], real_in[160], p[256], *r = NULL;

	snprintf(in, sizeof(in), "%s/in", root);
	cr_assert_eq(mkdir(in, 0755), 0);
	cr_assert_not_null(realpath(in, real_in));
	snprintf(p, sizeof(p), "%s/sub", in);
	cr_assert_eq(mkdir(p, 0755), 0);
	snprintf(p, sizeof(p), "%s/a.jsonl", in);
	touch(p);
	cr_assert_eq(spate_catalog_create_local(c, "raw", in, NULL, err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_local_root(c, "raw", &r, err, sizeof(err)),
		     0, "%s", err);
	cr_assert_str_eq(r, real_in);

	const char *ok[] = {"a.jsonl", "sub", "sub/new/deeper/file",
			    "*.jsonl", "./a.jsonl", "sub/x..y", NULL};
	for (int i = 0; ok[i]; i++)
		cr_assert_eq(spate_catalog_check_path(r, "raw", ok[i], err,
						      sizeof(err)),
			     0, "%s: %s", ok[i], err);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "../x", err,
					      sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "may not contain '..'"), "%s", err);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "sub/../../x", err,
					      sizeof(err)),
		     -EACCES);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "sub/..", err,
					      sizeof(err)),
		     -EACCES);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "/etc/passwd", err,
					      sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "is absolute"), "%s", err);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "", err, sizeof(err)),
		     -EINVAL);

	/* symlinks: out is refused (a file, or a folder on the way), in is
	 * fine */
	snprintf(p, sizeof(p), "%s/out.jsonl", in);
	cr_assert_eq(symlink("/etc/passwd", p), 0);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "out.jsonl", err,
					      sizeof(err)),
		     -EACCES);
	cr_assert_not_null(strstr(err, "resolves to /etc/passwd, outside stage "
				       "'raw'"),
			   "%s", err);
	snprintf(p, sizeof(p), "%s/etc", in);
	cr_assert_eq(symlink("/etc", p), 0);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "etc/new/file", err,
					      sizeof(err)),
		     -EACCES);
	snprintf(p, sizeof(p), "%s/inner", in);
	cr_assert_eq(symlink("sub", p), 0);
	cr_assert_eq(spate_catalog_check_path(r, "raw", "inner/f", err,
					      sizeof(err)),
		     0, "%s", err);
	free(r);

	/* a root that does not exist yet resolves what exists of it */
	char later[200];
	snprintf(later, sizeof(later), "%s/later/x", in);
	cr_assert_eq(spate_catalog_create_local(c, "later", later, NULL, err,
						sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_local_root(c, "later", &r, err,
					      sizeof(err)),
		     0, "%s", err);
	snprintf(p, sizeof(p), "%s/later/x", real_in);
	cr_assert_str_eq(r, p);
	free(r);

	/* disabled, S3, unknown */
	struct spate_stage_change ch = {.enabled = 0};
	cr_assert_eq(spate_catalog_alter(c, "raw", &ch, err, sizeof(err)), 0);
	r = NULL;
	cr_assert_eq(spate_catalog_local_root(c, "raw", &r, err, sizeof(err)),
		     -EPERM);
	cr_assert_not_null(strstr(err, "stage 'raw' is disabled"), "%s", err);
	struct spate_s3_spec spec = {.bucket = "bkt"};
	cr_assert_eq(spate_catalog_create_s3(c, "lake", &spec, err,
					     sizeof(err)),
		     0);
	cr_assert_eq(spate_catalog_local_root(c, "lake", &r, err, sizeof(err)),
		     -ENOTSUP);
	cr_assert_str_eq(err, "stage 'lake' is an S3 stage (s3://bkt), not a "
			      "local folder");
	cr_assert_eq(spate_catalog_local_root(c, "nope", &r, err, sizeof(err)),
		     -ENOENT);
	cr_assert_null(r);
	spate_catalog_close(c);
}

/* ---- content hash -------------------------------------------------------- */

/* the hash of a file read in blocks is the one-shot hash of its bytes */
Test(catalog, xxh64_of_a_file)
{
	static char data[(1 << 20) * 2 + 12345];

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 131 + (i >> 7));
	char path[160];
	snprintf(path, sizeof(path), "%s/f.bin", root);
	FILE *f = fopen(path, "w");
	cr_assert_not_null(f);
	fwrite(data, 1, sizeof(data), f);
	fclose(f);
	uint64_t h = 0;
	cr_assert_eq(sp_xxh64_file(path, &h), 0);
	cr_assert_eq(h, sp_commit_xxh64(data, sizeof(data)));
	cr_assert_eq(sp_commit_xxh64("", 0), 0xEF46DB3751D8E999ull);
	snprintf(path, sizeof(path), "%s/missing", root);
	cr_assert_eq(sp_xxh64_file(path, &h), -ENOENT);
}

/* ---- two processes at once ----------------------------------------------- */

#define PER_CHILD 40

static void child(int id)
{
	struct spate_catalog *c = NULL;
	char name[32], e[1024];

	/* both open a catalog that does not exist yet: one creates it */
	if (spate_catalog_open(db, &c, e, sizeof(e)))
		_exit(10);
	for (int i = 0; i < PER_CHILD; i++) {
		snprintf(name, sizeof(name), "p%d-s%d", id, i);
		if (spate_catalog_create_local(c, name, "/d", NULL, e,
					       sizeof(e)))
			_exit(11);
		struct spate_catalog_load l = {.stage = name,
					       .path = "f",
					       .size = (uint64_t)i,
					       .flow = "flow",
					       .run_id = "r",
					       .records = 1};
		if (spate_catalog_record_loads(c, &l, 1, e, sizeof(e)))
			_exit(12);
		/* everyone races for the same name: exactly one wins */
		snprintf(name, sizeof(name), "shared%d", i);
		int rc = spate_catalog_create_local(c, name, "/d", NULL, e,
						    sizeof(e));
		if (rc && rc != -EEXIST)
			_exit(13);
		struct spate_catalog_stage *v;
		size_t n;
		if (spate_catalog_list(c, &v, &n, e, sizeof(e)))
			_exit(14);
		spate_catalog_stages_free(v, n);
	}
	spate_catalog_close(c);
	_exit(0);
}

Test(catalog, two_processes_at_once)
{
	pid_t pids[2];

	for (int i = 0; i < 2; i++) {
		pids[i] = fork();
		cr_assert(pids[i] >= 0);
		if (pids[i] == 0)
			child(i);
	}
	for (int i = 0; i < 2; i++) {
		int st;
		cr_assert_eq(waitpid(pids[i], &st, 0), pids[i]);
		cr_assert(WIFEXITED(st));
		cr_assert_eq(WEXITSTATUS(st), 0, "child %d exited %d", i,
			     WEXITSTATUS(st));
	}
	struct spate_catalog *c = open_db();
	struct spate_catalog_stage *v;
	struct spate_catalog_load *h;
	size_t n;
	cr_assert_eq(spate_catalog_list(c, &v, &n, err, sizeof(err)), 0);
	cr_assert_eq(n, 3 * PER_CHILD);
	spate_catalog_stages_free(v, n);
	cr_assert_eq(spate_catalog_history(c, "flow", &h, &n, err, sizeof(err)),
		     0);
	cr_assert_eq(n, 2 * PER_CHILD);
	spate_catalog_loads_free(h, n);
	spate_catalog_close(c);
	struct stat st;
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
}
