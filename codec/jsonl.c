/*
 * JSON-lines codec.  The parser turns each line of an input chunk into one
 * record without copying: string values point between their quotes (escapes
 * kept), numbers keep their digits, nested objects and arrays their raw
 * text.  Every line is still checked in full (syntax, UTF-8, control bytes,
 * nesting), and a bad line becomes a record error naming the line, byte
 * offset and column, never a crash or a silent drop.
 *
 * Speed comes from doing little per byte: memchr finds line ends, the
 * string scanner in record/json.c skips 16 plain bytes at a time, and field
 * names are matched against the previous record's names in the same
 * position (JSON lines nearly always repeat their keys in order) by
 * comparing the quoted key bytes, so the common record hashes nothing.
 *
 * A key that appears twice at the top of a line keeps its first position
 * and takes its last value, as Python's json and most readers do: the
 * record has one field per name, so predicates, setters and encoders all
 * see the last value, and the line is re-encoded with one key.  Records
 * whose keys all matched the predicted ones are checked against a cached
 * verdict on the predicted names, so the common record compares nothing.
 *
 * The encoder copies the raw line of an unchanged record and rebuilds a
 * changed one from its fields, writing each value's source text as it was.
 */
#define _GNU_SOURCE /* memrchr */
#include "codec/jsonl.h"

#include <errno.h>
#include <stdbool.h>
#include <string.h>
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include "record/json.h"
#include "record/symtab_internal.h"

#define likely(x) __builtin_expect(!!(x), 1)
#define unlikely(x) __builtin_expect(!!(x), 0)

#define NPRED                                                                  \
	(sizeof(((struct sp_jsonl_parser *)0)->predicted) / sizeof(uint32_t))

void sp_jsonl_parser_init(struct sp_jsonl_parser *p, struct sp_symtab *st)
{
	sp_symcache_init(&p->cache, st);
	memset(p->predicted, 0, sizeof(p->predicted));
	p->uniq = 0;
}

/* The predicted key of each position as its quoted JSON text ("name"),
 * and, when "name": fits in 16 bytes, that text as two masked words
 * compared without a memcmp call (keys are short, the call is not). */
struct pred_key {
	const char *text;
	uint32_t len;  /* 0: no prediction */
	uint32_t wlen; /* length of "name": in w, 0 when longer than 16 */
	uint64_t w[2], m[2];
};

/* True when p (with 16 readable bytes) starts with k's "name": */
static inline bool pred_words_match(const struct pred_key *k, const char *p)
{
	uint64_t a[2];

	memcpy(a, p, 16);
	return ((a[0] & k->m[0]) == k->w[0]) & ((a[1] & k->m[1]) == k->w[1]);
}

static inline bool is_ws(unsigned char c)
{
	return c == ' ' || c == '\t' || c == '\r' || c == '\n';
}

static inline const char *skip_ws(const char *p, const char *end)
{
	while (p < end && unlikely(is_ws((unsigned char)*p)))
		p++;
	return p;
}

static void predict(struct sp_jsonl_parser *ps, struct pred_key *pk, uint32_t k,
		    uint32_t sym)
{
	uint32_t len;

	ps->predicted[k] = sym;
	pk[k].text = sp_symtab_json_key(ps->cache.st, sym, &len);
	pk[k].len = len - 1; /* without the colon */
	pk[k].wlen = 0;
	if (len <= 16) {
		unsigned char bytes[16] = {0}, mask[16] = {0};

		memcpy(bytes, pk[k].text, len);
		memset(mask, 0xff, len);
		memcpy(pk[k].w, bytes, 16);
		memcpy(pk[k].m, mask, 16);
		pk[k].wlen = len;
	}
}

/* Interns the key whose opening quote is at *pp; *pp ends past its
 * closing quote.  SP_SYM_NONE with *why set (and *pp on the error) when
 * the key is malformed or cannot be interned. */
static uint32_t key_slow(struct sp_jsonl_parser *ps, const char **pp,
			 const char *end, struct sp_batch *b, const char **why,
			 int *nomem)
{
	const char *ks = *pp + 1, *q = ks;
	uint8_t fl = 0;
	uint32_t sym;

	if (sp_json_scan_string(&q, end, &fl, why)) {
		*pp = q;
		return SP_SYM_NONE;
	}
	size_t len = (size_t)(q - ks);
	if (fl & SP_VALUE_ESCAPED) {
		char *tmp = sp_arena_alloc(&b->arena, len + 1);
		if (!tmp) {
			*nomem = 1;
			return SP_SYM_NONE;
		}
		ssize_t n = sp_json_unescape(ks, len, tmp);
		if (n < 0) { /* the scanner accepted it; cannot happen */
			*why = "invalid escape in string";
			*pp = ks;
			return SP_SYM_NONE;
		}
		sym = sp_symcache_intern(&ps->cache, tmp, (size_t)n);
	} else {
		sym = sp_symcache_intern(&ps->cache, ks, len);
	}
	if (sym == SP_SYM_NONE) {
		*why = "field name cannot be added (too many distinct names "
		       "or out of memory)";
		return SP_SYM_NONE;
	}
	*pp = q + 1;
	return sym;
}

