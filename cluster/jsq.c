/*
 * JetStream for cluster mode: the one file that speaks nats.c.  It opens
 * a connection to a list of servers (reconnecting forever: a worker
 * outlives a NATS node), makes sure the work-queue stream of shard tasks,
 * the workers' durable pull consumer (explicit ack) and the two KV
 * buckets exist, and turns natsStatus results into -errno.
 */
#define _GNU_SOURCE
#include "cluster/jsq.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cluster/nats_api.h"

#include "core/log.h"

#define NS_PER_MS 1000000LL
#define DUPLICATE_WINDOW_NS (3600LL * 1000 * NS_PER_MS)
#define MAX_SERVERS 32
#define PUBLISH_TRIES 40 /* 10 s: a cluster elects a stream leader */
#define PUBLISH_RETRY_MS 250
/* how long a new cluster may refuse the stream and buckets (open) */
#define SETUP_RETRY_MS 20000
#define SETUP_RETRY_STEP_MS 250

struct sp_jsq {
	natsConnection *nc;
	jsCtx *js;
	kvStore *kv[2];
	uint64_t ack_wait_ms;
};

struct sp_jsq_sub {
	struct sp_jsq *q;
	natsSubscription *sub;
};

struct sp_jsq_msg {
	natsMsg *msg;
	uint64_t delivered;
};

static int status_errno(natsStatus s)
{
	switch (s) {
	case NATS_OK:
		return 0;
	case NATS_TIMEOUT:
		return -ETIMEDOUT;
	case NATS_NOT_FOUND:
		return -ENOENT;
	case NATS_NO_MEMORY:
		return -ENOMEM;
	case NATS_CONNECTION_CLOSED:
	case NATS_NO_SERVER:
	case NATS_NOT_YET_CONNECTED:
		return -ENOTCONN;
	case NATS_NO_RESPONDERS: /* a server without JetStream */
		return -EPROTONOSUPPORT;
	default:
		return -EIO;
	}
}

static const char *last_error(natsStatus s)
{
	const char *t = nats_GetLastError(NULL);

	return t && *t ? t : natsStatus_GetText(s);
}

static int connect_servers(struct sp_jsq *q, const char *urls, const char *name,
			   char *err, size_t errlen)
{
	natsOptions *o = NULL;
	char *copy = strdup(urls), *save = NULL;
	const char *list[MAX_SERVERS];
	int n = 0;
	int rc = sp_nats_load(err, errlen);

	if (rc) {
		free(copy);
		return rc;
	}
	if (!copy)
		return -ENOMEM;
	for (char *t = strtok_r(copy, ",", &save); t && n < MAX_SERVERS;
	     t = strtok_r(NULL, ",", &save))
		if (*t)
			list[n++] = t;
	natsStatus s = natsOptions_Create(&o);
	if (s == NATS_OK)
		s = natsOptions_SetServers(o, list, n);
	if (s == NATS_OK)
		s = natsOptions_SetMaxReconnect(o, -1);
	if (s == NATS_OK)
		s = natsOptions_SetReconnectWait(o, 250);
	if (s == NATS_OK)
		s = natsOptions_SetTimeout(o, 5000);
	if (s == NATS_OK && name)
		s = natsOptions_SetName(o, name);
	if (s == NATS_OK)
		s = natsConnection_Connect(&q->nc, o);
	if (s != NATS_OK)
		snprintf(err, errlen, "cannot connect to NATS at %s: %s", urls,
			 n ? last_error(s) : "no URL given");
	natsOptions_Destroy(o);
	free(copy);
	return n ? status_errno(s) : -EINVAL;
}

