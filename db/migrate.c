#include "db/migrate.h"

#include "db/internal.h"
#include "lib/err.h"
#include "lib/log.h"

#include <stdio.h>
#include <stdlib.h>

/* Any fixed number: the advisory lock all rumd nodes take while migrating. */
#define RUM_MIGRATE_LOCK_KEY "727563640001"

static int rum_migrate_exec(struct rum_db_txn *txn, const char *sql, const char *what)
{
	PGresult *res = PQexec(txn->conn, sql);
	ExecStatusType st = PQresultStatus(res);

	if (st == PGRES_COMMAND_OK || st == PGRES_TUPLES_OK) {
		PQclear(res);
		return 0;
	}
	return rum_db_fail(txn, res, what);
}

static int rum_migrate_current(struct rum_db_txn *txn, int *version)
{
	PGresult *res = PQexec(txn->conn,
			       "SELECT coalesce(max(version), 0) FROM rum_schema_migrations");

	if (PQresultStatus(res) != PGRES_TUPLES_OK)
		return rum_db_fail(txn, res, "reading schema version");
	*version = (int)strtol(PQgetvalue(res, 0, 0), NULL, 10);
	PQclear(res);
	return 0;
}

static int rum_migrate_record(struct rum_db_txn *txn, const struct rum_migration *m)
{
	char version[16];
	const char *params[2] = {version, m->name};
	PGresult *res;

	snprintf(version, sizeof(version), "%d", m->version);
	res = PQexecParams(txn->conn,
			   "INSERT INTO rum_schema_migrations (version, name) VALUES ($1, $2)", 2,
			   NULL, params, NULL, NULL, 0);
	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return rum_db_fail(txn, res, m->name);
	PQclear(res);
	return 0;
}

int rum_migrate_newest(void)
{
	int newest = 0;

	for (unsigned i = 0; i < rum_migrations_count; i++)
		if (rum_migrations[i].version > newest)
			newest = rum_migrations[i].version;
	return newest;
}

static int rum_migrate_default_tenant(struct rum_db_txn *txn, const char *name)
{
	const char *params[1] = {name};
	PGresult *res = PQexecParams(txn->conn,
				     "INSERT INTO tenants (name) VALUES ($1) ON CONFLICT DO NOTHING",
				     1, NULL, params, NULL, NULL, 0);

	if (PQresultStatus(res) != PGRES_COMMAND_OK)
		return rum_db_fail(txn, res, "creating the default tenant");
	PQclear(res);
	return 0;
}

int rum_migrate_run(const char *url, int timeout_ms, const char *default_tenant, int *applied)
{
	struct rum_db_txn txn = {NULL, RUM_DB_SYNC, false, 0, 0, false};
	int rc, version = 0, newest = 0;

	*applied = 0;
	rc = rum_db_connect(&txn.conn, url, timeout_ms, false);
	if (rc != 0)
		return rc;
	newest = rum_migrate_newest();
	rc = rum_migrate_exec(&txn, "SET client_min_messages = warning", "session setup");
	if (rc == 0)
		rc = rum_migrate_exec(&txn, "SELECT pg_advisory_lock(" RUM_MIGRATE_LOCK_KEY ")",
				      "taking the migration lock");
	if (rc == 0)
		rc = rum_migrate_exec(&txn,
				      "CREATE TABLE IF NOT EXISTS rum_schema_migrations ("
				      " version integer PRIMARY KEY, name text NOT NULL,"
				      " applied_at timestamptz NOT NULL DEFAULT now())",
				      "creating rum_schema_migrations");
	if (rc == 0)
		rc = rum_migrate_current(&txn, &version);
	if (rc == 0 && version > newest)
		rc = rum_err_set(RUM_ECONFLICT,
				 "database schema version %d is newer than this "
				 "rumd (%d): upgrade rumd",
				 version, newest);
	for (unsigned i = 0; rc == 0 && i < rum_migrations_count; i++) {
		const struct rum_migration *m = &rum_migrations[i];
		if (m->version <= version)
			continue;
		rc = rum_migrate_exec(&txn, "BEGIN", "BEGIN");
		if (rc == 0)
			rc = rum_migrate_exec(&txn, m->sql, m->name);
		if (rc == 0)
			rc = rum_migrate_record(&txn, m);
		if (rc == 0)
			rc = rum_migrate_exec(&txn, "COMMIT", m->name);
		if (rc != 0) {
			char msg[512];

			snprintf(msg, sizeof(msg), "%s", rum_err_msg());
			if (!txn.broken)
				(void)rum_migrate_exec(&txn, "ROLLBACK", "ROLLBACK");
			rc = rum_err_set(rc == RUM_EUNAVAIL ? rc : RUM_EINTERNAL,
					 "migration %s failed: %s", m->name, msg);
			break;
		}
		rum_log_info("applied migration %s", m->name);
		(*applied)++;
	}
	if (rc == 0 && default_tenant && default_tenant[0])
		rc = rum_migrate_default_tenant(&txn, default_tenant);
	if (!txn.broken)
		PQclear(PQexec(txn.conn, "SELECT pg_advisory_unlock_all()"));
	PQfinish(txn.conn);
	return rc;
}

int rum_migrate_check(const char *url, int timeout_ms)
{
	struct rum_db_txn txn = {NULL, RUM_DB_SYNC, false, 0, 0, false};
	int rc, version = 0, newest = 0;

	rc = rum_db_connect(&txn.conn, url, timeout_ms, false);
	if (rc != 0)
		return rc;
	newest = rum_migrate_newest();
	rc = rum_migrate_current(&txn, &version);
	if (rc == 0 && version != newest)
		rc = rum_err_set(RUM_ECONFLICT, "schema version %d, this rumd needs %d", version,
				 newest);
	PQfinish(txn.conn);
	return rc;
}
