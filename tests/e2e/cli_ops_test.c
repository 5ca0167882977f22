/*
 * End-to-end tests of the command line as operators and scripts use it:
 * global options after the command, `--name=value`, `validate --json`,
 * the --json status of a run that is invalid or cannot start, `stages
 * --json`, timestamps in text logs, `--log-format json`, and the
 * progress lines logged without a terminal (--progress-interval).
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <regex.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define LIMIT_S 30

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

static bool matches(const char *re, const char *s)
{
	regex_t rx;

	cr_assert_eq(regcomp(&rx, re, REG_EXTENDED | REG_NOSUB), 0, "%s", re);
	bool ok = regexec(&rx, s, 0, NULL, 0) == 0;
	regfree(&rx);
	return ok;
}

/* spate argv in a folder holding flow.yaml = yaml (and in.jsonl = input
 * when not NULL); the result in r. */
static void spate_in(struct e2e_result *r, const char *yaml, const char *input,
		     const char *const *argv)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "flow.yaml", yaml);
	if (input)
		e2e_put_str(dir, "in.jsonl", input);
	e2e_run_timed(r, dir, e2e_sync_env, NULL, argv, LIMIT_S);
	e2e_rmrf(dir);
	free(dir);
}

static const char ok_yaml[] = "name: ok\n"
			      "stages:\n"
			      "  - {id: src, type: dev_raw_data, data: '{}'}\n"
			      "  - {id: t, type: trash, inputs: [src]}\n";

/* two problems: an unknown option and a dangling input */
static const char bad_yaml[] = "name: bad\n"
			       "stages:\n"
			       "  - {id: src, type: dev_raw_data, data: '{}'}\n"
			       "  - id: t\n"
			       "    type: trash\n"
			       "    inputs: [nope]\n"
			       "    colour: red\n";

static const char bad_problems[] =
    "[{\"file\":\"flow.yaml\",\"line\":7,\"stage\":\"t\",\"option\":"
    "null,\"message\":\"unknown option 'colour'\"},"
    "{\"file\":\"flow.yaml\",\"line\":4,\"stage\":\"t\",\"option\":"
    "null,\"message\":\"input 'nope': no stage 'nope' in this flow\"}]";

/* ---- global options anywhere, --name=value ----------------------------- */

Test(cli_ops, global_options_after_the_command)
{
	static const char *const argv[] = {"validate",		"flow.yaml",
					   "--log-level",	"debug",
					   "--log-format=json", NULL};
	struct e2e_result r;

	spate_in(&r, ok_yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "flow.yaml: flow 'ok' is valid (2 stages)\n");
	e2e_result_free(&r);

	static const char *const bad[] = {"validate", "flow.yaml",
					  "--log-level=loud", NULL};
	spate_in(&r, ok_yaml, NULL, bad);
	cr_assert_eq(r.exit_code, 2);
	cr_assert_str_eq(r.err, "spate: --log-level loud: use error, warn, "
				"info or debug\n");
	e2e_result_free(&r);

	static const char *const fmt[] = {"--log-format", "xml", "validate",
					  "flow.yaml", NULL};
	spate_in(&r, ok_yaml, NULL, fmt);
	cr_assert_eq(r.exit_code, 2);
	cr_assert_str_eq(r.err, "spate: --log-format xml: use text or json\n");
	e2e_result_free(&r);
}

