/*
 * XXH64 (seed 0, as `xxhsum -H1` prints it) from libxxhash: the content
 * hash of manifests and of the catalog's load history.  Streaming use goes
 * through XXH64_state_t (XXH64_reset / XXH64_update / XXH64_digest).
 */
#ifndef SPATE_ENGINE_XXH64_H
#define SPATE_ENGINE_XXH64_H

#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

/* XXH64 of a whole file, read in blocks.  0 or -errno. */
int sp_xxh64_file(const char *path, uint64_t *out);
/* The same of what is left to read of fd; *size (may be NULL) the bytes
 * read.  0 or -errno. */
int sp_xxh64_fd(int fd, uint64_t *out, uint64_t *size);

#endif
