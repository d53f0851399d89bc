/* Connected mode's configuration (PROTOCOL.md 5): a tenant's upstream,
 * either CSSM's Smart Licensing REST API or another collector that speaks
 * the device protocol (a central rumd, CSLU, SSM On-Prem), with its proxy,
 * CA bundle, timeouts and sync schedule. Managed from the CLI (`rumd
 * upstream ...`) and the admin API alike; every change is audited.
 *
 * The OAuth2 client secret and a proxy password are write-only: sealed
 * with AES-256-GCM under secret_key_file (the key of pull-target
 * credentials), bound to the tenant and the field, and never logged,
 * printed, returned or audited. Knows no SQL, no HTTP. */
#ifndef RUM_DOMAIN_UPSTREAMS_H
#define RUM_DOMAIN_UPSTREAMS_H

#include "domain/access.h"
#include "domain/domain.h"
#include "lib/crypto.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

/* Cisco's endpoints (PROTOCOL.md 5.1), used unless an upstream names
 * others (another region, a test double). */
#define RUM_UPSTREAM_TOKEN_URL "https://cloudsso.cisco.com/as/token.oauth2"
#define RUM_UPSTREAM_API_URL "https://swapi.cisco.com/services/api/smart-accounts-and-licensing/v2/"

/* Defaults and bounds, in seconds. */
#define RUM_UPSTREAM_CONNECT_TIMEOUT_S 10
#define RUM_UPSTREAM_CONNECT_TIMEOUT_MAX 300
#define RUM_UPSTREAM_TIMEOUT_S 120
#define RUM_UPSTREAM_TIMEOUT_MAX 3600
#define RUM_UPSTREAM_INTERVAL_S 86400
#define RUM_UPSTREAM_INTERVAL_MIN 300
#define RUM_UPSTREAM_INTERVAL_MAX (366 * 86400)
#define RUM_UPSTREAM_SOON_MIN 60
#define RUM_UPSTREAM_SOON_MAX 86400
/* Longest client id, client secret, proxy password and account name. */
#define RUM_UPSTREAM_CLIENT_ID_MAX 256
#define RUM_UPSTREAM_SECRET_MAX 1024
#define RUM_UPSTREAM_NAME_MAX 256

/* What `rumd upstream set` and PUT .../upstream take: the whole
 * configuration, replacing what was there, except that a secret not given
 * is kept (see rum_upstreams_set). */
struct rum_upstream_spec {
	const char *tenant;
	const char *kind;                /* "cssm" | "collector" */
	const char *url;                 /* collector: its device endpoint URL */
	const char *token_url, *api_url; /* cssm: NULL or "" = Cisco's */
	const char *client_id;           /* cssm */
	const char *client_secret;       /* cssm; NULL = keep the stored one */
	size_t client_secret_len;
	/* cssm: both ids (digits), or both names (resolved with accounts/search). */
	const char *smart_account_id, *virtual_account_id;
	const char *smart_account, *virtual_account;
	/* NULL or "" = the node's upstream_proxy; "direct" = none; or an
	 * http(s) URL, a user in it but never a password. */
	const char *proxy;
	const char *proxy_password; /* NULL = keep the stored one while proxy is unchanged */
	size_t proxy_password_len;
	const char *ca_file;       /* NULL or "" = the node's upstream_ca_file */
	int64_t connect_timeout_s; /* 0 = RUM_UPSTREAM_CONNECT_TIMEOUT_S */
	int64_t timeout_s;         /* one request; 0 = RUM_UPSTREAM_TIMEOUT_S */
	int64_t interval_s;        /* sync schedule; 0 = RUM_UPSTREAM_INTERVAL_S */
	int64_t sync_soon_s;       /* sync this long after new reports; 0 = off */
};

/* An upstream as shown. Strings are valid during the callback. */
struct rum_upstream {
	int64_t tenant_id;
	const char *tenant; /* name */
	const char *kind;
	const char *url;                 /* "" unless collector */
	const char *token_url, *api_url; /* cssm: in effect (Cisco's when none set); else "" */
	bool token_url_default, api_url_default;
	const char *client_id; /* "" unless cssm */
	bool has_client_secret;
	const char *smart_account_id, *virtual_account_id; /* "" when named */
	const char *smart_account, *virtual_account;       /* "" when by id */
	const char *proxy; /* "" = the node's upstream_proxy, "direct", or a URL */
	bool has_proxy_password;
	const char *ca_file; /* "" = the node's upstream_ca_file */
	int connect_timeout_s, timeout_s;
	int64_t interval_s;
	int64_t sync_soon_s; /* 0 = off */
	const char *created_at, *updated_at;
	/* Sealed: only rum_upstreams_secret() opens them; never shown. */
	const uint8_t *client_secret_sealed, *proxy_password_sealed;
	size_t client_secret_sealed_len, proxy_password_sealed_len;
};

/* Checks an http(s) URL given for `field`: RUM_EINVAL naming the field and
 * what is wrong, never quoting the URL. with_user allows a user (and never
 * a password) in it, as a proxy URL has. For the settings as well. */
int rum_upstreams_url_check(const char *field, const char *url, bool with_user);

/* Checks the spec without the database: RUM_EINVAL naming the first bad
 * field (a client secret left to keep is checked by rum_upstreams_set). */
int rum_upstreams_spec_check(const struct rum_upstream_spec *s);

/* Creates or replaces the upstream of s->tenant in one transaction;
 * *created says which. A client secret not given is kept when the stored
 * upstream is a cssm one of the same client id; a proxy password not given
 * is kept while the proxy is the same URL (dropped otherwise). Audited as
 * upstream-set with the names of the fields changed, never a secret.
 * Errors: RUM_EINVAL (naming the field; nothing changed), RUM_ENOTFOUND
 * (tenant), RUM_EIO (key file), RUM_EUNAVAIL. */
int rum_upstreams_set(struct rum_domain *dom, const struct rum_actor *by,
		      const struct rum_upstream_spec *s, bool *created);

/* The upstream of tenant (RUM_ENOTFOUND when it has none), or of every
 * tenant (tenant NULL; only_tenant_id non-zero: of that tenant only, none
 * being no error), in tenant name order. */
int rum_upstreams_list(struct rum_domain *dom, const char *tenant, int64_t only_tenant_id,
		       void (*cb)(void *arg, const struct rum_upstream *u), void *arg);

/* Removes the upstream of tenant; audited as upstream-remove.
 * RUM_ENOTFOUND (tenant, or it has none). */
int rum_upstreams_remove(struct rum_domain *dom, const struct rum_actor *by, const char *tenant);

/* Opens a sealed field of u ("client_secret" or "proxy_password"): *out
 * malloc'd, NUL-terminated; the caller wipes (rum_crypto_wipe) and frees it.
 * RUM_ENOTFOUND when u has none, RUM_EAUTH when it does not open (another
 * key file, or the row was altered). */
int rum_upstreams_secret(char **out, size_t *len, const uint8_t key[RUM_SECRET_KEY_LEN],
			 const struct rum_upstream *u, const char *field);

#endif
