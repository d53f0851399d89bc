#include "db/store_export.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* FETCH takes its row count as a literal, so a few sizes are prepared and
 * each fetch picks the largest that fits its byte budget. */
static const int rum_store_export_fetch_sizes[] = {512, 64, 8, 1};

static const struct rum_db_stmt rum_store_export_stmts[] = {
	{"export_utc", "SELECT set_config('TimeZone', 'UTC', true)", 0},
	{"export_tenant",
	 "SELECT t.id, t.smart_account, t.virtual_account, i.uuid::text "
	 "FROM tenants t CROSS JOIN rum_instance i WHERE t.name = $1",
	 1},
	{"export_since", "SELECT $1::timestamptz", 1},
	{"export_unknown_device",
	 "SELECT u.d FROM unnest($2::int8[]) WITH ORDINALITY AS u(d, n) WHERE NOT EXISTS "
	 "(SELECT 1 FROM devices WHERE id = u.d AND tenant_id = $1) ORDER BY u.n LIMIT 1",
	 2},
	{"export_batch_insert",
	 "INSERT INTO export_batches (tenant_id, file_name, ts, selection) "
	 "VALUES ($1, $2, $3, $4) RETURNING id",
	 4},
	/* The selection, recorded in one statement: what the cursor then reads
	 * is exactly what the batch says went into the file. --since takes
	 * acknowledged reports too (as a device's `save usage days N` does). */
	{"export_batch_fill",
	 "INSERT INTO export_batch_reports (batch_id, device_id, report_row) "
	 "SELECT $1, r.device_id, r.id FROM rum_reports r "
	 "WHERE r.tenant_id = $2 AND r.conflict_of IS NULL AND r.pruned_at IS NULL "
	 "AND ($3::bool OR $4::timestamptz IS NOT NULL OR r.acked_at IS NULL) "
	 "AND ($4::timestamptz IS NULL OR r.received_at >= $4::timestamptz) "
	 "AND ($5::int8[] IS NULL OR r.device_id = ANY ($5::int8[]))",
	 5},
	{"export_declare",
	 "DECLARE rum_export NO SCROLL CURSOR FOR "
	 "SELECT b.device_id, d.udi_pid, d.udi_serial, d.hostname, d.software_tag, r.report "
	 "FROM export_batch_reports b JOIN rum_reports r ON r.id = b.report_row "
	 "JOIN devices d ON d.id = b.device_id WHERE b.batch_id = $1 "
	 "ORDER BY b.device_id, b.report_row",
	 1},
	{"export_fetch_512", "FETCH 512 FROM rum_export", 0},
	{"export_fetch_64", "FETCH 64 FROM rum_export", 0},
	{"export_fetch_8", "FETCH 8 FROM rum_export", 0},
	{"export_fetch_1", "FETCH 1 FROM rum_export", 0},
	{"export_close", "CLOSE rum_export", 0},
	{"export_counts",
	 "UPDATE export_batches SET devices = $2, reports = $3 WHERE id = $1 "
	 "AND $3 = (SELECT count(*) FROM export_batch_reports WHERE batch_id = $1) "
	 "AND $2 = (SELECT count(DISTINCT device_id) FROM export_batch_reports "
	 "WHERE batch_id = $1) RETURNING id",
	 3},
	{"export_delete", "DELETE FROM export_batches WHERE id = $1", 1},
	{"export_file_name",
	 "SELECT file_name FROM export_batches WHERE id = $1 AND tenant_id = $2", 2},
	/* A page of batches, newest first, each with how far CSSM's ACKs came
	 * back for it (import_acks_batch). */
	{"export_batch_page",
	 "SELECT b.id, b.file_name, b.selection, b.devices, b.reports, "
	 "to_char(b.created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), "
	 "a.devices_acked, a.reports_acked, coalesce(to_char(a.last_ack_at AT TIME ZONE 'UTC', "
	 "'YYYY-MM-DD\"T\"HH24:MI:SS.MS\"Z\"'), '') "
	 "FROM export_batches b CROSS JOIN LATERAL ("
	 " SELECT count(DISTINCT ia.device_id) AS devices_acked, "
	 " coalesce(sum(ia.reports_acked) FILTER (WHERE ia.new_ack), 0) AS reports_acked, "
	 " max(i.imported_at) AS last_ack_at "
	 " FROM import_acks ia JOIN imports i ON i.id = ia.import_id "
	 " WHERE ia.export_batch_id = b.id) a "
	 "WHERE b.tenant_id = $1 AND b.id < $2 ORDER BY b.id DESC LIMIT $3",
	 3},
};

