/* Push mode and HTTP client, see push.h. */
#include "agent/push.h"

#include <curl/curl.h>
#include <errno.h>
#include <jansson.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/files.h"
#include "agent/report.h"
#include "agent/state.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"

#define POLL_FIRST_S 60.0
#define POLL_SECOND_S 300.0
#define POLL_LATER_S 86400.0 /* also the retry after a failed poll */
#define REPORT_RETRY_S 3600.0

int64_t rum_agent_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (int64_t)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* ---- HTTP ---- */

void rum_agent_http_global_init(void)
{
	curl_global_init(CURL_GLOBAL_DEFAULT);
}

void rum_agent_http_reply_dispose(struct rum_agent_http_reply *r)
{
	free(r->body);
	r->body = NULL;
	r->len = 0;
}

struct sink {
	char *p;
	size_t len, max;
	int over;
};

static size_t sink_write(char *data, size_t size, size_t n, void *ud)
{
	struct sink *s = ud;
	size_t add = size * n;
	char *p;

	if (s->len + add > s->max) {
		s->over = 1;
		return 0; /* makes curl fail the transfer */
	}
	p = realloc(s->p, s->len + add + 1);
	if (!p)
		abort();
	memcpy(p + s->len, data, add);
	s->p = p;
	s->len += add;
	s->p[s->len] = '\0';
	return add;
}

/* One request. body == NULL: GET; method "PUT"/"POST" with body. */
static int http_do(struct rum_agent_http_reply *out, const char *method, const char *url,
		   const char *ctype, const char *body, size_t len, size_t max)
{
	CURL *c = curl_easy_init();
	struct curl_slist *h = NULL;
	struct sink s = {.max = max};
	char hdr[128];
	CURLcode cc;
	int rc = 0;

	if (!c)
		abort();
	memset(out, 0, sizeof(*out));
	curl_easy_setopt(c, CURLOPT_URL, url);
	curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
	curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
	curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
	curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
	curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
	curl_easy_setopt(c, CURLOPT_WRITEDATA, &s);
	curl_easy_setopt(c, CURLOPT_USERAGENT, "rum-agent/" RUM_AGENT_VERSION);
	if (getenv("RUM_AGENT_INSECURE_TLS")) { /* lab servers with self-signed certificates */
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
		curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
	}
	if (body) {
		snprintf(hdr, sizeof(hdr), "Content-Type: %s", ctype);
		h = curl_slist_append(h, hdr);
		h = curl_slist_append(h, "Expect:");
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, h);
		curl_easy_setopt(c, CURLOPT_CUSTOMREQUEST, method);
		curl_easy_setopt(c, CURLOPT_POSTFIELDS, body);
		curl_easy_setopt(c, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)len);
	}
	cc = curl_easy_perform(c);
	if (cc != CURLE_OK) {
		rc = rum_err_set(s.over ? RUM_ETOOBIG : RUM_EUNAVAIL, "%s %s: %s",
				 body ? method : "GET", url,
				 s.over ? "reply too large" : curl_easy_strerror(cc));
		free(s.p);
	} else {
		curl_easy_getinfo(c, CURLINFO_RESPONSE_CODE, &out->status);
		out->body = s.p ? s.p : strdup("");
		out->len = s.len;
	}
	curl_slist_free_all(h);
	curl_easy_cleanup(c);
	return rc;
}

/* ---- the fleet's pool of concurrent POSTs ---- */

struct pool_slot {
	CURL *easy;
	struct sink sink;
	char *body;
	uint64_t tag;
	int busy;
};

struct rum_agent_http_pool {
	CURLM *multi;
	struct curl_slist *headers;
	struct pool_slot *slots;
	int n, busy;
};

struct rum_agent_http_pool *rum_agent_http_pool_new(int concurrency)
{
	struct rum_agent_http_pool *p = calloc(1, sizeof(*p));