Test(cli_ops, name_equals_value_everywhere)
{
	static const char *const argv[] = {
	    "run",	   "flow.yaml",
	    "--workers=2", "--set=src.format=csv",
	    "--set",	   "src.data=a,b\n1,2\n3,4\n",
	    "--json",	   "--progress-interval=0",
	    NULL};
	struct e2e_result r;
	struct e2e_status st;

	spate_in(&r, ok_yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_eq(e2e_status_parse(r.out, &st), 0, "%s", r.out);
	cr_assert_str_eq(st.status, "finished");
	cr_assert_eq(e2e_status_stage(&st, "t")->records_in, 2);
	e2e_result_free(&r);

	/* a flag given a value is refused, naming the flag */
	static const char *const flag[] = {"run", "flow.yaml", "--json=yes",
					   NULL};
	spate_in(&r, ok_yaml, NULL, flag);
	cr_assert_eq(r.exit_code, 2);
	cr_assert_str_eq(r.err, "spate: --json takes no value\n");
	e2e_result_free(&r);

	static const char *const typo[] = {"validate", "flow.yaml", "--jsno",
					   NULL};
	spate_in(&r, ok_yaml, NULL, typo);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "spate: unknown option '--jsno' (did you mean "
			"'--json'?)\n");
	e2e_result_free(&r);
}

/* ---- --json on every outcome --------------------------------------------- */

