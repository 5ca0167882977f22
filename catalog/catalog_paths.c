/*
 * Paths under a catalog stage: the canonical root of a local stage and the
 * check that a flow's relative path cannot leave it - not by being
 * absolute, not by "..", not through a symlink.  Only the part of a path
 * that exists can be resolved; what does not exist yet (an output folder)
 * is checked lexically, and it has no ".." by then.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "spate/catalog.h"

/* realpath of the longest existing prefix of path, plus the rest. */
static int resolve_existing(const char *path, char *out, size_t len)
{
	char buf[PATH_MAX], real[PATH_MAX];
	size_t n = strlen(path);

	if (n >= sizeof(buf))
		return -ENAMETOOLONG;
	memcpy(buf, path, n + 1);
	size_t cut = n;
	for (;;) {
		if (realpath(buf, real))
			break;
		if (errno != ENOENT && errno != ENOTDIR)
			return -errno;
		char *slash = strrchr(buf, '/');
		if (!slash)
			return -ENOENT;
		if (slash == buf) {
			snprintf(real, sizeof(real), "/");
			cut = 1;
			break;
		}
		*slash = '\0';
		cut = (size_t)(slash - buf);
	}
	const char *rest = path + cut;
	while (*rest == '/')
		rest++;
	int k = snprintf(out, len, "%s%s%s", real,
			 *rest && strcmp(real, "/") ? "/" : "", rest);
	return k < 0 || (size_t)k >= len ? -ENAMETOOLONG : 0;
}

static bool is_inside(const char *root, const char *path)
{
	size_t n = strlen(root);

	if (!strcmp(root, "/"))
		return path[0] == '/';
	return !strncmp(path, root, n) && (path[n] == '\0' || path[n] == '/');
}

int spate_catalog_local_root(struct spate_catalog *c, const char *name,
			     char **root, char *err, size_t errlen)
{
	struct spate_catalog_stage *s;
	char real[PATH_MAX];
	int rc = spate_catalog_get(c, name, &s, err, errlen);

	if (rc)
		return rc;
	if (!s->enabled) {
		snprintf(err, errlen,
			 "stage '%s' is disabled (`spate stage alter %s "
			 "--enable` enables it)",
			 name, name);
		rc = -EPERM;
	} else if (s->kind != SPATE_STAGE_LOCAL) {
		snprintf(err, errlen,
			 "stage '%s' is an S3 stage (%s), not a local "
			 "folder",
			 name, s->url);
		rc = -ENOTSUP;
	} else if ((rc = resolve_existing(s->path, real, sizeof(real)))) {
		snprintf(err, errlen, "stage '%s': cannot resolve %s: %s", name,
			 s->path, strerror(-rc));
	} else if (!(*root = strdup(real))) {
		rc = -ENOMEM;
	}
	spate_catalog_stage_free(s);
	return rc;
}

int spate_catalog_check_path(const char *root, const char *name,
			     const char *rel, char *err, size_t errlen)
{
	char full[PATH_MAX], real[PATH_MAX];
	int rc;

	if (!*rel) {
		snprintf(err, errlen, "empty path under stage '%s'", name);
		return -EINVAL;
	}
	if (rel[0] == '/') {
		snprintf(err, errlen,
			 "'%s' is absolute: with `stage: %s` a path is "
			 "relative to the stage's root (%s)",
			 rel, name, root);
		return -EACCES;
	}
	for (const char *p = rel; *p;) {
		const char *e = strchrnul(p, '/');
		if (e - p == 2 && p[0] == '.' && p[1] == '.') {
			snprintf(err, errlen,
				 "'%s' leaves stage '%s': a path under a "
				 "stage may not contain '..'",
				 rel, name);
			return -EACCES;
		}
		p = *e ? e + 1 : e;
	}
	int k = snprintf(full, sizeof(full), "%s/%s", root, rel);
	if (k < 0 || (size_t)k >= sizeof(full)) {
		snprintf(err, errlen, "path '%s' is too long", rel);
		return -ENAMETOOLONG;
	}
	if ((rc = resolve_existing(full, real, sizeof(real)))) {
		snprintf(err, errlen, "cannot resolve %s: %s", full,
			 strerror(-rc));
		return rc;
	}
	if (!is_inside(root, real)) {
		snprintf(err, errlen,
			 "'%s' resolves to %s, outside stage '%s' (%s): a "
			 "symlink may not lead out of a stage",
			 rel, real, name, root);
		return -EACCES;
	}
	return 0;
}
