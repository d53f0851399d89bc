/* The inventory in the admin REST API, /api/v1/tenants/<tenant>/...:
 *   GET devices                  ?sort=id|deadline|last_contact|hostname
 *                                &state=all|overdue|due|ack_pending|never_reported|failing
 *                                &due_days=N&q=PREFIX&limit=N&cursor=C
 *   GET overview                 ?due_days=N: device counts by state, open
 *                                alerts, the soonest deadlines
 *   GET devices/<id>             one device, its usage and newest reports
 *   GET devices/<id>/reports     ?limit=N&cursor=C
 *   GET reports                  ?limit=N&cursor=C
 *   GET reports/<id>             one report
 *   GET reports/<id>/raw         one report byte-exact (application/json)
 * Lists answer {"<items>": [...], "next_cursor": "..." | null}. */
#include "api/call.h"

#include "domain/devices.h"
#include "domain/reports.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RUM_API_DEVICE_REPORTS 20

static int rum_api_list_copy(char *out, size_t size, const char *name, const char *value)
{
	if (!value || strlen(value) >= size)
		return rum_err_set(RUM_EINVAL, "%s: %s", name,
				   value ? "too long" : "needs a value");
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

static int rum_api_list_int(int *out, const char *name, const char *value, int max)
{
	int64_t v;

	if (!value || rum_strict_int64(&v, value) != 0 || v < 1 || v > max)
		return rum_err_set(RUM_EINVAL, "%s: '%.32s' is not a number from 1 to %d", name,
				   value ? value : "", max);
	*out = (int)v;
	return 0;
}

/* Query arguments of device lists. */
static int rum_api_devices_arg(void *arg, const char *name, const char *value)
{
	struct rum_api_list *l = arg;

	if (strcmp(name, "sort") == 0)
		return rum_api_list_copy(l->sort, sizeof(l->sort), name, value);
	if (strcmp(name, "state") == 0)
		return rum_api_list_copy(l->state, sizeof(l->state), name, value);
	if (strcmp(name, "q") == 0)
		return rum_api_list_copy(l->search, sizeof(l->search), name, value);
	if (strcmp(name, "cursor") == 0)
		return rum_api_list_copy(l->cursor, sizeof(l->cursor), name, value);
	if (strcmp(name, "due_days") == 0)
		return rum_api_list_int(&l->due_days, name, value, 3650);
	if (strcmp(name, "limit") == 0)
		return rum_api_list_int(&l->limit, name, value, RUM_DEVICES_LIMIT_MAX);
	return rum_err_set(RUM_EINVAL,
			   "unknown query parameter '%.64s' (known: sort, state, due_days, q, "
			   "cursor, limit)",
			   name);
}

/* Query arguments of report lists. */
static int rum_api_reports_arg(void *arg, const char *name, const char *value)
{
	struct rum_api_list *l = arg;

	if (strcmp(name, "cursor") == 0)
		return rum_api_list_copy(l->cursor, sizeof(l->cursor), name, value);
	if (strcmp(name, "limit") == 0)
		return rum_api_list_int(&l->limit, name, value, RUM_REPORTS_LIMIT_MAX);
	return rum_err_set(RUM_EINVAL, "unknown query parameter '%.64s' (known: cursor, limit)",
			   name);
}

int rum_api_devices_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	(void)req;
	return rum_http_query_each(c->x, rum_api_devices_arg, &c->list);
}

int rum_api_reports_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	(void)req;
	return rum_http_query_each(c->x, rum_api_reports_arg, &c->list);
}

static json_t *rum_api_opt(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static json_t *rum_api_id_or_null(int64_t id)
{
	return id ? json_integer(id) : json_null();
}

void *rum_api_device_json(const struct rum_device *d)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(d->id));
	json_object_set_new(o, "udi_pid", json_string(d->udi_pid));
	json_object_set_new(o, "udi_sn", json_string(d->udi_sn));
	json_object_set_new(o, "hostname", rum_api_opt(d->hostname));
	json_object_set_new(o, "software_version", rum_api_opt(d->software_version));
	json_object_set_new(o, "method", rum_api_opt(d->method));
	json_object_set_new(o, "state", json_string(d->state));
	json_object_set_new(o, "first_seen", json_string(d->first_seen));
	json_object_set_new(o, "last_contact", json_string(d->last_contact));
	json_object_set_new(o, "first_report_at", rum_api_opt(d->first_report_at));
	json_object_set_new(o, "last_report_at", rum_api_opt(d->last_report_at));
	json_object_set_new(o, "reports",
			    json_pack("{s:I,s:I,s:I}", "stored", (json_int_t)d->reports,
				      "not_exported", (json_int_t)d->not_exported,
				      "exported_unacknowledged", (json_int_t)d->exported_unacked));
	json_object_set_new(o, "last_export",
			    d->last_batch ? json_pack("{s:I,s:s}", "id", (json_int_t)d->last_batch,
						      "at", d->last_batch_at)
					  : json_null());
	json_object_set_new(o, "last_ack",
			    d->last_ack_id
				    ? json_pack("{s:I,s:s,s:b,s:o}", "id",
						(json_int_t)d->last_ack_id, "imported_at",
						d->last_ack_at, "delivered",
						d->last_ack_delivered_at[0] != '\0', "delivered_at",
						rum_api_opt(d->last_ack_delivered_at))
				    : json_null());
	json_object_set_new(o, "ack_pending_since", rum_api_opt(d->ack_pending_since));
	json_object_set_new(o, "unacknowledged_since", rum_api_opt(d->unacked_since));
	json_object_set_new(o, "last_acknowledged_at", rum_api_opt(d->last_acked_at));
	json_object_set_new(o, "policy",
			    json_pack("{s:s,s:b,s:i,s:i,s:i}", "name", d->policy_name,
				      "cisco_default", d->policy_default, "first_report_days",
				      d->first_days, "ongoing_reporting_days", d->ongoing_days,
				      "report_on_change_days", d->change_days));
	json_object_set_new(o, "next_deadline", rum_api_opt(d->next_deadline));
	json_object_set_new(o, "trust_code", json_string(d->trust));
	json_object_set_new(o, "collection_failing", json_boolean(d->collection_failing));
	return o;
}

