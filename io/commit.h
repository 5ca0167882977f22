/*
 * Atomic publication of a destination's files (DESIGN.md sections 7, 9).
 *
 * A run writes its files into a hidden staging directory beside the target
 * directory (same filesystem, so publishing is a rename):
 *
 *     <parent>/.<basename>.spate-staging-<stage>/
 *
 * `commit: run` publishes everything at once at sp_commit_finish: the
 * staging directory is made a complete new version of the target (this
 * run's files, fsynced; hard links to the target's files that stay;
 * _manifest.json), fsynced, and exchanged with the target directory by one
 * renameat2(RENAME_EXCHANGE), after which the parent is fsynced and the
 * old version, now at the staging path, is deleted.  A reader of the
 * target sees the old version or the new one, never a mix, whenever the
 * process dies; a failed, killed or aborted run leaves nothing visible,
 * and the next begin of the same stage removes what it left in the
 * staging directory (unpublished files, or an old version when it died
 * right after the exchange).  The new version keeps the target's mode but
 * is a new inode: owner, extended attributes and ACLs of the target
 * directory itself are not carried over.
 *
 * When the exchange cannot be used (the target holds a subdirectory or is
 * the working directory, hard links or the exchange are not supported by
 * the filesystem) finish falls back to renaming the files into the target
 * one by one, fsyncing it, and writing the manifest last: a crash in
 * between can then leave files visible that no manifest lists.
 *
 * `commit: file` publishes each file as soon as it is added (publish_now)
 * by rename into the target; the manifest still comes at finish.
 *
 * _manifest.json:
 *   {"flow": "...", "stage": "...", "run_id": "...", "files": [
 *     {"name": "...", "records": N, "bytes": N, "xxh64": "<16 hex>"}]}
 * xxh64 is XXH64 (seed 0) of the file's bytes, as `xxhsum -H1` prints it.
 * Without replace, files listed by an earlier manifest that this run did
 * not produce stay listed (a backfill adding files); with replace (--force)
 * the manifest lists this run's files only, and files of the old manifest
 * this run did not produce are left out of the new version (in the
 * fallback: deleted after the new manifest is in place).
 *
 * While a commit is open it holds an exclusive flock on the target
 * directory and on the staging directory (the target after the exchange),
 * so two runs cannot publish into one directory at once.
 * A struct sp_commit is used by one thread at a time.
 */
#ifndef SPATE_IO_COMMIT_H
#define SPATE_IO_COMMIT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define SP_COMMIT_MANIFEST "_manifest.json"

struct sp_commit;

/* Creates dir (and its parents) as needed, locks it and prepares an empty
 * staging directory beside it, removing files an earlier killed run of the
 * same stage left there.  flow, stage and run_id go into the manifest;
 * stage must not contain '/'.  Returns 0, -EINVAL (empty dir or "/",
 * bad stage), -EBUSY (another run holds dir), -ENOMEM, or the -errno of
 * mkdir/open (logged with the path). */
int sp_commit_begin(const char *dir, const char *flow, const char *stage,
		    const char *run_id, struct sp_commit **out);

/* Path at which the file `name` is written before publication (inside the
 * staging directory), valid until finish/abort/destroy.  name is a plain
 * file name, or several '/'-separated ones (partitioned output: its
 * folders are made in staging here and in the target at publication);
 * NULL when a component is empty or starts with '.' ("." and ".."
 * included), or name is the manifest's, or out of memory. */
const char *sp_commit_staging_path(struct sp_commit *c, const char *name);

/* Publishing over files that already exist: set by sp_commit_finish, and
 * before for publish_now adds.  Default false. */
void sp_commit_set_replace(struct sp_commit *c, bool replace);

/* The run id for the manifest and the commit record, when it was not
 * known at begin (taken after the data); before prepare.  0 or -ENOMEM. */
int sp_commit_set_run_id(struct sp_commit *c, const char *run_id);

/* Whether files and directories are fsynced on the way (default true).
 * Without it publication stays atomic for readers (the exchange), but a
 * crash can lose or truncate what was published. */
void sp_commit_set_durable(struct sp_commit *c, bool durable);

/* Records the finished staged file `name` with its record count and byte
 * size; the file is read once to compute its XXH64 and check its size.
 * publish_now (commit: file): fsync it, rename it into dir and fsync dir
 * now.  Returns 0, -EINVAL (not a plain name, or after finish/abort),
 * -ENOENT (no such staged file), -EEXIST (name already
 * added, or exists in dir without replace), -EIO (size is not `bytes`),
 * or -errno of the I/O; logged with the path. */
int sp_commit_add(struct sp_commit *c, const char *name, uint64_t records,
		  uint64_t bytes, bool publish_now);
/* sp_commit_add for a file whose XXH64 its writer computed while writing
 * it (sp_io_writer_digest): not read again; its size is checked. */
int sp_commit_add_hashed(struct sp_commit *c, const char *name,
			 uint64_t records, uint64_t bytes, uint64_t xxh64,
			 bool publish_now);

