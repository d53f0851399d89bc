#include "domain/upstreams.h"

#include "db/db.h"
#include "db/store_tenants.h"
#include "db/store_upstreams.h"
#include "domain/audit.h"
#include "domain/internal.h"
#include "domain/targets.h"
#include "lib/err.h"
#include "lib/text.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

/* --- checks --- */

int rum_upstreams_url_check(const char *field, const char *url, bool with_user)
{
	struct rum_text_url u;
	const char *why = "";

	if (rum_text_url_split(&u, url, &why) != 0)
		return rum_err_set(RUM_EINVAL, "%s: %s (expected http[s]://HOST[:PORT]%s)", field,
				   why, with_user ? "" : "[/PATH]");
	/* Refused rather than stored: a password in a URL is shown wherever
	 * the URL is (show, the API, check-config, logs). */
	if (u.has_password)
		return rum_err_set(RUM_EINVAL,
				   "%s: a password does not belong in the URL, where it would be "
				   "shown; %s",
				   field,
				   with_user ? "give it on its own (--proxy-password-file FILE, "
					       "\"proxy_password\" in the API, "
					       "upstream_proxy_password_file in the settings)"
					     : "this URL takes none");
	if (u.has_user && !with_user)
		return rum_err_set(RUM_EINVAL,
				   "%s: a user name (USER@) does not belong in this URL", field);
	if (with_user && strcmp(u.rest, "") != 0 && strcmp(u.rest, "/") != 0)
		return rum_err_set(RUM_EINVAL,
				   "%s: a proxy URL has no path (http://[USER@]HOST:PORT)", field);
	return 0;
}

static bool rum_upstreams_given(const char *s)
{
	return s && s[0];
}

/* Printable ASCII without spaces (a client id). */
static bool rum_upstreams_token_ok(const char *s, size_t max)
{
	size_t n = strlen(s);

	if (n == 0 || n > max)
		return false;
	for (size_t i = 0; i < n; i++)
		if (s[i] <= ' ' || s[i] > '~')
			return false;
	return true;
}

/* 1 to 20 decimal digits (CSSM's account ids). */
static bool rum_upstreams_id_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && n <= 20 && strspn(s, "0123456789") == n;
}

static bool rum_upstreams_name_ok(const char *s)
{
	size_t n = strlen(s);

	return n >= 1 && rum_text_printable_utf8(s, n) &&
	       rum_text_utf8_chars(s, n) <= RUM_UPSTREAM_NAME_MAX;
}

/* A secret of 1 to RUM_UPSTREAM_SECRET_MAX printable characters; never
 * quoted in the message. */
static int rum_upstreams_secret_check(const char *field, const char *s, size_t len)
{
	if (len == 0 || len > RUM_UPSTREAM_SECRET_MAX || !rum_text_printable_utf8(s, len))
		return rum_err_set(RUM_EINVAL,
				   "%s: 1 to %d printable characters (no line breaks or control "
				   "characters)",
				   field, RUM_UPSTREAM_SECRET_MAX);
	return 0;
}

/* The CA bundle must be a file rumd can read now: a typo is found when it
 * is made, not at the first sync. */
static int rum_upstreams_ca_file_check(const char *path)
{
	struct stat st;
	int fd;

	if (path[0] != '/' || strlen(path) > 4096 || !rum_text_printable_utf8(path, strlen(path)))
		return rum_err_set(RUM_EINVAL, "ca-file: an absolute path of a PEM file is needed");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY | O_NONBLOCK);
	if (fd < 0)
		return rum_err_set(RUM_EINVAL, "ca-file: %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rum_err_set(RUM_EINVAL, "ca-file: %s is not a regular file", path);
	}
	close(fd);
	return 0;
}

static int rum_upstreams_only(const char *field, const char *value, const char *kind)
{
	if (rum_upstreams_given(value))
		return rum_err_set(RUM_EINVAL, "%s: only for kind %s", field, kind);
	return 0;
}

