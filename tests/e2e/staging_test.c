/*
 * End-to-end tests of the staging writer (file_writer) and its atomic
 * commit: zstd output as independent checksummed frames, ordered output
 * identical whatever the worker count, rolling by records and bytes,
 * name templates, CSV headers, commit: file, the manifest and the
 * file-closed events; exactly-once reruns (skip, --force, changed input);
 * and injected write failures (ENOSPC, EIO) that must leave nothing
 * visible and keep earlier output intact.  Every test runs on the
 * plain-syscall path (SPATE_IO=sync) and on the default one.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "support/e2e.h"

/* ---- helpers ------------------------------------------------------------- */

/* Sorted names of the non-hidden files of dir, manifest excluded. */
static size_t list_files(const char *dir, char ***out)
{
	DIR *d = opendir(dir);
	char **v = NULL;
	size_t n = 0;

	*out = NULL;
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] == '.' || !strcmp(e->d_name, "_manifest.json"))
			continue;
		v = realloc(v, (n + 1) * sizeof(*v));
		v[n++] = strdup(e->d_name);
	}
	closedir(d);
	for (size_t i = 1; i < n; i++)
		for (size_t k = i; k > 0 && strcmp(v[k - 1], v[k]) > 0; k--) {
			char *t = v[k];
			v[k] = v[k - 1];
			v[k - 1] = t;
		}
	*out = v;
	return n;
}

static void free_list(char **v, size_t n)
{
	for (size_t i = 0; i < n; i++)
		free(v[i]);
	free(v);
}

/* Hidden entries of dir (staging directories ...), for the message. */
static int hidden_entries(const char *dir, char *names, size_t len)
{
	DIR *d = opendir(dir);
	int n = 0;

	names[0] = '\0';
	if (!d)
		return 0;
	for (struct dirent *e; (e = readdir(d));) {
		if (e->d_name[0] != '.' || !strcmp(e->d_name, ".") ||
		    !strcmp(e->d_name, ".."))
			continue;
		n++;
		size_t k = strlen(names);
		snprintf(names + k, len - k, "%s ", e->d_name);
	}
	closedir(d);
	return n;
}

static void assert_no_staging(const char *dir, const char *io)
{
	char names[1024];

	cr_expect_eq(hidden_entries(dir, names, sizeof(names)), 0,
		     "[%s] hidden entries left in %s: %s", io, dir, names);
}

/* n JSON lines of varied length, deterministic for a seed. */
static void gen_jsonl(struct e2e_text *t, int n, uint64_t seed)
{
	for (int i = 0; i < n; i++) {
		e2e_text_printf(
		    t,
		    "{\"id\":%d,\"user\":\"u%llu\",\"v\":%llu.%02llu,"
		    "\"pad\":\"",
		    i, (unsigned long long)(e2e_lcg(&seed) % 1000),
		    (unsigned long long)(e2e_lcg(&seed) % 100000),
		    (unsigned long long)(e2e_lcg(&seed) % 100));
		size_t k = e2e_lcg(&seed) % 200;
		for (size_t j = 0; j < k; j++)
			e2e_text_add(
			    t,
			    &"abcdefghijklmnopqrstuvwxyz"[e2e_lcg(&seed) % 26],
			    1);
		e2e_text_add(t, "\"}\n", 3);
	}
}

/* A fresh test folder with flow.yaml (flow) and in.jsonl: n records of
 * gen_jsonl(seed), also left in in. */
static char *case_dir(struct e2e_text *in, int n, uint64_t seed,
		      const char *flow)
{
	char *dir = e2e_tmpdir();

	gen_jsonl(in, n, seed);
	e2e_put(dir, "in.jsonl", in->p, in->len);
	e2e_put_str(dir, "flow.yaml", flow);
	return dir;
}

/* all (what a writer wrote) holds the records of in: in order, or when
 * the writer is not ordered in any order (all is then sorted). */
static void assert_records(struct e2e_text *all, const struct e2e_text *in,
			   bool ordered, const char *what, const char *io)
{
	if (ordered) {
		e2e_assert_same(all->p, all->len, in->p, in->len, what, io);
		return;
	}
	struct e2e_text want = {0};
	e2e_text_add(&want, in->p, in->len);
	e2e_sort_lines(want.p, want.len);
	e2e_sort_lines(all->p, all->len);
	e2e_assert_same(all->p, all->len, want.p, want.len, what, io);
	free(want.p);
}

/* ---- manifest ------------------------------------------------------------ */

struct mfile {
	char name[256];
	uint64_t records, bytes, xxh64;
};

struct manifest {
	char flow[128], stage[128], run_id[64];
	size_t n;
	struct mfile f[512];
};

static const char *json_str(const char *p, const char *key, char *out,
			    size_t len)
{
	p = e2e_after_key(p, key);
	if (!p || *p != '"')
		return NULL;
	size_t n = 0;
	for (p++; *p && *p != '"'; p++) {
		if (*p == '\\')
			p++;
		if (n + 1 < len)
			out[n++] = *p;
	}
	out[n] = '\0';
	return *p ? p + 1 : NULL;
}

static const char *json_u64(const char *p, const char *key, uint64_t *out)
{
	char *end;

	p = e2e_after_key(p, key);
	if (!p)
		return NULL;
	*out = strtoull(p, &end, 10);
	return end == p ? NULL : end;
}

