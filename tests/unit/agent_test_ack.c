/* ACK and policy file parsing and installation; refused files change nothing. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/files.h"
#include "agent/ops.h"
#include "agent/show.h"
#include "agent/state.h"
#include "check.h"
#include "lib/err.h"

#define TAG1 "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"

static const char policy_file[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<smartLicensePolicy><policyCode><name>SLE Policy</name>"
	"<version>7</version><ackRequired>yes</ackRequired>"
	"<subscription><firstTimeReport>90</firstTimeReport><onGoingReporting>60</onGoingReporting><reportOnMACD>60</reportOnMACD></subscription>"
	"<perpetual><firstTimeReport>365</firstTimeReport><onGoingReporting>30</onGoingReporting><reportOnMACD>90</reportOnMACD></perpetual>"
	"</policyCode><signature>x</signature></smartLicensePolicy>";

static struct rum_agent_state *make(char *tmpl)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));

	snprintf(st->dir, sizeof(st->dir), "%s/dev", mkdtemp(tmpl));
	snprintf(st->pid, sizeof(st->pid), "C9300-24P");
	snprintf(st->serial, sizeof(st->serial), "FOC1234X0AB");
	snprintf(st->hostname, sizeof(st->hostname), "sw1");
	rum_agent_parse_usage_arg(st->ent[0].tag, &st->ent[0].count, TAG1 "=1");
	st->n_ent = 1;
	CHECK_INT(rum_agent_state_create(st, 1700000000), 0);
	return st;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Frees a device from make() and removes its temporary directory. */
static void drop(struct rum_agent_state *st, const char *tmpl)
{
	rum_agent_state_dispose(st);
	free(st);
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

static void test_policy_file(void)
{
	char tmpl[] = "/tmp/agent_test_ack.XXXXXX", summary[256];
	struct rum_agent_state *st = make(tmpl);
	struct rum_agent_ack ack;

	CHECK_INT(rum_agent_state_interval_days(st), 90); /* Cisco default */
	CHECK_INT(rum_agent_ack_parse(&ack, policy_file, strlen(policy_file)), 0);
	CHECK(ack.has_policy && !ack.has_rum_ack && !ack.has_trust);
	CHECK_STR(ack.policy.name, "SLE Policy");
	CHECK_INT(ack.policy.version, 7);
	CHECK_INT(ack.policy.attrs[RUM_AGENT_POL_SUBSCRIPTION].ongoing, 60);
	CHECK_INT(ack.policy.attrs[RUM_AGENT_POL_PERPETUAL].first, 365);
	CHECK_INT(rum_agent_ack_apply(st, &ack, 1700000100, summary, sizeof(summary)), 0);
	CHECK_INT(rum_agent_state_interval_days(st), 30);
	CHECK(st->policy.installed && st->policy.install_time == 1700000100);
	CHECK(strstr(summary, "SLE Policy") != NULL);
	CHECK_INT(st->last_ack_time, 0);
	drop(st, tmpl);
}

static void test_full_ack(void)
{
	char tmpl[] = "/tmp/agent_test_ack.XXXXXX", summary[256], xml[2048], *text;
	struct rum_agent_state *st = make(tmpl);
	size_t len;
	uint64_t first;

	rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000100);
	free(text);
	rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000200);
	free(text);
	CHECK_INT(st->n_rep, 3);
	first = st->rep[0].id;
	/* names only the first report: only it is acknowledged */
	snprintf(xml, sizeof(xml),
		 "<smartLicense><smartLicenseAuthorization><udi>P:C9300-24P,S:FOC1234X0AB</udi>"
		 "<authorizationCode>x</authorizationCode><signature>s</signature></smartLicenseAuthorization>"
		 "%.*s<smartLicenseRumAck><data><![CDATA[[{\"udi\":{\"udi_pid\":\"C9300-24P\"},"
		 "\"acks\":[{\"report_id\":%llu}]}]]]></data><signature>s</signature></smartLicenseRumAck>"
		 "<smartLicenseAccountInfo><customerInfo><smartAccount>Lab SA</smartAccount>"
		 "<virtualAccount>VA-1</virtualAccount></customerInfo></smartLicenseAccountInfo>"
		 "<smartLicenseTrustCode><trustCode>t</trustCode></smartLicenseTrustCode>"
		 "<correlationID>c1</correlationID></smartLicense>",
		 (int)(strlen(policy_file) - 39), policy_file + 39, (unsigned long long)first);
	CHECK_INT(rum_agent_import_buf(st, xml, strlen(xml), 1700000300, summary, sizeof(summary)),
		  0);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_ACK);
	CHECK_INT(st->rep[1].state, RUM_AGENT_REPORT_UNACK);
	CHECK_INT(st->last_ack_time, 1700000300);
	CHECK_INT(st->trust_time, 1700000300);
	CHECK_STR(st->smart_account, "Lab SA");
	CHECK_STR(st->virtual_account, "VA-1");
	CHECK_INT(rum_agent_state_interval_days(st), 30);
	CHECK_INT(rum_agent_next_ack_deadline(st), 1700000300 + 30 * 86400);

	FILE *f = tmpfile();
	char out[8192] = {0};
	rum_agent_show(f, st, "status");
	rewind(f);
	CHECK(fread(out, 1, sizeof(out) - 1, f) > 0);
	fclose(f);
	CHECK(strstr(out, "Policy name: SLE Policy") != NULL);
	CHECK(strstr(out, "Reporting push interval: 30  days") != NULL);
	CHECK(strstr(out,
		     "Trust Code Installed:\n  Active: PID:C9300-24P,SN:FOC1234X0AB\n    INSTALLED on") !=
	      NULL);
	CHECK(strstr(out, "Last ACK received: Nov 14 22:18:20 2023 UTC") != NULL);
	drop(st, tmpl);
}

