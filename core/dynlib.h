/*
 * A shared library loaded when it is first needed instead of at start:
 * the clients of S3 (libcurl), PostgreSQL (libpq), MariaDB (libmariadb)
 * and NATS (libnats) bring some forty libraries with them, whose loading
 * took 14 of the 19 ms that every spate process spent starting, whether
 * its flow used them or not.
 *
 * Each client's wrapper header (io/curl_api.h, db/pq_api.h,
 * db/mysql_api.h, cluster/nats_api.h) lists the functions spate calls,
 * keeps their declarations from the library's own header, and turns each
 * call into a call through a table of pointers that sp_dynlib_load fills.
 * The module that opens a connection loads the library first and reports
 * a failure as an error; any other first call loads it too, or ends the
 * process with the reason when the library is missing.
 */
#ifndef SPATE_CORE_DYNLIB_H
#define SPATE_CORE_DYNLIB_H

#include <pthread.h>
#include <stdbool.h>
#include <stdatomic.h>
#include <errno.h>
#include <stddef.h>

struct sp_dynlib {
	const char *soname; /* what dlopen loads: "libcurl.so.4" */
	const char *use;    /* what needs it, for errors: "S3" */
	/* fills the table from the opened library: 0, or -ENOENT with the
	 * missing symbol's name in missing */
	int (*resolve)(void *handle, const char **missing);
	pthread_mutex_t lock;
	atomic_int state; /* 0 not tried, 1 loaded, -errno failed */
	char err[256];
};

#define SP_DYNLIB_INIT(so, what, fn)                                           \
	{                                                                      \
		.soname = (so), .use = (what), .resolve = (fn),                \
		.lock = PTHREAD_MUTEX_INITIALIZER                              \
	}

/* Loads the library once (any thread; later calls return the first
 * result).  0, or -ELIBACC with what went wrong in err ("S3 needs
 * libcurl.so.4, which cannot be loaded: <dlerror>"). */
int sp_dynlib_load(struct sp_dynlib *l, char *err, size_t errlen);

/* For a call through the table: loads the library if no one has, and
 * ends the process with the reason on stderr if it cannot be loaded. */
void sp_dynlib_need_slow(struct sp_dynlib *l);

static inline void sp_dynlib_need(struct sp_dynlib *l)
{
	if (atomic_load_explicit(&l->state, memory_order_acquire) != 1)
		sp_dynlib_need_slow(l);
}

/* For the tables: a field per function, typed like the function. */
#define SP_DYNLIB_FIELD(fn) __typeof__(fn) *fn;

/* Stores dlsym(handle, name) in *slot (POSIX's way of setting a function
 * pointer from it); false, naming it in *missing, when the library lacks
 * it. */
bool sp_dynlib_sym(void *handle, const char *name, void **slot,
		   const char **missing);
#define SP_DYNLIB_RESOLVE(fn)                                                  \
	&&sp_dynlib_sym(handle, #fn, (void **)&api->fn, missing)

/* In a client's wrapper header, for FUNCS(X), the list of its functions:
 * struct sp_NAME_api (the table), sp_NAME_load(err, errlen) (0, or
 * -ELIBACC with the reason in err) and sp_NAME() (the table, loaded). */
#define SP_DYNLIB_DECLARE(name, FUNCS)                                         \
	struct sp_##name##_api {                                               \
		FUNCS(SP_DYNLIB_FIELD)                                         \
	};                                                                     \
	extern struct sp_##name##_api sp_##name##_api;                         \
	extern struct sp_dynlib sp_##name##_lib;                               \
	int sp_##name##_load(char *err, size_t errlen);                        \
	static inline const struct sp_##name##_api *sp_##name(void)            \
	{                                                                      \
		sp_dynlib_need(&sp_##name##_lib);                              \
		return &sp_##name##_api;                                       \
	}

/* In its .c file: the table, and the library that fills it. */
#define SP_DYNLIB_DEFINE(name, FUNCS, soname, use)                             \
	struct sp_##name##_api sp_##name##_api;                                \
	static int sp_##name##_resolve(void *handle, const char **missing)     \
	{                                                                      \
		struct sp_##name##_api *api = &sp_##name##_api;                \
		return (true FUNCS(SP_DYNLIB_RESOLVE)) ? 0 : -ENOENT;          \
	}                                                                      \
	struct sp_dynlib sp_##name##_lib =                                     \
	    SP_DYNLIB_INIT(soname, use, sp_##name##_resolve);                  \
	int sp_##name##_load(char *err, size_t errlen)                         \
	{                                                                      \
		return sp_dynlib_load(&sp_##name##_lib, err, errlen);          \
	}

#endif
