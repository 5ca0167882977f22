/*
 * The database-independent half of the table destinations
 * (stages/destinations/dbdest.h): ledger answer, workers, status.
 */
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/log.h"
#include "stages/destinations/dbdest.h"

/* sp_dbload's sender: rows of a run the target holds go nowhere */
static int send_or_drop(void *arg, const char *p, size_t n, char *err,
			size_t errlen)
{
	struct sp_dbdest *d = arg;

	return d->holds ? 0 : d->send(d->arg, p, n, err, errlen);
}

void sp_dbdest_init(struct sp_dbdest *d, const char *type,
		    const struct sp_dbdest_ops *ops,
		    const struct sp_stage_ctx *ctx, const char *table,
		    int (*send)(void *, const char *, size_t, char *, size_t),
		    void *arg)
{
	d->ops = ops;
	d->ctx = ctx;
	d->table = table;
	d->send = send;
	d->arg = arg;
	snprintf(d->who, sizeof(d->who), "[destination:%s:%s]", type,
		 ctx->id);
	d->load.cols = &d->cols;
	d->load.send = send_or_drop;
	d->load.arg = d;
	d->load.who = d->who;
	sp_dbload_init(&d->load);
}

void sp_dbdest_fini(struct sp_dbdest *d)
{
	sp_dbcols_fini(&d->cols);
	free(d->qualified);
	sp_dbload_fini(&d->load);
}

void sp_dbdest_found(struct sp_dbdest *d, bool found, uint64_t rows)
{
	if (!found)
		return;
	if (d->ctx->force) {
		sp_log_warn("%s --force: loading run %s again; the %llu rows "
			    "of its earlier load stay in %s",
			    d->who, d->ctx->run_id, (unsigned long long)rows,
			    d->table);
		return;
	}
	/* the run may still go on for a destination that lacks its output */
	d->holds = true;
	d->rows_held = rows;
	sp_log_info("%s table %s already holds this run's load (run %s, %llu "
		    "rows, see spate_loads): kept",
		    d->who, d->table, d->ctx->run_id, (unsigned long long)rows);
}

int sp_dbdest_recorded(struct sp_dbdest *d, int rc, char *err, size_t errlen)
{
	if (rc == -EEXIST)
		snprintf(err, errlen,
			 "another run loaded the same input into %s meanwhile "
			 "(spate_loads); this run rolls back",
			 d->table);
	return rc;
}

int sp_dbdest_begin(struct sp_dbdest *d, const char *sql, char *err,
		    size_t errlen)
{
	int rc = d->ops->exec(d, sql, err, errlen);

	d->in_tx = rc == 0;
	return rc;
}

int sp_dbdest_finish(void *state, bool ok, char *err, size_t errlen)
{
	struct sp_dbdest *d = state;
	int rc;

	if (!d->in_tx)
		return 0;
	if (d->loading)
		d->ops->abort_load(d);
	d->loading = false;
	d->in_tx = false;
	if (!ok)
		return d->ops->exec(d, "ROLLBACK", err, errlen);
	rc = d->ops->exec(d, "COMMIT", err, errlen);
	d->committed = rc == 0;
	return rc;
}

void *sp_dbdest_worker_create(void *state, unsigned worker)
{
	struct sp_dbdest *d = state;

	(void)worker;
	return sp_dbload_worker_create(&d->load);
}

void sp_dbdest_worker_destroy(void *state, void *wstate)
{
	(void)state;
	sp_dbload_worker_destroy(wstate);
}

int sp_dbdest_stage_batch(void *state, void *wstate, struct sp_batch *b,
			  const uint32_t *sel, uint32_t n)
{
	(void)state;
	return sp_dbload_stage(wstate, b, sel, n);
}

int64_t sp_dbdest_flush(void *state, void *wstate)
{
	(void)state;
	return sp_dbload_flush(wstate);
}

int64_t sp_dbdest_batch_end(void *state, void *wstate, uint64_t seq)
{
	(void)seq;
	return sp_dbdest_flush(state, wstate);
}

void sp_dbdest_status(void *state, struct sp_stage_status *st)
{
	struct sp_dbdest *d = state;

	if (d->holds) {
		st->skipped = 1;
		snprintf(st->note, sizeof(st->note),
			 "kept: %s holds this run's load already (%llu rows)",
			 d->table, (unsigned long long)d->rows_held);
		return;
	}
	st->bytes_out = atomic_load(&d->load.bytes_sent);
	snprintf(st->note, sizeof(st->note), "%llu rows %s %s",
		 (unsigned long long)(d->committed
					      ? d->rows_loaded
					      : atomic_load(&d->load.rows_sent)),
		 d->committed ? "loaded into" : "sent to", d->table);
}

bool sp_dbdest_holds_run(void *state)
{
	return ((struct sp_dbdest *)state)->holds;
}
