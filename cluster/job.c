/*
 * Cluster jobs in the spate_jobs key-value bucket: the spec a submitter
 * writes once, the job's state that workers change by compare-and-set
 * (one flag per shard, so marking a shard committed twice is harmless),
 * and one record per shard for progress and `spate jobs`.  Records are
 * small flat JSON objects.
 */
#define _GNU_SOURCE
#include "cluster/job.h"

#include <errno.h>
#include <inttypes.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "record/json.h"

#define CAS_TRIES 1000

/* ---- JSON helpers ------------------------------------------------------- */

static int member(const char *obj, const char *key, struct sp_value *v)
{
	return sp_json_object_get(obj, strlen(obj), key, strlen(key), v);
}

int sp_cjson_str(const char *obj, const char *key, char **out)
{
	struct sp_value v;
	int rc = member(obj, key, &v);

	*out = NULL;
	if (rc < 0)
		return rc;
	if (v.type != SP_STRING)
		return -EINVAL;
	char *s = malloc((size_t)v.len + 1);
	if (!s)
		return -ENOMEM;
	ssize_t n = v.len;
	if (v.flags & SP_VALUE_ESCAPED)
		n = sp_json_unescape(v.str, v.len, s);
	else
		memcpy(s, v.str, v.len);
	if (n < 0) {
		free(s);
		return -EINVAL;
	}
	s[n] = '\0';
	*out = s;
	return 0;
}

int sp_cjson_u64(const char *obj, const char *key, uint64_t *out)
{
	struct sp_value v;
	int rc = member(obj, key, &v);

	if (rc < 0)
		return rc;
	if (v.type == SP_BOOL) {
		*out = v.b;
		return 0;
	}
	if (v.type != SP_INT || !(v.flags & SP_VALUE_TEXT) || v.str[0] == '-')
		return -EINVAL;
	*out = strtoull(v.str, NULL, 10);
	return 0;
}

int sp_cjson_dbl(const char *obj, const char *key, double *out)
{
	struct sp_value v;
	int rc = member(obj, key, &v);

	if (rc < 0)
		return rc;
	if ((v.type != SP_INT && v.type != SP_DOUBLE) ||
	    !(v.flags & SP_VALUE_TEXT))
		return -EINVAL;
	*out = strtod(v.str, NULL);
	return 0;
}

static int put_str(struct sp_buf *b, const char *key, const char *val,
		   bool first)
{
	int rc = sp_buf_append(b, first ? "{" : ",", 1);

	rc = rc ? rc : sp_json_append_string(b, key, strlen(key));
	rc = rc ? rc : sp_buf_putc(b, ':');
	return rc ? rc
		  : sp_json_append_string(b, val ? val : "",
					  val ? strlen(val) : 0);
}

static int put_num(struct sp_buf *b, const char *key, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));

static int put_num(struct sp_buf *b, const char *key, const char *fmt, ...)
{
	char num[64];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(num, sizeof(num), fmt, ap);
	va_end(ap);
	int rc = sp_buf_putc(b, ',');
	rc = rc ? rc : sp_json_append_string(b, key, strlen(key));
	rc = rc ? rc : sp_buf_putc(b, ':');
	return rc ? rc : sp_buf_append(b, num, strlen(num));
}

/* the text of b with '}' and NUL appended, or NULL */
static const char *close_obj(struct sp_buf *b, int rc)
{
	if (rc || sp_buf_append(b, "}", 2))
		return NULL;
	return (const char *)b->data;
}

/* ---- keys --------------------------------------------------------------- */

void sp_cshard_name(unsigned shard, char *out, size_t len)
{
	snprintf(out, len, "%05u", shard);
}

static void state_key(const char *id, char *out, size_t len)
{
	snprintf(out, len, "%s.state", id);
}

static void shard_key(const char *id, unsigned shard, char *out, size_t len)
{
	char n[16];

	sp_cshard_name(shard, n, sizeof(n));
	snprintf(out, len, "%s.s%s", id, n);
}

/* ---- the spec ----------------------------------------------------------- */

