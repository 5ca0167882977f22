/*
 * The cluster worker.  Each of --concurrency slots is a thread with its
 * own pull subscription on the durable consumer: it fetches a task, runs
 * it and acknowledges it.  A lease keeper thread sends InProgress for the
 * task of every busy slot three times per ack wait, so a long shard is
 * not handed to another worker; when the worker dies the lease runs out
 * and the server redelivers.  A signal thread turns SIGTERM/SIGINT into
 * a stop: no more fetching, running shards aborted (their output rolls
 * back) and released with Nak.
 *
 * A shard task is idempotent: a shard already marked committed in the
 * job's state is acknowledged without running; one that runs again
 * replaces its own earlier output in the job's staging area.  The worker
 * that marks the last shard queues the publication task (its Nats-Msg-Id
 * is per job and submission, so only one is queued), and publication
 * itself is idempotent too (publish.c).
 */
#define _GNU_SOURCE
#include "cluster/worker.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <signal.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include <spate/spate.h>

#include "cluster/history.h"
#include "cluster/input.h"
#include "cluster/job.h"
#include "cluster/jsq.h"
#include "cluster/publish.h"
#include "cluster/shard.h"
#include "core/log.h"

#define MAX_ATTEMPTS 3
/* how many deliveries a task may spend waiting for the queue itself (a
 * node lost, leaders being elected): about a minute at RETRY_DELAY_MS */
#define MAX_QUEUE_ATTEMPTS 60
#define RETRY_DELAY_MS 1000
#define FETCH_WAIT_MS 1000

struct worker;

struct slot {
	struct worker *w;
	pthread_t thread;
	struct sp_jsq_msg *msg; /* leased task; under w->lock */
	struct spate_run *run;	/* its run; under w->lock */
};

struct worker {
	const struct sp_cworker_opts *o;
	struct sp_jsq *q;
	char id[300]; /* host:pid */
	atomic_bool stop;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct slot *slots;
	unsigned nslots;
};

struct task {
	char *job;
	bool publish;
	unsigned shard;
	struct sp_cinput *in;
	size_t nin;
	char what[400]; /* "shard N (its inputs)" for messages */
};

static void task_fini(struct task *t)
{
	free(t->job);
	sp_cinputs_free(t->in, t->nin);
}

static int task_parse(const char *data, size_t len, struct task *t)
{
	char *text = strndup(data, len);
	uint64_t v = 0;
	int rc;

	memset(t, 0, sizeof(*t));
	if (!text)
		return -ENOMEM;
	rc = sp_cjson_str(text, "job", &t->job);
	if (rc == 0 && sp_cjson_u64(text, "publish", &v) == 0 && v) {
		t->publish = true;
	} else if (rc == 0) {
		rc = sp_cjson_u64(text, "shard", &v);
		t->shard = (unsigned)v;
		rc = rc ? rc : sp_cinputs_parse(text, "inputs", &t->in, &t->nin);
		rc = rc == 0 && t->nin == 0 ? -EINVAL : rc;
		if (rc == 0) {
			char in[360];
			sp_cinputs_describe(t->in, t->nin, in, sizeof(in));
			snprintf(t->what, sizeof(t->what), "shard %u (%s)",
				 t->shard, in);
		}
	}
	free(text);
	if (rc < 0)
		task_fini(t);
	return rc;
}

/* ---- job state edits ---------------------------------------------------- */

static int mark_done(struct sp_cjob_state *st, void *arg)
{
	unsigned shard = *(unsigned *)arg;

	if (!st->done || shard >= strlen(st->done) || st->done[shard] == '1')
		return 0;
	st->done[shard] = '1';
	return 1;
}

static int mark_failed(struct sp_cjob_state *st, void *arg)
{
	if (strcmp(st->state, "running") != 0)
		return 0;
	char *e = strdup(arg);
	if (!e)
		return -ENOMEM;
	free(st->error);
	st->error = e;
	snprintf(st->state, sizeof(st->state), "failed");
	return 1;
}

static int mark_published(struct sp_cjob_state *st, void *arg)
{
	(void)arg;
	if (!strcmp(st->state, "published"))
		return 0;
	snprintf(st->state, sizeof(st->state), "published");
	return 1;
}

/* Queues the job's publication once every shard is committed. */
static void maybe_publish(struct worker *w, const struct sp_cjob *job,
			  const struct sp_cjob_state *st)
{
	char id[64], body[64];

	if (strcmp(st->state, "running") != 0 ||
	    sp_cjob_state_done(st) < job->shards)
		return;
	snprintf(id, sizeof(id), "%s.publish.%u", job->id, st->gen);
	int len = snprintf(body, sizeof(body),
			   "{\"job\":\"%s\",\"publish\":true}", job->id);
	if (sp_jsq_publish(w->q, job->id, id, body, (size_t)len, NULL) == 0)
		sp_log_info("cluster: job %s: every shard committed; "
			    "publication queued",
			    job->id);
}

