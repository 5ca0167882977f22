/*
 * Value conversions.  Numbers read from input stay text until something
 * asks for their value; conversion is exact (strtod on a bounded copy) and
 * formatting back is shortest round-trip, so a double never silently
 * changes on its way through.
 */
#include "record/value.h"

#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/arena.h"
#include "record/json.h"
#include "core/number.h"

const char *sp_type_name(enum sp_type t)
{
	static const char *const names[] = {"null",   "bool",	 "int", "double",
					    "string", "object", "array"};
	return (unsigned)t < sizeof(names) / sizeof(names[0]) ? names[t] : "?";
}

/* Number text to double; overflow keeps +-infinity, as strtod gives. */
static int text_to_double(const char *s, uint32_t len, double *out)
{
	int rc = sp_number_to_double(s, len, out);

	return rc == -ERANGE ? 0 : rc;
}

int sp_value_to_double(const struct sp_value *v, double *out)
{
	switch (v->type) {
	case SP_INT:
		if (v->flags & SP_VALUE_TEXT)
			return text_to_double(v->str, v->len, out);
		*out = (double)v->i;
		return 0;
	case SP_DOUBLE:
		if (v->flags & SP_VALUE_TEXT)
			return text_to_double(v->str, v->len, out);
		*out = v->d;
		return 0;
	default:
		return -EINVAL;
	}
}

int sp_value_to_int(const struct sp_value *v, int64_t *out)
{
	if (v->type != SP_INT)
		return -EINVAL;
	if (v->flags & SP_VALUE_TEXT)
		return sp_number_to_int64(v->str, v->len, out);
	*out = v->i;
	return 0;
}

int sp_value_string_bytes(const struct sp_value *v, struct sp_arena *arena,
			  const char **s, size_t *len)
{
	if (v->type != SP_STRING)
		return -EINVAL;
	if (!(v->flags & SP_VALUE_ESCAPED)) {
		*s = v->str;
		*len = v->len;
		return 0;
	}
	char *out = sp_arena_alloc(arena, v->len + 1);
	if (!out)
		return -ENOMEM;
	ssize_t n = sp_json_unescape(v->str, v->len, out);
	if (n < 0)
		return (int)n;
	out[n] = '\0';
	*s = out;
	*len = (size_t)n;
	return 0;
}

int sp_format_double(double d, char *buf)
{
	if (isnan(d) || isinf(d))
		return snprintf(buf, 32, "null");
	for (int prec = 15; prec <= 17; prec++) {
		int n = snprintf(buf, 32, "%.*g", prec, d);
		if (strtod(buf, NULL) == d) {
			/* keep it a double when read back: 3 -> 3.0 */
			if (!strpbrk(buf, ".eEn")) {
				buf[n++] = '.';
				buf[n++] = '0';
				buf[n] = '\0';
			}
			return n;
		}
	}
	return snprintf(buf, 32, "%.17g", d);
}

int sp_value_text(const struct sp_value *v, struct sp_arena *arena,
		  const char **s, size_t *len)
{
	char tmp[32];
	int n;

	switch (v->type) {
	case SP_NULL:
		*s = "";
		*len = 0;
		return 0;
	case SP_BOOL:
		*s = v->b ? "true" : "false";
		*len = strlen(*s);
		return 0;
	case SP_STRING:
		return sp_value_string_bytes(v, arena, s, len);
	case SP_OBJECT:
	case SP_ARRAY:
		*s = v->str;
		*len = v->len;
		return 0;
	case SP_INT:
	case SP_DOUBLE:
		if (v->flags & SP_VALUE_TEXT) {
			*s = v->str;
			*len = v->len;
			return 0;
		}
		if (v->type == SP_INT)
			n = snprintf(tmp, sizeof(tmp), "%lld", (long long)v->i);
		else
			n = sp_format_double(v->d, tmp);
		*s = sp_arena_strndup(arena, tmp, (size_t)n);
		*len = (size_t)n;
		return *s ? 0 : -ENOMEM;
	}
	return -EINVAL;
}
