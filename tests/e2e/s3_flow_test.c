/*
 * Flows reading S3 objects from a real S3-compatible server (s3rver on
 * loopback, started here): an S3 catalog stage and s3:// paths, globs over
 * keys, a zstd object streamed, an object larger than the 1 MiB range
 * size read in ranges, load history keyed on the objects' ETags, and a
 * refused key reported with S3's error code.  Every record is read back
 * and compared.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"
#include "support/s3srv.h"

struct fx {
	struct s3srv srv;
	char *dir;
	char home[300], key_env[64], secret_env[64];
	char aws_key[64], aws_secret[64], aws_endpoint[128];
	struct e2e_text want; /* every input record */
};

/* n records "{"id":base+i,...}" of about 90 bytes each. */
static void records(struct e2e_text *t, struct e2e_text *all, int base, int n)
{
	for (int i = 0; i < n; i++) {
		char line[160];
		int k = snprintf(line, sizeof(line),
				 "{\"id\":%d,\"name\":\"rec %d\",\"pad\":\""
				 "abcdefghijklmnopqrstuvwxyz0123456789\"}\n",
				 base + i, base + i);
		e2e_text_add(t, line, (size_t)k);
		e2e_text_add(all, line, (size_t)k);
	}
}

static void put_object(struct fx *f, const char *key, const char *data,
		       size_t len, bool zst)
{
	char *path = e2e_write(f->dir, "obj", data, len);
	char cmd[600];

	if (zst) {
		snprintf(cmd, sizeof(cmd), "zstd -q -f -o %s/obj.zst %s",
			 f->dir, path);
		cr_assert_eq(system(cmd), 0);
		char *zpath;
		cr_assert(asprintf(&zpath, "%s.zst", path) > 0);
		free(path);
		path = zpath;
	}
	cr_assert_eq(s3srv_put(&f->srv, "src", key, path), 0, "put %s", key);
	free(path);
}

static void setup(struct fx *f)
{
	memset(f, 0, sizeof(*f));
	S3SRV_START_OR_SKIP(&f->srv, "src", "dst");
	f->dir = e2e_tmpdir();
	snprintf(f->home, sizeof(f->home), "SPATE_HOME=%s/home", f->dir);
	snprintf(f->key_env, sizeof(f->key_env), "SRC_KEY=S3RVER");
	snprintf(f->secret_env, sizeof(f->secret_env), "SRC_SECRET=S3RVER");
	snprintf(f->aws_key, sizeof(f->aws_key), "AWS_ACCESS_KEY_ID=S3RVER");
	snprintf(f->aws_secret, sizeof(f->aws_secret),
		 "AWS_SECRET_ACCESS_KEY=S3RVER");
	snprintf(f->aws_endpoint, sizeof(f->aws_endpoint),
		 "AWS_ENDPOINT_URL=%s", f->srv.endpoint);

	struct e2e_text a = {0}, b = {0}, big = {0};
	records(&a, &f->want, 0, 100);
	records(&b, &f->want, 1000, 2000);
	records(&big, &f->want, 100000, 40000); /* ~3.7 MiB: 4 ranges */
	cr_assert_gt(big.len, 3u << 20);
	put_object(f, "in/a.jsonl", a.p, a.len, false);
	put_object(f, "in/sub/b.jsonl.zst", b.p, b.len, true);
	put_object(f, "in/big.jsonl", big.p, big.len, false);
	put_object(f, "in/notes.txt", "not json\n", 9, false);
	put_object(f, "other/c.jsonl", a.p, a.len, false);
	free(a.p);
	free(b.p);
	free(big.p);
}

static void teardown(struct fx *f)
{
	s3srv_stop(&f->srv);
	if (f->dir)
		e2e_rmrf(f->dir);
	free(f->dir);
	free(f->want.p);
}

static void run(struct fx *f, struct e2e_result *r, const char *const *env,
		const char *const *argv)
{
	e2e_run_timed(r, f->dir, env, NULL, argv, E2E_RUN_LIMIT_S);
}

static void flow(struct fx *f, const char *reader)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "name: s3in\nstages:\n  - id: in\n    type: file_reader\n%s"
		 "  - id: out\n    type: file_writer\n    inputs: [in]\n"
		 "    dir: out\n    compression: none\n"
		 "    name: \"{run}-{seq}.{ext}\"\n",
		 reader);
	e2e_put_str(f->dir, "flow.yaml", text);
}

/* The output's records, sorted, are every input record, sorted. */
static void assert_all_read(struct fx *f, size_t nrec)
{
	size_t len;
	char *got = e2e_read_out(f->dir, "out", &len);
	char *want = strdup(f->want.p);

	cr_assert_eq(e2e_count_lines(got, len), nrec);
	e2e_sort_lines(got, len);
	e2e_sort_lines(want, f->want.len);
	e2e_assert_same(got, len, want, f->want.len, "records", "s3");
	free(got);
	free(want);
}

