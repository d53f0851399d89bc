/* The API layer: one route table for the whole HTTP surface (api/routes.c:
 * the device endpoints, probes and the admin REST API), request parsing and
 * reply rendering. Every handler parses, makes one domain call, renders. */
#ifndef RUM_API_H
#define RUM_API_H

#include "api/http.h"
#include "domain/domain.h"

#include <stdbool.h>
#include <stddef.h>

struct rum_api_admin; /* api/router.c: the admin API's worker threads */

struct rum_api {
	struct rum_domain *dom;
	const char *default_tenant;
	bool auto_create_tenants;
	bool capture_all;
	size_t max_reports;
	int retry_after_s;
	struct rum_api_admin *admin; /* rum_api_admin_open(); NULL: admin API answers 503 */
};

/* Starts the admin API's worker threads (exports and imports never run on
 * HTTP threads). rum_api_admin_close() lets running work finish, answers
 * queued requests with 503 and stops them; call it after the HTTP side has
 * drained. */
void rum_api_admin_open(struct rum_api *api);
void rum_api_admin_close(struct rum_api *api);

/* The transport's single entry point (a rum_http_handler): routes one
 * request by path and method and answers it, now or later. */
void rum_api_dispatch(void *api, struct rum_http_exchange *x, const struct rum_http_request *req);

/* The metrics listener's handler (a rum_http_handler, ctx from
 * rum_api_metrics_new): GET /metrics in Prometheus' text format, licence
 * figures per tenant counted at most every cache_s seconds. */
struct rum_api_metrics;
struct rum_api_metrics *rum_api_metrics_new(struct rum_api *api, int cache_s);
void rum_api_metrics_free(struct rum_api_metrics *m); /* accepts NULL */
void rum_api_metrics_dispatch(void *ctx, struct rum_http_exchange *x,
			      const struct rum_http_request *req);

/* Answers with a JSON document; steals `json` (a jansson json_t *). */
void rum_api_reply_json(struct rum_http_exchange *x, int status, void *json);

/* The admin API's JSON of a device, a report and an alert (a new jansson json_t
 * reference), so that the CLI's --json prints what the API answers. */
struct rum_device;
struct rum_report;
struct rum_alert;
void *rum_api_device_json(const struct rum_device *d);
void *rum_api_report_json(const struct rum_report *r);
void *rum_api_alert_json(const struct rum_alert *a);

/* Answers an error code: the one place where RUM_E* codes become HTTP
 * statuses. Body {"status":"FAILED","message":msg}; RUM_EUNAVAIL becomes 503
 * with Retry-After and {"status":"OK_TRY_AGAIN"} for devices. */
void rum_api_reply_error(struct rum_api *api, struct rum_http_exchange *x, int rc, const char *msg);

/* The route table, one route at a time: method ("*" for the device
 * endpoints, which answer methods themselves), path pattern, the token role
 * the route needs ("" for none), its audit action and a one-line summary. */
void rum_api_routes_each(void (*cb)(void *arg, const char *method, const char *pattern,
				    const char *role, const char *action, const char *summary),
			 void *arg);

/* Decodes %XX escapes of a path segment into out (at most out_len-1 bytes).
 * Errors: RUM_EINVAL for a bad escape, an encoded NUL or an overlong result. */
int rum_api_percent_decode(char *out, size_t out_len, const char *in, size_t in_len);

#endif
