/* SSH client over libssh2, see ssh.h. The socket is non-blocking and so is
 * the libssh2 session: every libssh2 call that would block returns
 * LIBSSH2_ERROR_EAGAIN, and we poll() the socket in the direction libssh2 is
 * waiting for, for no longer than the idle timeout and the deadlines. That
 * is what bounds a stalled device; libssh2's own blocking timeouts are not
 * used. After a timeout or a transport failure the session is marked broken:
 * libssh2 expects the interrupted call to be repeated, so nothing else may
 * run on it, and freeing it skips the polite disconnect. */
#include "collector/ssh.h"

#include <errno.h>
#include <fcntl.h>
#include <libssh2.h>
#include <netdb.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#define DEFAULT_CONNECT_MS 10000
#define DEFAULT_AUTH_MS 10000
#define DEFAULT_IO_MS 30000
#define CLOSE_BUDGET_MS 1000 /* polite channel close and disconnect, at most */
#define KEY_TYPE_MAX 64
#define QUOTE_MAX 200 /* bytes of a peer's message quoted in an error */
#define HOSTKEY_METHODS \
	"ssh-ed25519,ecdsa-sha2-nistp256,ecdsa-sha2-nistp384,ecdsa-sha2-nistp521,ssh-rsa,ssh-dss"

struct rum_ssh {
	int fd;
	LIBSSH2_SESSION *session;
	LIBSSH2_CHANNEL *channel; /* the subsystem channel, or NULL */
	int io_timeout_ms;
	int64_t deadline_ms;        /* the options' overall deadline, 0 = none */
	int broken;                 /* a call was interrupted: no further libssh2 calls */
	const volatile int *cancel; /* the options' stop flag, or NULL */
};

/* How often a wait looks at the stop flag. */
#define CANCEL_CHECK_MS 200

static pthread_once_t init_once = PTHREAD_ONCE_INIT;
static int init_rc;

/* libssh2_init is not thread-safe and must run before the first session. */
static void init_library(void)
{
	init_rc = libssh2_init(0);
}

int64_t rum_ssh_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* The earlier of two deadlines, 0 meaning none. */
static int64_t earlier(int64_t a, int64_t b)
{
	if (!a)
		return b;
	if (!b)
		return a;
	return a < b ? a : b;
}

/* libssh2's last error message for this session, quoted. */
static const char *last_error(struct rum_ssh *s, char *buf, size_t size)
{
	char *msg = NULL;
	int len = 0;

	libssh2_session_last_error(s->session, &msg, &len, 0);
	rum_text_quote(buf, size, msg ? msg : "", msg && len > 0 ? (size_t)len : 0, QUOTE_MAX);
	return buf;
}

/* A transport-level failure: the session cannot be used any more. */
static int broken(struct rum_ssh *s, int code)
{
	s->broken = 1;
	return code;
}

/* Polls fd for events until the sooner of the idle timeout and deadline.
 * Returns 0 when ready, RUM_ETIMEDOUT, or RUM_EIO. */
static int poll_fd(int fd, short events, int io_timeout_ms, int64_t deadline,
		   const volatile int *cancel, const char *what)
{
	struct pollfd p = {.fd = fd, .events = events};
	int64_t now = rum_ssh_now_ms(), limit = now + io_timeout_ms;
	int idle = 1, n;

	if (deadline && deadline < limit) {
		limit = deadline;
		idle = 0;
	}
	while (now < limit) {
		int64_t wait = limit - now;

		/* With a stop flag, wake up often enough to notice it. */
		if (cancel && wait > CANCEL_CHECK_MS)
			wait = CANCEL_CHECK_MS;
		n = poll(&p, 1, wait > INT32_MAX ? INT32_MAX : (int)wait);
		if (n > 0)
			return 0;
		if (n < 0 && errno != EINTR)
			return rum_err_set(RUM_EIO, "%s: poll: %s", what, strerror(errno));
		if (cancel && *cancel)
			return rum_err_set(RUM_EUNAVAIL, "%s: rumd is stopping", what);
		now = rum_ssh_now_ms();
	}
	if (idle)
		return rum_err_set(RUM_ETIMEDOUT, "%s: device silent for %d ms", what,
				   io_timeout_ms);
	return rum_err_set(RUM_ETIMEDOUT, "%s: timed out", what);
}

/* Waits for the socket in the direction libssh2 is blocked on. Marks the
 * session broken on failure (the interrupted call cannot be abandoned). */
