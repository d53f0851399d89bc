/* RUM reports as stored: a tenant's or a device's, newest first, and one
 * byte-exact as the device sent it. */
#ifndef RUM_DOMAIN_REPORTS_H
#define RUM_DOMAIN_REPORTS_H

#include "domain/devices.h"
#include "domain/domain.h"

#include <stddef.h>
#include <stdint.h>

#define RUM_REPORTS_LIMIT_DEFAULT 50
#define RUM_REPORTS_LIMIT_MAX 1000

/* A report as shown; strings valid during the callback, "" when unknown. */
struct rum_report {
	int64_t id; /* rumd's row id */
	int64_t device_id, report_id;
	const char *udi_pid, *udi_sn;
	const char *received_at, *format, *entitlement_tag, *metric, *value;
	const char *first_start, *last_end;
	int64_t conflict_of; /* the first arrival this payload conflicts with, 0: none */
	int64_t conflicts;   /* other payloads kept for this report id */
	int64_t batch_id;    /* newest export batch holding it, 0: none */
	const char *acked_at;
	/* "acknowledged", "exported", "stored"; "conflict" for a payload kept
	 * beside the first (never exported). */
	const char *state;
	const char *source; /* push, pull, import, replay */
	/* Times it arrived again unchanged (its device still sends it: it
	 * holds no ACK for it yet), and the last time; "" when never. */
	int64_t duplicates;
	const char *last_duplicate_at;
	/* When retention dropped its payload (it was exported and acknowledged
	 * long before); "" while the payload is kept. The rest stays. */
	const char *pruned_at;
};

/* A page of the tenant's reports (device_id 0) or one device's, newest
 * first; next_cursor as for devices. RUM_EINVAL (limit, cursor),
 * RUM_ENOTFOUND (tenant, device), RUM_EUNAVAIL. */
int rum_reports_list(struct rum_domain *dom, const char *tenant, int64_t device_id,
		     const char *cursor, int limit,
		     void (*cb)(void *arg, const struct rum_report *r), void *arg,
		     char next_cursor[RUM_CURSOR_MAX]);

/* One report of the tenant (cb may be NULL) and, with raw, its text
 * byte-exact (malloc'd, caller frees). RUM_ENOTFOUND (also for the text of
 * a report whose payload was pruned, saying so). */
int rum_reports_get(struct rum_domain *dom, const char *tenant, int64_t id,
		    void (*cb)(void *arg, const struct rum_report *r), void *arg, char **raw,
		    size_t *raw_len);

#endif
