/*
 * Atomic commit: a destination writes its files into a hidden staging
 * directory beside the target directory and publishes them by rename, so a
 * reader of the target never sees a partial file and a failed, killed or
 * aborted run leaves nothing behind but a staging directory that the next
 * run of the same stage clears.  The manifest (_manifest.json) is written
 * last: its presence means every file it lists is complete and durable.
 * Order of durability: file data (fsync) before the rename, renames
 * (directory fsync) before the manifest, manifest before stale files of a
 * replaced run are deleted.
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
#include <unistd.h>

#include "engine/buf.h"
#include "engine/json.h"
#include "engine/log.h"

#define MANIFEST_TMP ".manifest.tmp"
#define MANIFEST_MAX_BYTES ((size_t)256 << 20)
#define HASH_CHUNK ((size_t)1 << 20)

struct commit_entry {
	char *name;
	char *staged; /* full path in the staging directory */
	bool added;
	bool published;
	bool moved; /* published by finish: rolled back on failure */
	uint64_t records;
	uint64_t bytes;
	uint64_t xxh64;
};

struct sp_commit {
	char *dir;     /* as given, for messages */
	char *staging; /* staging directory path */
	char *flow;
	char *stage;
	char *run_id;
	int dir_fd; /* locked with flock */
	int staging_fd;
	bool replace;
	bool closed; /* finished or aborted */
	struct commit_entry *e;
	size_t n;
	size_t cap;
};

static int manifest_read_at(int dir_fd, const char *dir,
			    struct sp_commit_manifest **out);

/*
 * XXH64 (Yann Collet's xxHash, 64-bit variant), streaming.
 */
#define P64_1 0x9E3779B185EBCA87ull
#define P64_2 0xC2B2AE3D27D4EB4Full
#define P64_3 0x165667B19E3779F9ull
#define P64_4 0x85EBCA77C2B2AE63ull
#define P64_5 0x27D4EB2F165667C5ull

struct xxh64_state {
	uint64_t v[4];
	uint64_t total;
	unsigned char mem[32];
	size_t memsize;
};

static inline uint64_t rotl64(uint64_t x, int r)
{
	return (x << r) | (x >> (64 - r));
}

static inline uint64_t read64(const unsigned char *p)
{
	uint64_t v;

	memcpy(&v, p, 8);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap64(v);
#endif
	return v;
}

static inline uint32_t read32(const unsigned char *p)
{
	uint32_t v;

	memcpy(&v, p, 4);
#if __BYTE_ORDER__ == __ORDER_BIG_ENDIAN__
	v = __builtin_bswap32(v);
#endif
	return v;
}

static inline uint64_t xxh_round(uint64_t acc, uint64_t input)
{
	acc += input * P64_2;
	acc = rotl64(acc, 31);
	return acc * P64_1;
}

static inline uint64_t xxh_merge(uint64_t acc, uint64_t val)
{
	acc ^= xxh_round(0, val);
	return acc * P64_1 + P64_4;
}

static void xxh64_init(struct xxh64_state *s)
{
	memset(s, 0, sizeof(*s));
	s->v[0] = P64_1 + P64_2;
	s->v[1] = P64_2;
	s->v[2] = 0;
	s->v[3] = -P64_1;
}

static void xxh64_update(struct xxh64_state *s, const void *data, size_t len)
{
	const unsigned char *p = data, *end = p + len;

	s->total += len;
	if (s->memsize + len < 32) {
		memcpy(s->mem + s->memsize, p, len);
		s->memsize += len;
		return;
	}
	if (s->memsize) {
		size_t k = 32 - s->memsize;

		memcpy(s->mem + s->memsize, p, k);
		for (int i = 0; i < 4; i++)
			s->v[i] = xxh_round(s->v[i], read64(s->mem + 8 * i));
		p += k;
		s->memsize = 0;
	}
	while (end - p >= 32) {
		for (int i = 0; i < 4; i++)
			s->v[i] = xxh_round(s->v[i], read64(p + 8 * i));
		p += 32;
	}
	memcpy(s->mem, p, (size_t)(end - p));
	s->memsize = (size_t)(end - p);
}

static uint64_t xxh64_digest(const struct xxh64_state *s)
{
	const unsigned char *p = s->mem, *end = p + s->memsize;
	uint64_t h;

	if (s->total >= 32) {
		h = rotl64(s->v[0], 1) + rotl64(s->v[1], 7) +
		    rotl64(s->v[2], 12) + rotl64(s->v[3], 18);
		for (int i = 0; i < 4; i++)
			h = xxh_merge(h, s->v[i]);
	} else {
		h = P64_5;
	}
	h += s->total;
	while (end - p >= 8) {
		h ^= xxh_round(0, read64(p));
		h = rotl64(h, 27) * P64_1 + P64_4;
		p += 8;
	}
	if (end - p >= 4) {
		h ^= (uint64_t)read32(p) * P64_1;
		h = rotl64(h, 23) * P64_2 + P64_3;
		p += 4;
	}
	while (p < end) {
		h ^= *p++ * P64_5;
		h = rotl64(h, 11) * P64_1;
	}
	h ^= h >> 33;
	h *= P64_2;
	h ^= h >> 29;
	h *= P64_3;
	h ^= h >> 32;
	return h;
}

uint64_t sp_commit_xxh64(const void *data, size_t len)
{
	struct xxh64_state s;

	xxh64_init(&s);
	xxh64_update(&s, data, len);
	return xxh64_digest(&s);
}

/*
 * Helpers.
 */

static bool name_is_plain(const char *name)
{
	return *name && name[0] != '.' && !strchr(name, '/') &&
	       strcmp(name, SP_COMMIT_MANIFEST) != 0;
}

