/* rumd command line: `rumd [settings] VERB [options]`. Verbs: serve, migrate,
 * check-config, tenant add|list, capture, replay, export, import, ack-file,
 * import-usage. Settings come from the one table in
 * config.c, as --key=value, RUMD_KEY or a --config file. */
#include "api/api.h"
#include "collector/scheduler.h"
#include "domain/captures.h"
#include "domain/domain.h"
#include "domain/export.h"
#include "domain/push.h"
#include "domain/retention.h"
#include "domain/tenants.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/strict.h"
#include "lib/text.h"
#include "lib/xml.h"
#include "server/cli_backup.h"
#include "server/cli_collector.h"
#include "server/cli_import.h"
#include "server/cli_inventory.h"
#include "server/cli_sync.h"
#include "server/cli_tokens.h"
#include "server/cli_upstream.h"
#include "server/cli_users.h"
#include "server/config.h"
#include "server/http.h"
#include "server/pgembed.h"
#include "server/progress.h"
#include "server/upkeep.h"
#include "sync/scheduler.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#define RUM_MAX_WORDS 8
#define RUM_MAX_OPTS 24

/* The command line once settings are taken out of it. */
struct rum_cli {
	const char *words[RUM_MAX_WORDS]; /* verb and positional arguments */
	int nwords;
	const char *opt_name[RUM_MAX_OPTS]; /* verb options, without "--" */
	const char *opt_value[RUM_MAX_OPTS];
	int nopts;
	bool help, version;
	const char *config_file;
};

static const char *rum_cli_opt(const struct rum_cli *cli, const char *name)
{
	for (int i = 0; i < cli->nopts; i++)
		if (strcmp(cli->opt_name[i], name) == 0)
			return cli->opt_value[i];
	return NULL;
}

static void rum_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd [--config FILE] [--key=value ...] VERB [options]\n\n"
		"rumd collects Cisco Smart Licensing Using Policy usage (RUM reports) from\n"
		"devices and keeps it per tenant in PostgreSQL.\n\n"
		"Verbs:\n"
		"  serve                 apply migrations, then serve devices on http_listen\n"
		"  migrate               apply pending database migrations and exit\n"
		"  check-config          validate the settings and print the effective ones\n"
		"  routes                the HTTP surface: method, path, token role, audit action\n"
		"  tenant add NAME [--smart-account NAME] [--virtual-account NAME]\n"
		"  tenant list           list tenants\n"
		"  capture list [--tenant NAME] [--limit N]   device messages kept verbatim\n"
		"  capture show ID       one captured message: headers and body\n"
		"  replay ID [--tenant NAME]   process a captured message again, as if sent now\n"
		"  export --tenant NAME [-o FILE|DIR] [--all | --since TIME] [--device ID ...]\n"
		"                        usage for CSSM: UD_SA_<ts>.tar.gz (air-gapped reporting)\n"
		"  import FILE [--tenant NAME] [--device ID ...]\n"
		"                        CSSM's ACK file(s) (ACK_UD_SA_<ts>.tar.gz, one ACK, a policy)\n"
		"  ack-file --device ID -o FILE   a device's newest ACK, for `license smart import`\n"
		"  import-usage FILE --tenant NAME   a device usage file, as if the device pushed it\n"
		"  token create --role admin|operator|reader [--tenant NAME] [--description TEXT]\n"
		"  token list | token revoke ID   bearer tokens of the admin API (/api/v1)\n"
		"  user add NAME --role R [--tenant NAME] | user list | user passwd|disable|enable "
		"NAME\n"
		"                        local users who sign in to the admin console\n"
		"  device list [--tenant NAME] [--state S] [--sort K] [--search PREFIX] [--json]\n"
		"  device show ID [--tenant NAME] [--json]   a product instance: state, deadline, usage\n"
		"  report list [--tenant NAME] [--device ID] [--json] | report show ID [--raw]\n"
		"  usage [--tenant NAME] [--by-day [--tag TAG] [--from DAY] [--to DAY]] [--json]\n"
		"  alert list [--tenant NAME] [--state S] [--kind K] [--json] | alert ack ID\n"
		"  target add --host H --username U (--password-file F | --key F) ...\n"
		"  target list [--tenant NAME] | target show ID | target remove ID   pull targets\n"
		"  collect (--target ID | --tenant NAME) [--wait]   collect from pull targets now\n"
		"  upstream set --tenant NAME --kind cssm|collector ... | upstream show [--tenant NAME]\n"
		"  upstream remove --tenant NAME   a tenant's upstream for connected mode (CSSM or\n"
		"                        another collector); secrets from files or standard input\n"
		"  sync --tenant NAME [--wait] | sync status --tenant NAME   send a tenant's usage to\n"
		"                        its upstream now, bring the ACKs back; the last syncs\n"
		"  backup -o FILE|DIR|-  the database and the secret key in one file (mode 0600)\n"
		"  restore FILE [--force]   a backup into a new data_dir or database\n"
		"  prune [--tenant NAME] [--dry-run]   apply the retention settings now, to the end\n\n"
		"Options: --help (also after a verb), --version, --config FILE\n\n");
	rum_config_print_help(out);
}

