/* Client of CSSM's Smart Licensing REST API (PROTOCOL.md 5.1): the OAuth2
 * token, accounts/search, devices/reportusage and accounts/poll, over
 * lib/http_client.h. Reads answers into what a sync does next and names
 * every failure; never puts the client secret, a token or a proxy
 * password in a message.
 *
 * A token is shared by the clients of one sync (struct rum_cssm_auth, with
 * its own lock); each client is one connection, used by one thread. */
#ifndef RUM_SYNC_CSSM_H
#define RUM_SYNC_CSSM_H

#include "domain/sync.h"

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* How a client reaches the upstream. */
struct rum_cssm_net {
	const char *proxy; /* NULL/"" = direct; http(s)://HOST:PORT */
	const char *proxy_user, *proxy_password;
	const char *ca_file; /* NULL/"" = the system's CAs */
	int connect_timeout_ms, timeout_ms;
	bool allow_http; /* http:// upstream URLs (tests, tiers on a trusted network) */
	const volatile int *cancel;
};

/* The token of one sync and the accounts it resolved. */
struct rum_cssm_auth {
	pthread_mutex_t lock;
	const struct rum_sync_upstream *u;
	char *token;         /* NULL until fetched; wiped when replaced */
	int64_t expires_ms;  /* monotonic time it expires */
	unsigned generation; /* counts tokens fetched */
	char sa_id[24], va_id[24];
};
void rum_cssm_auth_init(struct rum_cssm_auth *a, const struct rum_sync_upstream *u);
void rum_cssm_auth_dispose(struct rum_cssm_auth *a);

struct rum_cssm;
int rum_cssm_new(struct rum_cssm **out, struct rum_cssm_auth *auth, const struct rum_cssm_net *net);
void rum_cssm_free(struct rum_cssm *c);

/* Fetches a token unless one is valid for another minute, and resolves the
 * Smart Account and Virtual Account names (accounts/search) the first
 * time. Errors: RUM_EAUTH (credentials refused), RUM_ENOTFOUND (no such
 * account), transport errors of lib/http_client.h, RUM_EIO (an answer that
 * is not what the API gives). */
int rum_cssm_prepare(struct rum_cssm *c);

/* What the upstream said to one call. */
enum rum_cssm_said {
	RUM_CSSM_POLL_ID,   /* accepted: poll_id */
	RUM_CSSM_OK_POLL,   /* a poll: not ready yet */
	RUM_CSSM_COMPLETE,  /* a poll: docs[] are the ACKs (decoded) */
	RUM_CSSM_DUPLICATE, /* it already has these reports */
	RUM_CSSM_REFUSED,   /* FAILED or a 4xx about this call: message */
	RUM_CSSM_RETRY,     /* 429, 5xx, or no answer: again later (retry_after_s, -1 = none) */
};
struct rum_cssm_answer {
	enum rum_cssm_said said;
	char poll_id[72];
	char message[512];
	long retry_after_s;
	char **docs;
	size_t *lens, ndocs;
};
void rum_cssm_answer_dispose(struct rum_cssm_answer *a);

/* devices/reportusage for the call's device with its reports (a JSON
 * array of report objects, byte-exact). A 401 refreshes the token once.
 * 0 with *a filled, or an error that stops the sync (credentials, TLS,
 * proxy, accounts). A transport error that may pass (connect, timeout,
 * reply cut) is RUM_CSSM_RETRY, not an error. */
int rum_cssm_report_usage(struct rum_cssm *c, const struct rum_sync_call *call, const char *reports,
			  size_t len, struct rum_cssm_answer *a);

/* devices/authrequest for a trust or authorization request a device left
 * (its body as kept). Errors as rum_cssm_report_usage. */
int rum_cssm_auth_request(struct rum_cssm *c, const struct rum_sync_call *call, const char *body,
			  size_t len, struct rum_cssm_answer *a);

/* accounts/poll for the call's poll id ("acknowledgements", or
 * "authorizations" for a request). */
int rum_cssm_poll(struct rum_cssm *c, const struct rum_sync_call *call, struct rum_cssm_answer *a);

#endif
