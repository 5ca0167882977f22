/*
 * Cutting a cluster job's input files into shards of about shard_size
 * bytes each: a file larger than that is split into byte ranges that
 * start and end on record boundaries (JSON lines: after a newline; CSV:
 * after a newline outside quotes), and smaller files are grouped, in
 * path order, into shards of about the same size.  A shard is what one
 * engine run of a worker reads, so a job of many small files does not
 * pay an engine start per file, and a job of one huge file still spreads
 * over the workers.  Compressed files, and files whose line ends are not
 * newlines, are not split (they are read whole by one shard).
 */
#ifndef SPATE_CLUSTER_PLAN_H
#define SPATE_CLUSTER_PLAN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "cluster/input.h"

#define SP_CPLAN_DEFAULT_SHARD_SIZE (256ull << 20)
/* most files in one shard: its task stays a small message */
#define SP_CPLAN_MAX_FILES 512

struct sp_cplan_opts {
	uint64_t shard_size;
	bool csv;     /* the reader's format: CSV (else JSON lines) */
	char quote;   /* CSV quote character */
	char delimiter; /* CSV field delimiter */
	uint64_t ignore_lines; /* CSV lines the reader skips at the start */
	bool compressed; /* the reader's compression is not auto/none */
	bool whole_files; /* never split a file (on_error: skip_file) */
};

struct sp_cplan_shard {
	struct sp_cinput *in;
	size_t n;
	uint64_t bytes;
};

/* The shards of files[0..nfiles) (whole files, sorted).  0, or -errno
 * with err (a file that cannot be read). */
int sp_cplan(const struct sp_cinput *files, size_t nfiles,
	     const struct sp_cplan_opts *o, struct sp_cplan_shard **out,
	     size_t *nout, char *err, size_t errlen);
void sp_cplan_free(struct sp_cplan_shard *s, size_t n);

#endif