static void fail_job(struct worker *w, const struct sp_cjob *job,
		     const char *why)
{
	struct sp_cjob_state st;

	sp_log_error("cluster: job %s failed: %s", job->id, why);
	if (sp_cjob_state_change(w->q, job->id, mark_failed, (void *)why,
				 &st) == 0)
		sp_cjob_state_fini(&st);
}

/* ---- running a task ----------------------------------------------------- */

static void lease(struct slot *s, struct sp_jsq_msg *m)
{
	pthread_mutex_lock(&s->w->lock);
	s->msg = m;
	pthread_mutex_unlock(&s->w->lock);
}

static void run_started(void *arg, struct spate_run *run)
{
	struct slot *s = arg;

	pthread_mutex_lock(&s->w->lock);
	s->run = run;
	if (run && atomic_load(&s->w->stop))
		spate_run_stop(run, true);
	pthread_mutex_unlock(&s->w->lock);
}

/* A failed attempt: tried again (Nak) until the task has been delivered
 * max times, then the job fails with the reason. */
static void retry_or_fail(struct worker *w, struct sp_jsq_msg *m,
			  const struct sp_cjob *job, const char *what,
			  const char *why, int max)
{
	uint64_t n = sp_jsq_msg_delivered(m);

	if (n < (uint64_t)max) {
		sp_log_warn("cluster: job %s %s: attempt %" PRIu64 " of %d "
			    "failed: %s",
			    job->id, what, n, max, why);
		sp_jsq_msg_nak(m, RETRY_DELAY_MS);
		return;
	}
	char msg[1200];
	snprintf(msg, sizeof(msg), "%s: %s", what, why);
	fail_job(w, job, msg);
	sp_jsq_msg_term(m);
}

static void attempt_failed(struct worker *w, struct sp_jsq_msg *m,
			   const struct sp_cjob *job, const char *what,
			   const char *why)
{
	retry_or_fail(w, m, job, what, why, MAX_ATTEMPTS);
}

/* The queue (KV or stream) did not answer: it gets MAX_QUEUE_ATTEMPTS
 * deliveries (a node lost, a leader being elected) before the job fails. */
static void queue_unavailable(struct worker *w, struct sp_jsq_msg *m,
			      const struct sp_cjob *job, const char *what,
			      int rc)
{
	char why[200];

	snprintf(why, sizeof(why), "the queue did not answer: %s",
		 strerror(-rc));
	retry_or_fail(w, m, job, what, why, MAX_QUEUE_ATTEMPTS);
}

static void shard_record(struct worker *w, const struct sp_cjob *job,
			 const struct task *t, const char *state,
			 const struct spate_run_status *rs, const char *why)
{
	struct sp_cshard s = {.worker = w->id,
			      .in = t->in,
			      .nin = t->nin,
			      .error = (char *)why};

	snprintf(s.state, sizeof(s.state), "%s", state);
	if (rs) {
		s.records_in = rs->records_in;
		s.records_out = rs->records_out;
		s.errors = rs->errors;
		s.error_records = rs->error_records;
		s.bytes_in = rs->bytes_in;
		s.bytes_out = rs->bytes_out;
		s.elapsed_s = rs->elapsed_s;
	}
	if (sp_cshard_put(w->q, job->id, t->shard, &s) < 0)
		sp_log_warn("cluster: job %s shard %u: cannot record it",
			    job->id, t->shard);
}

