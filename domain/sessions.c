#include "domain/sessions.h"

#include "db/db.h"
#include "db/store_sessions.h"
#include "db/store_tenants.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* A hash to verify against when the user does not exist, so that an
 * unknown name costs what a wrong password does (no user enumeration by
 * timing). Its password is nobody's. */
static const char rum_sessions_nobody[] =
	"$scrypt$ln=15,r=8,p=1$00000000000000000000000000000000$"
	"0000000000000000000000000000000000000000000000000000000000000000";

static bool rum_users_name_ok(const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (n == 0 || n > RUM_USER_NAME_MAX || strchr("._@-", name[0]))
		return false;
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || strchr("._@-", ch)))
			return false;
	}
	return true;
}

static int rum_users_password_ok(const char *password)
{
	size_t n = password ? strlen(password) : 0;

	if (n < RUM_PASSWORD_MIN || n > RUM_PASSWORD_MAX)
		return rum_err_set(RUM_EINVAL, "a password has %d to %d characters",
				   RUM_PASSWORD_MIN, RUM_PASSWORD_MAX);
	if (!rum_text_printable_utf8(password, n))
		return rum_err_set(RUM_EINVAL, "a password is printable UTF-8 text");
	return 0;
}

struct rum_sessions_call {
	const struct rum_session_credentials *cred;
	struct rum_session_begun *out;
	int max_s;
	struct rum_store_user user;
	bool user_found;
	char secret_hash[65];
	const struct rum_actor *by;
	char *tenant;
	size_t tenant_size;
};

static void rum_sessions_tenant_row(void *arg, const struct rum_store_tenant *t)
{
	struct rum_sessions_call *c = arg;

	snprintf(c->tenant, c->tenant_size, "%s", t->name);
}

static int rum_sessions_user_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sessions_call *c = arg;
	int rc = rum_store_user_get(txn, c->cred->user, &c->user);

	c->user_found = rc == 0;
	return rc == RUM_ENOTFOUND ? 0 : rc;
}

static int rum_sessions_insert_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sessions_call *c = arg;
	struct rum_actor *who = &c->out->who;
	int rc = rum_store_session_insert(txn, c->secret_hash, who->csrf, who->token_id,
					  who->user_id, c->max_s,
					  c->cred->address ? c->cred->address : "",
					  &who->session_id, who->expires_at);

	c->tenant = c->out->tenant;
	c->tenant_size = sizeof(c->out->tenant);
	c->tenant[0] = '\0';
	if (rc == 0 && who->token_tenant_id)
		rc = rum_store_tenant_list(txn, who->token_tenant_id, rum_sessions_tenant_row, c);
	return rc;
}

/* Checks the credentials into out->who (actor, role, binding). */
static int rum_sessions_authenticate(struct rum_domain *dom, struct rum_sessions_call *c)
{
	const struct rum_session_credentials *cred = c->cred;
	struct rum_actor *who = &c->out->who;
	int rc;

	if (cred->token) {
		char bearer[16 + RUM_TOKEN_LEN];
		struct rum_access a = {bearer, NULL, NULL, NULL, false};

		if (strlen(cred->token) != RUM_TOKEN_LEN)
			return rum_err_set(RUM_EAUTH, "unknown or revoked token");
		snprintf(bearer, sizeof(bearer), "Bearer %s", cred->token);
		return rum_access_check(dom, &a, RUM_ROLE_READER, "sign-in", who);
	}
	memset(who, 0, sizeof(*who));
	snprintf(who->actor, sizeof(who->actor), "anonymous");
	if (!rum_users_name_ok(cred->user) || !cred->password ||
	    strlen(cred->password) > RUM_PASSWORD_MAX)
		return rum_err_set(RUM_EAUTH, "wrong user name or password");
	rc = rum_db_transact(dom->db, rum_sessions_user_run, c);
	if (rc != 0)
		return rc;
	rc = rum_crypto_password_verify(c->user_found ? c->user.password_hash : rum_sessions_nobody,
					cred->password);
	if (rc == RUM_EINTERNAL)
		return rc;
	if (rc != 0 || !c->user_found || c->user.disabled)
		return rum_err_set(RUM_EAUTH, "wrong user name or password");
	snprintf(who->actor, sizeof(who->actor), "user %s", cred->user);
	snprintf(who->role, sizeof(who->role), "%s", c->user.role);
	who->user_id = c->user.id;
	who->token_tenant_id = c->user.tenant_id;
	return 0;
}

