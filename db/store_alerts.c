#include "db/store_alerts.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdlib.h>

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const struct rum_db_stmt rum_store_alerts_stmts[] = {
	{"alerts_evaluate", "SELECT rum_alerts_evaluate($1, $2, $3, $4)", 4},
	{"alert_page",
	 "SELECT a.id, coalesce(a.device_id, 0), a.kind, a.severity, a.subject, a.message, "
	 "a.details::text, " TS("a.created_at") ", " TS("a.last_seen_at") ", " TS("a.resolved_at") ", " TS(
		 "a.acknowledged_at") ", coalesce(a.acknowledged_by, '') "
				      "FROM alerts a WHERE a.tenant_id = $1 "
				      "AND a.id < $4 AND ($3 = '' OR a.kind = $3) "
				      "AND CASE $2 WHEN 'open' THEN a.resolved_at IS NULL "
				      "WHEN 'unacknowledged' THEN a.resolved_at IS NULL "
				      "AND a.acknowledged_at IS NULL "
				      "WHEN 'resolved' THEN a.resolved_at IS NOT NULL "
				      "ELSE true END ORDER BY a.id DESC LIMIT $5",
	 5},
	{"alert_ack",
	 "UPDATE alerts SET acknowledged_at = coalesce(acknowledged_at, now()), "
	 "acknowledged_by = coalesce(acknowledged_by, $3), resolved_at = CASE WHEN kind = "
	 "'report_conflict' THEN coalesce(resolved_at, now()) ELSE resolved_at END "
	 "WHERE tenant_id = $1 AND id = $2 RETURNING id",
	 3},
};

const struct rum_db_stmt_set rum_store_alerts_statements = RUM_DB_STMT_SET(rum_store_alerts_stmts);

int rum_store_alerts_evaluate(struct rum_db_txn *txn, int warn_days, int ack_days, int silent_days,
			      int capture_days, int64_t *changed)
{
	char b[4][16];
	const char *p[4] = {b[0], b[1], b[2], b[3]};
	int rc;
	PGresult *res;

	rum_text_i64(b[0], sizeof(b[0]), warn_days);
	rum_text_i64(b[1], sizeof(b[1]), ack_days);
	rum_text_i64(b[2], sizeof(b[2]), silent_days);
	rum_text_i64(b[3], sizeof(b[3]), capture_days);
	res = rum_db_exec(txn, "alerts_evaluate", 4, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*changed = PQntuples(res) == 1 ? strtoll(PQgetvalue(res, 0, 0), NULL, 10) : 0;
	PQclear(res);
	return 0;
}

int rum_store_alert_page(struct rum_db_txn *txn, int64_t tenant_id, const char *state,
			 const char *kind, int64_t before_id, int limit,
			 void (*cb)(void *arg, const struct rum_store_alert *a), void *arg)
{
	char t[24], b[24], l[16];
	const char *p[5] = {t, state, kind, b, l};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(b, sizeof(b), before_id);
	rum_text_i64(l, sizeof(l), limit);
	res = rum_db_exec(txn, "alert_page", 5, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_alert a = {
			strtoll(PQgetvalue(res, i, 0), NULL, 10),
			strtoll(PQgetvalue(res, i, 1), NULL, 10),
			PQgetvalue(res, i, 2),
			PQgetvalue(res, i, 3),
			PQgetvalue(res, i, 4),
			PQgetvalue(res, i, 5),
			PQgetvalue(res, i, 6),
			PQgetvalue(res, i, 7),
			PQgetvalue(res, i, 8),
			PQgetvalue(res, i, 9),
			PQgetvalue(res, i, 10),
			PQgetvalue(res, i, 11),
		};

		cb(arg, &a);
	}
	PQclear(res);
	return 0;
}

int rum_store_alert_ack(struct rum_db_txn *txn, int64_t tenant_id, int64_t id, const char *by)
{
	char t[24], a[24];
	const char *p[3] = {t, a, by};
	int64_t got;
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(a, sizeof(a), id);
	res = rum_db_exec(txn, "alert_ack", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	return rum_db_one_id(res, &got);
}
