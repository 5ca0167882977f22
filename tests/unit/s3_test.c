/*
 * Tests of the S3 client (io/s3*.c) against a real S3-compatible server on
 * loopback (s3rver), and through a proxy that recomputes every request's
 * AWS Signature V4 and refuses wrong keys and secrets
 * (tests/support/s3_sigv4_proxy.py), which also injects faults for the
 * retry tests and serves the multipart calls s3rver lacks.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/s3.h"
#include "support/e2e.h"
#include "support/s3srv.h"

static struct sp_s3 *client(const char *endpoint, const char *secret)
{
	struct sp_s3_config cfg = {
	    .endpoint = (char *)endpoint,
	    .region = "us-east-1",
	    .key_id = "S3RVER",
	    .secret = (char *)secret,
	    .path_style = true,
	    .backoff_ms = 5,
	};
	struct sp_s3 *s3;

	cr_assert_eq(sp_s3_create(&cfg, &s3), 0);
	return s3;
}

/* n pseudo-random bytes, to free. */
static char *bytes(size_t n, uint64_t seed)
{
	char *p = malloc(n);

	for (size_t i = 0; i < n; i++)
		p[i] = (char)(e2e_lcg(&seed) >> 33);
	return p;
}

Test(s3, xml_and_uri_encoding)
{
	const char *doc = "<R><KeyCount>2</KeyCount><Key>a&amp;b&#47;c "
			  "&lt;d&gt;</Key><Key/><Key>z</Key></R>";
	struct sp_s3_xml_item it;
	size_t pos = 0;
	char buf[64];

	cr_assert(sp_s3_xml_next(doc, strlen(doc), &pos, "Key", &it));
	char *t = sp_s3_xml_text(&it);
	cr_assert_str_eq(t, "a&b/c <d>");
	free(t);
	cr_assert(sp_s3_xml_next(doc, strlen(doc), &pos, "Key", &it));
	cr_assert_eq(it.len, 0);
	cr_assert(sp_s3_xml_next(doc, strlen(doc), &pos, "Key", &it));
	sp_s3_xml_copy(&it, buf, sizeof(buf));
	cr_assert_str_eq(buf, "z");
	cr_assert_not(sp_s3_xml_next(doc, strlen(doc), &pos, "Key", &it));

	size_t len = 0;
	cr_assert_eq(
	    sp_s3_uri_encode("a b/c~d=é+", true, buf, sizeof(buf), &len), 0);
	cr_assert_str_eq(buf, "a%20b/c~d%3D%C3%A9%2B");
	len = 0;
	cr_assert_eq(sp_s3_uri_encode("x/y", false, buf, sizeof(buf), &len), 0);
	cr_assert_str_eq(buf, "x%2Fy");
	len = 0;
	cr_assert_eq(sp_s3_uri_encode("abcdef", false, buf, 6, &len),
		     -ENAMETOOLONG);

	char *b, *p;
	cr_assert_eq(sp_s3_url_parse("s3://bkt/a/b/", &b, &p), 0);
	cr_assert_str_eq(b, "bkt");
	cr_assert_str_eq(p, "a/b/");
	free(b);
	free(p);
	cr_assert_eq(sp_s3_url_parse("s3:///x", &b, &p), -EINVAL);
	cr_assert_eq(sp_s3_url_parse("file:///x", &b, &p), -EINVAL);
	for (unsigned a = 0; a < 12; a++) {
		unsigned ms = sp_s3_backoff_ms(100, a);
		cr_assert(ms >= 1 && ms <= 10000, "attempt %u: %u ms", a, ms);
	}
}