static int wait_io(struct rum_ssh *s, int64_t deadline, const char *what)
{
	int dir = libssh2_session_block_directions(s->session);
	short events = 0;
	int rc;

	if (dir & LIBSSH2_SESSION_BLOCK_INBOUND)
		events |= POLLIN;
	if (dir & LIBSSH2_SESSION_BLOCK_OUTBOUND)
		events |= POLLOUT;
	if (!events)
		events = POLLIN;
	rc = poll_fd(s->fd, events, s->io_timeout_ms, earlier(deadline, s->deadline_ms), s->cancel,
		     what);
	return rc < 0 ? broken(s, rc) : 0;
}

/* ---- connection ---- */

static int connect_addr(int *out, const struct addrinfo *ai, int64_t deadline)
{
	int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
			ai->ai_protocol);
	int err = 0, rc;
	socklen_t len = sizeof(err);

	if (fd < 0)
		return -errno;
	if (connect(fd, ai->ai_addr, ai->ai_addrlen) < 0) {
		if (errno != EINPROGRESS) {
			err = errno;
			close(fd);
			return -err;
		}
		rc = poll_fd(fd, POLLOUT, (int)(deadline - rum_ssh_now_ms()) + 1, deadline, NULL,
			     "connect");
		if (rc < 0) {
			close(fd);
			return -ETIMEDOUT;
		}
		if (getsockopt(fd, SOL_SOCKET, SO_ERROR, &err, &len) < 0 || err) {
			close(fd);
			return -(err ? err : errno);
		}
	}
	*out = fd;
	return 0;
}

/* Resolves and connects (non-blocking connect, bounded by deadline); tries
 * each address in turn. Name resolution itself is bounded only by the
 * resolver's own timeouts: devices are normally configured by address. */
static int tcp_connect(int *fd, const char *host, int port, int64_t deadline)
{
	struct addrinfo hints = {.ai_socktype = SOCK_STREAM}, *res, *ai;
	char service[16];
	int rc, err = ECONNREFUSED;

	snprintf(service, sizeof(service), "%d", port);
	rc = getaddrinfo(host, service, &hints, &res);
	if (rc != 0)
		return rum_err_set(RUM_EUNAVAIL, "resolve %s: %s", host, gai_strerror(rc));
	for (ai = res; ai; ai = ai->ai_next) {
		rc = connect_addr(fd, ai, deadline);
		if (rc == 0)
			break;
		err = -rc;
		if (rum_ssh_now_ms() >= deadline)
			break;
	}
	freeaddrinfo(res);
	if (!ai && err == ETIMEDOUT)
		return rum_err_set(RUM_ETIMEDOUT, "connect %s:%d: timed out", host, port);
	if (!ai)
		return rum_err_set(RUM_EUNAVAIL, "connect %s:%d: %s", host, port, strerror(err));
	return 0;
}

/* ---- host keys ---- */

/* Splits "TYPE BASE64 [comment]" into its type and base64 text (pointers
 * into key, lengths out). */
