/*
 * End-to-end tests of flow parameters: ${param:NAME} from --param,
 * ${env:NAME} from the environment, defaults, unset ones reported by
 * validate with file:line, stage and option, and environment values
 * (secrets) that never show in a message, a log line or a --json status.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

/* runs spate argv in a folder holding flow.yaml = yaml */
static void spate_in(struct e2e_result *r, const char *yaml,
		     const char *const *env, const char *const *argv,
		     char **dir_out)
{
	char *dir = e2e_tmpdir();

	e2e_put_str(dir, "flow.yaml", yaml);
	e2e_run_timed(r, dir, env, NULL, argv, E2E_RUN_LIMIT_S);
	if (dir_out) {
		*dir_out = dir;
		return;
	}
	e2e_rmrf(dir);
	free(dir);
}

static const char param_yaml[] =
    "name: params\n"
    "stages:\n"
    "  - id: src\n"
    "    type: dev_raw_data\n"
    "    data: '{\"m\": \"${param:MONTH}\", \"w\": \"${env:OPS_WHO}\"}'\n"
    "  - id: out\n"
    "    type: file_writer\n"
    "    inputs: [src]\n"
    "    dir: ${param:DIR:-out}\n";

Test(params, expanded_from_param_env_and_default)
{
	const char *const env[] = {"OPS_WHO=ops-team", NULL};
	const char *const argv[] = {"run", "flow.yaml", "--quiet",
				    "--param", "MONTH=2026-11", NULL};
	struct e2e_result r;
	char *dir;

	spate_in(&r, param_yaml, env, argv, &dir);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	char *text = e2e_read_out(dir, "out", NULL);
	cr_assert_str_eq(text, "{\"m\": \"2026-11\", \"w\": \"ops-team\"}\n");
	free(text);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(params, unset_ones_are_reported_with_file_line_stage_option)
{
	const char *const argv[] = {"validate", "flow.yaml", NULL};
	const char *const env[] = {"OPS_WHO=", NULL};
	struct e2e_result r;

	spate_in(&r, param_yaml, env, argv, NULL);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "flow.yaml:5: stage 'src': option 'data': "
			"${param:MONTH} is not set: give --param "
			"MONTH=VALUE (or write ${param:MONTH:-DEFAULT})");
	CONTAINS(r.err, "1 problem; nothing was run");
	e2e_result_free(&r);

	const char *const argv2[] = {"validate", "flow.yaml", "--param",
				     "MONTH=x", "--param", "2x=y", NULL};
	spate_in(&r, param_yaml, NULL, argv2, NULL);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "--param 2x=y: give NAME=VALUE");
	e2e_result_free(&r);

	const char *const argv3[] = {"validate", "flow.yaml", "--param",
				     "MONTH=x", NULL};
	const char *const unset[] = {"OPS_WHO_UNSET_X=1", NULL};
	spate_in(&r, "name: e\nstages:\n  - id: src\n    type: dev_raw_data\n"
		     "    data: '${env:OPS_NOT_SET_ANYWHERE}'\n"
		     "  - {id: t, type: trash, inputs: [src]}\n",
		 unset, argv3, NULL);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "flow.yaml:5: stage 'src': option 'data': "
			"${env:OPS_NOT_SET_ANYWHERE}: the environment "
			"variable OPS_NOT_SET_ANYWHERE is not set");
	e2e_result_free(&r);
}

Test(params, environment_values_are_never_printed)
{
	/* the secret lands in an integer option: the error quotes it */
	const char yaml[] = "name: s\n"
			    "stages:\n"
			    "  - {id: src, type: dev_raw_data, data: '{}'}\n"
			    "  - id: t\n"
			    "    type: trash\n"
			    "    inputs: [src]\n"
			    "    x_${env:OPS_TOKEN}: 1\n"
			    "  - id: g\n"
			    "    type: dev_data_generator\n"
			    "    records: 'tok-${env:OPS_TOKEN}'\n";
	const char *const env[] = {"OPS_TOKEN=s3cr3t-v4lue", NULL};
	const char *const argv[] = {"run", "flow.yaml", "--json",
				    "--log-level", "debug", NULL};
	struct e2e_result r;

	spate_in(&r, yaml, env, argv, NULL);
	cr_assert_eq(r.exit_code, 2, "%s", r.err);
	CONTAINS(r.err, "flow.yaml:10: stage 'g': option 'records'");
	CONTAINS(r.err, "tok-***");
	CONTAINS(r.out, "tok-***");
	CONTAINS(r.out, "\"status\":\"invalid\"");
	cr_assert_null(strstr(r.err, "s3cr3t"), "%s", r.err);
	cr_assert_null(strstr(r.out, "s3cr3t"), "%s", r.out);
	e2e_result_free(&r);
}

Test(params, literal_dollar_brace_and_expressions_stay)
{
	const char yaml[] =
	    "name: lit\n"
	    "stages:\n"
	    "  - id: src\n"
	    "    type: dev_raw_data\n"
	    "    data: '{\"a\": \"$${param:X}\", \"b\": 2}'\n"
	    "  - id: f\n"
	    "    type: stream_selector\n"
	    "    inputs: [src]\n"
	    "    lanes:\n"
	    "      big: '${record:value(\"/b\") > ${param:MIN}}'\n"
	    "  - {id: out, type: file_writer, inputs: [f.big], dir: out}\n"
	    "  - {id: t, type: trash, inputs: [f.default]}\n";
	const char *const argv[] = {"run", "flow.yaml", "--quiet", "--param",
				    "MIN=1", NULL};
	struct e2e_result r;
	char *dir;

	spate_in(&r, yaml, NULL, argv, &dir);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	char *text = e2e_read_out(dir, "out", NULL);
	cr_assert_str_eq(text, "{\"a\": \"${param:X}\", \"b\": 2}\n");
	free(text);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(functions, listed_as_text_and_json)
{
	const char *const text[] = {"functions", NULL};
	const char *const json[] = {"functions", "--json", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, NULL, NULL, NULL, text, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	CONTAINS(r.out, "time:trunc(millis, unit) -> long\n    the time cut "
			"down to the start of its year");
	CONTAINS(r.out, "str:toUpper(string) -> string\n");
	e2e_result_free(&r);

	e2e_run_timed(&r, NULL, NULL, NULL, json, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(r.out[0] == '[', "%s", r.out);
	CONTAINS(r.out, "{\"name\":\"time:now\",\"signature\":\"time:now() "
			"-> long\",\"doc\":\"the current time in "
			"milliseconds since 1970-01-01T00:00:00Z\","
			"\"example\":\"${time:now()}\"}");
	size_t n = 0;
	for (const char *p = r.out; (p = strstr(p, "{\"name\":")); p++)
		n++;
	cr_expect_eq(n, 27, "%zu functions", n);
	e2e_result_free(&r);
}
