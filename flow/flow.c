/*
 * Flows: the graph of stage instances and its validation.  A flow is built
 * by the YAML loader (flow_yaml.c) or the SDK; both only fill ids, types,
 * option trees and input references.  Validation turns that into something
 * the runtime can run: each stage's type is looked up, its options bound to
 * its config struct, its output lanes asked for, every input reference
 * resolved into an edge, and the graph checked (kinds, cycles,
 * reachability).  It reports every problem it finds, not just the first,
 * each with the line, stage and option, and can be run again after edits.
 */
#include "flow/flow.h"
#include "config/yaml.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Keys of a stage map that are not options (also offered as suggestions
 * for misspelt options). */
static const char *const stage_keys[] = {
	"id", "type", "inputs", "event_inputs", "on_record_error", NULL,
};

static const char *kind_word(enum sp_stage_kind k)
{
	switch (k) {
	case SP_ORIGIN:
		return "an origin";
	case SP_PROCESSOR:
		return "a processor";
	case SP_DESTINATION:
		return "a destination";
	case SP_EXECUTOR:
		return "an executor";
	}
	return "a stage";
}

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

static void flow_unbind(struct sp_flow *f)
{
	for (uint32_t i = 0; i < f->nstages; i++)
		stage_unbind(f->stages[i]);
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
	free(f->error_stage);
	strlist_free(&f->plugins);
	free(f);
}

