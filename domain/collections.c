#include "domain/collections.h"

#include "db/db.h"
#include "db/store_collector.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* Every call below is one statement: rum_db_call runs it on a call
 * connection, committing by itself. */

struct rum_collections_call {
	/* claim */
	const char *node;
	int limit, lease_s;
	const int64_t *only;
	size_t n_only;
	void (*claim_cb)(void *arg, int64_t job_id, const struct rum_target *t);
	void *arg;
	/* finish, release */
	const struct rum_store_job_result *result;
	bool applied;
	int64_t job_id;
	/* snapshot, learn */
	const struct rum_target *target;
	int64_t target_id;
	const char *pid, *sn, *json, *key;
	/* transfers */
	const uint8_t *token_sha;
	const char *direction;
	const char *content;
	size_t len, max_bytes;
	int ttl_s;
	char *received;
	size_t received_len;
};

static void rum_collections_claimed(void *arg, int64_t job_id, const struct rum_store_target *row)
{
	struct rum_collections_call *c = arg;
	struct rum_target t;

	rum_target_view(&t, row);
	c->claim_cb(c->arg, job_id, &t);
}

static int rum_collections_claim_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_jobs_claim(txn, c->node, c->limit, c->lease_s, c->only, c->n_only,
				    rum_collections_claimed, c);
}

int rum_collections_claim(struct rum_domain *dom, const char *node, int limit, int lease_s,
			  const int64_t *only, size_t n_only,
			  void (*cb)(void *arg, int64_t job_id, const struct rum_target *t),
			  void *arg)
{
	struct rum_collections_call c = {.node = node,
					 .limit = limit,
					 .lease_s = lease_s,
					 .only = only,
					 .n_only = n_only,
					 .claim_cb = cb,
					 .arg = arg};

	return rum_db_call(dom->db, rum_collections_claim_run, &c);
}

static int rum_collections_finish_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_job_finish(txn, c->result, &c->applied);
}

/* Pull collections as they end, on this node. */
static struct rum_metric rum_collections_m_total[] = {
	RUM_METRIC_COUNTER("rumd_collections_total", "outcome=\"ok\"",
			   "Pull collections this node ran, by outcome"),
	RUM_METRIC_COUNTER("rumd_collections_total", "outcome=\"failed\"", ""),
};
static struct rum_metric rum_collections_m_seconds =
	RUM_METRIC_HISTOGRAM("rumd_collection_seconds", NULL, "How long one pull collection took",
			     {0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600});
static struct rum_metric rum_collections_m_reports =
	RUM_METRIC_COUNTER("rumd_collected_reports_total", NULL,
			   "New reports stored by pull collections");

__attribute__((constructor)) static void rum_collections_metrics_init(void)
{
	rum_metric_register_all(rum_collections_m_total, 2);
	rum_metric_register(&rum_collections_m_seconds);
	rum_metric_register(&rum_collections_m_reports);
}

int rum_collections_finish(struct rum_domain *dom, const struct rum_collection_result *r,
			   bool *applied)
{
	struct rum_store_job_result row = {r->job_id,      r->node,         r->ok,
					   r->duration_ms, r->collected,    r->new_reports,
					   r->acks,        r->error,        r->retry_base_s,
					   r->retry_max_s, r->alert_after_s};
	struct rum_collections_call c = {.result = &row};
	int rc = rum_db_call(dom->db, rum_collections_finish_run, &c);

	rum_metric_inc(&rum_collections_m_total[r->ok ? 0 : 1]);
	rum_metric_observe(&rum_collections_m_seconds, r->duration_ms / 1000.0);
	if (r->new_reports > 0)
		rum_metric_add(&rum_collections_m_reports, r->new_reports);
	*applied = c.applied;
	return rc;
}

static int rum_collections_release_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_job_release(txn, c->job_id, c->node);
}

int rum_collections_release(struct rum_domain *dom, int64_t job_id, const char *node)
{
	struct rum_collections_call c = {.job_id = job_id, .node = node};

	return rum_db_call(dom->db, rum_collections_release_run, &c);
}