	if (!p || concurrency < 1)
		abort();
	p->multi = curl_multi_init();
	p->slots = calloc((size_t)concurrency, sizeof(*p->slots));
	if (!p->multi || !p->slots)
		abort();
	p->n = concurrency;
	p->headers = curl_slist_append(NULL, "Content-Type: application/json");
	p->headers = curl_slist_append(p->headers, "Expect:");
	/* One connection per slot, kept alive and reused by the next request. */
	curl_multi_setopt(p->multi, CURLMOPT_MAX_TOTAL_CONNECTIONS, (long)concurrency);
	curl_multi_setopt(p->multi, CURLMOPT_MAXCONNECTS, (long)concurrency);
	for (int i = 0; i < concurrency; i++) {
		CURL *c = curl_easy_init();

		if (!c)
			abort();
		curl_easy_setopt(c, CURLOPT_PROTOCOLS_STR, "http,https");
		curl_easy_setopt(c, CURLOPT_NOSIGNAL, 1L);
		curl_easy_setopt(c, CURLOPT_CONNECTTIMEOUT, 10L);
		curl_easy_setopt(c, CURLOPT_TIMEOUT, 60L);
		curl_easy_setopt(c, CURLOPT_WRITEFUNCTION, sink_write);
		curl_easy_setopt(c, CURLOPT_WRITEDATA, &p->slots[i].sink);
		curl_easy_setopt(c, CURLOPT_USERAGENT, "rum-agent/" RUM_AGENT_VERSION);
		curl_easy_setopt(c, CURLOPT_HTTPHEADER, p->headers);
		curl_easy_setopt(c, CURLOPT_PRIVATE, &p->slots[i]);
		if (getenv("RUM_AGENT_INSECURE_TLS")) {
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYPEER, 0L);
			curl_easy_setopt(c, CURLOPT_SSL_VERIFYHOST, 0L);
		}
		p->slots[i].easy = c;
	}
	return p;
}

void rum_agent_http_pool_free(struct rum_agent_http_pool *p)
{
	if (!p)
		return;
	for (int i = 0; i < p->n; i++) {
		if (p->slots[i].busy)
			curl_multi_remove_handle(p->multi, p->slots[i].easy);
		curl_easy_cleanup(p->slots[i].easy);
		free(p->slots[i].body);
		free(p->slots[i].sink.p);
	}
	curl_multi_cleanup(p->multi);
	curl_slist_free_all(p->headers);
	free(p->slots);
	free(p);
}

int rum_agent_http_pool_busy(const struct rum_agent_http_pool *p)
{
	return p->busy;
}

int rum_agent_http_pool_post(struct rum_agent_http_pool *p, const char *url, char *body,
			     uint64_t tag)
{
	struct pool_slot *s = NULL;

	for (int i = 0; i < p->n && !s; i++)
		if (!p->slots[i].busy)
			s = &p->slots[i];
	if (!s)
		return rum_err_set(RUM_EUNAVAIL, "all %d requests in flight", p->n);
	s->body = body;
	s->tag = tag;
	s->sink = (struct sink){.max = RUM_AGENT_HTTP_MAX};
	curl_easy_setopt(s->easy, CURLOPT_URL, url);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDS, body);
	curl_easy_setopt(s->easy, CURLOPT_POSTFIELDSIZE_LARGE, (curl_off_t)strlen(body));
	if (curl_multi_add_handle(p->multi, s->easy) != CURLM_OK)
		abort();
	s->busy = 1;
	p->busy++;
	return 0;
}

void rum_agent_http_pool_run(struct rum_agent_http_pool *p, int timeout_ms,
			     rum_agent_http_done_fn done, void *ctx)
{
	CURLMsg *m;
	int running, left;

	curl_multi_perform(p->multi, &running);
	if (running > 0 && timeout_ms > 0)
		curl_multi_poll(p->multi, NULL, 0, timeout_ms, NULL);
	curl_multi_perform(p->multi, &running);
	while ((m = curl_multi_info_read(p->multi, &left))) {
		struct rum_agent_http_reply r = {0};
		struct pool_slot *s = NULL;
		char err[256] = "";
		int rc = 0;

		if (m->msg != CURLMSG_DONE)
			continue;
		curl_easy_getinfo(m->easy_handle, CURLINFO_PRIVATE, (char **)&s);
		if (m->data.result != CURLE_OK) {
			rc = s->sink.over ? RUM_ETOOBIG : RUM_EUNAVAIL;
			snprintf(err, sizeof(err), "%s",
				 s->sink.over ? "reply too large"
					      : curl_easy_strerror(m->data.result));
		} else {
			curl_easy_getinfo(m->easy_handle, CURLINFO_RESPONSE_CODE, &r.status);
			r.body = s->sink.p ? s->sink.p : (char *)"";
			r.len = s->sink.len;
		}
		curl_multi_remove_handle(p->multi, s->easy);
		s->busy = 0;
		p->busy--;
		done(ctx, s->tag, rc, &r, err);
		free(s->sink.p);
		s->sink.p = NULL;
		free(s->body);
		s->body = NULL;
	}
}

