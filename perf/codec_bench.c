/*
 * codec_bench: single-thread throughput of the record codecs on realistic
 * records (about 300 bytes of JSON each: id, ISO timestamp, user, country,
 * expense, status, tags, and a free-text message with commas and escaped
 * quotes), generated in memory from a fixed seed so every run measures the
 * same bytes.  Prints best and median MB/s of 5 repetitions for
 *
 *   memchr line count   (the floor: touching every byte once)
 *   jsonl parse         (batches of 4000 records, reset between)
 *   jsonl encode        (changed records: one field removed, one renamed)
 *   csv parse / encode  (the same records as CSV, typed by a schema)
 *
 * Usage: codec_bench [--records N] [--write-jsonl PATH] [--jsonl PATH]
 *                    [--csv PATH --schema NAME:TYPE,...]
 * --write-jsonl also dumps the generated JSON lines, so that a script can
 * time other tools (wc -l, zstd -1) on the same input.  --jsonl measures
 * the JSON-lines codec on the first N lines of a file instead (e.g. the
 * field-dense inputs perf/run makes for W6 and W7); its changed records
 * lose their second field and have their first renamed.  --csv measures
 * the CSV codec on a file with a header line instead (W8's incidents.csv,
 * with --schema id:int,opened:timestamp,...: the columns of the flow's
 * schema and their types); a file's lines must hold no quoted newline.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/symtab.h"
#include "codec/jsonl.h"
#include "perf/bench_time.h"
#include "codec/csv.h"
#include "codec/csv_tok.h"

#define REPS 5
#define BATCH_RECORDS 4000

static uint64_t rng_state = 0x9e3779b97f4a7c15ull;

static uint64_t rng(void)
{
	/* xorshift64*: deterministic across platforms */
	rng_state ^= rng_state >> 12;
	rng_state ^= rng_state << 25;
	rng_state ^= rng_state >> 27;
	return rng_state * 0x2545f4914f6cdd1dull;
}

static unsigned pick(unsigned n)
{
	return (unsigned)(rng() % n);
}

static const char *const words[] = {
    "invoice",	  "travel",   "hotel",	"taxi",	    "lunch",   "client",
    "meeting",	  "Berlin",   "Lisbon", "refund",   "card",    "receipt",
    "missing",	  "approved", "per",	"diem",	    "train",   "flight",
    "conference", "team",     "dinner", "software", "license", "monthly",
};
static const char *const countries[] = {"DE", "FR", "PT", "US", "JP",
					"BR", "IN", "NL", "SE", "IT"};
static const char *const statuses[] = {"approved", "pending", "rejected",
				       "paid"};
static const char *const tagset[] = {"travel", "food",	"office", "urgent",
				     "q3",     "audit", "client"};

struct text {
	char *data;
	size_t len, cap;
};

static void text_add(struct text *t, const char *s, size_t n)
{
	if (t->len + n > t->cap) {
		t->cap = (t->cap + n) * 2;
		t->data = realloc(t->data, t->cap);
		if (!t->data) {
			perror("realloc");
			exit(1);
		}
	}
	memcpy(t->data + t->len, s, n);
	t->len += n;
}

