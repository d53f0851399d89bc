#include "domain/access.h"

#include "db/db.h"
#include "db/store_sessions.h"
#include "db/store_tenants.h"
#include "db/store_tokens.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

int rum_role_parse(enum rum_role *out, const char *text)
{
	if (text && strcmp(text, "admin") == 0)
		*out = RUM_ROLE_ADMIN;
	else if (text && strcmp(text, "operator") == 0)
		*out = RUM_ROLE_OPERATOR;
	else if (text && strcmp(text, "reader") == 0)
		*out = RUM_ROLE_READER;
	else
		return rum_err_set(RUM_EINVAL, "a role is admin, operator or reader");
	return 0;
}

void rum_access_token_hash(char out[65], const char *token)
{
	uint8_t sha[RUM_SHA256_LEN];

	rum_crypto_sha256(sha, token, strlen(token));
	rum_text_hex(out, sha, sizeof(sha));
}

/* The token of an "Authorization: Bearer <token>" value, checked for shape
 * only; NULL when there is none. */
static const char *rum_access_bearer(const char *authorization)
{
	const char *t;
	size_t n;

	if (!authorization || strncasecmp(authorization, "Bearer ", 7) != 0)
		return NULL;
	t = authorization + 7;
	while (*t == ' ')
		t++;
	n = strcspn(t, " ");
	if (n != RUM_TOKEN_LEN || t[n] != '\0' || strncmp(t, "rumd_", 5) != 0)
		return NULL;
	for (size_t i = 5; i < n; i++)
		if (!((t[i] >= '0' && t[i] <= '9') || (t[i] >= 'a' && t[i] <= 'f')))
			return NULL;
	return t;
}

struct rum_access_txn {
	const char *hash;         /* the bearer token's, or NULL */
	const char *session_hash; /* the session secret's, or NULL */
	const struct rum_access *auth;
	int idle_s;
	enum rum_role need;
	struct rum_actor *who;
};

static const char *rum_access_need_text(enum rum_role need)
{
	return need == RUM_ROLE_ADMIN ? "an admin token" : "an operator or admin token";
}

/* Who asks is known (role_text, bound: their tenant, 0: every one): may they
 * do `need` on the tenant named? of: "token" or "session", for messages. */
static int rum_access_authorize(struct rum_db_txn *txn, struct rum_access_txn *t,
				const char *role_text, int64_t bound, const char *of)
{
	enum rum_role role = RUM_ROLE_READER;
	int64_t tenant_id = 0;
	int rc;

	if (rum_role_parse(&role, role_text) != 0)
		return rum_err_set(RUM_EINTERNAL, "%s has a bad role", t->who->actor);
	snprintf(t->who->role, sizeof(t->who->role), "%s", role_text);
	t->who->token_tenant_id = bound;
	/* A route of no tenant (the API's description): the role is all. */
	if (t->auth->tenant) {
		rc = rum_store_tenant_find(txn, t->auth->tenant, &tenant_id);
		/* Another tenant than the bound one is reported exactly as a
		 * missing one. */
		if (rc == RUM_ENOTFOUND || (rc == 0 && bound && bound != tenant_id))
			return rum_err_set(RUM_ENOTFOUND, "no tenant named '%s'", t->auth->tenant);
		if (rc != 0)
			return rc;
	}
	if (role < t->need)
		return rum_err_set(RUM_EFORBIDDEN, "this needs %s; the %s is a %s %s",
				   rum_access_need_text(t->need), of, role_text, of);
	t->who->tenant_id = tenant_id;
	return 0;
}

static int rum_access_token_run(struct rum_db_txn *txn, struct rum_access_txn *t)
{
	struct rum_store_token tok;
	int rc = rum_store_token_use(txn, t->hash, &tok);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	if (rc != 0)
		return rc;
	/* The lookup was by hash; the check in C does not leak by timing. */
	if (!rum_crypto_equal(tok.hash, t->hash, 2 * RUM_SHA256_LEN))
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	snprintf(t->who->actor, sizeof(t->who->actor), "token %" PRId64 " (%s)", tok.id,
		 tok.prefix);
	t->who->token_id = tok.id;
	t->who->token_tenant_id = tok.tenant_id;
	if (tok.revoked)
		return rum_err_set(RUM_EAUTH, "unknown or revoked token");
	return rum_access_authorize(txn, t, tok.role, tok.tenant_id, "token");
}

