/*
 * The table of libcurl's functions, filled when S3 is first used
 * (io/curl_api.h).
 */
#define SP_CURL_API_TABLE
#include "io/curl_api.h"

SP_DYNLIB_DEFINE(curl, SP_CURL_FUNCS, SPATE_SONAME_CURL, "S3")
