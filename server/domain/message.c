#include "domain/message.h"

#include <jansson.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "util/err.h"
#include "util/json_span.h"

/* Top-level keys a hello may carry without making rumd unsure of the kind:
 * the CSSM envelope (PROTOCOL 1.3) and the identity fields devices send with
 * it. Any other key on a hello clears `confident`, so the body is captured. */
static const char *const envelope_keys[] = {
	"sudi", "udi", "timestamp", "nonce", "hostname", "software_version",
	"software_tag_identifier", "product_instance_identifier",
};

enum shape { SHAPE_NONE, SHAPE_REPORTS, SHAPE_USAGE, SHAPE_BARE };

static void *xcalloc(size_t n, size_t size)
{
	void *p = calloc(n ? n : 1, size ? size : 1);

	if (!p)
		abort(); /* out of memory is fatal (DESIGN 3.5) */
	return p;
}

static char *xmemdup(const char *s, size_t n)
{
	char *p = xcalloc(n + 1, 1);

	if (n)
		memcpy(p, s, n);
	return p;
}

static char *xstrdup(const char *s)
{
	return xmemdup(s, strlen(s));
}

/* Copies src into dst (n bytes) as one printable ASCII line. */
static void one_line(char *dst, size_t n, const char *src)
{
	size_t i = 0;

	for (; src[i] && i + 1 < n; i++) {
		unsigned char c = (unsigned char)src[i];

		dst[i] = (c < 0x20 || c >= 0x7f) ? '?' : (char)c;
	}
	dst[i] = '\0';
}

/* Prefixes this thread's error message with `where`. */
static int err_at(int rc, const char *where)
{
	char tmp[512];

	snprintf(tmp, sizeof(tmp), "%s", rum_err_msg());
	return rum_err_set(rc, "%s: %s", where, tmp);
}

/* Strict unsigned decimal: digits only, at least one, fits int64_t. */
static int parse_dec(const char *s, size_t n, int64_t *out)
{
	int64_t v = 0;

	if (n == 0)
		return -1;
	for (size_t i = 0; i < n; i++) {
		int d;

		if (s[i] < '0' || s[i] > '9')
			return -1;
		d = s[i] - '0';
		if (v > (INT64_MAX - d) / 10)
			return -1;
		v = v * 10 + d;
	}
	*out = v;
	return 0;
}

/* A non-negative integer given as a JSON integer or a decimal-digit string. */
static int json_to_i64(const json_t *v, int64_t *out)
{
	if (json_is_integer(v)) {
		json_int_t i = json_integer_value(v);

		if (i < 0)
			return -1;
		*out = (int64_t)i;
		return 0;
	}
	if (json_is_string(v))
		return parse_dec(json_string_value(v), json_string_length(v), out);
	return -1;
}

/* A string value as is, a number as its decimal text; NULL for anything else. */
static char *json_to_text(const json_t *v)
{
	char buf[64];

	if (json_is_string(v))
		return xmemdup(json_string_value(v), json_string_length(v));
	if (json_is_integer(v)) {
		snprintf(buf, sizeof(buf), "%" JSON_INTEGER_FORMAT, json_integer_value(v));
		return xstrdup(buf);
	}
	if (json_is_real(v)) {
		snprintf(buf, sizeof(buf), "%.17g", json_real_value(v));
		return xstrdup(buf);
	}
	return NULL;
}

static char *text_or_empty(const json_t *v)
{
	char *s = json_is_string(v) ? json_to_text(v) : NULL;

	return s ? s : xstrdup("");
}

static int udi_part(char *dst, const json_t *v, const char *where, const char *name)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);

	if (!json_is_string(v))
		return rum_err_set(RUM_EINVAL, "%s.%s is missing or not a string", where, name);
	if (n == 0 || n > RUM_UDI_PART_MAX)
		return rum_err_set(RUM_EINVAL, "%s.%s must be 1 to %d bytes", where, name,
				   RUM_UDI_PART_MAX);
	for (size_t i = 0; i < n; i++)
		if ((unsigned char)s[i] < 0x20 || s[i] == 0x7f)
			return rum_err_set(RUM_EINVAL, "%s.%s has a control character", where,
					   name);
	memcpy(dst, s, n);
	dst[n] = '\0';
	return 0;
}

