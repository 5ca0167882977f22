/*
 * XXH64 of a whole file (see core/xxh64.h).
 */
#include "core/xxh64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int sp_xxh64_fd(int fd, uint64_t *out, uint64_t *size)
{
	XXH64_state_t s;
	size_t cap = 256 << 10; /* in cache while it is hashed */
	char *buf = malloc(cap);
	uint64_t total = 0;
	int rc = 0;

	if (!buf)
		return -ENOMEM;
	XXH64_reset(&s, 0);
	for (;;) {
		ssize_t n = read(fd, buf, cap);
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = -errno;
			break;
		}
		if (n == 0)
			break;
		XXH64_update(&s, buf, (size_t)n);
		total += (uint64_t)n;
	}
	free(buf);
	if (rc == 0) {
		*out = XXH64_digest(&s);
		if (size)
			*size = total;
	}
	return rc;
}

int sp_xxh64_file(const char *path, uint64_t *out)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);

	if (fd < 0)
		return -errno;
	int rc = sp_xxh64_fd(fd, out, NULL);
	close(fd);
	return rc;
}
