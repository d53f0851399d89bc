#include "collector/collect.h"

#include "collector/netconf_client.h"
#include "collector/netconf_xml.h"
#include "collector/rest_client.h"
#include "collector/restconf.h"
#include "collector/ssh.h"
#include "domain/acks.h"
#include "domain/collections.h"
#include "domain/import.h"
#include "domain/message.h"
#include "domain/targets.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/text.h"

#include <inttypes.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

/* --- owned copies of claimed targets --- */

static const char *rum_collect_keep(struct rum_collect_target *t, int slot, const char *s)
{
	t->strings[slot] = strdup(s ? s : "");
	if (!t->strings[slot])
		abort();
	return t->strings[slot];
}

void rum_collect_target_copy(struct rum_collect_target *out, const struct rum_target *t)
{
	uint8_t *secret = malloc(t->secret_len + 1);

	if (!secret)
		abort();
	memcpy(secret, t->secret, t->secret_len);
	memset(out, 0, sizeof(*out));
	out->row = *t;
	out->row.secret = secret;
	out->row.tenant = rum_collect_keep(out, 0, t->tenant);
	out->row.host = rum_collect_keep(out, 1, t->host);
	out->row.protocol = rum_collect_keep(out, 2, t->protocol);
	out->row.username = rum_collect_keep(out, 3, t->username);
	out->row.auth = rum_collect_keep(out, 4, t->auth);
	out->row.known_host_key = rum_collect_keep(out, 5, t->known_host_key);
	out->row.path_prefix = rum_collect_keep(out, 6, t->path_prefix);
	out->row.transfer = rum_collect_keep(out, 7, t->transfer);
	out->row.udi_pid = rum_collect_keep(out, 8, t->udi_pid);
	out->row.udi_sn = rum_collect_keep(out, 9, t->udi_sn);
	/* The rest of the read-back fields are not used by a collection. */
	out->row.failing_since = out->row.created_at = out->row.next_due = "";
	out->row.last_state = out->row.last_finished = out->row.last_error = "";
}

void rum_collect_target_dispose(struct rum_collect_target *t)
{
	for (size_t i = 0; i < sizeof(t->strings) / sizeof(t->strings[0]); i++)
		free(t->strings[i]);
	free((void *)t->row.secret);
	memset(t, 0, sizeof(*t));
}

/* --- one collection --- */

struct rum_collect {
	const struct rum_collect_env *env;
	const struct rum_target *t;
	int64_t job_id;
	int64_t deadline;
	struct rum_collect_outcome *out;
	char *secret;
	size_t secret_len;
	char pid[RUM_UDI_PART_MAX + 1], sn[RUM_UDI_PART_MAX + 1];
};

/* Records the failure of step `what` from the thread's error; returns rc. */
/* The collection's error: "STEP: what went wrong (CODE)", the step named
 * once even when the message below already starts with it. */
static int rum_collect_fail(struct rum_collect *c, int rc, const char *what)
{
	const char *msg = rum_err_msg()[0] ? rum_err_msg() : "failed";
	size_t n = strlen(what);
	bool named = strncmp(msg, what, n) == 0 && msg[n] == ':';

	snprintf(c->out->error, sizeof(c->out->error), "%s%s%s (%s)", named ? "" : what,
		 named ? "" : ": ", msg, rum_err_name(rc));
	return rc;
}

static void rum_collect_nonce(char out[17])
{
	uint8_t b[8];

	rum_crypto_random(b, sizeof(b));
	rum_text_hex(out, b, sizeof(b));
}

/* Stores a key seen on first use, when the target trusts on first use and
 * knows none yet. */
static void rum_collect_learn(struct rum_collect *c, const char *seen)
{
	if (!c->t->trust_on_first_use || c->t->known_host_key[0] || !seen || !seen[0])
		return;
	if (rum_collections_learn_key(c->env->dom, c->t->id, seen) == 0)
		rum_log_info("collector: target=%" PRId64 " host=%s: key learnt on first use",
			     c->t->id, c->t->host);
}

/* --- storing reports like pushed ones --- */

struct rum_collect_wait {
	pthread_mutex_t lock;
	pthread_cond_t cond;
	bool done;
};

static void rum_collect_push_done(struct rum_push *p, void *arg)
{
	struct rum_collect_wait *w = arg;

	pthread_mutex_lock(&w->lock);
	w->done = true;
	pthread_cond_signal(&w->cond);
	pthread_mutex_unlock(&w->lock);
}

