/*
 * Cluster load history (see history.h): written by the worker that
 * publishes a job, after the publication and before the job is marked
 * published, so that a job that is published is also recorded (a crash
 * in between publishes again, which finds the output there, and records
 * again, which writes the same values).
 */
#define _GNU_SOURCE
#include "cluster/history.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "io/commit.h"
#include "record/json.h"

static void history_key(const char *flow, const char *path, char *out,
			size_t len)
{
	snprintf(out, len, "%s.%016" PRIx64, flow,
		 sp_commit_xxh64(path, strlen(path)));
}

/* The input file of in (a whole file, or the file a range is part of:
 * every range of it is committed once the job publishes). */
static int record_one(struct sp_jsq *q, const struct sp_cjob *job,
		      const struct sp_cinput *s)
{
	struct sp_buf b;
	char hkey[300], num[128];

	sp_buf_init(&b);
	int rc = sp_buf_append(&b, "{\"path\":", 8);
	rc = rc ? rc : sp_json_append_string(&b, s->path, strlen(s->path));
	int n = snprintf(num, sizeof(num),
			 ",\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64
			 ",\"job\":\"%s\"}",
			 s->size, s->mtime_ns, job->id);
	rc = rc ? rc : sp_buf_append(&b, num, (size_t)n + 1);
	history_key(job->flow, s->path, hkey, sizeof(hkey));
	if (rc == 0)
		rc = sp_jsq_kv_put(q, SP_JSQ_HISTORY, hkey, b.data);
	sp_buf_fini(&b);
	return rc;
}

/* Each shard's record is read by its key (a direct get from the bucket's
 * leader), not through a watcher: a watcher's consumer can be placed on
 * a cluster node that is down, and then it delivers nothing. */
int sp_chistory_record(struct sp_jsq *q, const struct sp_cjob *job)
{
	for (unsigned i = 0; i < job->shards; i++) {
		struct sp_cshard s;
		int rc = sp_cshard_get(q, job->id, i, &s);
		if (rc < 0)
			return rc;
		for (size_t k = 0; !strcmp(s.state, "done") && rc == 0 &&
				   k < s.nin;
		     k++)
			if (s.in[k].from == 0) /* a file once */
				rc = record_one(q, job, &s.in[k]);
		sp_cshard_fini(&s);
		if (rc < 0)
			return rc;
	}
	return 0;
}

bool sp_chistory_loaded(struct sp_jsq *q, const char *flow, const char *path,
			uint64_t size, int64_t mtime_ns)
{
	char key[300], *v = NULL, *p = NULL;
	uint64_t sz = 0, mt = 0;

	history_key(flow, path, key, sizeof(key));
	if (sp_jsq_kv_get(q, SP_JSQ_HISTORY, key, &v, NULL) < 0)
		return false;
	bool same = sp_cjson_str(v, "path", &p) == 0 && !strcmp(p, path) &&
		    sp_cjson_u64(v, "size", &sz) == 0 && sz == size &&
		    sp_cjson_u64(v, "mtime_ns", &mt) == 0 &&
		    (int64_t)mt == mtime_ns;
	free(p);
	free(v);
	return same;
}
