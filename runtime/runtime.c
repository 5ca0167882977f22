/*
 * The runtime: runs a validated flow.  Creation of the stages, starting
 * the threads, and waiting for the run to end (events, commit or roll
 * back).  The rest of the runtime is in events.c, errors.c, walk.c and
 * report.c; runtime_internal.h holds what they share.
 */
#include "runtime/runtime_internal.h"

#include <sys/random.h>

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

/* A value no other run gets: random bits, else time and pid. */
static uint64_t unique_u64(void)
{
	uint64_t v;

	if (getrandom(&v, sizeof(v), GRND_NONBLOCK) == (ssize_t)sizeof(v))
		return v;
	return now_ns() ^ ((uint64_t)getpid() << 40);
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
	/* the same symbols as the flow's table, which the stages' options
	 * were compiled against; what the run adds stays the run's */
	rt->symtab = sp_symtab_clone(f->symtab);
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
		snprintf(rt->flow_key, sizeof(rt->flow_key), "%016llx",
			 (unsigned long long)fnv64(yaml.data, yaml.len));
	sp_buf_fini(&yaml);

	bool streaming = false;
	for (uint32_t i = 0; i < f->nstages; i++)
		streaming |= f->stages[i]->desc->kind == SP_ORIGIN &&
			     f->stages[i]->desc->streaming;
	rt->streaming = streaming;
	if (streaming)
		rt->unique = unique_u64();

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
		ctx->services = &rt_runtime_services;
		ctx->index = i;
		if (asprintf(&s->log_prefix, "[%s:%s:%s]",
			     sp_stage_kind_name(s->desc->kind), s->desc->name,
			     s->fs->id) < 0) {
			s->log_prefix = NULL;
			goto oom;
		}
		ctx->log_prefix = s->log_prefix;
		ctx->stop_fd = rt->stop_fd;
		ctx->catalog = opt->catalog;
		ctx->validate_only = opt->validate_only;
		ctx->committed = &rt->committed;
		ctx->trust_mtime = opt->trust_mtime;
		ctx->streaming = streaming;
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
	/* the run id covers the origins' input: known now, unless an
	 * origin left its content hash to the read (sp_runtime_start) */
	if (!rt_identity_pending(rt))
		rt_run_id_set(rt);
	*out = rt;
	return 0;
oom:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	sp_runtime_destroy(rt);
	return rc;
}

/* Every destination with lasting output already holds this run's
 * complete output (and there is one). */
static bool holds_run(struct sp_runtime *rt)
{
	uint32_t n = 0;

	if (rt->opt.force || rt->opt.validate_only)
		return false;
	for (uint32_t i = 0; i < rt->ndests; i++) {
		struct stage_rt *d = &rt->st[rt->dests[i]];
		if (!d->desc->holds_run || !d->started)
			continue;
		if (!d->desc->holds_run(d->state))
			return false;
		n++;
	}
	return n > 0;
}

/* Runs the after_commit callbacks of a committed run; a failure fails
 * the run (its output stays committed). */
static void after_commit(struct sp_runtime *rt)
{
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->after_commit || !s->state)
			continue;
		char msg[512] = "";
		int rc = s->desc->after_commit(s->state, msg, sizeof(msg));
		if (rc < 0)
			rt_run_fail(rt, "stage '%s': %s", s->fs->id,
				    msg[0] ? msg : strerror(-rc));
	}
}

/* The output of this run is committed already: nothing to do but what
 * follows a commit (an earlier run may have failed to record it).
 * -EALREADY with the reason in err; the report says committed, and
 * failed with the error when recording failed. */
