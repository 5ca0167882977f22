/*
 * Tests of the stage registry (lookup, listing, suggestions, plugin loading
 * and every rejection), of the example plugin `uppercase` run through the
 * registry, and of the built-in destinations and executors found there:
 * trash, stdout (output read back through a file on fd 1), shell (the
 * event read back from the command's environment) and pipeline_finisher.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <dlfcn.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "flow/flow.h"
#include "config/options.h"
#include "stage_api/stage.h"
#include "codec/jsonl.h"
#include "spate/spate.h"
#include "stages/registry.h"
#include "support/stage_harness.h"

/* ---- find, list, suggest ---------------------------------------------- */

static const char *const builtin_names[] = {
	"file_reader",	 "dev_data_generator", "dev_raw_data",
	"stdin",	 "field_remover",      "field_renamer",
	"field_setter",	 "filter",	       "field_type_converter",
	"stream_selector", "file_writer",      "trash",
	"stdout",	 "pipeline_finisher",  "shell",
	"sink",
	"postgres",	 "mysql",
};

#define NBUILTIN (sizeof(builtin_names) / sizeof(builtin_names[0]))
/* listed: postgres is an origin and a destination */
#define NLISTED (NBUILTIN + 1)

Test(registry, finds_every_builtin)
{
	for (size_t i = 0; i < NBUILTIN; i++) {
		const struct sp_stage_desc *d =
			sp_registry_find(builtin_names[i]);

		cr_assert_not_null(d, "%s", builtin_names[i]);
		cr_assert_str_eq(d->name, builtin_names[i]);
		cr_assert_eq(d->abi, SP_STAGE_ABI);
		cr_assert_not_null(d->options);
		cr_assert_not_null(d->help);
		cr_assert_not_null(d->create);
	}
	cr_assert_eq(sp_registry_find("filter")->kind, SP_PROCESSOR);
	cr_assert_eq(sp_registry_find("stdin")->kind, SP_ORIGIN);
	cr_assert_eq(sp_registry_find("trash")->kind, SP_DESTINATION);
	cr_assert_eq(sp_registry_find("shell")->kind, SP_EXECUTOR);
	cr_assert_null(sp_registry_find("nope"));
	cr_assert_null(sp_registry_find(""));
	cr_assert_null(sp_registry_find(NULL));
}

Test(registry, lists_by_kind_then_name)
{
	const struct sp_stage_desc *all[64];
	uint32_t n = sp_registry_list(all, 64);

	cr_assert_eq(n, NLISTED);
	cr_assert_eq(sp_registry_list(NULL, 0), NLISTED);
	for (uint32_t i = 1; i < n; i++) {
		cr_assert(all[i - 1]->kind < all[i]->kind ||
				  (all[i - 1]->kind == all[i]->kind &&
				   strcmp(all[i - 1]->name, all[i]->name) < 0),
			  "%s before %s", all[i - 1]->name, all[i]->name);
	}
	cr_assert_str_eq(all[0]->name, "dev_data_generator");
	cr_assert_str_eq(all[n - 1]->name, "shell");
	/* a short array gets the first ones */
	cr_assert_eq(sp_registry_list(all, 2), 2);
	cr_assert_str_eq(all[1]->name, "dev_raw_data");
}

/* the problems of validating yaml against the registry, one per line */
static char *validate_text(const char *yaml, struct sp_flow **fp)
{
	struct sp_diags d;
	struct sp_buf b;
	struct sp_flow *f = NULL;

	sp_diags_init(&d, "f.yaml");
	cr_assert_eq(sp_flow_load_string(yaml, "f.yaml", &f, &d), 0);
	f->shape_only = true;
	sp_flow_validate(f, sp_registry_lookup, &d);
	sp_buf_init(&b);
	for (uint32_t i = 0; i < d.n; i++) {
		sp_diag_format(&d, i, &b);
		sp_buf_putc(&b, '\n');
	}
	sp_buf_putc(&b, '\0');
	sp_diags_fini(&d);
	if (fp)
		*fp = f;
	else
		sp_flow_destroy(f);
	return (char *)b.data;
}

