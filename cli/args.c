/*
 * Command-line arguments of the subcommands: one table of options per
 * command (with a value, a flag without one, or a repeatable value), the
 * rest positional.  `--name=value` and `--name value` are the same (main
 * splits the first form before a command sees it; both are accepted here
 * too).  Unknown options get a "did you mean" from the table.  While
 * cli_describing is set (`spate completion`), a command's table is handed
 * to it instead of being parsed.
 */
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

static int unknown_opt(const struct cli_opt *opts, const char *a,
		       const char *usage)
{
	const char *names[40];
	int k = 0;

	for (const struct cli_opt *p = opts; p->name && k < 38; p++)
		names[k++] = p->name;
	names[k++] = "--help";
	names[k] = NULL;
	const char *hint = cli_suggest(a, names);
	fprintf(stderr, "spate: unknown option '%s'", a);
	if (hint)
		fprintf(stderr, " (did you mean '%s'?)", hint);
	fprintf(stderr, "\n\n");
	fputs(usage, stderr);
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

int cli_parse_args(int argc, char **argv, const struct cli_opt *opts,
		   const char **pos, int maxpos, int *npos, const char *usage)
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
				fprintf(stderr,
					"spate: unexpected argument "
					"'%s'\n\n",
					a);
				fputs(usage, stderr);
				return SPATE_EXIT_USAGE;
			}
			pos[(*npos)++] = a;
			continue;
		}
		const char *eq = strchr(a, '=');
		const struct cli_opt *o =
		    find_opt(opts, a, eq ? (size_t)(eq - a) : strlen(a));
		if (!o)
			return unknown_opt(opts, a, usage);
		int rc = 0;
		if (o->flag) {
			if (eq) {
				fprintf(stderr, "spate: %s takes no value\n",
					o->name);
				return SPATE_EXIT_USAGE;
			}
			*o->flag = true;
		} else if (eq) {
			rc = take_value(o, eq + 1);
		} else if (i + 1 < argc) {
			rc = take_value(o, argv[++i]);
		} else {
			fprintf(stderr, "spate: %s needs a value\n", o->name);
			return SPATE_EXIT_USAGE;
		}
		if (rc)
			return rc;
	}
	return -1;
}
