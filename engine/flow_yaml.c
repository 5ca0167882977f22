/*
 * Flow files: reading a YAML flow file (libyaml's event parser) into a
 * configuration tree and then into a struct sp_flow, and writing a flow
 * back as YAML.  Reading keeps every value's line and whether a scalar was
 * quoted, so validation can point at the line and saving keeps "007" a
 * string.  Writing is deterministic (fixed key order, options in their
 * given order, quoting decided by the text alone), so that load -> save ->
 * load -> save gives the same bytes.  Only this file includes yaml.h.
 */
#include "engine/flow.h"

#include <errno.h>
#include <fcntl.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>
#include <yaml.h>

#define MAX_DEPTH 64
#define MAX_FLOW_FILE (64u << 20)

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

static struct sp_node *yp_list(struct yp *y, int depth)
{
	struct sp_node *n = sp_node_list();

	if (!n)
		goto nomem;
	n->line = ev_line(&y->ev);
	n->column = (uint32_t)y->ev.start_mark.column + 1;
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
	yp_problem(y, 0, "out of memory");
	y->fatal = true;
fail:
	sp_node_free(n);
	return NULL;
}

static struct sp_node *yp_map(struct yp *y, int depth)
{
	struct sp_node *n = sp_node_map();

	if (!n)
		goto nomem;
	n->line = ev_line(&y->ev);
	n->column = (uint32_t)y->ev.start_mark.column + 1;
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
	yp_problem(y, 0, "out of memory");
	y->fatal = true;
fail:
	sp_node_free(n);
	return NULL;
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
static int yp_parse(const char *text, size_t len, struct sp_diags *d,
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
	if (yp_parse(text, strlen(text), NULL, err, errlen, &root))
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

/* ---- sp_node -> sp_flow ----------------------------------------------- */

static const char *const top_keys[] = {
	"name", "workers", "error_stage", "plugins", "stages", NULL,
};

static const char *node_kind_name(const struct sp_node *n)
{
	return n->kind == SP_NODE_LIST ? "a list"
	       : n->kind == SP_NODE_MAP ? "a map"
					: "a scalar";
}

static bool plain_null(const struct sp_node *n)
{
	return n->kind == SP_NODE_SCALAR && !n->quoted &&
	       (!n->text[0] || strcmp(n->text, "~") == 0 ||
		strcmp(n->text, "null") == 0);
}

/* A scalar's text (NULL for null) into *out; false with a problem when n
 * is not a scalar. */
static bool take_scalar(const struct sp_node *n, const char *stage,
			const char *key, struct sp_diags *d, char **out,
			int *problems)
{
	if (n->kind != SP_NODE_SCALAR) {
		sp_diags_add(d, n->line, stage, NULL,
			     "%s: expected a scalar, got %s", key,
			     node_kind_name(n));
		(*problems)++;
		return false;
	}
	if (plain_null(n))
		return true;
	free(*out);
	*out = strdup(n->text);
	return true;
}

static bool take_list(const struct sp_node *n, const char *stage,
		      const char *key, struct sp_diags *d,
		      struct sp_strlist *out, int *problems)
{
	if (n->kind == SP_NODE_MAP) {
		sp_diags_add(d, n->line, stage, NULL,
			     "%s: expected a list, got a map", key);
		(*problems)++;
		return false;
	}
	if (n->kind == SP_NODE_SCALAR) {
		if (plain_null(n))
			return true;
		out->v = calloc(1, sizeof(char *));
		if (!out->v)
			return false;
		out->v[0] = strdup(n->text);
		out->n = out->v[0] ? 1 : 0;
		return true;
	}
	out->v = calloc(n->n ? n->n : 1, sizeof(char *));
	if (!out->v)
		return false;
	for (uint32_t i = 0; i < n->n; i++) {
		const struct sp_node *it = n->items[i];

		if (it->kind != SP_NODE_SCALAR) {
			sp_diags_add(d, it->line ? it->line : n->line, stage,
				     NULL, "%s: item %u: expected a scalar, "
				     "got %s", key, i + 1, node_kind_name(it));
			(*problems)++;
			continue;
		}
		out->v[out->n] = strdup(it->text);
		if (out->v[out->n])
			out->n++;
	}
	return true;
}

static int load_stage(struct sp_flow *f, struct sp_node *m, uint32_t index,
		      struct sp_diags *d)
{
	struct sp_node *idn, *typen;
	struct sp_flow_stage *s;
	char *id = NULL, *type = NULL;
	int problems = 0;

	if (m->kind != SP_NODE_MAP) {
		sp_diags_add(d, m->line, NULL, NULL,
			     "stages: item %u: expected a map with id and type, "
			     "got %s", index + 1, node_kind_name(m));
		return 1;
	}
	idn = sp_node_map_get(m, "id");
	typen = sp_node_map_get(m, "type");
	if (idn)
		take_scalar(idn, NULL, "id", d, &id, &problems);
	if (!id) {
		if (!problems)
			sp_diags_add(d, m->line, NULL, NULL,
				     "stages: item %u has no id", index + 1);
		free(id);
		return problems + !problems;
	}
	if (typen)
		take_scalar(typen, id, "type", d, &type, &problems);
	if (!type) {
		if (!problems)
			sp_diags_add(d, m->line, id, NULL, "stage has no type");
		free(id);
		return problems + !problems;
	}
	s = sp_flow_add_stage(f, type, id);
	free(type);
	free(id);
	if (!s) {
		sp_diags_add(d, m->line, NULL, NULL, "out of memory");
		return problems + 1;
	}
	s->line = m->line;
	for (uint32_t i = 0; i < m->n; i++) {
		const char *key = m->keys[i];
		struct sp_node *v = m->items[i];

		if (strcmp(key, "id") == 0 || strcmp(key, "type") == 0)
			continue;
		if (strcmp(key, "inputs") == 0) {
			take_list(v, s->id, key, d, &s->inputs, &problems);
		} else if (strcmp(key, "event_inputs") == 0) {
			take_list(v, s->id, key, d, &s->event_inputs,
				  &problems);
		} else if (strcmp(key, "on_record_error") == 0) {
			take_scalar(v, s->id, key, d, &s->on_record_error,
				    &problems);
			s->line_on_record_error = v->line;
		} else {
			/* an option: moved over with its line */
			if (sp_node_map_set(s->config, key, v) == 0)
				m->items[i] = sp_node_scalar("");
		}
	}
	s->config->line = m->line;
	return problems;
}

static int load_tree(struct sp_flow *f, struct sp_node *root,
		     struct sp_diags *d)
{
	int problems = 0;
	bool named = false;

	for (uint32_t i = 0; i < root->n; i++) {
		const char *key = root->keys[i];
		struct sp_node *v = root->items[i];

		if (strcmp(key, "name") == 0) {
			take_scalar(v, NULL, key, d, &f->name, &problems);
			f->line_name = v->line;
			named = f->name != NULL;
		} else if (strcmp(key, "workers") == 0) {
			char *t = NULL;
			int64_t w;

			if (!take_scalar(v, NULL, key, d, &t, &problems) || !t)
				continue;
			if (sp_parse_int(t, &w)) {
				sp_diags_add(d, v->line, NULL, NULL,
					     "workers: \"%s\" is not an "
					     "integer", t);
				problems++;
			} else {
				f->workers = w;
				f->line_workers = v->line;
			}
			free(t);
		} else if (strcmp(key, "error_stage") == 0) {
			take_scalar(v, NULL, key, d, &f->error_stage,
				    &problems);
			f->line_error_stage = v->line;
		} else if (strcmp(key, "plugins") == 0) {
			take_list(v, NULL, key, d, &f->plugins, &problems);
		} else if (strcmp(key, "stages") == 0) {
			if (v->kind == SP_NODE_LIST) {
				for (uint32_t j = 0; j < v->n; j++)
					problems += load_stage(f, v->items[j],
							       j, d);
			} else if (!plain_null(v)) {
				sp_diags_add(d, v->line, NULL, NULL,
					     "stages: expected a list, got %s",
					     node_kind_name(v));
				problems++;
			}
		} else {
			const char *s = sp_suggest(key, top_keys, 5);

			if (s)
				sp_diags_add(d, v->line, NULL, NULL,
					     "unknown key '%s' (did you mean "
					     "'%s'?)", key, s);
			else
				sp_diags_add(d, v->line, NULL, NULL,
					     "unknown key '%s' (a flow has "
					     "name, workers, error_stage, "
					     "plugins, stages)", key);
			problems++;
		}
	}
	if (!named) {
		sp_diags_add(d, f->line_name, NULL, NULL,
			     "the flow has no name (name: my_flow)");
		problems++;
	}
	return problems;
}

static int load_text(const char *text, size_t len, struct sp_flow **out,
		     struct sp_diags *d)
{
	struct sp_node *root = NULL;
	struct sp_flow *f;
	int r;

	*out = NULL;
	r = yp_parse(text, len, d, NULL, 0, &root);
	if (r)
		return r;
	if (!root) {
		sp_diags_add(d, 0, NULL, NULL, "the flow file is empty");
		return -EINVAL;
	}
	if (root->kind != SP_NODE_MAP) {
		sp_diags_add(d, root->line, NULL, NULL,
			     "a flow file is a map (name:, stages: ...), "
			     "got %s", node_kind_name(root));
		sp_node_free(root);
		return -EINVAL;
	}
	f = sp_flow_create(NULL);
	if (!f) {
		sp_node_free(root);
		return -ENOMEM;
	}
	load_tree(f, root, d);
	sp_node_free(root);
	*out = f;
	return 0;
}

int sp_flow_load_string(const char *yaml, const char *name_for_messages,
			struct sp_flow **out, struct sp_diags *d)
{
	if (d && !d->file)
		d->file = name_for_messages;
	if (!yaml || !out)
		return -EINVAL;
	return load_text(yaml, strlen(yaml), out, d);
}

int sp_flow_load_file(const char *path, struct sp_flow **out,
		      struct sp_diags *d)
{
	struct stat st;
	char *text = NULL, *slash;
	size_t len = 0;
	int fd, r;

	*out = NULL;
	if (d && !d->file)
		d->file = path;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		r = -errno;
		sp_diags_add(d, 0, NULL, NULL, "cannot open: %s",
			     strerror(-r));
		return r;
	}
	if (fstat(fd, &st) || !S_ISREG(st.st_mode) ||
	    (uint64_t)st.st_size > MAX_FLOW_FILE) {
		sp_diags_add(d, 0, NULL, NULL,
			     "not a regular file of at most %u MiB",
			     MAX_FLOW_FILE >> 20);
		r = -EINVAL;
		goto close_fd;
	}
	text = malloc((size_t)st.st_size + 1);
	if (!text) {
		r = -ENOMEM;
		goto close_fd;
	}
	while (len < (size_t)st.st_size) {
		ssize_t n = read(fd, text + len, (size_t)st.st_size - len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			r = n < 0 ? -errno : -EIO;
			sp_diags_add(d, 0, NULL, NULL, "cannot read: %s",
				     strerror(-r));
			goto free_text;
		}
		len += (size_t)n;
	}
	text[len] = '\0';
	r = load_text(text, len, out, d);
	if (r == 0) {
		struct sp_flow *f = *out;

		free(f->file);
		free(f->dir);
		f->file = strdup(path);
		slash = strrchr(path, '/');
		if (slash == path)
			f->dir = strdup("/");
		else if (slash)
			f->dir = strndup(path, (size_t)(slash - path));
		else
			f->dir = strdup(".");
		if (!f->file || !f->dir) {
			sp_flow_destroy(f);
			*out = NULL;
			r = -ENOMEM;
		}
	}
free_text:
	free(text);
close_fd:
	close(fd);
	return r;
}

/* ---- sp_flow -> YAML text --------------------------------------------- */

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

static void put(struct sp_buf *out, const char *s)
{
	sp_buf_append(out, s, strlen(s));
}

static void put_scalar(struct sp_buf *out, const char *t, bool quoted)
{
	const unsigned char *s = (const unsigned char *)t;
	char esc[16];

	switch (quoting_for(t, quoted)) {
	case Q_PLAIN:
		put(out, t);
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
			put(out, esc);
			i++;
			continue;
		}
		if (cp == '"' || cp == '\\') {
			sp_buf_putc(out, '\\');
			sp_buf_putc(out, (char)cp);
		} else if (cp == '\n') {
			put(out, "\\n");
		} else if (cp == '\t') {
			put(out, "\\t");
		} else if (cp == '\r') {
			put(out, "\\r");
		} else if (yaml_printable(cp)) {
			sp_buf_append(out, s + i, (size_t)n);
		} else if (cp <= 0xff) {
			snprintf(esc, sizeof(esc), "\\x%02x", cp);
			put(out, esc);
		} else if (cp <= 0xffff) {
			snprintf(esc, sizeof(esc), "\\u%04x", cp);
			put(out, esc);
		} else {
			snprintf(esc, sizeof(esc), "\\U%08x", cp);
			put(out, esc);
		}
		i += (size_t)n;
	}
	sp_buf_putc(out, '"');
}

