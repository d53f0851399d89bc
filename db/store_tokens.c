#include "db/store_admin.h"

#include "db/internal.h"
#include "lib/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rum_db_stmt rum_store_admin_stmts[] = {
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
	{"admin_audit",
	 "INSERT INTO audit_log (actor, token_id, action, tenant, target, result, details) "
	 "VALUES ($1, NULLIF($2::int8, 0), $3, $4, $5, $6, coalesce($7::jsonb, '{}'))",
	 7},
	{"admin_batch_file",
	 "SELECT file_name FROM export_batches WHERE id = $1 AND tenant_id = $2", 2},
	{"admin_ack_newest",
	 "SELECT a.id::text, a.content FROM acks a JOIN devices d ON d.id = a.device_id "
	 "WHERE a.device_id = $1 AND d.tenant_id = $2 ORDER BY a.id DESC LIMIT 1",
	 2},
	{"admin_ack_delivered",
	 "INSERT INTO ack_deliveries (ack_id, address, via) VALUES ($1, '', 'file')", 1},
};

const struct rum_db_stmt_set rum_store_admin_statements = RUM_DB_STMT_SET(rum_store_admin_stmts);

static void rum_store_admin_i64(char *out, size_t size, int64_t v)
{
	snprintf(out, size, "%" PRId64, v);
}

int rum_store_admin_token_insert(struct rum_db_txn *txn, const char *hash_hex,
				 const char *prefix, const char *role, int64_t tenant_id,
				 const char *description, int64_t *id)
{
	char t[24];
	const char *p[5] = {hash_hex, prefix, role, t, description};
	int rc;
	PGresult *res;

	rum_store_admin_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "admin_token_insert", 5, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_admin_token_use(struct rum_db_txn *txn, const char *hash_hex,
			      struct rum_store_admin_token *out)
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

int rum_store_admin_token_list(struct rum_db_txn *txn,
			       void (*cb)(void *arg, const struct rum_store_admin_token_row *t),
			       void *arg)
{
	int rc;
	PGresult *res = rum_db_exec(txn, "admin_token_list", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_admin_token_row t = {
			strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), PQgetvalue(res, i, 7)};

		cb(arg, &t);
	}
	PQclear(res);
	return 0;
}

int rum_store_admin_token_revoke(struct rum_db_txn *txn, int64_t id, char *prefix,
				 size_t prefix_size)
{
	char t[24];
	const char *p[1] = {t};
	int rc;
	PGresult *res;

	rum_store_admin_i64(t, sizeof(t), id);
	res = rum_db_exec(txn, "admin_token_revoke", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "no token with id %" PRId64 " (see rumd token list)",
				   id);
	}
	snprintf(prefix, prefix_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int rum_store_admin_audit(struct rum_db_txn *txn, const struct rum_store_admin_audit *a)
{
	char t[24];
	const char *p[7] = {a->actor, t, a->action, a->tenant, a->target ? a->target : "",
			    a->ok ? "ok" : "error", a->details_json};
	int rc;
	PGresult *res;

	rum_store_admin_i64(t, sizeof(t), a->token_id);
	res = rum_db_exec(txn, "admin_audit", 7, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}

int rum_store_admin_batch_file(struct rum_db_txn *txn, int64_t tenant_id, int64_t batch_id,
			       char **file_name)
{
	char b[24], t[24];
	const char *p[2] = {b, t};
	int rc;
	PGresult *res;

	*file_name = NULL;
	rum_store_admin_i64(b, sizeof(b), batch_id);
	rum_store_admin_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "admin_batch_file", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "no export %" PRId64 " in this tenant", batch_id);
	}
	*file_name = strdup(PQgetvalue(res, 0, 0));
	PQclear(res);
	if (!*file_name)
		abort();
	return 0;
}

int rum_store_admin_ack(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			int64_t *ack_id, char **content, size_t *len)
{
	char d[24], t[24];
	const char *p[2] = {d, t};
	int rc;
	PGresult *res;

	*content = NULL;
	*len = 0;
	rum_store_admin_i64(d, sizeof(d), device_id);
	rum_store_admin_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "admin_ack_newest", 2, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "device %" PRId64 " has no ACK in this tenant",
				   device_id);
	}
	return rum_db_ack_file_take(txn, res, "admin_ack_delivered", ack_id, content, len);
}
