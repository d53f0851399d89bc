/* Runs due pull collections (PROTOCOL.md 3.5): a dispatcher claims due jobs
 * from PostgreSQL (rum_collect_claim: FOR UPDATE SKIP LOCKED with a lease,
 * so nodes sharing a database never take the same job) as long as a session
 * is free, and worker threads run them (collector/collect) and record each
 * outcome, which also schedules the target's next collection. At most
 * `sessions` collections run at once. */
#ifndef RUM_COLLECTOR_SCHEDULER_H
#define RUM_COLLECTOR_SCHEDULER_H

#include "collector/collect.h"

#include <stddef.h>
#include <stdint.h>

struct rum_scheduler;

struct rum_scheduler_options {
	const struct rum_collect_env *env; /* must outlive the scheduler */
	int sessions;                      /* >= 1 */
	int poll_ms;                       /* idle wait between looks for due work */
	int retry_base_s, retry_max_s, alert_after_s;
	const int64_t *only; /* claim only these jobs (n_only > 0) */
	size_t n_only;
	/* Called (from a worker thread) after each collection this scheduler ran. */
	void (*finished)(void *arg, int64_t job_id, const struct rum_collect_target *t,
			 const struct rum_collect_outcome *o);
	void *finished_arg;
};

/* Starts the dispatcher and workers. Errors: RUM_EINVAL. */
int rum_scheduler_start(struct rum_scheduler **out, const struct rum_scheduler_options *o);

/* Stops claiming, waits for the collections in flight (each bounded by its
 * own deadline) and frees. Accepts NULL. */
void rum_scheduler_stop(struct rum_scheduler *s);

/* Collections run so far, and running now. */
void rum_scheduler_counts(struct rum_scheduler *s, uint64_t *done, int *running);

#endif
