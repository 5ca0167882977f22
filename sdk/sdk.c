/*
 * The C SDK (include/spate/spate.h), graph-editing half: opaque flow and
 * stage handles over struct sp_flow, the StreamSets-style calls to add and
 * remove stages, connect and disconnect them, read and edit their
 * configuration and selector predicates, validate against the stage
 * registry and save as YAML.  Everything here edits the same sp_flow the
 * YAML loader builds, so an SDK flow and a flow file are interchangeable.
 * Handles are kept in flow order: handle i wraps f->stages[i].
 *
 * The running half wraps runtime/runtime.h.  A run works on its own copy
 * of the flow (saved as YAML and loaded again), so the caller's flow can
 * be edited or destroyed while the run goes on, and the strings the run
 * hands out (stage ids, lanes) live as long as the run.  When the run has
 * ended its last report is kept and status is read from it.
 */
#include "spate/spate.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include "flow/flow.h"
#include "runtime/runtime.h"
#include "stages/registry.h"
#include "config/yaml.h"

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
	strlist_drop(&to->s->inputs, from->s->id, NULL, true);
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

/* ---- running ------------------------------------------------------------ */

struct spate_run {
	struct sp_flow *f;     /* the run's own validated copy */
	struct sp_runtime *rt; /* NULL when the run never got going */
	pthread_mutex_t lock;  /* ended, state, final, error */
	pthread_mutex_t wait_lock; /* one spate_run_wait() at a time */
	bool ended;
	enum spate_run_state state; /* final once ended */
	struct sp_run_report final; /* the last report, once ended */
	char error[1024];
};

const char *spate_run_state_name(enum spate_run_state state)
{
	static const char *const names[] = {"created", "running",
					    "succeeded", "failed",
					    "skipped", "stopped"};

	return (unsigned)state < sizeof(names) / sizeof(names[0])
		       ? names[state]
		       : "?";
}

static void set_err(char *buf, size_t len, const char *text)
{
	if (buf && len)
		snprintf(buf, len, "%s", text);
}

static int check_options(const struct spate_run_options *opts,
			 struct sp_run_options *o, char *errbuf,
			 size_t errlen)
{
	memset(o, 0, sizeof(*o));
	if (!opts)
		return 0;
	for (size_t i = 0; i < sizeof(opts->reserved) /
				     sizeof(opts->reserved[0]);
	     i++) {
		if (opts->reserved[i]) {
			set_err(errbuf, errlen,
				"run options: reserved fields must be zero");
			return -EINVAL;
		}
	}
	if (opts->workers > 1024) {
		char msg[128];

		snprintf(msg, sizeof(msg),
			 "run options: workers %u: give a number from 0 "
			 "(default) to 1024",
			 opts->workers);
		set_err(errbuf, errlen, msg);
		return -EINVAL;
	}
	o->workers = opts->workers;
	o->force = opts->force;
	o->no_pin = opts->no_pin;
	return 0;
}

/* The flow saved and loaded again, with the original's folder (relative
 * paths resolve against it), then validated. */
static int copy_flow(const struct sp_flow *src, struct sp_flow **out,
		     char *errbuf, size_t errlen)
{
	struct sp_flow *f = NULL;
	struct sp_diags d;
	struct sp_buf b;
	char *dir = NULL, *file = NULL;
	int r;

	*out = NULL;
	sp_buf_init(&b);
	sp_diags_init(&d, "flow");
	r = sp_flow_save_yaml(src, &b);
	if (r == 0)
		r = sp_buf_putc(&b, '\0');
	if (r == 0)
		r = sp_flow_load_string(b.data, "flow", &f, &d);
	if (r == 0 && d.n)
		r = -EINVAL;
	if (r == 0) {
		dir = strdup(src->dir ? src->dir : ".");
		file = src->file ? strdup(src->file) : NULL;
		if (!dir || (src->file && !file)) {
			free(dir);
			free(file);
			r = -ENOMEM;
		} else {
			free(f->dir);
			free(f->file);
			f->dir = dir;
			f->file = file;
		}
	}
	if (r == 0 && sp_flow_validate(f, sdk_lookup ? sdk_lookup
						     : sp_registry_find,
				       &d))
		r = -EINVAL;
	if (r) {
		if (d.n)
			diags_to_buf(&d, errbuf, errlen);
		else
			set_err(errbuf, errlen, strerror(-r));
		sp_flow_destroy(f);
		f = NULL;
	}
	sp_diags_fini(&d);
	sp_buf_fini(&b);
	*out = f;
	return r;
}

