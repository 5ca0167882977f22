/*
 * `spate stage check NAME`: whether a catalog stage can be used, found out
 * by using it.  A local stage's folder is listed (and, with --write, a
 * marker file created and removed); an S3 stage's credentials are
 * resolved, one key under its prefix is listed (ListObjectsV2,
 * max-keys=1) and, with --write, a marker object is PUT and DELETEd.
 * Each step is reported with S3's error code and message and a line
 * saying what to fix; credentials appear as their source, never as
 * values.  Writing is asked for because a check should not create
 * objects in a bucket its user may only read.
 *
 * Exit codes: 0 every step passed, 1 one failed (or the stage is unknown
 * or disabled), 2 bad usage.
 */
#define _GNU_SOURCE
#include <dirent.h>
#include <errno.h>
#include <fcntl.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/random.h>
#include <sys/stat.h>
#include <unistd.h>

#include "cli/cli.h"
#include "io/s3.h"
#include "stages/s3_source.h"
#include "record/json.h"
#include "spate/catalog.h"

static const char check_usage[] =
	"usage: spate stage check NAME [--write] [--json] [--catalog PATH]\n"
	"\n"
	"Checks that stage NAME can be used, by using it: a local stage's\n"
	"folder is listed; an S3 stage's credentials are looked up and one\n"
	"key under its prefix is listed (ListObjectsV2 with max-keys=1), so\n"
	"a missing bucket, a refused key or secret, a denied listing or an\n"
	"endpoint that does not answer is named with S3's error code.\n"
	"--write also writes and deletes a small marker object (a file for a\n"
	"local stage), `.spate-check-RANDOM` under the prefix, as a\n"
	"file_writer would.  Secrets are never printed.\n"
	"\n"
	"  --write  check writing too (PUT and DELETE of a marker)\n"
	"  --json   one object: the stage, \"ok\" and each check with its\n"
	"           error code, HTTP status and message\n"
	"\n"
	"exit codes: 0 every check passed, 1 one failed (or the stage is\n"
	"unknown or disabled), 2 bad usage\n"
	"\n"
	"example:\n"
	"  spate stage check lake --write\n";

/* One step of the check and how it went. */
struct check_step {
	const char *name; /* "enabled", "credentials", "list", "write" */
	bool ok;
	char detail[2 * PATH_MAX + 256]; /* what was seen, or the error */
	char code[64];	   /* S3's error code, "" when none */
	long status;	   /* HTTP status of a failed request, 0 when none */
	char hint[PATH_MAX + 512]; /* what to fix, "" when ok */
};

struct check {
	const struct spate_catalog_stage *st;
	char where[300]; /* the endpoint, as it may be shown */
	char region[64];
	struct check_step steps[4];
	int n;
};

static struct check_step *step(struct check *c, const char *name)
{
	struct check_step *s = &c->steps[c->n++];

	memset(s, 0, sizeof(*s));
	s->name = name;
	return s;
}

/* ---- local stages -------------------------------------------------------- */

static void local_list(struct check *c)
{
	struct check_step *s = step(c, "list");
	const char *path = c->st->path;
	DIR *d = opendir(path);
	size_t n = 0;

	if (!d) {
		int e = errno;
		snprintf(s->detail, sizeof(s->detail), "cannot list %s: %s",
			 path, strerror(e));
		snprintf(s->hint, sizeof(s->hint),
			 e == ENOENT ? "flows reading from the stage fail until "
				       "the folder exists (one writing to it "
				       "creates it)"
			 : e == ENOTDIR
			     ? "the stage's path is not a folder: `spate stage "
			       "alter %s --url /FOLDER`"
			     : "give the user running spate access to the "
			       "folder, or `spate stage alter %s --url /FOLDER`",
			 c->st->name);
		return;
	}
	for (struct dirent *e; (e = readdir(d));)
		n += strcmp(e->d_name, ".") && strcmp(e->d_name, "..");
	closedir(d);
	s->ok = true;
	snprintf(s->detail, sizeof(s->detail), "%s: %zu %s", path, n,
		 n == 1 ? "entry" : "entries");
}

static void marker_name(char *out, size_t len)
{
	unsigned char r[8] = {0};
	ssize_t got = getrandom(r, sizeof(r), GRND_NONBLOCK);

	if (got != (ssize_t)sizeof(r)) /* rare: any distinct name will do */
		memcpy(r, &(pid_t){getpid()}, sizeof(pid_t));
	snprintf(out, len, ".spate-check-%02x%02x%02x%02x%02x%02x%02x%02x",
		 r[0], r[1], r[2], r[3], r[4], r[5], r[6], r[7]);
}

