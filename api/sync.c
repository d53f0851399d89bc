/* Connected mode's syncs in the admin REST API:
 *   GET  /api/v1/tenants/<tenant>/sync   the tenant's sync state and last
 *                                        syncs, with the newest one's
 *                                        refusals (reader)
 *   POST /api/v1/tenants/<tenant>/sync   ask for a sync now: serve's
 *                                        scheduler runs it (operator); 202 */
#include "api/call.h"

#include "domain/sync.h"
#include "lib/err.h"

#include <stddef.h>

struct rum_api_sync_status {
	json_t *state, *runs, *refusals;
};

static void rum_api_sync_state(void *arg, const struct rum_sync_state_info *s)
{
	struct rum_api_sync_status *st = arg;

	st->state = json_pack("{s:s?,s:s?,s:s?,s:s?,s:I}", "running_on",
			      s->owner[0] && s->lease_until[0] ? s->owner : NULL, "lease_until",
			      s->lease_until[0] ? s->lease_until : NULL, "failing_since",
			      s->failing_since[0] ? s->failing_since : NULL, "last_ok_at",
			      s->last_ok_at[0] ? s->last_ok_at : NULL, "failing_s",
			      (json_int_t)s->failing_s);
}

static void rum_api_sync_run(void *arg, const struct rum_sync_run_info *r)
{
	struct rum_api_sync_status *st = arg;

	json_array_append_new(
		st->runs,
		json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s?,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s?}",
			  "id", (json_int_t)r->id, "kind", r->kind, "trigger", r->trigger, "state",
			  r->state, "node", r->node, "started_at", r->started_at, "finished_at",
			  r->finished_at[0] ? r->finished_at : NULL, "calls", (json_int_t)r->calls,
			  "reports", (json_int_t)r->reports, "sent", (json_int_t)r->sent, "acks",
			  (json_int_t)r->acks, "polling", (json_int_t)r->polling, "queued",
			  (json_int_t)r->queued, "duplicates", (json_int_t)r->duplicates, "refused",
			  (json_int_t)r->failed, "error", r->error[0] ? r->error : NULL));
}

static void rum_api_sync_refusal(void *arg, const struct rum_sync_refusal_info *f)
{
	struct rum_api_sync_status *st = arg;

	json_array_append_new(st->refusals,
			      json_pack("{s:I,s:I,s:s,s:s,s:i,s:s,s:s}", "run",
					(json_int_t)f->run_id, "device", (json_int_t)f->device_id,
					"udi_pid", f->pid, "udi_serial_number", f->sn, "reports",
					f->reports, "message", f->message, "at", f->at));
}

int rum_api_sync_get_run(struct rum_api_call *c)
{
	struct rum_api_sync_status st = {NULL, json_array(), json_array()};
	struct rum_sync_status_cb cb = {rum_api_sync_state, rum_api_sync_run, rum_api_sync_refusal,
					&st};
	int rc = rum_sync_status(c->api->dom, c->by.tenant, 20, &cb);

	if (rc == 0) {
		if (!st.state)
			st.state = json_pack("{s:n,s:n,s:n,s:n,s:i}", "running_on", "lease_until",
					     "failing_since", "last_ok_at", "failing_s", 0);
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:O,s:O,s:O}", "tenant", c->by.tenant, "state",
					     st.state, "runs", st.runs, "refusals", st.refusals));
	}
	json_decref(st.state);
	json_decref(st.runs);
	json_decref(st.refusals);
	return rc;
}

int rum_api_sync_request_run(struct rum_api_call *c)
{
	int rc = rum_sync_request_by(c->api->dom, &c->by);

	if (rc == 0)
		rum_api_reply_json(c->x, 202,
				   json_pack("{s:s,s:s}", "status", "REQUESTED", "tenant",
					     c->by.tenant));
	return rc;
}
