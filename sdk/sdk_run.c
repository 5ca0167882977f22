/*
 * The C SDK, running: wraps runtime/runtime.h.  A run works on its own
 * copy of the flow (saved as YAML and loaded again), so the caller's flow
 * can be edited or destroyed while the run goes on, and the strings the
 * run hands out (stage ids, lanes) live as long as the run.  When the run
 * has ended its last report is kept and status is read from it.
 */
#include "sdk/sdk_internal.h"

/* ---- running ------------------------------------------------------------ */

struct spate_run {
	struct sp_flow *f;	   /* the run's own validated copy */
	struct sp_runtime *rt;	   /* NULL when the run never got going */
	pthread_mutex_t lock;	   /* ended, state, final, error */
	pthread_mutex_t wait_lock; /* one spate_run_wait() at a time */
	bool ended;
	enum spate_run_state state; /* final once ended */
	struct sp_run_report final; /* the last report, once ended */
	char error[1024];
};

const char *spate_run_state_name(enum spate_run_state state)
{
	static const char *const names[] = {"created", "running", "finished",
					    "failed",  "skipped", "stopped"};

	return (unsigned)state < sizeof(names) / sizeof(names[0]) ? names[state]
								  : "?";
}

static void set_err(char *buf, size_t len, const char *text)
{
	if (buf && len)
		snprintf(buf, len, "%s", text);
}

static int check_options(const struct spate_run_options *opts,
			 struct sp_run_options *o, char *errbuf, size_t errlen)
{
	memset(o, 0, sizeof(*o));
	if (!opts)
		return 0;
	for (size_t i = 0;
	     i < sizeof(opts->reserved) / sizeof(opts->reserved[0]); i++) {
		if (opts->reserved[i]) {
			set_err(errbuf, errlen,
				"run options: reserved fields must be zero");
			return -EINVAL;
		}
	}
	if (opts->workers > 1024) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "run options: workers %u: give a number from 0 "
			 "(default) to 1024",
			 opts->workers);
		set_err(errbuf, errlen, msg);
		return -EINVAL;
	}
	o->workers = opts->workers;
	o->force = opts->force;
	o->no_pin = opts->no_pin;
	o->trust_mtime = opts->trust_mtime;
	return 0;
}

/* The flow saved and loaded again, with the original's folder (relative
 * paths resolve against it), then validated. */
static int copy_flow(const struct sp_flow *src, struct sp_flow **out,
		     char *errbuf, size_t errlen)
{
	struct sp_flow *f = NULL;
	struct sp_diags d;
	struct sp_buf b;
	char *dir = NULL, *file = NULL;
	int r;

	*out = NULL;
	sp_buf_init(&b);
	sp_diags_init(&d, "flow");
	r = sp_flow_save_yaml(src, &b);
	if (r == 0)
		r = sp_buf_putc(&b, '\0');
	if (r == 0)
		r = sp_flow_load_string(b.data, "flow", &f, &d);
	if (r == 0 && d.n)
		r = -EINVAL;
	if (r == 0) {
		dir = strdup(src->dir ? src->dir : ".");
		file = src->file ? strdup(src->file) : NULL;
		if (!dir || (src->file && !file)) {
			free(dir);
			free(file);
			r = -ENOMEM;
		} else {
			free(f->dir);
			free(f->file);
			f->dir = dir;
			f->file = file;
		}
	}
	if (r == 0)
		r = sp_flow_set_catalog(f, src->catalog);
	if (r == 0 && sp_flow_validate(
			  f, sdk_lookup ? sdk_lookup : sp_registry_lookup, &d))
		r = -EINVAL;
	if (r) {
		if (d.n)
			sdk_diags_to_buf(&d, errbuf, errlen);
		else
			set_err(errbuf, errlen, strerror(-r));
		sp_flow_destroy(f);
		f = NULL;
	}
	sp_diags_fini(&d);
	sp_buf_fini(&b);
	*out = f;
	return r;
}

static void run_free(struct spate_run *run)
{
	sp_runtime_destroy(run->rt);
	sp_run_report_fini(&run->final);
	sp_flow_destroy(run->f);
	pthread_mutex_destroy(&run->lock);
	pthread_mutex_destroy(&run->wait_lock);
	free(run);
}

/* Keeps the last report and publishes the final state and error text
 * (written once, before ended is set, so spate_run_error() can hand out
 * the buffer).  reason overrides the runtime's error text. */
