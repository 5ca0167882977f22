/*
 * `spate stage ...` and `spate history`: the stage catalog from the shell
 * (include/spate/catalog.h).  Also the check that `spate validate` and
 * `spate run` make of a flow's `stage:` references.  Credentials are shown
 * only as their source (env:VAR, file:PATH), never as values.
 *
 * Exit codes: 0 done, 1 failed (unknown or duplicate name, catalog
 * error), 2 bad usage (unknown option, missing or malformed argument).
 */
#define _GNU_SOURCE
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "record/json.h"
#include "spate/catalog.h"

#define CATALOG_HELP                                                           \
	"  --catalog PATH  the catalog database (default: "                    \
	"$SPATE_HOME/catalog.db,\n"                                            \
	"                  else $XDG_DATA_HOME/spate/catalog.db, else\n"       \
	"                  ~/.local/share/spate/catalog.db); created on "      \
	"first use\n"

static const char stage_usage[] =
	"usage: spate stage [--catalog PATH] COMMAND [options]\n"
	"\n"
	"The stage catalog: named locations - a local folder or an S3\n"
	"bucket and prefix - that flows use with `stage: NAME` and a path\n"
	"relative to it, plus the history of the files loaded from them\n"
	"(`spate history`).\n"
	"Not to be confused with `spate stages`, which lists the stage TYPES\n"
	"a flow is built from.\n"
	"\n"
	"commands:\n"
	"  create-local NAME PATH [--comment C]\n"
	"  create-s3 NAME --bucket B [--path P] [--endpoint URL] [--region R]\n"
	"            [--key-id-env VAR --secret-env VAR |\n"
	"            --credentials-file F]\n"
	"            [--comment C]\n"
	"  list [--json]          name, url, enabled, created, comment\n"
	"  get NAME [--json]      every setting of one stage\n"
	"  alter NAME [--url URL] [--endpoint URL] [--region R]\n"
	"            [--key-id-env VAR --secret-env VAR | --credentials-file F\n"
	"            | --default-credentials] [--comment C]\n"
	"            [--enable | --disable]\n"
	"  drop NAME              remove it (its load history stays)\n"
	"  check NAME [--write] [--json]\n"
	"                         use it: list one key (S3) or the folder;\n"
	"                         --write also writes and deletes a marker\n"
	"\n"
	"options:\n"
	CATALOG_HELP
	"\n"
	"Secrets are never stored or printed: an S3 stage keeps the NAMES of\n"
	"the environment variables holding the key id and secret, or the path\n"
	"of a credentials file.  `spate stage COMMAND --help` for one "
	"command.\n"
	"\n"
	"examples:\n"
	"  spate stage create-local raw /data/raw --comment 'daily drops'\n"
	"  spate stage list --json\n"
	"  spate stage alter raw --disable\n"
	"  spate stage check lake --write\n"
	"\n"
	"exit codes: 0 done, 1 failed (unknown or duplicate name, catalog "
	"error,\n"
	"a failed check),\n"
	"2 bad usage\n";

static const char create_local_usage[] =
	"usage: spate stage create-local NAME PATH [--comment C] "
	"[--catalog PATH]\n"
	"\n"
	"Adds a local stage called NAME rooted at the folder PATH.  A\n"
	"relative PATH is made absolute (from the current folder); the\n"
	"folder need not exist yet: a flow reading from the stage fails\n"
	"until it does, one writing to it creates it.  NAME: letters,\n"
	"digits, '_' and '-', starting with a letter.\n"
	"\n"
	"example:\n"
	"  spate stage create-local raw /data/raw --comment 'daily drops'\n";

static const char create_s3_usage[] =
	"usage: spate stage create-s3 NAME --bucket B [--path P] "
	"[--endpoint URL]\n"
	"         [--region R] [--key-id-env VAR --secret-env VAR |\n"
	"         --credentials-file F] [--comment C] [--catalog PATH]\n"
	"\n"
	"Adds an S3 (or S3-compatible) stage: bucket B, key prefix P.  The\n"
	"credentials come from the environment variables named by\n"
	"--key-id-env and --secret-env, or from the credentials file F; the\n"
	"catalog keeps these names, never the secrets; without either, the\n"
	"standard AWS variables and ~/.aws/credentials.  file_reader reads\n"
	"it with `stage: NAME`.\n"
	"\n"
	"example:\n"
	"  spate stage create-s3 lake --bucket my-bucket --path data/ \\\n"
	"      --region us-east-1 --key-id-env AWS_ACCESS_KEY_ID \\\n"
	"      --secret-env AWS_SECRET_ACCESS_KEY\n";

