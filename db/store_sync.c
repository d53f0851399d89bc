#include "db/store_sync.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* clang-format off */
#define RUM_SYNC_TS(col) \
	"coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

/* Reports a sync may take: not acknowledged, not a conflict, and in no
 * upstream call that went, is going or settled (a refused call's reports
 * are taken again). */
#define RUM_SYNC_UNSENT                                                                        \
	"r.tenant_id = $1 AND r.acked_at IS NULL AND r.conflict_of IS NULL AND NOT EXISTS ("    \
	"SELECT 1 FROM export_batch_reports e JOIN sync_runs sr ON sr.batch_id = e.batch_id "  \
	"JOIN sync_sends s ON s.run_id = sr.id AND s.device_id = e.device_id "                \
	"AND s.kind = 'usage' WHERE e.report_row = r.id AND s.state <> 'failed')"
/* An open call of the tenant (u.tenant_id) that is due. */
#define RUM_SYNC_OPEN_DUE                                                                      \
	"SELECT 1 FROM sync_runs r JOIN sync_sends c ON c.run_id = r.id "                       \
	"WHERE r.tenant_id = u.tenant_id AND r.state IN ('sending', 'polling') "                \
	"AND c.state IN ('queued', 'sending', 'polling') AND c.next_at <= now()"
/* The tenant (u) asks for a sync soon after new reports (sync_soon_s), and
 * one has waited that long since the last sync started. */
#define RUM_SYNC_SOON_DUE                                                                      \
	"u.sync_soon_s IS NOT NULL AND EXISTS (SELECT 1 FROM rum_reports r "                    \
	"WHERE r.tenant_id = u.tenant_id AND r.acked_at IS NULL AND r.conflict_of IS NULL "     \
	"AND r.received_at <= now() - u.sync_soon_s * interval '1 second' "                     \
	"AND r.received_at > coalesce((SELECT max(x.started_at) FROM sync_runs x "              \
	"WHERE x.tenant_id = u.tenant_id), '-infinity'))"
/* clang-format on */

