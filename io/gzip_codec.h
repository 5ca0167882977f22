/*
 * gzip input for spate: the only module that includes ISA-L's igzip.
 *
 * A streaming decoder for gzip files of one or many members (as `cat
 * a.gz b.gz` or bgzip write them), each member's CRC-32 and size checked.
 * One decoder per reader; not thread-safe.  _destroy(NULL) is a no-op.
 */
#ifndef SPATE_IO_GZIP_CODEC_H
#define SPATE_IO_GZIP_CODEC_H

#include <stdbool.h>
#include <stddef.h>

struct sp_gzip_dec;

/* True when buf starts with the gzip magic and the deflate method byte
 * (needs len >= 3). */
bool sp_gzip_is_gzip(const void *buf, size_t len);

/* NULL when out of memory. */
struct sp_gzip_dec *sp_gzip_dec_create(void);
void sp_gzip_dec_destroy(struct sp_gzip_dec *d);

/* Forgets any partly decoded member: use before decoding another file. */
void sp_gzip_dec_reset(struct sp_gzip_dec *d);

/* Decodes from in[0..in_len) into out[0..out_cap), as sp_zstd_dec_run:
 * *in_used input consumed, *out_made output produced; call again with the
 * rest of the input (or in_len 0 to drain) until *out_made is 0.  Returns
 * 0, or -EIO on a bad header, corrupt data or a checksum mismatch, with
 * *why naming which (a static string).  After an error, reset. */
int sp_gzip_dec_run(struct sp_gzip_dec *d, const void *in, size_t in_len,
		    size_t *in_used, void *out, size_t out_cap,
		    size_t *out_made, const char **why);

/* True between members with all output delivered (also after create and
 * reset): false at the end of input means the file was truncated. */
bool sp_gzip_dec_is_clean(const struct sp_gzip_dec *d);

#endif