static void do_shard(struct slot *s, struct sp_jsq_msg *m,
		     const struct sp_cjob *job, struct sp_cjob_state *st,
		     const struct task *t)
{
	struct worker *w = s->w;
	struct spate_run_status rs;
	char err[1024];

	if (st->done && t->shard < strlen(st->done) &&
	    st->done[t->shard] == '1') {
		sp_log_info("cluster: job %s shard %u: committed before",
			    job->id, t->shard);
		maybe_publish(w, job, st);
		sp_jsq_msg_ack(m);
		return;
	}
	shard_record(w, job, t, "running", NULL, "");
	lease(s, m);
	int rc = sp_cshard_run(job, t->shard, t->in, t->nin, w->o->workers,
			       run_started, s, &rs, err, sizeof(err));
	lease(s, NULL);
	if (rc == -ECANCELED || (rc < 0 && atomic_load(&w->stop))) {
		shard_record(w, job, t, "released", NULL, "");
		sp_jsq_msg_nak(m, 0);
		return;
	}
	if (rc == -EBUSY) { /* another attempt is committing it now */
		sp_jsq_msg_nak(m, RETRY_DELAY_MS);
		return;
	}
	if (rc < 0) {
		shard_record(w, job, t, "failed", &rs, err);
		attempt_failed(w, m, job, t->what, err);
		return;
	}
	shard_record(w, job, t, "done", &rs, "");
	struct sp_cjob_state now;
	unsigned shard = t->shard;
	rc = sp_cjob_state_change(w->q, job->id, mark_done, &shard, &now);
	if (rc < 0) {
		sp_log_warn("cluster: job %s shard %u: cannot mark it "
			    "committed: %s; it runs again",
			    job->id, t->shard, strerror(-rc));
		sp_jsq_msg_nak(m, RETRY_DELAY_MS);
		return;
	}
	sp_log_info("cluster: job %s shard %u committed: %" PRIu64
		    " records in %.2f s",
		    job->id, t->shard, rs.records_in, rs.elapsed_s);
	maybe_publish(w, job, &now);
	sp_cjob_state_fini(&now);
	sp_jsq_msg_ack(m);
}

static void do_publish(struct slot *s, struct sp_jsq_msg *m,
		       const struct sp_cjob *job, struct sp_cjob_state *st)
{
	struct worker *w = s->w;
	char err[1024];

	if (strcmp(st->state, "running") != 0 ||
	    sp_cjob_state_done(st) < job->shards) {
		sp_jsq_msg_ack(m);
		return;
	}
	lease(s, m);
	int rc = sp_cjob_publish(job, err, sizeof(err));
	int hrc = rc == 0 ? sp_chistory_record(w->q, job) : 0;
	lease(s, NULL);
	if (rc == -EBUSY) {
		sp_jsq_msg_nak(m, RETRY_DELAY_MS);
		return;
	}
	if (rc < 0) {
		attempt_failed(w, m, job, "publication",
			       err[0] ? err : strerror(-rc));
		return;
	}
	if (hrc < 0) {
		/* the output is published; only the queue's KV did not
		 * answer (a node lost, a leader being elected).  Publishing
		 * again finds every target done, so the task waits for the
		 * queue instead of failing a job whose output is complete. */
		queue_unavailable(w, m, job, "load history", hrc);
		return;
	}
	struct sp_cjob_state now;
	rc = sp_cjob_state_change(w->q, job->id, mark_published, NULL, &now);
	if (rc < 0) {
		sp_jsq_msg_nak(m, RETRY_DELAY_MS);
		return;
	}
	sp_cjob_state_fini(&now);
	sp_cjob_cleanup(job);
	sp_cjob_fence_drop(w->q, job->id);
	sp_log_info("cluster: job %s published", job->id);
	sp_jsq_msg_ack(m);
}

static void handle(struct slot *s, struct sp_jsq_msg *m)
{
	struct worker *w = s->w;
	struct task t;
	struct sp_cjob job;
	struct sp_cjob_state st;
	size_t len;
	const char *data = sp_jsq_msg_data(m, &len);

	if (task_parse(data, len, &t) < 0) {
		sp_log_warn("cluster: a task that is not spate's: %.*s",
			    (int)(len > 200 ? 200 : len), data);
		sp_jsq_msg_term(m);
		return;
	}
	int rc = sp_cjob_get(w->q, t.job, &job);
	if (rc == 0)
		rc = sp_cjob_state_get(w->q, t.job, &st, NULL);
	else
		memset(&st, 0, sizeof(st));
	if (rc < 0) {
		sp_log_warn("cluster: job %s: cannot read it: %s", t.job,
			    strerror(-rc));
		if (rc == -ENOENT || rc == -EINVAL)
			sp_jsq_msg_term(m);
		else
			sp_jsq_msg_nak(m, RETRY_DELAY_MS);
	} else if (t.publish) {
		do_publish(s, m, &job, &st);
	} else if (strcmp(st.state, "running") != 0 || t.shard >= job.shards) {
		sp_jsq_msg_ack(m); /* published or failed: nothing to do */
	} else {
		do_shard(s, m, &job, &st, &t);
	}
	sp_cjob_state_fini(&st);
	sp_cjob_fini(&job);
	task_fini(&t);
}

/* ---- threads ------------------------------------------------------------ */

