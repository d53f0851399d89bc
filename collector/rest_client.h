/* Client of Cisco's device REST API for Smart Licensing (PROTOCOL.md 3.4),
 * and the HTTPS transport of RESTCONF (collector/restconf.h), over
 * lib/http_client.h. Base https://<host>:<port>/smartlic-service
 * (or base_path), HTTP Basic auth, JSON. Every
 * request is bounded by connect and total timeouts and a reply size cap.
 * TLS: the device's certificate is checked against a pinned public key
 * ("sha256//BASE64", as curl's CURLOPT_PINNEDPUBLICKEY) when one is known;
 * with none and trust_on_first_use, any certificate is accepted and its pin
 * returned so that it can be stored (and the client pins it for its own
 * later requests). Devices have self-signed certificates: chain and host
 * name are not checked, the pin is the check. Secrets are never logged nor
 * put in error messages. A client is used by one thread at a time. */
#ifndef RUM_COLLECTOR_REST_CLIENT_H
#define RUM_COLLECTOR_REST_CLIENT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_rest_client_options {
	const char *host;
	int port;                        /* 1..65535 (443 usual) */
	bool plain_http;                 /* http:// instead of https:// (labs only) */
	const char *username, *password; /* username: no ':' (Basic auth) */
	const char *pin; /* "sha256//BASE64" of the device's public key, NULL/"" = none;
			    several may be joined by ';' */
	bool trust_on_first_use;
	int connect_timeout_ms;     /* TCP and TLS handshake; 0 = 10 s */
	int timeout_ms;             /* each request, at most; 0 = 60 s */
	size_t max_reply;           /* bytes of one reply body; 0 = 64 MiB */
	const volatile int *cancel; /* when set and non-zero, a request in flight ends at once
				       with RUM_EUNAVAIL ("rumd is stopping"); may be NULL */
	const char *base_path;      /* NULL = "/smartlic-service"; "/restconf" for RESTCONF */
	const char *label;          /* names the client in messages; NULL = "device REST" */
};

struct rum_rest_client;

/* Copies what it needs of o. Errors: RUM_EINVAL (bad options: host not a
 * name or IP literal, port, username, a pin not of the form above, negative
 * timeouts). */
int rum_rest_client_new(struct rum_rest_client **out, const struct rum_rest_client_options *o);
void rum_rest_client_free(struct rum_rest_client *c);

/* The pin of the certificate seen on the last TLS connection (malloc'd
 * "sha256//BASE64", caller frees), or NULL. */
char *rum_rest_client_seen_pin(const struct rum_rest_client *c);

/* POST /close-reports. Errors below. */
int rum_rest_client_close_reports(struct rum_rest_client *c);

/* GET /all-reports: *body the JSON reply ({"usage":[...]}) verbatim,
 * malloc'd, NUL-terminated, caller frees. */
int rum_rest_client_all_reports(struct rum_rest_client *c, char **body, size_t *len);

/* POST /import with the ACK or policy XML, base64-encoded (text/plain)
 * unless raw (application/xml). *reply (may be NULL) gets the device's
 * answer text (malloc'd) on success. RUM_ETOOBIG past 64 MiB of XML. */
int rum_rest_client_import(struct rum_rest_client *c, const char *xml, size_t len, bool raw,
			   char **reply);

/* One request under the base path, for protocols that read the HTTP
 * status themselves (RESTCONF answers errors as documents). */
struct rum_rest_client_call {
	const char *path;   /* "/data/...", no spaces or control characters */
	const char *accept; /* NULL = application/json */
	const char *body;   /* NULL: GET; else POST of len bytes */
	size_t len;
	const char *content_type; /* of the body */
};

/* Makes the request: on 0, *status is the HTTP status the device answered
 * (any but 401/403) and *body its reply (malloc'd, NUL-terminated, caller
 * frees). Errors as below, RUM_EAUTH for 401/403, and RUM_EINVAL for a bad
 * path or media type. */
int rum_rest_client_call(struct rum_rest_client *c, const struct rum_rest_client_call *call,
			 long *status, char **body, size_t *len);

/* Errors of every request: RUM_EUNAVAIL (connect failed), RUM_ETIMEDOUT,
 * RUM_EAUTH (401/403), RUM_ECONFLICT (certificate does not match the pin;
 * the message names the pin seen), RUM_EFORBIDDEN (no pin and
 * trust_on_first_use off: only a TLS handshake is made, no credentials
 * are sent, and the message and rum_rest_client_seen_pin give the pin the
 * device presents, for an operator to confirm), RUM_ETOOBIG (reply over
 * max_reply: the transfer is aborted), RUM_EIO (any other HTTP status or
 * transport failure; the message quotes the status and the first bytes of
 * the body). Any 2xx status is success. */

#endif