int rum_agent_http_post_json(struct rum_agent_http_reply *out, const char *url, const char *body)
{
	return http_do(out, "POST", url, "application/json", body, strlen(body),
		       RUM_AGENT_HTTP_MAX);
}

int rum_agent_http_put(const char *url, const char *body, size_t len)
{
	struct rum_agent_http_reply r;
	int rc = http_do(&r, "PUT", url, "application/xml", body, len, 65536);

	if (rc == 0 && (r.status < 200 || r.status > 299))
		rc = rum_err_set(RUM_EUNAVAIL, "PUT %s: HTTP %ld", url, r.status);
	rum_agent_http_reply_dispose(&r);
	return rc;
}

int rum_agent_http_get(char **out, size_t *out_len, const char *url, size_t max)
{
	struct rum_agent_http_reply r;
	int rc = http_do(&r, "GET", url, NULL, NULL, 0, max);

	if (rc < 0)
		return rc;
	if (r.status < 200 || r.status > 299) {
		rum_agent_http_reply_dispose(&r);
		return rum_err_set(RUM_ENOTFOUND, "GET %s: HTTP %ld", url, r.status);
	}
	*out = r.body;
	*out_len = r.len;
	return 0;
}

/* ---- state access: every change is lock, load, change, save, unlock ---- */

typedef int (*state_fn)(struct rum_agent_state *st, void *ctx);

static int with_state(const char *dir, state_fn fn, void *ctx)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	int fd = -1, rc;

	if (!st)
		abort();
	if ((rc = rum_agent_state_lock(dir, &fd)) < 0)
		goto out;
	if ((rc = rum_agent_state_load(st, dir)) < 0)
		goto out;
	rc = fn(st, ctx);
	if (rc > 0)
		rc = rum_agent_state_save(st);
	rum_agent_state_dispose(st);
out:
	rum_agent_state_unlock(fd);
	free(st);
	return rc;
}

static int64_t after(int64_t now_ms, double seconds, const struct rum_agent_push_opts *o)
{
	int64_t d = (int64_t)(seconds * 1000.0 / (o->speedup >= 1 ? o->speedup : 1));
	return now_ms + (d > 0 ? d : 1);
}

json_t *rum_agent_envelope(const struct rum_agent_state *st)
{
	char nonce[20];

	rum_agent_random_hex(nonce, sizeof(nonce), 8);
	return json_pack("{s:{s:s,s:s},s:I,s:s,s:s}", "sudi", "udi_pid", st->pid,
			 "udi_serial_number", st->serial, "timestamp",
			 (json_int_t)rum_agent_now_ms(), "nonce", nonce,
			 "product_instance_identifier", st->pi_uuid);
}

/* A snapshot of what a request needs, taken under the lock. */
struct snap {
	char url[512];
	char *body;    /* request JSON */
	uint64_t *ids; /* reports carried */
	size_t n_ids;
	char poll_id[64];
	const struct rum_agent_push_opts *o;
	int64_t now_ms;
};

static int snap_url(struct snap *s, const struct rum_agent_state *st)
{
	const char *url = s->o->url ? s->o->url : st->url;

	if (strlen(url) >= sizeof(s->url) || strlen(url) >= sizeof(st->url))
		return rum_err_set(RUM_EINVAL, "push URL longer than %zu characters",
				   sizeof(st->url) - 1);
	snprintf(s->url, sizeof(s->url), "%s", url);
	if (!s->url[0])
		return rum_err_set(RUM_EINVAL, "no push URL: give --url or init --url");
	return 0;
}

static int snap_hello(struct rum_agent_state *st, void *ctx)
{
	struct snap *s = ctx;
	json_t *m;
	int rc = snap_url(s, st);

	if (rc < 0)
		return rc;
	m = rum_agent_envelope(st);
	json_object_set_new(m, "hostname", json_string(st->hostname));
	json_object_set_new(m, "software_tag_identifier", json_string(st->sw_tag));
	s->body = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	return 0;
}

/* Closes open reports and snapshots every CLOSED report into a reportusage
 * message. Saves (returns 1) so the signed reports exist before sending. */