/* Reads {"udi_pid","udi_serial_number"}. *found is false (and 0 returned)
 * when sudi is not an object or has neither part; a present but bad part is
 * RUM_EINVAL naming `where`. */
static int parse_udi(struct rum_udi *out, bool *found, const json_t *sudi, const char *where)
{
	const json_t *pid, *sn;
	struct rum_udi u;
	int rc;

	*found = false;
	if (!json_is_object(sudi))
		return 0;
	pid = json_object_get(sudi, "udi_pid");
	sn = json_object_get(sudi, "udi_serial_number");
	if (!pid && !sn)
		return 0;
	if ((rc = udi_part(u.pid, pid, where, "udi_pid")) != 0 ||
	    (rc = udi_part(u.sn, sn, where, "udi_serial_number")) != 0)
		return rc;
	*out = u;
	*found = true;
	return 0;
}

static const json_t *get_path2(const json_t *o, const char *a, const char *b)
{
	return json_object_get(json_object_get(o, a), b);
}

static bool is_version_2(const json_t *v)
{
	if (json_is_string(v))
		return strcmp(json_string_value(v), "2.0") == 0 ||
		       strcmp(json_string_value(v), "2") == 0;
	return json_is_number(v) && json_number_value(v) == 2.0;
}

int rum_report_parse_payload(struct rum_report *r, const char *payload, size_t len)
{
	const json_t *ai, *meta, *rid, *rid_a, *rid_b, *ms, *first = NULL, *last = NULL, *val;
	struct rum_udi udi;
	json_error_t jerr;
	json_t *root;
	bool b_first, has_udi;
	int64_t id, t;
	char line[160];
	int rc = RUM_EINVAL;

	if (!r || (!payload && len))
		return rum_err_set(RUM_EINVAL, "no payload");
	if (len && memchr(payload, '\0', len))
		return rum_err_set(RUM_EINVAL, "payload is not JSON: it has a NUL byte");
	root = json_loadb(payload ? payload : "", len, JSON_DECODE_ANY, &jerr);
	if (!root) {
		one_line(line, sizeof(line), jerr.text);
		return rum_err_set(RUM_EINVAL, "payload is not JSON: %s (line %d, column %d)",
				   line, jerr.line, jerr.column);
	}
	if (!json_is_object(root)) {
		rum_err_set(RUM_EINVAL, "payload is not a JSON object");
		goto out;
	}
	ai = json_object_get(root, "asset_identification");
	meta = json_object_get(root, "meta");
	rid_a = json_object_get(meta, "report_id");
	rid_b = json_object_get(ai, "report_id");
	b_first = is_version_2(json_object_get(root, "version"));
	rid = b_first ? (rid_b ? rid_b : rid_a) : (rid_a ? rid_a : rid_b);
	if (!rid) {
		rum_err_set(RUM_EINVAL, "payload has no report_id");
		goto out;
	}
	if (json_to_i64(rid, &id) != 0) {
		rum_err_set(RUM_EINVAL, "payload report_id is not a non-negative decimal number");
		goto out;
	}
	if (parse_udi(&udi, &has_udi, get_path2(ai, "instance", "sudi"),
		      "payload asset_identification.instance.sudi") != 0)
		goto out;

	ms = json_object_get(root, "measurements");
	if (json_array_size(ms) > 0) {
		first = json_array_get(ms, 0);
		last = json_array_get(ms, json_array_size(ms) - 1);
	}
	r->format = rid == rid_b ? 'B' : 'A';
	r->report_id = id;
	if (has_udi)
		r->udi = udi;
	r->entitlement_tag = text_or_empty(json_object_get(meta, "entitlement_tag"));
	r->software_version = text_or_empty(json_object_get(meta, "software_version"));
	r->metric_name = text_or_empty(json_object_get(first, "metric_name"));
	val = json_object_get(last, "value");
	if (json_is_object(val))
		val = json_object_get(val, "value");
	r->last_value = json_to_text(val);
	if (!r->last_value)
		r->last_value = xstrdup("");
	if (json_to_i64(json_object_get(first, "start_time"), &t) == 0)
		r->first_start = t;
	if (json_to_i64(json_object_get(last, "end_time"), &t) == 0)
		r->last_end = t;
	rc = 0;
out:
	json_decref(root);
	return rc;
}