static void rum_verb_usage(const char *verb, FILE *out)
{
	bool settings = strcmp(verb, "tenant") != 0;

	if (strcmp(verb, "serve") == 0)
		fprintf(out,
			"Usage: rumd serve [--key=value ...]\n\nApplies pending migrations "
			"(under an advisory lock), listens on http_listen (and https_listen),\n"
			"logs 'listening on http://ADDR:PORT' per listener, and stops cleanly "
			"on SIGTERM or SIGINT.\nWith no database_url it runs an embedded "
			"PostgreSQL cluster under data_dir. SIGHUP reads the settings\nagain "
			"and applies log_level; other changes are logged and wait for a "
			"restart.\n");
	else if (strcmp(verb, "device") == 0 || strcmp(verb, "report") == 0)
		rum_cli_inventory_usage(out);
	else if (strcmp(verb, "usage") == 0)
		rum_cli_usage_usage(out);
	else if (strcmp(verb, "alert") == 0)
		rum_cli_alert_usage(out);
	else if (strcmp(verb, "user") == 0)
		rum_cli_user_usage(out);
	else if (strcmp(verb, "backup") == 0 || strcmp(verb, "restore") == 0)
		rum_cli_backup_usage(out);
	else if (strcmp(verb, "upstream") == 0)
		rum_cli_upstream_usage(out);
	else if (strcmp(verb, "sync") == 0)
		rum_cli_sync_usage(out);
	else if (strcmp(verb, "target") == 0)
		fprintf(out,
			"Usage: rumd target add [--tenant NAME] --host H [--port 830|443] "
			"[--protocol netconf|restconf|restapi]\n"
			"         --username U (--password-file FILE | --key SSH_PRIVATE_KEY_FILE)\n"
			"         [--interval 24h | --on-demand] (--known-host-key KEY | "
			"--trust-on-first-use)\n"
			"         [--path-prefix bootflash:] [--transfer scp|http] [--rest-raw] "
			"[--plain-http]\n"
			"       rumd target list [--tenant NAME]\n"
			"       rumd target show ID | rumd target remove ID\n\n"
			"A pull target is a device rumd collects from over NETCONF/SSH, RESTCONF "
			"or the\ndevice REST API. KEY is \"TYPE BASE64\" of the SSH host key (as "
			"ssh-keyscan prints\nit) or, for restconf and restapi, the pin "
			"sha256//BASE64 of the device's TLS\npublic key. RESTCONF moves usage "
			"files and ACKs by one-time URLs on rumd\n(collector_public_url): "
			"its transfer is always http. Credentials are sealed with\nAES-256-GCM under "
			"secret_key_file (created on first use; copy it to every node).\n"
			"IDs are pull-target ids (rumd target list). Product instances, however\n"
			"their usage arrives, are `rumd device`.\n");
	else if (strcmp(verb, "collect") == 0)
		fprintf(out,
			"Usage: rumd collect (--target ID | --tenant NAME) [--wait]\n\n"
			"Queues a collection, due now, of one pull target or of every target of "
			"a tenant.\nWithout --wait, a running rumd serve picks them up; with "
			"--wait they run here (or\nwherever a node claimed them first) and one "
			"line per target says what happened;\nthe exit status is 1 when one "
			"failed.\n");
	else if (strcmp(verb, "migrate") == 0)
		fprintf(out, "Usage: rumd migrate [--key=value ...]\n\nApplies pending "
			     "migrations and creates the default tenant; safe to run from several "
			     "nodes at once.\n");
	else if (strcmp(verb, "check-config") == 0)
		fprintf(out, "Usage: rumd check-config [--key=value ...]\n\nValidates every "
			     "setting and prints the effective values with where each came "
			     "from;\nexits 1 naming the first bad setting.\n");
	else if (strcmp(verb, "capture") == 0 || strcmp(verb, "replay") == 0)
		fprintf(out,
			"Usage: rumd capture list [--tenant NAME] [--limit N]\n"
			"       rumd capture show ID\n       rumd replay ID [--tenant NAME]\n\n"
			"rumd keeps device messages it could not classify (and every message "
			"when capture_all\nis on) verbatim. `replay` runs one through the push "
			"endpoint's logic again, now,\nas if the device had sent it (to its "
			"tenant, or to --tenant); the upload is marked\nsource 'replay'.\n");
	else if (strcmp(verb, "prune") == 0)
		fprintf(out,
			"Usage: rumd prune [--tenant NAME] [--dry-run] [--key=value ...]\n\n"
			"Applies the retention settings once, to the end (serve does it every "
			"upkeep round,\nwithin retention_budget_s): the payloads of reports "
			"exported and acknowledged\nmore than retain_acked_reports_days ago, "
			"captures older than retain_captures_days,\nfinished collections older "
			"than retain_collections_days. Prints the count of each;\n--dry-run "
			"only counts. Days 0 (the default) keep a kind for ever.\n");
	else if (strcmp(verb, "export") == 0)
		fprintf(out,
			"Usage: rumd export --tenant NAME [-o FILE|DIR] [--all | --since TIME] "
			"[--device ID ...]\n\nWrites the tenant's usage for CSSM as "
			"UD_SA_<ts>.tar.gz (into DIR, default the current\ndirectory, or as "
			"FILE) and records it as an export batch, so that CSSM's ACK\ncan be "
			"matched to it. Reports taken: by default every report not yet "
			"acknowledged;\n--all every report; --since TIME (ISO-8601, UTC unless "
			"a zone is given) every\nreport received since then; --device ID "
			"(repeatable, or ID,ID,...; rumd device\nids) only those devices. "
			"Conflicting reports (a report id sent again with another\npayload) are "
			"never exported. Nothing to export: says so, writes nothing.\n");
	else if (strcmp(verb, "import") == 0 || strcmp(verb, "ack-file") == 0 ||
		 strcmp(verb, "import-usage") == 0)
		fprintf(out,
			"Usage: rumd import FILE [--tenant NAME] [--device ID ...]\n"
			"       rumd ack-file --device ID -o FILE|-\n"
			"       rumd import-usage FILE --tenant NAME\n\n"
			"import takes what CSSM returns for an export: ACK_UD_SA_<ts>.tar.gz "
			"(nested ACK_\ntarballs of ACK_dev_<device id>_<ts>.txt), a single ACK "
			"file (matched to its\ndevice by the UDI inside or by --device) or a "
			"policy file (for --device IDs or\nevery device of --tenant). Each ACK "
			"is queued for its device's next poll or\nhello, byte-exact, and the "
			"device's reports in that export are marked\nacknowledged. One "
			"transaction: a refused file (unsafe archive, DTD, not a\nsmartLicense "
			"document) changes nothing; an entry for a device rumd cannot use\nis "
			"listed with the reason and skipped. The same file imported again "
			"changes\nnothing.\n\nack-file writes a device's newest ACK (\"-\": "
			"stdout) for `license smart import`.\nimport-usage loads a device's "
			"`license smart save usage` file into a tenant with\nthe push "
			"endpoint's rules (duplicates are recognised, conflicts kept and "
			"alerted).\n");
	else if (strcmp(verb, "tenant") == 0)
		fprintf(out,
			"Usage: rumd tenant add NAME [--smart-account NAME] "
			"[--virtual-account NAME]\n       rumd tenant list\n\nTenant names "
			"are 1 to 128 characters of printable UTF-8 without '/'; devices reach "
			"a tenant at\n/cslu/v1/pi/<name, percent-encoded>.\n");
	else {
		rum_usage(out);
		return;
	}
	if (settings) {
		fputc('\n', out);
		rum_config_print_help(out);
	}
}

/* Verb options that take no value. */
static bool rum_cli_is_flag(const char *name)
{
	return strcmp(name, "all") == 0 || strcmp(name, "dry-run") == 0 ||
	       rum_cli_collector_is_flag(name) || rum_cli_backup_is_flag(name) ||
	       rum_cli_inventory_is_flag(name) || rum_cli_upstream_is_flag(name) ||
	       rum_cli_sync_is_flag(name);
}

static const char *rum_cli_opt_of(const void *cli, const char *name)
{
	return rum_cli_opt(cli, name);
}

