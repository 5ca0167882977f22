/*
 * End-to-end tests of the stage catalog: every `spate stage` subcommand
 * and `spate history` (output and exit code), secrets never printed,
 * flows reading and writing under a stage (paths that would leave it are
 * refused: "..", absolute, symlinks), unknown, disabled and S3 stages in
 * flows, load history across reruns with and without --force (records
 * counted exactly), the per-load error policies of file_reader
 * (on_error: continue, skip_file, abort) and `spate run --validate-only`.
 * SPATE_HOME always points into the test's own folder.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/time.h>
#include <unistd.h>

#include "support/e2e.h"

#define LIMIT_S 60

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))
#define LACKS(hay, needle)                                                     \
	cr_assert(strstr((hay), (needle)) == NULL,                             \
		  "did not expect\n%s\nin\n%s", (needle), (hay))

struct t {
	char *dir;
	char home[300];
	char *env[8];
	int nenv;
};

static void t_init(struct t *t)
{
	memset(t, 0, sizeof(*t));
	t->dir = e2e_tmpdir();
	snprintf(t->home, sizeof(t->home), "SPATE_HOME=%s/home", t->dir);
	t->env[t->nenv++] = t->home;
	t->env[t->nenv++] = "SPATE_IO=sync";
}

static void t_fini(struct t *t)
{
	e2e_rmrf(t->dir);
	free(t->dir);
}

/* spate ARGS... (NULL-terminated) in the test's folder */
static void sp(struct e2e_result *r, struct t *t, ...)
{
	const char *argv[32];
	int n = 0;
	va_list ap;

	va_start(ap, t);
	for (const char *a; n < 31 && (a = va_arg(ap, const char *));)
		argv[n++] = a;
	va_end(ap);
	argv[n] = NULL;
	e2e_run_timed(r, t->dir, (const char *const *)t->env, NULL, argv,
		      LIMIT_S);
}

static char *path_of(struct t *t, const char *name)
{
	char *p;

	cr_assert(asprintf(&p, "%s/%s", t->dir, name) > 0);
	return p;
}

static void put(struct t *t, const char *name, const char *text)
{
	free(e2e_write(t->dir, name, text, strlen(text)));
}

static void mkdir_in(struct t *t, const char *name)
{
	char *p = path_of(t, name);

	cr_assert_eq(mkdir(p, 0755), 0, "%s", p);
	free(p);
}

/* Decompressed data files of a folder under the test's folder. */
static char *read_out(struct t *t, const char *sub)
{
	size_t len;
	char *p = path_of(t, sub);
	char *text = e2e_read_dir(p, NULL, &len);

	free(p);
	cr_assert_not_null(text);
	return text;
}

static void expect_ok(struct e2e_result *r)
{
	cr_assert_eq(r->exit_code, 0, "exit %d\nstdout:\n%s\nstderr:\n%s",
		     r->exit_code, r->out, r->err);
}

static void expect_exit(struct e2e_result *r, int code)
{
	cr_assert_eq(r->exit_code, code,
		     "exit %d, expected %d\nstdout:\n%s\nstderr:\n%s",
		     r->exit_code, code, r->out, r->err);
}

/* The value after "created:     " in `stage get` output, checked to be
 * an ISO 8601 UTC time. */
static void check_created(const char *out, char *when, size_t len)
{
	const char *p = strstr(out, "\ncreated:     ");

	cr_assert_not_null(p, "%s", out);
	p += 14;
	const char *e = strchr(p, '\n');
	cr_assert_not_null(e);
	cr_assert_eq(e - p, 20, "%.*s", (int)(e - p), p);
	cr_assert(p[4] == '-' && p[7] == '-' && p[10] == 'T' && p[13] == ':' &&
			  p[16] == ':' && p[19] == 'Z',
		  "%.20s", p);
	snprintf(when, len, "%.20s", p);
}

/* ---- the subcommands ----------------------------------------------------- */

