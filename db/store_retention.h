/* Storage side of retention (migration 0016): one batch of pruning per
 * kind, each in the caller's transaction, and the counts a dry run shows.
 * Days are whole days before now; tenant 0 (or "" for captures, which
 * name their tenant) means every tenant. Return 0 or a negative RUM_E*
 * code. */
#ifndef RUM_DB_STORE_RETENTION_H
#define RUM_DB_STORE_RETENTION_H

#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* Takes the transaction-scoped retention lock without waiting: *got is
 * false when another node's batch holds it. */
int rum_store_retention_lock(struct rum_db_txn *txn, bool *got);

/* Drops the payload of up to `limit` reports exported, acknowledged more
 * than `days` ago and counted by the usage rollup, oldest ACK first; rows a
 * concurrent transaction holds are skipped, never waited for. *done: how
 * many. */
int rum_store_retention_reports(struct rum_db_txn *txn, int64_t tenant_id, int days, int limit,
				int64_t *done);

/* Deletes up to `limit` captures received more than `days` ago. */
int rum_store_retention_captures(struct rum_db_txn *txn, const char *tenant_name, int days,
				 int limit, int64_t *done);

/* Deletes up to `limit` finished collection records older than `days`,
 * each target's newest one always kept. */
int rum_store_retention_collections(struct rum_db_txn *txn, int64_t tenant_id, int days, int limit,
				    int64_t *done);

/* What the three would remove now, without a limit (days 0: not counted). */
struct rum_store_retention_counts {
	int64_t reports, captures, collections;
};
int rum_store_retention_count(struct rum_db_txn *txn, int64_t tenant_id, const char *tenant_name,
			      int report_days, int capture_days, int collection_days,
			      struct rum_store_retention_counts *out);

#endif
