/*
 * sink: a destination that hands its records to callbacks the program
 * registered by name (sp_sink_register; spate_sink_register in the SDK),
 * e.g. a Python stage.  The callbacks run on a thread of the stage's own:
 * a worker that has records for the sink passes the batch to that thread
 * and waits until the callback has taken it, so the callback sees one
 * batch at a time, always from the same thread, and may mark records as
 * errors in the batch, which the engine then counts and routes like any
 * record error.  The registry of names lives here too.
 */
#include "stages/destinations/sink.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "stage_api/stage.h"

#define SINK_NAME_MAX 128

/* ---- the registry ------------------------------------------------------- */

struct sink_entry {
	struct sink_entry *next;
	char name[SINK_NAME_MAX + 1];
	struct sp_sink_ops ops;
	unsigned refs; /* the registration (until unregistered) + runs */
	bool registered;
};

static pthread_mutex_t registry_lock = PTHREAD_MUTEX_INITIALIZER;
static struct sink_entry *registry;

static bool sink_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > SINK_NAME_MAX)
		return false;
	for (; *name; name++) {
		char c = *name;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || c == '.' ||
		      c == '-'))
			return false;
	}
	return true;
}

/* caller holds registry_lock */
static struct sink_entry *find_entry(const char *name)
{
	for (struct sink_entry *e = registry; e; e = e->next)
		if (e->registered && strcmp(e->name, name) == 0)
			return e;
	return NULL;
}

int sp_sink_register(const char *name, const struct sp_sink_ops *ops)
{
	struct sink_entry *e;
	int r = 0;

	if (!sink_name_ok(name) || !ops || !ops->write)
		return -EINVAL;
	pthread_mutex_lock(&registry_lock);
	if (find_entry(name)) {
		r = -EEXIST;
		goto unlock;
	}
	e = calloc(1, sizeof(*e));
	if (!e) {
		r = -ENOMEM;
		goto unlock;
	}
	strcpy(e->name, name);
	e->ops = *ops;
	e->refs = 1;
	e->registered = true;
	e->next = registry;
	registry = e;
unlock:
	pthread_mutex_unlock(&registry_lock);
	return r;
}

/* Drops one reference; the last one unlinks the entry and releases it. */
static void entry_put(struct sink_entry *e)
{
	struct sink_entry **p;
	bool last;

	pthread_mutex_lock(&registry_lock);
	last = --e->refs == 0;
	if (last) {
		for (p = &registry; *p != e; p = &(*p)->next)
			;
		*p = e->next;
	}
	pthread_mutex_unlock(&registry_lock);
	if (!last)
		return;
	if (e->ops.release)
		e->ops.release(e->ops.user);
	free(e);
}

int sp_sink_unregister(const char *name)
{
	struct sink_entry *e;

	if (!name)
		return -ENOENT;
	pthread_mutex_lock(&registry_lock);
	e = find_entry(name);
	if (e)
		e->registered = false;
	pthread_mutex_unlock(&registry_lock);
	if (!e)
		return -ENOENT;
	entry_put(e);
	return 0;
}

static struct sink_entry *entry_get(const char *name)
{
	struct sink_entry *e;

	pthread_mutex_lock(&registry_lock);
	e = find_entry(name);
	if (e)
		e->refs++;
	pthread_mutex_unlock(&registry_lock);
	return e;
}

/* ---- the stage ---------------------------------------------------------- */

struct sink_config {
	char *name;
};

static const struct sp_option sink_options[] = {
    {.name = "name",
     .type = SP_OPT_STRING,
     .required = true,
     .offset = offsetof(struct sink_config, name),
     .help = "the name under which the program running the flow "
	     "registered the callbacks that receive the records "
	     "(spate_sink_register; a Python stage registers itself)"},
    {0},
};

struct sink_state {
	struct sink_entry *entry;
	const struct sp_stage_ctx *ctx;
	const char *id;
	struct sp_arena scratch;
	pthread_t thread;
	bool thread_started;
	pthread_mutex_t submit; /* one worker's batch at a time */
	pthread_mutex_t lock;	/* guards the fields below */
	pthread_cond_t cond;
	struct sp_sink_records *job; /* batch waiting for the thread */
	bool job_done;
	int job_rc;
	bool quit;
	char error[512]; /* first failure of write, sticky */
};

static int sink_create(const void *config, const struct sp_stage_ctx *ctx,
		       void **state, char *err, size_t errlen)
{
	const struct sink_config *cfg = config;
	struct sink_state *s;

	s = calloc(1, sizeof(*s));
	if (!s)
		return -ENOMEM;
	s->entry = entry_get(cfg->name);
	if (!s->entry) {
		snprintf(err, errlen,
			 "no sink '%s' is registered in this process "
			 "(spate_sink_register, or a Python stage)",
			 cfg->name);
		free(s);
		return -ENOENT;
	}
	s->ctx = ctx;
	s->id = ctx->id;
	sp_arena_init(&s->scratch, 64 * 1024);
	pthread_mutex_init(&s->submit, NULL);
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->cond, NULL);
	*state = s;
	return 0;
}

