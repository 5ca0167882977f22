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

/* Records for the suite's output check (tests/support/check_output.py,
 * run after all end-to-end tests): the lines of s that hold an error
 * record ("spate_error"), or with log_lines every line (of stderr),
 * are appended to $SPATE_ERROR_LINES when it is set.  The e2e_run family
 * marks the stderr of a run under --log-format json (argument or
 * SPATE_LOG_FORMAT), whose every line must be a JSON log line.  e2e_read_text and
 * the e2e_run family call it on everything they read. */
void e2e_note_output(const char *s, size_t len, bool log_lines);

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

/* ---- runs with a time limit, background runs, the --json status ---- */

#include <sys/types.h>

/* As e2e_run, but spate is killed (SIGKILL) when it has not ended after
 * limit_s seconds: exit_code is then 128 + 9 and err ends with a line
 * "e2e: killed after N s".  A hung run fails its test instead of hanging
 * the suite.  limit_s <= 0: no limit (what e2e_run does). */
void e2e_run_timed(struct e2e_result *r, const char *cwd,
		   const char *const *env, const char *stdin_data,
		   const char *const *argv, int limit_s);

/* Starts spate in the background in cwd with stdout and stderr going to
 * the files out_path and err_path.  When stdin_fd is not NULL its stdin
 * is a pipe whose write end is returned there (close it for EOF); else
 * /dev/null.  Returns the pid. */
pid_t e2e_bg_start(const char *cwd, const char *const *env,
		   const char *const *argv, const char *out_path,
		   const char *err_path, int *stdin_fd);

/* Waits for a background spate for at most limit_s seconds, then kills it
 * (SIGKILL).  Returns its exit status, or 128 + signal. */
int e2e_bg_wait(pid_t pid, int limit_s);

/* Sleeps ms milliseconds. */
void e2e_sleep_ms(int ms);

#define E2E_MAX_STAGES 64
#define E2E_MAX_LANES 33

/* One stage of the `spate run --json` status. */
struct e2e_stage_status {
	char id[64];
	char type[64];
	uint64_t records_in, errors, warnings, dropped, bytes_in, bytes_out;
	uint32_t nlanes;
	char lane[E2E_MAX_LANES][64];
	uint64_t out[E2E_MAX_LANES];
	unsigned seen; /* bit per key present (E2E_K_*) */
};

enum {
	E2E_K_ID = 1 << 0,
	E2E_K_TYPE = 1 << 1,
	E2E_K_IN = 1 << 2,
	E2E_K_OUT = 1 << 3,
	E2E_K_ERRORS = 1 << 4,
	E2E_K_WARNINGS = 1 << 5,
	E2E_K_DROPPED = 1 << 6,
	E2E_K_BYTES_IN = 1 << 7,
	E2E_K_BYTES_OUT = 1 << 8,
	E2E_K_ALL = (1 << 9) - 1,
};

struct e2e_status {
	char flow[128];
	char status[32];
	char error[1024];
	double elapsed_s;
	uint64_t discarded; /* record errors lost by default (exit 3) */
	bool has_flow, has_status, has_elapsed, has_stages;
	uint32_t nstages;
	struct e2e_stage_status st[E2E_MAX_STAGES];
};

/* Parses the status object: the last line of out that starts with
 * {"flow": (records a stdout stage wrote come before it).  0, or -1
 * when there is none or it does not parse. */
int e2e_status_parse(const char *out, struct e2e_status *st);

/* The stage with that id, or NULL. */
const struct e2e_stage_status *e2e_status_stage(const struct e2e_status *st,
						const char *id);

/* Length of out without the status line (what stdout stages wrote). */
size_t e2e_status_records_len(const char *out);

/* Asserts (Criterion) for every stage that records_in == sum of its lane
 * outputs + errors + dropped, and that every key is present.  Stages with
 * several lanes whose id is in overlap (NULL-terminated, may be NULL) are
 * selectors in mode all: a record may go to several lanes, so there each
 * lane holds at most in - errors - dropped records and all lanes together
 * at least that many. */
void e2e_status_assert_accounting(const struct e2e_status *st,
				  const char *const *overlap);

/* ---- texts, files in a test folder, flow runs, comparisons ---- */

/* The environment that selects the plain-syscall I/O backend. */
extern const char *const e2e_sync_env[];

/* A run that takes longer is hung (runs take a second or two in release,
 * far less than this under the sanitizers): it is killed and fails. */
#define E2E_RUN_LIMIT_S 60

/* Two Criterion tests per body, suite.name_sync on the plain-syscall
 * backend and suite.name_default_io on the default one; the body gets the
 * environment to run spate with and the backend's name for messages:
 *
 *	E2E_BOTH_IO(suite, name)
 *	{
 *		... env, io ...
 *	}
 */
