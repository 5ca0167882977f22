/*
 * pipeline_finisher: stops the flow when a connected stage raises one of
 * the chosen events (by default no-more-data, as the StreamSets Pipeline
 * Finisher does).  The run then drains: in-flight batches finish and the
 * writers commit.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"

struct finisher_config {
	struct sp_strlist on;
};

struct finisher {
	const struct sp_strlist *on; /* in the config, valid until close */
	const struct sp_stage_ctx *ctx;
	char *id;
};

static const struct sp_option finisher_options[] = {
	{.name = "on",
	 .type = SP_OPT_STRING_LIST,
	 .def = "no-more-data",
	 .offset = offsetof(struct finisher_config, on),
	 .help = "event types that stop the flow, e.g. [no-more-data, "
		 "file-closed]"},
	{0},
};

static int finisher_create(const void *config, const struct sp_stage_ctx *ctx,
			   void **state, char *err, size_t errlen)
{
	const struct finisher_config *cfg = config;
	struct finisher *f = calloc(1, sizeof(*f));

	if (!f || !(f->id = strdup(ctx->id ? ctx->id : "?"))) {
		free(f);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	f->on = &cfg->on;
	f->ctx = ctx;
	*state = f;
	return 0;
}

static int finisher_on_event(void *state, const struct sp_event *ev)
{
	const struct finisher *f = state;
	char why[512];

	for (uint32_t i = 0; i < f->on->n; i++) {
		if (strcmp(f->on->v[i], ev->type) != 0)
			continue;
		snprintf(why, sizeof(why), "pipeline_finisher '%s': %s from "
			 "'%s'", f->id, ev->type, ev->stage ? ev->stage : "?");
		sp_stage_request_stop(f->ctx, why);
		return 0;
	}
	return 0;
}

static void finisher_close(void *state)
{
	struct finisher *f = state;

	if (!f)
		return;
	free(f->id);
	free(f);
}

const struct sp_stage_desc sp_stage_pipeline_finisher = {
	.abi = SP_STAGE_ABI,
	.name = "pipeline_finisher",
	.kind = SP_EXECUTOR,
	.help = "stops the flow when a connected stage raises an event (by "
		"default no-more-data)",
	.options = finisher_options,
	.config_size = sizeof(struct finisher_config),
	.create = finisher_create,
	.create_checks = true,
	.on_event = finisher_on_event,
	.close = finisher_close,
};
