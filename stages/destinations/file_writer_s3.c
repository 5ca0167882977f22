/*
 * file_writer on S3: `stage:` an S3 catalog stage (dir is then a key
 * prefix under the stage's prefix), or `dir: s3://bucket/prefix` with the
 * standard AWS variables.  There is no rename on S3, so the commit is:
 *
 *   writing   every rolled file is a multipart upload to its final key
 *             (parts of FW_S3_PART bytes); an upload that is not completed
 *             is invisible to every reader (listing and GET alike).  A
 *             name the current manifest lists is never written again
 *             (with --force {seq} skips it), so no listed object changes.
 *   commit    1. the publication record <prefix>.spate-commit-<stage> is
 *                PUT: this run's files and, with --force, the files of the
 *                version it replaces ("replaced");
 *             2. every upload is completed (the objects appear);
 *             3. _manifest.json is PUT: the commit point;
 *             4. with --force, the replaced version's objects are deleted;
 *             5. the record is deleted.
 *   failure   a failed run aborts its uploads; one that failed in 2-3
 *             leaves the record, which the next run takes back.
 *   restart   start first finishes what a killed run left: a record whose
 *             files the manifest lists (killed in 4-5) is completed (its
 *             replaced objects deleted), any other (killed in 1-3) is
 *             undone (its objects that the manifest does not list are
 *             deleted); then the multipart uploads under the prefix (its
 *             own level) are listed and aborted (a run killed while
 *             writing or in 2).
 *
 * A reader of the manifest sees the old version or the new one, complete,
 * at every moment: listed objects never change.  A reader listing the
 * prefix sees, between steps 2 and 4 (or a kill there and the next run),
 * objects that no manifest lists, and with --force the old version's
 * objects beside the new ones.  Nothing locks a prefix: a writer owns its
 * prefix, two runs writing into one at once are not detected.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <xxhash.h>

#include "core/buf.h"
#include "core/log.h"
#include "io/commit.h"
#include "io/s3.h"
#include "spate/catalog.h"
#include "stages/destinations/file_writer.h"
#include "stages/s3_source.h"

#define FW_S3_PART ((size_t)8 << 20)

struct s3_file {
	char *name;
	char *upload_id;
	char (*etags)[72];
	unsigned nparts;
	uint64_t records, bytes, xxh64;
};

struct s3_slot {
	struct s3_file cur;
	unsigned cap_parts;
	struct sp_buf part;
	XXH64_state_t *xxh;
};

struct fw_s3 {
	struct sp_s3 *cli;
	char *bucket;
	char *prefix; /* "" or ending in '/' */
	char *record; /* key of the publication record */
	struct sp_commit_manifest *old; /* the manifest at start */
	/* the file being written (writer thread) */
	struct s3_file cur;
	unsigned cap_parts;
	struct sp_buf part;
	XXH64_state_t *xxh;
	/* partitioned output: the uploads of the partitions not being
	 * written to right now, swapped with the four fields above */
	struct s3_slot *slots;
	size_t nslots;
	struct s3_file *files;
	size_t nfiles;
};

bool fw_s3_wanted(const struct fw_config *cfg)
{
	return !strncmp(cfg->dir, "s3://", 5);
}

static int make_client(struct fw_s3 *s, const struct sp_s3_source *src,
		       const char *opt, char *err, size_t errlen)
{
	struct sp_s3_config cfg;
	char msg[512];
	int rc = sp_s3_config_resolve(src, &cfg, msg, sizeof(msg));

	if (rc) {
		snprintf(err, errlen, "option '%s': %s", opt, msg);
		return rc;
	}
	rc = sp_s3_create(&cfg, &s->cli);
	sp_s3_config_fini(&cfg);
	if (rc)
		snprintf(err, errlen, "cannot start the S3 client: %s",
			 strerror(-rc));
	return rc;
}

