/*
 * The table of libnats's functions, filled when the cluster is first used
 * (cluster/nats_api.h).
 */
#define SP_NATS_API_TABLE
#include "cluster/nats_api.h"

SP_DYNLIB_DEFINE(nats, SP_NATS_FUNCS, SPATE_SONAME_NATS, "the cluster")
