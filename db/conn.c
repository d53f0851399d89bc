#include "db/internal.h"

#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static const struct rum_db_stmt_set *const rum_db_stmt_sets[] = {
	&rum_store_push_statements,      &rum_store_tenants_statements,
	&rum_store_captures_statements,  &rum_store_collector_statements,
	&rum_store_tokens_statements,    &rum_store_export_statements,
	&rum_store_import_statements,    &rum_store_acks_statements,
	&rum_store_devices_statements,   &rum_store_usage_statements,
	&rum_store_alerts_statements,    &rum_store_sessions_statements,
	&rum_store_retention_statements, &rum_store_upstreams_statements,
	&rum_store_sync_statements,
};

/* Prepares every statement on a new connection. Names are unique across
 * the sets: PostgreSQL refuses a second statement of the same name. */
static int rum_db_prepare_all(PGconn *conn)
{
	for (size_t k = 0; k < sizeof(rum_db_stmt_sets) / sizeof(rum_db_stmt_sets[0]); k++) {
		for (unsigned i = 0; i < rum_db_stmt_sets[k]->count; i++) {
			const struct rum_db_stmt *s = &rum_db_stmt_sets[k]->stmts[i];
			PGresult *res = PQprepare(conn, s->name, s->sql, s->nparams, NULL);

			if (PQresultStatus(res) != PGRES_COMMAND_OK) {
				struct rum_db_txn txn = {conn, RUM_DB_SYNC, false, 0, 0, false};

				return rum_db_fail(&txn, res, s->name);
			}
			PQclear(res);
		}
	}
	return 0;
}

/* A bare word is a database name (libpq's expand_dbname); anything with
 * '=' or a scheme is connection info, parsed by libpq itself. */
static bool rum_db_url_is_conninfo(const char *url)
{
	return strchr(url, '=') || strstr(url, "://");
}

int rum_db_url_check(const char *url)
{
	PQconninfoOption *opts;
	char *err = NULL;

	if (!rum_db_url_is_conninfo(url))
		return 0;
	opts = PQconninfoParse(url, &err);
	/* libpq's message may quote the string, password included: not kept. */
	PQfreemem(err);
	if (!opts)
		return rum_err_set(RUM_EINVAL,
				   "database_url is not a valid libpq connection string "
				   "(URI or keyword=value; not shown, as it may hold a "
				   "password)");
	PQconninfoFree(opts);
	return 0;
}

void rum_db_url_masked(const char *url, char *out, size_t size)
{
	PQconninfoOption *opts;
	size_t n = 0;

	out[0] = '\0';
	if (!rum_db_url_is_conninfo(url)) {
		snprintf(out, size, "%s", url);
		return;
	}
	opts = PQconninfoParse(url, NULL);
	if (!opts) {
		snprintf(out, size, "(not a valid connection string; not shown)");
		return;
	}
	/* Every setting as keyword='value', the password (wherever it was
	 * given: user info, query string, keyword) as ****. */
	for (PQconninfoOption *o = opts; o->keyword && n + 1 < size; o++) {
		const char *v = o->val;

		if (!v)
			continue;
		if (strcmp(o->keyword, "password") == 0)
			v = "****";
		n += (size_t)snprintf(out + n, size - n, "%s%s='", n ? " " : "", o->keyword);
		for (; *v && n + 3 < size; v++) {
			if (*v == '\'' || *v == '\\')
				out[n++] = '\\';
			out[n++] = *v;
		}
		if (n + 1 < size)
			out[n++] = '\'';
		out[n < size ? n : size - 1] = '\0';
	}
	PQconninfoFree(opts);
}

