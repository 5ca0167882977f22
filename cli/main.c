/*
 * spate: entry point.  Dispatches to the subcommands, answers --help and
 * --version (and `spate help COMMAND`), and sets the log level and format
 * from SPATE_LOG / SPATE_LOG_FORMAT or --log-level / --log-format, which
 * may stand before or after the command (as `--name value` or
 * `--name=value`, as every option of the commands).
 */
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

static const char usage_head[] =
	"usage: spate <command> [options]\n"
	"\n"
	"Moves records through a flow of stages: origins read them,\n"
	"processors change them, selectors fan them out, destinations write\n"
	"them (rolling zstd files), executors react to events.\n"
	"\n"
	"commands:\n";

static const char usage_tail[] =
	"\n"
	"global options (before or after the command):\n"
	"  --log-level L   error, warn (default), info or debug; also SPATE_LOG\n"
	"  --log-format F  text (default: timestamp, level, message) or json\n"
	"                  (one object per line); also SPATE_LOG_FORMAT\n"
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

static int help(int argc, char **argv);

/* The commands, in the order of the usage (completion and the usage are
 * made from this table). */
const struct cli_command cli_commands[] = {
	{"run", "FLOW", "run a flow file (YAML) and print a summary",
	 CLI_ARG_FILE, cli_run, NULL, NULL},
	{"validate", "FLOW", "check a flow file; print every problem",
	 CLI_ARG_FILE, cli_validate, NULL, NULL},
	{"graph", "FLOW", "print the stage graph (text or --format dot)",
	 CLI_ARG_FILE, cli_graph, NULL, NULL},
	{"stages", "[TYPE]", "list stage types, or the options of one",
	 CLI_ARG_TYPE, cli_stages, NULL, NULL},
	{"functions", "", "the functions of the expression language",
	 CLI_ARG_NONE, cli_functions, NULL, NULL},
	{"bench", "[FLOW]", "records/s for 1..N workers, without disk I/O",
	 CLI_ARG_FILE, cli_bench, NULL, NULL},
	{"stage", "...", "the stage catalog: named folders and S3 buckets",
	 CLI_ARG_NONE, cli_stage, NULL, cli_stage_commands},
	{"history", "", "files loaded from catalog stages", CLI_ARG_NONE,
	 cli_history, NULL, NULL},
	{"worker", "", "run shards of cluster jobs from NATS JetStream",
	 CLI_ARG_NONE, cli_worker, NULL, NULL},
	{"submit", "FLOW", "run a flow as a cluster job, one shard per file",
	 CLI_ARG_FILE, cli_submit, NULL, NULL},
	{"jobs", "[JOB]", "cluster jobs and their shards", CLI_ARG_NONE,
	 cli_jobs, NULL, NULL},
	{"completion", "SHELL", "shell completion for bash, zsh or fish",
	 CLI_ARG_SHELL, cli_completion, NULL, NULL},
	{"help", "COMMAND", "the options and examples of a command",
	 CLI_ARG_COMMAND, help, NULL, NULL},
	{NULL, NULL, NULL, CLI_ARG_NONE, NULL, NULL, NULL},
};

/* The options that every command takes (take_globals) */
const struct cli_global cli_globals[] = {
	{"--log-level", true, "error warn info debug"},
	{"--log-format", true, "text json"},
	{"--version", false, NULL},
	{"--help", false, NULL},
	{NULL, false, NULL},
};

static void print_usage(FILE *out)
{
	fputs(usage_head, out);
	for (const struct cli_command *c = cli_commands; c->name; c++) {
		char head[32];
		snprintf(head, sizeof(head), "%s %s", c->name, c->args);
		fprintf(out, "  %-15s %s\n", head, c->help);
	}
	fputs(usage_tail, out);
}

static const struct cli_command *find_command(const char *name)
{
	for (const struct cli_command *c = cli_commands; c->name; c++)
		if (!strcmp(c->name, name))
			return c;
	return NULL;
}

static int unknown_command(const char *cmd)
{
	const char *names[sizeof(cli_commands) / sizeof(cli_commands[0])];
	size_t n = 0;

	for (const struct cli_command *c = cli_commands; c->name; c++)
		names[n++] = c->name;
	names[n] = NULL;
	const char *hint = cli_suggest(cmd, names);
	if (hint) {
		cli_notice(SP_LOG_ERROR, "unknown command '%s' (did you mean "
					 "'%s'?)",
			   cmd, hint);
	} else {
		cli_notice(SP_LOG_ERROR, "unknown command '%s'", cmd);
		if (!sp_log_is_json())
			print_usage(stderr);
	}
	return SPATE_EXIT_USAGE;
}

static const char help_usage[] =
	"usage: spate help [COMMAND]\n\n"
	"Prints the options and examples of COMMAND (the same as `spate "
	"COMMAND --help`),\nor the list of commands without one.\n\n"
	"examples:\n  spate help run\n  spate help stages\n";

