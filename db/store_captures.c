#include "db/store_captures.h"

#include "db/internal.h"
#include "lib/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rum_db_stmt rum_store_captures_stmts[] = {
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
};

const struct rum_db_stmt_set rum_store_captures_statements =
	RUM_DB_STMT_SET(rum_store_captures_stmts);

int rum_store_capture_insert(struct rum_db_txn *txn, const struct rum_store_capture *c)
{
	const char *p[7] = {c->tenant_name, c->method, c->path,  c->headers_json,
			    c->address,     c->body,   c->reason};
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
		struct rum_store_capture_row c = {strtoll(PQgetvalue(res, i, 0), NULL, 10),
						  PQgetvalue(res, i, 1),
						  PQgetvalue(res, i, 2),
						  PQgetvalue(res, i, 3),
						  PQgetvalue(res, i, 4),
						  PQgetvalue(res, i, 5),
						  PQgetvalue(res, i, 6),
						  PQgetvalue(res, i, 7),
						  (const char *)body,
						  len};

		if (!body)
			abort();
		cb(arg, &c);
		PQfreemem(body);
	}
	PQclear(res);
	return 0;
}

int rum_store_capture_list(struct rum_db_txn *txn, const char *tenant, int64_t limit,
			   void (*cb)(void *arg, const struct rum_store_capture_row *c), void *arg)
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
