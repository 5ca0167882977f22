/*
 * End-to-end tests of `spate completion bash|zsh|fish`: each script is
 * loaded into its real shell (bash: _spate called as bash calls it, with
 * COMP_WORDS and COMP_CWORD; zsh: _spate with words and CURRENT and
 * compadd replaced by a printer; fish: `complete -C`) and the completions
 * of commands, options, option values, stage types and files are compared
 * with what spate's own --help and `spate stages` list.
 */
#define _GNU_SOURCE
#include <criterion/criterion.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "support/e2e.h"

static bool have(const char *prog)
{
	char cmd[256];

	snprintf(cmd, sizeof(cmd), "command -v %s >/dev/null 2>&1", prog);
	return system(cmd) == 0;
}

/* Writes `spate completion sh` into dir/name; returns the path. */
static char *script(const char *dir, const char *sh, const char *name)
{
	struct e2e_result r;
	const char *argv[] = {"completion", sh, NULL};

	e2e_run(&r, NULL, NULL, NULL, argv);
	cr_assert_eq(r.exit_code, 0, "%s", r.err);
	char *path = e2e_write(dir, name, r.out, r.out_len);
	e2e_result_free(&r);
	return path;
}

/* The output of sh -c cmd (in the source folder), trailing space cut. */
static char *shell(const char *cmd)
{
	char *full;

	cr_assert(asprintf(&full, "cd '%s' && %s", e2e_source_dir(), cmd) > 0);
	FILE *p = popen(full, "r");
	cr_assert_not_null(p);
	size_t len = 0, cap = 1 << 16;
	char *out = malloc(cap);
	cr_assert_not_null(out);
	len = fread(out, 1, cap - 1, p);
	out[len] = '\0';
	cr_assert_eq(pclose(p), 0, "%s failed:\n%s", full, out);
	free(full);
	while (len && (out[len - 1] == ' ' || out[len - 1] == '\n'))
		out[--len] = '\0';
	return out;
}

/* The first word of each line of `spate ARGS` after the line "after"
 * (NULL: from the start) up to an empty line, space-separated. */
static char *first_words(const char *const *argv, const char *after)
{
	struct e2e_result r;

	e2e_run(&r, NULL, NULL, NULL, argv);
	cr_assert_eq(r.exit_code, 0);
	char *p = r.out, *out = calloc(1, r.out_len + 1);
	if (after) {
		p = strstr(r.out, after);
		cr_assert_not_null(p);
		p += strlen(after);
	}
	for (; *p && *p != '\n'; p = strchr(p, '\n') + 1) {
		p += strspn(p, " ");
		size_t n = strcspn(p, " \n");
		sprintf(out + strlen(out), "%s%.*s", *out ? " " : "", (int)n, p);
		if (!strchr(p, '\n'))
			break;
	}
	e2e_result_free(&r);
	return out;
}

struct want {
	const char *words; /* after "spate", space-separated; "" ends in "" */
	const char *got;
};

static char *commands_of_help(void)
{
	const char *argv[] = {"--help", NULL};
	return first_words(argv, "commands:\n");
}

static char *stage_types(void)
{
	const char *argv[] = {"stages", NULL};
	return first_words(argv, NULL);
}

/* the same cases for every shell; fish orders the candidates */
static const struct want cases[] = {
	{"ru", "run"},
	{"run --w", "--workers"},
	{"run --log-level d", "debug"},
	{"stages str", "stream_selector"},
	{"stage c", "create-local create-s3 check"},
	{"stage create-s3 --b", "--bucket"},
	{"stage --catalog x l", "list"},
	{"help st", "stages stage"},
	{"completion z", "zsh"},
	{"run examples/exp", "examples/expenses.yaml"},
	{"run --workers 2 --js", "--json"},
	{"worker --co", "--concurrency"},
	{"submit --w", "--wait"},
};

