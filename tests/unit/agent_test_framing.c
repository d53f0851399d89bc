/* NETCONF framing: both framings, 1-byte feeding, chunks split inside UTF-8,
 * "]]>]]>" inside CDATA under 1.1, mode switch right after the hello, bad
 * headers and the size ceiling. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "lib/err.h"
#include "lib/netconf_framing.h"

/* Feeds stream in pieces of step bytes; collects up to 4 messages. */
static int decode(struct rum_netconf_framing *f, const char *stream, size_t len, size_t step,
		  char **msgs, int max)
{
	int n = 0;
	size_t off = 0;

	while (off < len) {
		size_t piece = len - off < step ? len - off : step, used;
		int rc = rum_netconf_framing_feed(f, stream + off, piece, &used);
		off += used;
		if (rc < 0)
			return rc;
		if (rc == 1) {
			size_t ml;
			if (n < max)
				rum_netconf_framing_take(f, &msgs[n], &ml);
			n++;
		}
	}
	return n;
}

static void test_eom(void)
{
	struct rum_netconf_framing f;
	const char *s = "<hello/>]]>]]>\n<rpc a=\"]]>\"/>]]>]]>";
	char *m[4] = {0};

	for (size_t step = 1; step <= strlen(s); step++) {
		rum_netconf_framing_init(&f, 0);
		CHECK_INT(decode(&f, s, strlen(s), step, m, 4), 2);
		CHECK_STR(m[0], "<hello/>");
		CHECK_STR(m[1], "\n<rpc a=\"]]>\"/>");
		free(m[0]);
		free(m[1]);
		rum_netconf_framing_dispose(&f);
	}
}

static void test_chunked_utf8_cdata(void)
{
	/* "é" is 0xC3 0xA9: the first chunk ends between the two bytes. */
	const char *s = "\n#4\n<a>\xc3\n#23\n\xa9<![CDATA[]]>]]>]]></a>\n##\n";
	struct rum_netconf_framing f;
	char *m[4] = {0};

	for (size_t step = 1; step <= strlen(s); step++) {
		rum_netconf_framing_init(&f, 0);
		rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED);
		CHECK_INT(decode(&f, s, strlen(s), step, m, 4), 1);
		CHECK_STR(m[0], "<a>\xc3\xa9<![CDATA[]]>]]>]]></a>");
		free(m[0]);
		rum_netconf_framing_dispose(&f);
	}
}

/* The hello and the first chunked rpc arrive in one read: the decoder stops
 * after the hello so the caller can switch framing. */
static void test_switch_after_hello(void)
{
	const char *s = "<hello/>]]>]]>\n#5\n<rpc>\n#6\n</rpc>\n##\n";
	struct rum_netconf_framing f;
	size_t used, len;
	char *m;

	rum_netconf_framing_init(&f, 0);
	CHECK_INT(rum_netconf_framing_feed(&f, s, strlen(s), &used), 1);
	CHECK_INT(used, 14);
	CHECK_INT(rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED), RUM_EINVAL);
	rum_netconf_framing_take(&f, &m, &len);
	free(m);
	CHECK_INT(rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED), 0);
	CHECK_INT(rum_netconf_framing_feed(&f, s + used, strlen(s) - used, &used), 1);
	rum_netconf_framing_take(&f, &m, &len);
	CHECK_STR(m, "<rpc></rpc>");
	CHECK_INT(len, 11);
	free(m);
	rum_netconf_framing_dispose(&f);
}

static void test_bad_input(void)
{
	static const char *bad[] = {"#5\n<rpc>", "\n#0\n",           "\n#05\nabcde", "\n#x\n",
				    "\n##\n",    "\n#99999999999\n", "\n#5 \n"};
	struct rum_netconf_framing f;
	size_t used;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rum_netconf_framing_init(&f, 0);
		rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED);
		CHECK_INT(rum_netconf_framing_feed(&f, bad[i], strlen(bad[i]), &used), RUM_EINVAL);
		/* a failed stream stays failed */
		CHECK_INT(rum_netconf_framing_feed(&f, "\n##\n", 4, &used), RUM_EINVAL);
		rum_netconf_framing_dispose(&f);
	}
	rum_netconf_framing_init(&f, 8);
	CHECK_INT(rum_netconf_framing_feed(&f, "0123456789]]>]]>", 16, &used), RUM_ETOOBIG);
	rum_netconf_framing_dispose(&f);
	rum_netconf_framing_init(&f, 8);
	rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED);
	CHECK_INT(rum_netconf_framing_feed(&f, "\n#6\nabcdef\n#6\nabcdef", 20, &used), RUM_ETOOBIG);
	rum_netconf_framing_dispose(&f);
}

static void test_encode_roundtrip(void)
{
	const char *msg = "<rpc-reply message-id=\"1\"><ok/></rpc-reply>";
	struct rum_netconf_framing f;
	char *out, *m;
	size_t len, used, ml;

	CHECK_INT(rum_netconf_framing_encode(&out, &len, RUM_NETCONF_FRAMING_CHUNKED, msg,
					     strlen(msg)),
		  0);
	CHECK(strncmp(out, "\n#43\n", 5) == 0);
	CHECK(memcmp(out + len - 4, "\n##\n", 4) == 0);
	rum_netconf_framing_init(&f, 0);
	rum_netconf_framing_set_mode(&f, RUM_NETCONF_FRAMING_CHUNKED);
	CHECK_INT(rum_netconf_framing_feed(&f, out, len, &used), 1);
	CHECK_INT(used, len);
	rum_netconf_framing_take(&f, &m, &ml);
	CHECK_STR(m, msg);
	free(m);
	free(out);
	rum_netconf_framing_dispose(&f);
	CHECK_INT(rum_netconf_framing_encode(&out, &len, RUM_NETCONF_FRAMING_EOM, msg, strlen(msg)),
		  0);
	CHECK(len == strlen(msg) + 6 && strcmp(out + strlen(msg), "]]>]]>") == 0);
	free(out);
	CHECK_INT(rum_netconf_framing_encode(&out, &len, RUM_NETCONF_FRAMING_CHUNKED, "", 0),
		  RUM_EINVAL);
}

int main(void)
{
	test_eom();
	test_chunked_utf8_cdata();
	test_switch_after_hello();
	test_bad_input();
	test_encode_roundtrip();
	return rum_check_result("agent_test_framing");
}
