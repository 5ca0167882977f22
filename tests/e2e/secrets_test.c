/*
 * Secrets never leave spate: values planted in the environment, in an
 * S3 endpoint's and an s3:// URL's user information, in a credentials
 * file and in a refused --secret-env are looked for in everything spate
 * printed or wrote (stdout, stderr at debug level, --json status, error
 * records, the metrics file, the catalog database and its journal) over
 * stage commands and runs against a real S3 server (s3rver on loopback).
 * Refusals are checked with their exact exit codes and messages.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "support/s3srv.h"

#define ENV_SECRET "PlantedEnvSecret7Qx"
#define FILE_SECRET "PlantedFileSecret2Wm"
#define URL_USER "PlantedUrlUser4Kd"
#define URL_PASS "PlantedUrlPass9Zr"
#define BAD_NAME "PlantedBad+Value/8Tn"

static const char *const planted[] = {ENV_SECRET, FILE_SECRET, URL_USER,
				      URL_PASS, BAD_NAME, NULL};

struct fx {
	struct s3srv srv;
	char *dir, *work; /* work: spate's folder, everything it writes */
	char home[300], endpoint[200], aws_endpoint[260], creds[300];
	struct e2e_text seen; /* every stdout and stderr */
};

static void assert_clean(const char *what, const char *s, size_t len)
{
	for (int i = 0; planted[i]; i++)
		cr_assert_null(memmem(s, len, planted[i], strlen(planted[i])),
			       "%s holds the planted secret %s", what,
			       planted[i]);
}

static int check_file(const char *path, const struct stat *sb, int type,
		      struct FTW *ftw)
{
	(void)sb;
	(void)ftw;
	if (type != FTW_F)
		return 0;
	size_t len;
	char *data = e2e_read(path, &len);
	cr_assert_not_null(data, "%s", path);
	assert_clean(path, data, len);
	free(data);
	return 0;
}

/* Runs spate in work with env, keeping what it printed. */
static void run(struct fx *f, struct e2e_result *r, const char *const *env,
		const char *const *argv)
{
	e2e_run_timed(r, f->work, env, NULL, argv, E2E_RUN_LIMIT_S);
	e2e_text_add(&f->seen, r->out, r->out_len);
	e2e_text_add(&f->seen, r->err, r->err_len);
}

static void setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	S3SRV_START_OR_SKIP(&f->srv, "src");
	f->dir = e2e_tmpdir();
	f->work = e2e_join(f->dir, "work");
	snprintf(f->home, sizeof(f->home), "SPATE_HOME=%s/home", f->work);
	/* the endpoint with a user and password before the host */
	snprintf(f->endpoint, sizeof(f->endpoint), "http://%s:%s@%s",
		 URL_USER, URL_PASS, f->srv.endpoint + 7);
	snprintf(f->aws_endpoint, sizeof(f->aws_endpoint),
		 "AWS_ENDPOINT_URL=%s", f->srv.endpoint);
	/* the planted files lie outside work: only spate writes there */
	e2e_put_str(f->dir, "creds/credentials",
		    "[default]\naws_access_key_id = S3RVER\n"
		    "aws_secret_access_key = " FILE_SECRET "\n");
	snprintf(f->creds, sizeof(f->creds), "%s/creds/credentials", f->dir);
	e2e_put_str(f->work, "keep", "");
	char *obj = e2e_write(f->dir, "obj",
			      "{\"id\":1}\nnot json\n{\"id\":2}\n", 27);
	cr_assert_eq(s3srv_put(&f->srv, "src", "in/a.jsonl", obj), 0);
	free(obj);
}

static void teardown(struct fx *f)
{
	s3srv_stop(&f->srv);
	e2e_rmrf(f->dir);
	free(f->dir);
	free(f->work);
	free(f->seen.p);
}

static void assert_refused(struct e2e_result *r, int code, const char *msg)
{
	cr_assert_eq(r->exit_code, code, "exit %d: %s", r->exit_code, r->err);
	cr_assert(strstr(r->err, msg), "%s", r->err);
	e2e_result_free(r);
}

/* A flow over stage NAME with an error stage, run with --json, debug
 * logs and a metrics file; the bad line becomes an error record. */
static void run_stage_flow(struct fx *f, const char *const *env,
			   const char *stage)
{
	struct e2e_result r;
	char yaml[800];

	snprintf(yaml, sizeof(yaml),
		 "name: sec_%s\nerror_stage: errs\nstages:\n"
		 "  - {id: in, type: file_reader, stage: %s, path: a.jsonl}\n"
		 "  - {id: out, type: file_writer, inputs: [in], dir: out_%s, "
		 "compression: none, ordered: true}\n"
		 "  - {id: errs, type: file_writer, dir: errs_%s, "
		 "compression: none}\n",
		 stage, stage, stage, stage);
	e2e_put_str(f->work, "flow.yaml", yaml);
	const char *const argv[] = {"run",	    "flow.yaml",
				    "--json",	    "--log-level",
				    "debug",	    "--metrics-file",
				    "metrics.prom", NULL};
	run(f, &r, env, argv);
	cr_assert_eq(r.exit_code, 0, "exit %d: %s", r.exit_code, r.err);
	e2e_result_free(&r);
	char sub[64];
	snprintf(sub, sizeof(sub), "out_%s", stage);
	e2e_assert_out(f->work, sub, "{\"id\":1}\n{\"id\":2}\n", "secrets");
	snprintf(sub, sizeof(sub), "errs_%s", stage);
	size_t len;
	char *errs = e2e_read_out(f->work, sub, &len);
	cr_assert_eq(e2e_count_lines(errs, len), 1, "%s", errs);
	cr_assert(strstr(errs, "\"raw\":\"not json\""), "%s", errs);
	free(errs);
}

