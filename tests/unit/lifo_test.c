/*
 * core/lifo.h: the item pushed last is popped first, a full stack
 * refuses a push, and pop waits for a push from another thread.
 */
#include <criterion/criterion.h>
#include <pthread.h>
#include <time.h>

#include "core/lifo.h"

Test(lifo, last_in_first_out_and_bounded)
{
	struct sp_lifo s;
	int v[4];

	cr_assert_eq(sp_lifo_init(&s, 3), 0);
	for (int i = 0; i < 3; i++)
		cr_assert(sp_lifo_push(&s, &v[i]));
	cr_assert_not(sp_lifo_push(&s, &v[3]), "a push beyond cap");
	cr_assert_eq(sp_lifo_pop(&s), &v[2]);
	cr_assert(sp_lifo_push(&s, &v[3]));
	cr_assert_eq(sp_lifo_pop(&s), &v[3]);
	cr_assert_eq(sp_lifo_pop(&s), &v[1]);
	cr_assert_eq(sp_lifo_pop(&s), &v[0]);
	sp_lifo_fini(&s);
	sp_lifo_fini(&s); /* twice is harmless */
}

struct late {
	struct sp_lifo *s;
	void *item;
};

static void *push_late(void *arg)
{
	struct late *l = arg;
	struct timespec ts = {0, 50 * 1000 * 1000};

	nanosleep(&ts, NULL);
	sp_lifo_push(l->s, l->item);
	return NULL;
}

Test(lifo, pop_waits_for_a_push)
{
	struct sp_lifo s;
	int x;
	struct late l = {&s, &x};
	pthread_t th;
	struct timespec t0, t1;

	cr_assert_eq(sp_lifo_init(&s, 2), 0);
	clock_gettime(CLOCK_MONOTONIC, &t0);
	cr_assert_eq(pthread_create(&th, NULL, push_late, &l), 0);
	cr_assert_eq(sp_lifo_pop(&s), &x);
	clock_gettime(CLOCK_MONOTONIC, &t1);
	pthread_join(th, NULL);
	double waited = (double)(t1.tv_sec - t0.tv_sec) +
			(double)(t1.tv_nsec - t0.tv_nsec) / 1e9;
	cr_assert_geq(waited, 0.04, "pop returned before the push");
	sp_lifo_fini(&s);
}
