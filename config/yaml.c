/*
 * YAML for configuration trees: libyaml's event parser turns YAML text
 * into an sp_node tree that keeps every value's line and whether a scalar
 * was quoted (so diagnostics point at lines and "007" stays a string), and
 * a deterministic writer turns a tree back into YAML (fixed order, quoting
 * decided by the text alone), so that parse -> write -> parse gives the
 * same tree.  Only this file includes yaml.h.
 */
#include "config/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <yaml.h>

#define MAX_DEPTH 64

/* ---- YAML text -> sp_node ------------------------------------------- */

struct yp {
	yaml_parser_t parser;
	yaml_event_t ev;
	bool have; /* ev holds an event to delete */
	struct sp_diags *d; /* problems go here, or ... */
	char *err;	    /* ... the first one here */
	size_t errlen;
	bool fatal; /* syntax error or unsupported construct */
	bool one_line; /* text without newlines: no line numbers in err */
};

static void yp_problem(struct yp *y, uint32_t line, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void yp_problem(struct yp *y, uint32_t line, const char *fmt, ...)
{
	char msg[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (y->d) {
		sp_diags_add(y->d, line, NULL, NULL, "%s", msg);
	} else if (y->err && y->errlen && !y->err[0]) {
		if (line && !y->one_line)
			snprintf(y->err, y->errlen, "line %u: %s", line, msg);
		else
			snprintf(y->err, y->errlen, "%s", msg);
	}
}

static int yp_next(struct yp *y)
{
	if (y->have) {
		yaml_event_delete(&y->ev);
		y->have = false;
	}
	if (!yaml_parser_parse(&y->parser, &y->ev)) {
		const yaml_parser_t *p = &y->parser;
		uint32_t line = (uint32_t)p->problem_mark.line + 1;

		if (p->error == YAML_MEMORY_ERROR)
			yp_problem(y, 0, "out of memory");
		else if (p->context)
			yp_problem(y, line, "YAML syntax: %s, %s", p->context,
				   p->problem ? p->problem : "error");
		else
			yp_problem(y, line, "YAML syntax: %s",
				   p->problem ? p->problem : "error");
		y->fatal = true;
		return -EINVAL;
	}
	y->have = true;
	return 0;
}

static uint32_t ev_line(const yaml_event_t *ev)
{
	return (uint32_t)ev->start_mark.line + 1;
}

static struct sp_node *yp_node(struct yp *y, int depth);

static struct sp_node *yp_scalar(struct yp *y)
{
	const yaml_event_t *ev = &y->ev;
	struct sp_node *n = sp_node_list(); /* any node; fixed below */
	char *t;

	if (!n)
		goto nomem;
	t = strndup((const char *)ev->data.scalar.value,
		    ev->data.scalar.length);
	if (!t) {
		free(n);
		goto nomem;
	}
	n->kind = SP_NODE_SCALAR;
	n->text = t;
	n->quoted = ev->data.scalar.style != YAML_PLAIN_SCALAR_STYLE;
	n->line = ev_line(ev);
	n->column = (uint32_t)ev->start_mark.column + 1;
	return n;
nomem:
	yp_problem(y, 0, "out of memory");
	y->fatal = true;
	return NULL;
}

/* n (NULL when it could not be made) placed at the current event. */
static struct sp_node *yp_placed(struct yp *y, struct sp_node *n)
{
	if (n) {
		n->line = ev_line(&y->ev);
		n->column = (uint32_t)y->ev.start_mark.column + 1;
	}
	return n;
}

/* A list or map given up on: "out of memory" (which ends the parse) when
 * nomem, the problem already said otherwise; NULL for the caller. */
static struct sp_node *yp_abandon(struct yp *y, struct sp_node *n, bool nomem)
{
	if (nomem) {
		yp_problem(y, 0, "out of memory");
		y->fatal = true;
	}
	sp_node_free(n);
	return NULL;
}

static struct sp_node *yp_list(struct yp *y, int depth)
{
	struct sp_node *n = yp_placed(y, sp_node_list());

	if (!n)
		goto nomem;
	for (;;) {
		struct sp_node *item;

		if (yp_next(y))
			goto fail;
		if (y->ev.type == YAML_SEQUENCE_END_EVENT)
			return n;
		item = yp_node(y, depth + 1);
		if (!item)
			goto fail;
		if (sp_node_list_add(n, item)) {
			sp_node_free(item);
			goto nomem;
		}
	}
nomem:
	return yp_abandon(y, n, true);
fail:
	return yp_abandon(y, n, false);
}

static struct sp_node *yp_map(struct yp *y, int depth)
{
	struct sp_node *n = yp_placed(y, sp_node_map());

	if (!n)
		goto nomem;
	for (;;) {
		struct sp_node *value, *old;
		uint32_t kline, kcol;
		char *key;

		if (yp_next(y))
			goto fail;
		if (y->ev.type == YAML_MAPPING_END_EVENT)
			return n;
		if (y->ev.type != YAML_SCALAR_EVENT) {
			yp_problem(y, ev_line(&y->ev),
				   "map keys must be plain text");
			y->fatal = true;
			goto fail;
		}
		kline = ev_line(&y->ev);
		kcol = (uint32_t)y->ev.start_mark.column + 1;
		key = strndup((const char *)y->ev.data.scalar.value,
			      y->ev.data.scalar.length);
		if (!key)
			goto nomem;
		if (yp_next(y)) {
			free(key);
			goto fail;
		}
		value = yp_node(y, depth + 1);
		if (!value) {
			free(key);
			goto fail;
		}
		/* a value's line is its key's line: that is where a message
		 * about it should point, also for a block list or map */
		value->line = kline;
		value->column = kcol;
		old = sp_node_map_get(n, key);
		if (old) {
			yp_problem(y, kline, "duplicate key '%s' (first at line "
				   "%u)", key, old->line);
			sp_node_free(value);
			free(key);
			continue;
		}
		if (sp_node_map_set(n, key, value)) {
			sp_node_free(value);
			free(key);
			goto nomem;
		}
		free(key);
	}
nomem:
	return yp_abandon(y, n, true);
fail:
	return yp_abandon(y, n, false);
}

/* Builds the node whose start event is current. */
static struct sp_node *yp_node(struct yp *y, int depth)
{
	if (depth > MAX_DEPTH) {
		yp_problem(y, ev_line(&y->ev), "nested deeper than %d levels",
			   MAX_DEPTH);
		y->fatal = true;
		return NULL;
	}
	switch (y->ev.type) {
	case YAML_SCALAR_EVENT:
		return yp_scalar(y);
	case YAML_SEQUENCE_START_EVENT:
		return yp_list(y, depth);
	case YAML_MAPPING_START_EVENT:
		return yp_map(y, depth);
	case YAML_ALIAS_EVENT:
		yp_problem(y, ev_line(&y->ev),
			   "aliases (*%s) are not supported; repeat the value",
			   (const char *)y->ev.data.alias.anchor);
		break;
	default:
		yp_problem(y, ev_line(&y->ev), "unexpected YAML event");
		break;
	}
	y->fatal = true;
	return NULL;
}

/*
 * Parses a whole YAML stream of one document.  Returns 0 with *root (NULL
 * for an empty stream) or -EINVAL / -ENOMEM after reporting.
 */
int sp_node_parse_yaml_diags(const char *text, size_t len, struct sp_diags *d,
			     char *err, size_t errlen, struct sp_node **root)
{
	struct yp y = { .d = d, .err = err, .errlen = errlen,
			.one_line = !memchr(text, '\n', len) };
	struct sp_node *n = NULL;
	int r = -EINVAL;

	*root = NULL;
	if (err && errlen)
		err[0] = '\0';
	if (!yaml_parser_initialize(&y.parser)) {
		yp_problem(&y, 0, "out of memory");
		return -ENOMEM;
	}
	yaml_parser_set_input_string(&y.parser, (const unsigned char *)text,
				     len);
	if (yp_next(&y) || y.ev.type != YAML_STREAM_START_EVENT)
		goto out;
	if (yp_next(&y))
		goto out;
	if (y.ev.type == YAML_STREAM_END_EVENT) {
		r = 0;
		goto out;
	}
	if (yp_next(&y))
		goto out;
	n = yp_node(&y, 0);
	if (!n)
		goto out;
	if (yp_next(&y)) /* document end */
		goto out;
	if (yp_next(&y))
		goto out;
	if (y.ev.type != YAML_STREAM_END_EVENT) {
		yp_problem(&y, ev_line(&y.ev),
			   "more than one YAML document; a flow file holds "
			   "one");
		goto out;
	}
	*root = n;
	n = NULL;
	r = 0;
out:
	sp_node_free(n);
	if (y.have)
		yaml_event_delete(&y.ev);
	yaml_parser_delete(&y.parser);
	return r;
}

struct sp_node *sp_node_parse_yaml(const char *text, char *err,
				   size_t errlen)
{
	struct sp_node *root;

	if (!text)
		return NULL;
	if (sp_node_parse_yaml_diags(text, strlen(text), NULL, err, errlen,
				     &root))
		return NULL;
	if (!root) {
		root = sp_node_scalar("");
		if (root)
			root->line = 1;
	}
	if (!root && err && errlen && !err[0])
		snprintf(err, errlen, "out of memory");
	return root;
}

/* ---- sp_node -> YAML text --------------------------------------------- */

/* Decodes one UTF-8 sequence at s; its length, or 0 when invalid. */
static int utf8_decode(const unsigned char *s, uint32_t *cp)
{
	if (s[0] < 0x80) {
		*cp = s[0];
		return 1;
	}
	if ((s[0] & 0xe0) == 0xc0 && (s[1] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x1f) << 6) | (s[1] & 0x3f);
		return *cp >= 0x80 ? 2 : 0;
	}
	if ((s[0] & 0xf0) == 0xe0 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x0f) << 12) |
		      ((uint32_t)(s[1] & 0x3f) << 6) | (s[2] & 0x3f);
		return *cp >= 0x800 && (*cp < 0xd800 || *cp > 0xdfff) ? 3 : 0;
	}
	if ((s[0] & 0xf8) == 0xf0 && (s[1] & 0xc0) == 0x80 &&
	    (s[2] & 0xc0) == 0x80 && (s[3] & 0xc0) == 0x80) {
		*cp = ((uint32_t)(s[0] & 0x07) << 18) |
		      ((uint32_t)(s[1] & 0x3f) << 12) |
		      ((uint32_t)(s[2] & 0x3f) << 6) | (s[3] & 0x3f);
		return *cp >= 0x10000 && *cp <= 0x10ffff ? 4 : 0;
	}
	return 0;
}