Test(cli_ops, validate_json_lists_the_problems)
{
	static const char *const argv[] = {"validate", "flow.yaml", "--json",
					   NULL};
	struct e2e_result r;
	char want[2048];

	spate_in(&r, bad_yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	snprintf(want, sizeof(want),
		 "{\"flow\":\"bad\",\"file\":\"flow.yaml\",\"status\":"
		 "\"invalid\",\"problems\":%s}\n",
		 bad_problems);
	cr_assert_str_eq(r.out, want, "--- got\n%s--- want\n%s", r.out, want);
	/* the text stays on stderr */
	CONTAINS(r.err, "flow.yaml:7: stage 't': unknown option 'colour'\n");
	e2e_result_free(&r);

	spate_in(&r, ok_yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.out, "{\"flow\":\"ok\",\"file\":\"flow.yaml\","
				"\"status\":\"valid\",\"problems\":[]}\n");
	e2e_result_free(&r);
}

Test(cli_ops, run_json_of_an_invalid_flow)
{
	static const char *const argv[] = {"run", "flow.yaml", "--json", NULL};
	struct e2e_result r;
	char want[2048];

	spate_in(&r, bad_yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	snprintf(want, sizeof(want),
		 "{\"flow\":\"bad\",\"file\":\"flow.yaml\",\"status\":"
		 "\"invalid\",\"problems\":%s}\n",
		 bad_problems);
	cr_assert_str_eq(r.out, want, "--- got\n%s--- want\n%s", r.out, want);
	e2e_result_free(&r);

	/* a missing file is a problem without a line */
	static const char *const missing[] = {"run", "nope.yaml", "--json",
					      NULL};
	spate_in(&r, ok_yaml, NULL, missing);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	cr_assert_str_eq(r.out,
			 "{\"flow\":null,\"file\":\"nope.yaml\",\"status\":"
			 "\"invalid\",\"problems\":[{\"file\":\"nope.yaml\","
			 "\"line\":null,\"stage\":null,\"option\":null,"
			 "\"message\":\"cannot open: No such file or "
			 "directory\"}]}\n");
	e2e_result_free(&r);

	/* an unwritable metrics file: invalid, naming the option */
	static const char *const metrics[] = {"run",	       "flow.yaml",
					      "--json",	       "--metrics-file",
					      "no/dir/m.prom", NULL};
	spate_in(&r, ok_yaml, NULL, metrics);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	cr_assert_str_eq(r.out,
			 "{\"flow\":\"ok\",\"file\":\"flow.yaml\",\"status\":"
			 "\"invalid\",\"problems\":[{\"file\":\"flow.yaml\","
			 "\"line\":null,\"stage\":null,\"option\":"
			 "\"--metrics-file\",\"message\":\"no/dir/m.prom: No "
			 "such file or directory\"}]}\n");
	e2e_result_free(&r);
}

Test(cli_ops, run_json_of_a_run_that_cannot_start)
{
	/* a run whose stage cannot start (a database that does not answer)
	 * fails before data moves: status "failed" with the reason */
	static const char yaml[] =
	    "name: nostart\n"
	    "stages:\n"
	    "  - {id: src, type: dev_raw_data, data: '{\"a\":1}'}\n"
	    "  - {id: db, type: postgres, inputs: [src], table: t,\n"
	    "     conninfo: 'host=127.0.0.1 port=1 connect_timeout=2'}\n";
	static const char *const argv[] = {"run", "flow.yaml", "--json", NULL};
	struct e2e_result r;
	struct e2e_status st;

	spate_in(&r, yaml, NULL, argv);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	cr_assert_eq(e2e_status_parse(r.out, &st), 0, "%s", r.out);
	cr_assert_str_eq(st.status, "failed");
	cr_assert(strncmp(st.error,
			  "stage 'db' (postgres): cannot connect to "
			  "PostgreSQL: ",
			  53) == 0,
		  "%s", st.error);
	cr_assert_eq(st.nstages, 2);
	e2e_result_free(&r);
}

Test(cli_ops, stages_json_has_every_type_and_option)
{
	static const char *const argv[] = {"stages", "--json", NULL};
	static const char *const list[] = {"stages", NULL};
	struct e2e_result r, l;

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	e2e_run_timed(&l, NULL, NULL, NULL, list, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	/* one line per type, as many as `spate stages` lists */
	cr_assert_eq(e2e_count_lines(r.out, r.out_len),
		     e2e_count_lines(l.out, l.out_len));
	cr_assert_eq(r.out[0], '[');
	CONTAINS(r.out, "{\"name\":\"trash\",\"kind\":\"destination\",");
	CONTAINS(r.out, "{\"name\":\"batch_size\",\"type\":\"int\","
			"\"default\":\"4096\",\"required\":false,\"min\":1,"
			"\"max\":1048576,\"bounds\":\"range\",\"help\":"
			"\"records per batch\"}");
	CONTAINS(r.out, "{\"name\":\"on_record_error\",\"type\":\"enum\","
			"\"default\":null,\"required\":false,\"min\":null,"
			"\"max\":null,\"choices\":[\"discard\",\"to_error\","
			"\"stop\"],");
	/* every type of the text list is there */
	for (char *line = l.out; *line;) {
		char name[128], want[160];
		if (sscanf(line, "%127s", name) != 1)
			break;
		snprintf(want, sizeof(want),
			 "{\"name\":\"%s\",\"kind\":", name);
		CONTAINS(r.out, want);
		line = strchr(line, '\n') + 1;
	}
	e2e_result_free(&r);
	e2e_result_free(&l);
}

/* ---- logs ---------------------------------------------------------------- */

/* one bad line: file_reader logs a warning naming the file and line */
static const char warn_yaml[] = "name: warns\n"
				"stages:\n"
				"  - {id: src, type: file_reader, path: "
				"in.jsonl}\n"
				"  - {id: t, type: trash, inputs: [src]}\n";
static const char warn_input[] = "{\"a\":1}\n{oops\n{\"a\":2}\n";

/* the line of s that holds needle, copied to out */
static void line_with(const char *s, const char *needle, char *out, size_t len)
{
	const char *p = strstr(s, needle);

	cr_assert_not_null(p, "no '%s' in\n%s", needle, s);
	while (p > s && p[-1] != '\n')
		p--;
	snprintf(out, len, "%.*s", (int)strcspn(p, "\n"), p);
}

Test(cli_ops, text_log_lines_have_timestamps)
{
	static const char *const argv[] = {"run", "flow.yaml", "--quiet", NULL};
	struct e2e_result r;
	char line[2048];

	spate_in(&r, warn_yaml, warn_input, argv);
	/* the bad line is discarded without an error stage: exit 3 */
	cr_assert_eq(r.exit_code, 3, "%s", r.err);
	line_with(r.err, "[origin:file_reader:src]", line, sizeof(line));
	cr_assert(matches("^20[0-9]{2}-[01][0-9]-[0-3][0-9]T[0-2][0-9]:"
			  "[0-5][0-9]:[0-6][0-9]\\.[0-9]{3}Z spate: warn: "
			  "\\[origin:file_reader:src\\] in\\.jsonl:2 ",
			  line),
		  "%s", line);
	e2e_result_free(&r);
}

Test(cli_ops, json_log_lines)
{
	static const char *const argv[] = {
	    "run", "flow.yaml", "--quiet", "--log-format", "json", NULL};
	struct e2e_result r;
	char line[2048];

	spate_in(&r, warn_yaml, warn_input, argv);
	/* the bad line is discarded without an error stage: exit 3 */
	cr_assert_eq(r.exit_code, 3, "%s", r.err);
	line_with(r.err, "\"stage\":\"src\"", line, sizeof(line));
	cr_assert(matches("^\\{\"ts\":\"20[0-9]{2}-[01][0-9]-[0-3][0-9]T"
			  "[0-9:]{8}\\.[0-9]{3}Z\",\"level\":\"warn\","
			  "\"stage\":\"src\",\"stage_type\":\"file_reader\","
			  "\"stage_kind\":\"origin\",\"msg\":\"in\\.jsonl:2 "
			  "\\(byte 8\\): [^\"]+\"\\}$",
			  line),
		  "%s", line);
	e2e_result_free(&r);

	/* SPATE_LOG_FORMAT does the same */
	static const char *const env[] = {"SPATE_LOG_FORMAT=json", NULL};
	static const char *const quiet[] = {"run", "flow.yaml", "--quiet",
					    NULL};
	char *dir = e2e_tmpdir();
	e2e_put_str(dir, "flow.yaml", warn_yaml);
	e2e_put_str(dir, "in.jsonl", warn_input);
	e2e_run_timed(&r, dir, env, NULL, quiet, LIMIT_S);
	cr_assert_eq(r.exit_code, 3, "%s", r.err);
	line_with(r.err, "\"stage\":\"src\"", line, sizeof(line));
	cr_assert(matches("^\\{\"ts\":\"[^\"]+\",\"level\":\"warn\",", line),
		  "%s", line);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

/* Every line of err is a JSON log line ({"ts", "level", ... "msg"}); the
 * one whose msg starts with msg has that level. */
static void all_json_lines(const char *err, const char *level,
			   const char *msg)
{
	char want[512];
	bool found = false;

	cr_assert_neq(*err, '\0');
	snprintf(want, sizeof(want), "\"level\":\"%s\",\"msg\":\"%s", level,
		 msg);
	for (const char *l = err; *l;) {
		size_t n = strcspn(l, "\n");
		char *line = strndup(l, n);
		cr_assert(matches("^\\{\"ts\":\"[^\"]+\",\"level\":\"(error|warn|"
				  "info)\",.*\"msg\":\".*\"\\}$",
				  line),
			  "not a JSON log line: %s\n%s", line, err);
		found = found || strstr(line, want);
		free(line);
		l += n + (l[n] == '\n');
	}
	cr_assert(found, "no %s in\n%s", want, err);
}

/* Under --log-format json, what spate says at the end of a run (the
 * summary, the discarded-records note, the validate-only verdict) and a
 * flow's problems or a usage error are JSON log lines too: stderr holds
 * nothing else. */
Test(cli_ops, json_log_format_has_no_plain_lines)
{
	static const char *const run[] = {"run", "flow.yaml", "--log-format",
					  "json", NULL};
	static const char *const only[] = {"run", "flow.yaml",
					   "--validate-only",
					   "--log-format=json", NULL};
	static const char *const bogus[] = {"run", "flow.yaml", "--bogus",
					    "--log-format", "json", NULL};
	static const char *const validate[] = {"validate", "flow.yaml",
					       "--log-format", "json", NULL};
	struct e2e_result r;

	spate_in(&r, warn_yaml, warn_input, run);
	cr_assert_eq(r.exit_code, 3, "%s", r.err);
	all_json_lines(r.err, "warn",
		       "flow.yaml: 1 record error was discarded: the flow "
		       "has no error_stage to keep them (or set "
		       "on_record_error: discard on the stage to drop them on "
		       "purpose); exit 3\"}");
	all_json_lines(r.err, "info", "flow 'warns' finished in ");
	all_json_lines(r.err, "info",
		       "discarded: 1 record error (no error stage)\"}");
	e2e_result_free(&r);

	spate_in(&r, warn_yaml, warn_input, only);
	cr_assert_eq(r.exit_code, 1, "%s", r.err);
	all_json_lines(r.err, "error",
		       "flow.yaml: validate-only: 1 record error in 3 "
		       "records read; nothing was written\"}");
	e2e_result_free(&r);

	spate_in(&r, warn_yaml, warn_input, bogus);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	all_json_lines(r.err, "error", "unknown option '--bogus'\"}");
	e2e_result_free(&r);

	static const char *const command[] = {"--log-format", "json",
					      "nosuch", NULL};
	spate_in(&r, ok_yaml, NULL, command);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	all_json_lines(r.err, "error", "unknown command 'nosuch'\"}");
	e2e_result_free(&r);

	spate_in(&r, bad_yaml, NULL, validate);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	all_json_lines(r.err, "error",
		       "flow.yaml:7: stage 't': unknown option 'colour'\"}");
	all_json_lines(r.err, "error",
		       "flow.yaml: 2 problems; nothing was run\"}");
	e2e_result_free(&r);
}

/* A run of about 1.2 s (a shell executor waits after the input) logs its
 * progress every 0.3 s at info level when stderr is a pipe, ending with
 * the final counts; at the default level (warn) nothing. */
static const char slow_yaml[] =
    "name: slow\n"
    "stages:\n"
    "  - {id: src, type: file_reader, path: in.jsonl}\n"
    "  - {id: t, type: trash, inputs: [src]}\n"
    "  - {id: wait, type: shell, event_inputs: [src], command: 'sleep "
    "1.2'}\n";

Test(cli_ops, progress_logged_without_a_terminal)
{
	static const char *const argv[] = {
	    "run", "flow.yaml", "--log-level", "info", "--progress-interval",
	    "0.3", NULL};
	struct e2e_result r;

	spate_in(&r, slow_yaml, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n", argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	int n = 0;
	const char *last = NULL;
	for (const char *p = r.err; (p = strstr(p, " spate: info: progress: "));
	     p++) {
		n++;
		last = p;
	}
	cr_assert_geq(n, 3, "expected 3 or more progress lines in\n%s", r.err);
	char line[1024];
	snprintf(line, sizeof(line), "%.*s", (int)strcspn(last, "\n"), last);
	cr_assert(matches("^ spate: info: progress: [0-9]+\\.[0-9]s  3 rec  "
			  "[0-9.kM]+ rec/s  in [0-9]+\\.[0-9] MiB/s  out "
			  "[0-9]+\\.[0-9] MiB/s  100\\.0% eta 0s  errors 0  "
			  "-> t 3$",
			  line),
		  "%s", line);
	cr_assert_null(strchr(r.err, '\r'), "%s", r.err);
	e2e_result_free(&r);

	static const char *const warn[] = {"run", "flow.yaml",
					   "--progress-interval", "0.3", NULL};
	spate_in(&r, slow_yaml, "{\"a\":1}\n", warn);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_null(strstr(r.err, "progress:"), "%s", r.err);
	e2e_result_free(&r);

	static const char *const bad[] = {"run", "flow.yaml",
					  "--progress-interval", "soon", NULL};
	spate_in(&r, slow_yaml, "{\"a\":1}\n", bad);
	cr_assert_eq(r.exit_code, 2);
	cr_assert_str_eq(r.err, "spate: --progress-interval soon: give a "
				"number from 0 to 86400\n");
	e2e_result_free(&r);
}

/* What `spate run` refuses before moving data, `spate validate` refuses
 * too, with the same file:line, stage, option and message, and run
 * writes nothing (exit 2 from both). */
Test(cli_ops, validate_refuses_what_run_refuses)
{
	static const struct {
		const char *stage, *want;
	} cases[] = {
	    {"{id: o, type: file_writer, inputs: [src], dir: ''}",
	     "flow.yaml:4: stage 'o': option 'dir': empty: name a folder "
	     "(\".\" is the flow file's own)\n"},
	    {"{id: o, type: field_remover, inputs: [src], fields: [a]}",
	     "flow.yaml:4: stage 'o': option 'fields[0]': 'a' is not a "
	     "field path: a field path starts with '/' (e.g. /user or "
	     "/a/b)\n"},
	    {"{id: o, type: field_type_converter, inputs: [src], "
	     "fields: {/a: bogus}}",
	     "flow.yaml:4: stage 'o': option 'fields': /a: unknown type "
	     "'bogus' (int, double, bool or string)\n"},
	    {"{id: o, type: file_writer, inputs: [src], "
	     "dir: 'out/${record:value(\"/a\")}'}",
	     "flow.yaml:4: stage 'o': option 'dir': "
	     "\"out/${record:value(\"/a\")}\" holds an expression, but the "
	     "folder is fixed for a run; send records to writers of their "
	     "own with a stream_selector\n"},
	    {"{id: o, type: file_writer, inputs: [src], dir: out, "
	     "name: x.jsonl}",
	     "flow.yaml:4: stage 'o': option 'name': \"x.jsonl\" has no "
	     "{seq}: rolled files would get the same name\n"},
	    {"{id: o, type: file_writer, inputs: [src], dir: out, "
	     "name: '../x-{seq}'}",
	     "flow.yaml:4: stage 'o': option 'name': \"../x-{seq}\" is a "
	     "file name and may not hold '/' (the folder is option 'dir')\n"},
	    {"{id: o, type: file_writer, inputs: [src], dir: out, "
	     "format: csv, delimiter: '\"'}",
	     "flow.yaml:4: stage 'o': option 'delimiter': delimiter and "
	     "quote must differ\n"},
	    {"{id: o, type: file_writer, inputs: [src], dir: out, "
	     "format: csv, delimiter: \"\\n\"}",
	     "flow.yaml:4: stage 'o': option 'delimiter': delimiter and "
	     "quote may not be a line break\n"},
	    {"{id: o, type: file_writer, inputs: [src], dir: out}\n"
	     "  - {id: p, type: file_writer, inputs: [src], dir: ./out/}",
	     "flow.yaml:5: stage 'p': option 'dir': stage 'o' (line 4) "
	     "writes the same folder: two stages cannot write one\n"},
	    {"{id: o, type: trash, inputs: [g]}\n"
	     "  - {id: g, type: file_reader, path: 'none/*.jsonl'}",
	     "flow.yaml:5: stage 'g': option 'path': cannot expand "
	     "'none/*.jsonl'\n"},
	};
	static const char *const run[] = {"run", "flow.yaml", "--quiet", NULL};
	static const char *const val[] = {"validate", "flow.yaml", NULL};

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct e2e_result r, v;
		char *yaml;

		cr_assert(asprintf(&yaml,
				   "name: t\n"
				   "stages:\n"
				   "  - {id: src, type: dev_raw_data, "
				   "data: '{\"a\":1}'}\n"
				   "  - %s\n",
				   cases[i].stage) > 0);
		spate_in(&v, yaml, NULL, val);
		spate_in(&r, yaml, NULL, run);
		free(yaml);
		cr_assert_eq(v.exit_code, 2, "%zu: %s", i, v.err);
		cr_assert_eq(r.exit_code, 2, "%zu: %s", i, r.err);
		cr_assert_str_eq(v.err, r.err);
		cr_assert(strstr(v.err, cases[i].want), "%zu: %s", i, v.err);
		cr_assert(strstr(v.err, "spate: flow.yaml: 1 problem; nothing "
					"was run\n"),
			  "%s", v.err);
		e2e_result_free(&v);
		e2e_result_free(&r);
	}
}
