#include "store.h"

#include "internal.h"
#include "util/err.h"

#include <arpa/inet.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct rum_db_stmt rum_db_statements[] = {
	{"tenant_find", "SELECT id FROM tenants WHERE name = $1", 1},
	{"tenant_ensure",
	 "WITH ins AS (INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING "
	 "RETURNING id) SELECT id FROM ins UNION ALL SELECT id FROM tenants WHERE name = $1",
	 1},
	{"tenant_create",
	 "INSERT INTO tenants (name, smart_account, virtual_account) VALUES ($1, $2, $3) "
	 "RETURNING id",
	 3},
	{"tenant_list",
	 "SELECT id, name, smart_account, virtual_account, "
	 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	 "FROM tenants ORDER BY name",
	 0},
	{"device_touch", "SELECT rum_device_touch($1, $2, $3, $4, $5, $6, $7)", 7},
	{"upload_insert",
	 "INSERT INTO uploads (tenant_id, device_id, kind, source, source_address, sub_path, "
	 "request_body, request_state) VALUES ($1, $2, $3, $4, $5, $6, $7, "
	 "CASE WHEN $7::text IS NULL THEN 'none' ELSE 'pending' END) RETURNING id",
	 7},
	{"upload_device", "SELECT coalesce(device_id, 0) FROM uploads WHERE id = $1 AND tenant_id = $2",
	 2},
	{"report_put",
	 "SELECT rum_report_store($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15)",
	 15},
	{"ack_take",
	 "WITH pick AS (SELECT id FROM acks WHERE device_id = $1 AND delivered_at IS NULL "
	 "AND superseded_by IS NULL ORDER BY id DESC LIMIT 1 FOR UPDATE), "
	 "sup AS (UPDATE acks SET superseded_by = (SELECT id FROM pick) WHERE device_id = $1 "
	 "AND delivered_at IS NULL AND superseded_by IS NULL AND id < (SELECT id FROM pick)), "
	 "del AS (INSERT INTO ack_deliveries (ack_id, address, via) SELECT id, $2, $3 FROM pick), "
	 "upd AS (UPDATE acks a SET delivered_at = now() FROM pick WHERE a.id = pick.id "
	 "RETURNING a.content) SELECT content FROM upd",
	 3},
	{"capture_insert",
	 "INSERT INTO captures (tenant_name, method, path, headers, source_address, body, reason) "
	 "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
	 7},
	{"schema_version", "SELECT coalesce(max(version), 0) FROM rum_schema_migrations", 0},
};
const unsigned rum_db_statements_count = sizeof(rum_db_statements) / sizeof(rum_db_statements[0]);

/* Reads the single int8 of a one-row text result. */
static int rum_store_one_id(PGresult *res, int64_t *out)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	*out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_tenant_find(struct rum_db_txn *txn, const char *name, int64_t *id)
{
	const char *p[1] = {name};
	int rc;
	PGresult *res = rum_db_exec(txn, "tenant_find", 1, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	if (rum_store_one_id(res, id) != 0)
		return rum_err_set(RUM_ENOTFOUND, "unknown tenant");
	return 0;
}

int rum_store_tenant_ensure(struct rum_db_txn *txn, const char *name, int64_t *id)
{
	const char *p[1] = {name};
	int rc;
	PGresult *res = rum_db_exec(txn, "tenant_ensure", 1, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	if (rum_store_one_id(res, id) != 0)
		return rum_err_set(RUM_EINTERNAL, "tenant was neither created nor found");
	return 0;
}

int rum_store_tenant_create(struct rum_db_txn *txn, const char *name, const char *smart_account,
			    const char *virtual_account, int64_t *id)
{
	const char *p[3] = {name, smart_account, virtual_account};
	int rc;
	PGresult *res = rum_db_exec(txn, "tenant_create", 3, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc == RUM_ECONFLICT ? rum_err_set(rc, "tenant '%s' exists already", name)
					   : rc;
	return rum_store_one_id(res, id);
}

int rum_store_tenant_list(struct rum_db_txn *txn,
			  void (*cb)(void *arg, const struct rum_store_tenant *t), void *arg)
{
	int rc;
	PGresult *res = rum_db_exec(txn, "tenant_list", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_tenant t = {
			strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)};

		cb(arg, &t);
	}
	PQclear(res);
	return 0;
}

int rum_store_device_touch(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
			   const char *sn, const char *hostname, const char *software_tag,
			   const char *software_version, const char *address, int64_t *device_id)
{
	char tenant[24];
	const char *p[7] = {tenant, pid, sn, hostname, software_tag, software_version, address};
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tenant_id);
	res = rum_db_exec(txn, "device_touch", 7, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	return rum_store_one_id(res, device_id);
}

int rum_store_upload_insert(struct rum_db_txn *txn, const struct rum_store_upload *u,
			    int64_t *upload_id)
{
	char tenant[24], device[24];
	const char *p[7] = {tenant, u->device_id ? device : NULL, u->kind, u->source,
			    u->address, u->sub_path, u->request_body};
	int lengths[7] = {0, 0, 0, 0, 0, 0, (int)u->request_len};
	int formats[7] = {0, 0, 0, 0, 0, 0, 1}; /* body as binary text: length-delimited */
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)u->tenant_id);
	snprintf(device, sizeof(device), "%lld", (long long)u->device_id);
	res = rum_db_exec(txn, "upload_insert", 7, p, lengths, formats, 0, &rc);
	if (!res)
		return rc;
	return rum_store_one_id(res, upload_id);
}

