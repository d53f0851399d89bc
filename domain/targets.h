/* Pull targets (PROTOCOL.md 3): the devices rumd reaches out to, managed
 * from the CLI (`rumd device ...`) and the admin API alike. Credentials are
 * sealed with AES-256-GCM under a key kept in a file outside the database
 * (secret_key_file), bound to the target's tenant, protocol, host, port and
 * user; they are never logged, printed or returned. Knows no SQL, no HTTP. */
#ifndef RUM_DOMAIN_TARGETS_H
#define RUM_DOMAIN_TARGETS_H

#include "domain/access.h"
#include "domain/domain.h"
#include "lib/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* A pull target as rumd knows it. Strings are valid during the callback
 * that hands it over. */
struct rum_target {
	int64_t id;
	int64_t tenant_id;
	const char *tenant; /* name */
	const char *host;
	int port;
	const char *protocol; /* "netconf" | "restapi" | "restconf" */
	const char *username;
	const char *auth;      /* "password" | "key" */
	const uint8_t *secret; /* sealed: only rum_targets_secret() opens it; never shown */
	size_t secret_len;
	const char *known_host_key; /* "" when not known */
	bool trust_on_first_use;
	int64_t interval_s; /* 0 = on demand */
	const char *path_prefix;
	const char *transfer; /* "scp" | "http" (always "http" for restconf) */
	bool rest_raw, rest_plain_http;
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

/* One collection of a target (queued, running or finished). */
struct rum_collection {
	int64_t id, target_id;
	const char *host, *protocol, *trigger, *state, *node;
	const char *due_at, *started_at, *finished_at; /* "" when not yet */
	int attempts;
	int64_t duration_ms; /* -1 when not finished */
	int64_t collected, new_reports, acks;
	const char *error; /* "" when none */
};

/* What `rumd device add` and POST .../devices take. */
struct rum_target_spec {
	const char *tenant;
	const char *host;
	int port;             /* 0 = 830 (netconf) or 443 (restapi, restconf) */
	const char *protocol; /* "netconf" | "restapi" | "restconf" */
	const char *username;
	const char *password; /* exactly one of password and key */
	size_t password_len;
	const char *key; /* SSH private key text (netconf) */
	size_t key_len;
	const char *known_host_key; /* NULL/"" = none */
	bool trust_on_first_use;
	int64_t interval_s;      /* 0 = on demand only */
	const char *path_prefix; /* NULL = "bootflash:" */
	const char *transfer;    /* NULL = "scp" ("http" for restconf, its only way) */
	bool rest_raw;           /* send ACKs to the REST API as raw XML */
	bool rest_plain_http;    /* REST or RESTCONF over http:// (labs) */
};

/* Reads the 32-byte key (64 hex digits, optional trailing newline) from
 * path; with create, a missing file is made (mode 0600) with a new random
 * key. Errors: RUM_EIO, RUM_EINVAL (not a key). */
int rum_targets_key_load(uint8_t key[RUM_SECRET_KEY_LEN], const char *path, bool create);

/* Checks the spec: RUM_EINVAL naming the first bad field. */
int rum_targets_spec_check(const struct rum_target_spec *s);

/* Adds a target (with its first collection due now when it has an
 * interval). Errors: RUM_EINVAL, RUM_ENOTFOUND (tenant), RUM_ECONFLICT
 * (exists), RUM_EIO (key file), RUM_EUNAVAIL. */
int rum_targets_add(struct rum_domain *dom, const struct rum_target_spec *s, int64_t *id);

/* Targets of tenant (NULL = every tenant), or target id alone (non-zero:
 * RUM_ENOTFOUND when missing or in another tenant). Rows carry the sealed
 * secret only because the store reads whole rows: never show it. */
int rum_targets_list(struct rum_domain *dom, const char *tenant, int64_t id,
		     void (*cb)(void *arg, const struct rum_target *t), void *arg);

/* Removes a target. RUM_ENOTFOUND. */
int rum_targets_remove(struct rum_domain *dom, const char *tenant, int64_t id);

/* Queues manual collections, due now: target id, or every target of tenant.
 * cb gets each job with its target. RUM_ENOTFOUND when nothing matched. */
int rum_targets_enqueue(struct rum_domain *dom, const char *tenant, int64_t id,
			void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg);

/* Jobs by id, or the last `limit` of target_id when n == 0. */
int rum_targets_jobs(struct rum_domain *dom, const int64_t *ids, size_t n, int64_t target_id,
		     int limit, void (*cb)(void *arg, const struct rum_collection *j), void *arg);

/* The credential of a target, unsealed: *out malloc'd, NUL-terminated; the
 * caller wipes (rum_crypto_wipe) and frees it. RUM_EAUTH when it does not
 * open (another key file, or the row was altered). */
int rum_targets_secret(char **out, size_t *len, const uint8_t key[RUM_SECRET_KEY_LEN],
		       const struct rum_target *t);

/* --- for the admin API: the tenant is the actor's, checked already --- */

/* Adds a pull target to the actor's tenant (spec->tenant is set); audited. */
int rum_targets_add_by(struct rum_domain *dom, const struct rum_actor *by,
		       struct rum_target_spec *spec, int64_t *id);

/* The tenant's targets (id 0), or target id with its last 20 collections
 * (job_cb). Never the credential. */
int rum_targets_get_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
		       void (*target_cb)(void *arg, const struct rum_target *t),
		       void (*job_cb)(void *arg, const struct rum_collection *j), void *arg);

/* A change to a target: spec strings NULL and port 0 are left as they
 * are; a password or key replaces the credential (switching how it signs
 * in); the flags say which of the other fields are given. */
struct rum_target_change {
	struct rum_target_spec spec;
	bool interval_set; /* spec.interval_s, 0 = on demand */
	bool tofu_set, rest_raw_set, plain_http_set;
};

/* Changes one of the actor's tenant's targets in one transaction; the stored
 * credential is sealed again for its new host, port, protocol and user.
 * Pinning a key ends learning one; a new host or protocol forgets the old
 * key unless one is given. Its queued scheduled collection follows a new
 * interval. Audited with the names of the fields changed (never values of
 * credentials). RUM_EINVAL (naming the field), RUM_ENOTFOUND,
 * RUM_ECONFLICT (another target has that host, port and protocol),
 * RUM_EAUTH (the stored credential does not open with this key file). */
int rum_targets_update_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			  const struct rum_target_change *ch);

/* Removes a target (its collected reports stay); audited. */
int rum_targets_remove_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id);

/* Queues a collection, due now, of target id (0 = every target of the
 * tenant); cb gets each; audited. */
int rum_targets_collect_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			   void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg);

/* One collection of one of the tenant's targets. RUM_ENOTFOUND otherwise. */
int rum_collections_get_by(struct rum_domain *dom, const struct rum_actor *by, int64_t job_id,
			   void (*cb)(void *arg, const struct rum_collection *j), void *arg);

#endif
