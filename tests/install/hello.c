/*
 * A program built against an installed spate (tests/e2e/install_test.c):
 * only <spate/spate.h> and `pkg-config --cflags --libs --static spate`.
 * Builds a small flow with the SDK, validates it, saves it to the path
 * given as argv[1] and prints the YAML it saved.
 */
#include <stdio.h>
#include <stdlib.h>

#include <spate/spate.h>

int main(int argc, char **argv)
{
	char err[1024], yaml[4096];
	struct spate_flow *flow;
	struct spate_stage *gen, *sink;
	int n;

	if (argc != 2) {
		fprintf(stderr, "usage: hello FLOW.yaml\n");
		return 2;
	}
	flow = spate_flow_create("hello");
	gen = spate_flow_add_stage(flow, "dev_data_generator", "gen");
	sink = spate_flow_add_stage(flow, "trash", "sink");
	if (!flow || !gen || !sink)
		return 1;
	if (spate_stage_set_config(gen, "records", "42") ||
	    !spate_stage_connect_output(gen, sink))
		return 1;
	n = spate_flow_validate(flow, err, sizeof(err));
	if (n != 0) {
		fprintf(stderr, "hello: %d problems:\n%s", n, err);
		return 1;
	}
	if (spate_flow_save(flow, argv[1])) {
		fprintf(stderr, "hello: cannot save %s\n", argv[1]);
		return 1;
	}
	n = spate_flow_to_yaml(flow, yaml, sizeof(yaml));
	if (n < 0 || (size_t)n >= sizeof(yaml))
		return 1;
	fputs(yaml, stdout);
	spate_flow_destroy(flow);
	return 0;
}