static int rum_upstreams_accounts_check(const struct rum_upstream_spec *s)
{
	bool ids = rum_upstreams_given(s->smart_account_id) ||
		   rum_upstreams_given(s->virtual_account_id);
	bool names = rum_upstreams_given(s->smart_account) ||
		     rum_upstreams_given(s->virtual_account);

	if (ids && names)
		return rum_err_set(RUM_EINVAL, "smart-account-id, smart-account: give the accounts "
					       "by ids or by names, not both");
	if (!ids && !names)
		return rum_err_set(RUM_EINVAL,
				   "smart-account-id: a cssm upstream needs its Smart Account and "
				   "Virtual Account, by ids (smart-account-id, virtual-account-id) "
				   "or by names (smart-account, virtual-account)");
	if (ids && !rum_upstreams_given(s->smart_account_id))
		return rum_err_set(RUM_EINVAL, "smart-account-id: needed with virtual-account-id");
	if (ids && !rum_upstreams_given(s->virtual_account_id))
		return rum_err_set(RUM_EINVAL, "virtual-account-id: needed with smart-account-id");
	if (ids && !rum_upstreams_id_ok(s->smart_account_id))
		return rum_err_set(RUM_EINVAL, "smart-account-id: 1 to 20 digits");
	if (ids && !rum_upstreams_id_ok(s->virtual_account_id))
		return rum_err_set(RUM_EINVAL, "virtual-account-id: 1 to 20 digits");
	if (names && !rum_upstreams_given(s->smart_account))
		return rum_err_set(RUM_EINVAL, "smart-account: needed with virtual-account");
	if (names && !rum_upstreams_given(s->virtual_account))
		return rum_err_set(RUM_EINVAL, "virtual-account: needed with smart-account");
	if (names && !rum_upstreams_name_ok(s->smart_account))
		return rum_err_set(RUM_EINVAL, "smart-account: 1 to %d printable characters",
				   RUM_UPSTREAM_NAME_MAX);
	if (names && !rum_upstreams_name_ok(s->virtual_account))
		return rum_err_set(RUM_EINVAL, "virtual-account: 1 to %d printable characters",
				   RUM_UPSTREAM_NAME_MAX);
	return 0;
}

static int rum_upstreams_cssm_check(const struct rum_upstream_spec *s)
{
	int rc;

	if (rum_upstreams_given(s->url))
		return rum_err_set(RUM_EINVAL, "url: only for kind collector (a cssm upstream "
					       "takes token-url and api-url)");
	if (!s->client_id || !rum_upstreams_token_ok(s->client_id, RUM_UPSTREAM_CLIENT_ID_MAX))
		return rum_err_set(RUM_EINVAL,
				   "client-id: the OAuth2 client id, 1 to %d printable characters "
				   "without spaces",
				   RUM_UPSTREAM_CLIENT_ID_MAX);
	if (s->client_secret && (rc = rum_upstreams_secret_check("client-secret", s->client_secret,
								 s->client_secret_len)) != 0)
		return rc;
	if (rum_upstreams_given(s->token_url) &&
	    (rc = rum_upstreams_url_check("token-url", s->token_url, false)) != 0)
		return rc;
	if (rum_upstreams_given(s->api_url) &&
	    (rc = rum_upstreams_url_check("api-url", s->api_url, false)) != 0)
		return rc;
	return rum_upstreams_accounts_check(s);
}

static int rum_upstreams_collector_check(const struct rum_upstream_spec *s)
{
	int rc;

	if (!rum_upstreams_given(s->url))
		return rum_err_set(RUM_EINVAL, "url: a collector upstream needs the URL of its "
					       "device endpoint (such as "
					       "https://central:8182/cslu/v1/pi/TENANT)");
	if ((rc = rum_upstreams_url_check("url", s->url, false)) != 0)
		return rc;
	if (s->client_secret)
		return rum_err_set(RUM_EINVAL, "client-secret: only for kind cssm");
	if ((rc = rum_upstreams_only("client-id", s->client_id, "cssm")) != 0 ||
	    (rc = rum_upstreams_only("token-url", s->token_url, "cssm")) != 0 ||
	    (rc = rum_upstreams_only("api-url", s->api_url, "cssm")) != 0 ||
	    (rc = rum_upstreams_only("smart-account-id", s->smart_account_id, "cssm")) != 0 ||
	    (rc = rum_upstreams_only("virtual-account-id", s->virtual_account_id, "cssm")) != 0 ||
	    (rc = rum_upstreams_only("smart-account", s->smart_account, "cssm")) != 0)
		return rc;
	return rum_upstreams_only("virtual-account", s->virtual_account, "cssm");
}

