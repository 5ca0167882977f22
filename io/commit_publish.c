/*
 * Publication of a commit: prepare (files durable, no name taken) and
 * finish, which makes the staging directory a complete new version of the
 * target (this run's files, hard links to the files that stay, the
 * manifest) and exchanges the two directories with one
 * renameat2(RENAME_EXCHANGE); where the exchange cannot be used, files
 * are renamed into the target one by one and the manifest comes last.
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

void cm_log_exists(struct sp_commit *c, const char *name)
{
	sp_log_error("%s/%s already exists (rerun with --force to replace it)",
		     c->dir, name);
}

int sp_commit_prepare(struct sp_commit *c, bool replace)
{
	struct sp_commit_manifest *old = NULL;
	int rc;

	if (c->closed)
		return -EINVAL;
	c->replace = replace;
	c->prepared = false;
	c->assembled = false;
	rc = cm_read_old_manifest(c, replace, &old);
	if (rc < 0)
		return rc;

	/* data first: every staged file durable before it becomes visible */
	for (size_t i = 0; i < c->n; i++) {
		struct commit_entry *e = &c->e[i];
		int fd;

		if (!e->added || e->published)
			continue;
		if (!e->synced) {
			fd = openat(c->staging_fd, e->name,
				    O_RDONLY | O_CLOEXEC);
			rc = fd < 0 ? -errno : cm_sync(c, fd);
			if (fd >= 0)
				close(fd);
			if (rc < 0) {
				sp_log_error("cannot sync %s: %s", e->staged,
					     strerrordesc_np(-rc));
				goto free_old;
			}
			e->synced = true;
		}
		if (!replace && faccessat(c->dir_fd, e->name, F_OK,
					  AT_SYMLINK_NOFOLLOW) == 0) {
			rc = -EEXIST;
			cm_log_exists(c, e->name);
			goto free_old;
		}
	}
	sp_commit_manifest_free(c->old);
	c->old = old;
	c->prepared = true;
	c->prepared_replace = replace;
	return 0;

free_old:
	sp_commit_manifest_free(old);
	return rc;
}

/* Whether this run has a file under folder `dir/` (full: "a=1/"). */
static bool ours_under(struct sp_commit *c, const char *dir, size_t len)
{
	for (size_t i = 0; i < c->n; i++)
		if (cm_is_ours(c, c->e[i].name) &&
		    !strncmp(c->e[i].name, dir, len))
			return true;
	return false;
}

/* discard_others in the folder fd, whose names start with prefix. */
static int discard_in(struct sp_commit *c, int fd, const char *prefix)
{
	struct dirent *de;
	char full[PATH_MAX];
	int rc = 0;
	DIR *d = cm_dir_stream(fd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (cm_is_dot(de->d_name))
			continue;
		int n = snprintf(full, sizeof(full), "%s%s/", prefix,
				 de->d_name);
		if (n < 0 || (size_t)n >= sizeof(full))
			continue;
		full[n - 1] = '\0';
		if (cm_is_ours(c, full))
			continue;
		full[n - 1] = '/';
		/* a subfolder with this run's files: keep those only */
		if (c->nested && cm_entry_is_dir(fd, de) &&
		    ours_under(c, full, (size_t)n)) {
			int sub = openat(fd, de->d_name,
					 O_RDONLY | O_DIRECTORY | O_NOFOLLOW |
					     O_CLOEXEC);
			rc = sub < 0 ? -errno : discard_in(c, sub, full);
			if (sub >= 0)
				close(sub);
			if (rc < 0)
				break;
			continue;
		}
		rc = cm_remove_entry(fd, de->d_name);
		if (rc < 0 && rc != -ENOENT) {
			sp_log_error("cannot remove %s/%s%s: %s", c->staging,
				     prefix, de->d_name, strerrordesc_np(-rc));
			break;
		}
		rc = 0;
	}
	closedir(d);
	return rc;
}

/* Leaves in the staging directory this run's files only: removes files
 * staged but never added, links and the manifest of a failed exchange. */
static int discard_others(struct sp_commit *c)
{
	return discard_in(c, c->staging_fd, "");
}

/* Whether the old manifest lists a file in a subfolder. */
static bool old_nested(const struct sp_commit *c)
{
	for (size_t i = 0; c->old && i < c->old->nfiles; i++)
		if (strchr(c->old->files[i].name, '/'))
			return true;
	return false;
}

/* link_kept from folder src of the target into dst of the staging
 * directory, names starting with prefix.  Subfolders are linked file by
 * file when the output is partitioned (nested), else they make the
 * exchange unusable (1), as before partitions. */
