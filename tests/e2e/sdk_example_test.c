/*
 * examples/sdk_expenses: the expenses flow built and run with the C SDK.
 * Runs the built program, checks the status it prints (every stage's
 * counts add up, lanes match their writers) against the records it wrote
 * (read back and checked field by field), then that a rerun is skipped,
 * that `spate run` of the flow file it saved sees the same committed
 * output, and that --force replaces it with the same records.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define RECORDS 30000

/* e2e_run_timed starts $SPATE_BIN: point it at the example for one run. */
static void run_example(struct e2e_result *r, const char *const *argv)
{
	const char *build = getenv("SPATE_BUILD_DIR");
	char *spate, *prog;

	cr_assert_not_null(build, "SPATE_BUILD_DIR is not set");
	spate = strdup(e2e_spate());
	cr_assert_geq(asprintf(&prog, "%s/sdk_expenses", build), 0);
	setenv("SPATE_BIN", prog, 1);
	e2e_run_timed(r, NULL, NULL, NULL, argv, 120);
	setenv("SPATE_BIN", spate, 1);
	free(prog);
	free(spate);
}

struct stage_line {
	char id[32], type[32], kind[32];
	unsigned long long in, out, errors, dropped, bytes_out;
};

struct printed {
	char state[32];
	unsigned long long in, out, errors, dropped;
	int nstages;
	struct stage_line st[16];
	char lane[8][32];
	unsigned long long lane_records[8];
	int nlanes;
};

/* id type kind in out errors dropped bytes_out */
#define STAGE_FMT "%31s %31s %31s %llu %llu %llu %llu %llu"

static void parse_output(const char *out, struct printed *p)
{
	const char *line = out;

	memset(p, 0, sizeof(*p));
	while (line && *line) {
		struct stage_line *s = &p->st[p->nstages];
		char name[32];
		unsigned long long n;

		if (sscanf(line, "flow expenses: %31s", p->state) == 1) {
		} else if (sscanf(line, "records: %llu in, %llu out, %llu "
					"errors",
				  &p->in, &p->out, &p->errors) == 3) {
			const char *d = strstr(line, "stage), ");
			cr_assert_not_null(d);
			p->dropped = strtoull(d + 8, NULL, 10);
		} else if (sscanf(line, "  lane %31s %llu", name, &n) == 2) {
			cr_assert_lt(p->nlanes, 8);
			strcpy(p->lane[p->nlanes], name);
			p->lane_records[p->nlanes++] = n;
		} else if (strncmp(line, "stage ", 6) != 0 &&
			   sscanf(line, STAGE_FMT, s->id, s->type, s->kind,
				  &s->in, &s->out, &s->errors, &s->dropped,
				  &s->bytes_out) == 8) {
			cr_assert_lt(p->nstages, 15);
			p->nstages++;
		}
		line = strchr(line, '\n');
		if (line)
			line++;
	}
}

static const struct stage_line *stage(const struct printed *p,
				      const char *id)
{
	for (int i = 0; i < p->nstages; i++)
		if (strcmp(p->st[i].id, id) == 0)
			return &p->st[i];
	cr_assert_fail("no stage %s in the output", id);
	return NULL;
}

static unsigned long long lane(const struct printed *p, const char *name)
{
	for (int i = 0; i < p->nlanes; i++)
		if (strcmp(p->lane[i], name) == 0)
			return p->lane_records[i];
	cr_assert_fail("no lane %s in the output", name);
	return 0;
}

/* The records of dir/sub: each checked against the lane's predicate and
 * the field edits; returns how many there are. */
static size_t check_records(const char *dir, const char *sub)
{
	char *path, *text, *line;
	size_t len, n = 0;

	cr_assert_geq(asprintf(&path, "%s/%s", dir, sub), 0);
	cr_assert_eq(e2e_count_files(path, "_manifest.json", false), 1,
		     "%s has no manifest", path);
	text = e2e_read_dir(path, ".jsonl.zst", &len);
	cr_assert_not_null(text);
	for (line = text; *line; n++) {
		char *nl = strchr(line, '\n');
		const char *e = strstr(line, "\"expense\":");

		cr_assert_not_null(nl);
		*nl = '\0';
		cr_assert_not_null(e, "%s", line);
		double v = strtod(e + 10, NULL);
		if (strcmp(sub, "high") == 0)
			cr_assert_geq(v, 10000, "%s", line);
		else if (strcmp(sub, "low") == 0)
			cr_assert_lt(v, -10000, "%s", line);
		else
			cr_assert(v < 10000 && v >= -10000, "%s", line);
		cr_assert_not_null(strstr(line, "\"user_name\":"), "%s", line);
		cr_assert_null(strstr(line, "\"user\":"), "%s", line);
		cr_assert_null(strstr(line, "\"tags\":"), "%s", line);
		line = nl + 1;
	}
	free(text);
	free(path);
	return n;
}

