/*
 * Tests of the built-in origins, called through their descriptors: chunks
 * from next(), records from parse() on them, every record encoded and
 * compared.  The generator must give the same records for a seed however
 * the records are chunked; stdin must cut chunks on record boundaries and
 * count lines and offsets across them.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "stage_api/stage.h"
#include "codec/jsonl.h"
#include "support/stage_harness.h"

extern const struct sp_stage_desc sp_stage_dev_data_generator;
extern const struct sp_stage_desc sp_stage_dev_raw_data;
extern const struct sp_stage_desc sp_stage_stdin;

/* Creating origin d with yaml fails with -EINVAL and the message err. */
static void expect_refused(const struct sp_stage_desc *d, const char *yaml,
			   const char *err)
{
	struct stage_harness o;

	cr_assert_eq(stage_harness_open(&o, d, NULL, yaml), -EINVAL, "%s",
		     yaml);
	cr_assert_str_eq(o.err, err, "%s", yaml);
	stage_harness_close(&o);
}

/* Runs the origin to the end: every chunk parsed into a batch and its
 * records appended to text as JSON lines; errors formatted into errs
 * ("source:line: reason\n").  Returns the number of chunks. */
static unsigned drain(struct stage_harness *o, struct sp_buf *text,
		      struct sp_buf *errs, uint64_t *records)
{
	struct sp_batch *b = sp_batch_create(o->symtab);
	struct sp_chunk c;
	unsigned chunks = 0;
	int rc;

	*records = 0;
	while ((rc = o->desc->next(o->state, &c, o->err, sizeof(o->err))) ==
	       1) {
		uint32_t sel[8192];

		sp_batch_reset(b);
		b->source = c.source;
		b->bytes_in = c.len;
		cr_assert_eq(o->desc->parse(o->state, o->ws, &c, b), 0);
		cr_assert_leq(b->nrecs, 8192);
		for (uint32_t i = 0; i < b->nrecs; i++)
			sel[i] = i;
		cr_assert_eq(sp_jsonl_encode(b, sel, b->nrecs, text), 0);
		for (uint32_t i = 0; i < b->nerrors && errs; i++) {
			char line[600];
			int n = snprintf(line, sizeof(line), "%s:%llu: %s\n",
					 b->source,
					 (unsigned long long)b->errors[i].line,
					 b->errors[i].reason);
			sp_buf_append(errs, line, (size_t)n);
		}
		*records += b->nrecs;
		if (o->desc->release)
			o->desc->release(o->state, &c);
		chunks++;
	}
	cr_assert_eq(rc, 0, "next: %s", o->err);
	sp_batch_destroy(b);
	sp_buf_putc(text, '\0');
	if (errs)
		sp_buf_putc(errs, '\0');
	return chunks;
}

/* ---- dev_data_generator ----------------------------------------------- */

static char *generate(const char *yaml, unsigned *chunks, uint64_t *nrec)
{
	struct stage_harness o;
	struct sp_buf text;
	unsigned n;
	uint64_t records;

	sp_buf_init(&text);
	cr_assert_eq(stage_harness_open(&o, &sp_stage_dev_data_generator,
					NULL, yaml),
		     0, "%s", o.err);
	n = drain(&o, &text, NULL, &records);
	stage_harness_close(&o);
	if (chunks)
		*chunks = n;
	if (nrec)
		*nrec = records;
	return text.data;
}

Test(origins, generator_is_deterministic_whatever_the_chunking)
{
	unsigned c1, c10;
	uint64_t n1, n10;
	char *one = generate("records: 1000\nbatch_size: 1000", &c1, &n1);
	char *ten = generate("records: 1000\nbatch_size: 100", &c10, &n10);
	char *odd = generate("records: 1000\nbatch_size: 7", NULL, NULL);
	char *other = generate("records: 1000\nseed: 2", NULL, NULL);

	cr_assert_eq(c1, 1);
	cr_assert_eq(c10, 10);
	cr_assert_eq(n1, 1000);
	cr_assert_eq(n10, 1000);
	cr_assert_str_eq(one, ten);
	cr_assert_str_eq(one, odd);
	cr_assert_str_neq(one, other);
	free(one);
	free(ten);
	free(odd);
	free(other);
}