/* Reads dir/_manifest.json; false when absent. */
static bool manifest_read(const char *dir, struct manifest *m)
{
	char *path = e2e_join(dir, "_manifest.json");
	char *s = e2e_read(path, NULL);

	free(path);
	memset(m, 0, sizeof(*m));
	if (!s)
		return false;
	cr_assert(json_str(s, "flow", m->flow, sizeof(m->flow)), "%s", s);
	cr_assert(json_str(s, "stage", m->stage, sizeof(m->stage)), "%s", s);
	cr_assert(json_str(s, "run_id", m->run_id, sizeof(m->run_id)), "%s", s);
	const char *p = e2e_after_key(s, "files");
	cr_assert(p && *p == '[', "%s", s);
	while (m->n < 512 && (p = strchr(p, '{'))) {
		struct mfile *f = &m->f[m->n++];
		char hex[32];
		const char *end = strchr(p, '}');
		cr_assert(end, "%s", s);
		/* each key looked up inside this object only */
		char *obj = strndup(p, (size_t)(end - p + 1));
		cr_assert(json_str(obj, "name", f->name, sizeof(f->name)), "%s",
			  s);
		cr_assert(json_u64(obj, "records", &f->records), "%s", s);
		cr_assert(json_u64(obj, "bytes", &f->bytes), "%s", s);
		cr_assert(json_str(obj, "xxh64", hex, sizeof(hex)), "%s", s);
		f->xxh64 = strtoull(hex, NULL, 16);
		free(obj);
		p = end + 1;
	}
	free(s);
	return true;
}

Test(staging, xxh64_reference_values)
{
	cr_assert_eq(e2e_xxh64("", 0), 0xEF46DB3751D8E999ull);
	cr_assert_eq(e2e_xxh64("abc", 3), 0x44BC2CF5AD770999ull);
}

/* The manifest of dir lists exactly the data files on disk, with their
 * exact record counts, sizes and checksums; returns the record total. */
static uint64_t check_manifest(const char *dir, const char *flow,
			       const char *stage, struct manifest *m,
			       const char *io)
{
	char **names;
	size_t n = list_files(dir, &names);
	uint64_t total = 0;

	cr_assert(manifest_read(dir, m), "[%s] no manifest in %s", io, dir);
	cr_expect_str_eq(m->flow, flow, "[%s]", io);
	cr_expect_str_eq(m->stage, stage, "[%s]", io);
	cr_expect_eq(strlen(m->run_id), 16, "[%s] run_id \"%s\"", io,
		     m->run_id);
	cr_expect_eq(strspn(m->run_id, "0123456789abcdef"), 16,
		     "[%s] run_id \"%s\"", io, m->run_id);
	cr_assert_eq(m->n, n,
		     "[%s] manifest of %s lists %zu files, %zu on disk", io,
		     dir, m->n, n);
	for (size_t i = 0; i < m->n; i++) {
		struct mfile *f = &m->f[i];
		bool listed = false;
		for (size_t k = 0; k < n; k++)
			listed |= !strcmp(names[k], f->name);
		cr_assert(listed, "[%s] %s listed but not on disk", io,
			  f->name);
		char *path = e2e_join(dir, f->name);
		size_t raw_len, len;
		char *raw = e2e_read(path, &raw_len);
		char *t = e2e_read_text(path, &len);
		cr_assert(raw && t, "[%s] cannot read %s", io, path);
		cr_expect_eq(f->bytes, raw_len,
			     "[%s] %s: manifest says %llu "
			     "bytes, file has %zu",
			     io, f->name, (unsigned long long)f->bytes,
			     raw_len);
		cr_expect_eq(f->xxh64, e2e_xxh64(raw, raw_len),
			     "[%s] %s: xxh64 differs", io, f->name);
		uint64_t lines = e2e_count_lines(t, len);
		if (strstr(f->name, ".csv") && lines) /* header line */
			lines--;
		cr_expect_eq(f->records, lines,
			     "[%s] %s: manifest says %llu "
			     "records, file has %llu",
			     io, f->name, (unsigned long long)f->records,
			     (unsigned long long)lines);
		total += f->records;
		free(raw);
		free(t);
		free(path);
	}
	free_list(names, n);
	return total;
}

/* ---- zstd framing -------------------------------------------------------- */

/* Every zstd output file is a sequence of independent, checksummed frames
 * with their content size, each decodable on its own. */