Test(registry, one_name_origin_and_destination)
{
	const struct sp_stage_desc *dst = sp_registry_find("postgres");
	const struct sp_stage_desc *org = sp_registry_lookup("postgres", true);
	const char *types[64];
	struct sp_flow *f;
	char *got;
	size_t n;

	cr_assert_eq(dst->kind, SP_DESTINATION);
	cr_assert_eq(org->kind, SP_ORIGIN);
	cr_assert_str_eq(org->name, "postgres");
	cr_assert_eq(sp_registry_lookup("postgres", false), dst);
	/* a name of one kind is found either way */
	cr_assert_eq(sp_registry_lookup("mysql", true)->kind, SP_DESTINATION);
	cr_assert_eq(sp_registry_lookup("stdin", false)->kind, SP_ORIGIN);

	/* in a flow the place decides: no inputs is the origin */
	got = validate_text(
	    "name: f\nstages:\n"
	    "  - {id: a, type: postgres, conninfo: 'dbname=x', "
	    "query: 'TABLE t'}\n"
	    "  - {id: b, type: postgres, inputs: [a], conninfo: 'dbname=y', "
	    "table: u}\n",
	    &f);
	cr_assert_str_eq(got, "");
	cr_assert_eq(f->stages[0]->desc, org);
	cr_assert_eq(f->stages[1]->desc, dst);
	sp_flow_destroy(f);
	free(got);

	/* a destination that forgot its inputs is told why it is an origin */
	got = validate_text("name: f\nstages:\n"
			    "  - {id: a, type: postgres, conninfo: 'dbname=x', "
			    "table: u}\n",
			    NULL);
	cr_assert(strstr(got, "f.yaml:3: stage 'a': stage type 'postgres' is "
			      "an origin when the stage has no inputs and a "
			      "destination when it has inputs; this one is "
			      "read as the origin\n"),
		  "%s", got);
	free(got);

	/* the SDK lists the name once */
	n = spate_stage_types(types, 64);
	cr_assert_eq(n, NBUILTIN);
	for (size_t i = 0, seen = 0; i < n; i++)
		cr_assert_leq(seen += !strcmp(types[i], "postgres"), 1);
}

Test(registry, suggests_close_names)
{
	cr_assert_str_eq(sp_registry_suggest("filtr"), "filter");
	cr_assert_str_eq(sp_registry_suggest("field_remove"), "field_remover");
	cr_assert_str_eq(sp_registry_suggest("stdot"), "stdout");
	cr_assert_str_eq(sp_registry_suggest("Trash"), "trash");
	cr_assert_null(sp_registry_suggest("xyzzy"));
	cr_assert_null(sp_registry_suggest("file_readerrrr"));
}

/* ---- descriptors checked on registration ------------------------------ */

struct cfg {
	int64_t n;
};

static const struct sp_option good_opts[] = {
	{.name = "n", .type = SP_OPT_INT, .offset = offsetof(struct cfg, n)},
	{0},
};

static const struct sp_option bad_opts[] = {
	{.name = "n", .type = SP_OPT_INT, .offset = 4},
	{0},
};

static const char *const modes[] = {"a", "b", NULL};
static const struct sp_option enum_opts[] = {
	{.name = "mode", .type = SP_OPT_ENUM, .choices = modes},
	{0},
};

/* struct cfg has room for the compiled program */
static const struct sp_option expr_opts[] = {
	{.name = "cond", .type = SP_OPT_EXPR},
	{0},
};

static int t_create(const void *config, const struct sp_stage_ctx *ctx,
		    void **state, char *err, size_t errlen)
{
	return 0;
}

static int t_process(void *state, void *wstate, struct sp_batch *b,
		     const uint32_t *in, uint32_t n, struct sp_selection *out)
{
	return 0;
}

/* A good processor descriptor named name; tests break one field. */
static struct sp_stage_desc proc(const char *name)
{
	return (struct sp_stage_desc){
		.abi = SP_STAGE_ABI,
		.name = name,
		.kind = SP_PROCESSOR,
		.options = good_opts,
		.config_size = sizeof(struct cfg),
		.create = t_create,
		.process = t_process,
	};
}

static struct sp_stage_desc p_ok, p_ok2;

