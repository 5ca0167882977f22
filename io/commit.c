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
#define _GNU_SOURCE
#include "io/commit.h"

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
#include "record/json.h"
#include "core/log.h"
#include "core/xxh64.h"

#define MANIFEST_TMP ".manifest.tmp"
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)
#define HASH_CHUNK ((size_t)1 << 20)

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
	struct sp_commit_manifest *old; /* the target's manifest at prepare */
	struct commit_entry *e;
	size_t n;
	size_t cap;
};

static int manifest_read_at(int dir_fd, const char *dir,
			    struct sp_commit_manifest **out);
static bool listed(const struct sp_commit_manifest *m, const char *name);

uint64_t sp_commit_xxh64(const void *data, size_t len)
{
	return XXH64(data, len, 0);
}

/*
 * Helpers.
 */

static bool name_is_plain(const char *name)
{
	return *name && name[0] != '.' && !strchr(name, '/') &&
	       strcmp(name, SP_COMMIT_MANIFEST) != 0;
}

/* fsync, unless the commit was told not to (then 0) */
static int commit_sync(const struct sp_commit *c, int fd)
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
static int make_dirs(const char *path)
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
static DIR *dir_stream(int fd)
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

static bool is_dot(const char *name)
{
	return !strcmp(name, ".") || !strcmp(name, "..");
}

static bool entry_is_dir(int dir_fd, const struct dirent *de)
{
	struct stat st;

	if (de->d_type != DT_UNKNOWN)
		return de->d_type == DT_DIR;
	return fstatat(dir_fd, de->d_name, &st, AT_SYMLINK_NOFOLLOW) == 0 &&
	       S_ISDIR(st.st_mode);
}

static int clear_dir(int fd);

/* Removes the entry name of the directory fd, a directory with all it
 * holds; 0 or -errno. */
