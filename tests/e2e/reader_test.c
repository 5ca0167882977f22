/*
 * End-to-end tests of the file_reader origin: JSON lines and CSV inputs
 * (escapes, unicode, quoted newlines, CRLF, typed schemas, ignore_lines,
 * missing final newline), globs and lists resolved against the flow file's
 * folder, .zst input, inputs of many chunks and records larger than a
 * chunk (the default sizes too), record errors routed to the error stage,
 * and bad paths refused before any output exists.  Every test runs twice:
 * on the plain-syscall path (SPATE_IO=sync) and on the default one, and
 * every output record is compared.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <dirent.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <zstd.h>

#include "support/e2e.h"

/* Nothing in dir but the names listed (NULL-terminated), hidden entries
 * included. */
static void assert_only(const char *dir, const char *const *names,
			const char *io)
{
	DIR *d = opendir(dir);

	cr_assert(d, "[%s] cannot open %s", io, dir);
	for (struct dirent *e; (e = readdir(d));) {
		if (!strcmp(e->d_name, ".") || !strcmp(e->d_name, ".."))
			continue;
		bool listed = false;
		for (size_t i = 0; names[i]; i++)
			listed |= !strcmp(names[i], e->d_name);
		cr_expect(listed, "[%s] unexpected entry %s in %s", io,
			  e->d_name, dir);
	}
	closedir(d);
}

/* ---- JSON lines ---------------------------------------------------------- */

/* Escapes, unicode, nested values and number spellings survive a flow
 * that removes another field byte for byte; the last line has no
 * newline. */
