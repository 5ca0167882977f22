/*
 * file_writer: the staging writer.  Workers encode their records (JSON
 * lines or CSV) and compress each block as one independent, checksummed
 * zstd frame with their own reused context; finished blocks go through a
 * ring to this stage's writer thread, which appends them to rolling files
 * with io_uring (or read/pwrite), puts them back in input order when
 * `ordered: true`, and returns every block to the worker that owns it.
 * Files are written into a hidden staging directory and published
 * atomically with a manifest (io/commit.h); a rerun over the same input
 * sees the manifest and skips, or replaces with --force.  When this run's
 * output is in the target already but the run goes on (another
 * destination lacks its output), the writer keeps what the target holds
 * and takes its records without writing them.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "core/ring.h"
#include "stage_api/stage.h"
#include "io/commit.h"
#include "codec/csv.h"
#include "io/fileio.h"
#include "codec/jsonl.h"
#include "io/zstd_codec.h"
#include "spate/catalog.h"

#define BLOCKS_PER_WORKER 4
#define FW_DEFAULT_NAME "{flow}-{stage}-{seq}.{ext}"
#define FW_STREAM_NAME "{flow}-{stage}-{run}-{seq}.{ext}"

struct fw_config {
	char *dir;
	char *format;
	char *compression;
	int64_t level;
	uint64_t max_file_bytes;
	int64_t max_file_records;
	char *name;
	bool ordered;
	char *commit;
	char delimiter;
	char quote;
	bool header;
	uint64_t frame_size;
	bool fsync;
	char *stage;
};

static const char *const formats[] = {"jsonl", "csv", NULL};
static const char *const compressions[] = {"zstd", "none", NULL};
static const char *const commits[] = {"run", "file", NULL};

static const struct sp_option fw_options[] = {
	{.name = "dir", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct fw_config, dir),
	 .help = "target directory (relative to the flow file's folder); "
		 "created when missing"},
	{.name = "format", .type = SP_OPT_ENUM, .def = "jsonl",
	 .choices = formats, .offset = offsetof(struct fw_config, format),
	 .help = "record format of the files"},
	{.name = "compression", .type = SP_OPT_ENUM, .def = "zstd",
	 .choices = compressions,
	 .offset = offsetof(struct fw_config, compression),
	 .help = "zstd: independent checksummed frames; none: plain text"},
	{.name = "level", .type = SP_OPT_INT, .def = "1", .bounded = true,
	 .min = -7, .max = 19, .offset = offsetof(struct fw_config, level),
	 .help = "zstd compression level"},
	{.name = "max_file_bytes", .type = SP_OPT_SIZE, .def = "1G",
	 .bounded = true, .min = 0, .max = 1e15,
	 .offset = offsetof(struct fw_config, max_file_bytes),
	 .help = "start a new file before one would pass this size (0: no "
		 "limit); files roll on block boundaries"},
	{.name = "max_file_records", .type = SP_OPT_INT, .def = "0",
	 .bounded = true, .min = 0, .max = 1e15,
	 .offset = offsetof(struct fw_config, max_file_records),
	 .help = "start a new file before one would pass this many records "
		 "(0: no limit); a file never holds more"},
	{.name = "name", .type = SP_OPT_STRING,
	 .def = FW_DEFAULT_NAME,
	 .offset = offsetof(struct fw_config, name),
	 .help = "file name template: {flow} {stage} {seq} (000000..) {run} "
		 "{date} (YYYYMMDD, UTC) {ext} (jsonl.zst, csv ...); over "
		 "stdin it needs {run} (the default then gets -{run} before "
		 "-{seq})"},
	{.name = "ordered", .type = SP_OPT_BOOL, .def = "false",
	 .offset = offsetof(struct fw_config, ordered),
	 .help = "write records in input order (byte-identical output for "
		 "the same input and configuration)"},
	{.name = "commit", .type = SP_OPT_ENUM, .def = "run", .choices = commits,
	 .offset = offsetof(struct fw_config, commit),
	 .help = "run: publish all files at once when the run succeeds; "
		 "file: publish each file when it is closed (a run that fails "
		 "or is killed takes them back)"},
	{.name = "delimiter", .type = SP_OPT_CHAR, .def = ",",
	 .offset = offsetof(struct fw_config, delimiter),
	 .help = "CSV field delimiter"},
	{.name = "quote", .type = SP_OPT_CHAR, .def = "\"",
	 .offset = offsetof(struct fw_config, quote),
	 .help = "CSV quote character"},
	{.name = "header", .type = SP_OPT_BOOL, .def = "true",
	 .offset = offsetof(struct fw_config, header),
	 .help = "CSV: write a header line at the top of each file"},
	{.name = "frame_size", .type = SP_OPT_SIZE, .def = "1M", .bounded = true,
	 .min = 4096, .max = 1 << 30,
	 .offset = offsetof(struct fw_config, frame_size),
	 .help = "input bytes per zstd frame (blocks end on records)"},
	{.name = "fsync", .type = SP_OPT_BOOL, .def = "true",
	 .offset = offsetof(struct fw_config, fsync),
	 .help = "fsync files and directories when publishing (false: "
		 "still atomic for readers, but a crash can lose the output)"},
	{.name = "stage", .type = SP_OPT_STRING,
	 .offset = offsetof(struct fw_config, stage),
	 .help = "catalog stage (`spate stage create-local`): `dir` is then "
		 "relative to its root and may not leave it"},
	{0},
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
};

struct fw_worker {
	struct fw_state *fw;
	struct sp_buf enc;
	uint64_t enc_records;
	struct sp_zstd_enc *z;
	struct sp_csv_encoder csv;
	struct sp_buf header; /* CSV header line, once columns are known */
	struct sp_ring free;
	struct block blocks[BLOCKS_PER_WORKER];
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
	struct sp_ring queue;
	pthread_t writer;
	bool writer_running;
	struct sp_zstd_enc *header_z; /* writer thread: CSV header frames */
	struct sp_buf header_frame;

	/* writer thread */
	struct sp_io *io;
	struct sp_io_writer *cur;
	char cur_name[512];
	uint64_t cur_records, cur_bytes;
	uint64_t file_seq;
	uint64_t next_seq;
	struct block **pending_head, **pending_tail;
	uint64_t pending_cap;
	int error;
	char errmsg[512];
	struct closed_file *files;
	uint32_t nfiles, cap_files;

	_Atomic uint64_t bytes_written, files_published, records_written;
	_Atomic uint64_t bytes_encoded; /* before compression */
};

