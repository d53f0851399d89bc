#include "server/upkeep.h"

#include "domain/devices.h"
#include "domain/retention.h"
#include "domain/usage.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdlib.h>
#include <time.h>

struct rum_upkeep {
	struct rum_domain *dom;
	int interval_s, usage_lag_s;
	struct rum_alert_windows alerts;
	struct rum_retention_policy retention;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	atomic_int stop; /* also read without the lock, between rollup steps */
};

/* Retention last: usage has just counted what may now be pruned. One line
 * per round that removed something. */
static void rum_upkeep_prune(struct rum_upkeep *u)
{
	struct rum_retention_result r;
	int rc = rum_retention_prune(u->dom, &u->retention, NULL, false, &u->stop, &r);

	if (rc != 0 && rc != RUM_EUNAVAIL)
		rum_log_warn("upkeep: retention: %s", rum_err_msg());
	if (r.reports + r.captures + r.collections > 0)
		rum_log_info("upkeep: retention: pruned %lld report payloads, %lld captures, "
			     "%lld collections in %lld ms%s",
			     (long long)r.reports, (long long)r.captures, (long long)r.collections,
			     (long long)r.duration_ms,
			     r.more ? "; more left for the next round" : "");
}

static void rum_upkeep_round(struct rum_upkeep *u)
{
	atomic_llong taken = 0;
	int64_t changed = 0;
	int rc = rum_usage_rollup_until(u->dom, u->usage_lag_s, &taken, &u->stop);

	if (rc != 0 && rc != RUM_EUNAVAIL)
		rum_log_warn("upkeep: licence usage: %s", rum_err_msg());
	else if (atomic_load(&taken) > 0)
		rum_log_debug("upkeep: licence usage: %lld values counted", atomic_load(&taken));
	if (atomic_load(&u->stop))
		return;
	rc = rum_alerts_evaluate(u->dom, &u->alerts, &changed);
	if (rc != 0 && rc != RUM_EUNAVAIL)
		rum_log_warn("upkeep: alerts: %s", rum_err_msg());
	else if (changed > 0)
		rum_log_info("upkeep: alerts: %lld raised or resolved", (long long)changed);
	if (atomic_load(&u->stop))
		return;
	rc = rum_devices_overview_snapshots(u->dom, &u->stop);
	if (rc != 0 && rc != RUM_EUNAVAIL)
		rum_log_warn("upkeep: overview snapshots: %s", rum_err_msg());
	if (!atomic_load(&u->stop) && rum_retention_enabled(&u->retention))
		rum_upkeep_prune(u);
}

static void *rum_upkeep_main(void *arg)
{
	struct rum_upkeep *u = arg;

	pthread_mutex_lock(&u->lock);
	while (!atomic_load(&u->stop)) {
		struct timespec until;

		pthread_mutex_unlock(&u->lock);
		rum_upkeep_round(u);
		pthread_mutex_lock(&u->lock);
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += u->interval_s;
		while (!atomic_load(&u->stop) &&
		       pthread_cond_timedwait(&u->wake, &u->lock, &until) != ETIMEDOUT)
			;
	}
	pthread_mutex_unlock(&u->lock);
	return NULL;
}

int rum_upkeep_start(struct rum_upkeep **out, struct rum_domain *dom, int interval_s,
		     int usage_lag_s, const struct rum_alert_windows *alerts,
		     const struct rum_retention_policy *retention)
{
	struct rum_upkeep *u = calloc(1, sizeof(*u));

	*out = NULL;
	if (!u)
		abort();
	u->dom = dom;
	u->interval_s = interval_s > 0 ? interval_s : 60;
	u->usage_lag_s = usage_lag_s;
	u->alerts = *alerts;
	u->retention = *retention;
	pthread_mutex_init(&u->lock, NULL);
	pthread_cond_init(&u->wake, NULL);
	if (pthread_create(&u->thread, NULL, rum_upkeep_main, u) != 0) {
		pthread_mutex_destroy(&u->lock);
		pthread_cond_destroy(&u->wake);
		free(u);
		return rum_err_set(RUM_EINTERNAL, "cannot start the upkeep thread");
	}
	*out = u;
	return 0;
}

void rum_upkeep_stop(struct rum_upkeep *u)
{
	if (!u)
		return;
	pthread_mutex_lock(&u->lock);
	atomic_store(&u->stop, 1);
	pthread_cond_signal(&u->wake);
	pthread_mutex_unlock(&u->lock);
	pthread_join(u->thread, NULL);
	pthread_mutex_destroy(&u->lock);
	pthread_cond_destroy(&u->wake);
	free(u);
}
