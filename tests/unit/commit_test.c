/*
 * Tests of io/commit: staging, publication, manifest content, abort,
 * cleanup after a killed run, replace semantics and manifest reading.
 */
#include <criterion/criterion.h>

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>

#include "core/buf.h"
#include "io/commit.h"
#include "io/zstd_codec.h"

static char root[64];

/* fsync is wrapped for this test (-Wl,--wrap=fsync) to count calls */
static unsigned fsyncs;
int __real_fsync(int fd);
int __wrap_fsync(int fd);
int __wrap_fsync(int fd)
{
	fsyncs++;
	return __real_fsync(fd);
}

static void setup(void)
{
	strcpy(root, "/tmp/spate-commit-XXXXXX");
	cr_assert_not_null(mkdtemp(root));
}

static void rm_tree(const char *path)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "rm -rf '%s'", path);
	cr_assert_eq(system(cmd), 0);
}

static void teardown(void)
{
	rm_tree(root);
}

TestSuite(commit, .init = setup, .fini = teardown);

static int cmp_str(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

/* "a,b,c": the sorted entries of dir ("-" when it does not exist). */
static char *list_dir(const char *dir)
{
	static char out[4096];
	char *names[256];
	struct dirent *de;
	size_t n = 0;
	DIR *d = opendir(dir);

	if (!d)
		return strcpy(out, "-");
	while ((de = readdir(d))) {
		if (strcmp(de->d_name, ".") && strcmp(de->d_name, ".."))
			names[n++] = strdup(de->d_name);
	}
	closedir(d);
	qsort(names, n, sizeof(names[0]), cmp_str);
	out[0] = '\0';
	for (size_t i = 0; i < n; i++) {
		if (i)
			strcat(out, ",");
		strcat(out, names[i]);
		free(names[i]);
	}
	return out;
}

static void write_text(const char *path, const char *text)
{
	FILE *f = fopen(path, "w");

	cr_assert_not_null(f, "cannot write %s", path);
	fputs(text, f);
	cr_assert_eq(fclose(f), 0);
}

static char *read_text(const char *path)
{
	static char buf[8192];
	FILE *f = fopen(path, "r");
	size_t n;

	cr_assert_not_null(f, "cannot read %s", path);
	n = fread(buf, 1, sizeof(buf) - 1, f);
	buf[n] = '\0';
	fclose(f);
	return buf;
}

/* root/rel, in one of 8 rotating buffers */
static char *pathf(const char *rel)
{
	static char bufs[8][512];
	static int k;
	char *p = bufs[k++ % 8];

	snprintf(p, 512, "%s/%s", root, rel);
	return p;
}

/* Stages name with text and adds it. */
static void stage(struct sp_commit *c, const char *name, const char *text,
		  uint64_t records, bool now)
{
	const char *p = sp_commit_staging_path(c, name);

	cr_assert_not_null(p);
	write_text(p, text);
	cr_assert_eq(sp_commit_add(c, name, records, strlen(text), now), 0);
}

static char *file_json(const char *json_name, const char *text,
		       uint64_t records)
{
	static char bufs[4][512];
	static int k;
	char *p = bufs[k++ % 4];

	snprintf(p, 512,
		 "{\"name\": %s, \"records\": %" PRIu64 ", \"bytes\": %zu, "
		 "\"xxh64\": \"%016" PRIx64 "\"}",
		 json_name, records, strlen(text),
		 sp_commit_xxh64(text, strlen(text)));
	return p;
}

struct file {
	const char *name, *text;
	uint64_t records;
};

/* A run of flow f, stage s that stages files (up to a NULL name) in dir
 * and publishes them, replacing what dir held or not. */
static void publish(const char *dir, const char *run_id, bool replace,
		    const struct file *files)
{
	struct sp_commit *c;

	cr_assert_eq(sp_commit_begin(dir, "f", "s", run_id, &c), 0);
	for (const struct file *f = files; f->name; f++)
		stage(c, f->name, f->text, f->records, false);
	cr_assert_eq(sp_commit_finish(c, replace), 0, "run %s", run_id);
	sp_commit_destroy(c);
}

/* root/rel/_manifest.json is what run run_id of flow f, stage s writes
 * for files (up to a NULL name), in that order. */
static void expect_manifest(const char *rel, const char *run_id,
			    const struct file *files)
{
	char want[2048], name[256], path[256];
	size_t k;

	k = (size_t)snprintf(want, sizeof(want),
			     "{\"flow\": \"f\", \"stage\": \"s\", "
			     "\"run_id\": \"%s\", \"files\": [",
			     run_id);
	for (const struct file *f = files; f->name; f++) {
		snprintf(name, sizeof(name), "\"%s\"", f->name);
		k += (size_t)snprintf(want + k, sizeof(want) - k, "%s%s",
				      f == files ? "" : ", ",
				      file_json(name, f->text, f->records));
	}
	snprintf(want + k, sizeof(want) - k, "]}\n");
	snprintf(path, sizeof(path), "%s/_manifest.json", rel);
	cr_assert_str_eq(read_text(pathf(path)), want, "%s", path);
}

Test(commit, xxh64_known_values)
{
	const char *s = "Nobody inspects the spammish repetition";

	cr_assert_eq(sp_commit_xxh64("", 0), 0xEF46DB3751D8E999ull);
	cr_assert_eq(sp_commit_xxh64("a", 1), 0xD24EC4F1A98C6E5Bull);
	cr_assert_eq(sp_commit_xxh64("abc", 3), 0x44BC2CF5AD770999ull);
	cr_assert_eq(sp_commit_xxh64(s, strlen(s)), 0xFBCEA83C8A378BF1ull);
}

/* A zstd frame ends with the low 32 bits of XXH64 of its content. */
Test(commit, xxh64_matches_zstd_checksums)
{
	static char data[300000];
	struct sp_zstd_enc *e = sp_zstd_enc_create(1);
	size_t lens[] = {0, 1, 7, 31, 32, 33, 63, 64, 100, 4097, 299999};
	struct sp_buf b;

	for (size_t i = 0; i < sizeof(data); i++)
		data[i] = (char)(i * 131 + (i >> 9));
	sp_buf_init(&b);
	for (size_t i = 0; i < sizeof(lens) / sizeof(lens[0]); i++) {
		uint32_t want;

		b.len = 0;
		cr_assert_eq(sp_zstd_enc_frame(e, data, lens[i], &b), 0);
		memcpy(&want, b.data + b.len - 4, 4);
		cr_assert_eq((uint32_t)sp_commit_xxh64(data, lens[i]), want,
			     "length %zu", lens[i]);
	}
	sp_buf_fini(&b);
	sp_zstd_enc_destroy(e);
}

Test(commit, run_publishes_at_finish_with_manifest)
{
	char dir[512];
	struct sp_commit *c;
	char want[2048];

	strcpy(dir, pathf("out/high"));
	/* parents of dir are created */
	cr_assert_eq(
	    sp_commit_begin(dir, "exp\\enses", "out_high", "run-1", &c), 0);
	cr_assert_str_eq(list_dir(dir), "");
	cr_assert_str_eq(sp_commit_staging_path(c, "a.jsonl"),
			 pathf("out/.high.spate-staging-out_high/a.jsonl"));
	stage(c, "a.jsonl", "{\"x\":1}\n{\"x\":2}\n", 2, false);
	stage(c, "we\"ird\n.jsonl", "{}\n", 1, false);
	stage(c, "empty.jsonl", "", 0, false);
	/* staged, not visible */
	cr_assert_str_eq(list_dir(dir), "");
	cr_assert_str_eq(list_dir(pathf("out/.high.spate-staging-out_high")),
			 "a.jsonl,empty.jsonl,we\"ird\n.jsonl");
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);

	cr_assert_str_eq(list_dir(dir),
			 "_manifest.json,a.jsonl,empty.jsonl,we\"ird\n.jsonl");
	cr_assert_str_eq(list_dir(pathf("out")), "high");
	cr_assert_str_eq(read_text(pathf("out/high/a.jsonl")),
			 "{\"x\":1}\n{\"x\":2}\n");
	snprintf(want, sizeof(want),
		 "{\"flow\": \"exp\\\\enses\", \"stage\": \"out_high\", "
		 "\"run_id\": \"run-1\", \"files\": [%s, %s, %s]}\n",
		 file_json("\"a.jsonl\"", "{\"x\":1}\n{\"x\":2}\n", 2),
		 file_json("\"we\\\"ird\\n.jsonl\"", "{}\n", 1),
		 file_json("\"empty.jsonl\"", "", 0));
	cr_assert_str_eq(read_text(pathf("out/high/_manifest.json")), want);
}