struct sp_flow_stage *sp_flow_add_stage(struct sp_flow *f, const char *type,
					const char *id)
{
	struct sp_flow_stage *s;

	if (!f || !type || !id)
		return NULL;
	if (f->nstages == f->cap) {
		uint32_t cap = f->cap ? f->cap * 2 : 8;
		struct sp_flow_stage **v =
			realloc(f->stages, cap * sizeof(*v));

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

static const char *suggest_stage_id(const struct sp_flow *f, const char *id)
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
					     "integer", assignment, value);
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
		const char *sug = suggest_stage_id(f, lhs);

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

/* ---- validation ------------------------------------------------------- */

struct val {
	struct sp_flow *f;
	sp_stage_lookup_fn lookup;
	struct sp_diags *d;
	int problems;
	uint8_t *bad; /* per stage: a problem with its inputs was reported */
};

static void prob(struct val *v, uint32_t line, const char *stage,
		 const char *option, const char *fmt, ...)
	__attribute__((format(printf, 5, 6)));

static void prob(struct val *v, uint32_t line, const char *stage,
		 const char *option, const char *fmt, ...)
{
	char msg[1024];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	sp_diags_add(v->d, line, stage, option, "%s", msg);
	v->problems++;
}

static bool valid_name(const char *s, bool dash)
{
	if (!s || !*s)
		return false;
	for (; *s; s++) {
		char c = *s;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_' || (dash && c == '-')))
			return false;
	}
	return true;
}

/* A registered type one edit (insert, delete, replace, swap) from type;
 * the lookup cannot list the types, so candidates are asked for. */
static const char *suggest_type(sp_stage_lookup_fn lookup, const char *type)
{
	static const char alpha[] = "abcdefghijklmnopqrstuvwxyz_0123456789";
	const struct sp_stage_desc *desc;
	size_t len = strlen(type);
	char cand[72];

	if (!lookup || len == 0 || len > 64)
		return NULL;
	for (size_t i = 0; i + 1 < len; i++) { /* swaps */
		memcpy(cand, type, len + 1);
		cand[i] = type[i + 1];
		cand[i + 1] = type[i];
		if ((desc = lookup(cand)))
			return desc->name;
	}
	for (size_t i = 0; i < len; i++) { /* deletions */
		memcpy(cand, type, i);
		memcpy(cand + i, type + i + 1, len - i);
		if ((desc = lookup(cand)))
			return desc->name;
	}
	for (size_t i = 0; i < len; i++) { /* replacements */
		for (const char *a = alpha; *a; a++) {
			if (*a == type[i])
				continue;
			memcpy(cand, type, len + 1);
			cand[i] = *a;
			if ((desc = lookup(cand)))
				return desc->name;
		}
	}
	for (size_t i = 0; i <= len; i++) { /* insertions */
		for (const char *a = alpha; *a; a++) {
			memcpy(cand, type, i);
			cand[i] = *a;
			memcpy(cand + i + 1, type + i, len - i + 1);
			if ((desc = lookup(cand)))
				return desc->name;
		}
	}
	return NULL;
}

static void lane_list(const struct sp_flow_stage *p, char *buf, size_t len,
		      bool qualified)
{
	size_t off = 0;

	buf[0] = '\0';
	for (uint32_t i = 0; i < p->nlanes && off < len; i++)
		off += (size_t)snprintf(buf + off, len - off, "%s%s%s%s",
					i ? ", " : "", qualified ? p->id : "",
					qualified ? "." : "", p->lanes[i]);
}

static void bind_stage(struct val *v, struct sp_flow_stage *s)
{
	const struct sp_stage_desc *desc;
	int n;

	desc = v->lookup ? v->lookup(s->type) : NULL;
	if (!desc) {
		const char *sug = suggest_type(v->lookup, s->type);

		if (sug)
			prob(v, s->line, s->id, NULL,
			     "unknown stage type '%s' (did you mean '%s'?)",
			     s->type, sug);
		else
			prob(v, s->line, s->id, NULL,
			     "unknown stage type '%s'", s->type);
		return;
	}
	if (desc->abi == 0 || desc->abi > SP_STAGE_ABI) {
		prob(v, s->line, s->id, NULL,
		     "stage type '%s' was built for stage ABI %u; this spate "
		     "has ABI %u", s->type, desc->abi, SP_STAGE_ABI);
		return;
	}
	s->desc = desc;
	s->bound = calloc(1, desc->config_size ? desc->config_size : 1);
	if (!s->bound) {
		prob(v, s->line, s->id, NULL, "out of memory");
		return;
	}
	n = sp_options_bind(desc->options, s->config, stage_keys, s->bound,
			    s->id, v->d);
	if (n) {
		v->problems += n;
		sp_options_free(desc->options, s->bound);
		free(s->bound);
		s->bound = NULL;
		return;
	}
	if (desc->lanes)
		s->nlanes = desc->lanes(s->bound, s->lanes, SP_MAX_LANES);
	if (s->nlanes > SP_MAX_LANES)
		s->nlanes = SP_MAX_LANES;
	if (s->nlanes == 0) {
		s->nlanes = 1;
		s->lanes[0] = "";
	}
}

static void resolve_on_error(struct val *v, struct sp_flow_stage *s,
			     bool is_error_stage)
{
	static const char *const choices[] = { "to_error", "discard", "stop" };
	bool has_error = v->f->error_stage != NULL;
	const char *e = s->on_record_error;
	uint32_t line = s->line_on_record_error ? s->line_on_record_error
						 : s->line;

	if (!e) {
		s->on_error = has_error && !is_error_stage
				      ? SP_ON_ERROR_TO_ERROR
				      : SP_ON_ERROR_DISCARD;
		return;
	}
	for (int i = 0; i < 3; i++) {
		if (strcmp(e, choices[i]) != 0)
			continue;
		s->on_error = (enum sp_on_error)i;
		if (i == SP_ON_ERROR_TO_ERROR && !has_error)
			prob(v, line, s->id, "on_record_error",
			     "to_error needs an error_stage in the flow");
		else if (i == SP_ON_ERROR_TO_ERROR && is_error_stage)
			prob(v, line, s->id, "on_record_error",
			     "the error stage cannot send errors to itself");
		return;
	}
	{
		const char *sug = sp_suggest(e, choices, 3);

		if (sug)
			prob(v, line, s->id, "on_record_error",
			     "\"%s\" is not one of discard, to_error, stop "
			     "(did you mean %s?)", e, sug);
		else
			prob(v, line, s->id, "on_record_error",
			     "\"%s\" is not one of discard, to_error, stop",
			     e);
	}
}

static uint32_t find_index(const struct sp_flow *f, const char *id,
			   size_t len)
{
	for (uint32_t i = 0; i < f->nstages; i++)
		if (strlen(f->stages[i]->id) == len &&
		    memcmp(f->stages[i]->id, id, len) == 0)
			return i;
	return UINT32_MAX;
}

static bool edge_exists(const struct sp_edge *e, uint32_t n, uint32_t from,
			uint32_t lane, uint32_t to)
{
	for (uint32_t i = 0; i < n; i++)
		if (e[i].from == from && e[i].lane == lane && e[i].to == to)
			return true;
	return false;
}

static bool listed_before(const struct sp_strlist *l, uint32_t k,
			  const char *ref)
{
	for (uint32_t j = 0; j < k; j++)
		if (strcmp(l->v[j], ref) == 0)
			return true;
	return false;
}

static void resolve_inputs(struct val *v, uint32_t i)
{
	struct sp_flow *f = v->f;
	struct sp_flow_stage *s = f->stages[i];

	for (uint32_t k = 0; k < s->inputs.n; k++) {
		const char *ref = s->inputs.v[k];
		const char *dot = strchr(ref, '.');
		const char *lane = dot ? dot + 1 : NULL;
		size_t idlen = dot ? (size_t)(dot - ref) : strlen(ref);
		struct sp_flow_stage *p;
		uint32_t pi, li = 0;
		char lanes[512];

		pi = find_index(f, ref, idlen);
		if (pi == UINT32_MAX) {
			char *pid = strndup(ref, idlen);
			const char *sug =
				pid ? suggest_stage_id(f, pid) : NULL;

			if (sug)
				prob(v, s->line, s->id, NULL,
				     "input '%s': no stage '%s' in this flow "
				     "(did you mean '%s'?)",
				     ref, pid, sug);
			else
				prob(v, s->line, s->id, NULL,
				     "input '%s': no stage '%s' in this flow",
				     ref, pid ? pid : ref);
			free(pid);
			v->bad[i] = 1;
			continue;
		}
		p = f->stages[pi];
		if (pi == i) {
			prob(v, s->line, s->id, NULL,
			     "input '%s': a stage cannot be its own input",
			     ref);
			v->bad[i] = 1;
			continue;
		}
		if (p->desc && (p->desc->kind == SP_DESTINATION ||
				p->desc->kind == SP_EXECUTOR)) {
			prob(v, s->line, s->id, NULL,
			     "input '%s': stage '%s' is %s and has no output "
			     "(only origins and processors do)",
			     ref, p->id, kind_word(p->desc->kind));
			v->bad[i] = 1;
			continue;
		}
		if (p->bound && p->nlanes == 1 && !p->lanes[0][0]) {
			if (lane) {
				prob(v, s->line, s->id, NULL,
				     "input '%s': stage '%s' has a single "
				     "output without lanes; use '%s'",
				     ref, p->id, p->id);
				v->bad[i] = 1;
				continue;
			}
		} else if (p->bound) {
			if (!lane) {
				lane_list(p, lanes, sizeof(lanes), true);
				prob(v, s->line, s->id, NULL,
				     "input '%s': stage '%s' has lanes; name "
				     "one: %s", ref, p->id, lanes);
				v->bad[i] = 1;
				continue;
			}
			for (li = 0; li < p->nlanes; li++)
				if (strcmp(p->lanes[li], lane) == 0)
					break;
			if (li == p->nlanes) {
				lane_list(p, lanes, sizeof(lanes), false);
				prob(v, s->line, s->id, NULL,
				     "input '%s': stage '%s' has no lane '%s' "
				     "(lanes: %s)", ref, p->id, lane, lanes);
				v->bad[i] = 1;
				continue;
			}
		}
		/* an unknown or unbound producer still gets its edge (lane
		 * 0) so that the graph checks below see the connection */
		/* (unbound producers put every lane on 0: compare names) */
		if (p->bound ? edge_exists(f->edges, f->nedges, pi, li, i)
			     : listed_before(&s->inputs, k, ref)) {
			prob(v, s->line, s->id, NULL,
			     "input '%s' is listed twice", ref);
			continue;
		}
		f->edges[f->nedges++] = (struct sp_edge){ pi, li, i };
	}

	for (uint32_t k = 0; k < s->event_inputs.n; k++) {
		const char *ref = s->event_inputs.v[k];
		uint32_t pi = find_index(f, ref, strlen(ref));

		if (pi == UINT32_MAX) {
			const char *sug = suggest_stage_id(f, ref);

			if (strchr(ref, '.'))
				prob(v, s->line, s->id, NULL,
				     "event input '%s': events have no lanes; "
				     "name the stage only", ref);
			else if (sug)
				prob(v, s->line, s->id, NULL,
				     "event input '%s': no stage '%s' in this "
				     "flow (did you mean '%s'?)", ref, ref,
				     sug);
			else
				prob(v, s->line, s->id, NULL,
				     "event input '%s': no stage '%s' in this "
				     "flow", ref, ref);
			v->bad[i] = 1;
			continue;
		}
		if (pi == i) {
			prob(v, s->line, s->id, NULL,
			     "event input '%s': a stage cannot take its own "
			     "events", ref);
			v->bad[i] = 1;
			continue;
		}
		if (edge_exists(f->event_edges, f->nevent_edges, pi, 0, i)) {
			prob(v, s->line, s->id, NULL,
			     "event input '%s' is listed twice", ref);
			continue;
		}
		f->event_edges[f->nevent_edges++] =
			(struct sp_edge){ pi, 0, i };
	}
}

static void check_kind(struct val *v, uint32_t i)
{
	struct sp_flow_stage *s = v->f->stages[i];
	bool is_err = i == v->f->error_stage_index;

	if (!s->desc)
		return;
	switch (s->desc->kind) {
	case SP_ORIGIN:
		if (s->inputs.n)
			prob(v, s->line, s->id, NULL,
			     "an origin cannot have inputs");
		break;
	case SP_PROCESSOR:
		if (!s->inputs.n)
			prob(v, s->line, s->id, NULL,
			     "a processor needs inputs");
		break;
	case SP_DESTINATION:
		if (!s->inputs.n && !s->event_inputs.n && !is_err)
			prob(v, s->line, s->id, NULL,
			     "a destination needs inputs");
		break;
	case SP_EXECUTOR:
		if (s->inputs.n)
			prob(v, s->line, s->id, NULL,
			     "an executor takes event_inputs, not inputs");
		else if (!s->event_inputs.n)
			prob(v, s->line, s->id, NULL,
			     "an executor needs event_inputs");
		break;
	}
	if (s->event_inputs.n && (s->desc->kind == SP_ORIGIN ||
				  s->desc->kind == SP_PROCESSOR))
		prob(v, s->line, s->id, NULL,
		     "%s cannot take event_inputs (only executors and "
		     "destinations do)", kind_word(s->desc->kind));
}

/* Outgoing edges (data and event) in CSR form. */
struct graph {
	uint32_t *start; /* n + 1 */
	uint32_t *to;
};

static int graph_build(const struct sp_flow *f, struct graph *g)
{
	uint32_t n = f->nstages, m = f->nedges + f->nevent_edges;

	g->start = calloc(n + 1, sizeof(uint32_t));
	g->to = calloc(m ? m : 1, sizeof(uint32_t));
	if (!g->start || !g->to)
		return -ENOMEM;
	for (uint32_t k = 0; k < f->nedges; k++)
		g->start[f->edges[k].from + 1]++;
	for (uint32_t k = 0; k < f->nevent_edges; k++)
		g->start[f->event_edges[k].from + 1]++;
	for (uint32_t i = 0; i < n; i++)
		g->start[i + 1] += g->start[i];
	{
		uint32_t *fill = calloc(n ? n : 1, sizeof(uint32_t));

		if (!fill)
			return -ENOMEM;
		for (uint32_t k = 0; k < f->nedges; k++) {
			uint32_t a = f->edges[k].from;

			g->to[g->start[a] + fill[a]++] = f->edges[k].to;
		}
		for (uint32_t k = 0; k < f->nevent_edges; k++) {
			uint32_t a = f->event_edges[k].from;

			g->to[g->start[a] + fill[a]++] = f->event_edges[k].to;
		}
		free(fill);
	}
	return 0;
}

/* Iterative DFS; each back edge is one cycle, reported with its stages.
 * Stages on a cycle are marked in on_cycle. */
static int check_cycles(struct val *v, const struct graph *g,
			uint8_t *on_cycle)
{
	const struct sp_flow *f = v->f;
	uint32_t n = f->nstages;
	uint8_t *color = calloc(n ? n : 1, 1); /* 0 new, 1 open, 2 done */
	uint32_t *stack = calloc(n ? n : 1, sizeof(uint32_t));
	uint32_t *next = calloc(n ? n : 1, sizeof(uint32_t));
	int r = 0;

	if (!color || !stack || !next) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t root = 0; root < n; root++) {
		uint32_t sp = 0;

		if (color[root])
			continue;
		stack[sp++] = root;
		color[root] = 1;
		next[root] = g->start[root];
		while (sp) {
			uint32_t u = stack[sp - 1];

			if (next[u] == g->start[u + 1]) {
				color[u] = 2;
				sp--;
				continue;
			}
			uint32_t w = g->to[next[u]++];

			if (color[w] == 0) {
				color[w] = 1;
				next[w] = g->start[w];
				stack[sp++] = w;
			} else if (color[w] == 1) {
				struct sp_buf b;
				uint32_t k = sp;

				while (k > 0 && stack[k - 1] != w)
					k--;
				sp_buf_init(&b);
				for (uint32_t j = k - 1; j < sp; j++) {
					const char *id = f->stages[stack[j]]->id;

					on_cycle[stack[j]] = 1;
					sp_buf_append(&b, id, strlen(id));
					sp_buf_append(&b, " -> ", 4);
				}
				sp_buf_append(&b, f->stages[w]->id,
					      strlen(f->stages[w]->id));
				sp_buf_putc(&b, '\0');
				prob(v, f->stages[w]->line, NULL, NULL,
				     "cycle: %s", b.data ? b.data : "?");
				sp_buf_fini(&b);
			}
		}
	}
out:
	free(color);
	free(stack);
	free(next);
	return r;
}