int rum_store_upload_device(struct rum_db_txn *txn, int64_t tenant_id, int64_t upload_id,
			    int64_t *device_id)
{
	char tenant[24], upload[24];
	const char *p[2] = {upload, tenant};
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tenant_id);
	snprintf(upload, sizeof(upload), "%lld", (long long)upload_id);
	res = rum_db_exec(txn, "upload_device", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (rum_store_one_id(res, device_id) != 0)
		return rum_err_set(RUM_ENOTFOUND, "unknown poll_id");
	return 0;
}

int rum_store_report_put(struct rum_db_txn *txn, const struct rum_store_report *r,
			 enum rum_store_outcome *outcome)
{
	char ids[4][24], rid[24], start[24], end[24], format[2] = {r->format, '\0'};
	const char *p[15] = {ids[0], ids[1], r->upload_id ? ids[2] : NULL, rid, r->pid, r->sn,
			     format, r->entitlement_tag, r->software_version, r->metric_name,
			     r->last_value, r->first_start >= 0 ? start : NULL,
			     r->last_end >= 0 ? end : NULL, (const char *)r->payload_sha256,
			     r->report};
	int lengths[15] = {0};
	int formats[15] = {0};
	int rc;
	PGresult *res;
	const char *v;

	snprintf(ids[0], sizeof(ids[0]), "%lld", (long long)r->tenant_id);
	snprintf(ids[1], sizeof(ids[1]), "%lld", (long long)r->device_id);
	snprintf(ids[2], sizeof(ids[2]), "%lld", (long long)r->upload_id);
	snprintf(rid, sizeof(rid), "%lld", (long long)r->report_id);
	snprintf(start, sizeof(start), "%lld", (long long)r->first_start);
	snprintf(end, sizeof(end), "%lld", (long long)r->last_end);
	/* The hash and the report travel in binary form: exact bytes, no
	 * escaping, and the report need not be NUL-terminated. */
	lengths[13] = 32;
	formats[13] = 1;
	lengths[14] = (int)r->report_len;
	formats[14] = 1;
	res = rum_db_exec(txn, "report_put", 15, p, lengths, formats, 0, &rc);
	if (!res)
		return rc;
	v = PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "";
	if (strcmp(v, "new") == 0)
		*outcome = RUM_STORE_NEW;
	else if (strcmp(v, "duplicate") == 0)
		*outcome = RUM_STORE_DUPLICATE;
	else if (strcmp(v, "conflict") == 0)
		*outcome = RUM_STORE_CONFLICT;
	else
		rc = rum_err_set(RUM_EINTERNAL, "rum_report_store returned '%s'", v);
	PQclear(res);
	return rc;
}

int rum_store_ack_take(struct rum_db_txn *txn, int64_t device_id, const char *address,
		       const char *via, char **content, size_t *len)
{
	char device[24];
	const char *p[3] = {device, address, via};
	int rc;
	PGresult *res;

	*content = NULL;
	*len = 0;
	snprintf(device, sizeof(device), "%lld", (long long)device_id);
	res = rum_db_exec(txn, "ack_take", 3, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1) {
		size_t n = (size_t)PQgetlength(res, 0, 0);

		*content = malloc(n + 1);
		if (!*content)
			abort();
		memcpy(*content, PQgetvalue(res, 0, 0), n);
		(*content)[n] = '\0';
		*len = n;
	}
	PQclear(res);
	return 0;
}

int rum_store_capture_insert(struct rum_db_txn *txn, const struct rum_store_capture *c)
{
	const char *p[7] = {c->tenant_name, c->method, c->path, c->headers_json,
			    c->address, c->body, c->reason};
	int lengths[7] = {0, 0, 0, 0, 0, (int)c->body_len, 0};
	int formats[7] = {0, 0, 0, 0, 0, 1, 0};
	int rc;
	PGresult *res = rum_db_exec(txn, "capture_insert", 7, p, lengths, formats, 0, &rc);

	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_schema_version(struct rum_db_txn *txn, int *version)
{
	int64_t v;
	int rc;
	PGresult *res = rum_db_exec(txn, "schema_version", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	rc = rum_store_one_id(res, &v);
	*version = (int)v;
	return rc;
}
