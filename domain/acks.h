/* ACK delivery: how an ACK that CSSM returned (imported, PROTOCOL.md 2.3)
 * reaches its device. One rule everywhere: a device gets its newest
 * undelivered ACK; delivering it marks it delivered (to whom, over which
 * path) and supersedes older undelivered ones, which are kept.
 * - push: a device's result poll takes it in the push path's own batch
 *   statements (domain/push.c), with the same SQL function;
 * - pull: the collector looks (rum_acks_pending), hands the file over, and
 *   confirms only once the device says it installed it (rum_acks_delivered);
 * - file: the admin API and `rumd import ack-file` hand out the newest ACK
 *   of a device as a file (rum_acks_file); it stays queued for the device,
 *   since rumd cannot know that a downloaded file was installed. */
#ifndef RUM_DOMAIN_ACKS_H
#define RUM_DOMAIN_ACKS_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stddef.h>
#include <stdint.h>

/* An ACK as handed over: its id and bytes (malloc'd, NUL-terminated). */
struct rum_ack {
	int64_t id;
	char *content; /* NULL: none */
	size_t len;
};

/* Frees the content; accepts an empty ack. */
void rum_ack_dispose(struct rum_ack *a);

/* The newest undelivered ACK of the device (tenant + UDI), not yet marked:
 * out->content NULL when there is none. */
int rum_acks_pending(struct rum_domain *dom, int64_t tenant_id, const char *pid, const char *sn,
		     struct rum_ack *out);

/* The device confirmed installing ACK id, delivered over `via` ("netconf",
 * "restapi") to `address`. */
int rum_acks_delivered(struct rum_domain *dom, int64_t id, const char *address, const char *via);

/* The newest ACK of device_id (of tenant_id, unless 0), delivered or not,
 * handed out as a file and recorded so. RUM_ENOTFOUND when the device has
 * none or is not the tenant's. */
int rum_acks_file(struct rum_domain *dom, int64_t tenant_id, int64_t device_id,
		  struct rum_ack *out);

/* Writes the newest ACK of the device to path ("-" = stdout), byte-exact,
 * never over an existing file, handed out as rum_acks_file does; *len its
 * size. Errors: RUM_ENOTFOUND (no device, no ACK), RUM_ECONFLICT (the file
 * exists), RUM_EIO. */
int rum_acks_save(struct rum_domain *dom, int64_t device_id, const char *path, int64_t *ack_id,
		  size_t *len);

/* For the admin API: the newest ACK of the actor's tenant's device, as
 * rum_acks_file; *content malloc'd. Audited. */
int rum_acks_download_by(struct rum_domain *dom, const struct rum_actor *by, int64_t device_id,
			 char **content, size_t *len);

#endif
