/* NETCONF reply reader: hellos, rpc-replies and licensing state as devices
 * send them (IOS-XE, IOS-XR, rum-agent), and hostile documents. */
#include "check.h"
#include "collector/netconf_xml.h"
#include "lib/err.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#ifndef RUM_TEST_FIXTURES
#error "RUM_TEST_FIXTURES (tests/unit/fixtures) must be defined by the build"
#endif

#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"
#define LIC "http://cisco.com/ns/yang/cisco-smart-license"

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	long n;

	if (!f)
		return NULL;
	if (fseek(f, 0, SEEK_END) == 0 && (n = ftell(f)) >= 0 && fseek(f, 0, SEEK_SET) == 0) {
		buf = malloc((size_t)n + 1);
		if (buf && fread(buf, 1, (size_t)n, f) == (size_t)n) {
			buf[n] = '\0';
			*len = (size_t)n;
		} else {
			free(buf);
			buf = NULL;
		}
	}
	fclose(f);
	return buf;
}

static char *fixture(const char *name, size_t *len)
{
	char path[512];
	char *buf;

	snprintf(path, sizeof(path), "%s/netconf/%s", RUM_TEST_FIXTURES, name);
	buf = read_file(path, len);
	if (!buf) {
		fprintf(stderr, "cannot read fixture %s\n", path);
		rum_check_failures++;
	}
	return buf;
}

static int hello(struct rum_netconf_hello *h, const char *s)
{
	return rum_netconf_xml_hello(h, s, strlen(s));
}

static int reply(struct rum_netconf_reply *r, const char *s)
{
	return rum_netconf_xml_reply(r, s, strlen(s));
}

static int licensing(struct rum_netconf_licensing *l, const char *s)
{
	return rum_netconf_xml_licensing(l, s, strlen(s));
}

/* ---- hellos ---- */

/* IOS-XE: both bases, many capabilities, pretty-printed, one capability
 * wrapped in whitespace (as Cisco's published 17.18.1 list has). */