static void *slot_main(void *arg)
{
	struct slot *s = arg;
	struct sp_jsq_sub *sub = NULL;

	while (!atomic_load(&s->w->stop) && sp_jsq_subscribe(s->w->q, &sub) < 0)
		sleep(1);
	while (!atomic_load(&s->w->stop)) {
		struct sp_jsq_msg *m = NULL;
		int rc = sp_jsq_fetch(sub, FETCH_WAIT_MS, &m);
		if (rc == -ETIMEDOUT)
			continue;
		if (rc < 0) {
			usleep(200 * 1000);
			continue;
		}
		handle(s, m);
		sp_jsq_msg_free(m);
	}
	sp_jsq_sub_destroy(sub);
	return NULL;
}

static void *lease_main(void *arg)
{
	struct worker *w = arg;
	uint64_t every = sp_jsq_ack_wait_ms(w->q) / 3;

	if (every < 100)
		every = 100;
	pthread_mutex_lock(&w->lock);
	while (!atomic_load(&w->stop)) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		ts.tv_sec += (time_t)(every / 1000);
		ts.tv_nsec += (long)(every % 1000) * 1000000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		for (unsigned i = 0; i < w->nslots; i++)
			if (w->slots[i].msg)
				sp_jsq_msg_progress(w->slots[i].msg);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

struct signals {
	struct worker *w;
	sigset_t set;
};

static void *signal_main(void *arg)
{
	struct signals *sg = arg;
	int sig;

	while (sigwait(&sg->set, &sig) == 0) {
		if (sig == SIGUSR1)
			break;
		fprintf(stderr,
			"spate worker: %s: releasing running shards "
			"and stopping\n",
			strsignal(sig));
		pthread_mutex_lock(&sg->w->lock);
		atomic_store(&sg->w->stop, true);
		for (unsigned i = 0; i < sg->w->nslots; i++)
			if (sg->w->slots[i].run)
				spate_run_stop(sg->w->slots[i].run, true);
		pthread_cond_broadcast(&sg->w->cond);
		pthread_mutex_unlock(&sg->w->lock);
	}
	return NULL;
}

static int start_slots(struct worker *w)
{
	for (unsigned i = 0; i < w->nslots; i++) {
		w->slots[i].w = w;
		int rc = pthread_create(&w->slots[i].thread, NULL, slot_main,
					&w->slots[i]);
		if (rc) {
			atomic_store(&w->stop, true);
			for (unsigned j = 0; j < i; j++)
				pthread_join(w->slots[j].thread, NULL);
			return -rc;
		}
	}
	return 0;
}

int sp_cworker_run(const struct sp_cworker_opts *o)
{
	struct worker w = {.o = o};
	struct signals sg = {.w = &w};
	struct sp_jsq_config cfg = {.replicas = o->replicas,
				    .ack_wait_ms = o->ack_wait_ms,
				    .consumer = true,
				    .client_name = "spate worker"};
	pthread_t sig_thread, lease_thread;
	char host[256] = "?", err[512] = "";
	int rc;

	gethostname(host, sizeof(host) - 1);
	snprintf(w.id, sizeof(w.id), "%s:%d", host, (int)getpid());
	sigemptyset(&sg.set);
	sigaddset(&sg.set, SIGTERM);
	sigaddset(&sg.set, SIGINT);
	sigaddset(&sg.set, SIGUSR1);
	pthread_sigmask(SIG_BLOCK, &sg.set, NULL);
	rc = sp_jsq_open(o->urls, &cfg, &w.q, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "spate worker: %s\n", err);
		return rc;
	}
	w.nslots = o->concurrency ? o->concurrency : 1;
	w.slots = calloc(w.nslots, sizeof(*w.slots));
	pthread_mutex_init(&w.lock, NULL);
	pthread_cond_init(&w.cond, NULL);
	rc = w.slots ? -pthread_create(&sig_thread, NULL, signal_main, &sg)
		     : -ENOMEM;
	if (rc == 0) {
		rc = -pthread_create(&lease_thread, NULL, lease_main, &w);
		if (rc == 0)
			rc = start_slots(&w);
		if (rc == 0) {
			sp_log_info("cluster: worker %s: %u slot(s), pulling "
				    "from %s",
				    w.id, w.nslots, o->urls);
			for (unsigned i = 0; i < w.nslots; i++)
				pthread_join(w.slots[i].thread, NULL);
		}
		atomic_store(&w.stop, true);
		pthread_mutex_lock(&w.lock);
		pthread_cond_broadcast(&w.cond);
		pthread_mutex_unlock(&w.lock);
		pthread_join(lease_thread, NULL);
		pthread_kill(sig_thread, SIGUSR1);
		pthread_join(sig_thread, NULL);
	}
	if (rc < 0)
		fprintf(stderr, "spate worker: cannot start: %s\n",
			strerror(-rc));
	pthread_cond_destroy(&w.cond);
	pthread_mutex_destroy(&w.lock);
	free(w.slots);
	sp_jsq_close(w.q);
	return rc;
}
