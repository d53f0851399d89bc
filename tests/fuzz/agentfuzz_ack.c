/* Fuzz target: the ACK / policy file parser (lib/xml: no DTD, no entities,
 * no network) and its application to a device state in memory. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "agent/files.h"
#include "agent/state.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	static struct rum_agent_ack ack;
	static struct rum_agent_state st;
	static struct rum_agent_report rep[2];
	char summary[256];

	memset(&st, 0, sizeof(st));
	snprintf(st.pid, sizeof(st.pid), "C9300-24P");
	snprintf(st.serial, sizeof(st.serial), "FOC1234X0AB");
	rep[0] = (struct rum_agent_report){.id = 1700000000, .state = RUM_AGENT_REPORT_UNACK};
	rep[1] = (struct rum_agent_report){.id = 1700000001, .state = RUM_AGENT_REPORT_CLOSED};
	st.rep = rep;
	st.n_rep = st.cap_rep = 2;
	if (rum_agent_ack_parse(&ack, (const char *)data, size) == 0)
		rum_agent_ack_apply(&st, &ack, 1700000000, summary, sizeof(summary));
	return 0;
}
