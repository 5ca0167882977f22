/*
 * stdout: writes records to standard output as JSON lines or CSV.  Each
 * worker encodes into its own buffer; at the end of a batch the buffer
 * goes out in one write(1) under a mutex, so the records of one batch stay
 * together and lines never interleave.  For CSV the columns are fixed once
 * for all workers (from the first record seen) and the header is written
 * once, before any data.
 */
#include <errno.h>
#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_api/stage.h"
#include "codec/csv.h"
#include "codec/jsonl.h"
#include "stages/format.h"

struct stdout_config {
	struct sp_format_opts fmt;
};

struct stdout_state {
	struct sp_format_opts fmt;
	bool csv;
	struct sp_symtab *symtab;
	pthread_mutex_t lock; /* guards what follows and fd 1 */
	uint32_t *cols;
	uint32_t ncols;
	bool cols_set;
	bool header_written;
};

struct stdout_worker {
	struct sp_buf buf;
	struct sp_csv_encoder enc;
	bool enc_ready;
};

static const struct sp_option stdout_options[] = {
	SP_FORMAT_WRITER_OPTION_ROWS(struct stdout_config, fmt),
	{0},
};

static void stdout_check(const void *config, struct sp_check *chk)
{
	const struct stdout_config *cfg = config;

	sp_format_check(&cfg->fmt, chk);
}

static void stdout_close(void *state)
{
	struct stdout_state *s = state;

	if (!s)
		return;
	pthread_mutex_destroy(&s->lock);
	free(s->cols);
	free(s);
}

static int stdout_create(const void *config, const struct sp_stage_ctx *ctx,
			 void **state, char *err, size_t errlen)
{
	const struct stdout_config *cfg = config;
	struct stdout_state *s = calloc(1, sizeof(*s));

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	/* a delimiter and quote that cannot work were refused by
	 * stdout_check */
	s->fmt = cfg->fmt;
	s->csv = cfg->fmt.format == SP_FORMAT_CSV;
	s->symtab = ctx->symtab;
	pthread_mutex_init(&s->lock, NULL);
	*state = s;
	return 0;
}

static void *stdout_worker_create(void *state, unsigned worker)
{
	struct stdout_state *s = state;
	struct stdout_worker *w = calloc(1, sizeof(*w));

	if (!w)
		return NULL;
	sp_buf_init(&w->buf);
	sp_format_csv_encoder_init(&w->enc, &s->fmt);
	return w;
}

static void stdout_worker_destroy(void *state, void *wstate)
{
	struct stdout_worker *w = wstate;

	if (!w)
		return;
	sp_buf_fini(&w->buf);
	sp_csv_encoder_fini(&w->enc);
	free(w);
}

/* Fixes the CSV columns once for all workers (from the first record any
 * worker sees) and gives this worker's encoder a copy. */
static int setup_columns(struct stdout_state *s, struct stdout_worker *w,
			 const struct sp_batch *b, uint32_t rec)
{
	int rc = 0;

	pthread_mutex_lock(&s->lock);
	if (!s->cols_set) {
		const struct sp_record *r = &b->recs[rec];
		const struct sp_field *f = &b->fields[r->first];
		uint32_t n = 0;

		s->cols = malloc((r->nfields ? r->nfields : 1) *
				 sizeof(*s->cols));
		if (!s->cols) {
			rc = -ENOMEM;
			goto unlock;
		}
		for (uint32_t i = 0; i < r->nfields; i++) {
			uint32_t k;

			if (f[i].sym == SP_SYM_NONE)
				continue;
			for (k = 0; k < n && s->cols[k] != f[i].sym; k++)
				;
			if (k == n)
				s->cols[n++] = f[i].sym;
		}
		s->ncols = n;
		s->cols_set = true;
	}
	free(w->enc.cols);
	w->enc.cols = malloc((s->ncols ? s->ncols : 1) * sizeof(*s->cols));
	if (!w->enc.cols) {
		w->enc.ncols = 0;
		rc = -ENOMEM;
		goto unlock;
	}
	memcpy(w->enc.cols, s->cols, s->ncols * sizeof(*s->cols));
	w->enc.ncols = s->ncols;
	w->enc_ready = true;
unlock:
	pthread_mutex_unlock(&s->lock);
	return rc;
}

