/*
 * Logging: one line per message on stderr, prefixed with the level.  The
 * threshold comes from SPATE_LOG or --log-level; messages below it cost one
 * integer compare in the caller (the macros check before formatting).
 */
#include "core/log.h"

#include <errno.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

int sp_log_threshold = SP_LOG_WARN;

static const char *const level_names[] = {"error", "warn", "info", "debug"};

int sp_log_set_level(const char *name)
{
	for (int i = 0; i < 4; i++) {
		if (strcmp(name, level_names[i]) == 0) {
			sp_log_threshold = i;
			return 0;
		}
	}
	return -EINVAL;
}

void sp_log_write(enum sp_log_level level, const char *fmt, ...)
{
	char line[2048];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "spate: %s: ", level_names[level]);
	va_start(ap, fmt);
	vsnprintf(line + n, sizeof(line) - (size_t)n - 1, fmt, ap);
	va_end(ap);
	/* one write per line so that lines of concurrent threads do not mix */
	size_t len = strlen(line);
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
