#include "db/internal.h"

#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rum_db_call;

static void *rum_db_call_worker_main(void *arg);

struct rum_db_worker {
	struct rum_db *db;
	bool batches; /* a batch worker (statement timeouts), else a call worker */
	bool warmed;  /* a call worker: connected (or tried) once rum_db_warm asked */
	pthread_t thread;
	PGconn *conn;
	struct timespec next_connect; /* no reconnect attempt before this */
	/* A batch worker: a WARNING came back on the connection during the
	 * current batch (see rum_db_notice), and libpq's own receiver. */
	bool warned;
	PQnoticeReceiver default_notice;
};

struct rum_db {
	char *url;
	int batch_max;
	int timeout_ms;
	int statement_timeout_ms;
	uint64_t queue_max;
	pthread_mutex_t lock;
	pthread_cond_t cond;
	struct rum_db_work *head, *tail;
	uint64_t queued;
	bool stopping;
	bool down; /* atomic: the last connection attempt failed (logged once) */
	int nworkers;
	struct rum_db_worker *workers;
	struct rum_db_stats stats;
	/* The call lane (rum_db_call, rum_db_transact): its own queue, served
	 * by call workers on connections of their own, so that an export or a
	 * collector step never waits behind device batches nor holds one up. */
	pthread_cond_t call_cond, call_done;
	struct rum_db_call *call_head, *call_tail;
	uint64_t call_queued;
	bool warm; /* rum_db_warm: call workers connect without waiting for a call */
	int ncallers;
	struct rum_db_worker *callers;
};

/* The pool's metrics: how device batches commit, how deep both queues
 * are, whether the database answers. Process-wide: serve opens one pool. */
static struct rum_metric rum_db_m_batch_units =
	RUM_METRIC_HISTOGRAM("rumd_db_batch_units", NULL,
			     "Device messages committed per write transaction",
			     {1, 2, 4, 8, 16, 32, 64, 128, 256, 512});
static struct rum_metric rum_db_m_commit =
	RUM_METRIC_HISTOGRAM("rumd_db_batch_seconds", NULL,
			     "Time to send, run and durably commit one batch of device messages",
			     {0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5,
			      10});
static struct rum_metric rum_db_m_queue[] = {
	RUM_METRIC_GAUGE("rumd_db_queue_depth", "lane=\"batch\"",
			 "Work waiting for a database worker: device messages (batch), other "
			 "calls (call)"),
	RUM_METRIC_GAUGE("rumd_db_queue_depth", "lane=\"call\"", ""),
};
static struct rum_metric rum_db_m_workers[] = {
	RUM_METRIC_GAUGE("rumd_db_workers", "lane=\"batch\"",
			 "Database workers, each with its own connection"),
	RUM_METRIC_GAUGE("rumd_db_workers", "lane=\"call\"", ""),
};
static struct rum_metric rum_db_m_refused =
	RUM_METRIC_COUNTER("rumd_db_queue_full_total", NULL,
			   "Work refused at once because its queue was full (answered 503)");
static struct rum_metric rum_db_m_failed = RUM_METRIC_COUNTER(
	"rumd_db_batch_failures_total", NULL,
	"Batches of device messages not committed (database unreachable or refused)");
static struct rum_metric rum_db_m_up =
	RUM_METRIC_GAUGE("rumd_db_up", NULL,
			 "1 while the database answers, 0 after a failed connect");

__attribute__((constructor)) static void rum_db_metrics_init(void)
{
	rum_metric_register(&rum_db_m_batch_units);
	rum_metric_register(&rum_db_m_commit);
	rum_metric_register_all(rum_db_m_queue, 2);
	rum_metric_register_all(rum_db_m_workers, 2);
	rum_metric_register(&rum_db_m_refused);
	rum_metric_register(&rum_db_m_failed);
	rum_metric_register(&rum_db_m_up);
}