static const char list_usage[] =
	"usage: spate stage list [--json] [--catalog PATH]\n"
	"\n"
	"Lists the stages of the catalog: name, kind, url, enabled, created\n"
	"(UTC) and comment; --json prints an array of objects with every\n"
	"setting (as `spate stage get --json`).\n";

static const char get_usage[] =
	"usage: spate stage get NAME [--json] [--catalog PATH]\n"
	"\n"
	"Prints every setting of stage NAME; credentials as their source\n"
	"(env:VAR / env:VAR, or file:PATH), never their values.\n";

static const char alter_usage[] =
	"usage: spate stage alter NAME [--url URL] [--endpoint URL] "
	"[--region R]\n"
	"         [--key-id-env VAR --secret-env VAR | --credentials-file F |\n"
	"         --default-credentials] [--comment C] [--enable | "
	"--disable]\n"
	"         [--catalog PATH]\n"
	"\n"
	"Changes stage NAME in one transaction, checking each value as\n"
	"create-s3 does (a refused value that may hold a secret is not\n"
	"shown).  --url: a folder (or file:///folder) for a local stage,\n"
	"s3://BUCKET[/PREFIX] for an S3 one.  S3 stages only: --endpoint\n"
	"http(s)://HOST[:PORT] ('' for AWS itself), --region ('' unsets it),\n"
	"the credential source (the names of two variables, a credentials\n"
	"file, or --default-credentials: the standard AWS variables and\n"
	"~/.aws/credentials).  --comment '' removes the comment.  A disabled\n"
	"stage refuses to be used by flows.  `spate stage check NAME` then\n"
	"tells whether the stage works.\n"
	"\n"
	"example:\n"
	"  spate stage alter lake --endpoint http://minio:9000 --region "
	"eu-west-1\n";

static const char drop_usage[] =
	"usage: spate stage drop NAME [--catalog PATH]\n"
	"\n"
	"Removes stage NAME from the catalog.  Its load history stays.\n";

static const char history_usage[] =
	"usage: spate history [--flow F] [--json] [--catalog PATH]\n"
	"\n"
	"Lists the files that runs loaded from catalog stages, oldest first:\n"
	"time (UTC), flow, stage, path under the stage, size, records read,\n"
	"content hash (XXH64) and run id.  A rerun of a flow skips the files\n"
	"it already loaded (same stage, path, size and hash) unless\n"
	"`spate run --force`.\n"
	"\n"
	"options:\n"
	"  --flow F        only the loads of flow F\n"
	"  --json          an array of objects\n"
	CATALOG_HELP
	"\n"
	"examples:\n"
	"  spate history\n"
	"  spate history --flow daily-load --json\n";

/* ---- arguments ----------------------------------------------------------- */

/* -EINVAL is a bad argument (exit 2), anything else a failure (exit 1). */
static int fail(int rc, const char *err)
{
	fprintf(stderr, "spate: %s\n", err[0] ? err : strerror(-rc));
	return rc == -EINVAL ? SPATE_EXIT_USAGE : SPATE_EXIT_FAILED;
}

/* "spate stage MSG", a blank line and the usage on stderr: exit 2. */
static int usage_error(const char *usage, const char *msg)
{
	fprintf(stderr, "spate: stage %s\n\n%s", msg, usage);
	return SPATE_EXIT_USAGE;
}

static int open_catalog(const char *path, struct spate_catalog **c)
{
	char err[1024] = "";
	int rc = spate_catalog_open(path, c, err, sizeof(err));

	return rc ? fail(rc == -EINVAL ? -EIO : rc, err) : -1;
}

/* The arguments of list, get and drop: [--json] when json is not NULL,
 * [--catalog PATH] and nargs positional arguments (need names them when
 * they are missing); then the catalog, opened in *c.  Returns -1 to go
 * on, or the exit code. */
