/* Usage files and ACK files, see files.h. */
#include "agent/files.h"

#include <errno.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

#include "agent/report.h"
#include "lib/err.h"
#include "lib/xml.h"

/* ---- a growing output buffer (out of memory is fatal) ---- */

struct obuf {
	char *p;
	size_t len, cap;
};

static void ob_put(struct obuf *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		size_t cap = b->cap ? b->cap : 4096;
		while (cap < b->len + n + 1)
			cap *= 2;
		b->p = realloc(b->p, cap);
		if (!b->p)
			abort();
		b->cap = cap;
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void ob_str(struct obuf *b, const char *s)
{
	ob_put(b, s, strlen(s));
}

/* Character data: & < > escaped. */
static void ob_text(struct obuf *b, const char *s)
{
	for (; *s; s++) {
		if (*s == '&')
			ob_str(b, "&amp;");
		else if (*s == '<')
			ob_str(b, "&lt;");
		else if (*s == '>')
			ob_str(b, "&gt;");
		else
			ob_put(b, s, 1);
	}
}

/* A CDATA section; a "]]>" inside the text is split across two sections. */
static void ob_cdata(struct obuf *b, const char *s)
{
	const char *m;

	ob_str(b, "<![CDATA[");
	while ((m = strstr(s, "]]>")) != NULL) {
		ob_put(b, s, (size_t)(m - s) + 2);
		ob_str(b, "]]><![CDATA[");
		s = m + 2;
	}
	ob_str(b, s);
	ob_str(b, "]]>");
}

/* ---- usage file ---- */

int rum_agent_save_mode_parse(enum rum_agent_save_mode *mode, const char *word)
{
	if (strcmp(word, "all") == 0)
		*mode = RUM_AGENT_SAVE_ALL;
	else if (strcmp(word, "unreported") == 0)
		*mode = RUM_AGENT_SAVE_UNREPORTED;
	else if (strcmp(word, "days") == 0)
		*mode = RUM_AGENT_SAVE_DAYS;
	else
		return rum_err_set(RUM_EINVAL,
				   "save usage: expected all, unreported or days N, got %s", word);
	return 0;
}

static int selected(const struct rum_agent_report *r, enum rum_agent_save_mode mode, uint32_t days,
		    int64_t now)
{
	if (r->state == RUM_AGENT_REPORT_OPEN)
		return 0;
	switch (mode) {
	case RUM_AGENT_SAVE_ALL: return 1;
	case RUM_AGENT_SAVE_UNREPORTED: return r->state != RUM_AGENT_REPORT_ACK;
	case RUM_AGENT_SAVE_DAYS: return r->end >= now - (int64_t)days * 86400;
	}
	return 0;
}

int rum_agent_usage_build(char **out, size_t *out_len, struct rum_agent_state *st,
			  enum rum_agent_save_mode mode, uint32_t days, int64_t now)
{
	struct obuf b = {0};
	char nonce[20];
	json_t *info;
	char *info_text;
	int rc;

	rc = rum_agent_state_close_open(st, now, "CurrentUsageRequested");
	if (rc < 0)
		return rc;
	if ((rc = rum_agent_random_hex(nonce, sizeof(nonce), 8)) < 0)
		return rc;
	info = json_pack("{s:{s:s,s:s},s:I,s:s,s:s,s:s}", "sudi", "udi_pid", st->pid,
			 "udi_serial_number", st->serial, "timestamp", (json_int_t)now * 1000,
			 "nonce", nonce, "hostname", st->hostname, "software_tag_identifier",
			 st->sw_tag);
	info_text = json_dumps(info, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(info);
	if (!info_text)
		abort();
	ob_str(&b, "<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<smartLicense>\n"
		   "<smartLicenseSystemInfo><data>");
	ob_text(&b, info_text);
	free(info_text);
	ob_str(&b, "</data></smartLicenseSystemInfo>\n");
	for (size_t i = 0; i < st->n_rep; i++) {
		struct rum_agent_report *r = &st->rep[i];

		if (!selected(r, mode, days, now))
			continue;
		ob_str(&b, "<RUMReport>");
		ob_cdata(&b, r->doc);
		ob_str(&b, "</RUMReport>\n");
		if (r->state == RUM_AGENT_REPORT_CLOSED)
			r->state = RUM_AGENT_REPORT_UNACK;
	}
	ob_str(&b, "</smartLicense>\n");
	st->last_file_write = now;
	*out = b.p;
	*out_len = b.len;
	return 0;
}

/* ---- ACK files ---- */

static int is(const struct rum_xml_node *n, const char *name)
{
	return strcmp(rum_xml_name(n), name) == 0;
}

/* Text content of n, trimmed, into buf. Empty when n is NULL. */
static void text_of(char *buf, size_t size, const struct rum_xml_node *n)
{
	char *t = rum_xml_text(n, NULL);
	const char *s = t;
	size_t len;

	while (*s == ' ' || *s == '\t' || *s == '\r' || *s == '\n')
		s++;
	len = strlen(s);
	while (len && (s[len - 1] == ' ' || s[len - 1] == '\t' || s[len - 1] == '\r' ||
		       s[len - 1] == '\n'))
		len--;
	snprintf(buf, size, "%.*s", (int)(len < size ? len : size - 1), s);
	free(t);
}

static int days_of(uint32_t *out, const struct rum_xml_node *parent, const char *name)
{
	char buf[32], *end;
	unsigned long v;
	const struct rum_xml_node *n = rum_xml_child(parent, name);

	if (!n)
		return 0;
	text_of(buf, sizeof(buf), n);
	errno = 0;
	v = strtoul(buf, &end, 10);
	if (!buf[0] || *end || errno || v > 100000 || buf[0] == '-')
		return rum_err_set(RUM_EINVAL, "policy: %s is not a number of days: \"%s\"", name,
				   buf);
	*out = (uint32_t)v;
	return 0;
}

static int parse_policy(struct rum_agent_policy *p, const struct rum_xml_node *pol)
{
	static const char *classes[RUM_AGENT_POL_N] = {"perpetual", "subscription", "enforced",
						       "export"};
	const struct rum_xml_node *code = rum_xml_child(pol, "policyCode");
	char buf[RUM_AGENT_STR];
	uint32_t version = 0;
	int rc;

	if (!code)
		return rum_err_set(RUM_EINVAL, "policy section has no policyCode");
	memset(p, 0, sizeof(*p));
	text_of(p->name, sizeof(p->name), rum_xml_child(code, "name"));
	if (!p->name[0])
		snprintf(p->name, sizeof(p->name), "%s", "unnamed policy");
	if ((rc = days_of(&version, code, "version")) < 0)
		return rc;
	p->version = version;
	text_of(buf, sizeof(buf), rum_xml_child(code, "ackRequired"));
	p->ack_required = strcasecmp(buf, "yes") == 0 || strcasecmp(buf, "true") == 0;
	for (int i = 0; i < RUM_AGENT_POL_N; i++) {
		const struct rum_xml_node *c = rum_xml_child(code, classes[i]);
		if (!c)
			continue;
		if ((rc = days_of(&p->attrs[i].first, c, "firstTimeReport")) < 0 ||
		    (rc = days_of(&p->attrs[i].ongoing, c, "onGoingReporting")) < 0 ||
		    (rc = days_of(&p->attrs[i].macd, c, "reportOnMACD")) < 0)
			return rc;
	}
	p->installed = 1;
	return 0;
}

/* A report id given as a string: whole decimal digits only (a stray "12abc"
 * must not acknowledge report 12). */
static int decimal_id(uint64_t *out, const char *s)
{
	char *end;
	unsigned long long v;

	if (*s < '0' || *s > '9')
		return 0;
	errno = 0;
	v = strtoull(s, &end, 10);
	if (errno || *end)
		return 0;
	*out = (uint64_t)v;
	return 1;
}

uint64_t rum_agent_udi_hash(const char *pid, const char *sn)
{
	uint64_t h = 1469598103934665603ULL; /* FNV-1a */

	for (const char *p = pid; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	h = (h ^ 0xff) * 1099511628211ULL; /* separator no UDI byte can be */
	for (const char *p = sn; *p; p++)
		h = (h ^ (unsigned char)*p) * 1099511628211ULL;
	return h ? h : 1;
}

/* The UDI an ACK entry names beside its report_id ("udi" or "sudi" with
 * udi_pid and udi_serial_number), hashed; 0 when it names none. */
static uint64_t entry_udi(json_t *entry)
{
	json_t *u = json_object_get(entry, "udi");
	const char *pid, *sn;

	if (!json_is_object(u))
		u = json_object_get(entry, "sudi");
	pid = json_string_value(json_object_get(u, "udi_pid"));
	sn = json_string_value(json_object_get(u, "udi_serial_number"));
	return pid && sn ? rum_agent_udi_hash(pid, sn) : 0;
}

/* Collects every "report_id" value (number or decimal string) in the RUM ACK
 * JSON, whose inner layout Cisco has not published. */
static void collect_ids(struct rum_agent_ack *a, json_t *j, int depth)
{
	const char *k;
	json_t *v;
	size_t i;

	if (depth > 32)
		return;
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			collect_ids(a, v, depth + 1);
		return;
	}
	json_object_foreach(j, k, v) {
		if (strcmp(k, "report_id") == 0 && a->n_ids < RUM_AGENT_ACK_MAX_IDS) {
			a->id_udi[a->n_ids] = entry_udi(j);
			if (json_is_integer(v) && json_integer_value(v) >= 0)
				a->ids[a->n_ids++] = (uint64_t)json_integer_value(v);
			else if (json_is_string(v) &&
				 decimal_id(&a->ids[a->n_ids], json_string_value(v)))
				a->n_ids++;
		} else {
			collect_ids(a, v, depth + 1);
		}
	}
}

static int parse_rum_ack(struct rum_agent_ack *a, const struct rum_xml_node *n)
{
	char *t;
	json_error_t e;
	json_t *j;
	const struct rum_xml_node *data = rum_xml_child(n, "data");

	a->has_rum_ack = 1;
	if (!data)
		return 0;
	t = rum_xml_text(data, NULL);
	j = json_loads(t, JSON_DECODE_ANY, &e);
	free(t);
	if (!j)
		return rum_err_set(RUM_EINVAL, "RUM ACK data is not JSON: %s", e.text);
	collect_ids(a, j, 0);
	json_decref(j);
	return 0;
}

static int parse_sections(struct rum_agent_ack *a, const struct rum_xml_node *root)
{
	int known = 0, rc;

	for (const struct rum_xml_node *c = rum_xml_first(root); c; c = rum_xml_next(c)) {
		if (is(c, "smartLicensePolicy")) {
			if ((rc = parse_policy(&a->policy, c)) < 0)
				return rc;
			a->has_policy = 1;
		} else if (is(c, "smartLicenseRumAck")) {
			if ((rc = parse_rum_ack(a, c)) < 0)
				return rc;
		} else if (is(c, "smartLicenseAuthorization")) {
			a->has_auth = 1;
			text_of(a->auth_udi, sizeof(a->auth_udi), rum_xml_child(c, "udi"));
		} else if (is(c, "smartLicenseAccountInfo")) {
			const struct rum_xml_node *ci = rum_xml_child(c, "customerInfo");
			text_of(a->smart_account, sizeof(a->smart_account),
				rum_xml_child(ci, "smartAccount"));
			text_of(a->virtual_account, sizeof(a->virtual_account),
				rum_xml_child(ci, "virtualAccount"));
		} else if (strncmp(rum_xml_name(c), "smartLicense", 12) == 0 &&
			   strcasestr(rum_xml_name(c), "trust")) {
			/* The trust code element name is not public: any smartLicense*Trust*
			 * section. */
			a->has_trust = 1;
		} else {
			continue; /* correlationID and opaque signed sections */
		}
		known++;
	}
	if (!known)
		return rum_err_set(RUM_EINVAL,
				   "smartLicense document holds no policy, RUM ACK, trust code, "
				   "authorization or account section");
	return 0;
}

int rum_agent_ack_parse(struct rum_agent_ack *a, const char *buf, size_t len)
{
	struct rum_xml_doc *doc;
	const struct rum_xml_node *root;
	int rc;

	memset(a, 0, sizeof(*a));
	if (len > RUM_AGENT_FILE_MAX)
		return rum_err_set(RUM_ETOOBIG, "import file larger than %u bytes",
				   RUM_AGENT_FILE_MAX);
	if ((rc = rum_xml_parse(&doc, buf, len, "import file")) < 0)
		return rc;
	root = rum_xml_root(doc);
	if (is(root, "smartLicensePolicy")) {
		rc = parse_policy(&a->policy, root);
		a->has_policy = rc == 0;
	} else if (is(root, "smartLicense")) {
		rc = parse_sections(a, root);
	} else {
		rc = rum_err_set(RUM_EINVAL, "not a smartLicense document (root element <%s>)",
				 rum_xml_name(root));
	}
	rum_xml_free(doc);
	return rc;
}

int rum_agent_ack_apply(struct rum_agent_state *st, const struct rum_agent_ack *ack, int64_t now,
			char *summary, size_t summary_size)
{
	char udi[160];
	size_t acked = 0, off = 0;

	rum_agent_state_udi_key(st, udi, sizeof(udi));
	if (ack->has_auth && ack->auth_udi[0] && strcmp(ack->auth_udi, udi) != 0)
		return rum_err_set(RUM_EINVAL, "authorization is for %s, this device is %s",
				   ack->auth_udi, udi);
	summary[0] = '\0';
	if (ack->has_policy) {
		st->policy = ack->policy;
		st->policy.install_time = now;
		off += (size_t)snprintf(summary + off, summary_size - off,
					"policy \"%s\" installed; ", st->policy.name);
	}
	if (ack->has_rum_ack) {
		uint64_t mine = rum_agent_udi_hash(st->pid, st->serial);

		for (size_t i = 0; i < st->n_rep; i++) {
			struct rum_agent_report *r = &st->rep[i];
			int hit = 0;

			if (ack->n_ids) {
				for (size_t k = 0; k < ack->n_ids && !hit; k++)
					hit = ack->ids[k] == r->id &&
					      (!ack->id_udi[k] || ack->id_udi[k] == mine) &&
					      r->state != RUM_AGENT_REPORT_OPEN;
			} else {
				hit = r->state == RUM_AGENT_REPORT_UNACK;
			}
			if (hit && r->state != RUM_AGENT_REPORT_ACK) {
				r->state = RUM_AGENT_REPORT_ACK;
				acked++;
			}
		}
		st->last_ack_time = now;
		if (off < summary_size)
			off += (size_t)snprintf(summary + off, summary_size - off,
						"RUM ACK: %zu report(s) acknowledged; ", acked);
	}
	if (ack->has_trust) {
		st->trust_time = now;
		if (off < summary_size)
			off += (size_t)snprintf(summary + off, summary_size - off,
						"trust code installed; ");
	}
	if (ack->has_auth && off < summary_size)
		off += (size_t)snprintf(summary + off, summary_size - off,
					"authorization code installed; ");
	if (ack->smart_account[0] || ack->virtual_account[0]) {
		snprintf(st->smart_account, sizeof(st->smart_account), "%s", ack->smart_account);
		snprintf(st->virtual_account, sizeof(st->virtual_account), "%s",
			 ack->virtual_account);
	}
	if (off >= 2 && off < summary_size)
		summary[off - 2] = '\0'; /* drop the trailing "; " */
	return 0;
}

int rum_agent_import_buf(struct rum_agent_state *st, const char *buf, size_t len, int64_t now,
			 char *summary, size_t summary_size)
{
	struct rum_agent_ack *ack = malloc(sizeof(*ack));
	int rc;

	if (!ack)
		abort();
	rc = rum_agent_ack_parse(ack, buf, len);
	if (rc == 0)
		rc = rum_agent_ack_apply(st, ack, now, summary, summary_size);
	free(ack);
	return rc;
}

int rum_agent_map_path(char *out, size_t size, const char *dir, const char *path, int allow_plain)
{
	static const char *fs[] = {"bootflash:", "flash:", "harddisk:", "usbflash0:"};
	const char *rest = NULL;

	if (strncasecmp(path, "http://", 7) == 0 || strncasecmp(path, "https://", 8) == 0)
		return RUM_ENOTFOUND;
	for (size_t i = 0; i < sizeof(fs) / sizeof(fs[0]) && !rest; i++)
		if (strncmp(path, fs[i], strlen(fs[i])) == 0)
			rest = path + strlen(fs[i]);
	if (!rest) {
		if (!allow_plain || strchr(path, ':'))
			return rum_err_set(
				RUM_EINVAL,
				"unsupported file system in path %s (use bootflash: or http(s)://)",
				path);
		if (snprintf(out, size, "%s", path) >= (int)size)
			return rum_err_set(RUM_EINVAL, "path too long");
		return 0;
	}
	while (*rest == '/')
		rest++;
	if (!*rest || strstr(rest, "..") || strchr(rest, '/') || strchr(rest, '\\'))
		return rum_err_set(RUM_EINVAL,
				   "bad file name in %s (one plain name under bootflash:)", path);
	if (snprintf(out, size, "%s/bootflash/%s", dir, rest) >= (int)size)
		return rum_err_set(RUM_EINVAL, "path too long");
	return 0;
}
