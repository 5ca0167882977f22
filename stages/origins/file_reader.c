/*
 * file_reader: reads files (a glob or a list, sorted) with several block
 * reads in flight (io/fileio.h: io_uring or read), decompresses .zst
 * input as a stream, and cuts the bytes into chunks that end on record
 * boundaries (quote-aware for CSV) so that every worker parses.  Chunk
 * buffers are a fixed pool owned by the reader thread: workers hand them
 * back through a ring, so memory stays bounded whatever the input size.
 *
 * With `stage: NAME` the paths are relative to a catalog stage's root
 * (include/spate/catalog.h) and may not leave it; files this flow already
 * loaded from the stage are skipped, and when the run's output is
 * committed the files read in full are recorded in the load history.
 * on_error: skip_file parses each file once on the reader thread before
 * handing it out (so it is parsed twice) and leaves out a file with any
 * bad record; abort fails the run at the first bad record.
 */
#define _GNU_SOURCE
#include "stages/origins/file_reader.h"

#include <fcntl.h>
#include <stdint.h>
#include <time.h>

#include "core/hugemem.h"

static const char *const compressions[] = {
    [FR_COMP_AUTO] = "auto", [FR_COMP_NONE] = "none",
    [FR_COMP_ZSTD] = "zstd", [FR_COMP_GZIP] = "gzip",
    [FR_COMP_LZ4] = "lz4",   NULL};
static const char *const column_types[] = {
    [SP_CSV_STRING] = "string", [SP_CSV_INT] = "int",
    [SP_CSV_DOUBLE] = "double", [SP_CSV_BOOL] = "bool",
    [SP_CSV_TIMESTAMP] = "timestamp", NULL};
static const char *const on_errors[] = {[FR_CONTINUE] = "continue",
					[FR_SKIP_FILE] = "skip_file",
					[FR_ABORT] = "abort", NULL};

static const struct sp_option column_options[] = {
	{.name = "name", .type = SP_OPT_STRING, .required = true,
	 .offset = offsetof(struct fr_column, name), .help = "column name"},
	{.name = "type", .type = SP_OPT_ENUM, .def = "string",
	 .choices = column_types, .offset = offsetof(struct fr_column, type),
	 .help = "type the column's values convert to"},
	{0},
};

static const struct sp_option fr_options[] = {
	{.name = "path", .type = SP_OPT_STRING_LIST, .required = true,
	 .offset = offsetof(struct fr_config, path),
	 .help = "file, glob or list of them, relative to the flow file's "
		 "folder (to the stage's root with `stage`); read in sorted "
		 "order.  s3://BUCKET/KEY (globs over keys) reads S3 with the "
		 "AWS_* variables or ~/.aws/credentials"},
	SP_FORMAT_OPTION_ROWS(struct fr_config, fmt),
	{.name = "compression", .type = SP_OPT_ENUM, .def = "auto",
	 .choices = compressions,
	 .offset = offsetof(struct fr_config, compression),
	 .help = "auto: zstd, gzip (multi-member too) or lz4 frames when "
		 "the file starts with their magic number, whatever its name"},
	{.name = "ignore_lines", .type = SP_OPT_INT, .def = "0", .bounded = true,
	 .min = 0, .max = 1e9, .offset = offsetof(struct fr_config, ignore_lines),
	 .help = "csv: lines skipped at the start of each file, before the "
		 "header"},
	{.name = "schema", .type = SP_OPT_OBJECT_LIST, .items = column_options,
	 .item_size = sizeof(struct fr_column),
	 .offset = offsetof(struct fr_config, schema),
	 .help = "csv: typed columns, e.g. [{name: expense, type: double}]; "
		 "a value that does not convert is a record error"},
	{.name = "chunk_size", .type = SP_OPT_SIZE, .def = "512K", .bounded = true,
	 .min = 4096, .max = 1 << 30,
	 .offset = offsetof(struct fr_config, chunk_size),
	 /* a batch's text and its fields then fit a 1 MiB L2 cache
	  * through the stages' passes: 1-5% faster than 1M on W1, W3,
	  * W6-W8 (perf/README.md) */
	 .help = "input bytes per batch handed to a worker"},
	{.name = "stage", .type = SP_OPT_STRING,
	 .offset = offsetof(struct fr_config, stage),
	 .help = "catalog stage (`spate stage create-local` or create-s3) "
		 "whose root or key prefix the paths are relative to; they "
		 "may not leave it.  Files this flow already loaded from it "
		 "(same path, size and content; on S3 the same ETag) are "
		 "skipped unless --force; `spate history` lists loads"},
	{.name = "on_error", .type = SP_OPT_ENUM, .def = "continue",
	 .choices = on_errors, .offset = offsetof(struct fr_config, on_error),
	 .help = "per file: continue (bad records follow on_record_error), "
		 "skip_file (a file with any bad record is not loaded at all; "
		 "files are parsed twice) or abort (the first bad record fails "
		 "the run, nothing is committed)"},
	{.name = "range_start", .type = SP_OPT_INT, .def = "0", .bounded = true,
	 .min = 0, .max = 1e18,
	 .offset = offsetof(struct fr_config, range_start),
	 .help = "with range_end: read only bytes [range_start, range_end) of "
		 "one uncompressed local file (how `spate submit` splits a "
		 "large file into shards); range_start must be the first byte "
		 "of a record, range_end the byte after one.  A CSV header "
		 "is still read from the file's start"},
	{.name = "range_end", .type = SP_OPT_INT, .def = "0", .bounded = true,
	 .min = 0, .max = 1e18, .offset = offsetof(struct fr_config, range_end),
	 .help = "end of the byte range (0: no range, the whole files)"},
	{.name = "range_line", .type = SP_OPT_INT, .def = "1", .bounded = true,
	 .min = 1, .max = 1e18,
	 .offset = offsetof(struct fr_config, range_line),
	 .help = "the line number of range_start, for messages and error "
		 "records"},
	{0},
};

