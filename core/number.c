/*
 * Decimal numbers as text (core/number.h): the syntax check and the
 * conversion to double that every reader of numbers shares, so that a
 * number means the same in a JSON value, a CSV column, an expression and
 * the type converter, whatever its length.
 */
#include "core/number.h"

#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

static bool is_digit(char c)
{
	return (unsigned)(c - '0') <= 9;
}

bool sp_number_syntax(const char *s, size_t len, bool *is_int)
{
	size_t i = 0, digits = 0;
	bool whole = true;

	if (i < len && (s[i] == '-' || s[i] == '+'))
		i++;
	for (; i < len && is_digit(s[i]); i++)
		digits++;
	if (i < len && s[i] == '.') {
		whole = false;
		for (i++; i < len && is_digit(s[i]); i++)
			digits++;
	}
	if (!digits)
		return false;
	if (i < len && (s[i] == 'e' || s[i] == 'E')) {
		whole = false;
		i++;
		if (i < len && (s[i] == '-' || s[i] == '+'))
			i++;
		if (i == len || !is_digit(s[i]))
			return false;
		while (i < len && is_digit(s[i]))
			i++;
	}
	if (is_int)
		*is_int = whole;
	return i == len;
}

/* Clinger's fast path; false when the text needs strtod (an exponent,
 * more than 15 significant digits, a scale beyond 1e22). */
static bool fast_double(const char *s, size_t len, double *out)
{
	static const double p10[] = {
		1e0,  1e1,  1e2,  1e3,	1e4,  1e5,  1e6,  1e7,
		1e8,  1e9,  1e10, 1e11, 1e12, 1e13, 1e14, 1e15,
		1e16, 1e17, 1e18, 1e19, 1e20, 1e21, 1e22,
	};
	uint64_t m = 0;
	int exp10 = 0, digits = 0;
	bool neg = false, frac = false;
	size_t i = 0;

	if (s[0] == '-' || s[0] == '+')
		neg = s[i++] == '-';
	for (; i < len; i++) {
		if (s[i] == '.') {
			frac = true;
			continue;
		}
		if (!is_digit(s[i]))
			return false; /* an exponent */
		if (m == 0 && s[i] == '0') {
			exp10 -= frac;
			continue;
		}
		if (++digits > 15)
			return false;
		m = m * 10 + (unsigned)(s[i] - '0');
		exp10 -= frac;
	}
	if (exp10 < -22)
		return false;
	double d = (double)m;
	d = exp10 < 0 ? d / p10[-exp10] : d;
	*out = neg ? -d : d;
	return true;
}

int sp_number_to_double(const char *s, size_t len, double *out)
{
	char tmp[128], *copy = tmp, *end;

	if (!sp_number_syntax(s, len, NULL))
		return -EINVAL;
	if (fast_double(s, len, out))
		return 0;
	if (len >= sizeof(tmp) && !(copy = malloc(len + 1)))
		return -ENOMEM;
	memcpy(copy, s, len);
	copy[len] = '\0';
	double d = strtod(copy, &end);
	bool whole = end == copy + len;
	if (copy != tmp)
		free(copy);
	if (!whole)
		return -EINVAL;
	*out = d;
	return isinf(d) ? -ERANGE : 0;
}

int sp_number_to_int64(const char *s, size_t len, int64_t *out)
{
	size_t i = 0;
	bool neg = false;
	uint64_t acc = 0;

	if (len && (s[0] == '-' || s[0] == '+')) {
		neg = s[0] == '-';
		i = 1;
	}
	if (i == len)
		return -EINVAL;
	for (; i < len; i++) {
		unsigned d = (unsigned)(s[i] - '0');
		if (d > 9)
			return -EINVAL;
		if (acc > (UINT64_MAX - d) / 10)
			return -ERANGE;
		acc = acc * 10 + d;
	}
	if (neg ? acc > (uint64_t)INT64_MAX + 1 : acc > (uint64_t)INT64_MAX)
		return -ERANGE;
	*out = neg ? (int64_t)(0 - acc) : (int64_t)acc;
	return 0;
}
