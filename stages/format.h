/*
 * The text formats that stages read and write (JSON lines and CSV), in one
 * block every such stage shares instead of repeating it:
 *   - sp_format_opts, the options (format, delimiter, quote, header) a
 *     stage embeds in its config, and SP_FORMAT_OPTION_ROWS, their rows
 *     in the stage's option table, so that the names, defaults and help
 *     are the same everywhere;
 *   - sp_format_reader, the parsing side of a reading stage whose input
 *     is one stream (stdin, dev_raw_data): the CSV parser once the
 *     preamble is read, a JSON-lines parser per worker, and the parse
 *     callback that picks between them;
 *   - the writing side (stdout, file_writer): the same rows with a
 *     writer's help (SP_FORMAT_WRITER_OPTION_ROWS), their check, and a
 *     CSV line per record, a record CSV cannot carry becoming a record
 *     error.
 * file_reader shares the options; its parsers are per file (a header and
 * schema per file), so it keeps its own parse.  The writers keep their
 * header lines (stdout writes one for all workers, file_writer one per
 * file) and their JSON lines (file_writer copies runs of unchanged
 * records).
 */
#ifndef SPATE_STAGES_FORMAT_H
#define SPATE_STAGES_FORMAT_H

#include <stdbool.h>
#include <stddef.h>

#include "codec/csv.h"
#include "config/options.h"
#include "stage_api/stage.h"

enum sp_format_kind {
	SP_FORMAT_JSONL = 0,
	SP_FORMAT_CSV,
};

/* The choices of a `format` option, indexed by enum sp_format_kind. */
extern const char *const sp_format_names[];

/* The format options, as a stage's config holds them. */
struct sp_format_opts {
	int format; /* enum sp_format_kind */
	char delimiter;
	char quote;
	bool header;
};

/* The option rows of the struct sp_format_opts member M of config type T
 * (offsetof takes the nested member), with the help of what `format` and
 * `header` mean to the stage. */
#define SP_FORMAT_ROWS(T, M, FORMAT_HELP, HEADER_HELP)                       \
	{.name = "format", .type = SP_OPT_ENUM, .def = "jsonl",              \
	 .choices = sp_format_names, .offset = offsetof(T, M.format),        \
	 .help = FORMAT_HELP},                                               \
	{.name = "delimiter", .type = SP_OPT_CHAR, .def = ",",               \
	 .offset = offsetof(T, M.delimiter),                                 \
	 .help = "csv: field delimiter (\\t or tab for a tab)"},             \
	{.name = "quote", .type = SP_OPT_CHAR, .def = "\"",                  \
	 .offset = offsetof(T, M.quote), .help = "csv: quote character"},    \
	{.name = "header", .type = SP_OPT_BOOL, .def = "true",               \
	 .offset = offsetof(T, M.header), .help = HEADER_HELP}

/* A reading stage's rows. */
#define SP_FORMAT_OPTION_ROWS(T, M)                                          \
	SP_FORMAT_ROWS(T, M,                                                 \
		       "jsonl: one JSON object per line; csv: "              \
		       "comma-separated values",                             \
		       "csv: the first line read names the columns")

/* A writing stage's rows. */
#define SP_FORMAT_WRITER_OPTION_ROWS(T, M)                                   \
	SP_FORMAT_ROWS(T, M,                                                 \
		       "jsonl: one JSON object per line; csv: "              \
		       "comma-separated values with the columns of the "     \
		       "first record",                                       \
		       "csv: start the output (each file) with a line of "   \
		       "the column names")

/* The parsing side of a stage that reads one stream of text. */
struct sp_format_reader {
	bool csv;
	struct sp_csv_parser parser; /* csv: shared by the workers */
	struct sp_symtab *symtab;
};

/* Sets r up for o; 0, or -EINVAL / -ENOMEM with the reason in err (a
 * CSV delimiter and quote that cannot work together). */
int sp_format_reader_init(struct sp_format_reader *r,
			  const struct sp_format_opts *o,
			  struct sp_symtab *symtab, char *err, size_t errlen);
void sp_format_reader_fini(struct sp_format_reader *r);

/* A worker's parser state (a JSON-lines parser), NULL when out of memory;
 * freed by sp_format_worker_destroy. */
void *sp_format_worker_create(const struct sp_format_reader *r);
void sp_format_worker_destroy(void *wstate);

/* Parses chunk c into b with the reader's format: 0, or -errno when the
 * batch could not be built (bad records are record errors in b). */
int sp_format_parse(struct sp_format_reader *r, void *wstate,
		    const struct sp_chunk *c, struct sp_batch *b);

/* The writing side.  Validation of a writing stage's format options: a
 * CSV delimiter and quote that cannot work together is a problem of
 * option `delimiter`. */
void sp_format_check(const struct sp_format_opts *o, struct sp_check *chk);

/* A worker's CSV encoder for o (the header line is the stage's). */
void sp_format_csv_encoder_init(struct sp_csv_encoder *e,
				const struct sp_format_opts *o);

/* Appends record rec of b to out as a CSV line of e's columns (those of
 * the first record e encoded, unless the stage set them).  A record CSV
 * cannot carry (a field that is not a column, a NUL byte) becomes a
 * record error of b, out unchanged: 1.  0 when written, or -ENOMEM. */
int sp_format_put_csv(struct sp_csv_encoder *e, struct sp_batch *b,
		      uint32_t rec, struct sp_buf *out);

#endif