int sp_cjob_put(struct sp_jsq *q, const struct sp_cjob *job)
{
	struct sp_buf b;
	int rc;

	sp_buf_init(&b);
	rc = put_str(&b, "job", job->id, true);
	rc = rc ? rc : put_str(&b, "flow", job->flow, false);
	rc = rc ? rc : put_str(&b, "origin", job->origin, false);
	rc = rc ? rc : put_num(&b, "shards", "%u", job->shards);
	rc =
	    rc ? rc : put_num(&b, "force", "%s", job->force ? "true" : "false");
	rc = rc ? rc : put_str(&b, "yaml", job->yaml, false);
	const char *text = close_obj(&b, rc);
	rc = text ? sp_jsq_kv_put(q, SP_JSQ_JOBS, job->id, text) : -ENOMEM;
	sp_buf_fini(&b);
	return rc;
}

int sp_cjob_get(struct sp_jsq *q, const char *id, struct sp_cjob *job)
{
	char *v = NULL;
	uint64_t n = 0, force = 0;
	int rc = sp_jsq_kv_get(q, SP_JSQ_JOBS, id, &v, NULL);

	memset(job, 0, sizeof(*job));
	if (rc < 0)
		return rc;
	snprintf(job->id, sizeof(job->id), "%s", id);
	rc = sp_cjson_str(v, "flow", &job->flow);
	rc = rc ? rc : sp_cjson_str(v, "yaml", &job->yaml);
	rc = rc ? rc : sp_cjson_str(v, "origin", &job->origin);
	rc = rc ? rc : sp_cjson_u64(v, "shards", &n);
	rc = rc ? rc : sp_cjson_u64(v, "force", &force);
	free(v);
	if (rc < 0) {
		sp_cjob_fini(job);
		return rc == -ENOMEM ? rc : -EINVAL;
	}
	job->shards = (unsigned)n;
	job->force = force;
	return 0;
}

void sp_cjob_fini(struct sp_cjob *job)
{
	free(job->flow);
	free(job->yaml);
	free(job->origin);
	memset(job, 0, sizeof(*job));
}

/* ---- the state ---------------------------------------------------------- */

static const char *state_text(struct sp_buf *b, const struct sp_cjob_state *st)
{
	int rc = put_str(b, "state", st->state, true);

	rc = rc ? rc : put_num(b, "gen", "%u", st->gen);
	rc = rc ? rc : put_str(b, "done", st->done, false);
	rc = rc ? rc : put_str(b, "error", st->error, false);
	return close_obj(b, rc);
}

static int state_parse(const char *v, struct sp_cjob_state *st)
{
	char *s = NULL;
	uint64_t gen = 0;
	int rc = sp_cjson_str(v, "state", &s);

	memset(st, 0, sizeof(*st));
	rc = rc ? rc : sp_cjson_u64(v, "gen", &gen);
	rc = rc ? rc : sp_cjson_str(v, "done", &st->done);
	rc = rc ? rc : sp_cjson_str(v, "error", &st->error);
	if (rc == 0)
		snprintf(st->state, sizeof(st->state), "%s", s);
	free(s);
	st->gen = (unsigned)gen;
	if (rc < 0)
		sp_cjob_state_fini(st);
	return rc == -ENOMEM ? rc : rc < 0 ? -EINVAL : 0;
}

int sp_cjob_state_get(struct sp_jsq *q, const char *id,
		      struct sp_cjob_state *st, uint64_t *rev)
{
	char key[64], *v = NULL;

	memset(st, 0, sizeof(*st));
	state_key(id, key, sizeof(key));
	int rc = sp_jsq_kv_get(q, SP_JSQ_JOBS, key, &v, rev);
	if (rc < 0)
		return rc;
	rc = state_parse(v, st);
	free(v);
	return rc;
}

void sp_cjob_state_fini(struct sp_cjob_state *st)
{
	free(st->done);
	free(st->error);
	st->done = st->error = NULL;
}

int sp_cjob_state_create(struct sp_jsq *q, const char *id,
			 const struct sp_cjob_state *st)
{
	char key[64];
	struct sp_buf b;

	state_key(id, key, sizeof(key));
	sp_buf_init(&b);
	const char *text = state_text(&b, st);
	int rc = text ? sp_jsq_kv_create(q, SP_JSQ_JOBS, key, text) : -ENOMEM;
	sp_buf_fini(&b);
	return rc;
}

