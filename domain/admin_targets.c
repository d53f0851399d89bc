/* Pull targets and collections through the admin API: authenticated,
 * authorized and audited like every admin operation (domain/admin.h), then
 * one call of domain/targets. */
#include "domain/admin.h"

#include "lib/err.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>

static struct rum_targets_env rum_admin_targets_env(const struct rum_admin_env *env)
{
	return (struct rum_targets_env){env->url, env->timeout_ms, env->key_file};
}

int rum_admin_target_add(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			 struct rum_target_spec *spec, int64_t *id)
{
	struct rum_targets_env te = rum_admin_targets_env(env);
	struct rum_admin_who who;
	char target[300];
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_ADMIN, "pull-target-add", &who);

	if (rc != 0)
		return rc;
	spec->tenant = auth->tenant;
	rc = rum_targets_add(&te, spec, id);
	snprintf(target, sizeof(target), "%s:%d", spec->host ? spec->host : "", spec->port);
	if (rc != RUM_EUNAVAIL)
		rum_admin_audit(env, &who, "pull-target-add", auth->tenant, target, rc,
				rc ? NULL : json_pack("{s:I,s:s,s:s}", "id", (json_int_t)*id,
						      "protocol", spec->protocol, "username",
						      spec->username));
	return rc;
}

int rum_admin_target_list(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			  int64_t id, void (*target_cb)(void *arg, const struct rum_store_target *t),
			  void (*job_cb)(void *arg, const struct rum_store_job *j), void *arg)
{
	struct rum_targets_env te = rum_admin_targets_env(env);
	struct rum_admin_who who;
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_READER, "pull-target-read", &who);

	if (rc == 0)
		rc = rum_targets_list(&te, auth->tenant, id, target_cb, arg);
	if (rc == 0 && id && job_cb)
		rc = rum_targets_jobs(&te, NULL, 0, id, 20, job_cb, arg);
	return rc;
}

int rum_admin_target_remove(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			    int64_t id)
{
	struct rum_targets_env te = rum_admin_targets_env(env);
	struct rum_admin_who who;
	char target[24];
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_ADMIN, "pull-target-remove", &who);

	if (rc != 0)
		return rc;
	rc = rum_targets_remove(&te, auth->tenant, id);
	snprintf(target, sizeof(target), "%" PRId64, id);
	if (rc != RUM_EUNAVAIL)
		rum_admin_audit(env, &who, "pull-target-remove", auth->tenant, target, rc, NULL);
	return rc;
}

int rum_admin_target_collect(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			     int64_t id, void (*cb)(void *arg, int64_t job_id, int64_t target_id),
			     void *arg)
{
	struct rum_targets_env te = rum_admin_targets_env(env);
	struct rum_admin_who who;
	char target[24];
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_OPERATOR, "collect", &who);

	if (rc != 0)
		return rc;
	rc = rum_targets_enqueue(&te, auth->tenant, id, cb, arg);
	snprintf(target, sizeof(target), id ? "%" PRId64 : "all", id);
	if (rc != RUM_EUNAVAIL)
		rum_admin_audit(env, &who, "collect", auth->tenant, target, rc, NULL);
	return rc;
}

struct rum_admin_collection_ctx {
	void (*cb)(void *arg, const struct rum_store_job *j);
	void *arg;
	int64_t target_id;
};

static void rum_admin_collection_target(void *arg, const struct rum_store_job *j)
{
	struct rum_admin_collection_ctx *c = arg;

	c->target_id = j->target_id;
}

static void rum_admin_collection_none(void *arg, const struct rum_store_target *t)
{
}

int rum_admin_collection(const struct rum_admin_env *env, const struct rum_admin_auth *auth,
			 int64_t job_id, void (*cb)(void *arg, const struct rum_store_job *j),
			 void *arg)
{
	struct rum_targets_env te = rum_admin_targets_env(env);
	struct rum_admin_collection_ctx c = {cb, arg, 0};
	struct rum_admin_who who;
	int rc = rum_admin_begin(env, auth, RUM_ADMIN_READER, "collection-read", &who);

	if (rc == 0)
		rc = rum_targets_jobs(&te, &job_id, 1, 0, 0, rum_admin_collection_target, &c);
	/* A job of another tenant's target is reported exactly as a missing one. */
	if (rc == 0 && c.target_id)
		rc = rum_targets_list(&te, auth->tenant, c.target_id, rum_admin_collection_none,
				      NULL);
	if (rc == 0 && !c.target_id)
		rc = RUM_ENOTFOUND;
	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "no collection %" PRId64, job_id);
	if (rc == 0)
		rc = rum_targets_jobs(&te, &job_id, 1, 0, 0, cb, arg);
	return rc;
}