static void run_free(struct spate_run *run)
{
	sp_runtime_destroy(run->rt);
	sp_run_report_fini(&run->final);
	sp_flow_destroy(run->f);
	pthread_mutex_destroy(&run->lock);
	pthread_mutex_destroy(&run->wait_lock);
	free(run);
}

/* Keeps the last report and publishes the final state and error text
 * (written once, before ended is set, so spate_run_error() can hand out
 * the buffer).  reason overrides the runtime's error text. */
static void run_end(struct spate_run *run, enum spate_run_state state,
		    const char *reason)
{
	struct sp_run_report rep;
	char error[sizeof(run->error)] = "";

	if (sp_runtime_report(run->rt, &rep)) {
		memset(&rep, 0, sizeof(rep));
		if (state != SPATE_RUN_SKIPPED)
			state = SPATE_RUN_FAILED;
		snprintf(error, sizeof(error),
			 "out of memory reading the run's status");
	} else if (rep.accounting[0] && (state == SPATE_RUN_SUCCEEDED ||
					 state == SPATE_RUN_STOPPED)) {
		state = SPATE_RUN_FAILED;
		snprintf(error, sizeof(error), "accounting check failed: %.*s",
			 (int)(sizeof(error) - 32), rep.accounting);
	} else if (reason) {
		snprintf(error, sizeof(error), "%s", reason);
	} else if (state == SPATE_RUN_FAILED) {
		snprintf(error, sizeof(error), "%s",
			 rep.error[0] ? rep.error : "the run failed");
	}
	pthread_mutex_lock(&run->lock);
	run->final = rep;
	run->state = state;
	memcpy(run->error, error, sizeof(error));
	run->ended = true;
	pthread_mutex_unlock(&run->lock);
}

int spate_flow_start(struct spate_flow *flow,
		     const struct spate_run_options *opts,
		     struct spate_run **out, char *errbuf, size_t errlen)
{
	struct sp_run_options o;
	struct spate_run *run;
	char err[1024] = "";
	int r;

	set_err(errbuf, errlen, "");
	if (!flow || !out) {
		set_err(errbuf, errlen, "no flow or no place for the run");
		return -EINVAL;
	}
	*out = NULL;
	r = check_options(opts, &o, errbuf, errlen);
	if (r)
		return r;
	r = spate_flow_validate(flow, errbuf, errlen);
	if (r > 0)
		return -EINVAL;
	if (r < 0)
		return r;

	run = calloc(1, sizeof(*run));
	if (!run) {
		set_err(errbuf, errlen, strerror(ENOMEM));
		return -ENOMEM;
	}
	pthread_mutex_init(&run->lock, NULL);
	pthread_mutex_init(&run->wait_lock, NULL);
	run->state = SPATE_RUN_RUNNING;
	r = copy_flow(flow->f, &run->f, errbuf, errlen);
	if (r)
		goto free_run;
	r = sp_runtime_create(run->f, &o, &run->rt, err, sizeof(err));
	if (r) {
		run->rt = NULL;
		set_err(errbuf, errlen, err);
		goto free_run;
	}
	r = sp_runtime_start(run->rt, err, sizeof(err));
	if (r == -EALREADY) {
		/* exactly-once: this input's output is already committed */
		run_end(run, SPATE_RUN_SKIPPED, err);
		sp_runtime_destroy(run->rt);
		run->rt = NULL;
		set_err(errbuf, errlen, err);
		*out = run;
		return 0;
	}
	if (r) {
		/* threads that did start end on the failure */
		sp_runtime_wait(run->rt);
		set_err(errbuf, errlen, err);
		goto free_run;
	}
	*out = run;
	return 0;
free_run:
	run_free(run);
	return r;
}

