/*
 * XXH64 of a whole file (see core/xxh64.h).
 */
#include "core/xxh64.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <unistd.h>

int sp_xxh64_file(const char *path, uint64_t *out)
{
	XXH64_state_t s;
	size_t cap = 1 << 20;
	char *buf = malloc(cap);
	int fd, rc = 0;

	if (!buf)
		return -ENOMEM;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0) {
		rc = -errno;
		goto free_buf;
	}
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
	}
	close(fd);
	if (rc == 0)
		*out = XXH64_digest(&s);
free_buf:
	free(buf);
	return rc;
}
