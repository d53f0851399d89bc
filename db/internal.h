/* Private to db/: the libpq connection behind a transaction, prepared
 * statements and SQLSTATE mapping. */
#ifndef RUM_DB_INTERNAL_H
#define RUM_DB_INTERNAL_H

#include "db.h"

#include <libpq-fe.h>
#include <stdbool.h>

struct rum_db_txn {
	PGconn *conn;
	bool broken; /* the connection failed: the batch cannot be retried on it */
};

/* A named, parameterised statement, prepared once per connection. */
struct rum_db_stmt {
	const char *name;
	const char *sql;
	int nparams;
};

extern const struct rum_db_stmt rum_db_statements[];
extern const unsigned rum_db_statements_count;

/* Opens a connection (connect_timeout from timeout_ms) and prepares every
 * statement. Errors: RUM_EUNAVAIL, RUM_EINTERNAL. */
int rum_db_connect(PGconn **out, const char *url, int timeout_ms, bool prepare);

/* Maps a failed result (or a NULL one) to a RUM_E* code and sets the
 * message "<what>: <server message>". Marks txn broken when the connection
 * is gone. Clears res. */
int rum_db_fail(struct rum_db_txn *txn, PGresult *res, const char *what);

/* Executes a prepared statement with text parameters (lengths/formats may be
 * NULL for all-text); returns the result when its status is OK or TUPLES_OK,
 * else NULL with the error mapped by rum_db_fail into *rc. */
PGresult *rum_db_exec(struct rum_db_txn *txn, const char *stmt, int nparams,
		      const char *const *values, const int *lengths, const int *formats,
		      int result_format, int *rc);

/* Runs a plain command (BEGIN, COMMIT, ROLLBACK): 0 or an error code. */
int rum_db_command(struct rum_db_txn *txn, const char *sql);

#endif
