/*
 * What the files of config/ share (node.c, diags.c, options.c, opt_text.c,
 * opt_help.c).
 * Nothing outside config/ includes this.
 */
#ifndef SPATE_CONFIG_CONFIG_INTERNAL_H
#define SPATE_CONFIG_CONFIG_INTERNAL_H

#include "config/options.h"

#include <errno.h>
#include <inttypes.h>
#include <math.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "expr/expr.h"
#include "record/symtab.h"
#include "config/yaml.h"

/* shared between the files of this module */
void cfg_buf_printf(struct sp_buf *out, const char *fmt, ...);

/* opt_help.c: a bound as text (integral values without a fraction), and
 * an enum's choices comma-separated */
void cfg_fmt_num(char *buf, size_t len, double v);
void cfg_enum_choices(const char *const *choices, char *buf, size_t len);

/* opt_text.c: the whole text as a value, 0 or -EINVAL (-ERANGE where the
 * value does not fit) */
int cfg_parse_double(const char *s, double *out);
int cfg_parse_bool(const char *s, bool *out);
int cfg_parse_size(const char *s, uint64_t *out);

#endif