void rum_report_dispose(struct rum_report *r)
{
	if (!r)
		return;
	free(r->payload);
	free(r->entitlement_tag);
	free(r->software_version);
	free(r->metric_name);
	free(r->last_value);
	r->payload = r->entitlement_tag = r->software_version = NULL;
	r->metric_name = r->last_value = NULL;
}

const char *rum_msg_kind_name(enum rum_msg_kind kind)
{
	switch (kind) {
	case RUM_MSG_HELLO: return "hello";
	case RUM_MSG_USAGE: return "usage";
	case RUM_MSG_POLL: return "poll";
	case RUM_MSG_AUTHORIZATION: return "authorization";
	case RUM_MSG_TRUST: return "trust";
	}
	return "unknown";
}

void rum_message_free(struct rum_message *msg)
{
	if (!msg)
		return;
	for (size_t i = 0; i < msg->n_reports; i++)
		rum_report_dispose(&msg->reports[i]);
	free(msg->reports);
	for (size_t i = 0; i < msg->n_owned; i++)
		free(msg->owned[i]);
	free(msg->owned);
	free(msg->hostname);
	free(msg->software_tag);
	free(msg->nonce);
	free(msg->poll_id);
	free(msg);
}

/* The usage facts a report falls back on, from its reports[] entry or the
 * envelope. */
struct report_ctx {
	const struct rum_udi *udi; /* NULL when none */
	const char *hostname;
	const char *software_tag;
};

/* Fills r from the report object `obj`, whose text is `raw`. */
static int extract_report(struct rum_report *r, const json_t *obj, struct rum_json_span raw,
			  const char *where, const struct report_ctx *ctx)
{
	const json_t *payload;
	char sig_where[96];
	bool found;
	int rc;

	if (!json_is_object(obj))
		return rum_err_set(RUM_EINVAL, "%s: report is not an object", where);
	if (raw.len == 0 || raw.p[0] != '{')
		return rum_err_set(RUM_EINTERNAL, "%s: report text not found in the body", where);
	payload = json_object_get(obj, "payload");
	if (!json_is_string(payload))
		return rum_err_set(RUM_EINVAL, "%s: payload is missing or not a string", where);
	memset(r, 0, sizeof(*r));
	r->report_id = -1;
	r->first_start = -1;
	r->last_end = -1;
	rc = rum_report_parse_payload(r, json_string_value(payload), json_string_length(payload));
	if (rc != 0)
		return err_at(rc, where);
	r->raw = raw.p;
	r->raw_len = raw.len;
	r->payload = xmemdup(json_string_value(payload), json_string_length(payload));
	r->payload_len = json_string_length(payload);
	r->hostname = ctx->hostname;
	r->software_tag = ctx->software_tag;
	if (r->udi.pid[0])
		return 0;
	snprintf(sig_where, sizeof(sig_where), "%s.signature.sudi", where);
	rc = parse_udi(&r->udi, &found, get_path2(obj, "signature", "sudi"), sig_where);
	if (rc != 0)
		return rc;
	if (found)
		return 0;
	if (ctx->udi) {
		r->udi = *ctx->udi;
		return 0;
	}
	return rum_err_set(RUM_EINVAL, "%s: no UDI", where);
}

