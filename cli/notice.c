/*
 * What the spate command says to people on stderr outside the log: usage
 * errors, a flow's problems, the summary and the notes at the end of a
 * run.  As text each is a plain "spate: ..." line, as it always was; under
 * --log-format json each becomes a JSON log line like the engine's own
 * (sp_log_write: timestamp, level, msg), so that a log collector reading
 * stderr gets nothing but JSON.  These lines are the command's answer, so
 * they are written whatever the log threshold.
 */
#include <stdarg.h>
#include <stdio.h>
#include <string.h>

#include "cli/cli.h"
#include "core/log.h"

void cli_notice(enum sp_log_level level, const char *fmt, ...)
{
	char msg[2048];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(msg, sizeof(msg), fmt, ap);
	va_end(ap);
	if (sp_log_is_json())
		sp_log_write(level, "%s", msg);
	else
		fprintf(stderr, "spate: %s\n", msg);
}

void cli_notice_lines(enum sp_log_level level, const char *text, size_t len)
{
	if (!sp_log_is_json()) {
		fwrite(text, 1, len, stderr);
		return;
	}
	for (const char *end = text + len; text < end;) {
		const char *nl = memchr(text, '\n', (size_t)(end - text));
		size_t n = nl ? (size_t)(nl - text) : (size_t)(end - text);

		if (n)
			sp_log_write(level, "%.*s", (int)n, text);
		text += n + (nl != NULL);
	}
}
