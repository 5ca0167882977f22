/*
 * JSON value primitives shared by the JSON-lines codec and by field paths
 * that reach inside nested objects (/a/b).  All functions work on bounded
 * buffers (no NUL needed) and never read past end.
 */
#ifndef SPATE_ENGINE_JSON_H
#define SPATE_ENGINE_JSON_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "core/buf.h"
#include "record/value.h"

/* Maximum nesting depth of objects and arrays; deeper input is an error. */
#define SP_JSON_MAX_DEPTH 512

/* Decodes the JSON escapes of string text s[0..len) (without the quotes)
 * into out, which has room for len bytes.  Returns the decoded length, or
 * -EINVAL for a bad escape or an unpaired surrogate. */
ssize_t sp_json_unescape(const char *s, size_t len, char *out);

/* Appends s[0..len) to buf as a quoted JSON string, escaping quote,
 * backslash and control bytes; each byte that is not part of valid UTF-8
 * becomes U+FFFD, so the result is always valid JSON.  0 or -ENOMEM. */
int sp_json_append_string(struct sp_buf *buf, const char *s, size_t len);

/* Appends v as JSON text: source text unchanged when v carries it, else
 * the shortest faithful encoding.  0 or -ENOMEM. */
int sp_json_append_value(struct sp_buf *buf, const struct sp_value *v);

/* Parses one JSON value starting at *p (leading whitespace allowed) and
 * fills *out zero-copy (strings: text between the quotes, ESCAPED flag
 * when it holds a backslash; numbers: SP_VALUE_TEXT; objects/arrays: raw
 * text).  On success advances *p past the value and returns 0.  On error
 * returns -EINVAL, sets *p to the offending byte and *why to a static
 * message ("unterminated string", "nesting deeper than 512", ...). */
int sp_json_scan_value(const char **p, const char *end, struct sp_value *out,
		       const char **why);

/* Scans the body of a JSON string: *p points just past the opening quote.
 * Checks escapes (\uXXXX surrogates paired), rejects raw control bytes
 * and invalid UTF-8; sets SP_VALUE_ESCAPED in *flags when the text holds a
 * backslash.  0 with *p on the closing quote, or -EINVAL with *p on the
 * offending byte (the opening quote for "unterminated string") and *why
 * set.  Shared by the JSON-lines parser so that both agree on strings. */
int sp_json_scan_string(const char **p, const char *end, uint8_t *flags,
			const char **why);

/* A number per the JSON grammar at p; returns its end (*is_double: it
 * has a fraction or an exponent), or NULL.  Inline: the JSON-lines parser
 * reads most numbers with it directly. */
static inline const char *sp_json_scan_number(const char *p, const char *end,
					       bool *is_double)
{
	*is_double = false;
	if (p < end && *p == '-')
		p++;
	if (p == end)
		return NULL;
	if (*p == '0') {
		p++;
	} else if (*p >= '1' && *p <= '9') {
		while (p < end && *p >= '0' && *p <= '9')
			p++;
	} else {
		return NULL;
	}
	if (p < end && *p == '.') {
		p++;
		if (p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		*is_double = true;
	}
	if (p < end && (*p == 'e' || *p == 'E')) {
		p++;
		if (p < end && (*p == '+' || *p == '-'))
			p++;
		if (p == end || *p < '0' || *p > '9')
			return NULL;
		while (p < end && *p >= '0' && *p <= '9')
			p++;
		*is_double = true;
	}
	/* "01", "1.", "12abc": one bad token, not a number and garbage */
	if (p < end && ((*p >= '0' && *p <= '9') || *p == '.' ||
			((*p | 0x20) >= 'a' && (*p | 0x20) <= 'z')))
		return NULL;
	return p;
}

/* The value of number text p[0..q) as the scanners keep it. */
static inline struct sp_value sp_json_number(const char *p, const char *q,
					     bool is_double)
{
	struct sp_value v = {.type = is_double ? SP_DOUBLE : SP_INT,
			     .flags = SP_VALUE_TEXT,
			     .len = (uint32_t)(q - p),
			     .str = p};
	return v;
}

/* As sp_json_scan_value for a value that sits inside depth levels of
 * enclosing objects or arrays, so that the SP_JSON_MAX_DEPTH limit counts
 * them too (sp_json_scan_value is depth 0). */
int sp_json_scan_value_at(const char **p, const char *end, unsigned depth,
			  struct sp_value *out, const char **why);

/* Looks up member key (plain bytes) in raw object text obj[0..len) (the
 * last member of that name when it repeats, as JSON readers take it).
 * 0 and *out filled when found; -ENOENT when absent; -EINVAL when obj is
 * not a well-formed object. */
int sp_json_object_get(const char *obj, size_t len, const char *key,
		       size_t klen, struct sp_value *out);

#endif
