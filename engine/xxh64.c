/*
 * XXH64 (Yann Collet's xxHash, 64-bit variant, seed 0), streaming: the
 * content hash the stage catalog keeps for every loaded file, computed by
 * readers as the bytes go by.  Same values as io/commit.c's manifest
 * hashes and `xxhsum -H1`.
 */
#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "spate/catalog.h"

#define P64_1 0x9E3779B185EBCA87ull
#define P64_2 0xC2B2AE3D27D4EB4Full
#define P64_3 0x165667B19E3779F9ull
#define P64_4 0x85EBCA77C2B2AE63ull
#define P64_5 0x27D4EB2F165667C5ull

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t read64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t read32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t input)
{
	acc += input * P64_2;
	acc = rotl64(acc, 31);
	return acc * P64_1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t val)
{
	acc ^= xxh_round(0, val);
	return acc * P64_1 + P64_4;
}

void spate_xxh64_init(struct spate_xxh64 *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = P64_1 + P64_2;
	s->v[1] = P64_2;
	s->v[2] = 0;
	s->v[3] = -P64_1;
}

void spate_xxh64_update(struct spate_xxh64 *s, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	if (len == 0)
		return;
	s->total += len;
	if (s->memsize + len < 32) {
		memcpy(s->mem + s->memsize, p, len);
		s->memsize += (uint32_t)len;
		return;
	}
	if (s->memsize) {
		size_t k = 32 - s->memsize;

		memcpy(s->mem + s->memsize, p, k);
		for (int i = 0; i < 4; i++)
			s->v[i] = xxh_round(s->v[i], read64(s->mem + 8 * i));
		p += k;
		s->memsize = 0;
	}
	while (end - p >= 32) {
		for (int i = 0; i < 4; i++)
			s->v[i] = xxh_round(s->v[i], read64(p + 8 * i));
		p += 32;
	}
	memcpy(s->mem, p, (size_t)(end - p));
	s->memsize = (uint32_t)(end - p);
}

uint64_t spate_xxh64_digest(const struct spate_xxh64 *s)
{
	const unsigned char *p = s->mem, *end = p + s->memsize;
	uint64_t h;

	if (s->total >= 32) {
		h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) +
		    rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = xxh_merge(h, s->v[i]);
	} else {
		h = P64_5;
	}
	h += s->total;
	while (end - p >= 8) {
		h ^= xxh_round(0, read64(p));
		h = rotl64(h, 27) * P64_1 + P64_4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)read32(p) * P64_1;
		h = rotl64(h, 23) * P64_2 + P64_3;
		p += 4;
	}
	while (p < end) {
		h ^= *p++ * P64_5;
		h = rotl64(h, 11) * P64_1;
	}
	h ^= h >> 33;
	h *= P64_2;
	h ^= h >> 29;
	h *= P64_3;
	h ^= h >> 32;
	return h;
}

int spate_xxh64_file(const char *path, uint64_t *out)
{
	struct spate_xxh64 s;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto free_buf;
	}
	spate_xxh64_init(&s);
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		spate_xxh64_update(&s, buf, (size_t)n);
	}
	close(fd);
	if (rc == 0)
		*out = spate_xxh64_digest(&s);
free_buf:
	free(buf);
	return rc;
}
