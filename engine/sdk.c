/*
 * The C SDK (include/spate/spate.h), graph-editing half: opaque flow and
 * stage handles over struct sp_flow, the StreamSets-style calls to add and
 * remove stages, connect and disconnect them, read and edit their
 * configuration and selector predicates, validate against the stage
 * registry and save as YAML.  Everything here edits the same sp_flow the
 * YAML loader builds, so an SDK flow and a flow file are interchangeable.
 * Handles are kept in flow order: handle i wraps f->stages[i].
 */
#include "spate/spate.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "engine/flow.h"

/* stages/registry.c */
const struct sp_stage_desc *sp_registry_find(const char *type);

struct spate_stage {
	struct spate_flow *flow;
	struct sp_flow_stage *s;
};

struct spate_flow {
	struct sp_flow *f;
	struct spate_stage **h; /* h[i]->s == f->stages[i] */
	uint32_t cap;
};

static sp_stage_lookup_fn sdk_lookup;

void sp_sdk_set_lookup(sp_stage_lookup_fn lookup)
{
	sdk_lookup = lookup;
}

struct sp_flow *sp_sdk_flow(struct spate_flow *flow)
{
	return flow ? flow->f : NULL;
}

/* ---- flows ------------------------------------------------------------ */

static int wrap_stage(struct spate_flow *flow, struct sp_flow_stage *s)
{
	struct spate_stage *h;
	uint32_t n = flow->f->nstages; /* s is already appended */

	if (n > flow->cap) {
		uint32_t cap = flow->cap ? flow->cap * 2 : 8;
		struct spate_stage **v;

		while (cap < n)
			cap *= 2;
		v = realloc(flow->h, cap * sizeof(*v));
		if (!v)
			return -ENOMEM;
		flow->h = v;
		flow->cap = cap;
	}
	h = calloc(1, sizeof(*h));
	if (!h)
		return -ENOMEM;
	h->flow = flow;
	h->s = s;
	flow->h[n - 1] = h;
	return 0;
}

static struct spate_flow *wrap_flow(struct sp_flow *f)
{
	struct spate_flow *flow = calloc(1, sizeof(*flow));
	struct sp_flow_stage **stages;
	uint32_t n;

	if (!flow)
		return NULL;
	flow->f = f;
	/* wrap the stages one by one as if they were being added */
	stages = f->stages;
	n = f->nstages;
	for (uint32_t i = 0; i < n; i++) {
		f->nstages = i + 1;
		if (wrap_stage(flow, stages[i])) {
			f->nstages = n;
			for (uint32_t j = 0; j < i; j++)
				free(flow->h[j]);
			free(flow->h);
			free(flow);
			return NULL;
		}
	}
	f->nstages = n;
	return flow;
}

struct spate_flow *spate_flow_create(const char *name)
{
	struct sp_flow *f = sp_flow_create(name);
	struct spate_flow *flow;

	if (!f) {
		errno = ENOMEM;
		return NULL;
	}
	flow = wrap_flow(f);
	if (!flow) {
		sp_flow_destroy(f);
		errno = ENOMEM;
	}
	return flow;
}

/* Every message of d, one per line, into buf. */
static void diags_to_buf(const struct sp_diags *d, char *buf, size_t len)
{
	struct sp_buf b;

	if (!buf || !len)
		return;
	buf[0] = '\0';
	sp_buf_init(&b);
	for (uint32_t i = 0; i < d->n; i++) {
		if (i)
			sp_buf_putc(&b, '\n');
		sp_diag_format(d, i, &b);
	}
	if (b.len) {
		size_t n = b.len < len - 1 ? b.len : len - 1;

		memcpy(buf, b.data, n);
		buf[n] = '\0';
	}
	sp_buf_fini(&b);
}

static int load_common(int r, struct sp_flow *f, struct sp_diags *d,
		       struct spate_flow **out, char *errbuf, size_t errlen)
{
	diags_to_buf(d, errbuf, errlen);
	if (r == 0 && d->n) /* structural problems: not a usable flow */
		r = -EINVAL;
	if (r == 0) {
		*out = wrap_flow(f);
		if (!*out)
			r = -ENOMEM;
	}
	if (r)
		sp_flow_destroy(f);
	sp_diags_fini(d);
	return r;
}

int spate_flow_load(const char *path, struct spate_flow **out, char *errbuf,
		    size_t errlen)
{
	struct sp_flow *f = NULL;
	struct sp_diags d;
	int r;

	if (!path || !out)
		return -EINVAL;
	*out = NULL;
	sp_diags_init(&d, path);
	r = sp_flow_load_file(path, &f, &d);
	return load_common(r, f, &d, out, errbuf, errlen);
}

