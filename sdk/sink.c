/*
 * The C SDK's sinks (include/spate/spate.h, "sinks"): a program registers
 * callbacks by name and a `sink` stage of a flow hands them its records.
 * This file is the public face of stages/destinations/sink.h: it copies
 * the caller's struct spate_sink and passes the engine's callbacks through
 * to it, and it reads a batch's records field by field as plain values
 * (strings unescaped, numbers held as text converted) for the callbacks.
 */
#include "spate/spate.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "record/symtab.h"
#include "record/value.h"
#include "stages/destinations/sink.h"

/* what the engine's write hands over, seen through the public name */
struct spate_records {
	struct sp_sink_records r;
};

struct sdk_sink {
	struct spate_sink pub;
};

static int sdk_begin(void *user, const char *stage_id, char *err, size_t errlen)
{
	struct sdk_sink *s = user;

	return s->pub.begin ? s->pub.begin(s->pub.user, stage_id, err, errlen)
			    : 0;
}

static int sdk_write(void *user, struct sp_sink_records *r, char *err,
		     size_t errlen)
{
	struct sdk_sink *s = user;
	struct spate_records recs = {.r = *r};

	return s->pub.write(s->pub.user, &recs, err, errlen);
}

static int sdk_end(void *user, bool ok, char *err, size_t errlen)
{
	struct sdk_sink *s = user;

	return s->pub.end ? s->pub.end(s->pub.user, ok, err, errlen) : 0;
}

static void sdk_release(void *user)
{
	struct sdk_sink *s = user;

	if (s->pub.release)
		s->pub.release(s->pub.user);
	free(s);
}

int spate_sink_register(const char *name, const struct spate_sink *sink)
{
	struct sp_sink_ops ops = {
	    .begin = sdk_begin,
	    .write = sdk_write,
	    .end = sdk_end,
	    .release = sdk_release,
	};
	struct sdk_sink *s;
	int r;

	if (!sink || !sink->write)
		return -EINVAL;
	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->pub = *sink;
	ops.user = s;
	r = sp_sink_register(name, &ops);
	if (r)
		free(s);
	return r;
}

int spate_sink_unregister(const char *name)
{
	return sp_sink_unregister(name);
}

uint32_t spate_records_count(const struct spate_records *recs)
{
	return recs ? recs->r.n : 0;
}

/* Numbers read from input keep their digits: convert them here. */
static int put_number(const struct sp_value *v, struct spate_field *f)
{
	if (v->type == SP_INT && sp_value_to_int(v, &f->i) == 0) {
		f->type = SPATE_VALUE_INT;
		return 0;
	}
	if (sp_value_to_double(v, &f->d))
		return -EINVAL;
	f->type = SPATE_VALUE_DOUBLE;
	return 0;
}

static int put_value(struct sp_sink_records *r, const struct sp_value *v,
		     struct spate_field *f)
{
	const char *s;
	size_t len;

	switch (v->type) {
	case SP_BOOL:
		f->type = SPATE_VALUE_BOOL;
		f->b = v->b;
		return 0;
	case SP_INT:
	case SP_DOUBLE:
		if (!(v->flags & SP_VALUE_TEXT)) {
			f->type = v->type == SP_INT ? SPATE_VALUE_INT
						    : SPATE_VALUE_DOUBLE;
			f->i = v->i;
			f->d = v->d;
			return 0;
		}
		return put_number(v, f);
	case SP_STRING:
		if (sp_value_string_bytes(v, r->scratch, &s, &len))
			return -ENOMEM;
		f->type = SPATE_VALUE_STRING;
		f->text = s;
		f->text_len = len;
		return 0;
	case SP_OBJECT:
	case SP_ARRAY:
		f->type = v->type == SP_OBJECT ? SPATE_VALUE_OBJECT
					       : SPATE_VALUE_ARRAY;
		f->text = v->str;
		f->text_len = v->len;
		return 0;
	default:
		f->type = SPATE_VALUE_NULL;
		return 0;
	}
}

int spate_records_next_field(struct spate_records *recs, uint32_t rec,
			     uint32_t *pos, struct spate_field *f)
{
	struct sp_sink_records *r = recs ? &recs->r : NULL;
	const struct sp_record *sr;
	const struct sp_field *fl;
	uint32_t nlen;

	if (!r || rec >= r->n || !pos || !f)
		return -EINVAL;
	sr = &r->b->recs[r->sel[rec]];
	fl = sp_record_fields(r->b, r->sel[rec]);
	while (*pos < sr->nfields && fl[*pos].sym == SP_SYM_NONE)
		(*pos)++;
	if (*pos >= sr->nfields)
		return 0;
	fl += (*pos)++;
	memset(f, 0, sizeof(*f));
	f->name = sp_symtab_name(r->b->symtab, fl->sym, &nlen);
	f->name_len = nlen;
	f->name_id = fl->sym;
	return put_value(r, &fl->v, f) ? -ENOMEM : 1;
}

int spate_records_fail(struct spate_records *recs, uint32_t rec,
		       const char *reason)
{
	struct sp_sink_records *r = recs ? &recs->r : NULL;
	const struct sp_record *sr;

	if (!r || rec >= r->n)
		return -EINVAL;
	sr = &r->b->recs[r->sel[rec]];
	return sp_batch_error_add(r->b, r->sel[rec], sr->line, 0, sr->raw,
				  sr->raw_len, "%s",
				  reason ? reason : "rejected by the sink");
}
