/* The audit log: one row for every change made through the admin API or to
 * tokens, and for every refused write: who, what, on which tenant and
 * target, the outcome and details (never a secret). */
#ifndef RUM_DOMAIN_AUDIT_H
#define RUM_DOMAIN_AUDIT_H

#include "domain/access.h"
#include "domain/domain.h"

#include <jansson.h>
#include <stddef.h>
#include <stdint.h>

/* Records one row in its own transaction; steals details (a JSON object,
 * NULL for {}); result is the operation's outcome (0 or its RUM_E* code,
 * whose message, the thread's, is recorded and kept). A row that cannot be
 * written is logged, not returned: the operation already happened. */
void rum_audit_record(struct rum_domain *dom, const struct rum_actor *who, const char *action,
		      const char *tenant, const char *target, int result, json_t *details);

/* An audit record as shown; strings valid during the callback. */
struct rum_audit_entry {
	int64_t id;
	const char *at, *actor, *action, *tenant, *target, *result, *details_json;
};

/* A page of the audit log, newest first: every tenant's for a token of
 * every tenant, else only the rows naming the token's tenant. RUM_EINVAL
 * (limit 1..500, cursor). */
int rum_audit_list_by(struct rum_domain *dom, const struct rum_actor *by, const char *cursor,
		      int limit, void (*cb)(void *arg, const struct rum_audit_entry *e), void *arg,
		      char *next_cursor, size_t next_size);

#endif
