/*
 * file_reader's reader thread: opens the files in turn, keeps several
 * block reads in flight, decompresses .zst input as a stream, hashes each
 * file's bytes, and cuts them into chunks that end on record boundaries
 * (quote-aware for CSV).  Chunk buffers are a fixed pool: workers hand
 * them back through a ring (fr_release), so memory stays bounded.
 */
#define _GNU_SOURCE
#include "stages/origins/file_reader.h"

static int aim_at_range(struct fr_state *fr);

static int open_next_file(struct fr_state *fr, char *err, size_t errlen)
{
	int rc = fr_src_open(fr, &fr->files[fr->cur_file], err, errlen);

	if (rc < 0)
		return rc;
	fr->zst = fr_decomp_of(fr->cfg->compression) != SP_DECOMP_NONE;
	fr->text_checked = false;
	fr->file_started = false;
	fr->first_block = true;
	fr->line = 1;
	fr->offset = 0;
	fr->raw_read = 0;
	fr->carry_len = 0;
	fr->blk = NULL;
	fr->blk_len = fr->blk_used = 0;
	fr->eof = false;
	fr->eol_known = fr->cr_eol = false;
	XXH64_reset(&fr->hash, 0);
	/* a CSV range reads the file's preamble (header, line ends) first
	 * and jumps to its range after it (enter_range) */
	if (fr_has_range(fr->cfg) && !(fr->csv && fr->cfg->range_start > 0))
		return aim_at_range(fr);
	return 0;
}

/* The open file reads bytes [range_start, range_end) only, numbered from
 * range_line.  The range holds no compressed data (checked at create),
 * so no decoder is looked for. */
static int aim_at_range(struct fr_state *fr)
{
	const struct fr_config *cfg = fr->cfg;
	int rc = sp_io_reader_range(fr->rd, (uint64_t)cfg->range_start,
				    (uint64_t)cfg->range_end);

	fr->first_block = false;
	fr->line = (uint64_t)cfg->range_line;
	fr->offset = fr->raw_read = (uint64_t)cfg->range_start;
	return rc;
}

/* After a CSV range's preamble: the file again, from its range. */
static int enter_range(struct fr_state *fr, char *err, size_t errlen)
{
	if (!fr_has_range(fr->cfg) || !fr->csv || fr->cfg->range_start == 0)
		return 0;
	if (fr->blk)
		fr_src_release(fr, fr->blk);
	fr->blk = NULL;
	fr->blk_len = fr->blk_used = 0;
	fr_src_close(fr);
	int rc = fr_src_open(fr, &fr->files[fr->cur_file], err, errlen);
	if (rc < 0)
		return rc;
	fr->carry_len = 0;
	fr->eof = false;
	return aim_at_range(fr);
}

static int carry_reserve(struct fr_state *fr, size_t need)
{
	if (fr->carry_cap >= need)
		return 0;
	size_t cap = fr->carry_cap ? fr->carry_cap : 1 << 20;
	while (cap < need)
		cap *= 2;
	char *p;
	if (fr_pooled(fr, fr->carry)) { /* a slice cannot grow */
		p = malloc(cap);
		if (p && fr->carry_len)
			memcpy(p, fr->carry, fr->carry_len);
	} else {
		p = realloc(fr->carry, cap);
	}
	if (!p)
		return -ENOMEM;
	fr->carry = p;
	fr->carry_cap = cap;
	return 0;
}

/* The first block of the file (auto: by its magic number, whatever its
 * name) decides whether it is decoded, and by which decoder. */
static int start_decoder(struct fr_state *fr)
{
	enum sp_decomp_kind kind =
	    fr->cfg->compression == FR_COMP_AUTO
		? sp_decomp_detect(fr->blk, fr->blk_len)
		: fr_decomp_of(fr->cfg->compression);

	fr->zst = kind != SP_DECOMP_NONE;
	if (!fr->zst)
		return 0;
	if (fr->dec && sp_decomp_kind(fr->dec) != kind) {
		sp_decomp_destroy(fr->dec);
		fr->dec = NULL;
	}
	if (!fr->dec && !(fr->dec = sp_decomp_create(kind)))
		return -ENOMEM;
	sp_decomp_reset(fr->dec);
	return 0;
}

/* At the end of a compressed file: the output the decoder still holds,
 * then an error when the file ended inside a frame or member. */
static int drain(struct fr_state *fr, char *err, size_t errlen)
{
	struct fr_file *f = &fr->files[fr->cur_file];
	size_t used, made;

	if (!fr->dec)
		return 0;
	do {
		/* what room the carry has, unless it is nearly full */
		if (fr->carry_cap - fr->carry_len < (64 << 10) &&
		    carry_reserve(fr, fr->carry_len + (1 << 20)))
			return -ENOMEM;
		int rc = sp_decomp_run(fr->dec, "", 0, &used,
				       fr->carry + fr->carry_len,
				       fr->carry_cap - fr->carry_len, &made);
		if (rc == 0)
			fr->carry_len += made;
		else
			made = 0;
	} while (made);
	if (sp_decomp_finish(fr->dec)) {
		snprintf(err, errlen, "%s: %s", f->display,
			 sp_decomp_error(fr->dec));
		return -EIO;
	}
	return 0;
}

