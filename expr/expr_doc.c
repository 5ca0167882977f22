/*
 * The reference of the expression functions: a signature, one line of
 * documentation and an example for every function the compiler knows
 * (expr_parse.c); `spate functions`, the README and the man page print
 * it, and expr_test checks that both tables name the same functions.
 */
#include "expr/expr.h"

#include <stddef.h>

static const struct sp_expr_fn_doc docs[] = {
    {"record:value", "record:value(path) -> any",
     "the field at path, null when it is absent",
     "${record:value(\"/a/b\")}"},
    {"record:valueOrDefault", "record:valueOrDefault(path, default) -> any",
     "the field at path, or default when it is absent or null",
     "${record:valueOrDefault(\"/n\", 0)}"},
    {"record:exists", "record:exists(path) -> boolean",
     "whether the record has a field at path",
     "${record:exists(\"/id\")}"},
    {"record:type", "record:type(path) -> string",
     "the type of the field at path (STRING, LONG, DOUBLE, BOOLEAN, MAP, "
     "LIST), null when absent",
     "${record:type(\"/n\") == \"LONG\"}"},
    {"str:contains", "str:contains(string, part) -> boolean",
     "whether string contains part", "${str:contains(record:value(\"/s\"), \"x\")}"},
    {"str:startsWith", "str:startsWith(string, prefix) -> boolean",
     "whether string starts with prefix",
     "${str:startsWith(record:value(\"/c\"), \"F\")}"},
    {"str:endsWith", "str:endsWith(string, suffix) -> boolean",
     "whether string ends with suffix",
     "${str:endsWith(record:value(\"/f\"), \".gz\")}"},
    {"str:toUpper", "str:toUpper(string) -> string",
     "string with a-z in upper case", "${str:toUpper(\"ab\")}"},
    {"str:toLower", "str:toLower(string) -> string",
     "string with A-Z in lower case", "${str:toLower(\"AB\")}"},
    {"str:length", "str:length(string) -> long",
     "the number of characters (code points)", "${str:length(\"abc\")}"},
    {"str:trim", "str:trim(string) -> string",
     "string without leading and trailing white space",
     "${str:trim(\" a \")}"},
    {"str:substring", "str:substring(string, begin, end) -> string",
     "characters begin (from 0) up to end, not included",
     "${str:substring(\"spate\", 1, 3)}"},
    {"str:concat", "str:concat(string, string) -> string",
     "the two strings joined", "${str:concat(\"a\", \"b\")}"},
    {"str:indexOf", "str:indexOf(string, part) -> long",
     "the character index of part in string, -1 when absent",
     "${str:indexOf(\"spate\", \"at\")}"},
    {"str:matches", "str:matches(string, regex) -> boolean",
     "whether the whole string matches the PCRE2 regular expression",
     "${str:matches(record:value(\"/id\"), \"[0-9]+\")}"},
    {"math:abs", "math:abs(number) -> number", "the absolute value",
     "${math:abs(-2)}"},
    {"math:min", "math:min(number, number) -> number", "the smaller one",
     "${math:min(1, 2.5)}"},
    {"math:max", "math:max(number, number) -> number", "the larger one",
     "${math:max(1, 2.5)}"},
    {"math:floor", "math:floor(number) -> number",
     "the largest whole number not above it", "${math:floor(2.7)}"},
    {"math:ceil", "math:ceil(number) -> number",
     "the smallest whole number not below it", "${math:ceil(2.1)}"},
    {"math:round", "math:round(number) -> long",
     "the nearest long, halves rounded up (as Java's Math.round)",
     "${math:round(2.5)}"},
    {"math:sqrt", "math:sqrt(number) -> double", "the square root",
     "${math:sqrt(2)}"},
    {"time:now", "time:now() -> long",
     "the current time in milliseconds since 1970-01-01T00:00:00Z",
     "${time:now()}"},
    {"time:format", "time:format(millis, pattern) -> string",
     "the time as text in UTC; pattern letters yyyy yy MM dd HH mm ss SSS, "
     "'text' quoted",
     "${time:format(record:value(\"/ts\"), \"yyyy-MM-dd'T'HH:mm:ss\")}"},
    {"time:parse", "time:parse(string, pattern) -> long",
     "the milliseconds of a UTC time written as pattern (as time:format)",
     "${time:parse(record:value(\"/day\"), \"yyyy-MM-dd\")}"},
    {"time:trunc", "time:trunc(millis, unit) -> long",
     "the time cut down to the start of its year, month, day, hour, minute "
     "or second (UTC)",
     "${time:trunc(time:now(), \"day\")}"},
    {"time:extract", "time:extract(millis, unit) -> long",
     "one field of the UTC time: year, month (1-12), day, hour, minute, "
     "second or dayOfWeek (1 Monday .. 7 Sunday)",
     "${time:extract(record:value(\"/ts\"), \"hour\")}"},
};

const struct sp_expr_fn_doc *sp_expr_functions(size_t *n)
{
	*n = sizeof(docs) / sizeof(docs[0]);
	return docs;
}
