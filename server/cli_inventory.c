#include "server/cli_inventory.h"

#include "api/api.h"
#include "domain/alerts.h"
#include "domain/devices.h"
#include "domain/reports.h"
#include "domain/usage.h"
#include "lib/err.h"
#include "lib/strict.h"
#include "server/progress.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

const char *const rum_cli_device_opts[] = {"tenant", "state",  "sort", "search", "due-days",
					   "limit",  "cursor", "json", NULL};
const char *const rum_cli_report_opts[] = {"tenant", "device", "limit", "cursor",
					   "json",   "raw",    NULL};
const char *const rum_cli_alert_opts[] = {"tenant", "state", "kind", "limit",
					  "cursor", "json",  NULL};
const char *const rum_cli_usage_opts[] = {"tenant", "by-day", "tag", "from", "to", "json", NULL};

bool rum_cli_inventory_is_flag(const char *name)
{
	return strcmp(name, "json") == 0 || strcmp(name, "raw") == 0 || strcmp(name, "by-day") == 0;
}

void rum_cli_inventory_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd device list [--tenant NAME] [--state all|overdue|due|ack_pending|"
		"never_reported|failing]\n"
		"         [--due-days N] [--sort id|deadline|last_contact|hostname] "
		"[--search PREFIX]\n"
		"         [--limit N] [--cursor C] [--json]\n"
		"       rumd device show ID [--tenant NAME] [--json]\n"
		"       rumd report list [--tenant NAME] [--device ID] [--limit N] [--cursor C] "
		"[--json]\n"
		"       rumd report show ID [--tenant NAME] [--raw | --json]\n\n"
		"Devices are product instances, one per UDI, however their usage arrived "
		"(push,\npull, usage file). A device's state is the most urgent of: "
		"never_reported,\noverdue (its next reporting deadline passed), due_soon "
		"(within %d days),\nack_pending (exported, CSSM's ACK not imported), ok. The "
		"deadline follows\nCisco's policy rules (first report, ongoing reporting, "
		"report on change) with\nthe policy CSSM installed, or Cisco default (90 "
		"days each). --search matches\na prefix of the serial number, hostname or "
		"PID in any case. Lists come in\npages (--limit, default %d); the line after "
		"a full page names the --cursor of\nthe next. --json prints what the admin "
		"API answers. report show --raw writes\nthe report byte-exact as the device "
		"sent it. The tenant defaults to default_tenant.\n",
		RUM_DEVICES_DUE_DAYS_DEFAULT, RUM_DEVICES_LIMIT_DEFAULT);
}

void rum_cli_usage_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd usage [--tenant NAME] [--by-day [--tag TAG] [--from YYYY-MM-DD] "
		"[--to YYYY-MM-DD]] [--json]\n\n"
		"Licence usage per entitlement: devices using it and the total in use now (each "
		"device's\nnewest value), and the peak day. --by-day: devices and total per "
		"entitlement and day\n(default the last %d days, in UTC). Reports count once "
		"they are usage_lag_s old; this\nverb first counts what is due, as rumd serve "
		"does every upkeep_interval_s.\n",
		RUM_USAGE_DAYS_DEFAULT);
}

static int rum_cli_inv_int(int *out, const char *text, const char *what, int max)
{
	int64_t v;

	*out = 0;
	if (!text)
		return 0;
	if (rum_strict_int64(&v, text) != 0 || v < 1 || v > max)
		return rum_err_set(RUM_EINVAL, "--%s: '%s' is not a number from 1 to %d", what,
				   text, max);
	*out = (int)v;
	return 0;
}

static int rum_cli_inv_id(int64_t *id, const char *text, const char *what)
{
	if (!text || rum_strict_int64(id, text) != 0 || *id <= 0)
		return rum_err_set(RUM_EINVAL, "%s: '%s' is not an id", what, text ? text : "");
	return 0;
}

static const char *rum_cli_inv_or(const char *s, const char *dash)
{
	return s && s[0] ? s : dash;
}

/* Prints a JSON value, indented, and drops it. */
static void rum_cli_inv_json(json_t *j)
{
	char *text = json_dumps(j, JSON_INDENT(2));

	json_decref(j);
	if (!text)
		abort();
	puts(text);
	free(text);
}

struct rum_cli_inv {
	bool json;
	json_t *items;
	int rows;
};

