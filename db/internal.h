/* Private to db/: the libpq connection behind a transaction, prepared
 * statements and SQLSTATE mapping. */
#ifndef RUM_DB_INTERNAL_H
#define RUM_DB_INTERNAL_H

#include "db/db.h"

#include <libpq-fe.h>
#include <stdbool.h>

/* How statements run inside a transaction. A unit of work's run() is called
 * once per phase with the same inputs, so the same code sends statements
 * (SEND) and then reads their results (RECV) when batches are pipelined;
 * SYNC runs each statement at once (CLI verbs, preparation steps). */
enum rum_db_phase { RUM_DB_SYNC = 0, RUM_DB_SEND, RUM_DB_RECV };

struct rum_db_txn {
	PGconn *conn;
	enum rum_db_phase phase;
	bool broken;    /* the connection failed or reached a read-only server (a
			 * standby): the batch cannot be retried on it */
	unsigned sent;  /* SEND: statements this unit queued */
	unsigned taken; /* RECV: results this unit consumed */
	bool grouped;   /* units' groups run after them (struct rum_db_group) */
};

/* A named, parameterised statement, prepared once per connection. */
struct rum_db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

/* The statements of one store_*.c file. */
struct rum_db_stmt_set {
	const struct rum_db_stmt *stmts;
	unsigned count;
};
#define RUM_DB_STMT_SET(array)                          \
	{                                               \
		array, sizeof(array) / sizeof(array[0]) \
	}

/* Every store file's statements; conn.c prepares them all, once, on each
 * connection it opens. A new store file adds its set here and to conn.c. */
extern const struct rum_db_stmt_set rum_store_push_statements;      /* store_push.c */
extern const struct rum_db_stmt_set rum_store_tenants_statements;   /* store_tenants.c */
extern const struct rum_db_stmt_set rum_store_captures_statements;  /* store_captures.c */
extern const struct rum_db_stmt_set rum_store_collector_statements; /* store_collector.c */
extern const struct rum_db_stmt_set rum_store_tokens_statements;    /* store_tokens.c */
extern const struct rum_db_stmt_set rum_store_export_statements;    /* store_export.c */
extern const struct rum_db_stmt_set rum_store_import_statements;    /* store_import.c */
extern const struct rum_db_stmt_set rum_store_acks_statements;      /* store_acks.c */
extern const struct rum_db_stmt_set rum_store_devices_statements;   /* store_devices.c */
extern const struct rum_db_stmt_set rum_store_usage_statements;     /* store_usage.c */
extern const struct rum_db_stmt_set rum_store_alerts_statements;    /* store_alerts.c */
extern const struct rum_db_stmt_set rum_store_sessions_statements;  /* store_sessions.c */
extern const struct rum_db_stmt_set rum_store_retention_statements; /* store_retention.c */
extern const struct rum_db_stmt_set rum_store_upstreams_statements; /* store_upstreams.c */
extern const struct rum_db_stmt_set rum_store_sync_statements;      /* store_sync.c */

/* Opens a connection (connect_timeout from timeout_ms) and, with prepare,
 * prepares every statement of every store file (the one loop that does).
 * Errors: RUM_EUNAVAIL, RUM_EINTERNAL. */
int rum_db_connect(PGconn **out, const char *url, int timeout_ms, bool prepare);

/* Maps a failed result (or a NULL one) to a RUM_E* code and sets the
 * message "<what>: <server message>". Marks txn broken when the connection
 * is gone or the server is read-only (SQLSTATE 25006, RUM_EUNAVAIL: a
 * standby, so the caller drops the connection). Clears res. */
int rum_db_fail(struct rum_db_txn *txn, PGresult *res, const char *what);

/* Executes a prepared statement with text parameters (lengths/formats may be
 * NULL for all-text) according to txn->phase: SYNC runs it and returns its
 * result; SEND queues it and returns NULL with *rc = 0 (no result yet: the
 * caller must not use outputs); RECV returns the next pipelined result.
 * A failed statement gives NULL with the error mapped into *rc. */
PGresult *rum_db_exec(struct rum_db_txn *txn, const char *stmt, int nparams,
		      const char *const *values, const int *lengths, const int *formats,
		      int result_format, int *rc);

/* Reads the next pipelined result (one statement's, or a sync point). */
PGresult *rum_db_take(PGconn *conn);

/* For an ACK handed out as a file: reads the one row of `res` (binary
 * format: id as text, content as bytea) into *ack_id and a malloc'd
 * *content (caller frees), clears res, and records the delivery with the
 * prepared statement `delivered` (one parameter: the ACK id). On error
 * *content is NULL. */
int rum_db_ack_file_take(struct rum_db_txn *txn, PGresult *res, const char *delivered,
			 int64_t *ack_id, char **content, size_t *len);

/* Copies column col of the single row of res into a new NUL-terminated
 * buffer (*content, caller frees) and its length; *content is NULL when res
 * has not exactly one row or the value is NULL. */
void rum_db_copy_bytes(PGresult *res, int col, char **content, size_t *len);

/* The same for row `row` of a result of any number of rows. */
void rum_db_copy_value(PGresult *res, int row, int col, char **content, size_t *len);

/* Reads the single int8 of a one-row text result into *out and clears res;
 * RUM_ENOTFOUND (no message set) when there is no row or it is NULL. */
int rum_db_one_id(PGresult *res, int64_t *out);

/* Runs a plain command (BEGIN, COMMIT, ROLLBACK): 0 or an error code. */
int rum_db_command(struct rum_db_txn *txn, const char *sql);

#endif