int rum_sessions_begin(struct rum_domain *dom, const struct rum_session_credentials *cred,
		       struct rum_session_begun *out)
{
	struct rum_sessions_call c = {.cred = cred, .out = out, .max_s = dom->web_session_max_s};
	uint8_t secret[32], csrf[32];
	json_t *details;
	int rc;

	memset(out, 0, sizeof(*out));
	if (!cred->token == !cred->user)
		return rum_err_set(RUM_EINVAL, "sign in with a token, or with a user and password");
	details = json_pack("{s:s}", "method", cred->token ? "token" : "password");
	if (cred->user && rum_users_name_ok(cred->user))
		json_object_set_new(details, "user", json_string(cred->user));
	rc = rum_sessions_authenticate(dom, &c);
	if (rc == 0) {
		rum_crypto_random(secret, sizeof(secret));
		rum_crypto_random(csrf, sizeof(csrf));
		rum_text_hex(out->secret, secret, sizeof(secret));
		rum_text_hex(out->who.csrf, csrf, sizeof(csrf));
		rum_crypto_wipe(secret, sizeof(secret));
		rum_access_token_hash(c.secret_hash, out->secret);
		rc = rum_db_transact(dom->db, rum_sessions_insert_run, &c);
	}
	if (rc == 0) {
		char *actor = strdup(out->who.actor);

		/* From now on it is this session that acts. */
		if (out->who.user_id)
			snprintf(out->who.actor, sizeof(out->who.actor),
				 "user %.40s (session %" PRId64 ")", cred->user,
				 out->who.session_id);
		json_object_set_new(details, "session", json_integer(out->who.session_id));
		json_object_set_new(details, "as", json_string(actor ? actor : ""));
		free(actor);
	}
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, &out->who, "sign-in", NULL, "", rc, json_incref(details));
	json_decref(details);
	if (rc != 0)
		rum_crypto_wipe(out->secret, sizeof(out->secret));
	return rc;
}

static int rum_sessions_end_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sessions_call *c = arg;

	return rum_store_session_end(txn, c->by->session_id);
}

int rum_sessions_end(struct rum_domain *dom, const struct rum_actor *by)
{
	struct rum_sessions_call c = {.by = by};
	int rc;

	if (!by->session_id)
		return rum_err_set(RUM_EINVAL, "a bearer token has no session to end; revoke the "
					       "token instead");
	rc = rum_db_transact(dom->db, rum_sessions_end_run, &c);
	rum_audit_record(dom, by, "sign-out", NULL, "", rc, NULL);
	return rc;
}

static int rum_sessions_tenant_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_sessions_call *c = arg;

	return rum_store_tenant_list(txn, c->by->token_tenant_id, rum_sessions_tenant_row, c);
}

int rum_sessions_tenant_of(struct rum_domain *dom, const struct rum_actor *by, char *tenant,
			   size_t size)
{
	struct rum_sessions_call c = {.by = by, .tenant = tenant, .tenant_size = size};

	tenant[0] = '\0';
	return by->token_tenant_id ? rum_db_transact(dom->db, rum_sessions_tenant_run, &c) : 0;
}

/* --- local users --- */

struct rum_users_call {
	const char *name, *hash, *role, *tenant;
	int disabled;
	void (*cb)(void *arg, const struct rum_user *u);
	void *arg;
};

static int rum_users_add_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_users_call *c = arg;
	struct rum_store_user existing;
	int64_t tenant_id = 0, id;
	int rc = c->tenant ? rum_store_tenant_find(txn, c->tenant, &tenant_id) : 0;

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(rc, "unknown tenant '%s'", c->tenant);
	if (rc == 0 && (rc = rum_store_user_get(txn, c->name, &existing)) == 0)
		return rum_err_set(RUM_ECONFLICT, "a user named '%s' exists", c->name);
	if (rc == RUM_ENOTFOUND)
		rc = 0;
	return rc ? rc : rum_store_user_insert(txn, c->name, c->hash, c->role, tenant_id, &id);
}

