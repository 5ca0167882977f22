/*
 * dev_raw_data: records from text written in the flow itself (`data`), as
 * JSON lines or CSV.  Handy for examples and tests: the whole text is one
 * chunk, parsed on a worker by the same codecs as files are, with the
 * source name "dev_raw_data" in messages.
 */
#include <errno.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"
#include "codec/csv.h"
#include "codec/jsonl.h"
#include "stages/format.h"

struct raw_config {
	char *data;
	struct sp_format_opts fmt;
};

struct raw {
	char *data; /* own copy, ending in '\n' */
	size_t len;
	size_t start; /* after the CSV preamble */
	uint64_t first_line;
	bool done; /* reader thread only */
	struct sp_format_reader fmt;
};

static const struct sp_option raw_options[] = {
	{.name = "data",
	 .type = SP_OPT_STRING,
	 .required = true,
	 .offset = offsetof(struct raw_config, data),
	 .help = "the input text, e.g. a YAML block scalar (|) of JSON lines"},
	SP_FORMAT_OPTION_ROWS(struct raw_config, fmt),
	{0},
};

static void raw_close(void *state)
{
	struct raw *r = state;

	if (!r)
		return;
	sp_format_reader_fini(&r->fmt);
	free(r->data);
	free(r);
}

static int raw_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	const struct raw_config *cfg = config;
	const char *data = cfg->data ? cfg->data : "";
	size_t n = strlen(data);
	struct raw *r = calloc(1, sizeof(*r));
	int rc;

	if (!r || !(r->data = malloc(n + 2))) {
		free(r);
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	memcpy(r->data, data, n);
	if (n && data[n - 1] != '\n')
		r->data[n++] = '\n';
	r->data[n] = '\0';
	r->len = n;
	r->first_line = 1;
	rc = sp_format_reader_init(&r->fmt, &cfg->fmt, ctx->symtab, err,
				   errlen);
	if (rc) {
		raw_close(r);
		return rc;
	}
	if (r->fmt.csv) {
		uint64_t lines = 0;
		ssize_t used;

		if (sp_csv_detect_cr(&r->fmt.parser.opt, r->data, r->len,
				     true) == 1)
			sp_csv_cr_to_lf(r->data, r->len);
		used = sp_csv_read_preamble(&r->fmt.parser, ctx->symtab,
					    r->data, r->len, true, &lines, err, errlen);
		if (used == -EAGAIN) {
			used = (ssize_t)r->len; /* empty: no header, no data */
		} else if (used < 0) {
			char why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "data: %s", why);
			raw_close(r);
			return (int)used;
		}
		if (r->fmt.parser.renamed)
			sp_stage_warn(ctx, "data: %s", err);
		r->start = (size_t)used;
		r->first_line += lines;
	}
	*state = r;
	return 0;
}

static int raw_next(void *state, struct sp_chunk *out, char *err,
		    size_t errlen)
{
	struct raw *r = state;

	if (r->done || r->start >= r->len)
		return 0;
	r->done = true;
	memset(out, 0, sizeof(*out));
	out->data = r->data + r->start;
	out->len = r->len - r->start;
	out->first = r->first_line;
	out->offset = r->start;
	out->source = "dev_raw_data";
	return 1;
}

static void *raw_worker_create(void *state, unsigned worker)
{
	struct raw *r = state;

	(void)worker;
	return sp_format_worker_create(&r->fmt);
}

static void raw_worker_destroy(void *state, void *wstate)
{
	(void)state;
	sp_format_worker_destroy(wstate);
}

static int raw_parse(void *state, void *wstate, const struct sp_chunk *c,
		     struct sp_batch *b)
{
	struct raw *r = state;

	return sp_format_parse(&r->fmt, wstate, c, b);
}

const struct sp_stage_desc sp_stage_dev_raw_data = {
	.abi = SP_STAGE_ABI,
	.name = "dev_raw_data",
	.kind = SP_ORIGIN,
	.help = "records from text given in the flow (JSON lines or CSV)",
	.options = raw_options,
	.config_size = sizeof(struct raw_config),
	.create = raw_create,
	.create_checks = true,
	.next = raw_next,
	.parse = raw_parse,
	.worker_create = raw_worker_create,
	.worker_destroy = raw_worker_destroy,
	.close = raw_close,
};
