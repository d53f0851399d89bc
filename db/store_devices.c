#include "db/store_devices.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQL assembled from macros reads best laid out by hand. */
/* clang-format off */

/* A time as the API shows it (NULL stays NULL, read as ""). */
#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"
/* A sort key that must read back exactly: microseconds, or 'infinity'. */
#define KEY_TS(x)                                                             \
	"CASE WHEN isfinite(" x ") THEN to_char((" x ") AT TIME ZONE 'UTC', " \
	"'YYYY-MM-DD\"T\"HH24:MI:SS.US\"Z\"') ELSE 'infinity' END"

/* --- device pages: one statement per order and filter, so that each is
 * planned for its own index (a generic plan of one statement with every
 * filter as a parameter would scan). Parameters, the same for all:
 * $1 tenant, $2 due days, $3 search pattern, $4 after key, $5 after id,
 * $6 limit. --- */

#define DEADLINE "coalesce(i.next_deadline, 'infinity')"
#define F_ALL ""
#define F_OVERDUE " AND " DEADLINE " < now()"
#define F_DUE " AND " DEADLINE " >= now() AND " DEADLINE " < now() + make_interval(days => $2::int)"
#define F_ACK " AND i.export_pending_since IS NOT NULL"
#define F_NEVER " AND i.first_report_at IS NULL"
#define F_FAILING                                                             \
	" AND EXISTS (SELECT 1 FROM pull_targets t WHERE t.device_id = d.id " \
	"AND t.failing_since IS NOT NULL)"
/* Without a search, $3 is '' and ignored; with one, each order and filter
 * has a statement of its own whose pattern PostgreSQL sees when it plans
 * (a generic plan cannot use the prefix indexes for "LIKE $3"): a rare
 * prefix is looked up in the indexes of 0009 and 0012, a common one walks
 * the order's index. */
#define COMMON " AND $2::int >= 0 AND $3::text = ''"
#define SEARCH                                                  \
	" AND $2::int >= 0 AND (lower(d.udi_serial) LIKE $3 "   \
	"OR lower(d.hostname) LIKE $3 OR lower(d.udi_pid) LIKE $3)"

#define FROM_D " FROM devices d JOIN device_inventory i ON i.device_id = d.id"
/* The bound on i.device_id repeats the one on d.id: without it, the merge
 * join on id walks device_inventory from its first row to the page (160 ms
 * at 900,000 devices). */
#define H_ID                                                                            \
	"SELECT d.id, d.id::text" FROM_D " WHERE d.tenant_id = $1 AND d.id > $5::int8 " \
	"AND i.device_id > $5::int8 AND $4::text IS NOT NULL"
#define T_ID " ORDER BY d.id LIMIT $6"
#define H_DEADLINE                                       \
	"SELECT i.device_id, " KEY_TS(DEADLINE) FROM_D   \
		" WHERE i.tenant_id = $1 AND (" DEADLINE \
		", i.device_id) > ($4::timestamptz, $5::int8)"
#define T_DEADLINE " ORDER BY " DEADLINE ", i.device_id LIMIT $6"
#define H_CONTACT                                       \
	"SELECT d.id, " KEY_TS("d.last_contact") FROM_D \
		" WHERE d.tenant_id = $1 AND "          \
		"(d.last_contact, d.id) < ($4::timestamptz, $5::int8)"
#define T_CONTACT " ORDER BY d.last_contact DESC, d.id DESC LIMIT $6"
#define H_HOST                                                                               \
	"SELECT d.id, d.hostname" FROM_D " WHERE d.tenant_id = $1 AND (d.hostname, d.id) > " \
	"($4::text, $5::int8)"
#define T_HOST " ORDER BY d.hostname, d.id LIMIT $6"

#define PAGE(name, head, filter, tail)                                  \
	{"device_page_" name, head filter COMMON tail, 6},              \
	{"device_page_" name "_search", head filter SEARCH tail, 6}
