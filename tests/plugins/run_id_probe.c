/*
 * run_id_probe: test stages that read ctx->run_id in start() and fail
 * the run when it is still empty there, as a plugin built before the run
 * id could be taken after the data would (doc/design.md, "When the run
 * id is taken").
 *
 *   run_id_probe_v3    a processor built for stage ABI 3: its start may
 *                      read the run id, so the engine takes it before
 *   run_id_probe_dest  an ABI 4 destination without run_id_at_start:
 *                      needs the id at start, like one that compares it
 *                      with its target there
 *
 * Both pass their records on (the destination takes them without writing)
 * and log the id they saw, "run_id_probe saw run id <hex>".
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "stage_api/stage.h"

struct probe_config {
	int unused;
};

static const struct sp_option probe_options[] = {
	{0},
};

static int probe_create(const void *config, const struct sp_stage_ctx *ctx,
			void **state, char *err, size_t errlen)
{
	(void)config;
	(void)err;
	(void)errlen;
	*state = (void *)ctx;
	return 0;
}

static int probe_start(void *state, char *err, size_t errlen)
{
	const struct sp_stage_ctx *ctx = state;

	if (!ctx->run_id || !ctx->run_id[0]) {
		snprintf(err, errlen, "the run id is empty at start");
		return -EPROTO;
	}
	sp_stage_log(ctx, SP_LOG_INFO, "run_id_probe saw run id %s",
		     ctx->run_id);
	return 0;
}

static int probe_process(void *state, void *wstate, struct sp_batch *b,
			 const uint32_t *in, uint32_t n,
			 struct sp_selection *out)
{
	(void)state;
	(void)wstate;
	(void)b;
	for (uint32_t k = 0; k < n; k++)
		out[0].idx[k] = in[k];
	out[0].n = n;
	return 0;
}

static int probe_stage_batch(void *state, void *wstate, struct sp_batch *b,
			     const uint32_t *sel, uint32_t n)
{
	(void)state;
	(void)wstate;
	(void)b;
	(void)sel;
	(void)n;
	return 0;
}

static int64_t probe_batch_end(void *state, void *wstate, uint64_t seq)
{
	(void)state;
	(void)wstate;
	(void)seq;
	return 0;
}

static const struct sp_stage_desc probe_v3_desc = {
	.abi = 3,
	.name = "run_id_probe_v3",
	.kind = SP_PROCESSOR,
	.help = "fails when the run id is empty at start (test, ABI 3)",
	.options = probe_options,
	.config_size = sizeof(struct probe_config),
	.create = probe_create,
	.start = probe_start,
	.process = probe_process,
};

static const struct sp_stage_desc probe_dest_desc = {
	.abi = SP_STAGE_ABI,
	.name = "run_id_probe_dest",
	.kind = SP_DESTINATION,
	.help = "fails when the run id is empty at start (test destination)",
	.options = probe_options,
	.config_size = sizeof(struct probe_config),
	.create = probe_create,
	.start = probe_start,
	.stage_batch = probe_stage_batch,
	.batch_end = probe_batch_end,
};

const struct sp_stage_desc *const spate_stage_descriptors[] = {
	&probe_v3_desc,
	&probe_dest_desc,
	NULL,
};
