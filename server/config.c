#include "server/config.h"

#include "domain/domain.h"
#include "domain/upstreams.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"
#include "lib/text.h"

#include <ctype.h>
#include <errno.h>
#include <fcntl.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

enum rum_config_type { RUM_CFG_STRING, RUM_CFG_INT, RUM_CFG_BOOL, RUM_CFG_BYTES };

struct rum_config_param {
	const char *name;
	enum rum_config_type type;
	size_t offset;
	const char *def;
	int64_t min, max;
	const char *help;
};

#define RUM_OFF(f) offsetof(struct rum_config, f)

static const struct rum_config_param rum_config_params[] = {
	{"database_url", RUM_CFG_STRING, RUM_OFF(database_url), "", 0, 0,
	 "PostgreSQL libpq URI; empty runs an embedded cluster under data_dir"},
	{"database_url_file", RUM_CFG_STRING, RUM_OFF(database_url_file), "", 0, 0,
	 "file holding database_url (one line), readable by its owner only (or 0640 owned by "
	 "root); keeps the password off command lines"},
	{"data_dir", RUM_CFG_STRING, RUM_OFF(data_dir), "/var/lib/rumd", 0, 0,
	 "directory for the embedded cluster and runtime files"},
	{"pg_bindir", RUM_CFG_STRING, RUM_OFF(pg_bindir), "", 0, 0,
	 "PostgreSQL server binaries for the embedded cluster; empty = newest found"},
	{"http_listen", RUM_CFG_STRING, RUM_OFF(http_listen), "0.0.0.0:8182", 0, 0,
	 "plain HTTP listener ADDR:PORT (port 0 = any free port); empty = off"},
	{"https_listen", RUM_CFG_STRING, RUM_OFF(https_listen), "", 0, 0,
	 "HTTPS listener ADDR:PORT; needs tls_cert and tls_key; empty = off"},
	{"tls_cert", RUM_CFG_STRING, RUM_OFF(tls_cert), "", 0, 0, "PEM certificate (chain) file"},
	{"tls_key", RUM_CFG_STRING, RUM_OFF(tls_key), "", 0, 0, "PEM private key file"},
	{"default_tenant", RUM_CFG_STRING, RUM_OFF(default_tenant), "default", 0, 0,
	 "tenant of /cslu/v1/pi without a tenant segment; created by migrate"},
	{"auto_create_tenants", RUM_CFG_BOOL, RUM_OFF(auto_create_tenants), "false", 0, 0,
	 "create unknown tenants on first device contact instead of answering 404"},
	{"capture_all", RUM_CFG_BOOL, RUM_OFF(capture_all), "false", 0, 0,
	 "store every device message verbatim (not only unclassified ones)"},
	{"max_body_bytes", RUM_CFG_BYTES, RUM_OFF(max_body_bytes), "16MiB", 1024, INT64_C(1) << 30,
	 "largest accepted request body"},
	{"max_reports_per_message", RUM_CFG_INT, RUM_OFF(max_reports_per_message), "10000", 1,
	 1000000, "most RUM reports accepted in one device message"},
	{"db_pool_size", RUM_CFG_INT, RUM_OFF(db_pool_size), "0", 0, 256,
	 "PostgreSQL connections (database workers) of this node; 0 = one per CPU, at least 2"},
	{"http_threads", RUM_CFG_INT, RUM_OFF(http_threads), "2", 1, 64, "HTTP event-loop threads"},
	{"batch_max", RUM_CFG_INT, RUM_OFF(batch_max), "128", 1, 10000,
	 "device messages committed together in one transaction at most"},
	{"retry_after_s", RUM_CFG_INT, RUM_OFF(retry_after_s), "30", 1, 86400,
	 "Retry-After seconds sent with 503 while the database is unreachable"},
	{"db_timeout_ms", RUM_CFG_INT, RUM_OFF(db_timeout_ms), "5000", 100, 600000,
	 "database connect timeout"},
	{"db_statement_timeout_ms", RUM_CFG_INT, RUM_OFF(db_statement_timeout_ms), "30000", 100,
	 3600000, "longest a batch may wait for the database (statement and lock timeout)"},
	{"db_queue_max", RUM_CFG_INT, RUM_OFF(db_queue_max), "4096", 1, 1000000,
	 "device messages waiting for the database at most; more are answered 503"},
	{"http_max_connections", RUM_CFG_INT, RUM_OFF(http_max_connections), "4096", 16, 1000000,
	 "open HTTP connections per listener at most"},
	{"http_max_connections_per_address", RUM_CFG_INT, RUM_OFF(http_max_connections_per_address),
	 "256", 0, 1000000,
	 "open connections one client address may hold per listener; 0 = no limit (sites "
	 "behind one NAT address may need more)"},
	{"http_header_timeout_s", RUM_CFG_INT, RUM_OFF(http_header_timeout_s), "10", 1, 3600,
	 "a new connection must deliver a complete request head within this many seconds, "
	 "however it trickles; also the grace before http_body_min_rate applies"},
	{"http_idle_timeout_s", RUM_CFG_INT, RUM_OFF(http_idle_timeout_s), "30", 1, 3600,
	 "a kept-alive connection is closed when its next request head is not complete this "
	 "long after the previous answer"},
	{"http_body_min_rate", RUM_CFG_BYTES, RUM_OFF(http_body_min_rate), "1KiB", 0,
	 INT64_C(1) << 30,
	 "a request body must arrive at least this fast (bytes per second, on average, after "
	 "http_header_timeout_s) or the connection is closed; 0 = no floor"},
	{"http_max_body_total", RUM_CFG_BYTES, RUM_OFF(http_max_body_total), "512MiB", 1 << 20,
	 INT64_C(1) << 40, "request body bytes held in memory at once; beyond it requests get 503"},
	{"log_level", RUM_CFG_STRING, RUM_OFF(log_level), "info", 0, 0,
	 "debug, info, warn or error"},
	{"log_format", RUM_CFG_STRING, RUM_OFF(log_format), "text", 0, 0,
	 "text (TIME LEVEL message) or json (one object per line: time, level, event, msg and "
	 "the line's fields such as tenant, device, req, duration_ms)"},
	{"log_requests", RUM_CFG_BOOL, RUM_OFF(log_requests), "false", 0, 0,
	 "log every HTTP request at info level (method, path, status, duration, request id, "
	 "tenant, device); otherwise at debug level"},
	{"metrics_listen", RUM_CFG_STRING, RUM_OFF(metrics_listen), "", 0, 0,
	 "ADDR:PORT of a plain HTTP listener serving Prometheus metrics at /metrics (it names "
	 "tenants: keep it off the device network); empty = no metrics"},
	{"metrics_tenant_cache_s", RUM_CFG_INT, RUM_OFF(metrics_tenant_cache_s), "15", 0, 3600,
	 "per-tenant licence figures in /metrics are counted at most this often"},
	{"secret_key_file", RUM_CFG_STRING, RUM_OFF(secret_key_file), "", 0, 0,
	 "key (64 hex digits) sealing pull-target credentials and upstream secrets; empty = "
	 "data_dir/secret.key, created on first use; every node on one database needs the same "
	 "key"},
	{"node_name", RUM_CFG_STRING, RUM_OFF(node_name), "", 0, 0,
	 "this node's name in collection records; empty = hostname:pid"},
	{"collector_sessions", RUM_CFG_INT, RUM_OFF(collector_sessions), "16", 0, 1024,
	 "device collections this node runs at once; 0 = this node collects nothing on schedule"},
	{"collector_poll_ms", RUM_CFG_INT, RUM_OFF(collector_poll_ms), "1000", 50, 600000,
	 "how often an idle node looks for due collections"},
	{"collector_connect_timeout_ms", RUM_CFG_INT, RUM_OFF(collector_connect_timeout_ms),
	 "10000", 100, 600000, "connecting to a device (TCP, SSH handshake or TLS)"},
	{"collector_auth_timeout_ms", RUM_CFG_INT, RUM_OFF(collector_auth_timeout_ms), "15000", 100,
	 600000, "SSH user authentication"},
	{"collector_rpc_timeout_ms", RUM_CFG_INT, RUM_OFF(collector_rpc_timeout_ms), "60000", 100,
	 3600000, "one NETCONF RPC, one file transfer or one REST request, at most"},
	{"collector_timeout_ms", RUM_CFG_INT, RUM_OFF(collector_timeout_ms), "300000", 1000,
	 86400000, "one whole collection, at most"},
	{"netconf_max_reply_bytes", RUM_CFG_BYTES, RUM_OFF(netconf_max_reply_bytes), "64MiB", 4096,
	 INT64_C(1) << 30, "largest NETCONF reply, usage file or REST reply accepted"},
	{"collector_retry_base_s", RUM_CFG_INT, RUM_OFF(collector_retry_base_s), "60", 1, 86400,
	 "first retry after a failed scheduled collection; doubles each failure"},
	{"collector_retry_max_s", RUM_CFG_INT, RUM_OFF(collector_retry_max_s), "3600", 1,
	 31 * 86400, "longest back-off between retries"},
	{"collector_alert_after_s", RUM_CFG_INT, RUM_OFF(collector_alert_after_s), "86400", 0,
	 365 * 86400, "raise an alert when a target has failed for this long"},
	{"collector_public_url", RUM_CFG_STRING, RUM_OFF(collector_public_url), "", 0, 0,
	 "base URL devices reach this rumd at (http://host:8182), for transfer=http targets"},
	{"file_url_ttl_s", RUM_CFG_INT, RUM_OFF(file_url_ttl_s), "600", 10, 86400,
	 "lifetime of a one-time file URL handed to a device"},
	{"upstream_proxy", RUM_CFG_STRING, RUM_OFF(upstream_proxy), "", 0, 0,
	 "HTTP(S) proxy for connected mode, http://[USER@]HOST:PORT (CONNECT for HTTPS), used "
	 "by upstreams that name none; never a password in it; empty = direct"},
	{"upstream_proxy_password_file", RUM_CFG_STRING, RUM_OFF(upstream_proxy_password_file), "",
	 0, 0,
	 "file holding the password of upstream_proxy's user (one line), readable by its owner "
	 "only (or 0640 owned by root)"},
	{"upstream_ca_file", RUM_CFG_STRING, RUM_OFF(upstream_ca_file), "", 0, 0,
	 "PEM bundle of the CAs upstreams are verified against (a TLS-inspecting proxy's CA); "
	 "empty = the system's"},
	{"sync_schedule", RUM_CFG_BOOL, RUM_OFF(sync_schedule), "true", 0, 0,
	 "serve runs each connected tenant's sync on its schedule (and when asked through the "
	 "API); false = this node syncs only from the command line"},
	{"sync_look_ms", RUM_CFG_INT, RUM_OFF(sync_look_ms), "5000", 50, 600000,
	 "how often serve looks for due syncs and ACKs to poll"},
	{"sync_concurrency", RUM_CFG_INT, RUM_OFF(sync_concurrency), "4", 1, 64,
	 "upstream calls one connected sync keeps in flight"},
	{"sync_poll_first_s", RUM_CFG_INT, RUM_OFF(sync_poll_first_s), "30", 0, 3600,
	 "first poll for an ACK after an upload is accepted (Cisco's sample waits 30 s)"},
	{"sync_poll_every_s", RUM_CFG_INT, RUM_OFF(sync_poll_every_s), "3", 0, 3600,
	 "later polls for the same ACK"},
	{"sync_retry_max_s", RUM_CFG_INT, RUM_OFF(sync_retry_max_s), "60", 1, 3600,
	 "longest back-off between tries of one upstream call (a Retry-After is honoured)"},
	{"sync_lease_s", RUM_CFG_INT, RUM_OFF(sync_lease_s), "60", 3, 3600,
	 "a node's hold on a tenant's sync, renewed while it runs: how long a dead node's sync "
	 "waits before another node takes it over"},
	{"sync_alert_after_s", RUM_CFG_INT, RUM_OFF(sync_alert_after_s), "86400", 0, 365 * 86400,
	 "raise an alert when a tenant's sync has failed for this long"},
	{"sync_allow_http", RUM_CFG_BOOL, RUM_OFF(sync_allow_http), "false", 0, 0,
	 "let upstream URLs be plain http:// (a collector on a trusted network, a lab); "
	 "otherwise https only"},
	{"upkeep_interval_s", RUM_CFG_INT, RUM_OFF(upkeep_interval_s), "60", 1, 86400,
	 "how often serve brings licence usage figures up to date"},
	{"usage_lag_s", RUM_CFG_INT, RUM_OFF(usage_lag_s), "300", 0, 86400,
	 "a report counts in licence usage this long after it arrived (longer than any push "
	 "transaction, so that none is missed)"},
	{"alert_deadline_warn_days", RUM_CFG_INT, RUM_OFF(alert_deadline_warn_days), "14", 0, 3650,
	 "alert when a device's reporting deadline is this many days away; 0 = never"},
	{"alert_ack_pending_days", RUM_CFG_INT, RUM_OFF(alert_ack_pending_days), "7", 0, 3650,
	 "alert when an export has waited this many days for CSSM's ACK; 0 = never"},
	{"alert_silent_days", RUM_CFG_INT, RUM_OFF(alert_silent_days), "30", 0, 3650,
	 "alert when a device has not been heard of for this many days; 0 = never"},
	{"alert_capture_days", RUM_CFG_INT, RUM_OFF(alert_capture_days), "7", 0, 3650,
	 "alert while a tenant's devices sent unclassified messages in this many days; 0 = never"},
	{"web_session_idle_s", RUM_CFG_INT, RUM_OFF(web_session_idle_s), "28800", 60, 604800,
	 "a browser session ends after this long without a request"},
	{"web_session_max_s", RUM_CFG_INT, RUM_OFF(web_session_max_s), "86400", 60, 2592000,
	 "a browser session ends this long after its sign-in, however busy"},
	{"retain_acked_reports_days", RUM_CFG_INT, RUM_OFF(retain_acked_reports_days), "0", 0,
	 36500,
	 "drop the payload of reports exported and acknowledged by CSSM this many days ago "
	 "(identity, values and ACK state stay); 0 = keep for ever"},
	{"retain_captures_days", RUM_CFG_INT, RUM_OFF(retain_captures_days), "0", 0, 36500,
	 "delete captured device messages received this many days ago; 0 = keep for ever"},
	{"retain_collections_days", RUM_CFG_INT, RUM_OFF(retain_collections_days), "0", 0, 36500,
	 "delete finished pull collections this many days old (each target keeps its newest); "
	 "0 = keep for ever"},
	{"retention_batch", RUM_CFG_INT, RUM_OFF(retention_batch), "1000", 1, 100000,
	 "rows pruned per transaction"},
	{"retention_budget_s", RUM_CFG_INT, RUM_OFF(retention_budget_s), "10", 1, 3600,
	 "an upkeep round prunes for this long at most; the rest waits for the next round"},
	{"overview_live_max_devices", RUM_CFG_INT, RUM_OFF(overview_live_max_devices), "100000", 0,
	 1000000000,
	 "a tenant with at least this many devices gets its overview counted by the upkeep each "
	 "round, not on each request (0 = always on each request)"},
	{"import_max_file_bytes", RUM_CFG_BYTES, RUM_OFF(import_max_file_bytes), "256MiB", 1024,
	 INT64_C(1) << 40,
	 "largest file `rumd import` takes (the admin API's uploads are bounded by max_body_bytes "
	 "too); it is streamed, not held in memory"},
	{"import_max_entry_bytes", RUM_CFG_BYTES, RUM_OFF(import_max_entry_bytes), "4MiB", 4096,
	 64 << 20,
	 "largest document (one device's ACK, a policy file) in an import; a real ACK is a few "
	 "KB, a few hundred KB with thousands of report ids"},
	{"import_max_total_bytes", RUM_CFG_BYTES, RUM_OFF(import_max_total_bytes), "1GiB", 1 << 20,
	 INT64_C(1) << 40,
	 "bytes an import may inflate in all, nested archives included (a decompression bomb "
	 "stops there)"},
	{"import_max_entries", RUM_CFG_INT, RUM_OFF(import_max_entries), "100000", 1, 100000000,
	 "archive entries an import may hold in all, nested levels included"},
	{"import_max_xml_nodes", RUM_CFG_INT, RUM_OFF(import_max_xml_nodes), "10000", 100, 10000000,
	 "XML elements, attributes and comments of one imported document at most, counted "
	 "before it is parsed (a real ACK has under a hundred)"},
};

