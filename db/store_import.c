#include "db/store_import.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Any constant, the same in every rumd: file imports take it alone, one
 * device's imports share it. */
#define RUM_STORE_IMPORT_LOCK "7340033003"
/* The two-key space (which does not overlap the one-key space) of one
 * device's imports: this constant, and the device id folded into 31 bits.
 * Two devices that fold alike only wait for each other. */
#define RUM_STORE_IMPORT_DEVICE_LOCKS "7340033"

static const struct rum_db_stmt rum_store_import_stmts[] = {
	{"import_lock", "SELECT pg_advisory_xact_lock($1::int8)", 1},
	{"import_lock_device",
	 "SELECT pg_advisory_xact_lock_shared($1::int8), pg_advisory_xact_lock($2::int4, "
	 "($3::int8 % 2147483647)::int4)",
	 3},
	{"import_device", "SELECT id, tenant_id, udi_pid, udi_serial FROM devices WHERE id = $1",
	 1},
	{"import_device_udi",
	 "SELECT id, tenant_id, udi_pid, udi_serial FROM devices WHERE udi_pid = $1 "
	 "AND udi_serial = $2 AND ($3::int8 = 0 OR tenant_id = $3::int8) ORDER BY id LIMIT $4",
	 4},
	{"import_tenant_devices", "SELECT id FROM devices WHERE tenant_id = $1 ORDER BY id", 1},
	{"import_find",
	 "SELECT id, to_char(imported_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	 "FROM imports WHERE file_sha256 = decode($1, 'hex') AND scope = $2",
	 2},
	{"import_insert",
	 "INSERT INTO imports (file_name, file_sha256, scope, kind) "
	 "VALUES ($1, decode($2, 'hex'), $3, $4) RETURNING id",
	 4},
	{"import_finish",
	 "UPDATE imports SET devices = $2, acks = $3, reports_acked = $4, skipped = $5 "
	 "WHERE id = $1",
	 5},
	{"import_ack_find",
	 "SELECT id FROM acks WHERE device_id = $1 AND content = $2 ORDER BY id DESC LIMIT 1", 2},
	{"import_ack_insert",
	 "INSERT INTO acks (tenant_id, device_id, content) VALUES ($1, $2, $3) RETURNING id", 3},
	{"import_batch",
	 "SELECT e.id FROM export_batches e WHERE e.tenant_id = $1 AND e.ts = $2 AND EXISTS "
	 "(SELECT 1 FROM export_batch_reports b WHERE b.batch_id = e.id AND b.device_id = $3) "
	 "ORDER BY e.id DESC LIMIT 1",
	 3},
	{"import_ack_reports",
	 "UPDATE rum_reports SET acked_at = now() WHERE device_id = $1 AND acked_at IS NULL "
	 "AND (id IN (SELECT report_row FROM export_batch_reports WHERE batch_id = $2 "
	 "AND device_id = $1) OR (conflict_of IS NULL AND report_id = ANY ($3::int8[])))",
	 3},
	{"import_ack_record",
	 "INSERT INTO import_acks (import_id, ack_id, device_id, entry_name, new_ack, "
	 "export_batch_id, policy_name, policy_version, reporting_days, smart_account, "
	 "virtual_account, has_rum_ack, has_trust_code, has_authorization, rum_ack_json, "
	 "reports_acked, policy_first_days, policy_ongoing_days, policy_change_days) "
	 "VALUES ($1, $2, $3, $4, $5, NULLIF($6::int8, 0), $7, $8, NULLIF($9::int4, -1), $10, "
	 "$11, $12, $13, $14, $15, $16, NULLIF($17::int4, -1), NULLIF($18::int4, -1), "
	 "NULLIF($19::int4, -1))",
	 19},
};

const struct rum_db_stmt_set rum_store_import_statements = RUM_DB_STMT_SET(rum_store_import_stmts);

