/* Licence usage per tenant and entitlement: devices using it, the total in
 * use now (each device's newest value), the peak day, and usage per day.
 * Read from aggregates (migration 0010) that rum_usage_rollup keeps: it
 * counts each report once, lag_s after it arrived (when no transaction
 * that could still add an earlier report is open), so figures trail the
 * reports by lag_s. */
#ifndef RUM_DOMAIN_USAGE_H
#define RUM_DOMAIN_USAGE_H

#include "domain/domain.h"

#include <stdatomic.h>
#include <stdint.h>

#define RUM_USAGE_DAYS_DEFAULT 90
#define RUM_USAGE_DAYS_MAX 3660

struct rum_usage_tag {
	const char *tag;
	int64_t devices;      /* devices whose newest value is above zero */
	int64_t in_use;       /* the sum of those values */
	int64_t peak;         /* the largest day's total */
	const char *peak_day; /* YYYY-MM-DD, "" when no day was counted */
};

struct rum_usage_day {
	const char *tag, *day;
	int64_t devices, in_use;
};

/* Counts reports received more than lag_s seconds ago, chunk by chunk,
 * until caught up. *taken (may be NULL): device values counted, raised
 * after each chunk so that another thread may show progress. Another node
 * counting at the same time: returns 0 at once, having done nothing.
 * RUM_EUNAVAIL. */
int rum_usage_rollup(struct rum_domain *dom, int lag_s, atomic_llong *taken);

/* The same, returning between steps (a few seconds each at most) once
 * *stop is set: for a server that is shutting down. */
int rum_usage_rollup_until(struct rum_domain *dom, int lag_s, atomic_llong *taken,
			   const atomic_int *stop);

/* The tenant's entitlements, by tag; as_of (40 bytes) gets the received
 * time up to which reports are counted ("" when never). RUM_ENOTFOUND. */
int rum_usage_summary(struct rum_domain *dom, const char *tenant,
		      void (*cb)(void *arg, const struct rum_usage_tag *t), void *arg,
		      char as_of[40]);

/* Days from..to (YYYY-MM-DD, included; NULL: the last RUM_USAGE_DAYS_DEFAULT
 * days up to today) of one entitlement tag or all (NULL), by tag then day.
 * Days without reports are left out. RUM_EINVAL (a bad date or range),
 * RUM_ENOTFOUND. */
int rum_usage_days(struct rum_domain *dom, const char *tenant, const char *tag, const char *from,
		   const char *to, void (*cb)(void *arg, const struct rum_usage_day *d), void *arg,
		   char as_of[40]);

#endif
