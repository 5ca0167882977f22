/*
 * Rings: ck_ring MPMC underneath; blocking on top with a futex per
 * direction.  The waiting protocol cannot lose a wake-up: a waiter
 * announces itself (pop_waiters++), reads the futex word, re-checks the
 * ring and only then sleeps on the word it read; a producer pushes, then
 * reads pop_waiters, and when someone waits bumps the word and wakes.
 * Both sides order their two steps with seq_cst, so either the waiter sees
 * the item or the producer sees the waiter (Dekker).
 */
#include "core/ring.h"

#include <ck_ring.h>
#include <errno.h>
#include <limits.h>
#include <linux/futex.h>
#include <sched.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <unistd.h>

#if defined(__SANITIZE_THREAD__)
#define SP_TSAN 1
#elif defined(__has_feature)
#if __has_feature(thread_sanitizer)
#define SP_TSAN 1
#endif
#endif

#ifdef SP_TSAN
/* ck synchronises with inline assembly that ThreadSanitizer cannot see;
 * tell it that a push happens before the pop that takes the item. */
void __tsan_acquire(void *addr);
void __tsan_release(void *addr);
#define tsan_acquire(p) __tsan_acquire(p)
#define tsan_release(p) __tsan_release(p)
#else
#define tsan_acquire(p) ((void)(p))
#define tsan_release(p) ((void)(p))
#endif

#define SPIN_ROUNDS 200

int sp_ring_init(struct sp_ring *r, unsigned size)
{
	if (size < 4 || (size & (size - 1)))
		return -EINVAL;
	r->ring = calloc(1, sizeof(*r->ring));
	r->buf = calloc(size, sizeof(*r->buf));
	if (!r->ring || !r->buf) {
		free(r->ring);
		free(r->buf);
		return -ENOMEM;
	}
	ck_ring_init(r->ring, size);
	r->capacity = size;
	atomic_init(&r->pushed, 0);
	atomic_init(&r->popped, 0);
	atomic_init(&r->pop_waiters, 0);
	atomic_init(&r->push_waiters, 0);
	atomic_init(&r->closed, false);
	return 0;
}

void sp_ring_fini(struct sp_ring *r)
{
	free(r->ring);
	free(r->buf);
	r->ring = NULL;
	r->buf = NULL;
}

static void futex_wait(_Atomic uint32_t *word, uint32_t seen)
{
	syscall(SYS_futex, word, FUTEX_WAIT_PRIVATE, seen, NULL, NULL, 0);
}

static void futex_wake_all(_Atomic uint32_t *word)
{
	syscall(SYS_futex, word, FUTEX_WAKE_PRIVATE, INT_MAX, NULL, NULL, 0);
}

/* the waker half of the protocol in the file comment */
static void wake(_Atomic uint32_t *word, _Atomic int *waiters)
{
	atomic_thread_fence(memory_order_seq_cst); /* pairs with wait() */
	if (atomic_load(waiters) > 0) {
		atomic_fetch_add(word, 1);
		futex_wake_all(word);
	}
}

bool sp_ring_try_push_mpmc(struct sp_ring *r, void *item)
{
	tsan_release(r);
	if (!ck_ring_enqueue_mpmc(r->ring, r->buf, item))
		return false;
	wake(&r->pushed, &r->pop_waiters);
	return true;
}

bool sp_ring_try_pop_mpmc(struct sp_ring *r, void **item)
{
	if (!ck_ring_dequeue_mpmc(r->ring, r->buf, item))
		return false;
	tsan_acquire(r);
	wake(&r->popped, &r->push_waiters);
	return true;
}

int sp_ring_push_mpmc(struct sp_ring *r, void *item)
{
	for (int spin = 0;; spin++) {
		if (atomic_load_explicit(&r->closed, memory_order_acquire))
			return -EPIPE;
		if (sp_ring_try_push_mpmc(r, item))
			return 0;
		if (spin < SPIN_ROUNDS) {
			if (spin > SPIN_ROUNDS / 2)
				sched_yield();
			continue;
		}
		atomic_fetch_add(&r->push_waiters, 1);
		uint32_t seen = atomic_load(&r->popped);
		atomic_thread_fence(memory_order_seq_cst); /* pairs with wake() */
		if (!atomic_load(&r->closed) &&
		    ck_ring_size(r->ring) >= r->capacity - 1)
			futex_wait(&r->popped, seen);
		atomic_fetch_sub(&r->push_waiters, 1);
	}
}

int sp_ring_pop_mpmc(struct sp_ring *r, void **item)
{
	for (int spin = 0;; spin++) {
		if (sp_ring_try_pop_mpmc(r, item))
			return 0;
		if (atomic_load_explicit(&r->closed, memory_order_acquire)) {
			/* a push may have landed before the close */
			if (sp_ring_try_pop_mpmc(r, item))
				return 0;
			return -EPIPE;
		}
		if (spin < SPIN_ROUNDS) {
			if (spin > SPIN_ROUNDS / 2)
				sched_yield();
			continue;
		}
		atomic_fetch_add(&r->pop_waiters, 1);
		uint32_t seen = atomic_load(&r->pushed);
		atomic_thread_fence(memory_order_seq_cst); /* pairs with wake() */
		if (!atomic_load(&r->closed) && ck_ring_size(r->ring) == 0)
			futex_wait(&r->pushed, seen);
		atomic_fetch_sub(&r->pop_waiters, 1);
	}
}

void sp_ring_close(struct sp_ring *r)
{
	atomic_store(&r->closed, true);
	atomic_fetch_add(&r->pushed, 1);
	atomic_fetch_add(&r->popped, 1);
	futex_wake_all(&r->pushed);
	futex_wake_all(&r->popped);
}

unsigned sp_ring_count(struct sp_ring *r)
{
	return ck_ring_size(r->ring);
}
