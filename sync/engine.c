/* One sync pass, see engine.h. */
#include "sync/engine.h"

#include "domain/sync.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/mem.h"
#include "lib/text.h"
#include "sync/cssm.h"
#include "sync/tier.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define SYNC_MAX_CONCURRENCY 64
#define SYNC_RETRY_AFTER_MAX_S 3600 /* a Retry-After beyond this is read as this */
#define SYNC_FAILED_AGAIN_S 300     /* a failed pass is tried again this soon */
#define SYNC_POLL_SLOW_MS 3600000   /* polls of an ACK long in coming: hourly */

/* Retries of one call in this pass. */
struct sync_tries {
	int64_t call_id;
	int n;
};

struct sync_engine {
	struct rum_domain *dom;
	const struct rum_sync_options *o;
	struct rum_sync_result *res;
	struct rum_sync_upstream u;
	struct rum_cssm_auth auth;
	/* One connection per call in flight: CSSM's API, or a collector's. */
	struct rum_cssm *clients[SYNC_MAX_CONCURRENCY];
	struct rum_tier *tiers[SYNC_MAX_CONCURRENCY];
	bool tier;
	int nclients;
	/* Calls waiting for a worker (a queue the loop refills as workers
	 * take from it), and the ids of those queued or in flight, which
	 * the database still lists as due until they are settled. */
	pthread_mutex_t lock;
	pthread_cond_t work, done;
	struct rum_sync_call *queue;
	size_t nqueue, qhead, qcap;
	int64_t *busy;
	size_t nbusy;
	/* Settled since the due calls now being read were asked for: that
	 * list may show them as they were before. */
	int64_t *finished;
	size_t nfinished;
	bool stopping;
	struct sync_tries *tries;
	size_t ntries;
	int64_t *runs; /* run ids seen, for their state at the end */
	size_t nruns;
	int fatal; /* the first error that stops the pass */
	char fatal_msg[1024];
	char last_retry[512]; /* why the last call had to be tried again */
	bool exhausted;       /* a call was tried max_attempts times */
};

static int64_t sync_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static bool sync_cancelled(const struct sync_engine *e)
{
	return e->o->cancel && *e->o->cancel;
}

/* Records the first error that stops the pass (with its message). */
static void sync_fatal(struct sync_engine *e, int rc)
{
	pthread_mutex_lock(&e->lock);
	if (!e->fatal) {
		e->fatal = rc;
		snprintf(e->fatal_msg, sizeof(e->fatal_msg), "%s", rum_err_msg());
	}
	pthread_mutex_unlock(&e->lock);
}

static void sync_note_run(struct sync_engine *e, int64_t run_id)
{
	for (size_t i = 0; i < e->nruns; i++)
		if (e->runs[i] == run_id)
			return;
	e->runs = rum_grow_one(e->runs, e->nruns, sizeof(*e->runs));
	e->runs[e->nruns++] = run_id;
}

/* How many times the call was retried in this pass, one more counted. */
static int sync_retried(struct sync_engine *e, int64_t call_id)
{
	int n;

	pthread_mutex_lock(&e->lock);
	for (size_t i = 0; i < e->ntries; i++)
		if (e->tries[i].call_id == call_id) {
			n = ++e->tries[i].n;
			pthread_mutex_unlock(&e->lock);
			return n;
		}
	e->tries = rum_grow_one(e->tries, e->ntries, sizeof(*e->tries));
	e->tries[e->ntries].call_id = call_id;
	e->tries[e->ntries++].n = 1;
	pthread_mutex_unlock(&e->lock);
	return 1;
}

/* Back-off before the nth retry: Retry-After when the upstream gave one,
 * else doubling from a second up to retry_max_ms, with jitter. */