static int catalog_command(int argc, char **argv, const char *catalog,
			   bool *json, const char **pos, int nargs,
			   const char *need, const char *usage,
			   struct spate_catalog **c)
{
	struct cli_opt opts[3] = {{"--catalog", &catalog, NULL, NULL},
				  {NULL, NULL, NULL, NULL},
				  {NULL, NULL, NULL, NULL}};
	int npos;

	if (json) {
		opts[1] = opts[0];
		opts[0] = (struct cli_opt){"--json", NULL, json, NULL};
	}
	int rc = cli_parse_args(argc, argv, opts, pos, nargs, &npos, usage);
	if (rc >= 0)
		return rc;
	if (npos < nargs)
		return usage_error(usage, need);
	return open_catalog(catalog, c);
}

/* The end of create-local and create-s3 (rc, err: what creating stage
 * name gave): "created stage ..." or the error.  Closes c. */
static int report_created(struct spate_catalog *c, const char *name, int rc,
			  char *err, size_t errlen)
{
	struct spate_catalog_stage *s = NULL;
	struct stat sb;

	if (rc) {
		spate_catalog_close(c);
		return fail(rc, err);
	}
	if (spate_catalog_get(c, name, &s, err, errlen) == 0) {
		printf("created stage '%s' (%s, %s)\n", s->name,
		       spate_stage_kind_name(s->kind), s->url);
		if (s->kind == SPATE_STAGE_LOCAL && stat(s->path, &sb) < 0)
			fprintf(stderr,
				"spate: note: %s does not exist yet; "
				"flows reading from stage '%s' fail "
				"until it does\n",
				s->path, s->name);
	}
	spate_catalog_stage_free(s);
	spate_catalog_close(c);
	return SPATE_EXIT_OK;
}

/* A relative path made absolute from the current folder (malloc'd). */
static char *absolute(const char *p)
{
	char cwd[PATH_MAX];
	char *out;

	if (p[0] == '/' || !strncmp(p, "file://", 7) || !strncmp(p, "s3://", 5))
		return strdup(p);
	if (!getcwd(cwd, sizeof(cwd)) || asprintf(&out, "%s/%s", cwd, p) < 0)
		return NULL;
	return out;
}

static void utc(int64_t t, char *out, size_t len)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(out, len, "%Y-%m-%dT%H:%M:%SZ", &tm);
}

char *cli_stage_credential_source(const struct spate_catalog_stage *s)
{
	char *out = NULL;

	if (s->key_id_env && s->secret_env) {
		if (asprintf(&out, "env:%s / env:%s", s->key_id_env,
			     s->secret_env) < 0)
			out = NULL;
	} else if (s->credentials_file) {
		if (asprintf(&out, "file:%s", s->credentials_file) < 0)
			out = NULL;
	}
	return out;
}

/* ---- JSON ---------------------------------------------------------------- */

static void json_key(struct sp_buf *b, const char *key, bool first)
{
	if (!first)
		sp_buf_putc(b, ',');
	sp_json_append_string(b, key, strlen(key));
	sp_buf_putc(b, ':');
}

static void json_str_or_null(struct sp_buf *b, const char *key, const char *v)
{
	json_key(b, key, false);
	if (v)
		sp_json_append_string(b, v, strlen(v));
	else
		sp_buf_append(b, "null", 4);
}

static void json_stage(struct sp_buf *b, const struct spate_catalog_stage *s)
{
	char when[32];
	char *cred = cli_stage_credential_source(s);

	utc(s->created, when, sizeof(when));
	sp_buf_putc(b, '{');
	json_key(b, "name", true);
	sp_json_append_string(b, s->name, strlen(s->name));
	json_str_or_null(b, "kind", spate_stage_kind_name(s->kind));
	json_str_or_null(b, "url", s->url);
	json_str_or_null(b, "path", s->path);
	json_str_or_null(b, "bucket", s->bucket);
	json_str_or_null(b, "endpoint", s->endpoint);
	json_str_or_null(b, "region", s->region);
	json_str_or_null(b, "credentials", cred);
	json_key(b, "enabled", false);
	sp_buf_append(b, s->enabled ? "true" : "false", s->enabled ? 4 : 5);
	json_str_or_null(b, "created", when);
	json_str_or_null(b, "comment", s->comment);
	sp_buf_putc(b, '}');
	free(cred);
}