static const char hello_iosxe[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<hello xmlns=\"" NC "\">\n"
	"  <capabilities>\n"
	"    <capability>urn:ietf:params:netconf:base:1.0</capability>\n"
	"    <capability>urn:ietf:params:netconf:base:1.1</capability>\n"
	"    <capability>urn:ietf:params:netconf:capability:writable-running:1.0</capability>\n"
	"    <capability>urn:ietf:params:netconf:capability:with-defaults:1.0?basic-mode=explicit"
	"&amp;also-supported=report-all-tagged,report-all</capability>\n"
	"    <capability>http://cisco.com/ns/yang/cisco-semver?module=cisco-semver&amp;"
	"revision=2019-03-20</capability>\n"
	"    <capability>\n        http://cisco.com/ns/yang/cisco-smart-license?module=cisco-"
	"smart-license&amp;revision=2021-03-01\n      </capability>\n"
	"    <capability>http://cisco.com/ns/yang/cisco-smart-license-errors?module=cisco-smart-"
	"license-errors&amp;revision=2019-11-01</capability>\n"
	"  </capabilities>\n"
	"  <session-id>2147</session-id>\n"
	"</hello>\n";

/* IOS-XR: base:1.1 only; no cisco-smart-license. */
static const char hello_iosxr[] =
	"<hello xmlns=\"" NC "\">\n"
	" <capabilities>\n"
	"  <capability>urn:ietf:params:netconf:base:1.1</capability>\n"
	"  <capability>urn:ietf:params:netconf:capability:candidate:1.0</capability>\n"
	"  <capability>urn:ietf:params:netconf:capability:confirmed-commit:1.1</capability>\n"
	"  <capability>http://cisco.com/ns/yang/Cisco-IOS-XR-infra-smartlicense-oper?module=Cisco-"
	"IOS-XR-infra-smartlicense-oper&amp;revision=2019-04-05</capability>\n"
	"  <capability>http://cisco.com/ns/yang/cisco-smart-license-errors?module=x</capability>\n"
	" </capabilities>\n"
	" <session-id>1183285149</session-id>\n"
	"</hello>";

static void test_hello_devices(void)
{
	struct rum_netconf_hello h;

	CHECK_INT(hello(&h, hello_iosxe), 0);
	CHECK(h.base10 && h.base11 && h.licensing);
	CHECK_INT(h.session_id, 2147);
	CHECK_INT(hello(&h, hello_iosxr), 0);
	CHECK(!h.base10 && h.base11 && !h.licensing);
	CHECK_INT(h.session_id, 1183285149);
}

static void test_hello_tolerated(void)
{
	struct rum_netconf_hello h;
	size_t len;
	char *buf;

	/* A prefixed root and prefixed children. */
	CHECK_INT(hello(&h, "<nc:hello xmlns:nc=\"" NC "\"><nc:capabilities><nc:capability>"
			    "urn:ietf:params:netconf:base:1.0</nc:capability></nc:capabilities>"
			    "<nc:session-id>7</nc:session-id></nc:hello>"),
		  0);
	CHECK(h.base10 && !h.base11 && !h.licensing);
	CHECK_INT(h.session_id, 7);
	/* A prefixed root and children in no namespace. */
	CHECK_INT(hello(&h,
			"<nc:hello xmlns:nc=\"" NC "\"><capabilities><capability>"
			"urn:ietf:params:netconf:base:1.1</capability></capabilities></nc:hello>"),
		  0);
	CHECK(h.base11 && !h.base10);
	CHECK_INT(h.session_id, 0);
	/* Junk before the first '<': a stray newline, a banner fragment. */
	CHECK_INT(hello(&h, "\r\n\nWelcome to sw1\r\n<?xml version=\"1.0\"?><hello xmlns=\"" NC
			    "\"><capabilities><capability> urn:ietf:params:netconf:base:1.0\t"
			    "</capability><capability>" LIC "</capability></capabilities></hello>"),
		  0);
	CHECK(h.base10 && h.licensing);
	/* rum-agent's own hello, saved from a session. */
	buf = fixture("hello-rum-agent.xml", &len);
	if (buf) {
		CHECK_INT(rum_netconf_xml_hello(&h, buf, len), 0);
		CHECK(h.base10 && h.base11 && h.licensing && h.session_id > 0);
	}
	free(buf);
}

static void test_hello_refused(void)
{
	static const char *bad[] = {
		"",
		"   \n",
		"no markup at all",
		"<hello><capabilities><capability>urn:ietf:params:netconf:base:1.0</capability>"
		"</capabilities></hello>", /* no namespace */
		"<hello xmlns=\"urn:example\"><capabilities><capability>urn:ietf:params:netconf:"
		"base:1.0</capability></capabilities></hello>",  /* another namespace */
		"<rpc-reply xmlns=\"" NC "\"><ok/></rpc-reply>", /* not a hello */
		"<hello xmlns=\"" NC "\"><session-id>1</session-id></hello>",
		"<hello xmlns=\"" NC "\"><capabilities/></hello>",
		"<hello xmlns=\"" NC "\"><capabilities><capability>urn:ietf:params:netconf:base:1.0"
		"</capability></capabilities><session-id>x1</session-id></hello>",
		"<hello xmlns=\"" NC "\"><capabilities><capability>urn:ietf:params:netconf:base:1.0"
		"</capability></capabilities><session-id>0</session-id></hello>",
		"<hello xmlns=\"" NC "\"><capabilities><capability>urn:ietf:params:netconf:base:1.0"
		"</capability></capabilities><session-id>4294967296</session-id></hello>",
		"<hello xmlns=\"" NC "\"><capabilities><capability>urn:ietf:params:netconf:base:1.0"
		"</capability></capabilities>", /* truncated */
	};
	struct rum_netconf_hello h;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = hello(&h, bad[i]);

		if (rc != RUM_EINVAL)
			fprintf(stderr, "hello case %zu: %d\n", i, rc);
		CHECK_INT(rc, RUM_EINVAL);
		CHECK(rum_err_msg()[0] != '\0');
	}
}

