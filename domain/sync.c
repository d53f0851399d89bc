/* Connected mode's syncs, the domain side; see sync.h. */
#include "domain/sync.h"

#include "db/db.h"
#include "db/store_sync.h"
#include "db/store_tenants.h"
#include "db/store_upstreams.h"
#include "domain/audit.h"
#include "domain/export.h"
#include "domain/internal.h"
#include "domain/targets.h"
#include "domain/upstreams.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/mem.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

static char *rum_sync_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

/* ---- the upstream ---- */

struct rum_sync_ups_q {
	struct rum_sync_upstream *out;
	const uint8_t *key;
	bool found;
	int rc;
};

static void rum_sync_ups_cb(void *arg, const struct rum_upstream *u)
{
	struct rum_sync_ups_q *q = arg;
	struct rum_sync_upstream *o = q->out;
	size_t len;
	int rc;

	q->found = true;
	o->tenant_id = u->tenant_id;
	snprintf(o->tenant, sizeof(o->tenant), "%s", u->tenant);
	snprintf(o->kind, sizeof(o->kind), "%s", u->kind);
	o->url = rum_sync_dup(u->url);
	o->token_url = rum_sync_dup(u->token_url);
	o->api_url = rum_sync_dup(u->api_url);
	o->client_id = rum_sync_dup(u->client_id);
	o->smart_account_id = rum_sync_dup(u->smart_account_id);
	o->virtual_account_id = rum_sync_dup(u->virtual_account_id);
	o->smart_account = rum_sync_dup(u->smart_account);
	o->virtual_account = rum_sync_dup(u->virtual_account);
	o->proxy = rum_sync_dup(u->proxy);
	o->ca_file = rum_sync_dup(u->ca_file);
	o->connect_timeout_s = u->connect_timeout_s;
	o->timeout_s = u->timeout_s;
	o->interval_s = u->interval_s;
	o->sync_soon_s = u->sync_soon_s;
	if (u->has_client_secret) {
		rc = rum_upstreams_secret(&o->client_secret, &len, q->key, u, "client_secret");
		if (rc < 0 && q->rc == 0)
			q->rc = rc;
	}
	if (u->has_proxy_password) {
		rc = rum_upstreams_secret(&o->proxy_password, &len, q->key, u, "proxy_password");
		if (rc < 0 && q->rc == 0)
			q->rc = rc;
	}
}

int rum_sync_upstream_get(struct rum_domain *dom, const char *tenant, struct rum_sync_upstream *out)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	struct rum_sync_ups_q q = {.out = out, .key = key};
	int rc;

	memset(out, 0, sizeof(*out));
	rc = rum_targets_key_load(key, dom->key_file, false);
	if (rc < 0)
		return rc;
	rc = rum_upstreams_list(dom, tenant, 0, rum_sync_ups_cb, &q);
	rum_crypto_wipe(key, sizeof(key));
	if (rc == 0 && !q.found)
		rc = rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no upstream", tenant);
	if (rc == 0)
		rc = q.rc;
	if (rc < 0)
		rum_sync_upstream_dispose(out);
	return rc;
}

static void rum_sync_wipe_free(char *s)
{
	if (s) {
		rum_crypto_wipe(s, strlen(s));
		free(s);
	}
}

void rum_sync_upstream_dispose(struct rum_sync_upstream *u)
{
	free(u->url);
	free(u->token_url);
	free(u->api_url);
	free(u->client_id);
	free(u->smart_account_id);
	free(u->virtual_account_id);
	free(u->smart_account);
	free(u->virtual_account);
	free(u->proxy);
	free(u->ca_file);
	rum_sync_wipe_free(u->client_secret);
	rum_sync_wipe_free(u->proxy_password);
	memset(u, 0, sizeof(*u));
}

/* ---- the lease ---- */

struct rum_sync_lease_q {
	int64_t tenant_id;
	const char *owner;
	int lease_s;
	bool release;
};

