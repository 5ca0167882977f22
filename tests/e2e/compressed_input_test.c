/*
 * End-to-end tests of compressed and binary input to file_reader: gzip
 * (several members, as `cat a.gz b.gz` makes) and lz4 frames are found by
 * their magic number whatever the file's name and read as text; a
 * truncated or corrupt file fails the run naming the file and the
 * compressed offset; a file with a NUL byte in its first block is refused
 * as not text instead of yielding an error per line.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

/* in/a.jsonl (2,000 records) and in/b.jsonl (3 records). */
static void make_inputs(const char *dir, struct e2e_text *want)
{
	struct e2e_text a = {0};

	for (int i = 0; i < 2000; i++)
		e2e_text_printf(&a, "{\"id\":%d,\"s\":\"row %d\"}\n", i, i);
	e2e_put(dir, "in/a.jsonl", a.p, a.len);
	e2e_put_str(dir, "in/b.jsonl", "{\"b\":1}\n{\"b\":2}\n{\"b\":3}\n");
	e2e_text_add(want, a.p, a.len);
	e2e_text_add(want, "{\"b\":1}\n{\"b\":2}\n{\"b\":3}\n", 24);
	free(a.p);
}

static void run_one(const char *dir, const char *const *env, const char *io,
		    const char *path, struct e2e_result *r)
{
	char *yaml;

	cr_assert(asprintf(&yaml,
			   "name: z\n"
			   "stages:\n"
			   "  - {id: src, type: file_reader, path: %s}\n"
			   "  - {id: out, type: file_writer, inputs: [src], "
			   "dir: out, compression: none, ordered: true}\n",
			   path) > 0);
	e2e_put_str(dir, "flow.yaml", yaml);
	free(yaml);
	char *out = e2e_join(dir, "out");
	e2e_rmrf(out);
	free(out);
	e2e_run_flow(r, dir, env, "flow.yaml", "--force", NULL);
	(void)io;
}

E2E_BOTH_IO(compressed_input, gzip_multi_member_and_lz4_by_magic)
{
	char *dir = e2e_tmpdir();
	struct e2e_text want = {0};
	struct e2e_result r;

	make_inputs(dir, &want);
	/* two gzip members in one file, named .log to show the name does
	 * not matter; lz4 frames likewise */
	e2e_sh(dir,
	       "gzip -c in/a.jsonl > a.gz && gzip -c in/b.jsonl > b.gz && "
	       "cat a.gz b.gz > both.log && "
	       "lz4 -q -c in/a.jsonl > a.lz4 && lz4 -q -c in/b.jsonl > b.lz4 "
	       "&& cat a.lz4 b.lz4 > both.dat");
	const char *const paths[] = {"both.log", "both.dat"};
	for (int i = 0; i < 2; i++) {
		run_one(dir, env, io, paths[i], &r);
		e2e_assert_ok(&r, io);
		e2e_assert_out_n(dir, "out", want.p, want.len, io);
		e2e_result_free(&r);
	}
	free(want.p);
	e2e_rmrf(dir);
	free(dir);
}

E2E_BOTH_IO(compressed_input, truncated_or_corrupt_is_an_error_with_offset)
{
	char *dir = e2e_tmpdir();
	struct e2e_text want = {0};
	struct e2e_result r;

	make_inputs(dir, &want);
	e2e_sh(dir, "gzip -c in/a.jsonl > a.gz && "
		    "head -c $(( $(stat -c %s a.gz) - 9 )) a.gz > cut.gz && "
		    "lz4 -q -c in/a.jsonl > a.lz4 && "
		    "head -c $(( $(stat -c %s a.lz4) - 9 )) a.lz4 > cut.lz4 && "
		    "cp a.gz bad.gz && printf '\\377\\377\\377\\377' | "
		    "dd of=bad.gz bs=1 seek=200 conv=notrunc status=none");
	size_t gz_len = 0, lz_len = 0;
	char *p = e2e_join(dir, "cut.gz");
	free(e2e_read(p, &gz_len));
	free(p);
	p = e2e_join(dir, "cut.lz4");
	free(e2e_read(p, &lz_len));
	free(p);
	char want_gz[160], want_lz[160];
	snprintf(want_gz, sizeof(want_gz),
		 "cut.gz: truncated gzip data: the file ends inside a member "
		 "at compressed byte %zu", gz_len);
	snprintf(want_lz, sizeof(want_lz),
		 "cut.lz4: truncated lz4 data: the file ends inside a frame "
		 "at compressed byte %zu", lz_len);
	run_one(dir, env, io, "cut.gz", &r);
	cr_expect_eq(r.exit_code, 1, "[%s] exit %d", io, r.exit_code);
	cr_expect(strstr(r.err, want_gz), "[%s] want %s in:\n%s", io, want_gz,
		  r.err);
	e2e_result_free(&r);
	run_one(dir, env, io, "cut.lz4", &r);
	cr_expect_eq(r.exit_code, 1, "[%s] exit %d", io, r.exit_code);
	cr_expect(strstr(r.err, want_lz), "[%s] want %s in:\n%s", io, want_lz,
		  r.err);
	e2e_result_free(&r);
	run_one(dir, env, io, "bad.gz", &r);
	cr_expect_eq(r.exit_code, 1, "[%s] exit %d", io, r.exit_code);
	/* a bad symbol or distance, or the checksum, by where it lands */
	cr_expect(strstr(r.err, "bad.gz: corrupt gzip data") ||
		      strstr(r.err, "bad.gz: gzip checksum mismatch"),
		  "[%s] stderr:\n%s", io, r.err);
	cr_expect(strstr(r.err, " at compressed byte "), "[%s] stderr:\n%s",
		  io, r.err);
	e2e_result_free(&r);
	char *out = e2e_join(dir, "out");
	cr_expect(e2e_count_files(out, NULL, true) <= 0,
		  "[%s] a failed run left files", io);
	free(out);
	free(want.p);
	e2e_rmrf(dir);
	free(dir);
}

Test(compressed_input, binary_file_is_refused)
{
	char *dir = e2e_tmpdir();
	struct e2e_result r;
	char data[600];

	/* a PNG-like header: bytes, NULs, then text that looks like JSON */
	memset(data, 'x', sizeof(data));
	memcpy(data, "\x89PNG\r\n\x1a\n\0\0\0\rIHDR", 16);
	memcpy(data + 590, "{\"a\":1}\n", 8);
	e2e_put(dir, "img.jsonl", data, sizeof(data));
	run_one(dir, NULL, "default", "img.jsonl", &r);
	cr_expect_eq(r.exit_code, 1, "exit %d", r.exit_code);
	cr_expect(strstr(r.err, "img.jsonl: not text: a NUL byte at byte 8 "
				"of its first 4 KiB"),
		  "stderr:\n%s", r.err);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}
