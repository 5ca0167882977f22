/*
 * The S3 calls that carry XML: ListObjectsV2 (all pages, following the
 * continuation token), and multipart uploads (create, upload a part,
 * complete, abort, list the uploads in progress).  Query strings are
 * written sorted by parameter name and %-encoded, with '=' after a bare
 * subresource, so that curl's Signature V4 signs what S3 recomputes.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "io/s3_req.h"

/* "name=" + encoded value appended to q[*len..cap). */
static int query_param(char *q, size_t cap, size_t *len, const char *name,
		       const char *value)
{
	int k = snprintf(q + *len, cap - *len, "%s%s=", *len ? "&" : "", name);

	if (k < 0 || (size_t)k >= cap - *len)
		return -ENAMETOOLONG;
	*len += (size_t)k;
	return value ? sp_s3_uri_encode(value, false, q, cap, len) : 0;
}

static int64_t iso_time(const struct sp_s3_xml_item *it)
{
	char s[40];
	struct tm tm = {0};

	sp_s3_xml_copy(it, s, sizeof(s));
	if (sscanf(s, "%d-%d-%dT%d:%d:%d", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
		   &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return (int64_t)timegm(&tm);
}

void sp_s3_objects_free(struct sp_s3_object *v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i].key);
	free(v);
}

/* Appends the <Contents> of one page to *v. */
static int parse_contents(const struct sp_buf *doc, struct sp_s3_object **v,
			  size_t *n, size_t *cap)
{
	struct sp_s3_xml_item c, it;
	size_t pos = 0;

	while (sp_s3_xml_next(doc->data, doc->len, &pos, "Contents", &c)) {
		size_t p = 0;
		if (*n == *cap) {
			size_t nc = *cap ? *cap * 2 : 64;
			struct sp_s3_object *nv = realloc(*v, nc * sizeof(**v));
			if (!nv)
				return -ENOMEM;
			*v = nv;
			*cap = nc;
		}
		struct sp_s3_object *o = &(*v)[*n];
		memset(o, 0, sizeof(*o));
		if (!sp_s3_xml_next(c.p, c.len, &p, "Key", &it))
			continue;
		if (!(o->key = sp_s3_xml_text(&it)))
			return -ENOMEM;
		(*n)++;
		p = 0;
		if (sp_s3_xml_next(c.p, c.len, &p, "Size", &it))
			o->size = strtoull(it.p, NULL, 10);
		p = 0;
		if (sp_s3_xml_next(c.p, c.len, &p, "ETag", &it)) {
			char e[80];
			sp_s3_xml_copy(&it, e, sizeof(e));
			size_t l = strlen(e);
			bool q = l >= 2 && e[0] == '"' && e[l - 1] == '"';
			snprintf(o->etag, sizeof(o->etag), "%.*s",
				 (int)(q ? l - 2 : l), e + q);
		}
		p = 0;
		if (sp_s3_xml_next(c.p, c.len, &p, "LastModified", &it))
			o->mtime = iso_time(&it);
	}
	return 0;
}

static bool truncated(const struct sp_buf *doc)
{
	struct sp_s3_xml_item it;
	size_t pos = 0;

	return sp_s3_xml_next(doc->data, doc->len, &pos, "IsTruncated", &it) &&
	       it.len == 4 && !memcmp(it.p, "true", 4);
}

