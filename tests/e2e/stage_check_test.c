/*
 * `spate stage check` and `spate stage alter` of S3 stages against a real
 * S3-compatible server (s3rver on loopback behind the signature-checking
 * proxy, both started here): a good stage passes, listing and writing
 * (the marker it writes is gone afterwards); each thing that can be wrong
 * - a missing bucket, an unknown key id, a wrong secret, a policy that
 * denies writing, an endpoint nobody answers on, a variable not set - is
 * named with S3's error code, the stage and what to fix, in text and
 * JSON, with exit 1, and no secret in anything printed.  alter changes
 * the endpoint, region, URL and credential source, refusing what
 * create-s3 refuses without echoing it.  A local stage is checked too.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include "support/e2e.h"
#include "support/s3srv.h"

#define SECRET "sEcReT-tHaT-mUsT-nOt-ShOw"

struct fx {
	struct s3srv srv;
	char *dir;
	char home[300];
	char key[64], secret[96];
};

static void setup(struct fx *f, const char *const *proxy_opts)
{
	char why[256];

	memset(f, 0, sizeof(*f));
	S3SRV_START_OR_SKIP(&f->srv, "dst");
	f->dir = e2e_tmpdir();
	cr_assert(s3srv_proxy_start(&f->srv, proxy_opts, why, sizeof(why)),
		  "%s", why);
	snprintf(f->home, sizeof(f->home), "SPATE_HOME=%s/home", f->dir);
	snprintf(f->key, sizeof(f->key), "CHK_KEY=S3RVER");
	snprintf(f->secret, sizeof(f->secret), "CHK_SECRET=S3RVER");
}

static void teardown(struct fx *f)
{
	s3srv_stop(&f->srv);
	e2e_rmrf(f->dir);
	free(f->dir);
}

/* spate ARGS... (NULL-terminated) with the fixture's catalog and the
 * stage's variables; the secret is never in what it printed. */
static void sp(struct fx *f, struct e2e_result *r, ...)
{
	const char *argv[32];
	int n = 0;
	va_list ap;

	va_start(ap, r);
	for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	const char *const env[] = {f->home, f->key, f->secret, NULL};
	e2e_run_timed(r, f->dir, env, NULL, argv, 60);
	cr_assert_null(strstr(r->out, SECRET), "%s", r->out);
	cr_assert_null(strstr(r->err, SECRET), "%s", r->err);
}

static void expect(struct e2e_result *r, int code)
{
	cr_assert_eq(r->exit_code, code,
		     "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s",
		     r->exit_code, code, r->out, r->err);
}

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)), "no \"%s\" in:\n%s", (needle),      \
		  (hay))

static void create(struct fx *f, const char *name, const char *bucket,
		   const char *endpoint)
{
	struct e2e_result r;

	sp(f, &r, "stage", "create-s3", name, "--bucket", bucket, "--path",
	   "out", "--endpoint", endpoint, "--key-id-env", "CHK_KEY",
	   "--secret-env", "CHK_SECRET", NULL);
	expect(&r, 0);
	e2e_result_free(&r);
}

/* `stage check NAME --write --json` fails at step `check` with S3 error
 * code (NULL: none) and HTTP status; the text form says hint. */
static void expect_failure(struct fx *f, const char *name, const char *check,
			   const char *code, int status, const char *hint)
{
	struct e2e_result r;
	char want[256];

	sp(f, &r, "stage", "check", name, "--write", "--json", NULL);
	expect(&r, 1);
	snprintf(want, sizeof(want), "{\"stage\":\"%s\",\"kind\":\"s3\",",
		 name);
	cr_assert(!strncmp(r.out, want, strlen(want)), "%s", r.out);
	CONTAINS(r.out, "\"ok\":false,\"checks\":[");
	snprintf(want, sizeof(want), "{\"check\":\"%s\",\"ok\":false,", check);
	const char *p = strstr(r.out, want);
	cr_assert_not_null(p, "%s", r.out);
	if (code)
		snprintf(want, sizeof(want), "\"code\":\"%s\",\"http_status\":%d",
			 code, status);
	else
		snprintf(want, sizeof(want), "\"code\":null,\"http_status\":0");
	CONTAINS(p, want);
	snprintf(want, sizeof(want), "spate: stage '%s' failed its check (%s",
		 name, check);
	CONTAINS(r.err, want);
	e2e_result_free(&r);
	sp(f, &r, "stage", "check", name, "--write", NULL);
	expect(&r, 1);
	snprintf(want, sizeof(want), "  %-11s  FAILED: ", check);
	CONTAINS(r.out, want);
	if (code)
		CONTAINS(r.out, code);
	CONTAINS(r.out, hint);
	cr_assert_null(strstr(r.out, "\nOK\n"), "%s", r.out);
	e2e_result_free(&r);
}