/*
 * Parses line[0..end) (no newline, trailing '\r' already cut) into a new
 * record.  1 when a record was added, 0 for a blank line or a bad one
 * (recorded in b->errors), -ENOMEM.
 */
/* Whether predicted[0..n) names no field twice (n <= NPRED), from the
 * verdict cached in ps->uniq (the longest prefix known free of repeats). */
static bool predicted_unique(struct sp_jsonl_parser *ps, uint32_t n)
{
	while (ps->uniq < n) {
		uint32_t i = ps->uniq;

		for (uint32_t j = 0; j < i; j++)
			if (ps->predicted[j] == ps->predicted[i])
				return false;
		ps->uniq++;
	}
	return true;
}

/* Record rec (the last of b) with its repeated names folded: the first
 * position keeps the last value.  Marks it changed when any was. */
static void fold_repeats(struct sp_batch *b, struct sp_record *r)
{
	struct sp_field *f = &b->fields[r->first];
	uint32_t n = r->nfields, out = 0;

	for (uint32_t i = 0; i < n; i++) {
		uint32_t k;

		for (k = 0; k < out && f[k].sym != f[i].sym; k++)
			;
		if (k < out)
			f[k].v = f[i].v; /* a repeat: its value wins */
		else
			f[out++] = f[i];
	}
	if (out == n)
		return;
	b->nfields -= n - out;
	r->nfields = out;
	r->flags |= SP_RECORD_CHANGED;
}

static int parse_line(struct sp_jsonl_parser *ps, struct pred_key *pk,
		      const char *line, const char *end, uint64_t lineno,
		      uint64_t offset, struct sp_batch *b)
{
	const char *p = skip_ws(line, end), *why;
	int nomem = 0;
	uint32_t k = 0;
	bool slow = false; /* a key was not the predicted one */

	if (p == end)
		return 0; /* blank line */
	if (unlikely((size_t)(end - line) > UINT32_MAX)) {
		why = "line longer than 4 GiB";
		goto error;
	}
	if (unlikely(*p != '{')) {
		why = "top-level value is not an object";
		goto error;
	}
	struct sp_record *r = sp_batch_record_begin(b);
	if (!r)
		return -ENOMEM;
	p = skip_ws(p + 1, end);
	if (p < end && *p == '}')
		goto close;
	for (;;) {
		uint32_t sym;

		if (unlikely(p == end || *p != '"')) {
			why = k ? "expected object key after ','"
				: "expected object key or '}'";
			goto abort;
		}
		if (likely(k < NPRED && pk[k].wlen && end - p >= 16 &&
			   pred_words_match(&pk[k], p))) {
			/* "name": as predicted, the colon included */
			sym = ps->predicted[k];
			p = skip_ws(p + pk[k].wlen, end);
			goto value;
		}
		if (likely(k < NPRED && pk[k].len &&
			   (size_t)(end - p) >= pk[k].len &&
			   memcmp(p, pk[k].text, pk[k].len) == 0)) {
			sym = ps->predicted[k];
			p += pk[k].len;
		} else {
			sym = key_slow(ps, &p, end, b, &why, &nomem);
			if (sym == SP_SYM_NONE) {
				if (nomem)
					goto nomem;
				goto abort;
			}
			slow = true;
			if (k < NPRED) {
				predict(ps, pk, k, sym);
				if (ps->uniq > k)
					ps->uniq = k;
			}
		}
		p = skip_ws(p, end);
		if (unlikely(p == end || *p != ':')) {
			why = "expected ':' after object key";
			goto abort;
		}
		p = skip_ws(p + 1, end);
	value:;
		struct sp_field *f = sp_batch_field_push(b);
		if (!f)
			goto nomem;
		f->sym = sym;
		f->reserved = 0;
		const char *num_end;
		bool dbl;
		if (likely(p < end && *p == '"')) {
			const char *q = p + 1;
			uint8_t fl = 0;
			if (sp_json_scan_string(&q, end, &fl, &why)) {
				p = q;
				goto abort;
			}
			f->v.type = SP_STRING;
			f->v.flags = fl & SP_VALUE_ESCAPED
					 ? fl
					 : fl | SP_VALUE_JSON_SAFE;
			f->v.reserved = 0;
			f->v.len = (uint32_t)(q - p - 1);
			f->v.str = p + 1;
			p = q + 1;
		} else if (p < end && (*p == '-' || (*p >= '0' && *p <= '9')) &&
			   (num_end = sp_json_scan_number(p, end, &dbl))) {
			/* the full scanner's number, without its call */
			f->v = sp_json_number(p, num_end, dbl);
			p = num_end;
		} else if (sp_json_scan_value_at(&p, end, 1, &f->v, &why)) {
			goto abort;
		}
		p = skip_ws(p, end);
		if (likely(p < end && *p == ',')) {
			p = skip_ws(p + 1, end);
			k++;
			continue;
		}
		if (likely(p < end && *p == '}'))
			break;
		why = "expected ',' or '}' after object member";
		goto abort;
	}
close:
	p = skip_ws(p + 1, end);
	if (unlikely(p != end)) {
		why = "unexpected data after the object";
		goto abort;
	}
	r = &b->recs[b->nrecs - 1];
	if (unlikely(slow || !predicted_unique(ps, r->nfields)))
		fold_repeats(b, r);
	r->raw = line;
	r->raw_len = (uint32_t)(end - line);
	r->line = lineno;
	return 1;

abort:
	sp_batch_record_abort(b);
error:;
	size_t len = (size_t)(end - line);
	if (sp_batch_error_add(b, SP_NO_RECORD, lineno, offset, line,
			       len > UINT32_MAX ? UINT32_MAX : (uint32_t)len,
			       "%s at column %zu", why, (size_t)(p - line) + 1))
		return -ENOMEM;
	return 0;
nomem:
	sp_batch_record_abort(b);
	return -ENOMEM;
}

