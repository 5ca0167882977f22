/*
 * spate stage catalog: named external locations ("stages": a local folder
 * or an S3 bucket and prefix) that flows refer to by name instead of
 * spelling out paths and credentials, and the history of the files loaded
 * from them.
 *
 * The catalog is an SQLite database, by default $SPATE_HOME/catalog.db,
 * else $XDG_DATA_HOME/spate/catalog.db, else ~/.local/share/spate/
 * catalog.db.  It is created on first use (with its parent folders, mode
 * 0700) with file mode 0600, and carries its schema version in
 * PRAGMA user_version.  Every change is one transaction; several processes
 * may use one catalog at once (a busy catalog is waited for, up to
 * SPATE_CATALOG_BUSY_MS).
 *
 * Credentials are never stored: a stage keeps where they come from - the
 * names of two environment variables, or the path of a credentials file -
 * and nothing in this API returns a secret.
 *
 * Load history: when a run that reads from a stage succeeds, every input
 * file it read in full is recorded (stage, path relative to the stage root,
 * size, mtime, XXH64 of its bytes, flow, run id, records read).  A rerun of
 * the same flow skips a file whose stage, path, size and hash match a
 * recorded load, unless forced.
 *
 * Conventions: functions return 0 (counts: >= 0) or -errno and write a
 * message naming what to fix into err (errlen bytes, may be 0).  Strings
 * passed in are copied; structs handed out are freed with the matching
 * _free function.  A struct spate_catalog is used by one thread at a time.
 */
