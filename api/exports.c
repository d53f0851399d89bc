/* Exports in the admin API (routes in api/routes.c):
 *   POST .../exports              {"all":bool,"since":"ISO-8601","devices":[ids]}
 *   GET  .../exports               export batches, newest first, with ACK state
 *   GET  .../exports/<batch>/file the UD_SA_<ts>.tar.gz of that export
 * Parse, one domain call on a worker, render. */
#include "api/call.h"

#include "domain/export.h"
#include "lib/err.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUM_API_DEVICES_MAX 100000

/* The export request body; empty means the defaults. */
int rum_api_export_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	json_error_t jerr;
	json_t *doc, *v;
	const char *key;
	int rc = 0;

	if (req->body_len == 0)
		return 0;
	doc = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!doc)
		return rum_err_set(RUM_EINVAL, "body is not JSON: %s (line %d)", jerr.text,
				   jerr.line);
	if (!json_is_object(doc)) {
		json_decref(doc);
		return rum_err_set(RUM_EINVAL, "body must be a JSON object");
	}
	json_object_foreach(doc, key, v) {
		if (rc != 0)
			break;
		if (strcmp(key, "all") == 0) {
			if (!json_is_boolean(v))
				rc = rum_err_set(RUM_EINVAL, "\"all\" must be true or false");
			c->export.all = json_is_true(v);
		} else if (strcmp(key, "since") == 0) {
			if (!json_is_string(v) || json_string_length(v) == 0 ||
			    json_string_length(v) > 64)
				rc = rum_err_set(RUM_EINVAL, "\"since\" must be an ISO-8601 time");
			else if (!(c->since = strdup(json_string_value(v))))
				abort();
		} else if (strcmp(key, "devices") == 0) {
			size_t i;
			json_t *d;

			if (!json_is_array(v) || json_array_size(v) > RUM_API_DEVICES_MAX) {
				rc = rum_err_set(RUM_EINVAL,
						 "\"devices\" must be an array of at most "
						 "%d device ids",
						 RUM_API_DEVICES_MAX);
				break;
			}
			c->devices = calloc(json_array_size(v) + 1, sizeof(*c->devices));
			if (!c->devices)
				abort();
			json_array_foreach(v, i, d) {
				if (!json_is_integer(d) || json_integer_value(d) <= 0) {
					rc = rum_err_set(RUM_EINVAL,
							 "\"devices\" must hold positive "
							 "device ids");
					break;
				}
				c->devices[i] = json_integer_value(d);
			}
			c->export.devices = json_array_size(v) ? c->devices : NULL;
			c->export.ndevices = json_array_size(v);
		} else {
			rc = rum_err_set(RUM_EINVAL, "unknown field \"%s\" (all, since, devices)",
					 key);
		}
	}
	json_decref(doc);
	if (rc == 0 && c->export.all && c->since)
		rc = rum_err_set(RUM_EINVAL, "\"all\" and \"since\" exclude each other");
	c->export.since = c->since;
	return rc;
}

/* The tenant percent-encoded for a path. */
static void rum_api_encode(char *out, size_t size, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < size; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		    (ch >= '0' && ch <= '9') || ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static void rum_api_export_render(struct rum_api_call *c, const struct rum_export_summary *r)
{
	char enc[3 * RUM_API_TENANT_MAX + 1], path[3 * RUM_API_TENANT_MAX + 128];

	if (r->nothing) {
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:s}", "status", "EMPTY", "message",
					     "nothing to export; no file written"));
		return;
	}
	rum_api_encode(enc, sizeof(enc), c->tenant);
	snprintf(path, sizeof(path), "/api/v1/tenants/%s/exports/%" PRId64 "/file", enc,
		 r->batch_id);
	rum_api_reply_json(c->x, 201,
			   json_pack("{s:s,s:I,s:s,s:I,s:I,s:s}", "status", "OK", "batch_id",
				     (json_int_t)r->batch_id, "file", r->file_name, "devices",
				     (json_int_t)r->devices, "reports", (json_int_t)r->reports,
				     "download", path));
}

int rum_api_export_run(struct rum_api_call *c)
{
	struct rum_export_summary r;
	int rc = rum_export_by(c->api->dom, &c->by, &c->export, &r);

	if (rc == 0)
		rum_api_export_render(c, &r);
	return rc;
}

int rum_api_export_file_run(struct rum_api_call *c)
{
	char name[96], disposition[160];
	size_t size = 0;
	int fd, rc = rum_export_file_by(c->api->dom, &c->by, c->id, &fd, &size, name);

	if (rc == 0) {
		snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
		rum_http_respond_file(c->x, 200, "application/gzip", fd, size,
				      "Content-Disposition", disposition);
	}
	return rc;
}

static void rum_api_export_item(void *arg, const struct rum_export_batch_info *b)
{
	const char *state = b->devices_acked == 0           ? "waiting"
			    : b->devices_acked < b->devices ? "partial"
							    : "acknowledged";

	json_array_append_new(arg, json_pack("{s:I,s:s,s:s,s:I,s:I,s:s,s:s,s:I,s:I,s:o}", "id",
					     (json_int_t)b->id, "file", b->file_name, "selection",
					     b->selection, "devices", (json_int_t)b->devices,
					     "reports", (json_int_t)b->reports, "created_at",
					     b->created_at, "ack_state", state, "devices_acked",
					     (json_int_t)b->devices_acked, "reports_acked",
					     (json_int_t)b->reports_acked, "last_ack_at",
					     b->last_ack_at[0] ? json_string(b->last_ack_at)
							       : json_null()));
}

int rum_api_exports_list_run(struct rum_api_call *c)
{
	json_t *items = json_array();
	char next[64];
	int rc = rum_export_list_by(c->api->dom, &c->by, c->list.cursor, c->list.limit,
				    rum_api_export_item, items, next, sizeof(next));

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:o,s:o}", "exports", items, "next_cursor",
					     next[0] ? json_string(next) : json_null()));
	else
		json_decref(items);
	return rc;
}
