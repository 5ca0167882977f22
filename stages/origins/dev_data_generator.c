/*
 * dev_data_generator: makes synthetic records, as many as asked, for
 * trying flows and for benchmarks (it is the input of `spate bench`).
 * Record number r's values depend only on (seed, r, field): each field
 * draws from a counter-based hash (splitmix64) instead of a sequential
 * generator, so the output is the same whatever the worker count and
 * chunking.  next() hands out ranges of record numbers; parse() generates
 * them on a worker straight into the batch (numbers binary, strings plain
 * text in the batch's arena), with no formatting calls per field.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stage_api/stage.h"

enum gen_type {
	GEN_SEQUENCE = 0,
	GEN_INT,
	GEN_DOUBLE,
	GEN_BOOL,
	GEN_STRING,
	GEN_ENUM,
	GEN_TIMESTAMP,
	GEN_TEXT,
	GEN_TAGS, /* default field set only: a JSON array of 1..4 tags */
};

/* the `type` choices, in the order of enum gen_type (tags is internal) */
static const char *const gen_types[] = {
    [GEN_SEQUENCE] = "sequence", [GEN_INT] = "int",
    [GEN_DOUBLE] = "double",	 [GEN_BOOL] = "bool",
    [GEN_STRING] = "string",	 [GEN_ENUM] = "enum",
    [GEN_TIMESTAMP] = "timestamp", [GEN_TEXT] = "text",
    [GEN_TAGS] = NULL,
};

struct gen_field_config {
	char *name;
	int type; /* enum gen_type */
	double min, max;
	struct sp_strlist values;
	int64_t length;
};

struct gen_config {
	int64_t records;
	int64_t seed;
	int64_t batch_size;
	struct sp_objlist fields;
};

struct gen_field {
	uint32_t sym;
	enum gen_type type;
	int64_t lo, hi; /* int, timestamp (s), double (cents), text (chars) */
	uint32_t length; /* string */
	uint32_t nvalues;
	const char **values; /* enum; point into the config or statics */
	uint32_t *value_len;
};

struct gen {
	uint64_t seed;
	uint64_t records;
	uint64_t batch;
	uint64_t next; /* reader thread only */
	uint32_t nfields;
	struct gen_field *f;
};

static const struct sp_option gen_field_options[] = {
	{.name = "name",
	 .type = SP_OPT_STRING,
	 .required = true,
	 .offset = offsetof(struct gen_field_config, name),
	 .help = "field name"},
	{.name = "type",
	 .type = SP_OPT_ENUM,
	 .required = true,
	 .choices = gen_types,
	 .offset = offsetof(struct gen_field_config, type),
	 .help = "sequence: min + record number; int, double: uniform in "
		 "[min, max] (default 0..1000000, doubles with 2 decimals); "
		 "bool; string: `length` letters; enum: one of `values`; "
		 "timestamp: ISO 8601 UTC between min and max (epoch seconds, "
		 "default the year 2024); text: sentences of min..max "
		 "characters (default 80..200) with commas and quotes"},
	{.name = "min",
	 .type = SP_OPT_DOUBLE,
	 .def = "0",
	 .offset = offsetof(struct gen_field_config, min),
	 .help = "lower bound (sequence: first value); min and max both 0 "
		 "mean the type's default range"},
	{.name = "max",
	 .type = SP_OPT_DOUBLE,
	 .def = "0",
	 .offset = offsetof(struct gen_field_config, max),
	 .help = "upper bound"},
	{.name = "values",
	 .type = SP_OPT_STRING_LIST,
	 .offset = offsetof(struct gen_field_config, values),
	 .help = "enum: the values to pick from"},
	{.name = "length",
	 .type = SP_OPT_INT,
	 .def = "8",
	 .bounded = true,
	 .min = 0,
	 .max = 65536,
	 .offset = offsetof(struct gen_field_config, length),
	 .help = "string: number of characters"},
	{0},
};

static const struct sp_option gen_options[] = {
	{.name = "records",
	 .type = SP_OPT_INT,
	 .def = "1000",
	 .bounded = true,
	 .min = 0,
	 .max = 1e15,
	 .offset = offsetof(struct gen_config, records),
	 .help = "number of records to generate"},
	{.name = "seed",
	 .type = SP_OPT_INT,
	 .def = "1",
	 .offset = offsetof(struct gen_config, seed),
	 .help = "the same seed gives the same records"},
	{.name = "batch_size",
	 .type = SP_OPT_INT,
	 .def = "4096",
	 .bounded = true,
	 .min = 1,
	 .max = 1048576,
	 .offset = offsetof(struct gen_config, batch_size),
	 .help = "records per batch"},
	{.name = "fields",
	 .type = SP_OPT_OBJECT_LIST,
	 .items = gen_field_options,
	 .item_size = sizeof(struct gen_field_config),
	 .offset = offsetof(struct gen_config, fields),
	 .help = "the fields of each record, [{name, type, min, max, values, "
		 "length}]; default: id, ts, user, country, expense, status, "
		 "tags (an array of 1..4 words), message"},
	{0},
};

