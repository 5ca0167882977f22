/*
 * Fuzzes the expression compiler and evaluator: arbitrary text is compiled
 * (wrapped in ${ } when the first byte is odd, so most inputs get past the
 * prefix check), and whatever compiles is run over a small fixed batch of
 * records holding every value kind, both as a predicate and as a value.
 */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "record/batch.h"
#include "expr/expr.h"
#include "record/symtab.h"

static void field(struct sp_batch *b, struct sp_symtab *st, const char *name,
		  struct sp_value v)
{
	struct sp_field *f = sp_batch_field_add(b);

	if (!f)
		return;
	f->sym = sp_symtab_intern(st, name, strlen(name));
	f->v = v;
}

static struct sp_value text(uint8_t type, uint8_t flags, const char *s)
{
	return (struct sp_value){
	    .type = type, .flags = flags, .len = (uint32_t)strlen(s), .str = s};
}

static void fill(struct sp_batch *b, struct sp_symtab *st)
{
	static const char raw[] = "{\"raw\": 1}";

	if (!sp_batch_record_begin(b))
		return;
	b->recs[0].raw = raw;
	b->recs[0].raw_len = sizeof(raw) - 1;
	b->recs[0].line = 1;
	field(b, st, "x", text(SP_INT, SP_VALUE_TEXT, "42"));
	field(b, st, "d", text(SP_DOUBLE, SP_VALUE_TEXT, "-12345.50e-3"));
	field(b, st, "s", text(SP_STRING, SP_VALUE_ESCAPED, "a\\\"b\\u00e9"));
	field(b, st, "p", text(SP_STRING, 0, "plain 12"));
	field(b, st, "o",
	      text(SP_OBJECT, 0, "{\"a\": {\"b\": [1, 2]}, \"c\": \"x\"}"));
	field(b, st, "l", text(SP_ARRAY, 0, "[1, \"two\", null]"));
	if (!sp_batch_record_begin(b))
		return;
	b->recs[1].line = 2;
	field(b, st, "x", sp_value_int(INT64_MIN));
	field(b, st, "d", sp_value_double(-0.0));
	field(b, st, "s", text(SP_STRING, 0, ""));
	field(b, st, "n", sp_value_null());
	field(b, st, "t", sp_value_bool(true));
	field(b, st, "e", text(SP_STRING, SP_VALUE_ESCAPED, "bad\\q"));
	if (!sp_batch_record_begin(b))
		return;
	b->recs[2].line = 3;
	field(b, st, "x", text(SP_INT, SP_VALUE_TEXT, "99999999999999999999"));
	field(b, st, "d", sp_value_double(1e308));
	field(b, st, "s", text(SP_STRING, 0, "\xff\xfe not utf-8"));
}

static volatile unsigned char sink;

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct sp_expr_error err;
	uint32_t in[3] = {0, 1, 2}, out[3], nerr;
	struct sp_value v;
	const char *why;
	bool wrap = size > 0 && (data[0] & 1);
	char *src = malloc(size + 4);

	if (!src)
		return 0;
	size_t n = 0;
	if (wrap) {
		src[n++] = '$';
		src[n++] = '{';
		memcpy(src + n, data + 1, size - 1);
		n += size - 1;
		src[n++] = '}';
	} else {
		memcpy(src, data, size);
		n = size;
	}
	src[n] = '\0';

	struct sp_symtab *st = sp_symtab_create();
	struct sp_batch *b = st ? sp_batch_create(st) : NULL;
	struct sp_expr_ctx *c = sp_expr_ctx_create();
	if (!b || !c)
		goto out;
	fill(b, st);
	struct sp_expr *e = sp_expr_compile(src, st, &err);
	if (!e) {
		if (err.column > n + 1 ||
		    !memchr(err.message, '\0', sizeof(err.message)))
			abort();
		goto out;
	}
	uint32_t k = sp_expr_select(e, c, b, in, b->nrecs, out, &nerr);
	if (k + nerr > b->nrecs || nerr != b->nerrors)
		abort();
	for (uint32_t i = 0; i < b->nrecs; i++) {
		if (sp_expr_eval(e, c, b, i, &v, &why) != 0) {
			if (strlen(why) == 0)
				abort();
			continue;
		}
		/* a text result must be readable to its end */
		if (v.type == SP_STRING || v.type == SP_OBJECT ||
		    v.type == SP_ARRAY)
			for (uint32_t j = 0; j < v.len; j++)
				sink ^= (unsigned char)v.str[j];
	}
	sp_expr_destroy(e);
out:
	sp_expr_ctx_destroy(c);
	sp_batch_destroy(b);
	sp_symtab_destroy(st);
	free(src);
	return 0;
}