static const char *own(struct rum_message *msg, char *s, size_t cap)
{
	if (msg->n_owned == cap)
		abort(); /* the caller sized owned[] */
	msg->owned[msg->n_owned++] = s;
	return s;
}

static size_t max_reports_of(const struct rum_message_limits *limits)
{
	if (!limits || limits->max_reports == 0)
		return RUM_MESSAGE_MAX_REPORTS_DEFAULT;
	return limits->max_reports;
}

static int too_many(size_t n, size_t max)
{
	return rum_err_set(RUM_ETOOBIG, "message carries %zu reports, more than the limit of %zu",
			   n, max);
}

/* Walks the elements of the array `arr` (text `span`) alongside jansson:
 * fills reports[*k...] from them. `prefix` names the array in errors. */
static int extract_array(struct rum_message *msg, size_t *k, const json_t *arr,
			 struct rum_json_span span, const char *prefix,
			 const struct report_ctx *ctx)
{
	struct rum_json_span_iter it;
	struct rum_json_span v;
	char where[96];
	int rc;

	if (rum_json_span_iter_init(&it, span) != 0 || span.p[0] != '[')
		return rum_err_set(RUM_EINTERNAL, "%s: array text not found in the body", prefix);
	for (size_t i = 0; i < json_array_size(arr); i++) {
		if (rum_json_span_iter_next(&it, NULL, &v) != 1)
			return rum_err_set(RUM_EINTERNAL, "%s[%zu]: report text not found",
					   prefix, i);
		snprintf(where, sizeof(where), "%s[%zu]", prefix, i);
		rc = extract_report(&msg->reports[*k], json_array_get(arr, i), v, where, ctx);
		if (rc != 0)
			return rc;
		(*k)++;
	}
	return 0;
}

static const json_t *entry_usage(const json_t *entry)
{
	const json_t *u = json_object_get(entry, "usage");

	return json_is_null(u) ? NULL : u;
}

/* The CSSM reportusage shape: reports[] entries each with usage[]. */
static int extract_reports(struct rum_message *msg, const json_t *root, struct rum_json_span body,
			   const struct rum_message_limits *limits)
{
	const json_t *entries = json_object_get(root, "reports");
	size_t n_entries = json_array_size(entries), total = 0, k = 0;
	size_t max = max_reports_of(limits);
	/* Reports fall back on the envelope's own sudi, never on the copy of
	 * reports[0].sudi that has_udi may take below. */
	const struct rum_udi *env_udi = msg->has_udi ? &msg->udi : NULL;
	struct rum_json_span_iter it;
	struct rum_json_span span, ev, uv;
	char where[64];
	int rc;

	for (size_t i = 0; i < n_entries; i++) {
		const json_t *e = json_array_get(entries, i), *u = entry_usage(e);

		if (!json_is_object(e))
			return rum_err_set(RUM_EINVAL, "reports[%zu] is not an object", i);
		if (u && !json_is_array(u))
			return rum_err_set(RUM_EINVAL, "reports[%zu].usage is not an array", i);
		total += json_array_size(u);
	}
	if (total > max)
		return too_many(total, max);
	msg->reports = xcalloc(total, sizeof(*msg->reports));
	msg->n_reports = total;
	msg->owned = xcalloc(2 * n_entries, sizeof(*msg->owned));

	if (rum_json_span_member(&span, body, "reports") != 0 ||
	    rum_json_span_iter_init(&it, span) != 0)
		return rum_err_set(RUM_EINTERNAL, "reports[] text not found in the body");
	for (size_t i = 0; i < n_entries; i++) {
		const json_t *e = json_array_get(entries, i), *u = entry_usage(e), *s;
		struct report_ctx ctx = {env_udi, msg->hostname, msg->software_tag};
		struct rum_udi udi;
		bool found;

		if (rum_json_span_iter_next(&it, NULL, &ev) != 1)
			return rum_err_set(RUM_EINTERNAL, "reports[%zu]: text not found", i);
		snprintf(where, sizeof(where), "reports[%zu].sudi", i);
		rc = parse_udi(&udi, &found, json_object_get(e, "sudi"), where);
		if (rc != 0)
			return rc;
		if (found) {
			ctx.udi = &udi;
			if (i == 0 && !msg->has_udi) {
				msg->udi = udi;
				msg->has_udi = true;
			}
		}
		s = json_object_get(e, "hostname");
		if (json_is_string(s))
			ctx.hostname = own(msg, json_to_text(s), 2 * n_entries);
		s = json_object_get(e, "software_tag_identifier");
		if (json_is_string(s))
			ctx.software_tag = own(msg, json_to_text(s), 2 * n_entries);
		if (json_array_size(u) == 0)
			continue;
		if (rum_json_span_member(&uv, ev, "usage") != 0)
			return rum_err_set(RUM_EINTERNAL, "reports[%zu].usage text not found", i);
		snprintf(where, sizeof(where), "reports[%zu].usage", i);
		rc = extract_array(msg, &k, u, uv, where, &ctx);
		if (rc != 0)
			return rc;
	}
	return 0;
}

