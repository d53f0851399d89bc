#include "db/store_collector.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* SQL assembled from macros reads best laid out by hand. */
/* clang-format off */
#define RUM_TS(col) "coalesce(to_char(" col " AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), '')"

/* The columns of a target as read back, in rum_store_collector_target_row's order. */
#define RUM_TARGET_COLUMNS                                                                      \
	"t.id, t.tenant_id, n.name, t.host, t.port, t.protocol, t.username, t.auth, "           \
	"encode(t.secret, 'hex'), t.known_host_key, t.trust_on_first_use, "                    \
	"coalesce(t.interval_s, 0), t.path_prefix, t.transfer, t.rest_raw, t.rest_plain_http, " \
	"coalesce(t.device_id, 0), coalesce(d.udi_pid, ''), coalesce(d.udi_serial, ''), "       \
	"t.failures, " RUM_TS("t.failing_since") ", " RUM_TS("t.created_at") ", "             \
	RUM_TS("(SELECT min(q.due_at) FROM collection_jobs q WHERE q.target_id = t.id "         \
	       "AND q.state = 'queued')") ", "                                                  \
	"coalesce(l.id, 0), coalesce(l.state, ''), " RUM_TS("l.finished_at") ", "             \
	"coalesce(l.error, ''), coalesce(l.reports_collected, 0), "                            \
	"coalesce(l.reports_new, 0), coalesce(l.acks_delivered, 0) "

#define RUM_TARGET_FROM                                                                        \
	"FROM pull_targets t JOIN tenants n ON n.id = t.tenant_id "                              \
	"LEFT JOIN devices d ON d.id = t.device_id "                                             \
	"LEFT JOIN LATERAL (SELECT * FROM collection_jobs j WHERE j.target_id = t.id "          \
	"AND j.state IN ('ok', 'failed') ORDER BY j.finished_at DESC, j.id DESC LIMIT 1) l ON true "

#define RUM_JOB_COLUMNS                                                                        \
	"j.id, j.target_id, t.host, t.protocol, j.trigger, j.state, j.node, " RUM_TS("j.due_at") \
	", " RUM_TS("j.started_at") ", " RUM_TS("j.finished_at") ", j.attempts, "              \
	"coalesce(j.duration_ms, -1), j.reports_collected, j.reports_new, j.acks_delivered, "   \
	"coalesce(j.error, '') FROM collection_jobs j JOIN pull_targets t ON t.id = j.target_id "
/* clang-format on */