Test(s3, credentials_from_stage_env_and_file)
{
	char *dir = e2e_tmpdir();
	char err[512];
	struct sp_s3_config cfg;
	struct sp_s3_source src = {.endpoint = "http://127.0.0.1:9",
				   .key_id_env = "SPT_KEY",
				   .secret_env = "SPT_SECRET"};

	unsetenv("SPT_KEY");
	setenv("SPT_SECRET", "very-secret", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err, "environment variable SPT_KEY (named by the "
			      "stage's credential source) is not set");
	setenv("SPT_KEY", "AKID", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.key_id, "AKID");
	cr_assert_str_eq(cfg.secret, "very-secret");
	cr_assert_str_eq(cfg.source, "env:SPT_KEY / env:SPT_SECRET");
	cr_assert_str_eq(cfg.region, "us-east-1");
	cr_assert(cfg.path_style);
	sp_s3_config_fini(&cfg);

	static const char creds[] =
		"[default]\naws_access_key_id = D\n"
		"aws_secret_access_key = DS\n\n[ci]\n"
		"aws_access_key_id=CI\naws_secret_access_key"
		" = CIS\naws_session_token = T\n";
	char *file = e2e_write(dir, "creds", creds, sizeof(creds) - 1);
	src = (struct sp_s3_source){.credentials_file = file,
				    .region = "eu-west-1"};
	setenv("AWS_PROFILE", "ci", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.key_id, "CI");
	cr_assert_str_eq(cfg.secret, "CIS");
	cr_assert_str_eq(cfg.token, "T");
	cr_assert_str_eq(cfg.region, "eu-west-1");
	cr_assert_not(cfg.path_style);
	sp_s3_config_fini(&cfg);
	setenv("AWS_PROFILE", "nope", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)),
		     -ENOENT);
	cr_assert(strstr(err, "has no profile [nope]"), "%s", err);
	cr_assert_null(strstr(err, "CIS"));
	unsetenv("AWS_PROFILE");

	/* the standard variables when the stage names nothing */
	src = (struct sp_s3_source){0};
	setenv("AWS_ACCESS_KEY_ID", "STD", 1);
	setenv("AWS_SECRET_ACCESS_KEY", "STDS", 1);
	setenv("AWS_ENDPOINT_URL", "http://127.0.0.1:1/", 1);
	setenv("AWS_REGION", "ap-south-1", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)), 0);
	cr_assert_str_eq(cfg.key_id, "STD");
	cr_assert_str_eq(cfg.endpoint, "http://127.0.0.1:1");
	cr_assert_str_eq(cfg.region, "ap-south-1");
	sp_s3_config_fini(&cfg);
	setenv("AWS_ENDPOINT_URL", "ftp://x", 1);
	cr_assert_eq(sp_s3_config_resolve(&src, &cfg, err, sizeof(err)),
		     -EINVAL);
	cr_assert_str_eq(err, "S3 endpoint 'ftp://x' is not an http:// or "
			      "https:// URL");
	unsetenv("AWS_ENDPOINT_URL");
	unsetenv("AWS_REGION");
	unsetenv("AWS_ACCESS_KEY_ID");
	unsetenv("AWS_SECRET_ACCESS_KEY");
	free(file);
	e2e_rmrf(dir);
	free(dir);
}

/* Every simple call, on the server at endpoint. */
static void simple_calls(struct sp_s3 *s3)
{
	struct sp_s3_object o;
	char etag[72], *data, buf[16];
	size_t len, got;
	char *big = bytes(100000, 7);

	cr_assert_eq(sp_s3_put(s3, "bkt", "dir/a b+c.txt", "hello\n", 6, etag),
		     0, "%s", sp_s3_error(s3));
	cr_assert_str_eq(etag, "b1946ac92492d2347c6235b4d2611184"); /* md5 */
	cr_assert_eq(sp_s3_put(s3, "bkt", "dir/big", big, 100000, NULL), 0);
	cr_assert_eq(sp_s3_head(s3, "bkt", "dir/a b+c.txt", &o), 0);
	cr_assert_eq(o.size, 6);
	cr_assert_str_eq(o.etag, etag);
	cr_assert_gt(o.mtime, 1600000000);
	cr_assert_eq(sp_s3_head(s3, "bkt", "dir/none", &o), -ENOENT);
	cr_assert(strstr(sp_s3_error(s3), "S3 HEAD s3://bkt/dir/none: "
					  "HTTP 404"),
		  "%s", sp_s3_error(s3));
	cr_assert_eq(sp_s3_get(s3, "bkt", "dir/a b+c.txt", &data, &len), 0);
	cr_assert_eq(len, 6);
	cr_assert_str_eq(data, "hello\n");
	free(data);
	cr_assert_eq(
	    sp_s3_get_range(s3, "bkt", "dir/big", 99990, 16, buf, &got), 0,
	    "%s", sp_s3_error(s3));
	cr_assert_eq(got, 10);
	cr_assert_arr_eq(buf, big + 99990, 10);
	cr_assert_eq(sp_s3_get(s3, "bkt", "dir/none", &data, &len), -ENOENT);
	cr_assert(strstr(sp_s3_error(s3), "HTTP 404 NoSuchKey: "), "%s",
		  sp_s3_error(s3));
	cr_assert_eq(sp_s3_get(s3, "nobucket", "k", &data, &len), -ENOENT);
	cr_assert(strstr(sp_s3_error(s3), "S3 GET s3://nobucket/k: HTTP 404 "
					  "NoSuchBucket: "),
		  "%s", sp_s3_error(s3));

	struct sp_s3_object *v;
	size_t n;
	cr_assert_eq(sp_s3_list(s3, "bkt", "dir/", &v, &n), 0);
	cr_assert_eq(n, 2);
	cr_assert_str_eq(v[0].key, "dir/a b+c.txt");
	cr_assert_eq(v[0].size, 6);
	cr_assert_str_eq(v[0].etag, etag);
	cr_assert_str_eq(v[1].key, "dir/big");
	cr_assert_eq(v[1].size, 100000);
	sp_s3_objects_free(v, n);
	cr_assert_eq(sp_s3_probe(s3, "bkt", "dir/"), 1);
	cr_assert_eq(sp_s3_probe(s3, "bkt", "zzz/"), 0);
	cr_assert_eq(sp_s3_delete(s3, "bkt", "dir/a b+c.txt"), 0);
	cr_assert_eq(sp_s3_delete(s3, "bkt", "dir/a b+c.txt"), 0);
	cr_assert_eq(sp_s3_head(s3, "bkt", "dir/a b+c.txt", &o), -ENOENT);

	/* multipart: three parts, the object appears at complete */
	char *id, etags[3][72];
	cr_assert_eq(sp_s3_mpu_create(s3, "bkt", "mp/x=1", &id), 0, "%s",
		     sp_s3_error(s3));
	for (unsigned p = 0; p < 3; p++)
		cr_assert_eq(sp_s3_mpu_part(s3, "bkt", "mp/x=1", id, p + 1,
					    big + p * 40000,
					    p < 2 ? 40000 : 20000, etags[p]),
			     0, "%s", sp_s3_error(s3));
	cr_assert_eq(sp_s3_head(s3, "bkt", "mp/x=1", &o), -ENOENT);
	cr_assert_eq(
	    sp_s3_mpu_complete(s3, "bkt", "mp/x=1", id, etags, 3, etag), 0,
	    "%s", sp_s3_error(s3));
	cr_assert_neq(etag[0], '\0');
	free(id);
	cr_assert_eq(sp_s3_get(s3, "bkt", "mp/x=1", &data, &len), 0);
	cr_assert_eq(len, 100000);
	cr_assert_arr_eq(data, big, 100000);
	free(data);
	free(big);
}