/* Cisco's published IOS-XE 17.18.1 capability list, from ../shared. */
static void test_hello_shared_sample(void)
{
	const char *dir = getenv("RUM_SHARED_DIR");
	struct rum_netconf_hello h;
	char path[512], *buf;
	size_t len;

	if (!dir || !*dir) {
		printf("SKIP IOS-XE 17.18.1 hello sample: RUM_SHARED_DIR is not set\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/fixtures/hello-iosxe-17.18.1-cat9k.xml", dir);
	buf = read_file(path, &len);
	if (!buf) {
		printf("SKIP IOS-XE 17.18.1 hello sample: %s not present\n", path);
		return;
	}
	CHECK_INT(rum_netconf_xml_hello(&h, buf, len), 0);
	CHECK(h.base10 && h.base11 && h.licensing);
	CHECK_INT(h.session_id, 0); /* a published list, not a live session */
	free(buf);
}

/* ---- rpc-replies ---- */

static void test_reply_kinds(void)
{
	struct rum_netconf_reply r;

	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\" message-id=\"101\"><ok/></rpc-reply>"), 0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OK);
	CHECK_STR(r.message_id, "101");
	CHECK(!r.error && !r.return_code && !r.confirmation);
	rum_netconf_reply_dispose(&r);
	/* IOS-XE 17.15 leaves the message-id out. */
	CHECK_INT(reply(&r, "\n<rpc-reply xmlns=\"" NC "\">\n  <ok/>\n</rpc-reply>\n"), 0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OK);
	CHECK(r.message_id == NULL);
	rum_netconf_reply_dispose(&r);
	CHECK_INT(reply(&r, "<nc:rpc-reply xmlns:nc=\"" NC "\" message-id=\"2\"><nc:data/>"
			    "</nc:rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_DATA);
	CHECK_STR(r.message_id, "2");
	rum_netconf_reply_dispose(&r);
	/* RPC output in the licensing namespace, as IOS-XE and rum-agent answer. */
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\" message-id=\"3\"><return-code xmlns=\"" LIC
			    "\">success</return-code><confirmation-codes xmlns=\"" LIC
			    "\"> 3a1f-77 </confirmation-codes></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OUTPUT);
	CHECK_STR(r.return_code, "success");
	CHECK_STR(r.confirmation, "3a1f-77");
	rum_netconf_reply_dispose(&r);
	/* Output that forgot its namespace: inherits the base one. */
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><return-code>storagefailtostore"
			    "</return-code></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OUTPUT);
	CHECK_STR(r.return_code, "storagefailtostore");
	rum_netconf_reply_dispose(&r);
	/* Another module's return-code is not ours. */
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><return-code xmlns=\"urn:other\">x"
			    "</return-code></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OUTPUT);
	CHECK(r.return_code == NULL);
	rum_netconf_reply_dispose(&r);
}

static void test_reply_errors(void)
{
	struct rum_netconf_reply r;

	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\" message-id=\"4\"><rpc-error>"
			    "<error-type>application</error-type><error-tag>operation-failed"
			    "</error-tag><error-severity>error</error-severity><error-message "
			    "xml:lang=\"en\">file-path (1..127 characters)\n is required"
			    "</error-message></rpc-error></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_ERROR);
	CHECK_STR(r.error, "operation-failed: file-path (1..127 characters)  is required");
	CHECK_STR(r.message_id, "4");
	rum_netconf_reply_dispose(&r);
	/* No error-message: tag and type. */
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><rpc-error><error-type>protocol"
			    "</error-type><error-tag>lock-denied</error-tag><error-severity>error"
			    "</error-severity></rpc-error></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_ERROR);
	CHECK_STR(r.error, "lock-denied (protocol error)");
	rum_netconf_reply_dispose(&r);
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><rpc-error><error-type>rpc</error-type>"
			    "</rpc-error></rpc-reply>"),
		  0);
	CHECK_STR(r.error, "rpc error");
	rum_netconf_reply_dispose(&r);
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><rpc-error/></rpc-reply>"), 0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_ERROR);
	CHECK_STR(r.error, "rpc-error with no tag, type or message");
	rum_netconf_reply_dispose(&r);
	/* Several errors: the first three, then a count. */
	CHECK_INT(reply(&r, "<rpc-reply xmlns=\"" NC "\"><rpc-error><error-tag>a</error-tag>"
			    "</rpc-error><rpc-error><error-tag>b</error-tag><error-message>m"
			    "</error-message></rpc-error><rpc-error><error-tag>c</error-tag>"
			    "</rpc-error><rpc-error><error-tag>d</error-tag></rpc-error>"
			    "<rpc-error><error-tag>e</error-tag></rpc-error></rpc-reply>"),
		  0);
	CHECK_STR(r.error, "a; b: m; c (and 2 more)");
	rum_netconf_reply_dispose(&r);
	/* A warning alone does not fail an RPC. */
	CHECK_INT(reply(&r,
			"<rpc-reply xmlns=\"" NC "\"><rpc-error><error-tag>x</error-tag>"
			"<error-severity>warning</error-severity></rpc-error><ok/></rpc-reply>"),
		  0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_OK);
	rum_netconf_reply_dispose(&r);
}

