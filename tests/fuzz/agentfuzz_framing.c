/* Fuzz target: the NETCONF framing decoder. The first byte picks the
 * framing and a feed step; the rest is the stream. Every decoded message
 * must re-encode and decode to itself. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "lib/netconf_framing.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static void roundtrip(enum rum_netconf_framing_mode mode, const char *msg, size_t len)
{
	struct rum_netconf_framing f;
	char *enc, *back;
	size_t elen, used, blen;

	if (rum_netconf_framing_encode(&enc, &elen, mode, msg, len) < 0)
		return;
	rum_netconf_framing_init(&f, 1 << 20);
	rum_netconf_framing_set_mode(&f, mode);
	if (rum_netconf_framing_feed(&f, enc, elen, &used) == 1 &&
	    rum_netconf_framing_take(&f, &back, &blen) == 0) {
		/* EOM cannot carry a message containing its own marker */
		if (mode == RUM_NETCONF_FRAMING_CHUNKED &&
		    (blen != len || memcmp(back, msg, len) != 0))
			abort();
		free(back);
	} else if (mode == RUM_NETCONF_FRAMING_CHUNKED) {
		abort();
	}
	free(enc);
	rum_netconf_framing_dispose(&f);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rum_netconf_framing f;
	enum rum_netconf_framing_mode mode;
	size_t step, off = 1;

	if (size < 1)
		return 0;
	mode = (data[0] & 1) ? RUM_NETCONF_FRAMING_CHUNKED : RUM_NETCONF_FRAMING_EOM;
	step = (size_t)(data[0] >> 1) + 1;
	rum_netconf_framing_init(&f, 4096);
	rum_netconf_framing_set_mode(&f, mode);
	while (off < size) {
		size_t n = size - off < step ? size - off : step, used;
		int rc = rum_netconf_framing_feed(&f, (const char *)data + off, n, &used);

		off += used;
		if (rc < 0)
			break;
		if (rc == 1) {
			char *msg;
			size_t len;

			rum_netconf_framing_take(&f, &msg, &len);
			roundtrip(mode, msg, len);
			free(msg);
		}
	}
	rum_netconf_framing_dispose(&f);
	return 0;
}
