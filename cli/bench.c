/*
 * `spate bench`: runs one flow with 1, 2, ... N workers and prints how
 * fast each run went - records/s, wall and CPU nanoseconds per record and
 * the speedup over one worker.  The default flow generates records, routes
 * them through a three-lane stream_selector and throws them away, so it
 * measures the engine (generation, expressions, fan-out, rings, workers)
 * without any disk.  With FLOW that flow runs as it is, unless
 * --origin-generator swaps its origins for dev_data_generator and its
 * destinations for trash.  Each run is an ordinary runtime (the same one
 * `spate run` uses) on the same validated flow.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "cli/cli.h"
#include "stages/registry.h"

#define DEFAULT_RECORDS 2000000

static const char bench_usage[] =
    "usage: spate bench [FLOW] [options]\n"
    "\n"
    "Runs a flow with 1, 2, ... N workers and prints records/s, wall and\n"
    "CPU nanoseconds per record and the speedup over one worker.\n"
    "Without FLOW the flow is built in: dev_data_generator ->\n"
    "stream_selector (lanes high, refund, default) -> trash, no disk I/O.\n"
    "\n"
    "options:\n"
    "  --workers-max N     run with 1..N workers (default: the CPUs spate\n"
    "                      may use)\n"
    "  --records N         records each generator makes per run (default\n"
    "                      2000000); needs a dev_data_generator origin\n"
    "  --origin-generator  with FLOW: replace its origins by\n"
    "                      dev_data_generator (default fields) and its\n"
    "                      destinations by trash, so the run reads and\n"
    "                      writes no files; executors stay\n"
    "  --set STAGE.OPTION=V  override an option of FLOW (repeatable)\n"
    "\n"
    "Without --origin-generator FLOW runs as it is, reading its input and\n"
    "writing its outputs on every run (as `spate run --force` would).\n"
    "\n"
    "examples:\n"
    "  spate bench\n"
    "  spate bench --workers-max 8 --records 10000000\n"
    "  spate bench examples/expenses.yaml --origin-generator\n";

static const char builtin_flow[] =
    "name: bench\n"
    "stages:\n"
    "  - id: gen\n"
    "    type: dev_data_generator\n"
    "  - id: split\n"
    "    type: stream_selector\n"
    "    inputs: [gen]\n"
    "    lanes:\n"
    "      high: '${record:value(\"/expense\") >= 10000}'\n"
    "      refund: '${record:value(\"/expense\") < 0}'\n"
    "  - id: sink\n"
    "    type: trash\n"
    "    inputs: [split.high, split.refund, split.default]\n";

struct bench_args {
	const char *flow;
	char **sets;
	int nsets;
	unsigned workers_max;
	int64_t records; /* -1: the default */
	bool origin_generator;
};

static int number(const char *opt, const char *s, int64_t lo, int64_t hi,
		  int64_t *out)
{
	char *end;
	long long v;

	errno = 0;
	v = strtoll(s, &end, 10);
	if (errno || end == s || *end || v < lo || v > hi) {
		fprintf(stderr,
			"spate: %s %s: give a number from %lld to "
			"%lld\n",
			opt, s, (long long)lo, (long long)hi);
		return -1;
	}
	*out = v;
	return 0;
}

/* -1: go on; else the exit code */
static int parse_args(int argc, char **argv, struct bench_args *a)
{
	const char *workers = NULL, *records = NULL, *pos[2];
	struct cli_multi sets = {NULL, 0};
	const struct cli_opt opts[] = {
	    {"--workers-max", &workers, NULL, NULL},
	    {"--records", &records, NULL, NULL},
	    {"--origin-generator", NULL, &a->origin_generator, NULL},
	    {"--set", NULL, NULL, &sets},
	    {NULL, NULL, NULL, NULL}};
	int npos;
	int64_t v;

	a->records = -1;
	int rc = cli_parse_args(argc, argv, opts, pos, 2, &npos, bench_usage);
	for (size_t i = 0; i < sets.n; i++)
		a->sets[a->nsets++] = (char *)sets.v[i];
	free(sets.v);
	if (rc >= 0)
		return rc;
	if (npos == 2) {
		fprintf(stderr,
			"spate: one flow file at a time ('%s' and '%s')\n",
			pos[0], pos[1]);
		return SPATE_EXIT_USAGE;
	}
	a->flow = npos ? pos[0] : NULL;
	if (workers) {
		if (number("--workers-max", workers, 1, 1024, &v))
			return SPATE_EXIT_USAGE;
		a->workers_max = (unsigned)v;
	}
	if (records) {
		if (number("--records", records, 1, 1000000000000000ll, &v))
			return SPATE_EXIT_USAGE;
		a->records = v;
	}
	if (!a->flow && (a->origin_generator || a->nsets)) {
		fprintf(stderr, "spate: %s needs a FLOW\n\n%s",
			a->origin_generator ? "--origin-generator" : "--set",
			bench_usage);
		return SPATE_EXIT_USAGE;
	}
	return -1;
}

