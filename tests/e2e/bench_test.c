/*
 * End-to-end tests of `spate bench`: the built-in flow over 1..N workers
 * (a row per worker count whose numbers agree with each other), a flow
 * file with --origin-generator (no file read or written), a flow file as
 * it is, and its usage errors.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define LIMIT_S 120

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

struct row {
	unsigned workers;
	unsigned long long records;
	double rate, wall_ns, cpu_ns, speedup;
};

static bool matches_header(const char *line)
{
	char h[6][32];

	return sscanf(line, "%31s %31s %31s %31s ns/rec %31s ns/rec %31s", h[0],
		      h[1], h[2], h[3], h[4], h[5]) == 6 &&
	       !strcmp(h[0], "workers") && !strcmp(h[1], "records") &&
	       !strcmp(h[2], "records/s") && !strcmp(h[3], "wall") &&
	       !strcmp(h[4], "cpu") && !strcmp(h[5], "speedup");
}

/* Checks the header and parses the rows that follow it. */
static int parse_table(const char *out, struct row *rows, int max)
{
	const char *p = strstr(out, "\nworkers ");
	int n = 0;

	cr_assert_not_null(p, "no table header in\n%s", out);
	cr_assert(matches_header(p + 1), "%s", out);
	p = strchr(p + 1, '\n');
	while (p && p[1] && n < max) {
		struct row *r = &rows[n];
		char x;
		cr_assert_eq(sscanf(p + 1, "%u %llu %lf %lf %lf %lf%c",
				    &r->workers, &r->records, &r->rate,
				    &r->wall_ns, &r->cpu_ns, &r->speedup, &x),
			     7, "bad row: %.80s", p + 1);
		cr_assert_eq(x, 'x');
		n++;
		p = strchr(p + 1, '\n');
	}
	return n;
}

static void check_rows(const struct row *rows, int n,
		       unsigned long long records)
{
	for (int i = 0; i < n; i++) {
		const struct row *r = &rows[i];
		cr_assert_eq(r->workers, (unsigned)i + 1);
		cr_assert_eq(r->records, records, "row %d", i);
		cr_assert_gt(r->rate, 0);
		cr_assert_gt(r->wall_ns, 0);
		cr_assert_gt(r->cpu_ns, 0);
		/* records/s and wall ns/record describe the same time */
		cr_assert(fabs(r->rate * r->wall_ns / 1e9 - 1) <
			      0.001 + 0.5 / r->rate,
			  "%g records/s vs %g ns/record", r->rate, r->wall_ns);
		/* speedup is the rate over the one-worker rate (both rates
		 * are printed rounded to a record/s, the speedup to 0.01) */
		double q = r->rate / rows[0].rate;
		double tol = 0.0051 + q * (0.5 / r->rate + 0.5 / rows[0].rate);
		cr_assert(fabs(r->speedup - q) <= tol,
			  "row %d: speedup %g, rates %g / %g", i, r->speedup,
			  r->rate, rows[0].rate);
	}
	cr_assert_eq(rows[0].speedup, 1.0);
}

Test(bench, builtin_flow_over_1_to_n_workers)
{
	static const char *const argv[] = {"bench",	"--workers-max", "3",
					   "--records", "30000",	 NULL};
	struct e2e_result r;
	struct row rows[8];

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	static const char head[] = "flow 'bench': dev_data_generator -> "
				   "stream_selector (3 lanes) -> trash\n";
	cr_assert(strncmp(r.out, head, strlen(head)) == 0, "%s", r.out);
	int n = parse_table(r.out, rows, 8);
	cr_assert_eq(n, 3, "%s", r.out);
	check_rows(rows, n, 30000);
	cr_assert_str_eq(r.err, "");
	e2e_result_free(&r);
}

