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
 *
 * This file holds the options, setup and the commit phases; the workers'
 * encoding is in file_writer_encode.c, the writer thread in
 * file_writer_thread.c.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "io/commit.h"
#include "spate/catalog.h"
#include "stages/destinations/file_writer.h"

enum fw_compression { FW_ZSTD = 0, FW_NONE };
enum fw_commit { FW_COMMIT_RUN = 0, FW_COMMIT_FILE };

static const char *const compressions[] = {[FW_ZSTD] = "zstd",
					   [FW_NONE] = "none", NULL};
static const char *const commits[] = {[FW_COMMIT_RUN] = "run",
				      [FW_COMMIT_FILE] = "file", NULL};

static const struct sp_option fw_options[] = {
	{.name = "dir", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct fw_config, dir),
	 .help = "target directory (relative to the flow file's folder); "
		 "created when missing; or s3://BUCKET/PREFIX (README: S3)"},
	SP_FORMAT_WRITER_OPTION_ROWS(struct fw_config, fmt),
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
	 .help = "catalog stage: a local one (`dir` relative to its root, "
		 "never leaving it) or an S3 one (`dir` a key prefix under "
		 "its prefix)"},
	{.name = "partition_by", .type = SP_OPT_PATH_LIST,
	 .offset = offsetof(struct fw_config, partition_by),
	 .help = "field paths whose values name each record's folder under "
		 "dir, e.g. [/country, /day] writes country=DE/day=2026-01-01/"
		 "; values are %-escaped (no '/', no leading '.'), null or "
		 "absent is __null__, empty __empty__ (README: Partitioned "
		 "output)"},
	{.name = "max_open_partitions", .type = SP_OPT_INT, .def = "32",
	 .bounded = true, .min = 1, .max = 4096,
	 .offset = offsetof(struct fw_config, max_open_partitions),
	 .help = "partition folders with an open file at once; past it the "
		 "least recently written one's file is closed (its next "
		 "records start a new file); on S3 each buffers up to an 8 MiB "
		 "part"},
	{0},
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

/* What is wrong with the file name template, NULL when nothing: it
 * needs {seq} (rolled files), no '/' (the folder is `dir`), and over a
 * stream (every run new input) {run}, which the default gets. */
static const char *name_problem(const char *name, bool streaming, char *buf,
				size_t len)
{
	if (!strstr(name, "{seq}"))
		snprintf(buf, len,
			 "\"%s\" has no {seq}: rolled files would get the "
			 "same name",
			 name);
	else if (strchr(name, '/'))
		snprintf(buf, len,
			 "\"%s\" is a file name and may not hold '/' (the "
			 "folder is option 'dir')",
			 name);
	else if (streaming && !strstr(name, "{run}") &&
		 strcmp(name, FW_DEFAULT_NAME))
		snprintf(buf, len,
			 "\"%s\" has no {run}: the flow reads a stream "
			 "(stdin), new input every run, so each run adds its "
			 "own files; put {run} in the name (e.g. \"%s\")",
			 name, FW_STREAM_NAME);
	else
		return NULL;
	return buf;
}