static int fsync_fd(int fd)
{
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

/* Unlinks every entry of the directory open as fd; returns how many. */
static int clear_dir(int fd)
{
	int dup_fd = dup(fd);
	struct dirent *de;
	int n = 0;
	DIR *d;

	if (dup_fd < 0)
		return -errno;
	d = fdopendir(dup_fd);
	if (!d) {
		close(dup_fd);
		return -errno;
	}
	rewinddir(d);
	while ((de = readdir(d))) {
		if (!strcmp(de->d_name, ".") || !strcmp(de->d_name, ".."))
			continue;
		if (unlinkat(fd, de->d_name, 0) == 0)
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

int sp_commit_begin(const char *dir, const char *flow, const char *stage,
		    const char *run_id, struct sp_commit **out)
{
	char *real = NULL, *parent_copy = NULL, *base_copy = NULL;
	struct sp_commit *c;
	int rc;

	*out = NULL;
	if (!dir || !*dir || !stage || !*stage || strchr(stage, '/'))
		return -EINVAL;
	c = calloc(1, sizeof(*c));
	if (!c)
		return -ENOMEM;
	c->dir_fd = -1;
	c->staging_fd = -1;
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
	if (!parent_copy || !base_copy ||
	    asprintf(&c->staging, "%s/.%s.spate-staging-%s",
		     dirname(parent_copy), basename(base_copy), stage) < 0) {
		c->staging = NULL;
		rc = -ENOMEM;
		goto free_real;
	}
	if (mkdir(c->staging, 0755) < 0 && errno != EEXIST) {
		rc = -errno;
		sp_log_error("cannot create staging directory %s: %s",
			     c->staging, strerrordesc_np(-rc));
		goto free_real;
	}
	c->staging_fd = open(c->staging, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (c->staging_fd < 0) {
		rc = -errno;
		sp_log_error("cannot open staging directory %s: %s", c->staging,
			     strerrordesc_np(-rc));
		goto free_real;
	}
	rc = clear_dir(c->staging_fd);
	if (rc > 0)
		sp_log_info("removed %d unpublished files that an earlier run "
			    "left in %s",
			    rc, c->staging);
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
	if (c->dir_fd >= 0)
		close(c->dir_fd);
	free(c->staging);
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

/* Moves e into dir; the caller fsyncs dir.  0 or -errno (logged). */
static int publish(struct sp_commit *c, struct commit_entry *e)
{
	int rc;

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
	int rc = fsync_fd(c->dir_fd);

	if (rc < 0)
		sp_log_error("cannot sync directory %s: %s", c->dir,
			     strerrordesc_np(-rc));
	return rc;
}

int sp_commit_add(struct sp_commit *c, const char *name, uint64_t records,
		  uint64_t bytes, bool publish_now)
{
	struct commit_entry *e;
	struct xxh64_state xs;
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
	xxh64_init(&xs);
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
		xxh64_update(&xs, buf, (size_t)k);
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
		rc = fsync_fd(fd);
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
	e->xxh64 = xxh64_digest(&xs);
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

/* Writes the manifest through a temp file in the staging directory. */
static int write_manifest(struct sp_commit *c, const struct sp_buf *b)
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
		rc = fsync_fd(fd);
	close(fd);
	if (!rc && renameat(c->staging_fd, MANIFEST_TMP, c->dir_fd,
			    SP_COMMIT_MANIFEST) < 0)
		rc = -errno;
	if (!rc)
		return sync_dir(c);
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

int sp_commit_finish(struct sp_commit *c, bool replace)
{
	struct sp_commit_manifest *old = NULL;
	struct sp_buf b;
	bool stale = false;
	int rc;

	if (c->closed)
		return -EINVAL;
	c->replace = replace;
	rc = manifest_read_at(c->dir_fd, c->dir, &old);
	if (rc == -ENOENT) {
		old = NULL;
	} else if (rc == -EINVAL && replace) {
		sp_log_warn("%s/%s is corrupt: replacing it, earlier files are "
			    "not cleaned up",
			    c->dir, SP_COMMIT_MANIFEST);
		old = NULL;
	} else if (rc < 0) {
		if (rc == -EINVAL)
			sp_log_error("%s/%s is corrupt: fix or remove it, or "
				     "rerun with --force",
				     c->dir, SP_COMMIT_MANIFEST);
		return rc;
	}

	/* data first: every staged file durable before it becomes visible */
	for (size_t i = 0; i < c->n; i++) {
		struct commit_entry *e = &c->e[i];
		int fd;

		if (!e->added || e->published)
			continue;
		fd = openat(c->staging_fd, e->name, O_RDONLY | O_CLOEXEC);
		rc = fd < 0 ? -errno : fsync_fd(fd);
		if (fd >= 0)
			close(fd);
		if (rc < 0) {
			sp_log_error("cannot sync %s: %s", e->staged,
				     strerrordesc_np(-rc));
			goto free_old;
		}
		if (!replace && faccessat(c->dir_fd, e->name, F_OK,
					  AT_SYMLINK_NOFOLLOW) == 0) {
			rc = -EEXIST;
			sp_log_error("%s/%s already exists (rerun with --force "
				     "to replace it)",
				     c->dir, e->name);
			goto free_old;
		}
	}
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
		rc = write_manifest(c, &b);
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
	c->closed = true;
	goto free_old;

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
free_old:
	sp_commit_manifest_free(old);
	return rc;
}

void sp_commit_abort(struct sp_commit *c)
{
	if (c->closed)
		return;
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
	close(c->staging_fd);
	close(c->dir_fd); /* drops the lock */
	free(c->staging);
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