static char *sorted_output(const char *dir, const char *sub)
{
	char *path, *text;
	size_t len;

	cr_assert_geq(asprintf(&path, "%s/%s", dir, sub), 0);
	text = e2e_read_dir(path, ".jsonl.zst", &len);
	e2e_sort_lines(text, len);
	free(path);
	return text;
}

Test(sdk_example, builds_runs_and_reports_the_expenses_flow,
     .timeout = 300)
{
	char *tmp = e2e_tmpdir(), *out, *yaml, *before, *after;
	const char *argv[] = {"--workers", "2", NULL, "30000", NULL};
	struct e2e_result r;
	struct printed p;

	cr_assert_geq(asprintf(&out, "%s/out", tmp), 0);
	argv[2] = out;
	run_example(&r, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	parse_output(r.out, &p);
	cr_assert_str_eq(p.state, "finished", "%s", r.out);
	cr_assert_eq(p.in, RECORDS);
	cr_assert_eq(p.out, RECORDS);
	cr_assert_eq(p.errors, 0);
	cr_assert_eq(p.dropped, 0);
	cr_assert_eq(p.nstages, 9, "%s", r.out);
	for (int i = 0; i < p.nstages; i++) {
		const struct stage_line *s = &p.st[i];
		if (strcmp(s->kind, "executor") != 0)
			cr_assert_eq(s->in, s->out + s->errors + s->dropped,
				     "stage %s", s->id);
	}
	cr_assert_str_eq(stage(&p, "src")->type, "dev_data_generator");
	cr_assert_eq(stage(&p, "src")->out, RECORDS);
	cr_assert_eq(stage(&p, "drop")->in, RECORDS);
	cr_assert_eq(stage(&p, "rename")->out, RECORDS);
	cr_assert_eq(stage(&p, "split")->in, RECORDS);
	cr_assert_eq(p.nlanes, 3);
	cr_assert_eq(lane(&p, "high") + lane(&p, "low") + lane(&p, "default"),
		     RECORDS);
	cr_assert_eq(stage(&p, "out_high")->in, lane(&p, "high"));
	cr_assert_eq(stage(&p, "out_low")->in, lane(&p, "low"));
	cr_assert_eq(stage(&p, "out_rest")->in, lane(&p, "default"));
	cr_assert_eq(stage(&p, "errors")->in, 0);
	/* pipeline_finisher got src's no-more-data event */
	cr_assert_eq(stage(&p, "done")->in, 1);
	cr_assert_gt(stage(&p, "out_high")->bytes_out, 0);

	/* what it wrote is what it counted, with the edits applied */
	cr_assert_eq(check_records(out, "high"), lane(&p, "high"));
	cr_assert_eq(check_records(out, "low"), lane(&p, "low"));
	cr_assert_eq(check_records(out, "rest"), lane(&p, "default"));
	cr_assert(lane(&p, "high") > 0 && lane(&p, "low") > 0);
	before = sorted_output(out, "high");
	e2e_result_free(&r);

	/* a rerun finds its output committed */
	run_example(&r, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	parse_output(r.out, &p);
	cr_assert_str_eq(p.state, "skipped", "%s", r.out);
	cr_assert_eq(p.in, 0);
	cr_assert(strstr(r.err, "already holds the committed output"), "%s",
		  r.err);
	e2e_result_free(&r);

	/* so does `spate run` of the flow file the program saved: an SDK
	 * flow and its YAML are the same flow */
	cr_assert_geq(asprintf(&yaml, "%s/expenses.yaml", out), 0);
	e2e_run_timed(&r, NULL, NULL, NULL,
		      (const char *const[]){"run", yaml, NULL}, 120);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert(strstr(r.err, "skipped"), "%s", r.err);
	e2e_result_free(&r);

	/* --force replaces it with the same records */
	const char *force[] = {"--force", "--workers", "2", out, "30000",
			       NULL};
	run_example(&r, force);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	parse_output(r.out, &p);
	cr_assert_str_eq(p.state, "finished", "%s", r.out);
	cr_assert_eq(p.out, RECORDS);
	after = sorted_output(out, "high");
	cr_assert_str_eq(after, before);
	e2e_result_free(&r);

	free(before);
	free(after);
	free(yaml);
	free(out);
	e2e_rmrf(tmp);
	free(tmp);
}

Test(sdk_example, rejects_bad_arguments)
{
	struct e2e_result r;

	run_example(&r, (const char *const[]){"--bogus", NULL});
	cr_assert_eq(r.exit_code, 2);
	cr_assert(strstr(r.err, "usage: sdk_expenses"), "%s", r.err);
	e2e_result_free(&r);
}