/* bucket and prefix from `stage:` (1 when the stage is not S3). */
static int from_stage(struct fw_state *fw, struct fw_s3 *s, char *err,
		      size_t errlen)
{
	const struct fw_config *cfg = fw->cfg;
	struct spate_catalog *c = NULL;
	struct spate_catalog_stage *st = NULL;
	char msg[512];
	int rc = spate_catalog_open(fw->ctx->catalog, &c, msg, sizeof(msg));

	if (rc == 0)
		rc = spate_catalog_get(c, cfg->stage, &st, msg, sizeof(msg));
	spate_catalog_close(c);
	if (rc || st->kind != SPATE_STAGE_S3 || !st->enabled) {
		spate_catalog_stage_free(st);
		return 1; /* the local path says what is wrong */
	}
	if (strstr(cfg->dir, "..") || cfg->dir[0] == '/') {
		snprintf(err, errlen,
			 "option 'dir': '%s' leaves stage '%s': a dir under "
			 "an S3 stage is a key prefix without '..' or a "
			 "leading '/'",
			 cfg->dir, cfg->stage);
		spate_catalog_stage_free(st);
		return -EACCES;
	}
	const char *p = st->path ? st->path : "";
	size_t pl = strlen(p), dl = strlen(cfg->dir);
	s->bucket = strdup(st->bucket);
	if (asprintf(&s->prefix, "%s%s%s%s", p, pl && p[pl - 1] != '/' ? "/" : "",
		     cfg->dir, dl && cfg->dir[dl - 1] != '/' ? "/" : "") < 0)
		s->prefix = NULL;
	struct sp_s3_source src = sp_s3_source_of_stage(st);
	rc = s->bucket && s->prefix ? make_client(s, &src, "stage", err, errlen)
				    : -ENOMEM;
	spate_catalog_stage_free(st);
	return rc;
}

static int from_url(struct fw_state *fw, struct fw_s3 *s, char *err,
		    size_t errlen)
{
	struct sp_s3_source src = {0};
	char *key = NULL;

	if (sp_s3_url_parse(fw->cfg->dir, &s->bucket, &key)) {
		snprintf(err, errlen,
			 "option 'dir': '%s' is not s3://BUCKET/PREFIX",
			 fw->cfg->dir);
		return -EINVAL;
	}
	size_t kl = strlen(key);
	if (asprintf(&s->prefix, "%s%s", key,
		     kl && key[kl - 1] != '/' ? "/" : "") < 0)
		s->prefix = NULL;
	free(key);
	if (!s->prefix)
		return -ENOMEM;
	return make_client(s, &src, "dir", err, errlen);
}

int fw_s3_create(struct fw_state *fw, char *err, size_t errlen)
{
	struct fw_s3 *s = calloc(1, sizeof(*s));
	int rc;

	if (!s)
		return -ENOMEM;
	sp_buf_init(&s->part);
	fw->s3 = s;
	rc = fw->cfg->stage ? from_stage(fw, s, err, errlen)
			    : from_url(fw, s, err, errlen);
	if (rc == 0 && fw->publish_each) {
		snprintf(err, errlen,
			 "option 'commit': 'file' is not available on S3 "
			 "(objects are published at the end of the run)");
		rc = -EINVAL;
	}
	if (rc == 0 && asprintf(&s->record, "%s.spate-commit-%s", s->prefix,
				fw->ctx->id) < 0) {
		s->record = NULL;
		rc = -ENOMEM;
	}
	if (rc == 0 &&
	    asprintf(&fw->dir, "s3://%s/%.*s", s->bucket,
		     (int)(strlen(s->prefix) ? strlen(s->prefix) - 1 : 0),
		     s->prefix) < 0) {
		fw->dir = NULL;
		rc = -ENOMEM;
	}
	if (rc) {
		fw_s3_free(fw);
		return rc;
	}
	s->xxh = XXH64_createState();
	return s->xxh ? 0 : -ENOMEM;
}

static void free_file(struct s3_file *f)
{
	free(f->name);
	free(f->upload_id);
	free(f->etags);
	memset(f, 0, sizeof(*f));
}

void fw_s3_free(struct fw_state *fw)
{
	struct fw_s3 *s = fw->s3;

	if (!s)
		return;
	free_file(&s->cur);
	for (size_t i = 0; i < s->nslots; i++) {
		free_file(&s->slots[i].cur);
		sp_buf_fini(&s->slots[i].part);
		if (s->slots[i].xxh)
			XXH64_freeState(s->slots[i].xxh);
	}
	free(s->slots);
	for (size_t i = 0; i < s->nfiles; i++)
		free_file(&s->files[i]);
	free(s->files);
	sp_buf_fini(&s->part);
	if (s->xxh)
		XXH64_freeState(s->xxh);
	sp_commit_manifest_free(s->old);
	sp_s3_destroy(s->cli);
	free(s->bucket);
	free(s->prefix);
	free(s->record);
	free(s);
	fw->s3 = NULL;
}

