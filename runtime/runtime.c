/*
 * Runtime: threads, rings and the depth-first walk of a batch through the
 * stage graph.
 *
 *   reader thread (per origin) --chunks--> ring --> worker 0..N-1
 *   worker: parse -> processors -> lanes -> destinations -> batch_end
 *   any thread --events--> queue --> controller (sp_runtime_wait)
 *
 * A batch never leaves the worker that parsed it: destinations encode and
 * compress on the worker and hand finished blocks to their own writer
 * threads, so batches and their arenas are recycled by the thread that
 * owns them.  Fan-out gives each lane a selection over the shared batch; a
 * stage that mutates records gets a private copy when the batch is shared.
 */
#define _GNU_SOURCE
#include "runtime/runtime.h"

#include <errno.h>
#include <pthread.h>
#include <sched.h>
#include <stdarg.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "record/json.h"
#include "core/log.h"
#include "core/ring.h"

/* Counters of one stage on one worker: one writer, summed on read. */
struct counters {
	_Atomic uint64_t in, forwarded, errors, warnings, dropped, lost;
	_Atomic uint64_t bytes_in, bytes_out, batches, busy_ns;
	_Atomic uint64_t out[SP_MAX_LANES];
} __attribute__((aligned(64)));

static inline void count(_Atomic uint64_t *c, uint64_t n)
{
	/* single writer: a relaxed load + store, no read-modify-write */
	atomic_store_explicit(c, atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_relaxed);
}

static inline uint64_t now_ns(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000000000u + (uint64_t)ts.tv_nsec;
}

struct stage_rt {
	struct sp_flow_stage *fs;
	const struct sp_stage_desc *desc;
	void *state;
	uint32_t index;
	uint32_t nlanes;
	/* consumers of each lane */
	uint32_t *cons[SP_MAX_LANES];
	uint32_t ncons[SP_MAX_LANES];
	/* executors subscribed to this stage's events */
	uint32_t *subs;
	uint32_t nsubs;
	atomic_uint logged_errors;
	bool started;
};

struct work {
	struct sp_chunk c;
	uint32_t origin;
};

struct origin_rt {
	struct sp_runtime *rt;
	uint32_t stage;
	pthread_t thread;
	struct work *slots;
	struct sp_ring free_slots;
};

/* Per worker, per stage scratch: output selections and a copy batch. */
struct wstage {
	void *wstate;
	struct sp_selection out[SP_MAX_LANES];
	uint32_t cap;
	struct sp_batch *copy;
	uint32_t *ident; /* 0..cap-1 for copies */
};

struct worker {
	struct sp_runtime *rt;
	unsigned id;
	int cpu;
	pthread_t thread;
	struct sp_batch *batch;
	struct sp_batch *errb;
	struct wstage *ws;    /* per stage */
	struct counters *ctr; /* per stage */
	uint32_t *mark;	      /* distinct-record marks for fan-out */
	uint32_t mark_cap, epoch;
	uint32_t *all; /* 0..n-1 */
	uint32_t all_cap;
};

struct event_item {
	struct event_item *next;
	struct sp_event ev;
	char *mem; /* strings of ev */
};

struct sp_runtime {
	struct sp_flow *flow;
	struct sp_run_options opt;
	struct sp_symtab *symtab;
	struct sp_stage_ctx *ctx; /* per stage */
	struct stage_rt *st;
	uint32_t nstages;
	uint32_t error_stage; /* UINT32_MAX when none */
	uint32_t *dests;      /* destination stage indices */
	uint32_t ndests;
	struct origin_rt *origins;
	uint32_t norigins;
	struct worker *workers;
	unsigned nworkers;
	struct counters *exec_ctr; /* per stage, controller-written */
	struct sp_ring chunks;
	char run_id[17];

	atomic_uint readers_left;
	atomic_uint workers_left;
	_Atomic uint64_t next_seq;
	atomic_bool stopping;
	int stop_fd; /* eventfd, readable once stopping (stages poll it) */
	atomic_bool aborting;
	atomic_bool failed;
	atomic_bool stop_by_finisher;
	enum sp_run_state state;
	uint64_t t_start, t_end;