static int rum_collections_snapshot_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_target_snapshot(txn, c->target->id, c->target->tenant_id, c->pid, c->sn,
					 c->target->host, c->json);
}

int rum_collections_snapshot(struct rum_domain *dom, const struct rum_target *t, const char *pid,
			     const char *sn, const char *json)
{
	struct rum_collections_call c = {.target = t, .pid = pid, .sn = sn, .json = json};

	return rum_db_call(dom->db, rum_collections_snapshot_run, &c);
}

static int rum_collections_learn_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_target_learn_key(txn, c->target_id, c->key);
}

int rum_collections_learn_key(struct rum_domain *dom, int64_t target_id, const char *key)
{
	struct rum_collections_call c = {.target_id = target_id, .key = key};

	return rum_db_call(dom->db, rum_collections_learn_run, &c);
}

static int rum_collections_transfer_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_transfer_create(txn, c->token_sha, c->job_id, c->direction, c->content,
					 c->len, c->max_bytes, c->ttl_s);
}

int rum_collections_transfer_create(struct rum_domain *dom, const uint8_t *token_sha256,
				    int64_t job_id, const char *direction, const char *content,
				    size_t len, size_t max_bytes, int ttl_s)
{
	struct rum_collections_call c = {.token_sha = token_sha256,
					 .job_id = job_id,
					 .direction = direction,
					 .content = content,
					 .len = len,
					 .max_bytes = max_bytes,
					 .ttl_s = ttl_s};

	return rum_db_call(dom->db, rum_collections_transfer_run, &c);
}

static int rum_collections_received_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_collections_call *c = arg;

	return rum_store_transfer_received(txn, c->token_sha, &c->received, &c->received_len);
}

int rum_collections_transfer_received(struct rum_domain *dom, const uint8_t *token_sha256,
				      char **content, size_t *len)
{
	struct rum_collections_call c = {.token_sha = token_sha256};
	int rc = rum_db_call(dom->db, rum_collections_received_run, &c);

	*content = rc == 0 ? c.received : NULL;
	*len = rc == 0 ? c.received_len : 0;
	if (rc != 0)
		free(c.received);
	return rc;
}

/* The token is used in prepare() (one statement, outside the batch
 * transaction); a retried batch prepares again, hence `called`. */
static int rum_collections_file_prepare(struct rum_db_txn *txn, void *arg)
{
	struct rum_collection_file *f = arg;

	if (f->called)
		return f->rc;
	f->called = true;
	f->rc = rum_store_transfer_use(txn, f->sha, f->upload ? "upload" : "download", f->body,
				       f->body_len, f->upload ? NULL : &f->content, &f->len);
	return f->rc;
}

static int rum_collections_file_run(struct rum_db_txn *txn, void *arg)
{
	return 0;
}

static void rum_collections_file_done(void *arg, int rc, const char *errmsg)
{
	struct rum_collection_file *f = arg;

	free(f->work);
	f->work = NULL;
	f->rc = rc;
	snprintf(f->err, sizeof(f->err), "%s", errmsg ? errmsg : "");
	f->done(f, f->done_arg);
}

int rum_collections_file_submit(struct rum_collection_file *f, struct rum_domain *dom,
				void (*done)(struct rum_collection_file *f, void *arg), void *arg)
{
	size_t n = f->token ? strlen(f->token) : 0;
	int rc;

	if (n != RUM_COLLECTIONS_TOKEN_HEX || strspn(f->token, "0123456789abcdef") != n)
		return rum_err_set(RUM_ENOTFOUND, "no such file");
	rum_crypto_sha256(f->sha, f->token, n);
	f->done = done;
	f->done_arg = arg;
	f->work = calloc(1, sizeof(*f->work));
	if (!f->work)
		abort();
	*f->work = (struct rum_db_work){.prepare = rum_collections_file_prepare,
					.run = rum_collections_file_run,
					.done = rum_collections_file_done,
					.arg = f};
	rc = rum_db_submit(dom->db, f->work);
	if (rc != 0) {
		free(f->work);
		f->work = NULL;
	}
	return rc;
}