static void print_buf(struct sp_buf *b)
{
	sp_buf_putc(b, '\n');
	fwrite(b->data, 1, b->len, stdout);
	sp_buf_fini(b);
}

/* ---- subcommands --------------------------------------------------------- */

static int cmd_create_local(int argc, char **argv, const char *catalog)
{
	const char *comment = NULL, *pos[2];
	int npos;
	const struct cli_opt opts[] = {{"--comment", &comment, NULL, NULL},
				       {"--catalog", &catalog, NULL, NULL},
				       {NULL, NULL, NULL, NULL}};
	int rc = cli_parse_args(argc, argv, opts, pos, 2, &npos,
			    create_local_usage);

	if (rc >= 0)
		return rc;
	if (npos < 2 || !*pos[1])
		return usage_error(create_local_usage,
				   "create-local needs NAME and PATH");
	char *path = absolute(pos[1]);
	if (!path)
		return fail(-ENOMEM, "");
	struct spate_catalog *c;
	if ((rc = open_catalog(catalog, &c)) >= 0) {
		free(path);
		return rc;
	}
	char err[1024] = "";
	rc = spate_catalog_create_local(c, pos[0], path, comment, err,
					sizeof(err));
	rc = report_created(c, pos[0], rc, err, sizeof(err));
	free(path);
	return rc;
}

static int cmd_create_s3(int argc, char **argv, const char *catalog)
{
	struct spate_s3_spec spec = {0};
	const char *pos[1];
	int npos;
	const struct cli_opt opts[] = {
		{"--bucket", &spec.bucket, NULL, NULL},
		{"--path", &spec.path, NULL, NULL},
		{"--endpoint", &spec.endpoint, NULL, NULL},
		{"--region", &spec.region, NULL, NULL},
		{"--key-id-env", &spec.key_id_env, NULL, NULL},
		{"--secret-env", &spec.secret_env, NULL, NULL},
		{"--credentials-file", &spec.credentials_file, NULL, NULL},
		{"--comment", &spec.comment, NULL, NULL},
		{"--catalog", &catalog, NULL, NULL},
		{NULL, NULL, NULL, NULL}};
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, create_s3_usage);

	if (rc >= 0)
		return rc;
	if (npos < 1 || !spec.bucket)
		return usage_error(create_s3_usage,
				   "create-s3 needs NAME and --bucket");
	char *file = NULL;
	if (spec.credentials_file) {
		file = absolute(spec.credentials_file);
		if (!file)
			return fail(-ENOMEM, "");
		spec.credentials_file = file;
	}
	struct spate_catalog *c;
	if ((rc = open_catalog(catalog, &c)) >= 0) {
		free(file);
		return rc;
	}
	char err[1024] = "";
	rc = spate_catalog_create_s3(c, pos[0], &spec, err, sizeof(err));
	rc = report_created(c, pos[0], rc, err, sizeof(err));
	free(file);
	return rc;
}