static void run_end(struct spate_run *run, enum spate_run_state state,
		    const char *reason)
{
	struct sp_run_report rep;
	char error[sizeof(run->error)] = "";

	if (sp_runtime_report(run->rt, &rep)) {
		memset(&rep, 0, sizeof(rep));
		if (state != SPATE_RUN_SKIPPED)
			state = SPATE_RUN_FAILED;
		snprintf(error, sizeof(error),
			 "out of memory reading the run's status");
	} else if (rep.accounting[0] && (state == SPATE_RUN_SUCCEEDED ||
					 state == SPATE_RUN_STOPPED)) {
		state = SPATE_RUN_FAILED;
		snprintf(error, sizeof(error), "accounting check failed: %.*s",
			 (int)(sizeof(error) - 32), rep.accounting);
	} else if (reason) {
		snprintf(error, sizeof(error), "%s", reason);
	} else if (state == SPATE_RUN_FAILED) {
		snprintf(error, sizeof(error), "%s",
			 rep.error[0] ? rep.error : "the run failed");
	}
	pthread_mutex_lock(&run->lock);
	run->final = rep;
	run->state = state;
	memcpy(run->error, error, sizeof(error));
	run->ended = true;
	pthread_mutex_unlock(&run->lock);
}

int spate_flow_start(struct spate_flow *flow,
		     const struct spate_run_options *opts,
		     struct spate_run **out, char *errbuf, size_t errlen)
{
	struct sp_run_options o;
	struct spate_run *run;
	char err[1024] = "";
	int r;

	set_err(errbuf, errlen, "");
	if (!flow || !out) {
		set_err(errbuf, errlen, "no flow or no place for the run");
		return -EINVAL;
	}
	*out = NULL;
	r = check_options(opts, &o, errbuf, errlen);
	if (r)
		return r;
	r = spate_flow_validate(flow, errbuf, errlen);
	if (r > 0)
		return -EINVAL;
	if (r < 0)
		return r;

	run = calloc(1, sizeof(*run));
	if (!run) {
		set_err(errbuf, errlen, strerror(ENOMEM));
		return -ENOMEM;
	}
	pthread_mutex_init(&run->lock, NULL);
	pthread_mutex_init(&run->wait_lock, NULL);
	run->state = SPATE_RUN_RUNNING;
	r = copy_flow(flow->f, &run->f, errbuf, errlen);
	if (r)
		goto free_run;
	o.catalog = run->f->catalog;
	r = sp_runtime_create(run->f, &o, &run->rt, err, sizeof(err));
	if (r) {
		run->rt = NULL;
		set_err(errbuf, errlen, err);
		goto free_run;
	}
	r = sp_runtime_start(run->rt, err, sizeof(err));
	if (r == -EALREADY) {
		/* exactly-once: this input's output is already committed */
		run_end(run, SPATE_RUN_SKIPPED, err);
		sp_runtime_destroy(run->rt);
		run->rt = NULL;
		set_err(errbuf, errlen, err);
		*out = run;
		return 0;
	}
	if (r) {
		/* threads that did start end on the failure */
		sp_runtime_wait(run->rt);
		set_err(errbuf, errlen, err);
		goto free_run;
	}
	*out = run;
	return 0;
free_run:
	run_free(run);
	return r;
}

enum spate_run_state spate_run_wait(struct spate_run *run)
{
	enum spate_run_state state;
	bool ended;

	if (!run)
		return SPATE_RUN_FAILED;
	pthread_mutex_lock(&run->wait_lock);
	pthread_mutex_lock(&run->lock);
	ended = run->ended;
	pthread_mutex_unlock(&run->lock);
	if (!ended) {
		switch (sp_runtime_wait(run->rt)) {
		case SP_RUN_FINISHED:
			state = SPATE_RUN_SUCCEEDED;
			break;
		case SP_RUN_STOPPED:
			state = SPATE_RUN_STOPPED;
			break;
		default:
			state = SPATE_RUN_FAILED;
			break;
		}
		run_end(run, state, NULL);
	}
	pthread_mutex_unlock(&run->wait_lock);
	pthread_mutex_lock(&run->lock);
	state = run->state;
	pthread_mutex_unlock(&run->lock);
	return state;
}

void spate_run_stop(struct spate_run *run, bool abort)
{
	/* rt is set before the run is handed out and freed only by
	 * spate_run_destroy(); stopping an ended run changes nothing */
	if (run && run->rt)
		sp_runtime_stop(run->rt, abort);
}

/* A report to read: the final one (with run->lock held) once the run
 * has ended, else a fresh one in own.  Release with snap_put(). */
struct snap {
	struct sp_run_report own;
	const struct sp_run_report *rep;
	enum spate_run_state state;
	bool locked;
};

static int snap_get(struct spate_run *run, struct snap *s)
{
	int r;

	pthread_mutex_lock(&run->lock);
	if (run->ended) {
		s->rep = &run->final;
		s->state = run->state;
		s->locked = true;
		return 0;
	}
	pthread_mutex_unlock(&run->lock);
	s->locked = false;
	r = sp_runtime_report(run->rt, &s->own);
	if (r)
		return r;
	s->rep = &s->own;
	/* the runtime may already know the outcome; the run's final state
	 * is decided (accounting included) when spate_run_wait() ends it */
	s->state = SPATE_RUN_RUNNING;
	return 0;
}

static void snap_put(struct spate_run *run, struct snap *s)
{
	if (s->locked)
		pthread_mutex_unlock(&run->lock);
	else
		sp_run_report_fini(&s->own);
}

