/* Storage of ACK hand-over outside the pipelined push path (which takes an
 * ACK in its batch statements, store_push.c, through the same SQL function
 * rum_ack_take): the pull collector's look-then-confirm, and the newest ACK
 * of a device handed out as a file (admin API, `rumd import ack-file`).
 * Each function is one statement. */
#ifndef RUM_DB_STORE_ACKS_H
#define RUM_DB_STORE_ACKS_H

#include "db/db.h"

#include <stddef.h>
#include <stdint.h>

/* The newest undelivered ACK of the device (tenant + UDI), not marked:
 * *content NULL (and *ack_id 0) when none; else malloc'd, caller frees. */
int rum_store_ack_pending(struct rum_db_txn *txn, int64_t tenant_id, const char *pid,
			  const char *sn, int64_t *ack_id, char **content, size_t *len);

/* Marks ACK ack_id delivered over `via` to `address`, superseding older
 * undelivered ones of its device (rum_ack_delivered). */
int rum_store_ack_delivered(struct rum_db_txn *txn, int64_t ack_id, const char *address,
			    const char *via);

/* The newest ACK of device_id (of tenant_id unless it is 0), delivered or
 * not, recorded in ack_deliveries as handed out 'file' (it stays queued for
 * the device itself). RUM_ENOTFOUND when the device has none (or is not the
 * tenant's). *content malloc'd, caller frees. */
int rum_store_ack_file(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
		       int64_t *ack_id, char **content, size_t *len);

#endif