static int cmd_list(int argc, char **argv, const char *catalog)
{
	bool json = false;
	struct spate_catalog *c;
	int rc = catalog_command(argc, argv, catalog, &json, NULL, 0, NULL,
				 list_usage, &c);

	if (rc >= 0)
		return rc;
	struct spate_catalog_stage *v = NULL;
	size_t n = 0;
	char err[1024] = "";
	rc = spate_catalog_list(c, &v, &n, err, sizeof(err));
	spate_catalog_close(c);
	if (rc)
		return fail(rc, err);
	if (json) {
		struct sp_buf b;
		sp_buf_init(&b);
		sp_buf_putc(&b, '[');
		for (size_t i = 0; i < n; i++) {
			if (i)
				sp_buf_putc(&b, ',');
			json_stage(&b, &v[i]);
		}
		sp_buf_putc(&b, ']');
		print_buf(&b);
	} else if (n == 0) {
		printf("no stages (`spate stage create-local NAME PATH` adds "
		       "one)\n");
	} else {
		int wn = 4, wu = 3;
		for (size_t i = 0; i < n; i++) {
			if ((int)strlen(v[i].name) > wn)
				wn = (int)strlen(v[i].name);
			if ((int)strlen(v[i].url) > wu)
				wu = (int)strlen(v[i].url);
		}
		printf("%-*s  %-5s  %-*s  %-7s  %-20s  %s\n", wn, "NAME",
		       "KIND", wu, "URL", "ENABLED", "CREATED", "COMMENT");
		for (size_t i = 0; i < n; i++) {
			char when[32];
			utc(v[i].created, when, sizeof(when));
			printf("%-*s  %-5s  %-*s  %-7s  %-20s  %s\n", wn,
			       v[i].name, spate_stage_kind_name(v[i].kind), wu,
			       v[i].url, v[i].enabled ? "yes" : "no", when,
			       v[i].comment ? v[i].comment : "");
		}
	}
	spate_catalog_stages_free(v, n);
	return SPATE_EXIT_OK;
}

static int cmd_get(int argc, char **argv, const char *catalog)
{
	bool json = false;
	const char *pos[1];
	struct spate_catalog *c;
	int rc = catalog_command(argc, argv, catalog, &json, pos, 1,
				 "get needs NAME", get_usage, &c);

	if (rc >= 0)
		return rc;
	struct spate_catalog_stage *s = NULL;
	char err[1024] = "";
	rc = spate_catalog_get(c, pos[0], &s, err, sizeof(err));
	spate_catalog_close(c);
	if (rc)
		return fail(rc, err);
	if (json) {
		struct sp_buf b;
		sp_buf_init(&b);
		json_stage(&b, s);
		print_buf(&b);
	} else {
		char when[32];
		char *cred = cli_stage_credential_source(s);
		utc(s->created, when, sizeof(when));
		printf("name:        %s\n", s->name);
		printf("kind:        %s\n", spate_stage_kind_name(s->kind));
		printf("url:         %s\n", s->url);
		if (s->kind == SPATE_STAGE_S3) {
			printf("bucket:      %s\n", s->bucket ? s->bucket : "");
			printf("path:        %s\n", s->path ? s->path : "");
			printf("endpoint:    %s\n",
			       s->endpoint ? s->endpoint : "(AWS)");
			printf("region:      %s\n",
			       s->region ? s->region : "(not set)");
			printf("credentials: %s\n",
			       cred ? cred : "(none: anonymous access)");
		} else {
			printf("path:        %s\n", s->path ? s->path : "");
		}
		printf("enabled:     %s\n", s->enabled ? "yes" : "no");
		printf("created:     %s\n", when);
		printf("comment:     %s\n", s->comment ? s->comment : "");
		free(cred);
	}
	spate_catalog_stage_free(s);
	return SPATE_EXIT_OK;
}

static int cmd_alter(int argc, char **argv, const char *catalog)
{
	struct spate_stage_change ch = {.enabled = -1};
	bool enable = false, disable = false;
	const char *pos[1];
	int npos;
	const struct cli_opt opts[] = {
		{"--url", &ch.url, NULL, NULL},
		{"--endpoint", &ch.endpoint, NULL, NULL},
		{"--region", &ch.region, NULL, NULL},
		{"--key-id-env", &ch.key_id_env, NULL, NULL},
		{"--secret-env", &ch.secret_env, NULL, NULL},
		{"--credentials-file", &ch.credentials_file, NULL, NULL},
		{"--default-credentials", NULL, &ch.default_credentials, NULL},
		{"--comment", &ch.comment, NULL, NULL},
		{"--enable", NULL, &enable, NULL},
		{"--disable", NULL, &disable, NULL},
		{"--catalog", &catalog, NULL, NULL},
		{NULL, NULL, NULL, NULL}};
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, alter_usage);

	if (rc >= 0)
		return rc;
	if (npos < 1)
		return usage_error(alter_usage, "alter needs NAME");
	if (enable && disable) {
		fprintf(stderr, "spate: --enable or --disable, not both\n");
		return SPATE_EXIT_USAGE;
	}
	if (enable || disable)
		ch.enabled = enable ? 1 : 0;
	if (ch.default_credentials &&
	    (ch.key_id_env || ch.secret_env || ch.credentials_file)) {
		fprintf(stderr, "spate: --default-credentials or a credential "
				"source, not both\n");
		return SPATE_EXIT_USAGE;
	}
	if (!ch.url && !ch.endpoint && !ch.region && !ch.key_id_env &&
	    !ch.secret_env && !ch.credentials_file &&
	    !ch.default_credentials && !ch.comment && ch.enabled < 0)
		return usage_error(alter_usage, "alter: nothing to change");
	char *url = NULL, *file = NULL;
	if ((ch.url && !(url = absolute(ch.url))) ||
	    (ch.credentials_file && !(file = absolute(ch.credentials_file)))) {
		free(url);
		return fail(-ENOMEM, "");
	}
	if (url)
		ch.url = url;
	if (file)
		ch.credentials_file = file;
	struct spate_catalog *c;
	if ((rc = open_catalog(catalog, &c)) < 0) {
		char err[1024] = "";
		rc = spate_catalog_alter(c, pos[0], &ch, err, sizeof(err));
		spate_catalog_close(c);
		if (rc)
			rc = fail(rc, err);
		else
			printf("altered stage '%s'\n", pos[0]);
	}
	free(url);
	free(file);
	return rc;
}

