/*
 * End-to-end tests of inputs that used to be read wrongly without a word:
 * CR-only CSV line ends (file, stdin and inline data), a CSV header that
 * never ends (an unterminated quote; no line end within the bound), empty
 * and repeated header names (made unique, with a warning), a UTF-8 BOM
 * on JSON lines, the same file named several times in a path list,
 * duplicate JSON keys (the last one wins), NUL bytes written to CSV,
 * files that stat calls empty but hold text, and an input that cannot be
 * read among good ones.
 * Every output record is read back and compared.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "support/e2e.h"

/* Runs yaml in x (input files already in x->dir), asserting it finished. */
static void run_ok(struct e2e_flow *x, const char *yaml, const char *stdin_data)
{
	e2e_flow_run(x, yaml, NULL, NULL, stdin_data, NULL);
	e2e_flow_assert_finished(x);
}

/* ---- CSV ------------------------------------------------------------- */

/* "Macintosh CSV" (CR-only line ends, as spreadsheets still export it):
 * 10,000 rows, each a record, none swallowed by the header. */
Test(bad_input, csv_cr_only_line_ends_file)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	struct e2e_text in = {0}, want = {0};

	e2e_text_printf(&in, "id,name\r");
	for (int i = 1; i <= 10000; i++) {
		e2e_text_printf(&in, "%d,\"n\r%d\"\r", i, i);
		e2e_text_printf(&want, "{\"id\":\"%d\",\"name\":\"n\\n%d\"}\n",
				i, i);
	}
	e2e_put(x.dir, "in.csv", in.p, in.len);
	run_ok(&x,
	       "name: cr\n"
	       "stages:\n"
	       "  - {id: src, type: file_reader, path: in.csv, format: csv}\n"
	       "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	       "ordered: true}\n",
	       NULL);
	e2e_flow_assert_counts(&x, "src", 10000, 10000, 0, 0);
	e2e_flow_assert_out(&x, "out", want.p);
	e2e_flow_done(&x);
	free(in.p);
	free(want.p);
}

Test(bad_input, csv_cr_only_line_ends_stdin_and_data)
{
	struct e2e_flow x = {0};
	static const char want[] = "{\"id\":\"1\",\"name\":\"a\"}\n"
				   "{\"id\":\"2\",\"name\":\"b\"}\n";

	run_ok(&x,
	       "name: crin\n"
	       "stages:\n"
	       "  - {id: src, type: stdin, format: csv}\n"
	       "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	       "ordered: true}\n",
	       "id,name\r1,a\r2,b\r");
	e2e_flow_assert_out(&x, "out", want);
	run_ok(&x,
	       "name: crdata\n"
	       "stages:\n"
	       "  - {id: src, type: dev_raw_data, format: csv, data: "
	       "\"id,name\\r1,a\\r2,b\\r\"}\n"
	       "  - {id: out, type: file_writer, inputs: [src], dir: out2, "
	       "ordered: true}\n",
	       NULL);
	e2e_flow_assert_out(&x, "out2", want);
	e2e_flow_done(&x);
}

static const char csv_flow[] =
    "name: hdr\n"
    "stages:\n"
    "  - {id: src, type: file_reader, path: in.csv, format: csv}\n"
    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
    "ordered: true}\n";

/* A header whose quote never closes fails the run (and a validating run)
 * naming the file and the bytes read, instead of eating every row. */
Test(bad_input, csv_header_unterminated_quote_fails)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	static const char *const validate[] = {"--validate-only", NULL};

	e2e_put_str(x.dir, "in.csv", "id,\"name\n1,a\n2,b\n");
	for (int i = 0; i < 2; i++) {
		e2e_flow_run(&x, csv_flow, i ? validate : NULL, NULL, NULL,
			     NULL);
		cr_assert_eq(x.r.exit_code, 1, "exit %d: %s", x.r.exit_code,
			     x.r.err);
		cr_assert_str_eq(x.st.status, "failed");
		cr_assert(strstr(x.r.err,
				 "in.csv: header: unterminated quote in "
				 "column 2 (opened at byte 3; 17 bytes read)"),
			  "%s", x.r.err);
	}
	e2e_flow_done(&x);
}

Test(bad_input, csv_header_without_line_end_fails)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	size_t n = (2u << 20) + 6;
	char *in = malloc(n);

	cr_assert_not_null(in);
	for (size_t i = 0; i < n; i++)
		in[i] = i % 2 ? ';' : 'a'; /* the wrong delimiter, no newline */
	e2e_put(x.dir, "in.csv", in, n);
	e2e_flow_run(&x, csv_flow, NULL, NULL, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 1, "exit %d: %s", x.r.exit_code, x.r.err);
	cr_assert(strstr(x.r.err, "in.csv: header does not end within 1048576 "
				  "bytes"),
		  "%s", x.r.err);
	e2e_flow_done(&x);
	free(in);
}