/* Splits argv into settings (applied to cfg), verb words and verb options. */
static int rum_cli_parse(struct rum_cli *cli, struct rum_config *cfg, int argc, char **argv)
{
	memset(cli, 0, sizeof(*cli));
	for (int i = 1; i < argc; i++) {
		const char *a = argv[i];
		char name[128];
		const char *value, *eq;
		size_t n;

		if (strcmp(a, "--help") == 0 || strcmp(a, "-h") == 0) {
			cli->help = true;
			continue;
		}
		if (strcmp(a, "--version") == 0) {
			cli->version = true;
			continue;
		}
		if (strcmp(a, "-o") == 0) { /* short for --output */
			if (i + 1 == argc)
				return rum_err_set(RUM_EINVAL, "option -o needs a value");
			if (cli->nopts == RUM_MAX_OPTS)
				return rum_err_set(RUM_EINVAL, "too many options");
			cli->opt_name[cli->nopts] = "output";
			cli->opt_value[cli->nopts++] = argv[++i];
			continue;
		}
		if (strncmp(a, "--", 2) != 0) {
			if (cli->nwords == RUM_MAX_WORDS)
				return rum_err_set(RUM_EINVAL, "too many arguments");
			cli->words[cli->nwords++] = a;
			continue;
		}
		eq = strchr(a, '=');
		n = eq ? (size_t)(eq - a - 2) : strlen(a + 2);
		if (n == 0 || n >= sizeof(name))
			return rum_err_set(RUM_EINVAL, "bad option '%s'", a);
		memcpy(name, a + 2, n);
		name[n] = '\0';
		if (eq) {
			value = eq + 1;
		} else if (rum_cli_is_flag(name)) {
			value = "true";
		} else if (i + 1 < argc && strncmp(argv[i + 1], "--", 2) != 0) {
			value = argv[++i];
		} else {
			return rum_err_set(RUM_EINVAL, "option --%s needs a value", name);
		}
		if (strcmp(name, "config") == 0) {
			cli->config_file = value;
		} else if (rum_config_is_key(name)) {
			int rc = rum_config_set(cfg, name, value, RUM_CFG_FLAG);

			if (rc != 0)
				return rc;
		} else {
			if (cli->nopts == RUM_MAX_OPTS)
				return rum_err_set(RUM_EINVAL, "too many options");
			cli->opt_name[cli->nopts] = a + 2;
			cli->opt_value[cli->nopts++] = value;
			((char *)a)[2 + n] = '\0'; /* name ends at '=' */
		}
	}
	return 0;
}

/* Settings in their order of precedence: flags, environment, the --config
 * file, defaults; then database_url_file is read. Also what a reload does:
 * the same flags and environment, the config file read again. */
static int rum_settings_load(struct rum_config *cfg, struct rum_cli *cli, int argc, char **argv)
{
	int rc = rum_cli_parse(cli, cfg, argc, argv);

	if (rc == 0 && cli->config_file)
		rc = rum_config_load_file(cfg, cli->config_file);
	if (rc == 0)
		rc = rum_config_load_env(cfg);
	if (rc == 0)
		rc = rum_config_resolve(cfg);
	return rc;
}

/* Only the options a verb knows are accepted. */
static int rum_cli_check_opts(const struct rum_cli *cli, const char *const *known)
{
	for (int i = 0; i < cli->nopts; i++) {
		bool ok = false;

		for (const char *const *k = known; k && *k; k++)
			ok = ok || strcmp(*k, cli->opt_name[i]) == 0;
		if (!ok)
			return rum_err_set(RUM_EINVAL, "unknown option --%s (see --help)",
					   cli->opt_name[i]);
	}
	return 0;
}

/* The database URL to use: the configured one, or the embedded cluster
 * (started, or reused when running) under data_dir. */
static int rum_database(const struct rum_config *cfg, char **url, struct rum_pgembed **pg, bool own)
{
	*pg = NULL;
	if (cfg->database_url[0]) {
		*url = strdup(cfg->database_url);
		if (!*url)
			abort();
		return 0;
	}
	return rum_pgembed_start(pg, url, cfg->data_dir, cfg->pg_bindir, (int)cfg->db_timeout_ms,
				 own);
}

/* Call connections: a server answers admin requests and runs collections
 * beside device batches; a CLI verb needs few. */
#define RUM_SERVE_CALL_WORKERS 4
#define RUM_CLI_CALL_WORKERS 2

/* Opens the domain on the configured database (or the embedded cluster,
 * started or reused) and brings its schema up to date, waiting up to
 * wait_s seconds for the database (a node booting with its database). */
/* serve blocks its stop signals (sigwait takes them later): one already
 * sent is pending, and ends the wait for the database. */
static bool rum_serve_stop_pending(void)
{
	sigset_t pending;

	return sigpending(&pending) == 0 &&
	       (sigismember(&pending, SIGTERM) == 1 || sigismember(&pending, SIGINT) == 1);
}

/* workers: database connections of a command-line verb that works on
 * several threads (sync); 0 = one, as every other verb. */
static int rum_domain_start(const struct rum_config *cfg, bool serve, int wait_s, bool verbose,
			    int workers, struct rum_pgembed **pg, struct rum_domain **dom)
{
	char *url = NULL, key_file[4096];
	int applied = 0, rc = rum_database(cfg, &url, pg, serve);
	struct rum_domain_options o = {
		url, (int)cfg->db_timeout_ms, (int)cfg->db_statement_timeout_ms,
		serve         ? rum_config_pool_size(cfg)
		: workers > 0 ? workers
			      : 1,
		serve                            ? RUM_SERVE_CALL_WORKERS
		: workers > RUM_CLI_CALL_WORKERS ? workers
						 : RUM_CLI_CALL_WORKERS,
		serve ? (int)cfg->batch_max : 64, serve ? (int)cfg->db_queue_max : 1024,
		cfg->data_dir, key_file, cfg->default_tenant, (int)cfg->web_session_idle_s,
		(int)cfg->web_session_max_s, cfg->overview_live_max_devices,
		/* Three upkeep rounds: a slow round or two
		 * do not send every request to a live count. */
		(int)(3 * cfg->upkeep_interval_s), cfg->import_max_file_bytes,
		cfg->import_max_entry_bytes, cfg->import_max_total_bytes, cfg->import_max_entries,
		cfg->import_max_xml_nodes};

	*dom = NULL;
	rum_cli_key_file(cfg, key_file, sizeof(key_file));
	if (rc == 0)
		rc = rum_domain_open(dom, &o);
	free(url);
	if (rc == 0) {
		struct rum_progress *p = rum_progress_start("bringing the schema up to date", NULL,
							    NULL, 0);

		rc = rum_domain_migrate(*dom, wait_s, &applied,
					serve ? rum_serve_stop_pending : NULL);
		rum_progress_end(p, rc == 0);
	}
	if (rc == 0)
		rum_log(verbose || applied ? RUM_LOG_INFO : RUM_LOG_DEBUG,
			"schema at version %d (%d migration%s applied)",
			rum_domain_schema_version(), applied, applied == 1 ? "" : "s");
	return rc;
}

static unsigned rum_serve_in_flight(struct rum_http_server *a, struct rum_http_server *b)
{
	return rum_http_in_flight(a) + rum_http_in_flight(b);
}