static double rum_db_seconds_since(const struct timespec *t0)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return (double)(now.tv_sec - t0->tv_sec) + (double)(now.tv_nsec - t0->tv_nsec) / 1e9;
}

/* A batch is retried at most this often when it hits a deadlock or a
 * serialisation failure with another batch. */
#define RUM_DB_CONFLICT_RETRIES 5
/* Pause between reconnect attempts of one worker while the database is down;
 * work arriving meanwhile fails at once with RUM_EUNAVAIL (a 503). */
#define RUM_DB_RECONNECT_MS 250

static void rum_db_deadline_after(struct timespec *ts, int ms)
{
	clock_gettime(CLOCK_MONOTONIC, ts);
	ts->tv_sec += ms / 1000;
	ts->tv_nsec += (long)(ms % 1000) * 1000000L;
	if (ts->tv_nsec >= 1000000000L) {
		ts->tv_sec++;
		ts->tv_nsec -= 1000000000L;
	}
}

static bool rum_db_reached(const struct timespec *ts)
{
	struct timespec now;

	clock_gettime(CLOCK_MONOTONIC, &now);
	return now.tv_sec > ts->tv_sec || (now.tv_sec == ts->tv_sec && now.tv_nsec >= ts->tv_nsec);
}

static void rum_db_finish_all(struct rum_db_work *list, int rc, const char *msg)
{
	while (list) {
		struct rum_db_work *next = list->next;

		list->done(list->arg, rc, msg);
		list = next;
	}
}

/* Notices of a batch worker's connection. The one WARNING a batch can
 * meet is PostgreSQL's "canceling wait for synchronous replication" (an
 * administrator cancelled the backend while its commit waited for the
 * standby): the commit then reports success although the standby may not
 * have the batch. It is remembered so that the batch is answered 503, not
 * 200; the devices send it again and find it stored (a duplicate). */
static void rum_db_notice(void *arg, const PGresult *res)
{
	struct rum_db_worker *w = arg;
	const char *severity = PQresultErrorField(res, PG_DIAG_SEVERITY_NONLOCALIZED);

	if (severity && strcmp(severity, "WARNING") == 0)
		w->warned = true;
	if (w->default_notice)
		w->default_notice(NULL, res);
}

/* Makes sure w->conn is usable; 0 or RUM_EUNAVAIL. */
static int rum_db_worker_connect(struct rum_db_worker *w)
{
	int rc;

	/* An idle connection whose server went away (a restart) is noticed
	 * here, by reading what is pending, not by failing the next batch. */
	if (w->conn && PQconsumeInput(w->conn) && PQstatus(w->conn) == CONNECTION_OK)
		return 0;
	if (w->conn) {
		PQfinish(w->conn);
		w->conn = NULL;
	}
	if (!rum_db_reached(&w->next_connect))
		return rum_err_set(RUM_EUNAVAIL, "database unreachable (retrying)");
	rc = rum_db_connect(&w->conn, w->db->url, w->db->timeout_ms, true);
	if (rc == 0 && w->batches) {
		/* libpq's own receiver (printing to stderr) ignores its argument. */
		w->default_notice = PQsetNoticeReceiver(w->conn, rum_db_notice, w);
	}
	/* Calls (exports, imports) may run long statements on purpose. */
	if (rc == 0 && w->batches && w->db->statement_timeout_ms > 0) {
		char sql[128];
		struct rum_db_txn txn = {w->conn, RUM_DB_SYNC, false, 0, 0, false};

		/* A batch never waits on a lock or a slow statement forever:
		 * its devices get 503 and come back. */
		snprintf(sql, sizeof(sql), "SET statement_timeout = %d; SET lock_timeout = %d",
			 w->db->statement_timeout_ms, w->db->statement_timeout_ms);
		rc = rum_db_command(&txn, sql);
		if (rc != 0) {
			PQfinish(w->conn);
			w->conn = NULL;
		}
	}
	/* One log line per outage and one per recovery, not one per attempt. */
	if (rc != 0) {
		if (!__atomic_exchange_n(&w->db->down, true, __ATOMIC_SEQ_CST))
			rum_log_warn("db: %s; answering 503 until it is back", rum_err_msg());
		rum_metric_set(&rum_db_m_up, 0);
		rum_db_deadline_after(&w->next_connect, RUM_DB_RECONNECT_MS);
	} else if (__atomic_exchange_n(&w->db->down, false, __ATOMIC_SEQ_CST)) {
		rum_log_info("db: reachable again");
	}
	if (rc == 0)
		rum_metric_set(&rum_db_m_up, 1);
	return rc;
}