/* "what s3://bucket/key: <the client's message>" into err. */
static void s3_fail(struct fw_state *fw, char *err, size_t errlen,
		    const char *what)
{
	snprintf(err, errlen, "stage %s: %s: %s", fw->ctx->id, what,
		 sp_s3_error(fw->s3->cli));
}

/* The manifest (or record) at key: 0 and *out, -ENOENT, -errno. */
static int get_manifest(struct fw_s3 *s, const char *key,
			struct sp_commit_manifest **out)
{
	char *data = NULL, *where = NULL;
	size_t len;
	int rc = sp_s3_get(s->cli, s->bucket, key, &data, &len);

	*out = NULL;
	if (rc == 0 && asprintf(&where, "s3://%s/%s", s->bucket, key) < 0)
		rc = -ENOMEM;
	if (rc == 0)
		rc = sp_commit_manifest_parse(data, len, where, out);
	free(where);
	free(data);
	return rc;
}

static int put_manifest(struct fw_s3 *s, const char *key,
			const struct sp_commit_manifest *m)
{
	struct sp_buf b;
	int rc;

	sp_buf_init(&b);
	rc = sp_commit_manifest_format(m, &b);
	if (rc == 0)
		rc = sp_s3_put(s->cli, s->bucket, key, b.data, b.len, NULL);
	sp_buf_fini(&b);
	return rc;
}

static const struct sp_commit_file *listed(const struct sp_commit_manifest *m,
					   const char *name)
{
	for (size_t i = 0; m && i < m->nfiles; i++)
		if (!strcmp(m->files[i].name, name))
			return &m->files[i];
	return NULL;
}

static char *key_of(const struct fw_s3 *s, const char *name)
{
	char *k;

	return asprintf(&k, "%s%s", s->prefix, name) < 0 ? NULL : k;
}

/* Whether the manifest m is the one the record r was written for: it
 * lists every file of r and none that r replaces (a --force run never
 * reuses a name the replaced version lists, see fw_s3_taken). */
static bool switched(const struct sp_commit_manifest *m,
		     const struct sp_commit_manifest *r)
{
	for (size_t i = 0; i < r->nfiles; i++)
		if (!listed(m, r->files[i].name))
			return false;
	for (size_t i = 0; i < r->nreplaced; i++)
		if (listed(m, r->replaced[i].name))
			return false;
	return true;
}

/* Deletes the objects of files[0..n) that m does not list. */
static int delete_unlisted(struct fw_s3 *s, const struct sp_commit_file *files,
			   size_t n, const struct sp_commit_manifest *m)
{
	int rc = 0;

	for (size_t i = 0; i < n && !rc; i++) {
		if (listed(m, files[i].name))
			continue;
		char *k = key_of(s, files[i].name);
		rc = k ? sp_s3_delete(s->cli, s->bucket, k) : -ENOMEM;
		free(k);
	}
	return rc;
}

/* A publication record a killed run left: before its manifest was in
 * place the run is undone (its objects deleted), after it the run is
 * completed (the replaced version's objects deleted); then the record
 * goes. */
static int recover_record(struct fw_state *fw, char *err, size_t errlen)
{
	struct fw_s3 *s = fw->s3;
	struct sp_commit_manifest *r = NULL;
	int rc = get_manifest(s, s->record, &r);

	if (rc == -ENOENT)
		return 0;
	if (rc) {
		s3_fail(fw, err, errlen, "cannot read the publication record");
		return rc;
	}
	bool done = s->old && switched(s->old, r);
	if (done)
		rc = delete_unlisted(s, r->replaced, r->nreplaced, s->old);
	else
		rc = delete_unlisted(s, r->files, r->nfiles, s->old);
	sp_log_info("[destination:file_writer:%s] %s: %s run %s, killed "
		    "while it published (%zu object(s) deleted at most)",
		    fw->ctx->id, fw->dir, done ? "completed" : "took back",
		    r->run_id ? r->run_id : "?",
		    done ? r->nreplaced : r->nfiles);
	sp_commit_manifest_free(r);
	if (rc == 0)
		rc = sp_s3_delete(s->cli, s->bucket, s->record);
	if (rc)
		s3_fail(fw, err, errlen, "cannot recover an interrupted publication");
	return rc;
}

