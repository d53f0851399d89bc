/* The audit log: one row for every change made through the admin API or to
 * tokens, and for every refused write: who, what, on which tenant and
 * target, the outcome and details (never a secret). */
#ifndef RUM_DOMAIN_AUDIT_H
#define RUM_DOMAIN_AUDIT_H

#include "domain/access.h"
#include "domain/domain.h"

#include <jansson.h>

/* Records one row in its own transaction; steals details (a JSON object,
 * NULL for {}); result is the operation's outcome (0 or its RUM_E* code,
 * whose message, the thread's, is recorded and kept). A row that cannot be
 * written is logged, not returned: the operation already happened. */
void rum_audit_record(struct rum_domain *dom, const struct rum_actor *who, const char *action,
		      const char *tenant, const char *target, int result, json_t *details);

#endif
