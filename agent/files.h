/* Offline files: the device usage file (PROTOCOL 2.1, `license smart save
 * usage`) and ACK / policy files from CSSM (2.3, `license smart import`).
 * XML is read through lib/xml.h: no DTD loading, no entity expansion, no
 * network access, and documents that declare a DTD are refused. */
#ifndef RUM_AGENT_FILES_H
#define RUM_AGENT_FILES_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state.h"

#define RUM_AGENT_FILE_MAX (16u * 1024 * 1024) /* ceiling on any imported file */
#define RUM_AGENT_ACK_MAX_IDS 4096

enum rum_agent_save_mode { RUM_AGENT_SAVE_ALL, RUM_AGENT_SAVE_UNREPORTED, RUM_AGENT_SAVE_DAYS };

/* Closes the open reports (current usage is part of every save), selects the
 * reports for mode (ALL: every closed one; UNREPORTED: not yet acknowledged;
 * DAYS: ended within the last days days) and renders a usage file into *out
 * (caller frees). Selected CLOSED reports become UNACK, last_file_write = now.
 * The caller saves the state after the file is safely written. */
int rum_agent_usage_build(char **out, size_t *out_len, struct rum_agent_state *st,
			  enum rum_agent_save_mode mode, uint32_t days, int64_t now);

/* Parses "all", "unreported" or "days" + N from argv-like words. */
int rum_agent_save_mode_parse(enum rum_agent_save_mode *mode, const char *word);

/* What one imported file carries. */
struct rum_agent_ack {
	int has_policy;
	struct rum_agent_policy policy;
	int has_rum_ack;
	size_t n_ids; /* report ids named by the RUM ACK JSON, if any */
	uint64_t ids[RUM_AGENT_ACK_MAX_IDS];
	/* Per id: a hash of the UDI the RUM ACK names beside it, 0 when none.
	 * Report ids are only unique per device, so a named UDI must match. */
	uint64_t id_udi[RUM_AGENT_ACK_MAX_IDS];
	int has_trust;
	int has_auth;
	char auth_udi[RUM_AGENT_STR];
	char smart_account[RUM_AGENT_STR], virtual_account[RUM_AGENT_STR];
};

/* Parses an ACK file (root smartLicense) or a standalone policy file (root
 * smartLicensePolicy). Errors: RUM_EINVAL with a message saying why (not XML,
 * has a DTD, not a smartLicense document, no known section, bad number),
 * RUM_ETOOBIG over RUM_AGENT_FILE_MAX. */
/* The hash id_udi holds for a UDI. */
uint64_t rum_agent_udi_hash(const char *pid, const char *sn);

int rum_agent_ack_parse(struct rum_agent_ack *out, const char *buf, size_t len);

/* Applies a parsed file to st: installs the policy, marks acknowledged
 * reports, records the trust code and the account. Refuses (RUM_EINVAL,
 * changing nothing) an authorization section for another UDI. A one-line
 * account of what changed goes to summary. */
int rum_agent_ack_apply(struct rum_agent_state *st, const struct rum_agent_ack *ack, int64_t now,
			char *summary, size_t summary_size);

/* Parse + apply, for callers holding the file bytes. */
int rum_agent_import_buf(struct rum_agent_state *st, const char *buf, size_t len, int64_t now,
			 char *summary, size_t summary_size);

/* Maps a device file path to a local path: "bootflash:NAME" (also flash:,
 * harddisk:) -> DIR/bootflash/NAME; plain paths are used as given when
 * allow_plain. Refuses ".." components. Returns RUM_ENOTFOUND for URLs
 * (http:, https:), which the caller handles. */
int rum_agent_map_path(char *out, size_t size, const char *dir, const char *path, int allow_plain);

#endif