int rum_store_import_start(struct rum_db_txn *txn, int64_t device_id)
{
	char dev[24];
	const char *p[3] = {RUM_STORE_IMPORT_LOCK, RUM_STORE_IMPORT_DEVICE_LOCKS, dev};
	PGresult *res;
	int rc = 0;

	rum_text_i64(dev, sizeof(dev), device_id);
	if (device_id > 0)
		res = rum_db_exec(txn, "import_lock_device", 3, p, NULL, NULL, 0, &rc);
	else
		res = rum_db_exec(txn, "import_lock", 1, p, NULL, NULL, 0, &rc);
	PQclear(res);
	/* One import fills acks and import_acks from empty in one transaction.
	 * Cached generic plans (ours and the foreign-key checks') would keep
	 * the sequential scans chosen while those tables were empty, making
	 * the import quadratic: 47 s instead of 20 s for 10,000 devices. A
	 * one-device import fills nothing from empty: it keeps the cached
	 * plans, whose planning would otherwise cost more than the work. */
	if (rc == 0 && device_id <= 0)
		rc = rum_db_command(txn, "SET LOCAL plan_cache_mode = force_custom_plan");
	return rc;
}

static void rum_store_import_device_row(PGresult *res, int row, struct rum_store_import_device *d)
{
	d->id = strtoll(PQgetvalue(res, row, 0), NULL, 10);
	d->tenant_id = strtoll(PQgetvalue(res, row, 1), NULL, 10);
	snprintf(d->pid, sizeof(d->pid), "%s", PQgetvalue(res, row, 2));
	snprintf(d->sn, sizeof(d->sn), "%s", PQgetvalue(res, row, 3));
}

int rum_store_import_device(struct rum_db_txn *txn, int64_t id, struct rum_store_import_device *out)
{
	char b[24];
	const char *p[1] = {b};
	int rc;
	PGresult *res;

	rum_text_i64(b, sizeof(b), id);
	res = rum_db_exec(txn, "import_device", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1)
		rum_store_import_device_row(res, 0, out);
	else
		rc = rum_err_set(RUM_ENOTFOUND, "device %" PRId64 " does not exist", id);
	PQclear(res);
	return rc;
}

int rum_store_import_device_by_udi(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
				   const char *sn, struct rum_store_import_device *out, size_t max,
				   size_t *n)
{
	char t[24], m[24];
	const char *p[4] = {pid, sn, t, m};
	int rc;
	PGresult *res;

	*n = 0;
	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(m, sizeof(m), (int64_t)max);
	res = rum_db_exec(txn, "import_device_udi", 4, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res) && (size_t)i < max; i++)
		rum_store_import_device_row(res, i, &out[(*n)++]);
	PQclear(res);
	return 0;
}

