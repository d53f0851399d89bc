/* Reading what a NETCONF device sends (PROTOCOL.md 3.1, 3.2): hellos,
 * rpc-replies and the cisco-smart-license state. Pure: bytes in, structs
 * out, no I/O; XML through lib/xml (no DTD, no entities, no
 * network). Tolerates what real devices do: a missing message-id, whitespace
 * around capability URIs, prefixed roots (<nc:hello xmlns:nc=...>), leading
 * junk before the first '<', an rpc-error without error-message, licensing
 * elements in their namespace, in none, or in the base namespace inherited
 * from the reply (elements of other namespaces are not read).
 * Every text kept is bounded (RUM_NETCONF_XML_MAX_TEXT) so that a hostile
 * reply cannot grow a snapshot without limit: a longer value is refused with
 * RUM_ETOOBIG, never cut (a cut value would be stored as the device's);
 * only the human-readable error text is cut. Kept values are trimmed of
 * surrounding whitespace. */
#ifndef RUM_COLLECTOR_NETCONF_XML_H
#define RUM_COLLECTOR_NETCONF_XML_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define RUM_NETCONF_BASE10 "urn:ietf:params:netconf:base:1.0"
#define RUM_NETCONF_BASE11 "urn:ietf:params:netconf:base:1.1"
#define RUM_NETCONF_NS "urn:ietf:params:xml:ns:netconf:base:1.0"
#define RUM_LICENSE_NS "http://cisco.com/ns/yang/cisco-smart-license"
#define RUM_NETCONF_XML_MAX_TEXT 4096   /* one kept leaf value, bytes */
#define RUM_NETCONF_XML_MAX_USAGE 10000 /* usage entries kept in a snapshot */

struct rum_netconf_hello {
	bool base10, base11; /* capabilities advertised */
	bool licensing;      /* the cisco-smart-license module is advertised */
	int64_t session_id;  /* 0 when absent (a device's hello must have one) */
};

/* Parses a device's <hello>. Errors: RUM_EINVAL (not XML, not a hello in the
 * NETCONF namespace, no capabilities, a session-id that is not
 * 1..4294967295), RUM_ETOOBIG. */
int rum_netconf_xml_hello(struct rum_netconf_hello *out, const char *buf, size_t len);

enum rum_netconf_reply_kind {
	RUM_NETCONF_REPLY_OK = 0, /* <ok/> */
	RUM_NETCONF_REPLY_DATA,   /* <data> (a <get> answer) */
	RUM_NETCONF_REPLY_OUTPUT, /* RPC output leaves, such as <return-code> */
	RUM_NETCONF_REPLY_ERROR   /* one or more <rpc-error> */
};

struct rum_netconf_reply {
	enum rum_netconf_reply_kind kind;
	char *message_id;   /* NULL when the device left it out */
	char *error;        /* REPLY_ERROR: "tag: message" of the first error(s), never NULL then;
			       "tag (type error)" without a message; "; "-joined, cut at
			       RUM_NETCONF_XML_MAX_TEXT. rpc-errors of severity warning
			       do not make a reply an error. */
	char *return_code;  /* an output <return-code>, or NULL */
	char *confirmation; /* output <confirmation-codes> text, or NULL */
};

/* Parses an <rpc-reply>. On error *out holds nothing to dispose.
 * Errors: RUM_EINVAL (not XML, not an rpc-reply in the NETCONF namespace),
 * RUM_ETOOBIG (message-id, return-code or confirmation-codes too long). */
int rum_netconf_xml_reply(struct rum_netconf_reply *out, const char *buf, size_t len);
void rum_netconf_reply_dispose(struct rum_netconf_reply *r);

/* The device's licensing state, from the reply to a <get> of
 * licensing/state: what rumd keeps as the device's latest snapshot. */
struct rum_netconf_usage {
	char *tag;              /* entitlement-tag */
	char *name;             /* short-name, may be NULL */
	int64_t count;          /* -1 when absent or not a number in 0..4294967295 */
	char *enforcement_mode; /* may be NULL */
};

struct rum_netconf_licensing {
	char *pid, *sn; /* state-info/udi; NULL when absent */
	char *version;  /* licensing/state/version (agent version), may be NULL */
	char *policy_name, *policy_type;
	bool trust_installed; /* an entry of the trust-code list (one per HA member) has one */
	char *trust_time;     /* that entry's time-installed, may be NULL */
	char *last_ack_time;  /* rum-ack/last-received-time, may be NULL */
	char *next_report_deadline;      /* rum-ack/next-report-deadline, may be NULL */
	struct rum_netconf_usage *usage; /* entries without an entitlement-tag are skipped */
	size_t n_usage;
	size_t n_closed_reports; /* entries in rum-reports-closed-keys */
	char *json;              /* the fields above as one JSON object text (malloc'd) */
};

/* Parses the rpc-reply of a <get> with the licensing/state filter. JSON
 * keys: pid, sn, version, policy{name,type}, trust{installed,time},
 * rum_ack{last_received_time,next_report_deadline},
 * usage[{tag,name,count,enforcement_mode}], closed_reports; absent values
 * are null. On error *out holds nothing to dispose.
 * Errors: RUM_EINVAL (not an rpc-reply with <data>, or an rpc-error: the
 * message quotes it; no licensing state in the data; no UDI: neither pid
 * nor sn), RUM_ETOOBIG (a kept value over RUM_NETCONF_XML_MAX_TEXT, more
 * than RUM_NETCONF_XML_MAX_USAGE usage entries). */
int rum_netconf_xml_licensing(struct rum_netconf_licensing *out, const char *buf, size_t len);
void rum_netconf_licensing_dispose(struct rum_netconf_licensing *l);

/* Sets l->json from the other fields (the keys above), as for a state read
 * another way (RESTCONF). Errors: RUM_EINVAL (text that is not UTF-8). */
int rum_netconf_licensing_render(struct rum_netconf_licensing *l);

/* Appends to *out (a malloc'd NUL-terminated string of *len bytes, may
 * start NULL, then *len is ignored) the XML-escaped form of text (&, <, >,
 * ", '). Returns 0, RUM_ETOOBIG when the result would pass max bytes, or
 * RUM_EINVAL for a control character XML 1.0 cannot carry (all but tab, LF,
 * CR); on error *out and *len are unchanged. For building RPCs with a device
 * path in them. */
int rum_netconf_xml_escape(char **out, size_t *len, const char *text, size_t max);

#endif
