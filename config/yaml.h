/*
 * YAML text <-> configuration trees (struct sp_node, config/options.h).
 */
#ifndef SPATE_CONFIG_YAML_H
#define SPATE_CONFIG_YAML_H

#include <stdbool.h>
#include <stddef.h>

#include "config/options.h"
#include "core/buf.h"

/* Parses a whole YAML stream of one document into *root (NULL for an
 * empty stream).  Problems go to d with their lines, or (d NULL) the first
 * one to err.  0, or -EINVAL / -ENOMEM after reporting. */
int sp_node_parse_yaml_diags(const char *text, size_t len, struct sp_diags *d,
			     char *err, size_t errlen, struct sp_node **root);

/* Parses one YAML value (a scalar, a flow [list] / {map}, or a block
 * document) into a tree with lines.  NULL with a message in err ("line 1:
 * did not find expected ',' or ']'") on a syntax error or out of memory. */
struct sp_node *sp_node_parse_yaml(const char *text, char *err,
				   size_t errlen);

/* Writes n as one line of flow-style YAML ("[a, b]", "{k: v}", or the
 * scalar, quoted when needed); parsing it back gives the same tree.
 * 0 or -ENOMEM. */
int sp_node_to_flow_yaml(const struct sp_node *n, struct sp_buf *out);

/* Pieces of block-style YAML for writers of whole documents (flow files):
 * text as is, a scalar quoted when its text needs it, and a map's entries
 * at indentation ind (nested maps and lists below it).  Allocation
 * failures show as a short buffer (sp_buf_reserve reports them). */
void sp_yaml_put(struct sp_buf *out, const char *s);
void sp_yaml_put_scalar(struct sp_buf *out, const char *t, bool quoted);
/* A value's scalar: as sp_yaml_put_scalar, with a literal ${env: or
 * ${param: written as $${... so that loading it again (which expands
 * parameters in values) gives the same text. */
void sp_yaml_put_value(struct sp_buf *out, const char *t, bool quoted);
void sp_yaml_put_map(struct sp_buf *out, const struct sp_node *m, int ind,
		     bool first_inline);

#endif
