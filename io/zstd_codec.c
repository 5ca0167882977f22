/*
 * zstd framing: one reusable compression context per encoder writing one
 * self-contained, checksummed frame per block, and a streaming decoder for
 * .zst input that follows frame boundaries so a truncated file is noticed.
 * This is the only file that speaks zstd's API; everything above it sees
 * spate's types and -errno results.
 */
#include "io/zstd_codec.h"

#include <errno.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include <zstd.h>

#include "core/log.h"

struct sp_zstd_enc {
	ZSTD_CCtx *cctx;
	int level;
};

struct sp_zstd_dec {
	ZSTD_DCtx *dctx;
	bool clean;
};

int sp_zstd_level_min(void)
{
	return ZSTD_minCLevel();
}

int sp_zstd_level_max(void)
{
	return ZSTD_maxCLevel();
}

static int zstd_error(const char *what, size_t code)
{
	sp_log_error("zstd %s failed: %s", what, ZSTD_getErrorName(code));
	return -EIO;
}

struct sp_zstd_enc *sp_zstd_enc_create(int level)
{
	struct sp_zstd_enc *e;
	size_t rc;

	if (level < ZSTD_minCLevel())
		level = ZSTD_minCLevel();
	if (level > ZSTD_maxCLevel())
		level = ZSTD_maxCLevel();

	e = calloc(1, sizeof(*e));
	if (!e)
		return NULL;
	e->cctx = ZSTD_createCCtx();
	if (!e->cctx)
		goto free_enc;
	e->level = level;
	/* parameters stick across ZSTD_reset_session_only */
	rc = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_compressionLevel, level);
	if (ZSTD_isError(rc))
		goto free_cctx;
	rc = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_checksumFlag, 1);
	if (ZSTD_isError(rc))
		goto free_cctx;
	rc = ZSTD_CCtx_setParameter(e->cctx, ZSTD_c_contentSizeFlag, 1);
	if (ZSTD_isError(rc))
		goto free_cctx;
	return e;

free_cctx:
	zstd_error("setup", rc);
	ZSTD_freeCCtx(e->cctx);
free_enc:
	free(e);
	return NULL;
}

void sp_zstd_enc_destroy(struct sp_zstd_enc *e)
{
	if (!e)
		return;
	ZSTD_freeCCtx(e->cctx);
	free(e);
}

int sp_zstd_enc_frame(struct sp_zstd_enc *e, const void *src, size_t len,
		      struct sp_buf *out)
{
	size_t bound = ZSTD_compressBound(len);
	size_t rc;

	if (ZSTD_isError(bound))
		return zstd_error("compress bound", bound);
	if (sp_buf_reserve(out, bound))
		return -ENOMEM;
	ZSTD_CCtx_reset(e->cctx, ZSTD_reset_session_only);
	rc = ZSTD_CCtx_setPledgedSrcSize(e->cctx, len);
	if (ZSTD_isError(rc))
		return zstd_error("compress", rc);
	/* one-shot: writes the whole frame, header with content size first */
	rc = ZSTD_compress2(e->cctx, out->data + out->len, bound, src, len);
	if (ZSTD_isError(rc)) {
		ZSTD_CCtx_reset(e->cctx, ZSTD_reset_session_only);
		return zstd_error("compress", rc);
	}
	out->len += rc;
	return 0;
}

struct sp_zstd_dec *sp_zstd_dec_create(void)
{
	struct sp_zstd_dec *d = calloc(1, sizeof(*d));

	if (!d)
		return NULL;
	d->dctx = ZSTD_createDCtx();
	if (!d->dctx) {
		free(d);
		return NULL;
	}
	d->clean = true;
	return d;
}

void sp_zstd_dec_destroy(struct sp_zstd_dec *d)
{
	if (!d)
		return;
	ZSTD_freeDCtx(d->dctx);
	free(d);
}

void sp_zstd_dec_reset(struct sp_zstd_dec *d)
{
	ZSTD_DCtx_reset(d->dctx, ZSTD_reset_session_only);
	d->clean = true;
}

int sp_zstd_dec_run(struct sp_zstd_dec *d, const void *in, size_t in_len,
		    size_t *in_used, void *out, size_t out_cap,
		    size_t *out_made)
{
	ZSTD_inBuffer ib = {in, in_len, 0};
	ZSTD_outBuffer ob = {out, out_cap, 0};

	*in_used = 0;
	*out_made = 0;
	/* also with no room left: zstd may still take header or checksum
	 * bytes, which is what makes a frame's end visible */
	for (;;) {
		size_t in_pos = ib.pos, out_pos = ob.pos;
		size_t rc = ZSTD_decompressStream(d->dctx, &ob, &ib);

		if (ZSTD_isError(rc)) {
			d->clean = false;
			*in_used = ib.pos;
			*out_made = ob.pos;
			return zstd_error("decompress", rc);
		}
		if (ib.pos == in_pos && ob.pos == out_pos)
			break; /* needs more input, or nothing left to flush */
		/* 0: a frame ended and all of its output has been handed out */
		d->clean = rc == 0;
	}
	*in_used = ib.pos;
	*out_made = ob.pos;
	return 0;
}

bool sp_zstd_dec_is_clean(const struct sp_zstd_dec *d)
{
	return d->clean;
}

bool sp_zstd_is_zstd(const void *buf, size_t len)
{
	const uint8_t *p = buf;
	uint32_t magic;

	if (len < 4)
		return false;
	magic = (uint32_t)p[0] | (uint32_t)p[1] << 8 | (uint32_t)p[2] << 16 |
		(uint32_t)p[3] << 24;
	return magic == ZSTD_MAGICNUMBER ||
	       (magic & ZSTD_MAGIC_SKIPPABLE_MASK) ==
		   ZSTD_MAGIC_SKIPPABLE_START;
}
