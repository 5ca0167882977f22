/*
 * Helpers for end-to-end tests: run the spate binary, read what it wrote
 * (decompressing zstd), make temporary directories and files.
 */
#ifndef SPATE_TESTS_E2E_H
#define SPATE_TESTS_E2E_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct e2e_result {
	int exit_code; /* exit status, or 128 + signal */
	char *out;     /* stdout, NUL-terminated */
	size_t out_len;
	char *err; /* stderr, NUL-terminated */
	size_t err_len;
};

/* Path of the spate binary (SPATE_BIN) and the source tree. */
const char *e2e_spate(void);
const char *e2e_source_dir(void);

/* Runs spate with argv (NULL-terminated, without argv[0]) in dir cwd (NULL:
 * current), feeding stdin_data (may be NULL) and collecting output.  env
 * is NULL or a NULL-terminated list of "K=V" added to the environment. */
void e2e_run(struct e2e_result *r, const char *cwd, const char *const *env,
	     const char *stdin_data, const char *const *argv);
void e2e_result_free(struct e2e_result *r);

/* A fresh empty directory under /tmp; free the returned path. */
char *e2e_tmpdir(void);
/* rm -rf dir */
void e2e_rmrf(const char *dir);

/* Writes data to dir/name (creating parent dirs).  Returns the full path,
 * to free. */
char *e2e_write(const char *dir, const char *name, const char *data,
		size_t len);

/* Reads a whole file; NULL if missing.  *len gets the size. */
char *e2e_read(const char *path, size_t *len);

/* Reads a file and decompresses it when it is zstd (any number of
 * frames); NULL on error. */
char *e2e_read_text(const char *path, size_t *len);

/* Concatenated text of all files in dir matching suffix (sorted by name),
 * decompressed; "" when none.  Hidden files and _manifest.json skipped. */
char *e2e_read_dir(const char *dir, const char *suffix, size_t *len);

/* Number of entries in dir whose names match suffix (NULL: all),
 * hidden ones included when hidden is true. */
int e2e_count_files(const char *dir, const char *suffix, bool hidden);

/* Number of '\n'-terminated lines in s. */
size_t e2e_count_lines(const char *s, size_t len);

/* Sorts the lines of s in place (for comparing unordered output). */
void e2e_sort_lines(char *s, size_t len);

#endif