/* The device and admin listeners (http_listen, https_listen). */
static struct rum_http_options rum_serve_device_listener(const struct rum_config *cfg,
							 const char *listen, const char *cert,
							 const char *key, struct rum_api *api,
							 struct rum_http_budget *budget)
{
	return (struct rum_http_options){
		.listen = listen,
		.tls_cert = cert,
		.tls_key = key,
		.max_body_bytes = (size_t)cfg->max_body_bytes,
		.threads = (int)cfg->http_threads,
		.handler = rum_api_dispatch,
		.handler_ctx = api,
		.max_connections = (unsigned)cfg->http_max_connections,
		.budget = budget,
		.log_requests = cfg->log_requests,
		.per_address = (unsigned)cfg->http_max_connections_per_address,
		.header_timeout_s = (int)cfg->http_header_timeout_s,
		.idle_timeout_s = (int)cfg->http_idle_timeout_s,
		.body_min_rate = (size_t)cfg->http_body_min_rate};
}

/* The metrics listener: GET /metrics only, small requests, one thread. */
static int rum_serve_metrics(struct rum_http_server **out, const struct rum_config *cfg,
			     struct rum_api_metrics *metrics)
{
	struct rum_http_options o = {.listen = cfg->metrics_listen,
				     .max_body_bytes = 4096,
				     .threads = 1,
				     .handler = rum_api_metrics_dispatch,
				     .handler_ctx = metrics,
				     .max_connections = 64,
				     .log_requests = cfg->log_requests,
				     .what = "metrics"};

	*out = NULL;
	if (!cfg->metrics_listen[0])
		return 0;
	return rum_http_start(out, &o);
}

static void rum_sleep_ms(long ms)
{
	struct timespec ts = {ms / 1000, (ms % 1000) * 1000000L};

	nanosleep(&ts, NULL);
}

/* Stopping: no new connections; requests in flight get their answers (and
 * their keep-alive connections close) for up to RUM_DRAIN_S seconds. Then
 * the database side closes, which answers whatever is still queued with 503;
 * the HTTP servers stop last, unless a request is still parked on a database
 * call that does not return, in which case the process exits around it. */
#define RUM_DRAIN_S 20

static void rum_serve_drain(struct rum_http_server *http, struct rum_http_server *https,
			    struct rum_api *api, struct rum_domain *dom)
{
	rum_http_quiesce(http);
	rum_http_quiesce(https);
	for (int i = 0; i < RUM_DRAIN_S * 10 && rum_serve_in_flight(http, https) > 0; i++)
		rum_sleep_ms(100);
	if (rum_serve_in_flight(http, https) > 0)
		rum_log_warn("%u requests still in flight after %d s; closing the database side",
			     rum_serve_in_flight(http, https), RUM_DRAIN_S);
	/* Admin work in flight finishes on the domain, queued work gets 503;
	 * then the domain closes. */
	rum_api_admin_close(api);
	rum_domain_close(dom);
	for (int i = 0; i < 50 && rum_http_parked(http) + rum_http_parked(https) > 0; i++)
		rum_sleep_ms(100);
	if (rum_http_parked(http) + rum_http_parked(https) > 0)
		rum_log_warn("requests still parked; exiting without waiting for them");
	rum_http_stop(http);
	rum_http_stop(https);
}

/* data_dir holds exports, imports, the key that seals pull credentials and
 * perhaps the embedded cluster: made (mode 0700) when missing, refused
 * before anything listens when it cannot be. Its parent must exist. */
static int rum_serve_data_dir(const char *dir, bool embedded)
{
	/* Run as root, the embedded cluster runs as an unprivileged user, who
	 * must be able to pass through data_dir to its own directories (which
	 * stay 0700): search permission, nothing listed or read. */
	mode_t mode = embedded && geteuid() == 0 ? 0711 : 0700;
	struct stat st;

	if (!dir[0])
		return 0;
	if (mkdir(dir, mode) == 0) {
		chmod(dir, mode); /* whatever the umask */
		rum_log_info("data_dir %s made (mode %04o)", dir, (unsigned)mode);
		return 0;
	}
	if (errno != EEXIST)
		return rum_err_set(RUM_EIO, "data_dir %s: cannot make it: %s", dir,
				   strerror(errno));
	if (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))
		return rum_err_set(RUM_EINVAL, "data_dir %s is not a directory", dir);
	if (access(dir, R_OK | W_OK | X_OK) != 0)
		return rum_err_set(RUM_EIO, "data_dir %s: %s", dir, strerror(errno));
	return 0;
}

/* The retention settings as a policy; budget_ms 0 runs until done. */
static void rum_cli_retention_policy(const struct rum_config *cfg, struct rum_retention_policy *p,
				     int budget_ms)
{
	p->reports_days = (int)cfg->retain_acked_reports_days;
	p->captures_days = (int)cfg->retain_captures_days;
	p->collections_days = (int)cfg->retain_collections_days;
	p->batch = (int)cfg->retention_batch;
	p->budget_ms = budget_ms;
}

/* What a reload found: the settings it applied and those that wait for a
 * restart. */
struct rum_reload {
	const struct rum_config *now, *next;
	char applied[256];
	char ignored[1024];
	bool level_changed;
};

static void rum_reload_append(char *list, size_t size, const char *text)
{
	size_t n = strlen(list);

	snprintf(list + n, size - n, "%s%s", n ? ", " : "", text);
}

static void rum_reload_note(void *arg, const char *key)
{
	struct rum_reload *r = arg;
	char text[128];

	if (strcmp(key, "log_level") == 0) {
		snprintf(text, sizeof(text), "log_level %s -> %s", r->now->log_level,
			 r->next->log_level);
		rum_reload_append(r->applied, sizeof(r->applied), text);
		r->level_changed = true;
	} else {
		rum_reload_append(r->ignored, sizeof(r->ignored), key);
	}
}

/* SIGHUP: the settings are read again as at start (same flags and
 * environment, the config file again) and what can change while serving is
 * applied: log_level. Every other change is named and waits for a restart;
 * settings that do not load or validate change nothing. Values are never
 * logged but log_level's (database_url holds a password). */
static void rum_serve_reload(struct rum_config *cfg, int argc, char **argv)
{
	struct rum_config next;
	struct rum_cli cli;
	struct rum_reload r = {cfg, &next, "", "", false};
	enum rum_log_level level = RUM_LOG_INFO, before = RUM_LOG_INFO;
	int rc;

	rum_config_init(&next);
	rc = rum_settings_load(&next, &cli, argc, argv);
	if (rc == 0)
		rc = rum_config_validate(&next);
	if (rc == 0)
		rc = rum_log_parse_level(&level, next.log_level);
	if (rc != 0) {
		rum_log_error("SIGHUP: settings not reloaded, nothing changed: %s", rum_err_msg());
		rum_err_clear();
		rum_config_dispose(&next);
		return;
	}
	rum_config_each_change(cfg, &next, rum_reload_note, &r);
	/* The line shows at the more talkative of the two levels. */
	if (r.level_changed && rum_log_parse_level(&before, cfg->log_level) == 0 && level < before)
		rum_log_set_level(level);
	if (!r.applied[0] && !r.ignored[0])
		rum_log_info("SIGHUP: settings read again; nothing changed");
	else
		rum_log_info("SIGHUP: settings reloaded; applied: %s; ignored until a restart: %s",
			     r.applied[0] ? r.applied : "none", r.ignored[0] ? r.ignored : "none");
	if (r.level_changed) {
		char *keep = cfg->log_level;

		rum_log_set_level(level);
		cfg->log_level = next.log_level; /* read by no other thread */
		next.log_level = keep;
	}
	rum_config_dispose(&next);
}

