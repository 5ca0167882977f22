/*
 * file_writer's state, shared by its setup and commit (file_writer.c),
 * its workers' encoding (file_writer_encode.c) and its writer thread
 * (file_writer_thread.c).  Nothing else includes this.
 */
#ifndef SPATE_STAGES_DESTINATIONS_FILE_WRITER_H
#define SPATE_STAGES_DESTINATIONS_FILE_WRITER_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/lifo.h"
#include "core/ring.h"
#include "stage_api/stage.h"
#include "codec/csv.h"
#include "config/options.h"
#include "io/fileio.h"
#include "io/zstd_codec.h"
#include "stages/format.h"

#define BLOCKS_PER_WORKER 4
#define FW_DEFAULT_NAME "{flow}-{stage}-{seq}.{ext}"
#define FW_STREAM_NAME "{flow}-{stage}-{run}-{seq}.{ext}"
/* longest file name under dir, partition folders included */
#define FW_NAME_MAX 1024
/* folder levels of partition_by */
#define FW_PART_PATHS_MAX 8

struct fw_config {
	char *dir;
	struct sp_format_opts fmt;
	int compression; /* enum fw_compression */
	int64_t level;
	uint64_t max_file_bytes;
	int64_t max_file_records;
	char *name;
	bool ordered;
	int commit; /* enum fw_commit */
	uint64_t frame_size;
	bool fsync;
	char *stage;
	struct sp_pathlist partition_by; /* parsed at binding */
	int64_t max_open_partitions;
};

struct fw_worker;

struct block {
	struct fw_worker *owner;
	struct block *next; /* pending list of one seq */
	uint64_t seq;
	uint64_t records;
	bool last; /* last block of its seq */
	struct sp_buf data;
	const struct sp_buf *header; /* CSV header line of the owner */
	struct sp_buf part; /* partitioned: its folder "a=1/b=x/" + NUL */
};

struct fw_worker {
	struct fw_state *fw;
	struct sp_buf enc;
	uint64_t enc_records;
	struct sp_zstd_enc *z;
	struct sp_csv_encoder csv;
	struct sp_buf header; /* CSV header line, once columns are known */
	/* blocks the writer thread gave back: the last one back is the
	 * next sealed, so a worker reuses the few its pace needs */
	struct sp_lifo free;
	struct block blocks[BLOCKS_PER_WORKER];
	/* how many huge-page rooms enc moved into (file_writer_encode.c);
	 * they may have traded places with the blocks' since, each an
	 * sp_buf marked huge */
	unsigned nroom;
	/* partitioned output (file_writer_part.c) */
	struct sp_buf part;	 /* the folder of what enc holds */
	struct sp_buf part_keys; /* each record's folder, this batch */
	struct key_ref *part_refs;
	uint32_t *part_sel;
	uint32_t part_cap;
};

/* A folder of a partitioned writer and, while another is being written
 * to, its open file (file_writer_thread.c swaps it with fw_state's). */
struct fw_part {
	char *key; /* "a=1/b=x/" */
	uint64_t used;
	struct sp_io_writer *cur;
	char cur_name[FW_NAME_MAX];
	uint64_t cur_records, cur_bytes;
	bool file_open;
};

struct closed_file {
	char *name;
	uint64_t records, bytes;
};

struct fw_state {
	const struct fw_config *cfg;
	const struct sp_stage_ctx *ctx;
	char *dir;
	char *name; /* the file name template in use */
	bool zstd, csv, publish_each;
	bool holds; /* the target holds this run's output: write nothing */
	struct sp_commit *commit;
	struct fw_s3 *s3; /* dir is on S3 (file_writer_s3.c) */
	bool writing;	  /* started, not holding: the commit phases run */
	struct sp_ring queue;
	pthread_t writer;
	bool writer_running;
	struct sp_zstd_enc *header_z; /* writer thread: CSV header frames */
	struct sp_buf header_frame;

