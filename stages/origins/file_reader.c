/*
 * file_reader: reads files (a glob or a list, sorted) with several block
 * reads in flight (io/fileio.h: io_uring or read), decompresses .zst
 * input as a stream, and cuts the bytes into chunks that end on record
 * boundaries (quote-aware for CSV) so that every worker parses.  Chunk
 * buffers are a fixed pool owned by the reader thread: workers hand them
 * back through a ring, so memory stays bounded whatever the input size.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <glob.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/ring.h"
#include "engine/stage.h"
#include "io/csv.h"
#include "io/fileio.h"
#include "io/jsonl.h"
#include "io/zstd_codec.h"

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
};

static const char *const formats[] = {"jsonl", "csv", NULL};
static const char *const compressions[] = {"auto", "none", "zstd", NULL};
static const char *const column_types[] = {"string", "int", "double", "bool",
					   "timestamp", NULL};

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
		 "folder; read in sorted order"},
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
	{0},
};

struct fr_file {
	char *path;    /* as opened */
	char *display; /* as shown in messages */
	uint64_t size;
	int64_t mtime;
	struct sp_csv_parser csv; /* per file: its header */
	bool csv_ready;
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

static int expand_paths(struct fr_state *fr, char *err, size_t errlen)
{
	const struct fr_config *cfg = fr->cfg;

	for (uint32_t i = 0; i < cfg->path.n; i++) {
		const char *p = cfg->path.v[i];
		char *full;
		if (p[0] == '/')
			full = strdup(p);
		else if (asprintf(&full, "%s/%s", fr->ctx->flow_dir, p) < 0)
			full = NULL;
		if (!full)
			return -ENOMEM;
		if (!strpbrk(p, "*?[")) {
			int rc = add_file(fr, full, p, err, errlen);
			free(full);
			if (rc)
				return rc;
			continue;
		}
		glob_t g;
		int rc = glob(full, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH) {
			snprintf(err, errlen,
				 "option 'path': '%s' matches no file (looked "
				 "in %s)",
				 p, fr->ctx->flow_dir);
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
			rc = add_file(fr, m,
				      strlen(m) > prefix ? m + prefix : m, err,
				      errlen);
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
	rc = expand_paths(fr, err, errlen);
	if (rc)
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
			size_t n = fr->blk_len - fr->blk_used;
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

static void finish_file(struct fr_state *fr)
{
	if (fr->blk)
		sp_io_reader_release(fr->rd, fr->blk);
	fr->blk = NULL;
	sp_io_reader_close(fr->rd);
	fr->rd = NULL;
	if (fr->dec)
		sp_zstd_dec_reset(fr->dec);
	fr->cur_file++;
}

static size_t count_lines(const char *p, size_t n)
{
	size_t lines = 0;
	const char *end = p + n;

	while ((p = memchr(p, '\n', (size_t)(end - p)))) {
		lines++;
		p++;
	}
	return lines;
}

static int read_preamble(struct fr_state *fr, struct fr_file *f, char *err,
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
	int rc = sp_csv_parser_init(&f->csv, &o, fr->ctx->symtab);
	if (rc < 0)
		return rc;
	f->csv_ready = true;
	size_t want = 1 << 16;
	for (;;) {
		rc = fill(fr, want, err, errlen);
		if (rc < 0)
			return rc;
		uint64_t lines = 0;
		char msg[256] = "";
		ssize_t used = sp_csv_read_preamble(&f->csv, fr->ctx->symtab,
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

static int fr_next(void *state, struct sp_chunk *out, char *err, size_t errlen)
{
	struct fr_state *fr = state;
	size_t chunk = fr->cfg->chunk_size;
	int rc;

	for (;;) {
		if (!fr->rd) {
			if (fr->cur_file >= fr->nfiles)
				return 0;
			if ((rc = open_next_file(fr, err, errlen)))
				return rc;
		}
		struct fr_file *f = &fr->files[fr->cur_file];
		if (!fr->file_started) {
			fr->file_started = true;
			if (fr->csv && (rc = read_preamble(fr, f, err, errlen)))
				return rc;
		}
		/* Cut at the last record boundary within the first `want`
		 * bytes; only a record longer than that makes a chunk grow. */
		size_t want = chunk;
		size_t cut = 0;
		for (;;) {
			if ((rc = fill(fr, want, err, errlen)))
				return rc;
			if (fr->eof && fr->carry_len <= want) {
				cut = fr->carry_len;
				break;
			}
			size_t lim = fr->carry_len < want ? fr->carry_len
							  : want;
			cut = fr->csv ? sp_csv_split(&f->csv.opt, fr->carry,
						     lim)
				      : sp_jsonl_split(fr->carry, lim);
			if (cut)
				break;
			want *= 2; /* one record longer than a chunk */
		}
		if (cut == 0) {
			finish_file(fr);
			continue;
		}
		/* hand the chunk over in a pool buffer */
		void *item;
		if (sp_ring_pop_mpmc(&fr->free_bufs, &item))
			return -EPIPE;
		struct fr_buf *b = item;
		if (b->cap < cut) {
			char *p = realloc(b->data, cut);
			if (!p) {
				sp_ring_try_push_mpmc(&fr->free_bufs, b);
				return -ENOMEM;
			}
			b->data = p;
			b->cap = cut;
		}
		memcpy(b->data, fr->carry, cut);
		memmove(fr->carry, fr->carry + cut, fr->carry_len - cut);
		fr->carry_len -= cut;
		out->data = b->data;
		out->len = cut;
		out->first = fr->line;
		out->offset = fr->offset;
		out->source = f->display;
		out->ctx = f;
		out->buf = b;
		fr->line += count_lines(b->data, cut);
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

/* ---- workers -------------------------------------------------------------- */

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
	if (fr->csv) {
		const struct fr_file *f = c->ctx;
		rc = sp_csv_parse(&f->csv, c->data, c->len, c->first, c->offset,
				  b);
	} else {
		rc = sp_jsonl_parse(&w->jsonl, c->data, c->len, c->first,
				    c->offset, b);
	}
	return rc < 0 ? rc : 0;
}

static void fr_close(void *state)
{
	struct fr_state *fr = state;

	if (!fr)
		return;
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
	.close = fr_close,
};
