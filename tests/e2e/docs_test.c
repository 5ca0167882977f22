/*
 * End-to-end tests of the documentation: the stage reference of README.md
 * and doc/spate.1 equals what `spate stages --markdown` / `--man` prints
 * from the option tables (else: run scripts/gen-docs), the man page
 * formats without warnings and names every command, and every command
 * answers --help (and `spate help COMMAND`) with its usage and examples.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

#define LIMIT_S 30

#define CONTAINS(hay, needle)                                                  \
	cr_assert(strstr((hay), (needle)) != NULL, "expected\n%s\nin\n%s",     \
		  (needle), (hay))

static char *source_file(const char *name, size_t *len)
{
	char path[4096];

	snprintf(path, sizeof(path), "%s/%s", e2e_source_dir(), name);
	char *text = e2e_read(path, len);
	cr_assert_not_null(text, "cannot read %s", path);
	return text;
}

/* The text between the line `begin` and the line `end` of doc. */
static char *section(const char *doc, const char *file, const char *begin,
		     const char *end, unsigned *first_line)
{
	char b[256], e[256];

	snprintf(b, sizeof(b), "\n%s\n", begin);
	snprintf(e, sizeof(e), "\n%s\n", end);
	const char *p = strstr(doc, b);
	cr_assert_not_null(p, "%s: no line '%s'", file, begin);
	cr_assert_null(strstr(p + 1, b), "%s: two lines '%s'", file, begin);
	p += strlen(b);
	const char *q = strstr(p - 1, e);
	cr_assert_not_null(q, "%s: no line '%s' after '%s'", file, end, begin);
	*first_line = 1;
	for (const char *c = doc; c < p; c++)
		*first_line += *c == '\n';
	return strndup(p, (size_t)(q + 1 - p));
}

/* Fails at the first line that differs, showing both and the fix. */
static void assert_same(const char *file, unsigned line0, const char *have,
			const char *want)
{
	const char *h = have, *w = want;
	unsigned line = line0;

	while (*h && *w) {
		size_t hn = strcspn(h, "\n"), wn = strcspn(w, "\n");
		if (hn != wn || memcmp(h, w, hn))
			break;
		h += hn + (h[hn] == '\n');
		w += wn + (w[wn] == '\n');
		line++;
	}
	if (!*h && !*w)
		return;
	cr_assert_fail("%s:%u: the stage reference is out of date\n"
		       "-%.*s\n+%.*s\n"
		       "(- what the file has, + what the option tables give)\n"
		       "regenerate it with: SPATE_BIN=%s scripts/gen-docs",
		       file, line, (int)strcspn(h, "\n"), *h ? h : "(end)",
		       (int)strcspn(w, "\n"), *w ? w : "(end)", e2e_spate());
}

static char *generated_by(const char *cmd, const char *flag)
{
	const char *argv[] = {cmd, flag, NULL};
	struct e2e_result r;

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	cr_assert_str_eq(r.err, "");
	char *out = r.out;
	r.out = NULL;
	e2e_result_free(&r);
	return out;
}

static char *generated(const char *flag)
{
	return generated_by("stages", flag);
}

/* What `spate CMD FLAG` prints, which file must hold between its lines
 * begin and end; to free. */
static char *generated_cmd_in(const char *cmd, const char *file,
			      const char *begin, const char *end,
			      const char *flag)
{
	size_t len;
	unsigned line;
	char *doc = source_file(file, &len);
	char *have = section(doc, file, begin, end, &line);
	char *want = generated_by(cmd, flag);

	assert_same(file, line, have, want);
	free(have);
	free(doc);
	return want;
}

static char *generated_in(const char *file, const char *begin, const char *end,
			  const char *flag)
{
	return generated_cmd_in("stages", file, begin, end, flag);
}

Test(docs, function_reference_is_generated)
{
	char *md = generated_cmd_in("functions", "README.md",
				    "<!-- functions:begin -->",
				    "<!-- functions:end -->", "--markdown");
	char *man = generated_cmd_in("functions", "doc/spate.1",
				     ".\\\" functions:begin",
				     ".\\\" functions:end", "--man");

	CONTAINS(md, "| `time:format(millis, pattern) -> string` | ");
	CONTAINS(man, ".TP\n.B str:toUpper(string) -> string\n");
	free(md);
	free(man);
}

