/* libFuzzer target: what a NETCONF device sends after the framing layer.
 * The same bytes go through the hello, rpc-reply and licensing-state
 * readers (libxml2, no DTD); every kept text must respect its bound and
 * every success must carry what the header promises. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "collector/netconf_xml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void check_text(const char *s)
{
	if (s && strlen(s) > RUM_NETCONF_XML_MAX_TEXT)
		abort();
}

static void fuzz_reply(const char *buf, size_t len)
{
	struct rum_netconf_reply r;

	if (rum_netconf_xml_reply(&r, buf, len) != 0) {
		if (r.message_id || r.error || r.return_code || r.confirmation)
			abort(); /* a failure leaves nothing to free */
		return;
	}
	if ((r.kind == RUM_NETCONF_REPLY_ERROR) != (r.error != NULL))
		abort();
	check_text(r.message_id);
	check_text(r.error);
	check_text(r.return_code);
	check_text(r.confirmation);
	rum_netconf_reply_dispose(&r);
}

static void fuzz_licensing(const char *buf, size_t len)
{
	struct rum_netconf_licensing l;

	if (rum_netconf_xml_licensing(&l, buf, len) != 0) {
		if (l.json || l.usage || l.pid || l.sn)
			abort();
		return;
	}
	if (!l.json || (!l.pid && !l.sn) || l.n_usage > RUM_NETCONF_XML_MAX_USAGE)
		abort();
	check_text(l.pid);
	check_text(l.sn);
	check_text(l.version);
	check_text(l.policy_name);
	check_text(l.trust_time);
	for (size_t i = 0; i < l.n_usage; i++) {
		if (!l.usage[i].tag || !l.usage[i].tag[0] || l.usage[i].count < -1)
			abort();
		check_text(l.usage[i].tag);
		check_text(l.usage[i].name);
	}
	rum_netconf_licensing_dispose(&l);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *buf = (const char *)data;
	struct rum_netconf_hello h;

	if (rum_netconf_xml_hello(&h, buf, size) == 0 && h.session_id < 0)
		abort();
	fuzz_reply(buf, size);
	fuzz_licensing(buf, size);
	return 0;
}
