/*
 * Exit codes that say what happened to the data: a run whose record
 * errors were discarded because the flow named no error stage (and did
 * not choose on_record_error: discard) finishes with exit 3, the count in
 * the summary, on stderr and in the --json status; choosing discard or
 * having an error stage gives 0.  Every output record is compared.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define INPUT "{\"a\":1}\nnot json\n{\"a\":2}\n[3]\n"

static void flow_with(struct e2e_flow *x, const char *reader_extra,
		      const char *error_stage)
{
	char yaml[1024];

	snprintf(yaml, sizeof(yaml),
		 "name: codes\n%s"
		 "stages:\n"
		 "  - id: src\n"
		 "    type: file_reader\n"
		 "    path: in.jsonl\n%s"
		 "  - {id: out, type: file_writer, inputs: [src], dir: out, "
		 "ordered: true}\n%s",
		 error_stage ? "error_stage: errs\n" : "", reader_extra,
		 error_stage ? error_stage : "");
	e2e_put_str(x->dir, "in.jsonl", INPUT);
	e2e_flow_run(x, yaml, NULL, NULL, NULL, NULL);
	e2e_flow_assert_out(x, "out", "{\"a\":1}\n{\"a\":2}\n");
}

/* No error stage, nothing chosen: the two bad lines are lost, and the
 * exit code, the status and the message say so. */
Test(exit_codes, discarded_by_default_exits_3)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};

	flow_with(&x, "", NULL);
	cr_assert_eq(x.r.exit_code, 3, "exit %d: %s", x.r.exit_code, x.r.err);
	cr_assert_str_eq(x.st.status, "finished");
	cr_assert_eq(x.st.discarded, 2);
	cr_assert_eq(e2e_flow_stage(&x, "src")->errors, 2);
	cr_assert(strstr(x.r.err, "spate: flow.yaml: 2 record errors were "
				  "discarded: the flow has no error_stage "
				  "to keep them (or set on_record_error: "
				  "discard on the stage to drop them on "
				  "purpose); exit 3\n"),
		  "%s", x.r.err);

	/* the summary of a run without --json counts them too */
	struct e2e_result r;
	const char *const argv[] = {"run", "flow.yaml", "--force", NULL};
	e2e_run_timed(&r, x.dir, NULL, NULL, argv, E2E_RUN_LIMIT_S);
	cr_assert_eq(r.exit_code, 3, "exit %d: %s", r.exit_code, r.err);
	cr_assert(strstr(r.err, "\ndiscarded: 2 record errors (no error "
				"stage)\n"),
		  "%s", r.err);
	e2e_result_free(&r);
	e2e_flow_done(&x);
}

/* on_record_error: discard is the flow's choice: exit 0. */
Test(exit_codes, chosen_discard_exits_0)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};

	flow_with(&x, "    on_record_error: discard\n", NULL);
	e2e_flow_assert_finished(&x);
	cr_assert_eq(x.st.discarded, 0);
	cr_assert_eq(e2e_flow_stage(&x, "src")->errors, 2);
	cr_assert_null(strstr(x.r.err, "discarded"), "%s", x.r.err);
	e2e_flow_done(&x);
}

/* With an error stage the records are kept there: exit 0. */
Test(exit_codes, error_stage_exits_0)
{
	struct e2e_flow x = {.dir = e2e_tmpdir()};

	flow_with(&x, "",
		  "  - {id: errs, type: file_writer, dir: errs, "
		  "ordered: true}\n");
	e2e_flow_assert_finished(&x);
	cr_assert_eq(x.st.discarded, 0);
	char *errs = e2e_flow_out(&x, "errs");
	cr_assert_eq(e2e_count_lines(errs, strlen(errs)), 2, "%s", errs);
	cr_assert(strstr(errs, "\"raw\":\"not json\""), "%s", errs);
	cr_assert(strstr(errs, "\"raw\":\"[3]\""), "%s", errs);
	free(errs);
	e2e_flow_done(&x);
}