/* `stage: NAME`: dir under the catalog stage's root, refused when it
 * would leave it. */
static int stage_dir(const struct fw_config *cfg,
		     const struct sp_stage_ctx *ctx, char **dir, char *err,
		     size_t errlen)
{
	struct spate_catalog *c = NULL;
	char *root = NULL, msg[1024] = "";
	const char *opt = "stage";
	int rc = spate_catalog_open(ctx->catalog, &c, msg, sizeof(msg));

	if (rc == 0)
		rc = spate_catalog_local_root(c, cfg->stage, &root, msg,
					      sizeof(msg));
	if (rc == 0) {
		opt = "dir";
		rc = spate_catalog_check_path(root, cfg->stage, cfg->dir, msg,
					      sizeof(msg));
	}
	if (rc == 0 && asprintf(dir, "%s/%s", root, cfg->dir) < 0) {
		*dir = NULL;
		rc = -ENOMEM;
	}
	if (rc && rc != -ENOMEM)
		snprintf(err, errlen, "option '%s': %s", opt, msg);
	free(root);
	spate_catalog_close(c);
	return rc;
}

/* The name template: over a stream (every run new input) it needs {run},
 * which the default gets. */
static int choose_name(struct fw_state *fw, char *err, size_t errlen)
{
	const char *name = fw->cfg->name;

	if (fw->ctx->streaming && !strstr(name, "{run}")) {
		if (strcmp(name, FW_DEFAULT_NAME)) {
			snprintf(err, errlen,
				 "option 'name': \"%s\" has no {run}: the "
				 "flow reads a stream (stdin), new input every "
				 "run, so each run adds its own files; put {run} "
				 "in the name (e.g. \"%s\")",
				 name, FW_STREAM_NAME);
			return -EINVAL;
		}
		name = FW_STREAM_NAME;
	}
	fw->name = strdup(name);
	return fw->name ? 0 : -ENOMEM;
}

