/*
 * What the micro benchmarks in perf/ share: a monotonic clock in seconds,
 * and the order of timings for their best and median.
 */
#ifndef SPATE_PERF_BENCH_TIME_H
#define SPATE_PERF_BENCH_TIME_H

#include <time.h>

static inline double bench_now(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

/* for qsort of doubles, ascending */
static inline int bench_cmp_double(const void *a, const void *b)
{
	double x = *(const double *)a, y = *(const double *)b;

	return x < y ? -1 : x > y;
}

#endif
