/* Retention: what rumd stops keeping once it is old enough.
 * - Reports CSSM acknowledged: exported in a batch and acknowledged by an
 *   imported ACK more than reports_days ago, and counted in licence usage,
 *   lose their payload (the row stays: identity, values, times, payload
 *   hash, export and ACK state), so that dedupe, usage, the inventory and
 *   the export batches read as before. A report not exported, or exported
 *   without an ACK, is never pruned.
 * - Captured device messages received more than captures_days ago.
 * - Finished pull collections older than collections_days (each target
 *   keeps its newest).
 * Days 0 keep a kind for ever (the default). Work goes in batches of
 * `batch` rows, each its own short transaction that skips rows others hold,
 * so ingest never waits on it; one node prunes at a time. */
#ifndef RUM_DOMAIN_RETENTION_H
#define RUM_DOMAIN_RETENTION_H

#include "domain/domain.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#define RUM_RETENTION_DAYS_MAX 36500

struct rum_retention_policy {
	int reports_days;     /* acknowledged reports; 0 = keep for ever */
	int captures_days;    /* 0 = keep for ever */
	int collections_days; /* 0 = keep for ever */
	int batch;            /* rows per transaction, >= 1 */
	int budget_ms;        /* a call stops starting batches after this long; 0 = none */
};

struct rum_retention_result {
	int64_t reports, captures, collections; /* removed (dry run: would be) */
	bool skipped;                           /* another node was pruning: nothing done */
	bool more;                              /* stopped by budget or stop with work left */
	int64_t duration_ms;
};

/* True when the policy prunes anything. */
bool rum_retention_enabled(const struct rum_retention_policy *p);

/* Checks a policy: RUM_EINVAL naming the setting (a negative number of
 * days, a batch below 1). */
int rum_retention_check(const struct rum_retention_policy *p);

/* Prunes what the policy says, for one tenant (NULL: every tenant), in
 * batches until done, the budget is spent or *stop (may be NULL) is set.
 * dry_run: counts what would go and changes nothing. RUM_EINVAL,
 * RUM_ENOTFOUND (tenant), RUM_EUNAVAIL. */
int rum_retention_prune(struct rum_domain *dom, const struct rum_retention_policy *p,
			const char *tenant, bool dry_run, const atomic_int *stop,
			struct rum_retention_result *out);

#endif
