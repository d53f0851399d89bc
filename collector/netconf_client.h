/* A NETCONF client session (RFC 6241/6242) on an SSH connection: subsystem
 * "netconf", hellos, base:1.0 or base:1.1 framing (lib/netconf_framing),
 * one outstanding RPC at a time, replies matched by order (a missing
 * message-id is tolerated, a different one is an error). Every reply is
 * capped (max_reply) and every wait bounded (rpc_timeout_ms and the caller's
 * deadline). Errors quote what the device sent (first bytes, escaped). */
#ifndef RUM_COLLECTOR_NETCONF_CLIENT_H
#define RUM_COLLECTOR_NETCONF_CLIENT_H

#include "collector/netconf_xml.h"
#include "collector/ssh.h"

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

struct rum_netconf;

struct rum_netconf_options {
	size_t max_reply;    /* one message at most, bytes; 0 = 64 MiB */
	int rpc_timeout_ms;  /* hello exchange and each RPC, at most; <= 0: 60 s */
	int64_t deadline_ms; /* whole session (rum_ssh_now_ms() clock); 0 = none */
	bool base10_only;    /* do not offer base:1.1 */
};

/* Opens the netconf subsystem on ssh, sends our hello, reads the device's,
 * and selects chunked framing when both sides speak base:1.1. The session
 * borrows ssh (which must outlive it).
 * Errors: RUM_EIO (subsystem refused, connection closed), RUM_ETIMEDOUT,
 * RUM_EINVAL (the device's hello is not a hello, or no common base),
 * RUM_ETOOBIG. */
int rum_netconf_open(struct rum_netconf **out, struct rum_ssh *ssh,
		     const struct rum_netconf_options *o);

/* What the device's hello said. */
const struct rum_netconf_hello *rum_netconf_peer(const struct rum_netconf *nc);
/* 11 when chunked framing is in use, 10 otherwise. */
int rum_netconf_base(const struct rum_netconf *nc);

/* Sends <rpc message-id="N" xmlns="...base:1.0">op</rpc> (op: the operation
 * element as XML text) and reads the reply: *reply_text (malloc'd, caller
 * frees; may be NULL to not keep it) and its parse in *reply.
 * An rpc-error reply is returned as success with reply->kind ==
 * RUM_NETCONF_REPLY_ERROR: the caller decides. Errors: RUM_EIO (closed
 * mid-message), RUM_ETIMEDOUT, RUM_EINVAL (bad framing, not an rpc-reply,
 * message-id of another request), RUM_ETOOBIG (over max_reply). After an
 * error the session is unusable, *reply holds nothing (disposing it is
 * harmless) and *reply_text is NULL. */
int rum_netconf_rpc(struct rum_netconf *nc, const char *op, char **reply_text, size_t *reply_len,
		    struct rum_netconf_reply *reply);

/* Sends <close-session/> and waits briefly for <ok/> (best effort: errors
 * are ignored), then frees the session (not the SSH connection). Accepts NULL. */
void rum_netconf_close(struct rum_netconf *nc);

#endif
