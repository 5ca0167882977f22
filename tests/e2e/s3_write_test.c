/*
 * file_writer on S3 (s3rver on loopback behind the signature-checking
 * proxy, both started here): files written as multipart uploads and
 * published with the manifest last.  Every output object is downloaded,
 * decompressed and compared record by record with the input; a rerun is
 * skipped; a run killed (SIGKILL) at each step of the commit leaves the
 * old complete version or the new one by the manifest, and the next run
 * leaves exactly the manifest's objects and no open multipart upload; a
 * SIGTERM drains and commits; a refused key or secret names the stage,
 * the key and the S3 error code without printing the secret; a flow
 * reads several objects of one S3 stage (one zstd, one read in ranges)
 * and writes two lanes to another.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "support/s3srv.h"

struct fx {
	struct s3srv srv;
	char *dir;
	char *hold; /* the proxy's hold file */
	char home[300];
	struct e2e_text want;
};

static const char *const create[] = {
    "stage", "create-s3", "dst", "--bucket", "dst", "--path", "out",
    "--endpoint", NULL /* set */, "--key-id-env", "DST_KEY", "--secret-env",
    "DST_SECRET", NULL};

static void records(struct e2e_text *t, int base, int n)
{
	for (int i = 0; i < n; i++)
		e2e_text_printf(t,
				"{\"id\":%d,\"name\":\"rec %d\",\"pad\":\""
				"abcdefghijklmnopqrstuvwxyz0123456789\"}\n",
				base + i, base + i);
}

static void setup(struct fx *f, int nrec)
{
	struct e2e_result r;
	const char *argv[sizeof(create) / sizeof(create[0])];
	char why[256];

	memset(f, 0, sizeof(*f));
	S3SRV_START_OR_SKIP(&f->srv, "src", "dst");
	f->dir = e2e_tmpdir();
	f->hold = e2e_join(f->dir, "hold");
	const char *const opts[] = {"--hold-file", f->hold, NULL};
	cr_assert(s3srv_proxy_start(&f->srv, opts, why, sizeof(why)), "%s",
		  why);
	snprintf(f->home, sizeof(f->home), "SPATE_HOME=%s/home", f->dir);
	records(&f->want, 0, nrec);
	e2e_put(f->dir, "in.jsonl", f->want.p, f->want.len);
	memcpy(argv, create, sizeof(create));
	argv[8] = f->srv.proxy_endpoint;
	const char *const env[] = {f->home, NULL};
	e2e_run(&r, f->dir, env, NULL, argv);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
}

static void teardown(struct fx *f)
{
	s3srv_stop(&f->srv);
	e2e_rmrf(f->dir);
	free(f->dir);
	free(f->hold);
	free(f->want.p);
}

static void flow(struct fx *f, const char *sub, const char *extra)
{
	char text[1024];

	snprintf(text, sizeof(text),
		 "name: s3out\nstages:\n"
		 "  - {id: in, type: file_reader, path: in.jsonl}\n"
		 "  - id: out\n    type: file_writer\n    inputs: [in]\n"
		 "    stage: dst\n    dir: %s\n%s",
		 sub, extra);
	e2e_put_str(f->dir, "flow.yaml", text);
}

static void run_as(struct fx *f, struct e2e_result *r, const char *key,
		   const char *secret, bool force)
{
	char k[64], s[64];
	snprintf(k, sizeof(k), "DST_KEY=%s", key);
	snprintf(s, sizeof(s), "DST_SECRET=%s", secret);
	const char *const env[] = {f->home, k, s, NULL};
	const char *const argv[] = {"run", "flow.yaml", NULL};
	const char *const fargv[] = {"run", "--force", "flow.yaml", NULL};
	e2e_run_timed(r, f->dir, env, NULL, force ? fargv : argv,
		      E2E_RUN_LIMIT_S);
}

