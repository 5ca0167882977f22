/*
 * A tiny HTTP/1.1 server for `spate run --http`: one thread answers GET
 * requests one at a time (a handful of endpoints polled by people and
 * Prometheus), each connection closed after its answer.
 */
#ifndef SPATE_CLI_HTTP_H
#define SPATE_CLI_HTTP_H

#include <stddef.h>

#include "core/buf.h"

struct cli_http;

/* What a handler answers: status (200 unless set), content type and the
 * body (empty, initialised by the server). */
struct cli_http_reply {
	int status;
	const char *type;
	struct sp_buf body;
};

/* Called on the server's thread for each GET (path without the query). */
typedef void (*cli_http_handler)(void *arg, const char *path,
				 struct cli_http_reply *r);

/* Binds addr: "PORT", ":PORT", "HOST:PORT" or "[V6]:PORT" (HOST
 * defaults to 127.0.0.1; PORT 0 picks a free one).  0 or -errno with err
 * naming what to fix. */
int cli_http_create(const char *addr, cli_http_handler handler, void *arg,
		    struct cli_http **out, char *err, size_t errlen);
/* "http://127.0.0.1:8080/": the address bound, the port picked included */
const char *cli_http_url(const struct cli_http *h);
/* Starts answering on a thread of its own.  0 or -errno. */
int cli_http_start(struct cli_http *h);
/* Stops the thread (it finishes the request in hand), closes the socket
 * and frees h.  NULL is a no-op. */
void cli_http_destroy(struct cli_http *h);

#endif