static int list_pages(struct sp_s3 *s3, const char *bucket, const char *prefix,
		      unsigned max_keys, struct sp_s3_object **out, size_t *n)
{
	struct sp_s3_object *v = NULL;
	size_t nv = 0, cap = 0;
	char *token = NULL, q[4096], mk[16];
	int rc;

	snprintf(mk, sizeof(mk), "%u", max_keys);
	do {
		size_t ql = 0;
		struct s3_req r = {
		    .method = "GET", .bucket = bucket, .query = q};
		if ((token &&
		     (rc = query_param(q, sizeof(q), &ql, "continuation-token",
				       token))) ||
		    (rc = query_param(q, sizeof(q), &ql, "list-type", "2")) ||
		    (max_keys &&
		     (rc = query_param(q, sizeof(q), &ql, "max-keys", mk))) ||
		    (rc = query_param(q, sizeof(q), &ql, "prefix", prefix)))
			break;
		if (!(rc = sp_s3_req_run(s3, &r)))
			rc = parse_contents(&r.resp, &v, &nv, &cap);
		free(token);
		token = NULL;
		if (!rc && !max_keys && truncated(&r.resp)) {
			struct sp_s3_xml_item it;
			size_t pos = 0;
			if (!sp_s3_xml_next(r.resp.data, r.resp.len, &pos,
					    "NextContinuationToken", &it)) {
				snprintf(s3->error, sizeof(s3->error),
					 "S3 GET s3://%s/?prefix=%s: a "
					 "truncated listing without "
					 "NextContinuationToken",
					 bucket, prefix);
				rc = -EIO;
			} else if (!(token = sp_s3_xml_text(&it))) {
				rc = -ENOMEM;
			}
		}
		sp_s3_req_fini(&r);
	} while (!rc && token);
	free(token);
	if (rc) {
		sp_s3_objects_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}

int sp_s3_list(struct sp_s3 *s3, const char *bucket, const char *prefix,
	       struct sp_s3_object **out, size_t *n)
{
	return list_pages(s3, bucket, prefix ? prefix : "", 0, out, n);
}

int sp_s3_probe(struct sp_s3 *s3, const char *bucket, const char *prefix)
{
	struct sp_s3_object *v;
	size_t n;
	int rc = list_pages(s3, bucket, prefix ? prefix : "", 1, &v, &n);

	if (rc)
		return rc;
	sp_s3_objects_free(v, n);
	return n > 0;
}

/* ---- multipart uploads --------------------------------------------------- */

int sp_s3_mpu_create(struct sp_s3 *s3, const char *bucket, const char *key,
		     char **upload_id)
{
	struct s3_req r = {.method = "POST",
			   .bucket = bucket,
			   .key = key,
			   .query = "uploads="};
	struct sp_s3_xml_item it;
	size_t pos = 0;
	int rc = sp_s3_req_run(s3, &r);

	if (!rc) {
		if (!sp_s3_xml_next(r.resp.data, r.resp.len, &pos, "UploadId",
				    &it)) {
			snprintf(s3->error, sizeof(s3->error),
				 "S3 POST s3://%s/%s?uploads: no UploadId in "
				 "the response",
				 bucket, key);
			rc = -EIO;
		} else if (!(*upload_id = sp_s3_xml_text(&it))) {
			rc = -ENOMEM;
		}
	}
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_mpu_part(struct sp_s3 *s3, const char *bucket, const char *key,
		   const char *upload_id, unsigned part, const void *data,
		   size_t len, char *etag)
{
	char q[1024], num[16];
	size_t ql = 0;
	struct s3_req r = {.method = "PUT",
			   .bucket = bucket,
			   .key = key,
			   .query = q,
			   .body = data ? data : "",
			   .body_len = len};
	int rc;

	snprintf(num, sizeof(num), "%u", part);
	if ((rc = query_param(q, sizeof(q), &ql, "partNumber", num)) ||
	    (rc = query_param(q, sizeof(q), &ql, "uploadId", upload_id)))
		return rc;
	if (!(rc = sp_s3_req_run(s3, &r))) {
		struct curl_header *h;
		*etag = '\0';
		if (curl_easy_header(s3->easy, "ETag", 0, CURLH_HEADER, -1,
				     &h) == CURLHE_OK)
			snprintf(etag, 72, "%s", h->value);
	}
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_mpu_complete(struct sp_s3 *s3, const char *bucket, const char *key,
		       const char *upload_id, const char (*etags)[72],
		       unsigned n, char *etag)
{
	struct sp_buf body;
	char q[1024], line[160];
	size_t ql = 0;
	int rc;

	if ((rc = query_param(q, sizeof(q), &ql, "uploadId", upload_id)))
		return rc;
	sp_buf_init(&body);
	rc = sp_buf_append(&body, "<CompleteMultipartUpload>", 25);
	for (unsigned i = 0; !rc && i < n; i++) {
		const char *e = etags[i];
		bool quoted = e[0] == '"';
		int k = snprintf(line, sizeof(line),
				 "<Part><PartNumber>%u</PartNumber><ETag>%s%s%s"
				 "</ETag></Part>",
				 i + 1, quoted ? "" : "&quot;", e,
				 quoted ? "" : "&quot;");
		rc = sp_buf_append(&body, line, (size_t)k);
	}
	if (!rc)
		rc = sp_buf_append(&body, "</CompleteMultipartUpload>", 26);
	if (rc) {
		sp_buf_fini(&body);
		return -ENOMEM;
	}
	struct s3_req r = {.method = "POST",
			   .bucket = bucket,
			   .key = key,
			   .query = q,
			   .body = body.data,
			   .body_len = body.len};
	if (!(rc = sp_s3_req_run(s3, &r)) && etag) {
		struct sp_s3_xml_item it;
		size_t pos = 0;
		*etag = '\0';
		if (sp_s3_xml_next(r.resp.data, r.resp.len, &pos, "ETag", &it))
			sp_s3_xml_copy(&it, etag, 72);
	}
	sp_s3_req_fini(&r);
	sp_buf_fini(&body);
	return rc;
}

int sp_s3_mpu_abort(struct sp_s3 *s3, const char *bucket, const char *key,
		    const char *upload_id)
{
	char q[1024];
	size_t ql = 0;
	struct s3_req r = {
	    .method = "DELETE", .bucket = bucket, .key = key, .query = q};
	int rc = query_param(q, sizeof(q), &ql, "uploadId", upload_id);

	if (!rc)
		rc = sp_s3_req_run(s3, &r);
	sp_s3_req_fini(&r);
	return rc;
}

void sp_s3_uploads_free(struct sp_s3_upload *v, size_t n)
{
	for (size_t i = 0; i < n; i++) {
		free(v[i].key);
		free(v[i].upload_id);
	}
	free(v);
}

static int parse_uploads(const struct sp_buf *doc, struct sp_s3_upload **v,
			 size_t *n)
{
	struct sp_s3_xml_item u, k, id;
	size_t pos = 0;

	while (sp_s3_xml_next(doc->data, doc->len, &pos, "Upload", &u)) {
		size_t p1 = 0, p2 = 0;
		if (!sp_s3_xml_next(u.p, u.len, &p1, "Key", &k) ||
		    !sp_s3_xml_next(u.p, u.len, &p2, "UploadId", &id))
			continue;
		struct sp_s3_upload *nv = realloc(*v, (*n + 1) * sizeof(**v));
		if (!nv)
			return -ENOMEM;
		*v = nv;
		nv[*n].key = sp_s3_xml_text(&k);
		nv[*n].upload_id = sp_s3_xml_text(&id);
		(*n)++;
		if (!nv[*n - 1].key || !nv[*n - 1].upload_id)
			return -ENOMEM;
	}
	return 0;
}

static int next_markers(const struct sp_buf *doc, char **km, char **um)
{
	struct sp_s3_xml_item a, b;
	size_t p1 = 0, p2 = 0;

	free(*km);
	free(*um);
	*km = *um = NULL;
	if (!truncated(doc) ||
	    !sp_s3_xml_next(doc->data, doc->len, &p1, "NextKeyMarker", &a) ||
	    !sp_s3_xml_next(doc->data, doc->len, &p2, "NextUploadIdMarker", &b))
		return 0;
	*km = sp_s3_xml_text(&a);
	*um = sp_s3_xml_text(&b);
	return *km && *um ? 0 : -ENOMEM;
}

int sp_s3_mpu_list(struct sp_s3 *s3, const char *bucket, const char *prefix,
		   struct sp_s3_upload **out, size_t *n)
{
	struct sp_s3_upload *v = NULL;
	size_t nv = 0;
	char *km = NULL, *um = NULL, q[4096];
	int rc;

	do {
		size_t ql = 0;
		struct s3_req r = {
		    .method = "GET", .bucket = bucket, .query = q};
		if ((km &&
		     (rc = query_param(q, sizeof(q), &ql, "key-marker", km))) ||
		    (rc = query_param(q, sizeof(q), &ql, "prefix",
				      prefix ? prefix : "")) ||
		    (um && (rc = query_param(q, sizeof(q), &ql,
					     "upload-id-marker", um))) ||
		    (rc = query_param(q, sizeof(q), &ql, "uploads", NULL)))
			break;
		if (!(rc = sp_s3_req_run(s3, &r)) &&
		    !(rc = parse_uploads(&r.resp, &v, &nv)))
			rc = next_markers(&r.resp, &km, &um);
		sp_s3_req_fini(&r);
	} while (!rc && km);
	free(km);
	free(um);
	if (rc) {
		sp_s3_uploads_free(v, nv);
		return rc;
	}
	*out = v;
	*n = nv;
	return 0;
}
