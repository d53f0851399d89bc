/* NETCONF reply reader, see netconf_xml.h. */
#include "collector/netconf_xml.h"

#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/strict.h"
#include "lib/xml.h"

#define NX_MAX_ERRORS 3 /* rpc-errors quoted in a reply's error text */

typedef bool nx_match_fn(const struct rum_xml_node *n, const char *name);

static bool nx_space(char c)
{
	return c == ' ' || c == '\t' || c == '\n' || c == '\r';
}

static bool nx_ns_is(const struct rum_xml_node *n, const char *ns)
{
	const char *have = rum_xml_ns(n);

	return have && strcmp(have, ns) == 0;
}

/* A base-protocol element below the root: in the base namespace, or in none
 * (a device that prefixes only the root, <nc:hello xmlns:nc=...>). */
static bool nx_is_nc(const struct rum_xml_node *n, const char *name)
{
	return strcmp(rum_xml_name(n), name) == 0 &&
	       (!rum_xml_ns(n) || nx_ns_is(n, RUM_NETCONF_NS));
}

/* A cisco-smart-license element: in its namespace, in none, or in the base
 * namespace inherited from an rpc-reply's default namespace when the device
 * did not declare its own. Another module's element of the same name is not. */
static bool nx_is_lic(const struct rum_xml_node *n, const char *name)
{
	return strcmp(rum_xml_name(n), name) == 0 &&
	       (!rum_xml_ns(n) || nx_ns_is(n, RUM_LICENSE_NS) || nx_ns_is(n, RUM_NETCONF_NS));
}

static const struct rum_xml_node *nx_child(const struct rum_xml_node *parent, const char *name,
					   nx_match_fn *match)
{
	for (const struct rum_xml_node *c = rum_xml_first(parent); c; c = rum_xml_next(c))
		if (match(c, name))
			return c;
	return NULL;
}

static size_t nx_count(const struct rum_xml_node *parent, const char *name, nx_match_fn *match)
{
	size_t n = 0;

	for (const struct rum_xml_node *c = rum_xml_first(parent); c; c = rum_xml_next(c))
		n += match(c, name);
	return n;
}

/* Parses buf from its first '<' (devices may send a newline or banner
 * residue first) and checks that the root is <root_name> in the NETCONF
 * base namespace, whatever its prefix. */
static int nx_open(struct rum_xml_doc **doc, const struct rum_xml_node **root, const char *buf,
		   size_t len, const char *root_name)
{
	const char *lt = len ? memchr(buf, '<', len) : NULL;
	char what[32];
	int rc;

	*doc = NULL;
	snprintf(what, sizeof(what), "netconf %s", root_name);
	if (!lt)
		return rum_err_set(RUM_EINVAL, "%s: not XML (no '<' in %zu bytes)", what, len);
	rc = rum_xml_parse(doc, lt, len - (size_t)(lt - buf), what);
	if (rc < 0)
		return rc;
	*root = rum_xml_root(*doc);
	if (strcmp(rum_xml_name(*root), root_name) != 0 || !nx_ns_is(*root, RUM_NETCONF_NS)) {
		rc = rum_err_set(RUM_EINVAL, "%s: the root is <%.64s> in namespace %.128s", what,
				 rum_xml_name(*root),
				 rum_xml_ns(*root) ? rum_xml_ns(*root) : "(none)");
		rum_xml_free(*doc);
		*doc = NULL;
	}
	return rc;
}

/* The text of n with surrounding whitespace removed, malloc'd; NULL for a
 * NULL n. Longer than RUM_NETCONF_XML_MAX_TEXT: RUM_ETOOBIG, since a value
 * cut short would be kept as if it were the device's. */
static int nx_leaf(char **out, const struct rum_xml_node *n, const char *what)
{
	size_t len, a = 0;
	char *t;

	*out = NULL;
	if (!n)
		return 0;
	t = rum_xml_text(n, &len);
	while (a < len && nx_space(t[a]))
		a++;
	while (len > a && nx_space(t[len - 1]))
		len--;
	if (len - a > RUM_NETCONF_XML_MAX_TEXT) {
		free(t);
		return rum_err_set(RUM_ETOOBIG, "netconf: %s longer than %d bytes", what,
				   RUM_NETCONF_XML_MAX_TEXT);
	}
	memmove(t, t + a, len - a);
	t[len - a] = '\0';
	*out = t;
	return 0;
}

