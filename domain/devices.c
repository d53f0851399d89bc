#include "domain/devices.h"

#include "db/db.h"
#include "db/store_devices.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/strict.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdatomic.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* Names of the orders and filters, in the store's enum order. */
static const char *const rum_devices_sorts[RUM_STORE_SORT_COUNT] = {"id", "deadline",
								    "last_contact", "hostname"};
static const char *const rum_devices_states[RUM_STORE_FILTER_COUNT] = {
	"all", "overdue", "due", "ack_pending", "never_reported", "failing"};

/* Where each order starts: a key before every row, and an id to match. */
static const char *const rum_devices_start_key[RUM_STORE_SORT_COUNT] = {"", "-infinity", "infinity",
									""};
static const int64_t rum_devices_start_id[RUM_STORE_SORT_COUNT] = {0, 0, INT64_MAX, 0};

static int rum_devices_pick(const char *const *names, size_t n, const char *given, const char *what,
			    unsigned *out)
{
	char list[160] = "";

	*out = 0;
	if (!given || !given[0])
		return 0;
	for (size_t i = 0; i < n; i++)
		if (strcmp(names[i], given) == 0) {
			*out = (unsigned)i;
			return 0;
		}
	for (size_t i = 0; i < n; i++)
		snprintf(list + strlen(list), sizeof(list) - strlen(list), "%s%s", i ? ", " : "",
			 names[i]);
	return rum_err_set(RUM_EINVAL, "%s: '%.64s' is not one of %s", what, given, list);
}

/* Cursor: "d1.<sort>.<filter>.<id>.<hex of the key>". */
static void rum_devices_cursor(char out[RUM_CURSOR_MAX], unsigned sort, unsigned filter, int64_t id,
			       const char *key)
{
	size_t n = strlen(key);
	int head = snprintf(out, RUM_CURSOR_MAX, "d1.%u.%u.%" PRId64 ".", sort, filter, id);

	if (head < 0 || (size_t)head + 2 * n + 1 > RUM_CURSOR_MAX) {
		out[0] = '\0'; /* a key this long cannot be paged past: the list ends */
		return;
	}
	rum_text_hex(out + head, key, n);
}

/* Decodes a cursor of this order and filter into key (NUL-terminated) and
 * id. */
static int rum_devices_cursor_read(const char *c, unsigned sort, unsigned filter, char *key,
				   size_t key_size, int64_t *id)
{
	unsigned s, f;
	int64_t v;
	char idtext[24];
	const char *dot, *hex;
	int used = 0;
	size_t n;

	if (sscanf(c, "d1.%u.%u.%n", &s, &f, &used) != 2 || used == 0)
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of a device list");
	if (s != sort || f != filter)
		return rum_err_set(RUM_EINVAL, "cursor: it belongs to another order or state "
					       "filter; start again without it");
	dot = strchr(c + used, '.');
	if (!dot || (size_t)(dot - (c + used)) >= sizeof(idtext))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of a device list");
	memcpy(idtext, c + used, (size_t)(dot - (c + used)));
	idtext[dot - (c + used)] = '\0';
	hex = dot + 1;
	n = strlen(hex);
	if (rum_strict_int64(&v, idtext) != 0 || v < 0 || n % 2 || n / 2 >= key_size ||
	    rum_text_unhex(key, hex, n / 2) != 0 || memchr(key, '\0', n / 2))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of a device list");
	key[n / 2] = '\0';
	*id = v;
	return 0;
}

/* "abc" -> "abc%" in lower case, LIKE's own characters escaped. */
static int rum_devices_search(char *out, size_t size, const char *s)
{
	size_t o = 0;

	if (!s || !s[0]) {
		out[0] = '\0';
		return 0;
	}
	if (strlen(s) > RUM_DEVICES_SEARCH_MAX)
		return rum_err_set(RUM_EINVAL, "search: at most %d characters",
				   RUM_DEVICES_SEARCH_MAX);
	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (ch < 0x20 || ch == 0x7f)
			return rum_err_set(RUM_EINVAL,
					   "search: control characters are not allowed");
		if (ch == '%' || ch == '_' || ch == '\\')
			out[o++] = '\\';
		out[o++] = (char)(ch >= 'A' && ch <= 'Z' ? ch - 'A' + 'a' : ch);
	}
	out[o++] = '%';
	out[o] = '\0';
	(void)size;
	return 0;
}

