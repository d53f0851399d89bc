/* Tenants: the Smart Account / Virtual Account pairs rumd keeps usage
 * apart for. Devices name theirs in the push URL (/cslu/v1/pi/<tenant>). */
#ifndef RUM_DOMAIN_TENANTS_H
#define RUM_DOMAIN_TENANTS_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdint.h>

/* A tenant as listed; strings valid during the callback. */
struct rum_tenant {
	int64_t id;
	const char *name, *smart_account, *virtual_account, *created_at;
};

/* Creates a tenant. RUM_EINVAL (a name is 1 to 128 characters of printable
 * UTF-8 without '/'), RUM_ECONFLICT (the name exists). */
int rum_tenants_create(struct rum_domain *dom, const char *name, const char *smart_account,
		       const char *virtual_account, int64_t *id);

/* Calls cb for each tenant, in name order. */
int rum_tenants_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_tenant *t),
		     void *arg);

/* The admin API's: a token bound to a tenant lists only its own and may
 * not create tenants (RUM_EFORBIDDEN); create and update are audited
 * (tenant-create, tenant-update). update sets the account names given (NULL:
 * unchanged) of by's tenant. */
int rum_tenants_list_by(struct rum_domain *dom, const struct rum_actor *by,
			void (*cb)(void *arg, const struct rum_tenant *t), void *arg);
int rum_tenants_create_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
			  const char *smart_account, const char *virtual_account, int64_t *id);
int rum_tenants_update_by(struct rum_domain *dom, const struct rum_actor *by,
			  const char *smart_account, const char *virtual_account);

#endif
