/*
 * The run id: what makes a rerun of a flow over the same input
 * recognisable (doc/design.md, "Exactly once"): a hash of the flow's text
 * and of every origin's identity, new every run when an origin's input
 * cannot be read again.
 *
 * A destination that compares it with what its target holds (a manifest,
 * a ledger row) needs it before it starts; then the origins take what
 * their identities lack first (file_reader: the content hash of its
 * files, one read of the input before the run).  When no destination
 * needs it at start (new targets, --force), it is taken after the data,
 * before prepare, from the hashes the read took on the way: new input is
 * read once instead of twice.  Both ways give the same id.
 */
#include "runtime/runtime_internal.h"

#include <stdio.h>
#include <string.h>

static uint64_t fnv64_step(uint64_t h, uint64_t v)
{
	return (h ^ v) * 1099511628211ull;
}

static bool reads_abi4(const struct stage_rt *s)
{
	return s->desc->abi >= 4 && s->state;
}

bool rt_identity_pending(const struct sp_runtime *rt)
{
	for (uint32_t i = 0; i < rt->nstages; i++) {
		const struct stage_rt *s = &rt->st[i];
		if (s->desc->kind == SP_ORIGIN && reads_abi4(s) &&
		    s->desc->identity_pending && s->desc->complete_identity &&
		    s->desc->identity_pending(s->state))
			return true;
	}
	return false;
}

/* The first stage that needs the run id at start, or NULL.  A stage
 * built before ABI 4 may read ctx->run_id in start() (it was final then):
 * it needs it.  From ABI 4 on, a stage says so through run_id_at_start; a
 * destination without the callback needs it (it may compare the id with
 * its target in start), a stage of another kind does not (ABI 4 promises
 * it the id from prepare() on). */
static const struct stage_rt *needs_id_at_start(const struct sp_runtime *rt)
{
	for (uint32_t i = 0; i < rt->nstages; i++) {
		const struct stage_rt *s = &rt->st[i];
		if (s->desc->abi < 4)
			return s;
		if (s->desc->run_id_at_start ? s->desc->run_id_at_start(s->state)
					     : s->desc->kind == SP_DESTINATION)
			return s;
	}
	return NULL;
}

bool rt_run_id_can_wait(const struct sp_runtime *rt)
{
	if (rt->opt.validate_only || !rt_identity_pending(rt))
		return false;
	const struct stage_rt *d = needs_id_at_start(rt);
	if (!d)
		return true;
	if (d->desc->abi < 4)
		sp_log_info("the input is hashed before the run: stage '%s' "
			    "(%s) was built for stage ABI %u, whose start may "
			    "read the run id", d->fs->id, d->desc->name,
			    (unsigned)d->desc->abi);
	else
		sp_log_info("the input is hashed before the run: stage '%s' "
			    "(%s) needs the run id when it starts (it "
			    "compares it with what its target holds or names "
			    "its output with it; a new target, or --force, "
			    "reads the input once)", d->fs->id, d->desc->name);
	return false;
}

int rt_identity_complete(struct sp_runtime *rt, char *err, size_t errlen)
{
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (s->desc->kind != SP_ORIGIN || !reads_abi4(s) ||
		    !s->desc->identity_pending || !s->desc->complete_identity ||
		    !s->desc->identity_pending(s->state))
			continue;
		char msg[512] = "";
		int rc = s->desc->complete_identity(s->state, msg, sizeof(msg));
		if (rc < 0) {
			snprintf(err, errlen, "stage '%s' (%s): %s", s->fs->id,
				 s->desc->name, msg[0] ? msg : strerror(-rc));
			return rc;
		}
	}
	return 0;
}

void rt_run_id_set(struct sp_runtime *rt)
{
	/* the flow's key is the hex of its text's hash, as run ids always
	 * were: a new version of spate recognises the runs of an older */
	uint64_t id = 1469598103934665603ull;
	char hex[17];

	for (const char *p = rt->flow_key; *p; p++)
		id = fnv64_step(id, (unsigned char)*p);
	for (uint32_t i = 0; i < rt->nstages; i++) {
		struct stage_rt *s = &rt->st[i];
		if (s->desc->kind == SP_ORIGIN && s->desc->identity && s->state)
			id = fnv64_step(id, s->desc->identity(s->state));
	}
	/* input that cannot be read again is new input every run */
	if (rt->streaming)
		id = fnv64_step(id, rt->unique);
	snprintf(hex, sizeof(hex), "%016llx", (unsigned long long)id);
	pthread_mutex_lock(&rt->lock); /* sp_runtime_report may read it */
	memcpy(rt->run_id, hex, sizeof(hex));
	pthread_mutex_unlock(&rt->lock);
}