static int ensure_stream(struct sp_jsq *q, unsigned replicas, char *err,
			 size_t errlen)
{
	jsStreamInfo *si = NULL;
	jsErrCode code = 0;
	natsStatus s = js_GetStreamInfo(&si, q->js, SP_JSQ_STREAM, NULL, &code);

	if (s == NATS_OK) {
		jsStreamInfo_Destroy(si);
		return 0;
	}
	jsStreamConfig cfg;
	const char *subjects[] = {SP_JSQ_SUBJECTS};
	jsStreamConfig_Init(&cfg);
	cfg.Name = SP_JSQ_STREAM;
	cfg.Subjects = subjects;
	cfg.SubjectsLen = 1;
	cfg.Retention = js_WorkQueuePolicy;
	cfg.Storage = js_FileStorage;
	cfg.Replicas = replicas ? replicas : 1;
	cfg.Duplicates = DUPLICATE_WINDOW_NS;
	s = js_AddStream(&si, q->js, &cfg, NULL, &code);
	if (s != NATS_OK) {
		/* another process may have created it meanwhile */
		if (js_GetStreamInfo(&si, q->js, SP_JSQ_STREAM, NULL, NULL) ==
		    NATS_OK) {
			jsStreamInfo_Destroy(si);
			return 0;
		}
		snprintf(err, errlen, "cannot create stream %s: %s%s",
			 SP_JSQ_STREAM, last_error(s),
			 s == NATS_NO_RESPONDERS
			     ? " (is JetStream enabled? nats-server -js)"
			     : "");
		return status_errno(s);
	}
	jsStreamInfo_Destroy(si);
	return 0;
}

static int ensure_consumer(struct sp_jsq *q, uint64_t ack_wait_ms, char *err,
			   size_t errlen)
{
	jsConsumerInfo *ci = NULL;
	jsConsumerConfig cc;
	natsStatus s = js_GetConsumerInfo(&ci, q->js, SP_JSQ_STREAM,
					  SP_JSQ_CONSUMER, NULL, NULL);

	if (s != NATS_OK) {
		jsConsumerConfig_Init(&cc);
		cc.Durable = SP_JSQ_CONSUMER;
		cc.AckPolicy = js_AckExplicit;
		cc.AckWait = (int64_t)ack_wait_ms * NS_PER_MS;
		cc.MaxDeliver = -1;
		cc.FilterSubject = SP_JSQ_SUBJECTS;
		s = js_AddConsumer(&ci, q->js, SP_JSQ_STREAM, &cc, NULL, NULL);
		if (s != NATS_OK)
			s = js_GetConsumerInfo(&ci, q->js, SP_JSQ_STREAM,
					       SP_JSQ_CONSUMER, NULL, NULL);
	}
	if (s != NATS_OK) {
		snprintf(err, errlen, "cannot create consumer %s: %s",
			 SP_JSQ_CONSUMER, last_error(s));
		return status_errno(s);
	}
	q->ack_wait_ms = (uint64_t)(ci->Config->AckWait / NS_PER_MS);
	if (q->ack_wait_ms != ack_wait_ms)
		sp_log_info("cluster: consumer %s keeps its ack wait of %llu "
			    "ms",
			    SP_JSQ_CONSUMER,
			    (unsigned long long)q->ack_wait_ms);
	jsConsumerInfo_Destroy(ci);
	return 0;
}

static int ensure_bucket(struct sp_jsq *q, int i, const char *name,
			 unsigned replicas, char *err, size_t errlen)
{
	if (q->kv[i])
		return 0; /* found on an earlier try (open_queue) */
	natsStatus s = js_KeyValue(&q->kv[i], q->js, name);

	if (s == NATS_OK)
		return 0;
	kvConfig cfg;
	kvConfig_Init(&cfg);
	cfg.Bucket = name;
	cfg.History = 1;
	cfg.StorageType = js_FileStorage;
	cfg.Replicas = replicas ? (int)replicas : 1;
	s = js_CreateKeyValue(&q->kv[i], q->js, &cfg);
	if (s != NATS_OK)
		s = js_KeyValue(&q->kv[i], q->js, name);
	if (s != NATS_OK) {
		snprintf(err, errlen, "cannot create key-value bucket %s: %s",
			 name, last_error(s));
		return status_errno(s);
	}
	return 0;
}