static int fw_create(const void *config, const struct sp_stage_ctx *ctx,
		     void **state, char *err, size_t errlen)
{
	const struct fw_config *cfg = config;
	struct fw_state *fw = calloc(1, sizeof(*fw));

	if (!fw)
		return -ENOMEM;
	fw->cfg = cfg;
	fw->ctx = ctx;
	fw->zstd = !strcmp(cfg->compression, "zstd");
	fw->csv = !strcmp(cfg->format, "csv");
	fw->publish_each = !strcmp(cfg->commit, "file");
	if (cfg->stage) {
		int rc = stage_dir(cfg, ctx, &fw->dir, err, errlen);
		if (rc) {
			free(fw);
			return rc;
		}
	} else if (cfg->dir[0] == '/') {
		fw->dir = strdup(cfg->dir);
	} else if (asprintf(&fw->dir, "%s/%s", ctx->flow_dir, cfg->dir) < 0) {
		fw->dir = NULL;
	}
	if (!fw->dir) {
		free(fw);
		return -ENOMEM;
	}
	int rc = choose_name(fw, err, errlen);
	if (rc) {
		free(fw->dir);
		free(fw);
		return rc;
	}
	if (!strstr(cfg->name, "{seq}")) {
		snprintf(err, errlen,
			 "option 'name': \"%s\" has no {seq}: rolled files "
			 "would get the same name",
			 cfg->name);
		free(fw->name);
		free(fw->dir);
		free(fw);
		return -EINVAL;
	}
	*state = fw;
	return 0;
}

/* ---- file names ---------------------------------------------------------- */

static void expand_name(const struct fw_state *fw, uint64_t seq, char *out,
			size_t len)
{
	const char *t = fw->name;
	size_t n = 0;
	char tmp[64];

	while (*t && n + 1 < len) {
		const char *val = NULL;
		size_t skip = 0;
		if (!strncmp(t, "{flow}", 6)) {
			val = fw->ctx->flow;
			skip = 6;
		} else if (!strncmp(t, "{stage}", 7)) {
			val = fw->ctx->id;
			skip = 7;
		} else if (!strncmp(t, "{lane}", 6)) {
			val = fw->ctx->id;
			skip = 6;
		} else if (!strncmp(t, "{run}", 5)) {
			val = fw->ctx->run_id;
			skip = 5;
		} else if (!strncmp(t, "{seq}", 5)) {
			snprintf(tmp, sizeof(tmp), "%06llu",
				 (unsigned long long)seq);
			val = tmp;
			skip = 5;
		} else if (!strncmp(t, "{date}", 6)) {
			time_t now = time(NULL);
			struct tm tm;
			gmtime_r(&now, &tm);
			strftime(tmp, sizeof(tmp), "%Y%m%d", &tm);
			val = tmp;
			skip = 6;
		} else if (!strncmp(t, "{ext}", 5)) {
			val = fw->csv ? (fw->zstd ? "csv.zst" : "csv")
				      : (fw->zstd ? "jsonl.zst" : "jsonl");
			skip = 5;
		}
		if (val) {
			int k = snprintf(out + n, len - n, "%s", val);
			n += (size_t)k < len - n ? (size_t)k : len - n - 1;
			t += skip;
		} else {
			out[n++] = *t++;
		}
	}
	out[n] = '\0';
}

/* ---- writer thread ------------------------------------------------------- */

static void writer_fail(struct fw_state *fw, int err, const char *what,
			const char *name)
{
	if (fw->error)
		return;
	fw->error = err;
	snprintf(fw->errmsg, sizeof(fw->errmsg), "%s %s/%s: %s", what,
		 fw->dir, name, strerror(-err));
	sp_stage_log(fw->ctx, SP_LOG_ERROR, "%s", fw->errmsg);
}

static void block_done(void *tag, int result)
{
	struct block *b = tag;
	struct fw_state *fw = b->owner->fw;

	if (result < 0)
		writer_fail(fw, result, "cannot write", fw->cur_name);
	b->data.len = 0;
	/* the owner's free ring has room for all its blocks */
	sp_ring_try_push_mpmc(&b->owner->free, b);
}

static void header_done(void *tag, int result)
{
	struct fw_state *fw = tag;

	if (result < 0)
		writer_fail(fw, result, "cannot write", fw->cur_name);
}

static void emit_closed(struct fw_state *fw, const char *name,
			uint64_t records, uint64_t bytes)
{
	char path[1024], rec[32], by[32];
	struct sp_event ev = {.type = "file-closed", .stage = fw->ctx->id};

	snprintf(path, sizeof(path), "%s/%s", fw->dir, name);
	snprintf(rec, sizeof(rec), "%llu", (unsigned long long)records);
	snprintf(by, sizeof(by), "%llu", (unsigned long long)bytes);
	ev.nfields = 3;
	ev.keys[0] = "path";
	ev.values[0] = path;
	ev.keys[1] = "records";
	ev.values[1] = rec;
	ev.keys[2] = "bytes";
	ev.values[2] = by;
	sp_stage_emit_event(fw->ctx, &ev);
}