Test(catalog_cli, create_list_get_alter_drop)
{
	struct t t;
	struct e2e_result r;
	char want[2048], when[32];

	t_init(&t);
	sp(&r, &t, "stage", "create-local", "raw", "in", "--comment",
	   "daily drops", NULL);
	expect_ok(&r);
	/* a relative PATH is made absolute; the folder need not exist */
	snprintf(want, sizeof(want),
		 "created stage 'raw' (local, file://%s/in)\n", t.dir);
	cr_assert_str_eq(r.out, want);
	snprintf(want, sizeof(want),
		 "spate: note: %s/in does not exist yet; flows reading from "
		 "stage 'raw' fail until it does\n",
		 t.dir);
	cr_assert_str_eq(r.err, want);
	e2e_result_free(&r);

	/* the catalog was created, private */
	char *db = path_of(&t, "home/catalog.db");
	struct stat st;
	cr_assert_eq(stat(db, &st), 0);
	cr_assert_eq(st.st_mode & 0777, 0600);
	free(db);

	sp(&r, &t, "stage", "create-local", "raw", "/elsewhere", NULL);
	expect_exit(&r, 1);
	cr_assert_str_eq(r.out, "");
	CONTAINS(r.err, "spate: a stage named 'raw' exists already in the "
			"catalog ");
	e2e_result_free(&r);

	sp(&r, &t, "stage", "create-local", "9lives", "/x", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "bad stage name '9lives'");
	e2e_result_free(&r);

	sp(&r, &t, "stage", "create-local", "only-name", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "stage create-local needs NAME and PATH");
	e2e_result_free(&r);

	mkdir_in(&t, "out");
	sp(&r, &t, "stage", "create-local", "out", "out/./", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.err, "");
	e2e_result_free(&r);

	sp(&r, &t, "stage", "get", "raw", NULL);
	expect_ok(&r);
	check_created(r.out, when, sizeof(when));
	snprintf(want, sizeof(want),
		 "name:        raw\n"
		 "kind:        local\n"
		 "url:         file://%s/in\n"
		 "path:        %s/in\n"
		 "enabled:     yes\n"
		 "created:     %s\n"
		 "comment:     daily drops\n",
		 t.dir, t.dir, when);
	cr_assert_str_eq(r.out, want);
	e2e_result_free(&r);

	sp(&r, &t, "stage", "get", "raw", "--json", NULL);
	expect_ok(&r);
	snprintf(want, sizeof(want),
		 "{\"name\":\"raw\",\"kind\":\"local\",\"url\":\"file://%s/in\","
		 "\"path\":\"%s/in\",\"bucket\":null,\"endpoint\":null,"
		 "\"region\":null,\"credentials\":null,\"enabled\":true,"
		 "\"created\":\"%s\",\"comment\":\"daily drops\"}\n",
		 t.dir, t.dir, when);
	cr_assert_str_eq(r.out, want);
	e2e_result_free(&r);

	sp(&r, &t, "stage", "list", NULL);
	expect_ok(&r);
	{
		/* header + one line per stage, sorted by name */
		cr_assert_eq(e2e_count_lines(r.out, r.out_len), 3, "%s", r.out);
		cr_assert(!strncmp(r.out, "NAME ", 5), "%s", r.out);
		CONTAINS(r.out, "  KIND   URL");
		CONTAINS(r.out, "  ENABLED  CREATED               COMMENT\n");
		const char *l1 = strchr(r.out, '\n') + 1;
		const char *l2 = strchr(l1, '\n') + 1;
		cr_assert(!strncmp(l1, "out  ", 5), "%s", r.out);
		cr_assert(!strncmp(l2, "raw  ", 5), "%s", r.out);
		snprintf(want, sizeof(want),
			 "  local  file://%s/in   yes      %s  daily drops\n",
			 t.dir, when);
		CONTAINS(l2, want);
	}
	e2e_result_free(&r);

	sp(&r, &t, "stage", "list", "--json", NULL);
	expect_ok(&r);
	cr_assert(!strncmp(r.out, "[{\"name\":\"out\",", 15), "%s", r.out);
	CONTAINS(r.out, "},{\"name\":\"raw\",\"kind\":\"local\"");
	cr_assert_eq(e2e_count_lines(r.out, r.out_len), 1);
	e2e_result_free(&r);

	/* unknown names: exit 1 with a suggestion */
	sp(&r, &t, "stage", "get", "rwa", NULL);
	expect_exit(&r, 1);
	cr_assert_str_eq(r.out, "");
	CONTAINS(r.err, "spate: no stage 'rwa' in the catalog ");
	CONTAINS(r.err, "(did you mean 'raw'?)\n");
	e2e_result_free(&r);

	sp(&r, &t, "stage", "alter", "raw", "--disable", "--comment", "",
	   "--url", "/data/raw", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "altered stage 'raw'\n");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", "raw", NULL);
	expect_ok(&r);
	snprintf(want, sizeof(want),
		 "name:        raw\n"
		 "kind:        local\n"
		 "url:         file:///data/raw\n"
		 "path:        /data/raw\n"
		 "enabled:     no\n"
		 "created:     %s\n"
		 "comment:     \n",
		 when);
	cr_assert_str_eq(r.out, want);
	e2e_result_free(&r);

	sp(&r, &t, "stage", "alter", "raw", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "nothing to change");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "raw", "--enable", "--disable", NULL);
	expect_exit(&r, 2);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "raw", "--credentials-file", "/f", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "stage 'raw' is a local folder: it takes no "
			"credentials");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "nope", "--enable", NULL);
	expect_exit(&r, 1);
	e2e_result_free(&r);

	sp(&r, &t, "stage", "drop", "raw", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "dropped stage 'raw' (its load history "
				"stays)\n");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "drop", "raw", NULL);
	expect_exit(&r, 1);
	CONTAINS(r.err, "no stage 'raw'");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "drop", "out", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "no stages (`spate stage create-local NAME "
				"PATH` adds one)\n");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", "--json", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "[]\n");
	e2e_result_free(&r);
	sp(&r, &t, "history", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "no loads recorded\n");
	e2e_result_free(&r);
	sp(&r, &t, "history", "--json", "--flow", "x", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "[]\n");
	e2e_result_free(&r);
	t_fini(&t);
}

Test(catalog_cli, usage_errors_and_help)
{
	struct t t;
	struct e2e_result r;
	static const char *const subs[] = {"create-local", "create-s3", "list",
					   "get", "alter", "drop", "check",
					   NULL};

	t_init(&t);
	sp(&r, &t, "stage", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "usage: spate stage [--catalog PATH] COMMAND");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "lsit", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "unknown command 'lsit' (did you mean 'list'?)");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", "--jsno", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "unknown option '--jsno' (did you mean '--json'?)");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", NULL);
	expect_exit(&r, 2);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", "a", "b", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "unexpected argument 'b'");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "create-s3", "lake", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "needs NAME and --bucket");
	e2e_result_free(&r);
	sp(&r, &t, "history", "--flow", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "--flow needs a value");
	e2e_result_free(&r);

	sp(&r, &t, "stage", "--help", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "Not to be confused with `spate stages`");
	for (int i = 0; subs[i]; i++)
		CONTAINS(r.out, subs[i]);
	e2e_result_free(&r);
	for (int i = 0; subs[i]; i++) {
		char want[64];
		sp(&r, &t, "stage", subs[i], "--help", NULL);
		expect_ok(&r);
		snprintf(want, sizeof(want), "usage: spate stage %s", subs[i]);
		cr_assert(!strncmp(r.out, want, strlen(want)), "%s", r.out);
		e2e_result_free(&r);
	}
	sp(&r, &t, "history", "--help", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "usage: spate history [--flow F] [--json]");
	e2e_result_free(&r);
	sp(&r, &t, "stages", "--help", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "`spate stage`, singular, manages the stage catalog");
	e2e_result_free(&r);
	sp(&r, &t, "--help", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "  stage ...  ");
	CONTAINS(r.out, "  history  ");
	e2e_result_free(&r);
	t_fini(&t);
}