/* Stores a usage message (JSON text) of nreports reports for the tenant. */
static int rum_collect_store(struct rum_collect *c, const char *body, size_t len, size_t nreports)
{
	struct rum_push p = {0};
	struct rum_push_settings s = c->env->push;
	struct rum_collect_wait w = {PTHREAD_MUTEX_INITIALIZER, PTHREAD_COND_INITIALIZER, false};
	char path[300];
	int rc;

	if (nreports > s.max_reports)
		s.max_reports = nreports; /* one collection is one upload */
	s.auto_create_tenants = false;
	snprintf(path, sizeof(path), "pull:%s:%s:%d", c->t->protocol, c->t->host, c->t->port);
	p.tenant = c->t->tenant;
	p.sub_path = "";
	p.method = "POST";
	p.path = path;
	p.address = c->t->host;
	p.body = body;
	p.body_len = len;
	p.source = "pull";
	rc = rum_push_submit(&p, c->env->dom, &s, rum_collect_push_done, &w);
	if (rc == 0) {
		pthread_mutex_lock(&w.lock);
		while (!w.done)
			pthread_cond_wait(&w.cond, &w.lock);
		pthread_mutex_unlock(&w.lock);
		rc = p.rc;
		if (rc != 0)
			rum_err_set(rc, "%s", p.err);
	}
	if (rc == 0) {
		c->out->collected = (int)(p.n_new + p.n_duplicate + p.n_conflict);
		c->out->new_reports = (int)p.n_new;
		if (!c->pid[0] && p.msg && p.msg->n_reports) {
			snprintf(c->pid, sizeof(c->pid), "%s", p.msg->reports[0].udi.pid);
			snprintf(c->sn, sizeof(c->sn), "%s", p.msg->reports[0].udi.sn);
		}
	}
	rum_push_dispose(&p);
	return rc;
}

/* --- NETCONF --- */

/* Sends one RPC and checks its reply: an rpc-error or a return-code other
 * than success is a failure quoting the device. *reply_text kept if asked. */
static int rum_collect_rpc(struct rum_collect *c, struct rum_netconf *nc, const char *what,
			   const char *op, char **reply_text, size_t *reply_len)
{
	struct rum_netconf_reply r = {0};
	int64_t t0 = rum_ssh_now_ms();
	int rc;

	rum_log_debug("collector: job=%" PRId64 " rpc %s sent", c->job_id, what);
	rc = rum_netconf_rpc(nc, op, reply_text, reply_len, &r);
	rum_log_debug("collector: job=%" PRId64 " rpc %s answered after %" PRId64 " ms (%s)",
		      c->job_id, what, rum_ssh_now_ms() - t0, rc == 0 ? "ok" : rum_err_name(rc));
	if (rc == 0 && r.kind == RUM_NETCONF_REPLY_ERROR)
		rc = rum_err_set(RUM_EIO, "the device answered rpc-error: %s", r.error);
	else if (rc == 0 && r.return_code && strcmp(r.return_code, "success") != 0)
		rc = rum_err_set(RUM_EIO, "the device answered return-code %.100s%s%.200s",
				 r.return_code, r.confirmation ? ": " : "",
				 r.confirmation ? r.confirmation : "");
	rum_netconf_reply_dispose(&r);
	if (rc != 0) {
		if (reply_text) {
			free(*reply_text);
			*reply_text = NULL;
		}
		return rum_collect_fail(c, rc, what);
	}
	return 0;
}

/* An RPC with one file-path input: <NAME xmlns=license><file-path>PATH</...></NAME>. */
static char *rum_collect_file_op(const char *name, const char *path)
{
	char *esc = NULL, *op;
	size_t elen = 0, n;

	if (rum_netconf_xml_escape(&esc, &elen, path, 4096) != 0)
		abort(); /* paths are built here from checked parts, far below the ceiling */
	n = 2 * strlen(name) + elen + 128;
	op = malloc(n);
	if (!op)
		abort();
	snprintf(op, n, "<%s xmlns=\"" RUM_LICENSE_NS "\"><file-path>%s</file-path></%s>", name,
		 esc, name);
	free(esc);
	return op;
}