static void close_file(struct fw_state *fw)
{
	if (!fw->cur)
		return;
	int rc = sp_io_writer_flush(fw->cur, false);
	int rc2 = sp_io_writer_close(fw->cur);
	fw->cur = NULL;
	if (rc == 0)
		rc = rc2;
	if (rc < 0) {
		writer_fail(fw, rc, "cannot write", fw->cur_name);
		return;
	}
	rc = sp_commit_add(fw->commit, fw->cur_name, fw->cur_records,
			   fw->cur_bytes, fw->publish_each);
	if (rc < 0) {
		writer_fail(fw, rc, "cannot commit", fw->cur_name);
		return;
	}
	if (fw->nfiles == fw->cap_files) {
		uint32_t cap = fw->cap_files ? fw->cap_files * 2 : 16;
		struct closed_file *p = realloc(fw->files, cap * sizeof(*p));
		if (!p) {
			writer_fail(fw, -ENOMEM, "cannot record", fw->cur_name);
			return;
		}
		fw->files = p;
		fw->cap_files = cap;
	}
	struct closed_file *cf = &fw->files[fw->nfiles++];
	cf->name = strdup(fw->cur_name);
	cf->records = fw->cur_records;
	cf->bytes = fw->cur_bytes;
	if (fw->publish_each) {
		atomic_fetch_add(&fw->files_published, 1);
		emit_closed(fw, cf->name, cf->records, cf->bytes);
	}
}

/* The header is its own frame (or text), written before the first block;
 * the writer waits for it so that its buffer can be reused. */
static void write_header(struct fw_state *fw, const struct sp_buf *header)
{
	const void *data = header->data;
	size_t len = header->len;

	if (fw->zstd) {
		if (!fw->header_z)
			fw->header_z = sp_zstd_enc_create((int)fw->cfg->level);
		fw->header_frame.len = 0;
		if (!fw->header_z ||
		    sp_zstd_enc_frame(fw->header_z, data, len,
				      &fw->header_frame)) {
			writer_fail(fw, -ENOMEM, "cannot compress header of",
				    fw->cur_name);
			return;
		}
		data = fw->header_frame.data;
		len = fw->header_frame.len;
	}
	int rc = sp_io_writer_append(fw->cur, data, len, header_done, fw);
	if (rc == 0)
		rc = sp_io_writer_flush(fw->cur, false);
	if (rc < 0) {
		writer_fail(fw, rc, "cannot write", fw->cur_name);
		return;
	}
	fw->cur_bytes += len;
	atomic_fetch_add(&fw->bytes_written, len);
}

static void write_block(struct fw_state *fw, struct block *b)
{
	const struct fw_config *cfg = fw->cfg;

	if (fw->error || b->data.len == 0) {
		block_done(b, 0);
		return;
	}
	if (fw->cur &&
	    ((cfg->max_file_records &&
	      fw->cur_records + b->records > (uint64_t)cfg->max_file_records) ||
	     (cfg->max_file_bytes &&
	      fw->cur_bytes + b->data.len > cfg->max_file_bytes)))
		close_file(fw);
	if (!fw->cur && !fw->error) {
		expand_name(fw, fw->file_seq++, fw->cur_name,
			    sizeof(fw->cur_name));
		const char *path = sp_commit_staging_path(fw->commit,
							  fw->cur_name);
		int rc = path ? sp_io_writer_open(fw->io, path, &fw->cur)
			      : -EINVAL;
		if (rc < 0) {
			fw->cur = NULL;
			writer_fail(fw, rc, "cannot create", fw->cur_name);
		}
		fw->cur_records = 0;
		fw->cur_bytes = 0;
		if (fw->cur && b->header)
			write_header(fw, b->header);
	}
	if (fw->error) {
		block_done(b, 0);
		return;
	}
	size_t len = b->data.len;
	uint64_t records = b->records;
	int rc = sp_io_writer_append(fw->cur, b->data.data, len, block_done, b);
	if (rc < 0) {
		writer_fail(fw, rc, "cannot write", fw->cur_name);
		block_done(b, 0);
		return;
	}
	fw->cur_records += records;
	fw->cur_bytes += len;
	atomic_fetch_add(&fw->bytes_written, len);
	atomic_fetch_add(&fw->records_written, records);
	if ((cfg->max_file_records &&
	     fw->cur_records >= (uint64_t)cfg->max_file_records) ||
	    (cfg->max_file_bytes && fw->cur_bytes >= cfg->max_file_bytes))
		close_file(fw);
}

