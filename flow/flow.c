/*
 * Flows: the graph of stage instances.  A flow is built by the YAML loader
 * (flow_yaml.c) or the SDK; both only fill ids, types, option trees and
 * input references, through the functions here (create, add, find,
 * remove, --set overrides).  flow_validate.c turns it into something the
 * runtime can run.
 */
#include "flow/flow_internal.h"

/* ---- building and editing --------------------------------------------- */

struct sp_flow *sp_flow_create(const char *name)
{
	struct sp_flow *f = calloc(1, sizeof(*f));

	if (!f)
		return NULL;
	f->dir = strdup(".");
	if (name)
		f->name = strdup(name);
	if (!f->dir || (name && !f->name)) {
		free(f->dir);
		free(f->name);
		free(f);
		return NULL;
	}
	f->error_stage_index = UINT32_MAX;
	return f;
}

static void strlist_free(struct sp_strlist *l)
{
	for (uint32_t i = 0; i < l->n; i++)
		free(l->v[i]);
	free(l->v);
	l->v = NULL;
	l->n = 0;
}

static void stage_unbind(struct sp_flow_stage *s)
{
	if (s->bound) {
		if (s->desc)
			sp_options_free(s->desc->options, s->bound);
		free(s->bound);
		s->bound = NULL;
	}
	s->nlanes = 0;
	memset(s->lanes, 0, sizeof(s->lanes));
	s->desc = NULL;
}

void flow_unbind(struct sp_flow *f)
{
	for (uint32_t i = 0; i < f->nstages; i++)
		stage_unbind(f->stages[i]);
	/* after the stages: their compiled options hold its symbols */
	sp_symtab_destroy(f->symtab);
	f->symtab = NULL;
	free(f->edges);
	free(f->event_edges);
	f->edges = f->event_edges = NULL;
	f->nedges = f->nevent_edges = 0;
	f->error_stage_index = UINT32_MAX;
	f->valid = false;
}

static void stage_free(struct sp_flow_stage *s)
{
	if (!s)
		return;
	stage_unbind(s);
	free(s->id);
	free(s->type);
	sp_node_free(s->config);
	free(s->on_record_error);
	strlist_free(&s->inputs);
	strlist_free(&s->event_inputs);
	free(s);
}

void sp_flow_destroy(struct sp_flow *f)
{
	if (!f)
		return;
	flow_unbind(f);
	for (uint32_t i = 0; i < f->nstages; i++)
		stage_free(f->stages[i]);
	free(f->stages);
	free(f->name);
	free(f->file);
	free(f->dir);
	free(f->catalog);
	free(f->error_stage);
	strlist_free(&f->plugins);
	free(f);
}

int sp_flow_set_catalog(struct sp_flow *f, const char *path)
{
	char *c = NULL;

	if (!f)
		return -EINVAL;
	if (path && !(c = strdup(path)))
		return -ENOMEM;
	free(f->catalog);
	f->catalog = c;
	return 0;
}

struct sp_flow_stage *sp_flow_add_stage(struct sp_flow *f, const char *type,
					const char *id)
{
	struct sp_flow_stage *s;

	if (!f || !type || !id)
		return NULL;
	if (f->nstages == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 8;
		struct sp_flow_stage **v = realloc(f->stages, cap * sizeof(*v));

		if (!v)
			return NULL;
		f->stages = v;
		f->cap = cap;
	}
	s = calloc(1, sizeof(*s));
	if (!s)
		return NULL;
	s->id = strdup(id);
	s->type = strdup(type);
	s->config = sp_node_map();
	if (!s->id || !s->type || !s->config) {
		stage_free(s);
		return NULL;
	}
	flow_unbind(f);
	f->stages[f->nstages++] = s;
	return s;
}

struct sp_flow_stage *sp_flow_find(const struct sp_flow *f, const char *id)
{
	for (uint32_t i = 0; f && id && i < f->nstages; i++)
		if (strcmp(f->stages[i]->id, id) == 0)
			return f->stages[i];
	return NULL;
}

uint32_t sp_flow_index(const struct sp_flow *f, const struct sp_flow_stage *s)
{
	for (uint32_t i = 0; f && i < f->nstages; i++)
		if (f->stages[i] == s)
			return i;
	return UINT32_MAX;
}

/* Does reference ref ("id" or "id.lane") name stage id? */
static bool ref_names(const char *ref, const char *id)
{
	size_t n = strlen(id);

	return strncmp(ref, id, n) == 0 && (ref[n] == '\0' || ref[n] == '.');
}

/* Drops the entries of l that name stage id. */
static void strlist_drop_refs(struct sp_strlist *l, const char *id)
{
	uint32_t w = 0;

	for (uint32_t i = 0; i < l->n; i++) {
		if (ref_names(l->v[i], id))
			free(l->v[i]);
		else
			l->v[w++] = l->v[i];
	}
	l->n = w;
}

