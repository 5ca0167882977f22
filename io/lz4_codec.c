/*
 * lz4 frame decoding through liblz4's LZ4F streaming API.  LZ4F_decompress
 * stops at each frame's end and returns 0 there; the same context then
 * reads the next frame, so concatenated frames read as one text.
 */
#include "io/lz4_codec.h"

#include <errno.h>
#include <lz4frame.h>
#include <stdlib.h>

struct sp_lz4_dec {
	LZ4F_dctx *dctx;
	bool in_frame; /* a frame started and not yet finished */
};

bool sp_lz4_is_lz4(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len >= 4 && p[0] == 0x04 && p[1] == 0x22 && p[2] == 0x4d &&
	       p[3] == 0x18;
}

struct sp_lz4_dec *sp_lz4_dec_create(void)
{
	struct sp_lz4_dec *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	if (LZ4F_isError(
		LZ4F_createDecompressionContext(&d->dctx, LZ4F_VERSION))) {
		free(d);
		return NULL;
	}
	return d;
}

void sp_lz4_dec_destroy(struct sp_lz4_dec *d)
{
	if (!d)
		return;
	LZ4F_freeDecompressionContext(d->dctx);
	free(d);
}

void sp_lz4_dec_reset(struct sp_lz4_dec *d)
{
	LZ4F_resetDecompressionContext(d->dctx);
	d->in_frame = false;
}

int sp_lz4_dec_run(struct sp_lz4_dec *d, const void *in, size_t in_len,
		   size_t *in_used, void *out, size_t out_cap,
		   size_t *out_made, const char **why)
{
	size_t src = in_len, dst = out_cap;
	size_t hint = LZ4F_decompress(d->dctx, out, &dst, in, &src, NULL);

	*in_used = src;
	*out_made = dst;
	if (LZ4F_isError(hint)) {
		*why = LZ4F_getErrorName(hint);
		return -EIO;
	}
	/* 0: a frame ended with all its output delivered */
	if (hint == 0)
		d->in_frame = false;
	else if (src || dst)
		d->in_frame = true;
	return 0;
}

bool sp_lz4_dec_is_clean(const struct sp_lz4_dec *d)
{
	return !d->in_frame;
}
