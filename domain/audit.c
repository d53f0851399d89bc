#include "domain/audit.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "db/store_tokens.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <string.h>

#include <stdio.h>
#include <stdlib.h>

struct rum_audit_txn {
	struct rum_store_audit a;
};

static int rum_audit_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_audit_txn *t = arg;
	return rum_store_audit(txn, &t->a);
}

void rum_audit_record(struct rum_domain *dom, const struct rum_actor *who, const char *action,
		      const char *tenant, const char *target, int result, json_t *details)
{
	char saved[512];
	struct rum_audit_txn t = {
		{who->actor, who->token_id, action, tenant, target, result == 0, NULL}};
	char *text;
	int rc;

	snprintf(saved, sizeof(saved), "%s", rum_err_msg());
	if (!details)
		details = json_object();
	if (result != 0) {
		json_object_set_new(details, "error", json_string(saved));
		json_object_set_new(details, "code", json_string(rum_err_name(result)));
	}
	text = json_dumps(details, JSON_COMPACT);
	json_decref(details);
	if (!text)
		abort();
	t.a.details_json = text;
	rc = rum_db_transact(dom->db, rum_audit_run, &t);
	if (rc != 0)
		rum_log_error("audit: cannot record %s by %s: %s", action, who->actor,
			      rum_err_msg());
	free(text);
	if (result != 0)
		rum_err_set(result, "%s", saved);
	else
		rum_err_clear();
}

struct rum_audit_list_call {
	const struct rum_actor *by;
	char tenant[512];
	int64_t before;
	int limit;
	size_t n;
	int64_t last;
	void (*cb)(void *arg, const struct rum_audit_entry *e);
	void *arg;
};

static void rum_audit_tenant_name(void *arg, const struct rum_store_tenant *t)
{
	struct rum_audit_list_call *c = arg;

	snprintf(c->tenant, sizeof(c->tenant), "%s", t->name);
}

static void rum_audit_row(void *arg, const struct rum_store_audit_row *r)
{
	struct rum_audit_list_call *c = arg;
	struct rum_audit_entry e = {r->id,     r->at,     r->actor,  r->action,
				    r->tenant, r->target, r->result, r->details_json};

	/* limit + 1 rows were asked for: the extra one only tells that a next
	 * page exists. */
	if (c->n++ == (size_t)c->limit)
		return;
	c->last = r->id;
	c->cb(c->arg, &e);
}

static int rum_audit_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_audit_list_call *c = arg;
	int rc = 0;

	if (c->by->token_tenant_id) {
		c->tenant[0] = '\0';
		rc = rum_store_tenant_list(txn, c->by->token_tenant_id, rum_audit_tenant_name, c);
		if (rc == 0 && !c->tenant[0])
			rc = rum_err_set(RUM_ENOTFOUND, "the token's tenant is gone");
	}
	if (rc == 0)
		rc = rum_store_audit_page(txn, c->by->token_tenant_id ? c->tenant : NULL, c->before,
					  c->limit + 1, rum_audit_row, c);
	return rc;
}

int rum_audit_list_by(struct rum_domain *dom, const struct rum_actor *by, const char *cursor,
		      int limit, void (*cb)(void *arg, const struct rum_audit_entry *e), void *arg,
		      char *next_cursor, size_t next_size)
{
	struct rum_audit_list_call c = {
		.by = by, .before = INT64_MAX, .limit = limit ? limit : 50, .cb = cb, .arg = arg};
	int rc;

	next_cursor[0] = '\0';
	if (c.limit < 1 || c.limit > 500)
		return rum_err_set(RUM_EINVAL, "limit: 1 to 500");
	if (cursor && cursor[0] &&
	    (strncmp(cursor, "l1.", 3) != 0 || rum_strict_int64(&c.before, cursor + 3) != 0 ||
	     c.before <= 0))
		return rum_err_set(RUM_EINVAL, "cursor: not a cursor of the audit log");
	rc = rum_db_transact(dom->db, rum_audit_list_run, &c);
	if (rc == 0 && c.n > (size_t)c.limit)
		snprintf(next_cursor, next_size, "l1.%" PRId64, c.last);
	return rc;
}