bool rum_db_txn_has_results(const struct rum_db_txn *txn)
{
	return txn->phase != RUM_DB_SEND;
}

bool rum_db_txn_grouped(const struct rum_db_txn *txn)
{
	return txn->grouped;
}

/* Runs the units' prepare() steps, each on its own; a unit whose step fails
 * is answered at once and left out. Returns RUM_EUNAVAIL (all answered) when
 * the database cannot be reached. */
static int rum_db_prepare_batch(struct rum_db_worker *w, struct rum_db_work **list)
{
	struct rum_db_txn txn = {w->conn, RUM_DB_SYNC, false, 0, 0, false};

	for (struct rum_db_work **pp = list; *pp;) {
		struct rum_db_work *u = *pp;
		int rc;

		if (!u->prepare) {
			pp = &u->next;
			continue;
		}
		rum_err_clear();
		rc = u->prepare(&txn, u->arg);
		if (rc == 0) {
			pp = &u->next;
			continue;
		}
		if (rc == RUM_EUNAVAIL || txn.broken) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", rum_err_msg());
			if (txn.broken) {
				/* Gone, or a standby: the next batch connects afresh. */
				PQfinish(w->conn);
				w->conn = NULL;
			}
			rum_db_finish_all(*list, RUM_EUNAVAIL, msg);
			*list = NULL;
			return RUM_EUNAVAIL;
		}
		*pp = u->next;
		u->next = NULL;
		u->done(u->arg, rc, rum_err_msg());
	}
	return 0;
}

/* Distinct groups of one batch at most; units of further groups do their
 * own work (their batches run ungrouped). */
#define RUM_DB_GROUPS_MAX 4

/* The groups of a batch and their units, in batch order. */
struct rum_db_groups {
	const struct rum_db_group *group[RUM_DB_GROUPS_MAX];
	struct rum_db_work **units[RUM_DB_GROUPS_MAX];
	size_t n_units[RUM_DB_GROUPS_MAX];
	unsigned sent[RUM_DB_GROUPS_MAX];
	int n;
};

/* Collects the groups of `list`; false when there are too many. */
static bool rum_db_groups_collect(struct rum_db_groups *g, struct rum_db_work *list, int count)
{
	memset(g, 0, sizeof(*g));
	for (struct rum_db_work *u = list; u; u = u->next) {
		int i = 0;

		if (!u->group)
			continue;
		while (i < g->n && g->group[i] != u->group)
			i++;
		if (i == RUM_DB_GROUPS_MAX)
			return false;
		if (i == g->n) {
			g->group[g->n] = u->group;
			g->units[g->n] = malloc((size_t)count * sizeof(*g->units[0]));
			if (!g->units[g->n++])
				abort();
		}
		g->units[i][g->n_units[i]++] = u;
	}
	return true;
}

static void rum_db_groups_dispose(struct rum_db_groups *g)
{
	for (int i = 0; i < g->n; i++)
		free(g->units[i]);
	g->n = 0;
}

/* Runs each group once over its units in txn's phase; in RECV, drains what
 * a group did not read. The first error, or 0. */
