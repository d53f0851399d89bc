/* HTTP(S) client over libcurl, see http_client.h. */
#include "lib/http_client.h"

#include <curl/curl.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/crypto.h"
#include "lib/err.h"

#define HC_DEFAULT_CONNECT_MS 10000
#define HC_DEFAULT_TIMEOUT_MS 60000
#define HC_DEFAULT_MAX_REPLY (64u << 20)
#define HC_URL_MAX 4096
#define HC_HEADER_MAX 8192

struct rum_http_client {
	CURL *curl;
	char *label;
	bool allow_http, verify, note_pin;
	char *ca_file, *pin, *proxy, *proxy_user, *proxy_password;
	long connect_ms, timeout_ms;
	size_t max_reply;
	const volatile int *cancel;
	char *seen_pin;
	char errbuf[CURL_ERROR_SIZE];
};

struct hc_body {
	char *data;
	size_t len, cap, max;
	bool over;
};

static pthread_once_t hc_once = PTHREAD_ONCE_INIT;

static void hc_global_init(void)
{
	if (curl_global_init(CURL_GLOBAL_DEFAULT) != CURLE_OK)
		abort();
}

static char *hc_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

static char *hc_strdup_opt(const char *s)
{
	return s && s[0] ? hc_strdup(s) : NULL;
}

static void hc_free_secret(char *s)
{
	if (s) {
		rum_crypto_wipe(s, strlen(s));
		free(s);
	}
}

static bool hc_has_control(const char *s)
{
	for (; *s; s++)
		if ((unsigned char)*s < 0x20 || *s == 0x7f)
			return true;
	return false;
}

/* "sha256//" and the base64 of 32 bytes, several joined by ';' as curl
 * allows (a device rolling its key). Anything else curl would read as the
 * path of a key file. */
static bool hc_pin_valid(const char *pin)
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

/* http(s)://HOST:PORT[/], no credentials (those come apart). */
static bool hc_proxy_valid(const char *p)
{
	const char *rest;

	if (strncmp(p, "http://", 7) == 0)
		rest = p + 7;
	else if (strncmp(p, "https://", 8) == 0)
		rest = p + 8;
	else
		return false;
	return rest[0] && strlen(p) <= 2048 && !strchr(rest, '@') && !hc_has_control(p) &&
	       !strchr(p, ' ');
}

int rum_http_client_new(struct rum_http_client **out, const struct rum_http_client_options *o)
{
	const char *label = o->label && o->label[0] ? o->label : "HTTP";
	struct rum_http_client *c;

	*out = NULL;
	if (o->pin && o->pin[0] && !hc_pin_valid(o->pin))
		return rum_err_set(RUM_EINVAL, "%s: pin must be sha256//BASE64 (of 32 bytes)",
				   label);
	if (o->proxy && o->proxy[0] && !hc_proxy_valid(o->proxy))
		return rum_err_set(RUM_EINVAL,
				   "%s: proxy must be http://HOST:PORT or https://HOST:PORT, "
				   "without credentials",
				   label);
	if (o->connect_timeout_ms < 0 || o->timeout_ms < 0)
		return rum_err_set(RUM_EINVAL, "%s: timeouts must not be negative", label);
	pthread_once(&hc_once, hc_global_init);
	c = calloc(1, sizeof(*c));
	if (!c || !(c->curl = curl_easy_init()))
		abort();
	c->label = hc_strdup(label);
	c->allow_http = o->allow_http;
	c->verify = o->verify;
	c->note_pin = o->note_pin;
	c->ca_file = hc_strdup_opt(o->ca_file);
	c->pin = hc_strdup_opt(o->pin);
	c->proxy = hc_strdup_opt(o->proxy);
	c->proxy_user = hc_strdup_opt(o->proxy_user);
	c->proxy_password = hc_strdup_opt(o->proxy_password);
	c->connect_ms = o->connect_timeout_ms ? o->connect_timeout_ms : HC_DEFAULT_CONNECT_MS;
	c->timeout_ms = o->timeout_ms ? o->timeout_ms : HC_DEFAULT_TIMEOUT_MS;
	c->max_reply = o->max_reply ? o->max_reply : HC_DEFAULT_MAX_REPLY;
	c->cancel = o->cancel;
	*out = c;
	return 0;
}

void rum_http_client_free(struct rum_http_client *c)
{
	if (!c)
		return;
	curl_easy_cleanup(c->curl);
	free(c->label);
	free(c->ca_file);
	free(c->pin);
	free(c->proxy);
	free(c->proxy_user);
	hc_free_secret(c->proxy_password);
	free(c->seen_pin);
	free(c);
}

int rum_http_client_set_pin(struct rum_http_client *c, const char *pin)
{
	if (pin && pin[0] && !hc_pin_valid(pin))
		return rum_err_set(RUM_EINVAL, "%s: pin must be sha256//BASE64 (of 32 bytes)",
				   c->label);
	free(c->pin);
	c->pin = hc_strdup_opt(pin);
	return 0;
}