static void run_ok(struct fx *f, bool force)
{
	struct e2e_result r;

	run_as(f, &r, "S3RVER", "S3RVER", force);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
}

/* The object's records (a zstd one decompressed), appended to all. */
static void add_object(struct fx *f, const char *bucket, const char *key,
		       struct e2e_text *all)
{
	size_t len;
	char *data = s3srv_get(&f->srv, bucket, key, &len);

	cr_assert_not_null(data, "%s is missing", key);
	if (strstr(key, ".zst")) {
		char cmd[600];
		char *p = e2e_write(f->dir, "obj.zst", data, len);
		snprintf(cmd, sizeof(cmd), "zstd -q -d -f -o %s/obj %s",
			 f->dir, p);
		cr_assert_eq(system(cmd), 0, "%s", cmd);
		free(p);
		free(data);
		char *plain = e2e_join(f->dir, "obj");
		data = e2e_read(plain, &len);
		free(plain);
	}
	e2e_text_add(all, data, len);
	free(data);
}

/* all, sorted, is want, sorted. */
static void assert_records(struct e2e_text *all, const struct e2e_text *want)
{
	char *w = strndup(want->p, want->len);

	e2e_text_add(all, "", 0);
	cr_assert_eq(e2e_count_lines(all->p, all->len),
		     e2e_count_lines(w, want->len));
	e2e_sort_lines(all->p, all->len);
	e2e_sort_lines(w, want->len);
	e2e_assert_same(all->p, all->len, w, want->len, "records", "s3");
	free(w);
}

/* What a manifest reader of out/SUB/ sees: nfiles objects (0: no
 * manifest, -1: any number) holding every input record.  exact: a reader
 * listing the prefix sees those and _manifest.json only, and no multipart
 * upload is open under it.  Returns the manifest's run id (NULL without
 * one). */
static char *assert_version(struct fx *f, const char *sub, int nfiles,
			    bool exact)
{
	char prefix[128], key[400], *run = NULL;
	snprintf(prefix, sizeof(prefix), "out/%s/", sub);
	snprintf(key, sizeof(key), "%s_manifest.json", prefix);
	char *keys = s3srv_keys(&f->srv, "dst", prefix);
	char *man = s3srv_get(&f->srv, "dst", key, NULL);
	int n = 0;
	if (nfiles == 0) {
		cr_assert_null(man, "a manifest:\n%s", man);
	} else {
		cr_assert_not_null(man, "no manifest under %s; keys:\n%s",
				   prefix, keys);
		struct e2e_text all = {0};
		for (const char *p = man; (p = strstr(p, "{\"name\": \""));) {
			p += 10;
			snprintf(key, sizeof(key), "%s%.*s", prefix,
				 (int)(strchr(p, '"') - p), p);
			add_object(f, "dst", key, &all);
			n++;
		}
		cr_assert(nfiles < 0 ? n > 0 : n == nfiles,
			  "%d files, manifest:\n%s", n, man);
		assert_records(&all, &f->want);
		free(all.p);
		const char *r = strstr(man, "\"run_id\": \"");
		cr_assert_not_null(r);
		run = strndup(r + 11, 16);
	}
	if (exact) {
		int k = 0;
		for (char *l = strtok(keys, "\n"); l; l = strtok(NULL, "\n")) {
			char q[300];
			snprintf(q, sizeof(q), "\"%s\"", l + strlen(prefix));
			cr_assert(!strcmp(l + strlen(prefix), "_manifest.json") ||
					  (man && strstr(man, q)),
				  "%s is not in the manifest:\n%s", l, man);
			k++;
		}
		cr_assert_eq(k, n ? n + 1 : 0);
		char *ups = s3srv_uploads(&f->srv, "dst", prefix);
		cr_assert_not_null(ups, "cannot list the uploads");
		cr_assert_str_eq(ups, "", "open uploads:\n%s", ups);
		free(ups);
	}
	free(man);
	free(keys);
	return run;
}

