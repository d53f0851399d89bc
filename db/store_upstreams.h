/* Storage of tenants' upstreams (connected mode, PROTOCOL.md 5): one row
 * per tenant, removed with its tenant. Every function is one statement, so
 * it runs alone (rum_db_call) or in a caller's transaction
 * (rum_db_transact). Strings in callback rows are valid during the call
 * only. Return 0 or a negative RUM_E* code with the thread's message set. */
#ifndef RUM_DB_STORE_UPSTREAMS_H
#define RUM_DB_STORE_UPSTREAMS_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_store_upstream {
	int64_t tenant_id;
	const char *tenant;              /* name (rows read back) */
	const char *kind;                /* "cssm" | "collector" */
	const char *url;                 /* "" unless collector */
	const char *token_url, *api_url; /* "" = Cisco's */
	const char *client_id;
	const uint8_t *client_secret; /* sealed; NULL (len 0) = none */
	size_t client_secret_len;
	const char *smart_account_id, *virtual_account_id; /* digits or "" */
	const char *smart_account, *virtual_account;       /* names or "" */
	const char *proxy;             /* "" = the node's setting, "direct", or a URL */
	const uint8_t *proxy_password; /* sealed; NULL (len 0) = none */
	size_t proxy_password_len;
	const char *ca_file; /* "" = the node's setting */
	int connect_timeout_s, request_timeout_s;
	int64_t interval_s;
	int64_t sync_soon_s; /* 0 = only on schedule */
	/* Read back only. */
	const char *created_at, *updated_at;
};

/* Creates the upstream of u->tenant_id or replaces every field of it;
 * *created says which. RUM_EINVAL when the schema refuses a value. */
int rum_store_upstream_set(struct rum_db_txn *txn, const struct rum_store_upstream *u,
			   bool *created);

/* Upstreams of every tenant (tenant_id 0) or of one, by tenant name; with
 * lock, the rows are locked until the transaction ends (a set reading what
 * it replaces). Sealed fields are passed as they are stored. */
int rum_store_upstream_list(struct rum_db_txn *txn, int64_t tenant_id, bool lock,
			    void (*cb)(void *arg, const struct rum_store_upstream *u), void *arg);

/* Removes the upstream of a tenant; *kind (at least 16 bytes) gets what it
 * was. RUM_ENOTFOUND (no message) when it has none. */
int rum_store_upstream_remove(struct rum_db_txn *txn, int64_t tenant_id, char *kind);

#endif