Test(s3, calls_on_s3rver)
{
	struct s3srv srv;
	S3SRV_START_OR_SKIP(&srv, "bkt");
	struct sp_s3 *s3 = client(srv.endpoint, "S3RVER");

	simple_calls(s3);
	/* what s3rver lacks is reported as such */
	struct sp_s3_upload *u;
	size_t n;
	cr_assert_eq(sp_s3_mpu_list(s3, "bkt", "", &u, &n), -ENOTSUP);
	cr_assert(strstr(sp_s3_error(s3), "HTTP 501"), "%s", sp_s3_error(s3));
	cr_assert_eq(sp_s3_retries(s3), 0);
	sp_s3_destroy(s3);
	s3srv_stop(&srv);
}

Test(s3, listing_pages)
{
	struct s3srv srv;
	S3SRV_START_OR_SKIP(&srv, "bkt");
	struct sp_s3 *s3 = client(srv.endpoint, "S3RVER");
	char key[32];

	/* s3rver's page is 1000 keys */
	for (int i = 0; i < 1203; i++) {
		snprintf(key, sizeof(key), "p/%05d", i);
		cr_assert_eq(sp_s3_put(s3, "bkt", key, key, 7, NULL), 0);
	}
	cr_assert_eq(sp_s3_put(s3, "bkt", "q/other", "x", 1, NULL), 0);
	struct sp_s3_object *v;
	size_t n;
	cr_assert_eq(sp_s3_list(s3, "bkt", "p/", &v, &n), 0, "%s",
		     sp_s3_error(s3));
	cr_assert_eq(n, 1203);
	for (int i = 0; i < 1203; i++) {
		snprintf(key, sizeof(key), "p/%05d", i);
		cr_assert_str_eq(v[i].key, key);
		cr_assert_eq(v[i].size, 7);
	}
	sp_s3_objects_free(v, n);
	sp_s3_destroy(s3);
	s3srv_stop(&srv);
}

