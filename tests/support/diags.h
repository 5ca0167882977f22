/*
 * For unit tests: every diagnostic of a list, formatted, one per line.
 * Header-only, since the support library is linked without the engine.
 */
#ifndef SPATE_TESTS_DIAGS_H
#define SPATE_TESTS_DIAGS_H

#include "config/options.h"

/* The messages of d as "file:line: ...\n" lines; free the result. */
static inline char *diags_text(const struct sp_diags *d)
{
	struct sp_buf b;

	sp_buf_init(&b);
	for (uint32_t i = 0; i < d->n; i++) {
		sp_diag_format(d, i, &b);
		sp_buf_putc(&b, '\n');
	}
	sp_buf_putc(&b, '\0');
	return b.data;
}

#endif