/* A one-time URL for the device, bound to this job: *url "" when no public
 * URL is configured. token_sha gets the token's SHA-256. */
static int rum_collect_file_url(struct rum_collect *c, char *url, size_t size,
				uint8_t token_sha[RUM_SHA256_LEN], const char *direction,
				const char *content, size_t len)
{
	uint8_t token[24];
	char hex[2 * sizeof(token) + 1];
	int rc;

	if (!c->env->public_url || !c->env->public_url[0])
		return rum_collect_fail(
			c,
			rum_err_set(RUM_EINVAL,
				    "transfer=http needs the "
				    "collector_public_url setting (how devices reach rumd)"),
			"file URL");
	rum_crypto_random(token, sizeof(token));
	rum_text_hex(hex, token, sizeof(token));
	rum_crypto_sha256(token_sha, hex, strlen(hex));
	rc = rum_collections_transfer_create(c->env->dom, token_sha, c->job_id, direction, content,
					     len, c->env->max_reply, c->env->file_url_ttl_s);
	if (rc != 0)
		return rum_collect_fail(c, rc, "file URL");
	snprintf(url, size, "%s/cslu/v1/files/%s", c->env->public_url, hex);
	return 0;
}

static int rum_collect_nc_state(struct rum_collect *c, struct rum_netconf *nc)
{
	static const char get[] = "<get><filter type=\"subtree\"><licensing xmlns=\"" RUM_LICENSE_NS
				  "\"><state/></licensing></filter></get>";
	struct rum_netconf_licensing lic = {0};
	char *reply = NULL;
	size_t len = 0;
	int rc = rum_collect_rpc(c, nc, "get licensing state", get, &reply, &len);

	if (rc != 0)
		return rc;
	rc = rum_netconf_xml_licensing(&lic, reply, len);
	free(reply);
	if (rc != 0)
		return rum_collect_fail(c, rc, "licensing state");
	snprintf(c->pid, sizeof(c->pid), "%s", lic.pid);
	snprintf(c->sn, sizeof(c->sn), "%s", lic.sn);
	rc = rum_collections_snapshot(c->env->dom, c->t, c->pid, c->sn, lic.json);
	rum_netconf_licensing_dispose(&lic);
	return rc != 0 ? rum_collect_fail(c, rc, "store snapshot") : 0;
}

/* Stores the reports of a usage file (PROTOCOL.md 2.1) the device saved. */
static int rum_collect_usage_file(struct rum_collect *c, const char *file, size_t len)
{
	char *msg = NULL;
	size_t mlen = 0, n = 0;
	int rc = rum_import_usage_message(&msg, &mlen, &n, file, len, "usage file");

	if (rc == 0)
		rc = rum_collect_store(c, msg, mlen, n);
	else if (n == 0 && rc == RUM_EINVAL && strstr(rum_err_msg(), "no RUMReport"))
		rc = 0; /* nothing unreported: a valid, empty usage file */
	free(msg);
	return rc != 0 ? rum_collect_fail(c, rc, "store usage") : 0;
}

/* rum-save-usage-unreported, fetch the file, store its reports. */
static int rum_collect_nc_usage(struct rum_collect *c, struct rum_ssh *ssh, struct rum_netconf *nc)
{
	bool http = strcmp(c->t->transfer, "http") == 0;
	uint8_t token_sha[RUM_SHA256_LEN];
	char path[1024], nonce[17], *op, *file = NULL;
	size_t len = 0;
	int rc;

	rum_collect_nonce(nonce);
	if (http)
		rc = rum_collect_file_url(c, path, sizeof(path), token_sha, "upload", NULL, 0);
	else
		rc = snprintf(path, sizeof(path), "%srumd-%s.txt", c->t->path_prefix, nonce) < 0;
	if (rc != 0)
		return rc;
	op = rum_collect_file_op("rum-save-usage-unreported", path);
	rc = rum_collect_rpc(c, nc, "rum-save-usage-unreported", op, NULL, NULL);
	free(op);
	if (rc != 0)
		return rc;
	if (http) {
		rc = rum_collections_transfer_received(c->env->dom, token_sha, &file, &len);
		if (rc == 0 && !file)
			rc = rum_err_set(RUM_EIO, "the device reported success but never uploaded "
						  "the usage file to its one-time URL");
	} else {
		rc = rum_ssh_scp_get(ssh, path, c->env->max_reply, &file, &len, c->deadline);
	}
	if (rc != 0)
		return rum_collect_fail(c, rc, http ? "usage file upload" : "scp usage file");
	rc = rum_collect_usage_file(c, file, len);
	free(file);
	return rc;
}

