/*
 * spate: entry point.  Dispatches to the subcommands, answers --help and
 * --version (and `spate help COMMAND`), and sets the log level from
 * SPATE_LOG or --log-level.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

static const char usage[] =
	"usage: spate <command> [options]\n"
	"\n"
	"Moves records through a flow of stages: origins read them,\n"
	"processors change them, selectors fan them out, destinations write\n"
	"them (rolling zstd files), executors react to events.\n"
	"\n"
	"commands:\n"
	"  run FLOW        run a flow file (YAML) and print a summary\n"
	"  validate FLOW   check a flow file; print every problem\n"
	"  graph FLOW      print the stage graph (text or --format dot)\n"
	"  stages [TYPE]   list stage types, or the options of one\n"
	"  bench [FLOW]    records/s for 1..N workers, without disk I/O\n"
	"  stage ...       the stage catalog: named local folders and S3\n"
	"                  buckets that flows read from and write to\n"
	"  history         files loaded from catalog stages\n"
	"  help COMMAND    the options and examples of a command\n"
	"\n"
	"global options:\n"
	"  --log-level L   error, warn (default), info or debug; also SPATE_LOG\n"
	"  --version       print the version\n"
	"  -h, --help      this text; `spate <command> --help` for a command\n"
	"\n"
	"examples:\n"
	"  spate run examples/expenses.yaml\n"
	"  spate run flow.yaml --workers 2 --set split.mode=first_match --json\n"
	"  spate stages stream_selector\n"
	"  spate stage create-local raw /data/raw\n"
	"  spate bench --workers-max 4\n"
	"\n"
	"exit codes: 0 success, 1 the run failed, 2 bad usage or invalid flow\n";

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{"run", cli_run},	{"validate", cli_validate},
	{"graph", cli_graph},	{"stages", cli_stages},
	{"bench", cli_bench},	{"stage", cli_stage},
	{"history", cli_history}, {NULL, NULL},
};

static const struct command *find_command(const char *name)
{
	for (const struct command *c = commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int unknown_command(const char *cmd)
{
	const char *names[sizeof(commands) / sizeof(commands[0]) + 1];
	size_t n = 0;

	for (const struct command *c = commands; c->name; c++)
		names[n++] = c->name;
	names[n++] = "help";
	names[n] = NULL;
	const char *hint = cli_suggest(cmd, names);
	if (hint)
		fprintf(stderr, "spate: unknown command '%s' (did you mean "
				"'%s'?)\n",
			cmd, hint);
	else
		fprintf(stderr, "spate: unknown command '%s'\n%s", cmd, usage);
	return SPATE_EXIT_USAGE;
}

/* `spate help [COMMAND]`: the command's own --help */
static int help(int argc, char **argv)
{
	if (argc < 2) {
		fputs(usage, stdout);
		return SPATE_EXIT_OK;
	}
	if (!strcmp(argv[1], "help") || !strcmp(argv[1], "-h") ||
	    !strcmp(argv[1], "--help")) {
		printf("usage: spate help [COMMAND]\n\n"
		       "Prints the options and examples of COMMAND (the same "
		       "as `spate COMMAND --help`),\nor the list of commands "
		       "without one.\n\nexamples:\n  spate help run\n"
		       "  spate help stages\n");
		return SPATE_EXIT_OK;
	}
	const struct command *c = find_command(argv[1]);
	if (!c)
		return unknown_command(argv[1]);
	char *sub[] = {argv[1], "--help", NULL};
	return c->fn(2, sub);
}

int main(int argc, char **argv)
{
	const char *env = getenv("SPATE_LOG");

	if (env && sp_log_set_level(env))
		fprintf(stderr, "spate: SPATE_LOG=%s is not a log level "
				"(error, warn, info, debug); using warn\n",
			env);
	/* global options may come before the command */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("spate %s\n", SPATE_VERSION);
			return SPATE_EXIT_OK;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			fputs(usage, stdout);
			return SPATE_EXIT_OK;
		} else if (!strcmp(argv[i], "--log-level") && i + 1 < argc) {
			if (sp_log_set_level(argv[++i])) {
				fprintf(stderr, "spate: --log-level %s: use "
						"error, warn, info or debug\n",
					argv[i]);
				return SPATE_EXIT_USAGE;
			}
		} else {
			fprintf(stderr, "spate: unknown option '%s'\n%s",
				argv[i], usage);
			return SPATE_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		fputs(usage, stderr);
		return SPATE_EXIT_USAGE;
	}
	const char *cmd = argv[i];
	if (!strcmp(cmd, "help"))
		return help(argc - i, argv + i);
	const struct command *c = find_command(cmd);
	if (!c)
		return unknown_command(cmd);
	return c->fn(argc - i, argv + i);
}
