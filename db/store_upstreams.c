#include "db/store_upstreams.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define RUM_UPS_TS(col) "to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

/* The columns of an upstream as read back, in rum_store_ups_row's order. */
#define RUM_UPS_SELECT                                                                          \
	"SELECT u.tenant_id, t.name, u.kind, u.url, u.token_url, u.api_url, u.client_id, "      \
	"coalesce(encode(u.client_secret, 'hex'), ''), u.smart_account_id, "                    \
	"u.virtual_account_id, u.smart_account_name, u.virtual_account_name, u.proxy, "        \
	"coalesce(encode(u.proxy_password, 'hex'), ''), u.ca_file, u.connect_timeout_s, "      \
	"u.request_timeout_s, u.sync_interval_s, coalesce(u.sync_soon_s, 0), "                  \
	RUM_UPS_TS("u.created_at") ", " RUM_UPS_TS("u.updated_at") " "                          \
	"FROM upstreams u JOIN tenants t ON t.id = u.tenant_id "                                \
	"WHERE $1::int8 = 0 OR u.tenant_id = $1::int8 ORDER BY t.name"
/* clang-format on */

static const struct rum_db_stmt rum_store_upstreams_stmts[] = {
	/* xmax is 0 on a row this statement inserted, the locking
	 * transaction's id on one it updated. */
	{"ups_set",
	 "INSERT INTO upstreams AS u (tenant_id, kind, url, token_url, api_url, client_id, "
	 "client_secret, smart_account_id, virtual_account_id, smart_account_name, "
	 "virtual_account_name, proxy, proxy_password, ca_file, connect_timeout_s, "
	 "request_timeout_s, sync_interval_s, sync_soon_s) VALUES ($1, $2, $3, $4, $5, $6, "
	 "decode(nullif($7, ''), 'hex'), $8, $9, $10, $11, $12, decode(nullif($13, ''), 'hex'), "
	 "$14, $15, $16, $17, nullif($18::int, 0)) ON CONFLICT (tenant_id) DO UPDATE SET "
	 "kind = EXCLUDED.kind, url = EXCLUDED.url, token_url = EXCLUDED.token_url, "
	 "api_url = EXCLUDED.api_url, client_id = EXCLUDED.client_id, "
	 "client_secret = EXCLUDED.client_secret, smart_account_id = EXCLUDED.smart_account_id, "
	 "virtual_account_id = EXCLUDED.virtual_account_id, "
	 "smart_account_name = EXCLUDED.smart_account_name, "
	 "virtual_account_name = EXCLUDED.virtual_account_name, proxy = EXCLUDED.proxy, "
	 "proxy_password = EXCLUDED.proxy_password, ca_file = EXCLUDED.ca_file, "
	 "connect_timeout_s = EXCLUDED.connect_timeout_s, "
	 "request_timeout_s = EXCLUDED.request_timeout_s, "
	 "sync_interval_s = EXCLUDED.sync_interval_s, sync_soon_s = EXCLUDED.sync_soon_s, "
	 "updated_at = now() RETURNING (u.xmax = 0)",
	 18},
	{"ups_list", RUM_UPS_SELECT, 1},
	{"ups_list_lock", RUM_UPS_SELECT " FOR UPDATE OF u", 1},
	{"ups_remove", "DELETE FROM upstreams WHERE tenant_id = $1 RETURNING kind", 1},
};
const struct rum_db_stmt_set rum_store_upstreams_statements =
	RUM_DB_STMT_SET(rum_store_upstreams_stmts);

/* Hex text of a sealed value ("" for none); the caller frees it. */
static char *rum_store_ups_hex(const uint8_t *data, size_t len)
{
	char *out = malloc(2 * len + 1);

	if (!out)
		abort();
	rum_text_hex(out, data ? data : (const uint8_t *)"", data ? len : 0);
	return out;
}

/* Decodes the hex text of encode(..., 'hex') into a new buffer (NULL for
 * ""); the caller frees it. */