Test(stage_check, a_good_stage_lists_and_writes)
{
	struct fx f;
	struct e2e_result r;
	char want[512];

	setup(&f, NULL);
	create(&f, "lake", "dst", f.srv.proxy_endpoint);
	sp(&f, &r, "stage", "check", "lake", NULL);
	expect(&r, 0);
	snprintf(want, sizeof(want),
		 "stage 'lake' (s3, s3://dst/out) at %s, region us-east-1, "
		 "credentials env:CHK_KEY / env:CHK_SECRET\n"
		 "  credentials  OK: env:CHK_KEY / env:CHK_SECRET\n"
		 "  list         OK: s3://dst/out/ holds no key yet\n"
		 "OK\n",
		 f.srv.proxy_endpoint);
	cr_assert_str_eq(r.out, want);
	e2e_result_free(&r);
	/* one ListObjectsV2 of at most one key under the prefix */
	cr_assert_eq(s3srv_proxy_count(&f.srv, "OK GET /dst/?"), 1);
	cr_assert_eq(s3srv_proxy_count(&f.srv, "OK GET /dst/?list-type=2&"
					       "max-keys=1&prefix=out%2F"),
		     1);

	char *p = e2e_write(f.dir, "obj", "x\n", 2);
	cr_assert_eq(s3srv_put(&f.srv, "dst", "out/a.jsonl", p), 0);
	free(p);
	sp(&f, &r, "stage", "check", "lake", "--write", "--json", NULL);
	expect(&r, 0);
	snprintf(want, sizeof(want),
		 "{\"stage\":\"lake\",\"kind\":\"s3\",\"url\":\"s3://dst/out\","
		 "\"endpoint\":\"%s\",\"region\":\"us-east-1\","
		 "\"credentials\":\"env:CHK_KEY / env:CHK_SECRET\","
		 "\"ok\":true,\"checks\":[{\"check\":\"credentials\","
		 "\"ok\":true,\"detail\":\"env:CHK_KEY / env:CHK_SECRET\"},"
		 "{\"check\":\"list\",\"ok\":true,\"detail\":\"s3://dst/out/ "
		 "holds keys\"},{\"check\":\"write\",\"ok\":true,\"detail\":"
		 "\"put and deleted s3://dst/out/.spate-check-",
		 f.srv.proxy_endpoint);
	cr_assert(!strncmp(r.out, want, strlen(want)), "%s\n%s", r.out, want);
	e2e_result_free(&r);
	cr_assert_eq(s3srv_proxy_count(&f.srv, "OK PUT /dst/out/.spate-check-"),
		     1);
	cr_assert_eq(
	    s3srv_proxy_count(&f.srv, "OK DELETE /dst/out/.spate-check-"), 1);
	/* the marker is gone: only the object put above is left */
	char *keys = s3srv_keys(&f.srv, "dst", "out/");
	cr_assert_str_eq(keys, "out/a.jsonl\n");
	free(keys);
	teardown(&f);
}