static int rum_serve(struct rum_config *cfg, int argc, char **argv)
{
	struct rum_pgembed *pg = NULL;
	struct rum_domain *dom = NULL;
	struct rum_http_server *http = NULL, *https = NULL, *metrics_http = NULL;
	struct rum_api_metrics *metrics = NULL;
	struct rum_api api = {0};
	struct rum_http_budget body_budget = {(size_t)cfg->http_max_body_total, 0};
	struct rum_collect_env collect_env = {0};
	volatile int collect_cancel = 0;
	struct rum_scheduler *sched = NULL;
	struct rum_upkeep *upkeep = NULL;
	struct rum_sync_scheduler *syncs = NULL;
	struct rum_sync_scheduler_options sync_opts = {0};
	char sync_node[128], sync_owner[128], *sync_proxy_password = NULL;
	struct rum_retention_policy retention;
	char node[128];
	sigset_t sigs;
	int rc, sig = 0;

	/* Signals are taken by sigwait() below; every thread inherits the mask. */
	sigemptyset(&sigs);
	sigaddset(&sigs, SIGTERM);
	sigaddset(&sigs, SIGINT);
	sigaddset(&sigs, SIGHUP);
	pthread_sigmask(SIG_BLOCK, &sigs, NULL);

	rc = rum_serve_data_dir(cfg->data_dir, !cfg->database_url[0]);
	if (rc == 0)
		rc = rum_domain_start(cfg, true, 60, true, 0, &pg, &dom);
	if (rc != 0 && rum_serve_stop_pending()) {
		rum_log_info("stopped before the database answered");
		rc = 0;
		goto out;
	}
	if (rc != 0)
		goto out;
	api = (struct rum_api){dom,
			       cfg->default_tenant,
			       cfg->auto_create_tenants,
			       cfg->capture_all,
			       (size_t)cfg->max_reports_per_message,
			       (int)cfg->retry_after_s,
			       NULL};
	rum_api_admin_open(&api);
	if (cfg->http_listen[0]) {
		struct rum_http_options o = rum_serve_device_listener(cfg, cfg->http_listen, NULL,
								      NULL, &api, &body_budget);

		rc = rum_http_start(&http, &o);
		if (rc != 0)
			goto out;
	}
	if (cfg->https_listen[0]) {
		struct rum_http_options o = rum_serve_device_listener(cfg, cfg->https_listen,
								      cfg->tls_cert, cfg->tls_key,
								      &api, &body_budget);

		rc = rum_http_start(&https, &o);
		if (rc != 0)
			goto out;
	}
	metrics = rum_api_metrics_new(&api, (int)cfg->metrics_tenant_cache_s);
	rc = rum_serve_metrics(&metrics_http, cfg, metrics);
	if (rc != 0)
		goto out;
	if (cfg->collector_sessions > 0) {
		rc = rum_cli_collect_env(&collect_env, cfg, dom, node, true);
		collect_env.cancel = &collect_cancel;
		if (rc == 0) {
			struct rum_scheduler_options so = {&collect_env,
							   (int)cfg->collector_sessions,
							   (int)cfg->collector_poll_ms,
							   (int)cfg->collector_retry_base_s,
							   (int)cfg->collector_retry_max_s,
							   (int)cfg->collector_alert_after_s,
							   NULL,
							   0,
							   NULL,
							   NULL};

			rc = rum_scheduler_start(&sched, &so);
		}
		if (rc != 0)
			goto out;
		rum_log_info("collector: node %s runs up to %d collections at once", node,
			     (int)cfg->collector_sessions);
	}
	if (cfg->sync_schedule) {
		rc = rum_cli_sync_options(cfg, &sync_opts.base, sync_node, sync_owner,
					  &sync_proxy_password);
		sync_opts.dom = dom;
		sync_opts.look_ms = (int)cfg->sync_look_ms;
		if (rc == 0)
			rc = rum_sync_scheduler_start(&syncs, &sync_opts);
		if (rc != 0)
			goto out;
	}
	rum_cli_retention_policy(cfg, &retention, (int)cfg->retention_budget_s * 1000);
	rc = rum_upkeep_start(&upkeep, dom, (int)cfg->upkeep_interval_s, (int)cfg->usage_lag_s,
			      &(struct rum_alert_windows){(int)cfg->alert_deadline_warn_days,
							  (int)cfg->alert_ack_pending_days,
							  (int)cfg->alert_silent_days,
							  (int)cfg->alert_capture_days},
			      &retention);
	if (rc != 0)
		goto out;
	rum_log_info("rumd %s ready (default tenant '%s')", RUM_VERSION, cfg->default_tenant);
	for (;;) {
		if (sigwait(&sigs, &sig) != 0)
			continue;
		if (sig != SIGHUP)
			break;
		rum_serve_reload(cfg, argc, argv);
	}
	rum_log_info("signal %d: stopping; finishing requests in flight", sig);
out:
	rum_upkeep_stop(upkeep);
	rum_sync_scheduler_stop(syncs); /* a pass in flight stops at its next step */
	if (sync_proxy_password) {
		rum_crypto_wipe(sync_proxy_password, strlen(sync_proxy_password));
		free(sync_proxy_password);
	}
	rum_scheduler_stop(sched); /* collections in flight end by their own deadlines */
	rum_crypto_wipe(collect_env.key, sizeof(collect_env.key));
	/* The metrics listener answers on its own thread, synchronously, from
	 * the domain: it stops before the domain closes. */
	rum_http_stop(metrics_http);
	rum_api_metrics_free(metrics);
	rum_serve_drain(http, https, &api, dom);
	rum_pgembed_stop(pg);
	if (rc != 0)
		return rc;
	rum_log_info("stopped");
	return 0;
}

static void rum_tenant_print(void *arg, const struct rum_tenant *t)
{
	printf("%s\t%s\t%s\t%s\n", t->name, t->smart_account, t->virtual_account, t->created_at);
}

static void rum_capture_print_row(void *arg, const struct rum_capture *c)
{
	printf("%lld\t%s\t%s\t%s %s\t%s\t%s\t%zu bytes\n", (long long)c->id, c->received_at,
	       c->tenant_name, c->method, c->path, c->address, c->reason, c->body_len);
}

