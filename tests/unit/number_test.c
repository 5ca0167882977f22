/* Unit tests for core/number.c: what reads as a number, and conversion
 * to double that matches strtod's correctly rounded result at any length
 * (the fast path and the slow one). */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/number.h"

Test(number, syntax)
{
	static const struct {
		const char *s;
		bool ok, is_int;
	} cases[] = {
		{"0", true, true},	   {"-12", true, true},
		{"+7", true, true},	   {"1.5", true, false},
		{".5", true, false},	   {"5.", true, false},
		{"1e5", true, false},	   {"-2.5E-3", true, false},
		{"", false, false},	   {"-", false, false},
		{".", false, false},	   {"1e", false, false},
		{"1e+", false, false},	   {"0x10", false, false},
		{"inf", false, false},	   {"nan", false, false},
		{" 1", false, false},	   {"1 ", false, false},
		{"1.2.3", false, false},   {"--1", false, false},
	};
	for (size_t i = 0; i < sizeof(cases) / sizeof(cases[0]); i++) {
		bool is_int = !cases[i].is_int;
		bool ok = sp_number_syntax(cases[i].s, strlen(cases[i].s),
					   &is_int);
		cr_assert_eq(ok, cases[i].ok, "'%s'", cases[i].s);
		if (ok)
			cr_assert_eq(is_int, cases[i].is_int, "'%s'",
				     cases[i].s);
	}
}

static void same_as_strtod(const char *s)
{
	double got = 0, want = strtod(s, NULL);
	int rc = sp_number_to_double(s, strlen(s), &got);

	cr_assert(rc == 0 || rc == -ERANGE, "'%s': %d", s, rc);
	cr_assert(memcmp(&got, &want, sizeof(got)) == 0,
		  "'%s': %.17g, strtod %.17g", s, got, want);
}

Test(number, matches_strtod_on_random_text)
{
	char s[600];

	srand(7);
	for (int n = 0; n < 20000; n++) {
		size_t len = 0;
		if (rand() % 2)
			s[len++] = '-';
		int ndig = 1 + rand() % (n % 50 == 0 ? 500 : 20);
		int point = rand() % (ndig + 1);
		for (int d = 0; d < ndig; d++) {
			if (d == point && rand() % 2)
				s[len++] = '.';
			s[len++] = (char)('0' + rand() % 10);
		}
		if (rand() % 4 == 0)
			len += (size_t)sprintf(s + len, "e%d",
					       rand() % 700 - 350);
		s[len] = '\0';
		same_as_strtod(s);
	}
	same_as_strtod("0.1");
	same_as_strtod("-0");
	same_as_strtod("9007199254740993"); /* 2^53 + 1: needs strtod */
	same_as_strtod("1e22");
	same_as_strtod("1e23");
}

Test(number, overflow_and_garbage)
{
	double d = 0;

	cr_assert_eq(sp_number_to_double("1e400", 5, &d), -ERANGE);
	cr_assert(isinf(d) && d > 0);
	cr_assert_eq(sp_number_to_double("-1e400", 6, &d), -ERANGE);
	cr_assert(isinf(d) && d < 0);
	cr_assert_eq(sp_number_to_double("12abc", 5, &d), -EINVAL);
	cr_assert_eq(sp_number_to_double("1.5", 2, &d), 0); /* "1." */
	cr_assert_eq(d, 1.0);
}
