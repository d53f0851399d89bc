#include "server/cli_sync.h"

#include "domain/import.h"
#include "domain/sync.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <jansson.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

const char *const rum_cli_sync_opts[] = {"tenant", "wait", "wait-time", "limit", "json", NULL};

bool rum_cli_sync_is_flag(const char *name)
{
	return strcmp(name, "wait") == 0 || strcmp(name, "json") == 0;
}

void rum_cli_sync_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd sync --tenant NAME [--wait [--wait-time 1h]] [--json]\n"
		"       rumd sync status --tenant NAME [--limit 10] [--json]\n\n"
		"sync sends the tenant's reports that its upstream (rumd upstream set) does not "
		"have yet,\ndevice by device, and stores the ACKs that come back for the devices' "
		"next poll, pull\ndelivery and ack-file. It resumes a sync a stopped node left. "
		"Without --wait it returns\nonce every call went out (the ACKs are polled for by "
		"the next sync, or by serve);\nwith --wait it polls until every ACK is back (at "
		"most --wait-time).\n"
		"Exit status: 0 when the sync went through, 1 when it failed (the reason is "
		"printed and\nrecorded), 2 for bad usage.\n\n"
		"status shows the tenant's last syncs: when, calls and reports sent, ACKs "
		"received, polls\npending, refusals and errors.\n");
}

int rum_cli_sync_options(const struct rum_config *cfg, struct rum_sync_options *o, char *node,
			 char *owner, char **proxy_password)
{
	char host[64] = "";
	uint8_t r[4];
	size_t len = 0;
	int rc;

	memset(o, 0, sizeof(*o));
	*proxy_password = NULL;
	if (cfg->node_name[0]) {
		snprintf(node, 128, "%.127s", cfg->node_name);
	} else {
		gethostname(host, sizeof(host) - 1);
		snprintf(node, 128, "%s:%ld", host, (long)getpid());
	}
	rum_crypto_random(r, sizeof(r));
	snprintf(owner, 128, "%.80s/%ld/%02x%02x%02x%02x", node, (long)getpid(), r[0], r[1], r[2],
		 r[3]);
	if (cfg->upstream_proxy_password_file[0]) {
		rc = rum_import_read_file(proxy_password, &len, cfg->upstream_proxy_password_file,
					  4096);
		if (rc < 0)
			return rum_err_set(rc, "upstream_proxy_password_file: %s", rum_err_msg());
		while (len &&
		       ((*proxy_password)[len - 1] == '\n' || (*proxy_password)[len - 1] == '\r'))
			(*proxy_password)[--len] = '\0';
	}
	o->node = node;
	o->owner = owner;
	o->concurrency = (int)cfg->sync_concurrency;
	o->lease_s = (int)cfg->sync_lease_s;
	/* 0 is "the default" to the engine: a setting of 0 means at once. */
	o->poll_first_ms = cfg->sync_poll_first_s ? (int)cfg->sync_poll_first_s * 1000 : 1;
	o->poll_every_ms = cfg->sync_poll_every_s ? (int)cfg->sync_poll_every_s * 1000 : 1;
	o->retry_max_ms = (int)cfg->sync_retry_max_s * 1000;
	o->alert_after_s = (int)cfg->sync_alert_after_s;
	o->proxy = cfg->upstream_proxy;
	o->proxy_password = *proxy_password;
	o->ca_file = cfg->upstream_ca_file;
	o->allow_http = cfg->sync_allow_http;
	return 0;
}

