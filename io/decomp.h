/*
 * Compressed input: one streaming decoder interface over zstd, gzip and
 * lz4, the format chosen from the first bytes of a file (its magic
 * number), whatever its name.  Readers (file_reader) keep one decoder
 * and reset it between files.  _destroy(NULL) is a no-op.
 */
#ifndef SPATE_IO_DECOMP_H
#define SPATE_IO_DECOMP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum sp_decomp_kind {
	SP_DECOMP_NONE = 0,
	SP_DECOMP_ZSTD,
	SP_DECOMP_GZIP,
	SP_DECOMP_LZ4,
};

/* The format that the first bytes of a file announce (NONE for plain
 * text or too few bytes). */
enum sp_decomp_kind sp_decomp_detect(const void *buf, size_t len);

/* "zstd", "gzip", "lz4" or "none". */
const char *sp_decomp_name(enum sp_decomp_kind kind);

/* The kind named by a flow's `compression` option ("zstd", "gzip", "lz4";
 * NONE for anything else). */
enum sp_decomp_kind sp_decomp_from_name(const char *name);

struct sp_decomp;

/* A decoder for kind (not NONE); NULL when out of memory. */
struct sp_decomp *sp_decomp_create(enum sp_decomp_kind kind);
void sp_decomp_destroy(struct sp_decomp *d);
enum sp_decomp_kind sp_decomp_kind(const struct sp_decomp *d);

/* Forgets the current file: counters back to 0, no partial frame. */
void sp_decomp_reset(struct sp_decomp *d);

/* Decodes from in[0..in_len) into out[0..out_cap): *in_used input
 * consumed, *out_made output produced.  Call again with the rest of the
 * input, or with in_len 0 to drain, until *out_made is 0.  Returns 0, or
 * -EIO on corrupt input; sp_decomp_error() then says what and where. */
int sp_decomp_run(struct sp_decomp *d, const void *in, size_t in_len,
		  size_t *in_used, void *out, size_t out_cap,
		  size_t *out_made);

/* Ends a file: 0 when it ended between frames or members, -EIO when it
 * was truncated (sp_decomp_error() says where). */
int sp_decomp_finish(struct sp_decomp *d);

/* The last error as "corrupt gzip data (bad symbol) at compressed byte
 * N" (static storage of the decoder, valid until the next call). */
const char *sp_decomp_error(const struct sp_decomp *d);

/* Compressed bytes consumed since the last reset. */
uint64_t sp_decomp_offset(const struct sp_decomp *d);

#endif
