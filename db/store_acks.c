#include "db/store_acks.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdlib.h>

static const struct rum_db_stmt rum_store_acks_stmts[] = {
	{"ack_pending",
	 "SELECT a.id::text, a.content FROM acks a JOIN devices d ON d.id = a.device_id "
	 "WHERE d.tenant_id = $1 AND d.udi_pid = $2 AND d.udi_serial = $3 "
	 "AND a.delivered_at IS NULL AND a.superseded_by IS NULL ORDER BY a.id DESC LIMIT 1",
	 3},
	{"ack_delivered", "SELECT rum_ack_delivered($1, $2, $3)", 3},
	{"ack_newest",
	 "SELECT a.id::text, a.content FROM acks a JOIN devices d ON d.id = a.device_id "
	 "WHERE a.device_id = $1 AND ($2::int8 = 0 OR d.tenant_id = $2) "
	 "ORDER BY a.id DESC LIMIT 1",
	 2},
	{"ack_file", "INSERT INTO ack_deliveries (ack_id, address, via) VALUES ($1, '', 'file')",
	 1},
};

const struct rum_db_stmt_set rum_store_acks_statements = RUM_DB_STMT_SET(rum_store_acks_stmts);

int rum_store_ack_pending(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
			  const char *sn, int64_t *ack_id, char **content, size_t *len)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[3] = {tenant, pid, sn};
	PGresult *res;
	int rc;

	*content = NULL;
	*len = 0;
	*ack_id = 0;
	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, "ack_pending", 3, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1) {
		char *id;
		size_t n;

		rum_db_copy_value(res, 0, 0, &id, &n);
		*ack_id = strtoll(id, NULL, 10);
		free(id);
		rum_db_copy_value(res, 0, 1, content, len);
	}
	PQclear(res);
	return 0;
}

int rum_store_ack_delivered(struct rum_db_txn *txn, int64_t ack_id, const char *address,
			    const char *via)
{
	char id[RUM_TEXT_I64_MAX];
	const char *p[3] = {id, address, via};
	PGresult *res;
	int rc;

	rum_text_i64(id, sizeof(id), ack_id);
	res = rum_db_exec(txn, "ack_delivered", 3, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}

int rum_store_ack_file(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
		       int64_t *ack_id, char **content, size_t *len)
{
	char d[RUM_TEXT_I64_MAX], t[RUM_TEXT_I64_MAX];
	const char *p[2] = {d, t};
	PGresult *res;
	int rc;

	*content = NULL;
	*len = 0;
	rum_text_i64(d, sizeof(d), device_id);
	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "ack_newest", 2, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND,
				   tenant_id ? "device %" PRId64 " has no ACK in this tenant"
					     : "device %" PRId64 " has no ACK (import one with "
					       "rumd import)",
				   device_id);
	}
	return rum_db_ack_file_take(txn, res, "ack_file", ack_id, content, len);
}