/* The leaf child name of parent (see nx_leaf); absent gives NULL. */
static int nx_leaf_of(char **out, const struct rum_xml_node *parent, const char *name,
		      nx_match_fn *match)
{
	return nx_leaf(out, parent ? nx_child(parent, name, match) : NULL, name);
}

/* ---- hello ---- */

static void nx_capability(struct rum_netconf_hello *out, const struct rum_xml_node *c)
{
	size_t len, a = 0, n = strlen(RUM_LICENSE_NS);
	char *t = rum_xml_text(c, &len);

	while (a < len && nx_space(t[a]))
		a++;
	while (len > a && nx_space(t[len - 1]))
		t[--len] = '\0';
	out->base10 |= strcmp(t + a, RUM_NETCONF_BASE10) == 0;
	out->base11 |= strcmp(t + a, RUM_NETCONF_BASE11) == 0;
	out->licensing |= strncmp(t + a, RUM_LICENSE_NS, n) == 0 &&
			  (t[a + n] == '\0' || t[a + n] == '?');
	free(t);
}

/* RFC 6241: session-id is 1..4294967295. */
static int nx_session_id(int64_t *out, const struct rum_xml_node *n)
{
	char *t;
	int rc = nx_leaf(&t, n, "session-id");

	if (rc < 0)
		return rc;
	if (rum_strict_uint_n(out, t, strlen(t)) < 0 || *out < 1 || *out > 4294967295LL)
		rc = rum_err_set(RUM_EINVAL,
				 "netconf hello: session-id is not 1..4294967295: %.40s", t);
	free(t);
	return rc;
}

int rum_netconf_xml_hello(struct rum_netconf_hello *out, const char *buf, size_t len)
{
	struct rum_xml_doc *doc;
	const struct rum_xml_node *root, *caps, *sid;
	size_t n = 0;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = nx_open(&doc, &root, buf, len, "hello")) < 0)
		return rc;
	caps = nx_child(root, "capabilities", nx_is_nc);
	for (const struct rum_xml_node *c = rum_xml_first(caps); c; c = rum_xml_next(c)) {
		if (!nx_is_nc(c, "capability"))
			continue;
		nx_capability(out, c);
		n++;
	}
	if (n == 0) {
		rc = rum_err_set(RUM_EINVAL, "netconf hello: no capabilities");
		goto out;
	}
	sid = nx_child(root, "session-id", nx_is_nc);
	if (sid)
		rc = nx_session_id(&out->session_id, sid);
out:
	if (rc < 0)
		memset(out, 0, sizeof(*out));
	rum_xml_free(doc);
	return rc;
}

/* ---- rpc-reply ---- */

/* Appends s to buf (size bytes, *used in use), each control character
 * turned into a space (the text ends up in one-line messages and logs), cut
 * at a UTF-8 character boundary when full. */
static void nx_append(char *buf, size_t size, size_t *used, const char *s)
{
	size_t i = 0;

	while (s[i] && *used + 1 < size) {
		unsigned char c = (unsigned char)s[i++];
		buf[(*used)++] = c < 0x20 || c == 0x7f ? ' ' : (char)c;
	}
	if (((unsigned char)s[i] & 0xc0) == 0x80) { /* cut inside a character: drop its start */
		while (*used > 0 && ((unsigned char)buf[*used - 1] & 0xc0) == 0x80)
			(*used)--;
		if (*used > 0 && (unsigned char)buf[*used - 1] >= 0xc0)
			(*used)--;
	}
	buf[*used] = '\0';
}

/* The trimmed text of a descriptive element, never refused for its size
 * (the caller cuts it): malloc'd, NULL when absent or empty. */
