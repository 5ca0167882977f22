/*
 * Files published one by one (commit: file, or the fallback when the
 * directories cannot be exchanged) become visible before a manifest lists
 * them.  Their names go to a journal beside the staging directory first
 * (not in it: that becomes the target), so that the next begin can take
 * back what a killed run published and a rerun does not find "its" names
 * taken.  A finished commit, or one whose files were taken back, removes
 * the journal.
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

/*
 * Publishing file by file (commit: file, or the fallback) makes files
 * visible before a manifest lists them.  Their names go to a journal
 * beside the staging directory first (not in it: that becomes the target),
 * so that the next begin can take back what a killed run published and a
 * rerun does not find "its" names taken.  A finished commit, or one whose
 * files were taken back, removes the journal.
 */

void cm_drop_journal(struct sp_commit *c)
{
	if (unlinkat(c->parent_fd, c->journal, 0) == 0)
		cm_sync(c, c->parent_fd);
}

/* One line per file: the staged file's inode (a rename keeps it), then
 * its name.  Only a file that is still that inode is ever taken back, so
 * a file of the same name that was there before (the rename then failed)
 * is never touched. */
static int journal_add(struct sp_commit *c, const char *name)
{
	struct stat st, js;
	char line[32];
	int fd, rc;

	if (fstatat(c->staging_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0)
		return -errno;
	fd = openat(c->parent_fd, c->journal,
		    O_WRONLY | O_CREAT | O_APPEND | O_CLOEXEC, 0644);
	if (fd < 0)
		return -errno;
	int len = snprintf(line, sizeof(line), "%llu ",
			   (unsigned long long)st.st_ino);
	size_t n = strlen(name);
	struct iovec iov[3] = {
	    {line, (size_t)len}, {(void *)name, n}, {(void *)"\n", 1}};
	bool created = fstat(fd, &js) == 0 && js.st_size == 0;
	ssize_t w = writev(fd, iov, 3);
	rc = w == (ssize_t)(len + n + 1) ? cm_sync(c, fd)
	     : w < 0			 ? -errno
					 : -EIO;
	close(fd);
	/* a new journal must survive a power loss as the files do */
	if (!rc && created)
		rc = cm_sync(c, c->parent_fd);
	return rc;
}

/* Unlinks name from dir if it is still the inode the journal noted. */
static bool take_back_one(struct sp_commit *c, const char *line,
			  const struct sp_commit_manifest *m)
{
	char *rest;
	struct stat st;
	unsigned long long ino = strtoull(line, &rest, 10);

	if (rest == line || *rest != ' ')
		return false;
	const char *name = rest + 1;
	if (!cm_name_is_plain(name) || cm_listed(m, name) ||
	    fstatat(c->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (unsigned long long)st.st_ino != ino)
		return false;
	return unlinkat(c->dir_fd, name, 0) == 0;
}

/* begin: removes from dir the files a killed run published that the
 * manifest does not list.  Returns how many. */
int cm_take_back_published(struct sp_commit *c)
{
	struct sp_commit_manifest *m = NULL;
	char *text = NULL;
	size_t len = 0;
	int n = 0;
	FILE *f;
	int fd = openat(c->parent_fd, c->journal, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return 0;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return 0;
	}
	int rc = cm_manifest_read_at(c->dir_fd, c->dir, &m);
	if (rc == 0 || rc == -ENOENT) {
		ssize_t k;
		while ((k = getline(&text, &len, f)) > 0) {
			if (text[k - 1] == '\n')
				text[k - 1] = '\0';
			if (take_back_one(c, text, m))
				n++;
		}
	}
	free(text);
	fclose(f);
	sp_commit_manifest_free(m);
	if (n)
		cm_sync(c, c->dir_fd);
	if (rc == 0 || rc == -ENOENT)
		cm_drop_journal(c);
	if (n)
		sp_log_warn("removed %d files from %s that a failed or "
			    "interrupted run had published before its manifest",
			    n, c->dir);
	return n;
}

/* Moves e into dir; the caller fsyncs dir.  0 or -errno (logged). */
int cm_publish_file(struct sp_commit *c, struct commit_entry *e)
{
	int rc = journal_add(c, e->name);

	if (rc < 0) {
		sp_log_error("cannot note %s in %s's journal %s: %s", e->name,
			     c->dir, c->journal, strerrordesc_np(-rc));
		return rc;
	}

	/* a subfolder's file (partitioned output): its folders first */
	if (strchr(e->name, '/') && (rc = cm_make_parents(c->dir_fd, e->name))) {
		sp_log_error("cannot make the folders of %s/%s: %s", c->dir,
			     e->name, strerrordesc_np(-rc));
		return rc;
	}
	if (c->replace) {
		rc = renameat(c->staging_fd, e->name, c->dir_fd, e->name);
	} else {
		rc = renameat2(c->staging_fd, e->name, c->dir_fd, e->name,
			       RENAME_NOREPLACE);
		if (rc < 0 && errno == EINVAL) {
			/* filesystem without RENAME_NOREPLACE: link fails
			 * on an existing name just the same */
			rc = linkat(c->staging_fd, e->name, c->dir_fd, e->name,
				    0);
			if (rc == 0)
				unlinkat(c->staging_fd, e->name, 0);
		}
	}
	if (rc < 0) {
		rc = -errno;
		if (rc == -EEXIST)
			sp_log_error("%s/%s already exists (rerun with --force "
				     "to replace it)",
				     c->dir, e->name);
		else
			sp_log_error("cannot publish %s into %s: %s", e->staged,
				     c->dir, strerrordesc_np(-rc));
		return rc;
	}
	e->published = true;
	return 0;
}
