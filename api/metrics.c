/* Prometheus metrics at /metrics, served on the metrics listener
 * (metrics_listen) only: the series name tenants, which the device port
 * must not tell strangers. The process's own series (lib/metrics.h) come
 * first, then licence gauges per tenant, counted through the domain at
 * most every cache_s seconds so that scrapes from several Prometheus
 * servers cost the database one count. */
#include "api/api.h"

#include "domain/devices.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/metrics.h"

#include <pthread.h>
#include <stddef.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

struct rum_api_metrics {
	struct rum_api *api;
	int cache_s;
	time_t started;
	pthread_mutex_t lock; /* one count at a time; guards what follows */
	struct timespec counted;
	struct rum_metrics_text tenants; /* the tenant families, as last counted */
	bool ok;                         /* the last count succeeded */
};

/* One tenant family: the field of the overview it reads. */
struct rum_api_metrics_family {
	const char *name, *help;
	size_t offset;
};

#define RUM_OV(f) offsetof(struct rum_devices_overview, f)

static const struct rum_api_metrics_family rum_api_metrics_families[] = {
	{"rumd_tenant_devices", "Devices (product instances) a tenant has heard of",
	 RUM_OV(devices)},
	{"rumd_tenant_devices_overdue", "Devices past their reporting deadline", RUM_OV(overdue)},
	{"rumd_tenant_devices_due_soon", "Devices whose reporting deadline is near",
	 RUM_OV(due_soon)},
	{"rumd_tenant_devices_ack_pending", "Devices with exported usage waiting for CSSM's ACK",
	 RUM_OV(ack_pending)},
	{"rumd_tenant_devices_never_reported", "Devices with no report stored yet",
	 RUM_OV(never_reported)},
	{"rumd_tenant_devices_collection_failing", "Devices whose pull collection fails",
	 RUM_OV(collection_failing)},
	{"rumd_tenant_alerts_open", "Open alerts", RUM_OV(alerts_open)},
	{"rumd_tenant_alerts_critical", "Open critical alerts", RUM_OV(alerts_critical)},
};

#define RUM_API_METRICS_NFAMILIES \
	(sizeof(rum_api_metrics_families) / sizeof(rum_api_metrics_families[0]))

/* Overviews as the domain hands them over, kept until rendered. */
struct rum_api_metrics_rows {
	char **tenant;
	struct rum_devices_overview *ov;
	size_t n;
};

static void rum_api_metrics_row(void *arg, const char *tenant, const struct rum_devices_overview *o)
{
	struct rum_api_metrics_rows *r = arg;

	r->tenant = realloc(r->tenant, (r->n + 1) * sizeof(*r->tenant));
	r->ov = realloc(r->ov, (r->n + 1) * sizeof(*r->ov));
	if (!r->tenant || !r->ov || !(r->tenant[r->n] = strdup(tenant)))
		abort();
	r->ov[r->n++] = *o;
}

/* Counts every tenant again when the last count is older than cache_s. */
static void rum_api_metrics_count(struct rum_api_metrics *m)
{
	struct rum_api_metrics_rows rows = {0};
	struct rum_metrics_text text = {0};
	struct timespec now;
	int rc;

	clock_gettime(CLOCK_MONOTONIC, &now);
	if (m->counted.tv_sec && now.tv_sec - m->counted.tv_sec < m->cache_s)
		return;
	rc = rum_devices_overview_each(m->api->dom, rum_api_metrics_row, &rows);
	if (rc == 0) {
		for (size_t f = 0; f < RUM_API_METRICS_NFAMILIES; f++) {
			const struct rum_api_metrics_family *fam = &rum_api_metrics_families[f];

			rum_metrics_write_family(&text, fam->name, "gauge", fam->help);
			for (size_t i = 0; i < rows.n; i++)
				rum_metrics_write_sample(
					&text, fam->name, "tenant", rows.tenant[i],
					(double)*(const int64_t *)(const void *)((const char *)&rows
											 .ov[i] +
										 fam->offset));
		}
		free(m->tenants.buf);
		m->tenants = text;
		m->counted = now;
	} else {
		free(text.buf);
		rum_log_warn("metrics: tenant figures not counted: %s", rum_err_msg());
	}
	m->ok = rc == 0;
	for (size_t i = 0; i < rows.n; i++)
		free(rows.tenant[i]);
	free(rows.tenant);
	free(rows.ov);
}

static void rum_api_metrics_answer(struct rum_api_metrics *m, struct rum_http_exchange *x)
{
	struct rum_metrics_text out = {0};

	rum_metrics_render(&out);
	rum_metrics_write_family(&out, "rumd_build_info", "gauge", "rumd's version, always 1");
	rum_metrics_printf(&out, "rumd_build_info{version=\"%s\"} 1\n", RUM_VERSION);
	rum_metrics_write_family(&out, "process_start_time_seconds", "gauge",
				 "Start time of the process since the Unix epoch in seconds");
	rum_metrics_write_sample(&out, "process_start_time_seconds", NULL, NULL,
				 (double)m->started);
	pthread_mutex_lock(&m->lock);
	rum_api_metrics_count(m);
	rum_metrics_write_family(&out, "rumd_tenant_figures_ok", "gauge",
				 "1 when the last count of the tenant figures succeeded; the "
				 "figures shown are the last good count");
	rum_metrics_write_sample(&out, "rumd_tenant_figures_ok", NULL, NULL, m->ok ? 1 : 0);
	if (m->tenants.len)
		rum_metrics_printf(&out, "%.*s", (int)m->tenants.len, m->tenants.buf);
	pthread_mutex_unlock(&m->lock);
	rum_http_respond(x, 200, "text/plain; version=0.0.4; charset=utf-8", out.buf, out.len, NULL,
			 NULL);
}

struct rum_api_metrics *rum_api_metrics_new(struct rum_api *api, int cache_s)
{
	struct rum_api_metrics *m = calloc(1, sizeof(*m));

	if (!m)
		abort();
	m->api = api;
	m->cache_s = cache_s;
	m->started = time(NULL);
	pthread_mutex_init(&m->lock, NULL);
	return m;
}

void rum_api_metrics_free(struct rum_api_metrics *m)
{
	if (!m)
		return;
	pthread_mutex_destroy(&m->lock);
	free(m->tenants.buf);
	free(m);
}

void rum_api_metrics_dispatch(void *ctx, struct rum_http_exchange *x,
			      const struct rum_http_request *req)
{
	static const char *const allow[] = {"Allow", "GET, HEAD", NULL};
	static const char not_found[] = "not found: metrics are at /metrics\n";
	static const char not_allowed[] = "only GET and HEAD\n";

	if (strcmp(req->path, "/metrics") != 0)
		rum_http_respond_static(x, 404, "text/plain", not_found, sizeof(not_found) - 1,
					NULL);
	else if (strcmp(req->method, "GET") != 0 && strcmp(req->method, "HEAD") != 0)
		rum_http_respond_static(x, 405, "text/plain", not_allowed, sizeof(not_allowed) - 1,
					allow);
	else
		rum_api_metrics_answer(ctx, x);
}
