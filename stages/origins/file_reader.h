/*
 * file_reader's state, shared by its setup and workers (file_reader.c) and
 * its reader thread (file_reader_read.c).  Nothing else includes this.
 */
#ifndef SPATE_STAGES_ORIGINS_FILE_READER_H
#define SPATE_STAGES_ORIGINS_FILE_READER_H

#include <errno.h>
#include <glob.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"
#include "core/xxh64.h"
#include "core/ring.h"
#include "stage_api/stage.h"
#include "codec/csv.h"
#include "io/fileio.h"
#include "io/s3.h"
#include "codec/jsonl.h"
#include "io/decomp.h"
#include "spate/catalog.h"
#include "stages/format.h"

struct fr_column {
	char *name;
	int type; /* enum sp_csv_type */
};

/* the `compression` choices */
enum fr_compression {
	FR_COMP_AUTO = 0,
	FR_COMP_NONE,
	FR_COMP_ZSTD,
	FR_COMP_GZIP,
	FR_COMP_LZ4,
};

/* The decoder a `compression` choice names (NONE for auto and none). */
static inline enum sp_decomp_kind fr_decomp_of(int compression)
{
	static const enum sp_decomp_kind kinds[] = {
	    [FR_COMP_AUTO] = SP_DECOMP_NONE, [FR_COMP_NONE] = SP_DECOMP_NONE,
	    [FR_COMP_ZSTD] = SP_DECOMP_ZSTD, [FR_COMP_GZIP] = SP_DECOMP_GZIP,
	    [FR_COMP_LZ4] = SP_DECOMP_LZ4,
	};

	return kinds[compression];
}

struct fr_config {
	struct sp_strlist path;
	struct sp_format_opts fmt;
	int compression; /* enum fr_compression */
	int64_t ignore_lines;
	struct sp_objlist schema;
	uint64_t chunk_size;
	char *stage;
	int on_error; /* enum fr_on_error */
	/* a byte range of one file (a cluster shard); range_end 0: none */
	int64_t range_start, range_end, range_line;
};

/* Whether the stage reads a byte range of its one file. */
static inline bool fr_has_range(const struct fr_config *cfg)
{
	return cfg->range_end > 0;
}

enum fr_on_error {
	FR_CONTINUE = 0,
	FR_SKIP_FILE,
	FR_ABORT,
};

struct fr_file {
	char *path;    /* as opened */
	char *display; /* as shown in messages */
	uint64_t size;
	int64_t mtime;	    /* whole seconds (load history) */
	struct timespec mtim; /* checked at the end of the read */
	struct timespec ctim; /* the same, when the read takes the hash */
	uint64_t dev, ino;
	bool regular;	  /* a regular file: checked for changes */
	bool pseudo;	  /* made when read (/proc, /sys): size 0, not checked */
	bool hashed;	  /* content holds XXH64 of its bytes before the run */
	uint64_t content;
	struct sp_csv_parser csv; /* per file: its header */
	bool csv_ready;
	bool loaded;  /* in the load history already: skipped */
	bool bad;     /* on_error: skip_file found a bad record */
	bool done;    /* read to its end (reader thread) */
	uint64_t xxh64; /* of its bytes, once done */
	uint64_t etag_hash; /* S3: XXH64 of its ETag */
	_Atomic uint64_t records; /* parsed without error (workers) */
};

struct fr_buf {
	char *data;
	size_t cap;
};

struct fr_worker {
	struct sp_jsonl_parser jsonl;
};

struct fr_state {
	const struct fr_config *cfg;
	const struct sp_stage_ctx *ctx;
	enum fr_on_error on_error;
	struct spate_catalog *catalog; /* with `stage` */
	char *root;		       /* the stage's root folder */
	struct sp_s3 *s3;	       /* input on S3 (file_reader_s3.c) */
	char *s3_bucket, *s3_prefix;   /* prefix "" or ending in '/' */
	uint32_t nloaded;	       /* files skipped: loaded before */
	/* the content hashes are the read's to take (fr_finish_hash) unless
	 * the run id is needed at start (fr_complete_identity) */
	bool hash_by_read;
	atomic_uint nbad, nread;       /* skipped (skip_file), read */
	bool csv;
	struct sp_csv_column *schema;
	struct fr_file *files;
	uint32_t nfiles;
	uint64_t total_size;