Test(catalog_cli, catalog_option_overrides_home)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	sp(&r, &t, "stage", "--catalog", "elsewhere/cat.db", "create-local",
	   "a", "/a", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "create-local", "b", "/b", "--catalog",
	   "elsewhere/cat.db", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", "--catalog=elsewhere/cat.db", "--json",
	   NULL);
	expect_ok(&r);
	CONTAINS(r.out, "\"name\":\"a\"");
	CONTAINS(r.out, "\"name\":\"b\"");
	e2e_result_free(&r);
	char *home = path_of(&t, "home/catalog.db");
	cr_assert_neq(access(home, F_OK), 0, "SPATE_HOME used anyway");
	free(home);
	sp(&r, &t, "stage", "list", NULL); /* the default one: empty */
	expect_ok(&r);
	CONTAINS(r.out, "no stages");
	e2e_result_free(&r);
	t_fini(&t);
}

/* ---- secrets ------------------------------------------------------------- */

#define KEY_SECRET "AKIAKEYVALUE0SECRET42"
#define SECRET_SECRET "wJalrXUtnFEMI/K7MDENG/bPxRfiCYSECRET42"

Test(catalog_cli, secrets_never_printed)
{
	struct t t;
	struct e2e_result r;
	char all[1 << 16] = "";
	size_t used = 0;

	t_init(&t);
	t.env[t.nenv++] = "AWS_ACCESS_KEY_ID=" KEY_SECRET;
	t.env[t.nenv++] = "AWS_SECRET_ACCESS_KEY=" SECRET_SECRET;
	t.env[t.nenv++] = "OTHER_SECRET=" SECRET_SECRET;
#define KEEP()                                                                 \
	used += (size_t)snprintf(all + used, sizeof(all) - used, "%s%s",      \
				 r.out, r.err)

	sp(&r, &t, "stage", "create-s3", "lake", "--bucket", "my-bucket",
	   "--path", "data/", "--endpoint", "http://localhost:9000",
	   "--region", "us-east-1", "--key-id-env", "AWS_ACCESS_KEY_ID",
	   "--secret-env", "AWS_SECRET_ACCESS_KEY", "--comment", "lake", NULL);
	expect_ok(&r);
	cr_assert_str_eq(r.out, "created stage 'lake' (s3, "
				"s3://my-bucket/data/)\n");
	KEEP();
	e2e_result_free(&r);

	sp(&r, &t, "stage", "get", "lake", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "\ncredentials: env:AWS_ACCESS_KEY_ID / "
			"env:AWS_SECRET_ACCESS_KEY\n");
	CONTAINS(r.out, "\nbucket:      my-bucket\n");
	CONTAINS(r.out, "\nendpoint:    http://localhost:9000\n");
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", "lake", "--json", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "\"credentials\":\"env:AWS_ACCESS_KEY_ID / "
			"env:AWS_SECRET_ACCESS_KEY\"");
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", NULL);
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "list", "--json", NULL);
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "lake", "--key-id-env",
	   "AWS_ACCESS_KEY_ID", "--secret-env", "OTHER_SECRET", NULL);
	expect_ok(&r);
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", "lake", NULL);
	CONTAINS(r.out, "credentials: env:AWS_ACCESS_KEY_ID / "
			"env:OTHER_SECRET\n");
	KEEP();
	e2e_result_free(&r);
	/* a value where a name belongs is refused, not stored */
	sp(&r, &t, "stage", "alter", "lake", "--key-id-env", SECRET_SECRET,
	   "--secret-env", "X", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "never the values");
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "lake", "--credentials-file", "creds",
	   NULL);
	expect_ok(&r);
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "stage", "get", "lake", NULL);
	{
		char want[512];
		snprintf(want, sizeof(want), "credentials: file:%s/creds\n",
			 t.dir);
		CONTAINS(r.out, want);
	}
	KEEP();
	e2e_result_free(&r);

	/* a flow on it fails, naming the stage, and prints no secret */
	put(&t, "flow.yaml",
	    "name: s3flow\nstages:\n  - id: in\n    type: file_reader\n"
	    "    stage: lake\n    path: a.jsonl\n  - id: out\n"
	    "    type: trash\n    inputs: [in]\n");
	sp(&r, &t, "run", "flow.yaml", NULL);
	expect_exit(&r, 1);
	CONTAINS(r.err, "stage 'in' (file_reader): option 'stage': cannot "
			"read credentials file ");
	CONTAINS(r.err, "/creds: No such file or directory\n");
	KEEP();
	e2e_result_free(&r);
	sp(&r, &t, "history", NULL);
	KEEP();
	e2e_result_free(&r);

	cr_assert(used > 500 && used < sizeof(all) - 1);
	LACKS(all, KEY_SECRET);
	LACKS(all, SECRET_SECRET);
	LACKS(all, "SECRET42");
	/* nor in the catalog file */
	size_t len;
	char *db_path = path_of(&t, "home/catalog.db");
	char *db = e2e_read(db_path, &len);
	cr_assert_not_null(db);
	cr_assert_null(memmem(db, len, "SECRET42", 8));
	cr_assert_not_null(memmem(db, len, "/creds", 6));
	free(db);
	free(db_path);
	t_fini(&t);
}

/* ---- flows under a stage ------------------------------------------------- */

