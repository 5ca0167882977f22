/*
 * The runtime's own structures, shared by its files (runtime.c: creation,
 * start and wait; events.c: failure, stop and events; errors.c: record
 * errors; walk.c: the workers' depth-first walk and the reader threads;
 * report.c: status).  Nothing outside runtime/ includes this.
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
#ifndef SPATE_RUNTIME_RUNTIME_INTERNAL_H
#define SPATE_RUNTIME_RUNTIME_INTERNAL_H

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
	/* single writer: a load + store, no read-modify-write; the release
	 * store (a plain store on x86) lets a status reader that sees this
	 * count see the worker's earlier ones too (runtime/report.c) */
	atomic_store_explicit(c,
			      atomic_load_explicit(c, memory_order_relaxed) + n,
			      memory_order_release);
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
	_Atomic uint64_t warnings; /* sp_stage_warn, any thread: rare */
	char *log_prefix;	   /* ctx->log_prefix */
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
	char run_id[17]; /* "" until known (run_id.c); under lock */
	char flow_key[17]; /* hex of the hash of the flow's text */
	bool streaming;	   /* an origin's input cannot be read again */
	uint64_t unique;   /* what makes such a run's id new */
	bool run_id_late;  /* taken after the data (run_id.c) */

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
	/* under lock: the finish phase publishes (a stop no longer rolls
	 * back); a stop that came then */
	bool publishing;
	bool stop_too_late;
	/* destinations' targets (add_target), NULL-terminated */
	char **targets;
	uint32_t ntargets;
};

/* shared between the files of this module */
void rt_wake_controller(struct sp_runtime *rt);
/* run_id.c: whether an origin's identity lacks what its read will take;
 * whether the run id may wait for that (no destination needs it at
 * start); the origins taking it now; the id from the identities. */
bool rt_identity_pending(const struct sp_runtime *rt);
bool rt_run_id_can_wait(const struct sp_runtime *rt);
int rt_identity_complete(struct sp_runtime *rt, char *err, size_t errlen);
void rt_run_id_set(struct sp_runtime *rt);

void rt_run_fail(struct sp_runtime *rt, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));
extern const struct sp_stage_services rt_runtime_services;
void rt_emit_simple(struct sp_runtime *rt, const char *type, const char *stage);
void rt_dispatch_events(struct sp_runtime *rt);
uint64_t rt_error_offset(const struct sp_batch *b,
			 const struct sp_record_error *e);
uint32_t rt_handle_errors(struct worker *w, struct stage_rt *s,
			  struct sp_batch *b, uint32_t from);
int rt_ensure_all(struct worker *w, uint32_t n);
void *rt_worker_main(void *arg);
void *rt_reader_main(void *arg);

#endif
