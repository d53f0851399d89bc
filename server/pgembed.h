/* The embedded PostgreSQL cluster: when no database_url is configured, rumd
 * keeps a private cluster under data_dir (socket only, no TCP), creating it on
 * first start. When rumd runs as root the cluster runs as the unprivileged
 * `postgres` user (or `nobody`), since PostgreSQL refuses to run as root. */
#ifndef RUM_SERVER_PGEMBED_H
#define RUM_SERVER_PGEMBED_H

#include <stdbool.h>
#include <stddef.h>

struct rum_pgembed;

/* Makes sure the cluster exists and runs, and that its database `rumd`
 * exists; *url gets a libpq connection string for it (caller frees).
 * Reuses a cluster that is already running; with `own` (rumd serve) the
 * cluster is stopped at the end either way, so that one left behind by a
 * crash does not run on unowned; without it (CLI verbs run beside a server)
 * only a cluster this call started is stopped.
 * Errors: RUM_EIO (initdb or pg_ctl failed: see data_dir/postgresql.log),
 * RUM_ENOTFOUND (no PostgreSQL server binaries found). */
int rum_pgembed_start(struct rum_pgembed **out, char **url, const char *data_dir,
		      const char *bindir, int timeout_ms, bool own);

/* The directory of PostgreSQL's programs that holds program (pg_dump,
 * pg_restore): configured (pg_bindir) when set, else the newest
 * /usr/lib/postgresql/<N>/bin holding it. Errors: RUM_ENOTFOUND. */
int rum_pgembed_bindir(char *out, size_t len, const char *configured, const char *program);

/* Stops the cluster if this process started it; frees. Accepts NULL. */
void rum_pgembed_stop(struct rum_pgembed *pg);

#endif
