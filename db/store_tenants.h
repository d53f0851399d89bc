/* Storage of tenants. Lookups and creations run only outside pipelined
 * batches (a unit's prepare step, or a transaction of their own). Return 0
 * or a negative RUM_E* code with the thread's message set. */
#ifndef RUM_DB_STORE_TENANTS_H
#define RUM_DB_STORE_TENANTS_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_store_tenant {
	int64_t id;
	const char *name;
	const char *smart_account;
	const char *virtual_account;
	const char *created_at;
};

/* Error RUM_ENOTFOUND when no tenant has that name. */
int rum_store_tenant_find(struct rum_db_txn *txn, const char *name, int64_t *id);
/* Creates it if missing (auto_create_tenants); *id gets its id either way. */
int rum_store_tenant_ensure(struct rum_db_txn *txn, const char *name, int64_t *id);
/* Error RUM_ECONFLICT when the name exists, RUM_EINVAL when the name is bad. */
int rum_store_tenant_create(struct rum_db_txn *txn, const char *name, const char *smart_account,
			    const char *virtual_account, int64_t *id);
/* Sets the account names that are not NULL. RUM_ENOTFOUND (no message). */
int rum_store_tenant_update(struct rum_db_txn *txn, int64_t id, const char *smart_account,
			    const char *virtual_account);
/* Calls cb for each tenant (only: that one; 0: all) in name order; the row
 * is valid during the call. */
int rum_store_tenant_list(struct rum_db_txn *txn, int64_t only,
			  void (*cb)(void *arg, const struct rum_store_tenant *t), void *arg);

#endif
