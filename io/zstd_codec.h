/*
 * zstd framing for spate: the only module that includes zstd.h.
 *
 * Writers compress each output block as one independent zstd frame that
 * carries its content size and a content checksum, so any frame of a file
 * can be located and verified on its own (ZSTD_findFrameCompressedSize) and
 * a file is a plain concatenation of frames that `zstd -d` reads.  Readers
 * decode .zst input (one or many concatenated frames) with a streaming
 * decoder.  Errors from zstd become -EIO plus one logged message.
 *
 * Objects are not thread-safe: one encoder per worker, one decoder per
 * reader.  _destroy(NULL) is a no-op.
 */
#ifndef SPATE_IO_ZSTD_CODEC_H
#define SPATE_IO_ZSTD_CODEC_H

#include <stdbool.h>
#include <stddef.h>

#include "core/buf.h"

struct sp_zstd_enc;
struct sp_zstd_dec;

/* Lowest and highest accepted compression levels (zstd's own range,
 * negative levels included). */
int sp_zstd_level_min(void);
int sp_zstd_level_max(void);

/* Creates an encoder at `level` (clamped to the range above).  Returns
 * NULL when out of memory. */
struct sp_zstd_enc *sp_zstd_enc_create(int level);
void sp_zstd_enc_destroy(struct sp_zstd_enc *e);

/* Appends one complete, independent zstd frame holding src[0..len) to out
 * (content size and XXH64-based content checksum included).  The encoder's
 * context is reused between calls.  Returns 0, -ENOMEM, or -EIO (logged)
 * when zstd fails; out->len is unchanged on error. */
int sp_zstd_enc_frame(struct sp_zstd_enc *e, const void *src, size_t len,
		      struct sp_buf *out);

/* Streaming decoder for concatenated zstd frames (skippable frames are
 * skipped).  Returns NULL when out of memory. */
struct sp_zstd_dec *sp_zstd_dec_create(void);
void sp_zstd_dec_destroy(struct sp_zstd_dec *d);

/* Forgets any partly decoded frame: use before decoding another file. */
void sp_zstd_dec_reset(struct sp_zstd_dec *d);

/* Decodes from in[0..in_len) into out[0..out_cap).  *in_used is the input
 * consumed and *out_made the output produced (both may be 0 < len).  Call
 * again with the unconsumed input, or with in_len 0 to drain output that
 * did not fit, until *out_made is 0.  Returns 0, or -EIO (logged with the
 * zstd reason) on corrupt input, a checksum mismatch or a frame needing
 * more than the decoder's window limit.  After an error the decoder must be
 * reset. */
int sp_zstd_dec_run(struct sp_zstd_dec *d, const void *in, size_t in_len,
		    size_t *in_used, void *out, size_t out_cap,
		    size_t *out_made);

/* True when the decoder stands between frames with all output delivered
 * (also right after create/reset).  False at the end of input means the
 * stream was truncated. */
bool sp_zstd_dec_is_clean(const struct sp_zstd_dec *d);

/* True when buf starts with a zstd frame or skippable-frame magic number
 * (needs len >= 4). */
bool sp_zstd_is_zstd(const void *buf, size_t len);

#endif
