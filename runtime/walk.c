/*
 * The workers' depth-first walk of a batch through processors, selector
 * lanes and destinations, and the reader threads that feed them chunks.
 */
#include "runtime/runtime_internal.h"

/* ---- the depth-first walk ---------------------------------------------- */

int rt_ensure_all(struct worker *w, uint32_t n)
{
	if (n <= w->all_cap)
		return 0;
	uint32_t cap = w->all_cap ? w->all_cap : 1024;
	while (cap < n)
		cap *= 2;
	uint32_t *a = realloc(w->all, cap * sizeof(*a));
	if (!a)
		return -ENOMEM;
	for (uint32_t i = w->all_cap; i < cap; i++)
		a[i] = i;
	w->all = a;
	w->all_cap = cap;
	uint32_t *m = realloc(w->mark, cap * sizeof(*m));
	if (!m)
		return -ENOMEM;
	memset(m + w->mark_cap, 0, (cap - w->mark_cap) * sizeof(*m));
	w->mark = m;
	w->mark_cap = cap;
	return 0;
}

static int ensure_out(struct wstage *ws, uint32_t nlanes, uint32_t n)
{
	if (n <= ws->cap)
		return 0;
	uint32_t cap = ws->cap ? ws->cap : 1024;
	while (cap < n)
		cap *= 2;
	for (uint32_t l = 0; l < nlanes; l++) {
		uint32_t *p = realloc(ws->out[l].idx, cap * sizeof(*p));
		if (!p)
			return -ENOMEM;
		ws->out[l].idx = p;
	}
	ws->cap = cap;
	return 0;
}

static void run_stage(struct worker *w, uint32_t t, struct sp_batch *b,
		      const uint32_t *sel, uint32_t n, bool shared);

static void dispatch(struct worker *w, struct stage_rt *s, uint32_t lane,
		     struct sp_batch *b, const uint32_t *sel, uint32_t n,
		     bool shared)
{
	uint32_t nc = s->ncons[lane];

	for (uint32_t k = 0; k < nc; k++)
		run_stage(w, s->cons[lane][k], b, sel, n, shared || nc > 1);
}

/* After a stage's batch call that began at t0: its busy time counted,
 * and a negative rc fails the run (false). */
static bool stage_call_ended(struct sp_runtime *rt, const struct stage_rt *s,
			     struct counters *c, uint64_t t0, int rc)
{
	count(&c->busy_ns, now_ns() - t0);
	if (rc < 0) {
		rt_run_fail(rt, "stage '%s' failed: %s", s->fs->id,
			    strerror(-rc));
		return false;
	}
	return true;
}

static void run_processor(struct worker *w, struct stage_rt *s,
			  struct sp_batch *b, const uint32_t *sel, uint32_t n,
			  bool shared)
{
	struct sp_runtime *rt = w->rt;
	struct wstage *ws = &w->ws[s->index];
	struct counters *c = &w->ctr[s->index];

	if (ensure_out(ws, s->nlanes, n) || rt_ensure_all(w, n)) {
		rt_run_fail(rt, "out of memory in stage '%s'", s->fs->id);
		return;
	}
	if (s->desc->mutates && shared) {
		/* private copy: other lanes keep seeing the original */
		if (!ws->copy) {
			ws->copy = sp_batch_create(rt->symtab);
			if (!ws->copy) {
				rt_run_fail(rt, "out of memory in stage '%s'",
					    s->fs->id);
				return;
			}
		}
		sp_batch_reset(ws->copy);
		ws->copy->source = b->source;
		ws->copy->seq = b->seq;
		ws->copy->input = b->input;
		ws->copy->input_offset = b->input_offset;
		ws->copy->bytes_in = b->bytes_in;
		if (sp_batch_copy_records(ws->copy, b, sel, n)) {
			rt_run_fail(rt, "out of memory in stage '%s'",
				    s->fs->id);
			return;
		}
		b = ws->copy;
		sel = w->all;
		shared = false;
	}
	uint32_t err0 = b->nerrors;
	for (uint32_t l = 0; l < s->nlanes; l++)
		ws->out[l].n = 0;
	uint64_t t0 = now_ns();
	int rc = s->desc->process(s->state, ws->wstate, b, sel, n, ws->out);
	if (!stage_call_ended(rt, s, c, t0, rc))
		return;
	uint32_t nerr = rt_handle_errors(w, s, b, err0);
	uint64_t forwarded;
	if (s->nlanes == 1) {
		forwarded = ws->out[0].n;
	} else {
		/* distinct records over all lanes (mode all may overlap) */
		if (++w->epoch == 0) {
			memset(w->mark, 0, w->mark_cap * sizeof(*w->mark));
			w->epoch = 1;
		}
		forwarded = 0;
		for (uint32_t l = 0; l < s->nlanes; l++)
			for (uint32_t i = 0; i < ws->out[l].n; i++) {
				uint32_t r = ws->out[l].idx[i];
				if (w->mark[r] != w->epoch) {
					w->mark[r] = w->epoch;
					forwarded++;
				}
			}
	}
	count(&c->in, n);
	count(&c->errors, nerr);
	count(&c->forwarded, forwarded);
	count(&c->batches, 1);
	if (forwarded + nerr < n) {
		if (s->desc->may_drop)
			count(&c->dropped, n - forwarded - nerr);
		else
			count(&c->lost, n - forwarded - nerr);
	}
	for (uint32_t l = 0; l < s->nlanes; l++) {
		count(&c->out[l], ws->out[l].n);
		/* lanes of one selector may overlap: treat them as shared */
		bool lane_shared = shared || s->nlanes > 1;
		if (ws->out[l].n)
			dispatch(w, s, l, b, ws->out[l].idx, ws->out[l].n,
				 lane_shared);
	}
}

