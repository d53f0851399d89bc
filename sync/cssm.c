/* CSSM REST API client, see cssm.h. */
#include "sync/cssm.h"

#include "sync/wire.h"

#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/http_client.h"
#include "lib/text.h"

#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#define CSSM_MAX_REPLY (16u << 20) /* one API answer */
#define CSSM_MAX_ACK (4u << 20)    /* one ACK document, decoded */
#define CSSM_MAX_ACKS 64           /* ACK documents in one poll answer */
#define CSSM_TOKEN_MAX 8192
#define CSSM_TOKEN_MARGIN_MS 60000 /* refresh a token this long before it expires */
#define CSSM_TOKEN_TRIES 3
#define CSSM_QUOTE 200

struct rum_cssm {
	struct rum_cssm_auth *auth;
	struct rum_http_client *http;
	const volatile int *cancel;
};

static int64_t cssm_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_MONOTONIC, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

static void cssm_wipe_free(char *s)
{
	if (s) {
		rum_crypto_wipe(s, strlen(s));
		free(s);
	}
}

void rum_cssm_auth_init(struct rum_cssm_auth *a, const struct rum_sync_upstream *u)
{
	memset(a, 0, sizeof(*a));
	pthread_mutex_init(&a->lock, NULL);
	a->u = u;
	rum_sync_put(a->sa_id, sizeof(a->sa_id), "%s", u->smart_account_id);
	rum_sync_put(a->va_id, sizeof(a->va_id), "%s", u->virtual_account_id);
}

void rum_cssm_auth_dispose(struct rum_cssm_auth *a)
{
	cssm_wipe_free(a->token);
	a->token = NULL;
	pthread_mutex_destroy(&a->lock);
}

int rum_cssm_new(struct rum_cssm **out, struct rum_cssm_auth *auth, const struct rum_cssm_net *net)
{
	struct rum_http_client_options o = rum_sync_http_options(net, "upstream", CSSM_MAX_REPLY);
	struct rum_cssm *c = calloc(1, sizeof(*c));
	int rc;

	*out = NULL;
	if (!c)
		abort();
	if ((rc = rum_http_client_new(&c->http, &o)) < 0) {
		free(c);
		return rc;
	}
	c->auth = auth;
	c->cancel = net->cancel;
	*out = c;
	return 0;
}

void rum_cssm_free(struct rum_cssm *c)
{
	if (!c)
		return;
	rum_http_client_free(c->http);
	free(c);
}

void rum_cssm_answer_dispose(struct rum_cssm_answer *a)
{
	for (size_t i = 0; i < a->ndocs; i++)
		free(a->docs[i]);
	free(a->docs);
	free(a->lens);
	memset(a, 0, sizeof(*a));
}

/* ---- helpers ---- */

static char *cssm_url(const char *base, const char *path)
{
	size_t n = strlen(base);
	char *u;

	if (asprintf(&u, "%s%s%s", base, n && base[n - 1] == '/' ? "" : "/", path) < 0)
		abort();
	return u;
}

/* application/x-www-form-urlencoded value. */
static void cssm_form(char **buf, size_t *len, size_t *cap, const char *s)
{
	static const char hex[] = "0123456789ABCDEF";

	for (; *s; s++) {
		unsigned char ch = (unsigned char)*s;

		if (*len + 4 > *cap) {
			*cap = *cap ? *cap * 2 : 256;
			if (!(*buf = realloc(*buf, *cap)))
				abort();
		}
		if ((ch >= 'A' && ch <= 'Z') || (ch >= 'a' && ch <= 'z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			(*buf)[(*len)++] = (char)ch;
		} else {
			(*buf)[(*len)++] = '%';
			(*buf)[(*len)++] = hex[ch >> 4];
			(*buf)[(*len)++] = hex[ch & 15];
		}
	}
	(*buf)[*len] = '\0';
}

static void cssm_append(char **buf, size_t *len, size_t *cap, const char *s)
{
	size_t n = strlen(s);

	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 256;
		if (!(*buf = realloc(*buf, *cap)))
			abort();
	}
	memcpy(*buf + *len, s, n + 1);
	*len += n;
}

