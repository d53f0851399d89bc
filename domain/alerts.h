/* Alerts: one model for everything an admin must act on (migration 0011
 * lists the kinds). Kinds that follow from state are raised, refreshed and
 * resolved by rum_alerts_evaluate (the serve loop's upkeep, and the CLI
 * before it lists); the others where they happen. Acknowledging marks an
 * alert seen; a report conflict, which nothing else ends, is resolved by
 * it. */
#ifndef RUM_DOMAIN_ALERTS_H
#define RUM_DOMAIN_ALERTS_H

#include "domain/access.h"
#include "domain/devices.h"
#include "domain/domain.h"

#include <stdint.h>

#define RUM_ALERTS_LIMIT_DEFAULT 50
#define RUM_ALERTS_LIMIT_MAX 500

/* Windows of the state-derived kinds, in days; 0 turns a kind off. */
struct rum_alert_windows {
	int deadline_warn_days; /* deadline_near: the deadline is this close */
	int ack_pending_days;   /* ack_pending: an export waits this long */
	int silent_days;        /* device_silent: not heard of this long */
	int capture_days;       /* unclassified_messages: captured this recently */
};

/* An alert as shown; strings valid during the callback, "" when unknown. */
struct rum_alert {
	int64_t id, device_id; /* device_id 0: not about one device */
	const char *kind, *severity, *subject, *message;
	const char *details_json; /* a JSON object */
	const char *first_seen, *last_seen, *resolved_at, *acknowledged_at, *acknowledged_by;
};

/* Raises, refreshes and resolves the state-derived kinds in one
 * transaction; *changed: alerts raised plus resolved (may be NULL). */
int rum_alerts_evaluate(struct rum_domain *dom, const struct rum_alert_windows *w,
			int64_t *changed);

/* A page of the tenant's alerts, newest first. state: "open" (default:
 * unresolved), "unacknowledged", "resolved", "all"; kind NULL for all.
 * RUM_EINVAL (state, kind, limit, cursor), RUM_ENOTFOUND (tenant). */
int rum_alerts_list(struct rum_domain *dom, const char *tenant, const char *state, const char *kind,
		    const char *cursor, int limit, void (*cb)(void *arg, const struct rum_alert *a),
		    void *arg, char next_cursor[RUM_CURSOR_MAX]);

/* Acknowledges one alert of the tenant as `by` (audited as alert-ack).
 * RUM_ENOTFOUND. */
int rum_alerts_ack_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id);

#endif