struct rum_devices_call {
	const char *tenant;
	int64_t tenant_id;
	struct rum_store_device_page page;
	int64_t *ids;
	char **keys;
	size_t n;
	int64_t id; /* get */
	void (*cb)(void *arg, const struct rum_device *d);
	void (*usage_cb)(void *arg, const struct rum_device_usage *u);
	void *arg;
	size_t shown;
	time_t now;
};

static void rum_devices_paged(void *arg, int64_t id, const char *key)
{
	struct rum_devices_call *c = arg;

	c->ids[c->n] = id;
	c->keys[c->n++] = rum_strdup(key);
}

/* "2026-12-05T07:08:22Z" -> seconds; 0 when empty or not such a time. */
static time_t rum_devices_time(const char *s)
{
	struct tm tm = {0};

	if (!s[0] || sscanf(s, "%4d-%2d-%2dT%2d:%2d:%2dZ", &tm.tm_year, &tm.tm_mon, &tm.tm_mday,
			    &tm.tm_hour, &tm.tm_min, &tm.tm_sec) != 6)
		return 0;
	tm.tm_year -= 1900;
	tm.tm_mon -= 1;
	return timegm(&tm);
}

static const char *rum_devices_method(const struct rum_store_device *r)
{
	if (r->target_protocol[0])
		return r->target_protocol;
	if (strcmp(r->last_source, "import") == 0)
		return "file";
	if (strcmp(r->last_source, "push") == 0 || strcmp(r->last_source, "replay") == 0)
		return "push";
	return r->last_source; /* "pull" of a target since removed, or "" */
}

static void rum_devices_row(void *arg, const struct rum_store_device *r)
{
	struct rum_devices_call *c = arg;
	time_t deadline = rum_devices_time(r->next_deadline);
	struct rum_device d = {
		.id = r->id,
		.tenant = c->tenant,
		.udi_pid = r->udi_pid,
		.udi_sn = r->udi_sn,
		.hostname = r->hostname,
		.software_version = r->software_version,
		.method = rum_devices_method(r),
		.first_seen = r->first_seen,
		.last_contact = r->last_contact,
		.first_report_at = r->first_report_at,
		.last_report_at = r->last_report_at,
		.reports = r->reports,
		.not_exported = r->not_exported,
		.exported_unacked = r->exported_unacked,
		.last_batch = r->last_batch,
		.last_batch_at = r->last_batch_at,
		.last_ack_id = r->last_ack_id,
		.last_ack_at = r->last_ack_at,
		.last_ack_delivered_at = r->last_ack_delivered_at,
		.ack_pending_since = r->ack_pending_since,
		.unacked_since = r->unacked_since,
		.last_acked_at = r->last_acked_at,
		.policy_name = r->policy_name[0] ? r->policy_name : "Cisco default",
		.policy_default = !r->policy_at[0],
		.first_days = r->first_days,
		.ongoing_days = r->ongoing_days,
		.change_days = r->change_days,
		.next_deadline = r->next_deadline,
		.trust = r->trust,
		.collection_failing = r->failing,
	};

	if (!r->first_report_at[0])
		d.state = "never_reported";
	else if (r->overdue)
		d.state = "overdue";
	else if (deadline && deadline - c->now < (time_t)RUM_DEVICES_DUE_DAYS_DEFAULT * 86400)
		d.state = "due_soon";
	else if (r->ack_pending_since[0])
		d.state = "ack_pending";
	else
		d.state = "ok";
	c->shown++;
	c->cb(c->arg, &d);
}

