/*
 * file_reader's inputs on S3, and the block source its reader thread
 * reads from (a local file through io/fileio, or an object through the
 * ranged S3 reader of io/s3.h, 1 MiB ranges with 4 in flight).
 *
 * `stage: NAME` of an S3 catalog stage takes its bucket, key prefix,
 * endpoint, region and credential source from the catalog; paths are
 * keys relative to the prefix.  A path `s3://bucket/key` reads without a
 * stage, with the standard AWS variables (AWS_ACCESS_KEY_ID ...,
 * AWS_ENDPOINT_URL, AWS_REGION, or ~/.aws/credentials with AWS_PROFILE).
 * A path with * ? [ is a glob over the keys: everything listed under the
 * part before the first wildcard, matched like a local glob ('*' does not
 * cross '/'), in key order.
 *
 * Load history of an S3 stage: stage, key (relative to the prefix), size
 * and the ETag, whose XXH64 stands where a local file's content hash
 * does, so that a rerun knows a loaded object without reading it.
 */
#define _GNU_SOURCE
#include "stages/origins/file_reader.h"

#include "core/url.h"
#include "stages/s3_source.h"

bool fr_is_s3_url(const char *p)
{
	return !strncmp(p, "s3://", 5);
}

static uint64_t etag_hash(const char *etag)
{
	return XXH64(etag, strlen(etag), 0);
}

static int add_object(struct fr_state *fr, const char *key,
		      const struct sp_s3_object *o, char *err, size_t errlen)
{
	struct fr_file *f = fr_new_file(fr);
	size_t pl = strlen(fr->s3_prefix);

	if (!f)
		return -ENOMEM;
	f->path = strdup(key);
	/* under a stage: relative to its prefix, as the flow names it */
	if (fr->cfg->stage)
		f->display = strdup(key + pl);
	else if (asprintf(&f->display, "s3://%s/%s", fr->s3_bucket, key) < 0)
		f->display = NULL;
	f->size = o->size;
	f->mtime = o->mtime;
	f->etag_hash = etag_hash(o->etag);
	fr->total_size += f->size;
	(void)err;
	(void)errlen;
	return f->path && f->display ? 0 : -ENOMEM;
}

/* One path: a key, or a glob over keys (full: bucket-relative). */
static int expand_one(struct fr_state *fr, const char *shown, const char *full,
		      char *err, size_t errlen)
{
	size_t lit = strcspn(full, "*?[");
	struct sp_s3_object *v;
	size_t n;
	int rc = sp_s3_glob(fr->s3, fr->s3_bucket, full, &v, &n);

	if (rc == -ENOENT && full[lit]) {
		snprintf(err, errlen,
			 "option 'path': '%s' matches no object (listed "
			 "s3://%s/%.*s)",
			 shown, fr->s3_bucket, (int)lit, full);
		return rc;
	}
	if (rc) {
		snprintf(err, errlen, full[lit] ? "option 'path': cannot list "
						  "'%s': %s"
						: "option 'path': cannot read "
						  "%s: %s",
			 shown, sp_s3_error(fr->s3));
		return rc;
	}
	for (size_t i = 0; !rc && i < n; i++)
		rc = add_object(fr, v[i].key, &v[i], err, errlen);
	sp_s3_objects_free(v, n);
	return rc;
}

static int check_rel(struct fr_state *fr, const char *p, char *err,
		     size_t errlen)
{
	if (!*p || p[0] == '/' || fr_is_s3_url(p)) {
		snprintf(err, errlen,
			 "option 'path': '%s' is not relative: with `stage: "
			 "%s` a path is a key under the stage's prefix "
			 "(s3://%s/%s)",
			 p, fr->cfg->stage, fr->s3_bucket, fr->s3_prefix);
		return -EACCES;
	}
	for (const char *s = p; *s;) {
		const char *e = strchrnul(s, '/');
		if (e - s == 2 && s[0] == '.' && s[1] == '.') {
			snprintf(err, errlen,
				 "option 'path': '%s' leaves stage '%s': a "
				 "path under a stage may not contain '..'",
				 p, fr->cfg->stage);
			return -EACCES;
		}
		s = *e ? e + 1 : e;
	}
	return 0;
}

int fr_s3_expand(struct fr_state *fr, char *err, size_t errlen)
{
	const struct fr_config *cfg = fr->cfg;

	for (uint32_t i = 0; i < cfg->path.n; i++) {
		const char *p = cfg->path.v[i];
		char *full, *bucket = NULL, *key = NULL;
		int rc;
		if (cfg->stage) {
			if ((rc = check_rel(fr, p, err, errlen)))
				return rc;
			if (asprintf(&full, "%s%s", fr->s3_prefix, p) < 0)
				return -ENOMEM;
		} else {
			if (!fr_is_s3_url(p) ||
			    sp_s3_url_parse(p, &bucket, &key) || !*key ||
			    strcmp(bucket, fr->s3_bucket)) {
				snprintf(err, errlen,
					 "option 'path': '%s': every path of "
					 "one file_reader is an object in "
					 "bucket %s (s3://%s/KEY)",
					 p, fr->s3_bucket, fr->s3_bucket);
				free(bucket);
				free(key);
				return -EINVAL;
			}
			free(bucket);
			full = key;
		}
		rc = expand_one(fr, p, full, err, errlen);
		free(full);
		if (rc)
			return rc;
	}
	return 0;
}