static void make_stages(struct t *t)
{
	struct e2e_result r;
	char *in = path_of(t, "in"), *out = path_of(t, "out");

	mkdir_in(t, "in");
	mkdir_in(t, "out");
	sp(&r, t, "stage", "create-local", "raw", in, NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, t, "stage", "create-local", "dest", out, NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	free(in);
	free(out);
}

/* A flow: file_reader (stage raw, path P, extra options) -> file_writer
 * (stage dest, dir D, plain text, in order). */
static void write_flow(struct t *t, const char *file, const char *name,
		       const char *path, const char *reader_extra,
		       const char *dir)
{
	char text[2048];

	snprintf(text, sizeof(text),
		 "name: %s\n"
		 "stages:\n"
		 "  - id: in\n"
		 "    type: file_reader\n"
		 "    stage: raw\n"
		 "    path: %s\n"
		 "%s"
		 "  - id: w\n"
		 "    type: file_writer\n"
		 "    inputs: [in]\n"
		 "    stage: dest\n"
		 "    dir: %s\n"
		 "    compression: none\n"
		 "    ordered: true\n"
		 "    name: \"{run}-{seq}.{ext}\"\n",
		 name, path, reader_extra, dir);
	put(t, file, text);
}

Test(catalog_flow, reads_and_writes_under_stages)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/2024/a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	put(&t, "in/2024/b.jsonl", "{\"a\":3}\n");
	put(&t, "in/other.jsonl", "{\"a\":9}\n");
	write_flow(&t, "flow.yaml", "load", "\"2024/*.jsonl\"", "", "loaded");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	char *got = read_out(&t, "out/loaded");
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n");
	free(got);
	char *m = path_of(&t, "out/loaded/_manifest.json");
	cr_assert_eq(access(m, F_OK), 0);
	free(m);
	/* a symlink that stays inside the stage is fine */
	char *target = path_of(&t, "in/other.jsonl");
	char *link = path_of(&t, "in/2024/c.jsonl");
	cr_assert_eq(symlink(target, link), 0);
	free(target);
	free(link);
	write_flow(&t, "flow2.yaml", "load2", "2024/c.jsonl", "", "loaded2");
	sp(&r, &t, "run", "flow2.yaml", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	got = read_out(&t, "out/loaded2");
	cr_assert_str_eq(got, "{\"a\":9}\n");
	free(got);
	t_fini(&t);
}

Test(catalog_flow, paths_may_not_leave_the_stage)
{
	struct t t;
	struct e2e_result r;
	static const struct {
		const char *path, *dir, *err;
	} cases[] = {
		{"../secret.jsonl", "o1",
		 "option 'path': '../secret.jsonl' leaves stage 'raw': a path "
		 "under a stage may not contain '..'"},
		{"sub/../a.jsonl", "o2",
		 "option 'path': 'sub/../a.jsonl' leaves stage 'raw'"},
		{"/etc/hostname", "o3",
		 "option 'path': '/etc/hostname' is absolute: with `stage: raw` "
		 "a path is relative to the stage's root"},
		{"out.jsonl", "o4",
		 "option 'path': 'out.jsonl' resolves to "},
		{"\"*.jsonl\"", "o5",
		 "option 'path': 'out.jsonl' resolves to "},
		{"a.jsonl", "../escape",
		 "option 'dir': '../escape' leaves stage 'dest'"},
		{"a.jsonl", "/tmp/x",
		 "option 'dir': '/tmp/x' is absolute"},
		{"a.jsonl", "outlink/x",
		 "option 'dir': 'outlink/x' resolves to "},
	};

	t_init(&t);
	make_stages(&t);
	put(&t, "secret.jsonl", "{\"secret\":1}\n");
	put(&t, "in/a.jsonl", "{\"a\":1}\n");
	mkdir_in(&t, "in/sub");
	char *secret = path_of(&t, "secret.jsonl");
	char *link = path_of(&t, "in/out.jsonl");
	cr_assert_eq(symlink(secret, link), 0);
	free(link);
	link = path_of(&t, "out/outlink");
	cr_assert_eq(symlink(t.dir, link), 0);
	free(link);
	free(secret);
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		write_flow(&t, "flow.yaml", "esc", cases[i].path, "",
			   cases[i].dir);
		struct e2e_result v;

		/* validation refuses the flow, and run says the same */
		sp(&v, &t, "validate", "flow.yaml", NULL);
		expect_exit(&v, 2);
		sp(&r, &t, "run", "flow.yaml", "--quiet", NULL);
		expect_exit(&r, 2);
		CONTAINS(r.err, cases[i].err);
		if (strstr(cases[i].err, "resolves to "))
			CONTAINS(r.err,
				 "a symlink may not lead out of a stage");
		cr_assert_str_eq(r.out, "");
		cr_assert_str_eq(v.err, r.err);
		e2e_result_free(&r);
		e2e_result_free(&v);
	}
	/* nothing was written anywhere */
	cr_assert_eq(e2e_count_files(t.dir, NULL, true), 5); /* home in out
							      * secret flow */
	char *out = path_of(&t, "out");
	cr_assert_eq(e2e_count_files(out, NULL, true), 1); /* outlink */
	free(out);
	t_fini(&t);
}

