/*
 * The last step of a cluster job: once every shard has committed into
 * the job's staging area, each file_writer's target gets one new version
 * holding the files of all shards (and what it held before, by the same
 * rules as a single run: kept without --force unless the run would
 * clash, replaced with it) with one _manifest.json whose run_id is the
 * job id, published by the engine's atomic commit.  Publishing again is
 * harmless: a target whose manifest already names the job is left alone.
 */
#ifndef SPATE_CLUSTER_PUBLISH_H
#define SPATE_CLUSTER_PUBLISH_H

#include <stddef.h>

#include "cluster/job.h"

/* 0, or -errno with the reason in err: -EBUSY when a shard folder is
 * being written right now (try again later), -EEXIST when a target holds
 * the output of another run and the job may not add to it or replace it,
 * -ENOENT when a shard's output is missing. */
int sp_cjob_publish(const struct sp_cjob *job, char *err, size_t errlen);

/* Checks, before any task is sent, that the job could publish into its
 * targets (the -EEXIST case above).  0 or -errno with err. */
int sp_cjob_check_targets(const struct sp_cjob *job, char *err, size_t errlen);

/* Removes the job's staging areas (after publication). */
void sp_cjob_cleanup(const struct sp_cjob *job);

#endif