#define RUM_NPARAMS (sizeof(rum_config_params) / sizeof(rum_config_params[0]))

static enum rum_config_source rum_config_sources[RUM_NPARAMS];

static const struct rum_config_param *rum_config_find(const char *key, size_t *index)
{
	char norm[64];
	size_t n = strlen(key);

	if (n >= sizeof(norm))
		return NULL;
	for (size_t i = 0; i <= n; i++)
		norm[i] = key[i] == '-' ? '_' : (char)tolower((unsigned char)key[i]);
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		if (strcmp(rum_config_params[i].name, norm) == 0) {
			if (index)
				*index = i;
			return &rum_config_params[i];
		}
	}
	return NULL;
}

bool rum_config_is_key(const char *key)
{
	return rum_config_find(key, NULL) != NULL;
}

static int rum_config_parse_bool(bool *out, const char *v)
{
	static const char *const yes[] = {"true", "yes", "on", "1"};
	static const char *const no[] = {"false", "no", "off", "0"};

	for (size_t i = 0; i < 4; i++) {
		if (strcasecmp(v, yes[i]) == 0) {
			*out = true;
			return 0;
		}
		if (strcasecmp(v, no[i]) == 0) {
			*out = false;
			return 0;
		}
	}
	return RUM_EINVAL;
}