static const struct rum_db_stmt rum_store_sync_stmts[] = {
	{"sync_lease",
	 "INSERT INTO sync_state AS s (tenant_id, owner, lease_until) "
	 "VALUES ($1, $2, now() + $3::int * interval '1 second') ON CONFLICT (tenant_id) DO "
	 "UPDATE SET owner = EXCLUDED.owner, lease_until = EXCLUDED.lease_until "
	 "WHERE s.owner = EXCLUDED.owner OR s.owner = '' OR s.lease_until IS NULL "
	 "OR s.lease_until < now() RETURNING 1",
	 3},
	{"sync_holder", "SELECT owner FROM sync_state WHERE tenant_id = $1", 1},
	{"sync_release",
	 "UPDATE sync_state SET owner = '', lease_until = NULL WHERE tenant_id = $1 AND owner = $2",
	 2},
	{"sync_open_run", "SELECT id FROM sync_runs WHERE tenant_id = $1 AND state = 'sending'", 1},
	{"sync_batch",
	 "INSERT INTO export_batches (tenant_id, file_name, ts, selection) "
	 "VALUES ($1, '', $2, 'connected sync') RETURNING id",
	 2},
	{"sync_batch_fill",
	 "WITH picked AS (SELECT r.device_id, r.id, row_number() OVER "
	 "(PARTITION BY r.device_id ORDER BY r.id) AS n FROM rum_reports r WHERE " RUM_SYNC_UNSENT
	 "), ins AS (INSERT INTO export_batch_reports (batch_id, device_id, report_row) "
	 "SELECT $2, device_id, id FROM picked WHERE n <= $3 RETURNING device_id) "
	 "SELECT count(DISTINCT device_id), count(*) FROM ins",
	 3},
	{"sync_batch_counts", "UPDATE export_batches SET devices = $2, reports = $3 WHERE id = $1",
	 3},
	{"sync_batch_drop", "DELETE FROM export_batches WHERE id = $1", 1},
	{"sync_run_new",
	 "INSERT INTO sync_runs (tenant_id, kind, trigger, node, batch_id) "
	 "VALUES ($1, $2, $3, $4, nullif($5::int8, 0)) RETURNING id",
	 5},
	/* Trust and authorization requests devices left, not yet sent (or
	 * refused last time). */
	{"sync_auth_calls_new",
	 "WITH ins AS (INSERT INTO sync_sends (run_id, device_id, kind, upload_id) "
	 "SELECT $1, u.device_id, 'auth', u.id FROM uploads u WHERE u.tenant_id = $2 "
	 "AND u.request_state = 'pending' AND u.device_id IS NOT NULL "
	 "AND u.kind IN ('trust', 'authorization') AND NOT EXISTS (SELECT 1 FROM sync_sends s "
	 "WHERE s.upload_id = u.id AND s.state <> 'failed') ORDER BY u.id LIMIT $3 RETURNING 1) "
	 "SELECT count(*) FROM ins",
	 3},
	{"sync_request_body",
	 "SELECT c.state IN ('queued', 'sending'), u.request_body FROM sync_sends c "
	 "LEFT JOIN uploads u ON u.id = c.upload_id WHERE c.id = $1",
	 1},
	{"sync_request_answered",
	 "UPDATE uploads SET request_state = 'answered' WHERE id = $1 AND request_state = 'pending'",
	 1},
	{"sync_calls_new",
	 "INSERT INTO sync_sends (run_id, device_id, kind, reports) "
	 "SELECT $1, device_id, 'usage', count(*) FROM export_batch_reports WHERE batch_id = $2 "
	 "GROUP BY device_id ORDER BY device_id",
	 2},
	{"sync_due",
	 "SELECT s.id, s.run_id, coalesce(sr.batch_id, 0), s.device_id, coalesce(s.upload_id, 0), "
	 "s.kind, s.state, "
	 "s.poll_id, s.attempts, s.polls, s.reports, d.udi_pid, d.udi_serial, d.hostname, "
	 "d.software_tag FROM sync_runs sr CROSS JOIN LATERAL (SELECT * FROM sync_sends x "
	 "WHERE x.run_id = sr.id AND x.state IN ('queued', 'sending', 'polling') "
	 "AND x.next_at <= now() ORDER BY x.next_at, x.id LIMIT $2) s "
	 "JOIN devices d ON d.id = s.device_id WHERE sr.tenant_id = $1 "
	 "AND sr.state IN ('sending', 'polling') ORDER BY s.next_at, s.id LIMIT $2",
	 2},
	{"sync_next",
	 "SELECT coalesce(greatest(ceil(extract(epoch FROM min(s.next_at) - now()) * 1000), 0)"
	 "::int8, -1), count(*), count(*) FILTER (WHERE s.state IN ('queued', 'sending')) "
	 "FROM sync_sends s JOIN sync_runs sr ON sr.id = s.run_id WHERE sr.tenant_id = $1 "
	 "AND sr.state IN ('sending', 'polling') AND s.state IN ('queued', 'sending', 'polling')",
	 1},
	{"sync_reports",
	 "SELECT r.report FROM sync_sends c JOIN export_batch_reports e ON e.batch_id = $1 "
	 "AND e.device_id = c.device_id JOIN rum_reports r ON r.id = e.report_row "
	 "WHERE c.id = $2 AND c.state IN ('queued', 'sending') ORDER BY r.id",
	 2},
	{"sync_step",
	 "UPDATE sync_sends SET state = $2, poll_id = CASE WHEN $3 = '' THEN poll_id ELSE $3 END, "
	 "message = $4, next_at = now() + $5::int8 * interval '1 millisecond', "
	 "attempts = attempts + $6::int, polls = polls + $7::int, "
	 "ack_id = coalesce(nullif($8::int8, 0), ack_id), "
	 "sent_at = CASE WHEN $2 IN ('polling', 'complete', 'duplicate') THEN "
	 "coalesce(sent_at, now()) ELSE sent_at END, "
	 "settled_at = CASE WHEN $2 IN ('complete', 'duplicate', 'failed') THEN now() END "
	 "WHERE id = $1 AND state IN ('queued', 'sending', 'polling') "
	 /* A call that went out and was answered is never sent again. */
	 "AND ($2 <> 'sending' OR $6::int = 0 OR state IN ('queued', 'sending')) RETURNING 1",
	 8},
	{"sync_run_update",
	 "WITH c AS (SELECT count(*) FILTER (WHERE state IN ('queued', 'sending')) AS q, "
	 "count(*) FILTER (WHERE state = 'polling') AS p FROM sync_sends WHERE run_id = $1) "
	 "UPDATE sync_runs r SET error = $2, state = CASE WHEN r.state NOT IN ('sending', "
	 "'polling') THEN r.state WHEN c.q > 0 THEN 'sending' WHEN c.p > 0 THEN 'polling' "
	 "ELSE 'done' END, finished_at = CASE WHEN r.state IN ('sending', 'polling') AND c.q = 0 "
	 "AND c.p = 0 THEN now() ELSE r.finished_at END FROM c WHERE r.id = $1 RETURNING r.state",
	 2},
	{"sync_outcome",
	 "INSERT INTO sync_state AS s (tenant_id, failing_since, last_ok_at, next_at) VALUES ($1, "
	 "CASE WHEN $2 THEN NULL ELSE now() END, CASE WHEN $2 THEN now() END, "
	 "now() + greatest($3::int8, 0) * interval '1 second') "
	 "ON CONFLICT (tenant_id) DO UPDATE SET failing_since = CASE WHEN $2 THEN NULL "
	 "ELSE coalesce(s.failing_since, now()) END, last_ok_at = CASE WHEN $2 THEN now() "
	 "ELSE s.last_ok_at END, next_at = CASE WHEN $3::int8 < 0 THEN s.next_at "
	 "ELSE EXCLUDED.next_at END",
	 3},
	{"sync_request",
	 "INSERT INTO sync_state AS s (tenant_id, requested_at) VALUES ($1, now()) "
	 "ON CONFLICT (tenant_id) DO UPDATE SET requested_at = now()",
	 1},
	{"sync_request_taken", "UPDATE sync_state SET requested_at = NULL WHERE tenant_id = $1", 1},
	{"sync_due_tenants",
	 "SELECT t.name, CASE WHEN s.requested_at IS NOT NULL THEN 'api' "
	 "WHEN s.next_at IS NULL OR s.next_at <= now() THEN 'schedule' "
	 "WHEN " RUM_SYNC_SOON_DUE " THEN 'soon' ELSE 'poll' END "
	 "FROM upstreams u JOIN tenants t ON t.id = u.tenant_id "
	 "LEFT JOIN sync_state s ON s.tenant_id = u.tenant_id "
	 "WHERE (s.tenant_id IS NULL OR s.owner = '' OR s.lease_until IS NULL "
	 "OR s.lease_until < now()) AND (s.tenant_id IS NULL OR s.requested_at IS NOT NULL "
	 "OR s.next_at IS NULL OR s.next_at <= now() OR EXISTS (" RUM_SYNC_OPEN_DUE ") "
	 "OR (" RUM_SYNC_SOON_DUE ")) "
	 "ORDER BY s.requested_at NULLS LAST, s.next_at NULLS FIRST LIMIT $1",
	 1},
	{"sync_alert_resolve",
	 "UPDATE alerts SET resolved_at = now() WHERE kind = 'sync_failing' "
	 "AND subject = 'tenant:' || $1::int8 AND resolved_at IS NULL",
	 1},
	{"sync_alert_raise",
	 "INSERT INTO alerts (tenant_id, kind, severity, subject, message, details, last_seen_at) "
	 "SELECT $1::int8, 'sync_failing', 'critical', 'tenant:' || $1::int8, "
	 "'connected sync failing since ' || " RUM_SYNC_TS(
		 "s.failing_since") " || ': ' || $3::text, "
				    "jsonb_build_object('failing_since', " RUM_SYNC_TS(
					    "s.failing_since") ", 'error', $3::text), "
							       "now() FROM sync_state s WHERE s.tenant_id = $1::int8 AND $2::int > 0 "
							       "AND s.failing_since <= now() - $2::int * interval '1 second' "
							       "ON CONFLICT (kind, subject) WHERE resolved_at IS NULL DO UPDATE SET "
							       "last_seen_at = now(), message = EXCLUDED.message, details = EXCLUDED.details",
	 3},
	{"sync_runs",
	 "SELECT r.id, coalesce(r.batch_id, 0), r.kind, r.trigger, r.state, r.node, " RUM_SYNC_TS("r.started_at") ", " RUM_SYNC_TS(
		 "r.finished_at") ", r.error, "
				  "count(s.id), coalesce(sum(s.reports) FILTER (WHERE s.kind = 'usage'), 0), "
				  "count(s.id) FILTER (WHERE s.state IN ('polling', 'complete', 'duplicate')), "
				  "count(s.id) FILTER (WHERE s.state = 'complete'), "
				  "count(s.id) FILTER (WHERE s.state = 'polling'), "
				  "count(s.id) FILTER (WHERE s.state IN ('queued', 'sending')), "
				  "count(s.id) FILTER (WHERE s.state = 'duplicate'), "
				  "count(s.id) FILTER (WHERE s.state = 'failed') "
				  "FROM sync_runs r LEFT JOIN sync_sends s ON s.run_id = r.id WHERE r.tenant_id = $1 "
				  "GROUP BY r.id ORDER BY r.id DESC LIMIT $2",
	 2},
	{"sync_state",
	 "SELECT owner, " RUM_SYNC_TS("CASE WHEN lease_until > now() THEN lease_until END") ", " RUM_SYNC_TS(
		 "failing_since") ", " RUM_SYNC_TS("last_ok_at") ", "
								 "coalesce(extract(epoch FROM now() - failing_since)::int8, 0) "
								 "FROM sync_state WHERE tenant_id = $1",
	 1},
	{"sync_refusals",
	 "SELECT s.run_id, s.device_id, d.udi_pid, d.udi_serial, s.message, " RUM_SYNC_TS(
		 "s.settled_at") ", s.reports FROM sync_sends s JOIN devices d "
				 "ON d.id = s.device_id WHERE s.run_id = $1 AND s.state = 'failed' "
				 "ORDER BY s.settled_at DESC, s.id DESC LIMIT $2",
	 2},
};
const struct rum_db_stmt_set rum_store_sync_statements = RUM_DB_STMT_SET(rum_store_sync_stmts);

