/* Unit tests for io/decomp.c and the gzip and lz4 decoders behind it:
 * detection by magic number, multi-member and multi-frame files fed in
 * pieces of every size, truncated and corrupt input named with its
 * offset.  Test data is compressed with the same libraries. */
#include <criterion/criterion.h>
#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <lz4frame.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/decomp.h"

/* gzip member of text (level 0 of ISA-L's deflate, gzip wrapper) */
static size_t gzip_member(const char *text, size_t len, unsigned char *out,
			  size_t cap)
{
	struct isal_zstream z;

	isal_deflate_init(&z);
	z.gzip_flag = IGZIP_GZIP;
	z.end_of_stream = 1;
	z.flush = NO_FLUSH;
	z.next_in = (uint8_t *)text;
	z.avail_in = (uint32_t)len;
	z.next_out = out;
	z.avail_out = (uint32_t)cap;
	cr_assert_eq(isal_deflate(&z), COMP_OK);
	cr_assert_eq(z.avail_in, 0);
	return (size_t)(z.next_out - out);
}

static size_t lz4_frame(const char *text, size_t len, unsigned char *out,
			size_t cap)
{
	LZ4F_preferences_t prefs = {0};

	prefs.frameInfo.contentChecksumFlag = LZ4F_contentChecksumEnabled;
	size_t n = LZ4F_compressFrame(out, cap, text, len, &prefs);
	cr_assert(!LZ4F_isError(n));
	return n;
}

/* Two members/frames of different text back to back. */
static size_t two_parts(enum sp_decomp_kind kind, unsigned char *out,
			size_t cap, char *want, size_t *want_len)
{
	static char a[20000], b[3000];
	for (size_t i = 0; i < sizeof(a); i++)
		a[i] = (char)('a' + (i * 7 + i / 13) % 26);
	for (size_t i = 0; i < sizeof(b); i++)
		b[i] = i % 50 == 49 ? '\n' : (char)('0' + i % 10);
	size_t n = kind == SP_DECOMP_GZIP ? gzip_member(a, sizeof(a), out, cap)
					  : lz4_frame(a, sizeof(a), out, cap);
	n += kind == SP_DECOMP_GZIP
		 ? gzip_member(b, sizeof(b), out + n, cap - n)
		 : lz4_frame(b, sizeof(b), out + n, cap - n);
	memcpy(want, a, sizeof(a));
	memcpy(want + sizeof(a), b, sizeof(b));
	*want_len = sizeof(a) + sizeof(b);
	return n;
}

/* Decodes in[0..len) handed over `piece` bytes at a time, out of room
 * `room` at a time.  Returns the run's or finish's result. */
static int decode(struct sp_decomp *d, const unsigned char *in, size_t len,
		  size_t piece, size_t room, char *out, size_t cap,
		  size_t *out_len)
{
	size_t at = 0, o = 0;

	sp_decomp_reset(d);
	for (;;) {
		size_t n = len - at < piece ? len - at : piece;
		size_t r = cap - o < room ? cap - o : room;
		size_t used, made;
		int rc = sp_decomp_run(d, in + at, n, &used, out + o, r,
				       &made);
		if (rc)
			return rc;
		at += used;
		o += made;
		if (at == len && made == 0)
			break;
		cr_assert(o < cap, "output past the expected size");
	}
	*out_len = o;
	return sp_decomp_finish(d);
}

static void round_trip(enum sp_decomp_kind kind)
{
	static unsigned char in[64 << 10];
	static char want[64 << 10], out[64 << 10];
	size_t want_len, out_len;
	size_t len = two_parts(kind, in, sizeof(in), want, &want_len);
	struct sp_decomp *d;
	const size_t pieces[] = {1, 7, 4096, 1 << 20};
	const size_t rooms[] = {1, 1000, 1 << 20};

	cr_assert_eq(sp_decomp_detect(in, len), kind);
	d = sp_decomp_create(kind);
	cr_assert(d);
	for (size_t p = 0; p < 4; p++) {
		for (size_t r = 0; r < 3; r++) {
			cr_assert_eq(decode(d, in, len, pieces[p], rooms[r],
					    out, sizeof(out), &out_len),
				     0, "%s piece %zu room %zu: %s",
				     sp_decomp_name(kind), pieces[p],
				     rooms[r], sp_decomp_error(d));
			cr_assert_eq(out_len, want_len);
			cr_assert(memcmp(out, want, want_len) == 0);
			cr_assert_eq(sp_decomp_offset(d), len);
		}
	}
	sp_decomp_destroy(d);
}

