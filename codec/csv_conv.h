/*
 * Typed conversion of CSV field text for the columns of a schema: int,
 * double, bool and ISO 8601 timestamp.
 */
#ifndef SPATE_CODEC_CSV_CONV_H
#define SPATE_CODEC_CSV_CONV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "core/arena.h"

enum sp_csv_conv {
	SP_CSV_CONV_OK = 0,
	SP_CSV_CONV_BAD,
	SP_CSV_CONV_RANGE,
};

enum sp_csv_conv sp_csv_conv_int(const char *s, size_t len, int64_t *out);
/* arena: room for a long text's copy that strtod needs */
enum sp_csv_conv sp_csv_conv_double(const char *s, size_t len,
				    struct sp_arena *arena, double *out);
/*
 * True when s[0..len), text that converted as an int (resp. a double), is
 * exactly what spate writes for the converted value (sp_format_double for
 * a double): a parser may then keep the text (SP_VALUE_TEXT) instead of
 * the binary value, and encoders copy it instead of formatting it, with
 * the same output bytes.
 */
bool sp_csv_int_canonical(const char *s, size_t len);
bool sp_csv_double_canonical(const char *s, size_t len);
enum sp_csv_conv sp_csv_conv_bool(const char *s, size_t len, bool *out);
/*
 * ISO 8601 text to "YYYY-MM-DDTHH:MM:SS[.f]Z" (UTC); returns its length,
 * or 0 when s is no timestamp (or leaves 0000..9999).  *text is that
 * text: s itself when s is in that form already, else out (32 bytes).
 */
size_t sp_csv_conv_timestamp(const char *s, size_t len, char *out,
			     const char **text);

#endif