static int rum_config_apply(struct rum_config *cfg, const struct rum_config_param *p,
			    const char *value)
{
	char *base = (char *)cfg;
	int64_t n;
	bool b;
	int rc;

	switch (p->type) {
	case RUM_CFG_STRING: {
		char **slot = (char **)(void *)(base + p->offset);
		char *dup;

		if (strlen(value) > 4096)
			return rum_err_set(RUM_EINVAL, "%s: value longer than 4096 bytes", p->name);
		if (strcmp(p->name, "log_level") == 0 && strcmp(value, "debug") != 0 &&
		    strcmp(value, "info") != 0 && strcmp(value, "warn") != 0 &&
		    strcmp(value, "error") != 0)
			return rum_err_set(RUM_EINVAL,
					   "log_level: '%s' is not one of debug, info, "
					   "warn, error",
					   value);
		if (strcmp(p->name, "log_format") == 0 && strcmp(value, "text") != 0 &&
		    strcmp(value, "json") != 0)
			return rum_err_set(RUM_EINVAL, "log_format: '%s' is not one of text, json",
					   value);
		/* Checked before it is kept: a proxy URL holding a password
		 * would be printed by check-config. */
		if (strcmp(p->name, "upstream_proxy") == 0 && value[0] &&
		    rum_upstreams_url_check("upstream_proxy", value, true) != 0)
			return RUM_EINVAL;
		if (strcmp(p->name, "default_tenant") == 0 && !rum_text_tenant_name_ok(value))
			return rum_err_set(RUM_EINVAL, "default_tenant: a tenant name is 1 to 128 "
						       "characters of printable UTF-8 without '/'");
		dup = strdup(value);
		if (!dup)
			abort();
		free(*slot);
		*slot = dup;
		return 0;
	}
	case RUM_CFG_BOOL:
		if (rum_config_parse_bool(&b, value) != 0)
			return rum_err_set(RUM_EINVAL, "%s: '%s' is not a boolean (true/false)",
					   p->name, value);
		*(bool *)(void *)(base + p->offset) = b;
		return 0;
	case RUM_CFG_INT:
	case RUM_CFG_BYTES:
		rc = p->type == RUM_CFG_INT ? rum_strict_int64(&n, value)
					    : rum_strict_bytes(&n, value);
		if (rc != 0)
			return rum_err_set(RUM_EINVAL, "%s: '%s' is not %s", p->name, value,
					   p->type == RUM_CFG_INT ? "a whole number"
								  : "a size (e.g. 16MiB)");
		if (n < p->min || n > p->max)
			return rum_err_set(RUM_EINVAL, "%s: %lld is %soutside %lld..%lld%s",
					   p->name, (long long)n, n < 0 ? "negative, " : "",
					   (long long)p->min, (long long)p->max,
					   strncmp(p->name, "retain_", 7) == 0
						   ? " days (0 keeps for ever)"
						   : "");
		*(int64_t *)(void *)(base + p->offset) = n;
		return 0;
	}
	return rum_err_set(RUM_EINTERNAL, "%s: unknown setting type", p->name);
}

