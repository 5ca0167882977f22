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
#include "codec/jsonl.h"
#include "io/zstd_codec.h"
#include "spate/catalog.h"

struct fr_column {
	char *name;
	char *type;
};

struct fr_config {
	struct sp_strlist path;
	char *format;
	char *compression;
	char delimiter;
	char quote;
	bool header;
	int64_t ignore_lines;
	struct sp_objlist schema;
	uint64_t chunk_size;
	char *stage;
	char *on_error;
};

static const char *const formats[] = {"jsonl", "csv", NULL};
static const char *const compressions[] = {"auto", "none", "zstd", NULL};
static const char *const column_types[] = {"string", "int", "double", "bool",
					   "timestamp", NULL};
static const char *const on_errors[] = {"continue", "skip_file", "abort",
					NULL};

enum fr_on_error {
	FR_CONTINUE = 0,
	FR_SKIP_FILE,
	FR_ABORT,
};

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
		 "order"},
	{.name = "format", .type = SP_OPT_ENUM, .def = "jsonl",
	 .choices = formats, .offset = offsetof(struct fr_config, format),
	 .help = "record format of the files"},
	{.name = "compression", .type = SP_OPT_ENUM, .def = "auto",
	 .choices = compressions,
	 .offset = offsetof(struct fr_config, compression),
	 .help = "auto: zstd when the file starts with the zstd magic"},
	{.name = "delimiter", .type = SP_OPT_CHAR, .def = ",",
	 .offset = offsetof(struct fr_config, delimiter),
	 .help = "CSV field delimiter"},
	{.name = "quote", .type = SP_OPT_CHAR, .def = "\"",
	 .offset = offsetof(struct fr_config, quote),
	 .help = "CSV quote character"},
	{.name = "header", .type = SP_OPT_BOOL, .def = "true",
	 .offset = offsetof(struct fr_config, header),
	 .help = "CSV: the first line (after ignore_lines) names the columns"},
	{.name = "ignore_lines", .type = SP_OPT_INT, .def = "0", .bounded = true,
	 .min = 0, .max = 1e9, .offset = offsetof(struct fr_config, ignore_lines),
	 .help = "CSV: lines skipped at the start of each file"},
	{.name = "schema", .type = SP_OPT_OBJECT_LIST, .items = column_options,
	 .item_size = sizeof(struct fr_column),
	 .offset = offsetof(struct fr_config, schema),
	 .help = "CSV: typed columns, e.g. [{name: expense, type: double}]; "
		 "a value that does not convert is a record error"},
	{.name = "chunk_size", .type = SP_OPT_SIZE, .def = "1M", .bounded = true,
	 .min = 4096, .max = 1 << 30,
	 .offset = offsetof(struct fr_config, chunk_size),
	 .help = "input bytes per batch handed to a worker"},
	{.name = "stage", .type = SP_OPT_STRING,
	 .offset = offsetof(struct fr_config, stage),
	 .help = "catalog stage (`spate stage create-local`) whose root the "
		 "paths are relative to; they may not leave it.  Files this "
		 "flow already loaded from it (same path, size and content) "
		 "are skipped unless --force; `spate history` lists loads"},
	{.name = "on_error", .type = SP_OPT_ENUM, .def = "continue",
	 .choices = on_errors, .offset = offsetof(struct fr_config, on_error),
	 .help = "per file: continue (bad records follow on_record_error), "
		 "skip_file (a file with any bad record is not loaded at all; "
		 "files are parsed twice) or abort (the first bad record fails "
		 "the run, nothing is committed)"},
	{0},
};

struct fr_file {
	char *path;    /* as opened */
	char *display; /* as shown in messages */
	uint64_t size;
	int64_t mtime;
	struct sp_csv_parser csv; /* per file: its header */
	bool csv_ready;
	bool loaded;  /* in the load history already: skipped */
	bool bad;     /* on_error: skip_file found a bad record */
	bool done;    /* read to its end (reader thread) */
	uint64_t xxh64; /* of its bytes, once done */
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
	uint32_t nloaded;	       /* files skipped: loaded before */
	atomic_uint nbad, nread;       /* skipped (skip_file), read */
	bool csv;
	struct sp_csv_column *schema;
	struct fr_file *files;
	uint32_t nfiles;
	uint64_t total_size;