static void local_write(struct check *c)
{
	struct check_step *s = step(c, "write");
	const char *root = c->st->path;
	char name[64], path[PATH_MAX], up[PATH_MAX];
	struct stat sb;

	if (stat(root, &sb) < 0 && errno == ENOENT) {
		/* a writer creates the folder: its nearest existing parent
		 * must let it */
		snprintf(up, sizeof(up), "%s", root);
		for (char *p; (p = strrchr(up, '/')) && stat(up, &sb) < 0;)
			*(p == up ? p + 1 : p) = '\0';
		s->ok = access(up, W_OK | X_OK) == 0;
		snprintf(s->detail, sizeof(s->detail),
			 s->ok ? "%s does not exist yet; a flow writing to the "
				 "stage creates it in %s"
			       : "%s does not exist and cannot be created in "
				 "%s: %s",
			 root, up, strerror(errno));
		if (!s->ok)
			snprintf(s->hint, sizeof(s->hint),
				 "create the folder, or give the user running "
				 "spate write access to %s",
				 up);
		return;
	}
	marker_name(name, sizeof(name));
	snprintf(path, sizeof(path), "%s/%s", root, name);
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	if (fd < 0 || write(fd, "spate stage check\n", 18) != 18) {
		snprintf(s->detail, sizeof(s->detail), "cannot create %s: %s",
			 path, strerror(errno));
		snprintf(s->hint, sizeof(s->hint),
			 "give the user running spate write access to %s",
			 root);
	} else if (unlink(path) < 0) {
		snprintf(s->detail, sizeof(s->detail),
			 "created %s but cannot remove it: %s", path,
			 strerror(errno));
		snprintf(s->hint, sizeof(s->hint), "remove %s by hand", path);
	} else {
		s->ok = true;
		snprintf(s->detail, sizeof(s->detail), "created and removed %s",
			 path);
	}
	if (fd >= 0)
		close(fd);
}

/* ---- S3 stages ----------------------------------------------------------- */

/* What to fix after a failed request of step s (what: "list", "write"). */
static void s3_hint(struct check *c, struct check_step *s, const char *cred)
{
	const struct spate_catalog_stage *st = c->st;
	const char *code = s->code;

	if (!strcmp(code, "NoSuchBucket"))
		snprintf(s->hint, sizeof(s->hint),
			 "bucket '%s' does not exist at %s: create it, or "
			 "`spate stage alter %s --url s3://BUCKET/PREFIX`",
			 st->bucket, c->where, st->name);
	else if (!strcmp(code, "InvalidAccessKeyId"))
		snprintf(s->hint, sizeof(s->hint),
			 "the server does not know the key id from %s: set "
			 "the right one, or `spate stage alter %s "
			 "--key-id-env VAR --secret-env VAR`",
			 cred, st->name);
	else if (!strcmp(code, "SignatureDoesNotMatch"))
		snprintf(s->hint, sizeof(s->hint),
			 "the secret from %s does not belong to the key id",
			 cred);
	else if (!strcmp(code, "AccessDenied"))
		snprintf(s->hint, sizeof(s->hint),
			 "the credentials from %s may not %s s3://%s/%s: ask "
			 "for s3:%s on it",
			 cred, strcmp(s->name, "list") ? "write under" : "list",
			 st->bucket, st->path ? st->path : "",
			 strcmp(s->name, "list")
			     ? "PutObject and s3:DeleteObject"
			     : "ListBucket");
	else if (!strcmp(code, "PermanentRedirect") ||
		 !strcmp(code, "AuthorizationHeaderMalformed"))
		snprintf(s->hint, sizeof(s->hint),
			 "the bucket lives in another region than %s: `spate "
			 "stage alter %s --region REGION`",
			 c->region, st->name);
	else if (!s->status)
		snprintf(s->hint, sizeof(s->hint),
			 "no answer from %s: is the server running and the "
			 "endpoint right? (`spate stage alter %s --endpoint "
			 "URL`)",
			 c->where, st->name);
}

static void s3_failed(struct check *c, struct check_step *s,
		      struct sp_s3 *cli, const char *cred, const char *what)
{
	snprintf(s->code, sizeof(s->code), "%s",
		 sp_s3_error_code(cli, &s->status));
	snprintf(s->detail, sizeof(s->detail), "%s%s", what, sp_s3_error(cli));
	s3_hint(c, s, cred);
}