static void fill_status(const struct spate_run *run, const struct snap *s,
			struct spate_run_status *st)
{
	const struct sp_run_report *rep = s->rep;

	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->workers = rep->workers;
	st->nstages = run->f->nstages;
	st->elapsed_s = rep->elapsed_s;
	st->input_bytes = rep->input_bytes;
	st->discarded = rep->discarded;
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *r = &rep->stages[i];

		if (r->kind == SP_ORIGIN) {
			st->records_in += r->in;
			st->bytes_in += r->bytes_in;
		} else if (r->kind == SP_DESTINATION) {
			if (i == run->f->error_stage_index)
				st->error_records += r->forwarded;
			else
				st->records_out += r->forwarded;
			st->bytes_out += r->bytes_out;
		}
		st->errors += r->errors;
		st->dropped += r->dropped;
	}
}

int spate_run_status(struct spate_run *run, struct spate_run_status *st)
{
	struct snap s;
	int r;

	if (!run || !st)
		return -EINVAL;
	r = snap_get(run, &s);
	if (r)
		return r;
	fill_status(run, &s, st);
	snap_put(run, &s);
	return 0;
}

uint32_t spate_run_stage_count(const struct spate_run *run)
{
	return run ? run->f->nstages : 0;
}

int spate_run_stage_index(const struct spate_run *run, const char *id)
{
	const struct sp_flow_stage *s;

	if (!run || !id)
		return -ENOENT;
	s = sp_flow_find(run->f, id);
	return s ? (int)sp_flow_index(run->f, s) : -ENOENT;
}

/* The report of stage i, or NULL when a run that never started has no
 * counters for it. */
static const struct sp_stage_report *snap_stage(const struct snap *s,
						uint32_t i)
{
	return i < s->rep->nstages ? &s->rep->stages[i] : NULL;
}

/* A snapshot in s for the status of stage i, to go into out: 0, or
 * -EINVAL, -ENOENT or what snap_get gives. */
static int snap_for_stage(struct spate_run *run, uint32_t i, const void *out,
			  struct snap *s)
{
	if (!run || !out)
		return -EINVAL;
	if (i >= run->f->nstages)
		return -ENOENT;
	return snap_get(run, s);
}

int spate_run_stage_status(struct spate_run *run, uint32_t i,
			   struct spate_stage_status *st)
{
	const struct sp_stage_report *r;
	struct snap s;
	int err = snap_for_stage(run, i, st, &s);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->id = run->f->stages[i]->id;
	st->type = run->f->stages[i]->type;
	st->kind = sp_stage_kind_name(run->f->stages[i]->desc->kind);
	r = snap_stage(&s, i);
	if (r) {
		st->records_in = r->in;
		st->records_out = r->forwarded;
		st->errors = r->errors;
		st->warnings = r->warnings;
		st->dropped = r->dropped;
		st->bytes_in = r->bytes_in;
		st->bytes_out = r->bytes_out;
		st->batches = r->batches;
		st->files = r->extra.files;
		st->nlanes = r->nlanes;
	}
	snap_put(run, &s);
	return 0;
}

int spate_run_lane_status(struct spate_run *run, uint32_t i, uint32_t lane,
			  struct spate_lane_status *st)
{
	const struct sp_stage_report *r;
	struct snap s;
	int err = snap_for_stage(run, i, st, &s);

	if (err)
		return err;
	r = snap_stage(&s, i);
	if (!r || lane >= r->nlanes) {
		snap_put(run, &s);
		return -ENOENT;
	}
	memset(st, 0, sizeof(*st));
	st->name = r->lanes[lane];
	st->records = r->out[lane];
	snap_put(run, &s);
	return 0;
}

const char *spate_run_error(struct spate_run *run)
{
	const char *e = "";

	if (!run)
		return e;
	pthread_mutex_lock(&run->lock);
	if (run->ended)
		e = run->error; /* never written again */
	pthread_mutex_unlock(&run->lock);
	return e;
}

void spate_run_destroy(struct spate_run *run)
{
	if (!run)
		return;
	if (run->rt) {
		sp_runtime_stop(run->rt, true);
		spate_run_wait(run);
	}
	run_free(run);
}

int spate_flow_run(struct spate_flow *flow,
		   const struct spate_run_options *opts,
		   struct spate_run_status *status, char *errbuf, size_t errlen)
{
	struct spate_run *run;
	enum spate_run_state state;
	int r;

	if (status) {
		memset(status, 0, sizeof(*status));
		status->state = SPATE_RUN_FAILED;
	}
	r = spate_flow_start(flow, opts, &run, errbuf, errlen);
	if (r)
		return r;
	state = spate_run_wait(run);
	if (status && spate_run_status(run, status))
		status->state = state;
	set_err(errbuf, errlen, spate_run_error(run));
	if (state == SPATE_RUN_FAILED) {
		r = -EIO;
	} else if (state == SPATE_RUN_STOPPED) {
		set_err(errbuf, errlen, "the run was stopped");
		r = -ECANCELED;
	}
	spate_run_destroy(run);
	return r;
}