static void test_reply_error_cut(void)
{
	size_t n = RUM_NETCONF_XML_MAX_TEXT * 2;
	char *doc = malloc(n + 200), *p = doc;
	struct rum_netconf_reply r;

	p += snprintf(p, 200, "<rpc-reply xmlns=\"" NC "\"><rpc-error><error-message>");
	for (size_t i = 0; i < n / 2; i++) { /* two-byte characters: the cut must not split one */
		*p++ = '\xc3';
		*p++ = '\xa9';
	}
	snprintf(p, 200, "</error-message></rpc-error></rpc-reply>");
	CHECK_INT(reply(&r, doc), 0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_ERROR);
	CHECK(r.error && strlen(r.error) <= RUM_NETCONF_XML_MAX_TEXT);
	CHECK(r.error && strlen(r.error) % 2 == 0);
	rum_netconf_reply_dispose(&r);
	free(doc);
}

static void test_reply_refused(void)
{
	static const char *bad[] = {
		"",
		"]]>]]>",
		"<rpc xmlns=\"" NC "\" message-id=\"1\"><get/></rpc>",
		"<rpc-reply><ok/></rpc-reply>",
		"<rpc-reply xmlns=\"" LIC "\"><ok/></rpc-reply>",
		"<rpc-reply xmlns=\"" NC "\"><ok/>",
		"<rpc-reply xmlns=\"" NC "\"><ok/></rpc-reply><rpc-reply xmlns=\"" NC
		"\"><ok/></rpc-reply>",
		"<rpc-reply xmlns=\"" NC "\" message-id=\"1\" message-id=\"2\"><ok/></rpc-reply>",
		"<nc:rpc-reply xmlns:nc=\"" NC "\"><ok/></rpc-reply>",
		"\xff\xfe<\0r\0",
	};
	struct rum_netconf_reply r;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		int rc = reply(&r, bad[i]);

		if (rc != RUM_EINVAL)
			fprintf(stderr, "reply case %zu: %d\n", i, rc);
		CHECK_INT(rc, RUM_EINVAL);
		CHECK(r.message_id == NULL && r.error == NULL);
	}
}

/* ---- licensing state ---- */

/* The reply rum-agent gave to the <get> of licensing/state (two
 * entitlements in use, a custom policy, three closed reports), saved from a
 * session over a pipe. */