Test(catalog_flow, unknown_disabled_and_s3_stages)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/a.jsonl", "{\"a\":1}\n");
	write_flow(&t, "flow.yaml", "f", "a.jsonl", "", "o");
	put(&t, "bad.yaml",
	    "name: f\nstages:\n  - id: in\n    type: file_reader\n"
	    "    stage: rwa\n    path: a.jsonl\n  - id: out\n    type: trash\n"
	    "    inputs: [in]\n");
	sp(&r, &t, "validate", "bad.yaml", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "bad.yaml:5: stage 'in': option 'stage': no stage "
			"'rwa' in the catalog ");
	CONTAINS(r.err, "(did you mean 'raw'?)");
	e2e_result_free(&r);
	sp(&r, &t, "run", "bad.yaml", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "nothing was run");
	e2e_result_free(&r);

	sp(&r, &t, "validate", "flow.yaml", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "dest", "--disable", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "validate", "flow.yaml", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "flow.yaml:10: stage 'w': option 'stage': stage 'dest' "
			"is disabled (`spate stage alter dest --enable` "
			"enables it)");
	e2e_result_free(&r);
	sp(&r, &t, "run", "flow.yaml", NULL);
	expect_exit(&r, 2);
	e2e_result_free(&r);
	sp(&r, &t, "stage", "alter", "dest", "--enable", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	sp(&r, &t, "run", "flow.yaml", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);

	/* --catalog reaches the flow: another catalog has no such stage */
	sp(&r, &t, "validate", "flow.yaml", "--catalog", "other.db", NULL);
	expect_exit(&r, 2);
	CONTAINS(r.err, "no stage 'raw' in the catalog other.db");
	e2e_result_free(&r);
	t_fini(&t);
}

/* ---- load history -------------------------------------------------------- */

/* Records of a flow's --json status: records_in of stage id. */
static uint64_t records_in(const char *out, const char *id)
{
	struct e2e_status st;

	cr_assert_eq(e2e_status_parse(out, &st), 0, "%s", out);
	const struct e2e_stage_status *s = e2e_status_stage(&st, id);
	cr_assert_not_null(s);
	return s->records_in;
}

/* Sets a file's mtime: a rewrite within the same second keeps it. */
static void set_mtime(struct t *t, const char *name, time_t when)
{
	char *p = path_of(t, name);
	struct timeval tv[2] = {{.tv_sec = when}, {.tv_sec = when}};

	cr_assert_eq(utimes(p, tv), 0);
	free(p);
}

static size_t history_rows(struct t *t, const char *flow)
{
	struct e2e_result r;

	sp(&r, t, "history", "--flow", flow, "--json", NULL);
	expect_ok(&r);
	size_t n = 0;
	for (const char *p = r.out; (p = strstr(p, "{\"time\":")); p++)
		n++;
	e2e_result_free(&r);
	return n;
}

/* --json carries what the text summary says about skipped files */
Test(catalog_flow, json_status_reports_skipped_files)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/a.jsonl", "{\"a\":1}\n");
	write_flow(&t, "flow.yaml", "js", "\"*.jsonl\"", "", "loaded");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "\"note\":\"1 file read, 0 skipped (loaded before)\"");
	e2e_result_free(&r);
	put(&t, "in/b.jsonl", "{\"b\":1}\n");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 1);
	CONTAINS(r.out, "\"skipped\":1,\"note\":\"1 file read, 1 skipped "
			"(loaded before)\"");
	e2e_result_free(&r);
	t_fini(&t);
}

Test(catalog_flow, load_history_across_reruns)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	put(&t, "in/b.jsonl", "{\"b\":1}\n{\"b\":2}\n{\"b\":3}\n");
	write_flow(&t, "flow.yaml", "backfill", "\"*.jsonl\"", "", "loaded");

	/* 1: everything is new */
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 5);
	cr_assert_eq(records_in(r.out, "w"), 5);
	e2e_result_free(&r);
	sp(&r, &t, "history", "--flow", "backfill", "--json", NULL);
	expect_ok(&r);
	CONTAINS(r.out, "\"flow\":\"backfill\",\"stage\":\"raw\",\"path\":"
			"\"a.jsonl\",\"size\":16,\"records\":2,");
	CONTAINS(r.out, "\"flow\":\"backfill\",\"stage\":\"raw\",\"path\":"
			"\"b.jsonl\",\"size\":24,\"records\":3,");
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "backfill"), 2);

	/* 2: a new file: only it is loaded, the others are skipped */
	put(&t, "in/c.jsonl", "{\"c\":1}\n");
	sp(&r, &t, "--log-level", "info", "run", "flow.yaml", "--workers", "1",
	   NULL);
	expect_ok(&r);
	CONTAINS(r.err, "  1 file read, 2 skipped (loaded before)\n");
	CONTAINS(r.err, "[origin:file_reader:in] a.jsonl: loaded by flow "
			"'backfill' before; skipped");
	CONTAINS(r.err, "[origin:file_reader:in] 2 of 3 files skipped: loaded "
			"before");
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "backfill"), 3);
	sp(&r, &t, "history", "--flow", "backfill", "--json", NULL);
	CONTAINS(r.out, "\"path\":\"c.jsonl\",\"size\":8,\"records\":1,");
	e2e_result_free(&r);
	char *got = read_out(&t, "out/loaded");
	e2e_sort_lines(got, strlen(got));
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n{\"b\":1}\n{\"b\":2}\n"
			      "{\"b\":3}\n{\"c\":1}\n");
	free(got);

	/* 3: nothing new; the writer sees its own committed output */
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_ok(&r);
	CONTAINS(r.err, "skipped");
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "backfill"), 3);

	/* 4: same size, other content: loaded again; same content with a new
	 * mtime: still skipped */
	put(&t, "in/a.jsonl", "{\"a\":7}\n{\"a\":8}\n");
	put(&t, "in/b.jsonl", "{\"b\":1}\n{\"b\":2}\n{\"b\":3}\n");
	set_mtime(&t, "in/a.jsonl", 1500000000);
	set_mtime(&t, "in/b.jsonl", 1500000000);
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 2);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "backfill"), 4);

	/* another flow over the same stage has its own history */
	write_flow(&t, "other.yaml", "other", "\"*.jsonl\"", "", "other");
	sp(&r, &t, "run", "other.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 6);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "other"), 3);

	/* 5: --force loads everything again (and replaces the output) */
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", "--force",
	   NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 6);
	cr_assert_eq(records_in(r.out, "w"), 6);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "backfill"), 7);
	got = read_out(&t, "out/loaded");
	e2e_sort_lines(got, strlen(got));
	cr_assert_str_eq(got, "{\"a\":7}\n{\"a\":8}\n{\"b\":1}\n{\"b\":2}\n"
			      "{\"b\":3}\n{\"c\":1}\n");
	free(got);

	/* the plain listing shows every load */
	sp(&r, &t, "history", NULL);
	expect_ok(&r);
	cr_assert_eq(e2e_count_lines(r.out, r.out_len), 1 + 7 + 3);
	cr_assert(!strncmp(r.out, "TIME ", 5), "%s", r.out);
	e2e_result_free(&r);
	t_fini(&t);
}

