/*
 * Configuration trees: the maps, lists and scalars (with their lines) a
 * flow file or the SDK gives a stage, before they are bound to its
 * config struct.
 */
#include "config/config_internal.h"

/* ---- configuration trees -------------------------------------------- */

static struct sp_node *node_new(enum sp_node_kind kind)
{
	struct sp_node *n = calloc(1, sizeof(*n));

	if (n)
		n->kind = kind;
	return n;
}

struct sp_node *sp_node_scalar(const char *text)
{
	struct sp_node *n = node_new(SP_NODE_SCALAR);

	if (!n)
		return NULL;
	n->text = strdup(text ? text : "");
	if (!n->text) {
		free(n);
		return NULL;
	}
	return n;
}

struct sp_node *sp_node_list(void)
{
	return node_new(SP_NODE_LIST);
}

struct sp_node *sp_node_map(void)
{
	return node_new(SP_NODE_MAP);
}

static int node_reserve(struct sp_node *n)
{
	uint32_t cap;
	struct sp_node **items;
	char **keys;

	if (n->n < n->cap)
		return 0;
	cap = n->cap ? n->cap * 2 : 4;
	items = realloc(n->items, cap * sizeof(*items));
	if (!items)
		return -ENOMEM;
	n->items = items;
	if (n->kind == SP_NODE_MAP) {
		keys = realloc(n->keys, cap * sizeof(*keys));
		if (!keys)
			return -ENOMEM;
		n->keys = keys;
	}
	n->cap = cap;
	return 0;
}

int sp_node_list_add(struct sp_node *list, struct sp_node *item)
{
	if (!list || list->kind != SP_NODE_LIST || !item)
		return -EINVAL;
	if (node_reserve(list))
		return -ENOMEM;
	list->items[list->n++] = item;
	return 0;
}

static int map_find(const struct sp_node *map, const char *key)
{
	for (uint32_t i = 0; i < map->n; i++)
		if (strcmp(map->keys[i], key) == 0)
			return (int)i;
	return -1;
}

int sp_node_map_set(struct sp_node *map, const char *key, struct sp_node *value)
{
	int i;
	char *k;

	if (!map || map->kind != SP_NODE_MAP || !key || !value)
		return -EINVAL;
	i = map_find(map, key);
	if (i >= 0) {
		sp_node_free(map->items[i]);
		map->items[i] = value;
		return 0;
	}
	if (node_reserve(map))
		return -ENOMEM;
	k = strdup(key);
	if (!k)
		return -ENOMEM;
	map->keys[map->n] = k;
	map->items[map->n++] = value;
	return 0;
}

bool sp_node_map_remove(struct sp_node *map, const char *key)
{
	int i;

	if (!map || map->kind != SP_NODE_MAP || !key)
		return false;
	i = map_find(map, key);
	if (i < 0)
		return false;
	free(map->keys[i]);
	sp_node_free(map->items[i]);
	memmove(map->keys + i, map->keys + i + 1,
		(map->n - i - 1) * sizeof(*map->keys));
	memmove(map->items + i, map->items + i + 1,
		(map->n - i - 1) * sizeof(*map->items));
	map->n--;
	return true;
}

struct sp_node *sp_node_map_get(const struct sp_node *map, const char *key)
{
	int i;

	if (!map || map->kind != SP_NODE_MAP || !key)
		return NULL;
	i = map_find(map, key);
	return i < 0 ? NULL : map->items[i];
}

struct sp_node *sp_node_clone(const struct sp_node *n)
{
	struct sp_node *c;

	if (!n)
		return NULL;
	c = node_new(n->kind);
	if (!c)
		return NULL;
	c->quoted = n->quoted;
	c->line = n->line;
	c->column = n->column;
	if (n->kind == SP_NODE_SCALAR) {
		c->text = strdup(n->text ? n->text : "");
		if (!c->text)
			goto fail;
		return c;
	}
	for (uint32_t i = 0; i < n->n; i++) {
		struct sp_node *item = sp_node_clone(n->items[i]);

		if (!item)
			goto fail;
		if (n->kind == SP_NODE_LIST
			? sp_node_list_add(c, item)
			: sp_node_map_set(c, n->keys[i], item)) {
			sp_node_free(item);
			goto fail;
		}
	}
	return c;
fail:
	sp_node_free(c);
	return NULL;
}

void sp_node_free(struct sp_node *n)
{
	if (!n)
		return;
	for (uint32_t i = 0; i < n->n; i++) {
		sp_node_free(n->items[i]);
		if (n->keys)
			free(n->keys[i]);
	}
	free(n->items);
	free(n->keys);
	free(n->text);
	free(n);
}
