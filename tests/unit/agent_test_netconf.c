/* The NETCONF server's XML reading: a hello or an rpc that declares a DTD
 * (entities or not, visible in the bytes or hidden by UTF-16) is refused,
 * and an import-file it carries imports nothing. A session runs over
 * memory files in place of the SSH channel. */
#include <ftw.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/stat.h>
#include <unistd.h>

#include "agent/netconf.h"
#include "agent/state.h"
#include "check.h"
#include "lib/err.h"
#include "lib/log.h"

#define TAG1 "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
#define NC "urn:ietf:params:xml:ns:netconf:base:1.0"
#define EOM "]]>]]>"
#define HELLO                                                                                \
	"<hello xmlns=\"" NC "\"><capabilities><capability>urn:ietf:params:netconf:base:1.0" \
	"</capability></capabilities></hello>" EOM
#define CLOSE "<rpc message-id=\"99\" xmlns=\"" NC "\"><close-session/></rpc>" EOM
#define IMPORT_RPC(id, file)                                                                     \
	"<rpc message-id=\"" id "\" xmlns=\"" NC "\"><import-file xmlns=\"" RUM_AGENT_LICENSE_NS \
	"\">"                                                                                    \
	"<file-path>bootflash:" file "</file-path></import-file></rpc>"

#define LAUGHS                                                                \
	"<!DOCTYPE rpc [<!ENTITY lol \"lol\">"                                \
	"<!ENTITY l1 \"&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;\">" \
	"<!ENTITY l2 \"&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;&l1;\">"           \
	"<!ENTITY l3 \"&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;&l2;\">"           \
	"<!ENTITY l4 \"&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;&l3;\">"           \
	"<!ENTITY l5 \"&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;&l4;\">"           \
	"<!ENTITY l6 \"&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;&l5;\">"           \
	"<!ENTITY l7 \"&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;&l6;\">"           \
	"<!ENTITY l8 \"&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;&l7;\">"           \
	"<!ENTITY l9 \"&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;&l8;\">"           \
	"<!ENTITY f \"ack.xml\">]>"

static const char policy_file[] =
	"<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<smartLicensePolicy><policyCode><name>Lab</name>"
	"<version>3</version><subscription><onGoingReporting>14</onGoingReporting></subscription>"
	"</policyCode></smartLicensePolicy>";

static char root[64], dir[128];

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* A fresh device with one closed report and, in its bootflash, a
 * good policy file (ack.xml) and the same behind a DOCTYPE (dtd.xml). */
static void setup(void)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	char path[300], dtd[sizeof(policy_file) + 64];

	snprintf(root, sizeof(root), "/tmp/agent_test_netconf.XXXXXX");
	if (!st || !mkdtemp(root))
		abort();
	snprintf(dir, sizeof(dir), "%s/dev", root);
	snprintf(st->dir, sizeof(st->dir), "%s", dir);
	snprintf(st->pid, sizeof(st->pid), "C9300-24P");
	snprintf(st->serial, sizeof(st->serial), "FOC1234X0AB");
	snprintf(st->hostname, sizeof(st->hostname), "sw1");
	rum_agent_parse_usage_arg(st->ent[0].tag, &st->ent[0].count, TAG1 "=1");
	st->n_ent = 1;
	CHECK_INT(rum_agent_state_create(st, 1700000000), 0);
	CHECK(rum_agent_state_close_open(st, 1700000100, "CurrentUsageRequested") >= 0);
	CHECK_INT(rum_agent_state_save(st), 0);
	rum_agent_state_dispose(st);
	free(st);
	snprintf(path, sizeof(path), "%s/bootflash", dir);
	mkdir(path, 0700);
	snprintf(path, sizeof(path), "%s/bootflash/ack.xml", dir);
	CHECK_INT(rum_agent_write_file_atomic(path, policy_file, strlen(policy_file)), 0);
	snprintf(dtd, sizeof(dtd), "<!DOCTYPE smartLicensePolicy>%s",
		 strstr(policy_file, "<smartLicensePolicy>"));
	snprintf(path, sizeof(path), "%s/bootflash/dtd.xml", dir);
	CHECK_INT(rum_agent_write_file_atomic(path, dtd, strlen(dtd)), 0);
}

/* Runs a session on input; *out receives what the server wrote (caller
 * frees). Returns rum_agent_netconf_serve's result. */
static int session(char **out, const char *input, size_t len)
{
	int in = memfd_create("nc-in", MFD_CLOEXEC), fd = memfd_create("nc-out", MFD_CLOEXEC), rc;
	off_t n;

	if (in < 0 || fd < 0 || write(in, input, len) != (ssize_t)len)
		abort();
	lseek(in, 0, SEEK_SET);
	rc = rum_agent_netconf_serve(dir, in, fd);
	n = lseek(fd, 0, SEEK_END);
	*out = calloc(1, (size_t)n + 1);
	if (!*out || pread(fd, *out, (size_t)n, 0) != n)
		abort();
	close(in);
	close(fd);
	return rc;
}

static int policy_installed(void)
{
	struct rum_agent_state st;
	int yes;

	memset(&st, 0, sizeof(st));
	if (rum_agent_state_load(&st, dir) < 0)
		abort();
	yes = st.policy.installed;
	rum_agent_state_dispose(&st);
	return yes;
}

static size_t count(const char *s, const char *what)
{
	size_t n = 0;

	for (s = strstr(s, what); s; s = strstr(s + 1, what))
		n++;
	return n;
}

