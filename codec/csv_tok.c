/*
 * CSV tokenizer helpers that are not on the parser's inner loop: removing
 * doubled quotes, finding the field that holds a byte (for error texts),
 * skipping blank lines between records, and showing a byte in an error.
 */
#include "codec/csv_tok.h"

#include <stdio.h>
#include <string.h>

/* Copies quoted text without its doubled quotes; returns the new length. */
size_t sp_csv_unquote(const char *s, size_t len, char q, char *out)
{
	const char *end = s + len, *c;
	size_t n = 0;

	while ((c = memchr(s, q, (size_t)(end - s)))) {
		size_t run = (size_t)(c - s) + 1; /* with one quote */
		memcpy(out + n, s, run);
		n += run;
		s = c + 1;
		if (s < end && *s == q)
			s++;
	}
	memcpy(out + n, s, (size_t)(end - s));
	return n + (size_t)(end - s);
}

/* 1-based field of record text raw[0..n) that holds byte at. */
uint32_t sp_csv_field_at(const char *raw, size_t n, size_t at, char d, char q)
{
	struct tok t;
	struct tok_field f;
	uint32_t field = 1;

	tok_init(&t, raw, n, 0, d, q);
	while (tok_field(&t, &f) == TOK_DELIM && t.pos <= at)
		field++;
	return field;
}

/* Skips blank lines at pos (counting them); returns the new position. */
size_t sp_csv_skip_blank(const char *buf, size_t len, size_t pos,
			 uint64_t *lines)
{
	for (;;) {
		if (pos < len && buf[pos] == '\n') {
			pos++;
			(*lines)++;
		} else if (pos + 1 < len && buf[pos] == '\r' &&
			   buf[pos + 1] == '\n') {
			pos += 2;
			(*lines)++;
		} else {
			return pos;
		}
	}
}

void sp_csv_show_char(char *out, size_t n, unsigned char c)
{
	if (c >= 0x20 && c < 0x7f)
		snprintf(out, n, "%c", c);
	else
		snprintf(out, n, "\\x%02x", c);
}
