/*
 * The S3 client: building one signed request (URL, query, headers, body),
 * sending it with retries and jittered backoff, and turning what came back
 * into 0 or -errno with a message naming the call, the object, the HTTP
 * status and S3's error code and message.  The simple calls live here;
 * io/s3_calls.c has listing and multipart uploads, io/s3_reader.c the
 * concurrent ranged reads.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <unistd.h>

#include "core/log.h"
#include "io/s3_req.h"

static pthread_once_t curl_once = PTHREAD_ONCE_INIT;
static CURLcode curl_init_rc;

static void curl_init(void)
{
	curl_init_rc = curl_global_init(CURL_GLOBAL_DEFAULT);
}

int sp_s3_create(const struct sp_s3_config *cfg, struct sp_s3 **out)
{
	struct sp_s3 *s3;
	char why[256];

	if (sp_curl_load(why, sizeof(why)) < 0) {
		sp_log_error("%s", why);
		return -ELIBACC;
	}
	pthread_once(&curl_once, curl_init);
	if (curl_init_rc != CURLE_OK)
		return -EIO;
	if (!(s3 = calloc(1, sizeof(*s3))))
		return -ENOMEM;
	if (sp_s3_config_copy(&s3->cfg, cfg)) {
		free(s3);
		return -ENOMEM;
	}
	if (!s3->cfg.region && !(s3->cfg.region = strdup(SP_S3_DEFAULT_REGION)))
		goto fail;
	if (!(s3->easy = curl_easy_init()))
		goto fail;
	snprintf(s3->sigv4, sizeof(s3->sigv4), "aws:amz:%s:s3", s3->cfg.region);
	*out = s3;
	return 0;
fail:
	sp_s3_config_fini(&s3->cfg);
	free(s3);
	return -ENOMEM;
}

void sp_s3_destroy(struct sp_s3 *s3)
{
	if (!s3)
		return;
	curl_easy_cleanup(s3->easy);
	sp_s3_config_fini(&s3->cfg);
	free(s3);
}

const char *sp_s3_error(const struct sp_s3 *s3)
{
	return s3->error;
}

const char *sp_s3_error_code(const struct sp_s3 *s3, long *status)
{
	if (status)
		*status = s3->error_status;
	return s3->error_code;
}

uint64_t sp_s3_retries(const struct sp_s3 *s3)
{
	return s3->retries;
}

/* ---- one request --------------------------------------------------------- */

static size_t on_body(char *p, size_t size, size_t n, void *arg)
{
	struct s3_req *r = arg;
	long status = 0;

	n *= size;
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &status);
	if (r->buf && status >= 200 && status < 300) {
		if (n > r->cap - r->got)
			return 0; /* more than asked for: fail the transfer */
		memcpy(r->buf + r->got, p, n);
		r->got += n;
		return n;
	}
	if (r->resp.len + n > (64u << 20)) /* a listing page is ~300 KiB */
		return 0;
	return sp_buf_append(&r->resp, p, n) ? 0 : n;
}

static int build_url(struct sp_s3 *s3, struct s3_req *r)
{
	size_t cap = 256 + strlen(r->bucket) * 2 +
		     (r->key ? strlen(r->key) * 3 : 0) +
		     (r->query ? strlen(r->query) : 0) +
		     (s3->cfg.endpoint ? strlen(s3->cfg.endpoint) : 0) +
		     strlen(s3->cfg.region);
	char *u = malloc(cap);
	size_t len;

	if (!u)
		return -ENOMEM;
	if (s3->cfg.endpoint && s3->cfg.path_style)
		len = (size_t)snprintf(u, cap, "%s/%s/", s3->cfg.endpoint,
				       r->bucket);
	else if (s3->cfg.endpoint) { /* virtual host on a custom endpoint */
		const char *host = strstr(s3->cfg.endpoint, "://") + 3;
		len = (size_t)snprintf(u, cap, "%.*s%s.%s/",
				       (int)(host - s3->cfg.endpoint),
				       s3->cfg.endpoint, r->bucket, host);
	} else if (s3->cfg.path_style)
		len =
		    (size_t)snprintf(u, cap, "https://s3.%s.amazonaws.com/%s/",
				     s3->cfg.region, r->bucket);
	else
		len =
		    (size_t)snprintf(u, cap, "https://%s.s3.%s.amazonaws.com/",
				     r->bucket, s3->cfg.region);
	if (r->key && sp_s3_uri_encode(r->key, true, u, cap, &len)) {
		free(u);
		return -ENAMETOOLONG;
	}
	if (r->query)
		snprintf(u + len, cap - len, "?%s", r->query);
	r->url = u;
	return 0;
}