/* The upstream's own words for an answer: "message" (with "message_code"),
 * an OAuth "error"/"error_description", else the start of the body. */
static void cssm_words(char *out, size_t size, long status, const struct rum_http_reply *r,
		       json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));
	const char *code = json_string_value(json_object_get(j, "message_code"));
	const char *err = json_string_value(json_object_get(j, "error"));
	const char *desc = json_string_value(json_object_get(j, "error_description"));
	char quote[CSSM_QUOTE * 4 + 8];

	if (m && m[0])
		rum_sync_put(out, size, "%s%s%s", m, code && code[0] ? " " : "",
			     code && code[0] ? code : "");
	else if (err)
		rum_sync_put(out, size, "HTTP %ld %s%s%s", status, err, desc ? ": " : "",
			     desc ? desc : "");
	else {
		rum_text_quote(quote, sizeof(quote), r->body, r->len, CSSM_QUOTE);
		rum_sync_put(out, size, "HTTP %ld: %s", status, quote[0] ? quote : "(no body)");
	}
}

static bool cssm_cancelled(const struct rum_cssm *c)
{
	return c->cancel && *c->cancel;
}

/* Transport errors that may pass become RETRY; the rest stop the sync. */
static int cssm_transport(struct rum_cssm *c, int rc, struct rum_cssm_answer *a)
{
	if (cssm_cancelled(c))
		return rum_err_set(RUM_EUNAVAIL, "rumd is stopping");
	if (rc == RUM_ETIMEDOUT || rc == RUM_EUNAVAIL || rc == RUM_EIO) {
		a->said = RUM_CSSM_RETRY;
		a->retry_after_s = -1;
		rum_sync_put(a->message, sizeof(a->message), "%s", rum_err_msg());
		return 0;
	}
	return rc;
}

static void cssm_sleep_ms(const struct rum_cssm *c, int64_t ms)
{
	while (ms > 0 && !cssm_cancelled(c)) {
		int64_t step = ms > 200 ? 200 : ms;

		usleep((useconds_t)step * 1000);
		ms -= step;
	}
}

/* Whether a token or accounts/search request is worth another try (a
 * few, with back-off): a transport failure that may pass, or 429/5xx
 * (Retry-After honoured up to a minute). Waits, disposes of the reply,
 * and says true. */
static bool cssm_again(struct rum_cssm *c, int attempt, int rc, struct rum_http_reply *r)
{
	long wait_s = 1L << attempt;

	if (attempt >= CSSM_TOKEN_TRIES || cssm_cancelled(c))
		return false;
	if (rc < 0 && rc != RUM_ETIMEDOUT && rc != RUM_EUNAVAIL && rc != RUM_EIO)
		return false;
	if (rc == 0) {
		if (r->status != 429 && r->status < 500)
			return false;
		if (r->retry_after_s >= 0 && r->retry_after_s <= 60)
			wait_s = r->retry_after_s;
		rum_http_reply_dispose(r);
	}
	cssm_sleep_ms(c, (int64_t)wait_s * 1000);
	return true;
}

/* ---- the token ---- */