Test(decomp, gzip_multi_member_in_any_pieces)
{
	round_trip(SP_DECOMP_GZIP);
}

Test(decomp, lz4_multi_frame_in_any_pieces)
{
	round_trip(SP_DECOMP_LZ4);
}

static void truncated(enum sp_decomp_kind kind, const char *want)
{
	static unsigned char in[64 << 10];
	static char text[64 << 10], out[64 << 10];
	size_t text_len, out_len;
	size_t len = two_parts(kind, in, sizeof(in), text, &text_len);
	struct sp_decomp *d = sp_decomp_create(kind);

	cr_assert_eq(decode(d, in, len - 5, 4096, 4096, out, sizeof(out),
			    &out_len),
		     -EIO);
	cr_assert_str_eq(sp_decomp_error(d), want);
	sp_decomp_destroy(d);
}

Test(decomp, truncated_input_is_an_error_with_its_offset)
{
	static unsigned char in[64 << 10];
	static char text[64 << 10];
	size_t text_len;
	char want[128];
	size_t len = two_parts(SP_DECOMP_GZIP, in, sizeof(in), text, &text_len);

	snprintf(want, sizeof(want),
		 "truncated gzip data: the file ends inside a member at "
		 "compressed byte %zu", len - 5);
	truncated(SP_DECOMP_GZIP, want);
	len = two_parts(SP_DECOMP_LZ4, in, sizeof(in), text, &text_len);
	snprintf(want, sizeof(want),
		 "truncated lz4 data: the file ends inside a frame at "
		 "compressed byte %zu", len - 5);
	truncated(SP_DECOMP_LZ4, want);
}

static void corrupt(enum sp_decomp_kind kind, const char *prefix)
{
	static unsigned char in[64 << 10];
	static char text[64 << 10], out[64 << 10];
	size_t text_len, out_len;
	size_t len = two_parts(kind, in, sizeof(in), text, &text_len);
	struct sp_decomp *d = sp_decomp_create(kind);

	/* the checksum at the end of the first part */
	for (size_t i = 0; i < len; i++)
		if (kind == SP_DECOMP_GZIP ? sp_decomp_detect(in + i + 1, 3)
					    == SP_DECOMP_GZIP
					   : sp_decomp_detect(in + i + 1, 4)
					    == SP_DECOMP_LZ4) {
			in[i - (kind == SP_DECOMP_GZIP ? 6 : 2)] ^= 0x55;
			break;
		}
	cr_assert_eq(decode(d, in, len, 4096, 4096, out, sizeof(out),
			    &out_len),
		     -EIO);
	cr_assert(strncmp(sp_decomp_error(d), prefix, strlen(prefix)) == 0,
		  "error: %s", sp_decomp_error(d));
	cr_assert(strstr(sp_decomp_error(d), " at compressed byte "),
		  "error: %s", sp_decomp_error(d));
	sp_decomp_destroy(d);
}

Test(decomp, corrupt_input_is_an_error)
{
	corrupt(SP_DECOMP_GZIP, "gzip checksum mismatch");
	corrupt(SP_DECOMP_LZ4, "corrupt lz4 data: ");
}

Test(decomp, detects_by_magic_number)
{
	cr_assert_eq(sp_decomp_detect("\x1f\x8b\x08\x00", 4), SP_DECOMP_GZIP);
	cr_assert_eq(sp_decomp_detect("\x04\x22\x4d\x18", 4), SP_DECOMP_LZ4);
	cr_assert_eq(sp_decomp_detect("\x28\xb5\x2f\xfd", 4), SP_DECOMP_ZSTD);
	cr_assert_eq(sp_decomp_detect("{\"a\":1}", 7), SP_DECOMP_NONE);
	cr_assert_eq(sp_decomp_detect("\x1f", 1), SP_DECOMP_NONE);
	cr_assert_eq(sp_decomp_from_name("gzip"), SP_DECOMP_GZIP);
	cr_assert_eq(sp_decomp_from_name("auto"), SP_DECOMP_NONE);
}