static int rum_sync_lease_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_lease_q *q = arg;
	char holder[200];
	bool got;
	int rc;

	if (q->release)
		return rum_store_sync_release(txn, q->tenant_id, q->owner);
	rc = rum_store_sync_lease(txn, q->tenant_id, q->owner, q->lease_s, &got, holder,
				  sizeof(holder));
	if (rc == 0 && !got)
		rc = rum_err_set(RUM_ECONFLICT, "the tenant's sync is running on %s",
				 holder[0] ? holder : "another node");
	return rc;
}

int rum_sync_lease(struct rum_domain *dom, int64_t tenant_id, const char *owner, int lease_s)
{
	struct rum_sync_lease_q q = {tenant_id, owner, lease_s, false};

	return rum_db_transact(dom->db, rum_sync_lease_run, &q);
}

void rum_sync_release(struct rum_domain *dom, int64_t tenant_id, const char *owner)
{
	struct rum_sync_lease_q q = {tenant_id, owner, 0, true};

	(void)rum_db_transact(dom->db, rum_sync_lease_run, &q);
}

/* ---- a run ---- */

struct rum_sync_begin_q {
	const struct rum_sync_upstream *u;
	const char *trigger, *node;
	char ts[40];
	struct rum_sync_begun *out;
};

static int rum_sync_begin_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_begin_q *q = arg;
	struct rum_store_sync_plan p = {q->u->tenant_id, q->u->kind, q->trigger,
					q->node,         q->ts,      RUM_SYNC_MAX_REPORTS_PER_CALL};
	char state[16];
	int64_t batch;
	int rc;

	memset(q->out, 0, sizeof(*q->out));
	/* Any pass but a poll takes the request, even one that only resumes:
	 * a failing upstream is then tried again on its back-off, not at
	 * every look of the scheduler. */
	if (strcmp(q->trigger, "poll") != 0)
		rc = rum_store_sync_request(txn, q->u->tenant_id, true);
	else
		rc = 0;
	if (rc == 0)
		rc = rum_store_sync_open_run(txn, q->u->tenant_id, &q->out->run_id);
	if (rc == 0 && (q->out->run_id || strcmp(q->trigger, "poll") == 0)) {
		q->out->resumed = true;
		return 0;
	}
	if (rc == 0)
		rc = rum_store_sync_plan(txn, &p, &q->out->run_id, &batch, &q->out->devices,
					 &q->out->reports, &q->out->requests);
	if (rc == 0)
		rc = rum_store_sync_run_update(txn, q->out->run_id, "", state);
	return rc;
}

int rum_sync_begin(struct rum_domain *dom, const struct rum_sync_upstream *u, const char *trigger,
		   const char *node, struct rum_sync_begun *out)
{
	struct rum_sync_begin_q q = {u, trigger, node, "", out};
	struct timespec now;

	clock_gettime(CLOCK_REALTIME, &now);
	rum_export_format_ts(q.ts, sizeof(q.ts), &now);
	return rum_db_transact(dom->db, rum_sync_begin_run, &q);
}

struct rum_sync_due_q {
	int64_t tenant_id;
	int max;
	struct rum_sync_call *calls;
	size_t n;
	struct rum_sync_open open;
};

static void rum_sync_due_cb(void *arg, const struct rum_store_sync_call *c)
{
	struct rum_sync_due_q *q = arg;
	struct rum_sync_call *o;

	q->calls = rum_grow_one(q->calls, q->n, sizeof(*q->calls));
	o = &q->calls[q->n++];
	memset(o, 0, sizeof(*o));
	o->id = c->id;
	o->tenant_id = q->tenant_id;
	o->run_id = c->run_id;
	o->batch_id = c->batch_id;
	o->device_id = c->device_id;
	o->upload_id = c->upload_id;
	snprintf(o->kind, sizeof(o->kind), "%s", c->kind);
	snprintf(o->state, sizeof(o->state), "%s", c->state);
	snprintf(o->poll_id, sizeof(o->poll_id), "%s", c->poll_id);
	o->attempts = c->attempts;
	o->polls = c->polls;
	o->reports = c->reports;
	snprintf(o->pid, sizeof(o->pid), "%s", c->pid);
	snprintf(o->sn, sizeof(o->sn), "%s", c->sn);
	snprintf(o->hostname, sizeof(o->hostname), "%s", c->hostname);
	snprintf(o->software_tag, sizeof(o->software_tag), "%s", c->software_tag);
}

