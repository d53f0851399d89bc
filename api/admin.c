/* The admin REST API, /api/v1/tenants/<tenant>/...:
 *   POST exports                 {"all":bool,"since":"ISO-8601","devices":[ids]}
 *   GET  exports/<batch>/file    the UD_SA_<ts>.tar.gz of that export
 *   POST imports                 CSSM's ACK tarball, ACK XML or policy file as the body
 *   GET  devices/<id>/ack        the device's newest ACK, byte-exact
 * Bearer tokens, roles and the audit log are the admin domain's; here the
 * request is parsed, handed to a worker thread for its one domain call (no
 * database or file work on HTTP threads) and the outcome rendered. */
#include "api/api.h"
#include "api/admin_call.h"

#include "domain/admin.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/strict.h"
#include "lib/text.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#define RUM_ADMIN_SEGMENTS 5
#define RUM_ADMIN_DEVICES_MAX 100000

/* Exports and imports take seconds: two at a time, a few more waiting;
 * downloads have threads of their own so that they never wait behind them. */
#define RUM_ADMIN_HEAVY_THREADS 2
#define RUM_ADMIN_HEAVY_QUEUE 4
#define RUM_ADMIN_LIGHT_THREADS 2
#define RUM_ADMIN_LIGHT_QUEUE 64

struct rum_api_admin {
	struct rum_admin_pool *heavy, *light;
};

void rum_api_admin_open(struct rum_api *api)
{
	api->admin = calloc(1, sizeof(*api->admin));
	if (!api->admin)
		abort();
	api->admin->heavy = rum_admin_pool_new(RUM_ADMIN_HEAVY_THREADS, RUM_ADMIN_HEAVY_QUEUE);
	api->admin->light = rum_admin_pool_new(RUM_ADMIN_LIGHT_THREADS, RUM_ADMIN_LIGHT_QUEUE);
}

void rum_api_admin_close(struct rum_api *api)
{
	if (!api->admin)
		return;
	rum_admin_pool_free(api->admin->heavy);
	rum_admin_pool_free(api->admin->light);
	free(api->admin);
	api->admin = NULL;
}

static void rum_admin_call_free(struct rum_admin_call *c)
{
	free(c->since);
	free(c->devices);
	json_decref(c->body_json);
	free(c);
}

/* Path segments after the tenant, percent-decoded tenant first. */
static int rum_admin_parse_path(struct rum_admin_call *c, const char *rest, char seg[][24],
				int *nseg)
{
	const char *p = rest, *end;
	int rc;

	*nseg = 0;
	if (p[0] != '/' || p[1] == '/' || p[1] == '\0')
		return rum_err_set(RUM_ENOTFOUND, "no such resource");
	p++;
	end = strchr(p, '/');
	rc = rum_api_percent_decode(c->tenant, sizeof(c->tenant), p,
				    end ? (size_t)(end - p) : strlen(p));
	if (rc != 0)
		return rum_err_set(RUM_EINVAL, "tenant in path: %s", rum_err_msg());
	if (!rum_text_tenant_name_ok(c->tenant))
		return rum_err_set(RUM_EINVAL, "tenant in path is not a valid tenant name");
	while (end) {
		p = end + 1;
		end = strchr(p, '/');
		if (*nseg == RUM_ADMIN_SEGMENTS)
			return rum_err_set(RUM_ENOTFOUND, "no such resource");
		rc = rum_api_percent_decode(seg[*nseg], 24, p, end ? (size_t)(end - p) : strlen(p));
		if (rc != 0)
			return rum_err_set(RUM_ENOTFOUND, "no such resource");
		(*nseg)++;
	}
	return 0;
}

int rum_admin_parse_id(int64_t *out, const char *text, const char *what)
{
	if (rum_strict_int64(out, text) != 0 || *out <= 0)
		return rum_err_set(RUM_EINVAL, "'%s' is not a %s id", text, what);
	return 0;
}