static int rum_db_groups_run(struct rum_db_groups *g, struct rum_db_txn *txn)
{
	int rc = 0;

	for (int i = 0; i < g->n; i++) {
		int grc;

		if (txn->phase == RUM_DB_SEND) {
			txn->sent = 0;
			grc = g->group[i]->run(txn, g->units[i], g->n_units[i]);
			g->sent[i] = txn->sent;
		} else {
			txn->taken = 0;
			grc = g->group[i]->run(txn, g->units[i], g->n_units[i]);
			for (; txn->taken < g->sent[i]; txn->taken++)
				PQclear(rum_db_take(txn->conn));
		}
		if (grc != 0 && rc == 0)
			rc = grc;
		if (rc != 0 && txn->phase == RUM_DB_SEND)
			break;
	}
	return rc;
}

/* One attempt at committing `list` in a single pipelined transaction, with
 * the units' groups when `grouped`. Returns 0 when committed; otherwise the
 * error, with *failed pointing at the link that holds the unit whose
 * statement failed (NULL when the failure is not any one unit's, e.g. the
 * connection or the commit itself) and *group_failed set when a group
 * statement failed. */
static int rum_db_pipeline(struct rum_db_worker *w, struct rum_db_work **list, bool grouped,
			   struct rum_db_work ***failed, int *count, bool *broken,
			   bool *group_failed)
{
	struct rum_db_txn txn = {w->conn, RUM_DB_SEND, false, 0, 0, false};
	struct rum_db_groups groups = {0};
	PGresult *res;
	int rc = 0, commit_rc = 0, grc;

	*failed = NULL;
	*count = 0;
	*group_failed = false;
	for (struct rum_db_work *u = *list; u; u = u->next)
		(*count)++;
	w->warned = false;
	txn.grouped = grouped && rum_db_groups_collect(&groups, *list, *count);
	if (!txn.grouped)
		rum_db_groups_dispose(&groups);
	if (!PQenterPipelineMode(w->conn)) {
		rum_db_groups_dispose(&groups);
		return rum_db_fail(&txn, NULL, "entering pipeline mode");
	}
	/* No BEGIN: statements up to the sync point form one implicit
	 * transaction, committed (durably) at the sync. */
	for (struct rum_db_work *u = *list; u && rc == 0; u = u->next) {
		txn.sent = 0;
		rc = u->run(&txn, u->arg);
		u->sent = txn.sent;
	}
	if (rc == 0)
		rc = rum_db_groups_run(&groups, &txn);
	if (rc == 0 && !PQpipelineSync(w->conn))
		rc = rum_db_fail(&txn, NULL, "pipeline sync");
	if (rc != 0) {
		/* Sending failed: the connection is not usable for this batch. */
		*broken = true;
		PQfinish(w->conn);
		w->conn = NULL;
		rum_db_groups_dispose(&groups);
		return rc == RUM_EUNAVAIL ? rc : rum_err_set(RUM_EUNAVAIL, "%s", rum_err_msg());
	}
	txn.phase = RUM_DB_RECV;
	for (struct rum_db_work **pp = list; *pp; pp = &(*pp)->next) {
		struct rum_db_work *u = *pp;
		int urc;

		txn.taken = 0;
		urc = u->run(&txn, u->arg);
		/* Results the unit did not read (it stopped at an error) are
		 * drained so that the next unit reads its own. */
		for (; txn.taken < u->sent; txn.taken++)
			PQclear(rum_db_take(w->conn));
		if (urc != 0 && rc == 0) {
			rc = urc;
			*failed = pp;
		}
	}
	grc = rum_db_groups_run(&groups, &txn);
	rum_db_groups_dispose(&groups);
	if (grc != 0 && rc == 0) {
		rc = grc;
		*group_failed = true;
	}
	/* The sync point: an error before it means the commit failed. */
	while ((res = rum_db_take(w->conn)) != NULL && PQresultStatus(res) != PGRES_PIPELINE_SYNC) {
		if (commit_rc == 0 && PQresultStatus(res) == PGRES_FATAL_ERROR)
			commit_rc = rum_db_fail(&txn, res, "COMMIT");
		else
			PQclear(res);
	}
	if (!res && commit_rc == 0)
		commit_rc = rum_db_fail(&txn, NULL, "COMMIT");
	PQclear(res);
	if (commit_rc == 0 && w->warned)
		commit_rc = rum_err_set(RUM_EUNAVAIL,
					"COMMIT: a warning came with it (a cancelled wait for "
					"the synchronous standby): not confirmed as durable");
	if (txn.broken || !PQexitPipelineMode(w->conn)) {
		*broken = true;
		if (rc == 0 && commit_rc == 0)
			commit_rc = rum_err_set(RUM_EUNAVAIL, "pipeline left in a bad state");
	}
	if (rc == 0 && commit_rc != 0) {
		rc = commit_rc;
		*failed = NULL;
	}
	return rc;
}

