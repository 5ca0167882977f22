/* Unit tests for record/json.c: escapes, the value writer, the scanner and
 * member lookup. */
#include <criterion/criterion.h>
#include <errno.h>
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "core/buf.h"
#include "record/json.h"

static void expect_unescape(const char *in, const char *want, size_t wlen)
{
	char out[256];
	ssize_t n = sp_json_unescape(in, strlen(in), out);

	cr_assert_eq(n, (ssize_t)wlen, "unescape(%s) gave %zd bytes", in, n);
	cr_assert(memcmp(out, want, wlen) == 0, "unescape(%s) bytes", in);
}

Test(json, unescape_simple_escapes)
{
	expect_unescape("plain", "plain", 5);
	expect_unescape("a\\\"b\\\\c\\/d", "a\"b\\c/d", 7);
	expect_unescape("\\b\\f\\n\\r\\t", "\b\f\n\r\t", 5);
	expect_unescape("", "", 0);
	expect_unescape("\\u0000x", "\0x", 2);
}

Test(json, unescape_unicode_to_utf8)
{
	expect_unescape("caf\\u00e9", "caf\xc3\xa9", 5);
	expect_unescape("\\u20AC", "\xe2\x82\xac", 3);
	expect_unescape("\\u0041\\u007a", "Az", 2);
	/* U+1F600 as a surrogate pair */
	expect_unescape("\\ud83d\\ude00!", "\xf0\x9f\x98\x80!", 5);
	expect_unescape("\\uDBFF\\uDFFF", "\xf4\x8f\xbf\xbf", 4);
}

Test(json, unescape_rejects_bad_escapes)
{
	char out[64];
	const char *bad[] = {"\\x",	"\\",	    "\\u12",	      "\\u12g4",
			     "\\ud83d", "\\ud83dx", "\\ud83d\\u0041", "\\ude00",
			     "ab\\q"};

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		cr_assert_eq(sp_json_unescape(bad[i], strlen(bad[i]), out),
			     -EINVAL, "accepted %s", bad[i]);
}

static void expect_buf(struct sp_buf *b, const char *want)
{
	size_t n = strlen(want);

	cr_assert_eq(b->len, n, "got %.*s, want %s", (int)b->len, b->data,
		     want);
	cr_assert(memcmp(b->data, want, n) == 0, "got %.*s, want %s",
		  (int)b->len, b->data, want);
}

Test(json, append_string_escapes_and_round_trips)
{
	struct sp_buf b;
	const char in[] = "q\"b\\s/\n\t\r\b\f\x01\x1f caf\xc3\xa9";
	char back[64];

	sp_buf_init(&b);
	cr_assert_eq(sp_json_append_string(&b, in, sizeof(in) - 1), 0);
	expect_buf(&b, "\"q\\\"b\\\\s/\\n\\t\\r\\b\\f\\u0001\\u001f "
		       "caf\xc3\xa9\"");
	ssize_t n = sp_json_unescape(b.data + 1, b.len - 2, back);
	cr_assert_eq(n, (ssize_t)sizeof(in) - 1);
	cr_assert(memcmp(back, in, sizeof(in) - 1) == 0);
	b.len = 0;
	cr_assert_eq(sp_json_append_string(&b, "", 0), 0);
	expect_buf(&b, "\"\"");
	sp_buf_fini(&b);
}

Test(json, append_string_long_input)
{
	struct sp_buf b;
	size_t n = 100000;
	char *s = malloc(n);

	for (size_t i = 0; i < n; i++)
		s[i] = i % 7 == 0 ? '"' : 'a';
	sp_buf_init(&b);
	cr_assert_eq(sp_json_append_string(&b, s, n), 0);
	char *back = malloc(b.len);
	ssize_t m = sp_json_unescape(b.data + 1, b.len - 2, back);
	cr_assert_eq(m, (ssize_t)n);
	cr_assert(memcmp(back, s, n) == 0);
	free(back);
	free(s);
	sp_buf_fini(&b);
}

