/*
 * Bounded lock-free rings of pointers between threads (Concurrency Kit),
 * with blocking push/pop that spin briefly and then sleep on a futex.  A
 * full ring is backpressure, an empty one is idle.  The only module that
 * includes ck_ring.h.
 */
#ifndef SPATE_ENGINE_RING_H
#define SPATE_ENGINE_RING_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

struct ck_ring;
struct ck_ring_buffer;

struct sp_ring {
	struct ck_ring *ring;
	struct ck_ring_buffer *buf;
	unsigned capacity;
	_Atomic uint32_t pushed;  /* futex word: bumped after a push */
	_Atomic uint32_t popped;  /* futex word: bumped after a pop */
	_Atomic int pop_waiters;
	_Atomic int push_waiters;
	atomic_bool closed;
};

/* size: power of two >= 4; the ring holds size - 1 items.  0 or -errno. */
int sp_ring_init(struct sp_ring *r, unsigned size);
void sp_ring_fini(struct sp_ring *r);

/* Non-blocking, any number of producers/consumers.  A failed push leaves
 * the item with the caller. */
bool sp_ring_try_push_mpmc(struct sp_ring *r, void *item);
bool sp_ring_try_pop_mpmc(struct sp_ring *r, void **item);

/* Blocking: waits while full (push) or empty (pop).  Push returns 0, or
 * -EPIPE when the ring is closed (item stays with the caller).  Pop
 * returns 0, or -EPIPE once the ring is closed and empty. */
int sp_ring_push_mpmc(struct sp_ring *r, void *item);
int sp_ring_pop_mpmc(struct sp_ring *r, void **item);

/* No more pushes; wakes every waiter.  Items already in stay poppable. */
void sp_ring_close(struct sp_ring *r);

unsigned sp_ring_count(struct sp_ring *r);

/* The capacity to give a ring that must hold n items: the smallest power
 * of two (as sp_ring_init requires) that is at least n and at least 4. */
static inline unsigned sp_ring_size_for(uint64_t n)
{
	unsigned p = 4;

	while (p < n)
		p *= 2;
	return p;
}

#endif
