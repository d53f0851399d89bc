/* The serve loop's upkeep: a thread that, every upkeep_interval_s, brings
 * the domain's derived state up to date: licence usage, then alerts and
 * overview snapshots, then retention (pruning within its budget). Every
 * node runs it; the domain lets one node count usage and one node prune at
 * a time, and alert evaluation is idempotent. */
#ifndef RUM_SERVER_UPKEEP_H
#define RUM_SERVER_UPKEEP_H

#include "domain/alerts.h"
#include "domain/domain.h"
#include "domain/retention.h"

struct rum_upkeep;

/* Starts the thread. RUM_EINTERNAL when it cannot be created. */
int rum_upkeep_start(struct rum_upkeep **out, struct rum_domain *dom, int interval_s,
		     int usage_lag_s, const struct rum_alert_windows *alerts,
		     const struct rum_retention_policy *retention);
/* Stops it, waiting for a round in progress. NULL is a no-op. */
void rum_upkeep_stop(struct rum_upkeep *u);

#endif