static int add_header(struct s3_req *r, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static int add_header(struct s3_req *r, const char *fmt, ...)
{
	char line[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(line, sizeof(line), fmt, ap);
	va_end(ap);
	struct curl_slist *l = curl_slist_append(r->headers, line);
	if (!l)
		return -ENOMEM;
	r->headers = l;
	return 0;
}

static int set_headers(struct sp_s3 *s3, struct s3_req *r)
{
	/* curl signs with the payload hash it finds here (rule 1); every
	 * header given here is signed, so none may be empty (an empty one
	 * removes a header curl would add, and is then signed but not
	 * sent) */
	if (add_header(r, "x-amz-content-sha256: UNSIGNED-PAYLOAD") ||
	    (s3->cfg.token &&
	     add_header(r, "x-amz-security-token: %s", s3->cfg.token)) ||
	    (r->body &&
	     add_header(r, "Content-Type: %s",
			strcmp(r->method, "POST") ? "application/octet-stream"
						  : "application/xml")))
		return -ENOMEM;
	if (r->ranged &&
	    add_header(r, "Range: bytes=%" PRIu64 "-%" PRIu64, r->range_off,
		       r->range_off + r->range_len - 1))
		return -ENOMEM;
	return 0;
}

int sp_s3_req_setup(struct sp_s3 *s3, CURL *h, struct s3_req *r)
{
	int rc;

	r->h = h;
	s3->error_code[0] = '\0'; /* a code belongs to one request */
	s3->error_status = 0;
	if ((rc = build_url(s3, r)) || (rc = set_headers(s3, r)))
		return rc;
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, r->headers);
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, on_body);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, r);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, 10000L);
	long t = s3->cfg.timeout_ms > 0 ? s3->cfg.timeout_ms : 30000;
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_LIMIT, 1L);
	curl_easy_setopt(h, CURLOPT_LOW_SPEED_TIME, (t + 999) / 1000);
	if (s3->cfg.key_id) {
		curl_easy_setopt(h, CURLOPT_AWS_SIGV4, s3->sigv4);
		curl_easy_setopt(h, CURLOPT_USERNAME, s3->cfg.key_id);
		curl_easy_setopt(h, CURLOPT_PASSWORD, s3->cfg.secret);
	}
	if (!strcmp(r->method, "HEAD")) {
		curl_easy_setopt(h, CURLOPT_NOBODY, 1L);
	} else if (r->body || !strcmp(r->method, "POST") ||
		   !strcmp(r->method, "PUT")) {
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body ? r->body : "");
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE,
				 (curl_off_t)r->body_len);
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	} else if (strcmp(r->method, "GET")) {
		curl_easy_setopt(h, CURLOPT_CUSTOMREQUEST, r->method);
	}
	return 0;
}

void sp_s3_req_clear(struct s3_req *r)
{
	free(r->url);
	r->url = NULL;
	curl_slist_free_all(r->headers);
	r->headers = NULL;
	r->resp.len = 0;
	r->got = 0;
	r->status = 0;
}

void sp_s3_req_fini(struct s3_req *r)
{
	sp_s3_req_clear(r);
	sp_buf_fini(&r->resp);
}

static int status_errno(long status)
{
	if (status == 404)
		return -ENOENT;
	if (status == 401 || status == 403)
		return -EACCES;
	if (status == 405 || status == 501)
		return -ENOTSUP;
	if (status == 412)
		return -EEXIST;
	return status >= 500 ? -EIO : -EINVAL;
}

