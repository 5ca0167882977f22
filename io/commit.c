/*
 * Atomic commit: a destination writes its files into a hidden staging
 * directory beside the target directory and publishes them by rename, so a
 * reader of the target never sees a partial file and a failed, killed or
 * aborted run leaves nothing behind but a staging directory that the next
 * run of the same stage clears.
 *
 * commit: run makes the staging directory a complete new version of the
 * target (its own files, hard links to the target's files that stay, the
 * manifest) and swaps the two directories with one
 * renameat2(RENAME_EXCHANGE): a reader sees the old version or the new one,
 * whenever the process dies.  The old version, now at the staging path, is
 * deleted afterwards (or by the next begin when the process died first).
 * Order of durability: file data and the new directory (fsync) before the
 * exchange, the exchange (parent fsync) before the old version is deleted.
 *
 * Where the exchange cannot be used (the target holds a directory or is
 * the working directory, hard links or the exchange are not supported)
 * finish falls back to renaming the files into the target one by one,
 * then writing the manifest: a crash in between leaves files beside an
 * older manifest.  commit: file always publishes this way, per file.
 */
#include "io/commit_internal.h"

#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <libgen.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/uio.h>
#include <unistd.h>

#include "core/buf.h"
#include "core/log.h"
#include "core/xxh64.h"
#include "record/json.h"

struct commit_entry *cm_find_entry(struct sp_commit *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->e[i].name, name))
			return &c->e[i];
	}
	return NULL;
}

bool cm_new_has(struct sp_commit *c, const char *name)
{
	struct commit_entry *e = cm_find_entry(c, name);

	return e && e->added;
}

bool cm_is_ours(struct sp_commit *c, const char *name)
{
	struct commit_entry *e = cm_find_entry(c, name);

	return e && e->added && !e->published;
}

static struct commit_entry *get_entry(struct sp_commit *c, const char *name)
{
	struct commit_entry *e;

	if (!cm_name_is_plain(name))
		return NULL;
	e = cm_find_entry(c, name);
	if (e)
		return e;
	if (c->n == c->cap) {
		size_t cap = c->cap ? 2 * c->cap : 16;
		struct commit_entry *ne = realloc(c->e, cap * sizeof(*ne));

		if (!ne)
			return NULL;
		c->e = ne;
		c->cap = cap;
	}
	e = &c->e[c->n];
	memset(e, 0, sizeof(*e));
	e->name = strdup(name);
	if (!e->name || asprintf(&e->staged, "%s/%s", c->staging, name) < 0) {
		free(e->name);
		return NULL;
	}
	/* a subfolder's file: its folders in staging, for the writer */
	if (strchr(name, '/')) {
		if (cm_make_parents(c->staging_fd, name) < 0) {
			free(e->name);
			free(e->staged);
			return NULL;
		}
		c->nested = true;
	}
	c->n++;
	return e;
}

/* Empties the staging directory of what an earlier run of the stage left
 * there: unpublished files of a failed or killed run, or the previous
 * version of the target when a run died between the exchange and its
 * cleanup. */

static void clear_leftovers(struct sp_commit *c)
{
	cm_take_back_published(c);
	bool old_version = faccessat(c->staging_fd, SP_COMMIT_MANIFEST, F_OK,
				     AT_SYMLINK_NOFOLLOW) == 0;
	int n = cm_clear_old_version(c->staging_fd);

	if (n > 0 && old_version)
		sp_log_info("removed the previous version of %s that an "
			    "interrupted run left in %s",
			    c->dir, c->staging);
	else if (n > 0)
		sp_log_info("removed %d unpublished files that an earlier run "
			    "left in %s",
			    n, c->staging);
}

/* Closes the descriptors (the directory's drops the locks) and frees what
 * a commit owns besides its entries: the end of create's failure path and
 * of destroy. */
