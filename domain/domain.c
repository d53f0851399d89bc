#include "domain/internal.h"

#include "db/db.h"
#include "db/migrate.h"
#include "db/store_push.h"
#include "lib/err.h"
#include "lib/log.h"

#include <errno.h>
#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

static char *rum_domain_dup(const char *s)
{
	char *d = strdup(s ? s : "");

	if (!d)
		abort();
	return d;
}

int rum_domain_open(struct rum_domain **out, const struct rum_domain_options *o)
{
	struct rum_db_options dbo = {o->database_url, o->batch_workers, o->call_workers,
				     o->batch_max,    o->db_timeout_ms, o->db_statement_timeout_ms,
				     o->queue_max};
	struct rum_domain *d = calloc(1, sizeof(*d));
	int rc;

	if (!d)
		abort();
	rc = rum_db_open(&d->db, &dbo);
	if (rc != 0) {
		free(d);
		return rc;
	}
	d->url = rum_domain_dup(o->database_url);
	d->timeout_ms = o->db_timeout_ms;
	d->data_dir = rum_domain_dup(o->data_dir);
	d->key_file = rum_domain_dup(o->key_file);
	d->default_tenant = rum_domain_dup(o->default_tenant);
	d->web_session_idle_s = o->web_session_idle_s > 0 ? o->web_session_idle_s : 8 * 3600;
	d->web_session_max_s = o->web_session_max_s > 0 ? o->web_session_max_s : 24 * 3600;
	d->overview_live_max_devices = o->overview_live_max_devices;
	d->overview_snapshot_max_age_s = o->overview_snapshot_max_age_s > 0
						 ? o->overview_snapshot_max_age_s
						 : 180;
	d->import_max_file = (size_t)o->import_max_file_bytes;
	d->import_max_entry = (size_t)o->import_max_entry_bytes;
	d->import_max_total = (size_t)o->import_max_total_bytes;
	d->import_max_entries = (size_t)o->import_max_entries;
	d->import_max_xml_nodes = (size_t)o->import_max_xml_nodes;
	*out = d;
	return 0;
}

void rum_domain_close(struct rum_domain *d)
{
	if (!d)
		return;
	rum_db_close(d->db);
	free(d->url);
	free(d->data_dir);
	free(d->key_file);
	free(d->default_tenant);
	free(d);
}

int rum_domain_migrate(struct rum_domain *d, int wait_s, int *applied, bool (*stop)(void))
{
	int rc;

	for (int waited = 0;; waited++) {
		rc = rum_migrate_run(d->url, d->timeout_ms, d->default_tenant, applied);
		if (rc != RUM_EUNAVAIL || waited >= wait_s)
			break;
		if (waited % 10 == 0)
			rum_log_warn("waiting for the database: %s", rum_err_msg());
		/* A stop asked for meanwhile is answered within a tenth of a
		 * second, not after the whole wait. */
		for (int t = 0; t < 10 && !(stop && stop()); t++)
			usleep(100000);
		if (stop && stop())
			return rum_err_set(RUM_EUNAVAIL, "stopped while waiting for the database");
	}
	if (rc == 0)
		rum_db_warm(d->db);
	return rc;
}

int rum_domain_schema_version(void)
{
	return rum_migrate_newest();
}

int rum_domain_database_url_check(const char *url)
{
	return rum_db_url_check(url);
}

void rum_domain_database_url_masked(const char *url, char *out, size_t size)
{
	rum_db_url_masked(url, out, size);
}

int rum_domain_database_ping(const char *url, int timeout_ms)
{
	return rum_db_ping(url, timeout_ms);
}

int rum_domain_database_create(const char *admin_url, const char *name, int timeout_ms)
{
	return rum_db_create_database(admin_url, name, timeout_ms);
}

int rum_domain_dir(struct rum_domain *dom, char *out, size_t size, const char *kind,
		   int64_t tenant_id)
{
	int n;

	snprintf(out, size, "%s/%s", dom->data_dir, kind);
	if (mkdir(dom->data_dir, 0700) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", dom->data_dir, strerror(errno));
	if (mkdir(out, 0750) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", out, strerror(errno));
	n = snprintf(out, size, "%s/%s/%" PRId64, dom->data_dir, kind, tenant_id);
	if (n < 0 || (size_t)n >= size)
		return rum_err_set(RUM_EINVAL, "data_dir is too long");
	if (mkdir(out, 0750) != 0 && errno != EEXIST)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", out, strerror(errno));
	return 0;
}

static int rum_domain_ready_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_domain_ready *c = arg;

	return rum_store_schema_version(txn, &c->version);
}

static void rum_domain_ready_done(void *arg, int rc, const char *errmsg)
{
	struct rum_domain_ready *c = arg;

	free(c->work);
	c->work = NULL;
	c->rc = rc;
	snprintf(c->err, sizeof(c->err), "%s", errmsg);
	if (rc == 0 && c->version != rum_migrate_newest()) {
		c->rc = RUM_ECONFLICT;
		snprintf(c->err, sizeof(c->err), "schema version %d, this rumd needs %d",
			 c->version, rum_migrate_newest());
	}
	c->done(c, c->done_arg);
}

void rum_domain_ready_submit(struct rum_domain_ready *c, struct rum_domain *dom,
			     void (*done)(struct rum_domain_ready *c, void *arg), void *arg)
{
	c->done = done;
	c->done_arg = arg;
	c->work = calloc(1, sizeof(*c->work));
	if (!c->work)
		abort();
	c->work->run = rum_domain_ready_run;
	c->work->done = rum_domain_ready_done;
	c->work->arg = c;
	if (rum_db_submit(dom->db, c->work) != 0)
		rum_domain_ready_done(c, RUM_EUNAVAIL, rum_err_msg());
}