/* durable=false: the same publication, without one fsync (both the
 * all-at-finish and the file-by-file publication) */
Test(commit, not_durable_publishes_without_fsync)
{
	for (int durable = 1; durable >= 0; durable--) {
		for (int now = 0; now <= 1; now++) {
			struct sp_commit *c;
			char dir[512];
			char name[16];

			snprintf(name, sizeof(name), "d%d%d", durable, now);
			strcpy(dir, pathf(name));
			cr_assert_eq(
			    sp_commit_begin(dir, "f", "out", "run-1", &c), 0);
			sp_commit_set_durable(c, durable);
			fsyncs = 0;
			stage(c, "a.jsonl", "{\"x\":1}\n", 1, now);
			stage(c, "b.jsonl", "{\"x\":2}\n", 1, now);
			cr_assert_eq(sp_commit_finish(c, false), 0);
			sp_commit_destroy(c);
			if (durable)
				cr_assert_gt(fsyncs, 0, "%s", name);
			else
				cr_assert_eq(fsyncs, 0, "%s: %u fsyncs", name,
					     fsyncs);
			cr_assert_str_eq(list_dir(dir),
					 "_manifest.json,a.jsonl,b.jsonl");
			strcat(dir, "/b.jsonl");
			cr_assert_str_eq(read_text(dir), "{\"x\":2}\n");
		}
	}
}

Test(commit, manifest_read_back)
{
	char dir[512];
	struct sp_commit_manifest *m;
	struct sp_commit *c;

	strcpy(dir, pathf("d"));
	cr_assert_eq(sp_commit_manifest_read(dir, &m), -ENOENT);
	cr_assert_null(m);
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r\u00e9", &c), 0);
	stage(c, "one", "1111", 4, false);
	stage(c, "tw\"o", "22", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);

	cr_assert_eq(sp_commit_manifest_read(dir, &m), 0);
	cr_assert_str_eq(m->flow, "f");
	cr_assert_str_eq(m->stage, "s");
	cr_assert_str_eq(m->run_id, "r\u00e9");
	cr_assert_eq(m->nfiles, 2);
	cr_assert_str_eq(m->files[0].name, "one");
	cr_assert_eq(m->files[0].records, 4);
	cr_assert_eq(m->files[0].bytes, 4);
	cr_assert(m->files[0].has_xxh64);
	cr_assert_eq(m->files[0].xxh64, sp_commit_xxh64("1111", 4));
	cr_assert_str_eq(m->files[1].name, "tw\"o");
	cr_assert_eq(m->files[1].records, 1);
	cr_assert_eq(m->files[1].bytes, 2);
	sp_commit_manifest_free(m);
}