E2E_BOTH_IO(reader, jsonl_values_byte_identical)
{
	char *dir = e2e_tmpdir();
	static const char in[] =
	    "{\"id\":1,\"s\":\"q\\\"uote \\\\ back \\u00e9 \\ud83d\\ude00 "
	    "tab\\t/\\/\",\"drop\":\"x\",\"n\":1e3,\"m\":12345.50,"
	    "\"o\":{\"x\":[1,{\"y\":\"z\"}],\"e\":{}},"
	    "\"a\":[1,2.5,\"x\",null,true,false]}\n"
	    "{\"id\":2,\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\xc3\xb1\","
	    "\"drop\":[1,2],\"neg\":-0.0,\"exp\":-1.5E-7,\"z\":0}\n"
	    "{\"id\":3,\"k\\\"ey\":\"v\",\"drop\":null,"
	    "\"\xc3\xb1\":{\"deep\":{\"deeper\":[[],[{}]]}}}\n"
	    "{\"id\":4,\"drop\":{\"nested\":\"gone\"},\"big\":"
	    "123456789012345678901234567890,\"m\":12345.50}\n"
	    "{\"id\":5,\"drop\":1,\"last\":\"no newline\"}";
	static const char want[] =
	    "{\"id\":1,\"s\":\"q\\\"uote \\\\ back \\u00e9 \\ud83d\\ude00 "
	    "tab\\t/\\/\",\"n\":1e3,\"m\":12345.50,"
	    "\"o\":{\"x\":[1,{\"y\":\"z\"}],\"e\":{}},"
	    "\"a\":[1,2.5,\"x\",null,true,false]}\n"
	    "{\"id\":2,\"u\":\"\xc3\xa9\xf0\x9f\x98\x80\xc3\xb1\","
	    "\"neg\":-0.0,\"exp\":-1.5E-7,\"z\":0}\n"
	    "{\"id\":3,\"k\\\"ey\":\"v\","
	    "\"\xc3\xb1\":{\"deep\":{\"deeper\":[[],[{}]]}}}\n"
	    "{\"id\":4,\"big\":123456789012345678901234567890,"
	    "\"m\":12345.50}\n"
	    "{\"id\":5,\"last\":\"no newline\"}\n";

	e2e_put(dir, "in.jsonl", in, sizeof(in) - 1);
	e2e_put_str(dir, "flow.yaml",
		    "name: values\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, path: in.jsonl}\n"
		    "  - {id: rm, type: field_remover, inputs: [src], "
		    "fields: [/drop]}\n"
		    "  - {id: out, type: file_writer, inputs: [rm], dir: out, "
		    "ordered: true}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);
	e2e_assert_out(dir, "out", want, io);
	e2e_rmrf(dir);
	free(dir);
}

/* Lines that are not JSON objects are record errors: the good records go
 * on, the bad ones reach the error stage with file:line and raw text. */
E2E_BOTH_IO(reader, jsonl_malformed_lines_to_error)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.jsonl",
		    "{\"id\":1}\n"
		    "{\"id\":2,\n"
		    "{\"id\":3}\n"
		    "not json\n"
		    "{\"id\":5}\n"
		    "{\"id\":6} trailing\n"
		    "{\"id\":7}");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: bad\n"
	    "error_stage: errs\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.jsonl}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true}\n"
	    "  - {id: errs, type: file_writer, dir: errs, ordered: true}\n");
	struct e2e_result r;
	e2e_run_flow(&r, dir, env, "flow.yaml", "--json", NULL);
	e2e_assert_ok(&r, io);
	e2e_assert_out(dir, "out",
		       "{\"id\":1}\n{\"id\":3}\n{\"id\":5}\n{\"id\":7}\n", io);
	cr_expect(strstr(r.err, "in.jsonl:2"), "[%s] stderr:\n%s", io, r.err);
	cr_expect(strstr(r.out, "\"errors\":3"), "[%s] status:\n%s", io, r.out);

	size_t len;
	char *errs = e2e_read_out(dir, "errs", &len);
	cr_assert_eq(e2e_count_lines(errs, len), 3, "[%s] errors:\n%s", io,
		     errs);
	static const char *const want[][2] = {
	    {"\"source\":\"in.jsonl:2\"", "\"raw\":\"{\\\"id\\\":2,\""},
	    {"\"source\":\"in.jsonl:4\"", "\"raw\":\"not json\""},
	    {"\"source\":\"in.jsonl:6\"",
	     "\"raw\":\"{\\\"id\\\":6} trailing\""},
	};
	for (size_t i = 0; i < 3; i++) {
		char *line = strstr(errs, want[i][0]);
		cr_assert(line, "[%s] no error record with %s in:\n%s", io,
			  want[i][0], errs);
		while (line > errs && line[-1] != '\n')
			line--;
		char *nl = strchr(line, '\n');
		*nl = '\0';
		cr_expect(strstr(line, want[i][1]), "[%s] %s", io, line);
		cr_expect(strstr(line, "\"stage\":\"src\""), "[%s] %s", io,
			  line);
		cr_expect(strstr(line, "\"reason\":\""), "[%s] %s", io, line);
		*nl = '\n';
	}
	free(errs);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- CSV ----------------------------------------------------------------- */

/* Quoted newlines, CRLF, doubled quotes, quoted delimiters, unicode and a
 * last line without newline, read into JSON records. */
E2E_BOTH_IO(reader, csv_quotes_crlf_unicode)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.csv",
		    "a,b,c\r\n"
		    "1,\"x\r\ny\",z\r\n"
		    "2,\"q\"\"q\",\r\n"
		    "3,\xc3\xa9\xf0\x9f\x98\x80,\"k,l\"\r\n"
		    "4,\"multi\nline\nvalue\",\"c\"");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: csvq\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.csv, format: csv}\n"
	    "  - {id: rm, type: field_remover, inputs: [src], fields: [/c]}\n"
	    "  - {id: out, type: file_writer, inputs: [rm], dir: out, "
	    "ordered: true}\n"
	    "  - {id: same, type: file_writer, inputs: [src], dir: same, "
	    "ordered: true, format: csv, compression: none}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", NULL);
	e2e_assert_out(dir, "out",
		       "{\"a\":\"1\",\"b\":\"x\\r\\ny\"}\n"
		       "{\"a\":\"2\",\"b\":\"q\\\"q\"}\n"
		       "{\"a\":\"3\",\"b\":\"\xc3\xa9\xf0\x9f\x98\x80\"}\n"
		       "{\"a\":\"4\",\"b\":\"multi\\nline\\nvalue\"}\n",
		       io);
	/* CSV out: quoted only where needed, LF line ends */
	e2e_assert_out(dir, "same",
		       "a,b,c\n"
		       "1,\"x\r\ny\",z\n"
		       "2,\"q\"\"q\",\n"
		       "3,\xc3\xa9\xf0\x9f\x98\x80,\"k,l\"\n"
		       "4,\"multi\nline\nvalue\",c\n",
		       io);
	e2e_rmrf(dir);
	free(dir);
}