Test(secrets, never_printed_nor_stored)
{
	struct fx f;
	struct e2e_result r;
	setup(&f);
	const char *const env[] = {f.home, "SRC_KEY=S3RVER",
				   "SRC_SECRET=" ENV_SECRET, NULL};

	/* an endpoint with credentials in it: refused, not echoed */
	const char *const userinfo[] = {
	    "stage", "create-s3", "leaky",	   "--bucket",
	    "src",   "--path",	  "in",		   "--endpoint",
	    f.endpoint, "--key-id-env", "SRC_KEY", "--secret-env",
	    "SRC_SECRET", NULL};
	run(&f, &r, env, userinfo);
	assert_refused(&r, 2,
		       "spate: --endpoint holds credentials (USER:PASSWORD@ "
		       "before the host; not shown, not kept)");

	/* a value where a variable's name belongs: refused, not echoed */
	const char *const value[] = {
	    "stage", "create-s3", "bad",	      "--bucket",
	    "src",   "--path",	  "in",		      "--endpoint",
	    f.srv.endpoint, "--key-id-env", "SRC_KEY", "--secret-env",
	    BAD_NAME, NULL};
	run(&f, &r, env, value);
	assert_refused(&r, 2,
		       "spate: --secret-env is not a variable name (the "
		       "value is not shown)");

	/* the good stages: one with variables, one with a credentials file */
	const char *const by_env[] = {
	    "stage", "create-s3", "byenv",	      "--bucket",
	    "src",   "--path",	  "in",		      "--endpoint",
	    f.srv.endpoint, "--key-id-env", "SRC_KEY", "--secret-env",
	    "SRC_SECRET", NULL};
	run(&f, &r, env, by_env);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);
	const char *const by_file[] = {
	    "stage",	    "create-s3",	"byfile",
	    "--bucket",	    "src",		"--path",
	    "in",	    "--endpoint",	f.srv.endpoint,
	    "--credentials-file", f.creds, NULL};
	run(&f, &r, env, by_file);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);

	/* an S3 URL with credentials in alter: refused, shown masked */
	const char *const alter[] = {"stage", "alter", "byenv", "--url",
				     "s3://" URL_USER ":" URL_PASS "@src/in",
				     NULL};
	run(&f, &r, env, alter);
	assert_refused(&r, 2, "spate: bad bucket name in 's3://***@src/in'");

	const char *const list[] = {"stage", "list", "--json", NULL};
	const char *const get[] = {"stage", "get", "byfile", NULL};
	run(&f, &r, env, list);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.out, "\"credentials\":\"env:SRC_KEY / "
				"env:SRC_SECRET\""),
		  "%s", r.out);
	e2e_result_free(&r);
	run(&f, &r, env, get);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	e2e_result_free(&r);

	run_stage_flow(&f, env, "byenv");
	run_stage_flow(&f, env, "byfile");

	/* AWS_ENDPOINT_URL and an s3:// path with credentials: refused */
	char bad_ep[260];
	snprintf(bad_ep, sizeof(bad_ep), "AWS_ENDPOINT_URL=%s", f.endpoint);
	const char *const env_ep[] = {f.home, "AWS_ACCESS_KEY_ID=S3RVER",
				      "AWS_SECRET_ACCESS_KEY=" ENV_SECRET,
				      bad_ep, NULL};
	e2e_put_str(f.work, "url.yaml",
		    "name: sec_url\nstages:\n"
		    "  - {id: in, type: file_reader, path: s3://src/in/a.jsonl}\n"
		    "  - {id: out, type: file_writer, inputs: [in], dir: out}\n");
	const char *const url_run[] = {"run", "url.yaml", "--json", NULL};
	run(&f, &r, env_ep, url_run);
	assert_refused(&r, 1,
		       "S3 endpoint (AWS_ENDPOINT_URL) holds credentials "
		       "(USER:PASSWORD@ before the host; not shown, not "
		       "used)");
	const char *const env_ok[] = {f.home, "AWS_ACCESS_KEY_ID=S3RVER",
				      "AWS_SECRET_ACCESS_KEY=" ENV_SECRET,
				      f.aws_endpoint, NULL};
	e2e_put_str(f.work, "url.yaml",
		    "name: sec_url\nstages:\n"
		    "  - {id: in, type: file_reader, path: \"s3://" URL_USER
		    ":" URL_PASS "@src/in/a.jsonl\"}\n"
		    "  - {id: out, type: file_writer, inputs: [in], dir: out}\n");
	run(&f, &r, env_ok, url_run);
	cr_assert_eq(r.exit_code, 1, "exit %d: %s", r.exit_code, r.err);
	cr_assert(strstr(r.err, "option 'path': 's3://***@src/in/a.jsonl' is "
				"not s3://BUCKET/KEY (credentials never go "
				"into a URL)"),
		  "%s", r.err);
	e2e_result_free(&r);
	/* url.yaml names them itself: it is the user's, not spate's */
	char *flow = e2e_join(f.work, "url.yaml");
	cr_assert_eq(unlink(flow), 0);
	free(flow);

	assert_clean("output", f.seen.p, f.seen.len);
	cr_assert_eq(nftw(f.work, check_file, 16, FTW_PHYS), 0);
	char *db = e2e_join(f.work, "home/catalog.db");
	size_t len;
	char *data = e2e_read(db, &len);
	cr_assert_not_null(data, "no catalog at %s", db);
	cr_assert_gt(len, 0);
	free(data);
	free(db);
	teardown(&f);
}
