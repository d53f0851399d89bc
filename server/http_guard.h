/* What one client may hold of a listener: devices are many and
 * unauthenticated, so no single peer or slow sender may fill the server.
 *
 * - A connection must deliver a request's headers within header_timeout_s
 *   of opening, or within idle_timeout_s of its previous answer (keep-alive);
 *   trickling a byte now and then does not extend either.
 * - Once headers are in, the body must keep arriving at body_min_rate bytes
 *   per second on average, counted after a grace of header_timeout_s.
 * - An address holds at most per_address connections; the listener at most
 *   max_connections.
 * A connection past a deadline is shut down (the transport then closes it
 * as if the peer had gone). Each limit that bites is counted in metrics and
 * logged, at most one line per limit every few seconds with the count.
 *
 * Knows sockets, not HTTP: server/http.c calls it at each step. Thread-safe. */
#ifndef RUM_SERVER_HTTP_GUARD_H
#define RUM_SERVER_HTTP_GUARD_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

struct rum_http_guard;
struct rum_http_guard_conn;

struct rum_http_guard_options {
	const char *listen; /* for log lines */
	unsigned max_connections;
	unsigned per_address; /* 0: no per-address limit */
	int header_timeout_s;
	int idle_timeout_s;
	size_t body_min_rate; /* bytes per second; 0: no floor */
};

/* Starts the watchdog thread. Errors: RUM_EIO (thread). */
int rum_http_guard_new(struct rum_http_guard **out, const struct rum_http_guard_options *o);

/* Stops the watchdog and frees; connections must all be closed. Accepts NULL. */
void rum_http_guard_free(struct rum_http_guard *g);

/* Whether a new connection from addr may be accepted now (logs and counts
 * a refusal). */
bool rum_http_guard_admit(struct rum_http_guard *g, const struct sockaddr *addr,
			  socklen_t addr_len);

/* A connection the transport accepted: fd is its socket. Never NULL. */
struct rum_http_guard_conn *rum_http_guard_open(struct rum_http_guard *g, int fd,
						const struct sockaddr *addr, socklen_t addr_len);

/* The transport is closing the connection (before its socket is closed). */
void rum_http_guard_close(struct rum_http_guard_conn *c);

/* A request's headers are complete: its body is due now. */
void rum_http_guard_headers_done(struct rum_http_guard_conn *c);

/* n more body bytes arrived. */
void rum_http_guard_body(struct rum_http_guard_conn *c, size_t n);

/* The body is complete: no deadline while the answer is prepared. */
void rum_http_guard_answering(struct rum_http_guard_conn *c);

/* The request is over; the connection waits for the next one. */
void rum_http_guard_idle(struct rum_http_guard_conn *c);

#endif
