/* libFuzzer target: what a RESTCONF device answers. The same bytes go
 * through the licensing-state, RPC-output and error readers (jansson after
 * a depth-bounded pass); every kept text must respect its bound and every
 * success must carry what the header promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/restconf.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	if (s && strlen(s) > RUM_NETCONF_XML_MAX_TEXT)
		abort();
}

static void fuzz_state(const char *buf, size_t len)
{
	struct rum_netconf_licensing l;

	if (rum_restconf_read_state(&l, buf, len) != 0) {
		if (l.json || l.usage || l.pid || l.sn)
			abort(); /* a failure leaves nothing to free */
		return;
	}
	if (!l.json || (!l.pid && !l.sn) || l.n_usage > RUM_NETCONF_XML_MAX_USAGE)
		abort();
	check_text(l.pid);
	check_text(l.sn);
	check_text(l.version);
	check_text(l.policy_name);
	check_text(l.policy_type);
	check_text(l.trust_time);
	check_text(l.last_ack_time);
	check_text(l.next_report_deadline);
	for (size_t i = 0; i < l.n_usage; i++) {
		if (!l.usage[i].tag || !l.usage[i].tag[0] || l.usage[i].count < -1 ||
		    l.usage[i].count > 4294967295LL)
			abort();
		check_text(l.usage[i].tag);
		check_text(l.usage[i].name);
		check_text(l.usage[i].enforcement_mode);
	}
	rum_netconf_licensing_dispose(&l);
}

static void fuzz_output(const char *buf, size_t len)
{
	struct rum_restconf_output o;

	if (rum_restconf_read_output(&o, buf, len) != 0) {
		if (o.return_code || o.confirmation)
			abort();
		return;
	}
	check_text(o.return_code);
	check_text(o.confirmation);
	rum_restconf_output_dispose(&o);
}

static void fuzz_errors(const char *buf, size_t len)
{
	char msg[512];

	msg[sizeof(msg) - 1] = 'x';
	rum_restconf_read_errors(msg, sizeof(msg) - 1, buf, len);
	if (msg[sizeof(msg) - 1] != 'x' || strlen(msg) >= sizeof(msg) - 1)
		abort(); /* stays within its buffer, terminated */
	for (const char *p = msg; *p; p++)
		if ((unsigned char)*p < 0x20 || (unsigned char)*p == 0x7f)
			abort(); /* one printable line */
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;

	fuzz_state(buf, size);
	fuzz_output(buf, size);
	fuzz_errors(buf, size);
	return 0;
}