static int split_key(const char *key, const char **type, size_t *type_len, const char **b64,
		     size_t *b64_len)
{
	const char *p = key;

	while (*p == ' ' || *p == '\t')
		p++;
	*type = p;
	*type_len = strcspn(p, " \t");
	p += *type_len;
	while (*p == ' ' || *p == '\t')
		p++;
	*b64 = p;
	*b64_len = strspn(p, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=");
	if (*type_len == 0 || *type_len >= KEY_TYPE_MAX || *b64_len == 0 || *b64_len % 4 != 0 ||
	    (p[*b64_len] && !strchr(" \t\r\n", p[*b64_len])))
		return rum_err_set(RUM_EINVAL, "host key is not \"TYPE BASE64\"");
	return 0;
}

/* "SHA256:" + unpadded base64 of the SHA-256 of a key blob, as ssh-keygen -l. */
static void fingerprint_blob(char *out, size_t size, const void *blob, size_t len)
{
	uint8_t md[RUM_SHA256_LEN];
	char *b64;
	size_t n;

	rum_crypto_sha256(md, blob, len);
	b64 = rum_crypto_base64_new(md, sizeof(md), &n);
	while (n && b64[n - 1] == '=')
		b64[--n] = '\0';
	snprintf(out, size, "SHA256:%s", b64);
	free(b64);
}

int rum_ssh_fingerprint(char *out, size_t size, const char *host_key)
{
	const char *type, *b64;
	size_t type_len, b64_len;
	LIBSSH2_SESSION *tmp;
	char *blob = NULL;
	unsigned int blob_len = 0;
	int rc;

	if (!host_key || split_key(host_key, &type, &type_len, &b64, &b64_len) < 0)
		return rum_err_set(RUM_EINVAL, "host key is not \"TYPE BASE64\"");
	pthread_once(&init_once, init_library);
	/* libssh2's decoder allocates through a session; crypto.h has no decoder. */
	tmp = libssh2_session_init();
	if (!tmp)
		abort();
	rc = libssh2_base64_decode(tmp, &blob, &blob_len, b64, (unsigned int)b64_len);
	if (rc != 0 || blob_len == 0) {
		rc = rum_err_set(RUM_EINVAL, "host key is not valid base64");
	} else {
		fingerprint_blob(out, size, blob, blob_len);
		rc = 0;
	}
	if (blob)
		libssh2_free(tmp, blob);
	libssh2_session_free(tmp);
	return rc;
}

/* The key type name inside an SSH public key blob (a uint32 length and the
 * name), into type. */
static int blob_type(char *type, size_t size, const unsigned char *blob, size_t len)
{
	uint32_t n;

	if (len < 4)
		return rum_err_set(RUM_EINVAL, "device presented a malformed host key");
	n = (uint32_t)blob[0] << 24 | (uint32_t)blob[1] << 16 | (uint32_t)blob[2] << 8 | blob[3];
	if (n == 0 || n >= size || n > len - 4)
		return rum_err_set(RUM_EINVAL, "device presented a malformed host key");
	memcpy(type, blob + 4, n);
	type[n] = '\0';
	return 0;
}

/* The server's host key as "TYPE BASE64" (malloc'd) and its fingerprint. */
static int presented_key(struct rum_ssh *s, char **key, char *fp, size_t fp_size)
{
	size_t len = 0, b64_len, total;
	int kind = 0;
	const char *blob = libssh2_session_hostkey(s->session, &len, &kind);
	char type[KEY_TYPE_MAX], *b64;

	if (!blob || blob_type(type, sizeof(type), (const unsigned char *)blob, len) < 0)
		return rum_err_set(RUM_EUNAVAIL, "device presented no usable host key");
	b64 = rum_crypto_base64_new(blob, len, &b64_len);
	total = strlen(type) + 1 + b64_len + 1;
	*key = malloc(total);
	if (!*key)
		abort();
	snprintf(*key, total, "%s %s", type, b64);
	free(b64);
	fingerprint_blob(fp, fp_size, blob, len);
	return 0;
}

/* Compares the presented key with the known one, or applies first use. */
static int check_host_key(const char *presented, const char *fp, const struct rum_ssh_options *o)
{
	const char *pt, *pb, *kt, *kb;
	size_t ptl, pbl, ktl, kbl;
	char known_fp[80];
	int rc;

	if (!o->known_host_key || !o->known_host_key[0]) {
		if (o->trust_on_first_use)
			return 0;
		return rum_err_set(
			RUM_EFORBIDDEN,
			"host key not known (device presented %s) and trust on first use is off",
			fp);
	}
	if ((rc = rum_ssh_fingerprint(known_fp, sizeof(known_fp), o->known_host_key)) < 0)
		return rum_err_set(rc, "known host key: %s", rum_err_msg());
	split_key(presented, &pt, &ptl, &pb, &pbl);
	split_key(o->known_host_key, &kt, &ktl, &kb, &kbl);
	if (ptl == ktl && pbl == kbl && memcmp(pt, kt, ktl) == 0 && memcmp(pb, kb, kbl) == 0)
		return 0;
	if (ptl != ktl || memcmp(pt, kt, ktl) != 0) /* e.g. the device no longer offers that type */
		return rum_err_set(RUM_ECONFLICT,
				   "host key changed: expected %s, device presented %s "
				   "(a %.*s key where a %.*s key was known)",
				   known_fp, fp, (int)ptl, pt, (int)ktl, kt);
	return rum_err_set(RUM_ECONFLICT, "host key changed: expected %s, device presented %s",
			   known_fp, fp);
}

/* Puts the known key's type first among the host key algorithms, so that a
 * device with several host keys presents the one we know. */
static void prefer_known_type(struct rum_ssh *s, const char *known)
{
	const char *type, *b64;
	size_t type_len, b64_len;
	char list[sizeof(HOSTKEY_METHODS) + KEY_TYPE_MAX + 2];

	if (!known || !known[0] || split_key(known, &type, &type_len, &b64, &b64_len) < 0)
		return;
	snprintf(list, sizeof(list), "%.*s,%s", (int)type_len, type, HOSTKEY_METHODS);
	libssh2_session_method_pref(s->session, LIBSSH2_METHOD_HOSTKEY, list); /* unknown: ignored
										*/
}

static int handshake(struct rum_ssh *s, int64_t deadline)
{
	char msg[QUOTE_MAX * 4 + 8];
	int rc;

	while ((rc = libssh2_session_handshake(s->session, s->fd)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "ssh handshake")) < 0)
			return rc;
	if (rc != 0)
		return broken(s, rum_err_set(RUM_EUNAVAIL, "ssh handshake: %s",
					     last_error(s, msg, sizeof(msg))));
	return 0;
}