/* ---- deterministic randomness ---------------------------------------- */

static inline uint64_t mix64(uint64_t z)
{
	z += 0x9e3779b97f4a7c15ull;
	z = (z ^ (z >> 30)) * 0xbf58476d1ce4e5b9ull;
	z = (z ^ (z >> 27)) * 0x94d049bb133111ebull;
	return z ^ (z >> 31);
}

/* uniform in [0, range); range 0 means the full 64 bits */
static inline uint64_t below(uint64_t u, uint64_t range)
{
	if (range == 0)
		return u;
	return (uint64_t)(((unsigned __int128)u * range) >> 64);
}

/* ---- default fields --------------------------------------------------- */

static const char *const countries[] = {"US", "FR", "DE", "GB", "JP",
					"BR", "IN", "CA", "ES", "IT"};
static const char *const statuses[] = {"ok", "pending", "failed",
				       "refunded"};

static const char *const words[] = {
	"the",	   "quick",    "brown",	   "fox",     "jumps",	  "over",
	"lazy",	   "dog",      "invoice",  "payment", "order",	  "shipped",
	"refund",  "customer", "account",  "balance", "card",	  "declined",
	"approved", "travel",  "hotel",	   "flight",  "dinner",	  "taxi",
	"office",  "supplies", "software", "license", "renewal", "monthly",
	"report",  "expense",  "team",	   "meeting", "client",	  "project",
	"budget",  "quarter",  "review",   "pending", "urgent",	  "note",
	"receipt", "missing",  "approved", "manager", "total",	  "amount",
	"tax",	   "included", "conference", "train", "parking", "lunch",
	"coffee",  "books",    "training", "cloud",   "server",	  "storage",
	"backup",  "network",  "phone",	   "internet",
};

#define NWORDS (sizeof(words) / sizeof(words[0]))

/* A prime count, so that any step 1..NTAGS-1 visits distinct tags. */
static const char *const tags[] = {
	"travel", "meals", "office", "software", "hardware", "client",
	"internal", "urgent", "review", "refund", "recurring", "q1", "q4",
};

#define NTAGS (sizeof(tags) / sizeof(tags[0]))
#define TAG_MAX 9 /* bytes in the longest tag */

static uint32_t word_len[NWORDS], tag_len[NTAGS];
static uint32_t country_len[10], status_len[4];

static void __attribute__((constructor)) gen_tables_init(void)
{
	for (size_t i = 0; i < NWORDS; i++)
		word_len[i] = (uint32_t)strlen(words[i]);
	for (size_t i = 0; i < NTAGS; i++)
		tag_len[i] = (uint32_t)strlen(tags[i]);
	for (size_t i = 0; i < 10; i++)
		country_len[i] = (uint32_t)strlen(countries[i]);
	for (size_t i = 0; i < 4; i++)
		status_len[i] = (uint32_t)strlen(statuses[i]);
}

/* ---- create ----------------------------------------------------------- */

static void gen_close(void *state)
{
	struct gen *g = state;

	if (!g)
		return;
	for (uint32_t i = 0; i < g->nfields; i++)
		free(g->f[i].value_len);
	free(g->f);
	free(g);
}

static int set_defaults(struct gen *g, struct sp_symtab *st)
{
	static const struct {
		const char *name;
		enum gen_type type;
		int64_t lo, hi;
	} def[] = {
		{"id", GEN_SEQUENCE, 1, 0},
		{"ts", GEN_TIMESTAMP, 1704067200, 1735689599},
		{"user", GEN_STRING, 0, 0},
		{"country", GEN_ENUM, 0, 0},
		{"expense", GEN_DOUBLE, -2000000, 2000000},
		{"status", GEN_ENUM, 0, 0},
		{"tags", GEN_TAGS, 1, 4},
		{"message", GEN_TEXT, 80, 200},
	};
	const uint32_t n = sizeof(def) / sizeof(def[0]);

	g->f = calloc(n, sizeof(*g->f));
	if (!g->f)
		return -ENOMEM;
	for (uint32_t i = 0; i < n; i++) {
		struct gen_field *f = &g->f[i];

		f->sym = sp_symtab_intern(st, def[i].name, strlen(def[i].name));
		if (f->sym == SP_SYM_NONE)
			return -ENOMEM;
		f->type = def[i].type;
		f->lo = def[i].lo;
		f->hi = def[i].hi;
		f->length = 8;
		g->nfields++;
	}
	g->f[3].values = (const char **)countries;
	g->f[3].nvalues = 10;
	g->f[5].values = (const char **)statuses;
	g->f[5].nvalues = 4;
	g->f[3].value_len = malloc(sizeof(country_len));
	g->f[5].value_len = malloc(sizeof(status_len));
	if (!g->f[3].value_len || !g->f[5].value_len)
		return -ENOMEM;
	memcpy(g->f[3].value_len, country_len, sizeof(country_len));
	memcpy(g->f[5].value_len, status_len, sizeof(status_len));
	return 0;
}