int spate_flow_load_string(const char *yaml, struct spate_flow **out,
			   char *errbuf, size_t errlen)
{
	struct sp_flow *f = NULL;
	struct sp_diags d;
	int r;

	if (!yaml || !out)
		return -EINVAL;
	*out = NULL;
	sp_diags_init(&d, "flow");
	r = sp_flow_load_string(yaml, "flow", &f, &d);
	return load_common(r, f, &d, out, errbuf, errlen);
}

void spate_flow_destroy(struct spate_flow *flow)
{
	if (!flow)
		return;
	for (uint32_t i = 0; i < flow->f->nstages; i++)
		free(flow->h[i]);
	free(flow->h);
	sp_flow_destroy(flow->f);
	free(flow);
}

const char *spate_flow_name(const struct spate_flow *flow)
{
	return flow ? flow->f->name : NULL;
}

int spate_flow_set_workers(struct spate_flow *flow, unsigned workers)
{
	if (!flow || workers > 1024)
		return -EINVAL;
	flow->f->workers = workers;
	return 0;
}

int spate_flow_set_error_stage(struct spate_flow *flow,
			       struct spate_stage *stage)
{
	char *id = NULL;

	if (!flow || (stage && stage->flow != flow))
		return -EINVAL;
	if (stage && !(id = strdup(stage->s->id)))
		return -ENOMEM;
	free(flow->f->error_stage);
	flow->f->error_stage = id;
	flow->f->line_error_stage = 0;
	return 0;
}

/* ---- stages ------------------------------------------------------------ */

struct spate_stage *spate_flow_add_stage(struct spate_flow *flow,
					 const char *type, const char *id)
{
	char auto_id[128];
	struct sp_flow_stage *s;

	if (!flow || !type || !*type) {
		errno = EINVAL;
		return NULL;
	}
	if (!id) {
		/* StreamSets style: file_writer_01, file_writer_02, ... */
		char base[96];
		size_t i;

		for (i = 0; type[i] && i < sizeof(base) - 1; i++) {
			char c = type[i];

			base[i] = (c >= 'a' && c <= 'z') ||
						  (c >= 'A' && c <= 'Z') ||
						  (c >= '0' && c <= '9')
					  ? c
					  : '_';
		}
		base[i] = '\0';
		for (unsigned k = 1;; k++) {
			snprintf(auto_id, sizeof(auto_id), "%s_%02u", base, k);
			if (!sp_flow_find(flow->f, auto_id))
				break;
		}
		id = auto_id;
	} else if (sp_flow_find(flow->f, id)) {
		errno = EEXIST;
		return NULL;
	}
	s = sp_flow_add_stage(flow->f, type, id);
	if (!s) {
		errno = ENOMEM;
		return NULL;
	}
	if (wrap_stage(flow, s)) {
		sp_flow_remove_stage(flow->f, s->id);
		errno = ENOMEM;
		return NULL;
	}
	return flow->h[flow->f->nstages - 1];
}

static uint32_t handle_index(const struct spate_flow *flow,
			     const struct spate_stage *stage)
{
	for (uint32_t i = 0; i < flow->f->nstages; i++)
		if (flow->h[i] == stage)
			return i;
	return UINT32_MAX;
}

int spate_flow_remove_stage(struct spate_flow *flow,
			    struct spate_stage *stage)
{
	uint32_t i, n;

	if (!flow || !stage)
		return -ENOENT;
	i = handle_index(flow, stage);
	if (i == UINT32_MAX)
		return -ENOENT;
	n = flow->f->nstages;
	if (sp_flow_find(flow->f, stage->s->id) != stage->s) {
		/* a second stage with a taken id (a loaded flow may have
		 * one; validation reports it): the references name the
		 * first one, so they stay */
		char *tmp = strdup("\x01");

		if (!tmp)
			return -ENOMEM;
		free(stage->s->id);
		stage->s->id = tmp;
	}
	if (sp_flow_remove_stage(flow->f, stage->s->id))
		return -ENOENT;
	free(flow->h[i]);
	memmove(flow->h + i, flow->h + i + 1, (n - i - 1) * sizeof(*flow->h));
	return 0;
}

size_t spate_flow_stages(const struct spate_flow *flow,
			 struct spate_stage **out, size_t max)
{
	if (!flow)
		return 0;
	for (uint32_t i = 0; i < flow->f->nstages && i < max; i++)
		out[i] = flow->h[i];
	return flow->f->nstages;
}

