/* Private to domain/: what a struct rum_domain holds. */
#ifndef RUM_DOMAIN_INTERNAL_H
#define RUM_DOMAIN_INTERNAL_H

#include "domain/domain.h"

#include <stddef.h>
#include <stdint.h>

struct rum_db;

struct rum_domain {
	struct rum_db *db;
	char *url; /* for migrations, which run before any pool connection */
	int timeout_ms;
	char *data_dir;
	char *key_file;
	char *default_tenant;
	int web_session_idle_s, web_session_max_s;
	/* Overviews of tenants with at least this many devices are read from
	 * the upkeep's snapshot while younger than the age (0: always live). */
	int64_t overview_live_max_devices;
	int overview_snapshot_max_age_s;
	/* ACK imports: struct rum_import_limits, defaults filled in. */
	size_t import_max_file, import_max_entry, import_max_total, import_max_entries,
		import_max_xml_nodes;
};

/* Paths the domain builds under data_dir fit in this. */
#define RUM_DOMAIN_PATH_MAX 4096

/* Makes data_dir/<kind>/<tenant_id> (mode 0750, data_dir 0700) unless it
 * exists, its path in out. RUM_EIO, RUM_EINVAL (too long). */
int rum_domain_dir(struct rum_domain *dom, char *out, size_t size, const char *kind,
		   int64_t tenant_id);

/* An ACK document an upstream returned for a device's call (sync.c),
 * stored exactly as an imported one (import.c): queued for the device,
 * recorded as an import (the same document again changes nothing), the
 * device's reports in batch_id acknowledged. Runs in the caller's txn.
 * RUM_EINVAL/RUM_ETOOBIG naming what is wrong with the document. */
struct rum_db_txn;
struct rum_import_received {
	int64_t tenant_id, device_id, batch_id;
	const char *doc;
	size_t len;
	const char *name; /* recorded as the import's file name */
};
int rum_import_ack_received(struct rum_db_txn *txn, const struct rum_domain *dom,
			    const struct rum_import_received *r, int64_t *ack_id,
			    int64_t *reports_acked);

struct rum_store_target;
struct rum_target;

/* A store row as the domain shows it (targets.c); strings point into row. */
void rum_target_view(struct rum_target *out, const struct rum_store_target *row);

#endif