static int cmd_drop(int argc, char **argv, const char *catalog)
{
	const char *pos[1];
	struct spate_catalog *c;
	int rc = catalog_command(argc, argv, catalog, NULL, pos, 1,
				 "drop needs NAME", drop_usage, &c);

	if (rc >= 0)
		return rc;
	char err[1024] = "";
	rc = spate_catalog_drop(c, pos[0], err, sizeof(err));
	spate_catalog_close(c);
	if (rc)
		return fail(rc, err);
	printf("dropped stage '%s' (its load history stays)\n", pos[0]);
	return SPATE_EXIT_OK;
}

const struct cli_command cli_stage_commands[] = {
	{"create-local", "NAME PATH", "a named local folder", CLI_ARG_NONE,
	 NULL, cmd_create_local, NULL},
	{"create-s3", "NAME", "a named S3 bucket and prefix", CLI_ARG_NONE,
	 NULL, cmd_create_s3, NULL},
	{"list", "", "every stage", CLI_ARG_NONE, NULL, cmd_list, NULL},
	{"get", "NAME", "every setting of one stage", CLI_ARG_NONE, NULL,
	 cmd_get, NULL},
	{"alter", "NAME", "change a stage", CLI_ARG_NONE, NULL, cmd_alter,
	 NULL},
	{"drop", "NAME", "remove a stage", CLI_ARG_NONE, NULL, cmd_drop, NULL},
	{"check", "NAME", "test that a stage can be used", CLI_ARG_NONE, NULL,
	 cli_stage_check, NULL},
	{NULL, NULL, NULL, CLI_ARG_NONE, NULL, NULL, NULL},
};

int cli_stage(int argc, char **argv)
{
	const char *catalog = NULL;
	int i = 1;

	if (cli_describing) { /* the options before the command */
		const struct cli_opt opts[] = {{"--catalog", &catalog, NULL, NULL},
					       {NULL, NULL, NULL, NULL}};
		return cli_parse_args(1, argv, opts, NULL, 0, &i, stage_usage);
	}
	/* options before the command */
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(stage_usage, stdout);
			return SPATE_EXIT_OK;
		} else if (!strcmp(argv[i], "--catalog") && i + 1 < argc) {
			catalog = argv[++i];
		} else if (!strncmp(argv[i], "--catalog=", 10)) {
			catalog = argv[i] + 10;
		} else {
			fprintf(stderr, "spate: stage: unknown option '%s'\n\n",
				argv[i]);
			fputs(stage_usage, stderr);
			return SPATE_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fprintf(stderr, "spate: stage: which command?\n\n");
		fputs(stage_usage, stderr);
		return SPATE_EXIT_USAGE;
	}
	const char *cmd = argv[i], *names[16];
	size_t n = 0;
	for (const struct cli_command *c = cli_stage_commands; c->name; c++) {
		if (!strcmp(c->name, cmd))
			return c->sub_fn(argc - i, argv + i, catalog);
		names[n++] = c->name;
	}
	names[n] = NULL;
	const char *hint = cli_suggest(cmd, names);
	fprintf(stderr, "spate: stage: unknown command '%s'", cmd);
	if (hint)
		fprintf(stderr, " (did you mean '%s'?)", hint);
	fprintf(stderr, "; `spate stage --help` lists them\n");
	return SPATE_EXIT_USAGE;
}

