/* Storage of bearer tokens (only their SHA-256 is stored) and of the audit
 * log.
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set. */
#ifndef RUM_DB_STORE_TOKENS_H
#define RUM_DB_STORE_TOKENS_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token as stored. hash is 64 lowercase hex digits. */
struct rum_store_token {
	int64_t id;
	char hash[65];
	char prefix[24];
	char role[16];
	int64_t tenant_id; /* 0: every tenant */
	bool revoked;
};

/* Stores a new token (tenant_id 0: every tenant); *id its row. */
int rum_store_token_insert(struct rum_db_txn *txn, const char *hash_hex, const char *prefix,
			   const char *role, int64_t tenant_id, const char *description,
			   int64_t *id);

/* The token with that hash, revoked or not, and marks it used now unless it
 * is revoked. RUM_ENOTFOUND when none has it. */
int rum_store_token_use(struct rum_db_txn *txn, const char *hash_hex, struct rum_store_token *out);

/* One token for listing; strings valid during the callback ("" when unset). */
struct rum_store_token_row {
	int64_t id;
	const char *prefix, *role, *tenant, *description, *created_at, *last_used_at, *revoked_at;
};
int rum_store_token_list(struct rum_db_txn *txn,
			 void (*cb)(void *arg, const struct rum_store_token_row *t), void *arg);

/* Revokes the token (revoking twice keeps the first time). *prefix (at least
 * 24 bytes) gets its display prefix. RUM_ENOTFOUND when no such token. */
int rum_store_token_revoke(struct rum_db_txn *txn, int64_t id, char *prefix, size_t prefix_size);

/* One audit record. token_id 0 and tenant NULL are stored as NULL;
 * details_json is a JSON object text (NULL: {}). */
struct rum_store_audit {
	const char *actor;
	int64_t token_id;
	const char *action;
	const char *tenant;
	const char *target;
	bool ok;
	const char *details_json;
};
int rum_store_audit(struct rum_db_txn *txn, const struct rum_store_audit *a);

/* The audit log newest first, ids below before_id, of one tenant (by name as
 * recorded) or all (NULL). */
struct rum_store_audit_row {
	int64_t id;
	const char *at, *actor, *action, *tenant, *target, *result, *details_json;
};
int rum_store_audit_page(struct rum_db_txn *txn, const char *tenant, int64_t before_id, int limit,
			 void (*cb)(void *arg, const struct rum_store_audit_row *r), void *arg);

#endif
