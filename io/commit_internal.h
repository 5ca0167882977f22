/*
 * What the files of the commit module share (commit.c: begin, add, abort;
 * commit_fs.c: directory helpers; commit_journal.c: files published one by
 * one; commit_manifest.c: the manifest; commit_publish.c: prepare and
 * finish; commit_recover.c: the run-level commit record).  Nothing
 * outside io/commit*.c includes this.
 */
#ifndef SPATE_IO_COMMIT_INTERNAL_H
#define SPATE_IO_COMMIT_INTERNAL_H

#define _GNU_SOURCE
#include "io/commit.h"

#include <dirent.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"

#define MANIFEST_TMP ".manifest.tmp"
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)

struct commit_entry {
	char *name;
	char *staged; /* full path in the staging directory */
	bool added;
	bool published;
	bool synced; /* fsynced by prepare */
	bool moved;  /* published by finish: rolled back on failure */
	uint64_t records;
	uint64_t bytes;
	uint64_t xxh64;
};

struct sp_commit {
	char *dir;	    /* as given, for messages */
	char *staging;	    /* staging directory path */
	char *base;	    /* name of the target in its parent */
	char *staging_base; /* name of the staging directory in the parent */
	char *journal;	    /* name of the published-files journal, ditto */
	char *flow;
	char *stage;
	char *run_id;
	/* Both directories are locked with flock, so that after the exchange
	 * the target (then the former staging inode) stays locked. */
	int dir_fd;
	int staging_fd;
	int parent_fd;
	bool replace;
	bool durable;  /* fsync files and directories (default) */
	bool closed;   /* finished or aborted */
	bool prepared; /* prepare passed, with prepared_replace */
	bool prepared_replace;
	bool assembled; /* staging holds the complete new version */
	bool nested;	/* a name of this run lies in a subfolder */
	char *record;	/* name of the run-level commit record in parent */
	char *target;	/* "<real dir>\t<stage>": names it in records */
	struct sp_commit_manifest *old; /* the target's manifest at prepare */
	struct commit_entry *e;
	size_t n;
	size_t cap;
};

bool cm_name_is_plain(const char *name);
int cm_make_parents(int dir_fd, const char *name);
int cm_sync(const struct sp_commit *c, int fd);
int cm_make_dirs(const char *path);
DIR *cm_dir_stream(int fd);
bool cm_is_dot(const char *name);
bool cm_entry_is_dir(int dir_fd, const struct dirent *de);
int cm_remove_entry(int fd, const char *name);
int cm_clear_dir(int fd);
int cm_clear_old_version(int fd);
int cm_sync_dir(struct sp_commit *c);
void cm_remove_staging(struct sp_commit *c);
struct commit_entry *cm_find_entry(struct sp_commit *c, const char *name);
bool cm_new_has(struct sp_commit *c, const char *name);
bool cm_is_ours(struct sp_commit *c, const char *name);
void cm_drop_journal(struct sp_commit *c);
int cm_take_back_published(struct sp_commit *c);
int cm_publish_file(struct sp_commit *c, struct commit_entry *e);
int cm_build_manifest(struct sp_commit *c, const struct sp_commit_manifest *old,
		      struct sp_buf *b);
int cm_write_manifest(struct sp_commit *c, const struct sp_buf *b, int dst_fd);
int cm_read_old_manifest(struct sp_commit *c, bool replace,
			 struct sp_commit_manifest **old);
bool cm_listed(const struct sp_commit_manifest *m, const char *name);
int cm_manifest_read_at(int dir_fd, const char *dir,
			struct sp_commit_manifest **out);
void cm_log_exists(struct sp_commit *c, const char *name);

int cm_assemble_version(struct sp_commit *c, bool replace);
void cm_drop_old_version(int parent_fd, int old_fd, const char *old_base,
			 const char *dir);
void cm_drop_record(struct sp_commit *c);

#endif
