/*
 * A shard's inputs to and from JSON (see input.h).
 */
#define _GNU_SOURCE
#include "cluster/input.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cluster/job.h"
#include "record/json.h"
#include "record/value.h"

int sp_cinputs_json(struct sp_buf *b, const struct sp_cinput *in, size_t n)
{
	char num[200];
	int rc = sp_buf_putc(b, '[');

	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = sp_buf_append(b, i ? ",{\"path\":" : "{\"path\":", i ? 9 : 8);
		rc = rc ? rc
			: sp_json_append_string(b, in[i].path,
						strlen(in[i].path));
		int len = snprintf(num, sizeof(num),
				   ",\"size\":%" PRIu64 ",\"mtime_ns\":%" PRId64
				   ",\"from\":%" PRIu64 ",\"to\":%" PRIu64
				   ",\"line\":%" PRIu64 "}",
				   in[i].size, in[i].mtime_ns, in[i].from,
				   in[i].to, in[i].line);
		rc = rc ? rc : sp_buf_append(b, num, (size_t)len);
	}
	return rc ? rc : sp_buf_putc(b, ']');
}

static int parse_one(const char *obj, struct sp_cinput *in)
{
	uint64_t mtime = 0;
	int rc = sp_cjson_str(obj, "path", &in->path);

	rc = rc ? rc : sp_cjson_u64(obj, "size", &in->size);
	rc = rc ? rc : sp_cjson_u64(obj, "mtime_ns", &mtime);
	rc = rc ? rc : sp_cjson_u64(obj, "from", &in->from);
	rc = rc ? rc : sp_cjson_u64(obj, "to", &in->to);
	rc = rc ? rc : sp_cjson_u64(obj, "line", &in->line);
	in->mtime_ns = (int64_t)mtime;
	return rc == -ENOENT ? -EINVAL : rc;
}

int sp_cinputs_parse(const char *obj, const char *key, struct sp_cinput **in,
		     size_t *n)
{
	struct sp_value arr;
	int rc = sp_json_object_get(obj, strlen(obj), key, strlen(key), &arr);

	*in = NULL;
	*n = 0;
	if (rc < 0)
		return rc;
	if (arr.type != SP_ARRAY)
		return -EINVAL;
	const char *p = arr.str + 1, *end = arr.str + arr.len - 1;
	size_t cap = 0;
	while (rc == 0) {
		while (p < end && (*p == ' ' || *p == ',' || *p == '\n'))
			p++;
		if (p >= end)
			break;
		struct sp_value v;
		const char *why = NULL;
		if (sp_json_scan_value(&p, end, &v, &why) < 0 ||
		    v.type != SP_OBJECT) {
			rc = -EINVAL;
			break;
		}
		if (*n == cap) {
			cap = cap ? cap * 2 : 8;
			struct sp_cinput *m = realloc(*in, cap * sizeof(**in));
			if (!m) {
				rc = -ENOMEM;
				break;
			}
			*in = m;
		}
		char *text = strndup(v.str, v.len);
		memset(&(*in)[*n], 0, sizeof(**in));
		rc = text ? parse_one(text, &(*in)[(*n)++]) : -ENOMEM;
		free(text);
	}
	if (rc < 0) {
		sp_cinputs_free(*in, *n);
		*in = NULL;
		*n = 0;
	}
	return rc;
}

int sp_cinput_copy(struct sp_cinput *dst, const struct sp_cinput *src)
{
	*dst = *src;
	dst->path = strdup(src->path);
	return dst->path ? 0 : -ENOMEM;
}

void sp_cinputs_free(struct sp_cinput *in, size_t n)
{
	for (size_t i = 0; in && i < n; i++)
		free(in[i].path);
	free(in);
}

void sp_cinputs_describe(const struct sp_cinput *in, size_t n, char *out,
			 size_t len)
{
	if (n == 0)
		snprintf(out, len, "no input");
	else if (n > 1)
		snprintf(out, len, "%s and %zu more file%s", in[0].path, n - 1,
			 n > 2 ? "s" : "");
	else if (in[0].to)
		snprintf(out, len, "%s bytes %" PRIu64 "-%" PRIu64, in[0].path,
			 in[0].from, in[0].to);
	else
		snprintf(out, len, "%s", in[0].path);
}
