/* Private to api/: the route table's types and one admin API request on its
 * way from an HTTP thread (route, parse) to a worker thread (access check,
 * then run: one domain call, rendered). */
#ifndef RUM_API_CALL_H
#define RUM_API_CALL_H

#include "api/api.h"
#include "domain/access.h"
#include "domain/devices.h"
#include "domain/export.h"
#include "domain/targets.h"
#include "domain/upstreams.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdint.h>

#define RUM_API_TENANT_MAX (128 * 4)
#define RUM_API_AUTH_MAX 256
#define RUM_API_FILE_NAME_MAX 128
/* The cookie that holds a browser session's secret. */
#define RUM_API_SESSION_COOKIE "rumd_session"

struct rum_api_call;

/* Where a route's work runs: on the HTTP thread, answering by itself (device
 * endpoints, probes: they never block), or on one of the admin API's worker
 * pools (exports and imports take seconds: their own pool, so that reads
 * never wait behind them). */
enum rum_api_lane { RUM_API_DIRECT = 0, RUM_API_LIGHT, RUM_API_HEAVY };

/* One route of the HTTP surface (api/routes.c holds them all).
 * `pattern` segments are literals, {tenant} (a tenant name, percent-decoded)
 * or {<what>} (a positive id: "'x' is not a <what> id"); a pattern ending in
 * "/..." also matches anything below it (device endpoints route the rest
 * themselves). `method` NULL takes every method (the handler answers 405). */
struct rum_api_route {
	const char *method;
	const char *pattern;
	enum rum_api_lane lane;
	enum rum_role role; /* the token role the route needs (admin API) */
	const char *action; /* audit name, for a refused write */
	/* RUM_API_DIRECT: answers the exchange; rest is the path below the pattern. */
	void (*direct)(struct rum_api *api, struct rum_http_exchange *x,
		       const struct rum_http_request *req, const char *rest);
	/* Worker lanes: parse (HTTP thread, may be NULL) checks the request and
	 * keeps what run needs; run (worker, after the access check) makes the
	 * one domain call and answers, or returns the error to answer. */
	int (*parse)(struct rum_api_call *c, const struct rum_http_request *req);
	int (*run)(struct rum_api_call *c);
	const char *summary; /* one line, for the route listing */
};

extern const struct rum_api_route rum_api_routes[];
extern const size_t rum_api_routes_count;

/* A name in a path ({user}). */
#define RUM_API_NAME_MAX 64

struct rum_api_call {
	struct rum_api *api;
	struct rum_http_exchange *x;
	const struct rum_api_route *route;
	char tenant[RUM_API_TENANT_MAX + 1];
	char name[RUM_API_NAME_MAX + 1]; /* a {user} in the path */
	char authorization[RUM_API_AUTH_MAX + 1];
	bool has_authorization;
	char session[65]; /* the rumd_session cookie's value, "" without one */
	char csrf[65];    /* the X-CSRF-Token header, "" without one */
	bool changes;     /* the method changes state (not GET or HEAD) */
	bool tls;         /* arrived over HTTPS */
	char client_addr[64];
	int64_t id;          /* the path's id, when the pattern has one */
	struct rum_actor by; /* who, once the access check passed */
	const char *body;    /* the exchange's, valid until the answer */
	size_t body_len;
	/* What parse() kept for run(). */
	struct rum_export_request export;
	char *since;
	int64_t *devices;
	char file_name[RUM_API_FILE_NAME_MAX + 1];
	json_t *body_json;                 /* a parsed JSON body, freed with the call */
	struct rum_target_spec spec;       /* pull-target add: points into body_json */
	struct rum_target_change change;   /* pull-target update: the same */
	struct rum_upstream_spec upstream; /* upstream set: the same */
	/* List queries (?sort=&state=&due_days=&q=&cursor=&limit=): copies. */
	struct rum_api_list {
		char sort[24], state[24], kind[32];
		char search[RUM_DEVICES_SEARCH_MAX + 1];
		char cursor[RUM_CURSOR_MAX];
		int due_days, limit;
	} list;
	/* Usage queries (?tag=&from=&to=): copies, "" when absent. */
	struct rum_api_usage_query {
		char tag[513], from[16], to[16];
	} usage;
};

