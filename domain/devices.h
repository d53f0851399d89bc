/* Devices (product instances) as a tenant knows them: one per UDI, however
 * its usage arrived (push, pull over NETCONF or REST, a usage file), with
 * what an admin asks of it: when it last spoke and reported, what is not
 * yet exported or acknowledged, its policy and its next reporting
 * deadline, and its current usage.
 *
 * Lists are pages in one of four orders with an opaque cursor (keyset
 * paging: a page deep in a million devices costs what the first does). */
#ifndef RUM_DOMAIN_DEVICES_H
#define RUM_DOMAIN_DEVICES_H

#include "domain/domain.h"

#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_DEVICES_LIMIT_DEFAULT 50
#define RUM_DEVICES_LIMIT_MAX 500
#define RUM_DEVICES_DUE_DAYS_DEFAULT 30
#define RUM_DEVICES_SEARCH_MAX 128
/* A cursor fits in this, with its NUL. */
#define RUM_CURSOR_MAX 2048

/* One page request. Every string may be NULL (its default). */
struct rum_devices_query {
	const char *tenant;
	/* "id" (default: first seen first), "deadline" (soonest first, none
	 * last), "last_contact" (newest first), "hostname". */
	const char *sort;
	/* "all" (default), "overdue", "due" (within due_days, not passed),
	 * "ack_pending" (exported, no ACK yet), "never_reported", "failing" (a
	 * pull target of it fails). */
	const char *state;
	int due_days;       /* 0: RUM_DEVICES_DUE_DAYS_DEFAULT; at most 3650 */
	const char *search; /* a prefix of the serial number, hostname or PID, any case */
	const char *cursor; /* a previous page's next cursor */
	int limit;          /* 0: RUM_DEVICES_LIMIT_DEFAULT; at most RUM_DEVICES_LIMIT_MAX */
};

/* A device as shown; strings valid during the callback, "" when unknown. */
struct rum_device {
	int64_t id;
	const char *tenant;
	const char *udi_pid, *udi_sn, *hostname, *software_version;
	/* How it reports: "push", "netconf", "restapi", "file" (usage files
	 * imported), or "" before anything arrived. */
	const char *method;
	const char *first_seen, *last_contact, *first_report_at, *last_report_at;
	int64_t reports;          /* stored (first arrivals) */
	int64_t not_exported;     /* neither exported nor acknowledged */
	int64_t exported_unacked; /* exported, no ACK yet */
	int64_t last_batch;       /* newest export batch holding its reports, 0: none */
	const char *last_batch_at;
	int64_t last_ack_id; /* newest ACK imported for it, 0: none */
	const char *last_ack_at, *last_ack_delivered_at;
	const char *ack_pending_since; /* oldest export still waiting for an ACK */
	const char *unacked_since;     /* oldest report not acknowledged */
	const char *last_acked_at;     /* when an ACK last acknowledged its reports */
	/* Policy: the one CSSM installed, or Cisco default (policy_default). */
	const char *policy_name;
	bool policy_default;
	int first_days, ongoing_days, change_days; /* 0: no such requirement */
	const char *next_deadline;                 /* "" when none applies */
	const char *trust;                         /* "none", "requested", "received" */
	bool collection_failing;
	/* The most urgent of: "never_reported", "overdue", "due_soon" (within
	 * RUM_DEVICES_DUE_DAYS_DEFAULT days), "ack_pending", "ok". */
	const char *state;
};

/* A device's newest report per entitlement. */
struct rum_device_usage {
	const char *entitlement_tag, *metric, *value, *received_at;
	int64_t report_id;
};

/* One page: cb for each device; next_cursor gets the cursor of the next
 * page, or "" after the last. RUM_EINVAL (a bad sort, state, limit,
 * search or cursor: the message names it), RUM_ENOTFOUND (tenant),
 * RUM_EUNAVAIL. */
int rum_devices_list(struct rum_domain *dom, const struct rum_devices_query *q,
		     void (*cb)(void *arg, const struct rum_device *d), void *arg,
		     char next_cursor[RUM_CURSOR_MAX]);

/* One device of the tenant and its current usage (usage_cb may be NULL).
 * RUM_ENOTFOUND when the tenant has no such device. */
int rum_devices_get(struct rum_domain *dom, const char *tenant, int64_t id,
		    void (*cb)(void *arg, const struct rum_device *d),
		    void (*usage_cb)(void *arg, const struct rum_device_usage *u), void *arg);

/* A pull target collecting from a device; strings valid during the callback. */
struct rum_device_target {
	int64_t id;
	const char *host;
	int port;
	const char *protocol;
};

/* The tenant's pull targets (at most 10) that collect from device id; none
 * for a device that only pushes. */
int rum_devices_pull_targets(struct rum_domain *dom, const char *tenant, int64_t id,
			     void (*cb)(void *arg, const struct rum_device_target *t), void *arg);

/* A tenant at a glance, for the page admins open every morning. */
#define RUM_DEVICES_OVERVIEW_DEADLINES 10
struct rum_devices_overview {
	int due_days;               /* the due-soon window the counts used */
	int64_t devices;            /* every device the tenant has heard of */
	int64_t contacted_last_day; /* heard of in the last 24 hours */
	int64_t never_reported;     /* no report stored yet */
	int64_t overdue, due_soon;  /* deadline passed; within due_days */
	int64_t ack_pending;        /* exported, no ACK back yet */
	int64_t collection_failing; /* a pull target of it fails */
	int64_t alerts_open, alerts_critical, alerts_unacknowledged;
	/* When the counts were taken by the upkeep (ISO-8601 UTC) for a tenant
	 * of at least overview_live_max_devices devices; "" when counted now. */
	char as_of[40];
};

/* Counts every tenant's overview now (default due window) and keeps it as
 * the tenant's snapshot, for the tenants too large to count on each
 * request. Stops between tenants when *stop (may be NULL) is set. */
int rum_devices_overview_snapshots(struct rum_domain *dom, const atomic_int *stop);

/* The soonest deadline of a device, not passed yet. */
struct rum_device_deadline {
	int64_t id;
	const char *hostname, *udi_pid, *udi_sn, *next_deadline;
};

/* Counts (due_days 0: RUM_DEVICES_DUE_DAYS_DEFAULT; at most 3650) and the
 * RUM_DEVICES_OVERVIEW_DEADLINES soonest deadlines, soonest first, to cb
 * (may be NULL). RUM_EINVAL, RUM_ENOTFOUND (tenant), RUM_EUNAVAIL. */
int rum_devices_overview(struct rum_domain *dom, const char *tenant, int due_days,
			 struct rum_devices_overview *out,
			 void (*cb)(void *arg, const struct rum_device_deadline *d), void *arg);

/* Every tenant's overview (default due window), as rum_devices_overview
 * counts it, to cb in name order: for metrics. RUM_EUNAVAIL. */
int rum_devices_overview_each(struct rum_domain *dom,
			      void (*cb)(void *arg, const char *tenant,
					 const struct rum_devices_overview *o),
			      void *arg);

#endif
