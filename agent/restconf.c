/* RESTCONF for the licensing model, see restconf.h. */
#include "agent/restconf.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/ops.h"
#include "agent/show.h"
#include "lib/err.h"
#include "lib/log.h"

#define MOD "cisco-smart-license"
#define DATA "/restconf/data"
#define OPS "/restconf/operations"
#define YANG_LIBRARY_VERSION "2019-01-04"

static const char *const rpcs[] = {"rum-save-usage-all", "rum-save-usage-unreported",
				   "rum-save-usage-days", "import-file"};

/* ---- replies ---- */

static void reply_text(struct rum_agent_restconf_reply *out, unsigned status, const char *type,
		       char *text)
{
	if (!text)
		abort();
	out->status = status;
	out->content_type = type;
	out->body = text;
	out->len = strlen(text);
}

/* Steals j. */
static void reply_json(struct rum_agent_restconf_reply *out, unsigned status, json_t *j)
{
	char *text = j ? json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER) : NULL;

	json_decref(j);
	reply_text(out, status, RUM_AGENT_RESTCONF_JSON, text);
}

void rum_agent_restconf_error(struct rum_agent_restconf_reply *out, unsigned status,
			      const char *type, const char *tag, const char *msg)
{
	reply_json(out, status,
		   json_pack("{s:{s:[{s:s,s:s,s:s}]}}", "ietf-restconf:errors", "error",
			     "error-type", type, "error-tag", tag, "error-message", msg));
}

void rum_agent_restconf_reply_dispose(struct rum_agent_restconf_reply *r)
{
	free(r->body);
	r->body = NULL;
}

/* ---- the licensing state, RFC 7951 ---- */

static json_t *yang_time(int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;
	char buf[40];

	gmtime_r(&tt, &tm);
	strftime(buf, sizeof(buf), "%Y-%m-%dT%H:%M:%S+00:00", &tm);
	return json_string(buf);
}

/* uint64 travels as a string in RFC 7951 (7.1: JSON numbers lose
 * precision past 2^53); uint32 as a number. */
static json_t *yang_u64(uint64_t v)
{
	char buf[24];

	snprintf(buf, sizeof(buf), "%llu", (unsigned long long)v);
	return json_string(buf);
}

static json_t *udi(const struct rum_agent_state *st)
{
	return json_pack("{s:s,s:s}", "pid", st->pid, "sn", st->serial);
}

static json_t *policy(const struct rum_agent_state *st)
{
	static const char *names[RUM_AGENT_POL_N] = {"policy-perpetual", "policy-subscription",
						     "policy-enforced", "policy-export"};
	const struct rum_agent_policy *p = &st->policy;
	json_t *pol = json_pack("{s:s,s:s}", "policy-type",
				p->installed ? "policy-type-custom" : "policy-type-cisco-default",
				"policy-name", p->name);

	if (p->installed)
		json_object_set_new(pol, "install-time", yang_time(p->install_time));
	json_object_set_new(pol, "ack-required", json_boolean(p->ack_required));
	for (int i = 0; i < RUM_AGENT_POL_N; i++)
		json_object_set_new(pol, names[i],
				    json_pack("{s:I,s:I,s:I}", "reporting-first-time",
					      (json_int_t)p->attrs[i].first, "reporting-ongoing",
					      (json_int_t)p->attrs[i].ongoing, "reporting-macd",
					      (json_int_t)p->attrs[i].macd));
	return pol;
}

static const char *report_state(enum rum_agent_report_state s)
{
	switch (s) {
	case RUM_AGENT_REPORT_OPEN: return "rum-report-state-open";
	case RUM_AGENT_REPORT_CLOSED: return "rum-report-state-closed";
	case RUM_AGENT_REPORT_UNACK: return "rum-report-state-unacknowledged";
	case RUM_AGENT_REPORT_ACK: return "rum-report-state-acknowledged";
	}
	return "rum-report-state-invalid";
}

static json_t *usage(const struct rum_agent_state *st)
{
	json_t *a = json_array();
	char name[64];

	for (size_t i = 0; i < st->n_ent; i++) {
		if (!st->ent[i].count)
			continue;
		rum_agent_short_name(name, sizeof(name), st->ent[i].tag);
		json_array_append_new(a, json_pack("{s:s,s:s,s:I,s:s,s:b}", "entitlement-tag",
						   st->ent[i].tag, "short-name", name, "count",
						   (json_int_t)st->ent[i].count, "enforcement-mode",
						   "enforcement-in-compliance", "post-paid", 0));
	}
	return a;
}