static void init_ok(void)
{
	p_ok = proc("t_ok");
	p_ok2 = proc("t_ok2");
}

static void expect_rejected(const struct sp_stage_desc *d, int rc,
			    const char *msg)
{
	const struct sp_stage_desc *v[] = {&p_ok, d, NULL};
	char err[512] = "";

	cr_assert_eq(sp_registry_add(v, "t.so", err, sizeof(err)), rc, "%s",
		     err);
	cr_assert_str_eq(err, msg);
	/* all or nothing: the good stage of the file is not there either */
	cr_assert_null(sp_registry_find("t_ok"));
}

Test(registry, rejects_bad_descriptors, .init = init_ok)
{
	struct sp_stage_desc d;

	d = proc("t_abi0");
	d.abi = 0;
	expect_rejected(&d, -EPROTO, "plugin 't.so': stage 't_abi0' has abi 0 "
				     "(set .abi = SP_STAGE_ABI)");
	d = proc("t_abi9");
	d.abi = 9;
	expect_rejected(&d, -EPROTO,
			"plugin 't.so': stage 't_abi9' needs stage ABI 9 but "
			"this spate has ABI 4 (rebuild the plugin against this "
			"spate or upgrade spate)");
	/* ABI 2 bound expressions to their text, ABI 3 compiled */
	d = proc("t_abi2");
	d.abi = 2;
	d.options = expr_opts;
	expect_rejected(&d, -EPROTO,
			"plugin 't.so': stage 't_abi2': expression option "
			"'cond' was built for stage ABI 2, where expressions "
			"bound to their text (compiled since ABI 3): rebuild "
			"the plugin against this spate");
	/* ABI 1 bound enums to a string: such a plugin would misread one */
	d = proc("t_abi1");
	d.abi = 1;
	d.options = enum_opts;
	expect_rejected(&d, -EPROTO,
			"plugin 't.so': stage 't_abi1': enum option 'mode' was "
			"built for stage ABI 1, where enums bound to a string "
			"(an index since ABI 2): rebuild the plugin against "
			"this spate");
	d = proc("t_abi1_noenum");
	d.abi = 1;
	{
		const struct sp_stage_desc *v[] = {&d, NULL};
		char err[512] = "";

		cr_assert_eq(sp_registry_add(v, "t1.so", err, sizeof(err)), 0,
			     "%s", err);
		cr_assert_not_null(sp_registry_find("t_abi1_noenum"));
		sp_registry_reset_plugins();
	}
	d = proc("filter");
	expect_rejected(&d, -EEXIST, "plugin 't.so': stage 'filter' is "
				     "already defined (a built-in stage)");
	expect_rejected(&p_ok, -EEXIST, "plugin 't.so': stage 't_ok' is "
					"defined twice in the file");
	d = proc("Bad-Name");
	expect_rejected(&d, -EINVAL, "plugin 't.so': stage #2 has a bad name "
				     "'Bad-Name' (use [a-z0-9_], at most 64 "
				     "characters)");
	d = proc("t_noproc");
	d.process = NULL;
	expect_rejected(&d, -EINVAL, "plugin 't.so': processor 't_noproc' has "
				     "no process callback");
	d = proc("t_nocreate");
	d.create = NULL;
	expect_rejected(&d, -EINVAL, "plugin 't.so': processor 't_nocreate' "
				     "has no create callback");
	d = proc("t_origin");
	d.kind = SP_ORIGIN;
	expect_rejected(&d, -EINVAL, "plugin 't.so': origin 't_origin' has no "
				     "next callback");
	d = proc("t_noopts");
	d.options = NULL;
	expect_rejected(&d, -EINVAL, "plugin 't.so': stage 't_noopts' has no "
				     "option table (use a table holding just "
				     "{0})");
	d = proc("t_badopt");
	d.options = bad_opts;
	expect_rejected(&d, -EINVAL,
			"plugin 't.so': stage 't_badopt': option 'n' lies "
			"outside the config struct (offset 4, config_size 8)");

	const struct sp_stage_desc *none[] = {NULL};
	char err[256];
	cr_assert_eq(sp_registry_add(none, "e.so", err, sizeof(err)), -EINVAL);
	cr_assert_str_eq(err, "plugin 'e.so': defines no stages "
			      "(spate_stage_descriptors is empty)");
}