/* What YAML lets stand unescaped inside quotes (no breaks, no tab). */
static bool yaml_printable(uint32_t cp)
{
	return (cp >= 0x20 && cp <= 0x7e) || (cp >= 0xa0 && cp <= 0xd7ff) ||
	       (cp >= 0xe000 && cp <= 0xfffd && cp != 0xfeff) ||
	       (cp >= 0x10000 && cp <= 0x10ffff);
}

enum quoting { Q_PLAIN, Q_SINGLE, Q_DOUBLE };

static enum quoting quoting_for(const char *t, bool quoted)
{
	const unsigned char *s = (const unsigned char *)t;
	size_t len = strlen(t);
	bool plain = !quoted && len > 0;

	for (size_t i = 0; i < len;) {
		uint32_t cp;
		int n = utf8_decode(s + i, &cp);

		if (n == 0 || !yaml_printable(cp))
			return Q_DOUBLE;
		i += (size_t)n;
	}
	if (strncmp(t, "${", 2) == 0)
		return Q_SINGLE;
	if (plain) {
		if (strchr("-?:,[]{}#&*!|>'\"%@`", t[0]) &&
		    !(t[0] == '-' && t[1] && t[1] != ' ' && t[1] != '-'))
			plain = false;
		else if (t[0] == ' ' || t[len - 1] == ' ' ||
			 t[len - 1] == ':')
			plain = false;
		else if (strpbrk(t, ",[]{}") || strstr(t, ": ") ||
			 strstr(t, " #"))
			plain = false;
	}
	return plain ? Q_PLAIN : Q_SINGLE;
}

