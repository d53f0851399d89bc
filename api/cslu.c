/* The CSLU device endpoint: /cslu/v1/pi[/<tenant>[/<sub-path>]]
 * (PROTOCOL.md 1.2-1.6). Parses the request, hands the message to the push
 * domain and renders what a CSLU answers. */
#include "api/api.h"
#include "api/call.h"

#include "domain/push.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/text.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define RUM_TENANT_MAX (128 * 4) /* bytes: 128 characters of UTF-8 */
#define RUM_SUB_PATH_MAX 1024

struct rum_cslu_call {
	struct rum_push push; /* first: the done callback gets it back */
	struct rum_api *api;
	struct rum_http_exchange *x;
	char tenant[RUM_TENANT_MAX + 1];
	char sub_path[RUM_SUB_PATH_MAX + 1];
	char method[8];
};

static long long rum_cslu_now_ms(void)
{
	struct timespec ts;

	clock_gettime(CLOCK_REALTIME, &ts);
	return (long long)ts.tv_sec * 1000 + ts.tv_nsec / 1000000;
}

/* What a real CSLU advertises; POLICY_USAGE keeps devices reporting. */
static json_t *rum_cslu_connect_info(void)
{
	return json_pack("{s:s,s:s,s:b,s:[s,s,s,s,s,s,s,s]}", "name", "CSLU_V1", "version", "v1",
			 "prod", 1, "capabilities", "UTILITY", "DLC", "AppHA", "MULTITIER",
			 "EXPORT_2", "OK_TRY_AGAIN", "POLICY_USAGE", "CSLU_V1");
}

static void rum_cslu_add_ack(json_t *reply, const struct rum_push *p)
{
	char *b64 = rum_crypto_base64_new(p->ack, p->ack_len, NULL);

	json_object_set_new(reply, "acknowledgements", json_pack("[{s:s}]", "smart_license", b64));
	free(b64);
}

/* The device a message speaks for, PID:SN, for the access log line. */
static void rum_cslu_note_device(struct rum_http_exchange *x, const struct rum_message *m)
{
	const struct rum_udi *udi = !m             ? NULL
				    : m->has_udi   ? &m->udi
				    : m->n_reports ? &m->reports[0].udi
						   : NULL;
	char device[2 * RUM_UDI_PART_MAX + 2];

	if (!udi)
		return;
	snprintf(device, sizeof(device), "%s:%s", udi->pid, udi->sn);
	rum_http_note(x, NULL, device);
}

static void rum_cslu_done(struct rum_push *p, void *arg)
{
	struct rum_cslu_call *call = arg;
	const struct rum_message *m = p->msg;
	const char *nonce = m ? m->nonce : "";
	char poll_id[24], tenant[2 * sizeof(call->tenant) + 8];
	json_t *reply;

	rum_cslu_note_device(call->x, m);
	if (p->rc != 0) {
		rum_api_reply_error(call->api, call->x, p->rc, p->err);
		goto out;
	}
	snprintf(poll_id, sizeof(poll_id), "%lld", (long long)p->poll_id);
	switch (m ? m->kind : RUM_MSG_HELLO) {
	case RUM_MSG_USAGE:
	case RUM_MSG_TRUST:
	case RUM_MSG_AUTHORIZATION:
		reply = json_pack("{s:s,s:s,s:I,s:s,s:o}", "status", "OK_POLL", "poll_id", poll_id,
				  "timestamp", (json_int_t)rum_cslu_now_ms(), "nonce", nonce,
				  "connect_info", rum_cslu_connect_info());
		rum_log_debug("push tenant=%s kind=%s poll_id=%s new=%u duplicate=%u conflict=%u",
			      rum_log_quote(tenant, sizeof(tenant), call->tenant),
			      rum_msg_kind_name(m->kind), poll_id, p->n_new, p->n_duplicate,
			      p->n_conflict);
		break;
	case RUM_MSG_POLL:
		reply = json_pack("{s:s,s:s,s:I,s:s}", "status", p->ack ? "OK" : "OK_POLL",
				  "poll_id", m->poll_id, "timestamp", (json_int_t)rum_cslu_now_ms(),
				  "nonce", nonce);
		if (p->ack)
			rum_cslu_add_ack(reply, p);
		break;
	default:
		reply = json_pack("{s:s,s:I,s:s,s:o}", "status", "OK", "timestamp",
				  (json_int_t)rum_cslu_now_ms(), "nonce", nonce, "connect_info",
				  rum_cslu_connect_info());
		if (p->ack)
			rum_cslu_add_ack(reply, p);
	}
	rum_api_reply_json(call->x, 200, reply);
out:
	rum_push_dispose(&call->push);
	free(call);
}