Test(catalog_flow, failed_run_records_nothing)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/a.jsonl", "{\"a\":1}\n");
	put(&t, "flow.yaml",
	    "name: f\nstages:\n  - id: in\n    type: file_reader\n"
	    "    stage: raw\n    path: a.jsonl\n  - id: out\n"
	    "    type: file_writer\n    inputs: [in]\n    dir: out\n"
	    "    format: csv\n"
	    "    on_record_error: stop\n");
	/* the CSV writer refuses a record whose columns change */
	put(&t, "in/a.jsonl", "{\"a\":1}\n{\"b\":2}\n");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_exit(&r, 1);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "f"), 0);
	/* the same flow succeeding records it */
	put(&t, "in/a.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "f"), 1);
	t_fini(&t);
}

/* One row of `spate history --json`. */
struct load {
	char path[64], xxh64[32], run_id[32];
};

/* The JSON string value of key in p (an object's text), into out. */
static void json_text(const char *p, const char *key, char *out, size_t len)
{
	const char *v = e2e_after_key(p, key);
	size_t n = 0;

	cr_assert(v && *v == '"', "no string \"%s\" in %s", key, p);
	for (v++; *v && *v != '"' && n + 1 < len; v++)
		out[n++] = *v;
	out[n] = '\0';
}

/* The loads flow recorded, oldest first; how many (max at most). */
static size_t loads_of(struct t *t, const char *flow, struct load *v,
		       size_t max)
{
	struct e2e_result r;
	size_t n = 0;

	sp(&r, t, "history", "--flow", flow, "--json", NULL);
	expect_ok(&r);
	for (const char *p = r.out; n < max && (p = strstr(p, "{\"time\":"));
	     p++) {
		const char *end = strchr(p, '}');
		cr_assert_not_null(end, "%s", r.out);
		char *obj = strndup(p, (size_t)(end - p + 1));
		json_text(obj, "path", v[n].path, sizeof(v[n].path));
		json_text(obj, "xxh64", v[n].xxh64, sizeof(v[n].xxh64));
		json_text(obj, "run_id", v[n].run_id, sizeof(v[n].run_id));
		free(obj);
		n++;
	}
	e2e_result_free(&r);
	return n;
}

/* The run id in folder sub's manifest. */
static void manifest_run_id(struct t *t, const char *sub, char *out, size_t len)
{
	char *dir = path_of(t, sub);
	char *p = e2e_join(dir, "_manifest.json");
	char *m = e2e_read(p, NULL);

	cr_assert_not_null(m, "no manifest in %s", dir);
	json_text(m, "run_id", out, len);
	free(m);
	free(p);
	free(dir);
}

/* A run of flow.yaml (with --force when force) expected to succeed.
 * before: whether the input files in/a.jsonl and in/b.jsonl are to be
 * hashed before the run, i.e. each opened at least twice (the hash, the
 * read), or taken the hash of as the run reads them: each opened once,
 * and the log (--log-level info) does not say that the input was hashed
 * before the run. */
static void run_hashing(struct t *t, bool force, bool before)
{
	static const char *const names[] = {"a.jsonl", "b.jsonl", NULL};
	struct e2e_result r;
	char *in = path_of(t, "in");
	int w = e2e_opens_watch(in), opens[2];

	sp(&r, t, "--log-level", "info", "run", "flow.yaml",
	   force ? "--force" : NULL, NULL);
	expect_ok(&r);
	if (!before)
		LACKS(r.err, E2E_HASHED_BEFORE_OUT);
	e2e_result_free(&r);
	e2e_opens_read(w, names, opens);
	for (int i = 0; i < 2; i++)
		cr_assert(before ? opens[i] >= 2 : opens[i] == 1,
			  "%s: %d opens by a run that %s", names[i], opens[i],
			  before ? "hashes before" : "takes the id late");
	free(in);
}

/* The load history of a run that took its run id after the data (--force
 * over old input, over its output or into a new target) holds the same
 * run id and content hashes as that of a run that hashed the input
 * before it (a catalog run without --force does, to compare with the
 * history): the run id of the writer's manifest, and the XXH64 of each
 * file's bytes. */
