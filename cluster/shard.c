/*
 * Running one shard of a cluster job with the engine.  The job's flow
 * (its YAML, paths already absolute) is loaded through the SDK, its
 * origin pointed at the shard's input file and each file_writer at the
 * shard's folder in the job's staging area with a name template that
 * carries the shard, then run like any flow: the file_writer's atomic
 * commit makes the shard's output appear in its folder all at once.  The
 * run always replaces (force) what an earlier attempt of the shard left
 * there, so a shard that runs twice leaves one copy of its output.
 */
#define _GNU_SOURCE
#include "cluster/shard.h"

#include <errno.h>
#include <inttypes.h>
#include <libgen.h>
#include <sys/stat.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include <spate/spate.h>

#include "core/buf.h"

#define DEFAULT_NAME "{flow}-{stage}-{seq}.{ext}"
#define MAX_STAGES 1024

void sp_cwriters_free(struct sp_cwriter *w, size_t n)
{
	for (size_t i = 0; w && i < n; i++) {
		free(w[i].stage);
		free(w[i].dir);
		free(w[i].name);
	}
	free(w);
}

/* option as a malloc'd string, or def when unset; NULL when out of
 * memory */
static char *config_dup(const struct spate_stage *s, const char *option,
			const char *def)
{
	int len = spate_stage_get_config(s, option, NULL, 0);

	if (len < 0)
		return def ? strdup(def) : NULL;
	char *v = malloc((size_t)len + 1);
	if (v)
		spate_stage_get_config(s, option, v, (size_t)len + 1);
	return v;
}

int sp_cwriters_get(struct spate_flow *flow, struct sp_cwriter **out, size_t *n)
{
	struct spate_stage *st[MAX_STAGES];
	size_t ns = spate_flow_stages(flow, st, MAX_STAGES);
	struct sp_cwriter *w = calloc(ns ? ns : 1, sizeof(*w));

	*out = NULL;
	*n = 0;
	if (!w)
		return -ENOMEM;
	if (ns > MAX_STAGES)
		ns = MAX_STAGES;
	size_t k = 0;
	for (size_t i = 0; i < ns; i++) {
		if (strcmp(spate_stage_type(st[i]), "file_writer") != 0)
			continue;
		w[k].stage = strdup(spate_stage_id(st[i]));
		w[k].dir = config_dup(st[i], "dir", "");
		w[k].name = config_dup(st[i], "name", DEFAULT_NAME);
		char fs[8] = "";
		spate_stage_get_config(st[i], "fsync", fs, sizeof(fs));
		w[k].fsync = strcmp(fs, "false") != 0;
		if (!w[k].stage || !w[k].dir || !w[k++].name) {
			sp_cwriters_free(w, k);
			return -ENOMEM;
		}
	}
	*out = w;
	*n = k;
	return 0;
}

char *sp_cjob_staging_dir(const char *dir, const char *job)
{
	char *a = strdup(dir), *b = strdup(dir), *out = NULL;

	if (a && b) {
		size_t l = strlen(b);
		while (l > 1 && b[l - 1] == '/')
			b[--l] = '\0';
		if (asprintf(&out, "%s/.%s.spate-job-%s", dirname(a),
			     basename(b), job) < 0)
			out = NULL;
	}
	free(a);
	free(b);
	return out;
}

int sp_cshard_template(const char *tmpl, const char *flow, const char *stage,
		       const char *job, unsigned shard, char *out, size_t len,
		       char *err, size_t errlen)
{
	char num[16];
	bool has_shard = strstr(tmpl, "{shard}") != NULL;
	size_t n = 0;

	sp_cshard_name(shard, num, sizeof(num));
	out[0] = '\0';
	while (*tmpl && n + 1 < len) {
		const char *val = NULL;
		size_t skip = 0;
		if (!strncmp(tmpl, "{flow}", 6)) {
			val = flow;
			skip = 6;
		} else if (!strncmp(tmpl, "{stage}", 7)) {
			val = stage;
			skip = 7;
		} else if (!strncmp(tmpl, "{run}", 5)) {
			val = job;
			skip = 5;
		} else if (!strncmp(tmpl, "{shard}", 7)) {
			val = num;
			skip = 7;
		} else if (!has_shard && !strncmp(tmpl, "{seq}", 5)) {
			n += (size_t)snprintf(out + n, len - n, "%s-", num);
			has_shard = true;
			continue;
		}
		if (val) {
			n += (size_t)snprintf(out + n, len - n, "%s", val);
			tmpl += skip;
		} else {
			out[n++] = *tmpl++;
			out[n] = '\0';
		}
	}
	if (n + 1 >= len || out[0] == '{' || out[0] == '[') {
		snprintf(err, errlen,
			 "file_writer '%s': name template \"%s\" cannot be "
			 "used in cluster mode (too long, or it starts with "
			 "{seq}, {ext}, {date} or {lane})",
			 stage, out);
		return -EINVAL;
	}
	return 0;
}

/* Points the writers of flow at shard's folders, with shard names. */
static int aim_writers(struct spate_flow *flow, const struct sp_cjob *job,
		       unsigned shard, char *err, size_t errlen)
{
	struct sp_cwriter *w = NULL;
	size_t n = 0;
	char num[16], name[512];
	int rc = sp_cwriters_get(flow, &w, &n);

	sp_cshard_name(shard, num, sizeof(num));
	for (size_t i = 0; rc == 0 && i < n; i++) {
		char *area = sp_cjob_staging_dir(w[i].dir, job->id),
		     *dir = NULL;
		if (!area || asprintf(&dir, "%s/%s", area, num) < 0) {
			free(area);
			rc = -ENOMEM;
			break;
		}
		free(area);
		rc = sp_cshard_template(w[i].name, job->flow, w[i].stage,
					job->id, shard, name, sizeof(name), err,
					errlen);
		struct spate_stage *s = spate_flow_find_stage(flow, w[i].stage);
		if (rc == 0)
			rc = spate_stage_set_config(s, "dir", dir);
		if (rc == 0)
			rc = spate_stage_set_config(s, "name", name);
		free(dir);
	}
	sp_cwriters_free(w, n);
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "cannot set up the writers: %s",
			 strerror(-rc));
	return rc;
}