static int extract_usage(struct rum_message *msg, const json_t *root, struct rum_json_span body,
			 const struct rum_message_limits *limits)
{
	const json_t *u = json_object_get(root, "usage");
	struct report_ctx ctx = {msg->has_udi ? &msg->udi : NULL, msg->hostname,
				 msg->software_tag};
	size_t n = json_array_size(u), k = 0, max = max_reports_of(limits);
	struct rum_json_span span;

	if (n > max)
		return too_many(n, max);
	msg->reports = xcalloc(n, sizeof(*msg->reports));
	msg->n_reports = n;
	if (n == 0)
		return 0;
	if (rum_json_span_member(&span, body, "usage") != 0)
		return rum_err_set(RUM_EINTERNAL, "usage[] text not found in the body");
	return extract_array(msg, &k, u, span, "usage", &ctx);
}

static int extract_bare(struct rum_message *msg, const json_t *root, struct rum_json_span body)
{
	struct report_ctx ctx = {msg->has_udi ? &msg->udi : NULL, msg->hostname,
				 msg->software_tag};

	msg->reports = xcalloc(1, sizeof(*msg->reports));
	msg->n_reports = 1;
	return extract_report(&msg->reports[0], root, body, "report", &ctx);
}

static bool present(const json_t *root, const char *key)
{
	const json_t *v = json_object_get(root, key);

	return v && !json_is_null(v);
}

static enum rum_msg_kind classify(const json_t *root, enum shape *shape)
{
	*shape = SHAPE_NONE;
	if (json_object_get(root, "poll_id"))
		return RUM_MSG_POLL;
	if (json_is_array(json_object_get(root, "reports"))) {
		*shape = SHAPE_REPORTS;
		return RUM_MSG_USAGE;
	}
	if (json_is_array(json_object_get(root, "usage"))) {
		*shape = SHAPE_USAGE;
		return RUM_MSG_USAGE;
	}
	if (json_is_string(json_object_get(root, "payload")) && present(root, "signature")) {
		*shape = SHAPE_BARE;
		return RUM_MSG_USAGE;
	}
	if (json_is_array(json_object_get(root, "licenses")))
		return RUM_MSG_AUTHORIZATION;
	if ((present(root, "trust_request") || present(root, "trust_requests")) &&
	    !present(root, "usage"))
		return RUM_MSG_TRUST;
	return RUM_MSG_HELLO;
}

static bool only_envelope_keys(const json_t *root)
{
	const char *key;
	json_t *v;

	json_object_foreach ((json_t *)root, key, v) {
		bool known = false;

		for (size_t i = 0; i < sizeof(envelope_keys) / sizeof(envelope_keys[0]); i++)
			if (strcmp(key, envelope_keys[i]) == 0)
				known = true;
		if (!known)
			return false;
	}
	return true;
}

