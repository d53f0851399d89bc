#include "store.h"

#include "internal.h"
#include "util/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

const struct rum_db_stmt rum_db_statements[] = {
	{"tenant_find", "SELECT id FROM tenants WHERE name = $1", 1},
	/* When a concurrent transaction inserts the same name, this waits for
	 * it and returns nothing: the caller then looks the name up again. */
	{"tenant_insert",
	 "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT (name) DO NOTHING RETURNING id", 1},
	{"tenant_create",
	 "INSERT INTO tenants (name, smart_account, virtual_account) VALUES ($1, $2, $3) "
	 "RETURNING id",
	 3},
	{"tenant_list",
	 "SELECT id, name, smart_account, virtual_account, "
	 "to_char(created_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"') "
	 "FROM tenants ORDER BY name",
	 0},
	/* Device upsert at contact time. Empty strings never overwrite what a
	 * device told before. A prepared statement rather than an SQL function:
	 * it is planned once per connection, a function body on every call. */
	{"device_touch",
	 "INSERT INTO devices AS d (tenant_id, udi_pid, udi_serial, hostname, software_tag, "
	 "software_version, last_address) VALUES ($1, $2, $3, $4, $5, $6, $7) "
	 "ON CONFLICT (tenant_id, udi_pid, udi_serial) DO UPDATE SET "
	 "hostname = COALESCE(NULLIF(EXCLUDED.hostname, ''), d.hostname), "
	 "software_tag = COALESCE(NULLIF(EXCLUDED.software_tag, ''), d.software_tag), "
	 "software_version = COALESCE(NULLIF(EXCLUDED.software_version, ''), d.software_version), "
	 "last_contact = now(), last_address = EXCLUDED.last_address "
	 /* A device seen less than a minute ago with nothing new is not written
	  * again: a catching-up device's hello, usage and polls cost one row
	  * version, not one each. */
	 "WHERE d.last_contact < now() - interval '60 seconds' "
	 "OR d.last_address <> EXCLUDED.last_address "
	 "OR (EXCLUDED.hostname <> '' AND EXCLUDED.hostname <> d.hostname) "
	 "OR (EXCLUDED.software_tag <> '' AND EXCLUDED.software_tag <> d.software_tag) "
	 "OR (EXCLUDED.software_version <> '' AND EXCLUDED.software_version <> d.software_version)",
	 7},
	{"upload_insert",
	 "INSERT INTO uploads (tenant_id, device_id, kind, source, source_address, sub_path, "
	 "request_body, request_state, poll_id) VALUES ($1, (SELECT id FROM devices "
	 "WHERE tenant_id = $1 AND udi_pid = $2 AND udi_serial = $3), $4, $5, $6, $7, $8, "
	 "CASE WHEN $8::text IS NULL THEN 'none' ELSE 'pending' END, $9) RETURNING poll_id",
	 9},
	{"report_put",
	 "SELECT rum_report_store($1, (SELECT id FROM devices WHERE tenant_id = $1 "
	 "AND udi_pid = $3 AND udi_serial = $4), currval('uploads_id_seq'), $2, $3, $4, $5, $6, "
	 "$7, $8, $9, $10, $11, $12, $13)",
	 13},
	{"ack_take",
	 "SELECT rum_ack_take((SELECT id FROM devices WHERE tenant_id = $1 AND udi_pid = $2 "
	 "AND udi_serial = $3), $4, $5)",
	 5},
	/* Result polling. Most polls find no ACK waiting: that case is one plain
	 * indexed lookup, planned once per connection; rum_ack_take (a function,
	 * with its row locks and writes) runs only when an ACK is there. No row:
	 * no such upload in the tenant. */
	{"poll_take",
	 "SELECT true, CASE WHEN EXISTS (SELECT 1 FROM acks a WHERE a.device_id = u.device_id "
	 "AND a.delivered_at IS NULL AND a.superseded_by IS NULL) "
	 "THEN rum_ack_take(u.device_id, $3, 'poll') END "
	 "FROM uploads u WHERE u.poll_id = $2 AND u.tenant_id = $1",
	 3},
	{"capture_insert",
	 "INSERT INTO captures (tenant_name, method, path, headers, source_address, body, reason) "
	 "VALUES ($1, $2, $3, $4::jsonb, $5, $6, $7)",
	 7},
	{"capture_list",
	 "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	 "tenant_name, method, path, headers::text, source_address, reason, body FROM captures "
	 "WHERE $1 = '' OR tenant_name = $1 ORDER BY id DESC LIMIT $2",
	 2},
	{"capture_get",
	 "SELECT id, to_char(received_at AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), "
	 "tenant_name, method, path, headers::text, source_address, reason, body FROM captures "
	 "WHERE id = $1",
	 1},
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
	int rc = rum_store_tenant_find(txn, name, id);
	PGresult *res;

	if (rc != RUM_ENOTFOUND)
		return rc;
	res = rum_db_exec(txn, "tenant_insert", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (rum_store_one_id(res, id) == 0)
		return 0;
	/* Created meanwhile by someone else (a new statement sees it). */
	return rum_store_tenant_find(txn, name, id);
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
			   const char *software_version, const char *address)
{
	char tenant[24];
	const char *p[7] = {tenant, pid, sn, hostname, software_tag, software_version, address};
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tenant_id);
	res = rum_db_exec(txn, "device_touch", 7, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	/* No row back means the device was current and left as it was. */
	PQclear(res);
	return 0;
}

int rum_store_upload_insert(struct rum_db_txn *txn, const struct rum_store_upload *u,
			    int64_t *upload_id)
{
	char tenant[24], poll[24];
	const char *p[9] = {tenant, u->pid, u->sn, u->kind, u->source, u->address, u->sub_path,
			    u->request_body, poll};
	int lengths[9] = {0, 0, 0, 0, 0, 0, 0, (int)u->request_len, 0};
	int formats[9] = {0, 0, 0, 0, 0, 0, 0, 1, 0}; /* body as binary text: length-delimited */
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)u->tenant_id);
	snprintf(poll, sizeof(poll), "%lld", (long long)u->poll_id);
	res = rum_db_exec(txn, "upload_insert", 9, p, lengths, formats, 0, &rc);
	if (!res)
		return rc;
	return rum_store_one_id(res, upload_id);
}

