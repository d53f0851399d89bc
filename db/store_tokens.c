#include "db/store_tokens.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rum_db_stmt rum_store_tokens_stmts[] = {
	{"admin_token_insert",
	 "INSERT INTO api_tokens (hash, prefix, role, tenant_id, description) "
	 "VALUES ($1, $2, $3, NULLIF($4::int8, 0), $5) RETURNING id",
	 5},
	{"admin_token_use",
	 "UPDATE api_tokens SET last_used_at = CASE WHEN revoked_at IS NULL THEN now() "
	 "ELSE last_used_at END WHERE hash = $1 "
	 "RETURNING id, hash, prefix, role, coalesce(tenant_id, 0), revoked_at IS NOT NULL",
	 1},
	{"admin_token_list",
	 "SELECT k.id, k.prefix, k.role, coalesce(t.name, '*'), k.description, "
	 "to_char(k.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	 "coalesce(to_char(k.last_used_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), ''), "
	 "coalesce(to_char(k.revoked_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '') "
	 "FROM api_tokens k LEFT JOIN tenants t ON t.id = k.tenant_id ORDER BY k.id",
	 0},
	{"admin_token_revoke",
	 "UPDATE api_tokens SET revoked_at = coalesce(revoked_at, now()) WHERE id = $1 "
	 "RETURNING prefix",
	 1},
	{"admin_audit_page",
	 "SELECT id, to_char(at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), actor, "
	 "action, coalesce(tenant, ''), target, result, details::text FROM audit_log "
	 "WHERE id < $2 AND ($1 = '' OR tenant = $1) ORDER BY id DESC LIMIT $3",
	 3},
	{"admin_audit",
	 "INSERT INTO audit_log (actor, token_id, action, tenant, target, result, details) "
	 "VALUES ($1, NULLIF($2::int8, 0), $3, $4, $5, $6, coalesce($7::jsonb, '{}'))",
	 7},
};

const struct rum_db_stmt_set rum_store_tokens_statements = RUM_DB_STMT_SET(rum_store_tokens_stmts);

int rum_store_token_insert(struct rum_db_txn *txn, const char *hash_hex, const char *prefix,
			   const char *role, int64_t tenant_id, const char *description,
			   int64_t *id)
{
	char t[24];
	const char *p[5] = {hash_hex, prefix, role, t, description};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "admin_token_insert", 5, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_token_use(struct rum_db_txn *txn, const char *hash_hex, struct rum_store_token *out)
{
	const char *p[1] = {hash_hex};
	int rc;
	PGresult *res = rum_db_exec(txn, "admin_token_use", 1, p, NULL, NULL, 0, &rc);

	memset(out, 0, sizeof(*out));
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "unknown token");
	}
	out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	snprintf(out->hash, sizeof(out->hash), "%s", PQgetvalue(res, 0, 1));
	snprintf(out->prefix, sizeof(out->prefix), "%s", PQgetvalue(res, 0, 2));
	snprintf(out->role, sizeof(out->role), "%s", PQgetvalue(res, 0, 3));
	out->tenant_id = strtoll(PQgetvalue(res, 0, 4), NULL, 10);
	out->revoked = strcmp(PQgetvalue(res, 0, 5), "t") == 0;
	PQclear(res);
	return 0;
}

int rum_store_token_list(struct rum_db_txn *txn,
			 void (*cb)(void *arg, const struct rum_store_token_row *t), void *arg)
{
	int rc;
	PGresult *res = rum_db_exec(txn, "admin_token_list", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_token_row t = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
						PQgetvalue(res, i, 1),
						PQgetvalue(res, i, 2),
						PQgetvalue(res, i, 3),
						PQgetvalue(res, i, 4),
						PQgetvalue(res, i, 5),
						PQgetvalue(res, i, 6),
						PQgetvalue(res, i, 7)};

		cb(arg, &t);
	}
	PQclear(res);
	return 0;
}

int rum_store_token_revoke(struct rum_db_txn *txn, int64_t id, char *prefix, size_t prefix_size)
{
	char t[24];
	const char *p[1] = {t};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), id);
	res = rum_db_exec(txn, "admin_token_revoke", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND,
				   "no token with id %" PRId64 " (see rumd token list)", id);
	}
	snprintf(prefix, prefix_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int rum_store_audit(struct rum_db_txn *txn, const struct rum_store_audit *a)
{
	char t[24];
	const char *p[7] = {a->actor,
			    t,
			    a->action,
			    a->tenant,
			    a->target ? a->target : "",
			    a->ok ? "ok" : "error",
			    a->details_json};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), a->token_id);
	res = rum_db_exec(txn, "admin_audit", 7, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}

int rum_store_audit_page(struct rum_db_txn *txn, const char *tenant, int64_t before_id, int limit,
			 void (*cb)(void *arg, const struct rum_store_audit_row *r), void *arg)
{
	char b[24], l[16];
	const char *p[3] = {tenant ? tenant : "", b, l};
	int rc;
	PGresult *res;

	rum_text_i64(b, sizeof(b), before_id);
	rum_text_i64(l, sizeof(l), limit);
	res = rum_db_exec(txn, "admin_audit_page", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_audit_row r = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
						PQgetvalue(res, i, 1),
						PQgetvalue(res, i, 2),
						PQgetvalue(res, i, 3),
						PQgetvalue(res, i, 4),
						PQgetvalue(res, i, 5),
						PQgetvalue(res, i, 6),
						PQgetvalue(res, i, 7)};

		cb(arg, &r);
	}
	PQclear(res);
	return 0;
}