E2E_BOTH_IO(staging, zstd_independent_frames)
{
	struct e2e_text in = {0};
	char *dir = case_dir(
	    &in, 8000, 1,
	    "name: frames\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 16K}\n"
	    "  - {id: ord, type: file_writer, inputs: [src], dir: ord, "
	    "ordered: true, level: 3}\n"
	    "  - {id: any, type: file_writer, inputs: [src], dir: any, "
	    "frame_size: 4096}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	static const char *const subs[] = {"ord", "any"};
	for (int s = 0; s < 2; s++) {
		char *sub = e2e_join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		struct e2e_text all = {0};
		size_t frames = 0;
		cr_assert_eq(n, 1, "[%s] %s: %zu files", io, subs[s], n);
		cr_expect(strstr(names[0], ".jsonl.zst"), "[%s] %s", io,
			  names[0]);
		char *path = e2e_join(sub, names[0]);
		size_t len;
		unsigned char *z = (unsigned char *)e2e_read(path, &len);
		for (size_t off = 0; off < len; frames++) {
			size_t fs =
			    ZSTD_findFrameCompressedSize(z + off, len - off);
			cr_assert(!ZSTD_isError(fs),
				  "[%s] %s: bad frame at "
				  "%zu: %s",
				  io, names[0], off, ZSTD_getErrorName(fs));
			cr_assert(z[off] == 0x28 && z[off + 1] == 0xb5 &&
				      z[off + 2] == 0x2f && z[off + 3] == 0xfd,
				  "[%s] not a zstd frame at %zu", io, off);
			cr_expect(z[off + 4] & 0x04,
				  "[%s] frame at %zu has no checksum", io, off);
			unsigned long long cs =
			    ZSTD_getFrameContentSize(z + off, fs);
			cr_assert(cs != ZSTD_CONTENTSIZE_UNKNOWN &&
				      cs != ZSTD_CONTENTSIZE_ERROR,
				  "[%s] frame at %zu: no content size", io,
				  off);
			char *buf = malloc(cs + 1);
			size_t k = ZSTD_decompress(buf, cs + 1, z + off, fs);
			cr_assert(!ZSTD_isError(k) && k == cs,
				  "[%s] frame at %zu does not decode alone", io,
				  off);
			/* frames end on record boundaries */
			cr_expect(cs == 0 || buf[cs - 1] == '\n',
				  "[%s] frame at %zu cuts a record", io, off);
			e2e_text_add(&all, buf, k);
			free(buf);
			off += fs;
		}
		cr_expect_gt(frames, 10, "[%s] %s: only %zu frames", io,
			     subs[s], frames);
		assert_records(&all, &in, s == 0, subs[s], io);
		free(all.p);
		free(z);
		free(path);
		free_list(names, n);
		free(sub);
	}
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- ordered output ------------------------------------------------------ */

static char *file_bytes(const char *dir, const char *name, size_t *len)
{
	char *p = e2e_join(dir, name);
	char *s = e2e_read(p, len);

	free(p);
	return s;
}

/* flow (and in.jsonl, when in is not NULL) in dir/w1 and dir/w2, run
 * there with 1 and 2 workers; the two folders are returned. */
static void run_1_and_2_workers(const char *dir, const char *flow,
				const struct e2e_text *in,
				const char *const *env, const char *io,
				char **w1, char **w2)
{
	static const char *const sub[] = {"w1", "w2"};
	static const char *const workers[] = {"1", "2"};
	char **w[] = {w1, w2};

	for (int i = 0; i < 2; i++) {
		*w[i] = e2e_join(dir, sub[i]);
		if (in)
			e2e_put(*w[i], "in.jsonl", in->p, in->len);
		e2e_put_str(*w[i], "flow.yaml", flow);
		e2e_run_flow_ok(*w[i], env, io, "flow.yaml", "--workers",
				workers[i], NULL);
	}
}

/* ordered: the same files, byte for byte, with 1 or 2 workers; a plain
 * passthrough equals its input. */
E2E_BOTH_IO(staging, ordered_output_identical_across_workers)
{
	char *dir = e2e_tmpdir();
	struct e2e_text in = {0};
	static const char flow[] =
	    "name: ordered\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: plain, type: file_writer, inputs: [src], dir: plain, "
	    "ordered: true, compression: none}\n"
	    "  - {id: zst, type: file_writer, inputs: [src], dir: zst, "
	    "ordered: true}\n"
	    "  - {id: roll, type: file_writer, inputs: [src], dir: roll, "
	    "ordered: true, max_file_records: 777}\n";
	char *w1, *w2;

	gen_jsonl(&in, 10000, 2);
	run_1_and_2_workers(dir, flow, &in, env, io, &w1, &w2);

	/* passthrough, no compression: the input itself */
	char *p1 = e2e_join(w1, "plain");
	char **names;
	size_t n = list_files(p1, &names);
	cr_assert_eq(n, 1, "[%s] plain: %zu files", io, n);
	size_t len;
	char *s = file_bytes(p1, names[0], &len);
	e2e_assert_same(s, len, in.p, in.len, "plain", io);
	free(s);
	free_list(names, n);
	free(p1);

	static const char *const subs[] = {"plain", "zst", "roll"};
	for (int k = 0; k < 3; k++) {
		char *a = e2e_join(w1, subs[k]), *b = e2e_join(w2, subs[k]);
		char **na, **nb;
		size_t ca = list_files(a, &na), cb = list_files(b, &nb);
		cr_assert_eq(ca, cb, "[%s] %s: %zu files vs %zu", io, subs[k],
			     ca, cb);
		cr_assert_gt(ca, 0, "[%s] %s: no files", io, subs[k]);
		for (size_t i = 0; i < ca; i++) {
			cr_assert_str_eq(na[i], nb[i], "[%s]", io);
			size_t la, lb;
			char *da = file_bytes(a, na[i], &la);
			char *db = file_bytes(b, nb[i], &lb);
			e2e_assert_same(db, lb, da, la, na[i], io);
			free(da);
			free(db);
		}
		e2e_assert_out_n(w2, subs[k], in.p, in.len, io);
		free_list(na, ca);
		free_list(nb, cb);
		free(a);
		free(b);
	}
	free(w1);
	free(w2);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- rolling ------------------------------------------------------------- */

/* max_file_records: no file holds more, names are {flow}-{stage}-{seq}
 * without gaps, all records are there in order, the manifest agrees. */
E2E_BOTH_IO(staging, roll_by_records)
{
	struct e2e_text in = {0};
	char *dir = case_dir(
	    &in, 10500, 3,
	    "name: rollr\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 1000}\n"
	    "  - {id: any, type: file_writer, inputs: [src], dir: any, "
	    "max_file_records: 1000}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	static const char *const subs[] = {"out", "any"};
	for (int s = 0; s < 2; s++) {
		char *sub = e2e_join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		cr_assert_geq(n, 11, "[%s] %s: %zu files", io, subs[s], n);
		struct e2e_text all = {0};
		for (size_t i = 0; i < n; i++) {
			char want[64];
			snprintf(want, sizeof(want), "rollr-%s-%06zu.jsonl.zst",
				 subs[s], i);
			cr_expect_str_eq(names[i], want, "[%s]", io);
			char *path = e2e_join(sub, names[i]);
			size_t len;
			char *t = e2e_read_text(path, &len);
			size_t lines = e2e_count_lines(t, len);
			cr_expect(lines >= 1 && lines <= 1000,
				  "[%s] %s holds %zu records", io, names[i],
				  lines);
			e2e_text_add(&all, t, len);
			free(t);
			free(path);
		}
		struct manifest m;
		uint64_t total = check_manifest(sub, "rollr", subs[s], &m, io);
		cr_expect_eq(total, 10500, "[%s]", io);
		assert_records(&all, &in, s == 0, subs[s], io);
		free(all.p);
		free_list(names, n);
		free(sub);
	}
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* max_file_bytes: files roll on block boundaries and never pass the limit
 * when blocks are smaller than it. */
E2E_BOTH_IO(staging, roll_by_bytes)
{
	struct e2e_text in = {0};
	char *dir = case_dir(
	    &in, 3000, 4,
	    "name: rollb\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: plain, type: file_writer, inputs: [src], dir: plain, "
	    "ordered: true, compression: none, max_file_bytes: 20000}\n"
	    "  - {id: zst, type: file_writer, inputs: [src], dir: zst, "
	    "ordered: true, max_file_bytes: 8K}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	static const char *const subs[] = {"plain", "zst"};
	static const size_t limit[] = {20000, 8192};
	for (int s = 0; s < 2; s++) {
		char *sub = e2e_join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		cr_expect_gt(n, 5, "[%s] %s: %zu files", io, subs[s], n);
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			char *path = e2e_join(sub, names[i]);
			cr_assert_eq(stat(path, &st), 0);
			cr_expect(st.st_size > 0 &&
				      (size_t)st.st_size <= limit[s],
				  "[%s] %s is %lld bytes (limit %zu)", io,
				  names[i], (long long)st.st_size, limit[s]);
			free(path);
		}
		e2e_assert_out_n(dir, subs[s], in.p, in.len, io);
		struct manifest m;
		cr_expect_eq(check_manifest(sub, "rollb", subs[s], &m, io),
			     3000, "[%s]", io);
		free_list(names, n);
		free(sub);
	}
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- names and CSV ------------------------------------------------------- */

E2E_BOTH_IO(staging, name_template)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
	struct e2e_result r;
	char **names;
	size_t n;

	e2e_put_str(dir, "flow2.yaml",
		    "name: tpl2\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: in.jsonl}\n"
		    "  - {id: j, type: file_writer, inputs: [src], dir: o1, "
		    "ordered: true, max_file_records: 2, "
		    "name: 'x_{flow}_{stage}.{seq}.{ext}'}\n"
		    "  - {id: c, type: file_writer, inputs: [src], dir: o2, "
		    "format: csv, compression: none, "
		    "name: '{stage}-{seq}-{flow}.{ext}'}\n"
		    "  - {id: p, type: file_writer, inputs: [src], dir: o3, "
		    "compression: none}\n");
	e2e_run_flow_ok(dir, env, io, "flow2.yaml", NULL);
	static const char *const want[][3] = {
	    {"o1", "x_tpl2_j.000000.jsonl.zst", "x_tpl2_j.000001.jsonl.zst"},
	    {"o2", "c-000000-tpl2.csv", NULL},
	    {"o3", "tpl2-p-000000.jsonl", NULL},
	};
	for (int k = 0; k < 3; k++) {
		char *sub = e2e_join(dir, want[k][0]);
		n = list_files(sub, &names);
		cr_expect_eq(n, want[k][2] ? 2u : 1u, "[%s] %s: %zu files", io,
			     want[k][0], n);
		for (size_t i = 0; i < n && i < 2 && want[k][i + 1]; i++)
			cr_expect_str_eq(names[i], want[k][i + 1], "[%s]", io);
		free_list(names, n);
		free(sub);
	}
	e2e_assert_out_n(dir, "o1", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 24,
			 io);
	e2e_assert_out_n(dir, "o2", "a\n1\n2\n3\n", 8, io);

	/* a template without {seq} is refused before anything is written */
	e2e_put_str(dir, "flow3.yaml",
		    "name: tpl3\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: in.jsonl}\n"
		    "  - {id: j, type: file_writer, inputs: [src], dir: o4, "
		    "name: 'fixed.{ext}'}\n");
	e2e_run_flow(&r, dir, env, "flow3.yaml", NULL);
	cr_expect(r.exit_code == 2, "[%s] exit %d", io,
		  r.exit_code);
	cr_expect(strstr(r.err, "{seq}"), "[%s] %s", io, r.err);
	char *o4 = e2e_join(dir, "o4");
	cr_expect_eq(e2e_count_files(o4, NULL, true), -1, "[%s] o4 was created",
		     io);
	free(o4);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* CSV output: one header at the top of every rolled file, values quoted
 * where needed, records in order across files. */
E2E_BOTH_IO(staging, csv_header_per_file)
{
	char *dir = e2e_tmpdir();
	struct e2e_text in = {0}, rows = {0};

	for (int i = 0; i < 350; i++) {
		e2e_text_printf(&in,
				"{\"id\":%d,\"name\":\"n,%d\",\"q\":\"say "
				"\\\"%d\\\"\",\"v\":%d.5}\n",
				i, i, i, i);
		e2e_text_printf(&rows, "%d,\"n,%d\",\"say \"\"%d\"\"\",%d.5\n",
				i, i, i, i);
	}
	e2e_put(dir, "in.jsonl", in.p, in.len);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: csvout\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: plain, type: file_writer, inputs: [src], dir: plain, "
	    "format: csv, compression: none, ordered: true, "
	    "max_file_records: 100}\n"
	    "  - {id: zst, type: file_writer, inputs: [src], dir: zst, "
	    "format: csv, ordered: true, max_file_records: 100}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	static const char *const subs[] = {"plain", "zst"};
	static const char header[] = "id,name,q,v\n";
	for (int s = 0; s < 2; s++) {
		char *sub = e2e_join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		struct e2e_text all = {0};
		cr_assert_geq(n, 4, "[%s] %s: %zu files", io, subs[s], n);
		for (size_t i = 0; i < n; i++) {
			cr_expect(strstr(names[i], s ? ".csv.zst" : ".csv"),
				  "[%s] %s", io, names[i]);
			char *path = e2e_join(sub, names[i]);
			size_t len;
			char *t = e2e_read_text(path, &len);
			cr_assert(t && len > sizeof(header) - 1);
			cr_expect(!strncmp(t, header, sizeof(header) - 1),
				  "[%s] %s starts with \"%.30s\"", io, names[i],
				  t);
			cr_expect(!strstr(t + 1, "\nid,name"),
				  "[%s] %s has a second header", io, names[i]);
			cr_expect_leq(e2e_count_lines(t, len), 101, "[%s] %s",
				      io, names[i]);
			e2e_text_add(&all, t + sizeof(header) - 1,
				     len - (sizeof(header) - 1));
			free(t);
			free(path);
		}
		e2e_assert_same(all.p, all.len, rows.p, rows.len, subs[s], io);
		struct manifest m;
		cr_expect_eq(check_manifest(sub, "csvout", subs[s], &m, io),
			     350, "[%s]", io);
		free(all.p);
		free_list(names, n);
		free(sub);
	}
	free(in.p);
	free(rows.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- commit, manifest, events -------------------------------------------- */

/* commit: run and commit: file both publish every file with a manifest,
 * and raise one file-closed event per file with its path, records and
 * bytes (seen by a shell executor). */
E2E_BOTH_IO(staging, commit_modes_manifest_and_events)
{
	char *dir = e2e_tmpdir();
	struct e2e_text in = {0}, yaml = {0};

	gen_jsonl(&in, 2500, 5);
	e2e_put(dir, "in.jsonl", in.p, in.len);
	e2e_text_printf(
	    &yaml,
	    "name: events\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: byrun, type: file_writer, inputs: [src], "
	    "dir: byrun, ordered: true, max_file_records: 600}\n"
	    "  - {id: byfile, type: file_writer, inputs: [src], "
	    "dir: byfile, ordered: true, max_file_records: 600, "
	    "commit: file}\n"
	    "  - id: log\n"
	    "    type: shell\n"
	    "    event_inputs: [byrun, byfile]\n"
	    "    command: 'echo \"$SPATE_EVENT $SPATE_STAGE $SPATE_PATH "
	    "$SPATE_RECORDS $SPATE_BYTES\" >> %s/events.log'\n",
	    dir);
	e2e_put_str(dir, "flow.yaml", yaml.p);
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	char *logp = e2e_join(dir, "events.log");
	size_t log_len;
	char *log = e2e_read(logp, &log_len);
	cr_assert(log, "[%s] no events.log", io);
	static const char *const subs[] = {"byrun", "byfile"};
	size_t events = 0;
	for (int s = 0; s < 2; s++) {
		char *sub = e2e_join(dir, subs[s]);
		struct manifest m;
		cr_expect_eq(check_manifest(sub, "events", subs[s], &m, io),
			     2500, "[%s]", io);
		cr_expect_geq(m.n, 5, "[%s] %s: %zu files", io, subs[s], m.n);
		e2e_assert_out_n(dir, subs[s], in.p, in.len, io);
		/* one event per file, naming a path that is the file */
		for (size_t i = 0; i < m.n; i++) {
			char *want = e2e_join(sub, m.f[i].name);
			char real_want[PATH_MAX];
			cr_assert(realpath(want, real_want));
			size_t found = 0;
			char *copy = strdup(log);
			for (char *save, *line = strtok_r(copy, "\n", &save);
			     line; line = strtok_r(NULL, "\n", &save)) {
				char ev[64], stage[64], path[PATH_MAX];
				unsigned long long rec, by;
				if (sscanf(line, "%63s %63s %4095s %llu %llu",
					   ev, stage, path, &rec, &by) != 5)
					continue;
				/* relative paths are spate's: its cwd is dir */
				char real[PATH_MAX],
				    *abs = path[0] == '/' ? strdup(path)
							  : e2e_join(dir, path);
				bool same = realpath(abs, real) &&
					    !strcmp(real, real_want);
				free(abs);
				if (strcmp(ev, "file-closed") ||
				    strcmp(stage, subs[s]) || !same)
					continue;
				found++;
				cr_expect_eq(rec, m.f[i].records, "[%s] %s", io,
					     line);
				cr_expect_eq(by, m.f[i].bytes, "[%s] %s", io,
					     line);
			}
			cr_expect_eq(found, 1, "[%s] %zu events for %s:\n%s",
				     io, found, want, log);
			events += found;
			free(copy);
			free(want);
		}
		free(sub);
	}
	size_t closed = 0;
	for (const char *p = log; (p = strstr(p, "file-closed ")); p++)
		closed++;
	cr_expect_eq(closed, events, "[%s] extra file-closed events:\n%s", io,
		     log);
	assert_no_staging(dir, io);
	free(log);
	free(logp);
	free(yaml.p);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- exactly once -------------------------------------------------------- */

struct snap {
	size_t n;
	char *name[64];
	char *data[64];
	size_t len[64];
	struct stat st[64];
};

/* Every file of dir (manifest included): content and stat. */
static void snap_take(const char *dir, struct snap *s)
{
	DIR *d = opendir(dir);

	memset(s, 0, sizeof(*s));
	cr_assert(d);
	for (struct dirent *e; (e = readdir(d)) && s->n < 64;) {
		if (e->d_name[0] == '.')
			continue;
		char *p = e2e_join(dir, e->d_name);
		s->name[s->n] = strdup(e->d_name);
		s->data[s->n] = e2e_read(p, &s->len[s->n]);
		cr_assert_eq(stat(p, &s->st[s->n]), 0);
		s->n++;
		free(p);
	}
	closedir(d);
}

static void snap_free(struct snap *s)
{
	for (size_t i = 0; i < s->n; i++) {
		free(s->name[i]);
		free(s->data[i]);
	}
}

static const struct stat *snap_find(const struct snap *s, const char *name,
				    size_t *idx)
{
	for (size_t i = 0; i < s->n; i++)
		if (!strcmp(s->name[i], name)) {
			*idx = i;
			return &s->st[i];
		}
	return NULL;
}

/* dir holds exactly what the snapshot holds; untouched: also the same
 * inode and mtime. */
static void snap_expect_same(const char *dir, const struct snap *before,
			     bool untouched, const char *what, const char *io)
{
	struct snap now;

	snap_take(dir, &now);
	cr_expect_eq(now.n, before->n, "[%s] %s: %zu files, was %zu", io, what,
		     now.n, before->n);
	for (size_t i = 0; i < now.n; i++) {
		size_t k;
		const struct stat *st = snap_find(before, now.name[i], &k);
		cr_expect(st, "[%s] %s: new file %s", io, what, now.name[i]);
		if (!st)
			continue;
		e2e_assert_same(now.data[i], now.len[i], before->data[k],
				before->len[k], now.name[i], io);
		if (untouched) {
			cr_expect(now.st[i].st_ino == st->st_ino &&
				      now.st[i].st_mtim.tv_sec ==
					  st->st_mtim.tv_sec &&
				      now.st[i].st_mtim.tv_nsec ==
					  st->st_mtim.tv_nsec,
				  "[%s] %s: %s was rewritten", io, what,
				  now.name[i]);
		}
	}
	snap_free(&now);
}

/* The run's log says when the input was hashed before the run. */
static const char hashed_before[] = E2E_HASHED_BEFORE_OUT;

/* Same flow over the same input: skipped; --force: replaced with the same
 * content; changed input: refused unless --force.  The input is old: the
 * first run (a new target) and --force take the run id after the data
 * from the read's hash, the rerun before the run from a hash of its own,
 * and all three must be the same id. */
E2E_BOTH_IO(staging, exactly_once_reruns)
{
	struct e2e_text in = {0};
	char *dir = case_dir(
	    &in, 3000, 6,
	    "name: once\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 1000}\n");
	char *out = e2e_join(dir, "out");
	struct e2e_result r;
	e2e_age(dir, "in.jsonl");
	e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info", NULL);
	e2e_assert_ok(&r, io);
	cr_expect(!strstr(r.err, hashed_before),
		  "[%s] a new target: the input was hashed before the run:\n%s",
		  io, r.err);
	e2e_result_free(&r);
	struct manifest m1;
	cr_assert_eq(check_manifest(out, "once", "out", &m1, io), 3000);
	struct snap s1;
	snap_take(out, &s1);

	/* again: nothing to do */
	e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s] rerun exit %d:\n%s", io, r.exit_code,
		     r.err);
	cr_expect(strstr(r.err, "skipped"), "[%s] rerun says:\n%s", io, r.err);
	cr_expect(strstr(r.err, hashed_before), "[%s] rerun says:\n%s", io,
		  r.err);
	e2e_result_free(&r);
	snap_expect_same(out, &s1, true, "after a skipped rerun", io);
	assert_no_staging(dir, io);

	/* --json says so too */
	e2e_run_flow(&r, dir, env, "flow.yaml", "--json", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s]", io);
	cr_expect(strstr(r.out, "\"status\":\"skipped\""), "[%s] %s", io,
		  r.out);
	e2e_result_free(&r);

	/* --force: same names and content, manifest written anew */
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--force", NULL);
	snap_expect_same(out, &s1, false, "after --force", io);
	struct manifest m2;
	cr_expect_eq(check_manifest(out, "once", "out", &m2, io), 3000);
	cr_expect_str_eq(m2.run_id, m1.run_id, "[%s]", io);
	struct stat mst;
	size_t k;
	char *mp = e2e_join(out, "_manifest.json");
	cr_assert_eq(stat(mp, &mst), 0);
	const struct stat *old = snap_find(&s1, "_manifest.json", &k);
	cr_assert(old);
	cr_expect(mst.st_ino != old->st_ino ||
		      mst.st_mtim.tv_sec != old->st_mtim.tv_sec ||
		      mst.st_mtim.tv_nsec != old->st_mtim.tv_nsec,
		  "[%s] --force did not rewrite the manifest", io);
	assert_no_staging(dir, io);

	/* the input changes: another run, refused without --force */
	static const char extra[] = "{\"id\":\"appended\"}\n";
	struct e2e_text in2 = {0};
	e2e_text_add(&in2, in.p, in.len);
	e2e_text_add(&in2, extra, sizeof(extra) - 1);
	e2e_put(dir, "in.jsonl", in2.p, in2.len);
	struct snap s2;
	snap_take(out, &s2);
	e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] changed input: exit %d", io,
		     r.exit_code);
	cr_expect(strstr(r.err, "another run") && strstr(r.err, "--force"),
		  "[%s] changed input says:\n%s", io, r.err);
	e2e_result_free(&r);
	snap_expect_same(out, &s2, true, "after a refused run", io);
	assert_no_staging(dir, io);

	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--force", NULL);
	struct manifest m3;
	cr_expect_eq(check_manifest(out, "once", "out", &m3, io), 3001);
	cr_expect_str_neq(m3.run_id, m1.run_id, "[%s]", io);
	e2e_assert_out_n(dir, "out", in2.p, in2.len, io);

	/* fewer files than before: --force removes the stale ones */
	size_t half = (size_t)(strstr(in.p, "{\"id\":1500,") - in.p);
	e2e_put(dir, "in.jsonl", in.p, half);
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--force", NULL);
	struct manifest m4;
	cr_expect_eq(check_manifest(out, "once", "out", &m4, io), 1500);
	cr_expect_eq(m4.n, 2, "[%s] %zu files", io, m4.n);
	e2e_assert_out_n(dir, "out", in.p, half, io);
	assert_no_staging(dir, io);

	free(mp);
	snap_free(&s1);
	snap_free(&s2);
	free(in2.p);
	free(in.p);
	free(out);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- the run id after the data, whatever form the input has ------------- */

/* An input the reader decodes: the file the flow reads, made from the
 * plain text in.plain by `make` and decoded back by `decode` into
 * decoded.plain with the command-line tools (NULL: in.plain is read as
 * it is), and what the reader's options add. */
struct late_input {
	const char *name, *make, *decode, *opts;
};

/* n CSV rows with a header, and the records the reader makes of them
 * (every value a string, in the header's order) as JSON lines: quoted
 * fields with the delimiter, doubled quotes and line ends inside. */
static void gen_csv(struct e2e_text *csv, struct e2e_text *json, int n,
		    uint64_t seed)
{
	static const char *const notes[][2] = {
	    {"plain", "plain"},
	    {"\"a, b\"", "a, b"},
	    {"\"say \"\"hi\"\"\"", "say \\\"hi\\\""},
	    {"\"two\nlines\"", "two\\nlines"},
	    {"", ""}};

	e2e_text_printf(csv, "id,user,note,v\n");
	for (int i = 0; i < n; i++) {
		unsigned k = (unsigned)(e2e_lcg(&seed) % 5);
		unsigned long long u = e2e_lcg(&seed) % 1000,
				   v = e2e_lcg(&seed) % 100000;
		e2e_text_printf(csv, "%d,u%llu,%s,%llu\n", i, u, notes[k][0],
				v);
		e2e_text_printf(json,
				"{\"id\":\"%d\",\"user\":\"u%llu\",\"note\":"
				"\"%s\",\"v\":\"%llu\"}\n",
				i, u, notes[k][1], v);
	}
}

/* The input is old: the first run into a new target takes the run id
 * after the data from the hash its read took (the log does not say that
 * the input is hashed before the run, and the file is opened once), and
 * writes every record; the same run again hashes the input before the
 * run, finds that id in the manifest and is skipped, the output
 * untouched; --force reads once again and writes a manifest with the
 * same run id. */
static void late_id_case(const char *const *env, const char *io,
			 const struct late_input *li, const char *plain,
			 size_t plain_len, const char *want, size_t want_len,
			 uint64_t nrecords)
{
	char *dir = e2e_tmpdir();
	char *out = e2e_join(dir, "out");
	char flow[512];
	struct e2e_result r;
	struct manifest m1, m2;
	struct snap s1;

	e2e_put(dir, "in.plain", plain, plain_len);
	if (li->make) {
		e2e_sh(dir, li->make);
		e2e_sh(dir, li->decode);
		size_t len;
		char *p = e2e_join(dir, "decoded.plain");
		char *back = e2e_read(p, &len);
		e2e_assert_same(back, len, plain, plain_len,
				"decoded by the tool", io);
		free(back);
		free(p);
	}
	snprintf(
	    flow, sizeof(flow),
	    "name: late\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: %s, chunk_size: 4096%s}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 7000}\n",
	    li->name, li->opts);
	e2e_put_str(dir, "flow.yaml", flow);
	e2e_age(dir, li->name);

	int w = e2e_opens_watch(dir);
	e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info", NULL);
	e2e_assert_ok(&r, io);
	cr_expect(!strstr(r.err, hashed_before),
		  "[%s] %s into a new target: hashed before the run:\n%s", io,
		  li->name, r.err);
	e2e_result_free(&r);
	cr_expect_eq(e2e_opens_count(w, li->name), 1,
		     "[%s] %s: not read once by a run into a new target", io,
		     li->name);
	cr_assert_eq(check_manifest(out, "late", "out", &m1, io), nrecords,
		     "[%s] %s", io, li->name);
	e2e_assert_out_n(dir, "out", want, want_len, io);
	assert_no_staging(dir, io);
	snap_take(out, &s1);

	/* again: hashed before the run, the same id, nothing to do */
	e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s] %s: rerun exit %d:\n%s", io,
		     li->name, r.exit_code, r.err);
	cr_expect(strstr(r.err, hashed_before) && strstr(r.err, "skipped"),
		  "[%s] %s: rerun says:\n%s", io, li->name, r.err);
	e2e_result_free(&r);
	snap_expect_same(out, &s1, true, "after a skipped rerun", io);
	assert_no_staging(dir, io);

	/* --force: after the data again, the same id */
	w = e2e_opens_watch(dir);
	e2e_run_flow(&r, dir, env, "flow.yaml", "--log-level", "info",
		     "--force", NULL);
	e2e_assert_ok(&r, io);
	cr_expect(!strstr(r.err, hashed_before),
		  "[%s] %s --force: hashed before the run:\n%s", io, li->name,
		  r.err);
	e2e_result_free(&r);
	cr_expect_eq(e2e_opens_count(w, li->name), 1,
		     "[%s] %s: not read once by --force", io, li->name);
	cr_expect_eq(check_manifest(out, "late", "out", &m2, io), nrecords);
	cr_expect_str_eq(m2.run_id, m1.run_id, "[%s] %s", io, li->name);
	snap_expect_same(out, &s1, false, "after --force", io);
	assert_no_staging(dir, io);

	snap_free(&s1);
	free(out);
	e2e_rmrf(dir);
	free(dir);
}

/* 20,000 JSON lines (about 2.9 MB; compressed, more than one read
 * block), made into each compressed form and decoded back by its tool */
E2E_BOTH_IO(staging, late_run_id_compressed_inputs)
{
	static const struct late_input forms[] = {
	    {"in.jsonl.zst", "zstd -q -c in.plain > in.jsonl.zst",
	     "zstd -q -dc in.jsonl.zst > decoded.plain", ""},
	    {"in.jsonl.gz", "gzip -c in.plain > in.jsonl.gz",
	     "gzip -dc in.jsonl.gz > decoded.plain", ""},
	    {"in.jsonl.lz4", "lz4 -q -c in.plain > in.jsonl.lz4",
	     "lz4 -q -dc in.jsonl.lz4 > decoded.plain", ""},
	};
	struct e2e_text in = {0};

	gen_jsonl(&in, 20000, 8);
	for (size_t i = 0; i < sizeof(forms) / sizeof(forms[0]); i++)
		late_id_case(env, io, &forms[i], in.p, in.len, in.p, in.len,
			     20000);
	free(in.p);
}

E2E_BOTH_IO(staging, late_run_id_csv_input_with_header)
{
	static const struct late_input li = {"in.plain", NULL, NULL,
					     ", format: csv, header: true"};
	struct e2e_text csv = {0}, want = {0};

	gen_csv(&csv, &want, 20000, 9);
	late_id_case(env, io, &li, csv.p, csv.len, want.p, want.len, 20000);
	free(csv.p);
	free(want.p);
}

/* ---- injected write failures --------------------------------------------- */

static void fault_case(const char *const *env, const char *io,
		       const char *fault, const char *message)
{
	struct e2e_text in = {0};
	const char *fenv[3] = {fault, NULL, NULL};

	if (env)
		fenv[1] = env[0];
	char *dir = case_dir(
	    &in, 4000, 7,
	    "name: fault\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, max_file_records: 1000}\n");
	struct e2e_result r;
	e2e_run_flow(&r, dir, fenv, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] %s: exit %d", io, fault,
		     r.exit_code);
	cr_expect(strstr(r.err, message), "[%s] %s: stderr:\n%s", io, fault,
		  r.err);
	cr_expect(strstr(r.err, "fault-out-0000"),
		  "[%s] %s: the message should name the file:\n%s", io, fault,
		  r.err);
	char *out = e2e_join(dir, "out");
	cr_expect_leq(e2e_count_files(out, NULL, false), 0,
		      "[%s] %s: files visible after a failed run", io, fault);
	e2e_result_free(&r);

	/* the next run succeeds and cleans up */
	e2e_run_flow_ok(dir, env, io, "flow.yaml", NULL);
	struct manifest m;
	cr_expect_eq(check_manifest(out, "fault", "out", &m, io), 4000);
	e2e_assert_out_n(dir, "out", in.p, in.len, io);
	assert_no_staging(dir, io);
	free(out);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

E2E_BOTH_IO(staging, fault_enospc_leaves_nothing)
{
	fault_case(env, io, "SPATE_FAULT_WRITE=ENOSPC:3",
		   "No space left on device");
}

E2E_BOTH_IO(staging, fault_eio_leaves_nothing)
{
	fault_case(env, io, "SPATE_FAULT_WRITE=EIO:1", "Input/output error");
}

/* A failed --force rerun leaves the output an earlier run committed as it
 * was, also in the directory of a writer that had nothing to fail on. */
E2E_BOTH_IO(staging, fault_keeps_committed_output)
{
	char *dir = e2e_tmpdir();
	struct e2e_text in = {0}, in2 = {0};
	const char *fenv[3] = {"SPATE_FAULT_WRITE=ENOSPC:3", NULL, NULL};

	if (env)
		fenv[1] = env[0];
	for (int i = 0; i < 4000; i++)
		e2e_text_printf(&in,
				"{\"i\":%d,\"to\":\"%s\",\"pad\":\"%0*d\"}\n",
				i, i % 3 ? "b" : "a", 40 + i % 50, i);
	/* the second input has records for b only */
	for (int i = 0; i < 4000; i++)
		e2e_text_printf(&in2,
				"{\"i\":%d,\"to\":\"b\",\"pad\":\"%0*d\"}\n", i,
				30 + i % 70, i);
	e2e_put(dir, "in.jsonl", in.p, in.len);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: keep\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl, "
	    "chunk_size: 4096}\n"
	    "  - id: sel\n"
	    "    type: stream_selector\n"
	    "    inputs: [src]\n"
	    "    lanes: {toa: '${record:value(\"/to\") == \"a\"}'}\n"
	    "  - {id: a, type: file_writer, inputs: [sel.toa], dir: out/a, "
	    "ordered: true, max_file_records: 500}\n"
	    "  - {id: b, type: file_writer, inputs: [sel.default], "
	    "dir: out/b, ordered: true, max_file_records: 500, "
	    "compression: none}\n");
	struct e2e_result r;
	e2e_run_flow_ok(dir, env, io, "flow.yaml", NULL);
	char *a = e2e_join(dir, "out/a"), *b = e2e_join(dir, "out/b");
	struct manifest m;
	cr_assert_eq(check_manifest(a, "keep", "a", &m, io), 1334, "[%s]", io);
	cr_assert_eq(check_manifest(b, "keep", "b", &m, io), 2666, "[%s]", io);
	struct snap sa, sb;
	snap_take(a, &sa);
	snap_take(b, &sb);

	/* new input, --force, and the disk fills up under b */
	e2e_put(dir, "in.jsonl", in2.p, in2.len);
	e2e_run_flow(&r, dir, fenv, "flow.yaml", "--force", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] exit %d:\n%s", io, r.exit_code,
		     r.err);
	cr_expect(strstr(r.err, "No space left on device") &&
		      strstr(r.err, "keep-b-0000"),
		  "[%s] %s", io, r.err);
	e2e_result_free(&r);
	snap_expect_same(a, &sa, true, "out/a after a failed --force", io);
	snap_expect_same(b, &sb, true, "out/b after a failed --force", io);

	/* without the fault: replaced (a now empty, b all records) */
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--force", NULL);
	cr_expect_eq(check_manifest(a, "keep", "a", &m, io), 0, "[%s]", io);
	cr_expect_eq(check_manifest(b, "keep", "b", &m, io), 4000, "[%s]", io);
	e2e_assert_out_n(dir, "out/b", in2.p, in2.len, io);
	char *outd = e2e_join(dir, "out");
	assert_no_staging(outd, io);
	free(outd);
	snap_free(&sa);
	snap_free(&sb);
	free(a);
	free(b);
	free(in.p);
	free(in2.p);
	e2e_rmrf(dir);
	free(dir);
}

/* Many small batches into an ordered writer (a generator with 20 records
 * per batch): the run ends, with every record, the same bytes for 1 and 2
 * workers. */
E2E_BOTH_IO(staging, ordered_many_small_batches)
{
	char *dir = e2e_tmpdir();
	static const char flow[] =
	    "name: small\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 60000, "
	    "seed: 5, batch_size: 20}\n"
	    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
	    "ordered: true}\n";
	char *w1, *w2;

	run_1_and_2_workers(dir, flow, NULL, env, io, &w1, &w2);
	char *o1 = e2e_join(w1, "out"), *o2 = e2e_join(w2, "out");
	size_t l1, l2;
	char *t1 = e2e_read_dir(o1, NULL, &l1),
	     *t2 = e2e_read_dir(o2, NULL, &l2);
	cr_expect_eq(e2e_count_lines(t1, l1), 60000, "[%s]", io);
	e2e_assert_same(t2, l2, t1, l1, "out", io);
	struct manifest m;
	cr_expect_eq(check_manifest(o2, "small", "out", &m, io), 60000, "[%s]",
		     io);
	free(t1);
	free(t2);
	free(o1);
	free(o2);
	free(w1);
	free(w2);
	e2e_rmrf(dir);
	free(dir);
}