/* ordered: write next_seq's blocks as they come, park later ones */
static void write_ordered(struct fw_state *fw, struct block *b)
{
	if (b->seq == fw->next_seq) {
		bool last = b->last;
		write_block(fw, b);
		if (!last)
			return;
		fw->next_seq++;
		/* drain parked seqs that are complete or in progress */
		for (;;) {
			uint64_t i = fw->next_seq & (fw->pending_cap - 1);
			struct block *p = fw->pending_head[i];
			if (!p || p->seq != fw->next_seq)
				return;
			bool done = false;
			while (p) {
				struct block *next = p->next;
				done = p->last;
				write_block(fw, p);
				p = next;
			}
			fw->pending_head[i] = fw->pending_tail[i] = NULL;
			if (!done)
				return; /* rest of this seq still to come */
			fw->next_seq++;
		}
	}
	uint64_t i = b->seq & (fw->pending_cap - 1);
	b->next = NULL;
	if (fw->pending_head[i] && fw->pending_head[i]->seq != b->seq) {
		/* cannot happen with pending_cap sized for what is in flight */
		writer_fail(fw, -EOVERFLOW, "reorder window overflow at",
			    fw->cur_name);
		block_done(b, 0);
		return;
	}
	if (fw->pending_tail[i])
		fw->pending_tail[i]->next = b;
	else
		fw->pending_head[i] = b;
	fw->pending_tail[i] = b;
}

static void *writer_main(void *arg)
{
	struct fw_state *fw = arg;
	void *item;

	int rc = sp_io_create(64, &fw->io);
	if (rc < 0)
		writer_fail(fw, rc, "cannot set up I/O for", "");
	for (;;) {
		/* Completions are reaped only inside sp_io_* calls, and they
		 * return blocks to the workers' free rings: before sleeping
		 * on an empty queue, let every write in flight finish, or
		 * workers waiting for a free block would never wake us.  An
		 * error sticks to the writer and is reported by the next
		 * append or by close_file. */
		if (!sp_ring_try_pop_mpmc(&fw->queue, &item)) {
			if (fw->cur)
				(void)sp_io_writer_flush(fw->cur, false);
			if (sp_ring_pop_mpmc(&fw->queue, &item) != 0)
				break;
		}
		struct block *b = item;
		if (!fw->io)
			block_done(b, 0);
		else if (fw->cfg->ordered)
			write_ordered(fw, b);
		else
			write_block(fw, b);
	}
	/* blocks a failed ordered run left parked */
	for (uint64_t i = 0; i < fw->pending_cap; i++) {
		struct block *p = fw->pending_head[i];
		while (p) {
			struct block *next = p->next;
			block_done(p, 0);
			p = next;
		}
		fw->pending_head[i] = fw->pending_tail[i] = NULL;
	}
	close_file(fw);
	sp_io_destroy(fw->io);
	fw->io = NULL;
	return NULL;
}

/* A run that ends before writing still removes what a killed run left
 * beside the target (begin does that); a busy target is left alone. */
static void clean_leftovers(struct fw_state *fw)
{
	struct sp_commit *c = NULL;

	if (sp_commit_begin(fw->dir, fw->ctx->flow, fw->ctx->id,
			    fw->ctx->run_id, &c) == 0)
		sp_commit_destroy(c);
}

