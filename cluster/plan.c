/*
 * Shard planning (see plan.h).  Boundaries are found by one sequential
 * read of each file that is split: the newlines are counted on the way
 * (a range's first line number, for messages), and for CSV the quote
 * state is followed from the file's start, since only that tells a
 * newline inside a quoted field from a record's end.
 */
#define _GNU_SOURCE
#include "cluster/plan.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "io/decomp.h"

#define SCAN_BLOCK (1u << 20)

struct shards {
	struct sp_cplan_shard *s;
	size_t n, cap;
};

static struct sp_cplan_shard *new_shard(struct shards *sh)
{
	if (sh->n == sh->cap) {
		size_t cap = sh->cap ? sh->cap * 2 : 16;
		struct sp_cplan_shard *m = realloc(sh->s, cap * sizeof(*m));
		if (!m)
			return NULL;
		sh->s = m;
		sh->cap = cap;
	}
	memset(&sh->s[sh->n], 0, sizeof(sh->s[0]));
	return &sh->s[sh->n++];
}

static int add_input(struct sp_cplan_shard *s, const struct sp_cinput *in)
{
	struct sp_cinput *m = realloc(s->in, (s->n + 1) * sizeof(*m));

	if (!m)
		return -ENOMEM;
	s->in = m;
	int rc = sp_cinput_copy(&s->in[s->n], in);
	if (rc == 0) {
		s->n++;
		s->bytes += in->to ? in->to - in->from : in->size;
	}
	return rc;
}

/* Whether the file is read as plain text: not compressed (by the
 * reader's option or by its magic number) and with newline line ends in
 * its first block. */
static bool splittable(int fd, const struct sp_cplan_opts *o)
{
	char *buf = o->compressed || o->whole_files ? NULL : malloc(1 << 16);
	ssize_t n = buf ? pread(fd, buf, 1 << 16, 0) : -1;
	bool yes = n > 0 &&
		   sp_decomp_detect(buf, (size_t)n) == SP_DECOMP_NONE &&
		   memchr(buf, '\n', (size_t)n) != NULL;

	free(buf);
	return yes;
}

/* Where a CSV scan is: as the reader's tokenizer sees it, a quote opens
 * a quoted field only at the field's start; inside one, a doubled quote
 * is a quote and a single one closes it.  A quote inside an unquoted
 * field is a character, and a newline there ends the record. */
enum cut_state {
	CUT_FIELD_START = 0,
	CUT_UNQUOTED,
	CUT_QUOTED,
	CUT_QUOTE_SEEN, /* a quote inside a quoted field: closes or doubles */
};

struct cut_scan {
	bool csv;
	char quote, delimiter;
	enum cut_state state;
	uint64_t skip; /* CSV ignore_lines not passed yet: raw lines */
	uint64_t line; /* of the byte at pos */
};

/* Moves the CSV state over ch; true when ch ends a record. */
static bool csv_step(struct cut_scan *c, char ch)
{
	switch (c->state) {
	case CUT_QUOTED:
		if (ch == c->quote)
			c->state = CUT_QUOTE_SEEN;
		return false;
	case CUT_QUOTE_SEEN:
		if (ch == c->quote) {
			c->state = CUT_QUOTED;
			return false;
		}
		break;
	case CUT_FIELD_START:
		if (ch == c->quote) {
			c->state = CUT_QUOTED;
			return false;
		}
		break;
	case CUT_UNQUOTED:
		break;
	}
	if (ch == '\n' || ch == c->delimiter) {
		c->state = CUT_FIELD_START;
		return ch == '\n';
	}
	c->state = CUT_UNQUOTED;
	return false;
}

/* The first record boundary at or after want in block b[0..len) that
 * starts at file offset pos; the scan's state moves over the block.
 * Returns the boundary's offset into b plus 1, or 0 when none. */
static size_t scan_block(struct cut_scan *c, const char *b, size_t len,
			 uint64_t pos, uint64_t want)
{
	for (size_t i = 0; i < len; i++) {
		char ch = b[i];
		if (c->skip) { /* lines the reader skips unparsed */
			c->line += ch == '\n';
			c->skip -= ch == '\n';
			continue;
		}
		bool end = c->csv ? csv_step(c, ch) : ch == '\n';
		if (ch == '\n')
			c->line++;
		if (end && pos + i + 1 >= want)
			return i + 1;
	}
	return 0;
}

/* Splits file f (larger than the shard size) into ranges of about
 * size / k bytes, each a shard. */
