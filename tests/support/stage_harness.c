/*
 * The stage harness of the unit tests (stage_harness.h): bind, create
 * and close one stage through its descriptor, as the runtime does, so
 * that each stage's test says only what is its own.
 */
#include "stage_harness.h"

#include <criterion/criterion.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "config/options.h"
#include "config/yaml.h"

int stage_harness_bind(struct stage_harness *h,
		       const struct sp_stage_desc *desc,
		       struct sp_symtab *symtab, const char *yaml)
{
	struct sp_diags diags;
	struct sp_node *map;
	char perr[256] = "";
	int problems;

	memset(h, 0, sizeof(*h));
	cr_assert_not_null(desc, "no stage descriptor for %s", yaml);
	h->desc = desc;
	h->own_symtab = !symtab;
	h->symtab = symtab ? symtab : sp_symtab_create();
	cr_assert_not_null(h->symtab);
	h->config = calloc(1, desc->config_size ? desc->config_size : 1);
	cr_assert_not_null(h->config);
	map = sp_node_parse_yaml(yaml, perr, sizeof(perr));
	cr_assert_not_null(map, "bad test yaml: %s", perr);
	sp_diags_init(&diags, NULL);
	problems = sp_options_bind(desc->options, map, NULL, h->config, "t",
				   h->symtab, &diags);
	if (diags.n) {
		struct sp_buf msg;

		sp_buf_init(&msg);
		sp_diag_format(&diags, 0, &msg);
		snprintf(h->err, sizeof(h->err), "%.*s", (int)msg.len,
			 msg.data ? msg.data : "");
		sp_buf_fini(&msg);
	}
	sp_diags_fini(&diags);
	sp_node_free(map);
	return problems;
}

int stage_harness_create(struct stage_harness *h, unsigned workers)
{
	const struct sp_stage_desc *d = h->desc;
	void *state = NULL;
	int rc;

	cr_assert(d && h->config && !h->state, "create before a bind");
	h->ctx = (struct sp_stage_ctx){.flow = "f", .id = "t",
				       .symtab = h->symtab,
				       .workers = workers};
	rc = d->create(h->config, &h->ctx, &state, h->err, sizeof(h->err));
	if (rc)
		return rc;
	/* only a created stage is closed, as the flow check does */
	h->state = state;
	if (d->worker_create) {
		h->ws = d->worker_create(h->state, 0);
		if (!h->ws) {
			snprintf(h->err, sizeof(h->err),
				 "worker 0: no worker state");
			return -ENOMEM;
		}
	}
	h->nlanes = d->lanes ? d->lanes(h->config, h->lanes, SP_MAX_LANES)
			     : 1;
	return 0;
}

int stage_harness_open(struct stage_harness *h,
		       const struct sp_stage_desc *desc,
		       struct sp_symtab *symtab, const char *yaml)
{
	cr_assert_eq(stage_harness_bind(h, desc, symtab, yaml), 0, "bind: %s",
		     h->err);
	return stage_harness_create(h, 1);
}

void stage_harness_close(struct stage_harness *h)
{
	const struct sp_stage_desc *d = h->desc;

	if (!d)
		return;
	if (h->ws && d->worker_destroy)
		d->worker_destroy(h->state, h->ws);
	if (h->state && d->close)
		d->close(h->state);
	if (h->config)
		sp_options_free(d->options, h->config);
	free(h->config);
	if (h->own_symtab)
		sp_symtab_destroy(h->symtab);
	memset(h, 0, sizeof(*h));
}