/* A name the manifest at start lists is never written again: a run with
 * --force gives its file the next {seq}, so that no listed object changes
 * before the new manifest is in place. */
bool fw_s3_taken(const struct fw_state *fw, const char *name)
{
	return listed(fw->s3->old, name) != NULL;
}

/* Multipart uploads a killed run left under the prefix (only its own
 * level: a writer owns its prefix). */
static void abort_leftovers(struct fw_state *fw)
{
	struct fw_s3 *s = fw->s3;
	struct sp_s3_upload *u = NULL;
	size_t n = 0, pl = strlen(s->prefix);
	int rc = sp_s3_mpu_list(s->cli, s->bucket, s->prefix, &u, &n);

	if (rc) {
		sp_log_debug("[destination:file_writer:%s] %s: cannot list "
			     "multipart uploads (%s): leftovers stay",
			     fw->ctx->id, fw->dir, sp_s3_error(s->cli));
		return;
	}
	for (size_t i = 0; i < n; i++)
		if (!strchr(u[i].key + pl, '/') &&
		    sp_s3_mpu_abort(s->cli, s->bucket, u[i].key,
				    u[i].upload_id) == 0)
			sp_log_info("[destination:file_writer:%s] aborted "
				    "the upload of s3://%s/%s a killed run "
				    "left", fw->ctx->id, s->bucket, u[i].key);
	sp_s3_uploads_free(u, n);
}

/* 0 to write, 0 with fw->holds, or -errno with err. */
int fw_s3_start(struct fw_state *fw, char *err, size_t errlen)
{
	struct fw_s3 *s = fw->s3;
	const struct sp_stage_ctx *ctx = fw->ctx;
	char *mkey = key_of(s, SP_COMMIT_MANIFEST);
	int rc = mkey ? get_manifest(s, mkey, &s->old) : -ENOMEM;

	free(mkey);
	if (rc && rc != -ENOENT) {
		if (rc == -EINVAL)
			snprintf(err, errlen, "stage %s: %s/%s is not a "
				 "manifest", ctx->id, fw->dir,
				 SP_COMMIT_MANIFEST);
		else
			s3_fail(fw, err, errlen, "cannot read the manifest");
		return rc;
	}
	if ((rc = recover_record(fw, err, errlen)))
		return rc;
	abort_leftovers(fw);
	if (!s->old)
		return 0;
	bool adds = strstr(fw->name, "{run}") != NULL;
	bool same = fw_manifest_holds_run(s->old, ctx->run_id, adds);
	if (same && !ctx->force) {
		sp_log_info("[destination:file_writer:%s] %s already holds "
			    "this run's output (run %s): kept",
			    ctx->id, fw->dir, ctx->run_id);
		fw->holds = true;
		return 0;
	}
	if (!same && !adds && !ctx->force) {
		snprintf(err, errlen,
			 "%s holds the committed output of another run; use "
			 "--force to replace it, another dir, or {run} in the "
			 "name template to add files beside it",
			 fw->dir);
		return -EEXIST;
	}
	return 0;
}

/* ---- writer thread: one multipart upload per rolled file ---------------- */

static int upload_part(struct fw_s3 *s)
{
	struct s3_file *f = &s->cur;

	if (f->nparts == s->cap_parts) {
		unsigned cap = s->cap_parts ? s->cap_parts * 2 : 16;
		void *p = realloc(f->etags, cap * sizeof(*f->etags));
		if (!p)
			return -ENOMEM;
		f->etags = p;
		s->cap_parts = cap;
	}
	int rc = sp_s3_mpu_part(s->cli, s->bucket, s->cur.name, f->upload_id,
				f->nparts + 1, s->part.data, s->part.len,
				f->etags[f->nparts]);
	if (rc == 0)
		f->nparts++;
	s->part.len = 0;
	return rc;
}

/* -errno with the S3 message in msg. */
int fw_s3_open(struct fw_state *fw, const char *name, char *msg, size_t len)
{
	struct fw_s3 *s = fw->s3;
	int rc;

	free_file(&s->cur);
	s->cap_parts = 0;
	s->part.len = 0;
	s->cur.name = key_of(s, name); /* the key until the file closes */
	if (!s->cur.name || (!s->xxh && !(s->xxh = XXH64_createState())))
		return -ENOMEM;
	XXH64_reset(s->xxh, 0);
	rc = sp_s3_mpu_create(s->cli, s->bucket, s->cur.name,
			      &s->cur.upload_id);
	if (rc)
		snprintf(msg, len, "%s", sp_s3_error(s->cli));
	return rc;
}

