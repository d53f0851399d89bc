/* Upstream collector client, see tier.h. */
#include "sync/tier.h"

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

#define TIER_MAX_REPLY (16u << 20)
#define TIER_QUOTE 200

struct rum_tier {
	struct rum_http_client *http;
	char *url;
	const volatile int *cancel;
};

int rum_tier_new(struct rum_tier **out, const char *url, const struct rum_cssm_net *net)
{
	struct rum_http_client_options o = rum_sync_http_options(net, "upstream collector",
								 TIER_MAX_REPLY);
	struct rum_tier *t = calloc(1, sizeof(*t));
	int rc;

	*out = NULL;
	if (!t || !(t->url = strdup(url)))
		abort();
	if ((rc = rum_http_client_new(&t->http, &o)) < 0) {
		free(t->url);
		free(t);
		return rc;
	}
	t->cancel = net->cancel;
	*out = t;
	return 0;
}

void rum_tier_free(struct rum_tier *t)
{
	if (!t)
		return;
	rum_http_client_free(t->http);
	free(t->url);
	free(t);
}

/* The upstream's words: "message", else the start of the body. */
static void tier_words(char *out, size_t size, const struct rum_http_reply *r, json_t *j)
{
	const char *m = json_string_value(json_object_get(j, "message"));
	char quote[TIER_QUOTE * 4 + 8];

	if (m && m[0]) {
		rum_sync_put(out, size, "HTTP %ld %s", r->status, m);
		return;
	}
	rum_text_quote(quote, sizeof(quote), r->body, r->len, TIER_QUOTE);
	rum_sync_put(out, size, "HTTP %ld: %s", r->status, quote[0] ? quote : "(no body)");
}

static int tier_post(struct rum_tier *t, const char *body, size_t len, struct rum_http_reply *r,
		     struct rum_cssm_answer *a, bool *answered)
{
	const char *headers[] = {"Content-Type: application/json", "Accept: application/json",
				 NULL};
	struct rum_http_request req = {.url = t->url, .body = body, .len = len, .headers = headers};
	int rc = rum_http_client_do(t->http, &req, r);

	*answered = false;
	if (rc == 0) {
		*answered = true;
		return 0;
	}
	if (t->cancel && *t->cancel)
		return rum_err_set(RUM_EUNAVAIL, "rumd is stopping");
	if (rc == RUM_ETIMEDOUT || rc == RUM_EUNAVAIL || rc == RUM_EIO) {
		a->said = RUM_CSSM_RETRY;
		rum_sync_put(a->message, sizeof(a->message), "%s", rum_err_msg());
		return 0;
	}
	return rc;
}

/* A status that is not 200: 0 with a->said, or an error that stops. */
static int tier_status(const char *what, const struct rum_http_reply *r, const char *words,
		       struct rum_cssm_answer *a)
{
	if (r->status == 401 || r->status == 403)
		return rum_err_set(RUM_EAUTH, "upstream collector %s: refused (%s)", what, words);
	if (r->status == 404 && strcmp(what, "poll") != 0)
		return rum_err_set(RUM_ENOTFOUND, "upstream collector %s: %s", what, words);
	if (r->status == 408 || r->status == 429 || r->status >= 500) {
		a->said = RUM_CSSM_RETRY;
		rum_sync_put(a->message, sizeof(a->message), "upstream collector %s: %s", what,
			     words);
		return 0;
	}
	a->said = RUM_CSSM_REFUSED;
	rum_sync_put(a->message, sizeof(a->message), "%s", words);
	return 0;
}