Test(json, append_string_replaces_invalid_utf8)
{
	struct sp_buf b;

	sp_buf_init(&b);
	/* a lone continuation byte, 0xff, a cut 2-byte character at the
	 * end, an overlong '/', a surrogate; valid characters kept */
	const char in[] = "a\x80" "b\xff\xc3\xa9 \xc0\xaf \xed\xa0\x80 \xe2\x82";
	cr_assert_eq(sp_json_append_string(&b, in, sizeof(in) - 1), 0);
	expect_buf(&b, "\"a\xef\xbf\xbd" "b\xef\xbf\xbd\xc3\xa9 "
		       "\xef\xbf\xbd\xef\xbf\xbd "
		       "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd "
		       "\xef\xbf\xbd\xef\xbf\xbd\"");
	/* past the 16-byte blocks too */
	b.len = 0;
	const char longer[] = "0123456789abcdef0123456789\xfe\xf0\x9f\x98\x80";
	cr_assert_eq(sp_json_append_string(&b, longer, sizeof(longer) - 1), 0);
	expect_buf(&b, "\"0123456789abcdef0123456789\xef\xbf\xbd"
		       "\xf0\x9f\x98\x80\"");
	sp_buf_fini(&b);
}

static void expect_value(struct sp_value v, const char *want)
{
	struct sp_buf b;

	sp_buf_init(&b);
	cr_assert_eq(sp_json_append_value(&b, &v), 0);
	expect_buf(&b, want);
	sp_buf_fini(&b);
}

static struct sp_value text_value(enum sp_type t, const char *s, uint8_t flags)
{
	struct sp_value v = {
	    .type = t, .flags = flags, .len = (uint32_t)strlen(s)};
	v.str = s;
	return v;
}

Test(json, append_value_keeps_source_text)
{
	expect_value(text_value(SP_DOUBLE, "12345.50", SP_VALUE_TEXT),
		     "12345.50");
	expect_value(text_value(SP_DOUBLE, "1e3", SP_VALUE_TEXT), "1e3");
	expect_value(text_value(SP_INT, "-0", SP_VALUE_TEXT), "-0");
	expect_value(text_value(SP_STRING, "a\\\"b\\u00e9", SP_VALUE_ESCAPED),
		     "\"a\\\"b\\u00e9\"");
	expect_value(text_value(SP_OBJECT, "{ \"a\" : [1, 2] }", 0),
		     "{ \"a\" : [1, 2] }");
	expect_value(text_value(SP_ARRAY, "[\"x\",{}]", 0), "[\"x\",{}]");
	expect_value(text_value(SP_OBJECT, "", 0), "{}");
	expect_value(text_value(SP_ARRAY, "", 0), "[]");
}

Test(json, append_value_binary_values)
{
	expect_value(sp_value_null(), "null");
	expect_value(sp_value_bool(true), "true");
	expect_value(sp_value_bool(false), "false");
	expect_value(sp_value_int(0), "0");
	expect_value(sp_value_int(7), "7");
	expect_value(sp_value_int(-42), "-42");
	expect_value(sp_value_int(1234567890123LL), "1234567890123");
	expect_value(sp_value_int(INT64_MAX), "9223372036854775807");
	expect_value(sp_value_int(INT64_MIN), "-9223372036854775808");
	expect_value(sp_value_double(0.1), "0.1");
	expect_value(sp_value_double(3), "3.0");
	expect_value(sp_value_double(-2.5e-300), "-2.5e-300");
	expect_value(sp_value_double(NAN), "null");
	expect_value(sp_value_double(INFINITY), "null");
	expect_value(sp_value_double(-INFINITY), "null");
	expect_value(sp_value_string("say \"hi\"\n", 9),
		     "\"say \\\"hi\\\"\\n\"");
}

Test(json, append_value_every_int_reads_back)
{
	struct sp_buf b;
	sp_buf_init(&b);
	for (int i = 0; i < 63; i++) {
		int64_t v = (int64_t)1 << i;
		for (int64_t d = -1; d <= 1; d++) {
			int64_t x[2] = {v + d, -(v + d)};
			for (int s = 0; s < 2; s++) {
				char want[32];
				snprintf(want, sizeof(want), "%lld",
					 (long long)x[s]);
				b.len = 0;
				struct sp_value val = sp_value_int(x[s]);
				cr_assert_eq(sp_json_append_value(&b, &val), 0);
				expect_buf(&b, want);
			}
		}
	}
	sp_buf_fini(&b);
}

/* scans s whole; returns the value and checks the scanner consumed it */
static struct sp_value scan_all(const char *s)
{
	const char *p = s, *why = NULL;
	struct sp_value v;

