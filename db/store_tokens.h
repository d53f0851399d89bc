/* Storage side of the admin REST API: bearer tokens (only their SHA-256 is
 * stored), the audit log, and the lookups the admin endpoints need (an
 * export batch's file, a device's newest ACK, both within one tenant).
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set. */
#ifndef RUM_DB_STORE_ADMIN_H
#define RUM_DB_STORE_ADMIN_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A token as stored. hash is 64 lowercase hex digits. */
struct rum_store_admin_token {
	int64_t id;
	char hash[65];
	char prefix[24];
	char role[16];
	int64_t tenant_id; /* 0: every tenant */
	bool revoked;
};

/* Stores a new token (tenant_id 0: every tenant); *id its row. */
int rum_store_admin_token_insert(struct rum_db_txn *txn, const char *hash_hex,
				 const char *prefix, const char *role, int64_t tenant_id,
				 const char *description, int64_t *id);

/* The token with that hash, revoked or not, and marks it used now unless it
 * is revoked. RUM_ENOTFOUND when none has it. */
int rum_store_admin_token_use(struct rum_db_txn *txn, const char *hash_hex,
			      struct rum_store_admin_token *out);

/* One token for listing; strings valid during the callback ("" when unset). */
struct rum_store_admin_token_row {
	int64_t id;
	const char *prefix, *role, *tenant, *description, *created_at, *last_used_at,
		*revoked_at;
};
int rum_store_admin_token_list(struct rum_db_txn *txn,
			       void (*cb)(void *arg, const struct rum_store_admin_token_row *t),
			       void *arg);

/* Revokes the token (revoking twice keeps the first time). *prefix (at least
 * 24 bytes) gets its display prefix. RUM_ENOTFOUND when no such token. */
int rum_store_admin_token_revoke(struct rum_db_txn *txn, int64_t id, char *prefix,
				 size_t prefix_size);

/* One audit record. token_id 0 and tenant NULL are stored as NULL;
 * details_json is a JSON object text (NULL: {}). */
struct rum_store_admin_audit {
	const char *actor;
	int64_t token_id;
	const char *action;
	const char *tenant;
	const char *target;
	bool ok;
	const char *details_json;
};
int rum_store_admin_audit(struct rum_db_txn *txn, const struct rum_store_admin_audit *a);

/* The file name of export batch batch_id of the tenant, malloc'd into
 * *file_name. RUM_ENOTFOUND when the tenant has no such batch. */
int rum_store_admin_batch_file(struct rum_db_txn *txn, int64_t tenant_id, int64_t batch_id,
			       char **file_name);

/* The newest ACK of the tenant's device, byte-exact into *content (malloc'd,
 * NUL-terminated, *len bytes), recorded as delivered via 'file' in
 * ack_deliveries (the ACK stays queued for the device's own poll).
 * RUM_ENOTFOUND when the device is not the tenant's or has no ACK. */
int rum_store_admin_ack(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			int64_t *ack_id, char **content, size_t *len);

#endif