Test(catalog_flow, late_run_id_in_the_load_history)
{
	struct t t;
	struct e2e_result r;
	struct e2e_text a = {0}, b = {0}, all = {0};
	struct load v[8];
	char run[32], again[32];

	t_init(&t);
	make_stages(&t);
	for (int i = 0; i < 3000; i++)
		e2e_text_printf(&a, "{\"a\":%d,\"pad\":\"%0*d\"}\n", i, i % 90,
				0);
	for (int i = 0; i < 7; i++)
		e2e_text_printf(&b, "{\"b\":%d}\n", i);
	put(&t, "in/a.jsonl", a.p);
	put(&t, "in/b.jsonl", b.p);
	e2e_text_add(&all, a.p, a.len);
	e2e_text_add(&all, b.p, b.len);
	e2e_age(t.dir, "in/a.jsonl");
	e2e_age(t.dir, "in/b.jsonl");
	char xa[32], xb[32];
	snprintf(xa, sizeof(xa), "%016llx",
		 (unsigned long long)e2e_xxh64(a.p, a.len));
	snprintf(xb, sizeof(xb), "%016llx",
		 (unsigned long long)e2e_xxh64(b.p, b.len));
	put(&t, "flow.yaml",
	    "name: late\n"
	    "stages:\n"
	    "  - {id: in, type: file_reader, stage: raw, path: \"*.jsonl\"}\n"
	    "  - {id: out, type: file_writer, inputs: [in], stage: dest, "
	    "dir: loaded, compression: none, ordered: true}\n");

	/* 1: the history compares content: hashed when the reader is made
	 * (no destination asked for it, so the log does not say so) */
	run_hashing(&t, false, true);
	manifest_run_id(&t, "out/loaded", run, sizeof(run));
	cr_assert_eq(loads_of(&t, "late", v, 8), 2);
	/* 2: --force over its own output, 3: into a new target */
	run_hashing(&t, true, false);
	char *loaded = path_of(&t, "out/loaded");
	e2e_rmrf(loaded);
	free(loaded);
	run_hashing(&t, true, false);
	manifest_run_id(&t, "out/loaded", again, sizeof(again));
	cr_assert_str_eq(again, run);
	cr_assert_eq(loads_of(&t, "late", v, 8), 6);
	for (int i = 0; i < 6; i++) {
		cr_assert_str_eq(v[i].path, i % 2 ? "b.jsonl" : "a.jsonl");
		cr_assert_str_eq(v[i].xxh64, i % 2 ? xb : xa, "load %d of %s",
				 i, v[i].path);
		cr_assert_str_eq(v[i].run_id, run, "load %d of %s", i,
				 v[i].path);
	}
	char *got = read_out(&t, "out/loaded");
	cr_assert_str_eq(got, all.p);
	free(got);

	/* 4: nothing new: skipped, nothing recorded */
	sp(&r, &t, "run", "flow.yaml", NULL);
	expect_ok(&r);
	CONTAINS(r.err, "skipped");
	e2e_result_free(&r);
	cr_assert_eq(loads_of(&t, "late", v, 8), 6);
	got = read_out(&t, "out/loaded");
	cr_assert_str_eq(got, all.p);
	free(got);
	free(a.p);
	free(b.p);
	free(all.p);
	t_fini(&t);
}

/* ---- on_error ------------------------------------------------------------ */

static void error_inputs(struct t *t)
{
	make_stages(t);
	put(t, "in/1.jsonl", "{\"a\":1}\n{\"a\":2}\n");
	put(t, "in/2.jsonl", "{\"a\":3}\nnot json\n{\"a\":4}\n");
	put(t, "in/3.jsonl", "{\"a\":5}\n");
}

Test(catalog_flow, on_error_continue)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	error_inputs(&t);
	write_flow(&t, "flow.yaml", "e", "\"*.jsonl\"",
		   "    on_error: continue\n", "o");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", NULL);
	/* the bad line is lost: no error stage keeps it */
	expect_exit(&r, 3);
	CONTAINS(r.err, "[origin:file_reader:in] 2.jsonl:2 (byte 8): ");
	CONTAINS(r.err, "  3 files read, 0 skipped (loaded before)\n");
	e2e_result_free(&r);
	char *got = read_out(&t, "out/o");
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":3}\n{\"a\":4}\n"
			      "{\"a\":5}\n");
	free(got);
	sp(&r, &t, "history", "--json", NULL);
	CONTAINS(r.out, "\"path\":\"2.jsonl\",\"size\":25,\"records\":2,");
	e2e_result_free(&r);
	t_fini(&t);
}

Test(catalog_flow, on_error_skip_file)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	error_inputs(&t);
	write_flow(&t, "flow.yaml", "e", "\"*.jsonl\"",
		   "    on_error: skip_file\n", "o");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--json", NULL);
	expect_ok(&r);
	cr_assert_eq(records_in(r.out, "in"), 3);
	struct e2e_status st;
	cr_assert_eq(e2e_status_parse(r.out, &st), 0, "%s", r.out);
	const struct e2e_stage_status *in = e2e_status_stage(&st, "in");
	cr_assert_not_null(in);
	cr_assert_eq(in->warnings, 1, "the skipped file is the one warning");
	CONTAINS(r.err, "spate: warn: [origin:file_reader:in] on_error: "
			"skip_file: 2.jsonl not loaded: line 2 (byte 8): ");
	e2e_result_free(&r);
	char *got = read_out(&t, "out/o");
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":5}\n");
	free(got);
	/* the skipped file is not in the history: fixed, it loads next time */
	sp(&r, &t, "history", "--json", NULL);
	LACKS(r.out, "2.jsonl");
	CONTAINS(r.out, "\"path\":\"1.jsonl\"");
	CONTAINS(r.out, "\"path\":\"3.jsonl\"");
	e2e_result_free(&r);
	put(&t, "in/2.jsonl", "{\"a\":3}\n{\"a\":4}\n");
	write_flow(&t, "flow.yaml", "e", "\"*.jsonl\"",
		   "    on_error: skip_file\n", "o2");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", NULL);
	expect_ok(&r);
	CONTAINS(r.err, "  1 file read, 2 skipped (loaded before), 0 skipped "
			"(bad records)\n");
	e2e_result_free(&r);
	got = read_out(&t, "out/o2");
	cr_assert_str_eq(got, "{\"a\":3}\n{\"a\":4}\n");
	free(got);
	t_fini(&t);
}