int fw_s3_swap(struct fw_state *fw, size_t slot, size_t nslots)
{
	struct fw_s3 *s = fw->s3;

	if (!s->slots) {
		s->slots = calloc(nslots, sizeof(*s->slots));
		if (!s->slots)
			return -ENOMEM;
		s->nslots = nslots;
	}
	struct s3_slot *o = &s->slots[slot], t = *o;
	*o = (struct s3_slot){s->cur, s->cap_parts, s->part, s->xxh};
	s->cur = t.cur;
	s->cap_parts = t.cap_parts;
	s->part = t.part;
	s->xxh = t.xxh;
	return 0;
}

int fw_s3_append(struct fw_state *fw, const void *data, size_t len,
		 char *msg, size_t msglen)
{
	struct fw_s3 *s = fw->s3;
	int rc = sp_buf_append(&s->part, data, len);

	XXH64_update(s->xxh, data, len);
	if (rc == 0 && s->part.len >= FW_S3_PART &&
	    (rc = upload_part(s)) && rc != -ENOMEM)
		snprintf(msg, msglen, "%s", sp_s3_error(s->cli));
	return rc;
}

int fw_s3_close_file(struct fw_state *fw, const char *name, uint64_t records,
		     uint64_t bytes, char *msg, size_t msglen)
{
	struct fw_s3 *s = fw->s3;
	int rc = 0;

	if (s->part.len || s->cur.nparts == 0)
		rc = upload_part(s);
	if (rc) {
		if (rc != -ENOMEM)
			snprintf(msg, msglen, "%s", sp_s3_error(s->cli));
		return rc;
	}
	struct s3_file *p = realloc(s->files, (s->nfiles + 1) * sizeof(*p));
	if (!p)
		return -ENOMEM;
	s->files = p;
	free(s->cur.name);
	s->cur.name = strdup(name);
	s->cur.records = records;
	s->cur.bytes = bytes;
	s->cur.xxh64 = XXH64_digest(s->xxh);
	s->files[s->nfiles++] = s->cur;
	memset(&s->cur, 0, sizeof(s->cur));
	s->cap_parts = 0;
	return s->files[s->nfiles - 1].name ? 0 : -ENOMEM;
}

/* ---- commit --------------------------------------------------------------- */

/* Without --force, a name of this run that is an object already. */
int fw_s3_prepare(struct fw_state *fw, char *err, size_t errlen)
{
	struct fw_s3 *s = fw->s3;
	struct sp_s3_object o;

	if (fw->ctx->force)
		return 0;
	for (size_t i = 0; i < s->nfiles; i++) {
		char *k = key_of(s, s->files[i].name);
		int rc = k ? sp_s3_head(s->cli, s->bucket, k, &o) : -ENOMEM;
		free(k);
		if (rc == 0) {
			snprintf(err, errlen,
				 "cannot publish files in %s: %s exists "
				 "already (rerun with --force to replace it)",
				 fw->dir, s->files[i].name);
			return -EEXIST;
		}
		if (rc != -ENOENT) {
			s3_fail(fw, err, errlen, "cannot check the target");
			return rc;
		}
	}
	return 0;
}

/* The new manifest: without --force the old entries this run does not
 * replace, then this run's files. */
static int new_manifest(struct fw_state *fw, bool keep_old,
			struct sp_commit_manifest *m)
{
	struct fw_s3 *s = fw->s3;
	size_t n = 0, max = s->nfiles + (keep_old && s->old ? s->old->nfiles : 0);

