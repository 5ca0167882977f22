/*
 * The C SDK, configuration: reading and editing a stage's options and a
 * selector's predicates, validating against the stage registry, and
 * saving as YAML.
 */
#include "sdk/sdk_internal.h"

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
	if (is_yaml(value))
		v = sp_node_parse_yaml(value, NULL, 0);
	else
		v = sp_node_scalar(value);
	if (!v)
		return is_yaml(value) ? -EINVAL : -ENOMEM;
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
