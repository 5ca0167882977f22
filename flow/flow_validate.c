/*
 * Flow validation: each stage's type is looked up, its options bound to
 * its config struct, its output lanes asked for, every input reference
 * resolved into an edge, and the graph checked (kinds, cycles,
 * reachability).  It reports every problem it finds, not just the first,
 * each with the line, stage and option, and can be run again after edits.
 */
#include "flow/flow_internal.h"

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
		if ((desc = lookup(cand, false)))
			return desc->name;
	}
	for (size_t i = 0; i < len; i++) { /* deletions */
		memcpy(cand, type, i);
		memcpy(cand + i, type + i + 1, len - i);
		if ((desc = lookup(cand, false)))
			return desc->name;
	}
	for (size_t i = 0; i < len; i++) { /* replacements */
		for (const char *a = alpha; *a; a++) {
			if (*a == type[i])
				continue;
			memcpy(cand, type, len + 1);
			cand[i] = *a;
			if ((desc = lookup(cand, false)))
				return desc->name;
		}
	}
	for (size_t i = 0; i <= len; i++) { /* insertions */
		for (const char *a = alpha; *a; a++) {
			memcpy(cand, type, i);
			cand[i] = *a;
			memcpy(cand + i + 1, type + i, len - i + 1);
			if ((desc = lookup(cand, false)))
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

/* Options that do not bind to a type name that is an origin and a
 * destination may mean the stage stands in the wrong place: say how the
 * kind is chosen. */
static void both_kinds_hint(struct val *v, const struct sp_flow_stage *s,
			    const struct sp_stage_desc *desc)
{
	static const char *const kinds[] = {"origin", "processor",
					    "destination", "executor"};
	const struct sp_stage_desc *other =
	    v->lookup(s->type, desc->kind != SP_ORIGIN);
	enum sp_stage_kind k;

	if (!other || other == desc)
		return;
	k = desc->kind == SP_ORIGIN ? other->kind : desc->kind;
	prob(v, s->line, s->id, NULL,
	     "stage type '%s' is an origin when the stage has no inputs and "
	     "a %s when it has inputs; this one is read as the %s",
	     s->type, kinds[k], kinds[desc->kind]);
}

/* A stage without inputs of any kind that is not the error stage stands
 * where an origin stands: that picks the origin of a type name that is
 * both (postgres). */
static bool placed_as_origin(const struct sp_flow *f,
			     const struct sp_flow_stage *s)
{
	return !s->inputs.n && !s->event_inputs.n &&
	       !(f->error_stage && !strcmp(f->error_stage, s->id));
}

static void bind_stage(struct val *v, struct sp_flow_stage *s)
{
	const struct sp_stage_desc *desc;
	int n;

	desc = v->lookup ? v->lookup(s->type, placed_as_origin(v->f, s)) : NULL;
	if (!desc) {
		const char *sug = suggest_type(v->lookup, s->type);

		if (sug)
			prob(v, s->line, s->id, NULL,
			     "unknown stage type '%s' (did you mean '%s'?)",
			     s->type, sug);
		else
			prob(v, s->line, s->id, NULL, "unknown stage type '%s'",
			     s->type);
		return;
	}
	if (desc->abi == 0 || desc->abi > SP_STAGE_ABI) {
		prob(v, s->line, s->id, NULL,
		     "stage type '%s' was built for stage ABI %u; this spate "
		     "has ABI %u",
		     s->type, desc->abi, SP_STAGE_ABI);
		return;
	}
	s->desc = desc;
	s->bound = calloc(1, desc->config_size ? desc->config_size : 1);
	if (!s->bound) {
		prob(v, s->line, s->id, NULL, "out of memory");
		return;
	}
	n = sp_options_bind(desc->options, s->config, stage_keys, s->bound,
			    s->id, v->f->symtab, v->d);
	if (n) {
		v->problems += n;
		both_kinds_hint(v, s, desc);
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
	static const char *const choices[] = {"to_error", "discard", "stop"};
	bool has_error = v->f->error_stage != NULL;
	const char *e = s->on_record_error;
	uint32_t line =
	    s->line_on_record_error ? s->line_on_record_error : s->line;

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
			     "(did you mean %s?)",
			     e, sug);
		else
			prob(v, line, s->id, "on_record_error",
			     "\"%s\" is not one of discard, to_error, stop", e);
	}
}

static uint32_t find_index(const struct sp_flow *f, const char *id, size_t len)
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
			    pid ? flow_suggest_stage_id(f, pid) : NULL;

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
				     "one: %s",
				     ref, p->id, lanes);
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
				     "(lanes: %s)",
				     ref, p->id, lane, lanes);
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
		f->edges[f->nedges++] = (struct sp_edge){pi, li, i};
	}

	for (uint32_t k = 0; k < s->event_inputs.n; k++) {
		const char *ref = s->event_inputs.v[k];
		uint32_t pi = find_index(f, ref, strlen(ref));

		if (pi == UINT32_MAX) {
			const char *sug = flow_suggest_stage_id(f, ref);

			if (strchr(ref, '.'))
				prob(v, s->line, s->id, NULL,
				     "event input '%s': events have no lanes; "
				     "name the stage only",
				     ref);
			else if (sug)
				prob(v, s->line, s->id, NULL,
				     "event input '%s': no stage '%s' in this "
				     "flow (did you mean '%s'?)",
				     ref, ref, sug);
			else
				prob(v, s->line, s->id, NULL,
				     "event input '%s': no stage '%s' in this "
				     "flow",
				     ref, ref);
			v->bad[i] = 1;
			continue;
		}
		if (pi == i) {
			prob(v, s->line, s->id, NULL,
			     "event input '%s': a stage cannot take its own "
			     "events",
			     ref);
			v->bad[i] = 1;
			continue;
		}
		if (edge_exists(f->event_edges, f->nevent_edges, pi, 0, i)) {
			prob(v, s->line, s->id, NULL,
			     "event input '%s' is listed twice", ref);
			continue;
		}
		f->event_edges[f->nevent_edges++] = (struct sp_edge){pi, 0, i};
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
	if (s->event_inputs.n &&
	    (s->desc->kind == SP_ORIGIN || s->desc->kind == SP_PROCESSOR))
		prob(v, s->line, s->id, NULL,
		     "%s cannot take event_inputs (only executors and "
		     "destinations do)",
		     kind_word(s->desc->kind));
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
static int check_cycles(struct val *v, const struct graph *g, uint8_t *on_cycle)
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
					const char *id =
					    f->stages[stack[j]]->id;

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
	struct val v = {.f = f, .lookup = lookup, .d = d};
	struct graph g = {0};
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
		     "'-'",
		     f->name);
	if (f->workers < 0 || f->workers > 1024 ||
	    (f->workers == 0 && f->line_workers))
		prob(&v, f->line_workers, NULL, NULL,
		     "workers: %lld is out of range (1..1024)",
		     (long long)f->workers);
	if (!f->nstages)
		prob(&v, 0, NULL, NULL, "the flow has no stages");

	v.bad = calloc(f->nstages ? f->nstages : 1, 1);
	f->symtab = sp_symtab_create();
	if (!v.bad || !f->symtab) {
		free(v.bad);
		flow_unbind(f);
		return -ENOMEM;
	}

	for (uint32_t i = 0; i < f->nstages; i++) {
		struct sp_flow_stage *s = f->stages[i];
		uint32_t first;

		nin += s->inputs.n;
		nev += s->event_inputs.n;
		if (!valid_name(s->id, false)) {
			prob(&v, s->line, NULL, NULL,
			     "stage id '%s' may only use letters, digits and "
			     "'_'",
			     s->id);
		}
		first = find_index(f, s->id, strlen(s->id));
		if (first != i) {
			if (f->stages[first]->line)
				prob(&v, s->line, NULL, NULL,
				     "duplicate stage id '%s' (first at line "
				     "%u)",
				     s->id, f->stages[first]->line);
			else
				prob(&v, s->line, NULL, NULL,
				     "duplicate stage id '%s'", s->id);
		}
		bind_stage(&v, s);
	}

	if (f->error_stage) {
		uint32_t ei =
		    find_index(f, f->error_stage, strlen(f->error_stage));

		if (ei == UINT32_MAX) {
			const char *sug =
			    flow_suggest_stage_id(f, f->error_stage);

			if (sug)
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is not a stage of this "
				     "flow (did you mean '%s'?)",
				     f->error_stage, sug);
			else
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is not a stage of this "
				     "flow",
				     f->error_stage);
		} else {
			const struct sp_flow_stage *es = f->stages[ei];

			f->error_stage_index = ei;
			if (es->desc && es->desc->kind != SP_DESTINATION)
				prob(&v, f->line_error_stage, NULL, NULL,
				     "error_stage '%s' is %s; it must be a "
				     "destination",
				     es->id, kind_word(es->desc->kind));
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
	if (!f->shape_only) {
		int n = flow_check_stages(f, d);

		if (n < 0)
			goto nomem;
		v.problems += n;
	}

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