/* First phase of commit: run, for a run with several destinations that
 * must publish all or nothing: fsyncs every added file, reads dir's
 * manifest (a corrupt one is -EINVAL without replace) and, without
 * replace, checks that none of the files exists in dir yet.  Publishes
 * nothing and leaves dir as it is.  0 or -errno (-EEXIST ...; logged).
 * Calling it is optional: finish does the same checks when prepare was
 * not called. */
int sp_commit_prepare(struct sp_commit *c, bool replace);

/* commit: run.  Runs prepare unless it was called with the same replace
 * (and no file was added since), then publishes by exchange (see above):
 * the new version holds every file of dir except _manifest.json and, with
 * replace, the files the old manifest lists that this run did not produce
 * (stale) and the names this run replaces; without replace a name of this
 * run that exists in dir is -EEXIST and nothing is published.  The
 * manifest merges the old one's entries without replace, lists this run's
 * files only with replace.  Falls back to per-file renames as described
 * above.  Staged files never added are discarded.  Returns 0 or -errno
 * (logged); on error dir is as it was (in the fallback, files that
 * replaced a file cannot bring it back) and the caller calls abort. */
int sp_commit_finish(struct sp_commit *c, bool replace);

/* Removes the staged files and the staging directory, and takes back the
 * files published early (publish_now) that no manifest lists: a failed
 * run leaves the target as it was.  No-op after finish. */
void sp_commit_abort(struct sp_commit *c);

/* Aborts unless finished, unlocks, frees.  NULL is a no-op. */
void sp_commit_destroy(struct sp_commit *c);

struct sp_commit_file {
	char *name;
	uint64_t records;
	uint64_t bytes;
	uint64_t xxh64;
	bool has_xxh64;
};

struct sp_commit_manifest {
	char *flow;   /* NULL when absent */
	char *stage;  /* NULL when absent */
	char *run_id; /* NULL when absent */
	size_t nfiles;
	struct sp_commit_file *files;
	/* "replaced": only in an S3 writer's publication record, the files
	 * of the version a --force run replaces (deleted once the new
	 * manifest is in place); none in a manifest */
	size_t nreplaced;
	struct sp_commit_file *replaced;
};

/* Reads dir/_manifest.json.  Returns 0 and *out, -ENOENT when there is no
 * manifest, -EINVAL when it is not a manifest (logged with the path and
 * byte offset), -ENOMEM or another -errno of reading. */
int sp_commit_manifest_read(const char *dir, struct sp_commit_manifest **out);
/* The same from the directory open at dir_fd (dir names it in
 * messages): a reader holding the fd reads one version of a directory
 * that a commit may exchange meanwhile. */
int sp_commit_manifest_read_at(int dir_fd, const char *dir,
			       struct sp_commit_manifest **out);
void sp_commit_manifest_free(struct sp_commit_manifest *m);
/* A manifest from text[0..len) (where names it in messages): 0, -EINVAL
 * (logged with where and the byte offset), -ENOMEM. */
int sp_commit_manifest_parse(const char *text, size_t len, const char *where,
			     struct sp_commit_manifest **out);
struct sp_buf;
/* m as manifest text appended to b (the format above): 0 or -ENOMEM.
 * Writers that publish elsewhere than a directory (S3) use it. */
int sp_commit_manifest_format(const struct sp_commit_manifest *m,
			      struct sp_buf *b);

/*
 * A run with several destinations (commit: run): after every destination
 * prepared, each one calls sp_commit_write_record with the targets of all
 * of them; it assembles its complete new version in the staging
 * directory and writes the run-level commit record beside it (fsynced).
 * Then each finishes (exchanges); once all did, each drops its record.
 * The next begin of any of them first calls sp_commit_recover, which
 * finishes the exchanges a crash left undone when every destination of
 * that run was ready or published, and otherwise drops the records (no
 * exchange had happened).  So no crash point leaves destinations of
 * different runs that all look committed.
 */

/* The name of this commit's target in records: "<real dir>\t<stage>",
 * valid until destroy. */
const char *sp_commit_target(const struct sp_commit *c);

/* After prepare: assembles the new version and writes the record naming
 * targets (NULL-terminated, this commit's own included).  0 (also when
 * the exchange cannot be used: then no record) or -errno (logged).
 * Abort drops the record. */
int sp_commit_write_record(struct sp_commit *c, const char *const *targets);

/* After every destination of the run finished: removes the record. */
void sp_commit_drop_record(struct sp_commit *c);

/* Before a run of stage publishes into dir: completes or undoes the
 * publication that an earlier run of the same stage left half done.
 * 0 (nothing to do, or done; logged) or -errno (-EBUSY: another run
 * holds a directory of it). */
int sp_commit_recover(const char *dir, const char *stage);

/* Whether a run of stage into dir would find what its start compares
 * with a run id: a manifest in dir, or beside it a commit record or a
 * publication journal of the stage.  Reads only.  1, 0 (dir does not
 * exist either), or -errno. */
int sp_commit_has_history(const char *dir, const char *stage);

/* XXH64 of data[0..len) with seed 0 (one-shot). */
uint64_t sp_commit_xxh64(const void *data, size_t len);

#endif