/* The number of data objects under out/SUB/ (the manifest left out). */
static int objects(struct fx *f, const char *sub)
{
	char prefix[128];
	snprintf(prefix, sizeof(prefix), "out/%s/", sub);
	char *keys = s3srv_keys(&f->srv, "dst", prefix);
	int n = (int)e2e_count_lines(keys, strlen(keys)) - 1;
	free(keys);
	return n;
}

Test(s3_write, every_record_back_rerun_skipped)
{
	struct fx f;
	struct e2e_result r;
	setup(&f, 150000); /* 13.6 MB: files of two 8 MiB parts */

	flow(&f, "plain", "    compression: none\n"
			  "    max_file_bytes: 10M\n");
	run_ok(&f, false);
	free(assert_version(&f, "plain", 2, true));

	flow(&f, "zst", "    max_file_bytes: 100K\n    frame_size: 64K\n");
	run_ok(&f, false);
	int n = objects(&f, "zst");
	cr_assert_gt(n, 2);
	char *v1 = assert_version(&f, "zst", n, true);

	/* the rerun finds the manifest of this run and writes nothing */
	int puts = s3srv_proxy_count(&f.srv, "OK PUT");
	run_as(&f, &r, "S3RVER", "S3RVER", false);
	e2e_assert_ok(&r, "s3");
	cr_assert(strstr(r.err, "already holds the committed output of this "
				"flow over the same input"),
		  "%s%s", r.out, r.err);
	e2e_result_free(&r);
	cr_assert_eq(s3srv_proxy_count(&f.srv, "OK PUT"), puts);
	char *again = assert_version(&f, "zst", n, true);
	cr_assert_str_eq(again, v1);
	free(again);

	/* --force replaces the version: same records, no stale object */
	flow(&f, "zst", "    max_file_bytes: 200K\n    frame_size: 64K\n");
	run_ok(&f, true);
	int m = objects(&f, "zst");
	cr_assert_lt(m, n);
	char *v2 = assert_version(&f, "zst", m, true);
	cr_assert_str_neq(v2, v1);
	free(v1);
	free(v2);
	teardown(&f);
}

/* Starts the flow, which the proxy stops at the first request matching
 * step; kills it there (SIGKILL) and lets the held request go unanswered. */
static void kill_at(struct fx *f, const char *step, bool force)
{
	const char *const env[] = {f->home, "DST_KEY=S3RVER",
				   "DST_SECRET=S3RVER", NULL};
	const char *const argv[] = {"run", "flow.yaml", NULL};
	const char *const fargv[] = {"run", "--force", "flow.yaml", NULL};
	char *outp = e2e_join(f->dir, "o"), *errp = e2e_join(f->dir, "e");
	char *taken = NULL;
	int held = s3srv_proxy_count(&f->srv, "HOLD ");

	e2e_put_str(f->dir, "hold", step);
	pid_t pid = e2e_bg_start(f->dir, env, force ? fargv : argv, outp,
				 errp, NULL);
	for (int i = 0; i < 1000 &&
			s3srv_proxy_count(&f->srv, "HOLD ") == held;
	     i++)
		e2e_sleep_ms(20);
	cr_assert_eq(s3srv_proxy_count(&f->srv, "HOLD "), held + 1,
		     "no request matched %s", step);
	kill(pid, SIGKILL);
	cr_assert_eq(e2e_bg_wait(pid, 20), 128 + SIGKILL);
	cr_assert(asprintf(&taken, "%s.taken", f->hold) > 0);
	cr_assert_eq(unlink(taken), 0);
	free(taken);
	free(outp);
	free(errp);
}

/* The commit's requests, in order; before the manifest's PUT a kill
 * leaves the old version, after it the new one. */
