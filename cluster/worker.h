/*
 * `spate worker`: a long-running process that pulls shard tasks from the
 * JetStream work queue, runs each with the engine, records it in the
 * job's state and acknowledges it; the worker that sees the last shard
 * committed queues the job's publication, which any worker then runs.
 */
#ifndef SPATE_CLUSTER_WORKER_H
#define SPATE_CLUSTER_WORKER_H

#include <stdint.h>

struct sp_cworker_opts {
	const char *urls;     /* nats://host:port[,...] */
	unsigned concurrency; /* shards at once; 0: 1 */
	unsigned workers;     /* engine threads per shard; 0: the CPUs */
	uint64_t ack_wait_ms; /* for the consumer when this creates it */
	unsigned replicas;    /* of the stream and buckets it creates */
};

/* Runs until SIGTERM or SIGINT: shards running then are aborted and
 * released (Nak) for another worker, unless they have committed, then
 * they are acknowledged.  0 after such a stop, or -errno when it could
 * not start (the reason on stderr). */
int sp_cworker_run(const struct sp_cworker_opts *o);

#endif