/* Validation: what create and the start of a run would refuse. */
static void fw_check(const void *config, struct sp_check *chk)
{
	const struct fw_config *cfg = config;
	const char *why;
	char msg[1024], *dir = NULL;

	if ((why = name_problem(cfg->name, chk->streaming, msg, sizeof(msg))))
		sp_check_problem(chk, "name", "%s", why);
	sp_format_check(&cfg->fmt, chk);
	if (cfg->partition_by.n > FW_PART_PATHS_MAX)
		sp_check_problem(chk, "partition_by",
				 "%u paths: at most %d folder levels",
				 cfg->partition_by.n, FW_PART_PATHS_MAX);
	for (uint32_t i = 0; i < cfg->partition_by.n; i++)
		if (cfg->partition_by.v[i].sym == SP_SYM_NONE)
			sp_check_problem(chk, "partition_by",
					 "'/' is the whole record: name the "
					 "fields whose values name the folders "
					 "(/field, /a/b)");
	if (cfg->partition_by.n && cfg->commit == FW_COMMIT_FILE)
		sp_check_problem(chk, "partition_by",
				 "partitioned output is published at the end "
				 "of the run: it takes commit: run");
	if (!cfg->dir[0]) {
		sp_check_problem(chk, "dir",
				 "empty: name a folder (\".\" is the flow "
				 "file's own)");
		return;
	}
	if (strstr(cfg->dir, "${")) {
		sp_check_problem(chk, "dir",
				 "\"%s\" holds an expression, but the folder "
				 "is fixed for a run; send records to writers "
				 "of their own with a stream_selector",
				 cfg->dir);
		return;
	}
	if (chk->stage_root) {
		if (spate_catalog_check_path(chk->stage_root, cfg->stage,
					     cfg->dir, msg, sizeof(msg))) {
			sp_check_problem(chk, "dir", "%s", msg);
			return;
		}
		if (asprintf(&dir, "%s/%s", chk->stage_root, cfg->dir) < 0)
			dir = NULL;
	} else if (chk->stage_set) {
		return; /* not a local stage: checked when it is opened */
	} else if (cfg->dir[0] == '/') {
		dir = strdup(cfg->dir);
	} else if (asprintf(&dir, "%s/%s", chk->flow_dir, cfg->dir) < 0) {
		dir = NULL;
	}
	if (dir)
		chk->claim(chk, "dir", dir);
	free(dir);
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
	fw->zstd = cfg->compression == FW_ZSTD;
	fw->csv = cfg->fmt.format == SP_FORMAT_CSV;
	fw->publish_each = cfg->commit == FW_COMMIT_FILE;
	/* S3 (an S3 stage, or s3://), a local stage, or a path */
	int rc = cfg->stage || fw_s3_wanted(cfg) ? fw_s3_create(fw, err, errlen)
						 : 1;
	if (rc == 1 && cfg->stage)
		rc = stage_dir(cfg, ctx, &fw->dir, err, errlen);
	else if (rc == 1 && cfg->dir[0] == '/')
		fw->dir = strdup(cfg->dir);
	else if (rc == 1 &&
		 asprintf(&fw->dir, "%s/%s", ctx->flow_dir, cfg->dir) < 0)
		fw->dir = NULL;
	if (rc < 0) {
		free(fw);
		return rc;
	}
	if (!fw->dir) {
		free(fw);
		return -ENOMEM;
	}
	/* bad names and CSV characters were refused by fw_check (the
	 * runtime runs validated flows only) */
	/* over a stream the default name gets {run} */
	fw->name = strdup(ctx->streaming && !strstr(cfg->name, "{run}")
			      ? FW_STREAM_NAME
			      : cfg->name);
	fw->active = -1;
	rc = fw->name ? fw_part_setup(fw, err, errlen) : -ENOMEM;
	if (rc) {
		fw_part_fini(fw);
		fw_s3_free(fw);
		free(fw->name);
		free(fw->dir);
		free(fw);
		return rc;
	}
	*state = fw;
	return 0;
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

/* Whether manifest m lists this run's output: the last run's id, or,
 * with {run} in the name template (files of several runs side by side),
 * a file named with this run's id - the same input as an earlier run
 * whose files are still there, after another run has added its own. */
bool fw_manifest_holds_run(const struct sp_commit_manifest *m,
			   const char *run_id, bool adds)
{
	if (m->run_id && !strcmp(m->run_id, run_id))
		return true;
	for (size_t i = 0; adds && i < m->nfiles; i++)
		if (strstr(m->files[i].name, run_id))
			return true;
	return false;
}

/* A local target: recovery, the manifest check and the commit's begin. */
static int start_local(struct fw_state *fw, char *err, size_t errlen)
{
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
		bool adds = strstr(fw->name, "{run}") != NULL;
		bool same = fw_manifest_holds_run(m, ctx->run_id, adds);
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
	return 0;
}

static int fw_start(void *state, char *err, size_t errlen)
{
	struct fw_state *fw = state;
	const struct sp_stage_ctx *ctx = fw->ctx;
	int rc = fw->s3 ? fw_s3_start(fw, err, errlen)
			: start_local(fw, err, errlen);

	if (rc || fw->holds)
		return rc;
	fw->writing = true;
	uint64_t in_flight = (uint64_t)ctx->workers * (BLOCKS_PER_WORKER + 1);
	fw->pending_cap = sp_ring_size_for(in_flight * 4 + 64);
	fw->pending_head = calloc(fw->pending_cap, sizeof(*fw->pending_head));
	fw->pending_tail = calloc(fw->pending_cap, sizeof(*fw->pending_tail));
	if (!fw->pending_head || !fw->pending_tail ||
	    sp_ring_init(&fw->queue, sp_ring_size_for(in_flight + 1))) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	rc = pthread_create(&fw->writer, NULL, fw_writer_main, fw);
	if (rc) {
		snprintf(err, errlen, "cannot start writer thread: %s",
			 strerror(rc));
		return -rc;
	}
	fw->writer_running = true;
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
	if (fw->writing && fw->error)
		snprintf(err, errlen, "%s", fw->errmsg);
	return fw->writing ? fw->error : 0;
}

static int fw_prepare(void *state, char *err, size_t errlen)
{
	struct fw_state *fw = state;
	int rc = writer_outcome(fw, err, errlen);

	if (rc || !fw->writing)
		return rc;
	if (fw->s3)
		return fw_s3_prepare(fw, err, errlen);
	/* the run id may have been taken after the data (fw_run_id_at_start) */
	rc = sp_commit_set_run_id(fw->commit, fw->ctx->run_id);
	rc = rc ? rc : sp_commit_prepare(fw->commit, fw->ctx->force);
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

	if (!fw->writing)
		return 0;
	if (fw->s3) {
		int frc = fw_s3_finish(fw, ok && !rc, err, errlen);
		if (rc || !ok || frc)
			return rc ? rc : frc;
	} else if (rc || !ok) {
		sp_commit_abort(fw->commit);
		return rc;
	} else {
		rc = sp_commit_finish(fw->commit, fw->ctx->force);
	}
	if (rc < 0) {
		snprintf(err, errlen, "cannot publish files in %s: %s", fw->dir,
			 strerror(-rc));
		sp_commit_abort(fw->commit);
		return rc;
	}
	if (!fw->publish_each)
		for (uint32_t i = 0; i < fw->nfiles; i++) {
			atomic_fetch_add(&fw->files_published, 1);
			fw_emit_closed(fw, fw->files[i].name, fw->files[i].records,
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

/* The run id is compared at start with what the target holds (unless
 * --force replaces it), and names files with {run}; S3 targets and files
 * published one by one are left as they were: the id before the run. */
static bool fw_run_id_at_start(void *state)
{
	const struct fw_state *fw = state;

	if (fw->s3 || fw->publish_each || strstr(fw->name, "{run}"))
		return true;
	return !fw->ctx->force &&
	       sp_commit_has_history(fw->dir, fw->ctx->id) != 0;
}

static void fw_close(void *state)
{
	struct fw_state *fw = state;

	if (fw->writer_running) {
		sp_ring_close(&fw->queue);
		pthread_join(fw->writer, NULL);
	}
	sp_commit_destroy(fw->commit);
	fw_s3_free(fw);
	fw_part_fini(fw);
	for (uint32_t i = 0; i < fw->nparts; i++)
		free(fw->parts[i].key);
	free(fw->parts);
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
	.check = fw_check,
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
	.run_id_at_start = fw_run_id_at_start,
};