static int rum_access_session_run(struct rum_db_txn *txn, struct rum_access_txn *t)
{
	struct rum_store_session s;
	const char *csrf = t->auth->csrf;
	int rc = rum_store_session_find(txn, t->session_hash, t->idle_s, &s);

	if (rc == RUM_ENOTFOUND || (rc == 0 && !s.valid))
		return rum_err_set(RUM_EAUTH, "the session has ended; sign in again");
	if (rc != 0)
		return rc;
	if (s.user_id)
		snprintf(t->who->actor, sizeof(t->who->actor), "user %.40s (session %" PRId64 ")",
			 s.who, s.id);
	else
		snprintf(t->who->actor, sizeof(t->who->actor),
			 "token %" PRId64 " (%.24s) session %" PRId64, s.token_id, s.who, s.id);
	t->who->token_id = s.token_id;
	t->who->user_id = s.user_id;
	t->who->session_id = s.id;
	t->who->token_tenant_id = s.tenant_id;
	snprintf(t->who->csrf, sizeof(t->who->csrf), "%s", s.csrf);
	snprintf(t->who->expires_at, sizeof(t->who->expires_at), "%s", s.expires_at);
	/* A page of another site can make the browser send the cookie, but
	 * cannot read the CSRF token to send with it. */
	if (t->auth->changes &&
	    (!csrf || strlen(csrf) != 64 || !rum_crypto_equal(csrf, s.csrf, 64)))
		return rum_err_set(RUM_EFORBIDDEN, "a change from a browser session needs the "
						   "session's X-CSRF-Token header");
	if (s.stale && (rc = rum_store_session_touch(txn, s.id)) != 0)
		return rc;
	return rum_access_authorize(txn, t, s.role, s.tenant_id, "session");
}

static int rum_access_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_access_txn *t = arg;

	return t->hash ? rum_access_token_run(txn, t) : rum_access_session_run(txn, t);
}

/* A session cookie's secret is 64 lowercase hex digits. */
static bool rum_access_session_shape(const char *s)
{
	if (!s || strlen(s) != 64)
		return false;
	for (int i = 0; i < 64; i++)
		if (!((s[i] >= '0' && s[i] <= '9') || (s[i] >= 'a' && s[i] <= 'f')))
			return false;
	return true;
}

int rum_access_check(struct rum_domain *dom, const struct rum_access *auth, enum rum_role need,
		     const char *action, struct rum_actor *who)
{
	char hash[65], session_hash[65];
	struct rum_access_txn t = {NULL, NULL, auth, dom->web_session_idle_s, need, who};
	const char *token = rum_access_bearer(auth->authorization);
	int rc;

	memset(who, 0, sizeof(*who));
	snprintf(who->actor, sizeof(who->actor), "anonymous");
	who->tenant = auth->tenant;
	if (token) {
		rum_access_token_hash(hash, token);
		t.hash = hash;
		rc = rum_db_transact(dom->db, rum_access_run, &t);
	} else if (!auth->authorization && auth->session) {
		if (rum_access_session_shape(auth->session)) {
			rum_access_token_hash(session_hash, auth->session);
			t.session_hash = session_hash;
			rc = rum_db_transact(dom->db, rum_access_run, &t);
		} else {
			rc = rum_err_set(RUM_EAUTH, "the session has ended; sign in again");
		}
	} else {
		rc = rum_err_set(RUM_EAUTH,
				 auth->authorization
					 ? "the Authorization header is not a rumd bearer token"
					 : "no bearer token (Authorization: Bearer rumd_...) "
					   "and no session");
	}
	if (rc != 0 && rc != RUM_EUNAVAIL && (need > RUM_ROLE_READER || auth->changes))
		rum_audit_record(dom, who, action, auth->tenant, "", rc, NULL);
	return rc;
}
