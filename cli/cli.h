/* The spate command: shared helpers of the subcommands. */
#ifndef SPATE_CLI_CLI_H
#define SPATE_CLI_CLI_H

#include <stdbool.h>
#include <stdio.h>

#include "engine/flow.h"
#include "engine/runtime.h"

/* exit codes */
#define SPATE_EXIT_OK 0
#define SPATE_EXIT_FAILED 1
#define SPATE_EXIT_USAGE 2

int cli_run(int argc, char **argv);
int cli_validate(int argc, char **argv);
int cli_stages(int argc, char **argv);
int cli_graph(int argc, char **argv);

/* Loads path, loads its plugins, applies --set assignments and validates;
 * prints every problem to stderr.  Returns the flow or NULL (exit 2). */
struct sp_flow *cli_load_flow(const char *path, char **sets, int nsets);

/* Summary table of a finished run, for people. */
void cli_print_summary(FILE *out, const struct sp_flow *f,
		       const struct sp_run_report *rep);
/* The --json status object of DESIGN.md section 9. */
void cli_print_json(FILE *out, const struct sp_flow *f,
		    const struct sp_run_report *rep);

/* "unknown option '--wokers' (did you mean '--workers'?)" helper */
const char *cli_suggest(const char *word, const char *const *choices);

#endif
