/*
 * Status of a run, readable from any thread while it runs: per stage
 * and lane counters summed over the workers; and tearing a run down.
 */
#include "runtime/runtime_internal.h"

#include "core/hugemem.h"

/* ---- status ------------------------------------------------------------- */

/* acquire, against count()'s release: a count read here comes with every
 * count its worker made before it */
static uint64_t ld(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_acquire);
}

/* Sums stage i's counters over the workers into rep->stages[i]; a
 * broken balance goes into rep->accounting at *acc. */
static void report_stage(struct sp_runtime *rt, struct sp_run_report *rep,
			 uint32_t i, size_t *accp)
{
	size_t acc = *accp;
	struct stage_rt *s = &rt->st[i];
	struct sp_stage_report *r = &rep->stages[i];
	uint64_t lost = 0;
	r->id = s->fs->id;
	r->type = s->desc->name;
	r->kind = s->desc->kind;
	r->nlanes = s->desc->kind == SP_PROCESSOR || s->desc->kind == SP_ORIGIN
			? s->nlanes
			: 0;
	for (uint32_t l = 0; l < r->nlanes; l++)
		r->lanes[l] = s->fs->nlanes ? s->fs->lanes[l] : "";
	struct counters *cs[1 + 1024];
	unsigned nc = 0;
	cs[nc++] = &rt->exec_ctr[i];
	for (unsigned wi = 0; rt->workers && wi < rt->nworkers && nc < 1025;
	     wi++)
		if (rt->workers[wi].ctr)
			cs[nc++] = &rt->workers[wi].ctr[i];
	r->warnings = ld(&s->warnings);
	for (unsigned k = 0; k < nc; k++) {
		struct counters *c = cs[k];
		r->in += ld(&c->in);
		r->forwarded += ld(&c->forwarded);
		r->errors += ld(&c->errors);
		r->warnings += ld(&c->warnings);
		r->dropped += ld(&c->dropped);
		r->bytes_in += ld(&c->bytes_in);
		r->bytes_out += ld(&c->bytes_out);
		r->batches += ld(&c->batches);
		r->busy_ns += ld(&c->busy_ns);
		lost += ld(&c->lost);
		for (uint32_t l = 0; l < r->nlanes; l++)
			r->out[l] += ld(&c->out[l]);
	}
	/* an executor's errors are failed events, not records */
	if (s->desc->kind != SP_EXECUTOR &&
	    s->fs->on_error == SP_ON_ERROR_DISCARD && !s->fs->on_record_error)
		rep->discarded += r->errors;
	if (s->desc->kind == SP_ORIGIN && s->desc->input_size && s->state) {
		r->input_size = s->desc->input_size(s->state);
		rep->input_bytes += r->input_size;
	}
	if (s->desc->status && s->state) {
		s->desc->status(s->state, &r->extra);
		if (r->extra.bytes_in)
			r->bytes_in = r->extra.bytes_in;
		if (r->extra.bytes_out)
			r->bytes_out = r->extra.bytes_out;
	}
	if ((lost || r->in != r->forwarded + r->errors + r->dropped) &&
	    s->desc->kind != SP_EXECUTOR && acc < sizeof(rep->accounting))
		acc += (size_t)snprintf(
		    rep->accounting + acc, sizeof(rep->accounting) - acc,
		    "%sstage '%s': in %llu != out %llu + errors "
		    "%llu + dropped %llu",
		    acc ? "; " : "", r->id, (unsigned long long)r->in,
		    (unsigned long long)r->forwarded,
		    (unsigned long long)r->errors,
		    (unsigned long long)r->dropped);
	*accp = acc;
}

int sp_runtime_report(struct sp_runtime *rt, struct sp_run_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->stages =
	    calloc(rt->nstages ? rt->nstages : 1, sizeof(*rep->stages));
	if (!rep->stages)
		return -ENOMEM;
	rep->nstages = rt->nstages;
	rep->workers = rt->nworkers;
	pthread_mutex_lock(&rt->lock);
	rep->state = rt->state;
	rep->committed = rt->committed;
	rep->stop_too_late = rt->stop_too_late;
	snprintf(rep->run_id, sizeof(rep->run_id), "%s", rt->run_id);
	snprintf(rep->error, sizeof(rep->error), "%s", rt->error);
	uint64_t end = rt->t_end;
	pthread_mutex_unlock(&rt->lock);
	if (!end)
		end = now_ns();
	rep->elapsed_s = rt->t_start ? (double)(end - rt->t_start) / 1e9 : 0;
	/* the stages downstream of the origins first: a record is counted
	 * by its origin before any stage after it, so a destination's count
	 * read before its origin's never exceeds it (out <= in while the
	 * run goes on) */
	size_t acc = 0;
	for (int pass = 0; pass < 2; pass++)
		for (uint32_t i = 0; i < rt->nstages; i++)
			if ((rt->st[i].desc->kind == SP_ORIGIN) == (pass == 1))
				report_stage(rt, rep, i, &acc);
	return 0;
}

void sp_run_report_fini(struct sp_run_report *rep)
{
	free(rep->stages);
	rep->stages = NULL;
}

void sp_runtime_destroy(struct sp_runtime *rt)
{
	if (!rt)
		return;
	if (rt->threads_started) {
		sp_runtime_stop(rt, true);
		sp_runtime_wait(rt);
	}
	for (unsigned i = 0; rt->workers && i < rt->nworkers; i++) {
		struct worker *w = &rt->workers[i];
		for (uint32_t s = 0; w->ws && s < rt->nstages; s++) {
			struct stage_rt *st = &rt->st[s];
			if (w->ws[s].wstate && st->desc->worker_destroy)
				st->desc->worker_destroy(st->state,
							 w->ws[s].wstate);
			for (uint32_t l = 0; l < SP_MAX_LANES; l++)
				free(w->ws[s].out[l].idx);
			sp_batch_destroy(w->ws[s].copy);
		}
		free(w->ws);
		free(w->ctr);
		free(w->mark);
		free(w->all);
		sp_batch_destroy(w->batch);
		sp_batch_destroy(w->errb);
	}
	free(rt->workers);
	for (uint32_t i = 0; rt->origins && i < rt->norigins; i++) {
		free(rt->origins[i].slots);
		sp_ring_fini(&rt->origins[i].free_slots);
	}
	free(rt->origins);
	if (rt->chunks.ring)
		sp_ring_fini(&rt->chunks);
	for (uint32_t i = 0; rt->st && i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (s->state && s->desc->close)
			s->desc->close(s->state);
		for (uint32_t l = 0; l < SP_MAX_LANES; l++)
			free(s->cons[l]);
		free(s->subs);
		free(s->log_prefix);
	}
	struct event_item *it = rt->events, *next;
	for (; it; it = next) {
		next = it->next;
		free(it->mem);
		free(it);
	}
	for (uint32_t i = 0; i < rt->ntargets; i++)
		free(rt->targets[i]);
	free(rt->targets);
	free(rt->st);
	free(rt->ctx);
	free(rt->exec_ctr);
	free(rt->dests);
	sp_symtab_destroy(rt->symtab);
	pthread_mutex_destroy(&rt->lock);
	pthread_mutex_destroy(&rt->seq_lock);
	pthread_cond_destroy(&rt->cond);
	if (rt->stop_fd >= 0)
		close(rt->stop_fd);
	free(rt);
	sp_huge_trim(); /* the buffers its stages left for reuse */
}