/* The export request body; empty means the defaults. */
static int rum_admin_parse_export(struct rum_admin_call *c, const struct rum_http_request *req)
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

			if (!json_is_array(v) || json_array_size(v) > RUM_ADMIN_DEVICES_MAX) {
				rc = rum_err_set(RUM_EINVAL, "\"devices\" must be an array of at most "
						 "%d device ids", RUM_ADMIN_DEVICES_MAX);
				break;
			}
			c->devices = calloc(json_array_size(v) + 1, sizeof(*c->devices));
			if (!c->devices)
				abort();
			json_array_foreach(v, i, d) {
				if (!json_is_integer(d) || json_integer_value(d) <= 0) {
					rc = rum_err_set(RUM_EINVAL, "\"devices\" must hold positive "
							 "device ids");
					break;
				}
				c->devices[i] = json_integer_value(d);
			}
			c->export.devices = json_array_size(v) ? c->devices : NULL;
			c->export.ndevices = json_array_size(v);
		} else {
			rc = rum_err_set(RUM_EINVAL, "unknown field \"%s\" (all, since, devices)", key);
		}
	}
	json_decref(doc);
	if (rc == 0 && c->export.all && c->since)
		rc = rum_err_set(RUM_EINVAL, "\"all\" and \"since\" exclude each other");
	c->export.since = c->since;
	return rc;
}

/* The optional X-File-Name an import is recorded under: a plain base name. */
static int rum_admin_parse_file_name(struct rum_admin_call *c, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!name)
		return 0;
	if (n == 0 || n > RUM_ADMIN_FILE_NAME_MAX || name[0] == '.')
		return rum_err_set(RUM_EINVAL, "X-File-Name must be a file name of 1 to %d "
				   "characters", RUM_ADMIN_FILE_NAME_MAX);
	for (size_t i = 0; i < n; i++) {
		char ch = name[i];

		if (!((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
		      (ch >= '0' && ch <= '9') || ch == '.' || ch == '_' || ch == '-'))
			return rum_err_set(RUM_EINVAL, "X-File-Name may hold letters, digits, "
					   "'.', '_' and '-' only");
	}
	memcpy(c->file_name, name, n + 1);
	return 0;
}

/* Routes rest to a kind of call and checks the method: RUM_ENOTFOUND,
 * RUM_EMETHOD. */
static int rum_admin_route(struct rum_admin_call *c, const struct rum_http_request *req,
			   char seg[][24], int nseg)
{
	bool get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	int rc = rum_api_targets_route(c, req, seg, nseg);

	if (rc != RUM_ENOTFOUND)
		return rc;
	if (nseg == 1 && strcmp(seg[0], "exports") == 0) {
		c->kind = RUM_ADMIN_EXPORT;
		return post ? 0 : rum_err_set(RUM_EMETHOD, "use POST to run an export");
	}
	if (nseg == 1 && strcmp(seg[0], "imports") == 0) {
		c->kind = RUM_ADMIN_IMPORT;
		return post ? 0 : rum_err_set(RUM_EMETHOD, "use POST to import a file");
	}
	if (nseg == 3 && strcmp(seg[0], "exports") == 0 && strcmp(seg[2], "file") == 0) {
		c->kind = RUM_ADMIN_EXPORT_FILE;
		if (!get)
			return rum_err_set(RUM_EMETHOD, "use GET to download an export");
		return rum_admin_parse_id(&c->id, seg[1], "export");
	}
	if (nseg == 3 && strcmp(seg[0], "devices") == 0 && strcmp(seg[2], "ack") == 0) {
		c->kind = RUM_ADMIN_ACK;
		if (!get)
			return rum_err_set(RUM_EMETHOD, "use GET to download an ACK");
		return rum_admin_parse_id(&c->id, seg[1], "device");
	}
	return rum_err_set(RUM_ENOTFOUND, "no such resource");
}

