#include "db/store_sessions.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQL assembled from macros reads best laid out by hand. */
/* clang-format off */
#define TS(x) "coalesce(to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

static const struct rum_db_stmt rum_store_sessions_stmts[] = {
	{"web_user_insert",
	 "INSERT INTO web_users (name, password_hash, role, tenant_id) "
	 "VALUES ($1, $2, $3, NULLIF($4::int8, 0)) RETURNING id",
	 4},
	{"web_user_get",
	 "SELECT id, password_hash, role, coalesce(tenant_id, 0), disabled_at IS NOT NULL "
	 "FROM web_users WHERE name = $1",
	 1},
	{"web_user_list",
	 "SELECT u.id, u.name, u.role, coalesce(t.name, '*'), " TS("u.created_at") ", "
	 TS("u.password_at") ", " TS("u.disabled_at") ", "
	 "(SELECT count(*) FROM web_sessions s WHERE s.user_id = u.id AND s.ended_at IS NULL "
	 "AND s.expires_at > now()) "
	 "FROM web_users u LEFT JOIN tenants t ON t.id = u.tenant_id ORDER BY u.name",
	 0},
	/* A password change or a disabled user signs the user out everywhere. */
	{"web_user_update",
	 "WITH u AS (UPDATE web_users SET password_hash = coalesce($2, password_hash), "
	 "password_at = CASE WHEN $2 IS NULL THEN password_at ELSE now() END, "
	 "disabled_at = CASE $3::int WHEN 1 THEN coalesce(disabled_at, now()) "
	 "WHEN 0 THEN NULL ELSE disabled_at END WHERE name = $1 RETURNING id), "
	 "e AS (UPDATE web_sessions SET ended_at = now() WHERE user_id IN (SELECT id FROM u) "
	 "AND ended_at IS NULL) SELECT id FROM u",
	 3},
	{"web_session_insert",
	 "INSERT INTO web_sessions (secret_hash, csrf_token, token_id, user_id, expires_at, address) "
	 "VALUES ($1, $2, NULLIF($3::int8, 0), NULLIF($4::int8, 0), "
	 "now() + make_interval(secs => $5::int), $6) "
	 "RETURNING id, " TS("expires_at"),
	 6},
	{"web_session_find",
	 "SELECT s.id, coalesce(s.token_id, 0), coalesce(s.user_id, 0), s.csrf_token, "
	 "coalesce(k.role, u.role), coalesce(k.tenant_id, u.tenant_id, 0), "
	 "coalesce(k.prefix, u.name), " TS("s.expires_at") ", "
	 "s.ended_at IS NULL AND s.expires_at > now() "
	 "AND s.last_seen_at > now() - make_interval(secs => $2::int) "
	 "AND k.revoked_at IS NULL AND u.disabled_at IS NULL, "
	 "s.last_seen_at < now() - interval '60 seconds' "
	 "FROM web_sessions s LEFT JOIN api_tokens k ON k.id = s.token_id "
	 "LEFT JOIN web_users u ON u.id = s.user_id WHERE s.secret_hash = $1",
	 2},
	{"web_session_touch", "UPDATE web_sessions SET last_seen_at = now() WHERE id = $1", 1},
	{"web_session_end",
	 "UPDATE web_sessions SET ended_at = coalesce(ended_at, now()) WHERE id = $1", 1},
};
/* clang-format on */

const struct rum_db_stmt_set rum_store_sessions_statements =
	RUM_DB_STMT_SET(rum_store_sessions_stmts);

static void rum_store_sessions_copy(char *out, size_t size, PGresult *res, int row, int col)
{
	snprintf(out, size, "%s", PQgetvalue(res, row, col));
}