Test(stage_check, each_failure_named_with_its_s3_code)
{
	struct fx f;
	struct e2e_result r;
	const char *const deny[] = {"--deny-match", "^PUT ", NULL};
	char why[256];

	setup(&f, NULL);
	create(&f, "nob", "nobucket", f.srv.proxy_endpoint);
	expect_failure(&f, "nob", "list", "NoSuchBucket", 404,
		       "bucket 'nobucket' does not exist at ");

	create(&f, "lake", "dst", f.srv.proxy_endpoint);
	snprintf(f.key, sizeof(f.key), "CHK_KEY=NOT-A-KEY");
	expect_failure(&f, "lake", "list", "InvalidAccessKeyId", 403,
		       "the server does not know the key id from "
		       "env:CHK_KEY / env:CHK_SECRET");
	snprintf(f.key, sizeof(f.key), "CHK_KEY=S3RVER");
	snprintf(f.secret, sizeof(f.secret), "CHK_SECRET=%s", SECRET);
	expect_failure(&f, "lake", "list", "SignatureDoesNotMatch", 403,
		       "the secret from env:CHK_KEY / env:CHK_SECRET does not "
		       "belong to the key id");
	snprintf(f.secret, sizeof(f.secret), "CHK_SECRET=S3RVER");

	/* credentials that may list but not write */
	cr_assert(s3srv_proxy_start(&f.srv, deny, why, sizeof(why)), "%s",
		  why);
	sp(&f, &r, "stage", "alter", "lake", "--endpoint",
	   f.srv.proxy_endpoint, NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "check", "lake", NULL); /* reading is allowed */
	expect(&r, 0);
	e2e_result_free(&r);
	expect_failure(&f, "lake", "write", "AccessDenied", 403,
		       "may not write under s3://dst/out: ask for "
		       "s3:PutObject and s3:DeleteObject");

	/* nobody answers: the endpoint is named */
	sp(&f, &r, "stage", "alter", "lake", "--endpoint", "http://127.0.0.1:1",
	   NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	expect_failure(&f, "lake", "list", NULL, 0,
		       "no answer from http://127.0.0.1:1: is the server "
		       "running and the endpoint right?");

	/* a variable the stage names is not set */
	snprintf(f.secret, sizeof(f.secret), "UNRELATED=1");
	sp(&f, &r, "stage", "check", "lake", NULL);
	expect(&r, 1);
	CONTAINS(r.out, "  credentials  FAILED: environment variable "
			"CHK_SECRET");
	CONTAINS(r.err, "spate: stage 'lake' failed its check (credentials)");
	e2e_result_free(&r);

	/* unknown and disabled stages */
	sp(&f, &r, "stage", "check", "lak", NULL);
	expect(&r, 1);
	CONTAINS(r.err, "no stage 'lak'");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "check", NULL);
	expect(&r, 2);
	e2e_result_free(&r);
	teardown(&f);
}

