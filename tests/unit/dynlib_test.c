/* Unit tests for core/dynlib.c: loading a library on first use, once,
 * and the errors that name what is missing. */
#include <criterion/criterion.h>
#include <dlfcn.h>
#include <errno.h>
#include <pthread.h>
#include <string.h>
#include <zstd.h>

#include "core/dynlib.h"

/* a client table as the wrapper headers make them */
#define TEST_ZSTD_FUNCS(X)                                                     \
	X(ZSTD_versionNumber)                                                  \
	X(ZSTD_compressBound)
SP_DYNLIB_DECLARE(testzstd, TEST_ZSTD_FUNCS)
SP_DYNLIB_DEFINE(testzstd, TEST_ZSTD_FUNCS, "libzstd.so.1", "compression")

static atomic_int resolves;

/* counts its calls */
static int resolve_zstd(void *handle, const char **missing)
{
	void *fn;

	atomic_fetch_add(&resolves, 1);
	return sp_dynlib_sym(handle, "ZSTD_versionNumber", &fn, missing)
		   ? 0
		   : -ENOENT;
}

static int resolve_missing(void *handle, const char **missing)
{
	void *unused;

	return (sp_dynlib_sym(handle, "ZSTD_versionNumber", &unused, missing) &&
		sp_dynlib_sym(handle, "sp_no_such_function", &unused, missing))
		   ? 0
		   : -ENOENT;
}

Test(dynlib, loads_once_and_calls_through_the_table)
{
	char err[256] = "";

	cr_assert_eq(sp_testzstd_load(err, sizeof(err)), 0, "%s", err);
	cr_assert_eq(sp_testzstd()->ZSTD_versionNumber(), ZSTD_versionNumber());
	cr_assert_eq(sp_testzstd()->ZSTD_compressBound(1000),
		     ZSTD_compressBound(1000));
	cr_assert_eq(sp_testzstd_load(err, sizeof(err)), 0);
}

Test(dynlib, the_first_call_through_the_table_loads_it)
{
	cr_assert_eq(atomic_load(&sp_testzstd_lib.state), 0);
	cr_assert_eq(sp_testzstd()->ZSTD_compressBound(0),
		     ZSTD_compressBound(0));
	cr_assert_eq(atomic_load(&sp_testzstd_lib.state), 1);
}

static struct sp_dynlib race_lib =
    SP_DYNLIB_INIT("libzstd.so.1", "compression", resolve_zstd);

static void *load_in_thread(void *arg)
{
	*(int *)arg = sp_dynlib_load(&race_lib, NULL, 0);
	return NULL;
}

Test(dynlib, threads_that_race_load_it_once)
{
	pthread_t t[8];
	int rc[8];

	atomic_store(&resolves, 0);
	for (int i = 0; i < 8; i++)
		cr_assert_eq(
		    pthread_create(&t[i], NULL, load_in_thread, &rc[i]), 0);
	for (int i = 0; i < 8; i++) {
		pthread_join(t[i], NULL);
		cr_assert_eq(rc[i], 0);
	}
	cr_assert_eq(atomic_load(&resolves), 1);
}

Test(dynlib, a_missing_library_is_an_error_naming_it_and_its_use)
{
	static struct sp_dynlib lib = SP_DYNLIB_INIT(
	    "libspate-no-such-library.so.9", "the test stage", resolve_zstd);
	char err[256] = "";

	cr_assert_eq(sp_dynlib_load(&lib, err, sizeof(err)), -ELIBACC);
	cr_assert(strstr(err, "the test stage needs "
			      "libspate-no-such-library.so.9, which cannot be "
			      "loaded: "),
		  "%s", err);
	/* the first answer stands */
	err[0] = '\0';
	cr_assert_eq(sp_dynlib_load(&lib, err, sizeof(err)), -ELIBACC);
	cr_assert(strstr(err, "libspate-no-such-library.so.9"), "%s", err);
}

Test(dynlib, a_missing_function_is_an_error_naming_it)
{
	static struct sp_dynlib lib =
	    SP_DYNLIB_INIT("libzstd.so.1", "compression", resolve_missing);
	char err[256] = "";

	cr_assert_eq(sp_dynlib_load(&lib, err, sizeof(err)), -ELIBACC);
	cr_assert_str_eq(err, "compression needs libzstd.so.1 with "
			      "sp_no_such_function, which this one lacks");
}

Test(dynlib, a_call_without_its_library_ends_the_process_with_the_reason,
     .exit_code = 70)
{
	static struct sp_dynlib lib = SP_DYNLIB_INIT(
	    "libspate-no-such-library.so.9", "the test stage", resolve_zstd);

	sp_dynlib_need(&lib);
	cr_assert_fail("sp_dynlib_need returned without its library");
}
