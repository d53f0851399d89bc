/* Tenants, tokens and the audit log in the admin REST API:
 *   GET    /api/v1/tenants               (reader: a bound token sees its own)
 *   POST   /api/v1/tenants               {"name","smart_account","virtual_account"} (admin)
 *   PATCH  /api/v1/tenants/<tenant>      {"smart_account","virtual_account"} (admin)
 *   GET    /api/v1/tokens                (admin of every tenant)
 *   POST   /api/v1/tokens                {"role","tenant","description"}: the token, once
 *   DELETE /api/v1/tokens/<id>           revoke
 *   GET    /api/v1/audit?limit=&cursor=  (reader: a bound token sees its tenant's rows) */
#include "api/call.h"

#include "domain/audit.h"
#include "domain/tenants.h"
#include "domain/tokens.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <stdlib.h>
#include <string.h>

int rum_api_small_body(struct rum_api_call *c, const struct rum_http_request *req,
		       const char *const *known, const char *list)
{
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (req->body_len == 0 || req->body_len > RUM_API_SMALL_BODY_MAX)
		return rum_err_set(RUM_EINVAL, "the body must be a JSON object (%s)", list);
	c->body_json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body_json || !json_is_object(c->body_json))
		return rum_err_set(RUM_EINVAL, "the body is not a JSON object: %s",
				   c->body_json ? "another JSON value" : jerr.text);
	json_object_foreach(c->body_json, key, v) {
		bool ok = false;

		for (size_t i = 0; known[i]; i++)
			ok = ok || strcmp(known[i], key) == 0;
		if (!ok)
			return rum_err_set(RUM_EINVAL, "unknown field \"%.64s\" (%s)", key, list);
		if (!json_is_string(v))
			return rum_err_set(RUM_EINVAL, "\"%s\" must be a string", key);
	}
	return 0;
}

const char *rum_api_field(struct rum_api_call *c, const char *key)
{
	return json_string_value(json_object_get(c->body_json, key));
}

int rum_api_tenant_create_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const known[] = {"name", "smart_account", "virtual_account", NULL};
	int rc = rum_api_small_body(c, req, known, "name, smart_account, virtual_account");

	if (rc == 0 && !rum_api_field(c, "name"))
		rc = rum_err_set(RUM_EINVAL, "\"name\" is needed");
	return rc;
}

int rum_api_tenant_update_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const known[] = {"smart_account", "virtual_account", NULL};

	return rum_api_small_body(c, req, known, "smart_account, virtual_account");
}

int rum_api_token_create_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const known[] = {"role", "tenant", "description", NULL};
	int rc = rum_api_small_body(c, req, known, "role, tenant, description");

	if (rc == 0 && !rum_api_field(c, "role"))
		rc = rum_err_set(RUM_EINVAL, "\"role\" is needed (admin, operator or reader)");
	return rc;
}

static void rum_api_tenant_add(void *arg, const struct rum_tenant *t)
{
	json_array_append_new(arg, json_pack("{s:s,s:s,s:s,s:s}", "name", t->name, "smart_account",
					     t->smart_account, "virtual_account",
					     t->virtual_account, "created_at", t->created_at));
}

int rum_api_tenants_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	int rc = rum_tenants_list_by(c->api->dom, &c->by, rum_api_tenant_add, items);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_pack("{s:o}", "tenants", items));
	else
		json_decref(items);
	return rc;
}

/* The tenant named, as listed (after a change). */
struct rum_api_tenant_pick {
	const char *name;
	json_t *found;
};

static void rum_api_tenant_pick(void *arg, const struct rum_tenant *t)
{
	struct rum_api_tenant_pick *p = arg;

	if (strcmp(t->name, p->name) == 0) {
		json_t *one = json_array();

		rum_api_tenant_add(one, t);
		p->found = json_incref(json_array_get(one, 0));
		json_decref(one);
	}
}