static int fw_start(void *state, char *err, size_t errlen)
{
	struct fw_state *fw = state;
	const struct sp_stage_ctx *ctx = fw->ctx;
	struct sp_commit_manifest *m = NULL;

	/* a run that died between two destinations' publication is
	 * completed (or undone) first */
	int rc = sp_commit_recover(fw->dir, ctx->id);
	if (rc < 0) {
		snprintf(err, errlen,
			 "cannot complete the publication an interrupted run "
			 "left in %s: %s",
			 fw->dir, strerror(-rc));
		return rc;
	}
	rc = sp_commit_manifest_read(fw->dir, &m);
	if (rc == 0) {
		bool same = m->run_id && !strcmp(m->run_id, ctx->run_id);
		bool adds = strstr(fw->name, "{run}") != NULL;
		sp_commit_manifest_free(m);
		if (!ctx->force && (same || !adds))
			clean_leftovers(fw);
		if (same && !ctx->force) {
			/* the run may still go on for another destination */
			sp_log_info("[destination:file_writer:%s] %s already "
				    "holds this run's output (run %s): kept",
				    ctx->id, fw->dir, ctx->run_id);
			fw->holds = true;
			return 0;
		}
		if (!same && !adds && !ctx->force) {
			snprintf(err, errlen,
				 "%s holds the committed output of another "
				 "run; use --force to replace it, another "
				 "dir, or {run} in the name template to add "
				 "files beside it",
				 fw->dir);
			return -EEXIST;
		}
	} else if (rc != -ENOENT) {
		snprintf(err, errlen, "cannot read %s/%s: %s", fw->dir,
			 SP_COMMIT_MANIFEST, strerror(-rc));
		return rc;
	}
	rc = sp_commit_begin(fw->dir, ctx->flow, ctx->id, ctx->run_id,
			     &fw->commit);
	if (rc < 0) {
		snprintf(err, errlen, "cannot prepare %s: %s", fw->dir,
			 rc == -EBUSY ? "another run is writing there"
				      : strerror(-rc));
		return rc;
	}
	sp_commit_set_replace(fw->commit, ctx->force);
	sp_commit_set_durable(fw->commit, fw->cfg->fsync);
	if (!fw->publish_each)
		sp_stage_add_target(ctx, sp_commit_target(fw->commit));
	uint64_t in_flight = (uint64_t)ctx->workers * (BLOCKS_PER_WORKER + 1);
	fw->pending_cap = sp_ring_size_for(in_flight * 4 + 64);
	fw->pending_head = calloc(fw->pending_cap, sizeof(*fw->pending_head));
	fw->pending_tail = calloc(fw->pending_cap, sizeof(*fw->pending_tail));
	if (!fw->pending_head || !fw->pending_tail ||
	    sp_ring_init(&fw->queue, sp_ring_size_for(in_flight + 1))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = pthread_create(&fw->writer, NULL, writer_main, fw);
	if (rc) {
		snprintf(err, errlen, "cannot start writer thread: %s",
			 strerror(rc));
		return -rc;
	}
	fw->writer_running = true;
	return 0;
}

/* ---- worker side --------------------------------------------------------- */

static void *fw_worker_create(void *state, unsigned worker)
{
	struct fw_state *fw = state;
	struct fw_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fw = fw;
	sp_buf_init(&w->enc);
	/* the writer thread puts the header at the top of each file */
	sp_csv_encoder_init(&w->csv, fw->cfg->delimiter, fw->cfg->quote,
			    false);
	sp_buf_init(&w->header);
	if (fw->zstd) {
		w->z = sp_zstd_enc_create((int)fw->cfg->level);
		if (!w->z) {
			free(w);
			return NULL;
		}
	}
	if (sp_ring_init(&w->free, sp_ring_size_for(BLOCKS_PER_WORKER + 1))) {
		sp_zstd_enc_destroy(w->z);
		free(w);
		return NULL;
	}
	for (int i = 0; i < BLOCKS_PER_WORKER; i++) {
		w->blocks[i].owner = w;
		sp_buf_init(&w->blocks[i].data);
		sp_ring_try_push_mpmc(&w->free, &w->blocks[i]);
	}
	return w;
}

static void fw_worker_destroy(void *state, void *wstate)
{
	struct fw_worker *w = wstate;

	if (!w)
		return;
	for (int i = 0; i < BLOCKS_PER_WORKER; i++)
		sp_buf_fini(&w->blocks[i].data);
	sp_ring_fini(&w->free);
	sp_buf_fini(&w->enc);
	sp_buf_fini(&w->header);
	sp_csv_encoder_fini(&w->csv);
	sp_zstd_enc_destroy(w->z);
	free(w);
}

/* Turns the encoded records into a block and hands it to the writer.
 * Returns the block's size (compressed bytes) or -errno. */
static int64_t seal(struct fw_worker *w, uint64_t seq, bool last)
{
	struct fw_state *fw = w->fw;
	void *item;

	if (sp_ring_pop_mpmc(&w->free, &item))
		return -EPIPE;
	struct block *b = item;
	b->seq = seq;
	b->last = last;
	b->records = w->enc_records;
	b->header = w->header.len ? &w->header : NULL;
	b->data.len = 0;
	if (w->enc.len) {
		if (fw->zstd) {
			int rc = sp_zstd_enc_frame(w->z, w->enc.data,
						   w->enc.len, &b->data);
			if (rc < 0) {
				sp_ring_try_push_mpmc(&w->free, b);
				return rc;
			}
		} else {
			struct sp_buf t = b->data;
			b->data = w->enc;
			w->enc = t;
		}
	}
	atomic_fetch_add_explicit(&fw->bytes_encoded,
				  w->enc.len ? w->enc.len : b->data.len,
				  memory_order_relaxed);
	w->enc.len = 0;
	w->enc_records = 0;
	int64_t size = (int64_t)b->data.len;
	if (sp_ring_push_mpmc(&fw->queue, b)) {
		sp_ring_try_push_mpmc(&w->free, b);
		return -EPIPE;
	}
	return size;
}

/* The column names as a CSV line, quoted where needed. */
static int build_header(struct fw_worker *w, const struct sp_symtab *st)
{
	const struct fw_config *cfg = w->fw->cfg;

	for (uint32_t c = 0; c < w->csv.ncols; c++) {
		uint32_t len;
		const char *name = sp_symtab_name(st, w->csv.cols[c], &len);
		bool quote = strpbrk(name, "\r\n") ||
			     memchr(name, cfg->delimiter, len) ||
			     memchr(name, cfg->quote, len);
		if (c && sp_buf_putc(&w->header, cfg->delimiter))
			return -ENOMEM;
		if (quote && sp_buf_putc(&w->header, cfg->quote))
			return -ENOMEM;
		for (uint32_t i = 0; i < len; i++) {
			if (name[i] == cfg->quote &&
			    sp_buf_putc(&w->header, cfg->quote))
				return -ENOMEM;
			if (sp_buf_putc(&w->header, name[i]))
				return -ENOMEM;
		}
		if (quote && sp_buf_putc(&w->header, cfg->quote))
			return -ENOMEM;
	}
	return sp_buf_putc(&w->header, '\n');
}

static int fw_stage_batch(void *state, void *wstate, struct sp_batch *b,
			  const uint32_t *sel, uint32_t n)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;
	const struct fw_config *cfg = fw->cfg;

	if (!w)
		return -ENOMEM;
	if (fw->holds)
		return 0;
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = sel[i];
		int rc;
		if (fw->csv) {
			const char *why = NULL;
			size_t before = w->enc.len;
			rc = sp_csv_encode_record(&w->csv, b, r, &w->enc, &why);
			if (rc == 0 && w->header.len == 0 && cfg->header &&
			    build_header(w, b->symtab))
				return -ENOMEM;
			if (rc == -EINVAL) {
				w->enc.len = before;
				sp_batch_error_add(b, r, b->recs[r].line, 0,
						   b->recs[r].raw,
						   b->recs[r].raw_len, "%s",
						   why ? why : "cannot encode");
				continue;
			}
		} else {
			/* unchanged records back to back go in one copy, up
			 * to the file's record limit */
			uint64_t room = cfg->max_file_records
					    ? (uint64_t)cfg->max_file_records -
						  w->enc_records
					    : UINT32_MAX;
			uint32_t done;
			rc = sp_jsonl_encode_run(
			    b, sel + i, n - i,
			    room < UINT32_MAX ? (uint32_t)room : UINT32_MAX,
			    &w->enc, &done);
			if (rc == 0) {
				w->enc_records += done - 1;
				i += done - 1;
			}
		}
		if (rc < 0)
			return rc;
		w->enc_records++;
		if (cfg->max_file_records &&
		    w->enc_records >= (uint64_t)cfg->max_file_records) {
			int64_t s = seal(w, b->seq, false);
			if (s < 0)
				return (int)s;
		}
	}
	return 0;
}

