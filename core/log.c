/*
 * Logging: one line per message on stderr.  The threshold comes from
 * SPATE_LOG or --log-level; messages below it cost one integer compare in
 * the caller (the macros check before formatting).  Two formats: text
 * ("2026-01-31T12:00:00.123Z spate: warn: message") for people, and json
 * (one object per line: ts, level, stage, stage_kind, stage_type, msg)
 * for log collectors.  A message that starts with a stage's
 * "[kind:type:id] " prefix gives the json object its stage fields.  Lines
 * are valid UTF-8: bytes of the message that are not become U+FFFD.
 */
#include "core/log.h"

#include "core/redact.h"
#include "core/utf8.h"

#include <errno.h>
#include <stdarg.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <time.h>

int sp_log_threshold = SP_LOG_WARN;
static bool log_json;

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

int sp_log_set_format(const char *name)
{
	if (strcmp(name, "text") == 0)
		log_json = false;
	else if (strcmp(name, "json") == 0)
		log_json = true;
	else
		return -EINVAL;
	return 0;
}

bool sp_log_is_json(void)
{
	return log_json;
}

/* "2026-01-31T12:00:00.123Z" (UTC, milliseconds) */
static void timestamp(char *out, size_t len)
{
	struct timespec ts;
	struct tm tm;

	clock_gettime(CLOCK_REALTIME, &ts);
	gmtime_r(&ts.tv_sec, &tm);
	size_t n = strftime(out, len, "%Y-%m-%dT%H:%M:%S", &tm);
	snprintf(out + n, len - n, ".%03ldZ", ts.tv_nsec / 1000000L);
}

/* A JSON string of s[0..n) at out (room: 6 bytes per input byte + 3);
 * returns the bytes written. */
static size_t json_string(char *out, const char *s, size_t n)
{
	static const char hex[] = "0123456789abcdef";
	char *o = out;

	*o++ = '"';
	for (size_t i = 0; i < n; i++) {
		unsigned char c = (unsigned char)s[i];
		if (c == '"' || c == '\\') {
			*o++ = '\\';
			*o++ = (char)c;
		} else if (c == '\n') {
			*o++ = '\\';
			*o++ = 'n';
		} else if (c < 0x20) {
			memcpy(o, "\\u00", 4);
			o[4] = hex[c >> 4];
			o[5] = hex[c & 15];
			o += 6;
		} else {
			*o++ = (char)c;
		}
	}
	*o++ = '"';
	return (size_t)(o - out);
}

/* The "[kind:type:id] " prefix of msg: its three parts and the length of
 * the prefix, or 0 when msg has none. */
static size_t stage_prefix(const char *msg, const char *part[3], size_t len[3])
{
	const char *p = msg;

	if (*p++ != '[')
		return 0;
	for (int k = 0; k < 3; k++) {
		part[k] = p;
		p += strcspn(p, k < 2 ? ":] " : "] :");
		if (*p != (k < 2 ? ':' : ']') || p == part[k])
			return 0;
		len[k] = (size_t)(p - part[k]);
		p++;
	}
	if (*p != ' ')
		return 0;
	return (size_t)(p + 1 - msg);
}

static size_t format_json(char *out, const char *ts, enum sp_log_level level,
			  const char *msg)
{
	static const char *const keys[3] = {"stage_kind", "stage_type",
					    "stage"};
	const char *part[3];
	size_t len[3], n;
	size_t skip = stage_prefix(msg, part, len);

	n = (size_t)sprintf(out, "{\"ts\":\"%s\",\"level\":\"%s\"", ts,
			    level_names[level]);
	for (int k = 2; skip && k >= 0; k--) {
		n += (size_t)sprintf(out + n, ",\"%s\":", keys[k]);
		n += json_string(out + n, part[k], len[k]);
	}
	memcpy(out + n, ",\"msg\":", 7);
	n += 7;
	n += json_string(out + n, msg + skip, strlen(msg + skip));
	out[n++] = '}';
	return n;
}

void sp_log_write(enum sp_log_level level, const char *fmt, ...)
{
	char text[2048], msg[2048], ts[40];
	/* worst case: every byte of msg escaped as \u00XX */
	static __thread char line[sizeof(msg) * 6 + 256];
	va_list ap;
	size_t len;

	va_start(ap, fmt);
	vsnprintf(text, sizeof(text), fmt, ap);
	va_end(ap);
	sp_redact(text);
	/* messages quote input (values, file names): a log line is valid
	 * UTF-8 all the same, cut on a character boundary */
	sp_utf8_sanitize(msg, sizeof(msg), text, strlen(text));
	timestamp(ts, sizeof(ts));
	if (log_json)
		len = format_json(line, ts, level, msg);
	else
		len =
		    (size_t)snprintf(line, sizeof(line) - 1, "%s spate: %s: %s",
				     ts, level_names[level], msg);
	/* one write per line so that lines of concurrent threads do not mix */
	line[len++] = '\n';
	fwrite(line, 1, len, stderr);
}
