/* Leveled logging to stderr, as text or JSON lines.  Never per record; per
 * batch only rate-limited. */
#ifndef SPATE_ENGINE_LOG_H
#define SPATE_ENGINE_LOG_H

#include <stdbool.h>

enum sp_log_level {
	SP_LOG_ERROR = 0,
	SP_LOG_WARN = 1,
	SP_LOG_INFO = 2,
	SP_LOG_DEBUG = 3,
};

extern int sp_log_threshold;

/* Sets the threshold from a name ("error", "warn", "info", "debug").
 * Returns 0 or -EINVAL for an unknown name. */
int sp_log_set_level(const char *name);

/* Sets the line format: "text" (timestamp, level, message) or "json" (one
 * object per line: ts, level, stage fields, msg).  0 or -EINVAL. */
int sp_log_set_format(const char *name);
/* true when the format is json */
bool sp_log_is_json(void);

void sp_log_write(enum sp_log_level level, const char *fmt, ...)
	__attribute__((format(printf, 2, 3)));

#define sp_log(level, ...)                                                    \
	do {                                                                  \
		if ((int)(level) <= sp_log_threshold)                         \
			sp_log_write((level), __VA_ARGS__);                   \
	} while (0)

#define sp_log_error(...) sp_log(SP_LOG_ERROR, __VA_ARGS__)
#define sp_log_warn(...) sp_log(SP_LOG_WARN, __VA_ARGS__)
#define sp_log_info(...) sp_log(SP_LOG_INFO, __VA_ARGS__)
#define sp_log_debug(...) sp_log(SP_LOG_DEBUG, __VA_ARGS__)

#endif