Test(stage_check, alter_moves_a_stage_and_refuses_what_create_refuses)
{
	struct fx f;
	struct e2e_result r;

	setup(&f, NULL);
	/* created pointing nowhere, in the wrong bucket */
	create(&f, "lake", "nobucket", "http://127.0.0.1:1");
	sp(&f, &r, "stage", "check", "lake", NULL);
	expect(&r, 1);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "lake", "--endpoint",
	   f.srv.proxy_endpoint, "--region", "eu-west-3", "--url",
	   "s3://dst/in/", NULL);
	expect(&r, 0);
	cr_assert_str_eq(r.out, "altered stage 'lake'\n");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "get", "lake", "--json", NULL);
	expect(&r, 0);
	CONTAINS(r.out, "\"url\":\"s3://dst/in/\",\"path\":\"in/\","
			"\"bucket\":\"dst\"");
	CONTAINS(r.out, "\"region\":\"eu-west-3\"");
	CONTAINS(r.out, f.srv.proxy_endpoint);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "check", "lake", "--write", NULL);
	expect(&r, 0);
	CONTAINS(r.out, "region eu-west-3");
	CONTAINS(r.out, "  write        OK: put and deleted s3://dst/in/"
			".spate-check-");
	e2e_result_free(&r);

	/* refused as create-s3 refuses, the value not shown */
	sp(&f, &r, "stage", "alter", "lake", "--endpoint",
	   "http://AKIA:" SECRET "@127.0.0.1:9000", NULL);
	expect(&r, 2);
	CONTAINS(r.err, "--endpoint holds credentials (USER:PASSWORD@ before "
			"the host; not shown, not kept)");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "lake", "--endpoint", "ftp://" SECRET,
	   NULL);
	expect(&r, 2);
	CONTAINS(r.err, "bad endpoint (not shown)");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "lake", "--region", SECRET, NULL);
	expect(&r, 2);
	CONTAINS(r.err, "bad region (not shown)");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "lake", "--key-id-env", SECRET, NULL);
	expect(&r, 2);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "lake", "--default-credentials",
	   "--credentials-file", "/f", NULL);
	expect(&r, 2);
	e2e_result_free(&r);
	/* nothing refused was kept */
	sp(&f, &r, "stage", "get", "lake", NULL);
	expect(&r, 0);
	CONTAINS(r.out, "region:      eu-west-3\n");
	CONTAINS(r.out, "credentials: env:CHK_KEY / env:CHK_SECRET\n");
	e2e_result_free(&r);

	/* back to AWS with the standard credentials; then unset region */
	sp(&f, &r, "stage", "alter", "lake", "--endpoint", "", "--region", "",
	   "--default-credentials", NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "get", "lake", NULL);
	expect(&r, 0);
	CONTAINS(r.out, "endpoint:    (AWS)\nregion:      (not set)\n"
			"credentials: (none: anonymous access)\n");
	e2e_result_free(&r);

	/* a local stage takes none of these */
	char *loc = e2e_join(f.dir, "loc");
	sp(&f, &r, "stage", "create-local", "loc", loc, NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "loc", "--region", "eu-west-1", NULL);
	expect(&r, 2);
	CONTAINS(r.err, "stage 'loc' is a local folder: it takes no region");
	e2e_result_free(&r);
	sp(&f, &r, "stage", "alter", "loc", "--endpoint", "http://h:1", NULL);
	expect(&r, 2);
	CONTAINS(r.err, "stage 'loc' is a local folder: it takes no endpoint");
	e2e_result_free(&r);
	free(loc);
	teardown(&f);
}

Test(stage_check, local_stage)
{
	struct fx f;
	struct e2e_result r;

	memset(&f, 0, sizeof(f));
	f.dir = e2e_tmpdir();
	snprintf(f.home, sizeof(f.home), "SPATE_HOME=%s/home", f.dir);
	char *loc = e2e_join(f.dir, "loc");
	sp(&f, &r, "stage", "create-local", "loc", loc, NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "check", "loc", "--write", NULL);
	expect(&r, 1);
	CONTAINS(r.out, "  list         FAILED: cannot list ");
	CONTAINS(r.out, "No such file or directory\n"
			"               flows reading from the stage fail until "
			"the folder exists");
	CONTAINS(r.out, "  write        OK: ");
	CONTAINS(r.out, "does not exist yet; a flow writing to the stage "
			"creates it in ");
	e2e_result_free(&r);
	cr_assert_eq(mkdir(loc, 0755), 0);
	e2e_put_str(loc, "a.jsonl", "{}\n");
	sp(&f, &r, "stage", "check", "loc", "--write", "--json", NULL);
	expect(&r, 0);
	CONTAINS(r.out, "\"ok\":true,\"checks\":[{\"check\":\"list\","
			"\"ok\":true,\"detail\":");
	CONTAINS(r.out, ": 1 entry\"},{\"check\":\"write\",\"ok\":true,"
			"\"detail\":\"created and removed ");
	e2e_result_free(&r);
	cr_assert_eq(e2e_count_files(loc, NULL, true), 1);
	sp(&f, &r, "stage", "alter", "loc", "--disable", NULL);
	expect(&r, 0);
	e2e_result_free(&r);
	sp(&f, &r, "stage", "check", "loc", NULL);
	expect(&r, 1);
	CONTAINS(r.out, "  enabled      FAILED: the stage is disabled: flows "
			"refuse to use it\n"
			"               `spate stage alter loc --enable`\n");
	e2e_result_free(&r);
	free(loc);
	e2e_rmrf(f.dir);
	free(f.dir);
}
