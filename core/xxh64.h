/*
 * XXH64 (seed 0, as `xxhsum -H1` prints it) from libxxhash: the content
 * hash of manifests and of the catalog's load history.  Streaming use goes
 * through XXH64_state_t (XXH64_reset / XXH64_update / XXH64_digest).
 */
#ifndef SPATE_ENGINE_XXH64_H
#define SPATE_ENGINE_XXH64_H

#include <stddef.h>
#include <stdint.h>

#define XXH_STATIC_LINKING_ONLY /* XXH64_state_t on the stack */
#include <xxhash.h>

/* XXH64 of a whole file, read in blocks.  0 or -errno. */
int sp_xxh64_file(const char *path, uint64_t *out);
/* The same of what is left to read of fd; *size (may be NULL) the bytes
 * read.  A regular file of 8 MiB or more is read by two more threads
 * ahead of the hash; either way fd is left after what was read.  0 or
 * -errno. */
int sp_xxh64_fd(int fd, uint64_t *out, uint64_t *size);
/* sp_xxh64_fd, read ahead of the hash whatever the size of fd, which
 * must take pread (tests use it on small files and folders); -EAGAIN
 * when the threads could not be started. */
int sp_xxh64_fd_ahead(int fd, uint64_t *out, uint64_t *size);

/* One file of sp_xxh64_files: its path in, its hash and result out. */
struct sp_xxh64_job {
	const char *path;
	uint64_t hash;
	int rc; /* 0 or -errno */
};

/* Each may start readers of its own for a large file, with 4 MiB of
 * read-ahead: four bound that memory to 16 MiB, well inside a run's
 * budget (peak RSS stays flat whatever the input). */
#define SP_XXH64_MAX_THREADS 4

/* Hashes each job's file (sp_xxh64_file), the files shared among up to
 * threads threads (this one among them; at most SP_XXH64_MAX_THREADS),
 * taken in order.  Once a file cannot be read, the files no thread has
 * taken yet are left with rc -ECANCELED: the first error in the jobs'
 * order that is not -ECANCELED is the one to report. */
void sp_xxh64_files(struct sp_xxh64_job *jobs, size_t n, unsigned threads);

#endif
