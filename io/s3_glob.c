/*
 * The objects a path names on S3: a key, or a glob over keys.  Here, so
 * that every reader of S3 paths (file_reader, `spate submit`) expands
 * them one way.
 */
#define _GNU_SOURCE
#include <errno.h>
#include <fnmatch.h>
#include <stdlib.h>
#include <string.h>

#include "io/s3.h"

int sp_s3_glob(struct sp_s3 *s3, const char *bucket, const char *pattern,
	       struct sp_s3_object **out, size_t *n)
{
	size_t lit = strcspn(pattern, "*?[");
	int rc;

	*out = NULL;
	*n = 0;
	if (!pattern[lit]) {
		struct sp_s3_object *o = calloc(1, sizeof(*o));
		if (!o)
			return -ENOMEM;
		rc = sp_s3_head(s3, bucket, pattern, o);
		if (rc == 0 && !(o->key = strdup(pattern)))
			rc = -ENOMEM;
		if (rc) {
			sp_s3_objects_free(o, 1);
			return rc;
		}
		*out = o;
		*n = 1;
		return 0;
	}
	char *prefix = strndup(pattern, lit);
	struct sp_s3_object *v;
	size_t nv, k = 0;
	if (!prefix)
		return -ENOMEM;
	rc = sp_s3_list(s3, bucket, prefix, &v, &nv);
	free(prefix);
	if (rc)
		return rc;
	for (size_t i = 0; i < nv; i++) {
		if (fnmatch(pattern, v[i].key, FNM_PATHNAME | FNM_PERIOD)) {
			free(v[i].key);
			continue;
		}
		v[k++] = v[i];
	}
	if (k == 0) {
		free(v);
		return -ENOENT;
	}
	*out = v;
	*n = k;
	return 0;
}
