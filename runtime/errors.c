/*
 * Record errors: counting and logging them, building the error record
 * (the record or its raw text plus spate_error) and routing it by the
 * stage's on_record_error.
 */
#include "runtime/runtime_internal.h"

#include "core/base64.h"
#include "core/utf8.h"

/* ---- record errors ------------------------------------------------------ */

/* A stage rejecting a parsed record does not know where it came from:
 * its raw text points into the batch's input. */
uint64_t rt_error_offset(const struct sp_batch *b,
			 const struct sp_record_error *e)
{
	if (e->offset || e->record == SP_NO_RECORD || !b->input)
		return e->offset;
	const char *raw = b->recs[e->record].raw;
	if (raw >= b->input && raw <= b->input + b->bytes_in)
		return b->input_offset + (uint64_t)(raw - b->input);
	return e->offset;
}

static void log_record_error(struct stage_rt *s, const struct sp_batch *b,
			     const struct sp_record_error *e)
{
	unsigned n = atomic_fetch_add(&s->logged_errors, 1);

	if (n < 5)
		sp_log_warn(
		    "[%s:%s:%s] %s:%llu (byte %llu): %s",
		    sp_stage_kind_name(s->desc->kind), s->desc->name, s->fs->id,
		    b->source ? b->source : "-", (unsigned long long)e->line,
		    (unsigned long long)rt_error_offset(b, e), e->reason);
	else if (n == 5)
		sp_log_warn("[%s:%s:%s] further record errors are counted, "
			    "not logged",
			    sp_stage_kind_name(s->desc->kind), s->desc->name,
			    s->fs->id);
}

/* Builds the error record for e into w->errb: the original fields (or the
 * raw text when the record did not parse) plus a spate_error object. */
static int make_error_record(struct worker *w, struct stage_rt *s,
			     const struct sp_batch *b,
			     const struct sp_record_error *e)
{
	struct sp_batch *eb = w->errb;
	struct sp_buf obj;
	char src[64];
	int rc = -ENOMEM;

	sp_buf_init(&obj);
	if (!sp_batch_record_begin(eb))
		goto out;
	eb->recs[eb->nrecs - 1].flags = SP_RECORD_CHANGED;
	eb->recs[eb->nrecs - 1].line = e->line;
	if (e->record != SP_NO_RECORD) {
		const struct sp_record *r = &b->recs[e->record];
		for (uint32_t i = 0; i < r->nfields; i++) {
			const struct sp_field *f = &b->fields[r->first + i];
			if (f->sym == SP_SYM_NONE)
				continue;
			struct sp_field *g = sp_batch_field_add(eb);
			if (!g)
				goto out;
			*g = *f;
		}
	}
	snprintf(src, sizeof(src), ":%llu", (unsigned long long)e->line);
	if (sp_buf_append(&obj, "{\"stage\":", 9) ||
	    sp_json_append_string(&obj, s->fs->id, strlen(s->fs->id)) ||
	    sp_buf_append(&obj, ",\"reason\":", 10) ||
	    sp_json_append_string(&obj, e->reason, strlen(e->reason)) ||
	    sp_buf_append(&obj, ",\"source\":\"", 11))
		goto out;
	{
		const char *name = b->source ? b->source : "-";
		struct sp_buf tmp;
		sp_buf_init(&tmp);
		/* escape the file name, then drop its quotes */
		if (sp_json_append_string(&tmp, name, strlen(name)) ||
		    sp_buf_append(&obj, tmp.data + 1, tmp.len - 2)) {
			sp_buf_fini(&tmp);
			goto out;
		}
		sp_buf_fini(&tmp);
	}
	if (sp_buf_append(&obj, src, strlen(src)) || sp_buf_putc(&obj, '"'))
		goto out;
	if (e->record == SP_NO_RECORD && e->raw) {
		/* raw is JSON text, so invalid UTF-8 in it shows as U+FFFD;
		 * raw_base64 then keeps the exact bytes */
		if (sp_buf_append(&obj, ",\"raw\":", 7) ||
		    sp_json_append_string(&obj, e->raw, e->raw_len))
			goto out;
		if (!sp_utf8_is_valid(e->raw, e->raw_len) &&
		    (sp_buf_append(&obj, ",\"raw_base64\":\"", 15) ||
		     sp_base64_append(&obj, e->raw, e->raw_len) ||
		     sp_buf_putc(&obj, '"')))
			goto out;
	}
	if (sp_buf_putc(&obj, '}'))
		goto out;
	char *text = sp_arena_strndup(&eb->arena, obj.data, obj.len);
	struct sp_field *g = sp_batch_field_add(eb);
	if (!text || !g)
		goto out;
	g->sym = sp_symtab_intern(eb->symtab, "spate_error", 11);
	g->v = (struct sp_value){
	    .type = SP_OBJECT, .len = (uint32_t)obj.len, .str = text};
	rc = 0;
out:
	sp_buf_fini(&obj);
	return rc;
}