static json_t *closed_keys(const struct rum_agent_state *st)
{
	json_t *a = json_array();
	char key[32];

	for (size_t i = 0; i < st->n_rep; i++) {
		const struct rum_agent_report *r = &st->rep[i];

		if (r->state == RUM_AGENT_REPORT_OPEN)
			continue;
		snprintf(key, sizeof(key), "%llu", (unsigned long long)r->id);
		json_array_append_new(a,
				      json_pack("{s:s,s:o,s:o,s:o,s:o,s:s}", "rum-report-key", key,
						"report-id", yang_u64(r->id), "udi", udi(st),
						"report-start-time", yang_time(r->start),
						"report-end-time", yang_time(r->end),
						"report-state", report_state(r->state)));
	}
	return a;
}

/* Empty lists are left out: RFC 7951 has no empty list instance. */
static void set_list(json_t *o, const char *key, json_t *a)
{
	if (json_array_size(a))
		json_object_set_new(o, key, a);
	else
		json_decref(a);
}

static json_t *state_info(const struct rum_agent_state *st)
{
	json_t *si = json_object(), *trust, *ack;
	char key[200];

	json_object_set_new(si, "transport",
			    json_pack("{s:s}", "transport-type",
				      strcmp(st->transport, "cslu") == 0 ? "transport-type-cslu"
									 : "transport-type-off"));
	json_object_set_new(si, "privacy", json_pack("{s:b,s:b}", "hostname", 0, "version", 0));
	json_object_set_new(si, "udi", udi(st));
	set_list(si, "usage", usage(st));
	json_object_set_new(si, "policy", policy(st));
	rum_agent_state_udi_key(st, key, sizeof(key));
	trust = json_pack("{s:s,s:b}", "key_udi", key, "is-installed", st->trust_time != 0);
	if (st->trust_time)
		json_object_set_new(trust, "time-installed", yang_time(st->trust_time));
	json_object_set_new(trust, "udi", udi(st));
	json_object_set_new(si, "trust-code", json_pack("[o]", trust));
	set_list(si, "rum-reports-closed-keys", closed_keys(st));
	ack = json_object();
	if (st->last_ack_time)
		json_object_set_new(ack, "last-received-time", yang_time(st->last_ack_time));
	json_object_set_new(ack, "next-report-deadline",
			    yang_time(rum_agent_next_ack_deadline(st)));
	json_object_set_new(si, "rum-ack", ack);
	return si;
}

/* The content of licensing/state. */
static json_t *state_json(const struct rum_agent_state *st)
{
	return json_pack("{s:b,s:b,s:s,s:o}", "always-enabled", 1, "smart-enabled", 1, "version",
			 "5.9.4_rel/41", "state-info", state_info(st));
}

/* Loads the device and renders what path asks for: "licensing" (the
 * container, named qualified) or "state". NULL on error (message set). */
static json_t *load_state(const char *dir, int whole)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	json_t *j = NULL;

	if (!st)
		abort();
	if (rum_agent_op_load(st, dir) == 0) {
		j = state_json(st);
		if (whole)
			j = json_pack("{s:{s:o}}", MOD ":licensing", "state", j);
		rum_agent_state_dispose(st);
	}
	free(st);
	return j;
}

int rum_agent_restconf_state_json(char **out, const char *dir)
{
	json_t *j = load_state(dir, 1);

	*out = NULL;
	if (!j)
		return RUM_EIO;
	*out = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	return *out ? 0 : RUM_EIO;
}

/* ---- operations ---- */

/* The input of an RPC: {"cisco-smart-license:input":{"file-path":S[,"days":N]}}
 * (RFC 8040 3.6.1). Fills path (1..127 characters) and days (90 unless
 * given, rum-save-usage-days only); on error an RFC 8040 reply is set. */
