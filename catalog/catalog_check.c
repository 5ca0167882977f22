/*
 * Checks of what goes into the catalog: stage names, credential sources
 * (names of environment variables or a file, never the secrets), S3
 * endpoints (without credentials in them), buckets and URLs, local roots.
 * A value that may be a secret (a refused variable name, a URL's user
 * information) is never quoted back.
 */
#include "catalog/catalog_internal.h"

#include "core/url.h"

/* ---- validation ---------------------------------------------------------- */

int cat_check_name(const char *name, char *err, size_t errlen)
{
	size_t n = name ? strlen(name) : 0;
	bool ok = n > 0 && n <= SPATE_STAGE_NAME_MAX &&
		  ((name[0] >= 'a' && name[0] <= 'z') ||
		   (name[0] >= 'A' && name[0] <= 'Z'));

	for (size_t i = 0; ok && i < n; i++) {
		char ch = name[i];
		ok = (ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		     (ch >= '0' && ch <= '9') || ch == '_' || ch == '-';
	}
	if (!ok)
		cat_set_err(
		    err, errlen,
		    "bad stage name '%s': use letters, digits, '_' and "
		    "'-', starting with a letter, at most %d characters",
		    name ? name : "", SPATE_STAGE_NAME_MAX);
	return ok ? 0 : -EINVAL;
}

static bool is_env_name(const char *s)
{
	if (!s || !*s || (*s >= '0' && *s <= '9'))
		return false;
	for (; *s; s++)
		if (!((*s >= 'a' && *s <= 'z') || (*s >= 'A' && *s <= 'Z') ||
		      (*s >= '0' && *s <= '9') || *s == '_'))
			return false;
	return true;
}

/* S3 bucket naming rules: 3-63 of [a-z0-9.-], letter or digit at both
 * ends. */
bool cat_is_bucket(const char *s, size_t n)
{
	if (n < 3 || n > 63)
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = s[i];
		bool alnum =
		    (ch >= 'a' && ch <= 'z') || (ch >= '0' && ch <= '9');
		bool end = i == 0 || i == n - 1;
		if (!alnum && (end || (ch != '.' && ch != '-')))
			return false;
	}
	return true;
}

int cat_check_credentials(const char *key_env, const char *secret_env,
			  const char *file, char *err, size_t errlen)
{
	if ((key_env != NULL) != (secret_env != NULL)) {
		cat_set_err(
		    err, errlen,
		    "give both --key-id-env and --secret-env (the names "
		    "of the variables holding the key id and the secret)");
		return -EINVAL;
	}
	if (key_env && file) {
		cat_set_err(err, errlen,
			    "give either --key-id-env/--secret-env or "
			    "--credentials-file, not both");
		return -EINVAL;
	}
	if (key_env && (!is_env_name(key_env) || !is_env_name(secret_env))) {
		/* not quoted: it may be the secret itself */
		cat_set_err(err, errlen,
			    "%s is not a variable name (the value is not "
			    "shown): --key-id-env and --secret-env take the "
			    "NAMES of environment variables "
			    "([A-Za-z_][A-Za-z0-9_]*), never the values",
			    is_env_name(key_env) ? "--secret-env"
						 : "--key-id-env");
		return -EINVAL;
	}
	if (file && file[0] != '/') {
		cat_set_err(err, errlen,
			    "credentials file '%s' must be an absolute path",
			    file);
		return -EINVAL;
	}
	return 0;
}

int cat_check_endpoint(const char *endpoint, char *err, size_t errlen)
{
	if (sp_url_has_userinfo(endpoint)) {
		cat_set_err(err, errlen,
			    "--endpoint holds credentials (USER:PASSWORD@ "
			    "before the host; not shown, not kept): give "
			    "http[s]://HOST[:PORT] alone and the credentials "
			    "with --key-id-env/--secret-env or "
			    "--credentials-file");
		return -EINVAL;
	}
	if (strncmp(endpoint, "http://", 7) &&
	    strncmp(endpoint, "https://", 8)) {
		/* not shown: what is typed here by mistake may be a secret */
		cat_set_err(err, errlen,
			    "bad endpoint (not shown): give http://HOST[:PORT] "
			    "or https://HOST[:PORT]");
		return -EINVAL;
	}
	return 0;
}

int cat_check_region(const char *region, char *err, size_t errlen)
{
	bool ok = *region != '\0' && strlen(region) < 64;

	for (const char *p = region; ok && *p; p++)
		ok = (*p >= 'a' && *p <= 'z') || (*p >= '0' && *p <= '9') ||
		     *p == '-';
	if (!ok) /* not shown, as an endpoint */
		cat_set_err(err, errlen,
			    "bad region (not shown): lowercase letters, digits "
			    "and '-', e.g. us-east-1");
	return ok ? 0 : -EINVAL;
}

char *cat_s3_url(const char *bucket, const char *prefix)
{
	char *url;

	if (asprintf(&url, "s3://%s%s%s", bucket, prefix && *prefix ? "/" : "",
		     prefix ? prefix : "") < 0)
		return NULL;
	return url;
}

/* "s3://bucket[/prefix]" into bucket and prefix (malloc'd). */
int cat_parse_s3_url(const char *url, char **bucket, char **prefix, char *err,
		     size_t errlen)
{
	char shown[512];

	sp_url_shown(url, shown, sizeof(shown));
	if (strncmp(url, "s3://", 5) != 0) {
		cat_set_err(err, errlen,
			    "bad URL '%s': an S3 stage takes "
			    "s3://BUCKET[/PREFIX]",
			    shown);
		return -EINVAL;
	}
	const char *b = url + 5;
	const char *slash = strchrnul(b, '/');
	if (!cat_is_bucket(b, (size_t)(slash - b))) {
		cat_set_err(err, errlen,
			    "bad bucket name in '%s': 3 to 63 of a-z 0-9 . -, "
			    "starting and ending with a letter or digit",
			    shown);
		return -EINVAL;
	}
	const char *p = slash;
	while (*p == '/')
		p++;
	*bucket = strndup(b, (size_t)(slash - b));
	*prefix = strdup(p);
	if (!*bucket || !*prefix) {
		free(*bucket);
		free(*prefix);
		return -ENOMEM;
	}
	return 0;
}

/* A local root from "/abs" or "file:///abs", cleaned, into out. */
int cat_local_root(const char *in, char *out, size_t len, char *err,
		   size_t errlen)
{
	const char *p = in;

	if (!strncmp(p, "file://", 7))
		p += 7;
	if (p[0] != '/') {
		cat_set_err(
		    err, errlen,
		    "bad path '%s': a local stage needs an absolute path "
		    "(or file:///path)",
		    in);
		return -EINVAL;
	}
	if (cat_clean_path(p, out, len)) {
		cat_set_err(err, errlen, "path '%s' is too long", in);
		return -ENAMETOOLONG;
	}
	return 0;
}
