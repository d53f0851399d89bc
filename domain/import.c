#include "domain/import.h"

#include "domain/acks.h"
#include "domain/audit.h"

#include "db/db.h"
#include "db/store_import.h"
#include "db/store_tenants.h"
#include "domain/internal.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/mem.h"
#include "lib/metrics.h"
#include "lib/strict.h"
#include "lib/tarball.h"
#include "lib/xml.h"

#include <errno.h>
#include <fcntl.h>
#include <inttypes.h>
#include <jansson.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <unistd.h>

const struct rum_import_limits rum_import_default_limits = {100000, 4u << 20, 1u << 30, 256u << 20,
							    10000};

/* Archives inside archives: ACK_UD_SA > ACK_UD_VA > files, with room for one
 * more wrapping; deeper is refused. */
#define RUM_IMPORT_MAX_DEPTH 4
/* RUM ACK JSON: nesting searched for report ids, and ids kept per ACK. */
#define RUM_IMPORT_JSON_DEPTH 16
#define RUM_IMPORT_MAX_IDS 1000000

/* A document found in the file, held while it is applied. */
struct rum_import_leaf {
	char *name; /* path inside the file, outer archives first */
	char *base; /* points into name */
	char *data;
	size_t len;
	struct rum_import_ack ack;
	struct rum_import_kept *kept; /* what the summary shows, once applied */
};

/* What the summary shows of a document applied: its name and the ACK's
 * display fields, without its bytes, report ids or RUM ACK JSON. */
struct rum_import_kept {
	char *name;
	struct rum_import_ack ack;
};

static char *rum_import_strdup(const char *s)
{
	char *d = strdup(s);

	if (!d)
		abort();
	return d;
}

/* --- parsing one ACK document --- */

static char *rum_import_child_text(const struct rum_xml_node *n, const char *name)
{
	const struct rum_xml_node *c = rum_xml_child(n, name);

	return c ? rum_xml_text(c, NULL) : NULL;
}

/* "P:PID,S:SN" (whitespace around it allowed). */
static bool rum_import_udi_parse(const char *s, char *pid, char *sn)
{
	const char *sep, *end;
	size_t np, ns;

	while (*s == ' ' || *s == '\t' || *s == '\n' || *s == '\r')
		s++;
	if (strncmp(s, "P:", 2) != 0 || !(sep = strstr(s, ",S:")))
		return false;
	end = sep + 3 + strlen(sep + 3);
	while (end > sep + 3 &&
	       (end[-1] == ' ' || end[-1] == '\t' || end[-1] == '\n' || end[-1] == '\r'))
		end--;
	np = (size_t)(sep - s - 2);
	ns = (size_t)(end - sep - 3);
	if (np == 0 || ns == 0 || np > RUM_UDI_TEXT_MAX || ns > RUM_UDI_TEXT_MAX)
		return false;
	memcpy(pid, s + 2, np);
	pid[np] = '\0';
	memcpy(sn, sep + 3, ns);
	sn[ns] = '\0';
	return true;
}

static void rum_import_take_udi(struct rum_import_ack *a, const char *pid, const char *sn)
{
	if (a->has_udi)
		return;
	snprintf(a->pid, sizeof(a->pid), "%s", pid);
	snprintf(a->sn, sizeof(a->sn), "%s", sn);
	a->has_udi = true;
}

/* One day count of a policy class: its value 0..100000, or -1. */
static int rum_import_days(const struct rum_xml_node *cls, const char *name)
{
	char *t = rum_import_child_text(cls, name);
	int64_t v;
	int days = -1;

	if (t && rum_strict_int64(&v, t) == 0 && v >= 0 && v <= 100000)
		days = (int)v;
	free(t);
	return days;
}

/* Folds one class's value into the strictest so far: a non-zero value beats
 * 0 (no requirement) and a larger value; 0 beats nothing given. */
static int rum_import_stricter(int have, int v)
{
	if (v < 0)
		return have;
	if (have < 0 || (v > 0 && (have == 0 || v < have)))
		return v;
	return have;
}

static void rum_import_policy_days(struct rum_import_ack *a, const struct rum_xml_node *code)
{
	static const char *const classes[] = {"perpetual", "subscription"};

	a->first_days = a->ongoing_days = a->change_days = -1;
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]); i++) {
		const struct rum_xml_node *c = rum_xml_child(code, classes[i]);

		if (!c)
			continue;
		a->first_days = rum_import_stricter(a->first_days,
						    rum_import_days(c, "firstTimeReport"));
		a->ongoing_days = rum_import_stricter(a->ongoing_days,
						      rum_import_days(c, "onGoingReporting"));
		a->change_days = rum_import_stricter(a->change_days,
						     rum_import_days(c, "reportOnMACD"));
	}
}

static int rum_import_policy(struct rum_import_ack *a, const struct rum_xml_node *n)
{
	static const char *const classes[] = {"subscription", "perpetual", "enforced", "export",
					      "generic"};
	const struct rum_xml_node *code = rum_xml_child(n, "policyCode");

	if (a->has_policy)
		return rum_err_set(RUM_EINVAL, "more than one smartLicensePolicy section");
	a->has_policy = true;
	if (!code)
		code = n;
	a->policy_name = rum_import_child_text(code, "name");
	a->policy_version = rum_import_child_text(code, "version");
	a->reporting_days = -1;
	rum_import_policy_days(a, code);
	for (size_t i = 0; i < sizeof(classes) / sizeof(classes[0]) && a->reporting_days < 0; i++) {
		char *t = rum_import_child_text(rum_xml_child(code, classes[i]),
						"onGoingReporting");
		int64_t v;

		if (t && rum_strict_int64(&v, t) == 0 && v >= 0 && v <= 1000000)
			a->reporting_days = (int)v;
		free(t);
	}
	return 0;
}

static bool rum_import_json_udi(json_t *udi, char *pid, char *sn)
{
	const char *p = json_string_value(json_object_get(udi, "udi_pid"));
	const char *s = json_string_value(json_object_get(udi, "udi_serial_number"));

	if (!p || !s || !p[0] || !s[0] || strlen(p) > RUM_UDI_TEXT_MAX ||
	    strlen(s) > RUM_UDI_TEXT_MAX)
		return false;
	snprintf(pid, RUM_UDI_TEXT_MAX + 1, "%s", p);
	snprintf(sn, RUM_UDI_TEXT_MAX + 1, "%s", s);
	return true;
}