static int link_in(struct sp_commit *c, int src, int dst, const char *prefix,
		   bool replace, bool nested)
{
	struct dirent *de;
	char full[PATH_MAX];
	int rc = 0;
	DIR *d = cm_dir_stream(src);

	if (!d) {
		rc = -errno;
		sp_log_error("cannot read directory %s/%s: %s", c->dir, prefix,
			     strerrordesc_np(-rc));
		return rc;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (cm_is_dot(name) ||
		    (!*prefix && (!strcmp(name, SP_COMMIT_MANIFEST) ||
				  !strcmp(name, MANIFEST_TMP))))
			continue;
		int n = snprintf(full, sizeof(full), "%s%s", prefix, name);
		if (n < 0 || (size_t)n + 1 >= sizeof(full)) {
			rc = -ENAMETOOLONG;
			break;
		}
		if (cm_entry_is_dir(src, de)) {
			if (!nested) {
				sp_log_debug("%s holds the directory %s: "
					     "publishing file by file",
					     c->dir, name);
				rc = 1;
				break;
			}
			strcat(full, "/");
			int s = openat(src, name, O_RDONLY | O_DIRECTORY |
							  O_NOFOLLOW | O_CLOEXEC);
			if (s < 0 ||
			    (mkdirat(dst, name, 0755) < 0 && errno != EEXIST)) {
				rc = -errno;
				if (s >= 0)
					close(s);
				sp_log_error("cannot copy folder %s/%s into "
					     "%s: %s",
					     c->dir, full, c->staging,
					     strerrordesc_np(-rc));
				break;
			}
			int t = openat(dst, name, O_RDONLY | O_DIRECTORY |
							  O_NOFOLLOW | O_CLOEXEC);
			rc = t < 0 ? -errno
				   : link_in(c, s, t, full, replace, nested);
			close(s);
			if (t >= 0)
				close(t);
			if (rc != 0)
				break;
			continue;
		}
		if (cm_is_ours(c, full)) {
			if (replace)
				continue;
			cm_log_exists(c, full);
			rc = -EEXIST;
			break;
		}
		if (replace && cm_listed(c->old, full) && !cm_new_has(c, full))
			continue; /* stale */
		if (linkat(src, name, dst, name, 0) == 0)
			continue;
		rc = -errno;
		if (rc == -EPERM || rc == -EXDEV || rc == -EMLINK ||
		    rc == -EOPNOTSUPP) {
			sp_log_debug("cannot link %s/%s into %s (%s): "
				     "publishing file by file",
				     c->dir, full, c->staging,
				     strerrordesc_np(-rc));
			rc = 1;
		} else {
			sp_log_error("cannot link %s/%s into %s: %s", c->dir,
				     full, c->staging, strerrordesc_np(-rc));
		}
		break;
	}
	closedir(d);
	return rc;
}

/* Hard-links into the staging directory every entry of the target that the
 * new version keeps: all but the manifest, names this run replaces, and
 * with replace the files of the old manifest this run did not produce.
 * 0, 1 when the exchange cannot be used, or -errno (logged). */
static int link_kept(struct sp_commit *c, bool replace)
{
	return link_in(c, c->dir_fd, c->staging_fd, "", replace,
		       c->nested || old_nested(c));
}

/* Swaps staging and target in the parent, and back when it cannot be made
 * durable.  0, 1 when the filesystem cannot exchange, or -errno (logged). */
static int swap_dirs(struct sp_commit *c, unsigned int *how)
{
	struct stat st, cur;
	int rc;

	if (fstat(c->dir_fd, &st) < 0)
		return -errno;
	/* the new version keeps the target's permissions */
	if (fchmod(c->staging_fd, st.st_mode & 07777) < 0)
		sp_log_warn("cannot set the mode of %s: %s", c->staging,
			    strerrordesc_np(errno));
	rc = cm_sync(c, c->staging_fd);
	if (rc < 0) {
		sp_log_error("cannot sync directory %s: %s", c->staging,
			     strerrordesc_np(-rc));
		return rc;
	}
	*how = RENAME_EXCHANGE;
	if (fstatat(c->parent_fd, c->base, &cur, AT_SYMLINK_NOFOLLOW) < 0) {
		if (errno != ENOENT)
			return -errno;
		*how = RENAME_NOREPLACE; /* removed since begin */
	} else if (cur.st_dev != st.st_dev || cur.st_ino != st.st_ino) {
		sp_log_error("%s was replaced by another directory while the "
			     "run wrote into it",
			     c->dir);
		return -ESTALE;
	}
	if (renameat2(c->parent_fd, c->staging_base, c->parent_fd, c->base,
		      *how) < 0) {
		rc = -errno;
		if (rc == -EINVAL || rc == -ENOSYS || rc == -EOPNOTSUPP) {
			sp_log_debug("cannot exchange %s with %s (%s): "
				     "publishing file by file",
				     c->staging, c->dir, strerrordesc_np(-rc));
			return 1;
		}
		sp_log_error("cannot publish %s as %s: %s", c->staging, c->dir,
			     strerrordesc_np(-rc));
		return rc;
	}
	rc = cm_sync(c, c->parent_fd);
	if (rc < 0) {
		sp_log_error("cannot sync the directory of %s: %s", c->dir,
			     strerrordesc_np(-rc));
		/* both ways: the same flags swap or move it back */
		if (renameat2(c->parent_fd, c->base, c->parent_fd,
			      c->staging_base, *how) < 0)
			return 0; /* published after all */
		return rc;
	}
	return 0;
}

