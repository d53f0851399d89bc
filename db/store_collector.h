/* Storage of pull collection (PROTOCOL.md 3): targets, due collections
 * (jobs) claimed with FOR UPDATE SKIP LOCKED, their outcomes, device
 * snapshots, ACK hand-over and one-time file URLs. Every function is one
 * statement (or one SQL function), so it runs the same in a call of its
 * own (rum_db_call) or inside a caller's transaction (rum_db_transact). Strings in
 * callback rows are valid during the call only. */
#ifndef RUM_DB_STORE_COLLECTOR_H
#define RUM_DB_STORE_COLLECTOR_H

#include "db/db.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_store_target {
	int64_t id;
	int64_t tenant_id;
	const char *tenant; /* name (rows read back) */
	const char *host;
	int port;
	const char *protocol; /* "netconf" | "restapi" */
	const char *username;
	const char *auth;      /* "password" | "key" */
	const uint8_t *secret; /* sealed (nonce || ciphertext || tag) */
	size_t secret_len;
	const char *known_host_key; /* "" when not known */
	bool trust_on_first_use;
	int64_t interval_s; /* 0 = on demand */
	const char *path_prefix;
	const char *transfer; /* "scp" | "http" */
	bool rest_raw, rest_plain_http;
	/* Read back only. */
	int64_t device_id;            /* 0 until a collection named the device */
	const char *udi_pid, *udi_sn; /* "" until then */
	int failures;
	const char *failing_since; /* "" when not failing */
	const char *created_at;
	const char *next_due; /* "" when nothing is queued */
	int64_t last_job_id;  /* 0 when never collected */
	const char *last_state, *last_finished, *last_error;
	int64_t last_collected, last_new, last_acks;
};

/* Inserts a target and, when it has an interval, its first collection, due
 * now. Errors: RUM_ECONFLICT (the same tenant, host, port and protocol
 * exist), RUM_EINVAL (a value the schema refuses). */
int rum_store_target_add(struct rum_db_txn *txn, const struct rum_store_target *t, int64_t *id);

/* Rewrites target t->id of tenant t->tenant_id with t's fields (the
 * read-back ones are ignored); its queued scheduled collection follows the
 * new interval. RUM_ENOTFOUND, RUM_ECONFLICT (another target of the tenant
 * has that host, port and protocol). */
int rum_store_target_update(struct rum_db_txn *txn, const struct rum_store_target *t);

/* Targets of a tenant (0 = all), by id; or the one target `id` (non-zero),
 * RUM_ENOTFOUND when it does not exist (in that tenant, when non-zero). */
int rum_store_target_list(struct rum_db_txn *txn, int64_t tenant_id, int64_t id,
			  void (*cb)(void *arg, const struct rum_store_target *t), void *arg);

/* Removes a target with its jobs and snapshot (collected reports stay with
 * their device). RUM_ENOTFOUND. */
int rum_store_target_remove(struct rum_db_txn *txn, int64_t tenant_id, int64_t id);

/* Stores a host key or TLS pin learnt on first use (only if none is known). */
int rum_store_target_learn_key(struct rum_db_txn *txn, int64_t id, const char *key);

/* Upserts the device the target's UDI names, links the target to it and
 * keeps `json` (a JSON object) as its latest licensing snapshot. */
int rum_store_target_snapshot(struct rum_db_txn *txn, int64_t target_id, int64_t tenant_id,
			      const char *pid, const char *sn, const char *address,
			      const char *json);

/* Queues a manual collection, due now, for target `id` (non-zero) or for
 * every target of the tenant; cb gets each job id with its target.
 * RUM_ENOTFOUND when nothing matched. */
int rum_store_jobs_enqueue(struct rum_db_txn *txn, int64_t tenant_id, int64_t id,
			   void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg);

/* Claims up to `limit` due jobs for `node` (only those in only[0..n_only)
 * when n_only > 0), leased for lease_s seconds; cb gets each job id with its
 * target. */
int rum_store_jobs_claim(struct rum_db_txn *txn, const char *node, int limit, int lease_s,
			 const int64_t *only, size_t n_only,
			 void (*cb)(void *arg, int64_t job_id, const struct rum_store_target *t),
			 void *arg);

struct rum_store_job_result {
	int64_t job_id;
	const char *node;
	bool ok;
	int duration_ms;
	int collected, new_reports, acks;
	const char *error; /* NULL on success */
	int retry_base_s, retry_max_s, alert_after_s;
};
/* Records the outcome and schedules the next collection; *applied false
 * when the job was no longer this node's (its lease passed). */
int rum_store_job_finish(struct rum_db_txn *txn, const struct rum_store_job_result *r,
			 bool *applied);

/* Hands a job this node claimed but could not finish (it is stopping) back
 * to the queue, due as before, for any node to take at once. */
int rum_store_job_release(struct rum_db_txn *txn, int64_t job_id, const char *node);

struct rum_store_job {
	int64_t id, target_id;
	const char *host, *protocol, *trigger, *state, *node;
	const char *due_at, *started_at, *finished_at; /* "" when not yet */
	int attempts;
	int64_t duration_ms; /* -1 when not finished */
	int64_t collected, new_reports, acks;
	const char *error; /* "" when none */
};
/* Jobs by id (ids[0..n)), or the last `limit` jobs of target_id when n == 0. */
int rum_store_jobs_get(struct rum_db_txn *txn, const int64_t *ids, size_t n, int64_t target_id,
		       int limit, void (*cb)(void *arg, const struct rum_store_job *j), void *arg);

/* One-time file URLs: a token's SHA-256 (32 bytes) bound to a job. */
int rum_store_transfer_create(struct rum_db_txn *txn, const uint8_t *token_sha256, int64_t job_id,
			      const char *direction, const char *content, size_t len,
			      size_t max_bytes, int ttl_s);
/* A device uses a token: upload stores body (RUM_ETOOBIG past max_bytes),
 * download returns the content (*content malloc'd). Each token works once
 * and before it expires: RUM_ENOTFOUND otherwise (unknown, used, expired,
 * or the other direction). */
int rum_store_transfer_use(struct rum_db_txn *txn, const uint8_t *token_sha256,
			   const char *direction, const char *body, size_t body_len, char **content,
			   size_t *len);
/* What arrived for an upload token (*content NULL when nothing yet). */
int rum_store_transfer_received(struct rum_db_txn *txn, const uint8_t *token_sha256, char **content,
				size_t *len);

#endif