static void rum_cli_sync_print(const struct rum_sync_options *o, const struct rum_sync_result *r,
			       int rc, bool json)
{
	if (json) {
		json_t *j = json_pack("{s:s,s:b,s:I,s:b,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I}",
				      "tenant", o->tenant, "ok", rc == 0, "run",
				      (json_int_t)r->run_id, "resumed", r->resumed, "devices",
				      (json_int_t)r->devices, "reports", (json_int_t)r->reports,
				      "requests", (json_int_t)r->requests, "sent",
				      (json_int_t)r->sent, "acks", (json_int_t)r->acks,
				      "reports_acked", (json_int_t)r->reports_acked, "duplicates",
				      (json_int_t)r->duplicates, "refused", (json_int_t)r->refused,
				      "retries", (json_int_t)r->retries, "pending",
				      (json_int_t)r->pending);

		if (rc < 0)
			json_object_set_new(j, "error", json_string(rum_err_msg()));
		json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
		return;
	}
	if (r->run_id)
		printf("sync of tenant '%s': run %" PRId64 " (%s)", o->tenant, r->run_id,
		       r->resumed ? "resumed" : "new");
	else
		printf("sync of tenant '%s': not started", o->tenant);
	if (r->run_id && !r->resumed)
		printf(": %" PRId64 " devices, %" PRId64 " reports and %" PRId64
		       " trust or authorization requests to send",
		       r->devices, r->reports, r->requests);
	printf("\n");
	if (r->run_id)
		printf("calls accepted %" PRId64 ", ACKs stored %" PRId64 " (%" PRId64
		       " reports acknowledged), already at the upstream %" PRId64
		       ", refused %" PRId64 ", retried %" PRId64 ", still open %" PRId64 "\n",
		       r->sent, r->acks, r->reports_acked, r->duplicates, r->refused, r->retries,
		       r->pending);
	if (rc < 0)
		printf("failed: %s\n", rum_err_msg());
	else if (r->pending)
		printf("%" PRId64 " calls wait for their ACK: run rumd sync again (or --wait), or "
		       "let serve poll\n",
		       r->pending);
}

/* --- status --- */

struct rum_cli_sync_status {
	bool json;
	json_t *runs, *refusals, *state;
};

static void rum_cli_sync_state_cb(void *arg, const struct rum_sync_state_info *s)
{
	struct rum_cli_sync_status *st = arg;

	if (st->json) {
		st->state = json_pack("{s:s,s:s,s:s,s:s,s:I}", "running_on", s->owner,
				      "lease_until", s->lease_until, "failing_since",
				      s->failing_since, "last_ok_at", s->last_ok_at, "failing_s",
				      (json_int_t)s->failing_s);
		return;
	}
	printf("last good sync: %s\n", s->last_ok_at[0] ? s->last_ok_at : "never");
	if (s->failing_since[0])
		printf("failing since %s (%" PRId64 " s)\n", s->failing_since, s->failing_s);
	if (s->lease_until[0] && s->owner[0])
		printf("running on %s (lease until %s)\n", s->owner, s->lease_until);
}

static void rum_cli_sync_run_cb(void *arg, const struct rum_sync_run_info *r)
{
	struct rum_cli_sync_status *st = arg;

	if (st->json) {
		json_array_append_new(
			st->runs,
			json_pack("{s:I,s:s,s:s,s:s,s:s,s:s,s:s,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:I,s:s}",
				  "id", (json_int_t)r->id, "kind", r->kind, "trigger", r->trigger,
				  "state", r->state, "node", r->node, "started_at", r->started_at,
				  "finished_at", r->finished_at, "calls", (json_int_t)r->calls,
				  "reports", (json_int_t)r->reports, "sent", (json_int_t)r->sent,
				  "acks", (json_int_t)r->acks, "polling", (json_int_t)r->polling,
				  "queued", (json_int_t)r->queued, "duplicates",
				  (json_int_t)r->duplicates, "refused", (json_int_t)r->failed,
				  "error", r->error));
		return;
	}
	printf("run %" PRId64 "  %s  %-8s %-8s calls %" PRId64 " (reports %" PRId64
	       "): sent %" PRId64 ", ACKs %" PRId64 ", polling %" PRId64 ", to send %" PRId64
	       ", already there %" PRId64 ", refused %" PRId64 "%s%s\n",
	       r->id, r->started_at, r->trigger, r->state, r->calls, r->reports, r->sent, r->acks,
	       r->polling, r->queued, r->duplicates, r->failed, r->error[0] ? "\n    error: " : "",
	       r->error);
}