#define PAGES(name, head, tail)                                                             \
	PAGE(name "_all", head, F_ALL, tail), PAGE(name "_overdue", head, F_OVERDUE, tail), \
		PAGE(name "_due", head, F_DUE, tail), PAGE(name "_ack", head, F_ACK, tail), \
		PAGE(name "_never", head, F_NEVER, tail),                                   \
		PAGE(name "_failing", head, F_FAILING, tail)

static const char *const rum_store_device_sorts[RUM_STORE_SORT_COUNT] = {"id", "deadline",
									 "contact", "host"};
static const char *const rum_store_device_filters[RUM_STORE_FILTER_COUNT] = {
	"all", "overdue", "due", "ack", "never", "failing"};

#define REPORT_COLS                                                                     \
	"r.id, r.device_id, r.report_id, r.udi_pid, r.udi_serial, " TS("r.received_at") ", " \
	"r.format, r.entitlement_tag, r.metric_name, r.last_value, "                        \
	TS("r.first_start") ", " TS("r.last_end") ", coalesce(r.conflict_of, 0), "          \
	"(SELECT count(*) FROM rum_reports c WHERE c.conflict_of = r.id), "                 \
	"coalesce((SELECT max(eb.batch_id) FROM export_batch_reports eb "                   \
	"WHERE eb.report_row = r.id), 0), " TS("r.acked_at") ", "                           \
	"coalesce((SELECT u.source FROM uploads u WHERE u.id = r.upload_id), ''), "        \
	"r.duplicates, " TS("r.last_duplicate_at") ", " TS("r.pruned_at")

