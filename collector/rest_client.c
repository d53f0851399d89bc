/* Device REST client, see rest_client.h. */
#include "collector/rest_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/text.h"

#define RC_BASE "/smartlic-service"
#define RC_DEFAULT_CONNECT_MS 10000
#define RC_DEFAULT_TIMEOUT_MS 60000
#define RC_DEFAULT_MAX_REPLY (64u << 20)
#define RC_MAX_IMPORT (64u << 20) /* an ACK or policy file sent to a device */
#define RC_QUOTE 160              /* body bytes quoted in an error message */

struct rum_rest_client {
	CURL *curl;
	char *base; /* scheme://host:port/smartlic-service (or base_path), never with credentials */
	char *label; /* names the client in messages: "device REST", "RESTCONF" */
	char *username, *password, *pin;
	bool plain_http, tofu;
	long connect_ms, timeout_ms;
	size_t max_reply;
	const volatile int *cancel;
	char *seen_pin;
	char errbuf[CURL_ERROR_SIZE];
};

struct rc_body {
	char *data;
	size_t len, cap, max;
	bool over;
};

static pthread_once_t rc_once = PTHREAD_ONCE_INIT;

static void rc_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort();
}

/* ---- options ---- */

/* "sha256//" and the base64 of 32 bytes, several joined by ';' as curl
 * allows (a device rolling its key). Anything else curl would read as the
 * path of a key file. */
static bool rc_pin_valid(const char *pin)
{
	static const char b64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
	const char *p = pin;

	for (;;) {
		if (strncmp(p, "sha256//", 8) != 0)
			return false;
		p += 8;
		if (strspn(p, b64) != 43 || p[43] != '=')
			return false;
		p += 44;
		if (*p == '\0')
			return true;
		if (*p++ != ';')
			return false;
	}
}

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
	if (o->pin && o->pin[0] && !rc_pin_valid(o->pin))
		return rum_err_set(RUM_EINVAL,
				   "device REST: pin must be sha256//BASE64 (of 32 bytes)");
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
	struct rum_rest_client *c;
	bool v6;
	int rc;

	*out = NULL;
	if ((rc = rc_check_options(o)) < 0)
		return rc;
	pthread_once(&rc_once, rc_global_init);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init()))
		abort();
	v6 = strchr(o->host, ':') != NULL;
	if (asprintf(&c->base, "%s://%s%s%s:%d%s", o->plain_http ? "http" : "https", v6 ? "[" : "",
		     o->host, v6 ? "]" : "", o->port, o->base_path ? o->base_path : RC_BASE) < 0)
		abort();
	c->label = rc_strdup(o->label && o->label[0] ? o->label : "device REST");
	c->username = rc_strdup(o->username);
	c->password = rc_strdup(o->password);
	c->pin = o->pin && o->pin[0] ? rc_strdup(o->pin) : NULL;
	c->plain_http = o->plain_http;
	c->tofu = o->trust_on_first_use;
	c->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : RC_DEFAULT_CONNECT_MS;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : RC_DEFAULT_TIMEOUT_MS;
	c->cancel = o->cancel;
	c->max_reply = o->max_reply ? o->max_reply : RC_DEFAULT_MAX_REPLY;
	*out = c;
	return 0;
}

void rum_rest_client_free(struct rum_rest_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	rum_crypto_wipe(c->password, strlen(c->password));
	free(c->password);
	free(c->username);
	free(c->base);
	free(c->label);
	free(c->pin);
	free(c->seen_pin);
	free(c);
}

char *rum_rest_client_seen_pin(const struct rum_rest_client *c)
{
	return c->seen_pin ? rc_strdup(c->seen_pin) : NULL;
}

/* ---- one transfer ---- */

static size_t rc_write(char *p, size_t size, size_t n, void *ud)
{
	struct rc_body *b = ud;
	size_t len = size * n;

	if (len > b->max - b->len) {
		b->over = true;
		return 0; /* curl aborts the transfer: CURLE_WRITE_ERROR */
	}
	if (b->len + len + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		char *d;

		while (cap < b->len + len + 1)
			cap *= 2;
		d = realloc(b->data, cap);
		if (!d)
			abort();
		b->data = d;
		b->cap = cap;
	}
	memcpy(b->data + b->len, p, len);
	b->len += len;
	b->data[b->len] = '\0';
	return len;
}

