/*
 * Typed conversion of record values into the text a database column
 * takes.  Every check the server would make on a bulk load is made here
 * first (types, ranges, lengths, dates, NOT NULL, UTF-8), because the
 * server answers a bad value by failing the whole load: PostgreSQL's COPY
 * aborts, and MySQL's LOAD DATA LOCAL turns it into a silently changed
 * value with a warning.  Here a bad value is one record error with the
 * column and the reason.
 */
#include <errno.h>
#include <float.h>
#include <inttypes.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "db/dbcol.h"
#include "record/json.h"

bool sp_db_text_is_valid(const char *s, size_t n)
{
	const unsigned char *p = (const unsigned char *)s;
	size_t i = 0;

	while (i < n) {
		unsigned c = p[i];
		size_t k;
		uint32_t cp;

		if (c < 0x80) {
			if (c == 0)
				return false;
			i++;
			/* ASCII eight bytes at a time (most values are): no
			 * byte with the high bit set and none zero */
			while (i + 8 <= n) {
				uint64_t w;

				memcpy(&w, p + i, 8);
				if ((w & 0x8080808080808080ull) ||
				    ((w - 0x0101010101010101ull) & ~w &
				     0x8080808080808080ull))
					break;
				i += 8;
			}
			continue;
		}
		if (c >= 0xc2 && c <= 0xdf) {
			k = 1;
			cp = c & 0x1f;
		} else if (c >= 0xe0 && c <= 0xef) {
			k = 2;
			cp = c & 0x0f;
		} else if (c >= 0xf0 && c <= 0xf4) {
			k = 3;
			cp = c & 0x07;
		} else {
			return false;
		}
		if (i + k >= n)
			return false;
		for (size_t j = 1; j <= k; j++) {
			if ((p[i + j] & 0xc0) != 0x80)
				return false;
			cp = (cp << 6) | (p[i + j] & 0x3f);
		}
		if ((k == 2 && (cp < 0x800 || (cp >= 0xd800 && cp <= 0xdfff))) ||
		    (k == 3 && (cp < 0x10000 || cp > 0x10ffff)))
			return false;
		i += k + 1;
	}
	return true;
}

static size_t utf8_chars(const char *s, size_t n)
{
	size_t c = 0;

	for (size_t i = 0; i < n; i++)
		c += ((unsigned char)s[i] & 0xc0) != 0x80;
	return c;
}