static void rum_cli_device_line(void *arg, const struct rum_device *d)
{
	struct rum_cli_inv *c = arg;
	char reports[64];

	c->rows++;
	if (c->json) {
		json_array_append_new(c->items, rum_api_device_json(d));
		return;
	}
	snprintf(reports, sizeof(reports), "%" PRId64 "/%" PRId64 "/%" PRId64, d->reports,
		 d->not_exported, d->exported_unacked);
	printf("%-7" PRId64 " %-16.16s %-14.14s %-20.20s %-7s %-14s %-20s %-14s %s\n", d->id,
	       d->udi_pid, d->udi_sn, rum_cli_inv_or(d->hostname, "-"),
	       rum_cli_inv_or(d->method, "-"), d->state, d->last_contact, reports,
	       rum_cli_inv_or(d->next_deadline, "-"));
}

static void rum_cli_device_detail(void *arg, const struct rum_device *d)
{
	struct rum_cli_inv *c = arg;

	if (c->json) {
		json_t *o = rum_api_device_json(d);

		json_object_update(c->items, o);
		json_decref(o);
		return;
	}
	printf("device:            %" PRId64 " in tenant '%s'\n", d->id, d->tenant);
	printf("UDI:               %s / %s\n", d->udi_pid, d->udi_sn);
	printf("hostname:          %s\n", rum_cli_inv_or(d->hostname, "(not told)"));
	printf("software version:  %s\n", rum_cli_inv_or(d->software_version, "(not told)"));
	printf("reports by:        %s\n", rum_cli_inv_or(d->method, "(nothing yet)"));
	printf("state:             %s\n", d->state);
	printf("first seen:        %s\nlast contact:      %s\n", d->first_seen, d->last_contact);
	printf("reports:           %" PRId64 " stored, %" PRId64 " not exported, %" PRId64
	       " exported without ACK\n",
	       d->reports, d->not_exported, d->exported_unacked);
	printf("first/last report: %s / %s\n", rum_cli_inv_or(d->first_report_at, "-"),
	       rum_cli_inv_or(d->last_report_at, "-"));
	if (d->last_batch)
		printf("last export:       batch %" PRId64 " at %s\n", d->last_batch,
		       d->last_batch_at);
	if (d->ack_pending_since[0])
		printf("ACK pending since: %s\n", d->ack_pending_since);
	if (d->last_ack_id)
		printf("last ACK:          %" PRId64 " imported %s, %s%s\n", d->last_ack_id,
		       d->last_ack_at,
		       d->last_ack_delivered_at[0] ? "delivered " : "not delivered yet",
		       d->last_ack_delivered_at);
	printf("policy:            %s: first report %d, ongoing %d, on change %d days%s\n",
	       d->policy_name, d->first_days, d->ongoing_days, d->change_days,
	       d->policy_default ? " (none installed)" : "");
	printf("next deadline:     %s\n", rum_cli_inv_or(d->next_deadline, "none"));
	printf("trust code:        %s\n", d->trust);
	if (d->collection_failing)
		printf("collection:        failing (see rumd target list)\n");
}

static void rum_cli_usage_line(void *arg, const struct rum_device_usage *u)
{
	struct rum_cli_inv *c = arg;

	if (c->json) {
		json_t *list = json_object_get(c->items, "usage");

		if (!list)
			json_object_set_new(c->items, "usage", list = json_array());
		json_array_append_new(list,
				      json_pack("{s:s,s:s,s:s,s:s,s:I}", "entitlement_tag",
						u->entitlement_tag, "metric", u->metric, "value",
						u->value, "reported_at", u->received_at,
						"report_id", (json_int_t)u->report_id));
		return;
	}
	if (c->rows++ == 0)
		printf("\ncurrent usage (newest report per entitlement):\n");
	printf("  %-8s %-12s %s  (report %" PRId64 ", %s)\n", rum_cli_inv_or(u->value, "-"),
	       rum_cli_inv_or(u->metric, "-"), u->entitlement_tag, u->report_id, u->received_at);
}

static void rum_cli_report_line(void *arg, const struct rum_report *r)
{
	struct rum_cli_inv *c = arg;

	c->rows++;
	if (c->json) {
		json_array_append_new(c->items, rum_api_report_json(r));
		return;
	}
	printf("%-9" PRId64 " %-7" PRId64 " %-20" PRId64 " %-20s %-12s %-5" PRId64 " %-8s %s\n",
	       r->id, r->device_id, r->report_id, r->received_at, r->state, r->duplicates,
	       rum_cli_inv_or(r->value, "-"), rum_cli_inv_or(r->entitlement_tag, "-"));
}