static int rum_db_order_cmp(const void *a, const void *b)
{
	const struct rum_db_work *x = *(struct rum_db_work *const *)a;
	const struct rum_db_work *y = *(struct rum_db_work *const *)b;
	int c;

	if (!x->order_key || !y->order_key)
		c = (x->order_key != NULL) - (y->order_key != NULL);
	else
		c = strcmp(x->order_key, y->order_key);
	/* Stable: equal keys keep their arrival order. */
	return c ? c : (x->sent < y->sent ? -1 : x->sent > y->sent);
}

/* Sorts the batch by order_key (see struct rum_db_work). */
static struct rum_db_work *rum_db_order(struct rum_db_work *list, int n)
{
	struct rum_db_work **v = malloc((size_t)n * sizeof(*v));
	int i = 0;

	if (!v)
		abort();
	for (struct rum_db_work *u = list; u && i < n; u = u->next, i++) {
		u->sent = (unsigned)i; /* arrival position, until the batch runs */
		v[i] = u;
	}
	qsort(v, (size_t)i, sizeof(*v), rum_db_order_cmp);
	for (int k = 0; k < i; k++)
		v[k]->next = k + 1 < i ? v[k + 1] : NULL;
	list = i ? v[0] : NULL;
	free(v);
	return list;
}

/* Commits every unit of `list` together. On a unit's own error nothing is
 * committed: that unit alone is failed and the rest are tried again without
 * it; an unreachable database fails all of them with RUM_EUNAVAIL. */