static void text_printf(struct text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

static void text_printf(struct text *t, const char *fmt, ...)
{
	char tmp[1024];
	va_list ap;

	va_start(ap, fmt);
	int n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	text_add(t, tmp, (size_t)n);
}

/* message of 80-200 chars with commas and quotes; escaped for JSON when
 * json, else raw (the CSV writer quotes it) */
static void make_message(char *out, size_t *len)
{
	size_t want = 80 + pick(121), n = 0;

	while (n < want) {
		const char *w = words[pick(sizeof(words) / sizeof(words[0]))];
		unsigned r = pick(10);
		if (r == 0) {
			n += (size_t)sprintf(out + n, "\"%s\" ", w);
		} else if (r < 3) {
			n += (size_t)sprintf(out + n, "%s, ", w);
		} else {
			n += (size_t)sprintf(out + n, "%s ", w);
		}
	}
	out[want] = '\0';
	/* do not end in the middle of nothing: trim trailing space */
	while (want && out[want - 1] == ' ')
		out[--want] = '\0';
	*len = want;
}

static void gen_record(struct text *json, struct text *csv, uint64_t id)
{
	char msg[512], esc[1024];
	size_t mlen, e = 0, c = 0;
	char cq[1024];
	const char *country = countries[pick(10)];
	const char *status = statuses[pick(4)];
	long cents = (long)pick(2000000) - 500000;
	long acents = labs(cents);
	const char *sign = cents < 0 ? "-" : "";
	unsigned user = pick(50000);
	unsigned mon = 1 + pick(12), day = 1 + pick(28), h = pick(24),
		 mi = pick(60), s = pick(60), ms = pick(1000);
	const char *t1 = tagset[pick(7)], *t2 = tagset[pick(7)];

	make_message(msg, &mlen);
	for (size_t i = 0; i < mlen; i++) {
		if (msg[i] == '"')
			esc[e++] = '\\';
		esc[e++] = msg[i];
		if (msg[i] == '"')
			cq[c++] = '"';
		cq[c++] = msg[i];
	}
	text_printf(
	    json,
	    "{\"id\":%llu,\"timestamp\":\"2024-%02u-%02uT%02u:%02u:"
	    "%02u.%03uZ\",\"user\":\"user_%u\",\"country\":\"%s\","
	    "\"expense\":%s%ld.%02ld,\"status\":\"%s\",\"tags\":[\"%s\","
	    "\"%s\"],\"message\":\"%.*s\"}\n",
	    (unsigned long long)id, mon, day, h, mi, s, ms, user, country, sign,
	    acents / 100, acents % 100, status, t1, t2, (int)e, esc);
	if (csv)
		text_printf(csv,
			    "%llu,2024-%02u-%02uT%02u:%02u:%02u.%03uZ,user_%u,"
			    "%s,%s%ld.%02ld,%s,%s;%s,\"%.*s\"\n",
			    (unsigned long long)id, mon, day, h, mi, s, ms,
			    user, country, sign, acents / 100, acents % 100,
			    status, t1, t2, (int)c, cq);
}

static void report(const char *what, double bytes, double recs, double t[REPS])
{
	qsort(t, REPS, sizeof(t[0]), bench_cmp_double);
	printf("%-22s best %8.1f MB/s  median %8.1f MB/s  %6.2f Mrec/s\n", what,
	       bytes / t[0] / 1e6, bytes / t[REPS / 2] / 1e6,
	       recs / t[0] / 1e6);
}

/* the byte ranges of BATCH_RECORDS lines each */
struct chunk {
	const char *p;
	size_t len;
	uint64_t first_line;
};

static size_t make_chunks(const struct text *t, struct chunk **out)
{
	size_t n = 0, cap = 16;
	const char *p = t->data, *end = t->data + t->len;
	uint64_t line = 1;
	struct chunk *c = malloc(cap * sizeof(*c));

	while (p < end) {
		const char *q = p;
		unsigned k = 0;
		while (q < end && k < BATCH_RECORDS) {
			const char *nl = memchr(q, '\n', (size_t)(end - q));
			q = nl ? nl + 1 : end;
			k++;
		}
		if (n == cap)
			c = realloc(c, (cap *= 2) * sizeof(*c));
		c[n++] = (struct chunk){p, (size_t)(q - p), line};
		line += k;
		p = q;
	}
	*out = c;
	return n;
}

static void bench_memchr(const struct text *t, uint64_t nrec)
{
	double tm[REPS];

	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		size_t lines = 0;
		const char *p = t->data, *end = t->data + t->len;
		while ((p = memchr(p, '\n', (size_t)(end - p)))) {
			lines++;
			p++;
		}
		tm[r] = bench_now() - t0;
		if (lines != nrec)
			fprintf(stderr, "memchr counted %zu lines\n", lines);
	}
	report("memchr line count", (double)t->len, (double)nrec, tm);
}

/* The edit of the changed-record encode: tags removed and user renamed in
 * the generated records; the second field removed and the first renamed
 * in a file's (file_mode). */
static void edit_record(struct sp_batch *b, uint32_t rec, bool file_mode,
			const uint32_t syms[3])
{
	struct sp_field *f = sp_record_fields(b, rec);
	uint32_t n = b->recs[rec].nfields;

	if (file_mode) {
		if (n > 1)
			f[1].sym = SP_SYM_NONE;
		if (n > 0)
			f[0].sym = syms[2];
	} else {
		for (uint32_t k = 0; k < n; k++) {
			if (f[k].sym == syms[0])
				f[k].sym = SP_SYM_NONE;
			else if (f[k].sym == syms[1])
				f[k].sym = syms[2];
		}
	}
	b->recs[rec].flags |= SP_RECORD_CHANGED;
}