static int field_init(struct gen_field *f, const struct gen_field_config *c,
		      struct sp_symtab *st, char *err, size_t errlen)
{
	bool dflt = c->min == 0 && c->max == 0;

	f->type = (enum gen_type)c->type;
	if (!c->name[0]) {
		snprintf(err, errlen, "fields: a field has an empty name");
		return -EINVAL;
	}
	f->sym = sp_symtab_intern(st, c->name, strlen(c->name));
	if (f->sym == SP_SYM_NONE) {
		snprintf(err, errlen, "out of memory");
		return -ENOMEM;
	}
	if (c->min > c->max && !(f->type == GEN_SEQUENCE)) {
		snprintf(err, errlen, "fields: %s: min %g is above max %g",
			 c->name, c->min, c->max);
		return -EINVAL;
	}
	if (c->min < -9e15 || c->max > 9e15) {
		snprintf(err, errlen, "fields: %s: min and max must lie within "
			 "+-9e15", c->name);
		return -EINVAL;
	}
	f->lo = (int64_t)c->min;
	f->hi = (int64_t)c->max;
	f->length = (uint32_t)c->length;
	switch (f->type) {
	case GEN_INT:
		if (dflt)
			f->hi = 1000000;
		break;
	case GEN_DOUBLE:
		f->lo = dflt ? 0 : (int64_t)llround(c->min * 100.0);
		f->hi = dflt ? 100000000 : (int64_t)llround(c->max * 100.0);
		break;
	case GEN_TIMESTAMP:
		if (dflt) {
			f->lo = 1704067200;
			f->hi = 1735689599;
		}
		if (f->lo < 0 || f->hi > 253402300799) {
			snprintf(err, errlen, "fields: %s: timestamps lie "
				 "between 0 and 253402300799 (year 9999)",
				 c->name);
			return -EINVAL;
		}
		break;
	case GEN_TEXT:
		if (dflt) {
			f->lo = 80;
			f->hi = 200;
		}
		if (f->lo < 1 || f->hi > 65536) {
			snprintf(err, errlen, "fields: %s: text length lies "
				 "between 1 and 65536", c->name);
			return -EINVAL;
		}
		break;
	case GEN_ENUM:
		if (c->values.n == 0) {
			snprintf(err, errlen, "fields: %s: an enum field needs "
				 "values: [a, b, ...]", c->name);
			return -EINVAL;
		}
		f->values = (const char **)c->values.v;
		f->nvalues = c->values.n;
		f->value_len = calloc(c->values.n, sizeof(*f->value_len));
		if (!f->value_len) {
			snprintf(err, errlen, "out of memory");
			return -ENOMEM;
		}
		for (uint32_t i = 0; i < c->values.n; i++)
			f->value_len[i] = (uint32_t)strlen(c->values.v[i]);
		break;
	default:
		break;
	}
	if (f->type != GEN_ENUM && c->values.n) {
		snprintf(err, errlen, "fields: %s: values only apply to enum "
			 "fields", c->name);
		return -EINVAL;
	}
	return 0;
}

/* Whether field i names the same symbol as a field before it. */
static bool field_defined_before(const struct gen_field *f, uint32_t i)
{
	for (uint32_t j = 0; j < i; j++)
		if (f[j].sym == f[i].sym)
			return true;
	return false;
}

