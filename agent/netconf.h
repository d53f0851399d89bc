/* NETCONF server (RFC 6241/6242) for the agent's licensing model, on a pair
 * of file descriptors: run by OpenSSH sshd as `Subsystem netconf`.
 * Supports <get> of licensing/state, the rum-save-usage-* RPCs, import-file
 * and <close-session>; everything else gets an rpc-error. */
#ifndef RUM_AGENT_NETCONF_H
#define RUM_AGENT_NETCONF_H

#define RUM_AGENT_NETCONF_MAX_MSG (4u * 1024 * 1024) /* ceiling on one request */
#define RUM_AGENT_LICENSE_NS "http://cisco.com/ns/yang/cisco-smart-license"

/* Serves one session until <close-session>, end of input or a framing
 * error. Offers base:1.1 unless RUM_AGENT_NETCONF_BASE=1.0 is set in the
 * environment (to exercise end-of-message framing end to end). */
int rum_agent_netconf_serve(const char *dir, int in_fd, int out_fd);

/* Renders the <licensing> state subtree of a device (the content of a <get>
 * reply's <data>), for the server and for tests. *out is malloc'd. */
int rum_agent_netconf_state_xml(char **out, const char *dir);

#endif