static int rum_sync_due_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_due_q *q = arg;

	free(q->calls);
	q->calls = NULL;
	q->n = 0;
	return rum_store_sync_due(txn, q->tenant_id, q->max, rum_sync_due_cb, q, &q->open.next_ms,
				  &q->open.calls, &q->open.sends);
}

int rum_sync_due(struct rum_domain *dom, int64_t tenant_id, int max, struct rum_sync_call **calls,
		 size_t *n, struct rum_sync_open *open)
{
	struct rum_sync_due_q q = {tenant_id, max, NULL, 0, {-1, 0, 0}};
	int rc = rum_db_call(dom->db, rum_sync_due_run, &q);

	if (rc < 0) {
		free(q.calls);
		q.calls = NULL;
		q.n = 0;
	}
	*calls = q.calls;
	*n = q.n;
	*open = q.open;
	return rc;
}

struct rum_sync_take_q {
	const struct rum_sync_call *c;
	char *body;
	size_t len;
	int64_t count;
};

static int rum_sync_take_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_take_q *q = arg;

	free(q->body);
	q->body = NULL;
	if (strcmp(q->c->kind, "auth") == 0)
		return rum_store_sync_request_body(txn, q->c->id, &q->body, &q->len);
	return rum_store_sync_reports(txn, q->c->id, q->c->batch_id, &q->body, &q->len, &q->count);
}

/* Nothing is written before a call goes out: a call found queued (or
 * sending, after a failed attempt) after a crash is sent again either way,
 * and the upstream says whether it had it. The read checks that the call
 * is still to be sent; its answer, committed, counts the attempt. */
int rum_sync_take(struct rum_domain *dom, const struct rum_sync_call *c, char **body, size_t *len)
{
	struct rum_sync_take_q q = {.c = c};
	int rc = rum_db_call(dom->db, rum_sync_take_run, &q);

	if (rc < 0) {
		free(q.body);
		q.body = NULL;
	}
	*body = q.body;
	*len = q.len;
	return rc;
}

struct rum_sync_step_q {
	int64_t call_id;
	struct rum_store_sync_step s;
};

static int rum_sync_step_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_step_q *q = arg;

	return rum_store_sync_step(txn, q->call_id, &q->s);
}

/* Messages kept with a call are bounded like the column. */
static void rum_sync_message(char *out, size_t size, const char *m)
{
	snprintf(out, size, "%s", m ? m : "");
}

int rum_sync_step(struct rum_domain *dom, const struct rum_sync_call *c,
		  enum rum_sync_outcome_kind what, const char *poll_id, const char *message,
		  int64_t delay_ms)
{
	struct rum_sync_step_q q = {.call_id = c->id};
	char msg[1024];

	rum_sync_message(msg, sizeof(msg), message);
	q.s.message = msg;
	q.s.poll_id = poll_id;
	q.s.delay_ms = delay_ms;
	/* The answer to a send (not to a poll) counts the attempt. */
	q.s.attempt = strcmp(c->state, "polling") != 0;
	switch (what) {
	case RUM_SYNC_RETRY:
		/* A call that never got an answer goes back to sending (it may
		 * have arrived); one that was polling keeps its poll id. */
		q.s.state = strcmp(c->state, "polling") == 0 ? "polling" : "sending";
		break;
	case RUM_SYNC_POLLING:
		q.s.state = "polling";
		q.s.poll = strcmp(c->state, "polling") == 0;
		break;
	case RUM_SYNC_DUPLICATE: q.s.state = "duplicate"; break;
	case RUM_SYNC_REFUSED: q.s.state = "failed"; break;
	}
	/* One statement, committed (durably) by itself: no BEGIN and COMMIT
	 * round trips around it, twice for every device of a sync. */
	return rum_db_call(dom->db, rum_sync_step_run, &q);
}