/* Empty and repeated names get unique ones; the stage counts a warning
 * and says which. */
Test(bad_input, csv_header_names_made_unique_with_warning)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};

	e2e_put_str(x.dir, "in.csv", "a,a,b,,_4\n1,2,3,4,5\n6,7,8,9,10\n");
	run_ok(&x, csv_flow, NULL);
	e2e_flow_assert_out(&x, "out",
			    "{\"a\":\"1\",\"a_2\":\"2\",\"b\":\"3\","
			    "\"_4_2\":\"4\",\"_4\":\"5\"}\n"
			    "{\"a\":\"6\",\"a_2\":\"7\",\"b\":\"8\","
			    "\"_4_2\":\"9\",\"_4\":\"10\"}\n");
	cr_assert_eq(e2e_flow_stage(&x, "src")->warnings, 1);
	cr_assert(strstr(x.r.err, "in.csv: header: column 2 \"a\" named "
				  "\"a_2\", column 4 \"\" named \"_4_2\""),
		  "%s", x.r.err);
	e2e_flow_done(&x);
}

/* ---- JSON ------------------------------------------------------------ */

/* A repeated key: the last value wins everywhere (Python's json reads it
 * so), in conditions, setters and nested paths, and the output holds the
 * key once. */
Test(bad_input, json_duplicate_keys_last_wins)
{
	struct e2e_flow x = {0};

	run_ok(&x,
	       "name: dup\n"
	       "stages:\n"
	       "  - id: src\n"
	       "    type: dev_raw_data\n"
	       "    data: |\n"
	       "      {\"a\":1,\"a\":20000}\n"
	       "      {\"a\":20000,\"a\":1}\n"
	       "      {\"a\":3,\"o\":{\"x\":1,\"x\":50000}}\n"
	       "  - {id: big, type: filter, inputs: [src], condition: "
	       "'${record:value(\"/a\") >= 10000}'}\n"
	       "  - {id: nested, type: filter, inputs: [src], condition: "
	       "'${record:value(\"/o/x\") >= 10000}'}\n"
	       "  - {id: set, type: field_setter, inputs: [src], "
	       "fields: {/b: '${record:value(\"/a\") + 1}'}}\n"
	       "  - {id: o1, type: file_writer, inputs: [big], dir: big, "
	       "ordered: true}\n"
	       "  - {id: o2, type: file_writer, inputs: [nested], dir: nested, "
	       "ordered: true}\n"
	       "  - {id: o3, type: file_writer, inputs: [set], dir: set, "
	       "ordered: true}\n",
	       NULL);
	e2e_flow_assert_out(&x, "big", "{\"a\":20000}\n");
	e2e_flow_assert_out(&x, "nested",
			    "{\"a\":3,\"o\":{\"x\":1,\"x\":50000}}\n");
	e2e_flow_assert_out(&x, "set",
			    "{\"a\":20000,\"b\":20001}\n{\"a\":1,\"b\":2}\n"
			    "{\"a\":3,\"o\":{\"x\":1,\"x\":50000},\"b\":4}\n");
	e2e_flow_done(&x);
}

/* A byte order mark that an editor put at the start of a JSON lines file
 * is not data (CSV skipped it already). */
Test(bad_input, jsonl_and_csv_bom_skipped)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};

	e2e_put_str(x.dir, "in.jsonl", "\xef\xbb\xbf{\"a\":1}\n{\"a\":2}\n");
	e2e_put_str(x.dir, "in.csv",
		    "\xef\xbb\xbf"
		    "a\n3\n");
	run_ok(&x,
	       "name: bom\n"
	       "stages:\n"
	       "  - {id: j, type: file_reader, path: in.jsonl}\n"
	       "  - {id: c, type: file_reader, path: in.csv, format: csv}\n"
	       "  - {id: out, type: file_writer, inputs: [j], dir: out, "
	       "ordered: true}\n"
	       "  - {id: out2, type: file_writer, inputs: [c], dir: out2, "
	       "ordered: true}\n",
	       NULL);
	e2e_flow_assert_counts(&x, "j", 2, 2, 0, 0);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n{\"a\":2}\n");
	e2e_flow_assert_out(&x, "out2", "{\"a\":\"3\"}\n");
	e2e_flow_done(&x);
}

/* ---- paths ----------------------------------------------------------- */

/* A file named several times (a glob and its name, "./" before it, a
 * symbolic link to it) is read once, with a warning for each repeat. */
