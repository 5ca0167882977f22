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
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "support/e2e.h"

static const char *const sync_env[] = {"SPATE_IO=sync", NULL};

/* A run that takes longer is hung (runs take a second or two in release,
 * far less than this under the sanitizers): it is killed and fails. */
#define RUN_LIMIT_S 60

/* Two tests per body: the sync backend and the default one. */
#define BOTH_IO(suite, name)                                                   \
	static void name##_body(const char *const *env, const char *io);       \
	Test(suite, name##_sync)                                               \
	{                                                                      \
		name##_body(sync_env, "sync");                                 \
	}                                                                      \
	Test(suite, name##_default_io)                                         \
	{                                                                      \
		name##_body(NULL, "default");                                  \
	}                                                                      \
	static void name##_body(const char *const *env, const char *io)

/* ---- helpers ------------------------------------------------------------- */

struct text {
	char *p;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n + 1 > t->cap) {
		size_t c = t->cap ? t->cap : 4096;
		while (c < t->len + n + 1)
			c *= 2;
		t->p = realloc(t->p, c);
		t->cap = c;
	}
	memcpy(t->p + t->len, s, n);
	t->len += n;
	t->p[t->len] = '\0';
}

static void text_printf(struct text *t, const char *fmt, ...)
{
	char *s;
	va_list ap;

	va_start(ap, fmt);
	int n = vasprintf(&s, fmt, ap);
	va_end(ap);
	cr_assert(n >= 0);
	text_add(t, s, (size_t)n);
	free(s);
}

static char *join(const char *a, const char *b)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", a, b) > 0);
	return p;
}

static void put(const char *dir, const char *name, const char *data, size_t len)
{
	free(e2e_write(dir, name, data, len));
}

static void put_str(const char *dir, const char *name, const char *s)
{
	put(dir, name, s, strlen(s));
}

