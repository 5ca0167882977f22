/*
 * file_reader's inputs: the paths of its `path` option (names and globs,
 * relative to the flow's folder or a catalog stage's root, which they may
 * not leave) resolved into the files it reads, each once.
 */
#define _GNU_SOURCE
#include "stages/origins/file_reader.h"

struct fr_file *fr_new_file(struct fr_state *fr)
{
	struct fr_file *p = realloc(fr->files, (fr->nfiles + 1) * sizeof(*p));

	if (!p)
		return NULL;
	fr->files = p;
	memset(&p[fr->nfiles], 0, sizeof(*p));
	return &p[fr->nfiles++];
}

static int add_file(struct fr_state *fr, const char *path, const char *shown,
		    char *err, size_t errlen)
{
	struct stat st;

	if (stat(path, &st) < 0) {
		snprintf(err, errlen, "option 'path': cannot read %s: %s",
			 shown, strerror(errno));
		return -errno;
	}
	if (S_ISDIR(st.st_mode)) {
		snprintf(err, errlen,
			 "option 'path': %s is a directory (use %s/*.jsonl)",
			 shown, shown);
		return -EISDIR;
	}
	if (access(path, R_OK) < 0) {
		snprintf(err, errlen, "option 'path': cannot read %s: %s",
			 shown, strerror(errno));
		return -errno;
	}
	struct fr_file *f = fr_new_file(fr);
	if (!f)
		return -ENOMEM;
	f->path = strdup(path);
	f->display = strdup(shown);
	f->size = (uint64_t)st.st_size;
	f->mtime = (int64_t)st.st_mtime;
	f->mtim = st.st_mtim;
	f->ctim = st.st_ctim;
	f->dev = (uint64_t)st.st_dev;
	f->ino = (uint64_t)st.st_ino;
	f->regular = S_ISREG(st.st_mode);
	/* what stat says of a file of /proc or /sys is not what it holds:
	 * it is read to its end, as an empty file is (io/fileio.h) */
	f->pseudo = f->regular && sp_io_path_is_pseudo(path);
	if (f->pseudo)
		f->size = 0;
	fr->total_size += f->size;
	return f->path && f->display ? 0 : -ENOMEM;
}

/* With `stage`: rel must stay under the stage's root. */
static int check_inside(struct fr_state *fr, const char *rel, char *err,
			size_t errlen)
{
	char msg[512];
	int rc;

	if (!fr->root)
		return 0;
	rc = spate_catalog_check_path(fr->root, fr->cfg->stage, rel, msg,
				      sizeof(msg));
	if (rc)
		snprintf(err, errlen, "option 'path': %s", msg);
	return rc;
}

static int by_file_id(const void *a, const void *b, void *arg)
{
	const struct fr_file *files = arg;
	const struct fr_file *x = &files[*(const uint32_t *)a];
	const struct fr_file *y = &files[*(const uint32_t *)b];

	if (x->dev != y->dev)
		return x->dev < y->dev ? -1 : 1;
	if (x->ino != y->ino)
		return x->ino < y->ino ? -1 : 1;
	return *(const uint32_t *)a < *(const uint32_t *)b ? -1 : 1;
}

/*
 * A file named more than once (a glob and a name, "./x" and "x", a
 * symbolic link to it) is read once, where it comes first, with a
 * warning: the same device and inode is the same file.  Sorted by that
 * identity, so that a glob of many files costs n log n.
 */
static int drop_repeated_files(struct fr_state *fr)
{
	uint32_t n = fr->nfiles, *ix = malloc((n ? n : 1) * sizeof(*ix));
	bool *drop = calloc(n ? n : 1, sizeof(*drop));
	uint32_t out = 0;

	if (!ix || !drop) {
		free(ix);
		free(drop);
		return -ENOMEM;
	}
	for (uint32_t i = 0; i < n; i++)
		ix[i] = i;
	qsort_r(ix, n, sizeof(*ix), by_file_id, fr->files);
	for (uint32_t k = 1; k < n; k++) {
		const struct fr_file *first = &fr->files[ix[k - 1]];
		struct fr_file *f = &fr->files[ix[k]];

		if (f->dev != first->dev || f->ino != first->ino)
			continue;
		/* ix[k - 1] is the earliest of its identity (by index) */
		ix[k] = ix[k - 1];
		drop[f - fr->files] = true;
		/* said once: by the run, not by the validation before it */
		if (!fr->ctx->validate_only)
			sp_stage_warn(fr->ctx,
				      "option 'path': %s is %s again: it is "
				      "read once",
				      f->display, fr->files[ix[k]].display);
	}
	for (uint32_t i = 0; i < n; i++) {
		if (!drop[i]) {
			fr->files[out++] = fr->files[i];
			continue;
		}
		fr->total_size -= fr->files[i].size;
		free(fr->files[i].path);
		free(fr->files[i].display);
	}
	fr->nfiles = out;
	free(ix);
	free(drop);
	return 0;
}

int fr_expand_paths(struct fr_state *fr, char *err, size_t errlen)
{
	const struct fr_config *cfg = fr->cfg;
	const char *base = fr->root ? fr->root : fr->ctx->flow_dir;

	for (uint32_t i = 0; i < cfg->path.n; i++) {
		const char *p = cfg->path.v[i];
		char *full;
		int rc = check_inside(fr, p, err, errlen);
		if (rc)
			return rc;
		if (p[0] == '/')
			full = strdup(p);
		else if (asprintf(&full, "%s/%s", base, p) < 0)
			full = NULL;
		if (!full)
			return -ENOMEM;
		if (!strpbrk(p, "*?[")) {
			rc = add_file(fr, full, p, err, errlen);
			free(full);
			if (rc)
				return rc;
			continue;
		}
		glob_t g;
		rc = glob(full, GLOB_ERR, NULL, &g);
		if (rc == GLOB_NOMATCH) {
			snprintf(err, errlen,
				 "option 'path': '%s' matches no file (looked "
				 "in %s)",
				 p, base);
			free(full);
			return -ENOENT;
		} else if (rc) {
			snprintf(err, errlen,
				 "option 'path': cannot expand '%s'", p);
			free(full);
			return -EIO;
		}
		/* glob sorts; show names relative as the user wrote them */
		size_t prefix = strlen(full) - strlen(p);
		for (size_t k = 0; k < g.gl_pathc; k++) {
			const char *m = g.gl_pathv[k];
			const char *shown = strlen(m) > prefix ? m + prefix : m;
			rc = check_inside(fr, shown, err, errlen);
			if (rc == 0)
				rc = add_file(fr, m, shown, err, errlen);
			if (rc) {
				globfree(&g);
				free(full);
				return rc;
			}
		}
		globfree(&g);
		free(full);
	}
	return drop_repeated_files(fr);
}
