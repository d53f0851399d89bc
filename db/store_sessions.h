/* Storage of the admin console's local users (only a scrypt hash of their
 * password) and of browser sessions (only the SHA-256 of their secret).
 *
 * All functions run inside a synchronous transaction (rum_db_transact) and
 * return 0 or a negative RUM_E* code with the thread's error message set. */
#ifndef RUM_DB_STORE_SESSIONS_H
#define RUM_DB_STORE_SESSIONS_H

#include "db/db.h"

#include <stdbool.h>
#include <stdint.h>

/* A new user (tenant_id 0: every tenant). A name taken already violates
 * the unique constraint (RUM_EINVAL): look the name up first. */
int rum_store_user_insert(struct rum_db_txn *txn, const char *name, const char *password_hash,
			  const char *role, int64_t tenant_id, int64_t *id);

/* A user as stored, for signing in. */
struct rum_store_user {
	int64_t id;
	char password_hash[200];
	char role[16];
	int64_t tenant_id; /* 0: every tenant */
	bool disabled;
};
/* RUM_ENOTFOUND (no message) when no user has that name. */
int rum_store_user_get(struct rum_db_txn *txn, const char *name, struct rum_store_user *out);

/* Users for listing; strings valid during the callback ("" when unset). */
struct rum_store_user_row {
	int64_t id;
	const char *name, *role, *tenant, *created_at, *password_at, *disabled_at;
	int64_t sessions; /* open now */
};
int rum_store_user_list(struct rum_db_txn *txn,
			void (*cb)(void *arg, const struct rum_store_user_row *u), void *arg);

/* Sets a user's password hash (NULL: keeps it) and disabled state (-1:
 * keeps it), and ends the user's open sessions. RUM_ENOTFOUND (no message). */
int rum_store_user_update(struct rum_db_txn *txn, const char *name, const char *password_hash,
			  int disabled);

/* A new session of a token or a user (the other 0), ending max_s seconds
 * from now; *id its row, expires_at (40 bytes) when it ends at the latest. */
int rum_store_session_insert(struct rum_db_txn *txn, const char *secret_hash, const char *csrf,
			     int64_t token_id, int64_t user_id, int max_s, const char *address,
			     int64_t *id, char *expires_at);

/* A session as its secret finds it, with who it acts as now: the role and
 * tenant of its token or user as they are (a revoked token or a disabled
 * user makes it invalid at once). */
struct rum_store_session {
	int64_t id, token_id, user_id;
	char csrf[65];
	char role[16];
	int64_t tenant_id; /* 0: every tenant */
	char who[72];      /* the token's display prefix, or the user's name */
	char expires_at[40];
	bool valid; /* open, not expired, not idle past idle_s */
	bool stale; /* last seen over a minute ago: worth touching */
};
/* RUM_ENOTFOUND (no message) when no session has that secret. */
int rum_store_session_find(struct rum_db_txn *txn, const char *secret_hash, int idle_s,
			   struct rum_store_session *out);

/* Marks a session seen now. */
int rum_store_session_touch(struct rum_db_txn *txn, int64_t id);

/* Ends a session (ending twice keeps the first time). */
int rum_store_session_end(struct rum_db_txn *txn, int64_t id);

#endif