/* A hello declaring a DTD ends the session before any rpc is read. */
static void test_hello_dtd(void)
{
	static const char *hellos[] = {
		LAUGHS "<hello xmlns=\"" NC
		       "\"><capabilities><capability>&l9;</capability></capabilities></hello>" EOM,
		"<!DOCTYPE hello [<!ENTITY b \"urn:ietf:params:netconf:base:1.0\">]><hello xmlns=\"" NC
		"\">"
		"<capabilities><capability>&b;</capability></capabilities></hello>" EOM,
		"<!DOCTYPE hello SYSTEM \"http://127.0.0.1:1/hello.dtd\">" HELLO,
	};
	char input[4096], *out;

	for (size_t i = 0; i < sizeof(hellos) / sizeof(hellos[0]); i++) {
		snprintf(input, sizeof(input), "%s%s", hellos[i],
			 IMPORT_RPC("1", "ack.xml") EOM CLOSE);
		rum_err_clear();
		CHECK_INT(session(&out, input, strlen(input)), RUM_EINVAL);
		CHECK(strstr(rum_err_msg(), "hello: declares a DTD") != NULL);
		CHECK_INT(count(out, "<hello"), 1); /* ours, and nothing after it */
		CHECK(strstr(out, "rpc-reply") == NULL);
		free(out);
		CHECK(!policy_installed());
	}
}

/* Appends s to buf at *len as UTF-16LE with a byte order mark, which hides
 * "<!DOCTYPE" from a scan of the bytes. */
static void add_utf16(char *buf, size_t size, size_t *len, const char *s)
{
	if (*len + 2 + 2 * strlen(s) > size)
		abort();
	buf[(*len)++] = '\xff';
	buf[(*len)++] = '\xfe';
	for (; *s; s++) {
		buf[(*len)++] = *s;
		buf[(*len)++] = '\0';
	}
}

static void add(char *buf, size_t size, size_t *len, const char *s)
{
	if (*len + strlen(s) > size)
		abort();
	memcpy(buf + *len, s, strlen(s));
	*len += strlen(s);
}

/* An rpc declaring a DTD gets a malformed-message rpc-error that says so,
 * and the session goes on. */
static void test_rpc_dtd(void)
{
	static const char *rpcs[] = {
		LAUGHS "<rpc message-id=\"1\" xmlns=\"" NC
		       "\"><import-file xmlns=\"" RUM_AGENT_LICENSE_NS
		       "\"><file-path>bootflash:&f;</file-path></import-file></rpc>",
		LAUGHS "<rpc message-id=\"2\" xmlns=\"" NC
		       "\"><get><filter type=\"xpath\" select=\"&l9;\"/>"
		       "</get></rpc>",
		"<?xml version=\"1.0\"?>\n<!DOCTYPE rpc>" IMPORT_RPC("3", "ack.xml"),
		"<!DOCTYPE rpc [<!ENTITY x SYSTEM \"file:///etc/passwd\">]><rpc message-id=\"4\" xmlns=\"" NC
		"\"><get><filter type=\"xpath\" select=\"&x;\"/></get></rpc>",
	};
	char input[16384], *out;
	size_t len = 0;

	add(input, sizeof(input), &len, HELLO);
	for (size_t i = 0; i < sizeof(rpcs) / sizeof(rpcs[0]); i++) {
		add(input, sizeof(input), &len, rpcs[i]);
		add(input, sizeof(input), &len, EOM);
	}
	add_utf16(input, sizeof(input), &len, rpcs[2]);
	add(input, sizeof(input), &len, EOM);
	/* A good rpc whose import file declares a DTD: the import fails. */
	add(input, sizeof(input), &len, IMPORT_RPC("5", "dtd.xml") EOM CLOSE);

	CHECK_INT(session(&out, input, len), 0);
	CHECK_INT(count(out,
			"<rpc-reply xmlns=\"" NC "\"><rpc-error><error-type>rpc</error-type>"
			"<error-tag>malformed-message</error-tag><error-severity>error</error-severity>"
			"<error-message xml:lang=\"en\">rpc: declares a DTD"),
		  5);
	CHECK_INT(count(out, "<rpc-error>"), 5);
	CHECK(strstr(out, "lollol") == NULL && strstr(out, "root:") == NULL);
	CHECK(strstr(out, "<rpc-reply xmlns=\"" NC
			  "\" message-id=\"5\"><return-code xmlns=\"" RUM_AGENT_LICENSE_NS
			  "\">BadInputParams</return-code></rpc-reply>") != NULL);
	CHECK(strstr(out, "<rpc-reply xmlns=\"" NC "\" message-id=\"99\"><ok/></rpc-reply>") !=
	      NULL);
	free(out);
	CHECK(!policy_installed());

	/* The same import without a DTD is taken: the refusals were the DTDs'. */
	len = 0;
	add(input, sizeof(input), &len, HELLO IMPORT_RPC("6", "ack.xml") EOM CLOSE);
	CHECK_INT(session(&out, input, len), 0);
	CHECK(strstr(out, "message-id=\"6\"><return-code xmlns=\"" RUM_AGENT_LICENSE_NS
			  "\">success</return-code>") != NULL);
	free(out);
	CHECK(policy_installed());
}

int main(void)
{
	rum_log_set_level(RUM_LOG_ERROR); /* the refused import logs a warning */
	setup();
	test_hello_dtd();
	test_rpc_dtd();
	nftw(root, rm_one, 16, FTW_DEPTH | FTW_PHYS);
	return rum_check_result("agent_test_netconf");
}