	cr_assert_eq(sp_json_scan_value(&p, s + strlen(s), &v, &why), 0,
		     "scan(%s) failed: %s", s, why ? why : "");
	return v;
}

Test(json, scan_value_types)
{
	struct sp_value v = scan_all("  \"a\\nb\"");
	cr_assert_eq(v.type, SP_STRING);
	cr_assert_eq(v.flags, SP_VALUE_ESCAPED);
	cr_assert_eq(v.len, 4);
	cr_assert(memcmp(v.str, "a\\nb", 4) == 0);

	v = scan_all("\"plain\"");
	cr_assert_eq(v.flags, SP_VALUE_JSON_SAFE); /* copied as it is */
	cr_assert_eq(v.len, 5);

	v = scan_all("12345.50");
	cr_assert_eq(v.type, SP_DOUBLE);
	cr_assert_eq(v.flags, SP_VALUE_TEXT);
	cr_assert_eq(v.len, 8);

	v = scan_all("-17");
	cr_assert_eq(v.type, SP_INT);
	cr_assert_eq(v.flags, SP_VALUE_TEXT);
	v = scan_all("1E+3");
	cr_assert_eq(v.type, SP_DOUBLE);
	v = scan_all("0");
	cr_assert_eq(v.type, SP_INT);

	v = scan_all("true");
	cr_assert(v.type == SP_BOOL && v.b);
	v = scan_all("false");
	cr_assert(v.type == SP_BOOL && !v.b);
	v = scan_all("null");
	cr_assert_eq(v.type, SP_NULL);

	const char *obj = "{ \"a\" : [1, {\"b\": \"}\"}], \"c\":{} }";
	v = scan_all(obj);
	cr_assert_eq(v.type, SP_OBJECT);
	cr_assert_eq(v.len, strlen(obj));
	cr_assert_eq(v.str, obj);
	const char *arr = "[[], [[]], \"]\"]";
	v = scan_all(arr);
	cr_assert_eq(v.type, SP_ARRAY);
	cr_assert_eq(v.len, strlen(arr));
}

Test(json, scan_value_stops_after_the_value)
{
	const char *s = "[1,2] ,x", *p = s, *why;
	struct sp_value v;

	cr_assert_eq(sp_json_scan_value(&p, s + strlen(s), &v, &why), 0);
	cr_assert_eq(p, s + 5);
	cr_assert_eq(v.len, 5);
}

/* expects an error with reason why at byte offset at */
static void expect_scan_error(const char *s, size_t len, const char *why,
			      size_t at)
{
	const char *p = s, *got = NULL;
	struct sp_value v;

	cr_assert_eq(sp_json_scan_value(&p, s + len, &v, &got), -EINVAL,
		     "accepted %.*s", (int)len, s);
	cr_assert_str_eq(got, why, "input %.*s", (int)len, s);
	cr_assert_eq((size_t)(p - s), at, "input %.*s: error at %zu", (int)len,
		     s, (size_t)(p - s));
}

#define SCAN_ERR(s, why, at) expect_scan_error(s, sizeof(s) - 1, why, at)

Test(json, scan_value_errors)
{
	SCAN_ERR("", "expected a value", 0);
	SCAN_ERR("  ", "expected a value", 2);
	SCAN_ERR("tru", "expected a value", 0);
	SCAN_ERR("nulls", "expected a value", 0);
	SCAN_ERR("01", "invalid number", 0);
	SCAN_ERR("-", "invalid number", 0);
	SCAN_ERR("1.", "invalid number", 0);
	SCAN_ERR("1e", "invalid number", 0);
	SCAN_ERR("12abc", "invalid number", 0);
	SCAN_ERR(" \"abc", "unterminated string", 1);
	SCAN_ERR("\"a\\qb\"", "invalid escape in string", 2);
	SCAN_ERR("\"a\\u12\"", "invalid \\u escape in string", 2);
	SCAN_ERR("\"\\ud800\"", "unpaired surrogate in string", 1);
	SCAN_ERR("\"ab\x01\"", "unescaped control character in string", 3);
	SCAN_ERR("\"ab\0\"", "NUL byte in string", 3);
	SCAN_ERR("\"ab\xc3(\"", "invalid UTF-8 in string", 3);
	SCAN_ERR("\"\xed\xa0\x80\"", "invalid UTF-8 in string", 1);
	SCAN_ERR("\"\xc0\xaf\"", "invalid UTF-8 in string", 1);
	SCAN_ERR("\"\xf4\x90\x80\x80\"", "invalid UTF-8 in string", 1);
	SCAN_ERR("\"\xe2\x82\"", "invalid UTF-8 in string", 1);
	SCAN_ERR("{\"a\" 1}", "expected ':' after object key", 5);
	SCAN_ERR("{\"a\":1,}", "expected object key after ','", 7);
	SCAN_ERR("{1:2}", "expected object key or '}'", 1);
	SCAN_ERR("{\"a\":1 \"b\":2}", "expected ',' or '}' after object member",
		 7);
	SCAN_ERR("[1 2]", "expected ',' or ']' after array element", 3);
	SCAN_ERR("[1,]", "expected a value", 3);
	SCAN_ERR("[", "expected a value", 1);
	SCAN_ERR("{\"a\":{\"b\":[1,2",
		 "expected ',' or ']' after array element", 14);
}

