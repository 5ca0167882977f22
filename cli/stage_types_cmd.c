/*
 * `spate stages [TYPE]` and `spate graph FLOW`: discovery from the option
 * tables and the validated flow graph.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "config/params.h"
#include "stages/registry.h"

static const char stages_usage[] =
	"usage: spate stages [TYPE | --json]\n"
	"\n"
	"Without TYPE, lists every stage type with its kind and what it does;\n"
	"with TYPE, prints its options (type, default, bounds, help).\n"
	"--json prints every type with its options as one JSON array.\n"
	"(`spate stage`, singular, manages the stage catalog: named\n"
	"locations that flows read from and write to.)\n"
	"\n"
	"examples:\n"
	"  spate stages\n"
	"  spate stages file_writer\n"
	"  spate stages --json\n";

static const char graph_usage[] =
	"usage: spate graph FLOW [--format text|dot] [--param NAME=V ...]\n"
	"\n"
	"Prints the stages of FLOW with their lanes and event edges.\n"
	"`--format dot` is for Graphviz.\n"
	"\n"
	"examples:\n"
	"  spate graph examples/expenses.yaml\n"
	"  spate graph f.yaml --format dot | dot -Tsvg > f.svg\n";

static void print_type(const struct sp_stage_desc *d)
{
	struct sp_buf b;

	sp_buf_init(&b);
	printf("%s (%s): %s\n\noptions:\n", d->name,
	       sp_stage_kind_name(d->kind), d->help);
	sp_options_help(d->options, &b);
	fwrite(b.data, 1, b.len, stdout);
	printf("  on_record_error  enum, default to_error when the flow has an "
	       "error_stage, else discard\n      choices: discard, to_error, "
	       "stop\n      what to do with a record this stage cannot "
	       "process\n");
	sp_buf_fini(&b);
}

int cli_stages(int argc, char **argv)
{
	const struct sp_stage_desc *all[256];
	uint32_t n = sp_registry_list(all, 256);
	const char *pos[1];
	bool json = false;
	const struct cli_opt opts[] = {{"--json", NULL, &json, NULL},
				       {NULL, NULL, NULL, NULL}};
	int npos;

	/* not in the usage: the reference of README.md and doc/spate.1,
	 * for scripts/gen-docs */
	if (argc == 2 && !strcmp(argv[1], "--markdown"))
		return cli_stages_reference(stdout, false);
	if (argc == 2 && !strcmp(argv[1], "--man"))
		return cli_stages_reference(stdout, true);
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, stages_usage);
	if (rc >= 0)
		return rc;
	if (json && npos) {
		fprintf(stderr, "spate: stages: TYPE or --json, not both\n\n%s",
			stages_usage);
		return SPATE_EXIT_USAGE;
	}
	if (json)
		return cli_stages_json(stdout);
	if (!npos) {
		for (uint32_t i = 0; i < n; i++)
			printf("%-22s %-12s %s\n", all[i]->name,
			       sp_stage_kind_name(all[i]->kind), all[i]->help);
		return SPATE_EXIT_OK;
	}
	const struct sp_stage_desc *d = sp_registry_find(pos[0]);
	if (!d) {
		const char *hint = sp_registry_suggest(pos[0]);
		fprintf(stderr, "spate: unknown stage type '%s'", pos[0]);
		if (hint)
			fprintf(stderr, " (did you mean '%s'?)", hint);
		fprintf(stderr, "; `spate stages` lists them\n");
		return SPATE_EXIT_USAGE;
	}
	const struct sp_stage_desc *o = sp_registry_lookup(argv[1], true);
	if (o != d) {
		printf("%s is an origin when the stage has no inputs and a %s "
		       "when it has inputs.\n\n",
		       d->name, sp_stage_kind_name(d->kind));
		print_type(o);
		putchar('\n');
	}
	print_type(d);
	return SPATE_EXIT_OK;
}

static const char *lane_name(const struct sp_flow_stage *s, uint32_t lane)
{
	return s->nlanes > 1 ? s->lanes[lane] : "";
}

int cli_graph(int argc, char **argv)
{
	const char *path = NULL, *format = "text", *pos[1];
	struct cli_multi params = {0};
	const struct cli_opt opts[] = {{"--format", &format, NULL, NULL},
				       {"--param", NULL, NULL, &params},
				       {NULL, NULL, NULL, NULL}};
	int npos;
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, graph_usage);

	if (npos)
		path = pos[0];
	if (rc < 0 && (!path || (strcmp(format, "text") &&
				 strcmp(format, "dot")))) {
		fputs(graph_usage, stderr);
		rc = SPATE_EXIT_USAGE;
	}
	struct sp_params pv = {params.v, params.n};
	struct sp_flow *f = rc < 0 ? cli_load_flow_shape(path, &pv) : NULL;
	free(params.v);
	if (rc >= 0)
		return rc;
	if (!f)
		return SPATE_EXIT_USAGE;
	bool dot = !strcmp(format, "dot");
	if (dot)
		printf("digraph \"%s\" {\n  rankdir=LR;\n", f->name);
	else
		printf("flow %s\n", f->name);
	for (uint32_t i = 0; i < f->nstages; i++) {
		const struct sp_flow_stage *s = f->stages[i];
		if (dot) {
			printf("  \"%s\" [label=\"%s\\n%s\" shape=%s];\n",
			       s->id, s->id, s->type,
			       s->desc->kind == SP_ORIGIN	  ? "invhouse"
			       : s->desc->kind == SP_DESTINATION ? "house"
			       : s->desc->kind == SP_EXECUTOR	  ? "octagon"
								  : "box");
			continue;
		}
		printf("  [%s] %s (%s)\n", sp_stage_kind_name(s->desc->kind),
		       s->id, s->type);
		for (uint32_t e = 0; e < f->nedges; e++) {
			const struct sp_edge *ed = &f->edges[e];
			if (ed->from != i)
				continue;
			const char *l = lane_name(s, ed->lane);
			printf("      %s%s--> %s\n", l, *l ? " " : "",
			       f->stages[ed->to]->id);
		}
		for (uint32_t e = 0; e < f->nevent_edges; e++) {
			const struct sp_edge *ed = &f->event_edges[e];
			if (ed->from == i)
				printf("      events ~~> %s\n",
				       f->stages[ed->to]->id);
		}
	}
	if (dot) {
		for (uint32_t e = 0; e < f->nedges; e++) {
			const struct sp_edge *ed = &f->edges[e];
			const char *l = lane_name(f->stages[ed->from], ed->lane);
			printf("  \"%s\" -> \"%s\" [label=\"%s\"];\n",
			       f->stages[ed->from]->id, f->stages[ed->to]->id,
			       l);
		}
		for (uint32_t e = 0; e < f->nevent_edges; e++)
			printf("  \"%s\" -> \"%s\" [style=dashed "
			       "label=\"events\"];\n",
			       f->stages[f->event_edges[e].from]->id,
			       f->stages[f->event_edges[e].to]->id);
		printf("}\n");
	}
	sp_flow_destroy(f);
	return SPATE_EXIT_OK;
}