/* CSV records that no stage changed still come out as JSON lines, not as
 * their CSV source text. */
E2E_BOTH_IO(reader, csv_to_jsonl_unchanged_records)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.csv", "a,b\n1,x\n2,\"y,z\"\n");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: csvj\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: in.csv, format: csv}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", NULL);
	e2e_assert_out(
	    dir, "out",
	    "{\"a\":\"1\",\"b\":\"x\"}\n{\"a\":\"2\",\"b\":\"y,z\"}\n", io);
	e2e_rmrf(dir);
	free(dir);
}

/* A schema converts columns; a value that does not convert is a record
 * error naming column, line and value, never a silent null. */
E2E_BOTH_IO(reader, csv_schema_types_and_errors)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.csv",
		    "id,price,ok,ts,name\n"
		    "1,2.5,true,2024-01-02T03:04:05Z,a\n"
		    "2,x,false,2024-01-02,b\n"
		    "3,-0.25,false,2024-01-02,c\n"
		    "4,0.5,maybe,2024-01-02T00:00:00Z,d\n"
		    "5x,1.5,true,2024-01-02T00:00:00Z,e\n"
		    "6,1.5,true,not-a-date,f\n"
		    "7,1.5,true,2024-01-02T03:04:05+02:00,g\n");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: typed\n"
	    "error_stage: errs\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: file_reader\n"
	    "    path: in.csv\n"
	    "    format: csv\n"
	    "    schema: [{name: id, type: int}, {name: price, type: "
	    "double},\n"
	    "             {name: ok, type: bool}, {name: ts, type: "
	    "timestamp}]\n"
	    "  - {id: rm, type: field_remover, inputs: [src], "
	    "fields: [/name]}\n"
	    "  - {id: out, type: file_writer, inputs: [rm], dir: out, "
	    "ordered: true}\n"
	    "  - {id: errs, type: file_writer, dir: errs, ordered: true}\n");
	struct e2e_result r;
	e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
	e2e_assert_ok(&r, io);
	e2e_assert_out(dir, "out",
		       "{\"id\":1,\"price\":2.5,\"ok\":true,"
		       "\"ts\":\"2024-01-02T03:04:05Z\"}\n"
		       "{\"id\":3,\"price\":-0.25,\"ok\":false,"
		       "\"ts\":\"2024-01-02T00:00:00Z\"}\n"
		       "{\"id\":7,\"price\":1.5,\"ok\":true,"
		       "\"ts\":\"2024-01-02T01:04:05Z\"}\n",
		       io);
	/* the first error is logged with file, line, column and value */
	cr_expect(strstr(r.err, "in.csv:3") &&
		      strstr(r.err, "column \"price\"") &&
		      strstr(r.err, "\"x\""),
		  "[%s] stderr:\n%s", io, r.err);

	size_t len;
	char *errs = e2e_read_out(dir, "errs", &len);
	cr_assert_eq(e2e_count_lines(errs, len), 4, "[%s] errors:\n%s", io,
		     errs);
	static const char *const want[][3] = {
	    {"in.csv:3", "column \\\"price\\\"", "\\\"x\\\""},
	    {"in.csv:5", "column \\\"ok\\\"", "\\\"maybe\\\""},
	    {"in.csv:6", "column \\\"id\\\"", "\\\"5x\\\""},
	    {"in.csv:7", "column \\\"ts\\\"", "\\\"not-a-date\\\""},
	};
	for (size_t i = 0; i < 4; i++) {
		char src[64];
		snprintf(src, sizeof(src), "\"source\":\"%s\"", want[i][0]);
		char *line = strstr(errs, src);
		cr_assert(line, "[%s] no error record for %s:\n%s", io,
			  want[i][0], errs);
		while (line > errs && line[-1] != '\n')
			line--;
		char *nl = strchr(line, '\n');
		*nl = '\0';
		char *reason = strstr(line, "\"reason\":\"");
		cr_assert(reason, "[%s] %s", io, line);
		cr_expect(strstr(reason, want[i][1]) &&
			      strstr(reason, want[i][2]),
			  "[%s] reason should name %s and %s: %s", io,
			  want[i][1], want[i][2], line);
		*nl = '\n';
	}
	free(errs);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* ignore_lines skips lines before the header of every file. */
