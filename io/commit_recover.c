/*
 * The run-level commit record: a run with several destinations publishes
 * them one exchange after the other, and a crash between two exchanges
 * must not leave destinations from different runs that all look
 * committed.  So before the first exchange every destination assembles
 * its complete new version in its staging directory and writes a record
 * beside it (in the parent of its target, like the staging directory):
 *
 *     <parent>/.<base>.spate-commit-<stage>
 *         spate-commit 1
 *         run <run id>
 *         target <real dir>\t<stage>      (one line per destination)
 *
 * The record lists every destination of the run, so each copy is the
 * run-level record.  The records go once the run committed (all
 * exchanged) or rolled back.  A record that is still there when a stage
 * begins again tells of a run that died while it published; the next run
 * completes its publication when every destination of it either holds
 * the run's output already (its manifest names the run) or holds it
 * ready in its staging directory with a record of the run (then the
 * prepare phase ended everywhere: the run's output is complete), and
 * exchanges the ready ones; otherwise (a destination never got ready) no
 * exchange happened, and the records are dropped: the staging
 * directories are cleared by the next begin as usual.
 */
#include "io/commit_internal.h"

#include <errno.h>
#include <fcntl.h>
#include <libgen.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include "core/log.h"

#define RECORD_MAGIC "spate-commit 1\n"
#define MAX_TARGETS 256

/* One destination named in a record, with what recovery found there. */
struct rec_target {
	char *dir; /* real path of the target */
	char *stage;
	char *parent;
	char *base;
	int parent_fd;
	bool published; /* its manifest names the run */
	bool ready;	/* its record and staged version are of the run */
};

struct rec {
	char *run_id;
	size_t n;
	struct rec_target t[MAX_TARGETS];
};

static int write_all(int fd, const char *p, size_t n)
{
	while (n) {
		ssize_t k = write(fd, p, n);

		if (k < 0 && errno == EINTR)
			continue;
		if (k < 0)
			return -errno;
		p += k;
		n -= (size_t)k;
	}
	return 0;
}

int sp_commit_write_record(struct sp_commit *c, const char *const *targets)
{
	struct sp_buf b;
	char tmp[512];
	int fd, rc;

	if (c->closed || !c->prepared)
		return -EINVAL;
	rc = cm_assemble_version(c, c->prepared_replace);
	if (rc == 1)
		return 0; /* published file by file: no record */
	if (rc < 0)
		return rc;
	sp_buf_init(&b);
	rc = sp_buf_append(&b, RECORD_MAGIC, strlen(RECORD_MAGIC));
	rc = rc ? rc : sp_buf_append(&b, "run ", 4);
	rc = rc ? rc : sp_buf_append(&b, c->run_id, strlen(c->run_id));
	for (size_t i = 0; targets && targets[i] && !rc; i++) {
		rc = sp_buf_append(&b, "\ntarget ", 8);
		rc =
		    rc ? rc : sp_buf_append(&b, targets[i], strlen(targets[i]));
	}
	rc = rc ? rc : sp_buf_append(&b, "\n", 1);
	snprintf(tmp, sizeof(tmp), "%s.tmp", c->record);
	fd = rc ? -1
		: openat(c->parent_fd, tmp,
			 O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0644);
	if (!rc && fd < 0)
		rc = -errno;
	if (fd >= 0) {
		rc = write_all(fd, b.data, b.len);
		rc = rc ? rc : cm_sync(c, fd);
		close(fd);
		if (!rc &&
		    renameat(c->parent_fd, tmp, c->parent_fd, c->record) < 0)
			rc = -errno;
		rc = rc ? rc : cm_sync(c, c->parent_fd);
		if (rc)
			unlinkat(c->parent_fd, tmp, 0);
	}
	sp_buf_fini(&b);
	if (rc)
		sp_log_error("cannot write the commit record %s beside %s: %s",
			     c->record, c->dir, strerrordesc_np(-rc));
	return rc;
}

void cm_drop_record(struct sp_commit *c)
{
	if (unlinkat(c->parent_fd, c->record, 0) == 0)
		cm_sync(c, c->parent_fd);
}

void sp_commit_drop_record(struct sp_commit *c)
{
	cm_drop_record(c);
}

const char *sp_commit_target(const struct sp_commit *c)
{
	return c->target;
}

/* ---- recovery ------------------------------------------------------------ */

static void rec_free(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct rec_target *t = &r->t[i];

		if (t->parent_fd >= 0)
			close(t->parent_fd);
		free(t->dir);
		free(t->stage);
		free(t->parent);
		free(t->base);
	}
	free(r->run_id);
	r->n = 0;
	r->run_id = NULL;
}

/* Reads the record name in the directory parent_fd into r.  0, -ENOENT,
 * -EINVAL (not a record), -ENOMEM. */
