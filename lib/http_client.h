/* HTTP(S) client: the one rumd module that includes libcurl. Used by the
 * device REST and RESTCONF clients (collector/) and by connected mode's
 * upstream clients (sync/).
 *
 * A client is one curl handle, used by one thread at a time; it keeps its
 * live connection and TLS session between requests. Every request is
 * bounded by a connect timeout, a total timeout and a reply size cap, and
 * may be cancelled from another thread through a flag. The environment's
 * proxy variables are never read: a proxy is used only when the options
 * name one. Passwords (HTTP Basic, proxy) are never put in messages.
 *
 * TLS has two modes. verify: the peer's chain and host name are checked
 * against ca_file (the system's CAs when none) and failures are named with
 * the certificate problem. Not verify: chain and name are not checked
 * (devices have self-signed certificates) and a pin, when given, is the
 * check. A pin ("sha256//BASE64" of the public key, several joined by ';')
 * is checked in both modes. */
#ifndef RUM_LIB_HTTP_CLIENT_H
#define RUM_LIB_HTTP_CLIENT_H

#include <stdbool.h>
#include <stddef.h>

struct rum_http_client_options {
	const char *label;   /* names the peer in messages: "device REST", "upstream" */
	bool allow_http;     /* http:// URLs besides https:// (labs, tests, tiers) */
	bool verify;         /* check the peer's chain and host name */
	const char *ca_file; /* with verify: PEM bundle; NULL/"" = the system's */
	const char *pin;     /* NULL/"" = none */
	bool note_pin;       /* record the peer's key (rum_http_client_seen_pin) */
	/* NULL/"" = connect directly; else http://host:port (CONNECT for
	 * https URLs). A user and password go in proxy_user/proxy_password,
	 * never in the URL. */
	const char *proxy;
	const char *proxy_user, *proxy_password;
	int connect_timeout_ms;     /* TCP, proxy and TLS handshake; 0 = 10 s */
	int timeout_ms;             /* one request in all; 0 = 60 s */
	size_t max_reply;           /* bytes of one reply body; 0 = 64 MiB */
	const volatile int *cancel; /* when set and non-zero, a request in flight ends at once
				       with RUM_EUNAVAIL ("rumd is stopping"); may be NULL */
};

struct rum_http_client;

/* Copies what it needs of o. RUM_EINVAL for a pin not of the form above,
 * a proxy that is not http://HOST:PORT, negative timeouts. */
int rum_http_client_new(struct rum_http_client **out, const struct rum_http_client_options *o);
void rum_http_client_free(struct rum_http_client *c);

/* Pins the key for later requests (NULL/"" = none). RUM_EINVAL as above. */
int rum_http_client_set_pin(struct rum_http_client *c, const char *pin);
/* The pin of the key seen on the last TLS connection (with note_pin), or
 * NULL; valid until the next request. A reused connection shows none: the
 * one seen before stays. */
const char *rum_http_client_seen_pin(const struct rum_http_client *c);

struct rum_http_request {
	const char *url;  /* http(s)://...; no credentials in it */
	const char *body; /* NULL: GET; else POST of len bytes */
	size_t len;
	const char *const *headers;      /* "Name: value" lines, NULL-terminated; may be NULL */
	const char *username, *password; /* HTTP Basic; NULL = none */
	bool connect_only;               /* only connect (and the TLS handshake): learns the pin */
};

struct rum_http_reply {
	long status; /* the HTTP status */
	char *body;  /* malloc'd, NUL-terminated, "" when none */
	size_t len;
	long retry_after_s; /* Retry-After in seconds (a date is converted), -1 when none */
};

/* Makes the request. On 0 a reply arrived, whatever its status, and *out
 * holds it (dispose it). Errors (no reply; *out zeroed), messages naming
 * the label and the URL:
 *   RUM_EUNAVAIL   cannot connect to the peer or the proxy, or cancelled
 *   RUM_ETIMEDOUT  no answer in time
 *   RUM_EAUTH      TLS: the peer's certificate failed verification (the
 *                  message names the certificate problem)
 *   RUM_EFORBIDDEN the proxy refused the tunnel (407 names proxy auth)
 *   RUM_ECONFLICT  the key does not match the pin (names the key seen)
 *   RUM_EINVAL     a bad URL or header, or a CA bundle that cannot be used
 *   RUM_ETOOBIG    reply over max_reply (the transfer is aborted)
 *   RUM_EIO        any other transport or TLS failure */
int rum_http_client_do(struct rum_http_client *c, const struct rum_http_request *r,
		       struct rum_http_reply *out);
void rum_http_reply_dispose(struct rum_http_reply *r);

#endif
