/*
 * CSV chunk splitting: the longest prefix of a buffer that ends on a
 * record boundary (a newline outside quotes), found with quote-parity
 * bit masks 64 bytes at a time, so that a chunk boundary is always a
 * record boundary for the parser too.
 */
#include "codec/csv.h"

#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* Bits at or above lo and below hi (0 <= lo <= hi <= 64). */
static inline uint64_t bit_range(unsigned lo, unsigned hi)
{
	uint64_t below_hi = hi >= 64 ? ~0ull : (1ull << hi) - 1;

	return lo >= 64 ? 0 : below_hi & (~0ull << lo);
}

/* The quotes (*qm), newlines (*nm) and delimiters (*dm) of
 * buf[base..base+64), fewer at the end of the buffer. */
static inline void split_block(const char *buf, size_t len, size_t base, char d,
			       char q, uint64_t *qm, uint64_t *nm, uint64_t *dm)
{
	const char *p = buf + base;

	*qm = *nm = *dm = 0;
	if (base + 64 <= len) {
#if defined(__SSE2__)
		const __m128i vq = _mm_set1_epi8(q), vn = _mm_set1_epi8('\n'),
			      vd = _mm_set1_epi8(d);
		for (int i = 0; i < 4; i++) {
			__m128i x =
			    _mm_loadu_si128((const __m128i *)(p + 16 * i));
			unsigned sh = 16 * (unsigned)i;
			*qm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vq))
			       << sh;
			*nm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vn))
			       << sh;
			*dm |= (uint64_t)(uint16_t)_mm_movemask_epi8(
				   _mm_cmpeq_epi8(x, vd))
			       << sh;
		}
		return;
#endif
	}
	for (size_t i = 0; i < 64 && base + i < len; i++) {
		*qm |= (uint64_t)(p[i] == q) << i;
		*nm |= (uint64_t)(p[i] == '\n') << i;
		*dm |= (uint64_t)(p[i] == d) << i;
	}
}

/* Bit i: the parity of the bits 0..i of x. */
static inline uint64_t prefix_xor(uint64_t x)
{
	x ^= x << 1;
	x ^= x << 2;
	x ^= x << 4;
	x ^= x << 8;
	x ^= x << 16;
	x ^= x << 32;
	return x;
}

/*
 * Outside quotes, a quote opens a field only at a field start; inside, a
 * doubled quote stays inside; the last newline met outside quotes is the
 * boundary.  Per 64-byte block, with bit masks of its quotes, newlines and
 * delimiters: when every quote that toggles into a quoted field follows a
 * delimiter, a newline or a quote (a doubled one), the quoted bytes are
 * the prefix parity of the quotes, as in any CSV; a block with a quote
 * inside an unquoted field (text, not an opening) is walked quote by quote.
 */
size_t sp_csv_split(const struct sp_csv_options *opt, const char *buf,
		    size_t len)
{
	const char d = opt->delimiter ? opt->delimiter : ',';
	const char q = opt->quote ? opt->quote : '"';
	size_t last = 0; /* just past a boundary newline */
	size_t cur = 0;	 /* quotes before cur are accounted for */
	bool inside = false;
	uint64_t prev_starts = 1; /* the last block ends a field (in bit 0);
				     the buffer start does */

	for (size_t base = 0; base < len; base += 64) {
		uint64_t qm, nm, dm;
		unsigned n = len - base < 64 ? (unsigned)(len - base) : 64;

		split_block(buf, len, base, d, q, &qm, &nm, &dm);
		/* after a delimiter, a newline, or (the second of a doubled
		 * pair) a quote of this block */
		uint64_t starts = ((dm | nm | qm) << 1) | prev_starts;
		prev_starts = (dm | nm) >> 63;
		if (cur <= base) {
			uint64_t in = prefix_xor(qm) ^ (inside ? ~0ull : 0);
			uint64_t opening = qm & in;

			if (!(opening & ~starts)) {
				uint64_t nl = nm & ~in;
				if (nl)
					last = base + 64 -
					       (size_t)__builtin_clzll(nl);
				inside = (in >> (n - 1)) & 1;
				if (!inside && n == 64 && (qm >> 63) &&
				    base + 64 < len && buf[base + 64] == q) {
					/* a pair across blocks: the next block
					 * is walked from past its second quote
					 */
					inside = true;
					cur = base + 65;
				}
				continue;
			}
		}
		for (;;) {
			unsigned from = cur > base ? (unsigned)(cur - base) : 0;
			uint64_t qs = qm & bit_range(from, 64);

			if (inside) {
				if (!qs)
					break; /* still inside at block end */
				size_t at = base + (size_t)__builtin_ctzll(qs);
				if (at + 1 < len && buf[at + 1] == q) {
					cur =
					    at + 2; /* doubled: stays inside */
					continue;
				}
				inside = false;
				cur = at + 1;
				continue;
			}
			/* outside: the next quote at a field start opens */
			size_t open = SIZE_MAX;
			while (qs) {
				size_t at = base + (size_t)__builtin_ctzll(qs);
				if (at == 0 || buf[at - 1] == d ||
				    buf[at - 1] == '\n') {
					open = at;
					break;
				}
				qs &= qs - 1;
			}
			unsigned to =
			    open == SIZE_MAX ? 64 : (unsigned)(open - base);
			uint64_t nl = nm & bit_range(from, to);
			if (nl)
				last = base + 64 - (size_t)__builtin_clzll(nl);
			if (open == SIZE_MAX)
				break;
			inside = true;
			cur = open + 1;
		}
	}
	return last;
}
