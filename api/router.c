#include "api/api.h"
#include "api/call.h"

#include "lib/err.h"
#include "lib/log.h"
#include "lib/strict.h"
#include "lib/text.h"
#include "lib/workq.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

void rum_api_reply_json(struct rum_http_exchange *x, int status, void *json)
{
	char *text = json_dumps(json, JSON_COMPACT);

	json_decref(json);
	if (!text)
		abort();
	rum_http_respond(x, status, "application/json", text, strlen(text), NULL, NULL);
}

void rum_api_reply_error(struct rum_api *api, struct rum_http_exchange *x, int rc, const char *msg)
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

/* --- matching --- */

#define RUM_API_SEGMENTS_MAX 12

/* How well path matches the route's pattern: -1 when it does not, else
 * the number of literal segments matched (a literal beats a parameter:
 * ".../pull-targets/collect" is not pull target "collect"). *rest gets what
 * a "/..." pattern leaves to its handler. */
static int rum_api_match(const char *pattern, const char *path, const char **rest)
{
	const char *p = pattern, *s = path;
	int literal = 0;

	if (strcmp(pattern, "/") == 0) /* the console's page: "/" only */
		return strcmp(path, "/") == 0 ? 0 : -1;
	while (*p) {
		size_t pn, sn;

		if (*p != '/' || *s != '/')
			return -1;
		p++;
		s++;
		if (strcmp(p, "...") == 0) {
			*rest = s - 1;
			return literal;
		}
		pn = strcspn(p, "/");
		sn = strcspn(s, "/");
		if (sn == 0)
			return -1;
		if (p[0] == '{') {
			/* any non-empty segment */
		} else if (pn != sn || strncmp(p, s, pn) != 0) {
			return -1;
		} else {
			literal++;
		}
		p += pn;
		s += sn;
	}
	if (*s != '\0') {
		/* "/x/..." also matches "/x" itself. */
		return -1;
	}
	*rest = s;
	return literal;
}

/* Pattern "/a/..." matches "/a" too (its handler gets rest ""). */
static int rum_api_match_route(const struct rum_api_route *r, const char *path, const char **rest)
{
	size_t n = strlen(r->pattern);
	int m = rum_api_match(r->pattern, path, rest);

	if (m < 0 && n > 4 && strcmp(r->pattern + n - 4, "/...") == 0 &&
	    strncmp(r->pattern, path, n - 4) == 0 && path[n - 4] == '\0' &&
	    !strchr(r->pattern, '{')) {
		*rest = path + n - 4;
		return 0;
	}
	return m;
}

/* Decodes the pattern's parameters from path into c: the tenant, the id. */
static int rum_api_params(struct rum_api_call *c, const char *pattern, const char *path)
{
	const char *p = pattern, *s = path;

	while (*p == '/' && *s == '/') {
		size_t pn = strcspn(++p, "/"), sn = strcspn(++s, "/");

		if (strncmp(p, "{tenant}", pn) == 0 && pn == 8) {
			if (rum_api_percent_decode(c->tenant, sizeof(c->tenant), s, sn) != 0)
				return rum_err_set(RUM_EINVAL, "tenant in path: %s", rum_err_msg());
			if (!rum_text_tenant_name_ok(c->tenant))
				return rum_err_set(RUM_EINVAL,
						   "tenant in path is not a valid tenant "
						   "name");
		} else if (strncmp(p, "{user}", pn) == 0 && pn == 6) {
			if (rum_api_percent_decode(c->name, sizeof(c->name), s, sn) != 0)
				return rum_err_set(RUM_EINVAL, "user in path: %s", rum_err_msg());
		} else if (p[0] == '{') {
			char text[24], what[32];
			size_t wn = pn - 2 < sizeof(what) - 1 ? pn - 2 : sizeof(what) - 1;

			/* {pull-target} reads "pull target" in messages. */
			memcpy(what, p + 1, wn);
			what[wn] = '\0';
			for (char *w = what; *w; w++)
				if (*w == '-')
					*w = ' ';
			snprintf(text, sizeof(text), "%.*s", (int)(sn < sizeof(text) ? sn : 0), s);
			if (sn >= sizeof(text) || rum_strict_int64(&c->id, text) != 0 || c->id <= 0)
				return rum_err_set(RUM_EINVAL, "'%.*s' is not %s %s id",
						   (int)(sn < 64 ? sn : 64), s,
						   strchr("aeiou", what[0]) ? "an" : "a", what);
		}
		p += pn;
		s += sn;
	}
	return 0;
}