static int split_file(struct shards *sh, const struct sp_cinput *f, int fd,
		      const struct sp_cplan_opts *o)
{
	uint64_t k = (f->size + o->shard_size - 1) / o->shard_size;
	uint64_t step = f->size / k, from = 0, pos = 0, first_line = 1;
	struct cut_scan c = {.csv = o->csv,
			     .quote = o->quote,
			     .delimiter = o->delimiter,
			     .skip = o->csv ? o->ignore_lines : 0,
			     .line = 1};
	char *buf = malloc(SCAN_BLOCK);
	int rc = buf ? 0 : -ENOMEM;

	while (rc == 0 && from < f->size) {
		uint64_t want = from + step, to = f->size;
		/* the last range takes the rest: no sliver at the end */
		while (want + step / 2 < f->size && pos < f->size) {
			/* no further than the size the job records, should
			 * the file grow meanwhile */
			size_t want_n = f->size - pos < SCAN_BLOCK
					    ? (size_t)(f->size - pos)
					    : SCAN_BLOCK;
			ssize_t n = pread(fd, buf, want_n, (off_t)pos);
			if (n <= 0) {
				rc = n < 0 ? -errno : -EIO;
				break;
			}
			size_t at = scan_block(&c, buf, (size_t)n, pos, want);
			if (at) {
				/* the scan goes on from the boundary */
				to = pos + at;
				pos = to;
				break;
			}
			pos += (uint64_t)n;
		}
		if (rc < 0)
			break;
		struct sp_cinput r = *f;
		r.from = from;
		r.to = to;
		r.line = first_line;
		struct sp_cplan_shard *s = new_shard(sh);
		rc = s ? add_input(s, &r) : -ENOMEM;
		from = to;
		first_line = c.line;
	}
	free(buf);
	return rc;
}

/* Groups the whole files marked in whole[] into shards of about the same
 * size, none above the shard size unless one file is. */
static int group_files(struct shards *sh, const struct sp_cinput *files,
		       size_t nfiles, const bool *whole,
		       const struct sp_cplan_opts *o)
{
	uint64_t total = 0;

	for (size_t i = 0; i < nfiles; i++)
		total += whole[i] ? files[i].size : 0;
	uint64_t k = (total + o->shard_size - 1) / o->shard_size;
	uint64_t target = k ? total / k : 0;
	struct sp_cplan_shard *cur = NULL;
	int rc = 0;

	for (size_t i = 0; rc == 0 && i < nfiles; i++) {
		if (!whole[i])
			continue;
		if (!cur || cur->n == SP_CPLAN_MAX_FILES ||
		    (cur->bytes && cur->bytes + files[i].size / 2 > target))
			cur = new_shard(sh);
		rc = cur ? add_input(cur, &files[i]) : -ENOMEM;
	}
	return rc;
}

int sp_cplan(const struct sp_cinput *files, size_t nfiles,
	     const struct sp_cplan_opts *o, struct sp_cplan_shard **out,
	     size_t *nout, char *err, size_t errlen)
{
	struct shards sh = {0};
	bool *whole = calloc(nfiles ? nfiles : 1, sizeof(*whole));
	int rc = whole ? 0 : -ENOMEM;

	for (size_t i = 0; rc == 0 && i < nfiles; i++) {
		const struct sp_cinput *f = &files[i];
		whole[i] = true;
		if (f->size <= o->shard_size || !strncmp(f->path, "s3://", 5))
			continue; /* S3 objects are read whole */
		int fd = open(f->path, O_RDONLY | O_CLOEXEC);
		if (fd < 0) {
			rc = -errno;
			snprintf(err, errlen, "cannot read %s: %s", f->path,
				 strerror(errno));
			break;
		}
		if (splittable(fd, o)) {
			whole[i] = false;
			rc = split_file(&sh, f, fd, o);
			if (rc < 0)
				snprintf(err, errlen, "cannot read %s: %s",
					 f->path, strerror(-rc));
		}
		close(fd);
	}
	if (rc == 0)
		rc = group_files(&sh, files, nfiles, whole, o);
	free(whole);
	if (rc < 0) {
		sp_cplan_free(sh.s, sh.n);
		return rc;
	}
	*out = sh.s;
	*nout = sh.n;
	return 0;
}

void sp_cplan_free(struct sp_cplan_shard *s, size_t n)
{
	for (size_t i = 0; s && i < n; i++)
		sp_cinputs_free(s[i].in, s[i].n);
	free(s);
}