/* Whether the edit a compare-and-set wrote is still in the state.  Up to
 * nats-server 2.9.20 a replicated stream checks the expected revision of
 * a write before the write is agreed on, not when it is applied, so two
 * writers that read the same revision may both succeed and the later one
 * drops the other's edit (nats-server issue 4320).  A write made after
 * ours (the fence) is ordered after every write checked before ours was
 * applied; once it is acknowledged, the state read from the leader shows
 * whether our edit survived. */
static int edit_kept(struct sp_jsq *q, const char *id,
		     int (*edit)(struct sp_cjob_state *st, void *arg),
		     void *arg, struct sp_cjob_state *st)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.fence", id);
	int rc = sp_jsq_kv_put(q, SP_JSQ_JOBS, key, "");
	struct sp_cjob_state now;
	rc = rc ? rc : sp_cjob_state_get(q, id, &now, NULL);
	if (rc < 0)
		return rc;
	rc = edit(&now, arg);
	if (rc != 0) { /* lost: the caller edits again */
		sp_cjob_state_fini(&now);
		return rc < 0 ? rc : -EAGAIN;
	}
	sp_cjob_state_fini(st);
	*st = now;
	return 0;
}

void sp_cjob_fence_drop(struct sp_jsq *q, const char *id)
{
	char key[64];

	snprintf(key, sizeof(key), "%s.fence", id);
	sp_jsq_kv_purge(q, SP_JSQ_JOBS, key); /* a leftover is harmless */
}

int sp_cjob_state_change(struct sp_jsq *q, const char *id,
			 int (*edit)(struct sp_cjob_state *st, void *arg),
			 void *arg, struct sp_cjob_state *st)
{
	char key[64];

	state_key(id, key, sizeof(key));
	for (int i = 0; i < CAS_TRIES; i++) {
		uint64_t rev = 0;
		int rc = sp_cjob_state_get(q, id, st, &rev);
		if (rc < 0)
			return rc;
		rc = edit(st, arg);
		if (rc <= 0)
			return rc;
		struct sp_buf b;
		sp_buf_init(&b);
		const char *text = state_text(&b, st);
		rc = text ? sp_jsq_kv_update(q, SP_JSQ_JOBS, key, text, rev)
			  : -ENOMEM;
		sp_buf_fini(&b);
		if (rc == 0)
			rc = edit_kept(q, id, edit, arg, st);
		if (rc < 0 && rc != -EAGAIN)
			sp_cjob_state_fini(st);
		if (rc != -EAGAIN)
			return rc;
		sp_cjob_state_fini(st);
	}
	return -EAGAIN;
}

unsigned sp_cjob_state_done(const struct sp_cjob_state *st)
{
	unsigned n = 0;

	for (const char *p = st->done; p && *p; p++)
		n += *p == '1';
	return n;
}

/* ---- shards ------------------------------------------------------------- */

int sp_cshard_put(struct sp_jsq *q, const char *job, unsigned shard,
		  const struct sp_cshard *s)
{
	char key[64];
	struct sp_buf b;
	int rc;

	shard_key(job, shard, key, sizeof(key));
	sp_buf_init(&b);
	rc = put_str(&b, "state", s->state, true);
	rc = rc ? rc : put_str(&b, "worker", s->worker, false);
	char shown[400];
	sp_cinputs_describe(s->in, s->nin, shown, sizeof(shown));
	rc = rc ? rc : put_str(&b, "path", shown, false);
	rc = rc ? rc : sp_buf_append(&b, ",\"inputs\":", 10);
	rc = rc ? rc : sp_cinputs_json(&b, s->in, s->nin);
	rc = rc ? rc : put_num(&b, "records_in", "%" PRIu64, s->records_in);
	rc = rc ? rc : put_num(&b, "records_out", "%" PRIu64, s->records_out);
	rc = rc ? rc : put_num(&b, "errors", "%" PRIu64, s->errors);
	rc = rc ? rc
		: put_num(&b, "error_records", "%" PRIu64, s->error_records);
	rc = rc ? rc : put_num(&b, "bytes_in", "%" PRIu64, s->bytes_in);
	rc = rc ? rc : put_num(&b, "bytes_out", "%" PRIu64, s->bytes_out);
	rc = rc ? rc : put_num(&b, "elapsed_s", "%.3f", s->elapsed_s);
	rc = rc ? rc : put_str(&b, "error", s->error, false);
	const char *text = close_obj(&b, rc);
	rc = text ? sp_jsq_kv_put(q, SP_JSQ_JOBS, key, text) : -ENOMEM;
	sp_buf_fini(&b);
	return rc;
}