static int rum_upstreams_proxy_check(const struct rum_upstream_spec *s)
{
	bool own = rum_upstreams_given(s->proxy) && strcmp(s->proxy, "direct") != 0;
	struct rum_text_url u;
	const char *why;
	int rc;

	if (own && (rc = rum_upstreams_url_check("proxy", s->proxy, true)) != 0)
		return rc;
	if (!s->proxy_password)
		return 0;
	if (!own)
		return rum_err_set(RUM_EINVAL,
				   "proxy-password: only with a proxy URL of this upstream (the "
				   "node's upstream_proxy takes upstream_proxy_password_file)");
	if (rum_text_url_split(&u, s->proxy, &why) != 0 || !u.has_user)
		return rum_err_set(RUM_EINVAL, "proxy-password: the proxy URL names no user "
					       "(http://USER@HOST:PORT)");
	return rum_upstreams_secret_check("proxy-password", s->proxy_password,
					  s->proxy_password_len);
}

static int rum_upstreams_range(const char *field, int64_t v, int64_t min, int64_t max,
			       const char *bounds)
{
	if (v != 0 && (v < min || v > max))
		return rum_err_set(RUM_EINVAL, "%s: %s", field, bounds);
	return 0;
}

int rum_upstreams_spec_check(const struct rum_upstream_spec *s)
{
	bool cssm = s->kind && strcmp(s->kind, "cssm") == 0;
	bool collector = s->kind && strcmp(s->kind, "collector") == 0;
	int rc;

	if (!s->tenant || !rum_text_tenant_name_ok(s->tenant))
		return rum_err_set(RUM_EINVAL, "tenant: a tenant name is required");
	if (!cssm && !collector)
		return rum_err_set(RUM_EINVAL, "kind: expected cssm (Cisco's Smart Licensing REST "
					       "API) or collector (another collector's device "
					       "endpoint)");
	rc = cssm ? rum_upstreams_cssm_check(s) : rum_upstreams_collector_check(s);
	if (rc == 0)
		rc = rum_upstreams_proxy_check(s);
	if (rc == 0 && rum_upstreams_given(s->ca_file))
		rc = rum_upstreams_ca_file_check(s->ca_file);
	if (rc == 0)
		rc = rum_upstreams_range("connect-timeout", s->connect_timeout_s, 1,
					 RUM_UPSTREAM_CONNECT_TIMEOUT_MAX, "1 to 300 seconds");
	if (rc == 0)
		rc = rum_upstreams_range("timeout", s->timeout_s, 1, RUM_UPSTREAM_TIMEOUT_MAX,
					 "1 to 3600 seconds");
	if (rc == 0)
		rc = rum_upstreams_range("interval", s->interval_s, RUM_UPSTREAM_INTERVAL_MIN,
					 RUM_UPSTREAM_INTERVAL_MAX, "5 minutes to 366 days");
	if (rc == 0)
		rc = rum_upstreams_range("sync-soon", s->sync_soon_s, RUM_UPSTREAM_SOON_MIN,
					 RUM_UPSTREAM_SOON_MAX,
					 "1 minute to 1 day after new reports");
	return rc;
}

/* --- sealing --- */

/* What a sealed field is bound to: moved to another tenant's row or to the
 * other column, it does not open. */
static void rum_upstreams_aad(char *out, size_t size, int64_t tenant_id, const char *field)
{
	snprintf(out, size, "rumd upstream secret v1\n%" PRId64 "\n%s", tenant_id, field);
}