static int rpc_input(struct rum_agent_restconf_reply *out, const char *name,
		     const struct rum_agent_restconf_req *req, char path[128], uint32_t *days)
{
	int with_days = strcmp(name, "rum-save-usage-days") == 0;
	json_error_t e;
	json_t *doc, *in, *v;
	const char *key;
	char msg[300];
	int rc = -1;

	doc = req->len ? json_loadb(req->body, req->len, JSON_REJECT_DUPLICATES, &e) : NULL;
	if (!doc) {
		snprintf(msg, sizeof(msg), "the body is not JSON: %s",
			 req->len ? e.text : "empty (file-path is mandatory)");
		rum_agent_restconf_error(out, 400, "protocol", "malformed-message", msg);
		return -1;
	}
	in = json_object_get(doc, MOD ":input");
	if (!json_is_object(in) || json_object_size(doc) != 1) {
		rum_agent_restconf_error(out, 400, "protocol", "malformed-message",
					 "the body must be one object {\"" MOD ":input\":{...}}");
		goto out;
	}
	json_object_foreach(in, key, v) {
		if (strcmp(key, "file-path") != 0 && !(with_days && strcmp(key, "days") == 0)) {
			snprintf(msg, sizeof(msg), "%.60s has no input %.100s", name, key);
			rum_agent_restconf_error(out, 400, "application", "unknown-element", msg);
			goto out;
		}
	}
	v = json_object_get(in, "file-path");
	if (!json_is_string(v) || json_string_length(v) < 1 || json_string_length(v) > 127 ||
	    strlen(json_string_value(v)) != json_string_length(v)) {
		rum_agent_restconf_error(out, 400, "application",
					 v ? "invalid-value" : "missing-element",
					 "file-path (a string of 1..127 characters) is required");
		goto out;
	}
	snprintf(path, 128, "%s", json_string_value(v));
	*days = 90;
	v = json_object_get(in, "days");
	if (v &&
	    (!json_is_integer(v) || json_integer_value(v) < 0 || json_integer_value(v) > 3650)) {
		rum_agent_restconf_error(out, 400, "application", "invalid-value",
					 "days must be a number 0..3650");
		goto out;
	}
	if (v)
		*days = (uint32_t)json_integer_value(v);
	rc = 0;
out:
	json_decref(doc);
	return rc;
}

static int json_media(const char *ct)
{
	size_t n = ct ? strcspn(ct, "; \t") : 0;

	return (n == strlen(RUM_AGENT_RESTCONF_JSON) &&
		strncasecmp(ct, RUM_AGENT_RESTCONF_JSON, n) == 0) ||
	       (n == 16 && strncasecmp(ct, "application/json", n) == 0);
}

static void operation(struct rum_agent_restconf_reply *out, const char *dir,
		      const struct rum_agent_restconf_req *req, const char *name)
{
	char path[128], summary[512];
	uint32_t days = 0;
	int rc;

	if (req->content_type && !json_media(req->content_type)) {
		rum_agent_restconf_error(out, 415, "protocol", "invalid-value",
					 "this device takes " RUM_AGENT_RESTCONF_JSON " input");
		return;
	}
	if (rpc_input(out, name, req, path, &days) < 0)
		return;
	if (strcmp(name, "import-file") == 0) {
		rc = rum_agent_op_import(dir, path, 0, summary, sizeof(summary));
	} else {
		enum rum_agent_save_mode mode = strcmp(name, "rum-save-usage-all") == 0
							? RUM_AGENT_SAVE_ALL
						: strcmp(name, "rum-save-usage-days") == 0
							? RUM_AGENT_SAVE_DAYS
							: RUM_AGENT_SAVE_UNREPORTED;
		rc = rum_agent_op_save_usage(dir, mode, days, path, 0);
	}
	if (rc < 0)
		rum_log_warn("restconf %s %s: %s", name, path, rum_err_msg());
	reply_json(out, 200,
		   json_pack("{s:{s:s}}", MOD ":output", "return-code",
			     rum_agent_op_return_code(rc)));
}

static json_t *operations_list(void)
{
	json_t *o = json_object();
	char key[80];

	for (size_t i = 0; i < sizeof(rpcs) / sizeof(rpcs[0]); i++) {
		snprintf(key, sizeof(key), MOD ":%s", rpcs[i]);
		json_object_set_new(o, key, json_pack("[n]"));
	}
	return json_pack("{s:o}", "ietf-restconf:operations", o);
}

/* ---- routing ---- */

static int accepts_json(const char *accept)
{
	const char *p = accept;

	if (!accept || !*accept)
		return 1;
	for (;;) {
		p += strspn(p, " \t,");
		if (!*p)
			return 0;
		if (json_media(p) || strncmp(p, "*/*", 3) == 0 ||
		    strncmp(p, "application/*", 13) == 0)
			return 1;
		p += strcspn(p, ",");
	}
}

