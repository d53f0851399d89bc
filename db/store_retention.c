#include "db/store_retention.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdlib.h>
#include <string.h>

/* The advisory lock retention batches take (see the import's for another). */
#define RUM_STORE_RETENTION_LOCK "7340033016"

/* Which rows each kind prunes; $1 tenant, $2 days. Shared by the batch
 * statements and the dry run's counts. */
#define REPORTS_WHERE                                              \
	"c.acked_at IS NOT NULL AND c.pruned_at IS NULL "          \
	"AND c.acked_at < now() - make_interval(days => $2::int) " \
	"AND c.id <= (SELECT done_id FROM usage_rollup) "          \
	"AND ($1::int8 = 0 OR c.tenant_id = $1::int8) "            \
	"AND EXISTS (SELECT 1 FROM export_batch_reports b WHERE b.report_row = c.id)"
#define CAPTURES_WHERE                                            \
	"c.received_at < now() - make_interval(days => $2::int) " \
	"AND ($1::text = '' OR c.tenant_name = $1::text)"
#define COLLECTIONS_WHERE                                                                         \
	"j.state IN ('ok', 'failed') AND j.finished_at < now() - make_interval(days => $2::int) " \
	"AND ($1::int8 = 0 OR EXISTS (SELECT 1 FROM pull_targets t WHERE t.id = j.target_id "     \
	"AND t.tenant_id = $1::int8)) "                                                           \
	"AND j.id < (SELECT max(k.id) FROM collection_jobs k WHERE k.target_id = j.target_id "    \
	"AND k.state IN ('ok', 'failed'))"

static const struct rum_db_stmt rum_store_retention_stmts[] = {
	{"retention_lock", "SELECT pg_try_advisory_xact_lock($1::int8)", 1},
	/* The payload goes, the row stays (0016 says why). */
	{"retention_reports",
	 "UPDATE rum_reports r SET report = '', pruned_at = now() WHERE r.id IN "
	 "(SELECT c.id FROM rum_reports c WHERE " REPORTS_WHERE
	 " ORDER BY c.acked_at, c.id LIMIT $3 FOR UPDATE SKIP LOCKED)",
	 3},
	{"retention_captures",
	 "DELETE FROM captures WHERE id IN (SELECT c.id FROM captures c WHERE " CAPTURES_WHERE
	 " ORDER BY c.received_at LIMIT $3 FOR UPDATE SKIP LOCKED)",
	 3},
	/* Their one-time file URLs go with them (ON DELETE CASCADE). */
	{"retention_collections",
	 "DELETE FROM collection_jobs WHERE id IN (SELECT j.id FROM collection_jobs j WHERE " COLLECTIONS_WHERE
	 " ORDER BY j.id LIMIT $3 FOR UPDATE SKIP LOCKED)",
	 3},
	/* A dry run's counts: the same rows, without a limit. */
	{"retention_count_reports", "SELECT count(*) FROM rum_reports c WHERE " REPORTS_WHERE, 2},
	{"retention_count_captures", "SELECT count(*) FROM captures c WHERE " CAPTURES_WHERE, 2},
	{"retention_count_collections",
	 "SELECT count(*) FROM collection_jobs j WHERE " COLLECTIONS_WHERE, 2},
};

const struct rum_db_stmt_set rum_store_retention_statements =
	RUM_DB_STMT_SET(rum_store_retention_stmts);

int rum_store_retention_lock(struct rum_db_txn *txn, bool *got)
{
	const char *p[1] = {RUM_STORE_RETENTION_LOCK};
	int rc;
	PGresult *res = rum_db_exec(txn, "retention_lock", 1, p, NULL, NULL, 0, &rc);

	*got = false;
	if (!res)
		return rc;
	*got = PQntuples(res) == 1 && PQgetvalue(res, 0, 0)[0] == 't';
	PQclear(res);
	return 0;
}

/* Runs one batch statement ($1 scope, $2 days, $3 limit); *done from its
 * command tag. */
static int rum_store_retention_batch(struct rum_db_txn *txn, const char *stmt, const char *scope,
				     int days, int limit, int64_t *done)
{
	char d[16], l[16];
	const char *p[3] = {scope, d, l};
	int rc;
	PGresult *res;

	*done = 0;
	rum_text_i64(d, sizeof(d), days);
	rum_text_i64(l, sizeof(l), limit);
	res = rum_db_exec(txn, stmt, 3, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*done = strtoll(PQcmdTuples(res), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_retention_reports(struct rum_db_txn *txn, int64_t tenant_id, int days, int limit,
				int64_t *done)
{
	char t[24];

	rum_text_i64(t, sizeof(t), tenant_id);
	return rum_store_retention_batch(txn, "retention_reports", t, days, limit, done);
}

int rum_store_retention_captures(struct rum_db_txn *txn, const char *tenant_name, int days,
				 int limit, int64_t *done)
{
	return rum_store_retention_batch(txn, "retention_captures", tenant_name, days, limit, done);
}

int rum_store_retention_collections(struct rum_db_txn *txn, int64_t tenant_id, int days, int limit,
				    int64_t *done)
{
	char t[24];

	rum_text_i64(t, sizeof(t), tenant_id);
	return rum_store_retention_batch(txn, "retention_collections", t, days, limit, done);
}

static int rum_store_retention_count_one(struct rum_db_txn *txn, const char *stmt,
					 const char *scope, int days, int64_t *out)
{
	char d[16];
	const char *p[2] = {scope, d};
	int rc;
	PGresult *res;

	*out = 0;
	if (days <= 0)
		return 0;
	rum_text_i64(d, sizeof(d), days);
	res = rum_db_exec(txn, stmt, 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1)
		*out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

int rum_store_retention_count(struct rum_db_txn *txn, int64_t tenant_id, const char *tenant_name,
			      int report_days, int capture_days, int collection_days,
			      struct rum_store_retention_counts *out)
{
	char t[24];
	int rc;

	memset(out, 0, sizeof(*out));
	rum_text_i64(t, sizeof(t), tenant_id);
	rc = rum_store_retention_count_one(txn, "retention_count_reports", t, report_days,
					   &out->reports);
	if (rc == 0)
		rc = rum_store_retention_count_one(txn, "retention_count_captures", tenant_name,
						   capture_days, &out->captures);
	if (rc == 0)
		rc = rum_store_retention_count_one(txn, "retention_count_collections", t,
						   collection_days, &out->collections);
	return rc;
}