static const char expenses_like[] =
    "name: files\n"
    "stages:\n"
    "  - id: src\n"
    "    type: file_reader\n"
    "    path: data/*.jsonl\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [src]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/expense\") >= 10000}'\n"
    "  - {id: out_high, type: file_writer, inputs: [split.high], dir: "
    "out/high}\n"
    "  - {id: out_rest, type: file_writer, inputs: [split.default], dir: "
    "out/rest}\n"
    "  - {id: done, type: pipeline_finisher, event_inputs: [src]}\n";

Test(bench, origin_generator_reads_and_writes_no_file)
{
	char *dir = e2e_tmpdir();
	free(e2e_write(dir, "flow.yaml", expenses_like, strlen(expenses_like)));
	static const char *const argv[] = {
	    "bench",	 "flow.yaml", "--origin-generator",
	    "--records", "7000",      "--workers-max",
	    "2",	 NULL};
	struct e2e_result r;
	struct row rows[8];

	/* data/ does not exist: reading it would fail the run */
	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	CONTAINS(r.out, "flow 'files': dev_data_generator -> stream_selector "
			"(2 lanes) -> trash -> trash -> pipeline_finisher\n");
	int n = parse_table(r.out, rows, 8);
	cr_assert_eq(n, 2);
	check_rows(rows, n, 7000);
	/* nothing written: only the flow file is there */
	cr_assert_eq(e2e_count_files(dir, NULL, true), 1);
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

static const char raw_flow[] = "name: raw\n"
			       "stages:\n"
			       "  - id: src\n"
			       "    type: dev_raw_data\n"
			       "    data: |\n"
			       "      {\"a\": 1}\n"
			       "      {\"a\": 2}\n"
			       "      {\"a\": 3}\n"
			       "  - {id: sink, type: trash, inputs: [src]}\n";

Test(bench, flow_as_it_is)
{
	char *dir = e2e_tmpdir();
	free(e2e_write(dir, "flow.yaml", raw_flow, strlen(raw_flow)));
	static const char *const argv[] = {"bench", "flow.yaml",
					   "--workers-max", "2", NULL};
	static const char *const recs[] = {"bench", "flow.yaml", "--records",
					   "10", NULL};
	struct e2e_result r;
	struct row rows[8];

	e2e_run_timed(&r, dir, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	CONTAINS(r.out, "flow 'raw': dev_raw_data -> trash\n");
	int n = parse_table(r.out, rows, 8);
	cr_assert_eq(n, 2);
	check_rows(rows, n, 3);
	e2e_result_free(&r);

	/* --records needs a generator */
	e2e_run_timed(&r, dir, NULL, NULL, recs, LIMIT_S);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "--records needs a dev_data_generator origin; "
			"flow.yaml has none (add --origin-generator)");
	cr_assert_str_eq(r.out, "");
	e2e_result_free(&r);
	e2e_rmrf(dir);
	free(dir);
}

Test(bench, usage_errors)
{
	static const char *const cases[][4] = {
	    {"bench", "--workers-max", "0", NULL},
	    {"bench", "--workers-max", "1025", NULL},
	    {"bench", "--records", "0", NULL},
	    {"bench", "--records", "12x", NULL},
	    {"bench", "--origin-generator", NULL},
	    {"bench", "--recrods", "5", NULL},
	    {"bench", "no-such-flow.yaml", NULL},
	};
	static const char *const msgs[] = {
	    "--workers-max 0: give a number from 1 to 1024",
	    "--workers-max 1025: give a number from 1 to 1024",
	    "--records 0: give a number from 1 to",
	    "--records 12x: give a number from 1 to",
	    "--origin-generator needs a FLOW",
	    "unknown option '--recrods' (did you mean '--records'?)",
	    "no-such-flow.yaml",
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct e2e_result r;
		e2e_run_timed(&r, NULL, NULL, NULL, cases[i], LIMIT_S);
		cr_assert_eq(r.exit_code, 2, "case %zu: %s", i, r.err);
		CONTAINS(r.err, msgs[i]);
		cr_assert_str_eq(r.out, "");
		e2e_result_free(&r);
	}
}
