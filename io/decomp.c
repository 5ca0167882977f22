/*
 * Compressed input behind one interface: picks the zstd, gzip or lz4
 * decoder by the file's magic number, counts the compressed bytes read so
 * that an error names the offset where the input went wrong, and turns a
 * file that ends inside a frame into an error instead of a short read.
 */
#include "io/decomp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/gzip_codec.h"
#include "io/lz4_codec.h"
#include "io/zstd_codec.h"

struct sp_decomp {
	enum sp_decomp_kind kind;
	union {
		struct sp_zstd_dec *zstd;
		struct sp_gzip_dec *gzip;
		struct sp_lz4_dec *lz4;
	} u;
	uint64_t offset; /* compressed bytes consumed */
	char error[160];
};

static const char *const kind_names[] = {"none", "zstd", "gzip", "lz4"};

enum sp_decomp_kind sp_decomp_detect(const void *buf, size_t len)
{
	if (sp_zstd_is_zstd(buf, len))
		return SP_DECOMP_ZSTD;
	if (sp_gzip_is_gzip(buf, len))
		return SP_DECOMP_GZIP;
	if (sp_lz4_is_lz4(buf, len))
		return SP_DECOMP_LZ4;
	return SP_DECOMP_NONE;
}

const char *sp_decomp_name(enum sp_decomp_kind kind)
{
	return kind_names[kind];
}

enum sp_decomp_kind sp_decomp_from_name(const char *name)
{
	for (int k = SP_DECOMP_ZSTD; k <= SP_DECOMP_LZ4; k++)
		if (!strcmp(name, kind_names[k]))
			return (enum sp_decomp_kind)k;
	return SP_DECOMP_NONE;
}

struct sp_decomp *sp_decomp_create(enum sp_decomp_kind kind)
{
	struct sp_decomp *d = calloc(1, sizeof(*d));
	void *dec = NULL;

	if (!d)
		return NULL;
	d->kind = kind;
	switch (kind) {
	case SP_DECOMP_ZSTD:
		dec = d->u.zstd = sp_zstd_dec_create();
		break;
	case SP_DECOMP_GZIP:
		dec = d->u.gzip = sp_gzip_dec_create();
		break;
	case SP_DECOMP_LZ4:
		dec = d->u.lz4 = sp_lz4_dec_create();
		break;
	case SP_DECOMP_NONE:
		break;
	}
	if (!dec) {
		free(d);
		return NULL;
	}
	return d;
}

void sp_decomp_destroy(struct sp_decomp *d)
{
	if (!d)
		return;
	switch (d->kind) {
	case SP_DECOMP_ZSTD:
		sp_zstd_dec_destroy(d->u.zstd);
		break;
	case SP_DECOMP_GZIP:
		sp_gzip_dec_destroy(d->u.gzip);
		break;
	case SP_DECOMP_LZ4:
		sp_lz4_dec_destroy(d->u.lz4);
		break;
	case SP_DECOMP_NONE:
		break;
	}
	free(d);
}

enum sp_decomp_kind sp_decomp_kind(const struct sp_decomp *d)
{
	return d->kind;
}

void sp_decomp_reset(struct sp_decomp *d)
{
	switch (d->kind) {
	case SP_DECOMP_ZSTD:
		sp_zstd_dec_reset(d->u.zstd);
		break;
	case SP_DECOMP_GZIP:
		sp_gzip_dec_reset(d->u.gzip);
		break;
	case SP_DECOMP_LZ4:
		sp_lz4_dec_reset(d->u.lz4);
		break;
	case SP_DECOMP_NONE:
		break;
	}
	d->offset = 0;
	d->error[0] = '\0';
}

int sp_decomp_run(struct sp_decomp *d, const void *in, size_t in_len,
		  size_t *in_used, void *out, size_t out_cap,
		  size_t *out_made)
{
	const char *why = "corrupt data";
	int rc = -EINVAL;

	*in_used = *out_made = 0;
	switch (d->kind) {
	case SP_DECOMP_ZSTD:
		rc = sp_zstd_dec_run(d->u.zstd, in, in_len, in_used, out,
				     out_cap, out_made);
		why = "corrupt zstd data";
		break;
	case SP_DECOMP_GZIP:
		rc = sp_gzip_dec_run(d->u.gzip, in, in_len, in_used, out,
				     out_cap, out_made, &why);
		break;
	case SP_DECOMP_LZ4:
		rc = sp_lz4_dec_run(d->u.lz4, in, in_len, in_used, out,
				    out_cap, out_made, &why);
		break;
	case SP_DECOMP_NONE:
		break;
	}
	d->offset += *in_used;
	if (rc < 0)
		snprintf(d->error, sizeof(d->error), "%s%s at compressed byte "
			 "%llu", d->kind == SP_DECOMP_LZ4 ? "corrupt lz4 data: "
							  : "",
			 why, (unsigned long long)d->offset);
	return rc;
}

int sp_decomp_finish(struct sp_decomp *d)
{
	bool clean = true;

	switch (d->kind) {
	case SP_DECOMP_ZSTD:
		clean = sp_zstd_dec_is_clean(d->u.zstd);
		break;
	case SP_DECOMP_GZIP:
		clean = sp_gzip_dec_is_clean(d->u.gzip);
		break;
	case SP_DECOMP_LZ4:
		clean = sp_lz4_dec_is_clean(d->u.lz4);
		break;
	case SP_DECOMP_NONE:
		break;
	}
	if (clean)
		return 0;
	snprintf(d->error, sizeof(d->error),
		 "truncated %s data: the file ends inside a %s at compressed "
		 "byte %llu", kind_names[d->kind],
		 d->kind == SP_DECOMP_GZIP ? "member" : "frame",
		 (unsigned long long)d->offset);
	return -EIO;
}

const char *sp_decomp_error(const struct sp_decomp *d)
{
	return d->error;
}

uint64_t sp_decomp_offset(const struct sp_decomp *d)
{
	return d->offset;
}
