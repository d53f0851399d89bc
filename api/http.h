/* The boundary between the HTTP transport (server/http.c, the only module
 * that includes libmicrohttpd) and the API handlers. A handler receives one
 * exchange and must answer it exactly once with rum_http_respond(), either
 * before it returns or later from any thread (the transport parks the
 * connection meanwhile without holding a thread). */
#ifndef RUM_API_HTTP_H
#define RUM_API_HTTP_H

#include <stdbool.h>
#include <stddef.h>

struct rum_http_exchange; /* owned by the transport */

struct rum_http_request {
	const char *method; /* "GET", "POST", ... */
	const char *path;   /* as received, percent-encoded, without the query */
	const char *body;   /* NUL-terminated copy of the body; len bytes */
	size_t body_len;
	bool body_too_big;       /* over max_body_bytes: body is empty */
	bool busy;               /* the server holds too many bodies: body is empty */
	const char *client_addr; /* numeric address of the peer */
	bool tls;
};

/* Answers the exchange. Steals body (malloc'd or NULL). header_name/value may
 * be NULL; they are copied. Thread-safe. */
void rum_http_respond(struct rum_http_exchange *x, int status, const char *content_type, char *body,
		      size_t body_len, const char *header_name, const char *header_value);

/* Answers the exchange with the content of an open regular file: steals fd
 * (closed by the transport), sends size bytes from its start. header_name/
 * value as for rum_http_respond. Thread-safe. */
void rum_http_respond_file(struct rum_http_exchange *x, int status, const char *content_type,
			   int fd, size_t size, const char *header_name, const char *header_value);

/* Answers the exchange with bytes that outlive it (built into the binary:
 * the console's files), not copied; headers: NULL, or name, value, ...,
 * NULL, all of static lifetime. Thread-safe. */
void rum_http_respond_static(struct rum_http_exchange *x, int status, const char *content_type,
			     const void *body, size_t body_len, const char *const *headers);

/* Request headers as a new JSON object text ("Authorization" and "Cookie"
 * left out), for captures. Caller frees. Only valid before responding. */
char *rum_http_headers_json(struct rum_http_exchange *x);

/* Calls cb for each query argument of the request, in order: name and
 * value percent-decoded, value NULL for a bare "?name". Stops at the first
 * non-zero return of cb and returns it; 0 otherwise. Only valid before
 * responding. */
int rum_http_query_each(struct rum_http_exchange *x,
			int (*cb)(void *arg, const char *name, const char *value), void *arg);

/* Request ids are at most this long: [A-Za-z0-9._:-]. */
#define RUM_HTTP_REQUEST_ID_MAX 64

/* The request's id: the client's X-Request-Id when it sent a plain one,
 * else one made up; sent back in X-Request-Id and in the access log line
 * (req=). Only valid before responding. */
const char *rum_http_request_id(struct rum_http_exchange *x);

/* Notes whom the request was for, for the access log line: tenant and
 * device (either may be NULL: left as it is). Copied, cut to 95 bytes. Only
 * valid before responding. */
void rum_http_note(struct rum_http_exchange *x, const char *tenant, const char *device);

/* A request header value or NULL. Only valid before responding. */
const char *rum_http_header(struct rum_http_exchange *x, const char *name);

#endif