struct spate_stage *spate_flow_find_stage(const struct spate_flow *flow,
					  const char *id)
{
	struct sp_flow_stage *s = flow ? sp_flow_find(flow->f, id) : NULL;

	return s ? flow->h[sp_flow_index(flow->f, s)] : NULL;
}

const char *spate_stage_id(const struct spate_stage *stage)
{
	return stage ? stage->s->id : NULL;
}

const char *spate_stage_type(const struct spate_stage *stage)
{
	return stage ? stage->s->type : NULL;
}

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
static bool strlist_drop(struct sp_strlist *l, const char *id,
			 const char *lane, bool any)
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
				hit = r[n] == '.' && strcmp(r + n + 1, lane) == 0;
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

static bool same_flow(const struct spate_stage *a,
		      const struct spate_stage *b)
{
	return a && b && a->flow == b->flow;
}

/* a + b + c in a new string, or NULL */
static char *join(const char *a, const char *b, const char *c)
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
	ref = join(from->s->id, lane ? "." : "", lane ? lane : "");
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
	if (!lane)
		return chain(-EINVAL, NULL);
	return chain(connect_one(from, lane, to), to);
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
	if (!lane)
		return chain(-EINVAL, NULL);
	return chain(connect_one(from, lane, to), from);
}

struct spate_stage *spate_stage_disconnect_output(struct spate_stage *from,
						  struct spate_stage *to)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	strlist_drop(&to->s->inputs, from->s->id, NULL, true);
	return to;
}

struct spate_stage *spate_stage_disconnect_input(struct spate_stage *to,
						 struct spate_stage *from)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	strlist_drop(&to->s->inputs, from->s->id, NULL, true);
	return from;
}

struct spate_stage *spate_stage_connect_event(struct spate_stage *from,
					      struct spate_stage *to)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	return chain(strlist_add_unique(&to->s->event_inputs, from->s->id),
		     to);
}

struct spate_stage *spate_stage_disconnect_event(struct spate_stage *from,
						 struct spate_stage *to)
{
	if (!same_flow(from, to))
		return chain(-EINVAL, NULL);
	strlist_drop(&to->s->event_inputs, from->s->id, NULL, false);
	return to;
}

static bool ref_is(const char *ref, const char *id)
{
	size_t n = strlen(id);

	return strncmp(ref, id, n) == 0 && (ref[n] == '\0' || ref[n] == '.');
}

static bool list_refers(const struct sp_strlist *l, const char *id,
			bool lanes)
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

/* ---- configuration ------------------------------------------------------ */

static bool graph_key(const char *option)
{
	return strcmp(option, "id") == 0 || strcmp(option, "type") == 0 ||
	       strcmp(option, "inputs") == 0 ||
	       strcmp(option, "event_inputs") == 0;
}

static int copy_out(const char *text, size_t n, char *buf, size_t len)
{
	if (buf && len) {
		size_t c = n < len - 1 ? n : len - 1;

		memcpy(buf, text, c);
		buf[c] = '\0';
	}
	return n > INT32_MAX ? -EOVERFLOW : (int)n;
}

int spate_stage_get_config(const struct spate_stage *stage,
			   const char *option, char *buf, size_t len)
{
	const struct sp_node *n;
	struct sp_buf b;
	int r;

	if (!stage || !option)
		return -EINVAL;
	if (strcmp(option, "on_record_error") == 0) {
		const char *e = stage->s->on_record_error;

		return e ? copy_out(e, strlen(e), buf, len) : -ENOENT;
	}
	n = sp_node_map_get(stage->s->config, option);
	if (!n)
		return -ENOENT;
	if (n->kind == SP_NODE_SCALAR)
		return copy_out(n->text, strlen(n->text), buf, len);
	sp_buf_init(&b);
	r = sp_node_to_flow_yaml(n, &b);
	if (r == 0)
		r = copy_out(b.data, b.len, buf, len);
	sp_buf_fini(&b);
	return r;
}

int spate_stage_set_config(struct spate_stage *stage, const char *option,
			   const char *value)
{
	struct sp_node *v;
	int r;

	if (!stage || !option || !*option || graph_key(option))
		return -EINVAL;
	if (strcmp(option, "on_record_error") == 0) {
		char *e = NULL;

		if (value && !(e = strdup(value)))
			return -ENOMEM;
		free(stage->s->on_record_error);
		stage->s->on_record_error = e;
		return 0;
	}
	if (!value) {
		sp_node_map_remove(stage->s->config, option);
		return 0;
	}
	if (value[0] == '[' || value[0] == '{')
		v = sp_node_parse_yaml(value, NULL, 0);
	else
		v = sp_node_scalar(value);
	if (!v)
		return value[0] == '[' || value[0] == '{' ? -EINVAL : -ENOMEM;
	v->line = 0;
	r = sp_node_map_set(stage->s->config, option, v);
	if (r)
		sp_node_free(v);
	return r;
}

