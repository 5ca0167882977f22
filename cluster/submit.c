/*
 * Submitting a flow as a cluster job.  The flow is loaded and validated
 * as `spate run` would; it must read files with exactly one file_reader
 * (no other origin), and its paths are made absolute (the workers run it
 * elsewhere).  The file_reader's path (a glob or a list of globs,
 * relative to the flow file's folder) expands to a sorted list of files,
 * cut into shards of about --shard-size bytes (plan.c: large files split
 * on record boundaries, small ones grouped).  The job id hashes the
 * flow's YAML with every file's path, size and mtime and the shard size,
 * so the same submission is the same job; the job's
 * records in the spate_jobs bucket are created once, and a job that
 * failed is restarted with a new submission generation, which gives its
 * unfinished shards' tasks new message ids.
 */
#define _GNU_SOURCE
#include "cluster/submit.h"

#include <errno.h>
#include <glob.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

#include <spate/spate.h>

#include "cluster/history.h"
#include "cluster/input.h"
#include "cluster/job.h"
#include "cluster/plan.h"
#include "cluster/publish.h"
#include "core/buf.h"
#include "core/xxh64.h"
#include "io/s3.h"

#define MAX_STAGES 1024
#define ORIGIN_TYPES_OTHER "dev_data_generator dev_raw_data stdin"

struct plan {
	struct spate_flow *flow;
	char dir[PATH_MAX]; /* the flow file's folder */
	const char *origin;
	struct sp_cinput *in; /* whole files, sorted */
	size_t nin, cap;
	struct sp_cplan_opts cut;
	struct sp_cplan_shard *shards;
	size_t nshards;
	struct sp_s3 *s3; /* for s3:// paths, once one is seen */
};

static void plan_fini(struct plan *p)
{
	sp_cinputs_free(p->in, p->nin);
	sp_cplan_free(p->shards, p->nshards);
	sp_s3_destroy(p->s3);
	spate_flow_destroy(p->flow);
}

static int apply_sets(struct spate_flow *flow, char **sets, int n, char *err,
		      size_t errlen)
{
	for (int i = 0; i < n; i++) {
		char *s = strdup(sets[i]);
		char *dot = s ? strchr(s, '.') : NULL;
		char *eq = dot ? strchr(dot, '=') : NULL;
		struct spate_stage *st = NULL;
		if (eq) {
			*dot = *eq = '\0';
			st = spate_flow_find_stage(flow, s);
		}
		int rc =
		    st ? spate_stage_set_config(st, dot + 1, eq + 1) : -EINVAL;
		free(s);
		if (rc < 0) {
			/* the SDK says why (unknown option, bad YAML) */
			const char *why = *spate_flow_error(flow)
					      ? spate_flow_error(flow)
					      : "no such stage, or a bad value";
			snprintf(err, errlen, "--set %s: %s", sets[i],
				 eq ? why : "write STAGE.OPTION=VALUE");
			return -EINVAL;
		}
	}
	return 0;
}

/* absolute path of p (relative to the flow's folder) */
static char *absolute(const struct plan *p, const char *path)
{
	char *out = NULL;

	if (path[0] == '/')
		return strdup(path);
	if (asprintf(&out, "%s/%s", p->dir, path) < 0)
		return NULL;
	return out;
}

static int push_input(struct plan *p, const char *path, uint64_t size,
		      int64_t mtime_ns)
{
	for (size_t i = 0; i < p->nin; i++)
		if (!strcmp(p->in[i].path, path))
			return 0;
	if (p->nin == p->cap) {
		size_t cap = p->cap ? p->cap * 2 : 64;
		struct sp_cinput *in = realloc(p->in, cap * sizeof(*in));
		if (!in)
			return -ENOMEM;
		p->in = in;
		p->cap = cap;
	}
	struct sp_cinput *in = &p->in[p->nin];
	memset(in, 0, sizeof(*in));
	in->line = 1;
	in->path = strdup(path);
	in->size = size;
	in->mtime_ns = mtime_ns;
	if (!in->path)
		return -ENOMEM;
	p->nin++;
	return 0;
}

