/* Browser sessions in the admin REST API:
 *   POST   /api/v1/session   {"token"} or {"user","password"}: signs in;
 *                            the session's secret comes back only as an
 *                            HttpOnly, SameSite=Strict cookie (Secure over
 *                            HTTPS), its CSRF token in the body
 *   GET    /api/v1/session   who the request acts as (a session's CSRF token
 *                            included, for a page that was reloaded)
 *   DELETE /api/v1/session   signs out; the cookie is cleared */
#include "api/call.h"

#include "domain/sessions.h"
#include "lib/crypto.h"
#include "lib/err.h"

#include <stdio.h>
#include <string.h>

int rum_api_session_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	static const char *const known[] = {"token", "user", "password", NULL};
	int rc = rum_api_small_body(c, req, known, "token, or user and password");
	bool token = rum_api_field(c, "token") != NULL, user = rum_api_field(c, "user") != NULL,
	     password = rum_api_field(c, "password") != NULL;

	if (rc == 0 && (token ? user || password : !(user && password)))
		rc = rum_err_set(RUM_EINVAL, "sign in with \"token\", or with \"user\" and "
					     "\"password\"");
	return rc;
}

/* {"actor","role","tenant","csrf_token","expires_at"} of who acts. */
static json_t *rum_api_session_json(const struct rum_actor *who, const char *tenant)
{
	return json_pack("{s:s,s:s,s:o,s:b,s:o,s:o}", "actor", who->actor, "role", who->role,
			 "tenant", tenant[0] ? json_string(tenant) : json_null(), "session",
			 who->session_id != 0, "csrf_token",
			 who->csrf[0] ? json_string(who->csrf) : json_null(), "expires_at",
			 who->expires_at[0] ? json_string(who->expires_at) : json_null());
}

static void rum_api_session_reply(struct rum_api_call *c, int status, json_t *body,
				  const char *cookie)
{
	char *text = json_dumps(body, JSON_COMPACT);

	json_decref(body);
	if (!text)
		abort();
	rum_http_respond(c->x, status, "application/json", text, strlen(text), "Set-Cookie",
			 cookie);
}

int rum_api_session_begin_run(struct rum_api_call *c)
{
	struct rum_session_credentials cred = {rum_api_field(c, "token"), rum_api_field(c, "user"),
					       rum_api_field(c, "password"), c->client_addr};
	struct rum_session_begun s;
	char cookie[160];
	int rc = rum_sessions_begin(c->api->dom, &cred, &s);

	if (rc != 0)
		return rc;
	/* No Max-Age: the browser forgets the cookie when it closes; rumd ends
	 * the session by itself (web_session_idle_s, web_session_max_s). */
	snprintf(cookie, sizeof(cookie), "%s=%s; Path=/; HttpOnly; SameSite=Strict%s",
		 RUM_API_SESSION_COOKIE, s.secret, c->tls ? "; Secure" : "");
	rum_crypto_wipe(s.secret, sizeof(s.secret));
	rum_api_session_reply(c, 201, rum_api_session_json(&s.who, s.tenant), cookie);
	rum_crypto_wipe(cookie, sizeof(cookie));
	return 0;
}

int rum_api_session_get_run(struct rum_api_call *c)
{
	char tenant[256];
	int rc = rum_sessions_tenant_of(c->api->dom, &c->by, tenant, sizeof(tenant));

	if (rc == 0)
		rum_api_reply_json(c->x, 200, rum_api_session_json(&c->by, tenant));
	return rc;
}

int rum_api_session_end_run(struct rum_api_call *c)
{
	char cookie[128];
	int rc = rum_sessions_end(c->api->dom, &c->by);

	if (rc != 0)
		return rc;
	snprintf(cookie, sizeof(cookie), "%s=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0%s",
		 RUM_API_SESSION_COOKIE, c->tls ? "; Secure" : "");
	rum_api_session_reply(c, 200, json_pack("{s:s}", "status", "signed out"), cookie);
	return 0;
}