void rum_config_init(struct rum_config *cfg)
{
	memset(cfg, 0, sizeof(*cfg));
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		if (rum_config_apply(cfg, &rum_config_params[i], rum_config_params[i].def) != 0)
			abort(); /* a bad default is a build-time bug */
		rum_config_sources[i] = RUM_CFG_DEFAULT;
	}
}

void rum_config_dispose(struct rum_config *cfg)
{
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		if (rum_config_params[i].type == RUM_CFG_STRING) {
			char **slot = (char **)(void *)((char *)cfg + rum_config_params[i].offset);

			free(*slot);
			*slot = NULL;
		}
	}
}

int rum_config_set(struct rum_config *cfg, const char *key, const char *value,
		   enum rum_config_source source)
{
	size_t index;
	const struct rum_config_param *p = rum_config_find(key, &index);
	int rc;

	if (!p)
		return rum_err_set(RUM_EINVAL, "unknown setting '%s'", key);
	/* A weaker source never overrides a stronger one, whatever the call order. */
	if (source < rum_config_sources[index])
		return 0;
	rc = rum_config_apply(cfg, p, value);
	if (rc == 0)
		rum_config_sources[index] = source;
	return rc;
}

static char *rum_config_trim(char *s)
{
	char *end;

	while (isspace((unsigned char)*s))
		s++;
	end = s + strlen(s);
	while (end > s && isspace((unsigned char)end[-1]))
		*--end = '\0';
	return s;
}

