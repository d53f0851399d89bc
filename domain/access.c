#include "domain/access.h"

#include "db/db.h"
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
	const char *hash;
	const char *tenant;
	enum rum_role need;
	struct rum_actor *who;
};

static const char *rum_access_need_text(enum rum_role need)
{
	return need == RUM_ROLE_ADMIN ? "an admin token" : "an operator or admin token";
}

static int rum_access_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_access_txn *t = arg;
	struct rum_store_token tok;
	enum rum_role role = RUM_ROLE_READER;
	int64_t tenant_id = 0;
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
	if (rum_role_parse(&role, tok.role) != 0)
		return rum_err_set(RUM_EINTERNAL, "token %" PRId64 " has a bad role", tok.id);
	/* A route of no tenant (the API's description): the role is all. */
	if (!t->tenant)
		return role < t->need ? rum_err_set(RUM_EFORBIDDEN,
						    "this needs %s; the token is a %s token",
						    rum_access_need_text(t->need), tok.role)
				      : 0;
	rc = rum_store_tenant_find(txn, t->tenant, &tenant_id);
	/* Another tenant than the token's is reported exactly as a missing one. */
	if (rc == RUM_ENOTFOUND || (rc == 0 && tok.tenant_id && tok.tenant_id != tenant_id))
		return rum_err_set(RUM_ENOTFOUND, "no tenant named '%s'", t->tenant);
	if (rc != 0)
		return rc;
	if (role < t->need)
		return rum_err_set(RUM_EFORBIDDEN, "this needs %s; the token is a %s token",
				   rum_access_need_text(t->need), tok.role);
	t->who->tenant_id = tenant_id;
	return 0;
}

int rum_access_check(struct rum_domain *dom, const struct rum_access *auth, enum rum_role need,
		     const char *action, struct rum_actor *who)
{
	char hash[65];
	struct rum_access_txn t = {hash, auth->tenant, need, who};
	const char *token = rum_access_bearer(auth->authorization);
	int rc;

	memset(who, 0, sizeof(*who));
	snprintf(who->actor, sizeof(who->actor), "anonymous");
	who->tenant = auth->tenant;
	if (!token) {
		rc = rum_err_set(RUM_EAUTH,
				 auth->authorization
					 ? "the Authorization header is not a rumd bearer token"
					 : "no bearer token (Authorization: Bearer rumd_...)");
	} else {
		rum_access_token_hash(hash, token);
		rc = rum_db_transact(dom->db, rum_access_run, &t);
	}
	if (rc != 0 && rc != RUM_EUNAVAIL && need > RUM_ROLE_READER)
		rum_audit_record(dom, who, action, auth->tenant, "", rc, NULL);
	return rc;
}
