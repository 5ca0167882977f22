/*
 * A cluster job and what the key-value bucket spate_jobs says about it.
 *
 *   <job>          the spec, written once by the submitter: flow name,
 *                  the flow's YAML (paths made absolute), the origin
 *                  that is sharded, the shard count, force
 *   <job>.state    running | published | failed, the submission's
 *                  generation, one '0'/'1' per shard (committed), and
 *                  why it failed; changed by compare-and-set only
 *   <job>.sNNNNN   one shard: running | done | failed, the worker, its
 *                  inputs (files or a byte range: input.h) and its
 *                  counts
 *
 * A job id is 16 hex digits: a hash of the spec and of every input
 * file's identity, so submitting the same flow over the same input gives
 * the same job.
 */
#ifndef SPATE_CLUSTER_JOB_H
#define SPATE_CLUSTER_JOB_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/input.h"
#include "cluster/jsq.h"

struct sp_cjob {
	char id[17];
	char *flow;
	char *yaml;
	char *origin; /* the file_reader whose files are the shards */
	unsigned shards;
	bool force;
};

struct sp_cjob_state {
	char state[16]; /* running, published, failed */
	unsigned gen;	/* submissions that (re)started the job */
	char *done;	/* shards chars, '1' for a committed shard */
	char *error;	/* "" unless failed */
};

struct sp_cshard {
	char state[16]; /* running, done, failed */
	char *worker;
	char *path; /* its inputs described (parsed records only) */
	char *error;
	struct sp_cinput *in;
	size_t nin;
	uint64_t records_in, records_out, errors, error_records;
	uint64_t bytes_in, bytes_out;
	double elapsed_s;
};

/* NNNNN: the shard's number as its names carry it (5 digits or more) */
void sp_cshard_name(unsigned shard, char *out, size_t len);

int sp_cjob_put(struct sp_jsq *q, const struct sp_cjob *job);
/* 0, -ENOENT (no such job), -EINVAL (not a job record), -errno */
int sp_cjob_get(struct sp_jsq *q, const char *id, struct sp_cjob *job);
void sp_cjob_fini(struct sp_cjob *job);

int sp_cjob_state_get(struct sp_jsq *q, const char *id,
		      struct sp_cjob_state *st, uint64_t *rev);
void sp_cjob_state_fini(struct sp_cjob_state *st);
/* Creates the state (-EEXIST when there is one). */
int sp_cjob_state_create(struct sp_jsq *q, const char *id,
			 const struct sp_cjob_state *st);
/* Reads the state, lets edit(st, arg) change it (edit returns 1 to
 * write, 0 to leave it, or -errno) and writes it back by compare-and-set,
 * again from the read while another process got there first.  edit
 * returns 0 for a state that has its change already: after writing, the
 * state is read back and edited again when another writer dropped the
 * change.  The state as written (or left) stays in *st
 * (sp_cjob_state_fini it).  0 or -errno. */
int sp_cjob_state_change(struct sp_jsq *q, const char *id,
			 int (*edit)(struct sp_cjob_state *st, void *arg),
			 void *arg, struct sp_cjob_state *st);
/* Drops the job's fence key (see sp_cjob_state_change) once its state
 * changes no more: the job is published. */
void sp_cjob_fence_drop(struct sp_jsq *q, const char *id);
/* How many shards are done ('1'). */
unsigned sp_cjob_state_done(const struct sp_cjob_state *st);

int sp_cshard_put(struct sp_jsq *q, const char *job, unsigned shard,
		  const struct sp_cshard *s);
int sp_cshard_get(struct sp_jsq *q, const char *job, unsigned shard,
		  struct sp_cshard *s);
/* Parses a shard record (value of a <job>.sNNNNN key).  0 or -EINVAL. */
int sp_cshard_parse(const char *json, struct sp_cshard *s);
void sp_cshard_fini(struct sp_cshard *s);

/* A job's progress summed over its shard records. */
struct sp_cjob_progress {
	unsigned done, running, failed;
	uint64_t records_in, records_out, errors, error_records;
	uint64_t bytes_in, bytes_out;
};

/* Sums the shard records of job.  0 or -errno. */
int sp_cjob_progress(struct sp_jsq *q, const char *job,
		     struct sp_cjob_progress *p);

/* Small JSON-object helpers shared by the cluster modules: a member of
 * a flat object as a malloc'd string / an unsigned / a double.  0,
 * -ENOENT, -EINVAL, -ENOMEM. */
int sp_cjson_str(const char *obj, const char *key, char **out);
int sp_cjson_u64(const char *obj, const char *key, uint64_t *out);
int sp_cjson_dbl(const char *obj, const char *key, double *out);

#endif
