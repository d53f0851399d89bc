/* Push mode (PROTOCOL 1.3-1.5): the CSLU transport of an SLP device, and the
 * agent's libcurl wrappers (the only module that includes curl).
 *
 * Timers follow a real device: usage reporting every reporting interval
 * (state.h), result polling about 60 s and 5 min after an OK_POLL and daily
 * after that, an hourly retry after a failed report, a 24 h retry after a
 * failed poll. Every timer is divided by the speed-up factor. All timer
 * state lives in the state file, so a restarted agent carries on. */
#ifndef RUM_AGENT_PUSH_H
#define RUM_AGENT_PUSH_H

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

struct rum_agent_state;

#define RUM_AGENT_HTTP_MAX (16u * 1024 * 1024) /* ceiling on a server reply */

struct rum_agent_http_reply {
	long status; /* HTTP status, 0 if no answer */
	char *body;  /* NUL-terminated, caller frees via _dispose */
	size_t len;
};

void rum_agent_http_global_init(void);

/* POSTs a JSON body. Transport failures return RUM_EUNAVAIL; any HTTP answer
 * (even 4xx/5xx) is a success with out->status set. */
int rum_agent_http_post_json(struct rum_agent_http_reply *out, const char *url, const char *body);

/* PUTs a file body (uploads of save-usage to http(s) paths); non-2xx is RUM_EUNAVAIL. */
int rum_agent_http_put(const char *url, const char *body, size_t len);

/* GETs url into *out (caller frees), at most max bytes; non-2xx is RUM_ENOTFOUND. */
int rum_agent_http_get(char **out, size_t *out_len, const char *url, size_t max);

void rum_agent_http_reply_dispose(struct rum_agent_http_reply *r);

/* Many JSON POSTs at once from one thread, for the fleet: up to
 * `concurrency` requests in flight over kept-alive connections. */
/* A device message's envelope for st: sudi, timestamp (now, ms), a fresh
 * nonce and product_instance_identifier. The caller adds the rest. */
json_t *rum_agent_envelope(const struct rum_agent_state *st);

struct rum_agent_http_pool;

/* Called once per finished request: rc 0 with r->status set (any HTTP
 * answer), or a transport failure (RUM_EUNAVAIL, RUM_ETOOBIG) with err. */
typedef void (*rum_agent_http_done_fn)(void *ctx, uint64_t tag, int rc,
				       const struct rum_agent_http_reply *r, const char *err);

struct rum_agent_http_pool *rum_agent_http_pool_new(int concurrency);
void rum_agent_http_pool_free(struct rum_agent_http_pool *p);

/* Requests in flight. */
int rum_agent_http_pool_busy(const struct rum_agent_http_pool *p);

/* Starts a POST of body (taken over, freed when done) to url. RUM_EUNAVAIL
 * (body not taken) when `concurrency` requests are in flight already. */
int rum_agent_http_pool_post(struct rum_agent_http_pool *p, const char *url, char *body,
			     uint64_t tag);

/* Moves every transfer on, waiting at most timeout_ms for the network, and
 * reports each finished one to done. */
void rum_agent_http_pool_run(struct rum_agent_http_pool *p, int timeout_ms,
			     rum_agent_http_done_fn done, void *ctx);

/* What one `sync` did, for its report and exit status. */
struct rum_agent_sync_result {
	int hello_ok;          /* the server answered the hello */
	size_t reports;        /* reports sent in the usage message */
	char status[16];       /* the usage reply's status word, "" when none came */
	char poll_id[64];      /* OK_POLL: the upload's poll id */
	int polls;             /* result polls made */
	int acks;              /* ACKs installed */
	char ack_summary[512]; /* the last one's */
	char error[256];       /* why the usage message failed, "" when it did not */
};

struct rum_agent_push_opts {
	double speedup;       /* >= 1; divides every device timer */
	int max_polls;        /* sync: polls at most */
	double poll_interval; /* sync: seconds between polls (before speed-up) */
	double wait;          /* sync: seconds to poll for the ACK after the usage message */
	const char *url;      /* overrides the configured URL when set (and is saved) */
	int quiet;
	struct rum_agent_sync_result *result; /* sync: filled when set */
};

/* Runs the device's push behaviour until SIGINT/SIGTERM (or *stop becomes
 * non-zero, for the fleet). */
int rum_agent_push_run(const char *dir, const struct rum_agent_push_opts *o, volatile int *stop);

/* Performs the work due at now_ms for one device and sets *wake_ms to the
 * next time it has work. first: send a hello before anything else. */
int rum_agent_push_step(const char *dir, const struct rum_agent_push_opts *o, int64_t now_ms,
			int first, int64_t *wake_ms);

/* `license smart sync all`: one exchange. Hello, the unreported reports in
 * one usage message, then result polls every poll_interval for at most wait
 * seconds (and max_polls), installing an ACK that arrives. Returns 1 when an
 * ACK was installed or nothing is left to wait for, 0 when the ACK is still
 * pending (the device polls again on its own schedule), or an error when
 * the usage message was not taken (o->result says why). */
int rum_agent_sync(const char *dir, const struct rum_agent_push_opts *o);

int64_t rum_agent_now_ms(void);

#endif
