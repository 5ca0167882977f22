/*
 * file_writer's partitioned output (`partition_by: [/country, /day]`):
 * each record goes under a folder (a key prefix on S3) named from its
 * values, `country=DE/day=2026-01-01/`.  A worker computes each record's
 * folder, groups its batch by folder (input order kept inside a group)
 * and seals one block per group, so that a block - one zstd frame -
 * belongs to one folder; the writer thread keeps a file open per folder
 * (file_writer_thread.c).
 *
 * A value becomes one path component that cannot leave its folder or
 * collide with another value: bytes outside printable ASCII's safe set
 * ('/', '\\', '%', '=', control bytes, 0x7f, and " * : < > ? | # ' [ ]
 * { } ^ `) are written %XX, and so is a leading '.' ("..", ".hidden")
 * and the first '_' of a value starting "__"; UTF-8 beyond ASCII is kept.
 * Null or absent is `__null__`, the empty string `__empty__`.  A value
 * whose escaped form passes FW_PART_VALUE_MAX bytes is cut there (on a
 * whole escape) and ends with '~' and the XXH64 of the whole value.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "io/commit.h"
#include "stages/destinations/file_writer.h"

#define FW_PART_VALUE_MAX 120

int fw_part_setup(struct fw_state *fw, char *err, size_t errlen)
{
	const struct fw_config *cfg = fw->cfg;
	uint32_t n = cfg->partition_by.n;

	if (n == 0)
		return 0;
	fw->part_names = calloc(n, sizeof(*fw->part_names));
	if (!fw->part_names)
		return -ENOMEM;
	/* parsed when the options were bound */
	fw->part_paths = cfg->partition_by.v;
	for (uint32_t i = 0; i < n; i++) {
		const char *text = cfg->partition_by.v[i].text;

		fw->npart = i + 1;
		/* "/geo/country" names its folders geo.country=... */
		char *name = strdup(text + 1);
		if (!name)
			return -ENOMEM;
		for (char *p = name; *p; p++)
			if (*p == '/')
				*p = '.';
		fw->part_names[i] = name;
	}
	return 0;
}

void fw_part_fini(struct fw_state *fw)
{
	for (uint32_t i = 0; i < fw->npart; i++)
		free(fw->part_names ? fw->part_names[i] : NULL);
	free(fw->part_names);
	fw->part_paths = NULL;
	fw->part_names = NULL;
	fw->npart = 0;
}

static bool kept(unsigned char c)
{
	if (c >= 0x80) /* UTF-8 beyond ASCII */
		return true;
	if (c <= 0x20 || c == 0x7f)
		return c == ' ';
	return !strchr("/\\%=\"*:<>?|#'[]{}^`", c);
}

int fw_part_escape(const char *s, size_t n, struct sp_buf *out)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t start = out->len;
	int rc = 0;

	if (n == 0)
		return sp_buf_append(out, "__empty__", 9);
	for (size_t i = 0; i < n && !rc; i++) {
		unsigned char c = (unsigned char)s[i];
		bool esc = !kept(c) || (i == 0 && c == '.') ||
			   (i == 0 && c == '_' && n > 1 && s[1] == '_');
		if (out->len - start + 3 > FW_PART_VALUE_MAX) {
			char tail[24];
			snprintf(tail, sizeof(tail), "~%016llx",
				 (unsigned long long)sp_commit_xxh64(s, n));
			return sp_buf_append(out, tail, strlen(tail));
		}
		if (esc) {
			char e[3] = {'%', hex[c >> 4], hex[c & 15]};
			rc = sp_buf_append(out, e, 3);
		} else {
			rc = sp_buf_putc(out, (char)c);
		}
	}
	return rc;
}

/* Appends record rec's folder, "name=value/" per path, to out. */
static int part_key(const struct fw_state *fw, struct sp_batch *b,
		    uint32_t rec, struct sp_buf *out)
{
	for (uint32_t i = 0; i < fw->npart; i++) {
		const char *name = fw->part_names[i];
		struct sp_value v;
		const char *s;
		size_t len;
		int rc = sp_buf_append(out, name, strlen(name));

		if (!rc)
			rc = sp_buf_putc(out, '=');
		if (rc)
			return rc;
		if (sp_record_get_path(b, rec, &fw->part_paths[i], &v) ||
		    v.type == SP_NULL)
			rc = sp_buf_append(out, "__null__", 8);
		else if (!(rc = sp_value_text(&v, &b->arena, &s, &len)))
			rc = fw_part_escape(s, len, out);
		if (!rc)
			rc = sp_buf_putc(out, '/');
		if (rc)
			return rc;
	}
	return 0;
}

struct key_ref {
	uint32_t sel; /* the record */
	uint32_t off, len;
};

static int cmp_keys(const void *a, const void *b, void *ctx)
{
	const struct key_ref *x = a, *y = b;
	const char *k = ctx;
	size_t n = x->len < y->len ? x->len : y->len;
	int c = memcmp(k + x->off, k + y->off, n);

	if (c)
		return c;
	if (x->len != y->len)
		return x->len < y->len ? -1 : 1;
	/* equal folders keep their input order */
	return x->sel < y->sel ? -1 : x->sel > y->sel;
}

static int grow(struct fw_worker *w, uint32_t n)
{
	if (n <= w->part_cap)
		return 0;
	struct key_ref *r = realloc(w->part_refs, n * sizeof(*r));
	if (!r)
		return -ENOMEM;
	w->part_refs = r;
	uint32_t *s = realloc(w->part_sel, n * sizeof(*s));
	if (!s)
		return -ENOMEM;
	w->part_sel = s;
	w->part_cap = n;
	return 0;
}

int fw_part_batch(struct fw_state *fw, struct fw_worker *w,
		  struct sp_batch *b, const uint32_t *sel, uint32_t n)
{
	int rc = grow(w, n);

	if (rc)
		return rc;
	w->part_keys.len = 0;
	for (uint32_t i = 0; i < n; i++) {
		struct key_ref *r = &w->part_refs[i];
		r->sel = sel[i];
		r->off = (uint32_t)w->part_keys.len;
		if ((rc = part_key(fw, b, sel[i], &w->part_keys)))
			return rc;
		r->len = (uint32_t)(w->part_keys.len - r->off);
	}
	qsort_r(w->part_refs, n, sizeof(*w->part_refs), cmp_keys,
		w->part_keys.data);
	for (uint32_t i = 0; i < n;) {
		const struct key_ref *r = &w->part_refs[i];
		const char *key = w->part_keys.data + r->off;
		uint32_t k = 0;
		while (i + k < n && w->part_refs[i + k].len == r->len &&
		       !memcmp(key, w->part_keys.data + w->part_refs[i + k].off,
			       r->len)) {
			w->part_sel[k] = w->part_refs[i + k].sel;
			k++;
		}
		if ((rc = fw_worker_use_part(w, b->seq, key, r->len)) ||
		    (rc = fw_encode(fw, w, b, w->part_sel, k)))
			return rc;
		i += k;
	}
	return 0;
}
