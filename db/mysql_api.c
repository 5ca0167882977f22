/*
 * The table of libmariadb's functions, filled when MariaDB or MySQL is first
 * used (db/mysql_api.h).
 */
#define SP_MYSQL_API_TABLE
#include "db/mysql_api.h"

SP_DYNLIB_DEFINE(mysql, SP_MYSQL_FUNCS, SPATE_SONAME_MARIADB, "MariaDB")