static char *nx_desc(const struct rum_xml_node *parent, const char *name)
{
	const struct rum_xml_node *n = nx_child(parent, name, nx_is_nc);
	size_t len, a = 0;
	char *t;

	if (!n)
		return NULL;
	t = rum_xml_text(n, &len);
	while (a < len && nx_space(t[a]))
		a++;
	while (len > a && nx_space(t[len - 1]))
		len--;
	t[len] = '\0';
	if (a == len) {
		free(t);
		return NULL;
	}
	memmove(t, t + a, len - a + 1);
	return t;
}

/* One rpc-error as "tag: message"; without a message (IOS-XE leaves it out
 * at times) the tag and type say what there is to say. */
static void nx_error_text(char *buf, size_t size, size_t *used, const struct rum_xml_node *e)
{
	char *type = nx_desc(e, "error-type"), *tag = nx_desc(e, "error-tag");
	char *msg = nx_desc(e, "error-message");

	if (tag) {
		nx_append(buf, size, used, tag);
		nx_append(buf, size, used, msg ? ": " : "");
	}
	if (msg) {
		nx_append(buf, size, used, msg);
	} else if (type) {
		nx_append(buf, size, used, tag ? " (" : "");
		nx_append(buf, size, used, type);
		nx_append(buf, size, used, tag ? " error)" : " error");
	} else if (!tag) {
		nx_append(buf, size, used, "rpc-error with no tag, type or message");
	}
	free(type);
	free(tag);
	free(msg);
}

/* An rpc-error that is not a mere warning (RFC 6241 4.3). */
static bool nx_is_failure(const struct rum_xml_node *n)
{
	char *sev;
	bool warning;

	if (!nx_is_nc(n, "rpc-error"))
		return false;
	sev = nx_desc(n, "error-severity");
	warning = sev && strcmp(sev, "warning") == 0;
	free(sev);
	return !warning;
}

/* The first NX_MAX_ERRORS failures, "; "-joined, cut at
 * RUM_NETCONF_XML_MAX_TEXT bytes: people read it, nothing parses it. */
static char *nx_errors(const struct rum_xml_node *reply, size_t n_errors)
{
	char buf[RUM_NETCONF_XML_MAX_TEXT + 1] = "", more[48];
	size_t used = 0, i = 0;
	char *s;

	for (const struct rum_xml_node *c = rum_xml_first(reply); c && i < NX_MAX_ERRORS;
	     c = rum_xml_next(c)) {
		if (!nx_is_failure(c))
			continue;
		nx_append(buf, sizeof(buf), &used, i++ ? "; " : "");
		nx_error_text(buf, sizeof(buf), &used, c);
	}
	if (n_errors > i) {
		snprintf(more, sizeof(more), " (and %zu more)", n_errors - i);
		nx_append(buf, sizeof(buf), &used, more);
	}
	s = strdup(buf);
	if (!s)
		abort();
	return s;
}

static size_t nx_count_failures(const struct rum_xml_node *reply)
{
	size_t n = 0;

	for (const struct rum_xml_node *c = rum_xml_first(reply); c; c = rum_xml_next(c))
		n += nx_is_failure(c);
	return n;
}

static int nx_reply_read(struct rum_netconf_reply *out, const struct rum_xml_node *root)
{
	size_t n_errors = nx_count_failures(root);
	int rc;

	out->message_id = rum_xml_attr(root, "message-id");
	if (out->message_id && strlen(out->message_id) > RUM_NETCONF_XML_MAX_TEXT)
		return rum_err_set(RUM_ETOOBIG,
				   "netconf rpc-reply: message-id longer than %d bytes",
				   RUM_NETCONF_XML_MAX_TEXT);
	if (n_errors) {
		out->kind = RUM_NETCONF_REPLY_ERROR;
		out->error = nx_errors(root, n_errors);
		return 0;
	}
	if (nx_child(root, "ok", nx_is_nc)) {
		out->kind = RUM_NETCONF_REPLY_OK;
		return 0;
	}
	if (nx_child(root, "data", nx_is_nc)) {
		out->kind = RUM_NETCONF_REPLY_DATA;
		return 0;
	}
	out->kind = RUM_NETCONF_REPLY_OUTPUT;
	if ((rc = nx_leaf_of(&out->return_code, root, "return-code", nx_is_lic)) < 0)
		return rc;
	return nx_leaf_of(&out->confirmation, root, "confirmation-codes", nx_is_lic);
}

