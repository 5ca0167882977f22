/*
 * UTF-8 checks of CSV record text: a fast all-ASCII test that most
 * records pass, and the full check that finds the first bad byte.
 */
#ifndef SPATE_CODEC_CSV_UTF8_H
#define SPATE_CODEC_CSV_UTF8_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#if defined(__SSE2__)
#include <emmintrin.h>
#endif

/* True when s[0..n) is all ASCII without NUL (eight bytes at a time). */
static inline bool sp_csv_plain_ascii(const unsigned char *s, size_t n)
{
	const uint64_t hi = 0x8080808080808080ull, lo = 0x0101010101010101ull;
	size_t i = 0;
	uint64_t acc = 0;

#if defined(__SSE2__)
	if (n >= 16) {
		const __m128i zero = _mm_setzero_si128();
		__m128i any = zero;
		/* a high bit, or a byte equal to zero */
		for (; i + 16 <= n; i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(s + i));
			any = _mm_or_si128(
			    any, _mm_or_si128(x, _mm_cmpeq_epi8(x, zero)));
		}
		__m128i x = _mm_loadu_si128((const __m128i *)(s + n - 16));
		any =
		    _mm_or_si128(any, _mm_or_si128(x, _mm_cmpeq_epi8(x, zero)));
		return _mm_movemask_epi8(any) == 0;
	}
#endif
	for (; i + 8 <= n; i += 8) {
		uint64_t w;
		memcpy(&w, s + i, 8);
		acc |= (w | ((w - lo) & ~w)) & hi;
	}
	if (acc)
		return false;
	for (; i < n; i++)
		if (s[i] == 0 || s[i] >= 0x80)
			return false;
	return true;
}

/* Offset of the first NUL or invalid UTF-8 byte in s[0..n), or n. */
size_t sp_csv_utf8_check(const unsigned char *s, size_t n);

#endif
