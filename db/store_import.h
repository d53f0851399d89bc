/* Storage side of ACK imports (PROTOCOL.md 2.3) and ACK files for download:
 * the import record that makes an import idempotent, device lookups by id
 * and UDI, ACK bytes queued for delivery, export batches found by <ts>, and
 * reports marked acknowledged.
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set.
 * rum_store_import_start() is called first in an import's transaction. */
#ifndef RUM_DB_STORE_IMPORT_H
#define RUM_DB_STORE_IMPORT_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Takes the import lock and plans for tables filled in this transaction.
 * device_id 0: a file, which may touch any device: it runs alone, so that
 * two imports of one file cannot both apply. device_id > 0: one ACK for
 * that device (a connected sync's): such imports run side by side, one at
 * a time per device, and never beside a file. */
int rum_store_import_start(struct rum_db_txn *txn, int64_t device_id);

struct rum_store_import_device {
	int64_t id, tenant_id;
	char pid[160], sn[160];
};
/* RUM_ENOTFOUND (message set) when no device has that id. */
int rum_store_import_device(struct rum_db_txn *txn, int64_t id,
			    struct rum_store_import_device *out);
/* Devices with that UDI, in tenant_id (0 = any tenant): up to max of them
 * into out[], their number in *n (at most max). */
int rum_store_import_device_by_udi(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
				   const char *sn, struct rum_store_import_device *out, size_t max,
				   size_t *n);
/* Every device id of a tenant, in id order (malloc'd array, caller frees). */
int rum_store_import_tenant_devices(struct rum_db_txn *txn, int64_t tenant_id, int64_t **ids,
				    size_t *n);

/* An earlier import of the same file in the same scope: *id > 0 and its time
 * in when (UTC, ISO-8601); *id = 0 when none. sha256 is 64 hex digits. */
int rum_store_import_find(struct rum_db_txn *txn, const char *sha256_hex, const char *scope,
			  int64_t *id, char *when, size_t when_size);
int rum_store_import_insert(struct rum_db_txn *txn, const char *file_name, const char *sha256_hex,
			    const char *scope, const char *kind, int64_t *id);
int rum_store_import_finish(struct rum_db_txn *txn, int64_t id, int64_t devices, int64_t acks,
			    int64_t reports, int64_t skipped);

/* Queues ACK bytes for the device, unless the same bytes are already stored
 * for it: *ack_id the row either way, *is_new whether it was inserted. */
int rum_store_import_ack_put(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			     const char *content, size_t len, int64_t *ack_id, bool *is_new);

/* The newest export batch of the tenant written at <ts> that holds reports
 * of the device; *batch_id = 0 when none. */
int rum_store_import_batch(struct rum_db_txn *txn, int64_t tenant_id, const char *ts,
			   int64_t device_id, int64_t *batch_id);

/* Marks acknowledged (acked_at = now) the device's reports that are in the
 * batch (0 = none) or whose report id is one of ids[0..n), unless already
 * acknowledged; *count how many changed. */
int rum_store_import_ack_reports(struct rum_db_txn *txn, int64_t device_id, int64_t batch_id,
				 const int64_t *ids, size_t n, int64_t *count);

/* What was read from one device ACK, kept for display (strings may be NULL). */
struct rum_store_import_ack {
	int64_t import_id, ack_id, device_id, batch_id; /* batch_id 0 = none */
	const char *entry_name;
	bool new_ack;
	const char *policy_name, *policy_version;
	int reporting_days;                        /* -1 = unknown */
	int first_days, ongoing_days, change_days; /* -1 = unknown */
	const char *smart_account, *virtual_account;
	bool has_rum_ack, has_trust_code, has_authorization;
	const char *rum_ack_json;
	int64_t reports_acked;
};
int rum_store_import_ack_record(struct rum_db_txn *txn, const struct rum_store_import_ack *a);

#endif
