/*
 * Directory helpers of the commit module: fsync by policy, mkdir -p,
 * listing and emptying directories, removing the staging directory.
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

uint64_t sp_commit_xxh64(const void *data, size_t len)
{
	return XXH64(data, len, 0);
}

/* A file name under the target: one component, or several separated by
 * '/' (partitioned output: a=1/b=2/f.jsonl), none of them empty or
 * starting with '.' (so no "..", and nothing hidden), not the manifest. */
bool cm_name_is_plain(const char *name)
{
	if (!strcmp(name, SP_COMMIT_MANIFEST))
		return false;
	for (const char *p = name;; p++) {
		if (!*p || *p == '.' || *p == '/')
			return false; /* an empty or dot-first component */
		p = strchrnul(p, '/');
		if (!*p)
			return true;
	}
}

/* The folders above name (a/b/f: a and a/b) made under dir_fd; 0 or
 * -errno. */
int cm_make_parents(int dir_fd, const char *name)
{
	char path[PATH_MAX];

	if (strlen(name) >= sizeof(path))
		return -ENAMETOOLONG;
	strcpy(path, name);
	for (char *p = strchr(path, '/'); p; p = strchr(p + 1, '/')) {
		*p = '\0';
		if (mkdirat(dir_fd, path, 0755) < 0 && errno != EEXIST)
			return -errno;
		*p = '/';
	}
	return 0;
}

/* fsync, unless the commit was told not to (then 0) */
int cm_sync(const struct sp_commit *c, int fd)
{
	if (!c->durable)
		return 0;
	while (fsync(fd) < 0) {
		if (errno != EINTR)
			return -errno;
	}
	return 0;
}

/* mkdir -p; 0 or -errno */
int cm_make_dirs(const char *path)
{
	char *p = strdup(path);
	int rc = 0;

	if (!p)
		return -ENOMEM;
	for (char *s = p + 1;; s++) {
		if (*s != '/' && *s != '\0')
			continue;
		char c = *s;

		*s = '\0';
		if (mkdir(p, 0755) < 0 && errno != EEXIST) {
			rc = -errno;
			break;
		}
		*s = c;
		if (!c)
			break;
	}
	free(p);
	return rc;
}

/* A stream over the entries of the directory open as fd (fd stays
 * open); NULL with errno set on failure. */
DIR *cm_dir_stream(int fd)
{
	int dup_fd = dup(fd);
	DIR *d;

	if (dup_fd < 0)
		return NULL;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return NULL;
	}
	rewinddir(d);
	return d;
}

bool cm_is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

bool cm_entry_is_dir(int dir_fd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

/* Removes the entry name of the directory fd, a directory with all it
 * holds; 0 or -errno. */
int cm_remove_entry(int fd, const char *name)
{
	int sub;

	if (unlinkat(fd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return -errno;
	cm_clear_dir(sub);
	close(sub);
	return unlinkat(fd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

/* Removes every entry of the directory open as fd; returns how many. */
int cm_clear_dir(int fd)
{
	struct dirent *de;
	int n = 0;
	DIR *d = cm_dir_stream(fd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!cm_is_dot(de->d_name) &&
		    cm_remove_entry(fd, de->d_name) == 0)
			n++;
	}
	closedir(d);
	return n;
}

/* Empties the directory fd, which may be an old version of the target
 * with its mode: a read-only one is made writable first. */
int cm_clear_old_version(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
		fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
	return cm_clear_dir(fd);
}

int cm_sync_dir(struct sp_commit *c)
{
	int rc = cm_sync(c, c->dir_fd);

	if (rc < 0)
		sp_log_error("cannot sync directory %s: %s", c->dir,
			     strerrordesc_np(-rc));
	return rc;
}

void cm_remove_staging(struct sp_commit *c)
{
	cm_clear_dir(c->staging_fd);
	if (rmdir(c->staging) < 0 && errno != ENOENT)
		sp_log_warn("cannot remove staging directory %s: %s",
			    c->staging, strerrordesc_np(errno));
}

/* After an exchange the old version sits at the staging path, open as
 * old_fd: deletes it.  A reader may still hold it open; deleting it only
 * drops links to the files that stay. */
void cm_drop_old_version(int parent_fd, int old_fd, const char *old_base,
			 const char *dir)
{
	cm_clear_old_version(old_fd);
	if (unlinkat(parent_fd, old_base, AT_REMOVEDIR) < 0)
		sp_log_warn("cannot remove the previous version of %s at "
			    "%s: %s",
			    dir, old_base, strerrordesc_np(errno));
}
