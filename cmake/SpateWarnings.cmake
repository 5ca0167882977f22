# Warnings are the same everywhere; CI turns them into errors.
function(spate_warnings target)
	target_compile_options(${target} PRIVATE -Wall -Wextra
		-Wno-unused-parameter -Wshadow -Wstrict-prototypes
		-Wmissing-prototypes -Wformat=2)
	if(SPATE_WERROR)
		target_compile_options(${target} PRIVATE -Werror)
	endif()
endfunction()
