/*
 * file_writer's partition_by, local and on S3: field-dense records whose
 * partition values are unicode, null, absent, empty, "../", "/", '%',
 * control bytes, "__null__", ".hidden", very long, ints and bools are
 * written with fewer open partitions than folders (the least recently
 * used one's file closed and a new one rolled later); every file is read
 * back by tests/support/check_partitions.py, which recomputes each
 * record's folder from its values by the documented escaping and
 * compares the records of each folder with the input's, one by one.  A
 * rerun is skipped; a --force run that fails leaves the old version
 * exactly; on S3 nothing but the manifest's objects is listed and no
 * upload is left open.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "support/e2e.h"
#include "support/s3srv.h"

static const char *const values[] = {
    "\"DE\"",	   "\"ES\"",	  "\"../etc\"",	   "\"a/b\"",
    "\"..\"",	   "\"\"",	  "null",	   "\"日本\"",
    "\".hidden\"", "\"__null__\"", "\"x%2Fy\"",	   "\"tab\\tand\\u0001\"",
    "\"q\\\"uote\"", "\"back\\\\slash\"", "\"  sp\"", "17",
    "true",	   "\"é\"",	  NULL /* absent */, "LONG"};
#define NVALUES (sizeof(values) / sizeof(values[0]))

/* n records of about 30 fields each into dir/in.jsonl. */
static void write_input(const char *dir, int n)
{
	struct e2e_text t = {0};
	uint64_t s = 42;
	char long_value[400];

	memset(long_value, 'L', sizeof(long_value));
	memcpy(long_value, "\"long/", 6);
	long_value[300] = '"';
	long_value[301] = '\0';
	for (int i = 0; i < n; i++) {
		const char *c = values[e2e_lcg(&s) % NVALUES];
		const char *d = values[e2e_lcg(&s) % 4];
		if (c && !strcmp(c, "LONG"))
			c = long_value;
		e2e_text_printf(&t, "{\"id\":%d", i);
		if (c)
			e2e_text_printf(&t, ",\"country\":%s", c);
		e2e_text_printf(&t, ",\"meta\":{\"day\":%s,\"n\":%d}", d, i % 7);
		for (int f = 0; f < 27; f++)
			e2e_text_printf(&t, ",\"f%d\":\"v%llu\"", f,
					(unsigned long long)(e2e_lcg(&s) % 1000));
		e2e_text_printf(&t, "}\n");
	}
	e2e_put(dir, "in.jsonl", t.p, t.len);
	free(t.p);
}

/* check_partitions.py over args (a shell-quoted tail): "OK ..." */
static char *check(const char *dir, const char *args)
{
	char cmd[2048];
	snprintf(cmd, sizeof(cmd),
		 "cd '%s' && python3 %s/tests/support/check_partitions.py %s "
		 "2>&1",
		 dir, e2e_source_dir(), args);
	FILE *p = popen(cmd, "r");
	cr_assert_not_null(p);
	char *out = calloc(1, 4096);
	size_t n = fread(out, 1, 4095, p);
	out[n] = '\0';
	int rc = pclose(p);
	cr_assert_eq(rc, 0, "%s\n%s", cmd, out);
	cr_assert(!strncmp(out, "OK files=", 9), "%s", out);
	return out;
}

static void flow(const char *dir, const char *target, const char *extra)
{
	char text[1024];
	snprintf(text, sizeof(text),
		 "name: parts\nstages:\n"
		 "  - {id: in, type: file_reader, path: in.jsonl}\n"
		 "  - id: out\n    type: file_writer\n    inputs: [in]\n"
		 "%s    partition_by: [/country, /meta/day]\n%s",
		 target, extra);
	e2e_put_str(dir, "flow.yaml", text);
}

