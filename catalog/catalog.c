/*
 * The stage catalog (include/spate/catalog.h): named local and S3
 * locations; create, get, list, alter, drop.
 */
#include "catalog/catalog_internal.h"

#include "core/url.h"

/* ---- stages -------------------------------------------------------------- */

/* "no stage 'x' in the catalog P (did you mean 'y'?)" */
static int unknown_stage(struct spate_catalog *c, const char *name, char *err,
			 size_t errlen)
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
		cat_set_err(
		    err, errlen,
		    "no stage '%s' in the catalog %s (did you mean '%s'?)",
		    name, c->path, hint);
	else
		cat_set_err(
		    err, errlen,
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
	int rc = cat_begin(c, err, errlen);

	if (rc)
		return rc;
	char sql[256];
	snprintf(sql, sizeof(sql),
		 "INSERT INTO stages (%s) VALUES "
		 "(?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
		 cat_stage_columns);
	if ((rc = cat_prepare(c, sql, &st, err, errlen)))
		goto out;
	cat_bind_text(st, 1, s->name);
	cat_bind_text(st, 2, spate_stage_kind_name(s->kind));
	cat_bind_text(st, 3, s->url);
	cat_bind_text(st, 4, s->bucket);
	cat_bind_text(st, 5, s->path);
	cat_bind_text(st, 6, s->endpoint);
	cat_bind_text(st, 7, s->region);
	cat_bind_text(st, 8, s->key_id_env);
	cat_bind_text(st, 9, s->secret_env);
	cat_bind_text(st, 10, s->credentials_file);
	sqlite3_bind_int(st, 11, s->enabled);
	sqlite3_bind_int64(st, 12, s->created);
	cat_bind_text(st, 13, s->comment && *s->comment ? s->comment : NULL);
	int step = sqlite3_step(st);
	if ((step & 0xff) == SQLITE_CONSTRAINT) {
		cat_set_err(
		    err, errlen,
		    "a stage named '%s' exists already in the catalog %s "
		    "(`spate stage alter` changes it, `spate stage drop` "
		    "removes it)",
		    s->name, c->path);
		rc = -EEXIST;
	} else if (step != SQLITE_DONE) {
		rc = cat_db_fail(c, step, "add stage", err, errlen);
	}
out:
	return cat_end_txn(c, st, rc, err, errlen);
}

int spate_catalog_create_local(struct spate_catalog *c, const char *name,
			       const char *path, const char *comment, char *err,
			       size_t errlen)
{
	char root[PATH_MAX];
	char *url = NULL;
	int rc;

	if ((rc = cat_check_name(name, err, errlen)))
		return rc;
	if (!path ||
	    (rc = cat_local_root(path, root, sizeof(root), err, errlen)))
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

	if ((rc = cat_check_name(name, err, errlen)))
		return rc;
	if (!spec->bucket ||
	    !cat_is_bucket(spec->bucket, strlen(spec->bucket))) {
		cat_set_err(err, errlen,
			    "bad bucket name '%s': 3 to 63 of a-z 0-9 . -, "
			    "starting and ending with a letter or digit",
			    spec->bucket ? spec->bucket : "");
		return -EINVAL;
	}
	if (spec->endpoint &&
	    (rc = cat_check_endpoint(spec->endpoint, err, errlen)))
		return rc;
	if (spec->region && (rc = cat_check_region(spec->region, err, errlen)))
		return rc;
	if ((rc = cat_check_credentials(spec->key_id_env, spec->secret_env,
					spec->credentials_file, err, errlen)))
		return rc;
	const char *prefix = spec->path ? spec->path : "";
	while (*prefix == '/')
		prefix++;
	char *url = cat_s3_url(spec->bucket, prefix);
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
int cat_read_rows(struct spate_catalog *c, sqlite3_stmt *st, size_t sz,
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
		return cat_db_fail(c, step, what, err, errlen);
	}
	*out = v;
	*n = cnt;
	return 0;
oom:
	sqlite3_finalize(st);
	free_rows(v, cnt);
	cat_set_err(err, errlen, "out of memory");
	return -ENOMEM;
}

