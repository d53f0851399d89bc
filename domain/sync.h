/* Connected mode's syncs, the domain side (PROTOCOL.md 5): what a sync
 * takes, where each upstream call stands, the ACKs that come back, and the
 * lease that keeps one node on a tenant's sync. Knows no HTTP: sync/ makes
 * the calls and reports each step here, and every step is committed before
 * the next call goes out, so that a node killed at any point resumes from
 * the database:
 *   - a run's reports are recorded as an export batch when it begins, as a
 *     file export records them;
 *   - a call is marked sending before it goes; one found sending after a
 *     crash is sent again, and an upstream that already had it says so
 *     ("already received"), which settles it as delivered;
 *   - a poll id is stored as soon as the upstream gives it;
 *   - an ACK is stored exactly as an imported one (queued for the device's
 *     next poll, pull delivery and ack-file) in the transaction that
 *     settles its call. */
#ifndef RUM_DOMAIN_SYNC_H
#define RUM_DOMAIN_SYNC_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Reports of one device in one call, at most; the rest go next run. */
#define RUM_SYNC_MAX_REPORTS_PER_CALL 1000

/* The tenant's upstream as a sync uses it, secrets opened. */
struct rum_sync_upstream {
	int64_t tenant_id;
	char tenant[128];
	char kind[16]; /* "cssm" | "collector" */
	char *url, *token_url, *api_url, *client_id;
	char *smart_account_id, *virtual_account_id, *smart_account, *virtual_account;
	char *proxy;          /* "" = the node's setting, "direct", or a URL (user in it) */
	char *client_secret;  /* NULL when none; wiped by dispose */
	char *proxy_password; /* NULL when none; wiped by dispose */
	char *ca_file;        /* "" = the node's setting */
	int connect_timeout_s, timeout_s;
	int64_t interval_s, sync_soon_s;
};
/* RUM_ENOTFOUND (tenant, or no upstream), RUM_EIO/RUM_EAUTH (key file). */
int rum_sync_upstream_get(struct rum_domain *dom, const char *tenant,
			  struct rum_sync_upstream *out);
void rum_sync_upstream_dispose(struct rum_sync_upstream *u);

/* Takes the tenant's lease for owner (lease_s seconds; renew it well
 * before). RUM_ECONFLICT naming the holder when another node runs it. */
int rum_sync_lease(struct rum_domain *dom, int64_t tenant_id, const char *owner, int lease_s);
void rum_sync_release(struct rum_domain *dom, int64_t tenant_id, const char *owner);

struct rum_sync_begun {
	int64_t run_id;
	bool resumed;                       /* an earlier run still had calls to make */
	int64_t devices, reports, requests; /* taken by a new run */
};
/* Resumes the tenant's run that still has calls to make, else begins one
 * with the reports no upstream has yet (trigger: manual, schedule, soon,
 * api); either takes the tenant's pending request. A new run with nothing
 * to send is recorded done. Trigger poll begins nothing: the pass only makes
 * the open runs' due calls (run_id 0 when none is sending). */
int rum_sync_begin(struct rum_domain *dom, const struct rum_sync_upstream *u, const char *trigger,
		   const char *node, struct rum_sync_begun *out);

/* One open call, copied. */
struct rum_sync_call {
	int64_t id, tenant_id, run_id, batch_id, device_id;
	int64_t upload_id;                    /* kind auth: the device's pending request */
	char kind[8], state[12], poll_id[72]; /* kind: usage | auth */
	int attempts, polls, reports;
	char pid[160], sn[160], hostname[256], software_tag[256];
};
/* The tenant's open calls: next_ms until the first is due (0: one is,
 * -1: none is open), how many, and how many are not polling (both -1,
 * not counted, when as many calls are due as were asked for). */
struct rum_sync_open {
	int64_t next_ms, calls, sends;
};
/* Calls due now (at most max, malloc'd array in *calls) across the
 * tenant's runs, and what is open. */