Test(completion, bash_completes_commands_options_and_stage_types)
{
	char *dir = e2e_tmpdir(), *path = script(dir, "bash", "spate.bash");
	char *cmd, *got;

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		cr_assert(asprintf(&cmd,
				   "bash -c 'source %s; COMP_WORDS=(spate %s); "
				   "COMP_CWORD=$((${#COMP_WORDS[@]}-1)); _spate; "
				   "echo ${COMPREPLY[*]}'",
				   path, cases[i].words) > 0);
		got = shell(cmd);
		cr_expect_str_eq(got, cases[i].got, "spate %s", cases[i].words);
		free(got);
		free(cmd);
	}
	/* an empty word: every command, every stage type, `--opt=` values */
	const char *empty[] = {"", "stages", "run --log-level =", NULL};
	char *want[] = {commands_of_help(), stage_types(),
			strdup("error warn info debug")};
	for (int i = 0; empty[i]; i++) {
		cr_assert(asprintf(&cmd,
				   "bash -c 'source %s; COMP_WORDS=(spate %s "
				   "\"\"); COMP_CWORD=$((${#COMP_WORDS[@]}-1)); "
				   "_spate; echo ${COMPREPLY[*]}'",
				   path, empty[i]) > 0);
		got = shell(cmd);
		cr_expect_str_eq(got, want[i], "spate %s ''", empty[i]);
		free(got);
		free(cmd);
		free(want[i]);
	}
	free(path);
	e2e_rmrf(dir);
	free(dir);
}

/* zsh's compadd, _files and compset are replaced by printers that filter
 * by the word being completed, as zsh does. */
static const char zsh_stubs[] =
	"compdef() { : }\n"
	"compadd() { [[ $1 == -- ]] && shift; local w; for w; do "
	"[[ $w == ${PREFIX}* ]] && print -rn -- \"$w \"; done; return 0 }\n"
	"_files() { print -rn -- \"$(print -r -- ${PREFIX}*) \" }\n"
	"compset() { PREFIX=${PREFIX#*=} }\n";

Test(completion, zsh_completes_the_same)
{
	if (!have("zsh"))
		cr_skip_test("zsh is not installed (scripts/deps installs it)");
	char *dir = e2e_tmpdir(), *path = script(dir, "zsh", "_spate");
	char *stubs = e2e_write(dir, "stubs.zsh", zsh_stubs, strlen(zsh_stubs));

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cmd, *got;
		cr_assert(asprintf(&cmd,
				   "zsh -fc 'source %s; source %s; "
				   "words=(spate %s); CURRENT=$#words; "
				   "PREFIX=${words[CURRENT]}; _spate'",
				   stubs, path, cases[i].words) > 0);
		got = shell(cmd);
		cr_expect_str_eq(got, cases[i].got, "spate %s", cases[i].words);
		free(got);
		free(cmd);
	}
	free(stubs);
	free(path);
	e2e_rmrf(dir);
	free(dir);
}

/* "a b c" in the order fish gives them (sorted) */
static int cmp(const void *a, const void *b)
{
	return strcmp(*(char *const *)a, *(char *const *)b);
}

static char *sorted(const char *words)
{
	char *copy = strdup(words), *v[64], *save = NULL, *out;
	size_t n = 0;

	for (char *w = strtok_r(copy, " ", &save); w && n < 64;
	     w = strtok_r(NULL, " ", &save))
		v[n++] = w;
	qsort(v, n, sizeof(v[0]), cmp);
	out = calloc(1, strlen(words) + 1);
	for (size_t i = 0; i < n; i++)
		sprintf(out + strlen(out), "%s%s", i ? " " : "", v[i]);
	free(copy);
	return out;
}

Test(completion, fish_completes_the_same)
{
	if (!have("fish"))
		cr_skip_test("fish is not installed (scripts/deps installs it)");
	char *dir = e2e_tmpdir(), *path = script(dir, "fish", "spate.fish");

	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		char *cmd, *got, *want = sorted(cases[i].got);
		/* the candidates without their descriptions */
		cr_assert(asprintf(&cmd,
				   "fish --no-config -c 'source %s; complete "
				   "-C \"spate %s\"' | cut -f1 | tr '\\n' ' '",
				   path, cases[i].words) > 0);
		got = shell(cmd);
		cr_expect_str_eq(got, want, "spate %s", cases[i].words);
		free(want);
		free(got);
		free(cmd);
	}
	free(path);
	e2e_rmrf(dir);
	free(dir);
}

Test(completion, unknown_shell_is_a_usage_error)
{
	struct e2e_result r;
	const char *argv[] = {"completion", "tcsh", NULL};

	e2e_run(&r, NULL, NULL, NULL, argv);
	cr_assert_eq(r.exit_code, 2);
	cr_assert(strstr(r.err, "spate: completion: which shell? bash, zsh or "
				"fish, not 'tcsh'") != NULL,
		  "%s", r.err);
	cr_assert_eq(r.out_len, 0);
	e2e_result_free(&r);
}