static int gen_create(const void *config, const struct sp_stage_ctx *ctx,
		      void **state, char *err, size_t errlen)
{
	const struct gen_config *cfg = config;
	const struct gen_field_config *fc = cfg->fields.items;
	struct gen *g = calloc(1, sizeof(*g));
	int rc;

	if (!g)
		goto nomem;
	g->seed = mix64((uint64_t)cfg->seed);
	g->records = cfg->records > 0 ? (uint64_t)cfg->records : 0;
	g->batch = cfg->batch_size > 0 ? (uint64_t)cfg->batch_size : 4096;
	if (cfg->fields.n == 0) {
		rc = set_defaults(g, ctx->symtab);
		if (rc)
			goto nomem;
		*state = g;
		return 0;
	}
	g->f = calloc(cfg->fields.n, sizeof(*g->f));
	if (!g->f)
		goto nomem;
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		g->nfields++;
		rc = field_init(&g->f[i], &fc[i], ctx->symtab, err, errlen);
		if (rc)
			goto fail;
		if (field_defined_before(g->f, i)) {
			snprintf(err, errlen, "fields: %s is defined twice",
				 fc[i].name);
			rc = -EINVAL;
			goto fail;
		}
	}
	*state = g;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	gen_close(g);
	return rc;
}

/* ---- chunks ----------------------------------------------------------- */

static int gen_next(void *state, struct sp_chunk *out, char *err,
		    size_t errlen)
{
	struct gen *g = state;
	uint64_t n;

	if (g->next >= g->records)
		return 0;
	n = g->records - g->next;
	if (n > g->batch)
		n = g->batch;
	memset(out, 0, sizeof(*out));
	out->first = g->next;
	out->count = n;
	out->source = "dev_data_generator";
	g->next += n;
	return 1;
}

/* ---- values ----------------------------------------------------------- */

/* days since 1970-01-01 -> civil date (H. Hinnant's algorithm) */
static void civil(int64_t z, int64_t *y, unsigned *m, unsigned *d)
{
	z += 719468;
	int64_t era = (z >= 0 ? z : z - 146096) / 146097;
	unsigned doe = (unsigned)(z - era * 146097);
	unsigned yoe = (doe - doe / 1460 + doe / 36524 - doe / 146096) / 365;
	unsigned doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
	unsigned mp = (5 * doy + 2) / 153;

	*d = doy - (153 * mp + 2) / 5 + 1;
	*m = mp < 10 ? mp + 3 : mp - 9;
	*y = (int64_t)yoe + era * 400 + (*m <= 2);
}

static inline char *put2(char *p, unsigned v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
	return p + 2;
}

/* "YYYY-MM-DDTHH:MM:SSZ" (20 bytes) */
static void format_ts(int64_t t, char *p)
{
	int64_t y;
	unsigned mo, d, s = (unsigned)(t % 86400);

	civil(t / 86400, &y, &mo, &d);
	p = put2(p, (unsigned)(y / 100));
	p = put2(p, (unsigned)(y % 100));
	*p++ = '-';
	p = put2(p, mo);
	*p++ = '-';
	p = put2(p, d);
	*p++ = 'T';
	p = put2(p, s / 3600);
	*p++ = ':';
	p = put2(p, s / 60 % 60);
	*p++ = ':';
	p = put2(p, s % 60);
	*p = 'Z';
}

/* Sentences of words with commas and quoted words, at most max bytes. */
static uint32_t make_text(char *out, uint32_t max, uint64_t u)
{
	uint32_t n = 0;
	bool cap = true;

	while (n < max) {
		uint64_t r = mix64(u += 0x9e3779b97f4a7c15ull);
		uint32_t w = (uint32_t)below(r, NWORDS);
		uint32_t wl = word_len[w];
		bool quoted = (r >> 32) % 11 == 0;
		bool comma = (r >> 40) % 7 == 0;
		bool stop = (r >> 48) % 13 == 0;
		uint32_t need = wl + 1 + 2 * quoted + comma + stop;

		if (n + need + 1 > max)
			break;
		if (n)
			out[n++] = ' ';
		if (quoted)
			out[n++] = '"';
		memcpy(out + n, words[w], wl);
		if (cap)
			out[n] = (char)(out[n] - 'a' + 'A');
		n += wl;
		if (quoted)
			out[n++] = '"';
		cap = false;
		if (stop) {
			out[n++] = '.';
			cap = true;
		} else if (comma) {
			out[n++] = ',';
		}
	}
	if (n == 0 && max)
		out[n++] = 'x';
	if (n && out[n - 1] == ',')
		out[n - 1] = '.';
	else if (n && out[n - 1] != '.' && n < max)
		out[n++] = '.';
	return n;
}