/* `spate help [COMMAND]`: the command's own --help */
static int help(int argc, char **argv)
{
	const struct cli_opt opts[] = {{NULL, NULL, NULL, NULL}};
	const char *pos[1];
	int npos;
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, help_usage);

	if (rc >= 0)
		return rc;
	if (!npos) {
		print_usage(stdout);
		return SPATE_EXIT_OK;
	}
	if (!strcmp(pos[0], "help")) {
		fputs(help_usage, stdout);
		return SPATE_EXIT_OK;
	}
	const struct cli_command *c = find_command(pos[0]);
	if (!c)
		return unknown_command(pos[0]);
	char *sub[] = {(char *)pos[0], "--help", NULL};
	return c->fn(2, sub);
}

/* Applies --log-level / --log-format value v: 0, or exit code 2. */
static int set_global(const char *name, const char *v)
{
	bool level = !strcmp(name, "--log-level");

	if (!(level ? sp_log_set_level(v) : sp_log_set_format(v)))
		return 0;
	fprintf(stderr, "spate: %s %s: use %s\n", name, v,
		level ? "error, warn, info or debug" : "text or json");
	return SPATE_EXIT_USAGE;
}

static bool is_global(const char *arg)
{
	for (const struct cli_global *g = cli_globals; g->name; g++)
		if (g->value && !strcmp(arg, g->name))
			return true;
	return false;
}

/*
 * Applies the global options wherever they stand before `--` (as `--name
 * value` or `--name=value`) and copies the other arguments to out (room
 * for argc + 1).  Returns the new count, or -(exit code) on a bad global
 * option.
 */
static int take_globals(int argc, char **argv, char **out)
{
	int n = 0;
	bool rest = false; /* after `--`: as given */

	out[n++] = argv[0];
	for (int i = 1; i < argc; i++) {
		char *a = argv[i];
		rest = rest || !strcmp(a, "--");
		size_t len = strcspn(a, "=");
		char name[16];
		if (rest || len >= sizeof(name)) {
			out[n++] = a;
			continue;
		}
		memcpy(name, a, len);
		name[len] = '\0';
		if (!is_global(name)) {
			out[n++] = a;
			continue;
		}
		const char *v = a[len] ? a + len + 1 : NULL;
		if (!v && i + 1 < argc)
			v = argv[++i];
		if (!v) {
			fprintf(stderr, "spate: %s needs a value\n", name);
			return -SPATE_EXIT_USAGE;
		}
		int rc = set_global(name, v);
		if (rc)
			return -rc;
	}
	out[n] = NULL;
	return n;
}

static int dispatch(int argc, char **argv)
{
	/* --version and --help before the command */
	int i = 1;
	for (; i < argc && argv[i][0] == '-'; i++) {
		if (!strcmp(argv[i], "--version")) {
			printf("spate %s\n", SPATE_VERSION);
			return SPATE_EXIT_OK;
		} else if (!strcmp(argv[i], "-h") || !strcmp(argv[i], "--help")) {
			print_usage(stdout);
			return SPATE_EXIT_OK;
		} else {
			const char *globals[sizeof(cli_globals) /
					    sizeof(cli_globals[0])];
			size_t n = 0;
			for (const struct cli_global *g = cli_globals; g->name;
			     g++)
				globals[n++] = g->name;
			globals[n] = NULL;
			const char *hint = cli_suggest(argv[i], globals);
			if (hint)
				cli_notice(SP_LOG_ERROR, "unknown option '%s' "
							 "(did you mean '%s'?)",
					   argv[i], hint);
			else
				cli_notice(SP_LOG_ERROR,
					   "unknown option '%s'", argv[i]);
			if (!sp_log_is_json())
				print_usage(stderr);
			return SPATE_EXIT_USAGE;
		}
	}
	if (i >= argc) {
		print_usage(stderr);
		return SPATE_EXIT_USAGE;
	}
	const char *cmd = argv[i];
	const struct cli_command *c = find_command(cmd);
	if (!c)
		return unknown_command(cmd);
	return c->fn(argc - i, argv + i);
}

/* A closed fd 0, 1 or 2 would be taken by the next file spate opens (an
 * eventfd that the stdin origin then reads, an output file that messages
 * land in): each one that is closed is opened on /dev/null first. */
static void open_std_fds(void)
{
	for (int fd = 0; fd < 3; fd++) {
		if (fcntl(fd, F_GETFD) >= 0 || errno != EBADF)
			continue;
		int got = open("/dev/null", fd ? O_WRONLY : O_RDONLY);
		if (got >= 0 && got != fd) /* lowest free: fd itself */
			close(got);
	}
}

int main(int argc, char **argv)
{
	open_std_fds();
	const char *env = getenv("SPATE_LOG");

	if (env && sp_log_set_level(env))
		fprintf(stderr, "spate: SPATE_LOG=%s is not a log level "
				"(error, warn, info, debug); using warn\n",
			env);
	env = getenv("SPATE_LOG_FORMAT");
	if (env && sp_log_set_format(env))
		fprintf(stderr, "spate: SPATE_LOG_FORMAT=%s is not a log "
				"format (text, json); using text\n",
			env);
	char **args = calloc((size_t)argc + 1, sizeof(char *));
	if (!args) {
		fputs("spate: out of memory\n", stderr);
		return SPATE_EXIT_FAILED;
	}
	int n = take_globals(argc, argv, args);
	int rc = n < 0 ? -n : dispatch(n, args);
	free(args);
	return rc;
}