static void rum_cli_report_detail(void *arg, const struct rum_report *r)
{
	struct rum_cli_inv *c = arg;

	if (c->json) {
		json_array_append_new(c->items, rum_api_report_json(r));
		return;
	}
	printf("report:        %" PRId64 " (report id %" PRId64 ") of device %" PRId64
	       " (%s / %s)\n",
	       r->id, r->report_id, r->device_id, r->udi_pid, r->udi_sn);
	printf("received:      %s via %s, format %s\n", r->received_at, r->source, r->format);
	printf("usage:         %s %s of %s\n", rum_cli_inv_or(r->value, "-"),
	       rum_cli_inv_or(r->metric, "-"), rum_cli_inv_or(r->entitlement_tag, "-"));
	printf("period:        %s to %s\n", rum_cli_inv_or(r->first_start, "?"),
	       rum_cli_inv_or(r->last_end, "?"));
	printf("state:         %s", r->state);
	if (r->batch_id)
		printf(", export batch %" PRId64, r->batch_id);
	if (r->acked_at[0])
		printf(", acknowledged %s", r->acked_at);
	if (r->pruned_at[0])
		printf(", payload pruned %s", r->pruned_at);
	printf("\n");
	if (r->conflict_of)
		printf("conflict:      a different payload for the report id of row %" PRId64
		       "; both are kept\n",
		       r->conflict_of);
	else if (r->conflicts)
		printf("conflicts:     %" PRId64 " other payload%s kept for this report id\n",
		       r->conflicts, r->conflicts == 1 ? "" : "s");
	if (r->duplicates)
		printf("received again: %" PRId64 " time%s, last %s (the device holds no ACK "
		       "for it yet, or did not then)\n",
		       r->duplicates, r->duplicates == 1 ? "" : "s", r->last_duplicate_at);
}

static void rum_cli_inv_next(const char *next, bool json)
{
	if (next[0] && !json)
		fprintf(stderr, "more: add --cursor %s\n", next);
}

static int rum_cli_device_list(struct rum_domain *dom, const char *tenant,
			       const char *(*opt)(const void *, const char *), const void *ctx)
{
	struct rum_cli_inv c = {opt(ctx, "json") != NULL, json_array(), 0};
	struct rum_devices_query q = {tenant, opt(ctx, "sort"),   opt(ctx, "state"),
				      0,      opt(ctx, "search"), opt(ctx, "cursor"),
				      0};
	char next[RUM_CURSOR_MAX];
	int rc = rum_cli_inv_int(&q.limit, opt(ctx, "limit"), "limit", RUM_DEVICES_LIMIT_MAX);

	if (rc == 0)
		rc = rum_cli_inv_int(&q.due_days, opt(ctx, "due-days"), "due-days", 3650);
	if (rc == 0 && !c.json)
		printf("%-7s %-16s %-14s %-20s %-7s %-14s %-20s %-14s %s\n", "ID", "PID", "SERIAL",
		       "HOSTNAME", "METHOD", "STATE", "LAST CONTACT", "REPORTS S/N/U",
		       "NEXT DEADLINE");
	if (rc == 0)
		rc = rum_devices_list(dom, &q, rum_cli_device_line, &c, next);
	if (rc == 0 && c.json)
		rum_cli_inv_json(json_pack("{s:O,s:o}", "devices", c.items, "next_cursor",
					   next[0] ? json_string(next) : json_null()));
	if (rc == 0)
		rum_cli_inv_next(next, c.json);
	json_decref(c.items);
	return rc;
}

/* A pull target of the device: a line, or an item of its JSON list. */
static void rum_cli_device_target(void *arg, const struct rum_device_target *t)
{
	struct rum_cli_inv *c = arg;

	if (c->json)
		json_array_append_new(c->items,
				      json_pack("{s:I,s:s,s:i,s:s}", "id", (json_int_t)t->id,
						"host", t->host, "port", t->port, "protocol",
						t->protocol));
	else
		printf("collected by:      pull target %" PRId64 " (%s:%d, %s)\n", t->id, t->host,
		       t->port, t->protocol);
}