/* ---- preparing the flow ---------------------------------------------- */

static int retype(struct sp_flow_stage *s, const char *type)
{
	char *t = strdup(type);
	struct sp_node *config = sp_node_map();

	if (!t || !config) {
		free(t);
		sp_node_free(config);
		return -ENOMEM;
	}
	free(s->type);
	s->type = t;
	sp_node_free(s->config);
	s->config = config;
	s->desc = NULL;
	return 0;
}

struct edit_ctx {
	const struct bench_args *a;
	uint32_t generators; /* dev_data_generator origins after the edit */
	int rc;
};

/* Before validation: swap origins and destinations when asked, and set
 * every generator's record count. */
static void edit(struct sp_flow *f, void *arg)
{
	struct edit_ctx *e = arg;

	for (uint32_t i = 0; i < f->nstages && !e->rc; i++) {
		struct sp_flow_stage *s = f->stages[i];
		const struct sp_stage_desc *d = sp_registry_lookup(
		    s->type, !s->inputs.n && !s->event_inputs.n);
		if (e->a->origin_generator && d && d->kind == SP_ORIGIN &&
		    strcmp(s->type, "dev_data_generator"))
			e->rc = retype(s, "dev_data_generator");
		if (e->a->origin_generator && d && d->kind == SP_DESTINATION &&
		    strcmp(s->type, "trash")) {
			e->rc = retype(s, "trash");
			/* trash takes no events */
			for (uint32_t k = 0; k < s->event_inputs.n; k++)
				free(s->event_inputs.v[k]);
			s->event_inputs.n = 0;
		}
		if (e->rc || strcmp(s->type, "dev_data_generator"))
			continue;
		e->generators++;
		int64_t n = e->a->records > 0 ? e->a->records : DEFAULT_RECORDS;
		struct sp_node *v;
		char text[32];
		if (e->a->records < 0 && sp_node_map_get(s->config, "records"))
			continue; /* the flow's own count */
		snprintf(text, sizeof(text), "%lld", (long long)n);
		v = sp_node_scalar(text);
		if (!v || (!s->config && !(s->config = sp_node_map())) ||
		    sp_node_map_set(s->config, "records", v)) {
			sp_node_free(v);
			e->rc = -ENOMEM;
		}
	}
}

static struct sp_flow *builtin(const struct bench_args *a)
{
	struct sp_diags d;
	struct sp_flow *f = NULL;
	struct edit_ctx e = {.a = a};

	sp_diags_init(&d, "bench");
	if (sp_flow_load_string(builtin_flow, "bench", &f, &d) == 0 && f &&
	    !d.n) {
		edit(f, &e);
		if (!e.rc && sp_flow_validate(f, sp_registry_lookup, &d) == 0) {
			sp_diags_fini(&d);
			return f;
		}
	}
	fprintf(stderr, "spate: bench: the built-in flow does not load\n");
	sp_diags_fini(&d);
	sp_flow_destroy(f);
	return NULL;
}

/* ---- running ----------------------------------------------------------- */

struct sample {
	unsigned workers;
	uint64_t records;
	double wall_s, cpu_s;
};