/* ["a","b",...]: lo..hi distinct tags, as raw JSON text in the arena */
static int make_tags(const struct gen_field *f, uint64_t u,
		     struct sp_arena *a, struct sp_value *v)
{
	uint32_t n = (uint32_t)(f->lo + (int64_t)below(
					    u, (uint64_t)(f->hi - f->lo) + 1));
	uint64_t r = mix64(u);
	uint32_t at = (uint32_t)below(r, NTAGS);
	uint32_t step = 1 + (uint32_t)below(mix64(r), NTAGS - 1);
	uint32_t len = 0;
	char *s = sp_arena_alloc(a, 2 + n * (TAG_MAX + 3));

	if (!s)
		return -ENOMEM;
	s[len++] = '[';
	for (uint32_t i = 0; i < n; i++) {
		if (i)
			s[len++] = ',';
		s[len++] = '"';
		memcpy(s + len, tags[at], tag_len[at]);
		len += tag_len[at];
		s[len++] = '"';
		at = (at + step) % NTAGS;
	}
	s[len++] = ']';
	*v = (struct sp_value){.type = SP_ARRAY, .len = len, .str = s};
	return 0;
}

static int gen_value(const struct gen_field *f, uint64_t r, uint64_t u,
		     struct sp_arena *a, struct sp_value *v)
{
	char *s;
	uint32_t len;

	switch (f->type) {
	case GEN_SEQUENCE:
		*v = sp_value_int(f->lo + (int64_t)r);
		return 0;
	case GEN_INT:
		*v = sp_value_int(f->lo + (int64_t)below(
						  u, (uint64_t)(f->hi - f->lo) + 1));
		return 0;
	case GEN_DOUBLE:
		*v = sp_value_double(
			(double)(f->lo + (int64_t)below(
						 u, (uint64_t)(f->hi - f->lo) + 1)) /
			100.0);
		return 0;
	case GEN_BOOL:
		*v = sp_value_bool(u >> 63);
		return 0;
	case GEN_ENUM: {
		uint32_t i = (uint32_t)below(u, f->nvalues);
		*v = sp_value_string(f->values[i], f->value_len[i]);
		return 0;
	}
	case GEN_STRING:
		s = sp_arena_alloc(a, f->length + 1);
		if (!s)
			return -ENOMEM;
		for (uint32_t i = 0; i < f->length; i++) {
			if (i % 12 == 0 && i)
				u = mix64(u);
			s[i] = (char)('a' + ((u >> (5 * (i % 12))) & 31) % 26);
		}
		*v = sp_value_string(s, f->length);
		return 0;
	case GEN_TIMESTAMP:
		s = sp_arena_alloc(a, 20);
		if (!s)
			return -ENOMEM;
		format_ts(f->lo + (int64_t)below(u, (uint64_t)(f->hi - f->lo) + 1),
			  s);
		*v = sp_value_string(s, 20);
		return 0;
	case GEN_TEXT:
		len = (uint32_t)(f->lo + (int64_t)below(
						 u, (uint64_t)(f->hi - f->lo) + 1));
		s = sp_arena_alloc(a, len);
		if (!s)
			return -ENOMEM;
		len = make_text(s, len, u);
		*v = sp_value_string(s, len);
		return 0;
	case GEN_TAGS:
		return make_tags(f, u, a, v);
	}
	return -EINVAL;
}

static int gen_parse(void *state, void *wstate, const struct sp_chunk *c,
		     struct sp_batch *b)
{
	const struct gen *g = state;

	for (uint64_t k = 0; k < c->count; k++) {
		uint64_t r = c->first + k;
		uint64_t base = mix64(g->seed ^ (r * 0xd1b54a32d192ed03ull));
		struct sp_record *rec = sp_batch_record_begin(b);

		if (!rec)
			return -ENOMEM;
		rec->flags = SP_RECORD_CHANGED;
		rec->line = r + 1;
		for (uint32_t i = 0; i < g->nfields; i++) {
			uint64_t u = mix64(base + (i + 1) *
						  0x9e3779b97f4a7c15ull);
			struct sp_field *f = sp_batch_field_add(b);

			if (!f)
				return -ENOMEM;
			f->sym = g->f[i].sym;
			f->reserved = 0;
			if (gen_value(&g->f[i], r, u, &b->arena, &f->v))
				return -ENOMEM;
		}
	}
	return 0;
}

const struct sp_stage_desc sp_stage_dev_data_generator = {
	.abi = SP_STAGE_ABI,
	.name = "dev_data_generator",
	.kind = SP_ORIGIN,
	.help = "generates synthetic records (deterministic for a seed)",
	.options = gen_options,
	.config_size = sizeof(struct gen_config),
	.create = gen_create,
	.create_checks = true,
	.next = gen_next,
	.parse = gen_parse,
	.close = gen_close,
};