/* YAML text for `path`: the one file, or a flow-style list of them in
 * double-quoted scalars. */
static char *path_value(const struct sp_cinput *in, size_t nin)
{
	struct sp_buf b;
	int rc = 0;

	sp_buf_init(&b);
	if (nin == 1)
		return strdup(in[0].path);
	rc = sp_buf_putc(&b, '[');
	for (size_t i = 0; rc == 0 && i < nin; i++) {
		rc = sp_buf_append(&b, i ? ", \"" : "\"", i ? 3 : 1);
		for (const char *p = in[i].path; rc == 0 && *p; p++) {
			if (*p == '"' || *p == '\\')
				rc = sp_buf_putc(&b, '\\');
			rc = rc ? rc : sp_buf_putc(&b, *p);
		}
		rc = rc ? rc : sp_buf_putc(&b, '"');
	}
	rc = rc ? rc : sp_buf_append(&b, "]", 2);
	if (rc < 0) {
		sp_buf_fini(&b);
		return NULL;
	}
	return b.data;
}

/* The shard's local files are still what the submitter cut: same size
 * and mtime (a range of a rewritten file would start mid-record).  The
 * run then trusts them (no hashing read); the reader checks them again
 * at the end of its read. */
static int inputs_unchanged(const struct sp_cinput *in, size_t nin, char *err,
			    size_t errlen)
{
	for (size_t i = 0; i < nin; i++) {
		struct stat st;
		if (!strncmp(in[i].path, "s3://", 5))
			continue;
		if (stat(in[i].path, &st) < 0) {
			snprintf(err, errlen, "%s: %s", in[i].path,
				 strerror(errno));
			return -ENOENT;
		}
		int64_t mt = (int64_t)st.st_mtim.tv_sec * 1000000000 +
			     st.st_mtim.tv_nsec;
		if ((uint64_t)st.st_size != in[i].size || mt != in[i].mtime_ns) {
			snprintf(err, errlen,
				 "%s changed since the job was submitted (size "
				 "%" PRIu64 " -> %" PRIu64 " bytes, or its mtime); "
				 "nothing of this job is published: submit it "
				 "again",
				 in[i].path, in[i].size, (uint64_t)st.st_size);
			return -ESTALE;
		}
	}
	return 0;
}

/* Points the origin at the shard's inputs: its files, or its range. */
static int aim_origin(struct spate_stage *origin, const struct sp_cinput *in,
		      size_t nin)
{
	char *path = path_value(in, nin);
	char num[32];
	int rc = path ? spate_stage_set_config(origin, "path", path) : -ENOMEM;

	free(path);
	if (rc < 0 || nin != 1 || in[0].to == 0)
		return rc;
	snprintf(num, sizeof(num), "%" PRIu64, in[0].from);
	rc = spate_stage_set_config(origin, "range_start", num);
	snprintf(num, sizeof(num), "%" PRIu64, in[0].to);
	rc = rc ? rc : spate_stage_set_config(origin, "range_end", num);
	snprintf(num, sizeof(num), "%" PRIu64, in[0].line);
	return rc ? rc : spate_stage_set_config(origin, "range_line", num);
}

int sp_cshard_run(const struct sp_cjob *job, unsigned shard,
		  const struct sp_cinput *in, size_t nin, unsigned workers,
		  void (*started)(void *arg, struct spate_run *run), void *arg,
		  struct spate_run_status *st, char *err, size_t errlen)
{
	struct spate_flow *flow = NULL;
	struct spate_run *run = NULL;
	/* the submitter fingerprinted the inputs (path, size, mtime) and
	 * the reader checks them while reading: no hashing read first */
	struct spate_run_options opt = {
	    .workers = workers, .force = true, .trust_mtime = true};

	err[0] = '\0';
	memset(st, 0, sizeof(*st));
	int rc = spate_flow_load_string(job->yaml, &flow, err, errlen);
	if (rc < 0)
		return rc;
	struct spate_stage *origin = spate_flow_find_stage(flow, job->origin);
	if (!origin || nin == 0 ||
	    (in[0].path[0] != '/' && strncmp(in[0].path, "s3://", 5))) {
		snprintf(err, errlen,
			 "job %s: no origin '%s' or a relative "
			 "input path '%s'",
			 job->id, job->origin, nin ? in[0].path : "");
		rc = -EINVAL;
		goto out;
	}
	rc = inputs_unchanged(in, nin, err, errlen);
	if (rc == 0)
		rc = aim_origin(origin, in, nin);
	if (rc == 0)
		rc = aim_writers(flow, job, shard, err, errlen);
	if (rc < 0)
		goto out;
	rc = spate_flow_start(flow, &opt, &run, err, errlen);
	if (rc < 0)
		goto out;
	started(arg, run);
	enum spate_run_state end = spate_run_wait(run);
	started(arg, NULL);
	spate_run_status(run, st);
	if (end == SPATE_RUN_STOPPED) {
		rc = -ECANCELED;
		snprintf(err, errlen, "stopped");
	} else if (end != SPATE_RUN_SUCCEEDED && end != SPATE_RUN_SKIPPED) {
		rc = -EIO;
		snprintf(err, errlen, "%s", spate_run_error(run));
	}
	spate_run_destroy(run);
out:
	spate_flow_destroy(flow);
	return rc;
}