static void put_value_scalar(struct sp_buf *out, const struct sp_node *n)
{
	if (!n->quoted && !n->text[0])
		put(out, "~");
	else
		put_scalar(out, n->text, n->quoted);
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
			put(out, ", ");
		put_value_scalar(out, n->items[i]);
	}
	sp_buf_putc(out, ']');
}

static void put_map(struct sp_buf *out, const struct sp_node *m, int ind,
		    bool first_inline);

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
		put(out, " {}\n");
	} else if (n->kind == SP_NODE_LIST) {
		sp_buf_putc(out, '\n');
		for (uint32_t i = 0; i < n->n; i++) {
			const struct sp_node *it = n->items[i];

			indent(out, ind);
			sp_buf_putc(out, '-');
			if (it->kind == SP_NODE_MAP && it->n) {
				sp_buf_putc(out, ' ');
				put_map(out, it, ind + 2, true);
			} else {
				put_value(out, it, ind + 2);
			}
		}
	} else {
		sp_buf_putc(out, '\n');
		put_map(out, n, ind, false);
	}
}

static void put_map(struct sp_buf *out, const struct sp_node *m, int ind,
		    bool first_inline)
{
	for (uint32_t i = 0; i < m->n; i++) {
		if (i || !first_inline)
			indent(out, ind);
		put_scalar(out, m->keys[i], false);
		sp_buf_putc(out, ':');
		put_value(out, m->items[i], ind + 2);
	}
}

