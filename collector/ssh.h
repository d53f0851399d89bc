/* SSH client for pull collection: the one rumd module that includes libssh2.
 * One TCP connection and SSH session per device: host-key check, password
 * or key authentication, a subsystem channel (NETCONF) and SCP transfers on
 * the same session. Every call is bounded by a deadline (CLOCK_MONOTONIC
 * milliseconds, rum_ssh_now_ms()) and by the per-read/write idle timeout, so
 * a stalled or silent peer costs at most that long and never blocks a worker
 * for good. Secrets passed in options are never logged. */
#ifndef RUM_COLLECTOR_SSH_H
#define RUM_COLLECTOR_SSH_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

struct rum_ssh;

struct rum_ssh_options {
	const char *host; /* name or address */
	int port;         /* 1..65535 */
	const char *username;
	const char *password;    /* password authentication when not NULL ("password",
				  * else "keyboard-interactive" answering every prompt) */
	const char *private_key; /* key authentication when not NULL: OpenSSH or PEM text,
				  * unencrypted; ed25519 and ECDSA work everywhere, RSA only
				  * where the device accepts ssh-rsa (SHA-1) signatures, the
				  * only ones libssh2 1.10 makes (IOS-XE does; OpenSSH >= 8.8
				  * by default does not: RUM_EAUTH). Tried before password. */
	size_t private_key_len;
	const char *known_host_key; /* "TYPE BASE64" (a known_hosts line without the host), NULL/""
				       = none */
	bool trust_on_first_use;    /* with no known key, accept the one presented */
	int connect_timeout_ms;     /* TCP connect and SSH handshake; <= 0: 10 s */
	int auth_timeout_ms;        /* user authentication; <= 0: 10 s */
	int io_timeout_ms;          /* longest silence tolerated in one read or write; <= 0: 30 s */
	int64_t deadline_ms;        /* absolute rum_ssh_now_ms() limit for everything; 0 = none */
	const volatile int *cancel; /* when set and non-zero, every wait ends within 200 ms
				     * with RUM_EUNAVAIL ("rumd is stopping"); may be NULL */
};

/* Milliseconds of CLOCK_MONOTONIC. */
int64_t rum_ssh_now_ms(void);

/* Connects, handshakes, checks the host key, authenticates (credentials are
 * sent only once the key passed). Name resolution is bounded by the
 * resolver's own timeouts, not by ours. *host_key (may be
 * NULL to not ask) gets the server's key as "TYPE BASE64" (malloc'd, caller
 * frees) whenever the handshake got that far, also on failure, so that a
 * first-use key can be stored and a changed one reported.
 * Errors: RUM_EUNAVAIL (resolve/connect/handshake failed), RUM_ETIMEDOUT,
 * RUM_ECONFLICT (host key differs from known_host_key: message shows both
 * fingerprints), RUM_EFORBIDDEN (no known key and trust_on_first_use off),
 * RUM_EAUTH (credentials refused), RUM_EINVAL (bad options). */
int rum_ssh_connect(struct rum_ssh **out, char **host_key, const struct rum_ssh_options *o);

/* Closes channels, disconnects, frees. Accepts NULL. */
void rum_ssh_free(struct rum_ssh *s);

/* SHA256 fingerprint "SHA256:..." (as ssh-keygen -l prints) of a "TYPE BASE64"
 * key, into out. Errors: RUM_EINVAL. */
int rum_ssh_fingerprint(char *out, size_t size, const char *host_key);

/* Opens the session's one subsystem channel (e.g. "netconf").
 * Errors: RUM_EIO (refused by the peer), RUM_ETIMEDOUT, RUM_EINVAL (already open). */
int rum_ssh_subsystem_open(struct rum_ssh *s, const char *name);

/* Writes all of data to the subsystem channel before deadline_ms.
 * Errors: RUM_EIO (channel closed), RUM_ETIMEDOUT. */
int rum_ssh_write(struct rum_ssh *s, const void *data, size_t len, int64_t deadline_ms);

/* Reads at most size bytes from the subsystem channel, waiting until some
 * arrive: returns the count (> 0), 0 at end of file (peer closed), or
 * RUM_EIO / RUM_ETIMEDOUT. */
ssize_t rum_ssh_read(struct rum_ssh *s, void *buf, size_t size, int64_t deadline_ms);

/* Copies a remote file to memory over SCP on this session (the subsystem
 * channel may stay open): *out malloc'd and NUL-terminated, caller frees.
 * Errors: RUM_EIO (the device refused the request: libssh2 1.10 drops the
 * remote scp's message, so a missing file is not told apart; or it failed
 * after the data: its message quoted), RUM_ETOOBIG (over max bytes, known
 * from the announced size before any data is read), RUM_ETIMEDOUT. */
int rum_ssh_scp_get(struct rum_ssh *s, const char *remote_path, size_t max, char **out,
		    size_t *out_len, int64_t deadline_ms);

/* Writes data to a remote file over SCP (mode 0644); returns once the
 * device's scp has acknowledged the data and exited with status 0.
 * Errors: RUM_EIO (refused: see rum_ssh_scp_get; failed after the data: the
 * device's message quoted), RUM_ETIMEDOUT. */
int rum_ssh_scp_put(struct rum_ssh *s, const char *remote_path, const void *data, size_t len,
		    int64_t deadline_ms);

#endif