int sp_jsonl_parse(struct sp_jsonl_parser *ps, const char *buf, size_t len,
		   uint64_t first_line, uint64_t base_offset,
		   struct sp_batch *b)
{
	if (len == 0) /* buf may be NULL */
		return 0;
	const char *pos = buf, *end = buf + len;
	struct pred_key pk[NPRED];

	/* a UTF-8 byte order mark at the start of an input is not data */
	if (base_offset == 0 && len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		pos += 3;
	uint64_t lineno = first_line;
	int added = 0;

	for (uint32_t k = 0; k < NPRED; k++) {
		if (ps->predicted[k] != SP_SYM_NONE) {
			predict(ps, pk, k, ps->predicted[k]);
		} else {
			pk[k].text = NULL;
			pk[k].len = 0;
			pk[k].wlen = 0;
		}
	}
	while (pos < end) {
		const char *nl = memchr(pos, '\n', (size_t)(end - pos));
		const char *le = nl ? nl : end;
		const char *next = nl ? nl + 1 : end;

		if (le > pos && le[-1] == '\r')
			le--;
		int rc = parse_line(ps, pk, pos, le, lineno,
				    base_offset + (uint64_t)(pos - buf), b);
		if (rc < 0)
			return rc;
		added += rc;
		lineno++;
		pos = next;
	}
	return added;
}

size_t sp_count_lines(const char *p, size_t n)
{
	size_t lines = 0, i = 0;
#if defined(__SSE2__)
	/* per-byte counters (cmpeq gives -1 per match), summed with SAD
	 * before they can wrap */
	const __m128i nl = _mm_set1_epi8('\n');

	while (i + 16 <= n) {
		__m128i acc = _mm_setzero_si128();
		for (int k = 0; k < 255 && i + 16 <= n; k++, i += 16) {
			__m128i x = _mm_loadu_si128((const __m128i *)(p + i));
			acc = _mm_sub_epi8(acc, _mm_cmpeq_epi8(x, nl));
		}
		__m128i sum = _mm_sad_epu8(acc, _mm_setzero_si128());
		lines += (size_t)_mm_cvtsi128_si32(sum) +
			 (size_t)_mm_extract_epi16(sum, 4);
	}
#endif
	for (; i < n; i++)
		lines += p[i] == '\n';
	return lines;
}

size_t sp_jsonl_split(const char *buf, size_t len)
{
	const char *nl = len ? memrchr(buf, '\n', len) : NULL;

	return nl ? (size_t)(nl - buf) + 1 : 0;
}

/* room for a value's text when it is copied from source (or small) */
static inline size_t value_room(const struct sp_value *v)
{
	switch (v->type) {
	case SP_STRING:
		return (size_t)v->len + 2;
	case SP_OBJECT:
	case SP_ARRAY:
		return (size_t)v->len + 2;
	case SP_INT:
	case SP_DOUBLE:
		return v->flags & SP_VALUE_TEXT ? v->len : 32;
	default:
		return 5;
	}
}

int sp_jsonl_encode_record(const struct sp_batch *b, uint32_t rec,
			   struct sp_buf *out)
{
	const struct sp_record *r = &b->recs[rec];
	const struct sp_field *f = &b->fields[r->first];

