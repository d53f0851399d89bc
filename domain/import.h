/* Import of what CSSM sends back (PROTOCOL.md 2.3) and of device usage files
 * (2.1), for air-gapped networks.
 *
 * ACK import takes CSSM's nested tarballs (ACK_UD_SA > ACK_UD_VA >
 * ACK_dev_<device id>_<ts>.txt), a single ACK XML file, or a standalone
 * policy file (root smartLicensePolicy). Each device ACK is kept byte-exact
 * in `acks` for delivery, read for display (policy, account, RUM ACK JSON),
 * and the device's reports in the export batch of that <ts> (and any report
 * id its RUM ACK names) are marked acknowledged.
 *
 * What is refused, changing nothing (one transaction): anything that is not
 * safe or not what it claims to be: an archive with links, absolute or ".."
 * names, over the limits, corrupt or truncated; a document that is not
 * well-formed XML, declares a DTD, or is not a smartLicense document; an
 * unknown tenant or --device. An entry that is sound but names no device
 * rumd can use (no such device, another tenant's, not one of --device, no
 * UDI) is reported with its reason and skipped, and the rest is imported;
 * when no entry at all is usable the import fails and changes nothing.
 * Importing the same file with the same scope again changes nothing and
 * says so.
 *
 * Nothing is extracted to disk, and nothing is held whole but one document
 * at a time: the file is streamed, archives inside it are read as they are
 * inflated, and each document is applied (inside the import's transaction)
 * and dropped before the next is read; only what the summary shows of it is
 * kept. An import's memory is thus bounded by the limits of struct
 * rum_import_limits (one document, its node count), not by the file. */
#ifndef RUM_DOMAIN_IMPORT_H
#define RUM_DOMAIN_IMPORT_H

#include "domain/access.h"
#include "domain/domain.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_UDI_TEXT_MAX 128

struct rum_import_limits {
	size_t max_entries;    /* archive entries in all, nested levels included */
	size_t max_entry_size; /* bytes of one document (an ACK or policy file) */
	size_t max_total;      /* bytes inflated in all */
	size_t max_file_size;  /* bytes of the file itself */
	size_t max_xml_nodes;  /* XML nodes of one document */
};
/* 100,000 entries, 4 MiB per document, 1 GiB in all, a 256 MiB file,
 * 10,000 XML nodes per document. */
extern const struct rum_import_limits rum_import_default_limits;

/* The limits the domain was opened with (struct rum_domain_options), the
 * defaults where it was given none. */
void rum_import_limits_get(const struct rum_domain *dom, struct rum_import_limits *out);

/* --- one ACK document, parsed (pure; the fuzz target's entry point) --- */
struct rum_import_ack_id {
	int64_t report_id;
	bool has_udi;
	char pid[RUM_UDI_TEXT_MAX + 1], sn[RUM_UDI_TEXT_MAX + 1];
};

struct rum_import_ack {
	bool policy_file; /* root smartLicensePolicy */
	bool has_policy;
	char *policy_name, *policy_version; /* NULL when absent */
	int reporting_days; /* subscription onGoingReporting, else the first given; -1 */
	/* Reporting requirement in days (firstTimeReport, onGoingReporting,
	 * reportOnMACD): the strictest non-zero value of the perpetual and
	 * subscription classes, 0 when every value given is 0, -1 when none
	 * is given (Cisco's default then applies). */
	int first_days, ongoing_days, change_days;
	bool has_rum_ack;
	char *rum_ack_json; /* the <data> text, NULL when absent */
	bool rum_ack_json_ok;
	struct rum_import_ack_id *ids;
	size_t n_ids;
	bool has_trust, has_auth;
	char *smart_account, *virtual_account; /* NULL when absent */
	bool has_udi; /* a UDI named by the authorization, trust or RUM ACK section */
	char pid[RUM_UDI_TEXT_MAX + 1], sn[RUM_UDI_TEXT_MAX + 1];
};

