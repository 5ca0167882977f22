/*
 * The C SDK, connections: the StreamSets-style calls that connect and
 * disconnect outputs, inputs and events (returning the other stage, so
 * calls chain), and that list a stage's inputs, outputs and events.
 */
#include "sdk/sdk_internal.h"

/* ---- connections -------------------------------------------------------- */

static int strlist_add_unique(struct sp_strlist *l, const char *v)
{
	char **nv, *c;

	for (uint32_t i = 0; i < l->n; i++)
		if (strcmp(l->v[i], v) == 0)
			return 0;
	c = strdup(v);
	nv = realloc(l->v, (l->n + 1) * sizeof(*nv));
	if (!c || !nv) {
		free(c);
		if (nv)
			l->v = nv;
		return -ENOMEM;
	}
	l->v = nv;
	l->v[l->n++] = c;
	return 0;
}

/* Drops entries naming stage id: exactly "id" (lane NULL, any==false),
 * "id.lane", or, with any, "id" and every "id.*". */
bool sdk_strlist_drop(struct sp_strlist *l, const char *id, const char *lane,
		      bool any)
{
	size_t n = strlen(id);
	uint32_t w = 0;
	bool dropped = false;

	for (uint32_t i = 0; i < l->n; i++) {
		const char *r = l->v[i];
		bool hit = false;

		if (strncmp(r, id, n) == 0) {
			if (any)
				hit = r[n] == '\0' || r[n] == '.';
			else if (lane)
				hit =
				    r[n] == '.' && strcmp(r + n + 1, lane) == 0;
			else
				hit = r[n] == '\0';
		}
		if (hit) {
			free(l->v[i]);
			dropped = true;
		} else {
			l->v[w++] = l->v[i];
		}
	}
	l->n = w;
	return dropped;
}

static bool same_flow(const struct spate_stage *a, const struct spate_stage *b)
{
	return a && b && a->flow == b->flow;
}

/* a + b + c in a new string, or NULL */
char *sdk_join(const char *a, const char *b, const char *c)
{
	size_t la = strlen(a), lb = strlen(b), lc = strlen(c);
	char *r = malloc(la + lb + lc + 1);

	if (!r)
		return NULL;
	memcpy(r, a, la);
	memcpy(r + la, b, lb);
	memcpy(r + la + lb, c, lc + 1);
	return r;
}

static int connect_one(struct spate_stage *from, const char *lane,
		       struct spate_stage *to)
{
	char *ref;
	int r;

	if (!same_flow(from, to) || (lane && !*lane))
		return -EINVAL;
	ref = sdk_join(from->s->id, lane ? "." : "", lane ? lane : "");
	if (!ref)
		return -ENOMEM;
	r = strlist_add_unique(&to->s->inputs, ref);
	free(ref);
	return r;
}

int spate_stage_connect_outputs(struct spate_stage *from, const char *lane,
				struct spate_stage *const *to, size_t n)
{
	if (!from || (n && !to))
		return -EINVAL;
	for (size_t i = 0; i < n; i++)
		if (!same_flow(from, to[i]))
			return -EINVAL;
	for (size_t i = 0; i < n; i++) {
		int r = connect_one(from, lane, to[i]);

		if (r)
			return r;
	}
	return 0;
}

static struct spate_stage *chain(int r, struct spate_stage *ret)
{
	if (r) {
		errno = -r;
		return NULL;
	}
	return ret;
}

struct spate_stage *spate_stage_connect_output(struct spate_stage *from,
					       struct spate_stage *to)
{
	return chain(connect_one(from, NULL, to), to);
}

struct spate_stage *spate_stage_connect_lane(struct spate_stage *from,
					     const char *lane,
					     struct spate_stage *to)
{
	return chain(lane ? connect_one(from, lane, to) : -EINVAL, to);
}