/* ---- authentication ---- */

/* The methods the server accepts for this user ("publickey,password"), into
 * methods; empty when "none" authentication already succeeded. */
static int auth_methods(struct rum_ssh *s, char *methods, size_t size, const char *user,
			int64_t deadline)
{
	char msg[QUOTE_MAX * 4 + 8];
	const char *list;
	int rc;

	while (!(list = libssh2_userauth_list(s->session, user, (unsigned int)strlen(user)))) {
		if (libssh2_userauth_authenticated(s->session)) {
			methods[0] = '\0';
			return 0;
		}
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN)
			return broken(s, rum_err_set(RUM_EIO, "ssh authentication: %s",
						     last_error(s, msg, sizeof(msg))));
		if ((rc = wait_io(s, deadline, "ssh authentication")) < 0)
			return rc;
	}
	snprintf(methods, size, "%s", list);
	return 0;
}

static int has_method(const char *methods, const char *name)
{
	size_t n = strlen(name);

	for (const char *p = methods; (p = strstr(p, name)); p += n)
		if ((p == methods || p[-1] == ',') && (p[n] == '\0' || p[n] == ','))
			return 1;
	return 0;
}

/* Maps a libssh2 authentication result to a RUM code and message. */
static int auth_result(struct rum_ssh *s, int rc, const char *how)
{
	char msg[QUOTE_MAX * 4 + 8];

	if (rc == 0)
		return 0;
	if (rc == LIBSSH2_ERROR_AUTHENTICATION_FAILED || rc == LIBSSH2_ERROR_PUBLICKEY_UNVERIFIED ||
	    rc == LIBSSH2_ERROR_PASSWORD_EXPIRED)
		return rum_err_set(RUM_EAUTH, "%s authentication refused by the device", how);
	if (rc == LIBSSH2_ERROR_FILE)
		return rum_err_set(RUM_EINVAL, "private key not usable: %s",
				   last_error(s, msg, sizeof(msg)));
	return broken(s, rum_err_set(RUM_EIO, "%s authentication: %s", how,
				     last_error(s, msg, sizeof(msg))));
}

static int auth_key(struct rum_ssh *s, const struct rum_ssh_options *o, int64_t deadline)
{
	int rc;

	while ((rc = libssh2_userauth_publickey_frommemory(s->session, o->username,
							   strlen(o->username), NULL, 0,
							   o->private_key, o->private_key_len,
							   NULL)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "ssh key authentication")) < 0)
			return rc;
	return auth_result(s, rc, "key");
}

/* keyboard-interactive: the password answers every prompt. libssh2 frees
 * the answers with its allocator, the default malloc/free here. The
 * password reaches this callback through the session's abstract pointer. */
static void kbdint_answer(const char *name, int name_len, const char *instruction,
			  int instruction_len, int num_prompts,
			  const LIBSSH2_USERAUTH_KBDINT_PROMPT *prompts,
			  LIBSSH2_USERAUTH_KBDINT_RESPONSE *responses, void **abstract)
{
	const char *password = *abstract;

	for (int i = 0; i < num_prompts; i++) {
		responses[i].text = strdup(password ? password : "");
		if (!responses[i].text)
			abort();
		responses[i].length = (unsigned int)strlen(responses[i].text);
	}
}

static int auth_kbdint(struct rum_ssh *s, const struct rum_ssh_options *o, int64_t deadline)
{
	int rc;

	*libssh2_session_abstract(s->session) = (void *)o->password;
	while ((rc = libssh2_userauth_keyboard_interactive_ex(s->session, o->username,
							      (unsigned int)strlen(o->username),
							      kbdint_answer)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "ssh password authentication")) < 0)
			break;
	*libssh2_session_abstract(s->session) = NULL;
	return rc < 0 && s->broken ? rc : auth_result(s, rc, "password");
}

static int auth_password(struct rum_ssh *s, const struct rum_ssh_options *o, int64_t deadline)
{
	int rc;

	while ((rc = libssh2_userauth_password_ex(s->session, o->username,
						  (unsigned int)strlen(o->username), o->password,
						  (unsigned int)strlen(o->password), NULL)) ==
	       LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "ssh password authentication")) < 0)
			return rc;
	return auth_result(s, rc, "password");
}