struct rum_capture_query {
	const char *tenant;
	int64_t id, limit;
	bool show;
	struct rum_push *replay; /* set: copy the capture into it */
	char *body, *path, *method, *address, *tenant_name;
};

static void rum_capture_take_row(void *arg, const struct rum_capture *c)
{
	struct rum_capture_query *q = arg;

	if (q->show) {
		printf("id: %lld\nreceived: %s\ntenant: %s\nrequest: %s %s\nfrom: %s\n"
		       "reason: %s\nheaders: %s\n\n",
		       (long long)c->id, c->received_at, c->tenant_name, c->method, c->path,
		       c->address, c->reason, c->headers_json);
		fwrite(c->body, 1, c->body_len, stdout);
		if (c->body_len && c->body[c->body_len - 1] != '\n')
			putchar('\n');
		return;
	}
	q->body = malloc(c->body_len + 1);
	q->path = strdup(c->path);
	q->method = strdup(c->method);
	q->address = strdup(c->address);
	q->tenant_name = strdup(c->tenant_name);
	if (!q->body || !q->path || !q->method || !q->address || !q->tenant_name)
		abort();
	memcpy(q->body, c->body, c->body_len);
	q->body[c->body_len] = '\0';
	q->replay->body_len = c->body_len;
}

static int rum_capture_run(struct rum_domain *dom, struct rum_capture_query *q)
{
	if (q->id > 0)
		return rum_captures_get(dom, q->id, rum_capture_take_row, q);
	printf("ID\tRECEIVED\tTENANT\tREQUEST\tFROM\tREASON\tSIZE\n");
	return rum_captures_list(dom, q->tenant, q->limit, rum_capture_print_row, q);
}

static int rum_cli_id(int64_t *out, const char *text)
{
	if (rum_strict_int64(out, text) != 0 || *out <= 0)
		return rum_err_set(RUM_EINVAL, "'%s' is not a capture id", text);
	return 0;
}

/* rumd replay ID: the captured body through the push domain, synchronously. */
static int rum_replay(const struct rum_config *cfg, struct rum_domain *dom,
		      const struct rum_cli *cli)
{
	struct rum_push p = {0};
	struct rum_capture_query q = {.replay = &p};
	struct rum_push_settings s = {cfg->auto_create_tenants, false,
				      (size_t)cfg->max_reports_per_message};
	const char *tenant = rum_cli_opt(cli, "tenant");
	int rc = rum_cli_id(&q.id, cli->words[1]);

	if (rc == 0)
		rc = rum_capture_run(dom, &q);
	if (rc == 0) {
		p.tenant = tenant ? tenant : q.tenant_name;
		p.sub_path = "";
		p.method = q.method;
		p.path = q.path;
		p.address = q.address;
		p.body = q.body;
		p.source = "replay";
		rc = rum_push_run_once(&p, dom, &s);
	}
	if (rc == 0 && p.rc != 0)
		rc = rum_err_set(p.rc, "%s", p.err);
	if (rc == 0)
		printf("replayed capture %lld as %s to tenant '%s': poll id %lld, reports new %u, "
		       "duplicate %u, conflict %u\n",
		       (long long)q.id, p.msg ? rum_msg_kind_name(p.msg->kind) : "hello", p.tenant,
		       (long long)(p.poll_id > 0 ? p.poll_id : 0), p.n_new, p.n_duplicate,
		       p.n_conflict);
	rum_push_dispose(&p);
	free(q.body);
	free(q.path);
	free(q.method);
	free(q.address);
	free(q.tenant_name);
	return rc;
}

static int rum_capture_verb(const struct rum_config *cfg, struct rum_domain *dom,
			    const struct rum_cli *cli)
{
	struct rum_capture_query q = {.tenant = "", .limit = 50};
	const char *v;
	int rc = 0;

	if (strcmp(cli->words[0], "replay") == 0) {
		if (cli->nwords != 2)
			return rum_err_set(RUM_EINVAL, "usage: rumd replay ID [--tenant NAME]");
		return rum_replay(cfg, dom, cli);
	}
	if (cli->nwords == 3 && strcmp(cli->words[1], "show") == 0) {
		q.show = true;
		rc = rum_cli_id(&q.id, cli->words[2]);
	} else if (cli->nwords == 2 && strcmp(cli->words[1], "list") == 0) {
		if ((v = rum_cli_opt(cli, "tenant")) != NULL)
			q.tenant = v;
		if ((v = rum_cli_opt(cli, "limit")) != NULL &&
		    (rum_strict_int64(&q.limit, v) != 0 || q.limit < 1))
			rc = rum_err_set(RUM_EINVAL, "--limit: '%s' is not a positive number", v);
	} else {
		rc = rum_err_set(RUM_EINVAL, "usage: rumd capture list [--tenant NAME] "
					     "[--limit N] | rumd capture show ID");
	}
	if (rc == 0)
		rc = rum_capture_run(dom, &q);
	return rc;
}

/* Every --device value (repeatable, each ID or ID,ID,...) as rumd device
 * ids, malloc'd into *out (NULL when none). */
static int rum_cli_device_ids(const struct rum_cli *cli, int64_t **out, size_t *n)
{
	int64_t *ids = NULL;
	size_t cap = 0;
	int rc = 0;

	*n = 0;
	for (int i = 0; rc == 0 && i < cli->nopts; i++) {
		const char *v = cli->opt_value[i];

		while (rc == 0 && strcmp(cli->opt_name[i], "device") == 0) {
			size_t len = strcspn(v, ",");
			char id[24];

			if (*n == cap) {
				cap = cap ? cap * 2 : 8;
				ids = realloc(ids, cap * sizeof(*ids));
				if (!ids)
					abort();
			}
			snprintf(id, sizeof(id), "%.*s",
				 (int)(len < sizeof(id) ? len : sizeof(id) - 1), v);
			if (len >= sizeof(id) || rum_strict_int64(&ids[*n], id) != 0 ||
			    ids[*n] <= 0)
				rc = rum_err_set(RUM_EINVAL, "--device: '%.*s' is not a device id",
						 (int)len, v);
			++*n;
			if (v[len] != ',')
				break;
			v += len + 1;
		}
	}
	*out = ids;
	return rc;
}

/* rumd import / ack-file / import-usage: arguments into one call of
 * cli_import.c. */
static int rum_import_verb(const struct rum_config *cfg, struct rum_domain *dom,
			   const struct rum_cli *cli)
{
	const char *verb = cli->words[0], *tenant = rum_cli_opt(cli, "tenant");
	const char *output = rum_cli_opt(cli, "output");
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = rum_cli_device_ids(cli, &ids, &n);

	if (rc != 0)
		goto out;
	if (strcmp(verb, "import") == 0) {
		if (cli->nwords != 2 || output)
			rc = rum_err_set(RUM_EINVAL, "usage: rumd import FILE [--tenant NAME] "
						     "[--device ID ...]");
		else
			rc = rum_cli_import(cfg, dom, cli->words[1], tenant, ids, n);
	} else if (strcmp(verb, "ack-file") == 0) {
		if (cli->nwords != 1 || n != 1 || !output || tenant)
			rc = rum_err_set(RUM_EINVAL, "usage: rumd ack-file --device ID -o FILE|-");
		else
			rc = rum_cli_ack_file(cfg, dom, ids[0], output);
	} else {
		if (cli->nwords != 2 || !tenant || n || output)
			rc = rum_err_set(RUM_EINVAL, "usage: rumd import-usage FILE --tenant NAME");
		else
			rc = rum_cli_import_usage(cfg, dom, cli->words[1], tenant);
	}
out:
	free(ids);
	return rc;
}