static void test_licensing_agent(void)
{
	static const char want[] =
		"{\"pid\":\"C9300-24P\",\"sn\":\"FOC1234X0AB\",\"version\":\"5.9.4_rel/41\","
		"\"policy\":{\"name\":\"Stub Policy\",\"type\":\"policy-type-custom\"},"
		"\"trust\":{\"installed\":false,\"time\":null},"
		"\"rum_ack\":{\"last_received_time\":\"2026-11-28T21:42:05+00:00\","
		"\"next_report_deadline\":\"2026-12-05T21:42:05+00:00\"},"
		"\"usage\":[{\"tag\":\"regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-"
		"a50e-53846b347d53\",\"name\":\"advantagek9\",\"count\":3,\"enforcement_mode\":"
		"\"enforcement-in-compliance\"},{\"tag\":\"regid.2017-03.com.cisco.dna-advantage,1.0_"
		"b6308627-3ab0-4a11-a3d9-586911a0d790\",\"name\":\"dna-advantage\",\"count\":5,"
		"\"enforcement_mode\":\"enforcement-in-compliance\"}],\"closed_reports\":3}";
	struct rum_netconf_licensing l;
	struct rum_netconf_reply r;
	size_t len;
	char *buf = fixture("get-licensing-rum-agent.xml", &len);

	if (!buf)
		return;
	CHECK_INT(rum_netconf_xml_licensing(&l, buf, len), 0);
	CHECK_STR(l.pid, "C9300-24P");
	CHECK_STR(l.sn, "FOC1234X0AB");
	CHECK_STR(l.version, "5.9.4_rel/41");
	CHECK_STR(l.policy_name, "Stub Policy");
	CHECK_STR(l.policy_type, "policy-type-custom");
	CHECK(!l.trust_installed && !l.trust_time);
	CHECK_STR(l.last_ack_time, "2026-11-28T21:42:05+00:00");
	CHECK_STR(l.next_report_deadline, "2026-12-05T21:42:05+00:00");
	CHECK_INT(l.n_usage, 2);
	if (l.n_usage == 2) {
		CHECK_STR(l.usage[1].name, "dna-advantage");
		CHECK_INT(l.usage[1].count, 5);
	}
	CHECK_INT(l.n_closed_reports, 3);
	CHECK_STR(l.json, want);
	rum_netconf_licensing_dispose(&l);
	CHECK(l.json == NULL && l.usage == NULL);
	/* The same bytes read as a plain reply. */
	CHECK_INT(rum_netconf_xml_reply(&r, buf, len), 0);
	CHECK_INT(r.kind, RUM_NETCONF_REPLY_DATA);
	CHECK_STR(r.message_id, "1");
	rum_netconf_reply_dispose(&r);
	free(buf);
}

/* Pretty-printed, prefixed rpc-reply, licensing elements in no namespace,
 * an HA pair whose second member holds the trust code, containers rumd
 * does not read, a count that is not a number and a usage entry with no key. */