Test(partition, local_every_record_in_its_folder)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	const char *const run[] = {"run", "flow.yaml", NULL};
	const char *const force[] = {"run", "--force", "flow.yaml", NULL};

	write_input(dir, 20000);
	/* plain text: the check reads hundreds of files */
	flow(dir, "    dir: out\n",
	     "    max_open_partitions: 4\n    max_file_records: 1500\n"
	     "    compression: none\n");
	e2e_run_timed(&r, dir, NULL, NULL, run, E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "partition");
	e2e_result_free(&r);
	char *ok = check(dir, "out/ in.jsonl /country /meta/day --disk");
	int files, recs, folders;
	cr_assert_eq(sscanf(ok, "OK files=%d records=%d folders=%d", &files,
			    &recs, &folders),
		     3);
	cr_assert_eq(recs, 20000);
	/* 19 country values (absent and null share __null__) x 4 days */
	cr_assert_eq(folders, 19 * 4, "%s", ok);
	/* 4 open of 72: files were closed and new ones rolled */
	cr_assert_gt(files, folders, "%s", ok);
	free(ok);
	/* what the values became */
	static const char *const folders_seen[] = {
	    "out/country=%2E.%2Fetc", "out/country=a%2Fb",
	    "out/country=%2E.",	      "out/country=__empty__",
	    "out/country=__null__",   "out/country=日本",
	    "out/country=%2Ehidden",  "out/country=%5F_null__",
	    "out/country=x%252Fy",    "out/country=tab%09and%01",
	    "out/country=q%22uote",   "out/country=back%5Cslash",
	    "out/country=17",	      "out/country=true",
	    "out/country=é",	      "out/country=  sp",
	    NULL};
	for (int i = 0; folders_seen[i]; i++) {
		char *f = e2e_join(dir, folders_seen[i]);
		cr_assert_eq(access(f, F_OK), 0, "%s", folders_seen[i]);
		free(f);
	}
	char *mpath = e2e_join(dir, "out/_manifest.json");
	char *m1 = e2e_read(mpath, NULL);
	cr_assert_not_null(strstr(m1, "country=long%2FLLLL"), "%s", m1);

	/* the rerun is skipped */
	e2e_run_timed(&r, dir, NULL, NULL, run, E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "partition");
	cr_assert(strstr(r.err, "skipped"), "%s", r.err);
	e2e_result_free(&r);

	/* a --force run that fails publishes nothing: the old version,
	 * exactly, and no folder of the new one */
	flow(dir, "    dir: out\n",
	     "    max_open_partitions: 4\n    max_file_records: 700\n"
	     "    compression: none\n");
	const char *const fault[] = {"SPATE_FAULT_WRITE=EIO:30", NULL};
	e2e_run_timed(&r, dir, fault, NULL, force, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	e2e_result_free(&r);
	char *m2 = e2e_read(mpath, NULL);
	cr_assert_str_eq(m2, m1);
	free(m2);
	free(check(dir, "out/ in.jsonl /country /meta/day --disk"));

	/* and one that succeeds replaces it, stale files gone */
	e2e_run_timed(&r, dir, NULL, NULL, force, E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "partition");
	e2e_result_free(&r);
	m2 = e2e_read(mpath, NULL);
	cr_assert_str_neq(m2, m1);
	free(m2);
	free(check(dir, "out/ in.jsonl /country /meta/day --disk"));
	free(m1);
	free(mpath);
	e2e_rmrf(dir);
	free(dir);
}

Test(partition, refused_options)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	const char *const run[] = {"run", "flow.yaml", NULL};

	write_input(dir, 10);
	flow(dir, "    dir: out\n", "    commit: file\n");
	e2e_run_timed(&r, dir, NULL, NULL, run, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	cr_assert(strstr(r.err, "partitioned output is published at the end "
				"of the run: it takes commit: run"),
		  "%s", r.err);
	e2e_result_free(&r);
	e2e_put_str(dir, "flow.yaml",
		    "name: parts\nstages:\n"
		    "  - {id: in, type: file_reader, path: in.jsonl}\n"
		    "  - {id: out, type: file_writer, inputs: [in], dir: out, "
		    "partition_by: [country]}\n");
	e2e_run_timed(&r, dir, NULL, NULL, run, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	cr_assert(strstr(r.err, "'country' is not a field path"), "%s", r.err);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(partition, s3_every_record_in_its_folder)
{
	struct s3srv srv;
	struct e2e_result r;
	char home[300], why[256], args[1024];

	S3SRV_START_OR_SKIP(&srv, "dst");
	cr_assert(s3srv_proxy_start(&srv, NULL, why, sizeof(why)), "%s", why);
	char *dir = e2e_tmpdir();
	snprintf(home, sizeof(home), "SPATE_HOME=%s/home", dir);
	const char *const env[] = {home, "K=S3RVER", "S=S3RVER", NULL};
	const char *const create[] = {
	    "stage", "create-s3", "dst", "--bucket", "dst", "--path", "out",
	    "--endpoint", srv.proxy_endpoint, "--key-id-env", "K",
	    "--secret-env", "S", NULL};
	e2e_run(&r, dir, env, NULL, create);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);

	/* zstd objects, 16 of 76 folders open */
	write_input(dir, 4000);
	flow(dir, "    stage: dst\n    dir: p\n",
	     "    max_open_partitions: 16\n    max_file_records: 400\n");
	const char *const run[] = {"run", "flow.yaml", NULL};
	e2e_run_timed(&r, dir, env, NULL, run, E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	snprintf(args, sizeof(args),
		 "--s3 %s dst out/p/ in.jsonl /country /meta/day",
		 srv.endpoint);
	char *ok = check(dir, args);
	cr_assert(strstr(ok, "records=4000 folders=76"), "%s", ok);
	free(ok);
	char *ups = s3srv_uploads(&srv, "dst", "out/p/");
	cr_assert_not_null(ups);
	cr_assert_str_eq(ups, "", "open uploads:\n%s", ups);
	free(ups);
	cr_assert_eq(s3srv_proxy_count(&srv, "BADSIG"), 0);

	/* the rerun finds the manifest and writes nothing */
	int puts = s3srv_proxy_count(&srv, "OK PUT");
	e2e_run_timed(&r, dir, env, NULL, run, E2E_RUN_LIMIT_S);
	e2e_assert_ok(&r, "s3");
	e2e_result_free(&r);
	cr_assert_eq(s3srv_proxy_count(&srv, "OK PUT"), puts);
	s3srv_stop(&srv);
	e2e_rmrf(dir);
	free(dir);
}