static void test_refused(void)
{
	static const char *bad[] = {
		"not xml at all",
		"<smartLicense><unclosed></smartLicense>",
		"<otherRoot/>",
		"<smartLicense><correlationID>x</correlationID></smartLicense>",
		"<!DOCTYPE smartLicense [<!ENTITY x \"boom\">]><smartLicense><smartLicenseRumAck><data>&x;</data></smartLicenseRumAck></smartLicense>",
		"<smartLicensePolicy><policyCode><subscription><onGoingReporting>-5</onGoingReporting></subscription></policyCode></smartLicensePolicy>",
		"<smartLicensePolicy><name>no code</name></smartLicensePolicy>",
		"<smartLicense><smartLicenseRumAck><data>{not json</data></smartLicenseRumAck></smartLicense>",
		"<smartLicense><smartLicenseAuthorization><udi>P:C9300-24P,S:OTHER</udi></smartLicenseAuthorization></smartLicense>",
	};
	char tmpl[] = "/tmp/agent_test_ack.XXXXXX", summary[256], *text;
	struct rum_agent_state *st = make(tmpl);
	size_t len;

	rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000100);
	free(text);
	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
		rum_err_clear();
		CHECK_INT(rum_agent_import_buf(st, bad[i], strlen(bad[i]), 1700000300, summary,
					       sizeof(summary)),
			  RUM_EINVAL);
		CHECK(rum_err_msg()[0] != '\0');
		CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_UNACK);
		CHECK_INT(st->last_ack_time, 0);
		CHECK(!st->policy.installed);
	}
	drop(st, tmpl);
}

/* Documents declaring a DTD, with entities or without, are refused before
 * anything reaches the state: in memory and through the on-disk import. */