static int cssm_token_fetch(struct rum_cssm *c)
{
	const struct rum_sync_upstream *u = c->auth->u;
	const char *headers[] = {"Content-Type: application/x-www-form-urlencoded",
				 "Accept: application/json", NULL};
	const char *url = u->token_url;
	struct rum_http_request req = {.url = url, .headers = headers};
	struct rum_http_reply r;
	char *form = NULL, words[600];
	size_t len = 0, cap = 0;
	json_t *j = NULL;
	int rc = 0;

	cssm_append(&form, &len, &cap, "grant_type=client_credentials&client_id=");
	cssm_form(&form, &len, &cap, u->client_id);
	cssm_append(&form, &len, &cap, "&client_secret=");
	cssm_form(&form, &len, &cap, u->client_secret ? u->client_secret : "");
	req.body = form;
	req.len = len;
	for (int attempt = 1;; attempt++) {
		rc = rum_http_client_do(c->http, &req, &r);
		if (cssm_again(c, attempt, rc, &r))
			continue;
		if (rc < 0) {
			rc = rum_err_set(rc, "upstream token: %s", rum_err_msg());
			break;
		}
		json_decref(j);
		j = json_loadb(r.body, r.len, 0, NULL);
		cssm_words(words, sizeof(words), r.status, &r, j);
		if (r.status == 400 || r.status == 401 || r.status == 403) {
			rc = rum_err_set(RUM_EAUTH,
					 "upstream token %s: the client id and secret were refused "
					 "(%s)",
					 url, words);
		} else if (r.status != 200) {
			rc = rum_err_set(r.status == 429 || r.status >= 500 ? RUM_EUNAVAIL
									    : RUM_EIO,
					 "upstream token %s: %s", url, words);
		} else {
			const char *tok = json_string_value(json_object_get(j, "access_token"));
			json_t *exp = json_object_get(j, "expires_in");
			int64_t secs = json_is_integer(exp) ? json_integer_value(exp) : 3600;

			if (!tok || !tok[0] || strlen(tok) > CSSM_TOKEN_MAX ||
			    strpbrk(tok, "\r\n ")) {
				rc = rum_err_set(RUM_EIO,
						 "upstream token %s: the answer holds no usable "
						 "access_token",
						 url);
			} else {
				cssm_wipe_free(c->auth->token);
				c->auth->token = strdup(tok);
				if (!c->auth->token)
					abort();
				if (secs < 1 || secs > 30 * 86400)
					secs = 3600;
				c->auth->expires_ms = cssm_now_ms() + secs * 1000;
				c->auth->generation++;
			}
		}
		rum_http_reply_dispose(&r);
		break;
	}
	if (j) {
		/* the answer held the token: wipe its copy in the tree */
		json_t *tok = json_object_get(j, "access_token");

		if (json_is_string(tok))
			json_string_set(tok, "");
		json_decref(j);
	}
	rum_crypto_wipe(form, len);
	free(form);
	return rc;
}

/* A token valid for another minute, fetched if need be. stale: the
 * generation a 401 came with: a newer token is used as it is. */
static int cssm_token(struct rum_cssm *c, unsigned stale, bool refresh, char **out,
		      unsigned *generation)
{
	struct rum_cssm_auth *a = c->auth;
	int rc = 0;

	pthread_mutex_lock(&a->lock);
	if (!a->token || cssm_now_ms() + CSSM_TOKEN_MARGIN_MS > a->expires_ms ||
	    (refresh && a->generation == stale))
		rc = cssm_token_fetch(c);
	if (rc == 0 && !(*out = strdup(a->token)))
		abort();
	*generation = a->generation;
	pthread_mutex_unlock(&a->lock);
	return rc;
}

/* ---- accounts ---- */

static const char *cssm_id_text(json_t *v, char *buf, size_t size)
{
	if (json_is_string(v))
		return json_string_value(v);
	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	return NULL;
}

static int cssm_call(struct rum_cssm *c, const char *path, const char *body, size_t len,
		     const struct rum_sync_call *call, struct rum_http_reply *r,
		     bool *unauthorized);

