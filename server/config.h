/* rumd settings: one table (name, type, default, bounds, help) drives the
 * config file, the RUMD_<KEY> environment, --key=value flags, --help and
 * `rumd check-config`. Precedence: flag > environment > file > default. */
#ifndef RUM_CONFIG_H
#define RUM_CONFIG_H

#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

struct rum_config {
	char *database_url;   /* libpq URI; "" = embedded cluster under data_dir */
	char *data_dir;       /* embedded cluster and runtime files */
	char *pg_bindir;      /* PostgreSQL server binaries; "" = search */
	char *http_listen;    /* ADDR:PORT, "" = off */
	char *https_listen;   /* ADDR:PORT, "" = off */
	char *tls_cert;       /* PEM file */
	char *tls_key;        /* PEM file */
	char *default_tenant; /* tenant of /cslu/v1/pi */
	bool auto_create_tenants;
	bool capture_all; /* store every device message verbatim */
	int64_t max_body_bytes;
	int64_t max_reports_per_message;
	int64_t db_pool_size;            /* database workers; 0 = rum_config_pool_size() decides */
	int64_t http_threads;            /* libmicrohttpd event-loop threads */
	int64_t batch_max;               /* device messages per write transaction */
	int64_t retry_after_s;           /* Retry-After on 503 */
	int64_t db_timeout_ms;           /* connect timeout */
	int64_t db_statement_timeout_ms; /* statement and lock timeout of workers */
	int64_t db_queue_max;            /* device messages waiting for a worker, at most */
	int64_t http_max_connections;
	int64_t http_max_body_total; /* bytes of request bodies held at once */
	int64_t http_max_connections_per_address;
	int64_t http_header_timeout_s, http_idle_timeout_s; /* request head deadlines */
	int64_t http_body_min_rate;                         /* bytes/s floor of a body */
	char *log_level;
	char *log_format;     /* text | json */
	bool log_requests;    /* an info line per HTTP request */
	char *metrics_listen; /* ADDR:PORT of /metrics, "" = off */
	int64_t metrics_tenant_cache_s;
	char *secret_key_file; /* "" = data_dir/secret.key */
	char *node_name;       /* "" = hostname:pid */
	int64_t collector_sessions;
	int64_t collector_poll_ms;
	int64_t collector_connect_timeout_ms;
	int64_t collector_auth_timeout_ms;
	int64_t collector_rpc_timeout_ms;
	int64_t collector_timeout_ms;
	int64_t netconf_max_reply_bytes;
	int64_t collector_retry_base_s;
	int64_t collector_retry_max_s;
	int64_t collector_alert_after_s;
	char *collector_public_url;
	int64_t file_url_ttl_s;
	/* Connected mode: how upstreams are reached unless one says otherwise. */
	char *upstream_proxy;               /* http(s)://[USER@]HOST:PORT, "" = direct */
	char *upstream_proxy_password_file; /* the proxy user's password, "" = none */
	char *upstream_ca_file;             /* PEM bundle, "" = the system's */
	int64_t sync_concurrency, sync_poll_first_s, sync_poll_every_s, sync_retry_max_s,
		sync_lease_s, sync_alert_after_s;
	bool sync_allow_http;
	bool sync_schedule;
	int64_t sync_look_ms;
	int64_t upkeep_interval_s; /* how often serve keeps aggregates current */
	int64_t usage_lag_s;       /* reports count for usage this long after arrival */
	int64_t alert_deadline_warn_days, alert_ack_pending_days, alert_silent_days,
		alert_capture_days;                    /* alert windows; 0 turns a kind off */
	int64_t web_session_idle_s, web_session_max_s; /* browser sessions */
	int64_t overview_live_max_devices; /* larger tenants: overview from the upkeep */
	int64_t import_max_file_bytes, import_max_entry_bytes, import_max_total_bytes;
	int64_t import_max_entries, import_max_xml_nodes;
	int64_t retain_acked_reports_days, retain_captures_days,
		retain_collections_days; /* retention windows; 0 keeps for ever */
	int64_t retention_batch;         /* rows pruned per transaction */
	int64_t retention_budget_s;      /* pruning per upkeep round, at most */

	/* A file holding database_url ("" = none), and whether database_url
	 * was read from it (rum_config_resolve). */
	char *database_url_file;
	bool database_url_from_file;
};

enum rum_config_source { RUM_CFG_DEFAULT = 0, RUM_CFG_FILE, RUM_CFG_ENV, RUM_CFG_FLAG };

/* Fills cfg with defaults. Strings are owned by cfg (rum_config_dispose). */
void rum_config_init(struct rum_config *cfg);
void rum_config_dispose(struct rum_config *cfg);

/* True when `key` names a setting (dashes count as underscores). */
bool rum_config_is_key(const char *key);

/* Sets one setting from text, validating type and bounds. Errors: RUM_EINVAL
 * naming the key and what was wrong; cfg is unchanged then. */
int rum_config_set(struct rum_config *cfg, const char *key, const char *value,
		   enum rum_config_source source);

/* Reads `key = value` lines (# comments, blank lines). Errors name the file
 * and line; on error nothing from the file is applied. */
int rum_config_load_file(struct rum_config *cfg, const char *path);

/* Applies every RUMD_<KEY> variable found in the environment. */
int rum_config_load_env(struct rum_config *cfg);

/* Reads database_url from database_url_file when that is set: the file
 * must be a regular file no one but its owner may read (or 0640 owned by
 * root), of one line (its newline dropped). Setting both is refused.
 * Errors name the file, never its content. */
int rum_config_resolve(struct rum_config *cfg);

/* Calls fn with the name of every setting whose value differs between a
 * and b, in table order. */
void rum_config_each_change(const struct rum_config *a, const struct rum_config *b,
			    void (*fn)(void *arg, const char *key), void *arg);

/* Cross-setting checks (TLS pair complete, listen addresses parse, ...). */
int rum_config_validate(const struct rum_config *cfg);

/* Prints the effective settings, one `key = value  # source` line each;
 * database_url has its password masked. */
void rum_config_print(const struct rum_config *cfg, FILE *out);

/* The number of database workers to run: db_pool_size, or when it is 0 one
 * per CPU and at least 2. Fewer workers make bigger group commits; measured
 * on 2 cores, 2-3 workers beat 8 by up to half in throughput and p99. */
int rum_config_pool_size(const struct rum_config *cfg);

/* Prints the settings table for --help. */
void rum_config_print_help(FILE *out);

/* Splits "ADDR:PORT" or "[V6]:PORT"; addr gets at most addr_len-1 bytes. */
int rum_config_parse_listen(const char *text, char *addr, size_t addr_len, uint16_t *port);

#endif
