/* NETCONF server, see netconf.h. */
#include "agent/netconf.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "agent/ops.h"
#include "agent/show.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/netconf_framing.h"
#include "lib/xml.h"

#define NC_NS "urn:ietf:params:xml:ns:netconf:base:1.0"
#define BASE10 "urn:ietf:params:netconf:base:1.0"
#define BASE11 "urn:ietf:params:netconf:base:1.1"

/* ---- state rendering ---- */

static void yang_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	gmtime_r(&tt, &tm);
	strftime(buf, size, "%Y-%m-%dT%H:%M:%S+00:00", &tm);
}

static struct rum_xml_node *leaf(struct rum_xml_node *parent, const char *name, const char *value)
{
	return rum_xml_add(parent, name, value);
}

static void leaf_u(struct rum_xml_node *parent, const char *name, unsigned long long v)
{
	char buf[32];

	snprintf(buf, sizeof(buf), "%llu", v);
	leaf(parent, name, buf);
}

static void leaf_time(struct rum_xml_node *parent, const char *name, int64_t t)
{
	char buf[40];

	yang_time(buf, sizeof(buf), t);
	leaf(parent, name, buf);
}

static void udi(struct rum_xml_node *parent, const struct rum_agent_state *st)
{
	struct rum_xml_node *u = rum_xml_add(parent, "udi", NULL);

	leaf(u, "pid", st->pid);
	leaf(u, "sn", st->serial);
}

static void policy_xml(struct rum_xml_node *si, const struct rum_agent_state *st)
{
	static const char *names[RUM_AGENT_POL_N] = {"policy-perpetual", "policy-subscription",
						     "policy-enforced", "policy-export"};
	const struct rum_agent_policy *p = &st->policy;
	struct rum_xml_node *pol = rum_xml_add(si, "policy", NULL);

	leaf(pol, "policy-type", p->installed ? "policy-type-custom" : "policy-type-cisco-default");
	leaf(pol, "policy-name", p->name);
	if (p->installed)
		leaf_time(pol, "install-time", p->install_time);
	leaf(pol, "ack-required", p->ack_required ? "true" : "false");
	for (int i = 0; i < RUM_AGENT_POL_N; i++) {
		struct rum_xml_node *c = rum_xml_add(pol, names[i], NULL);
		leaf_u(c, "reporting-first-time", p->attrs[i].first);
		leaf_u(c, "reporting-ongoing", p->attrs[i].ongoing);
		leaf_u(c, "reporting-macd", p->attrs[i].macd);
	}
}

static const char *yang_report_state(enum rum_agent_report_state s)
{
	switch (s) {
	case RUM_AGENT_REPORT_OPEN: return "rum-report-state-open";
	case RUM_AGENT_REPORT_CLOSED: return "rum-report-state-closed";
	case RUM_AGENT_REPORT_UNACK: return "rum-report-state-unacknowledged";
	case RUM_AGENT_REPORT_ACK: return "rum-report-state-acknowledged";
	}
	return "rum-report-state-invalid";
}