static void fr_close(void *state);

/* An enabled S3 stage: opened for reading (0 or -errno); 1 when the stage
 * is not one (local_root then says what else it is). */
static int open_s3_stage(struct fr_state *fr, char *err, size_t errlen)
{
	struct spate_catalog_stage *s;
	char msg[512];
	int rc = spate_catalog_get(fr->catalog, fr->cfg->stage, &s, msg,
				   sizeof(msg));

	if (rc)
		return 1;
	rc = s->kind == SPATE_STAGE_S3 && s->enabled
		     ? fr_s3_open_stage(fr, s, err, errlen)
		     : 1;
	spate_catalog_stage_free(s);
	return rc;
}

static int open_stage(struct fr_state *fr, char *err, size_t errlen)
{
	char msg[1024] = "";
	struct stat st;
	int rc;

	rc = spate_catalog_open(fr->ctx->catalog, &fr->catalog, msg,
				sizeof(msg));
	if (rc == 0 && (rc = open_s3_stage(fr, err, errlen)) != 1)
		return rc;
	if (rc == 1)
		rc = spate_catalog_local_root(fr->catalog, fr->cfg->stage,
					      &fr->root, msg, sizeof(msg));
	if (rc) {
		snprintf(err, errlen, "option 'stage': %s", msg);
		return rc;
	}
	if (stat(fr->root, &st) < 0 || !S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "option 'stage': the folder of stage '%s' (%s) does "
			 "not exist",
			 fr->cfg->stage, fr->root);
		return -ENOENT;
	}
	return 0;
}

/* Records the XXH64 of f's bytes taken before the run (what the run id
 * and the load history compare, and what the read must find again), or
 * the error of taking it. */
static int took_hash(struct fr_file *f, int rc, uint64_t hash, char *err,
		     size_t errlen)
{
	if (rc < 0) {
		snprintf(err, errlen, "cannot read %s: %s", f->display,
			 strerror(-rc));
		return rc;
	}
	f->content = hash;
	f->hashed = true;
	return 0;
}

/* f's hash, once. */
static int hash_file(struct fr_file *f, char *err, size_t errlen)
{
	uint64_t h = 0;

	return f->hashed ? 0
			 : took_hash(f, sp_xxh64_file(f->path, &h), h, err,
				     errlen);
}

static bool needs_hash(const struct fr_file *f)
{
	return f->regular && !f->hashed;
}

/* The input's fingerprint is its content: every regular local file is
 * hashed, unless --trust-mtime takes size and mtime for it (or the run
 * only validates).  S3 objects stand by their ETag; a range's file was
 * fingerprinted by its submitter. */
