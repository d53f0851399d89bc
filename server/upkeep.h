/* The serve loop's upkeep: a thread that, every upkeep_interval_s, brings
 * the domain's aggregates up to date (licence usage). Every node runs it;
 * the domain lets one node count at a time. */
#ifndef RUM_SERVER_UPKEEP_H
#define RUM_SERVER_UPKEEP_H

#include "domain/domain.h"

struct rum_upkeep;

/* Starts the thread. RUM_EINTERNAL when it cannot be created. */
int rum_upkeep_start(struct rum_upkeep **out, struct rum_domain *dom, int interval_s,
		     int usage_lag_s);
/* Stops it, waiting for a round in progress. NULL is a no-op. */
void rum_upkeep_stop(struct rum_upkeep *u);

#endif