static int64_t fw_batch_end(void *state, void *wstate, uint64_t seq)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;

	if (!w)
		return -ENOMEM;
	if (fw->holds)
		return 0;
	/* ordered: one closing block per seq keeps the order moving;
	 * unordered: blocks grow to frame_size first */
	if (fw->cfg->ordered || w->enc.len >= fw->cfg->frame_size)
		return seal(w, seq, true);
	return 0;
}

static int64_t fw_worker_flush(void *state, void *wstate)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;

	if (!w)
		return -ENOMEM;
	if (fw->holds)
		return 0;
	if (!fw->cfg->ordered && w->enc.len)
		return seal(w, 0, true);
	return 0;
}

static void stop_writer(struct fw_state *fw)
{
	if (fw->writer_running) {
		sp_ring_close(&fw->queue);
		pthread_join(fw->writer, NULL);
		fw->writer_running = false;
	}
}

/* After the last block: the writer thread is done; its error, if any.
 * Both commit phases start here. */
static int writer_outcome(struct fw_state *fw, char *err, size_t errlen)
{
	stop_writer(fw);
	if (fw->commit && fw->error)
		snprintf(err, errlen, "%s", fw->errmsg);
	return fw->commit ? fw->error : 0;
}

static int fw_prepare(void *state, char *err, size_t errlen)
{
	struct fw_state *fw = state;
	int rc = writer_outcome(fw, err, errlen);

	if (rc || !fw->commit)
		return rc;
	rc = sp_commit_prepare(fw->commit, fw->ctx->force);
	/* the run-level commit record, before any destination publishes */
	if (!rc && !fw->publish_each)
		rc = sp_commit_write_record(fw->commit,
					    sp_stage_targets(fw->ctx));
	if (rc < 0)
		snprintf(err, errlen, "cannot publish files in %s: %s", fw->dir,
			 rc == -EEXIST ? "a file of this run exists already "
					 "(rerun with --force to replace it)"
				       : strerror(-rc));
	return rc;
}

