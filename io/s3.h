/*
 * S3 object storage client (AWS S3 and the servers speaking its protocol:
 * MinIO, Ceph RGW, Cloudflare R2).  Only io/s3*.c include curl.h.
 *
 *   io/s3_client.c   one request with retries, errors, the simple calls
 *                    (HEAD, GET, PUT, DELETE, ListObjectsV2, multipart)
 *   io/s3_reader.c   one object read in ranges, several in flight at once
 *                    through curl's multi interface, handed out in order
 *   io/s3_creds.c    where the endpoint, region and credentials come from
 *   io/s3_xml.c      the few XML elements the responses carry
 *
 * Requests are signed with AWS Signature V4 by libcurl
 * (CURLOPT_AWS_SIGV4), with three things done here that curl 7.88 does
 * not: x-amz-content-sha256 is set (UNSIGNED-PAYLOAD), query parameters
 * are sorted by name and %-encoded (RFC 3986), and a bare subresource is
 * written with '=' (`?uploads=`).
 *
 * Retries: a connection that fails or times out, a 5xx, a 429 and an
 * error coded SlowDown are tried again, at most `retries` times, after a
 * full-jitter exponential backoff (a random wait below min(base * 2^n,
 * 10 s)); each retry is logged at warn level and counted.  Any other 4xx
 * is final.  A failed call returns -errno and leaves a message in the
 * client (sp_s3_error): method, s3://bucket/key, HTTP status, the S3
 * error code and message, and how many tries were made.  -errno values:
 * -ENOENT (404: NoSuchKey, NoSuchBucket, NoSuchUpload), -EACCES (401/403),
 * -EINVAL (other 4xx), -EIO (5xx, connection failures, bad responses),
 * -ENOMEM.  Secrets never reach a message or a log.
 *
 * Threads: a struct sp_s3 (and a reader opened from it) belongs to one
 * thread; several threads open one client each from the same config.
 */
#ifndef SPATE_IO_S3_H
#define SPATE_IO_S3_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Default region when none is configured. */
#define SP_S3_DEFAULT_REGION "us-east-1"
/* Default retries of one request, and the first backoff step. */
#define SP_S3_RETRIES 5
#define SP_S3_BACKOFF_MS 100

struct sp_s3_config {
	char *endpoint; /* http(s)://host[:port]; NULL: AWS for region */
	char *region;	/* never NULL after sp_s3_config_resolve */
	char *key_id;	/* NULL: requests are not signed */
	char *secret;
	char *token;	  /* session token, NULL when none */
	char *source;	  /* where the credentials came from (no secret) */
	bool path_style;  /* bucket in the path (default with an endpoint) */
	unsigned retries; /* 0: SP_S3_RETRIES; UINT32_MAX: none */
	unsigned backoff_ms;
	long timeout_ms; /* per request without progress; 0: 30 s */
};

/* Where a config comes from.  NULL fields fall back to the standard AWS
 * variables: AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION,
 * AWS_ACCESS_KEY_ID / AWS_SECRET_ACCESS_KEY / AWS_SESSION_TOKEN, else the
 * profile AWS_PROFILE (default "default") of AWS_SHARED_CREDENTIALS_FILE
 * (default ~/.aws/credentials). */
struct sp_s3_source {
	const char *endpoint;
	const char *region;
	const char *key_id_env; /* names of variables, both or none */
	const char *secret_env;
	const char *credentials_file; /* an AWS credentials file */
};

/* Fills *cfg (zeroed first; free with sp_s3_config_fini) from src.
 * Returns 0, -ENOMEM, or -EINVAL / -ENOENT with the reason in err (a
 * variable named by the stage that is not set, a credentials file that
 * cannot be read or lacks the profile, an endpoint that is not
 * http(s)://).  No credentials anywhere is not an error: requests then go
 * unsigned. */
int sp_s3_config_resolve(const struct sp_s3_source *src,
			 struct sp_s3_config *cfg, char *err, size_t errlen);
void sp_s3_config_fini(struct sp_s3_config *cfg);
/* Deep copy; 0 or -ENOMEM. */
int sp_s3_config_copy(struct sp_s3_config *dst, const struct sp_s3_config *src);

/* "s3://bucket[/prefix]" into *bucket and *prefix (malloc'd; prefix ""
 * when none).  0, -EINVAL, -ENOMEM. */
int sp_s3_url_parse(const char *url, char **bucket, char **prefix);

struct sp_s3;

/* A client over cfg (copied).  0, -ENOMEM, -EIO (curl cannot start). */
int sp_s3_create(const struct sp_s3_config *cfg, struct sp_s3 **out);
void sp_s3_destroy(struct sp_s3 *s3);
/* The message of the last failed call ("" when none). */
const char *sp_s3_error(const struct sp_s3 *s3);
/* S3's error code of the last failed request ("NoSuchBucket" ...; ""
 * when the server sent none, e.g. no connection), and its HTTP status
 * into *status (0 when no answer came; status may be NULL). */
const char *sp_s3_error_code(const struct sp_s3 *s3, long *status);
/* Retries made by this client so far. */
uint64_t sp_s3_retries(const struct sp_s3 *s3);

struct sp_s3_object {
	char *key;
	uint64_t size;
	char etag[72]; /* without quotes */
	int64_t mtime; /* Unix time, seconds; 0 when unknown */
};

void sp_s3_objects_free(struct sp_s3_object *v, size_t n);

/* HEAD: size, ETag and mtime of bucket/key into *out (key not set).
 * -ENOENT when there is no such object. */
