/* One pull collection of one target (PROTOCOL.md 3.3, 3.4): reach the
 * device, read its licensing state, collect its unreported RUM reports and
 * store them exactly as pushed ones (same dedupe and conflict rules, source
 * "pull"), then hand over its undelivered ACK and mark it delivered once the
 * device confirms the import. Bounded in time by the deadlines of env; every
 * failure ends up as one line in outcome->error quoting what the device
 * said. Runs on the caller's thread; database steps go through the pool. */
#ifndef RUM_COLLECTOR_COLLECT_H
#define RUM_COLLECTOR_COLLECT_H

#include "domain/domain.h"
#include "domain/push.h"
#include "domain/targets.h"
#include "lib/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_collect_env {
	struct rum_domain *dom;
	uint8_t key[RUM_SECRET_KEY_LEN]; /* unseals target credentials */
	const char *node;
	int connect_timeout_ms, auth_timeout_ms, rpc_timeout_ms, timeout_ms;
	size_t max_reply;
	struct rum_push_settings push;
	const char *public_url; /* base URL for transfer=http ("" = unavailable) */
	int file_url_ttl_s;
	/* Set to non-zero (by the scheduler, when rumd stops) to end the
	 * collections in flight within a fraction of a second; may be NULL. */
	volatile int *cancel;
};

/* A claimed target, owned (targets handed to callbacks live only during
 * the call). */
struct rum_collect_target {
	struct rum_target row; /* strings and secret point into owned copies */
	char *strings[12];
};

void rum_collect_target_copy(struct rum_collect_target *out, const struct rum_target *t);
void rum_collect_target_dispose(struct rum_collect_target *t);

struct rum_collect_outcome {
	bool ok;
	int collected;   /* reports the device handed over */
	int new_reports; /* of which rumd had not stored before */
	int acks;        /* ACKs the device confirmed installing */
	int64_t duration_ms;
	char error[2048]; /* "" on success */
};

/* Collects from t for job job_id. Never fails as a function: the outcome
 * says what happened. */
void rum_collect_run(const struct rum_collect_env *env, int64_t job_id,
		     const struct rum_collect_target *t, struct rum_collect_outcome *out);

#endif
