/*
 * CSV line ends: CR-only files (the "Macintosh CSV" that spreadsheets
 * still write) are recognised at an input's start, from its first line
 * end outside quotes, and their CRs are read as newlines, so that the
 * tokenizer and the chunk splitter keep knowing one line end ('\n', with
 * an optional CR before it).
 */
#include "codec/csv.h"

#include <errno.h>
#include <string.h>

int sp_csv_detect_cr(const struct sp_csv_options *opt, const char *buf,
		     size_t len, bool eof)
{
	const char q = opt->quote ? opt->quote : '"';
	bool inside = false;
	size_t i = 0;

	if (len >= 3 && memcmp(buf, "\xef\xbb\xbf", 3) == 0)
		i = 3;
	for (; i < len && i < SP_CSV_PREAMBLE_MAX; i++) {
		char c = buf[i];

		if (c == q) {
			inside = !inside; /* a doubled quote toggles twice */
		} else if (inside) {
			continue;
		} else if (c == '\n') {
			return 0;
		} else if (c == '\r') {
			if (i + 1 < len)
				return buf[i + 1] != '\n';
			return eof ? 0 : -EAGAIN;
		}
	}
	return eof || len >= SP_CSV_PREAMBLE_MAX ? 0 : -EAGAIN;
}

void sp_csv_cr_to_lf(char *buf, size_t len)
{
	char *p = buf, *end = buf + len;

	while ((p = memchr(p, '\r', (size_t)(end - p))))
		*p++ = '\n';
}