Test(commit, manifest_parsing)
{
	char dir[512];
	char mf[512];
	struct sp_commit_manifest *m;
	const char *bad[] = {
	    "",
	    "{",
	    "[]",
	    "{\"flow\": \"x\"}",
	    "{\"files\": [{\"records\": 1}]}",
	    "{\"files\": [{\"name\": \"a\", \"records\": -1}]}",
	    "{\"files\": [{\"name\": \"a\", \"bytes\": "
	    "18446744073709551616}]}",
	    "{\"files\": [{\"name\": \"a\", \"xxh64\": \"12\"}]}",
	    "{\"files\": [{\"name\": \"a\\u0000b\"}]}",
	    "{\"files\": [{\"name\": \"a\\q\"}]}",
	    "{\"files\": []} x",
	    "{\"files\": [], \"files\": []}",
	    "{\"files\": [{\"name\": \"a\"}",
	    "{\"flow\": \"unterminated",
	};

	strcpy(dir, pathf("m"));
	strcpy(mf, pathf("m/_manifest.json"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	/* unknown keys of any type are skipped; whitespace is free */
	write_text(mf, " {\"v\": 2, \"extra\": {\"a\": [1, {\"b\": null}]},\n"
		       "  \"files\": [ {\"name\": \"x\\u00e9\", \"bytes\": "
		       "18446744073709551615, \"tag\": true} ] ,\"ok\": false}"
		       "\n");
	cr_assert_eq(sp_commit_manifest_read(dir, &m), 0);
	cr_assert_null(m->flow);
	cr_assert_eq(m->nfiles, 1);
	cr_assert_str_eq(m->files[0].name, "x\u00e9");
	cr_assert_eq(m->files[0].bytes, UINT64_MAX);
	cr_assert_eq(m->files[0].records, 0);
	cr_assert(!m->files[0].has_xxh64);
	sp_commit_manifest_free(m);

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		write_text(mf, bad[i]);
		m = (void *)1;
		cr_assert_eq(sp_commit_manifest_read(dir, &m), -EINVAL,
			     "accepted: %s", bad[i]);
		cr_assert_null(m);
	}
}

Test(commit, abort_leaves_dir_untouched)
{
	char dir[512];
	char before_list[4096], before_manifest[4096];
	struct sp_commit *c;
	static const struct file r1[] = {{"old", "old data\n", 1}, {0}};

	strcpy(dir, pathf("keep"));
	publish(dir, "r1", false, r1);
	strcpy(before_list, list_dir(dir));
	strcpy(before_manifest, read_text(pathf("keep/_manifest.json")));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "new1", "n1\n", 1, false);
	stage(c, "old", "replacement\n", 1, false);
	/* a staged file never added is discarded too */
	write_text(sp_commit_staging_path(c, "partial"), "half");
	sp_commit_abort(c);
	cr_assert_eq(sp_commit_finish(c, true), -EINVAL);
	sp_commit_destroy(c);

	cr_assert_str_eq(list_dir(dir), before_list);
	cr_assert_str_eq(read_text(pathf("keep/_manifest.json")),
			 before_manifest);
	cr_assert_str_eq(read_text(pathf("keep/old")), "old data\n");
	cr_assert_str_eq(list_dir(root), "keep");

	/* destroy without finish aborts as well */
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r3", &c), 0);
	stage(c, "new2", "n2\n", 1, false);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), before_list);
	cr_assert_str_eq(list_dir(root), "keep");
}

Test(commit, killed_run_is_cleaned_by_next_begin)
{
	char dir[512];
	char staging[512];
	struct sp_commit *c;
	int status;
	pid_t pid;

	strcpy(dir, pathf("k"));
	strcpy(staging, pathf(".k.spate-staging-w"));
	pid = fork();
	cr_assert_geq(pid, 0);
	if (pid == 0) {
		/* dies half-way: no finish, no abort */
		if (sp_commit_begin(dir, "f", "w", "dead", &c))
			_exit(1);
		write_text(sp_commit_staging_path(c, "a"), "complete\n");
		sp_commit_add(c, "a", 1, 9, false);
		write_text(sp_commit_staging_path(c, "b"), "half");
		_exit(0);
	}
	cr_assert_eq(waitpid(pid, &status, 0), pid);
	cr_assert(WIFEXITED(status) && WEXITSTATUS(status) == 0);
	cr_assert_str_eq(list_dir(staging), "a,b");
	cr_assert_str_eq(list_dir(dir), "");

	cr_assert_eq(sp_commit_begin(dir, "f", "w", "next", &c), 0);
	cr_assert_str_eq(list_dir(staging), "");
	stage(c, "c", "cc\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,c");
	cr_assert_str_eq(list_dir(root), "k");
}

