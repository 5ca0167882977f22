/*
 * Flows: the graph of stage instances, as loaded from a YAML flow file or
 * built through the SDK, and its validation.  A validated flow has every
 * stage's options bound to its config struct and every edge resolved; the
 * runtime (runtime/runtime.h) runs it.
 */
#ifndef SPATE_ENGINE_FLOW_H
#define SPATE_ENGINE_FLOW_H

#include <stdbool.h>
#include <stdint.h>

#include "core/buf.h"
#include "config/options.h"
#include "stage_api/stage.h"

/* A stage without on_record_error gets to_error when the flow has an
 * error_stage and discard otherwise (discarded records are still counted
 * as errors and reported in the run's summary).  The error stage itself
 * defaults to discard and may not use to_error. */
enum sp_on_error {
	SP_ON_ERROR_TO_ERROR = 0, /* default when the flow has an error_stage */
	SP_ON_ERROR_DISCARD,
	SP_ON_ERROR_STOP,
};

/* A data edge: records of stage `from`, lane `lane` (index into the
 * producer's lanes; 0 for single-lane stages) flow into `to`. */
struct sp_edge {
	uint32_t from, lane, to;
};

struct sp_flow_stage {
	char *id;
	char *type;
	const struct sp_stage_desc *desc; /* NULL when the type is unknown */
	struct sp_node *config;		  /* options as given (a map) */
	char *on_record_error;		  /* NULL: default */
	enum sp_on_error on_error;	  /* resolved by validation */
	struct sp_strlist inputs;	  /* "id" or "id.lane" */
	struct sp_strlist event_inputs;	  /* "id" */
	uint32_t line;			  /* 0 when built by the SDK */
	uint32_t line_on_record_error;	  /* 0: unknown, use line */
	/* filled by validation: */
	void *bound; /* desc->config_size bytes, bound options */
	uint32_t nlanes;
	const char *lanes[SP_MAX_LANES]; /* "" for a single unnamed lane */
};

/* Looks a stage type up by name (the registry, plus loaded plugins);
 * origin: the stage has no inputs, which picks the origin of a name that
 * is also a destination (postgres). */
typedef const struct sp_stage_desc *(*sp_stage_lookup_fn)(const char *type,
							  bool origin);

struct sp_flow {
	char *name;
	char *file; /* flow file path, or NULL */
	char *dir;  /* folder of the flow file, "." otherwise */
	char *catalog; /* stage catalog for `stage:` options; NULL: default */
	/* validation checks the graph and options only, not what a run would
	 * refuse (input files, catalog stages): `spate graph` */
	bool shape_only;
	int64_t workers; /* 0: the CPUs this process may use */
	char *error_stage;
	struct sp_strlist plugins;
	struct sp_flow_stage **stages;
	uint32_t nstages, cap;
	uint32_t line_workers, line_error_stage, line_name;
	/* filled by validation: */
	/* the table the stages' options were compiled against (their
	 * expressions and field paths hold its symbols); a run's table
	 * starts as a copy of it (sp_symtab_clone), so the compiled options
	 * read the run's records alike and the flow can run again */
	struct sp_symtab *symtab;
	struct sp_edge *edges;
	uint32_t nedges;
	struct sp_edge *event_edges; /* lane unused */
	uint32_t nevent_edges;
	uint32_t error_stage_index; /* UINT32_MAX when none */
	bool valid;
};

struct sp_flow *sp_flow_create(const char *name);
void sp_flow_destroy(struct sp_flow *f);

/* Reads a flow file (expanding ${env:NAME}, see below).  Syntax errors and structural errors (missing name,
 * a stage without id or type, duplicate keys) go to d with lines; returns
 * 0 and *out even when d has problems that validation would also see, or
 * -errno (file unreadable, YAML syntax) with d explaining. */
int sp_flow_load_file(const char *path, struct sp_flow **out,
		      struct sp_diags *d);
/* The same, expanding ${env:NAME} and ${param:NAME} (config/params.h)
 * with params (NULL: none given) before the options are taken. */
struct sp_params;
int sp_flow_load_file_params(const char *path, const struct sp_params *params,
			     struct sp_flow **out, struct sp_diags *d);
/* The same from text; name_for_messages stands in for the file name. */
int sp_flow_load_string(const char *yaml, const char *name_for_messages,
			struct sp_flow **out, struct sp_diags *d);

/* Binds options and resolves the graph.  Every problem goes to d (all of
 * them, not just the first); returns the number of problems (0 = valid).
 * Checks: flow name, unknown type, options (sp_options_bind), duplicate
 * id, bad id, dangling input or lane, cycle, origin with inputs, processor
 * or destination without inputs (except the error_stage), destination or
 * executor used as an input, unreachable stage, error_stage not a
 * destination, event_inputs on a non-executor naming an unknown stage,
 * bad on_record_error, workers out of range; and per stage what a run
 * would refuse before moving data (flow/flow_check.c): catalog stages
 * named by `stage:`, the stage type's check callback, create() of types
 * whose create only checks, two stages writing the same target. */
int sp_flow_validate(struct sp_flow *f, sp_stage_lookup_fn lookup,
		     struct sp_diags *d);

/* The stage catalog validation and runs resolve `stage:` options in
 * (NULL: the default).  0 or -ENOMEM. */
int sp_flow_set_catalog(struct sp_flow *f, const char *path);

/* Writes f as a flow file; load -> save -> load -> save is identical. */
int sp_flow_save_yaml(const struct sp_flow *f, struct sp_buf *out);

/* Editing (the SDK builds on these).  Stage pointers stay valid until the
 * stage is removed or the flow destroyed. */
struct sp_flow_stage *sp_flow_add_stage(struct sp_flow *f, const char *type,
					const char *id);
int sp_flow_remove_stage(struct sp_flow *f, const char *id);
struct sp_flow_stage *sp_flow_find(const struct sp_flow *f, const char *id);
uint32_t sp_flow_index(const struct sp_flow *f, const struct sp_flow_stage *s);

/* Sets --set style overrides: "stage.option=value".  0 or -EINVAL with
 * a message in d. */
int sp_flow_set_option(struct sp_flow *f, const char *assignment,
		       struct sp_diags *d);

/* The SDK's handle (include/spate/spate.h) around a flow, for the SDK's
 * run half: the engine flow behind it. */
struct spate_flow;
struct sp_flow *sp_sdk_flow(struct spate_flow *flow);

/* Stage types the SDK validates against: sp_registry_find unless set
 * (tests); NULL restores the registry. */
void sp_sdk_set_lookup(sp_stage_lookup_fn lookup);

#endif