const char *rum_http_client_seen_pin(const struct rum_http_client *c)
{
	return c->seen_pin;
}

/* ---- one transfer ---- */

static size_t hc_write(char *p, size_t size, size_t n, void *ud)
{
	struct hc_body *b = ud;
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

/* The peer's key as this connection showed it (CURLOPT_CERTINFO). */
static void hc_note_pin(struct rum_http_client *c)
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

/* curl calls this about once a second and on progress: non-zero aborts. */
static int hc_progress(void *ud, curl_off_t dltotal, curl_off_t dlnow, curl_off_t ultotal,
		       curl_off_t ulnow)
{
	const struct rum_http_client *c = ud;

	(void)dltotal, (void)dlnow, (void)ultotal, (void)ulnow;
	return c->cancel && *c->cancel;
}

static bool hc_is_https(const char *url)
{
	return strncmp(url, "https://", 8) == 0;
}

static void hc_options(struct rum_http_client *c, const struct rum_http_request *r,
		       struct hc_body *b, struct curl_slist *headers)
{
	CURL *h = c->curl;

	curl_easy_reset(h); /* keeps the live connection and TLS session cache */
	c->errbuf[0] = '\0';
	curl_easy_setopt(h, CURLOPT_URL, r->url);
	curl_easy_setopt(h, CURLOPT_PROTOCOLS_STR, c->allow_http ? "http,https" : "https");
	curl_easy_setopt(h, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(h, CURLOPT_ERRORBUFFER, c->errbuf);
	curl_easy_setopt(h, CURLOPT_CONNECTTIMEOUT_MS, c->connect_ms);
	curl_easy_setopt(h, CURLOPT_TIMEOUT_MS, c->timeout_ms);
	curl_easy_setopt(h, CURLOPT_USERAGENT, "rumd/" RUM_VERSION);
	curl_easy_setopt(h, CURLOPT_HTTP_VERSION, (long)CURL_HTTP_VERSION_1_1);
	/* "" rather than unset: curl would read http_proxy and friends. */
	curl_easy_setopt(h, CURLOPT_PROXY, c->proxy ? c->proxy : "");
	if (c->proxy && c->proxy_user) {
		curl_easy_setopt(h, CURLOPT_PROXYUSERNAME, c->proxy_user);
		curl_easy_setopt(h, CURLOPT_PROXYPASSWORD,
				 c->proxy_password ? c->proxy_password : "");
		curl_easy_setopt(h, CURLOPT_PROXYAUTH, (long)CURLAUTH_BASIC);
	}
	if (c->cancel) {
		curl_easy_setopt(h, CURLOPT_XFERINFOFUNCTION, hc_progress);
		curl_easy_setopt(h, CURLOPT_XFERINFODATA, c);
		curl_easy_setopt(h, CURLOPT_NOPROGRESS, 0L);
	}
	if (hc_is_https(r->url)) {
		curl_easy_setopt(h, CURLOPT_SSLVERSION, (long)CURL_SSLVERSION_TLSv1_2);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYPEER, c->verify ? 1L : 0L);
		curl_easy_setopt(h, CURLOPT_SSL_VERIFYHOST, c->verify ? 2L : 0L);
		if (c->verify && c->ca_file)
			curl_easy_setopt(h, CURLOPT_CAINFO, c->ca_file);
		if (c->note_pin)
			curl_easy_setopt(h, CURLOPT_CERTINFO, 1L);
		if (c->pin)
			curl_easy_setopt(h, CURLOPT_PINNEDPUBLICKEY, c->pin);
	}
	if (r->connect_only) {
		curl_easy_setopt(h, CURLOPT_CONNECT_ONLY, 1L);
		return;
	}
	if (r->username) {
		curl_easy_setopt(h, CURLOPT_HTTPAUTH, (long)CURLAUTH_BASIC);
		curl_easy_setopt(h, CURLOPT_USERNAME, r->username);
		curl_easy_setopt(h, CURLOPT_PASSWORD, r->password ? r->password : "");
	}
	curl_easy_setopt(h, CURLOPT_HTTPHEADER, headers);
	curl_easy_setopt(h, CURLOPT_WRITEFUNCTION, hc_write);
	curl_easy_setopt(h, CURLOPT_WRITEDATA, b);
	curl_easy_setopt(h, CURLOPT_MAXFILESIZE_LARGE, (curl_off_t)c->max_reply);
	if (r->body) {
		curl_easy_setopt(h, CURLOPT_POST, 1L);
		curl_easy_setopt(h, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)r->len);
		curl_easy_setopt(h, CURLOPT_POSTFIELDS, r->body);
	}
}

