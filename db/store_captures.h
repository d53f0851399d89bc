/* Storage of captured device messages, kept whole for an operator. */
#ifndef RUM_DB_STORE_CAPTURES_H
#define RUM_DB_STORE_CAPTURES_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_store_capture {
	const char *tenant_name;
	const char *method;
	const char *path;
	const char *headers_json; /* a JSON object */
	const char *address;
	const char *body;
	size_t body_len;
	const char *reason;
};
int rum_store_capture_insert(struct rum_db_txn *txn, const struct rum_store_capture *c);

/* A stored capture as listed or fetched; strings valid during the callback. */
struct rum_store_capture_row {
	int64_t id;
	const char *received_at, *tenant_name, *method, *path, *headers_json, *address, *reason;
	const char *body;
	size_t body_len;
};
/* Newest first; tenant "" = all tenants; at most `limit` rows. */
int rum_store_capture_list(struct rum_db_txn *txn, const char *tenant, int64_t limit,
			   void (*cb)(void *arg, const struct rum_store_capture_row *c), void *arg);
/* RUM_ENOTFOUND when no capture has that id. */
int rum_store_capture_get(struct rum_db_txn *txn, int64_t id,
			  void (*cb)(void *arg, const struct rum_store_capture_row *c), void *arg);

#endif