static void rum_db_run_batch(struct rum_db_worker *w, struct rum_db_work *list)
{
	int conflicts = 0;
	bool grouped = true;
	struct timespec t0;

	clock_gettime(CLOCK_MONOTONIC, &t0);
	while (list) {
		struct rum_db_work **failed;
		bool broken = false, group_failed = false;
		int rc, count;
		char msg[512];

		rc = rum_db_worker_connect(w);
		if (rc == 0)
			rc = rum_db_prepare_batch(w, &list);
		if (rc != 0) {
			rum_db_finish_all(list, rc, rum_err_msg());
			__atomic_add_fetch(&w->db->stats.failures, 1, __ATOMIC_RELAXED);
			rum_metric_inc(&rum_db_m_failed);
			return;
		}
		if (!list)
			return;
		rum_err_clear();
		rc = rum_db_pipeline(w, &list, grouped, &failed, &count, &broken, &group_failed);
		if (rc == 0) {
			__atomic_add_fetch(&w->db->stats.transactions, 1, __ATOMIC_RELAXED);
			__atomic_add_fetch(&w->db->stats.units, (uint64_t)count, __ATOMIC_RELAXED);
			rum_metric_observe(&rum_db_m_batch_units, count);
			rum_metric_observe(&rum_db_m_commit, rum_db_seconds_since(&t0));
			rum_db_finish_all(list, 0, "");
			return;
		}
		snprintf(msg, sizeof(msg), "%s", rum_err_msg());
		if (broken && w->conn) {
			PQfinish(w->conn);
			w->conn = NULL;
		}
		if (broken || rc == RUM_EUNAVAIL) {
			if (!__atomic_load_n(&w->db->down, __ATOMIC_SEQ_CST))
				rum_log_warn("db: batch of %d failed: %s", count, msg);
			rum_db_finish_all(list, RUM_EUNAVAIL, msg);
			__atomic_add_fetch(&w->db->stats.failures, 1, __ATOMIC_RELAXED);
			rum_metric_inc(&rum_db_m_failed);
			return;
		}
		if (rc == RUM_ECONFLICT) {
			/* Deadlock or serialisation failure with a concurrent batch:
			 * run it again; if it keeps happening, devices retry later. */
			if (conflicts++ < RUM_DB_CONFLICT_RETRIES)
				continue;
			rum_log_warn("db: batch of %d gave up after %d conflicts: %s", count,
				     conflicts, msg);
			rum_db_finish_all(list, RUM_EUNAVAIL, msg);
			return;
		}
		if (group_failed) {
			/* Which unit's data failed the group statement is not known:
			 * each unit does its own work in the retry. */
			rum_log_warn("db: a batch statement for %d units failed (%s); storing "
				     "them one by one",
				     count, msg);
			grouped = false;
			continue;
		}
		if (failed) {
			struct rum_db_work *bad = *failed;

			*failed = bad->next;
			bad->next = NULL;
			bad->done(bad->arg, rc, msg);
			continue;
		}
		/* The commit itself failed with the connection up: nothing is stored. */
		rum_db_finish_all(list, rc, msg);
		return;
	}
}

static void *rum_db_worker_main(void *arg)
{
	struct rum_db_worker *w = arg;
	struct rum_db *db = w->db;

	for (;;) {
		struct rum_db_work *list, *last;
		int n = 1;

		pthread_mutex_lock(&db->lock);
		while (!db->head && !db->stopping)
			pthread_cond_wait(&db->cond, &db->lock);
		if (!db->head) {
			pthread_mutex_unlock(&db->lock);
			break;
		}
		list = last = db->head;
		while (last->next && n < db->batch_max) {
			last = last->next;
			n++;
		}
		db->head = last->next;
		if (!db->head)
			db->tail = NULL;
		last->next = NULL;
		db->queued -= (uint64_t)n;
		rum_metric_set(&rum_db_m_queue[0], (int64_t)db->queued);
		pthread_mutex_unlock(&db->lock);
		rum_db_run_batch(w, rum_db_order(list, n));
	}
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	return NULL;
}

int rum_db_open(struct rum_db **out, const struct rum_db_options *opts)
{
	struct rum_db *db;

	if (!opts->url || opts->workers < 1 || opts->batch_max < 1 || opts->call_workers < 1)
		return rum_err_set(RUM_EINVAL, "db: bad pool options");
	db = calloc(1, sizeof(*db));
	if (!db)
		abort();
	db->url = strdup(opts->url);
	db->batch_max = opts->batch_max;
	db->timeout_ms = opts->timeout_ms;
	db->statement_timeout_ms = opts->statement_timeout_ms;
	db->queue_max = opts->queue_max > 0 ? (uint64_t)opts->queue_max : UINT64_MAX;
	db->nworkers = opts->workers;
	db->workers = calloc((size_t)opts->workers, sizeof(*db->workers));
	db->ncallers = opts->call_workers;
	db->callers = calloc((size_t)opts->call_workers, sizeof(*db->callers));
	if (!db->url || !db->workers || !db->callers)
		abort();
	pthread_mutex_init(&db->lock, NULL);
	pthread_cond_init(&db->cond, NULL);
	pthread_cond_init(&db->call_cond, NULL);
	pthread_cond_init(&db->call_done, NULL);
	rum_metric_set(&rum_db_m_workers[0], db->nworkers);
	rum_metric_set(&rum_db_m_workers[1], db->ncallers);
	for (int i = 0; i < db->nworkers; i++) {
		db->workers[i].db = db;
		db->workers[i].batches = true;
		if (pthread_create(&db->workers[i].thread, NULL, rum_db_worker_main,
				   &db->workers[i]) != 0)
			abort();
	}
	for (int i = 0; i < db->ncallers; i++) {
		db->callers[i].db = db;
		if (pthread_create(&db->callers[i].thread, NULL, rum_db_call_worker_main,
				   &db->callers[i]) != 0)
			abort();
	}
	*out = db;
	return 0;
}