/* Hands over the device's undelivered ACK, if any, and marks it delivered. */
static int rum_collect_nc_ack(struct rum_collect *c, struct rum_ssh *ssh, struct rum_netconf *nc)
{
	bool http = strcmp(c->t->transfer, "http") == 0;
	uint8_t token_sha[RUM_SHA256_LEN];
	struct rum_ack ack = {0};
	char path[1024], nonce[17], *op;
	int rc = rum_acks_pending(c->env->dom, c->t->tenant_id, c->pid, c->sn, &ack);

	if (rc != 0)
		return rum_collect_fail(c, rc, "find ACK");
	if (!ack.content)
		return 0;
	rum_collect_nonce(nonce);
	if (http) {
		rc = rum_collect_file_url(c, path, sizeof(path), token_sha, "download", ack.content,
					  ack.len);
	} else {
		snprintf(path, sizeof(path), "%srumd-ack-%s.txt", c->t->path_prefix, nonce);
		rc = rum_ssh_scp_put(ssh, path, ack.content, ack.len, c->deadline);
		if (rc != 0)
			rum_collect_fail(c, rc, "scp ACK file");
	}
	if (rc == 0) {
		op = rum_collect_file_op("import-file", path);
		rc = rum_collect_rpc(c, nc, "import-file", op, NULL, NULL);
		free(op);
	}
	if (rc == 0) {
		rc = rum_acks_delivered(c->env->dom, ack.id, c->t->host, c->t->protocol);
		if (rc != 0)
			rum_collect_fail(c, rc, "record ACK delivery");
		else
			c->out->acks = 1;
	}
	rum_ack_dispose(&ack);
	return rc;
}

static int rum_collect_netconf(struct rum_collect *c)
{
	struct rum_ssh_options so = {c->t->host,
				     c->t->port,
				     c->t->username,
				     strcmp(c->t->auth, "password") == 0 ? c->secret : NULL,
				     strcmp(c->t->auth, "key") == 0 ? c->secret : NULL,
				     strcmp(c->t->auth, "key") == 0 ? c->secret_len : 0,
				     c->t->known_host_key,
				     c->t->trust_on_first_use,
				     c->env->connect_timeout_ms,
				     c->env->auth_timeout_ms,
				     c->env->rpc_timeout_ms,
				     c->deadline,
				     c->env->cancel};
	struct rum_netconf_options no = {c->env->max_reply, c->env->rpc_timeout_ms, c->deadline,
					 false};
	struct rum_ssh *ssh = NULL;
	struct rum_netconf *nc = NULL;
	char *seen = NULL;
	int rc = rum_ssh_connect(&ssh, &seen, &so);

	if (rc != 0) {
		rum_collect_fail(c, rc, "ssh");
		goto out;
	}
	rum_log_debug("collector: job=%" PRId64 " ssh session to %s:%d open", c->job_id, c->t->host,
		      c->t->port);
	rum_collect_learn(c, seen);
	rc = rum_netconf_open(&nc, ssh, &no);
	if (rc != 0) {
		rum_collect_fail(c, rc, "netconf hello");
		goto out;
	}
	rum_log_debug("collector: job=%" PRId64 " netconf hello exchanged", c->job_id);
	rc = rum_collect_nc_state(c, nc);
	if (rc == 0)
		rc = rum_collect_nc_usage(c, ssh, nc);
	if (rc == 0)
		rc = rum_collect_nc_ack(c, ssh, nc);
out:
	rum_netconf_close(nc);
	rum_ssh_free(ssh);
	free(seen);
	return rc;
}

/* --- device REST API --- */

/* How to reach the target over HTTPS: the device REST API (root NULL) or
 * RESTCONF, with the target's pinning and the collector's limits. */
static struct rum_rest_client_options rum_collect_http_options(struct rum_collect *c,
							       const char *root, const char *label)
{
	return (struct rum_rest_client_options){c->t->host,
						c->t->port,
						c->t->rest_plain_http,
						c->t->username,
						c->secret,
						c->t->known_host_key,
						c->t->trust_on_first_use,
						c->env->connect_timeout_ms,
						c->env->rpc_timeout_ms,
						c->env->max_reply,
						c->env->cancel,
						root,
						label};
}