static int64_t sync_backoff(const struct sync_engine *e, int n, long retry_after_s)
{
	int64_t max = e->o->retry_max_ms > 0 ? e->o->retry_max_ms : 60000, d;
	uint16_t r;

	if (retry_after_s >= 0)
		return (int64_t)(retry_after_s > SYNC_RETRY_AFTER_MAX_S ? SYNC_RETRY_AFTER_MAX_S
									: retry_after_s) *
		       1000;
	d = n >= 16 ? max : 1000LL << (n - 1);
	if (d > max)
		d = max;
	rum_crypto_random(&r, sizeof(r));
	return d + (int64_t)(r % 250);
}

static int sync_step(struct sync_engine *e, const struct rum_sync_call *c,
		     enum rum_sync_outcome_kind what, const char *poll_id, const char *msg,
		     int64_t delay_ms)
{
	int rc = rum_sync_step(e->dom, c, what, poll_id, msg, delay_ms);

	/* Settled meanwhile by another node (its lease ran out under us):
	 * that node's word stands. */
	if (rc == RUM_ECONFLICT)
		return 0;
	return rc;
}

static void sync_count(struct sync_engine *e, int64_t *field, int64_t by)
{
	pthread_mutex_lock(&e->lock);
	*field += by;
	pthread_mutex_unlock(&e->lock);
}

/* What the upstream said, recorded. */
static int sync_answer(struct sync_engine *e, const struct rum_sync_call *c,
		       struct rum_cssm_answer *a)
{
	int64_t poll_first = e->o->poll_first_ms > 0 ? e->o->poll_first_ms : 30000;
	int64_t poll_every = e->o->poll_every_ms > 0 ? e->o->poll_every_ms : 3000;
	int64_t acked = 0;
	char q[300];
	int rc = 0, n;

	switch (a->said) {
	case RUM_CSSM_POLL_ID:
		rc = sync_step(e, c, RUM_SYNC_POLLING, a->poll_id, "", poll_first);
		sync_count(e, &e->res->sent, 1);
		break;
	case RUM_CSSM_OK_POLL:
		/* Polled often at first (CSSM answers within a minute), then
		 * less and less: an upstream collector has the ACK only after
		 * its own sync, maybe a day later. */
		if (c->polls >= 10)
			poll_every = c->polls >= 26 ? SYNC_POLL_SLOW_MS
				     : (poll_every << (c->polls - 9)) > SYNC_POLL_SLOW_MS
					     ? SYNC_POLL_SLOW_MS
					     : poll_every << (c->polls - 9);
		rc = sync_step(e, c, RUM_SYNC_POLLING, "", "", poll_every);
		break;
	case RUM_CSSM_COMPLETE:
		rc = rum_sync_complete(e->dom, c, (const char *const *)a->docs, a->lens, a->ndocs,
				       &acked);
		if (rc == RUM_EINVAL || rc == RUM_ETOOBIG) {
			/* Not an ACK for this device: kept out, and said. */
			char msg[1024];

			snprintf(msg, sizeof(msg), "the ACK returned cannot be used: %s",
				 rum_err_msg());
			rum_log_warn("sync: tenant=%s device=%" PRId64 " poll_id=%s: %s",
				     rum_log_quote(q, sizeof(q), e->u.tenant), c->device_id,
				     c->poll_id, msg);
			rc = sync_step(e, c, RUM_SYNC_REFUSED, "", msg, 0);
			sync_count(e, &e->res->refused, 1);
		} else if (rc == 0) {
			sync_count(e, &e->res->acks, 1);
			sync_count(e, &e->res->reports_acked, acked);
		}
		break;
	case RUM_CSSM_DUPLICATE:
		rc = sync_step(e, c, RUM_SYNC_DUPLICATE, "", a->message, 0);
		sync_count(e, &e->res->duplicates, 1);
		break;
	case RUM_CSSM_REFUSED:
		rum_log_warn("sync: tenant=%s device=%" PRId64 " refused: %s",
			     rum_log_quote(q, sizeof(q), e->u.tenant), c->device_id, a->message);
		rc = sync_step(e, c, RUM_SYNC_REFUSED, "", a->message, 0);
		sync_count(e, &e->res->refused, 1);
		break;
	case RUM_CSSM_RETRY:
		n = sync_retried(e, c->id);
		sync_count(e, &e->res->retries, 1);
		pthread_mutex_lock(&e->lock);
		snprintf(e->last_retry, sizeof(e->last_retry), "%s", a->message);
		if (n >= (e->o->max_attempts > 0 ? e->o->max_attempts : 6))
			e->exhausted = true;
		pthread_mutex_unlock(&e->lock);
		rc = sync_step(e, c, RUM_SYNC_RETRY, "", a->message,
			       sync_backoff(e, n, a->retry_after_s));
		break;
	}
	return rc;
}

