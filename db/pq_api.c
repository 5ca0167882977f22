/*
 * The table of libpq's functions, filled when PostgreSQL is first used
 * (db/pq_api.h).
 */
#define SP_PQ_API_TABLE
#include "db/pq_api.h"

SP_DYNLIB_DEFINE(pq, SP_PQ_FUNCS, SPATE_SONAME_PQ, "PostgreSQL")