static int check_reachable(struct val *v, const struct graph *g,
			   const uint8_t *on_cycle)
{
	const struct sp_flow *f = v->f;
	uint32_t n = f->nstages, head = 0, tail = 0;
	uint8_t *seen = calloc(n ? n : 1, 1);
	uint8_t *fed = calloc(n ? n : 1, 1);
	uint32_t *queue = calloc(n ? n : 1, sizeof(uint32_t));
	int r = 0;

	if (!seen || !fed || !queue) {
		r = -ENOMEM;
		goto out;
	}
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_flow_stage *s = f->stages[i];

		/* a stage of unknown type may be an origin: what it feeds
		 * is not reported as unreachable on top of the unknown type */
		if (!s->desc || s->desc->kind == SP_ORIGIN ||
		    i == f->error_stage_index) {
			seen[i] = 1;
			queue[tail++] = i;
		}
	}
	while (head < tail) {
		uint32_t u = queue[head++];

		for (uint32_t k = g->start[u]; k < g->start[u + 1]; k++) {
			uint32_t w = g->to[k];

			fed[w] = 1;
			if (!seen[w]) {
				seen[w] = 1;
				queue[tail++] = w;
			}
		}
	}
	for (uint32_t k = 0; k < f->nedges; k++)
		fed[f->edges[k].to] = 1;
	for (uint32_t k = 0; k < f->nevent_edges; k++)
		fed[f->event_edges[k].to] = 1;
	for (uint32_t i = 0; i < n; i++) {
		const struct sp_flow_stage *s = f->stages[i];

		/* stages whose inputs already have a problem are left to
		 * that message */
		if (seen[i] || !fed[i] || on_cycle[i] || v->bad[i] || !s->desc)
			continue;
		prob(v, s->line, s->id, NULL,
		     "unreachable: no origin feeds this stage");
	}