static int add_input(struct plan *p, const char *path)
{
	struct stat st;

	if (stat(path, &st) < 0 || !S_ISREG(st.st_mode))
		return 0;
	return push_input(p, path, (uint64_t)st.st_size,
			  (int64_t)st.st_mtim.tv_sec * 1000000000 +
			      st.st_mtim.tv_nsec);
}

/* An s3:// path: its objects (a key, or a glob over keys), listed with
 * the AWS_* variables or ~/.aws/credentials, as the workers' file_reader
 * will read them.  An object stands by its key, size and Last-Modified. */
static int expand_s3(struct plan *p, const char *url, char *err,
		     size_t errlen)
{
	char *bucket = NULL, *key = NULL, *obj = NULL;
	struct sp_s3_object *v = NULL;
	size_t n = 0;
	int rc = sp_s3_url_parse(url, &bucket, &key);

	if (rc == 0 && !*key)
		rc = -EINVAL;
	if (rc) {
		snprintf(err, errlen,
			 "file_reader '%s': path '%s' is not s3://BUCKET/KEY",
			 p->origin, url);
		goto out;
	}
	if (!p->s3) {
		struct sp_s3_source src = {0};
		struct sp_s3_config cfg;
		rc = sp_s3_config_resolve(&src, &cfg, err, errlen);
		if (rc == 0) {
			rc = sp_s3_create(&cfg, &p->s3);
			sp_s3_config_fini(&cfg);
		}
		if (rc)
			goto out;
	}
	rc = sp_s3_glob(p->s3, bucket, key, &v, &n);
	if (rc == -ENOENT) {
		rc = 0; /* no object: as a local glob that matches nothing */
	} else if (rc) {
		snprintf(err, errlen, "file_reader '%s': cannot list %s: %s",
			 p->origin, url, sp_s3_error(p->s3));
		goto out;
	}
	for (size_t i = 0; rc == 0 && i < n; i++) {
		free(obj);
		obj = NULL;
		if (asprintf(&obj, "s3://%s/%s", bucket, v[i].key) < 0) {
			obj = NULL;
			rc = -ENOMEM;
			break;
		}
		rc = push_input(p, obj, v[i].size, v[i].mtime * 1000000000);
	}
out:
	sp_s3_objects_free(v, n);
	free(obj);
	free(bucket);
	free(key);
	return rc;
}

static int expand_one(struct plan *p, const char *pattern, char *err,
		      size_t errlen)
{
	if (!strncmp(pattern, "s3://", 5))
		return expand_s3(p, pattern, err, errlen);
	char *abs = absolute(p, pattern);
	glob_t g;
	int rc = 0;

	if (!abs)
		return -ENOMEM;
	if (glob(abs, 0, NULL, &g) == 0) {
		for (size_t i = 0; rc == 0 && i < g.gl_pathc; i++)
			rc = add_input(p, g.gl_pathv[i]);
		globfree(&g);
	}
	free(abs);
	return rc;
}

static int cmp_input(const void *a, const void *b)
{
	return strcmp(((const struct sp_cinput *)a)->path,
		      ((const struct sp_cinput *)b)->path);
}

/* The file_reader's path: one glob, or a flow-style list of them. */
static int expand_inputs(struct plan *p, struct spate_stage *reader,
			 char *err, size_t errlen)
{
	char val[8192];
	int len = spate_stage_get_config(reader, "path", val, sizeof(val));
	int rc = 0;

	if (len < 0 || (size_t)len >= sizeof(val))
		return -EINVAL;
	if (val[0] != '[')
		return expand_one(p, val, err, errlen);
	char *save = NULL;
	val[len - 1] = '\0';
	for (char *t = strtok_r(val + 1, ",", &save); rc == 0 && t;
	     t = strtok_r(NULL, ",", &save)) {
		while (*t == ' ')
			t++;
		size_t l = strlen(t);
		while (l && t[l - 1] == ' ')
			t[--l] = '\0';
		if (l >= 2 && (t[0] == '\'' || t[0] == '"') &&
		    t[l - 1] == t[0]) {
			t[l - 1] = '\0';
			t++;
		}
		if (*t)
			rc = expand_one(p, t, err, errlen);
	}
	return rc;
}

static bool is_other_origin(const char *type)
{
	const char *hit = strstr(ORIGIN_TYPES_OTHER, type);
	size_t l = strlen(type);

	return hit && (hit[l] == ' ' || hit[l] == '\0');
}