int rum_config_load_file(struct rum_config *cfg, const char *path)
{
	struct rum_config tmp;
	enum rum_config_source saved[RUM_NPARAMS];
	char line[8192];
	FILE *f;
	int lineno = 0, rc = 0;

	f = fopen(path, "r");
	if (!f)
		return rum_err_set(RUM_EIO, "config file %s: cannot open: %m", path);
	/* Validate the whole file on a copy first: a bad line applies nothing. */
	memcpy(saved, rum_config_sources, sizeof(saved));
	rum_config_init(&tmp);
	for (int pass = 0; pass < 2 && rc == 0; pass++) {
		struct rum_config *target = pass == 0 ? &tmp : cfg;

		rewind(f);
		lineno = 0;
		memcpy(rum_config_sources, saved, sizeof(saved));
		if (pass == 0)
			memset(rum_config_sources, 0, sizeof(rum_config_sources));
		while (fgets(line, sizeof(line), f)) {
			char *s, *eq, *key, *value;

			lineno++;
			if (!strchr(line, '\n') && !feof(f)) {
				rc = rum_err_set(RUM_EINVAL, "%s:%d: line too long", path, lineno);
				break;
			}
			s = rum_config_trim(line);
			if (*s == '\0' || *s == '#')
				continue;
			eq = strchr(s, '=');
			if (!eq) {
				rc = rum_err_set(RUM_EINVAL, "%s:%d: expected 'key = value'", path,
						 lineno);
				break;
			}
			*eq = '\0';
			key = rum_config_trim(s);
			value = rum_config_trim(eq + 1);
			if (strlen(value) >= 2 && value[0] == '"' &&
			    value[strlen(value) - 1] == '"') {
				value[strlen(value) - 1] = '\0';
				value++;
			}
			rc = rum_config_set(target, key, value, RUM_CFG_FILE);
			if (rc != 0) {
				char msg[512];

				snprintf(msg, sizeof(msg), "%s", rum_err_msg());
				rc = rum_err_set(rc, "%s:%d: %s", path, lineno, msg);
				break;
			}
		}
	}
	if (rc != 0)
		memcpy(rum_config_sources, saved, sizeof(saved));
	rum_config_dispose(&tmp);
	fclose(f);
	return rc;
}

