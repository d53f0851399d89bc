/* Pull targets and collections in the admin REST API,
 * /api/v1/tenants/<tenant>/...:
 *   GET    pull-targets                 the tenant's targets
 *   POST   pull-targets                 add one (JSON below; admin)
 *   GET    pull-targets/<id>            one, with its last 20 collections
 *   PATCH  pull-targets/<id>            change it: any fields of add (admin)
 *   DELETE pull-targets/<id>            remove it (admin)
 *   POST   pull-targets/<id>/collect    queue a collection now (operator)
 *   POST   pull-targets/collect         queue one for every target (operator)
 *   GET    collections/<id>             one collection: state, counts, error
 * Add takes {"host","port","protocol":"netconf|restconf|restapi","username",
 * "password"|"key","known_host_key"|"trust_on_first_use":true,
 * "interval":"24h"|seconds|"on_demand":true,"path_prefix","transfer":"scp|http",
 * "rest_raw","plain_http"}. Credentials are write-only: never rendered. */
#include "api/call.h"

#include "domain/targets.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdlib.h>
#include <string.h>

#define RUM_TARGETS_BODY_MAX (128 * 1024)

static int rum_api_targets_str(const char **out, json_t *v, const char *key)
{
	if (!json_is_string(v))
		return rum_err_set(RUM_EINVAL, "\"%s\" must be a string", key);
	*out = json_string_value(v);
	return 0;
}

static int rum_api_targets_bool(bool *out, json_t *v, const char *key)
{
	if (!json_is_boolean(v))
		return rum_err_set(RUM_EINVAL, "\"%s\" must be true or false", key);
	*out = json_is_true(v);
	return 0;
}

static int rum_api_targets_field(struct rum_target_spec *s, const char *key, json_t *v,
				 bool *on_demand, bool *has_interval)
{
	if (strcmp(key, "host") == 0)
		return rum_api_targets_str(&s->host, v, key);
	if (strcmp(key, "protocol") == 0)
		return rum_api_targets_str(&s->protocol, v, key);
	if (strcmp(key, "username") == 0)
		return rum_api_targets_str(&s->username, v, key);
	if (strcmp(key, "known_host_key") == 0)
		return rum_api_targets_str(&s->known_host_key, v, key);
	if (strcmp(key, "path_prefix") == 0)
		return rum_api_targets_str(&s->path_prefix, v, key);
	if (strcmp(key, "transfer") == 0)
		return rum_api_targets_str(&s->transfer, v, key);
	if (strcmp(key, "trust_on_first_use") == 0)
		return rum_api_targets_bool(&s->trust_on_first_use, v, key);
	if (strcmp(key, "rest_raw") == 0)
		return rum_api_targets_bool(&s->rest_raw, v, key);
	if (strcmp(key, "plain_http") == 0)
		return rum_api_targets_bool(&s->rest_plain_http, v, key);
	if (strcmp(key, "on_demand") == 0)
		return rum_api_targets_bool(on_demand, v, key);
	if (strcmp(key, "password") == 0 || strcmp(key, "key") == 0) {
		int rc = rum_api_targets_str(key[0] == 'p' ? &s->password : &s->key, v, key);

		if (key[0] == 'p')
			s->password_len = json_string_length(v);
		else
			s->key_len = json_string_length(v);
		return rc;
	}
	if (strcmp(key, "port") == 0) {
		if (!json_is_integer(v) || json_integer_value(v) < 1 ||
		    json_integer_value(v) > 65535)
			return rum_err_set(RUM_EINVAL, "\"port\" must be 1 to 65535");
		s->port = (int)json_integer_value(v);
		return 0;
	}
	if (strcmp(key, "interval") == 0) {
		*has_interval = true;
		if (json_is_integer(v) && json_integer_value(v) > 0) {
			s->interval_s = json_integer_value(v);
			return 0;
		}
		if (json_is_string(v) &&
		    rum_strict_duration(&s->interval_s, json_string_value(v)) == 0)
			return 0;
		return rum_err_set(RUM_EINVAL, "\"interval\" must be seconds or a duration such as "
					       "\"24h\"");
	}
	return rum_err_set(RUM_EINVAL, "unknown field \"%s\"", key);
}

/* Reads a target body (an add, or a change when ch is set: which of its
 * boolean fields were given is noted there) into spec. */
