#include "domain/audit.h"

#include "db/db.h"
#include "db/store_tokens.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/log.h"

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
