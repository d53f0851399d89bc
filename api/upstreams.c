/* Connected mode's configuration in the admin REST API:
 *   GET    /api/v1/upstreams                every tenant's upstream (admin; a
 *                                           tenant-bound token sees its own)
 *   GET    /api/v1/tenants/<tenant>/upstream     the tenant's (reader)
 *   PUT    /api/v1/tenants/<tenant>/upstream     create or replace it (admin)
 *   DELETE /api/v1/tenants/<tenant>/upstream     remove it (admin)
 * PUT takes {"kind":"cssm"|"collector", "url", "token_url", "api_url",
 * "client_id", "client_secret", "smart_account_id", "virtual_account_id",
 * "smart_account", "virtual_account", "proxy", "proxy_password", "ca_file",
 * "connect_timeout", "timeout", "interval", "sync_soon"}: ids as digits
 * (string or number), times as seconds or durations ("12h"). The client
 * secret and the proxy password are write-only: answers say only whether
 * one is set. */
#include "api/call.h"

#include "domain/upstreams.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdio.h>
#include <string.h>

#define RUM_UPSTREAM_BODY_MAX (16 * 1024)

static int rum_api_ups_str(const char **out, json_t *v, const char *key)
{
	if (!json_is_string(v))
		return rum_err_set(RUM_EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

/* Seconds, or a duration such as "30s", "5m", "12h", "1d". */
static int rum_api_ups_seconds(int64_t *out, json_t *v, const char *key)
{
	if (json_is_integer(v) && json_integer_value(v) > 0) {
		*out = json_integer_value(v);
		return 0;
	}
	if (json_is_string(v) && rum_strict_duration(out, json_string_value(v)) == 0 && *out > 0)
		return 0;
	return rum_err_set(RUM_EINVAL, "\"%s\" must be seconds or a duration such as \"12h\"", key);
}

static int rum_api_ups_field(struct rum_upstream_spec *s, const char *key, json_t *v)
{
	static const struct {
		const char *key;
		size_t off;
	} strings[] = {
		{"kind", offsetof(struct rum_upstream_spec, kind)},
		{"url", offsetof(struct rum_upstream_spec, url)},
		{"token_url", offsetof(struct rum_upstream_spec, token_url)},
		{"api_url", offsetof(struct rum_upstream_spec, api_url)},
		{"client_id", offsetof(struct rum_upstream_spec, client_id)},
		{"smart_account_id", offsetof(struct rum_upstream_spec, smart_account_id)},
		{"virtual_account_id", offsetof(struct rum_upstream_spec, virtual_account_id)},
		{"smart_account", offsetof(struct rum_upstream_spec, smart_account)},
		{"virtual_account", offsetof(struct rum_upstream_spec, virtual_account)},
		{"proxy", offsetof(struct rum_upstream_spec, proxy)},
		{"ca_file", offsetof(struct rum_upstream_spec, ca_file)},
	};

	for (size_t i = 0; i < sizeof(strings) / sizeof(strings[0]); i++)
		if (strcmp(key, strings[i].key) == 0)
			return rum_api_ups_str((const char **)(void *)((char *)s + strings[i].off),
					       v, key);
	if (strcmp(key, "client_secret") == 0) {
		s->client_secret_len = json_string_length(v);
		return rum_api_ups_str(&s->client_secret, v, key);
	}
	if (strcmp(key, "proxy_password") == 0) {
		s->proxy_password_len = json_string_length(v);
		return rum_api_ups_str(&s->proxy_password, v, key);
	}
	if (strcmp(key, "connect_timeout") == 0)
		return rum_api_ups_seconds(&s->connect_timeout_s, v, key);
	if (strcmp(key, "timeout") == 0)
		return rum_api_ups_seconds(&s->timeout_s, v, key);
	if (strcmp(key, "interval") == 0)
		return rum_api_ups_seconds(&s->interval_s, v, key);
	if (strcmp(key, "sync_soon") == 0) {
		if (json_is_null(v) || json_is_false(v)) {
			s->sync_soon_s = 0;
			return 0;
		}
		return rum_api_ups_seconds(&s->sync_soon_s, v, key);
	}
	return rum_err_set(RUM_EINVAL, "unknown field \"%.64s\"", key);
}

/* Only the body's shape is checked here, before the token is: the values
 * are the domain's to check once the caller is known (a CA file path is
 * looked up on this host, which is no stranger's business). */
int rum_api_upstream_set_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const ids[] = {"smart_account_id", "virtual_account_id"};
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (req->body_len == 0 || req->body_len > RUM_UPSTREAM_BODY_MAX)
		return rum_err_set(RUM_EINVAL, "the body must be the upstream as a JSON object (at "
					       "most 16 KiB)");
	c->body_json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body_json || !json_is_object(c->body_json))
		return rum_err_set(RUM_EINVAL, "the body is not a JSON object%s",
				   c->body_json ? "" : " (not JSON)");
	/* Account ids may come as numbers: kept as their digits. */
	for (size_t i = 0; i < 2; i++) {
		char digits[RUM_TEXT_I64_MAX];

		v = json_object_get(c->body_json, ids[i]);
		if (json_is_integer(v) && json_integer_value(v) >= 0) {
			snprintf(digits, sizeof(digits), "%" JSON_INTEGER_FORMAT,
				 json_integer_value(v));
			json_object_set_new(c->body_json, ids[i], json_string(digits));
		}
	}
	json_object_foreach(c->body_json, key, v) {
		int rc = rum_api_ups_field(&c->upstream, key, v);

		if (rc != 0)
			return rc;
	}
	if (!c->upstream.kind)
		return rum_err_set(RUM_EINVAL, "\"kind\" is needed: cssm or collector");
	return 0;
}

