/*
 * The C SDK's handles (include/spate/spate.h) and what the SDK's files
 * share: sdk_flow.c (flows and stages), sdk_connect.c (connections),
 * sdk_config.c (configuration, predicates, validation, saving) and
 * sdk_run.c (running).  Everything edits the same sp_flow the YAML loader
 * builds, so an SDK flow and a flow file are interchangeable.  Handles
 * are kept in flow order: handle i wraps f->stages[i].
 */
#ifndef SPATE_SDK_SDK_INTERNAL_H
#define SPATE_SDK_SDK_INTERNAL_H

#include "spate/spate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/flow.h"
#include "runtime/runtime.h"
#include "stages/registry.h"
#include "config/yaml.h"

struct spate_stage {
	struct spate_flow *flow;
	struct sp_flow_stage *s;
};

struct spate_flow {
	struct sp_flow *f;
	struct spate_stage **h; /* h[i]->s == f->stages[i] */
	uint32_t cap;
	char error[512]; /* why the last configuration call failed */
};

/* shared between the files of this module */
extern sp_stage_lookup_fn sdk_lookup;
void sdk_diags_to_buf(const struct sp_diags *d, char *buf, size_t len);
bool sdk_strlist_drop(struct sp_strlist *l, const char *id, const char *lane,
		      bool any);
char *sdk_join(const char *a, const char *b, const char *c);

#endif
