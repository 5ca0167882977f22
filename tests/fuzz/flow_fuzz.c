/*
 * Fuzzes the flow loader: arbitrary bytes as a flow file, then validation
 * against stand-in stage types, then the save round trip, which must hold
 * for every flow that loads cleanly: save -> load gives no problems and
 * saves to the same bytes.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "flow/flow.h"

struct sel_cfg {
	struct sp_strmap lanes;
	int mode;
};

static const char *const modes[] = { "all", "first_match", NULL };
static const struct sp_option sel_opts[] = {
	{ .name = "lanes", .type = SP_OPT_MAP, .required = true,
	  .offset = offsetof(struct sel_cfg, lanes) },
	{ .name = "mode", .type = SP_OPT_ENUM, .def = "all", .choices = modes,
	  .offset = offsetof(struct sel_cfg, mode) },
	{ 0 },
};

struct item {
	char *name;
	int64_t n;
};
static const struct sp_option item_opts[] = {
	{ .name = "name", .type = SP_OPT_STRING, .required = true,
	  .offset = offsetof(struct item, name) },
	{ .name = "n", .type = SP_OPT_INT, .bounded = true, .min = 0,
	  .max = 10, .offset = offsetof(struct item, n) },
	{ 0 },
};

struct src_cfg {
	char *path;
	uint64_t size;
	double ratio;
	bool flag;
	char delim;
	struct sp_strlist list;
	struct sp_objlist schema;
};
static const struct sp_option src_opts[] = {
	{ .name = "path", .type = SP_OPT_STRING,
	  .offset = offsetof(struct src_cfg, path) },
	{ .name = "size", .type = SP_OPT_SIZE, .def = "1M",
	  .offset = offsetof(struct src_cfg, size) },
	{ .name = "ratio", .type = SP_OPT_DOUBLE,
	  .offset = offsetof(struct src_cfg, ratio) },
	{ .name = "flag", .type = SP_OPT_BOOL,
	  .offset = offsetof(struct src_cfg, flag) },
	{ .name = "delim", .type = SP_OPT_CHAR,
	  .offset = offsetof(struct src_cfg, delim) },
	{ .name = "list", .type = SP_OPT_STRING_LIST,
	  .offset = offsetof(struct src_cfg, list) },
	{ .name = "schema", .type = SP_OPT_OBJECT_LIST, .items = item_opts,
	  .item_size = sizeof(struct item),
	  .offset = offsetof(struct src_cfg, schema) },
	{ 0 },
};

static uint32_t sel_lanes(const void *config, const char **lanes,
			  uint32_t max)
{
	const struct sel_cfg *c = config;
	uint32_t n = 0;

	for (uint32_t i = 0; i < c->lanes.n && n + 1 < max; i++)
		lanes[n++] = c->lanes.keys[i];
	lanes[n++] = "default";
	return n;
}

static const struct sp_stage_desc descs[] = {
	{ .abi = SP_STAGE_ABI, .name = "src", .kind = SP_ORIGIN,
	  .options = src_opts, .config_size = sizeof(struct src_cfg) },
	{ .abi = SP_STAGE_ABI, .name = "proc", .kind = SP_PROCESSOR },
	{ .abi = SP_STAGE_ABI, .name = "sel", .kind = SP_PROCESSOR,
	  .options = sel_opts, .config_size = sizeof(struct sel_cfg),
	  .lanes = sel_lanes },
	{ .abi = SP_STAGE_ABI, .name = "dst", .kind = SP_DESTINATION },
	{ .abi = SP_STAGE_ABI, .name = "exe", .kind = SP_EXECUTOR },
};

static const struct sp_stage_desc *lookup(const char *type, bool origin)
{
	(void)origin;
	for (size_t i = 0; i < sizeof(descs) / sizeof(descs[0]); i++)
		if (strcmp(descs[i].name, type) == 0)
			return &descs[i];
	return NULL;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_flow *f = NULL, *g = NULL;
	struct sp_diags d, d2;
	struct sp_buf a, b;
	char *text;

	text = malloc(size + 1);
	if (!text)
		return 0;
	memcpy(text, data, size);
	text[size] = '\0';
	sp_diags_init(&d, "fuzz.yaml");
	sp_diags_init(&d2, "saved.yaml");
	sp_buf_init(&a);
	sp_buf_init(&b);
	if (sp_flow_load_string(text, "fuzz.yaml", &f, &d) == 0) {
		bool clean = d.n == 0;

		sp_flow_validate(f, lookup, &d);
		sp_flow_validate(f, lookup, &d); /* again: rebinds */
		for (uint32_t i = 0; i < d.n; i++)
			sp_diag_format(&d, i, &b);
		b.len = 0;
		if (sp_flow_save_yaml(f, &a) == 0 && clean) {
			sp_buf_putc(&a, '\0');
			if (sp_flow_load_string(a.data, "saved.yaml", &g,
						&d2) != 0 || d2.n != 0)
				abort(); /* what spate writes it must read */
			if (sp_flow_save_yaml(g, &b) != 0)
				abort();
			sp_buf_putc(&b, '\0');
			if (a.len != b.len || memcmp(a.data, b.data, a.len))
				abort(); /* save -> load -> save differs */
		}
	}
	sp_flow_destroy(f);
	sp_flow_destroy(g);
	sp_buf_fini(&a);
	sp_buf_fini(&b);
	sp_diags_fini(&d);
	sp_diags_fini(&d2);
	free(text);
	return 0;
}