static void run_stage(struct worker *w, uint32_t t, struct sp_batch *b,
		      const uint32_t *sel, uint32_t n, bool shared)
{
	struct sp_runtime *rt = w->rt;
	struct stage_rt *s = &rt->st[t];

	if (s->desc->kind == SP_PROCESSOR) {
		run_processor(w, s, b, sel, n, shared);
		return;
	}
	if (s->desc->kind != SP_DESTINATION)
		return;
	struct counters *c = &w->ctr[t];
	if (rt->opt.validate_only) { /* routed here, written nowhere */
		count(&c->in, n);
		count(&c->forwarded, n);
		count(&c->batches, 1);
		return;
	}
	uint32_t err0 = b->nerrors;
	uint64_t t0 = now_ns();
	int rc = s->desc->stage_batch(s->state, w->ws[t].wstate, b, sel, n);
	if (!stage_call_ended(rt, s, c, t0, rc))
		return;
	uint32_t nerr = rt_handle_errors(w, s, b, err0);
	count(&c->in, n);
	count(&c->errors, nerr);
	count(&c->forwarded, n - nerr);
	count(&c->batches, 1);
}

static void process_chunk(struct worker *w, struct work *wk)
{
	struct sp_runtime *rt = w->rt;
	struct stage_rt *o = &rt->st[wk->origin];
	struct counters *c = &w->ctr[o->index];
	struct sp_batch *b = w->batch;

	sp_batch_reset(b);
	b->source = wk->c.source;
	b->seq = wk->c.seq;
	b->bytes_in = wk->c.len;
	b->input = wk->c.data;
	b->input_offset = wk->c.offset;
	uint64_t t0 = now_ns();
	int rc = o->desc->parse(o->state, w->ws[o->index].wstate, &wk->c, b);
	count(&c->busy_ns, now_ns() - t0);
	if (rc < 0 && b->nerrors) {
		/* the origin refused a record (file_reader on_error: abort) */
		const struct sp_record_error *e = &b->errors[0];
		rt_run_fail(rt, "stage '%s' stopped at %s:%llu (byte %llu): %s",
			    o->fs->id, wk->c.source ? wk->c.source : "input",
			    (unsigned long long)e->line,
			    (unsigned long long)rt_error_offset(b, e),
			    e->reason);
		return;
	}
	if (rc < 0) {
		rt_run_fail(rt, "stage '%s' failed reading %s: %s", o->fs->id,
			    wk->c.source ? wk->c.source : "input",
			    strerror(-rc));
		return;
	}
	if (rt_ensure_all(w, b->nrecs)) {
		rt_run_fail(rt, "out of memory");
		return;
	}
	uint32_t nerr = rt_handle_errors(w, o, b, 0);
	count(&c->in, b->nrecs + nerr);
	count(&c->errors, nerr);
	count(&c->forwarded, b->nrecs);
	count(&c->out[0], b->nrecs);
	count(&c->bytes_in, wk->c.len);
	count(&c->batches, 1);
	if (b->nrecs)
		dispatch(w, o, 0, b, w->all, b->nrecs, false);
}