int rum_netconf_xml_reply(struct rum_netconf_reply *out, const char *buf, size_t len)
{
	struct rum_xml_doc *doc;
	const struct rum_xml_node *root;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = nx_open(&doc, &root, buf, len, "rpc-reply")) < 0)
		return rc;
	rc = nx_reply_read(out, root);
	if (rc < 0)
		rum_netconf_reply_dispose(out);
	rum_xml_free(doc);
	return rc;
}

void rum_netconf_reply_dispose(struct rum_netconf_reply *r)
{
	if (!r)
		return;
	free(r->message_id);
	free(r->error);
	free(r->return_code);
	free(r->confirmation);
	memset(r, 0, sizeof(*r));
}

/* ---- licensing state ---- */

static int nx_lic_udi(struct rum_netconf_licensing *out, const struct rum_xml_node *si)
{
	const struct rum_xml_node *udi = nx_child(si, "udi", nx_is_lic);
	int rc;

	if ((rc = nx_leaf_of(&out->pid, udi, "pid", nx_is_lic)) < 0 ||
	    (rc = nx_leaf_of(&out->sn, udi, "sn", nx_is_lic)) < 0)
		return rc;
	if ((!out->pid || !out->pid[0]) && (!out->sn || !out->sn[0]))
		return rum_err_set(RUM_EINVAL, "netconf licensing state: no UDI (state-info/udi "
					       "has no pid and no sn)");
	return 0;
}

static int nx_lic_policy(struct rum_netconf_licensing *out, const struct rum_xml_node *si)
{
	const struct rum_xml_node *p = nx_child(si, "policy", nx_is_lic);
	int rc = nx_leaf_of(&out->policy_name, p, "policy-name", nx_is_lic);

	return rc < 0 ? rc : nx_leaf_of(&out->policy_type, p, "policy-type", nx_is_lic);
}

/* trust-code is a list, one entry per member of an HA system: the device
 * is trusted when one of them holds a trust code; the time is that entry's. */
static int nx_lic_trust(struct rum_netconf_licensing *out, const struct rum_xml_node *si)
{
	for (const struct rum_xml_node *c = rum_xml_first(si); c; c = rum_xml_next(c)) {
		char *inst;
		int rc;

		if (!nx_is_lic(c, "trust-code"))
			continue;
		if ((rc = nx_leaf_of(&inst, c, "is-installed", nx_is_lic)) < 0)
			return rc;
		out->trust_installed = inst &&
				       (strcmp(inst, "true") == 0 || strcmp(inst, "1") == 0);
		free(inst);
		if (out->trust_installed)
			return nx_leaf_of(&out->trust_time, c, "time-installed", nx_is_lic);
	}
	return 0;
}

static int nx_lic_ack(struct rum_netconf_licensing *out, const struct rum_xml_node *si)
{
	const struct rum_xml_node *a = nx_child(si, "rum-ack", nx_is_lic);
	int rc = nx_leaf_of(&out->last_ack_time, a, "last-received-time", nx_is_lic);

	return rc < 0 ? rc
		      : nx_leaf_of(&out->next_report_deadline, a, "next-report-deadline",
				   nx_is_lic);
}

/* count is a uint32 in the model; anything else is kept as unknown (-1). */
static int nx_usage_entry(struct rum_netconf_usage *u, const struct rum_xml_node *n)
{
	char *count;
	int rc;

	u->count = -1;
	if ((rc = nx_leaf_of(&u->tag, n, "entitlement-tag", nx_is_lic)) < 0 ||
	    (rc = nx_leaf_of(&u->name, n, "short-name", nx_is_lic)) < 0 ||
	    (rc = nx_leaf_of(&u->enforcement_mode, n, "enforcement-mode", nx_is_lic)) < 0 ||
	    (rc = nx_leaf_of(&count, n, "count", nx_is_lic)) < 0)
		return rc;
	if (count &&
	    (rum_strict_uint_n(&u->count, count, strlen(count)) < 0 || u->count > 4294967295LL))
		u->count = -1;
	free(count);
	return 0;
}

