/*
 * Rows of PostgreSQL's COPY text format turned into records: the columns
 * a query returns, each with the kind of value it becomes, and the parser
 * that decodes a block of rows in place (the block is the origin's own
 * buffer) into a batch.
 *
 * The mapping, by the column's type:
 *   bool                         true/false
 *   int2, int4, int8, oid        integers
 *   float4, float8               numbers as PostgreSQL prints them
 *                                (shortest exact form); NaN and
 *                                Infinity become strings
 *   numeric                      numbers that keep the exact digits
 *                                (12345678901234567890.123456789 stays
 *                                so on output); NaN and Infinity strings
 *   json, jsonb, arrays, rows    nested values (arrays and composite rows
 *                                are read through to_json); json text
 *                                loses its whitespace, not its key order
 *   timestamp                    "2024-01-02T03:04:05.123456"
 *   timestamptz                  "2024-01-02T03:04:05.123456Z" (UTC)
 *   bytea                        "\x0102ff" (PostgreSQL's hex form)
 *   anything else                its text form (date, uuid, interval ...)
 *   NULL                         null
 *
 * Threads: a column list is built on the controlling thread and read-only
 * afterwards; parse runs on any worker.
 */
#ifndef SPATE_DB_PGTEXT_H
#define SPATE_DB_PGTEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "record/batch.h"

enum sp_pgtext_kind {
	SP_PGT_TEXT = 0,
	SP_PGT_BOOL,
	SP_PGT_INT,
	SP_PGT_FLOAT,
	SP_PGT_NUMERIC,
	SP_PGT_JSON,
	SP_PGT_TIMESTAMP,
	SP_PGT_TIMESTAMPTZ,
};

/* The kind of a column of type oid whose pg_type category is cat; *wrap
 * tells that the query must select it through to_json(). */
enum sp_pgtext_kind sp_pgtext_kind_of(uint32_t oid, char cat, bool *wrap);

struct sp_pgtext_cols {
	uint32_t n;
	uint32_t *syms;		    /* field of each column */
	enum sp_pgtext_kind *kinds; /* its kind */
};

/*
 * Appends the records of the COPY text rows data[0..len) (whole rows,
 * each ending in '\n') to b, decoding data in place; the values point
 * into data, which must outlive the batch.  The first row is number
 * first (for messages).  A value that does not read as its kind (which
 * PostgreSQL does not send) is a record error.  0 or -ENOMEM.
 */
int sp_pgtext_parse(const struct sp_pgtext_cols *cols, char *data, size_t len,
		    uint64_t first, struct sp_batch *b);

#endif
