/*
 * The Prometheus text format of a run's report: per-stage record, error,
 * byte and busy-time counters, files read, skipped and committed, the
 * run's state, elapsed time and identity (spate_run_info with run_id).
 * The same text goes to the --metrics-file (replaced atomically) and to
 * /metrics of --http.
 */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "cli/cli.h"

static void label(FILE *out, const char *name, const char *v, bool first)
{
	fprintf(out, "%s%s=\"", first ? "" : ",", name);
	for (; *v; v++) {
		if (*v == '\\' || *v == '"')
			fprintf(out, "\\%c", *v);
		else if (*v == '\n')
			fputs("\\n", out);
		else
			fputc(*v, out);
	}
	fputc('"', out);
}

static void head(FILE *out, const char *name, const char *type,
		 const char *help)
{
	fprintf(out, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

enum field {
	F_IN,
	F_ERRORS,
	F_DROPPED,
	F_BYTES_IN,
	F_BYTES_OUT,
	F_FILES_READ,
	F_FILES_SKIPPED,
	F_FILES_COMMITTED,
};

static uint64_t field(const struct sp_stage_report *s, enum field f)
{
	switch (f) {
	case F_IN:
		return s->in;
	case F_ERRORS:
		return s->errors;
	case F_DROPPED:
		return s->dropped;
	case F_BYTES_IN:
		return s->bytes_in;
	case F_BYTES_OUT:
		return s->bytes_out;
	case F_FILES_READ:
	case F_FILES_COMMITTED:
		return s->extra.files;
	case F_FILES_SKIPPED:
		return s->extra.skipped;
	}
	return 0;
}

/* a sample per stage; files: per stage of that kind only */
static void stage_counter(FILE *out, const char *flow,
			  const struct sp_run_report *rep, const char *name,
			  const char *help, enum field fld)
{
	head(out, name, "counter", help);
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		if ((fld == F_FILES_READ || fld == F_FILES_SKIPPED) &&
		    s->kind != SP_ORIGIN)
			continue;
		if (fld == F_FILES_COMMITTED && s->kind != SP_DESTINATION)
			continue;
		fputs(name, out);
		fputc('{', out);
		label(out, "flow", flow, true);
		label(out, "stage", s->id, false);
		fprintf(out, "} %llu\n", (unsigned long long)field(s, fld));
	}
}

int cli_metrics_put(FILE *out, const char *flow,
		    const struct sp_run_report *rep)
{
	stage_counter(out, flow, rep, "spate_records_in_total",
		      "Records (events for executors) a stage took in.", F_IN);
	head(out, "spate_records_out_total", "counter",
	     "Records a stage passed on or wrote, per output lane (lane "
	     "\"output\" for stages with one).");
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		uint32_t n = s->nlanes > 1 ? s->nlanes : 1;
		for (uint32_t k = 0; k < n; k++) {
			fputs("spate_records_out_total{", out);
			label(out, "flow", flow, true);
			label(out, "stage", s->id, false);
			label(out, "lane",
			      s->nlanes > 1 ? s->lanes[k] : "output", false);
			fprintf(out, "} %llu\n",
				(unsigned long long)(s->nlanes > 1
							 ? s->out[k]
							 : s->forwarded));
		}
	}
	stage_counter(out, flow, rep, "spate_record_errors_total",
		      "Records a stage could not process (parse errors "
		      "included).",
		      F_ERRORS);
	stage_counter(out, flow, rep, "spate_records_dropped_total",
		      "Records a stage filtered out on purpose.", F_DROPPED);
	stage_counter(out, flow, rep, "spate_bytes_in_total",
		      "Bytes a stage read (origins) or took in to encode "
		      "(destinations).",
		      F_BYTES_IN);
	stage_counter(out, flow, rep, "spate_bytes_out_total",
		      "Bytes a destination wrote.", F_BYTES_OUT);
	head(out, "spate_busy_seconds_total", "counter",
	     "Seconds workers spent in a stage, all workers together.");
	for (uint32_t i = 0; i < rep->nstages; i++) {
		fputs("spate_busy_seconds_total{", out);
		label(out, "flow", flow, true);
		label(out, "stage", rep->stages[i].id, false);
		fprintf(out, "} %.6f\n", (double)rep->stages[i].busy_ns / 1e9);
	}
	head(out, "spate_run_elapsed_seconds", "gauge",
	     "Seconds since the run started.");
	fputs("spate_run_elapsed_seconds{", out);
	label(out, "flow", flow, true);
	fprintf(out, "} %.3f\n", rep->elapsed_s);
	head(out, "spate_run_state", "gauge",
	     "Run state: 0 created, 1 running, 2 finished, 3 failed, "
	     "4 stopped.");
	fputs("spate_run_state{", out);
	label(out, "flow", flow, true);
	fprintf(out, "} %d\n", (int)rep->state);
	stage_counter(out, flow, rep, "spate_files_read_total",
		      "Input files an origin read to the end.", F_FILES_READ);
	stage_counter(out, flow, rep, "spate_files_skipped_total",
		      "Input files an origin skipped (loaded by an earlier "
		      "run).",
		      F_FILES_SKIPPED);
	stage_counter(out, flow, rep, "spate_files_committed_total",
		      "Files a destination wrote (published when the run "
		      "commits).",
		      F_FILES_COMMITTED);
	head(out, "spate_run_info", "gauge",
	     "Always 1: the run's id and the version of spate.");
	fputs("spate_run_info{", out);
	label(out, "flow", flow, true);
	label(out, "run_id", rep->run_id, false);
	label(out, "version", SPATE_VERSION, false);
	fputs("} 1\n", out);
	return ferror(out) ? -EIO : 0;
}

int cli_metrics_write(const char *path, const char *flow,
		      const struct sp_run_report *rep)
{
	char tmp[4096];
	int rc;

	/* beside the target, so that rename() replaces it in one step; the
	 * suffix keeps collectors that read *.prom from picking it up */
	if ((size_t)snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path,
			     (long)getpid()) >= sizeof(tmp))
		return -ENAMETOOLONG;
	FILE *out = fopen(tmp, "w");
	if (!out)
		return -errno;
	rc = cli_metrics_put(out, flow, rep);
	if (fclose(out) && !rc)
		rc = -errno;
	if (!rc && rename(tmp, path))
		rc = -errno;
	if (rc)
		unlink(tmp);
	return rc;
}