static int parse_poll_id(struct rum_message *msg, const json_t *v)
{
	const char *s = json_string_value(v);
	size_t n = json_string_length(v);
	int64_t id;

	if (json_is_integer(v) && json_to_i64(v, &id) == 0) {
		msg->poll_id = json_to_text(v);
		return 0;
	}
	if (!json_is_string(v) || n == 0 || n > RUM_POLL_ID_MAX)
		return rum_err_set(RUM_EINVAL, "poll_id is not a decimal number");
	for (size_t i = 0; i < n; i++)
		if (s[i] < '0' || s[i] > '9')
			return rum_err_set(RUM_EINVAL, "poll_id is not a decimal number");
	msg->poll_id = xmemdup(s, n);
	return 0;
}

static int parse_envelope(struct rum_message *msg, const json_t *root)
{
	const json_t *v;
	int64_t t;

	msg->hostname = text_or_empty(json_object_get(root, "hostname"));
	msg->software_tag = text_or_empty(json_object_get(root, "software_tag_identifier"));
	v = json_object_get(root, "nonce");
	msg->nonce = json_is_string(v) || json_is_number(v) ? json_to_text(v) : xstrdup("");
	msg->timestamp_ms = json_to_i64(json_object_get(root, "timestamp"), &t) == 0 ? t : -1;
	return parse_udi(&msg->udi, &msg->has_udi, json_object_get(root, "sudi"), "sudi");
}

int rum_message_parse(struct rum_message **out, const char *body, size_t len,
		      const struct rum_message_limits *limits)
{
	struct rum_message *msg = NULL;
	struct rum_json_span span = {NULL, 0};
	json_error_t jerr;
	json_t *root;
	enum shape shape;
	char line[160];
	int rc = RUM_EINVAL;

	*out = NULL;
	if (!body && len)
		return rum_err_set(RUM_EINVAL, "no body");
	/* Never valid JSON, yet jansson skips one NUL right after a number or a
	 * literal; refusing it keeps the span scanner and the store (PostgreSQL
	 * text cannot hold NUL) in agreement with what was parsed. */
	if (len && memchr(body, '\0', len))
		return rum_err_set(RUM_EINVAL, "body is not JSON: it has a NUL byte");
	root = json_loadb(body ? body : "", len, JSON_DECODE_ANY, &jerr);
	if (!root) {
		one_line(line, sizeof(line), jerr.text);
		return rum_err_set(RUM_EINVAL, "body is not JSON: %s (line %d, column %d)", line,
				   jerr.line, jerr.column);
	}
	if (!json_is_object(root)) {
		rum_err_set(RUM_EINVAL, "body is not a JSON object");
		goto out;
	}
	msg = xcalloc(1, sizeof(*msg));
	msg->kind = classify(root, &shape);
	msg->confident = msg->kind != RUM_MSG_HELLO || only_envelope_keys(root);
	if ((rc = parse_envelope(msg, root)) != 0)
		goto out;
	if (msg->kind == RUM_MSG_POLL &&
	    (rc = parse_poll_id(msg, json_object_get(root, "poll_id"))) != 0)
		goto out;
	if (shape != SHAPE_NONE && rum_json_span_value(&span, body, len) != 0) {
		rc = rum_err_set(RUM_EINTERNAL, "body text could not be scanned");
		goto out;
	}
	if (shape == SHAPE_REPORTS)
		rc = extract_reports(msg, root, span, limits);
	else if (shape == SHAPE_USAGE)
		rc = extract_usage(msg, root, span, limits);
	else if (shape == SHAPE_BARE)
		rc = extract_bare(msg, root, span);
out:
	json_decref(root);
	if (rc != 0) {
		rum_message_free(msg);
		return rc;
	}
	*out = msg;
	return 0;
}