static int sync_one(struct sync_engine *e, int slot, const struct rum_sync_call *c)
{
	struct rum_cssm_answer a;
	char *reports = NULL;
	size_t len;
	int rc;

	if (strcmp(c->state, "polling") == 0) {
		rc = e->tier ? rum_tier_poll(e->tiers[slot], c, &a)
			     : rum_cssm_poll(e->clients[slot], c, &a);
	} else {
		/* Still to be sent, or skipped (answered meanwhile). A crash
		 * before its answer is recorded leaves it to be sent again:
		 * the upstream then says whether it had it. */
		bool request = strcmp(c->kind, "auth") == 0;

		rc = rum_sync_take(e->dom, c, &reports, &len);
		if (rc == RUM_ECONFLICT)
			return 0; /* answered meanwhile (another node): not sent again */
		if (rc == 0 && request)
			rc = e->tier ? rum_tier_forward(e->tiers[slot], c, reports, len, &a)
				     : rum_cssm_auth_request(e->clients[slot], c, reports, len, &a);
		else if (rc == 0)
			rc = e->tier ? rum_tier_report_usage(e->tiers[slot], c, reports, len, &a)
				     : rum_cssm_report_usage(e->clients[slot], c, reports, len, &a);
		free(reports);
	}
	if (rc < 0)
		return rc;
	rc = sync_answer(e, c, &a);
	rum_cssm_answer_dispose(&a);
	return rc;
}

struct sync_worker {
	struct sync_engine *e;
	int slot; /* its connection */
};

static void sync_unbusy(struct sync_engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nbusy; i++)
		if (e->busy[i] == id) {
			e->busy[i] = e->busy[--e->nbusy];
			return;
		}
}

static bool sync_is_busy(const struct sync_engine *e, int64_t id)
{
	for (size_t i = 0; i < e->nbusy; i++)
		if (e->busy[i] == id)
			return true;
	for (size_t i = 0; i < e->nfinished; i++)
		if (e->finished[i] == id)
			return true;
	return false;
}

/* A worker takes queued calls until the loop stops it. */
static void *sync_worker_main(void *arg)
{
	struct sync_worker *w = arg;
	struct sync_engine *e = w->e;

	pthread_mutex_lock(&e->lock);
	for (;;) {
		struct rum_sync_call c;
		int rc;

		while (!e->stopping && e->qhead == e->nqueue)
			pthread_cond_wait(&e->work, &e->lock);
		if (e->stopping)
			break;
		c = e->queue[e->qhead++];
		pthread_mutex_unlock(&e->lock);
		rc = sync_cancelled(e) ? 0 : sync_one(e, w->slot, &c);
		if (rc < 0)
			sync_fatal(e, rc);
		pthread_mutex_lock(&e->lock);
		sync_unbusy(e, c.id);
		e->finished = rum_grow_one(e->finished, e->nfinished, sizeof(*e->finished));
		e->finished[e->nfinished++] = c.id;
		pthread_cond_signal(&e->done);
	}
	pthread_mutex_unlock(&e->lock);
	return NULL;
}