	/* reader thread */
	struct sp_io *io;
	uint32_t cur_file;
	struct sp_io_reader *rd;
	struct sp_zstd_dec *dec;
	bool zst;
	bool file_started; /* preamble handled */
	bool first_block;  /* the next block read starts the file */
	uint64_t line;	   /* next line number in the current file */
	uint64_t offset;   /* byte offset of the carry in the file */
	char *carry;	   /* bytes after the last record boundary */
	size_t carry_len, carry_cap;
	const char *blk; /* current io block not yet consumed */
	size_t blk_len, blk_used;
	bool eof;
	struct fr_buf *bufs;
	unsigned nbufs;
	struct sp_ring free_bufs;
	XXH64_state_t hash; /* of the current file's bytes */
	/* on_error: skip_file */
	struct sp_jsonl_parser scan_jsonl;
	struct sp_batch *scan;
};

static int add_file(struct fr_state *fr, const char *path, const char *shown,
		    char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "option 'path': cannot read %s: %s",
			 shown, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "option 'path': %s is a directory (use %s/*.jsonl)",
			 shown, shown);
		return -EISDIR;
	}
	if (access(path, R_OK) < 0) {
		snprintf(err, errlen, "option 'path': cannot read %s: %s",
			 shown, strerror(errno));
		return -errno;
	}
	struct fr_file *p = realloc(fr->files, (fr->nfiles + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	fr->files = p;
	struct fr_file *f = &p[fr->nfiles++];
	memset(f, 0, sizeof(*f));
	f->path = strdup(path);
	f->display = strdup(shown);
	f->size = (uint64_t)st.st_size;
	f->mtime = (int64_t)st.st_mtime;
	fr->total_size += f->size;
	return f->path && f->display ? 0 : -ENOMEM;
}

/* With `stage`: rel must stay under the stage's root. */
static int check_inside(struct fr_state *fr, const char *rel, char *err,
			size_t errlen)
{
	char msg[512];
	int rc;

	if (!fr->root)
		return 0;
	rc = spate_catalog_check_path(fr->root, fr->cfg->stage, rel, msg,
				      sizeof(msg));
	if (rc)
		snprintf(err, errlen, "option 'path': %s", msg);
	return rc;
}

static int expand_paths(struct fr_state *fr, char *err, size_t errlen)
{
	const struct fr_config *cfg = fr->cfg;
	const char *base = fr->root ? fr->root : fr->ctx->flow_dir;

	for (uint32_t i = 0; i < cfg->path.n; i++) {
		const char *p = cfg->path.v[i];
		char *full;
		int rc = check_inside(fr, p, err, errlen);
		if (rc)
			return rc;
		if (p[0] == '/')
			full = strdup(p);
		else if (asprintf(&full, "%s/%s", base, p) < 0)
			full = NULL;
		if (!full)
			return -ENOMEM;
		if (!strpbrk(p, "*?[")) {
			rc = add_file(fr, full, p, err, errlen);
			free(full);
			if (rc)
				return rc;
			continue;
		}
		glob_t g;
		rc = glob(full, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH) {
			snprintf(err, errlen,
				 "option 'path': '%s' matches no file (looked "
				 "in %s)",
				 p, base);
			free(full);
			return -ENOENT;
		} else if (rc) {
			snprintf(err, errlen,
				 "option 'path': cannot expand '%s'", p);
			free(full);
			return -EIO;
		}
		/* glob sorts; show names relative as the user wrote them */
		size_t prefix = strlen(full) - strlen(p);
		for (size_t k = 0; k < g.gl_pathc; k++) {
			const char *m = g.gl_pathv[k];
			const char *shown = strlen(m) > prefix ? m + prefix : m;
			rc = check_inside(fr, shown, err, errlen);
			if (rc == 0)
				rc = add_file(fr, m, shown, err, errlen);
			if (rc) {
				globfree(&g);
				free(full);
				return rc;
			}
		}
		globfree(&g);
		free(full);
	}
	return 0;
}

static void fr_close(void *state);

static int open_stage(struct fr_state *fr, char *err, size_t errlen)
{
	char msg[1024] = "";
	struct stat st;
	int rc;

	rc = spate_catalog_open(fr->ctx->catalog, &fr->catalog, msg,
				sizeof(msg));
	if (rc == 0)
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
		if (rc == 1) {
			rc = sp_xxh64_file(f->path, &h);
			if (rc < 0) {
				snprintf(err, errlen, "cannot read %s: %s",
					 f->display, strerror(-rc));
				return rc;
			}
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
			sp_log_info("[origin:file_reader:%s] %s: loaded by "
				    "flow '%s' before; skipped",
				    fr->ctx->id, f->display, flow);
		}
	}
	if (fr->nloaded)
		sp_log_info("[origin:file_reader:%s] %u of %u files skipped: "
			    "loaded before (`spate history --flow %s`; "
			    "--force loads them again)",
			    fr->ctx->id, fr->nloaded, fr->nfiles, flow);
	return 0;
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
	fr->csv = !strcmp(cfg->format, "csv");
	if (cfg->schema.n) {
		const struct fr_column *cols = cfg->schema.items;
		fr->schema = calloc(cfg->schema.n, sizeof(*fr->schema));
		if (!fr->schema) {
			rc = -ENOMEM;
			goto fail;
		}
		for (uint32_t i = 0; i < cfg->schema.n; i++) {
			fr->schema[i].name = cols[i].name;
			sp_csv_type_parse(cols[i].type, &fr->schema[i].type);
		}
	}
	fr->on_error = !strcmp(cfg->on_error, "skip_file") ? FR_SKIP_FILE
		       : !strcmp(cfg->on_error, "abort")   ? FR_ABORT
							   : FR_CONTINUE;
	/* a validating run reports every bad record of every file */
	if (ctx->validate_only)
		fr->on_error = FR_CONTINUE;
	if (cfg->stage && (rc = open_stage(fr, err, errlen)))
		goto fail;
	rc = expand_paths(fr, err, errlen);
	if (rc)
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

static uint64_t fr_input_size(void *state)
{
	struct fr_state *fr = state;

	return fr->total_size;
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
		h = (h ^ (uint64_t)f->mtime) * 1099511628211ull;
	}
	return h;
}