/* A character option as the binder reads it ("tab" and "\t" are a tab). */
static char config_char(struct spate_stage *s, const char *option, char def)
{
	char v[16] = "";

	if (spate_stage_get_config(s, option, v, sizeof(v)) <= 0)
		return def;
	if (!strcmp(v, "tab") || !strcmp(v, "\\t"))
		return '\t';
	return v[0];
}

/* The inputs of one file_reader are local files, or objects of one
 * bucket (as the workers' file_reader reads them). */
static int one_place(const struct plan *p, char *err, size_t errlen)
{
	const char *first = p->in[0].path;
	size_t blen = strncmp(first, "s3://", 5) ? 0 : strcspn(first + 5, "/");

	for (size_t i = 1; i < p->nin; i++) {
		const char *x = p->in[i].path;
		bool same = blen ? !strncmp(x, first, 5 + blen + 1)
				 : strncmp(x, "s3://", 5) != 0;
		if (!same) {
			snprintf(err, errlen,
				 "file_reader '%s': %s and %s: one file_reader "
				 "reads local files or the objects of one "
				 "bucket, not both",
				 p->origin, first, x);
			return -EINVAL;
		}
	}
	return 0;
}

/* Checks the stages and makes the writers' dirs absolute. */
static int shape(struct plan *p, char *err, size_t errlen)
{
	struct spate_stage *st[MAX_STAGES];
	size_t n = spate_flow_stages(p->flow, st, MAX_STAGES);
	struct spate_stage *reader = NULL;
	char buf[PATH_MAX];

	for (size_t i = 0; i < n && i < MAX_STAGES; i++) {
		const char *type = spate_stage_type(st[i]);
		bool fr = !strcmp(type, "file_reader");
		bool fw = !strcmp(type, "file_writer");
		if (is_other_origin(type) || (fr && reader)) {
			snprintf(err, errlen,
				 "stage '%s' (%s): a cluster job reads files "
				 "with one file_reader and no other origin",
				 spate_stage_id(st[i]), type);
			return -EINVAL;
		}
		if ((fr || fw) &&
		    spate_stage_get_config(st[i], "stage", NULL, 0) >= 0) {
			snprintf(err, errlen,
				 "stage '%s': catalog stages (option 'stage') "
				 "cannot be used by a cluster job yet; give "
				 "the shared path",
				 spate_stage_id(st[i]));
			return -EINVAL;
		}
		if (fr)
			reader = st[i];
		if (!fw ||
		    spate_stage_get_config(st[i], "dir", buf, sizeof(buf)) < 0)
			continue;
		if (!strncmp(buf, "s3://", 5)) {
			snprintf(err, errlen,
				 "stage '%s': a cluster job writes to a shared "
				 "filesystem path; S3 targets are not supported "
				 "yet",
				 spate_stage_id(st[i]));
			return -EINVAL;
		}
		char *abs = absolute(p, buf);
		int rc =
		    abs ? spate_stage_set_config(st[i], "dir", abs) : -ENOMEM;
		free(abs);
		if (rc < 0)
			return rc;
	}
	if (!reader) {
		snprintf(err, errlen,
			 "a cluster job needs a file_reader: "
			 "its files are the shards");
		return -EINVAL;
	}
	p->origin = spate_stage_id(reader);
	char v[16] = "";
	spate_stage_get_config(reader, "format", v, sizeof(v));
	p->cut.csv = !strcmp(v, "csv");
	v[0] = '\0';
	p->cut.quote = config_char(reader, "quote", '"');
	p->cut.delimiter = config_char(reader, "delimiter", ',');
	v[0] = '\0';
	spate_stage_get_config(reader, "on_error", v, sizeof(v));
	/* skip_file judges a file whole: one shard must read all of it */
	p->cut.whole_files = !strcmp(v, "skip_file");
	v[0] = '\0';
	if (spate_stage_get_config(reader, "ignore_lines", v, sizeof(v)) > 0)
		p->cut.ignore_lines = strtoull(v, NULL, 10);
	v[0] = '\0';
	spate_stage_get_config(reader, "compression", v, sizeof(v));
	p->cut.compressed = v[0] && strcmp(v, "auto") && strcmp(v, "none");
	int rc = expand_inputs(p, reader, err, errlen);
	if (rc == 0 && p->nin == 0) {
		snprintf(err, errlen,
			 "file_reader '%s': its path matches no "
			 "file",
			 p->origin);
		return -ENOENT;
	}
	qsort(p->in, p->nin, sizeof(*p->in), cmp_input);
	return rc ? rc : one_place(p, err, errlen);
}

