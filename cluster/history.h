/*
 * Load history of cluster jobs, in the JetStream key-value bucket
 * spate_history, so that any host sees what any other loaded: one key
 * per flow and input file (<flow>.<XXH64 of the path, 16 hex>) holding
 * the file's path, size, mtime and the job that loaded it.  A file is
 * "loaded before" when its path, size and mtime match.
 */
#ifndef SPATE_CLUSTER_HISTORY_H
#define SPATE_CLUSTER_HISTORY_H

#include <stdbool.h>
#include <stdint.h>

#include "cluster/job.h"
#include "cluster/jsq.h"

/* Records every input file of job (from its shard records) as loaded.
 * 0 or -errno. */
int sp_chistory_record(struct sp_jsq *q, const struct sp_cjob *job);

/* Whether flow loaded path with this size and mtime before. */
bool sp_chistory_loaded(struct sp_jsq *q, const char *flow, const char *path,
			uint64_t size, int64_t mtime_ns);

#endif