static void flush_error_batch(struct worker *w)
{
	struct sp_runtime *rt = w->rt;
	struct sp_batch *eb = w->errb;

	if (eb->nrecs == 0)
		return;
	struct stage_rt *es = &rt->st[rt->error_stage];
	struct counters *c = &w->ctr[es->index];
	uint32_t n = eb->nrecs;
	if (w->all_cap < n)
		n = w->all_cap; /* all_cap >= any batch's record count */
	uint64_t t0 = now_ns();
	int rc = es->desc->stage_batch(es->state, w->ws[es->index].wstate, eb,
				       w->all, n);
	count(&c->busy_ns, now_ns() - t0);
	count(&c->in, n);
	count(&c->errors, eb->nerrors);
	count(&c->forwarded, n - eb->nerrors);
	for (uint32_t i = 0; i < eb->nerrors; i++)
		log_record_error(es, eb, &eb->errors[i]);
	if (rc < 0)
		rt_run_fail(rt, "stage '%s' (error stage) failed: %s",
			    es->fs->id, strerror(-rc));
	sp_batch_reset(eb);
}

/* Applies stage s's on_record_error to errors [from, b->nerrors) of b.
 * Returns how many there were. */
uint32_t rt_handle_errors(struct worker *w, struct stage_rt *s,
			  struct sp_batch *b, uint32_t from)
{
	struct sp_runtime *rt = w->rt;
	uint32_t n = b->nerrors - from;

	if (n == 0)
		return 0;
	for (uint32_t i = from; i < b->nerrors; i++) {
		const struct sp_record_error *e = &b->errors[i];
		if (rt->opt.validate_only) {
			/* the report of a validating run: every error */
			sp_log_error("[%s:%s:%s] %s:%llu (byte %llu): %s",
				     sp_stage_kind_name(s->desc->kind),
				     s->desc->name, s->fs->id,
				     b->source ? b->source : "-",
				     (unsigned long long)e->line,
				     (unsigned long long)rt_error_offset(b, e),
				     e->reason);
			continue;
		}
		log_record_error(s, b, e);
		switch (s->fs->on_error) {
		case SP_ON_ERROR_STOP:
			rt_run_fail(
			    rt,
			    "stage '%s' stopped the run (on_record_error: "
			    "stop): %s:%llu (byte %llu): %s",
			    s->fs->id, b->source ? b->source : "-",
			    (unsigned long long)e->line,
			    (unsigned long long)rt_error_offset(b, e),
			    e->reason);
			break;
		case SP_ON_ERROR_TO_ERROR:
			if (rt->error_stage == UINT32_MAX ||
			    rt->error_stage == s->index)
				break;
			if (w->errb->nrecs + 1 > w->all_cap &&
			    rt_ensure_all(w, w->errb->nrecs + 1))
				break;
			if (make_error_record(w, s, b, e))
				rt_run_fail(rt,
					    "out of memory building an error "
					    "record");
			break;
		case SP_ON_ERROR_DISCARD:
			break;
		}
	}
	if (rt->error_stage != UINT32_MAX)
		flush_error_batch(w);
	return n;
}