static void s3_write(struct check *c, struct sp_s3 *cli, const char *prefix,
		     const char *cred)
{
	struct check_step *s = step(c, "write");
	const char *bucket = c->st->bucket;
	char name[64], *key;

	marker_name(name, sizeof(name));
	if (asprintf(&key, "%s%s", prefix, name) < 0) {
		snprintf(s->detail, sizeof(s->detail), "out of memory");
		return;
	}
	if (sp_s3_put(cli, bucket, key, "spate stage check\n", 18, NULL)) {
		s3_failed(c, s, cli, cred, "");
	} else if (sp_s3_delete(cli, bucket, key)) {
		s3_failed(c, s, cli, cred, "wrote the marker but cannot "
					   "delete it: ");
		if (!s->hint[0])
			snprintf(s->hint, sizeof(s->hint),
				 "delete s3://%s/%s by hand", bucket, key);
	} else {
		s->ok = true;
		snprintf(s->detail, sizeof(s->detail),
			 "put and deleted s3://%s/%s", bucket, key);
	}
	free(key);
}

static void s3_check(struct check *c, bool write, const char *cred)
{
	const struct spate_catalog_stage *st = c->st;
	struct sp_s3_source src = sp_s3_source_of_stage(st);
	struct sp_s3_config cfg;
	struct sp_s3 *cli = NULL;
	struct check_step *s = step(c, "credentials");

	if (sp_s3_config_resolve(&src, &cfg, s->detail, sizeof(s->detail))) {
		snprintf(s->hint, sizeof(s->hint),
			 "set what the stage names (%s), or `spate stage "
			 "alter %s` its credentials or endpoint",
			 cred, st->name);
		return;
	}
	snprintf(c->region, sizeof(c->region), "%s", cfg.region);
	if (cfg.endpoint)
		snprintf(c->where, sizeof(c->where), "%s", cfg.endpoint);
	else
		snprintf(c->where, sizeof(c->where),
			 "AWS (https://s3.%s.amazonaws.com)", cfg.region);
	s->ok = true;
	snprintf(s->detail, sizeof(s->detail), "%s",
		 cfg.key_id ? cfg.source : "none: requests go unsigned");
	/* a check answers soon: one retry, not a run's five */
	cfg.retries = 1;
	cfg.timeout_ms = 10000;
	int rc = sp_s3_create(&cfg, &cli);
	sp_s3_config_fini(&cfg);
	s = step(c, "list");
	if (rc) {
		snprintf(s->detail, sizeof(s->detail),
			 "cannot start the S3 client: %s", strerror(-rc));
		return;
	}
	const char *p = st->path ? st->path : "";
	size_t pl = strlen(p);
	char *prefix;
	if (asprintf(&prefix, "%s%s", p, pl && p[pl - 1] != '/' ? "/" : "") <
	    0) {
		sp_s3_destroy(cli);
		snprintf(s->detail, sizeof(s->detail), "out of memory");
		return;
	}
	rc = sp_s3_probe(cli, st->bucket, prefix);
	if (rc < 0) {
		s3_failed(c, s, cli, cred, "");
	} else {
		s->ok = true;
		snprintf(s->detail, sizeof(s->detail),
			 rc ? "s3://%s/%s holds keys" : "s3://%s/%s holds no "
							"key yet",
			 st->bucket, prefix);
		if (write)
			s3_write(c, cli, prefix, cred);
	}
	free(prefix);
	sp_s3_destroy(cli);
}

/* ---- output -------------------------------------------------------------- */

static void json_field(struct sp_buf *b, const char *key, const char *v)
{
	sp_buf_putc(b, ',');
	sp_json_append_string(b, key, strlen(key));
	sp_buf_putc(b, ':');
	if (v && *v)
		sp_json_append_string(b, v, strlen(v));
	else
		sp_buf_append(b, "null", 4);
}