	/* writer thread */
	struct sp_io *io;
	struct sp_io_writer *cur;
	bool file_open;	   /* a file is being written (cur, or on S3) */
	char s3msg[384]; /* the S3 error of the last failed call */
	char cur_name[FW_NAME_MAX];
	uint64_t cur_records, cur_bytes;
	uint64_t file_seq;
	uint64_t next_seq;
	struct block **pending_head, **pending_tail;
	uint64_t pending_cap;
	int error;
	char errmsg[512];
	struct closed_file *files;
	uint32_t nfiles, cap_files;

	/* partitioned output: the paths, their folder names, and the open
	 * folders (at most cfg->max_open_partitions; the least recently
	 * used one's file is closed to open another) */
	const struct sp_path *part_paths; /* the config's */
	char **part_names;
	uint32_t npart;
	struct fw_part *parts;
	uint32_t nparts;
	int64_t active; /* index into parts of the folder written, or -1 */
	uint64_t clock;

	_Atomic uint64_t bytes_written, files_published, records_written;
	_Atomic uint64_t bytes_encoded; /* before compression */
};

/* file_writer.c: whether manifest m lists this run's output (its run id,
 * or with {run} in the name (adds) a file named with it) */
struct sp_commit_manifest;
bool fw_manifest_holds_run(const struct sp_commit_manifest *m,
			   const char *run_id, bool adds);

/* file_writer_s3.c: dir on S3 (`stage:` an S3 stage, or s3://) */
struct fw_s3;
bool fw_s3_wanted(const struct fw_config *cfg);
int fw_s3_create(struct fw_state *fw, char *err, size_t errlen);
void fw_s3_free(struct fw_state *fw);
int fw_s3_start(struct fw_state *fw, char *err, size_t errlen);
bool fw_s3_taken(const struct fw_state *fw, const char *name);
int fw_s3_open(struct fw_state *fw, const char *name, char *msg, size_t len);
/* Partitioned output: swaps the file being written with the one kept in
 * slot (0 .. nslots, the same nslots every call). */
int fw_s3_swap(struct fw_state *fw, size_t slot, size_t nslots);
int fw_s3_append(struct fw_state *fw, const void *data, size_t len,
		 char *msg, size_t msglen);
int fw_s3_close_file(struct fw_state *fw, const char *name, uint64_t records,
		     uint64_t bytes, char *msg, size_t msglen);
int fw_s3_prepare(struct fw_state *fw, char *err, size_t errlen);
int fw_s3_finish(struct fw_state *fw, bool ok, char *err, size_t errlen);
size_t fw_s3_files(const struct fw_state *fw);

/* file_writer_part.c: partitioned output, the worker side */
int fw_part_setup(struct fw_state *fw, char *err, size_t errlen);
void fw_part_fini(struct fw_state *fw);
int fw_part_escape(const char *s, size_t n, struct sp_buf *out);
int fw_part_batch(struct fw_state *fw, struct fw_worker *w,
		  struct sp_batch *b, const uint32_t *sel, uint32_t n);

/* file_writer_thread.c */
void *fw_writer_main(void *arg);
void fw_emit_closed(struct fw_state *fw, const char *name, uint64_t records,
		    uint64_t bytes);

/* file_writer_encode.c: the worker side of the stage */
void *fw_worker_create(void *state, unsigned worker);
void fw_worker_destroy(void *state, void *wstate);
int fw_stage_batch(void *state, void *wstate, struct sp_batch *b,
		   const uint32_t *sel, uint32_t n);
int64_t fw_batch_end(void *state, void *wstate, uint64_t seq);
int64_t fw_worker_flush(void *state, void *wstate);
/* encodes records sel[0..n) of b into the worker's block */
int fw_encode(struct fw_state *fw, struct fw_worker *w, struct sp_batch *b,
	      const uint32_t *sel, uint32_t n);
/* what the worker encodes next goes to folder key (sealing what it holds
 * for another folder) */
int fw_worker_use_part(struct fw_worker *w, uint64_t seq, const char *key,
		       size_t len);

#endif