static bool hashes_content(const struct fr_state *fr)
{
	return !fr->s3 && !fr->ctx->trust_mtime && !fr->ctx->validate_only &&
	       !fr_has_range(fr->cfg);
}

bool fr_hash_left_to_read(const struct fr_state *fr, const struct fr_file *f)
{
	return fr->hash_by_read && hashes_content(fr) && needs_hash(f);
}

void fr_finish_hash(struct fr_state *fr, struct fr_file *f)
{
	if (fr_hash_left_to_read(fr, f)) {
		f->content = f->xxh64;
		f->hashed = true;
	}
}

/*
 * Files modified in the last seconds are hashed before the run all the
 * same: one still being written could be rewritten in place within the
 * tick of its mtime, which the end of its read would not see (same size,
 * same mtime), where a hash before the run differs from what the read
 * found.  An older file changed while being read gets a later mtime.
 */
#define RECENT_S 2

static int64_t recently(void)
{
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	return (int64_t)now.tv_sec - RECENT_S;
}

/* Whether f is to be hashed now: not hashed yet, and modified at or after
 * `since` (seconds; INT64_MIN for every file). */
static bool hash_now(const struct fr_file *f, int64_t since)
{
	return needs_hash(f) && f->mtime >= since;
}

/* The files not hashed yet and modified since `since`, on the cores the
 * run's workers will use (they have not started, or are done). */
static int hash_inputs(struct fr_state *fr, int64_t since, char *err,
		       size_t errlen)
{
	if (!hashes_content(fr))
		return 0;
	struct sp_xxh64_job *jobs = calloc(fr->nfiles ? fr->nfiles : 1,
					   sizeof(*jobs));
	size_t n = 0;
	int rc = 0;

	if (!jobs) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < fr->nfiles; i++)
		if (hash_now(&fr->files[i], since))
			jobs[n++].path = fr->files[i].path;
	/* the run's workers have not started: their cores hash the files */
	if (n)
		sp_xxh64_files(jobs, n,
			       fr->ctx->workers ? fr->ctx->workers : 1);
	/* the same files in the same order: job j is the j-th of them */
	const struct sp_xxh64_job *j = jobs;
	for (uint32_t i = 0; i < fr->nfiles && rc == 0; i++) {
		struct fr_file *f = &fr->files[i];

		if (!hash_now(f, since))
			continue;
		/* -ECANCELED: not hashed, because another file failed */
		if (j->rc != -ECANCELED)
			rc = took_hash(f, j->rc, j->hash, err, errlen);
		j++;
	}
	free(jobs);
	return rc;
}

/* Leaves out the files this flow loaded from the stage before: same
 * path, size and content hash (a file is hashed only when the rest
 * matches). */
static int skip_loaded(struct fr_state *fr, char *err, size_t errlen)
{
	const char *flow = fr->ctx->flow, *stage = fr->cfg->stage;

	for (uint32_t i = 0; i < fr->nfiles; i++) {
		struct fr_file *f = &fr->files[i];
		int rc = spate_catalog_is_loaded(fr->catalog, flow, stage,
						 f->display, f->size, NULL);
		uint64_t h;
		if (rc == 1 && fr->s3) {
			h = f->etag_hash;
			rc = spate_catalog_is_loaded(fr->catalog, flow, stage,
						     f->display, f->size, &h);
		} else if (rc == 1) {
			rc = hash_file(f, err, errlen);
			if (rc < 0)
				return rc;
			h = f->content;
			rc = spate_catalog_is_loaded(fr->catalog, flow, stage,
						     f->display, f->size, &h);
		}
		if (rc < 0) {
			snprintf(err, errlen,
				 "cannot read the load history of stage '%s' "
				 "in %s: %s",
				 stage, spate_catalog_path(fr->catalog),
				 strerror(-rc));
			return rc;
		}
		if (rc == 1) {
			f->loaded = true;
			fr->nloaded++;
			fr->total_size -= f->size;
			sp_stage_log(fr->ctx, SP_LOG_INFO,
				     "%s: loaded by flow '%s' before; skipped",
				     f->display, flow);
		}
	}
	if (fr->nloaded)
		sp_stage_log(fr->ctx, SP_LOG_INFO,
			     "%u of %u files skipped: loaded before (`spate "
			     "history --flow %s`; --force loads them again)",
			     fr->nloaded, fr->nfiles, flow);
	return 0;
}

