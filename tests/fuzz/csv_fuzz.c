/*
 * Fuzz harness for the CSV codec.  The first byte picks the options
 * (header, schema, ignore_lines), the second the cut point, the third the
 * delimiter and quote (among them bytes JSON escapes); the rest is the
 * input.
 * Checks: parsing never crashes; parsing the two pieces that sp_csv_split
 * cuts gives the same records and errors as parsing the whole; every
 * parsed record re-encodes and re-parses to the same count and values;
 * a string marked JSON-safe holds no byte that JSON must escape, and one
 * kept JSON-escaped decodes; a typed number kept as its text
 * (SP_VALUE_TEXT) is exactly what spate prints for its value; a record
 * encodes to the same line whether its fields follow the columns in
 * order (the encoder's walk) or not (its lookup by name), and with or
 * without the copies of bare runs (SP_VALUE_CSV_BARE), whole and with
 * each field in turn removed.
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/json.h"
#include "record/symtab.h"
#include "record/value.h"
#include "codec/csv.h"

static const struct sp_csv_column fuzz_schema[] = {
    {"_1", SP_CSV_INT},	      {"_2", SP_CSV_DOUBLE}, {"_3", SP_CSV_BOOL},
    {"_4", SP_CSV_TIMESTAMP}, {"_5", SP_CSV_STRING},
};

static void same_batches(const struct sp_batch *x, const struct sp_batch *y)
{
	if (x->nrecs != y->nrecs || x->nerrors != y->nerrors)
		abort();
	for (uint32_t r = 0; r < x->nrecs; r++) {
		const struct sp_record *a = &x->recs[r], *c = &y->recs[r];

		if (a->raw != c->raw || a->raw_len != c->raw_len ||
		    a->line != c->line || a->nfields != c->nfields)
			abort();
	}
	for (uint32_t i = 0; i < x->nerrors; i++) {
		const struct sp_record_error *a = &x->errors[i];
		const struct sp_record_error *c = &y->errors[i];

		if (a->line != c->line || a->offset != c->offset ||
		    strcmp(a->reason, c->reason) != 0)
			abort();
	}
}

static void check_json_safe(const struct sp_batch *b)
{
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const struct sp_field *f = sp_record_fields(b, r);

		for (uint32_t k = 0; k < b->recs[r].nfields; k++) {
			const struct sp_value *v = &f[k].v;

			if (v->type != SP_STRING)
				continue;
			if (v->flags & SP_VALUE_ESCAPED) {
				char *tmp = malloc(v->len + 1);
				if (!tmp ||
				    sp_json_unescape(v->str, v->len, tmp) < 0)
					abort();
				free(tmp);
				continue;
			}
			if (!(v->flags & SP_VALUE_JSON_SAFE))
				continue;
			for (uint32_t i = 0; i < v->len; i++) {
				unsigned char c = (unsigned char)v->str[i];
				if (c < 0x20 || c == '"' || c == '\\')
					abort();
			}
		}
	}
}

static void check_kept_numbers(const struct sp_batch *b)
{
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const struct sp_field *f = sp_record_fields(b, r);

		for (uint32_t k = 0; k < b->recs[r].nfields; k++) {
			const struct sp_value *v = &f[k].v;
			char buf[40];
			int64_t i;
			double d;
			int n;

			if (!(v->flags & SP_VALUE_TEXT))
				continue;
			if (v->type == SP_INT) {
				if (sp_value_to_int(v, &i))
					abort();
				n = snprintf(buf, sizeof(buf), "%lld",
					     (long long)i);
			} else if (v->type == SP_DOUBLE) {
				if (sp_value_to_double(v, &d))
					abort();
				n = sp_format_double(d, buf);
			} else {
				abort();
			}
			if ((size_t)n != v->len || memcmp(buf, v->str, v->len))
				abort();
		}
	}
}

/* Record r of b with its fields rotated by one, encoded with e's columns:
 * the encoder looks each column up; the line must be line[0..len). */
