#include "domain/targets.h"

#include "db/db.h"
#include "db/store_collector.h"
#include "db/store_tenants.h"
#include "domain/audit.h"
#include "domain/collections.h"
#include "domain/internal.h"
#include "lib/err.h"
#include "lib/text.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

static int rum_targets_key_create(const char *path)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	char hex[2 * RUM_SECRET_KEY_LEN + 2], tmp[4200];
	int fd, rc = 0;

	rum_crypto_random(key, sizeof(key));
	rum_text_hex(hex, key, sizeof(key));
	hex[2 * RUM_SECRET_KEY_LEN] = '\n';
	hex[2 * RUM_SECRET_KEY_LEN + 1] = '\0';
	rum_crypto_wipe(key, sizeof(key));
	/* Written whole under a temporary name, then linked into place: a
	 * concurrent reader never sees a half-written key, and link() fails
	 * rather than replacing a key another process created first. */
	snprintf(tmp, sizeof(tmp), "%s.%ld.tmp", path, (long)getpid());
	fd = open(tmp, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
	if (fd < 0) {
		rc = rum_err_set(RUM_EIO, "secret_key_file %s: %s", tmp, strerror(errno));
		goto out;
	}
	if (write(fd, hex, strlen(hex)) != (ssize_t)strlen(hex) || fsync(fd) != 0)
		rc = rum_err_set(RUM_EIO, "secret_key_file %s: %s", tmp, strerror(errno));
	close(fd);
	if (rc == 0 && link(tmp, path) != 0 && errno != EEXIST)
		rc = rum_err_set(RUM_EIO, "secret_key_file %s: %s", path, strerror(errno));
	unlink(tmp);
out:
	rum_crypto_wipe(hex, sizeof(hex));
	return rc;
}

int rum_targets_key_load(uint8_t key[RUM_SECRET_KEY_LEN], const char *path, bool create)
{
	char buf[2 * RUM_SECRET_KEY_LEN + 4];
	ssize_t n;
	int fd, rc = 0;

	if (!path || !path[0])
		return rum_err_set(RUM_EINVAL, "no secret_key_file configured");
	if (create && access(path, F_OK) != 0 && (rc = rum_targets_key_create(path)) != 0)
		return rc;
	fd = open(path, O_RDONLY | O_CLOEXEC);
	if (fd < 0)
		return rum_err_set(RUM_EIO, "secret_key_file %s: %s%s", path, strerror(errno),
				   errno == ENOENT ? " (add a pull target first, or copy the key "
						     "file of the other rumd nodes)"
						   : "");
	n = read(fd, buf, sizeof(buf) - 1);
	close(fd);
	while (n > 0 && (buf[n - 1] == '\n' || buf[n - 1] == '\r'))
		n--;
	if (n != 2 * RUM_SECRET_KEY_LEN || rum_text_unhex(key, buf, RUM_SECRET_KEY_LEN) != 0)
		rc = RUM_EINVAL;
	rum_crypto_wipe(buf, sizeof(buf));
	if (rc != 0)
		return rum_err_set(RUM_EINVAL, "secret_key_file %s: not a key (64 hex digits)",
				   path);
	return 0;
}

/* Printable ASCII without spaces or characters that would need quoting in
 * XML, a shell or a URL path. */