static const struct rum_db_stmt rum_store_collector_stmts[] = {
	{"col_target_add",
	 "WITH t AS (INSERT INTO pull_targets (tenant_id, host, port, protocol, username, auth, "
	 "secret, known_host_key, trust_on_first_use, interval_s, path_prefix, transfer, "
	 "rest_raw, rest_plain_http) VALUES ($1, $2, $3, $4, $5, $6, decode($7, 'hex'), $8, $9, "
	 "nullif($10::int, 0), $11, $12, $13, $14) ON CONFLICT (tenant_id, host, port, protocol) "
	 "DO NOTHING RETURNING id, interval_s), "
	 "j AS (INSERT INTO collection_jobs (target_id, trigger, due_at) SELECT id, 'schedule', "
	 "now() FROM t WHERE interval_s IS NOT NULL) SELECT id FROM t",
	 14},
	/* A changed target; its queued scheduled collection follows its new
	 * interval (none when on demand, one due now when it had none). */
	{"col_target_update",
	 "WITH u AS (UPDATE pull_targets SET host = $2, port = $3, protocol = $4, username = $5, "
	 "auth = $6, secret = decode($7, 'hex'), known_host_key = $8, trust_on_first_use = $9, "
	 "interval_s = nullif($10::int, 0), path_prefix = $11, transfer = $12, rest_raw = $13, "
	 "rest_plain_http = $14 WHERE id = $15 AND tenant_id = $1 RETURNING id, interval_s), "
	 "d AS (DELETE FROM collection_jobs c USING u WHERE c.target_id = u.id AND "
	 "c.state = 'queued' AND c.trigger IN ('schedule', 'retry') AND u.interval_s IS NULL), "
	 "j AS (INSERT INTO collection_jobs (target_id, trigger, due_at) SELECT u.id, 'schedule', "
	 "now() FROM u WHERE u.interval_s IS NOT NULL AND NOT EXISTS (SELECT 1 FROM "
	 "collection_jobs c WHERE c.target_id = u.id AND c.state IN ('queued', 'running') AND "
	 "c.trigger IN ('schedule', 'retry'))) SELECT id FROM u",
	 15},
	{"col_target_list",
	 "SELECT " RUM_TARGET_COLUMNS RUM_TARGET_FROM
	 "WHERE ($1::int8 = 0 OR t.tenant_id = $1::int8) AND ($2::int8 = 0 OR t.id = $2::int8) "
	 "ORDER BY t.id",
	 2},
	{"col_target_remove",
	 "DELETE FROM pull_targets WHERE id = $2 AND ($1::int8 = 0 OR tenant_id = $1::int8) "
	 "RETURNING id",
	 2},
	{"col_target_learn_key",
	 "UPDATE pull_targets SET known_host_key = $2 WHERE id = $1 AND known_host_key = ''", 2},
	{"col_target_snapshot",
	 "WITH d AS (INSERT INTO devices AS d (tenant_id, udi_pid, udi_serial, last_address) "
	 "VALUES ($2, $3, $4, $5) ON CONFLICT (tenant_id, udi_pid, udi_serial) DO UPDATE SET "
	 "last_contact = now(), last_address = EXCLUDED.last_address RETURNING d.id), "
	 "t AS (UPDATE pull_targets SET device_id = (SELECT id FROM d) WHERE id = $1) "
	 "INSERT INTO device_snapshots (target_id, device_id, snapshot) "
	 "VALUES ($1, (SELECT id FROM d), $6::jsonb) ON CONFLICT (target_id) DO UPDATE SET "
	 "device_id = EXCLUDED.device_id, snapshot = EXCLUDED.snapshot, collected_at = now()",
	 6},
	{"col_jobs_enqueue",
	 "INSERT INTO collection_jobs (target_id, trigger, due_at) SELECT id, 'manual', now() "
	 "FROM pull_targets WHERE ($1::int8 = 0 OR tenant_id = $1::int8) "
	 "AND ($2::int8 = 0 OR id = $2::int8) ORDER BY id RETURNING id, target_id",
	 2},
	/* Two statements, not one join: a statement reads the tables as they
	 * were when it began, while the function's own statements see rows
	 * committed since. A target added during the claim would be claimed
	 * by the function and missing from the join: a job left running that
	 * no collection serves. The second statement sees every target the
	 * first one claimed. */
	{"col_jobs_claim",
	 "SELECT job_id, target_id FROM rum_collect_claim($1, $2, $3, $4::int8[])", 4},
	{"col_jobs_claimed_targets",
	 "SELECT c.job_id, " RUM_TARGET_COLUMNS RUM_TARGET_FROM
	 "JOIN unnest($1::int8[], $2::int8[]) AS c(job_id, target_id) ON c.target_id = t.id "
	 "ORDER BY c.job_id",
	 2},
	{"col_job_finish",
	 "SELECT rum_collect_finish($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11)", 11},
	{"col_job_release",
	 "WITH j AS (UPDATE collection_jobs SET state = 'queued', node = '', lease_until = NULL, "
	 "started_at = NULL, attempts = greatest(attempts - 1, 0) WHERE id = $1 AND "
	 "state = 'running' AND node = $2 RETURNING target_id) "
	 "UPDATE pull_targets SET busy_until = NULL, busy_node = '' WHERE id IN (SELECT target_id "
	 "FROM j)",
	 2},
	{"col_jobs_get", "SELECT " RUM_JOB_COLUMNS "WHERE j.id = ANY ($1::int8[]) ORDER BY j.id",
	 1},
	{"col_jobs_recent",
	 "SELECT * FROM (SELECT " RUM_JOB_COLUMNS "WHERE j.target_id = $1 ORDER BY j.id DESC "
	 "LIMIT $2) r ORDER BY 1",
	 2},
	{"col_transfer_create",
	 "INSERT INTO file_transfers (token_sha256, job_id, direction, content, max_bytes, "
	 "expires_at) VALUES ($1, $2, $3, $4, $5, now() + make_interval(secs => $6))",
	 6},
	{"col_transfer_use",
	 "UPDATE file_transfers SET used_at = now(), content = CASE WHEN direction = 'upload' "
	 "THEN $3::bytea ELSE content END WHERE token_sha256 = $1 AND direction = $2 "
	 "AND used_at IS NULL AND expires_at > now() AND (direction = 'download' OR "
	 "length($3::bytea) <= max_bytes) RETURNING CASE WHEN direction = 'download' THEN content END, "
	 "max_bytes",
	 3},
	{"col_transfer_received",
	 "SELECT content FROM file_transfers WHERE token_sha256 = $1 AND direction = 'upload' "
	 "AND used_at IS NOT NULL",
	 1},
};
const struct rum_db_stmt_set rum_store_collector_statements =
	RUM_DB_STMT_SET(rum_store_collector_stmts);