/* "HTTP 403 InvalidAccessKeyId: message" from the error body, if any. */
static void describe(const struct s3_req *r, char *code, size_t codecap,
		     char *out, size_t cap)
{
	struct sp_s3_xml_item it;
	char msg[512] = "";
	size_t pos = 0;

	*code = '\0';
	if (sp_s3_xml_next(r->resp.data, r->resp.len, &pos, "Code", &it))
		sp_s3_xml_copy(&it, code, codecap);
	pos = 0;
	if (sp_s3_xml_next(r->resp.data, r->resp.len, &pos, "Message", &it))
		sp_s3_xml_copy(&it, msg, sizeof(msg));
	snprintf(out, cap, "HTTP %ld%s%s%s%s", r->status, *code ? " " : "",
		 code, *msg ? ": " : "", msg);
}

static bool curl_retryable(CURLcode cc)
{
	return cc != CURLE_WRITE_ERROR && cc != CURLE_OUT_OF_MEMORY &&
	       cc != CURLE_URL_MALFORMAT && cc != CURLE_UNSUPPORTED_PROTOCOL &&
	       cc != CURLE_BAD_FUNCTION_ARGUMENT;
}

static void final_error(struct sp_s3 *s3, const struct s3_req *r,
			const char *code, const char *what)
{
	unsigned retries = r->tries ? r->tries - 1 : 0;
	char tail[64] = "";

	if (retries)
		snprintf(tail, sizeof(tail), " (after %u %s)", retries,
			 retries == 1 ? "retry" : "retries");
	snprintf(s3->error, sizeof(s3->error), "S3 %s s3://%s/%s: %s%s",
		 r->method, r->bucket, r->key ? r->key : "", what, tail);
	snprintf(s3->error_code, sizeof(s3->error_code), "%s", code);
	s3->error_status = r->status;
}

int sp_s3_req_outcome(struct sp_s3 *s3, struct s3_req *r, CURLcode cc,
		      bool *retry)
{
	char code[64], what[700];

	*retry = false;
	r->status = 0;
	curl_easy_getinfo(r->h, CURLINFO_RESPONSE_CODE, &r->status);
	if (cc != CURLE_OK) {
		*retry = curl_retryable(cc) && sp_s3_req_may_retry(s3, r);
		snprintf(what, sizeof(what), "%s%s",
			 r->status ? "transfer failed: " : "no response: ",
			 curl_easy_strerror(cc));
		if (cc == CURLE_WRITE_ERROR && r->buf)
			snprintf(what, sizeof(what),
				 "HTTP %ld: more bytes than the %zu asked for",
				 r->status, r->cap);
		if (!*retry)
			final_error(s3, r, "", what);
		return cc == CURLE_OUT_OF_MEMORY ? -ENOMEM : -EIO;
	}
	/* CompleteMultipartUpload may fail inside a 200 */
	if (r->status >= 200 && r->status < 300 &&
	    !(!strcmp(r->method, "POST") && r->resp.len &&
	      memmem(r->resp.data, r->resp.len, "<Error>", 7)))
		return 0;
	describe(r, code, sizeof(code), what, sizeof(what));
	bool transient = (r->status >= 500 && r->status != 501) ||
			 r->status == 429 || !strcmp(code, "SlowDown") ||
			 !strcmp(code, "InternalError") ||
			 (r->status == 200); /* error inside a 200 */
	*retry = transient && sp_s3_req_may_retry(s3, r);
	if (!*retry)
		final_error(s3, r, code, what);
	return r->status == 200 ? -EIO : status_errno(r->status);
}

bool sp_s3_req_may_retry(const struct sp_s3 *s3, const struct s3_req *r)
{
	unsigned max = s3->cfg.retries == UINT32_MAX ? 0
		       : s3->cfg.retries	     ? s3->cfg.retries
						     : SP_S3_RETRIES;
	return r->tries <= max;
}

unsigned sp_s3_req_note_retry(struct sp_s3 *s3, const struct s3_req *r,
			      CURLcode cc)
{
	unsigned base =
	    s3->cfg.backoff_ms ? s3->cfg.backoff_ms : SP_S3_BACKOFF_MS;
	unsigned ms = sp_s3_backoff_ms(base, r->tries - 1);

	s3->retries++;
	if (cc != CURLE_OK)
		sp_log_warn("S3 %s s3://%s/%s: %s; retry %u in %u ms",
			    r->method, r->bucket, r->key ? r->key : "",
			    curl_easy_strerror(cc), r->tries, ms);
	else
		sp_log_warn("S3 %s s3://%s/%s: HTTP %ld; retry %u in %u ms",
			    r->method, r->bucket, r->key ? r->key : "",
			    r->status, r->tries, ms);
	return ms;
}

