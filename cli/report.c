/*
 * End-of-run output: a summary table per stage for people (stderr) and the
 * --json status object of DESIGN.md section 9 for scripts (stdout).
 */
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/buf.h"
#include "record/json.h"

static void human_bytes(uint64_t b, char *out, size_t len)
{
	const char *unit[] = {"B", "KiB", "MiB", "GiB", "TiB"};
	double v = (double)b;
	int u = 0;

	while (v >= 1024 && u < 4) {
		v /= 1024;
		u++;
	}
	snprintf(out, len, u ? "%.1f %s" : "%.0f %s", v, unit[u]);
}

void cli_print_summary(FILE *out, const struct sp_flow *f,
		       const struct sp_run_report *rep)
{
	fprintf(out, "flow '%s' %s in %.2fs with %u worker%s\n", f->name,
		sp_run_state_name(rep->state), rep->elapsed_s, rep->workers,
		rep->workers == 1 ? "" : "s");
	fprintf(out, "%-16s %-20s %12s %12s %8s %8s %10s %10s %7s\n", "stage",
		"type", "in", "out", "errors", "dropped", "bytes in",
		"bytes out", "busy s");
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		char bi[32], bo[32];
		human_bytes(s->bytes_in, bi, sizeof(bi));
		human_bytes(s->bytes_out, bo, sizeof(bo));
		fprintf(out, "%-16s %-20s %12llu %12llu %8llu %8llu %10s %10s "
			     "%7.2f\n",
			s->id, s->type, (unsigned long long)s->in,
			(unsigned long long)s->forwarded,
			(unsigned long long)s->errors,
			(unsigned long long)s->dropped, bi, bo,
			(double)s->busy_ns / 1e9);
		if (s->nlanes > 1)
			for (uint32_t l = 0; l < s->nlanes; l++)
				fprintf(out, "  lane %-27s %12s %12llu\n",
					s->lanes[l], "",
					(unsigned long long)s->out[l]);
		if (s->bytes_in && s->bytes_out && s->kind == SP_DESTINATION)
			fprintf(out, "  compression ratio %.2f\n",
				(double)s->bytes_in / (double)s->bytes_out);
		if (s->extra.note[0])
			fprintf(out, "  %s\n", s->extra.note);
	}
	if (rep->discarded)
		fprintf(out, "discarded: %llu record error%s (no error stage)\n",
			(unsigned long long)rep->discarded,
			rep->discarded == 1 ? "" : "s");
	if (rep->error[0])
		fprintf(out, "error: %s\n", rep->error);
}

static void json_str(struct sp_buf *b, const char *s)
{
	sp_json_append_string(b, s, strlen(s));
}

void cli_print_json(FILE *out, const struct sp_flow *f,
		    const struct sp_run_report *rep)
{
	struct sp_buf b;
	char num[64];

	sp_buf_init(&b);
	sp_buf_append(&b, "{\"flow\":", 8);
	json_str(&b, f->name);
	sp_buf_append(&b, ",\"status\":", 10);
	json_str(&b, sp_run_state_name(rep->state));
	snprintf(num, sizeof(num), ",\"elapsed_s\":%.3f,\"discarded\":%llu",
		 rep->elapsed_s, (unsigned long long)rep->discarded);
	sp_buf_append(&b, num, strlen(num));
	if (rep->error[0]) {
		sp_buf_append(&b, ",\"error\":", 9);
		json_str(&b, rep->error);
	}
	sp_buf_append(&b, ",\"stages\":[", 11);
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		if (i)
			sp_buf_putc(&b, ',');
		sp_buf_append(&b, "{\"id\":", 6);
		json_str(&b, s->id);
		sp_buf_append(&b, ",\"type\":", 8);
		json_str(&b, s->type);
		snprintf(num, sizeof(num), ",\"records_in\":%llu",
			 (unsigned long long)s->in);
		sp_buf_append(&b, num, strlen(num));
		sp_buf_append(&b, ",\"records_out\":{", 16);
		if (s->nlanes > 1) {
			for (uint32_t l = 0; l < s->nlanes; l++) {
				if (l)
					sp_buf_putc(&b, ',');
				json_str(&b, s->lanes[l]);
				snprintf(num, sizeof(num), ":%llu",
					 (unsigned long long)s->out[l]);
				sp_buf_append(&b, num, strlen(num));
			}
		} else {
			snprintf(num, sizeof(num), "\"output\":%llu",
				 (unsigned long long)s->forwarded);
			sp_buf_append(&b, num, strlen(num));
		}
		sp_buf_putc(&b, '}');
		snprintf(num, sizeof(num), ",\"errors\":%llu",
			 (unsigned long long)s->errors);
		sp_buf_append(&b, num, strlen(num));
		snprintf(num, sizeof(num), ",\"warnings\":%llu",
			 (unsigned long long)s->warnings);
		sp_buf_append(&b, num, strlen(num));
		snprintf(num, sizeof(num), ",\"dropped\":%llu",
			 (unsigned long long)s->dropped);
		sp_buf_append(&b, num, strlen(num));
		snprintf(num, sizeof(num), ",\"bytes_in\":%llu",
			 (unsigned long long)s->bytes_in);
		sp_buf_append(&b, num, strlen(num));
		snprintf(num, sizeof(num), ",\"bytes_out\":%llu",
			 (unsigned long long)s->bytes_out);
		sp_buf_append(&b, num, strlen(num));
		/* what a stage adds about itself: files written, inputs
		 * skipped as loaded before, a note */
		if (s->extra.files) {
			snprintf(num, sizeof(num), ",\"files\":%llu",
				 (unsigned long long)s->extra.files);
			sp_buf_append(&b, num, strlen(num));
		}
		if (s->extra.skipped) {
			snprintf(num, sizeof(num), ",\"skipped\":%llu",
				 (unsigned long long)s->extra.skipped);
			sp_buf_append(&b, num, strlen(num));
		}
		if (s->extra.note[0]) {
			sp_buf_append(&b, ",\"note\":", 8);
			json_str(&b, s->extra.note);
		}
		sp_buf_putc(&b, '}');
	}
	sp_buf_append(&b, "]}\n", 3);
	fwrite(b.data, 1, b.len, out);
	sp_buf_fini(&b);
}