/* The device's key as this connection showed it (CURLOPT_CERTINFO). A
 * reused connection shows none: the pin seen before stays. */
static void rc_note_pin(struct rum_rest_client *c)
{
	struct curl_certinfo *ci = NULL;
	char *pin;

	if (curl_easy_getinfo(c->curl, CURLINFO_CERTINFO, &ci) != CURLE_OK || !ci ||
	    ci->num_of_certs < 1)
		return;
	for (struct curl_slist *s = ci->certinfo[0]; s; s = s->next) {
		if (strncmp(s->data, "Cert:", 5) != 0)
			continue;
		if (rum_crypto_spki_pin_from_pem(&pin, s->data + 5, strlen(s->data + 5)) == 0) {
			free(c->seen_pin);
			c->seen_pin = pin;
		}
		return;
	}
}

/* Options every transfer shares. TLS: the device's certificate is
 * self-signed, so the chain and name are not checked; the pin is the check
 * (curl compares it whatever VERIFYPEER says). */
/* curl calls this about once a second and on progress: non-zero aborts. */
static int rc_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct rum_rest_client *c = ud;

	return c->cancel && *c->cancel;
}

static void rc_common(struct rum_rest_client *c, const char *url)
{
	CURL *h = c->curl;

	curl_easy_reset(h); /* keeps the live connection and TLS session cache */
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->plain_http ? "http" : "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	if (c->cancel) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, rc_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (c->plain_http)
		return;
	curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, 0L);
	curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, 0L);
	curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
	if (c->pin)
		curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
}

static int rc_curl_error(struct rum_rest_client *c, CURLcode cc, const struct rc_body *b,
			 const char *url)
{
	const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);

	switch (cc) {
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return rum_err_set(RUM_EUNAVAIL, "%s %s: cannot connect: %s", c->label, url, why);
	case CURLE_OPERATION_TIMEDOUT:
		return rum_err_set(RUM_ETIMEDOUT, "%s %s: no answer in time: %s", c->label, url,
				   why);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return rum_err_set(RUM_ECONFLICT,
				   "%s %s: the device's certificate does not "
				   "match the pinned key (it presents %s)",
				   c->label, url,
				   c->seen_pin ? c->seen_pin : "a key that could not be read");
	case CURLE_ABORTED_BY_CALLBACK:
		return rum_err_set(RUM_EUNAVAIL, "%s %s: rumd is stopping", c->label, url);
	case CURLE_FILESIZE_EXCEEDED:
		return rum_err_set(RUM_ETOOBIG, "%s %s: reply larger than %zu bytes", c->label, url,
				   c->max_reply);
	case CURLE_WRITE_ERROR:
		if (b && b->over)
			return rum_err_set(RUM_ETOOBIG, "%s %s: reply larger than %zu bytes",
					   c->label, url, c->max_reply);
		break;
	default: break;
	}
	return rum_err_set(RUM_EIO, "%s %s: %s", c->label, url, why);
}

static int rc_status(const struct rum_rest_client *c, long status, const struct rc_body *b,
		     const char *url)
{
	char quote[RC_QUOTE * 4 + 8];

	if (status >= 200 && status < 300)
		return 0;
	rum_text_quote(quote, sizeof(quote), b->data, b->len, RC_QUOTE);
	if (status == 401 || status == 403)
		return rum_err_set(RUM_EAUTH, "%s %s: credentials refused (HTTP %ld): %s", c->label,
				   url, status, quote);
	return rum_err_set(RUM_EIO, "%s %s: HTTP %ld: %s", c->label, url, status, quote);
}

/* With no pin and no trust on first use the device is not trusted: only
 * the TLS handshake is made (no credentials leave), so that the refusal can
 * name the key the device presents for an operator to confirm. */