int rum_db_connect(PGconn **out, const char *url, int timeout_ms, bool prepare)
{
	char timeout[32];
	/* TCP keepalives: a database host that vanishes (no reset) is noticed
	 * in about a minute instead of the kernel's two hours. */
	const char *keys[] = {"dbname",           "connect_timeout",
			      "application_name", "keepalives",
			      "keepalives_idle",  "keepalives_interval",
			      "keepalives_count", NULL};
	const char *vals[] = {url, timeout, "rumd", "1", "30", "10", "3", NULL};
	PGconn *conn;

	if (rum_db_url_check(url) != 0)
		return RUM_EINVAL;
	snprintf(timeout, sizeof(timeout), "%d", timeout_ms < 1000 ? 1 : timeout_ms / 1000);
	/* expand_dbname=1: the URL is expanded; our timeout and name come after it and win. */
	conn = PQconnectdbParams(keys, vals, 1);
	if (!conn || PQstatus(conn) != CONNECTION_OK) {
		char msg[256];

		snprintf(msg, sizeof(msg), "%s", conn ? PQerrorMessage(conn) : "out of memory");
		msg[strcspn(msg, "\n")] = '\0';
		PQfinish(conn);
		return rum_err_set(RUM_EUNAVAIL, "database unreachable: %s", msg);
	}
	PQsetErrorVerbosity(conn, PQERRORS_TERSE);
	if (prepare) {
		/* rumd's statements read a page or write a batch: starting
		 * parallel workers costs more than it saves (a generic plan of
		 * a deep device page took 50 ms in a Gather instead of 1 ms). */
		PGresult *set = PQexec(conn, "SET max_parallel_workers_per_gather = 0");
		int rc = PQresultStatus(set) == PGRES_COMMAND_OK
				 ? 0
				 : rum_err_set(RUM_EUNAVAIL, "database: %s", PQerrorMessage(conn));

		PQclear(set);
		if (rc == 0)
			rc = rum_db_prepare_all(conn);

		if (rc != 0) {
			PQfinish(conn);
			return rc;
		}
	}
	*out = conn;
	return 0;
}

int rum_db_fail(struct rum_db_txn *txn, PGresult *res, const char *what)
{
	const char *field = res ? PQresultErrorField(res, PG_DIAG_SQLSTATE) : NULL;
	char msg[256], sqlstate[8] = "";
	const char *state = NULL;
	int rc;

	/* Both strings live in res: copy them before it is cleared below. */
	if (field) {
		snprintf(sqlstate, sizeof(sqlstate), "%s", field);
		state = sqlstate;
	}

	snprintf(msg, sizeof(msg), "%s",
		 res && PQresultErrorMessage(res)[0] ? PQresultErrorMessage(res)
						     : PQerrorMessage(txn->conn));
	msg[strcspn(msg, "\n")] = '\0';
	if (PQstatus(txn->conn) != CONNECTION_OK) {
		txn->broken = true;
		rc = RUM_EUNAVAIL;
	} else if (!state) {
		rc = RUM_EINTERNAL;
	} else if (strcmp(state, "25006") == 0) {
		/* read-only transaction: this server is a standby (reached without
		 * target_session_attrs=read-write, or before a failover). Nothing
		 * is written here; the connection is dropped so that the next
		 * attempt looks for the primary again, and devices retry. */
		txn->broken = true;
		rc = RUM_EUNAVAIL;
	} else if (strncmp(state, "08", 2) == 0 || strncmp(state, "57P", 3) == 0 ||
		   strncmp(state, "53", 2) == 0 || strcmp(state, "57014") == 0 ||
		   strcmp(state, "55P03") == 0) {
		/* connection exceptions, shutdown, resources, statement or lock
		 * timeout: the database is not answering well enough now */
		rc = RUM_EUNAVAIL;
	} else if (strcmp(state, "40001") == 0 || strcmp(state, "40P01") == 0) {
		/* serialisation failure, deadlock: worth running again */
		rc = RUM_ECONFLICT;
	} else if (strncmp(state, "22", 2) == 0 || strncmp(state, "23", 2) == 0) {
		rc = RUM_EINVAL; /* data exceptions, constraint violations */
	} else {
		rc = RUM_EINTERNAL;
	}
	PQclear(res);
	return rum_err_set(rc, "%s: %s%s%s", what, msg, state ? " SQLSTATE " : "",
			   state ? state : "");
}

PGresult *rum_db_take(PGconn *conn)
{
	PGresult *res = PQgetResult(conn), *extra;

	/* A statement's results end with a NULL; a sync point has none. */
	if (res && PQresultStatus(res) != PGRES_PIPELINE_SYNC)
		while ((extra = PQgetResult(conn)) != NULL)
			PQclear(extra);
	return res;
}