/* Report ids named anywhere in the RUM ACK JSON: objects with "report_id"
 * (a non-negative integer or a string of digits), and the UDI beside it. */
static void rum_import_collect_ids(struct rum_import_ack *a, json_t *j, int depth, size_t *cap)
{
	json_t *v;
	const char *key;
	size_t i;

	if (depth > RUM_IMPORT_JSON_DEPTH)
		return;
	if (json_is_array(j)) {
		json_array_foreach(j, i, v)
			rum_import_collect_ids(a, v, depth + 1, cap);
		return;
	}
	if (!json_is_object(j))
		return;
	v = json_object_get(j, "report_id");
	if (v && a->n_ids < RUM_IMPORT_MAX_IDS) {
		struct rum_import_ack_id id = {-1, false, "", ""};

		if (json_is_integer(v) && json_integer_value(v) >= 0)
			id.report_id = json_integer_value(v);
		else if (json_is_string(v) &&
			 rum_strict_int64(&id.report_id, json_string_value(v)) != 0)
			id.report_id = -1;
		if (id.report_id >= 0) {
			id.has_udi = rum_import_json_udi(json_object_get(j, "udi"), id.pid, id.sn);
			if (a->n_ids == *cap) {
				*cap = *cap ? *cap * 2 : 16;
				a->ids = realloc(a->ids, *cap * sizeof(*a->ids));
				if (!a->ids)
					abort();
			}
			a->ids[a->n_ids++] = id;
		}
		return;
	}
	json_object_foreach(j, key, v)
		rum_import_collect_ids(a, v, depth + 1, cap);
}

static void rum_import_rum_ack(struct rum_import_ack *a, const struct rum_xml_node *n)
{
	size_t len = 0, cap = 0;
	json_error_t e;
	json_t *j;

	a->has_rum_ack = true;
	if (!rum_xml_child(n, "data"))
		return;
	a->rum_ack_json = rum_xml_text(rum_xml_child(n, "data"), &len);
	j = json_loadb(a->rum_ack_json, len, JSON_DECODE_ANY, &e);
	if (!j)
		return; /* kept as text, for display; the file itself is signed, not ours */
	a->rum_ack_json_ok = true;
	rum_import_collect_ids(a, j, 0, &cap);
	json_decref(j);
	for (size_t i = 0; i < a->n_ids; i++)
		if (a->ids[i].has_udi) {
			rum_import_take_udi(a, a->ids[i].pid, a->ids[i].sn);
			break;
		}
}

static void rum_import_udi_section(struct rum_import_ack *a, const struct rum_xml_node *n)
{
	char *t = rum_import_child_text(n, "udi");
	char pid[RUM_UDI_TEXT_MAX + 1], sn[RUM_UDI_TEXT_MAX + 1];

	if (t && rum_import_udi_parse(t, pid, sn))
		rum_import_take_udi(a, pid, sn);
	free(t);
}

static int rum_import_sections(struct rum_import_ack *a, const struct rum_xml_node *root)
{
	int known = 0, rc = 0;

	for (const struct rum_xml_node *c = rum_xml_first(root); c && rc == 0;
	     c = rum_xml_next(c)) {
		const char *name = rum_xml_name(c);

		if (strcmp(name, "smartLicensePolicy") == 0) {
			rc = rum_import_policy(a, c);
		} else if (strcmp(name, "smartLicenseRumAck") == 0) {
			if (a->has_rum_ack)
				return rum_err_set(RUM_EINVAL, "more than one smartLicenseRumAck "
							       "section");
			rum_import_rum_ack(a, c);
		} else if (strcmp(name, "smartLicenseAuthorization") == 0) {
			a->has_auth = true;
			rum_import_udi_section(a, c);
		} else if (strcmp(name, "smartLicenseAccountInfo") == 0) {
			const struct rum_xml_node *ci = rum_xml_child(c, "customerInfo");

			free(a->smart_account);
			free(a->virtual_account);
			a->smart_account = rum_import_child_text(ci, "smartAccount");
			a->virtual_account = rum_import_child_text(ci, "virtualAccount");
		} else if (strcmp(name, "RUMReport") == 0 ||
			   strcmp(name, "smartLicenseSystemInfo") == 0) {
			return rum_err_set(RUM_EINVAL, "a usage file, not an ACK file (load usage "
						       "with rumd import-usage)");
		} else if (strncmp(name, "smartLicense", 12) == 0 && strcasestr(name, "trust")) {
			/* The trust code's element name is not public [PROTOCOL 2.3]. */
			a->has_trust = true;
			rum_import_udi_section(a, c);
		} else {
			continue; /* correlationID, opaque signed sections */
		}
		known++;
	}
	if (rc == 0 && !known)
		rc = rum_err_set(RUM_EINVAL, "a smartLicense document with no policy, RUM ACK, "
					     "trust code, authorization or account section");
	return rc;
}

int rum_import_ack_parse(struct rum_import_ack *a, const char *buf, size_t len, const char *what,
			 size_t max_nodes)
{
	struct rum_xml_doc *doc = NULL;
	const struct rum_xml_node *root;
	int rc;

	memset(a, 0, sizeof(*a));
	a->reporting_days = a->first_days = a->ongoing_days = a->change_days = -1;
	rc = rum_xml_parse_bounded(&doc, buf, len, what, max_nodes);
	if (rc != 0)
		return rc;
	root = rum_xml_root(doc);
	if (strcmp(rum_xml_name(root), "smartLicensePolicy") == 0) {
		a->policy_file = true;
		rc = rum_import_policy(a, root);
	} else if (strcmp(rum_xml_name(root), "smartLicense") == 0) {
		rc = rum_import_sections(a, root);
		if (rc != 0)
			rc = rum_err_set(rc, "%s: %s", what, rum_err_msg());
	} else {
		rc = rum_err_set(RUM_EINVAL,
				 "%s: not a smartLicense document (root element <%.64s>)", what,
				 rum_xml_name(root));
	}
	rum_xml_free(doc);
	if (rc != 0)
		rum_import_ack_dispose(a);
	return rc;
}

void rum_import_ack_dispose(struct rum_import_ack *a)
{
	free(a->policy_name);
	free(a->policy_version);
	free(a->rum_ack_json);
	free(a->ids);
	free(a->smart_account);
	free(a->virtual_account);
	memset(a, 0, sizeof(*a));
	a->reporting_days = a->first_days = a->ongoing_days = a->change_days = -1;
}

