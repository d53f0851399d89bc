/* Pull collections as the collector runs them (PROTOCOL.md 3.3-3.5): due
 * collections claimed for one node, their outcomes recorded (which also
 * schedules the next one), collections handed back when a node stops, and
 * what a collection learns on the way: the device's UDI and licensing
 * snapshot, a host key or TLS pin trusted on first use, and one-time file
 * URLs for devices that fetch and post files over HTTP.
 *
 * Each call is one statement on the domain's call connections, so that a
 * collection never holds a transaction open while it talks to a device.
 * All return 0 or a RUM_E* code with the thread's message set. */
#ifndef RUM_DOMAIN_COLLECTIONS_H
#define RUM_DOMAIN_COLLECTIONS_H

#include "domain/domain.h"
#include "domain/targets.h"

#include "lib/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_db_work;

/* Claims up to `limit` due collections for `node` (only the ones in
 * only[0..n_only) when n_only > 0), leased for lease_s seconds: several
 * nodes never claim the same one. cb gets each with its target. */
int rum_collections_claim(struct rum_domain *dom, const char *node, int limit, int lease_s,
			  const int64_t *only, size_t n_only,
			  void (*cb)(void *arg, int64_t job_id, const struct rum_target *t),
			  void *arg);

struct rum_collection_result {
	int64_t job_id;
	const char *node;
	bool ok;
	int duration_ms;
	int collected, new_reports, acks;
	const char *error; /* NULL on success */
	int retry_base_s, retry_max_s, alert_after_s;
};

/* Records the outcome and schedules the target's next collection (its
 * interval, or back-off after a failure, raising an alert after
 * alert_after_s of failures and resolving it on success). *applied false
 * when the collection was no longer this node's (its lease passed). */
int rum_collections_finish(struct rum_domain *dom, const struct rum_collection_result *r,
			   bool *applied);

/* Hands a collection this node claimed but cannot finish (it is stopping)
 * back to the queue, due as before, for any node to take at once. */
int rum_collections_release(struct rum_domain *dom, int64_t job_id, const char *node);

/* Records the device a target's collection found (tenant + UDI, created
 * when new), links the target to it and keeps `json` (a JSON object) as its
 * latest licensing snapshot. */
int rum_collections_snapshot(struct rum_domain *dom, const struct rum_target *t, const char *pid,
			     const char *sn, const char *json);

/* Stores a host key or TLS pin seen on first use (only if none is known). */
int rum_collections_learn_key(struct rum_domain *dom, int64_t target_id, const char *key);

/* One-time file URLs: binds a token's SHA-256 (32 bytes) to collection
 * job_id, for an upload from the device (content NULL) or a download of
 * content; at most max_bytes, valid ttl_s seconds. */
int rum_collections_transfer_create(struct rum_domain *dom, const uint8_t *token_sha256,
				    int64_t job_id, const char *direction, const char *content,
				    size_t len, size_t max_bytes, int ttl_s);

/* What the device posted for an upload token: *content malloc'd (caller
 * frees), NULL when nothing arrived yet. */
int rum_collections_transfer_received(struct rum_domain *dom, const uint8_t *token_sha256,
				      char **content, size_t *len);

/* --- one-time file URLs (transfer=http): /cslu/v1/files/<token> --- */
#define RUM_COLLECTIONS_TOKEN_HEX 48

struct rum_collection_file {
	/* Inputs, kept alive until done(). */
	const char *token; /* as in the URL */
	bool upload;       /* PUT/POST of a usage file; else GET of an ACK */
	const char *body;
	size_t body_len;
	/* Results in done(): rc 0, RUM_ENOTFOUND (unknown, used, expired token),
	 * RUM_EUNAVAIL; content (download) malloc'd, the caller frees it. */
	int rc;
	char err[256];
	char *content;
	size_t len;
	/* Private. */
	uint8_t sha[RUM_SHA256_LEN];
	bool called;
	struct rum_db_work *work;
	void (*done)(struct rum_collection_file *f, void *arg);
	void *done_arg;
};

/* Uses a one-time token on a database worker; done() is called once, from
 * that worker. Returns 0 when submitted; RUM_ENOTFOUND for a token that
 * cannot be one (done() not called), RUM_EUNAVAIL when the queue is full. */
int rum_collections_file_submit(struct rum_collection_file *f, struct rum_domain *dom,
				void (*done)(struct rum_collection_file *f, void *arg), void *arg);

#endif