static json_t *rum_api_ups_opt(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static void rum_api_ups_render(void *arg, const struct rum_upstream *u)
{
	json_t *o = json_object();

	json_object_set_new(o, "tenant", json_string(u->tenant));
	json_object_set_new(o, "kind", json_string(u->kind));
	json_object_set_new(o, "url", rum_api_ups_opt(u->url));
	json_object_set_new(o, "token_url", rum_api_ups_opt(u->token_url));
	json_object_set_new(o, "api_url", rum_api_ups_opt(u->api_url));
	json_object_set_new(o, "client_id", rum_api_ups_opt(u->client_id));
	json_object_set_new(o, "has_client_secret", json_boolean(u->has_client_secret));
	json_object_set_new(o, "smart_account_id", rum_api_ups_opt(u->smart_account_id));
	json_object_set_new(o, "virtual_account_id", rum_api_ups_opt(u->virtual_account_id));
	json_object_set_new(o, "smart_account", rum_api_ups_opt(u->smart_account));
	json_object_set_new(o, "virtual_account", rum_api_ups_opt(u->virtual_account));
	json_object_set_new(o, "proxy", rum_api_ups_opt(u->proxy));
	json_object_set_new(o, "has_proxy_password", json_boolean(u->has_proxy_password));
	json_object_set_new(o, "ca_file", rum_api_ups_opt(u->ca_file));
	json_object_set_new(o, "connect_timeout_s", json_integer(u->connect_timeout_s));
	json_object_set_new(o, "timeout_s", json_integer(u->timeout_s));
	json_object_set_new(o, "interval_s", json_integer(u->interval_s));
	json_object_set_new(o, "sync_soon_s",
			    u->sync_soon_s ? json_integer(u->sync_soon_s) : json_null());
	json_object_set_new(o, "created_at", json_string(u->created_at));
	json_object_set_new(o, "updated_at", json_string(u->updated_at));
	json_array_append_new(arg, o);
}

/* The secrets in the parsed body are of no further use: overwrite them. */
static void rum_api_ups_wipe(struct rum_api_call *c)
{
	static const char *const keys[] = {"client_secret", "proxy_password"};

	for (size_t i = 0; c->body_json && i < 2; i++) {
		json_t *v = json_object_get(c->body_json, keys[i]);

		if (json_is_string(v))
			rum_crypto_wipe((char *)json_string_value(v), json_string_length(v));
	}
}

static int rum_api_ups_reply_one(struct rum_api_call *c, int status)
{
	json_t *list = json_array();
	int rc = rum_upstreams_list(c->api->dom, c->by.tenant, 0, rum_api_ups_render, list);

	if (rc == 0)
		rum_api_reply_json(c->x, status, json_incref(json_array_get(list, 0)));
	json_decref(list);
	return rc;
}

int rum_api_upstream_set_run(struct rum_api_call *c)
{
	bool created = false;
	int rc;

	c->upstream.tenant = c->by.tenant;
	rc = rum_upstreams_set(c->api->dom, &c->by, &c->upstream, &created);
	rum_api_ups_wipe(c);
	return rc ? rc : rum_api_ups_reply_one(c, created ? 201 : 200);
}

int rum_api_upstream_get_run(struct rum_api_call *c)
{
	return rum_api_ups_reply_one(c, 200);
}

int rum_api_upstream_remove_run(struct rum_api_call *c)
{
	int rc = rum_upstreams_remove(c->api->dom, &c->by, c->by.tenant);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:s}", "status", "OK", "tenant", c->by.tenant));
	return rc;
}

int rum_api_upstreams_list_run(struct rum_api_call *c)
{
	json_t *list = json_array();
	int rc = rum_upstreams_list(c->api->dom, NULL, c->by.token_tenant_id, rum_api_ups_render,
				    list);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_pack("{s:O}", "upstreams", list));
	json_decref(list);
	return rc;
}