/* A byte range reads one uncompressed regular local file, from a record
 * boundary up to one: what `spate submit` hands a shard of a large file.
 * Its records are part of the file, so the load history (`stage`) would
 * be wrong to record the file as loaded. */
static int check_range(struct fr_state *fr, char *err, size_t errlen)
{
	const struct fr_config *cfg = fr->cfg;
	const struct fr_file *f = &fr->files[0];
	char magic[8];

	if (!fr_has_range(cfg))
		return 0;
	const char *why =
	    fr->s3 || cfg->stage ? "a local path, not a catalog stage or S3"
	    : fr->nfiles != 1   ? "exactly one file"
	    : !f->regular       ? "a regular file"
	    : cfg->on_error == FR_SKIP_FILE
		? "on_error continue or abort (skip_file judges whole files)"
	    : cfg->range_start >= cfg->range_end ? "range_start < range_end"
	    : (uint64_t)cfg->range_end > f->size
		? "range_end within the file"
		: NULL;
	if (!why) {
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		ssize_t n = fd >= 0 ? read(fd, magic, sizeof(magic)) : -1;
		if (fd >= 0)
			close(fd);
		if (fr_decomp_of(cfg->compression) != SP_DECOMP_NONE ||
		    (n > 0 && sp_decomp_detect(magic, (size_t)n) !=
				  SP_DECOMP_NONE))
			why = "an uncompressed file";
	}
	if (!why) {
		fr->total_size = (uint64_t)(cfg->range_end - cfg->range_start);
		return 0;
	}
	snprintf(err, errlen, "option 'range_end': a byte range needs %s (%s)",
		 why, fr->nfiles ? fr->files[0].display : "no file");
	return -EINVAL;
}

static int fr_create(const void *config, const struct sp_stage_ctx *ctx,
		     void **state, char *err, size_t errlen)
{
	const struct fr_config *cfg = config;
	struct fr_state *fr = calloc(1, sizeof(*fr));
	int rc;

	if (!fr)
		return -ENOMEM;
	fr->cfg = cfg;
	fr->ctx = ctx;
	fr->csv = cfg->fmt.format == SP_FORMAT_CSV;
	if (cfg->schema.n) {
		const struct fr_column *cols = cfg->schema.items;
		fr->schema = calloc(cfg->schema.n, sizeof(*fr->schema));
		if (!fr->schema) {
			rc = -ENOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < cfg->schema.n; i++) {
			fr->schema[i].name = cols[i].name;
			fr->schema[i].type = (enum sp_csv_type)cols[i].type;
		}
	}
	fr->on_error = (enum fr_on_error)cfg->on_error;
	/* a validating run reports every bad record of every file */
	if (ctx->validate_only)
		fr->on_error = FR_CONTINUE;
	if (cfg->stage && (rc = open_stage(fr, err, errlen)))
		goto fail;
	if (!cfg->stage && cfg->path.n && fr_is_s3_url(cfg->path.v[0]) &&
	    (rc = fr_s3_open_url(fr, cfg->path.v[0], err, errlen)))
		goto fail;
	rc = fr->s3 ? fr_s3_expand(fr, err, errlen)
		    : fr_expand_paths(fr, err, errlen);
	if (rc || (rc = check_range(fr, err, errlen)))
		goto fail;
	/* the load history compares content: hashed now, on all cores.
	 * Otherwise the read takes the hashes, unless a destination needs
	 * the run id before it (fr_complete_identity) */
	fr->hash_by_read = !(fr->catalog && !ctx->force);
	if (!fr->hash_by_read && hashes_content(fr) && fr->nfiles)
		sp_stage_log(ctx, SP_LOG_INFO,
			     "the input is hashed before the run: the load "
			     "history compares each file's content before it "
			     "is read (--force reads the input once)");
	if ((rc = hash_inputs(fr, fr->hash_by_read ? recently() : INT64_MIN,
			      err, errlen)))
		goto fail;
	if (fr->catalog && !ctx->force && !ctx->validate_only &&
	    (rc = skip_loaded(fr, err, errlen)))
		goto fail;
	*state = fr;
	return 0;
fail:
	fr_close(fr);
	return rc;
}

/* Validation: the CSV characters, and for local files what create
 * would refuse (a path that leaves the stage, matches nothing or cannot
 * be read), found by expanding the paths as a run does.  S3 is checked
 * when it is opened. */
