/*
 * field_type_converter: converts top-level fields to int, double, bool or
 * string ({/age: int, /price: double}).  A conversion never loses
 * information silently: "abc" -> int, 1.5 -> int, 1e30 -> int or 7 ->
 * bool are record errors naming the field, the value and the target type.
 * null stays null.  All conversions of a record are computed before any is
 * written, so a rejected record goes on unchanged.
 */
#include <errno.h>
#include <math.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "core/utf8.h"
#include "stage_api/stage.h"
#include "core/number.h"

enum conv_target {
	CONV_INT = 0,
	CONV_DOUBLE,
	CONV_BOOL,
	CONV_STRING,
};

static const char *const target_names[] = {"int", "double", "bool",
					   "string"};

struct converter_config {
	struct sp_boundmap fields; /* paths parsed at binding */
};

struct conv_field {
	uint32_t sym;
	enum conv_target to;
	const char *path; /* the config's */
};

struct converter {
	uint32_t n;
	struct conv_field *f;
};

struct conv_worker {
	struct sp_value *vals;
	int32_t *idx; /* field index in the record, -1 when absent */
};

static const struct sp_option converter_options[] = {
	{.name = "fields",
	 .type = SP_OPT_PATH_MAP,
	 .required = true,
	 .offset = offsetof(struct converter_config, fields),
	 .help = "map of top-level path to int, double, bool or string, "
		 "e.g. {/age: int, /price: double}"},
	{0},
};

static void converter_close(void *state)
{
	struct converter *c = state;

	if (!c)
		return;
	free(c->f);
	free(c);
}

static int converter_create(const void *config,
			    const struct sp_stage_ctx *ctx, void **state,
			    char *err, size_t errlen)
{
	const struct converter_config *cfg = config;
	struct converter *c = calloc(1, sizeof(*c));
	int rc = -EINVAL;

	if (!c)
		goto nomem;
	c->f = calloc(cfg->fields.n ? cfg->fields.n : 1, sizeof(*c->f));
	if (!c->f)
		goto nomem;
	for (uint32_t i = 0; i < cfg->fields.n; i++) {
		const char *path = cfg->fields.keys[i];
		const char *type = cfg->fields.values[i];
		const struct sp_path *p = &cfg->fields.key_paths[i];
		struct conv_field *f = &c->f[c->n];
		unsigned t;

		f->sym = p->sym;
		rc = -EINVAL;
		if (p->sym == SP_SYM_NONE) {
			snprintf(err, errlen, "fields: '/' is the whole "
				 "record; name a field to convert");
			goto fail;
		}
		if (p->depth) {
			snprintf(err, errlen, "fields: '%s': nested paths are "
				 "not supported by field_type_converter yet",
				 path);
			goto fail;
		}
		for (t = 0; t < 4; t++)
			if (strcmp(type, target_names[t]) == 0)
				break;
		if (t == 4) {
			snprintf(err, errlen, "fields: %s: unknown type '%s' "
				 "(int, double, bool or string)", path, type);
			rc = -EINVAL;
			goto fail;
		}
		for (uint32_t j = 0; j < c->n; j++) {
			if (c->f[j].sym == f->sym) {
				snprintf(err, errlen, "fields: %s is listed "
					 "twice", path);
				rc = -EINVAL;
				goto fail;
			}
		}
		f->to = (enum conv_target)t;
		f->path = path;
		c->n++;
	}
	*state = c;
	return 0;
nomem:
	snprintf(err, errlen, "out of memory");
	rc = -ENOMEM;
fail:
	converter_close(c);
	return rc;
}

static void *converter_worker_create(void *state, unsigned worker)
{
	const struct converter *c = state;
	struct conv_worker *w = calloc(1, sizeof(*w));
	uint32_t n = c->n ? c->n : 1;

	if (!w)
		return NULL;
	w->vals = calloc(n, sizeof(*w->vals));
	w->idx = calloc(n, sizeof(*w->idx));
	if (!w->vals || !w->idx) {
		free(w->vals);
		free(w->idx);
		free(w);
		return NULL;
	}
	return w;
}