Test(registry, registers_and_forgets_plugin_stages, .init = init_ok)
{
	const struct sp_stage_desc *v[] = {&p_ok, &p_ok2, NULL};
	const struct sp_stage_desc *again[] = {&p_ok2, NULL};
	const struct sp_stage_desc *all[64];
	char err[512] = "";

	cr_assert_eq(sp_registry_add(v, "a.so", err, sizeof(err)), 0, "%s",
		     err);
	cr_assert_eq(sp_registry_find("t_ok"), &p_ok);
	cr_assert_eq(sp_registry_find("t_ok2"), &p_ok2);
	cr_assert_eq(sp_registry_list(all, 64), NLISTED + 2);
	cr_assert_str_eq(sp_registry_suggest("t_ok3"), "t_ok");
	cr_assert_eq(sp_registry_add(again, "b.so", err, sizeof(err)),
		     -EEXIST);
	cr_assert_str_eq(err, "plugin 'b.so': stage 't_ok2' is already "
			      "defined (by plugin 'a.so')");
	sp_registry_reset_plugins();
	cr_assert_null(sp_registry_find("t_ok"));
	cr_assert_eq(sp_registry_list(NULL, 0), NLISTED);
}

Test(registry, load_plugin_errors_name_the_file)
{
	char err[512] = "";

	cr_assert_eq(sp_registry_load_plugin("/nonexistent/x.so", err,
					     sizeof(err)),
		     -ENOENT);
	cr_assert(strncmp(err, "plugin '/nonexistent/x.so': cannot load it: ",
			  44) == 0,
		  "%s", err);
	cr_assert_eq(sp_registry_load_plugin("libm.so.6", err, sizeof(err)),
		     -ENOENT);
	cr_assert_str_eq(err, "plugin 'libm.so.6': it does not export "
			      "spate_stage_descriptors (a NULL-terminated "
			      "array of const struct sp_stage_desc pointers)");
}

/* ---- the example plugin ----------------------------------------------- */

Test(registry, loads_and_runs_the_uppercase_plugin)
{
	const char *dir = getenv("SPATE_BUILD_DIR");
	char path[1024], err[512] = "";
	struct stage_harness s;

	if (!dir)
		cr_skip("SPATE_BUILD_DIR is not set: the plugin's location is "
			"unknown");
	if (!dlsym(RTLD_DEFAULT, "sp_path_parse"))
		cr_skip("this test executable does not export the engine's "
			"symbols (link it with ENABLE_EXPORTS) so a plugin "
			"cannot use them");
	snprintf(path, sizeof(path), "%s/uppercase.so", dir);
	cr_assert_eq(sp_registry_load_plugin(path, err, sizeof(err)), 0, "%s",
		     err);
	const struct sp_stage_desc *d = sp_registry_find("uppercase");
	cr_assert_not_null(d);
	cr_assert_eq(d->kind, SP_PROCESSOR);
	cr_assert_eq(sp_registry_load_plugin(path, err, sizeof(err)), -EEXIST);
	char want[2200];
	snprintf(want, sizeof(want), "plugin '%s': stage 'uppercase' is "
		 "already defined (by plugin '%s')", path, path);
	cr_assert_str_eq(err, want);

	/* bind, create and run it */
	cr_assert_eq(stage_harness_open(&s, d, NULL, "fields: [/c, /n]"), 0,
		     "%s", s.err);

	static char input[] = "{\"c\":\"fr\\n\\u00e9x\",\"n\":1,\"o\":\"ab\"}\n"
			      "{\"o\":\"cd\"}\n";
	struct sp_batch *b = sp_batch_create(s.symtab);
	struct sp_jsonl_parser p;
	sp_jsonl_parser_init(&p, s.symtab);
	cr_assert_eq(sp_jsonl_parse(&p, input, strlen(input), 1, 0, b), 2);
	uint32_t in[2] = {0, 1}, idx[2];
	struct sp_selection out = {.idx = idx};
	cr_assert_eq(d->process(s.state, s.ws, b, in, 2, &out), 0);
	cr_assert_eq(out.n, 2);
	struct sp_buf buf;
	sp_buf_init(&buf);
	cr_assert_eq(sp_jsonl_encode(b, out.idx, out.n, &buf), 0);
	sp_buf_putc(&buf, '\0');
	cr_assert_str_eq(buf.data, "{\"c\":\"FR\\n\\u00e9X\",\"n\":1,"
				   "\"o\":\"ab\"}\n{\"o\":\"cd\"}\n");
	sp_buf_fini(&buf);
	sp_batch_destroy(b);
	stage_harness_close(&s);
	sp_registry_reset_plugins();
	cr_assert_null(sp_registry_find("uppercase"));
}

