/*
 * The process's list of secrets and their replacement in messages.  The
 * list only grows (a flow is loaded before its threads start); readers
 * take the published count with acquire ordering and so see complete
 * entries without a lock.
 */
#include "core/redact.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdlib.h>
#include <string.h>

#define MAX_SECRETS 256

static char *secrets[MAX_SECRETS];
static _Atomic size_t nsecrets;
static pthread_mutex_t add_lock = PTHREAD_MUTEX_INITIALIZER;

int sp_redact_add(const char *secret)
{
	int rc = 0;

	if (!secret || strlen(secret) < SP_REDACT_MIN_LEN)
		return 0;
	pthread_mutex_lock(&add_lock);
	size_t n = atomic_load_explicit(&nsecrets, memory_order_relaxed);
	for (size_t i = 0; i < n; i++)
		if (!strcmp(secrets[i], secret))
			goto out;
	if (n == MAX_SECRETS) {
		rc = -ENOSPC;
		goto out;
	}
	secrets[n] = strdup(secret);
	if (!secrets[n]) {
		rc = -ENOMEM;
		goto out;
	}
	atomic_store_explicit(&nsecrets, n + 1, memory_order_release);
out:
	pthread_mutex_unlock(&add_lock);
	return rc;
}

/* Replaces the occurrences of one secret in s. */
static void redact_one(char *s, const char *secret)
{
	static const char mask[] = "***";
	size_t sl = strlen(secret), ml = sizeof(mask) - 1;
	char *p = s;

	while ((p = strstr(p, secret))) {
		/* a secret is at least as long as the mask: s shrinks */
		memmove(p + ml, p + sl, strlen(p + sl) + 1);
		memcpy(p, mask, ml);
		p += ml;
	}
}

void sp_redact(char *s)
{
	size_t n = atomic_load_explicit(&nsecrets, memory_order_acquire);

	for (size_t i = 0; s && i < n; i++)
		redact_one(s, secrets[i]);
}

void sp_redact_reset(void)
{
	pthread_mutex_lock(&add_lock);
	size_t n = atomic_load_explicit(&nsecrets, memory_order_relaxed);
	atomic_store_explicit(&nsecrets, 0, memory_order_release);
	for (size_t i = 0; i < n; i++) {
		free(secrets[i]);
		secrets[i] = NULL;
	}
	pthread_mutex_unlock(&add_lock);
}
