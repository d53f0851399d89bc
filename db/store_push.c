#include "db/store_push.h"

#include "db/internal.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Device upsert at contact time (device_touch, device_batch). Empty
 * strings never overwrite what a device told before. A device seen less
 * than a minute ago with nothing new is not written again: a catching-up
 * device's hello, usage and polls cost one row version, not one each.
 * Prepared statements rather than an SQL function: they are planned once
 * per connection, a function body on every call. */
#define RUM_DEVICE_UPSERT_TAIL                                                                     \
	"ON CONFLICT (tenant_id, udi_pid, udi_serial) DO UPDATE SET "                              \
	"hostname = COALESCE(NULLIF(EXCLUDED.hostname, ''), d.hostname), "                         \
	"software_tag = COALESCE(NULLIF(EXCLUDED.software_tag, ''), d.software_tag), "             \
	"software_version = COALESCE(NULLIF(EXCLUDED.software_version, ''), d.software_version), " \
	"last_contact = now(), last_address = EXCLUDED.last_address "                              \
	"WHERE d.last_contact < now() - interval '60 seconds' "                                    \
	"OR d.last_address <> EXCLUDED.last_address "                                              \
	"OR (EXCLUDED.hostname <> '' AND EXCLUDED.hostname <> d.hostname) "                        \
	"OR (EXCLUDED.software_tag <> '' AND EXCLUDED.software_tag <> d.software_tag) "            \
	"OR (EXCLUDED.software_version <> '' AND EXCLUDED.software_version <> d.software_version)"

