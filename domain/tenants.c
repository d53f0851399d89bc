#include "domain/tenants.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <string.h>

struct rum_tenants_call {
	const char *name, *smart_account, *virtual_account;
	int64_t id, only;
	void (*cb)(void *arg, const struct rum_tenant *t);
	void *arg;
};

static int rum_tenants_create_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tenants_call *c = arg;

	return rum_store_tenant_create(txn, c->name, c->smart_account, c->virtual_account, &c->id);
}

int rum_tenants_create(struct rum_domain *dom, const char *name, const char *smart_account,
		       const char *virtual_account, int64_t *id)
{
	struct rum_tenants_call c = {.name = name,
				     .smart_account = smart_account ? smart_account : "",
				     .virtual_account = virtual_account ? virtual_account : ""};
	int rc;

	if (!name || !rum_text_tenant_name_ok(name))
		return rum_err_set(RUM_EINVAL, "a tenant name is 1 to 128 characters of "
					       "printable UTF-8 without '/'");
	rc = rum_db_transact(dom->db, rum_tenants_create_run, &c);
	if (rc == 0)
		*id = c.id;
	return rc;
}

static void rum_tenants_row(void *arg, const struct rum_store_tenant *row)
{
	struct rum_tenants_call *c = arg;
	struct rum_tenant t = {row->id, row->name, row->smart_account, row->virtual_account,
			       row->created_at};

	c->cb(c->arg, &t);
}

static int rum_tenants_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tenants_call *c = arg;

	return rum_store_tenant_list(txn, c->only, rum_tenants_row, arg);
}

int rum_tenants_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_tenant *t),
		     void *arg)
{
	struct rum_tenants_call c = {.cb = cb, .arg = arg};

	return rum_db_transact(dom->db, rum_tenants_list_run, &c);
}

int rum_tenants_list_by(struct rum_domain *dom, const struct rum_actor *by,
			void (*cb)(void *arg, const struct rum_tenant *t), void *arg)
{
	struct rum_tenants_call c = {.cb = cb, .arg = arg, .only = by->token_tenant_id};

	return rum_db_transact(dom->db, rum_tenants_list_run, &c);
}

static int rum_tenants_bound_refused(const struct rum_actor *by, const char *what)
{
	return by->token_tenant_id
		       ? rum_err_set(RUM_EFORBIDDEN, "a token bound to a tenant cannot %s", what)
		       : 0;
}

int rum_tenants_create_by(struct rum_domain *dom, const struct rum_actor *by, const char *name,
			  const char *smart_account, const char *virtual_account, int64_t *id)
{
	int rc = rum_tenants_bound_refused(by, "create tenants");

	if (rc == 0)
		rc = rum_tenants_create(dom, name, smart_account, virtual_account, id);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "tenant-create", name, name ? name : "", rc, NULL);
	return rc;
}

static int rum_tenants_update_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_tenants_call *c = arg;

	return rum_store_tenant_update(txn, c->id, c->smart_account, c->virtual_account);
}

int rum_tenants_update_by(struct rum_domain *dom, const struct rum_actor *by,
			  const char *smart_account, const char *virtual_account)
{
	struct rum_tenants_call c = {.smart_account = smart_account,
				     .virtual_account = virtual_account,
				     .id = by->tenant_id};
	int rc = 0;

	if ((smart_account && strlen(smart_account) > 256) ||
	    (virtual_account && strlen(virtual_account) > 256))
		rc = rum_err_set(RUM_EINVAL, "account names are at most 256 characters");
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_tenants_update_run, &c);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "tenant-update", by->tenant, by->tenant, rc, NULL);
	return rc;
}