/* Bytes of reports fetched so far and rows: the average sizes the next fetch. */
static _Thread_local size_t rum_store_export_seen_bytes, rum_store_export_seen_rows;

const struct rum_db_stmt_set rum_store_export_statements = RUM_DB_STMT_SET(rum_store_export_stmts);

int rum_store_export_start(struct rum_db_txn *txn)
{
	PGresult *res;
	int rc = 0;

	res = rum_db_exec(txn, "export_utc", 0, NULL, NULL, NULL, 0, &rc);
	PQclear(res);
	rum_store_export_seen_bytes = 0;
	rum_store_export_seen_rows = 0;
	return rc;
}

static char *rum_store_export_dup(PGresult *res, int row, int col)
{
	char *s = strdup(PQgetvalue(res, row, col));

	if (!s)
		abort();
	return s;
}

int rum_store_export_tenant(struct rum_db_txn *txn, const char *name,
			    struct rum_store_export_tenant *out)
{
	const char *p[1] = {name};
	int rc;
	PGresult *res = rum_db_exec(txn, "export_tenant", 1, p, NULL, NULL, 0, &rc);

	memset(out, 0, sizeof(*out));
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "no tenant named '%s' (see rumd tenant list)",
				   name);
	}
	out->id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	out->smart_account = rum_store_export_dup(res, 0, 1);
	out->virtual_account = rum_store_export_dup(res, 0, 2);
	out->instance_uuid = rum_store_export_dup(res, 0, 3);
	PQclear(res);
	return 0;
}

void rum_store_export_tenant_dispose(struct rum_store_export_tenant *t)
{
	free(t->smart_account);
	free(t->virtual_account);
	free(t->instance_uuid);
	memset(t, 0, sizeof(*t));
}

/* The device ids as a PostgreSQL array literal ("{1,2}"), malloc'd; NULL
 * when there are none. Only numbers go into it. */