/* rumd export: options into a domain call. --device may repeat and may hold
 * a comma-separated list. */
static int rum_export_verb(const struct rum_config *cfg, struct rum_domain *dom,
			   const struct rum_cli *cli)
{
	struct rum_export_options o = {rum_cli_opt(cli, "tenant"),
				       rum_cli_opt(cli, "output"),
				       rum_cli_opt(cli, "all") != NULL,
				       rum_cli_opt(cli, "since"),
				       NULL,
				       0,
				       isatty(STDERR_FILENO) == 1,
				       6};
	struct rum_export_result res;
	int64_t *ids = NULL;
	size_t cap = 0;
	int rc = 0;

	if (!o.tenant || cli->nwords != 1)
		return rum_err_set(RUM_EINVAL, "usage: rumd export --tenant NAME [-o FILE|DIR] "
					       "[--all | --since TIME] [--device ID ...]");
	if (o.all && o.since)
		return rum_err_set(RUM_EINVAL, "--all and --since exclude each other");
	for (int i = 0; rc == 0 && i < cli->nopts; i++) {
		const char *v = cli->opt_value[i];

		while (rc == 0 && strcmp(cli->opt_name[i], "device") == 0) {
			size_t n = strcspn(v, ",");
			char id[24];

			if (o.ndevices == cap) {
				cap = cap ? cap * 2 : 8;
				ids = realloc(ids, cap * sizeof(*ids));
				if (!ids)
					abort();
			}
			snprintf(id, sizeof(id), "%.*s", (int)(n < sizeof(id) ? n : sizeof(id) - 1),
				 v);
			if (n >= sizeof(id) || rum_strict_int64(&ids[o.ndevices], id) != 0 ||
			    ids[o.ndevices] <= 0)
				rc = rum_err_set(RUM_EINVAL, "--device: '%.*s' is not a device id",
						 (int)n, v);
			o.ndevices++;
			if (v[n] != ',')
				break;
			v += n + 1;
		}
	}
	o.devices = ids;
	if (rc == 0)
		rc = rum_export_run(dom, &o, &res);
	if (rc == 0 && res.nothing)
		printf("nothing to export for tenant '%s' (%s); no file written\n", o.tenant,
		       o.all     ? "no reports"
		       : o.since ? "no reports received since then"
				 : "every report is acknowledged");
	else if (rc == 0)
		printf("exported %lld reports of %lld devices to %s (export batch %lld)\n",
		       (long long)res.reports, (long long)res.devices, res.path,
		       (long long)res.batch_id);
	if (rc == 0)
		rum_export_result_dispose(&res);
	free(ids);
	return rc;
}

/* rumd prune [--tenant T] [--dry-run]: what the upkeep's retention does, once
 * and to the end, with the settings' windows. */
static int rum_prune_verb(const struct rum_config *cfg, struct rum_domain *dom,
			  const struct rum_cli *cli)
{
	struct rum_retention_policy p;
	struct rum_retention_result r;
	bool dry = rum_cli_opt(cli, "dry-run") != NULL;
	int rc;

	if (cli->nwords != 1)
		return rum_err_set(RUM_EINVAL, "usage: rumd prune [--tenant NAME] [--dry-run]");
	rum_cli_retention_policy(cfg, &p, 0);
	if (!rum_retention_enabled(&p)) {
		printf("retention is off (retain_acked_reports_days, retain_captures_days and "
		       "retain_collections_days are 0): nothing is pruned\n");
		return 0;
	}
	rc = rum_retention_prune(dom, &p, rum_cli_opt(cli, "tenant"), dry, NULL, &r);
	if (rc != 0)
		return rc;
	if (r.skipped)
		printf("another node is pruning now; run again later\n");
	printf("%s\treports\t%lld\t(payloads of reports acknowledged %d+ days ago%s)\n",
	       dry ? "would prune" : "pruned", (long long)r.reports, p.reports_days,
	       p.reports_days ? "" : ": off");
	printf("%s\tcaptures\t%lld\t(received %d+ days ago%s)\n", dry ? "would prune" : "pruned",
	       (long long)r.captures, p.captures_days, p.captures_days ? "" : ": off");
	printf("%s\tcollections\t%lld\t(finished %d+ days ago%s)\n", dry ? "would prune" : "pruned",
	       (long long)r.collections, p.collections_days, p.collections_days ? "" : ": off");
	if (!dry)
		printf("in %lld ms\n", (long long)r.duration_ms);
	return 0;
}

/* Verbs that only need the database: migrate, tenant, capture, replay, export,
 * import, ack-file, import-usage. */
static int rum_db_verb(const struct rum_config *cfg, const struct rum_cli *cli)
{
	struct rum_pgembed *pg = NULL;
	struct rum_domain *dom = NULL;
	const char *verb = cli->words[0];
	/* A sync's calls in flight each step through the database. */
	int rc = rum_domain_start(cfg, false, 0, strcmp(verb, "migrate") == 0,
				  strcmp(verb, "sync") == 0 ? (int)cfg->sync_concurrency : 0, &pg,
				  &dom);

	if (rc != 0 || strcmp(verb, "migrate") == 0)
		goto out;
	if (strcmp(verb, "capture") == 0 || strcmp(verb, "replay") == 0) {
		rc = rum_capture_verb(cfg, dom, cli);
		goto out;
	}
	if (strcmp(verb, "export") == 0) {
		rc = rum_export_verb(cfg, dom, cli);
		goto out;
	}
	if (strcmp(verb, "prune") == 0) {
		rc = rum_prune_verb(cfg, dom, cli);
		goto out;
	}
	if (strcmp(verb, "target") == 0 || strcmp(verb, "collect") == 0) {
		rc = rum_cli_collector(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "upstream") == 0) {
		rc = rum_cli_upstream(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "sync") == 0) {
		rc = rum_cli_sync(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "device") == 0 || strcmp(verb, "report") == 0) {
		rc = rum_cli_inventory(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "usage") == 0) {
		rc = rum_cli_usage(cfg, dom, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "user") == 0) {
		rc = rum_cli_user(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "alert") == 0) {
		rc = rum_cli_alert(cfg, dom, cli->words, cli->nwords, rum_cli_opt_of, cli);
		goto out;
	}
	if (strcmp(verb, "token") == 0) {
		rc = rum_cli_token(cfg, dom, cli->words, cli->nwords, rum_cli_opt(cli, "role"),
				   rum_cli_opt(cli, "tenant"), rum_cli_opt(cli, "description"));
		goto out;
	}
	if (strcmp(verb, "import") == 0 || strcmp(verb, "ack-file") == 0 ||
	    strcmp(verb, "import-usage") == 0) {
		rc = rum_import_verb(cfg, dom, cli);
		goto out;
	}
	if (cli->nwords >= 2 && strcmp(cli->words[1], "add") == 0 && cli->nwords == 3) {
		const char *sa = rum_cli_opt(cli, "smart-account");
		const char *va = rum_cli_opt(cli, "virtual-account");
		int64_t id = 0;

		rc = rum_tenants_create(dom, cli->words[2], sa, va, &id);
		if (rc == 0)
			printf("tenant '%s' created (id %lld); devices report to "
			       "/cslu/v1/pi/<percent-encoded name>\n",
			       cli->words[2], (long long)id);
	} else if (cli->nwords == 2 && strcmp(cli->words[1], "list") == 0) {
		printf("NAME\tSMART_ACCOUNT\tVIRTUAL_ACCOUNT\tCREATED\n");
		rc = rum_tenants_list(dom, rum_tenant_print, NULL);
	} else {
		rc = rum_err_set(RUM_EINVAL, "usage: rumd tenant add NAME [--smart-account NAME] "
					     "[--virtual-account NAME] | rumd tenant list");
	}
out:
	rum_domain_close(dom);
	rum_pgembed_stop(pg);
	return rc;
}

