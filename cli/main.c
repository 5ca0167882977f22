/*
 * spate: entry point.  Dispatches to the subcommands, answers --help and
 * --version, and sets the log level from SPATE_LOG or --log-level.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "engine/log.h"

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
	"\n"
	"exit codes: 0 success, 1 the run failed, 2 bad usage or invalid flow\n";

int main(int argc, char **argv)
{
	static const char *const commands[] = {"run", "validate", "graph",
					       "stages", NULL};
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
	int sub_argc = argc - i;
	char **sub_argv = argv + i;
	if (!strcmp(cmd, "run"))
		return cli_run(sub_argc, sub_argv);
	if (!strcmp(cmd, "validate"))
		return cli_validate(sub_argc, sub_argv);
	if (!strcmp(cmd, "graph"))
		return cli_graph(sub_argc, sub_argv);
	if (!strcmp(cmd, "stages"))
		return cli_stages(sub_argc, sub_argv);
	const char *hint = cli_suggest(cmd, commands);
	if (hint)
		fprintf(stderr, "spate: unknown command '%s' (did you mean "
				"'%s'?)\n",
			cmd, hint);
	else
		fprintf(stderr, "spate: unknown command '%s'\n%s", cmd, usage);
	return SPATE_EXIT_USAGE;
}