static int rc_untrusted(struct rum_rest_client *c)
{
	CURLcode cc;

	rc_common(c, c->base);
	curl_easy_setopt(c->curl, CURLOPT_CONNECT_ONLY, 1L);
	cc = curl_easy_perform(c->curl);
	rc_note_pin(c);
	if (cc != CURLE_OK)
		return rc_curl_error(c, cc, NULL, c->base);
	return rum_err_set(RUM_EFORBIDDEN,
			   "%s %s: the device's certificate is not "
			   "trusted: no pin is stored and trust on first use is off "
			   "(it presents %s)",
			   c->label, c->base,
			   c->seen_pin ? c->seen_pin : "a key that could not be read");
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

static struct curl_slist *rc_headers(const struct rc_req *r)
{
	struct curl_slist *h, *t;
	char ct[96], accept[96];

	snprintf(accept, sizeof(accept), "Accept: %s", r->accept ? r->accept : "application/json");
	h = curl_slist_append(NULL, accept);
	snprintf(ct, sizeof(ct), "Content-Type:%s%s", r->content_type ? " " : "",
		 r->content_type ? r->content_type : "");
	t = h ? curl_slist_append(h, ct) : NULL;
	h = t ? curl_slist_append(t, "Expect:") : NULL; /* no 100-continue round trip */
	if (!h)
		abort();
	return h;
}

static void rc_request_options(struct rum_rest_client *c, const struct rc_req *r, struct rc_body *b,
			       struct curl_slist *headers)
{
	CURL *h = c->curl;

	curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
	curl_easy_setopt(h, CURLOPT_USERNAME, c->username);
	curl_easy_setopt(h, CURLOPT_PASSWORD, c->password);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rumd/" RUM_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, rc_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_reply);
	if (r->body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	}
}

/* One request; *b gets the reply body (free b->data even on failure).
 * With trust on first use, the first key seen is pinned for the client's
 * later requests: a device does not change keys within a collection. */
static int rc_request(struct rum_rest_client *c, struct rc_req *r, struct rc_body *b)
{
	struct curl_slist *headers;
	char *url;
	long status = 0;
	CURLcode cc;
	int rc;

	memset(b, 0, sizeof(*b));
	b->max = c->max_reply;
	if (!c->plain_http && !c->pin && !c->tofu)
		return rc_untrusted(c);
	if (asprintf(&url, "%s%s", c->base, r->path) < 0)
		abort();
	headers = rc_headers(r);
	rc_common(c, url);
	rc_request_options(c, r, b, headers);
	cc = curl_easy_perform(c->curl);
	if (!c->plain_http)
		rc_note_pin(c);
	if (cc != CURLE_OK) {
		rc = rc_curl_error(c, cc, b, url);
	} else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &status);
		r->status = status;
		rc = r->any_status && status != 401 && status != 403 ? 0
								     : rc_status(c, status, b, url);
	}
	if (!c->plain_http && !c->pin && c->seen_pin)
		c->pin = rc_strdup(c->seen_pin);
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	free(url);
	return rc;
}

/* ---- the API ---- */

int rum_rest_client_close_reports(struct rum_rest_client *c)
{
	struct rc_req r = {.path = "/close-reports", .body = "", .len = 0};
	struct rc_body b;
	int rc = rc_request(c, &r, &b);

	free(b.data);
	return rc;
}

int rum_rest_client_all_reports(struct rum_rest_client *c, char **body, size_t *len)
{
	struct rc_req r = {.path = "/all-reports"};
	struct rc_body b;
	int rc = rc_request(c, &r, &b);

	*body = NULL;
	*len = 0;
	if (rc < 0) {
		free(b.data);
		return rc;
	}
	*body = b.data ? b.data : rc_strdup("");
	*len = b.len;
	return 0;
}

/* Cisco documents a base64 body, Cisco's sample sends the XML itself;
 * rum-agent and devices accept both. */
int rum_rest_client_import(struct rum_rest_client *c, const char *xml, size_t len, bool raw,
			   char **reply)
{
	struct rc_req r = {.path = "/import"};
	struct rc_body b;
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
	if (rc == 0 && reply)
		*reply = b.data ? b.data : rc_strdup("");
	else
		free(b.data);
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
	struct rc_body b;
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
		free(b.data);
		return rc;
	}
	*status = r.status;
	*body = b.data ? b.data : rc_strdup("");
	*len = b.len;
	return 0;
}
