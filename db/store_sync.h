/* Storage side of connected mode's syncs (PROTOCOL.md 5; schema in
 * migrations/0019_sync.sql): the per-tenant lease that keeps one node on a
 * tenant's sync, runs and their export batch, one row per upstream call
 * with its poll id, and what status shows.
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set. */
#ifndef RUM_DB_STORE_SYNC_H
#define RUM_DB_STORE_SYNC_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Takes or renews the tenant's sync lease for owner until lease_s seconds
 * from now: *got false when another owner holds a lease still running,
 * whose name goes into holder. */
int rum_store_sync_lease(struct rum_db_txn *txn, int64_t tenant_id, const char *owner, int lease_s,
			 bool *got, char *holder, size_t holder_size);
/* Gives the lease up, if owner holds it. */
int rum_store_sync_release(struct rum_db_txn *txn, int64_t tenant_id, const char *owner);

/* The tenant's run still making calls (state sending): *run_id 0 when none. */
int rum_store_sync_open_run(struct rum_db_txn *txn, int64_t tenant_id, int64_t *run_id);

struct rum_store_sync_plan {
	int64_t tenant_id;
	const char *kind, *trigger, *node;
	const char *ts;           /* the export batch's <ts> */
	int max_reports_per_call; /* a device's reports beyond it wait for the next run */
};
/* A new run (state sending) and its export batch: the tenant's reports not
 * acknowledged, not conflicts, and not in a call that went or is going
 * upstream (a refused call's reports are taken again), at most
 * max_reports_per_call per device, with one queued call per device (no
 * report: no batch); and one call per trust or authorization request a
 * device left pending (at most max_reports_per_call of them). The caller
 * brings the run's state in line (rum_store_sync_run_update): a run with
 * no call is done. */
int rum_store_sync_plan(struct rum_db_txn *txn, const struct rum_store_sync_plan *p,
			int64_t *run_id, int64_t *batch_id, int64_t *devices, int64_t *reports,
			int64_t *requests);
/* The request body of a kind auth call still to be sent, as the device
 * sent it (malloc'd). RUM_ECONFLICT when the call was answered meanwhile,
 * RUM_ENOTFOUND when its request is gone. */
int rum_store_sync_request_body(struct rum_db_txn *txn, int64_t call_id, char **body, size_t *len);
/* The request is answered: its answer is queued for the device. */
int rum_store_sync_request_answered(struct rum_db_txn *txn, int64_t upload_id);

/* One open call (queued, sending or polling) of the tenant's runs, with
 * what the request needs; strings valid during the callback. */
struct rum_store_sync_call {
	int64_t id, run_id, batch_id, device_id, upload_id;
	const char *kind, *state, *poll_id;
	int attempts, polls, reports;
	const char *pid, *sn, *hostname, *software_tag;
};
/* Calls due now (next_at passed), oldest first, at most limit. Then, of
 * every open call: *next_ms until the first is due (0 when one is, -1 when
 * none is open), *open how many, *open_sends how many are queued or
 * sending (not polling); when limit calls are due, those three are not
 * counted (0, -1, -1). */
int rum_store_sync_due(struct rum_db_txn *txn, int64_t tenant_id, int limit,
		       void (*cb)(void *arg, const struct rum_store_sync_call *c), void *arg,
		       int64_t *next_ms, int64_t *open, int64_t *open_sends);

/* The reports of a usage call still to be sent (its device's in the
 * batch), in report order, each byte-exact, as the elements of a JSON
 * array: "[r1,r2,...]" (malloc'd). RUM_ECONFLICT when the call was answered
 * meanwhile. */
int rum_store_sync_reports(struct rum_db_txn *txn, int64_t call_id, int64_t batch_id, char **json,
			   size_t *len, int64_t *count);

/* Moves an open call on. state: the new one; poll_id "" keeps the one
 * stored; delay_ms: when it is next due (attempt or poll); attempt/poll:
 * counts one more; ack_id 0 = none. RUM_ECONFLICT when the call is no
 * longer open (settled by another node). */
struct rum_store_sync_step {
	const char *state, *poll_id, *message;
	int64_t delay_ms, ack_id;
	bool attempt, poll;
};
int rum_store_sync_step(struct rum_db_txn *txn, int64_t call_id,
			const struct rum_store_sync_step *s);

/* Brings the run's state in line with its calls (polling once none is
 * queued or sending, done once none is open) and records error ("" = the
 * last step went well); *state gets the run's state (16 bytes). */
int rum_store_sync_run_update(struct rum_db_txn *txn, int64_t run_id, const char *error,
			      char *state);
/* Notes the outcome of a pass, next due next_s from now, for the tenant's
 * failure streak: a good one
 * ends it and resolves its sync_failing alert; a failed one raises (or
 * refreshes) that alert, with error, once the streak is alert_after_s old
 * (0: never). */
int rum_store_sync_outcome(struct rum_db_txn *txn, int64_t tenant_id, bool ok, int alert_after_s,
			   const char *error, int64_t next_s);
/* A sync asked for now (taken false), or the request taken by a pass
 * that begins (taken true). */
int rum_store_sync_request(struct rum_db_txn *txn, int64_t tenant_id, bool taken);
/* Tenants whose sync is due and whose lease is free, at most limit, with
 * why: "api" (asked for), "schedule" (its time, or calls to poll or retry)
 * or "soon" (reports arrived sync_soon_s ago). A tenant never synced is
 * due at once. */
int rum_store_sync_due_tenants(struct rum_db_txn *txn, int limit,
			       void (*cb)(void *arg, const char *tenant, const char *trigger),
			       void *arg);

/* A run as status shows it. Times ISO-8601 UTC, "" when unset. */
struct rum_store_sync_run {
	int64_t id, batch_id;
	const char *kind, *trigger, *state, *node, *started_at, *finished_at, *error;
	int64_t calls, reports, sent, acks, polling, queued, duplicates, failed;
};
/* The tenant's last runs, newest first (limit 1..500). */
int rum_store_sync_runs(struct rum_db_txn *txn, int64_t tenant_id, int limit,
			void (*cb)(void *arg, const struct rum_store_sync_run *r), void *arg);
/* The tenant's sync state; strings "" when unset; *found false when the
 * tenant never synced. */
struct rum_store_sync_state {
	const char *owner, *lease_until, *failing_since, *last_ok_at;
	int64_t failing_s; /* seconds since failing_since, 0 when not failing */
};
int rum_store_sync_state(struct rum_db_txn *txn, int64_t tenant_id,
			 void (*cb)(void *arg, const struct rum_store_sync_state *s), void *arg);
/* Calls the upstream refused, newest first (limit), with the UDI and
 * message. */
struct rum_store_sync_refusal {
	int64_t run_id, device_id;
	const char *pid, *sn, *message, *at;
	int reports;
};
int rum_store_sync_refusals(struct rum_db_txn *txn, int64_t run_id, int limit,
			    void (*cb)(void *arg, const struct rum_store_sync_refusal *r),
			    void *arg);

#endif