/* The tenant percent-encoded for a path. */
static void rum_admin_encode(char *out, size_t size, const char *in)
{
	static const char hex[] = "0123456789ABCDEF";
	size_t o = 0;

	for (; *in && o + 4 < size; in++) {
		unsigned char ch = (unsigned char)*in;

		if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') || (ch >= '0' && ch <= '9') ||
		    ch == '-' || ch == '_' || ch == '.' || ch == '~') {
			out[o++] = (char)ch;
		} else {
			out[o++] = '%';
			out[o++] = hex[ch >> 4];
			out[o++] = hex[ch & 15];
		}
	}
	out[o] = '\0';
}

static void rum_admin_render_export(struct rum_admin_call *c,
				    const struct rum_admin_export_result *r)
{
	char enc[3 * RUM_ADMIN_TENANT_MAX + 1], path[3 * RUM_ADMIN_TENANT_MAX + 128];

	if (r->nothing) {
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:s}", "status", "EMPTY", "message",
					     "nothing to export; no file written"));
		return;
	}
	rum_admin_encode(enc, sizeof(enc), c->tenant);
	snprintf(path, sizeof(path), "/api/v1/tenants/%s/exports/%" PRId64 "/file", enc,
		 r->batch_id);
	rum_api_reply_json(c->x, 201,
			   json_pack("{s:s,s:I,s:s,s:I,s:I,s:s}", "status", "OK", "batch_id",
				     (json_int_t)r->batch_id, "file", r->file_name, "devices",
				     (json_int_t)r->devices, "reports", (json_int_t)r->reports,
				     "download", path));
}

static json_t *rum_admin_opt_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void rum_admin_render_import(struct rum_admin_call *c, const struct rum_import_result *r)
{
	json_t *applied = json_array(), *skipped = json_array();

	for (size_t i = 0; i < r->n_applied; i++) {
		const struct rum_import_applied *a = &r->applied[i];
		json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:b}", "device_id",
				      (json_int_t)a->device_id, "ack_id", (json_int_t)a->ack_id,
				      "batch_id", (json_int_t)a->batch_id, "reports_acked",
				      (json_int_t)a->reports_acked, "udi", a->udi, "entry",
				      a->entry ? a->entry : "", "new_ack", a->new_ack);

		if (a->ack) {
			json_object_set_new(o, "policy", rum_admin_opt_string(a->ack->policy_name));
			json_object_set_new(o, "smart_account",
					    rum_admin_opt_string(a->ack->smart_account));
			json_object_set_new(o, "virtual_account",
					    rum_admin_opt_string(a->ack->virtual_account));
		}
		json_array_append_new(applied, o);
	}
	for (size_t i = 0; i < r->n_skipped; i++)
		json_array_append_new(skipped, json_pack("{s:s,s:s}", "entry", r->skipped[i].entry,
							 "reason", r->skipped[i].reason));
	rum_api_reply_json(c->x, 200,
			   json_pack("{s:s,s:I,s:b,s:s,s:I,s:I,s:I,s:I,s:I,s:o,s:o}", "status",
				     r->already ? "ALREADY_IMPORTED" : "OK", "import_id",
				     (json_int_t)r->import_id, "already", r->already, "already_at",
				     r->already_at, "devices", (json_int_t)r->devices, "acks_new",
				     (json_int_t)r->acks_new, "reports_acked",
				     (json_int_t)r->reports_acked, "policies",
				     (json_int_t)r->policies, "trust_codes",
				     (json_int_t)r->trust_codes, "applied", applied, "skipped",
				     skipped));
}