static void rum_upstreams_seal(uint8_t **out, size_t *out_len, const uint8_t *key,
			       int64_t tenant_id, const char *field, const char *plain, size_t len)
{
	char aad[128];

	rum_upstreams_aad(aad, sizeof(aad), tenant_id, field);
	rum_crypto_seal(out, out_len, key, aad, strlen(aad), plain, len);
}

int rum_upstreams_secret(char **out, size_t *len, const uint8_t key[RUM_SECRET_KEY_LEN],
			 const struct rum_upstream *u, const char *field)
{
	bool client = strcmp(field, "client_secret") == 0;
	const uint8_t *sealed = client ? u->client_secret_sealed : u->proxy_password_sealed;
	size_t sealed_len = client ? u->client_secret_sealed_len : u->proxy_password_sealed_len;
	char aad[128];

	*out = NULL;
	if (!sealed || sealed_len == 0)
		return rum_err_set(RUM_ENOTFOUND, "the upstream of tenant '%s' has no %s",
				   u->tenant, field);
	rum_upstreams_aad(aad, sizeof(aad), u->tenant_id, field);
	if (rum_crypto_open(out, len, key, aad, strlen(aad), sealed, sealed_len) != 0)
		return rum_err_set(RUM_EAUTH,
				   "the stored %s of tenant '%s' does not open with this "
				   "secret_key_file (another node's key?)",
				   field, u->tenant);
	return 0;
}

/* --- reading --- */

static void rum_upstreams_view(struct rum_upstream *out, const struct rum_store_upstream *r)
{
	bool cssm = strcmp(r->kind, "cssm") == 0;

	*out = (struct rum_upstream){.tenant_id = r->tenant_id,
				     .tenant = r->tenant,
				     .kind = r->kind,
				     .url = r->url,
				     .token_url = !cssm             ? ""
						  : r->token_url[0] ? r->token_url
								    : RUM_UPSTREAM_TOKEN_URL,
				     .api_url = !cssm           ? ""
						: r->api_url[0] ? r->api_url
								: RUM_UPSTREAM_API_URL,
				     .token_url_default = cssm && !r->token_url[0],
				     .api_url_default = cssm && !r->api_url[0],
				     .client_id = r->client_id,
				     .has_client_secret = r->client_secret_len > 0,
				     .smart_account_id = r->smart_account_id,
				     .virtual_account_id = r->virtual_account_id,
				     .smart_account = r->smart_account,
				     .virtual_account = r->virtual_account,
				     .proxy = r->proxy,
				     .has_proxy_password = r->proxy_password_len > 0,
				     .ca_file = r->ca_file,
				     .connect_timeout_s = r->connect_timeout_s,
				     .timeout_s = r->request_timeout_s,
				     .interval_s = r->interval_s,
				     .sync_soon_s = r->sync_soon_s,
				     .created_at = r->created_at,
				     .updated_at = r->updated_at,
				     .client_secret_sealed = r->client_secret,
				     .client_secret_sealed_len = r->client_secret_len,
				     .proxy_password_sealed = r->proxy_password,
				     .proxy_password_sealed_len = r->proxy_password_len};
}

struct rum_upstreams_query {
	const char *tenant;
	int64_t only;
	void (*cb)(void *arg, const struct rum_upstream *u);
	void *arg;
	size_t n;
};

static void rum_upstreams_query_row(void *arg, const struct rum_store_upstream *row)
{
	struct rum_upstreams_query *q = arg;
	struct rum_upstream u;

	rum_upstreams_view(&u, row);
	q->n++;
	q->cb(q->arg, &u);
}

static int rum_upstreams_tenant(struct rum_db_txn *txn, const char *tenant, int64_t *id)
{
	int rc = rum_store_tenant_find(txn, tenant, id);

	if (rc == RUM_ENOTFOUND)
		return rum_err_set(RUM_ENOTFOUND, "unknown tenant '%s'", tenant);
	return rc;
}

static int rum_upstreams_list_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_upstreams_query *q = arg;
	int64_t tenant_id = q->only;
	int rc = 0;

	q->n = 0;
	if (q->tenant)
		rc = rum_upstreams_tenant(txn, q->tenant, &tenant_id);
	if (rc == 0)
		rc = rum_store_upstream_list(txn, tenant_id, false, rum_upstreams_query_row, q);
	if (rc == 0 && q->tenant && q->n == 0)
		rc = rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no upstream", q->tenant);
	return rc;
}

