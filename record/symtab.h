/*
 * Field-name interning.  Every field name of a flow maps to a small integer
 * (a symbol); processors work on symbols, so a rename is an id change.
 * Symbol 0 (SP_SYM_NONE) marks a removed field.
 */
#ifndef SPATE_ENGINE_SYMTAB_H
#define SPATE_ENGINE_SYMTAB_H

#include <stddef.h>
#include <stdint.h>
#include <string.h>

#define SP_SYM_NONE 0u
#define SP_SYMTAB_MAX (1u << 20)

struct sp_symtab;

struct sp_symtab *sp_symtab_create(void);
void sp_symtab_destroy(struct sp_symtab *st);

/* A new table holding src's names under the same symbols, so that what
 * was compiled against src (expressions, field paths) reads the copy
 * alike; names added to either afterwards are the table's own.  NULL when
 * out of memory.  src must not grow meanwhile. */
struct sp_symtab *sp_symtab_clone(const struct sp_symtab *src);

/* Returns the symbol of name (len bytes, need not be NUL-terminated),
 * adding it when new; SP_SYM_NONE when out of memory or when the table
 * holds SP_SYMTAB_MAX names.  Any thread may call it. */
uint32_t sp_symtab_intern(struct sp_symtab *st, const char *name, size_t len);

/* Symbol of name if already interned, else SP_SYM_NONE.  Any thread. */
uint32_t sp_symtab_find(struct sp_symtab *st, const char *name, size_t len);

/* The NUL-terminated name of sym; *len gets its length when len != NULL.
 * Lock-free; valid for the symtab's lifetime.  sym must be a symbol that
 * this table returned. */
const char *sp_symtab_name(const struct sp_symtab *st, uint32_t sym,
			   uint32_t *len);

/* The name encoded as a JSON object key with its colon: "name": */
const char *sp_symtab_json_key(const struct sp_symtab *st, uint32_t sym,
			       uint32_t *len);

uint32_t sp_symtab_count(const struct sp_symtab *st);

/*
 * A per-thread cache in front of the table: a hit is one hash and one
 * memcmp, no lock.  Embed it (sp_symcache_init) in parser state.
 */
#define SP_SYMCACHE_SLOTS 512

struct sp_symcache_slot {
	const char *name;
	uint32_t len;
	uint32_t sym;
};

struct sp_symcache {
	struct sp_symtab *st;
	struct sp_symcache_slot slot[SP_SYMCACHE_SLOTS];
};

void sp_symcache_init(struct sp_symcache *c, struct sp_symtab *st);
uint32_t sp_symcache_intern_slow(struct sp_symcache *c, const char *name,
				 size_t len, uint32_t h);

static inline uint32_t sp_symcache_hash(const char *s, size_t len)
{
	uint32_t h = 2166136261u;

	for (size_t i = 0; i < len; i++)
		h = (h ^ (unsigned char)s[i]) * 16777619u;
	return h;
}

static inline uint32_t sp_symcache_intern(struct sp_symcache *c,
					  const char *name, size_t len)
{
	uint32_t h = sp_symcache_hash(name, len);
	struct sp_symcache_slot *s = &c->slot[h % SP_SYMCACHE_SLOTS];

	if (s->len == len && s->name && memcmp(s->name, name, len) == 0)
		return s->sym;
	return sp_symcache_intern_slow(c, name, len, h);
}

#endif