void sp_yaml_put(struct sp_buf *out, const char *s)
{
	sp_buf_append(out, s, strlen(s));
}

void sp_yaml_put_scalar(struct sp_buf *out, const char *t, bool quoted)
{
	const unsigned char *s = (const unsigned char *)t;
	char esc[16];

	switch (quoting_for(t, quoted)) {
	case Q_PLAIN:
		sp_yaml_put(out, t);
		return;
	case Q_SINGLE:
		sp_buf_putc(out, '\'');
		for (; *t; t++) {
			if (*t == '\'')
				sp_buf_putc(out, '\'');
			sp_buf_putc(out, *t);
		}
		sp_buf_putc(out, '\'');
		return;
	case Q_DOUBLE:
		break;
	}
	sp_buf_putc(out, '"');
	for (size_t i = 0; s[i];) {
		uint32_t cp;
		int n = utf8_decode(s + i, &cp);

		if (n == 0) {
			snprintf(esc, sizeof(esc), "\\x%02x", s[i]);
			sp_yaml_put(out, esc);
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			sp_buf_putc(out, '\\');
			sp_buf_putc(out, (char)cp);
		} else if (cp == '\n') {
			sp_yaml_put(out, "\\n");
		} else if (cp == '\t') {
			sp_yaml_put(out, "\\t");
		} else if (cp == '\r') {
			sp_yaml_put(out, "\\r");
		} else if (yaml_printable(cp)) {
			sp_buf_append(out, s + i, (size_t)n);
		} else if (cp <= 0xff) {
			snprintf(esc, sizeof(esc), "\\x%02x", cp);
			sp_yaml_put(out, esc);
		} else if (cp <= 0xffff) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			sp_yaml_put(out, esc);
		} else {
			snprintf(esc, sizeof(esc), "\\U%08x", cp);
			sp_yaml_put(out, esc);
		}
		i += (size_t)n;
	}
	sp_buf_putc(out, '"');
}