static int remove_entry(int fd, const char *name)
{
	int sub;

	if (unlinkat(fd, name, 0) == 0)
		return 0;
	if (errno != EISDIR && errno != EPERM)
		return -errno;
	sub = openat(fd, name, O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (sub < 0)
		return -errno;
	clear_dir(sub);
	close(sub);
	return unlinkat(fd, name, AT_REMOVEDIR) == 0 ? 0 : -errno;
}

/* Removes every entry of the directory open as fd; returns how many. */
static int clear_dir(int fd)
{
	struct dirent *de;
	int n = 0;
	DIR *d = dir_stream(fd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (!is_dot(de->d_name) && remove_entry(fd, de->d_name) == 0)
			n++;
	}
	closedir(d);
	return n;
}

static struct commit_entry *find_entry(struct sp_commit *c, const char *name)
{
	for (size_t i = 0; i < c->n; i++) {
		if (!strcmp(c->e[i].name, name))
			return &c->e[i];
	}
	return NULL;
}

/* Empties the directory fd, which may be an old version of the target
 * with its mode: a read-only one is made writable first. */
static int clear_old_version(int fd)
{
	struct stat st;

	if (fstat(fd, &st) == 0 && (st.st_mode & S_IRWXU) != S_IRWXU)
		fchmod(fd, (st.st_mode & 07777) | S_IRWXU);
	return clear_dir(fd);
}

/* Empties the staging directory of what an earlier run of the stage left
 * there: unpublished files of a failed or killed run, or the previous
 * version of the target when a run died between the exchange and its
 * cleanup. */
static int take_back_published(struct sp_commit *c);

static void clear_leftovers(struct sp_commit *c)
{
	take_back_published(c);
	bool old_version = faccessat(c->staging_fd, SP_COMMIT_MANIFEST, F_OK,
				     AT_SYMLINK_NOFOLLOW) == 0;
	int n = clear_old_version(c->staging_fd);

	if (n > 0 && old_version)
		sp_log_info("removed the previous version of %s that an "
			    "interrupted run left in %s",
			    c->dir, c->staging);
	else if (n > 0)
		sp_log_info("removed %d unpublished files that an earlier run "
			    "left in %s",
			    n, c->staging);
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

	rc = make_dirs(dir);
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
	if (c->staging_fd >= 0)
		close(c->staging_fd);
	if (c->parent_fd >= 0)
		close(c->parent_fd);
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	free(c->staging);
	free(c->staging_base);
	free(c->journal);
	free(c->base);
	free(c->dir);
	free(c->flow);
	free(c->stage);
	free(c->run_id);
	free(c);
	return rc;
}

static struct commit_entry *get_entry(struct sp_commit *c, const char *name)
{
	struct commit_entry *e;

	if (!name_is_plain(name))
		return NULL;
	e = find_entry(c, name);
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
	c->n++;
	return e;
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

void sp_commit_set_durable(struct sp_commit *c, bool durable)
{
	c->durable = durable;
}

/*
 * Publishing file by file (commit: file, or the fallback) makes files
 * visible before a manifest lists them.  Their names go to a journal
 * beside the staging directory first (not in it: that becomes the target),
 * so that the next begin can take back what a killed run published and a
 * rerun does not find "its" names taken.  A finished commit, or one whose
 * files were taken back, removes the journal.
 */

static void drop_journal(struct sp_commit *c)
{
	if (unlinkat(c->parent_fd, c->journal, 0) == 0)
		commit_sync(c, c->parent_fd);
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
	struct iovec iov[3] = {{line, (size_t)len},
			       {(void *)name, n},
			       {(void *)"\n", 1}};
	bool created = fstat(fd, &js) == 0 && js.st_size == 0;
	ssize_t w = writev(fd, iov, 3);
	rc = w == (ssize_t)(len + n + 1) ? commit_sync(c, fd)
	     : w < 0			  ? -errno
					  : -EIO;
	close(fd);
	/* a new journal must survive a power loss as the files do */
	if (!rc && created)
		rc = commit_sync(c, c->parent_fd);
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
	if (!name_is_plain(name) || listed(m, name) ||
	    fstatat(c->dir_fd, name, &st, AT_SYMLINK_NOFOLLOW) < 0 ||
	    (unsigned long long)st.st_ino != ino)
		return false;
	return unlinkat(c->dir_fd, name, 0) == 0;
}

/* begin: removes from dir the files a killed run published that the
 * manifest does not list.  Returns how many. */
static int take_back_published(struct sp_commit *c)
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
	int rc = manifest_read_at(c->dir_fd, c->dir, &m);
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
		commit_sync(c, c->dir_fd);
	if (rc == 0 || rc == -ENOENT)
		drop_journal(c);
	if (n)
		sp_log_warn("removed %d files from %s that a failed or "
			    "interrupted run had published before its manifest",
			    n, c->dir);
	return n;
}

/* Moves e into dir; the caller fsyncs dir.  0 or -errno (logged). */
static int publish(struct sp_commit *c, struct commit_entry *e)
{
	int rc = journal_add(c, e->name);

	if (rc < 0) {
		sp_log_error("cannot note %s in %s's journal %s: %s", e->name,
			     c->dir, c->journal, strerrordesc_np(-rc));
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

static int sync_dir(struct sp_commit *c)
{
	int rc = commit_sync(c, c->dir_fd);

	if (rc < 0)
		sp_log_error("cannot sync directory %s: %s", c->dir,
			     strerrordesc_np(-rc));
	return rc;
}

int sp_commit_add(struct sp_commit *c, const char *name, uint64_t records,
		  uint64_t bytes, bool publish_now)
{
	struct commit_entry *e;
	XXH64_state_t xs;
	uint64_t size = 0;
	char *buf;
	int fd, rc = 0;

	if (c->closed || !name_is_plain(name))
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
	buf = malloc(HASH_CHUNK);
	if (!buf) {
		rc = -ENOMEM;
		goto close_fd;
	}
	XXH64_reset(&xs, 0);
	for (;;) {
		ssize_t k = read(fd, buf, HASH_CHUNK);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = -errno;
			sp_log_error("cannot read staged file %s: %s",
				     e->staged, strerrordesc_np(-rc));
			goto free_buf;
		}
		if (k == 0)
			break;
		XXH64_update(&xs, buf, (size_t)k);
		size += (uint64_t)k;
	}
	if (size != bytes) {
		rc = -EIO;
		sp_log_error("staged file %s has %" PRIu64 " bytes, expected "
			     "%" PRIu64,
			     e->staged, size, bytes);
		goto free_buf;
	}
	if (publish_now) {
		rc = commit_sync(c, fd);
		if (rc < 0) {
			sp_log_error("cannot sync %s: %s", e->staged,
				     strerrordesc_np(-rc));
			goto free_buf;
		}
		rc = publish(c, e);
		if (rc < 0)
			goto free_buf;
		rc = sync_dir(c);
	}
	e->added = true;
	e->records = records;
	e->bytes = bytes;
	e->xxh64 = XXH64_digest(&xs);
	if (!publish_now)
		c->prepared = false;
free_buf:
	free(buf);
close_fd:
	close(fd);
	return rc;
}

static int append_manifest_file(struct sp_buf *b, const char *name,
				uint64_t records, uint64_t bytes, bool has_xxh,
				uint64_t xxh)
{
	char num[96];
	int rc;

	rc = sp_buf_append(b, "{\"name\": ", 9);
	rc = rc ? rc : sp_json_append_string(b, name, strlen(name));
	if (has_xxh)
		snprintf(num, sizeof(num),
			 ", \"records\": %" PRIu64 ", \"bytes\": %" PRIu64
			 ", \"xxh64\": \"%016" PRIx64 "\"}",
			 records, bytes, xxh);
	else
		snprintf(num, sizeof(num),
			 ", \"records\": %" PRIu64 ", \"bytes\": %" PRIu64 "}",
			 records, bytes);
	return rc ? rc : sp_buf_append(b, num, strlen(num));
}

static bool new_has(struct sp_commit *c, const char *name)
{
	struct commit_entry *e = find_entry(c, name);

	return e && e->added;
}

/* Builds the manifest text: kept files of old (if any), then ours. */
static int build_manifest(struct sp_commit *c,
			  const struct sp_commit_manifest *old,
			  struct sp_buf *b)
{
	bool first = true;
	int rc;

	rc = sp_buf_append(b, "{\"flow\": ", 9);
	rc = rc ? rc : sp_json_append_string(b, c->flow, strlen(c->flow));
	rc = rc ? rc : sp_buf_append(b, ", \"stage\": ", 11);
	rc = rc ? rc : sp_json_append_string(b, c->stage, strlen(c->stage));
	rc = rc ? rc : sp_buf_append(b, ", \"run_id\": ", 12);
	rc = rc ? rc : sp_json_append_string(b, c->run_id, strlen(c->run_id));
	rc = rc ? rc : sp_buf_append(b, ", \"files\": [", 12);
	for (size_t i = 0; old && i < old->nfiles && !rc; i++) {
		const struct sp_commit_file *f = &old->files[i];

		if (new_has(c, f->name))
			continue;
		if (!first)
			rc = sp_buf_append(b, ", ", 2);
		first = false;
		rc = rc ? rc
			: append_manifest_file(b, f->name, f->records, f->bytes,
					       f->has_xxh64, f->xxh64);
	}
	for (size_t i = 0; i < c->n && !rc; i++) {
		const struct commit_entry *e = &c->e[i];

		if (!e->added)
			continue;
		if (!first)
			rc = sp_buf_append(b, ", ", 2);
		first = false;
		rc = rc ? rc
			: append_manifest_file(b, e->name, e->records, e->bytes,
					       true, e->xxh64);
	}
	rc = rc ? rc : sp_buf_append(b, "]}\n", 3);
	return rc;
}

/* Writes the manifest through a temp file in the staging directory,
 * renamed into the directory dst_fd, which is then fsynced. */
static int write_manifest(struct sp_commit *c, const struct sp_buf *b,
			  int dst_fd)
{
	size_t off = 0;
	int fd, rc = 0;

	unlinkat(c->staging_fd, MANIFEST_TMP, 0);
	fd = openat(c->staging_fd, MANIFEST_TMP,
		    O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
	if (fd < 0) {
		rc = -errno;
		goto fail;
	}
	while (off < b->len) {
		ssize_t k = write(fd, b->data + off, b->len - off);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = -errno;
			break;
		}
		off += (size_t)k;
	}
	if (!rc)
		rc = commit_sync(c, fd);
	close(fd);
	if (!rc && renameat(c->staging_fd, MANIFEST_TMP, dst_fd,
			    SP_COMMIT_MANIFEST) < 0)
		rc = -errno;
	if (!rc)
		rc = commit_sync(c, dst_fd);
	if (!rc)
		return 0;
	unlinkat(c->staging_fd, MANIFEST_TMP, 0);
fail:
	sp_log_error("cannot write %s/%s: %s", c->dir, SP_COMMIT_MANIFEST,
		     strerrordesc_np(-rc));
	return rc;
}

static void remove_staging(struct sp_commit *c)
{
	clear_dir(c->staging_fd);
	if (rmdir(c->staging) < 0 && errno != ENOENT)
		sp_log_warn("cannot remove staging directory %s: %s",
			    c->staging, strerrordesc_np(errno));
}

/* The target's manifest as this run takes it over: NULL when there is
 * none, or when it is corrupt and replace drops it. */
static int read_old_manifest(struct sp_commit *c, bool replace,
			     struct sp_commit_manifest **old)
{
	int rc = manifest_read_at(c->dir_fd, c->dir, old);

	if (rc == -ENOENT)
		return 0;
	if (rc == -EINVAL && replace) {
		sp_log_warn("%s/%s is corrupt: replacing it, earlier files are "
			    "not cleaned up",
			    c->dir, SP_COMMIT_MANIFEST);
		return 0;
	}
	if (rc == -EINVAL)
		sp_log_error("%s/%s is corrupt: fix or remove it, or rerun "
			     "with --force",
			     c->dir, SP_COMMIT_MANIFEST);
	return rc;
}

static void log_exists(struct sp_commit *c, const char *name)
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
	rc = read_old_manifest(c, replace, &old);
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
			rc = fd < 0 ? -errno : commit_sync(c, fd);
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
			log_exists(c, e->name);
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

static bool is_ours(struct sp_commit *c, const char *name)
{
	struct commit_entry *e = find_entry(c, name);

	return e && e->added && !e->published;
}

/* Leaves in the staging directory this run's files only: removes files
 * staged but never added, links and the manifest of a failed exchange. */
static int discard_others(struct sp_commit *c)
{
	struct dirent *de;
	int rc = 0;
	DIR *d = dir_stream(c->staging_fd);

	if (!d)
		return -errno;
	while ((de = readdir(d))) {
		if (is_dot(de->d_name) || is_ours(c, de->d_name))
			continue;
		rc = remove_entry(c->staging_fd, de->d_name);
		if (rc < 0 && rc != -ENOENT) {
			sp_log_error("cannot remove %s/%s: %s", c->staging,
				     de->d_name, strerrordesc_np(-rc));
			break;
		}
		rc = 0;
	}
	closedir(d);
	return rc;
}

static bool listed(const struct sp_commit_manifest *m, const char *name)
{
	for (size_t i = 0; m && i < m->nfiles; i++) {
		if (!strcmp(m->files[i].name, name))
			return true;
	}
	return false;
}

/* Hard-links into the staging directory every entry of the target that the
 * new version keeps: all but the manifest, names this run replaces, and
 * with replace the files of the old manifest this run did not produce.
 * 0, 1 when the exchange cannot be used, or -errno (logged). */
static int link_kept(struct sp_commit *c, bool replace)
{
	struct dirent *de;
	int rc = 0;
	DIR *d = dir_stream(c->dir_fd);

	if (!d) {
		rc = -errno;
		sp_log_error("cannot read directory %s: %s", c->dir,
			     strerrordesc_np(-rc));
		return rc;
	}
	while ((de = readdir(d))) {
		const char *name = de->d_name;

		if (is_dot(name) || !strcmp(name, SP_COMMIT_MANIFEST) ||
		    !strcmp(name, MANIFEST_TMP))
			continue;
		if (entry_is_dir(c->dir_fd, de)) {
			sp_log_debug("%s holds the directory %s: publishing "
				     "file by file",
				     c->dir, name);
			rc = 1;
			break;
		}
		if (is_ours(c, name)) {
			if (replace)
				continue;
			log_exists(c, name);
			rc = -EEXIST;
			break;
		}
		if (replace && listed(c->old, name) && !new_has(c, name))
			continue; /* stale */
		if (linkat(c->dir_fd, name, c->staging_fd, name, 0) == 0)
			continue;
		rc = -errno;
		if (rc == -EPERM || rc == -EXDEV || rc == -EMLINK ||
		    rc == -EOPNOTSUPP) {
			sp_log_debug("cannot link %s/%s into %s (%s): "
				     "publishing file by file",
				     c->dir, name, c->staging,
				     strerrordesc_np(-rc));
			rc = 1;
		} else {
			sp_log_error("cannot link %s/%s into %s: %s", c->dir,
				     name, c->staging, strerrordesc_np(-rc));
		}
		break;
	}
	closedir(d);
	return rc;
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
	rc = commit_sync(c, c->staging_fd);
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
	rc = commit_sync(c, c->parent_fd);
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

/* Makes the staging directory the complete new version of the target and
 * exchanges the two.  0, 1 when the exchange cannot be used (staging as
 * before, nothing changed), or -errno (logged; staging as before). */
static int publish_by_exchange(struct sp_commit *c, bool replace)
{
	struct stat st, cwd;
	unsigned int how = RENAME_EXCHANGE;
	struct sp_buf b;
	int fd, rc;

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
	rc = build_manifest(c, replace ? NULL : c->old, &b);
	if (!rc)
		rc = write_manifest(c, &b, c->staging_fd);
	sp_buf_fini(&b);
	if (rc < 0)
		goto undo;
	rc = swap_dirs(c, &how);
	if (rc != 0)
		goto undo;

	/* the fds follow the inodes: dir_fd is now the old version */
	fd = c->dir_fd;
	c->dir_fd = c->staging_fd;
	c->staging_fd = fd;
	for (size_t i = 0; i < c->n; i++) {
		if (c->e[i].added)
			c->e[i].published = true;
	}
	if (how == RENAME_EXCHANGE) {
		/* a reader may still hold the old version open; deleting it
		 * only drops links to the files that stay */
		clear_old_version(c->staging_fd);
		if (unlinkat(c->parent_fd, c->staging_base, AT_REMOVEDIR) < 0)
			sp_log_warn("cannot remove the previous version of %s "
				    "at %s: %s",
				    c->dir, c->staging, strerrordesc_np(errno));
	}
	return 0;

undo:
	discard_others(c);
	return rc;
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
		rc = publish(c, e);
		if (rc < 0)
			goto unpublish;
		e->moved = true;
	}
	rc = sync_dir(c);
	if (rc < 0)
		goto unpublish;

	sp_buf_init(&b);
	rc = build_manifest(c, replace ? NULL : old, &b);
	if (!rc)
		rc = write_manifest(c, &b, c->dir_fd);
	sp_buf_fini(&b);
	if (rc < 0)
		goto unpublish;

	/* --force: files of the old run that this run did not produce */
	for (size_t i = 0; replace && old && i < old->nfiles; i++) {
		const char *name = old->files[i].name;

		if (!name_is_plain(name) || new_has(c, name))
			continue;
		if (unlinkat(c->dir_fd, name, 0) == 0)
			stale = true;
		else if (errno != ENOENT)
			sp_log_warn("cannot remove stale file %s/%s: %s",
				    c->dir, name, strerrordesc_np(errno));
	}
	if (stale)
		sync_dir(c);
	remove_staging(c);
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
	sync_dir(c);
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
	drop_journal(c);
	sp_commit_manifest_free(c->old);
	c->old = NULL;
	return 0;
}

void sp_commit_abort(struct sp_commit *c)
{
	if (c->closed)
		return;
	/* a failed run takes back what it published early: the rerun
	 * publishes the same names again, exactly once */
	take_back_published(c);
	remove_staging(c);
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
	close(c->staging_fd);
	close(c->dir_fd); /* drops the locks */
	close(c->parent_fd);
	free(c->staging);
	free(c->staging_base);
	free(c->journal);
	free(c->base);
	free(c->dir);
	free(c->flow);
	free(c->stage);
	free(c->run_id);
	free(c);
}

/*
 * Manifest reading: a small parser for the format written above.  Unknown
 * keys (any JSON value) are skipped so that later versions can add some.
 */

struct mparse {
	const char *p;
	const char *start;
	const char *end;
	const char *why;
};

static void mp_ws(struct mparse *mp)
{
	while (mp->p < mp->end && (*mp->p == ' ' || *mp->p == '\t' ||
				   *mp->p == '\n' || *mp->p == '\r'))
		mp->p++;
}

static bool mp_lit(struct mparse *mp, char ch)
{
	mp_ws(mp);
	if (mp->p < mp->end && *mp->p == ch) {
		mp->p++;
		return true;
	}
	return false;
}

static int mp_fail(struct mparse *mp, const char *why)
{
	if (!mp->why)
		mp->why = why;
	return -EINVAL;
}

/* Parses a string into a fresh NUL-terminated copy. */
static int mp_string(struct mparse *mp, char **out)
{
	const char *s;
	ssize_t n;
	char *copy;

	if (!mp_lit(mp, '"'))
		return mp_fail(mp, "expected a string");
	s = mp->p;
	while (mp->p < mp->end && *mp->p != '"') {
		if (*mp->p == '\\')
			mp->p++;
		mp->p++;
	}
	if (mp->p >= mp->end)
		return mp_fail(mp, "unterminated string");
	copy = malloc((size_t)(mp->p - s) + 1);
	if (!copy)
		return -ENOMEM;
	n = sp_json_unescape(s, (size_t)(mp->p - s), copy);
	if (n < 0 || memchr(copy, '\0', (size_t)n)) {
		free(copy);
		mp->p = s;
		return mp_fail(mp, "bad string escape");
	}
	copy[n] = '\0';
	mp->p++;
	free(*out);
	*out = copy;
	return 0;
}

static int mp_uint(struct mparse *mp, uint64_t *out)
{
	uint64_t v = 0;

	mp_ws(mp);
	if (mp->p >= mp->end || *mp->p < '0' || *mp->p > '9')
		return mp_fail(mp, "expected a count");
	while (mp->p < mp->end && *mp->p >= '0' && *mp->p <= '9') {
		unsigned d = (unsigned)(*mp->p - '0');

		if (v > (UINT64_MAX - d) / 10)
			return mp_fail(mp, "count out of range");
		v = v * 10 + d;
		mp->p++;
	}
	*out = v;
	return 0;
}

/* Skips any JSON value. */
static int mp_skip(struct mparse *mp)
{
	struct sp_value v;
	const char *why = NULL;

	mp_ws(mp);
	if (sp_json_scan_value(&mp->p, mp->end, &v, &why) < 0)
		return mp_fail(mp, why ? why : "bad value");
	return 0;
}

static int mp_file(struct mparse *mp, struct sp_commit_file *f)
{
	char *key = NULL, *hex = NULL;
	int rc = 0;

	if (!mp_lit(mp, '{'))
		return mp_fail(mp, "expected a file object");
	if (mp_lit(mp, '}'))
		goto check;
	do {
		rc = mp_string(mp, &key);
		if (rc)
			goto out;
		if (!mp_lit(mp, ':')) {
			rc = mp_fail(mp, "expected ':'");
			goto out;
		}
		if (!strcmp(key, "name")) {
			rc = mp_string(mp, &f->name);
		} else if (!strcmp(key, "records")) {
			rc = mp_uint(mp, &f->records);
		} else if (!strcmp(key, "bytes")) {
			rc = mp_uint(mp, &f->bytes);
		} else if (!strcmp(key, "xxh64")) {
			char *end;

			rc = mp_string(mp, &hex);
			if (rc)
				goto out;
			f->xxh64 = strtoull(hex, &end, 16);
			if (strlen(hex) != 16 || *end) {
				rc = mp_fail(mp, "xxh64 is not 16 hex digits");
				goto out;
			}
			f->has_xxh64 = true;
		} else {
			rc = mp_skip(mp);
		}
		if (rc)
			goto out;
	} while (mp_lit(mp, ','));
	if (!mp_lit(mp, '}')) {
		rc = mp_fail(mp, "expected ',' or '}'");
		goto out;
	}
check:
	if (!f->name)
		rc = mp_fail(mp, "file without a name");
out:
	free(key);
	free(hex);
	return rc;
}

static int mp_files(struct mparse *mp, struct sp_commit_manifest *m)
{
	size_t cap = 0;
	int rc;

	if (!mp_lit(mp, '['))
		return mp_fail(mp, "expected the files array");
	if (mp_lit(mp, ']'))
		return 0;
	do {
		if (m->nfiles == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct sp_commit_file *nf =
			    realloc(m->files, ncap * sizeof(*nf));

			if (!nf)
				return -ENOMEM;
			m->files = nf;
			cap = ncap;
		}
		memset(&m->files[m->nfiles], 0, sizeof(m->files[0]));
		m->nfiles++;
		rc = mp_file(mp, &m->files[m->nfiles - 1]);
		if (rc)
			return rc;
	} while (mp_lit(mp, ','));
	if (!mp_lit(mp, ']'))
		return mp_fail(mp, "expected ',' or ']'");
	return 0;
}

static int mp_manifest(struct mparse *mp, struct sp_commit_manifest *m)
{
	bool have_files = false;
	char *key = NULL;
	int rc = 0;

	if (!mp_lit(mp, '{'))
		return mp_fail(mp, "expected '{'");
	if (mp_lit(mp, '}'))
		goto check;
	do {
		rc = mp_string(mp, &key);
		if (rc)
			goto out;
		if (!mp_lit(mp, ':')) {
			rc = mp_fail(mp, "expected ':'");
			goto out;
		}
		if (!strcmp(key, "flow")) {
			rc = mp_string(mp, &m->flow);
		} else if (!strcmp(key, "stage")) {
			rc = mp_string(mp, &m->stage);
		} else if (!strcmp(key, "run_id")) {
			rc = mp_string(mp, &m->run_id);
		} else if (!strcmp(key, "files")) {
			if (have_files) {
				rc = mp_fail(mp, "two files arrays");
				goto out;
			}
			have_files = true;
			rc = mp_files(mp, m);
		} else {
			rc = mp_skip(mp);
		}
		if (rc)
			goto out;
	} while (mp_lit(mp, ','));
	if (!mp_lit(mp, '}')) {
		rc = mp_fail(mp, "expected ',' or '}'");
		goto out;
	}
check:
	mp_ws(mp);
	if (mp->p != mp->end)
		rc = mp_fail(mp, "text after the manifest");
	else if (!have_files)
		rc = mp_fail(mp, "no files array");
out:
	free(key);
	return rc;
}

static int manifest_read_at(int dir_fd, const char *dir,
			    struct sp_commit_manifest **out)
{
	struct sp_commit_manifest *m;
	struct mparse mp = {0};
	char *path, *text = NULL;
	size_t len = 0;
	struct stat st;
	int fd, rc = 0;

	*out = NULL;
	if (asprintf(&path, "%s/%s", dir, SP_COMMIT_MANIFEST) < 0)
		return -ENOMEM;
	fd = openat(dir_fd, dir_fd == AT_FDCWD ? path : SP_COMMIT_MANIFEST,
		    O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto free_path;
	}
	if (fstat(fd, &st) < 0) {
		rc = -errno;
		goto close_fd;
	}
	if ((uint64_t)st.st_size > MANIFEST_MAX_BYTES) {
		rc = -EINVAL;
		sp_log_error("%s: too large for a manifest", path);
		goto close_fd;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		rc = -ENOMEM;
		goto close_fd;
	}
	while (len < (size_t)st.st_size) {
		ssize_t k = read(fd, text + len, (size_t)st.st_size - len);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0) {
			rc = -errno;
			goto free_text;
		}
		if (k == 0)
			break;
		len += (size_t)k;
	}
	m = calloc(1, sizeof(*m));
	if (!m) {
		rc = -ENOMEM;
		goto free_text;
	}
	mp.p = mp.start = text;
	mp.end = text + len;
	rc = mp_manifest(&mp, m);
	if (rc) {
		if (rc == -EINVAL)
			sp_log_error("%s: not a valid manifest at byte %zu: %s",
				     path, (size_t)(mp.p - mp.start),
				     mp.why ? mp.why : "bad syntax");
		sp_commit_manifest_free(m);
		goto free_text;
	}
	*out = m;
free_text:
	free(text);
close_fd:
	close(fd);
free_path:
	free(path);
	return rc;
}

int sp_commit_manifest_read(const char *dir, struct sp_commit_manifest **out)
{
	return manifest_read_at(AT_FDCWD, dir, out);
}

int sp_commit_manifest_read_at(int dir_fd, const char *dir,
			       struct sp_commit_manifest **out)
{
	return manifest_read_at(dir_fd, dir, out);
}

void sp_commit_manifest_free(struct sp_commit_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i].name);
	free(m->files);
	free(m->flow);
	free(m->stage);
	free(m->run_id);
	free(m);
}