int rum_db_submit(struct rum_db *db, struct rum_db_work *w)
{
	w->next = NULL;
	pthread_mutex_lock(&db->lock);
	if (db->queued >= db->queue_max) {
		pthread_mutex_unlock(&db->lock);
		rum_metric_inc(&rum_db_m_refused);
		return rum_err_set(RUM_EUNAVAIL,
				   "the database is not keeping up (%llu messages "
				   "waiting)",
				   (unsigned long long)db->queue_max);
	}
	if (db->tail)
		db->tail->next = w;
	else
		db->head = w;
	db->tail = w;
	db->queued++;
	rum_metric_set(&rum_db_m_queue[0], (int64_t)db->queued);
	pthread_cond_signal(&db->cond);
	pthread_mutex_unlock(&db->lock);
	return 0;
}

void rum_db_close(struct rum_db *db)
{
	if (!db)
		return;
	pthread_mutex_lock(&db->lock);
	db->stopping = true;
	pthread_cond_broadcast(&db->cond);
	pthread_cond_broadcast(&db->call_cond);
	pthread_mutex_unlock(&db->lock);
	for (int i = 0; i < db->nworkers; i++)
		pthread_join(db->workers[i].thread, NULL);
	/* Call workers finish the calls queued before stopping: their callers
	 * are waiting for them. */
	for (int i = 0; i < db->ncallers; i++)
		pthread_join(db->callers[i].thread, NULL);
	pthread_mutex_destroy(&db->lock);
	pthread_cond_destroy(&db->cond);
	pthread_cond_destroy(&db->call_cond);
	pthread_cond_destroy(&db->call_done);
	free(db->workers);
	free(db->callers);
	free(db->url);
	free(db);
}

void rum_db_stats(struct rum_db *db, struct rum_db_stats *out)
{
	pthread_mutex_lock(&db->lock);
	*out = db->stats;
	out->queued = db->queued;
	pthread_mutex_unlock(&db->lock);
}

int rum_db_ping(const char *url, int timeout_ms)
{
	PGconn *conn;
	int rc = rum_db_connect(&conn, url, timeout_ms, false);

	if (rc == 0)
		PQfinish(conn);
	return rc;
}

/* --- the call lane: synchronous work on connections of its own --- */

/* One synchronous call, queued for a call worker. */
struct rum_db_call {
	int (*fn)(struct rum_db_txn *txn, void *arg);
	void *arg;
	bool transaction; /* BEGIN .. COMMIT around fn, else autocommit */
	bool finished;
	int rc;
	char msg[512];
	struct rum_db_call *next;
};