/* The stream, the consumer and the buckets, each made unless it exists. */
static int open_queue(struct sp_jsq *q, const struct sp_jsq_config *cfg,
		      char *err, size_t errlen)
{
	int rc = ensure_stream(q, cfg->replicas, err, errlen);

	if (rc == 0 && cfg->consumer)
		rc = ensure_consumer(q, cfg->ack_wait_ms, err, errlen);
	if (rc == 0)
		rc = ensure_bucket(q, SP_JSQ_JOBS, SP_JSQ_BUCKET_JOBS,
				   cfg->replicas, err, errlen);
	if (rc == 0)
		rc = ensure_bucket(q, SP_JSQ_HISTORY, SP_JSQ_BUCKET_HISTORY,
				   cfg->replicas, err, errlen);
	return rc;
}

static uint64_t now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

int sp_jsq_open(const char *urls, const struct sp_jsq_config *cfg,
		struct sp_jsq **out, char *err, size_t errlen)
{
	struct sp_jsq *q = calloc(1, sizeof(*q));
	int rc;

	*out = NULL;
	if (!q)
		return -ENOMEM;
	rc = connect_servers(q, urls, cfg->client_name, err, errlen);
	if (rc < 0)
		goto fail;
	jsOptions jo;
	jsOptions_Init(&jo);
	jo.Wait = 10000;
	natsStatus s = natsConnection_JetStream(&q->js, q->nc, &jo);
	if (s != NATS_OK) {
		snprintf(err, errlen, "NATS at %s: no JetStream: %s", urls,
			 last_error(s));
		rc = status_errno(s);
		goto fail;
	}
	/* a cluster that has just formed can refuse a replicated stream or
	 * bucket for a while (its leader does not know the peers yet); every
	 * step is idempotent, so the setup is tried again for a while */
	uint64_t until = now_ms() + SETUP_RETRY_MS;
	for (bool told = false;; told = true) {
		rc = open_queue(q, cfg, err, errlen);
		if (rc == 0 || rc == -ENOMEM || rc == -EPROTONOSUPPORT ||
		    now_ms() >= until)
			break;
		if (!told)
			sp_log_info("cluster: %s; trying again for up to %d s",
				    err, SETUP_RETRY_MS / 1000);
		usleep(SETUP_RETRY_STEP_MS * 1000);
	}
	if (rc < 0)
		goto fail;
	*out = q;
	return 0;
fail:
	sp_jsq_close(q);
	return rc;
}

void sp_jsq_close(struct sp_jsq *q)
{
	if (!q)
		return;
	for (int i = 0; i < 2; i++)
		kvStore_Destroy(q->kv[i]);
	jsCtx_Destroy(q->js);
	if (q->nc) {
		natsConnection_FlushTimeout(q->nc, 2000);
		natsConnection_Close(q->nc);
		natsConnection_Destroy(q->nc);
	}
	free(q);
}

uint64_t sp_jsq_ack_wait_ms(const struct sp_jsq *q)
{
	return q->ack_wait_ms;
}

int sp_jsq_publish(struct sp_jsq *q, const char *subject, const char *msg_id,
		   const void *data, size_t len, bool *duplicate)
{
	char subj[256];
	jsPubOptions po;
	jsPubAck *pa = NULL;
	jsErrCode code = 0;

	snprintf(subj, sizeof(subj), "spate.task.%s", subject);
	jsPubOptions_Init(&po);
	po.MsgId = msg_id;
	natsStatus s = js_Publish(&pa, q->js, subj, data, (int)len, &po, &code);
	/* A stream just created on a cluster, or one whose leader was lost,
	 * has no leader for a few seconds: no responders, or no answer.
	 * Publishing again is safe: the message id de-duplicates. */
	for (int i = 0; i < PUBLISH_TRIES &&
			(s == NATS_NO_RESPONDERS || s == NATS_TIMEOUT);
	     i++) {
		usleep(PUBLISH_RETRY_MS * 1000);
		s = js_Publish(&pa, q->js, subj, data, (int)len, &po, &code);
	}
	if (s != NATS_OK) {
		sp_log_warn("cluster: cannot publish %s: %s", msg_id,
			    last_error(s));
		return status_errno(s);
	}
	if (duplicate)
		*duplicate = pa->Duplicate;
	jsPubAck_Destroy(pa);
	return 0;
}