static const struct rum_db_stmt rum_store_devices_stmts[] = {
	PAGES("id", H_ID, T_ID),
	PAGES("deadline", H_DEADLINE, T_DEADLINE),
	PAGES("contact", H_CONTACT, T_CONTACT),
	PAGES("host", H_HOST, T_HOST),
	/* A page's (or one device's) details, in the order of the ids given;
	 * ids of other tenants are left out. */
	{"device_rows",
	 "SELECT d.id, d.tenant_id, d.udi_pid, d.udi_serial, d.hostname, d.software_version, "
	 "coalesce((SELECT t.protocol FROM pull_targets t WHERE t.device_id = d.id "
	 "ORDER BY t.id LIMIT 1), ''), "
	 "coalesce((SELECT u.source FROM uploads u WHERE u.device_id = d.id "
	 "ORDER BY u.id DESC LIMIT 1), ''), "
	 "EXISTS (SELECT 1 FROM pull_targets t WHERE t.device_id = d.id "
	 "AND t.failing_since IS NOT NULL), "
	 TS("d.first_seen") ", " TS("d.last_contact") ", " TS("i.first_report_at") ", "
	 TS("r.last_report") ", r.stored, r.not_exported, r.exported_unacked, "
	 "coalesce(b.batch_id, 0), " TS("b.created_at") ", "
	 "coalesce(a.id, 0), " TS("a.imported_at") ", " TS("a.delivered_at") ", "
	 TS("i.export_pending_since") ", " TS("i.unacked_since") ", " TS("i.last_ack_at") ", "
	 "coalesce(i.policy_name, ''), coalesce(i.policy_first_days, 90), "
	 "coalesce(i.policy_ongoing_days, 90), coalesce(i.policy_change_days, 90), "
	 TS("i.policy_at") ", " TS("i.next_deadline") ", "
	 "coalesce(i.next_deadline < now(), false), "
	 "CASE WHEN EXISTS (SELECT 1 FROM import_acks ia WHERE ia.device_id = d.id "
	 "AND ia.has_trust_code) THEN 'received' WHEN EXISTS (SELECT 1 FROM uploads u "
	 "WHERE u.device_id = d.id AND u.kind = 'trust') THEN 'requested' ELSE 'none' END "
	 "FROM unnest($2::int8[]) WITH ORDINALITY AS x(id, ord) "
	 "JOIN devices d ON d.id = x.id AND d.tenant_id = $1 "
	 "JOIN device_inventory i ON i.device_id = d.id "
	 "CROSS JOIN LATERAL (SELECT count(*) AS stored, "
	 "count(*) FILTER (WHERE r.acked_at IS NULL AND NOT EXISTS (SELECT 1 FROM "
	 "export_batch_reports eb WHERE eb.report_row = r.id)) AS not_exported, "
	 "count(*) FILTER (WHERE r.acked_at IS NULL AND EXISTS (SELECT 1 FROM "
	 "export_batch_reports eb WHERE eb.report_row = r.id)) AS exported_unacked, "
	 "max(r.received_at) AS last_report FROM rum_reports r "
	 "WHERE r.device_id = d.id AND r.conflict_of IS NULL) r "
	 "LEFT JOIN LATERAL (SELECT eb.batch_id, e.created_at FROM export_batch_reports eb "
	 "JOIN export_batches e ON e.id = eb.batch_id WHERE eb.device_id = d.id "
	 "ORDER BY eb.batch_id DESC LIMIT 1) b ON true "
	 "LEFT JOIN LATERAL (SELECT id, imported_at, delivered_at FROM acks "
	 "WHERE device_id = d.id ORDER BY id DESC LIMIT 1) a ON true "
	 "ORDER BY x.ord",
	 2},
	{"device_usage",
	 "SELECT DISTINCT ON (r.entitlement_tag) r.entitlement_tag, r.metric_name, r.last_value, "
	 TS("r.received_at") ", r.report_id FROM rum_reports r WHERE r.device_id = $1 "
	 "AND r.conflict_of IS NULL ORDER BY r.entitlement_tag, r.received_at DESC, r.id DESC",
	 1},
	{"device_pull_targets",
	 "SELECT id, host, port, protocol FROM pull_targets WHERE device_id = $1 AND tenant_id = $2 "
	 "ORDER BY id LIMIT 10",
	 2},
	{"report_page_tenant",
	 "SELECT " REPORT_COLS " FROM rum_reports r WHERE r.tenant_id = $1 AND r.id < $2 "
	 "ORDER BY r.id DESC LIMIT $3",
	 3},
	{"report_page_device",
	 "SELECT " REPORT_COLS " FROM rum_reports r WHERE r.tenant_id = $1 AND r.device_id = $2 "
	 "AND r.id < $3 ORDER BY r.id DESC LIMIT $4",
	 4},
	/* A tenant at a glance ($2: the due-soon window in days). Each count is
	 * an index range of 0009 or 0011, never a scan of the reports. */
	{"device_overview",
	 "SELECT (SELECT count(*) FROM devices WHERE tenant_id = $1), "
	 "(SELECT count(*) FROM devices WHERE tenant_id = $1 "
	 "AND last_contact >= now() - interval '1 day'), "
	 "(SELECT count(*) FROM device_inventory i WHERE i.tenant_id = $1" F_NEVER "), "
	 "(SELECT count(*) FROM device_inventory i WHERE i.tenant_id = $1" F_OVERDUE "), "
	 "(SELECT count(*) FROM device_inventory i WHERE i.tenant_id = $1" F_DUE "), "
	 "(SELECT count(*) FROM device_inventory i WHERE i.tenant_id = $1" F_ACK "), "
	 "(SELECT count(DISTINCT t.device_id) FROM pull_targets t WHERE t.tenant_id = $1 "
	 "AND t.failing_since IS NOT NULL), "
	 "a.open, a.critical, a.unacknowledged FROM (SELECT count(*) AS open, "
	 "count(*) FILTER (WHERE severity = 'critical') AS critical, "
	 "count(*) FILTER (WHERE acknowledged_at IS NULL) AS unacknowledged "
	 "FROM alerts WHERE tenant_id = $1 AND resolved_at IS NULL) a",
	 2},
	{"device_overview_snapshot_put",
	 "INSERT INTO overview_snapshots (tenant_id, computed_at, due_days, devices, "
	 "contacted_last_day, never_reported, overdue, due_soon, ack_pending, failing, "
	 "alerts_open, alerts_critical, alerts_unacknowledged) VALUES ($1, now(), $2, $3, $4, $5, "
	 "$6, $7, $8, $9, $10, $11, $12) ON CONFLICT (tenant_id) DO UPDATE SET "
	 "computed_at = EXCLUDED.computed_at, due_days = EXCLUDED.due_days, "
	 "devices = EXCLUDED.devices, contacted_last_day = EXCLUDED.contacted_last_day, "
	 "never_reported = EXCLUDED.never_reported, overdue = EXCLUDED.overdue, "
	 "due_soon = EXCLUDED.due_soon, ack_pending = EXCLUDED.ack_pending, "
	 "failing = EXCLUDED.failing, alerts_open = EXCLUDED.alerts_open, "
	 "alerts_critical = EXCLUDED.alerts_critical, "
	 "alerts_unacknowledged = EXCLUDED.alerts_unacknowledged",
	 12},
	/* A snapshot young enough, of a tenant large enough to need one. */
	{"device_overview_snapshot_get",
	 "SELECT devices, contacted_last_day, never_reported, overdue, due_soon, ack_pending, "
	 "failing, alerts_open, alerts_critical, alerts_unacknowledged, " TS("computed_at")
	 " FROM overview_snapshots WHERE tenant_id = $1 AND due_days = $2 AND "
	 "computed_at > now() - make_interval(secs => $3::int) AND devices >= $4::int8",
	 4},
	/* The soonest deadlines not passed yet, soonest first. */
	{"device_next_deadlines",
	 "SELECT i.device_id, d.hostname, d.udi_pid, d.udi_serial, " TS("i.next_deadline")
	 " FROM device_inventory i JOIN devices d ON d.id = i.device_id "
	 "WHERE i.tenant_id = $1 AND " DEADLINE " >= now() AND " DEADLINE " < 'infinity' "
	 "ORDER BY " DEADLINE ", i.device_id LIMIT $2",
	 2},
	{"report_get",
	 "SELECT " REPORT_COLS ", r.report FROM rum_reports r WHERE r.tenant_id = $1 AND r.id = $2",
	 2},
};
/* clang-format on */