static const char lic_iosxe[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
	"<nc:rpc-reply xmlns:nc=\"" NC "\" message-id=\"urn:uuid:5a8e\">\n"
	"  <nc:data>\n"
	"    <licensing xmlns=\"" LIC "\">\n"
	"      <state>\n"
	"        <always-enabled>true</always-enabled>\n"
	"        <smart-enabled>true</smart-enabled>\n"
	"        <version>5.5.21_rel/63</version>\n"
	"        <state-info>\n"
	"          <registration><registration-state>reg-state-not-registered"
	"</registration-state></registration>\n"
	"          <udi>\n            <pid>C9300-48UXM</pid>\n            <sn>FCW2233G0QP</sn>\n"
	"          </udi>\n"
	"          <usage>\n"
	"            <entitlement-tag>regid.2017-07.com.cisco.C9300-48 DNA Advantage,1.0_x"
	"</entitlement-tag>\n"
	"            <short-name>C9300-48 DNA Advantage</short-name>\n"
	"            <license-name>C9300-48 DNA Advantage</license-name>\n"
	"            <count>2</count>\n"
	"            <enforcement-mode>enforcement-in-compliance</enforcement-mode>\n"
	"          </usage>\n"
	"          <usage><short-name>orphan</short-name><count>1</count></usage>\n"
	"          <usage><entitlement-tag>t2</entitlement-tag><count>many</count></usage>\n"
	"          <policy><policy-type>policy-type-cisco-default</policy-type>"
	"<policy-name>SLE Policy</policy-name></policy>\n"
	"          <trust-code><key_udi>P:C9300-48UXM,S:FCW2233G0QP</key_udi>"
	"<is-installed>false</is-installed></trust-code>\n"
	"          <trust-code><key_udi>P:C9300-48UXM,S:FCW2233G0QQ</key_udi>"
	"<is-installed>true</is-installed><time-installed>2021-04-28T12:32:27+00:00"
	"</time-installed></trust-code>\n"
	"          <rum-ack><next-report-deadline>2021-07-27T12:32:27+00:00"
	"</next-report-deadline></rum-ack>\n"
	"        </state-info>\n"
	"      </state>\n"
	"    </licensing>\n"
	"  </nc:data>\n"
	"</nc:rpc-reply>\n";

static void test_licensing_iosxe_shape(void)
{
	struct rum_netconf_licensing l;
	json_t *j;

	CHECK_INT(licensing(&l, lic_iosxe), 0);
	CHECK_STR(l.pid, "C9300-48UXM");
	CHECK_STR(l.sn, "FCW2233G0QP");
	CHECK(l.trust_installed);
	CHECK_STR(l.trust_time, "2021-04-28T12:32:27+00:00");
	CHECK(l.last_ack_time == NULL);
	CHECK_INT(l.n_usage, 2);
	if (l.n_usage == 2) {
		CHECK_STR(l.usage[0].tag, "regid.2017-07.com.cisco.C9300-48 DNA Advantage,1.0_x");
		CHECK_INT(l.usage[0].count, 2);
		CHECK_STR(l.usage[1].tag, "t2");
		CHECK_INT(l.usage[1].count, -1);
		CHECK(l.usage[1].name == NULL && l.usage[1].enforcement_mode == NULL);
	}
	CHECK_INT(l.n_closed_reports, 0);
	j = json_loads(l.json ? l.json : "", 0, NULL);
	CHECK(j != NULL);
	CHECK(json_is_null(json_object_get(json_object_get(j, "rum_ack"), "last_received_time")));
	CHECK(json_is_null(json_object_get(json_array_get(json_object_get(j, "usage"), 1),
					   "count")));
	CHECK_INT(json_integer_value(json_object_get(j, "closed_reports")), 0);
	json_decref(j);
	rum_netconf_licensing_dispose(&l);

	/* Licensing elements in no namespace at all, inside a default-namespace reply. */
	CHECK_INT(licensing(&l,
			    "<nc:rpc-reply xmlns:nc=\"" NC "\"><nc:data><licensing><state>"
			    "<state-info><udi><sn>S1</sn></udi></state-info></state></licensing>"
			    "</nc:data></nc:rpc-reply>"),
		  0);
	CHECK(l.pid == NULL);
	CHECK_STR(l.sn, "S1");
	CHECK_STR(l.json,
		  "{\"pid\":null,\"sn\":\"S1\",\"version\":null,\"policy\":{\"name\":null,"
		  "\"type\":null},\"trust\":{\"installed\":false,\"time\":null},\"rum_ack\":"
		  "{\"last_received_time\":null,\"next_report_deadline\":null},\"usage\":[],"
		  "\"closed_reports\":0}");
	rum_netconf_licensing_dispose(&l);
}

static void test_licensing_refused(void)
{
	struct rum_netconf_licensing l;

	CHECK_INT(licensing(&l,
			    "<rpc-reply xmlns=\"" NC "\"><rpc-error><error-tag>access-denied"
			    "</error-tag><error-message>no NACM rule</error-message></rpc-error>"
			    "</rpc-reply>"),
		  RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "access-denied: no NACM rule") != NULL);
	CHECK(l.json == NULL && l.pid == NULL);
	CHECK_INT(licensing(&l, "<rpc-reply xmlns=\"" NC "\"><ok/></rpc-reply>"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "no <data>") != NULL);
	CHECK_INT(licensing(&l, "<rpc-reply xmlns=\"" NC "\"><data/></rpc-reply>"), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "no licensing/state") != NULL);
	/* Another module's licensing container. */
	CHECK_INT(licensing(&l, "<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"urn:x\">"
				"<state><state-info><udi><sn>S</sn></udi></state-info></state>"
				"</licensing></data></rpc-reply>"),
		  RUM_EINVAL);
	CHECK_INT(licensing(&l,
			    "<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\">"
			    "<state><version>1</version></state></licensing></data></rpc-reply>"),
		  RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "no UDI") != NULL);
	CHECK_INT(licensing(&l, "<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\">"
				"<state><state-info><udi><pid> </pid></udi></state-info></state>"
				"</licensing></data></rpc-reply>"),
		  RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "no UDI") != NULL);
}

/* ---- hostile documents ---- */

