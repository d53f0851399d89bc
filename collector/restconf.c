/* RESTCONF client, see restconf.h. */
#include "collector/restconf.h"

#include "lib/err.h"
#include "lib/json_sax.h"
#include "lib/text.h"

#include <jansson.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define MOD "cisco-smart-license"
#define RF_QUOTE 160 /* body bytes quoted in an error message */

/* ---- reading JSON ---- */

static int rf_sax_any(void *ctx)
{
	return 1;
}

static int rf_sax_bool(void *ctx, int v)
{
	return 1;
}

static int rf_sax_text(void *ctx, const char *s, size_t len)
{
	return 1;
}

static int rf_sax_at(void *ctx, size_t at)
{
	return 1;
}

/* The text as a jansson value, after a streaming pass that bounds its depth
 * (jansson recurses once a level, up to 2048 of them). */
static int rf_load(json_t **out, const char *buf, size_t len, const char *what)
{
	static const struct rum_json_sax_ops ops = {rf_sax_any,  rf_sax_bool, rf_sax_text,
						    rf_sax_text, rf_sax_text, rf_sax_at,
						    rf_sax_at,   rf_sax_at,   rf_sax_at};
	struct rum_json_sax_error se = {0};
	json_error_t e;

	*out = NULL;
	if (rum_json_sax_parse(buf, len, RUM_RESTCONF_MAX_DEPTH, &ops, NULL, &se) !=
	    RUM_JSON_SAX_OK)
		return rum_err_set(RUM_EINVAL, "restconf %s: not JSON: %s at byte %zu", what,
				   se.reason, se.offset);
	*out = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &e);
	if (!*out)
		return rum_err_set(RUM_EINVAL, "restconf %s: not JSON: %s", what, e.text);
	return 0;
}

/* A member by its simple or module-qualified name (RFC 7951 4). */
static json_t *rf_member(const json_t *o, const char *name)
{
	char q[96];
	json_t *v;

	if (!json_is_object(o))
		return NULL;
	v = json_object_get(o, name);
	if (v)
		return v;
	snprintf(q, sizeof(q), MOD ":%s", name);
	return json_object_get(o, q);
}

/* A string leaf, copied; absent or null: *out NULL. */
static int rf_leaf(char **out, const json_t *o, const char *name, const char *what)
{
	json_t *v = rf_member(o, name);
	size_t n;

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_string(v))
		return rum_err_set(RUM_EINVAL, "restconf %s: %s is not a string", what, name);
	n = json_string_length(v);
	if (n > RUM_NETCONF_XML_MAX_TEXT)
		return rum_err_set(RUM_ETOOBIG, "restconf %s: %s longer than %d bytes", what, name,
				   RUM_NETCONF_XML_MAX_TEXT);
	if (strlen(json_string_value(v)) != n)
		return rum_err_set(RUM_EINVAL, "restconf %s: %s holds a NUL character", what, name);
	*out = strdup(json_string_value(v));
	if (!*out)
		abort();
	return 0;
}

/* A list: an array, or absent (no entries). */
static int rf_list(const json_t **out, const json_t *o, const char *name)
{
	json_t *v = rf_member(o, name);

	*out = NULL;
	if (!v || json_is_null(v))
		return 0;
	if (!json_is_array(v))
		return rum_err_set(RUM_EINVAL, "restconf licensing state: %s is not a list", name);
	*out = v;
	return 0;
}

/* ---- the licensing state ---- */

/* licensing/state wherever the reply put it: the resource itself, its
 * licensing parent, or the whole datastore. */
static const json_t *rf_state(const json_t *doc)
{
	const json_t *d = rf_member(doc, "state"), *lic;

	if (json_is_object(d))
		return d;
	lic = rf_member(doc, "licensing");
	if (!lic)
		lic = rf_member(json_object_get(doc, "ietf-restconf:data"), "licensing");
	d = rf_member(lic, "state");
	return json_is_object(d) ? d : NULL;
}

static int rf_udi(struct rum_netconf_licensing *out, const json_t *si)
{
	const json_t *u = rf_member(si, "udi");
	int rc = rf_leaf(&out->pid, u, "pid", "licensing state");

	if (rc == 0)
		rc = rf_leaf(&out->sn, u, "sn", "licensing state");
	if (rc == 0 && !(out->pid && out->pid[0]) && !(out->sn && out->sn[0]))
		rc = rum_err_set(RUM_EINVAL, "restconf licensing state: no UDI (state-info/udi "
					     "has neither pid nor sn)");
	return rc;
}