static int snap_usage(struct rum_agent_state *st, void *ctx)
{
	struct snap *s = ctx;
	json_t *m, *usage = json_array(), *rep;
	int rc = snap_url(s, st);

	if (rc < 0)
		return rc;
	if ((rc = rum_agent_state_close_open(st, s->now_ms / 1000, "ReportingRequested")) < 0)
		return rc;
	s->ids = calloc(st->n_rep + 1, sizeof(*s->ids));
	if (!s->ids)
		abort();
	for (size_t i = 0; i < st->n_rep; i++) {
		json_error_t e;
		json_t *doc;

		if (st->rep[i].state != RUM_AGENT_REPORT_CLOSED)
			continue;
		doc = json_loads(st->rep[i].doc, 0, &e);
		if (!doc)
			return rum_err_set(RUM_EINTERNAL, "stored report %llu is not JSON",
					   (unsigned long long)st->rep[i].id);
		json_array_append_new(usage, doc);
		s->ids[s->n_ids++] = st->rep[i].id;
	}
	m = rum_agent_envelope(st);
	rep = json_pack("{s:{s:s,s:s},s:s,s:s,s:[],s:o}", "sudi", "udi_pid", st->pid,
			"udi_serial_number", st->serial, "hostname", st->hostname,
			"software_tag_identifier", st->sw_tag, "trust_requests", "usage", usage);
	json_object_set_new(m, "reports", json_pack("[o]", rep));
	s->body = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	return 1;
}

