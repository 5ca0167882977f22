/*
 * The stage registry: every built-in stage type, plus the types loaded from
 * plugin shared objects.  A plugin exports
 *
 *	const struct sp_stage_desc *const spate_stage_descriptors[];
 *
 * a NULL-terminated array of descriptors (stage_api/stage.h).  Loading checks
 * each descriptor (ABI, name, kind, callbacks, option table) and registers
 * all of the file's stages or none of them.
 *
 * Threads: load and reset on the controlling thread; find, list and
 * suggest from any thread.
 */
#ifndef SPATE_STAGES_REGISTRY_H
#define SPATE_STAGES_REGISTRY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stage_api/stage.h"

/* The stage type called type (built-ins first, then plugins), or NULL.
 * A built-in name may be both an origin and a destination (postgres):
 * sp_registry_find gives the destination, sp_registry_lookup the origin
 * when origin is true (a flow stage without inputs).  Listings hold
 * both. */
const struct sp_stage_desc *sp_registry_find(const char *type);
const struct sp_stage_desc *sp_registry_lookup(const char *type, bool origin);

/* Writes up to max descriptors to out, sorted by kind (origin, processor,
 * destination, executor) then name, and returns how many it wrote.  With
 * out == NULL it returns the number of stage types known. */
uint32_t sp_registry_list(const struct sp_stage_desc **out, uint32_t max);

/* Loads the plugin at path (dlopen) and registers its stages.  0, or
 * -errno with a message naming the file in err: cannot be opened, no
 * spate_stage_descriptors, ABI 0 or newer than SP_STAGE_ABI, a name
 * already taken, a kind without its callbacks, a bad option table. */
int sp_registry_load_plugin(const char *path, char *err, size_t errlen);

/* Registers the NULL-terminated descs as coming from origin (a file name
 * for messages), with the same checks as sp_registry_load_plugin; all or
 * nothing.  The descriptors must outlive the registry (or the next
 * sp_registry_reset_plugins).  0 or -errno with err. */
int sp_registry_add(const struct sp_stage_desc *const *descs,
		    const char *origin, char *err, size_t errlen);

/* Forgets every plugin stage and closes the plugins' shared objects. */
void sp_registry_reset_plugins(void);

/* The known stage type closest to type (edit distance <= 2), or NULL. */
const char *sp_registry_suggest(const char *type);

#endif