static int rum_api_targets_body(struct rum_api_call *c, const struct rum_http_request *req,
				struct rum_target_spec *s, struct rum_target_change *ch,
				bool *on_demand, bool *has_interval)
{
	json_error_t jerr;
	const char *key;
	json_t *v;

	if (req->body_len == 0 || req->body_len > RUM_TARGETS_BODY_MAX)
		return rum_err_set(RUM_EINVAL, "the body must be the %s as a JSON object",
				   ch ? "changes" : "target");
	c->body_json = json_loadb(req->body, req->body_len, JSON_REJECT_DUPLICATES, &jerr);
	if (!c->body_json || !json_is_object(c->body_json))
		return rum_err_set(RUM_EINVAL, "body is not a JSON object: %s", jerr.text);
	if (ch && json_object_size(c->body_json) == 0)
		return rum_err_set(RUM_EINVAL, "nothing to change: give at least one field");
	json_object_foreach(c->body_json, key, v) {
		int rc = rum_api_targets_field(s, key, v, on_demand, has_interval);

		if (rc != 0)
			return rc;
		if (ch && strcmp(key, "trust_on_first_use") == 0)
			ch->tofu_set = true;
		else if (ch && strcmp(key, "rest_raw") == 0)
			ch->rest_raw_set = true;
		else if (ch && strcmp(key, "plain_http") == 0)
			ch->plain_http_set = true;
	}
	if (*on_demand && *has_interval)
		return rum_err_set(RUM_EINVAL, "\"interval\" and \"on_demand\" exclude each other");
	return 0;
}

int rum_api_target_add_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	struct rum_target_spec *s = &c->spec;
	bool on_demand = false, has_interval = false;
	int rc;

	s->protocol = "netconf";
	s->interval_s = 86400;
	rc = rum_api_targets_body(c, req, s, NULL, &on_demand, &has_interval);
	if (rc != 0)
		return rc;
	if (on_demand)
		s->interval_s = 0;
	if ((!s->known_host_key || !s->known_host_key[0]) && !s->trust_on_first_use)
		return rum_err_set(RUM_EINVAL, "\"known_host_key\" or \"trust_on_first_use\": true "
					       "is needed");
	s->tenant = c->tenant;
	return rum_targets_spec_check(s);
}

static json_t *rum_api_targets_opt(const char *s)
{
	return s && s[0] ? json_string(s) : json_null();
}

/* Both renderers take this: targets go to list, jobs to jobs. */
struct rum_api_targets_out {
	json_t *list, *jobs;
};

static void rum_api_targets_target(void *arg, const struct rum_target *t)
{
	struct rum_api_targets_out *out = arg;
	json_t *o = json_pack("{s:I,s:s,s:s,s:i,s:s,s:s,s:s,s:o,s:b,s:o,s:s,s:s,s:b,s:b,s:i,s:o,"
			      "s:s,s:o}",
			      "id", (json_int_t)t->id, "tenant", t->tenant, "host", t->host, "port",
			      t->port, "protocol", t->protocol, "username", t->username, "auth",
			      t->auth, "known_host_key", rum_api_targets_opt(t->known_host_key),
			      "trust_on_first_use", t->trust_on_first_use, "interval_s",
			      t->interval_s ? json_integer(t->interval_s) : json_null(),
			      "path_prefix", t->path_prefix, "transfer", t->transfer, "rest_raw",
			      t->rest_raw, "plain_http", t->rest_plain_http, "failures",
			      t->failures, "failing_since", rum_api_targets_opt(t->failing_since),
			      "created_at", t->created_at, "next_due",
			      rum_api_targets_opt(t->next_due));

	json_object_set_new(o, "device",
			    t->device_id
				    ? json_pack("{s:I,s:s,s:s}", "id", (json_int_t)t->device_id,
						"udi_pid", t->udi_pid, "udi_sn", t->udi_sn)
				    : json_null());
	json_object_set_new(o, "last_collection",
			    t->last_job_id
				    ? json_pack("{s:I,s:s,s:s,s:I,s:I,s:I,s:o}", "id",
						(json_int_t)t->last_job_id, "state", t->last_state,
						"finished_at", t->last_finished,
						"reports_collected", (json_int_t)t->last_collected,
						"reports_new", (json_int_t)t->last_new,
						"acks_delivered", (json_int_t)t->last_acks, "error",
						rum_api_targets_opt(t->last_error))
				    : json_null());
	json_array_append_new(out->list, o);
}

static void rum_api_targets_job(void *arg, const struct rum_collection *j)
{
	struct rum_api_targets_out *out = arg;

	json_array_append_new(
		out->jobs,
		json_pack("{s:I,s:I,s:s,s:s,s:s,s:s,s:o,s:s,s:o,s:o,s:i,s:o,s:I,s:I,s:I,s:o}", "id",
			  (json_int_t)j->id, "target_id", (json_int_t)j->target_id, "host", j->host,
			  "protocol", j->protocol, "trigger", j->trigger, "state", j->state, "node",
			  rum_api_targets_opt(j->node), "due_at", j->due_at, "started_at",
			  rum_api_targets_opt(j->started_at), "finished_at",
			  rum_api_targets_opt(j->finished_at), "attempts", j->attempts,
			  "duration_ms",
			  j->duration_ms < 0 ? json_null() : json_integer(j->duration_ms),
			  "reports_collected", (json_int_t)j->collected, "reports_new",
			  (json_int_t)j->new_reports, "acks_delivered", (json_int_t)j->acks,
			  "error", rum_api_targets_opt(j->error)));
}