static void run_flow(struct e2e_result *r, const char *cwd,
		     const char *const *env, const char *flow, ...)
{
	const char *argv[16] = {"run", flow, "--quiet"};
	int n = 3;
	va_list ap;

	va_start(ap, flow);
	for (const char *a; n < 15 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	e2e_run_timed(r, cwd, env, NULL, argv, RUN_LIMIT_S);
}

static void assert_ok(const struct e2e_result *r, const char *io)
{
	cr_assert_eq(r->exit_code, 0, "[%s] exit %d%s, stderr:\n%s", io,
		     r->exit_code,
		     r->exit_code == 137 ? " (killed: hung?)" : "", r->err);
}

static void assert_same(const char *got, size_t got_len, const char *want,
			size_t want_len, const char *what, const char *io)
{
	size_t i = 0;

	while (i < got_len && i < want_len && got[i] == want[i])
		i++;
	if (i == got_len && i == want_len)
		return;
	size_t from = i > 60 ? i - 60 : 0;
	cr_expect_fail("[%s] %s: %zu bytes, expected %zu; first difference at "
		       "byte %zu:\n  got:  \"%.*s\"\n  want: \"%.*s\"",
		       io, what, got_len, want_len, i,
		       (int)((got_len - from) < 140 ? got_len - from : 140),
		       got + from,
		       (int)((want_len - from) < 140 ? want_len - from : 140),
		       want + from);
}

static void assert_out(const char *dir, const char *sub, const char *want,
		       size_t want_len, const char *io)
{
	size_t len;
	char *p = join(dir, sub);
	char *got = e2e_read_dir(p, NULL, &len);

	assert_same(got, len, want, want_len, sub, io);
	free(got);
	free(p);
}

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

static uint64_t lcg(uint64_t *s)
{
	*s = *s * 6364136223846793005ull + 1442695040888963407ull;
	return *s >> 33;
}

/* n JSON lines of varied length, deterministic for a seed. */
static void gen_jsonl(struct text *t, int n, uint64_t seed)
{
	for (int i = 0; i < n; i++) {
		text_printf(t,
			    "{\"id\":%d,\"user\":\"u%llu\",\"v\":%llu.%02llu,"
			    "\"pad\":\"",
			    i, (unsigned long long)(lcg(&seed) % 1000),
			    (unsigned long long)(lcg(&seed) % 100000),
			    (unsigned long long)(lcg(&seed) % 100));
		size_t k = lcg(&seed) % 200;
		for (size_t j = 0; j < k; j++)
			text_add(t,
				 &"abcdefghijklmnopqrstuvwxyz"[lcg(&seed) % 26],
				 1);
		text_add(t, "\"}\n", 3);
	}
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

/* After "key" in p: skips blanks and ':' and blanks. */
static const char *after_key(const char *p, const char *key)
{
	char k[64];

	snprintf(k, sizeof(k), "\"%s\"", key);
	p = strstr(p, k);
	if (!p)
		return NULL;
	p += strlen(k);
	while (*p == ' ' || *p == '\n' || *p == '\t' || *p == ':')
		p++;
	return p;
}

static const char *json_str(const char *p, const char *key, char *out,
			    size_t len)
{
	p = after_key(p, key);
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

	p = after_key(p, key);
	if (!p)
		return NULL;
	*out = strtoull(p, &end, 10);
	return end == p ? NULL : end;
}

/* Reads dir/_manifest.json; false when absent. */
static bool manifest_read(const char *dir, struct manifest *m)
{
	char *path = join(dir, "_manifest.json");
	char *s = e2e_read(path, NULL);

	free(path);
	memset(m, 0, sizeof(*m));
	if (!s)
		return false;
	cr_assert(json_str(s, "flow", m->flow, sizeof(m->flow)), "%s", s);
	cr_assert(json_str(s, "stage", m->stage, sizeof(m->stage)), "%s", s);
	cr_assert(json_str(s, "run_id", m->run_id, sizeof(m->run_id)), "%s", s);
	const char *p = after_key(s, "files");
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

/* XXH64, seed 0 (one shot), written from the specification. */
static const uint64_t X1 = 0x9E3779B185EBCA87ull, X2 = 0xC2B2AE3D27D4EB4Full,
		      X3 = 0x165667B19E3779F9ull, X4 = 0x85EBCA77C2B2AE63ull,
		      X5 = 0x27D4EB2F165667C5ull;

static uint64_t rol(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static uint64_t rd64(const unsigned char *p)
{
	uint64_t v = 0;
	for (int i = 7; i >= 0; i--)
		v = (v << 8) | p[i];
	return v;
}

static uint64_t xround(uint64_t acc, uint64_t in)
{
	return rol(acc + in * X2, 31) * X1;
}

static uint64_t xxh64(const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;
	uint64_t h;

	if (len >= 32) {
		uint64_t v[4] = {X1 + X2, X2, 0, -X1};
		for (; end - p >= 32; p += 32)
			for (int i = 0; i < 4; i++)
				v[i] = xround(v[i], rd64(p + 8 * i));
		h = rol(v[0], 1) + rol(v[1], 7) + rol(v[2], 12) + rol(v[3], 18);
		for (int i = 0; i < 4; i++)
			h = (h ^ xround(0, v[i])) * X1 + X4;
	} else {
		h = X5;
	}
	h += len;
	for (; end - p >= 8; p += 8)
		h = rol(h ^ xround(0, rd64(p)), 27) * X1 + X4;
	if (end - p >= 4) {
		uint64_t w = (uint64_t)p[0] | (uint64_t)p[1] << 8 |
			     (uint64_t)p[2] << 16 | (uint64_t)p[3] << 24;
		h = rol(h ^ w * X1, 23) * X2 + X3;
		p += 4;
	}
	for (; p < end; p++)
		h = rol(h ^ *p * X5, 11) * X1;
	h ^= h >> 33;
	h *= X2;
	h ^= h >> 29;
	h *= X3;
	return h ^ (h >> 32);
}

Test(staging, xxh64_reference_values)
{
	cr_assert_eq(xxh64("", 0), 0xEF46DB3751D8E999ull);
	cr_assert_eq(xxh64("abc", 3), 0x44BC2CF5AD770999ull);
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
		char *path = join(dir, f->name);
		size_t raw_len, len;
		char *raw = e2e_read(path, &raw_len);
		char *t = e2e_read_text(path, &len);
		cr_assert(raw && t, "[%s] cannot read %s", io, path);
		cr_expect_eq(f->bytes, raw_len,
			     "[%s] %s: manifest says %llu "
			     "bytes, file has %zu",
			     io, f->name, (unsigned long long)f->bytes,
			     raw_len);
		cr_expect_eq(f->xxh64, xxh64(raw, raw_len),
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
BOTH_IO(staging, zstd_independent_frames)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};

	gen_jsonl(&in, 8000, 1);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: frames\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 16K}\n"
		"  - {id: ord, type: file_writer, inputs: [src], dir: ord, "
		"ordered: true, level: 3}\n"
		"  - {id: any, type: file_writer, inputs: [src], dir: any, "
		"frame_size: 4096}\n");
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);

	static const char *const subs[] = {"ord", "any"};
	for (int s = 0; s < 2; s++) {
		char *sub = join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		struct text all = {0};
		size_t frames = 0;
		cr_assert_eq(n, 1, "[%s] %s: %zu files", io, subs[s], n);
		cr_expect(strstr(names[0], ".jsonl.zst"), "[%s] %s", io,
			  names[0]);
		char *path = join(sub, names[0]);
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
			text_add(&all, buf, k);
			free(buf);
			off += fs;
		}
		cr_expect_gt(frames, 10, "[%s] %s: only %zu frames", io,
			     subs[s], frames);
		if (s == 0) {
			assert_same(all.p, all.len, in.p, in.len, subs[s], io);
		} else { /* unordered: same records */
			e2e_sort_lines(all.p, all.len);
			struct text want = {0};
			text_add(&want, in.p, in.len);
			e2e_sort_lines(want.p, want.len);
			assert_same(all.p, all.len, want.p, want.len, subs[s],
				    io);
			free(want.p);
		}
		free(all.p);
		free(z);
		free(path);
		free_list(names, n);
		free(sub);
	}
	e2e_result_free(&r);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- ordered output ------------------------------------------------------ */

static char *file_bytes(const char *dir, const char *name, size_t *len)
{
	char *p = join(dir, name);
	char *s = e2e_read(p, len);

	free(p);
	return s;
}

/* ordered: the same files, byte for byte, with 1 or 2 workers; a plain
 * passthrough equals its input. */
BOTH_IO(staging, ordered_output_identical_across_workers)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};
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

	gen_jsonl(&in, 10000, 2);
	put(dir, "w1/in.jsonl", in.p, in.len);
	put(dir, "w2/in.jsonl", in.p, in.len);
	put_str(dir, "w1/flow.yaml", flow);
	put_str(dir, "w2/flow.yaml", flow);
	char *w1 = join(dir, "w1"), *w2 = join(dir, "w2");
	struct e2e_result r;
	run_flow(&r, w1, env, "flow.yaml", "--workers", "1", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	run_flow(&r, w2, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);

	/* passthrough, no compression: the input itself */
	char *p1 = join(w1, "plain");
	char **names;
	size_t n = list_files(p1, &names);
	cr_assert_eq(n, 1, "[%s] plain: %zu files", io, n);
	size_t len;
	char *s = file_bytes(p1, names[0], &len);
	assert_same(s, len, in.p, in.len, "plain", io);
	free(s);
	free_list(names, n);
	free(p1);

	static const char *const subs[] = {"plain", "zst", "roll"};
	for (int k = 0; k < 3; k++) {
		char *a = join(w1, subs[k]), *b = join(w2, subs[k]);
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
			assert_same(db, lb, da, la, na[i], io);
			free(da);
			free(db);
		}
		assert_out(w2, subs[k], in.p, in.len, io);
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
BOTH_IO(staging, roll_by_records)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};

	gen_jsonl(&in, 10500, 3);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: rollr\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 4096}\n"
		"  - {id: out, type: file_writer, inputs: [src], dir: out, "
		"ordered: true, max_file_records: 1000}\n"
		"  - {id: any, type: file_writer, inputs: [src], dir: any, "
		"max_file_records: 1000}\n");
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);

	static const char *const subs[] = {"out", "any"};
	for (int s = 0; s < 2; s++) {
		char *sub = join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		cr_assert_geq(n, 11, "[%s] %s: %zu files", io, subs[s], n);
		struct text all = {0};
		for (size_t i = 0; i < n; i++) {
			char want[64];
			snprintf(want, sizeof(want), "rollr-%s-%06zu.jsonl.zst",
				 subs[s], i);
			cr_expect_str_eq(names[i], want, "[%s]", io);
			char *path = join(sub, names[i]);
			size_t len;
			char *t = e2e_read_text(path, &len);
			size_t lines = e2e_count_lines(t, len);
			cr_expect(lines >= 1 && lines <= 1000,
				  "[%s] %s holds %zu records", io, names[i],
				  lines);
			text_add(&all, t, len);
			free(t);
			free(path);
		}
		struct manifest m;
		uint64_t total = check_manifest(sub, "rollr", subs[s], &m, io);
		cr_expect_eq(total, 10500, "[%s]", io);
		if (s == 0) {
			assert_same(all.p, all.len, in.p, in.len, subs[s], io);
		} else {
			struct text want = {0};
			text_add(&want, in.p, in.len);
			e2e_sort_lines(want.p, want.len);
			e2e_sort_lines(all.p, all.len);
			assert_same(all.p, all.len, want.p, want.len, subs[s],
				    io);
			free(want.p);
		}
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
BOTH_IO(staging, roll_by_bytes)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};

	gen_jsonl(&in, 3000, 4);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: rollb\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 4096}\n"
		"  - {id: plain, type: file_writer, inputs: [src], dir: plain, "
		"ordered: true, compression: none, max_file_bytes: 20000}\n"
		"  - {id: zst, type: file_writer, inputs: [src], dir: zst, "
		"ordered: true, max_file_bytes: 8K}\n");
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);

	static const char *const subs[] = {"plain", "zst"};
	static const size_t limit[] = {20000, 8192};
	for (int s = 0; s < 2; s++) {
		char *sub = join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		cr_expect_gt(n, 5, "[%s] %s: %zu files", io, subs[s], n);
		for (size_t i = 0; i < n; i++) {
			struct stat st;
			char *path = join(sub, names[i]);
			cr_assert_eq(stat(path, &st), 0);
			cr_expect(st.st_size > 0 &&
				      (size_t)st.st_size <= limit[s],
				  "[%s] %s is %lld bytes (limit %zu)", io,
				  names[i], (long long)st.st_size, limit[s]);
			free(path);
		}
		assert_out(dir, subs[s], in.p, in.len, io);
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

BOTH_IO(staging, name_template)
{
	char *dir = e2e_tmpdir();

	put_str(dir, "in.jsonl", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
	struct e2e_result r;
	char **names;
	size_t n;

	put_str(dir, "flow2.yaml",
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
	run_flow(&r, dir, env, "flow2.yaml", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	static const char *const want[][3] = {
	    {"o1", "x_tpl2_j.000000.jsonl.zst", "x_tpl2_j.000001.jsonl.zst"},
	    {"o2", "c-000000-tpl2.csv", NULL},
	    {"o3", "tpl2-p-000000.jsonl", NULL},
	};
	for (int k = 0; k < 3; k++) {
		char *sub = join(dir, want[k][0]);
		n = list_files(sub, &names);
		cr_expect_eq(n, want[k][2] ? 2u : 1u, "[%s] %s: %zu files", io,
			     want[k][0], n);
		for (size_t i = 0; i < n && i < 2 && want[k][i + 1]; i++)
			cr_expect_str_eq(names[i], want[k][i + 1], "[%s]", io);
		free_list(names, n);
		free(sub);
	}
	assert_out(dir, "o1", "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", 24, io);
	assert_out(dir, "o2", "a\n1\n2\n3\n", 8, io);

	/* a template without {seq} is refused before anything is written */
	put_str(dir, "flow3.yaml",
		"name: tpl3\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl}\n"
		"  - {id: j, type: file_writer, inputs: [src], dir: o4, "
		"name: 'fixed.{ext}'}\n");
	run_flow(&r, dir, env, "flow3.yaml", NULL);
	cr_expect(r.exit_code == 1 || r.exit_code == 2, "[%s] exit %d", io,
		  r.exit_code);
	cr_expect(strstr(r.err, "{seq}"), "[%s] %s", io, r.err);
	char *o4 = join(dir, "o4");
	cr_expect_eq(e2e_count_files(o4, NULL, true), -1, "[%s] o4 was created",
		     io);
	free(o4);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* CSV output: one header at the top of every rolled file, values quoted
 * where needed, records in order across files. */
BOTH_IO(staging, csv_header_per_file)
{
	char *dir = e2e_tmpdir();
	struct text in = {0}, rows = {0};

	for (int i = 0; i < 350; i++) {
		text_printf(&in,
			    "{\"id\":%d,\"name\":\"n,%d\",\"q\":\"say "
			    "\\\"%d\\\"\",\"v\":%d.5}\n",
			    i, i, i, i);
		text_printf(&rows, "%d,\"n,%d\",\"say \"\"%d\"\"\",%d.5\n", i,
			    i, i, i);
	}
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: csvout\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 4096}\n"
		"  - {id: plain, type: file_writer, inputs: [src], dir: plain, "
		"format: csv, compression: none, ordered: true, "
		"max_file_records: 100}\n"
		"  - {id: zst, type: file_writer, inputs: [src], dir: zst, "
		"format: csv, ordered: true, max_file_records: 100}\n");
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);

	static const char *const subs[] = {"plain", "zst"};
	static const char header[] = "id,name,q,v\n";
	for (int s = 0; s < 2; s++) {
		char *sub = join(dir, subs[s]);
		char **names;
		size_t n = list_files(sub, &names);
		struct text all = {0};
		cr_assert_geq(n, 4, "[%s] %s: %zu files", io, subs[s], n);
		for (size_t i = 0; i < n; i++) {
			cr_expect(strstr(names[i], s ? ".csv.zst" : ".csv"),
				  "[%s] %s", io, names[i]);
			char *path = join(sub, names[i]);
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
			text_add(&all, t + sizeof(header) - 1,
				 len - (sizeof(header) - 1));
			free(t);
			free(path);
		}
		assert_same(all.p, all.len, rows.p, rows.len, subs[s], io);
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
BOTH_IO(staging, commit_modes_manifest_and_events)
{
	char *dir = e2e_tmpdir();
	struct text in = {0}, yaml = {0};

	gen_jsonl(&in, 2500, 5);
	put(dir, "in.jsonl", in.p, in.len);
	text_printf(
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
	put_str(dir, "flow.yaml", yaml.p);
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);

	char *logp = join(dir, "events.log");
	size_t log_len;
	char *log = e2e_read(logp, &log_len);
	cr_assert(log, "[%s] no events.log", io);
	static const char *const subs[] = {"byrun", "byfile"};
	size_t events = 0;
	for (int s = 0; s < 2; s++) {
		char *sub = join(dir, subs[s]);
		struct manifest m;
		cr_expect_eq(check_manifest(sub, "events", subs[s], &m, io),
			     2500, "[%s]", io);
		cr_expect_geq(m.n, 5, "[%s] %s: %zu files", io, subs[s], m.n);
		assert_out(dir, subs[s], in.p, in.len, io);
		/* one event per file, naming a path that is the file */
		for (size_t i = 0; i < m.n; i++) {
			char *want = join(sub, m.f[i].name);
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
							  : join(dir, path);
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
		char *p = join(dir, e->d_name);
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
		assert_same(now.data[i], now.len[i], before->data[k],
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

/* Same flow over the same input: skipped; --force: replaced with the same
 * content; changed input: refused unless --force. */
BOTH_IO(staging, exactly_once_reruns)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};

	gen_jsonl(&in, 3000, 6);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: once\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 4096}\n"
		"  - {id: out, type: file_writer, inputs: [src], dir: out, "
		"ordered: true, max_file_records: 1000}\n");
	char *out = join(dir, "out");
	struct e2e_result r;
	run_flow(&r, dir, env, "flow.yaml", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	struct manifest m1;
	cr_assert_eq(check_manifest(out, "once", "out", &m1, io), 3000);
	struct snap s1;
	snap_take(out, &s1);

	/* again: nothing to do */
	run_flow(&r, dir, env, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s] rerun exit %d:\n%s", io, r.exit_code,
		     r.err);
	cr_expect(strstr(r.err, "skipped"), "[%s] rerun says:\n%s", io, r.err);
	e2e_result_free(&r);
	snap_expect_same(out, &s1, true, "after a skipped rerun", io);
	assert_no_staging(dir, io);

	/* --json says so too */
	run_flow(&r, dir, env, "flow.yaml", "--json", NULL);
	cr_expect_eq(r.exit_code, 0, "[%s]", io);
	cr_expect(strstr(r.out, "\"status\":\"skipped\""), "[%s] %s", io,
		  r.out);
	e2e_result_free(&r);

	/* --force: same names and content, manifest written anew */
	run_flow(&r, dir, env, "flow.yaml", "--force", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	snap_expect_same(out, &s1, false, "after --force", io);
	struct manifest m2;
	cr_expect_eq(check_manifest(out, "once", "out", &m2, io), 3000);
	cr_expect_str_eq(m2.run_id, m1.run_id, "[%s]", io);
	struct stat mst;
	size_t k;
	char *mp = join(out, "_manifest.json");
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
	struct text in2 = {0};
	text_add(&in2, in.p, in.len);
	text_add(&in2, extra, sizeof(extra) - 1);
	put(dir, "in.jsonl", in2.p, in2.len);
	struct snap s2;
	snap_take(out, &s2);
	run_flow(&r, dir, env, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] changed input: exit %d", io,
		     r.exit_code);
	cr_expect(strstr(r.err, "another run") && strstr(r.err, "--force"),
		  "[%s] changed input says:\n%s", io, r.err);
	e2e_result_free(&r);
	snap_expect_same(out, &s2, true, "after a refused run", io);
	assert_no_staging(dir, io);

	run_flow(&r, dir, env, "flow.yaml", "--force", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	struct manifest m3;
	cr_expect_eq(check_manifest(out, "once", "out", &m3, io), 3001);
	cr_expect_str_neq(m3.run_id, m1.run_id, "[%s]", io);
	assert_out(dir, "out", in2.p, in2.len, io);

	/* fewer files than before: --force removes the stale ones */
	size_t half = (size_t)(strstr(in.p, "{\"id\":1500,") - in.p);
	put(dir, "in.jsonl", in.p, half);
	run_flow(&r, dir, env, "flow.yaml", "--force", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	struct manifest m4;
	cr_expect_eq(check_manifest(out, "once", "out", &m4, io), 1500);
	cr_expect_eq(m4.n, 2, "[%s] %zu files", io, m4.n);
	assert_out(dir, "out", in.p, half, io);
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

/* ---- injected write failures --------------------------------------------- */

static void fault_case(const char *const *env, const char *io,
		       const char *fault, const char *message)
{
	char *dir = e2e_tmpdir();
	struct text in = {0};
	const char *fenv[3] = {fault, NULL, NULL};

	if (env)
		fenv[1] = env[0];
	gen_jsonl(&in, 4000, 7);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
		"name: fault\n"
		"stages:\n"
		"  - {id: src, type: file_reader, path: in.jsonl, "
		"chunk_size: 4096}\n"
		"  - {id: out, type: file_writer, inputs: [src], dir: out, "
		"ordered: true, max_file_records: 1000}\n");
	struct e2e_result r;
	run_flow(&r, dir, fenv, "flow.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] %s: exit %d", io, fault,
		     r.exit_code);
	cr_expect(strstr(r.err, message), "[%s] %s: stderr:\n%s", io, fault,
		  r.err);
	cr_expect(strstr(r.err, "fault-out-0000"),
		  "[%s] %s: the message should name the file:\n%s", io, fault,
		  r.err);
	char *out = join(dir, "out");
	cr_expect_leq(e2e_count_files(out, NULL, false), 0,
		      "[%s] %s: files visible after a failed run", io, fault);
	e2e_result_free(&r);

	/* the next run succeeds and cleans up */
	run_flow(&r, dir, env, "flow.yaml", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	struct manifest m;
	cr_expect_eq(check_manifest(out, "fault", "out", &m, io), 4000);
	assert_out(dir, "out", in.p, in.len, io);
	assert_no_staging(dir, io);
	free(out);
	free(in.p);
	e2e_rmrf(dir);
	free(dir);
}

BOTH_IO(staging, fault_enospc_leaves_nothing)
{
	fault_case(env, io, "SPATE_FAULT_WRITE=ENOSPC:3",
		   "No space left on device");
}

BOTH_IO(staging, fault_eio_leaves_nothing)
{
	fault_case(env, io, "SPATE_FAULT_WRITE=EIO:1", "Input/output error");
}

/* A failed --force rerun leaves the output an earlier run committed as it
 * was, also in the directory of a writer that had nothing to fail on. */
BOTH_IO(staging, fault_keeps_committed_output)
{
	char *dir = e2e_tmpdir();
	struct text in = {0}, in2 = {0};
	const char *fenv[3] = {"SPATE_FAULT_WRITE=ENOSPC:3", NULL, NULL};

	if (env)
		fenv[1] = env[0];
	for (int i = 0; i < 4000; i++)
		text_printf(&in, "{\"i\":%d,\"to\":\"%s\",\"pad\":\"%0*d\"}\n",
			    i, i % 3 ? "b" : "a", 40 + i % 50, i);
	/* the second input has records for b only */
	for (int i = 0; i < 4000; i++)
		text_printf(&in2, "{\"i\":%d,\"to\":\"b\",\"pad\":\"%0*d\"}\n",
			    i, 30 + i % 70, i);
	put(dir, "in.jsonl", in.p, in.len);
	put_str(dir, "flow.yaml",
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
	run_flow(&r, dir, env, "flow.yaml", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	char *a = join(dir, "out/a"), *b = join(dir, "out/b");
	struct manifest m;
	cr_assert_eq(check_manifest(a, "keep", "a", &m, io), 1334, "[%s]", io);
	cr_assert_eq(check_manifest(b, "keep", "b", &m, io), 2666, "[%s]", io);
	struct snap sa, sb;
	snap_take(a, &sa);
	snap_take(b, &sb);

	/* new input, --force, and the disk fills up under b */
	put(dir, "in.jsonl", in2.p, in2.len);
	run_flow(&r, dir, fenv, "flow.yaml", "--force", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] exit %d:\n%s", io, r.exit_code,
		     r.err);
	cr_expect(strstr(r.err, "No space left on device") &&
		      strstr(r.err, "keep-b-0000"),
		  "[%s] %s", io, r.err);
	e2e_result_free(&r);
	snap_expect_same(a, &sa, true, "out/a after a failed --force", io);
	snap_expect_same(b, &sb, true, "out/b after a failed --force", io);

	/* without the fault: replaced (a now empty, b all records) */
	run_flow(&r, dir, env, "flow.yaml", "--force", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	cr_expect_eq(check_manifest(a, "keep", "a", &m, io), 0, "[%s]", io);
	cr_expect_eq(check_manifest(b, "keep", "b", &m, io), 4000, "[%s]", io);
	assert_out(dir, "out/b", in2.p, in2.len, io);
	char *outd = join(dir, "out");
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
BOTH_IO(staging, ordered_many_small_batches)
{
	char *dir = e2e_tmpdir();
	static const char flow[] =
	    "name: small\n"
	    "stages:\n"
	    "  - {id: gen, type: dev_data_generator, records: 60000, "
	    "seed: 5, batch_size: 20}\n"
	    "  - {id: out, type: file_writer, inputs: [gen], dir: out, "
	    "ordered: true}\n";

	put_str(dir, "w1/flow.yaml", flow);
	put_str(dir, "w2/flow.yaml", flow);
	char *w1 = join(dir, "w1"), *w2 = join(dir, "w2");
	struct e2e_result r;
	run_flow(&r, w1, env, "flow.yaml", "--workers", "1", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	run_flow(&r, w2, env, "flow.yaml", "--workers", "2", NULL);
	assert_ok(&r, io);
	e2e_result_free(&r);
	char *o1 = join(w1, "out"), *o2 = join(w2, "out");
	size_t l1, l2;
	char *t1 = e2e_read_dir(o1, NULL, &l1),
	     *t2 = e2e_read_dir(o2, NULL, &l2);
	cr_expect_eq(e2e_count_lines(t1, l1), 60000, "[%s]", io);
	assert_same(t2, l2, t1, l1, "out", io);
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