static int64_t rum_store_sync_i64(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int rum_store_sync_lease(struct rum_db_txn *txn, int64_t tenant_id, const char *owner, int lease_s,
			 bool *got, char *holder, size_t holder_size)
{
	char tenant[RUM_TEXT_I64_MAX], secs[RUM_TEXT_I64_MAX];
	const char *p[3] = {tenant, owner, secs};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(secs, sizeof(secs), lease_s);
	res = rum_db_exec(txn, "sync_lease", 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*got = PQntuples(res) == 1;
	PQclear(res);
	if (holder_size)
		holder[0] = '\0';
	if (*got)
		return 0;
	res = rum_db_exec(txn, "sync_holder", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1 && holder_size)
		snprintf(holder, holder_size, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int rum_store_sync_release(struct rum_db_txn *txn, int64_t tenant_id, const char *owner)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[2] = {tenant, owner};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, "sync_release", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_sync_open_run(struct rum_db_txn *txn, int64_t tenant_id, int64_t *run_id)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[1] = {tenant};
	int rc;
	PGresult *res;

	*run_id = 0;
	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, "sync_open_run", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	rc = rum_db_one_id(res, run_id);
	return rc == RUM_ENOTFOUND ? 0 : rc;
}

int rum_store_sync_plan(struct rum_db_txn *txn, const struct rum_store_sync_plan *pl,
			int64_t *run_id, int64_t *batch_id, int64_t *devices, int64_t *reports,
			int64_t *requests)
{
	char tenant[RUM_TEXT_I64_MAX], batch[RUM_TEXT_I64_MAX], max[RUM_TEXT_I64_MAX],
		ndev[RUM_TEXT_I64_MAX], nrep[RUM_TEXT_I64_MAX], run[RUM_TEXT_I64_MAX];
	int rc;
	PGresult *res;

	*run_id = *batch_id = *devices = *reports = *requests = 0;
	rum_text_i64(tenant, sizeof(tenant), pl->tenant_id);
	rum_text_i64(max, sizeof(max), pl->max_reports_per_call);
	{
		const char *p[2] = {tenant, pl->ts};

		if (!(res = rum_db_exec(txn, "sync_batch", 2, p, NULL, NULL, 0, &rc)))
			return rc;
		if ((rc = rum_db_one_id(res, batch_id)) < 0)
			return rum_err_set(RUM_EINTERNAL, "sync: no export batch id");
	}
	rum_text_i64(batch, sizeof(batch), *batch_id);
	{
		const char *p[3] = {tenant, batch, max};

		if (!(res = rum_db_exec(txn, "sync_batch_fill", 3, p, NULL, NULL, 0, &rc)))
			return rc;
		*devices = rum_store_sync_i64(res, 0, 0);
		*reports = rum_store_sync_i64(res, 0, 1);
		PQclear(res);
	}
	if (*reports == 0) {
		const char *p[1] = {batch};

		if (!(res = rum_db_exec(txn, "sync_batch_drop", 1, p, NULL, NULL, 0, &rc)))
			return rc;
		PQclear(res);
		*batch_id = 0;
	} else {
		const char *p[3] = {batch, ndev, nrep};

		rum_text_i64(ndev, sizeof(ndev), *devices);
		rum_text_i64(nrep, sizeof(nrep), *reports);
		if (!(res = rum_db_exec(txn, "sync_batch_counts", 3, p, NULL, NULL, 0, &rc)))
			return rc;
		PQclear(res);
	}
	rum_text_i64(batch, sizeof(batch), *batch_id);
	{
		const char *p[5] = {tenant, pl->kind, pl->trigger, pl->node, batch};

		if (!(res = rum_db_exec(txn, "sync_run_new", 5, p, NULL, NULL, 0, &rc)))
			return rc;
		if ((rc = rum_db_one_id(res, run_id)) < 0)
			return rum_err_set(RUM_EINTERNAL, "sync: no run id");
	}
	rum_text_i64(run, sizeof(run), *run_id);
	if (*batch_id) {
		const char *p[2] = {run, batch};

		if (!(res = rum_db_exec(txn, "sync_calls_new", 2, p, NULL, NULL, 0, &rc)))
			return rc;
		PQclear(res);
	}
	{
		const char *p[3] = {run, tenant, max};

		if (!(res = rum_db_exec(txn, "sync_auth_calls_new", 3, p, NULL, NULL, 0, &rc)))
			return rc;
		*requests = rum_store_sync_i64(res, 0, 0);
		PQclear(res);
	}
	return 0;
}

int rum_store_sync_request_body(struct rum_db_txn *txn, int64_t call_id, char **body, size_t *len)
{
	char id[RUM_TEXT_I64_MAX];
	const char *p[1] = {id};
	bool open;
	int rc;
	PGresult *res;

	*body = NULL;
	*len = 0;
	rum_text_i64(id, sizeof(id), call_id);
	if (!(res = rum_db_exec(txn, "sync_request_body", 1, p, NULL, NULL, 0, &rc)))
		return rc;
	open = PQntuples(res) == 1 && strcmp(PQgetvalue(res, 0, 0), "t") == 0;
	if (open)
		rum_db_copy_value(res, 0, 1, body, len);
	PQclear(res);
	if (!open)
		return rum_err_set(RUM_ECONFLICT, "sync call %lld is no longer to be sent",
				   (long long)call_id);
	if (!*body)
		return rum_err_set(RUM_ENOTFOUND, "the request of sync call %lld is no longer kept",
				   (long long)call_id);
	return 0;
}

int rum_store_sync_request_answered(struct rum_db_txn *txn, int64_t upload_id)
{
	char id[RUM_TEXT_I64_MAX];
	const char *p[1] = {id};
	int rc;
	PGresult *res;

	rum_text_i64(id, sizeof(id), upload_id);
	if (!(res = rum_db_exec(txn, "sync_request_answered", 1, p, NULL, NULL, 0, &rc)))
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_sync_due(struct rum_db_txn *txn, int64_t tenant_id, int limit,
		       void (*cb)(void *arg, const struct rum_store_sync_call *c), void *arg,
		       int64_t *next_ms, int64_t *open, int64_t *open_sends)
{
	char tenant[RUM_TEXT_I64_MAX], lim[RUM_TEXT_I64_MAX];
	const char *p[2] = {tenant, lim};
	int rc, n;
	PGresult *res;

	*next_ms = -1;
	*open = *open_sends = 0;
	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(lim, sizeof(lim), limit);
	if (!(res = rum_db_exec(txn, "sync_due", 2, p, NULL, NULL, 0, &rc)))
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_sync_call c;
		int k = 0;

		c.id = rum_store_sync_i64(res, i, k++);
		c.run_id = rum_store_sync_i64(res, i, k++);
		c.batch_id = rum_store_sync_i64(res, i, k++);
		c.device_id = rum_store_sync_i64(res, i, k++);
		c.upload_id = rum_store_sync_i64(res, i, k++);
		c.kind = PQgetvalue(res, i, k++);
		c.state = PQgetvalue(res, i, k++);
		c.poll_id = PQgetvalue(res, i, k++);
		c.attempts = (int)rum_store_sync_i64(res, i, k++);
		c.polls = (int)rum_store_sync_i64(res, i, k++);
		c.reports = (int)rum_store_sync_i64(res, i, k++);
		c.pid = PQgetvalue(res, i, k++);
		c.sn = PQgetvalue(res, i, k++);
		c.hostname = PQgetvalue(res, i, k++);
		c.software_tag = PQgetvalue(res, i, k++);
		cb(arg, &c);
	}
	n = PQntuples(res);
	PQclear(res);
	/* A full list says enough of what is open: the count of every open
	 * call (a scan of them all) is left for when the list runs short, so
	 * that a tenant of many devices does not pay it at every refill. */
	if (n == limit) {
		*next_ms = 0;
		*open = *open_sends = -1;
		return 0;
	}
	if (!(res = rum_db_exec(txn, "sync_next", 1, p, NULL, NULL, 0, &rc)))
		return rc;
	if (PQntuples(res) == 1) {
		*next_ms = rum_store_sync_i64(res, 0, 0);
		*open = rum_store_sync_i64(res, 0, 1);
		*open_sends = rum_store_sync_i64(res, 0, 2);
	}
	PQclear(res);
	return 0;
}

int rum_store_sync_reports(struct rum_db_txn *txn, int64_t call_id, int64_t batch_id, char **json,
			   size_t *len, int64_t *count)
{
	char batch[RUM_TEXT_I64_MAX], call[RUM_TEXT_I64_MAX];
	const char *p[2] = {batch, call};
	size_t total = 2, at = 0;
	char *out;
	int rc, n;
	PGresult *res;

	*json = NULL;
	*len = 0;
	*count = 0;
	rum_text_i64(batch, sizeof(batch), batch_id);
	rum_text_i64(call, sizeof(call), call_id);
	if (!(res = rum_db_exec(txn, "sync_reports", 2, p, NULL, NULL, 0, &rc)))
		return rc;
	n = PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return rum_err_set(RUM_ECONFLICT, "sync call %lld is no longer to be sent",
				   (long long)call_id);
	}
	for (int i = 0; i < n; i++)
		total += (size_t)PQgetlength(res, i, 0) + 1;
	out = malloc(total + 1);
	if (!out)
		abort();
	out[at++] = '[';
	for (int i = 0; i < n; i++) {
		size_t l = (size_t)PQgetlength(res, i, 0);

		if (i)
			out[at++] = ',';
		memcpy(out + at, PQgetvalue(res, i, 0), l);
		at += l;
	}
	out[at++] = ']';
	out[at] = '\0';
	PQclear(res);
	*json = out;
	*len = at;
	*count = n;
	return 0;
}

int rum_store_sync_step(struct rum_db_txn *txn, int64_t call_id,
			const struct rum_store_sync_step *s)
{
	char id[RUM_TEXT_I64_MAX], delay[RUM_TEXT_I64_MAX], ack[RUM_TEXT_I64_MAX];
	const char *p[8] = {id,
			    s->state,
			    s->poll_id ? s->poll_id : "",
			    s->message ? s->message : "",
			    delay,
			    s->attempt ? "1" : "0",
			    s->poll ? "1" : "0",
			    ack};
	int rc, n;
	PGresult *res;

	rum_text_i64(id, sizeof(id), call_id);
	rum_text_i64(delay, sizeof(delay), s->delay_ms);
	rum_text_i64(ack, sizeof(ack), s->ack_id);
	if (!(res = rum_db_exec(txn, "sync_step", 8, p, NULL, NULL, 0, &rc)))
		return rc;
	n = PQntuples(res);
	PQclear(res);
	if (n != 1)
		return rum_err_set(RUM_ECONFLICT, "sync call %lld is no longer open",
				   (long long)call_id);
	return 0;
}

int rum_store_sync_run_update(struct rum_db_txn *txn, int64_t run_id, const char *error,
			      char *state)
{
	char run[RUM_TEXT_I64_MAX];
	const char *p[2] = {run, error ? error : ""};
	int rc;
	PGresult *res;

	rum_text_i64(run, sizeof(run), run_id);
	if (!(res = rum_db_exec(txn, "sync_run_update", 2, p, NULL, NULL, 0, &rc)))
		return rc;
	snprintf(state, 16, "%s", PQntuples(res) == 1 ? PQgetvalue(res, 0, 0) : "");
	PQclear(res);
	return 0;
}

int rum_store_sync_outcome(struct rum_db_txn *txn, int64_t tenant_id, bool ok, int alert_after_s,
			   const char *error, int64_t next_s)
{
	char tenant[RUM_TEXT_I64_MAX], after[RUM_TEXT_I64_MAX], next[RUM_TEXT_I64_MAX], msg[512];
	const char *p[3] = {tenant, ok ? "t" : "f", next};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(after, sizeof(after), alert_after_s);
	rum_text_i64(next, sizeof(next), next_s);
	snprintf(msg, sizeof(msg), "%s", error ? error : "");
	if (!(res = rum_db_exec(txn, "sync_outcome", 3, p, NULL, NULL, 0, &rc)))
		return rc;
	PQclear(res);
	p[2] = msg;
	if (ok) {
		res = rum_db_exec(txn, "sync_alert_resolve", 1, p, NULL, NULL, 0, &rc);
	} else {
		p[1] = after;
		res = rum_db_exec(txn, "sync_alert_raise", 3, p, NULL, NULL, 0, &rc);
	}
	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_sync_request(struct rum_db_txn *txn, int64_t tenant_id, bool taken)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[1] = {tenant};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	if (!(res = rum_db_exec(txn, taken ? "sync_request_taken" : "sync_request", 1, p, NULL,
				NULL, 0, &rc)))
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_sync_due_tenants(struct rum_db_txn *txn, int limit,
			       void (*cb)(void *arg, const char *tenant, const char *trigger),
			       void *arg)
{
	char lim[RUM_TEXT_I64_MAX];
	const char *p[1] = {lim};
	int rc;
	PGresult *res;

	rum_text_i64(lim, sizeof(lim), limit);
	if (!(res = rum_db_exec(txn, "sync_due_tenants", 1, p, NULL, NULL, 0, &rc)))
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		cb(arg, PQgetvalue(res, i, 0), PQgetvalue(res, i, 1));
	PQclear(res);
	return 0;
}

int rum_store_sync_runs(struct rum_db_txn *txn, int64_t tenant_id, int limit,
			void (*cb)(void *arg, const struct rum_store_sync_run *r), void *arg)
{
	char tenant[RUM_TEXT_I64_MAX], lim[RUM_TEXT_I64_MAX];
	const char *p[2] = {tenant, lim};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(lim, sizeof(lim), limit);
	if (!(res = rum_db_exec(txn, "sync_runs", 2, p, NULL, NULL, 0, &rc)))
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_sync_run r;
		int k = 0;

		r.id = rum_store_sync_i64(res, i, k++);
		r.batch_id = rum_store_sync_i64(res, i, k++);
		r.kind = PQgetvalue(res, i, k++);
		r.trigger = PQgetvalue(res, i, k++);
		r.state = PQgetvalue(res, i, k++);
		r.node = PQgetvalue(res, i, k++);
		r.started_at = PQgetvalue(res, i, k++);
		r.finished_at = PQgetvalue(res, i, k++);
		r.error = PQgetvalue(res, i, k++);
		r.calls = rum_store_sync_i64(res, i, k++);
		r.reports = rum_store_sync_i64(res, i, k++);
		r.sent = rum_store_sync_i64(res, i, k++);
		r.acks = rum_store_sync_i64(res, i, k++);
		r.polling = rum_store_sync_i64(res, i, k++);
		r.queued = rum_store_sync_i64(res, i, k++);
		r.duplicates = rum_store_sync_i64(res, i, k++);
		r.failed = rum_store_sync_i64(res, i, k++);
		cb(arg, &r);
	}
	PQclear(res);
	return 0;
}

int rum_store_sync_state(struct rum_db_txn *txn, int64_t tenant_id,
			 void (*cb)(void *arg, const struct rum_store_sync_state *s), void *arg)
{
	char tenant[RUM_TEXT_I64_MAX];
	const char *p[1] = {tenant};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	if (!(res = rum_db_exec(txn, "sync_state", 1, p, NULL, NULL, 0, &rc)))
		return rc;
	if (PQntuples(res) == 1) {
		struct rum_store_sync_state s = {PQgetvalue(res, 0, 0), PQgetvalue(res, 0, 1),
						 PQgetvalue(res, 0, 2), PQgetvalue(res, 0, 3),
						 rum_store_sync_i64(res, 0, 4)};

		cb(arg, &s);
	}
	PQclear(res);
	return 0;
}

int rum_store_sync_refusals(struct rum_db_txn *txn, int64_t run_id, int limit,
			    void (*cb)(void *arg, const struct rum_store_sync_refusal *r),
			    void *arg)
{
	char run[RUM_TEXT_I64_MAX], lim[RUM_TEXT_I64_MAX];
	const char *p[2] = {run, lim};
	int rc;
	PGresult *res;

	rum_text_i64(run, sizeof(run), run_id);
	rum_text_i64(lim, sizeof(lim), limit);
	if (!(res = rum_db_exec(txn, "sync_refusals", 2, p, NULL, NULL, 0, &rc)))
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_sync_refusal r = {rum_store_sync_i64(res, i, 0),
						   rum_store_sync_i64(res, i, 1),
						   PQgetvalue(res, i, 2),
						   PQgetvalue(res, i, 3),
						   PQgetvalue(res, i, 4),
						   PQgetvalue(res, i, 5),
						   (int)rum_store_sync_i64(res, i, 6)};

		cb(arg, &r);
	}
	PQclear(res);
	return 0;
}
