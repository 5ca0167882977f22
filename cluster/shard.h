/*
 * One shard of a cluster job: the job's flow with its origin reading the
 * shard's inputs (files, or a byte range of one: input.h) and each
 * file_writer writing into the job's staging area,
 * run by the engine through the SDK; and where that staging area is.
 *
 * For a file_writer whose dir is /data/out, the job's staging area is
 * /data/.out.spate-job-<job>/ and shard 3 commits into its folder 00003
 * there (by the engine's own atomic commit, replacing what an earlier
 * attempt of the same shard committed).  Output names carry the shard:
 * {shard} in the name template becomes 00003 (inserted before {seq} when
 * the template has none), {run} the job id.
 */
#ifndef SPATE_CLUSTER_SHARD_H
#define SPATE_CLUSTER_SHARD_H

#include <stdbool.h>
#include <stddef.h>

#include "cluster/input.h"
#include "cluster/job.h"

struct spate_flow;
struct spate_run;
struct spate_run_status;

struct sp_cwriter {
	char *stage;
	char *dir;  /* the target, absolute in a job's flow */
	char *name; /* the name template */
	bool fsync; /* its fsync option */
};

/* The file_writers of flow.  0 or -errno (-ENOMEM). */
int sp_cwriters_get(struct spate_flow *flow, struct sp_cwriter **out,
		    size_t *n);
void sp_cwriters_free(struct sp_cwriter *w, size_t n);

/* <parent>/.<base>.spate-job-<job> for target dir; NULL when out of
 * memory.  Free it. */
char *sp_cjob_staging_dir(const char *dir, const char *job);

/* The name template tmpl for shard `shard` of job: {flow}, {stage},
 * {run} and {shard} expanded.  -EINVAL (with err) when the result would
 * start with '{'. */
int sp_cshard_template(const char *tmpl, const char *flow, const char *stage,
		       const char *job, unsigned shard, char *out, size_t len,
		       char *err, size_t errlen);

/* Runs shard `shard` of job over its inputs in[0..nin) with `workers`
 * threads (0: the CPUs).  started(arg, run) is called once the run is
 * going and started(arg, NULL) before it is freed, so that another thread
 * may stop it meanwhile.  0 (committed into the staging area, *st filled)
 * or -errno with the reason in err: -ECANCELED when stopped, -EBUSY when
 * another run of the shard holds its folder. */
int sp_cshard_run(const struct sp_cjob *job, unsigned shard,
		  const struct sp_cinput *in, size_t nin, unsigned workers,
		  void (*started)(void *arg, struct spate_run *run), void *arg,
		  struct spate_run_status *st, char *err, size_t errlen);

#endif
