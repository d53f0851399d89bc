/* rumd's PostgreSQL access, the one way to the database: a pool of worker
 * threads, each owning one connection on which every statement of every
 * store file is prepared once.
 * - Batch workers run units of work submitted from any thread; concurrent
 *   units are committed together in one transaction (group commit): this is
 *   where the push path's durable throughput comes from, with
 *   synchronous_commit left on.
 * - Call workers run synchronous calls (admin requests, exports, imports,
 *   CLI verbs, collector steps) on connections of their own, so that a long
 *   export never holds up device batches and no caller opens a connection.
 *
 * The only module that includes libpq (with the store_*.c files beside it).
 * Only domain/ includes db/ headers; nothing outside db/ sees SQL or a
 * connection. */
#ifndef RUM_DB_H
#define RUM_DB_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_db;     /* the pool and its workers */
struct rum_db_txn; /* an open transaction, valid only inside a work's run() */

struct rum_db_options {
	const char *url;          /* libpq URI or keyword string */
	int workers;              /* batch connections / worker threads, >= 1 */
	int call_workers;         /* call connections / worker threads, >= 1 */
	int batch_max;            /* units per transaction at most */
	int timeout_ms;           /* connect timeout */
	int statement_timeout_ms; /* per statement and lock wait, 0 = none */
	int queue_max;            /* queued units at most (rum_db_submit refuses more) */
};

/* A unit of work. Units that arrive together are committed in one
 * transaction whose statements are pipelined: run() is called once to send
 * its statements and once more to read their results, so it must issue the
 * same statements in the same order each time whatever the results, and may
 * only look at outputs when rum_db_txn_has_results() says so. It may be
 * called again for a retried batch, so it resets what it sets.
 * prepare(), optional, runs first on its own (each statement committing by
 * itself): lookups and creations the batch depends on, such as a tenant id.
 * done() is called exactly once, from a worker thread, after the batch
 * committed (rc = 0) or failed for good (rc < 0: RUM_EUNAVAIL when the
 * database is unreachable, or the unit's own error), errmsg describing it. */
struct rum_db_work;

/* Work that several units of a batch can do in one statement (one
 * multi-row INSERT rather than one per unit). After every unit's run(), a
 * group's run() is called with the units of the batch that name it, in
 * batch order, in both phases like a unit's run(). A unit asks
 * rum_db_txn_grouped() whether its group will do that work for it. When a
 * group statement fails, the batch is run again ungrouped, so that the unit
 * at fault is found as with any unit's own statement. */
struct rum_db_group {
	int (*run)(struct rum_db_txn *txn, struct rum_db_work **units, size_t n);
};

struct rum_db_work {
	int (*prepare)(struct rum_db_txn *txn, void *arg);
	int (*run)(struct rum_db_txn *txn, void *arg);
	void (*done)(void *arg, int rc, const char *errmsg);
	void *arg;
	/* Units of a batch run in the order of this key (NULL first): units that
	 * lock the same rows (a device's) then lock them in the same order in
	 * every batch, so concurrent batches do not deadlock. May be NULL. */
	const char *order_key;
	const struct rum_db_group *group; /* may be NULL */
	struct rum_db_work *next;         /* owned by the queue */
	unsigned sent;                    /* owned by the batch runner */
};

/* True when statement outputs are available to run() (not while sending). */
bool rum_db_txn_has_results(const struct rum_db_txn *txn);

/* True when the unit's group will run after it in this transaction (false
 * in CLI runs and in a batch retried ungrouped). */
bool rum_db_txn_grouped(const struct rum_db_txn *txn);

/* Starts the workers. Does not need the database to be reachable: workers
 * connect on demand and reconnect after failures.
 * Errors: RUM_EINVAL for bad options. */
int rum_db_open(struct rum_db **out, const struct rum_db_options *opts);

/* Finishes queued work (failing what cannot run), stops workers, closes
 * connections. Accepts NULL. */
void rum_db_close(struct rum_db *db);

/* Queues work; never blocks on the database. The caller keeps w alive until
 * done() has been called. Error RUM_EUNAVAIL (done() not called) when the
 * queue is full: the database is not keeping up. */
int rum_db_submit(struct rum_db *db, struct rum_db_work *w);

/* Runs fn on a call worker's connection, each statement committing by
 * itself, and waits for it: for steps that are one statement each (the pull
 * collector's). Returns fn's result, or RUM_EUNAVAIL (database down, queue
 * full, pool stopping), with the thread's message set. */
int rum_db_call(struct rum_db *db, int (*fn)(struct rum_db_txn *txn, void *arg), void *arg);

/* Runs fn in one transaction on a call worker's connection and waits for
 * it: committed when fn returns 0, rolled back otherwise (fn's error and
 * message are returned). No statement timeout applies: exports and imports
 * of large tenants take as long as they take. */
int rum_db_transact(struct rum_db *db, int (*fn)(struct rum_db_txn *txn, void *arg), void *arg);

/* Lets the call workers connect now rather than at their first call (once
 * the schema is known to be there), so that an admin request finds its
 * connection open. */
void rum_db_warm(struct rum_db *db);

/* Checks a connection URL quickly: 0 when reachable, RUM_EUNAVAIL if not. */
int rum_db_ping(const char *url, int timeout_ms);

/* 0 when url is a database name or parses as libpq connection info (URI or
 * keyword=value); RUM_EINVAL otherwise, with a message that never quotes
 * the string (it may hold a password). */
int rum_db_url_check(const char *url);

/* url as keyword='value' settings, parsed by libpq, with the password
 * (wherever it was given) as ****; never the string itself when it does not
 * parse. */
void rum_db_url_masked(const char *url, char *out, size_t size);

/* Creates database `name` through `admin_url` unless it exists (for the
 * embedded cluster). Errors: RUM_EUNAVAIL, RUM_EINTERNAL. */
int rum_db_create_database(const char *admin_url, const char *name, int timeout_ms);

/* What a database holds, for backup and restore. */
struct rum_db_inspection {
	char database[128];      /* current_database() */
	char server_version[64]; /* server_version, e.g. "15.8" */
	int schema_version;      /* newest rumd migration applied; 0: no rumd schema */
	int64_t tables;          /* tables outside PostgreSQL's own schemas */
	int64_t reports;         /* rows of rum_reports (0 without the schema) */
	int64_t other_sessions;  /* client sessions on this database besides ours */
};

/* Looks at the database of url on a connection of its own.
 * Errors: RUM_EUNAVAIL, RUM_EINTERNAL. */
int rum_db_inspect(const char *url, int timeout_ms, struct rum_db_inspection *out);

/* url's settings as the environment of a libpq program (pg_dump,
 * pg_restore): a NULL-terminated array of "PGHOST=..." strings, so that
 * nothing of it, the password least, shows on an argument list. Settings
 * that have no environment variable are left out (TCP keepalives); *out is
 * freed with rum_db_url_env_free, which wipes it. Errors: RUM_EINVAL. */
int rum_db_url_env(char ***out, const char *url);
void rum_db_url_env_free(char **env);

/* Statistics for metrics and logs. */
struct rum_db_stats {
	uint64_t transactions;
	uint64_t units;
	uint64_t failures;
	uint64_t queued;
};
void rum_db_stats(struct rum_db *db, struct rum_db_stats *out);

#endif
