#include "api/api.h"

#include "lib/err.h"
#include "lib/log.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

typedef void (*rum_api_handler)(struct rum_api *api, struct rum_http_exchange *x,
				const struct rum_http_request *req, const char *rest);

/* The whole HTTP surface, as data. `prefix` routes match the path exactly or
 * followed by '/'; the remainder (from the '/') is passed as `rest`. */
static const struct rum_api_route {
	const char *path;
	bool prefix;
	rum_api_handler handler;
} rum_api_routes[] = {
	{"/cslu/v1/pi", true, rum_api_cslu},
	{"/cslu/v1/files", true, rum_api_files},
	{"/healthz", false, rum_api_healthz},
	{"/readyz", false, rum_api_readyz},
	{"/api/v1/tenants", true, rum_api_admin},
};

void rum_api_reply_json(struct rum_http_exchange *x, int status, void *json)
{
	char *text = json_dumps(json, JSON_COMPACT);

	json_decref(json);
	if (!text)
		abort();
	rum_http_respond(x, status, "application/json", text, strlen(text), NULL, NULL);
}

void rum_api_reply_error(struct rum_api *api, struct rum_http_exchange *x, int rc,
			 const char *msg)
{
	json_t *json;
	char *text;
	int status;

	switch (rc) {
	case RUM_EINVAL: status = 400; break;
	case RUM_EAUTH: status = 401; break;
	case RUM_EFORBIDDEN: status = 403; break;
	case RUM_ENOTFOUND: status = 404; break;
	case RUM_EMETHOD: status = 405; break;
	case RUM_ECONFLICT: status = 409; break;
	case RUM_ETOOBIG: status = 413; break;
	case RUM_ETIMEDOUT: status = 504; break;
	case RUM_EUNAVAIL: {
		char retry[16];
		/* Exactly what a CSLU says when it wants the device to come back. */
		json_t *j = json_pack("{s:s}", "status", "OK_TRY_AGAIN");
		char *text = json_dumps(j, JSON_COMPACT);

		json_decref(j);
		snprintf(retry, sizeof(retry), "%d", api->retry_after_s);
		rum_http_respond(x, 503, "application/json", text, strlen(text), "Retry-After",
				 retry);
		return;
	}
	default: status = 500;
	}
	if (status == 500)
		rum_log_error("internal error: %s", msg);
	json = json_pack("{s:s,s:s}", "status", "FAILED", "message",
			 msg && msg[0] ? msg : rum_err_name(rc));
	if (status != 401) {
		rum_api_reply_json(x, status, json);
		return;
	}
	text = json_dumps(json, JSON_COMPACT);
	json_decref(json);
	if (!text)
		abort();
	rum_http_respond(x, 401, "application/json", text, strlen(text), "WWW-Authenticate",
			 "Bearer realm=\"rumd\"");
}

void rum_api_dispatch(void *ctx, struct rum_http_exchange *x, const struct rum_http_request *req)
{
	struct rum_api *api = ctx;

	if (req->busy) {
		rum_api_reply_error(api, x, RUM_EUNAVAIL, "too many request bodies in memory");
		return;
	}
	for (size_t i = 0; i < sizeof(rum_api_routes) / sizeof(rum_api_routes[0]); i++) {
		const struct rum_api_route *r = &rum_api_routes[i];
		size_t n = strlen(r->path);

		if (strncmp(req->path, r->path, n) != 0)
			continue;
		if (req->path[n] == '\0' || (r->prefix && req->path[n] == '/')) {
			r->handler(api, x, req, req->path + n);
			return;
		}
	}
	rum_api_reply_error(api, x, RUM_ENOTFOUND, "no such resource");
}

int rum_api_percent_decode(char *out, size_t out_len, const char *in, size_t in_len)
{
	size_t o = 0;

	for (size_t i = 0; i < in_len; i++) {
		char c = in[i];

		if (c == '%') {
			int v = 0;

			if (i + 2 >= in_len)
				return rum_err_set(RUM_EINVAL, "bad percent escape in path");
			for (int k = 1; k <= 2; k++) {
				char h = in[i + (size_t)k];

				v <<= 4;
				if (h >= '0' && h <= '9')
					v |= h - '0';
				else if (h >= 'a' && h <= 'f')
					v |= h - 'a' + 10;
				else if (h >= 'A' && h <= 'F')
					v |= h - 'A' + 10;
				else
					return rum_err_set(RUM_EINVAL, "bad percent escape in path");
			}
			if (v == 0)
				return rum_err_set(RUM_EINVAL, "encoded NUL in path");
			c = (char)v;
			i += 2;
		}
		if (o + 1 >= out_len)
			return rum_err_set(RUM_EINVAL, "path segment too long");
		out[o++] = c;
	}
	out[o] = '\0';
	return 0;
}
