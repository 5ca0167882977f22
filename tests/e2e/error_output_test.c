/*
 * End-to-end tests of what spate writes about bad input: error records
 * are valid UTF-8 JSON whatever the input held (invalid bytes become
 * U+FFFD in `raw`, and `raw_base64` keeps the exact bytes), value previews
 * in reasons are cut on character boundaries, and log lines on stderr are
 * valid UTF-8.  (The suite-wide check, tests/support/check_output.py,
 * parses every error record any test read.)
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

/* True when s[0..len) is valid UTF-8 (no overlongs, surrogates or code
 * points past U+10FFFF). */
static bool is_utf8(const char *s, size_t len)
{
	const unsigned char *p = (const unsigned char *)s, *end = p + len;

	while (p < end) {
		unsigned c = *p, n, cp;
		if (c < 0x80) {
			p++;
			continue;
		}
		if (c >= 0xc2 && c < 0xe0)
			n = 2, cp = c & 0x1f;
		else if (c >= 0xe0 && c < 0xf0)
			n = 3, cp = c & 0x0f;
		else if (c >= 0xf0 && c < 0xf5)
			n = 4, cp = c & 0x07;
		else
			return false;
		if ((size_t)(end - p) < n)
			return false;
		for (unsigned i = 1; i < n; i++) {
			if ((p[i] & 0xc0) != 0x80)
				return false;
			cp = cp << 6 | (p[i] & 0x3f);
		}
		if ((n == 3 && cp < 0x800) || (n == 4 && cp < 0x10000) ||
		    (cp >= 0xd800 && cp < 0xe000) || cp > 0x10ffff)
			return false;
		p += n;
	}
	return true;
}

/* The line of text holding needle, as a new string; fails when none. */
static char *line_with(const char *text, const char *needle)
{
	const char *p = strstr(text, needle);

	cr_assert(p, "no line with %s in:\n%s", needle, text);
	while (p > text && p[-1] != '\n')
		p--;
	const char *e = strchr(p, '\n');
	return strndup(p, e ? (size_t)(e - p) : strlen(p));
}

static void expect_in(const char *line, const char *want)
{
	cr_expect(strstr(line, want), "want %s in:\n%s", want, line);
}

/* Invalid UTF-8 in a JSON value, in a key and in a CSV field: each record
 * reaches the error stage as valid JSON, with the exact bytes in
 * raw_base64; valid records pass unchanged. */
E2E_BOTH_IO(error_output, invalid_utf8_in_raw_is_replaced_and_kept_exactly)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "in.jsonl",
		    "{\"a\":\"ok \xc3\xa9\"}\n"
		    "{\"a\":\"\xff\"}\n"
		    "{\"\xfe\":1}\n");
	e2e_put_str(dir, "in.csv", "k,v\nx,\xff\xfe\ny,fine\n");
	e2e_put_str(
	    dir, "flow.yaml",
	    "name: bad\n"
	    "error_stage: errs\n"
	    "stages:\n"
	    "  - {id: j, type: file_reader, path: in.jsonl}\n"
	    "  - {id: c, type: file_reader, path: in.csv, format: csv}\n"
	    "  - {id: out, type: file_writer, inputs: [j, c], dir: out, "
	    "compression: none, ordered: true}\n"
	    "  - {id: errs, type: file_writer, dir: errs, compression: none, "
	    "ordered: true}\n");
	struct e2e_result r;
	e2e_run_flow(&r, dir, env, "flow.yaml", NULL);
	e2e_assert_ok(&r, io);
	size_t len;
	char *out = e2e_read_out(dir, "out", &len);
	e2e_sort_lines(out, len);
	e2e_assert_same(out, len,
			"{\"a\":\"ok \xc3\xa9\"}\n{\"k\":\"y\",\"v\":\"fine\"}\n",
			strlen("{\"a\":\"ok \xc3\xa9\"}\n"
			       "{\"k\":\"y\",\"v\":\"fine\"}\n"),
			"records", io);
	free(out);

	char *errs = e2e_read_out(dir, "errs", &len);
	cr_assert_eq(e2e_count_lines(errs, len), 3, "[%s] errors:\n%s", io,
		     errs);
	cr_assert(is_utf8(errs, len), "[%s] error records not UTF-8:\n%s", io,
		  errs);
	char *l = line_with(errs, "in.jsonl:2");
	expect_in(l, "\"raw\":\"{\\\"a\\\":\\\"\xef\xbf\xbd\\\"}\"");
	expect_in(l, "\"raw_base64\":\"eyJhIjoi/yJ9\"");
	free(l);
	l = line_with(errs, "in.jsonl:3");
	expect_in(l, "\"raw\":\"{\\\"\xef\xbf\xbd\\\":1}\"");
	expect_in(l, "\"raw_base64\":\"eyL+IjoxfQ==\"");
	free(l);
	l = line_with(errs, "in.csv:2");
	expect_in(l, "\"raw\":\"x,\xef\xbf\xbd\xef\xbf\xbd\"");
	expect_in(l, "\"raw_base64\":\"eCz//g==\"");
	free(l);
	cr_expect(is_utf8(r.err, r.err_len), "[%s] stderr not UTF-8:\n%s", io,
		  r.err);
	free(errs);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* A value preview in a reason stops before a character that does not fit
 * whole, in the error record and in the log line. */
Test(error_output, preview_cut_on_a_character_boundary)
{
	char *dir = e2e_tmpdir();
	char val[80];

	/* 63 ASCII letters then 'é' (2 bytes): the 64-byte preview would
	 * split it */
	memset(val, 'a', 63);
	memcpy(val + 63, "\xc3\xa9", 3);
	char *yaml;
	cr_assert(asprintf(&yaml,
			   "name: cut\n"
			   "error_stage: errs\n"
			   "stages:\n"
			   "  - id: src\n    type: dev_raw_data\n"
			   "    data: |\n      {\"v\":\"%s\"}\n"
			   "  - {id: conv, type: field_type_converter, "
			   "inputs: [src], fields: {/v: int}}\n"
			   "  - {id: out, type: file_writer, inputs: [conv], "
			   "dir: out, compression: none}\n"
			   "  - {id: errs, type: file_writer, dir: errs, "
			   "compression: none}\n",
			   val) > 0);
	e2e_put_str(dir, "flow.yaml", yaml);
	free(yaml);
	struct e2e_result r;
	e2e_run_flow(&r, dir, NULL, "flow.yaml", NULL);
	e2e_assert_ok(&r, "default");
	size_t len;
	char *errs = e2e_read_out(dir, "errs", &len);
	char want[160];
	memset(val + 63, 0, 3);
	snprintf(want, sizeof(want), "cannot convert \\\"%s...\\\"", val);
	cr_assert_eq(e2e_count_lines(errs, len), 1, "errors:\n%s", errs);
	expect_in(errs, want);
	cr_expect(is_utf8(errs, len), "error record not UTF-8:\n%s", errs);
	snprintf(want, sizeof(want), "cannot convert \"%s...\"", val);
	expect_in(r.err, want);
	cr_expect(is_utf8(r.err, r.err_len), "stderr not UTF-8:\n%s", r.err);
	free(errs);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}