const struct rum_db_stmt_set rum_store_devices_statements = RUM_DB_STMT_SET(rum_store_devices_stmts);

int rum_store_device_page(struct rum_db_txn *txn, const struct rum_store_device_page *q,
			  void (*cb)(void *arg, int64_t id, const char *key), void *arg)
{
	char name[64], days[16], id[24], lim[16];
	const char *p[6] = {NULL, days, q->search, q->after_key, id, lim};
	char tenant[24];
	int rc;
	PGresult *res;

	if ((unsigned)q->sort >= RUM_STORE_SORT_COUNT ||
	    (unsigned)q->filter >= RUM_STORE_FILTER_COUNT)
		return rum_err_set(RUM_EINTERNAL, "device page: no such order or filter");
	snprintf(name, sizeof(name), "device_page_%s_%s%s", rum_store_device_sorts[q->sort],
		 rum_store_device_filters[q->filter], q->search[0] ? "_search" : "");
	rum_text_i64(tenant, sizeof(tenant), q->tenant_id);
	rum_text_i64(days, sizeof(days), q->due_days);
	rum_text_i64(id, sizeof(id), q->after_id);
	rum_text_i64(lim, sizeof(lim), q->limit);
	p[0] = tenant;
	/* A search is planned for its pattern every time (see SEARCH): the
	 * planner's cost of a generic plan for "LIKE $3" can look cheaper than
	 * the index lookup a rare prefix needs. Runs inside rum_db_transact. */
	if (q->search[0] &&
	    (rc = rum_db_command(txn, "SET LOCAL plan_cache_mode = force_custom_plan")) != 0)
		return rc;
	res = rum_db_exec(txn, name, 6, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++)
		cb(arg, strtoll(PQgetvalue(res, i, 0), NULL, 10), PQgetvalue(res, i, 1));
	PQclear(res);
	return 0;
}