static int bench_jsonl(const struct text *t, uint64_t nrec,
		       struct sp_symtab *st, bool file_mode)
{
	struct chunk *ch;
	size_t nch = make_chunks(t, &ch);
	struct sp_jsonl_parser ps;
	struct sp_batch *b = sp_batch_create(st);
	double tm[REPS];
	uint64_t parsed = 0;

	sp_jsonl_parser_init(&ps, st);
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		parsed = 0;
		for (size_t i = 0; i < nch; i++) {
			sp_batch_reset(b);
			int n = sp_jsonl_parse(
			    &ps, ch[i].p, ch[i].len, ch[i].first_line,
			    (uint64_t)(ch[i].p - t->data), b);
			if (n < 0 || b->nerrors) {
				fprintf(stderr,
					"parse failed (%d, %u errors)\n", n,
					b->nerrors);
				return 1;
			}
			parsed += (uint64_t)n;
		}
		tm[r] = bench_now() - t0;
	}
	if (parsed != nrec) {
		fprintf(stderr, "parsed %llu records, expected %llu\n",
			(unsigned long long)parsed, (unsigned long long)nrec);
		return 1;
	}
	report("jsonl parse", (double)t->len, (double)nrec, tm);
	sp_batch_destroy(b);

	/* encode: all batches parsed up front, then changed and written */
	struct sp_batch **bs = calloc(nch, sizeof(*bs));
	const uint32_t syms[3] = {sp_symtab_intern(st, "tags", 4),
				  sp_symtab_intern(st, "user", 4),
				  sp_symtab_intern(st, "user_name", 9)};
	for (size_t i = 0; i < nch; i++) {
		bs[i] = sp_batch_create(st);
		sp_jsonl_parse(&ps, ch[i].p, ch[i].len, ch[i].first_line, 0,
			       bs[i]);
		for (uint32_t rec = 0; rec < bs[i]->nrecs; rec++)
			edit_record(bs[i], rec, file_mode, syms);
	}
	struct sp_buf out;
	size_t out_bytes = 0;
	sp_buf_init(&out);
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		out_bytes = 0;
		for (size_t i = 0; i < nch; i++) {
			out.len = 0;
			if (sp_jsonl_encode(bs[i], NULL, bs[i]->nrecs, &out)) {
				fprintf(stderr, "encode failed\n");
				return 1;
			}
			out_bytes += out.len;
		}
		tm[r] = bench_now() - t0;
	}
	report("jsonl encode (changed)", (double)out_bytes, (double)nrec, tm);
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		for (size_t i = 0; i < nch; i++) {
			out.len = 0;
			for (uint32_t rec = 0; rec < bs[i]->nrecs; rec++)
				bs[i]->recs[rec].flags &= ~SP_RECORD_CHANGED;
			sp_jsonl_encode(bs[i], NULL, bs[i]->nrecs, &out);
		}
		tm[r] = bench_now() - t0;
	}
	report("jsonl encode (as is)", (double)t->len, (double)nrec, tm);
	for (size_t i = 0; i < nch; i++)
		sp_batch_destroy(bs[i]);
	free(bs);
	sp_buf_fini(&out);
	free(ch);
	return 0;
}

/* CSV text t parsed with schema cols; header: t's first line names the
 * columns (it is not timed) */
