/*
 * Ring stress: several producers and consumers through a tiny ring (full
 * and empty all the time), every item must arrive exactly once; then
 * close while consumers sleep, and they must all wake up.  A plain
 * program so that it also runs under ThreadSanitizer.
 */
#include <pthread.h>
#include <stdatomic.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "core/ring.h"

#define PRODUCERS 3
#define CONSUMERS 3
#define PER_PRODUCER 200000

static struct sp_ring ring;
static _Atomic uint8_t seen[PRODUCERS * PER_PRODUCER];
static atomic_uint received;
static uintptr_t payload[PRODUCERS * PER_PRODUCER];

static void *producer(void *arg)
{
	uintptr_t id = (uintptr_t)arg;

	for (uintptr_t i = 0; i < PER_PRODUCER; i++) {
		uintptr_t k = id * PER_PRODUCER + i;
		payload[k] = k * 7 + 1; /* written before the push */
		if (sp_ring_push_mpmc(&ring, &payload[k]))
			abort();
	}
	return NULL;
}

static void *consumer(void *arg)
{
	void *item;

	(void)arg;
	while (sp_ring_pop_mpmc(&ring, &item) == 0) {
		uintptr_t *p = item;
		uintptr_t k = (uintptr_t)(p - payload);
		if (*p != k * 7 + 1) {
			fprintf(stderr, "item %zu has a wrong payload\n",
				(size_t)k);
			abort();
		}
		if (atomic_fetch_add(&seen[k], 1) != 0) {
			fprintf(stderr, "item %zu arrived twice\n", (size_t)k);
			abort();
		}
		atomic_fetch_add(&received, 1);
	}
	return NULL;
}

static void *sleeper(void *arg)
{
	void *item;
	int *rc = arg;

	*rc = sp_ring_pop_mpmc(&ring, &item);
	return NULL;
}

int main(void)
{
	pthread_t p[PRODUCERS], c[CONSUMERS];

	if (sp_ring_init(&ring, 4))
		return 1;
	for (uintptr_t i = 0; i < CONSUMERS; i++)
		pthread_create(&c[i], NULL, consumer, NULL);
	for (uintptr_t i = 0; i < PRODUCERS; i++)
		pthread_create(&p[i], NULL, producer, (void *)i);
	for (int i = 0; i < PRODUCERS; i++)
		pthread_join(p[i], NULL);
	sp_ring_close(&ring);
	for (int i = 0; i < CONSUMERS; i++)
		pthread_join(c[i], NULL);
	unsigned n = atomic_load(&received);
	if (n != PRODUCERS * PER_PRODUCER) {
		fprintf(stderr, "received %u of %u items\n", n,
			PRODUCERS * PER_PRODUCER);
		return 1;
	}
	for (unsigned k = 0; k < PRODUCERS * PER_PRODUCER; k++)
		if (atomic_load(&seen[k]) != 1) {
			fprintf(stderr, "item %u missing\n", k);
			return 1;
		}
	sp_ring_fini(&ring);

	/* consumers asleep on an empty ring wake up on close */
	if (sp_ring_init(&ring, 8))
		return 1;
	pthread_t s[4];
	int rc[4] = {1, 1, 1, 1};
	for (int i = 0; i < 4; i++)
		pthread_create(&s[i], NULL, sleeper, &rc[i]);
	usleep(100 * 1000);
	sp_ring_close(&ring);
	for (int i = 0; i < 4; i++) {
		pthread_join(s[i], NULL);
		if (rc[i] != -32 /* -EPIPE */) {
			fprintf(stderr, "sleeper %d returned %d\n", i, rc[i]);
			return 1;
		}
	}
	sp_ring_fini(&ring);
	printf("ring_stress: %u items through a 3-slot ring, exactly once; "
	       "close woke 4 sleepers\n",
	       n);
	return 0;
}