/* "{1,2,3}": only numbers go into the array literal. */
static char *rum_store_devices_array(const int64_t *ids, size_t n)
{
	size_t cap = n * 21 + 3, len = 0;
	char *arr = rum_calloc(cap, 1);

	arr[len++] = '{';
	for (size_t i = 0; i < n; i++)
		len += (size_t)snprintf(arr + len, cap - len, "%s%" PRId64, i ? "," : "", ids[i]);
	arr[len++] = '}';
	arr[len] = '\0';
	return arr;
}

static int64_t rum_store_devices_i64(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

int rum_store_device_rows(struct rum_db_txn *txn, int64_t tenant_id, const int64_t *ids, size_t n,
			  void (*cb)(void *arg, const struct rum_store_device *d), void *arg)
{
	char tenant[24], *arr = rum_store_devices_array(ids, n);
	const char *p[2] = {tenant, arr};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	res = rum_db_exec(txn, "device_rows", 2, p, NULL, NULL, 0, &rc);
	free(arr);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_device d;
		int c = 0;

		d.id = rum_store_devices_i64(res, i, c++);
		d.tenant_id = rum_store_devices_i64(res, i, c++);
		d.udi_pid = PQgetvalue(res, i, c++);
		d.udi_sn = PQgetvalue(res, i, c++);
		d.hostname = PQgetvalue(res, i, c++);
		d.software_version = PQgetvalue(res, i, c++);
		d.target_protocol = PQgetvalue(res, i, c++);
		d.last_source = PQgetvalue(res, i, c++);
		d.failing = PQgetvalue(res, i, c++)[0] == 't';
		d.first_seen = PQgetvalue(res, i, c++);
		d.last_contact = PQgetvalue(res, i, c++);
		d.first_report_at = PQgetvalue(res, i, c++);
		d.last_report_at = PQgetvalue(res, i, c++);
		d.reports = rum_store_devices_i64(res, i, c++);
		d.not_exported = rum_store_devices_i64(res, i, c++);
		d.exported_unacked = rum_store_devices_i64(res, i, c++);
		d.last_batch = rum_store_devices_i64(res, i, c++);
		d.last_batch_at = PQgetvalue(res, i, c++);
		d.last_ack_id = rum_store_devices_i64(res, i, c++);
		d.last_ack_at = PQgetvalue(res, i, c++);
		d.last_ack_delivered_at = PQgetvalue(res, i, c++);
		d.ack_pending_since = PQgetvalue(res, i, c++);
		d.unacked_since = PQgetvalue(res, i, c++);
		d.last_acked_at = PQgetvalue(res, i, c++);
		d.policy_name = PQgetvalue(res, i, c++);
		d.first_days = (int)rum_store_devices_i64(res, i, c++);
		d.ongoing_days = (int)rum_store_devices_i64(res, i, c++);
		d.change_days = (int)rum_store_devices_i64(res, i, c++);
		d.policy_at = PQgetvalue(res, i, c++);
		d.next_deadline = PQgetvalue(res, i, c++);
		d.overdue = PQgetvalue(res, i, c++)[0] == 't';
		d.trust = PQgetvalue(res, i, c++);
		cb(arg, &d);
	}
	PQclear(res);
	return 0;
}

int rum_store_device_usage(struct rum_db_txn *txn, int64_t device_id,
			   void (*cb)(void *arg, const struct rum_store_usage_now *u), void *arg)
{
	char dev[24];
	const char *p[1] = {dev};
	int rc;
	PGresult *res;

	rum_text_i64(dev, sizeof(dev), device_id);
	res = rum_db_exec(txn, "device_usage", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_usage_now u = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						PQgetvalue(res, i, 2), PQgetvalue(res, i, 3),
						rum_store_devices_i64(res, i, 4)};

		cb(arg, &u);
	}
	PQclear(res);
	return 0;
}

int rum_store_device_pull_targets(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
				  void (*cb)(void *arg, const struct rum_store_device_target *t),
				  void *arg)
{
	char dev[24], ten[24];
	const char *p[2] = {dev, ten};
	int rc;
	PGresult *res;

	rum_text_i64(dev, sizeof(dev), device_id);
	rum_text_i64(ten, sizeof(ten), tenant_id);
	res = rum_db_exec(txn, "device_pull_targets", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_device_target t = {rum_store_devices_i64(res, i, 0),
						    PQgetvalue(res, i, 1),
						    (int)rum_store_devices_i64(res, i, 2),
						    PQgetvalue(res, i, 3)};

		cb(arg, &t);
	}
	PQclear(res);
	return 0;
}