enum spate_run_state spate_run_wait(struct spate_run *run)
{
	enum spate_run_state state;
	bool ended;

	if (!run)
		return SPATE_RUN_FAILED;
	pthread_mutex_lock(&run->wait_lock);
	pthread_mutex_lock(&run->lock);
	ended = run->ended;
	pthread_mutex_unlock(&run->lock);
	if (!ended) {
		switch (sp_runtime_wait(run->rt)) {
		case SP_RUN_FINISHED:
			state = SPATE_RUN_SUCCEEDED;
			break;
		case SP_RUN_STOPPED:
			state = SPATE_RUN_STOPPED;
			break;
		default:
			state = SPATE_RUN_FAILED;
			break;
		}
		run_end(run, state, NULL);
	}
	pthread_mutex_unlock(&run->wait_lock);
	pthread_mutex_lock(&run->lock);
	state = run->state;
	pthread_mutex_unlock(&run->lock);
	return state;
}

void spate_run_stop(struct spate_run *run, bool abort)
{
	/* rt is set before the run is handed out and freed only by
	 * spate_run_destroy(); stopping an ended run changes nothing */
	if (run && run->rt)
		sp_runtime_stop(run->rt, abort);
}

/* A report to read: the final one (with run->lock held) once the run
 * has ended, else a fresh one in own.  Release with snap_put(). */
struct snap {
	struct sp_run_report own;
	const struct sp_run_report *rep;
	enum spate_run_state state;
	bool locked;
};

static int snap_get(struct spate_run *run, struct snap *s)
{
	int r;

	pthread_mutex_lock(&run->lock);
	if (run->ended) {
		s->rep = &run->final;
		s->state = run->state;
		s->locked = true;
		return 0;
	}
	pthread_mutex_unlock(&run->lock);
	s->locked = false;
	r = sp_runtime_report(run->rt, &s->own);
	if (r)
		return r;
	s->rep = &s->own;
	/* the runtime may already know the outcome; the run's final state
	 * is decided (accounting included) when spate_run_wait() ends it */
	s->state = SPATE_RUN_RUNNING;
	return 0;
}

static void snap_put(struct spate_run *run, struct snap *s)
{
	if (s->locked)
		pthread_mutex_unlock(&run->lock);
	else
		sp_run_report_fini(&s->own);
}

static void fill_status(const struct spate_run *run, const struct snap *s,
			struct spate_run_status *st)
{
	const struct sp_run_report *rep = s->rep;

	memset(st, 0, sizeof(*st));
	st->state = s->state;
	st->workers = rep->workers;
	st->nstages = run->f->nstages;
	st->elapsed_s = rep->elapsed_s;
	st->input_bytes = rep->input_bytes;
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *r = &rep->stages[i];

		if (r->kind == SP_ORIGIN) {
			st->records_in += r->in;
			st->bytes_in += r->bytes_in;
		} else if (r->kind == SP_DESTINATION) {
			if (i == run->f->error_stage_index)
				st->error_records += r->forwarded;
			else
				st->records_out += r->forwarded;
			st->bytes_out += r->bytes_out;
		}
		st->errors += r->errors;
		st->dropped += r->dropped;
	}
}

int spate_run_status(struct spate_run *run, struct spate_run_status *st)
{
	struct snap s;
	int r;

	if (!run || !st)
		return -EINVAL;
	r = snap_get(run, &s);
	if (r)
		return r;
	fill_status(run, &s, st);
	snap_put(run, &s);
	return 0;
}

uint32_t spate_run_stage_count(const struct spate_run *run)
{
	return run ? run->f->nstages : 0;
}