	/* reader thread */
	struct sp_io *io;
	uint32_t cur_file;
	void *rd; /* sp_io_reader or sp_s3_reader (fr_src_*) */
	struct sp_decomp *dec; /* of the last compressed file */
	bool zst;              /* the current file is compressed */
	bool text_checked;     /* its first block was checked for NULs */
	bool file_started; /* preamble handled */
	bool first_block;  /* the next block read starts the file */
	uint64_t line;	   /* next line number in the current file */
	uint64_t offset;   /* byte offset of the carry in the file */
	uint64_t raw_read; /* bytes of the file read (before decoding) */
	char *carry;	   /* bytes after the last record boundary */
	size_t carry_len, carry_cap;
	const char *blk; /* current io block not yet consumed */
	size_t blk_len, blk_used;
	bool eof;
	bool eol_known;  /* a CSV file's line ends were looked at */
	bool cr_eol;     /* they are lone CRs, read as newlines */
	struct fr_buf *bufs;
	unsigned nbufs;
	/* the chunk buffers' first memory, one huge-page region in slices
	 * (fr_pooled); a buffer that must grow leaves it for malloc's */
	char *pool;
	size_t pool_len;
	struct sp_ring free_bufs;
	XXH64_state_t hash; /* of the current file's bytes */
	/* on_error: skip_file */
	struct sp_jsonl_parser scan_jsonl;
	struct sp_batch *scan;
};

/* Whether p is a slice of fr's pool region (not a buffer of its own). */
static inline bool fr_pooled(const struct fr_state *fr, const char *p)
{
	return fr->pool && p >= fr->pool && p < fr->pool + fr->pool_len;
}

/* The files of the `path` option, in order, each once
 * (file_reader_list.c).  0 or -errno with err naming the option. */
int fr_expand_paths(struct fr_state *fr, char *err, size_t errlen);
/* A zeroed entry added at the end of fr->files; NULL when out of
 * memory. */
struct fr_file *fr_new_file(struct fr_state *fr);

/* The reader thread's side (file_reader_read.c): the origin's next() and
 * release() callbacks. */
int fr_next(void *state, struct sp_chunk *out, char *err, size_t errlen);
void fr_release(void *state, struct sp_chunk *c);

/* Input on S3 and the block source (file_reader_s3.c). */
bool fr_is_s3_url(const char *p);
int fr_s3_open_stage(struct fr_state *fr, const struct spate_catalog_stage *s,
		     char *err, size_t errlen);
int fr_s3_open_url(struct fr_state *fr, const char *url, char *err,
		   size_t errlen);
int fr_s3_expand(struct fr_state *fr, char *err, size_t errlen);
void fr_s3_close(struct fr_state *fr);
int fr_src_open(struct fr_state *fr, const struct fr_file *f, char *err,
		size_t errlen);
int fr_src_next(struct fr_state *fr, const struct fr_file *f,
		const char **data, size_t *len, char *err, size_t errlen);
void fr_src_release(struct fr_state *fr, const char *data);
void fr_src_close(struct fr_state *fr);
/* What the load history keeps as the file's hash, once read. */
uint64_t fr_src_digest(struct fr_state *fr, const struct fr_file *f);
/* f was read whole (f->xxh64 set): when the read takes the content
 * hashes, f's is that (file_reader.c). */
void fr_finish_hash(struct fr_state *fr, struct fr_file *f);
/* Whether f's content hash is the read's to take (not taken before the
 * run): its end checks its ctime too, which no one can set back. */
bool fr_hash_left_to_read(const struct fr_state *fr, const struct fr_file *f);

#endif