static int bench_csv(const struct text *all, uint64_t nrec,
		     struct sp_symtab *st, const struct sp_csv_column *cols,
		     uint32_t ncols, bool header)
{
	struct sp_csv_options opt = {
	    .delimiter = ',',
	    .quote = '"',
	    .header = header,
	    .schema = cols,
	    .nschema = ncols,
	};
	struct sp_csv_parser p;
	struct chunk *ch;
	double tm[REPS];
	struct text body = *all;
	const struct text *t = &body;

	if (sp_csv_parser_init(&p, &opt, st)) {
		fprintf(stderr, "csv parser init failed\n");
		return 1;
	}
	if (header) {
		char msg[256] = "";
		uint64_t lines = 0;
		ssize_t used = sp_csv_read_preamble(&p, st, all->data, all->len,
						    true, &lines, msg,
						    sizeof(msg));
		if (used < 0) {
			fprintf(stderr, "csv header: %s\n", msg);
			return 1;
		}
		body.data += used;
		body.len -= (size_t)used;
	}
	size_t nch = make_chunks(t, &ch);
	struct sp_batch *b = sp_batch_create(st);
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		for (size_t i = 0; i < nch; i++) {
			sp_batch_reset(b);
			int n = sp_csv_parse(&p, ch[i].p, ch[i].len,
					     ch[i].first_line, 0, b);
			if (n < 0 || b->nerrors) {
				fprintf(stderr, "csv parse failed (%d, %u)\n",
					n, b->nerrors);
				return 1;
			}
		}
		tm[r] = bench_now() - t0;
	}
	report("csv parse", (double)t->len, (double)nrec, tm);
	/* the tokenizer alone: the same bytes split into fields, nothing
	 * built from them (what the parse costs beyond it is the fields) */
	uint64_t nfields = 0;
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		nfields = 0;
		for (size_t i = 0; i < nch; i++) {
			struct tok tk;
			struct tok_field f;
			tok_init(&tk, ch[i].p, ch[i].len, 0, ',', '"');
			while (tk.pos < ch[i].len) {
				if (tok_field(&tk, &f) == TOK_UNTERMINATED)
					break;
				nfields++;
			}
		}
		tm[r] = bench_now() - t0;
	}
	report("csv tokenize", (double)t->len, (double)nrec, tm);
	printf("%-22s %.1f fields/record\n", "", (double)nfields / nrec);

	/* encode: batches parsed up front, only the encoder is timed */
	struct sp_batch **bs = calloc(nch, sizeof(*bs));
	for (size_t i = 0; i < nch; i++) {
		bs[i] = sp_batch_create(st);
		sp_csv_parse(&p, ch[i].p, ch[i].len, ch[i].first_line, 0,
			     bs[i]);
	}
	struct sp_csv_encoder e;
	struct sp_buf out;
	size_t out_bytes = 0;
	sp_buf_init(&out);
	for (int r = 0; r < REPS; r++) {
		double t0 = bench_now();
		out_bytes = 0;
		sp_csv_encoder_init(&e, ',', '"', false);
		for (size_t i = 0; i < nch; i++) {
			out.len = 0;
			for (uint32_t rec = 0; rec < bs[i]->nrecs; rec++) {
				const char *why = "";
				if (sp_csv_encode_record(&e, bs[i], rec, &out,
							 &why)) {
					fprintf(stderr, "csv encode: %s\n",
						why);
					return 1;
				}
			}
			out_bytes += out.len;
		}
		sp_csv_encoder_fini(&e);
		tm[r] = bench_now() - t0;
	}
	for (size_t i = 0; i < nch; i++)
		sp_batch_destroy(bs[i]);
	free(bs);
	report("csv encode", (double)out_bytes, (double)nrec, tm);
	sp_buf_fini(&out);
	sp_batch_destroy(b);
	sp_csv_parser_fini(&p);
	free(ch);
	return 0;
}

/* "id:int,opened:timestamp,..." into cols (names point into spec,
 * which is changed); the count, or 0 after a message. */
static uint32_t parse_schema(char *spec, struct sp_csv_column *cols,
			     uint32_t max)
{
	uint32_t n = 0;

	for (char *save = NULL, *c = strtok_r(spec, ",", &save); c;
	     c = strtok_r(NULL, ",", &save)) {
		char *colon = strchr(c, ':');
		if (!colon || n == max) {
			fprintf(stderr, "codec_bench: bad --schema entry %s\n",
				c);
			return 0;
		}
		*colon = '\0';
		cols[n].name = c;
		if (sp_csv_type_parse(colon + 1, &cols[n].type)) {
			fprintf(stderr, "codec_bench: unknown type %s\n",
				colon + 1);
			return 0;
		}
		n++;
	}
	return n;
}

/* The first *nrec lines of path (fewer when it has fewer: *nrec is set to
 * them), each ending in a newline.  0, or 1 after a message. */