/* Sends a device message that the upstream answers with a poll id. */
static int tier_send(struct rum_tier *t, const char *body, size_t len, struct rum_cssm_answer *a)
{
	struct rum_http_reply r;
	char words[600];
	bool answered;
	json_t *j;
	int rc = tier_post(t, body, len, &r, a, &answered);

	if (rc < 0 || !answered)
		return rc;
	j = json_loadb(r.body, r.len, 0, NULL);
	tier_words(words, sizeof(words), &r, j);
	a->retry_after_s = r.retry_after_s;
	if (r.status != 200) {
		rc = tier_status("usage", &r, words, a);
	} else {
		const char *status = json_string_value(json_object_get(j, "status"));
		json_t *pid = json_object_get(j, "poll_id");
		char buf[32];
		const char *p = json_is_string(pid) ? json_string_value(pid) : NULL;

		if (json_is_integer(pid)) {
			snprintf(buf, sizeof(buf), "%lld", (long long)json_integer_value(pid));
			p = buf;
		}
		if (status && strcmp(status, "OK_POLL") == 0 && p && p[0] && strlen(p) < 65 &&
		    strspn(p, "0123456789") == strlen(p)) {
			a->said = RUM_CSSM_POLL_ID;
			rum_sync_put(a->poll_id, sizeof(a->poll_id), "%s", p);
		} else if (status && strcmp(status, "FAILED") == 0) {
			a->said = RUM_CSSM_REFUSED;
			rum_sync_put(a->message, sizeof(a->message), "%s", words);
		} else {
			a->said = RUM_CSSM_RETRY;
			rum_sync_put(a->message, sizeof(a->message),
				     "upstream collector: an answer without a poll id (%s)", words);
		}
	}
	json_decref(j);
	rum_http_reply_dispose(&r);
	return rc;
}

int rum_tier_report_usage(struct rum_tier *t, const struct rum_sync_call *call, const char *reports,
			  size_t len, struct rum_cssm_answer *a)
{
	size_t blen;
	char *body;
	int rc;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	body = rum_sync_usage_message(call, reports, len, false, &blen);
	rc = tier_send(t, body, blen, a);
	free(body);
	return rc;
}

int rum_tier_forward(struct rum_tier *t, const struct rum_sync_call *call, const char *body,
		     size_t len, struct rum_cssm_answer *a)
{
	(void)call;
	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	return tier_send(t, body, len, a);
}

int rum_tier_poll(struct rum_tier *t, const struct rum_sync_call *call, struct rum_cssm_answer *a)
{
	char nonce[33], words[600], *body;
	struct rum_http_reply r;
	bool answered;
	json_t *q, *j, *acks;
	int rc;

	memset(a, 0, sizeof(*a));
	a->retry_after_s = -1;
	rum_sync_nonce(nonce);
	/* A device's result poll: the poll id as the number it was given. */
	q = json_pack("{s:I,s:s,s:s}", "timestamp", (json_int_t)rum_sync_now_ms(), "nonce", nonce,
		      "action", "acknowledgements");
	json_object_set_new(q, "poll_id", json_integer(strtoll(call->poll_id, NULL, 10)));
	body = json_dumps(q, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(q);
	if (!body)
		abort();
	rc = tier_post(t, body, strlen(body), &r, a, &answered);
	free(body);
	if (rc < 0 || !answered)
		return rc;
	j = json_loadb(r.body, r.len, 0, NULL);
	tier_words(words, sizeof(words), &r, j);
	a->retry_after_s = r.retry_after_s;
	acks = json_object_get(j, "acknowledgements");
	if (r.status != 200) {
		rc = tier_status("poll", &r, words, a);
	} else if (json_is_array(acks) && json_array_size(acks) > 0) {
		if (rum_sync_acks_decode(acks, a) == 0) {
			a->said = RUM_CSSM_COMPLETE;
		} else {
			/* Polled again later, never taken half. */
			a->said = RUM_CSSM_RETRY;
			rum_sync_put(a->message, sizeof(a->message), "upstream collector poll: %s",
				     rum_err_msg());
		}
	} else {
		const char *status = json_string_value(json_object_get(j, "status"));

		if (status && (strcmp(status, "OK_POLL") == 0 || strcmp(status, "OK") == 0)) {
			a->said = RUM_CSSM_OK_POLL;
		} else if (status && strcmp(status, "FAILED") == 0) {
			a->said = RUM_CSSM_REFUSED;
			rum_sync_put(a->message, sizeof(a->message), "%s", words);
		} else {
			a->said = RUM_CSSM_RETRY;
			rum_sync_put(a->message, sizeof(a->message),
				     "upstream collector poll: an answer without a known status (%s)",
				     words);
		}
	}
	json_decref(j);
	rum_http_reply_dispose(&r);
	return rc;
}
