/*
 * The inputs of one shard of a cluster job, as its task and its shard
 * record carry them: whole files (a shard may group several small ones)
 * or one byte range of a large file, cut on record boundaries by the
 * submitter (plan.c).  In JSON: an array of
 *   {"path": "...", "size": N, "mtime_ns": N, "from": N, "to": N,
 *    "line": N}
 * where to 0 means the whole file, and line numbers the range's first
 * line (1 for a whole file).
 */
#ifndef SPATE_CLUSTER_INPUT_H
#define SPATE_CLUSTER_INPUT_H

#include <stddef.h>
#include <stdint.h>

#include "core/buf.h"

struct sp_cinput {
	char *path;
	uint64_t size;
	int64_t mtime_ns;
	uint64_t from, to; /* to 0: the whole file */
	uint64_t line;	   /* the line number at from */
};

/* Appends in[0..n) as a JSON array.  0 or -ENOMEM. */
int sp_cinputs_json(struct sp_buf *b, const struct sp_cinput *in, size_t n);

/* Parses the array member key of the JSON object obj.  0, -ENOENT (no
 * such member), -EINVAL (not an array of inputs), -ENOMEM. */
int sp_cinputs_parse(const char *obj, const char *key, struct sp_cinput **in,
		     size_t *n);

/* Copies src into *dst (path included).  0 or -ENOMEM. */
int sp_cinput_copy(struct sp_cinput *dst, const struct sp_cinput *src);

void sp_cinputs_free(struct sp_cinput *in, size_t n);

/* A line for people: "/data/a.jsonl", "/data/a.jsonl bytes 0-268435456"
 * or "/data/a.jsonl and 11 more files". */
void sp_cinputs_describe(const struct sp_cinput *in, size_t n, char *out,
			 size_t len);

#endif
