#include "domain/usage.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "db/store_usage.h"
#include "domain/internal.h"
#include "lib/err.h"

#include <stdio.h>
#include <string.h>
#include <time.h>

/* One rollup transaction counts at most this many reports (an id range,
 * read from the primary key). */
#define RUM_USAGE_CHUNK 200000
/* Steps one call takes at most (80 million reports; a larger database
 * catches up over several calls). */
#define RUM_USAGE_STEPS_MAX 400

struct rum_usage_call {
	const char *tenant, *tag, *from, *to;
	int64_t tenant_id;
	int lag_s;
	struct rum_store_usage_step step;
	void (*tag_cb)(void *arg, const struct rum_usage_tag *t);
	void (*day_cb)(void *arg, const struct rum_usage_day *d);
	void *arg;
	char *as_of;
};

static int rum_usage_step_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_usage_call *c = arg;

	return rum_store_usage_step(txn, c->lag_s, RUM_USAGE_CHUNK, &c->step);
}

int rum_usage_rollup(struct rum_domain *dom, int lag_s, atomic_llong *taken)
{
	return rum_usage_rollup_until(dom, lag_s, taken, NULL);
}

int rum_usage_rollup_until(struct rum_domain *dom, int lag_s, atomic_llong *taken,
			   const atomic_int *stop)
{
	struct rum_usage_call c = {.lag_s = lag_s < 0 ? 0 : lag_s};
	int rc = 0;

	if (taken)
		atomic_store(taken, 0);
	for (int i = 0; rc == 0 && i < RUM_USAGE_STEPS_MAX && !(stop && atomic_load(stop)); i++) {
		rc = rum_db_transact(dom->db, rum_usage_step_run, &c);
		if (rc != 0 || c.step.skipped)
			break;
		if (taken)
			atomic_fetch_add(taken, (long long)c.step.taken);
		if (c.step.caught_up)
			break;
	}
	return rc;
}

static void rum_usage_tag_row(void *arg, const struct rum_store_usage_tag *row)
{
	struct rum_usage_call *c = arg;
	struct rum_usage_tag t = {row->tag, row->devices, row->in_use, row->peak, row->peak_day};

	c->tag_cb(c->arg, &t);
}

static void rum_usage_day_row(void *arg, const struct rum_store_usage_day *row)
{
	struct rum_usage_call *c = arg;
	struct rum_usage_day d = {row->tag, row->day, row->devices, row->in_use};

	c->day_cb(c->arg, &d);
}

static int rum_usage_read_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_usage_call *c = arg;
	int rc = rum_store_tenant_find(txn, c->tenant, &c->tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	if (rc == 0)
		rc = rum_store_usage_as_of(txn, c->as_of);
	if (rc == 0 && c->tag_cb)
		rc = rum_store_usage_summary(txn, c->tenant_id, rum_usage_tag_row, c);
	if (rc == 0 && c->day_cb)
		rc = rum_store_usage_days(txn, c->tenant_id, c->tag ? c->tag : "", c->from, c->to,
					  rum_usage_day_row, c);
	return rc;
}

int rum_usage_summary(struct rum_domain *dom, const char *tenant,
		      void (*cb)(void *arg, const struct rum_usage_tag *t), void *arg,
		      char as_of[40])
{
	struct rum_usage_call c = {.tenant = tenant, .tag_cb = cb, .arg = arg, .as_of = as_of};

	as_of[0] = '\0';
	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	return rum_db_transact(dom->db, rum_usage_read_run, &c);
}

/* "YYYY-MM-DD" of a real day, as days since the epoch. */
static int rum_usage_date(const char *s, const char *what, long *days)
{
	struct tm tm = {0};
	int y, m, d, used = 0;
	time_t t;

	if (!s || strlen(s) != 10 || sscanf(s, "%4d-%2d-%2d%n", &y, &m, &d, &used) != 3 ||
	    used != 10 || s[4] != '-' || s[7] != '-')
		return rum_err_set(RUM_EINVAL, "%s: '%.32s' is not a date (YYYY-MM-DD)", what,
				   s ? s : "");
	tm.tm_year = y - 1900;
	tm.tm_mon = m - 1;
	tm.tm_mday = d;
	t = timegm(&tm);
	if (y < 1970 || m < 1 || m > 12 || d < 1 || tm.tm_mday != d || tm.tm_mon != m - 1)
		return rum_err_set(RUM_EINVAL, "%s: '%s' is not a date (YYYY-MM-DD)", what, s);
	*days = (long)(t / 86400);
	return 0;
}

static void rum_usage_date_text(char out[11], long days)
{
	time_t t = (time_t)days * 86400;
	struct tm tm;

	gmtime_r(&t, &tm);
	strftime(out, 11, "%Y-%m-%d", &tm);
}

int rum_usage_days(struct rum_domain *dom, const char *tenant, const char *tag, const char *from,
		   const char *to, void (*cb)(void *arg, const struct rum_usage_day *d), void *arg,
		   char as_of[40])
{
	char f[11], t[11];
	long dfrom, dto, today = (long)(time(NULL) / 86400);
	struct rum_usage_call c = {.tenant = tenant,
				   .tag = tag,
				   .day_cb = cb,
				   .arg = arg,
				   .as_of = as_of,
				   .from = f,
				   .to = t};
	int rc = 0;

	as_of[0] = '\0';
	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (tag && strlen(tag) > 512)
		return rum_err_set(RUM_EINVAL, "tag: at most 512 characters");
	dto = today;
	if (to && (rc = rum_usage_date(to, "to", &dto)) != 0)
		return rc;
	dfrom = dto - (RUM_USAGE_DAYS_DEFAULT - 1);
	if (from && (rc = rum_usage_date(from, "from", &dfrom)) != 0)
		return rc;
	if (dfrom > dto)
		return rum_err_set(RUM_EINVAL, "from must not be after to");
	if (dto - dfrom >= RUM_USAGE_DAYS_MAX)
		return rum_err_set(RUM_EINVAL, "at most %d days at once", RUM_USAGE_DAYS_MAX);
	rum_usage_date_text(f, dfrom);
	rum_usage_date_text(t, dto);
	return rum_db_transact(dom->db, rum_usage_read_run, &c);
}
