/* Storage side of exports for CSSM (PROTOCOL.md 2.2): the tenant and instance
 * an export is labelled with, the selection of reports recorded as an export
 * batch, and a server-side cursor that reads the batch's reports back in file
 * order (device, then report) a bounded number of bytes at a time.
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set.
 * rum_store_export_start() is called first in the transaction. */
#ifndef RUM_DB_STORE_EXPORT_H
#define RUM_DB_STORE_EXPORT_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Starts an export in this transaction: times without a zone read as UTC
 * for the rest of it, and fetch sizes start from scratch. */
int rum_store_export_start(struct rum_db_txn *txn);

/* The tenant an export is for, with the names the manifest carries. */
struct rum_store_export_tenant {
	int64_t id;
	char *smart_account;   /* malloc'd, "" when unset */
	char *virtual_account; /* malloc'd, "" when unset */
	char *instance_uuid;   /* rum_instance.uuid, malloc'd */
};
/* RUM_ENOTFOUND (message names it) when no tenant has that name. */
int rum_store_export_tenant(struct rum_db_txn *txn, const char *name,
			    struct rum_store_export_tenant *out);
/* Frees the strings; accepts a zeroed struct. */
void rum_store_export_tenant_dispose(struct rum_store_export_tenant *t);

/* Which reports an export takes. Conflict rows (conflict_of set) are never
 * taken: their report id is already held by the first arrival, and CSSM
 * refuses a file holding one report id with two payloads. */
struct rum_store_export_query {
	int64_t tenant_id;
	bool all;               /* every report, acknowledged or not */
	const char *since;      /* ISO-8601 time: every report received since; NULL = none */
	const int64_t *devices; /* only these devices (rumd ids); NULL/0 = all */
	size_t ndevices;
	const char *file_name; /* recorded with the batch */
	const char *ts;
	const char *selection; /* recorded with the batch, for people */
};

/* Checks that every id in q->devices is a device of q->tenant_id: RUM_ENOTFOUND
 * naming the first that is not. RUM_EINVAL when q->since is not a time. */
int rum_store_export_check(struct rum_db_txn *txn, const struct rum_store_export_query *q);

/* Records the batch (its rows, which reports) and opens the cursor over them.
 * *nreports = 0 means nothing to export: the caller should roll back. */
int rum_store_export_begin(struct rum_db_txn *txn, const struct rum_store_export_query *q,
			   int64_t *batch_id, int64_t *nreports);

/* One report as the cursor returns it; strings are valid during the callback. */
struct rum_store_export_row {
	int64_t device_id;
	const char *pid, *sn, *hostname, *software_tag;
	const char *report; /* the report object, byte-exact */
	size_t report_len;
};

/* Fetches the next rows (about max_bytes of reports, at least one row) and
 * calls cb for each in order; cb's non-zero return stops and is returned.
 * *nrows = 0 at the end. */
int rum_store_export_fetch(struct rum_db_txn *txn, size_t max_bytes,
			   int (*cb)(void *arg, const struct rum_store_export_row *row), void *arg,
			   size_t *nrows);

/* Closes the cursor and stores the batch's device and report counts, which
 * must equal what was recorded (RUM_EINTERNAL otherwise). */
int rum_store_export_finish(struct rum_db_txn *txn, int64_t batch_id, int64_t devices,
			    int64_t reports);

/* Removes a batch (an export whose file could not be put in place). */
int rum_store_export_delete(struct rum_db_txn *txn, int64_t batch_id);

/* The file name of export batch batch_id of the tenant, malloc'd into
 * *file_name. RUM_ENOTFOUND when the tenant has no such batch. */
int rum_store_export_file_name(struct rum_db_txn *txn, int64_t tenant_id, int64_t batch_id,
			       char **file_name);

/* One export batch as listed, with its ACK state; strings valid during the
 * callback. Times are ISO-8601 UTC; last_ack_at is "" before any ACK. */
struct rum_store_export_batch {
	int64_t id;
	const char *file_name, *selection;
	int64_t devices, reports;
	const char *created_at;
	int64_t devices_acked, reports_acked;
	const char *last_ack_at;
};

/* The tenant's export batches with id < before_id, newest first, at most
 * limit of them. */
int rum_store_export_batch_page(struct rum_db_txn *txn, int64_t tenant_id, int64_t before_id,
				int limit,
				void (*cb)(void *arg, const struct rum_store_export_batch *b),
				void *arg);

#endif
