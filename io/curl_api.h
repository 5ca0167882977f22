/*
 * libcurl, loaded when S3 is first used (core/dynlib.h): the functions
 * io/s3*.c call, each a call through sp_curl_api.  Include this instead
 * of <curl/curl.h>.  curl's compile-time check of curl_easy_setopt's
 * argument types is a macro of the same name as the function, so it is
 * off here.
 */
#ifndef SPATE_IO_CURL_API_H
#define SPATE_IO_CURL_API_H

#define CURL_DISABLE_TYPECHECK
#include <curl/curl.h>

#include "core/dynlib.h"

#define SP_CURL_FUNCS(X)                                                       \
	X(curl_easy_cleanup)                                                   \
	X(curl_easy_getinfo)                                                   \
	X(curl_easy_header)                                                    \
	X(curl_easy_init)                                                      \
	X(curl_easy_perform)                                                   \
	X(curl_easy_reset)                                                     \
	X(curl_easy_setopt)                                                    \
	X(curl_easy_strerror)                                                  \
	X(curl_getdate)                                                        \
	X(curl_global_init)                                                    \
	X(curl_multi_add_handle)                                               \
	X(curl_multi_cleanup)                                                  \
	X(curl_multi_info_read)                                                \
	X(curl_multi_init)                                                     \
	X(curl_multi_perform)                                                  \
	X(curl_multi_poll)                                                     \
	X(curl_multi_remove_handle)                                            \
	X(curl_slist_append)                                                   \
	X(curl_slist_free_all)

SP_DYNLIB_DECLARE(curl, SP_CURL_FUNCS)

#ifndef SP_CURL_API_TABLE
/* curl.h makes these two macros that check the count of arguments */
#undef curl_easy_getinfo
#undef curl_easy_setopt
#define curl_easy_cleanup (sp_curl()->curl_easy_cleanup)
#define curl_easy_getinfo (sp_curl()->curl_easy_getinfo)
#define curl_easy_header (sp_curl()->curl_easy_header)
#define curl_easy_init (sp_curl()->curl_easy_init)
#define curl_easy_perform (sp_curl()->curl_easy_perform)
#define curl_easy_reset (sp_curl()->curl_easy_reset)
#define curl_easy_setopt (sp_curl()->curl_easy_setopt)
#define curl_easy_strerror (sp_curl()->curl_easy_strerror)
#define curl_getdate (sp_curl()->curl_getdate)
#define curl_global_init (sp_curl()->curl_global_init)
#define curl_multi_add_handle (sp_curl()->curl_multi_add_handle)
#define curl_multi_cleanup (sp_curl()->curl_multi_cleanup)
#define curl_multi_info_read (sp_curl()->curl_multi_info_read)
#define curl_multi_init (sp_curl()->curl_multi_init)
#define curl_multi_perform (sp_curl()->curl_multi_perform)
#define curl_multi_poll (sp_curl()->curl_multi_poll)
#define curl_multi_remove_handle (sp_curl()->curl_multi_remove_handle)
#define curl_slist_append (sp_curl()->curl_slist_append)
#define curl_slist_free_all (sp_curl()->curl_slist_free_all)
#endif

#endif