static void data(struct rum_agent_restconf_reply *out, const char *dir, const char *rest)
{
	int all = strcmp(rest, "") == 0 || strcmp(rest, "/") == 0;
	json_t *j;

	if (all || strcmp(rest, "/" MOD ":licensing") == 0) {
		j = load_state(dir, 1);
		if (j && all)
			j = json_pack("{s:o}", "ietf-restconf:data", j);
	} else if (strcmp(rest, "/" MOD ":licensing/state") == 0) {
		j = load_state(dir, 0);
		if (j)
			j = json_pack("{s:o}", MOD ":state", j);
	} else {
		rum_agent_restconf_error(out, 404, "protocol", "invalid-value",
					 "no such data resource on this device");
		return;
	}
	if (!j)
		rum_agent_restconf_error(out, 500, "application", "operation-failed",
					 rum_err_msg());
	else
		reply_json(out, 200, j);
}

static void op_route(struct rum_agent_restconf_reply *out, const char *dir,
		     const struct rum_agent_restconf_req *req, const char *rest, int get, int post)
{
	if ((strcmp(rest, "") == 0 || strcmp(rest, "/") == 0) && get) {
		reply_json(out, 200, operations_list());
		return;
	}
	for (size_t i = 0; i < sizeof(rpcs) / sizeof(rpcs[0]); i++) {
		if (strncmp(rest, "/" MOD ":", strlen(MOD) + 2) != 0 ||
		    strcmp(rest + strlen(MOD) + 2, rpcs[i]) != 0)
			continue;
		if (post)
			operation(out, dir, req, rpcs[i]);
		else
			rum_agent_restconf_error(out, 405, "protocol", "operation-not-supported",
						 "an operation is invoked with POST");
		return;
	}
	rum_agent_restconf_error(out, 404, "protocol", "invalid-value",
				 "no such operation on this device");
}

void rum_agent_restconf_handle(struct rum_agent_restconf_reply *out, const char *dir,
			       const struct rum_agent_restconf_req *req)
{
	int get = strcmp(req->method, "GET") == 0, post = strcmp(req->method, "POST") == 0;
	const char *p = req->path;

	memset(out, 0, sizeof(*out));
	if (strcmp(p, "/.well-known/host-meta") == 0 && get) {
		reply_text(out, 200, "application/xrd+xml",
			   strdup("<XRD xmlns='http://docs.oasis-open.org/ns/xri/xrd-1.0'>\n"
				  "  <Link rel='restconf' href='/restconf'/>\n</XRD>\n"));
		return;
	}
	if (strncmp(p, "/restconf", 9) != 0 || (p[9] != '\0' && p[9] != '/')) {
		rum_agent_restconf_error(out, 404, "protocol", "invalid-value", "not found");
		return;
	}
	if (!accepts_json(req->accept)) {
		rum_agent_restconf_error(out, 406, "protocol", "invalid-value",
					 "this device answers " RUM_AGENT_RESTCONF_JSON " only");
		return;
	}
	if (strncmp(p, OPS, strlen(OPS)) == 0 &&
	    (p[strlen(OPS)] == '\0' || p[strlen(OPS)] == '/')) {
		op_route(out, dir, req, p + strlen(OPS), get, post);
		return;
	}
	if (!get) {
		rum_agent_restconf_error(out, 405, "protocol", "operation-not-supported",
					 "licensing state is read-only: GET it");
		return;
	}
	if (strcmp(p, "/restconf") == 0 || strcmp(p, "/restconf/") == 0)
		reply_json(out, 200,
			   json_pack("{s:{s:{},s:{},s:s}}", "ietf-restconf:restconf", "data",
				     "operations", "yang-library-version", YANG_LIBRARY_VERSION));
	else if (strcmp(p, "/restconf/yang-library-version") == 0)
		reply_json(out, 200,
			   json_pack("{s:s}", "ietf-restconf:yang-library-version",
				     YANG_LIBRARY_VERSION));
	else if (strncmp(p, DATA, strlen(DATA)) == 0 &&
		 (p[strlen(DATA)] == '\0' || p[strlen(DATA)] == '/'))
		data(out, dir, p + strlen(DATA));
	else
		rum_agent_restconf_error(out, 404, "protocol", "invalid-value", "not found");
}