int sp_cshard_parse(const char *v, struct sp_cshard *s)
{
	char *state = NULL;
	int rc = sp_cjson_str(v, "state", &state);

	memset(s, 0, sizeof(*s));
	rc = rc ? rc : sp_cjson_str(v, "worker", &s->worker);
	rc = rc ? rc : sp_cjson_str(v, "path", &s->path);
	rc = rc ? rc : sp_cjson_str(v, "error", &s->error);
	rc = rc ? rc : sp_cinputs_parse(v, "inputs", &s->in, &s->nin);
	rc = rc ? rc : sp_cjson_u64(v, "records_in", &s->records_in);
	rc = rc ? rc : sp_cjson_u64(v, "records_out", &s->records_out);
	rc = rc ? rc : sp_cjson_u64(v, "errors", &s->errors);
	rc = rc ? rc : sp_cjson_u64(v, "error_records", &s->error_records);
	rc = rc ? rc : sp_cjson_u64(v, "bytes_in", &s->bytes_in);
	rc = rc ? rc : sp_cjson_u64(v, "bytes_out", &s->bytes_out);
	rc = rc ? rc : sp_cjson_dbl(v, "elapsed_s", &s->elapsed_s);
	if (rc == 0)
		snprintf(s->state, sizeof(s->state), "%s", state);
	free(state);
	if (rc < 0)
		sp_cshard_fini(s);
	return rc == -ENOMEM ? rc : rc < 0 ? -EINVAL : 0;
}

int sp_cshard_get(struct sp_jsq *q, const char *job, unsigned shard,
		  struct sp_cshard *s)
{
	char key[64], *v = NULL;

	memset(s, 0, sizeof(*s));
	shard_key(job, shard, key, sizeof(key));
	int rc = sp_jsq_kv_get(q, SP_JSQ_JOBS, key, &v, NULL);
	if (rc < 0)
		return rc;
	rc = sp_cshard_parse(v, s);
	free(v);
	return rc;
}

void sp_cshard_fini(struct sp_cshard *s)
{
	free(s->worker);
	free(s->path);
	free(s->error);
	sp_cinputs_free(s->in, s->nin);
	s->worker = s->path = s->error = NULL;
	s->in = NULL;
	s->nin = 0;
}

static void add_shard(struct sp_cjob_progress *p, const struct sp_cshard *s)
{
	if (!strcmp(s->state, "done")) {
		p->done++;
		p->records_in += s->records_in;
		p->records_out += s->records_out;
		p->errors += s->errors;
		p->error_records += s->error_records;
		p->bytes_in += s->bytes_in;
		p->bytes_out += s->bytes_out;
	} else if (!strcmp(s->state, "failed")) {
		p->failed++;
	} else if (!strcmp(s->state, "running")) {
		p->running++;
	}
}

/* Each shard's record is read by its key (a direct get from the bucket's
 * leader), not through a watcher, whose consumer can be placed on a
 * cluster node that is down and then delivers nothing.  A shard not
 * recorded yet is queued. */
int sp_cjob_progress(struct sp_jsq *q, const char *job,
		     struct sp_cjob_progress *p)
{
	struct sp_cjob spec;

	memset(p, 0, sizeof(*p));
	int rc = sp_cjob_get(q, job, &spec);
	for (unsigned i = 0; rc == 0 && i < spec.shards; i++) {
		struct sp_cshard s;
		int r = sp_cshard_get(q, job, i, &s);
		if (r == 0)
			add_shard(p, &s);
		sp_cshard_fini(&s);
		if (r < 0 && r != -ENOENT)
			rc = r;
	}
	sp_cjob_fini(&spec);
	return rc;
}
