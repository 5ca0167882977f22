/*
 * The manifest (_manifest.json, format in commit.h): built from the old
 * manifest's entries and this run's files, written through a temporary
 * file and a rename, and read back by a small parser that skips unknown
 * keys (any JSON value) so that later versions can add some.
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

/* Builds the manifest text: kept files of old (if any), then ours. */
int cm_build_manifest(struct sp_commit *c, const struct sp_commit_manifest *old,
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

		if (cm_new_has(c, f->name))
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

/* ", \"KEY\": [files...]" */
static int append_files(struct sp_buf *b, const char *head,
			const struct sp_commit_file *files, size_t n)
{
	int rc = sp_buf_append(b, head, strlen(head));

	for (size_t i = 0; i < n && !rc; i++) {
		const struct sp_commit_file *f = &files[i];

		if (i)
			rc = sp_buf_append(b, ", ", 2);
		rc = rc ? rc
			: append_manifest_file(b, f->name, f->records, f->bytes,
					       f->has_xxh64, f->xxh64);
	}
	return rc ? rc : sp_buf_append(b, "]", 1);
}

int sp_commit_manifest_format(const struct sp_commit_manifest *m,
			      struct sp_buf *b)
{
	const char *k[] = {"{\"flow\": ", ", \"stage\": ", ", \"run_id\": "};
	const char *v[] = {m->flow, m->stage, m->run_id};
	int rc = 0;

	for (int i = 0; i < 3 && !rc; i++) {
		rc = sp_buf_append(b, k[i], strlen(k[i]));
		rc = rc ? rc
			: sp_json_append_string(b, v[i] ? v[i] : "",
						v[i] ? strlen(v[i]) : 0);
	}
	rc = rc ? rc : append_files(b, ", \"files\": [", m->files, m->nfiles);
	if (!rc && m->nreplaced)
		rc = append_files(b, ", \"replaced\": [", m->replaced,
				  m->nreplaced);
	return rc ? rc : sp_buf_append(b, "}\n", 2);
}

/* Writes the manifest through a temp file in the staging directory,
 * renamed into the directory dst_fd, which is then fsynced. */
int cm_write_manifest(struct sp_commit *c, const struct sp_buf *b, int dst_fd)
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
		rc = cm_sync(c, fd);
	close(fd);
	if (!rc && renameat(c->staging_fd, MANIFEST_TMP, dst_fd,
			    SP_COMMIT_MANIFEST) < 0)
		rc = -errno;
	if (!rc)
		rc = cm_sync(c, dst_fd);
	if (!rc)
		return 0;
	unlinkat(c->staging_fd, MANIFEST_TMP, 0);
fail:
	sp_log_error("cannot write %s/%s: %s", c->dir, SP_COMMIT_MANIFEST,
		     strerrordesc_np(-rc));
	return rc;
}

/* The target's manifest as this run takes it over: NULL when there is
 * none, or when it is corrupt and replace drops it. */
