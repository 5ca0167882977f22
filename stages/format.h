/*
 * The record formats that stages read and write as text (JSON lines and
 * CSV): one enum and one list of names for every stage that has a
 * `format` option, so that the option binds to SP_FORMAT_* and no stage
 * compares the name.
 */
#ifndef SPATE_STAGES_FORMAT_H
#define SPATE_STAGES_FORMAT_H

enum sp_format_kind {
	SP_FORMAT_JSONL = 0,
	SP_FORMAT_CSV,
};

/* The choices of a `format` option, indexed by enum sp_format_kind. */
extern const char *const sp_format_names[];

#endif