Test(s3_flow, stage_glob_zstd_ranges_history)
{
	struct fx f;
	struct e2e_result r;
	setup(&f);
	const char *const env[] = {f.home, f.key_env, f.secret_env, NULL};
	const char *const create[] = {
	    "stage",	    "create-s3",  "src",
	    "--bucket",	    "src",	  "--path",
	    "in",	    "--endpoint", f.srv.endpoint,
	    "--key-id-env", "SRC_KEY",	  "--secret-env",
	    "SRC_SECRET",   NULL};
	run(&f, &r, env, create);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);

	flow(&f, "    stage: src\n    path: [\"*.jsonl\", \"sub/*.zst\"]\n");
	const char *const argv[] = {"run", "flow.yaml", NULL};
	run(&f, &r, env, argv);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	assert_all_read(&f, 42100);

	/* the history names the keys relative to the stage */
	const char *const hist[] = {"history", "--flow", "s3in", NULL};
	run(&f, &r, env, hist);
	e2e_assert_ok(&r, "s3");
	cr_assert(strstr(r.out, "a.jsonl"), "%s", r.out);
	cr_assert(strstr(r.out, "big.jsonl"), "%s", r.out);
	cr_assert(strstr(r.out, "sub/b.jsonl.zst"), "%s", r.out);
	e2e_result_free(&r);

	/* a rerun does nothing: the same input was committed */
	run(&f, &r, env, argv);
	e2e_assert_ok(&r, "s3");
	cr_assert(strstr(r.err, "already holds the committed output of this "
				"flow over the same input"),
		  "%s%s", r.out, r.err);
	e2e_result_free(&r);
	assert_all_read(&f, 42100);

	/* a changed object (new ETag) is loaded again, alone: the others
	 * are in the load history */
	put_object(&f, "in/a.jsonl", "{\"id\":-1}\n", 10, false);
	e2e_text_add(&f.want, "{\"id\":-1}\n", 10);
	run(&f, &r, env, argv);
	e2e_assert_ok(&r, "s3");
	cr_assert(strstr(r.err, "1 file read, 2 skipped (loaded before)"),
		  "%s%s", r.out, r.err);
	e2e_result_free(&r);
	assert_all_read(&f, 42101);
	teardown(&f);
}

Test(s3_flow, s3_url_with_aws_variables)
{
	struct fx f;
	struct e2e_result r;
	setup(&f);
	const char *const env[] = {f.home, f.aws_key, f.aws_secret,
				   f.aws_endpoint, NULL};
	flow(&f, "    path: [\"s3://src/in/*.jsonl\", "
		 "\"s3://src/in/sub/b.jsonl.zst\"]\n");
	const char *const argv[] = {"run", "flow.yaml", NULL};
	run(&f, &r, env, argv);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	assert_all_read(&f, 42100);

	/* a credentials file and profile instead of the variables */
	e2e_put_str(f.dir, "creds",
		    "[other]\naws_access_key_id = S3RVER\n"
		    "aws_secret_access_key = S3RVER\n");
	char file[400];
	snprintf(file, sizeof(file), "AWS_SHARED_CREDENTIALS_FILE=%s/creds",
		 f.dir);
	const char *const env2[] = {f.home, f.aws_endpoint, file,
				    "AWS_PROFILE=other", NULL};
	char *out = e2e_join(f.dir, "out");
	e2e_rmrf(out);
	free(out);
	run(&f, &r, env2, argv);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	assert_all_read(&f, 42100);
	teardown(&f);
}

Test(s3_flow, refused_key_and_missing_objects)
{
	struct fx f;
	struct e2e_result r;
	setup(&f);
	const char *const bad[] = {f.home, "AWS_ACCESS_KEY_ID=WRONGKEY",
				   f.aws_secret, f.aws_endpoint, NULL};
	const char *const argv[] = {"run", "flow.yaml", NULL};

	flow(&f, "    path: s3://src/in/*.jsonl\n");
	run(&f, &r, bad, argv);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "option 'path': cannot list "
				"'s3://src/in/*.jsonl': S3 GET s3://src/: "
				"HTTP 403 InvalidAccessKeyId: "),
		  "%s", r.err);
	cr_assert_null(strstr(r.err, "S3RVER\n"));
	e2e_result_free(&r);

	const char *const env[] = {f.home, f.aws_key, f.aws_secret,
				   f.aws_endpoint, NULL};
	flow(&f, "    path: s3://src/in/*.csv\n");
	run(&f, &r, env, argv);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "option 'path': 's3://src/in/*.csv' matches "
				"no object (listed s3://src/in/)"),
		  "%s", r.err);
	e2e_result_free(&r);
	flow(&f, "    path: s3://src/in/none.jsonl\n");
	run(&f, &r, env, argv);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "cannot read s3://src/in/none.jsonl: S3 HEAD "
				"s3://src/in/none.jsonl: HTTP 404"),
		  "%s", r.err);
	e2e_result_free(&r);
	teardown(&f);
}