int rum_store_user_insert(struct rum_db_txn *txn, const char *name, const char *password_hash,
			  const char *role, int64_t tenant_id, int64_t *id)
{
	char t[24];
	const char *p[4] = {name, password_hash, role, t};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "web_user_insert", 4, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_user_get(struct rum_db_txn *txn, const char *name, struct rum_store_user *out)
{
	const char *p[1] = {name};
	int rc;
	PGresult *res = rum_db_exec(txn, "web_user_get", 1, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	rum_store_sessions_copy(out->password_hash, sizeof(out->password_hash), res, 0, 1);
	rum_store_sessions_copy(out->role, sizeof(out->role), res, 0, 2);
	out->tenant_id = strtoll(PQgetvalue(res, 0, 3), NULL, 10);
	out->disabled = PQgetvalue(res, 0, 4)[0] == 't';
	PQclear(res);
	return 0;
}

int rum_store_user_list(struct rum_db_txn *txn,
			void (*cb)(void *arg, const struct rum_store_user_row *u), void *arg)
{
	int rc;
	PGresult *res = rum_db_exec(txn, "web_user_list", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_user_row u = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
					       PQgetvalue(res, i, 1),
					       PQgetvalue(res, i, 2),
					       PQgetvalue(res, i, 3),
					       PQgetvalue(res, i, 4),
					       PQgetvalue(res, i, 5),
					       PQgetvalue(res, i, 6),
					       strtoll(PQgetvalue(res, i, 7), NULL, 10)};

		cb(arg, &u);
	}
	PQclear(res);
	return 0;
}

int rum_store_user_update(struct rum_db_txn *txn, const char *name, const char *password_hash,
			  int disabled)
{
	char d[8];
	const char *p[3] = {name, password_hash, d};
	int rc, n;
	PGresult *res;

	snprintf(d, sizeof(d), "%d", disabled);
	res = rum_db_exec(txn, "web_user_update", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : RUM_ENOTFOUND;
}

int rum_store_session_insert(struct rum_db_txn *txn, const char *secret_hash, const char *csrf,
			     int64_t token_id, int64_t user_id, int max_s, const char *address,
			     int64_t *id, char *expires_at)
{
	char t[24], u[24], m[16];
	const char *p[6] = {secret_hash, csrf, t, u, m, address};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), token_id);
	rum_text_i64(u, sizeof(u), user_id);
	rum_text_i64(m, sizeof(m), max_s);
	res = rum_db_exec(txn, "web_session_insert", 6, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	rum_store_sessions_copy(expires_at, 40, res, 0, 1);
	PQclear(res);
	return 0;
}

int rum_store_session_find(struct rum_db_txn *txn, const char *secret_hash, int idle_s,
			   struct rum_store_session *out)
{
	char idle[16];
	const char *p[2] = {secret_hash, idle};
	int rc;
	PGresult *res;

	rum_text_i64(idle, sizeof(idle), idle_s);
	res = rum_db_exec(txn, "web_session_find", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->token_id = strtoll(PQgetvalue(res, 0, 1), NULL, 10);
	out->user_id = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
	rum_store_sessions_copy(out->csrf, sizeof(out->csrf), res, 0, 3);
	rum_store_sessions_copy(out->role, sizeof(out->role), res, 0, 4);
	out->tenant_id = strtoll(PQgetvalue(res, 0, 5), NULL, 10);
	rum_store_sessions_copy(out->who, sizeof(out->who), res, 0, 6);
	rum_store_sessions_copy(out->expires_at, sizeof(out->expires_at), res, 0, 7);
	out->valid = PQgetvalue(res, 0, 8)[0] == 't';
	out->stale = PQgetvalue(res, 0, 9)[0] == 't';
	PQclear(res);
	return 0;
}

static int rum_store_session_by_id(struct rum_db_txn *txn, const char *stmt, int64_t id)
{
	char i[24];
	const char *p[1] = {i};
	int rc;
	PGresult *res;

	rum_text_i64(i, sizeof(i), id);
	res = rum_db_exec(txn, stmt, 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_session_touch(struct rum_db_txn *txn, int64_t id)
{
	return rum_store_session_by_id(txn, "web_session_touch", id);
}

int rum_store_session_end(struct rum_db_txn *txn, int64_t id)
{
	return rum_store_session_by_id(txn, "web_session_end", id);
}