static void *sink_thread(void *arg)
{
	struct sink_state *s = arg;
	const struct sp_sink_ops *ops = &s->entry->ops;
	char err[sizeof(s->error)];

	pthread_mutex_lock(&s->lock);
	for (;;) {
		while (!s->job && !s->quit)
			pthread_cond_wait(&s->cond, &s->lock);
		if (!s->job)
			break;
		struct sp_sink_records *r = s->job;

		pthread_mutex_unlock(&s->lock);
		err[0] = '\0';
		sp_arena_reset(&s->scratch);
		r->scratch = &s->scratch;
		int rc = ops->write(ops->user, r, err, sizeof(err));

		pthread_mutex_lock(&s->lock);
		if (rc < 0 && !s->error[0])
			snprintf(s->error, sizeof(s->error), "%s",
				 err[0] ? err : strerror(-rc));
		s->job = NULL;
		s->job_rc = rc < 0 ? rc : 0;
		s->job_done = true;
		pthread_cond_broadcast(&s->cond);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

static int sink_start(void *state, char *err, size_t errlen)
{
	struct sink_state *s = state;
	const struct sp_sink_ops *ops = &s->entry->ops;
	int r;

	if (ops->begin) {
		r = ops->begin(ops->user, s->id, err, errlen);
		if (r < 0)
			return r;
	}
	r = pthread_create(&s->thread, NULL, sink_thread, s);
	if (r) {
		snprintf(err, errlen, "cannot start the sink thread: %s",
			 strerror(r));
		return -r;
	}
	s->thread_started = true;
	return 0;
}

/* After a failed write the run drains and fails in prepare() with the
 * sink's message: the records of that batch and of the batches still
 * arriving are record errors, since they were not taken. */
static void reject(struct sink_state *s, struct sp_batch *b,
		   const uint32_t *sel, uint32_t n)
{
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_record *r = &b->recs[sel[i]];

		sp_batch_error_add(b, sel[i], r->line, 0, r->raw, r->raw_len,
				   "not taken: the sink failed (%s)", s->error);
	}
}

static int sink_stage_batch(void *state, void *wstate, struct sp_batch *b,
			    const uint32_t *sel, uint32_t n)
{
	struct sink_state *s = state;
	struct sp_sink_records r = {.b = b, .sel = sel, .n = n};
	uint32_t err0 = b->nerrors;
	bool failed;

	if (n == 0)
		return 0;
	pthread_mutex_lock(&s->submit);
	pthread_mutex_lock(&s->lock);
	if (!s->error[0]) {
		s->job = &r;
		s->job_done = false;
		pthread_cond_broadcast(&s->cond);
		while (!s->job_done)
			pthread_cond_wait(&s->cond, &s->lock);
		if (s->job_rc < 0) {
			sp_log_error("[destination:sink:%s] %s", s->id,
				     s->error);
			/* what the write rejected: all of them are */
			b->nerrors = err0;
			sp_stage_request_stop(s->ctx, s->error);
		}
	}
	failed = s->error[0] != '\0';
	if (failed)
		reject(s, b, sel, n);
	pthread_mutex_unlock(&s->lock);
	pthread_mutex_unlock(&s->submit);
	return 0;
}

static int64_t sink_batch_end(void *state, void *wstate, uint64_t seq)
{
	return 0;
}

static void stop_thread(struct sink_state *s)
{
	if (!s->thread_started)
		return;
	pthread_mutex_lock(&s->lock);
	s->quit = true;
	pthread_cond_broadcast(&s->cond);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	s->thread_started = false;
}

static int sink_prepare(void *state, char *err, size_t errlen)
{
	struct sink_state *s = state;

	if (!s->error[0])
		return 0;
	snprintf(err, errlen, "%s", s->error);
	return -EIO;
}

static int sink_finish(void *state, bool ok, char *err, size_t errlen)
{
	struct sink_state *s = state;
	const struct sp_sink_ops *ops = &s->entry->ops;

	stop_thread(s);
	return ops->end ? ops->end(ops->user, ok, err, errlen) : 0;
}

static void sink_close(void *state)
{
	struct sink_state *s = state;

	if (!s)
		return;
	stop_thread(s);
	entry_put(s->entry);
	sp_arena_fini(&s->scratch);
	pthread_cond_destroy(&s->cond);
	pthread_mutex_destroy(&s->lock);
	pthread_mutex_destroy(&s->submit);
	free(s);
}

const struct sp_stage_desc sp_stage_sink = {
    .abi = SP_STAGE_ABI,
    .name = "sink",
    .kind = SP_DESTINATION,
    .help = "hands records to callbacks of the program running the flow "
	    "(a Python stage, spate_sink_register), one batch at a time",
    .options = sink_options,
    .config_size = sizeof(struct sink_config),
    .create = sink_create,
    .start = sink_start,
    .stage_batch = sink_stage_batch,
    .batch_end = sink_batch_end,
    .prepare = sink_prepare,
    .finish = sink_finish,
    .close = sink_close,
    .run_id_at_start = sp_stage_no_run_id_at_start,
};
