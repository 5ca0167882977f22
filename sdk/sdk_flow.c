/*
 * The C SDK, flows and stages: opaque flow and stage handles over struct
 * sp_flow; create, load, destroy; add, remove and find stages.
 */
#include "sdk/sdk_internal.h"

/* the stage types an SDK flow is validated against (sp_sdk_set_lookup) */
sp_stage_lookup_fn sdk_lookup = NULL;

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
void sdk_diags_to_buf(const struct sp_diags *d, char *buf, size_t len)
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
	sdk_diags_to_buf(d, errbuf, errlen);
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

int spate_flow_set_catalog(struct spate_flow *flow, const char *path)
{
	if (!flow)
		return -EINVAL;
	return sp_flow_set_catalog(flow->f, path);
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

int spate_flow_remove_stage(struct spate_flow *flow, struct spate_stage *stage)
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