static void converter_worker_destroy(void *state, void *wstate)
{
	struct conv_worker *w = wstate;

	if (!w)
		return;
	free(w->vals);
	free(w->idx);
	free(w);
}

/* -?(0|[1-9][0-9]*)\.[0-9]+ (a fraction, no exponent, short enough to be
 * finite): valid JSON number text of a double, exact as written. */
static bool json_decimal(const char *s, size_t len)
{
	size_t k = 0, int_digits = 0, frac_digits = 0;

	if (len > 300)
		return false;
	if (k < len && s[k] == '-')
		k++;
	if (k < len && s[k] == '0')
		k++, int_digits = 1;
	else
		for (; k < len && s[k] >= '0' && s[k] <= '9'; k++)
			int_digits++;
	if (!int_digits || k == len || s[k] != '.')
		return false;
	for (k++; k < len && s[k] >= '0' && s[k] <= '9'; k++)
		frac_digits++;
	return frac_digits && k == len;
}

/* Text that reads as a number: a whole number as int64 (-ERANGE when it
 * does not fit), anything else as a finite double. */
static int parse_number(const char *s, size_t len, bool *is_int,
			int64_t *i, double *d)
{
	bool whole;

	if (!sp_number_syntax(s, len, &whole))
		return -EINVAL;
	if (whole) {
		int rc = sp_number_to_int64(s, len, i);
		if (rc == 0)
			*is_int = true;
		return rc;
	}
	if (sp_number_to_double(s, len, d))
		return -EINVAL;
	*is_int = false;
	return 0;
}

/* parse_number for a converter: rc is what reading the string gave (an
 * escaped string that does not unescape is "not a number" too); the
 * reason for a number out of the target's range is the caller's. */
static int text_number(int rc, const char *s, size_t len, bool *is_int,
		       int64_t *i, double *d, const char *range_why,
		       const char **why)
{
	if (!rc)
		rc = parse_number(s, len, is_int, i, d);
	if (rc == -ERANGE) {
		*why = range_why;
		return rc;
	}
	if (rc) {
		*why = "not a number";
		return -EINVAL;
	}
	return 0;
}

/* 2^63 as a double: int64 holds [-2^63, 2^63) */
#define TWO63 9223372036854775808.0

static int double_to_int(double d, int64_t *out, const char **why)
{
	if (d != d || !isfinite(d) || d >= TWO63 || d < -TWO63) {
		*why = "out of range for int";
		return -ERANGE;
	}
	if (floor(d) != d) {
		*why = "not a whole number";
		return -EINVAL;
	}
	*out = (int64_t)d;
	return 0;
}

/* Every converter below: 0 with *out set, -ENOMEM, or -EINVAL/-ERANGE
 * with *why.  Each handles its own type first, then the others. */
static int not_scalar(const char **why)
{
	*why = "not a scalar";
	return -EINVAL;
}

/* An int as an exact double, or -ERANGE. */
static int int_to_double(const struct sp_value *v, struct sp_value *out,
			 const char **why)
{
	int64_t i;
	double d;

	if (sp_value_to_int(v, &i)) {
		/* digits beyond int64: as a double if finite */
		if (sp_value_to_double(v, &d) || !isfinite(d)) {
			*why = "not a number";
			return -EINVAL;
		}
		*why = "too large to be exact as a double";
		return -ERANGE;
	}
	d = (double)i;
	if (d >= TWO63 || (int64_t)d != i) {
		*why = "too large to be exact as a double";
		return -ERANGE;
	}
	*out = sp_value_double(d);
	return 0;
}

/* A string as an int, or as a double when to_double: the text must read
 * as a number that fits the target exactly. */