E2E_BOTH_IO(reader, csv_ignore_lines)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "a.csv",
		    "# exported by a tool, version 3\n"
		    "# columns: id, v\n"
		    "id,v\n"
		    "1,a\n"
		    "2,b\n");
	e2e_put_str(dir, "b.csv", "junk,junk,junk\n\nid,v\n3,c\n4,d");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: ign\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: '*.csv', format: csv, "
	    "ignore_lines: 2}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true, format: csv}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", NULL);
	e2e_assert_out(dir, "out", "id,v\n1,a\n2,b\n3,c\n4,d\n", io);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- paths --------------------------------------------------------------- */

/* A glob reads its files in sorted order, a list in the order given;
 * relative paths (input and output) resolve against the flow file's
 * folder whatever the working directory. */
E2E_BOTH_IO(reader, glob_list_relative_paths)
{
	char *dir = e2e_tmpdir();
	char *cwd = e2e_tmpdir();

	e2e_put_str(dir, "data/b.jsonl", "{\"f\":\"b1\"}\n{\"f\":\"b2\"}\n");
	e2e_put_str(dir, "data/a.jsonl", "{\"f\":\"a1\"}\n");
	e2e_put_str(dir, "data/c.jsonl", "{\"f\":\"c1\"}\n{\"f\":\"c2\"}");
	e2e_put_str(dir, "data/10.jsonl", "{\"f\":\"10\"}\n");
	e2e_put_str(dir, "data/skip.txt", "{\"f\":\"not matched\"}\n");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: paths\n"
	    "stages:\n"
	    "  - {id: g, type: file_reader, path: data/*.jsonl}\n"
	    "  - {id: l, type: file_reader, path: [data/c.jsonl, "
	    "data/a.jsonl]}\n"
	    "  - {id: outg, type: file_writer, inputs: [g], dir: out/g, "
	    "ordered: true}\n"
	    "  - {id: outl, type: file_writer, inputs: [l], dir: out/l, "
	    "ordered: true}\n");
	char *flow = e2e_join(dir, "flow.yaml");
	e2e_run_flow_ok(cwd, env, io, flow, "--workers", "2", NULL);
	e2e_assert_out(dir, "out/g",
		       "{\"f\":\"10\"}\n{\"f\":\"a1\"}\n{\"f\":\"b1\"}\n"
		       "{\"f\":\"b2\"}\n{\"f\":\"c1\"}\n{\"f\":\"c2\"}\n",
		       io);
	e2e_assert_out(dir, "out/l",
		       "{\"f\":\"c1\"}\n{\"f\":\"c2\"}\n{\"f\":\"a1\"}\n", io);
	/* nothing written where spate was started */
	cr_expect_eq(e2e_count_files(cwd, NULL, true), 0,
		     "[%s] files appeared in the working directory", io);
	free(flow);
	e2e_rmrf(cwd);
	e2e_rmrf(dir);
	free(cwd);
	free(dir);
}

/* Missing file, glob matching nothing, a directory: refused with a message
 * naming the path, before any output (or staging directory) exists. */