static int fw_finish(void *state, bool ok, char *err, size_t errlen)
{
	struct fw_state *fw = state;
	int rc = writer_outcome(fw, err, errlen);

	if (!fw->commit)
		return 0;
	if (rc || !ok) {
		sp_commit_abort(fw->commit);
		return rc;
	}
	rc = sp_commit_finish(fw->commit, fw->ctx->force);
	if (rc < 0) {
		snprintf(err, errlen, "cannot publish files in %s: %s", fw->dir,
			 strerror(-rc));
		sp_commit_abort(fw->commit);
		return rc;
	}
	if (!fw->publish_each)
		for (uint32_t i = 0; i < fw->nfiles; i++) {
			atomic_fetch_add(&fw->files_published, 1);
			emit_closed(fw, fw->files[i].name, fw->files[i].records,
				    fw->files[i].bytes);
		}
	return 0;
}

static void fw_status(void *state, struct sp_stage_status *st)
{
	struct fw_state *fw = state;
	uint64_t files = atomic_load(&fw->files_published);

	st->files = files;
	st->bytes_in = atomic_load(&fw->bytes_encoded);
	st->bytes_out = atomic_load(&fw->bytes_written);
	if (fw->holds)
		snprintf(st->note, sizeof(st->note),
			 "kept: %s holds this run's output already", fw->dir);
	else
		snprintf(st->note, sizeof(st->note),
			 "%llu file%s committed in %s",
			 (unsigned long long)files, files == 1 ? "" : "s",
			 fw->dir);
}

/* Every destination of the run published: the record can go. */
static int fw_after_commit(void *state, char *err, size_t errlen)
{
	struct fw_state *fw = state;

	(void)err;
	(void)errlen;
	if (fw->commit)
		sp_commit_drop_record(fw->commit);
	return 0;
}

static bool fw_holds_run(void *state)
{
	return ((struct fw_state *)state)->holds;
}

static void fw_close(void *state)
{
	struct fw_state *fw = state;

	if (fw->writer_running) {
		sp_ring_close(&fw->queue);
		pthread_join(fw->writer, NULL);
	}
	sp_commit_destroy(fw->commit);
	if (fw->queue.ring)
		sp_ring_fini(&fw->queue);
	for (uint32_t i = 0; i < fw->nfiles; i++)
		free(fw->files[i].name);
	free(fw->files);
	free(fw->pending_head);
	free(fw->pending_tail);
	sp_buf_fini(&fw->header_frame);
	sp_zstd_enc_destroy(fw->header_z);
	free(fw->dir);
	free(fw->name);
	free(fw);
}

const struct sp_stage_desc sp_stage_file_writer = {
	.abi = SP_STAGE_ABI,
	.name = "file_writer",
	.kind = SP_DESTINATION,
	.help = "write records to rolling zstd-compressed JSONL or CSV files, "
		"published atomically",
	.options = fw_options,
	.config_size = sizeof(struct fw_config),
	.create = fw_create,
	.start = fw_start,
	.worker_create = fw_worker_create,
	.worker_destroy = fw_worker_destroy,
	.stage_batch = fw_stage_batch,
	.batch_end = fw_batch_end,
	.worker_flush = fw_worker_flush,
	.prepare = fw_prepare,
	.finish = fw_finish,
	.status = fw_status,
	.close = fw_close,
	.holds_run = fw_holds_run,
	.after_commit = fw_after_commit,
};