Test(json, scan_value_accepts_valid_utf8)
{
	struct sp_value v = scan_all("\"\xc3\xa9\xe2\x82\xac\xf0\x9f\x98\x80"
				     "\xef\xbf\xbf\"");
	cr_assert_eq(v.type, SP_STRING);
	cr_assert_eq(v.len, 12);
}

/* depth nested empty arrays: [[[...]]] */
static char *nested(unsigned depth, size_t *len)
{
	char *s = malloc(2 * (size_t)depth + 1);

	for (unsigned i = 0; i < depth; i++) {
		s[i] = '[';
		s[2 * depth - 1 - i] = ']';
	}
	s[2 * depth] = '\0';
	*len = 2 * (size_t)depth;
	return s;
}

Test(json, scan_value_depth_limit)
{
	size_t len;
	char *ok = nested(SP_JSON_MAX_DEPTH, &len);
	const char *p = ok, *why = NULL;
	struct sp_value v;

	cr_assert_eq(sp_json_scan_value(&p, ok + len, &v, &why), 0);
	cr_assert_eq(v.len, len);
	/* one enclosing level makes the same text one too deep */
	p = ok;
	cr_assert_eq(sp_json_scan_value_at(&p, ok + len, 1, &v, &why), -EINVAL);
	cr_assert_str_eq(why, "nesting deeper than 512");
	cr_assert_eq(p, ok + SP_JSON_MAX_DEPTH - 1);
	free(ok);

	char *deep = nested(10000, &len);
	p = deep;
	cr_assert_eq(sp_json_scan_value(&p, deep + len, &v, &why), -EINVAL);
	cr_assert_str_eq(why, "nesting deeper than 512");
	cr_assert_eq(p, deep + SP_JSON_MAX_DEPTH);
	free(deep);

	/* deep objects too, and unterminated */
	size_t n = 10000;
	char *obj = malloc(n * 5 + 1);
	for (size_t i = 0; i < n; i++)
		memcpy(obj + i * 5, "{\"a\":", 5);
	p = obj;
	cr_assert_eq(sp_json_scan_value(&p, obj + n * 5, &v, &why), -EINVAL);
	cr_assert_str_eq(why, "nesting deeper than 512");
	cr_assert_eq(p, obj + 5 * SP_JSON_MAX_DEPTH);
	free(obj);
}

Test(json, scan_string_reports_flags_and_end)
{
	const char *s = "ab\\\"cd\" tail", *p = s, *why;
	uint8_t fl = 0;

	cr_assert_eq(sp_json_scan_string(&p, s + strlen(s), &fl, &why), 0);
	cr_assert_eq(p, s + 6);
	cr_assert_eq(fl, SP_VALUE_ESCAPED);

	/* long strings cross the 16-byte fast path at every alignment */
	char buf[80];
	for (int at = 0; at < 40; at++) {
		memset(buf, 'x', sizeof(buf));
		buf[at] = '"';
		p = buf;
		fl = 0;
		cr_assert_eq(
		    sp_json_scan_string(&p, buf + sizeof(buf), &fl, &why), 0);
		cr_assert_eq(p, buf + at);
		cr_assert_eq(fl, 0);
		buf[at] = '\x02';
		p = buf;
		cr_assert_eq(
		    sp_json_scan_string(&p, buf + sizeof(buf), &fl, &why),
		    -EINVAL);
		cr_assert_eq(p, buf + at);
	}
}

