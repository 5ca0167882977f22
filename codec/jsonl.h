/*
 * JSON lines codec: one JSON object per line.  The parser is zero-copy
 * (values point into the input chunk); the encoder copies unchanged records
 * and values byte for byte.
 */
#ifndef SPATE_IO_JSONL_H
#define SPATE_IO_JSONL_H

#include <stddef.h>
#include <stdint.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/symtab.h"

/* Per-thread parser state (symbol cache); embed and init once. */
struct sp_jsonl_parser {
	struct sp_symcache cache;
	uint32_t predicted[64]; /* field symbols of the previous record */
	uint32_t uniq; /* predicted[0..uniq) holds no symbol twice */
};

void sp_jsonl_parser_init(struct sp_jsonl_parser *p, struct sp_symtab *st);

/*
 * Parses the lines of buf[0..len) into b, one record per line (a last line
 * without '\n' counts; a trailing '\r' is dropped; blank lines are
 * skipped; a UTF-8 byte order mark where an input starts, base_offset 0,
 * is skipped too).  A line that is not one well-formed JSON object becomes an
 * entry in b->errors with b->source, its line (first_line + lines before
 * it), its byte offset (base_offset + offset in buf) and what is wrong;
 * parsing goes on with the next line.  Each record's raw/raw_len is its
 * line and its line number is set.  Returns the number of records added,
 * or -ENOMEM.
 */
int sp_jsonl_parse(struct sp_jsonl_parser *p, const char *buf, size_t len,
		   uint64_t first_line, uint64_t base_offset,
		   struct sp_batch *b);

/* Length of the longest prefix of buf[0..len) that ends with '\n' (0 when
 * there is none): a chunk boundary for parallel parsing. */
size_t sp_jsonl_split(const char *buf, size_t len);

/* Number of '\n' in p[0..n): readers number the lines of each chunk. */
size_t sp_count_lines(const char *p, size_t n);

/* Appends records sel[0..n) of b to out as JSON lines.  A record without
 * SP_RECORD_CHANGED is copied from raw; otherwise each remaining field is
 * written as "name":value with the value's source text when it has one.
 * 0 or -ENOMEM. */
int sp_jsonl_encode(const struct sp_batch *b, const uint32_t *sel, uint32_t n,
		    struct sp_buf *out);

/* Appends record sel[0] as sp_jsonl_encode does, and with it up to max - 1
 * of the records after it when they, like it, are unchanged and lie back
 * to back in one input, one newline apart: their text is copied in one
 * piece.  *done: the records appended.  0 or -ENOMEM. */
int sp_jsonl_encode_run(const struct sp_batch *b, const uint32_t *sel,
			uint32_t n, uint32_t max, struct sp_buf *out,
			uint32_t *done);

/* Appends one record (as in sp_jsonl_encode, without the newline). */
int sp_jsonl_encode_record(const struct sp_batch *b, uint32_t rec,
			   struct sp_buf *out);

#endif
