# Every dependency of spate is found through pkg-config and used as an
# imported target, so the flags each .pc file carries (ck's -D__x86_64__,
# Criterion's -pthread) travel with it.  Minimum versions are Debian 12's.
find_package(PkgConfig REQUIRED)

pkg_check_modules(URING REQUIRED IMPORTED_TARGET liburing>=2.3)
pkg_check_modules(CK REQUIRED IMPORTED_TARGET ck>=0.7.1)
pkg_check_modules(ZSTD REQUIRED IMPORTED_TARGET libzstd>=1.5.4)
pkg_check_modules(YAML REQUIRED IMPORTED_TARGET yaml-0.1>=0.2.5)
pkg_check_modules(PCRE2 REQUIRED IMPORTED_TARGET libpcre2-8>=10.42)
pkg_check_modules(SQLITE3 REQUIRED IMPORTED_TARGET sqlite3>=3.40)
pkg_check_modules(XXHASH REQUIRED IMPORTED_TARGET libxxhash>=0.8.1)
pkg_check_modules(ISAL REQUIRED IMPORTED_TARGET libisal>=2.30)
pkg_check_modules(LZ4 REQUIRED IMPORTED_TARGET liblz4>=1.9.4)
pkg_check_modules(CURL REQUIRED IMPORTED_TARGET libcurl>=7.88)
# cluster mode (cluster/, the spate command only): NATS JetStream client
pkg_check_modules(NATS REQUIRED IMPORTED_TARGET libnats>=3.4)
# database destinations and origin (db/)
pkg_check_modules(PQ REQUIRED IMPORTED_TARGET libpq>=15)
pkg_check_modules(MARIADB REQUIRED IMPORTED_TARGET libmariadb>=3.3)

if(SPATE_JEMALLOC)
	pkg_check_modules(JEMALLOC REQUIRED IMPORTED_TARGET jemalloc>=5.3)
endif()

if(SPATE_TESTS)
	pkg_check_modules(CRITERION REQUIRED IMPORTED_TARGET criterion>=2.4)
endif()

# The clients of S3, PostgreSQL, MariaDB and NATS are not linked: spate
# loads each when a flow first uses it (core/dynlib.h), so a run that
# needs none of them does not load their forty-odd libraries.  Their
# headers are used as they are; the build records the name (SONAME)
# that the loader asks for, read from the library pkg-config found.
add_library(spate_client_headers INTERFACE)
foreach(pkg CURL PQ MARIADB NATS)
	target_include_directories(spate_client_headers INTERFACE ${${pkg}_INCLUDE_DIRS})
	target_compile_options(spate_client_headers INTERFACE ${${pkg}_CFLAGS_OTHER})
	set(soname "")
	foreach(lib ${${pkg}_LINK_LIBRARIES})
		if(soname STREQUAL "" AND lib MATCHES "\\.so")
			execute_process(COMMAND ${CMAKE_OBJDUMP} -p ${lib}
				OUTPUT_VARIABLE dump ERROR_QUIET)
			if(dump MATCHES "SONAME +([^ \n]+)")
				set(soname ${CMAKE_MATCH_1})
				get_filename_component(dir ${lib} DIRECTORY)
				get_filename_component(real ${dir}/${soname} REALPATH)
			endif()
		endif()
	endforeach()
	if(soname STREQUAL "")
		message(FATAL_ERROR "cannot read the SONAME of ${pkg} (${${pkg}_LINK_LIBRARIES})")
	endif()
	message(STATUS "${pkg} is loaded on first use as ${soname}")
	# the binary does not link it, so the Debian package must name the
	# package that ships it (cpack's shlibdeps cannot see it)
	execute_process(COMMAND dpkg -S ${real} OUTPUT_VARIABLE owner
		ERROR_QUIET RESULT_VARIABLE dpkg_rc)
	if(dpkg_rc EQUAL 0 AND owner MATCHES "^([^:, ]+)")
		list(APPEND SPATE_CLIENT_DEBS ${CMAKE_MATCH_1})
	endif()
	target_compile_definitions(spate_client_headers INTERFACE SPATE_SONAME_${pkg}="${soname}")
endforeach()
