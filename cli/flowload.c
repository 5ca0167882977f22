/*
 * Loading a flow for the command line: parse the file, load its plugins
 * (paths relative to the flow file), apply --set overrides, validate, and
 * print every problem at once: as text on stderr and, with --json, as the
 * status object {"flow", "file", "status": "invalid", "problems": [{"file",
 * "line", "stage", "option", "message"}]} on stdout.
 */
#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/params.h"
#include "record/json.h"
#include "stages/registry.h"

static int load_plugins(struct sp_flow *f, struct sp_diags *d)
{
	int bad = 0;

	for (uint32_t i = 0; i < f->plugins.n; i++) {
		const char *p = f->plugins.v[i];
		char path[PATH_MAX], err[512] = "";
		if (p[0] == '/')
			snprintf(path, sizeof(path), "%s", p);
		else
			snprintf(path, sizeof(path), "%s/%s",
				 f->dir ? f->dir : ".", p);
		if (sp_registry_load_plugin(path, err, sizeof(err))) {
			sp_diags_add(d, f->line_name, NULL, "plugins",
				     "cannot load plugin %s: %s", path, err);
			bad++;
		}
	}
	return bad;
}

struct sp_flow *cli_flow_load(const char *path, const struct sp_params *params,
			      const char *catalog,
			      char **sets, int nsets,
			      void (*edit)(struct sp_flow *f, void *arg),
			      void *arg, struct sp_diags *d, char **name)
{
	struct sp_flow *f = NULL;
	char err[256];

	if (sp_params_check(params, err, sizeof(err))) {
		sp_diags_add(d, 0, NULL, NULL, "%s", err);
		return NULL;
	}
	int rc = sp_flow_load_file_params(path, params, &f, d);
	if (rc < 0 || !f) {
		if (d->n == 0)
			sp_diags_add(d, 0, NULL, NULL, "%s",
				     strerror(rc < 0 ? -rc : EINVAL));
		goto fail;
	}
	if (d->n)
		goto fail;
	if (sp_flow_set_catalog(f, catalog)) {
		sp_diags_add(d, 0, NULL, NULL, "out of memory");
		goto fail;
	}
	if (load_plugins(f, d))
		goto fail;
	for (int i = 0; i < nsets; i++)
		sp_flow_set_option(f, sets[i], d);
	if (d->n)
		goto fail;
	if (edit)
		edit(f, arg);
	if (sp_flow_validate(f, sp_registry_lookup, d))
		goto fail;
	return f;
fail:
	if (name && f && f->name)
		*name = strdup(f->name);
	sp_flow_destroy(f);
	return NULL;
}

static void json_str(struct sp_buf *b, const char *s)
{
	if (s)
		sp_json_append_string(b, s, strlen(s));
	else
		sp_buf_append(b, "null", 4);
}

void cli_problems_json(struct sp_buf *b, const struct sp_diags *d)
{
	char num[32];

	sp_buf_putc(b, '[');
	for (uint32_t i = 0; i < d->n; i++) {
		const struct sp_diag *g = &d->v[i];
		sp_buf_append(b, i ? ",{\"file\":" : "{\"file\":", i ? 9 : 8);
		json_str(b, d->file);
		sp_buf_append(b, ",\"line\":", 8);
		if (g->line) {
			snprintf(num, sizeof(num), "%u", g->line);
			sp_buf_append(b, num, strlen(num));
		} else {
			sp_buf_append(b, "null", 4);
		}
		sp_buf_append(b, ",\"stage\":", 9);
		json_str(b, g->stage);
		sp_buf_append(b, ",\"option\":", 10);
		json_str(b, g->option);
		sp_buf_append(b, ",\"message\":", 11);
		json_str(b, g->message ? g->message : "out of memory");
		sp_buf_putc(b, '}');
	}
	sp_buf_putc(b, ']');
}

void cli_status_json(FILE *out, const char *flow, const char *file,
		     const char *status, const struct sp_diags *d)
{
	struct sp_buf b;

	sp_buf_init(&b);
	sp_buf_append(&b, "{\"flow\":", 8);
	json_str(&b, flow);
	sp_buf_append(&b, ",\"file\":", 8);
	json_str(&b, file);
	sp_buf_append(&b, ",\"status\":", 10);
	json_str(&b, status);
	sp_buf_append(&b, ",\"problems\":", 12);
	cli_problems_json(&b, d);
	sp_buf_append(&b, "}\n", 2);
	fwrite(b.data, 1, b.len, out);
	sp_buf_fini(&b);
}

void cli_problems_print(const struct sp_diags *d, const char *flow, bool json)
{
	struct sp_buf line;

	sp_buf_init(&line);
	for (uint32_t i = 0; i < d->n; i++) {
		line.len = 0;
		sp_diag_format(d, i, &line);
		sp_buf_putc(&line, '\n');
		cli_notice_lines(SP_LOG_ERROR, line.data, line.len);
	}
	sp_buf_fini(&line);
	if (d->n)
		cli_notice(SP_LOG_ERROR, "%s: %u problem%s; nothing was run",
			   d->file, d->n, d->n == 1 ? "" : "s");
	if (json)
		cli_status_json(stdout, flow, d->file, "invalid", d);
}

static struct sp_flow *load_print(const char *path,
				  const struct sp_params *params, char **sets,
				  int nsets,
				  void (*edit)(struct sp_flow *f, void *arg),
				  void *arg)
{
	struct sp_diags d;

	sp_diags_init(&d, path);
	struct sp_flow *f =
	    cli_flow_load(path, params, NULL, sets, nsets, edit, arg, &d,
			  NULL);
	if (!f)
		cli_problems_print(&d, NULL, false);
	sp_diags_fini(&d);
	return f;
}

struct sp_flow *cli_load_flow(const char *path,
			      const struct sp_params *params)
{
	return load_print(path, params, NULL, 0, NULL, NULL);
}

struct sp_flow *cli_load_flow_edit(const char *path, char **sets, int nsets,
				   void (*edit)(struct sp_flow *f, void *arg),
				   void *arg)
{
	return load_print(path, NULL, sets, nsets, edit, arg);
}

static void shape_only(struct sp_flow *f, void *arg)
{
	(void)arg;
	f->shape_only = true;
}

struct sp_flow *cli_load_flow_shape(const char *path,
				    const struct sp_params *params)
{
	return load_print(path, params, NULL, 0, shape_only, NULL);
}

const char *cli_suggest(const char *word, const char *const *choices)
{
	const char *best = NULL;
	size_t best_d = 3;

	for (; *choices; choices++) {
		const char *c = *choices;
		size_t n = strlen(word), m = strlen(c);
		if (n > 64 || m > 64)
			continue;
		size_t row[65];
		for (size_t j = 0; j <= m; j++)
			row[j] = j;
		for (size_t i = 1; i <= n; i++) {
			size_t prev = row[0];
			row[0] = i;
			for (size_t j = 1; j <= m; j++) {
				size_t cur = row[j];
				size_t sub = prev + (word[i - 1] != c[j - 1]);
				size_t del = row[j] + 1, ins = row[j - 1] + 1;
				row[j] = sub < del ? (sub < ins ? sub : ins)
						   : (del < ins ? del : ins);
				prev = cur;
			}
		}
		if (row[m] < best_d) {
			best_d = row[m];
			best = c;
		}
	}
	return best;
}
