/*
 * Diagnostics (problems with the file, line, stage and option they are
 * about, collected rather than stopping at the first) and suggestions
 * ("did you mean") for misspelt names.
 */
#include "config/config_internal.h"
#include "core/redact.h"

/* ---- diagnostics ------------------------------------------------------ */

void sp_diags_init(struct sp_diags *d, const char *file)
{
	memset(d, 0, sizeof(*d));
	d->file = file;
}

void sp_diags_fini(struct sp_diags *d)
{
	for (uint32_t i = 0; i < d->n; i++) {
		free(d->v[i].stage);
		free(d->v[i].option);
		free(d->v[i].message);
	}
	free(d->v);
	d->v = NULL;
	d->n = d->cap = 0;
}

void sp_diags_add(struct sp_diags *d, uint32_t line, const char *stage,
		  const char *option, const char *fmt, ...)
{
	struct sp_diag *g;
	va_list ap;
	char *msg = NULL;
	int r;

	if (!d)
		return;
	if (d->n == d->cap) {
		uint32_t cap = d->cap ? d->cap * 2 : 8;
		struct sp_diag *v = realloc(d->v, cap * sizeof(*v));

		if (!v)
			return; /* out of memory: the problem count is kept
				 * by the callers, the text is lost */
		d->v = v;
		d->cap = cap;
	}
	va_start(ap, fmt);
	r = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (r < 0 || !(msg = malloc((size_t)r + 1)))
		return;
	va_start(ap, fmt);
	vsnprintf(msg, (size_t)r + 1, fmt, ap);
	va_end(ap);
	sp_redact(msg);
	g = &d->v[d->n++];
	g->line = line;
	g->stage = stage ? strdup(stage) : NULL;
	g->option = option ? strdup(option) : NULL;
	g->message = msg;
}

void cfg_buf_printf(struct sp_buf *out, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

void cfg_buf_printf(struct sp_buf *out, const char *fmt, ...)
{
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(NULL, 0, fmt, ap);
	va_end(ap);
	if (n < 0 || sp_buf_reserve(out, (size_t)n + 1))
		return;
	va_start(ap, fmt);
	vsnprintf(out->data + out->len, (size_t)n + 1, fmt, ap);
	va_end(ap);
	out->len += (size_t)n;
}

void sp_diag_format(const struct sp_diags *d, uint32_t i, struct sp_buf *out)
{
	const struct sp_diag *g;

	if (!d || i >= d->n)
		return;
	g = &d->v[i];
	if (d->file && g->line)
		cfg_buf_printf(out, "%s:%u: ", d->file, g->line);
	else if (d->file)
		cfg_buf_printf(out, "%s: ", d->file);
	else if (g->line)
		cfg_buf_printf(out, "line %u: ", g->line);
	if (g->stage)
		cfg_buf_printf(out, "stage '%s': ", g->stage);
	if (g->option)
		cfg_buf_printf(out, "option '%s': ", g->option);
	cfg_buf_printf(out, "%s", g->message ? g->message : "out of memory");
}

/* ---- suggestions ------------------------------------------------------ */

/* Optimal string alignment distance (adjacent transpositions count 1),
 * capped: returns cap + 1 as soon as the distance must exceed cap. */
static unsigned edit_distance(const char *a, const char *b, unsigned cap)
{
	size_t la = strlen(a), lb = strlen(b);
	unsigned rows[3][65];

	if (la > 64 || lb > 64)
		return cap + 1;
	if ((la > lb ? la - lb : lb - la) > cap)
		return cap + 1;
	for (size_t j = 0; j <= lb; j++)
		rows[0][j] = (unsigned)j;
	for (size_t i = 1; i <= la; i++) {
		unsigned *cur = rows[i % 3], *prev = rows[(i - 1) % 3];
		unsigned *prev2 = rows[(i + 1) % 3]; /* row i - 2 */
		unsigned best;

		cur[0] = (unsigned)i;
		best = cur[0];
		for (size_t j = 1; j <= lb; j++) {
			unsigned cost = a[i - 1] == b[j - 1] ? 0 : 1;
			unsigned v = prev[j] + 1;

			if (cur[j - 1] + 1 < v)
				v = cur[j - 1] + 1;
			if (prev[j - 1] + cost < v)
				v = prev[j - 1] + cost;
			if (i > 1 && j > 1 && a[i - 1] == b[j - 2] &&
			    a[i - 2] == b[j - 1] && prev2[j - 2] + 1 < v)
				v = prev2[j - 2] + 1;
			cur[j] = v;
			if (v < best)
				best = v;
		}
		if (best > cap)
			return cap + 1;
	}
	return rows[la % 3][lb];
}

/* The largest distance that still makes a useful suggestion for word. */
static unsigned suggest_cap(const char *word)
{
	return strlen(word) <= 2 ? 1 : 2;
}

const char *sp_suggest(const char *word, const char *const *names, size_t n)
{
	const char *best = NULL;
	unsigned cap, bestd;

	if (!word || !*word)
		return NULL;
	cap = suggest_cap(word);
	bestd = cap + 1;
	for (size_t i = 0; i < n; i++) {
		unsigned dist;

		if (!names[i] || strcmp(names[i], word) == 0)
			continue;
		dist = edit_distance(word, names[i], cap);
		if (dist < bestd && dist < strlen(names[i])) {
			bestd = dist;
			best = names[i];
		}
	}
	return best;
}

const char *sp_options_suggest(const struct sp_option *table, const char *word)
{
	const char *names[256];
	size_t n = 0;

	for (; table && table->name && n < 256; table++)
		names[n++] = table->name;
	return sp_suggest(word, names, n);
}
