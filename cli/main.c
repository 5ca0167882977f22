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
	"  functions       the functions of the expression language\n"
	"  bench [FLOW]    records/s for 1..N workers, without disk I/O\n"
	"  stage ...       the stage catalog: named local folders and S3\n"
	"                  buckets that flows read from and write to\n"
	"  history         files loaded from catalog stages\n"
	"  worker          run shards of cluster jobs from NATS JetStream\n"
	"  submit FLOW     run a flow as a cluster job, one shard per file\n"
	"  jobs [JOB]      cluster jobs and their shards\n"
	"  help COMMAND    the options and examples of a command\n"
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

struct command {
	const char *name;
	int (*fn)(int argc, char **argv);
};

static const struct command commands[] = {
	{"run", cli_run},	{"validate", cli_validate},
	{"graph", cli_graph},	{"stages", cli_stages},
	{"bench", cli_bench},	{"stage", cli_stage},
	{"history", cli_history}, {"worker", cli_worker},
	{"submit", cli_submit},	{"jobs", cli_jobs},
	{"functions", cli_functions},
	{NULL, NULL},
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
	return !strcmp(arg, "--log-level") || !strcmp(arg, "--log-format");
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
			fputs(usage, stdout);
			return SPATE_EXIT_OK;
		} else {
			const char *const globals[] = {
			    "--version", "--help", "--log-level",
			    "--log-format", NULL};
			const char *hint = cli_suggest(argv[i], globals);
			fprintf(stderr, "spate: unknown option '%s'", argv[i]);
			if (hint)
				fprintf(stderr, " (did you mean '%s'?)", hint);
			fprintf(stderr, "\n%s", usage);
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