int rum_config_load_env(struct rum_config *cfg)
{
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		char var[80];
		const char *value;
		size_t j;

		snprintf(var, sizeof(var), "RUMD_%s", rum_config_params[i].name);
		for (j = 5; var[j]; j++)
			var[j] = (char)toupper((unsigned char)var[j]);
		value = getenv(var);
		if (value) {
			int rc = rum_config_set(cfg, rum_config_params[i].name, value, RUM_CFG_ENV);

			if (rc != 0) {
				char msg[512];

				snprintf(msg, sizeof(msg), "%s", rum_err_msg());
				return rum_err_set(rc, "environment %s: %s", var, msg);
			}
		}
	}
	return 0;
}

/* A URL with its password must not be readable by anyone but rumd: the rule
 * PostgreSQL applies to its own key file. No access for group or others, or
 * owned by root and readable by the group (root:rumd 0640). */
static bool rum_config_private_mode(const struct stat *st)
{
	return (st->st_mode & 077) == 0 || (st->st_uid == 0 && (st->st_mode & 037) == 0);
}

int rum_config_resolve(struct rum_config *cfg)
{
	const char *path = cfg->database_url_file;
	char buf[4097];
	struct stat st;
	ssize_t n;
	size_t len = 0;
	int fd, rc = 0;

	cfg->database_url_from_file = false;
	if (!path[0])
		return 0;
	if (cfg->database_url[0])
		return rum_err_set(RUM_EINVAL, "database_url and database_url_file are both set; "
					       "set one of them");
	fd = open(path, O_RDONLY | O_CLOEXEC | O_NOCTTY);
	if (fd < 0)
		return rum_err_set(RUM_EIO, "database_url_file %s: cannot open: %s", path,
				   strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		close(fd);
		return rum_err_set(RUM_EINVAL, "database_url_file %s is not a regular file", path);
	}
	if (!rum_config_private_mode(&st)) {
		close(fd);
		return rum_err_set(RUM_EINVAL,
				   "database_url_file %s: mode %04o lets others read the database "
				   "password; make it 0600 (or 0640 owned by root)",
				   path, (unsigned)(st.st_mode & 07777));
	}
	while (len < sizeof(buf) - 1 && (n = read(fd, buf + len, sizeof(buf) - 1 - len)) != 0) {
		if (n < 0 && errno == EINTR)
			continue;
		if (n < 0) {
			rc = rum_err_set(RUM_EIO, "database_url_file %s: cannot read: %s", path,
					 strerror(errno));
			break;
		}
		len += (size_t)n;
	}
	close(fd);
	buf[len] = '\0';
	while (rc == 0 && len > 0 && (buf[len - 1] == '\n' || buf[len - 1] == '\r'))
		buf[--len] = '\0';
	if (rc == 0 && len == sizeof(buf) - 1)
		rc = rum_err_set(RUM_EINVAL, "database_url_file %s: longer than 4096 bytes", path);
	else if (rc == 0 && len == 0)
		rc = rum_err_set(RUM_EINVAL, "database_url_file %s is empty", path);
	else if (rc == 0 && memchr(buf, '\n', len))
		rc = rum_err_set(RUM_EINVAL, "database_url_file %s: more than one line", path);
	else if (rc == 0 && strlen(buf) != len)
		rc = rum_err_set(RUM_EINVAL, "database_url_file %s: holds a NUL byte", path);
	if (rc == 0) {
		free(cfg->database_url);
		cfg->database_url = strdup(buf);
		if (!cfg->database_url)
			abort();
		cfg->database_url_from_file = true;
	}
	rum_crypto_wipe(buf, sizeof(buf));
	return rc;
}