/* Queues the due calls not already queued or in flight; how many. */
static size_t sync_enqueue(struct sync_engine *e, const struct rum_sync_call *calls, size_t n)
{
	size_t added = 0;

	pthread_mutex_lock(&e->lock);
	if (e->qhead == e->nqueue)
		e->qhead = e->nqueue = 0;
	for (size_t i = 0; i < n; i++) {
		if (sync_is_busy(e, calls[i].id))
			continue;
		if (e->nqueue == e->qcap) {
			if (e->qhead > 0) {
				memmove(e->queue, e->queue + e->qhead,
					(e->nqueue - e->qhead) * sizeof(*e->queue));
				e->nqueue -= e->qhead;
				e->qhead = 0;
			} else {
				e->qcap = e->qcap ? 2 * e->qcap : 64;
				e->queue = realloc(e->queue, e->qcap * sizeof(*e->queue));
				if (!e->queue)
					abort();
			}
		}
		e->queue[e->nqueue++] = calls[i];
		e->busy = rum_grow_one(e->busy, e->nbusy, sizeof(*e->busy));
		e->busy[e->nbusy++] = calls[i].id;
		sync_note_run(e, calls[i].run_id);
		added++;
	}
	if (added)
		pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	return added;
}

/* The proxy in effect: the upstream's, else the node's; its user apart. */
static int sync_net(struct sync_engine *e, struct rum_cssm_net *net, char *proxy, size_t psize,
		    char *user, size_t usize)
{
	const char *p = e->u.proxy[0] ? e->u.proxy : e->o->proxy ? e->o->proxy : "";
	const char *pw = e->u.proxy[0] ? e->u.proxy_password : e->o->proxy_password;
	struct rum_text_url url;
	const char *why;

	memset(net, 0, sizeof(*net));
	proxy[0] = user[0] = '\0';
	if (p[0] && strcmp(p, "direct") != 0) {
		if (rum_text_url_split(&url, p, &why) < 0 || url.has_password)
			return rum_err_set(RUM_EINVAL, "upstream proxy: %s",
					   url.has_password ? "a password in the URL" : why);
		if (url.has_user) {
			const char *at = strchr(p, '@'), *start = strstr(p, "://") + 3;

			snprintf(user, usize, "%.*s", (int)(at - start), start);
			snprintf(proxy, psize, "%s://%s", url.https ? "https" : "http", at + 1);
		} else {
			snprintf(proxy, psize, "%s", p);
		}
		/* no path after host:port */
		{
			char *slash = strchr(strstr(proxy, "://") + 3, '/');

			if (slash)
				*slash = '\0';
		}
		net->proxy = proxy;
		net->proxy_user = user[0] ? user : NULL;
		net->proxy_password = user[0] ? pw : NULL;
	}
	net->ca_file = e->u.ca_file[0] ? e->u.ca_file : e->o->ca_file;
	net->connect_timeout_ms = e->u.connect_timeout_s * 1000;
	net->timeout_ms = e->u.timeout_s * 1000;
	net->allow_http = e->o->allow_http;
	net->cancel = e->o->cancel;
	return 0;
}

/* Feeds the workers until nothing is due (or, waiting, nothing is open):
 * the queue is refilled whenever it runs low, so that a slow call holds
 * only its own worker. */
