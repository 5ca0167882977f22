/*
 * `spate worker`, `spate submit` and `spate jobs`: the command side of
 * cluster mode (cluster/): options, the --wait progress and the tables
 * and JSON that say where a job stands.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "cluster/job.h"
#include "cluster/jsq.h"
#include "cluster/submit.h"
#include "cluster/worker.h"
#include "config/options.h"
#include "record/json.h"

#define WAIT_POLL_MS 20
#define PROGRESS_POLL_MS 300
#define MAX_SETS 64

static const char worker_usage[] =
    "usage: spate worker --nats URL[,URL...] [options]\n"
    "\n"
    "Pulls shard tasks of cluster jobs (`spate submit`) from the NATS\n"
    "JetStream work queue, runs each with the engine, commits its output\n"
    "into the job's staging area and acknowledges it; the worker that\n"
    "completes a job's last shard queues its publication.  Runs until\n"
    "SIGTERM or SIGINT, which abort and release (Nak) running shards.\n"
    "\n"
    "options:\n"
    "  --nats URLS       NATS servers of one cluster, comma-separated\n"
    "  --concurrency N   shards at once (default 1)\n"
    "  --workers N       engine threads per shard (default: the CPUs)\n"
    "  --ack-wait S      seconds a task stays leased without a sign of\n"
    "                    life before another worker gets it (default 30;\n"
    "                    used when this worker creates the consumer)\n"
    "  --replicas N      replicas of the stream and buckets it creates\n"
    "\n"
    "examples:\n"
    "  spate worker --nats nats://10.0.0.5:4222,nats://10.0.0.6:4222\n"
    "  spate worker --nats nats://127.0.0.1:4222 --concurrency 2 "
    "--workers 1\n";

static const char submit_usage[] =
    "usage: spate submit FLOW --nats URL[,URL...] [options]\n"
    "\n"
    "Turns FLOW into a cluster job: its file_reader's files cut into\n"
    "shards of about --shard-size bytes (a larger JSON-lines or CSV file\n"
    "split on record boundaries, smaller files grouped), one task each\n"
    "on the work queue (paths must be shared by every worker host).\n"
    "The same flow over the same input is the same job: submitting it\n"
    "again queues nothing twice, and files the flow loaded before are\n"
    "left out.\n"
    "\n"
    "options:\n"
    "  --nats URLS          NATS servers, comma-separated\n"
    "  --wait               follow the job until it is published or\n"
    "                       fails; exit 0 only when published\n"
    "  --json               with --wait: the job's final status as JSON\n"
    "  --force              load files loaded before; replace outputs\n"
    "  --shard-size SIZE    input bytes per shard (default 256M; K, M, G)\n"
    "  --set STAGE.OPT=V    override an option (repeatable)\n"
    "  --replicas N         replicas of the stream and buckets it creates\n"
    "\n"
    "examples:\n"
    "  spate submit backfill.yaml --nats nats://10.0.0.5:4222 --wait\n";

const char cli_jobs_usage[] =
    "usage: spate jobs --nats URL[,URL...] [JOB] [--json]\n"
    "\n"
    "Lists the cluster jobs (state, shards committed), or the shards of\n"
    "JOB (state, worker, records, inputs).\n";

static int parse_uint(const char *opt, const char *v, unsigned *out)
{
	char *end = NULL;
	unsigned long n = v ? strtoul(v, &end, 10) : 0;

	if (!v || !*v || *end || n > 100000) {
		fprintf(stderr, "spate: %s needs a number, not '%s'\n", opt,
			v ? v : "");
		return -EINVAL;
	}
	*out = (unsigned)n;
	return 0;
}

struct sp_jsq *cli_open_queue(const char *urls, unsigned replicas,
			      const char *who)
{
	struct sp_jsq_config cfg = {.replicas = replicas, .client_name = who};
	struct sp_jsq *q = NULL;
	char err[512] = "";

	if (sp_jsq_open(urls, &cfg, &q, err, sizeof(err)) < 0)
		fprintf(stderr, "spate: %s\n", err);
	return q;
}

int cli_worker(int argc, char **argv)
{
	struct sp_cworker_opts o = {.concurrency = 1, .ack_wait_ms = 30000};
	unsigned ack_s = 30;
	const char *conc = NULL, *workers = NULL, *ack = NULL, *repl = NULL;
	const struct cli_opt opts[] = {
		{"--nats", &o.urls, NULL, NULL},
		{"--concurrency", &conc, NULL, NULL},
		{"--workers", &workers, NULL, NULL},
		{"--ack-wait", &ack, NULL, NULL},
		{"--replicas", &repl, NULL, NULL},
		{NULL, NULL, NULL, NULL}};
	int npos;
	int rc = cli_parse_args(argc, argv, opts, NULL, 0, &npos, worker_usage);

	if (rc >= 0)
		return rc;
	if ((conc && parse_uint("--concurrency", conc, &o.concurrency) < 0) ||
	    (workers && parse_uint("--workers", workers, &o.workers) < 0) ||
	    (ack && parse_uint("--ack-wait", ack, &ack_s) < 0) ||
	    (repl && parse_uint("--replicas", repl, &o.replicas) < 0))
		return SPATE_EXIT_USAGE;
	if (!o.urls || !o.concurrency || !ack_s) {
		fprintf(stderr, "spate worker: --nats URL is required "
				"(--concurrency and --ack-wait at least 1)\n");
		return SPATE_EXIT_USAGE;
	}
	o.ack_wait_ms = (uint64_t)ack_s * 1000;
	return sp_cworker_run(&o) < 0 ? SPATE_EXIT_FAILED : SPATE_EXIT_OK;
}

/* ---- submit ------------------------------------------------------------- */