static int rum_devices_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_devices_call *c = arg;
	int rc = rum_store_tenant_find(txn, c->tenant, &c->page.tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	if (rc == 0)
		rc = rum_store_device_page(txn, &c->page, rum_devices_paged, c);
	/* limit + 1 ids were asked for; the extra one only tells that a next
	 * page exists and is not shown. */
	if (rc == 0 && c->n)
		rc = rum_store_device_rows(txn, c->page.tenant_id, c->ids,
					   c->n < (size_t)c->page.limit ? c->n
									: (size_t)c->page.limit - 1,
					   rum_devices_row, c);
	return rc;
}

int rum_devices_list(struct rum_domain *dom, const struct rum_devices_query *q,
		     void (*cb)(void *arg, const struct rum_device *d), void *arg,
		     char next_cursor[RUM_CURSOR_MAX])
{
	struct rum_devices_call c = {.tenant = q->tenant, .cb = cb, .arg = arg, .now = time(NULL)};
	char search[2 * RUM_DEVICES_SEARCH_MAX + 2], key[RUM_CURSOR_MAX];
	unsigned sort, filter;
	int limit = q->limit ? q->limit : RUM_DEVICES_LIMIT_DEFAULT;
	int rc;

	next_cursor[0] = '\0';
	if (!q->tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if ((rc = rum_devices_pick(rum_devices_sorts, RUM_STORE_SORT_COUNT, q->sort, "sort",
				   &sort)) != 0 ||
	    (rc = rum_devices_pick(rum_devices_states, RUM_STORE_FILTER_COUNT, q->state, "state",
				   &filter)) != 0 ||
	    (rc = rum_devices_search(search, sizeof(search), q->search)) != 0)
		return rc;
	if (limit < 1 || limit > RUM_DEVICES_LIMIT_MAX)
		return rum_err_set(RUM_EINVAL, "limit: 1 to %d", RUM_DEVICES_LIMIT_MAX);
	if (q->due_days < 0 || q->due_days > 3650)
		return rum_err_set(RUM_EINVAL, "due_days: 1 to 3650");
	c.page.sort = (enum rum_store_device_sort)sort;
	c.page.filter = (enum rum_store_device_filter)filter;
	c.page.due_days = q->due_days ? q->due_days : RUM_DEVICES_DUE_DAYS_DEFAULT;
	c.page.search = search;
	c.page.limit = limit + 1; /* one more tells whether a next page exists */
	if (q->cursor && q->cursor[0]) {
		rc = rum_devices_cursor_read(q->cursor, sort, filter, key, sizeof(key),
					     &c.page.after_id);
		if (rc != 0)
			return rc;
		c.page.after_key = key;
	} else {
		c.page.after_key = rum_devices_start_key[sort];
		c.page.after_id = rum_devices_start_id[sort];
	}
	c.ids = calloc((size_t)limit + 1, sizeof(*c.ids));
	c.keys = calloc((size_t)limit + 1, sizeof(*c.keys));
	if (!c.ids || !c.keys)
		abort();
	rc = rum_db_transact(dom->db, rum_devices_list_run, &c);
	/* More than limit read: the next page starts after the last shown. */
	if (rc == 0 && c.n > (size_t)limit)
		rum_devices_cursor(next_cursor, sort, filter, c.ids[limit - 1], c.keys[limit - 1]);
	for (size_t i = 0; i < c.n; i++)
		free(c.keys[i]);
	free(c.keys);
	free(c.ids);
	return rc;
}

static void rum_devices_usage_row(void *arg, const struct rum_store_usage_now *row)
{
	struct rum_devices_call *c = arg;
	struct rum_device_usage u = {row->entitlement_tag, row->metric, row->value,
				     row->received_at, row->report_id};

	c->usage_cb(c->arg, &u);
}

static int rum_devices_get_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_devices_call *c = arg;
	int rc = rum_store_tenant_find(txn, c->tenant, &c->tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	if (rc == 0)
		rc = rum_store_device_rows(txn, c->tenant_id, &c->id, 1, rum_devices_row, c);
	if (rc == 0 && c->shown == 0)
		rc = rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no device %" PRId64, c->tenant,
				 c->id);
	if (rc == 0 && c->usage_cb)
		rc = rum_store_device_usage(txn, c->id, rum_devices_usage_row, c);
	return rc;
}

