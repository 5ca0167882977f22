/*
 * Watching a run from the outside: the live progress line on a terminal
 * (records/s, MiB/s in and out, per-lane and per-destination counts,
 * percentage and ETA when the input size is known) and the Prometheus
 * text-format metrics file of --metrics-file.  One thread samples the
 * runtime's report (any thread may) twice a second, redraws the line in
 * place and rewrites the metrics file once a second; without a terminal
 * the same line goes to the log at info level every --progress-interval
 * seconds (for systemd and CI, where nothing else would show that a long
 * run moves).  Sizes are binary everywhere (KiB, MiB/s).  The end of the run
 * draws the final line and writes the final metrics from the report the
 * summary and --json use, so all three agree.
 */
#include <errno.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <time.h>
#include <unistd.h>

#include "cli/cli.h"
#include "core/log.h"

#define TICK_MS 500
#define MIB (1024.0 * 1024.0)

/* ---- the progress line ------------------------------------------------ */

/* 987, 12.3k, 4.56M, 7.89G: three significant digits */
static void compact(char *out, size_t len, double v)
{
	static const char suffix[] = " kMGTP";
	int u = 0;

	if (v < 10000) {
		snprintf(out, len, "%.0f", v);
		return;
	}
	while (v >= 1000 && u < 5) {
		v /= 1000;
		u++;
	}
	snprintf(out, len,
		 v >= 100  ? "%.0f%c"
		 : v >= 10 ? "%.1f%c"
			   : "%.2f%c",
		 v, suffix[u]);
}

static void duration(char *out, size_t len, double s)
{
	unsigned long t = s > 0 ? (unsigned long)(s + 0.5) : 0;

	if (t < 60)
		snprintf(out, len, "%lus", t);
	else if (t < 3600)
		snprintf(out, len, "%lum%02lus", t / 60, t % 60);
	else
		snprintf(out, len, "%luh%02lum", t / 3600, t / 60 % 60);
}

struct line {
	char s[4096];
	size_t n;
};

static void add(struct line *l, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void add(struct line *l, const char *fmt, ...)
{
	va_list ap;

	if (l->n >= sizeof(l->s) - 1)
		return;
	va_start(ap, fmt);
	int k = vsnprintf(l->s + l->n, sizeof(l->s) - l->n, fmt, ap);
	va_end(ap);
	if (k > 0)
		l->n += (size_t)k < sizeof(l->s) - l->n
			    ? (size_t)k
			    : sizeof(l->s) - 1 - l->n;
}

void cli_progress_format(char *out, size_t len, const struct sp_run_report *rep)
{
	uint64_t recs = 0, in_bytes = 0, out_bytes = 0, errors = 0;
	uint64_t sized_in = 0; /* read from origins whose size is known */
	struct line l = {.n = 0};
	char a[32], b[32];

	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		if (s->kind == SP_ORIGIN) {
			recs += s->forwarded;
			in_bytes += s->bytes_in;
			if (s->input_size)
				sized_in += s->bytes_in;
		}
		if (s->kind == SP_DESTINATION)
			out_bytes += s->bytes_out;
		errors += s->errors;
	}
	double t = rep->elapsed_s > 0 ? rep->elapsed_s : 1e-9;
	compact(a, sizeof(a), (double)recs);
	compact(b, sizeof(b), (double)recs / t);
	add(&l, "%.1fs  %s rec  %s rec/s  in %.1f MiB/s  out %.1f MiB/s",
	    rep->elapsed_s, a, b, (double)in_bytes / t / MIB,
	    (double)out_bytes / t / MIB);
	/* input read so far against its size; a compressed input counts
	 * decompressed bytes and soon passes its size: then no percentage */
	if (rep->input_bytes && sized_in <= rep->input_bytes) {
		double f = (double)sized_in / (double)rep->input_bytes;
		add(&l, "  %.1f%%", f * 100);
		if (f > 0.001 && f < 1) {
			duration(a, sizeof(a), t / f - t);
			add(&l, " eta %s", a);
		} else if (f >= 1) {
			add(&l, " eta 0s");
		}
	}
	add(&l, "  errors %llu", (unsigned long long)errors);
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		if (s->kind == SP_PROCESSOR && s->nlanes > 1) {
			add(&l, "  %s:", s->id);
			for (uint32_t k = 0; k < s->nlanes; k++) {
				compact(a, sizeof(a), (double)s->out[k]);
				add(&l, " %s %s", s->lanes[k], a);
			}
		}
	}
	bool first = true;
	for (uint32_t i = 0; i < rep->nstages; i++) {
		const struct sp_stage_report *s = &rep->stages[i];
		if (s->kind != SP_DESTINATION)
			continue;
		compact(a, sizeof(a), (double)s->forwarded);
		add(&l, "%s %s %s", first ? "  ->" : "", s->id, a);
		first = false;
	}
	snprintf(out, len, "%s", l.s);
}