static const char *field_text(const char *line, const char *key,
			      size_t *len)
{
	char pat[64];
	const char *p, *e;

	snprintf(pat, sizeof(pat), "\"%s\":", key);
	p = strstr(line, pat);
	cr_assert_not_null(p, "no %s in %s", key, line);
	p += strlen(pat);
	if (*p == '"') {
		e = p + 1;
		while (*e != '"')
			e += *e == '\\' ? 2 : 1;
		e++;
	} else {
		e = p + strcspn(p, ",}");
	}
	*len = (size_t)(e - p);
	return p;
}

Test(origins, generator_default_fields)
{
	uint64_t n;
	char *text = generate("records: 500\nseed: 7", NULL, &n);
	static const char *const countries[] = {"US", "FR", "DE", "GB", "JP",
						"BR", "IN", "CA", "ES", "IT"};
	static const char known_tags[] =
		" travel meals office software hardware client internal "
		"urgent review refund recurring q1 q4 ";
	char *save = NULL;
	uint64_t r = 0;

	cr_assert_eq(n, 500);
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), r++) {
		char want[64];
		size_t len;
		const char *v;
		int k;

		/* the fields, in order */
		snprintf(want, sizeof(want), "{\"id\":%llu,\"ts\":\"",
			 (unsigned long long)r + 1);
		cr_assert(strncmp(line, want, strlen(want)) == 0, "%s", line);
		cr_assert(strstr(line, "\",\"user\":\"") &&
				  strstr(line, "\",\"country\":\"") &&
				  strstr(line, ",\"expense\":") &&
				  strstr(line, ",\"status\":\"") &&
				  strstr(line, "\",\"tags\":[\"") &&
				  strstr(line, "],\"message\":\""),
			  "%s", line);
		v = field_text(line, "ts", &len);
		cr_assert_eq(len, 22);
		cr_assert(strncmp(v, "\"2024-", 6) == 0 && v[11] == 'T' &&
				  v[20] == 'Z',
			  "%.*s", (int)len, v);
		v = field_text(line, "user", &len);
		cr_assert_eq(len, 10);
		for (size_t i = 1; i < 9; i++)
			cr_assert(v[i] >= 'a' && v[i] <= 'z');
		v = field_text(line, "country", &len);
		for (k = 0; k < 10; k++)
			if (len == 4 && strncmp(v + 1, countries[k], 2) == 0)
				break;
		cr_assert_lt(k, 10, "%.*s", (int)len, v);
		v = field_text(line, "expense", &len);
		double e = strtod(v, NULL);
		cr_assert(e >= -20000 && e <= 20000, "%f", e);
		const char *dot = memchr(v, '.', len);
		cr_assert(dot && (size_t)(v + len - dot) <= 3, "%.*s",
			  (int)len, v);
		v = field_text(line, "status", &len);
		cr_assert(strncmp(v, "\"ok\"", 4) == 0 ||
				  strncmp(v, "\"pending\"", 9) == 0 ||
				  strncmp(v, "\"failed\"", 8) == 0 ||
				  strncmp(v, "\"refunded\"", 10) == 0,
			  "%.*s", (int)len, v);
		/* 1..4 distinct tags, each a known one */
		v = strstr(line, "\"tags\":[") + 7;
		char tagv[5][16];
		int ntags = sscanf(v, "[\"%15[a-z0-9]\",\"%15[a-z0-9]\",\""
				   "%15[a-z0-9]\",\"%15[a-z0-9]\",\"%15[a-z0-9]",
				   tagv[0], tagv[1], tagv[2], tagv[3], tagv[4]);
		cr_assert(ntags >= 1 && ntags <= 4, "%s", line);
		for (int i = 0; i < ntags; i++) {
			char pat[20];

			snprintf(pat, sizeof(pat), " %.15s ", tagv[i]);
			cr_assert(strstr(known_tags, pat), "tag %s in %s",
				  tagv[i], line);
			for (int j = 0; j < i; j++)
				cr_assert_str_neq(tagv[i], tagv[j], "%s", line);
		}
		v = field_text(line, "message", &len);
		/* 80..200 characters, some escaped quotes count double */
		cr_assert(len >= 2 + 60 && len <= 2 + 200 + 40, "%zu", len);
	}
	cr_assert_eq(r, 500);
	free(text);
}