static const char *dtd_docs[] = {
	/* billion laughs: 10^9 "lol" if entities were expanded */
	"<?xml version=\"1.0\"?>\n<!DOCTYPE smartLicensePolicy [<!ENTITY lol \"lol\">"
	"<!ENTITY l1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">"
	"<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">"
	"<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">"
	"<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">"
	"<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">"
	"<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">"
	"<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">"
	"<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">"
	"<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">]>"
	"<smartLicensePolicy><policyCode><name>&l9;</name><version>7</version></policyCode></smartLicensePolicy>",
	/* an external entity */
	"<!DOCTYPE smartLicense [<!ENTITY xxe SYSTEM \"file:///etc/passwd\">]><smartLicense>"
	"<smartLicenseAccountInfo><customerInfo><smartAccount>&xxe;</smartAccount></customerInfo>"
	"</smartLicenseAccountInfo></smartLicense>",
	/* a parameter entity from the network */
	"<!DOCTYPE smartLicense [<!ENTITY % p SYSTEM \"http://127.0.0.1:1/p.dtd\"> %p;]>"
	"<smartLicense><smartLicenseTrustCode><code>t</code></smartLicenseTrustCode></smartLicense>",
	/* a DOCTYPE alone, in front of an otherwise good policy file */
	"<!DOCTYPE smartLicensePolicy><smartLicensePolicy><policyCode><name>P</name><version>1</version>"
	"</policyCode></smartLicensePolicy>",
};

/* doc as UTF-16LE with a byte order mark: "<!DOCTYPE" no longer shows in
 * the bytes, so only the check after parsing can see it. */
static size_t utf16(char *out, size_t size, const char *doc)
{
	size_t n = 0;

	out[n++] = '\xff';
	out[n++] = '\xfe';
	for (; *doc && n + 2 <= size; doc++) {
		out[n++] = *doc;
		out[n++] = '\0';
	}
	return n;
}

static void check_untouched(const struct rum_agent_state *st)
{
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_UNACK);
	CHECK_INT(st->last_ack_time, 0);
	CHECK_INT(st->trust_time, 0);
	CHECK(!st->policy.installed);
	CHECK_STR(st->smart_account, "");
}

static void test_dtd_refused(void)
{
	char tmpl[] = "/tmp/agent_test_ack.XXXXXX", summary[256], path[1100], file[64], wide[1024];
	char *text, *before, *after;
	const char *good = strstr(dtd_docs[3], "<smartLicensePolicy>");
	struct rum_agent_state *st = make(tmpl);
	size_t len, before_len, after_len, n;

	rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000100);
	free(text);
	CHECK_INT(rum_agent_state_save(st), 0);
	snprintf(path, sizeof(path), "%s/state.json", st->dir);
	CHECK_INT(rum_agent_read_file(&before, &before_len, path, 1 << 20), 0);
	snprintf(file, sizeof(file), "%s/dtd.xml", tmpl);
	for (size_t i = 0; i < sizeof(dtd_docs) / sizeof(dtd_docs[0]); i++) {
		rum_err_clear();
		CHECK_INT(rum_agent_import_buf(st, dtd_docs[i], strlen(dtd_docs[i]), 1700000300,
					       summary, sizeof(summary)),
			  RUM_EINVAL);
		CHECK(strstr(rum_err_msg(), "declares a DTD") != NULL);
		check_untouched(st);
		CHECK_INT(rum_agent_write_file_atomic(file, dtd_docs[i], strlen(dtd_docs[i])), 0);
		CHECK_INT(rum_agent_op_import(st->dir, file, 1, summary, sizeof(summary)),
			  RUM_EINVAL);
		CHECK_INT(rum_agent_read_file(&after, &after_len, path, 1 << 20), 0);
		CHECK(after_len == before_len && memcmp(after, before, before_len) == 0);
		free(after);
	}
	n = utf16(wide, sizeof(wide), dtd_docs[3]);
	rum_err_clear();
	CHECK_INT(rum_agent_import_buf(st, wide, n, 1700000300, summary, sizeof(summary)),
		  RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "declares a DTD") != NULL);
	check_untouched(st);
	/* The same policy without its DOCTYPE is taken: the refusal is the DTD's. */
	CHECK_INT(rum_agent_import_buf(st, good, strlen(good), 1700000300, summary,
				       sizeof(summary)),
		  0);
	CHECK(st->policy.installed);
	free(before);
	drop(st, tmpl);
}

