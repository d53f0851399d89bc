/* Local users of the admin console in the admin REST API (routes in
 * api/routes.c), for admins of every tenant:
 *   GET   /api/v1/users           users (never a password or its hash)
 *   POST  /api/v1/users           {"name","password","role","tenant"?}
 *   PATCH /api/v1/users/<name>    {"password"?, "disabled"?: bool}
 * A new password or disabling signs the user out everywhere. Passwords are
 * hashed with scrypt: these routes run on the heavy lane. */
#include "api/call.h"

#include "domain/sessions.h"
#include "lib/crypto.h"
#include "lib/err.h"

#include <stdlib.h>
#include <string.h>

static json_t *rum_api_users_opt(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

static void rum_api_user_add(void *arg, const struct rum_user *u)
{
	json_array_append_new(arg, json_pack("{s:I,s:s,s:s,s:o,s:s,s:s,s:o,s:b,s:I}", "id",
					     (json_int_t)u->id, "name", u->name, "role", u->role,
					     "tenant", rum_api_users_opt(u->tenant), "created_at",
					     u->created_at, "password_set_at", u->password_at,
					     "disabled_at", rum_api_users_opt(u->disabled_at),
					     "disabled", u->disabled_at[0] != 0, "sessions",
					     (json_int_t)u->sessions));
}

/* The user named, as listed now. */
static int rum_api_user_reply(struct rum_api_call *c, const char *name, int status)
{
	json_t *all = json_array(), *v;
	size_t i;
	int rc = rum_users_list_by(c->api->dom, &c->by, rum_api_user_add, all);

	if (rc == 0) {
		rc = rum_err_set(RUM_ENOTFOUND, "no user named '%s'", name);
		json_array_foreach(all, i, v) {
			if (strcmp(json_string_value(json_object_get(v, "name")), name) == 0) {
				rum_api_reply_json(c->x, status, json_incref(v));
				rc = 0;
				break;
			}
		}
	}
	json_decref(all);
	return rc;
}

/* Wipes the password of the parsed body once it has been hashed. */
static void rum_api_users_wipe(struct rum_api_call *c)
{
	json_t *v = c->body_json ? json_object_get(c->body_json, "password") : NULL;

	if (v && json_is_string(v))
		rum_crypto_wipe((char *)json_string_value(v), json_string_length(v));
}

int rum_api_users_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	int rc = rum_users_list_by(c->api->dom, &c->by, rum_api_user_add, items);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_pack("{s:o}", "users", items));
	else
		json_decref(items);
	return rc;
}

int rum_api_user_create_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const known[] = {"name", "password", "role", "tenant", NULL};
	int rc = rum_api_small_body(c, req, known, "name, password, role, tenant");

	if (rc == 0 && (!rum_api_field(c, "name") || !rum_api_field(c, "password") ||
			!rum_api_field(c, "role")))
		rc = rum_err_set(RUM_EINVAL, "\"name\", \"password\" and \"role\" are needed");
	return rc;
}

int rum_api_user_create_run(struct rum_api_call *c)
{
	const char *name = rum_api_field(c, "name");
	int rc = rum_users_add_by(c->api->dom, &c->by, name, rum_api_field(c, "password"),
				  rum_api_field(c, "role"), rum_api_field(c, "tenant"));

	rum_api_users_wipe(c);
	return rc ? rc : rum_api_user_reply(c, name, 201);
}

int rum_api_user_update_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (req->body_len == 0 || req->body_len > RUM_API_SMALL_BODY_MAX)
		return rum_err_set(RUM_EINVAL,
				   "the body must be a JSON object (password, disabled)");
	c->body_json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body_json || !json_is_object(c->body_json))
		return rum_err_set(RUM_EINVAL, "the body is not a JSON object: %s",
				   c->body_json ? "another JSON value" : jerr.text);
	if (json_object_size(c->body_json) == 0)
		return rum_err_set(RUM_EINVAL, "nothing to change: give password or disabled");
	json_object_foreach(c->body_json, key, v) {
		if (strcmp(key, "password") == 0 && !json_is_string(v))
			return rum_err_set(RUM_EINVAL, "\"password\" must be a string");
		if (strcmp(key, "disabled") == 0 && !json_is_boolean(v))
			return rum_err_set(RUM_EINVAL, "\"disabled\" must be true or false");
		if (strcmp(key, "password") != 0 && strcmp(key, "disabled") != 0)
			return rum_err_set(RUM_EINVAL,
					   "unknown field \"%.64s\" (password, disabled)", key);
	}
	return 0;
}

int rum_api_user_update_run(struct rum_api_call *c)
{
	json_t *d = json_object_get(c->body_json, "disabled");
	int rc = rum_users_update_by(c->api->dom, &c->by, c->name, rum_api_field(c, "password"),
				     d ? json_is_true(d) : -1);

	rum_api_users_wipe(c);
	return rc ? rc : rum_api_user_reply(c, c->name, 200);
}
