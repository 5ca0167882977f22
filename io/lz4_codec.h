/*
 * lz4 input for spate: the only module that includes lz4frame.h.
 *
 * A streaming decoder for files of one or many concatenated lz4 frames
 * (what the `lz4` tool writes; skippable frames are skipped), checksums
 * checked where the frame carries them.  One decoder per reader; not
 * thread-safe.  _destroy(NULL) is a no-op.
 */
#ifndef SPATE_IO_LZ4_CODEC_H
#define SPATE_IO_LZ4_CODEC_H

#include <stdbool.h>
#include <stddef.h>

struct sp_lz4_dec;

/* True when buf starts with the lz4 frame magic number (len >= 4). */
bool sp_lz4_is_lz4(const void *buf, size_t len);

/* NULL when out of memory. */
struct sp_lz4_dec *sp_lz4_dec_create(void);
void sp_lz4_dec_destroy(struct sp_lz4_dec *d);

/* Forgets any partly decoded frame: use before decoding another file. */
void sp_lz4_dec_reset(struct sp_lz4_dec *d);

/* As sp_gzip_dec_run: 0, or -EIO with *why set (lz4's reason). */
int sp_lz4_dec_run(struct sp_lz4_dec *d, const void *in, size_t in_len,
		   size_t *in_used, void *out, size_t out_cap,
		   size_t *out_made, const char **why);

/* True between frames with all output delivered; false at the end of
 * input means the file was truncated. */
bool sp_lz4_dec_is_clean(const struct sp_lz4_dec *d);

#endif
