/*
 * core/hugemem.h: large buffers come 2 MiB-aligned, behave as malloc's
 * (written end to end, grown by realloc, freed by free or sp_huge_free),
 * and in the kernel's THP "madvise" mode their mapping is eligible for
 * huge pages; small ones are plain malloc.  A growable buffer marked as
 * holding such memory grows into more of it, its bytes kept.  A freed
 * buffer is kept (8 MiB at most) for the next request of its size, until
 * trimmed.
 */
#include <criterion/criterion.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/prctl.h>

#include "core/buf.h"
#include "core/hugemem.h"

/* Huge pages where advised: the kernel's mode, and not switched off for
 * this process (prctl, as some container runtimes do). */
static bool thp_madvise_mode(void)
{
	FILE *f = fopen("/sys/kernel/mm/transparent_hugepage/enabled", "r");
	char line[128] = "";

	if (!f || prctl(PR_GET_THP_DISABLE, 0, 0, 0, 0) == 1) {
		if (f)
			fclose(f);
		return false;
	}
	bool got = fgets(line, sizeof(line), f) != NULL;
	fclose(f);
	return got && strstr(line, "[madvise]");
}

/* The THPeligible line of the mapping in /proc/self/smaps that holds p:
 * 1 or 0, -1 when there is none. */
static int thp_eligible(const void *p)
{
	FILE *f = fopen("/proc/self/smaps", "r");
	char line[512];
	bool in = false;
	int v = -1;

	cr_assert(f);
	while (fgets(line, sizeof(line), f)) {
		unsigned long lo, hi;
		if (sscanf(line, "%lx-%lx ", &lo, &hi) == 2 &&
		    strchr(line, '-') < strchr(line, ' ')) {
			in = (uintptr_t)p >= lo && (uintptr_t)p < hi;
			continue;
		}
		if (in && sscanf(line, "THPeligible: %d", &v) == 1)
			break;
	}
	fclose(f);
	return v;
}

Test(hugemem, large_buffers_are_aligned_and_act_as_mallocs)
{
	size_t size = SP_HUGE_PAGE + SP_HUGE_PAGE / 4;
	unsigned char *p = sp_huge_malloc(size);

	cr_assert_not_null(p);
	cr_assert_eq((uintptr_t)p % SP_HUGE_PAGE, 0, "%p", (void *)p);
	for (size_t i = 0; i < size; i++)
		p[i] = (unsigned char)(i * 31);
	if (thp_madvise_mode())
		cr_expect_eq(thp_eligible(p), 1,
			     "the advised huge page is not eligible");
	unsigned char *q = realloc(p, 3 * SP_HUGE_PAGE);
	cr_assert_not_null(q);
	for (size_t i = 0; i < size; i++)
		if (q[i] != (unsigned char)(i * 31))
			cr_assert_fail("byte %zu changed by realloc", i);
	free(q); /* free() takes it as well */

	p = sp_huge_malloc(size);
	cr_assert_not_null(p);
	memset(p, 1, size);
	sp_huge_free(p, size);
	sp_huge_free(NULL, size);
}

Test(hugemem, small_buffers_are_plain_mallocs)
{
	char *p = sp_huge_malloc(100);

	cr_assert_not_null(p);
	memset(p, 'x', 100);
	p = realloc(p, 1000);
	cr_assert_not_null(p);
	cr_assert_eq(p[99], 'x');
	sp_huge_free(p, 1000);
}

Test(hugemem, a_huge_growable_buffer_grows_into_huge_memory)
{
	struct sp_buf b;
	size_t size = SP_HUGE_PAGE + 4096;

	sp_buf_init(&b);
	b.data = sp_huge_malloc(size);
	cr_assert_not_null(b.data);
	b.cap = size;
	b.huge = true;
	for (size_t i = 0; i < size; i++)
		cr_assert_eq(sp_buf_putc(&b, (char)(i * 7)), 0);
	/* one more byte than it holds: it moves */
	cr_assert_eq(sp_buf_append(&b, "xyz", 3), 0);
	cr_assert(b.huge);
	cr_assert_geq(b.cap, size + 3);
	cr_assert_eq((uintptr_t)b.data % SP_HUGE_PAGE, 0, "%p",
		     (void *)b.data);
	for (size_t i = 0; i < size; i++)
		if (b.data[i] != (char)(i * 7))
			cr_assert_fail("byte %zu changed by the move", i);
	cr_assert_eq(memcmp(b.data + size, "xyz", 3), 0);
	if (thp_madvise_mode())
		cr_expect_eq(thp_eligible(b.data), 1,
			     "the grown buffer is not advised");
	sp_buf_fini(&b);
	cr_assert_null(b.data);
	cr_assert(!b.huge);
}

Test(hugemem, a_freed_buffer_is_kept_for_the_same_size_until_trimmed)
{
	size_t size = SP_HUGE_PAGE, other = 2 * SP_HUGE_PAGE;
	char *p = sp_huge_malloc(size);

	cr_assert_not_null(p);
	memset(p, 'a', size);
	sp_huge_free(p, size);
	/* another size does not take it; the same size does, as it was */
	char *q = sp_huge_malloc(other);
	cr_assert_not_null(q);
	cr_assert_neq(q, p);
	char *r = sp_huge_malloc(size);
	cr_assert_eq(r, p, "the kept buffer was not given again");
	cr_assert_eq(r[0], 'a');
	cr_assert_eq(r[size - 1], 'a');
	if (thp_madvise_mode())
		cr_expect_eq(thp_eligible(r), 1, "the kept buffer lost advice");
	sp_huge_free(q, other);
	sp_huge_free(r, size);

	cr_assert_eq(sp_huge_kept(), size + other);

	/* trimmed, both are freed */
	sp_huge_trim();
	cr_assert_eq(sp_huge_kept(), 0);
	/* a small buffer is never kept */
	sp_huge_free(malloc(4096), 4096);
	cr_assert_eq(sp_huge_kept(), 0);
}

Test(hugemem, at_most_8_mib_are_kept)
{
	size_t size = 2 * SP_HUGE_PAGE; /* 4 MiB: two fit */
	char *p[3];

	for (int i = 0; i < 3; i++) {
		p[i] = sp_huge_malloc(size);
		cr_assert_not_null(p[i]);
		memset(p[i], i, size);
	}
	for (int i = 0; i < 3; i++)
		sp_huge_free(p[i], size);
	/* the first two are kept, the third went back to malloc */
	cr_assert_eq(sp_huge_kept(), 2 * size);
	char *a = sp_huge_malloc(size), *b = sp_huge_malloc(size);
	cr_assert((a == p[0] && b == p[1]) || (a == p[1] && b == p[0]),
		  "the first two freed were not the ones kept");
	cr_assert_eq(sp_huge_kept(), 0);
	sp_huge_free(a, size);
	sp_huge_free(b, size);
	sp_huge_trim();
}
