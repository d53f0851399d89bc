/* Storage side of the inventory: pages of a tenant's devices (keyset
 * paging over one of four orders, with one state filter), a device's
 * details, its current usage, its reports, one report byte-exact.
 * Strings in callback rows are valid during the call only; "" stands for
 * an unknown time or text. Return 0 or a negative RUM_E* code. */
#ifndef RUM_DB_STORE_DEVICES_H
#define RUM_DB_STORE_DEVICES_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

enum rum_store_device_sort {
	RUM_STORE_SORT_ID = 0,       /* first seen order */
	RUM_STORE_SORT_DEADLINE,     /* next deadline, none last */
	RUM_STORE_SORT_LAST_CONTACT, /* newest contact first */
	RUM_STORE_SORT_HOSTNAME,
	RUM_STORE_SORT_COUNT
};

enum rum_store_device_filter {
	RUM_STORE_FILTER_ALL = 0,
	RUM_STORE_FILTER_OVERDUE,     /* deadline passed */
	RUM_STORE_FILTER_DUE,         /* deadline within due_days, not passed */
	RUM_STORE_FILTER_ACK_PENDING, /* exported, ACK not imported */
	RUM_STORE_FILTER_NEVER,       /* never reported */
	RUM_STORE_FILTER_FAILING,     /* a pull target of it is failing */
	RUM_STORE_FILTER_COUNT
};

/* One page query. after_key/after_id: where the previous page ended (the
 * sort key as text, as a row's `key` gave it, and the device id); the
 * first page passes the order's start (see domain/devices.c). search: a
 * lower-case LIKE prefix pattern ("abc%"), or "" for none. */
struct rum_store_device_page {
	int64_t tenant_id;
	enum rum_store_device_sort sort;
	enum rum_store_device_filter filter;
	int due_days;
	const char *search;
	const char *after_key;
	int64_t after_id;
	int limit;
};

/* Calls cb with each device id of the page, in order, and its sort key. */
int rum_store_device_page(struct rum_db_txn *txn, const struct rum_store_device_page *q,
			  void (*cb)(void *arg, int64_t id, const char *key), void *arg);

struct rum_store_device {
	int64_t id, tenant_id;
	const char *udi_pid, *udi_sn, *hostname, *software_version;
	const char *target_protocol; /* a pull target's protocol, or "" */
	const char *last_source;     /* the newest upload's source, or "" */
	bool failing;                /* a pull target of it fails */
	const char *first_seen, *last_contact, *first_report_at, *last_report_at;
	int64_t reports, not_exported, exported_unacked;
	int64_t last_batch; /* 0: none */
	const char *last_batch_at;
	int64_t last_ack_id; /* 0: none */
	const char *last_ack_at, *last_ack_delivered_at;
	const char *ack_pending_since, *unacked_since, *last_acked_at;
	const char *policy_name;                   /* "" when none was imported */
	int first_days, ongoing_days, change_days; /* effective (defaults applied) */
	const char *policy_at;
	const char *next_deadline;
	bool overdue;
	const char *trust; /* none, requested, received */
};

/* Calls cb for each of the ids that is a device of the tenant, in the
 * order given. */
int rum_store_device_rows(struct rum_db_txn *txn, int64_t tenant_id, const int64_t *ids, size_t n,
			  void (*cb)(void *arg, const struct rum_store_device *d), void *arg);

/* The pull targets (at most 10) that collect from a device of the tenant. */
struct rum_store_device_target {
	int64_t id;
	const char *host;
	int port;
	const char *protocol;
};
int rum_store_device_pull_targets(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
				  void (*cb)(void *arg, const struct rum_store_device_target *t),
				  void *arg);

/* A device's newest report per entitlement. */
struct rum_store_usage_now {
	const char *entitlement_tag, *metric, *value, *received_at;
	int64_t report_id;
};
int rum_store_device_usage(struct rum_db_txn *txn, int64_t device_id,
			   void (*cb)(void *arg, const struct rum_store_usage_now *u), void *arg);

struct rum_store_report {
	int64_t row, device_id, report_id;
	const char *udi_pid, *udi_sn;
	const char *received_at, *format, *entitlement_tag, *metric, *value;
	const char *first_start, *last_end;
	int64_t conflict_of; /* 0: first arrival of its identity */
	int64_t conflicts;   /* other payloads kept for this identity */
	int64_t batch_id;    /* newest export batch holding it, 0: none */
	const char *acked_at;
	const char *upload_source;
	int64_t duplicates;            /* times it arrived again, byte for byte */
	const char *last_duplicate_at; /* "" when never */
	const char *pruned_at;         /* its payload was dropped (retention); "" when kept */
};

/* A tenant at a glance: device counts by state (due_soon: the deadline
 * falls within due_days, not passed), devices heard of in the last day,
 * devices whose pull target fails, and open alerts. */
struct rum_store_device_overview {
	int64_t devices, contacted_last_day, never_reported, overdue, due_soon, ack_pending,
		failing;
	int64_t alerts_open, alerts_critical, alerts_unacknowledged;
};
int rum_store_device_overview(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
			      struct rum_store_device_overview *out);

/* Keeps the tenant's counts, counted now with due_days, as its snapshot. */
int rum_store_device_overview_snapshot_put(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
					   const struct rum_store_device_overview *o);

/* The tenant's snapshot into *out and its time into as_of when it was
 * counted with due_days less than max_age_s ago and holds at least
 * min_devices devices; as_of "" (and *out untouched) otherwise. */
int rum_store_device_overview_snapshot_get(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
					   int max_age_s, int64_t min_devices,
					   struct rum_store_device_overview *out, char *as_of,
					   size_t as_of_size);

/* The tenant's soonest deadlines that have not passed, soonest first. */
struct rum_store_device_deadline {
	int64_t device_id;
	const char *hostname, *udi_pid, *udi_sn, *next_deadline;
};
int rum_store_device_next_deadlines(struct rum_db_txn *txn, int64_t tenant_id, int limit,
				    void (*cb)(void *arg,
					       const struct rum_store_device_deadline *d),
				    void *arg);

/* Reports of a tenant (device_id 0) or of one device, newest first, with
 * row ids below before_row (INT64_MAX for the first page). */
int rum_store_report_page(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			  int64_t before_row, int limit,
			  void (*cb)(void *arg, const struct rum_store_report *r), void *arg);

/* One report of the tenant: its row and, with raw, its text byte-exact
 * (malloc'd, caller frees). RUM_ENOTFOUND (no message) when none. */
int rum_store_report_get(struct rum_db_txn *txn, int64_t tenant_id, int64_t row,
			 void (*cb)(void *arg, const struct rum_store_report *r), void *arg,
			 char **raw, size_t *raw_len);

#endif
