#include "domain/alerts.h"

#include "db/db.h"
#include "db/store_alerts.h"
#include "db/store_tenants.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static const char *const rum_alerts_kinds[] = {"deadline_passed",       "deadline_near",
					       "ack_pending",           "device_silent",
					       "unclassified_messages", "report_conflict",
					       "collection_failing",    "sync_failing"};
static const char *const rum_alerts_states[] = {"open", "unacknowledged", "resolved", "all"};

struct rum_alerts_call {
	const struct rum_alert_windows *w;
	int64_t changed;
	const char *tenant, *state, *kind, *by;
	int64_t tenant_id, before, id;
	int limit;
	size_t n;
	int64_t last;
	void (*cb)(void *arg, const struct rum_alert *a);
	void *arg;
};

static int rum_alerts_evaluate_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_alerts_call *c = arg;

	return rum_store_alerts_evaluate(txn, c->w->deadline_warn_days, c->w->ack_pending_days,
					 c->w->silent_days, c->w->capture_days, &c->changed);
}

int rum_alerts_evaluate(struct rum_domain *dom, const struct rum_alert_windows *w, int64_t *changed)
{
	struct rum_alerts_call c = {.w = w};
	int rc = rum_db_transact(dom->db, rum_alerts_evaluate_run, &c);

	if (changed)
		*changed = rc == 0 ? c.changed : 0;
	return rc;
}

static void rum_alerts_row(void *arg, const struct rum_store_alert *row)
{
	struct rum_alerts_call *c = arg;
	struct rum_alert a = {row->id,           row->device_id,       row->kind,
			      row->severity,     row->subject,         row->message,
			      row->details_json, row->first_seen,      row->last_seen,
			      row->resolved_at,  row->acknowledged_at, row->acknowledged_by};

	/* limit + 1 rows were asked for: the extra one only tells that a next
	 * page exists. */
	if (c->n++ == (size_t)c->limit)
		return;
	c->last = row->id;
	c->cb(c->arg, &a);
}

static int rum_alerts_tenant(struct rum_db_txn *txn, struct rum_alerts_call *c)
{
	int rc = rum_store_tenant_find(txn, c->tenant, &c->tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	return rc;
}

static int rum_alerts_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_alerts_call *c = arg;
	int rc = rum_alerts_tenant(txn, c);

	if (rc == 0)
		rc = rum_store_alert_page(txn, c->tenant_id, c->state, c->kind ? c->kind : "",
					  c->before, c->limit + 1, rum_alerts_row, c);
	return rc;
}

static bool rum_alerts_known(const char *const *names, size_t n, const char *s)
{
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], s) == 0)
			return true;
	return false;
}

int rum_alerts_list(struct rum_domain *dom, const char *tenant, const char *state, const char *kind,
		    const char *cursor, int limit, void (*cb)(void *arg, const struct rum_alert *a),
		    void *arg, char next_cursor[RUM_CURSOR_MAX])
{
	struct rum_alerts_call c = {.tenant = tenant,
				    .state = state && state[0] ? state : "open",
				    .kind = kind && kind[0] ? kind : NULL,
				    .before = INT64_MAX,
				    .limit = limit ? limit : RUM_ALERTS_LIMIT_DEFAULT,
				    .cb = cb,
				    .arg = arg};
	int rc;

	next_cursor[0] = '\0';
	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (!rum_alerts_known(rum_alerts_states, 4, c.state))
		return rum_err_set(RUM_EINVAL,
				   "state: '%.64s' is not one of open, unacknowledged, resolved, "
				   "all",
				   c.state);
	if (c.kind && !rum_alerts_known(rum_alerts_kinds, 8, c.kind))
		return rum_err_set(RUM_EINVAL,
				   "kind: '%.64s' is not one of deadline_passed, deadline_near, "
				   "ack_pending, device_silent, unclassified_messages, "
				   "report_conflict, collection_failing, sync_failing",
				   c.kind);
	if (c.limit < 1 || c.limit > RUM_ALERTS_LIMIT_MAX)
		return rum_err_set(RUM_EINVAL, "limit: 1 to %d", RUM_ALERTS_LIMIT_MAX);
	if (cursor && cursor[0] &&
	    (strncmp(cursor, "a1.", 3) != 0 || rum_strict_int64(&c.before, cursor + 3) != 0 ||
	     c.before <= 0))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of an alert list");
	rc = rum_db_transact(dom->db, rum_alerts_list_run, &c);
	if (rc == 0 && c.n > (size_t)c.limit)
		snprintf(next_cursor, RUM_CURSOR_MAX, "a1.%" PRId64, c.last);
	return rc;
}

static int rum_alerts_ack_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_alerts_call *c = arg;
	int rc = rum_alerts_tenant(txn, c);

	if (rc == 0)
		rc = rum_store_alert_ack(txn, c->tenant_id, c->id, c->by);
	if (rc == RUM_ENOTFOUND && c->tenant_id)
		rc = rum_err_set(rc, "tenant '%s' has no alert %" PRId64, c->tenant, c->id);
	return rc;
}

int rum_alerts_ack_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id)
{
	struct rum_alerts_call c = {.tenant = by->tenant, .id = id, .by = by->actor};
	char target[24];
	int rc;

	if (!by->tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (id <= 0)
		return rum_err_set(RUM_EINVAL, "'%" PRId64 "' is not an alert id", id);
	rc = rum_db_transact(dom->db, rum_alerts_ack_run, &c);
	snprintf(target, sizeof(target), "%" PRId64, id);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "alert-ack", by->tenant, target, rc, NULL);
	return rc;
}