static int64_t rum_store_col_get_i64(PGresult *res, int row, int col)
{
	return strtoll(PQgetvalue(res, row, col), NULL, 10);
}

static bool rum_store_col_get_bool(PGresult *res, int row, int col)
{
	return PQgetvalue(res, row, col)[0] == 't';
}

/* Decodes the hex text of encode(..., 'hex') into a new buffer. */
static uint8_t *rum_store_col_unhex(const char *hex, size_t *len)
{
	size_t n = strlen(hex) / 2;
	uint8_t *out = malloc(n + 1);

	if (!out)
		abort();
	if (rum_text_unhex(out, hex, n) != 0)
		n = 0; /* the server's own encode() output: cannot happen */
	*len = n;
	return out;
}

/* Reads the target columns starting at column c0 of row i; t->secret is
 * malloc'd (the caller frees it after the callback). */
static void rum_store_col_target_row(PGresult *res, int i, int c0, struct rum_store_target *t)
{
	int c = c0;

	t->id = rum_store_col_get_i64(res, i, c++);
	t->tenant_id = rum_store_col_get_i64(res, i, c++);
	t->tenant = PQgetvalue(res, i, c++);
	t->host = PQgetvalue(res, i, c++);
	t->port = (int)rum_store_col_get_i64(res, i, c++);
	t->protocol = PQgetvalue(res, i, c++);
	t->username = PQgetvalue(res, i, c++);
	t->auth = PQgetvalue(res, i, c++);
	t->secret = rum_store_col_unhex(PQgetvalue(res, i, c++), &t->secret_len);
	t->known_host_key = PQgetvalue(res, i, c++);
	t->trust_on_first_use = rum_store_col_get_bool(res, i, c++);
	t->interval_s = rum_store_col_get_i64(res, i, c++);
	t->path_prefix = PQgetvalue(res, i, c++);
	t->transfer = PQgetvalue(res, i, c++);
	t->rest_raw = rum_store_col_get_bool(res, i, c++);
	t->rest_plain_http = rum_store_col_get_bool(res, i, c++);
	t->device_id = rum_store_col_get_i64(res, i, c++);
	t->udi_pid = PQgetvalue(res, i, c++);
	t->udi_sn = PQgetvalue(res, i, c++);
	t->failures = (int)rum_store_col_get_i64(res, i, c++);
	t->failing_since = PQgetvalue(res, i, c++);
	t->created_at = PQgetvalue(res, i, c++);
	t->next_due = PQgetvalue(res, i, c++);
	t->last_job_id = rum_store_col_get_i64(res, i, c++);
	t->last_state = PQgetvalue(res, i, c++);
	t->last_finished = PQgetvalue(res, i, c++);
	t->last_error = PQgetvalue(res, i, c++);
	t->last_collected = rum_store_col_get_i64(res, i, c++);
	t->last_new = rum_store_col_get_i64(res, i, c++);
	t->last_acks = rum_store_col_get_i64(res, i, c++);
}