Test(catalog_flow, on_error_skip_file_csv)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	make_stages(&t);
	put(&t, "in/1.csv", "id,amount\n1,10\n2,20\n");
	put(&t, "in/2.csv", "id,amount\n3,30\n4,lots\n5,50\n");
	put(&t, "in/3.csv", "id,cost\n6,60\n"); /* no column 'amount' */
	put(&t, "in/4.csv", "id,amount\n7,70\n");
	write_flow(&t, "flow.yaml", "csv", "\"*.csv\"",
		   "    format: csv\n    on_error: skip_file\n"
		   "    schema: [{name: id, type: int}, {name: amount, type: "
		   "int}]\n",
		   "o");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", NULL);
	expect_ok(&r);
	CONTAINS(r.err, "on_error: skip_file: 2.csv not loaded: line 3 ");
	CONTAINS(r.err, "on_error: skip_file: 3.csv not loaded: ");
	CONTAINS(r.err, "  2 files read, 0 skipped (loaded before), 2 skipped "
			"(bad records)\n");
	e2e_result_free(&r);
	char *got = read_out(&t, "out/o");
	cr_assert_str_eq(got, "{\"id\":1,\"amount\":10}\n"
			      "{\"id\":2,\"amount\":20}\n"
			      "{\"id\":7,\"amount\":70}\n");
	free(got);
	t_fini(&t);
}

Test(catalog_flow, on_error_abort)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	error_inputs(&t);
	write_flow(&t, "flow.yaml", "e", "\"*.jsonl\"",
		   "    on_error: abort\n", "o");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_exit(&r, 1);
	CONTAINS(r.err, "run failed: stage 'in' stopped at 2.jsonl:2 (byte 8): "
			"on_error: abort: ");
	e2e_result_free(&r);
	/* rolled back: nothing published, nothing recorded */
	char *o = path_of(&t, "out/o");
	cr_assert_eq(e2e_count_files(o, NULL, false), 0);
	free(o);
	cr_assert_eq(history_rows(&t, "e"), 0);
	/* without the bad file it loads */
	write_flow(&t, "flow.yaml", "e", "[1.jsonl, 3.jsonl]",
		   "    on_error: abort\n", "o");
	sp(&r, &t, "run", "flow.yaml", "--workers", "1", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	char *got = read_out(&t, "out/o");
	cr_assert_str_eq(got, "{\"a\":1}\n{\"a\":2}\n{\"a\":5}\n");
	free(got);
	t_fini(&t);
}

/* ---- --validate-only ----------------------------------------------------- */

Test(catalog_flow, validate_only)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	error_inputs(&t);
	put(&t, "in/4.jsonl", "[1]\n{\"a\":6}\n{\"a\":\n");
	/* errors stop nothing here, and abort is not applied */
	write_flow(&t, "flow.yaml", "v", "\"*.jsonl\"",
		   "    on_error: abort\n    on_record_error: stop\n", "o");
	sp(&r, &t, "run", "flow.yaml", "--validate-only", "--workers", "1",
	   "--json", NULL);
	expect_exit(&r, 1);
	CONTAINS(r.err, "spate: error: [origin:file_reader:in] 2.jsonl:2 "
			"(byte 8): ");
	CONTAINS(r.err, "spate: error: [origin:file_reader:in] 4.jsonl:1 "
			"(byte 0): ");
	CONTAINS(r.err, "spate: error: [origin:file_reader:in] 4.jsonl:3 "
			"(byte 12): ");
	CONTAINS(r.err, "spate: flow.yaml: validate-only: 3 record errors in "
			"9 records read; nothing was written\n");
	cr_assert_eq(records_in(r.out, "in"), 9);
	cr_assert_eq(records_in(r.out, "w"), 6);
	e2e_result_free(&r);
	/* nothing written, nothing recorded */
	char *out = path_of(&t, "out");
	cr_assert_eq(e2e_count_files(out, NULL, true), 0);
	free(out);
	cr_assert_eq(history_rows(&t, "v"), 0);

	/* clean input: exit 0, and still nothing written */
	write_flow(&t, "flow.yaml", "v", "[1.jsonl, 3.jsonl]", "", "o");
	sp(&r, &t, "run", "flow.yaml", "--validate-only", NULL);
	expect_ok(&r);
	CONTAINS(r.err, "validate-only: 0 record errors in 3 records read; "
			"nothing was written\n");
	e2e_result_free(&r);
	out = path_of(&t, "out");
	cr_assert_eq(e2e_count_files(out, NULL, true), 0);
	free(out);
	cr_assert_eq(history_rows(&t, "v"), 0);
	/* then the real run loads it all */
	sp(&r, &t, "run", "flow.yaml", "--quiet", NULL);
	expect_ok(&r);
	e2e_result_free(&r);
	cr_assert_eq(history_rows(&t, "v"), 2);
	t_fini(&t);
}

Test(catalog_flow, validate_only_without_catalog)
{
	struct t t;
	struct e2e_result r;

	t_init(&t);
	put(&t, "in.jsonl", "{\"a\":1}\nbad\n");
	put(&t, "flow.yaml",
	    "name: p\nstages:\n  - id: in\n    type: file_reader\n"
	    "    path: in.jsonl\n  - id: out\n    type: stdout\n"
	    "    inputs: [in]\n  - id: sh\n    type: shell\n"
	    "    event_inputs: [in]\n    command: touch ran\n");
	sp(&r, &t, "run", "flow.yaml", "--validate-only", "--quiet", NULL);
	expect_exit(&r, 1);
	cr_assert_str_eq(r.out, ""); /* stdout wrote nothing */
	CONTAINS(r.err, "[origin:file_reader:in] in.jsonl:2 (byte 8): ");
	CONTAINS(r.err, "validate-only: 1 record error in 2 records read");
	e2e_result_free(&r);
	char *ran = path_of(&t, "ran");
	cr_assert_neq(access(ran, F_OK), 0, "an executor ran");
	free(ran);
	/* no catalog is created for a flow that does not use one */
	char *home = path_of(&t, "home");
	cr_assert_neq(access(home, F_OK), 0);
	free(home);
	t_fini(&t);
}