void cli_job_status_json(FILE *f, const char *job, const char *flow,
			 const struct sp_cjob_state *st, unsigned shards,
			 const struct sp_cjob_progress *p)
{
	struct sp_buf b;

	sp_buf_init(&b);
	sp_json_append_string(&b, st->error, strlen(st->error));
	sp_buf_putc(&b, '\0');
	fprintf(f,
		"{\"job\": \"%s\", \"flow\": \"%s\", \"state\": \"%s\", "
		"\"shards\": %u, \"done\": %u, \"running\": %u, \"failed\": "
		"%u, \"records_in\": %" PRIu64 ", \"records_out\": %" PRIu64
		", \"errors\": %" PRIu64 ", \"error_records\": %" PRIu64
		", \"bytes_in\": %" PRIu64 ", \"bytes_out\": %" PRIu64
		", \"error\": %s}\n",
		job, flow, st->state, shards, sp_cjob_state_done(st),
		p->running, p->failed, p->records_in, p->records_out, p->errors,
		p->error_records, p->bytes_in, p->bytes_out,
		b.data ? b.data : "\"\"");
	sp_buf_fini(&b);
}

/* Follows job until it is published or failed; the exit code. */
static int wait_job(struct sp_jsq *q, const char *job, unsigned shards,
		    bool json)
{
	struct sp_cjob spec;
	char flow[256] = "";

	if (sp_cjob_get(q, job, &spec) == 0) {
		snprintf(flow, sizeof(flow), "%s", spec.flow);
		sp_cjob_fini(&spec);
	}
	bool tty = isatty(STDERR_FILENO);
	struct sp_cjob_state st = {0};
	struct sp_cjob_progress p = {0};

	/* the state (one key) is read often, so that the end is seen soon
	 * after it happens; the progress (a key per shard) less often */
	for (unsigned tick = 0;; tick++) {
		sp_cjob_state_fini(&st);
		if (sp_cjob_state_get(q, job, &st, NULL) < 0) {
			usleep(PROGRESS_POLL_MS * 1000);
			continue;
		}
		bool end = strcmp(st.state, "running") != 0;
		if (!end && tick % (PROGRESS_POLL_MS / WAIT_POLL_MS)) {
			usleep(WAIT_POLL_MS * 1000);
			continue;
		}
		if (sp_cjob_progress(q, job, &p) < 0) {
			usleep(PROGRESS_POLL_MS * 1000);
			continue;
		}
		if (tty)
			fprintf(stderr,
				"\rjob %s: %u/%u shards committed, %u "
				"running, %u failed, %" PRIu64 " records   ",
				job, sp_cjob_state_done(&st), shards, p.running,
				p.failed, p.records_in);
		if (end)
			break;
		usleep(WAIT_POLL_MS * 1000);
	}
	if (tty)
		fputc('\n', stderr);
	bool ok = !strcmp(st.state, "published");
	if (json)
		cli_job_status_json(stdout, job, flow, &st, shards, &p);
	else if (ok)
		printf("job %s published: %u shards, %" PRIu64
		       " records in, %" PRIu64 " out, %" PRIu64 " errors\n",
		       job, shards, p.records_in, p.records_out, p.errors);
	if (!ok)
		fprintf(stderr, "spate submit: job %s failed: %s\n", job,
			st.error);
	sp_cjob_state_fini(&st);
	return ok ? SPATE_EXIT_OK : SPATE_EXIT_FAILED;
}

