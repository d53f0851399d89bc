/* RESTCONF (RFC 8040) for the agent's licensing model, in the JSON encoding
 * of RFC 7951 (application/yang-data+json): what `rum-agent restconf`
 * answers over the HTTPS server of rest.c. Pure: a request in, a reply
 * out; the device's state through ops.h.
 *
 *   GET  /.well-known/host-meta              the RESTCONF root (RFC 8040 3.1)
 *   GET  /restconf                           the API resource
 *   GET  /restconf/yang-library-version
 *   GET  /restconf/data                      the whole datastore (licensing only)
 *   GET  /restconf/data/cisco-smart-license:licensing[/state]
 *   GET  /restconf/operations                the operations this device has
 *   POST /restconf/operations/cisco-smart-license:NAME   NAME one of
 *        rum-save-usage-all, rum-save-usage-unreported, rum-save-usage-days,
 *        import-file; body {"cisco-smart-license:input":{"file-path":...}},
 *        answered {"cisco-smart-license:output":{"return-code":...}}
 *
 * Errors are RFC 8040 7.1 bodies ({"ietf-restconf:errors":{"error":[...]}})
 * with the status of RFC 8040 7: 400 (malformed or invalid input), 404,
 * 405, 406, 413, 415, 500. The return-code of an RPC that ran is the
 * device's verdict, as over NETCONF (200 with a code other than success). */
#ifndef RUM_AGENT_RESTCONF_H
#define RUM_AGENT_RESTCONF_H

#include <stddef.h>

#define RUM_AGENT_RESTCONF_BODY_MAX (64u * 1024) /* ceiling on one request body */
#define RUM_AGENT_RESTCONF_JSON "application/yang-data+json"

struct rum_agent_restconf_reply {
	unsigned status;
	const char *content_type; /* static */
	char *body;               /* malloc'd, NUL-terminated */
	size_t len;
};

struct rum_agent_restconf_req {
	const char *method, *path; /* path decoded, without the query */
	const char *content_type;  /* NULL when the request has none */
	const char *accept;        /* NULL when the request has none */
	const char *body;          /* NULL or len bytes */
	size_t len;
};

/* Answers one request on the device of state directory dir; *out always
 * holds a reply to send (dispose with rum_agent_restconf_reply_dispose). */
void rum_agent_restconf_handle(struct rum_agent_restconf_reply *out, const char *dir,
			       const struct rum_agent_restconf_req *req);
void rum_agent_restconf_reply_dispose(struct rum_agent_restconf_reply *r);

/* An RFC 8040 error reply: status, error-type, error-tag, error-message. */
void rum_agent_restconf_error(struct rum_agent_restconf_reply *out, unsigned status,
			      const char *type, const char *tag, const char *msg);

/* The licensing container of dir's device as RFC 7951 JSON
 * ({"cisco-smart-license:licensing":{"state":{...}}}), for tests. */
int rum_agent_restconf_state_json(char **out, const char *dir);

#endif