int rum_devices_get(struct rum_domain *dom, const char *tenant, int64_t id,
		    void (*cb)(void *arg, const struct rum_device *d),
		    void (*usage_cb)(void *arg, const struct rum_device_usage *u), void *arg)
{
	struct rum_devices_call c = {.tenant = tenant,
				     .id = id,
				     .cb = cb,
				     .usage_cb = usage_cb,
				     .arg = arg,
				     .now = time(NULL)};

	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (id <= 0)
		return rum_err_set(RUM_EINVAL, "'%" PRId64 "' is not a device id", id);
	return rum_db_transact(dom->db, rum_devices_get_run, &c);
}

struct rum_devices_targets_call {
	const char *tenant;
	int64_t id;
	void (*cb)(void *arg, const struct rum_device_target *t);
	void *arg;
};

static void rum_devices_target_row(void *arg, const struct rum_store_device_target *row)
{
	struct rum_devices_targets_call *c = arg;
	struct rum_device_target t = {row->id, row->host, row->port, row->protocol};

	c->cb(c->arg, &t);
}

static int rum_devices_targets_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_devices_targets_call *c = arg;
	int64_t tenant_id;
	int rc = rum_store_tenant_find(txn, c->tenant, &tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	return rc == 0 ? rum_store_device_pull_targets(txn, tenant_id, c->id,
						       rum_devices_target_row, c)
		       : rc;
}

int rum_devices_pull_targets(struct rum_domain *dom, const char *tenant, int64_t id,
			     void (*cb)(void *arg, const struct rum_device_target *t), void *arg)
{
	struct rum_devices_targets_call c = {tenant, id, cb, arg};

	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	return rum_db_transact(dom->db, rum_devices_targets_run, &c);
}

struct rum_devices_overview_call {
	const char *tenant;
	struct rum_devices_overview *out;
	void (*cb)(void *arg, const struct rum_device_deadline *d);
	void *arg;
	int64_t live_max_devices; /* 0: always count now */
	int snapshot_max_age_s;
	bool keep; /* store what was counted as the tenant's snapshot */
};

static void rum_devices_deadline_row(void *arg, const struct rum_store_device_deadline *row)
{
	struct rum_devices_overview_call *c = arg;
	struct rum_device_deadline d = {row->device_id, row->hostname, row->udi_pid, row->udi_sn,
					row->next_deadline};

	c->cb(c->arg, &d);
}

static int rum_devices_overview_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_devices_overview_call *c = arg;
	struct rum_store_device_overview o = {0};
	int64_t tenant_id;
	int rc = rum_store_tenant_find(txn, c->tenant, &tenant_id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	/* A tenant too large to count on each request reads the upkeep's
	 * snapshot while it is young enough; any other is counted now. */
	if (rc == 0 && c->live_max_devices > 0)
		rc = rum_store_device_overview_snapshot_get(txn, tenant_id, c->out->due_days,
							    c->snapshot_max_age_s,
							    c->live_max_devices, &o, c->out->as_of,
							    sizeof(c->out->as_of));
	if (rc == 0 && !c->out->as_of[0])
		rc = rum_store_device_overview(txn, tenant_id, c->out->due_days, &o);
	if (rc == 0 && c->keep)
		rc = rum_store_device_overview_snapshot_put(txn, tenant_id, c->out->due_days, &o);
	if (rc == 0) {
		c->out->devices = o.devices;
		c->out->contacted_last_day = o.contacted_last_day;
		c->out->never_reported = o.never_reported;
		c->out->overdue = o.overdue;
		c->out->due_soon = o.due_soon;
		c->out->ack_pending = o.ack_pending;
		c->out->collection_failing = o.failing;
		c->out->alerts_open = o.alerts_open;
		c->out->alerts_critical = o.alerts_critical;
		c->out->alerts_unacknowledged = o.alerts_unacknowledged;
	}
	if (rc == 0 && c->cb)
		rc = rum_store_device_next_deadlines(txn, tenant_id, RUM_DEVICES_OVERVIEW_DEADLINES,
						     rum_devices_deadline_row, c);
	return rc;
}