static int rum_collect_rest(struct rum_collect *c)
{
	struct rum_rest_client_options o = rum_collect_http_options(c, NULL, NULL);
	struct rum_rest_client *rc_client = NULL;
	struct rum_message *msg = NULL;
	struct rum_message_limits lim = {0};
	struct rum_ack ack = {0};
	char *body = NULL, *seen, *reply = NULL;
	size_t len = 0;
	int rc = rum_rest_client_new(&rc_client, &o);

	if (rc != 0)
		return rum_collect_fail(c, rc, "REST client");
	rc = rum_rest_client_close_reports(rc_client);
	seen = rum_rest_client_seen_pin(rc_client);
	rum_collect_learn(c, seen);
	free(seen);
	if (rc != 0) {
		rum_collect_fail(c, rc, "close-reports");
		goto out;
	}
	rc = rum_rest_client_all_reports(rc_client, &body, &len);
	if (rc != 0) {
		rum_collect_fail(c, rc, "all-reports");
		goto out;
	}
	lim.max_reports = c->env->push.max_reports;
	rc = rum_message_parse(&msg, body, len, &lim);
	if (rc == 0 && msg->n_reports > 0) /* none: nothing to store */
		rc = rum_collect_store(c, body, len, msg->n_reports);
	if (rc != 0) {
		rum_collect_fail(c, rc, "store all-reports");
		goto out;
	}
	if (!c->pid[0] && c->t->udi_pid[0]) {
		snprintf(c->pid, sizeof(c->pid), "%s", c->t->udi_pid);
		snprintf(c->sn, sizeof(c->sn), "%s", c->t->udi_sn);
	}
	if (!c->pid[0])
		goto out; /* no report ever named the device: no ACK can be its */
	if (c->t->device_id == 0 &&
	    (rc = rum_collections_snapshot(c->env->dom, c->t, c->pid, c->sn,
					   "{\"source\":\"restapi\"}")) != 0) {
		rum_collect_fail(c, rc, "store device");
		goto out;
	}
	rc = rum_acks_pending(c->env->dom, c->t->tenant_id, c->pid, c->sn, &ack);
	if (rc != 0) {
		rum_collect_fail(c, rc, "find ACK");
		goto out;
	}
	if (ack.content) {
		rc = rum_rest_client_import(rc_client, ack.content, ack.len, c->t->rest_raw,
					    &reply);
		if (rc != 0)
			rum_collect_fail(c, rc, "import");
		else if ((rc = rum_acks_delivered(c->env->dom, ack.id, c->t->host,
						  c->t->protocol)) != 0)
			rum_collect_fail(c, rc, "record ACK delivery");
		else
			c->out->acks = 1;
	}
out:
	free(reply);
	rum_ack_dispose(&ack);
	rum_message_free(msg);
	free(body);
	rum_rest_client_free(rc_client);
	return rc;
}

/* --- RESTCONF --- */

/* One of the model's file-path RPCs; a return-code other than success is a
 * failure quoting the device, as over NETCONF. */
static int rum_collect_rc_rpc(struct rum_collect *c, struct rum_rest_client *cl, const char *name,
			      const char *path)
{
	struct rum_restconf_output o;
	int rc;

	rum_log_debug("collector: job=%" PRId64 " restconf %s sent", c->job_id, name);
	rc = rum_restconf_rpc(cl, name, path, &o);
	if (rc == 0 && o.return_code && strcmp(o.return_code, "success") != 0)
		rc = rum_err_set(RUM_EIO, "the device answered return-code %.100s%s%.200s",
				 o.return_code, o.confirmation ? ": " : "",
				 o.confirmation ? o.confirmation : "");
	rum_restconf_output_dispose(&o);
	return rc != 0 ? rum_collect_fail(c, rc, name) : 0;
}

