/* Device REST client, see rest_client.h. */
#include "collector/rest_client.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/http_client.h"
#include "lib/text.h"

#define RC_BASE "/smartlic-service"
#define RC_MAX_IMPORT (64u << 20) /* an ACK or policy file sent to a device */
#define RC_QUOTE 160              /* body bytes quoted in an error message */

struct rum_rest_client {
	struct rum_http_client *http;
	char *base; /* scheme://host:port/smartlic-service (or base_path), never with credentials */
	char *label; /* names the client in messages: "device REST", "RESTCONF" */
	char *username, *password;
	bool plain_http, tofu, pinned;
};

/* ---- options ---- */

/* A host name or an IPv4/IPv6 literal: nothing that could bend the URL. */
static bool rc_host_valid(const char *h)
{
	static const char ok[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789.-_:";
	size_t n = strlen(h);

	return n > 0 && n <= 253 && strspn(h, ok) == n;
}

static bool rc_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* A path of letters, digits and - _ . / only, starting with '/'. */
static bool rc_base_path_valid(const char *p)
{
	static const char ok[] =
		"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_./";
	size_t n = strlen(p);

	return n >= 1 && n <= 64 && p[0] == '/' && strspn(p, ok) == n && !strstr(p, "..");
}

static int rc_check_options(const struct rum_rest_client_options *o)
{
	if (o->base_path && !rc_base_path_valid(o->base_path))
		return rum_err_set(RUM_EINVAL, "device REST: base path must be /NAME[/NAME...]");
	if (!o->host || !rc_host_valid(o->host))
		return rum_err_set(RUM_EINVAL, "device REST: host must be a name or an IP address");
	if (o->port < 1 || o->port > 65535)
		return rum_err_set(RUM_EINVAL, "device REST: port must be 1..65535");
	if (!o->username || !o->username[0] || strchr(o->username, ':') ||
	    rc_has_control(o->username))
		return rum_err_set(RUM_EINVAL, "device REST: username must be 1 or more characters "
					       "without ':' or control characters");
	if (!o->password)
		return rum_err_set(RUM_EINVAL, "device REST: no password");
	if (o->connect_timeout_ms < 0 || o->timeout_ms < 0)
		return rum_err_set(RUM_EINVAL, "device REST: timeouts must not be negative");
	return 0;
}

static char *rc_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

int rum_rest_client_new(struct rum_rest_client **out, const struct rum_rest_client_options *o)
{
	const char *label = o->label && o->label[0] ? o->label : "device REST";
	/* Devices have self-signed certificates: chain and name are not
	 * checked, the pin is the check. */
	struct rum_http_client_options ho = {.label = label,
					     .allow_http = o->plain_http,
					     .verify = false,
					     .pin = o->pin,
					     .note_pin = !o->plain_http,
					     .connect_timeout_ms = o->connect_timeout_ms,
					     .timeout_ms = o->timeout_ms,
					     .max_reply = o->max_reply,
					     .cancel = o->cancel};
	struct rum_rest_client *c;
	bool v6;
	int rc;

	*out = NULL;
	if ((rc = rc_check_options(o)) < 0)
		return rc;
	c = calloc(1, sizeof(*c));
	if (!c)
		abort();
	if ((rc = rum_http_client_new(&c->http, &ho)) < 0) {
		free(c);
		return rc;
	}
	v6 = strchr(o->host, ':') != NULL;
	if (asprintf(&c->base, "%s://%s%s%s:%d%s", o->plain_http ? "http" : "https", v6 ? "[" : "",
		     o->host, v6 ? "]" : "", o->port, o->base_path ? o->base_path : RC_BASE) < 0)
		abort();
	c->label = rc_strdup(label);
	c->username = rc_strdup(o->username);
	c->password = rc_strdup(o->password);
	c->pinned = o->pin && o->pin[0];
	c->plain_http = o->plain_http;
	c->tofu = o->trust_on_first_use;
	*out = c;
	return 0;
}

void rum_rest_client_free(struct rum_rest_client *c)
{
	if (!c)
		return;
	rum_http_client_free(c->http);
	rum_crypto_wipe(c->password, strlen(c->password));
	free(c->password);
	free(c->username);
	free(c->base);
	free(c->label);
	free(c);
}

char *rum_rest_client_seen_pin(const struct rum_rest_client *c)
{
	const char *pin = rum_http_client_seen_pin(c->http);

	return pin ? rc_strdup(pin) : NULL;
}

/* ---- one transfer ---- */

static int rc_status(const struct rum_rest_client *c, const struct rum_http_reply *r,
		     const char *url)
{
	char quote[RC_QUOTE * 4 + 8];

	if (r->status >= 200 && r->status < 300)
		return 0;
	rum_text_quote(quote, sizeof(quote), r->body, r->len, RC_QUOTE);
	if (r->status == 401 || r->status == 403)
		return rum_err_set(RUM_EAUTH, "%s %s: credentials refused (HTTP %ld): %s", c->label,
				   url, r->status, quote);
	return rum_err_set(RUM_EIO, "%s %s: HTTP %ld: %s", c->label, url, r->status, quote);
}

/* With no pin and no trust on first use the device is not trusted: only
 * the TLS handshake is made (no credentials leave), so that the refusal can
 * name the key the device presents for an operator to confirm. */
static int rc_untrusted(struct rum_rest_client *c)
{
	struct rum_http_request req = {.url = c->base, .connect_only = true};
	struct rum_http_reply reply;
	const char *seen;
	int rc = rum_http_client_do(c->http, &req, &reply);

	rum_http_reply_dispose(&reply);
	if (rc < 0)
		return rc;
	seen = rum_http_client_seen_pin(c->http);
	return rum_err_set(RUM_EFORBIDDEN,
			   "%s %s: the device's certificate is not "
			   "trusted: no pin is stored and trust on first use is off "
			   "(it presents %s)",
			   c->label, c->base, seen ? seen : "a key that could not be read");
}

struct rc_req {
	const char *path; /* under the base path */
	const char *body; /* NULL: GET, else POST of len bytes */
	size_t len;
	const char *content_type; /* of the body */
	const char *accept;       /* NULL: application/json */
	bool any_status;          /* an HTTP status but 401/403 is for the caller to read */
	long status;              /* out: the HTTP status, 0 when none arrived */
};

/* One request; *reply gets the answer (dispose it even on failure). With
 * trust on first use, the first key seen is pinned for the client's later
 * requests: a device does not change keys within a collection. */
static int rc_request(struct rum_rest_client *c, struct rc_req *r, struct rum_http_reply *reply)
{
	char accept[96], ct[96], *url;
	const char *headers[3];
	struct rum_http_request req = {0};
	const char *seen;
	int rc;

	memset(reply, 0, sizeof(*reply));
	if (!c->plain_http && !c->pinned && !c->tofu)
		return rc_untrusted(c);
	if (asprintf(&url, "%s%s", c->base, r->path) < 0)
		abort();
	snprintf(accept, sizeof(accept), "Accept: %s", r->accept ? r->accept : "application/json");
	snprintf(ct, sizeof(ct), "Content-Type:%s%s", r->content_type ? " " : "",
		 r->content_type ? r->content_type : "");
	headers[0] = accept;
	headers[1] = ct;
	headers[2] = NULL;
	req.url = url;
	req.body = r->body;
	req.len = r->len;
	req.headers = headers;
	req.username = c->username;
	req.password = c->password;
	rc = rum_http_client_do(c->http, &req, reply);
	if (rc == 0) {
		r->status = reply->status;
		rc = r->any_status && reply->status != 401 && reply->status != 403
			     ? 0
			     : rc_status(c, reply, url);
	}
	seen = rum_http_client_seen_pin(c->http);
	if (!c->plain_http && !c->pinned && seen) {
		if (rum_http_client_set_pin(c->http, seen) == 0)
			c->pinned = true;
	}
	free(url);
	return rc;
}

/* ---- the API ---- */

int rum_rest_client_close_reports(struct rum_rest_client *c)
{
	struct rc_req r = {.path = "/close-reports", .body = "", .len = 0};
	struct rum_http_reply b;
	int rc = rc_request(c, &r, &b);

	rum_http_reply_dispose(&b);
	return rc;
}

int rum_rest_client_all_reports(struct rum_rest_client *c, char **body, size_t *len)
{
	struct rc_req r = {.path = "/all-reports"};
	struct rum_http_reply b;
	int rc = rc_request(c, &r, &b);

	*body = NULL;
	*len = 0;
	if (rc < 0) {
		rum_http_reply_dispose(&b);
		return rc;
	}
	*body = b.body ? b.body : rc_strdup("");
	*len = b.len;
	return 0;
}

/* Cisco documents a base64 body, Cisco's sample sends the XML itself;
 * rum-agent and devices accept both. */
int rum_rest_client_import(struct rum_rest_client *c, const char *xml, size_t len, bool raw,
			   char **reply)
{
	struct rc_req r = {.path = "/import"};
	struct rum_http_reply b;
	char *b64 = NULL;
	int rc;

	if (reply)
		*reply = NULL;
	if (len > RC_MAX_IMPORT)
		return rum_err_set(RUM_ETOOBIG, "device REST import: file larger than %u bytes",
				   RC_MAX_IMPORT);
	if (raw) {
		r.body = xml;
		r.len = len;
		r.content_type = "application/xml";
	} else {
		b64 = rum_crypto_base64_new(xml, len, &r.len);
		r.body = b64;
		r.content_type = "text/plain";
	}
	rc = rc_request(c, &r, &b);
	free(b64);
	if (rc == 0 && reply) {
		*reply = b.body ? b.body : rc_strdup("");
		b.body = NULL;
	}
	rum_http_reply_dispose(&b);
	return rc;
}

int rum_rest_client_call(struct rum_rest_client *c, const struct rum_rest_client_call *call,
			 long *status, char **body, size_t *len)
{
	struct rc_req r = {.path = call->path,
			   .body = call->body,
			   .len = call->len,
			   .content_type = call->content_type,
			   .accept = call->accept,
			   .any_status = true};
	struct rum_http_reply b;
	int rc;

	*status = 0;
	*body = NULL;
	*len = 0;
	if (!call->path || call->path[0] != '/' || strlen(call->path) > 512 ||
	    rc_has_control(call->path) || strchr(call->path, ' ') ||
	    (call->accept && (strlen(call->accept) > 64 || rc_has_control(call->accept))) ||
	    (call->content_type &&
	     (strlen(call->content_type) > 64 || rc_has_control(call->content_type))))
		return rum_err_set(RUM_EINVAL, "%s: bad request path or media type", c->label);
	rc = rc_request(c, &r, &b);
	if (rc < 0) {
		rum_http_reply_dispose(&b);
		return rc;
	}
	*status = r.status;
	*body = b.body ? b.body : rc_strdup("");
	*len = b.len;
	return 0;
}