int sp_s3_head(struct sp_s3 *s3, const char *bucket, const char *key,
	       struct sp_s3_object *out);

/* GET bytes [off, off + len) of bucket/key into buf; *got is the number
 * of bytes received (less than len at the end of the object).  len 0
 * reads nothing. */
int sp_s3_get_range(struct sp_s3 *s3, const char *bucket, const char *key,
		    uint64_t off, size_t len, char *buf, size_t *got);

/* GET the whole object into *data (malloc'd, NUL-terminated) and *len. */
int sp_s3_get(struct sp_s3 *s3, const char *bucket, const char *key,
	      char **data, size_t *len);

/* PUT data[0..len) as bucket/key; etag (72 bytes, may be NULL) receives
 * the new object's ETag. */
int sp_s3_put(struct sp_s3 *s3, const char *bucket, const char *key,
	      const void *data, size_t len, char *etag);

/* DELETE bucket/key (deleting a missing key succeeds, as in S3). */
int sp_s3_delete(struct sp_s3 *s3, const char *bucket, const char *key);

/* ListObjectsV2 of every key starting with prefix, all pages, in key
 * order: *out (NULL when none) and *n. */
int sp_s3_list(struct sp_s3 *s3, const char *bucket, const char *prefix,
	       struct sp_s3_object **out, size_t *n);

/* The objects pattern names in bucket: the key itself (HEAD) when it has
 * no * ? [, else every key listed under the part before the first
 * wildcard that matches it like a local glob ('*' does not cross '/'),
 * in key order.  0 with *out (sp_s3_objects_free it), -ENOENT when a glob
 * matches nothing or the key does not exist, or -errno of the request
 * (sp_s3_error says why). */
int sp_s3_glob(struct sp_s3 *s3, const char *bucket, const char *pattern,
	       struct sp_s3_object **out, size_t *n);

/* At most one key under prefix (stage check): 1 found, 0 none, -errno. */
int sp_s3_probe(struct sp_s3 *s3, const char *bucket, const char *prefix);

/* Multipart upload of bucket/key. */
int sp_s3_mpu_create(struct sp_s3 *s3, const char *bucket, const char *key,
		     char **upload_id);
/* Uploads part `part` (1..10000); etag (72 bytes) receives its ETag. */
int sp_s3_mpu_part(struct sp_s3 *s3, const char *bucket, const char *key,
		   const char *upload_id, unsigned part, const void *data,
		   size_t len, char *etag);
/* Completes with parts 1..n whose ETags are etags[0..n); the object
 * appears now.  etag (may be NULL) receives the object's ETag. */
int sp_s3_mpu_complete(struct sp_s3 *s3, const char *bucket, const char *key,
		       const char *upload_id, const char (*etags)[72],
		       unsigned n, char *etag);
/* Aborts; an upload that is already gone (NoSuchUpload) is -ENOENT. */
int sp_s3_mpu_abort(struct sp_s3 *s3, const char *bucket, const char *key,
		    const char *upload_id);

struct sp_s3_upload {
	char *key;
	char *upload_id;
};

void sp_s3_uploads_free(struct sp_s3_upload *v, size_t n);

/* ListMultipartUploads under prefix, all pages.  -ENOTSUP when the server
 * does not implement it (501, 405). */
int sp_s3_mpu_list(struct sp_s3 *s3, const char *bucket, const char *prefix,
		   struct sp_s3_upload **out, size_t *n);

/*
 * Sequential reader of one object in ranges of block_size bytes, up to
 * nblocks ranges in flight at once (curl multi), blocks handed out in
 * object order; the same contract as sp_io_reader (io/fileio.h).  size is
 * the object's size (from a listing or HEAD).
 */
struct sp_s3_reader;

int sp_s3_reader_open(struct sp_s3 *s3, const char *bucket, const char *key,
		      uint64_t size, size_t block_size, unsigned nblocks,
		      struct sp_s3_reader **out);
/* 1 with a block, 0 at the end, -errno (message in sp_s3_error). */
int sp_s3_reader_next(struct sp_s3_reader *r, const char **data, size_t *len);
void sp_s3_reader_release(struct sp_s3_reader *r, const char *data);
void sp_s3_reader_close(struct sp_s3_reader *r);

/*
 * Internals shared by the io/s3*.c files.
 */
struct sp_s3_xml_item {
	const char *p; /* inside the document, not NUL-terminated */
	size_t len;
};

/* The text of the first <tag>...</tag> in doc[0..len) from *pos on; *pos
 * moves past it.  false when there is none. */
bool sp_s3_xml_next(const char *doc, size_t len, size_t *pos, const char *tag,
		    struct sp_s3_xml_item *out);
/* The text of item decoded (&amp; &lt; &gt; &quot; &apos; &#N; &#xN;)
 * into a malloc'd string, NULL when out of memory. */
char *sp_s3_xml_text(const struct sp_s3_xml_item *item);
/* Same into buf[0..cap), truncated. */
void sp_s3_xml_copy(const struct sp_s3_xml_item *item, char *buf, size_t cap);

/* Appends s %-encoded as RFC 3986 wants (unreserved bytes kept; '/' kept
 * when keep_slash) to buf[*len..cap).  0 or -ENAMETOOLONG. */
int sp_s3_uri_encode(const char *s, bool keep_slash, char *buf, size_t cap,
		     size_t *len);

/* Full-jitter backoff before retry number `attempt` (0-based), in ms. */
unsigned sp_s3_backoff_ms(unsigned base_ms, unsigned attempt);

#endif
