/* RUM report generation: the payload (format A or B), its builtin signature
 * (HMAC-SHA256 with the device secret, base64) and the report object
 * {"payload","header","signature"} that devices push and save. */
#ifndef RUM_AGENT_REPORT_H
#define RUM_AGENT_REPORT_H

#include <stddef.h>
#include <stdint.h>

#include "agent/state.h"

/* Closes report r at end (> r->start) and stores its signed report object in
 * r->doc (JSON text, owned by r). The payload string is built once here and
 * never rebuilt, so every later push or save sends the same bytes. */
int rum_agent_report_close(const struct rum_agent_state *st, struct rum_agent_report *r,
			   int64_t end, const char *reason);

/* base64(HMAC-SHA256(key = secret hex string bytes, msg)) into out (size >= 64). */
int rum_agent_report_sign(char *out, size_t size, const char *secret, const char *msg, size_t len);

/* hex(HMAC-SHA256(key, msg)): 64 characters, the same for the same input
 * (the fleet derives its devices' secrets and ids from its seed). */
int rum_agent_derive_hex(char out[65], const char *key, const char *msg);

/* Fresh random hex string of 2*nbytes characters into out. */
int rum_agent_random_hex(char *out, size_t size, size_t nbytes);

/* Reads back the report id and entitlement tag from a closed report's payload,
 * for tests and checks. RUM_EINVAL when the document is malformed. */
int rum_agent_report_inspect(const char *doc, uint64_t *id, char *tag, size_t tag_size);

/* Standard base64 of data into *out (caller frees). */
void rum_agent_base64_encode(char **out, const char *data, size_t len);
#endif