/* A text format's file whose first 4 KiB hold a NUL byte is not text (an
 * archive, an image, a compressed format spate does not read): refused
 * as a whole instead of yielding a record error per line. */
static int check_text(struct fr_state *fr, char *err, size_t errlen)
{
	size_t n = fr->carry_len < 4096 ? fr->carry_len : 4096;

	if (fr->text_checked || (n < 4096 && !fr->eof))
		return 0;
	fr->text_checked = true;
	const char *nul = fr->offset == 0 ? memchr(fr->carry, 0, n) : NULL;
	if (!nul)
		return 0;
	snprintf(err, errlen,
		 "%s: not text: a NUL byte at byte %zu of its %s (binary "
		 "data, or a compression spate does not read: zstd, gzip "
		 "and lz4 are detected)",
		 fr->files[fr->cur_file].display, (size_t)(nul - fr->carry),
		 fr->zst ? "decompressed data" : "first 4 KiB");
	return -EINVAL;
}

/* fill, before a CR-only CSV's line ends are turned into newlines. */
static int fill_raw(struct fr_state *fr, struct fr_file *f, size_t want,
		    char *err, size_t errlen)
{

	while (fr->carry_len < want && !fr->eof) {
		if (fr->blk && fr->blk_used == fr->blk_len) {
			fr_src_release(fr, fr->blk);
			fr->blk = NULL;
		}
		if (!fr->blk) {
			int rc = fr_src_next(fr, f, &fr->blk, &fr->blk_len,
					     err, errlen);
			if (rc < 0)
				return rc;
			if (rc == 0) {
				fr->blk = NULL;
				fr->eof = true;
				if (fr->zst && (rc = drain(fr, err, errlen)))
					return rc;
				break;
			}
			fr->blk_used = 0;
			fr->raw_read += fr->blk_len;
			if (!fr->s3)
				XXH64_update(&fr->hash, fr->blk, fr->blk_len);
			if (fr->first_block && (rc = start_decoder(fr)))
				return rc;
			fr->first_block = false;
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
			/* room for what is wanted (carry_len < want): the
			 * carry stays within its chunk buffer */
			if (carry_reserve(fr, want))
				return -ENOMEM;
			size_t used, made;
			int rc = sp_decomp_run(
				fr->dec, fr->blk + fr->blk_used,
				fr->blk_len - fr->blk_used, &used,
				fr->carry + fr->carry_len,
				fr->carry_cap - fr->carry_len, &made);
			if (rc < 0) {
				snprintf(err, errlen, "%s: %s", f->display,
					 sp_decomp_error(fr->dec));
				return rc;
			}
			fr->blk_used += used;
			fr->carry_len += made;
		}
	}
	return check_text(fr, err, errlen);
}

/* Appends input to the carry until it holds at least `want` bytes or the
 * file ends.  Returns 0 or -errno. */
static int fill(struct fr_state *fr, size_t want, char *err, size_t errlen)
{
	struct fr_file *f = &fr->files[fr->cur_file];
	size_t had = fr->carry_len;
	int rc = fill_raw(fr, f, want, err, errlen);

	if (rc == 0 && fr->cr_eol) /* a CR-only CSV: its CRs end lines */
		sp_csv_cr_to_lf(fr->carry + had, fr->carry_len - had);
	return rc;
}

static void close_file(struct fr_state *fr)
{
	if (fr->blk)
		fr_src_release(fr, fr->blk);
	fr->blk = NULL;
	fr_src_close(fr);
	if (fr->dec)
		sp_decomp_reset(fr->dec);
}

static const char *size_change(uint64_t from, uint64_t to)
{
	return to < from ? "shrank" : "grew";
}

static bool same_time(struct timespec a, struct timespec b)
{
	return a.tv_sec == b.tv_sec && a.tv_nsec == b.tv_nsec;
}

/* At the end of a file's read: the file must be the one the run started
 * with, unchanged (same inode, size, mtime, and the content hashed before
 * the run), or what was read is not an input anyone can name: the run
 * fails and publishes nothing.  0 or -EAGAIN with err. */
