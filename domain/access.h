/* Who may do what: bearer tokens and their roles, checked for every admin
 * API request before its operation runs.
 *
 * Tokens: "rumd_" + 64 hex digits (32 random bytes), shown once; only their
 * SHA-256 is stored. Roles: reader (reads), operator (also exports, imports,
 * collections), admin (everything). A token bound to a tenant sees only that
 * tenant: any other tenant is reported as not found, exactly as a tenant
 * that does not exist, so that a token cannot learn which tenants exist. */
#ifndef RUM_DOMAIN_ACCESS_H
#define RUM_DOMAIN_ACCESS_H

#include "domain/domain.h"

#include <stdbool.h>
#include <stdint.h>

#define RUM_TOKEN_LEN (5 + 64)       /* "rumd_" + hex of 32 bytes */
#define RUM_TOKEN_PREFIX_LEN (5 + 8) /* what is shown of a token */

/* RUM_ROLE_NONE: a route anyone may call (signing in). */
enum rum_role { RUM_ROLE_NONE = 0, RUM_ROLE_READER = 1, RUM_ROLE_OPERATOR = 2, RUM_ROLE_ADMIN = 3 };

/* "admin", "operator", "reader". RUM_EINVAL otherwise. */
int rum_role_parse(enum rum_role *out, const char *text);

/* What a request presents: its Authorization header value (NULL when
 * absent) and the tenant it names (percent-decoded; NULL for a route of no
 * tenant, such as the API's description, where only the role counts).
 * Without an Authorization header, a browser session's secret (its cookie)
 * stands for it; a request that changes state (changes) must then also
 * carry the session's CSRF token (its X-CSRF-Token header). */
struct rum_access {
	const char *authorization;
	const char *tenant;
	const char *session; /* NULL: none */
	const char *csrf;    /* NULL: none */
	bool changes;
};

/* Who acts, once checked: what the audit log calls them, their token, and
 * the tenant they act on (name and id). */
struct rum_actor {
	char actor[64];
	int64_t token_id;
	const char *tenant;
	int64_t tenant_id;
	int64_t token_tenant_id; /* the tenant the token is bound to, 0: every tenant */
	int64_t session_id;      /* a browser session's, 0: a bearer token */
	int64_t user_id;         /* the session's local user, 0: none */
	char role[16];           /* the role it acts with */
	char csrf[65];           /* the session's CSRF token, "" without one */
	char expires_at[40];     /* when the session ends at the latest */
};

/* Authenticates the bearer token and authorizes role `need` on the
 * tenant. A refused write (need above reader) is audited under `action`.
 * Errors: RUM_EAUTH (missing, unknown or revoked token), RUM_ENOTFOUND
 * (unknown tenant, or not the token's), RUM_EFORBIDDEN (role),
 * RUM_EUNAVAIL. *out is valid (actor "anonymous" at worst) either way. */
int rum_access_check(struct rum_domain *dom, const struct rum_access *access, enum rum_role need,
		     const char *action, struct rum_actor *out);

/* SHA-256 of a token, in hex (what is stored). */
void rum_access_token_hash(char out[65], const char *token);

#endif