/* --- the admin API's workers --- */

/* Exports and imports take seconds: two at a time, a few more waiting;
 * everything else has threads of its own so that it never waits behind
 * them. */
#define RUM_API_HEAVY_THREADS 2
#define RUM_API_HEAVY_QUEUE 4
#define RUM_API_LIGHT_THREADS 2
#define RUM_API_LIGHT_QUEUE 64

struct rum_api_admin {
	struct rum_workq *heavy, *light;
};

void rum_api_admin_open(struct rum_api *api)
{
	api->admin = calloc(1, sizeof(*api->admin));
	if (!api->admin)
		abort();
	api->admin->heavy = rum_workq_new(RUM_API_HEAVY_THREADS, RUM_API_HEAVY_QUEUE);
	api->admin->light = rum_workq_new(RUM_API_LIGHT_THREADS, RUM_API_LIGHT_QUEUE);
}

void rum_api_admin_close(struct rum_api *api)
{
	if (!api->admin)
		return;
	rum_workq_free(api->admin->heavy);
	rum_workq_free(api->admin->light);
	free(api->admin);
	api->admin = NULL;
}

static void rum_api_call_free(struct rum_api_call *c)
{
	free(c->since);
	free(c->devices);
	json_decref(c->body_json);
	free(c);
}

/* One admin request on a worker thread: who asks, then the route's one
 * domain call, rendered. */
static void rum_api_call_work(void *arg, bool cancelled)
{
	struct rum_api_call *c = arg;
	struct rum_access access = {c->has_authorization ? c->authorization : NULL,
				    c->tenant[0] ? c->tenant : NULL,
				    c->session[0] ? c->session : NULL, c->csrf[0] ? c->csrf : NULL,
				    c->changes};
	int rc;

	if (cancelled)
		rc = rum_err_set(RUM_EUNAVAIL, "rumd is stopping");
	else if (c->route->role == RUM_ROLE_NONE) /* signing in: the route checks */
		rc = 0;
	else
		rc = rum_access_check(c->api->dom, &access, c->route->role, c->route->action,
				      &c->by);
	if (rc == 0)
		rc = c->route->run(c);
	if (rc != 0)
		rum_api_reply_error(c->api, c->x, rc, rum_err_msg());
	rum_api_call_free(c);
}

/* A header value that fits (64 characters at most), else "": a session
 * secret and a CSRF token have 64. */
static void rum_api_copy_header(char *out, size_t size, const char *value)
{
	out[0] = '\0';
	if (value && strlen(value) < size)
		memcpy(out, value, strlen(value) + 1);
}

/* The value of the rumd_session cookie in a Cookie header ("" when none or
 * not of a session's shape, which the access check refuses as ended). */
static void rum_api_session_cookie(char out[65], const char *cookie)
{
	const char *p = cookie;

	out[0] = '\0';
	while (p && *p) {
		while (*p == ' ' || *p == ';')
			p++;
		if (strncmp(p, RUM_API_SESSION_COOKIE "=", sizeof(RUM_API_SESSION_COOKIE)) == 0) {
			const char *v = p + sizeof(RUM_API_SESSION_COOKIE);
			size_t n = strcspn(v, ";");

			if (n == 64) {
				memcpy(out, v, 64);
				out[64] = '\0';
			} else {
				memcpy(out, "-", 2); /* present but malformed: refused */
			}
			return;
		}
		p = strchr(p, ';');
	}
}

