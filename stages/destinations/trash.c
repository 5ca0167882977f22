/*
 * trash: a destination that takes every record and writes nothing, for
 * benchmarks (`spate bench`) and for flows that only count or test.  The
 * engine still counts what reaches it.
 */
#include <stddef.h>

#include "stage_api/stage.h"

/* no options; a non-empty struct keeps config allocation ordinary */
struct trash_config {
	int unused;
};

static const struct sp_option trash_options[] = {
	{0},
};

static int trash_create(const void *config, const struct sp_stage_ctx *ctx,
			void **state, char *err, size_t errlen)
{
	*state = NULL;
	return 0;
}

static int trash_stage_batch(void *state, void *wstate, struct sp_batch *b,
			     const uint32_t *sel, uint32_t n)
{
	return 0;
}

static int64_t trash_batch_end(void *state, void *wstate, uint64_t seq)
{
	return 0;
}

const struct sp_stage_desc sp_stage_trash = {
	.abi = SP_STAGE_ABI,
	.name = "trash",
	.kind = SP_DESTINATION,
	.help = "discards records (counted, not written)",
	.options = trash_options,
	.config_size = sizeof(struct trash_config),
	.create = trash_create,
	.create_checks = true,
	.stage_batch = trash_stage_batch,
	.batch_end = trash_batch_end,
	.run_id_at_start = sp_stage_no_run_id_at_start,
};
