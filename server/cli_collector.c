#include "server/cli_collector.h"

#include "collector/scheduler.h"
#include "domain/import.h"
#include "domain/targets.h"
#include "lib/err.h"
#include "lib/strict.h"
#include "server/progress.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

const char *const rum_cli_target_opts[] = {"tenant",
					   "host",
					   "port",
					   "protocol",
					   "username",
					   "password-file",
					   "key",
					   "interval",
					   "on-demand",
					   "known-host-key",
					   "trust-on-first-use",
					   "path-prefix",
					   "transfer",
					   "rest-raw",
					   "plain-http",
					   NULL};
const char *const rum_cli_collect_opts[] = {"target", "tenant", "wait", NULL};

bool rum_cli_collector_is_flag(const char *name)
{
	return strcmp(name, "on-demand") == 0 || strcmp(name, "trust-on-first-use") == 0 ||
	       strcmp(name, "rest-raw") == 0 || strcmp(name, "plain-http") == 0 ||
	       strcmp(name, "wait") == 0;
}

void rum_cli_key_file(const struct rum_config *cfg, char *out, size_t size)
{
	if (cfg->secret_key_file[0])
		snprintf(out, size, "%s", cfg->secret_key_file);
	else
		snprintf(out, size, "%s/secret.key", cfg->data_dir);
}

int rum_cli_collect_env(struct rum_collect_env *env, const struct rum_config *cfg,
			struct rum_domain *dom, char *node, bool create)
{
	char path[4096], host[64] = "";

	memset(env, 0, sizeof(*env));
	rum_cli_key_file(cfg, path, sizeof(path));
	if (cfg->node_name[0]) {
		snprintf(node, 128, "%.127s", cfg->node_name);
	} else {
		gethostname(host, sizeof(host) - 1);
		snprintf(node, 128, "%s:%ld", host, (long)getpid());
	}
	env->dom = dom;
	env->node = node;
	env->connect_timeout_ms = (int)cfg->collector_connect_timeout_ms;
	env->auth_timeout_ms = (int)cfg->collector_auth_timeout_ms;
	env->rpc_timeout_ms = (int)cfg->collector_rpc_timeout_ms;
	env->timeout_ms = (int)cfg->collector_timeout_ms;
	env->max_reply = (size_t)cfg->netconf_max_reply_bytes;
	env->push = (struct rum_push_settings){false, cfg->capture_all,
					       (size_t)cfg->max_reports_per_message};
	env->public_url = cfg->collector_public_url;
	env->file_url_ttl_s = (int)cfg->file_url_ttl_s;
	return rum_targets_key_load(env->key, path, create);
}

/* --- target add --- */

static int rum_cli_read_secret(char **out, size_t *len, const char *path, bool trim)
{
	int rc = rum_import_read_file(out, len, path, 65536);

	if (rc != 0)
		return rum_err_set(rc, "%s", rum_err_msg());
	while (trim && *len && ((*out)[*len - 1] == '\n' || (*out)[*len - 1] == '\r'))
		(*out)[--*len] = '\0';
	return 0;
}

