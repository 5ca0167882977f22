/*
 * The per-stage checks of flow validation: what a run would refuse before
 * it moves any data is found here, so that `spate validate`, the SDK's
 * spate_flow_validate and `spate run` report the same problems, each with
 * its line, stage and option.  A `stage:` option must name an enabled
 * stage of the catalog (a local one must resolve); a type's check
 * callback looks at paths, templates and option combinations; a type
 * whose create() only compiles its config is created and closed; and no
 * two stages may claim the same target folder.
 */
#define _GNU_SOURCE
#include "flow/flow_internal.h"
#include "record/symtab.h"
#include "spate/catalog.h"

#include <limits.h>
#include <unistd.h>

struct claim {
	uint32_t stage;
	char *target;
};

struct chk {
	struct sp_check pub;
	struct sp_flow *f;
	struct sp_flow_stage *s;
	uint32_t index;
	struct sp_diags *d;
	int problems;
	struct spate_catalog *cat;
	bool cat_tried;
	struct claim *claims;
	uint32_t nclaims;
};

static uint32_t option_line(const struct sp_flow_stage *s, const char *option)
{
	const struct sp_node *n =
	    option ? sp_node_map_get(s->config, option) : NULL;

	return n && n->line ? n->line : s->line;
}

static void report(struct sp_check *pub, const char *option, const char *msg)
{
	struct chk *c = pub->priv;

	sp_diags_add(c->d, option_line(c->s, option), c->s->id, option, "%s",
		     msg);
	c->problems++;
}

/* Lexically normalised absolute form of path: ".", "..", "//" folded. */
static int norm_path(const char *path, char *out, size_t len)
{
	char full[PATH_MAX], cwd[PATH_MAX];
	size_t n = 0;
	int k;

	if (path[0] == '/')
		k = snprintf(full, sizeof(full), "%s", path);
	else if (getcwd(cwd, sizeof(cwd)))
		k = snprintf(full, sizeof(full), "%s/%s", cwd, path);
	else
		return -errno;
	if (k < 0 || (size_t)k >= sizeof(full) || len < 2)
		return -ENAMETOOLONG;
	for (const char *p = full; *p;) {
		const char *e = strchrnul(p, '/');
		size_t seg = (size_t)(e - p);

		if (seg == 2 && p[0] == '.' && p[1] == '.') {
			while (n > 0 && out[n - 1] != '/')
				n--;
			if (n > 0)
				n--;
		} else if (seg && !(seg == 1 && p[0] == '.')) {
			if (n + seg + 2 > len)
				return -ENAMETOOLONG;
			out[n++] = '/';
			memcpy(out + n, p, seg);
			n += seg;
		}
		p = *e ? e + 1 : e;
	}
	if (n == 0)
		out[n++] = '/';
	out[n] = '\0';
	return 0;
}

static void claim(struct sp_check *pub, const char *option,
		  const char *target)
{
	struct chk *c = pub->priv;
	char norm[PATH_MAX];
	struct claim *p;

	if (norm_path(target, norm, sizeof(norm)))
		return;
	for (uint32_t i = 0; i < c->nclaims; i++) {
		const struct sp_flow_stage *o = c->f->stages[c->claims[i].stage];

		if (strcmp(c->claims[i].target, norm))
			continue;
		if (o->line)
			sp_check_problem(pub, option,
					 "stage '%s' (line %u) writes the same "
					 "folder: two stages cannot write one",
					 o->id, o->line);
		else
			sp_check_problem(pub, option,
					 "stage '%s' writes the same folder: "
					 "two stages cannot write one",
					 o->id);
		return;
	}
	p = realloc(c->claims, (c->nclaims + 1) * sizeof(*p));
	if (!p)
		return;
	c->claims = p;
	p[c->nclaims].stage = c->index;
	if ((p[c->nclaims].target = strdup(norm)))
		c->nclaims++;
}

/* The bound value of the stage's `stage` option, NULL without one. */
static const char *stage_option(const struct sp_flow_stage *s)
{
	const struct sp_option *o = s->desc->options;

	for (; o && o->name; o++)
		if (!strcmp(o->name, "stage") && o->type == SP_OPT_STRING)
			return *(char *const *)((const char *)s->bound +
						o->offset);
	return NULL;
}

/* `stage: NAME`: the catalog stage exists and is enabled; a local one's
 * root (malloc'd) into *root. */