Test(origins, generator_custom_fields)
{
	uint64_t n;
	char *text = generate(
		"records: 300\n"
		"fields:\n"
		"  - {name: n, type: sequence, min: 10}\n"
		"  - {name: i, type: int, min: -5, max: 5}\n"
		"  - {name: d, type: double, min: 1.5, max: 2}\n"
		"  - {name: b, type: bool}\n"
		"  - {name: s, type: string, length: 3}\n"
		"  - {name: e, type: enum, values: [x, 'y\"z']}\n"
		"  - {name: t, type: timestamp, min: 0, max: 59}\n"
		"  - {name: m, type: text, min: 10, max: 12}\n",
		NULL, &n);
	char *save = NULL;
	uint64_t r = 0;
	int seen_true = 0, seen_false = 0, seen_x = 0, seen_yz = 0;
	int seen_lo = 0, seen_hi = 0;

	cr_assert_eq(n, 300);
	for (char *line = strtok_r(text, "\n", &save); line;
	     line = strtok_r(NULL, "\n", &save), r++) {
		long long nn, i;
		double d;
		char b[8], s[8], rest[256];
		int used = 0;

		cr_assert_eq(sscanf(line, "{\"n\":%lld,\"i\":%lld,\"d\":%lf,"
					  "\"b\":%5[a-z],\"s\":\"%3[a-z]\","
					  "\"e\":%n",
				    &nn, &i, &d, b, s, &used),
			     5, "%s", line);
		cr_assert_eq(nn, 10 + (long long)r);
		cr_assert(i >= -5 && i <= 5);
		seen_lo |= i == -5;
		seen_hi |= i == 5;
		cr_assert(d >= 1.5 && d <= 2.0, "%f", d);
		seen_true |= strcmp(b, "true") == 0;
		seen_false |= strcmp(b, "false") == 0;
		cr_assert_eq(strlen(s), 3);
		snprintf(rest, sizeof(rest), "%s", line + used);
		if (strncmp(rest, "\"x\",", 4) == 0)
			seen_x = 1;
		else if (strncmp(rest, "\"y\\\"z\",", 7) == 0)
			seen_yz = 1;
		else
			cr_assert_fail("enum value in %s", rest);
		const char *t = strstr(rest, "\"t\":\"1970-01-01T00:00:");
		cr_assert_not_null(t, "%s", rest);
		size_t len;
		const char *m = field_text(rest, "m", &len);
		cr_assert(len >= 2 + 1 && len <= 2 + 12 + 4, "%.*s", (int)len,
			  m);
	}
	cr_assert_eq(r, 300);
	cr_assert(seen_true && seen_false && seen_x && seen_yz && seen_lo &&
		  seen_hi);
	free(text);
}

Test(origins, generator_rejects_bad_fields)
{
	expect_refused(&sp_stage_dev_data_generator,
		       "fields: [{name: c, type: enum}]",
		       "fields: c: an enum field needs values: [a, b, ...]");
	expect_refused(&sp_stage_dev_data_generator,
		       "fields: [{name: c, type: int, min: 5, max: 1}]",
		       "fields: c: min 5 is above max 1");
	expect_refused(&sp_stage_dev_data_generator,
		       "fields: [{name: c, type: int}, {name: c, type: bool}]",
		       "fields: c is defined twice");
}

Test(origins, generator_zero_records)
{
	uint64_t n;
	unsigned chunks;
	char *text = generate("records: 0", &chunks, &n);

	cr_assert_eq(chunks, 0);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(text, "");
	free(text);
}

/* ---- dev_raw_data ----------------------------------------------------- */

/* dev_raw_data with yaml, run to the end: one chunk, its records as JSON
 * lines in text and its errors in errs (both set up here, NUL-terminated,
 * for sp_buf_fini); returns the record count. */
static uint64_t raw_data(const char *yaml, struct sp_buf *text,
			 struct sp_buf *errs)
{
	struct stage_harness o;
	uint64_t n;

	sp_buf_init(text);
	sp_buf_init(errs);
	cr_assert_eq(stage_harness_open(&o, &sp_stage_dev_raw_data, NULL,
					yaml),
		     0, "%s", o.err);
	cr_assert_eq(drain(&o, text, errs, &n), 1);
	stage_harness_close(&o);
	return n;
}

Test(origins, raw_data_jsonl)
{
	struct sp_buf text, errs;

	cr_assert_eq(raw_data("data: |\n"
			      "  {\"a\": 1, \"b\": \"x\"}\n"
			      "  {bad\n"
			      "  {\"a\":2}",
			      &text, &errs),
		     2);
	cr_assert_str_eq(text.data, "{\"a\": 1, \"b\": \"x\"}\n{\"a\":2}\n");
	cr_assert(strncmp(errs.data, "dev_raw_data:2: ", 16) == 0, "%s",
		  errs.data);
	cr_assert_eq(errs.len, strlen(errs.data) + 1);
	cr_assert_eq(strchr(errs.data, '\n') - errs.data,
		     (long)strlen(errs.data) - 1, "one error: %s", errs.data);
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
}