int rum_sync_due(struct rum_domain *dom, int64_t tenant_id, int max, struct rum_sync_call **calls,
		 size_t *n, struct rum_sync_open *open);

/* What the call sends (malloc'd): a kind auth call's request as the
 * device sent it, a usage call's reports byte-exact as a JSON array.
 * RUM_ECONFLICT: answered meanwhile (another node), not to be sent again.
 * Writes nothing: the answer's step records the attempt. */
int rum_sync_take(struct rum_domain *dom, const struct rum_sync_call *c, char **body, size_t *len);

/* A call's next state. */
enum rum_sync_outcome_kind {
	RUM_SYNC_RETRY,     /* no answer worth keeping: again after delay_ms */
	RUM_SYNC_POLLING,   /* accepted (poll_id) or polled OK_POLL: poll after delay_ms */
	RUM_SYNC_DUPLICATE, /* the upstream already has it */
	RUM_SYNC_REFUSED,   /* the upstream refused it (message) */
};
int rum_sync_step(struct rum_domain *dom, const struct rum_sync_call *c,
		  enum rum_sync_outcome_kind what, const char *poll_id, const char *message,
		  int64_t delay_ms);

/* Stores the ACK documents the upstream returned for the call (each
 * exactly as an ACK file import would; for a request, its answer, which
 * marks the request answered) and settles it complete, in one
 * transaction. RUM_EINVAL naming what is wrong when a document is not an
 * ACK for this device (nothing stored, the call stays open). */
int rum_sync_complete(struct rum_domain *dom, const struct rum_sync_call *c,
		      const char *const *docs, const size_t *lens, size_t n,
		      int64_t *reports_acked);

/* Brings the run's state in line with its calls and records error (NULL
 * or "" = none); *state "sending", "polling", "done" (16 bytes). */
int rum_sync_run_update(struct rum_domain *dom, int64_t run_id, const char *error, char *state);
/* Notes a pass's outcome, the next pass due next_s from now (-1: when it
 * was due before), and the failure streak: a sync failing for
 * alert_after_s (0: never) raises a critical sync_failing alert naming the
 * error; the next good pass resolves it. */
int rum_sync_outcome(struct rum_domain *dom, int64_t tenant_id, bool ok, const char *error,
		     int alert_after_s, int64_t next_s);

/* Asks for a sync of the actor's tenant soon (serve's scheduler runs it);
 * audited as sync-request. RUM_ENOTFOUND (tenant, or it has no upstream). */
int rum_sync_request_by(struct rum_domain *dom, const struct rum_actor *by);
/* Tenants whose sync is due now and free to run, at most limit, with the
 * trigger to record (api, schedule, soon), or poll when only calls of open
 * runs are due (answers to fetch, retries): a pass that sends nothing new
 * and leaves the schedule as it was. A new upstream is due at once. */
int rum_sync_due_tenants(struct rum_domain *dom, int limit,
			 void (*cb)(void *arg, const char *tenant, const char *trigger), void *arg);

/* Status: the tenant's state and last runs, newest first. Strings valid
 * during the callbacks. */
struct rum_sync_run_info {
	int64_t id, batch_id;
	const char *kind, *trigger, *state, *node, *started_at, *finished_at, *error;
	int64_t calls, reports, sent, acks, polling, queued, duplicates, failed;
};
struct rum_sync_state_info {
	const char *owner, *lease_until, *failing_since, *last_ok_at;
	int64_t failing_s;
};
struct rum_sync_refusal_info {
	int64_t run_id, device_id;
	const char *pid, *sn, *message, *at;
	int reports;
};
struct rum_sync_status_cb {
	void (*state)(void *arg, const struct rum_sync_state_info *s);
	void (*run)(void *arg, const struct rum_sync_run_info *r);
	void (*refusal)(void *arg, const struct rum_sync_refusal_info *r); /* newest run's */
	void *arg;
};
int rum_sync_status(struct rum_domain *dom, const char *tenant, int limit,
		    const struct rum_sync_status_cb *cb);

#endif
