#include "domain/captures.h"

#include "db/db.h"
#include "db/store_captures.h"
#include "domain/internal.h"

struct rum_captures_call {
	const char *tenant;
	int64_t id, limit;
	void (*cb)(void *arg, const struct rum_capture *c);
	void *arg;
};

static void rum_captures_row(void *arg, const struct rum_store_capture_row *row)
{
	struct rum_captures_call *q = arg;
	struct rum_capture c = {row->id,   row->received_at,  row->tenant_name, row->method,
				row->path, row->headers_json, row->address,     row->reason,
				row->body, row->body_len};

	q->cb(q->arg, &c);
}

static int rum_captures_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_captures_call *q = arg;

	if (q->id > 0)
		return rum_store_capture_get(txn, q->id, rum_captures_row, q);
	return rum_store_capture_list(txn, q->tenant, q->limit, rum_captures_row, q);
}

int rum_captures_list(struct rum_domain *dom, const char *tenant, int64_t limit,
		      void (*cb)(void *arg, const struct rum_capture *c), void *arg)
{
	struct rum_captures_call q = {tenant ? tenant : "", 0, limit, cb, arg};

	return rum_db_transact(dom->db, rum_captures_run, &q);
}

int rum_captures_get(struct rum_domain *dom, int64_t id,
		     void (*cb)(void *arg, const struct rum_capture *c), void *arg)
{
	struct rum_captures_call q = {"", id, 0, cb, arg};

	return rum_db_transact(dom->db, rum_captures_run, &q);
}