static int sync_feed(struct sync_engine *e, int64_t tenant_id)
{
	int lease_s = e->o->lease_s > 0 ? e->o->lease_s : 60;
	int64_t deadline = sync_now_ms() + (int64_t)(e->o->wait_s > 0 ? e->o->wait_s : 3600) * 1000;
	int64_t leased = sync_now_ms();
	size_t low = (size_t)e->nclients, chunk = 8 * (size_t)e->nclients;
	int rc = 0;

	for (;;) {
		struct rum_sync_call *calls = NULL;
		struct rum_sync_open open;
		size_t n = 0, queued, busy, added;
		bool fatal;

		if (sync_cancelled(e))
			return rum_err_set(RUM_EUNAVAIL, "rumd is stopping");
		pthread_mutex_lock(&e->lock);
		fatal = e->fatal || e->exhausted;
		queued = e->nqueue - e->qhead;
		busy = e->nbusy;
		pthread_mutex_unlock(&e->lock);
		if (fatal)
			return 0;
		if (sync_now_ms() - leased > (int64_t)lease_s * 1000 / 3) {
			if ((rc = rum_sync_lease(e->dom, tenant_id, e->o->owner, lease_s)) < 0)
				return rum_err_set(rc, "the sync lease was lost: %s",
						   rum_err_msg());
			leased = sync_now_ms();
		}
		if (queued > low) { /* enough to do: wait for a worker to finish one */
			pthread_mutex_lock(&e->lock);
			if (e->nbusy == busy && !e->fatal)
				pthread_cond_wait(&e->done, &e->lock);
			pthread_mutex_unlock(&e->lock);
			continue;
		}
		pthread_mutex_lock(&e->lock);
		e->nfinished = 0; /* what settled before now, the list shows settled */
		pthread_mutex_unlock(&e->lock);
		rc = rum_sync_due(e->dom, tenant_id, (int)(chunk + busy), &calls, &n, &open);
		if (rc < 0)
			return rc;
		added = sync_enqueue(e, calls, n);
		free(calls);
		if (open.calls >= 0)
			e->res->pending = open.calls;
		if (added)
			continue;
		if (open.calls >= 0 && busy == 0 &&
		    (open.calls == 0 || (!e->o->wait && open.sends == 0)))
			return 0;
		if (open.calls >= 0 && busy == 0 && e->o->wait && sync_now_ms() >= deadline)
			return 0;
		/* Nothing new is due: wait for a call to settle, or until the
		 * next one is due. */
		{
			int64_t ms = open.next_ms > 1000 ? 1000
				     : open.next_ms > 0  ? open.next_ms
							 : 20;
			struct timespec until;

			clock_gettime(CLOCK_REALTIME, &until);
			until.tv_nsec += (long)(ms % 1000) * 1000000L;
			until.tv_sec += ms / 1000 + until.tv_nsec / 1000000000L;
			until.tv_nsec %= 1000000000L;
			pthread_mutex_lock(&e->lock);
			if (e->nbusy == busy && !e->fatal)
				pthread_cond_timedwait(&e->done, &e->lock, &until);
			pthread_mutex_unlock(&e->lock);
		}
	}
}

/* Starts the workers, feeds them, stops them: 0, or the error that
 * stopped the pass. */
static int sync_loop(struct sync_engine *e, int64_t tenant_id)
{
	struct sync_worker w[SYNC_MAX_CONCURRENCY];
	pthread_t t[SYNC_MAX_CONCURRENCY];
	int rc;

	for (int i = 0; i < e->nclients; i++) {
		w[i] = (struct sync_worker){e, i};
		if (pthread_create(&t[i], NULL, sync_worker_main, &w[i]) != 0)
			abort();
	}
	rc = sync_feed(e, tenant_id);
	/* Calls queued but not taken stay open in the database: the next
	 * pass takes them. Those in flight finish their step. */
	pthread_mutex_lock(&e->lock);
	e->stopping = true;
	pthread_cond_broadcast(&e->work);
	pthread_mutex_unlock(&e->lock);
	for (int i = 0; i < e->nclients; i++)
		pthread_join(t[i], NULL);
	if (rc == 0 && e->fatal)
		rc = rum_err_set(e->fatal, "%s", e->fatal_msg);
	else if (rc == 0 && e->exhausted)
		rc = rum_err_set(RUM_EUNAVAIL, "upstream unavailable: %s", e->last_retry);
	return rc;
}

int rum_sync_run(struct rum_domain *dom, const struct rum_sync_options *o,
		 struct rum_sync_result *res)
{
	struct sync_engine e = {.dom = dom, .o = o, .res = res};
	struct rum_sync_begun begun;
	struct rum_cssm_net net;
	char proxy[2100], user[300], err[1024] = "", state[16];
	bool leased = false, begun_ok = false;
	bool poll_only = o->trigger && strcmp(o->trigger, "poll") == 0;
	int64_t next_s;
	int rc, lease_s = o->lease_s > 0 ? o->lease_s : 60;