struct rum_sync_complete_q {
	const struct rum_domain *dom;
	const struct rum_sync_call *c;
	int64_t tenant_id;
	const char *const *docs;
	const size_t *lens;
	size_t n;
	int64_t reports_acked;
};

static int rum_sync_complete_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_complete_q *q = arg;
	struct rum_store_sync_step s = {.state = "complete", .poll = true};
	int64_t ack_id = 0, acked;
	char name[160];
	int rc = 0;

	q->reports_acked = 0;
	for (size_t i = 0; rc == 0 && i < q->n; i++) {
		struct rum_import_received r = {q->tenant_id, q->c->device_id, q->c->batch_id,
						q->docs[i],   q->lens[i],      name};
		int64_t id;

		snprintf(name, sizeof(name), "upstream poll %s (%zu)", q->c->poll_id, i + 1);
		rc = rum_import_ack_received(txn, q->dom, &r, &id, &acked);
		if (rc == 0 && id)
			ack_id = id;
		q->reports_acked += acked;
	}
	s.ack_id = ack_id;
	if (rc == 0)
		rc = rum_store_sync_step(txn, q->c->id, &s);
	if (rc == 0 && q->c->upload_id)
		rc = rum_store_sync_request_answered(txn, q->c->upload_id);
	return rc;
}

int rum_sync_complete(struct rum_domain *dom, const struct rum_sync_call *c,
		      const char *const *docs, const size_t *lens, size_t n, int64_t *reports_acked)
{
	struct rum_sync_complete_q q = {dom, c, c->tenant_id, docs, lens, n, 0};
	int rc = rum_db_transact(dom->db, rum_sync_complete_run, &q);

	*reports_acked = rc == 0 ? q.reports_acked : 0;
	return rc;
}

struct rum_sync_run_q {
	int64_t id;
	const char *error;
	char state[16];
	bool ok;
	int alert_after_s;
	int64_t next_s;
};

static int rum_sync_run_update_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_run_q *q = arg;

	return rum_store_sync_run_update(txn, q->id, q->error, q->state);
}

int rum_sync_run_update(struct rum_domain *dom, int64_t run_id, const char *error, char *state)
{
	struct rum_sync_run_q q = {.id = run_id, .error = error};
	int rc = rum_db_transact(dom->db, rum_sync_run_update_run, &q);

	snprintf(state, 16, "%s", rc == 0 ? q.state : "");
	return rc;
}

static int rum_sync_outcome_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_run_q *q = arg;

	return rum_store_sync_outcome(txn, q->id, q->ok, q->alert_after_s, q->error, q->next_s);
}

int rum_sync_outcome(struct rum_domain *dom, int64_t tenant_id, bool ok, const char *error,
		     int alert_after_s, int64_t next_s)
{
	struct rum_sync_run_q q = {.id = tenant_id,
				   .ok = ok,
				   .error = error,
				   .alert_after_s = alert_after_s,
				   .next_s = next_s};

	return rum_db_transact(dom->db, rum_sync_outcome_run, &q);
}

/* ---- status ---- */

struct rum_sync_status_q {
	const char *tenant;
	int limit;
	const struct rum_sync_status_cb *cb;
	int64_t newest_run;
};

static void rum_sync_state_cb(void *arg, const struct rum_store_sync_state *s)
{
	struct rum_sync_status_q *q = arg;
	struct rum_sync_state_info i = {s->owner, s->lease_until, s->failing_since, s->last_ok_at,
					s->failing_s};

	if (q->cb->state)
		q->cb->state(q->cb->arg, &i);
}