/* ---- destinations and executors --------------------------------------- */

/* Opens the stage registered as type (one worker, its state made). */
static int open_type(struct stage_harness *s, const char *type,
		     const char *yaml)
{
	return stage_harness_open(s, sp_registry_find(type), NULL, yaml);
}

static struct sp_batch *parse_lines(struct sp_symtab *st, const char *lines)
{
	struct sp_batch *b = sp_batch_create(st);
	struct sp_jsonl_parser p;

	sp_jsonl_parser_init(&p, st);
	cr_assert_geq(sp_jsonl_parse(&p, lines, strlen(lines), 1, 0, b), 0);
	return b;
}

Test(registry, trash_takes_everything)
{
	struct stage_harness s;
	struct sp_batch *b;
	uint32_t sel[2] = {0, 1};

	cr_assert_eq(open_type(&s, "trash", "{}"), 0);
	b = parse_lines(s.symtab, "{\"a\":1}\n{\"a\":2}\n");
	cr_assert_eq(s.desc->stage_batch(s.state, s.ws, b, sel, 2), 0);
	cr_assert_eq(s.desc->batch_end(s.state, s.ws, 0), 0);
	cr_assert_eq(b->nerrors, 0);
	sp_batch_destroy(b);
	stage_harness_close(&s);
}

/* Runs fn with fd 1 on a temporary file; returns what was written. */
static char *capture_stdout(void (*fn)(void *), void *arg)
{
	char path[] = "/tmp/spate_stdout_XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(1);
	static char text[4096];
	ssize_t n;

	cr_assert_geq(fd, 0);
	fflush(stdout);
	dup2(fd, 1);
	fn(arg);
	dup2(saved, 1);
	close(saved);
	n = pread(fd, text, sizeof(text) - 1, 0);
	cr_assert_geq(n, 0);
	text[n] = '\0';
	close(fd);
	unlink(path);
	return text;
}

struct stdout_case {
	struct stage_harness *s;
	struct sp_batch *b;
	int64_t bytes[3];
};

static void stdout_two_workers(void *arg)
{
	struct stdout_case *c = arg;
	const struct sp_stage_desc *d = c->s->desc;
	void *w1 = c->s->ws; /* worker 0's, made by the harness */
	void *w2 = d->worker_create(c->s->state, 1);
	uint32_t a[] = {0, 1}, b2[] = {2};

	cr_assert_eq(d->stage_batch(c->s->state, w1, c->b, a, 2), 0);
	cr_assert_eq(d->stage_batch(c->s->state, w2, c->b, b2, 1), 0);
	c->bytes[0] = d->batch_end(c->s->state, w2, 1);
	c->bytes[1] = d->batch_end(c->s->state, w1, 0);
	c->bytes[2] = d->batch_end(c->s->state, w1, 2);
	d->worker_destroy(c->s->state, w2);
}

/* What a stdout stage with options yaml prints for lines, staged and
 * ended by two workers out of order (stdout_two_workers); bytes get what
 * the three batch_end calls returned.  The text is capture_stdout's. */
static char *stdout_of(const char *lines, const char *yaml, int64_t *bytes)
{
	struct stage_harness s;
	struct stdout_case c = {.s = &s};
	char *out;

	cr_assert_eq(stage_harness_bind(&s, sp_registry_find("stdout"), NULL,
					yaml),
		     0, "%s", s.err);
	cr_assert_eq(stage_harness_create(&s, 2), 0, "%s", s.err);
	c.b = parse_lines(s.symtab, lines);
	out = capture_stdout(stdout_two_workers, &c);
	memcpy(bytes, c.bytes, sizeof(c.bytes));
	sp_batch_destroy(c.b);
	stage_harness_close(&s);
	return out;
}