Test(origins, raw_data_csv)
{
	struct sp_buf text, errs;

	cr_assert_eq(raw_data("format: csv\n"
			      "delimiter: ';'\n"
			      "data: \"id;name\\n1;\\\"a;b\\\"\\n2;c\\n3\\n\"",
			      &text, &errs),
		     2);
	cr_assert_str_eq(text.data, "{\"id\":\"1\",\"name\":\"a;b\"}\n"
				    "{\"id\":\"2\",\"name\":\"c\"}\n");
	/* line 4 has one field: an error naming source and line */
	cr_assert(strncmp(errs.data, "dev_raw_data:4: ", 16) == 0, "%s",
		  errs.data);
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
}

Test(origins, raw_data_csv_header_error)
{
	expect_refused(&sp_stage_dev_raw_data,
		       "format: csv\n"
		       "quote: ','\n"
		       "data: \"a,b\\n\"",
		       "delimiter and quote must differ and not be a line "
		       "break");
}

/* ---- stdin ------------------------------------------------------------ */

/* Appends "name=value|" for each live field of each record, a newline
 * after each record: the values whatever the encoders do. */
static void dump_values(struct sp_batch *b, struct sp_buf *out)
{
	for (uint32_t r = 0; r < b->nrecs; r++) {
		const struct sp_field *f = sp_record_fields(b, r);

		for (uint32_t i = 0; i < b->recs[r].nfields; i++) {
			const char *s;
			size_t len;
			uint32_t nl;
			const char *name;

			if (f[i].sym == SP_SYM_NONE)
				continue;
			name = sp_symtab_name(b->symtab, f[i].sym, &nl);
			cr_assert_eq(sp_value_text(&f[i].v, &b->arena, &s, &len),
				     0);
			sp_buf_append(out, name, nl);
			sp_buf_putc(out, '=');
			sp_buf_append(out, s, len);
			sp_buf_putc(out, '|');
		}
		sp_buf_putc(out, '\n');
	}
}

static struct sp_buf *run_values;

/* Runs the stdin origin over input (through a file on fd 0) and returns
 * the chunks' first lines, offsets and lengths as text. */
static void run_stdin(const char *yaml, const char *input, struct sp_buf *text,
		      struct sp_buf *errs, struct sp_buf *chunks,
		      uint64_t *records)
{
	char path[] = "/tmp/spate_stdin_XXXXXX";
	int fd = mkstemp(path);
	int saved = dup(0);
	struct stage_harness o;
	struct sp_batch *b;
	struct sp_chunk c;
	int rc;

	cr_assert_geq(fd, 0);
	cr_assert_eq(write(fd, input, strlen(input)), (ssize_t)strlen(input));
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(dup2(fd, 0), 0);
	close(fd);
	unlink(path);
	cr_assert_eq(stage_harness_open(&o, &sp_stage_stdin, NULL, yaml), 0,
		     "%s", o.err);
	b = sp_batch_create(o.symtab);
	*records = 0;
	while ((rc = o.desc->next(o.state, &c, o.err, sizeof(o.err))) == 1) {
		uint32_t sel[1024];
		char line[700];
		int n;

		n = snprintf(line, sizeof(line), "%llu@%llu+%zu ",
			     (unsigned long long)c.first,
			     (unsigned long long)c.offset, c.len);
		sp_buf_append(chunks, line, (size_t)n);
		cr_assert_str_eq(c.source, "stdin");
		sp_batch_reset(b);
		b->source = c.source;
		cr_assert_eq(o.desc->parse(o.state, o.ws, &c, b), 0);
		for (uint32_t i = 0; i < b->nrecs; i++)
			sel[i] = i;
		cr_assert_eq(sp_jsonl_encode(b, sel, b->nrecs, text), 0);
		if (run_values)
			dump_values(b, run_values);
		for (uint32_t i = 0; i < b->nerrors; i++) {
			n = snprintf(line, sizeof(line), "%s:%llu@%llu: %s\n",
				     b->source,
				     (unsigned long long)b->errors[i].line,
				     (unsigned long long)b->errors[i].offset,
				     b->errors[i].reason);
			sp_buf_append(errs, line, (size_t)n);
		}
		*records += b->nrecs;
		o.desc->release(o.state, &c);
	}
	cr_assert_eq(rc, 0, "next: %s", o.err);
	sp_buf_putc(text, '\0');
	sp_buf_putc(errs, '\0');
	sp_buf_putc(chunks, '\0');
	if (run_values)
		sp_buf_putc(run_values, '\0');
	sp_batch_destroy(b);
	stage_harness_close(&o);
	dup2(saved, 0);
	close(saved);
}