static const struct {
	const char *step;
	bool after; /* at or after the manifest */
	bool force_only;
} steps[] = {
    {"^PUT .*partNumber=", false, false},
    {"^PUT .*\\.spate-commit-out", false, false},
    {"^POST .*uploadId=", false, false},
    {"^PUT .*_manifest\\.json", false, false},
    {"^DELETE .*/s3out-out-0000", true, true},
    {"^DELETE .*\\.spate-commit-out", true, false},
};

Test(s3_write, killed_at_each_commit_step_then_exact_rerun)
{
	struct fx f;
	setup(&f, 60000);

	for (size_t i = 0; i < sizeof(steps) / sizeof(steps[0]); i++) {
		char sub[32], *seen;
		snprintf(sub, sizeof(sub), "k%zu", i);
		/* a first version, files of 7000 records, killed at the
		 * step: nothing, or the version complete */
		flow(&f, sub, "    compression: none\n"
			      "    max_file_records: 7000\n");
		if (!steps[i].force_only) {
			kill_at(&f, steps[i].step, false);
			free(assert_version(&f, sub, steps[i].after ? -1 : 0,
					    false));
		}
		run_ok(&f, false);
		char *v1 = assert_version(&f, sub, -1, true);
		/* --force: a new version of 9000-record files, killed at the
		 * step: the first version or the new one, complete */
		flow(&f, sub, "    compression: none\n"
			      "    max_file_records: 9000\n");
		kill_at(&f, steps[i].step, true);
		seen = assert_version(&f, sub, -1, false);
		run_ok(&f, true);
		char *v2 = assert_version(&f, sub, -1, true);
		cr_assert_str_neq(v1, v2);
		cr_assert_str_eq(seen, steps[i].after ? v2 : v1,
				 "step %s", steps[i].step);
		free(seen);
		free(v1);
		free(v2);
	}
	teardown(&f);
}

Test(s3_write, sigterm_drains_and_commits)
{
	struct fx f;
	setup(&f, 10);
	e2e_put_str(f.dir, "flow.yaml",
		    "name: s3term\nstages:\n"
		    "  - {id: in, type: stdin}\n"
		    "  - {id: out, type: file_writer, inputs: [in], "
		    "stage: dst, dir: term, frame_size: 4K}\n");
	char *outp = e2e_join(f.dir, "o"), *errp = e2e_join(f.dir, "e");
	const char *const env[] = {f.home, "DST_KEY=S3RVER",
				   "DST_SECRET=S3RVER", NULL};
	const char *const argv[] = {"run", "flow.yaml", NULL};
	int in;
	pid_t pid = e2e_bg_start(f.dir, env, argv, outp, errp, &in);
	struct e2e_text want = {0};
	for (int i = 0; i < 20; i++) {
		cr_assert_eq(write(in, f.want.p, f.want.len),
			     (ssize_t)f.want.len);
		e2e_text_add(&want, f.want.p, f.want.len);
	}
	e2e_sleep_ms(1500);
	/* the signal drains: what was read is committed */
	kill(pid, SIGTERM);
	int code = e2e_bg_wait(pid, 20);
	close(in);
	char *err = e2e_read(errp, NULL);
	cr_assert_eq(code, 143, "exit %d:\n%s", code, err);
	free(f.want.p);
	f.want = want;
	free(assert_version(&f, "term", 1, true));
	free(err);
	free(outp);
	free(errp);
	teardown(&f);
}

Test(s3_write, refused_key_and_secret_name_the_s3_error)
{
	struct fx f;
	struct e2e_result r;
	setup(&f, 10);
	flow(&f, "bad", "");
	run_as(&f, &r, "WRONGKEY", "S3RVER", false);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "stage out: cannot read the manifest: S3 GET "
				"s3://dst/out/bad/_manifest.json: HTTP 403 "
				"InvalidAccessKeyId"),
		  "%s", r.err);
	cr_assert_null(strstr(r.err, "S3RVER"), "%s", r.err);
	e2e_result_free(&r);
	run_as(&f, &r, "S3RVER", "NOT-THE-SECRET", false);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert(strstr(r.err, "stage out: cannot read the manifest: S3 GET "
				"s3://dst/out/bad/_manifest.json: HTTP 403 "
				"SignatureDoesNotMatch"),
		  "%s", r.err);
	cr_assert_null(strstr(r.err, "NOT-THE-SECRET"), "%s", r.err);
	e2e_result_free(&r);
	free(assert_version(&f, "bad", 0, true));
	teardown(&f);
}

