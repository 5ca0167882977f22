/*
 * stdin: records read from standard input, as JSON lines or CSV.  The
 * reader thread reads fd 0 in blocks and cuts each block on the last
 * record boundary; the tail is carried into the next block, and a final
 * record without a newline is still a record.  Each chunk owns its
 * malloc'd block (freed in release) and is parsed on a worker, with line
 * numbers and byte offsets counted across chunks.
 */
#include <errno.h>
#include <poll.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/log.h"
#include "stage_api/stage.h"
#include "codec/csv.h"
#include "codec/jsonl.h"
#include "stages/format.h"

struct stdin_config {
	struct sp_format_opts fmt;
	uint64_t block_size;
};

struct stdin_state {
	struct sp_format_reader fmt;
	size_t block;
	int stop_fd;
	/* reader thread only: */
	char *carry; /* bytes after the last cut, not yet handed out */
	size_t carry_len, carry_cap;
	bool eof;
	bool stopped; /* eof because the run stopped, not end of input */
	bool preamble_done;
	bool eol_known; /* csv: the line ends were looked at */
	bool cr_eol;	/* csv: they are lone CRs, read as newlines */
	const struct sp_stage_ctx *ctx;
	uint64_t line;	 /* line number of the next chunk's first byte */
	uint64_t offset; /* byte offset of the next chunk */
};

static const struct sp_option stdin_options[] = {
	SP_FORMAT_OPTION_ROWS(struct stdin_config, fmt),
	{.name = "block_size",
	 .type = SP_OPT_SIZE,
	 .def = "1M",
	 .bounded = true,
	 .min = 8,
	 .max = 1073741824,
	 .offset = offsetof(struct stdin_config, block_size),
	 .help = "bytes read per chunk, at least 8 (a longer record makes "
		 "its chunk longer: reads then grow with it)"},
	{0},
};

static void stdin_close(void *state)
{
	struct stdin_state *s = state;

	if (!s)
		return;
	sp_format_reader_fini(&s->fmt);
	free(s->carry);
	free(s);
}

static int stdin_create(const void *config, const struct sp_stage_ctx *ctx,
			void **state, char *err, size_t errlen)
{
	const struct stdin_config *cfg = config;
	struct stdin_state *s = calloc(1, sizeof(*s));
	int rc;

	if (!s) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	s->ctx = ctx;
	s->stop_fd = ctx->stop_fd;
	s->block = cfg->block_size ? (size_t)cfg->block_size : 1 << 20;
	s->line = 1;
	rc = sp_format_reader_init(&s->fmt, &cfg->fmt, ctx->symtab, err,
				   errlen);
	if (rc) {
		stdin_close(s);
		return rc;
	}
	s->preamble_done = !s->fmt.csv;
	*state = s;
	return 0;
}

static int keep_tail(struct stdin_state *s, const char *p, size_t n)
{
	if (n > s->carry_cap) {
		char *c = realloc(s->carry, n);
		if (!c)
			return -ENOMEM;
		s->carry = c;
		s->carry_cap = n;
	}
	if (n)
		memcpy(s->carry, p, n);
	s->carry_len = n;
	return 0;
}

/* Waits until fd 0 has data (1), or the run stops (0), or poll fails. */
static int wait_input(const struct stdin_state *s, int timeout_ms)
{
	struct pollfd p[2] = {{.fd = STDIN_FILENO, .events = POLLIN},
			      {.fd = s->stop_fd, .events = POLLIN}};

	for (;;) {
		int n = poll(p, s->stop_fd > 0 ? 2 : 1, timeout_ms);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0)
			return -errno;
		/* (POLLNVAL: a closed fd 0; read reports it) */
		if (n > 0 && (p[0].revents &
			      (POLLIN | POLLHUP | POLLERR | POLLNVAL)))
			return 1;
		return 0; /* stopping, or nothing within timeout_ms */
	}
}

/* Fills buf[*len..size) from fd 0.  Returns once it holds a line end and
 * nothing more is waiting (so a slow producer's records do not wait for a
 * full block), when full, at end of input, or when the run stops (a
 * stopped run treats the input as ended: Ctrl-C must not wait for a pipe
 * that stays open). */
static int fill(struct stdin_state *s, char *buf, size_t size, size_t *len,
		char *err, size_t errlen)
{
	bool have_line = false;

	while (*len < size && !s->eof) {
		int ready = wait_input(s, have_line ? 0 : -1);
		if (ready < 0) {
			snprintf(err, errlen, "stdin: poll failed: %s",
				 strerror(-ready));
			return ready;
		}
		if (ready == 0) {
			if (!have_line)
				s->eof = s->stopped = true;
			break;
		}
		ssize_t n = read(STDIN_FILENO, buf + *len, size - *len);

		if (n == 0) {
			s->eof = true;
		} else if (n < 0) {
			int e = errno;
			if (e == EINTR || e == EAGAIN)
				continue;
			snprintf(err, errlen, "stdin: read failed at byte %llu: "
				 "%s", (unsigned long long)(s->offset + *len),
				 strerror(e));
			return -e;
		} else {
			if (s->cr_eol) /* a CR-only CSV: CRs end lines */
				sp_csv_cr_to_lf(buf + *len, (size_t)n);
			have_line = have_line ||
				    memchr(buf + *len, '\n', (size_t)n);
			*len += (size_t)n;
		}
	}
	return 0;
}