void *rum_api_report_json(const struct rum_report *r)
{
	json_t *o = json_object();

	json_object_set_new(o, "id", json_integer(r->id));
	json_object_set_new(o, "device_id", json_integer(r->device_id));
	json_object_set_new(o, "report_id", json_integer(r->report_id));
	json_object_set_new(o, "udi_pid", json_string(r->udi_pid));
	json_object_set_new(o, "udi_sn", json_string(r->udi_sn));
	json_object_set_new(o, "received_at", json_string(r->received_at));
	json_object_set_new(o, "format", json_string(r->format));
	json_object_set_new(o, "entitlement_tag", rum_api_opt(r->entitlement_tag));
	json_object_set_new(o, "metric", rum_api_opt(r->metric));
	json_object_set_new(o, "value", rum_api_opt(r->value));
	json_object_set_new(o, "first_start", rum_api_opt(r->first_start));
	json_object_set_new(o, "last_end", rum_api_opt(r->last_end));
	json_object_set_new(o, "state", json_string(r->state));
	json_object_set_new(o, "conflict_of", rum_api_id_or_null(r->conflict_of));
	json_object_set_new(o, "conflicts", json_integer(r->conflicts));
	json_object_set_new(o, "duplicates", json_integer(r->duplicates));
	json_object_set_new(o, "last_duplicate_at", rum_api_opt(r->last_duplicate_at));
	json_object_set_new(o, "export_batch", rum_api_id_or_null(r->batch_id));
	json_object_set_new(o, "acknowledged_at", rum_api_opt(r->acked_at));
	json_object_set_new(o, "pruned_at", rum_api_opt(r->pruned_at));
	json_object_set_new(o, "source", rum_api_opt(r->source));
	return o;
}

static void rum_api_device_add(void *arg, const struct rum_device *d)
{
	json_array_append_new(arg, rum_api_device_json(d));
}

static void rum_api_report_add(void *arg, const struct rum_report *r)
{
	json_array_append_new(arg, rum_api_report_json(r));
}

static void rum_api_usage_add(void *arg, const struct rum_device_usage *u)
{
	json_t *o = arg;

	json_array_append_new(json_object_get(o, "usage"),
			      json_pack("{s:s,s:o,s:o,s:s,s:I}", "entitlement_tag",
					u->entitlement_tag, "metric", rum_api_opt(u->metric),
					"value", rum_api_opt(u->value), "reported_at",
					u->received_at, "report_id", (json_int_t)u->report_id));
}

static void rum_api_device_one(void *arg, const struct rum_device *d)
{
	json_t *o = rum_api_device_json(d);

	json_object_update(arg, o);
	json_decref(o);
}

/* {"<key>": items, "next_cursor": ...}; takes items. */
static void rum_api_list_reply(struct rum_api_call *c, const char *key, json_t *items,
			       const char *next)
{
	rum_api_reply_json(c->x, 200,
			   json_pack("{s:o,s:o}", key, items, "next_cursor", rum_api_opt(next)));
}

int rum_api_devices_list_run(struct rum_api_call *c)
{
	struct rum_devices_query q = {c->by.tenant,     c->list.sort,   c->list.state,
				      c->list.due_days, c->list.search, c->list.cursor,
				      c->list.limit};
	json_t *items = json_array();
	char next[RUM_CURSOR_MAX];
	int rc = rum_devices_list(c->api->dom, &q, rum_api_device_add, items, next);

	if (rc == 0)
		rum_api_list_reply(c, "devices", items, next);
	else
		json_decref(items);
	return rc;
}

static void rum_api_device_target_add(void *arg, const struct rum_device_target *t)
{
	json_array_append_new(arg, json_pack("{s:I,s:s,s:i,s:s}", "id", (json_int_t)t->id, "host",
					     t->host, "port", t->port, "protocol", t->protocol));
}

