/*
 * `spate jobs`: the cluster jobs in the spate_jobs bucket and where each
 * stands, or the shards of one job.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/cli.h"
#include "cluster/job.h"
#include "cluster/jsq.h"

struct list_ctx {
	struct sp_jsq *q;
	bool json;
	unsigned n;
};

static int list_job(void *arg, const char *key, const char *val)
{
	struct list_ctx *c = arg;
	struct sp_cjob job;
	struct sp_cjob_state st;
	struct sp_cjob_progress p;

	(void)val;
	if (strchr(key, '.') || sp_cjob_get(c->q, key, &job) < 0)
		return 0;
	if (sp_cjob_state_get(c->q, key, &st, NULL) == 0 &&
	    sp_cjob_progress(c->q, key, &p) == 0) {
		if (c->json)
			cli_job_status_json(stdout, key, job.flow, &st,
					    job.shards, &p);
		else
			printf("%-16s  %-20s  %-9s  %5u/%-5u  %12" PRIu64
			       "  %s\n",
			       key, job.flow, st.state, sp_cjob_state_done(&st),
			       job.shards, p.records_in, st.error);
		c->n++;
	}
	sp_cjob_state_fini(&st);
	sp_cjob_fini(&job);
	return 0;
}

static int list_shard(void *arg, const char *key, const char *val)
{
	struct list_ctx *c = arg;
	const char *dot = strrchr(key, '.');
	struct sp_cshard s;

	if (!dot || dot[1] != 's' || sp_cshard_parse(val, &s) < 0)
		return 0;
	if (c->json)
		printf("{\"shard\": \"%s\", \"record\": %s}\n", dot + 2, val);
	else
		printf("%-6s  %-8s  %-24s  %10" PRIu64 "  %10" PRIu64
		       "  %7" PRIu64 "  %s%s%s\n",
		       dot + 2, s.state, s.worker, s.records_in, s.records_out,
		       s.errors, s.path, s.error[0] ? ": " : "", s.error);
	c->n++;
	sp_cshard_fini(&s);
	return 0;
}

int cli_jobs(int argc, char **argv)
{
	const char *urls = NULL, *job = NULL;
	struct list_ctx c = {0};
	const struct cli_opt opts[] = {{"--nats", &urls, NULL, NULL},
				       {"--json", NULL, &c.json, NULL},
				       {NULL, NULL, NULL, NULL}};
	int npos;
	int rc = cli_parse_args(argc, argv, opts, &job, 1, &npos,
				cli_jobs_usage);

	if (rc >= 0)
		return rc;
	if (!urls) {
		fprintf(stderr, "spate jobs: --nats URL is required\n%s",
			cli_jobs_usage);
		return SPATE_EXIT_USAGE;
	}
	c.q = cli_open_queue(urls, 0, "spate jobs");
	if (!c.q)
		return SPATE_EXIT_FAILED;
	if (job) {
		char pattern[300];
		snprintf(pattern, sizeof(pattern), "%s.*", job);
		if (!c.json)
			printf("%-6s  %-8s  %-24s  %10s  %10s  %7s  %s\n",
			       "SHARD", "STATE", "WORKER", "IN", "OUT",
			       "ERRORS", "INPUT");
		rc = sp_jsq_kv_each(c.q, SP_JSQ_JOBS, pattern, list_shard, &c);
	} else {
		if (!c.json)
			printf("%-16s  %-20s  %-9s  %11s  %12s  %s\n", "JOB",
			       "FLOW", "STATE", "SHARDS", "RECORDS", "ERROR");
		rc = sp_jsq_kv_each(c.q, SP_JSQ_JOBS, "*", list_job, &c);
	}
	sp_jsq_close(c.q);
	if (rc < 0) {
		fprintf(stderr, "spate jobs: cannot read the jobs: %s\n",
			strerror(-rc));
		return SPATE_EXIT_FAILED;
	}
	if (job && c.n == 0) {
		fprintf(stderr, "spate jobs: no job %s\n", job);
		return SPATE_EXIT_FAILED;
	}
	return SPATE_EXIT_OK;
}