int sp_flow_remove_stage(struct sp_flow *f, const char *id)
{
	struct sp_flow_stage *s = sp_flow_find(f, id);
	uint32_t i;

	if (!s)
		return -ENOENT;
	flow_unbind(f);
	i = sp_flow_index(f, s);
	memmove(f->stages + i, f->stages + i + 1,
		(f->nstages - i - 1) * sizeof(*f->stages));
	f->nstages--;
	/* removing a stage disconnects it from every stage that used it */
	for (i = 0; i < f->nstages; i++) {
		strlist_drop_refs(&f->stages[i]->inputs, s->id);
		strlist_drop_refs(&f->stages[i]->event_inputs, s->id);
	}
	if (f->error_stage && strcmp(f->error_stage, s->id) == 0) {
		free(f->error_stage);
		f->error_stage = NULL;
	}
	stage_free(s);
	return 0;
}

const char *flow_suggest_stage_id(const struct sp_flow *f, const char *id)
{
	const char *names[512];
	size_t n = 0;

	for (uint32_t i = 0; i < f->nstages && n < 512; i++)
		names[n++] = f->stages[i]->id;
	return sp_suggest(id, names, n);
}

int sp_flow_set_option(struct sp_flow *f, const char *assignment,
		       struct sp_diags *d)
{
	const char *eq = assignment ? strchr(assignment, '=') : NULL;
	const char *value, *dot, *sub;
	struct sp_flow_stage *s;
	struct sp_node *v, *opt;
	char *lhs, *option;
	char err[256] = "";
	int r = -EINVAL;

	if (!f || !eq || eq == assignment) {
		sp_diags_add(d, 0, NULL, NULL,
			     "--set '%s': expected stage.option=value",
			     assignment ? assignment : "");
		return -EINVAL;
	}
	lhs = strndup(assignment, (size_t)(eq - assignment));
	if (!lhs)
		return -ENOMEM;
	value = eq + 1;
	dot = strchr(lhs, '.');
	if (!dot) {
		/* flow-level keys */
		if (strcmp(lhs, "workers") == 0) {
			int64_t w;

			if (sp_parse_int(value, &w)) {
				sp_diags_add(d, 0, NULL, NULL,
					     "--set '%s': \"%s\" is not an "
					     "integer",
					     assignment, value);
				goto out;
			}
			f->workers = w;
			r = 0;
		} else if (strcmp(lhs, "error_stage") == 0) {
			char *e = strdup(value);

			if (!e) {
				r = -ENOMEM;
				goto out;
			}
			free(f->error_stage);
			f->error_stage = e;
			r = 0;
		} else {
			sp_diags_add(d, 0, NULL, NULL,
				     "--set '%s': expected stage.option=value "
				     "(or workers=N, error_stage=ID)",
				     assignment);
		}
		goto out;
	}
	lhs[dot - lhs] = '\0';
	option = lhs + (dot - lhs) + 1;
	s = sp_flow_find(f, lhs);
	if (!s) {
		const char *sug = flow_suggest_stage_id(f, lhs);

		if (sug)
			sp_diags_add(d, 0, NULL, NULL,
				     "--set '%s': no stage '%s' in this flow "
				     "(did you mean '%s'?)",
				     assignment, lhs, sug);
		else
			sp_diags_add(d, 0, NULL, NULL,
				     "--set '%s': no stage '%s' in this flow",
				     assignment, lhs);
		goto out;
	}
	/* stage.option.key sets one entry of a map option */
	sub = strchr(option, '.');
	if (sub)
		option[sub - option] = '\0', sub++;
	if (!*option) {
		sp_diags_add(d, 0, s->id, NULL, "--set '%s': no option named",
			     assignment);
		goto out;
	}
	if (strcmp(option, "on_record_error") == 0 && !sub) {
		char *e = strdup(value);

		if (!e) {
			r = -ENOMEM;
			goto out;
		}
		free(s->on_record_error);
		s->on_record_error = e;
		r = 0;
		goto out;
	}
	if (strcmp(option, "id") == 0 || strcmp(option, "type") == 0 ||
	    strcmp(option, "inputs") == 0 ||
	    strcmp(option, "event_inputs") == 0) {
		sp_diags_add(d, 0, s->id, option,
			     "--set can change options, not the graph");
		goto out;
	}
	if (value[0] == '[' || value[0] == '{') {
		v = sp_node_parse_yaml(value, err, sizeof(err));
		if (!v) {
			sp_diags_add(d, 0, s->id, option, "--set '%s': %s",
				     assignment, err);
			goto out;
		}
		v->line = 0;
	} else {
		v = sp_node_scalar(value);
		if (!v) {
			r = -ENOMEM;
			goto out;
		}
	}
	if (sub) {
		opt = sp_node_map_get(s->config, option);
		if (!opt || opt->kind != SP_NODE_MAP) {
			struct sp_node *m = sp_node_map();

			if (!m || sp_node_map_set(s->config, option, m)) {
				sp_node_free(m);
				sp_node_free(v);
				r = -ENOMEM;
				goto out;
			}
			opt = m;
		}
		r = sp_node_map_set(opt, sub, v);
	} else {
		r = sp_node_map_set(s->config, option, v);
	}
	if (r)
		sp_node_free(v);
	flow_unbind(f);
out:
	free(lhs);
	return r;
}