bool rum_import_ack_name(const char *name, int64_t *device_id, char *ts, size_t ts_size)
{
	const char *p = name, *us, *dot;
	char digits[24];
	size_t n;

	if (strncmp(p, "ACK_", 4) == 0)
		p += 4;
	if (strncmp(p, "dev_", 4) != 0)
		return false;
	p += 4;
	us = strchr(p, '_');
	dot = strrchr(p, '.');
	if (!us || !dot || dot < us || strcmp(dot, ".txt") != 0)
		return false;
	n = (size_t)(us - p);
	if (n == 0 || n >= sizeof(digits))
		return false;
	memcpy(digits, p, n);
	digits[n] = '\0';
	if (rum_strict_int64(device_id, digits) != 0 || *device_id <= 0)
		return false;
	n = (size_t)(dot - us - 1);
	if (n == 0 || n >= ts_size)
		return false;
	memcpy(ts, us + 1, n);
	ts[n] = '\0';
	return true;
}

/* --- reading the file --- */

int rum_import_read_file(char **out, size_t *len, const char *path, size_t max)
{
	int fd = open(path, O_RDONLY | O_CLOEXEC);
	struct stat st;
	size_t got = 0;
	char *buf = NULL;
	int rc = 0;

	*out = NULL;
	*len = 0;
	if (fd < 0)
		return rum_err_set(RUM_EIO, "cannot open %s: %s", path, strerror(errno));
	if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {
		rc = rum_err_set(RUM_EINVAL, "%s is not a regular file", path);
		goto out;
	}
	if ((uint64_t)st.st_size > max) {
		rc = rum_err_set(RUM_ETOOBIG, "%s: %lld bytes, over the %zu-byte limit", path,
				 (long long)st.st_size, max);
		goto out;
	}
	buf = malloc((size_t)st.st_size + 1);
	if (!buf)
		abort();
	while (got < (size_t)st.st_size) {
		ssize_t n = read(fd, buf + got, (size_t)st.st_size - got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			rc = rum_err_set(RUM_EIO, "reading %s: %s", path,
					 n < 0 ? strerror(errno) : "file shrank");
			goto out;
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	*len = got;
	buf = NULL;
out:
	free(buf);
	close(fd);
	return rc;
}

static bool rum_import_is_archive(const char *base, const char *data, size_t len)
{
	size_t n = strlen(base);

	return rum_tarball_is_gzip(data, len) || (n > 7 && strcmp(base + n - 7, ".tar.gz") == 0) ||
	       (n > 4 && strcmp(base + n - 4, ".tgz") == 0) ||
	       (len >= 262 && memcmp(data + 257, "ustar", 5) == 0);
}

static void rum_import_skip(struct rum_import_result *res, const char *entry, const char *fmt, ...)
	__attribute__((format(printf, 3, 4)));

static void rum_import_skip(struct rum_import_result *res, const char *entry, const char *fmt, ...)
{
	char reason[512];
	va_list ap;

	va_start(ap, fmt);
	vsnprintf(reason, sizeof(reason), fmt, ap);
	va_end(ap);
	res->skipped = rum_grow_one(res->skipped, res->n_skipped, sizeof(*res->skipped));
	res->skipped[res->n_skipped].entry = rum_import_strdup(entry);
	res->skipped[res->n_skipped++].reason = rum_import_strdup(reason);
}

/* --- applying, in one transaction, each document as it is read --- */

struct rum_import_txn {
	const struct rum_import_options *o;
	struct rum_import_result *res;
	struct rum_db_txn *txn;
	const char *file_name;
	int fd;
	size_t file_size;
	bool archive;
	char sha[2 * RUM_SHA256_LEN + 1];
	char *scope;
	int64_t tenant_id, import_id;
	int64_t batch_id; /* an upstream's ACK: the batch its call sent (else by <ts>) */
	struct rum_store_import_device *devices; /* --device, looked up */
	/* the walk */
	struct rum_tarball_budget budget;
	int depth;
	const char *prefix; /* names of the enclosing archives, "a/b" */
	size_t documents;   /* read so far */
	/* A policy file inside an archive: refused unless it turns out to be
	 * the archive's only document, so held until the archive ends. */
	struct rum_import_leaf *policy;
};

static void rum_import_leaf_free(struct rum_import_leaf *l)
{
	if (!l)
		return;
	free(l->name);
	free(l->data);
	rum_import_ack_dispose(&l->ack);
	free(l);
}

static char *rum_import_strdup_or_null(const char *s)
{
	return s ? rum_import_strdup(s) : NULL;
}

/* The summary's copy of what it shows of l, made when l is first applied. */
static void rum_import_keep(struct rum_import_result *res, struct rum_import_leaf *l)
{
	struct rum_import_kept *k;

	if (l->kept)
		return;
	k = calloc(1, sizeof(*k));
	if (!k)
		abort();
	k->name = rum_import_strdup(l->name);
	k->ack = l->ack;
	k->ack.policy_name = rum_import_strdup_or_null(l->ack.policy_name);
	k->ack.policy_version = rum_import_strdup_or_null(l->ack.policy_version);
	k->ack.smart_account = rum_import_strdup_or_null(l->ack.smart_account);
	k->ack.virtual_account = rum_import_strdup_or_null(l->ack.virtual_account);
	k->ack.rum_ack_json = NULL;
	k->ack.ids = NULL;
	res->kept = rum_grow_one(res->kept, res->n_kept, sizeof(*res->kept));
	res->kept[res->n_kept++] = k;
	l->kept = k;
}

/* The import's row, made when its first document is applied: a file that
 * is one policy file (on its own or as an archive's only document) is
 * recorded as such. */
static int rum_import_started(struct rum_import_txn *t, const struct rum_import_leaf *l)
{
	if (t->import_id)
		return 0;
	return rum_store_import_insert(t->txn, t->file_name, t->sha, t->scope,
				       l->ack.policy_file ? "policy" : "ack", &t->import_id);
}

static void rum_import_udi_text(char *out, size_t size, const char *pid, const char *sn)
{
	snprintf(out, size, "P:%s,S:%s", pid, sn);
}

static bool rum_import_same_udi(const struct rum_import_ack *a,
				const struct rum_store_import_device *d)
{
	return !a->has_udi || (strcmp(a->pid, d->pid) == 0 && strcmp(a->sn, d->sn) == 0);
}

/* One device ACK onto one device: queued, its reports acknowledged, recorded. */
static int rum_import_apply_to(struct rum_import_txn *t, struct rum_import_leaf *l,
			       const struct rum_store_import_device *d, const char *ts)
{
	struct rum_import_result *res = t->res;
	struct rum_import_applied a = {.device_id = d->id};
	int64_t *ids;
	size_t n = 0;
	int rc = rum_import_started(t, l);

	if (rc != 0)
		return rc;
	rum_import_keep(t->res, l);
	a.entry = l->kept->name;
	a.ack = &l->kept->ack;
	ids = calloc(l->ack.n_ids + 1, sizeof(*ids));
	if (!ids)
		abort();
	for (size_t i = 0; i < l->ack.n_ids; i++) {
		const struct rum_import_ack_id *id = &l->ack.ids[i];

		if (!id->has_udi || (strcmp(id->pid, d->pid) == 0 && strcmp(id->sn, d->sn) == 0))
			ids[n++] = id->report_id;
	}
	rum_import_udi_text(a.udi, sizeof(a.udi), d->pid, d->sn);
	rc = rum_store_import_ack_put(t->txn, d->tenant_id, d->id, l->data, l->len, &a.ack_id,
				      &a.new_ack);
	if (rc == 0 && ts)
		rc = rum_store_import_batch(t->txn, d->tenant_id, ts, d->id, &a.batch_id);
	else if (rc == 0)
		a.batch_id = t->batch_id;
	if (rc == 0 && l->ack.has_rum_ack)
		rc = rum_store_import_ack_reports(t->txn, d->id, a.batch_id, ids, n,
						  &a.reports_acked);
	if (rc == 0) {
		struct rum_store_import_ack rec = {t->import_id,
						   a.ack_id,
						   d->id,
						   a.batch_id,
						   l->name,
						   a.new_ack,
						   l->ack.policy_name,
						   l->ack.policy_version,
						   l->ack.reporting_days,
						   l->ack.first_days,
						   l->ack.ongoing_days,
						   l->ack.change_days,
						   l->ack.smart_account,
						   l->ack.virtual_account,
						   l->ack.has_rum_ack,
						   l->ack.has_trust,
						   l->ack.has_auth,
						   l->ack.rum_ack_json,
						   a.reports_acked};

		rc = rum_store_import_ack_record(t->txn, &rec);
	}
	free(ids);
	if (rc != 0)
		return rc;
	res->applied = rum_grow_one(res->applied, res->n_applied, sizeof(*res->applied));
	res->applied[res->n_applied++] = a;
	res->acks_new += a.new_ack;
	res->reports_acked += a.reports_acked;
	res->policies += l->ack.has_policy;
	res->trust_codes += l->ack.has_trust;
	return 0;
}

static bool rum_import_listed(const struct rum_import_options *o, int64_t id)
{
	for (size_t i = 0; i < o->ndevices; i++)
		if (o->devices[i] == id)
			return true;
	return false;
}

/* An ACK_dev_<id>_<ts>.txt entry: the device its name gives. */
static int rum_import_by_name(struct rum_import_txn *t, struct rum_import_leaf *l, int64_t id,
			      const char *ts)
{
	struct rum_store_import_device d;
	char have[340], want[340];
	int rc = rum_store_import_device(t->txn, id, &d);

	if (rc == RUM_ENOTFOUND) {
		rum_import_skip(t->res, l->name, "device %" PRId64 " does not exist", id);
		return 0;
	}
	if (rc != 0)
		return rc;
	if (t->tenant_id && d.tenant_id != t->tenant_id) {
		rum_import_skip(t->res, l->name, "device %" PRId64 " is not in tenant '%s'", id,
				t->o->tenant);
		return 0;
	}
	if (t->o->ndevices && !rum_import_listed(t->o, id)) {
		rum_import_skip(t->res, l->name, "device %" PRId64 " is not one of --device", id);
		return 0;
	}
	if (!rum_import_same_udi(&l->ack, &d)) {
		rum_import_udi_text(have, sizeof(have), l->ack.pid, l->ack.sn);
		rum_import_udi_text(want, sizeof(want), d.pid, d.sn);
		rum_import_skip(t->res, l->name, "names UDI %s but device %" PRId64 " is %s", have,
				id, want);
		return 0;
	}
	return rum_import_apply_to(t, l, &d, ts);
}

/* A document without an ACK_dev_ name: --device, else the UDI inside. */
static int rum_import_by_udi(struct rum_import_txn *t, struct rum_import_leaf *l)
{
	struct rum_store_import_device found[2];
	char udi[300];
	size_t n = 0;
	int rc = 0;

	if (t->o->ndevices) {
		for (size_t i = 0; rc == 0 && i < t->o->ndevices; i++) {
			if (rum_import_same_udi(&l->ack, &t->devices[i]))
				rc = rum_import_apply_to(t, l, &t->devices[i], NULL);
			else
				rum_import_skip(t->res, l->name,
						"names UDI P:%s,S:%s, not that of "
						"device %" PRId64,
						l->ack.pid, l->ack.sn, t->devices[i].id);
		}
		return rc;
	}
	if (!l->ack.has_udi) {
		rum_import_skip(t->res, l->name,
				"names no device (no ACK_dev_<id>_<ts> name, no "
				"UDI inside); name it with --device");
		return 0;
	}
	rum_import_udi_text(udi, sizeof(udi), l->ack.pid, l->ack.sn);
	rc = rum_store_import_device_by_udi(t->txn, t->tenant_id, l->ack.pid, l->ack.sn, found, 2,
					    &n);
	if (rc != 0)
		return rc;
	if (n == 0)
		rum_import_skip(t->res, l->name, "no device with UDI %s%s%s%s", udi,
				t->tenant_id ? " in tenant '" : "",
				t->tenant_id ? t->o->tenant : "", t->tenant_id ? "'" : "");
	else if (n > 1)
		rum_import_skip(t->res, l->name,
				"UDI %s is a device of several tenants; name "
				"one with --tenant",
				udi);
	else
		rc = rum_import_apply_to(t, l, &found[0], NULL);
	return rc;
}

/* A standalone policy file: the --device ones, else every device of the tenant. */
static int rum_import_policy_file(struct rum_import_txn *t, struct rum_import_leaf *l)
{
	struct rum_store_import_device d;
	int64_t *ids = NULL;
	size_t n = 0;
	int rc = 0;

	if (t->o->ndevices) {
		for (size_t i = 0; rc == 0 && i < t->o->ndevices; i++)
			rc = rum_import_apply_to(t, l, &t->devices[i], NULL);
		return rc;
	}
	if (!t->tenant_id)
		return rum_err_set(RUM_EINVAL,
				   "%s is a policy file: name the devices it is for "
				   "with --device ID or --tenant NAME",
				   l->name);
	rc = rum_store_import_tenant_devices(t->txn, t->tenant_id, &ids, &n);
	for (size_t i = 0; rc == 0 && i < n; i++) {
		rc = rum_store_import_device(t->txn, ids[i], &d);
		if (rc == 0)
			rc = rum_import_apply_to(t, l, &d, NULL);
	}
	free(ids);
	return rc;
}

static int rum_import_scope(struct rum_import_txn *t, char **scope)
{
	size_t cap = 64 + t->o->ndevices * 22, len;
	char *s = malloc(cap);

	if (!s)
		abort();
	len = (size_t)snprintf(s, cap, "tenant=%" PRId64 ";devices=", t->tenant_id);
	for (size_t i = 0; i < t->o->ndevices; i++)
		len += (size_t)snprintf(s + len, cap - len, "%s%" PRId64, i ? "," : "",
					t->o->devices[i]);
	*scope = s;
	return 0;
}

static int rum_import_check_options(struct rum_import_txn *t)
{
	int rc = 0;

	if (t->o->tenant) {
		rc = rum_store_tenant_find(t->txn, t->o->tenant, &t->tenant_id);
		if (rc == RUM_ENOTFOUND)
			rc = rum_err_set(RUM_ENOTFOUND,
					 "no tenant named '%s' (see rumd tenant list)",
					 t->o->tenant);
	}
	for (size_t i = 0; rc == 0 && i < t->o->ndevices; i++) {
		rc = rum_store_import_device(t->txn, t->o->devices[i], &t->devices[i]);
		if (rc == 0 && t->tenant_id && t->devices[i].tenant_id != t->tenant_id)
			rc = rum_err_set(RUM_ENOTFOUND, "device %" PRId64 " is not in tenant '%s'",
					 t->o->devices[i], t->o->tenant);
	}
	return rc;
}

/* One document, parsed, onto the devices it is for. */
static int rum_import_leaf_apply(struct rum_import_txn *t, struct rum_import_leaf *l)
{
	char ts[64];
	int64_t id;

	if (l->ack.policy_file)
		return rum_import_policy_file(t, l);
	if (rum_import_ack_name(l->base, &id, ts, sizeof(ts)))
		return rum_import_by_name(t, l, id, ts);
	return rum_import_by_udi(t, l);
}

static int rum_import_policy_in_archive(const struct rum_import_leaf *l)
{
	return rum_err_set(RUM_EINVAL,
			   "%s: a standalone policy file inside an archive; import it on its own",
			   l->name);
}

/* A document read (l steals name and data): parsed, applied, dropped. */
static int rum_import_document(struct rum_import_txn *t, struct rum_import_leaf *l)
{
	int rc;

	if (t->policy) { /* a second document beside a policy file */
		rum_import_leaf_free(l);
		return rum_import_policy_in_archive(t->policy);
	}
	t->documents++;
	rc = rum_import_ack_parse(&l->ack, l->data, l->len, l->name, t->o->limits.max_xml_nodes);
	if (rc == 0 && l->ack.policy_file && t->archive) {
		if (t->documents > 1) {
			rc = rum_import_policy_in_archive(l);
		} else {
			t->policy = l;
			return 0;
		}
	}
	if (rc == 0)
		rc = rum_import_leaf_apply(t, l);
	rum_import_leaf_free(l);
	return rc;
}

static struct rum_import_leaf *rum_import_leaf_new(char *name, char *data, size_t len)
{
	struct rum_import_leaf *l = calloc(1, sizeof(*l));
	char *slash = strrchr(name, '/');

	if (!l)
		abort();
	l->name = name;
	l->base = slash ? slash + 1 : name;
	l->data = data;
	l->len = len;
	return l;
}

static int rum_import_item(void *ctx, struct rum_tarball_item *it);

static int rum_import_nested(struct rum_import_txn *t, struct rum_tarball_item *it,
			     const char *name)
{
	const char *prefix = t->prefix;
	int rc;

	if (t->depth >= RUM_IMPORT_MAX_DEPTH)
		return rum_err_set(RUM_EINVAL, "%s: archives nested more than %d deep; refused",
				   name, RUM_IMPORT_MAX_DEPTH);
	t->depth++;
	t->prefix = name;
	rc = rum_tarball_item_walk(it, name, rum_import_item, t);
	t->prefix = prefix;
	t->depth--;
	return rc;
}

/* One archive entry: an archive is walked in its turn, a document read
 * (within the entry limit, checked before any of it is inflated) and
 * applied, anything else skipped. */
static int rum_import_item(void *ctx, struct rum_tarball_item *it)
{
	struct rum_import_txn *t = ctx;
	size_t n = strlen(t->prefix) + strlen(it->name) + 2;
	char *full = malloc(n), *data = NULL;
	size_t len = 0;
	int rc = 0;

	if (!full)
		abort();
	snprintf(full, n, "%s/%s", t->prefix, it->name);
	if (rum_import_is_archive(it->base, it->head, it->head_len)) {
		rc = rum_import_nested(t, it, full);
	} else if (strcmp(it->base, "manifest.mf") == 0 || it->size == 0) {
		rum_import_skip(t->res, full, "%s", it->size ? "a manifest, not an ACK" : "empty");
	} else if (it->size > t->o->limits.max_entry_size) {
		rc = rum_err_set(RUM_ETOOBIG,
				 "%s: entry '%s' announces %zu bytes, over the %zu-byte limit "
				 "for one document (import_max_entry_bytes); refused",
				 t->prefix, it->name, it->size, t->o->limits.max_entry_size);
	} else {
		rc = rum_tarball_item_read_all(it, &data, &len);
		if (rc == 0)
			return rum_import_document(t, rum_import_leaf_new(full, data, len));
	}
	free(full);
	return rc;
}

/* The whole of a file that is one document. */
static int rum_import_read_whole(struct rum_import_txn *t, char **out)
{
	char *buf = malloc(t->file_size + 1);
	size_t got = 0;

	if (!buf)
		abort();
	while (got < t->file_size) {
		ssize_t n = pread(t->fd, buf + got, t->file_size - got, (off_t)got);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0) {
			free(buf);
			return rum_err_set(RUM_EIO, "reading %s: %s", t->o->file,
					   n < 0 ? strerror(errno) : "file shrank");
		}
		got += (size_t)n;
	}
	buf[got] = '\0';
	*out = buf;
	return 0;
}

/* The file's documents, each applied as it is read; any refusal fails the
 * whole file. */
static int rum_import_walk(struct rum_import_txn *t)
{
	char *data = NULL;
	int rc;

	if (t->archive) {
		if (lseek(t->fd, 0, SEEK_SET) != 0)
			return rum_err_set(RUM_EIO, "reading %s: %s", t->o->file, strerror(errno));
		t->depth = 1;
		t->prefix = t->file_name;
		rc = rum_tarball_walk_fd(t->fd, t->file_name, &t->budget, rum_import_item, t);
	} else {
		rc = rum_import_read_whole(t, &data);
		if (rc == 0)
			rc = rum_import_document(t,
						 rum_import_leaf_new(rum_import_strdup(t->file_name),
								     data, t->file_size));
	}
	if (rc == 0 && t->policy) /* the archive's only document */
		rc = rum_import_leaf_apply(t, t->policy);
	if (rc == 0 && t->documents == 0)
		rc = rum_err_set(RUM_EINVAL, "%s holds no ACK file", t->file_name);
	return rc;
}

static int rum_int64_cmp(const void *a, const void *b)
{
	int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;

	return (x > y) - (x < y);
}

/* Distinct devices among the applied. */
static int64_t rum_import_device_count(const struct rum_import_result *res)
{
	int64_t *ids = calloc(res->n_applied + 1, sizeof(*ids)), n = 0;

	if (!ids)
		abort();
	for (size_t i = 0; i < res->n_applied; i++)
		ids[i] = res->applied[i].device_id;
	qsort(ids, res->n_applied, sizeof(*ids), rum_int64_cmp);
	for (size_t i = 0; i < res->n_applied; i++)
		n += i == 0 || ids[i] != ids[i - 1];
	free(ids);
	return n;
}

static int rum_import_txn_run(struct rum_db_txn *txn, void *arg)
{
	struct rum_import_txn *t = arg;
	struct rum_import_result *res = t->res;
	int rc;

	t->txn = txn;
	rc = rum_store_import_start(txn, 0);
	if (rc == 0)
		rc = rum_import_check_options(t);
	if (rc == 0)
		rc = rum_import_scope(t, &t->scope);
	if (rc == 0)
		rc = rum_store_import_find(txn, t->sha, t->scope, &res->import_id, res->already_at,
					   sizeof(res->already_at));
	if (rc == 0 && res->import_id > 0) {
		res->already = true;
		return 0;
	}
	if (rc == 0)
		rc = rum_import_walk(t);
	res->import_id = t->import_id;
	if (rc == 0 && res->n_applied == 0)
		rc = rum_err_set(RUM_ENOTFOUND,
				 "nothing imported: no entry is for a device rumd "
				 "can use%s%s%s%s",
				 res->n_skipped ? " (" : "",
				 res->n_skipped ? res->skipped[0].entry : "",
				 res->n_skipped ? ": " : "",
				 res->n_skipped ? res->skipped[0].reason : "");
	if (rc == 0) {
		res->devices = rum_import_device_count(res);
		rc = rum_store_import_finish(txn, t->import_id, res->devices, res->acks_new,
					     res->reports_acked, (int64_t)res->n_skipped);
	}
	return rc;
}

static struct rum_metric rum_import_m_total[] = {
	RUM_METRIC_COUNTER("rumd_imports_total", "outcome=\"applied\"",
			   "ACK file imports: applied, already imported before, refused or failed"),
	RUM_METRIC_COUNTER("rumd_imports_total", "outcome=\"already\"", ""),
	RUM_METRIC_COUNTER("rumd_imports_total", "outcome=\"refused\"", ""),
};
static struct rum_metric rum_import_m_acks =
	RUM_METRIC_COUNTER("rumd_imported_acks_total", NULL,
			   "New ACKs taken in by imports, to fan out to devices");

__attribute__((constructor)) static void rum_import_metrics_init(void)
{
	rum_metric_register_all(rum_import_m_total, 3);
	rum_metric_register(&rum_import_m_acks);
}

void rum_import_limits_get(const struct rum_domain *dom, struct rum_import_limits *out)
{
	const struct rum_import_limits *d = &rum_import_default_limits;

	out->max_entries = dom->import_max_entries ? dom->import_max_entries : d->max_entries;
	out->max_entry_size = dom->import_max_entry ? dom->import_max_entry : d->max_entry_size;
	out->max_total = dom->import_max_total ? dom->import_max_total : d->max_total;
	out->max_file_size = dom->import_max_file ? dom->import_max_file : d->max_file_size;
	out->max_xml_nodes = dom->import_max_xml_nodes ? dom->import_max_xml_nodes
						       : d->max_xml_nodes;
}

/* Opens the file and settles what it is before any transaction: its size
 * within the limits, archive or single document, its SHA-256. */
static int rum_import_open(struct rum_import_txn *t)
{
	const struct rum_import_limits *lim = &t->o->limits;
	uint8_t sha[RUM_SHA256_LEN];
	char head[RUM_TARBALL_HEAD];
	struct stat st;
	ssize_t n;
	int rc;

	t->fd = open(t->o->file, O_RDONLY | O_CLOEXEC);
	if (t->fd < 0)
		return rum_err_set(RUM_EIO, "cannot open %s: %s", t->o->file, strerror(errno));
	if (fstat(t->fd, &st) != 0 || !S_ISREG(st.st_mode))
		return rum_err_set(RUM_EINVAL, "%s is not a regular file", t->o->file);
	if ((uint64_t)st.st_size > lim->max_file_size)
		return rum_err_set(RUM_ETOOBIG,
				   "%s: %lld bytes, over the %zu-byte limit "
				   "(import_max_file_bytes)",
				   t->file_name, (long long)st.st_size, lim->max_file_size);
	t->file_size = (size_t)st.st_size;
	do
		n = pread(t->fd, head, sizeof(head), 0);
	while (n < 0 && errno == EINTR);
	if (n < 0)
		return rum_err_set(RUM_EIO, "reading %s: %s", t->o->file, strerror(errno));
	t->archive = rum_import_is_archive(t->file_name, head, (size_t)n);
	if (!t->archive && t->file_size > lim->max_entry_size)
		return rum_err_set(RUM_ETOOBIG,
				   "%s: %zu bytes, over the %zu-byte limit for one document "
				   "(import_max_entry_bytes)",
				   t->file_name, t->file_size, lim->max_entry_size);
	rc = rum_crypto_sha256_fd(sha, t->fd, t->o->file);
	for (size_t i = 0; rc == 0 && i < sizeof(sha); i++)
		snprintf(t->sha + 2 * i, 3, "%02x", sha[i]);
	/* Entries of any kind up to the total: a nested archive is streamed,
	 * a document is held to max_entry_size by rum_import_item. */
	t->budget.max_entries = lim->max_entries;
	t->budget.max_entry_size = lim->max_total;
	t->budget.max_total = lim->max_total;
	return rc;
}

int rum_import_run(struct rum_domain *dom, const struct rum_import_options *o,
		   struct rum_import_result *res)
{
	struct rum_import_txn t = {.o = o, .res = res, .fd = -1};
	int rc;

	memset(res, 0, sizeof(*res));
	t.file_name = strrchr(o->file, '/') ? strrchr(o->file, '/') + 1 : o->file;
	rc = rum_import_open(&t);
	if (rc == 0) {
		t.devices = calloc(o->ndevices + 1, sizeof(*t.devices));
		if (!t.devices)
			abort();
		rc = rum_db_transact(dom->db, rum_import_txn_run, &t);
	}
	if (rc != 0) { /* rolled back: nothing was applied */
		free(res->applied);
		res->applied = NULL;
		res->n_applied = 0;
		res->import_id = 0;
		res->devices = res->acks_new = res->reports_acked = 0;
		res->policies = res->trust_codes = 0;
	}
	rum_metric_inc(&rum_import_m_total[rc != 0 ? 2 : res->already ? 1 : 0]);
	if (rc == 0)
		rum_metric_add(&rum_import_m_acks, res->acks_new);
	rum_import_leaf_free(t.policy);
	free(t.scope);
	free(t.devices);
	if (t.fd >= 0)
		close(t.fd);
	return rc;
}

void rum_import_result_dispose(struct rum_import_result *res)
{
	for (size_t i = 0; i < res->n_kept; i++) {
		free(res->kept[i]->name);
		rum_import_ack_dispose(&res->kept[i]->ack);
		free(res->kept[i]);
	}
	for (size_t i = 0; i < res->n_skipped; i++) {
		free(res->skipped[i].entry);
		free(res->skipped[i].reason);
	}
	free(res->kept);
	free(res->skipped);
	free(res->applied);
	memset(res, 0, sizeof(*res));
}

/* --- usage files --- */

static void rum_import_append(char **buf, size_t *len, size_t *cap, const char *s, size_t n)
{
	if (*len + n + 1 > *cap) {
		while (*len + n + 1 > *cap)
			*cap = *cap ? *cap * 2 : 4096;
		*buf = realloc(*buf, *cap);
		if (!*buf)
			abort();
	}
	memcpy(*buf + *len, s, n);
	*len += n;
	(*buf)[*len] = '\0';
}

int rum_import_usage_message(char **out, size_t *out_len, size_t *nreports, const char *buf,
			     size_t len, const char *what)
{
	struct rum_xml_doc *doc = NULL;
	const struct rum_xml_node *root, *info;
	char *msg = NULL, *text = NULL;
	size_t mlen = 0, cap = 0, tlen = 0;
	json_t *env = NULL;
	json_error_t e;
	int rc;

	*out = NULL;
	*out_len = 0;
	*nreports = 0;
	rc = rum_xml_parse(&doc, buf, len, what);
	if (rc != 0)
		return rc;
	root = rum_xml_root(doc);
	if (strcmp(rum_xml_name(root), "smartLicense") != 0) {
		rc = rum_err_set(RUM_EINVAL,
				 "%s: not a usage file (root element <%.64s>, not "
				 "<smartLicense>)",
				 what, rum_xml_name(root));
		goto out;
	}
	info = rum_xml_child(root, "smartLicenseSystemInfo");
	if (info) {
		/* The envelope is the system info's JSON object, its text kept; the
		 * usage array is appended inside its closing brace. */
		text = rum_xml_text(rum_xml_child(info, "data"), &tlen);
		env = json_loadb(text, tlen, 0, &e);
		if (!env || !json_is_object(env)) {
			rc = rum_err_set(RUM_EINVAL,
					 "%s: smartLicenseSystemInfo data is not a JSON "
					 "object%s%s",
					 what, env ? "" : ": ", env ? "" : e.text);
			goto out;
		}
		while (tlen > 0 && text[tlen - 1] != '}')
			tlen--;
		rum_import_append(&msg, &mlen, &cap, text, tlen - 1); /* without '}' */
		if (json_object_size(env) > 0)
			rum_import_append(&msg, &mlen, &cap, ",", 1);
	} else {
		rum_import_append(&msg, &mlen, &cap, "{", 1);
	}
	rum_import_append(&msg, &mlen, &cap, "\"usage\":[", 9);
	for (const struct rum_xml_node *c = rum_xml_first(root); c; c = rum_xml_next(c)) {
		char *r;
		size_t rlen;

		if (strcmp(rum_xml_name(c), "RUMReport") != 0)
			continue;
		r = rum_xml_text(c, &rlen);
		if (*nreports)
			rum_import_append(&msg, &mlen, &cap, ",", 1);
		rum_import_append(&msg, &mlen, &cap, r, rlen);
		free(r);
		++*nreports;
	}
	rum_import_append(&msg, &mlen, &cap, "]}", 2);
	if (*nreports == 0) {
		rc = rum_err_set(RUM_EINVAL,
				 "%s: a smartLicense document with no RUMReport: not "
				 "a usage file",
				 what);
		goto out;
	}
	*out = msg;
	*out_len = mlen;
	msg = NULL;
out:
	json_decref(env);
	free(text);
	free(msg);
	rum_xml_free(doc);
	return rc;
}

/* --- for the admin API --- */

static int rum_import_write_file(const char *path, const char *data, size_t len)
{
	int fd = open(path, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0600);
	int rc = 0;

	if (fd < 0)
		return rum_err_set(RUM_EIO, "cannot create %s: %s", path, strerror(errno));
	while (rc == 0 && len > 0) {
		ssize_t n = write(fd, data, len);

		if (n < 0 && errno == EINTR)
			continue;
		if (n <= 0)
			rc = rum_err_set(RUM_EIO, "cannot write %s: %s", path, strerror(errno));
		else {
			data += n;
			len -= (size_t)n;
		}
	}
	if (close(fd) != 0 && rc == 0)
		rc = rum_err_set(RUM_EIO, "cannot write %s: %s", path, strerror(errno));
	return rc;
}

static json_t *rum_import_details(const char *name, const struct rum_import_result *r)
{
	return json_pack("{s:s,s:b,s:I,s:I,s:I,s:I,s:I}", "file", name, "already", r->already,
			 "import_id", (json_int_t)r->import_id, "devices", (json_int_t)r->devices,
			 "acks_new", (json_int_t)r->acks_new, "reports_acked",
			 (json_int_t)r->reports_acked, "skipped", (json_int_t)r->n_skipped);
}

int rum_import_body_by(struct rum_domain *dom, const struct rum_actor *by, const char *body,
		       size_t len, const char *file_name, struct rum_import_result *res)
{
	char dir[RUM_DOMAIN_PATH_MAX], path[RUM_DOMAIN_PATH_MAX + 128];
	const char *name = file_name;
	struct rum_import_options o = {path, by->tenant, NULL, 0, {0}};
	bool made = false;
	int rc;

	memset(res, 0, sizeof(*res));
	rum_import_limits_get(dom, &o.limits);
	if (!name)
		name = len >= 2 && (uint8_t)body[0] == 0x1f && (uint8_t)body[1] == 0x8b
			       ? "upload.tar.gz"
			       : "upload.xml";
	rc = rum_domain_dir(dom, dir, sizeof(dir), "imports", by->tenant_id);
	/* The import domain reads a file: the body goes into a private
	 * directory of its own, removed afterwards whatever happens. */
	if (rc == 0 && strlen(dir) + 16 >= sizeof(dir))
		rc = rum_err_set(RUM_EINVAL, "data_dir is too long");
	if (rc == 0) {
		memcpy(dir + strlen(dir), "/upload-XXXXXX", 15);
		if (!mkdtemp(dir))
			rc = rum_err_set(RUM_EIO,
					 "cannot create a directory for the upload in "
					 "%s/imports: %s",
					 dom->data_dir, strerror(errno));
	}
	if (rc == 0) {
		made = true;
		snprintf(path, sizeof(path), "%s/%s", dir, name);
		rc = rum_import_write_file(path, body, len);
	}
	if (rc == 0)
		rc = rum_import_run(dom, &o, res);
	if (made) {
		unlink(path);
		rmdir(dir);
	}
	if (rc != RUM_EUNAVAIL)
		rum_audit_record(dom, by, "import", by->tenant, name, rc,
				 rc == 0 ? rum_import_details(name, res)
					 : json_pack("{s:s,s:I}", "file", name, "bytes",
						     (json_int_t)len));
	if (rc != 0)
		rum_import_result_dispose(res);
	return rc;
}

/* --- an ACK an upstream returned (connected mode) --- */

int rum_import_ack_received(struct rum_db_txn *txn, const struct rum_domain *dom,
			    const struct rum_import_received *r, int64_t *ack_id,
			    int64_t *reports_acked)
{
	struct rum_import_options o = {0};
	struct rum_import_result res = {0};
	struct rum_import_txn t = {.o = &o,
				   .res = &res,
				   .txn = txn,
				   .file_name = r->name,
				   .tenant_id = r->tenant_id,
				   .batch_id = r->batch_id};
	struct rum_store_import_device d;
	struct rum_import_leaf *l = NULL;
	uint8_t sha[RUM_SHA256_LEN];
	char udi[340];
	char *data;
	int rc;

	*ack_id = 0;
	*reports_acked = 0;
	rum_import_limits_get(dom, &o.limits);
	if (r->len > o.limits.max_entry_size)
		return rum_err_set(RUM_ETOOBIG, "%s: %zu bytes, over the %zu-byte ACK limit",
				   r->name, r->len, o.limits.max_entry_size);
	rum_crypto_sha256(sha, r->doc, r->len);
	for (size_t i = 0; i < RUM_SHA256_LEN; i++)
		snprintf(t.sha + 2 * i, 3, "%02x", sha[i]);
	if (asprintf(&t.scope, "tenant=%" PRId64 ";device=%" PRId64 ";upstream", r->tenant_id,
		     r->device_id) < 0)
		abort();
	rc = rum_store_import_start(txn, r->device_id);
	if (rc == 0)
		rc = rum_store_import_find(txn, t.sha, t.scope, &res.import_id, res.already_at,
					   sizeof(res.already_at));
	if (rc == 0 && res.import_id > 0)
		goto out; /* the same ACK came back before (a poll answered twice) */
	if (rc == 0)
		rc = rum_store_import_device(txn, r->device_id, &d);
	if (rc == 0 && d.tenant_id != r->tenant_id)
		rc = rum_err_set(RUM_EINTERNAL, "device %" PRId64 " is not in the sync's tenant",
				 r->device_id);
	if (rc != 0)
		goto out;
	data = malloc(r->len + 1);
	if (!data)
		abort();
	memcpy(data, r->doc, r->len);
	data[r->len] = '\0';
	l = rum_import_leaf_new(rum_import_strdup(r->name), data, r->len);
	rc = rum_import_ack_parse(&l->ack, l->data, l->len, l->name, o.limits.max_xml_nodes);
	if (rc == 0 && l->ack.policy_file)
		rc = rum_err_set(RUM_EINVAL, "%s: a policy file, not an ACK", r->name);
	if (rc == 0 && !rum_import_same_udi(&l->ack, &d)) {
		rum_import_udi_text(udi, sizeof(udi), l->ack.pid, l->ack.sn);
		rc = rum_err_set(RUM_EINVAL, "%s: names UDI %s, not the device it was sent for",
				 r->name, udi);
	}
	if (rc == 0)
		rc = rum_import_apply_to(&t, l, &d, NULL);
	if (rc == 0)
		rc = rum_store_import_finish(txn, t.import_id, 1, res.acks_new, res.reports_acked,
					     0);
	if (rc == 0 && res.n_applied == 1) {
		*ack_id = res.applied[0].ack_id;
		*reports_acked = res.applied[0].reports_acked;
	}
out:
	rum_import_leaf_free(l);
	free(t.scope);
	rum_import_result_dispose(&res);
	return rc;
}