/* Several objects of one S3 stage (one zstd, one larger than the 1 MiB
 * range size: read in ranges) split into two lanes written to another S3
 * stage; each lane's records read back. */
Test(s3_write, s3_stage_to_s3_stage_lanes)
{
	struct fx f;
	struct e2e_result r;
	setup(&f, 1);
	struct e2e_text a = {0}, b = {0}, big = {0}, lo = {0}, hi = {0};
	records(&a, 0, 100);
	records(&b, 1000, 2000);
	records(&big, 100000, 40000); /* ~3.7 MiB: 4 ranges */
	records(&lo, 0, 100);
	records(&lo, 1000, 2000);
	records(&hi, 100000, 40000);
	char *p = e2e_write(f.dir, "a.jsonl", a.p, a.len);
	cr_assert_eq(s3srv_put(&f.srv, "src", "in/a.jsonl", p), 0);
	free(p);
	p = e2e_write(f.dir, "big.jsonl", big.p, big.len);
	cr_assert_eq(s3srv_put(&f.srv, "src", "in/big.jsonl", p), 0);
	free(p);
	p = e2e_write(f.dir, "b.jsonl", b.p, b.len);
	char cmd[600];
	snprintf(cmd, sizeof(cmd), "zstd -q -f -o %s.zst %s", p, p);
	cr_assert_eq(system(cmd), 0);
	snprintf(cmd, sizeof(cmd), "%s.zst", p);
	cr_assert_eq(s3srv_put(&f.srv, "src", "in/sub/b.jsonl.zst", cmd), 0);
	free(p);
	const char *const env[] = {f.home, "DST_KEY=S3RVER",
				   "DST_SECRET=S3RVER", NULL};
	const char *const src[] = {
	    "stage", "create-s3", "src", "--bucket", "src", "--path", "in",
	    "--endpoint", f.srv.proxy_endpoint, "--key-id-env", "DST_KEY",
	    "--secret-env", "DST_SECRET", NULL};
	e2e_run(&r, f.dir, env, NULL, src);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	e2e_put_str(f.dir, "flow.yaml",
		    "name: s3s3\nstages:\n"
		    "  - {id: in, type: file_reader, stage: src, "
		    "path: [\"*.jsonl\", \"sub/*.zst\"]}\n"
		    "  - id: split\n    type: stream_selector\n"
		    "    inputs: [in]\n    lanes:\n"
		    "      hi: '${record:value(\"/id\") >= 100000}'\n"
		    "  - {id: out_hi, type: file_writer, inputs: [split.hi], "
		    "stage: dst, dir: hi, compression: none, max_file_bytes: 1M}\n"
		    "  - {id: out_lo, type: file_writer, inputs: [split.default], "
		    "stage: dst, dir: lo}\n");
	e2e_run_timed(&r, f.dir, env, NULL,
		      (const char *const[]){"run", "flow.yaml", NULL},
		      E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	free(f.want.p);
	f.want = hi;
	int n = objects(&f, "hi");
	char *keys = s3srv_keys(&f.srv, "dst", "out/hi/");
	cr_assert_gt(n, 0, "out/hi/ holds:\n%s", keys);
	free(keys);
	free(assert_version(&f, "hi", n, true));
	f.want = lo;
	free(assert_version(&f, "lo", 1, true));
	free(hi.p);
	free(a.p);
	free(b.p);
	free(big.p);
	teardown(&f);
}