static void rum_api_targets_queued(void *arg, int64_t job_id, int64_t target_id)
{
	struct rum_api_targets_out *out = arg;

	json_array_append_new(out->jobs, json_pack("{s:I,s:I}", "id", (json_int_t)job_id,
						   "target_id", (json_int_t)target_id));
}

/* The secret in the parsed body is of no further use: overwrite it. */
static void rum_api_targets_wipe(struct rum_api_call *c)
{
	json_t *v;

	if (!c->body_json)
		return;
	if ((v = json_object_get(c->body_json, "password")) && json_is_string(v))
		rum_crypto_wipe((char *)json_string_value(v), json_string_length(v));
	if ((v = json_object_get(c->body_json, "key")) && json_is_string(v))
		rum_crypto_wipe((char *)json_string_value(v), json_string_length(v));
}

int rum_api_target_add_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int64_t id = 0;
	int rc = rum_targets_add_by(c->api->dom, &c->by, &c->spec, &id);

	rum_api_targets_wipe(c);
	if (rc == 0)
		rc = rum_targets_get_by(c->api->dom, &c->by, id, rum_api_targets_target, NULL,
					&out);
	if (rc == 0)
		rum_api_reply_json(c->x, 201, json_incref(json_array_get(out.list, 0)));
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}

/* A PATCH body: the fields of an add, each optional; "known_host_key": ""
 * forgets the pinned key (with "trust_on_first_use": true, learnt again). */
int rum_api_target_update_parse(struct rum_api_call *c, const struct rum_http_request *req)
{
	struct rum_target_change *ch = &c->change;
	bool on_demand = false, has_interval = false;
	int rc = rum_api_targets_body(c, req, &ch->spec, ch, &on_demand, &has_interval);

	if (rc != 0)
		return rc;
	if (has_interval || json_object_get(c->body_json, "on_demand")) {
		if (json_object_get(c->body_json, "on_demand") && !on_demand)
			return rum_err_set(RUM_EINVAL, "\"on_demand\": false says nothing: give "
						       "\"interval\" instead");
		ch->interval_set = true;
		if (on_demand)
			ch->spec.interval_s = 0;
	}
	if (ch->spec.password && ch->spec.key)
		return rum_err_set(RUM_EINVAL, "exactly one of a password and a key is needed");
	return 0;
}

int rum_api_target_update_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int rc = rum_targets_update_by(c->api->dom, &c->by, c->id, &c->change);

	rum_api_targets_wipe(c);
	if (rc == 0)
		rc = rum_targets_get_by(c->api->dom, &c->by, c->id, rum_api_targets_target, NULL,
					&out);
	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_incref(json_array_get(out.list, 0)));
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}

int rum_api_targets_list_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int rc = rum_targets_get_by(c->api->dom, &c->by, 0, rum_api_targets_target, NULL, &out);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_pack("{s:O}", "pull_targets", out.list));
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}

int rum_api_target_get_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int rc = rum_targets_get_by(c->api->dom, &c->by, c->id, rum_api_targets_target,
				    rum_api_targets_job, &out);

	if (rc == 0) {
		json_t *o = json_incref(json_array_get(out.list, 0));

		json_object_set(o, "collections", out.jobs);
		rum_api_reply_json(c->x, 200, o);
	}
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}

int rum_api_target_remove_run(struct rum_api_call *c)
{
	int rc = rum_targets_remove_by(c->api->dom, &c->by, c->id);

	if (rc == 0)
		rum_api_reply_json(c->x, 200,
				   json_pack("{s:s,s:I}", "status", "OK", "removed",
					     (json_int_t)c->id));
	return rc;
}

/* POST .../pull-targets/<id>/collect, or .../pull-targets/collect (id 0:
 * every target of the tenant). */
int rum_api_collect_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int rc = rum_targets_collect_by(c->api->dom, &c->by, c->id, rum_api_targets_queued, &out);

	if (rc == 0)
		rum_api_reply_json(c->x, 202,
				   json_pack("{s:s,s:O}", "status", "QUEUED", "collections",
					     out.jobs));
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}

int rum_api_collection_run(struct rum_api_call *c)
{
	struct rum_api_targets_out out = {json_array(), json_array()};
	int rc = rum_collections_get_by(c->api->dom, &c->by, c->id, rum_api_targets_job, &out);

	if (rc == 0)
		rum_api_reply_json(c->x, 200, json_incref(json_array_get(out.jobs, 0)));
	json_decref(out.list);
	json_decref(out.jobs);
	return rc;
}
