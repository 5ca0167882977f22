/*
 * A bounded stack of pointers shared by threads: pop waits while it is
 * empty.  For a pool of buffers that come back to their owner: the one
 * given back last is taken first, so a pool larger than what is in use
 * at a time keeps reusing the same few buffers, whose memory is faulted
 * in and likely in cache, and never touches the rest.
 */
#ifndef SPATE_ENGINE_LIFO_H
#define SPATE_ENGINE_LIFO_H

#include <pthread.h>
#include <stdbool.h>

struct sp_lifo {
	pthread_mutex_t mu;
	pthread_cond_t cv;
	void **items;
	unsigned n, cap;
};

/* 0, or -ENOMEM. */
int sp_lifo_init(struct sp_lifo *s, unsigned cap);
void sp_lifo_fini(struct sp_lifo *s);

/* false when full (the item stays with the caller). */
bool sp_lifo_push(struct sp_lifo *s, void *item);

/* The item pushed last; waits while there is none. */
void *sp_lifo_pop(struct sp_lifo *s);

#endif
