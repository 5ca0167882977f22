/*
 * Where an S3 client's endpoint, region and credentials come from: the
 * variables or credentials file a catalog stage names, else the standard
 * AWS variables and ~/.aws/credentials (profile AWS_PROFILE), as the AWS
 * CLI reads them.  Secrets are copied into the config and nowhere else;
 * messages name variables, files and profiles, never their values, and
 * the secrets are registered for redaction.  An endpoint or s3:// URL
 * holding USER:PASSWORD@ is refused without being shown.
 */
#define _GNU_SOURCE
#include <ctype.h>
#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "core/redact.h"
#include "core/url.h"
#include "io/s3.h"

static int dup_to(char **dst, const char *s)
{
	if (!s) {
		*dst = NULL;
		return 0;
	}
	*dst = strdup(s);
	return *dst ? 0 : -ENOMEM;
}

static const char *env(const char *name)
{
	const char *v = getenv(name);
	return v && *v ? v : NULL;
}

static char *trim(char *s)
{
	while (isspace((unsigned char)*s))
		s++;
	size_t n = strlen(s);
	while (n && isspace((unsigned char)s[n - 1]))
		s[--n] = '\0';
	return s;
}

/* Reads profile `profile` of the INI file at path into cfg. */
static int read_profile(const char *path, const char *profile,
			struct sp_s3_config *cfg, char *err, size_t errlen)
{
	FILE *f = fopen(path, "re");
	char line[1024];
	bool in = false, seen = false;
	int rc = 0;

	if (!f) {
		rc = -errno;
		snprintf(err, errlen, "cannot read credentials file %s: %s",
			 path, strerror(errno));
		return rc;
	}
	while (!rc && fgets(line, sizeof(line), f)) {
		char *s = trim(line);
		if (*s == '[') {
			char *e = strchr(s, ']');
			if (e)
				*e = '\0';
			in = !strcmp(trim(s + 1), profile);
			seen |= in;
			continue;
		}
		char *eq = strchr(s, '=');
		if (!in || !eq || *s == '#' || *s == ';')
			continue;
		*eq = '\0';
		char *k = trim(s), *v = trim(eq + 1);
		char **dst = !strcmp(k, "aws_access_key_id") ? &cfg->key_id
			     : !strcmp(k, "aws_secret_access_key")
				 ? &cfg->secret
			     : !strcmp(k, "aws_session_token") ? &cfg->token
							       : NULL;
		if (dst) {
			free(*dst);
			rc = dup_to(dst, v);
		}
	}
	fclose(f);
	if (!rc && (!seen || !cfg->key_id || !cfg->secret)) {
		snprintf(err, errlen,
			 "credentials file %s has no profile [%s] with "
			 "aws_access_key_id and aws_secret_access_key",
			 path, profile);
		rc = -ENOENT;
	}
	return rc;
}

static int from_env_names(const struct sp_s3_source *src,
			  struct sp_s3_config *cfg, char *err, size_t errlen)
{
	const char *names[2] = {src->key_id_env, src->secret_env};
	char **dst[2] = {&cfg->key_id, &cfg->secret};

	for (int i = 0; i < 2; i++) {
		const char *v = env(names[i]);
		if (!v) {
			snprintf(err, errlen,
				 "environment variable %s (named by the "
				 "stage's credential source) is not set",
				 names[i]);
			return -ENOENT;
		}
		if (dup_to(dst[i], v))
			return -ENOMEM;
	}
	char *s;
	if (asprintf(&s, "env:%s / env:%s", names[0], names[1]) < 0)
		return -ENOMEM;
	cfg->source = s;
	return 0;
}

static int from_file(const char *path, struct sp_s3_config *cfg, char *err,
		     size_t errlen)
{
	const char *profile =
	    env("AWS_PROFILE") ? env("AWS_PROFILE") : "default";
	int rc = read_profile(path, profile, cfg, err, errlen);

	if (rc)
		return rc;
	char *s;
	if (asprintf(&s, "file:%s [%s]", path, profile) < 0)
		return -ENOMEM;
	cfg->source = s;
	return 0;
}

static int from_standard(struct sp_s3_config *cfg, char *err, size_t errlen)
{
	if (env("AWS_ACCESS_KEY_ID") && env("AWS_SECRET_ACCESS_KEY")) {
		if (dup_to(&cfg->key_id, env("AWS_ACCESS_KEY_ID")) ||
		    dup_to(&cfg->secret, env("AWS_SECRET_ACCESS_KEY")) ||
		    dup_to(&cfg->token, env("AWS_SESSION_TOKEN")) ||
		    dup_to(&cfg->source, "env:AWS_ACCESS_KEY_ID"))
			return -ENOMEM;
		return 0;
	}
	char path[4096];
	const char *file = env("AWS_SHARED_CREDENTIALS_FILE");
	if (!file && env("HOME")) {
		snprintf(path, sizeof(path), "%s/.aws/credentials",
			 env("HOME"));
		file = path;
		FILE *f = fopen(path, "re");
		if (!f && !env("AWS_PROFILE"))
			return 0; /* nothing configured: unsigned */
		if (f)
			fclose(f);
	}
	return file ? from_file(file, cfg, err, errlen) : 0;
}

