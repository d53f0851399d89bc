/* Storage of what devices push (PROTOCOL.md 1.2-1.6): devices, uploads and
 * their poll ids, RUM reports, result polls and the ACKs they take. Each
 * function runs inside a transaction given by the db module (struct
 * rum_db_txn). Strings are NUL-terminated unless a length is given. All
 * return 0 or a negative RUM_E* code with the thread's error message set; a
 * database error aborts the transaction. Outputs are set only when
 * rum_db_txn_has_results(txn): inside a pipelined batch the same call first
 * sends, then (called again) reads. Devices are named by tenant + UDI so
 * that statements never need an earlier one's result. */
#ifndef RUM_DB_STORE_PUSH_H
#define RUM_DB_STORE_PUSH_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

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
int rum_store_device_batch(struct rum_db_txn *txn, const struct rum_store_device *items, size_t n);

/* --- uploads (poll ids) --- */
struct rum_store_upload {
	int64_t tenant_id;
	const char *pid, *sn; /* the device (touched before); NULL when unknown */
	const char *kind;     /* "usage", "trust", "authorization" */
	const char *source;   /* "push", "import", "pull" */
	const char *address;
	const char *sub_path;
	const char *request_body; /* kept for pending requests; NULL otherwise */
	size_t request_len;
	int64_t poll_id; /* the upload's random poll id, > 0 */
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
int rum_store_ack_take(struct rum_db_txn *txn, int64_t tenant_id, const char *pid, const char *sn,
		       const char *address, const char *via, char **content, size_t *len);

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

/* --- schema --- */
int rum_store_schema_version(struct rum_db_txn *txn, int *version);

#endif