static void rum_store_report_row(PGresult *res, int i, struct rum_store_report *r)
{
	int c = 0;

	r->row = rum_store_devices_i64(res, i, c++);
	r->device_id = rum_store_devices_i64(res, i, c++);
	r->report_id = rum_store_devices_i64(res, i, c++);
	r->udi_pid = PQgetvalue(res, i, c++);
	r->udi_sn = PQgetvalue(res, i, c++);
	r->received_at = PQgetvalue(res, i, c++);
	r->format = PQgetvalue(res, i, c++);
	r->entitlement_tag = PQgetvalue(res, i, c++);
	r->metric = PQgetvalue(res, i, c++);
	r->value = PQgetvalue(res, i, c++);
	r->first_start = PQgetvalue(res, i, c++);
	r->last_end = PQgetvalue(res, i, c++);
	r->conflict_of = rum_store_devices_i64(res, i, c++);
	r->conflicts = rum_store_devices_i64(res, i, c++);
	r->batch_id = rum_store_devices_i64(res, i, c++);
	r->acked_at = PQgetvalue(res, i, c++);
	r->upload_source = PQgetvalue(res, i, c++);
	r->duplicates = rum_store_devices_i64(res, i, c++);
	r->last_duplicate_at = PQgetvalue(res, i, c++);
	r->pruned_at = PQgetvalue(res, i, c++);
}

/* The overview's counts in the order every overview statement reads and
 * writes them. */
#define RUM_STORE_OVERVIEW_COUNTS 10

static void rum_store_overview_slots(struct rum_store_device_overview *o,
				     int64_t *v[RUM_STORE_OVERVIEW_COUNTS])
{
	int64_t *slots[RUM_STORE_OVERVIEW_COUNTS] = {
		&o->devices,         &o->contacted_last_day,   &o->never_reported, &o->overdue,
		&o->due_soon,        &o->ack_pending,          &o->failing,        &o->alerts_open,
		&o->alerts_critical, &o->alerts_unacknowledged};

	memcpy(v, slots, sizeof(slots));
}

/* Reads the counts from columns 0-9 of the first row of res. */
static void rum_store_overview_read(PGresult *res, struct rum_store_device_overview *out)
{
	int64_t *v[RUM_STORE_OVERVIEW_COUNTS];

	rum_store_overview_slots(out, v);
	for (int i = 0; i < RUM_STORE_OVERVIEW_COUNTS; i++)
		*v[i] = PQntuples(res) == 1 ? rum_store_devices_i64(res, 0, i) : 0;
}