static int rum_cli_device_show(struct rum_domain *dom, const char *tenant, const char *idtext,
			       bool json)
{
	struct rum_cli_inv t = {json, json_array(), 0};
	struct rum_cli_inv c = {json, json ? json_object() : NULL, 0};
	struct rum_cli_inv r = {json, json_array(), 0};
	char next[RUM_CURSOR_MAX];
	int64_t id;
	int rc = rum_cli_inv_id(&id, idtext, "device");

	/* The device first, then its usage lines (rows counts them). */
	if (rc == 0)
		rc = rum_devices_get(dom, tenant, id, rum_cli_device_detail, rum_cli_usage_line,
				     &c);
	if (rc == 0)
		rc = rum_devices_pull_targets(dom, tenant, id, rum_cli_device_target, &t);
	if (rc == 0 && !json)
		printf("\nnewest reports:\n%-9s %-7s %-20s %-20s %-12s %-5s %-8s %s\n", "ROW",
		       "DEVICE", "REPORT ID", "RECEIVED", "STATE", "AGAIN", "VALUE", "ENTITLEMENT");
	if (rc == 0)
		rc = rum_reports_list(dom, tenant, id, NULL, 10, rum_cli_report_line, &r, next);
	if (rc == 0 && json) {
		json_object_set(c.items, "pull_targets", t.items);
		json_object_set(c.items, "recent_reports", r.items);
		rum_cli_inv_json(json_incref(c.items));
	}
	json_decref(c.items);
	json_decref(r.items);
	json_decref(t.items);
	return rc;
}

static int rum_cli_report_list(struct rum_domain *dom, const char *tenant,
			       const char *(*opt)(const void *, const char *), const void *ctx)
{
	struct rum_cli_inv c = {opt(ctx, "json") != NULL, json_array(), 0};
	char next[RUM_CURSOR_MAX];
	int64_t device = 0;
	int limit = 0;
	int rc = rum_cli_inv_int(&limit, opt(ctx, "limit"), "limit", RUM_REPORTS_LIMIT_MAX);

	if (rc == 0 && opt(ctx, "device"))
		rc = rum_cli_inv_id(&device, opt(ctx, "device"), "--device");
	if (rc == 0 && !c.json)
		printf("%-9s %-7s %-20s %-20s %-12s %-5s %-8s %s\n", "ROW", "DEVICE", "REPORT ID",
		       "RECEIVED", "STATE", "AGAIN", "VALUE", "ENTITLEMENT");
	if (rc == 0)
		rc = rum_reports_list(dom, tenant, device, opt(ctx, "cursor"), limit,
				      rum_cli_report_line, &c, next);
	if (rc == 0 && c.json)
		rum_cli_inv_json(json_pack("{s:O,s:o}", "reports", c.items, "next_cursor",
					   next[0] ? json_string(next) : json_null()));
	if (rc == 0)
		rum_cli_inv_next(next, c.json);
	json_decref(c.items);
	return rc;
}

static int rum_cli_report_show(struct rum_domain *dom, const char *tenant, const char *idtext,
			       bool json, bool raw)
{
	struct rum_cli_inv c = {json, json_array(), 0};
	char *text = NULL;
	size_t len = 0;
	int64_t id;
	int rc = rum_cli_inv_id(&id, idtext, "report");

	if (rc == 0 && json && raw)
		rc = rum_err_set(RUM_EINVAL, "--raw and --json exclude each other");
	if (rc == 0)
		rc = rum_reports_get(dom, tenant, id, raw ? NULL : rum_cli_report_detail, &c,
				     raw ? &text : NULL, raw ? &len : NULL);
	if (rc == 0 && raw && text && fwrite(text, 1, len, stdout) != len)
		rc = rum_err_set(RUM_EIO, "writing the report to standard output failed");
	if (rc == 0 && json)
		rum_cli_inv_json(json_incref(json_array_get(c.items, 0)));
	free(text);
	json_decref(c.items);
	return rc;
}