void rum_config_each_change(const struct rum_config *a, const struct rum_config *b,
			    void (*fn)(void *arg, const char *key), void *arg)
{
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		const struct rum_config_param *p = &rum_config_params[i];
		const char *pa = (const char *)a + p->offset, *pb = (const char *)b + p->offset;
		bool same;

		switch (p->type) {
		case RUM_CFG_STRING:
			same = strcmp(*(char *const *)(const void *)pa,
				      *(char *const *)(const void *)pb) == 0;
			break;
		case RUM_CFG_BOOL:
			same = *(const bool *)(const void *)pa == *(const bool *)(const void *)pb;
			break;
		default:
			same = *(const int64_t *)(const void *)pa ==
			       *(const int64_t *)(const void *)pb;
		}
		if (!same)
			fn(arg, p->name);
	}
}

int rum_config_parse_listen(const char *text, char *addr, size_t addr_len, uint16_t *port)
{
	const char *colon, *host = text;
	size_t host_len;
	int64_t n;

	if (text[0] == '[') {
		const char *close = strchr(text, ']');

		if (!close || close[1] != ':')
			return rum_err_set(RUM_EINVAL, "'%s' is not [ADDR]:PORT", text);
		host = text + 1;
		host_len = (size_t)(close - host);
		colon = close + 1;
	} else {
		colon = strrchr(text, ':');
		if (!colon)
			return rum_err_set(RUM_EINVAL, "'%s' is not ADDR:PORT", text);
		host_len = (size_t)(colon - text);
	}
	if (host_len == 0 || host_len >= addr_len)
		return rum_err_set(RUM_EINVAL, "'%s': bad address", text);
	if (rum_strict_int64(&n, colon + 1) != 0 || n < 0 || n > 65535)
		return rum_err_set(RUM_EINVAL, "'%s': port must be 0..65535", text);
	memcpy(addr, host, host_len);
	addr[host_len] = '\0';
	*port = (uint16_t)n;
	return 0;
}

/* The proxy password file is checked as database_url_file is (a regular
 * file only its owner reads), without reading it; the CA bundle must be a
 * regular file. */