/* A target's writable columns as text parameters $1-$14 of col_target_add
 * and col_target_update (tenant first, in the tables' order), and its id as
 * $15; free() the returned secret text after the statement. */
struct rum_store_target_params {
	char tenant[24], port[16], interval[24], id[24];
	char *secret;
	const char *p[15];
};

static void rum_store_target_params(struct rum_store_target_params *q,
				    const struct rum_store_target *t)
{
	q->secret = malloc(2 * t->secret_len + 1);
	if (!q->secret)
		abort();
	rum_text_hex(q->secret, t->secret, t->secret_len);
	rum_text_i64(q->tenant, sizeof(q->tenant), t->tenant_id);
	rum_text_i64(q->port, sizeof(q->port), t->port);
	rum_text_i64(q->interval, sizeof(q->interval), t->interval_s);
	rum_text_i64(q->id, sizeof(q->id), t->id);
	const char *p[15] = {q->tenant,
			     t->host,
			     q->port,
			     t->protocol,
			     t->username,
			     t->auth,
			     q->secret,
			     t->known_host_key,
			     t->trust_on_first_use ? "t" : "f",
			     q->interval,
			     t->path_prefix,
			     t->transfer,
			     t->rest_raw ? "t" : "f",
			     t->rest_plain_http ? "t" : "f",
			     q->id};
	memcpy(q->p, p, sizeof(p));
}

int rum_store_target_add(struct rum_db_txn *txn, const struct rum_store_target *t, int64_t *id)
{
	struct rum_store_target_params q;
	int rc;
	PGresult *res;

	rum_store_target_params(&q, t);
	res = rum_db_exec(txn, "col_target_add", 14, q.p, NULL, NULL, 0, &rc);
	free(q.secret);
	if (!res)
		return rc;
	if (!rum_db_txn_has_results(txn)) {
		PQclear(res);
		return 0;
	}
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ECONFLICT, "tenant '%s' already has a %s target %s port %d",
				   t->tenant ? t->tenant : "", t->protocol, t->host, t->port);
	}
	*id = rum_store_col_get_i64(res, 0, 0);
	PQclear(res);
	return 0;
}

int rum_store_target_list(struct rum_db_txn *txn, int64_t tenant_id, int64_t id,
			  void (*cb)(void *arg, const struct rum_store_target *t), void *arg)
{
	char tenant[24], tid[24];
	const char *p[2] = {tenant, tid};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(tid, sizeof(tid), id);
	res = rum_db_exec(txn, "col_target_list", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (id != 0 && PQntuples(res) == 0) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND, "no pull target %" PRId64 "%s", id,
				   tenant_id ? " in this tenant" : "");
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_target t = {0};

		rum_store_col_target_row(res, i, 0, &t);
		cb(arg, &t);
		free((void *)t.secret);
	}
	PQclear(res);
	return 0;
}