int rum_api_device_get_run(struct rum_api_call *c)
{
	json_t *o = json_object(), *reports = json_array();
	char next[RUM_CURSOR_MAX];
	int rc;

	json_object_set_new(o, "usage", json_array());
	rc = rum_devices_get(c->api->dom, c->by.tenant, c->id, rum_api_device_one,
			     rum_api_usage_add, o);
	if (rc == 0)
		rc = rum_reports_list(c->api->dom, c->by.tenant, c->id, NULL,
				      RUM_API_DEVICE_REPORTS, rum_api_report_add, reports, next);
	if (rc == 0) {
		json_t *targets = json_array();

		rc = rum_devices_pull_targets(c->api->dom, c->by.tenant, c->id,
					      rum_api_device_target_add, targets);
		json_object_set_new(o, "pull_targets", targets);
	}
	if (rc == 0) {
		json_object_set_new(o, "recent_reports", reports);
		json_object_set_new(o, "reports_next_cursor", rum_api_opt(next));
		rum_api_reply_json(c->x, 200, o);
		return 0;
	}
	json_decref(reports);
	json_decref(o);
	return rc;
}

static int rum_api_reports_page(struct rum_api_call *c, int64_t device_id)
{
	json_t *items = json_array();
	char next[RUM_CURSOR_MAX];
	int rc = rum_reports_list(c->api->dom, c->by.tenant, device_id, c->list.cursor,
				  c->list.limit, rum_api_report_add, items, next);

	if (rc == 0)
		rum_api_list_reply(c, "reports", items, next);
	else
		json_decref(items);
	return rc;
}

int rum_api_device_reports_run(struct rum_api_call *c)
{
	return rum_api_reports_page(c, c->id);
}

int rum_api_reports_list_run(struct rum_api_call *c)
{
	return rum_api_reports_page(c, 0);
}

int rum_api_report_get_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	int rc = rum_reports_get(c->api->dom, c->by.tenant, c->id, rum_api_report_add, items, NULL,
				 NULL);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_incref(json_array_get(items, 0)));
	json_decref(items);
	return rc;
}

int rum_api_report_raw_run(struct rum_api_call *c)
{
	char *raw = NULL;
	size_t len = 0;
	int rc = rum_reports_get(c->api->dom, c->by.tenant, c->id, NULL, NULL, &raw, &len);

	if (rc == 0 && !raw)
		rc = rum_err_set(RUM_EINTERNAL, "report %" PRId64 " has no text", c->id);
	if (rc == 0)
		rum_http_respond(c->x, 200, "application/json", raw, len, NULL, NULL);
	else
		free(raw);
	return rc;
}

static int rum_api_overview_arg(void *arg, const char *name, const char *value)
{
	struct rum_api_list *l = arg;

	if (strcmp(name, "due_days") == 0)
		return rum_api_list_int(&l->due_days, name, value, 3650);
	return rum_err_set(RUM_EINVAL, "unknown query parameter '%.64s' (known: due_days)", name);
}

int rum_api_overview_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	(void)req;
	return rum_http_query_each(c->x, rum_api_overview_arg, &c->list);
}

static void rum_api_deadline_add(void *arg, const struct rum_device_deadline *d)
{
	json_array_append_new(arg,
			      json_pack("{s:I,s:o,s:s,s:s,s:s}", "device_id", (json_int_t)d->id,
					"hostname", rum_api_opt(d->hostname), "udi_pid", d->udi_pid,
					"udi_sn", d->udi_sn, "next_deadline", d->next_deadline));
}

int rum_api_overview_run(struct rum_api_call *c)
{
	struct rum_devices_overview o;
	json_t *next = json_array();
	int rc = rum_devices_overview(c->api->dom, c->by.tenant, c->list.due_days, &o,
				      rum_api_deadline_add, next);

	if (rc != 0) {
		json_decref(next);
		return rc;
	}
	rum_api_reply_json(c->x, 200,
			   json_pack("{s:i,s:o,s:{s:I,s:I,s:I,s:I,s:I,s:I,s:I},s:{s:I,s:I,s:I},s:o}",
				     "due_days", o.due_days, "as_of",
				     o.as_of[0] ? json_string(o.as_of) : json_null(), "devices",
				     "total", (json_int_t)o.devices, "contacted_last_day",
				     (json_int_t)o.contacted_last_day, "never_reported",
				     (json_int_t)o.never_reported, "overdue", (json_int_t)o.overdue,
				     "due_soon", (json_int_t)o.due_soon, "ack_pending",
				     (json_int_t)o.ack_pending, "collection_failing",
				     (json_int_t)o.collection_failing, "alerts", "open",
				     (json_int_t)o.alerts_open, "critical",
				     (json_int_t)o.alerts_critical, "unacknowledged",
				     (json_int_t)o.alerts_unacknowledged, "next_deadlines", next));
	return 0;
}