static const struct rum_db_stmt rum_store_push_stmts[] = {
	{"device_touch",
	 "INSERT INTO devices AS d (tenant_id, udi_pid, udi_serial, hostname, software_tag, "
	 "software_version, last_address) VALUES ($1, $2, $3, $4, $5, $6, $7) " RUM_DEVICE_UPSERT_TAIL,
	 7},
	/* Several devices touched as device_touch would, one statement
	 * (rum_store_device_batch): one array element per distinct device,
	 * written in array order. */
	{"device_batch",
	 "INSERT INTO devices AS d (tenant_id, udi_pid, udi_serial, hostname, software_tag, "
	 "software_version, last_address) SELECT tenant, pid, sn, hostname, tag, version, "
	 "address FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], $5::text[], "
	 "$6::text[], $7::text[]) WITH ORDINALITY AS x(tenant, pid, sn, hostname, tag, version, "
	 "address, ord) ORDER BY ord " RUM_DEVICE_UPSERT_TAIL,
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
	/* A batch's usage messages in one statement (rum_store_usage_batch):
	 * $1-$8 the uploads, one array element each; $9-$22 their reports.
	 * The first copy of each report identity in the batch is inserted
	 * with the others in one INSERT; every report that did not go in that
	 * way (taken already, or a later copy) goes through rum_report_store,
	 * which sees the rows inserted before it and tells duplicate from
	 * conflict. One row back per upload: poll id and its counts. */
	{"usage_batch",
	 "WITH m AS (SELECT * FROM unnest($1::int8[], $2::text[], $3::text[], $4::text[], "
	 "$5::text[], $6::text[], $7::text[], $8::int8[]) AS m(tenant, pid, sn, source, address, "
	 "sub_path, body, poll)), "
	 "u AS (INSERT INTO uploads (tenant_id, device_id, kind, source, source_address, "
	 "sub_path, request_body, request_state, poll_id) SELECT m.tenant, (SELECT d.id FROM "
	 "devices d WHERE d.tenant_id = m.tenant AND d.udi_pid = m.pid AND d.udi_serial = m.sn), "
	 "'usage', m.source, m.address, m.sub_path, m.body, CASE WHEN m.body IS NULL THEN 'none' "
	 "ELSE 'pending' END, m.poll FROM m RETURNING id, device_id, poll_id), "
	 "r AS (SELECT x.*, row_number() OVER (PARTITION BY x.tenant, x.pid, x.sn, x.rid "
	 "ORDER BY x.ord) AS nth FROM unnest($9::int8[], $10::int8[], $11::int8[], $12::text[], "
	 "$13::text[], $14::text[], $15::text[], $16::text[], $17::text[], $18::text[], "
	 "$19::int8[], $20::int8[], $21::bytea[]) WITH ORDINALITY AS x(poll, tenant, rid, pid, sn, "
	 "format, tag, version, metric, value, t0, t1, sha, ord)), "
	 "ins AS (INSERT INTO rum_reports (tenant_id, device_id, upload_id, report_id, udi_pid, "
	 "udi_serial, format, entitlement_tag, software_version, metric_name, last_value, "
	 "first_start, last_end, payload_sha256, report) SELECT r.tenant, u.device_id, u.id, r.rid, "
	 "r.pid, r.sn, r.format, r.tag, r.version, r.metric, r.value, to_timestamp(r.t0), "
	 "to_timestamp(r.t1), r.sha, ($22::text[])[r.ord::int] FROM r JOIN u ON u.poll_id = r.poll "
	 "WHERE r.nth = 1 "
	 "ORDER BY r.ord ON CONFLICT (tenant_id, udi_pid, udi_serial, report_id) "
	 "WHERE conflict_of IS NULL DO NOTHING RETURNING tenant_id, udi_pid, udi_serial, "
	 "report_id, device_id), "
	 /* The inventory (0009) learns of a first report, or of usage not yet
	  * acknowledged, only when that was unknown: most batches write
	  * nothing here. */
	 "inv AS (UPDATE device_inventory i SET first_report_at = coalesce(i.first_report_at, "
	 "now()), unacked_since = coalesce(i.unacked_since, now()) WHERE i.device_id IN "
	 "(SELECT device_id FROM ins) AND (i.first_report_at IS NULL OR i.unacked_since IS NULL)), "
	 "o AS MATERIALIZED (SELECT r.poll, CASE WHEN r.nth = 1 AND (r.tenant, r.pid, r.sn, r.rid) "
	 "IN (SELECT tenant_id, udi_pid, udi_serial, report_id FROM ins) THEN 'new' ELSE "
	 "rum_report_store(r.tenant, u.device_id, u.id, r.rid, r.pid, r.sn, r.format, r.tag, "
	 "r.version, r.metric, r.value, r.t0, r.t1, r.sha, ($22::text[])[r.ord::int]) END AS outcome "
	 "FROM r JOIN u ON u.poll_id = r.poll ORDER BY r.ord) "
	 "SELECT u.poll_id, count(*) FILTER (WHERE o.outcome = 'new'), "
	 "count(*) FILTER (WHERE o.outcome = 'duplicate'), "
	 "count(*) FILTER (WHERE o.outcome = 'conflict'), count(o.outcome) "
	 "FROM u LEFT JOIN o ON o.poll = u.poll_id GROUP BY u.poll_id",
	 22},
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
	/* A batch's result polls in one statement (rum_store_poll_batch): a
	 * row per poll whose upload exists in its tenant, with the ACK taken
	 * for its device when one waits (as poll_take). */
	{"poll_batch",
	 "SELECT x.ord, CASE WHEN EXISTS (SELECT 1 FROM acks a WHERE a.device_id = u.device_id "
	 "AND a.delivered_at IS NULL AND a.superseded_by IS NULL) "
	 "THEN rum_ack_take(u.device_id, x.address, 'poll') END "
	 "FROM unnest($1::int8[], $2::int8[], $3::text[]) WITH ORDINALITY "
	 "AS x(tenant, poll, address, ord) "
	 /* One index lookup per poll: LIMIT keeps the planner from joining
	  * the arrays with a scan of all uploads. */
	 "CROSS JOIN LATERAL (SELECT u.device_id FROM uploads u WHERE u.poll_id = x.poll "
	 "AND u.tenant_id = x.tenant LIMIT 1) u ORDER BY x.ord",
	 3},
	{"schema_version", "SELECT coalesce(max(version), 0) FROM rum_schema_migrations", 0},
};
const struct rum_db_stmt_set rum_store_push_statements = RUM_DB_STMT_SET(rum_store_push_stmts);

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
	const char *p[9] = {tenant,     u->pid,      u->sn,           u->kind, u->source,
			    u->address, u->sub_path, u->request_body, poll};
	int lengths[9] = {0, 0, 0, 0, 0, 0, 0, (int)u->request_len, 0};
	int formats[9] = {0, 0, 0, 0, 0, 0, 0, 1, 0}; /* body as binary text: length-delimited */
	int rc;
	PGresult *res;

	snprintf(tenant, sizeof(tenant), "%lld", (long long)u->tenant_id);
	snprintf(poll, sizeof(poll), "%lld", (long long)u->poll_id);
	res = rum_db_exec(txn, "upload_insert", 9, p, lengths, formats, 0, &rc);
	if (!res)
		return rc;
	return rum_db_one_id(res, upload_id);
}