int rum_store_target_update(struct rum_db_txn *txn, const struct rum_store_target *t)
{
	struct rum_store_target_params q;
	int rc, n;
	PGresult *res;

	rum_store_target_params(&q, t);
	res = rum_db_exec(txn, "col_target_update", 15, q.p, NULL, NULL, 0, &rc);
	free(q.secret);
	if (!res) {
		/* The unique (tenant, host, port, protocol) taken by another. */
		if (rc == RUM_EINVAL && strstr(rum_err_msg(), "SQLSTATE 23505"))
			rc = rum_err_set(RUM_ECONFLICT,
					 "the tenant already has a %s target %s port %d",
					 t->protocol, t->host, t->port);
		return rc;
	}
	n = PQntuples(res);
	PQclear(res);
	return n == 1 ? 0 : rum_err_set(RUM_ENOTFOUND, "no pull target %" PRId64, t->id);
}

int rum_store_target_remove(struct rum_db_txn *txn, int64_t tenant_id, int64_t id)
{
	char tenant[24], tid[24];
	const char *p[2] = {tenant, tid};
	int rc, n;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(tid, sizeof(tid), id);
	res = rum_db_exec(txn, "col_target_remove", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	n = PQntuples(res);
	PQclear(res);
	if (n == 0)
		return rum_err_set(RUM_ENOTFOUND, "no pull target %" PRId64 "%s", id,
				   tenant_id ? " in this tenant" : "");
	return 0;
}

/* Runs a statement whose result is not needed. */
static int rum_store_col_exec(struct rum_db_txn *txn, const char *stmt, int n, const char *const *p)
{
	int rc;
	PGresult *res = rum_db_exec(txn, stmt, n, p, NULL, NULL, 0, &rc);

	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_target_learn_key(struct rum_db_txn *txn, int64_t id, const char *key)
{
	char tid[24];
	const char *p[2] = {tid, key};

	rum_text_i64(tid, sizeof(tid), id);
	return rum_store_col_exec(txn, "col_target_learn_key", 2, p);
}

int rum_store_target_snapshot(struct rum_db_txn *txn, int64_t target_id, int64_t tenant_id,
			      const char *pid, const char *sn, const char *address,
			      const char *json)
{
	char tid[24], tenant[24];
	const char *p[6] = {tid, tenant, pid, sn, address, json};

	rum_text_i64(tid, sizeof(tid), target_id);
	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	return rum_store_col_exec(txn, "col_target_snapshot", 6, p);
}

int rum_store_jobs_enqueue(struct rum_db_txn *txn, int64_t tenant_id, int64_t id,
			   void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg)
{
	char tenant[24], tid[24];
	const char *p[2] = {tenant, tid};
	int rc;
	PGresult *res;

	rum_text_i64(tenant, sizeof(tenant), tenant_id);
	rum_text_i64(tid, sizeof(tid), id);
	res = rum_db_exec(txn, "col_jobs_enqueue", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 0) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND,
				   id ? "no pull target %" PRId64 "%s"
				      : "no pull targets%.0" PRId64 "%s",
				   id, tenant_id ? " in this tenant" : "");
	}
	for (int i = 0; i < PQntuples(res); i++)
		cb(arg, rum_store_col_get_i64(res, i, 0), rum_store_col_get_i64(res, i, 1));
	PQclear(res);
	return 0;
}

/* "{1,2,3}" for an int8[] parameter, or NULL for none. */
static char *rum_store_col_array(const int64_t *ids, size_t n)
{
	size_t cap = 3 + n * 21, off = 0;
	char *out;

	if (n == 0)
		return NULL;
	out = malloc(cap);
	if (!out)
		abort();
	out[off++] = '{';
	for (size_t i = 0; i < n; i++)
		off += (size_t)snprintf(out + off, cap - off, "%s%" PRId64, i ? "," : "", ids[i]);
	snprintf(out + off, cap - off, "}");
	return out;
}

