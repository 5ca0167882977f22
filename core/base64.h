/* Base64 (RFC 4648, with padding) for bytes that must travel inside JSON
 * text exactly, such as the raw input of an error record. */
#ifndef SPATE_CORE_BASE64_H
#define SPATE_CORE_BASE64_H

#include <stddef.h>

#include "core/buf.h"

/* Appends the base64 form of s[0..len) to buf.  0 or -ENOMEM. */
int sp_base64_append(struct sp_buf *buf, const void *s, size_t len);

#endif