/* The client for src; err says what is wrong. */
static int make_client(struct fr_state *fr, const struct sp_s3_source *src,
		       char *err, size_t errlen)
{
	struct sp_s3_config cfg;
	char msg[512];
	int rc = sp_s3_config_resolve(src, &cfg, msg, sizeof(msg));

	if (rc) {
		snprintf(err, errlen, "option '%s': %s",
			 fr->cfg->stage ? "stage" : "path", msg);
		return rc;
	}
	rc = sp_s3_create(&cfg, &fr->s3);
	sp_s3_config_fini(&cfg);
	if (rc)
		snprintf(err, errlen, "cannot start the S3 client: %s",
			 strerror(-rc));
	return rc;
}

int fr_s3_open_stage(struct fr_state *fr, const struct spate_catalog_stage *s,
		     char *err, size_t errlen)
{
	struct sp_s3_source src = sp_s3_source_of_stage(s);
	size_t pl = strlen(s->path ? s->path : "");

	fr->s3_bucket = strdup(s->bucket);
	/* the prefix is a folder of keys: "data" reads "data/..." */
	if (asprintf(&fr->s3_prefix, "%s%s", s->path ? s->path : "",
		     pl && s->path[pl - 1] != '/' ? "/" : "") < 0)
		fr->s3_prefix = NULL;
	if (!fr->s3_bucket || !fr->s3_prefix)
		return -ENOMEM;
	return make_client(fr, &src, err, errlen);
}

int fr_s3_open_url(struct fr_state *fr, const char *url, char *err,
		   size_t errlen)
{
	struct sp_s3_source src = {0};
	char *key;

	if (sp_s3_url_parse(url, &fr->s3_bucket, &key)) {
		char shown[512];

		sp_url_shown(url, shown, sizeof(shown));
		snprintf(err, errlen,
			 "option 'path': '%s' is not s3://BUCKET/KEY%s", shown,
			 sp_url_has_userinfo(url) ? " (credentials never go "
						    "into a URL)"
						  : "");
		return -EINVAL;
	}
	free(key);
	if (!(fr->s3_prefix = strdup("")))
		return -ENOMEM;
	return make_client(fr, &src, err, errlen);
}

/* ---- the block source ---------------------------------------------------- */

int fr_src_open(struct fr_state *fr, const struct fr_file *f, char *err,
		size_t errlen)
{
	int rc;

	if (fr->s3) {
		rc = sp_s3_reader_open(fr->s3, fr->s3_bucket, f->path, f->size,
				       1 << 20, 4,
				       (struct sp_s3_reader **)&fr->rd);
		if (rc < 0)
			snprintf(err, errlen, "cannot read %s: %s", f->display,
				 strerror(-rc));
		return rc;
	}
	if (!fr->io && (rc = sp_io_create(8, &fr->io)) < 0) {
		snprintf(err, errlen, "cannot set up I/O: %s", strerror(-rc));
		return rc;
	}
	rc = sp_io_reader_open(fr->io, f->path, 1 << 20, 4,
			       (struct sp_io_reader **)&fr->rd);
	if (rc < 0)
		snprintf(err, errlen, "cannot open %s: %s", f->display,
			 strerror(-rc));
	return rc;
}

int fr_src_next(struct fr_state *fr, const struct fr_file *f, const char **data,
		size_t *len, char *err, size_t errlen)
{
	int rc = fr->s3 ? sp_s3_reader_next(fr->rd, data, len)
			: sp_io_reader_next(fr->rd, data, len);

	if (rc < 0 && fr->s3)
		snprintf(err, errlen, "cannot read %s: %s", f->display,
			 sp_s3_error(fr->s3));
	else if (rc < 0)
		snprintf(err, errlen, "cannot read %s: %s", f->display,
			 strerror(-rc));
	return rc;
}

void fr_src_release(struct fr_state *fr, const char *data)
{
	if (fr->s3)
		sp_s3_reader_release(fr->rd, data);
	else
		sp_io_reader_release(fr->rd, data);
}

void fr_src_close(struct fr_state *fr)
{
	if (fr->s3)
		sp_s3_reader_close(fr->rd);
	else
		sp_io_reader_close(fr->rd);
	fr->rd = NULL;
}

uint64_t fr_src_digest(struct fr_state *fr, const struct fr_file *f)
{
	return fr->s3 ? f->etag_hash : XXH64_digest(&fr->hash);
}

void fr_s3_close(struct fr_state *fr)
{
	sp_s3_destroy(fr->s3);
	free(fr->s3_bucket);
	free(fr->s3_prefix);
}