out:
	free(seen);
	free(fed);
	free(queue);
	return r;
}

int sp_flow_validate(struct sp_flow *f, sp_stage_lookup_fn lookup,
		     struct sp_diags *d)
{
	struct val v = { .f = f, .lookup = lookup, .d = d };
	struct graph g = { 0 };
	uint8_t *on_cycle = NULL;
	uint32_t nin = 0, nev = 0;

	if (!f)
		return -EINVAL;
	flow_unbind(f);

	if (!f->name)
		prob(&v, f->line_name, NULL, NULL, "the flow has no name");
	else if (!valid_name(f->name, true))
		prob(&v, f->line_name, NULL, NULL,
		     "flow name '%s' may only use letters, digits, '_' and "
		     "'-'", f->name);
	if (f->workers < 0 || f->workers > 1024 ||
	    (f->workers == 0 && f->line_workers))
		prob(&v, f->line_workers, NULL, NULL,
		     "workers: %lld is out of range (1..1024)",
		     (long long)f->workers);
	if (!f->nstages)
		prob(&v, 0, NULL, NULL, "the flow has no stages");

	v.bad = calloc(f->nstages ? f->nstages : 1, 1);
	if (!v.bad)
		return -ENOMEM;

	for (uint32_t i = 0; i < f->nstages; i++) {
		struct sp_flow_stage *s = f->stages[i];
		uint32_t first;

		nin += s->inputs.n;
		nev += s->event_inputs.n;
		if (!valid_name(s->id, false)) {
			prob(&v, s->line, NULL, NULL,
			     "stage id '%s' may only use letters, digits and "
			     "'_'", s->id);
		}
		first = find_index(f, s->id, strlen(s->id));
		if (first != i) {
			if (f->stages[first]->line)
				prob(&v, s->line, NULL, NULL,
				     "duplicate stage id '%s' (first at line "
				     "%u)", s->id, f->stages[first]->line);
			else
				prob(&v, s->line, NULL, NULL,
				     "duplicate stage id '%s'", s->id);
		}
		bind_stage(&v, s);
	}