#define E2E_BOTH_IO(suite, name)                                               \
	static void name##_body(const char *const *env, const char *io);       \
	Test(suite, name##_sync)                                               \
	{                                                                      \
		name##_body(e2e_sync_env, "sync");                             \
	}                                                                      \
	Test(suite, name##_default_io)                                         \
	{                                                                      \
		name##_body(NULL, "default");                                  \
	}                                                                      \
	static void name##_body(const char *const *env, const char *io)

/* A growing NUL-terminated text; {0} is empty, free p when done. */
struct e2e_text {
	char *p;
	size_t len, cap;
};

void e2e_text_add(struct e2e_text *t, const char *s, size_t n);
void e2e_text_printf(struct e2e_text *t, const char *fmt, ...)
    __attribute__((format(printf, 2, 3)));

/* "a/b", to free. */
char *e2e_join(const char *a, const char *b);

/* e2e_write without the path: dir/name gets len bytes of data, or s. */
void e2e_put(const char *dir, const char *name, const char *data, size_t len);
void e2e_put_str(const char *dir, const char *name, const char *s);
/* dir/name's mtime (and atime) an hour ago: a file that is not being
 * written, whose content hash a run may leave to its read. */
void e2e_age(const char *dir, const char *name);

/* sh -c "cd DIR && CMD", which must exit 0 (makes compressed inputs with
 * the command-line tools, for one). */
void e2e_sh(const char *dir, const char *cmd);

/* spate run FLOW --quiet [extra..., NULL] in cwd, E2E_RUN_LIMIT_S at
 * most. */
void e2e_run_flow(struct e2e_result *r, const char *cwd, const char *const *env,
		  const char *flow, ...);

/* Asserts exit code 0; the message shows io and stderr. */
void e2e_assert_ok(const struct e2e_result *r, const char *io);

/* e2e_run_flow that must succeed (e2e_assert_ok), its output unread. */
void e2e_run_flow_ok(const char *cwd, const char *const *env, const char *io,
		     const char *flow, ...);

/* Expects equal bytes, or fails showing io, what and where they first
 * differ. */
void e2e_assert_same(const char *got, size_t got_len, const char *want,
		     size_t want_len, const char *what, const char *io);

/* e2e_read_dir of dir/sub: the decompressed, concatenated data files. */
char *e2e_read_out(const char *dir, const char *sub, size_t *len);

/* e2e_assert_same of e2e_read_out(dir, sub) and want (want_len bytes, or
 * a string). */
void e2e_assert_out_n(const char *dir, const char *sub, const char *want,
		      size_t want_len, const char *io);
void e2e_assert_out(const char *dir, const char *sub, const char *want,
		    const char *io);

/* A deterministic pseudo-random step (for generated inputs). */
uint64_t e2e_lcg(uint64_t *s);

/* In JSON text p, what follows "key" and the ':' after it (blanks
 * skipped); NULL when key is not there. */
const char *e2e_after_key(const char *p, const char *key);

/* What `--log-level info` says when a run takes its run id before the
 * run because its file_writer 'out' compares it with its target. */
#define E2E_HASHED_BEFORE_OUT                                                  \
	"the input is hashed before the run: stage 'out' (file_writer) needs " \
	"the run id when it starts"

/* XXH64 of data[0..len), seed 0 (one shot, as `xxhsum -H1` prints it),
 * written from the specification: independent of the engine's. */
uint64_t e2e_xxh64(const void *data, size_t len);

/* Counting how often a run opens an input file, which tells whether it
 * hashed the file before the run (two opens: the hash, the read) or
 * took the hash as it read it (one).  e2e_opens_watch starts watching
 * the files of dir (inotify) and returns what e2e_opens_count takes:
 * the opens of dir/name since then (it closes the watch).  inotify
 * merges an event that repeats the one before it, so that the opens
 * of one file at the same time count once: "at least 2" for a hash
 * before the run, "exactly 1" for a run that read the file once. */
int e2e_opens_watch(const char *dir);
int e2e_opens_count(int fd, const char *name);
/* The same for each of names (NULL-terminated): opens[i]. */
void e2e_opens_read(int fd, const char *const *names, int *opens);

/* ---- flows run with --json in a folder of their own ---- */

struct e2e_flow {
	char *dir; /* made by the first run; {0} to start */
	struct e2e_result r;
	struct e2e_status st;
};

/* Writes yaml to dir/flow.yaml and runs `spate run flow.yaml --json` with
 * the extra arguments (NULL-terminated), env and stdin_data (each may be
 * NULL), freeing the result of an earlier run.  Asserts that the status
 * parses and that every stage's accounting holds (overlap as for
 * e2e_status_assert_accounting). */
void e2e_flow_run(struct e2e_flow *x, const char *yaml,
		  const char *const *extra, const char *const *env,
		  const char *stdin_data, const char *const *overlap);
/* e2e_flow_run of the flow printf(fmt, ...) makes, without extra
 * arguments or stdin. */
void e2e_flow_run_fmt(struct e2e_flow *x, const char *const *env,
		      const char *const *overlap, const char *fmt, ...)
    __attribute__((format(printf, 4, 5)));
void e2e_flow_done(struct e2e_flow *x);

/* Asserts exit code 0 and the status "finished". */
void e2e_flow_assert_finished(const struct e2e_flow *x);

/* Data files of dir/sub, decompressed and concatenated, to free. */
char *e2e_flow_out(const struct e2e_flow *x, const char *sub);
/* Asserts that e2e_flow_out(x, sub) is want. */
void e2e_flow_assert_out(const struct e2e_flow *x, const char *sub,
			 const char *want);

/* The stage with that id in the status; asserts it is there. */
const struct e2e_stage_status *e2e_flow_stage(const struct e2e_flow *x,
					      const char *id);

/* Asserts a stage's counts, and that it has the one lane "output". */
void e2e_flow_assert_counts(const struct e2e_flow *x, const char *id,
			    uint64_t in, uint64_t out, uint64_t errors,
			    uint64_t dropped);

#endif
