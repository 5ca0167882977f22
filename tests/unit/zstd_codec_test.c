/*
 * Tests of io/zstd_codec: frames are independent and checksummed, the
 * streaming decoder reassembles concatenated frames fed in tiny pieces,
 * corruption is an error and truncation is noticed.
 */
#include <criterion/criterion.h>

#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define ZSTD_STATIC_LINKING_ONLY
#include <zstd.h> /* only to check frames independently of spate */

#include "core/buf.h"
#include "io/zstd_codec.h"

#define NFRAMES 6

static const size_t frame_len[NFRAMES] = {100000, 1, 0, 70000, 333, 250000};

static char *make_input(size_t *total)
{
	size_t n = 0;
	char *p;

	for (int i = 0; i < NFRAMES; i++)
		n += frame_len[i];
	p = malloc(n);
	/* compressible but not trivial: words with a counter */
	for (size_t i = 0, k = 0; i < n; k++) {
		char w[32];
		int m = snprintf(w, sizeof(w), "rec%zu,%s;", k * 7919 % 1000,
				 k % 3 ? "alpha" : "omega");

		for (int j = 0; j < m && i < n; j++)
			p[i++] = w[j];
	}
	*total = n;
	return p;
}

/* Encodes the input as NFRAMES frames; offsets of each frame in *offs. */
static void encode(const char *src, struct sp_buf *out, size_t *offs)
{
	struct sp_zstd_enc *e = sp_zstd_enc_create(3);
	size_t pos = 0;

	cr_assert_not_null(e);
	sp_buf_init(out);
	for (int i = 0; i < NFRAMES; i++) {
		offs[i] = out->len;
		cr_assert_eq(sp_zstd_enc_frame(e, src + pos, frame_len[i], out),
			     0);
		pos += frame_len[i];
	}
	offs[NFRAMES] = out->len;
	sp_zstd_enc_destroy(e);
}

/* Decodes in[0..len) feeding at most in_step bytes and taking at most
 * out_step bytes per call.  Returns the first error or 0; *out_len and
 * clean as left. */
static int decode(const char *in, size_t len, size_t in_step, size_t out_step,
		  char *out, size_t out_cap, size_t *out_len, bool *clean)
{
	struct sp_zstd_dec *d = sp_zstd_dec_create();
	size_t ip = 0, op = 0;
	int rc = 0;

	cr_assert_not_null(d);
	cr_assert(sp_zstd_dec_is_clean(d));
	for (;;) {
		size_t in_n = len - ip < in_step ? len - ip : in_step;
		size_t out_n =
		    out_cap - op < out_step ? out_cap - op : out_step;
		size_t used, made;

		rc = sp_zstd_dec_run(d, in + ip, in_n, &used, out + op, out_n,
				     &made);
		cr_assert_leq(used, in_n);
		cr_assert_leq(made, out_n);
		ip += used;
		op += made; /* also on error: what came out before it */
		if (rc)
			break;
		if (made == 0 && used == 0)
			break; /* all taken, or stuck: the caller checks */
	}
	cr_assert(rc || ip == len || op == out_cap, "stopped at %zu of %zu", ip,
		  len);
	*out_len = op;
	*clean = sp_zstd_dec_is_clean(d);
	sp_zstd_dec_destroy(d);
	return rc;
}

Test(zstd_codec, frames_decode_back_in_tiny_pieces)
{
	struct sp_buf z;
	size_t total, offs[NFRAMES + 1], got;
	char *src = make_input(&total);
	char *out = malloc(total + 64);
	const size_t steps[][2] = {
	    {1, 1}, {3, 7}, {1, 4096}, {5000, 1}, {1 << 20, 1 << 20}};
	bool clean;

	encode(src, &z, offs);
	cr_assert_lt(z.len, total / 4, "poor compression: %zu", z.len);
	for (size_t s = 0; s < sizeof(steps) / sizeof(steps[0]); s++) {
		memset(out, 0, total);
		cr_assert_eq(decode(z.data, z.len, steps[s][0], steps[s][1],
				    out, total + 64, &got, &clean),
			     0);
		cr_assert_eq(got, total, "steps %zu/%zu: %zu of %zu bytes",
			     steps[s][0], steps[s][1], got, total);
		cr_assert_eq(memcmp(out, src, total), 0);
		cr_assert(clean);
	}
	sp_buf_fini(&z);
	free(src);
	free(out);
}

