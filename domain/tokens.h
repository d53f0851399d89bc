/* Bearer tokens for the admin API, managed from the CLI (audited with actor
 * "cli"). See domain/access.h for what a token may do. */
#ifndef RUM_DOMAIN_TOKENS_H
#define RUM_DOMAIN_TOKENS_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdint.h>

/* A token as listed (never its secret); strings valid during the callback,
 * "" when unset. */
struct rum_token {
	int64_t id;
	const char *prefix, *role, *tenant, *description, *created_at, *last_used_at, *revoked_at;
};

/* Creates a token; *token (malloc'd, RUM_TOKEN_LEN chars) is the only copy
 * of the secret. tenant NULL: every tenant. RUM_EINVAL (role), RUM_ENOTFOUND
 * (tenant). */
int rum_tokens_create(struct rum_domain *dom, const char *role, const char *tenant,
		      const char *description, char **token, int64_t *id);

/* The same as who (audited as them: an admin API request). A token bound
 * to a tenant may not manage tokens: RUM_EFORBIDDEN. */
int rum_tokens_list_by(struct rum_domain *dom, const struct rum_actor *by,
		       void (*cb)(void *arg, const struct rum_token *t), void *arg);
int rum_tokens_create_by(struct rum_domain *dom, const struct rum_actor *by, const char *role,
			 const char *tenant, const char *description, char **token, int64_t *id);
int rum_tokens_revoke_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			 char *prefix);

/* Calls cb for each token, by id. */
int rum_tokens_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_token *t),
		    void *arg);

/* Revokes token id; *prefix (24 bytes) gets its prefix. RUM_ENOTFOUND. */
int rum_tokens_revoke(struct rum_domain *dom, int64_t id, char *prefix);

#endif