static int load_plan(struct plan *p, const struct sp_csubmit_opts *o, char *err,
		     size_t errlen)
{
	char real[PATH_MAX];

	if (!realpath(o->flow_path, real)) {
		snprintf(err, errlen, "%s: %s", o->flow_path, strerror(errno));
		return -ENOENT;
	}
	snprintf(p->dir, sizeof(p->dir), "%s", dirname(real));
	int rc = spate_flow_load(o->flow_path, &p->flow, err, errlen);
	if (rc == 0)
		rc = apply_sets(p->flow, o->sets, o->nsets, err, errlen);
	if (rc == 0 && spate_flow_validate(p->flow, err, errlen) != 0)
		rc = -EINVAL;
	return rc == 0 ? shape(p, err, errlen) : rc;
}

static char *flow_yaml(struct spate_flow *flow)
{
	int len = spate_flow_to_yaml(flow, NULL, 0);
	char *y = len >= 0 ? malloc((size_t)len + 1) : NULL;

	if (y)
		spate_flow_to_yaml(flow, y, (size_t)len + 1);
	return y;
}

static void job_id(const char *yaml, const struct plan *p, bool force,
		   uint64_t shard_size, char *out)
{
	XXH64_state_t *h = XXH64_createState();
	char num[64];

	XXH64_reset(h, 0);
	XXH64_update(h, yaml, strlen(yaml) + 1);
	for (size_t i = 0; i < p->nin; i++) {
		int n = snprintf(num, sizeof(num), "|%" PRIu64 "|%" PRId64 "|",
				 p->in[i].size, p->in[i].mtime_ns);
		XXH64_update(h, p->in[i].path, strlen(p->in[i].path));
		XXH64_update(h, num, (size_t)n);
	}
	XXH64_update(h, force ? "F" : "-", 1);
	XXH64_update(h, &shard_size, sizeof(shard_size));
	snprintf(out, 17, "%016llx", (unsigned long long)XXH64_digest(h));
	XXH64_freeState(h);
}

static int restart(struct sp_cjob_state *st, void *arg)
{
	(void)arg;
	if (strcmp(st->state, "failed") != 0)
		return 0;
	snprintf(st->state, sizeof(st->state), "running");
	st->gen++;
	st->error[0] = '\0';
	return 1;
}

/* Creates (or finds, or restarts) the job's records; *st its state. */
static int job_records(struct sp_jsq *q, const struct sp_cjob *job,
		       struct sp_cjob_state *st)
{
	struct sp_cjob old;
	int rc = sp_cjob_get(q, job->id, &old);

	if (rc == -ENOENT)
		rc = sp_cjob_put(q, job);
	else if (rc == 0)
		sp_cjob_fini(&old);
	if (rc < 0)
		return rc;
	struct sp_cjob_state fresh = {.gen = 1, .error = ""};
	snprintf(fresh.state, sizeof(fresh.state), "running");
	fresh.done = malloc(job->shards + 1);
	if (!fresh.done)
		return -ENOMEM;
	memset(fresh.done, '0', job->shards);
	fresh.done[job->shards] = '\0';
	rc = sp_cjob_state_create(q, job->id, &fresh);
	free(fresh.done);
	if (rc < 0 && rc != -EEXIST)
		return rc;
	return sp_cjob_state_change(q, job->id, restart, NULL, st);
}

