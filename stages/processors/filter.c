/*
 * filter: passes on the records for which a condition holds and drops the
 * others (the engine counts them as dropped).  The condition is compiled
 * once, when the options are bound, and evaluated over the whole batch;
 * a record where it cannot be evaluated becomes a record error.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>

#include "expr/expr.h"
#include "stage_api/stage.h"

struct filter_config {
	struct sp_expr *condition;
};

struct filter {
	const struct sp_expr *cond; /* the config's */
};

static const struct sp_option filter_options[] = {
	{.name = "condition",
	 .type = SP_OPT_EXPR,
	 .required = true,
	 .offset = offsetof(struct filter_config, condition),
	 .help = "records where this is true pass, the others are dropped, "
		 "e.g. '${record:value(\"/status\") != \"test\"}'"},
	{0},
};

static void filter_close(void *state)
{
	struct filter *f = state;

	free(f);
}

static int filter_create(const void *config, const struct sp_stage_ctx *ctx,
			 void **state, char *err, size_t errlen)
{
	const struct filter_config *cfg = config;
	struct filter *f = calloc(1, sizeof(*f));

	if (!f) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->cond = cfg->condition;
	*state = f;
	return 0;
}

static void *filter_worker_create(void *state, unsigned worker)
{
	return sp_expr_ctx_create();
}

static void filter_worker_destroy(void *state, void *wstate)
{
	sp_expr_ctx_destroy(wstate);
}

static int filter_process(void *state, void *wstate, struct sp_batch *b,
			  const uint32_t *in, uint32_t n,
			  struct sp_selection *out)
{
	const struct filter *f = state;
	uint32_t nerr = 0;

	/* Records the condition cannot be evaluated on are appended to
	 * b->errors by sp_expr_select; the runtime applies on_record_error
	 * to them, so they are counted as errors, never as dropped. */
	out[0].n = sp_expr_select(f->cond, wstate, b, in, n, out[0].idx,
				  &nerr);
	return 0;
}

const struct sp_stage_desc sp_stage_filter = {
	.abi = SP_STAGE_ABI,
	.name = "filter",
	.kind = SP_PROCESSOR,
	.help = "keeps the records for which a condition is true",
	.options = filter_options,
	.config_size = sizeof(struct filter_config),
	.may_drop = true,
	.create = filter_create,
	.worker_create = filter_worker_create,
	.worker_destroy = filter_worker_destroy,
	.process = filter_process,
	.close = filter_close,
};