int sp_s3_config_resolve(const struct sp_s3_source *src,
			 struct sp_s3_config *cfg, char *err, size_t errlen)
{
	const char *endpoint =
	    src->endpoint ? src->endpoint : env("AWS_ENDPOINT_URL");
	const char *region = src->region	 ? src->region
			     : env("AWS_REGION") ? env("AWS_REGION")
			     : env("AWS_DEFAULT_REGION")
				 ? env("AWS_DEFAULT_REGION")
				 : SP_S3_DEFAULT_REGION;
	int rc;

	memset(cfg, 0, sizeof(*cfg));
	if (endpoint && sp_url_has_userinfo(endpoint)) {
		snprintf(err, errlen,
			 "S3 endpoint (%s) holds credentials (USER:PASSWORD@ "
			 "before the host; not shown, not used): give "
			 "http[s]://HOST[:PORT] alone and the credentials "
			 "apart",
			 src->endpoint ? "the stage's" : "AWS_ENDPOINT_URL");
		return -EINVAL;
	}
	if (endpoint && strncmp(endpoint, "http://", 7) &&
	    strncmp(endpoint, "https://", 8)) {
		snprintf(err, errlen,
			 "S3 endpoint '%s' is not an http:// or https:// URL",
			 endpoint);
		return -EINVAL;
	}
	if (dup_to(&cfg->endpoint, endpoint) || dup_to(&cfg->region, region))
		goto nomem;
	if (cfg->endpoint) { /* no trailing slash: paths are appended */
		size_t n = strlen(cfg->endpoint);
		while (n > 8 && cfg->endpoint[n - 1] == '/')
			cfg->endpoint[--n] = '\0';
	}
	cfg->path_style = cfg->endpoint != NULL;
	if (src->key_id_env && src->secret_env)
		rc = from_env_names(src, cfg, err, errlen);
	else if (src->credentials_file)
		rc = from_file(src->credentials_file, cfg, err, errlen);
	else
		rc = from_standard(cfg, err, errlen);
	if (rc) {
		sp_s3_config_fini(cfg);
		return rc;
	}
	/* should one reach a message anyway, it is shown as *** */
	sp_redact_add(cfg->secret);
	sp_redact_add(cfg->token);
	return 0;
nomem:
	sp_s3_config_fini(cfg);
	return -ENOMEM;
}

void sp_s3_config_fini(struct sp_s3_config *cfg)
{
	free(cfg->endpoint);
	free(cfg->region);
	free(cfg->key_id);
	if (cfg->secret) /* not left behind in freed memory */
		explicit_bzero(cfg->secret, strlen(cfg->secret));
	free(cfg->secret);
	free(cfg->token);
	free(cfg->source);
	memset(cfg, 0, sizeof(*cfg));
}

int sp_s3_config_copy(struct sp_s3_config *dst, const struct sp_s3_config *src)
{
	*dst = *src;
	dst->endpoint = dst->region = dst->key_id = NULL;
	dst->secret = dst->token = dst->source = NULL;
	if (dup_to(&dst->endpoint, src->endpoint) ||
	    dup_to(&dst->region, src->region) ||
	    dup_to(&dst->key_id, src->key_id) ||
	    dup_to(&dst->secret, src->secret) ||
	    dup_to(&dst->token, src->token) ||
	    dup_to(&dst->source, src->source)) {
		sp_s3_config_fini(dst);
		return -ENOMEM;
	}
	return 0;
}

int sp_s3_url_parse(const char *url, char **bucket, char **prefix)
{
	if (strncmp(url, "s3://", 5) || !url[5] || url[5] == '/')
		return -EINVAL;
	const char *b = url + 5, *slash = strchr(b, '/');
	size_t bl = slash ? (size_t)(slash - b) : strlen(b);

	if (memchr(b, '@', bl)) /* credentials: never in a URL */
		return -EINVAL;

	*bucket = strndup(b, bl);
	*prefix = strdup(slash ? slash + 1 : "");
	if (!*bucket || !*prefix) {
		free(*bucket);
		free(*prefix);
		return -ENOMEM;
	}
	return 0;
}

unsigned sp_s3_backoff_ms(unsigned base_ms, unsigned attempt)
{
	static __thread unsigned seed;
	unsigned cap = base_ms;

	if (!seed)
		seed = (unsigned)time(NULL) ^ (unsigned)(uintptr_t)&seed;
	for (unsigned i = 0; i < attempt && cap < 10000; i++)
		cap *= 2;
	if (cap > 10000)
		cap = 10000;
	return cap ? (unsigned)rand_r(&seed) % cap + 1 : 0;
}