static void catalog_stage(struct chk *c, const char *name, char **root)
{
	char err[1024] = "";
	int rc;

	if (!c->cat_tried) {
		c->cat_tried = true;
		rc = spate_catalog_open(c->f->catalog, &c->cat, err,
					sizeof(err));
		if (rc) {
			sp_check_problem(&c->pub, "stage", "%s", err);
			return;
		}
	}
	if (!c->cat)
		return; /* the open failure was reported */
	rc = spate_catalog_local_root(c->cat, name, root, err, sizeof(err));
	if (rc && rc != -ENOTSUP) /* S3: checked when opened */
		sp_check_problem(&c->pub, "stage", "%s", err);
}

/* create()'s "OPTION: message" or "option 'OPTION': message" as a
 * problem of that option. */
static void create_problem(struct chk *c, const char *err)
{
	const struct sp_option *o = c->s->desc->options;
	const char *colon = strstr(err, ": ");
	char opt[64];

	if (!strncmp(err, "option '", 8) && (colon = strstr(err, "': "))) {
		size_t n = (size_t)(colon - err - 8);

		if (n < sizeof(opt)) {
			memcpy(opt, err + 8, n);
			opt[n] = '\0';
			report(&c->pub, opt, colon + 3);
			return;
		}
	}
	for (; colon && o && o->name; o++) {
		if (strlen(o->name) == (size_t)(colon - err) &&
		    !strncmp(err, o->name, (size_t)(colon - err))) {
			report(&c->pub, o->name, colon + 2);
			return;
		}
	}
	report(&c->pub, NULL, err);
}

static void check_by_create(struct chk *c, struct sp_symtab *st)
{
	static const bool no = false;
	const struct sp_flow_stage *s = c->s;
	char prefix[160];
	/* what a line the stage logs is about (a run's adds its kind) */
	snprintf(prefix, sizeof(prefix), "[%s:%s]", s->desc->name, s->id);
	struct sp_stage_ctx ctx = {
	    .flow = c->f->name ? c->f->name : "",
	    .flow_dir = c->pub.flow_dir,
	    .id = s->id,
	    .run_id = "",
	    .symtab = st,
	    .workers = 1,
	    .catalog = c->f->catalog,
	    .validate_only = true,
	    .committed = &no,
	    .index = c->index,
	    .log_prefix = prefix,
	    .streaming = c->pub.streaming,
	};
	char err[1024] = "";
	void *state = NULL;
	int rc = s->desc->create(s->bound, &ctx, &state, err, sizeof(err));

	if (rc)
		create_problem(c, err[0] ? err : strerror(-rc));
	else if (s->desc->close)
		s->desc->close(state);
}

static bool flow_streams(const struct sp_flow *f)
{
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_stage_desc *desc = f->stages[i]->desc;

		if (desc && desc->kind == SP_ORIGIN && desc->streaming)
			return true;
	}
	return false;
}

int flow_check_stages(struct sp_flow *f, struct sp_diags *d)
{
	struct chk c = {.f = f, .d = d};
	/* as a run does: the stages' compiled options hold its symbols */
	struct sp_symtab *st = sp_symtab_clone(f->symtab);

	if (!st)
		return -ENOMEM;
	c.pub.flow_dir = f->dir ? f->dir : ".";
	c.pub.streaming = flow_streams(f);
	c.pub.problem = report;
	c.pub.claim = claim;
	c.pub.priv = &c;
	for (uint32_t i = 0; i < f->nstages; i++) {
		struct sp_flow_stage *s = f->stages[i];
		const char *name;
		char *root = NULL;
		int before = c.problems;

		if (!s->desc || !s->bound)
			continue;
		c.s = s;
		c.index = i;
		c.pub.id = s->id;
		name = stage_option(s);
		if (name)
			catalog_stage(&c, name, &root);
		c.pub.stage_set = name != NULL;
		c.pub.stage_root = root;
		/* a stage that does not resolve is left at that message */
		if (c.problems == before && s->desc->check)
			s->desc->check(s->bound, &c.pub);
		if (c.problems == before && s->desc->create_checks &&
		    s->desc->create)
			check_by_create(&c, st);
		free(root);
	}
	for (uint32_t i = 0; i < c.nclaims; i++)
		free(c.claims[i].target);
	free(c.claims);
	spate_catalog_close(c.cat);
	sp_symtab_destroy(st);
	return c.problems;
}