	m->flow = (char *)fw->ctx->flow;
	m->stage = (char *)fw->ctx->id;
	m->run_id = (char *)fw->ctx->run_id;
	m->files = calloc(max ? max : 1, sizeof(*m->files));
	if (!m->files)
		return -ENOMEM;
	for (size_t i = 0; keep_old && s->old && i < s->old->nfiles; i++) {
		bool ours = false;
		for (size_t j = 0; j < s->nfiles && !ours; j++)
			ours = !strcmp(s->files[j].name, s->old->files[i].name);
		if (!ours)
			m->files[n++] = s->old->files[i];
	}
	for (size_t i = 0; i < s->nfiles; i++)
		m->files[n++] = (struct sp_commit_file){
		    .name = s->files[i].name,
		    .records = s->files[i].records,
		    .bytes = s->files[i].bytes,
		    .xxh64 = s->files[i].xxh64,
		    .has_xxh64 = true,
		};
	m->nfiles = n;
	return 0;
}

static int complete_all(struct fw_s3 *s)
{
	for (size_t i = 0; i < s->nfiles; i++) {
		struct s3_file *f = &s->files[i];
		char *k = key_of(s, f->name);
		int rc = k ? sp_s3_mpu_complete(s->cli, s->bucket, k,
						f->upload_id,
						(const char(*)[72])f->etags,
						f->nparts, NULL)
			   : -ENOMEM;
		free(k);
		if (rc)
			return rc;
		free(f->upload_id);
		f->upload_id = NULL;
	}
	return 0;
}

/* --force: the files of the replaced version, which the new manifest
 * does not list (names are never reused), go into the record. */
static void set_replaced(struct fw_state *fw, struct sp_commit_manifest *rec)
{
	struct fw_s3 *s = fw->s3;

	if (fw->ctx->force && s->old) {
		rec->replaced = s->old->files;
		rec->nreplaced = s->old->nfiles;
	}
}

static int publish(struct fw_state *fw, char *err, size_t errlen)
{
	struct fw_s3 *s = fw->s3;
	struct sp_commit_manifest rec = {0}, m = {0};
	char *mkey = key_of(s, SP_COMMIT_MANIFEST);
	const char *step = "cannot write the publication record";
	int rc = mkey ? new_manifest(fw, false, &rec) : -ENOMEM;

	rc = rc ? rc : new_manifest(fw, !fw->ctx->force, &m);
	set_replaced(fw, &rec);
	rc = rc ? rc : put_manifest(s, s->record, &rec);
	if (rc == 0) {
		step = "cannot complete an upload";
		rc = complete_all(s);
	}
	if (rc == 0) {
		step = "cannot write the manifest";
		rc = put_manifest(s, mkey, &m);
	}
	if (rc == 0 && fw->ctx->force) {
		step = "cannot delete a replaced object";
		rc = delete_unlisted(s, rec.replaced, rec.nreplaced, &m);
	}
	if (rc == 0) {
		step = "cannot delete the publication record";
		rc = sp_s3_delete(s->cli, s->bucket, s->record);
	}
	if (rc == -ENOMEM)
		snprintf(err, errlen, "out of memory");
	else if (rc)
		s3_fail(fw, err, errlen, step);
	free(rec.files);
	free(m.files);
	free(mkey);
	return rc;
}

/* A failed run: its uploads are aborted (a server without AbortMultipart
 * keeps them, invisible). */
static void abort_all(struct fw_state *fw)
{
	struct fw_s3 *s = fw->s3;

	if (s->cur.upload_id)
		(void)sp_s3_mpu_abort(s->cli, s->bucket, s->cur.name,
				      s->cur.upload_id);
	for (size_t i = 0; i < s->nslots; i++)
		if (s->slots[i].cur.upload_id)
			(void)sp_s3_mpu_abort(s->cli, s->bucket,
					      s->slots[i].cur.name,
					      s->slots[i].cur.upload_id);
	for (size_t i = 0; i < s->nfiles; i++) {
		char *k = key_of(s, s->files[i].name);
		if (k && s->files[i].upload_id)
			(void)sp_s3_mpu_abort(s->cli, s->bucket, k,
					      s->files[i].upload_id);
		free(k);
	}
}

int fw_s3_finish(struct fw_state *fw, bool ok, char *err, size_t errlen)
{
	if (!ok) {
		abort_all(fw);
		return 0;
	}
	int rc = publish(fw, err, errlen);
	if (rc) {
		abort_all(fw);
		/* the record names what may be visible: the next run takes
		 * it back (recover_record) */
		sp_log_error("[destination:file_writer:%s] %s", fw->ctx->id,
			     err);
	}
	return rc;
}

size_t fw_s3_files(const struct fw_state *fw)
{
	return fw->s3->nfiles;
}