static int check_unchanged(struct fr_state *fr, const struct fr_file *f,
			   char *err, size_t errlen)
{
	struct stat st;

	if (fr->s3 || !f->regular || f->pseudo)
		return 0;
	if (stat(f->path, &st) < 0) {
		snprintf(err, errlen,
			 "%s was removed or renamed while being read; "
			 "nothing is published (run again once it is complete)",
			 f->display);
		return -EAGAIN;
	}
	if ((uint64_t)st.st_dev != f->dev || (uint64_t)st.st_ino != f->ino) {
		snprintf(err, errlen,
			 "%s was replaced by another file while being read; "
			 "nothing is published (run again once it is complete)",
			 f->display);
		return -EAGAIN;
	}
	uint64_t now = (uint64_t)st.st_size;
	uint64_t end = fr_has_range(fr->cfg) ? (uint64_t)fr->cfg->range_end
					     : f->size;
	/* empty by stat, it was read to its end (io/fileio.h).  Still empty
	 * by stat, it is empty or a file of /proc or /sys, whose text may
	 * differ from the hash's read: nothing more to check.  One that has
	 * grown is a file being written, whose end the run may have read in
	 * the middle of a record. */
	if (f->size == 0 && now == 0)
		return 0;
	if (f->size == 0) {
		snprintf(err, errlen,
			 "file %s grew from 0 to %llu bytes while being read; "
			 "nothing is published (run again once it is "
			 "complete)",
			 f->display, (unsigned long long)now);
		return -EAGAIN;
	}
	if (fr->raw_read != end || now != f->size) {
		uint64_t to = fr->raw_read != end ? fr->raw_read : now;
		snprintf(err, errlen,
			 "file %s %s from %llu to %llu bytes while being "
			 "read; nothing is published (run again once it is "
			 "complete)",
			 f->display, size_change(f->size, to),
			 (unsigned long long)f->size, (unsigned long long)to);
		return -EAGAIN;
	}
	/* A rewrite in place with its mtime set back (cp -p, touch -r,
	 * rsync -t) keeps size and mtime: the content hash taken before the
	 * run tells, or, when the read takes that hash, the ctime, which no
	 * one can set back (a chmod's or chown's moves it too: a rerun
	 * settles that). */
	const char *why = NULL;
	if (f->hashed && XXH64_digest(&fr->hash) != f->content)
		why = "its content differs from when the run started";
	else if (!same_time(st.st_mtim, f->mtim))
		why = "its mtime changed";
	else if (fr_hash_left_to_read(fr, f) && !same_time(st.st_ctim, f->ctim))
		why = "its ctime changed: it was written, or its mtime, mode "
		      "or owner was set";
	if (why) {
		snprintf(err, errlen,
			 "file %s was modified while being read (%s); nothing "
			 "is published (run again once it is complete)",
			 f->display, why);
		return -EAGAIN;
	}
	return 0;
}

/* The current file was read to its end: on to the next. */
static void finish_file(struct fr_state *fr)
{
	struct fr_file *f = &fr->files[fr->cur_file];

	close_file(fr);
	f->xxh64 = fr_src_digest(fr, f);
	fr_finish_hash(fr, f);
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
		.delimiter = fr->cfg->fmt.delimiter,
		.quote = fr->cfg->fmt.quote,
		.header = fr->cfg->fmt.header,
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
		if (!fr->eol_known) {
			rc = sp_csv_detect_cr(&csv->opt, fr->carry,
					      fr->carry_len, fr->eof);
			if (rc == -EAGAIN) {
				want = fr->carry_len * 2;
				continue;
			}
			fr->eol_known = true;
			fr->cr_eol = rc == 1;
			if (fr->cr_eol)
				sp_csv_cr_to_lf(fr->carry, fr->carry_len);
		}
		uint64_t lines = 0;
		char msg[512] = "";
		ssize_t used = sp_csv_read_preamble(
		    csv, fr->ctx->symtab, fr->carry, fr->carry_len, fr->eof,
		    &lines, msg, sizeof(msg));
		if (used == -EAGAIN && !fr->eof) {
			want = fr->carry_len * 2;
			continue;
		}
		if (used == -EAGAIN) /* empty, or blank lines only */
			used = (ssize_t)fr->carry_len;
		if (used < 0) {
			snprintf(err, errlen, "%s: %s", f->display, msg);
			return (int)used;
		}
		if (csv->renamed)
			sp_stage_warn(fr->ctx, "%s: %s", f->display, msg);
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
		if ((rc = enter_range(fr, err, errlen)))
			goto out;
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
		sp_stage_warn(fr->ctx, "on_error: skip_file: %s not loaded: %s",
			      f->display, why);
	}
	return rc;
}

int fr_next(void *state, struct sp_chunk *out, char *err, size_t errlen)
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
			    ((rc = read_preamble(fr, f, &f->csv, &f->csv_ready,
						 err, errlen)) ||
			     (rc = enter_range(fr, err, errlen))))
				return rc;
		}
		size_t cut;
		if ((rc = cut_chunk(fr, fr->csv ? &f->csv.opt : NULL, &cut, err,
				    errlen)))
			return rc;
		/* the file's last chunk: what was read must still be it */
		if ((cut == 0 || (fr->eof && cut == fr->carry_len)) &&
		    (rc = check_unchanged(fr, f, err, errlen)))
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

void fr_release(void *state, struct sp_chunk *c)
{
	struct fr_state *fr = state;

	if (c->buf)
		sp_ring_try_push_mpmc(&fr->free_bufs, c->buf);
}
