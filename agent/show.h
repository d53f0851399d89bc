/* `show license ...` renderings of a device state, in the layout IOS-XE
 * prints (field names as on real devices, so that scripts written against a
 * device work against the agent). */
#ifndef RUM_AGENT_SHOW_H
#define RUM_AGENT_SHOW_H

#include <stdint.h>
#include <stdio.h>

#include "agent/state.h"

/* what: "status", "summary", "usage" or "rum"; RUM_EINVAL for others. */
int rum_agent_show(FILE *out, const struct rum_agent_state *st, const char *what);

/* "Nov 03 12:57:01 2020 UTC", or "<none>" for 0. */
void rum_agent_fmt_time(char *buf, size_t size, int64_t t);

/* When the next ACK is due: last ACK (else device creation) + reporting interval. */
int64_t rum_agent_next_ack_deadline(const struct rum_agent_state *st);

#endif