/* Parses an admin request on the HTTP thread and queues it for a worker. */
static void rum_api_call_start(struct rum_api *api, struct rum_http_exchange *x,
			       const struct rum_http_request *req, const struct rum_api_route *r)
{
	struct rum_api_call *c = calloc(1, sizeof(*c));
	const char *authorization = rum_http_header(x, "Authorization");
	int rc;

	if (!c)
		abort();
	c->api = api;
	c->x = x;
	c->route = r;
	c->body = req->body;
	c->body_len = req->body_len;
	/* An over-long header cannot hold a rumd token: it is passed on empty,
	 * to be refused as one. */
	if (authorization) {
		if (strlen(authorization) < sizeof(c->authorization))
			memcpy(c->authorization, authorization, strlen(authorization) + 1);
		c->has_authorization = true;
	}
	rum_api_session_cookie(c->session, rum_http_header(x, "Cookie"));
	rum_api_copy_header(c->csrf, sizeof(c->csrf), rum_http_header(x, "X-CSRF-Token"));
	c->changes = strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0;
	c->tls = req->tls;
	rum_api_copy_header(c->client_addr, sizeof(c->client_addr), req->client_addr);
	rc = rum_api_params(c, r->pattern, req->path);
	if (rc == 0 && req->body_too_big)
		rc = rum_err_set(RUM_ETOOBIG, "request body is larger than max_body_bytes");
	if (rc == 0 && r->parse)
		rc = r->parse(c, req);
	if (rc == 0 && !api->admin)
		rc = rum_err_set(RUM_EUNAVAIL, "the admin API is not running");
	if (rc == 0)
		rc = rum_workq_submit(r->lane == RUM_API_HEAVY ? api->admin->heavy
							       : api->admin->light,
				      rum_api_call_work, c);
	if (rc != 0) {
		rum_api_reply_error(api, x, rc, rum_err_msg());
		rum_api_call_free(c);
	}
}

void rum_api_dispatch(void *ctx, struct rum_http_exchange *x, const struct rum_http_request *req)
{
	struct rum_api *api = ctx;
	const struct rum_api_route *best = NULL;
	const char *rest = NULL, *best_rest = NULL;
	char allow[64] = "", msg[80];
	int best_score = -1;

	if (req->busy) {
		rum_api_reply_error(api, x, RUM_EUNAVAIL, "too many request bodies in memory");
		return;
	}
	/* The most literal pattern that matches the path; among its peers (the
	 * same pattern), the one for the method. */
	for (size_t i = 0; i < rum_api_routes_count; i++) {
		const struct rum_api_route *r = &rum_api_routes[i];
		int score = rum_api_match_route(r, req->path, &rest);

		if (score < 0 || score < best_score)
			continue;
		if (score > best_score || (best && strcmp(best->pattern, r->pattern) != 0)) {
			best = NULL;
			allow[0] = '\0';
		}
		best_score = score;
		if (!r->method || strcmp(r->method, req->method) == 0) {
			best = r;
			best_rest = rest;
		} else if (strlen(allow) + strlen(r->method) + 3 < sizeof(allow)) {
			snprintf(allow + strlen(allow), sizeof(allow) - strlen(allow), "%s%s",
				 allow[0] ? ", " : "", r->method);
		}
	}
	if (best && best->lane == RUM_API_DIRECT) {
		best->direct(api, x, req, best_rest);
	} else if (best) {
		rum_api_call_start(api, x, req, best);
	} else if (allow[0]) {
		snprintf(msg, sizeof(msg), "use %s here", allow);
		rum_api_reply_error(api, x, RUM_EMETHOD, msg);
	} else {
		rum_api_reply_error(api, x, RUM_ENOTFOUND, "no such resource");
	}
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
					return rum_err_set(RUM_EINVAL,
							   "bad percent escape in path");
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