static int rum_users_add_as(struct rum_domain *dom, const struct rum_actor *who, const char *name,
			    const char *password, const char *role, const char *tenant)
{
	char hash[RUM_PASSWORD_HASH_MAX];
	struct rum_users_call c = {name, hash, role, tenant, -1, NULL, NULL};
	enum rum_role r;
	int rc = rum_users_name_ok(name)
			 ? 0
			 : rum_err_set(RUM_EINVAL,
				       "a user name has 1 to %d of A-Z a-z 0-9 . _ @ -, "
				       "starting with a letter or digit",
				       RUM_USER_NAME_MAX);

	if (rc == 0)
		rc = rum_role_parse(&r, role);
	if (rc == 0)
		rc = rum_users_password_ok(password);
	if (rc == 0)
		rc = rum_crypto_password_hash(hash, password);
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_users_add_run, &c);
	if (rc != RUM_EINVAL)
		rum_audit_record(dom, who, "user-add", tenant, name, rc,
				 json_pack("{s:s}", "role", role ? role : ""));
	return rc;
}

int rum_users_add(struct rum_domain *dom, const char *name, const char *password, const char *role,
		  const char *tenant)
{
	struct rum_actor cli = {.actor = "cli", .tenant = tenant};

	return rum_users_add_as(dom, &cli, name, password, role, tenant);
}

/* Users sign in to every tenant or one: only an actor of every tenant (an
 * unbound admin token or user, or the CLI) manages them. */
static int rum_users_bound_refused(struct rum_domain *dom, const struct rum_actor *by,
				   const char *action, const char *name)
{
	if (!by->token_tenant_id)
		return 0;
	rum_err_set(RUM_EFORBIDDEN, "a sign-in bound to a tenant cannot manage users");
	if (action)
		rum_audit_record(dom, by, action, by->tenant, name ? name : "", RUM_EFORBIDDEN,
				 NULL);
	return RUM_EFORBIDDEN;
}

int rum_users_add_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
		     const char *password, const char *role, const char *tenant)
{
	int rc = rum_users_bound_refused(dom, by, "user-add", name);

	return rc ? rc : rum_users_add_as(dom, by, name, password, role, tenant);
}

static void rum_users_row(void *arg, const struct rum_store_user_row *row)
{
	struct rum_users_call *c = arg;
	struct rum_user u = {row->id,         row->name,        row->role,        row->tenant,
			     row->created_at, row->password_at, row->disabled_at, row->sessions};

	c->cb(c->arg, &u);
}

static int rum_users_list_run(struct rum_db_txn *txn, void *arg)
{
	return rum_store_user_list(txn, rum_users_row, arg);
}

int rum_users_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_user *u),
		   void *arg)
{
	struct rum_users_call c = {.cb = cb, .arg = arg};

	return rum_db_transact(dom->db, rum_users_list_run, &c);
}

static int rum_users_update_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_users_call *c = arg;
	int rc = rum_store_user_update(txn, c->name, c->hash, c->disabled);

	return rc == RUM_ENOTFOUND ? rum_err_set(rc, "no user named '%s'", c->name) : rc;
}

static int rum_users_update_as(struct rum_domain *dom, const struct rum_actor *who,
			       const char *name, const char *password, int disabled)
{
	char hash[RUM_PASSWORD_HASH_MAX];
	struct rum_users_call c = {name, password ? hash : NULL, NULL, NULL, disabled, NULL, NULL};
	int rc = rum_users_name_ok(name) ? 0 : rum_err_set(RUM_EINVAL, "no user named '%s'", name);

	if (rc == 0 && password)
		rc = rum_users_password_ok(password);
	if (rc == 0 && password)
		rc = rum_crypto_password_hash(hash, password);
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_users_update_run, &c);
	if (rc != RUM_EINVAL)
		rum_audit_record(dom, who,
				 password        ? "user-password"
				 : disabled == 1 ? "user-disable"
						 : "user-enable",
				 NULL, name, rc,
				 password && disabled != -1
					 ? json_pack("{s:b}", "disabled", disabled == 1)
					 : NULL);
	return rc;
}

int rum_users_update(struct rum_domain *dom, const char *name, const char *password, int disabled)
{
	struct rum_actor cli = {.actor = "cli"};

	return rum_users_update_as(dom, &cli, name, password, disabled);
}

int rum_users_update_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
			const char *password, int disabled)
{
	int rc = rum_users_bound_refused(dom, by, "user-update", name);

	return rc ? rc : rum_users_update_as(dom, by, name, password, disabled);
}

int rum_users_list_by(struct rum_domain *dom, const struct rum_actor *by,
		      void (*cb)(void *arg, const struct rum_user *u), void *arg)
{
	int rc = rum_users_bound_refused(dom, by, NULL, NULL);

	return rc ? rc : rum_users_list(dom, cb, arg);
}