static int hc_error(struct rum_http_client *c, CURLcode cc, const struct hc_body *b,
		    const char *url)
{
	const char *why = c->errbuf[0] ? c->errbuf : curl_easy_strerror(cc);
	long connect_code = 0;

	switch (cc) {
	case CURLE_COULDNT_RESOLVE_PROXY:
		return rum_err_set(RUM_EUNAVAIL, "%s %s: cannot resolve the proxy: %s", c->label,
				   url, why);
	case CURLE_COULDNT_RESOLVE_HOST:
	case CURLE_COULDNT_CONNECT:
		return rum_err_set(RUM_EUNAVAIL, "%s %s: cannot connect%s: %s", c->label, url,
				   c->proxy ? " (through the proxy)" : "", why);
	case CURLE_OPERATION_TIMEDOUT:
		return rum_err_set(RUM_ETIMEDOUT, "%s %s: no answer in time: %s", c->label, url,
				   why);
	case CURLE_SSL_PINNEDPUBKEYNOTMATCH:
		return rum_err_set(RUM_ECONFLICT,
				   "%s %s: the certificate does not match the pinned key "
				   "(it presents %s)",
				   c->label, url,
				   c->seen_pin ? c->seen_pin : "a key that could not be read");
	case CURLE_PEER_FAILED_VERIFICATION:
		return rum_err_set(RUM_EAUTH,
				   "%s %s: TLS: the server's certificate is not trusted: %s",
				   c->label, url, why);
	case CURLE_SSL_CACERT_BADFILE:
		return rum_err_set(RUM_EINVAL, "%s %s: TLS: the CA bundle cannot be used: %s",
				   c->label, url, why);
	case CURLE_SSL_CONNECT_ERROR:
	case CURLE_SSL_CERTPROBLEM:
		return rum_err_set(RUM_EIO, "%s %s: TLS: %s", c->label, url, why);
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
	/* A proxy that answers CONNECT with something else than 2xx. */
	if (c->proxy &&
	    curl_easy_getinfo(c->curl, CURLINFO_HTTP_CONNECTCODE, &connect_code) == CURLE_OK &&
	    connect_code >= 300)
		return rum_err_set(RUM_EFORBIDDEN,
				   "%s %s: the proxy refused the tunnel: HTTP %ld%s", c->label, url,
				   connect_code,
				   connect_code == 407
					   ? " (proxy authentication required or refused)"
					   : "");
	return rum_err_set(RUM_EIO, "%s %s: %s", c->label, url, why);
}

static int hc_headers(const struct rum_http_client *c, const struct rum_http_request *r,
		      struct curl_slist **out)
{
	struct curl_slist *h = NULL, *t;

	*out = NULL;
	for (size_t i = 0; r->headers && r->headers[i]; i++) {
		const char *line = r->headers[i];

		if (strlen(line) > HC_HEADER_MAX || hc_has_control(line) || !strchr(line, ':')) {
			curl_slist_free_all(h);
			return rum_err_set(RUM_EINVAL, "%s: a request header is malformed",
					   c->label);
		}
		if (!(t = curl_slist_append(h, line)))
			abort();
		h = t;
	}
	if (!(t = curl_slist_append(h, "Expect:"))) /* no 100-continue round trip */
		abort();
	*out = t;
	return 0;
}

int rum_http_client_do(struct rum_http_client *c, const struct rum_http_request *r,
		       struct rum_http_reply *out)
{
	struct curl_slist *headers = NULL;
	struct hc_body b = {.max = c->max_reply};
	curl_off_t retry_after = -1;
	CURLcode cc;
	int rc;

	memset(out, 0, sizeof(*out));
	out->retry_after_s = -1;
	if (!r->url || strlen(r->url) > HC_URL_MAX || hc_has_control(r->url) ||
	    strchr(r->url, ' ') ||
	    !(hc_is_https(r->url) || (c->allow_http && strncmp(r->url, "http://", 7) == 0)))
		return rum_err_set(RUM_EINVAL, "%s: the URL must be %s://... without spaces",
				   c->label, c->allow_http ? "http(s)" : "https");
	if ((rc = hc_headers(c, r, &headers)) < 0)
		return rc;
	hc_options(c, r, &b, headers);
	cc = curl_easy_perform(c->curl);
	if (c->note_pin && hc_is_https(r->url))
		hc_note_pin(c);
	if (cc != CURLE_OK) {
		rc = hc_error(c, cc, &b, r->url);
		free(b.data);
	} else {
		curl_easy_getinfo(c->curl, CURLINFO_RESPONSE_CODE, &out->status);
		if (curl_easy_getinfo(c->curl, CURLINFO_RETRY_AFTER, &retry_after) == CURLE_OK &&
		    retry_after > 0 && (out->status == 429 || out->status == 503))
			out->retry_after_s = (long)retry_after;
		out->body = b.data ? b.data : hc_strdup("");
		out->len = b.len;
		rc = 0;
	}
	curl_easy_setopt(c->curl, CURLOPT_HTTPHEADER, NULL);
	curl_slist_free_all(headers);
	return rc;
}

void rum_http_reply_dispose(struct rum_http_reply *r)
{
	free(r->body);
	memset(r, 0, sizeof(*r));
	r->retry_after_s = -1;
}
