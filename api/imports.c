/* Imports in the admin API (routes in api/routes.c):
 *   POST .../imports   CSSM's ACK tarball, ACK XML or policy file as the body,
 *                      recorded under the X-File-Name header's name if given
 * Parse, one domain call on a worker, render entry by entry. */
#include "api/call.h"

#include "domain/import.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdlib.h>
#include <string.h>

/* The optional X-File-Name an import is recorded under: a plain base name. */
static int rum_api_import_file_name(struct rum_api_call *c, const char *name)
{
	size_t n = name ? strlen(name) : 0;

	if (!name)
		return 0;
	if (n == 0 || n > RUM_API_FILE_NAME_MAX || name[0] == '.')
		return rum_err_set(RUM_EINVAL,
				   "X-File-Name must be a file name of 1 to %d "
				   "characters",
				   RUM_API_FILE_NAME_MAX);
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

int rum_api_import_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	int rc = rum_api_import_file_name(c, rum_http_header(c->x, "X-File-Name"));

	if (rc == 0 && req->body_len == 0)
		rc = rum_err_set(RUM_EINVAL, "the body must be the file to import");
	return rc;
}

static json_t *rum_api_opt_string(const char *s)
{
	return s ? json_string(s) : json_null();
}

static void rum_api_import_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			abort();
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

static void rum_api_import_append_json(char **buf, size_t *len, size_t *cap, json_t *j)
{
	char *text = json_dumps(j, JSON_COMPACT);

	json_decref(j);
	if (!text)
		abort();
	rum_api_import_append(buf, len, cap, text, strlen(text));
	free(text);
}

static json_t *rum_api_import_applied(const struct rum_import_applied *a)
{
	json_t *o = json_pack("{s:I,s:I,s:I,s:I,s:s,s:s,s:b}", "device_id",
			      (json_int_t)a->device_id, "ack_id", (json_int_t)a->ack_id, "batch_id",
			      (json_int_t)a->batch_id, "reports_acked",
			      (json_int_t)a->reports_acked, "udi", a->udi, "entry",
			      a->entry ? a->entry : "", "new_ack", a->new_ack);

	if (a->ack) {
		json_object_set_new(o, "policy", rum_api_opt_string(a->ack->policy_name));
		json_object_set_new(o, "smart_account", rum_api_opt_string(a->ack->smart_account));
		json_object_set_new(o, "virtual_account",
				    rum_api_opt_string(a->ack->virtual_account));
	}
	return o;
}

/* The summary as one JSON object; an import of a large tenant applies
 * tens of thousands of ACKs, so the entry lists are written out one entry
 * at a time rather than built as one tree. */
static void rum_api_import_render(struct rum_api_call *c, const struct rum_import_result *r)
{
	json_t *skipped = json_array();
	char *buf = NULL;
	size_t len = 0, cap = 0;

	rum_api_import_append_json(&buf, &len, &cap,
				   json_pack("{s:s,s:I,s:b,s:s,s:I,s:I,s:I,s:I,s:I}", "status",
					     r->already ? "ALREADY_IMPORTED" : "OK", "import_id",
					     (json_int_t)r->import_id, "already", r->already,
					     "already_at", r->already_at, "devices",
					     (json_int_t)r->devices, "acks_new",
					     (json_int_t)r->acks_new, "reports_acked",
					     (json_int_t)r->reports_acked, "policies",
					     (json_int_t)r->policies, "trust_codes",
					     (json_int_t)r->trust_codes));
	len--; /* its closing brace */
	rum_api_import_append(&buf, &len, &cap, ",\"applied\":[", 12);
	for (size_t i = 0; i < r->n_applied; i++) {
		if (i)
			rum_api_import_append(&buf, &len, &cap, ",", 1);
		rum_api_import_append_json(&buf, &len, &cap,
					   rum_api_import_applied(&r->applied[i]));
	}
	for (size_t i = 0; i < r->n_skipped; i++)
		json_array_append_new(skipped, json_pack("{s:s,s:s}", "entry", r->skipped[i].entry,
							 "reason", r->skipped[i].reason));
	rum_api_import_append(&buf, &len, &cap, "],\"skipped\":", 12);
	rum_api_import_append_json(&buf, &len, &cap, skipped);
	rum_api_import_append(&buf, &len, &cap, "}", 1);
	rum_http_respond(c->x, 200, "application/json", buf, len, NULL, NULL);
}

int rum_api_import_run(struct rum_api_call *c)
{
	struct rum_import_result r;
	int rc = rum_import_body_by(c->api->dom, &c->by, c->body, c->body_len,
				    c->file_name[0] ? c->file_name : NULL, &r);

	if (rc == 0) {
		rum_api_import_render(c, &r);
		rum_import_result_dispose(&r);
	}
	return rc;
}