static void nx_usage_dispose(struct rum_netconf_usage *u)
{
	free(u->tag);
	free(u->name);
	free(u->enforcement_mode);
	memset(u, 0, sizeof(*u));
}

/* Entries without their key (entitlement-tag) are skipped: nothing could
 * name them. More than RUM_NETCONF_XML_MAX_USAGE: RUM_ETOOBIG rather than a
 * snapshot that silently misses licenses. */
static int nx_lic_usage(struct rum_netconf_licensing *out, const struct rum_xml_node *si)
{
	size_t n = nx_count(si, "usage", nx_is_lic);
	int rc;

	if (n > RUM_NETCONF_XML_MAX_USAGE)
		return rum_err_set(RUM_ETOOBIG,
				   "netconf licensing state: %zu usage entries, "
				   "more than %d",
				   n, RUM_NETCONF_XML_MAX_USAGE);
	out->usage = n ? calloc(n, sizeof(*out->usage)) : NULL;
	if (n && !out->usage)
		abort();
	for (const struct rum_xml_node *c = rum_xml_first(si); c; c = rum_xml_next(c)) {
		struct rum_netconf_usage *u;

		if (!nx_is_lic(c, "usage"))
			continue;
		u = &out->usage[out->n_usage];
		rc = nx_usage_entry(u, c);
		if (rc == 0 && u->tag && u->tag[0]) {
			out->n_usage++;
			continue;
		}
		nx_usage_dispose(u);
		if (rc < 0)
			return rc;
	}
	return 0;
}

static json_t *nx_usage_json(const struct rum_netconf_licensing *l)
{
	json_t *a = json_array();

	for (size_t i = 0; a && i < l->n_usage; i++) {
		const struct rum_netconf_usage *u = &l->usage[i];
		json_t *e = json_pack("{s:s,s:s?,s:o,s:s?}", "tag", u->tag, "name", u->name,
				      "count", u->count < 0 ? json_null() : json_integer(u->count),
				      "enforcement_mode", u->enforcement_mode);

		if (!e || json_array_append_new(a, e) < 0) {
			json_decref(a);
			return NULL;
		}
	}
	return a;
}

/* json_pack refuses text that is not UTF-8; libxml2 hands out UTF-8 only,
 * so a failure here is not expected but is still an input error. */