static void same_line_out_of_order(const struct sp_csv_encoder *e,
				   const struct sp_batch *b, uint32_t r,
				   const char *line, size_t len)
{
	const struct sp_field *f = sp_record_fields(b, r);
	uint32_t nf = b->recs[r].nfields;
	struct sp_csv_encoder e2;
	struct sp_batch *b2;
	struct sp_buf out;

	if (nf < 2)
		return;
	for (uint32_t i = 0; i < nf; i++)
		for (uint32_t k = 0; k < i; k++)
			if (f[i].sym == f[k].sym)
				return; /* a name twice: the first one counts */
	b2 = sp_batch_create(b->symtab);
	if (!b2 || !sp_batch_record_begin(b2))
		abort();
	for (uint32_t i = 0; i < nf; i++) {
		struct sp_field *g = sp_batch_field_add(b2);
		if (!g)
			abort();
		*g = f[(i + 1) % nf];
	}
	sp_csv_encoder_init(&e2, e->delimiter, e->quote, false);
	e2.cols = malloc(e->ncols * sizeof(*e2.cols));
	if (!e2.cols)
		abort();
	memcpy(e2.cols, e->cols, e->ncols * sizeof(*e2.cols));
	e2.ncols = e->ncols;
	sp_buf_init(&out);
	if (sp_csv_encode_record(&e2, b2, 0, &out, NULL) || out.len != len ||
	    memcmp(out.data, line, len) != 0)
		abort();
	sp_buf_fini(&out);
	sp_csv_encoder_fini(&e2);
	sp_batch_destroy(b2);
}

/* Record r of b encoded with columns cols[0..n), its field skip (if any)
 * removed and its SP_VALUE_CSV_BARE flags cleared or kept: with them the
 * encoder copies runs of the input, without them it writes each value. */
static void encode_variant(const struct sp_batch *b, uint32_t r, char d,
			   char q, const uint32_t *cols, uint32_t n,
			   uint32_t skip, bool bare, struct sp_buf *out)
{
	const struct sp_field *f = sp_record_fields(b, r);
	uint32_t nf = b->recs[r].nfields;
	struct sp_csv_encoder e;
	struct sp_batch *b2 = sp_batch_create(b->symtab);

	if (!b2 || !sp_batch_record_begin(b2))
		abort();
	b2->recs[0].raw = b->recs[r].raw;
	b2->recs[0].raw_len = b->recs[r].raw_len;
	for (uint32_t i = 0; i < nf; i++) {
		struct sp_field *g = sp_batch_field_add(b2);
		if (!g)
			abort();
		*g = f[i];
		if (i == skip)
			g->sym = SP_SYM_NONE;
		if (!bare)
			g->v.flags &= (uint8_t)~SP_VALUE_CSV_BARE;
	}
	sp_csv_encoder_init(&e, d, q, false);
	e.cols = malloc((n ? n : 1) * sizeof(*e.cols));
	if (!e.cols)
		abort();
	memcpy(e.cols, cols, n * sizeof(*e.cols));
	e.ncols = n;
	if (sp_csv_encode_record(&e, b2, 0, out, NULL) < 0)
		out->len = 0;
	sp_csv_encoder_fini(&e);
	sp_batch_destroy(b2);
}

/* The encoder's copies of bare runs write what it writes value by value:
 * the whole record, and the record with each field in turn removed. */
static void same_line_without_bare_runs(const struct sp_batch *b, uint32_t r,
					char d, char q)
{
	const struct sp_field *f = sp_record_fields(b, r);
	uint32_t nf = b->recs[r].nfields, cols[64];
	struct sp_buf x, y;

	if (nf < 2 || nf > 64)
		return;
	for (uint32_t i = 0; i < nf; i++)
		for (uint32_t k = 0; k < i; k++)
			if (f[i].sym == f[k].sym)
				return;
	sp_buf_init(&x);
	sp_buf_init(&y);
	for (uint32_t skip = 0; skip <= nf; skip++) {
		uint32_t n = 0;
		for (uint32_t i = 0; i < nf; i++)
			if (i != skip)
				cols[n++] = f[i].sym;
		x.len = y.len = 0;
		encode_variant(b, r, d, q, cols, n, skip, true, &x);
		encode_variant(b, r, d, q, cols, n, skip, false, &y);
		if (x.len != y.len || (x.len && memcmp(x.data, y.data, x.len)))
			abort();
	}
	sp_buf_fini(&x);
	sp_buf_fini(&y);
}

static void round_trip(const struct sp_batch *b, char d, char q,
		       struct sp_symtab *st)
{
	struct sp_csv_encoder e;
	struct sp_csv_parser p;
	struct sp_csv_options o = {.delimiter = d, .quote = q};
	struct sp_batch *b2;
	struct sp_buf out;
	uint64_t lines = 0;
	char err[128];
	ssize_t used;

	if (!b->nrecs)
		return;
	sp_buf_init(&out);
	sp_csv_encoder_init(&e, d, q, false);
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const char *why;
		size_t at = out.len;

