/* A bounded stack of pointers shared by threads (see core/lifo.h). */
#include "core/lifo.h"

#include <errno.h>
#include <stdlib.h>

int sp_lifo_init(struct sp_lifo *s, unsigned cap)
{
	s->items = calloc(cap ? cap : 1, sizeof(*s->items));
	if (!s->items)
		return -ENOMEM;
	s->n = 0;
	s->cap = cap;
	pthread_mutex_init(&s->mu, NULL);
	pthread_cond_init(&s->cv, NULL);
	return 0;
}

void sp_lifo_fini(struct sp_lifo *s)
{
	if (!s->items)
		return;
	pthread_cond_destroy(&s->cv);
	pthread_mutex_destroy(&s->mu);
	free(s->items);
	s->items = NULL;
}

bool sp_lifo_push(struct sp_lifo *s, void *item)
{
	bool ok;

	pthread_mutex_lock(&s->mu);
	ok = s->n < s->cap;
	if (ok) {
		s->items[s->n++] = item;
		pthread_cond_signal(&s->cv);
	}
	pthread_mutex_unlock(&s->mu);
	return ok;
}

void *sp_lifo_pop(struct sp_lifo *s)
{
	void *item;

	pthread_mutex_lock(&s->mu);
	while (s->n == 0)
		pthread_cond_wait(&s->cv, &s->mu);
	item = s->items[--s->n];
	pthread_mutex_unlock(&s->mu);
	return item;
}