Test(bad_input, repeated_input_paths_read_once)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	char *link = e2e_join(x.dir, "link.jsonl");

	e2e_put_str(x.dir, "in/a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	e2e_put_str(x.dir, "in/b.jsonl", "{\"b\":3}\n");
	cr_assert_eq(symlink("in/a.jsonl", link), 0);
	run_ok(&x,
	       "name: paths\n"
	       "stages:\n"
	       "  - {id: src, type: file_reader, path: [in/*.jsonl, "
	       "in/a.jsonl, ./in/a.jsonl, link.jsonl]}\n"
	       "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	       "ordered: true}\n",
	       NULL);
	e2e_flow_assert_counts(&x, "src", 3, 3, 0, 0);
	e2e_flow_assert_out(&x, "out", "{\"a\":1}\n{\"a\":2}\n{\"b\":3}\n");
	cr_assert_eq(e2e_flow_stage(&x, "src")->warnings, 3);
	/* said once, by the run (not by the validation before it), with
	 * the stage's prefix */
	static const char said[] = "[origin:file_reader:src] option 'path': "
				   "link.jsonl is in/a.jsonl again: it is "
				   "read once";
	const char *first = strstr(x.r.err, "link.jsonl is in/a.jsonl again");
	cr_assert(strstr(x.r.err, said), "%s", x.r.err);
	cr_assert(!strstr(first + 1, "link.jsonl is in/a.jsonl again"),
		  "said twice:\n%s", x.r.err);
	e2e_flow_done(&x);
	free(link);
}

/* A regular file that stat says is empty may hold text (/proc, /sys):
 * it is read to its end, not taken as empty. */
Test(bad_input, files_that_say_they_are_empty_are_read_to_their_end)
{
	struct e2e_flow x = {0};

	run_ok(&x,
	       "name: proc\n"
	       "stages:\n"
	       "  - {id: src, type: file_reader, path: /proc/sys/kernel/ostype, "
	       "format: csv, header: false}\n"
	       "  - {id: out, type: file_writer, inputs: [src], dir: out}\n",
	       NULL);
	e2e_flow_assert_counts(&x, "src", 1, 1, 0, 0);
	e2e_flow_assert_out(&x, "out", "{\"_1\":\"Linux\"}\n");
	e2e_flow_done(&x);
}

/* A file of /sys says it holds 4096 bytes whatever it holds: it is read
 * to its end, not up to that size (which failed the run as a file that
 * "shrank"), with the content hash before the run and without it. */
Test(bad_input, files_whose_size_is_not_their_length_are_read_to_their_end)
{
	static const char path[] = "/sys/kernel/mm/transparent_hugepage/enabled";
	static const char *const trust[] = {"--trust-mtime", NULL};
	struct stat st;
	char text[256] = "", want[300];
	FILE *f = fopen(path, "r");

	if (!f)
		cr_skip_test("%s: %s", path, strerror(errno));
	cr_assert(fgets(text, sizeof(text), f));
	fclose(f);
	text[strcspn(text, "\n")] = 0;
	cr_assert_eq(stat(path, &st), 0);
	cr_assert_gt((size_t)st.st_size, strlen(text) + 1,
		     "stat says %lld bytes: not the case this tests",
		     (long long)st.st_size);
	snprintf(want, sizeof(want), "{\"_1\":\"%s\"}\n", text);
	for (int k = 0; k < 2; k++) {
		struct e2e_flow x = {0};

		e2e_flow_run(&x,
			     "name: sys\n"
			     "stages:\n"
			     "  - {id: src, type: file_reader, path: "
			     "/sys/kernel/mm/transparent_hugepage/enabled, "
			     "format: csv, header: false}\n"
			     "  - {id: out, type: file_writer, inputs: [src], "
			     "dir: out}\n",
			     k ? trust : NULL, NULL, NULL, NULL);
		e2e_flow_assert_finished(&x);
		e2e_flow_assert_counts(&x, "src", 1, 1, 0, 0);
		e2e_flow_assert_out(&x, "out", want);
		e2e_flow_done(&x);
	}
}

/* on_error: skip_file over old files into a new target: the run id is
 * taken after the data, from the hashes the read took, and the bad file,
 * whose read stopped at its bad record, is hashed whole at the end.  The
 * rerun hashes both files before it (the target holds a manifest now),
 * finds the same id and is skipped. */
