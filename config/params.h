/*
 * Parameters of a flow file: ${env:NAME} (an environment variable) and
 * ${param:NAME} (given on the command line as --param NAME=VALUE), each
 * with an optional default, ${env:NAME:-DEFAULT}, expanded in the text of
 * every scalar of a configuration tree once, when the flow is loaded and
 * before it is validated.  $${ stands for a literal ${.  Other ${...}
 * (record expressions such as ${record:value("/a")}) are left as they are
 * for the stages, which evaluate them per record.
 *
 * Values taken from the environment are secrets: they are registered with
 * core/redact.h and so never printed.
 */
#ifndef SPATE_CONFIG_PARAMS_H
#define SPATE_CONFIG_PARAMS_H

#include <stddef.h>

#include "config/options.h"

/* "NAME=VALUE" assignments, in order (a later one wins). */
struct sp_params {
	const char *const *assign;
	size_t n;
};

/* Checks that each assignment has the form NAME=VALUE, NAME made of
 * letters, digits and '_' (not starting with a digit).  0, or -EINVAL
 * with a message naming the bad one in err. */
int sp_params_check(const struct sp_params *p, char *err, size_t errlen);

/* Expands the parameters in every scalar below root (p may be NULL: no
 * --param given).  Each unset or malformed reference goes to d with its
 * line, and the stage and option it is in (under stages:).  Returns the
 * number of problems (0 = all expanded); out of memory counts as one. */
int sp_params_expand(struct sp_node *root, const struct sp_params *p,
		     struct sp_diags *d);

#endif
