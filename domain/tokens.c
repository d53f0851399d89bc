#include "domain/tokens.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "db/store_tokens.h"
#include "domain/access.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rum_tokens_txn {
	const struct rum_actor *by;
	const char *role, *tenant, *description;
	const char *hash, *prefix;
	int64_t id;
	char revoked_prefix[24];
};

static int rum_tokens_create_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tokens_txn *t = arg;
	int64_t tenant_id = 0;
	char target[24];
	int rc = 0;
	struct rum_store_audit a = {
		t->by->actor, t->by->token_id, "token-create", t->tenant, target, true, NULL};
	json_t *details;

	if (t->tenant) {
		rc = rum_store_tenant_find(txn, t->tenant, &tenant_id);
		if (rc == RUM_ENOTFOUND)
			rc = rum_err_set(rc, "no tenant named '%s' (see rumd tenant list)",
					 t->tenant);
	}
	if (rc == 0)
		rc = rum_store_token_insert(txn, t->hash, t->prefix, t->role, tenant_id,
					    t->description, &t->id);
	if (rc != 0)
		return rc;
	snprintf(target, sizeof(target), "%" PRId64, t->id);
	details = json_pack("{s:s,s:s}", "role", t->role, "prefix", t->prefix);
	a.details_json = json_dumps(details, JSON_COMPACT);
	json_decref(details);
	if (!a.details_json)
		abort();
	rc = rum_store_audit(txn, &a);
	free((char *)a.details_json);
	return rc;
}

/* Tokens are managed by tokens of every tenant (and the CLI) only. */
static int rum_tokens_bound_refused(struct rum_domain *dom, const struct rum_actor *by,
				    const char *action)
{
	if (!by->token_tenant_id)
		return 0;
	rum_err_set(RUM_EFORBIDDEN, "a token bound to a tenant cannot manage tokens");
	if (action)
		rum_audit_record(dom, by, action, by->tenant, "", RUM_EFORBIDDEN, NULL);
	return RUM_EFORBIDDEN;
}

int rum_tokens_list_by(struct rum_domain *dom, const struct rum_actor *by,
		       void (*cb)(void *arg, const struct rum_token *t), void *arg)
{
	int rc = rum_tokens_bound_refused(dom, by, NULL);

	return rc ? rc : rum_tokens_list(dom, cb, arg);
}

int rum_tokens_create_by(struct rum_domain *dom, const struct rum_actor *by, const char *role,
			 const char *tenant, const char *description, char **token, int64_t *id)
{
	uint8_t secret[32];
	char hash[65], prefix[RUM_TOKEN_PREFIX_LEN + 1];
	struct rum_tokens_txn t = {by,   role,   tenant, description ? description : "",
				   hash, prefix, 0,      ""};
	enum rum_role r;
	char *tok;
	int rc = rum_tokens_bound_refused(dom, by, "token-create");

	*token = NULL;
	if (rc != 0)
		return rc;
	if (description && strlen(description) > 512)
		return rum_err_set(RUM_EINVAL, "description: at most 512 characters");
	tok = malloc(RUM_TOKEN_LEN + 1);
	rc = rum_role_parse(&r, role);

	if (!tok)
		abort();
	*token = NULL;
	memcpy(tok, "rumd_", 5);
	rum_crypto_random(secret, sizeof(secret));
	rum_text_hex(tok + 5, secret, sizeof(secret));
	memset(secret, 0, sizeof(secret));
	rum_access_token_hash(hash, tok);
	snprintf(prefix, sizeof(prefix), "%.*s", RUM_TOKEN_PREFIX_LEN, tok);
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_tokens_create_run, &t);
	if (rc != 0) {
		if (rc != RUM_EUNAVAIL)
			rum_audit_record(dom, by, "token-create", tenant, "", rc,
					 json_pack("{s:s}", "role", role ? role : ""));
		memset(tok, 0, RUM_TOKEN_LEN + 1);
		free(tok);
		return rc;
	}
	*id = t.id;
	*token = tok;
	return 0;
}

int rum_tokens_create(struct rum_domain *dom, const char *role, const char *tenant,
		      const char *description, char **token, int64_t *id)
{
	struct rum_actor cli = {.actor = "cli"};

	return rum_tokens_create_by(dom, &cli, role, tenant, description, token, id);
}

struct rum_tokens_list_ctx {
	void (*cb)(void *arg, const struct rum_token *t);
	void *arg;
};

static void rum_tokens_row(void *arg, const struct rum_store_token_row *row)
{
	struct rum_tokens_list_ctx *c = arg;
	struct rum_token t = {row->id,           row->prefix,      row->role,
			      row->tenant,       row->description, row->created_at,
			      row->last_used_at, row->revoked_at};

	c->cb(c->arg, &t);
}

static int rum_tokens_list_run(struct rum_db_txn *txn, void *arg)
{
	return rum_store_token_list(txn, rum_tokens_row, arg);
}

int rum_tokens_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_token *t),
		    void *arg)
{
	struct rum_tokens_list_ctx c = {cb, arg};

	return rum_db_transact(dom->db, rum_tokens_list_run, &c);
}

struct rum_tokens_revoke_txn {
	const struct rum_actor *by;
	int64_t id;
	char *prefix;
};

static int rum_tokens_revoke_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tokens_revoke_txn *t = arg;
	char target[24];
	struct rum_store_audit a = {
		t->by->actor, t->by->token_id, "token-revoke", NULL, target, true, NULL};
	int rc;

	snprintf(target, sizeof(target), "%" PRId64, t->id);
	rc = rum_store_token_revoke(txn, t->id, t->prefix, 24);
	return rc ? rc : rum_store_audit(txn, &a);
}

int rum_tokens_revoke_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			 char *prefix)
{
	struct rum_tokens_revoke_txn t = {by, id, prefix};
	char target[24];
	int rc = rum_tokens_bound_refused(dom, by, "token-revoke");

	if (rc != 0)
		return rc;
	rc = rum_db_transact(dom->db, rum_tokens_revoke_run, &t);

	if (rc == RUM_ENOTFOUND)
		rc = rum_err_set(rc, "no token %" PRId64, id);
	if (rc != 0 && rc != RUM_EUNAVAIL) {
		snprintf(target, sizeof(target), "%" PRId64, id);
		rum_audit_record(dom, by, "token-revoke", NULL, target, rc, NULL);
	}
	return rc;
}

int rum_tokens_revoke(struct rum_domain *dom, int64_t id, char *prefix)
{
	struct rum_actor cli = {.actor = "cli"};

	return rum_tokens_revoke_by(dom, &cli, id, prefix);
}
