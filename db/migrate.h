/* Forward-only schema migrations, compiled into the binary from
 * db/migrations/NNNN_name.sql (cmake/embed_sql.cmake). */
#ifndef RUM_DB_MIGRATE_H
#define RUM_DB_MIGRATE_H

struct rum_migration {
	int version;
	const char *name;
	const char *sql;
};

extern const struct rum_migration rum_migrations[];
extern const unsigned rum_migrations_count;

/* Applies every pending migration, each in its own transaction, under a
 * session advisory lock so that several nodes may start at once; then makes
 * sure the default tenant exists. *applied gets how many ran.
 * Errors: RUM_EUNAVAIL (database unreachable), RUM_EINTERNAL (a migration
 * failed: message names it), RUM_ECONFLICT (database is newer than this
 * binary). */
int rum_migrate_run(const char *url, int timeout_ms, const char *default_tenant, int *applied);

/* The newest compiled-in migration version. */
int rum_migrate_newest(void);

/* 0 when the schema version equals the newest compiled-in migration;
 * RUM_ECONFLICT when behind or ahead; RUM_EUNAVAIL when unreachable. */
int rum_migrate_check(const char *url, int timeout_ms);

#endif
