/*
 * The text formats' shared block (see format.h): the names a `format`
 * option accepts, the reader side that stdin and dev_raw_data share, and
 * the writer side that stdout and file_writer share.
 */
#include "stages/format.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>

#include "codec/jsonl.h"

const char *const sp_format_names[] = {
    [SP_FORMAT_JSONL] = "jsonl",
    [SP_FORMAT_CSV] = "csv",
    NULL,
};

int sp_format_reader_init(struct sp_format_reader *r,
			  const struct sp_format_opts *o,
			  struct sp_symtab *symtab, char *err, size_t errlen)
{
	r->symtab = symtab;
	r->csv = o->format == SP_FORMAT_CSV;
	if (!r->csv)
		return 0;
	struct sp_csv_options opt = {
	    .delimiter = o->delimiter,
	    .quote = o->quote,
	    .header = o->header,
	};
	int rc = sp_csv_parser_init(&r->parser, &opt, symtab);
	if (rc) {
		snprintf(err, errlen,
			 rc == -ENOMEM ? "out of memory"
				       : "delimiter and quote must differ and "
					 "not be a line break");
		r->csv = false;
	}
	return rc;
}

void sp_format_reader_fini(struct sp_format_reader *r)
{
	if (r->csv)
		sp_csv_parser_fini(&r->parser);
	r->csv = false;
}

void *sp_format_worker_create(const struct sp_format_reader *r)
{
	struct sp_jsonl_parser *p = malloc(sizeof(*p));

	if (p)
		sp_jsonl_parser_init(p, r->symtab);
	return p;
}

void sp_format_worker_destroy(void *wstate)
{
	free(wstate);
}

int sp_format_parse(struct sp_format_reader *r, void *wstate,
		    const struct sp_chunk *c, struct sp_batch *b)
{
	int n;

	if (r->csv)
		n = sp_csv_parse(&r->parser, c->data, c->len, c->first,
				 c->offset, b);
	else
		n = sp_jsonl_parse(wstate, c->data, c->len, c->first, c->offset,
				   b);
	return n < 0 ? n : 0;
}

void sp_format_check(const struct sp_format_opts *o, struct sp_check *chk)
{
	const char *why;

	if (o->format == SP_FORMAT_CSV &&
	    (why = sp_csv_chars_problem(o->delimiter, o->quote)))
		sp_check_problem(chk, "delimiter", "%s", why);
}

void sp_format_csv_encoder_init(struct sp_csv_encoder *e,
				const struct sp_format_opts *o)
{
	sp_csv_encoder_init(e, o->delimiter, o->quote, false);
}

int sp_format_put_csv(struct sp_csv_encoder *e, struct sp_batch *b,
		      uint32_t rec, struct sp_buf *out)
{
	const struct sp_record *r = &b->recs[rec];
	const char *why = NULL;
	int rc = sp_csv_encode_record(e, b, rec, out, &why);

	if (rc != -EINVAL)
		return rc;
	/* the encoder left out as it was */
	rc = sp_batch_error_add(b, rec, r->line, 0, r->raw, r->raw_len, "%s",
				why ? why : "cannot write as CSV");
	return rc ? rc : 1;
}