	if (f->error_stage) {
		uint32_t ei = find_index(f, f->error_stage,
					 strlen(f->error_stage));

		if (ei == UINT32_MAX) {
			const char *sug = suggest_stage_id(f, f->error_stage);

			if (sug)
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is not a stage of this "
				     "flow (did you mean '%s'?)",
				     f->error_stage, sug);
			else
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is not a stage of this "
				     "flow", f->error_stage);
		} else {
			const struct sp_flow_stage *es = f->stages[ei];

			f->error_stage_index = ei;
			if (es->desc && es->desc->kind != SP_DESTINATION)
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is %s; it must be a "
				     "destination", es->id,
				     kind_word(es->desc->kind));
		}
	}

	f->edges = calloc(nin ? nin : 1, sizeof(*f->edges));
	f->event_edges = calloc(nev ? nev : 1, sizeof(*f->event_edges));
	on_cycle = calloc(f->nstages ? f->nstages : 1, 1);
	if (!f->edges || !f->event_edges || !on_cycle)
		goto nomem;
	for (uint32_t i = 0; i < f->nstages; i++) {
		resolve_on_error(&v, f->stages[i], i == f->error_stage_index);
		check_kind(&v, i);
		resolve_inputs(&v, i);
	}
	if (graph_build(f, &g) || check_cycles(&v, &g, on_cycle) ||
	    check_reachable(&v, &g, on_cycle))
		goto nomem;

	free(g.start);
	free(g.to);
	free(on_cycle);
	free(v.bad);
	f->valid = v.problems == 0;
	return v.problems;
nomem:
	free(g.start);
	free(g.to);
	free(on_cycle);
	free(v.bad);
	flow_unbind(f);
	sp_diags_add(d, 0, NULL, NULL, "out of memory");
	return -ENOMEM;
}
