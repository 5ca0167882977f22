/*
 * core/xxh64.h: the hash of a file is XXH64 of its bytes whichever way it
 * is read (plainly, or by a reading thread ahead of the hash for large
 * files; whole blocks, a short last block, from an offset), a read error
 * on either way is the result, and sp_xxh64_files hashes each file of a
 * list, errors per file, and leaves the rest after one that fails.
 */
#include <criterion/criterion.h>
#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "core/xxh64.h"

static char dir[64];

static void setup(void)
{
	strcpy(dir, "/tmp/spate-xxh64-XXXXXX");
	cr_assert_not_null(mkdtemp(dir));
}

static void teardown(void)
{
	char cmd[256];
	snprintf(cmd, sizeof(cmd), "rm -rf %s", dir);
	cr_assert_eq(system(cmd), 0);
}

TestSuite(xxh64, .init = setup, .fini = teardown);

/* len bytes that no block boundary repeats, written to dir/name; the
 * caller frees the returned copy. */
static char *write_file(const char *name, size_t len, char *path, size_t cap)
{
	char *data = malloc(len ? len : 1);
	uint64_t x = 0x9e3779b97f4a7c15ull ^ len;

	cr_assert_not_null(data);
	for (size_t i = 0; i < len; i++) {
		x ^= x << 13;
		x ^= x >> 7;
		x ^= x << 17;
		data[i] = (char)x;
	}
	snprintf(path, cap, "%s/%s", dir, name);
	FILE *f = fopen(path, "wb");
	cr_assert_not_null(f);
	cr_assert_eq(fwrite(data, 1, len, f), len);
	cr_assert_eq(fclose(f), 0);
	return data;
}

static void same_hash(size_t len)
{
	char path[512];
	uint64_t h = 0, size = 0;
	char *data = write_file("f", len, path, sizeof(path));
	int fd = open(path, O_RDONLY);

	cr_assert_eq(sp_xxh64_file(path, &h), 0);
	cr_assert_eq(h, XXH64(data, len, 0), "%zu bytes", len);
	cr_assert_geq(fd, 0);
	cr_assert_eq(sp_xxh64_fd(fd, &h, &size), 0);
	cr_assert_eq(h, XXH64(data, len, 0), "%zu bytes by fd", len);
	cr_assert_eq(size, len);
	/* and read ahead, whatever the size */
	h = size = 0;
	cr_assert_eq(lseek(fd, 0, SEEK_SET), 0);
	cr_assert_eq(sp_xxh64_fd_ahead(fd, &h, &size), 0);
	cr_assert_eq(h, XXH64(data, len, 0), "%zu bytes read ahead", len);
	cr_assert_eq(size, len);
	/* left where read() would leave it: at the end */
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), (off_t)len);
	close(fd);
	free(data);
}

Test(xxh64, small_and_empty_files)
{
	same_hash(0);
	same_hash(1);
	same_hash(100000);
}

Test(xxh64, large_files_read_ahead_of_the_hash)
{
	same_hash(16u << 20);		   /* whole blocks */
	same_hash((20u << 20) + 12345);	   /* a short last block */
	same_hash((8u << 20) + (1u << 20)); /* just over the threshold */
}

Test(xxh64, large_file_from_an_offset)
{
	char path[512];
	size_t len = (12u << 20) + 7, skip = 3u << 20;
	uint64_t h = 0, size = 0;
	char *data = write_file("g", len, path, sizeof(path));
	int fd = open(path, O_RDONLY);

	cr_assert_geq(fd, 0);
	cr_assert_eq(lseek(fd, (off_t)skip, SEEK_SET), (off_t)skip);
	cr_assert_eq(sp_xxh64_fd(fd, &h, &size), 0);
	cr_assert_eq(size, len - skip);
	cr_assert_eq(h, XXH64(data + skip, len - skip, 0));
	cr_assert_eq(lseek(fd, 0, SEEK_CUR), (off_t)len);
	close(fd);
	free(data);
}

Test(xxh64, a_read_error_is_the_result_either_way)
{
	uint64_t h = 0;
	int fd = open(dir, O_RDONLY | O_DIRECTORY);

	cr_assert_geq(fd, 0);
	/* a folder opens, and its read fails: in the reading thread too */
	cr_assert_eq(sp_xxh64_fd_ahead(fd, &h, NULL), -EISDIR);
	cr_assert_eq(sp_xxh64_fd(fd, &h, NULL), -EISDIR);
	close(fd);
}

Test(xxh64, many_files_each_hash_or_error)
{
	const size_t lens[] = {0, 5, 9u << 20, 300000, (10u << 20) + 1};
	enum { N = sizeof(lens) / sizeof(lens[0]) };
	char paths[N + 2][512], *data[N];
	struct sp_xxh64_job jobs[N + 2];

	for (unsigned threads = 0; threads <= 4; threads++) {
		for (size_t i = 0; i < N; i++) {
			char name[16];
			snprintf(name, sizeof(name), "m%zu", i);
			data[i] = write_file(name, lens[i], paths[i],
					     sizeof(paths[i]));
			jobs[i] = (struct sp_xxh64_job){.path = paths[i],
							.rc = 1};
		}
		snprintf(paths[N], sizeof(paths[N]), "%s/missing", dir);
		jobs[N] = (struct sp_xxh64_job){.path = paths[N], .rc = 1};
		/* a folder opens, and its read fails */
		jobs[N + 1] = (struct sp_xxh64_job){.path = dir, .rc = 1};

		sp_xxh64_files(jobs, N + 2, threads);
		for (size_t i = 0; i < N; i++) {
			cr_assert_eq(jobs[i].rc, 0, "file %zu", i);
			cr_assert_eq(jobs[i].hash,
				     XXH64(data[i], lens[i], 0),
				     "file %zu, %u threads", i, threads);
			free(data[i]);
		}
		cr_assert_eq(jobs[N].rc, -ENOENT);
		/* taken before the missing file failed, or left */
		cr_assert(jobs[N + 1].rc == -EISDIR ||
			      jobs[N + 1].rc == -ECANCELED,
			  "rc %d", jobs[N + 1].rc);
	}
}

/* After a file that cannot be read, the rest are not read at all: a run
 * over many files fails at once, not after hashing them all. */
Test(xxh64, files_after_a_failure_are_left)
{
	char paths[4][512];
	struct sp_xxh64_job jobs[4];

	snprintf(paths[0], sizeof(paths[0]), "%s/missing", dir);
	for (int i = 1; i < 4; i++) {
		char name[16];
		snprintf(name, sizeof(name), "after%d", i);
		free(write_file(name, 1000, paths[i], sizeof(paths[i])));
	}
	for (int i = 0; i < 4; i++)
		jobs[i] = (struct sp_xxh64_job){.path = paths[i], .rc = 1};
	sp_xxh64_files(jobs, 4, 1);
	cr_assert_eq(jobs[0].rc, -ENOENT);
	for (int i = 1; i < 4; i++)
		cr_assert_eq(jobs[i].rc, -ECANCELED, "file %d: rc %d", i,
			     jobs[i].rc);
}
