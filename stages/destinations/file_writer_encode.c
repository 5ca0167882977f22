/*
 * file_writer's worker side: each worker encodes its records (JSON lines
 * or CSV, with the CSV header line built once the columns are known) and
 * compresses each block as one independent, checksummed zstd frame with
 * its own reused context, then hands the block to the writer thread
 * through the stage's queue; a worker has BLOCKS_PER_WORKER blocks, which
 * the writer thread gives back once written.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdlib.h>
#include <string.h>

#include "codec/jsonl.h"
#include "core/hugemem.h"
#include "stages/destinations/file_writer.h"

/* A writer's encode buffer moves into huge-page memory before it would
 * hold ROOM_AFTER bytes: a writer that takes a little (a small input, a
 * lane few records reach) keeps small pages, one that fills frames gets
 * memory it faults in 512 times less often (core/hugemem.h). */
#define ROOM_AFTER ((size_t)256 << 10)

/* A room holds two frames: unordered, a block is sealed at the end of
 * the batch that took it to frame_size, so it is rarely outgrown. */
static size_t room_size(const struct fw_state *fw)
{
	return 2 * (size_t)fw->cfg->frame_size + ROOM_AFTER;
}

/* Unordered, the encode buffer moves into a room once, before
 * `coming` bytes would take it past ROOM_AFTER.  Uncompressed, it trades
 * places with the blocks' (no copy), so each buffer that comes to be the
 * encode buffer and fills gets a room of its own, up to one per block. */
static void move_to_room(struct fw_worker *w, size_t coming)
{
	size_t room = room_size(w->fw);
	char *p;

	if (w->fw->cfg->ordered || room < SP_HUGE_PAGE ||
	    w->enc.len + coming < ROOM_AFTER || w->enc.len > room / 2 ||
	    w->nroom == BLOCKS_PER_WORKER + 1 || w->enc.huge ||
	    !(p = sp_huge_malloc(room)))
		return;
	if (w->enc.len)
		memcpy(p, w->enc.data, w->enc.len);
	free(w->enc.data);
	w->enc.data = p;
	w->enc.cap = room;
	w->enc.huge = true; /* sp_buf grows and frees it as a room */
	w->nroom++;
}

void *fw_worker_create(void *state, unsigned worker)
{
	struct fw_state *fw = state;
	struct fw_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	w->fw = fw;
	sp_buf_init(&w->enc);
	/* the writer thread puts the header at the top of each file */
	sp_format_csv_encoder_init(&w->csv, &fw->cfg->fmt);
	sp_buf_init(&w->header);
	if (fw->zstd) {
		w->z = sp_zstd_enc_create((int)fw->cfg->level);
		if (!w->z) {
			free(w);
			return NULL;
		}
	}
	if (sp_lifo_init(&w->free, BLOCKS_PER_WORKER)) {
		sp_zstd_enc_destroy(w->z);
		free(w);
		return NULL;
	}
	sp_buf_init(&w->part);
	sp_buf_init(&w->part_keys);
	for (int i = 0; i < BLOCKS_PER_WORKER; i++) {
		w->blocks[i].owner = w;
		sp_buf_init(&w->blocks[i].data);
		sp_buf_init(&w->blocks[i].part);
		sp_lifo_push(&w->free, &w->blocks[i]);
	}
	return w;
}

void fw_worker_destroy(void *state, void *wstate)
{
	struct fw_worker *w = wstate;

	if (!w)
		return;
	for (int i = 0; i < BLOCKS_PER_WORKER; i++) {
		sp_buf_fini(&w->blocks[i].data);
		sp_buf_fini(&w->blocks[i].part);
	}
	sp_buf_fini(&w->part);
	sp_buf_fini(&w->part_keys);
	free(w->part_refs);
	free(w->part_sel);
	sp_lifo_fini(&w->free);
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
	struct block *b = sp_lifo_pop(&w->free);

	b->seq = seq;
	b->last = last;
	b->records = w->enc_records;
	b->header = w->header.len ? &w->header : NULL;
	b->data.len = 0;
	b->part.len = 0; /* the folder of a partitioned writer, NUL-ended */
	if (fw->npart && (sp_buf_append(&b->part, w->part.data, w->part.len) ||
			  sp_buf_putc(&b->part, '\0'))) {
		sp_lifo_push(&w->free, b);
		return -ENOMEM;
	}
	if (w->enc.len) {
		if (fw->zstd) {
			int rc = sp_zstd_enc_frame(w->z, w->enc.data,
						   w->enc.len, &b->data);
			if (rc < 0) {
				sp_lifo_push(&w->free, b);
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
		sp_lifo_push(&w->free, b);
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
			     memchr(name, cfg->fmt.delimiter, len) ||
			     memchr(name, cfg->fmt.quote, len);
		if (c && sp_buf_putc(&w->header, cfg->fmt.delimiter))
			return -ENOMEM;
		if (quote && sp_buf_putc(&w->header, cfg->fmt.quote))
			return -ENOMEM;
		for (uint32_t i = 0; i < len; i++) {
			if (name[i] == cfg->fmt.quote &&
			    sp_buf_putc(&w->header, cfg->fmt.quote))
				return -ENOMEM;
			if (sp_buf_putc(&w->header, name[i]))
				return -ENOMEM;
		}
		if (quote && sp_buf_putc(&w->header, cfg->fmt.quote))
			return -ENOMEM;
	}
	return sp_buf_putc(&w->header, '\n');
}

int fw_worker_use_part(struct fw_worker *w, uint64_t seq, const char *key,
		       size_t len)
{
	if (w->part.len == len && !memcmp(w->part.data, key, len))
		return 0;
	if (w->enc.len || w->enc_records) {
		int64_t s = seal(w, seq, false);
		if (s < 0)
			return (int)s;
	}
	w->part.len = 0;
	return sp_buf_append(&w->part, key, len);
}

int fw_encode(struct fw_state *fw, struct fw_worker *w, struct sp_batch *b,
	      const uint32_t *sel, uint32_t n)
{
	const struct fw_config *cfg = fw->cfg;

	/* about what these records will take: their share of the input */
	move_to_room(w, b->nrecs ? b->bytes_in * n / b->nrecs : 0);
	for (uint32_t i = 0; i < n; i++) {
		uint32_t r = sel[i];
		int rc;
		if (fw->csv) {
			rc = sp_format_put_csv(&w->csv, b, r, &w->enc);
			if (rc == 1)
				continue; /* a record error */
			if (rc == 0 && w->header.len == 0 && cfg->fmt.header &&
			    build_header(w, b->symtab))
				return -ENOMEM;
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

int fw_stage_batch(void *state, void *wstate, struct sp_batch *b,
		   const uint32_t *sel, uint32_t n)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;

	if (fw->holds)
		return 0;
	return fw->npart ? fw_part_batch(fw, w, b, sel, n)
			 : fw_encode(fw, w, b, sel, n);
}

int64_t fw_batch_end(void *state, void *wstate, uint64_t seq)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;

	if (fw->holds)
		return 0;
	/* ordered: one closing block per seq keeps the order moving;
	 * unordered: blocks grow to frame_size first */
	if (fw->cfg->ordered || w->enc.len >= fw->cfg->frame_size)
		return seal(w, seq, true);
	return 0;
}

int64_t fw_worker_flush(void *state, void *wstate)
{
	struct fw_state *fw = state;
	struct fw_worker *w = wstate;

	if (fw->holds)
		return 0;
	if (!fw->cfg->ordered && w->enc.len)
		return seal(w, 0, true);
	return 0;
}