int rum_cli_inventory(const struct rum_config *cfg, struct rum_domain *dom,
		      const char *const *words, int nwords,
		      const char *(*opt)(const void *ctx, const char *name), const void *ctx)
{
	const char *tenant = opt(ctx, "tenant") ? opt(ctx, "tenant") : cfg->default_tenant;
	bool device = strcmp(words[0], "device") == 0;
	const char *sub = nwords >= 2 ? words[1] : "";

	if (device && strcmp(sub, "list") == 0 && nwords == 2)
		return rum_cli_device_list(dom, tenant, opt, ctx);
	if (device && strcmp(sub, "show") == 0 && nwords == 3)
		return rum_cli_device_show(dom, tenant, words[2], opt(ctx, "json") != NULL);
	if (!device && strcmp(sub, "list") == 0 && nwords == 2)
		return rum_cli_report_list(dom, tenant, opt, ctx);
	if (!device && strcmp(sub, "show") == 0 && nwords == 3)
		return rum_cli_report_show(dom, tenant, words[2], opt(ctx, "json") != NULL,
					   opt(ctx, "raw") != NULL);
	if (device && (strcmp(sub, "add") == 0 || strcmp(sub, "remove") == 0))
		return rum_err_set(RUM_EINVAL,
				   "devices come and go with their usage; pull targets are "
				   "`rumd target %s` (see rumd target --help)",
				   sub);
	return rum_err_set(RUM_EINVAL, "usage: rumd %s list|show ID (see rumd %s --help)", words[0],
			   words[0]);
}

static void rum_cli_usage_tag(void *arg, const struct rum_usage_tag *t)
{
	struct rum_cli_inv *c = arg;

	c->rows++;
	if (c->json) {
		json_array_append_new(c->items,
				      json_pack("{s:s,s:I,s:I,s:I,s:o}", "entitlement_tag", t->tag,
						"devices", (json_int_t)t->devices, "in_use",
						(json_int_t)t->in_use, "peak", (json_int_t)t->peak,
						"peak_day",
						t->peak_day[0] ? json_string(t->peak_day)
							       : json_null()));
		return;
	}
	printf("%-9" PRId64 " %-9" PRId64 " %-9" PRId64 " %-11s %s\n", t->devices, t->in_use,
	       t->peak, rum_cli_inv_or(t->peak_day, "-"), t->tag);
}

static void rum_cli_usage_day(void *arg, const struct rum_usage_day *d)
{
	struct rum_cli_inv *c = arg;

	c->rows++;
	if (c->json) {
		json_array_append_new(c->items,
				      json_pack("{s:s,s:s,s:I,s:I}", "entitlement_tag", d->tag,
						"day", d->day, "devices", (json_int_t)d->devices,
						"in_use", (json_int_t)d->in_use));
		return;
	}
	printf("%-11s %-9" PRId64 " %-9" PRId64 " %s\n", d->day, d->devices, d->in_use, d->tag);
}

int rum_cli_usage(const struct rum_config *cfg, struct rum_domain *dom,
		  const char *(*opt)(const void *ctx, const char *name), const void *ctx)
{
	const char *tenant = opt(ctx, "tenant") ? opt(ctx, "tenant") : cfg->default_tenant;
	struct rum_cli_inv c = {opt(ctx, "json") != NULL, json_array(), 0};
	bool by_day = opt(ctx, "by-day") != NULL;
	atomic_llong taken = 0;
	char as_of[40];
	int rc = 0;

	if (!by_day && (opt(ctx, "tag") || opt(ctx, "from") || opt(ctx, "to")))
		rc = rum_err_set(RUM_EINVAL, "--tag, --from and --to go with --by-day");
	if (rc == 0) {
		struct rum_progress *p = rum_progress_start("counting licence usage", &taken,
							    "values", 0);

		rc = rum_usage_rollup(dom, (int)cfg->usage_lag_s, &taken);
		rum_progress_end(p, rc == 0);
	}
	if (rc == 0 && !c.json)
		printf(by_day ? "%-11s %-9s %-9s %s\n" : "%-9s %-9s %-9s %-11s %s\n",
		       by_day ? "DAY" : "DEVICES", by_day ? "DEVICES" : "IN USE",
		       by_day ? "IN USE" : "PEAK", by_day ? "ENTITLEMENT" : "PEAK DAY",
		       "ENTITLEMENT");
	if (rc == 0 && by_day)
		rc = rum_usage_days(dom, tenant, opt(ctx, "tag"), opt(ctx, "from"), opt(ctx, "to"),
				    rum_cli_usage_day, &c, as_of);
	else if (rc == 0)
		rc = rum_usage_summary(dom, tenant, rum_cli_usage_tag, &c, as_of);
	if (rc == 0 && c.json)
		rum_cli_inv_json(json_pack("{s:o,s:O}", "as_of",
					   as_of[0] ? json_string(as_of) : json_null(),
					   by_day ? "days" : "entitlements", c.items));
	else if (rc == 0)
		fprintf(stderr, "reports received before %s are counted\n",
			as_of[0] ? as_of : "(never counted)");
	json_decref(c.items);
	return rc;
}

