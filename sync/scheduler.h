/* serve's connected-mode scheduler: one thread that looks for tenants whose
 * sync is due (their interval passed, a sync was asked for through the
 * API, calls wait to be polled or retried, or new reports arrived
 * sync_soon ago) and runs a pass for each, without waiting for ACKs (the
 * next look polls them when due). Several nodes may run it on one
 * database: the tenant's lease keeps each sync on one node. */
#ifndef RUM_SYNC_SCHEDULER_H
#define RUM_SYNC_SCHEDULER_H

#include "domain/domain.h"
#include "sync/engine.h"

struct rum_sync_scheduler;

struct rum_sync_scheduler_options {
	struct rum_domain *dom;
	/* Every pass's options but tenant, trigger, wait and cancel; the
	 * strings must outlive the scheduler. */
	struct rum_sync_options base;
	int look_ms; /* idle wait between looks for due syncs */
};

int rum_sync_scheduler_start(struct rum_sync_scheduler **out,
			     const struct rum_sync_scheduler_options *o);
/* Stops (a pass in flight ends at its next step) and frees. Accepts NULL. */
void rum_sync_scheduler_stop(struct rum_sync_scheduler *s);

#endif
