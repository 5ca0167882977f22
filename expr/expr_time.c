/*
 * Expression functions on time: time:now, time:format, time:parse,
 * time:trunc and time:extract.  A time is a long, milliseconds since
 * 1970-01-01T00:00:00Z, and every calendar operation is in UTC.  Patterns
 * use the letters of Java's SimpleDateFormat that StreamSets flows carry:
 * yyyy yy MM dd HH mm ss SSS, text in '...' as is, other non-letters as
 * they are.
 */
#include "expr/expr_internal.h"

#include <time.h>

static const char *const units[] = {"year",   "month",  "day",	"hour",
				    "minute", "second", "dayOfWeek", NULL};

enum { U_YEAR, U_MONTH, U_DAY, U_HOUR, U_MINUTE, U_SECOND, U_DOW };

static int64_t floor_div(int64_t a, int64_t b)
{
	return a / b - (a % b != 0 && (a < 0) != (b < 0));
}

static void split_ms(int64_t ms, struct tm *tm, int *milli)
{
	time_t s = (time_t)floor_div(ms, 1000);

	*milli = (int)(ms - (int64_t)s * 1000);
	gmtime_r(&s, tm);
}

static int64_t join_ms(struct tm *tm, int milli)
{
	return (int64_t)timegm(tm) * 1000 + milli;
}

/* the run of letter ch at p: its length */
static size_t run_len(const char *p, const char *end)
{
	size_t n = 1;

	while (p + n < end && p[n] == p[0])
		n++;
	return n;
}

/* the field of a pattern letter run ("yyyy"): its width, or 0 */
static int field_width(char ch, size_t n)
{
	switch (ch) {
	case 'y':
		return n == 2 ? 2 : n == 4 ? 4 : 0;
	case 'M':
	case 'd':
	case 'H':
	case 'm':
	case 's':
		return n == 2 ? 2 : 0;
	case 'S':
		return n == 3 ? 3 : 0;
	}
	return 0;
}

static int bad_letter(struct sp_expr_ctx *c, const char *fn, const char *p,
		      size_t n, const char *pat, size_t plen)
{
	return ex_fail(c,
		       "%s: pattern \"%.*s\": '%.*s' is not one of yyyy yy "
		       "MM dd HH mm ss SSS (quote text: 'T')",
		       fn, (int)(plen > 40 ? 40 : plen), pat,
		       (int)(n > 8 ? 8 : n), p);
}

static int *field_of(char ch, struct tm *tm, int *milli)
{
	switch (ch) {
	case 'y':
		return &tm->tm_year;
	case 'M':
		return &tm->tm_mon;
	case 'd':
		return &tm->tm_mday;
	case 'H':
		return &tm->tm_hour;
	case 'm':
		return &tm->tm_min;
	case 's':
		return &tm->tm_sec;
	default:
		return milli;
	}
}

/* the value shown for field ch of tm */
static int shown(char ch, int v, int width)
{
	if (ch == 'y')
		return width == 2 ? (v + 1900) % 100 : v + 1900;
	return ch == 'M' ? v + 1 : v;
}

static int time_format(struct sp_expr_ctx *c, struct sp_batch *b,
		       int64_t ms, const char *pat, size_t plen,
		       struct sp_value *out)
{
	char buf[256];
	size_t o = 0;
	struct tm tm;
	int milli;
	const char *p = pat, *end = pat + plen;

