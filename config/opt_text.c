/*
 * Option text to values: the strict scalar syntaxes every option and
 * default goes through (integers, decimals, booleans and sizes with
 * units).  Strict means the whole text is the value: "10x", "1e", " 5"
 * and "yess" are refused, never read as a prefix.
 */
#include "config/config_internal.h"

int sp_parse_int(const char *s, int64_t *out)
{
	const char *p = s;
	int64_t v = 0;
	bool neg = false;

	if (*p == '-' || *p == '+')
		neg = *p++ == '-';
	if (!*p)
		return -EINVAL;
	for (; *p; p++) {
		int dgt;

		if (*p < '0' || *p > '9')
			return -EINVAL;
		dgt = *p - '0';
		if (neg) {
			if (v < (INT64_MIN + dgt) / 10)
				return -ERANGE;
			v = v * 10 - dgt;
		} else {
			if (v > (INT64_MAX - dgt) / 10)
				return -ERANGE;
			v = v * 10 + dgt;
		}
	}
	*out = v;
	return 0;
}

int cfg_parse_double(const char *s, double *out)
{
	char *end;
	double v;

	if (!*s || strchr(" \t\n", *s))
		return -EINVAL;
	errno = 0;
	v = strtod(s, &end);
	if (*end || !isfinite(v))
		return -EINVAL;
	if (errno == ERANGE && fabs(v) > 1)
		return -ERANGE;
	*out = v;
	return 0;
}

int cfg_parse_bool(const char *s, bool *out)
{
	static const char *const yes[] = {"true", "yes", "on", NULL};
	static const char *const no[] = {"false", "no", "off", NULL};

	for (int i = 0; yes[i]; i++) {
		if (strcasecmp(s, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(s, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return -EINVAL;
}

int cfg_parse_size(const char *s, uint64_t *out)
{
	static const struct {
		const char *suffix;
		unsigned shift;
	} units[] = {
	    {"", 0},	 {"B", 0},  {"K", 10},	 {"KiB", 10}, {"M", 20},
	    {"MiB", 20}, {"G", 30}, {"GiB", 30}, {"T", 40},   {"TiB", 40},
	};
	const char *p = s;
	uint64_t v = 0;

	if (*p < '0' || *p > '9')
		return -EINVAL;
	for (; *p >= '0' && *p <= '9'; p++) {
		if (v > (UINT64_MAX - (uint64_t)(*p - '0')) / 10)
			return -ERANGE;
		v = v * 10 + (uint64_t)(*p - '0');
	}
	if (*p == ' ')
		p++;
	for (size_t i = 0; i < sizeof(units) / sizeof(units[0]); i++) {
		if (strcasecmp(p, units[i].suffix) != 0)
			continue;
		if (units[i].shift && v > (UINT64_MAX >> units[i].shift))
			return -ERANGE;
		*out = v << units[i].shift;
		return 0;
	}
	return -EINVAL;
}

int sp_size_parse(const char *s, uint64_t *out)
{
	return cfg_parse_size(s, out);
}
