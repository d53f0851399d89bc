/* Storage operations used by the domain, each running inside a transaction
 * given by the db module (struct rum_db_txn). Strings are NUL-terminated
 * unless a length is given. All return 0 or a negative RUM_E* code with the
 * thread's error message set; a database error aborts the transaction.
 * Outputs are set only when rum_db_txn_has_results(txn): inside a pipelined
 * batch the same call first sends, then (called again) reads. Devices are
 * named by tenant + UDI so that statements never need an earlier one's
 * result. Tenant lookups (find, ensure, create, list) run only outside
 * pipelines (prepare steps and CLI verbs). */
#ifndef RUM_DB_STORE_H
#define RUM_DB_STORE_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* --- tenants --- */
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
/* Calls cb for each tenant in name order; the row is valid during the call. */
int rum_store_tenant_list(struct rum_db_txn *txn,
			  void (*cb)(void *arg, const struct rum_store_tenant *t), void *arg);

/* --- devices --- */
/* Upserts the device (tenant + UDI) at contact time: non-empty hostname, tag
 * and version replace the stored ones; last contact and address always do.
 * A device seen in the last minute with nothing new is left unwritten. */
int rum_store_device_touch(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
			   const char *sn, const char *hostname, const char *software_tag,
			   const char *software_version, const char *address);

/* Touches several devices in one statement, with the same outcome as
 * rum_store_device_touch on each item in item order. Devices are written in
 * device order (tenant, PID, serial), so that two batches touching the same
 * devices lock them alike. */
struct rum_store_device {
	int64_t tenant_id;
	const char *pid, *sn;
	const char *hostname, *software_tag, *software_version, *address;
};
int rum_store_device_batch(struct rum_db_txn *txn, const struct rum_store_device *items,
			   size_t n);

/* --- uploads (poll ids) --- */
struct rum_store_upload {
	int64_t tenant_id;
	const char *pid, *sn;     /* the device (touched before); NULL when unknown */
	const char *kind;         /* "usage", "trust", "authorization" */
	const char *source;       /* "push", "import", "pull" */
	const char *address;
	const char *sub_path;
	const char *request_body; /* kept for pending requests; NULL otherwise */
	size_t request_len;
	int64_t poll_id;          /* the upload's random poll id, > 0 */
};
/* Inserts an upload; the reports stored after it in the same transaction
 * belong to it. *poll_id echoes u->poll_id once stored. */
int rum_store_upload_insert(struct rum_db_txn *txn, const struct rum_store_upload *u,
			    int64_t *poll_id);

/* --- RUM reports --- */
enum rum_store_outcome { RUM_STORE_NEW = 0, RUM_STORE_DUPLICATE, RUM_STORE_CONFLICT };

struct rum_store_report {
	int64_t tenant_id;
	int64_t report_id;
	const char *pid, *sn;
	char format; /* 'A' or 'B' */
	const char *entitlement_tag, *software_version, *metric_name, *last_value;
	int64_t first_start, last_end; /* epoch seconds, -1 = unknown */
	const uint8_t *payload_sha256; /* 32 bytes */
	const char *report;            /* the report object, byte-exact */
	size_t report_len;
};
/* Stores a report of the upload inserted last in this transaction, for the
 * device of its UDI (touched before): new, a duplicate (same identity and
 * payload: nothing written) or a conflict (kept beside the first, alert
 * raised). */
int rum_store_report_put(struct rum_db_txn *txn, const struct rum_store_report *r,
			 enum rum_store_outcome *outcome);

/* Usage messages stored together (one statement for a batch's uploads and
 * reports): each with its upload (kind "usage") and its reports, all of the
 * upload's device (touched before, as for rum_store_report_put). The
 * outcomes are read back per message; a report repeated within the batch is
 * stored once, the later copies being duplicates or conflicts in batch
 * order, as if the messages had been stored one after the other. */
struct rum_store_usage {
	const struct rum_store_upload *upload;
	const struct rum_store_report *reports;
	size_t n_reports;
	/* outputs, when results are there */
	bool stored;
	unsigned n_new, n_duplicate, n_conflict;
};
int rum_store_usage_batch(struct rum_db_txn *txn, struct rum_store_usage *items, size_t n);

/* --- ACKs --- */
/* Takes the newest undelivered ACK of the device (tenant + UDI) for delivery:
 * marks it delivered (with address and path `via`), supersedes older
 * undelivered ones and returns its bytes in *content (malloc'd, caller
 * frees); *content is NULL when there is none. */
int rum_store_ack_take(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
		       const char *sn, const char *address, const char *via, char **content,
		       size_t *len);

/* Result polling for the upload with poll id `poll_id` in the tenant: *found
 * false when no such upload exists there; otherwise the ACK for its device, taken as
 * rum_store_ack_take does (*content NULL when none). */
int rum_store_poll_take(struct rum_db_txn *txn, int64_t tenant_id, int64_t poll_id,
			const char *address, bool *found, char **content, size_t *len);

/* Result polls of a batch in one statement: for each, as
 * rum_store_poll_take (in item order, so two polls of one device hand a
 * waiting ACK to the first). */
struct rum_store_poll {
	int64_t tenant_id, poll_id;
	const char *address;
	/* outputs, when results are there */
	bool found;
	char *content; /* malloc'd ACK bytes (caller frees), NULL when none */
	size_t len;
};
int rum_store_poll_batch(struct rum_db_txn *txn, struct rum_store_poll *items, size_t n);

/* --- captures --- */
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
			   void (*cb)(void *arg, const struct rum_store_capture_row *c),
			   void *arg);
/* RUM_ENOTFOUND when no capture has that id. */
int rum_store_capture_get(struct rum_db_txn *txn, int64_t id,
			  void (*cb)(void *arg, const struct rum_store_capture_row *c), void *arg);

/* --- schema --- */
int rum_store_schema_version(struct rum_db_txn *txn, int *version);

#endif
