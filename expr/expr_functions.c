/*
 * Expression functions: str:* (code-point aware, regular expressions
 * through PCRE2 with JIT, computed patterns cached per context) and
 * math:*.
 */
#include "expr/expr_internal.h"

/* ---- functions ---- */

/* Byte offset of code point idx in s (UTF-8), clamped to len. */
static size_t cp_offset(const char *s, size_t len, int64_t idx)
{
	size_t i = 0;

	if (idx <= 0)
		return 0;
	for (; i < len; i++) {
		if (((unsigned char)s[i] & 0xc0) != 0x80 && idx-- == 0)
			return i;
	}
	return len;
}

static int64_t cp_count(const char *s, size_t len)
{
	int64_t n = 0;

	for (size_t i = 0; i < len; i++)
		n += ((unsigned char)s[i] & 0xc0) != 0x80;
	return n;
}

static int string_result(struct sp_expr_ctx *c, struct sp_batch *b,
			 const char *s1, size_t l1, const char *s2, size_t l2,
			 int map, struct sp_value *out)
{
	char *p = sp_arena_alloc(&b->arena, l1 + l2 + 1);

	if (!p)
		return ex_fail(c, "out of memory");
	memcpy(p, s1, l1);
	if (l2)
		memcpy(p + l1, s2, l2);
	for (size_t i = 0; map && i < l1; i++) {
		if (map > 0 && p[i] >= 'a' && p[i] <= 'z')
			p[i] = (char)(p[i] - 'a' + 'A');
		else if (map < 0 && p[i] >= 'A' && p[i] <= 'Z')
			p[i] = (char)(p[i] - 'A' + 'a');
	}
	p[l1 + l2] = '\0';
	*out = sp_value_string(p, (uint32_t)(l1 + l2));
	return 0;
}

int ex_match(struct sp_expr_ctx *c, const pcre2_code *re, const char *s,
	     size_t len, struct sp_value *out)
{
	PCRE2_UCHAR msg[160];
	int rc = pcre2_match(re, (PCRE2_SPTR)s, len, 0, 0, c->md, NULL);

	if (rc >= 0 || rc == PCRE2_ERROR_NOMATCH) {
		*out = sp_value_bool(rc >= 0);
		return 0;
	}
	pcre2_get_error_message(rc, msg, sizeof(msg));
	return ex_fail(c, "regular expression match failed: %s",
		       (const char *)msg);
}

static int match_computed(struct sp_expr_ctx *c, const char *s, size_t len,
			  const char *pat, size_t plen, struct sp_value *out)
{
	PCRE2_UCHAR msg[160];
	PCRE2_SIZE off;
	int errcode;

	if (!c->dyn_re || c->dyn_len != plen ||
	    memcmp(c->dyn_pat, pat, plen) != 0) {
		pcre2_code *re =
		    pcre2_compile((PCRE2_SPTR)pat, plen,
				  PCRE2_ANCHORED | PCRE2_ENDANCHORED |
				      PCRE2_UTF | PCRE2_MATCH_INVALID_UTF,
				  &errcode, &off, NULL);
		if (!re) {
			pcre2_get_error_message(errcode, msg, sizeof(msg));
			return ex_fail(
			    c,
			    "invalid regular expression \"%.*s\": %s "
			    "at offset %zu",
			    (int)(plen > 40 ? 40 : plen), pat,
			    (const char *)msg, (size_t)off);
		}
		char *copy = malloc(plen + 1);
		if (!copy) {
			pcre2_code_free(re);
			return ex_fail(c, "out of memory");
		}
		memcpy(copy, pat, plen);
		pcre2_code_free(c->dyn_re);
		free(c->dyn_pat);
		c->dyn_re = re;
		c->dyn_pat = copy;
		c->dyn_len = plen;
	}
	return ex_match(c, c->dyn_re, s, len, out);
}

