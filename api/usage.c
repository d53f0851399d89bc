/* Licence usage in the admin REST API, /api/v1/tenants/<tenant>/...:
 *   GET usage                         {"as_of", "entitlements": [...]}
 *   GET usage/daily?tag=&from=&to=    {"as_of", "days": [...]}
 * as_of: reports received before it are counted (null: never counted). */
#include "api/call.h"

#include "domain/usage.h"
#include "lib/err.h"

#include <string.h>

static int rum_api_usage_copy(char *out, size_t size, const char *name, const char *value)
{
	if (!value || !value[0] || strlen(value) >= size)
		return rum_err_set(RUM_EINVAL, "%s: %s", name,
				   value && value[0] ? "too long" : "needs a value");
	memcpy(out, value, strlen(value) + 1);
	return 0;
}

static int rum_api_usage_arg(void *arg, const char *name, const char *value)
{
	struct rum_api_usage_query *q = arg;

	if (strcmp(name, "tag") == 0)
		return rum_api_usage_copy(q->tag, sizeof(q->tag), name, value);
	if (strcmp(name, "from") == 0)
		return rum_api_usage_copy(q->from, sizeof(q->from), name, value);
	if (strcmp(name, "to") == 0)
		return rum_api_usage_copy(q->to, sizeof(q->to), name, value);
	return rum_err_set(RUM_EINVAL, "unknown query parameter '%.64s' (known: tag, from, to)",
			   name);
}

int rum_api_usage_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	(void)req;
	return rum_http_query_each(c->x, rum_api_usage_arg, &c->usage);
}

static json_t *rum_api_usage_as_of(const char *as_of)
{
	return as_of[0] ? json_string(as_of) : json_null();
}

static void rum_api_usage_tag(void *arg, const struct rum_usage_tag *t)
{
	json_array_append_new(arg,
			      json_pack("{s:s,s:I,s:I,s:I,s:o}", "entitlement_tag", t->tag,
					"devices", (json_int_t)t->devices, "in_use",
					(json_int_t)t->in_use, "peak", (json_int_t)t->peak,
					"peak_day",
					t->peak_day[0] ? json_string(t->peak_day) : json_null()));
}

static void rum_api_usage_day(void *arg, const struct rum_usage_day *d)
{
	json_array_append_new(arg, json_pack("{s:s,s:s,s:I,s:I}", "entitlement_tag", d->tag, "day",
					     d->day, "devices", (json_int_t)d->devices, "in_use",
					     (json_int_t)d->in_use));
}

int rum_api_usage_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	char as_of[40];
	int rc = rum_usage_summary(c->api->dom, c->by.tenant, rum_api_usage_tag, items, as_of);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:o,s:o}", "as_of", rum_api_usage_as_of(as_of),
					     "entitlements", items));
	else
		json_decref(items);
	return rc;
}

int rum_api_usage_days_run(struct rum_api_call *c)
{

	json_t *items = json_array();
	char as_of[40];
	int rc = rum_usage_days(c->api->dom, c->by.tenant, c->usage.tag[0] ? c->usage.tag : NULL,
				c->usage.from[0] ? c->usage.from : NULL,
				c->usage.to[0] ? c->usage.to : NULL, rum_api_usage_day, items,
				as_of);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:o,s:o}", "as_of", rum_api_usage_as_of(as_of),
					     "days", items));
	else
		json_decref(items);
	return rc;
}
