/* Storage of licence usage aggregates (migration 0010): the rollup step and
 * reads of a tenant's summary and days. Strings in callback rows are valid
 * during the call only. Return 0 or a negative RUM_E* code. */
#ifndef RUM_DB_STORE_USAGE_H
#define RUM_DB_STORE_USAGE_H

#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

struct rum_store_usage_step {
	bool skipped, caught_up;
	int64_t taken;
	char done_until[40]; /* "" until caught up once */
};
/* One step of the rollup (rum_usage_rollup_step): chunk report ids at most. */
int rum_store_usage_step(struct rum_db_txn *txn, int lag_s, int chunk,
			 struct rum_store_usage_step *out);

/* Where counting stands ("" when it never ran). */
int rum_store_usage_as_of(struct rum_db_txn *txn, char out[40]);

struct rum_store_usage_tag {
	const char *tag;
	int64_t devices, in_use, peak;
	const char *peak_day; /* "" when no day was counted */
};
int rum_store_usage_summary(struct rum_db_txn *txn, int64_t tenant_id,
			    void (*cb)(void *arg, const struct rum_store_usage_tag *t), void *arg);

struct rum_store_usage_day {
	const char *tag, *day;
	int64_t devices, in_use;
};
/* Days from..to (YYYY-MM-DD, both included) of one tag ("" for all). */
int rum_store_usage_days(struct rum_db_txn *txn, int64_t tenant_id, const char *tag,
			 const char *from, const char *to,
			 void (*cb)(void *arg, const struct rum_store_usage_day *d), void *arg);

#endif
