/* RESTCONF (RFC 8040) client of the cisco-smart-license model, in the JSON
 * encoding (RFC 7951, application/yang-data+json), on rest_client's HTTPS
 * transport (pinning, timeouts, size caps are its own): reads the
 * licensing state and calls the model's RPCs. The root is /restconf, as on
 * IOS-XE. The readers are pure (bytes in, structs out, no I/O), parse JSON
 * no deeper than RUM_RESTCONF_MAX_DEPTH levels and keep no value longer
 * than RUM_NETCONF_XML_MAX_TEXT bytes (RUM_ETOOBIG, never cut); member
 * names are read in their simple or module-qualified form. */
#ifndef RUM_COLLECTOR_RESTCONF_H
#define RUM_COLLECTOR_RESTCONF_H

#include "collector/netconf_xml.h"
#include "collector/rest_client.h"

#include <stddef.h>

#define RUM_RESTCONF_ROOT "/restconf"
#define RUM_RESTCONF_MEDIA "application/yang-data+json"
#define RUM_RESTCONF_MAX_DEPTH 64

/* Reads the body of GET data/cisco-smart-license:licensing/state
 * ({"cisco-smart-license:state":{...}}; a whole licensing container is read
 * too) into the snapshot NETCONF's reader makes, json included. On error
 * *out holds nothing to dispose. Errors: RUM_EINVAL (not JSON, nested too
 * deep, no licensing state, a leaf of the wrong JSON type, no UDI: neither
 * pid nor sn), RUM_ETOOBIG (a value over RUM_NETCONF_XML_MAX_TEXT, more than
 * RUM_NETCONF_XML_MAX_USAGE usage entries). */
int rum_restconf_read_state(struct rum_netconf_licensing *out, const char *buf, size_t len);

/* An RPC's output leaves (NULL when absent). */
struct rum_restconf_output {
	char *return_code;
	char *confirmation; /* confirmation-codes */
};

/* Reads {"cisco-smart-license:output":{...}}; an empty body (HTTP 204, an
 * output with no leaves) reads as all absent. Errors: RUM_EINVAL (not JSON,
 * not an output object, a leaf that is not a string), RUM_ETOOBIG. */
int rum_restconf_read_output(struct rum_restconf_output *out, const char *buf, size_t len);
void rum_restconf_output_dispose(struct rum_restconf_output *o);

/* Writes to msg (size > 0) what an RFC 8040 error document says: "TAG:
 * MESSAGE" for each error, "; "-joined, cut to fit, control characters
 * quoted. Errors: RUM_EINVAL when body is not such a document (msg then
 * holds the quoted start of the body). */
int rum_restconf_read_errors(char *msg, size_t size, const char *body, size_t len);

/* GET data/cisco-smart-license:licensing/state, read as above. Errors: those
 * of the transport (rest_client.h), RUM_EIO for an HTTP error status (the
 * message quotes the device's RFC 8040 errors), those of the reader. */
int rum_restconf_get_state(struct rum_rest_client *c, struct rum_netconf_licensing *out);

/* POST operations/cisco-smart-license:NAME with the one input file-path
 * (1..127 characters). *out gets the output (a return-code other than
 * success is for the caller to judge). Errors as rum_restconf_get_state,
 * RUM_EINVAL for a path out of bounds. */
int rum_restconf_rpc(struct rum_rest_client *c, const char *name, const char *file_path,
		     struct rum_restconf_output *out);

#endif