static void fr_check(const void *config, struct sp_check *chk)
{
	const struct fr_config *cfg = config;
	struct sp_stage_ctx ctx = {.flow_dir = chk->flow_dir, .id = chk->id,
				   .validate_only = true};
	struct fr_state *fr;
	const char *why;
	char err[1024] = "";
	struct stat st;

	if (cfg->fmt.format == SP_FORMAT_CSV &&
	    (why = sp_csv_chars_problem(cfg->fmt.delimiter, cfg->fmt.quote)))
		sp_check_problem(chk, "delimiter", "%s", why);
	if (chk->stage_set && !chk->stage_root)
		return;
	if (!chk->stage_set && cfg->path.n && fr_is_s3_url(cfg->path.v[0]))
		return;
	if (chk->stage_root &&
	    (stat(chk->stage_root, &st) < 0 || !S_ISDIR(st.st_mode))) {
		sp_check_problem(chk, "stage",
				 "the folder of stage '%s' (%s) does not exist",
				 cfg->stage, chk->stage_root);
		return;
	}
	fr = calloc(1, sizeof(*fr));
	if (!fr)
		return;
	fr->cfg = cfg;
	fr->ctx = &ctx;
	if ((!chk->stage_root || (fr->root = strdup(chk->stage_root))) &&
	    fr_expand_paths(fr, err, sizeof(err)) && err[0]) {
		const char *msg = err;

		if (!strncmp(msg, "option 'path': ", 15))
			msg += 15;
		sp_check_problem(chk, "path", "%s", msg);
	}
	fr_close(fr);
}

static uint64_t fr_input_size(void *state)
{
	struct fr_state *fr = state;

	return fr->total_size;
}

static bool fr_identity_pending(void *state)
{
	struct fr_state *fr = state;

	if (!hashes_content(fr))
		return false;
	for (uint32_t i = 0; i < fr->nfiles; i++)
		if (needs_hash(&fr->files[i]))
			return true;
	return false;
}

/* Before start: every file, one read before the run's.  After the data:
 * the files the read did not hash whole (skipped after a bad record). */
static int fr_complete_identity(void *state, char *err, size_t errlen)
{
	return hash_inputs(state, INT64_MIN, err, errlen);
}

static uint64_t fr_identity(void *state)
{
	struct fr_state *fr = state;
	uint64_t h = 1469598103934665603ull;

	for (uint32_t i = 0; i < fr->nfiles; i++) {
		const struct fr_file *f = &fr->files[i];
		for (const char *p = f->path; *p; p++)
			h = (h ^ (unsigned char)*p) * 1099511628211ull;
		h = (h ^ f->size) * 1099511628211ull;
		h = (h ^ (uint64_t)fr->cfg->range_start) * 1099511628211ull;
		h = (h ^ (uint64_t)fr->cfg->range_end) * 1099511628211ull;
		/* content when hashed; else (--trust-mtime, streams, S3)
		 * mtime and ETag */
		h = (h ^ (f->hashed ? f->content : (uint64_t)f->mtime)) *
		    1099511628211ull;
		if (!f->hashed)
			h = (h ^ (uint64_t)f->mtim.tv_nsec ^ f->etag_hash) *
			    1099511628211ull;
	}
	return h;
}

/* The carry and the nbufs buffers it trades places with, one chunk
 * each, which an input larger than all of them fills from end to end: in
 * one region of huge pages.  A smaller input, or files smaller than a
 * chunk on average (each file's last chunk is short), keeps buffers of
 * its own that grow as needed and touch only what they hold. */
static void pool_buffers(struct fr_state *fr)
{
	unsigned n = fr->nbufs;
	size_t slice = (fr->cfg->chunk_size + 4095) & ~(size_t)4095;
	size_t pool = ((n + 1) * slice + SP_HUGE_PAGE - 1) &
		      ~(SP_HUGE_PAGE - 1); /* no small-page tail */

	if ((n + 1) * slice < SP_HUGE_PAGE || fr->total_size < pool ||
	    fr->total_size / (fr->nfiles ? fr->nfiles : 1) < slice ||
	    !(fr->pool = sp_huge_malloc(pool)))
		return;
	fr->pool_len = pool;
	for (unsigned i = 0; i < n; i++) {
		fr->bufs[i].data = fr->pool + (size_t)i * slice;
		fr->bufs[i].cap = slice;
	}
	fr->carry = fr->pool + (size_t)n * slice;
	fr->carry_cap = slice;
}

