/*
 * What flow.c (building and editing a flow) and flow_validate.c (turning
 * it into something the runtime can run) share.  Nothing outside flow/
 * includes this.
 */
#ifndef SPATE_FLOW_FLOW_INTERNAL_H
#define SPATE_FLOW_FLOW_INTERNAL_H

#include "flow/flow.h"
#include "config/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys of a stage map that are not options (also offered as suggestions
 * for misspelt options). */
static const char *const stage_keys[] = {
    "id", "type", "inputs", "event_inputs", "on_record_error", NULL,
};

static inline const char *kind_word(enum sp_stage_kind k)
{
	switch (k) {
	case SP_ORIGIN:
		return "an origin";
	case SP_PROCESSOR:
		return "a processor";
	case SP_DESTINATION:
		return "a destination";
	case SP_EXECUTOR:
		return "an executor";
	}
	return "a stage";
}

/* shared between the files of this module */
void flow_unbind(struct sp_flow *f);
const char *flow_suggest_stage_id(const struct sp_flow *f, const char *id);
/* The per-stage checks of validation (flow_check.c) on a flow whose
 * stages are bound: problems into d, their number returned. */
int flow_check_stages(struct sp_flow *f, struct sp_diags *d);

#endif