Test(docs, readme_stage_reference_is_generated)
{
	char *want = generated_in("README.md", "<!-- stages:begin -->",
				  "<!-- stages:end -->", "--markdown");

	/* one table row per stage type, each type named once */
	cr_assert(strncmp(want, "| type | kind |", 15) == 0, "%s", want);
	CONTAINS(want, "| `file_reader` | origin | ");
	CONTAINS(want, "| `stream_selector` | processor | ");
	CONTAINS(want, "`lanes` (required)");
	CONTAINS(want, "| `trash` | destination | ");
	free(want);
}

Test(docs, man_page_stage_reference_is_generated)
{
	char *want = generated_in("doc/spate.1", ".\\\" stages:begin",
				  ".\\\" stages:end", "--man");

	CONTAINS(want, ".SS file_writer (destination)\n");
	CONTAINS(want, ".TP\n\\fBdir\\fR (string; required)\n");
	CONTAINS(want, "\\fBquote\\fR (char; default: \\(dq)\n");
	free(want);
}

Test(docs, every_stage_type_is_in_the_reference)
{
	static const char *const argv[] = {"stages", NULL};
	struct e2e_result r;
	char *md = generated("--markdown");
	char *man = generated("--man");

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0);
	int n = 0;
	char *save = NULL;
	for (char *l = strtok_r(r.out, "\n", &save); l;
	     l = strtok_r(NULL, "\n", &save), n++) {
		char type[64], kind[32], want[160];
		cr_assert_eq(sscanf(l, "%63s %31s", type, kind), 2, "%s", l);
		snprintf(want, sizeof(want), "| `%s` | %s | ", type, kind);
		CONTAINS(md, want);
		snprintf(want, sizeof(want), ".SS %s (%s)\n", type, kind);
		CONTAINS(man, want);
	}
	cr_assert_geq(n, 10);
	cr_assert_eq(e2e_count_lines(md, strlen(md)), (size_t)n + 2);
	e2e_result_free(&r);
	free(md);
	free(man);
}

Test(docs, man_page_formats_cleanly_and_names_every_command)
{
	size_t len;
	char *man = source_file("doc/spate.1", &len);
	static const char *const argv[] = {"--help", NULL};
	struct e2e_result r;

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0);
	const char *p = strstr(r.out, "\ncommands:\n");
	cr_assert_not_null(p);
	int n = 0;
	for (p = strchr(p + 1, '\n') + 1; strncmp(p, "  ", 2) == 0;
	     p = strchr(p, '\n') + 1) {
		char cmd[32], want[64];
		if (p[2] == ' ')
			continue; /* a continued description */
		cr_assert_eq(sscanf(p, " %31s", cmd), 1);
		snprintf(want, sizeof(want), ".B spate %s", cmd);
		CONTAINS(man, want);
		n++;
	}
	cr_assert_geq(n, 6);
	e2e_result_free(&r);

	if (system("command -v groff >/dev/null 2>&1") != 0) {
		free(man);
		cr_skip_test("groff not installed");
	}
	char cmd[4200];
	snprintf(cmd, sizeof(cmd), "groff -man -ww -z '%s/doc/spate.1' 2>&1",
		 e2e_source_dir());
	FILE *g = popen(cmd, "r");
	cr_assert_not_null(g);
	char warn[4096];
	size_t k = fread(warn, 1, sizeof(warn) - 1, g);
	warn[k] = '\0';
	cr_assert_eq(pclose(g), 0, "%s", warn);
	cr_assert_eq(k, 0, "groff warnings:\n%s", warn);
	free(man);
}

/* ---- --help of every command ------------------------------------------- */

static const char *const commands[] = {"run",   "validate", "graph",
				       "stages", "bench",   "help",
				       "stage",  "history", NULL};

