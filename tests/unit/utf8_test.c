/* Unit tests for core/utf8.c: validity, cuts on character boundaries and
 * lossy copies. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/utf8.h"

Test(utf8, is_valid)
{
	cr_assert(sp_utf8_is_valid("", 0));
	cr_assert(sp_utf8_is_valid("caf\xc3\xa9 \xf0\x9f\x98\x80", 10));
	cr_assert_not(sp_utf8_is_valid("\xff", 1));
	cr_assert_not(sp_utf8_is_valid("a\xc3", 2));
	cr_assert_not(sp_utf8_is_valid("\xc0\xaf", 2));
	cr_assert_not(sp_utf8_is_valid("\xed\xa0\x80", 3));
	cr_assert_not(sp_utf8_is_valid("\xf4\x90\x80\x80", 4));
}

Test(utf8, cut_keeps_characters_whole)
{
	const char *s = "ab\xc3\xa9\xe2\x82\xac";

	cr_assert_eq(sp_utf8_cut(s, 7, 2), 2);
	cr_assert_eq(sp_utf8_cut(s, 7, 3), 2);
	cr_assert_eq(sp_utf8_cut(s, 7, 4), 4);
	cr_assert_eq(sp_utf8_cut(s, 7, 5), 4);
	cr_assert_eq(sp_utf8_cut(s, 7, 6), 4);
	cr_assert_eq(sp_utf8_cut(s, 7, 7), 7);
	cr_assert_eq(sp_utf8_cut(s, 7, 100), 7);
	/* invalid bytes count as one character each */
	cr_assert_eq(sp_utf8_cut("\xff\xfe\xfd", 3, 2), 2);
}

Test(utf8, sanitize_replaces_and_cuts)
{
	char out[16];

	cr_assert_eq(sp_utf8_sanitize(out, sizeof(out), "a\xff" "b", 3), 5);
	cr_assert_str_eq(out, "a\xef\xbf\xbd" "b");
	/* no room for the whole euro sign: cut before it */
	cr_assert_eq(sp_utf8_sanitize(out, 5, "abc\xe2\x82\xac", 6), 3);
	cr_assert_str_eq(out, "abc");
	cr_assert_eq(sp_utf8_sanitize(out, 1, "abc", 3), 0);
	cr_assert_str_eq(out, "");
}