int sp_jsq_subscribe(struct sp_jsq *q, struct sp_jsq_sub **out)
{
	struct sp_jsq_sub *s = calloc(1, sizeof(*s));
	jsSubOptions so;

	if (!s)
		return -ENOMEM;
	jsSubOptions_Init(&so);
	so.Stream = SP_JSQ_STREAM;
	so.Consumer = SP_JSQ_CONSUMER;
	natsStatus st = js_PullSubscribe(&s->sub, q->js, SP_JSQ_SUBJECTS,
					 SP_JSQ_CONSUMER, NULL, &so, NULL);
	if (st != NATS_OK) {
		sp_log_error("cluster: cannot subscribe to %s: %s",
			     SP_JSQ_CONSUMER, last_error(st));
		free(s);
		return status_errno(st);
	}
	s->q = q;
	*out = s;
	return 0;
}

void sp_jsq_sub_destroy(struct sp_jsq_sub *s)
{
	if (!s)
		return;
	natsSubscription_Destroy(s->sub);
	free(s);
}

int sp_jsq_fetch(struct sp_jsq_sub *s, int timeout_ms, struct sp_jsq_msg **out)
{
	natsMsgList list = {0};
	natsStatus st =
	    natsSubscription_Fetch(&list, s->sub, 1, timeout_ms, NULL);

	*out = NULL;
	if (st == NATS_TIMEOUT || (st == NATS_OK && list.Count == 0)) {
		natsMsgList_Destroy(&list);
		return -ETIMEDOUT;
	}
	if (st != NATS_OK) {
		sp_log_debug("cluster: fetch: %s", last_error(st));
		natsMsgList_Destroy(&list);
		return status_errno(st);
	}
	struct sp_jsq_msg *m = calloc(1, sizeof(*m));
	if (!m) {
		natsMsgList_Destroy(&list);
		return -ENOMEM;
	}
	m->msg = list.Msgs[0];
	list.Msgs[0] = NULL;
	natsMsgList_Destroy(&list);
	jsMsgMetaData *meta = NULL;
	if (natsMsg_GetMetaData(&meta, m->msg) == NATS_OK) {
		m->delivered = meta->NumDelivered;
		jsMsgMetaData_Destroy(meta);
	}
	*out = m;
	return 0;
}

const char *sp_jsq_msg_data(const struct sp_jsq_msg *m, size_t *len)
{
	*len = (size_t)natsMsg_GetDataLength(m->msg);
	return natsMsg_GetData(m->msg);
}

uint64_t sp_jsq_msg_delivered(const struct sp_jsq_msg *m)
{
	return m->delivered;
}

int sp_jsq_msg_ack(struct sp_jsq_msg *m)
{
	return status_errno(natsMsg_AckSync(m->msg, NULL, NULL));
}

int sp_jsq_msg_nak(struct sp_jsq_msg *m, uint64_t delay_ms)
{
	return status_errno(
	    natsMsg_NakWithDelay(m->msg, (int64_t)delay_ms, NULL));
}

int sp_jsq_msg_progress(struct sp_jsq_msg *m)
{
	return status_errno(natsMsg_InProgress(m->msg, NULL));
}

int sp_jsq_msg_term(struct sp_jsq_msg *m)
{
	return status_errno(natsMsg_Term(m->msg, NULL));
}

void sp_jsq_msg_free(struct sp_jsq_msg *m)
{
	if (!m)
		return;
	natsMsg_Destroy(m->msg);
	free(m);
}

/* ---- key-value ---------------------------------------------------------- */

static const char *const bucket_name[] = {SP_JSQ_BUCKET_JOBS,
					  SP_JSQ_BUCKET_HISTORY};

