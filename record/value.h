/*
 * Field values.  A value read from input keeps pointing at its source text
 * (zero copy): a JSON string keeps its escapes (SP_VALUE_ESCAPED), a JSON
 * number keeps its digits (SP_VALUE_TEXT), an object or array is its raw
 * JSON text.  Encoders write such text back unchanged, so a field that no
 * stage touched is byte-identical on output.  Values made by stages carry
 * binary numbers and plain (unescaped) strings.
 */
#ifndef SPATE_ENGINE_VALUE_H
#define SPATE_ENGINE_VALUE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct sp_arena;

enum sp_type {
	SP_NULL = 0,
	SP_BOOL,
	SP_INT,
	SP_DOUBLE,
	SP_STRING,
	SP_OBJECT, /* str/len: raw JSON text "{...}" */
	SP_ARRAY,  /* str/len: raw JSON text "[...]" */
};

/* number held as source text in str/len, not in i/d */
#define SP_VALUE_TEXT 0x01
/* string text is JSON-escaped (as between the quotes in the input) */
#define SP_VALUE_ESCAPED 0x02
/* string bytes need no JSON escaping (read from JSON without escapes):
 * an encoder copies them as they are */
#define SP_VALUE_JSON_SAFE 0x04
/* a CSV encoder with delimiter ',' and quote '"' writes str/len as they
 * are (no quoting; empty for a null): set by the CSV parser on text it
 * checked, so that the encoder copies runs of such fields whole */
#define SP_VALUE_CSV_BARE 0x08

struct sp_value {
	uint8_t type;  /* enum sp_type */
	uint8_t flags; /* SP_VALUE_* */
	uint16_t reserved;
	uint32_t len; /* bytes at str */
	union {
		bool b;
		int64_t i;
		double d;
		const char *str;
	};
};

struct sp_field {
	uint32_t sym; /* SP_SYM_NONE: removed */
	uint32_t reserved;
	struct sp_value v;
};

static inline struct sp_value sp_value_null(void)
{
	return (struct sp_value){.type = SP_NULL};
}

static inline struct sp_value sp_value_bool(bool b)
{
	return (struct sp_value){.type = SP_BOOL, .b = b};
}

static inline struct sp_value sp_value_int(int64_t i)
{
	return (struct sp_value){.type = SP_INT, .i = i};
}

static inline struct sp_value sp_value_double(double d)
{
	return (struct sp_value){.type = SP_DOUBLE, .d = d};
}

/* a plain (unescaped) string; s must outlive the value */
static inline struct sp_value sp_value_string(const char *s, uint32_t len)
{
	return (struct sp_value){.type = SP_STRING, .len = len, .str = s};
}

const char *sp_type_name(enum sp_type t);

/* Numeric value of an int or double (text or binary).  0, or -EINVAL when
 * v is not a number.  Ints convert to double exactly where representable. */
int sp_value_to_double(const struct sp_value *v, double *out);

/* Integer value of an int (text or binary).  0, -EINVAL when v is not an
 * int, -ERANGE when it does not fit in int64. */
int sp_value_to_int(const struct sp_value *v, int64_t *out);

/* The string's bytes, unescaped.  Escaped text is decoded into arena; plain
 * text is returned in place.  0, -EINVAL if v is not a string, -ENOMEM. */
int sp_value_string_bytes(const struct sp_value *v, struct sp_arena *arena,
			  const char **s, size_t *len);

/* Text form of any scalar as a user would write it in CSV: strings
 * unescaped, numbers as written or shortest round-trip, true/false, empty
 * for null, raw JSON for objects and arrays.  0 or -ENOMEM. */
int sp_value_text(const struct sp_value *v, struct sp_arena *arena,
		  const char **s, size_t *len);

/* Formats a double the shortest way that reads back to the same double
 * ("%.17g" fallback); returns length written, buf needs 32 bytes. */
int sp_format_double(double d, char *buf);

#endif