PGresult *rum_db_exec(struct rum_db_txn *txn, const char *stmt, int nparams,
		      const char *const *values, const int *lengths, const int *formats,
		      int result_format, int *rc)
{
	PGresult *res;
	ExecStatusType st;

	*rc = 0;
	switch (txn->phase) {
	case RUM_DB_SEND:
		if (!PQsendQueryPrepared(txn->conn, stmt, nparams, values, lengths, formats,
					 result_format)) {
			*rc = rum_db_fail(txn, NULL, stmt);
			return NULL;
		}
		txn->sent++;
		return NULL;
	case RUM_DB_RECV:
		res = rum_db_take(txn->conn);
		txn->taken++;
		if (PQresultStatus(res) == PGRES_PIPELINE_ABORTED) {
			PQclear(res);
			*rc = rum_err_set(RUM_ECONFLICT, "%s: skipped after an earlier error",
					  stmt);
			return NULL;
		}
		break;
	default:
		res = PQexecPrepared(txn->conn, stmt, nparams, values, lengths, formats,
				     result_format);
	}
	st = PQresultStatus(res);
	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK)
		return res;
	*rc = rum_db_fail(txn, res, stmt);
	return NULL;
}

int rum_db_command(struct rum_db_txn *txn, const char *sql)
{
	PGresult *res = PQexec(txn->conn, sql);

	if (PQresultStatus(res) == PGRES_COMMAND_OK) {
		PQclear(res);
		return 0;
	}
	return rum_db_fail(txn, res, sql);
}

int rum_db_create_database(const char *admin_url, const char *name, int timeout_ms)
{
	struct rum_db_txn txn = {NULL, RUM_DB_SYNC, false, 0, 0, false};
	const char *p[1] = {name};
	PGresult *res;
	char *ident, sql[256];
	int rc = rum_db_connect(&txn.conn, admin_url, timeout_ms, false);

	if (rc != 0)
		return rc;
	res = PQexecParams(txn.conn, "SELECT 1 FROM pg_database WHERE datname = $1", 1, NULL, p,
			   NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = rum_db_fail(&txn, res, "looking up the database");
	} else if (PQntuples(res) == 0) {
		PQclear(res);
		/* CREATE DATABASE takes no parameters: quote the identifier. */
		ident = PQescapeIdentifier(txn.conn, name, strlen(name));
		snprintf(sql, sizeof(sql), "CREATE DATABASE %s ENCODING 'UTF8'", ident);
		PQfreemem(ident);
		res = PQexec(txn.conn, sql);
		if (PQresultStatus(res) != PGRES_COMMAND_OK)
			rc = rum_db_fail(&txn, res, "creating the database");
		else
			PQclear(res);
	} else {
		PQclear(res);
	}
	PQfinish(txn.conn);
	return rc;
}

/* One value of the inspection query's single row. */
static int64_t rum_db_inspect_int(PGresult *res, int col)
{
	return PQgetisnull(res, 0, col) ? 0 : strtoll(PQgetvalue(res, 0, col), NULL, 10);
}

int rum_db_inspect(const char *url, int timeout_ms, struct rum_db_inspection *out)
{
	struct rum_db_txn txn = {NULL, RUM_DB_SYNC, false, 0, 0, false};
	PGresult *res;
	int rc = rum_db_connect(&txn.conn, url, timeout_ms, false);

	memset(out, 0, sizeof(*out));
	if (rc != 0)
		return rc;
	res = PQexec(txn.conn,
		     "SELECT current_database(), current_setting('server_version'),"
		     " (SELECT count(*) FROM pg_stat_activity WHERE datname = current_database()"
		     "  AND pid <> pg_backend_pid() AND backend_type = 'client backend'),"
		     " (SELECT count(*) FROM pg_class c JOIN pg_namespace n ON n.oid = c.relnamespace"
		     "  WHERE c.relkind IN ('r', 'p') AND n.nspname <> 'information_schema'"
		     "  AND n.nspname NOT LIKE 'pg\\_%'),"
		     " to_regclass('rum_schema_migrations') IS NOT NULL,"
		     " to_regclass('rum_reports') IS NOT NULL");
	if (PQresultStatus(res) != PGRES_TUPLES_OK) {
		rc = rum_db_fail(&txn, res, "inspecting the database");
		goto out;
	}
	snprintf(out->database, sizeof(out->database), "%s", PQgetvalue(res, 0, 0));
	snprintf(out->server_version, sizeof(out->server_version), "%s", PQgetvalue(res, 0, 1));
	out->other_sessions = rum_db_inspect_int(res, 2);
	out->tables = rum_db_inspect_int(res, 3);
	if (strcmp(PQgetvalue(res, 0, 4), "t") == 0) {
		bool reports = strcmp(PQgetvalue(res, 0, 5), "t") == 0;

		PQclear(res);
		res = PQexec(txn.conn, reports ? "SELECT (SELECT coalesce(max(version), 0) FROM "
						 "rum_schema_migrations), (SELECT count(*) FROM "
						 "rum_reports)"
					       : "SELECT coalesce(max(version), 0), 0 FROM "
						 "rum_schema_migrations");
		if (PQresultStatus(res) != PGRES_TUPLES_OK) {
			rc = rum_db_fail(&txn, res, "reading the schema version");
			goto out;
		}
		out->schema_version = (int)rum_db_inspect_int(res, 0);
		out->reports = rum_db_inspect_int(res, 1);
	}
	PQclear(res);
out:
	PQfinish(txn.conn);
	return rc;
}