/* List keys come first: libyang requires it of XML instance data. */
static void state_info(struct rum_xml_node *state, const struct rum_agent_state *st)
{
	struct rum_xml_node *si = rum_xml_add(state, "state-info", NULL), *n;
	char key[200], name[64];

	n = rum_xml_add(si, "transport", NULL);
	leaf(n, "transport-type",
	     strcmp(st->transport, "cslu") == 0 ? "transport-type-cslu" : "transport-type-off");
	n = rum_xml_add(si, "privacy", NULL);
	leaf(n, "hostname", "false");
	leaf(n, "version", "false");
	udi(si, st);
	for (size_t i = 0; i < st->n_ent; i++) {
		if (!st->ent[i].count)
			continue;
		n = rum_xml_add(si, "usage", NULL);
		leaf(n, "entitlement-tag", st->ent[i].tag);
		rum_agent_short_name(name, sizeof(name), st->ent[i].tag);
		leaf(n, "short-name", name);
		leaf_u(n, "count", st->ent[i].count);
		leaf(n, "enforcement-mode", "enforcement-in-compliance");
		leaf(n, "post-paid", "false");
	}
	policy_xml(si, st);
	rum_agent_state_udi_key(st, key, sizeof(key));
	n = rum_xml_add(si, "trust-code", NULL);
	leaf(n, "key_udi", key);
	leaf(n, "is-installed", st->trust_time ? "true" : "false");
	if (st->trust_time)
		leaf_time(n, "time-installed", st->trust_time);
	udi(n, st);
	for (size_t i = 0; i < st->n_rep; i++) {
		const struct rum_agent_report *r = &st->rep[i];

		if (r->state == RUM_AGENT_REPORT_OPEN)
			continue;
		n = rum_xml_add(si, "rum-reports-closed-keys", NULL);
		snprintf(key, sizeof(key), "%llu", (unsigned long long)r->id);
		leaf(n, "rum-report-key", key);
		leaf_u(n, "report-id", r->id);
		udi(n, st);
		leaf_time(n, "report-start-time", r->start);
		leaf_time(n, "report-end-time", r->end);
		leaf(n, "report-state", yang_report_state(r->state));
	}
	n = rum_xml_add(si, "rum-ack", NULL);
	if (st->last_ack_time)
		leaf_time(n, "last-received-time", st->last_ack_time);
	leaf_time(n, "next-report-deadline", rum_agent_next_ack_deadline(st));
}

/* The content of <licensing> (the element itself declares its namespace). */
static void licensing_fill(struct rum_xml_node *lic, const struct rum_agent_state *st)
{
	struct rum_xml_node *state = rum_xml_add(lic, "state", NULL);

	leaf(state, "always-enabled", "true");
	leaf(state, "smart-enabled", "true");
	leaf(state, "version", "5.9.4_rel/41");
	state_info(state, st);
}

int rum_agent_netconf_state_xml(char **out, const char *dir)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	struct rum_xml_doc *doc;
	int rc;

	if (!st)
		abort();
	rc = rum_agent_op_load(st, dir);
	if (rc == 0) {
		struct rum_xml_node *lic = rum_xml_new(&doc, "licensing", RUM_AGENT_LICENSE_NS);

		licensing_fill(lic, st);
		*out = rum_xml_dump(lic);
		rum_xml_free(doc);
	}
	rum_agent_state_dispose(st);
	free(st);
	return rc;
}

/* ---- session ---- */

struct session {
	const char *dir;
	int out_fd;
	enum rum_netconf_framing_mode mode;
	int closing;
};

static int write_all(int fd, const char *p, size_t len)
{
	while (len) {
		ssize_t n = write(fd, p, len);
		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			return rum_err_set(RUM_EIO, "netconf: write: %s", strerror(errno));
		p += n;
		len -= (size_t)n;
	}
	return 0;
}

static int send_msg(struct session *s, const char *msg)
{
	char *framed;
	size_t len;
	int rc = rum_netconf_framing_encode(&framed, &len, s->mode, msg, strlen(msg));

	if (rc < 0)
		return rc;
	rc = write_all(s->out_fd, framed, len);
	free(framed);
	return rc;
}

static int copy_attr(void *reply, const char *ns, const char *name, const char *value)
{
	if (!ns)
		rum_xml_set_attr(reply, name, value);
	return 0;
}

/* A reply document: <rpc-reply> with the request's unprefixed attributes
 * (RFC 6241 4.2); rpc NULL when the request could not be read. */
static struct rum_xml_node *reply_new(struct rum_xml_doc **doc, const struct rum_xml_node *rpc)
{
	struct rum_xml_node *r = rum_xml_new(doc, "rpc-reply", NC_NS);

	if (rpc)
		rum_xml_attrs(rpc, copy_attr, r);
	return r;
}

