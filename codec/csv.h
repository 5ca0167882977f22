/*
 * CSV codec (RFC 4180): quoted fields, doubled quotes, delimiters and
 * newlines inside quotes, CRLF, optional header, custom delimiter and
 * quote, ignore_lines, and typed conversion through a schema.
 */
#ifndef SPATE_IO_CSV_H
#define SPATE_IO_CSV_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#include "record/batch.h"
#include "core/buf.h"
#include "record/symtab.h"

enum sp_csv_type {
	SP_CSV_STRING = 0,
	SP_CSV_INT,
	SP_CSV_DOUBLE,
	SP_CSV_BOOL,
	SP_CSV_TIMESTAMP, /* ISO 8601 -> "YYYY-MM-DDTHH:MM:SS[.fff]Z" (UTC) */
};

/* "int" -> SP_CSV_INT ...; -EINVAL for an unknown name */
int sp_csv_type_parse(const char *name, enum sp_csv_type *out);
const char *sp_csv_type_name(enum sp_csv_type t);

struct sp_csv_column {
	const char *name;
	enum sp_csv_type type;
};

struct sp_csv_options {
	char delimiter;	       /* default ',' */
	char quote;	       /* default '"' */
	bool header;	       /* first line (after ignore_lines) names columns */
	uint32_t ignore_lines; /* lines skipped at the start of each input */
	const struct sp_csv_column *schema; /* may be NULL */
	uint32_t nschema;
};

/*
 * Parser configuration for one input: the column symbols and types.  It is
 * read-only once the preamble is read, so all workers share it.
 */
struct sp_csv_parser {
	struct sp_csv_options opt;
	uint32_t ncols;
	uint32_t *col_sym;	     /* symbol of each column */
	enum sp_csv_type *col_type;  /* type of each column */
	uint32_t renamed; /* header names made unique: empty or repeated */
};

int sp_csv_parser_init(struct sp_csv_parser *p,
		       const struct sp_csv_options *opt, struct sp_symtab *st);

/* What is wrong with a delimiter and quote pair (the parser refuses it
 * with -EINVAL, stages at validation), NULL when nothing. */
static inline const char *sp_csv_chars_problem(char delimiter, char quote)
{
	if (delimiter == quote)
		return "delimiter and quote must differ";
	if (delimiter == '\n' || delimiter == '\r' || quote == '\n' ||
	    quote == '\r')
		return "delimiter and quote may not be a line break";
	return NULL;
}
void sp_csv_parser_fini(struct sp_csv_parser *p);

/*
 * Skips ignore_lines and reads the header line (when opt.header) at the
 * start of an input.  Columns come from the header, else from the schema,
 * else from the first data row ("_1", "_2", ...; the row itself stays
 * data).  A schema column must name a header column.  Returns the bytes
 * consumed (data starts there) and sets *lines to the lines consumed, or
 * -EINVAL with a message in err (e.g. "header has no column 'expense'
 * named in schema"), or -EAGAIN when buf holds no complete header yet.
 * eof: buf holds the whole input (a last line without newline is
 * complete; a header with an unterminated quote is an error).  A header
 * that does not end within SP_CSV_PREAMBLE_MAX bytes is an error naming
 * the bytes read.  Empty or duplicate header names are made unique (see
 * sp_csv_parser.renamed).  Call once per input, before sp_csv_parse.
 */
ssize_t sp_csv_read_preamble(struct sp_csv_parser *p, struct sp_symtab *st,
			     const char *buf, size_t len, bool eof,
			     uint64_t *lines, char *err, size_t errlen);

/* Longest preamble (ignore_lines and header) searched for its end: a
 * header that does not end within it is an error, not data swallowed. */
#define SP_CSV_PREAMBLE_MAX ((size_t)1 << 20)

/*
 * Whether an input's line ends are lone CRs, from its first line end
 * outside quotes (after a UTF-8 BOM): 1 CR-only, 0 LF or CRLF (or none
 * within SP_CSV_PREAMBLE_MAX bytes, or none at all when eof), -EAGAIN when
 * buf holds no line end yet.  A CR-only input is read with every CR turned
 * into '\n' by sp_csv_cr_to_lf before the preamble and the parser see it.
 */
int sp_csv_detect_cr(const struct sp_csv_options *opt, const char *buf,
		     size_t len, bool eof);
void sp_csv_cr_to_lf(char *buf, size_t len);

/*
 * Parses the records of buf[0..len) into b (zero copy where a field has no
 * doubled quotes; else the unquoted text goes in b's arena).  A row with
 * the wrong number of fields, an unbalanced quote or a value that does not
 * convert to its schema type becomes an entry in b->errors naming
 * b->source, line, byte offset, and (for conversion) the column and value.
 * Returns the number of records added, or -ENOMEM.
 */
int sp_csv_parse(const struct sp_csv_parser *p, const char *buf, size_t len,
		 uint64_t first_line, uint64_t base_offset, struct sp_batch *b);

/* Length of the longest prefix of buf[0..len) ending on a record boundary
 * (a newline outside quotes), given that buf starts on one; 0 if none. */
size_t sp_csv_split(const struct sp_csv_options *opt, const char *buf,
		    size_t len);

/* Encoder: a fixed column list (set from the first record when empty). */
struct sp_csv_encoder {
	char delimiter;
	char quote;
	bool header;	     /* write a header line first */
	bool header_written;
	uint32_t ncols;
	uint32_t *cols;	     /* symbols */
	uint8_t special[256]; /* 1: a byte that makes a field quoted */
};

void sp_csv_encoder_init(struct sp_csv_encoder *e, char delimiter, char quote,
			 bool header);
void sp_csv_encoder_fini(struct sp_csv_encoder *e);

/* Appends record rec as a CSV line (and the header first when due),
 * quoting where needed.  0; -ENOMEM; -EINVAL with *why set when the record
 * has a field that is not one of the columns (never dropped silently) or
 * a value that holds a NUL byte (which CSV readers refuse). */
int sp_csv_encode_record(struct sp_csv_encoder *e, const struct sp_batch *b,
			 uint32_t rec, struct sp_buf *out, const char **why);

#endif