static int cssm_resolve(struct rum_cssm *c)
{
	struct rum_cssm_auth *a = c->auth;
	const struct rum_sync_upstream *u = a->u;
	struct rum_http_reply r;
	char words[600], b1[32], b2[32];
	json_t *j, *accounts, *acc, *vas, *va;
	bool unauthorized = false;
	size_t i, k;
	int rc;

	/* A busy upstream or a lost connection is tried again, a few times. */
	for (int attempt = 1;; attempt++) {
		rc = cssm_call(c, "accounts/search", NULL, 0, NULL, &r, &unauthorized);
		if (cssm_again(c, attempt, rc, &r))
			continue;
		if (rc < 0)
			return rum_err_set(rc, "upstream accounts/search: %s", rum_err_msg());
		break;
	}
	j = json_loadb(r.body, r.len, 0, NULL);
	cssm_words(words, sizeof(words), r.status, &r, j);
	accounts = json_object_get(j, "accounts");
	if (r.status != 200 || !json_is_array(accounts)) {
		rc = rum_err_set(unauthorized ? RUM_EAUTH : RUM_EIO, "upstream accounts/search: %s",
				 words);
		goto out;
	}
	json_array_foreach(accounts, i, acc) {
		const char *name = json_string_value(json_object_get(acc, "account_name"));
		const char *id = cssm_id_text(json_object_get(acc, "account_id"), b1, sizeof(b1));

		if (!name || !id || strcmp(name, u->smart_account) != 0)
			continue;
		vas = json_object_get(acc, "virtual_accounts");
		json_array_foreach(vas, k, va) {
			const char *vname = json_string_value(json_object_get(va, "name"));
			const char *vid = cssm_id_text(json_object_get(va, "virtual_account_id"),
						       b2, sizeof(b2));

			if (vname && vid && strcmp(vname, u->virtual_account) == 0) {
				pthread_mutex_lock(&a->lock);
				rum_sync_put(a->sa_id, sizeof(a->sa_id), "%s", id);
				rum_sync_put(a->va_id, sizeof(a->va_id), "%s", vid);
				pthread_mutex_unlock(&a->lock);
				goto out;
			}
		}
		rc = rum_err_set(RUM_ENOTFOUND,
				 "upstream accounts/search: Smart Account '%s' has no Virtual "
				 "Account named '%s'",
				 u->smart_account, u->virtual_account);
		goto out;
	}
	rc = rum_err_set(RUM_ENOTFOUND,
			 "upstream accounts/search: no Smart Account named '%s' among the %zu the "
			 "client may use",
			 u->smart_account, json_array_size(accounts));
out:
	json_decref(j);
	rum_http_reply_dispose(&r);
	return rc;
}

int rum_cssm_prepare(struct rum_cssm *c)
{
	char *tok = NULL;
	unsigned gen;
	bool need;
	int rc = cssm_token(c, 0, false, &tok, &gen);

	cssm_wipe_free(tok);
	if (rc < 0)
		return rc;
	pthread_mutex_lock(&c->auth->lock);
	need = !c->auth->sa_id[0] || !c->auth->va_id[0];
	pthread_mutex_unlock(&c->auth->lock);
	return need ? cssm_resolve(c) : 0;
}

/* ---- API calls ---- */

/* One API request with the bearer token and, for a device's call, the
 * account and requesting-system headers; a 401 fetches a new token and
 * tries once more (*unauthorized when the second one is refused too). */