static int rec_read(int parent_fd, const char *name, struct rec *r)
{
	char *text = NULL, *save = NULL;
	size_t len = 0;
	int rc = 0;
	FILE *f;
	int fd = openat(parent_fd, name, O_RDONLY | O_CLOEXEC);

	memset(r, 0, sizeof(*r));
	if (fd < 0)
		return -errno;
	f = fdopen(fd, "r");
	if (!f) {
		close(fd);
		return -ENOMEM;
	}
	if (getdelim(&text, &len, '\0', f) < 0 ||
	    strncmp(text, RECORD_MAGIC, strlen(RECORD_MAGIC))) {
		rc = -EINVAL;
		goto out;
	}
	for (char *l = strtok_r(text + strlen(RECORD_MAGIC), "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save)) {
		char *tab;

		if (!strncmp(l, "run ", 4) && !r->run_id) {
			r->run_id = strdup(l + 4);
			if (!r->run_id)
				rc = -ENOMEM;
		} else if (!strncmp(l, "target ", 7) && r->n < MAX_TARGETS &&
			   (tab = strchr(l + 7, '\t'))) {
			struct rec_target *t = &r->t[r->n++];

			*tab = '\0';
			t->parent_fd = -1;
			t->dir = strdup(l + 7);
			t->stage = strdup(tab + 1);
			if (!t->dir || !t->stage)
				rc = -ENOMEM;
		}
	}
	if (!rc && !r->run_id)
		rc = -EINVAL;
out:
	free(text);
	fclose(f);
	if (rc)
		rec_free(r);
	return rc;
}

/* ".<base>.spate-<what>-<stage>": the staging directory or the record
 * beside target t. */
static char *side_name(const struct rec_target *t, const char *what)
{
	char *s;

	return asprintf(&s, ".%s.spate-%s-%s", t->base, what, t->stage) < 0
		   ? NULL
		   : s;
}

/* The run id in the manifest of the directory at (parent_fd, name), or
 * NULL. */
static char *manifest_run(int parent_fd, const char *name)
{
	struct sp_commit_manifest *m = NULL;
	char *run = NULL;
	int fd = openat(parent_fd, name,
			O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);

	if (fd < 0)
		return NULL;
	if (cm_manifest_read_at(fd, name, &m) == 0 && m->run_id)
		run = strdup(m->run_id);
	sp_commit_manifest_free(m);
	close(fd);
	return run;
}

static bool is_run(char *got, const char *run)
{
	bool same = got && !strcmp(got, run);

	free(got);
	return same;
}

/* Finds out whether target t holds the run published, or ready. */
static int rec_probe(struct rec_target *t, const char *run)
{
	char *copy = strdup(t->dir), *copy2 = strdup(t->dir);
	char *rname = NULL, *sname = NULL;
	struct rec other;

	if (!copy || !copy2) {
		free(copy);
		free(copy2);
		return -ENOMEM;
	}
	t->parent = strdup(dirname(copy));
	t->base = strdup(basename(copy2));
	free(copy);
	free(copy2);
	if (!t->parent || !t->base)
		return -ENOMEM;
	t->parent_fd = open(t->parent, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (t->parent_fd < 0)
		return 0; /* neither */
	t->published = is_run(manifest_run(t->parent_fd, t->base), run);
	rname = side_name(t, "commit");
	sname = side_name(t, "staging");
	if (!rname || !sname) {
		free(rname);
		free(sname);
		return -ENOMEM;
	}
	if (rec_read(t->parent_fd, rname, &other) == 0) {
		t->ready = !strcmp(other.run_id, run) &&
			   is_run(manifest_run(t->parent_fd, sname), run);
		rec_free(&other);
	}
	free(rname);
	free(sname);
	return 0;
}

/* Exchanges the ready version of t into place.  0 or -errno (logged). */
static int roll_forward(struct rec_target *t, const char *run)
{
	char *sname = side_name(t, "staging");
	int dir_fd = -1, st_fd = -1, rc = 0;

	if (!sname)
		return -ENOMEM;
	dir_fd =
	    openat(t->parent_fd, t->base, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	st_fd = openat(t->parent_fd, sname,
		       O_RDONLY | O_DIRECTORY | O_NOFOLLOW | O_CLOEXEC);
	if (dir_fd < 0 || st_fd < 0) {
		rc = -errno;
		goto out;
	}
	/* the run that wrote it is gone; another one may be here now */
	if (flock(dir_fd, LOCK_EX | LOCK_NB) < 0 ||
	    flock(st_fd, LOCK_EX | LOCK_NB) < 0) {
		rc = -EBUSY;
		goto out;
	}
	if (renameat2(t->parent_fd, sname, t->parent_fd, t->base,
		      RENAME_EXCHANGE) < 0 ||
	    fsync(t->parent_fd) < 0) {
		rc = -errno;
		goto out;
	}
	/* the record says ready: the run had passed its commit point, and
	 * its other destinations, if any, may show it already */
	sp_log_warn("%s: published run %s, which an interrupted run had "
		    "committed but not yet published here",
		    t->dir, run);
	/* dir_fd now is the old version, at the staging path */
	cm_drop_old_version(t->parent_fd, dir_fd, sname, t->dir);
out:
	if (rc)
		sp_log_error("cannot complete the publication of run %s in "
			     "%s: %s",
			     run, t->dir, strerrordesc_np(-rc));
	if (st_fd >= 0)
		close(st_fd);
	if (dir_fd >= 0)
		close(dir_fd);
	free(sname);
	return rc;
}

/* Drops the records of the run beside every target. */
static void drop_records(struct rec *r)
{
	for (size_t i = 0; i < r->n; i++) {
		struct rec_target *t = &r->t[i];
		char *rname = side_name(t, "commit");
		struct rec other;

		if (!rname || t->parent_fd < 0) {
			free(rname);
			continue;
		}
		if (rec_read(t->parent_fd, rname, &other) == 0) {
			if (!strcmp(other.run_id, r->run_id) &&
			    unlinkat(t->parent_fd, rname, 0) == 0)
				fsync(t->parent_fd);
			rec_free(&other);
		}
		free(rname);
	}
}

int sp_commit_recover(const char *dir, const char *stage)
{
	char *real = realpath(dir, NULL);
	char *copy = NULL, *copy2 = NULL, *rname = NULL;
	bool complete = true;
	struct rec r;
	int pfd = -1, rc;

	if (!real)
		return errno == ENOENT ? 0 : -errno;
	copy = strdup(real);
	copy2 = strdup(real);
	if (!copy || !copy2 ||
	    asprintf(&rname, ".%s.spate-commit-%s", basename(copy2), stage) <
		0) {
		rname = NULL;
		rc = -ENOMEM;
		goto out;
	}
	pfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	rc = pfd < 0 ? -errno : rec_read(pfd, rname, &r);
	if (rc == -ENOENT || rc == -EINVAL) {
		if (rc == -EINVAL && unlinkat(pfd, rname, 0) == 0)
			sp_log_warn("%s: removed a damaged commit record %s",
				    dir, rname);
		rc = 0;
		goto out;
	}
	if (rc)
		goto out;
	for (size_t i = 0; i < r.n && !rc; i++) {
		rc = rec_probe(&r.t[i], r.run_id);
		complete &= r.t[i].published || r.t[i].ready;
	}
	for (size_t i = 0; i < r.n && !rc && complete; i++) {
		if (!r.t[i].published)
			rc = roll_forward(&r.t[i], r.run_id);
	}
	if (!rc && !complete)
		sp_log_info("%s: an interrupted run (%s) published nothing; "
			    "its staged files are removed",
			    dir, r.run_id);
	if (!rc)
		drop_records(&r);
	rec_free(&r);
out:
	if (pfd >= 0)
		close(pfd);
	free(rname);
	free(copy);
	free(copy2);
	free(real);
	return rc;
}

/* name exists in the directory open as fd: 1, 0 or -errno */
static int exists_at(int fd, const char *name)
{
	struct stat st;

	if (fstatat(fd, name, &st, AT_SYMLINK_NOFOLLOW) == 0)
		return 1;
	return errno == ENOENT ? 0 : -errno;
}

int sp_commit_has_history(const char *dir, const char *stage)
{
	char *real = realpath(dir, NULL);
	char *copy = NULL, *copy2 = NULL, *rec = NULL, *jrn = NULL;
	int dfd = -1, pfd = -1, rc;

	if (!real)
		return errno == ENOENT ? 0 : -errno;
	copy = strdup(real);
	copy2 = strdup(real);
	if (!copy || !copy2 ||
	    asprintf(&rec, ".%s.spate-commit-%s", basename(copy2), stage) < 0)
		rec = NULL;
	if (rec &&
	    asprintf(&jrn, ".%s.spate-published-%s", basename(copy2), stage) < 0)
		jrn = NULL;
	if (!jrn) {
		rc = -ENOMEM;
		goto out;
	}
	dfd = open(real, O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	pfd = open(dirname(copy), O_RDONLY | O_DIRECTORY | O_CLOEXEC);
	if (dfd < 0 || pfd < 0) {
		rc = -errno;
		goto out;
	}
	rc = exists_at(dfd, SP_COMMIT_MANIFEST);
	if (rc == 0)
		rc = exists_at(pfd, rec);
	if (rc == 0)
		rc = exists_at(pfd, jrn);
out:
	if (dfd >= 0)
		close(dfd);
	if (pfd >= 0)
		close(pfd);
	free(real);
	free(copy);
	free(copy2);
	free(rec);
	free(jrn);
	return rc;
}