static int skip_run(struct sp_runtime *rt, char *err, size_t errlen)
{
	snprintf(err, errlen,
		 "every destination already holds the committed output of "
		 "this flow over the same input (run %s); nothing to do "
		 "(--force does it again)",
		 rt->run_id);
	pthread_mutex_lock(&rt->lock); /* what sp_runtime_report reads */
	rt->committed = true;
	pthread_mutex_unlock(&rt->lock);
	after_commit(rt);
	if (atomic_load(&rt->failed)) {
		pthread_mutex_lock(&rt->lock);
		rt->state = SP_RUN_FAILED;
		pthread_mutex_unlock(&rt->lock);
	}
	return -EALREADY;
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

	/* the run id before any stage starts, when a destination needs it
	 * then; else after the data (run_id.c) */
	rt->run_id_late = rt_run_id_can_wait(rt);
	if (!rt->run_id_late && rt_identity_pending(rt)) {
		if ((rc = rt_identity_complete(rt, err, errlen)))
			return rc;
		rt_run_id_set(rt);
	}
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->start)
			continue;
		/* validating: nothing that writes or acts is started */
		if (rt->opt.validate_only && (s->desc->kind == SP_DESTINATION ||
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
	if (holds_run(rt))
		return skip_run(rt, err, errlen);

	unsigned ring = sp_ring_size_for(rt->nworkers * 4);
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
		    sp_ring_init(&o->free_slots, sp_ring_size_for(nslots + 1)))
			goto oom;
		for (unsigned j = 0; j < nslots; j++)
			sp_ring_try_push_mpmc(&o->free_slots, &o->slots[j]);
	}
	for (unsigned i = 0; i < rt->nworkers; i++) {
		struct worker *w = &rt->workers[i];
		w->rt = rt;
		w->id = i;
		w->cpu =
		    (rt->opt.no_pin || ncpu == 0) ? -1 : cpu_list[i % ncpu];
		w->batch = sp_batch_create(rt->symtab);
		w->errb = sp_batch_create(rt->symtab);
		w->ws = calloc(rt->nstages, sizeof(*w->ws));
		w->ctr = aligned_alloc(64, sizeof(*w->ctr) * rt->nstages);
		if (!w->batch || !w->errb || !w->ws || !w->ctr ||
		    rt_ensure_all(w, 4096))
			goto oom;
		memset(w->ctr, 0, sizeof(*w->ctr) * rt->nstages);
		w->errb->source = "error";
		for (uint32_t s = 0; s < rt->nstages; s++) {
			struct stage_rt *st = &rt->st[s];
			if (!st->desc->worker_create)
				continue;
			w->ws[s].wstate = st->desc->worker_create(st->state, i);
			if (!w->ws[s].wstate) {
				/* the stage contract: callbacks never see a
				 * NULL worker state, so the run cannot go on */
				snprintf(err, errlen,
					 "stage '%s': cannot create its state "
					 "for worker %u (out of memory)",
					 st->fs->id, i);
				return -ENOMEM;
			}
		}
	}

	atomic_store(&rt->readers_left, rt->norigins);
	atomic_store(&rt->workers_left, rt->nworkers);
	rt->state = SP_RUN_RUNNING;
	rt->t_start = now_ns();
	for (unsigned i = 0; i < rt->nworkers; i++)
		if ((rc = pthread_create(&rt->workers[i].thread, NULL,
					 rt_worker_main, &rt->workers[i]))) {
			snprintf(err, errlen, "cannot start worker: %s",
				 strerror(rc));
			/* threads already running see an empty, closed ring */
			rt->nworkers = i;
			atomic_store(&rt->workers_left, i);
			rt->norigins = 0;
			sp_ring_close(&rt->chunks);
			rt->threads_started = true;
			rt_run_fail(rt, "cannot start worker: %s",
				    strerror(rc));
			return -rc;
		}
	for (uint32_t i = 0; i < rt->norigins; i++)
		if ((rc = pthread_create(&rt->origins[i].thread, NULL,
					 rt_reader_main, &rt->origins[i]))) {
			rt->norigins = i;
			atomic_store(&rt->readers_left, i);
			if (i == 0)
				sp_ring_close(&rt->chunks);
			rt->threads_started = true;
			rt_run_fail(rt, "cannot start reader: %s",
				    strerror(rc));
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
		rt_dispatch_events(rt);
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
	if (ok && rt->run_id_late) {
		char msg[600] = "";
		if (rt_identity_complete(rt, msg, sizeof(msg)) < 0) {
			rt_run_fail(rt, "%s", msg);
			ok = false;
		} else {
			rt_run_id_set(rt);
		}
	}
	for (uint32_t i = 0; ok && i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->prepare || !s->started)
			continue;
		char msg[512] = "";
		int rc = s->desc->prepare(s->state, msg, sizeof(msg));
		if (rc < 0) {
			rt_run_fail(rt, "stage '%s': %s", s->fs->id,
				    msg[0] ? msg : strerror(-rc));
			ok = false;
		}
	}
	/* the commit point: a stop from here on no longer rolls back */
	pthread_mutex_lock(&rt->lock);
	ok = ok && !atomic_load(&rt->aborting);
	rt->publishing = ok;
	pthread_mutex_unlock(&rt->lock);
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (!s->desc->finish || !s->started)
			continue;
		char msg[512] = "";
		int rc = s->desc->finish(s->state, ok, msg, sizeof(msg));
		if (rc < 0) {
			rt_run_fail(rt, "stage '%s': %s", s->fs->id,
				    msg[0] ? msg : strerror(-rc));
			ok = false;
		}
	}
	/* under lock: sp_runtime_report (a status from another thread)
	 * may be reading it */
	pthread_mutex_lock(&rt->lock);
	rt->committed = ok && !rt->opt.validate_only;
	pthread_mutex_unlock(&rt->lock);
	if (rt->committed)
		after_commit(rt);
	rt_dispatch_events(rt);
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
	pthread_mutex_unlock(&rt->lock);
	return rt->state;
}