#ifndef SPATE_CATALOG_H
#define SPATE_CATALOG_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#ifdef __cplusplus
extern "C" {
#endif

/* Schema version this library reads and writes (PRAGMA user_version). */
#define SPATE_CATALOG_SCHEMA 1
/* How long a call waits for another process holding the catalog. */
#define SPATE_CATALOG_BUSY_MS 10000
/* Longest stage name; names are letters, digits, '_' and '-', starting
 * with a letter. */
#define SPATE_STAGE_NAME_MAX 64

struct spate_catalog;

enum spate_stage_kind {
	SPATE_STAGE_LOCAL = 0,
	SPATE_STAGE_S3,
};

/* "local" or "s3" */
const char *spate_stage_kind_name(enum spate_stage_kind kind);

struct spate_catalog_stage {
	char *name;
	enum spate_stage_kind kind;
	char *url;	/* file:///data/in, s3://bucket/prefix */
	char *path;	/* local: root folder (absolute); s3: key prefix */
	char *bucket;	/* s3; NULL for local stages */
	char *endpoint; /* s3: NULL for AWS itself */
	char *region;	/* s3: NULL when not set */
	/* credential source (s3): two variable names, or a file, or none */
	char *key_id_env;
	char *secret_env;
	char *credentials_file;
	bool enabled;
	int64_t created; /* Unix time, seconds */
	char *comment;	 /* NULL when none */
};

void spate_catalog_stage_free(struct spate_catalog_stage *s);
void spate_catalog_stages_free(struct spate_catalog_stage *v, size_t n);

/* The default catalog path (see above) into buf.  0, -ENOENT when neither
 * SPATE_HOME, XDG_DATA_HOME nor HOME is set, -ENAMETOOLONG. */
int spate_catalog_default_path(char *buf, size_t len);

/* Opens (creating when missing) the catalog at path, NULL for the default.
 * Fails with -EPROTO when the file was written by a newer schema, -ENOTDIR
 * / -EACCES ... when it cannot be created, -EIO when it is not a catalog.
 * Free with spate_catalog_close. */
int spate_catalog_open(const char *path, struct spate_catalog **out,
		       char *err, size_t errlen);
void spate_catalog_close(struct spate_catalog *c);
/* The database file of an open catalog. */
const char *spate_catalog_path(const struct spate_catalog *c);

/* ---- stages -------------------------------------------------------------- */

/* A local stage rooted at path (absolute; "." and ".." components and
 * repeated slashes are folded; the folder need not exist yet).  -EEXIST
 * when the name is taken, -EINVAL for a bad name or a relative path. */
int spate_catalog_create_local(struct spate_catalog *c, const char *name,
			       const char *path, const char *comment,
			       char *err, size_t errlen);

struct spate_s3_spec {
	const char *bucket;	      /* required */
	const char *path;	      /* key prefix; NULL or "" for none */
	const char *endpoint;	      /* http(s)://host[:port], NULL: AWS */
	const char *region;	      /* NULL: not set */
	const char *key_id_env;	      /* both variable names, or neither */
	const char *secret_env;
	const char *credentials_file; /* instead of the variables */
	const char *comment;
};

/* An S3 stage.  -EEXIST, or -EINVAL naming the bad field (bucket name,
 * endpoint not http(s)://, a variable name that is not [A-Za-z_][A-Za-z0-9_]*,
 * one variable without the other, variables and a file together). */
int spate_catalog_create_s3(struct spate_catalog *c, const char *name,
			    const struct spate_s3_spec *spec, char *err,
			    size_t errlen);

/* What alter changes; NULL (enabled: -1) leaves a field as it is. */
struct spate_stage_change {
	const char *url;	      /* local: /abs/path or file:///abs/path;
				       * s3: s3://bucket[/prefix] */
	const char *key_id_env;	      /* both: replaces the credential source */
	const char *secret_env;
	const char *credentials_file; /* replaces the credential source */
	bool default_credentials;     /* the source becomes none: the
				       * standard AWS variables and file */
	const char *endpoint;	      /* s3: http(s)://host[:port]; "" AWS */
	const char *region;	      /* s3: "" removes it */
	const char *comment;	      /* "" removes it */
	int enabled;		      /* 1 enable, 0 disable, -1 unchanged */
};

/* Changes a stage in one transaction.  -ENOENT (unknown name, with a
 * suggestion), -EINVAL (bad value, checked as create does and never
 * shown when it may hold a secret; a URL of the other kind; an endpoint,
 * region or credentials for a local stage). */
int spate_catalog_alter(struct spate_catalog *c, const char *name,
			const struct spate_stage_change *ch, char *err,
			size_t errlen);

/* Removes a stage; its load history stays.  -ENOENT when unknown. */
int spate_catalog_drop(struct spate_catalog *c, const char *name, char *err,
		       size_t errlen);

/* The stage called name into *out.  -ENOENT when unknown ("did you mean"
 * in err when a name is close). */
int spate_catalog_get(struct spate_catalog *c, const char *name,
		      struct spate_catalog_stage **out, char *err,
		      size_t errlen);

/* Every stage, sorted by name: *out (NULL when none) and *n. */
int spate_catalog_list(struct spate_catalog *c,
		       struct spate_catalog_stage **out, size_t *n, char *err,
		       size_t errlen);

/* ---- flows reading and writing under a stage ----------------------------- */

/* The root folder of stage `name` for a flow's file I/O, with the symlinks
 * of its existing part resolved (the folder itself need not exist), into
 * *root (free it).  -ENOENT unknown stage, -EPERM disabled stage,
 * -ENOTSUP S3 stage (it has no local folder; readers and writers open it
 * through its bucket); err says which and what to do. */
int spate_catalog_local_root(struct spate_catalog *c, const char *name,
			     char **root, char *err, size_t errlen);

/* Checks that rel, a path (or glob) relative to root (as returned above)
 * of stage `name`, stays inside it: not absolute, no ".." component, and
 * what exists of root/rel resolves (symlinks followed) to root or below.
 * 0, or -EACCES / -EINVAL with the reason in err. */
int spate_catalog_check_path(const char *root, const char *name,
			     const char *rel, char *err, size_t errlen);

/* ---- load history -------------------------------------------------------- */

struct spate_catalog_load {
	char *stage;
	char *path; /* relative to the stage root */
	uint64_t size;
	int64_t mtime; /* Unix time, seconds */
	uint64_t xxh64;
	char *flow;
	char *run_id;
	uint64_t records;
	int64_t time; /* when the load was recorded, Unix time */
};

void spate_catalog_loads_free(struct spate_catalog_load *v, size_t n);

/* Records loads v[0..n) in one transaction (time is set to now). */
int spate_catalog_record_loads(struct spate_catalog *c,
			       const struct spate_catalog_load *v, size_t n,
			       char *err, size_t errlen);

/* Whether loads can be recorded: a row is written and rolled back.
 * 0, -EROFS (the file or its folder is read-only), -EACCES, -EBUSY ...
 * with err naming the catalog. */
int spate_catalog_check_writable(struct spate_catalog *c, char *err,
				 size_t errlen);

/* 1 when flow already loaded stage/path with that size (and, when xxh64 is
 * not NULL, that hash), 0 when not, -errno. */
int spate_catalog_is_loaded(struct spate_catalog *c, const char *flow,
			    const char *stage, const char *path,
			    uint64_t size, const uint64_t *xxh64);

/* Loads recorded, oldest first; only those of flow unless it is NULL. */
int spate_catalog_history(struct spate_catalog *c, const char *flow,
			  struct spate_catalog_load **out, size_t *n,
			  char *err, size_t errlen);

#ifdef __cplusplus
}
#endif

#endif