Test(s3, every_request_signed_as_aws_computes)
{
	struct s3srv srv;
	char why[256];
	S3SRV_START_OR_SKIP(&srv, "bkt");
	cr_assert(s3srv_proxy_start(&srv, NULL, why, sizeof(why)), "%s", why);
	struct sp_s3 *s3 = client(srv.proxy_endpoint, "S3RVER");

	simple_calls(s3);
	/* the proxy serves abort and list uploads */
	char *id1, *id2;
	struct sp_s3_upload *u;
	size_t n;
	cr_assert_eq(sp_s3_mpu_create(s3, "bkt", "up/one", &id1), 0);
	cr_assert_eq(sp_s3_mpu_create(s3, "bkt", "up/two two", &id2), 0);
	cr_assert_eq(sp_s3_mpu_list(s3, "bkt", "up/", &u, &n), 0, "%s",
		     sp_s3_error(s3));
	cr_assert_eq(n, 2);
	cr_assert_str_eq(u[0].key, "up/one");
	cr_assert_str_eq(u[0].upload_id, id1);
	cr_assert_str_eq(u[1].key, "up/two two");
	sp_s3_uploads_free(u, n);
	cr_assert_eq(sp_s3_mpu_abort(s3, "bkt", "up/one", id1), 0, "%s",
		     sp_s3_error(s3));
	cr_assert_eq(sp_s3_mpu_abort(s3, "bkt", "up/one", id1), -ENOENT);
	cr_assert(strstr(sp_s3_error(s3), "NoSuchUpload"), "%s",
		  sp_s3_error(s3));
	cr_assert_eq(sp_s3_mpu_list(s3, "bkt", "up/", &u, &n), 0);
	cr_assert_eq(n, 1);
	cr_assert_str_eq(u[0].upload_id, id2);
	sp_s3_uploads_free(u, n);
	free(id1);
	free(id2);
	sp_s3_destroy(s3);
	cr_assert_eq(s3srv_proxy_count(&srv, "BADSIG"), 0);
	cr_assert_eq(s3srv_proxy_count(&srv, "NOAUTH"), 0);
	cr_assert_gt(s3srv_proxy_count(&srv, "OK "), 25);

	/* a wrong secret and an unknown key id are refused, finally */
	s3 = client(srv.proxy_endpoint, "not-the-secret");
	struct sp_s3_object o;
	cr_assert_eq(sp_s3_head(s3, "bkt", "dir/big", &o), -EACCES);
	cr_assert_eq(sp_s3_put(s3, "bkt", "k", "x", 1, NULL), -EACCES);
	cr_assert(strstr(sp_s3_error(s3), "S3 PUT s3://bkt/k: HTTP 403 "
					  "SignatureDoesNotMatch: "),
		  "%s", sp_s3_error(s3));
	cr_assert_null(strstr(sp_s3_error(s3), "not-the-secret"));
	cr_assert_eq(sp_s3_retries(s3), 0);
	sp_s3_destroy(s3);
	cr_assert_eq(s3srv_proxy_count(&srv, "BADSIG"), 2);
	struct sp_s3_config cfg = {.endpoint = srv.endpoint,
				   .region = "us-east-1",
				   .key_id = "NOSUCHKEY",
				   .secret = "S3RVER",
				   .path_style = true};
	cr_assert_eq(sp_s3_create(&cfg, &s3), 0);
	cr_assert_eq(sp_s3_probe(s3, "bkt", ""), -EACCES);
	cr_assert(strstr(sp_s3_error(s3), "HTTP 403 InvalidAccessKeyId: "),
		  "%s", sp_s3_error(s3));
	sp_s3_destroy(s3);
	s3srv_stop(&srv);
}

static void retried(struct s3srv *srv, const char *kind)
{
	char why[256];
	const char *const opts[] = {"--fail", "2", "--fail-kind", kind, NULL};
	cr_assert(s3srv_proxy_start(srv, opts, why, sizeof(why)), "%s", why);
	struct sp_s3 *s3 = client(srv->proxy_endpoint, "S3RVER");
	char *data;
	size_t len;

	cr_assert_eq(sp_s3_put(s3, "bkt", "r", "abc", 3, NULL), 0, "%s: %s",
		     kind, sp_s3_error(s3));
	cr_assert_eq(sp_s3_retries(s3), 2, "%s", kind);
	cr_assert_eq(sp_s3_get(s3, "bkt", "r", &data, &len), 0);
	cr_assert_str_eq(data, "abc");
	free(data);
	sp_s3_destroy(s3);
	cr_assert_eq(s3srv_proxy_count(srv, "FAULT"), 2);
}