static int rum_cli_target_add(const struct rum_config *cfg, struct rum_domain *dom,
			      const char *(*opt)(const void *, const char *), const void *ctx)
{
	struct rum_target_spec s = {0};
	const char *v, *pwfile = opt(ctx, "password-file"), *keyfile = opt(ctx, "key");
	char *secret = NULL;
	size_t len = 0;
	int64_t id = 0, n;
	int rc = 0;

	s.tenant = opt(ctx, "tenant") ? opt(ctx, "tenant") : cfg->default_tenant;
	s.host = opt(ctx, "host");
	s.protocol = opt(ctx, "protocol") ? opt(ctx, "protocol") : "netconf";
	s.username = opt(ctx, "username");
	s.known_host_key = opt(ctx, "known-host-key");
	s.trust_on_first_use = opt(ctx, "trust-on-first-use") != NULL;
	s.path_prefix = opt(ctx, "path-prefix");
	s.transfer = opt(ctx, "transfer");
	s.rest_raw = opt(ctx, "rest-raw") != NULL;
	s.rest_plain_http = opt(ctx, "plain-http") != NULL;
	if ((v = opt(ctx, "port")) && (rum_strict_int64(&n, v) != 0 || n < 1 || n > 65535))
		return rum_err_set(RUM_EINVAL, "--port: '%s' is not a port (1-65535)", v);
	s.port = v ? (int)n : 0;
	if (opt(ctx, "on-demand") && opt(ctx, "interval"))
		return rum_err_set(RUM_EINVAL, "--interval and --on-demand exclude each other");
	v = opt(ctx, "interval");
	if (!opt(ctx, "on-demand") && rum_strict_duration(&s.interval_s, v ? v : "24h") != 0)
		return rum_err_set(RUM_EINVAL,
				   "--interval: '%s' is not a duration (e.g. 30m, 24h, "
				   "7d)",
				   v);
	if (!s.host || !s.username)
		return rum_err_set(RUM_EINVAL, "target add needs --host and --username");
	if (!pwfile == !keyfile)
		return rum_err_set(RUM_EINVAL,
				   "target add needs --password-file FILE or --key FILE");
	if (!s.known_host_key && !s.trust_on_first_use)
		return rum_err_set(RUM_EINVAL,
				   "target add needs --known-host-key KEY (%s) or "
				   "--trust-on-first-use",
				   strcmp(s.protocol, "netconf") != 0
					   ? "the pin sha256//BASE64 of its TLS public key"
					   : "\"TYPE BASE64\" as ssh-keyscan prints it");
	rc = rum_cli_read_secret(&secret, &len, pwfile ? pwfile : keyfile, pwfile != NULL);
	if (rc != 0)
		return rc;
	if (pwfile) {
		s.password = secret;
		s.password_len = len;
	} else {
		s.key = secret;
		s.key_len = len;
	}
	rc = rum_targets_add(dom, &s, &id);
	if (rc == 0)
		printf("pull target %" PRId64 " added: %s %s:%d in tenant '%s', %s%s\n", id,
		       s.protocol, s.host,
		       s.port                          ? s.port
		       : strcmp(s.protocol, "netconf") ? 443
						       : 830,
		       s.tenant, s.interval_s ? "collected every " : "on demand only",
		       s.interval_s ? (v ? v : "24h") : "");
	rum_crypto_wipe(secret, len);
	free(secret);
	return rc;
}

/* --- target list / show --- */

static void rum_cli_target_row(void *arg, const struct rum_target *t)
{
	char hostport[300], interval[32], last[160];

	snprintf(hostport, sizeof(hostport), "%s:%d", t->host, t->port);
	if (t->interval_s)
		snprintf(interval, sizeof(interval), "%" PRId64 "s", t->interval_s);
	else
		snprintf(interval, sizeof(interval), "on-demand");
	if (t->last_job_id)
		snprintf(last, sizeof(last), "%s %s", t->last_state, t->last_finished);
	else
		snprintf(last, sizeof(last), "never");
	printf("%-5" PRId64 " %-12.12s %-8s %-28.28s %-10s %-30.30s %-28s %s\n", t->id, t->tenant,
	       t->protocol, hostport, interval, t->udi_pid[0] ? t->udi_pid : "-", last,
	       t->next_due[0] ? t->next_due : "-");
	(void)arg;
}

static void rum_cli_target_show_row(void *arg, const struct rum_target *t)
{
	printf("target:          %" PRId64 "\ntenant:          %s\nprotocol:        %s\n"
	       "address:         %s:%d\nusername:        %s (%s authentication; the secret is "
	       "sealed and never shown)\n",
	       t->id, t->tenant, t->protocol, t->host, t->port, t->username, t->auth);
	printf("host key:        %s\n", t->known_host_key[0]    ? t->known_host_key
					: t->trust_on_first_use ? "(none yet: trusted on first use)"
								: "(none)");
	if (t->interval_s)
		printf("schedule:        every %" PRId64 " s, next due %s\n", t->interval_s,
		       t->next_due[0] ? t->next_due : "(none queued)");
	else
		printf("schedule:        on demand%s%s\n", t->next_due[0] ? ", queued for " : "",
		       t->next_due);
	if (strcmp(t->protocol, "netconf") == 0)
		printf("files:           %s via %s\n", t->path_prefix, t->transfer);
	else if (strcmp(t->protocol, "restconf") == 0)
		printf("RESTCONF:        %s, files via one-time URLs\n",
		       t->rest_plain_http ? "http" : "https");
	else
		printf("REST:            %s, ACKs sent %s\n", t->rest_plain_http ? "http" : "https",
		       t->rest_raw ? "as raw XML" : "base64");
	if (t->device_id)
		printf("device:          %" PRId64 " (UDI %s / %s)\n", t->device_id, t->udi_pid,
		       t->udi_sn);
	else
		printf("device:          (not collected yet)\n");
	if (t->failures)
		printf("failing:         %d in a row, since %s\n", t->failures, t->failing_since);
	printf("added:           %s\n", t->created_at);
	*(int64_t *)arg = t->id;
}

