/*
 * What `spate run --http` serves about the run in hand: /health (200
 * while the run is running, 503 with the state otherwise), /metrics (the
 * Prometheus text of --metrics-file), /status (the --json status, live),
 * /graph (the flow's stages, lanes and edges as JSON) and / (a
 * self-contained page that draws the graph and polls /status for per-stage
 * and per-lane rates).  Answers come from sp_runtime_report, which any
 * thread may call; the flow does not change while the run lives.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cli/http.h"
#include "record/json.h"

struct cli_serve {
	struct cli_http *http;
	struct sp_runtime *rt;
	const struct sp_flow *f;
};

static void put(struct sp_buf *b, const char *s)
{
	sp_buf_append(b, s, strlen(s));
}

static void str(struct sp_buf *b, const char *s)
{
	sp_json_append_string(b, s, strlen(s));
}

/* {"flow", "run_id", "stages": [{"id", "type", "kind", "lanes"}],
 *  "edges": [{"from", "lane", "to"}], "events": [{"from", "to"}]} */
static void graph_json(const struct cli_serve *s, const char *run_id,
		       struct sp_buf *b)
{
	const struct sp_flow *f = s->f;

	sp_buf_append(b, "{\"flow\":", 8);
	str(b, f->name);
	sp_buf_append(b, ",\"run_id\":", 10);
	str(b, run_id);
	sp_buf_append(b, ",\"stages\":[", 11);
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_flow_stage *st = f->stages[i];
		sp_buf_append(b, i ? ",{\"id\":" : "{\"id\":", i ? 7 : 6);
		str(b, st->id);
		sp_buf_append(b, ",\"type\":", 8);
		str(b, st->type);
		sp_buf_append(b, ",\"kind\":", 8);
		str(b, sp_stage_kind_name(st->desc->kind));
		sp_buf_append(b, ",\"lanes\":[", 10);
		for (uint32_t l = 0; st->nlanes > 1 && l < st->nlanes; l++) {
			if (l)
				sp_buf_putc(b, ',');
			str(b, st->lanes[l]);
		}
		sp_buf_append(b, "]}", 2);
	}
	sp_buf_append(b, "],\"edges\":[", 11);
	for (uint32_t e = 0; e < f->nedges; e++) {
		const struct sp_edge *ed = &f->edges[e];
		const struct sp_flow_stage *from = f->stages[ed->from];
		sp_buf_append(b, e ? ",{\"from\":" : "{\"from\":", e ? 9 : 8);
		str(b, from->id);
		sp_buf_append(b, ",\"lane\":", 8);
		str(b, from->nlanes > 1 ? from->lanes[ed->lane] : "");
		sp_buf_append(b, ",\"to\":", 6);
		str(b, f->stages[ed->to]->id);
		sp_buf_putc(b, '}');
	}
	sp_buf_append(b, "],\"events\":[", 12);
	for (uint32_t e = 0; e < f->nevent_edges; e++) {
		const struct sp_edge *ed = &f->event_edges[e];
		sp_buf_append(b, e ? ",{\"from\":" : "{\"from\":", e ? 9 : 8);
		str(b, f->stages[ed->from]->id);
		sp_buf_append(b, ",\"to\":", 6);
		str(b, f->stages[ed->to]->id);
		sp_buf_putc(b, '}');
	}
	sp_buf_append(b, "]}\n", 3);
}

/* what fn writes on a FILE, into b */
static void capture(struct sp_buf *b, const struct cli_serve *s,
		    const struct sp_run_report *rep, bool metrics)
{
	char *text = NULL;
	size_t len = 0;
	FILE *out = open_memstream(&text, &len);

	if (!out)
		return;
	if (metrics)
		cli_metrics_put(out, s->f->name, rep);
	else
		cli_print_json(out, s->f, rep);
	fclose(out);
	sp_buf_append(b, text, len);
	free(text);
}

static void handle(void *arg, const char *path, struct cli_http_reply *r)
{
	struct cli_serve *s = arg;
	struct sp_run_report rep;

	if (!strcmp(path, "/")) {
		r->type = "text/html; charset=utf-8";
		put(&r->body, cli_status_page);
		return;
	}
	if (strcmp(path, "/health") && strcmp(path, "/metrics") &&
	    strcmp(path, "/status") && strcmp(path, "/graph")) {
		r->status = 404;
		put(&r->body, "not found: try /, /health, /metrics, /status "
			      "or /graph\n");
		return;
	}
	if (sp_runtime_report(s->rt, &rep)) {
		r->status = 500;
		put(&r->body, "out of memory\n");
		return;
	}
	if (!strcmp(path, "/health")) {
		const char *state = sp_run_state_name(rep.state);
		if (rep.state != SP_RUN_RUNNING)
			r->status = 503;
		put(&r->body, rep.state == SP_RUN_RUNNING ? "ok" : state);
		sp_buf_putc(&r->body, '\n');
	} else if (!strcmp(path, "/metrics")) {
		r->type = "text/plain; version=0.0.4; charset=utf-8";
		capture(&r->body, s, &rep, true);
	} else if (!strcmp(path, "/status")) {
		r->type = "application/json";
		capture(&r->body, s, &rep, false);
	} else {
		r->type = "application/json";
		graph_json(s, rep.run_id, &r->body);
	}
	sp_run_report_fini(&rep);
}

int cli_serve_create(const char *addr, struct sp_runtime *rt,
		     const struct sp_flow *f, struct cli_serve **out, char *err,
		     size_t errlen)
{
	struct cli_serve *s = calloc(1, sizeof(*s));

	*out = NULL;
	if (!s)
		return -ENOMEM;
	s->rt = rt;
	s->f = f;
	int rc = cli_http_create(addr, handle, s, &s->http, err, errlen);
	if (rc) {
		free(s);
		return rc;
	}
	*out = s;
	return 0;
}

const char *cli_serve_url(const struct cli_serve *s)
{
	return cli_http_url(s->http);
}

int cli_serve_start(struct cli_serve *s)
{
	return cli_http_start(s->http);
}

void cli_serve_destroy(struct cli_serve *s)
{
	if (!s)
		return;
	cli_http_destroy(s->http);
	free(s);
}
