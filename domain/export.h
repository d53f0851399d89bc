/* Export of a tenant's usage for CSSM (PROTOCOL.md 2.2): UD_SA_<ts>.tar.gz
 * holding manifest.mf and UD_VA_<ts>.tar.gz, which holds one usage file
 * (PROTOCOL.md 2.1) per device, dev_<device id>_<ts>.txt, with every selected
 * report object byte-exact. The reports are recorded as an export batch in
 * the transaction that reads them, so that CSSM's ACK can be matched later.
 *
 * Streaming: reports come from a server-side cursor in chunks of bounded
 * size, in device order, and go straight into the archive; the inner archive
 * is built in an unlinked temporary file in the output directory, and the
 * final file is written under a temporary name there and renamed into place
 * only after the batch committed. Nothing is left behind on failure.
 *
 * Conflict rows (a report id sent again with a different payload) are never
 * exported: the first arrival holds the report id, and CSSM refuses a file
 * holding one report id with two payloads. They stay for the operator, with
 * their alert. */
#ifndef RUM_DOMAIN_EXPORT_H
#define RUM_DOMAIN_EXPORT_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

struct rum_export_options {
	const char *tenant;
	const char *output;     /* a directory (the file is named UD_SA_<ts>.tar.gz in it)
				 * or a file path; NULL = the current directory */
	bool all;               /* every report, acknowledged or not */
	const char *since;      /* ISO-8601: every report received since (acked or not) */
	const int64_t *devices; /* only these rumd device ids (with any of the above) */
	size_t ndevices;
	bool progress; /* devices/reports written, on stderr */
	int level;     /* gzip level of the usage files, 1-9 */
};

struct rum_export_result {
	bool nothing;     /* no report to export: no file, no batch */
	char *path;       /* the file written (malloc'd), NULL when nothing */
	int64_t batch_id; /* export_batches.id */
	int64_t devices, reports;
};

/* Runs one export in one transaction.
 * Errors: RUM_ENOTFOUND (unknown tenant or device), RUM_EINVAL (bad option,
 * output directory missing), RUM_ECONFLICT (the output file exists),
 * RUM_EIO (writing), RUM_EUNAVAIL (database), with the message set; on any
 * error no file and no batch remain. */
int rum_export_run(struct rum_domain *dom, const struct rum_export_options *o,
		   struct rum_export_result *res);
void rum_export_result_dispose(struct rum_export_result *res);

/* --- for the admin API: the tenant is the actor's, checked already --- */

struct rum_export_request {
	bool all;
	const char *since;      /* ISO-8601 or NULL */
	const int64_t *devices; /* NULL/0: every device */
	size_t ndevices;
};

struct rum_export_summary {
	bool nothing; /* nothing to export: no file, no batch */
	int64_t batch_id, devices, reports;
	char file_name[96];
};

/* Writes the tenant's export into data_dir/exports/<tenant id>/; audited. */
int rum_export_by(struct rum_domain *dom, const struct rum_actor *by,
		  const struct rum_export_request *req, struct rum_export_summary *res);

/* Opens the file of the tenant's export batch: *fd (caller closes), *size,
 * *file_name (at least 96 bytes); audited. RUM_ENOTFOUND (no such batch, or
 * its file is not on this server). */
int rum_export_file_by(struct rum_domain *dom, const struct rum_actor *by, int64_t batch_id,
		       int *fd, size_t *size, char *file_name);

/* One export batch and how far CSSM's ACKs came back for it; strings valid
 * during the callback, times ISO-8601 UTC (last_ack_at "" before any ACK). */
struct rum_export_batch_info {
	int64_t id;
	const char *file_name, *selection;
	int64_t devices, reports;
	const char *created_at;
	int64_t devices_acked, reports_acked;
	const char *last_ack_at;
};

/* A page of the tenant's export batches, newest first (limit 1-500, 0 = 20);
 * next_cursor is "" on the last page. RUM_EINVAL for a bad cursor or limit. */
int rum_export_list_by(struct rum_domain *dom, const struct rum_actor *by, const char *cursor,
		       int limit, void (*cb)(void *arg, const struct rum_export_batch_info *b),
		       void *arg, char *next_cursor, size_t next_size);

/* <ts> for `when`: %y%b%d_%H_%M_%S_<ms> in UTC with English month names,
 * e.g. 26Nov28_17_45_10_123. out holds at least 32 bytes. */
void rum_export_format_ts(char *out, size_t size, const struct timespec *when);

/* Writes s[0..len) as the content of a CDATA section that sink has opened:
 * every "]]>" is split across two sections and every CR goes out as a
 * character reference between sections (XML parsers turn a raw CR into LF),
 * so that an XML parser gives back exactly s. sink returns 0 or an error,
 * which is returned. */
int rum_export_write_cdata(int (*sink)(void *ctx, const void *data, size_t len), void *ctx,
			   const char *s, size_t len);

#endif