static void rpc_error(struct rum_xml_node *reply, const char *type, const char *tag,
		      const char *msg, const char *bad_attr, const char *bad_elem)
{
	struct rum_xml_node *e = rum_xml_add(reply, "rpc-error", NULL), *info;

	leaf(e, "error-type", type);
	leaf(e, "error-tag", tag);
	leaf(e, "error-severity", "error");
	if (msg)
		rum_xml_set_attr(leaf(e, "error-message", msg), "xml:lang", "en");
	if (bad_attr || bad_elem) {
		info = rum_xml_add(e, "error-info", NULL);
		if (bad_attr)
			leaf(info, "bad-attribute", bad_attr);
		if (bad_elem)
			leaf(info, "bad-element", bad_elem);
	}
}

static int in_ns(const struct rum_xml_node *n, const char *ns)
{
	const char *have = rum_xml_ns(n);

	return have && strcmp(have, ns) == 0;
}

static int is(const struct rum_xml_node *n, const char *name)
{
	return strcmp(rum_xml_name(n), name) == 0;
}

/* Does a <get> filter select the licensing state? No filter: yes. A subtree
 * filter: when it names licensing in our namespace (with no children, or a
 * <state> child). An XPath filter: when it mentions licensing. */
static int wants_state(const struct rum_xml_node *get)
{
	const struct rum_xml_node *f = rum_xml_child(get, "filter"), *lic;
	char *sel;
	int yes;

	if (!f)
		return 1;
	sel = rum_xml_attr(f, "select");
	if (sel) {
		yes = strstr(sel, "licensing") != NULL;
		free(sel);
		return yes;
	}
	for (lic = rum_xml_first(f); lic; lic = rum_xml_next(lic))
		if (is(lic, "licensing") && in_ns(lic, RUM_AGENT_LICENSE_NS))
			return !rum_xml_first(lic) || rum_xml_child(lic, "state") != NULL;
	return 0;
}

static void do_get(struct session *s, struct rum_xml_node *reply, const struct rum_xml_node *op)
{
	struct rum_agent_state *st;
	struct rum_xml_node *lic;

	if (!wants_state(op)) {
		rum_xml_add(reply, "data", NULL);
		return;
	}
	st = calloc(1, sizeof(*st));
	if (!st)
		abort();
	if (rum_agent_op_load(st, s->dir) < 0) {
		rpc_error(reply, "application", "operation-failed", rum_err_msg(), NULL, NULL);
	} else {
		lic = rum_xml_add(rum_xml_add(reply, "data", NULL), "licensing", NULL);
		rum_xml_set_ns(lic, RUM_AGENT_LICENSE_NS);
		licensing_fill(lic, st);
	}
	rum_agent_state_dispose(st);
	free(st);
}

static void license_rpc(struct session *s, struct rum_xml_node *reply,
			const struct rum_xml_node *op)
{
	const char *name = rum_xml_name(op);
	char path[256], days_s[16], summary[512];
	unsigned long days = 0;
	int rc;

	const struct rum_xml_node *fp = rum_xml_child(op, "file-path");
	size_t n;
	char *v = rum_xml_text(fp, &n);

	if (n < 1 || n > 127) {
		free(v);
		rpc_error(reply, "application", fp ? "invalid-value" : "missing-element",
			  "file-path (1..127 characters) is required", NULL, "file-path");
		return;
	}
	snprintf(path, sizeof(path), "%s", v);
	free(v);
	if (strcmp(name, "import-file") == 0) {
		rc = rum_agent_op_import(s->dir, path, 0, summary, sizeof(summary));
	} else {
		enum rum_agent_save_mode mode = strcmp(name, "rum-save-usage-all") == 0
							? RUM_AGENT_SAVE_ALL
						: strcmp(name, "rum-save-usage-days") == 0
							? RUM_AGENT_SAVE_DAYS
							: RUM_AGENT_SAVE_UNREPORTED;
		if (mode == RUM_AGENT_SAVE_DAYS) {
			const struct rum_xml_node *d = rum_xml_child(op, "days");
			char *dv = d ? rum_xml_text(d, NULL) : NULL; /* no <days>: 90 */
			char *end;

			snprintf(days_s, sizeof(days_s), "%s", dv ? dv : "90");
			free(dv);
			days = strtoul(days_s, &end, 10);
			if (*end || days_s[0] == '-' || days > 3650) {
				rpc_error(reply, "application", "invalid-value",
					  "days must be 0..3650", NULL, "days");
				return;
			}
		}
		rc = rum_agent_op_save_usage(s->dir, mode, (uint32_t)days, path, 0);
	}
	if (rc < 0)
		rum_log_warn("netconf %s %s: %s", name, path, rum_err_msg());
	rum_xml_set_ns(leaf(reply, "return-code", rum_agent_op_return_code(rc)),
		       RUM_AGENT_LICENSE_NS);
}