Test(s3, transient_failures_retried_then_reported)
{
	struct s3srv srv;
	char why[256];
	S3SRV_START_OR_SKIP(&srv, "bkt");

	retried(&srv, "503");
	retried(&srv, "500");
	retried(&srv, "reset");
	const char *const opts[] = {"--fail", "100", NULL};
	cr_assert(s3srv_proxy_start(&srv, opts, why, sizeof(why)), "%s", why);
	struct sp_s3_config cfg = {.endpoint = srv.proxy_endpoint,
				   .key_id = "S3RVER",
				   .secret = "S3RVER",
				   .path_style = true,
				   .retries = 3,
				   .backoff_ms = 2};
	struct sp_s3 *s3;
	cr_assert_eq(sp_s3_create(&cfg, &s3), 0);
	cr_assert_eq(sp_s3_put(s3, "bkt", "r", "abc", 3, NULL), -EIO);
	cr_assert_str_eq(sp_s3_error(s3),
			 "S3 PUT s3://bkt/r: HTTP 503 SlowDown: Please reduce "
			 "your request rate. (after 3 retries)");
	cr_assert_eq(sp_s3_retries(s3), 3);
	sp_s3_destroy(s3);
	s3srv_stop(&srv);
}

/* Reads key in blocks of bs, nb in flight; compares with want. */
static void read_ranges(struct sp_s3 *s3, const char *key, const char *want,
			size_t size, size_t bs, unsigned nb)
{
	struct sp_s3_reader *r;
	const char *d;
	size_t len, at = 0;
	int rc;

	cr_assert_eq(sp_s3_reader_open(s3, "bkt", key, size, bs, nb, &r), 0);
	while ((rc = sp_s3_reader_next(r, &d, &len)) == 1) {
		cr_assert_leq(at + len, size);
		cr_assert_eq(len, size - at < bs ? size - at : bs);
		cr_assert_arr_eq(d, want + at, len, "at %zu", at);
		at += len;
		sp_s3_reader_release(r, d);
	}
	cr_assert_eq(rc, 0, "%s", sp_s3_error(s3));
	cr_assert_eq(at, size);
	sp_s3_reader_close(r);
}

Test(s3, ranged_reader_in_order)
{
	struct s3srv srv;
	char why[256];
	size_t size = (3u << 20) + 12345;
	char *big = bytes(size, 11);
	S3SRV_START_OR_SKIP(&srv, "bkt");
	struct sp_s3 *s3 = client(srv.endpoint, "S3RVER");

	cr_assert_eq(sp_s3_put(s3, "bkt", "big", big, size, NULL), 0);
	cr_assert_eq(sp_s3_put(s3, "bkt", "empty", "", 0, NULL), 0);
	read_ranges(s3, "big", big, size, 256 << 10, 4);
	read_ranges(s3, "big", big, size, size + 10, 2);
	read_ranges(s3, "empty", "", 0, 4096, 2);

	/* the caller holding every block: -ENOBUFS, not a hang */
	struct sp_s3_reader *r;
	const char *d1, *d2, *d3;
	size_t len;
	cr_assert_eq(sp_s3_reader_open(s3, "bkt", "big", size, 1 << 20, 2, &r),
		     0);
	cr_assert_eq(sp_s3_reader_next(r, &d1, &len), 1);
	cr_assert_eq(sp_s3_reader_next(r, &d2, &len), 1);
	cr_assert_eq(sp_s3_reader_next(r, &d3, &len), -ENOBUFS);
	sp_s3_reader_release(r, d1);
	cr_assert_eq(sp_s3_reader_next(r, &d3, &len), 1);
	cr_assert_arr_eq(d3, big + (2 << 20), len);
	sp_s3_reader_close(r);
	sp_s3_destroy(s3);

	/* ranges that fail at first are retried while the others go on */
	const char *const opts[] = {
	    "--fail",	     "3", "--fail-kind", "reset", "--fail-match",
	    "^GET /bkt/big", NULL};
	cr_assert(s3srv_proxy_start(&srv, opts, why, sizeof(why)), "%s", why);
	s3 = client(srv.proxy_endpoint, "S3RVER");
	read_ranges(s3, "big", big, size, 256 << 10, 4);
	cr_assert_eq(sp_s3_retries(s3), 3);
	cr_assert_eq(s3srv_proxy_count(&srv, "FAULT"), 3);
	/* an object shorter than said: an error naming the offset */
	cr_assert_eq(
	    sp_s3_reader_open(s3, "bkt", "big", size + 5, 1 << 20, 2, &r), 0);
	int rc;
	while ((rc = sp_s3_reader_next(r, &d1, &len)) == 1)
		sp_s3_reader_release(r, d1);
	cr_assert_eq(rc, -EIO);
	cr_assert(strstr(sp_s3_error(s3), "S3 GET s3://bkt/big: "), "%s",
		  sp_s3_error(s3));
	sp_s3_reader_close(r);
	sp_s3_destroy(s3);
	free(big);
	s3srv_stop(&srv);
}