/* Parses an ACK file or a policy file of at most max_nodes XML nodes (0: no
 * bound). Errors: RUM_EINVAL (not XML, a DTD, not a smartLicense document,
 * no section rumd knows, UDIs that disagree), RUM_ETOOBIG (too many nodes);
 * what names it in the message. Fields read only for display never fail
 * the parse (a RUM ACK whose data is not JSON keeps its text). */
int rum_import_ack_parse(struct rum_import_ack *out, const char *buf, size_t len, const char *what,
			 size_t max_nodes);
void rum_import_ack_dispose(struct rum_import_ack *a);

/* Splits ACK_dev_<device id>_<ts>.txt (also without "ACK_"): false when the
 * name is not one. ts holds at least 40 bytes. */
bool rum_import_ack_name(const char *name, int64_t *device_id, char *ts, size_t ts_size);

/* --- ACK import --- */
struct rum_import_options {
	const char *file;
	const char *tenant;     /* NULL: each device's own tenant */
	const int64_t *devices; /* --device ids (NULL/0: none) */
	size_t ndevices;
	struct rum_import_limits limits;
};

struct rum_import_kept;

/* One device ACK applied. */
struct rum_import_applied {
	int64_t device_id, ack_id, batch_id, reports_acked;
	char udi[2 * 160 + 8]; /* P:<pid>,S:<sn> */
	char *entry;
	bool new_ack;
	/* Display fields (ids and rum_ack_json are not kept: NULL, n_ids still
	 * counts the ids); owned by the result. */
	const struct rum_import_ack *ack;
};

/* One entry that could not be used, and why. */
struct rum_import_skip {
	char *entry, *reason;
};

struct rum_import_result {
	bool already;      /* imported before in the same scope: nothing changed */
	int64_t import_id; /* this import, or the earlier one */
	char already_at[40];
	struct rum_import_applied *applied;
	size_t n_applied;
	struct rum_import_skip *skipped;
	size_t n_skipped;
	int64_t devices, acks_new, reports_acked, policies, trust_codes;
	/* Private: what applied[] shows of each document, which it points into. */
	struct rum_import_kept **kept;
	size_t n_kept;
};

/* Runs one import in one transaction. Errors (nothing changed): RUM_EINVAL
 * or RUM_ETOOBIG (a refused file, message says why), RUM_ENOTFOUND (unknown
 * tenant or --device, or no usable entry), RUM_EIO (reading the file),
 * RUM_EUNAVAIL. */
int rum_import_run(struct rum_domain *dom, const struct rum_import_options *o,
		   struct rum_import_result *res);
void rum_import_result_dispose(struct rum_import_result *res);

/* Imports CSSM's answer (ACK tarball, ACK XML or policy file) held in body
 * into the actor's tenant, all or nothing, for the admin API; audited.
 * file_name, when not NULL, is the base name it is recorded under. res is
 * disposed by the caller with rum_import_result_dispose() when 0 is
 * returned. */
int rum_import_body_by(struct rum_domain *dom, const struct rum_actor *by, const char *body,
		       size_t len, const char *file_name, struct rum_import_result *res);

/* --- usage files --- */
/* Turns a usage file (PROTOCOL 2.1) into the equivalent device message:
 * smartLicenseSystemInfo's JSON object as the envelope and every RUMReport's
 * text, verbatim, as an element of "usage", so that the push domain stores
 * the reports byte-exact with its own dedupe and conflict rules.
 * *out malloc'd (caller frees), *nreports the RUMReport count.
 * Errors: RUM_EINVAL (not XML, a DTD, not a smartLicense usage file, system
 * info that is not a JSON object, no RUMReport), RUM_ETOOBIG. */
int rum_import_usage_message(char **out, size_t *out_len, size_t *nreports, const char *buf,
			     size_t len, const char *what);

/* Reads a file of at most max bytes into memory (malloc'd, NUL-terminated).
 * Errors: RUM_EIO, RUM_ETOOBIG, RUM_EINVAL (not a regular file). */
int rum_import_read_file(char **out, size_t *len, const char *path, size_t max);

#endif
