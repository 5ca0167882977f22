/*
 * Records and batches.  A batch holds a few thousand records parsed from
 * one input chunk: a flat array of fields, a record table pointing into it,
 * the record errors met while parsing, and an arena for new values.  All
 * arrays are kept when a batch is recycled, so steady state allocates
 * nothing.
 */
#ifndef SPATE_ENGINE_BATCH_H
#define SPATE_ENGINE_BATCH_H

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "core/arena.h"
#include "record/symtab.h"
#include "record/value.h"

/* the record differs from its raw text: encoders must not copy raw */
#define SP_RECORD_CHANGED 0x1

struct sp_record {
	uint32_t first;	  /* index of the first field in batch->fields */
	uint32_t nfields; /* fields, removed ones included */
	const char *raw;  /* source text of the record, without newline */
	uint32_t raw_len;
	uint32_t flags; /* SP_RECORD_* */
	uint64_t line;	/* 1-based line of the record in its input */
};

/* An input record that could not be parsed, or a record a stage rejected. */
struct sp_record_error {
	const char *reason; /* what is wrong; static or in the batch arena */
	const char *raw;    /* offending text (may be cut short) */
	uint32_t raw_len;
	uint32_t record; /* index into recs, or SP_NO_RECORD */
	uint64_t line;	 /* 1-based input line, 0 if unknown */
	uint64_t offset; /* byte offset in the input */
};

#define SP_NO_RECORD UINT32_MAX

struct sp_batch {
	struct sp_record *recs;
	uint32_t nrecs, cap_recs;
	struct sp_field *fields;
	uint32_t nfields, cap_fields;
	struct sp_record_error *errors;
	uint32_t nerrors, cap_errors;
	struct sp_arena arena;
	struct sp_symtab *symtab;
	const char *source;    /* input name for messages ("data/a.jsonl") */
	uint64_t seq;	       /* position in its origin's output order */
	uint64_t bytes_in;     /* input bytes this batch was parsed from */
	const char *input;     /* those bytes (records' raw points into them) */
	uint64_t input_offset; /* byte offset of input[0] in its source */
};

struct sp_batch *sp_batch_create(struct sp_symtab *st);
void sp_batch_destroy(struct sp_batch *b);

/* Empties the batch for reuse, keeping its memory. */
void sp_batch_reset(struct sp_batch *b);

/* Starts a new record whose fields follow; NULL when out of memory. */
struct sp_record *sp_batch_record_begin(struct sp_batch *b);

/* Appends a field to the record begun last; NULL when out of memory. */
struct sp_field *sp_batch_field_add(struct sp_batch *b);

/* sp_batch_field_add for parsers' inner loops: inline while the field
 * array has room. */
static inline struct sp_field *sp_batch_field_push(struct sp_batch *b)
{
	if (__builtin_expect(b->nfields < b->cap_fields, 1)) {
		b->recs[b->nrecs - 1].nfields++;
		return &b->fields[b->nfields++];
	}
	return sp_batch_field_add(b);
}

/* Drops the record begun last (and its fields), e.g. after a parse error. */
void sp_batch_record_abort(struct sp_batch *b);

/* Appends a field to record rec (moving its fields to the end of the field
 * array when it is not last) and marks it changed; NULL on out of memory. */
struct sp_field *sp_batch_record_append(struct sp_batch *b, uint32_t rec);

/* Adds a record error; reason is copied into the arena (printf format).
 * 0 or -ENOMEM. */
int sp_batch_error_add(struct sp_batch *b, uint32_t record, uint64_t line,
		       uint64_t offset, const char *raw, uint32_t raw_len,
		       const char *fmt, ...)
    __attribute__((format(printf, 7, 8)));

static inline struct sp_field *sp_record_fields(const struct sp_batch *b,
						uint32_t rec)
{
	return &b->fields[b->recs[rec].first];
}

/* The value of top-level field sym in record rec, or NULL when absent. */
const struct sp_value *sp_record_get(const struct sp_batch *b, uint32_t rec,
				     uint32_t sym);

/* Copies the records of sel[0..n) of src into dst (fields, values; string
 * bytes stay shared with src's input, which must outlive dst's use). */
int sp_batch_copy_records(struct sp_batch *dst, const struct sp_batch *src,
			  const uint32_t *sel, uint32_t n);

/*
 * Field paths in the StreamSets form: "/a" is a top-level field, "/a/b"
 * reaches into a nested object, "/" is the whole record.  A path is parsed
 * once per flow and looked up per record.
 */
#define SP_PATH_MAX_DEPTH 16

struct sp_path {
	uint32_t sym;	/* top-level field; SP_SYM_NONE for "/" */
	uint32_t depth; /* components after the first */
	const char *rest[SP_PATH_MAX_DEPTH - 1];
	uint32_t rest_len[SP_PATH_MAX_DEPTH - 1];
	char *text; /* owned copy of the path text */
};

/* Parses text into *path.  0, or -EINVAL with *why set (static text). */
int sp_path_parse(const char *text, struct sp_symtab *st, struct sp_path *path,
		  const char **why);
void sp_path_fini(struct sp_path *path);

/* Value at path in record rec: 0 with *out filled, -ENOENT when absent. */
int sp_record_get_path(const struct sp_batch *b, uint32_t rec,
		       const struct sp_path *path, struct sp_value *out);

#endif