static int cssm_call(struct rum_cssm *c, const char *path, const char *body, size_t len,
		     const struct rum_sync_call *call, struct rum_http_reply *r, bool *unauthorized)
{
	const struct rum_sync_upstream *u = c->auth->u;
	char *url = cssm_url(u->api_url, path), *tok = NULL, *auth = NULL, *sys = NULL;
	char sa[64], va[64];
	const char *headers[8];
	unsigned gen = 0;
	int rc = 0, n;

	*unauthorized = false;
	for (int round = 0; round < 2; round++) {
		struct rum_http_request req = {.url = url, .body = body, .len = len};

		n = 0;
		cssm_wipe_free(tok);
		tok = NULL;
		/* After a 401, gen is the refused token's: a newer one that
		 * another thread fetched meanwhile is used as it is. */
		if ((rc = cssm_token(c, gen, round > 0, &tok, &gen)) < 0)
			break;
		cssm_wipe_free(auth);
		if (asprintf(&auth, "Authorization: Bearer %s", tok) < 0)
			abort();
		headers[n++] = auth;
		headers[n++] = "Accept: application/json";
		if (body)
			headers[n++] = "Content-Type: application/json";
		if (call) {
			json_t *s = json_pack("{s:s,s:s}", "udi_pid", call->pid,
					      "udi_serial_number", call->sn);
			char *text = json_dumps(s, JSON_COMPACT | JSON_PRESERVE_ORDER);

			json_decref(s);
			if (!text)
				abort();
			free(sys);
			if (asprintf(&sys, "X-CSW-REQUESTING-SYSTEM: %s", text) < 0)
				abort();
			free(text);
			pthread_mutex_lock(&c->auth->lock);
			snprintf(sa, sizeof(sa), "X-CSW-SMART-ACCOUNT-ID: %s", c->auth->sa_id);
			snprintf(va, sizeof(va), "X-CSW-VIRTUAL-ACCOUNT-ID: %s", c->auth->va_id);
			pthread_mutex_unlock(&c->auth->lock);
			headers[n++] = sa;
			headers[n++] = va;
			headers[n++] = sys;
		}
		headers[n] = NULL;
		req.headers = headers;
		rc = rum_http_client_do(c->http, &req, r);
		if (rc < 0 || r->status != 401)
			break;
		if (round == 0) {
			rum_http_reply_dispose(r);
			continue;
		}
		*unauthorized = true;
	}
	cssm_wipe_free(tok);
	cssm_wipe_free(auth);
	free(sys);
	free(url);
	return rc;
}

/* The answer's own fields may sit at the top level or under "data". */
static json_t *cssm_field(json_t *j, const char *name)
{
	json_t *v = json_object_get(j, name);

	return v ? v : json_object_get(json_object_get(j, "data"), name);
}

/* What a status says about this call, for statuses that are not 2xx.
 * 0 with a->said set, or an error that stops the sync. */
static int cssm_status(const char *what, long status, const char *words, bool unauthorized,
		       struct rum_cssm_answer *a)
{
	if (unauthorized || status == 401)
		return rum_err_set(RUM_EAUTH, "upstream %s: a fresh token was refused too (%s)",
				   what, words);
	if (status == 403)
		return rum_err_set(RUM_EFORBIDDEN, "upstream %s: not allowed (%s)", what, words);
	if (status == 408 || status == 429 || status >= 500) {
		a->said = RUM_CSSM_RETRY;
		rum_sync_put(a->message, sizeof(a->message), "upstream %s: %s", what, words);
		return 0;
	}
	a->said = RUM_CSSM_REFUSED;
	rum_sync_put(a->message, sizeof(a->message), "%s", words);
	return 0;
}

static bool cssm_duplicate(const char *message)
{
	return strstr(message, "already received") && !strstr(message, "different payload");
}

static int cssm_accepted(const char *what, const struct rum_http_reply *r, bool unauthorized,
			 struct rum_cssm_answer *a);

int rum_cssm_report_usage(struct rum_cssm *c, const struct rum_sync_call *call, const char *reports,
			  size_t len, struct rum_cssm_answer *a)
{
	struct rum_http_reply r;
	bool unauthorized;
	size_t blen;
	char *body;
	int rc;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	body = rum_sync_usage_message(call, reports, len, true, &blen);
	rc = cssm_call(c, "devices/reportusage", body, blen, call, &r, &unauthorized);
	free(body);
	if (rc < 0)
		return cssm_transport(c, rc, a);
	rc = cssm_accepted("devices/reportusage", &r, unauthorized, a);
	rum_http_reply_dispose(&r);
	return rc;
}