E2E_BOTH_IO(reader, bad_paths_refused_before_output)
{
	static const char *const cases[][2] = {
	    {"data/nope.jsonl", "data/nope.jsonl"},
	    {"data/*.jsonl", "data/*.jsonl"},
	    {"data", "data"},
	};
	for (size_t i = 0; i < 3; i++) {
		char *dir = e2e_tmpdir();
		char yaml[512];

		e2e_put_str(dir, "data/other.csv", "x\n1\n");
		snprintf(yaml, sizeof(yaml),
			 "name: badpath\n"
			 "stages:\n"
			 "  - {id: src, type: file_reader, path: '%s'}\n"
			 "  - {id: out, type: file_writer, inputs: [src], "
			 "dir: out}\n",
			 cases[i][0]);
		e2e_put_str(dir, "flow.yaml", yaml);
		struct e2e_result r;
		e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
		/* found by validation: an invalid flow */
		cr_expect(r.exit_code == 2,
			  "[%s] %s: exit %d", io, cases[i][0], r.exit_code);
		cr_expect(strstr(r.err, cases[i][1]),
			  "[%s] message should name %s:\n%s", io, cases[i][1],
			  r.err);
		static const char *const only[] = {"data", "flow.yaml", NULL};
		assert_only(dir, only, io);
		e2e_result_free(&r);
		e2e_rmrf(dir);
		free(dir);
	}
}

/* ---- compression --------------------------------------------------------- */

static void put_zstd(const char *dir, const char *name,
		     const char *const *parts, size_t nparts)
{
	struct e2e_text t = {0};

	for (size_t i = 0; i < nparts; i++) {
		size_t n = strlen(parts[i]);
		size_t cap = ZSTD_compressBound(n);
		char *z = malloc(cap);
		size_t k = ZSTD_compress(z, cap, parts[i], n, 3);
		cr_assert(!ZSTD_isError(k));
		e2e_text_add(&t, z, k);
		free(z);
	}
	e2e_put(dir, name, t.p, t.len);
	free(t.p);
}

/* .zst input is read as a stream (several frames too); `auto` detects it
 * by its magic number, whatever the name, and reads plain files as they
 * are; `zstd` forces it. */
E2E_BOTH_IO(reader, zstd_input)
{
	char *dir = e2e_tmpdir();
	struct e2e_text a = {0}, b1 = {0}, b2 = {0}, c = {0}, d = {0};

	for (int i = 0; i < 3000; i++) {
		e2e_text_printf(&a, "{\"f\":\"a\",\"i\":%d}\n", i);
		e2e_text_printf(i < 1500 ? &b1 : &b2,
				"{\"f\":\"b\",\"i\":%d}\n", i);
		e2e_text_printf(&c, "{\"f\":\"c\",\"i\":%d}\n", i);
		e2e_text_printf(&d, "{\"f\":\"d\",\"i\":%d}\n", i);
	}
	const char *pa[] = {a.p}, *pb[] = {b1.p, b2.p}, *pd[] = {d.p};
	put_zstd(dir, "data/a.jsonl.zst", pa, 1);
	put_zstd(dir, "data/b.jsonl.zst", pb, 2);
	e2e_put(dir, "data/c.jsonl", c.p, c.len);
	put_zstd(dir, "data/d.bin", pd, 1);
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: zin\n"
	    "stages:\n"
	    "  - {id: auto, type: file_reader, path: [data/a.jsonl.zst, "
	    "data/b.jsonl.zst, data/c.jsonl, data/d.bin], "
	    "compression: auto, chunk_size: 4096}\n"
	    "  - {id: forced, type: file_reader, path: data/b.jsonl.zst, "
	    "compression: zstd}\n"
	    "  - {id: outa, type: file_writer, inputs: [auto], dir: outa, "
	    "ordered: true}\n"
	    "  - {id: outf, type: file_writer, inputs: [forced], "
	    "dir: outf, ordered: true}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	struct e2e_text want = {0};
	e2e_text_add(&want, a.p, a.len);
	e2e_text_add(&want, b1.p, b1.len);
	e2e_text_add(&want, b2.p, b2.len);
	e2e_text_add(&want, c.p, c.len);
	e2e_text_add(&want, d.p, d.len);
	e2e_assert_out(dir, "outa", want.p, io);
	want.len = 0;
	e2e_text_add(&want, b1.p, b1.len);
	e2e_text_add(&want, b2.p, b2.len);
	e2e_assert_out(dir, "outf", want.p, io);

	/* a truncated .zst is an error naming the file */
	char *path = e2e_join(dir, "data/b.jsonl.zst");
	size_t n;
	char *z = e2e_read(path, &n);
	e2e_put(dir, "data/t.jsonl.zst", z, n - 7);
	e2e_put_str(
	    dir, "trunc.yaml",
	    "name: ztrunc\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: data/t.jsonl.zst, "
	    "compression: zstd}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: outt}\n");
	struct e2e_result r;
	e2e_run_flow(&r, dir, env, "trunc.yaml", NULL);
	cr_expect_eq(r.exit_code, 1, "[%s] truncated zstd: exit %d", io,
		     r.exit_code);
	cr_expect(strstr(r.err, "t.jsonl.zst"), "[%s] %s", io, r.err);
	char *outt = e2e_join(dir, "outt");
	cr_expect(e2e_count_files(outt, NULL, true) <= 0,
		  "[%s] failed run left files in outt", io);
	free(outt);
	e2e_result_free(&r);

	free(z);
	free(path);
	free(want.p);
	free(a.p);
	free(b1.p);
	free(b2.p);
	free(c.p);
	free(d.p);
	e2e_rmrf(dir);
	free(dir);
}