static void assert_help(const char *const *argv, const char *cmd)
{
	struct e2e_result r;
	char usage[64];

	e2e_run_timed(&r, NULL, NULL, NULL, argv, LIMIT_S);
	cr_assert_eq(r.exit_code, 0, "spate %s --help: exit %d\n%s", cmd,
		     r.exit_code, r.err);
	snprintf(usage, sizeof(usage), "usage: spate %s", cmd);
	cr_assert(strncmp(r.out, usage, strlen(usage)) == 0,
		  "spate %s --help does not start with '%s':\n%s", cmd, usage,
		  r.out);
	/* an examples block whose lines run the command */
	const char *ex = strstr(r.out, "\nexamples:\n");
	cr_assert_not_null(ex, "spate %s --help has no examples:\n%s", cmd,
			   r.out);
	snprintf(usage, sizeof(usage), "\n  spate %s", cmd);
	cr_assert_not_null(strstr(ex, usage), "no example of %s:\n%s", cmd, ex);
	cr_assert_str_eq(r.err, "");
	e2e_result_free(&r);
}

Test(help, every_command_answers_help_with_usage_and_examples)
{
	for (int i = 0; commands[i]; i++) {
		const char *a[] = {commands[i], "--help", NULL};
		const char *b[] = {commands[i], "-h", NULL};
		assert_help(a, commands[i]);
		assert_help(b, commands[i]);
	}
}

Test(help, help_command_gives_the_same_text)
{
	for (int i = 0; commands[i]; i++) {
		const char *a[] = {commands[i], "--help", NULL};
		const char *b[] = {"help", commands[i], NULL};
		struct e2e_result ra, rb;

		e2e_run_timed(&ra, NULL, NULL, NULL, a, LIMIT_S);
		e2e_run_timed(&rb, NULL, NULL, NULL, b, LIMIT_S);
		cr_assert_eq(rb.exit_code, 0);
		cr_assert_str_eq(rb.out, ra.out, "spate help %s", commands[i]);
		e2e_result_free(&ra);
		e2e_result_free(&rb);
	}
}

Test(help, help_without_command_and_with_unknown_one)
{
	static const char *const bare[] = {"help", NULL};
	static const char *const top[] = {"--help", NULL};
	static const char *const typo[] = {"help", "bnech", NULL};
	struct e2e_result r, t;

	e2e_run_timed(&r, NULL, NULL, NULL, bare, LIMIT_S);
	e2e_run_timed(&t, NULL, NULL, NULL, top, LIMIT_S);
	cr_assert_eq(r.exit_code, 0);
	cr_assert_str_eq(r.out, t.out);
	CONTAINS(t.out, "  bench [FLOW] ");
	CONTAINS(t.out, "  help COMMAND ");
	e2e_result_free(&r);
	e2e_result_free(&t);

	e2e_run_timed(&r, NULL, NULL, NULL, typo, LIMIT_S);
	cr_assert_eq(r.exit_code, 2);
	CONTAINS(r.err, "unknown command 'bnech' (did you mean 'bench'?)");
	e2e_result_free(&r);
}

/* Exit codes as README.md documents them: 2 for bad usage everywhere. */
Test(help, usage_errors_exit_2)
{
	static const char *const cases[][4] = {
	    {"run", NULL},
	    {"validate", "--bogus", "x.yaml", NULL},
	    {"graph", NULL},
	    {"graph", "x.yaml", "--bogus", NULL},
	    {"stages", "a", "b", NULL},
	    {"stages", "--bogus", NULL},
	    {"bench", "--workers-max", "0", NULL},
	    {"bench", "--records", "x", NULL},
	    {"bench", "--origin-generator", NULL},
	    {"bench", "--wokers-max", "2", NULL},
	    {"help", "nosuch", NULL},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		struct e2e_result r;
		e2e_run_timed(&r, NULL, NULL, NULL, cases[i], LIMIT_S);
		cr_assert_eq(r.exit_code, 2, "spate %s %s: exit %d\n%s",
			     cases[i][0], cases[i][1] ? cases[i][1] : "",
			     r.exit_code, r.err);
		cr_assert_neq(r.err_len, 0);
		e2e_result_free(&r);
	}
}
