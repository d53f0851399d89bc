/* Device messages on the CSLU push endpoint (PROTOCOL.md 1.3, 1.4): one JSON
 * object per request, classified by shape, with every RUM report it carries
 * extracted for storage and indexing.
 *
 * Pure: no I/O, no database, no HTTP. Inputs are bounded by the caller (the
 * body size) and by struct rum_message_limits. */
#ifndef RUM_DOMAIN_MESSAGE_H
#define RUM_DOMAIN_MESSAGE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_UDI_PART_MAX 128 /* bytes of a PID or a serial number, without NUL */

enum rum_msg_kind {
	RUM_MSG_HELLO = 0,     /* anything else, including {} and sudi-only bodies */
	RUM_MSG_USAGE,         /* reports[] / usage[] / a bare RUM report */
	RUM_MSG_POLL,          /* has poll_id */
	RUM_MSG_AUTHORIZATION, /* has licenses[] */
	RUM_MSG_TRUST          /* trust_request(s) but no usage */
};

/* "hello", "usage", "poll", "authorization", "trust". */
const char *rum_msg_kind_name(enum rum_msg_kind kind);

struct rum_udi {
	char pid[RUM_UDI_PART_MAX + 1];
	char sn[RUM_UDI_PART_MAX + 1];
};

/* One RUM report. Strings are NUL-terminated and owned by the message. */
struct rum_report {
	/* The report object exactly as it appeared in the body: a span of the
	 * caller's buffer (valid while that buffer lives), never re-serialised. */
	const char *raw;
	size_t raw_len;
	/* The decoded "payload" string value: the bytes the device signed. */
	char *payload;
	size_t payload_len;
	char format; /* 'A' (meta.report_id) or 'B' (asset_identification.report_id) */
	int64_t report_id;
	struct rum_udi udi;     /* instance.sudi, else signature.sudi, else the envelope's */
				/* (in the reports[] shape the entry's sudi comes before
				 * the envelope's) */
	char *entitlement_tag;  /* meta.entitlement_tag, "" when absent */
	char *software_version; /* meta.software_version, "" when absent */
	char *metric_name;      /* first measurement's metric_name, "" when absent */
	char *last_value;       /* last measurement's value.value, "" when absent */
	int64_t first_start;    /* first measurement start_time (epoch s), -1 when absent */
	int64_t last_end;       /* last measurement end_time (epoch s), -1 when absent */
	/* From the enclosing reports[] entry or the envelope; "" when absent. */
	const char *hostname;
	const char *software_tag;
};

struct rum_message {
	enum rum_msg_kind kind;
	/* False when the shape only matched the hello fallback although the body
	 * has keys rumd does not know: such messages are captured (PROTOCOL 1.6). */
	bool confident;
	/* Trust requests carried: a top-level trust_request object, elements of
	 * trust_requests at the top or in reports[] entries. A usage message
	 * with some is also a pending trust request. */
	size_t n_trust_requests;
	bool has_udi; /* envelope sudi (or first report's entry sudi) */
	struct rum_udi udi;
	char *hostname;       /* "" when absent */
	char *software_tag;   /* "" when absent */
	char *nonce;          /* "" when absent; echoed in replies */
	int64_t timestamp_ms; /* -1 when absent */
	char *poll_id;        /* decimal digits only; set for RUM_MSG_POLL */
	struct rum_report *reports;
	size_t n_reports;
	/* Private to the parser: the strings reports' hostname and software_tag
	 * point to when they come from a reports[] entry. */
	char **owned;
	size_t n_owned;
};

struct rum_message_limits {
	size_t max_reports; /* per message; more is RUM_ETOOBIG */
};

/* Used when limits is NULL or limits->max_reports is 0. */
#define RUM_MESSAGE_MAX_REPORTS_DEFAULT 10000

/* A poll_id has 1 to this many decimal digits. */
#define RUM_POLL_ID_MAX 20

/* Parses and classifies `body` (len bytes, need not be NUL-terminated).
 * On success *out is a new message the caller frees with rum_message_free().
 * Errors: RUM_EINVAL (not JSON, not an object, a report whose payload is not
 * JSON or lacks a report id or a UDI, a poll_id that is not a decimal number),
 * RUM_ETOOBIG (more reports than the limit); the thread's error message names
 * what was wrong (e.g. "reports[0].usage[2]: payload has no report_id"). */
int rum_message_parse(struct rum_message **out, const char *body, size_t len,
		      const struct rum_message_limits *limits);

/* Accepts NULL. */
void rum_message_free(struct rum_message *msg);

/* Parses one RUM payload (the decoded "payload" string) into r's extracted
 * fields (format, report_id, udi from instance.sudi, entitlement_tag,
 * software_version, metric_name, last_value, first_start, last_end). Fields
 * not found stay as the caller initialised them, except that strings become
 * owned "" when absent. Shared with usage-file import.
 * Errors: RUM_EINVAL with the reason. r's strings must be freed with
 * rum_report_dispose(). Its owned strings must be NULL on entry; on error
 * r is left unchanged. report_id is a non-negative JSON integer or a string
 * of decimal digits that fits int64_t. */
int rum_report_parse_payload(struct rum_report *r, const char *payload, size_t len);

/* Frees the strings a report owns (payload and extracted fields). */
void rum_report_dispose(struct rum_report *r);

#endif