static int string_to_number(const struct sp_value *v, struct sp_arena *a,
			    bool to_double, struct sp_value *out,
			    const char **why)
{
	const char *s;
	size_t len;
	bool is_int;
	int64_t i;
	double d;
	int rc = sp_value_string_bytes(v, a, &s, &len);

	if (rc == -ENOMEM)
		return rc;
	if (to_double && !rc && json_decimal(s, len)) {
		/* already a JSON number as written: keep the text, so 12.50
		 * stays 12.50 (and no strtod/printf) */
		*out = (struct sp_value){.type = SP_DOUBLE,
					 .flags = SP_VALUE_TEXT,
					 .len = (uint32_t)len,
					 .str = s};
		return 0;
	}
	rc = text_number(rc, s, len, &is_int, &i, &d,
			 to_double ? "too large to be exact as a double"
				   : "out of range for int",
			 why);
	if (rc)
		return rc;
	if (to_double && is_int) {
		struct sp_value iv = sp_value_int(i);
		return int_to_double(&iv, out, why);
	}
	if (to_double) {
		*out = sp_value_double(d);
		return 0;
	}
	if (!is_int && (rc = double_to_int(d, &i, why)))
		return rc;
	*out = sp_value_int(i);
	return 0;
}

static int to_int(const struct sp_value *v, struct sp_arena *a,
		  struct sp_value *out, const char **why)
{
	double d;
	int64_t i;
	int rc;

	switch (v->type) {
	case SP_INT:
		rc = sp_value_to_int(v, &i);
		if (rc) {
			*why = "out of range for int";
			return rc;
		}
		*out = sp_value_int(i);
		return 0;
	case SP_DOUBLE:
		if (sp_value_to_double(v, &d)) {
			*why = "not a number";
			return -EINVAL;
		}
		rc = double_to_int(d, &i, why);
		if (!rc)
			*out = sp_value_int(i);
		return rc;
	case SP_BOOL:
		*out = sp_value_int(v->b);
		return 0;
	case SP_STRING:
		return string_to_number(v, a, false, out, why);
	default:
		return not_scalar(why);
	}
}

static int to_double(const struct sp_value *v, struct sp_arena *a,
		     struct sp_value *out, const char **why)
{
	double d;

	switch (v->type) {
	case SP_DOUBLE:
		if (sp_value_to_double(v, &d) || !isfinite(d)) {
			*why = "not a finite number";
			return -EINVAL;
		}
		*out = sp_value_double(d);
		return 0;
	case SP_INT:
		return int_to_double(v, out, why);
	case SP_BOOL:
		*out = sp_value_double(v->b ? 1.0 : 0.0);
		return 0;
	case SP_STRING:
		return string_to_number(v, a, true, out, why);
	default:
		return not_scalar(why);
	}
}

static int to_bool(const struct sp_value *v, struct sp_arena *a,
		   struct sp_value *out, const char **why)
{
	double d;
	int64_t i;
	const char *s;
	size_t len;
	int rc;

	switch (v->type) {
	case SP_BOOL:
		*out = *v;
		return 0;
	case SP_INT:
		if (sp_value_to_int(v, &i) || (i != 0 && i != 1))
			break;
		*out = sp_value_bool(i == 1);
		return 0;
	case SP_DOUBLE:
		if (sp_value_to_double(v, &d) || (d != 0.0 && d != 1.0))
			break;
		*out = sp_value_bool(d == 1.0);
		return 0;
	case SP_STRING:
		rc = sp_value_string_bytes(v, a, &s, &len);
		if (rc == -ENOMEM)
			return rc;
		if (rc)
			break;
		if ((len == 4 && strncasecmp(s, "true", 4) == 0) ||
		    (len == 1 && s[0] == '1')) {
			*out = sp_value_bool(true);
			return 0;
		}
		if ((len == 5 && strncasecmp(s, "false", 5) == 0) ||
		    (len == 1 && s[0] == '0')) {
			*out = sp_value_bool(false);
			return 0;
		}
		break;
	default:
		return not_scalar(why);
	}
	*why = "only true/false/1/0 convert to bool";
	return -EINVAL;
}

