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
	struct rum_store_audit a = {"cli", 0, "token-create", t->tenant, target, true, NULL};
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

int rum_tokens_create(struct rum_domain *dom, const char *role, const char *tenant,
		      const char *description, char **token, int64_t *id)
{
	struct rum_actor cli = {"cli", 0, NULL, 0};
	uint8_t secret[32];
	char hash[65], prefix[RUM_TOKEN_PREFIX_LEN + 1];
	struct rum_tokens_txn t = {role, tenant, description ? description : "", hash, prefix,
				   0,    ""};
	enum rum_role r;
	char *tok = malloc(RUM_TOKEN_LEN + 1);
	int rc = rum_role_parse(&r, role);

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
			rum_audit_record(dom, &cli, "token-create", tenant, "", rc,
					 json_pack("{s:s}", "role", role ? role : ""));
		memset(tok, 0, RUM_TOKEN_LEN + 1);
		free(tok);
		return rc;
	}
	*id = t.id;
	*token = tok;
	return 0;
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
	int64_t id;
	char *prefix;
};

static int rum_tokens_revoke_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tokens_revoke_txn *t = arg;
	char target[24];
	struct rum_store_audit a = {"cli", 0, "token-revoke", NULL, target, true, NULL};
	int rc;

	snprintf(target, sizeof(target), "%" PRId64, t->id);
	rc = rum_store_token_revoke(txn, t->id, t->prefix, 24);
	return rc ? rc : rum_store_audit(txn, &a);
}

int rum_tokens_revoke(struct rum_domain *dom, int64_t id, char *prefix)
{
	struct rum_actor cli = {"cli", 0, NULL, 0};
	struct rum_tokens_revoke_txn t = {id, prefix};
	char target[24];
	int rc = rum_db_transact(dom->db, rum_tokens_revoke_run, &t);

	if (rc != 0 && rc != RUM_EUNAVAIL) {
		snprintf(target, sizeof(target), "%" PRId64, id);
		rum_audit_record(dom, &cli, "token-revoke", NULL, target, rc, NULL);
	}
	return rc;
}