/* Redraws the line in place: carriage return, the line cut to the
 * terminal's width (a wrapped line could not be redrawn), clear to the
 * end of the line. */
static void draw(const struct sp_run_report *rep)
{
	char text[4096];
	struct winsize ws;
	size_t n;

	cli_progress_format(text, sizeof(text), rep);
	n = strlen(text);
	if (ioctl(STDERR_FILENO, TIOCGWINSZ, &ws) == 0 && ws.ws_col > 1 &&
	    n > (size_t)ws.ws_col - 1)
		n = (size_t)ws.ws_col - 1;
	fprintf(stderr, "\r%.*s\033[K", (int)n, text);
	fflush(stderr);
}

/* ---- the watching thread ------------------------------------------------- */

static void metrics_tick(struct cli_watch *w, const struct sp_run_report *rep)
{
	int rc = cli_metrics_write(w->metrics_path, w->flow, rep);

	if (rc && !w->metrics_warned) {
		w->metrics_warned = true;
		fprintf(stderr,
			"%sspate: --metrics-file %s: %s (the run goes on)\n",
			w->progress ? "\n" : "", w->metrics_path,
			strerror(-rc));
	}
}

/* The progress line as an info log line */
static void log_progress(const struct sp_run_report *rep)
{
	char text[4096];

	cli_progress_format(text, sizeof(text), rep);
	sp_log_info("progress: %s", text);
}

static bool logs_progress(const struct cli_watch *w)
{
	return w->log_interval_s > 0 && sp_log_threshold >= SP_LOG_INFO;
}

static void *watch_main(void *arg)
{
	struct cli_watch *w = arg;
	unsigned tick = 0;
	double logged = 0; /* elapsed_s of the last progress log line */

	pthread_mutex_lock(&w->lock);
	while (!w->done) {
		struct timespec ts;
		clock_gettime(CLOCK_MONOTONIC, &ts);
		ts.tv_nsec += TICK_MS * 1000L * 1000L;
		if (ts.tv_nsec >= 1000000000L) {
			ts.tv_sec++;
			ts.tv_nsec -= 1000000000L;
		}
		pthread_cond_timedwait(&w->cond, &w->lock, &ts);
		if (w->done)
			break;
		tick++;
		struct sp_run_report rep;
		if (sp_runtime_report(w->rt, &rep))
			continue;
		if (w->progress)
			draw(&rep);
		if (logs_progress(w) &&
		    rep.elapsed_s - logged >= w->log_interval_s) {
			logged = rep.elapsed_s;
			log_progress(&rep);
		}
		if (w->metrics_path && tick % (1000 / TICK_MS) == 0)
			metrics_tick(w, &rep);
		sp_run_report_fini(&rep);
	}
	pthread_mutex_unlock(&w->lock);
	return NULL;
}

int cli_watch_init(struct cli_watch *w, struct sp_runtime *rt, const char *flow,
		   bool progress, const char *metrics_path)
{
	memset(w, 0, sizeof(*w));
	w->rt = rt;
	w->flow = flow;
	w->progress = progress;
	w->metrics_path = metrics_path;
	if (metrics_path) {
		/* a path that cannot be written is a usage error, found
		 * before any data moves */
		struct sp_run_report rep;
		int rc = sp_runtime_report(rt, &rep);
		if (rc)
			return rc;
		rc = cli_metrics_write(metrics_path, flow, &rep);
		sp_run_report_fini(&rep);
		if (rc)
			return rc;
	}
	pthread_condattr_t ca;
	pthread_condattr_init(&ca);
	pthread_condattr_setclock(&ca, CLOCK_MONOTONIC);
	pthread_cond_init(&w->cond, &ca);
	pthread_condattr_destroy(&ca);
	pthread_mutex_init(&w->lock, NULL);
	w->inited = true;
	return 0;
}

void cli_watch_start(struct cli_watch *w)
{
	if (!w->progress && !w->metrics_path && !logs_progress(w))
		return;
	if (pthread_create(&w->thread, NULL, watch_main, w) == 0)
		w->started = true;
}

void cli_watch_finish(struct cli_watch *w, const struct sp_run_report *final)
{
	if (!w->inited)
		return;
	if (w->started) {
		pthread_mutex_lock(&w->lock);
		w->done = true;
		pthread_cond_signal(&w->cond);
		pthread_mutex_unlock(&w->lock);
		pthread_join(w->thread, NULL);
		w->started = false;
		if (w->progress && final) {
			draw(final);
			fputc('\n', stderr);
		}
		if (logs_progress(w) && final)
			log_progress(final);
	}
	if (w->metrics_path && final)
		metrics_tick(w, final);
	pthread_mutex_destroy(&w->lock);
	pthread_cond_destroy(&w->cond);
	w->inited = false;
}