static int queue_tasks(struct sp_jsq *q, const struct sp_cjob *job,
		       const struct plan *p, const struct sp_cjob_state *st,
		       unsigned *queued)
{
	struct sp_buf b;
	char id[64], num[160];
	int rc = 0;

	sp_buf_init(&b);
	for (unsigned s = 0; rc == 0 && s < job->shards; s++) {
		if (st->done[s] == '1')
			continue;
		b.len = 0;
		int n = snprintf(num, sizeof(num),
				 "{\"job\":\"%s\",\"shard\":%u,\"inputs\":",
				 job->id, s);
		rc = sp_buf_append(&b, num, (size_t)n);
		rc = rc ? rc
			: sp_cinputs_json(&b, p->shards[s].in, p->shards[s].n);
		rc = rc ? rc : sp_buf_putc(&b, '}');
		snprintf(id, sizeof(id), "%s.%05u.%u", job->id, s, st->gen);
		bool dup = false;
		if (rc == 0)
			rc =
			    sp_jsq_publish(q, job->id, id, b.data, b.len, &dup);
		*queued += rc == 0 && !dup;
	}
	if (rc == 0 && sp_cjob_state_done(st) == job->shards) {
		/* every shard committed but the job not published: queue
		 * its publication (again; the id makes it once) */
		snprintf(id, sizeof(id), "%s.publish.%u", job->id, st->gen);
		int n = snprintf(num, sizeof(num),
				 "{\"job\":\"%s\",\"publish\":true}", job->id);
		rc = sp_jsq_publish(q, job->id, id, num, (size_t)n, NULL);
	}
	sp_buf_fini(&b);
	return rc;
}

/* Leaves out the files the flow loaded before; their count. */
static unsigned drop_loaded(struct sp_jsq *q, struct plan *p, const char *flow)
{
	size_t k = 0;
	unsigned skipped = 0;

	for (size_t i = 0; i < p->nin; i++) {
		if (sp_chistory_loaded(q, flow, p->in[i].path, p->in[i].size,
				       p->in[i].mtime_ns)) {
			free(p->in[i].path);
			skipped++;
		} else {
			p->in[k++] = p->in[i];
		}
	}
	p->nin = k;
	return skipped;
}

int sp_csubmit(struct sp_jsq *q, const struct sp_csubmit_opts *o,
	       struct sp_csubmit_result *r, char *err, size_t errlen)
{
	struct plan p = {0};
	struct sp_cjob job = {0};
	struct sp_cjob_state st = {0};
	int rc = load_plan(&p, o, err, errlen);

	memset(r, 0, sizeof(*r));
	if (rc < 0)
		goto out;
	job.flow = (char *)spate_flow_name(p.flow);
	if (!o->force)
		r->skipped = drop_loaded(q, &p, job.flow);
	if (p.nin == 0)
		goto out; /* nothing to do */
	job.yaml = flow_yaml(p.flow);
	if (!job.yaml) {
		rc = -ENOMEM;
		goto out;
	}
	p.cut.shard_size =
	    o->shard_size ? o->shard_size : SP_CPLAN_DEFAULT_SHARD_SIZE;
	job_id(job.yaml, &p, o->force, p.cut.shard_size, job.id);
	rc = sp_cplan(p.in, p.nin, &p.cut, &p.shards, &p.nshards, err, errlen);
	if (rc < 0)
		goto out;
	job.origin = (char *)p.origin;
	job.shards = (unsigned)p.nshards;
	job.force = o->force;
	snprintf(r->job, sizeof(r->job), "%s", job.id);
	r->shards = job.shards;
	rc = sp_cjob_state_get(q, job.id, &st, NULL);
	if (rc == 0 && !strcmp(st.state, "published")) {
		r->published = true;
		goto out;
	}
	sp_cjob_state_fini(&st);
	rc = sp_cjob_check_targets(&job, err, errlen);
	if (rc == 0)
		rc = job_records(q, &job, &st);
	if (rc == 0 && (!st.done || strlen(st.done) != job.shards)) {
		/* same files by name, size and mtime, cut otherwise: the
		 * content changed behind an unchanged mtime */
		snprintf(err, errlen,
			 "job %s exists with %zu shards, but its input now "
			 "cuts into %u: a file changed while keeping its size "
			 "and mtime; touch it, or submit with --force",
			 job.id, st.done ? strlen(st.done) : 0, job.shards);
		rc = -EINVAL;
	}
	if (rc == 0 && !strcmp(st.state, "running"))
		rc = queue_tasks(q, &job, &p, &st, &r->queued);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "job %s: cannot queue it: %s", job.id,
			 strerror(-rc));
out:
	sp_cjob_state_fini(&st);
	free(job.yaml);
	plan_fini(&p);
	return rc;
}