static double clock_s(clockid_t id)
{
	struct timespec ts;

	clock_gettime(id, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One run with w workers: 0, or 1 with the reason printed. */
static int run_once(struct sp_flow *f, unsigned w, struct sample *out)
{
	struct sp_run_options opt = {.workers = w, .force = true};
	struct sp_runtime *rt = NULL;
	struct sp_run_report rep;
	char err[1024] = "";
	enum sp_run_state state;

	if (sp_runtime_create(f, &opt, &rt, err, sizeof(err))) {
		fprintf(stderr, "spate: bench: %u workers: %s\n", w, err);
		return SPATE_EXIT_FAILED;
	}
	double t0 = clock_s(CLOCK_MONOTONIC);
	double c0 = clock_s(CLOCK_PROCESS_CPUTIME_ID);
	int rc = sp_runtime_start(rt, err, sizeof(err));
	state = sp_runtime_wait(rt);
	out->wall_s = clock_s(CLOCK_MONOTONIC) - t0;
	out->cpu_s = clock_s(CLOCK_PROCESS_CPUTIME_ID) - c0;
	out->workers = w;
	out->records = 0;
	if (rc) {
		fprintf(stderr, "spate: bench: %u workers: %s\n", w, err);
		sp_runtime_destroy(rt);
		return SPATE_EXIT_FAILED;
	}
	rc = sp_runtime_report(rt, &rep);
	if (rc == 0) {
		for (uint32_t i = 0; i < rep.nstages; i++)
			if (rep.stages[i].kind == SP_ORIGIN)
				out->records += rep.stages[i].in;
		if (state != SP_RUN_FINISHED || rep.accounting[0]) {
			fprintf(stderr,
				"spate: bench: %u workers: run %s%s%s\n", w,
				sp_run_state_name(state),
				rep.error[0] || rep.accounting[0] ? ": " : "",
				rep.error[0] ? rep.error : rep.accounting);
			rc = -1;
		}
		sp_run_report_fini(&rep);
	}
	sp_runtime_destroy(rt);
	return rc ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}

static void describe_flow(const struct sp_flow *f, char *out, size_t len)
{
	size_t n = 0;

	for (uint32_t i = 0; i < f->nstages && n < len; i++) {
		const struct sp_flow_stage *s = f->stages[i];
		int k = snprintf(out + n, len - n, "%s%s", i ? " -> " : "",
				 s->type);
		if (k > 0)
			n += (size_t)k;
		if (s->nlanes > 1 && n < len) {
			k = snprintf(out + n, len - n, " (%u lanes)",
				     s->nlanes);
			if (k > 0)
				n += (size_t)k;
		}
	}
}

int cli_bench(int argc, char **argv)
{
	struct bench_args a = {0};
	struct sp_flow *f;
	char what[512] = "";
	int rc;

	a.sets = calloc((size_t)argc + 1, sizeof(char *));
	if (!a.sets)
		return SPATE_EXIT_FAILED;
	rc = parse_args(argc, argv, &a);
	if (rc >= 0) {
		free(a.sets);
		return rc;
	}
	struct edit_ctx e = {.a = &a};
	if (a.flow)
		f = cli_load_flow_edit(a.flow, a.sets, a.nsets, edit, &e);
	else
		f = builtin(&a);
	free(a.sets);
	if (!f)
		return SPATE_EXIT_USAGE;
	if (e.rc) {
		fprintf(stderr, "spate: bench: %s\n", strerror(-e.rc));
		sp_flow_destroy(f);
		return SPATE_EXIT_FAILED;
	}
	if (a.records > 0 && !e.generators && a.flow) {
		fprintf(stderr,
			"spate: bench: --records needs a "
			"dev_data_generator origin; %s has none (add "
			"--origin-generator)\n",
			a.flow);
		sp_flow_destroy(f);
		return SPATE_EXIT_USAGE;
	}
	unsigned max = a.workers_max ? a.workers_max : sp_usable_cpus();
	describe_flow(f, what, sizeof(what));
	printf("flow '%s': %s\n", f->name, what);
	printf("%7s %12s %14s %12s %12s %8s\n", "workers", "records",
	       "records/s", "wall ns/rec", "cpu ns/rec", "speedup");
	fflush(stdout);

	double base = 0;
	rc = SPATE_EXIT_OK;
	for (unsigned w = 1; w <= max; w++) {
		struct sample s;
		rc = run_once(f, w, &s);
		if (rc)
			break;
		if (!s.records) {
			fprintf(stderr,
				"spate: bench: %u workers: the flow "
				"produced no records\n",
				w);
			rc = SPATE_EXIT_FAILED;
			break;
		}
		double wall = s.wall_s > 0 ? s.wall_s : 1e-9;
		double rate = (double)s.records / wall;
		if (w == 1)
			base = rate;
		printf("%7u %12llu %14.0f %12.1f %12.1f %7.2fx\n", w,
		       (unsigned long long)s.records, rate,
		       wall * 1e9 / (double)s.records,
		       s.cpu_s * 1e9 / (double)s.records, rate / base);
		fflush(stdout);
	}
	sp_flow_destroy(f);
	return rc;
}