Test(zstd_codec, each_frame_stands_alone)
{
	struct sp_buf z;
	size_t total, offs[NFRAMES + 1], pos = 0;
	char *src = make_input(&total);
	char *out = malloc(total + 1);

	encode(src, &z, offs);
	for (int i = 0; i < NFRAMES; i++) {
		const char *f = z.data + offs[i];
		size_t flen = offs[i + 1] - offs[i];
		ZSTD_frameHeader h;
		size_t n;

		cr_assert(sp_zstd_is_zstd(f, flen));
		cr_assert_eq(ZSTD_findFrameCompressedSize(f, flen), flen);
		cr_assert_eq(ZSTD_getFrameContentSize(f, flen), frame_len[i]);
		cr_assert_eq(ZSTD_getFrameHeader(&h, f, flen), 0);
		cr_assert_eq(h.checksumFlag, 1, "frame %d has no checksum", i);
		n = ZSTD_decompress(out, total + 1, f, flen);
		cr_assert(!ZSTD_isError(n), "frame %d: %s", i,
			  ZSTD_getErrorName(n));
		cr_assert_eq(n, frame_len[i]);
		cr_assert_eq(memcmp(out, src + pos, n), 0);
		pos += n;
	}
	sp_buf_fini(&z);
	free(src);
	free(out);
}

Test(zstd_codec, corrupt_byte_is_an_error)
{
	struct sp_buf z;
	size_t total, offs[NFRAMES + 1], got;
	char *src = make_input(&total);
	char *out = malloc(total);
	bool clean;
	int rc;

	encode(src, &z, offs);
	/* a byte in the middle of frame 3's compressed data ... */
	z.data[offs[3] + (offs[4] - offs[3]) / 2] ^= 0x20;
	rc = decode(z.data, z.len, 4096, 4096, out, total, &got, &clean);
	cr_assert_eq(rc, -EIO);
	cr_assert_not(clean);
	/* ... everything before that frame came out intact */
	cr_assert_geq(got, frame_len[0] + frame_len[1]);
	cr_assert_eq(memcmp(out, src, frame_len[0] + frame_len[1]), 0);
	z.data[offs[3] + (offs[4] - offs[3]) / 2] ^= 0x20;

	/* the content checksum catches a change in the last 4 bytes */
	z.data[offs[4] - 1] ^= 0x01;
	rc = decode(z.data, z.len, 1 << 20, 1 << 20, out, total, &got, &clean);
	cr_assert_eq(rc, -EIO);
	z.data[offs[4] - 1] ^= 0x01;

	/* garbage after the last frame */
	cr_assert_eq(sp_buf_append(&z, "garbage!", 8), 0);
	rc = decode(z.data, z.len, 1 << 20, 1 << 20, out, total, &got, &clean);
	cr_assert_eq(rc, -EIO);
	cr_assert_eq(got, total);
	sp_buf_fini(&z);
	free(src);
	free(out);
}

