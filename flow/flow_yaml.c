/*
 * Flow files: a YAML flow file (parsed into a configuration tree by
 * config/yaml.c) into a struct sp_flow, and a flow back to YAML.  Writing
 * is deterministic (fixed key order, options in their given order), so
 * that load -> save -> load -> save gives the same bytes.
 */
#include "flow/flow.h"


#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "config/params.h"
#include "config/yaml.h"

#define MAX_FLOW_FILE (64u << 20)

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
			/* an option: moved over with its line (never
			 * dropped: a flow without it would run otherwise) */
			if (sp_node_map_set(s->config, key, v) == 0) {
				m->items[i] = sp_node_scalar("");
			} else {
				sp_diags_add(d, v->line, s->id, key,
					     "out of memory");
				problems++;
			}
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

static int load_text(const char *text, size_t len,
		     const struct sp_params *params, struct sp_flow **out,
		     struct sp_diags *d)
{
	struct sp_node *root = NULL;
	struct sp_flow *f;
	int r;

	*out = NULL;
	r = sp_node_parse_yaml_diags(text, len, d, NULL, 0, &root);
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
	sp_params_expand(root, params, d);
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
	return load_text(yaml, strlen(yaml), NULL, out, d);
}

int sp_flow_load_file(const char *path, struct sp_flow **out,
		      struct sp_diags *d)
{
	return sp_flow_load_file_params(path, NULL, out, d);
}

int sp_flow_load_file_params(const char *path, const struct sp_params *params,
			     struct sp_flow **out, struct sp_diags *d)
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
	r = load_text(text, len, params, out, d);
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

static void put_strlist(struct sp_buf *out, const struct sp_strlist *l)
{
	sp_buf_putc(out, '[');
	for (uint32_t i = 0; i < l->n; i++) {
		if (i)
			sp_yaml_put(out, ", ");
		sp_yaml_put_value(out, l->v[i], false);
	}
	sp_buf_putc(out, ']');
}

int sp_flow_save_yaml(const struct sp_flow *f, struct sp_buf *out)
{
	char num[32];

	if (!f || !out)
		return -EINVAL;
	sp_yaml_put(out, "name: ");
	sp_yaml_put_value(out, f->name ? f->name : "", false);
	sp_buf_putc(out, '\n');
	if (f->workers) {
		snprintf(num, sizeof(num), "%lld", (long long)f->workers);
		sp_yaml_put(out, "workers: ");
		sp_yaml_put(out, num);
		sp_buf_putc(out, '\n');
	}
	if (f->error_stage) {
		sp_yaml_put(out, "error_stage: ");
		sp_yaml_put_value(out, f->error_stage, false);
		sp_buf_putc(out, '\n');
	}
	if (f->plugins.n) {
		sp_yaml_put(out, "plugins: ");
		put_strlist(out, &f->plugins);
		sp_buf_putc(out, '\n');
	}
	if (!f->nstages) {
		sp_yaml_put(out, "stages: []\n");
		goto done;
	}
	sp_yaml_put(out, "stages:\n");
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_flow_stage *s = f->stages[i];

		sp_yaml_put(out, "  - id: ");
		sp_yaml_put_value(out, s->id, false);
		sp_yaml_put(out, "\n    type: ");
		sp_yaml_put_value(out, s->type, false);
		sp_buf_putc(out, '\n');
		if (s->inputs.n) {
			sp_yaml_put(out, "    inputs: ");
			put_strlist(out, &s->inputs);
			sp_buf_putc(out, '\n');
		}
		if (s->event_inputs.n) {
			sp_yaml_put(out, "    event_inputs: ");
			put_strlist(out, &s->event_inputs);
			sp_buf_putc(out, '\n');
		}
		if (s->on_record_error) {
			sp_yaml_put(out, "    on_record_error: ");
			sp_yaml_put_value(out, s->on_record_error, false);
			sp_buf_putc(out, '\n');
		}
		if (s->config && s->config->kind == SP_NODE_MAP)
			sp_yaml_put_map(out, s->config, 4, false);
	}
done:
	/* the buffer's allocation failures all end up here as a short len;
	 * reserve once more to report them */
	return sp_buf_reserve(out, 1) ? -ENOMEM : 0;
}