/* ---- history ------------------------------------------------------------- */

int cli_history(int argc, char **argv)
{
	const char *catalog = NULL, *flow = NULL, *pos[1];
	bool json = false;
	int npos;
	const struct cli_opt opts[] = {{"--flow", &flow, NULL, NULL},
				       {"--json", NULL, &json, NULL},
				       {"--catalog", &catalog, NULL, NULL},
				       {NULL, NULL, NULL, NULL}};
	int rc = cli_parse_args(argc, argv, opts, pos, 0, &npos, history_usage);

	if (rc >= 0)
		return rc;
	struct spate_catalog *c;
	if ((rc = open_catalog(catalog, &c)) >= 0)
		return rc;
	struct spate_catalog_load *v = NULL;
	size_t n = 0;
	char err[1024] = "";
	rc = spate_catalog_history(c, flow, &v, &n, err, sizeof(err));
	spate_catalog_close(c);
	if (rc)
		return fail(rc, err);
	if (json) {
		struct sp_buf b;
		char num[96], when[32], mtime[32];
		sp_buf_init(&b);
		sp_buf_putc(&b, '[');
		for (size_t i = 0; i < n; i++) {
			utc(v[i].time, when, sizeof(when));
			utc(v[i].mtime, mtime, sizeof(mtime));
			if (i)
				sp_buf_putc(&b, ',');
			sp_buf_putc(&b, '{');
			json_key(&b, "time", true);
			sp_json_append_string(&b, when, strlen(when));
			json_str_or_null(&b, "flow", v[i].flow);
			json_str_or_null(&b, "stage", v[i].stage);
			json_str_or_null(&b, "path", v[i].path);
			snprintf(num, sizeof(num),
				 ",\"size\":%llu,\"records\":%llu",
				 (unsigned long long)v[i].size,
				 (unsigned long long)v[i].records);
			sp_buf_append(&b, num, strlen(num));
			json_str_or_null(&b, "mtime", mtime);
			snprintf(num, sizeof(num), "%016llx",
				 (unsigned long long)v[i].xxh64);
			json_str_or_null(&b, "xxh64", num);
			json_str_or_null(&b, "run_id", v[i].run_id);
			sp_buf_putc(&b, '}');
		}
		sp_buf_putc(&b, ']');
		print_buf(&b);
	} else if (n == 0) {
		if (flow)
			printf("no loads recorded for flow '%s'\n", flow);
		else
			printf("no loads recorded\n");
	} else {
		int wf = 4, ws = 5, wp = 4;
		for (size_t i = 0; i < n; i++) {
			int a = (int)strlen(v[i].flow);
			int b = (int)strlen(v[i].stage);
			int p = (int)strlen(v[i].path);
			wf = a > wf ? a : wf;
			ws = b > ws ? b : ws;
			wp = p > wp ? p : wp;
		}
		printf("%-20s  %-*s  %-*s  %-*s  %12s  %10s  %-16s  %s\n",
		       "TIME", wf, "FLOW", ws, "STAGE", wp, "PATH", "SIZE",
		       "RECORDS", "XXH64", "RUN");
		for (size_t i = 0; i < n; i++) {
			char when[32];
			utc(v[i].time, when, sizeof(when));
			printf("%-20s  %-*s  %-*s  %-*s  %12llu  %10llu  "
			       "%016llx  %s\n",
			       when, wf, v[i].flow, ws, v[i].stage, wp,
			       v[i].path, (unsigned long long)v[i].size,
			       (unsigned long long)v[i].records,
			       (unsigned long long)v[i].xxh64, v[i].run_id);
		}
	}
	spate_catalog_loads_free(v, n);
	return SPATE_EXIT_OK;
}
