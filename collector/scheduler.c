#include "collector/scheduler.h"

#include "domain/collections.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rum_scheduler_item {
	int64_t job_id;
	struct rum_collect_target target;
	struct rum_scheduler_item *next;
};

struct rum_scheduler {
	struct rum_scheduler_options o;
	pthread_mutex_t lock;
	pthread_cond_t work; /* workers wait for items */
	pthread_cond_t wake; /* the dispatcher waits for a free session or stop */
	struct rum_scheduler_item *head, **tail;
	int busy; /* claimed and not yet finished */
	uint64_t done;
	bool stopping;
	pthread_t dispatcher;
	pthread_t *workers;
	int nworkers;
	int lease_s;
};

static void rum_scheduler_claimed(void *arg, int64_t job_id, const struct rum_target *t)
{
	struct rum_scheduler *s = arg;
	struct rum_scheduler_item *it = calloc(1, sizeof(*it));

	if (!it)
		abort();
	it->job_id = job_id;
	rum_collect_target_copy(&it->target, t);
	/* Called with s->lock not held (inside the claim): take it to queue. */
	pthread_mutex_lock(&s->lock);
	*s->tail = it;
	s->tail = &it->next;
	s->busy++;
	pthread_cond_signal(&s->work);
	pthread_mutex_unlock(&s->lock);
}

static void rum_scheduler_wait(struct rum_scheduler *s, int ms)
{
	struct timespec until;

	clock_gettime(CLOCK_REALTIME, &until);
	until.tv_sec += ms / 1000;
	until.tv_nsec += (long)(ms % 1000) * 1000000L;
	if (until.tv_nsec >= 1000000000L) {
		until.tv_sec++;
		until.tv_nsec -= 1000000000L;
	}
	(void)pthread_cond_timedwait(&s->wake, &s->lock, &until);
}

