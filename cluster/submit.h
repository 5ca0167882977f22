/*
 * `spate submit`: turns a flow into a cluster job, its file_reader's
 * input files cut into shards (plan.h), and queues one task per shard
 * that is not committed yet.  Submitting the same flow over the same input again is
 * the same job: its tasks carry the same Nats-Msg-Id (job, shard and
 * submission), so the queue holds each once; files that an earlier job
 * of the flow loaded (load history) are left out unless force.
 */
#ifndef SPATE_CLUSTER_SUBMIT_H
#define SPATE_CLUSTER_SUBMIT_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/jsq.h"

struct sp_csubmit_opts {
	const char *flow_path;
	bool force;  /* load files loaded before; replace targets */
	char **sets; /* STAGE.OPTION=VALUE overrides */
	int nsets;
	uint64_t shard_size; /* bytes; 0: SP_CPLAN_DEFAULT_SHARD_SIZE */
};

struct sp_csubmit_result {
	char job[17];	  /* "" when there was nothing to do */
	unsigned shards;  /* of the job */
	unsigned queued;  /* tasks queued now (not duplicates) */
	unsigned skipped; /* input files loaded before */
	bool published;	  /* the job was published before */
};

/* 0, or -errno with every reason in err: -EINVAL (the flow cannot be a
 * cluster job, or does not validate), -ENOENT (no input file),
 * -EEXIST (a target holds another run's output), -EIO (NATS). */
int sp_csubmit(struct sp_jsq *q, const struct sp_csubmit_opts *o,
	       struct sp_csubmit_result *r, char *err, size_t errlen);

#endif