/* Key first when both are configured, then password (the "password"
 * method, else "keyboard-interactive", which devices with AAA often offer
 * instead); only methods the server lists are tried, so that the error names
 * what the device wants. */
static int authenticate(struct rum_ssh *s, const struct rum_ssh_options *o, int64_t deadline)
{
	char methods[256];
	int rc = RUM_EAUTH, tried = 0;

	if ((rc = auth_methods(s, methods, sizeof(methods), o->username, deadline)) < 0)
		return rc;
	if (!methods[0])
		return 0;
	rc = RUM_EAUTH;
	if (o->private_key && has_method(methods, "publickey")) {
		tried = 1;
		rc = auth_key(s, o, deadline);
		if (rc != RUM_EAUTH)
			return rc;
	}
	if (o->password && has_method(methods, "password")) {
		tried = 1;
		rc = auth_password(s, o, deadline);
	} else if (o->password && has_method(methods, "keyboard-interactive")) {
		tried = 1;
		rc = auth_kbdint(s, o, deadline);
	}
	if (!tried) {
		char shown[sizeof(methods) * 4];

		rum_text_quote(shown, sizeof(shown), methods, strlen(methods), QUOTE_MAX);
		return rum_err_set(RUM_EAUTH, "device accepts only %s authentication for %s", shown,
				   o->username);
	}
	return rc;
}

/* ---- connect / free ---- */

static int check_options(const struct rum_ssh_options *o)
{
	if (!o->host || !o->host[0] || o->port < 1 || o->port > 65535)
		return rum_err_set(RUM_EINVAL, "ssh: host and port 1..65535 are required");
	if (!o->username || !o->username[0])
		return rum_err_set(RUM_EINVAL, "ssh: a user name is required");
	if (!o->password && !o->private_key)
		return rum_err_set(RUM_EINVAL, "ssh: a password or a private key is required");
	if (o->private_key && o->private_key_len == 0)
		return rum_err_set(RUM_EINVAL, "ssh: the private key is empty");
	return 0;
}

static int64_t phase_deadline(const struct rum_ssh_options *o, int ms, int dflt)
{
	return earlier(rum_ssh_now_ms() + (ms > 0 ? ms : dflt), o->deadline_ms);
}

static struct rum_ssh *session_new(const struct rum_ssh_options *o)
{
	struct rum_ssh *s = calloc(1, sizeof(*s));

	if (!s)
		abort();
	s->fd = -1;
	s->io_timeout_ms = o->io_timeout_ms > 0 ? o->io_timeout_ms : DEFAULT_IO_MS;
	s->deadline_ms = o->deadline_ms;
	s->cancel = o->cancel;
	return s;
}

/* Connects and handshakes; hands out the presented key and its fingerprint. */
static int open_transport(struct rum_ssh *s, const struct rum_ssh_options *o, char **key, char *fp,
			  size_t fp_size)
{
	int64_t deadline = phase_deadline(o, o->connect_timeout_ms, DEFAULT_CONNECT_MS);
	int rc;

	if ((rc = tcp_connect(&s->fd, o->host, o->port, deadline)) < 0)
		return rc;
	s->session = libssh2_session_init();
	if (!s->session)
		abort();
	libssh2_session_set_blocking(s->session, 0);
	prefer_known_type(s, o->known_host_key);
	if ((rc = handshake(s, deadline)) < 0)
		return rc;
	return presented_key(s, key, fp, fp_size);
}

int rum_ssh_connect(struct rum_ssh **out, char **host_key, const struct rum_ssh_options *o)
{
	struct rum_ssh *s = NULL;
	char *key = NULL, fp[80];
	int rc;

	*out = NULL;
	if (host_key)
		*host_key = NULL;
	if ((rc = check_options(o)) < 0)
		return rc;
	pthread_once(&init_once, init_library);
	if (init_rc != 0)
		return rum_err_set(RUM_EINTERNAL, "libssh2 initialisation failed");
	s = session_new(o);
	if ((rc = open_transport(s, o, &key, fp, sizeof(fp))) < 0)
		goto out;
	if ((rc = check_host_key(key, fp, o)) < 0)
		goto out;
	rc = authenticate(s, o, phase_deadline(o, o->auth_timeout_ms, DEFAULT_AUTH_MS));
out:
	if (host_key)
		*host_key = key;
	else
		free(key);
	if (rc < 0)
		rum_ssh_free(s);
	else
		*out = s;
	return rc;
}