int rum_upstreams_list(struct rum_domain *dom, const char *tenant, int64_t only_tenant_id,
		       void (*cb)(void *arg, const struct rum_upstream *u), void *arg)
{
	struct rum_upstreams_query q = {
		.tenant = tenant, .only = only_tenant_id, .cb = cb, .arg = arg};

	return rum_db_transact(dom->db, rum_upstreams_list_run, &q);
}

/* --- set --- */

/* The stored upstream a set replaces, copied out of the store's result. */
struct rum_upstreams_copy {
	bool found;
	char *kind, *url, *token_url, *api_url, *client_id, *sa_id, *va_id, *sa, *va, *proxy,
		*ca_file;
	uint8_t *secret, *proxy_pw;
	size_t secret_len, proxy_pw_len;
	int connect_timeout_s, request_timeout_s;
	int64_t interval_s, sync_soon_s;
};

static char *rum_upstreams_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

static uint8_t *rum_upstreams_dup_bytes(const uint8_t *p, size_t len)
{
	uint8_t *d;

	if (!p || len == 0)
		return NULL;
	d = malloc(len);
	if (!d)
		abort();
	memcpy(d, p, len);
	return d;
}

static void rum_upstreams_copy_row(void *arg, const struct rum_store_upstream *u)
{
	struct rum_upstreams_copy *c = arg;

	c->found = true;
	c->kind = rum_upstreams_dup(u->kind);
	c->url = rum_upstreams_dup(u->url);
	c->token_url = rum_upstreams_dup(u->token_url);
	c->api_url = rum_upstreams_dup(u->api_url);
	c->client_id = rum_upstreams_dup(u->client_id);
	c->sa_id = rum_upstreams_dup(u->smart_account_id);
	c->va_id = rum_upstreams_dup(u->virtual_account_id);
	c->sa = rum_upstreams_dup(u->smart_account);
	c->va = rum_upstreams_dup(u->virtual_account);
	c->proxy = rum_upstreams_dup(u->proxy);
	c->ca_file = rum_upstreams_dup(u->ca_file);
	c->secret = rum_upstreams_dup_bytes(u->client_secret, u->client_secret_len);
	c->secret_len = c->secret ? u->client_secret_len : 0;
	c->proxy_pw = rum_upstreams_dup_bytes(u->proxy_password, u->proxy_password_len);
	c->proxy_pw_len = c->proxy_pw ? u->proxy_password_len : 0;
	c->connect_timeout_s = u->connect_timeout_s;
	c->request_timeout_s = u->request_timeout_s;
	c->interval_s = u->interval_s;
	c->sync_soon_s = u->sync_soon_s;
}

static void rum_upstreams_copy_free(struct rum_upstreams_copy *c)
{
	char **s[] = {&c->kind,  &c->url, &c->token_url, &c->api_url, &c->client_id, &c->sa_id,
		      &c->va_id, &c->sa,  &c->va,        &c->proxy,   &c->ca_file};

	for (size_t i = 0; i < sizeof(s) / sizeof(s[0]); i++) {
		free(*s[i]);
		*s[i] = NULL;
	}
	free(c->secret);
	free(c->proxy_pw);
}

struct rum_upstreams_set_ctx {
	const struct rum_upstream_spec *s;
	const uint8_t *key; /* NULL when no secret is given */
	bool created;
	char changed[512]; /* names of the fields changed, for the audit log */
};

static void rum_upstreams_note(struct rum_upstreams_set_ctx *x, bool changed, const char *field)
{
	size_t n = strlen(x->changed);

	if (changed)
		snprintf(x->changed + n, sizeof(x->changed) - n, "%s%s", n ? "," : "", field);
}

static bool rum_upstreams_differ(const char *a, const char *b)
{
	return strcmp(a ? a : "", b ? b : "") != 0;
}

