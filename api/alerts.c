/* Alerts in the admin REST API, /api/v1/tenants/<tenant>/...:
 *   GET  alerts?state=open|unacknowledged|resolved|all&kind=K&limit=N&cursor=C
 *   POST alerts/<id>/ack     (operator; audited as alert-ack) */
#include "api/call.h"

#include "domain/alerts.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <string.h>

static int rum_api_alerts_copy(char *out, size_t size, const char *name, const char *value)
{
	if (!value || !value[0] || strlen(value) >= size)
		return rum_err_set(RUM_EINVAL, "%s: %s", name,
				   value && value[0] ? "not a known value" : "needs a value");
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

static int rum_api_alerts_arg(void *arg, const char *name, const char *value)
{
	struct rum_api_list *l = arg;
	int64_t v;

	if (strcmp(name, "state") == 0)
		return rum_api_alerts_copy(l->state, sizeof(l->state), name, value);
	if (strcmp(name, "kind") == 0)
		return rum_api_alerts_copy(l->kind, sizeof(l->kind), name, value);
	if (strcmp(name, "cursor") == 0)
		return rum_api_alerts_copy(l->cursor, sizeof(l->cursor), name, value);
	if (strcmp(name, "limit") == 0) {
		if (!value || rum_strict_int64(&v, value) != 0 || v < 1 || v > RUM_ALERTS_LIMIT_MAX)
			return rum_err_set(RUM_EINVAL,
					   "limit: '%.32s' is not a number from 1 to %d",
					   value ? value : "", RUM_ALERTS_LIMIT_MAX);
		l->limit = (int)v;
		return 0;
	}
	return rum_err_set(RUM_EINVAL,
			   "unknown query parameter '%.64s' (known: state, kind, cursor, limit)",
			   name);
}

int rum_api_alerts_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	(void)req;
	return rum_http_query_each(c->x, rum_api_alerts_arg, &c->list);
}

static json_t *rum_api_alert_opt(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

void *rum_api_alert_json(const struct rum_alert *a)
{
	json_t *details = json_loads(a->details_json, 0, NULL);

	return json_pack("{s:I,s:s,s:s,s:s,s:s,s:o,s:o,s:s,s:s,s:o,s:b,s:o,s:o}", "id",
			 (json_int_t)a->id, "kind", a->kind, "severity", a->severity, "subject",
			 a->subject, "message", a->message, "device_id",
			 a->device_id ? json_integer(a->device_id) : json_null(), "details",
			 details ? details : json_object(), "first_seen", a->first_seen,
			 "last_seen", a->last_seen, "resolved_at",
			 rum_api_alert_opt(a->resolved_at), "acknowledged",
			 a->acknowledged_at[0] != '\0', "acknowledged_at",
			 rum_api_alert_opt(a->acknowledged_at), "acknowledged_by",
			 rum_api_alert_opt(a->acknowledged_by));
}

static void rum_api_alert_add(void *arg, const struct rum_alert *a)
{
	json_array_append_new(arg, rum_api_alert_json(a));
}

int rum_api_alerts_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	char next[RUM_CURSOR_MAX];
	int rc = rum_alerts_list(c->api->dom, c->by.tenant, c->list.state, c->list.kind,
				 c->list.cursor, c->list.limit, rum_api_alert_add, items, next);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:o,s:o}", "alerts", items, "next_cursor",
					     rum_api_alert_opt(next)));
	else
		json_decref(items);
	return rc;
}

int rum_api_alert_ack_run(struct rum_api_call *c)
{
	int rc = rum_alerts_ack_by(c->api->dom, &c->by, c->id);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:I}", "status", "OK", "acknowledged",
					     (json_int_t)c->id));
	return rc;
}