int rum_netconf_licensing_render(struct rum_netconf_licensing *l)
{
	json_t *usage = nx_usage_json(l), *j;

	j = usage ? json_pack("{s:s?,s:s?,s:s?,s:{s:s?,s:s?},s:{s:b,s:s?},s:{s:s?,s:s?},s:o,s:I}",
			      "pid", l->pid, "sn", l->sn, "version", l->version, "policy", "name",
			      l->policy_name, "type", l->policy_type, "trust", "installed",
			      l->trust_installed, "time", l->trust_time, "rum_ack",
			      "last_received_time", l->last_ack_time, "next_report_deadline",
			      l->next_report_deadline, "usage", usage, "closed_reports",
			      (json_int_t)l->n_closed_reports)
		  : NULL;
	if (!j)
		return rum_err_set(RUM_EINVAL, "licensing state: text is not UTF-8");
	l->json = json_dumps(j, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(j);
	if (!l->json)
		abort();
	return 0;
}

static int nx_lic_read(struct rum_netconf_licensing *out, const struct rum_xml_node *state)
{
	const struct rum_xml_node *si = nx_child(state, "state-info", nx_is_lic);
	int rc;

	if (!si)
		return rum_err_set(RUM_EINVAL, "netconf licensing state: no UDI (no state-info)");
	if ((rc = nx_lic_udi(out, si)) < 0 ||
	    (rc = nx_leaf_of(&out->version, state, "version", nx_is_lic)) < 0 ||
	    (rc = nx_lic_policy(out, si)) < 0 || (rc = nx_lic_trust(out, si)) < 0 ||
	    (rc = nx_lic_ack(out, si)) < 0 || (rc = nx_lic_usage(out, si)) < 0)
		return rc;
	out->n_closed_reports = nx_count(si, "rum-reports-closed-keys", nx_is_lic);
	return rum_netconf_licensing_render(out);
}

/* data/licensing/state of a reply, or the reason there is none. */
static int nx_lic_state(const struct rum_xml_node **state, const struct rum_xml_node *root)
{
	size_t n_errors = nx_count_failures(root);
	const struct rum_xml_node *data, *lic;
	int rc;

	if (n_errors) {
		char *e = nx_errors(root, n_errors);

		rc = rum_err_set(RUM_EINVAL,
				 "netconf get licensing: the device answered "
				 "rpc-error: %s",
				 e);
		free(e);
		return rc;
	}
	data = nx_child(root, "data", nx_is_nc);
	if (!data)
		return rum_err_set(RUM_EINVAL,
				   "netconf get licensing: the rpc-reply has no <data>");
	lic = nx_child(data, "licensing", nx_is_lic);
	*state = nx_child(lic, "state", nx_is_lic);
	if (!*state)
		return rum_err_set(RUM_EINVAL, "netconf get licensing: no licensing/state in the "
					       "data (is cisco-smart-license supported?)");
	return 0;
}

int rum_netconf_xml_licensing(struct rum_netconf_licensing *out, const char *buf, size_t len)
{
	struct rum_xml_doc *doc;
	const struct rum_xml_node *root, *state;
	int rc;

	memset(out, 0, sizeof(*out));
	if ((rc = nx_open(&doc, &root, buf, len, "rpc-reply")) < 0)
		return rc;
	rc = nx_lic_state(&state, root);
	if (rc == 0)
		rc = nx_lic_read(out, state);
	if (rc < 0)
		rum_netconf_licensing_dispose(out);
	rum_xml_free(doc);
	return rc;
}

void rum_netconf_licensing_dispose(struct rum_netconf_licensing *l)
{
	if (!l)
		return;
	free(l->pid);
	free(l->sn);
	free(l->version);
	free(l->policy_name);
	free(l->policy_type);
	free(l->trust_time);
	free(l->last_ack_time);
	free(l->next_report_deadline);
	for (size_t i = 0; i < l->n_usage; i++)
		nx_usage_dispose(&l->usage[i]);
	free(l->usage);
	free(l->json);
	memset(l, 0, sizeof(*l));
}

/* ---- building RPCs ---- */

static const char *nx_entity(unsigned char c)
{
	switch (c) {
	case '&': return "&amp;";
	case '<': return "&lt;";
	case '>': return "&gt;";
	case '"': return "&quot;";
	case '\'': return "&apos;";
	}
	return NULL;
}

int rum_netconf_xml_escape(char **out, size_t *len, const char *text, size_t max)
{
	size_t have = *out ? *len : 0, add = 0;
	char *p;

	for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
		if (*s < 0x20 && *s != '\t' && *s != '\n' && *s != '\r')
			return rum_err_set(RUM_EINVAL,
					   "control character 0x%02x cannot be "
					   "written in XML",
					   *s);
		add += nx_entity(*s) ? strlen(nx_entity(*s)) : 1;
	}
	if (have > max || add > max - have)
		return rum_err_set(RUM_ETOOBIG, "XML text longer than %zu bytes", max);
	p = realloc(*out, have + add + 1);
	if (!p)
		abort();
	for (const unsigned char *s = (const unsigned char *)text; *s; s++) {
		const char *e = nx_entity(*s);
		size_t n = e ? strlen(e) : 1;

		memcpy(p + have, e ? e : (const char *)s, n);
		have += n;
	}
	p[have] = '\0';
	*out = p;
	*len = have;
	return 0;
}
