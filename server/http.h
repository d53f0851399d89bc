/* HTTP(S) listeners on libmicrohttpd. Requests are read whole (bounded by
 * max_body_bytes) and handed to the API router; answers may come later from
 * other threads. */
#ifndef RUM_SERVER_HTTP_H
#define RUM_SERVER_HTTP_H

#include "api/http.h"

#include <stddef.h>
#include <stdint.h>

struct rum_http_server;

typedef void (*rum_http_handler)(void *ctx, struct rum_http_exchange *x,
				 const struct rum_http_request *req);

/* Request bodies held in memory at once, shared by listeners. */
struct rum_http_budget {
	size_t max;
	size_t used; /* atomic */
};

struct rum_http_options {
	const char *listen;   /* ADDR:PORT */
	const char *tls_cert; /* PEM file, NULL/"" for plain HTTP */
	const char *tls_key;
	size_t max_body_bytes;
	int threads;
	rum_http_handler handler;
	void *handler_ctx;
	unsigned max_connections;
	struct rum_http_budget *budget; /* may be NULL: no overall limit */
	bool log_requests;              /* one info line per request, else debug */
	/* What one client may hold (server/http_guard.h); 0 = default
	 * (10 s, 30 s) or, for per_address and body_min_rate, no limit. */
	unsigned per_address;
	int header_timeout_s, idle_timeout_s;
	size_t body_min_rate;
	/* Logged as "<what> at http://ADDR:PORT/<what>" instead of "listening
	 * on http://ADDR:PORT" (which names the device and admin listeners). */
	const char *what;
};

/* Binds and starts serving; logs "listening on http(s)://ADDR:PORT".
 * Errors: RUM_EINVAL (bad address, unreadable TLS files), RUM_EIO (bind). */
int rum_http_start(struct rum_http_server **out, const struct rum_http_options *opts);

/* Stops accepting new connections; requests in flight continue, and their
 * answers close keep-alive connections. */
void rum_http_quiesce(struct rum_http_server *srv);

/* Requests accepted and not yet completed. */
unsigned rum_http_in_flight(struct rum_http_server *srv);

/* The bound port. */
uint16_t rum_http_port(struct rum_http_server *srv);

/* Requests parked waiting for an answer from another thread. */
unsigned rum_http_parked(struct rum_http_server *srv);

/* Stops and frees; call once in-flight requests are answered. With requests
 * still parked it does nothing (stopping then would abort): the process is
 * about to exit anyway. Accepts NULL. */
void rum_http_stop(struct rum_http_server *srv);

#endif