static char *rum_db_env_entry(const char *name, const char *value)
{
	size_t n = strlen(name) + strlen(value) + 2;
	char *e = malloc(n);

	if (!e)
		abort();
	snprintf(e, n, "%s=%s", name, value);
	return e;
}

int rum_db_url_env(char ***out, const char *url)
{
	PQconninfoOption *opts;
	char **env;
	size_t n = 0, k = 0;

	*out = NULL;
	if (rum_db_url_check(url) != 0)
		return RUM_EINVAL;
	if (!rum_db_url_is_conninfo(url)) { /* a bare database name */
		env = calloc(2, sizeof(*env));
		if (!env)
			abort();
		env[0] = rum_db_env_entry("PGDATABASE", url);
		*out = env;
		return 0;
	}
	opts = PQconninfoParse(url, NULL);
	if (!opts)
		return rum_err_set(RUM_EINVAL, "database_url does not parse");
	for (PQconninfoOption *o = opts; o->keyword; o++)
		n++;
	env = calloc(n + 1, sizeof(*env));
	if (!env)
		abort();
	for (PQconninfoOption *o = opts; o->keyword; o++)
		if (o->val && o->envvar)
			env[k++] = rum_db_env_entry(o->envvar, o->val);
	PQconninfoFree(opts);
	*out = env;
	return 0;
}

void rum_db_url_env_free(char **env)
{
	if (!env)
		return;
	for (char **e = env; *e; e++) {
		memset(*e, 0, strlen(*e));
		free(*e);
	}
	free(env);
}

int rum_db_ack_file_take(struct rum_db_txn *txn, PGresult *res, const char *delivered,
			 int64_t *ack_id, char **content, size_t *len)
{
	char idtext[24];
	const char *q[1] = {idtext};
	int rc, n = PQgetlength(res, 0, 0);

	/* Binary results: text comes as its bytes, bytea as its bytes. */
	snprintf(idtext, sizeof(idtext), "%.*s", n < 23 ? n : 23, PQgetvalue(res, 0, 0));
	*ack_id = strtoll(idtext, NULL, 10);
	*len = (size_t)PQgetlength(res, 0, 1);
	*content = malloc(*len + 1);
	if (!*content)
		abort();
	memcpy(*content, PQgetvalue(res, 0, 1), *len);
	(*content)[*len] = '\0';
	PQclear(res);
	res = rum_db_exec(txn, delivered, 1, q, NULL, NULL, 0, &rc);
	PQclear(res);
	if (rc != 0) {
		free(*content);
		*content = NULL;
	}
	return rc;
}

void rum_db_copy_value(PGresult *res, int row, int col, char **content, size_t *len)
{
	size_t n;

	*content = NULL;
	*len = 0;
	if (row >= PQntuples(res) || PQgetisnull(res, row, col))
		return;
	n = (size_t)PQgetlength(res, row, col);
	*content = malloc(n + 1);
	if (!*content)
		abort();
	memcpy(*content, PQgetvalue(res, row, col), n);
	(*content)[n] = '\0';
	*len = n;
}

void rum_db_copy_bytes(PGresult *res, int col, char **content, size_t *len)
{
	*content = NULL;
	*len = 0;
	if (PQntuples(res) == 1)
		rum_db_copy_value(res, 0, col, content, len);
}

int rum_db_one_id(PGresult *res, int64_t *out)
{
	if (PQntuples(res) < 1 || PQgetisnull(res, 0, 0)) {
		PQclear(res);
		return RUM_ENOTFOUND;
	}
	*out = strtoll(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}