static int read_lines(const char *path, uint64_t *nrec, struct text *t)
{
	FILE *f = fopen(path, "rb");
	char *line = NULL;
	size_t cap = 0;
	ssize_t n;
	uint64_t k = 0;

	if (!f) {
		fprintf(stderr, "codec_bench: cannot read %s: %s\n", path,
			strerror(errno));
		return 1;
	}
	while (k < *nrec && (n = getline(&line, &cap, f)) > 0) {
		text_add(t, line, (size_t)n);
		if (line[n - 1] != '\n')
			text_add(t, "\n", 1);
		k++;
	}
	free(line);
	fclose(f);
	if (k == 0) {
		fprintf(stderr, "codec_bench: %s has no lines\n", path);
		return 1;
	}
	*nrec = k;
	return 0;
}

int main(int argc, char **argv)
{
	uint64_t nrec = 200000;
	const char *write_path = NULL, *read_path = NULL, *csv_path = NULL;
	char *schema_spec = NULL;
	struct sp_csv_column file_cols[64];
	uint32_t nfile_cols = 0;
	struct text json = {0}, csv = {0};
	int rc = 0;

	for (int i = 1; i < argc; i++) {
		if (strcmp(argv[i], "--records") == 0 && i + 1 < argc) {
			nrec = strtoull(argv[++i], NULL, 10);
		} else if (strcmp(argv[i], "--write-jsonl") == 0 &&
			   i + 1 < argc) {
			write_path = argv[++i];
		} else if (strcmp(argv[i], "--jsonl") == 0 && i + 1 < argc) {
			read_path = argv[++i];
		} else if (strcmp(argv[i], "--csv") == 0 && i + 1 < argc) {
			csv_path = argv[++i];
		} else if (strcmp(argv[i], "--schema") == 0 && i + 1 < argc) {
			schema_spec = argv[++i];
		} else {
			fprintf(
			    stderr,
			    "usage: %s [--records N] [--write-jsonl PATH] "
			    "[--jsonl PATH] [--csv PATH --schema "
			    "NAME:TYPE,...]\n",
			    argv[0]);
			return 2;
		}
	}
	if (csv_path) {
		struct sp_symtab *st = sp_symtab_create();
		uint64_t lines = nrec + 1; /* and the header */
		if (schema_spec &&
		    !(nfile_cols = parse_schema(schema_spec, file_cols, 64)))
			return 2;
		if (!st || read_lines(csv_path, &lines, &csv))
			return 1;
		printf("%llu records, %.1f MB of CSV (%.0f bytes/record)\n",
		       (unsigned long long)(lines - 1), (double)csv.len / 1e6,
		       (double)csv.len / (double)(lines - 1));
		rc = bench_csv(&csv, lines - 1, st, file_cols, nfile_cols,
			       true);
		sp_symtab_destroy(st);
		free(csv.data);
		return rc;
	}
	if (nrec == 0) {
		fprintf(stderr, "codec_bench: --records must be > 0\n");
		return 2;
	}
	if (read_path) {
		if (read_lines(read_path, &nrec, &json))
			return 1;
	} else {
		for (uint64_t i = 0; i < nrec; i++)
			gen_record(&json, &csv, i + 1);
	}
	if (write_path) {
		FILE *f = fopen(write_path, "wb");
		if (!f || fwrite(json.data, 1, json.len, f) != json.len ||
		    fclose(f)) {
			fprintf(stderr, "codec_bench: cannot write %s: %s\n",
				write_path, strerror(errno));
			return 1;
		}
	}
	printf("%llu records, %.1f MB of JSON lines (%.0f bytes/record)\n",
	       (unsigned long long)nrec, (double)json.len / 1e6,
	       (double)json.len / (double)nrec);

	struct sp_symtab *st = sp_symtab_create();
	if (!st) {
		fprintf(stderr, "codec_bench: out of memory\n");
		return 1;
	}
	bench_memchr(&json, nrec);
	rc = bench_jsonl(&json, nrec, st, read_path != NULL);
	if (!rc && !read_path) {
		static const struct sp_csv_column gen_cols[] = {
		    {"id", SP_CSV_INT},		{"timestamp", SP_CSV_STRING},
		    {"user", SP_CSV_STRING},	{"country", SP_CSV_STRING},
		    {"expense", SP_CSV_DOUBLE}, {"status", SP_CSV_STRING},
		    {"tags", SP_CSV_STRING},	{"message", SP_CSV_STRING},
		};
		rc = bench_csv(&csv, nrec, st, gen_cols,
			       sizeof(gen_cols) / sizeof(gen_cols[0]), false);
	}
	sp_symtab_destroy(st);
	free(json.data);
	free(csv.data);
	return rc;
}
