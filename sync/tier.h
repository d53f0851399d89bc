/* Client of an upstream collector (PROTOCOL.md 5.2): another rumd's
 * /cslu/v1/pi/<tenant>, CSLU or SSM On-Prem, spoken to in the device
 * protocol of section 1, device by device: each call is the device's own
 * usage message (its UDI, its reports byte-exact), answered OK_POLL with a
 * poll id, and polled until the upstream has the device's ACK (once the
 * upstream synced with Cisco or imported its ACK file). Answers are read
 * into the same outcomes as CSSM's (sync/cssm.h). */
#ifndef RUM_SYNC_TIER_H
#define RUM_SYNC_TIER_H

#include "domain/sync.h"
#include "sync/cssm.h"

struct rum_tier;

/* url: the upstream's device endpoint. */
int rum_tier_new(struct rum_tier **out, const char *url, const struct rum_cssm_net *net);
void rum_tier_free(struct rum_tier *t);

/* The device's usage message; 0 with *a filled, or an error that stops the
 * sync (the upstream refuses the tenant, TLS, proxy). */
int rum_tier_report_usage(struct rum_tier *t, const struct rum_sync_call *call, const char *reports,
			  size_t len, struct rum_cssm_answer *a);
/* A trust or authorization request a device left, forwarded as the
 * device sent it. */
int rum_tier_forward(struct rum_tier *t, const struct rum_sync_call *call, const char *body,
		     size_t len, struct rum_cssm_answer *a);
/* A result poll for the call's poll id. */
int rum_tier_poll(struct rum_tier *t, const struct rum_sync_call *call, struct rum_cssm_answer *a);

#endif