static const char laughs[] =
	"<?xml version=\"1.0\"?><!DOCTYPE lolz [<!ENTITY lol \"lol\">"
	"<!ENTITY lol2 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	"<!ENTITY lol3 \"&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;\">]>"
	"<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\"><state><state-info><udi>"
	"<sn>&lol3;</sn></udi></state-info></state></licensing></data></rpc-reply>";

static const char xxe[] =
	"<!DOCTYPE r [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><hello xmlns=\"" NC
	"\"><capabilities><capability>&x;</capability></capabilities></hello>";

/* A DOCTYPE hidden from a byte search by UTF-16. */
static const char xxe16[] = "\xff\xfe<\0!\0D\0O\0C\0T\0Y\0P\0E\0 \0r\0>\0<\0r\0/\0>\0";

static void test_hostile_dtd(void)
{
	struct rum_netconf_licensing l;
	struct rum_netconf_reply r;
	struct rum_netconf_hello h;

	CHECK_INT(licensing(&l, laughs), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "DTD") != NULL);
	CHECK_INT(reply(&r, laughs), RUM_EINVAL);
	CHECK_INT(hello(&h, xxe), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_reply(&r, xxe16, sizeof(xxe16) - 1), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_hello(&h, xxe16, sizeof(xxe16) - 1), RUM_EINVAL);
}

/* Builds prefix + n copies of unit + suffix. */
static char *repeat(const char *prefix, const char *unit, size_t n, const char *suffix)
{
	size_t lp = strlen(prefix), lu = strlen(unit), ls = strlen(suffix);
	char *s = malloc(lp + lu * n + ls + 1), *p = s;

	if (!s)
		abort();
	memcpy(p, prefix, lp);
	p += lp;
	for (size_t i = 0; i < n; i++, p += lu)
		memcpy(p, unit, lu);
	memcpy(p, suffix, ls + 1);
	return s;
}

static void test_hostile_sizes(void)
{
	struct rum_netconf_licensing l;
	struct rum_netconf_reply r;
	struct rum_netconf_hello h;
	char *s, *deep, *close;

	/* Nesting deeper than the parser allows (libxml2 stops at 256 levels). */
	deep = repeat("<rpc-reply xmlns=\"" NC "\"><data>", "<a>", 5000, "");
	close = repeat(deep, "</a>", 5000, "</data></rpc-reply>");
	CHECK_INT(reply(&r, close), RUM_EINVAL);
	CHECK_INT(licensing(&l, close), RUM_EINVAL);
	free(deep);
	free(close);
	/* A kept leaf over RUM_NETCONF_XML_MAX_TEXT. */
	s = repeat("<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\"><state>"
		   "<state-info><udi><sn>",
		   "X", RUM_NETCONF_XML_MAX_TEXT + 1,
		   "</sn></udi></state-info></state></licensing></data></rpc-reply>");
	CHECK_INT(licensing(&l, s), RUM_ETOOBIG);
	CHECK(l.sn == NULL && l.json == NULL);
	free(s);
	s = repeat("<rpc-reply xmlns=\"" NC "\" message-id=\"", "9", RUM_NETCONF_XML_MAX_TEXT + 1,
		   "\"><ok/></rpc-reply>");
	CHECK_INT(reply(&r, s), RUM_ETOOBIG);
	CHECK(r.message_id == NULL);
	free(s);
	s = repeat("<rpc-reply xmlns=\"" NC "\"><return-code>", "y", RUM_NETCONF_XML_MAX_TEXT + 1,
		   "</return-code></rpc-reply>");
	CHECK_INT(reply(&r, s), RUM_ETOOBIG);
	free(s);
	/* A capability of 11 MB is compared, never kept: it costs its bytes only
	 * (the NETCONF session caps a message). */
	s = repeat("<hello xmlns=\"" NC "\"><capabilities><capability>" RUM_NETCONF_BASE10, "z",
		   11000000, "</capability></capabilities></hello>");
	CHECK_INT(hello(&h, s), 0);
	CHECK(!h.base10 && !h.base11 && !h.licensing);
	free(s);
	/* More usage entries than a snapshot keeps. */
	s = repeat("<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\"><state>"
		   "<state-info><udi><sn>S</sn></udi>",
		   "<usage><entitlement-tag>t</entitlement-tag><count>1</count></usage>",
		   RUM_NETCONF_XML_MAX_USAGE + 1,
		   "</state-info></state></licensing></data></rpc-reply>");
	CHECK_INT(licensing(&l, s), RUM_ETOOBIG);
	CHECK(l.usage == NULL && l.n_usage == 0);
	free(s);
	/* Exactly RUM_NETCONF_XML_MAX_USAGE is fine. */
	s = repeat("<rpc-reply xmlns=\"" NC "\"><data><licensing xmlns=\"" LIC "\"><state>"
		   "<state-info><udi><sn>S</sn></udi>",
		   "<usage><entitlement-tag>t</entitlement-tag><count>1</count></usage>",
		   RUM_NETCONF_XML_MAX_USAGE,
		   "</state-info></state></licensing></data></rpc-reply>");
	CHECK_INT(licensing(&l, s), 0);
	CHECK_INT(l.n_usage, RUM_NETCONF_XML_MAX_USAGE);
	rum_netconf_licensing_dispose(&l);
	free(s);
	/* Over the document ceiling: refused before parsing. */
	s = calloc(1, (64u << 20) + 2);
	if (s) {
		s[0] = '<';
		CHECK_INT(rum_netconf_xml_reply(&r, s, (64u << 20) + 1), RUM_ETOOBIG);
		free(s);
	}
}

