/*
 * file_writer's writer thread: takes the workers' finished blocks from
 * the queue, puts them back in input order when `ordered: true`, appends
 * them to rolling files in the commit's staging directory with io_uring
 * (or read/pwrite), rolls files at max_file_bytes / max_file_records,
 * hands each closed file to the commit, and returns every block to the
 * worker that owns it.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/log.h"
#include "io/commit.h"
#include "stages/destinations/file_writer.h"

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
		 fw->dir, name, fw->s3msg[0] ? fw->s3msg : strerror(-err));
	sp_stage_log(fw->ctx, SP_LOG_ERROR, "%s", fw->errmsg);
}

static void block_done(void *tag, int result)
{
	struct block *b = tag;
	struct fw_state *fw = b->owner->fw;

	if (result < 0)
		writer_fail(fw, result, "cannot write", fw->cur_name);
	b->data.len = 0;
	/* the owner's free stack has room for all its blocks */
	sp_lifo_push(&b->owner->free, b);
}

static void header_done(void *tag, int result)
{
	struct fw_state *fw = tag;

	if (result < 0)
		writer_fail(fw, result, "cannot write", fw->cur_name);
}

void fw_emit_closed(struct fw_state *fw, const char *name,
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

/* The file being written: on S3 a multipart upload, else a staged file
 * through io/fileio. */
static int file_open(struct fw_state *fw)
{
	int rc;

	if (fw->s3) {
		rc = fw_s3_open(fw, fw->cur_name, fw->s3msg,
				sizeof(fw->s3msg));
	} else {
		const char *path = sp_commit_staging_path(fw->commit,
							  fw->cur_name);
		rc = path ? sp_io_writer_open(fw->io, path, &fw->cur) : -EINVAL;
		if (rc < 0)
			fw->cur = NULL;
	}
	fw->file_open = rc == 0;
	return rc;
}

static int file_append(struct fw_state *fw, const void *data, size_t len,
		       void (*done)(void *, int), void *tag)
{
	if (!fw->s3)
		return sp_io_writer_append(fw->cur, data, len, done, tag);
	int rc = fw_s3_append(fw, data, len, fw->s3msg, sizeof(fw->s3msg));
	if (rc == 0)
		done(tag, 0);
	return rc;
}

static int file_end(struct fw_state *fw, const char **what)
{
	*what = "cannot write";
	fw->file_open = false;
	if (fw->s3)
		return fw_s3_close_file(fw, fw->cur_name, fw->cur_records,
					fw->cur_bytes, fw->s3msg,
					sizeof(fw->s3msg));
	int rc = sp_io_writer_flush(fw->cur, false);
	uint64_t hash = sp_io_writer_digest(fw->cur);
	int rc2 = sp_io_writer_close(fw->cur);
	fw->cur = NULL;
	if (rc < 0)
		return rc;
	if (rc2 < 0)
		return rc2;
	*what = "cannot commit";
	/* hashed as written: the commit need not read the file back */
	return sp_commit_add_hashed(fw->commit, fw->cur_name, fw->cur_records,
				    fw->cur_bytes, hash, fw->publish_each);
}

static void close_file(struct fw_state *fw)
{
	if (!fw->file_open)
		return;
	const char *what;
	int rc = file_end(fw, &what);
	if (rc < 0) {
		writer_fail(fw, rc, what, fw->cur_name);
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
		fw_emit_closed(fw, cf->name, cf->records, cf->bytes);
	}
}

/* ---- partitioned output: one open file per folder ---------------------- */

/* Exchanges the file being written with the one parts[i] keeps.  The
 * writer's writes are waited for first: its blocks go back to their
 * workers now, not when it is written to again. */
static int part_swap(struct fw_state *fw, uint32_t i)
{
	struct fw_part *p = &fw->parts[i];
	struct sp_io_writer *cur = fw->cur;
	char name[FW_NAME_MAX];
	uint64_t records = fw->cur_records, bytes = fw->cur_bytes;
	bool open = fw->file_open;

	if (cur)
		(void)sp_io_writer_flush(cur, false); /* errors stick */
	memcpy(name, fw->cur_name, sizeof(name));
	fw->cur = p->cur;
	memcpy(fw->cur_name, p->cur_name, sizeof(name));
	fw->cur_records = p->cur_records;
	fw->cur_bytes = p->cur_bytes;
	fw->file_open = p->file_open;
	p->cur = cur;
	memcpy(p->cur_name, name, sizeof(name));
	p->cur_records = records;
	p->cur_bytes = bytes;
	p->file_open = open;
	return fw->s3 ? fw_s3_swap(fw, i, fw->cfg->max_open_partitions) : 0;
}

/* Makes folder key the one written to: its open file, or none yet; past
 * max_open_partitions the least recently used folder's file is closed
 * (a later block of it opens a new file). */
static int part_use(struct fw_state *fw, const char *key)
{
	uint32_t max = (uint32_t)fw->cfg->max_open_partitions, i, lru = 0;
	int rc;

	if (fw->active >= 0 && !strcmp(fw->parts[fw->active].key, key)) {
		fw->parts[fw->active].used = ++fw->clock;
		return 0;
	}
	if (!fw->parts && !(fw->parts = calloc(max, sizeof(*fw->parts))))
		return -ENOMEM;
	/* the invariant: parts[active] holds no file, fw_state has it */
	if (fw->active >= 0 && (rc = part_swap(fw, (uint32_t)fw->active)))
		return rc;
	fw->active = -1;
	for (i = 0; i < fw->nparts && strcmp(fw->parts[i].key, key); i++)
		if (fw->parts[i].used < fw->parts[lru].used)
			lru = i;
	if (i == fw->nparts && fw->nparts == max) {
		i = lru;
		if ((rc = part_swap(fw, i)))
			return rc;
		close_file(fw);
		free(fw->parts[i].key);
		fw->parts[i].key = NULL;
		sp_stage_log(fw->ctx, SP_LOG_DEBUG,
			     "%u partitions open: closed the least recently "
			     "used one's file",
			     max);
	} else if (i == fw->nparts) {
		fw->nparts++;
	} else if ((rc = part_swap(fw, i))) {
		return rc;
	}
	if (!fw->parts[i].key && !(fw->parts[i].key = strdup(key)))
		return -ENOMEM;
	fw->parts[i].used = ++fw->clock;
	fw->active = i;
	return 0;
}

/* The end: every folder's file closed. */
static void part_close_all(struct fw_state *fw)
{
	if (fw->active >= 0)
		(void)part_swap(fw, (uint32_t)fw->active);
	fw->active = -1;
	for (uint32_t i = 0; i < fw->nparts; i++) {
		if (part_swap(fw, i))
			continue;
		close_file(fw);
		(void)part_swap(fw, i);
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
	int rc = file_append(fw, data, len, header_done, fw);
	if (rc == 0 && !fw->s3)
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
	int rc = fw->npart ? part_use(fw, b->part.data) : 0;
	if (rc < 0) {
		writer_fail(fw, rc, "cannot open a partition of", b->part.data);
		block_done(b, 0);
		return;
	}
	if (fw->file_open &&
	    ((cfg->max_file_records &&
	      fw->cur_records + b->records > (uint64_t)cfg->max_file_records) ||
	     (cfg->max_file_bytes &&
	      fw->cur_bytes + b->data.len > cfg->max_file_bytes)))
		close_file(fw);
	if (!fw->file_open && !fw->error) {
		const char *key = fw->npart ? b->part.data : "";
		size_t kl = strlen(key);
		if (kl + 256 > sizeof(fw->cur_name)) {
			writer_fail(fw, -ENAMETOOLONG, "cannot create a file in",
				    key);
			block_done(b, 0);
			return;
		}
		do {
			memcpy(fw->cur_name, key, kl);
			expand_name(fw, fw->file_seq++, fw->cur_name + kl,
				    sizeof(fw->cur_name) - kl);
		} while (fw->s3 && fw_s3_taken(fw, fw->cur_name));
		rc = file_open(fw);
		if (rc < 0)
			writer_fail(fw, rc, "cannot create", fw->cur_name);
		fw->cur_records = 0;
		fw->cur_bytes = 0;
		if (fw->file_open && b->header)
			write_header(fw, b->header);
	}
	if (fw->error) {
		block_done(b, 0);
		return;
	}
	size_t len = b->data.len;
	uint64_t records = b->records;
	rc = file_append(fw, b->data.data, len, block_done, b);
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

void *fw_writer_main(void *arg)
{
	struct fw_state *fw = arg;
	void *item;

	int rc = sp_io_create(64, &fw->io);
	if (rc < 0)
		writer_fail(fw, rc, "cannot set up I/O for", "");
	for (;;) {
		/* Completions are reaped only inside sp_io_* calls, and they
		 * return blocks to the workers' free stacks: before sleeping
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
	if (fw->npart)
		part_close_all(fw);
	else
		close_file(fw);
	sp_io_destroy(fw->io);
	fw->io = NULL;
	return NULL;
}