static int read_stage(sqlite3_stmt *st, struct spate_catalog_stage *s)
{
	const unsigned char *kind = sqlite3_column_text(st, 1);

	memset(s, 0, sizeof(*s));
	s->name = cat_col_dup(st, 0);
	s->kind = kind && !strcmp((const char *)kind, "s3") ? SPATE_STAGE_S3
							    : SPATE_STAGE_LOCAL;
	s->url = cat_col_dup(st, 2);
	s->bucket = cat_col_dup(st, 3);
	s->path = cat_col_dup(st, 4);
	s->endpoint = cat_col_dup(st, 5);
	if (s->endpoint && sp_url_has_userinfo(s->endpoint)) {
		/* stored before such endpoints were refused: never shown,
		 * and refused when the stage is used */
		size_t n = strlen(s->endpoint) + 4;
		char *shown = malloc(n);
		if (shown)
			sp_url_shown(s->endpoint, shown, n);
		free(s->endpoint);
		s->endpoint = shown;
		if (!shown)
			return -ENOMEM;
	}
	s->region = cat_col_dup(st, 6);
	s->key_id_env = cat_col_dup(st, 7);
	s->secret_env = cat_col_dup(st, 8);
	s->credentials_file = cat_col_dup(st, 9);
	s->enabled = sqlite3_column_int(st, 10) != 0;
	s->created = sqlite3_column_int64(st, 11);
	s->comment = cat_col_dup(st, 12);
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
		 cat_stage_columns);
	if ((rc = cat_prepare(c, sql, &st, err, errlen)))
		return rc;
	cat_bind_text(st, 1, name ? name : "");
	int step = sqlite3_step(st);
	if (step == SQLITE_DONE) {
		sqlite3_finalize(st);
		return unknown_stage(c, name ? name : "", err, errlen);
	}
	if (step != SQLITE_ROW) {
		rc = cat_db_fail(c, step, "read stage", err, errlen);
		sqlite3_finalize(st);
		return rc;
	}
	struct spate_catalog_stage *s = calloc(1, sizeof(*s));
	if (!s || read_stage(st, s)) {
		spate_catalog_stage_free(s);
		sqlite3_finalize(st);
		cat_set_err(err, errlen, "out of memory");
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
		 cat_stage_columns);
	if ((rc = cat_prepare(c, sql, &st, err, errlen)))
		return rc;
	rc = cat_read_rows(c, st, sizeof(**out), read_stage_row,
			   free_stage_rows, "list stages", &v, n, err, errlen);
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
	int rc = cat_prepare(c, sql, &st, err, errlen);

	if (rc)
		return rc;
	for (int i = 0; i < n; i++)
		cat_bind_text(st, i + 1, v[i]);
	cat_bind_text(st, n + 1, name);
	int step = sqlite3_step(st);
	if (step != SQLITE_DONE)
		rc = cat_db_fail(c, step, "change stage", err, errlen);
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

	if ((rc = cat_check_credentials(ch->key_id_env, ch->secret_env,
					ch->credentials_file, err, errlen)))
		return rc;
	if (ch->default_credentials && (ch->key_id_env || ch->credentials_file)) {
		cat_set_err(err, errlen,
			    "default credentials or a credential source, not "
			    "both");
		return -EINVAL;
	}
	/* "" removes an endpoint (AWS again) or a region (not set) */
	if (ch->endpoint && *ch->endpoint &&
	    (rc = cat_check_endpoint(ch->endpoint, err, errlen)))
		return rc;
	if (ch->region && *ch->region &&
	    (rc = cat_check_region(ch->region, err, errlen)))
		return rc;
	if ((rc = cat_begin(c, err, errlen)))
		return rc;
	/* read inside the transaction: nobody changes it under us */
	if ((rc = spate_catalog_get(c, name, &s, err, errlen)))
		goto out;
	bool creds = ch->key_id_env || ch->credentials_file ||
		     ch->default_credentials;
	if (s->kind == SPATE_STAGE_LOCAL &&
	    (creds || ch->endpoint || ch->region)) {
		cat_set_err(err, errlen,
			    "stage '%s' is a local folder: it takes no %s",
			    name,
			    creds ? "credentials"
			    : ch->endpoint ? "endpoint"
					   : "region");
		rc = -EINVAL;
		goto out;
	}
	if (ch->url && s->kind == SPATE_STAGE_LOCAL) {
		if (!strncmp(ch->url, "s3://", 5)) {
			cat_set_err(
			    err, errlen,
			    "stage '%s' is local and '%s' is an S3 URL: "
			    "drop the stage and create an S3 one",
			    name, ch->url);
			rc = -EINVAL;
			goto out;
		}
		if ((rc = cat_local_root(ch->url, root, sizeof(root), err,
					 errlen)))
			goto out;
		prefix = strdup(root);
		if (!prefix || asprintf(&url, "file://%s", root) < 0) {
			url = NULL;
			rc = -ENOMEM;
			goto out;
		}
	} else if (ch->url) {
		if ((rc = cat_parse_s3_url(ch->url, &bucket, &prefix, err,
					   errlen)))
			goto out;
		if (!(url = cat_s3_url(bucket, prefix))) {
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
	if (ch->endpoint || ch->region) {
		const char *v[] = {ch->endpoint, ch->endpoint && *ch->endpoint
						     ? ch->endpoint
						     : NULL,
				   ch->region, ch->region && *ch->region
						   ? ch->region
						   : NULL};

		if ((rc = update_stage(c,
				       "UPDATE stages SET endpoint = "
				       "iif(?1 IS NULL, endpoint, ?2), "
				       "region = iif(?3 IS NULL, region, ?4) "
				       "WHERE name = ?5",
				       v, 4, name, err, errlen)))
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
	rc = cat_end_txn(c, NULL, rc, err, errlen);
	spate_catalog_stage_free(s);
	free(bucket);
	free(prefix);
	free(url);
	return rc;
}

int spate_catalog_drop(struct spate_catalog *c, const char *name, char *err,
		       size_t errlen)
{
	int rc = cat_begin(c, err, errlen);

	if (rc)
		return rc;
	rc = update_stage(c, "DELETE FROM stages WHERE name = ?", NULL, 0, name,
			  err, errlen);
	if (rc == -ENOENT) {
		cat_rollback(c);
		return unknown_stage(c, name, err, errlen);
	}
	return cat_end_txn(c, NULL, rc, err, errlen);
}
