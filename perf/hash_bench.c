/*
 * hash_bench: the content hash a run takes of its input files before it
 * starts (core/xxh64.h), timed three ways on the same files:
 *
 *   one thread, read then hash   (each block read, then hashed, in turn)
 *   sp_xxh64_files, 1 thread     (a large file read ahead of its hash)
 *   sp_xxh64_files, N threads    (N: --threads, default the online CPUs)
 *
 * Usage: hash_bench [--threads N] FILE...
 * Each is run 5 times after one warm-up pass (which leaves the files in
 * the page cache, as a run finds a file it has just been given); the best
 * and the median wall time are printed, and the three must agree on every
 * file's hash.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "core/xxh64.h"
#include "perf/bench_time.h"

#define REPS 5
#define BLOCK (256u << 10)

/* The way before: one thread reads a block, hashes it, reads the next. */
static int hash_in_turn(struct sp_xxh64_job *jobs, size_t n)
{
	char *buf = malloc(BLOCK);

	if (!buf)
		return -ENOMEM;
	for (size_t i = 0; i < n; i++) {
		XXH64_state_t s;
		int fd = open(jobs[i].path, O_RDONLY | O_CLOEXEC);
		ssize_t r;

		jobs[i].rc = fd < 0 ? -errno : 0;
		if (fd < 0)
			continue;
		XXH64_reset(&s, 0);
		while ((r = read(fd, buf, BLOCK)) > 0)
			XXH64_update(&s, buf, (size_t)r);
		jobs[i].rc = r < 0 ? -errno : 0;
		jobs[i].hash = XXH64_digest(&s);
		close(fd);
	}
	free(buf);
	return 0;
}

/* mode 0: in turn; else sp_xxh64_files with mode threads */
static int run(struct sp_xxh64_job *jobs, char **paths, size_t n,
	       unsigned mode, double *t)
{
	for (size_t i = 0; i < n; i++)
		jobs[i] = (struct sp_xxh64_job){.path = paths[i]};
	double t0 = bench_now();
	if (mode == 0) {
		if (hash_in_turn(jobs, n))
			return -ENOMEM;
	} else {
		sp_xxh64_files(jobs, n, mode);
	}
	*t = bench_now() - t0;
	for (size_t i = 0; i < n; i++) {
		if (jobs[i].rc) {
			fprintf(stderr, "hash_bench: %s: %s\n", paths[i],
				strerror(-jobs[i].rc));
			return jobs[i].rc;
		}
	}
	return 0;
}

int main(int argc, char **argv)
{
	long cpus = sysconf(_SC_NPROCESSORS_ONLN);
	unsigned threads = cpus > 0 ? (unsigned)cpus : 1;
	int first = 1;

	if (argc > 2 && strcmp(argv[1], "--threads") == 0) {
		threads = (unsigned)strtoul(argv[2], NULL, 10);
		first = 3;
	}
	size_t n = (size_t)(argc - first);
	if (n == 0 || threads == 0) {
		fprintf(stderr, "usage: %s [--threads N] FILE...\n", argv[0]);
		return 2;
	}
	char **paths = argv + first;
	struct sp_xxh64_job *jobs = calloc(n, sizeof(*jobs));
	uint64_t *want = calloc(n, sizeof(*want));
	const unsigned modes[] = {0, 1, threads};
	char nth[32];
	const char *const names[] = {"one thread, in turn",
				     "1 thread, read ahead", nth};
	double t[REPS], warm;

	snprintf(nth, sizeof(nth), "%u threads", threads);

	if (!jobs || !want)
		return 1;
	if (run(jobs, paths, n, 0, &warm))
		return 1;
	for (size_t i = 0; i < n; i++)
		want[i] = jobs[i].hash;
	for (int m = 0; m < 3; m++) {
		for (int r = 0; r < REPS; r++) {
			if (run(jobs, paths, n, modes[m], &t[r]))
				return 1;
			for (size_t i = 0; i < n; i++) {
				if (jobs[i].hash != want[i]) {
					fprintf(stderr,
						"hash_bench: %s: hashes "
						"differ\n",
						paths[i]);
					return 1;
				}
			}
		}
		qsort(t, REPS, sizeof(t[0]), bench_cmp_double);
		printf("%-22s  best %7.1f ms  median %7.1f ms\n", names[m],
		       t[0] * 1e3, t[REPS / 2] * 1e3);
	}
	free(jobs);
	free(want);
	return 0;
}
