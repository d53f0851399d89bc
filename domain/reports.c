#include "domain/reports.h"

#include "db/db.h"
#include "db/store_devices.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

struct rum_reports_call {
	const char *tenant;
	int64_t tenant_id, device_id, before, id;
	int limit;
	void (*cb)(void *arg, const struct rum_report *r);
	void *arg;
	size_t n;
	int64_t last;
	char **raw;
	size_t *raw_len;
	bool pruned; /* the last row's payload was pruned */
	char pruned_at[40];
};

static void rum_reports_row(void *arg, const struct rum_store_report *row)
{
	struct rum_reports_call *c = arg;
	struct rum_report r = {row->row,
			       row->device_id,
			       row->report_id,
			       row->udi_pid,
			       row->udi_sn,
			       row->received_at,
			       row->format,
			       row->entitlement_tag,
			       row->metric,
			       row->value,
			       row->first_start,
			       row->last_end,
			       row->conflict_of,
			       row->conflicts,
			       row->batch_id,
			       row->acked_at,
			       NULL,
			       row->upload_source,
			       row->duplicates,
			       row->last_duplicate_at,
			       row->pruned_at};

	r.state = row->conflict_of   ? "conflict"
		  : row->acked_at[0] ? "acknowledged"
		  : row->batch_id    ? "exported"
				     : "stored";
	/* The page asked for limit + 1 rows: the extra one is not shown. */
	if (c->limit && c->n == (size_t)c->limit) {
		c->n++;
		return;
	}
	c->n++;
	c->last = row->row;
	c->pruned = row->pruned_at[0] != '\0';
	if (c->pruned)
		snprintf(c->pruned_at, sizeof(c->pruned_at), "%s", row->pruned_at);
	if (c->cb)
		c->cb(c->arg, &r);
}

static int rum_reports_tenant(struct rum_db_txn *txn, struct rum_reports_call *c)
{
	int rc = rum_store_tenant_find(txn, c->tenant, &c->tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	return rc;
}

static void rum_reports_no_device(void *arg, const struct rum_store_device *d)
{
	*(bool *)arg = d->id != 0;
}

static int rum_reports_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_reports_call *c = arg;
	bool found = false;
	int rc = rum_reports_tenant(txn, c);

	if (rc == 0 && c->device_id) {
		rc = rum_store_device_rows(txn, c->tenant_id, &c->device_id, 1,
					   rum_reports_no_device, &found);
		if (rc == 0 && !found)
			rc = rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no device %" PRId64,
					 c->tenant, c->device_id);
	}
	if (rc == 0)
		rc = rum_store_report_page(txn, c->tenant_id, c->device_id, c->before, c->limit + 1,
					   rum_reports_row, c);
	return rc;
}

int rum_reports_list(struct rum_domain *dom, const char *tenant, int64_t device_id,
		     const char *cursor, int limit,
		     void (*cb)(void *arg, const struct rum_report *r), void *arg,
		     char next_cursor[RUM_CURSOR_MAX])
{
	struct rum_reports_call c = {.tenant = tenant,
				     .device_id = device_id,
				     .before = INT64_MAX,
				     .limit = limit ? limit : RUM_REPORTS_LIMIT_DEFAULT,
				     .cb = cb,
				     .arg = arg};
	int rc;

	next_cursor[0] = '\0';
	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (c.limit < 1 || c.limit > RUM_REPORTS_LIMIT_MAX)
		return rum_err_set(RUM_EINVAL, "limit: 1 to %d", RUM_REPORTS_LIMIT_MAX);
	if (cursor && cursor[0] &&
	    (strncmp(cursor, "r1.", 3) != 0 || rum_strict_int64(&c.before, cursor + 3) != 0 ||
	     c.before <= 0))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of a report list");
	rc = rum_db_transact(dom->db, rum_reports_list_run, &c);
	if (rc == 0 && c.n > (size_t)c.limit)
		snprintf(next_cursor, RUM_CURSOR_MAX, "r1.%" PRId64, c.last);
	return rc;
}

static int rum_reports_get_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_reports_call *c = arg;
	int rc = rum_reports_tenant(txn, c);

	if (rc == 0)
		rc = rum_store_report_get(txn, c->tenant_id, c->id, rum_reports_row, c, c->raw,
					  c->raw_len);
	if (rc == RUM_ENOTFOUND)
		rc = rum_err_set(rc, "tenant '%s' has no report %" PRId64, c->tenant, c->id);
	if (rc == 0 && c->raw && c->pruned) {
		free(*c->raw);
		*c->raw = NULL;
		rc = rum_err_set(RUM_ENOTFOUND,
				 "report %" PRId64 ": its payload was pruned on %s (retention: "
				 "it was exported and acknowledged long before); its details "
				 "remain",
				 c->id, c->pruned_at);
	}
	return rc;
}

int rum_reports_get(struct rum_domain *dom, const char *tenant, int64_t id,
		    void (*cb)(void *arg, const struct rum_report *r), void *arg, char **raw,
		    size_t *raw_len)
{
	struct rum_reports_call c = {
		.tenant = tenant, .id = id, .cb = cb, .arg = arg, .raw = raw, .raw_len = raw_len};

	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (id <= 0)
		return rum_err_set(RUM_EINVAL, "'%" PRId64 "' is not a report id", id);
	return rum_db_transact(dom->db, rum_reports_get_run, &c);
}