static void rum_upstreams_note_all(struct rum_upstreams_set_ctx *x,
				   const struct rum_upstreams_copy *c,
				   const struct rum_store_upstream *r, bool new_secret,
				   bool new_proxy_pw)
{
	x->changed[0] = '\0';
	rum_upstreams_note(x, rum_upstreams_differ(c->kind, r->kind), "kind");
	rum_upstreams_note(x, rum_upstreams_differ(c->url, r->url), "url");
	rum_upstreams_note(x, rum_upstreams_differ(c->token_url, r->token_url), "token_url");
	rum_upstreams_note(x, rum_upstreams_differ(c->api_url, r->api_url), "api_url");
	rum_upstreams_note(x, rum_upstreams_differ(c->client_id, r->client_id), "client_id");
	rum_upstreams_note(x, new_secret || (c->secret && !r->client_secret), "client_secret");
	rum_upstreams_note(x, rum_upstreams_differ(c->sa_id, r->smart_account_id),
			   "smart_account_id");
	rum_upstreams_note(x, rum_upstreams_differ(c->va_id, r->virtual_account_id),
			   "virtual_account_id");
	rum_upstreams_note(x, rum_upstreams_differ(c->sa, r->smart_account), "smart_account");
	rum_upstreams_note(x, rum_upstreams_differ(c->va, r->virtual_account), "virtual_account");
	rum_upstreams_note(x, rum_upstreams_differ(c->proxy, r->proxy), "proxy");
	rum_upstreams_note(x, new_proxy_pw || (c->proxy_pw && !r->proxy_password),
			   "proxy_password");
	rum_upstreams_note(x, rum_upstreams_differ(c->ca_file, r->ca_file), "ca_file");
	rum_upstreams_note(x, c->connect_timeout_s != r->connect_timeout_s, "connect_timeout");
	rum_upstreams_note(x, c->request_timeout_s != r->request_timeout_s, "timeout");
	rum_upstreams_note(x, c->interval_s != r->interval_s, "interval");
	rum_upstreams_note(x, c->sync_soon_s != r->sync_soon_s, "sync_soon");
}

static const char *rum_upstreams_or(const char *s, bool use)
{
	return use && s ? s : "";
}

static int rum_upstreams_set_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_upstreams_set_ctx *x = arg;
	const struct rum_upstream_spec *s = x->s;
	bool cssm = strcmp(s->kind, "cssm") == 0;
	struct rum_upstreams_copy cur = {0};
	struct rum_store_upstream row;
	uint8_t *secret = NULL, *proxy_pw = NULL;
	int64_t tenant_id = 0;
	int rc = rum_upstreams_tenant(txn, s->tenant, &tenant_id);

	if (rc == 0)
		rc = rum_store_upstream_list(txn, tenant_id, true, rum_upstreams_copy_row, &cur);
	if (rc != 0)
		goto out;
	row = (struct rum_store_upstream){
		.tenant_id = tenant_id,
		.kind = s->kind,
		.url = rum_upstreams_or(s->url, !cssm),
		.token_url = rum_upstreams_or(s->token_url, cssm),
		.api_url = rum_upstreams_or(s->api_url, cssm),
		.client_id = rum_upstreams_or(s->client_id, cssm),
		.smart_account_id = rum_upstreams_or(s->smart_account_id, cssm),
		.virtual_account_id = rum_upstreams_or(s->virtual_account_id, cssm),
		.smart_account = rum_upstreams_or(s->smart_account, cssm),
		.virtual_account = rum_upstreams_or(s->virtual_account, cssm),
		.proxy = rum_upstreams_or(s->proxy, true),
		.ca_file = rum_upstreams_or(s->ca_file, true),
		.connect_timeout_s = (int)(s->connect_timeout_s ? s->connect_timeout_s
								: RUM_UPSTREAM_CONNECT_TIMEOUT_S),
		.request_timeout_s = (int)(s->timeout_s ? s->timeout_s : RUM_UPSTREAM_TIMEOUT_S),
		.interval_s = s->interval_s ? s->interval_s : RUM_UPSTREAM_INTERVAL_S,
		.sync_soon_s = s->sync_soon_s};
	if (cssm && s->client_secret) {
		rum_upstreams_seal(&secret, &row.client_secret_len, x->key, tenant_id,
				   "client_secret", s->client_secret, s->client_secret_len);
		row.client_secret = secret;
	} else if (cssm && cur.found && strcmp(cur.kind, "cssm") == 0 &&
		   strcmp(cur.client_id, row.client_id) == 0 && cur.secret) {
		/* Sealed for this tenant and field: it stays valid as it is. */
		row.client_secret = cur.secret;
		row.client_secret_len = cur.secret_len;
	} else if (cssm) {
		rc = rum_err_set(RUM_EINVAL, "client-secret: needed for a new cssm upstream or a "
					     "new client id (it is never shown, so give it again)");
		goto out;
	}
	if (s->proxy_password) {
		rum_upstreams_seal(&proxy_pw, &row.proxy_password_len, x->key, tenant_id,
				   "proxy_password", s->proxy_password, s->proxy_password_len);
		row.proxy_password = proxy_pw;
	} else if (cur.found && cur.proxy_pw && strcmp(cur.proxy, row.proxy) == 0) {
		/* Kept only for the very proxy it was given for. */
		row.proxy_password = cur.proxy_pw;
		row.proxy_password_len = cur.proxy_pw_len;
	}
	rc = rum_store_upstream_set(txn, &row, &x->created);
	if (rc == 0 && cur.found) {
		rum_upstreams_note_all(x, &cur, &row, s->client_secret != NULL,
				       s->proxy_password != NULL);
	} else if (rc == 0) {
		struct rum_upstreams_copy none = {0};

		rum_upstreams_note_all(x, &none, &row, s->client_secret != NULL,
				       s->proxy_password != NULL);
	}
