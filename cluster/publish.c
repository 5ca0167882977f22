/*
 * Publishing a cluster job: the shard folders of each file_writer's
 * staging area are gathered into one commit of its target (hard links,
 * so the shard folders stay as they are until the job is published), all
 * targets prepare first and then finish, as the destinations of a single
 * run do.  A shard folder is read through one open descriptor under a
 * shared flock: a late attempt of the same shard that commits meanwhile
 * holds the exclusive lock, so the job takes one whole version of each
 * shard's output or waits.
 */
#define _GNU_SOURCE
#include "cluster/publish.h"

#include <errno.h>
#include <fcntl.h>
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <unistd.h>

#include <spate/spate.h>

#include "cluster/shard.h"
#include "io/commit.h"

struct target {
	struct sp_cwriter *w;
	struct sp_commit *c;
	bool done; /* already holds the job */
};

static int load_writers(const struct sp_cjob *job, struct sp_cwriter **w,
			size_t *n, char *err, size_t errlen)
{
	struct spate_flow *flow = NULL;
	int rc = spate_flow_load_string(job->yaml, &flow, err, errlen);

	if (rc == 0)
		rc = sp_cwriters_get(flow, w, n);
	spate_flow_destroy(flow);
	return rc;
}

/* 1 when dir already holds job's output, 0 when the job may publish
 * there, -EEXIST (err) when not. */
static int target_state(const struct sp_cjob *job, const struct sp_cwriter *w,
			char *err, size_t errlen)
{
	struct sp_commit_manifest *m = NULL;
	int rc = sp_commit_manifest_read(w->dir, &m);

	if (rc == -ENOENT)
		return 0;
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s/%s: %s", w->dir,
			 SP_COMMIT_MANIFEST, strerror(-rc));
		return rc;
	}
	bool same = m->run_id && !strcmp(m->run_id, job->id);
	sp_commit_manifest_free(m);
	if (same)
		return 1;
	if (!job->force && !strstr(w->name, "{run}")) {
		snprintf(err, errlen,
			 "%s holds the committed output of another run; use "
			 "--force to replace it, another dir, or {run} in the "
			 "name template to add files beside it",
			 w->dir);
		return -EEXIST;
	}
	return 0;
}

int sp_cjob_check_targets(const struct sp_cjob *job, char *err, size_t errlen)
{
	struct sp_cwriter *w = NULL;
	size_t n = 0;
	int rc = load_writers(job, &w, &n, err, errlen);

	for (size_t i = 0; rc == 0 && i < n; i++)
		rc = target_state(job, &w[i], err, errlen) < 0 ? -EEXIST : 0;
	sp_cwriters_free(w, n);
	return rc;
}

/* Adds the files shard folder `dir` committed to c. */
static int add_shard(struct sp_commit *c, const char *dir, char *err,
		     size_t errlen)
{
	struct sp_commit_manifest *m = NULL;
	int fd = open(dir, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	int rc = 0;

	if (fd < 0 || flock(fd, LOCK_SH | LOCK_NB) < 0) {
		rc = -errno;
		snprintf(err, errlen, "shard output %s: %s", dir,
			 rc == -EWOULDBLOCK ? "being written" : strerror(-rc));
		if (fd >= 0)
			close(fd);
		return rc == -EWOULDBLOCK ? -EBUSY : rc;
	}
	rc = sp_commit_manifest_read_at(fd, dir, &m);
	for (size_t i = 0; rc == 0 && i < m->nfiles; i++) {
		const struct sp_commit_file *f = &m->files[i];
		const char *staged = sp_commit_staging_path(c, f->name);
		if (!staged) {
			rc = -EINVAL;
			break;
		}
		unlink(staged);
		if (linkat(fd, f->name, AT_FDCWD, staged, 0) < 0)
			rc = -errno;
		else
			rc = sp_commit_add(c, f->name, f->records, f->bytes,
					   false);
		if (rc < 0)
			snprintf(err, errlen, "cannot take %s/%s: %s", dir,
				 f->name, strerror(-rc));
	}
	if (rc < 0 && !err[0])
		snprintf(err, errlen, "shard output %s: %s", dir,
			 strerror(-rc));
	sp_commit_manifest_free(m);
	close(fd);
	return rc;
}

static int gather(const struct sp_cjob *job, struct target *t, char *err,
		  size_t errlen)
{
	char *area = sp_cjob_staging_dir(t->w->dir, job->id);
	int rc = area ? sp_commit_begin(t->w->dir, job->flow, t->w->stage,
					job->id, &t->c)
		      : -ENOMEM;

	if (rc < 0) {
		snprintf(err, errlen, "cannot prepare %s: %s", t->w->dir,
			 rc == -EBUSY ? "another run is writing there"
				      : strerror(-rc));
		free(area);
		return rc;
	}
	sp_commit_set_replace(t->c, job->force);
	sp_commit_set_durable(t->c, t->w->fsync);
	for (unsigned s = 0; rc == 0 && s < job->shards; s++) {
		char num[16], *dir = NULL;
		sp_cshard_name(s, num, sizeof(num));
		if (asprintf(&dir, "%s/%s", area, num) < 0)
			return free(area), -ENOMEM;
		rc = add_shard(t->c, dir, err, errlen);
		free(dir);
	}
	free(area);
	return rc;
}

int sp_cjob_publish(const struct sp_cjob *job, char *err, size_t errlen)
{
	struct sp_cwriter *w = NULL;
	size_t n = 0;
	err[0] = '\0';
	int rc = load_writers(job, &w, &n, err, errlen);
	struct target *t = calloc(n ? n : 1, sizeof(*t));

	if (!t)
		rc = rc ? rc : -ENOMEM;
	for (size_t i = 0; rc == 0 && i < n; i++) {
		t[i].w = &w[i];
		int st = target_state(job, &w[i], err, errlen);
		if (st < 0)
			rc = st;
		else if (st == 1)
			t[i].done = true;
		else
			rc = gather(job, &t[i], err, errlen);
	}
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!t[i].done && (rc = sp_commit_prepare(t[i].c, job->force)))
			snprintf(err, errlen, "cannot commit %s: %s", w[i].dir,
				 strerror(-rc));
	for (size_t i = 0; rc == 0 && i < n; i++)
		if (!t[i].done && (rc = sp_commit_finish(t[i].c, job->force)))
			snprintf(err, errlen, "cannot publish %s: %s", w[i].dir,
				 strerror(-rc));
	for (size_t i = 0; t && i < n; i++)
		sp_commit_destroy(t[i].c);
	free(t);
	sp_cwriters_free(w, n);
	return rc;
}

static int rm_entry(const char *path, const struct stat *sb, int flag,
		    struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	remove(path);
	return 0;
}

void sp_cjob_cleanup(const struct sp_cjob *job)
{
	struct sp_cwriter *w = NULL;
	size_t n = 0;
	char err[256];

	if (load_writers(job, &w, &n, err, sizeof(err)) < 0)
		return;
	for (size_t i = 0; i < n; i++) {
		char *area = sp_cjob_staging_dir(w[i].dir, job->id);
		if (area)
			nftw(area, rm_entry, 16, FTW_DEPTH | FTW_PHYS);
		free(area);
	}
	sp_cwriters_free(w, n);
}