static int snap_poll(struct rum_agent_state *st, void *ctx)
{
	struct snap *s = ctx;
	char nonce[20];
	json_t *m;
	int rc = snap_url(s, st);

	if (rc < 0)
		return rc;
	snprintf(s->poll_id, sizeof(s->poll_id), "%s", st->poll_id);
	rum_agent_random_hex(nonce, sizeof(nonce), 8);
	m = json_pack("{s:s,s:I,s:s,s:s}", "poll_id", st->poll_id, "timestamp",
		      (json_int_t)rum_agent_now_ms(), "nonce", nonce, "action", "acknowledgements");
	s->body = json_dumps(m, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(m);
	return 0;
}

static void snap_dispose(struct snap *s)
{
	free(s->body);
	free(s->ids);
}

/* Sends s->body; parses a JSON object reply into *reply (NULL when the
 * server answered nothing usable, with the reason in rum_err_msg()). */
static int exchange(json_t **reply, struct snap *s, long *status)
{
	struct rum_agent_http_reply r;
	json_error_t e;
	int rc = rum_agent_http_post_json(&r, s->url, s->body);

	*reply = NULL;
	*status = 0;
	if (rc < 0)
		return rc;
	*status = r.status;
	*reply = json_loadb(r.body, r.len, 0, &e);
	if (!json_is_object(*reply)) {
		json_decref(*reply);
		*reply = NULL;
		rc = rum_err_set(RUM_EUNAVAIL, "HTTP %ld with a reply that is not a JSON object",
				 r.status);
	}
	rum_agent_http_reply_dispose(&r);
	return rc;
}

struct ack_ctx {
	const char *xml;
	size_t len;
	int64_t now;
	char summary[512];
};

static int apply_ack(struct rum_agent_state *st, void *ctx)
{
	struct ack_ctx *a = ctx;
	int rc = rum_agent_import_buf(st, a->xml, a->len, a->now, a->summary, sizeof(a->summary));

	if (rc == 0 && st->poll_id[0]) {
		st->poll_id[0] = '\0'; /* the ACK the poll waited for is here */
		st->poll_stage = 0;
	}
	return rc < 0 ? rc : 1;
}

/* Installs every acknowledgements[].smart_license of a reply; returns the
 * number installed. A bad ACK is logged and skipped: it came from the server,
 * and refusing it must not stop the device. */
static int install_acks(const char *dir, const struct rum_agent_push_opts *o, json_t *reply)
{
	json_t *v;
	size_t i;
	int n = 0;

	json_array_foreach(json_object_get(reply, "acknowledgements"), i, v) {
		const char *b64 = json_string_value(json_object_get(v, "smart_license"));
		struct ack_ctx a = {.now = rum_agent_now_ms() / 1000};
		char *xml = NULL;

		if (!b64 || rum_crypto_base64_decode(&xml, &a.len, b64, strlen(b64),
						     RUM_AGENT_FILE_MAX) < 0) {
			rum_log_warn("device=%s ack=%zu: smart_license missing or not base64", dir,
				     i);
			continue;
		}
		a.xml = xml;
		if (with_state(dir, apply_ack, &a) < 0)
			rum_log_warn("device=%s: ACK refused: %s", dir, rum_err_msg());
		else {
			if (!o->quiet)
				rum_log_info("device=%s: ACK installed: %s", dir, a.summary);
			if (o->result) {
				o->result->acks++;
				snprintf(o->result->ack_summary, sizeof(o->result->ack_summary),
					 "%s", a.summary);
			}
			n++;
		}
		free(xml);
	}
	return n;
}

static int send_hello(const char *dir, const struct rum_agent_push_opts *o)
{
	struct snap s = {.o = o};
	json_t *reply = NULL, *caps;
	long status;
	int rc;

	if ((rc = with_state(dir, snap_hello, &s)) < 0)
		goto out;
	rc = exchange(&reply, &s, &status);
	if (rc < 0) {
		rum_log_warn("device=%s: hello failed: %s", dir, rum_err_msg());
		goto out;
	}
	caps = json_object_get(json_object_get(reply, "connect_info"), "capabilities");
	int policy_usage = 0;
	json_t *c;
	size_t i;
	json_array_foreach(caps, i, c)
		policy_usage |= json_is_string(c) &&
				strcmp(json_string_value(c), "POLICY_USAGE") == 0;
	if (o->result)
		o->result->hello_ok = 1;
	if (!policy_usage)
		rum_log_warn("device=%s: %%SMART_LIC-4-REPORTING_NOT_SUPPORTED: server does not advertise POLICY_USAGE",
			     dir);
	install_acks(dir, o, reply);
out:
	json_decref(reply);
	snap_dispose(&s);
	return rc;
}

struct outcome {
	struct snap *s;
	const char *status;  /* reply status word, NULL on transport failure */
	const char *poll_id; /* OK_POLL */
	const char *error;
	int unknown_poll;
};

static void set_error(struct rum_agent_state *st, const char *msg)
{
	snprintf(st->last_push_error, sizeof(st->last_push_error), "%s", msg ? msg : "");
}

static int after_usage(struct rum_agent_state *st, void *ctx)
{
	struct outcome *oc = ctx;
	const struct rum_agent_push_opts *o = oc->s->o;
	int64_t now = oc->s->now_ms;
	int ok = oc->status &&
		 (strcmp(oc->status, "OK") == 0 || strcmp(oc->status, "OK_POLL") == 0);

	if (o->url) { /* `license smart url cslu URL` also selects the CSLU transport */
		snprintf(st->url, sizeof(st->url), "%s", o->url);
		snprintf(st->transport, sizeof(st->transport), "%s", "cslu");
	}
	if (!ok) {
		set_error(st, oc->error);
		st->next_push_ms = after(now, REPORT_RETRY_S, o);
		return 1;
	}
	for (size_t i = 0; i < st->n_rep; i++)
		for (size_t k = 0; k < oc->s->n_ids; k++)
			if (st->rep[i].id == oc->s->ids[k] &&
			    st->rep[i].state == RUM_AGENT_REPORT_CLOSED)
				st->rep[i].state = RUM_AGENT_REPORT_UNACK;
	set_error(st, "");
	st->last_push = now / 1000;
	st->next_push_ms = after(now, rum_agent_state_interval_days(st) * 86400.0, o);
	if (oc->poll_id) {
		snprintf(st->poll_id, sizeof(st->poll_id), "%s", oc->poll_id);
		st->poll_stage = 0;
		st->next_poll_ms = after(now, POLL_FIRST_S, o);
	}
	return 1;
}

/* poll_id may be a string or a number [PROTOCOL 1.5]. One the device could
 * not keep whole (empty, longer than the state holds, control characters)
 * is NULL: polling with a cut-down id would ask about another upload. */
static const char *poll_id_of(json_t *reply, char *buf, size_t size)
{
	json_t *v = json_object_get(reply, "poll_id");
	const char *s;

	if (json_is_integer(v)) {
		snprintf(buf, size, "%lld", (long long)json_integer_value(v));
		return buf;
	}
	if (!json_is_string(v))
		return NULL;
	s = json_string_value(v);
	if (!s[0] || strlen(s) != json_string_length(v) ||
	    json_string_length(v) >= sizeof(((struct rum_agent_state *)0)->poll_id))
		return NULL;
	for (const char *p = s; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == 0x7f)
			return NULL;
	return s;
}

static int do_usage(const char *dir, const struct rum_agent_push_opts *o, int64_t now_ms)
{
	struct snap s = {.o = o, .now_ms = now_ms};
	struct outcome oc = {.s = &s};
	json_t *reply = NULL;
	char idbuf[32], err[256];
	long status = 0;
	int rc;

	if ((rc = with_state(dir, snap_usage, &s)) < 0)
		goto out;
	rc = exchange(&reply, &s, &status);
	if (rc == 0) {
		oc.status = json_string_value(json_object_get(reply, "status"));
		if (oc.status && strcmp(oc.status, "OK_POLL") == 0 &&
		    !(oc.poll_id = poll_id_of(reply, idbuf, sizeof(idbuf))))
			rum_log_warn("device=%s: OK_POLL without a usable poll_id; not polling",
				     dir);
		snprintf(err, sizeof(err), "HTTP %ld %s: %s", status, oc.status ? oc.status : "?",
			 json_string_value(json_object_get(reply, "message")) ?: "");
	} else {
		snprintf(err, sizeof(err), "%s", rum_err_msg());
	}
	oc.error = err;
	if (!o->quiet)
		rum_log_info("device=%s usage reports=%zu status=%s poll_id=%s", dir, s.n_ids,
			     oc.status ? oc.status : "FAILED", oc.poll_id ? oc.poll_id : "-");
	if ((rc = with_state(dir, after_usage, &oc)) < 0)
		goto out;
	if (o->result) {
		struct rum_agent_sync_result *r = o->result;

		r->reports = s.n_ids;
		snprintf(r->status, sizeof(r->status), "%s", oc.status ? oc.status : "");
		snprintf(r->poll_id, sizeof(r->poll_id), "%s", oc.poll_id ? oc.poll_id : "");
	}
	if (oc.status && strcmp(oc.status, "OK") == 0)
		install_acks(dir, o, reply);
	if (!oc.status || (strcmp(oc.status, "OK") && strcmp(oc.status, "OK_POLL"))) {
		rc = rum_err_set(RUM_EUNAVAIL, "usage report failed: %s", err);
		if (o->result)
			snprintf(o->result->error, sizeof(o->result->error), "%s", err);
	}
out:
	json_decref(reply);
	snap_dispose(&s);
	return rc;
}

static int after_poll(struct rum_agent_state *st, void *ctx)
{
	struct outcome *oc = ctx;
	const struct rum_agent_push_opts *o = oc->s->o;
	int64_t now = oc->s->now_ms;

	if (strcmp(st->poll_id, oc->s->poll_id) != 0)
		return 0; /* an ACK or a newer upload already settled this poll */
	if (oc->unknown_poll) {
		/* The server forgot the upload: send those reports again (a resent
		 * report is byte-identical, so the server keeps one copy). */
		for (size_t i = 0; i < st->n_rep; i++)
			if (st->rep[i].state == RUM_AGENT_REPORT_UNACK)
				st->rep[i].state = RUM_AGENT_REPORT_CLOSED;
		st->poll_id[0] = '\0';
		st->next_push_ms = after(now, REPORT_RETRY_S, o);
		set_error(st, oc->error);
		return 1;
	}
	if (oc->status && (strcmp(oc->status, "OK_POLL") == 0 || strcmp(oc->status, "OK") == 0)) {
		st->poll_stage++;
		st->next_poll_ms = after(now, st->poll_stage == 1 ? POLL_SECOND_S : POLL_LATER_S,
					 o);
		set_error(st, "");
	} else {
		st->next_poll_ms = after(now, POLL_LATER_S, o);
		set_error(st, oc->error);
	}
	return 1;
}

/* Returns 1 when an ACK was installed, 0 when still pending. */
static int do_poll(const char *dir, const struct rum_agent_push_opts *o, int64_t now_ms)
{
	struct snap s = {.o = o, .now_ms = now_ms};
	struct outcome oc = {.s = &s};
	json_t *reply = NULL;
	char err[256];
	long status = 0;
	int rc, got = 0;

	if ((rc = with_state(dir, snap_poll, &s)) < 0)
		goto out;
	rc = exchange(&reply, &s, &status);
	if (rc == 0) {
		oc.status = json_string_value(json_object_get(reply, "status"));
		oc.unknown_poll = status == 404;
		snprintf(err, sizeof(err), "poll HTTP %ld %s: %s", status,
			 oc.status ? oc.status : "?",
			 json_string_value(json_object_get(reply, "message")) ?: "");
		if (oc.status && strcmp(oc.status, "OK") == 0)
			got = install_acks(dir, o, reply) > 0;
	} else {
		snprintf(err, sizeof(err), "poll: %s", rum_err_msg());
	}
	oc.error = err;
	if (!o->quiet)
		rum_log_info("device=%s poll poll_id=%s status=%s ack=%s", dir, s.poll_id,
			     oc.status ? oc.status : "FAILED", got ? "installed" : "none");
	rc = with_state(dir, after_poll, &oc);
	if (rc == 0)
		rc = got;
out:
	json_decref(reply);
	snap_dispose(&s);
	return rc;
}

struct timers {
	char poll_id[64];
	int64_t next_poll_ms, next_push_ms;
};

static int read_timers(struct rum_agent_state *st, void *ctx)
{
	struct timers *t = ctx;

	snprintf(t->poll_id, sizeof(t->poll_id), "%s", st->poll_id);
	t->next_poll_ms = st->next_poll_ms;
	t->next_push_ms = st->next_push_ms;
	return 0;
}

int rum_agent_push_step(const char *dir, const struct rum_agent_push_opts *o, int64_t now_ms,
			int first, int64_t *wake_ms)
{
	struct timers t;
	int rc;

	if (first)
		send_hello(dir, o);
	if ((rc = with_state(dir, read_timers, &t)) < 0)
		return rc;
	if (t.poll_id[0] && now_ms >= t.next_poll_ms)
		do_poll(dir, o, now_ms);
	else if (now_ms >= t.next_push_ms)
		do_usage(dir, o, now_ms);
	if ((rc = with_state(dir, read_timers, &t)) < 0)
		return rc;
	*wake_ms = t.next_push_ms;
	if (t.poll_id[0] && t.next_poll_ms < *wake_ms)
		*wake_ms = t.next_poll_ms;
	return 0;
}

static volatile sig_atomic_t got_signal;

static void on_signal(int sig)
{
	got_signal = sig;
}

int rum_agent_push_run(const char *dir, const struct rum_agent_push_opts *o, volatile int *stop)
{
	struct sigaction sa = {.sa_handler = on_signal};
	int64_t wake;
	int rc, first = 1;

	sigaction(SIGINT, &sa, NULL);
	sigaction(SIGTERM, &sa, NULL);
	while (!got_signal && !(stop && *stop)) {
		rc = rum_agent_push_step(dir, o, rum_agent_now_ms(), first, &wake);
		if (rc < 0)
			return rc;
		first = 0;
		while (!got_signal && !(stop && *stop) && rum_agent_now_ms() < wake) {
			int64_t left = wake - rum_agent_now_ms();
			struct timespec ts = {0, (left > 200 ? 200 : (left > 0 ? left : 1)) *
							 1000000L};
			nanosleep(&ts, NULL);
		}
	}
	return 0;
}

int rum_agent_sync(const char *dir, const struct rum_agent_push_opts *o)
{
	double interval = o->poll_interval / (o->speedup >= 1 ? o->speedup : 1);
	int64_t until;
	struct timers t;
	int rc;

	send_hello(dir, o);
	rc = do_usage(dir, o, rum_agent_now_ms());
	if (rc < 0)
		return rc;
	until = rum_agent_now_ms() + (int64_t)(o->wait * 1000.0);
	for (int i = 0; i < o->max_polls; i++) {
		struct timespec ts;

		if ((rc = with_state(dir, read_timers, &t)) < 0)
			return rc;
		if (!t.poll_id[0])
			return 1; /* settled: ACK in the usage reply, or nothing to wait for */
		if (rum_agent_now_ms() + (int64_t)(interval * 1000.0) > until)
			break;
		ts.tv_sec = (time_t)interval;
		ts.tv_nsec = (long)((interval - (double)ts.tv_sec) * 1e9);
		while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
			;
		rc = do_poll(dir, o, rum_agent_now_ms());
		if (o->result)
			o->result->polls++;
		if (rc < 0)
			return rc;
		if (rc == 1)
			return 1;
	}
	return 0;
}
