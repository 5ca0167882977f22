/*
 * Allocation-failure loops for the create paths (SQLite's habit): for
 * N = 1, 2, ... the Nth allocation made by spate's own code fails, until
 * the create succeeds.  Each failing try must return an error (never
 * crash, never report success with half a state) and free what it took;
 * the ASan build's leak check at exit sees any leak.  malloc, calloc and
 * realloc are wrapped at link time (-Wl,--wrap), so the allocations of
 * spate's objects are counted, not those of libc or other libraries.
 */
#include <criterion/criterion.h>
#include <execinfo.h>
#include <unistd.h>
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"
#include "runtime/runtime.h"
#include "stages/registry.h"
#include "support/stage_harness.h"

void *__real_malloc(size_t n);
void *__real_calloc(size_t k, size_t n);
void *__real_realloc(void *p, size_t n);
void *__wrap_malloc(size_t n);
void *__wrap_calloc(size_t k, size_t n);
void *__wrap_realloc(void *p, size_t n);

static long countdown = -1; /* allocations left before one fails; -1: off */

/* The allocation that fails; with SPATE_ALLOC_BT set, its backtrace goes
 * to stderr (addr2line -f -e THIS_TEST ADDRESS names the places). */
__attribute__((noinline)) static bool failing(void)
{
	if (getenv("SPATE_ALLOC_BT")) {
		void *bt[16];
		int n = backtrace(bt, 16);

		(void)!write(2, "failing allocation:\n", 20);
		backtrace_symbols_fd(bt, n, 2);
	}
	return true;
}

static bool fail_now(void)
{
	if (countdown < 0)
		return false;
	return countdown-- == 0 && failing();
}

void *__wrap_malloc(size_t n)
{
	return fail_now() ? NULL : __real_malloc(n);
}

void *__wrap_calloc(size_t k, size_t n)
{
	return fail_now() ? NULL : __real_calloc(k, n);
}

void *__wrap_realloc(void *p, size_t n)
{
	return fail_now() ? NULL : __real_realloc(p, n);
}

/* Arms the failure at the nth allocation from now (0: the next one). */
static void fail_at(long n)
{
	countdown = n;
}

static bool failure_used(void)
{
	bool used = countdown < 0;

	countdown = -1;
	return used;
}

static const struct {
	const char *type, *yaml;
} stages[] = {
	{"field_remover", "fields: [/a, /b]"},
	{"field_renamer", "fields: {/a: /x, /b: /y}"},
	{"field_setter", "fields: {/a: '${record:value(\"/b\") * 2}', /c: x}"},
	{"filter", "condition: '${str:matches(record:value(\"/s\"), \"^a.*z$\")}'"},
	{"field_type_converter", "fields: {/a: int, /b: double, /c: string}"},
	{"stream_selector",
	 "lanes: {hi: '${record:value(\"/e\") >= 10}', lo: '${record:value(\"/e\") < 0}'}"},
	{"dev_raw_data", "data: \"{\\\"a\\\":1}\\n\""},
	{"dev_data_generator", "records: 10"},
	
};

Test(alloc_fail, stage_create_and_worker_state)
{
	for (size_t k = 0; k < sizeof(stages) / sizeof(stages[0]); k++) {
		const struct sp_stage_desc *d = sp_registry_find(stages[k].type);
		long tries = 0;

		cr_assert_not_null(d, "%s", stages[k].type);
		for (;; tries++) {
			struct stage_harness h;

			cr_assert_eq(stage_harness_bind(&h, d, NULL,
							stages[k].yaml),
				     0, "%s: %s", stages[k].type, h.err);
			fail_at(tries);
			/* a worker state that failed counts as a failed
			 * create (-ENOMEM) */
			int rc = stage_harness_create(&h, 1);
			bool used = failure_used();

			cr_assert(used || rc == 0, "%s: %s", stages[k].type,
				  h.err);
			cr_assert(!used || rc < 0,
				  "%s: allocation %ld failed but create "
				  "reported success",
				  stages[k].type, tries + 1);
			stage_harness_close(&h);
			if (!used)
				break;
		}
		cr_assert_gt(tries, 0, "%s allocates nothing?", stages[k].type);
	}
}

static const char flow_yaml[] =
	"name: f\n"
	"error_stage: errs\n"
	"stages:\n"
	"  - {id: src, type: dev_data_generator, records: 100}\n"
	"  - {id: drop, type: field_remover, inputs: [src], fields: [/x]}\n"
	"  - id: split\n"
	"    type: stream_selector\n"
	"    inputs: [drop]\n"
	"    lanes: {hi: '${record:value(\"/n\") >= 10}'}\n"
	"  - {id: a, type: trash, inputs: [split.hi]}\n"
	"  - {id: b, type: trash, inputs: [split.default]}\n"
	"  - {id: errs, type: trash}\n";

/* Loads and validates flow_yaml; 0 only when there are no problems. */
static int load(struct sp_flow **f, struct sp_diags *d)
{
	int rc = sp_flow_load_string(flow_yaml, "f.yaml", f, d);

	if (rc == 0 && d->n)
		rc = -EINVAL; /* a flow with problems is not loaded */
	if (rc == 0)
		rc = sp_flow_validate(*f, sp_registry_lookup, d);
	if (rc == 0 && d->n)
		rc = -EINVAL;
	return rc;
}

static char *saved(const struct sp_flow *f)
{
	struct sp_buf b;

	sp_buf_init(&b);
	cr_assert_eq(sp_flow_save_yaml(f, &b), 0);
	sp_buf_putc(&b, '\0');
	return b.data;
}

/* A load that survives a failed allocation (one it could do without)
 * must give the same flow as one without failures: nothing dropped. */
Test(alloc_fail, flow_load_and_validate)
{
	struct sp_flow *f = NULL;
	struct sp_diags d;
	long tries = 0;

	sp_diags_init(&d, NULL);
	cr_assert_eq(load(&f, &d), 0);
	char *want = saved(f);
	sp_flow_destroy(f);
	sp_diags_fini(&d);
	for (;; tries++) {
		f = NULL;
		sp_diags_init(&d, NULL);
		fail_at(tries);
		int rc = load(&f, &d);
		bool used = failure_used();
		if (rc == 0) {
			char *got = saved(f);
			cr_assert_str_eq(got, want, "allocation %ld failed",
					 tries + 1);
			free(got);
		}
		sp_flow_destroy(f);
		sp_diags_fini(&d);
		if (!used) {
			cr_assert_eq(rc, 0);
			break;
		}
	}
	free(want);
	cr_assert_gt(tries, 10);
}

/* Creating a run's stages and threads' state: errors, never crashes or
 * leaks, whichever allocation fails. */
Test(alloc_fail, runtime_create)
{
	long tries = 0;

	for (;; tries++) {
		struct sp_flow *f = NULL;
		struct sp_runtime *rt = NULL;
		struct sp_diags d;
		struct sp_run_options opt = {.workers = 1, .no_pin = true};
		char err[512] = "";

		sp_diags_init(&d, NULL);
		cr_assert_eq(load(&f, &d), 0);
		fail_at(tries);
		int rc = sp_runtime_create(f, &opt, &rt, err, sizeof(err));
		bool used = failure_used();
		cr_assert(rc == 0 || (rc < 0 && !rt && err[0]),
			  "allocation %ld: rc %d without a message", tries + 1,
			  rc);
		sp_runtime_destroy(rt);
		sp_flow_destroy(f);
		sp_diags_fini(&d);
		if (!used) {
			cr_assert_eq(rc, 0, "%s", err);
			break;
		}
	}
	cr_assert_gt(tries, 5);
}