static int rum_config_validate_upstream(const struct rum_config *cfg)
{
	const char *pw = cfg->upstream_proxy_password_file, *ca = cfg->upstream_ca_file;
	struct rum_text_url u;
	const char *why;
	struct stat st;

	if (pw[0] && !cfg->upstream_proxy[0])
		return rum_err_set(RUM_EINVAL, "upstream_proxy_password_file needs upstream_proxy");
	if (pw[0] && (rum_text_url_split(&u, cfg->upstream_proxy, &why) != 0 || !u.has_user))
		return rum_err_set(RUM_EINVAL, "upstream_proxy_password_file: upstream_proxy names "
					       "no user (http://USER@HOST:PORT)");
	if (pw[0] && (stat(pw, &st) != 0 || !S_ISREG(st.st_mode)))
		return rum_err_set(RUM_EINVAL,
				   "upstream_proxy_password_file %s is not a readable "
				   "regular file",
				   pw);
	if (pw[0] && !rum_config_private_mode(&st))
		return rum_err_set(RUM_EINVAL,
				   "upstream_proxy_password_file %s: mode %04o lets others read "
				   "the proxy password; make it 0600 (or 0640 owned by root)",
				   pw, (unsigned)(st.st_mode & 07777));
	if (ca[0] && (stat(ca, &st) != 0 || !S_ISREG(st.st_mode) || access(ca, R_OK) != 0))
		return rum_err_set(RUM_EINVAL, "upstream_ca_file %s is not a readable regular file",
				   ca);
	return 0;
}

int rum_config_validate(const struct rum_config *cfg)
{
	char addr[128];
	uint16_t port;

	if (cfg->http_listen[0] &&
	    rum_config_parse_listen(cfg->http_listen, addr, sizeof(addr), &port) != 0)
		return rum_err_set(RUM_EINVAL, "http_listen: %s", rum_err_msg());
	if (cfg->https_listen[0]) {
		if (rum_config_parse_listen(cfg->https_listen, addr, sizeof(addr), &port) != 0)
			return rum_err_set(RUM_EINVAL, "https_listen: %s", rum_err_msg());
		if (!cfg->tls_cert[0] || !cfg->tls_key[0])
			return rum_err_set(RUM_EINVAL, "https_listen needs tls_cert and tls_key");
	}
	if (cfg->metrics_listen[0] &&
	    rum_config_parse_listen(cfg->metrics_listen, addr, sizeof(addr), &port) != 0)
		return rum_err_set(RUM_EINVAL, "metrics_listen: %s", rum_err_msg());
	if (!cfg->http_listen[0] && !cfg->https_listen[0])
		return rum_err_set(RUM_EINVAL, "neither http_listen nor https_listen is set");
	if (!cfg->database_url[0] && !cfg->data_dir[0])
		return rum_err_set(RUM_EINVAL, "data_dir is needed when database_url is empty");
	if (cfg->database_url[0] && rum_domain_database_url_check(cfg->database_url) != 0)
		return RUM_EINVAL;
	return rum_config_validate_upstream(cfg);
}

void rum_config_print(const struct rum_config *cfg, FILE *out)
{
	static const char *const source_names[] = {"default", "file", "environment", "flag"};

	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		const struct rum_config_param *p = &rum_config_params[i];
		const char *base = (const char *)cfg;
		char value[4200];

		switch (p->type) {
		case RUM_CFG_STRING: {
			const char *s = *(char *const *)(const void *)(base + p->offset);

			if (strcmp(p->name, "database_url") == 0)
				rum_domain_database_url_masked(s, value, sizeof(value));
			else
				snprintf(value, sizeof(value), "%s", s);
			break;
		}
		case RUM_CFG_BOOL:
			snprintf(value, sizeof(value), "%s",
				 *(const bool *)(const void *)(base + p->offset) ? "true"
										 : "false");
			break;
		default:
			snprintf(value, sizeof(value), "%lld",
				 (long long)*(const int64_t *)(const void *)(base + p->offset));
		}
		fprintf(out, "%s = %s  # %s\n", p->name, value,
			strcmp(p->name, "database_url") == 0 && cfg->database_url_from_file
				? "database_url_file"
				: source_names[rum_config_sources[i]]);
	}
}

int rum_config_pool_size(const struct rum_config *cfg)
{
	long cpus;

	if (cfg->db_pool_size > 0)
		return cfg->db_pool_size < 2 ? 2 : (int)cfg->db_pool_size;
	cpus = sysconf(_SC_NPROCESSORS_ONLN);
	return cpus < 2 ? 2 : cpus > 64 ? 64 : (int)cpus;
}

void rum_config_print_help(FILE *out)
{
	fprintf(out, "Settings (--key=value, environment RUMD_KEY, or 'key = value' in --config "
		     "FILE):\n");
	for (size_t i = 0; i < RUM_NPARAMS; i++) {
		const struct rum_config_param *p = &rum_config_params[i];

		fprintf(out, "  %-24s %s (default: %s)\n", p->name, p->help,
			p->def[0] ? p->def : "empty");
	}
}