Test(zstd_codec, truncated_stream_is_not_clean)
{
	struct sp_buf z;
	size_t total, offs[NFRAMES + 1], got;
	char *src = make_input(&total);
	char *out = malloc(total);
	size_t cuts[] = {1, 3, 4, 5, 9, 100};
	bool clean;

	encode(src, &z, offs);
	for (size_t i = 0; i < sizeof(cuts) / sizeof(cuts[0]); i++) {
		cr_assert_eq(decode(z.data, z.len - cuts[i], 7, 1000, out,
				    total, &got, &clean),
			     0);
		cr_assert_not(clean, "cut %zu bytes: looks complete", cuts[i]);
		/* cutting into the 4-byte checksum loses no content */
		if (cuts[i] > 4)
			cr_assert_lt(got, total);
		cr_assert_eq(memcmp(out, src, got), 0);
	}
	/* cut exactly at a frame boundary: clean, with that frame's data */
	cr_assert_eq(decode(z.data, offs[4], 7, 1000, out, total, &got, &clean),
		     0);
	cr_assert(clean);
	cr_assert_eq(got,
		     frame_len[0] + frame_len[1] + frame_len[2] + frame_len[3]);
	/* a full output buffer with output still pending is not clean */
	{
		struct sp_zstd_dec *d = sp_zstd_dec_create();
		size_t used, made;

		cr_assert_eq(
		    sp_zstd_dec_run(d, z.data, offs[1], &used, out, 10, &made),
		    0);
		cr_assert_eq(made, 10);
		cr_assert_not(sp_zstd_dec_is_clean(d));
		sp_zstd_dec_reset(d);
		cr_assert(sp_zstd_dec_is_clean(d));
		/* after a reset it decodes a fresh stream from the start */
		cr_assert_eq(sp_zstd_dec_run(d, z.data, offs[1], &used, out,
					     total, &made),
			     0);
		cr_assert_eq(used, offs[1]);
		cr_assert_eq(made, frame_len[0]);
		cr_assert_eq(memcmp(out, src, made), 0);
		cr_assert(sp_zstd_dec_is_clean(d));
		sp_zstd_dec_destroy(d);
	}
	sp_buf_fini(&z);
	free(src);
	free(out);
}

Test(zstd_codec, magic_and_levels)
{
	struct sp_zstd_enc *e;
	struct sp_buf z;
	const unsigned char skippable[8] = {0x50, 0x2A, 0x4D, 0x18, 0, 0, 0, 0};

	cr_assert_not(sp_zstd_is_zstd("abc", 3));
	cr_assert_not(sp_zstd_is_zstd("{\"a\":1}", 7));
	cr_assert(sp_zstd_is_zstd(skippable, 8));
	cr_assert_lt(sp_zstd_level_min(), 0);
	cr_assert_geq(sp_zstd_level_max(), 19);

	/* out-of-range levels are clamped; output still decodes */
	sp_buf_init(&z);
	cr_assert_eq(sp_buf_append(&z, "prefix", 6), 0);
	e = sp_zstd_enc_create(1000);
	cr_assert_eq(sp_zstd_enc_frame(e, "hello hello hello", 17, &z), 0);
	sp_zstd_enc_destroy(e);
	e = sp_zstd_enc_create(-1000000);
	cr_assert_eq(sp_zstd_enc_frame(e, "bye", 3, &z), 0);
	sp_zstd_enc_destroy(e);
	sp_zstd_enc_destroy(NULL);
	sp_zstd_dec_destroy(NULL);
	cr_assert_eq(memcmp(z.data, "prefix", 6), 0);
	cr_assert(sp_zstd_is_zstd(z.data + 6, z.len - 6));

	/* a skippable frame in front is passed over */
	struct sp_buf s;
	char out[64];
	size_t got;
	bool clean;

	sp_buf_init(&s);
	cr_assert_eq(sp_buf_append(&s, skippable, 8), 0);
	cr_assert_eq(sp_buf_append(&s, z.data + 6, z.len - 6), 0);
	cr_assert_eq(
	    decode(s.data, s.len, 2, 3, out, sizeof(out), &got, &clean), 0);
	cr_assert(clean);
	cr_assert_eq(got, 20);
	cr_assert_eq(memcmp(out, "hello hello hellobye", 20), 0);
	sp_buf_fini(&s);
	sp_buf_fini(&z);
}