Test(commit, one_run_per_directory)
{
	char dir[512];
	struct sp_commit *c1, *c2;

	strcpy(dir, pathf("busy"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s1", "r", &c1), 0);
	cr_assert_eq(sp_commit_begin(dir, "f", "s2", "r", &c2), -EBUSY);
	sp_commit_destroy(c1);
	cr_assert_eq(sp_commit_begin(dir, "f", "s2", "r", &c2), 0);
	sp_commit_destroy(c2);
	cr_assert_eq(sp_commit_begin(dir, "f", "a/b", "r", &c2), -EINVAL);
	cr_assert_eq(sp_commit_begin("", "f", "s", "r", &c2), -EINVAL);
	write_text(pathf("plain"), "x");
	cr_assert_eq(sp_commit_begin(pathf("plain"), "f", "s", "r", &c2),
		     -ENOTDIR);
}

Test(commit, publish_now)
{
	char dir[512];
	struct sp_commit_manifest *m;
	struct sp_commit *c;

	strcpy(dir, pathf("pf"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	stage(c, "f1", "first\n", 1, true);
	cr_assert_str_eq(list_dir(dir), "f1");
	cr_assert_str_eq(read_text(pathf("pf/f1")), "first\n");
	stage(c, "f2", "second\n", 1, true);
	stage(c, "f3", "third, at finish\n", 1, false);
	cr_assert_str_eq(list_dir(dir), "f1,f2");
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,f1,f2,f3");
	cr_assert_eq(sp_commit_manifest_read(dir, &m), 0);
	cr_assert_eq(m->nfiles, 3);
	cr_assert_str_eq(m->files[2].name, "f3");
	sp_commit_manifest_free(m);

	/* an aborted file-mode run takes back what it published early */
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "g1", "g\n", 1, true);
	stage(c, "g2", "g\n", 1, false);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,f1,f2,f3,g1");
	sp_commit_abort(c);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,f1,f2,f3");

	/* so does the next begin after a run killed while publishing */
	pid_t pid = fork();
	cr_assert_neq(pid, -1);
	if (pid == 0) {
		if (sp_commit_begin(dir, "f", "s", "r2", &c) == 0) {
			write_text(sp_commit_staging_path(c, "h1"), "h\n");
			if (sp_commit_add(c, "h1", 1, 2, true) == 0)
				_exit(0); /* killed: no abort, no destroy */
		}
		_exit(1);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,f1,f2,f3,h1");
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,f1,f2,f3");
	sp_commit_destroy(c);

	/* without replace, publish_now refuses to overwrite */
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r3", &c), 0);
	write_text(sp_commit_staging_path(c, "f1"), "again\n");
	cr_assert_eq(sp_commit_add(c, "f1", 1, 6, true), -EEXIST);
	sp_commit_set_replace(c, true);
	cr_assert_eq(sp_commit_add(c, "f1", 1, 6, true), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(read_text(pathf("pf/f1")), "again\n");
}

Test(commit, replace_and_merge)
{
	char dir[512];
	struct sp_commit *c;
	static const struct file r1[] = {
	    {"a", "a1\n", 1}, {"b", "b1\n", 1}, {"c", "c1\n", 1}, {0}};
	static const struct file r3[] = {
	    {"b", "b3\n", 3}, {"d", "d3\n", 4}, {0}};
	static const struct file r4[] = {{"e", "e4\n", 5}, {0}};
	static const struct file listed_r4[] = {
	    {"b", "b3\n", 3}, {"d", "d3\n", 4}, {"e", "e4\n", 5}, {0}};

	strcpy(dir, pathf("r"));
	publish(dir, "r1", false, r1);

	/* a rerun producing an existing name publishes nothing */
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "new", "n\n", 1, false);
	stage(c, "b", "b2\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), -EEXIST);
	sp_commit_abort(c);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,a,b,c");
	cr_assert_str_eq(read_text(pathf("r/b")), "b1\n");

	/* --force: b replaced, d added, a and c (old, not produced) gone */
	publish(dir, "r3", true, r3);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,b,d");
	cr_assert_str_eq(read_text(pathf("r/b")), "b3\n");
	expect_manifest("r", "r3", r3);

	/* a later run without replace adds to what is listed */
	publish(dir, "r4", false, r4);
	expect_manifest("r", "r4", listed_r4);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,b,d,e");
	cr_assert_str_eq(list_dir(root), "r");
}

Test(commit, stale_names_never_escape_dir)
{
	char dir[512];
	static const struct file r[] = {{"x", "x\n", 1}, {0}};

	strcpy(dir, pathf("s"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	write_text(pathf("victim"), "keep me");
	write_text(pathf("s/_manifest.json"),
		   "{\"files\": [{\"name\": \"../victim\"}, "
		   "{\"name\": \".hidden\"}]}");
	publish(dir, "r", true, r);
	cr_assert_str_eq(read_text(pathf("victim")), "keep me");
}

/* Partitioned output: files in folders, an exchange of the whole tree; a
 * second run adds beside them (kept files linked folder by folder), a
 * --force run replaces them (stale ones gone, their folders kept). */
Test(commit, nested_names)
{
	char dir[512];
	struct sp_commit *c;

	strcpy(dir, pathf("n"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r1", &c), 0);
	write_text(sp_commit_staging_path(c, "p=1/q=a/x"), "x\n");
	write_text(sp_commit_staging_path(c, "p=2/y"), "y\n");
	cr_assert_eq(sp_commit_add(c, "p=1/q=a/x", 1, 2, false), 0);
	cr_assert_eq(sp_commit_add(c, "p=2/y", 1, 2, false), 0);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,p=1,p=2");
	cr_assert_str_eq(read_text(pathf("n/p=1/q=a/x")), "x\n");
	cr_assert(strstr(read_text(pathf("n/_manifest.json")),
			 "\"name\": \"p=1/q=a/x\""));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	write_text(sp_commit_staging_path(c, "p=1/q=a/z"), "z\n");
	cr_assert_eq(sp_commit_add(c, "p=1/q=a/z", 1, 2, false), 0);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(pathf("n/p=1/q=a")), "x,z");
	cr_assert_str_eq(read_text(pathf("n/p=2/y")), "y\n");

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r3", &c), 0);
	write_text(sp_commit_staging_path(c, "p=3/w"), "w\n");
	cr_assert_eq(sp_commit_add(c, "p=3/w", 1, 2, false), 0);
	cr_assert_eq(sp_commit_finish(c, true), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(pathf("n/p=3")), "w");
	cr_assert_str_eq(list_dir(pathf("n/p=1/q=a")), "");
	cr_assert_str_eq(list_dir(pathf("n/p=2")), "");
	cr_assert_null(strstr(read_text(pathf("n/_manifest.json")), "p=1"));
}

Test(commit, bad_adds)
{
	char dir[512];
	struct sp_commit *c;

	strcpy(dir, pathf("b"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	cr_assert_null(sp_commit_staging_path(c, ""));
	cr_assert_null(sp_commit_staging_path(c, "."));
	cr_assert_null(sp_commit_staging_path(c, ".."));
	cr_assert_null(sp_commit_staging_path(c, ".hidden"));
	cr_assert_null(sp_commit_staging_path(c, "a/../b"));
	cr_assert_null(sp_commit_staging_path(c, "a//b"));
	cr_assert_null(sp_commit_staging_path(c, "a/.b"));
	cr_assert_null(sp_commit_staging_path(c, "/a"));
	cr_assert_null(sp_commit_staging_path(c, "a/"));
	cr_assert_null(sp_commit_staging_path(c, "_manifest.json"));
	cr_assert_eq(sp_commit_add(c, "../x", 0, 0, false), -EINVAL);
	cr_assert_eq(sp_commit_add(c, "missing", 0, 0, false), -ENOENT);
	write_text(sp_commit_staging_path(c, "sized"), "12345");
	cr_assert_eq(sp_commit_add(c, "sized", 1, 4, false), -EIO);
	cr_assert_eq(sp_commit_add(c, "sized", 1, 5, false), 0);
	cr_assert_eq(sp_commit_add(c, "sized", 1, 5, false), -EEXIST);
	/* a corrupt manifest blocks a merge, not a --force run */
	write_text(pathf("b/_manifest.json"), "{oops");
	cr_assert_eq(sp_commit_finish(c, false), -EINVAL);
	cr_assert_str_eq(list_dir(dir), "_manifest.json");
	cr_assert_eq(sp_commit_finish(c, true), 0);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,sized");
	sp_commit_destroy(c);
}

static ino_t inode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "cannot stat %s", path);
	return st.st_ino;
}

static mode_t mode_of(const char *path)
{
	struct stat st;

	cr_assert_eq(stat(path, &st), 0, "cannot stat %s", path);
	return st.st_mode & 07777;
}

/* commit: run swaps in a complete new directory: files that stay are the
 * same inodes (hard links), the directory itself is a new one. */
Test(commit, exchange_keeps_existing_files)
{
	char dir[512];
	struct sp_commit *c, *c2;
	ino_t dir_ino, a_ino, notes_ino;
	static const struct file r1[] = {
	    {"a", "a1\n", 1}, {"b", "b1\n", 2}, {0}};
	static const struct file listed_r2[] = {
	    {"a", "a1\n", 1}, {"b", "b1\n", 2}, {"c", "c2\n", 3}, {0}};

	strcpy(dir, pathf("x"));
	publish(dir, "r1", false, r1);
	write_text(pathf("x/notes.txt"), "not ours\n");
	write_text(pathf("x/.hidden"), "dot file\n");
	cr_assert_eq(chmod(dir, 0750), 0);
	dir_ino = inode_of(dir);
	a_ino = inode_of(pathf("x/a"));
	notes_ino = inode_of(pathf("x/notes.txt"));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "c", "c2\n", 3, false);
	/* staged but never added: not published */
	write_text(sp_commit_staging_path(c, "partial"), "half");
	cr_assert_eq(sp_commit_finish(c, false), 0);
	/* the new directory stays locked until destroy */
	cr_assert_eq(sp_commit_begin(dir, "f", "t", "r3", &c2), -EBUSY);
	sp_commit_destroy(c);

	cr_assert_neq(inode_of(dir), dir_ino, "published without exchange");
	cr_assert_eq(mode_of(dir), 0750);
	cr_assert_str_eq(list_dir(dir),
			 ".hidden,_manifest.json,a,b,c,notes.txt");
	cr_assert_eq(inode_of(pathf("x/a")), a_ino);
	cr_assert_eq(inode_of(pathf("x/notes.txt")), notes_ino);
	cr_assert_str_eq(read_text(pathf("x/a")), "a1\n");
	cr_assert_str_eq(read_text(pathf("x/c")), "c2\n");
	cr_assert_str_eq(read_text(pathf("x/.hidden")), "dot file\n");
	expect_manifest("x", "r2", listed_r2);
	/* neither the staging directory nor the old version is left */
	cr_assert_str_eq(list_dir(root), "x");
	cr_assert_eq(sp_commit_begin(dir, "f", "t", "r3", &c2), 0);
	sp_commit_destroy(c2);
}

Test(commit, exchange_with_replace_drops_stale_files)
{
	char dir[512];
	struct sp_commit *c;
	ino_t dir_ino, u_ino;
	static const struct file r1[] = {
	    {"a", "a1\n", 1}, {"b", "b1\n", 1}, {"c", "c1\n", 1}, {0}};
	static const struct file listed_r2[] = {{"b", "b2, longer\n", 5},
						{"d", "d2\n", 6},
						{"c", "c2 now\n", 7},
						{0}};

	strcpy(dir, pathf("y"));
	publish(dir, "r1", false, r1);
	write_text(pathf("y/unlisted"), "user file\n");
	dir_ino = inode_of(dir);
	u_ino = inode_of(pathf("y/unlisted"));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "b", "b2, longer\n", 5, false);
	stage(c, "d", "d2\n", 6, false);
	/* publish_now: in dir before finish, then kept as this run's */
	sp_commit_set_replace(c, true);
	stage(c, "c", "c2 now\n", 7, true);
	cr_assert_str_eq(read_text(pathf("y/c")), "c2 now\n");
	cr_assert_eq(sp_commit_finish(c, true), 0);
	sp_commit_destroy(c);

	cr_assert_neq(inode_of(dir), dir_ino);
	/* a is stale (old manifest, not produced): gone; unlisted stays */
	cr_assert_str_eq(list_dir(dir), "_manifest.json,b,c,d,unlisted");
	cr_assert_eq(inode_of(pathf("y/unlisted")), u_ino);
	cr_assert_str_eq(read_text(pathf("y/b")), "b2, longer\n");
	cr_assert_str_eq(read_text(pathf("y/c")), "c2 now\n");
	expect_manifest("y", "r2", listed_r2);
	cr_assert_str_eq(list_dir(root), "y");
}

Test(commit, collision_leaves_target_untouched)
{
	char dir[512];
	char before[4096], manifest[4096];
	struct sp_commit *c;
	ino_t dir_ino;
	static const struct file r1[] = {{"a", "a1\n", 1}, {0}};

	strcpy(dir, pathf("z"));
	publish(dir, "r1", false, r1);
	write_text(pathf("z/b"), "someone else's b\n");
	strcpy(before, list_dir(dir));
	strcpy(manifest, read_text(pathf("z/_manifest.json")));
	dir_ino = inode_of(dir);

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "new", "n\n", 1, false);
	stage(c, "b", "b2\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), -EEXIST);
	cr_assert_eq(inode_of(dir), dir_ino);
	cr_assert_str_eq(list_dir(dir), before);
	cr_assert_str_eq(read_text(pathf("z/_manifest.json")), manifest);
	cr_assert_str_eq(read_text(pathf("z/b")), "someone else's b\n");
	/* the staged files are still there, nothing else */
	cr_assert_str_eq(list_dir(pathf(".z.spate-staging-s")), "b,new");
	sp_commit_abort(c);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), before);
	cr_assert_str_eq(list_dir(root), "z");
}

/* A run killed between the exchange and its cleanup leaves the previous
 * version (manifest and all, possibly read-only) at the staging path. */
Test(commit, old_version_left_in_staging_is_cleaned)
{
	char dir[512];
	char staging[512];
	struct sp_commit *c;

	strcpy(dir, pathf("v"));
	strcpy(staging, pathf(".v.spate-staging-s"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	write_text(pathf("v/kept"), "kept\n");
	cr_assert_eq(mkdir(staging, 0755), 0);
	write_text(pathf(".v.spate-staging-s/_manifest.json"),
		   "{\"files\": [{\"name\": \"old\"}]}\n");
	write_text(pathf(".v.spate-staging-s/old"), "old\n");
	write_text(pathf(".v.spate-staging-s/kept"), "kept\n");
	cr_assert_eq(chmod(staging, 0555), 0);

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	cr_assert_str_eq(list_dir(staging), "");
	stage(c, "new", "new\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,kept,new");
	cr_assert_str_eq(list_dir(root), "v");
}

Test(commit, prepare_then_finish)
{
	char dir[512];
	char before[4096];
	struct sp_commit_manifest *m;
	struct sp_commit *c;

	strcpy(dir, pathf("p"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	write_text(pathf("p/b"), "existing b\n");
	strcpy(before, list_dir(dir));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	stage(c, "a", "a\n", 1, false);
	cr_assert_eq(sp_commit_prepare(c, false), 0);
	/* publishes nothing */
	cr_assert_str_eq(list_dir(dir), before);
	stage(c, "b", "b\n", 1, false);
	cr_assert_eq(sp_commit_prepare(c, false), -EEXIST);
	cr_assert_str_eq(list_dir(dir), before);
	cr_assert_eq(sp_commit_finish(c, false), -EEXIST);
	cr_assert_str_eq(list_dir(dir), before);
	cr_assert_eq(sp_commit_prepare(c, true), 0);
	cr_assert_str_eq(list_dir(dir), before);
	cr_assert_eq(sp_commit_finish(c, true), 0);
	cr_assert_eq(sp_commit_prepare(c, true), -EINVAL);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,a,b");
	cr_assert_str_eq(read_text(pathf("p/b")), "b\n");
	cr_assert_eq(sp_commit_manifest_read(dir, &m), 0);
	cr_assert_eq(m->nfiles, 2);
	cr_assert_str_eq(m->files[0].name, "a");
	cr_assert_str_eq(m->files[1].name, "b");
	sp_commit_manifest_free(m);
	cr_assert_str_eq(list_dir(root), "p");

	/* a corrupt manifest fails prepare without replace, too */
	write_text(pathf("p/_manifest.json"), "{oops");
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r2", &c), 0);
	stage(c, "c", "c\n", 1, false);
	cr_assert_eq(sp_commit_prepare(c, false), -EINVAL);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,a,b");
}

/* A directory in the target cannot be hard-linked: the files are renamed
 * in one by one instead, and the directory stays as it is. */
Test(commit, subdirectory_falls_back_to_renames)
{
	char dir[512];
	struct sp_commit *c;
	ino_t dir_ino;
	static const struct file r1[] = {
	    {"a", "a1\n", 1}, {"b", "b1\n", 1}, {0}};
	static const struct file r2[] = {
	    {"b", "b2\n", 2}, {"c", "c2\n", 3}, {0}};

	strcpy(dir, pathf("w"));
	publish(dir, "r1", false, r1);
	cr_assert_eq(mkdir(pathf("w/sub"), 0755), 0);
	write_text(pathf("w/sub/inner"), "inner\n");
	dir_ino = inode_of(dir);

	publish(dir, "r2", true, r2);

	cr_assert_eq(inode_of(dir), dir_ino);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,b,c,sub");
	cr_assert_str_eq(read_text(pathf("w/sub/inner")), "inner\n");
	cr_assert_str_eq(read_text(pathf("w/b")), "b2\n");
	expect_manifest("w", "r2", r2);
	cr_assert_str_eq(list_dir(root), "w");

	/* without replace, a collision still publishes nothing */
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r3", &c), 0);
	stage(c, "d", "d3\n", 1, false);
	stage(c, "c", "c3\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), -EEXIST);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,b,c,sub");
	cr_assert_str_eq(read_text(pathf("w/c")), "c2\n");
	cr_assert_str_eq(list_dir(root), "w");
}

/* The target removed while the run wrote: the new version takes its
 * place. */
Test(commit, target_removed_before_finish)
{
	char dir[512];
	struct sp_commit *c;

	strcpy(dir, pathf("gone"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	stage(c, "a", "a\n", 1, false);
	cr_assert_eq(rmdir(dir), 0);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "_manifest.json,a");
	cr_assert_str_eq(list_dir(root), "gone");
}

/* Exchanging the working directory would leave the process in the old
 * version: published file by file instead. */
Test(commit, working_directory_falls_back_to_renames)
{
	char dir[512];
	struct sp_commit *c;
	ino_t dir_ino;

	strcpy(dir, pathf("cwd"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	write_text(pathf("cwd/mine"), "mine\n");
	dir_ino = inode_of(dir);
	cr_assert_eq(chdir(dir), 0);
	cr_assert_eq(sp_commit_begin(".", "f", "s", "r", &c), 0);
	stage(c, "a", "a\n", 1, false);
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir("."), "_manifest.json,a,mine");
	cr_assert_eq(chdir("/"), 0);
	cr_assert_eq(inode_of(dir), dir_ino);
	cr_assert_str_eq(list_dir(root), "cwd");
}

/* A file that was in the target before (no manifest lists it) and that an
 * early publication could not replace is never taken back: not by the
 * failed run's abort, nor by the next begin. */
Test(commit, take_back_spares_files_it_did_not_publish)
{
	char dir[512];
	struct sp_commit *c;

	strcpy(dir, pathf("keep"));
	cr_assert_eq(mkdir(dir, 0755), 0);
	write_text(pathf("keep/f1"), "precious\n");

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	write_text(sp_commit_staging_path(c, "f1"), "new\n");
	cr_assert_eq(sp_commit_add(c, "f1", 1, 4, true), -EEXIST);
	stage(c, "f2", "two\n", 1, true);
	cr_assert_str_eq(list_dir(dir), "f1,f2");
	sp_commit_destroy(c); /* failed run: takes back f2 only */
	cr_assert_str_eq(list_dir(dir), "f1");
	cr_assert_str_eq(read_text(pathf("keep/f1")), "precious\n");

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "f1");
	cr_assert_str_eq(read_text(pathf("keep/f1")), "precious\n");
	cr_assert_str_eq(list_dir(root), "keep");
}

/* ---- sp_commit_has_history ------------------------------------------ */

/* sp_commit_has_history(root/rel, stage), asserted to give the same answer
 * for the absolute path, the absolute path with a trailing slash and,
 * from root as the working directory, the relative path with and
 * without one and with "./" and a doubled slash. */
static int history_every_way(const char *rel, const char *stage)
{
	char abs[512], spelled[600], cwd[PATH_MAX];
	static const char *const forms[][2] = {
	    {"", ""}, {"", "/"}, {"./", ""}, {"./", "//"}};
	int want;

	snprintf(abs, sizeof(abs), "%s/%s", root, rel);
	want = sp_commit_has_history(abs, stage);
	snprintf(spelled, sizeof(spelled), "%s/", abs);
	cr_assert_eq(sp_commit_has_history(spelled, stage), want, "%s gives %d",
		     spelled, want);
	cr_assert_not_null(getcwd(cwd, sizeof(cwd)));
	cr_assert_eq(chdir(root), 0);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++) {
		snprintf(spelled, sizeof(spelled), "%s%s%s", forms[i][0], rel,
			 forms[i][1]);
		int got = sp_commit_has_history(spelled, stage);
		cr_assert_eq(chdir(cwd), 0);
		cr_assert_eq(got, want, "%s (relative) gives %d, %s gives %d",
			     spelled, got, abs, want);
		cr_assert_eq(chdir(root), 0);
	}
	cr_assert_eq(chdir(cwd), 0);
	return want;
}

/* Whether a run of stage s into t finds what its start compares with a
 * run id: the manifest in t, or beside t (in its parent) the commit
 * record or the publication journal of stage s; nothing else. */
Test(commit, has_history_of_each_thing_a_start_compares_with)
{
	char *t = pathf("t");

	cr_assert_eq(history_every_way("t", "s"), 0, "no such directory");
	write_text(t, "a file, not a directory\n");
	cr_assert_eq(sp_commit_has_history(t, "s"), -ENOTDIR);
	cr_assert_eq(unlink(t), 0);
	cr_assert_eq(mkdir(t, 0755), 0);
	cr_assert_eq(history_every_way("t", "s"), 0, "an empty directory");

	/* what a killed run leaves while it writes is no history */
	cr_assert_eq(mkdir(pathf(".t.spate-staging-s"), 0755), 0);
	write_text(pathf(".t.spate-staging-s/_manifest.json"), "{}\n");
	/* records in the wrong place, of another stage or target */
	write_text(pathf("t/.t.spate-commit-s"), "spate-commit 1\n");
	write_text(pathf("t/.t.spate-published-s"), "1 x\n");
	write_text(pathf(".t.spate-commit-s2"), "spate-commit 1\n");
	write_text(pathf(".t.spate-published-s2"), "1 x\n");
	write_text(pathf(".u.spate-commit-s"), "spate-commit 1\n");
	write_text(pathf(".u.spate-published-s"), "1 x\n");
	write_text(pathf("t/data.jsonl"), "{}\n");
	cr_assert_eq(history_every_way("t", "s"), 0, "root holds %s",
		     list_dir(root));

	write_text(pathf(".t.spate-commit-s"), "spate-commit 1\n");
	cr_assert_eq(history_every_way("t", "s"), 1, "a commit record");
	cr_assert_eq(history_every_way("t", "s2"), 1, "s2's record");
	cr_assert_eq(history_every_way("t", "other"), 0, "another stage");
	cr_assert_eq(unlink(pathf(".t.spate-commit-s")), 0);
	cr_assert_eq(history_every_way("t", "s"), 0);

	write_text(pathf(".t.spate-published-s"), "1 x\n");
	cr_assert_eq(history_every_way("t", "s"), 1, "a journal");
	cr_assert_eq(unlink(pathf(".t.spate-published-s")), 0);
	cr_assert_eq(history_every_way("t", "s"), 0);

	write_text(pathf("t/_manifest.json"), "{}\n");
	cr_assert_eq(history_every_way("t", "s"), 1, "a manifest");
	cr_assert_eq(history_every_way("t", "other"), 1,
		     "a manifest, whatever the stage");
}

/* The same through the commit's own steps: a new target is no history
 * until a run wrote its commit record (then aborting takes it away), a
 * file published early (journal) is, and a published run is. */
Test(commit, has_history_along_a_commit)
{
	char dir[512];
	struct sp_commit *c;

	strcpy(dir, pathf("n"));
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "", &c), 0);
	cr_assert_eq(history_every_way("n", "s"), 0, "begin of a new target");
	stage(c, "a", "a1\n", 1, false);
	cr_assert_eq(sp_commit_set_run_id(c, "late"), 0);
	cr_assert_eq(sp_commit_prepare(c, false), 0);
	cr_assert_eq(history_every_way("n", "s"), 0, "prepared");
	const char *targets[] = {sp_commit_target(c), NULL};
	cr_assert_eq(sp_commit_write_record(c, targets), 0);
	cr_assert_str_eq(list_dir(root), ".n.spate-commit-s,"
					 ".n.spate-staging-s,n");
	cr_assert_eq(history_every_way("n", "s"), 1, "the record written");
	sp_commit_abort(c);
	sp_commit_destroy(c);
	cr_assert_eq(history_every_way("n", "s"), 0, "aborted: %s",
		     list_dir(root));

	/* commit: file: the journal, from the first file on; a run killed
	 * then leaves it, and the next begin takes the file back */
	pid_t pid = fork();
	cr_assert(pid >= 0);
	if (pid == 0) {
		FILE *f;
		if (sp_commit_begin(dir, "f", "s", "r", &c) ||
		    !(f = fopen(sp_commit_staging_path(c, "b"), "w")) ||
		    fputs("b1\n", f) < 0 || fclose(f) ||
		    sp_commit_add(c, "b", 1, 3, true))
			_exit(1);
		_exit(history_every_way("n", "s") == 1 ? 0 : 2);
	}
	int st;
	cr_assert_eq(waitpid(pid, &st, 0), pid);
	cr_assert(WIFEXITED(st) && WEXITSTATUS(st) == 0, "status %d", st);
	cr_assert_str_eq(list_dir(root), ".n.spate-published-s,"
					 ".n.spate-staging-s,n");
	cr_assert_str_eq(list_dir(dir), "b");
	cr_assert_eq(history_every_way("n", "s"), 1, "a killed run's journal");
	cr_assert_eq(sp_commit_begin(dir, "f", "s", "r", &c), 0);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(dir), "");
	cr_assert_eq(history_every_way("n", "s"), 0, "taken back: %s",
		     list_dir(root));

	cr_assert_eq(sp_commit_begin(dir, "f", "s", "", &c), 0);
	stage(c, "a", "a1\n", 1, false);
	cr_assert_eq(sp_commit_set_run_id(c, "late"), 0);
	cr_assert_eq(sp_commit_prepare(c, false), 0);
	targets[0] = sp_commit_target(c);
	cr_assert_eq(sp_commit_write_record(c, targets), 0);
	cr_assert_eq(history_every_way("n", "s"), 1, "prepared again");
	cr_assert_eq(sp_commit_finish(c, false), 0);
	sp_commit_drop_record(c);
	sp_commit_destroy(c);
	cr_assert_str_eq(list_dir(root), "n");
	cr_assert_eq(history_every_way("n", "s"), 1, "published");
	cr_assert_str_eq(list_dir(dir), "_manifest.json,a");
	cr_assert(strstr(read_text(pathf("n/_manifest.json")),
			 "\"run_id\": \"late\""));
}
