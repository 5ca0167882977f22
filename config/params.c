/*
 * Expanding ${env:NAME} and ${param:NAME} (with :-DEFAULT) in the scalars
 * of a configuration tree; see params.h.  A reference is looked up in the
 * --param assignments (the last one of a name wins) or the environment;
 * an unset one without a default is a problem with the line of its
 * scalar, and what the environment gave is registered as a secret.
 */
#include "config/params.h"

#include <errno.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "core/redact.h"

static bool name_char(char c, bool first)
{
	return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' ||
	       (!first && c >= '0' && c <= '9');
}

/* length of the name at s (0: none) */
static size_t name_len(const char *s, size_t max)
{
	size_t n = 0;

	while (n < max && name_char(s[n], n == 0))
		n++;
	return n;
}

int sp_params_check(const struct sp_params *p, char *err, size_t errlen)
{
	for (size_t i = 0; p && i < p->n; i++) {
		const char *a = p->assign[i];
		size_t n = name_len(a, strlen(a));
		if (n && a[n] == '=')
			continue;
		snprintf(err, errlen,
			 "--param %s: give NAME=VALUE (NAME: letters, digits "
			 "and '_', not starting with a digit)",
			 a);
		return -EINVAL;
	}
	return 0;
}

static const char *param_value(const struct sp_params *p, const char *name,
			       size_t len)
{
	for (size_t i = p ? p->n : 0; i-- > 0;) {
		const char *a = p->assign[i];
		if (!strncmp(a, name, len) && a[len] == '=')
			return a + len + 1;
	}
	return NULL;
}

/* where a scalar is, for the messages */
struct where {
	struct sp_diags *d;
	const struct sp_params *p;
	uint32_t line;
	const char *stage, *option;
};

/*
 * Expands the reference at s (just after "${"), of kind "env" or "param"
 * (klen bytes), into out.  Returns the bytes of s used (up to and with the
 * closing '}'), or 0 after reporting a problem.
 */
static size_t expand_ref(const struct where *w, const char *s, size_t klen,
			 struct sp_buf *out)
{
	bool env = klen == 3;
	const char *name = s + klen + 1;
	const char *end = strchr(name, '}');
	size_t n = name_len(name, end ? (size_t)(end - name) : 0);
	const char *def = NULL;

	if (end && name + n + 1 < end && name[n] == ':' && name[n + 1] == '-')
		def = name + n + 2;
	if (!end || !n || (name + n != end && !def)) {
		int shown = end ? (int)(end - s) + 1 : (int)strlen(s);
		sp_diags_add(w->d, w->line, w->stage, w->option,
			     "bad parameter reference '${%.*s': write "
			     "${%.*s:NAME} or ${%.*s:NAME:-DEFAULT}",
			     shown > 60 ? 60 : shown, s, (int)klen, s,
			     (int)klen, s);
		return 0;
	}
	char key[128];
	snprintf(key, sizeof(key), "%.*s", (int)n, name);
	const char *v = env ? getenv(key) : param_value(w->p, name, n);
	if (env && v)
		sp_redact_add(v);
	if (!v && def) {
		sp_buf_append(out, def, (size_t)(end - def));
		return (size_t)(end - s) + 1;
	}
	if (!v) {
		if (env)
			sp_diags_add(w->d, w->line, w->stage, w->option,
				     "${env:%s}: the environment variable %s "
				     "is not set (or write ${env:%s:-DEFAULT})",
				     key, key, key);
		else
			sp_diags_add(w->d, w->line, w->stage, w->option,
				     "${param:%s} is not set: give --param "
				     "%s=VALUE (or write ${param:%s:-DEFAULT})",
				     key, key, key);
		return 0;
	}
	sp_buf_append(out, v, strlen(v));
	return (size_t)(end - s) + 1;
}

/* Expands one scalar's text in place: the number of problems. */
static int expand_text(const struct where *w, char **text)
{
	const char *s = *text;
	struct sp_buf out;
	int bad = 0;

	if (!s || !strstr(s, "${"))
		return 0;
	sp_buf_init(&out);
	while (*s) {
		size_t used = 0, klen = 0;
		if (!strncmp(s, "$${env:", 7) || !strncmp(s, "$${param:", 9)) {
			sp_buf_append(&out, "${", 2);
			s += 3;
			continue;
		}
		if (!strncmp(s, "${env:", 6))
			klen = 3;
		else if (!strncmp(s, "${param:", 8))
			klen = 5;
		if (klen) {
			used = expand_ref(w, s + 2, klen, &out);
			bad += used == 0;
			s += used ? used + 2 : strlen(s);
			continue;
		}
		sp_buf_putc(&out, *s++);
	}
	if (sp_buf_putc(&out, '\0')) {
		sp_diags_add(w->d, w->line, w->stage, w->option,
			     "out of memory");
		sp_buf_fini(&out);
		return bad + 1;
	}
	free(*text);
	*text = out.data; /* the buffer's bytes now belong to the node */
	return bad;
}

static int expand_node(struct where w, struct sp_node *n, bool stages)
{
	int bad = 0;

	if (n->kind == SP_NODE_SCALAR) {
		w.line = n->line;
		return expand_text(&w, &n->text);
	}
	for (uint32_t i = 0; i < n->n; i++) {
		struct where in = w;
		struct sp_node *c = n->items[i];
		if (n->kind == SP_NODE_MAP && !w.option)
			in.option = n->keys[i];
		if (stages && c->kind == SP_NODE_MAP) {
			const struct sp_node *id = sp_node_map_get(c, "id");
			in.stage = id && id->kind == SP_NODE_SCALAR
					   ? id->text : NULL;
			in.option = NULL;
		}
		bad += expand_node(in, c,
				   n->kind == SP_NODE_MAP && !w.stage &&
				       !strcmp(n->keys[i], "stages"));
	}
	return bad;
}

int sp_params_expand(struct sp_node *root, const struct sp_params *p,
		     struct sp_diags *d)
{
	struct where w = {.d = d, .p = p};

	return root ? expand_node(w, root, false) : 0;
}