/* Returns -1 to go on, or the exit code. */
static int submit_args(int argc, char **argv, struct sp_csubmit_opts *o,
		       const char **urls, bool *wait, bool *json,
		       unsigned *replicas)
{
	const char *repl = NULL, *size = NULL, *pos[1];
	struct cli_multi sets = {0};
	const struct cli_opt opts[] = {{"--nats", urls, NULL, NULL},
				       {"--set", NULL, NULL, &sets},
				       {"--replicas", &repl, NULL, NULL},
				       {"--wait", NULL, wait, NULL},
				       {"--json", NULL, json, NULL},
				       {"--force", NULL, &o->force, NULL},
				       {"--shard-size", &size, NULL, NULL},
				       {NULL, NULL, NULL, NULL}};
	int npos;
	int rc = cli_parse_args(argc, argv, opts, pos, 1, &npos, submit_usage);

	if (rc < 0 && sets.n > MAX_SETS) {
		fprintf(stderr, "spate submit: %d --set at most\n", MAX_SETS);
		rc = SPATE_EXIT_USAGE;
	}
	for (size_t i = 0; rc < 0 && i < sets.n; i++)
		o->sets[o->nsets++] = (char *)sets.v[i];
	free(sets.v);
	if (rc >= 0)
		return rc;
	if (repl && parse_uint("--replicas", repl, replicas) < 0)
		return SPATE_EXIT_USAGE;
	if (size && (sp_size_parse(size, &o->shard_size) < 0 ||
		     o->shard_size < 4096)) {
		fprintf(stderr,
			"spate submit: --shard-size needs a size of 4K or "
			"more (e.g. 256M), not '%s'\n",
			size);
		return SPATE_EXIT_USAGE;
	}
	o->flow_path = npos ? pos[0] : NULL;
	if (!o->flow_path || !*urls) {
		fprintf(stderr,
			"spate submit: FLOW and --nats URL are "
			"required\n%s",
			submit_usage);
		return SPATE_EXIT_USAGE;
	}
	return -1;
}

int cli_submit(int argc, char **argv)
{
	char *sets[MAX_SETS];
	struct sp_csubmit_opts o = {.sets = sets};
	struct sp_csubmit_result r;
	const char *urls = NULL;
	bool wait = false, json = false;
	unsigned replicas = 0;
	char err[4096] = "";

	int rc = submit_args(argc, argv, &o, &urls, &wait, &json, &replicas);
	if (rc >= 0)
		return rc;
	struct sp_jsq *q = cli_open_queue(urls, replicas, "spate submit");
	if (!q)
		return SPATE_EXIT_FAILED;
	rc = sp_csubmit(q, &o, &r, err, sizeof(err));
	if (rc < 0) {
		fprintf(stderr, "spate submit: %s\n", err);
		sp_jsq_close(q);
		return rc == -EINVAL || rc == -ENOENT ? SPATE_EXIT_USAGE
						      : SPATE_EXIT_FAILED;
	}
	if (!r.job[0] || r.published) {
		if (r.job[0])
			printf("job %s: published before; nothing to do\n",
			       r.job);
		else
			printf("nothing to do: %u file(s) loaded before "
			       "(--force loads them again)\n",
			       r.skipped);
		sp_jsq_close(q);
		return SPATE_EXIT_OK;
	}
	fprintf(stderr,
		"job %s: %u shard(s), %u task(s) queued, %u file(s) "
		"loaded before\n",
		r.job, r.shards, r.queued, r.skipped);
	if (!wait)
		printf("%s\n", r.job);
	rc = wait ? wait_job(q, r.job, r.shards, json) : SPATE_EXIT_OK;
	sp_jsq_close(q);
	return rc;
}