struct spate_stage *spate_stage_connect_input(struct spate_stage *to,
					      struct spate_stage *from)
{
	return chain(connect_one(from, NULL, to), from);
}

struct spate_stage *spate_stage_connect_input_lane(struct spate_stage *to,
						   struct spate_stage *from,
						   const char *lane)
{
	return chain(lane ? connect_one(from, lane, to) : -EINVAL, from);
}

/* Drops every input of to that reads from (any lane); returns ret. */
static struct spate_stage *disconnect(struct spate_stage *from,
				      struct spate_stage *to,
				      struct spate_stage *ret)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	sdk_strlist_drop(&to->s->inputs, from->s->id, NULL, true);
	return ret;
}

struct spate_stage *spate_stage_disconnect_output(struct spate_stage *from,
						  struct spate_stage *to)
{
	return disconnect(from, to, to);
}

struct spate_stage *spate_stage_disconnect_input(struct spate_stage *to,
						 struct spate_stage *from)
{
	return disconnect(from, to, from);
}

struct spate_stage *spate_stage_connect_event(struct spate_stage *from,
					      struct spate_stage *to)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	return chain(strlist_add_unique(&to->s->event_inputs, from->s->id), to);
}

struct spate_stage *spate_stage_disconnect_event(struct spate_stage *from,
						 struct spate_stage *to)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	sdk_strlist_drop(&to->s->event_inputs, from->s->id, NULL, false);
	return to;
}

static bool ref_is(const char *ref, const char *id)
{
	size_t n = strlen(id);

	return strncmp(ref, id, n) == 0 && (ref[n] == '\0' || ref[n] == '.');
}

static bool list_refers(const struct sp_strlist *l, const char *id, bool lanes)
{
	for (uint32_t i = 0; i < l->n; i++)
		if (lanes ? ref_is(l->v[i], id) : strcmp(l->v[i], id) == 0)
			return true;
	return false;
}

static size_t put_unique(struct spate_stage **out, size_t max, size_t n,
			 struct spate_stage *h, struct spate_stage **seen)
{
	for (size_t i = 0; i < n; i++)
		if (seen[i] == h)
			return n;
	seen[n] = h;
	if (n < max)
		out[n] = h;
	return n + 1;
}

size_t spate_stage_inputs(const struct spate_stage *stage,
			  struct spate_stage **out, size_t max)
{
	const struct spate_flow *flow;
	struct spate_stage **seen;
	size_t n = 0;

	if (!stage)
		return 0;
	flow = stage->flow;
	seen = calloc(flow->f->nstages + 1, sizeof(*seen));
	if (!seen)
		return 0;
	for (uint32_t k = 0; k < stage->s->inputs.n; k++) {
		const char *ref = stage->s->inputs.v[k];

		for (uint32_t i = 0; i < flow->f->nstages; i++) {
			if (ref_is(ref, flow->f->stages[i]->id)) {
				n = put_unique(out, max, n, flow->h[i], seen);
				break;
			}
		}
	}
	free(seen);
	return n;
}

static size_t consumers(const struct spate_stage *stage,
			struct spate_stage **out, size_t max, bool events)
{
	const struct spate_flow *flow;
	size_t n = 0;

	if (!stage)
		return 0;
	flow = stage->flow;
	for (uint32_t i = 0; i < flow->f->nstages; i++) {
		const struct sp_flow_stage *t = flow->f->stages[i];

		if (events ? list_refers(&t->event_inputs, stage->s->id, false)
			   : list_refers(&t->inputs, stage->s->id, true)) {
			if (n < max)
				out[n] = flow->h[i];
			n++;
		}
	}
	return n;
}

size_t spate_stage_outputs(const struct spate_stage *stage,
			   struct spate_stage **out, size_t max)
{
	return consumers(stage, out, max, false);
}

size_t spate_stage_events(const struct spate_stage *stage,
			  struct spate_stage **out, size_t max)
{
	return consumers(stage, out, max, true);
}