/* Strings that end near the end of the buffer (a line's last value): each
 * length up to 40, exactly allocated so that a read past the end is an
 * ASan error, with the closing quote, an escape or a control byte at each
 * position, and without a closing quote. */
Test(json, scan_string_near_the_end_of_the_buffer)
{
	for (size_t len = 1; len <= 40; len++) {
		char *buf = malloc(len);
		const char *p, *why;
		uint8_t fl;

		cr_assert_not_null(buf);
		memset(buf, 'x', len);
		p = buf;
		fl = 0;
		cr_assert_eq(sp_json_scan_string(&p, buf + len, &fl, &why),
			     -EINVAL, "len %zu", len);
		cr_assert_str_eq(why, "unterminated string");
		for (size_t at = 0; at < len; at++) {
			memset(buf, 'x', len);
			buf[at] = '"';
			p = buf;
			fl = 0;
			cr_assert_eq(
			    sp_json_scan_string(&p, buf + len, &fl, &why), 0);
			cr_assert_eq(p, buf + at, "len %zu at %zu", len, at);
			cr_assert_eq(fl, 0);

			buf[at] = '\x1f';
			p = buf;
			cr_assert_eq(
			    sp_json_scan_string(&p, buf + len, &fl, &why),
			    -EINVAL);
			cr_assert_eq(p, buf + at, "len %zu at %zu", len, at);

			/* an escaped quote at at, the closing quote last */
			if (at + 2 >= len)
				continue;
			buf[at] = '\\';
			buf[at + 1] = '"';
			buf[len - 1] = '"';
			p = buf;
			fl = 0;
			cr_assert_eq(
			    sp_json_scan_string(&p, buf + len, &fl, &why), 0);
			cr_assert_eq(p, buf + len - 1, "len %zu at %zu", len,
				     at);
			cr_assert_eq(fl, SP_VALUE_ESCAPED);
		}
		free(buf);
	}
}

Test(json, object_get_members)
{
	const char *obj =
	    "{ \"a\" : 1, \"b\":{\"c\":\"x\\\"y\"}, \"arr\":[1,2],"
	    "\"a\\u0062\":true, \"q\\\"k\":null }";
	size_t len = strlen(obj);
	struct sp_value v;

	cr_assert_eq(sp_json_object_get(obj, len, "a", 1, &v), 0);
	cr_assert_eq(v.type, SP_INT);
	cr_assert(v.len == 1 && v.str[0] == '1');

	cr_assert_eq(sp_json_object_get(obj, len, "b", 1, &v), 0);
	cr_assert_eq(v.type, SP_OBJECT);
	cr_assert_eq(v.len, strlen("{\"c\":\"x\\\"y\"}"));
	struct sp_value c;
	cr_assert_eq(sp_json_object_get(v.str, v.len, "c", 1, &c), 0);
	cr_assert_eq(c.type, SP_STRING);
	cr_assert_eq(c.flags, SP_VALUE_ESCAPED);
	cr_assert(c.len == 4 && memcmp(c.str, "x\\\"y", 4) == 0);

	cr_assert_eq(sp_json_object_get(obj, len, "arr", 3, &v), 0);
	cr_assert_eq(v.type, SP_ARRAY);
	/* key with escapes is compared after unescaping */
	cr_assert_eq(sp_json_object_get(obj, len, "ab", 2, &v), 0);
	cr_assert(v.type == SP_BOOL && v.b);
	cr_assert_eq(sp_json_object_get(obj, len, "q\"k", 3, &v), 0);
	cr_assert_eq(v.type, SP_NULL);

	cr_assert_eq(sp_json_object_get(obj, len, "ar", 2, &v), -ENOENT);
	cr_assert_eq(sp_json_object_get(obj, len, "c", 1, &v), -ENOENT);
	cr_assert_eq(sp_json_object_get("{}", 2, "a", 1, &v), -ENOENT);
	cr_assert_eq(sp_json_object_get("[1]", 3, "a", 1, &v), -EINVAL);
	cr_assert_eq(sp_json_object_get("{\"x\":1", 6, "a", 1, &v), -EINVAL);
	cr_assert_eq(sp_json_object_get("{\"x\" 1}", 7, "a", 1, &v), -EINVAL);
	cr_assert_eq(sp_json_object_get("", 0, "a", 1, &v), -EINVAL);
}
