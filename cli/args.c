/*
 * Command-line arguments of the subcommands: one table of options per
 * command (with a value, a flag without one, or a repeatable value), the
 * rest positional.  `--name=value` and `--name value` are the same (main
 * splits the first form before a command sees it; both are accepted here
 * too).  Unknown options get a "did you mean" from the table.  A usage
 * error is printed on stderr and, for commands whose --json status must
 * say what went wrong (run, validate), also kept as a problem.  While
 * cli_describing is set (`spate completion`), a command's table is handed
 * to it instead of being parsed.
 */
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"

static const struct cli_opt *find_opt(const struct cli_opt *opts, const char *a,
				      size_t n)
{
	for (; opts->name; opts++)
		if (strlen(opts->name) == n && !strncmp(opts->name, a, n))
			return opts;
	return NULL;
}

int cli_usage_error(struct sp_diags *d, const char *option, const char *fmt,
		    ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	cli_notice(SP_LOG_ERROR, "%s", msg);
	if (d)
		sp_diags_add(d, 0, NULL, option, "%s", msg);
	return SPATE_EXIT_USAGE;
}

/* The usage after an error; not among JSON log lines, whose reader
 * has the error line */
static void usage_text(const char *usage)
{
	if (sp_log_is_json())
		return;
	fputc('\n', stderr);
	fputs(usage, stderr);
}

static int unknown_opt(const struct cli_opt *opts, const char *a,
		       const char *usage, struct sp_diags *d)
{
	const char *names[40];
	int k = 0;

	for (const struct cli_opt *p = opts; p->name && k < 38; p++)
		names[k++] = p->name;
	names[k++] = "--help";
	names[k] = NULL;
	const char *hint = cli_suggest(a, names);
	if (hint)
		cli_usage_error(d, a, "unknown option '%s' (did you mean '%s'?)", a,
			    hint);
	else
		cli_usage_error(d, a, "unknown option '%s'", a);
	usage_text(usage);
	return SPATE_EXIT_USAGE;
}

/* Stores value v of option o: 0, or exit code 2. */
static int take_value(const struct cli_opt *o, const char *v)
{
	if (o->value) {
		*o->value = v;
		return 0;
	}
	struct cli_multi *m = o->multi;
	const char **nv = realloc(m->v, (m->n + 1) * sizeof(*nv));
	if (!nv) {
		fputs("spate: out of memory\n", stderr);
		return SPATE_EXIT_FAILED;
	}
	m->v = nv;
	m->v[m->n++] = v;
	return 0;
}

struct cli_describe *cli_describing;

int cli_parse_args_diags(int argc, char **argv, const struct cli_opt *opts,
			 const char **pos, int maxpos, int *npos,
			 const char *usage, struct sp_diags *d)
{
	*npos = 0;
	if (cli_describing) {
		cli_describing->add(cli_describing, opts);
		return SPATE_EXIT_OK;
	}
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
			fputs(usage, stdout);
			return SPATE_EXIT_OK;
		}
		if (a[0] != '-' || !a[1]) {
			if (*npos >= maxpos) {
				cli_usage_error(d, NULL,
					    "unexpected argument '%s'", a);
				usage_text(usage);
				return SPATE_EXIT_USAGE;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		const struct cli_opt *o =
		    find_opt(opts, a, eq ? (size_t)(eq - a) : strlen(a));
		if (!o)
			return unknown_opt(opts, a, usage, d);
		int rc = 0;
		if (o->flag) {
			if (eq)
				return cli_usage_error(d, o->name,
						   "%s takes no value",
						   o->name);
			*o->flag = true;
		} else if (eq) {
			rc = take_value(o, eq + 1);
		} else if (i + 1 < argc) {
			rc = take_value(o, argv[++i]);
		} else {
			return cli_usage_error(d, o->name, "%s needs a value",
					   o->name);
		}
		if (rc)
			return rc;
	}
	return -1;
}

/* Whether argv asks for JSON (--json, or a mistaken --json=...). */
static bool wants_json(int argc, char **argv)
{
	for (int i = 1; i < argc; i++)
		if (!strncmp(argv[i], "--json", 6) &&
		    (argv[i][6] == '\0' || argv[i][6] == '='))
			return true;
	return false;
}

int cli_parse_args(int argc, char **argv, const struct cli_opt *opts,
		   const char **pos, int maxpos, int *npos, const char *usage)
{
	/* a command that prints JSON answers a bad command line in JSON
	 * too (status "usage", as `spate run --json` does), besides the
	 * message and the usage on stderr */
	if (!find_opt(opts, "--json", 6) || !wants_json(argc, argv) ||
	    cli_describing)
		return cli_parse_args_diags(argc, argv, opts, pos, maxpos,
					    npos, usage, NULL);
	struct sp_diags d;
	sp_diags_init(&d, NULL);
	int rc = cli_parse_args_diags(argc, argv, opts, pos, maxpos, npos,
				      usage, &d);
	if (rc == SPATE_EXIT_USAGE)
		cli_status_json(stdout, NULL, NULL, "usage", &d);
	sp_diags_fini(&d);
	return rc;
}