	memset(res, 0, sizeof(*res));
	pthread_mutex_init(&e.lock, NULL);
	pthread_cond_init(&e.work, NULL);
	pthread_cond_init(&e.done, NULL);
	rc = rum_sync_upstream_get(dom, o->tenant, &e.u);
	e.tier = rc == 0 && strcmp(e.u.kind, "collector") == 0;
	if (rc == 0)
		rc = sync_net(&e, &net, proxy, sizeof(proxy), user, sizeof(user));
	if (rc == 0 && (rc = rum_sync_lease(dom, e.u.tenant_id, o->owner, lease_s)) == 0)
		leased = true;
	if (rc == 0)
		rc = rum_sync_begin(dom, &e.u, o->trigger, o->node ? o->node : "", &begun);
	if (rc == 0) {
		begun_ok = true;
		res->run_id = begun.run_id;
		res->resumed = begun.resumed;
		res->devices = begun.devices;
		res->reports = begun.reports;
		res->requests = begun.requests;
		if (begun.run_id)
			sync_note_run(&e, begun.run_id);
		rum_cssm_auth_init(&e.auth, &e.u);
		e.nclients = o->concurrency > 0 ? o->concurrency : 4;
		if (e.nclients > SYNC_MAX_CONCURRENCY)
			e.nclients = SYNC_MAX_CONCURRENCY;
		for (int i = 0; rc == 0 && i < e.nclients; i++)
			rc = e.tier ? rum_tier_new(&e.tiers[i], e.u.url, &net)
				    : rum_cssm_new(&e.clients[i], &e.auth, &net);
		if (rc == 0 && !e.tier)
			rc = rum_cssm_prepare(e.clients[0]);
		if (rc == 0)
			rc = sync_loop(&e, e.u.tenant_id);
		if (rc < 0)
			snprintf(err, sizeof(err), "%s", rum_err_msg());
		for (size_t i = 0; i < e.nruns; i++)
			(void)rum_sync_run_update(dom, e.runs[i], err, state);
		/* A pass that only fetched answers leaves the schedule alone: an
		 * upstream collector answering hourly for a day would otherwise
		 * put the daily sync off for ever. */
		next_s = poll_only                                         ? -1
			 : rc == 0 || e.u.interval_s < SYNC_FAILED_AGAIN_S ? e.u.interval_s
									   : SYNC_FAILED_AGAIN_S;
		(void)rum_sync_outcome(dom, e.u.tenant_id, rc == 0, err, o->alert_after_s, next_s);
		for (int i = 0; i < e.nclients; i++) {
			rum_cssm_free(e.clients[i]);
			rum_tier_free(e.tiers[i]);
		}
		rum_cssm_auth_dispose(&e.auth);
		if (rc < 0)
			rum_err_set(rc, "%s", err);
	}
	if (rc < 0 && rc != RUM_ECONFLICT && rc != RUM_ENOTFOUND && !begun_ok && e.u.tenant_id) {
		/* Could not even begin (a configuration the engine cannot use):
		 * counted as a failed pass, tried again later, alerted on. */
		snprintf(err, sizeof(err), "%s", rum_err_msg());
		(void)rum_sync_outcome(dom, e.u.tenant_id, false, err, o->alert_after_s,
				       SYNC_FAILED_AGAIN_S);
		rum_err_set(rc, "%s", err);
	}
	if (leased)
		rum_sync_release(dom, e.u.tenant_id, o->owner);
	free(e.queue);
	free(e.busy);
	free(e.finished);
	free(e.tries);
	free(e.runs);
	rum_sync_upstream_dispose(&e.u);
	pthread_cond_destroy(&e.work);
	pthread_cond_destroy(&e.done);
	pthread_mutex_destroy(&e.lock);
	return rc;
}