	if (!(r->flags & SP_RECORD_CHANGED))
		return sp_buf_append(out, r->raw, r->raw_len) ? -ENOMEM : 0;
	/* one growth per record in the common case: about the input size */
	if (sp_buf_reserve(out, (size_t)r->raw_len + 16 * r->nfields + 2))
		return -ENOMEM;
	/*
	 * The write position and the end of the room are locals: stores
	 * through a char pointer may alias anything, so out's fields (and
	 * the symbol table's) would be loaded again after each field's
	 * copies.  The first page of the symbol table (the first 1024
	 * names: a record's, nearly always) is looked up once; it is NULL
	 * only while the table is empty, when no field can name it.
	 */
	char *o = out->data + out->len, *lim = out->data + out->cap;
	const struct sym_entry *page0 = sp_symtab_page(b->symtab, 0);
	*o++ = '{';
	for (uint32_t i = 0; i < r->nfields; i++) {
		const struct sp_value *v = &f[i].v;
		const uint32_t sym = f[i].sym;

		if (sym == SP_SYM_NONE)
			continue;
		const struct sym_entry *e =
		    sym < SYMTAB_PAGE_SIZE ? &page0[sym]
					   : sp_symtab_entry(b->symtab, sym);
		const uint32_t klen = e->json_key_len;
		size_t need = klen + value_room(v) + 2;
		if ((size_t)(lim - o) < need) {
			out->len = (size_t)(o - out->data);
			if (sp_buf_reserve(out, need))
				return -ENOMEM;
			o = out->data + out->len;
			lim = out->data + out->cap;
		}
		sp_copy_short(o, e->json_key, klen);
		o += klen;
		if (v->type == SP_STRING &&
		    (v->flags & (SP_VALUE_ESCAPED | SP_VALUE_JSON_SAFE))) {
			*o++ = '"';
			sp_copy_short(o, v->str, v->len);
			o += v->len;
			*o++ = '"';
		} else if ((v->flags & SP_VALUE_TEXT &&
			    (v->type == SP_INT || v->type == SP_DOUBLE)) ||
			   ((v->type == SP_OBJECT || v->type == SP_ARRAY) &&
			    v->len)) {
			sp_copy_short(o, v->str, v->len);
			o += v->len;
		} else {
			out->len = (size_t)(o - out->data);
			if (sp_json_append_value(out, v) ||
			    sp_buf_reserve(out, 2))
				return -ENOMEM;
			o = out->data + out->len;
			lim = out->data + out->cap;
		}
		*o++ = ',';
	}
	/* the last comma becomes the closing brace; none: after '{' */
	if (o[-1] == ',')
		o[-1] = '}';
	else
		*o++ = '}';
	out->len = (size_t)(o - out->data);
	return 0;
}

int sp_jsonl_encode_run(const struct sp_batch *b, const uint32_t *sel,
			uint32_t n, uint32_t max, struct sp_buf *out,
			uint32_t *done)
{
	const struct sp_record *r = &b->recs[sel[0]];

	*done = 1;
	if (r->flags & SP_RECORD_CHANGED)
		return sp_jsonl_encode_record(b, sel[0], out) ||
			       sp_buf_putc(out, '\n')
			   ? -ENOMEM
			   : 0;
	/* a passthrough copies whole chunks instead of a line at a time;
	 * the byte between two such records is their input's '\n' */
	const char *start = r->raw, *end = r->raw + r->raw_len;
	uint32_t k = 1;
	for (; k < n && k < max; k++) {
		const struct sp_record *next = &b->recs[sel[k]];
		if ((next->flags & SP_RECORD_CHANGED) || next->raw != end + 1 ||
		    *end != '\n')
			break;
		end = next->raw + next->raw_len;
	}
	size_t len = (size_t)(end - start);
	if (sp_buf_reserve(out, len + 1))
		return -ENOMEM;
	memcpy(out->data + out->len, start, len);
	out->len += len;
	out->data[out->len++] = '\n';
	*done = k;
	return 0;
}

int sp_jsonl_encode(const struct sp_batch *b, const uint32_t *sel, uint32_t n,
		    struct sp_buf *out)
{
	uint32_t all[64];

	for (uint32_t k = 0; k < n;) {
		uint32_t done, m = n - k;
		const uint32_t *s = sel ? sel + k : all;

		if (!sel) { /* every record: the selection is k, k+1, ... */
			m = m < 64 ? m : 64;
			for (uint32_t i = 0; i < m; i++)
				all[i] = k + i;
		}
		if (sp_jsonl_encode_run(b, s, m, m, out, &done))
			return -ENOMEM;
		k += done;
	}
	return 0;
}