int rum_store_report_put(struct rum_db_txn *txn, const struct rum_store_report *r,
			 enum rum_store_outcome *outcome)
{
	char tenant[24], rid[24], start[24], end[24], format[2] = {r->format, '\0'};
	const char *p[13] = {tenant, rid, r->pid, r->sn, format, r->entitlement_tag,
			     r->software_version, r->metric_name, r->last_value,
			     r->first_start >= 0 ? start : NULL, r->last_end >= 0 ? end : NULL,
			     (const char *)r->payload_sha256, r->report};
	int lengths[13] = {0};
	int formats[13] = {0};
	int rc;
	PGresult *res;
	const char *v;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)r->tenant_id);
	snprintf(rid, sizeof(rid), "%lld", (long long)r->report_id);
	snprintf(start, sizeof(start), "%lld", (long long)r->first_start);
	snprintf(end, sizeof(end), "%lld", (long long)r->last_end);
	/* The hash and the report travel in binary form: exact bytes, no
	 * escaping, and the report need not be NUL-terminated. */
	lengths[11] = 32;
	formats[11] = 1;
	lengths[12] = (int)r->report_len;
	formats[12] = 1;
	res = rum_db_exec(txn, "report_put", 13, p, lengths, formats, 0, &rc);
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

/* Copies a binary bytea column (NULL -> *content NULL). */
int rum_store_ack_take(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
		       const char *sn, const char *address, const char *via, char **content,
		       size_t *len)
{
	char tenant[24];
	const char *p[5] = {tenant, pid, sn, address, via};
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tenant_id);
	res = rum_db_exec(txn, "ack_take", 5, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	rum_db_copy_bytes(res, 0, content, len);
	PQclear(res);
	return 0;
}

int rum_store_poll_take(struct rum_db_txn *txn, int64_t tenant_id, int64_t poll_id,
			const char *address, bool *found, char **content, size_t *len)
{
	char tenant[24], upload[24];
	const char *p[3] = {tenant, upload, address};
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)tenant_id);
	snprintf(upload, sizeof(upload), "%lld", (long long)poll_id);
	res = rum_db_exec(txn, "poll_take", 3, p, NULL, NULL, 1, &rc);
	if (!res)
		return rc;
	/* Binary result: found is one byte. */
	*found = PQntuples(res) == 1 && !PQgetisnull(res, 0, 0) && PQgetvalue(res, 0, 0)[0];
	rum_db_copy_bytes(res, 1, content, len);
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

/* Rows of capture_list / capture_get; the body column comes as bytea hex
 * text and is decoded here. */
static int rum_store_capture_rows(PGresult *res,
				  void (*cb)(void *arg, const struct rum_store_capture_row *c),
				  void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		size_t len = 0;
		unsigned char *body = PQunescapeBytea((const unsigned char *)PQgetvalue(res, i, 8),
						      &len);
		struct rum_store_capture_row c = {
			strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1),
			PQgetvalue(res, i, 2), PQgetvalue(res, i, 3), PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5), PQgetvalue(res, i, 6), PQgetvalue(res, i, 7),
			(const char *)body, len};

		if (!body)
			abort();
		cb(arg, &c);
		PQfreemem(body);
	}
	PQclear(res);
	return 0;
}

int rum_store_capture_list(struct rum_db_txn *txn, const char *tenant, int64_t limit,
			   void (*cb)(void *arg, const struct rum_store_capture_row *c),
			   void *arg)
{
	char lim[24];
	const char *p[2] = {tenant, lim};
	int rc;
	PGresult *res;

	snprintf(lim, sizeof(lim), "%lld", (long long)limit);
	res = rum_db_exec(txn, "capture_list", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	return rum_store_capture_rows(res, cb, arg);
}

int rum_store_capture_get(struct rum_db_txn *txn, int64_t id,
			  void (*cb)(void *arg, const struct rum_store_capture_row *c), void *arg)
{
	char ids[24];
	const char *p[1] = {ids};
	int rc;
	PGresult *res;

	snprintf(ids, sizeof(ids), "%lld", (long long)id);
	res = rum_db_exec(txn, "capture_get", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "no capture with id %lld", (long long)id);
	}
	return rum_store_capture_rows(res, cb, arg);
}

int rum_store_schema_version(struct rum_db_txn *txn, int *version)
{
	int64_t v = 0;
	int rc;
	PGresult *res = rum_db_exec(txn, "schema_version", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	rc = rum_store_one_id(res, &v);
	*version = (int)v;
	return rc;
}