static int stdin_next(void *state, struct sp_chunk *out, char *err,
		      size_t errlen)
{
	struct stdin_state *s = state;

	for (;;) {
		size_t size, len, start = 0, cut;
		char *buf;
		int rc;

		if (s->eof && s->carry_len == 0)
			return 0;
		/* a record longer than the block: each read is at least
		 * as long as what is carried, so a long line costs linear
		 * time, not a rescan per block */
		size = s->carry_len +
		       (s->eof ? 0
			       : (s->block > s->carry_len ? s->block
							  : s->carry_len));
		buf = malloc(size + 1);
		if (!buf) {
			snprintf(err, errlen, "stdin: out of memory");
			return -ENOMEM;
		}
		if (s->carry_len)
			memcpy(buf, s->carry, s->carry_len);
		len = s->carry_len;
		s->carry_len = 0;
		rc = fill(s, buf, size, &len, err, errlen);
		if (rc) {
			free(buf);
			return rc;
		}
		if (!s->preamble_done && !s->eol_known) {
			rc = sp_csv_detect_cr(&s->fmt.parser.opt, buf, len, s->eof);
			if (rc == -EAGAIN) {
				rc = keep_tail(s, buf, len);
				free(buf);
				if (rc)
					goto nomem;
				continue;
			}
			s->eol_known = true;
			s->cr_eol = rc == 1;
			if (s->cr_eol)
				sp_csv_cr_to_lf(buf, len);
		}
		if (!s->preamble_done) {
			uint64_t lines = 0;
			ssize_t used = sp_csv_read_preamble(
				&s->fmt.parser, s->fmt.symtab, buf, len, s->eof, &lines,
				err, errlen);

			if (used == -EAGAIN) {
				if (s->eof) {
					free(buf);
					return 0;
				}
				rc = keep_tail(s, buf, len);
				free(buf);
				if (rc)
					goto nomem;
				continue;
			}
			if (used < 0) {
				char why[512];

				snprintf(why, sizeof(why), "%s", err);
				snprintf(err, errlen, "stdin: %s", why);
				free(buf);
				return (int)used;
			}
			if (s->fmt.parser.renamed)
				sp_stage_warn(s->ctx, "stdin: %s", err);
			s->preamble_done = true;
			start = (size_t)used;
			s->line += lines;
			s->offset += start;
		}
		if (s->eof && !s->stopped)
			cut = len - start; /* a last line without newline */
		else if (s->fmt.csv)
			cut = sp_csv_split(&s->fmt.parser.opt, buf + start,
					   len - start);
		else
			cut = sp_jsonl_split(buf + start, len - start);
		if (s->stopped && start + cut < len) {
			/* the producer was writing this line when the run
			 * stopped: half a record is not a record */
			sp_log_warn("stdin: the run stopped while line %llu was "
				    "being written: its %zu bytes are not read",
				    (unsigned long long)(s->line +
							 sp_count_lines(buf + start,
									cut)),
				    len - start - cut);
			len = start + cut;
			if (cut == 0) {
				free(buf);
				return 0;
			}
		}
		if (cut == 0) {
			rc = keep_tail(s, buf + start, len - start);
			free(buf);
			if (rc)
				goto nomem;
			continue; /* a record longer than the block: read on */
		}
		rc = keep_tail(s, buf + start + cut, len - start - cut);
		if (rc) {
			free(buf);
			goto nomem;
		}
		memset(out, 0, sizeof(*out));
		out->data = buf + start;
		out->len = cut;
		out->first = s->line;
		out->offset = s->offset;
		out->source = "stdin";
		out->buf = buf;
		s->line += sp_count_lines(buf + start, cut);
		s->offset += cut;
		return 1;
	}
nomem:
	snprintf(err, errlen, "stdin: out of memory");
	return -ENOMEM;
}

static void stdin_release(void *state, struct sp_chunk *c)
{
	free(c->buf);
	c->buf = NULL;
}

static void *stdin_worker_create(void *state, unsigned worker)
{
	struct stdin_state *s = state;

	(void)worker;
	return sp_format_worker_create(&s->fmt);
}

static void stdin_worker_destroy(void *state, void *wstate)
{
	(void)state;
	sp_format_worker_destroy(wstate);
}

static int stdin_parse(void *state, void *wstate, const struct sp_chunk *c,
		       struct sp_batch *b)
{
	struct stdin_state *s = state;

	return sp_format_parse(&s->fmt, wstate, c, b);
}

const struct sp_stage_desc sp_stage_stdin = {
	.abi = SP_STAGE_ABI,
	.name = "stdin",
	.kind = SP_ORIGIN,
	.help = "records from standard input (JSON lines or CSV)",
	.options = stdin_options,
	.config_size = sizeof(struct stdin_config),
	.create = stdin_create,
	.create_checks = true,
	.next = stdin_next,
	.parse = stdin_parse,
	.release = stdin_release,
	.worker_create = stdin_worker_create,
	.worker_destroy = stdin_worker_destroy,
	.close = stdin_close,
	/* what was read cannot be read again: never "the same input", and
	 * a signal drains and commits */
	.streaming = true,
};