static void print_json(const struct check *c, const char *cred, bool ok)
{
	const struct spate_catalog_stage *st = c->st;
	struct sp_buf b;
	char num[32];

	sp_buf_init(&b);
	sp_buf_append(&b, "{\"stage\":", 9);
	sp_json_append_string(&b, st->name, strlen(st->name));
	json_field(&b, "kind", spate_stage_kind_name(st->kind));
	json_field(&b, "url", st->url);
	json_field(&b, "endpoint", c->where);
	json_field(&b, "region", c->region);
	json_field(&b, "credentials", cred);
	sp_buf_append(&b, ok ? ",\"ok\":true" : ",\"ok\":false",
		      ok ? 10 : 11);
	sp_buf_append(&b, ",\"checks\":[", 11);
	for (int i = 0; i < c->n; i++) {
		const struct check_step *s = &c->steps[i];
		if (i)
			sp_buf_putc(&b, ',');
		sp_buf_append(&b, "{\"check\":", 9);
		sp_json_append_string(&b, s->name, strlen(s->name));
		sp_buf_append(&b, s->ok ? ",\"ok\":true" : ",\"ok\":false",
			      s->ok ? 10 : 11);
		json_field(&b, s->ok ? "detail" : "error", s->detail);
		if (!s->ok) {
			json_field(&b, "code", s->code);
			snprintf(num, sizeof(num), ",\"http_status\":%ld",
				 s->status);
			sp_buf_append(&b, num, strlen(num));
			json_field(&b, "hint", s->hint);
		}
		sp_buf_putc(&b, '}');
	}
	sp_buf_append(&b, "]}\n", 3);
	fwrite(b.data, 1, b.len, stdout);
	sp_buf_fini(&b);
}

static void print_text(const struct check *c, const char *cred)
{
	const struct spate_catalog_stage *st = c->st;

	printf("stage '%s' (%s, %s)", st->name, spate_stage_kind_name(st->kind),
	       st->url);
	if (st->kind == SPATE_STAGE_S3 && c->where[0])
		printf(" at %s, region %s", c->where, c->region);
	if (cred)
		printf(", credentials %s", cred);
	printf("\n");
	for (int i = 0; i < c->n; i++) {
		const struct check_step *s = &c->steps[i];
		printf("  %-11s  %s: %s\n", s->name, s->ok ? "OK" : "FAILED",
		       s->detail);
		if (s->hint[0])
			printf("  %-11s  %s\n", "", s->hint);
	}
}

int cli_stage_check(int argc, char **argv, const char *catalog)
{
	bool json = false, write = false;
	const char *pos[1];
	int npos;
	const struct cli_opt opts[] = {{"--write", NULL, &write, NULL},
				       {"--json", NULL, &json, NULL},
				       {"--catalog", &catalog, NULL, NULL},
				       {NULL, NULL, NULL, NULL}};
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, check_usage);

	if (rc >= 0)
		return rc;
	if (npos < 1) {
		fprintf(stderr, "spate: stage check needs NAME\n\n%s",
			check_usage);
		return SPATE_EXIT_USAGE;
	}
	struct spate_catalog *cat;
	struct spate_catalog_stage *st = NULL;
	char err[1024] = "";
	rc = spate_catalog_open(catalog, &cat, err, sizeof(err));
	if (rc == 0)
		rc = spate_catalog_get(cat, pos[0], &st, err, sizeof(err));
	spate_catalog_close(cat);
	if (rc) {
		fprintf(stderr, "spate: %s\n", err[0] ? err : strerror(-rc));
		return SPATE_EXIT_FAILED;
	}
	struct check c = {.st = st};
	char *cred = cli_stage_credential_source(st);
	const char *shown = cred ? cred : "the standard AWS variables or "
					  "~/.aws/credentials";
	if (!st->enabled) {
		struct check_step *s = step(&c, "enabled");
		snprintf(s->detail, sizeof(s->detail),
			 "the stage is disabled: flows refuse to use it");
		snprintf(s->hint, sizeof(s->hint),
			 "`spate stage alter %s --enable`", st->name);
	}
	if (st->kind == SPATE_STAGE_S3) {
		s3_check(&c, write, shown);
	} else {
		local_list(&c);
		if (write)
			local_write(&c);
	}
	bool ok = true;
	const struct check_step *bad = NULL;
	for (int i = 0; i < c.n; i++)
		if (!c.steps[i].ok && !bad)
			bad = &c.steps[i];
	ok = !bad;
	if (json)
		print_json(&c, cred, ok);
	else
		print_text(&c, cred);
	if (bad)
		fprintf(stderr, "spate: stage '%s' failed its check (%s%s%s)\n",
			st->name, bad->name, bad->code[0] ? ": " : "",
			bad->code);
	else if (!json)
		printf("OK\n");
	free(cred);
	spate_catalog_stage_free(st);
	return ok ? SPATE_EXIT_OK : SPATE_EXIT_FAILED;
}
