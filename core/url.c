/*
 * Finds and masks the user information of a URL: the part of its
 * authority before the last '@', which may hold a password.
 */
#include "core/url.h"

#include <stdio.h>
#include <string.h>

/* Where url's authority starts; its user information ends at the last
 * '@' before the first '/', '?' or '#' after it (NULL when none). */
static const char *userinfo_end(const char *url, const char **start)
{
	const char *sep = strstr(url, "://");
	const char *a = sep ? sep + 3 : url;
	const char *end = a + strcspn(a, "/?#");
	const char *at = NULL;

	for (const char *p = a; p < end; p++)
		if (*p == '@')
			at = p;
	*start = a;
	return at;
}

bool sp_url_has_userinfo(const char *url)
{
	const char *start;

	return userinfo_end(url, &start) != NULL;
}

void sp_url_shown(const char *url, char *out, size_t len)
{
	const char *start, *at = userinfo_end(url, &start);

	if (!at)
		snprintf(out, len, "%s", url);
	else
		snprintf(out, len, "%.*s***%s", (int)(start - url), url, at);
}
