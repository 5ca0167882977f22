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
	int format; /* enum sp_format_kind */
	char delimiter;
	char quote;
	bool header;
};

struct raw {
	char *data; /* own copy, ending in '\n' */
	size_t len;
	size_t start; /* after the CSV preamble */
	uint64_t first_line;
	bool csv;
	bool done; /* reader thread only */
	struct sp_csv_parser parser;
	struct sp_symtab *symtab;
};

static const struct sp_option raw_options[] = {
	{.name = "data",
	 .type = SP_OPT_STRING,
	 .required = true,
	 .offset = offsetof(struct raw_config, data),
	 .help = "the input text, e.g. a YAML block scalar (|) of JSON lines"},
	{.name = "format",
	 .type = SP_OPT_ENUM,
	 .def = "jsonl",
	 .choices = sp_format_names,
	 .offset = offsetof(struct raw_config, format),
	 .help = "jsonl: one JSON object per line; csv: comma-separated "
		 "values"},
	{.name = "delimiter",
	 .type = SP_OPT_CHAR,
	 .def = ",",
	 .offset = offsetof(struct raw_config, delimiter),
	 .help = "csv: field delimiter (\\t or tab for a tab)"},
	{.name = "quote",
	 .type = SP_OPT_CHAR,
	 .def = "\"",
	 .offset = offsetof(struct raw_config, quote),
	 .help = "csv: quote character"},
	{.name = "header",
	 .type = SP_OPT_BOOL,
	 .def = "true",
	 .offset = offsetof(struct raw_config, header),
	 .help = "csv: the first line names the columns"},
	{0},
};

static void raw_close(void *state)
{
	struct raw *r = state;

	if (!r)
		return;
	if (r->csv)
		sp_csv_parser_fini(&r->parser);
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
	r->symtab = ctx->symtab;
	r->csv = cfg->format == SP_FORMAT_CSV;
	if (r->csv) {
		struct sp_csv_options opt = {
			.delimiter = cfg->delimiter,
			.quote = cfg->quote,
			.header = cfg->header,
		};
		uint64_t lines = 0;
		ssize_t used;

		rc = sp_csv_parser_init(&r->parser, &opt, ctx->symtab);
		if (rc) {
			snprintf(err, errlen, rc == -ENOMEM ? "out of memory" :
				 "delimiter and quote must differ and not be "
				 "a line break");
			r->csv = false;
			raw_close(r);
			return rc;
		}
		if (sp_csv_detect_cr(&r->parser.opt, r->data, r->len, true) ==
		    1)
			sp_csv_cr_to_lf(r->data, r->len);
		used = sp_csv_read_preamble(&r->parser, ctx->symtab, r->data,
					    r->len, true, &lines, err, errlen);
		if (used == -EAGAIN) {
			used = (ssize_t)r->len; /* empty: no header, no data */
		} else if (used < 0) {
			char why[512];

			snprintf(why, sizeof(why), "%s", err);
			snprintf(err, errlen, "data: %s", why);
			raw_close(r);
			return (int)used;
		}
		if (r->parser.renamed)
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
	struct sp_jsonl_parser *p = malloc(sizeof(*p));

	if (p)
		sp_jsonl_parser_init(p, r->symtab);
	return p;
}

static void raw_worker_destroy(void *state, void *wstate)
{
	free(wstate);
}

static int raw_parse(void *state, void *wstate, const struct sp_chunk *c,
		     struct sp_batch *b)
{
	struct raw *r = state;
	int n;

	if (r->csv) {
		n = sp_csv_parse(&r->parser, c->data, c->len, c->first,
				 c->offset, b);
	} else {
		n = sp_jsonl_parse(wstate, c->data, c->len, c->first,
				   c->offset, b);
	}
	return n < 0 ? n : 0;
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
