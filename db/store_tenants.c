#include "db/store_tenants.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdlib.h>

static const struct rum_db_stmt rum_store_tenants_stmts[] = {
	{"tenant_find", "SELECT id FROM tenants WHERE name = $1", 1},
	/* When a concurrent transaction inserts the same name, this waits for
	 * it and returns nothing: the caller then looks the name up again. */
	{"tenant_insert",
	 "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", 1},
	{"tenant_create",
	 "INSERT INTO tenants (name, smart_account, virtual_account) VALUES ($1, $2, $3) "
	 "RETURNING id",
	 3},
	{"tenant_update",
	 "UPDATE tenants SET smart_account = coalesce($2, smart_account), "
	 "virtual_account = coalesce($3, virtual_account) WHERE id = $1 RETURNING id",
	 3},
	{"tenant_list",
	 "SELECT id, name, smart_account, virtual_account, "
	 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	 "FROM tenants WHERE $1::int8 = 0 OR id = $1::int8 ORDER BY name",
	 1},
};

const struct rum_db_stmt_set rum_store_tenants_statements = RUM_DB_STMT_SET(rum_store_tenants_stmts);

int rum_store_tenant_find(struct rum_db_txn *txn, const char *name, int64_t *id)
{
	const char *p[1] = {name};
	int rc;
	PGresult *res = rum_db_exec(txn, "tenant_find", 1, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	if (rum_db_one_id(res, id) != 0)
		return rum_err_set(RUM_ENOTFOUND, "unknown tenant");
	return 0;
}

int rum_store_tenant_ensure(struct rum_db_txn *txn, const char *name, int64_t *id)
{
	const char *p[1] = {name};
	int rc = rum_store_tenant_find(txn, name, id);
	PGresult *res;

	if (rc != RUM_ENOTFOUND)
		return rc;
	res = rum_db_exec(txn, "tenant_insert", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (rum_db_one_id(res, id) == 0)
		return 0;
	/* Created meanwhile by someone else (a new statement sees it). */
	return rum_store_tenant_find(txn, name, id);
}

int rum_store_tenant_create(struct rum_db_txn *txn, const char *name, const char *smart_account,
			    const char *virtual_account, int64_t *id)
{
	const char *p[3] = {name, smart_account, virtual_account};
	int64_t existing;
	int rc = rum_store_tenant_find(txn, name, &existing);
	PGresult *res;

	/* Asked first: a unique violation reads as bad input, not as a clash. */
	if (rc == 0)
		return rum_err_set(RUM_ECONFLICT, "tenant '%s' exists already", name);
	if (rc != RUM_ENOTFOUND)
		return rc;
	res = rum_db_exec(txn, "tenant_create", 3, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc == RUM_ECONFLICT ? rum_err_set(rc, "tenant '%s' exists already", name)
					   : rc;
	return rum_db_one_id(res, id);
}

int rum_store_tenant_update(struct rum_db_txn *txn, int64_t id, const char *smart_account,
			    const char *virtual_account)
{
	char t[24];
	const char *p[3] = {t, smart_account, virtual_account};
	int64_t got;
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), id);
	res = rum_db_exec(txn, "tenant_update", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	return rum_db_one_id(res, &got);
}

int rum_store_tenant_list(struct rum_db_txn *txn, int64_t only,
			  void (*cb)(void *arg, const struct rum_store_tenant *t), void *arg)
{
	char o[24];
	const char *p[1] = {o};
	int rc;
	PGresult *res;

	rum_text_i64(o, sizeof(o), only);
	res = rum_db_exec(txn, "tenant_list", 1, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_tenant t = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
					     PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
					     PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)};

		cb(arg, &t);
	}
	PQclear(res);
	return 0;
}