Test(bad_input, a_file_skipped_for_a_bad_record_counts_in_the_run_id)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	struct e2e_text good = {0}, bad = {0};
	static const char yaml[] =
	    "name: skipbad\n"
	    "stages:\n"
	    "  - {id: src, type: file_reader, path: [a.jsonl, b.jsonl], "
	    "on_error: skip_file}\n"
	    "  - {id: out, type: file_writer, inputs: [src], dir: out, "
	    "ordered: true}\n";

	for (int i = 0; i < 2000; i++) {
		e2e_text_printf(&good, "{\"id\":%d}\n", i);
		e2e_text_printf(&bad, i == 1000 ? "{\"id\":%d\n" : "{\"id\":%d}\n",
				i);
	}
	e2e_put(x.dir, "a.jsonl", good.p, good.len);
	e2e_put(x.dir, "b.jsonl", bad.p, bad.len);
	e2e_age(x.dir, "a.jsonl");
	e2e_age(x.dir, "b.jsonl");
	run_ok(&x, yaml, NULL);
	cr_assert_eq(e2e_flow_stage(&x, "src")->warnings, 1);
	cr_assert(strstr(x.r.err, "on_error: skip_file: b.jsonl not loaded: "
				  "line 1001"),
		  "%s", x.r.err);
	char *got = e2e_flow_out(&x, "out");
	e2e_assert_same(got, strlen(got), good.p, good.len, "out", "");
	free(got);

	e2e_flow_run(&x, yaml, NULL, NULL, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 0, "%s", x.r.err);
	cr_assert_str_eq(x.st.status, "skipped", "%s", x.r.err);
	e2e_flow_done(&x);
	free(good.p);
	free(bad.p);
}

/* A file whose bytes cannot be read (here one that stat calls an empty
 * regular file, whose read fails) among good ones fails the run naming
 * it, and nothing is published: with the content hash before the run
 * and without it (--trust-mtime). */
Test(bad_input, an_unreadable_input_among_good_ones_fails_the_run)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};
	struct e2e_text in = {0};
	static const char *const trust[] = {"--trust-mtime", NULL};

	for (int i = 0; i < 200000; i++) /* 9 MB: read ahead of its hash */
		e2e_text_printf(&in, "{\"id\":%d,\"pad\":\"%036d\"}\n", i, i);
	e2e_put(x.dir, "a.jsonl", in.p, in.len);
	e2e_put(x.dir, "b.jsonl", in.p, in.len);
	for (int k = 0; k < 2; k++) {
		e2e_flow_run(&x,
			     "name: unreadable\n"
			     "stages:\n"
			     "  - {id: src, type: file_reader, path: [a.jsonl, "
			     "/proc/self/mem, b.jsonl]}\n"
			     "  - {id: out, type: file_writer, inputs: [src], "
			     "dir: out}\n",
			     k ? trust : NULL, NULL, NULL, NULL);
		cr_assert_eq(x.r.exit_code, 1, "exit %d: %s", x.r.exit_code,
			     x.r.err);
		cr_assert_str_eq(x.st.status, "failed");
		cr_assert(strstr(x.r.err, "cannot read /proc/self/mem: "
					  "Input/output error"),
			  "%s", x.r.err);
		char *manifest = e2e_join(x.dir, "out/_manifest.json");
		cr_assert_neq(access(manifest, F_OK), 0,
			      "a failed run published %s", manifest);
		free(manifest);
	}
	e2e_flow_done(&x);
	free(in.p);
}

/* ---- CSV output ------------------------------------------------------ */

/* A value holding NUL (\u0000) is not written to CSV, where the reader
 * (spate's too) would refuse it: it is a record error, the rest goes. */
Test(bad_input, csv_writer_refuses_nul_bytes)
{
	struct e2e_flow x = {0};

	e2e_flow_run(&x,
		     "name: nul\n"
		     "error_stage: errs\n"
		     "stages:\n"
		     "  - id: src\n"
		     "    type: dev_raw_data\n"
		     "    data: |\n"
		     "      {\"a\":\"x\\u0000y\"}\n"
		     "      {\"a\":\"ok\"}\n"
		     "  - {id: out, type: file_writer, inputs: [src], dir: out, "
		     "format: csv, compression: none, ordered: true}\n"
		     "  - {id: errs, type: file_writer, dir: errs, "
		     "compression: none, ordered: true}\n",
		     NULL, NULL, NULL, NULL);
	cr_assert_eq(x.r.exit_code, 0, "exit %d: %s", x.r.exit_code, x.r.err);
	e2e_flow_assert_out(&x, "out", "a\nok\n");
	e2e_flow_assert_out(&x, "errs",
			    "{\"a\":\"x\\u0000y\",\"spate_error\":{\"stage\":"
			    "\"out\",\"reason\":\"a value holds a NUL byte "
			    "(\\\\u0000), which CSV cannot carry: its "
			    "readers, spate's among them, refuse it\","
			    "\"source\":\"dev_raw_data:1\"}}\n");
	e2e_flow_done(&x);
}