int rum_store_import_tenant_devices(struct rum_db_txn *txn, int64_t tenant_id, int64_t **ids,
				    size_t *n)
{
	char t[24];
	const char *p[1] = {t};
	int rc;
	PGresult *res;

	*ids = NULL;
	*n = 0;
	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "import_tenant_devices", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*ids = calloc((size_t)PQntuples(res) + 1, sizeof(**ids));
	if (!*ids)
		abort();
	for (int i = 0; i < PQntuples(res); i++)
		(*ids)[(*n)++] = strtoll(PQgetvalue(res, i, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_import_find(struct rum_db_txn *txn, const char *sha256_hex, const char *scope,
			  int64_t *id, char *when, size_t when_size)
{
	const char *p[2] = {sha256_hex, scope};
	int rc;
	PGresult *res = rum_db_exec(txn, "import_find", 2, p, NULL, NULL, 0, &rc);

	*id = 0;
	if (!res)
		return rc;
	if (PQntuples(res) > 0) {
		*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		snprintf(when, when_size, "%s", PQgetvalue(res, 0, 1));
	}
	PQclear(res);
	return 0;
}

int rum_store_import_insert(struct rum_db_txn *txn, const char *file_name, const char *sha256_hex,
			    const char *scope, const char *kind, int64_t *id)
{
	const char *p[4] = {file_name, sha256_hex, scope, kind};
	int rc;
	PGresult *res = rum_db_exec(txn, "import_insert", 4, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	*id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_import_finish(struct rum_db_txn *txn, int64_t id, int64_t devices, int64_t acks,
			    int64_t reports, int64_t skipped)
{
	char b[5][24];
	const char *p[5] = {b[0], b[1], b[2], b[3], b[4]};
	int64_t v[5] = {id, devices, acks, reports, skipped};
	int rc;
	PGresult *res;

	for (int i = 0; i < 5; i++)
		rum_text_i64(b[i], sizeof(b[i]), v[i]);
	res = rum_db_exec(txn, "import_finish", 5, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}

int rum_store_import_ack_put(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			     const char *content, size_t len, int64_t *ack_id, bool *is_new)
{
	char t[24], d[24];
	const char *fp[2] = {d, content}, *ip[3] = {t, d, content};
	int fl[2] = {0, (int)len}, ff[2] = {0, 1}, il[3] = {0, 0, (int)len}, iff[3] = {0, 0, 1};
	int rc;
	PGresult *res;

	*ack_id = 0;
	*is_new = false;
	if (len > (size_t)INT32_MAX)
		return rum_err_set(RUM_ETOOBIG, "ACK file too large");
	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(d, sizeof(d), device_id);
	res = rum_db_exec(txn, "import_ack_find", 2, fp, fl, ff, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) > 0) {
		*ack_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
		PQclear(res);
		return 0;
	}
	PQclear(res);
	res = rum_db_exec(txn, "import_ack_insert", 3, ip, il, iff, 0, &rc);
	if (!res)
		return rc;
	*ack_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	*is_new = true;
	PQclear(res);
	return 0;
}

int rum_store_import_batch(struct rum_db_txn *txn, int64_t tenant_id, const char *ts,
			   int64_t device_id, int64_t *batch_id)
{
	char t[24], d[24];
	const char *p[3] = {t, ts, d};
	int rc;
	PGresult *res;

	*batch_id = 0;
	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(d, sizeof(d), device_id);
	res = rum_db_exec(txn, "import_batch", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) > 0)
		*batch_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_import_ack_reports(struct rum_db_txn *txn, int64_t device_id, int64_t batch_id,
				 const int64_t *ids, size_t n, int64_t *count)
{
	char d[24], b[24], *arr;
	const char *p[3] = {d, b, NULL};
	size_t cap = n * 21 + 3, len = 0;
	int rc;
	PGresult *res;

	*count = 0;
	rum_text_i64(d, sizeof(d), device_id);
	rum_text_i64(b, sizeof(b), batch_id);
	arr = malloc(cap); /* only numbers go into the array literal */
	if (!arr)
		abort();
	arr[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(arr + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
	arr[len++] = '}';
	arr[len] = '\0';
	p[2] = arr;
	res = rum_db_exec(txn, "import_ack_reports", 3, p, NULL, NULL, 0, &rc);
	free(arr);
	if (!res)
		return rc;
	*count = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_import_ack_record(struct rum_db_txn *txn, const struct rum_store_import_ack *a)
{
	char b[9][24];
	const char *p[19];
	int rc;
	PGresult *res;

	rum_text_i64(b[0], sizeof(b[0]), a->import_id);
	rum_text_i64(b[1], sizeof(b[1]), a->ack_id);
	rum_text_i64(b[2], sizeof(b[2]), a->device_id);
	rum_text_i64(b[3], sizeof(b[3]), a->batch_id);
	rum_text_i64(b[4], sizeof(b[4]), a->reporting_days);
	rum_text_i64(b[5], sizeof(b[5]), a->reports_acked);
	p[0] = b[0];
	p[1] = b[1];
	p[2] = b[2];
	p[3] = a->entry_name;
	p[4] = a->new_ack ? "true" : "false";
	p[5] = b[3];
	p[6] = a->policy_name;
	p[7] = a->policy_version;
	p[8] = b[4];
	p[9] = a->smart_account;
	p[10] = a->virtual_account;
	p[11] = a->has_rum_ack ? "true" : "false";
	p[12] = a->has_trust_code ? "true" : "false";
	p[13] = a->has_authorization ? "true" : "false";
	p[14] = a->rum_ack_json;
	p[15] = b[5];
	rum_text_i64(b[6], sizeof(b[6]), a->first_days);
	rum_text_i64(b[7], sizeof(b[7]), a->ongoing_days);
	rum_text_i64(b[8], sizeof(b[8]), a->change_days);
	p[16] = b[6];
	p[17] = b[7];
	p[18] = b[8];
	res = rum_db_exec(txn, "import_ack_record", 19, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}