Test(origins, stdin_jsonl_chunks_on_line_boundaries)
{
	struct sp_buf text, errs, chunks;
	uint64_t n;

	sp_buf_init(&text);
	sp_buf_init(&errs);
	sp_buf_init(&chunks);
	run_stdin("block_size: 16",
		  "{\"a\":1}\n{\"a\":22}\n{\"long\":\"0123456789abcdef\"}\n"
		  "\n{x}\n{\"last\":true}",
		  &text, &errs, &chunks, &n);
	cr_assert_eq(n, 4);
	cr_assert_str_eq(text.data,
			 "{\"a\":1}\n{\"a\":22}\n"
			 "{\"long\":\"0123456789abcdef\"}\n{\"last\":true}\n");
	/* chunk = first line @ offset + length: every chunk but the last
	 * ends with a newline, the long record makes its chunk longer */
	cr_assert_str_eq(chunks.data,
			 "1@0+8 2@8+9 3@17+29 5@46+17 ");
	cr_assert_str_eq(errs.data, "stdin:5@46: expected object key or '}' "
				    "at column 2\n");
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
	sp_buf_fini(&chunks);
}

Test(origins, stdin_csv_header_and_quoted_newlines)
{
	struct sp_buf text, errs, chunks, values;
	uint64_t n;

	sp_buf_init(&text);
	sp_buf_init(&errs);
	sp_buf_init(&chunks);
	sp_buf_init(&values);
	run_values = &values;
	/* the quoted field spans a line break and the 8-byte blocks */
	run_stdin("format: csv\nblock_size: 8",
		  "id,note\n1,plain\n2,\"two\nlines, here\"\n3,x,extra\n4,end",
		  &text, &errs, &chunks, &n);
	cr_assert_eq(n, 3);
	/* the record across blocks doubles the next read: lines 3-5 come in
	 * one chunk */
	cr_assert_str_eq(chunks.data, "2@8+8 3@16+30 6@46+5 ");
	cr_assert(strncmp(errs.data, "stdin:5@36: ", 12) == 0, "%s",
		  errs.data);
	cr_assert_str_eq(values.data, "id=1|note=plain|\n"
				      "id=2|note=two\nlines, here|\n"
				      "id=4|note=end|\n");
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
	sp_buf_fini(&chunks);
	sp_buf_fini(&values);
	run_values = NULL;
}

/* A 4 MB line read 8 bytes at a time: reads grow with the carried line,
 * so it takes milliseconds (a rescan per 8-byte block took minutes). */
Test(origins, stdin_long_line_small_blocks_is_linear, .timeout = 20)
{
	struct sp_buf text, errs, chunks;
	uint64_t n;
	size_t len = 4 << 20;
	char *in = malloc(len + 32);

	memcpy(in, "{\"v\":\"", 6);
	memset(in + 6, 'x', len);
	memcpy(in + 6 + len, "\"}\n{\"w\":1}\n", 12);
	sp_buf_init(&text);
	sp_buf_init(&errs);
	sp_buf_init(&chunks);
	run_stdin("block_size: 8", in, &text, &errs, &chunks, &n);
	cr_assert_eq(n, 2);
	cr_assert_eq(text.len, len + 17 + 1); /* and the NUL */
	cr_assert_str_eq(errs.data, "");
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
	sp_buf_fini(&chunks);
	free(in);
}

Test(origins, stdin_empty_input_and_header_only)
{
	struct sp_buf text, errs, chunks;
	uint64_t n;

	sp_buf_init(&text);
	sp_buf_init(&errs);
	sp_buf_init(&chunks);
	run_stdin("{}", "", &text, &errs, &chunks, &n);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(chunks.data, "");
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
	sp_buf_fini(&chunks);
	sp_buf_init(&text);
	sp_buf_init(&errs);
	sp_buf_init(&chunks);
	run_stdin("format: csv", "a,b", &text, &errs, &chunks, &n);
	cr_assert_eq(n, 0);
	cr_assert_str_eq(chunks.data, "");
	cr_assert_str_eq(errs.data, "");
	sp_buf_fini(&text);
	sp_buf_fini(&errs);
	sp_buf_fini(&chunks);
}
