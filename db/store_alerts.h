/* Storage of alerts (migrations 0001, 0011): evaluation of the kinds raised
 * from state, pages of a tenant's alerts, acknowledgement. Strings in
 * callback rows are valid during the call only. */
#ifndef RUM_DB_STORE_ALERTS_H
#define RUM_DB_STORE_ALERTS_H

#include "db/db.h"

#include <stdint.h>

/* rum_alerts_evaluate: windows in days, 0 turns a kind off. */
int rum_store_alerts_evaluate(struct rum_db_txn *txn, int warn_days, int ack_days, int silent_days,
			      int capture_days, int64_t *changed);

struct rum_store_alert {
	int64_t id, device_id; /* device_id 0: none */
	const char *kind, *severity, *subject, *message, *details_json;
	const char *first_seen, *last_seen, *resolved_at, *acknowledged_at, *acknowledged_by;
};

/* Newest first, ids below before_id; state "open", "unacknowledged",
 * "resolved" or "all"; kind "" for every kind. */
int rum_store_alert_page(struct rum_db_txn *txn, int64_t tenant_id, const char *state,
			 const char *kind, int64_t before_id, int limit,
			 void (*cb)(void *arg, const struct rum_store_alert *a), void *arg);

/* Marks the tenant's alert acknowledged by `by` (the first acknowledgement
 * stays); a report conflict is resolved by it. RUM_ENOTFOUND (no message). */
int rum_store_alert_ack(struct rum_db_txn *txn, int64_t tenant_id, int64_t id, const char *by);

#endif