static void put_strlist(struct sp_buf *out, const struct sp_strlist *l)
{
	sp_buf_putc(out, '[');
	for (uint32_t i = 0; i < l->n; i++) {
		if (i)
			put(out, ", ");
		put_scalar(out, l->v[i], false);
	}
	sp_buf_putc(out, ']');
}

int sp_flow_save_yaml(const struct sp_flow *f, struct sp_buf *out)
{
	char num[32];

	if (!f || !out)
		return -EINVAL;
	put(out, "name: ");
	put_scalar(out, f->name ? f->name : "", false);
	sp_buf_putc(out, '\n');
	if (f->workers) {
		snprintf(num, sizeof(num), "%lld", (long long)f->workers);
		put(out, "workers: ");
		put(out, num);
		sp_buf_putc(out, '\n');
	}
	if (f->error_stage) {
		put(out, "error_stage: ");
		put_scalar(out, f->error_stage, false);
		sp_buf_putc(out, '\n');
	}
	if (f->plugins.n) {
		put(out, "plugins: ");
		put_strlist(out, &f->plugins);
		sp_buf_putc(out, '\n');
	}
	if (!f->nstages) {
		put(out, "stages: []\n");
		goto done;
	}
	put(out, "stages:\n");
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_flow_stage *s = f->stages[i];

		put(out, "  - id: ");
		put_scalar(out, s->id, false);
		put(out, "\n    type: ");
		put_scalar(out, s->type, false);
		sp_buf_putc(out, '\n');
		if (s->inputs.n) {
			put(out, "    inputs: ");
			put_strlist(out, &s->inputs);
			sp_buf_putc(out, '\n');
		}
		if (s->event_inputs.n) {
			put(out, "    event_inputs: ");
			put_strlist(out, &s->event_inputs);
			sp_buf_putc(out, '\n');
		}
		if (s->on_record_error) {
			put(out, "    on_record_error: ");
			put_scalar(out, s->on_record_error, false);
			sp_buf_putc(out, '\n');
		}
		if (s->config && s->config->kind == SP_NODE_MAP)
			put_map(out, s->config, 4, false);
	}
done:
	/* the buffer's allocation failures all end up here as a short len;
	 * reserve once more to report them */
	return sp_buf_reserve(out, 1) ? -ENOMEM : 0;
}

static void put_flow_node(struct sp_buf *out, const struct sp_node *n,
			  int depth)
{
	if (depth > MAX_DEPTH) {
		put(out, "~");
		return;
	}
	if (n->kind == SP_NODE_SCALAR) {
		put_value_scalar(out, n);
		return;
	}
	sp_buf_putc(out, n->kind == SP_NODE_LIST ? '[' : '{');
	for (uint32_t i = 0; i < n->n; i++) {
		if (i)
			put(out, ", ");
		if (n->kind == SP_NODE_MAP) {
			put_scalar(out, n->keys[i], false);
			put(out, ": ");
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
