/*
 * The NATS JetStream side of cluster mode, in spate's terms: a durable
 * work queue of shard tasks and two key-value buckets (jobs, load
 * history).  Only cluster/jsq.c uses NATS (through cluster/nats_api.h).
 *
 * A struct sp_jsq is one connection; its calls may be made from several
 * threads at once (the client library locks), except that a struct
 * sp_jsq_sub and a struct sp_jsq_msg are used by one thread at a time
 * (sp_jsq_msg_progress() excepted: the lease keeper calls it while the
 * owner runs the shard and does not touch the message).
 */
#ifndef SPATE_CLUSTER_JSQ_H
#define SPATE_CLUSTER_JSQ_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_JSQ_STREAM "SPATE_TASKS"
#define SP_JSQ_SUBJECTS "spate.task.>"
#define SP_JSQ_CONSUMER "spate-worker"
#define SP_JSQ_BUCKET_JOBS "spate_jobs"
#define SP_JSQ_BUCKET_HISTORY "spate_history"

struct sp_jsq;
struct sp_jsq_sub;
struct sp_jsq_msg;

enum sp_jsq_bucket { SP_JSQ_JOBS, SP_JSQ_HISTORY };

struct sp_jsq_config {
	unsigned replicas;	 /* of the stream and buckets; 0: 1 */
	uint64_t ack_wait_ms;	 /* of the consumer when it is created */
	bool consumer;		 /* create/bind the workers' consumer */
	const char *client_name; /* shown by the server; may be NULL */
};

/* Connects to urls (comma-separated nats:// URLs of one cluster),
 * creates the task stream and the buckets unless they exist (and the
 * consumer with cfg->consumer).  0, or -errno with the reason in err
 * (naming the URL). */
int sp_jsq_open(const char *urls, const struct sp_jsq_config *cfg,
		struct sp_jsq **out, char *err, size_t errlen);
void sp_jsq_close(struct sp_jsq *q);

/* The consumer's ack wait in milliseconds (what the server holds). */
uint64_t sp_jsq_ack_wait_ms(const struct sp_jsq *q);

/* Publishes data on spate.task.<subject> with Nats-Msg-Id msg_id.
 * *duplicate (may be NULL) tells whether the stream had that id already.
 * 0 or -errno (-EIO, -ETIMEDOUT). */
int sp_jsq_publish(struct sp_jsq *q, const char *subject, const char *msg_id,
		   const void *data, size_t len, bool *duplicate);

/* A pull subscription on the workers' durable consumer. */
int sp_jsq_subscribe(struct sp_jsq *q, struct sp_jsq_sub **out);
void sp_jsq_sub_destroy(struct sp_jsq_sub *s);
/* The next task: 0 and *out, -ETIMEDOUT when none came within
 * timeout_ms, or -EIO (connection trouble; logged). */
int sp_jsq_fetch(struct sp_jsq_sub *s, int timeout_ms, struct sp_jsq_msg **out);

const char *sp_jsq_msg_data(const struct sp_jsq_msg *m, size_t *len);
/* How many times the server has delivered this message (1 the first). */
uint64_t sp_jsq_msg_delivered(const struct sp_jsq_msg *m);
int sp_jsq_msg_ack(struct sp_jsq_msg *m);
int sp_jsq_msg_nak(struct sp_jsq_msg *m, uint64_t delay_ms);
int sp_jsq_msg_progress(struct sp_jsq_msg *m);
int sp_jsq_msg_term(struct sp_jsq_msg *m);
void sp_jsq_msg_free(struct sp_jsq_msg *m);

/* Key-value: *val is malloc'd and NUL-terminated (free it), *rev the
 * revision for sp_jsq_kv_update().  -ENOENT when the key is absent. */
int sp_jsq_kv_get(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		  char **val, uint64_t *rev);
int sp_jsq_kv_put(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		  const char *val);
/* Removes the key and its history (a purge marker stays). */
int sp_jsq_kv_purge(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key);
/* Only when the key does not exist: -EEXIST otherwise. */
int sp_jsq_kv_create(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		     const char *val);
/* Only when the key is still at revision rev: -EAGAIN otherwise. */
int sp_jsq_kv_update(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		     const char *val, uint64_t rev);
/* Calls fn(arg, key, value) for each key matching pattern (NATS subject
 * wildcards: "job.*", ">") with its current value; stops early when fn
 * returns non-zero and returns that.  0 or -errno. */
int sp_jsq_kv_each(struct sp_jsq *q, enum sp_jsq_bucket b, const char *pattern,
		   int (*fn)(void *arg, const char *key, const char *val),
		   void *arg);

#endif
