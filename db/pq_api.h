/*
 * libpq, loaded when PostgreSQL is first used (core/dynlib.h): the
 * functions spate calls, each a call through sp_pq_api.  Include
 * this instead of <libpq-fe.h>.
 */
#ifndef SPATE_DB_PQ_API_H
#define SPATE_DB_PQ_API_H

#include <libpq-fe.h>

#include "core/dynlib.h"

#define SP_PQ_FUNCS(X)                                                         \
	X(PQclear)                                                             \
	X(PQcmdTuples)                                                         \
	X(PQconnectdbParams)                                                   \
	X(PQconninfoFree)                                                      \
	X(PQconninfoParse)                                                     \
	X(PQdescribePrepared)                                                  \
	X(PQerrorMessage)                                                      \
	X(PQexec)                                                              \
	X(PQexecParams)                                                        \
	X(PQfinish)                                                            \
	X(PQfname)                                                             \
	X(PQfreemem)                                                           \
	X(PQftype)                                                             \
	X(PQgetCopyData)                                                       \
	X(PQgetResult)                                                         \
	X(PQgetvalue)                                                          \
	X(PQnfields)                                                           \
	X(PQntuples)                                                           \
	X(PQprepare)                                                           \
	X(PQputCopyData)                                                       \
	X(PQputCopyEnd)                                                        \
	X(PQresultErrorField)                                                  \
	X(PQresultErrorMessage)                                                \
	X(PQresultStatus)                                                      \
	X(PQsetNoticeProcessor)                                                \
	X(PQstatus)

SP_DYNLIB_DECLARE(pq, SP_PQ_FUNCS)

#ifndef SP_PQ_API_TABLE
#define PQclear (sp_pq()->PQclear)
#define PQcmdTuples (sp_pq()->PQcmdTuples)
#define PQconnectdbParams (sp_pq()->PQconnectdbParams)
#define PQconninfoFree (sp_pq()->PQconninfoFree)
#define PQconninfoParse (sp_pq()->PQconninfoParse)
#define PQdescribePrepared (sp_pq()->PQdescribePrepared)
#define PQerrorMessage (sp_pq()->PQerrorMessage)
#define PQexec (sp_pq()->PQexec)
#define PQexecParams (sp_pq()->PQexecParams)
#define PQfinish (sp_pq()->PQfinish)
#define PQfname (sp_pq()->PQfname)
#define PQfreemem (sp_pq()->PQfreemem)
#define PQftype (sp_pq()->PQftype)
#define PQgetCopyData (sp_pq()->PQgetCopyData)
#define PQgetResult (sp_pq()->PQgetResult)
#define PQgetvalue (sp_pq()->PQgetvalue)
#define PQnfields (sp_pq()->PQnfields)
#define PQntuples (sp_pq()->PQntuples)
#define PQprepare (sp_pq()->PQprepare)
#define PQputCopyData (sp_pq()->PQputCopyData)
#define PQputCopyEnd (sp_pq()->PQputCopyEnd)
#define PQresultErrorField (sp_pq()->PQresultErrorField)
#define PQresultErrorMessage (sp_pq()->PQresultErrorMessage)
#define PQresultStatus (sp_pq()->PQresultStatus)
#define PQsetNoticeProcessor (sp_pq()->PQsetNoticeProcessor)
#define PQstatus (sp_pq()->PQstatus)
#endif

#endif
