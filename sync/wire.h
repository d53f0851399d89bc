/* What connected mode's two upstream clients (sync/cssm.c, sync/tier.c)
 * write and read alike: a device's usage message with its reports spliced
 * in byte-exact, fresh nonces and timestamps, the ACK list of a completed
 * poll, and bounded messages. */
#ifndef RUM_SYNC_WIRE_H
#define RUM_SYNC_WIRE_H

#include "domain/sync.h"
#include "lib/http_client.h"
#include "sync/cssm.h"

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define RUM_SYNC_MAX_ACK (4u << 20) /* one ACK document, decoded */
#define RUM_SYNC_MAX_ACKS 64        /* ACK documents in one answer */

/* snprintf that cuts without fuss: messages and ids are bounded on purpose. */
void rum_sync_put(char *out, size_t size, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

/* How an upstream client connects: certificate verified, net's proxy,
 * CA bundle, timeouts and cancel flag; label names it in messages. */
struct rum_http_client_options rum_sync_http_options(const struct rum_cssm_net *net,
						     const char *label, size_t max_reply);

/* 32 hex digits of fresh randomness (out: 33 bytes), and the time now in
 * milliseconds since the epoch. */
void rum_sync_nonce(char out[33]);
long long rum_sync_now_ms(void);

/* The device's usage message (PROTOCOL.md 1.3): {"timestamp", "nonce",
 * "sudi", "reports": [{"sudi", "hostname", "software_tag_identifier",
 * "usage": REPORTS}]} with REPORTS (a JSON array of report objects)
 * spliced in as stored; inside {"data": ...} for CSSM's reportusage.
 * malloc'd, *out_len its length. */
char *rum_sync_usage_message(const struct rum_sync_call *call, const char *reports, size_t len,
			     bool in_data, size_t *out_len);

/* Decodes a COMPLETE answer's list of {"smart_license": BASE64} into
 * a->docs (at most RUM_SYNC_MAX_ACKS, each at most RUM_SYNC_MAX_ACK).
 * RUM_EINVAL/RUM_ETOOBIG naming the entry; a->ndocs counts those decoded. */
int rum_sync_acks_decode(json_t *list, struct rum_cssm_answer *a);

#endif