static void rum_route_print(void *arg, const char *method, const char *pattern, const char *role,
			    const char *action, const char *summary)
{
	printf("%s\t%s\t%s\t%s\t%s\n", method, pattern, role[0] ? role : "-",
	       action[0] ? action : "-", summary);
}

int main(int argc, char **argv)
{
	static const char *const tenant_opts[] = {"smart-account", "virtual-account", NULL};
	static const char *const capture_opts[] = {"tenant", "limit", NULL};
	static const char *const export_opts[] = {"tenant", "output", "all",
						  "since",  "device", NULL};
	static const char *const import_opts[] = {"tenant", "device", "output", NULL};
	static const char *const token_opts[] = {"role", "tenant", "description", NULL};
	static const char *const prune_opts[] = {"tenant", "dry-run", NULL};
	struct rum_config cfg;
	struct rum_cli cli;
	enum rum_log_level level;
	enum rum_log_format format;
	const char *verb;
	int rc;

	signal(SIGPIPE, SIG_IGN);
	rum_xml_init(); /* before any thread parses an ACK, a usage file or a reply */
	rum_config_init(&cfg);
	rc = rum_settings_load(&cfg, &cli, argc, argv);
	verb = cli.nwords ? cli.words[0] : NULL;
	if (cli.version) {
		printf("rumd %s\n", RUM_VERSION);
		goto done;
	}
	if (cli.help || !verb) {
		if (verb)
			rum_verb_usage(verb, stdout);
		else
			rum_usage(cli.help ? stdout : stderr);
		rc = cli.help ? 0 : RUM_EINVAL;
		rum_err_clear();
		goto done;
	}
	if (rc == 0)
		rc = rum_config_validate(&cfg);
	if (rc == 0 && rum_log_parse_level(&level, cfg.log_level) == 0)
		rum_log_set_level(level);
	if (rc == 0 && rum_log_parse_format(&format, cfg.log_format) == 0)
		rum_log_set_format(format);
	if (rc != 0)
		goto done;
	if (strcmp(verb, "routes") == 0 && cli.nwords == 1) {
		rc = rum_cli_check_opts(&cli, NULL);
		if (rc == 0) {
			printf("METHOD\tPATH\tROLE\tAUDIT\tSUMMARY\n");
			rum_api_routes_each(rum_route_print, NULL);
		}
	} else if (strcmp(verb, "check-config") == 0 && cli.nwords == 1) {
		rc = rum_cli_check_opts(&cli, NULL);
		if (rc == 0) {
			rum_config_print(&cfg, stdout);
			printf("# configuration is valid\n");
		}
	} else if (strcmp(verb, "serve") == 0 && cli.nwords == 1) {
		rc = rum_cli_check_opts(&cli, NULL);
		if (rc == 0)
			rc = rum_serve(&cfg, argc, argv);
	} else if (strcmp(verb, "migrate") == 0 && cli.nwords == 1) {
		rc = rum_cli_check_opts(&cli, NULL);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "tenant") == 0) {
		rc = rum_cli_check_opts(&cli, tenant_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "capture") == 0 || strcmp(verb, "replay") == 0) {
		rc = rum_cli_check_opts(&cli, capture_opts);
		if (rc == 0 && cli.nwords >= 2)
			rc = rum_db_verb(&cfg, &cli);
		else if (rc == 0)
			rc = rum_err_set(RUM_EINVAL, "%s needs arguments (see rumd %s --help)",
					 verb, verb);
	} else if (strcmp(verb, "prune") == 0) {
		rc = rum_cli_check_opts(&cli, prune_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "export") == 0) {
		rc = rum_cli_check_opts(&cli, export_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "import") == 0 || strcmp(verb, "ack-file") == 0 ||
		   strcmp(verb, "import-usage") == 0) {
		rc = rum_cli_check_opts(&cli, import_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "user") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_user_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "alert") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_alert_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "usage") == 0 && cli.nwords == 1) {
		rc = rum_cli_check_opts(&cli, rum_cli_usage_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "target") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_target_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "upstream") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_upstream_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "sync") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_sync_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "device") == 0 || strcmp(verb, "report") == 0) {
		rc = rum_cli_check_opts(&cli, strcmp(verb, "device") == 0 ? rum_cli_device_opts
									  : rum_cli_report_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "collect") == 0) {
		rc = rum_cli_check_opts(&cli, rum_cli_collect_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else if (strcmp(verb, "backup") == 0 || strcmp(verb, "restore") == 0) {
		rc = rum_cli_check_opts(&cli, strcmp(verb, "backup") == 0 ? rum_cli_backup_opts
									  : rum_cli_restore_opts);
		if (rc == 0)
			rc = rum_cli_backup(&cfg, cli.words, cli.nwords, rum_cli_opt_of, &cli);
	} else if (strcmp(verb, "token") == 0) {
		rc = rum_cli_check_opts(&cli, token_opts);
		if (rc == 0)
			rc = rum_db_verb(&cfg, &cli);
	} else {
		rc = rum_err_set(RUM_EINVAL, "unknown verb or arguments: '%s' (see rumd --help)",
				 verb);
	}
done:
	if (rc != 0 && rum_err_msg()[0])
		fprintf(stderr, "rumd: %s\n", rum_err_msg());
	rum_config_dispose(&cfg);
	return rc == 0 ? 0 : 1;
}