static void rum_cli_job_row(void *arg, const struct rum_collection *j)
{
	printf("  job %-6" PRId64 " %-8s %-7s %-20s %6" PRId64 " ms  reports %" PRId64
	       " (new %" PRId64 ")  ACKs %" PRId64 "%s%s\n",
	       j->id, j->trigger, j->state, j->finished_at[0] ? j->finished_at : j->due_at,
	       j->duration_ms < 0 ? 0 : j->duration_ms, j->collected, j->new_reports, j->acks,
	       j->error[0] ? "  error: " : "", j->error);
	(void)arg;
}

static int rum_cli_id(int64_t *id, const char *text, const char *what)
{
	if (!text || rum_strict_int64(id, text) != 0 || *id <= 0)
		return rum_err_set(RUM_EINVAL, "%s: '%s' is not an id", what, text ? text : "");
	return 0;
}

/* --- collect --- */

struct rum_cli_jobs {
	int64_t *ids;
	size_t n, cap;
	size_t pending, failed;
};

static void rum_cli_job_queued(void *arg, int64_t job_id, int64_t target_id)
{
	struct rum_cli_jobs *j = arg;

	if (j->n == j->cap) {
		j->cap = j->cap ? 2 * j->cap : 16;
		j->ids = realloc(j->ids, j->cap * sizeof(*j->ids));
		if (!j->ids)
			abort();
	}
	j->ids[j->n++] = job_id;
	(void)target_id;
}

static void rum_cli_job_state(void *arg, const struct rum_collection *j)
{
	struct rum_cli_jobs *s = arg;

	if (strcmp(j->state, "queued") == 0 || strcmp(j->state, "running") == 0)
		s->pending++;
	else if (strcmp(j->state, "failed") == 0)
		s->failed++;
}

static void rum_cli_job_result(void *arg, const struct rum_collection *j)
{
	printf("target %-5" PRId64 " %-8s %-28s %-6s %6" PRId64 " ms  reports %" PRId64
	       " (new %" PRId64 ")  ACKs delivered %" PRId64 "%s%s\n",
	       j->target_id, j->protocol, j->host, j->state,
	       j->duration_ms < 0 ? 0 : j->duration_ms, j->collected, j->new_reports, j->acks,
	       j->error[0] ? "\n    error: " : "", j->error);
	(void)arg;
}

/* Runs the queued jobs here, waits until each has ended (here or on another
 * node), prints one line per target. */
static int rum_cli_collect_wait(const struct rum_config *cfg, struct rum_domain *dom,
				struct rum_cli_jobs *jobs)
{
	struct rum_scheduler_options so = {0};
	struct rum_collect_env ce;
	struct rum_scheduler *sched = NULL;
	struct rum_progress *progress = NULL;
	atomic_llong ended = 0;
	char node[128];
	int rc = rum_cli_collect_env(&ce, cfg, dom, node, false);