	split_ms(ms, &tm, &milli);
	while (p < end && o < sizeof(buf) - 16) {
		if (*p == '\'') {
			const char *q = memchr(p + 1, '\'', (size_t)(end - p - 1));
			const char *stop = q ? q : end;
			for (p++; p < stop && o < sizeof(buf) - 16; p++)
				buf[o++] = *p;
			p = q ? q + 1 : end;
			continue;
		}
		if (!((*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z'))) {
			buf[o++] = *p++;
			continue;
		}
		size_t n = run_len(p, end);
		int w = field_width(*p, n);
		if (!w)
			return bad_letter(c, "time:format", p, n, pat, plen);
		int v = shown(*p, *field_of(*p, &tm, &milli), w);
		o += (size_t)snprintf(buf + o, sizeof(buf) - o, "%0*d", w, v);
		p += n;
	}
	char *s = sp_arena_alloc(&b->arena, o + 1);
	if (!s)
		return ex_fail(c, "out of memory");
	memcpy(s, buf, o);
	s[o] = '\0';
	*out = sp_value_string(s, (uint32_t)o);
	return 0;
}

static int parse_fail(struct sp_expr_ctx *c, const char *s, size_t len,
		      const char *pat, size_t plen)
{
	return ex_fail(c, "time:parse: \"%.*s\" does not match pattern \"%.*s\"",
		       (int)(len > 40 ? 40 : len), s,
		       (int)(plen > 40 ? 40 : plen), pat);
}

static int time_parse(struct sp_expr_ctx *c, const char *s, size_t len,
		      const char *pat, size_t plen, struct sp_value *out)
{
	struct tm tm = {.tm_mday = 1, .tm_year = 70};
	int milli = 0;
	const char *p = pat, *end = pat + plen, *q = s, *qe = s + len;

	while (p < end) {
		bool letter = (*p >= 'a' && *p <= 'z') || (*p >= 'A' && *p <= 'Z');
		if (*p == '\'' || !letter) {
			const char *lit = p, *lend = p + 1;
			if (*p == '\'') {
				lit = p + 1;
				lend = memchr(lit, '\'', (size_t)(end - lit));
				lend = lend ? lend : end;
			}
			size_t n = (size_t)(lend - lit);
			if ((size_t)(qe - q) < n || memcmp(q, lit, n))
				return parse_fail(c, s, len, pat, plen);
			q += n;
			p = *p == '\'' ? (lend < end ? lend + 1 : end) : lend;
			continue;
		}
		size_t n = run_len(p, end);
		int w = field_width(*p, n), v = 0;
		if (!w)
			return bad_letter(c, "time:parse", p, n, pat, plen);
		for (int k = 0; k < w; k++, q++) {
			if (q >= qe || !ex_is_digit(*q))
				return parse_fail(c, s, len, pat, plen);
			v = v * 10 + (*q - '0');
		}
		if (*p == 'y')
			v = (w == 2 ? 2000 + v : v) - 1900;
		else if (*p == 'M')
			v--;
		*field_of(*p, &tm, &milli) = v;
		p += n;
	}
	if (q != qe)
		return parse_fail(c, s, len, pat, plen);
	*out = sp_value_int(join_ms(&tm, milli));
	return 0;
}

static int unit_of(struct sp_expr_ctx *c, const char *fn, const char *u,
		   size_t len, int last)
{
	for (int i = 0; i <= last; i++)
		if (strlen(units[i]) == len && !memcmp(units[i], u, len))
			return i;
	return ex_fail(c, "%s: unknown unit \"%.*s\" (year, month, day, hour, "
			  "minute, second%s)",
		       fn, (int)(len > 20 ? 20 : len), u,
		       last == U_DOW ? ", dayOfWeek" : "");
}

static int64_t trunc_ms(int64_t ms, int unit)
{
	struct tm tm;
	int milli;

	split_ms(ms, &tm, &milli);
	if (unit < U_MONTH)
		tm.tm_mon = 0;
	if (unit < U_DAY)
		tm.tm_mday = 1;
	if (unit < U_HOUR)
		tm.tm_hour = 0;
	if (unit < U_MINUTE)
		tm.tm_min = 0;
	if (unit < U_SECOND)
		tm.tm_sec = 0;
	return join_ms(&tm, 0);
}

static int64_t extract(int64_t ms, int unit)
{
	struct tm tm;
	int milli;

	split_ms(ms, &tm, &milli);
	switch (unit) {
	case U_YEAR:
		return tm.tm_year + 1900;
	case U_MONTH:
		return tm.tm_mon + 1;
	case U_DAY:
		return tm.tm_mday;
	case U_HOUR:
		return tm.tm_hour;
	case U_MINUTE:
		return tm.tm_min;
	case U_SECOND:
		return tm.tm_sec;
	default: /* ISO: Monday 1 .. Sunday 7 */
		return tm.tm_wday ? tm.tm_wday : 7;
	}
}

int ex_call_time(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		 struct sp_value *a, uint8_t n)
{
	int64_t ms = 0;
	double d;
	const char *s = "", *t = "";
	size_t l = 0, tl = 0;

	if (fn == SP_FN_TIME_NOW) {
		struct timespec ts;
		clock_gettime(CLOCK_REALTIME, &ts);
		a[0] = sp_value_int((int64_t)ts.tv_sec * 1000 +
				    ts.tv_nsec / 1000000);
		return 0;
	}
	for (uint8_t k = 0; k < n; k++)
		if (a[k].type == SP_NULL) {
			a[0] = sp_value_null();
			return 0;
		}
	if (fn == SP_FN_TIME_PARSE) {
		if (ex_text_of(c, b, &a[0], &s, &l))
			return -EINVAL;
	} else {
		int kind = ex_operand(c, b, &a[0], ex_fn_names[fn], &ms, &d);
		if (kind < 0)
			return -EINVAL;
		if (kind == NUM_DBL)
			ms = isfinite(d) && fabs(d) < 1e15 ? (int64_t)d : 0;
		if (ms > 253402300799999 || ms < -62135596800000)
			return ex_fail(c, "%s: %lld ms is outside the years "
					  "1 to 9999",
				       ex_fn_names[fn], (long long)ms);
	}
	if (ex_text_of(c, b, &a[1], &t, &tl))
		return -EINVAL;
	switch (fn) {
	case SP_FN_TIME_FORMAT:
		return time_format(c, b, ms, t, tl, &a[0]);
	case SP_FN_TIME_PARSE:
		return time_parse(c, s, l, t, tl, &a[0]);
	case SP_FN_TIME_TRUNC:
	case SP_FN_TIME_EXTRACT: {
		bool tr = fn == SP_FN_TIME_TRUNC;
		int u = unit_of(c, ex_fn_names[fn], t, tl, tr ? U_SECOND : U_DOW);
		if (u < 0)
			return -EINVAL;
		a[0] = sp_value_int(tr ? trunc_ms(ms, u) : extract(ms, u));
		return 0;
	}
	}
	return ex_fail(c, "unknown function");
}
