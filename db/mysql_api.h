/*
 * libmariadb, loaded when MariaDB or MySQL is first used (core/dynlib.h): the
 * functions spate calls, each a call through sp_mysql_api.  Include
 * this instead of <mysql.h>.
 */
#ifndef SPATE_DB_MYSQL_API_H
#define SPATE_DB_MYSQL_API_H

#include <mysql.h>

#include "core/dynlib.h"

#define SP_MYSQL_FUNCS(X)                                                      \
	X(mysql_affected_rows)                                                 \
	X(mysql_close)                                                         \
	X(mysql_errno)                                                         \
	X(mysql_error)                                                         \
	X(mysql_fetch_row)                                                     \
	X(mysql_free_result)                                                   \
	X(mysql_init)                                                          \
	X(mysql_options)                                                       \
	X(mysql_query)                                                         \
	X(mysql_real_connect)                                                  \
	X(mysql_real_escape_string)                                            \
	X(mysql_real_query)                                                    \
	X(mysql_set_local_infile_handler)                                      \
	X(mysql_store_result)                                                  \
	X(mysql_warning_count)

SP_DYNLIB_DECLARE(mysql, SP_MYSQL_FUNCS)

#ifndef SP_MYSQL_API_TABLE
#define mysql_affected_rows (sp_mysql()->mysql_affected_rows)
#define mysql_close (sp_mysql()->mysql_close)
#define mysql_errno (sp_mysql()->mysql_errno)
#define mysql_error (sp_mysql()->mysql_error)
#define mysql_fetch_row (sp_mysql()->mysql_fetch_row)
#define mysql_free_result (sp_mysql()->mysql_free_result)
#define mysql_init (sp_mysql()->mysql_init)
#define mysql_options (sp_mysql()->mysql_options)
#define mysql_query (sp_mysql()->mysql_query)
#define mysql_real_connect (sp_mysql()->mysql_real_connect)
#define mysql_real_escape_string (sp_mysql()->mysql_real_escape_string)
#define mysql_real_query (sp_mysql()->mysql_real_query)
#define mysql_set_local_infile_handler                                         \
	(sp_mysql()->mysql_set_local_infile_handler)
#define mysql_store_result (sp_mysql()->mysql_store_result)
#define mysql_warning_count (sp_mysql()->mysql_warning_count)
#endif

#endif