static int rum_api_tenant_reply(struct rum_api_call *c, const char *name, int status)
{
	struct rum_actor all = c->by;
	struct rum_api_tenant_pick p = {name, NULL};
	int rc;

	all.token_tenant_id = 0; /* the write was allowed: show what it did */
	rc = rum_tenants_list_by(c->api->dom, &all, rum_api_tenant_pick, &p);
	if (rc == 0 && !p.found)
		rc = rum_err_set(RUM_EINTERNAL, "tenant '%s' is gone", name);
	if (rc == 0)
		rum_api_reply_json(c->x, status, p.found);
	return rc;
}

int rum_api_tenant_create_run(struct rum_api_call *c)
{
	const char *name = rum_api_field(c, "name");
	int64_t id = 0;
	int rc = rum_tenants_create_by(c->api->dom, &c->by, name, rum_api_field(c, "smart_account"),
				       rum_api_field(c, "virtual_account"), &id);

	return rc ? rc : rum_api_tenant_reply(c, name, 201);
}

int rum_api_tenant_update_run(struct rum_api_call *c)
{
	int rc = rum_tenants_update_by(c->api->dom, &c->by, rum_api_field(c, "smart_account"),
				       rum_api_field(c, "virtual_account"));

	return rc ? rc : rum_api_tenant_reply(c, c->by.tenant, 200);
}

static json_t *rum_api_opt_text(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static void rum_api_token_add(void *arg, const struct rum_token *t)
{
	json_array_append_new(arg,
			      json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:o,s:o}", "id",
					(json_int_t)t->id, "prefix", t->prefix, "role", t->role,
					"tenant",
					strcmp(t->tenant, "*") ? json_string(t->tenant)
							       : json_null(),
					"description", t->description, "created_at", t->created_at,
					"last_used_at", rum_api_opt_text(t->last_used_at),
					"revoked_at", rum_api_opt_text(t->revoked_at)));
}

int rum_api_tokens_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	int rc = rum_tokens_list_by(c->api->dom, &c->by, rum_api_token_add, items);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_pack("{s:o}", "tokens", items));
	else
		json_decref(items);
	return rc;
}

int rum_api_token_create_run(struct rum_api_call *c)
{
	const char *role = rum_api_field(c, "role"), *tenant = rum_api_field(c, "tenant");
	char *token = NULL;
	int64_t id = 0;
	int rc = rum_tokens_create_by(c->api->dom, &c->by, role, tenant,
				      rum_api_field(c, "description"), &token, &id);

	if (rc != 0)
		return rc;
	rum_api_reply_json(c->x, 201,
			   json_pack("{s:I,s:s,s:s,s:o}", "id", (json_int_t)id, "token", token,
				     "role", role, "tenant",
				     tenant ? json_string(tenant) : json_null()));
	rum_crypto_wipe(token, strlen(token));
	free(token);
	return 0;
}

int rum_api_token_revoke_run(struct rum_api_call *c)
{
	char prefix[24] = "";
	int rc = rum_tokens_revoke_by(c->api->dom, &c->by, c->id, prefix);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:I,s:s}", "status", "OK", "revoked",
					     (json_int_t)c->id, "prefix", prefix));
	return rc;
}

static void rum_api_audit_add(void *arg, const struct rum_audit_entry *e)
{
	json_t *details = json_loads(e->details_json, 0, NULL);

	json_array_append_new(arg,
			      json_pack("{s:I,s:s,s:s,s:s,s:o,s:s,s:s,s:o}", "id",
					(json_int_t)e->id, "at", e->at, "actor", e->actor, "action",
					e->action, "tenant", rum_api_opt_text(e->tenant), "target",
					e->target, "result", e->result, "details",
					details ? details : json_object()));
}

int rum_api_audit_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	char next[RUM_CURSOR_MAX];
	int rc = rum_audit_list_by(c->api->dom, &c->by, c->list.cursor, c->list.limit,
				   rum_api_audit_add, items, next, sizeof(next));

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:o,s:o}", "entries", items, "next_cursor",
					     rum_api_opt_text(next)));
	else
		json_decref(items);
	return rc;
}
