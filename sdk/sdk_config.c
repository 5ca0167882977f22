/*
 * The C SDK, configuration: reading and editing a stage's options and a
 * selector's predicates, validating against the stage registry, and
 * saving as YAML.
 */
#include "sdk/sdk_internal.h"

#include <stdarg.h>

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

int spate_stage_get_config(const struct spate_stage *stage, const char *option,
			   char *buf, size_t len)
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

/* A list, a map, or one double-quoted YAML scalar ("\"[x]\"") */
static bool is_yaml(const char *value)
{
	size_t n = strlen(value);

	return value[0] == '[' || value[0] == '{' ||
	       (n >= 2 && value[0] == '"' && value[n - 1] == '"');
}

/* A value set through the SDK was not read from the flow file: the
 * positions its parse gave (line 1 of the value's own text) would send
 * the user to a line that is not there, so the value carries none and
 * its errors name the stage and option only. */
static void forget_positions(struct sp_node *n)
{
	n->line = 0;
	n->column = 0;
	for (uint32_t i = 0; n->kind != SP_NODE_SCALAR && i < n->n; i++)
		forget_positions(n->items[i]);
}

/* Why a configuration call on stage failed, for spate_flow_error();
 * returns err. */
static int config_error(struct spate_stage *stage, int err, const char *fmt,
			...) __attribute__((format(printf, 3, 4)));

static int config_error(struct spate_stage *stage, int err, const char *fmt,
			...)
{
	char *e = stage->flow->error;
	size_t len = sizeof(stage->flow->error);
	int n = snprintf(e, len, "stage '%s' (%s): ", stage->s->id,
			 stage->s->type);
	va_list ap;

	va_start(ap, fmt);
	if (n >= 0 && (size_t)n < len)
		vsnprintf(e + n, len - (size_t)n, fmt, ap);
	va_end(ap);
	return err;
}

static bool has_option(const struct sp_stage_desc *desc, const char *option)
{
	for (const struct sp_option *o = desc ? desc->options : NULL;
	     o && o->name; o++)
		if (strcmp(o->name, option) == 0)
			return true;
	return false;
}

/* Setting an option the stage's type does not have is refused at once
 * (a misspelt name would otherwise only surface at validation); a type
 * that is not known (yet: a plugin not loaded) is left to validation.
 * A name that is an origin and a destination (postgres) takes the
 * options of both: the stage may not be connected yet. */
static int check_option(struct spate_stage *stage, const char *option)
{
	sp_stage_lookup_fn lookup = sdk_lookup ? sdk_lookup : sp_registry_lookup;
	bool origin = stage->s->inputs.n == 0;
	const struct sp_stage_desc *desc = lookup(stage->s->type, origin);
	const struct sp_stage_desc *other = lookup(stage->s->type, !origin);

	if (!desc || has_option(desc, option) || has_option(other, option))
		return 0;
	const char *hint = sp_options_suggest(desc->options, option);
	if (hint)
		return config_error(stage, -EINVAL,
				    "unknown option '%s' (did you mean '%s'?)",
				    option, hint);
	return config_error(stage, -EINVAL, "unknown option '%s'", option);
}

int spate_stage_set_config(struct spate_stage *stage, const char *option,
			   const char *value)
{
	struct sp_node *v;
	int r;

	if (!stage)
		return -EINVAL;
	stage->flow->error[0] = '\0';
	if (!option || !*option)
		return config_error(stage, -EINVAL, "no option name");
	if (graph_key(option))
		return config_error(stage, -EINVAL,
				    "'%s' is not an option: it belongs to "
				    "the graph (connect stages instead)",
				    option);
	if (strcmp(option, "on_record_error") == 0) {
		char *e = NULL;

		if (value && !(e = strdup(value)))
			return -ENOMEM;
		free(stage->s->on_record_error);
		stage->s->on_record_error = e;
		return 0;
	}
	/* removing is always allowed: a loaded flow may hold a misspelt
	 * option that the caller wants gone */
	if (!value) {
		sp_node_map_remove(stage->s->config, option);
		return 0;
	}
	r = check_option(stage, option);
	if (r)
		return r;
	if (is_yaml(value))
		v = sp_node_parse_yaml(value, NULL, 0);
	else
		v = sp_node_scalar(value);
	if (!v && is_yaml(value))
		return config_error(stage, -EINVAL,
				    "option '%s': %s is not valid flow-style "
				    "YAML",
				    option, value);
	if (!v)
		return -ENOMEM;
	forget_positions(v);
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

int spate_stage_remove_predicate(struct spate_stage *selector, const char *lane)
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
		sdk_strlist_drop(&flow->f->stages[i]->inputs, selector->s->id,
				 lane, false);
	return 0;
}

const char *spate_flow_error(const struct spate_flow *flow)
{
	return flow ? flow->error : "";
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
			     sdk_lookup ? sdk_lookup : sp_registry_lookup, &d);
	sdk_diags_to_buf(&d, errbuf, errlen);
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
	tmp = sdk_join(path, ".tmp.XXXXXX", "");
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