static int stdout_stage_batch(void *state, void *wstate, struct sp_batch *b,
			      const uint32_t *sel, uint32_t n)
{
	struct stdout_state *s = state;
	struct stdout_worker *w = wstate;
	int rc;

	if (!s->csv)
		return sp_jsonl_encode(b, sel, n, &w->buf);
	if (n && !w->enc_ready) {
		rc = setup_columns(s, w, b, sel[0]);
		if (rc)
			return rc;
	}
	for (uint32_t k = 0; k < n; k++) {
		rc = sp_format_put_csv(&w->enc, b, sel[k], &w->buf);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static bool header_needs_quote(const struct stdout_state *s, const char *p,
			       uint32_t n)
{
	if (n == 0)
		return true;
	if (p[0] == ' ' || p[0] == '\t' || p[n - 1] == ' ' ||
	    p[n - 1] == '\t')
		return true;
	for (uint32_t i = 0; i < n; i++)
		if (p[i] == s->fmt.delimiter || p[i] == s->fmt.quote ||
		    p[i] == '\n' || p[i] == '\r')
			return true;
	return false;
}

static int build_header(const struct stdout_state *s, struct sp_buf *out)
{
	for (uint32_t i = 0; i < s->ncols; i++) {
		uint32_t n;
		const char *p = sp_symtab_name(s->symtab, s->cols[i], &n);

		if (i && sp_buf_putc(out, s->fmt.delimiter))
			return -ENOMEM;
		if (!header_needs_quote(s, p, n)) {
			if (sp_buf_append(out, p, n))
				return -ENOMEM;
			continue;
		}
		if (sp_buf_putc(out, s->fmt.quote))
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++) {
			if (p[k] == s->fmt.quote &&
			    sp_buf_putc(out, s->fmt.quote))
				return -ENOMEM;
			if (sp_buf_putc(out, p[k]))
				return -ENOMEM;
		}
		if (sp_buf_putc(out, s->fmt.quote))
			return -ENOMEM;
	}
	return sp_buf_putc(out, '\n');
}

static int write_all(const char *p, size_t n)
{
	while (n) {
		ssize_t w = write(STDOUT_FILENO, p, n);

		if (w < 0) {
			if (errno == EINTR)
				continue;
			return -errno;
		}
		p += w;
		n -= (size_t)w;
	}
	return 0;
}

static int64_t stdout_batch_end(void *state, void *wstate, uint64_t seq)
{
	struct stdout_state *s = state;
	struct stdout_worker *w = wstate;
	int64_t bytes = 0;
	int rc = 0;

	if (!w || w->buf.len == 0)
		return 0;
	pthread_mutex_lock(&s->lock);
	if (s->csv && s->fmt.header && !s->header_written) {
		struct sp_buf h;

		sp_buf_init(&h);
		rc = build_header(s, &h);
		if (!rc)
			rc = write_all(h.data, h.len);
		bytes += (int64_t)h.len;
		sp_buf_fini(&h);
		s->header_written = true;
	}
	if (!rc)
		rc = write_all(w->buf.data, w->buf.len);
	pthread_mutex_unlock(&s->lock);
	bytes += (int64_t)w->buf.len;
	w->buf.len = 0;
	return rc ? rc : bytes;
}

const struct sp_stage_desc sp_stage_stdout = {
	.abi = SP_STAGE_ABI,
	.name = "stdout",
	.kind = SP_DESTINATION,
	.help = "writes records to standard output (JSON lines or CSV)",
	.options = stdout_options,
	.config_size = sizeof(struct stdout_config),
	.create = stdout_create,
	.check = stdout_check,
	.worker_create = stdout_worker_create,
	.worker_destroy = stdout_worker_destroy,
	.stage_batch = stdout_stage_batch,
	.batch_end = stdout_batch_end,
	.close = stdout_close,
	.run_id_at_start = sp_stage_no_run_id_at_start,
};