static int to_string(const struct sp_value *v, struct sp_arena *a,
		     struct sp_value *out, const char **why)
{
	const char *s;
	size_t len;
	int rc;

	if (v->type == SP_STRING) {
		*out = *v;
		return 0;
	}
	rc = sp_value_text(v, a, &s, &len);
	if (rc)
		return rc;
	/* plain text: numbers as written, objects and arrays as their JSON
	 * text (escaped again by the encoders) */
	*out = sp_value_string(s, (uint32_t)len);
	return 0;
}

static int convert(const struct sp_value *v, enum conv_target to,
		   struct sp_arena *a, struct sp_value *out, const char **why)
{
	if (v->type == SP_NULL) {
		*out = *v;
		return 0;
	}
	switch (to) {
	case CONV_INT:
		return to_int(v, a, out, why);
	case CONV_DOUBLE:
		return to_double(v, a, out, why);
	case CONV_BOOL:
		return to_bool(v, a, out, why);
	case CONV_STRING:
		return to_string(v, a, out, why);
	}
	return -EINVAL;
}

static int converter_process(void *state, void *wstate, struct sp_batch *b,
			     const uint32_t *in, uint32_t n,
			     struct sp_selection *out)
{
	const struct converter *c = state;
	struct conv_worker *w = wstate;
	uint32_t nout = 0;

	for (uint32_t k = 0; k < n; k++) {
		struct sp_record *r = &b->recs[in[k]];
		struct sp_field *f = &b->fields[r->first];
		const char *why = NULL;
		uint32_t i;
		int rc = 0;

		for (i = 0; i < c->n; i++) {
			w->idx[i] = -1;
			for (uint32_t j = 0; j < r->nfields; j++) {
				if (f[j].sym == c->f[i].sym) {
					w->idx[i] = (int32_t)j;
					break;
				}
			}
			if (w->idx[i] < 0)
				continue;
			rc = convert(&f[w->idx[i]].v, c->f[i].to, &b->arena,
				     &w->vals[i], &why);
			if (rc == -ENOMEM)
				return rc;
			if (rc)
				break;
		}
		if (i < c->n) {
			const char *text;
			size_t len;
			const struct sp_value *v = &f[w->idx[i]].v;
			bool quote = v->type == SP_STRING;

			if (sp_value_text(v, &b->arena, &text, &len)) {
				text = "?";
				len = 1;
			}
			size_t cut = sp_utf8_cut(text, len, 64);
			sp_batch_error_add(b, in[k], r->line, 0, r->raw,
					   r->raw_len,
					   "field %s: cannot convert %s%.*s%s%s "
					   "(%s) to %s: %s",
					   c->f[i].path, quote ? "\"" : "",
					   (int)cut, text, cut < len ? "..." : "",
					   quote ? "\"" : "",
					   sp_type_name(v->type),
					   target_names[c->f[i].to], why);
			continue;
		}
		bool changed = false;
		for (i = 0; i < c->n; i++) {
			if (w->idx[i] < 0)
				continue;
			f[w->idx[i]].v = w->vals[i];
			changed = true;
		}
		if (changed)
			r->flags |= SP_RECORD_CHANGED;
		out[0].idx[nout++] = in[k];
	}
	out[0].n = nout;
	return 0;
}

const struct sp_stage_desc sp_stage_field_type_converter = {
	.abi = SP_STAGE_ABI,
	.name = "field_type_converter",
	.kind = SP_PROCESSOR,
	.help = "converts fields to int, double, bool or string; values that "
		"do not convert are record errors",
	.options = converter_options,
	.config_size = sizeof(struct converter_config),
	.mutates = true,
	.create = converter_create,
	.create_checks = true,
	.worker_create = converter_worker_create,
	.worker_destroy = converter_worker_destroy,
	.process = converter_process,
	.close = converter_close,
};