int rum_store_device_overview(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
			      struct rum_store_device_overview *out)
{
	char tenant[24], days[16];
	const char *p[2] = {tenant, days};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(days, sizeof(days), due_days);
	res = rum_db_exec(txn, "device_overview", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	rum_store_overview_read(res, out);
	PQclear(res);
	return 0;
}

int rum_store_device_overview_snapshot_put(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
					   const struct rum_store_device_overview *o)
{
	char v[RUM_STORE_OVERVIEW_COUNTS + 2][24];
	const char *p[RUM_STORE_OVERVIEW_COUNTS + 2];
	struct rum_store_device_overview copy = *o;
	int64_t *n[RUM_STORE_OVERVIEW_COUNTS];
	int rc;
	PGresult *res;

	rum_store_overview_slots(&copy, n);
	rum_text_i64(v[0], sizeof(v[0]), tenant_id);
	rum_text_i64(v[1], sizeof(v[1]), due_days);
	for (int i = 0; i < RUM_STORE_OVERVIEW_COUNTS; i++)
		rum_text_i64(v[i + 2], sizeof(v[i + 2]), *n[i]);
	for (int i = 0; i < RUM_STORE_OVERVIEW_COUNTS + 2; i++)
		p[i] = v[i];
	res = rum_db_exec(txn, "device_overview_snapshot_put", 12, p, NULL, NULL, 0, &rc);
	PQclear(res);
	return res ? 0 : rc;
}

int rum_store_device_overview_snapshot_get(struct rum_db_txn *txn, int64_t tenant_id, int due_days,
					   int max_age_s, int64_t min_devices,
					   struct rum_store_device_overview *out, char *as_of,
					   size_t as_of_size)
{
	char t[24], d[16], a[16], m[24];
	const char *p[4] = {t, d, a, m};
	int rc;
	PGresult *res;

	as_of[0] = '\0';
	rum_text_i64(t, sizeof(t), tenant_id);
	rum_text_i64(d, sizeof(d), due_days);
	rum_text_i64(a, sizeof(a), max_age_s);
	rum_text_i64(m, sizeof(m), min_devices);
	res = rum_db_exec(txn, "device_overview_snapshot_get", 4, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1) {
		rum_store_overview_read(res, out);
		snprintf(as_of, as_of_size, "%s", PQgetvalue(res, 0, RUM_STORE_OVERVIEW_COUNTS));
	}
	PQclear(res);
	return 0;
}

int rum_store_device_next_deadlines(struct rum_db_txn *txn, int64_t tenant_id, int limit,
				    void (*cb)(void *arg,
					       const struct rum_store_device_deadline *d),
				    void *arg)
{
	char tenant[24], lim[16];
	const char *p[2] = {tenant, lim};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(lim, sizeof(lim), limit);
	res = rum_db_exec(txn, "device_next_deadlines", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_device_deadline d = {rum_store_devices_i64(res, i, 0),
						      PQgetvalue(res, i, 1), PQgetvalue(res, i, 2),
						      PQgetvalue(res, i, 3), PQgetvalue(res, i, 4)};

		cb(arg, &d);
	}
	PQclear(res);
	return 0;
}

int rum_store_report_page(struct rum_db_txn *txn, int64_t tenant_id, int64_t device_id,
			  int64_t before_row, int limit,
			  void (*cb)(void *arg, const struct rum_store_report *r), void *arg)
{
	char b[4][24];
	const char *p[4] = {b[0], b[1], b[2], b[3]};
	int rc;
	PGresult *res;

	rum_text_i64(b[0], sizeof(b[0]), tenant_id);
	if (device_id) {
		rum_text_i64(b[1], sizeof(b[1]), device_id);
		rum_text_i64(b[2], sizeof(b[2]), before_row);
		rum_text_i64(b[3], sizeof(b[3]), limit);
		res = rum_db_exec(txn, "report_page_device", 4, p, NULL, NULL, 0, &rc);
	} else {
		rum_text_i64(b[1], sizeof(b[1]), before_row);
		rum_text_i64(b[2], sizeof(b[2]), limit);
		res = rum_db_exec(txn, "report_page_tenant", 3, p, NULL, NULL, 0, &rc);
	}
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_report r;

		rum_store_report_row(res, i, &r);
		cb(arg, &r);
	}
	PQclear(res);
	return 0;
}

int rum_store_report_get(struct rum_db_txn *txn, int64_t tenant_id, int64_t row,
			 void (*cb)(void *arg, const struct rum_store_report *r), void *arg,
			 char **raw, size_t *raw_len)
{
	char b[2][24];
	const char *p[2] = {b[0], b[1]};
	struct rum_store_report r;
	int rc;
	PGresult *res;

	if (raw)
		*raw = NULL;
	rum_text_i64(b[0], sizeof(b[0]), tenant_id);
	rum_text_i64(b[1], sizeof(b[1]), row);
	res = rum_db_exec(txn, "report_get", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	rum_store_report_row(res, 0, &r);
	if (cb)
		cb(arg, &r);
	if (raw) /* the text follows the report's columns */
		rum_db_copy_value(res, 0, PQnfields(res) - 1, raw, raw_len);
	PQclear(res);
	return 0;
}