int rum_store_report_put(struct rum_db_txn *txn, const struct rum_store_report *r,
			 enum rum_store_outcome *outcome)
{
	char tenant[24], rid[24], start[24], end[24], format[2] = {r->format, '\0'};
	const char *p[13] = {tenant,
			     rid,
			     r->pid,
			     r->sn,
			     format,
			     r->entitlement_tag,
			     r->software_version,
			     r->metric_name,
			     r->last_value,
			     r->first_start >= 0 ? start : NULL,
			     r->last_end >= 0 ? end : NULL,
			     (const char *)r->payload_sha256,
			     r->report};
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

/* ------------------------------------------------------------------------ */
/* One-dimensional arrays in PostgreSQL's binary format (array_recv): a
 * header, then each element as its length (-1: NULL) and its bytes. */

#define RUM_OID_BYTEA 17
#define RUM_OID_INT8 20
#define RUM_OID_TEXT 25

struct rum_store_array {
	char *p;
	size_t len, cap;
	uint32_t n;
	bool has_null;
};

static void rum_store_array_put(struct rum_store_array *a, const void *data, size_t n)
{
	if (a->len + n > a->cap) {
		a->cap = (a->len + n) * 2 + 64;
		a->p = realloc(a->p, a->cap);
		if (!a->p)
			abort();
	}
	memcpy(a->p + a->len, data, n);
	a->len += n;
}

static void rum_store_array_u32(struct rum_store_array *a, uint32_t v)
{
	unsigned char b[4] = {(unsigned char)(v >> 24), (unsigned char)(v >> 16),
			      (unsigned char)(v >> 8), (unsigned char)v};

	rum_store_array_put(a, b, 4);
}

/* Starts an array, room left for its header (written by _finish). */
static void rum_store_array_init(struct rum_store_array *a)
{
	memset(a, 0, sizeof(*a));
	rum_store_array_put(a, "\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0", 20);
}

static void rum_store_array_bytes(struct rum_store_array *a, const void *data, size_t n)
{
	if (!data) {
		rum_store_array_u32(a, UINT32_MAX); /* -1: NULL */
		a->has_null = true;
	} else {
		rum_store_array_u32(a, (uint32_t)n);
		rum_store_array_put(a, data, n);
	}
	a->n++;
}

static void rum_store_array_text(struct rum_store_array *a, const char *s)
{
	rum_store_array_bytes(a, s, s ? strlen(s) : 0);
}

/* An int8 element; `null` for a NULL one. */
static void rum_store_array_int8(struct rum_store_array *a, int64_t v, bool null)
{
	uint64_t u = (uint64_t)v;
	unsigned char b[8];

	if (null) {
		rum_store_array_bytes(a, NULL, 0);
		return;
	}
	for (int i = 0; i < 8; i++)
		b[i] = (unsigned char)(u >> (56 - 8 * i));
	rum_store_array_bytes(a, b, 8);
}

/* Writes the header: 1 dimension of n elements from index 1 (an empty array
 * has no dimension). Returns the length of the whole. */
static int rum_store_array_finish(struct rum_store_array *a, uint32_t oid)
{
	struct rum_store_array h = {0};

	rum_store_array_u32(&h, a->n ? 1 : 0);
	rum_store_array_u32(&h, a->has_null ? 1 : 0);
	rum_store_array_u32(&h, oid);
	rum_store_array_u32(&h, a->n);
	rum_store_array_u32(&h, 1);
	if (a->n) {
		memcpy(a->p, h.p, 20);
		free(h.p);
		return (int)a->len;
	}
	/* No dimension: the 12-byte header alone. */
	memcpy(a->p, h.p, 12);
	free(h.p);
	return 12;
}

/* Runs a statement whose parameters are the arrays a[0..n-1] (binary, of
 * element types oids[]), built by the caller only when sending; finishes
 * them when sending and frees them either way. As rum_db_exec. */
static PGresult *rum_store_exec_arrays(struct rum_db_txn *txn, const char *stmt,
				       struct rum_store_array *a, const uint32_t *oids, int n,
				       int result_format, int *rc)
{
	const char *values[32] = {0};
	int lengths[32] = {0}, formats[32];
	PGresult *res;

	if (n > 32)
		abort(); /* a programming error: statements are fixed */
	for (int i = 0; i < n; i++) {
		formats[i] = 1;
		if (!rum_db_txn_has_results(txn)) {
			lengths[i] = rum_store_array_finish(&a[i], oids[i]);
			values[i] = a[i].p;
		}
	}
	res = rum_db_exec(txn, stmt, n, values, lengths, formats, result_format, rc);
	for (int i = 0; i < n; i++)
		free(a[i].p);
	return res;
}

enum {
	U_TENANT,
	U_PID,
	U_SN,
	U_SOURCE,
	U_ADDRESS,
	U_SUB_PATH,
	U_BODY,
	U_POLL,
	R_POLL,
	R_TENANT,
	R_RID,
	R_PID,
	R_SN,
	R_FORMAT,
	R_TAG,
	R_VERSION,
	R_METRIC,
	R_VALUE,
	R_T0,
	R_T1,
	R_SHA,
	R_REPORT,
	USAGE_NPARAMS
};

static const uint32_t rum_store_usage_oids[USAGE_NPARAMS] = {
	RUM_OID_INT8, RUM_OID_TEXT, RUM_OID_TEXT,  RUM_OID_TEXT, RUM_OID_TEXT, RUM_OID_TEXT,
	RUM_OID_TEXT, RUM_OID_INT8, RUM_OID_INT8,  RUM_OID_INT8, RUM_OID_INT8, RUM_OID_TEXT,
	RUM_OID_TEXT, RUM_OID_TEXT, RUM_OID_TEXT,  RUM_OID_TEXT, RUM_OID_TEXT, RUM_OID_TEXT,
	RUM_OID_INT8, RUM_OID_INT8, RUM_OID_BYTEA, RUM_OID_TEXT};

static void rum_store_usage_arrays(struct rum_store_array *a, const struct rum_store_usage *items,
				   size_t n)
{
	for (int i = 0; i < USAGE_NPARAMS; i++)
		rum_store_array_init(&a[i]);
	for (size_t i = 0; i < n; i++) {
		const struct rum_store_upload *up = items[i].upload;

		rum_store_array_int8(&a[U_TENANT], up->tenant_id, false);
		rum_store_array_text(&a[U_PID], up->pid);
		rum_store_array_text(&a[U_SN], up->sn);
		rum_store_array_text(&a[U_SOURCE], up->source);
		rum_store_array_text(&a[U_ADDRESS], up->address);
		rum_store_array_text(&a[U_SUB_PATH], up->sub_path);
		rum_store_array_bytes(&a[U_BODY], up->request_body, up->request_len);
		rum_store_array_int8(&a[U_POLL], up->poll_id, false);
		for (size_t j = 0; j < items[i].n_reports; j++) {
			const struct rum_store_report *r = &items[i].reports[j];
			char format[2] = {r->format, '\0'};

			rum_store_array_int8(&a[R_POLL], up->poll_id, false);
			rum_store_array_int8(&a[R_TENANT], r->tenant_id, false);
			rum_store_array_int8(&a[R_RID], r->report_id, false);
			rum_store_array_text(&a[R_PID], r->pid);
			rum_store_array_text(&a[R_SN], r->sn);
			rum_store_array_text(&a[R_FORMAT], format);
			rum_store_array_text(&a[R_TAG], r->entitlement_tag);
			rum_store_array_text(&a[R_VERSION], r->software_version);
			rum_store_array_text(&a[R_METRIC], r->metric_name);
			rum_store_array_text(&a[R_VALUE], r->last_value);
			rum_store_array_int8(&a[R_T0], r->first_start, r->first_start < 0);
			rum_store_array_int8(&a[R_T1], r->last_end, r->last_end < 0);
			rum_store_array_bytes(&a[R_SHA], r->payload_sha256, 32);
			rum_store_array_bytes(&a[R_REPORT], r->report, r->report_len);
		}
	}
}

static int rum_store_usage_read(PGresult *res, struct rum_store_usage *items, size_t n)
{
	for (size_t i = 0; i < n; i++)
		items[i].stored = false;
	for (int row = 0; row < PQntuples(res); row++) {
		int64_t poll = strtoll(PQgetvalue(res, row, 0), NULL, 10);
		size_t i = 0;

		while (i < n && items[i].upload->poll_id != poll)
			i++;
		if (i == n || items[i].stored)
			return rum_err_set(RUM_EINTERNAL,
					   "usage_batch returned poll id %lld twice "
					   "or unasked",
					   (long long)poll);
		items[i].stored = true;
		items[i].n_new = (unsigned)strtoul(PQgetvalue(res, row, 1), NULL, 10);
		items[i].n_duplicate = (unsigned)strtoul(PQgetvalue(res, row, 2), NULL, 10);
		items[i].n_conflict = (unsigned)strtoul(PQgetvalue(res, row, 3), NULL, 10);
		if (strtoul(PQgetvalue(res, row, 4), NULL, 10) != items[i].n_reports)
			return rum_err_set(RUM_EINTERNAL, "usage_batch stored %s of %zu reports",
					   PQgetvalue(res, row, 4), items[i].n_reports);
	}
	for (size_t i = 0; i < n; i++)
		if (!items[i].stored)
			return rum_err_set(RUM_EINTERNAL, "usage_batch did not store an upload");
	return 0;
}

int rum_store_usage_batch(struct rum_db_txn *txn, struct rum_store_usage *items, size_t n)
{
	struct rum_store_array a[USAGE_NPARAMS];
	int rc = 0;
	PGresult *res;

	memset(a, 0, sizeof(a));
	if (!rum_db_txn_has_results(txn))
		rum_store_usage_arrays(a, items, n);
	res = rum_store_exec_arrays(txn, "usage_batch", a, rum_store_usage_oids, USAGE_NPARAMS, 0,
				    &rc);
	if (!res)
		return rc;
	rc = rum_store_usage_read(res, items, n);
	PQclear(res);
	return rc;
}

/* Items in device order (tenant, PID, serial), item order within a device. */
static int rum_store_device_order(const void *pa, const void *pb)
{
	const struct rum_store_device *a = *(const struct rum_store_device *const *)pa;
	const struct rum_store_device *b = *(const struct rum_store_device *const *)pb;
	int c;

	if (a->tenant_id != b->tenant_id)
		return a->tenant_id < b->tenant_id ? -1 : 1;
	if ((c = strcmp(a->pid, b->pid)) != 0 || (c = strcmp(a->sn, b->sn)) != 0)
		return c;
	return a < b ? -1 : a > b; /* items are one array */
}

static bool rum_store_same_device(const struct rum_store_device *a,
				  const struct rum_store_device *b)
{
	return a->tenant_id == b->tenant_id && strcmp(a->pid, b->pid) == 0 &&
	       strcmp(a->sn, b->sn) == 0;
}

/* The arrays of device_batch: one element per distinct device, its touches
 * folded as device_touch would apply them one after another. */
static void rum_store_device_arrays(struct rum_store_array *a, const struct rum_store_device *items,
				    size_t n)
{
	const struct rum_store_device **order = malloc((n ? n : 1) * sizeof(*order));

	if (!order)
		abort();
	for (size_t i = 0; i < n; i++)
		order[i] = &items[i];
	qsort(order, n, sizeof(*order), rum_store_device_order);
	for (int i = 0; i < 7; i++)
		rum_store_array_init(&a[i]);
	for (size_t i = 0; i < n;) {
		const struct rum_store_device *d = order[i];
		const char *hostname = "", *tag = "", *version = "", *address = "";

		for (; i < n && rum_store_same_device(order[i], d); i++) {
			const struct rum_store_device *t = order[i];

			hostname = t->hostname && t->hostname[0] ? t->hostname : hostname;
			tag = t->software_tag && t->software_tag[0] ? t->software_tag : tag;
			version = t->software_version && t->software_version[0]
					  ? t->software_version
					  : version;
			address = t->address ? t->address : "";
		}
		rum_store_array_int8(&a[0], d->tenant_id, false);
		rum_store_array_text(&a[1], d->pid);
		rum_store_array_text(&a[2], d->sn);
		rum_store_array_text(&a[3], hostname);
		rum_store_array_text(&a[4], tag);
		rum_store_array_text(&a[5], version);
		rum_store_array_text(&a[6], address);
	}
	free(order);
}

int rum_store_device_batch(struct rum_db_txn *txn, const struct rum_store_device *items, size_t n)
{
	static const uint32_t oids[7] = {RUM_OID_INT8, RUM_OID_TEXT, RUM_OID_TEXT, RUM_OID_TEXT,
					 RUM_OID_TEXT, RUM_OID_TEXT, RUM_OID_TEXT};
	struct rum_store_array a[7];
	int rc = 0;
	PGresult *res;

	memset(a, 0, sizeof(a));
	if (!rum_db_txn_has_results(txn))
		rum_store_device_arrays(a, items, n);
	res = rum_store_exec_arrays(txn, "device_batch", a, oids, 7, 0, &rc);
	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_poll_batch(struct rum_db_txn *txn, struct rum_store_poll *items, size_t n)
{
	static const uint32_t oids[3] = {RUM_OID_INT8, RUM_OID_INT8, RUM_OID_TEXT};
	struct rum_store_array a[3];
	int rc = 0;
	PGresult *res;

	memset(a, 0, sizeof(a));
	if (!rum_db_txn_has_results(txn)) {
		for (int i = 0; i < 3; i++)
			rum_store_array_init(&a[i]);
		for (size_t i = 0; i < n; i++) {
			rum_store_array_int8(&a[0], items[i].tenant_id, false);
			rum_store_array_int8(&a[1], items[i].poll_id, false);
			rum_store_array_text(&a[2], items[i].address);
		}
	}
	res = rum_store_exec_arrays(txn, "poll_batch", a, oids, 3, 1, &rc);
	if (!res)
		return rc;
	for (size_t i = 0; i < n; i++) {
		items[i].found = false;
		items[i].content = NULL;
		items[i].len = 0;
	}
	/* Binary result: ord as a big-endian int8 (1-based), the ACK as bytea. */
	for (int row = 0; row < PQntuples(res); row++) {
		const unsigned char *v = (const unsigned char *)PQgetvalue(res, row, 0);
		uint64_t ord = 0;
		struct rum_store_poll *it;

		for (int k = 0; k < 8 && PQgetlength(res, row, 0) == 8; k++)
			ord = ord << 8 | v[k];
		if (ord < 1 || ord > n || items[ord - 1].found) {
			for (size_t i = 0; i < n; i++) {
				free(items[i].content);
				items[i].content = NULL;
				items[i].found = false;
			}
			PQclear(res);
			return rum_err_set(RUM_EINTERNAL, "poll_batch returned a bad row");
		}
		it = &items[ord - 1];
		it->found = true;
		rum_db_copy_value(res, row, 1, &it->content, &it->len);
	}
	PQclear(res);
	return 0;
}

/* Copies a binary bytea column (NULL -> *content NULL). */
int rum_store_ack_take(struct rum_db_txn *txn, int64_t tenant_id, const char *pid, const char *sn,
		       const char *address, const char *via, char **content, size_t *len)
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

int rum_store_schema_version(struct rum_db_txn *txn, int *version)
{
	int64_t v = 0;
	int rc;
	PGresult *res = rum_db_exec(txn, "schema_version", 0, NULL, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	rc = rum_db_one_id(res, &v);
	*version = (int)v;
	return rc;
}