static int fr_start(void *state, char *err, size_t errlen)
{
	struct fr_state *fr = state;
	unsigned n = fr->ctx->workers * 2 + 4;
	unsigned ring = 4;

	while (ring <= n)
		ring *= 2;
	fr->bufs = calloc(n, sizeof(*fr->bufs));
	if (!fr->bufs || sp_ring_init(&fr->free_bufs, ring)) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	fr->nbufs = n;
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

/* ---- reader thread ------------------------------------------------------- */

static int open_next_file(struct fr_state *fr, char *err, size_t errlen)
{
	struct fr_file *f = &fr->files[fr->cur_file];
	int rc;

	if (!fr->io) {
		rc = sp_io_create(8, &fr->io);
		if (rc < 0) {
			snprintf(err, errlen, "cannot set up I/O: %s",
				 strerror(-rc));
			return rc;
		}
	}
	rc = sp_io_reader_open(fr->io, f->path, 1 << 20, 4, &fr->rd);
	if (rc < 0) {
		snprintf(err, errlen, "cannot open %s: %s", f->display,
			 strerror(-rc));
		return rc;
	}
	fr->zst = !strcmp(fr->cfg->compression, "zstd");
	fr->file_started = false;
	fr->first_block = true;
	fr->line = 1;
	fr->offset = 0;
	fr->carry_len = 0;
	fr->blk = NULL;
	fr->blk_len = fr->blk_used = 0;
	fr->eof = false;
	XXH64_reset(&fr->hash, 0);
	return 0;
}

static int carry_reserve(struct fr_state *fr, size_t need)
{
	if (fr->carry_cap >= need)
		return 0;
	size_t cap = fr->carry_cap ? fr->carry_cap : 1 << 20;
	while (cap < need)
		cap *= 2;
	char *p = realloc(fr->carry, cap);
	if (!p)
		return -ENOMEM;
	fr->carry = p;
	fr->carry_cap = cap;
	return 0;
}

/* Appends input to the carry until it holds at least `want` bytes or the
 * file ends.  Returns 0 or -errno. */
static int fill(struct fr_state *fr, size_t want, char *err, size_t errlen)
{
	struct fr_file *f = &fr->files[fr->cur_file];

	while (fr->carry_len < want && !fr->eof) {
		if (fr->blk && fr->blk_used == fr->blk_len) {
			sp_io_reader_release(fr->rd, fr->blk);
			fr->blk = NULL;
		}
		if (!fr->blk) {
			int rc = sp_io_reader_next(fr->rd, &fr->blk,
						   &fr->blk_len);
			if (rc < 0) {
				snprintf(err, errlen, "cannot read %s: %s",
					 f->display, strerror(-rc));
				return rc;
			}
			if (rc == 0) {
				fr->blk = NULL;
				fr->eof = true;
				if (fr->zst && fr->dec &&
				    !sp_zstd_dec_is_clean(fr->dec)) {
					snprintf(err, errlen,
						 "%s: truncated zstd stream",
						 f->display);
					return -EIO;
				}
				break;
			}
			fr->blk_used = 0;
			if (fr->catalog)
				XXH64_update(&fr->hash, fr->blk,
						   fr->blk_len);
			/* auto: a zstd frame's magic number at the start of
			 * the file, whatever its name */
			if (fr->first_block &&
			    !strcmp(fr->cfg->compression, "auto"))
				fr->zst = sp_zstd_is_zstd(fr->blk, fr->blk_len);
			fr->first_block = false;
			if (fr->zst && !fr->dec) {
				fr->dec = sp_zstd_dec_create();
				if (!fr->dec)
					return -ENOMEM;
			}
		}
		if (!fr->zst) {
			/* no more than wanted: the rest of the block stays
			 * for the next chunk instead of being moved twice */
			size_t n = fr->blk_len - fr->blk_used;
			if (n > want - fr->carry_len)
				n = want - fr->carry_len;
			if (carry_reserve(fr, fr->carry_len + n))
				return -ENOMEM;
			memcpy(fr->carry + fr->carry_len,
			       fr->blk + fr->blk_used, n);
			fr->carry_len += n;
			fr->blk_used += n;
		} else {
			if (carry_reserve(fr, fr->carry_len + (1 << 20)))
				return -ENOMEM;
			size_t used, made;
			int rc = sp_zstd_dec_run(
				fr->dec, fr->blk + fr->blk_used,
				fr->blk_len - fr->blk_used, &used,
				fr->carry + fr->carry_len,
				fr->carry_cap - fr->carry_len, &made);
			if (rc < 0) {
				snprintf(err, errlen,
					 "%s: corrupt zstd data near byte %llu",
					 f->display,
					 (unsigned long long)fr->offset);
				return rc;
			}
			fr->blk_used += used;
			fr->carry_len += made;
		}
	}
	return 0;
}

static void close_file(struct fr_state *fr)
{
	if (fr->blk)
		sp_io_reader_release(fr->rd, fr->blk);
	fr->blk = NULL;
	sp_io_reader_close(fr->rd);
	fr->rd = NULL;
	if (fr->dec)
		sp_zstd_dec_reset(fr->dec);
}

/* The current file was read to its end: on to the next. */
static void finish_file(struct fr_state *fr)
{
	struct fr_file *f = &fr->files[fr->cur_file];

	close_file(fr);
	f->xxh64 = XXH64_digest(&fr->hash);
	f->done = true;
	atomic_fetch_add(&fr->nread, 1);
	fr->cur_file++;
}

/* Reads the CSV preamble of the current file f into csv (initialised
 * here; *ready tells whether to fini it). */
static int read_preamble(struct fr_state *fr, struct fr_file *f,
			 struct sp_csv_parser *csv, bool *ready, char *err,
			 size_t errlen)
{
	struct sp_csv_options o = {
		.delimiter = fr->cfg->delimiter,
		.quote = fr->cfg->quote,
		.header = fr->cfg->header,
		.ignore_lines = (uint32_t)fr->cfg->ignore_lines,
		.schema = fr->schema,
		.nschema = fr->cfg->schema.n,
	};
	int rc = sp_csv_parser_init(csv, &o, fr->ctx->symtab);
	if (rc < 0)
		return rc;
	*ready = true;
	size_t want = 1 << 16;
	for (;;) {
		rc = fill(fr, want, err, errlen);
		if (rc < 0)
			return rc;
		uint64_t lines = 0;
		char msg[256] = "";
		ssize_t used = sp_csv_read_preamble(csv, fr->ctx->symtab,
						    fr->carry, fr->carry_len,
						    &lines, msg, sizeof(msg));
		if (used == -EAGAIN && !fr->eof) {
			want = fr->carry_len * 2;
			continue;
		}
		if (used == -EAGAIN && fr->carry_len &&
		    fr->carry[fr->carry_len - 1] != '\n') {
			/* the last line has no newline: end it, try again */
			if (carry_reserve(fr, fr->carry_len + 1))
				return -ENOMEM;
			fr->carry[fr->carry_len++] = '\n';
			continue;
		}
		if (used == -EAGAIN) /* empty, or blank lines only */
			used = (ssize_t)fr->carry_len;
		if (used < 0) {
			snprintf(err, errlen, "%s: %s", f->display, msg);
			return (int)used;
		}
		memmove(fr->carry, fr->carry + used, fr->carry_len - (size_t)used);
		fr->carry_len -= (size_t)used;
		fr->offset += (uint64_t)used;
		fr->line += lines;
		return 0;
	}
}

/* Cuts the next chunk of the current file: *cut bytes at the start of the
 * carry, ending on a record boundary within the first chunk_size bytes
 * (only a record longer than that makes a chunk grow); 0 at its end. */
static int cut_chunk(struct fr_state *fr, const struct sp_csv_options *csv,
		     size_t *cut, char *err, size_t errlen)
{
	size_t want = fr->cfg->chunk_size;
	int rc;

	for (;;) {
		if ((rc = fill(fr, want, err, errlen)))
			return rc;
		if (fr->eof && fr->carry_len <= want) {
			*cut = fr->carry_len;
			return 0;
		}
		size_t lim = fr->carry_len < want ? fr->carry_len : want;
		*cut = csv ? sp_csv_split(csv, fr->carry, lim)
			   : sp_jsonl_split(fr->carry, lim);
		if (*cut)
			return 0;
		want *= 2; /* one record longer than a chunk */
	}
}

/* The first cut bytes of the carry were used. */
static void consume(struct fr_state *fr, size_t cut)
{
	fr->line += sp_count_lines(fr->carry, cut);
	fr->offset += cut;
	memmove(fr->carry, fr->carry + cut, fr->carry_len - cut);
	fr->carry_len -= cut;
}

/* on_error: skip_file.  Parses the current file on this thread with a
 * private parser before any of it is handed out; *bad when a record does
 * not parse (or the CSV header does not fit), which is then logged with
 * its line.  The file is closed again either way. */
static int prescan(struct fr_state *fr, bool *bad, char *err, size_t errlen)
{
	struct fr_file *f = &fr->files[fr->cur_file];
	struct sp_csv_parser csv;
	bool csv_ready = false;
	char why[512] = "";
	int rc;

	*bad = false;
	if ((rc = open_next_file(fr, err, errlen)))
		return rc;
	if (fr->csv) {
		rc = read_preamble(fr, f, &csv, &csv_ready, why, sizeof(why));
		if (rc == -EINVAL) {
			*bad = true;
			rc = 0;
			goto out;
		}
		if (rc) {
			snprintf(err, errlen, "%s", why);
			goto out;
		}
	}
	for (;;) {
		size_t cut;
		if ((rc = cut_chunk(fr, csv_ready ? &csv.opt : NULL, &cut, err,
				    errlen)))
			goto out;
		if (cut == 0)
			break;
		struct sp_batch *b = fr->scan;
		sp_batch_reset(b);
		b->source = f->display;
		int n = csv_ready ? sp_csv_parse(&csv, fr->carry, cut, fr->line,
						 fr->offset, b)
				  : sp_jsonl_parse(&fr->scan_jsonl, fr->carry,
						   cut, fr->line, fr->offset,
						   b);
		if (n < 0) {
			snprintf(err, errlen, "out of memory");
			rc = n;
			goto out;
		}
		if (b->nerrors) {
			const struct sp_record_error *e = &b->errors[0];
			snprintf(why, sizeof(why), "line %llu (byte %llu): %s",
				 (unsigned long long)e->line,
				 (unsigned long long)e->offset, e->reason);
			*bad = true;
			break;
		}
		consume(fr, cut);
	}
out:
	close_file(fr);
	if (csv_ready)
		sp_csv_parser_fini(&csv);
	if (*bad) {
		f->bad = true;
		atomic_fetch_add(&fr->nbad, 1);
		sp_log_warn("[origin:file_reader:%s] on_error: skip_file: %s "
			    "not loaded: %s",
			    fr->ctx->id, f->display, why);
	}
	return rc;
}

static int fr_next(void *state, struct sp_chunk *out, char *err, size_t errlen)
{
	struct fr_state *fr = state;
	int rc;

	for (;;) {
		if (!fr->rd) {
			while (fr->cur_file < fr->nfiles &&
			       fr->files[fr->cur_file].loaded)
				fr->cur_file++;
			if (fr->cur_file >= fr->nfiles)
				return 0;
			if (fr->on_error == FR_SKIP_FILE) {
				bool bad;
				if ((rc = prescan(fr, &bad, err, errlen)))
					return rc;
				if (bad) {
					fr->cur_file++;
					continue;
				}
			}
			if ((rc = open_next_file(fr, err, errlen)))
				return rc;
		}
		struct fr_file *f = &fr->files[fr->cur_file];
		if (!fr->file_started) {
			fr->file_started = true;
			if (fr->csv &&
			    (rc = read_preamble(fr, f, &f->csv, &f->csv_ready,
						err, errlen)))
				return rc;
		}
		size_t cut;
		if ((rc = cut_chunk(fr, fr->csv ? &f->csv.opt : NULL, &cut, err,
				    errlen)))
			return rc;
		if (cut == 0) {
			finish_file(fr);
			continue;
		}
		/* The carry itself becomes the chunk: it trades places with
		 * a pool buffer, which takes over the carry's tail (what
		 * follows the cut: usually part of one record). */
		void *item;
		if (sp_ring_pop_mpmc(&fr->free_bufs, &item))
			return -EPIPE;
		struct fr_buf *b = item;
		size_t tail = fr->carry_len - cut;
		char *chunk = fr->carry;
		size_t chunk_cap = fr->carry_cap;
		fr->carry = b->data;
		fr->carry_cap = b->cap;
		fr->carry_len = 0;
		b->data = chunk;
		b->cap = chunk_cap;
		if (carry_reserve(fr, tail)) {
			sp_ring_try_push_mpmc(&fr->free_bufs, b);
			return -ENOMEM;
		}
		if (tail)
			memcpy(fr->carry, chunk + cut, tail);
		fr->carry_len = tail;
		out->data = b->data;
		out->len = cut;
		out->first = fr->line;
		out->offset = fr->offset;
		out->source = f->display;
		out->ctx = f;
		out->buf = b;
		fr->line += sp_count_lines(chunk, cut);
		fr->offset += cut;
		if (fr->eof && fr->carry_len == 0)
			finish_file(fr);
		return 1;
	}
}

static void fr_release(void *state, struct sp_chunk *c)
{
	struct fr_state *fr = state;

	if (c->buf)
		sp_ring_try_push_mpmc(&fr->free_bufs, c->buf);
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
static void record_loads(struct fr_state *fr)
{
	const struct sp_stage_ctx *ctx = fr->ctx;
	struct spate_catalog_load *v;
	size_t n = 0;
	char err[1024] = "";

	if (!fr->catalog || !ctx->committed || !*ctx->committed ||
	    ctx->validate_only)
		return;
	v = calloc(fr->nfiles ? fr->nfiles : 1, sizeof(*v));
	if (!v) {
		sp_log_error("[origin:file_reader:%s] out of memory recording "
			     "the load history",
			     ctx->id);
		return;
	}
	for (uint32_t i = 0; i < fr->nfiles; i++) {
		struct fr_file *f = &fr->files[i];
		if (!f->done)
			continue;
		v[n++] = (struct spate_catalog_load){
			.stage = fr->cfg->stage,
			.path = f->display,
			.size = f->size,
			.mtime = f->mtime,
			.xxh64 = f->xxh64,
			.flow = (char *)ctx->flow,
			.run_id = (char *)ctx->run_id,
			.records = atomic_load(&f->records),
		};
	}
	if (spate_catalog_record_loads(fr->catalog, v, n, err, sizeof(err)))
		sp_log_error("[origin:file_reader:%s] the run's output is "
			     "committed but its %zu loaded file%s could not be "
			     "recorded (a rerun loads them again): %s",
			     ctx->id, n, n == 1 ? "" : "s", err);
	else if (n)
		sp_log_info("[origin:file_reader:%s] %zu load%s recorded in %s",
			    ctx->id, n, n == 1 ? "" : "s",
			    spate_catalog_path(fr->catalog));
	free(v);
}

static void fr_close(void *state)
{
	struct fr_state *fr = state;

	if (!fr)
		return;
	record_loads(fr);
	spate_catalog_close(fr->catalog);
	free(fr->root);
	sp_batch_destroy(fr->scan);
	if (fr->rd) {
		if (fr->blk)
			sp_io_reader_release(fr->rd, fr->blk);
		sp_io_reader_close(fr->rd);
	}
	sp_io_destroy(fr->io);
	sp_zstd_dec_destroy(fr->dec);
	for (uint32_t i = 0; i < fr->nfiles; i++) {
		free(fr->files[i].path);
		free(fr->files[i].display);
		if (fr->files[i].csv_ready)
			sp_csv_parser_fini(&fr->files[i].csv);
	}
	free(fr->files);
	for (unsigned i = 0; fr->bufs && i < fr->nbufs; i++)
		free(fr->bufs[i].data);
	free(fr->bufs);
	if (fr->free_bufs.ring)
		sp_ring_fini(&fr->free_bufs);
	free(fr->carry);
	free(fr->schema);
	free(fr);
}

const struct sp_stage_desc sp_stage_file_reader = {
	.abi = SP_STAGE_ABI,
	.name = "file_reader",
	.kind = SP_ORIGIN,
	.help = "read JSON lines or CSV files (a glob or list; .zst read as a "
		"stream), parsed on every worker",
	.options = fr_options,
	.config_size = sizeof(struct fr_config),
	.create = fr_create,
	.start = fr_start,
	.worker_create = fr_worker_create,
	.worker_destroy = fr_worker_destroy,
	.next = fr_next,
	.parse = fr_parse,
	.release = fr_release,
	.input_size = fr_input_size,
	.identity = fr_identity,
	.status = fr_status,
	.close = fr_close,
};