		if (sp_csv_encode_record(&e, b, r, &out, &why))
			goto done_enc; /* records of differing widths */
		same_line_out_of_order(&e, b, r, out.data + at, out.len - at);
		same_line_without_bare_runs(b, r, d, q);
		if (d != ',' || q != '"')
			same_line_without_bare_runs(b, r, ',', '"');
	}
	if (!e.ncols || sp_csv_parser_init(&p, &o, st))
		goto done_enc;
	b2 = sp_batch_create(st);
	used = sp_csv_read_preamble(&p, st, out.data, out.len, true, &lines, err,
				    sizeof(err));
	if (used != 0 || !b2)
		abort();
	if (sp_csv_parse(&p, out.data, out.len, 1, 0, b2) != (int)b->nrecs ||
	    b2->nerrors)
		abort();
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const struct sp_field *g = sp_record_fields(b2, r);

		if (b2->recs[r].nfields != e.ncols)
			abort();
		for (uint32_t k = 0; k < e.ncols; k++) {
			const struct sp_value *v =
			    sp_record_get(b, r, e.cols[k]);

			const char *x, *y;
			size_t xl, yl;

			if (!v || v->type != SP_STRING)
				continue;
			/* compared decoded: one side may keep JSON escapes */
			if (sp_value_string_bytes(v, &b2->arena, &x, &xl) ||
			    sp_value_string_bytes(&g[k].v, &b2->arena, &y,
						  &yl) ||
			    xl != yl || memcmp(x, y, xl) != 0)
				abort();
		}
	}
	sp_batch_destroy(b2);
	sp_csv_parser_fini(&p);
done_enc:
	sp_csv_encoder_fini(&e);
	sp_buf_fini(&out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static const char delims[] = {',', '\t', ';', '|', '\\', '"', ' ', 1};
	static const char quotes[] = {'"', '\'', '\t', '\\'};
	struct sp_csv_options o = {0};
	struct sp_csv_parser p;
	struct sp_symtab *st;
	struct sp_batch *whole, *parts, *raw;
	uint64_t lines = 0;
	char err[256];
	ssize_t used;

	if (size < 3)
		return 0;
	o.delimiter = delims[data[2] & 7];
	o.quote = quotes[(data[2] >> 3) & 3];
	if (o.delimiter == o.quote)
		return 0;
	o.header = data[0] & 8;
	o.ignore_lines = data[0] & 16 ? 1 : 0;
	if (data[0] & 32) {
		o.schema = fuzz_schema;
		o.nschema = 1 + (data[0] >> 6) % 5;
	}
	/* the second byte picks a cut point for sp_csv_split */
	size_t cut_at = data[1];
	const char *buf = (const char *)data + 3;
	size_t len = size - 3;

	st = sp_symtab_create();
	if (!st || sp_csv_parser_init(&p, &o, st))
		abort();
	whole = sp_batch_create(st);
	parts = sp_batch_create(st);
	raw = sp_batch_create(st);

	/* no preamble at all: columns named from each row */
	if (sp_csv_parse(&p, buf, len, 1, 0, raw) < 0)
		abort();
	check_json_safe(raw);
	check_kept_numbers(raw);

	used = sp_csv_read_preamble(&p, st, buf, len, true, &lines, err,
				    sizeof(err));
	if (used >= 0) {
		const char *rest = buf + used;
		size_t n = len - (size_t)used;
		size_t cut = sp_csv_split(&o, rest, n ? cut_at % (n + 1) : 0);
		uint64_t line2 = lines + 1;

		if (cut > n || (cut && rest[cut - 1] != '\n'))
			abort();
		for (size_t i = 0; i < cut; i++)
			line2 += rest[i] == '\n';
		if (sp_csv_parse(&p, rest, n, lines + 1, (uint64_t)used,
				 whole) < 0 ||
		    sp_csv_parse(&p, rest, cut, lines + 1, (uint64_t)used,
				 parts) < 0 ||
		    sp_csv_parse(&p, rest + cut, n - cut, line2,
				 (uint64_t)used + cut, parts) < 0)
			abort();
		same_batches(whole, parts);
		check_json_safe(whole);
		check_kept_numbers(whole);
		round_trip(whole, o.delimiter, o.quote, st);
	}

	sp_batch_destroy(raw);
	sp_batch_destroy(parts);
	sp_batch_destroy(whole);
	sp_csv_parser_fini(&p);
	sp_symtab_destroy(st);
	return 0;
}