/* Handles one <rpc>; returns the reply text (caller frees). A request that
 * is not XML, or declares a DTD, gets a malformed-message error saying why. */
static char *handle_rpc(struct session *s, const char *msg, size_t len)
{
	struct rum_xml_doc *in = NULL, *out;
	struct rum_xml_node *reply;
	const struct rum_xml_node *rpc, *op;
	char *mid, *text;

	while (len && *msg != '<') { /* tolerate a newline or junk between messages */
		msg++;
		len--;
	}
	if (rum_xml_parse(&in, msg, len, "rpc") < 0) {
		reply = reply_new(&out, NULL);
		rpc_error(reply, "rpc", "malformed-message", rum_err_msg(), NULL, NULL);
		goto done;
	}
	rpc = rum_xml_root(in);
	if (!is(rpc, "rpc") || !in_ns(rpc, NC_NS)) {
		reply = reply_new(&out, NULL);
		rpc_error(reply, "rpc", "malformed-message",
			  "expected an <rpc> in the NETCONF base namespace", NULL, NULL);
		goto done;
	}
	reply = reply_new(&out, rpc);
	mid = rum_xml_attr(rpc, "message-id");
	if (!mid) {
		rpc_error(reply, "rpc", "missing-attribute", "rpc has no message-id", "message-id",
			  "rpc");
		goto done;
	}
	free(mid);
	op = rum_xml_first(rpc);
	if (!op) {
		rpc_error(reply, "protocol", "missing-element", "rpc has no operation", NULL,
			  "rpc");
	} else if (in_ns(op, NC_NS) && is(op, "get")) {
		do_get(s, reply, op);
	} else if (in_ns(op, NC_NS) && is(op, "close-session")) {
		rum_xml_add(reply, "ok", NULL);
		s->closing = 1;
	} else if (in_ns(op, RUM_AGENT_LICENSE_NS) &&
		   (is(op, "rum-save-usage-all") || is(op, "rum-save-usage-unreported") ||
		    is(op, "rum-save-usage-days") || is(op, "import-file"))) {
		license_rpc(s, reply, op);
	} else {
		char m[200];
		snprintf(m, sizeof(m), "operation %.100s is not supported by this device",
			 rum_xml_name(op));
		rpc_error(reply, in_ns(op, NC_NS) ? "protocol" : "application",
			  "operation-not-supported", m, NULL, rum_xml_name(op));
	}
done:
	text = rum_xml_dump(reply);
	rum_xml_free(out);
	rum_xml_free(in);
	return text;
}

static int is_space(char c)
{
	return c == ' ' || c == '\n' || c == '\t' || c == '\r';
}

/* The client's hello: base:1.1 in both hellos selects chunked framing. A
 * hello that is not XML, or declares a DTD, ends the session. */