static void end_batch(struct worker *w, uint64_t seq)
{
	struct sp_runtime *rt = w->rt;

	for (uint32_t i = 0; !rt->opt.validate_only && i < rt->ndests; i++) {
		struct stage_rt *d = &rt->st[rt->dests[i]];
		if (!d->desc->batch_end)
			continue;
		uint64_t t0 = now_ns();
		int64_t rc =
		    d->desc->batch_end(d->state, w->ws[d->index].wstate, seq);
		count(&w->ctr[d->index].busy_ns, now_ns() - t0);
		if (rc < 0) {
			rt_run_fail(rt, "stage '%s' failed: %s", d->fs->id,
				    strerror((int)-rc));
			return;
		}
		count(&w->ctr[d->index].bytes_out, (uint64_t)rc);
	}
}

void *rt_worker_main(void *arg)
{
	struct worker *w = arg;
	struct sp_runtime *rt = w->rt;
	void *item;

	if (w->cpu >= 0) {
		cpu_set_t set;
		CPU_ZERO(&set);
		CPU_SET(w->cpu, &set);
		pthread_setaffinity_np(pthread_self(), sizeof(set), &set);
	}
	while (sp_ring_pop_mpmc(&rt->chunks, &item) == 0) {
		struct work *wk = item;
		struct origin_rt *o = NULL;
		for (uint32_t i = 0; i < rt->norigins; i++)
			if (rt->origins[i].stage == wk->origin)
				o = &rt->origins[i];
		if (!atomic_load_explicit(&rt->aborting,
					  memory_order_relaxed)) {
			process_chunk(w, wk);
			end_batch(w, wk->c.seq);
		}
		struct stage_rt *os = &rt->st[wk->origin];
		if (os->desc->release)
			os->desc->release(os->state, &wk->c);
		/* the slot goes back to its reader; never full by sizing */
		sp_ring_try_push_mpmc(&o->free_slots, wk);
	}
	if (!atomic_load(&rt->aborting) && !rt->opt.validate_only) {
		for (uint32_t i = 0; i < rt->ndests; i++) {
			struct stage_rt *d = &rt->st[rt->dests[i]];
			if (!d->desc->worker_flush)
				continue;
			int64_t rc = d->desc->worker_flush(
			    d->state, w->ws[d->index].wstate);
			if (rc < 0)
				rt_run_fail(rt, "stage '%s' failed: %s",
					    d->fs->id, strerror((int)-rc));
			else
				count(&w->ctr[d->index].bytes_out,
				      (uint64_t)rc);
		}
	}
	if (atomic_fetch_sub(&rt->workers_left, 1) == 1)
		rt_wake_controller(rt);
	return NULL;
}

void *rt_reader_main(void *arg)
{
	struct origin_rt *o = arg;
	struct sp_runtime *rt = o->rt;
	struct stage_rt *s = &rt->st[o->stage];
	char err[512];
	void *slot;
	bool drained = true;

	for (;;) {
		if (atomic_load(&rt->stopping)) {
			drained = false;
			break;
		}
		if (sp_ring_pop_mpmc(&o->free_slots, &slot))
			break;
		struct work *wk = slot;
		memset(wk, 0, sizeof(*wk));
		wk->origin = o->stage;
		err[0] = '\0';
		int rc = s->desc->next(s->state, &wk->c, err, sizeof(err));
		if (rc <= 0) {
			sp_ring_try_push_mpmc(&o->free_slots, wk);
			if (rc < 0) {
				rt_run_fail(rt, "stage '%s': %s", s->fs->id,
					    err[0] ? err : strerror(-rc));
				drained = false;
			}
			break;
		}
		pthread_mutex_lock(&rt->seq_lock);
		wk->c.seq = atomic_fetch_add(&rt->next_seq, 1);
		int pushed = sp_ring_push_mpmc(&rt->chunks, wk);
		pthread_mutex_unlock(&rt->seq_lock);
		if (pushed) {
			if (s->desc->release)
				s->desc->release(s->state, &wk->c);
			break;
		}
	}
	if (drained)
		rt_emit_simple(rt, "no-more-data", s->fs->id);
	if (atomic_fetch_sub(&rt->readers_left, 1) == 1)
		sp_ring_close(&rt->chunks);
	return NULL;
}
