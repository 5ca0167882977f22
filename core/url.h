/*
 * The user information of a URL (the USER:PASSWORD@ of
 * scheme://USER:PASSWORD@host/path): found so that it can be refused
 * without being echoed, and masked where a URL is shown.
 */
#ifndef SPATE_CORE_URL_H
#define SPATE_CORE_URL_H

#include <stdbool.h>
#include <stddef.h>

/* Whether url's authority (after "scheme://", or from the start when
 * there is none, up to the first '/', '?' or '#') holds an '@'. */
bool sp_url_has_userinfo(const char *url);

/* url into out (len bytes, cut to fit) with its user information
 * replaced by "***", so that it can be shown. */
void sp_url_shown(const char *url, char *out, size_t len);

#endif