static void test_map_path(void)
{
	char out[256];

	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "bootflash:rumd-1.txt", 0), 0);
	CHECK_STR(out, "/s/bootflash/rumd-1.txt");
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "bootflash:/a.txt", 0), 0);
	CHECK_STR(out, "/s/bootflash/a.txt");
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "bootflash:../x", 0), RUM_EINVAL);
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "bootflash:a/b", 0), RUM_EINVAL);
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "/etc/passwd", 0), RUM_EINVAL);
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "tftp://h/x", 0), RUM_EINVAL);
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "https://h/x", 0), RUM_ENOTFOUND);
	CHECK_INT(rum_agent_map_path(out, sizeof(out), "/s", "/tmp/x", 1), 0);
}

/* A RUM ACK names reports by number or by a string of decimal digits; a
 * string with anything else in it names no report. */
static void test_report_id_strings(void)
{
	static const char xml[] =
		"<smartLicense><smartLicenseRumAck><data><![CDATA[[{\"report_id\":\"1700000007\"},"
		"{\"report_id\":\"12abc\"},{\"report_id\":\"-5\"},{\"report_id\":\"\"},"
		"{\"report_id\":\" 9\"},{\"report_id\":\"99999999999999999999999\"},"
		"{\"report_id\":1700000008},{\"report_id\":-3}]]]></data></smartLicenseRumAck></smartLicense>";
	struct rum_agent_ack *ack = calloc(1, sizeof(*ack));

	CHECK_INT(rum_agent_ack_parse(ack, xml, strlen(xml)), 0);
	CHECK(ack->has_rum_ack);
	CHECK_INT(ack->n_ids, 2);
	CHECK(ack->ids[0] == 1700000007u && ack->ids[1] == 1700000008u);
	free(ack);
}

/* Report ids are unique only per device: an entry naming another UDI beside
 * the id acknowledges nothing here; one naming this device's UDI does. */
static void test_ack_for_other_udi(void)
{
	char tmpl[] = "/tmp/agent_test_ack.XXXXXX", summary[256], xml[1024], *text;
	struct rum_agent_state *st = make(tmpl);
	size_t len;
	unsigned long long id;

	rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000100);
	free(text);
	id = (unsigned long long)st->rep[0].id;
	snprintf(xml, sizeof(xml),
		 "<smartLicense><smartLicenseRumAck><data><![CDATA[[{\"report_id\":%llu,"
		 "\"udi\":{\"udi_pid\":\"C9300-24P\",\"udi_serial_number\":\"FOCOTHER001\"}}]]]>"
		 "</data></smartLicenseRumAck></smartLicense>",
		 id);
	CHECK_INT(rum_agent_import_buf(st, xml, strlen(xml), 1700000300, summary, sizeof(summary)),
		  0);
	CHECK(st->rep[0].state != RUM_AGENT_REPORT_ACK);
	snprintf(xml, sizeof(xml),
		 "<smartLicense><smartLicenseRumAck><data><![CDATA[[{\"report_id\":%llu,"
		 "\"udi\":{\"udi_pid\":\"C9300-24P\",\"udi_serial_number\":\"FOC1234X0AB\"}}]]]>"
		 "</data></smartLicenseRumAck></smartLicense>",
		 id);
	CHECK_INT(rum_agent_import_buf(st, xml, strlen(xml), 1700000400, summary, sizeof(summary)),
		  0);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_ACK);
	drop(st, tmpl);
}

int main(void)
{
	test_report_id_strings();
	test_ack_for_other_udi();
	test_policy_file();
	test_full_ack();
	test_refused();
	test_dtd_refused();
	test_map_path();
	return rum_check_result("agent_test_ack");
}