static bool rum_targets_plain(const char *s, size_t max)
{
	size_t n = s ? strlen(s) : 0;

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~' || strchr("\"'<>&`\\$;|", s[i]))
			return false;
	return true;
}

static bool rum_targets_host_key_ok(const char *protocol, const char *k)
{
	const char *sp;

	if (strcmp(protocol, "netconf") != 0) /* a TLS public key pin */
		return strncmp(k, "sha256//", 8) == 0 && strlen(k) > 8 && strlen(k) < 128 &&
		       !strchr(k, ' ');
	sp = strchr(k, ' ');
	return sp && sp > k && strlen(sp + 1) >= 16 && strlen(k) < 16384 && !strchr(sp + 1, ' ');
}

/* Host keys are stored as "TYPE BASE64". People paste that, a .pub line
 * ("TYPE BASE64 comment"), or a known_hosts line ("HOSTS TYPE BASE64
 * [comment]", hosts possibly hashed): the key is the first token that names
 * an SSH key type followed by base64, as the first or second field. */
#define RUM_TARGETS_HOST_KEY_MAX 16384

static bool rum_targets_key_type(const char *t, size_t n)
{
	static const char *const prefixes[] = {"ssh-", "ecdsa-", "sk-", "rsa-"};

	if (n < 5 || n > 64)
		return false;
	for (size_t i = 0; i < sizeof(prefixes) / sizeof(prefixes[0]); i++)
		if (strncmp(t, prefixes[i], strlen(prefixes[i])) == 0)
			return strspn(t, "abcdefghijklmnopqrstuvwxyz0123456789-@.") >= n;
	return false;
}

static bool rum_targets_base64(const char *t, size_t n)
{
	return n >= 16 && n % 4 == 0 &&
	       strspn(t, "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=") >= n;
}

static int rum_targets_host_key_clean(char *out, size_t size, const char *in)
{
	const char *tok[3];
	size_t len[3], n = 0;
	const char *p = in;

	if (strlen(in) >= RUM_TARGETS_HOST_KEY_MAX)
		return rum_err_set(RUM_EINVAL, "known-host-key: longer than %d bytes",
				   RUM_TARGETS_HOST_KEY_MAX);
	while (n < 3) {
		p += strspn(p, " \t\r\n");
		if (!*p)
			break;
		tok[n] = p;
		len[n] = strcspn(p, " \t\r\n");
		p += len[n++];
	}
	if (n && tok[0][0] == '@')
		return rum_err_set(RUM_EINVAL,
				   "known-host-key: a known_hosts line marked %.*s is "
				   "not a host key; paste the host's own line",
				   (int)(len[0] > 20 ? 20 : len[0]), tok[0]);
	for (size_t i = 0; i + 1 < n && i < 2; i++) {
		if (rum_targets_key_type(tok[i], len[i]) &&
		    rum_targets_base64(tok[i + 1], len[i + 1])) {
			if (len[i] + len[i + 1] + 2 > size)
				break;
			snprintf(out, size, "%.*s %.*s", (int)len[i], tok[i], (int)len[i + 1],
				 tok[i + 1]);
			return 0;
		}
	}
	return rum_err_set(RUM_EINVAL,
			   "known-host-key: expected \"TYPE BASE64\", a .pub line or a known_hosts "
			   "line (ssh-keyscan HOST prints them)");
}

int rum_targets_spec_check(const struct rum_target_spec *s)
{
	bool netconf = s->protocol && strcmp(s->protocol, "netconf") == 0;
	bool restconf = s->protocol && strcmp(s->protocol, "restconf") == 0;

	if (!s->tenant || !rum_text_tenant_name_ok(s->tenant))
		return rum_err_set(RUM_EINVAL, "tenant: a tenant name is required");
	if (!netconf && !restconf && !(s->protocol && strcmp(s->protocol, "restapi") == 0))
		return rum_err_set(RUM_EINVAL, "protocol: expected netconf, restconf or restapi");
	if (!rum_targets_plain(s->host, 255))
		return rum_err_set(RUM_EINVAL,
				   "host: 1 to 255 printable characters without spaces");
	if (s->port < 0 || s->port > 65535)
		return rum_err_set(RUM_EINVAL, "port: expected 1 to 65535");
	if (!s->username || !s->username[0] || strlen(s->username) > 128 ||
	    !rum_text_printable_utf8(s->username, strlen(s->username)))
		return rum_err_set(RUM_EINVAL, "username: 1 to 128 printable characters");
	if ((s->password != NULL) == (s->key != NULL))
		return rum_err_set(RUM_EINVAL, "exactly one of a password and a key is needed");
	if (s->key && !netconf)
		return rum_err_set(RUM_EINVAL, "key: %s takes a password",
				   restconf ? "RESTCONF" : "the device REST API");
	if ((s->password && (s->password_len == 0 || s->password_len > 1024)) ||
	    (s->key && (s->key_len == 0 || s->key_len > 65536)))
		return rum_err_set(RUM_EINVAL, "%s: empty or too long",
				   s->key ? "key" : "password");
	if (s->key && !strstr(s->key, "PRIVATE KEY-----"))
		return rum_err_set(RUM_EINVAL, "key: not a private key file (PEM or OpenSSH)");
	if (s->known_host_key && s->known_host_key[0] &&
	    !rum_targets_host_key_ok(s->protocol, s->known_host_key))
		return rum_err_set(
			RUM_EINVAL,
			netconf ? "known-host-key: expected \"TYPE BASE64\" "
				  "as in a known_hosts line (ssh-keyscan prints it)"
				: "known-host-key: expected a public key pin sha256//BASE64");
	if (s->interval_s != 0 && (s->interval_s < 60 || s->interval_s > 366 * 86400))
		return rum_err_set(RUM_EINVAL, "interval: 1 minute to 366 days");
	if (s->path_prefix &&
	    (!rum_targets_plain(s->path_prefix, 80) || strlen(s->path_prefix) + 48 > 127))
		return rum_err_set(RUM_EINVAL, "path-prefix: a device directory such as bootflash: "
					       "(printable, no spaces, at most 79 characters)");
	if (s->transfer && strcmp(s->transfer, "scp") != 0 && strcmp(s->transfer, "http") != 0)
		return rum_err_set(RUM_EINVAL, "transfer: expected scp or http");
	if (restconf && s->transfer && strcmp(s->transfer, "http") != 0)
		return rum_err_set(RUM_EINVAL, "transfer: RESTCONF has no file copy: usage files "
					       "and ACKs travel by one-time URLs (http)");
	return 0;
}

/* Associated data binding a sealed credential to its target. */
static void rum_targets_aad(char *out, size_t size, int64_t tenant_id, const char *protocol,
			    const char *host, int port, const char *username)
{
	snprintf(out, size, "rumd pull-target credential v1\n%" PRId64 "\n%s\n%s\n%d\n%s",
		 tenant_id, protocol, host, port, username);
}

struct rum_targets_add_ctx {
	const struct rum_target_spec *spec;
	const uint8_t *key;
	int64_t id;
};

/* The row for spec s in tenant tenant_id, its credential sealed under key
 * into *sealed (the caller frees it). */
static void rum_targets_row(struct rum_store_target *t, const struct rum_target_spec *s,
			    int64_t tenant_id, const uint8_t *key, uint8_t **sealed)
{
	bool netconf = strcmp(s->protocol, "netconf") == 0;
	char aad[1024];

	t->tenant_id = tenant_id;
	t->tenant = s->tenant;
	t->host = s->host;
	t->port = s->port ? s->port : netconf ? 830 : 443;
	t->protocol = s->protocol;
	t->username = s->username;
	t->auth = s->key ? "key" : "password";
	rum_targets_aad(aad, sizeof(aad), t->tenant_id, t->protocol, t->host, t->port, t->username);
	rum_crypto_seal(sealed, &t->secret_len, key, aad, strlen(aad),
			s->key ? s->key : s->password, s->key ? s->key_len : s->password_len);
	t->secret = *sealed;
	t->known_host_key = s->known_host_key ? s->known_host_key : "";
	t->trust_on_first_use = s->trust_on_first_use;
	t->interval_s = s->interval_s;
	t->path_prefix = s->path_prefix ? s->path_prefix : "bootflash:";
	t->transfer = s->transfer                            ? s->transfer
		      : strcmp(s->protocol, "restconf") == 0 ? "http"
							     : "scp";
	t->rest_raw = s->rest_raw;
	t->rest_plain_http = s->rest_plain_http;
}

static int rum_targets_add_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_targets_add_ctx *c = arg;
	struct rum_store_target t = {0};
	uint8_t *sealed = NULL;
	int64_t tenant_id;
	int rc;

	rc = rum_store_tenant_find(txn, c->spec->tenant, &tenant_id);
	if (rc == RUM_ENOTFOUND)
		rc = rum_err_set(RUM_ENOTFOUND, "unknown tenant '%s'", c->spec->tenant);
	if (rc != 0)
		return rc;
	rum_targets_row(&t, c->spec, tenant_id, c->key, &sealed);
	rc = rum_store_target_add(txn, &t, &c->id);
	free(sealed);
	return rc;
}

/* A NETCONF target's host key as pasted becomes "TYPE BASE64" (*buf, the
 * caller frees it); others are left as they are. */
static int rum_targets_spec_host_key(struct rum_target_spec *s, char **buf)
{
	int rc;

	*buf = NULL;
	if (!s->known_host_key || !s->known_host_key[0] || !s->protocol ||
	    strcmp(s->protocol, "netconf") != 0)
		return 0;
	*buf = malloc(RUM_TARGETS_HOST_KEY_MAX);
	if (!*buf)
		abort();
	rc = rum_targets_host_key_clean(*buf, RUM_TARGETS_HOST_KEY_MAX, s->known_host_key);
	if (rc == 0)
		s->known_host_key = *buf;
	return rc;
}

int rum_targets_add(struct rum_domain *dom, const struct rum_target_spec *spec, int64_t *id)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	struct rum_target_spec clean = *spec;
	struct rum_targets_add_ctx c = {&clean, key, 0};
	char *host_key = NULL;
	int rc = rum_targets_spec_host_key(&clean, &host_key);

	if (rc == 0)
		rc = rum_targets_spec_check(&clean);
	if (rc == 0)
		rc = rum_targets_key_load(key, dom->key_file, true);
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_targets_add_run, &c);
	rum_crypto_wipe(key, sizeof(key));
	free(host_key);
	if (rc == 0)
		*id = c.id;
	return rc;
}

void rum_target_view(struct rum_target *out, const struct rum_store_target *t)
{
	*out = (struct rum_target){.id = t->id,
				   .tenant_id = t->tenant_id,
				   .tenant = t->tenant,
				   .host = t->host,
				   .port = t->port,
				   .protocol = t->protocol,
				   .username = t->username,
				   .auth = t->auth,
				   .secret = t->secret,
				   .secret_len = t->secret_len,
				   .known_host_key = t->known_host_key,
				   .trust_on_first_use = t->trust_on_first_use,
				   .interval_s = t->interval_s,
				   .path_prefix = t->path_prefix,
				   .transfer = t->transfer,
				   .rest_raw = t->rest_raw,
				   .rest_plain_http = t->rest_plain_http,
				   .device_id = t->device_id,
				   .udi_pid = t->udi_pid,
				   .udi_sn = t->udi_sn,
				   .failures = t->failures,
				   .failing_since = t->failing_since,
				   .created_at = t->created_at,
				   .next_due = t->next_due,
				   .last_job_id = t->last_job_id,
				   .last_state = t->last_state,
				   .last_finished = t->last_finished,
				   .last_error = t->last_error,
				   .last_collected = t->last_collected,
				   .last_new = t->last_new,
				   .last_acks = t->last_acks};
}

static void rum_collection_view(struct rum_collection *out, const struct rum_store_job *j)
{
	*out = (struct rum_collection){.id = j->id,
				       .target_id = j->target_id,
				       .host = j->host,
				       .protocol = j->protocol,
				       .trigger = j->trigger,
				       .state = j->state,
				       .node = j->node,
				       .due_at = j->due_at,
				       .started_at = j->started_at,
				       .finished_at = j->finished_at,
				       .attempts = j->attempts,
				       .duration_ms = j->duration_ms,
				       .collected = j->collected,
				       .new_reports = j->new_reports,
				       .acks = j->acks,
				       .error = j->error};
}

struct rum_targets_query {
	const char *tenant;
	int64_t id;
	const int64_t *ids;
	size_t n;
	int limit;
	void (*target_cb)(void *arg, const struct rum_target *t);
	void (*job_cb)(void *arg, const struct rum_collection *j);
	void (*enqueue_cb)(void *arg, int64_t job_id, int64_t target_id);
	void *arg;
	enum { RUM_TQ_LIST, RUM_TQ_REMOVE, RUM_TQ_ENQUEUE, RUM_TQ_JOBS } op;
};

static void rum_targets_query_target(void *arg, const struct rum_store_target *row)
{
	struct rum_targets_query *q = arg;
	struct rum_target t;

	rum_target_view(&t, row);
	q->target_cb(q->arg, &t);
}

static void rum_targets_query_job(void *arg, const struct rum_store_job *row)
{
	struct rum_targets_query *q = arg;
	struct rum_collection j;

	rum_collection_view(&j, row);
	q->job_cb(q->arg, &j);
}

static int rum_targets_query_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_targets_query *q = arg;
	int64_t tenant_id = 0;
	int rc = 0;

	if (q->tenant) {
		rc = rum_store_tenant_find(txn, q->tenant, &tenant_id);
		if (rc == RUM_ENOTFOUND)
			return rum_err_set(RUM_ENOTFOUND, "unknown tenant '%s'", q->tenant);
		if (rc != 0)
			return rc;
	}
	switch (q->op) {
	case RUM_TQ_LIST:
		return rum_store_target_list(txn, tenant_id, q->id, rum_targets_query_target, q);
	case RUM_TQ_REMOVE: return rum_store_target_remove(txn, tenant_id, q->id);
	case RUM_TQ_ENQUEUE:
		return rum_store_jobs_enqueue(txn, tenant_id, q->id, q->enqueue_cb, q->arg);
	case RUM_TQ_JOBS:
		return rum_store_jobs_get(txn, q->ids, q->n, q->id, q->limit, rum_targets_query_job,
					  q);
	}
	return rum_err_set(RUM_EINTERNAL, "unknown target query");
}

int rum_targets_list(struct rum_domain *dom, const char *tenant, int64_t id,
		     void (*cb)(void *arg, const struct rum_target *t), void *arg)
{
	struct rum_targets_query q = {
		.tenant = tenant, .id = id, .target_cb = cb, .arg = arg, .op = RUM_TQ_LIST};

	return rum_db_transact(dom->db, rum_targets_query_run, &q);
}

int rum_targets_remove(struct rum_domain *dom, const char *tenant, int64_t id)
{
	struct rum_targets_query q = {.tenant = tenant, .id = id, .op = RUM_TQ_REMOVE};

	return rum_db_transact(dom->db, rum_targets_query_run, &q);
}

int rum_targets_enqueue(struct rum_domain *dom, const char *tenant, int64_t id,
			void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg)
{
	struct rum_targets_query q = {
		.tenant = tenant, .id = id, .enqueue_cb = cb, .arg = arg, .op = RUM_TQ_ENQUEUE};

	return rum_db_transact(dom->db, rum_targets_query_run, &q);
}

int rum_targets_jobs(struct rum_domain *dom, const int64_t *ids, size_t n, int64_t target_id,
		     int limit, void (*cb)(void *arg, const struct rum_collection *j), void *arg)
{
	struct rum_targets_query q = {.id = target_id,
				      .ids = ids,
				      .n = n,
				      .limit = limit,
				      .job_cb = cb,
				      .arg = arg,
				      .op = RUM_TQ_JOBS};

	return rum_db_transact(dom->db, rum_targets_query_run, &q);
}

int rum_targets_secret(char **out, size_t *len, const uint8_t key[RUM_SECRET_KEY_LEN],
		       const struct rum_target *t)
{
	char aad[1024];

	rum_targets_aad(aad, sizeof(aad), t->tenant_id, t->protocol, t->host, t->port, t->username);
	if (rum_crypto_open(out, len, key, aad, strlen(aad), t->secret, t->secret_len) != 0)
		return rum_err_set(RUM_EAUTH,
				   "the stored credential of target %" PRId64 " does not "
				   "open with this secret_key_file (another node's key?)",
				   t->id);
	return 0;
}

/* --- for the admin API: the tenant is the actor's, checked already --- */

int rum_targets_add_by(struct rum_domain *dom, const struct rum_actor *by,
		       struct rum_target_spec *spec, int64_t *id)
{
	char target[300];
	int rc;

	spec->tenant = by->tenant;
	rc = rum_targets_add(dom, spec, id);
	snprintf(target, sizeof(target), "%s:%d", spec->host ? spec->host : "", spec->port);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "pull-target-add", by->tenant, target, rc,
				 rc ? NULL
				    : json_pack("{s:I,s:s,s:s}", "id", (json_int_t)*id, "protocol",
						spec->protocol, "username", spec->username));
	return rc;
}

/* A target as read, copied out of the store's result. */
struct rum_targets_copy {
	bool found;
	int64_t id;
	char *host, *protocol, *username, *auth, *known_host_key, *path_prefix, *transfer;
	int port;
	uint8_t *secret;
	size_t secret_len;
	bool trust_on_first_use, rest_raw, rest_plain_http;
	int64_t interval_s;
};

static char *rum_targets_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

static void rum_targets_copy_row(void *arg, const struct rum_store_target *t)
{
	struct rum_targets_copy *c = arg;

	c->found = true;
	c->id = t->id;
	c->host = rum_targets_dup(t->host);
	c->protocol = rum_targets_dup(t->protocol);
	c->username = rum_targets_dup(t->username);
	c->auth = rum_targets_dup(t->auth);
	c->known_host_key = rum_targets_dup(t->known_host_key);
	c->path_prefix = rum_targets_dup(t->path_prefix);
	c->transfer = rum_targets_dup(t->transfer);
	c->port = t->port;
	c->secret = malloc(t->secret_len ? t->secret_len : 1);
	if (!c->secret)
		abort();
	memcpy(c->secret, t->secret, t->secret_len);
	c->secret_len = t->secret_len;
	c->trust_on_first_use = t->trust_on_first_use;
	c->rest_raw = t->rest_raw;
	c->rest_plain_http = t->rest_plain_http;
	c->interval_s = t->interval_s;
}

static void rum_targets_copy_free(struct rum_targets_copy *c)
{
	free(c->host);
	free(c->protocol);
	free(c->username);
	free(c->auth);
	free(c->known_host_key);
	free(c->path_prefix);
	free(c->transfer);
	free(c->secret);
}

struct rum_targets_update_ctx {
	const struct rum_actor *by;
	int64_t id;
	const struct rum_target_change *ch;
	const uint8_t *key;
	char changed[512]; /* the fields changed, for the audit log */
	char where[300];   /* host:port after the change */
};

static void rum_targets_note(struct rum_targets_update_ctx *u, bool changed, const char *field)
{
	size_t n = strlen(u->changed);

	if (changed)
		snprintf(u->changed + n, sizeof(u->changed) - n, "%s%s", n ? "," : "", field);
}

static int rum_targets_update_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_targets_update_ctx *u = arg;
	const struct rum_target_change *ch = u->ch;
	struct rum_targets_copy cur = {0};
	struct rum_target_spec m;
	struct rum_store_target row = {0};
	uint8_t *sealed = NULL;
	char *plain = NULL, *host_key = NULL;
	size_t plain_len = 0;
	int rc;

	u->changed[0] = '\0';
	rc = rum_store_target_list(txn, u->by->tenant_id, u->id, rum_targets_copy_row, &cur);
	if (rc == 0 && !cur.found)
		rc = rum_err_set(RUM_ENOTFOUND, "no pull target %" PRId64, u->id);
	if (rc != 0)
		goto out;
	m = (struct rum_target_spec){
		.tenant = u->by->tenant,
		.host = ch->spec.host ? ch->spec.host : cur.host,
		.port = ch->spec.port ? ch->spec.port : cur.port,
		.protocol = ch->spec.protocol ? ch->spec.protocol : cur.protocol,
		.username = ch->spec.username ? ch->spec.username : cur.username,
		.known_host_key = ch->spec.known_host_key ? ch->spec.known_host_key
							  : cur.known_host_key,
		.trust_on_first_use = ch->tofu_set ? ch->spec.trust_on_first_use
						   : cur.trust_on_first_use,
		.interval_s = ch->interval_set ? ch->spec.interval_s : cur.interval_s,
		.path_prefix = ch->spec.path_prefix ? ch->spec.path_prefix : cur.path_prefix,
		.transfer = ch->spec.transfer ? ch->spec.transfer : cur.transfer,
		.rest_raw = ch->rest_raw_set ? ch->spec.rest_raw : cur.rest_raw,
		.rest_plain_http = ch->plain_http_set ? ch->spec.rest_plain_http
						      : cur.rest_plain_http};
	/* A port left as it was follows a change of protocol to its default. */
	if (!ch->spec.port && ch->spec.protocol && strcmp(ch->spec.protocol, cur.protocol) != 0)
		m.port = 0;
	/* RESTCONF moves files only by one-time URLs. */
	if (!ch->spec.transfer && strcmp(m.protocol, "restconf") == 0)
		m.transfer = "http";
	/* Pinning a key ends learning one; a new host or protocol forgets the
	 * old key unless one is given, and learns the new one when told to. */
	if (ch->spec.known_host_key && ch->spec.known_host_key[0] && !ch->tofu_set)
		m.trust_on_first_use = false;
	if (!ch->spec.known_host_key &&
	    ((ch->spec.host && strcmp(ch->spec.host, cur.host) != 0) ||
	     (ch->spec.protocol && strcmp(ch->spec.protocol, cur.protocol) != 0)))
		m.known_host_key = "";
	if (ch->spec.password || ch->spec.key) {
		m.password = ch->spec.password;
		m.password_len = ch->spec.password_len;
		m.key = ch->spec.key;
		m.key_len = ch->spec.key_len;
	} else {
		struct rum_target view = {.id = cur.id,
					  .tenant_id = u->by->tenant_id,
					  .host = cur.host,
					  .port = cur.port,
					  .protocol = cur.protocol,
					  .username = cur.username,
					  .secret = cur.secret,
					  .secret_len = cur.secret_len};

		/* The credential is bound to host, port, protocol and user:
		 * opened under the old ones, sealed again under the new. */
		rc = rum_targets_secret(&plain, &plain_len, u->key, &view);
		if (rc != 0)
			goto out;
		if (strcmp(cur.auth, "key") == 0) {
			m.key = plain;
			m.key_len = plain_len;
		} else {
			m.password = plain;
			m.password_len = plain_len;
		}
	}
	if (!m.trust_on_first_use && !m.known_host_key[0]) {
		rc = rum_err_set(RUM_EINVAL, "known_host_key or trust_on_first_use: true is needed "
					     "(the host key would be neither pinned nor learnt)");
		goto out;
	}
	rc = rum_targets_spec_host_key(&m, &host_key);
	if (rc == 0)
		rc = rum_targets_spec_check(&m);
	if (rc != 0)
		goto out;
	rum_targets_row(&row, &m, u->by->tenant_id, u->key, &sealed);
	row.id = cur.id;
	rc = rum_store_target_update(txn, &row);
	snprintf(u->where, sizeof(u->where), "%s:%d", row.host, row.port);
	rum_targets_note(u, strcmp(row.host, cur.host) != 0, "host");
	rum_targets_note(u, row.port != cur.port, "port");
	rum_targets_note(u, strcmp(row.protocol, cur.protocol) != 0, "protocol");
	rum_targets_note(u, strcmp(row.username, cur.username) != 0, "username");
	rum_targets_note(u, ch->spec.password || ch->spec.key, "credential");
	rum_targets_note(u, strcmp(row.known_host_key, cur.known_host_key) != 0, "known_host_key");
	rum_targets_note(u, row.trust_on_first_use != cur.trust_on_first_use, "trust_on_first_use");
	rum_targets_note(u, row.interval_s != cur.interval_s, "interval");
	rum_targets_note(u, strcmp(row.path_prefix, cur.path_prefix) != 0, "path_prefix");
	rum_targets_note(u, strcmp(row.transfer, cur.transfer) != 0, "transfer");
	rum_targets_note(u, row.rest_raw != cur.rest_raw, "rest_raw");
	rum_targets_note(u, row.rest_plain_http != cur.rest_plain_http, "plain_http");
out:
	if (plain) {
		rum_crypto_wipe(plain, plain_len);
		free(plain);
	}
	free(sealed);
	free(host_key);
	rum_targets_copy_free(&cur);
	return rc;
}

int rum_targets_update_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			  const struct rum_target_change *ch)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	struct rum_targets_update_ctx u = {.by = by, .id = id, .ch = ch, .key = key};
	char target[24];
	int rc = rum_targets_key_load(key, dom->key_file, true);

	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_targets_update_run, &u);
	rum_crypto_wipe(key, sizeof(key));
	snprintf(target, sizeof(target), "%" PRId64, id);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "pull-target-update", by->tenant, target, rc,
				 rc ? NULL
				    : json_pack("{s:s,s:s}", "target", u.where, "changed",
						u.changed));
	return rc;
}

int rum_targets_get_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
		       void (*target_cb)(void *arg, const struct rum_target *t),
		       void (*job_cb)(void *arg, const struct rum_collection *j), void *arg)
{
	int rc = rum_targets_list(dom, by->tenant, id, target_cb, arg);
	if (rc == 0 && id && job_cb)
		rc = rum_targets_jobs(dom, NULL, 0, id, 20, job_cb, arg);
	return rc;
}

int rum_targets_remove_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id)
{
	char target[24];
	int rc = rum_targets_remove(dom, by->tenant, id);
	snprintf(target, sizeof(target), "%" PRId64, id);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "pull-target-remove", by->tenant, target, rc, NULL);
	return rc;
}

int rum_targets_collect_by(struct rum_domain *dom, const struct rum_actor *by, int64_t id,
			   void (*cb)(void *arg, int64_t job_id, int64_t target_id), void *arg)
{
	char target[24];
	int rc = rum_targets_enqueue(dom, by->tenant, id, cb, arg);
	snprintf(target, sizeof(target), id ? "%" PRId64 : "all", id);
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "collect", by->tenant, target, rc, NULL);
	return rc;
}

struct rum_targets_collection_ctx {
	void (*cb)(void *arg, const struct rum_collection *j);
	void *arg;
	int64_t target_id;
};

static void rum_targets_collection_target(void *arg, const struct rum_collection *j)
{
	struct rum_targets_collection_ctx *c = arg;

	c->target_id = j->target_id;
}

static void rum_targets_collection_none(void *arg, const struct rum_target *t)
{
}

int rum_collections_get_by(struct rum_domain *dom, const struct rum_actor *by, int64_t job_id,
			   void (*cb)(void *arg, const struct rum_collection *j), void *arg)
{
	struct rum_targets_collection_ctx c = {cb, arg, 0};
	int rc = rum_targets_jobs(dom, &job_id, 1, 0, 0, rum_targets_collection_target, &c);
	/* A job of another tenant's target is reported exactly as a missing one. */
	if (rc == 0 && c.target_id)
		rc = rum_targets_list(dom, by->tenant, c.target_id, rum_targets_collection_none,
				      NULL);
	if (rc == 0 && !c.target_id)
		rc = RUM_ENOTFOUND;
	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "no collection %" PRId64, job_id);
	if (rc == 0)
		rc = rum_targets_jobs(dom, &job_id, 1, 0, 0, cb, arg);
	return rc;
}
