/*
 * For unit tests: one stage made from its descriptor the way a run makes
 * it, without a run.  Options are bound from YAML text by the option
 * table, the stage is created with a context that lives as long as the
 * stage, worker 0 gets its state, and close undoes all of it in reverse.
 *
 * The harness is filled in place and must not move between open and
 * close: a stage may keep a pointer to h->ctx (shell does).  Failed
 * checks of the harness itself (bad test YAML, a bind that should have
 * been clean) fail the calling Criterion test.  Linked with the engine,
 * so unit tests only (the e2e support library is not).
 */
#ifndef SPATE_TESTS_STAGE_HARNESS_H
#define SPATE_TESTS_STAGE_HARNESS_H

#include <stdbool.h>
#include <stdint.h>

#include "stage_api/stage.h"

struct stage_harness {
	const struct sp_stage_desc *desc;
	struct sp_symtab *symtab; /* the caller's, or the harness's own */
	bool own_symtab;
	void *config;		  /* the bound option struct */
	struct sp_stage_ctx ctx;  /* flow "f", stage id "t" */
	void *state;		  /* set once create succeeded */
	void *ws;		  /* worker 0's state, when desc has one */
	uint32_t nlanes;	  /* output lanes (1 without desc->lanes) */
	const char *lanes[SP_MAX_LANES];
	char err[512]; /* first bind problem, or create's message */
};

/* Binds yaml (a map) to desc's options into a new config.  symtab is the
 * caller's (kept by the caller) or NULL for one of the harness's own.
 * Returns the number of problems, the first one formatted in h->err.
 * Call stage_harness_close afterwards whatever it returns. */
int stage_harness_bind(struct stage_harness *h,
		       const struct sp_stage_desc *desc,
		       struct sp_symtab *symtab, const char *yaml);

/* After a clean bind: creates the stage with ctx.workers = workers, then
 * worker 0's state when desc has worker_create, and reads the lanes.
 * Returns 0, create's -errno (its message in h->err), or -ENOMEM when
 * worker 0 gets no state.  Allocates nothing of its own, so allocation
 * failures counted around it are the stage's. */
int stage_harness_create(struct stage_harness *h, unsigned workers);

/* stage_harness_bind, which must find no problem, then
 * stage_harness_create with one worker; returns create's result. */
int stage_harness_open(struct stage_harness *h,
		       const struct sp_stage_desc *desc,
		       struct sp_symtab *symtab, const char *yaml);

/* Destroys worker 0's state, closes the stage, frees the options (and the
 * harness's own symtab); h is zeroed.  Whatever bind or create did or
 * did not get to; a zeroed harness is left alone. */
void stage_harness_close(struct stage_harness *h);

#endif
