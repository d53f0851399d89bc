/* One sync pass for a tenant (PROTOCOL.md 5): takes the tenant's lease,
 * resumes or begins a run (domain/sync.h), makes the upstream calls with
 * up to `concurrency` in flight, polls until the ACKs come back when asked
 * to wait, and records every step before the next. Used by `rumd sync` and
 * by serve's scheduler alike.
 *
 * Failures: an answer about one call (FAILED, a 4xx) settles that call
 * with the upstream's message; a 429, a 5xx or a transport failure is
 * retried with back-off (Retry-After honoured) until the call has been
 * tried max_attempts times in the pass; credentials, TLS, proxy and account
 * failures stop the pass at once. A pass that stops leaves the run to the
 * next one, recorded with its error; nothing of the tenant's data changes. */
#ifndef RUM_SYNC_ENGINE_H
#define RUM_SYNC_ENGINE_H

#include "domain/domain.h"

#include <stdbool.h>
#include <stdint.h>

struct rum_sync_options {
	const char *tenant;
	const char *trigger; /* manual, schedule, soon, api; poll: open calls only */
	const char *node;    /* node_name, recorded with the run */
	const char *owner;   /* holds the lease: unique per process */
	bool wait;           /* poll until every call is settled (or wait_s passes) */
	int wait_s;          /* 0 = 3600 */
	int concurrency;     /* calls in flight; 0 = 4 */
	int lease_s;         /* 0 = 60 */
	int poll_first_ms;   /* first poll after an upload; 0 = 30 s (Cisco's sample) */
	int poll_every_ms;   /* later polls; 0 = 3 s */
	int retry_max_ms;    /* back-off ceiling; 0 = 60 s */
	int max_attempts;    /* per call and pass; 0 = 6 */
	int alert_after_s;   /* a sync failing this long raises an alert; 0 = never */
	/* The node's settings, for upstreams that name none of their own. */
	const char *proxy; /* "" = direct; http(s)://[USER@]HOST:PORT */
	const char *proxy_password;
	const char *ca_file;
	bool allow_http;            /* upstream URLs over plain HTTP (tiers, tests) */
	const volatile int *cancel; /* stop soon when set (serve stopping) */
};

struct rum_sync_result {
	int64_t run_id;
	bool resumed;
	int64_t devices, reports, requests; /* taken by a new run */
	int64_t sent, acks, reports_acked, duplicates, refused, retries;
	int64_t pending; /* calls still open at the end (polling or to retry) */
};

/* 0 when the pass went through (calls may still be polling without wait);
 * an error (message set) when it stopped or could not start: RUM_ENOTFOUND
 * (tenant or upstream), RUM_ECONFLICT (another node runs the tenant's
 * sync), RUM_EAUTH, RUM_EFORBIDDEN, RUM_EUNAVAIL, RUM_ETIMEDOUT, RUM_EIO. */
int rum_sync_run(struct rum_domain *dom, const struct rum_sync_options *o,
		 struct rum_sync_result *res);

#endif
