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
	int format; /* enum sp_format_kind */
	char delimiter;
	char quote;
	bool header;
};

struct stdout_state {
	bool csv;
	char delimiter, quote;
	bool header;
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
	{.name = "format",
	 .type = SP_OPT_ENUM,
	 .def = "jsonl",
	 .choices = sp_format_names,
	 .offset = offsetof(struct stdout_config, format),
	 .help = "jsonl: one JSON object per line; csv: comma-separated "
		 "values with the columns of the first record"},
	{.name = "delimiter",
	 .type = SP_OPT_CHAR,
	 .def = ",",
	 .offset = offsetof(struct stdout_config, delimiter),
	 .help = "csv: field delimiter (\\t or tab for a tab)"},
	{.name = "quote",
	 .type = SP_OPT_CHAR,
	 .def = "\"",
	 .offset = offsetof(struct stdout_config, quote),
	 .help = "csv: quote character"},
	{.name = "header",
	 .type = SP_OPT_BOOL,
	 .def = "true",
	 .offset = offsetof(struct stdout_config, header),
	 .help = "csv: write a header line first"},
	{0},
};

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
	s->csv = cfg->format == SP_FORMAT_CSV;
	s->delimiter = cfg->delimiter ? cfg->delimiter : ',';
	s->quote = cfg->quote ? cfg->quote : '"';
	s->header = cfg->header;
	s->symtab = ctx->symtab;
	if (s->csv && (s->delimiter == s->quote || s->delimiter == '\n' ||
		       s->delimiter == '\r' || s->quote == '\n' ||
		       s->quote == '\r')) {
		snprintf(err, errlen, "delimiter and quote must differ and not "
			 "be a line break");
		free(s);
		return -EINVAL;
	}
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
	sp_csv_encoder_init(&w->enc, s->delimiter, s->quote, false);
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
		const struct sp_record *r = &b->recs[sel[k]];
		const char *why = NULL;

		rc = sp_csv_encode_record(&w->enc, b, sel[k], &w->buf, &why);
		if (rc == -EINVAL) {
			rc = sp_batch_error_add(b, sel[k], r->line, 0, r->raw,
						r->raw_len, "%s",
						why ? why : "cannot write as "
							    "CSV");
		}
		if (rc)
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
		if (p[i] == s->delimiter || p[i] == s->quote || p[i] == '\n' ||
		    p[i] == '\r')
			return true;
	return false;
}

static int build_header(const struct stdout_state *s, struct sp_buf *out)
{
	for (uint32_t i = 0; i < s->ncols; i++) {
		uint32_t n;
		const char *p = sp_symtab_name(s->symtab, s->cols[i], &n);

		if (i && sp_buf_putc(out, s->delimiter))
			return -ENOMEM;
		if (!header_needs_quote(s, p, n)) {
			if (sp_buf_append(out, p, n))
				return -ENOMEM;
			continue;
		}
		if (sp_buf_putc(out, s->quote))
			return -ENOMEM;
		for (uint32_t k = 0; k < n; k++) {
			if (p[k] == s->quote && sp_buf_putc(out, s->quote))
				return -ENOMEM;
			if (sp_buf_putc(out, p[k]))
				return -ENOMEM;
		}
		if (sp_buf_putc(out, s->quote))
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
	if (s->csv && s->header && !s->header_written) {
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
	.create_checks = true,
	.worker_create = stdout_worker_create,
	.worker_destroy = stdout_worker_destroy,
	.stage_batch = stdout_stage_batch,
	.batch_end = stdout_batch_end,
	.close = stdout_close,
};