int rum_store_jobs_claim(struct rum_db_txn *txn, const char *node, int limit, int lease_s,
			 const int64_t *only, size_t n_only,
			 void (*cb)(void *arg, int64_t job_id, const struct rum_store_target *t),
			 void *arg)
{
	char lim[16], lease[16], *ids = rum_store_col_array(only, n_only), *q[2];
	const char *p[4] = {node, lim, lease, ids};
	int64_t *jobs, *targets;
	size_t n;
	int rc;
	PGresult *res;

	rum_text_i64(lim, sizeof(lim), limit);
	rum_text_i64(lease, sizeof(lease), lease_s);
	res = rum_db_exec(txn, "col_jobs_claim", 4, p, NULL, NULL, 0, &rc);
	free(ids);
	if (!res)
		return rc;
	n = (size_t)PQntuples(res);
	if (n == 0) {
		PQclear(res);
		return 0;
	}
	jobs = calloc(n, sizeof(*jobs));
	targets = calloc(n, sizeof(*targets));
	if (!jobs || !targets)
		abort();
	for (size_t i = 0; i < n; i++) {
		jobs[i] = rum_store_col_get_i64(res, (int)i, 0);
		targets[i] = rum_store_col_get_i64(res, (int)i, 1);
	}
	PQclear(res);
	q[0] = rum_store_col_array(jobs, n);
	q[1] = rum_store_col_array(targets, n);
	free(jobs);
	free(targets);
	res = rum_db_exec(txn, "col_jobs_claimed_targets", 2, (const char *const *)q, NULL, NULL, 0,
			  &rc);
	free(q[0]);
	free(q[1]);
	if (!res)
		return rc;
	/* The claim holds every target's row lock: each is there. Fewer rows
	 * would be a broken invariant; the transaction is undone, not half
	 * applied. */
	if ((size_t)PQntuples(res) != n) {
		int got = PQntuples(res);

		PQclear(res);
		return rum_err_set(RUM_EIO, "collector claim: %zu jobs claimed, %d targets read", n,
				   got);
	}
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_target t = {0};

		rum_store_col_target_row(res, i, 1, &t);
		cb(arg, rum_store_col_get_i64(res, i, 0), &t);
		free((void *)t.secret);
	}
	PQclear(res);
	return 0;
}

int rum_store_job_finish(struct rum_db_txn *txn, const struct rum_store_job_result *r,
			 bool *applied)
{
	char job[24], dur[16], col[16], nw[16], acks[16], base[16], max[16], alert[16];
	const char *p[11] = {job, r->node, r->ok ? "t" : "f", dur, col, nw, acks, r->error, base,
			     max, alert};
	int rc;
	PGresult *res;

	rum_text_i64(job, sizeof(job), r->job_id);
	rum_text_i64(dur, sizeof(dur), r->duration_ms);
	rum_text_i64(col, sizeof(col), r->collected);
	rum_text_i64(nw, sizeof(nw), r->new_reports);
	rum_text_i64(acks, sizeof(acks), r->acks);
	rum_text_i64(base, sizeof(base), r->retry_base_s);
	rum_text_i64(max, sizeof(max), r->retry_max_s);
	rum_text_i64(alert, sizeof(alert), r->alert_after_s);
	res = rum_db_exec(txn, "col_job_finish", 11, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	*applied = PQntuples(res) == 1 && rum_store_col_get_bool(res, 0, 0);
	PQclear(res);
	return 0;
}

int rum_store_job_release(struct rum_db_txn *txn, int64_t job_id, const char *node)
{
	char job[24];
	const char *p[2] = {job, node};

	rum_text_i64(job, sizeof(job), job_id);
	return rum_store_col_exec(txn, "col_job_release", 2, p);
}

static void rum_store_col_job_rows(PGresult *res,
				   void (*cb)(void *arg, const struct rum_store_job *j), void *arg)
{
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_job j;
		int c = 0;

		j.id = rum_store_col_get_i64(res, i, c++);
		j.target_id = rum_store_col_get_i64(res, i, c++);
		j.host = PQgetvalue(res, i, c++);
		j.protocol = PQgetvalue(res, i, c++);
		j.trigger = PQgetvalue(res, i, c++);
		j.state = PQgetvalue(res, i, c++);
		j.node = PQgetvalue(res, i, c++);
		j.due_at = PQgetvalue(res, i, c++);
		j.started_at = PQgetvalue(res, i, c++);
		j.finished_at = PQgetvalue(res, i, c++);
		j.attempts = (int)rum_store_col_get_i64(res, i, c++);
		j.duration_ms = rum_store_col_get_i64(res, i, c++);
		j.collected = rum_store_col_get_i64(res, i, c++);
		j.new_reports = rum_store_col_get_i64(res, i, c++);
		j.acks = rum_store_col_get_i64(res, i, c++);
		j.error = PQgetvalue(res, i, c++);
		cb(arg, &j);
	}
}

