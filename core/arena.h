/* Bump allocator for values that live exactly as long as one batch. */
#ifndef SPATE_ENGINE_ARENA_H
#define SPATE_ENGINE_ARENA_H

#include <stddef.h>

struct sp_arena_block;

struct sp_arena {
	struct sp_arena_block *blocks; /* newest first */
	char *cur;
	char *end;
	size_t block_size;
};

void sp_arena_init(struct sp_arena *a, size_t block_size);
void sp_arena_fini(struct sp_arena *a);

/* 8-byte aligned memory valid until the next reset; NULL when out of
 * memory.  After warm-up a reset arena allocates nothing new. */
void *sp_arena_alloc(struct sp_arena *a, size_t size);

/* Copies len bytes and adds a NUL (not counted in len). */
char *sp_arena_strndup(struct sp_arena *a, const char *s, size_t len);

/* Forgets every allocation; keeps the largest block for reuse. */
void sp_arena_reset(struct sp_arena *a);

#endif