static int rum_collect_rc_state(struct rum_collect *c, struct rum_rest_client *cl)
{
	struct rum_netconf_licensing lic;
	char *seen;
	int rc = rum_restconf_get_state(cl, &lic);

	seen = rum_rest_client_seen_pin(cl);
	rum_collect_learn(c, seen);
	free(seen);
	if (rc != 0)
		return rum_collect_fail(c, rc, "get licensing state");
	snprintf(c->pid, sizeof(c->pid), "%s", lic.pid ? lic.pid : "");
	snprintf(c->sn, sizeof(c->sn), "%s", lic.sn ? lic.sn : "");
	rc = rum_collections_snapshot(c->env->dom, c->t, c->pid, c->sn, lic.json);
	rum_netconf_licensing_dispose(&lic);
	return rc != 0 ? rum_collect_fail(c, rc, "store snapshot") : 0;
}

/* RESTCONF has no file copy: the device saves its usage to a one-time
 * URL on rumd and reads its ACK from another. */
static int rum_collect_rc_usage(struct rum_collect *c, struct rum_rest_client *cl)
{
	uint8_t token_sha[RUM_SHA256_LEN];
	char url[1024], *file = NULL;
	size_t len = 0;
	int rc = rum_collect_file_url(c, url, sizeof(url), token_sha, "upload", NULL, 0);

	if (rc == 0)
		rc = rum_collect_rc_rpc(c, cl, "rum-save-usage-unreported", url);
	if (rc != 0)
		return rc;
	rc = rum_collections_transfer_received(c->env->dom, token_sha, &file, &len);
	if (rc == 0 && !file)
		rc = rum_err_set(RUM_EIO, "the device reported success but never uploaded "
					  "the usage file to its one-time URL");
	if (rc != 0)
		return rum_collect_fail(c, rc, "usage file upload");
	rc = rum_collect_usage_file(c, file, len);
	free(file);
	return rc;
}

static int rum_collect_rc_ack(struct rum_collect *c, struct rum_rest_client *cl)
{
	uint8_t token_sha[RUM_SHA256_LEN];
	struct rum_ack ack = {0};
	char url[1024];
	int rc = rum_acks_pending(c->env->dom, c->t->tenant_id, c->pid, c->sn, &ack);

	if (rc != 0)
		return rum_collect_fail(c, rc, "find ACK");
	if (!ack.content)
		return 0;
	rc = rum_collect_file_url(c, url, sizeof(url), token_sha, "download", ack.content, ack.len);
	if (rc == 0)
		rc = rum_collect_rc_rpc(c, cl, "import-file", url);
	if (rc == 0) {
		rc = rum_acks_delivered(c->env->dom, ack.id, c->t->host, c->t->protocol);
		if (rc != 0)
			rum_collect_fail(c, rc, "record ACK delivery");
		else
			c->out->acks = 1;
	}
	rum_ack_dispose(&ack);
	return rc;
}

static int rum_collect_restconf(struct rum_collect *c)
{
	struct rum_rest_client_options o = rum_collect_http_options(c, RUM_RESTCONF_ROOT,
								    "RESTCONF");
	struct rum_rest_client *cl = NULL;
	int rc = rum_rest_client_new(&cl, &o);

	if (rc != 0)
		return rum_collect_fail(c, rc, "RESTCONF client");
	rc = rum_collect_rc_state(c, cl);
	if (rc == 0)
		rc = rum_collect_rc_usage(c, cl);
	if (rc == 0)
		rc = rum_collect_rc_ack(c, cl);
	rum_rest_client_free(cl);
	return rc;
}

void rum_collect_run(const struct rum_collect_env *env, int64_t job_id,
		     const struct rum_collect_target *t, struct rum_collect_outcome *out)
{
	int64_t start = rum_ssh_now_ms();
	struct rum_collect c = {env, &t->row, job_id, start + env->timeout_ms, out, NULL,
				0,   "",      ""};
	int rc;

	memset(out, 0, sizeof(*out));
	rum_err_clear();
	rc = rum_targets_secret(&c.secret, &c.secret_len, env->key, &t->row);
	if (rc != 0)
		rum_collect_fail(&c, rc, "credential");
	else if (strcmp(t->row.protocol, "netconf") == 0)
		rc = rum_collect_netconf(&c);
	else if (strcmp(t->row.protocol, "restconf") == 0)
		rc = rum_collect_restconf(&c);
	else
		rc = rum_collect_rest(&c);
	if (c.secret) {
		rum_crypto_wipe(c.secret, c.secret_len);
		free(c.secret);
	}
	out->ok = rc == 0;
	if (rc == 0)
		out->error[0] = '\0';
	out->duration_ms = rum_ssh_now_ms() - start;
}