void sp_yaml_put_value(struct sp_buf *out, const char *t, bool quoted)
{
	if (!strstr(t, "${env:") && !strstr(t, "${param:")) {
		sp_yaml_put_scalar(out, t, quoted);
		return;
	}
	/* loading expands ${env:...} and ${param:...} in values, and reads
	 * $${ as a literal ${: write a literal one back that way */
	struct sp_buf esc;
	sp_buf_init(&esc);
	for (const char *s = t; *s; s++) {
		if (!strncmp(s, "${env:", 6) || !strncmp(s, "${param:", 8))
			sp_buf_putc(&esc, '$');
		sp_buf_putc(&esc, *s);
	}
	if (sp_buf_putc(&esc, '\0') == 0)
		sp_yaml_put_scalar(out, esc.data, quoted);
	sp_buf_fini(&esc);
}

static void put_value_scalar(struct sp_buf *out, const struct sp_node *n)
{
	if (!n->quoted && !n->text[0])
		sp_yaml_put(out, "~");
	else
		sp_yaml_put_value(out, n->text, n->quoted);
}

static void indent(struct sp_buf *out, int n)
{
	for (int i = 0; i < n; i++)
		sp_buf_putc(out, ' ');
}

static bool all_scalars(const struct sp_node *n)
{
	for (uint32_t i = 0; i < n->n; i++)
		if (n->items[i]->kind != SP_NODE_SCALAR)
			return false;
	return true;
}

static void put_flow_list(struct sp_buf *out, const struct sp_node *n)
{
	sp_buf_putc(out, '[');
	for (uint32_t i = 0; i < n->n; i++) {
		if (i)
			sp_yaml_put(out, ", ");
		put_value_scalar(out, n->items[i]);
	}
	sp_buf_putc(out, ']');
}

/* Writes what follows "key:" or "- " (which is already written, without
 * the space) for value n whose block children go at ind. */
static void put_value(struct sp_buf *out, const struct sp_node *n, int ind)
{
	if (n->kind == SP_NODE_SCALAR) {
		sp_buf_putc(out, ' ');
		put_value_scalar(out, n);
		sp_buf_putc(out, '\n');
	} else if (n->kind == SP_NODE_LIST && all_scalars(n)) {
		sp_buf_putc(out, ' ');
		put_flow_list(out, n);
		sp_buf_putc(out, '\n');
	} else if (n->n == 0) {
		sp_yaml_put(out, " {}\n");
	} else if (n->kind == SP_NODE_LIST) {
		sp_buf_putc(out, '\n');
		for (uint32_t i = 0; i < n->n; i++) {
			const struct sp_node *it = n->items[i];

			indent(out, ind);
			sp_buf_putc(out, '-');
			if (it->kind == SP_NODE_MAP && it->n) {
				sp_buf_putc(out, ' ');
				sp_yaml_put_map(out, it, ind + 2, true);
			} else {
				put_value(out, it, ind + 2);
			}
		}
	} else {
		sp_buf_putc(out, '\n');
		sp_yaml_put_map(out, n, ind, false);
	}
}

void sp_yaml_put_map(struct sp_buf *out, const struct sp_node *m, int ind,
		    bool first_inline)
{
	for (uint32_t i = 0; i < m->n; i++) {
		if (i || !first_inline)
			indent(out, ind);
		sp_yaml_put_scalar(out, m->keys[i], false);
		sp_buf_putc(out, ':');
		put_value(out, m->items[i], ind + 2);
	}
}
static void put_flow_node(struct sp_buf *out, const struct sp_node *n,
			  int depth)
{
	if (depth > MAX_DEPTH) {
		sp_yaml_put(out, "~");
		return;
	}
	if (n->kind == SP_NODE_SCALAR) {
		put_value_scalar(out, n);
		return;
	}
	sp_buf_putc(out, n->kind == SP_NODE_LIST ? '[' : '{');
	for (uint32_t i = 0; i < n->n; i++) {
		if (i)
			sp_yaml_put(out, ", ");
		if (n->kind == SP_NODE_MAP) {
			sp_yaml_put_scalar(out, n->keys[i], false);
			sp_yaml_put(out, ": ");
		}
		put_flow_node(out, n->items[i], depth + 1);
	}
	sp_buf_putc(out, n->kind == SP_NODE_LIST ? ']' : '}');
}

int sp_node_to_flow_yaml(const struct sp_node *n, struct sp_buf *out)
{
	if (!n || !out)
		return -EINVAL;
	put_flow_node(out, n, 0);
	return sp_buf_reserve(out, 1) ? -ENOMEM : 0;
}