/* Sends r on the client's handle, retrying as allowed. */
int sp_s3_req_run(struct sp_s3 *s3, struct s3_req *r)
{
	for (;;) {
		bool retry;
		int rc;
		curl_easy_reset(s3->easy);
		sp_s3_req_clear(r);
		if ((rc = sp_s3_req_setup(s3, s3->easy, r)))
			return rc;
		r->tries++;
		CURLcode cc = curl_easy_perform(s3->easy);
		rc = sp_s3_req_outcome(s3, r, cc, &retry);
		if (!rc || !retry)
			return rc;
		usleep(sp_s3_req_note_retry(s3, r, cc) * 1000u);
	}
}

/* ---- the simple calls ---------------------------------------------------- */

static void header_copy(CURL *h, const char *name, char *buf, size_t cap)
{
	struct curl_header *hd;

	*buf = '\0';
	if (curl_easy_header(h, name, 0, CURLH_HEADER, -1, &hd) != CURLHE_OK)
		return;
	const char *v = hd->value;
	size_t n = strlen(v);
	if (n >= 2 && v[0] == '"' && v[n - 1] == '"') {
		v++;
		n -= 2;
	}
	snprintf(buf, cap, "%.*s", (int)n, v);
}

int sp_s3_head(struct sp_s3 *s3, const char *bucket, const char *key,
	       struct sp_s3_object *out)
{
	struct s3_req r = {.method = "HEAD", .bucket = bucket, .key = key};
	int rc = sp_s3_req_run(s3, &r);

	if (!rc) {
		curl_off_t len = 0;
		char date[128];
		curl_easy_getinfo(s3->easy, CURLINFO_CONTENT_LENGTH_DOWNLOAD_T,
				  &len);
		out->size = len > 0 ? (uint64_t)len : 0;
		header_copy(s3->easy, "ETag", out->etag, sizeof(out->etag));
		header_copy(s3->easy, "Last-Modified", date, sizeof(date));
		out->mtime = *date ? (int64_t)curl_getdate(date, NULL) : 0;
	}
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_get_range(struct sp_s3 *s3, const char *bucket, const char *key,
		    uint64_t off, size_t len, char *buf, size_t *got)
{
	struct s3_req r = {.method = "GET",
			   .bucket = bucket,
			   .key = key,
			   .ranged = true,
			   .range_off = off,
			   .range_len = len,
			   .buf = buf,
			   .cap = len};
	int rc = len ? sp_s3_req_run(s3, &r) : 0;

	*got = rc ? 0 : r.got;
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_get(struct sp_s3 *s3, const char *bucket, const char *key,
	      char **data, size_t *len)
{
	struct s3_req r = {.method = "GET", .bucket = bucket, .key = key};
	int rc = sp_s3_req_run(s3, &r);

	if (!rc && !(rc = sp_buf_putc(&r.resp, '\0'))) {
		*len = r.resp.len - 1;
		*data = r.resp.data;
		r.resp.data = NULL;
	}
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_put(struct sp_s3 *s3, const char *bucket, const char *key,
	      const void *data, size_t len, char *etag)
{
	struct s3_req r = {.method = "PUT",
			   .bucket = bucket,
			   .key = key,
			   .body = data ? data : "",
			   .body_len = len};
	int rc = sp_s3_req_run(s3, &r);

	if (!rc && etag)
		header_copy(s3->easy, "ETag", etag, 72);
	sp_s3_req_fini(&r);
	return rc;
}

int sp_s3_delete(struct sp_s3 *s3, const char *bucket, const char *key)
{
	struct s3_req r = {.method = "DELETE", .bucket = bucket, .key = key};
	int rc = sp_s3_req_run(s3, &r);

	sp_s3_req_fini(&r);
	return rc == -ENOENT ? 0 : rc;
}