static void rum_devices_tenant_name(void *arg, const struct rum_store_tenant *t)
{
	char ***names = arg;
	size_t n = 0;

	while ((*names)[n])
		n++;
	*names = realloc(*names, (n + 2) * sizeof(**names));
	if (!*names || !((*names)[n] = strdup(t->name)))
		abort();
	(*names)[n + 1] = NULL;
}

static int rum_devices_tenant_names(struct rum_db_txn *txn, void *arg)
{
	return rum_store_tenant_list(txn, 0, rum_devices_tenant_name, arg);
}

int rum_devices_overview_snapshots(struct rum_domain *dom, const atomic_int *stop)
{
	char **names;
	int rc;

	if (dom->overview_live_max_devices <= 0)
		return 0; /* every overview is counted on request */
	names = calloc(1, sizeof(*names));
	if (!names)
		abort();
	rc = rum_db_transact(dom->db, rum_devices_tenant_names, &names);
	for (size_t i = 0; rc == 0 && names[i] && !(stop && atomic_load(stop)); i++) {
		struct rum_devices_overview out = {.due_days = RUM_DEVICES_DUE_DAYS_DEFAULT};
		struct rum_devices_overview_call c = {names[i], &out, NULL, NULL, 0, 0, true};

		rc = rum_db_transact(dom->db, rum_devices_overview_run, &c);
		if (rc == RUM_ENOTFOUND)
			rc = 0; /* removed meanwhile */
	}
	for (size_t i = 0; names[i]; i++)
		free(names[i]);
	free(names);
	return rc;
}

int rum_devices_overview_each(struct rum_domain *dom,
			      void (*cb)(void *arg, const char *tenant,
					 const struct rum_devices_overview *o),
			      void *arg)
{
	char **names = calloc(1, sizeof(*names));
	int rc;

	if (!names)
		abort();
	rc = rum_db_transact(dom->db, rum_devices_tenant_names, &names);
	for (size_t i = 0; rc == 0 && names[i]; i++) {
		struct rum_devices_overview out = {.due_days = RUM_DEVICES_DUE_DAYS_DEFAULT};

		rc = rum_devices_overview(dom, names[i], 0, &out, NULL, NULL);
		if (rc == 0)
			cb(arg, names[i], &out);
		else if (rc == RUM_ENOTFOUND)
			rc = 0; /* removed meanwhile */
	}
	for (size_t i = 0; names[i]; i++)
		free(names[i]);
	free(names);
	return rc;
}

int rum_devices_overview(struct rum_domain *dom, const char *tenant, int due_days,
			 struct rum_devices_overview *out,
			 void (*cb)(void *arg, const struct rum_device_deadline *d), void *arg)
{
	struct rum_devices_overview_call c = {tenant,
					      out,
					      cb,
					      arg,
					      dom->overview_live_max_devices,
					      dom->overview_snapshot_max_age_s,
					      false};

	if (!tenant)
		return rum_err_set(RUM_EINVAL, "a tenant is needed");
	if (due_days < 0 || due_days > 3650)
		return rum_err_set(RUM_EINVAL, "due_days: %d is not a number from 1 to 3650",
				   due_days);
	memset(out, 0, sizeof(*out));
	out->due_days = due_days ? due_days : RUM_DEVICES_DUE_DAYS_DEFAULT;
	return rum_db_transact(dom->db, rum_devices_overview_run, &c);
}