/* count is a uint32 (a JSON number); anything else is unknown (-1). */
static int rf_usage_entry(struct rum_netconf_usage *u, const json_t *e)
{
	json_t *count = rf_member(e, "count");
	int rc;

	u->count = -1;
	if ((rc = rf_leaf(&u->tag, e, "entitlement-tag", "licensing state")) < 0 ||
	    (rc = rf_leaf(&u->name, e, "short-name", "licensing state")) < 0 ||
	    (rc = rf_leaf(&u->enforcement_mode, e, "enforcement-mode", "licensing state")) < 0)
		return rc;
	if (json_is_integer(count) && json_integer_value(count) >= 0 &&
	    json_integer_value(count) <= 4294967295LL)
		u->count = json_integer_value(count);
	return 0;
}

static void rf_usage_dispose(struct rum_netconf_usage *u)
{
	free(u->tag);
	free(u->name);
	free(u->enforcement_mode);
	memset(u, 0, sizeof(*u));
}

/* Entries without their key are skipped, as NETCONF's reader does. */
static int rf_usage(struct rum_netconf_licensing *out, const json_t *si)
{
	const json_t *list;
	size_t n;
	int rc = rf_list(&list, si, "usage");

	if (rc < 0 || !list)
		return rc;
	n = json_array_size(list);
	if (n > RUM_NETCONF_XML_MAX_USAGE)
		return rum_err_set(RUM_ETOOBIG,
				   "restconf licensing state: %zu usage entries, more than %d", n,
				   RUM_NETCONF_XML_MAX_USAGE);
	out->usage = n ? calloc(n, sizeof(*out->usage)) : NULL;
	if (n && !out->usage)
		abort();
	for (size_t i = 0; i < n; i++) {
		struct rum_netconf_usage *u = &out->usage[out->n_usage];

		rc = rf_usage_entry(u, json_array_get(list, i));
		if (rc == 0 && u->tag && u->tag[0]) {
			out->n_usage++;
			continue;
		}
		rf_usage_dispose(u);
		if (rc < 0)
			return rc;
	}
	return 0;
}

/* One trust-code entry per HA member: trusted when one of them is. */
static int rf_trust(struct rum_netconf_licensing *out, const json_t *si)
{
	const json_t *list;
	int rc = rf_list(&list, si, "trust-code");

	for (size_t i = 0; rc == 0 && list && i < json_array_size(list); i++) {
		const json_t *e = json_array_get(list, i), *inst = rf_member(e, "is-installed");

		out->trust_installed = json_is_true(inst) ||
				       (json_is_string(inst) &&
					strcmp(json_string_value(inst), "true") == 0);
		if (out->trust_installed)
			return rf_leaf(&out->trust_time, e, "time-installed", "licensing state");
	}
	return rc;
}

static int rf_read_state(struct rum_netconf_licensing *out, const json_t *state)
{
	const json_t *si = rf_member(state, "state-info"), *pol, *ack, *closed;
	int rc;

	if (!json_is_object(si))
		return rum_err_set(RUM_EINVAL, "restconf licensing state: no UDI (no state-info)");
	pol = rf_member(si, "policy");
	ack = rf_member(si, "rum-ack");
	if ((rc = rf_udi(out, si)) < 0 ||
	    (rc = rf_leaf(&out->version, state, "version", "licensing state")) < 0 ||
	    (rc = rf_leaf(&out->policy_name, pol, "policy-name", "licensing state")) < 0 ||
	    (rc = rf_leaf(&out->policy_type, pol, "policy-type", "licensing state")) < 0 ||
	    (rc = rf_trust(out, si)) < 0 ||
	    (rc = rf_leaf(&out->last_ack_time, ack, "last-received-time", "licensing state")) < 0 ||
	    (rc = rf_leaf(&out->next_report_deadline, ack, "next-report-deadline",
			  "licensing state")) < 0 ||
	    (rc = rf_usage(out, si)) < 0 ||
	    (rc = rf_list(&closed, si, "rum-reports-closed-keys")) < 0)
		return rc;
	out->n_closed_reports = json_array_size(closed);
	return rum_netconf_licensing_render(out);
}

int rum_restconf_read_state(struct rum_netconf_licensing *out, const char *buf, size_t len)
{
	const json_t *state;
	json_t *doc;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = rf_load(&doc, buf, len, "licensing state")) < 0)
		return rc;
	state = rf_state(doc);
	if (!state)
		rc = rum_err_set(RUM_EINVAL, "restconf licensing state: the reply holds no "
					     "cisco-smart-license licensing/state");
	else
		rc = rf_read_state(out, state);
	if (rc < 0)
		rum_netconf_licensing_dispose(out);
	json_decref(doc);
	return rc;
}

/* ---- RPC output and errors ---- */

