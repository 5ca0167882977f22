/*
 * Logging: one line per message on stderr, prefixed with the level.  The
 * threshold comes from SPATE_LOG or --log-level; messages below it cost one
 * integer compare in the caller (the macros check before formatting).
 * Lines are valid UTF-8: bytes of the message that are not become U+FFFD.
 */
#include "core/log.h"

#include "core/utf8.h"

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
	char text[2048], line[2048 + 64];
	va_list ap;
	int n;

	n = snprintf(line, sizeof(line), "spate: %s: ", level_names[level]);
	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	/* messages quote input (values, file names): a log line is valid
	 * UTF-8 all the same, cut on a character boundary */
	size_t len = (size_t)n + sp_utf8_sanitize(line + n,
						  sizeof(line) - (size_t)n - 1,
						  text, strlen(text));
	/* one write per line so that lines of concurrent threads do not mix */
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