/* ---- many chunks --------------------------------------------------------- */

/* Runs flow (reading dir/name, which holds in, into dir/out) with two
 * workers: out must hold the input byte for byte. */
static void expect_passthrough(const char *const *env, const char *io,
			       const char *name, const struct e2e_text *in,
			       const char *flow)
{
	char *dir = e2e_tmpdir();

	e2e_put(dir, name, in->p, in->len);
	e2e_put_str(dir, "flow.yaml", flow);
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);
	e2e_assert_out(dir, "out", in->p, io);
	e2e_rmrf(dir);
	free(dir);
}

/* A few MB through 4 KiB chunks: records cross chunk boundaries, one
 * record is far larger than a chunk, and the output equals the input. */
E2E_BOTH_IO(reader, jsonl_many_chunks_and_huge_record)
{
	struct e2e_text in = {0};
	uint64_t seed = 7;

	for (int i = 0; i < 12000; i++) {
		e2e_text_printf(&in, "{\"i\":%d,\"s\":\"", i);
		size_t n = e2e_lcg(&seed) % 400;
		for (size_t k = 0; k < n; k++) {
			if (k % 29 == 3)
				e2e_text_add(&in, "\xc3\xa9\\\"", 4);
			else
				e2e_text_add(&in, &"abcdefgh"[k % 8], 1);
		}
		e2e_text_add(&in, "\"}\n", 3);
		if (i == 6000) {
			e2e_text_add(&in, "{\"huge\":\"", 9);
			for (int k = 0; k < 50000; k++)
				e2e_text_add(&in, &"0123456789"[k % 10], 1);
			e2e_text_add(&in, "\",\"n\":[1,2,3]}\n", 15);
		}
	}
	expect_passthrough(env, io, "in.jsonl", &in,
			   "name: chunks\n"
			   "stages:\n"
			   "  - {id: src, type: file_reader, path: in.jsonl, "
			   "chunk_size: 4096}\n"
			   "  - {id: out, type: file_writer, inputs: [src], "
			   "dir: out, ordered: true}\n");
	free(in.p);
}

/* CSV through 4 KiB chunks with quoted newlines, doubled quotes and a
 * 20 KB quoted field: chunks are cut only outside quotes. */