/* [+-]?digits */
static bool is_int_text(const char *s, size_t n)
{
	size_t i = 0;

	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	if (i == n)
		return false;
	for (; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return false;
	return true;
}

/* [+-]?(d+(.d*)?|.d+)([eE][+-]?d+)?; *intdig: integer digits without
 * leading zeros (before the exponent); *exp: the exponent */
static bool is_decimal_text(const char *s, size_t n, int *intdig, long *exp)
{
	size_t i = 0, digits = 0;
	bool lead = true;

	*intdig = 0;
	*exp = 0;
	if (i < n && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < n && s[i] >= '0' && s[i] <= '9'; i++, digits++) {
		if (s[i] != '0')
			lead = false;
		if (!lead)
			(*intdig)++;
	}
	if (i < n && s[i] == '.')
		for (i++; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			digits++;
	if (!digits)
		return false;
	if (i < n && (s[i] == 'e' || s[i] == 'E')) {
		size_t e0;

		i++;
		if (i < n && (s[i] == '-' || s[i] == '+'))
			i++;
		e0 = i;
		for (; i < n && s[i] >= '0' && s[i] <= '9'; i++)
			if (*exp < 100000)
				*exp = *exp * 10 + (s[i] - '0');
		if (i == e0)
			return false;
		if (s[e0 - 1] == '-')
			*exp = -*exp;
	}
	return i == n;
}

static int two(const char *p)
{
	if (p[0] < '0' || p[0] > '9' || p[1] < '0' || p[1] > '9')
		return -1;
	return (p[0] - '0') * 10 + (p[1] - '0');
}

static bool is_date_text(const char *s, size_t n)
{
	static const int mdays[] = {31, 29, 31, 30, 31, 30,
				    31, 31, 30, 31, 30, 31};
	int y, m, d;

	if (n < 10 || s[4] != '-' || s[7] != '-' || two(s) < 0 ||
	    two(s + 2) < 0)
		return false;
	y = two(s) * 100 + two(s + 2);
	m = two(s + 5);
	d = two(s + 8);
	if (y < 1 || m < 1 || m > 12 || d < 1 || d > mdays[m - 1])
		return false;
	if (m == 2 && d == 29 && !(y % 4 == 0 && (y % 100 || y % 400 == 0)))
		return false;
	return true;
}

/* YYYY-MM-DD[(T| )HH:MM[:SS[.f+]]][Z|(+|-)HH[:MM]]; *zone: offset given
 * (not Z), *z: where the zone starts (n when none) */
static bool is_timestamp_text(const char *s, size_t n, bool *zone, size_t *z)
{
	size_t i = 10;

	*zone = false;
	*z = n;
	if (!is_date_text(s, n))
		return false;
	if (i == n)
		return true;
	if ((s[i] != 'T' && s[i] != ' ') || n < i + 6)
		return false;
	i++;
	if (two(s + i) < 0 || two(s + i) > 23 || s[i + 2] != ':' ||
	    two(s + i + 3) < 0 || two(s + i + 3) > 59)
		return false;
	i += 5;
	if (i + 3 <= n && s[i] == ':') {
		if (two(s + i + 1) < 0 || two(s + i + 1) > 59)
			return false;
		i += 3;
		if (i < n && s[i] == '.') {
			size_t f = ++i;

			while (i < n && s[i] >= '0' && s[i] <= '9')
				i++;
			if (i == f)
				return false;
		}
	}
	if (i == n)
		return true;
	*z = i;
	if (s[i] == 'Z' && i + 1 == n)
		return true;
	if ((s[i] != '+' && s[i] != '-') || i + 3 > n || two(s + i + 1) < 0 ||
	    two(s + i + 1) > 15)
		return false;
	*zone = true;
	i += 3;
	if (i == n)
		return true;
	if (s[i] == ':')
		i++;
	return i + 2 == n && two(s + i) >= 0 && two(s + i) < 60;
}

static bool is_uuid_text(const char *s, size_t n)
{
	if (n != 36)
		return false;
	for (size_t i = 0; i < n; i++) {
		bool dash = i == 8 || i == 13 || i == 18 || i == 23;
		char c = s[i];

		if (dash ? c != '-'
			 : !((c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') ||
			     (c >= 'A' && c <= 'F')))
			return false;
	}
	return true;
}

static int set_out(struct sp_arena *a, const char *t, size_t len,
		   const char **s, size_t *n)
{
	*s = sp_arena_strndup(a, t, len);
	*n = len;
	return *s ? 0 : -ENOMEM;
}

#define NOFIT(...) (snprintf(why, whylen, __VA_ARGS__), -EINVAL)

static int conv_bool(const struct sp_dbcol *c, const struct sp_value *v,
		     const char *t, size_t len, bool *out, char *why,
		     size_t whylen)
{
	static const char *const yes[] = {"true", "t", "yes", "y", "on", "1"};
	static const char *const no[] = {"false", "f", "no", "n", "off", "0"};

	if (v->type == SP_BOOL) {
		*out = v->b;
		return 0;
	}
	if (v->type != SP_STRING && v->type != SP_INT)
		return NOFIT("a %s is not a boolean", sp_type_name(v->type));
	for (size_t k = 0; k < 6; k++) {
		if (len == strlen(yes[k]) && !strncasecmp(t, yes[k], len)) {
			*out = true;
			return 0;
		}
		if (len == strlen(no[k]) && !strncasecmp(t, no[k], len)) {
			*out = false;
			return 0;
		}
	}
	(void)c;
	return NOFIT("'%.*s' is not a boolean", (int)(len > 40 ? 40 : len), t);
}

/* text that is_int_text accepted into *x: 0, or -ERANGE past int64 */
static int parse_int(const char *s, size_t n, int64_t *x)
{
	bool neg = s[0] == '-';
	size_t i = s[0] == '-' || s[0] == '+';
	uint64_t u = 0, lim = neg ? (uint64_t)INT64_MAX + 1 : INT64_MAX;

	for (; i < n; i++) {
		unsigned d = (unsigned)(s[i] - '0');

		if (u > (lim - d) / 10)
			return -ERANGE;
		u = u * 10 + d;
	}
	*x = neg ? (int64_t)(0 - u) : (int64_t)u;
	return 0;
}

/* x in decimal into out (at least 21 bytes, not terminated): its length
 * (snprintf's cost showed in every row of a load) */
static size_t format_int(int64_t x, char *out)
{
	char tmp[24], *p = tmp + sizeof(tmp);
	uint64_t u = x < 0 ? 0 - (uint64_t)x : (uint64_t)x;
	size_t len;

	do {
		*--p = (char)('0' + u % 10);
		u /= 10;
	} while (u);
	if (x < 0)
		*--p = '-';
	len = (size_t)(tmp + sizeof(tmp) - p);
	memcpy(out, p, len);
	return len;
}

static int conv_int(const struct sp_dbcol *c, const struct sp_value *v,
		    const char *t, size_t len, struct sp_arena *a,
		    const char **s, size_t *n, char *why, size_t whylen)
{
	char tmp[32];
	int64_t x;

	if (v->type == SP_BOOL && c->bool_int)
		return set_out(a, v->b ? "1" : "0", 1, s, n);
	if (v->type == SP_INT && !(v->flags & SP_VALUE_TEXT)) {
		x = v->i;
	} else if ((v->type == SP_INT || v->type == SP_STRING) &&
		   is_int_text(t, len)) {
		if (parse_int(t, len, &x))
			return NOFIT("%.*s is out of range",
				     (int)(len >= 32 ? 24 : len), t);
		if (x < c->min || x > c->max)
			return NOFIT("%" PRId64 " is out of range", x);
		/* the server reads the same number from the text itself */
		*s = t;
		*n = len;
		return 0;
	} else if (v->type == SP_STRING && c->bool_int) {
		bool b;

		if (conv_bool(c, v, t, len, &b, why, whylen))
			return NOFIT("'%.*s' is not an integer",
				     (int)(len > 40 ? 40 : len), t);
		return set_out(a, b ? "1" : "0", 1, s, n);
	} else if (v->type == SP_STRING || v->type == SP_DOUBLE) {
		return NOFIT("'%.*s' is not an integer",
			     (int)(len > 40 ? 40 : len), t);
	} else {
		return NOFIT("a %s is not an integer", sp_type_name(v->type));
	}
	if (x < c->min || x > c->max)
		return NOFIT("%" PRId64 " is out of range", x);
	return set_out(a, tmp, format_int(x, tmp), s, n);
}

static int conv_float(const struct sp_dbcol *c, const struct sp_value *v,
		      const char *t, size_t len, char *why, size_t whylen)
{
	char buf[64];
	int intdig;
	long exp;
	double d;

	if (v->type == SP_DOUBLE && !(v->flags & SP_VALUE_TEXT)) {
		d = v->d;
	} else if (v->type == SP_STRING && c->dialect == SP_DB_POSTGRES &&
		   ((len == 3 && !memcmp(t, "NaN", 3)) ||
		    (len == 8 && !memcmp(t, "Infinity", 8)) ||
		    (len == 9 && !memcmp(t, "-Infinity", 9)))) {
		return 0; /* PostgreSQL's float types hold these */
	} else if (v->type == SP_INT || v->type == SP_DOUBLE ||
		   v->type == SP_STRING) {
		if (!is_decimal_text(t, len, &intdig, &exp))
			return NOFIT("'%.*s' is not a number",
				     (int)(len > 40 ? 40 : len), t);
		if (len >= sizeof(buf))
			return 0; /* long digit strings: in range below */
		memcpy(buf, t, len);
		buf[len] = '\0';
		errno = 0;
		d = strtod(buf, NULL);
		if (errno == ERANGE)
			return NOFIT("%s is out of range", buf);
	} else {
		return NOFIT("a %s is not a number", sp_type_name(v->type));
	}
	if (c->float4 && (fabs(d) > FLT_MAX || (d != 0 && fabs(d) < FLT_MIN)))
		return NOFIT("%s is out of range", t);
	return 0;
}

/* Digits after the decimal point of decimal text s[0..n) (checked by
 * is_decimal_text) once its exponent is applied, trailing zeros left out:
 * the scale a column needs to keep the value exactly. */
static long frac_digits(const char *s, size_t n, long exp)
{
	const char *end = s + n, *dot, *p;
	long frac = 0, k = 0;

	for (p = s; p < end && *p != 'e' && *p != 'E'; p++)
		;
	end = p; /* the mantissa */
	dot = memchr(s, '.', (size_t)(end - s));
	for (p = dot ? dot + 1 : end; p < end; p++) {
		k++;
		if (*p != '0')
			frac = k;
	}
	if (!frac) { /* "1200e-2": the integer's trailing zeros count */
		for (p = dot ? dot : end; p > s && p[-1] == '0'; p--)
			frac--;
		if (p == s || p[-1] < '0' || p[-1] > '9')
			return 0; /* zero */
	}
	return frac - exp > 0 ? frac - exp : 0;
}

/* A decimal column rounds a value with more decimal places than its scale
 * without an error (PostgreSQL and MySQL alike), and takes no more
 * integer digits than precision - scale: both are refused here, so that
 * no value changes silently on its way into the table. */
static int conv_numeric(const struct sp_dbcol *c, const struct sp_value *v,
			const char *t, size_t len, char *why, size_t whylen)
{
	int intdig;
	long exp, frac;

	if (v->type != SP_INT && v->type != SP_DOUBLE && v->type != SP_STRING)
		return NOFIT("a %s is not a number", sp_type_name(v->type));
	if (!is_decimal_text(t, len, &intdig, &exp))
		return NOFIT("'%.*s' is not a number",
			     (int)(len > 40 ? 40 : len), t);
	if (c->precision > 0 && intdig && intdig + exp > c->precision - c->scale)
		return NOFIT("%.*s is out of range",
			     (int)(len > 40 ? 40 : len), t);
	frac = frac_digits(t, len, exp);
	if (c->precision > 0 && c->scale >= 0 && frac > c->scale)
		return NOFIT("%.*s has %ld decimal places, the column keeps "
			     "%d: it would be rounded",
			     (int)(len > 40 ? 40 : len), t, frac,
			     (int)c->scale);
	return 0;
}

/* JSON text for a json column: objects and arrays as they are, other
 * values as JSON scalars (a string becomes a JSON string) */
static int conv_json(const struct sp_value *v, const char *t, size_t len,
		     struct sp_arena *a, const char **s, size_t *n)
{
	struct sp_buf b;
	int rc;

	if (v->type != SP_STRING) {
		*s = t;
		*n = len;
		return 0;
	}
	sp_buf_init(&b);
	rc = sp_json_append_string(&b, t, len);
	if (!rc)
		rc = set_out(a, b.data, b.len, s, n);
	sp_buf_fini(&b);
	return rc;
}

static int conv_time(const struct sp_dbcol *c, const struct sp_value *v,
		     const char *t, size_t len, struct sp_arena *a,
		     const char **s, size_t *n, char *why, size_t whylen)
{
	bool zone;
	size_t z;
	char *o;

	if (v->type != SP_STRING)
		return NOFIT("a %s is not a %s", sp_type_name(v->type),
			     c->kind == SP_DBCOL_DATE ? "date" : "timestamp");
	if (c->kind == SP_DBCOL_DATE) {
		if (len != 10 || !is_date_text(t, len))
			return NOFIT("'%.*s' is not a date (YYYY-MM-DD)",
				     (int)(len > 40 ? 40 : len), t);
		*s = t;
		*n = len;
		return 0;
	}
	if (!is_timestamp_text(t, len, &zone, &z))
		return NOFIT("'%.*s' is not a timestamp (YYYY-MM-DD "
			     "HH:MM:SS[.ffffff][Z|+HH:MM])",
			     (int)(len > 40 ? 40 : len), t);
	if (zone && !c->zone)
		return NOFIT("'%.*s' has a time zone offset, but %s keeps "
			     "none", (int)(len > 40 ? 40 : len), t, c->type);
	if (c->dialect != SP_DB_MYSQL && (c->zone || z == len)) {
		*s = t;
		*n = len;
		return 0;
	}
	/* MySQL: a space between date and time, no zone; a UTC "Z" on a
	 * column without zone: the wall time in UTC */
	if (set_out(a, t, z, s, n))
		return -ENOMEM;
	o = (char *)*s;
	if (z > 10 && c->dialect == SP_DB_MYSQL)
		o[10] = ' ';
	return 0;
}

static int conv_text(const struct sp_dbcol *c, const char *t, size_t len,
		     char *why, size_t whylen)
{
	size_t chars;

	if (!sp_db_text_is_valid(t, len))
		return NOFIT(memchr(t, 0, len) ? "text holds a NUL character"
					       : "text is not valid UTF-8");
	if (c->kind != SP_DBCOL_TEXT)
		return 0;
	if (c->max_bytes && len > c->max_bytes)
		return NOFIT("too long: %zu bytes, at most %u", len,
			     c->max_bytes);
	if (c->max_chars && len > c->max_chars &&
	    (chars = utf8_chars(t, len)) > c->max_chars)
		return NOFIT("too long: %zu characters, at most %u", chars,
			     c->max_chars);
	return 0;
}

static int conv_typed(const struct sp_dbcol *c, const struct sp_value *v,
		      const char *t, size_t len, struct sp_arena *a,
		      const char **s, size_t *n, bool *quote, char *why,
		      size_t whylen)
{
	bool b;
	int rc;

	switch (c->kind) {
	case SP_DBCOL_BOOL:
		rc = conv_bool(c, v, t, len, &b, why, whylen);
		if (rc)
			return rc;
		if (c->dialect == SP_DB_MYSQL)
			*s = b ? "1" : "0";
		else
			*s = b ? "t" : "f";
		*n = 1;
		return 0;
	case SP_DBCOL_INT:
		*quote = false;
		return conv_int(c, v, t, len, a, s, n, why, whylen);
	case SP_DBCOL_FLOAT:
		*quote = false;
		rc = conv_float(c, v, t, len, why, whylen);
		break;
	case SP_DBCOL_NUMERIC:
		*quote = false;
		rc = conv_numeric(c, v, t, len, why, whylen);
		break;
	case SP_DBCOL_JSON:
		return conv_json(v, t, len, a, s, n);
	case SP_DBCOL_DATE:
	case SP_DBCOL_TIMESTAMP:
		return conv_time(c, v, t, len, a, s, n, why, whylen);
	case SP_DBCOL_UUID:
		if (v->type != SP_STRING || !is_uuid_text(t, len))
			return NOFIT("'%.*s' is not a UUID",
				     (int)(len > 40 ? 40 : len), t);
		rc = 0;
		break;
	default:
		rc = 0;
		break;
	}
	if (!rc) {
		*s = t;
		*n = len;
	}
	return rc;
}

int sp_dbcol_convert(const struct sp_dbcol *c, const struct sp_value *v,
		     struct sp_arena *arena, const char **s, size_t *n,
		     bool *quote, char *why, size_t whylen)
{
	const char *t;
	size_t len;
	int rc;

	*quote = true;
	if (!v || v->type == SP_NULL) {
		*s = NULL;
		*n = 0;
		if (c->not_null)
			return NOFIT("is NOT NULL, but the record has %s",
				     v ? "null" : "no value");
		return 0;
	}
	if (v->type == SP_DOUBLE && !(v->flags & SP_VALUE_TEXT) &&
	    !isfinite(v->d)) {
		if (c->kind != SP_DBCOL_FLOAT || c->dialect != SP_DB_POSTGRES)
			return NOFIT("%s is not a finite number",
				     isnan(v->d) ? "NaN" : "infinity");
		*quote = false;
		*s = isnan(v->d) ? "NaN" : v->d > 0 ? "Infinity" : "-Infinity";
		*n = strlen(*s);
		return 0;
	}
	rc = sp_value_text(v, arena, &t, &len);
	if (rc)
		return rc;
	rc = conv_text(c, t, len, why, whylen);
	if (rc)
		return rc;
	return conv_typed(c, v, t, len, arena, s, n, quote, why, whylen);
}