static int handle_hello(struct session *s, const char *msg, size_t len, int offer11)
{
	struct rum_xml_doc *in;
	const struct rum_xml_node *root, *c;
	int has11 = 0, has10 = 0, rc;

	while (len && *msg != '<') {
		msg++;
		len--;
	}
	if ((rc = rum_xml_parse(&in, msg, len, "hello")) < 0)
		return rum_err_set(rc, "netconf: %s", rum_err_msg());
	root = rum_xml_root(in);
	if (!is(root, "hello") || !in_ns(root, NC_NS)) {
		rum_xml_free(in);
		return rum_err_set(RUM_EINVAL, "netconf: first message is not a <hello>");
	}
	for (c = rum_xml_first(rum_xml_child(root, "capabilities")); c; c = rum_xml_next(c)) {
		char *t = rum_xml_text(c, NULL), buf[128];
		const char *p;
		size_t n;

		for (p = t; is_space(*p); p++)
			;
		snprintf(buf, sizeof(buf), "%s", p);
		for (n = strlen(buf); n && is_space(buf[n - 1]); n--)
			buf[n - 1] = '\0';
		has11 |= strcmp(buf, BASE11) == 0;
		has10 |= strcmp(buf, BASE10) == 0;
		free(t);
	}
	rum_xml_free(in);
	if (!has10 && !(has11 && offer11))
		return rum_err_set(RUM_EINVAL, "netconf: client offers no common base capability");
	s->mode = has11 && offer11 ? RUM_NETCONF_FRAMING_CHUNKED : RUM_NETCONF_FRAMING_EOM;
	return 0;
}

static int send_hello(struct session *s, int offer11)
{
	char msg[1024];

	snprintf(msg, sizeof(msg),
		 "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<hello xmlns=\"" NC_NS
		 "\"><capabilities>"
		 "<capability>" BASE10 "</capability>%s"
		 "<capability>" RUM_AGENT_LICENSE_NS
		 "?module=cisco-smart-license&amp;revision=2021-03-01</capability>"
		 "</capabilities><session-id>%ld</session-id></hello>",
		 offer11 ? "<capability>" BASE11 "</capability>" : "",
		 (long)getpid() % 2147483647 + 1);
	return send_msg(s, msg);
}

int rum_agent_netconf_serve(const char *dir, int in_fd, int out_fd)
{
	struct session s = {.dir = dir, .out_fd = out_fd, .mode = RUM_NETCONF_FRAMING_EOM};
	struct rum_netconf_framing f;
	const char *base = getenv("RUM_AGENT_NETCONF_BASE");
	int offer11 = !(base && strcmp(base, "1.0") == 0);
	int hello_done = 0, rc;
	char buf[65536];
	struct rum_agent_state probe;

	if ((rc = rum_agent_op_load(&probe, dir)) < 0) /* fail early, before any hello */
		return rc;
	rum_agent_state_dispose(&probe);
	rum_netconf_framing_init(&f, RUM_AGENT_NETCONF_MAX_MSG);
	if ((rc = send_hello(&s, offer11)) < 0)
		goto out;
	while (!s.closing) {
		ssize_t n = read(in_fd, buf, sizeof(buf));
		size_t off = 0;

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			break; /* the client went away */
		while (off < (size_t)n && !s.closing) {
			size_t used;
			char *msg;
			size_t len;

			rc = rum_netconf_framing_feed(&f, buf + off, (size_t)n - off, &used);
			off += used;
			if (rc < 0)
				goto out;
			if (rc == 0)
				break;
			rum_netconf_framing_take(&f, &msg, &len);
			if (!hello_done) {
				rc = handle_hello(&s, msg, len, offer11);
				if (rc == 0)
					rc = rum_netconf_framing_set_mode(&f, s.mode);
				hello_done = 1;
			} else {
				char *reply = handle_rpc(&s, msg, len);
				rc = send_msg(&s, reply);
				free(reply);
			}
			free(msg);
			if (rc < 0)
				goto out;
		}
	}
	rc = 0;
out:
	rum_netconf_framing_dispose(&f);
	return rc;
}
