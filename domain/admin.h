/* The admin side of rumd: bearer tokens (created, listed and revoked from the
 * CLI; checked for every admin API request), the audit log, a bounded pool of
 * worker threads for admin work that must not run on HTTP threads, and the
 * admin operations themselves (export, its file, import, ACK download), each
 * authenticated, authorized and audited in one call.
 *
 * Tokens: "rumd_" + 64 hex digits (32 random bytes), shown once; only their
 * SHA-256 is stored. Roles: reader (GET), operator (also exports and
 * imports), admin (everything). A token bound to a tenant sees only that
 * tenant: any other tenant is reported as not found, exactly as a tenant
 * that does not exist, so that a token cannot learn which tenants exist.
 *
 * Every call runs synchronously on a fresh database connection (url) and
 * returns 0 or a RUM_E* code with the thread's message set: RUM_EAUTH
 * (missing, unknown or revoked token), RUM_ENOTFOUND (unknown tenant, or not
 * the token's), RUM_EFORBIDDEN (role), then the operation's own errors. */
#ifndef RUM_DOMAIN_ADMIN_H
#define RUM_DOMAIN_ADMIN_H

#include "domain/import.h"
#include "domain/targets.h"

#include <jansson.h>

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_ADMIN_TOKEN_LEN (5 + 64)  /* "rumd_" + hex of 32 bytes */
#define RUM_ADMIN_PREFIX_LEN (5 + 8)  /* what is shown of a token */

enum rum_admin_role { RUM_ADMIN_READER = 1, RUM_ADMIN_OPERATOR = 2, RUM_ADMIN_ADMIN = 3 };

/* "admin", "operator", "reader". RUM_EINVAL otherwise. */
int rum_admin_role_parse(enum rum_admin_role *out, const char *text);

/* Where the admin operations run. */
struct rum_admin_env {
	const char *url;      /* database */
	int timeout_ms;
	const char *data_dir; /* exports go to data_dir/exports/<tenant id>/ */
	const char *key_file; /* seals pull-target credentials */
};

/* --- tokens (CLI; audited with actor "cli") --- */

/* Creates a token; *token (malloc'd, RUM_ADMIN_TOKEN_LEN chars) is the only
 * copy of the secret. tenant NULL: every tenant. RUM_EINVAL (role),
 * RUM_ENOTFOUND (tenant). */
int rum_admin_token_create(const struct rum_admin_env *env, const char *role, const char *tenant,
			   const char *description, char **token, int64_t *id);

/* Prints the tokens (no secrets) as a table on stdout. */
int rum_admin_token_print(const struct rum_admin_env *env);

/* Revokes token id; *prefix (24 bytes) gets its prefix. RUM_ENOTFOUND. */
int rum_admin_token_revoke(const struct rum_admin_env *env, int64_t id, char *prefix);

/* --- one admin API request --- */

/* Who asks for what: the Authorization header value (NULL when absent) and
 * the tenant named in the URL (percent-decoded). */
struct rum_admin_auth {
	const char *authorization;
	const char *tenant;
};

struct rum_admin_export_request {
	bool all;
	const char *since;      /* ISO-8601 or NULL */
	const int64_t *devices; /* NULL/0: every device */
	size_t ndevices;
};

struct rum_admin_export_result {
	bool nothing; /* nothing to export: no file, no batch */
	int64_t batch_id, devices, reports;
	char file_name[96];
};

/* Operator: writes the tenant's export into data_dir/exports/<tenant id>/. */
int rum_admin_export(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		     const struct rum_admin_export_request *req,
		     struct rum_admin_export_result *res);

/* Reader: opens the file of the tenant's export batch. *fd (caller closes),
 * *size, *file_name (at least 96 bytes). RUM_ENOTFOUND (no batch, or its
 * file is gone). */
int rum_admin_export_file(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			  int64_t batch_id, int *fd, size_t *size, char *file_name);

/* Operator: imports CSSM's answer (ACK tarball, ACK XML, policy file) held
 * in body into the tenant, all or nothing (see domain/import.h). file_name,
 * when not NULL, is the name it is recorded under (a base name). res is
 * disposed by the caller with rum_import_result_dispose() when 0 is
 * returned. */
int rum_admin_import(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		     const char *body, size_t len, const char *file_name,
		     struct rum_import_result *res);

/* Reader: the newest ACK of the tenant's device, byte-exact (malloc'd). */
int rum_admin_ack(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		  int64_t device_id, char **content, size_t *len);

/* --- pull targets (admin_targets.c) --- */

/* Admin: adds a pull target to auth->tenant (spec->tenant is ignored). */
int rum_admin_target_add(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			 struct rum_target_spec *spec, int64_t *id);

/* Reader: the tenant's targets (id 0), or target id with its last 20
 * collections (job_cb). Never the credential. */
int rum_admin_target_list(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			  int64_t id, void (*target_cb)(void *arg, const struct rum_store_target *t),
			  void (*job_cb)(void *arg, const struct rum_store_job *j), void *arg);

/* Admin: removes a target (its collected reports stay). */
int rum_admin_target_remove(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			    int64_t id);

/* Operator: queues a collection, due now, of target id (0 = every target of
 * the tenant); cb gets each job. */
int rum_admin_target_collect(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			     int64_t id, void (*cb)(void *arg, int64_t job_id, int64_t target_id),
			     void *arg);

/* Reader: one collection of one of the tenant's targets. */
int rum_admin_collection(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			 int64_t job_id, void (*cb)(void *arg, const struct rum_store_job *j),
			 void *arg);

/* --- for admin operations in other files (admin_targets.c) --- */

/* Who is asking, once authenticated: the audit actor, the token, the tenant. */
struct rum_admin_who {
	char actor[64];
	int64_t token_id;
	int64_t tenant_id;
};

/* Authenticates the bearer token and authorizes role `need` on auth->tenant;
 * a refused write (need above reader) is audited under action. */
int rum_admin_begin(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
		    enum rum_admin_role need, const char *action, struct rum_admin_who *who);

/* Writes an audit_log row; steals details (a json_t *, may be NULL).
 * Failures are logged, not returned: the operation already happened. */
void rum_admin_audit(const struct rum_admin_env *env, const struct rum_admin_who *who,
		     const char *action, const char *tenant, const char *target, int result,
		     json_t *details);

/* --- worker threads --- */

/* A fixed set of threads running jobs in order from a bounded queue. */
struct rum_admin_pool;

/* threads >= 1; queue_max jobs may wait (beyond the running ones). */
struct rum_admin_pool *rum_admin_pool_new(int threads, int queue_max);

/* Queues run(arg); RUM_EUNAVAIL (not queued) when the queue is full or the
 * pool stops. run(arg, false) is called on a worker; jobs still queued when
 * the pool is freed are called with cancelled = true. */
int rum_admin_pool_submit(struct rum_admin_pool *pool, void (*run)(void *arg, bool cancelled),
			  void *arg);

/* Lets the running jobs finish, cancels the queued ones, joins. NULL ok. */
void rum_admin_pool_free(struct rum_admin_pool *pool);

#endif