	if (rc == 0) {
		so = (struct rum_scheduler_options){&ce,
						    (int)(jobs->n < 16 ? jobs->n : 16),
						    200,
						    (int)cfg->collector_retry_base_s,
						    (int)cfg->collector_retry_max_s,
						    (int)cfg->collector_alert_after_s,
						    jobs->ids,
						    jobs->n,
						    NULL,
						    NULL};
		if (cfg->collector_sessions > 0 && so.sessions > cfg->collector_sessions)
			so.sessions = (int)cfg->collector_sessions;
		rc = rum_scheduler_start(&sched, &so);
	}
	if (rc == 0)
		progress = rum_progress_start("collecting", &ended, "collections ended",
					      (long long)jobs->n);
	while (rc == 0) {
		struct timespec pause = {0, 200000000L};

		jobs->pending = jobs->failed = 0;
		rc = rum_targets_jobs(dom, jobs->ids, jobs->n, 0, 0, rum_cli_job_state, jobs);
		atomic_store(&ended, (long long)(jobs->n - jobs->pending));
		if (rc != 0 || jobs->pending == 0)
			break;
		nanosleep(&pause, NULL);
	}
	rum_progress_end(progress, rc == 0);
	rum_scheduler_stop(sched);
	rum_crypto_wipe(ce.key, sizeof(ce.key));
	if (rc == 0)
		rc = rum_targets_jobs(dom, jobs->ids, jobs->n, 0, 0, rum_cli_job_result, NULL);
	if (rc == 0 && jobs->failed)
		rc = rum_err_set(RUM_EIO, "%zu of %zu collections failed", jobs->failed, jobs->n);
	return rc;
}

static int rum_cli_collect(const struct rum_config *cfg, struct rum_domain *dom,
			   const char *(*opt)(const void *, const char *), const void *ctx)
{
	struct rum_cli_jobs jobs = {0};
	const char *dev = opt(ctx, "target"), *tenant = opt(ctx, "tenant");
	int64_t id = 0;
	int rc = 0;

	if (!dev == !tenant)
		return rum_err_set(RUM_EINVAL, "collect needs --target ID or --tenant NAME");
	if (dev && (rc = rum_cli_id(&id, dev, "--target")) != 0)
		return rc;
	rc = rum_targets_enqueue(dom, tenant, id, rum_cli_job_queued, &jobs);
	if (rc == 0 && !opt(ctx, "wait")) {
		printf("queued %zu collection%s (job%s", jobs.n, jobs.n == 1 ? "" : "s",
		       jobs.n == 1 ? "" : "s");
		for (size_t i = 0; i < jobs.n; i++)
			printf(" %" PRId64, jobs.ids[i]);
		printf("); a running rumd serve starts them within collector_poll_ms; add --wait "
		       "to run them here and see the outcome\n");
	} else if (rc == 0) {
		rc = rum_cli_collect_wait(cfg, dom, &jobs);
	}
	free(jobs.ids);
	return rc;
}

int rum_cli_collector(const struct rum_config *cfg, struct rum_domain *dom,
		      const char *const *words, int nwords,
		      const char *(*opt)(const void *ctx, const char *name), const void *ctx)
{
	const char *sub = nwords >= 2 ? words[1] : "";
	int64_t id = 0;
	int rc;

	if (strcmp(words[0], "collect") == 0 && nwords == 1)
		return rum_cli_collect(cfg, dom, opt, ctx);
	if (strcmp(sub, "add") == 0 && nwords == 2)
		return rum_cli_target_add(cfg, dom, opt, ctx);
	if (strcmp(sub, "list") == 0 && nwords == 2) {
		printf("%-5s %-12s %-8s %-28s %-10s %-30s %-28s %s\n", "ID", "TENANT", "PROTOCOL",
		       "ADDRESS", "INTERVAL", "DEVICE PID", "LAST COLLECTION", "NEXT DUE");
		return rum_targets_list(dom, opt(ctx, "tenant"), 0, rum_cli_target_row, NULL);
	}
	if (strcmp(sub, "show") == 0 && nwords == 3) {
		int64_t shown = 0;

		rc = rum_cli_id(&id, words[2], "target");
		if (rc == 0)
			rc = rum_targets_list(dom, opt(ctx, "tenant"), id, rum_cli_target_show_row,
					      &shown);
		if (rc == 0) {
			printf("recent collections:\n");
			rc = rum_targets_jobs(dom, NULL, 0, id, 10, rum_cli_job_row, NULL);
		}
		return rc;
	}
	if (strcmp(sub, "remove") == 0 && nwords == 3) {
		rc = rum_cli_id(&id, words[2], "target");
		if (rc == 0)
			rc = rum_targets_remove(dom, opt(ctx, "tenant"), id);
		if (rc == 0)
			printf("pull target %" PRId64 " removed (reports collected from it stay)\n",
			       id);
		return rc;
	}
	return rum_err_set(RUM_EINVAL,
			   "usage: rumd target add|list|show ID|remove ID, rumd collect "
			   "(--target ID | --tenant NAME) [--wait] (see rumd target --help)");
}