/* A key's last value read from the bucket's stream leader, not by a
 * direct get: with replicas a direct get may be answered by a follower
 * that has not applied the latest writes yet, and a job's state must be
 * read as it is. */
int sp_jsq_kv_get(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		  char **val, uint64_t *rev)
{
	char stream[64], subj[320];
	natsMsg *m = NULL;
	jsErrCode code = 0;
	const char *op = NULL;

	*val = NULL;
	snprintf(stream, sizeof(stream), "KV_%s", bucket_name[b]);
	snprintf(subj, sizeof(subj), "$KV.%s.%s", bucket_name[b], key);
	natsStatus s = js_GetLastMsg(&m, q->js, stream, subj, NULL, &code);
	if (s != NATS_OK)
		return code == JSNoMessageFoundErr ? -ENOENT : status_errno(s);
	if (natsMsgHeader_Get(m, "KV-Operation", &op) == NATS_OK && op &&
	    (!strcmp(op, "DEL") || !strcmp(op, "PURGE"))) {
		natsMsg_Destroy(m);
		return -ENOENT;
	}
	int len = natsMsg_GetDataLength(m);
	char *v = malloc((size_t)len + 1);
	if (!v) {
		natsMsg_Destroy(m);
		return -ENOMEM;
	}
	memcpy(v, natsMsg_GetData(m), (size_t)len);
	v[len] = '\0';
	if (rev)
		*rev = natsMsg_GetSequence(m);
	natsMsg_Destroy(m);
	*val = v;
	return 0;
}

int sp_jsq_kv_put(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		  const char *val)
{
	return status_errno(kvStore_PutString(NULL, q->kv[b], key, val));
}

int sp_jsq_kv_purge(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key)
{
	return status_errno(kvStore_Purge(q->kv[b], key, NULL));
}

int sp_jsq_kv_create(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		     const char *val)
{
	natsStatus s = kvStore_CreateString(NULL, q->kv[b], key, val);
	char *v = NULL;

	if (s == NATS_OK)
		return 0;
	/* the server says "wrong last sequence": tell that from trouble */
	if (sp_jsq_kv_get(q, b, key, &v, NULL) == 0) {
		free(v);
		return -EEXIST;
	}
	return status_errno(s);
}

int sp_jsq_kv_update(struct sp_jsq *q, enum sp_jsq_bucket b, const char *key,
		     const char *val, uint64_t rev)
{
	natsStatus s = kvStore_UpdateString(NULL, q->kv[b], key, val, rev);
	uint64_t now = 0;
	char *v = NULL;

	if (s == NATS_OK)
		return 0;
	if (sp_jsq_kv_get(q, b, key, &v, &now) == 0) {
		free(v);
		if (now != rev)
			return -EAGAIN;
	}
	return status_errno(s);
}

int sp_jsq_kv_each(struct sp_jsq *q, enum sp_jsq_bucket b, const char *pattern,
		   int (*fn)(void *arg, const char *key, const char *val),
		   void *arg)
{
	kvWatcher *w = NULL;
	kvWatchOptions wo;
	int rc = 0;

	kvWatchOptions_Init(&wo);
	wo.IgnoreDeletes = true;
	natsStatus s = kvStore_Watch(&w, q->kv[b], pattern, &wo);
	if (s != NATS_OK)
		return status_errno(s);
	for (;;) {
		kvEntry *e = NULL;
		s = kvWatcher_Next(&e, w, 5000);
		if (s != NATS_OK) {
			rc = status_errno(s);
			break;
		}
		if (!e) /* the initial values are done */
			break;
		int len = kvEntry_ValueLen(e);
		char *v = malloc((size_t)len + 1);
		if (!v) {
			kvEntry_Destroy(e);
			rc = -ENOMEM;
			break;
		}
		memcpy(v, kvEntry_Value(e), (size_t)len);
		v[len] = '\0';
		rc = fn(arg, kvEntry_Key(e), v);
		free(v);
		kvEntry_Destroy(e);
		if (rc)
			break;
	}
	kvWatcher_Destroy(w);
	return rc;
}