Test(registry, stdout_writes_jsonl_per_batch)
{
	int64_t bytes[3];
	char *out = stdout_of("{\"a\":1}\n{\"a\":2, \"b\":\"x\"}\n{\"a\":3}\n",
			      "{}", bytes);

	cr_assert_str_eq(out, "{\"a\":3}\n{\"a\":1}\n{\"a\":2, \"b\":\"x\"}\n");
	cr_assert_eq(bytes[0], 8);
	cr_assert_eq(bytes[1], (int64_t)strlen("{\"a\":1}\n{\"a\":2, \"b\":\"x\"}\n"));
	cr_assert_eq(bytes[2], 0);
}

Test(registry, stdout_writes_csv_with_one_header)
{
	int64_t bytes[3];
	char *out = stdout_of("{\"a\":1,\"b c\":\"x,y\"}\n"
			      "{\"a\":2,\"b c\":null}\n"
			      "{\"a\":3,\"b c\":\"z\"}\n",
			      "format: csv", bytes);

	cr_assert_str_eq(out, "a,b c\n3,z\n1,\"x,y\"\n2,\n");
	cr_assert_eq(bytes[0], 10);
}

Test(registry, shell_runs_the_command_with_the_event)
{
	struct stage_harness s;
	char out[] = "/tmp/spate_shell_XXXXXX";
	char yaml[512], text[512];
	int fd = mkstemp(out);
	struct sp_event ev = {
		.type = "file-closed",
		.stage = "w1",
		.nfields = 3,
		.keys = {"path", "records", "odd-key"},
		.values = {"/out/a b.jsonl", "42", "v"},
	};
	ssize_t n;

	cr_assert_geq(fd, 0);
	setenv("SPATE_RECORDS", "stale", 1);
	snprintf(yaml, sizeof(yaml),
		 "command: 'printf \"%%s|%%s|%%s|%%s|%%s\" \"$SPATE_EVENT\" "
		 "\"$SPATE_STAGE\" \"$SPATE_PATH\" \"$SPATE_RECORDS\" "
		 "\"$SPATE_ODD_KEY\" > %s'",
		 out);
	cr_assert_eq(open_type(&s, "shell", yaml), 0, "%s", s.err);
	cr_assert_eq(s.desc->on_event(s.state, &ev), 0);
	n = pread(fd, text, sizeof(text) - 1, 0);
	cr_assert_geq(n, 0);
	text[n] = '\0';
	cr_assert_str_eq(text, "file-closed|w1|/out/a b.jsonl|42|v");
	stage_harness_close(&s);
	close(fd);
	unlink(out);
	unsetenv("SPATE_RECORDS");

	cr_assert_eq(open_type(&s, "shell", "command: exit 3"), 0);
	cr_assert_eq(s.desc->on_event(s.state, &ev), -EIO);
	stage_harness_close(&s);
	cr_assert_eq(open_type(&s, "shell", "command: sleep 30\ntimeout: 1"),
		     0);
	cr_assert_eq(s.desc->on_event(s.state, &ev), -ETIMEDOUT);
	stage_harness_close(&s);
}

Test(registry, pipeline_finisher_ignores_other_events)
{
	struct stage_harness s;
	struct sp_event ev = {.type = "file-closed", .stage = "w"};

	/* a matching event would stop the engine, which a unit test does
	 * not have; the stop itself is covered by the flow tests */
	cr_assert_eq(open_type(&s, "pipeline_finisher", "{}"), 0);
	cr_assert_eq(s.desc->on_event(s.state, &ev), 0);
	stage_harness_close(&s);
	cr_assert_eq(open_type(&s, "pipeline_finisher", "on: [file-closed]"),
		     0);
	ev.type = "no-more-data";
	cr_assert_eq(s.desc->on_event(s.state, &ev), 0);
	stage_harness_close(&s);
}
