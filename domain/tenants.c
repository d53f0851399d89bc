#include "domain/tenants.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/text.h"

struct rum_tenants_call {
	const char *name, *smart_account, *virtual_account;
	int64_t id;
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
	struct rum_tenants_call c = {name,
				     smart_account ? smart_account : "",
				     virtual_account ? virtual_account : "",
				     0,
				     NULL,
				     NULL};
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
	return rum_store_tenant_list(txn, rum_tenants_row, arg);
}

int rum_tenants_list(struct rum_domain *dom, void (*cb)(void *arg, const struct rum_tenant *t),
		     void *arg)
{
	struct rum_tenants_call c = {.cb = cb, .arg = arg};

	return rum_db_transact(dom->db, rum_tenants_list_run, &c);
}