void rum_cli_alert_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd alert list [--tenant NAME] [--state open|unacknowledged|resolved|all] "
		"[--kind KIND]\n"
		"         [--limit N] [--cursor C] [--json]\n"
		"       rumd alert ack ID [--tenant NAME]\n\n"
		"Alerts are what an admin must act on: deadline_passed, deadline_near "
		"(alert_deadline_warn_days),\nack_pending (alert_ack_pending_days), "
		"device_silent (alert_silent_days), unclassified_messages\n"
		"(alert_capture_days), report_conflict, collection_failing. They resolve by "
		"themselves when\ntheir cause goes away; `list` first brings them up to date, "
		"as rumd serve does every\nupkeep_interval_s. `ack` marks one seen (audited); "
		"a report conflict is resolved by it.\n");
}

static void rum_cli_alert_line(void *arg, const struct rum_alert *a)
{
	struct rum_cli_inv *c = arg;

	c->rows++;
	if (c->json) {
		json_array_append_new(c->items, rum_api_alert_json(a));
		return;
	}
	printf("%-7" PRId64 " %-8s %-21s %-20s %-20s %-3s %s\n", a->id, a->severity, a->kind,
	       a->first_seen, rum_cli_inv_or(a->resolved_at, "open"),
	       a->acknowledged_at[0] ? "yes" : "no", a->message);
}

int rum_cli_alert(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		  int nwords, const char *(*opt)(const void *ctx, const char *name),
		  const void *ctx)
{
	const char *tenant = opt(ctx, "tenant") ? opt(ctx, "tenant") : cfg->default_tenant;
	const char *sub = nwords >= 2 ? words[1] : "";
	struct rum_alert_windows w = {(int)cfg->alert_deadline_warn_days,
				      (int)cfg->alert_ack_pending_days, (int)cfg->alert_silent_days,
				      (int)cfg->alert_capture_days};
	struct rum_cli_inv c = {opt(ctx, "json") != NULL, json_array(), 0};
	char next[RUM_CURSOR_MAX];
	int64_t id;
	int limit = 0, rc;

	if (strcmp(sub, "ack") == 0 && nwords == 3) {
		struct rum_actor by = {.actor = "cli", .tenant = tenant};

		json_decref(c.items);
		rc = rum_cli_inv_id(&id, words[2], "alert");
		if (rc == 0)
			rc = rum_alerts_ack_by(dom, &by, id);
		if (rc == 0)
			printf("alert %" PRId64 " acknowledged\n", id);
		return rc;
	}
	if (strcmp(sub, "list") != 0 || nwords != 2) {
		json_decref(c.items);
		return rum_err_set(RUM_EINVAL,
				   "usage: rumd alert list|ack ID (see rumd alert --help)");
	}
	rc = rum_cli_inv_int(&limit, opt(ctx, "limit"), "limit", RUM_ALERTS_LIMIT_MAX);
	if (rc == 0) {
		struct rum_progress *p = rum_progress_start("bringing alerts up to date", NULL,
							    NULL, 0);

		rc = rum_alerts_evaluate(dom, &w, NULL);
		rum_progress_end(p, rc == 0);
	}
	if (rc == 0 && !c.json)
		printf("%-7s %-8s %-21s %-20s %-20s %-3s %s\n", "ID", "SEVERITY", "KIND",
		       "FIRST SEEN", "RESOLVED", "ACK", "MESSAGE");
	if (rc == 0)
		rc = rum_alerts_list(dom, tenant, opt(ctx, "state"), opt(ctx, "kind"),
				     opt(ctx, "cursor"), limit, rum_cli_alert_line, &c, next);
	if (rc == 0 && c.json)
		rum_cli_inv_json(json_pack("{s:O,s:o}", "alerts", c.items, "next_cursor",
					   next[0] ? json_string(next) : json_null()));
	if (rc == 0)
		rum_cli_inv_next(next, c.json);
	json_decref(c.items);
	return rc;
}