E2E_BOTH_IO(reader, csv_many_chunks_quoted_newlines)
{
	struct e2e_text in = {0};
	uint64_t seed = 11;

	e2e_text_add(&in, "id,text,n\n", 10);
	for (int i = 0; i < 8000; i++) {
		e2e_text_printf(&in, "%d,", i);
		uint64_t kind = e2e_lcg(&seed) % 4;
		size_t n = 1 + e2e_lcg(&seed) % 120;
		if (i == 4000)
			n = 20000;
		if (kind == 0 && i != 4000) {
			for (size_t k = 0; k < n; k++)
				e2e_text_add(&in, &"plainvalue"[k % 10], 1);
		} else {
			e2e_text_add(&in, "\"\n", 2);
			for (size_t k = 0; k < n; k++) {
				if (k % 37 == 5)
					e2e_text_add(&in, "\n", 1);
				else if (k % 41 == 7)
					e2e_text_add(&in, "\"\"", 2);
				else if (k % 43 == 9)
					e2e_text_add(&in, ",", 1);
				else if (k % 47 == 11)
					e2e_text_add(&in, "\xc3\xb1", 2);
				else
					e2e_text_add(&in, &"quoted"[k % 6], 1);
			}
			e2e_text_add(&in, "\"", 1);
		}
		e2e_text_printf(&in, ",%llu\n",
				(unsigned long long)e2e_lcg(&seed));
	}
	expect_passthrough(env, io, "in.csv", &in,
			   "name: csvchunks\n"
			   "stages:\n"
			   "  - {id: src, type: file_reader, path: in.csv, "
			   "format: csv, chunk_size: 4096}\n"
			   "  - {id: out, type: file_writer, inputs: [src], "
			   "dir: out, ordered: true, format: csv}\n");
	free(in.p);
}

/* The default sizes, where the chunk buffers and the writers' encode
 * buffers (and, uncompressed, their blocks) start in huge-page regions:
 * a 3 MB record outgrows its chunk slice and the encode buffer, a
 * compressed input is decoded into the slices, and every record still
 * arrives once, unchanged, in a zstd and a plain output (the writers are
 * unordered: lines compared sorted). */
E2E_BOTH_IO(reader, default_chunks_outgrown_by_records_and_zstd)
{
	char *dir = e2e_tmpdir();
	struct e2e_text plain = {0}, packed = {0}, want = {0};
	uint64_t seed = 5;

	for (int i = 0; i < 40000; i++) {
		struct e2e_text *t = i % 2 ? &packed : &plain;
		e2e_text_printf(t, "{\"i\":%d,\"s\":\"\xc3\xa9\\\"", i);
		for (size_t k = e2e_lcg(&seed) % 300; k; k--)
			e2e_text_add(t, &"abcdefgh"[k % 8], 1);
		e2e_text_add(t, "\"}\n", 3);
		if (i == 20000 || i == 20001) {
			e2e_text_printf(t, "{\"huge\":%d,\"s\":\"", i);
			for (int k = 0; k < 3000000; k++)
				e2e_text_add(t, &"0123456789"[k % 10], 1);
			e2e_text_add(t, "\"}\n", 3);
		}
	}
	e2e_put(dir, "plain.jsonl", plain.p, plain.len);
	const char *parts[] = {packed.p};
	put_zstd(dir, "packed.jsonl.zst", parts, 1);
	e2e_put_str(dir, "flow.yaml",
		    "name: big\n"
		    "stages:\n"
		    "  - {id: src, type: file_reader, "
		    "path: [plain.jsonl, packed.jsonl.zst]}\n"
		    "  - {id: out, type: file_writer, inputs: [src], "
		    "dir: out}\n"
		    "  - {id: raw, type: file_writer, inputs: [src], "
		    "dir: raw, compression: none}\n");
	e2e_run_flow_ok(dir, env, io, "flow.yaml", "--workers", "2", NULL);

	e2e_text_add(&want, plain.p, plain.len);
	e2e_text_add(&want, packed.p, packed.len);
	e2e_sort_lines(want.p, want.len);
	const char *outs[] = {"out", "raw"};
	for (int i = 0; i < 2; i++) {
		size_t n;
		char *got = e2e_read_out(dir, outs[i], &n);
		e2e_sort_lines(got, n);
		e2e_assert_same(got, n, want.p, want.len, outs[i], io);
		free(got);
	}
	free(want.p);
	free(plain.p);
	free(packed.p);
	e2e_rmrf(dir);
	free(dir);
}