static void test_hostile_bytes(void)
{
	static const char nul[] = "<rpc-reply xmlns=\"" NC "\">\0<ok/></rpc-reply>";
	static const char bin[] = "\x00\x01\x02\x03\xff\xfe\xfd<\x80\x81";
	struct rum_netconf_licensing l;
	struct rum_netconf_reply r;
	struct rum_netconf_hello h;

	CHECK_INT(rum_netconf_xml_reply(&r, nul, sizeof(nul) - 1), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_reply(&r, bin, sizeof(bin) - 1), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_hello(&h, bin, sizeof(bin) - 1), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_licensing(&l, bin, sizeof(bin) - 1), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_licensing(&l, bin, 0), RUM_EINVAL);
	/* Only len bytes are read: a prefix of a good reply is not a reply. */
	CHECK_INT(rum_netconf_xml_reply(&r, "<rpc-reply xmlns=\"" NC "\"><ok/></rpc-reply>", 20),
		  RUM_EINVAL);
}

/* ---- escaping ---- */

static void test_escape(void)
{
	char *s = NULL;
	size_t len = 0;

	CHECK_INT(rum_netconf_xml_escape(&s, &len, "bootflash:", 100), 0);
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "a&b<c>\"d\"'e'.txt", 100), 0);
	CHECK_STR(s, "bootflash:a&amp;b&lt;c&gt;&quot;d&quot;&apos;e&apos;.txt");
	CHECK_INT(len, strlen(s));
	/* Past max: nothing appended. */
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "&", len + 4), RUM_ETOOBIG);
	CHECK_INT(len, strlen(s));
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "&", len + 5), 0);
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "a\x01", 1000), RUM_EINVAL);
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "caf\xc3\xa9\ttab\n", 1000), 0);
	CHECK(len >= 10 && memcmp(s + len - 10, "caf\xc3\xa9\ttab\n", 10) == 0);
	free(s);
	s = NULL;
	len = 12345; /* ignored while *out is NULL */
	CHECK_INT(rum_netconf_xml_escape(&s, &len, "", 0), 0);
	CHECK_STR(s, "");
	CHECK_INT(len, 0);
	free(s);
}

int main(void)
{
	test_hello_devices();
	test_hello_tolerated();
	test_hello_refused();
	test_hello_shared_sample();
	test_reply_kinds();
	test_reply_errors();
	test_reply_error_cut();
	test_reply_refused();
	test_licensing_agent();
	test_licensing_iosxe_shape();
	test_licensing_refused();
	test_hostile_dtd();
	test_hostile_sizes();
	test_hostile_bytes();
	test_escape();
	return rum_check_result("test_netconf_xml");
}
