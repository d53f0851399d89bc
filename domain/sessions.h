/* Browser sessions of the admin console, and the local users that may sign
 * in to one with a password.
 *
 * A session is begun from a bearer token (it acts with that token's role and
 * tenant for as long as the token is not revoked) or from a local user's
 * name and password (scrypt). The browser keeps the session's secret in an
 * HttpOnly cookie; rumd keeps only its SHA-256. Requests of a session are
 * checked by rum_access_check like a token's, and a change also needs the
 * session's CSRF token. Sign-ins, failed ones included, and sign-outs are
 * audited; neither a password nor a secret is ever recorded. */
#ifndef RUM_DOMAIN_SESSIONS_H
#define RUM_DOMAIN_SESSIONS_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdint.h>

#define RUM_USER_NAME_MAX 64
#define RUM_PASSWORD_MIN 12
#define RUM_PASSWORD_MAX 1024

/* What signs in: a bearer token, or a user and password. address: the
 * client's, recorded with the session. */
struct rum_session_credentials {
	const char *token;
	const char *user, *password;
	const char *address;
};

/* A new session: its secret (for the cookie, the only copy) and who it
 * acts as (role, csrf, expires_at, token_tenant_id ...); tenant: the name
 * of the tenant it is bound to, "" for every tenant. */
struct rum_session_begun {
	char secret[65];
	struct rum_actor who;
	char tenant[256];
};

/* RUM_EAUTH (wrong credentials: one message for an unknown user and a
 * wrong password), RUM_EINVAL (neither or both kinds given), RUM_EUNAVAIL. */
int rum_sessions_begin(struct rum_domain *dom, const struct rum_session_credentials *c,
		       struct rum_session_begun *out);

/* Ends by's session (signing out). RUM_EINVAL when by is not a session. */
int rum_sessions_end(struct rum_domain *dom, const struct rum_actor *by);

/* The name of the tenant by is bound to into tenant ("" for every tenant). */
int rum_sessions_tenant_of(struct rum_domain *dom, const struct rum_actor *by, char *tenant,
			   size_t size);

/* --- local users (managed from the CLI, audited as "cli", or over the
 * admin API below) --- */

/* A user as listed (never the password); strings valid during the callback. */
struct rum_user {
	int64_t id;
	const char *name, *role, *tenant, *created_at, *password_at, *disabled_at;
	int64_t sessions;
};

/* Adds a user. name: 1-64 of A-Z a-z 0-9 . _ @ - (not starting with a
 * punctuation mark); password: RUM_PASSWORD_MIN to RUM_PASSWORD_MAX bytes;
 * tenant NULL: every tenant. RUM_EINVAL, RUM_ENOTFOUND (tenant),
 * RUM_ECONFLICT (name taken). */
int rum_users_add(struct rum_domain *dom, const char *name, const char *password, const char *role,
		  const char *tenant);

int rum_users_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_user *u),
		   void *arg);

/* Sets a new password (NULL: keeps it) and/or disables (1) or enables (0)
 * the user (-1: keeps it); either signs the user out everywhere.
 * RUM_ENOTFOUND, RUM_EINVAL. */
int rum_users_update(struct rum_domain *dom, const char *name, const char *password, int disabled);

/* --- the same for the admin API: only an actor of every tenant manages
 * users (RUM_EFORBIDDEN for one bound to a tenant, audited); audited as
 * the actor --- */
int rum_users_add_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
		     const char *password, const char *role, const char *tenant);
int rum_users_update_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
			const char *password, int disabled);
int rum_users_list_by(struct rum_domain *dom, const struct rum_actor *by,
		      void (*cb)(void *arg, const struct rum_user *u), void *arg);

#endif
