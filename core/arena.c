/*
 * Arena: memory for values created while a batch is processed (set fields,
 * converted types, unescaped names).  Allocation is a pointer bump; a reset
 * keeps one block so that a recycled batch allocates nothing in steady state.
 */
#include "core/arena.h"

#include <stdint.h>
#include <stdlib.h>
#include <string.h>

struct sp_arena_block {
	struct sp_arena_block *next;
	size_t size;
	char data[];
};

void sp_arena_init(struct sp_arena *a, size_t block_size)
{
	a->blocks = NULL;
	a->cur = a->end = NULL;
	a->block_size = block_size ? block_size : 64 * 1024;
}

void sp_arena_fini(struct sp_arena *a)
{
	struct sp_arena_block *b = a->blocks, *next;

	for (; b; b = next) {
		next = b->next;
		free(b);
	}
	a->blocks = NULL;
	a->cur = a->end = NULL;
}

void *sp_arena_alloc(struct sp_arena *a, size_t size)
{
	size = (size + 7) & ~(size_t)7;
	if ((size_t)(a->end - a->cur) < size) {
		size_t want = size > a->block_size ? size : a->block_size;
		struct sp_arena_block *b = malloc(sizeof(*b) + want);

		if (!b)
			return NULL;
		b->size = want;
		b->next = a->blocks;
		a->blocks = b;
		a->cur = b->data;
		a->end = b->data + want;
	}
	void *p = a->cur;
	a->cur += size;
	return p;
}

char *sp_arena_strndup(struct sp_arena *a, const char *s, size_t len)
{
	char *p = sp_arena_alloc(a, len + 1);

	if (!p)
		return NULL;
	memcpy(p, s, len);
	p[len] = '\0';
	return p;
}

void sp_arena_reset(struct sp_arena *a)
{
	struct sp_arena_block *keep = NULL, *b, *next;

	for (b = a->blocks; b; b = b->next)
		if (!keep || b->size > keep->size)
			keep = b;
	for (b = a->blocks; b; b = next) {
		next = b->next;
		if (b != keep)
			free(b);
	}
	a->blocks = keep;
	if (keep) {
		keep->next = NULL;
		a->cur = keep->data;
		a->end = keep->data + keep->size;
	} else {
		a->cur = a->end = NULL;
	}
}