int rum_store_jobs_get(struct rum_db_txn *txn, const int64_t *ids, size_t n, int64_t target_id,
		       int limit, void (*cb)(void *arg, const struct rum_store_job *j), void *arg)
{
	char tid[24], lim[16], *arr = rum_store_col_array(ids, n);
	const char *p1[1] = {arr}, *p2[2] = {tid, lim};
	int rc;
	PGresult *res;

	rum_text_i64(tid, sizeof(tid), target_id);
	rum_text_i64(lim, sizeof(lim), limit);
	if (n)
		res = rum_db_exec(txn, "col_jobs_get", 1, p1, NULL, NULL, 0, &rc);
	else
		res = rum_db_exec(txn, "col_jobs_recent", 2, p2, NULL, NULL, 0, &rc);
	free(arr);
	if (!res)
		return rc;
	rum_store_col_job_rows(res, cb, arg);
	PQclear(res);
	return 0;
}

int rum_store_transfer_create(struct rum_db_txn *txn, const uint8_t *token_sha256, int64_t job_id,
			      const char *direction, const char *content, size_t len,
			      size_t max_bytes, int ttl_s)
{
	char job[24], max[24], ttl[16];
	const char *p[6] = {(const char *)token_sha256, job, direction, content, max, ttl};
	int lengths[6] = {32, 0, 0, (int)len, 0, 0};
	int formats[6] = {1, 0, 0, 1, 0, 0};
	int rc;
	PGresult *res;

	rum_text_i64(job, sizeof(job), job_id);
	rum_text_i64(max, sizeof(max), (int64_t)max_bytes);
	rum_text_i64(ttl, sizeof(ttl), ttl_s);
	res = rum_db_exec(txn, "col_transfer_create", 6, p, lengths, formats, 0, &rc);
	if (!res)
		return rc;
	PQclear(res);
	return 0;
}

int rum_store_transfer_use(struct rum_db_txn *txn, const uint8_t *token_sha256,
			   const char *direction, const char *body, size_t body_len, char **content,
			   size_t *len)
{
	const char *p[3] = {(const char *)token_sha256, direction, body ? body : ""};
	int lengths[3] = {32, 0, (int)body_len};
	int formats[3] = {1, 0, 1};
	int rc;
	PGresult *res;

	if (content)
		*content = NULL;
	res = rum_db_exec(txn, "col_transfer_use", 3, p, lengths, formats, 1, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) != 1) {
		PQclear(res);
		return rum_err_set(RUM_ENOTFOUND,
				   "unknown, used or expired file URL (or a file over "
				   "its size limit)");
	}
	if (content)
		rum_db_copy_bytes(res, 0, content, len);
	PQclear(res);
	return 0;
}

int rum_store_transfer_received(struct rum_db_txn *txn, const uint8_t *token_sha256, char **content,
				size_t *len)
{
	const char *p[1] = {(const char *)token_sha256};
	int lengths[1] = {32};
	int formats[1] = {1};
	int rc;
	PGresult *res = rum_db_exec(txn, "col_transfer_received", 1, p, lengths, formats, 1, &rc);

	*content = NULL;
	if (!res)
		return rc;
	rum_db_copy_bytes(res, 0, content, len);
	PQclear(res);
	return 0;
}