static void *rum_scheduler_dispatch(void *arg)
{
	struct rum_scheduler *s = arg;
	bool db_down = false;

	pthread_mutex_lock(&s->lock);
	while (!s->stopping) {
		int limit = s->o.sessions - s->busy, before = s->busy, rc;

		if (limit <= 0) {
			rum_scheduler_wait(s, s->o.poll_ms);
			continue;
		}
		pthread_mutex_unlock(&s->lock);
		rc = rum_collections_claim(s->o.env->dom, s->o.env->node, limit, s->lease_s,
					   s->o.only, s->o.n_only, rum_scheduler_claimed, s);
		if (rc != 0 && !db_down)
			rum_log_warn("collector: looking for due collections failed: %s",
				     rum_err_msg());
		db_down = rc != 0;
		pthread_mutex_lock(&s->lock);
		/* Everything due taken and sessions left: nothing more is due now. */
		if (rc != 0 || s->busy - before < limit)
			rum_scheduler_wait(s, s->o.poll_ms);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

/* rumd is stopping: a collection cut short is not the device's failure.
 * It goes back to the queue for another node (or the next start). */
static bool rum_scheduler_released(struct rum_scheduler *s, struct rum_scheduler_item *it,
				   const struct rum_collect_outcome *out)
{
	if (out->ok || !s->o.env->cancel || !__atomic_load_n(s->o.env->cancel, __ATOMIC_SEQ_CST))
		return false;
	if (rum_collections_release(s->o.env->dom, it->job_id, s->o.env->node) != 0)
		rum_log_warn("collector: job=%" PRId64
			     ": not handed back (%s); its lease will pass",
			     it->job_id, rum_err_msg());
	else
		rum_log_info("collector: job=%" PRId64 " target=%" PRId64
			     ": cut short by the stop, "
			     "queued again",
			     it->job_id, it->target.row.id);
	return true;
}

static void rum_scheduler_finish(struct rum_scheduler *s, struct rum_scheduler_item *it,
				 const struct rum_collect_outcome *out)
{
	struct rum_collection_result r = {
		it->job_id,        s->o.env->node,   out->ok,           (int)out->duration_ms,
		out->collected,    out->new_reports, out->acks,         out->ok ? NULL : out->error,
		s->o.retry_base_s, s->o.retry_max_s, s->o.alert_after_s};
	bool applied = false;
	char tenant[2 * 512 + 8]; /* a name of 128 characters, quoted */
	int rc = 0;

	if (rum_scheduler_released(s, it, out))
		return;
	/* A short database hiccup must not lose the record: a few tries, then
	 * the lease expires and a later run collects again. */
	for (int attempt = 0; attempt < 5; attempt++) {
		struct timespec pause = {0, 200000000L << (attempt < 2 ? attempt : 2)};

		rc = rum_collections_finish(s->o.env->dom, &r, &applied);
		if (rc != RUM_EUNAVAIL)
			break;
		nanosleep(&pause, NULL);
	}
	if (rc != 0)
		rum_log_warn("collector: job=%" PRId64 " target=%" PRId64
			     ": outcome not recorded: %s",
			     it->job_id, it->target.row.id, rum_err_msg());
	else if (!applied)
		rum_log_warn("collector: job=%" PRId64 " target=%" PRId64
			     ": lease passed before the "
			     "collection ended; its outcome was not recorded",
			     it->job_id, it->target.row.id);
	if (out->ok)
		rum_log_info("collector: job=%" PRId64 " target=%" PRId64 " tenant=%s host=%s: "
			     "%d reports (%d new), %d ACK delivered, %" PRId64 " ms",
			     it->job_id, it->target.row.id,
			     rum_log_quote(tenant, sizeof(tenant), it->target.row.tenant),
			     it->target.row.host, out->collected, out->new_reports, out->acks,
			     out->duration_ms);
	else
		rum_log_warn("collector: job=%" PRId64 " target=%" PRId64 " tenant=%s host=%s "
			     "failed after %" PRId64 " ms: %s",
			     it->job_id, it->target.row.id,
			     rum_log_quote(tenant, sizeof(tenant), it->target.row.tenant),
			     it->target.row.host, out->duration_ms, out->error);
}

static void *rum_scheduler_work(void *arg)
{
	struct rum_scheduler *s = arg;

	pthread_mutex_lock(&s->lock);
	for (;;) {
		struct rum_scheduler_item *it;
		struct rum_collect_outcome out;

		while (!s->head && !s->stopping)
			pthread_cond_wait(&s->work, &s->lock);
		if (!s->head)
			break;
		it = s->head;
		s->head = it->next;
		if (!s->head)
			s->tail = &s->head;
		pthread_mutex_unlock(&s->lock);
		rum_collect_run(s->o.env, it->job_id, &it->target, &out);
		rum_scheduler_finish(s, it, &out);
		if (s->o.finished)
			s->o.finished(s->o.finished_arg, it->job_id, &it->target, &out);
		rum_collect_target_dispose(&it->target);
		free(it);
		pthread_mutex_lock(&s->lock);
		s->busy--;
		s->done++;
		pthread_cond_signal(&s->wake);
	}
	pthread_mutex_unlock(&s->lock);
	return NULL;
}

int rum_scheduler_start(struct rum_scheduler **out, const struct rum_scheduler_options *o)
{
	struct rum_scheduler *s;
	pthread_attr_t attr;

	if (!o->env || o->sessions < 1 || o->poll_ms < 1)
		return rum_err_set(RUM_EINVAL,
				   "collector: sessions and poll interval must be positive");
	s = calloc(1, sizeof(*s));
	if (!s)
		abort();
	s->o = *o;
	s->tail = &s->head;
	/* The lease outlives the collection's own deadline, so a healthy run
	 * never loses its job to another node. */
	s->lease_s = o->env->timeout_ms / 1000 + 60;
	pthread_mutex_init(&s->lock, NULL);
	pthread_cond_init(&s->work, NULL);
	pthread_cond_init(&s->wake, NULL);
	s->workers = calloc((size_t)o->sessions, sizeof(*s->workers));
	if (!s->workers)
		abort();
	pthread_attr_init(&attr);
	pthread_attr_setstacksize(&attr, 1u << 20);
	for (s->nworkers = 0; s->nworkers < o->sessions; s->nworkers++)
		if (pthread_create(&s->workers[s->nworkers], &attr, rum_scheduler_work, s) != 0)
			abort();
	if (pthread_create(&s->dispatcher, &attr, rum_scheduler_dispatch, s) != 0)
		abort();
	pthread_attr_destroy(&attr);
	*out = s;
	return 0;
}

void rum_scheduler_stop(struct rum_scheduler *s)
{
	if (!s)
		return;
	pthread_mutex_lock(&s->lock);
	s->stopping = true;
	if (s->o.env->cancel) /* collections in flight end within a fraction of a second */
		__atomic_store_n(s->o.env->cancel, 1, __ATOMIC_SEQ_CST);
	pthread_cond_broadcast(&s->wake);
	pthread_cond_broadcast(&s->work);
	pthread_mutex_unlock(&s->lock);
	pthread_join(s->dispatcher, NULL);
	for (int i = 0; i < s->nworkers; i++)
		pthread_join(s->workers[i], NULL);
	/* Claimed but never started: back to the queue (or, failing that, their
	 * lease lets another node take them). */
	while (s->head) {
		struct rum_scheduler_item *it = s->head;
		s->head = it->next;
		(void)rum_collections_release(s->o.env->dom, it->job_id, s->o.env->node);
		rum_collect_target_dispose(&it->target);
		free(it);
	}
	pthread_cond_destroy(&s->work);
	pthread_cond_destroy(&s->wake);
	pthread_mutex_destroy(&s->lock);
	free(s->workers);
	free(s);
}

void rum_scheduler_counts(struct rum_scheduler *s, uint64_t *done, int *running)
{
	pthread_mutex_lock(&s->lock);
	*done = s->done;
	*running = s->busy;
	pthread_mutex_unlock(&s->lock);
}
