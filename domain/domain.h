/* The domain: what rumd does, named by subject (tenants, devices and their
 * messages, reports, ACKs, exports, imports, pull targets and collections,
 * tokens, the audit log). Every entry point (an HTTP handler, a CLI verb,
 * the collector and its scheduler) calls these modules; only they call db/.
 *
 * A struct rum_domain is what every domain call runs against: the database
 * (one pool, opened once from one URL; nobody else sees the URL) and the
 * places on disk the domain owns. It is opaque above the domain.
 * Knows neither HTTP nor SQL. */
#ifndef RUM_DOMAIN_DOMAIN_H
#define RUM_DOMAIN_DOMAIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_db_work;

struct rum_domain;

struct rum_domain_options {
	const char *database_url;
	int db_timeout_ms;           /* connect timeout */
	int db_statement_timeout_ms; /* device batches: per statement and lock wait */
	int batch_workers;           /* connections committing device messages, >= 1 */
	int call_workers;            /* connections for everything else, >= 1 */
	int batch_max;               /* device messages per transaction */
	int queue_max;               /* device messages waiting, at most */
	const char *data_dir;        /* exports and imports live below it */
	const char *key_file;        /* seals pull-target credentials */
	const char *default_tenant;  /* created by the first migration */
	/* Browser sessions end after this long without a request, and this
	 * long after they began (0: 8 hours, 24 hours). */
	int web_session_idle_s, web_session_max_s;
	/* The overview of a tenant with at least overview_live_max_devices
	 * devices (0: none) is read from the snapshot the upkeep counts each
	 * round while it is younger than overview_snapshot_max_age_s. */
	int64_t overview_live_max_devices;
	int overview_snapshot_max_age_s;
	/* Ceilings of an ACK import (domain/import.h, struct
	 * rum_import_limits); 0: the default. */
	int64_t import_max_file_bytes, import_max_entry_bytes, import_max_total_bytes;
	int64_t import_max_entries, import_max_xml_nodes;
};

/* Opens the domain. Does not need the database to be reachable: its
 * connections are made on demand and again after failures.
 * Errors: RUM_EINVAL (bad options). */
int rum_domain_open(struct rum_domain **out, const struct rum_domain_options *o);

/* Finishes what is queued (answering device messages still waiting with
 * RUM_EUNAVAIL), closes the connections, frees. Accepts NULL. */
void rum_domain_close(struct rum_domain *d);

/* Brings the schema to this binary's version, waiting up to wait_s seconds
 * for the database to come up, or until stop() (may be NULL) says true.
 * *applied: migrations applied now. Errors: RUM_EUNAVAIL, RUM_EINTERNAL (a
 * migration failed, or the schema is newer than this binary). */
int rum_domain_migrate(struct rum_domain *d, int wait_s, int *applied, bool (*stop)(void));

/* The schema version this binary needs. */
int rum_domain_schema_version(void);

/* 0 when url is a database name or libpq connection info (URI or
 * keyword=value), as libpq itself parses it; RUM_EINVAL otherwise, with a
 * message that never quotes it (it may hold a password). */
int rum_domain_database_url_check(const char *url);

/* url for people: its settings as libpq reads them, the password (given
 * anywhere) as ****; nothing of it when it does not parse. */
void rum_domain_database_url_masked(const char *url, char *out, size_t size);

/* Bootstrapping a database before a domain can run on it (the embedded
 * cluster): 0 when `url` answers, RUM_EUNAVAIL if not; and the creation of
 * database `name` through `admin_url` unless it exists. */
int rum_domain_database_ping(const char *url, int timeout_ms);
int rum_domain_database_create(const char *admin_url, const char *name, int timeout_ms);

/* Readiness: done(arg, rc) with 0 when the database answers and its schema
 * is the one this binary needs. `c` must stay alive until done. */
struct rum_domain_ready {
	int version;
	int rc;
	char err[256];
	struct rum_db_work *work;
	void (*done)(struct rum_domain_ready *c, void *arg);
	void *done_arg;
};
void rum_domain_ready_submit(struct rum_domain_ready *c, struct rum_domain *dom,
			     void (*done)(struct rum_domain_ready *c, void *arg), void *arg);

#endif
