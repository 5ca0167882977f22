/*
 * Shared libraries loaded on first use (see core/dynlib.h).
 */
#include "core/dynlib.h"

#include <dlfcn.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static int load_locked(struct sp_dynlib *l)
{
	/* RTLD_NOW: a symbol the library lacks fails here, not in a call */
	void *h = dlopen(l->soname, RTLD_NOW | RTLD_LOCAL);
	const char *missing = NULL;

	if (!h) {
		const char *why = dlerror();
		snprintf(l->err, sizeof(l->err),
			 "%s needs %s, which cannot be loaded: %s", l->use,
			 l->soname, why ? why : "cannot load it");
		return -ELIBACC;
	}
	if (l->resolve(h, &missing) < 0) {
		snprintf(l->err, sizeof(l->err),
			 "%s needs %s with %s, which this one lacks", l->use,
			 l->soname, missing ? missing : "a function");
		dlclose(h);
		return -ELIBACC;
	}
	return 1; /* stays open for the life of the process */
}

bool sp_dynlib_sym(void *handle, const char *name, void **slot,
		   const char **missing)
{
	*slot = dlsym(handle, name);
	if (!*slot)
		*missing = name;
	return *slot != NULL;
}

int sp_dynlib_load(struct sp_dynlib *l, char *err, size_t errlen)
{
	int state = atomic_load_explicit(&l->state, memory_order_acquire);

	if (state == 0) {
		pthread_mutex_lock(&l->lock);
		state = atomic_load_explicit(&l->state, memory_order_relaxed);
		if (state == 0) {
			state = load_locked(l);
			atomic_store_explicit(&l->state, state,
					      memory_order_release);
		}
		pthread_mutex_unlock(&l->lock);
	}
	if (state == 1)
		return 0;
	if (err && errlen)
		snprintf(err, errlen, "%s", l->err);
	return state;
}

void sp_dynlib_need_slow(struct sp_dynlib *l)
{
	if (sp_dynlib_load(l, NULL, 0) == 0)
		return;
	fprintf(stderr, "spate: %s\n", l->err);
	exit(70); /* EX_SOFTWARE: the installation is broken */
}
