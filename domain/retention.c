#include "domain/retention.h"

#include "db/db.h"
#include "db/store_retention.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/err.h"

#include <string.h>
#include <time.h>

enum rum_retention_kind { RUM_RET_REPORTS, RUM_RET_CAPTURES, RUM_RET_COLLECTIONS };

struct rum_retention_call {
	const struct rum_retention_policy *p;
	const char *tenant; /* name, "" = every tenant */
	int64_t tenant_id;  /* 0 = every tenant */
	enum rum_retention_kind kind;
	int64_t done;
	bool locked;
	struct rum_store_retention_counts counts;
};

bool rum_retention_enabled(const struct rum_retention_policy *p)
{
	return p->reports_days > 0 || p->captures_days > 0 || p->collections_days > 0;
}

int rum_retention_check(const struct rum_retention_policy *p)
{
	static const char *const names[] = {"retain_acked_reports_days", "retain_captures_days",
					    "retain_collections_days"};
	const int days[] = {p->reports_days, p->captures_days, p->collections_days};

	for (int i = 0; i < 3; i++)
		if (days[i] < 0 || days[i] > RUM_RETENTION_DAYS_MAX)
			return rum_err_set(RUM_EINVAL,
					   "%s: %d is not a number of days from 0 (keep for "
					   "ever) to %d",
					   names[i], days[i], RUM_RETENTION_DAYS_MAX);
	if (p->batch < 1)
		return rum_err_set(RUM_EINVAL, "retention_batch: %d is below 1", p->batch);
	return 0;
}

static int64_t rum_retention_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static int rum_retention_tenant(struct rum_db_txn *txn, struct rum_retention_call *c)
{
	int rc;

	if (!c->tenant[0])
		return 0;
	rc = rum_store_tenant_find(txn, c->tenant, &c->tenant_id);
	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	return rc;
}

/* One batch of one kind, under the retention lock (not waited for). */
static int rum_retention_batch_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_retention_call *c = arg;
	int rc = rum_store_retention_lock(txn, &c->locked);

	c->done = 0;
	if (rc != 0 || !c->locked)
		return rc;
	switch (c->kind) {
	case RUM_RET_REPORTS:
		return rum_store_retention_reports(txn, c->tenant_id, c->p->reports_days,
						   c->p->batch, &c->done);
	case RUM_RET_CAPTURES:
		return rum_store_retention_captures(txn, c->tenant, c->p->captures_days,
						    c->p->batch, &c->done);
	case RUM_RET_COLLECTIONS:
		return rum_store_retention_collections(txn, c->tenant_id, c->p->collections_days,
						       c->p->batch, &c->done);
	}
	return rum_err_set(RUM_EINTERNAL, "retention: no such kind");
}

static int rum_retention_count_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_retention_call *c = arg;
	int rc = rum_retention_tenant(txn, c);

	if (rc == 0)
		rc = rum_store_retention_count(txn, c->tenant_id, c->tenant, c->p->reports_days,
					       c->p->captures_days, c->p->collections_days,
					       &c->counts);
	return rc;
}

static int rum_retention_tenant_run(struct rum_db_txn *txn, void *arg)
{
	return rum_retention_tenant(txn, arg);
}

int rum_retention_prune(struct rum_domain *dom, const struct rum_retention_policy *p,
			const char *tenant, bool dry_run, const atomic_int *stop,
			struct rum_retention_result *out)
{
	struct rum_retention_call c = {.p = p, .tenant = tenant ? tenant : ""};
	const int days[] = {p->reports_days, p->captures_days, p->collections_days};
	int64_t *removed[] = {&out->reports, &out->captures, &out->collections};
	int64_t start = rum_retention_now_ms();
	int rc = rum_retention_check(p);

	memset(out, 0, sizeof(*out));
	if (rc != 0 || !rum_retention_enabled(p))
		return rc;
	if (dry_run) {
		rc = rum_db_transact(dom->db, rum_retention_count_run, &c);
		out->reports = c.counts.reports;
		out->captures = c.counts.captures;
		out->collections = c.counts.collections;
		goto out;
	}
	if (c.tenant[0] && (rc = rum_db_transact(dom->db, rum_retention_tenant_run, &c)) != 0)
		goto out;
	for (int k = RUM_RET_REPORTS; rc == 0 && k <= RUM_RET_COLLECTIONS; k++) {
		c.kind = (enum rum_retention_kind)k;
		if (days[k] <= 0)
			continue;
		do {
			if ((stop && atomic_load(stop)) ||
			    (p->budget_ms > 0 && rum_retention_now_ms() - start >= p->budget_ms)) {
				out->more = true;
				goto out;
			}
			rc = rum_db_transact(dom->db, rum_retention_batch_run, &c);
			if (rc == 0 && !c.locked) {
				out->skipped = true;
				goto out;
			}
			*removed[k] += c.done;
		} while (rc == 0 && c.done >= p->batch);
	}
out:
	out->duration_ms = rum_retention_now_ms() - start;
	return rc;
}