/* Splits "/<tenant>[/<sub-path>]" (rest of the path after /cslu/v1/pi). */
static int rum_cslu_parse_path(struct rum_cslu_call *call, const char *rest)
{
	const char *seg, *slash;
	int rc;

	call->sub_path[0] = '\0';
	if (rest[0] == '\0' || strcmp(rest, "/") == 0) {
		snprintf(call->tenant, sizeof(call->tenant), "%s", call->api->default_tenant);
		return 0;
	}
	seg = rest + 1;
	slash = strchr(seg, '/');
	rc = rum_api_percent_decode(call->tenant, sizeof(call->tenant), seg,
				    slash ? (size_t)(slash - seg) : strlen(seg));
	if (rc != 0)
		return rum_err_set(RUM_EINVAL, "tenant in path: %s", rum_err_msg());
	if (!rum_text_tenant_name_ok(call->tenant))
		return rum_err_set(RUM_EINVAL, "tenant in path is not a valid tenant name");
	if (slash) {
		rc = rum_api_percent_decode(call->sub_path, sizeof(call->sub_path), slash,
					    strlen(slash));
		if (rc != 0)
			return rum_err_set(RUM_EINVAL, "sub-path: %s", rum_err_msg());
		if (!rum_text_printable_utf8(call->sub_path, strlen(call->sub_path)))
			return rum_err_set(RUM_EINVAL, "sub-path is not printable UTF-8");
	}
	return 0;
}

static char *rum_cslu_headers(void *x)
{
	return rum_http_headers_json(x);
}

void rum_api_cslu(struct rum_api *api, struct rum_http_exchange *x,
		  const struct rum_http_request *req, const char *rest)
{
	struct rum_push_settings settings = {api->auto_create_tenants, api->capture_all,
					     api->max_reports};
	struct rum_cslu_call *call;
	int rc;

	if (strcmp(req->method, "POST") != 0 && strcmp(req->method, "GET") != 0) {
		rum_api_reply_error(api, x, RUM_EMETHOD, "method not allowed: use POST or GET");
		return;
	}
	if (req->body_too_big) {
		rum_api_reply_error(api, x, RUM_ETOOBIG, "request body is larger than the limit");
		return;
	}
	call = calloc(1, sizeof(*call));
	if (!call)
		abort();
	call->api = api;
	call->x = x;
	snprintf(call->method, sizeof(call->method), "%s", req->method);
	rc = rum_cslu_parse_path(call, rest);
	if (rc != 0) {
		rum_api_reply_error(api, x, rc, rum_err_msg());
		free(call);
		return;
	}
	rum_http_note(x, call->tenant, NULL);
	call->push.tenant = call->tenant;
	call->push.sub_path = call->sub_path;
	call->push.method = call->method;
	call->push.path = req->path;
	call->push.address = req->client_addr;
	call->push.body = req->body;
	call->push.body_len = req->body_len;
	call->push.headers_fn = rum_cslu_headers;
	call->push.headers_ctx = x;
	rc = rum_push_submit(&call->push, api->dom, &settings, rum_cslu_done, call);
	if (rc != 0) {
		char tenant[2 * sizeof(call->tenant) + 8];

		rum_log_info("push rejected tenant=%s addr=%s: %s",
			     rum_log_quote(tenant, sizeof(tenant), call->tenant), req->client_addr,
			     rum_err_msg());
		rum_api_reply_error(api, x, rc, rum_err_msg());
		rum_push_dispose(&call->push);
		free(call);
	}
}