	pthread_mutex_t lock; /* events, error text, state changes */
	/* Readers take a sequence number and queue their chunk as one step:
	 * were a reader to block on a full ring between the two, workers
	 * could hold every later seq while an ordered writer waits for the
	 * missing one. */
	pthread_mutex_t seq_lock;
	pthread_cond_t cond;
	struct event_item *events, **events_tail;
	char error[1024];
	bool threads_started;
	bool committed; /* the stages' ctx->committed */
};

const char *sp_run_state_name(enum sp_run_state s)
{
	static const char *const names[] = {"created", "running", "finished",
					    "failed", "stopped"};
	return names[s];
}

const char *sp_stage_kind_name(enum sp_stage_kind k)
{
	static const char *const names[] = {"origin", "processor",
					    "destination", "executor"};
	return (unsigned)k < 4 ? names[k] : "?";
}

unsigned sp_usable_cpus(void)
{
	cpu_set_t set;

	if (sched_getaffinity(0, sizeof(set), &set) == 0) {
		int n = CPU_COUNT(&set);
		if (n > 0)
			return (unsigned)n;
	}
	return 1;
}

/* ---- failure, stop and events --------------------------------------- */

static void wake_controller(struct sp_runtime *rt)
{
	pthread_mutex_lock(&rt->lock);
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

/* Origins blocked in a read (stdin) poll ctx->stop_fd to notice this. */
static void set_stopping(struct sp_runtime *rt)
{
	if (!atomic_exchange(&rt->stopping, true) && rt->stop_fd >= 0)
		(void)!write(rt->stop_fd, &(uint64_t){1}, sizeof(uint64_t));
}

static void run_fail(struct sp_runtime *rt, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

static void run_fail(struct sp_runtime *rt, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rt->lock);
	if (!atomic_load(&rt->failed)) {
		va_start(ap, fmt);
		vsnprintf(rt->error, sizeof(rt->error), fmt, ap);
		va_end(ap);
		atomic_store(&rt->failed, true);
	}
	atomic_store(&rt->aborting, true);
	set_stopping(rt);
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

void sp_runtime_stop(struct sp_runtime *rt, bool abort)
{
	if (abort)
		atomic_store(&rt->aborting, true);
	set_stopping(rt);
	wake_controller(rt);
}

static void request_stop(void *engine, const char *why)
{
	struct sp_runtime *rt = engine;

	sp_log_info("%s", why);
	atomic_store(&rt->stop_by_finisher, true);
	sp_runtime_stop(rt, false);
}

static void emit_event(void *engine, const struct sp_event *ev)
{
	struct sp_runtime *rt = engine;
	size_t need = strlen(ev->type) + 1 + strlen(ev->stage) + 1;
	uint32_t n = ev->nfields < SP_EVENT_MAX_FIELDS ? ev->nfields
						       : SP_EVENT_MAX_FIELDS;

	for (uint32_t i = 0; i < n; i++)
		need += strlen(ev->keys[i]) + strlen(ev->values[i]) + 2;
	struct event_item *it = calloc(1, sizeof(*it));
	char *mem = malloc(need);
	if (!it || !mem) {
		free(it);
		free(mem);
		sp_log_error("out of memory: event '%s' from '%s' lost", ev->type,
			     ev->stage);
		return;
	}
	char *p = mem;
#define COPY(dst, src)                                                        \
	do {                                                                  \
		size_t l_ = strlen(src) + 1;                                  \
		memcpy(p, src, l_);                                           \
		dst = p;                                                      \
		p += l_;                                                      \
	} while (0)
	COPY(it->ev.type, ev->type);
	COPY(it->ev.stage, ev->stage);
	for (uint32_t i = 0; i < n; i++) {
		COPY(it->ev.keys[i], ev->keys[i]);
		COPY(it->ev.values[i], ev->values[i]);
	}
#undef COPY
	it->ev.nfields = n;
	it->mem = mem;
	pthread_mutex_lock(&rt->lock);
	*rt->events_tail = it;
	rt->events_tail = &it->next;
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

static const struct sp_stage_services runtime_services = {
	.emit_event = emit_event,
	.request_stop = request_stop,
};

static void emit_simple(struct sp_runtime *rt, const char *type,
			const char *stage)
{
	struct sp_event ev = {.type = type, .stage = stage};

	emit_event(rt, &ev);
}

/* Runs queued events through the executors; controller thread only. */
static void dispatch_events(struct sp_runtime *rt)
{
	for (;;) {
		pthread_mutex_lock(&rt->lock);
		struct event_item *it = rt->events;
		if (it) {
			rt->events = it->next;
			if (!rt->events)
				rt->events_tail = &rt->events;
		}
		pthread_mutex_unlock(&rt->lock);
		if (!it)
			return;
		for (uint32_t s = 0; s < rt->nstages; s++) {
			struct stage_rt *src = &rt->st[s];
			if (strcmp(src->fs->id, it->ev.stage) != 0)
				continue;
			for (uint32_t k = 0; k < src->nsubs; k++) {
				struct stage_rt *ex = &rt->st[src->subs[k]];
				struct counters *c = &rt->exec_ctr[ex->index];
				count(&c->in, 1);
				if (!ex->desc->on_event ||
				    rt->opt.validate_only)
					continue;
				uint64_t t0 = now_ns();
				int rc = ex->desc->on_event(ex->state, &it->ev);
				count(&c->busy_ns, now_ns() - t0);
				if (rc < 0)
					count(&c->errors, 1);
				else
					count(&c->forwarded, 1);
			}
		}
		free(it->mem);
		free(it);
	}
}

/* ---- record errors ------------------------------------------------------ */

/* A stage rejecting a parsed record does not know where it came from:
 * its raw text points into the batch's input. */
static uint64_t error_offset(const struct sp_batch *b,
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
		sp_log_warn("[%s:%s:%s] %s:%llu (byte %llu): %s",
			    sp_stage_kind_name(s->desc->kind), s->desc->name,
			    s->fs->id, b->source ? b->source : "-",
			    (unsigned long long)e->line,
			    (unsigned long long)error_offset(b, e), e->reason);
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
		if (sp_buf_append(&obj, ",\"raw\":", 7) ||
		    sp_json_append_string(&obj, e->raw, e->raw_len))
			goto out;
	}
	if (sp_buf_putc(&obj, '}'))
		goto out;
	char *text = sp_arena_strndup(&eb->arena, obj.data, obj.len);
	struct sp_field *g = sp_batch_field_add(eb);
	if (!text || !g)
		goto out;
	g->sym = sp_symtab_intern(eb->symtab, "spate_error", 11);
	g->v = (struct sp_value){.type = SP_OBJECT,
				 .len = (uint32_t)obj.len,
				 .str = text};
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
		run_fail(rt, "stage '%s' (error stage) failed: %s", es->fs->id,
			 strerror(-rc));
	sp_batch_reset(eb);
}

static int ensure_all(struct worker *w, uint32_t n);

/* Applies stage s's on_record_error to errors [from, b->nerrors) of b.
 * Returns how many there were. */
static uint32_t handle_errors(struct worker *w, struct stage_rt *s,
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
				     (unsigned long long)error_offset(b, e),
				     e->reason);
			continue;
		}
		log_record_error(s, b, e);
		switch (s->fs->on_error) {
		case SP_ON_ERROR_STOP:
			run_fail(rt,
				 "stage '%s' stopped the run (on_record_error: "
				 "stop): %s:%llu (byte %llu): %s",
				 s->fs->id, b->source ? b->source : "-",
				 (unsigned long long)e->line,
				 (unsigned long long)error_offset(b, e),
				 e->reason);
			break;
		case SP_ON_ERROR_TO_ERROR:
			if (rt->error_stage == UINT32_MAX ||
			    rt->error_stage == s->index)
				break;
			if (w->errb->nrecs + 1 > w->all_cap &&
			    ensure_all(w, w->errb->nrecs + 1))
				break;
			if (make_error_record(w, s, b, e))
				run_fail(rt, "out of memory building an error "
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

/* ---- the depth-first walk ---------------------------------------------- */

static int ensure_all(struct worker *w, uint32_t n)
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

static void run_processor(struct worker *w, struct stage_rt *s,
			  struct sp_batch *b, const uint32_t *sel, uint32_t n,
			  bool shared)
{
	struct sp_runtime *rt = w->rt;
	struct wstage *ws = &w->ws[s->index];
	struct counters *c = &w->ctr[s->index];

	if (ensure_out(ws, s->nlanes, n) || ensure_all(w, n)) {
		run_fail(rt, "out of memory in stage '%s'", s->fs->id);
		return;
	}
	if (s->desc->mutates && shared) {
		/* private copy: other lanes keep seeing the original */
		if (!ws->copy) {
			ws->copy = sp_batch_create(rt->symtab);
			if (!ws->copy) {
				run_fail(rt, "out of memory in stage '%s'",
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
			run_fail(rt, "out of memory in stage '%s'", s->fs->id);
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
	count(&c->busy_ns, now_ns() - t0);
	if (rc < 0) {
		run_fail(rt, "stage '%s' failed: %s", s->fs->id, strerror(-rc));
		return;
	}
	uint32_t nerr = handle_errors(w, s, b, err0);
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
	count(&c->busy_ns, now_ns() - t0);
	if (rc < 0) {
		run_fail(rt, "stage '%s' failed: %s", s->fs->id, strerror(-rc));
		return;
	}
	uint32_t nerr = handle_errors(w, s, b, err0);
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
		run_fail(rt, "stage '%s' stopped at %s:%llu (byte %llu): %s",
			 o->fs->id, wk->c.source ? wk->c.source : "input",
			 (unsigned long long)e->line,
			 (unsigned long long)error_offset(b, e), e->reason);
		return;
	}
	if (rc < 0) {
		run_fail(rt, "stage '%s' failed reading %s: %s", o->fs->id,
			 wk->c.source ? wk->c.source : "input", strerror(-rc));
		return;
	}
	if (ensure_all(w, b->nrecs)) {
		run_fail(rt, "out of memory");
		return;
	}
	uint32_t nerr = handle_errors(w, o, b, 0);
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
		int64_t rc = d->desc->batch_end(d->state, w->ws[d->index].wstate,
						seq);
		count(&w->ctr[d->index].busy_ns, now_ns() - t0);
		if (rc < 0) {
			run_fail(rt, "stage '%s' failed: %s", d->fs->id,
				 strerror((int)-rc));
			return;
		}
		count(&w->ctr[d->index].bytes_out, (uint64_t)rc);
	}
}

static void *worker_main(void *arg)
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
		if (!atomic_load_explicit(&rt->aborting, memory_order_relaxed)) {
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
				run_fail(rt, "stage '%s' failed: %s", d->fs->id,
					 strerror((int)-rc));
			else
				count(&w->ctr[d->index].bytes_out, (uint64_t)rc);
		}
	}
	if (atomic_fetch_sub(&rt->workers_left, 1) == 1)
		wake_controller(rt);
	return NULL;
}

static void *reader_main(void *arg)
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
				run_fail(rt, "stage '%s': %s", s->fs->id,
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
		emit_simple(rt, "no-more-data", s->fs->id);
	if (atomic_fetch_sub(&rt->readers_left, 1) == 1)
		sp_ring_close(&rt->chunks);
	return NULL;
}

/* ---- creation ------------------------------------------------------------ */

static uint64_t fnv64(const char *s, size_t n)
{
	uint64_t h = 1469598103934665603ull;

	for (size_t i = 0; i < n; i++)
		h = (h ^ (unsigned char)s[i]) * 1099511628211ull;
	return h;
}

static int add_u32(uint32_t **arr, uint32_t *n, uint32_t v)
{
	uint32_t *p = realloc(*arr, (*n + 1) * sizeof(**arr));

	if (!p)
		return -ENOMEM;
	p[(*n)++] = v;
	*arr = p;
	return 0;
}

int sp_runtime_create(struct sp_flow *f, const struct sp_run_options *opt,
		      struct sp_runtime **out, char *err, size_t errlen)
{
	struct sp_runtime *rt;
	int rc = -ENOMEM;

	if (!f->valid) {
		snprintf(err, errlen, "flow '%s' has not been validated",
			 f->name ? f->name : "?");
		return -EINVAL;
	}
	rt = calloc(1, sizeof(*rt));
	if (!rt)
		goto oom;
	rt->flow = f;
	rt->opt = *opt;
	rt->stop_fd = eventfd(0, EFD_CLOEXEC | EFD_NONBLOCK);
	pthread_mutex_init(&rt->lock, NULL);
	pthread_mutex_init(&rt->seq_lock, NULL);
	pthread_cond_init(&rt->cond, NULL);
	rt->events_tail = &rt->events;
	rt->error_stage = f->error_stage_index;
	rt->nstages = f->nstages;
	rt->symtab = sp_symtab_create();
	rt->st = calloc(f->nstages, sizeof(*rt->st));
	rt->ctx = calloc(f->nstages, sizeof(*rt->ctx));
	rt->exec_ctr = aligned_alloc(64, sizeof(struct counters) *
						 (f->nstages ? f->nstages : 1));
	if (!rt->symtab || !rt->st || !rt->ctx || !rt->exec_ctr)
		goto oom;
	memset(rt->exec_ctr, 0, sizeof(struct counters) * f->nstages);

	unsigned workers = opt->workers ? opt->workers
			   : f->workers ? (unsigned)f->workers
					: sp_usable_cpus();
	rt->nworkers = workers;

	struct sp_buf yaml;
	sp_buf_init(&yaml);
	if (sp_flow_save_yaml(f, &yaml) == 0)
		snprintf(rt->run_id, sizeof(rt->run_id), "%016llx",
			 (unsigned long long)fnv64(yaml.data, yaml.len));
	sp_buf_fini(&yaml);

	for (uint32_t i = 0; i < f->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		s->fs = f->stages[i];
		s->desc = s->fs->desc;
		s->index = i;
		s->nlanes = s->fs->nlanes ? s->fs->nlanes : 1;
		atomic_init(&s->logged_errors, 0);
		if (s->desc->kind == SP_DESTINATION &&
		    add_u32(&rt->dests, &rt->ndests, i))
			goto oom;
		if (s->desc->kind == SP_ORIGIN)
			rt->norigins++;
	}
	for (uint32_t e = 0; e < f->nedges; e++) {
		struct sp_edge *ed = &f->edges[e];
		struct stage_rt *s = &rt->st[ed->from];
		if (add_u32(&s->cons[ed->lane], &s->ncons[ed->lane], ed->to))
			goto oom;
	}
	for (uint32_t e = 0; e < f->nevent_edges; e++) {
		struct sp_edge *ed = &f->event_edges[e];
		struct stage_rt *s = &rt->st[ed->from];
		if (add_u32(&s->subs, &s->nsubs, ed->to))
			goto oom;
	}
	for (uint32_t i = 0; i < f->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		struct sp_stage_ctx *ctx = &rt->ctx[i];
		ctx->flow = f->name;
		ctx->flow_dir = f->dir ? f->dir : ".";
		ctx->id = s->fs->id;
		ctx->run_id = rt->run_id;
		ctx->symtab = rt->symtab;
		ctx->workers = workers;
		ctx->force = opt->force;
		ctx->engine = rt;
		ctx->services = &runtime_services;
		ctx->stop_fd = rt->stop_fd;
		ctx->catalog = opt->catalog;
		ctx->validate_only = opt->validate_only;
		ctx->committed = &rt->committed;
		if (!s->desc->create)
			continue;
		char msg[512] = "";
		rc = s->desc->create(s->fs->bound, ctx, &s->state, msg,
				     sizeof(msg));
		if (rc < 0) {
			snprintf(err, errlen, "stage '%s' (%s): %s", s->fs->id,
				 s->desc->name, msg[0] ? msg : strerror(-rc));
			goto fail;
		}
	}
	/* the run id also covers the origins' input */
	uint64_t id = fnv64(rt->run_id, strlen(rt->run_id));
	for (uint32_t i = 0; i < f->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (s->desc->kind == SP_ORIGIN && s->desc->identity && s->state)
			id = (id ^ s->desc->identity(s->state)) *
			     1099511628211ull;
	}
	snprintf(rt->run_id, sizeof(rt->run_id), "%016llx",
		 (unsigned long long)id);
	*out = rt;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	sp_runtime_destroy(rt);
	return rc;
}

static unsigned pow2_at_least(unsigned n)
{
	unsigned p = 4;

	while (p < n)
		p *= 2;
	return p;
}

int sp_runtime_start(struct sp_runtime *rt, char *err, size_t errlen)
{
	int rc;
	cpu_set_t cpus;
	int cpu_list[CPU_SETSIZE], ncpu = 0;

	if (sched_getaffinity(0, sizeof(cpus), &cpus) == 0)
		for (int c = 0; c < CPU_SETSIZE; c++)
			if (CPU_ISSET(c, &cpus))
				cpu_list[ncpu++] = c;

	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->start)
			continue;
		/* validating: nothing that writes or acts is started */
		if (rt->opt.validate_only &&
		    (s->desc->kind == SP_DESTINATION ||
		     s->desc->kind == SP_EXECUTOR))
			continue;
		char msg[512] = "";
		rc = s->desc->start(s->state, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(err, errlen, "stage '%s' (%s): %s", s->fs->id,
				 s->desc->name, msg[0] ? msg : strerror(-rc));
			return rc;
		}
		s->started = true;
	}

	unsigned ring = pow2_at_least(rt->nworkers * 4);
	if ((rc = sp_ring_init(&rt->chunks, ring)))
		goto oom;
	rt->origins = calloc(rt->norigins, sizeof(*rt->origins));
	rt->workers = calloc(rt->nworkers, sizeof(*rt->workers));
	if (!rt->origins || !rt->workers)
		goto oom;
	uint32_t k = 0;
	unsigned nslots = ring + rt->nworkers + 2;
	for (uint32_t i = 0; i < rt->nstages; i++) {
		if (rt->st[i].desc->kind != SP_ORIGIN)
			continue;
		struct origin_rt *o = &rt->origins[k++];
		o->rt = rt;
		o->stage = i;
		o->slots = calloc(nslots, sizeof(*o->slots));
		if (!o->slots ||
		    sp_ring_init(&o->free_slots, pow2_at_least(nslots + 1)))
			goto oom;
		for (unsigned j = 0; j < nslots; j++)
			sp_ring_try_push_mpmc(&o->free_slots, &o->slots[j]);
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker *w = &rt->workers[i];
		w->rt = rt;
		w->id = i;
		w->cpu = (rt->opt.no_pin || ncpu == 0) ? -1
						       : cpu_list[i % ncpu];
		w->batch = sp_batch_create(rt->symtab);
		w->errb = sp_batch_create(rt->symtab);
		w->ws = calloc(rt->nstages, sizeof(*w->ws));
		w->ctr = aligned_alloc(64, sizeof(*w->ctr) * rt->nstages);
		if (!w->batch || !w->errb || !w->ws || !w->ctr ||
		    ensure_all(w, 4096))
			goto oom;
		memset(w->ctr, 0, sizeof(*w->ctr) * rt->nstages);
		w->errb->source = "error";
		for (uint32_t s = 0; s < rt->nstages; s++) {
			struct stage_rt *st = &rt->st[s];
			if (st->desc->worker_create)
				w->ws[s].wstate =
					st->desc->worker_create(st->state, i);
		}
	}

	atomic_store(&rt->readers_left, rt->norigins);
	atomic_store(&rt->workers_left, rt->nworkers);
	rt->state = SP_RUN_RUNNING;
	rt->t_start = now_ns();
	for (unsigned i = 0; i < rt->nworkers; i++)
		if ((rc = pthread_create(&rt->workers[i].thread, NULL,
					 worker_main, &rt->workers[i]))) {
			snprintf(err, errlen, "cannot start worker: %s",
				 strerror(rc));
			/* threads already running see an empty, closed ring */
			rt->nworkers = i;
			atomic_store(&rt->workers_left, i);
			rt->norigins = 0;
			sp_ring_close(&rt->chunks);
			rt->threads_started = true;
			run_fail(rt, "cannot start worker: %s", strerror(rc));
			return -rc;
		}
	for (uint32_t i = 0; i < rt->norigins; i++)
		if ((rc = pthread_create(&rt->origins[i].thread, NULL,
					 reader_main, &rt->origins[i]))) {
			rt->norigins = i;
			atomic_store(&rt->readers_left, i);
			if (i == 0)
				sp_ring_close(&rt->chunks);
			rt->threads_started = true;
			run_fail(rt, "cannot start reader: %s", strerror(rc));
			snprintf(err, errlen, "cannot start reader: %s",
				 strerror(rc));
			return -rc;
		}
	if (rt->norigins == 0)
		sp_ring_close(&rt->chunks);
	rt->threads_started = true;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	return -ENOMEM;
}

enum sp_run_state sp_runtime_wait(struct sp_runtime *rt)
{
	if (!rt->threads_started)
		return rt->state;
	for (;;) {
		dispatch_events(rt);
		pthread_mutex_lock(&rt->lock);
		while (!rt->events && atomic_load(&rt->workers_left) > 0)
			pthread_cond_wait(&rt->cond, &rt->lock);
		bool done = atomic_load(&rt->workers_left) == 0 && !rt->events;
		pthread_mutex_unlock(&rt->lock);
		if (done)
			break;
	}
	for (uint32_t i = 0; i < rt->norigins; i++)
		pthread_join(rt->origins[i].thread, NULL);
	for (unsigned i = 0; i < rt->nworkers; i++)
		pthread_join(rt->workers[i].thread, NULL);
	rt->threads_started = false;

	bool ok = !atomic_load(&rt->failed) && !atomic_load(&rt->aborting);
	for (uint32_t i = 0; ok && i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->prepare || !s->started)
			continue;
		char msg[512] = "";
		int rc = s->desc->prepare(s->state, msg, sizeof(msg));
		if (rc < 0) {
			run_fail(rt, "stage '%s': %s", s->fs->id,
				 msg[0] ? msg : strerror(-rc));
			ok = false;
		}
	}
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->finish || !s->started)
			continue;
		char msg[512] = "";
		int rc = s->desc->finish(s->state, ok, msg, sizeof(msg));
		if (rc < 0) {
			run_fail(rt, "stage '%s': %s", s->fs->id,
				 msg[0] ? msg : strerror(-rc));
			ok = false;
		}
	}
	dispatch_events(rt);
	uint64_t t_end = now_ns();
	pthread_mutex_lock(&rt->lock);
	rt->t_end = t_end; /* under lock: sp_runtime_report may be reading */
	if (atomic_load(&rt->failed))
		rt->state = SP_RUN_FAILED;
	else if (atomic_load(&rt->stopping) &&
		 !atomic_load(&rt->stop_by_finisher))
		rt->state = SP_RUN_STOPPED;
	else
		rt->state = SP_RUN_FINISHED;
	rt->committed = ok && rt->state != SP_RUN_FAILED &&
			!rt->opt.validate_only;
	pthread_mutex_unlock(&rt->lock);
	return rt->state;
}