int cm_read_old_manifest(struct sp_commit *c, bool replace,
			 struct sp_commit_manifest **old)
{
	int rc = cm_manifest_read_at(c->dir_fd, c->dir, old);

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

bool cm_listed(const struct sp_commit_manifest *m, const char *name)
{
	for (size_t i = 0; m && i < m->nfiles; i++) {
		if (!strcmp(m->files[i].name, name))
			return true;
	}
	return false;
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

/* One member of an object: its value read (or skipped) for key.  0 or
 * what mp_fail returned. */
typedef int (*mp_member_fn)(struct mparse *mp, const char *key, void *arg);

/* An object {"key": value, ...}: member() for each key in turn; what
 * names the object in the message when there is none. */
static int mp_object(struct mparse *mp, const char *what, mp_member_fn member,
		     void *arg)
{
	char *key = NULL;
	int rc = 0;

	if (!mp_lit(mp, '{'))
		return mp_fail(mp, what);
	if (mp_lit(mp, '}'))
		return 0;
	do {
		rc = mp_string(mp, &key);
		if (!rc && !mp_lit(mp, ':'))
			rc = mp_fail(mp, "expected ':'");
		if (!rc)
			rc = member(mp, key, arg);
		free(key);
		key = NULL;
		if (rc)
			return rc;
	} while (mp_lit(mp, ','));
	if (!mp_lit(mp, '}'))
		return mp_fail(mp, "expected ',' or '}'");
	return 0;
}

static int mp_file_member(struct mparse *mp, const char *key, void *arg)
{
	struct sp_commit_file *f = arg;
	char *hex = NULL, *end;
	int rc;

	if (!strcmp(key, "name"))
		return mp_string(mp, &f->name);
	if (!strcmp(key, "records"))
		return mp_uint(mp, &f->records);
	if (!strcmp(key, "bytes"))
		return mp_uint(mp, &f->bytes);
	if (strcmp(key, "xxh64"))
		return mp_skip(mp);
	rc = mp_string(mp, &hex);
	if (rc)
		return rc;
	f->xxh64 = strtoull(hex, &end, 16);
	if (strlen(hex) != 16 || *end)
		rc = mp_fail(mp, "xxh64 is not 16 hex digits");
	else
		f->has_xxh64 = true;
	free(hex);
	return rc;
}

static int mp_file(struct mparse *mp, struct sp_commit_file *f)
{
	int rc = mp_object(mp, "expected a file object", mp_file_member, f);

	if (!rc && !f->name)
		rc = mp_fail(mp, "file without a name");
	return rc;
}

static int mp_files(struct mparse *mp, struct sp_commit_file **files,
		    size_t *nfiles)
{
	size_t cap = 0;
	int rc;

	if (!mp_lit(mp, '['))
		return mp_fail(mp, "expected the files array");
	if (mp_lit(mp, ']'))
		return 0;
	do {
		if (*nfiles == cap) {
			size_t ncap = cap ? 2 * cap : 16;
			struct sp_commit_file *nf =
			    realloc(*files, ncap * sizeof(*nf));

			if (!nf)
				return -ENOMEM;
			*files = nf;
			cap = ncap;
		}
		memset(&(*files)[*nfiles], 0, sizeof(**files));
		(*nfiles)++;
		rc = mp_file(mp, &(*files)[*nfiles - 1]);
		if (rc)
			return rc;
	} while (mp_lit(mp, ','));
	if (!mp_lit(mp, ']'))
		return mp_fail(mp, "expected ',' or ']'");
	return 0;
}

struct mp_top {
	struct sp_commit_manifest *m;
	bool have_files;
	bool have_replaced;
};

static int mp_manifest_member(struct mparse *mp, const char *key, void *arg)
{
	struct mp_top *t = arg;

	if (!strcmp(key, "flow"))
		return mp_string(mp, &t->m->flow);
	if (!strcmp(key, "stage"))
		return mp_string(mp, &t->m->stage);
	if (!strcmp(key, "run_id"))
		return mp_string(mp, &t->m->run_id);
	if (!strcmp(key, "replaced")) {
		if (t->have_replaced)
			return mp_fail(mp, "two replaced arrays");
		t->have_replaced = true;
		return mp_files(mp, &t->m->replaced, &t->m->nreplaced);
	}
	if (strcmp(key, "files"))
		return mp_skip(mp);
	if (t->have_files)
		return mp_fail(mp, "two files arrays");
	t->have_files = true;
	return mp_files(mp, &t->m->files, &t->m->nfiles);
}

static int mp_manifest(struct mparse *mp, struct sp_commit_manifest *m)
{
	struct mp_top t = {.m = m};
	int rc = mp_object(mp, "expected '{'", mp_manifest_member, &t);

	if (rc)
		return rc;
	mp_ws(mp);
	if (mp->p != mp->end)
		return mp_fail(mp, "text after the manifest");
	if (!t.have_files)
		return mp_fail(mp, "no files array");
	return 0;
}

int sp_commit_manifest_parse(const char *text, size_t len, const char *where,
			     struct sp_commit_manifest **out)
{
	struct mparse mp = {0};
	struct sp_commit_manifest *m = calloc(1, sizeof(*m));
	int rc;

	*out = NULL;
	if (!m)
		return -ENOMEM;
	mp.p = mp.start = text;
	mp.end = text + len;
	rc = mp_manifest(&mp, m);
	if (rc) {
		if (rc == -EINVAL)
			sp_log_error("%s: not a valid manifest at byte %zu: %s",
				     where, (size_t)(mp.p - mp.start),
				     mp.why ? mp.why : "bad syntax");
		sp_commit_manifest_free(m);
		return rc;
	}
	*out = m;
	return 0;
}

int cm_manifest_read_at(int dir_fd, const char *dir,
			struct sp_commit_manifest **out)
{
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
	rc = sp_commit_manifest_parse(text, len, path, out);
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
	return cm_manifest_read_at(AT_FDCWD, dir, out);
}

int sp_commit_manifest_read_at(int dir_fd, const char *dir,
			       struct sp_commit_manifest **out)
{
	return cm_manifest_read_at(dir_fd, dir, out);
}

void sp_commit_manifest_free(struct sp_commit_manifest *m)
{
	if (!m)
		return;
	for (size_t i = 0; i < m->nfiles; i++)
		free(m->files[i].name);
	free(m->files);
	for (size_t i = 0; i < m->nreplaced; i++)
		free(m->replaced[i].name);
	free(m->replaced);
	free(m->flow);
	free(m->stage);
	free(m->run_id);
	free(m);
}