int ex_call_str(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		struct sp_value *a, uint8_t n)
{
	const char *s[2] = {"", ""};
	size_t l[2] = {0, 0};
	int64_t idx[2] = {0, 0};
	double d;
	const char *p;

	for (uint8_t k = 0; k < n; k++) {
		if (a[k].type == SP_NULL) {
			if (fn != SP_FN_STR_CONCAT) {
				a[0] = sp_value_null();
				return 0;
			}
		} else if (fn == SP_FN_STR_SUBSTRING && k > 0) {
			int kind = ex_operand(c, b, &a[k], ex_fn_names[fn],
					      &idx[k - 1], &d);
			if (kind < 0)
				return -EINVAL;
			if (kind == NUM_DBL)
				idx[k - 1] = isnan(d)	 ? 0
					     : d > 1e18	 ? (int64_t)1e18
					     : d < -1e18 ? (int64_t)-1e18
							 : (int64_t)d;
		} else if (ex_text_of(c, b, &a[k], &s[k], &l[k])) {
			return -EINVAL;
		}
	}
	switch (fn) {
	case SP_FN_STR_CONTAINS:
		a[0] = sp_value_bool(memmem(s[0], l[0], s[1], l[1]) != NULL);
		return 0;
	case SP_FN_STR_STARTS_WITH:
		a[0] = sp_value_bool(l[1] <= l[0] &&
				     memcmp(s[0], s[1], l[1]) == 0);
		return 0;
	case SP_FN_STR_ENDS_WITH:
		a[0] = sp_value_bool(l[1] <= l[0] && memcmp(s[0] + l[0] - l[1],
							    s[1], l[1]) == 0);
		return 0;
	case SP_FN_STR_TO_UPPER:
		return string_result(c, b, s[0], l[0], NULL, 0, 1, &a[0]);
	case SP_FN_STR_TO_LOWER:
		return string_result(c, b, s[0], l[0], NULL, 0, -1, &a[0]);
	case SP_FN_STR_LENGTH:
		a[0] = sp_value_int(cp_count(s[0], l[0]));
		return 0;
	case SP_FN_STR_TRIM: {
		size_t i = 0, j = l[0];
		while (i < j && (unsigned char)s[0][i] <= ' ')
			i++;
		while (j > i && (unsigned char)s[0][j - 1] <= ' ')
			j--;
		/* a plain slice of the text; escaped input was decoded */
		a[0] = sp_value_string(s[0] + i, (uint32_t)(j - i));
		return 0;
	}
	case SP_FN_STR_SUBSTRING: {
		size_t from = cp_offset(s[0], l[0], idx[0]);
		size_t to = cp_offset(s[0], l[0], idx[1]);
		if (to < from)
			to = from;
		a[0] = sp_value_string(s[0] + from, (uint32_t)(to - from));
		return 0;
	}
	case SP_FN_STR_CONCAT:
		return string_result(c, b, s[0], l[0], s[1], l[1], 0, &a[0]);
	case SP_FN_STR_INDEX_OF:
		p = memmem(s[0], l[0], s[1], l[1]);
		a[0] =
		    sp_value_int(p ? cp_count(s[0], (size_t)(p - s[0])) : -1);
		return 0;
	case SP_FN_STR_MATCHES:
		return match_computed(c, s[0], l[0], s[1], l[1], &a[0]);
	}
	return ex_fail(c, "unknown function");
}

int ex_call_math(struct sp_expr_ctx *c, struct sp_batch *b, int fn,
		 struct sp_value *a, uint8_t n)
{
	int64_t i[2] = {0, 0};
	double d[2] = {0, 0};
	int k[2] = {NUM_INT, NUM_INT};

	for (uint8_t j = 0; j < n; j++) {
		if (a[j].type == SP_NULL) {
			a[0] = sp_value_null();
			return 0;
		}
		k[j] = ex_operand(c, b, &a[j], ex_fn_names[fn], &i[j], &d[j]);
		if (k[j] < 0)
			return -EINVAL;
		if (k[j] == NUM_INT)
			d[j] = (double)i[j];
	}
	bool ints = k[0] == NUM_INT && k[1] == NUM_INT;
	switch (fn) {
	case SP_FN_MATH_ABS:
		if (ints && i[0] != INT64_MIN)
			a[0] = sp_value_int(i[0] < 0 ? -i[0] : i[0]);
		else
			a[0] = sp_value_double(fabs(d[0]));
		return 0;
	case SP_FN_MATH_MIN:
	case SP_FN_MATH_MAX: {
		bool first = fn == SP_FN_MATH_MIN ? i[0] <= i[1] : i[0] >= i[1];
		if (ints)
			a[0] = sp_value_int(first ? i[0] : i[1]);
		else if (isnan(d[0]) || isnan(d[1]))
			a[0] = sp_value_double(NAN);
		else
			a[0] = sp_value_double(fn == SP_FN_MATH_MIN
						   ? fmin(d[0], d[1])
						   : fmax(d[0], d[1]));
		return 0;
	}
	case SP_FN_MATH_FLOOR:
	case SP_FN_MATH_CEIL:
		if (ints)
			a[0] = sp_value_int(i[0]);
		else
			a[0] = sp_value_double(
			    fn == SP_FN_MATH_FLOOR ? floor(d[0]) : ceil(d[0]));
		return 0;
	case SP_FN_MATH_ROUND:
		if (ints) {
			a[0] = sp_value_int(i[0]);
		} else {
			/* Java's Math.round: floor(x + 0.5); a value beyond
			 * the int range is its own rounding, kept a double
			 * (not clamped to INT64_MAX) */
			double r = floor(d[0] + 0.5);
			a[0] = isnan(r) ? sp_value_int(0)
			       : r >= 9.2233720368547758e18 ||
				       r < -9.2233720368547758e18
				   ? sp_value_double(d[0])
				   : sp_value_int((int64_t)r);
		}
		return 0;
	case SP_FN_MATH_SQRT:
		a[0] = sp_value_double(sqrt(d[0]));
		return 0;
	}
	return ex_fail(c, "unknown function");
}
