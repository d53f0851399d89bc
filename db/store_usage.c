#include "db/store_usage.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define TS(x) "to_char((" x ") AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"')"

static const struct rum_db_stmt rum_store_usage_stmts[] = {
	{"usage_step",
	 "SELECT skipped, caught_up, taken, " TS("done_until") " FROM rum_usage_rollup_step($1, $2)",
	 2},
	{"usage_as_of", "SELECT " TS("done_until") " FROM usage_rollup", 0},
	{"usage_summary",
	 "SELECT n.tag, n.devices, n.total, coalesce(p.total, 0), coalesce(to_char(p.day, "
	 "'YYYY-MM-DD'), '') FROM usage_tag_now n LEFT JOIN LATERAL (SELECT d.total, d.day "
	 "FROM usage_tag_day d WHERE d.tenant_id = n.tenant_id AND d.tag = n.tag "
	 "ORDER BY d.total DESC, d.day DESC LIMIT 1) p ON true WHERE n.tenant_id = $1 "
	 "ORDER BY n.tag",
	 1},
	{"usage_days",
	 "SELECT tag, to_char(day, 'YYYY-MM-DD'), devices, total FROM usage_tag_day "
	 "WHERE tenant_id = $1 AND ($2 = '' OR tag = $2) AND day >= $3::date AND day <= $4::date "
	 "ORDER BY tag, day",
	 4},
};

const struct rum_db_stmt_set rum_store_usage_statements = RUM_DB_STMT_SET(rum_store_usage_stmts);

int rum_store_usage_step(struct rum_db_txn *txn, int lag_s, int chunk,
			 struct rum_store_usage_step *out)
{
	char l[16], w[16];
	const char *p[2] = {l, w};
	int rc;
	PGresult *res;

	memset(out, 0, sizeof(*out));
	rum_text_i64(l, sizeof(l), lag_s);
	rum_text_i64(w, sizeof(w), chunk);
	res = rum_db_exec(txn, "usage_step", 2, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	if (PQntuples(res) == 1) {
		out->skipped = PQgetvalue(res, 0, 0)[0] == 't';
		out->caught_up = PQgetvalue(res, 0, 1)[0] == 't';
		out->taken = strtoll(PQgetvalue(res, 0, 2), NULL, 10);
		snprintf(out->done_until, sizeof(out->done_until), "%s", PQgetvalue(res, 0, 3));
	}
	PQclear(res);
	return 0;
}

int rum_store_usage_as_of(struct rum_db_txn *txn, char out[40])
{
	int rc;
	PGresult *res = rum_db_exec(txn, "usage_as_of", 0, NULL, NULL, NULL, 0, &rc);

	out[0] = '\0';
	if (!res)
		return rc;
	if (PQntuples(res) == 1)
		snprintf(out, 40, "%s", PQgetvalue(res, 0, 0));
	PQclear(res);
	return 0;
}

int rum_store_usage_summary(struct rum_db_txn *txn, int64_t tenant_id,
			    void (*cb)(void *arg, const struct rum_store_usage_tag *t), void *arg)
{
	char t[24];
	const char *p[1] = {t};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "usage_summary", 1, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_usage_tag u = {PQgetvalue(res, i, 0),
						strtoll(PQgetvalue(res, i, 1), NULL, 10),
						strtoll(PQgetvalue(res, i, 2), NULL, 10),
						strtoll(PQgetvalue(res, i, 3), NULL, 10),
						PQgetvalue(res, i, 4)};

		cb(arg, &u);
	}
	PQclear(res);
	return 0;
}

int rum_store_usage_days(struct rum_db_txn *txn, int64_t tenant_id, const char *tag,
			 const char *from, const char *to,
			 void (*cb)(void *arg, const struct rum_store_usage_day *d), void *arg)
{
	char t[24];
	const char *p[4] = {t, tag, from, to};
	int rc;
	PGresult *res;

	rum_text_i64(t, sizeof(t), tenant_id);
	res = rum_db_exec(txn, "usage_days", 4, p, NULL, NULL, 0, &rc);
	if (!res)
		return rc;
	for (int i = 0; i < PQntuples(res); i++) {
		struct rum_store_usage_day d = {PQgetvalue(res, i, 0), PQgetvalue(res, i, 1),
						strtoll(PQgetvalue(res, i, 2), NULL, 10),
						strtoll(PQgetvalue(res, i, 3), NULL, 10)};

		cb(arg, &d);
	}
	PQclear(res);
	return 0;
}