static void commit_free(struct sp_commit *c)
{
	if (c->staging_fd >= 0)
		close(c->staging_fd);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	if (c->parent_fd >= 0)
		close(c->parent_fd);
	free(c->staging);
	free(c->staging_base);
	free(c->journal);
	free(c->record);
	free(c->target);
	free(c->base);
	free(c->dir);
	free(c->flow);
	free(c->stage);
	free(c->run_id);
	free(c);
}
int sp_commit_begin(const char *dir, const char *flow, const char *stage,
		    const char *run_id, struct sp_commit **out)
{
	char *real = NULL, *parent_copy = NULL, *base_copy = NULL;
	const char *parent;
	struct sp_commit *c;
	int rc;

	*out = NULL;
	if (!dir || !*dir || !stage || !*stage || strchr(stage, '/'))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->durable = true;
	c->dir_fd = -1;
	c->staging_fd = -1;
	c->parent_fd = -1;
	c->dir = strdup(dir);
	c->flow = strdup(flow ? flow : "");
	c->stage = strdup(stage);
	c->run_id = strdup(run_id ? run_id : "");
	if (!c->dir || !c->flow || !c->stage || !c->run_id) {
		rc = -ENOMEM;
		goto free_commit;
	}

	rc = cm_make_dirs(dir);
	if (rc < 0) {
		sp_log_error("cannot create directory %s: %s", dir,
			     strerrordesc_np(-rc));
		goto free_commit;
	}
	real = realpath(dir, NULL);
	if (!real) {
		rc = -errno;
		sp_log_error("cannot resolve directory %s: %s", dir,
			     strerrordesc_np(-rc));
		goto free_commit;
	}
	if (!strcmp(real, "/")) {
		rc = -EINVAL;
		sp_log_error("cannot publish into the root directory");
		goto free_real;
	}
	c->dir_fd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->dir_fd < 0) {
		rc = -errno;
		sp_log_error("cannot open directory %s: %s", dir,
			     strerrordesc_np(-rc));
		goto free_real;
	}
	if (flock(c->dir_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		sp_log_error("directory %s is being written by another run",
			     dir);
		goto free_real;
	}

	/* <parent>/.<base>.spate-staging-<stage> */
	parent_copy = strdup(real);
	base_copy = strdup(real);
	if (!parent_copy || !base_copy) {
		rc = -ENOMEM;
		goto free_real;
	}
	parent = dirname(parent_copy);
	c->base = strdup(basename(base_copy));
	if (!c->base || asprintf(&c->staging_base, ".%s.spate-staging-%s",
				 c->base, stage) < 0) {
		c->staging_base = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	if (asprintf(&c->journal, ".%s.spate-published-%s", c->base, stage) <
	    0) {
		c->journal = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	if (asprintf(&c->record, ".%s.spate-commit-%s", c->base, stage) < 0) {
		c->record = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	if (asprintf(&c->target, "%s\t%s", real, stage) < 0) {
		c->target = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	if (asprintf(&c->staging, "%s/%s", parent, c->staging_base) < 0) {
		c->staging = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	c->parent_fd = open(parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->parent_fd < 0) {
		rc = -errno;
		sp_log_error("cannot open directory %s: %s", parent,
			     strerrordesc_np(-rc));
		goto free_real;
	}
	if (mkdirat(c->parent_fd, c->staging_base, 0755) < 0 &&
	    errno != EEXIST) {
		rc = -errno;
		sp_log_error("cannot create staging directory %s: %s",
			     c->staging, strerrordesc_np(-rc));
		goto free_real;
	}
	c->staging_fd = openat(c->parent_fd, c->staging_base,
			       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (c->staging_fd < 0) {
		rc = -errno;
		sp_log_error("cannot open staging directory %s: %s", c->staging,
			     strerrordesc_np(-rc));
		goto free_real;
	}
	if (flock(c->staging_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = errno == EWOULDBLOCK ? -EBUSY : -errno;
		sp_log_error("directory %s is being written by another run",
			     dir);
		goto free_real;
	}
	clear_leftovers(c);
	free(parent_copy);
	free(base_copy);
	free(real);
	*out = c;
	return 0;

free_real:
	free(parent_copy);
	free(base_copy);
	free(real);
free_commit:
	commit_free(c);
	return rc;
}

const char *sp_commit_staging_path(struct sp_commit *c, const char *name)
{
	struct commit_entry *e = c->closed ? NULL : get_entry(c, name);

	return e ? e->staged : NULL;
}

void sp_commit_set_replace(struct sp_commit *c, bool replace)
{
	c->replace = replace;
}

int sp_commit_set_run_id(struct sp_commit *c, const char *run_id)
{
	char *copy = strdup(run_id);

	if (!copy)
		return -ENOMEM;
	free(c->run_id);
	c->run_id = copy;
	return 0;
}

void sp_commit_set_durable(struct sp_commit *c, bool durable)
{
	c->durable = durable;
}

/* sp_commit_add, with the file's hash read from it (known NULL) or
 * given by the writer that wrote it (its size is still checked). */
static int add_staged(struct sp_commit *c, const char *name, uint64_t records,
		      uint64_t bytes, const uint64_t *known, bool publish_now)
{
	struct commit_entry *e;
	uint64_t size = 0, hash = 0;
	struct stat st;
	int fd, rc = 0;

	if (c->closed || !cm_name_is_plain(name))
		return -EINVAL;
	e = get_entry(c, name);
	if (!e)
		return -ENOMEM;
	if (e->added) {
		sp_log_error("%s: file %s added twice", c->dir, name);
		return -EEXIST;
	}
	fd = openat(c->staging_fd, name, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		sp_log_error("cannot open staged file %s: %s", e->staged,
			     strerrordesc_np(-rc));
		return rc;
	}
	if (known) {
		hash = *known;
		if (fstat(fd, &st) < 0)
			rc = -errno;
		size = (uint64_t)st.st_size;
	} else if ((rc = sp_xxh64_fd(fd, &hash, &size)) < 0) {
		sp_log_error("cannot read staged file %s: %s", e->staged,
			     strerrordesc_np(-rc));
	}
	if (rc == 0 && size != bytes) {
		rc = -EIO;
		sp_log_error("staged file %s has %" PRIu64 " bytes, expected "
			     "%" PRIu64,
			     e->staged, size, bytes);
	}
	bool published = false;
	if (rc == 0 && publish_now) {
		rc = cm_sync(c, fd);
		if (rc < 0)
			sp_log_error("cannot sync %s: %s", e->staged,
				     strerrordesc_np(-rc));
		if (rc == 0)
			rc = cm_publish_file(c, e);
		if (rc == 0) {
			published = true; /* an abort takes it back */
			rc = cm_sync_dir(c);
		}
	}
	close(fd);
	if (rc < 0 && !published)
		return rc;
	e->added = true;
	e->records = records;
	e->bytes = bytes;
	e->xxh64 = hash;
	if (!publish_now) {
		c->prepared = false;
		c->assembled = false;
	}
	return rc;
}

int sp_commit_add(struct sp_commit *c, const char *name, uint64_t records,
		  uint64_t bytes, bool publish_now)
{
	return add_staged(c, name, records, bytes, NULL, publish_now);
}

int sp_commit_add_hashed(struct sp_commit *c, const char *name,
			 uint64_t records, uint64_t bytes, uint64_t xxh64,
			 bool publish_now)
{
	return add_staged(c, name, records, bytes, &xxh64, publish_now);
}

void sp_commit_abort(struct sp_commit *c)
{
	if (c->closed)
		return;
	/* a failed run takes back what it published early: the rerun
	 * publishes the same names again, exactly once */
	cm_drop_record(c);
	cm_take_back_published(c);
	cm_remove_staging(c);
	c->closed = true;
}

void sp_commit_destroy(struct sp_commit *c)
{
	if (!c)
		return;
	sp_commit_abort(c);
	for (size_t i = 0; i < c->n; i++) {
		free(c->e[i].name);
		free(c->e[i].staged);
	}
	free(c->e);
	sp_commit_manifest_free(c->old);
	commit_free(c);
}