static char *rum_store_export_id_array(const int64_t *ids, size_t n)
{
	size_t cap = n * 21 + 3, len = 0;
	char *s;

	if (!ids || n == 0)
		return NULL;
	s = malloc(cap);
	if (!s)
		abort();
	s[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
	s[len++] = '}';
	s[len] = '\0';
	return s;
}

int rum_store_export_check(struct rum_db_txn *txn, const struct rum_store_export_query *q)
{
	char tenant[24], *ids = rum_store_export_id_array(q->devices, q->ndevices);
	const char *p[2] = {tenant, ids};
	PGresult *res;
	int rc = 0;

	snprintf(tenant, sizeof(tenant), "%" PRId64, q->tenant_id);
	if (q->since) {
		const char *sp[1] = {q->since};

		res = rum_db_exec(txn, "export_since", 1, sp, NULL, NULL, 0, &rc);
		PQclear(res);
		if (rc != 0) {
			rc = rum_err_set(RUM_EINVAL,
					 "--since: '%s' is not an ISO-8601 time "
					 "(e.g. 2026-01-31T00:00:00Z)",
					 q->since);
			goto out;
		}
	}
	if (!ids)
		goto out;
	res = rum_db_exec(txn, "export_unknown_device", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		goto out;
	if (PQntuples(res) > 0)
		rc = rum_err_set(RUM_ENOTFOUND, "device %s is not a device of this tenant",
				 PQgetvalue(res, 0, 0));
	PQclear(res);
out:
	free(ids);
	return rc;
}

int rum_store_export_begin(struct rum_db_txn *txn, const struct rum_store_export_query *q,
			   int64_t *batch_id, int64_t *nreports)
{
	char tenant[24], batch[24], *ids = rum_store_export_id_array(q->devices, q->ndevices);
	const char *ins[4] = {tenant, q->file_name, q->ts, q->selection};
	const char *fill[5] = {batch, tenant, q->all ? "true" : "false", q->since, ids};
	const char *decl[1] = {batch};
	PGresult *res;
	int rc;

	*batch_id = 0;
	*nreports = 0;
	snprintf(tenant, sizeof(tenant), "%" PRId64, q->tenant_id);
	res = rum_db_exec(txn, "export_batch_insert", 4, ins, NULL, NULL, 0, &rc);
	if (!res)
		goto out;
	*batch_id = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	snprintf(batch, sizeof(batch), "%" PRId64, *batch_id);
	res = rum_db_exec(txn, "export_batch_fill", 5, fill, NULL, NULL, 0, &rc);
	if (!res)
		goto out;
	*nreports = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	if (*nreports == 0)
		goto out;
	res = rum_db_exec(txn, "export_declare", 1, decl, NULL, NULL, 0, &rc);
	PQclear(res);
out:
	free(ids);
	return rc;
}

static const char *rum_store_export_fetch_stmt(size_t max_bytes, int *count)
{
	static const char *const names[] = {"export_fetch_512", "export_fetch_64", "export_fetch_8",
					    "export_fetch_1"};
	size_t avg = rum_store_export_seen_rows
			     ? rum_store_export_seen_bytes / rum_store_export_seen_rows + 1
			     : 8192;
	size_t i = 0, n = sizeof(names) / sizeof(names[0]);

	while (i + 1 < n && (size_t)rum_store_export_fetch_sizes[i] * avg > max_bytes)
		i++;
	*count = rum_store_export_fetch_sizes[i];
	return names[i];
}

int rum_store_export_fetch(struct rum_db_txn *txn, size_t max_bytes,
			   int (*cb)(void *arg, const struct rum_store_export_row *row), void *arg,
			   size_t *nrows)
{
	int count, rc;
	const char *stmt = rum_store_export_fetch_stmt(max_bytes, &count);
	PGresult *res = rum_db_exec(txn, stmt, 0, NULL, NULL, NULL, 0, &rc);
	int n;

	*nrows = 0;
	if (!res)
		return rc;
	n = PQntuples(res);
	for (int i = 0; i < n && rc == 0; i++) {
		struct rum_store_export_row row = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
						   PQgetvalue(res, i, 1),
						   PQgetvalue(res, i, 2),
						   PQgetvalue(res, i, 3),
						   PQgetvalue(res, i, 4),
						   PQgetvalue(res, i, 5),
						   (size_t)PQgetlength(res, i, 5)};

		rum_store_export_seen_bytes += row.report_len;
		rum_store_export_seen_rows++;
		rc = cb(arg, &row);
	}
	PQclear(res);
	*nrows = (size_t)n;
	return rc;
}

int rum_store_export_finish(struct rum_db_txn *txn, int64_t batch_id, int64_t devices,
			    int64_t reports)
{
	char b[24], d[24], r[24];
	const char *p[3] = {b, d, r};
	PGresult *res = rum_db_exec(txn, "export_close", 0, NULL, NULL, NULL, 0, &(int){0});
	int rc;

	PQclear(res);
	snprintf(b, sizeof(b), "%" PRId64, batch_id);
	snprintf(d, sizeof(d), "%" PRId64, devices);
	snprintf(r, sizeof(r), "%" PRId64, reports);
	res = rum_db_exec(txn, "export_counts", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1)
		rc = rum_err_set(RUM_EINTERNAL,
				 "export batch %s: wrote %s reports of %s devices, "
				 "which is not what the batch recorded",
				 b, r, d);
	PQclear(res);
	return rc;
}

int rum_store_export_delete(struct rum_db_txn *txn, int64_t batch_id)
{
	char b[24];
	const char *p[1] = {b};
	int rc;
	PGresult *res;

	snprintf(b, sizeof(b), "%" PRId64, batch_id);
	res = rum_db_exec(txn, "export_delete", 1, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return rc;
}

int rum_store_export_file_name(struct rum_db_txn *txn, int64_t tenant_id, int64_t batch_id,
			       char **file_name)
{
	char b[24], t[24];
	const char *p[2] = {b, t};
	int rc;
	PGresult *res;

	*file_name = NULL;
	rum_text_i64(b, sizeof(b), batch_id);
	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "export_file_name", 2, p, NULL, NULL, 0, &rc);
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

int rum_store_export_batch_page(struct rum_db_txn *txn, int64_t tenant_id, int64_t before_id,
				int limit,
				void (*cb)(void *arg, const struct rum_store_export_batch *b),
				void *arg)
{
	char t[24], b[24], l[16];
	const char *p[3] = {t, b, l};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(b, sizeof(b), before_id);
	rum_text_i64(l, sizeof(l), limit);
	res = rum_db_exec(txn, "export_batch_page", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_export_batch row = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
						     PQgetvalue(res, i, 1),
						     PQgetvalue(res, i, 2),
						     strtoll(PQgetvalue(res, i, 3), NULL, 10),
						     strtoll(PQgetvalue(res, i, 4), NULL, 10),
						     PQgetvalue(res, i, 5),
						     strtoll(PQgetvalue(res, i, 6), NULL, 10),
						     strtoll(PQgetvalue(res, i, 7), NULL, 10),
						     PQgetvalue(res, i, 8)};

		cb(arg, &row);
	}
	PQclear(res);
	return 0;
}