int rum_restconf_read_output(struct rum_restconf_output *out, const char *buf, size_t len)
{
	const json_t *o;
	json_t *doc;
	size_t blank = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	while (blank < len && strchr(" \t\r\n", buf[blank]) && buf[blank])
		blank++;
	if (blank == len)
		return 0; /* 204 No Content: an output with nothing in it */
	if ((rc = rf_load(&doc, buf, len, "rpc output")) < 0)
		return rc;
	o = rf_member(doc, "output");
	if (!json_is_object(o) || json_object_size(doc) != 1)
		rc = rum_err_set(RUM_EINVAL,
				 "restconf rpc output: expected {\"" MOD ":output\":{...}}");
	else if ((rc = rf_leaf(&out->return_code, o, "return-code", "rpc output")) == 0)
		rc = rf_leaf(&out->confirmation, o, "confirmation-codes", "rpc output");
	if (rc < 0)
		rum_restconf_output_dispose(out);
	json_decref(doc);
	return rc;
}

void rum_restconf_output_dispose(struct rum_restconf_output *o)
{
	free(o->return_code);
	free(o->confirmation);
	memset(o, 0, sizeof(*o));
}

/* Appends "tag: message" of one error to msg. */
static void rf_error_one(char *msg, size_t size, const json_t *e)
{
	const json_t *tag = json_object_get(e, "error-tag");
	const json_t *m = json_object_get(e, "error-message");
	size_t n = strlen(msg);
	char t[RF_QUOTE * 4 + 8], q[RF_QUOTE * 4 + 8];

	rum_text_quote(t, sizeof(t), json_is_string(tag) ? json_string_value(tag) : "error",
		       json_is_string(tag) ? json_string_length(tag) : 5, 64);
	if (json_is_string(m))
		rum_text_quote(q, sizeof(q), json_string_value(m), json_string_length(m), RF_QUOTE);
	snprintf(msg + n, size - n, "%s%s%s%s", n ? "; " : "", t, json_is_string(m) ? ": " : "",
		 json_is_string(m) ? q : "");
}

int rum_restconf_read_errors(char *msg, size_t size, const char *body, size_t len)
{
	const json_t *errs, *list;
	json_t *doc = NULL;
	int rc = RUM_EINVAL;

	msg[0] = '\0';
	if (rf_load(&doc, body, len, "errors") == 0) {
		errs = json_object_get(doc, "ietf-restconf:errors");
		list = json_object_get(errs, "error");
		if (json_is_object(list)) {
			rf_error_one(msg, size, list);
			rc = 0;
		}
		for (size_t i = 0; json_is_array(list) && i < json_array_size(list) && i < 8; i++) {
			rf_error_one(msg, size, json_array_get(list, i));
			rc = 0;
		}
	}
	json_decref(doc);
	rum_err_clear();
	if (rc != 0)
		rum_text_quote(msg, size, body, len, RF_QUOTE);
	return rc;
}

/* ---- requests ---- */

/* A 2xx answer is the caller's; anything else is an error quoting what the
 * device said. */
static int rf_status(const char *what, long status, const char *body, size_t len)
{
	char msg[1024];

	if (status >= 200 && status < 300)
		return 0;
	rum_restconf_read_errors(msg, sizeof(msg), body, len);
	return rum_err_set(RUM_EIO, "%s: HTTP %ld: %s", what, status, msg);
}

int rum_restconf_get_state(struct rum_rest_client *c, struct rum_netconf_licensing *out)
{
	struct rum_rest_client_call call = {.path = "/data/" MOD ":licensing/state",
					    .accept = RUM_RESTCONF_MEDIA};
	char *body = NULL;
	size_t len = 0;
	long status = 0;
	int rc = rum_rest_client_call(c, &call, &status, &body, &len);

	memset(out, 0, sizeof(*out));
	if (rc == 0)
		rc = rf_status("get licensing state", status, body, len);
	if (rc == 0)
		rc = rum_restconf_read_state(out, body, len);
	free(body);
	return rc;
}

int rum_restconf_rpc(struct rum_rest_client *c, const char *name, const char *file_path,
		     struct rum_restconf_output *out)
{
	struct rum_rest_client_call call = {.accept = RUM_RESTCONF_MEDIA,
					    .content_type = RUM_RESTCONF_MEDIA};
	char path[128], *input = NULL, *body = NULL;
	size_t len = 0;
	long status = 0;
	json_t *j;
	int rc;

	memset(out, 0, sizeof(*out));
	if (strlen(file_path) < 1 || strlen(file_path) > 127)
		return rum_err_set(RUM_EINVAL, "restconf %s: file-path must be 1..127 characters",
				   name);
	snprintf(path, sizeof(path), "/operations/" MOD ":%s", name);
	j = json_pack("{s:{s:s}}", MOD ":input", "file-path", file_path);
	input = j ? json_dumps(j, JSON_COMPACT) : NULL;
	json_decref(j);
	if (!input)
		return rum_err_set(RUM_EINVAL, "restconf %s: file-path is not UTF-8", name);
	call.path = path;
	call.body = input;
	call.len = strlen(input);
	rc = rum_rest_client_call(c, &call, &status, &body, &len);
	if (rc == 0)
		rc = rf_status(name, status, body, len);
	if (rc == 0)
		rc = rum_restconf_read_output(out, body, len);
	free(input);
	free(body);
	return rc;
}