static uint8_t *rum_store_ups_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out;

	*len = 0;
	if (n == 0)
		return NULL;
	out = malloc(n);
	if (!out)
		abort();
	if (rum_text_unhex(out, hex, n) == 0) /* the server's own encode(): always */
		*len = n;
	return out;
}

int rum_store_upstream_set(struct rum_db_txn *txn, const struct rum_store_upstream *u,
			   bool *created)
{
	char tenant[RUM_TEXT_I64_MAX], connect[RUM_TEXT_I64_MAX], request[RUM_TEXT_I64_MAX],
		interval[RUM_TEXT_I64_MAX], soon[RUM_TEXT_I64_MAX];
	char *secret = rum_store_ups_hex(u->client_secret, u->client_secret_len);
	char *proxy_pw = rum_store_ups_hex(u->proxy_password, u->proxy_password_len);
	const char *p[18] = {tenant,
			     u->kind,
			     u->url,
			     u->token_url,
			     u->api_url,
			     u->client_id,
			     secret,
			     u->smart_account_id,
			     u->virtual_account_id,
			     u->smart_account,
			     u->virtual_account,
			     u->proxy,
			     proxy_pw,
			     u->ca_file,
			     connect,
			     request,
			     interval,
			     soon};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), u->tenant_id);
	rum_text_i64(connect, sizeof(connect), u->connect_timeout_s);
	rum_text_i64(request, sizeof(request), u->request_timeout_s);
	rum_text_i64(interval, sizeof(interval), u->interval_s);
	rum_text_i64(soon, sizeof(soon), u->sync_soon_s);
	res = rum_db_exec(txn, "ups_set", 18, p, NULL, NULL, 0, &rc);
	free(secret);
	free(proxy_pw);
	if (!res)
		return rc;
	*created = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

int rum_store_upstream_list(struct rum_db_txn *txn, int64_t tenant_id, bool lock,
			    void (*cb)(void *arg, const struct rum_store_upstream *u), void *arg)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[1] = {tenant};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, lock ? "ups_list_lock" : "ups_list", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_upstream u = {0};
		uint8_t *secret, *proxy_pw;
		int c = 0;

		u.tenant_id = strtoll(PQgetvalue(res, i, c++), NULL, 10);
		u.tenant = PQgetvalue(res, i, c++);
		u.kind = PQgetvalue(res, i, c++);
		u.url = PQgetvalue(res, i, c++);
		u.token_url = PQgetvalue(res, i, c++);
		u.api_url = PQgetvalue(res, i, c++);
		u.client_id = PQgetvalue(res, i, c++);
		secret = rum_store_ups_unhex(PQgetvalue(res, i, c++), &u.client_secret_len);
		u.client_secret = secret;
		u.smart_account_id = PQgetvalue(res, i, c++);
		u.virtual_account_id = PQgetvalue(res, i, c++);
		u.smart_account = PQgetvalue(res, i, c++);
		u.virtual_account = PQgetvalue(res, i, c++);
		u.proxy = PQgetvalue(res, i, c++);
		proxy_pw = rum_store_ups_unhex(PQgetvalue(res, i, c++), &u.proxy_password_len);
		u.proxy_password = proxy_pw;
		u.ca_file = PQgetvalue(res, i, c++);
		u.connect_timeout_s = (int)strtol(PQgetvalue(res, i, c++), NULL, 10);
		u.request_timeout_s = (int)strtol(PQgetvalue(res, i, c++), NULL, 10);
		u.interval_s = strtoll(PQgetvalue(res, i, c++), NULL, 10);
		u.sync_soon_s = strtoll(PQgetvalue(res, i, c++), NULL, 10);
		u.created_at = PQgetvalue(res, i, c++);
		u.updated_at = PQgetvalue(res, i, c++);
		cb(arg, &u);
		free(secret);
		free(proxy_pw);
	}
	PQclear(res);
	return 0;
}

int rum_store_upstream_remove(struct rum_db_txn *txn, int64_t tenant_id, char *kind)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[1] = {tenant};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, "ups_remove", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	snprintf(kind, 16, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}
