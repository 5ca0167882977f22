/*
 * Run state: names, failing and stopping a run, and the events stages
 * raise (queued from any thread, delivered to executors by the thread
 * that waits for the run).
 */
#include "runtime/runtime_internal.h"
#include "core/redact.h"

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

void rt_wake_controller(struct sp_runtime *rt)
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

void rt_run_fail(struct sp_runtime *rt, const char *fmt, ...)
{
	va_list ap;

	pthread_mutex_lock(&rt->lock);
	if (!atomic_load(&rt->failed)) {
		va_start(ap, fmt);
		vsnprintf(rt->error, sizeof(rt->error), fmt, ap);
		va_end(ap);
		sp_redact(rt->error);
		atomic_store(&rt->failed, true);
	}
	atomic_store(&rt->aborting, true);
	set_stopping(rt);
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
}

void sp_runtime_stop(struct sp_runtime *rt, bool abort)
{
	/* under the lock that sp_runtime_wait takes to decide to publish:
	 * an abort either comes before (rolled back) or is too late */
	pthread_mutex_lock(&rt->lock);
	if (abort)
		atomic_store(&rt->aborting, true);
	if (rt->publishing)
		rt->stop_too_late = true;
	set_stopping(rt);
	pthread_cond_broadcast(&rt->cond);
	pthread_mutex_unlock(&rt->lock);
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
		sp_log_error("out of memory: event '%s' from '%s' lost",
			     ev->type, ev->stage);
		return;
	}
	char *p = mem;
#define COPY(dst, src)                                                         \
	do {                                                                   \
		size_t l_ = strlen(src) + 1;                                   \
		memcpy(p, src, l_);                                            \
		dst = p;                                                       \
		p += l_;                                                       \
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

static void count_warning(void *engine, uint32_t stage)
{
	struct sp_runtime *rt = engine;

	if (stage < rt->nstages)
		atomic_fetch_add_explicit(&rt->st[stage].warnings, 1,
					  memory_order_relaxed);
}

static void add_target(void *engine, const char *target)
{
	struct sp_runtime *rt = engine;
	char *copy = strdup(target);

	pthread_mutex_lock(&rt->lock);
	char **t =
	    copy ? realloc(rt->targets, (rt->ntargets + 2) * sizeof(*t)) : NULL;
	if (t) {
		t[rt->ntargets++] = copy;
		t[rt->ntargets] = NULL;
		rt->targets = t;
	} else {
		free(copy);
		sp_log_error("out of memory: target %s left out of the "
			     "commit record",
			     target);
	}
	pthread_mutex_unlock(&rt->lock);
}

static const char *const *targets(void *engine)
{
	struct sp_runtime *rt = engine;
	static const char *const none[] = {NULL};

	return rt->targets ? (const char *const *)rt->targets : none;
}

static void fail_run(void *engine, const char *why)
{
	rt_run_fail(engine, "%s", why);
}

const struct sp_stage_services rt_runtime_services = {
    .emit_event = emit_event,
    .request_stop = request_stop,
    .count_warning = count_warning,
    .add_target = add_target,
    .targets = targets,
    .fail = fail_run,
};

void rt_emit_simple(struct sp_runtime *rt, const char *type, const char *stage)
{
	struct sp_event ev = {.type = type, .stage = stage};

	emit_event(rt, &ev);
}

/* Runs queued events through the executors; controller thread only. */
void rt_dispatch_events(struct sp_runtime *rt)
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