out:
	free(secret);
	free(proxy_pw);
	rum_upstreams_copy_free(&cur);
	return rc;
}

int rum_upstreams_set(struct rum_domain *dom, const struct rum_actor *by,
		      const struct rum_upstream_spec *s, bool *created)
{
	uint8_t key[RUM_SECRET_KEY_LEN];
	struct rum_upstreams_set_ctx x = {.s = s};
	int rc = rum_upstreams_spec_check(s);

	*created = false;
	if (rc == 0 && (s->client_secret || s->proxy_password)) {
		rc = rum_targets_key_load(key, dom->key_file, true);
		x.key = key;
	}
	if (rc == 0)
		rc = rum_db_transact(dom->db, rum_upstreams_set_run, &x);
	rum_crypto_wipe(key, sizeof(key));
	if (rc == 0)
		*created = x.created;
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "upstream-set", s->tenant, "upstream", rc,
				 rc ? NULL
				    : json_pack("{s:s,s:b,s:s}", "kind", s->kind, "created",
						x.created, "changed", x.changed));
	return rc;
}

/* --- remove --- */

struct rum_upstreams_remove_ctx {
	const char *tenant;
	char kind[16];
};

static int rum_upstreams_remove_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_upstreams_remove_ctx *x = arg;
	int64_t tenant_id = 0;
	int rc = rum_upstreams_tenant(txn, x->tenant, &tenant_id);

	if (rc == 0)
		rc = rum_store_upstream_remove(txn, tenant_id, x->kind);
	if (rc == RUM_ENOTFOUND && tenant_id)
		rc = rum_err_set(RUM_ENOTFOUND, "tenant '%s' has no upstream", x->tenant);
	return rc;
}

int rum_upstreams_remove(struct rum_domain *dom, const struct rum_actor *by, const char *tenant)
{
	struct rum_upstreams_remove_ctx x = {.tenant = tenant};
	int rc = tenant && rum_text_tenant_name_ok(tenant)
			 ? rum_db_transact(dom->db, rum_upstreams_remove_run, &x)
			 : rum_err_set(RUM_EINVAL, "tenant: a tenant name is required");

	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "upstream-remove", tenant, "upstream", rc,
				 rc ? NULL : json_pack("{s:s}", "kind", x.kind));
	return rc;
}
