/*
 * The record formats of text input and output: the names a `format`
 * option accepts, in the order of enum sp_format_kind.
 */
#include "stages/format.h"

#include <stddef.h>

const char *const sp_format_names[] = {
    [SP_FORMAT_JSONL] = "jsonl",
    [SP_FORMAT_CSV] = "csv",
    NULL,
};