/* Frees a channel, politely when the session still works. */
static void channel_free(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, int64_t deadline)
{
	while (!s->broken && libssh2_channel_close(ch) == LIBSSH2_ERROR_EAGAIN)
		if (wait_io(s, deadline, "ssh channel close") < 0)
			break;
	while (!s->broken && libssh2_channel_free(ch) == LIBSSH2_ERROR_EAGAIN)
		if (wait_io(s, deadline, "ssh channel close") < 0)
			break;
	/* A broken session's channels go with libssh2_session_free. */
}

void rum_ssh_free(struct rum_ssh *s)
{
	int64_t deadline;

	if (!s)
		return;
	deadline = earlier(rum_ssh_now_ms() + CLOSE_BUDGET_MS, s->deadline_ms);
	if (s->session) {
		if (s->channel)
			channel_free(s, s->channel, deadline);
		while (!s->broken &&
		       libssh2_session_disconnect(s->session, "bye") == LIBSSH2_ERROR_EAGAIN)
			if (wait_io(s, deadline, "ssh disconnect") < 0)
				break;
		/* A broken session may still hold channels that libssh2 would try
		 * to close (and, non-blocking, give up with EAGAIN, leaking the
		 * session): with the socket shut down every send fails at once.
		 * The descriptor stays ours until close(), so no other thread's
		 * connection can receive those bytes. */
		if (s->broken && s->fd >= 0)
			shutdown(s->fd, SHUT_RDWR);
		libssh2_session_free(s->session);
	}
	if (s->fd >= 0)
		close(s->fd);
	free(s);
}

/* ---- subsystem channel ---- */

static int usable(struct rum_ssh *s)
{
	if (s->broken)
		return rum_err_set(RUM_EIO, "ssh connection unusable after an earlier failure");
	return 0;
}

/* Opens a session channel; NULL with the error set on failure. */
static LIBSSH2_CHANNEL *open_channel(struct rum_ssh *s, int64_t deadline, int *rc)
{
	char msg[QUOTE_MAX * 4 + 8];
	LIBSSH2_CHANNEL *ch;

	while (!(ch = libssh2_channel_open_session(s->session))) {
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN) {
			*rc = rum_err_set(RUM_EIO, "ssh channel refused: %s",
					  last_error(s, msg, sizeof(msg)));
			return NULL;
		}
		if ((*rc = wait_io(s, deadline, "ssh channel open")) < 0)
			return NULL;
	}
	return ch;
}

int rum_ssh_subsystem_open(struct rum_ssh *s, const char *name)
{
	int64_t deadline = earlier(rum_ssh_now_ms() + s->io_timeout_ms, s->deadline_ms);
	char msg[QUOTE_MAX * 4 + 8];
	LIBSSH2_CHANNEL *ch;
	int rc;

	if (s->channel)
		return rum_err_set(RUM_EINVAL, "ssh: a subsystem channel is already open");
	if ((rc = usable(s)) < 0 || !(ch = open_channel(s, deadline, &rc)))
		return rc;
	while ((rc = libssh2_channel_subsystem(ch, name)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "ssh subsystem request")) < 0)
			return rc; /* the channel goes with the broken session */
	if (rc != 0) {
		rc = rum_err_set(RUM_EIO, "ssh subsystem %s refused: %s", name,
				 last_error(s, msg, sizeof(msg)));
		channel_free(s, ch, deadline);
		return rc;
	}
	/* The subsystem's stderr is not part of the protocol: drop it rather than
	 * let it fill the channel window. */
	libssh2_channel_handle_extended_data2(ch, LIBSSH2_CHANNEL_EXTENDED_DATA_IGNORE);
	s->channel = ch;
	return 0;
}