int spate_run_stage_index(const struct spate_run *run, const char *id)
{
	const struct sp_flow_stage *s;

	if (!run || !id)
		return -ENOENT;
	s = sp_flow_find(run->f, id);
	return s ? (int)sp_flow_index(run->f, s) : -ENOENT;
}

/* The report of stage i, or NULL when a run that never started has no
 * counters for it. */
static const struct sp_stage_report *snap_stage(const struct snap *s,
						uint32_t i)
{
	return i < s->rep->nstages ? &s->rep->stages[i] : NULL;
}

/* A snapshot in s for the status of stage i, to go into out: 0, or
 * -EINVAL, -ENOENT or what snap_get gives. */
static int snap_for_stage(struct spate_run *run, uint32_t i, const void *out,
			  struct snap *s)
{
	if (!run || !out)
		return -EINVAL;
	if (i >= run->f->nstages)
		return -ENOENT;
	return snap_get(run, s);
}

int spate_run_stage_status(struct spate_run *run, uint32_t i,
			   struct spate_stage_status *st)
{
	const struct sp_stage_report *r;
	struct snap s;
	int err = snap_for_stage(run, i, st, &s);

	if (err)
		return err;
	memset(st, 0, sizeof(*st));
	st->id = run->f->stages[i]->id;
	st->type = run->f->stages[i]->type;
	st->kind = sp_stage_kind_name(run->f->stages[i]->desc->kind);
	r = snap_stage(&s, i);
	if (r) {
		st->records_in = r->in;
		st->records_out = r->forwarded;
		st->errors = r->errors;
		st->warnings = r->warnings;
		st->dropped = r->dropped;
		st->bytes_in = r->bytes_in;
		st->bytes_out = r->bytes_out;
		st->batches = r->batches;
		st->files = r->extra.files;
		st->nlanes = r->nlanes;
	}
	snap_put(run, &s);
	return 0;
}

int spate_run_lane_status(struct spate_run *run, uint32_t i, uint32_t lane,
			  struct spate_lane_status *st)
{
	const struct sp_stage_report *r;
	struct snap s;
	int err = snap_for_stage(run, i, st, &s);

	if (err)
		return err;
	r = snap_stage(&s, i);
	if (!r || lane >= r->nlanes) {
		snap_put(run, &s);
		return -ENOENT;
	}
	memset(st, 0, sizeof(*st));
	st->name = r->lanes[lane];
	st->records = r->out[lane];
	snap_put(run, &s);
	return 0;
}

const char *spate_run_error(struct spate_run *run)
{
	const char *e = "";

	if (!run)
		return e;
	pthread_mutex_lock(&run->lock);
	if (run->ended)
		e = run->error; /* never written again */
	pthread_mutex_unlock(&run->lock);
	return e;
}

void spate_run_destroy(struct spate_run *run)
{
	if (!run)
		return;
	if (run->rt) {
		sp_runtime_stop(run->rt, true);
		spate_run_wait(run);
	}
	run_free(run);
}

int spate_flow_run(struct spate_flow *flow,
		   const struct spate_run_options *opts,
		   struct spate_run_status *status, char *errbuf,
		   size_t errlen)
{
	struct spate_run *run;
	enum spate_run_state state;
	int r;

	if (status) {
		memset(status, 0, sizeof(*status));
		status->state = SPATE_RUN_FAILED;
	}
	r = spate_flow_start(flow, opts, &run, errbuf, errlen);
	if (r)
		return r;
	state = spate_run_wait(run);
	if (status && spate_run_status(run, status))
		status->state = state;
	set_err(errbuf, errlen, spate_run_error(run));
	if (state == SPATE_RUN_FAILED) {
		r = -EIO;
	} else if (state == SPATE_RUN_STOPPED) {
		set_err(errbuf, errlen, "the run was stopped");
		r = -ECANCELED;
	}
	spate_run_destroy(run);
	return r;
}