static void rum_sync_run_cb(void *arg, const struct rum_store_sync_run *r)
{
	struct rum_sync_status_q *q = arg;
	struct rum_sync_run_info i = {r->id,    r->batch_id, r->kind,       r->trigger,
				      r->state, r->node,     r->started_at, r->finished_at,
				      r->error, r->calls,    r->reports,    r->sent,
				      r->acks,  r->polling,  r->queued,     r->duplicates,
				      r->failed};

	if (!q->newest_run)
		q->newest_run = r->id;
	if (q->cb->run)
		q->cb->run(q->cb->arg, &i);
}

static void rum_sync_refusal_cb(void *arg, const struct rum_store_sync_refusal *r)
{
	struct rum_sync_status_q *q = arg;
	struct rum_sync_refusal_info i = {r->run_id,  r->device_id, r->pid,    r->sn,
					  r->message, r->at,        r->reports};

	if (q->cb->refusal)
		q->cb->refusal(q->cb->arg, &i);
}

static int rum_sync_status_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_status_q *q = arg;
	int64_t tenant_id;
	int rc = rum_store_tenant_find(txn, q->tenant, &tenant_id);

	q->newest_run = 0;
	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "no tenant '%s'", q->tenant);
	if (rc == 0)
		rc = rum_store_sync_state(txn, tenant_id, rum_sync_state_cb, q);
	if (rc == 0)
		rc = rum_store_sync_runs(txn, tenant_id, q->limit, rum_sync_run_cb, q);
	if (rc == 0 && q->newest_run)
		rc = rum_store_sync_refusals(txn, q->newest_run, 20, rum_sync_refusal_cb, q);
	return rc;
}

int rum_sync_status(struct rum_domain *dom, const char *tenant, int limit,
		    const struct rum_sync_status_cb *cb)
{
	struct rum_sync_status_q q = {tenant, limit < 1 ? 10 : limit > 500 ? 500 : limit, cb, 0};

	return rum_db_call(dom->db, rum_sync_status_run, &q);
}

/* ---- asked for, and due ---- */

struct rum_sync_request_q {
	const char *tenant;
	bool has;
};

static void rum_sync_request_has(void *arg, const struct rum_store_upstream *u)
{
	(void)u;
	((struct rum_sync_request_q *)arg)->has = true;
}

static int rum_sync_request_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_request_q *q = arg;
	int64_t id;
	int rc = rum_store_tenant_find(txn, q->tenant, &id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "no tenant '%s'", q->tenant);
	if (rc == 0)
		rc = rum_store_upstream_list(txn, id, false, rum_sync_request_has, q);
	if (rc == 0 && !q->has)
		return rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no upstream", q->tenant);
	if (rc == 0)
		rc = rum_store_sync_request(txn, id, false);
	return rc;
}

int rum_sync_request_by(struct rum_domain *dom, const struct rum_actor *by)
{
	struct rum_sync_request_q q = {by->tenant, false};
	int rc = rum_db_transact(dom->db, rum_sync_request_run, &q);

	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "sync-request", by->tenant, "sync", rc, NULL);
	return rc;
}

struct rum_sync_due_tenants_q {
	int limit;
	void (*cb)(void *arg, const char *tenant, const char *trigger);
	void *arg;
};

static int rum_sync_due_tenants_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sync_due_tenants_q *q = arg;

	return rum_store_sync_due_tenants(txn, q->limit, q->cb, q->arg);
}

int rum_sync_due_tenants(struct rum_domain *dom, int limit,
			 void (*cb)(void *arg, const char *tenant, const char *trigger), void *arg)
{
	struct rum_sync_due_tenants_q q = {limit, cb, arg};

	return rum_db_call(dom->db, rum_sync_due_tenants_run, &q);
}
