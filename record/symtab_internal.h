/*
 * The symbol table's layout, for the engine's own hot loops only (the
 * JSON-lines encoder looks a key up per field: a call into symtab.c cost
 * more than the lookup).  Plugins see the opaque table of symtab.h.
 */
#ifndef SPATE_RECORD_SYMTAB_INTERNAL_H
#define SPATE_RECORD_SYMTAB_INTERNAL_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>

#include "record/symtab.h"

#define SYMTAB_PAGE_BITS 10
#define SYMTAB_PAGE_SIZE (1u << SYMTAB_PAGE_BITS)
#define SYMTAB_NPAGES (SP_SYMTAB_MAX / SYMTAB_PAGE_SIZE)

struct sym_entry {
	const char *name;
	const char *json_key;
	uint32_t len;
	uint32_t json_key_len;
};

struct sp_symtab {
	pthread_mutex_t lock;
	_Atomic(struct sym_entry *) pages[SYMTAB_NPAGES];
	_Atomic uint32_t count; /* ids 1..count-1 are valid; 0 is NONE */
	uint32_t *index;	/* open addressing: slot -> id, 0 = empty */
	uint32_t index_cap;
};

/* Page n of the table: NULL until a name on it is added. */
static inline struct sym_entry *sp_symtab_page(const struct sp_symtab *st,
					       uint32_t n)
{
	/* acquire pairs with the release store in add_entry() */
	return atomic_load_explicit(&((struct sp_symtab *)st)->pages[n],
				    memory_order_acquire);
}

static inline struct sym_entry *sp_symtab_entry(const struct sp_symtab *st,
						uint32_t sym)
{
	return &sp_symtab_page(st, sym >> SYMTAB_PAGE_BITS)
		    [sym & (SYMTAB_PAGE_SIZE - 1)];
}

#endif