static int fr_start(void *state, char *err, size_t errlen)
{
	struct fr_state *fr = state;
	unsigned n = fr->ctx->workers * 2 + 4;
	unsigned ring = 4;
	int rc;

	while (ring <= n)
		ring *= 2;
	fr->bufs = calloc(n, sizeof(*fr->bufs));
	if (!fr->bufs || sp_ring_init(&fr->free_bufs, ring)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fr->nbufs = n;
	pool_buffers(fr);
	/* the load history is written after the commit: it must be
	 * writable before anything moves */
	char msg[512] = "";
	if (fr->catalog && !fr->ctx->validate_only &&
	    (rc = spate_catalog_check_writable(fr->catalog, msg,
					       sizeof(msg)))) {
		snprintf(err, errlen,
			 "cannot record the load history of stage '%s': %s; "
			 "nothing was read (make the catalog writable, or "
			 "name another with --catalog)",
			 fr->cfg->stage, msg);
		return rc;
	}
	for (unsigned i = 0; i < n; i++)
		sp_ring_try_push_mpmc(&fr->free_bufs, &fr->bufs[i]);
	if (fr->on_error == FR_SKIP_FILE) {
		sp_jsonl_parser_init(&fr->scan_jsonl, fr->ctx->symtab);
		fr->scan = sp_batch_create(fr->ctx->symtab);
		if (!fr->scan) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
	}
	return 0;
}

/* ---- workers ------------------------------------------------------------- */

static void *fr_worker_create(void *state, unsigned worker)
{
	struct fr_state *fr = state;
	struct fr_worker *w = malloc(sizeof(*w));

	if (w)
		sp_jsonl_parser_init(&w->jsonl, fr->ctx->symtab);
	return w;
}

static void fr_worker_destroy(void *state, void *wstate)
{
	free(wstate);
}

static int fr_parse(void *state, void *wstate, const struct sp_chunk *c,
		    struct sp_batch *b)
{
	struct fr_state *fr = state;
	struct fr_worker *w = wstate;
	int rc;

	if (!w)
		return -ENOMEM;
	struct fr_file *f = c->ctx;
	if (fr->csv)
		rc = sp_csv_parse(&f->csv, c->data, c->len, c->first, c->offset,
				  b);
	else
		rc = sp_jsonl_parse(&w->jsonl, c->data, c->len, c->first,
				    c->offset, b);
	if (rc < 0)
		return rc;
	if (fr->on_error == FR_ABORT && b->nerrors) {
		/* the engine fails the run naming this first bad record */
		struct sp_record_error *e = &b->errors[0];
		char why[512];
		snprintf(why, sizeof(why), "on_error: abort: %s", e->reason);
		char *r = sp_arena_strndup(&b->arena, why, strlen(why));
		if (r)
			e->reason = r;
		return -ECANCELED;
	}
	if (fr->catalog)
		atomic_fetch_add_explicit(&f->records, b->nrecs,
					  memory_order_relaxed);
	return 0;
}

static void fr_status(void *state, struct sp_stage_status *st)
{
	struct fr_state *fr = state;
	unsigned bad = atomic_load(&fr->nbad);
	unsigned nread = atomic_load(&fr->nread);
	int n;

	st->files = nread;
	if (!fr->catalog && fr->on_error != FR_SKIP_FILE)
		return;
	st->skipped = fr->nloaded;
	n = snprintf(st->note, sizeof(st->note), "%u file%s read", nread,
		     nread == 1 ? "" : "s");
	if (fr->catalog && n > 0 && (size_t)n < sizeof(st->note))
		n += snprintf(st->note + n, sizeof(st->note) - (size_t)n,
			      ", %u skipped (loaded before)", fr->nloaded);
	if (fr->on_error == FR_SKIP_FILE && n > 0 &&
	    (size_t)n < sizeof(st->note))
		snprintf(st->note + n, sizeof(st->note) - (size_t)n,
			 ", %u skipped (bad records)", bad);
}

/* After a run whose output was committed: the files read in full go into
 * the catalog's load history (one transaction). */
/* Whether f's records are in the committed output and the history
 * lacks it: read in full by this run, or, in a run skipped because its
 * output was committed already, every file not in the history (an
 * earlier run committed it but could not record it; its record count
 * is then unknown: 0). */
static bool to_record(const struct fr_file *f)
{
	return f->done || (!f->loaded && !f->bad && f->hashed);
}

/* After the commit: the loads go into the history.  A failure fails the
 * run (exit 4) with what to do: the output stays committed. */
static int fr_after_commit(void *state, char *err, size_t errlen)
{
	struct fr_state *fr = state;
	const struct sp_stage_ctx *ctx = fr->ctx;
	struct spate_catalog_load *v;
	size_t n = 0;
	char msg[1024] = "";

	if (!fr->catalog || ctx->validate_only)
		return 0;
	v = calloc(fr->nfiles ? fr->nfiles : 1, sizeof(*v));
	if (!v) {
		snprintf(err, errlen, "out of memory recording the load history");
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < fr->nfiles; i++) {
		struct fr_file *f = &fr->files[i];
		if (!to_record(f))
			continue;
		v[n++] = (struct spate_catalog_load){
			.stage = fr->cfg->stage,
			.path = f->display,
			.size = f->size,
			.mtime = f->mtime,
			.xxh64 = f->done ? f->xxh64 : f->content,
			.flow = (char *)ctx->flow,
			.run_id = (char *)ctx->run_id,
			.records = atomic_load(&f->records),
		};
	}
	int rc = spate_catalog_record_loads(fr->catalog, v, n, msg,
					    sizeof(msg));
	free(v);
	if (rc) {
		snprintf(err, errlen,
			 "the output is committed, but its %zu loaded file%s "
			 "could not be recorded in the load history: %s.  Fix "
			 "that, then run the same flow again before new files "
			 "arrive in stage '%s': it finds the output committed, "
			 "writes nothing and records them (with new files, or "
			 "--force, they would be loaded twice)",
			 n, n == 1 ? "" : "s", msg, fr->cfg->stage);
		return rc;
	}
	if (n)
		sp_log_info("[origin:file_reader:%s] %zu load%s recorded in %s",
			    ctx->id, n, n == 1 ? "" : "s",
			    spate_catalog_path(fr->catalog));
	return 0;
}

static void fr_close(void *state)
{
	struct fr_state *fr = state;

	if (!fr)
		return;
	spate_catalog_close(fr->catalog);
	free(fr->root);
	sp_batch_destroy(fr->scan);
	if (fr->rd) {
		if (fr->blk)
			fr_src_release(fr, fr->blk);
		fr_src_close(fr);
	}
	sp_io_destroy(fr->io);
	fr_s3_close(fr);
	sp_decomp_destroy(fr->dec);
	for (uint32_t i = 0; i < fr->nfiles; i++) {
		free(fr->files[i].path);
		free(fr->files[i].display);
		if (fr->files[i].csv_ready)
			sp_csv_parser_fini(&fr->files[i].csv);
	}
	free(fr->files);
	for (unsigned i = 0; fr->bufs && i < fr->nbufs; i++)
		if (!fr_pooled(fr, fr->bufs[i].data))
			free(fr->bufs[i].data);
	free(fr->bufs);
	if (fr->free_bufs.ring)
		sp_ring_fini(&fr->free_bufs);
	if (!fr_pooled(fr, fr->carry))
		free(fr->carry);
	sp_huge_free(fr->pool, fr->pool_len);
	free(fr->schema);
	free(fr);
}

const struct sp_stage_desc sp_stage_file_reader = {
	.abi = SP_STAGE_ABI,
	.name = "file_reader",
	.kind = SP_ORIGIN,
	.help = "read JSON lines or CSV files (a glob or list; zstd, gzip and "
		"lz4 read as a stream), parsed on every worker",
	.options = fr_options,
	.config_size = sizeof(struct fr_config),
	.create = fr_create,
	.check = fr_check,
	.start = fr_start,
	.worker_create = fr_worker_create,
	.worker_destroy = fr_worker_destroy,
	.next = fr_next,
	.parse = fr_parse,
	.release = fr_release,
	.input_size = fr_input_size,
	.identity = fr_identity,
	.identity_pending = fr_identity_pending,
	.complete_identity = fr_complete_identity,
	.status = fr_status,
	.close = fr_close,
	.after_commit = fr_after_commit,
};