int rum_ssh_write(struct rum_ssh *s, const void *data, size_t len, int64_t deadline_ms)
{
	const char *p = data;
	char msg[QUOTE_MAX * 4 + 8];
	ssize_t n;
	int rc;

	if ((rc = usable(s)) < 0)
		return rc;
	if (!s->channel)
		return rum_err_set(RUM_EINVAL, "ssh: no subsystem channel is open");
	while (len) {
		n = libssh2_channel_write(s->channel, p, len);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((rc = wait_io(s, deadline_ms, "ssh write")) < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return broken(s, rum_err_set(RUM_EIO, "ssh write: %s",
						     last_error(s, msg, sizeof(msg))));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

/* Reads from a channel (stdout stream), waiting; 0 at end of file. */
static ssize_t channel_read(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, void *buf, size_t size,
			    int64_t deadline, const char *what)
{
	char msg[QUOTE_MAX * 4 + 8];
	ssize_t n;
	int rc;

	for (;;) {
		n = libssh2_channel_read(ch, buf, size);
		if (n > 0 || (n == 0 && libssh2_channel_eof(ch)))
			return n;
		if (n < 0 && n != LIBSSH2_ERROR_EAGAIN)
			return broken(s, rum_err_set(RUM_EIO, "%s: %s", what,
						     last_error(s, msg, sizeof(msg))));
		if ((rc = wait_io(s, deadline, what)) < 0)
			return rc;
	}
}

ssize_t rum_ssh_read(struct rum_ssh *s, void *buf, size_t size, int64_t deadline_ms)
{
	int rc;

	if ((rc = usable(s)) < 0)
		return rc;
	if (!s->channel)
		return rum_err_set(RUM_EINVAL, "ssh: no subsystem channel is open");
	return channel_read(s, s->channel, buf, size, deadline_ms, "ssh read");
}

/* ---- SCP ----
 * libssh2 runs the start of the exchange (scp -f / scp -t, the C line and
 * its acknowledgement); the end is ours: after the file data each side sends
 * one status byte, 0 for success or 1/2 followed by a message line. libssh2
 * 1.10 drops the remote scp's message when it refuses the request (a missing
 * file, a bad path): those fail with libssh2's "SCP protocol error". */

/* The error of a refused SCP request. */
static int scp_error(struct rum_ssh *s, const char *what, const char *path)
{
	char msg[QUOTE_MAX * 4 + 8], shown[QUOTE_MAX * 4 + 8];
	int e = libssh2_session_last_errno(s->session);

	last_error(s, msg, sizeof(msg));
	rum_text_quote(shown, sizeof(shown), path, strlen(path), QUOTE_MAX);
	if (e == LIBSSH2_ERROR_SOCKET_RECV || e == LIBSSH2_ERROR_SOCKET_SEND ||
	    e == LIBSSH2_ERROR_SOCKET_DISCONNECT)
		s->broken = 1;
	return rum_err_set(RUM_EIO, "%s %s: refused by the device (%s)", what, shown, msg);
}

/* Reads exactly len bytes from an SCP channel into buf. */
static int scp_read_all(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, char *buf, size_t len,
			int64_t deadline, const char *what)
{
	size_t got = 0;
	ssize_t n;

	while (got < len) {
		n = channel_read(s, ch, buf + got, len - got, deadline, what);
		if (n < 0)
			return (int)n;
		if (n == 0)
			return rum_err_set(RUM_EIO,
					   "%s: device closed the channel after %zu of %zu bytes",
					   what, got, len);
		got += (size_t)n;
	}
	return 0;
}

/* Reads the remote scp's status byte; on an error status, its message line. */
static int scp_status(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, int64_t deadline, const char *what,
		      const char *path)
{
	char c, line[QUOTE_MAX + 1], shown[QUOTE_MAX * 4 + 8], pshown[QUOTE_MAX * 4 + 8];
	size_t n = 0;
	int rc;

	if ((rc = scp_read_all(s, ch, &c, 1, deadline, what)) < 0)
		return rc;
	if (c == 0)
		return 0;
	while (n < sizeof(line) - 1) {
		if ((rc = scp_read_all(s, ch, line + n, 1, deadline, what)) < 0) {
			if (s->broken)
				return rc;
			break; /* closed after a partial message: report what came */
		}
		if (line[n] == '\n')
			break;
		n++;
	}
	rum_text_quote(shown, sizeof(shown), line, n, QUOTE_MAX);
	rum_text_quote(pshown, sizeof(pshown), path, strlen(path), QUOTE_MAX);
	return rum_err_set(RUM_EIO, "%s %s: device says: %s", what, pshown, shown);
}

static int scp_write_all(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, const char *p, size_t len,
			 int64_t deadline, const char *what)
{
	char msg[QUOTE_MAX * 4 + 8];
	ssize_t n;
	int rc;

	while (len) {
		n = libssh2_channel_write(ch, p, len);
		if (n == LIBSSH2_ERROR_EAGAIN) {
			if ((rc = wait_io(s, deadline, what)) < 0)
				return rc;
			continue;
		}
		if (n < 0)
			return broken(s, rum_err_set(RUM_EIO, "%s: %s", what,
						     last_error(s, msg, sizeof(msg))));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static LIBSSH2_CHANNEL *scp_recv(struct rum_ssh *s, const char *path, libssh2_struct_stat *st,
				 int64_t deadline, int *rc)
{
	LIBSSH2_CHANNEL *ch;

	while (!(ch = libssh2_scp_recv2(s->session, path, st))) {
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN) {
			*rc = scp_error(s, "scp get", path);
			return NULL;
		}
		if ((*rc = wait_io(s, deadline, "scp get")) < 0)
			return NULL;
	}
	return ch;
}

/* Reads the file data announced by the C line, the status byte after it,
 * and acknowledges, so that the remote scp exits cleanly. */
static int scp_receive_data(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, const char *path, char *buf,
			    size_t len, int64_t deadline)
{
	int rc;

	if ((rc = scp_read_all(s, ch, buf, len, deadline, "scp get")) < 0 ||
	    (rc = scp_status(s, ch, deadline, "scp get", path)) < 0)
		return rc;
	return scp_write_all(s, ch, "", 1, deadline, "scp get");
}

int rum_ssh_scp_get(struct rum_ssh *s, const char *remote_path, size_t max, char **out,
		    size_t *out_len, int64_t deadline_ms)
{
	int64_t deadline = earlier(deadline_ms, s->deadline_ms);
	libssh2_struct_stat st;
	LIBSSH2_CHANNEL *ch;
	char *buf = NULL;
	size_t len;
	int rc;

	*out = NULL;
	*out_len = 0;
	memset(&st, 0, sizeof(st));
	if ((rc = usable(s)) < 0 || !(ch = scp_recv(s, remote_path, &st, deadline, &rc)))
		return rc;
	if (st.st_size < 0 || (uint64_t)st.st_size > max) {
		rc = rum_err_set(RUM_ETOOBIG, "scp get: file of %lld bytes exceeds %zu",
				 (long long)st.st_size, max);
		goto out;
	}
	len = (size_t)st.st_size;
	buf = malloc(len + 1);
	if (!buf)
		abort();
	if ((rc = scp_receive_data(s, ch, remote_path, buf, len, deadline)) < 0)
		goto out;
	buf[len] = '\0';
	*out = buf;
	*out_len = len;
	buf = NULL;
out:
	free(buf);
	channel_free(s, ch, deadline);
	return rc;
}

static LIBSSH2_CHANNEL *scp_send(struct rum_ssh *s, const char *path, size_t len, int64_t deadline,
				 int *rc)
{
	LIBSSH2_CHANNEL *ch;

	while (!(ch = libssh2_scp_send64(s->session, path, 0644, (libssh2_int64_t)len, 0, 0))) {
		if (libssh2_session_last_errno(s->session) != LIBSSH2_ERROR_EAGAIN) {
			*rc = scp_error(s, "scp put", path);
			return NULL;
		}
		if ((*rc = wait_io(s, deadline, "scp put")) < 0)
			return NULL;
	}
	return ch;
}

/* Ends an upload: the status byte after the data, the remote scp's answer
 * (which comes once the file is written), then EOF and its exit. */
static int scp_finish(struct rum_ssh *s, LIBSSH2_CHANNEL *ch, const char *path, int64_t deadline)
{
	char msg[QUOTE_MAX * 4 + 8];
	int rc;

	if ((rc = scp_write_all(s, ch, "", 1, deadline, "scp put")) < 0 ||
	    (rc = scp_status(s, ch, deadline, "scp put", path)) < 0)
		return rc;
	while ((rc = libssh2_channel_send_eof(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "scp put")) < 0)
			return rc;
	while (rc == 0 && (rc = libssh2_channel_wait_eof(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "scp put")) < 0)
			return rc;
	while (rc == 0 && (rc = libssh2_channel_wait_closed(ch)) == LIBSSH2_ERROR_EAGAIN)
		if ((rc = wait_io(s, deadline, "scp put")) < 0)
			return rc;
	if (rc < 0)
		return broken(s,
			      rum_err_set(RUM_EIO, "scp put: %s", last_error(s, msg, sizeof(msg))));
	rc = libssh2_channel_get_exit_status(ch);
	if (rc != 0)
		return rum_err_set(RUM_EIO, "scp put: remote scp exited with status %d", rc);
	return 0;
}

int rum_ssh_scp_put(struct rum_ssh *s, const char *remote_path, const void *data, size_t len,
		    int64_t deadline_ms)
{
	int64_t deadline = earlier(deadline_ms, s->deadline_ms);
	LIBSSH2_CHANNEL *ch;
	int rc;

	if ((rc = usable(s)) < 0 || !(ch = scp_send(s, remote_path, len, deadline, &rc)))
		return rc;
	if ((rc = scp_write_all(s, ch, data, len, deadline, "scp put")) == 0)
		rc = scp_finish(s, ch, remote_path, deadline);
	channel_free(s, ch, deadline);
	return rc;
}
