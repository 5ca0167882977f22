/*
 * Symbol table: name -> id under a mutex (misses only; the per-thread
 * sp_symcache answers the rest), id -> name lock-free.  Names live in
 * fixed-size pages that never move, and a page pointer is published with a
 * release store before any id in it is handed out, so readers need no lock.
 */
#include "record/symtab.h"
#include "record/symtab_internal.h"

#include <stdlib.h>
#include <string.h>

struct sp_symtab *sp_symtab_create(void)
{
	struct sp_symtab *st = calloc(1, sizeof(*st));

	if (!st)
		return NULL;
	pthread_mutex_init(&st->lock, NULL);
	st->index_cap = 1024;
	st->index = calloc(st->index_cap, sizeof(*st->index));
	if (!st->index) {
		free(st);
		return NULL;
	}
	atomic_store(&st->count, 1);
	return st;
}

static struct sym_entry *entry(const struct sp_symtab *st, uint32_t sym)
{
	return sp_symtab_entry(st, sym);
}

void sp_symtab_destroy(struct sp_symtab *st)
{
	if (!st)
		return;
	uint32_t n = atomic_load(&st->count);
	for (uint32_t i = 1; i < n; i++) {
		free((void *)entry(st, i)->name);
		free((void *)entry(st, i)->json_key);
	}
	for (uint32_t p = 0; p < SYMTAB_NPAGES; p++)
		free(atomic_load(&st->pages[p]));
	free(st->index);
	pthread_mutex_destroy(&st->lock);
	free(st);
}

static uint32_t *index_slot(struct sp_symtab *st, const char *name,
			    size_t len)
{
	uint32_t mask = st->index_cap - 1;
	uint32_t i = sp_symcache_hash(name, len) & mask;

	for (;; i = (i + 1) & mask) {
		uint32_t id = st->index[i];
		if (id == 0)
			return &st->index[i];
		struct sym_entry *e = entry(st, id);
		if (e->len == len && memcmp(e->name, name, len) == 0)
			return &st->index[i];
	}
}

static int index_grow(struct sp_symtab *st)
{
	uint32_t old_cap = st->index_cap, *old = st->index;

	st->index = calloc(old_cap * 2, sizeof(*st->index));
	if (!st->index) {
		st->index = old;
		return -1;
	}
	st->index_cap = old_cap * 2;
	for (uint32_t i = 0; i < old_cap; i++) {
		if (!old[i])
			continue;
		struct sym_entry *e = entry(st, old[i]);
		*index_slot(st, e->name, e->len) = old[i];
	}
	free(old);
	return 0;
}

/* "name": with JSON escapes for quote, backslash and control bytes */
static char *make_json_key(const char *name, size_t len, uint32_t *out_len)
{
	char *k = malloc(len * 6 + 4), *p = k;

	if (!k)
		return NULL;
	*p++ = '"';
	for (size_t i = 0; i < len; i++) {
		unsigned char c = (unsigned char)name[i];
		if (c == '"' || c == '\\') {
			*p++ = '\\';
			*p++ = (char)c;
		} else if (c < 0x20) {
			static const char hex[] = "0123456789abcdef";
			memcpy(p, "\\u00", 4);
			p[4] = hex[c >> 4];
			p[5] = hex[c & 15];
			p += 6;
		} else {
			*p++ = (char)c;
		}
	}
	*p++ = '"';
	*p++ = ':';
	*p = '\0';
	*out_len = (uint32_t)(p - k);
	return k;
}

static uint32_t add_entry(struct sp_symtab *st, const char *name, size_t len)
{
	uint32_t id = atomic_load_explicit(&st->count, memory_order_relaxed);

	if (id >= SP_SYMTAB_MAX)
		return SP_SYM_NONE;
	if ((id + 1) * 2 > st->index_cap && index_grow(st))
		return SP_SYM_NONE;
	struct sym_entry *page = atomic_load_explicit(
		&st->pages[id >> SYMTAB_PAGE_BITS], memory_order_relaxed);
	if (!page) {
		page = calloc(SYMTAB_PAGE_SIZE, sizeof(*page));
		if (!page)
			return SP_SYM_NONE;
		/* release pairs with the acquire load in entry() */
		atomic_store_explicit(&st->pages[id >> SYMTAB_PAGE_BITS], page,
				      memory_order_release);
	}
	struct sym_entry *e = &page[id & (SYMTAB_PAGE_SIZE - 1)];
	char *copy = malloc(len + 1);
	uint32_t klen;
	char *key = make_json_key(name, len, &klen);
	if (!copy || !key) {
		free(copy);
		free(key);
		return SP_SYM_NONE;
	}
	memcpy(copy, name, len);
	copy[len] = '\0';
	e->name = copy;
	e->len = (uint32_t)len;
	e->json_key = key;
	e->json_key_len = klen;
	*index_slot(st, name, len) = id;
	/* release: the entry is complete before the id is visible */
	atomic_store_explicit(&st->count, id + 1, memory_order_release);
	return id;
}

uint32_t sp_symtab_intern(struct sp_symtab *st, const char *name, size_t len)
{
	uint32_t id;

	if (len > UINT32_MAX / 8)
		return SP_SYM_NONE;
	pthread_mutex_lock(&st->lock);
	id = *index_slot(st, name, len);
	if (id == 0)
		id = add_entry(st, name, len);
	pthread_mutex_unlock(&st->lock);
	return id;
}

struct sp_symtab *sp_symtab_clone(const struct sp_symtab *src)
{
	struct sp_symtab *st = sp_symtab_create();
	uint32_t n = sp_symtab_count(src);

	/* an empty table hands out 1, 2, ... in order: the same symbols */
	for (uint32_t i = 1; st && i < n; i++) {
		uint32_t len;
		const char *name = sp_symtab_name(src, i, &len);

		if (sp_symtab_intern(st, name, len) != i) {
			sp_symtab_destroy(st);
			st = NULL;
		}
	}
	return st;
}

uint32_t sp_symtab_find(struct sp_symtab *st, const char *name, size_t len)
{
	uint32_t id;

	pthread_mutex_lock(&st->lock);
	id = *index_slot(st, name, len);
	pthread_mutex_unlock(&st->lock);
	return id;
}

const char *sp_symtab_name(const struct sp_symtab *st, uint32_t sym,
			   uint32_t *len)
{
	struct sym_entry *e = entry(st, sym);

	if (len)
		*len = e->len;
	return e->name;
}

const char *sp_symtab_json_key(const struct sp_symtab *st, uint32_t sym,
			       uint32_t *len)
{
	struct sym_entry *e = entry(st, sym);

	*len = e->json_key_len;
	return e->json_key;
}

uint32_t sp_symtab_count(const struct sp_symtab *st)
{
	return atomic_load_explicit(&((struct sp_symtab *)st)->count,
				    memory_order_acquire);
}

void sp_symcache_init(struct sp_symcache *c, struct sp_symtab *st)
{
	memset(c, 0, sizeof(*c));
	c->st = st;
}

uint32_t sp_symcache_intern_slow(struct sp_symcache *c, const char *name,
				 size_t len, uint32_t h)
{
	uint32_t sym = sp_symtab_intern(c->st, name, len);

	if (sym != SP_SYM_NONE) {
		struct sp_symcache_slot *s = &c->slot[h % SP_SYMCACHE_SLOTS];
		uint32_t n;
		s->name = sp_symtab_name(c->st, sym, &n);
		s->len = n;
		s->sym = sym;
	}
	return sym;
}