/* One admin request on a worker thread: its one domain call, rendered. */
static void rum_admin_work(void *arg, bool cancelled)
{
	struct rum_admin_call *c = arg;
	struct rum_api *api = c->api;
	struct rum_admin_env env = {api->db_url, api->db_timeout_ms, api->data_dir, api->key_file};
	struct rum_admin_auth auth = {c->has_authorization ? c->authorization : NULL, c->tenant};
	char disposition[160];
	int rc;

	if (cancelled) {
		rum_api_reply_error(api, c->x, RUM_EUNAVAIL, "rumd is stopping");
		goto out;
	}
	switch (c->kind) {
	case RUM_ADMIN_TARGETS:
	case RUM_ADMIN_TARGET_ADD:
	case RUM_ADMIN_TARGET:
	case RUM_ADMIN_TARGET_REMOVE:
	case RUM_ADMIN_COLLECT:
	case RUM_ADMIN_COLLECTION:
		rc = rum_api_targets_work(c, &env, &auth);
		break;
	case RUM_ADMIN_EXPORT: {
		struct rum_admin_export_result r;

		rc = rum_admin_export(&env, &auth, &c->export, &r);
		if (rc == 0)
			rum_admin_render_export(c, &r);
		break;
	}
	case RUM_ADMIN_EXPORT_FILE: {
		char name[96];
		size_t size = 0;
		int fd;

		rc = rum_admin_export_file(&env, &auth, c->id, &fd, &size, name);
		if (rc == 0) {
			snprintf(disposition, sizeof(disposition), "attachment; filename=\"%s\"", name);
			rum_http_respond_file(c->x, 200, "application/gzip", fd, size,
					      "Content-Disposition", disposition);
		}
		break;
	}
	case RUM_ADMIN_IMPORT: {
		struct rum_import_result r;

		rc = rum_admin_import(&env, &auth, c->body, c->body_len,
				      c->file_name[0] ? c->file_name : NULL, &r);
		if (rc == 0) {
			rum_admin_render_import(c, &r);
			rum_import_result_dispose(&r);
		}
		break;
	}
	default: {
		char *content;
		size_t len;

		rc = rum_admin_ack(&env, &auth, c->id, &content, &len);
		if (rc == 0) {
			snprintf(disposition, sizeof(disposition),
				 "attachment; filename=\"ACK_device_%" PRId64 ".xml\"", c->id);
			rum_http_respond(c->x, 200, "application/xml", content, len,
					 "Content-Disposition", disposition);
		}
	}
	}
	if (rc != 0)
		rum_api_reply_error(api, c->x, rc, rum_err_msg());
out:
	rum_admin_call_free(c);
}

void rum_api_admin(struct rum_api *api, struct rum_http_exchange *x,
		   const struct rum_http_request *req, const char *rest)
{
	struct rum_admin_call *c = calloc(1, sizeof(*c));
	const char *authorization = rum_http_header(x, "Authorization");
	char seg[RUM_ADMIN_SEGMENTS][24];
	int nseg = 0, rc;

	if (!c)
		abort();
	c->api = api;
	c->x = x;
	rc = rum_admin_parse_path(c, rest, seg, &nseg);
	if (rc == 0)
		rc = rum_admin_route(c, req, seg, nseg);
	if (rc == 0 && req->body_too_big)
		rc = rum_err_set(RUM_ETOOBIG, "request body is larger than max_body_bytes");
	if (rc == 0 && c->kind == RUM_ADMIN_EXPORT)
		rc = rum_admin_parse_export(c, req);
	if (rc == 0 && c->kind == RUM_ADMIN_IMPORT) {
		rc = rum_admin_parse_file_name(c, rum_http_header(x, "X-File-Name"));
		if (rc == 0 && req->body_len == 0)
			rc = rum_err_set(RUM_EINVAL, "the body must be the file to import");
		c->body = req->body;
		c->body_len = req->body_len;
	}
	/* An over-long header cannot hold a rumd token: it is passed on empty,
	 * to be refused as one. */
	if (authorization) {
		if (strlen(authorization) < sizeof(c->authorization))
			memcpy(c->authorization, authorization, strlen(authorization) + 1);
		c->has_authorization = true;
	}
	if (rc == 0 && !api->admin)
		rc = rum_err_set(RUM_EUNAVAIL, "the admin API is not running");
	if (rc == 0)
		rc = rum_admin_pool_submit(c->kind == RUM_ADMIN_EXPORT || c->kind == RUM_ADMIN_IMPORT
						   ? api->admin->heavy
						   : api->admin->light,
					   rum_admin_work, c);
	if (rc != 0) {
		rum_api_reply_error(api, x, rc, rum_err_msg());
		rum_admin_call_free(c);
	}
}
