/* Connected-mode scheduler, see scheduler.h. */
#include "sync/scheduler.h"

#include "domain/sync.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define SYNC_SCHED_BATCH 16 /* due tenants taken per look */

struct rum_sync_scheduler {
	struct rum_sync_scheduler_options o;
	pthread_t thread;
	pthread_mutex_t lock;
	pthread_cond_t wake;
	volatile int stop;
};

struct sync_due {
	char tenant[128], trigger[16];
};

struct sync_due_list {
	struct sync_due *v;
	size_t n;
};

static void sync_sched_due_cb(void *arg, const char *tenant, const char *trigger)
{
	struct sync_due_list *l = arg;

	l->v = rum_grow_one(l->v, l->n, sizeof(*l->v));
	snprintf(l->v[l->n].tenant, sizeof(l->v[l->n].tenant), "%s", tenant);
	snprintf(l->v[l->n].trigger, sizeof(l->v[l->n].trigger), "%s", trigger);
	l->n++;
}

static void sync_sched_pass(struct rum_sync_scheduler *s, const struct sync_due *d)
{
	struct rum_sync_options o = s->o.base;
	struct rum_sync_result r;
	char q[300];
	int rc;

	o.tenant = d->tenant;
	o.trigger = d->trigger;
	o.wait = false;
	o.cancel = &s->stop;
	rc = rum_sync_run(s->o.dom, &o, &r);
	rum_log_quote(q, sizeof(q), d->tenant);
	if (rc == RUM_ECONFLICT) {
		rum_log_debug("sync: tenant=%s: %s", q, rum_err_msg());
	} else if (rc < 0) {
		rum_log_warn("sync: tenant=%s run=%" PRId64 " trigger=%s failed: %s", q, r.run_id,
			     d->trigger, rum_err_msg());
	} else if (r.sent || r.acks || r.duplicates || r.refused || r.reports) {
		rum_log_info("sync: tenant=%s run=%" PRId64 " trigger=%s reports=%" PRId64
			     " sent=%" PRId64 " acks=%" PRId64 " duplicates=%" PRId64
			     " refused=%" PRId64 " retries=%" PRId64 " pending=%" PRId64,
			     q, r.run_id, d->trigger, r.reports, r.sent, r.acks, r.duplicates,
			     r.refused, r.retries, r.pending);
	}
}

static void *sync_sched_main(void *arg)
{
	struct rum_sync_scheduler *s = arg;

	while (!s->stop) {
		struct sync_due_list l = {NULL, 0};
		struct timespec until;
		int rc = rum_sync_due_tenants(s->o.dom, SYNC_SCHED_BATCH, sync_sched_due_cb, &l);

		if (rc < 0)
			rum_log_warn("sync: looking for due syncs failed: %s", rum_err_msg());
		for (size_t i = 0; i < l.n && !s->stop; i++)
			sync_sched_pass(s, &l.v[i]);
		free(l.v);
		if (l.n == SYNC_SCHED_BATCH)
			continue; /* more may be due */
		clock_gettime(CLOCK_REALTIME, &until);
		until.tv_sec += s->o.look_ms / 1000;
		until.tv_nsec += (long)(s->o.look_ms % 1000) * 1000000L;
		if (until.tv_nsec >= 1000000000L) {
			until.tv_sec++;
			until.tv_nsec -= 1000000000L;
		}
		pthread_mutex_lock(&s->lock);
		if (!s->stop)
			pthread_cond_timedwait(&s->wake, &s->lock, &until);
		pthread_mutex_unlock(&s->lock);
	}
	return NULL;
}

int rum_sync_scheduler_start(struct rum_sync_scheduler **out,
			     const struct rum_sync_scheduler_options *o)
{
	struct rum_sync_scheduler *s;

	*out = NULL;
	if (!o->dom || o->look_ms < 10)
		return rum_err_set(RUM_EINVAL, "sync scheduler: bad options");
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->o = *o;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->wake, NULL);
	if (pthread_create(&s->thread, NULL, sync_sched_main, s) != 0)
		abort();
	*out = s;
	return 0;
}

void rum_sync_scheduler_stop(struct rum_sync_scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stop = 1;
	pthread_cond_signal(&s->wake);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->thread, NULL);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s);
}
