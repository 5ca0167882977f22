/*
 * gzip decoding through ISA-L's igzip inflate (several times faster than
 * zlib's on the same data).  igzip decodes one member per stream: at the
 * end of each the stream is reset and decoding goes on with the bytes
 * after it, so multi-member files read as one text.  igzip loads input
 * ahead into its bit buffer; at a member's end the bytes it loaded but
 * did not use are handed back to the caller as unconsumed.
 */
#include "io/gzip_codec.h"

#include <errno.h>
#include <isa-l/igzip_lib.h>
#include <stdint.h>
#include <stdlib.h>

struct sp_gzip_dec {
	struct inflate_state st;
	bool in_member; /* a member started and not yet finished */
};

bool sp_gzip_is_gzip(const void *buf, size_t len)
{
	const unsigned char *p = buf;

	return len >= 3 && p[0] == 0x1f && p[1] == 0x8b && p[2] == 8;
}

struct sp_gzip_dec *sp_gzip_dec_create(void)
{
	struct sp_gzip_dec *d = malloc(sizeof(*d));

	if (!d)
		return NULL;
	sp_gzip_dec_reset(d);
	return d;
}

void sp_gzip_dec_destroy(struct sp_gzip_dec *d)
{
	free(d);
}

void sp_gzip_dec_reset(struct sp_gzip_dec *d)
{
	isal_inflate_init(&d->st);
	d->st.crc_flag = ISAL_GZIP;
	d->in_member = false;
}

static const char *gzip_reason(int rc)
{
	switch (rc) {
	case ISAL_INVALID_WRAPPER:
		return "bad gzip header or trailer";
	case ISAL_UNSUPPORTED_METHOD:
		return "unsupported gzip compression method";
	case ISAL_INCORRECT_CHECKSUM:
		return "gzip checksum mismatch";
	case ISAL_INVALID_LOOKBACK:
		return "corrupt gzip data (bad distance)";
	case ISAL_INVALID_SYMBOL:
		return "corrupt gzip data (bad symbol)";
	default:
		return "corrupt gzip data (bad block)";
	}
}

int sp_gzip_dec_run(struct sp_gzip_dec *d, const void *in, size_t in_len,
		    size_t *in_used, void *out, size_t out_cap,
		    size_t *out_made, const char **why)
{
	struct inflate_state *st = &d->st;
	size_t used = 0, made = 0;

	/* igzip counts in 32 bits: feed at most 1 GiB at a time */
	if (in_len > (1u << 30))
		in_len = 1u << 30;
	if (out_cap > (1u << 30))
		out_cap = 1u << 30;
	for (;;) {
		if (!d->in_member && used == in_len)
			break; /* between members, no more input */
		if (!d->in_member) {
			isal_inflate_reset(st);
			st->crc_flag = ISAL_GZIP;
			d->in_member = true;
		}
		st->next_in = (uint8_t *)in + used;
		st->avail_in = (uint32_t)(in_len - used);
		st->next_out = (uint8_t *)out + made;
		st->avail_out = (uint32_t)(out_cap - made);
		int rc = isal_inflate(st);
		used = (size_t)(st->next_in - (const uint8_t *)in);
		made = (size_t)(st->next_out - (uint8_t *)out);
		if (rc < 0) {
			*why = gzip_reason(rc);
			*in_used = used;
			*out_made = made;
			return -EIO;
		}
		if (st->block_state != ISAL_BLOCK_FINISH)
			break; /* wants more input or more room */
		/* member done: what igzip read ahead belongs to the next */
		used -= (size_t)st->read_in_length / 8;
		d->in_member = false;
		if (made == out_cap)
			break;
	}
	*in_used = used;
	*out_made = made;
	return 0;
}

bool sp_gzip_dec_is_clean(const struct sp_gzip_dec *d)
{
	return !d->in_member;
}