/* The answer to a call that may carry a poll id (reportusage, authrequest). */
static int cssm_accepted(const char *what, const struct rum_http_reply *r, bool unauthorized,
			 struct rum_cssm_answer *a)
{
	json_t *j = json_loadb(r->body, r->len, 0, NULL);
	char words[600], idbuf[32];
	int rc = 0;

	cssm_words(words, sizeof(words), r->status, r, j);
	a->retry_after_s = r->retry_after_s;
	if (r->status < 200 || r->status > 299) {
		rc = cssm_status(what, r->status, words, unauthorized, a);
		if (rc == 0 && a->said == RUM_CSSM_REFUSED && cssm_duplicate(words))
			a->said = RUM_CSSM_DUPLICATE;
	} else {
		const char *status = json_string_value(json_object_get(j, "status"));
		const char *pid = cssm_id_text(cssm_field(j, "poll_id"), idbuf, sizeof(idbuf));

		if (status && strcmp(status, "FAILED") == 0) {
			a->said = cssm_duplicate(words) ? RUM_CSSM_DUPLICATE : RUM_CSSM_REFUSED;
			rum_sync_put(a->message, sizeof(a->message), "%s", words);
		} else if (pid && pid[0] && strlen(pid) < 65 &&
			   strspn(pid,
				  "0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz"
				  "._-") == strlen(pid)) {
			a->said = RUM_CSSM_POLL_ID;
			rum_sync_put(a->poll_id, sizeof(a->poll_id), "%s", pid);
		} else {
			/* Not an answer the API gives: the call may have been
			 * taken, so it is sent again later, never dropped. */
			a->said = RUM_CSSM_RETRY;
			rum_sync_put(a->message, sizeof(a->message),
				     "upstream %s: an answer without a poll id (%s)", what, words);
		}
	}
	json_decref(j);
	return rc;
}

/* A device's licence entries ({"entitlement_tag", "count", ...}) as
 * authrequest takes them: {"sudi", "hostname", "keys": [{"entitlement",
 * "count"}]} with any confirm or remove code. Entries already in that
 * shape stay as they are. */
static void cssm_licenses(json_t *data)
{
	json_t *list = json_object_get(data, "licenses"), *e, *out;
	json_t *sudi = json_object_get(data, "sudi"), *host = json_object_get(data, "hostname");
	size_t i;

	if (!json_is_array(list))
		return;
	out = json_array();
	json_array_foreach(list, i, e) {
		json_t *tag = json_object_get(e, "entitlement_tag"),
		       *own = json_object_get(e, "sudi");
		json_t *n, *code;

		if (!json_is_object(e) || json_object_get(e, "keys") || !tag) {
			json_array_append(out, e);
			continue;
		}
		n = json_pack("{s:O?,s:[{s:O,s:O?}]}", "sudi", own ? own : sudi, "keys",
			      "entitlement", tag, "count", json_object_get(e, "count"));
		if (!n) {
			json_array_append(out, e);
			continue;
		}
		if (json_is_string(host))
			json_object_set(n, "hostname", host);
		if ((code = json_object_get(e, "confirm_code")))
			json_object_set(n, "confirm_code", code);
		if ((code = json_object_get(e, "remove_code")))
			json_object_set(n, "remove_code", code);
		json_array_append_new(out, n);
	}
	json_object_set_new(data, "licenses", out);
}

