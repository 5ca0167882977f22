/*
 * Fuzz harness for the JSON-lines codec and the JSON primitives under it.
 * Any input must parse without crashing; every record that parsed is then
 * re-encoded field by field (SP_RECORD_CHANGED forced) and the output must
 * parse again into the same records: same count, same field names, same
 * value types and text.  Encoding that second batch must give the same
 * bytes (the compact form is a fixed point), every string the parser
 * accepted must unescape, every object must answer member lookups, and
 * every number must be the one the full scanner reads at its place (the
 * parser takes plain numbers on a fast path of its own).
 */
#include <errno.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/json.h"
#include "record/symtab.h"
#include "codec/jsonl.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_value(struct sp_batch *b, const struct sp_value *v)
{
	if (v->type == SP_STRING) {
		const char *s;
		size_t n;
		if (sp_value_string_bytes(v, &b->arena, &s, &n))
			abort();
		struct sp_buf tmp;
		sp_buf_init(&tmp);
		if (sp_json_append_string(&tmp, s, n))
			abort();
		/* the escaped form of the bytes decodes to the same bytes */
		char *back = malloc(tmp.len + 1);
		ssize_t m = sp_json_unescape(tmp.data + 1, tmp.len - 2, back);
		if (m != (ssize_t)n || memcmp(back, s, n) != 0)
			abort();
		free(back);
		sp_buf_fini(&tmp);
	} else if (v->type == SP_OBJECT) {
		struct sp_value out;
		int rc = sp_json_object_get(v->str, v->len, "a", 1, &out);
		if (rc != 0 && rc != -ENOENT)
			abort();
	}
}

/* A number the parser took (its fast path or the full scanner) is the
 * number the full scanner reads at the same place of the line. */
static void check_number(const struct sp_record *rec, const struct sp_value *v)
{
	if ((v->type != SP_INT && v->type != SP_DOUBLE) ||
	    !(v->flags & SP_VALUE_TEXT))
		return;
	const char *p = v->str, *why = NULL;
	struct sp_value full;
	if (sp_json_scan_value_at(&p, rec->raw + rec->raw_len, 1, &full,
				  &why) ||
	    full.type != v->type || full.len != v->len || full.str != v->str)
		abort();
}

static void same_records(const struct sp_batch *a, const struct sp_batch *b)
{
	if (a->nrecs != b->nrecs || b->nerrors != 0)
		abort();
	for (uint32_t r = 0; r < a->nrecs; r++) {
		const struct sp_field *fa = sp_record_fields(a, r);
		const struct sp_field *fb = sp_record_fields(b, r);
		if (a->recs[r].nfields != b->recs[r].nfields)
			abort();
		for (uint32_t i = 0; i < a->recs[r].nfields; i++) {
			if (fa[i].sym != fb[i].sym ||
			    fa[i].v.type != fb[i].v.type ||
			    fa[i].v.flags != fb[i].v.flags)
				abort();
			if (fa[i].v.type == SP_BOOL) {
				if (fa[i].v.b != fb[i].v.b)
					abort();
			} else if (fa[i].v.type != SP_NULL &&
				   (fa[i].v.len != fb[i].v.len ||
				    memcmp(fa[i].v.str, fb[i].v.str,
					   fa[i].v.len) != 0)) {
				abort();
			}
		}
	}
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_symtab *st = sp_symtab_create();
	struct sp_batch *b = sp_batch_create(st), *b2 = sp_batch_create(st);
	struct sp_jsonl_parser ps;
	struct sp_buf out, out2;
	const char *in = (const char *)data;

	sp_buf_init(&out);
	sp_buf_init(&out2);
	sp_jsonl_parser_init(&ps, st);
	int n = sp_jsonl_parse(&ps, in, size, 1, 0, b);
	if (n < 0 || (uint32_t)n != b->nrecs)
		abort();
	for (uint32_t i = 0; i < b->nerrors; i++)
		if (b->errors[i].line == 0 || b->errors[i].offset >= size ||
		    !b->errors[i].reason[0])
			abort();

	/* unchanged records come back as their lines; a record the parser
	 * changed (a repeated key folded into one field) is rebuilt */
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const struct sp_record *rec = &b->recs[r];
		out.len = 0;
		if (sp_jsonl_encode(b, &r, 1, &out))
			abort();
		if (!(rec->flags & SP_RECORD_CHANGED) &&
		    (out.len != rec->raw_len + 1 ||
		     memcmp(out.data, rec->raw, rec->raw_len) != 0 ||
		     out.data[rec->raw_len] != '\n'))
			abort();
		for (uint32_t i = 0; i < rec->nfields; i++) {
			check_value(b, &sp_record_fields(b, r)[i].v);
			if (!(rec->flags & SP_RECORD_CHANGED))
				check_number(rec, &sp_record_fields(b, r)[i].v);
		}
	}

	/* changed records: rebuilt from fields, parse back the same */
	for (uint32_t r = 0; r < b->nrecs; r++)
		b->recs[r].flags |= SP_RECORD_CHANGED;
	out.len = 0;
	if (sp_jsonl_encode(b, NULL, b->nrecs, &out))
		abort();
	n = sp_jsonl_parse(&ps, out.data, out.len, 1, 0, b2);
	if (n < 0)
		abort();
	same_records(b, b2);
	for (uint32_t r = 0; r < b2->nrecs; r++)
		b2->recs[r].flags |= SP_RECORD_CHANGED;
	if (sp_jsonl_encode(b2, NULL, b2->nrecs, &out2))
		abort();
	if (out2.len != out.len ||
	    (out.len && memcmp(out2.data, out.data, out.len) != 0))
		abort();

	/* the split point is a line end */
	size_t cut = sp_jsonl_split(in, size);
	if (cut > size || (cut && in[cut - 1] != '\n'))
		abort();

	sp_buf_fini(&out);
	sp_buf_fini(&out2);
	sp_batch_destroy(b);
	sp_batch_destroy(b2);
	sp_symtab_destroy(st);
	return 0;
}