/* Runs c on the call worker's connection and records its outcome. */
static void rum_db_call_run(struct rum_db_worker *w, struct rum_db_call *c)
{
	struct rum_db_txn txn = {NULL, RUM_DB_SYNC, false, 0, 0, false};
	int rc = rum_db_worker_connect(w);

	rum_err_clear();
	if (rc == 0) {
		txn.conn = w->conn;
		if (c->transaction)
			rc = rum_db_command(&txn, "BEGIN");
		if (rc == 0)
			rc = c->fn(&txn, c->arg);
		if (c->transaction && rc == 0)
			rc = rum_db_command(&txn, "COMMIT");
		else if (c->transaction && !txn.broken) {
			char msg[512];

			/* The caller's error survives the rollback. */
			snprintf(msg, sizeof(msg), "%s", rum_err_msg());
			(void)rum_db_command(&txn, "ROLLBACK");
			rum_err_set(rc, "%s", msg);
		}
		if (txn.broken || PQstatus(w->conn) != CONNECTION_OK ||
		    PQtransactionStatus(w->conn) != PQTRANS_IDLE) {
			/* Not reusable as it is: the next call connects afresh. */
			PQfinish(w->conn);
			w->conn = NULL;
		}
	}
	c->rc = rc;
	snprintf(c->msg, sizeof(c->msg), "%s", rc ? rum_err_msg() : "");
}

static void *rum_db_call_worker_main(void *arg)
{
	struct rum_db_worker *w = arg;
	struct rum_db *db = w->db;

	for (;;) {
		struct rum_db_call *c;

		pthread_mutex_lock(&db->lock);
		while (!db->call_head && !db->stopping && !(db->warm && !w->warmed))
			pthread_cond_wait(&db->call_cond, &db->lock);
		c = db->call_head;
		if (!c && !db->stopping) {
			/* Connected ahead of the first call; a failure is retried
			 * by that call. */
			w->warmed = true;
			pthread_mutex_unlock(&db->lock);
			(void)rum_db_worker_connect(w);
			continue;
		}
		if (!c) {
			pthread_mutex_unlock(&db->lock);
			break;
		}
		db->call_head = c->next;
		if (!db->call_head)
			db->call_tail = NULL;
		db->call_queued--;
		rum_metric_set(&rum_db_m_queue[1], (int64_t)db->call_queued);
		pthread_mutex_unlock(&db->lock);
		rum_db_call_run(w, c);
		pthread_mutex_lock(&db->lock);
		c->finished = true;
		pthread_cond_broadcast(&db->call_done);
		pthread_mutex_unlock(&db->lock);
	}
	if (w->conn)
		PQfinish(w->conn);
	w->conn = NULL;
	return NULL;
}

/* Queues c and waits for its outcome. */
static int rum_db_call_wait(struct rum_db *db, struct rum_db_call *c)
{
	pthread_mutex_lock(&db->lock);
	if (db->stopping || db->call_queued >= db->queue_max) {
		pthread_mutex_unlock(&db->lock);
		return rum_err_set(RUM_EUNAVAIL, db->stopping ? "rumd is stopping"
							      : "the database is not keeping up");
	}
	if (db->call_tail)
		db->call_tail->next = c;
	else
		db->call_head = c;
	db->call_tail = c;
	db->call_queued++;
	rum_metric_set(&rum_db_m_queue[1], (int64_t)db->call_queued);
	pthread_cond_signal(&db->call_cond);
	while (!c->finished)
		pthread_cond_wait(&db->call_done, &db->lock);
	pthread_mutex_unlock(&db->lock);
	if (c->rc != 0)
		rum_err_set(c->rc, "%s", c->msg);
	return c->rc;
}

int rum_db_call(struct rum_db *db, int (*fn)(struct rum_db_txn *txn, void *arg), void *arg)
{
	struct rum_db_call c = {.fn = fn, .arg = arg};

	return rum_db_call_wait(db, &c);
}

int rum_db_transact(struct rum_db *db, int (*fn)(struct rum_db_txn *txn, void *arg), void *arg)
{
	struct rum_db_call c = {.fn = fn, .arg = arg, .transaction = true};

	return rum_db_call_wait(db, &c);
}

void rum_db_warm(struct rum_db *db)
{
	pthread_mutex_lock(&db->lock);
	db->warm = true;
	pthread_cond_broadcast(&db->call_cond);
	pthread_mutex_unlock(&db->lock);
}
