/* rum-agent device state: identity, entitlements, RUM reports, installed
 * policy, trust code, ACK and push bookkeeping. Kept as one JSON file,
 * DIR/state.json, replaced atomically (temp file, fsync, rename, fsync of the
 * directory), so that a kill -9 at any moment leaves either the old or the
 * new state and never loses or duplicates a report. Concurrent rum-agent
 * processes on one directory serialise through an flock on DIR/lock. */
#ifndef RUM_AGENT_STATE_H
#define RUM_AGENT_STATE_H

#include <stddef.h>
#include <stdint.h>

#define RUM_AGENT_MAX_ENT 64        /* entitlements per device */
#define RUM_AGENT_MAX_REPORTS 10000 /* reports kept; oldest acknowledged pruned */
#define RUM_AGENT_STR 256           /* ceiling on identity strings */

enum rum_agent_report_state {
	RUM_AGENT_REPORT_OPEN = 0, /* collecting usage */
	RUM_AGENT_REPORT_CLOSED,   /* signed, not yet reported */
	RUM_AGENT_REPORT_UNACK,    /* reported (pushed or saved), ACK awaited */
	RUM_AGENT_REPORT_ACK       /* acknowledged by an imported RUM ACK */
};

struct rum_agent_entitlement {
	char tag[RUM_AGENT_STR];
	uint32_t count;
};

struct rum_agent_report {
	uint64_t id;
	char tag[RUM_AGENT_STR];
	enum rum_agent_report_state state;
	int64_t start, end; /* epoch seconds; end = 0 while open */
	uint32_t count;
	char *doc; /* closed reports: the signed report object, JSON text; else NULL */
};

/* Reporting attributes of one license class, in days. */
struct rum_agent_policy_attrs {
	uint32_t first, ongoing, macd;
};

enum {
	RUM_AGENT_POL_PERPETUAL = 0,
	RUM_AGENT_POL_SUBSCRIPTION,
	RUM_AGENT_POL_ENFORCED,
	RUM_AGENT_POL_EXPORT,
	RUM_AGENT_POL_N
};

struct rum_agent_policy {
	int installed; /* 0: Cisco default */
	char name[RUM_AGENT_STR];
	uint32_t version;
	int ack_required;
	int64_t install_time;
	struct rum_agent_policy_attrs attrs[RUM_AGENT_POL_N];
};

struct rum_agent_state {
	char dir[1024];
	/* identity */
	char pid[64], serial[64], hostname[64];
	char sw_tag[RUM_AGENT_STR], sw_version[32], pi_uuid[40];
	char secret[72]; /* hex HMAC key; never logged */
	char rum_format; /* 'A' or 'B' */
	int64_t created;
	/* configuration */
	char transport[16]; /* "cslu" or "off" */
	char url[512];
	uint32_t interval_days; /* license smart usage interval; 0 = from policy */
	/* usage */
	size_t n_ent;
	struct rum_agent_entitlement ent[RUM_AGENT_MAX_ENT];
	size_t n_rep, cap_rep;
	struct rum_agent_report *rep;
	uint64_t next_report_id;
	/* imports */
	struct rum_agent_policy policy;
	int64_t trust_time; /* 0 = no trust code installed */
	int64_t last_ack_time;
	char smart_account[RUM_AGENT_STR], virtual_account[RUM_AGENT_STR];
	/* push bookkeeping */
	int64_t last_push, next_push_ms, last_file_write; /* next_push_ms: device timers, epoch ms
							   */
	char poll_id[64];                                 /* outstanding poll, "" when none */
	int64_t next_poll_ms;
	int poll_stage; /* polls done for poll_id */
	char last_push_error[256];
};

/* Creates DIR (if needed) and a new device there; fails with RUM_ECONFLICT if
 * DIR already holds one. st must be filled with identity, entitlements and
 * options by the caller; the secret, uuid, software tag (when empty) and
 * report ids are generated here. Opens one report per entitlement. */
int rum_agent_state_create(struct rum_agent_state *st, int64_t now);

/* Loads DIR/state.json into *st (zeroed first). Errors: RUM_ENOTFOUND (no
 * device there), RUM_EINVAL (corrupt file), RUM_EIO. */
int rum_agent_state_load(struct rum_agent_state *st, const char *dir);

/* Writes *st atomically to st->dir. */
int rum_agent_state_save(const struct rum_agent_state *st);

/* Frees the reports held by *st. */
void rum_agent_state_dispose(struct rum_agent_state *st);

/* Takes the directory lock (blocking); *fd_out receives the lock handle to
 * pass to rum_agent_state_unlock. */
int rum_agent_state_lock(const char *dir, int *fd_out);
void rum_agent_state_unlock(int fd);

/* Closes every open report at now (signing it) and opens a fresh one per
 * entitlement with a count above zero. Returns the number closed. */
int rum_agent_state_close_open(struct rum_agent_state *st, int64_t now, const char *reason);

/* Sets TAG's count (adding the entitlement if new): closes its open report
 * and opens a new one from now. count 0 removes usage (no new report). */
int rum_agent_state_set_usage(struct rum_agent_state *st, const char *tag, uint32_t count,
			      int64_t now);

/* Parses "TAG=COUNT" into tag (size RUM_AGENT_STR) and count. */
int rum_agent_parse_usage_arg(char *tag, uint32_t *count, const char *arg);

/* Reporting push interval in days: the configured one, else the policy's
 * smallest non-zero ongoing reporting requirement, else 30. */
uint32_t rum_agent_state_interval_days(const struct rum_agent_state *st);

/* Policy values a device applies with no policy installed (Cisco default). */
void rum_agent_policy_default(struct rum_agent_policy *p);

/* "P:PID,S:SN" */
void rum_agent_state_udi_key(const struct rum_agent_state *st, char *buf, size_t size);

const char *rum_agent_report_state_name(enum rum_agent_report_state s);

/* Short license name from an entitlement tag ("regid...com.cisco.NAME,1.0_..." -> NAME). */
void rum_agent_short_name(char *buf, size_t size, const char *tag);

/* Atomic file replacement (temp, fsync, rename, fsync dir), for every file the
 * agent writes. */
int rum_agent_write_file_atomic(const char *path, const char *data, size_t len);

/* Reads a whole regular file of at most max bytes into *out (NUL-terminated). */
int rum_agent_read_file(char **out, size_t *out_len, const char *path, size_t max);

#endif