static bool lane_name_ok(const char *lane)
{
	if (!lane || !*lane || strcmp(lane, "default") == 0)
		return false;
	for (; *lane; lane++) {
		char c = *lane;

		if (!((c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') ||
		      (c >= '0' && c <= '9') || c == '_'))
			return false;
	}
	return true;
}

int spate_stage_add_predicate(struct spate_stage *selector, const char *lane,
			      const char *predicate)
{
	struct sp_node *lanes, *v;
	int r;

	if (!selector || !predicate || !lane_name_ok(lane))
		return -EINVAL;
	lanes = sp_node_map_get(selector->s->config, "lanes");
	if (!lanes || lanes->kind != SP_NODE_MAP) {
		lanes = sp_node_map();
		if (!lanes)
			return -ENOMEM;
		r = sp_node_map_set(selector->s->config, "lanes", lanes);
		if (r) {
			sp_node_free(lanes);
			return r;
		}
	}
	v = sp_node_scalar(predicate);
	if (!v)
		return -ENOMEM;
	r = sp_node_map_set(lanes, lane, v);
	if (r)
		sp_node_free(v);
	return r;
}

int spate_stage_remove_predicate(struct spate_stage *selector,
				 const char *lane)
{
	struct sp_node *lanes;
	struct spate_flow *flow;

	if (!selector || !lane)
		return -ENOENT;
	lanes = sp_node_map_get(selector->s->config, "lanes");
	if (!sp_node_map_remove(lanes, lane))
		return -ENOENT;
	/* the lane is gone: so are the connections that read it */
	flow = selector->flow;
	for (uint32_t i = 0; i < flow->f->nstages; i++)
		strlist_drop(&flow->f->stages[i]->inputs, selector->s->id,
			     lane, false);
	return 0;
}

/* ---- validation and saving ---------------------------------------------- */

int spate_flow_validate(struct spate_flow *flow, char *errbuf, size_t errlen)
{
	struct sp_diags d;
	int n;

	if (!flow)
		return -EINVAL;
	sp_diags_init(&d, flow->f->file);
	n = sp_flow_validate(flow->f,
			     sdk_lookup ? sdk_lookup : sp_registry_find, &d);
	diags_to_buf(&d, errbuf, errlen);
	sp_diags_fini(&d);
	return n;
}

int spate_flow_to_yaml(const struct spate_flow *flow, char *buf, size_t len)
{
	struct sp_buf b;
	int r;

	if (!flow)
		return -EINVAL;
	sp_buf_init(&b);
	r = sp_flow_save_yaml(flow->f, &b);
	if (r == 0)
		r = copy_out(b.data ? b.data : "", b.len, buf, len);
	sp_buf_fini(&b);
	return r;
}

int spate_flow_save(const struct spate_flow *flow, const char *path)
{
	struct sp_buf b;
	char *tmp = NULL;
	size_t off = 0;
	int fd = -1, r;

	if (!flow || !path)
		return -EINVAL;
	sp_buf_init(&b);
	r = sp_flow_save_yaml(flow->f, &b);
	if (r)
		goto out;
	tmp = join(path, ".tmp.XXXXXX", "");
	if (!tmp) {
		r = -ENOMEM;
		goto out;
	}
	fd = mkstemp(tmp);
	if (fd < 0) {
		r = -errno;
		goto out;
	}
	while (off < b.len) {
		ssize_t w = write(fd, b.data + off, b.len - off);

		if (w < 0 && errno == EINTR)
			continue;
		if (w < 0) {
			r = -errno;
			goto unlink_tmp;
		}
		off += (size_t)w;
	}
	if (fchmod(fd, 0644) || fsync(fd)) {
		r = -errno;
		goto unlink_tmp;
	}
	if (close(fd)) {
		fd = -1;
		r = -errno;
		goto unlink_tmp;
	}
	fd = -1;
	if (rename(tmp, path)) {
		r = -errno;
		goto unlink_tmp;
	}
	goto out;
unlink_tmp:
	if (fd >= 0)
		close(fd);
	fd = -1;
	unlink(tmp);
out:
	free(tmp);
	sp_buf_fini(&b);
	return r;
}
