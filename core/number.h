/*
 * Decimal numbers as text: the one place that says what a number looks
 * like and turns its text into a double, for every reader (JSON values,
 * CSV typed columns, expressions, the type converter).
 */
#ifndef SPATE_CORE_NUMBER_H
#define SPATE_CORE_NUMBER_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Whether s[0..len) is a decimal number: an optional sign, digits with an
 * optional fraction (at least one digit in all), an optional exponent.
 * No hex, inf, nan or spaces.  *is_int (may be NULL) says it has neither
 * a fraction nor an exponent. */
bool sp_number_syntax(const char *s, size_t len, bool *is_int);

/* Decimal text (sp_number_syntax) to the nearest double, correctly
 * rounded at any length: Clinger's fast path (a mantissa below 2^53
 * scaled by a power of ten up to 1e22 is one exact IEEE operation), else
 * strtod on a copy.  0; -EINVAL when s is not a number; -ERANGE when it
 * overflows (*out is then +-infinity); -ENOMEM. */
int sp_number_to_double(const char *s, size_t len, double *out);

/* Whole decimal text (an optional sign and digits only) to int64.  0;
 * -EINVAL when s is not such text; -ERANGE when it does not fit. */
int sp_number_to_int64(const char *s, size_t len, int64_t *out);

#endif