static void rum_cli_sync_refusal_cb(void *arg, const struct rum_sync_refusal_info *f)
{
	struct rum_cli_sync_status *st = arg;

	if (st->json) {
		json_array_append_new(st->refusals,
				      json_pack("{s:I,s:I,s:s,s:s,s:i,s:s,s:s}", "run",
						(json_int_t)f->run_id, "device",
						(json_int_t)f->device_id, "udi_pid", f->pid,
						"udi_serial_number", f->sn, "reports", f->reports,
						"message", f->message, "at", f->at));
		return;
	}
	printf("    refused: P:%s,S:%s (%d reports) at %s: %s\n", f->pid, f->sn, f->reports, f->at,
	       f->message);
}

static int rum_cli_sync_status_verb(struct rum_domain *dom, const char *tenant, int limit,
				    bool json)
{
	struct rum_cli_sync_status st = {json, json_array(), json_array(), NULL};
	struct rum_sync_status_cb cb = {rum_cli_sync_state_cb, rum_cli_sync_run_cb,
					rum_cli_sync_refusal_cb, &st};
	int rc;

	if (!json)
		printf("tenant '%s'\n", tenant);
	rc = rum_sync_status(dom, tenant, limit, &cb);
	if (rc == 0 && json) {
		json_t *j = json_pack("{s:s,s:o,s:o,s:o}", "tenant", tenant, "state",
				      st.state ? st.state : json_object(), "runs", st.runs,
				      "refusals", st.refusals);

		st.runs = st.refusals = st.state = NULL;
		json_dumpf(j, stdout, JSON_COMPACT | JSON_PRESERVE_ORDER);
		fputc('\n', stdout);
		json_decref(j);
	}
	json_decref(st.runs);
	json_decref(st.refusals);
	json_decref(st.state);
	return rc;
}

int rum_cli_sync(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		 int nwords, const char *(*opt)(const void *ctx, const char *name), const void *ctx)
{
	const char *tenant = opt(ctx, "tenant"), *wait_time = opt(ctx, "wait-time");
	const char *limit_s = opt(ctx, "limit");
	bool json = opt(ctx, "json") != NULL, wait = opt(ctx, "wait") != NULL;
	struct rum_sync_options o;
	struct rum_sync_result res;
	char node[128], owner[128], *pw = NULL;
	int64_t limit = 10, wait_s = 3600;
	int rc;

	if (!tenant || !tenant[0])
		return rum_err_set(RUM_EINVAL, "sync: --tenant NAME is required");
	if (nwords == 2 && strcmp(words[1], "status") == 0) {
		if (limit_s && (rum_strict_int64(&limit, limit_s) != 0 || limit < 1 || limit > 500))
			return rum_err_set(RUM_EINVAL, "--limit must be 1..500");
		return rum_cli_sync_status_verb(dom, tenant, (int)limit, json);
	}
	if (nwords != 1)
		return rum_err_set(RUM_EINVAL, "sync: unknown subcommand '%s' (status)", words[1]);
	if (wait_time &&
	    (rum_strict_duration(&wait_s, wait_time) != 0 || wait_s < 1 || wait_s > 7 * 86400))
		return rum_err_set(RUM_EINVAL, "--wait-time must be a duration of 1s to 7d");
	if ((rc = rum_cli_sync_options(cfg, &o, node, owner, &pw)) < 0)
		return rc;
	o.tenant = tenant;
	o.trigger = "manual";
	o.wait = wait;
	o.wait_s = (int)wait_s;
	rc = rum_sync_run(dom, &o, &res);
	rum_cli_sync_print(&o, &res, rc, json);
	if (pw) {
		rum_crypto_wipe(pw, strlen(pw));
		free(pw);
	}
	return rc;
}