/* ---- status ------------------------------------------------------------- */

static uint64_t ld(_Atomic uint64_t *c)
{
	return atomic_load_explicit(c, memory_order_relaxed);
}

int sp_runtime_report(struct sp_runtime *rt, struct sp_run_report *rep)
{
	memset(rep, 0, sizeof(*rep));
	rep->stages = calloc(rt->nstages ? rt->nstages : 1,
			     sizeof(*rep->stages));
	if (!rep->stages)
		return -ENOMEM;
	rep->nstages = rt->nstages;
	rep->workers = rt->nworkers;
	pthread_mutex_lock(&rt->lock);
	rep->state = rt->state;
	snprintf(rep->error, sizeof(rep->error), "%s", rt->error);
	uint64_t end = rt->t_end;
	pthread_mutex_unlock(&rt->lock);
	if (!end)
		end = now_ns();
	rep->elapsed_s = rt->t_start ? (double)(end - rt->t_start) / 1e9 : 0;
	size_t acc = 0;
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		struct sp_stage_report *r = &rep->stages[i];
		uint64_t lost = 0;
		r->id = s->fs->id;
		r->type = s->desc->name;
		r->kind = s->desc->kind;
		r->nlanes = s->desc->kind == SP_PROCESSOR ||
					    s->desc->kind == SP_ORIGIN
				    ? s->nlanes
				    : 0;
		for (uint32_t l = 0; l < r->nlanes; l++)
			r->lanes[l] = s->fs->nlanes ? s->fs->lanes[l] : "";
		struct counters *cs[1 + 1024];
		unsigned nc = 0;
		cs[nc++] = &rt->exec_ctr[i];
		for (unsigned wi = 0; rt->workers && wi < rt->nworkers &&
				      nc < 1025;
		     wi++)
			if (rt->workers[wi].ctr)
				cs[nc++] = &rt->workers[wi].ctr[i];
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
		if (s->desc->kind == SP_ORIGIN && s->desc->input_size &&
		    s->state) {
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
				rep->accounting + acc,
				sizeof(rep->accounting) - acc,
				"%sstage '%s': in %llu != out %llu + errors "
				"%llu + dropped %llu",
				acc ? "; " : "", r->id,
				(unsigned long long)r->in,
				(unsigned long long)r->forwarded,
				(unsigned long long)r->errors,
				(unsigned long long)r->dropped);
	}
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
	}
	struct event_item *it = rt->events, *next;
	for (; it; it = next) {
		next = it->next;
		free(it->mem);
		free(it);
	}
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
}