int rum_cssm_auth_request(struct rum_cssm *c, const struct rum_sync_call *call, const char *body,
			  size_t len, struct rum_cssm_answer *a)
{
	char nonce_hex[33];
	struct rum_http_reply r;
	bool unauthorized;
	json_t *dev, *data, *one, *wrapped;
	char *out;
	int rc;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	dev = json_loadb(body, len, 0, NULL);
	if (!json_is_object(dev)) {
		json_decref(dev);
		a->said = RUM_CSSM_REFUSED;
		rum_sync_put(a->message, sizeof(a->message),
			     "the request kept is not a JSON object");
		return 0;
	}
	/* The device's request as authrequest's data: its licenses and trust
	 * requests (a single trust_request as a list of one), with a fresh
	 * timestamp and nonce. */
	rum_sync_nonce(nonce_hex);
	data = json_deep_copy(dev);
	json_decref(dev);
	json_object_set_new(data, "timestamp", json_integer((json_int_t)rum_sync_now_ms()));
	json_object_set_new(data, "nonce", json_string(nonce_hex));
	cssm_licenses(data);
	if ((one = json_object_get(data, "trust_request")) &&
	    !json_object_get(data, "trust_requests")) {
		json_object_set_new(data, "trust_requests", json_pack("[O]", one));
		json_object_del(data, "trust_request");
	}
	wrapped = json_pack("{s:o}", "data", data);
	out = json_dumps(wrapped, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(wrapped);
	if (!out)
		abort();
	rc = cssm_call(c, "devices/authrequest", out, strlen(out), call, &r, &unauthorized);
	free(out);
	if (rc < 0)
		return cssm_transport(c, rc, a);
	rc = cssm_accepted("devices/authrequest", &r, unauthorized, a);
	rum_http_reply_dispose(&r);
	return rc;
}

int rum_cssm_poll(struct rum_cssm *c, const struct rum_sync_call *call, struct rum_cssm_answer *a)
{
	char nonce_hex[33], words[600];
	struct rum_http_reply r;
	bool unauthorized;
	json_t *q, *j;
	char *body;
	int rc;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	rum_sync_nonce(nonce_hex);
	q = json_pack("{s:{s:I,s:s,s:s,s:s}}", "data", "timestamp", (json_int_t)rum_sync_now_ms(),
		      "nonce", nonce_hex, "poll_id", call->poll_id, "action",
		      strcmp(call->kind, "auth") == 0 ? "authorizations" : "acknowledgements");
	body = json_dumps(q, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(q);
	if (!body)
		abort();
	rc = cssm_call(c, "accounts/poll", body, strlen(body), call, &r, &unauthorized);
	free(body);
	if (rc < 0)
		return cssm_transport(c, rc, a);
	j = json_loadb(r.body, r.len, 0, NULL);
	cssm_words(words, sizeof(words), r.status, &r, j);
	a->retry_after_s = r.retry_after_s;
	if (r.status < 200 || r.status > 299) {
		rc = cssm_status("accounts/poll", r.status, words, unauthorized, a);
	} else {
		const char *status = json_string_value(json_object_get(j, "status"));

		if (status && strcmp(status, "OK_POLL") == 0) {
			a->said = RUM_CSSM_OK_POLL;
		} else if (status && strcmp(status, "COMPLETE") == 0) {
			rc = rum_sync_acks_decode(cssm_field(j, strcmp(call->kind, "auth") == 0
									? "authorizations"
									: "acknowledgements"),
						  a);
			if (rc == 0) {
				a->said = RUM_CSSM_COMPLETE;
			} else {
				/* An ACK that cannot be read: polled again later (the
				 * upstream repeats COMPLETE), never taken half. */
				a->said = RUM_CSSM_RETRY;
				rum_sync_put(a->message, sizeof(a->message),
					     "upstream accounts/poll: %s", rum_err_msg());
				for (size_t i = 0; i < a->ndocs; i++)
					free(a->docs[i]);
				a->ndocs = 0;
				rc = 0;
			}
		} else if (status && strcmp(status, "FAILED") == 0) {
			a->said = RUM_CSSM_REFUSED;
			rum_sync_put(a->message, sizeof(a->message), "%s", words);
		} else {
			a->said = RUM_CSSM_RETRY;
			rum_sync_put(a->message, sizeof(a->message),
				     "upstream accounts/poll: an answer without a known status (%s)",
				     words);
		}
	}
	json_decref(j);
	rum_http_reply_dispose(&r);
	return rc;
}