/* Makes the staging directory the complete new version of the target:
 * this run's files, links to the files that stay, the manifest.  0, 1
 * when the exchange cannot be used (staging as before, nothing changed),
 * or -errno (logged; staging as before). */
int cm_assemble_version(struct sp_commit *c, bool replace)
{
	struct stat st, cwd;
	struct sp_buf b;
	int rc;

	if (c->assembled)
		return 0;
	/* relative paths would then resolve in the deleted old version */
	if (fstat(c->dir_fd, &st) == 0 && stat(".", &cwd) == 0 &&
	    st.st_dev == cwd.st_dev && st.st_ino == cwd.st_ino) {
		sp_log_debug("%s is the working directory: publishing file by "
			     "file",
			     c->dir);
		return 1;
	}
	rc = discard_others(c);
	if (rc < 0)
		return rc;
	rc = link_kept(c, replace);
	if (rc != 0)
		goto undo;
	sp_buf_init(&b);
	rc = cm_build_manifest(c, replace ? NULL : c->old, &b);
	if (!rc)
		rc = cm_write_manifest(c, &b, c->staging_fd);
	sp_buf_fini(&b);
	if (rc < 0)
		goto undo;
	c->assembled = true;
	return 0;

undo:
	discard_others(c);
	return rc;
}

/* Assembles the new version (unless done) and exchanges it with the
 * target.  0, 1 when the exchange cannot be used, or -errno (logged;
 * staging holds this run's files only). */
static int publish_by_exchange(struct sp_commit *c, bool replace)
{
	unsigned int how = RENAME_EXCHANGE;
	int fd;
	int rc = cm_assemble_version(c, replace);

	if (rc != 0)
		return rc;
	rc = swap_dirs(c, &how);
	if (rc != 0) {
		c->assembled = false;
		discard_others(c);
		return rc;
	}

	/* the fds follow the inodes: dir_fd is now the old version */
	fd = c->dir_fd;
	c->dir_fd = c->staging_fd;
	c->staging_fd = fd;
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].added)
			c->e[i].published = true;
	}
	if (how == RENAME_EXCHANGE)
		cm_drop_old_version(c->parent_fd, c->staging_fd,
				    c->staging_base, c->dir);
	return 0;
}

/* Fallback: renames the files into the target one by one, then writes the
 * manifest and deletes stale files (replace only). */
static int publish_by_rename(struct sp_commit *c, bool replace)
{
	const struct sp_commit_manifest *old = c->old;
	struct sp_buf b;
	bool stale = false;
	int rc;

	for (size_t i = 0; i < c->n; i++) {
		struct commit_entry *e = &c->e[i];

		if (!e->added || e->published)
			continue;
		rc = cm_publish_file(c, e);
		if (rc < 0)
			goto unpublish;
		e->moved = true;
	}
	rc = cm_sync_dir(c);
	if (rc < 0)
		goto unpublish;

	sp_buf_init(&b);
	rc = cm_build_manifest(c, replace ? NULL : old, &b);
	if (!rc)
		rc = cm_write_manifest(c, &b, c->dir_fd);
	sp_buf_fini(&b);
	if (rc < 0)
		goto unpublish;

	/* --force: files of the old run that this run did not produce */
	for (size_t i = 0; replace && old && i < old->nfiles; i++) {
		const char *name = old->files[i].name;

		if (!cm_name_is_plain(name) || cm_new_has(c, name))
			continue;
		if (unlinkat(c->dir_fd, name, 0) == 0)
			stale = true;
		else if (errno != ENOENT)
			sp_log_warn("cannot remove stale file %s/%s: %s",
				    c->dir, name, strerrordesc_np(errno));
	}
	if (stale)
		cm_sync_dir(c);
	cm_remove_staging(c);
	return 0;

unpublish:
	/* no manifest names them: take the files back out of sight (those
	 * that replaced a file cannot bring it back) */
	for (size_t i = 0; i < c->n; i++) {
		struct commit_entry *e = &c->e[i];

		if (e->moved &&
		    renameat(c->dir_fd, e->name, c->staging_fd, e->name) == 0) {
			e->moved = false;
			e->published = false;
		}
	}
	cm_sync_dir(c);
	return rc;
}

int sp_commit_finish(struct sp_commit *c, bool replace)
{
	int rc;

	if (c->closed)
		return -EINVAL;
	if (!c->prepared || c->prepared_replace != replace) {
		rc = sp_commit_prepare(c, replace);
		if (rc < 0)
			return rc;
	}
	c->replace = replace;
	rc = publish_by_exchange(c, replace);
	if (rc == 1)
		rc = publish_by_rename(c, replace);
	if (rc < 0) {
		c->prepared = false;
		return rc;
	}
	c->closed = true;
	/* the manifest lists every published file now */
	cm_drop_journal(c);
	sp_commit_manifest_free(c->old);
	c->old = NULL;
	return 0;
}
