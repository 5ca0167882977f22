/*
 * CSV typed conversion: the schema's type names, and field text to int
 * (decimal, range checked), double (decimal syntax only, a fast exact
 * path before strtod), bool (true/false, 1/0, yes/no) and timestamp
 * (ISO 8601 with optional offset, normalised to UTC with a Z).
 */
#include "codec/csv_conv.h"

#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "codec/csv.h"
#include "core/number.h"

static const char *const type_names[] = {
    [SP_CSV_STRING] = "string",	      [SP_CSV_INT] = "int",
    [SP_CSV_DOUBLE] = "double",	      [SP_CSV_BOOL] = "bool",
    [SP_CSV_TIMESTAMP] = "timestamp",
};

int sp_csv_type_parse(const char *name, enum sp_csv_type *out)
{
	for (unsigned i = 0; i < sizeof(type_names) / sizeof(type_names[0]);
	     i++) {
		if (strcasecmp(name, type_names[i]) == 0) {
			*out = (enum sp_csv_type)i;
			return 0;
		}
	}
	return -EINVAL;
}

const char *sp_csv_type_name(enum sp_csv_type t)
{
	return (unsigned)t < sizeof(type_names) / sizeof(type_names[0])
		   ? type_names[t]
		   : "?";
}

enum sp_csv_conv sp_csv_conv_int(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t acc = 0;

	if (s[0] == '-' || s[0] == '+') {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return SP_CSV_CONV_BAD;
	for (size_t k = i; k < len; k++)
		if ((unsigned)(s[k] - '0') > 9)
			return SP_CSV_CONV_BAD;
	for (; i < len; i++) {
		unsigned dgt = (unsigned)(s[i] - '0');
		if (acc > (UINT64_MAX - dgt) / 10)
			return SP_CSV_CONV_RANGE;
		acc = acc * 10 + dgt;
	}
	if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
		return SP_CSV_CONV_RANGE;
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return SP_CSV_CONV_OK;
}



enum sp_csv_conv sp_csv_conv_double(const char *s, size_t len,
				    struct sp_arena *arena, double *out)
{
	switch (sp_number_to_double(s, len, out)) {
	case 0:
		return SP_CSV_CONV_OK;
	case -ERANGE:
		return SP_CSV_CONV_RANGE;
	default:
		return SP_CSV_CONV_BAD;
	}
}

bool sp_csv_int_canonical(const char *s, size_t len)
{
	size_t i = s[0] == '-';

	/* no '+', no leading zero, no "-0" */
	if (i == len || s[i] == '+' || (s[i] == '0' && len != 1))
		return false;
	for (; i < len; i++)
		if ((unsigned)(s[i] - '0') > 9)
			return false;
	return true;
}

/*
 * sp_format_double prints "%.15g" when that reads back as the same double,
 * adding ".0" to an integral value.  Decimal text of at most 15
 * significant digits reads back from "%.15g" unchanged (DBL_DIG), and
 * "%.15g" is fixed-point when the leading digit's exponent is -4..14 and
 * drops trailing zeros: so text in the form -?(0|[1-9][0-9]*)\.[0-9]+ with
 * at most 15 significant digits, no more than three zeros after "0.", and
 * a fraction that ends in a non-zero digit or is exactly ".0", is what
 * sp_format_double prints for its value.
 */
bool sp_csv_double_canonical(const char *s, size_t len)
{
	size_t i = s[0] == '-', int_start, dot, sig;

	if (i == len || (s[i] == '0' && i + 1 < len && s[i + 1] != '.'))
		return false;
	int_start = i;
	while (i < len && (unsigned)(s[i] - '0') <= 9)
		i++;
	dot = i;
	if (dot == int_start || dot + 1 >= len || s[dot] != '.')
		return false;
	for (i = dot + 1; i < len; i++)
		if ((unsigned)(s[i] - '0') > 9)
			return false;
	if (len == dot + 2 && s[dot + 1] == '0') /* "X.0": integral */
		return dot - int_start <= 15;
	if (s[len - 1] == '0')
		return false;
	if (s[int_start] != '0') {
		sig = (dot - int_start) + (len - dot - 1);
	} else {
		size_t z = dot + 1;

		while (s[z] == '0')
			z++;
		if (z - dot - 1 > 3)
			return false;
		sig = len - z;
	}
	return sig <= 15;
}

enum sp_csv_conv sp_csv_conv_bool(const char *s, size_t len, bool *out)
{
	static const struct {
		const char *text;
		bool value;
	} words[] = {{"true", true}, {"false", false}, {"1", true},
		     {"0", false},   {"yes", true},    {"no", false}};

	for (unsigned i = 0; i < sizeof(words) / sizeof(words[0]); i++) {
		if (strlen(words[i].text) == len &&
		    strncasecmp(s, words[i].text, len) == 0) {
			*out = words[i].value;
			return SP_CSV_CONV_OK;
		}
	}
	return SP_CSV_CONV_BAD;
}

static bool digits_at(const char *s, size_t n, int *out)
{
	int v = 0;

	for (size_t i = 0; i < n; i++) {
		if ((unsigned)(s[i] - '0') > 9)
			return false;
		v = v * 10 + (s[i] - '0');
	}
	*out = v;
	return true;
}

static int days_in_month(int y, int m)
{
	static const int dim[] = {31, 28, 31, 30, 31, 30,
				  31, 31, 30, 31, 30, 31};

	if (m == 2 && ((y % 4 == 0 && y % 100 != 0) || y % 400 == 0))
		return 29;
	return dim[m - 1];
}

static void next_day(int *y, int *mo, int *d)
{
	if (*d < days_in_month(*y, *mo)) {
		++*d;
		return;
	}
	*d = 1;
	if (++*mo > 12) {
		*mo = 1;
		++*y;
	}
}

static void prev_day(int *y, int *mo, int *d)
{
	if (*d > 1) {
		--*d;
		return;
	}
	if (--*mo < 1) {
		*mo = 12;
		--*y;
	}
	*d = days_in_month(*y, *mo);
}

static void put2(char *p, int v)
{
	p[0] = (char)('0' + v / 10);
	p[1] = (char)('0' + v % 10);
}

/*
 * ISO 8601 text to "YYYY-MM-DDTHH:MM:SS[.f]Z" (UTC) in out (32 bytes);
 * returns the length or 0 when s is no timestamp (or leaves 0000..9999).
 */
size_t sp_csv_conv_timestamp(const char *s, size_t len, char *out,
			     const char **text)
{
	int y, mo, d, h = 0, mi = 0, sec = 0, oh = 0, om = 0, sign = 0;
	size_t i, frac = 0, frac_at = 0;

	if (len < 10 || s[4] != '-' || s[7] != '-' || !digits_at(s, 4, &y) ||
	    !digits_at(s + 5, 2, &mo) || !digits_at(s + 8, 2, &d))
		return 0;
	i = 10;
	if (i < len) {
		if ((s[i] != 'T' && s[i] != 't' && s[i] != ' ') ||
		    len - i < 9 || s[i + 3] != ':' || s[i + 6] != ':' ||
		    !digits_at(s + i + 1, 2, &h) ||
		    !digits_at(s + i + 4, 2, &mi) ||
		    !digits_at(s + i + 7, 2, &sec))
			return 0;
		i += 9;
		if (i < len && s[i] == '.') {
			frac_at = ++i;
			while (i < len && (unsigned)(s[i] - '0') <= 9)
				i++;
			frac = i - frac_at;
			if (frac < 1 || frac > 9)
				return 0;
		}
		if (i < len && (s[i] == 'Z' || s[i] == 'z')) {
			i++;
		} else if (i < len && (s[i] == '+' || s[i] == '-')) {
			sign = s[i] == '-' ? -1 : 1;
			i++;
			if (len - i == 5 && s[i + 2] == ':' &&
			    digits_at(s + i, 2, &oh) &&
			    digits_at(s + i + 3, 2, &om))
				i += 5;
			else if (len - i == 4 && digits_at(s + i, 2, &oh) &&
				 digits_at(s + i + 2, 2, &om))
				i += 4;
			else
				return 0;
			if (oh > 23 || om > 59)
				return 0;
		}
	}
	if (i != len || mo < 1 || mo > 12 || d < 1 ||
	    d > days_in_month(y, mo) || h > 23 || mi > 59 || sec > 59)
		return 0;
	*text = out;
	if (!sign && len > 10) {
		/* already UTC: only the separator and the zone letter can
		 * differ from the canonical form */
		if (s[10] == 'T' && s[len - 1] == 'Z') {
			*text = s; /* it is the canonical form */
			return len;
		}
		memcpy(out, s, len);
		out[10] = 'T';
		if (s[len - 1] == 'Z' || s[len - 1] == 'z') {
			out[len - 1] = 'Z';
			return len;
		}
		out[len] = 'Z';
		return len + 1;
	}

	/* an offset is less than a day: the UTC time is at most a day off
	 * the local one (no calendar arithmetic beyond the next day) */
	int m = h * 60 + mi - sign * (oh * 60 + om);
	if (m < 0) {
		m += 1440;
		prev_day(&y, &mo, &d);
	} else if (m >= 1440) {
		m -= 1440;
		next_day(&y, &mo, &d);
	}
	if (y < 0 || y > 9999)
		return 0;
	h = m / 60;
	mi = m % 60;
	put2(out, y / 100);
	put2(out + 2, y % 100);
	out[4] = '-';
	put2(out + 5, mo);
	out[7] = '-';
	put2(out + 8, d);
	out[10] = 'T';
	put2(out + 11, h);
	out[13] = ':';
	put2(out + 14, mi);
	out[16] = ':';
	put2(out + 17, sec);
	i = 19;
	if (frac) {
		out[i++] = '.';
		memcpy(out + i, s + frac_at, frac);
		i += frac;
	}
	out[i++] = 'Z';
	return i;
}