/* Handlers, by resource. */
int rum_api_export_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_export_run(struct rum_api_call *c);
int rum_api_export_file_run(struct rum_api_call *c);
int rum_api_exports_list_run(struct rum_api_call *c);
int rum_api_import_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_import_run(struct rum_api_call *c);
int rum_api_ack_run(struct rum_api_call *c);
int rum_api_targets_list_run(struct rum_api_call *c);
int rum_api_target_add_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_target_add_run(struct rum_api_call *c);
int rum_api_users_list_run(struct rum_api_call *c);
int rum_api_user_create_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_user_create_run(struct rum_api_call *c);
int rum_api_user_update_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_user_update_run(struct rum_api_call *c);
int rum_api_target_update_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_target_update_run(struct rum_api_call *c);
int rum_api_target_get_run(struct rum_api_call *c);
int rum_api_target_remove_run(struct rum_api_call *c);
int rum_api_collect_run(struct rum_api_call *c);
int rum_api_collection_run(struct rum_api_call *c);
int rum_api_upstream_set_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_upstream_set_run(struct rum_api_call *c);
int rum_api_upstream_get_run(struct rum_api_call *c);
int rum_api_upstream_remove_run(struct rum_api_call *c);
int rum_api_upstreams_list_run(struct rum_api_call *c);
int rum_api_sync_get_run(struct rum_api_call *c);
int rum_api_sync_request_run(struct rum_api_call *c);

int rum_api_openapi_run(struct rum_api_call *c);
int rum_api_tenant_create_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_tenant_update_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_token_create_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_tenants_list_run(struct rum_api_call *c);
int rum_api_tenant_create_run(struct rum_api_call *c);
int rum_api_tenant_update_run(struct rum_api_call *c);
int rum_api_tokens_list_run(struct rum_api_call *c);
int rum_api_token_create_run(struct rum_api_call *c);
int rum_api_token_revoke_run(struct rum_api_call *c);
int rum_api_audit_list_run(struct rum_api_call *c);
int rum_api_alerts_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_alerts_list_run(struct rum_api_call *c);
int rum_api_alert_ack_run(struct rum_api_call *c);
int rum_api_usage_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_usage_run(struct rum_api_call *c);
int rum_api_usage_days_run(struct rum_api_call *c);
int rum_api_devices_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_reports_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_devices_list_run(struct rum_api_call *c);
int rum_api_device_get_run(struct rum_api_call *c);
/* A small request body (RUM_API_SMALL_BODY_MAX at most) as a JSON object
 * of string fields among `known` (list: them, for messages) into
 * c->body_json; a field's value or NULL. */
#define RUM_API_SMALL_BODY_MAX (16 * 1024)
int rum_api_small_body(struct rum_api_call *c, const struct rum_http_request *req,
		       const char *const *known, const char *list);
const char *rum_api_field(struct rum_api_call *c, const char *key);

/* Browser sessions (api/session.c). */
int rum_api_session_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_session_begin_run(struct rum_api_call *c);
int rum_api_session_get_run(struct rum_api_call *c);
int rum_api_session_end_run(struct rum_api_call *c);

int rum_api_overview_parse(struct rum_api_call *c, const struct rum_http_request *req);
int rum_api_overview_run(struct rum_api_call *c);
int rum_api_device_reports_run(struct rum_api_call *c);
int rum_api_reports_list_run(struct rum_api_call *c);
int rum_api_report_get_run(struct rum_api_call *c);
int rum_api_report_raw_run(struct rum_api_call *c);

/* The device endpoints and probes (RUM_API_DIRECT). */
void rum_api_cslu(struct rum_api *api, struct rum_http_exchange *x,
		  const struct rum_http_request *req, const char *rest);
void rum_api_files(struct rum_api *api, struct rum_http_exchange *x,
		   const struct rum_http_request *req, const char *rest);
void rum_api_healthz(struct rum_api *api, struct rum_http_exchange *x,
		     const struct rum_http_request *req, const char *rest);
/* The admin console (api/web.c): its page at "/", its files below /assets/. */
void rum_api_web_page(struct rum_api *api, struct rum_http_exchange *x,
		      const struct rum_http_request *req, const char *rest);
void rum_api_web_asset(struct rum_api *api, struct rum_http_exchange *x,
		       const struct rum_http_request *req, const char *rest);
void rum_api_readyz(struct rum_api *api, struct rum_http_exchange *x,
		    const struct rum_http_request *req, const char *rest);

#endif
