/* Device messages and RUM payloads, read with a SAX parser (lib/json_sax,
 * strict RFC 8259 JSON).
 *
 * Each document is read in one pass: a path stack follows the few containers
 * rumd reads from (the envelope, reports[i], usage[j], a report's signature,
 * a sudi; in a payload asset_identification, meta, measurements[k]) and every
 * other subtree is skipped, only its nesting counted. What a pass
 * finds is captured as it goes, the last of duplicate keys winning as
 * jansson kept it; the checks and their error messages run only after the
 * whole document has parsed, in the order the tree-based parser had them. */
#include "domain/message.h"

#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"
#include "lib/json_sax.h"
#include "lib/mem.h"
#include "lib/strict.h"

#define MAX_DEPTH 2048 /* nested containers, as jansson's default limit */
_Static_assert(MAX_DEPTH <= RUM_JSON_SAX_MAX_DEPTH, "the parser allows MAX_DEPTH");
#define MAX_FRAMES 8 /* deepest followed path: reports[i].usage[j].signature.sudi */

/* ------------------------------------------------------------------------ */
/* Small helpers */

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

/* ------------------------------------------------------------------------ */
/* Captured values */

enum jtype { J_ABSENT = 0, J_NULL, J_BOOL, J_NUMBER, J_STRING, J_ARRAY, J_OBJECT };

/* The value last seen at a place. Strings (decoded) and numbers (their JSON
 * text) keep their text, NUL-terminated; other types only their type. */
struct val {
	enum jtype type;
	char *text; /* the text; also kept, unused, by val_clear */
	size_t len;
	size_t cap; /* bytes allocated at text */
};

static void val_set(struct val *v, enum jtype type, const char *s, size_t len)
{
	v->type = type;
	if (type != J_STRING && type != J_NUMBER) {
		free(v->text);
		v->text = NULL;
		v->len = v->cap = 0;
		return;
	}
	if (v->cap < len + 1) { /* else the buffer is reused */
		free(v->text);
		v->text = rum_memdup(s, len);
		v->cap = len + 1;
	} else {
		memcpy(v->text, s, len);
		v->text[len] = '\0';
	}
	v->len = len;
}

/* Makes the value absent, keeping its buffer for the next val_set. */
static void val_clear(struct val *v)
{
	v->type = J_ABSENT;
	v->len = 0;
}

static void val_dispose(struct val *v)
{
	free(v->text);
	memset(v, 0, sizeof(*v));
}

/* Takes the text of a string value, leaving the value absent. */
static char *val_steal(struct val *v)
{
	char *s = v->type == J_STRING || v->type == J_NUMBER ? v->text : NULL;

	if (!s)
		free(v->text);
	memset(v, 0, sizeof(*v));
	return s;
}

/* A JSON number that is an integer fitting int64_t ("-0" is 0, as jansson
 * read it). Fractions, exponents and larger integers are not. */
static int num_int64(const char *text, int64_t *out)
{
	if (strpbrk(text, ".eE"))
		return -1;
	return rum_strict_int64(out, text) == 0 ? 0 : -1;
}

/* A non-negative integer given as a JSON integer or a decimal-digit string. */
static int val_to_i64(const struct val *v, int64_t *out)
{
	int64_t i;

	if (v->type == J_NUMBER) {
		if (num_int64(v->text, &i) != 0 || i < 0)
			return -1;
		*out = i;
		return 0;
	}
	if (v->type == J_STRING)
		return parse_dec(v->text, v->len, out);
	return -1;
}

/* A string as is; a number as the text jansson gave it (an int64 in
 * decimal, another number with %.17g), or as sent when no double holds it;
 * NULL for anything else. */
static char *val_to_text(const struct val *v)
{
	char buf[64];
	int64_t i;
	double d;

	if (v->type == J_STRING)
		return rum_memdup(v->text, v->len);
	if (v->type != J_NUMBER)
		return NULL;
	if (num_int64(v->text, &i) == 0) {
		snprintf(buf, sizeof(buf), "%lld", (long long)i);
		return rum_strdup(buf);
	}
	d = strtod(v->text, NULL);
	if (strpbrk(v->text, ".eE") && isfinite(d)) {
		snprintf(buf, sizeof(buf), "%.17g", d);
		return rum_strdup(buf);
	}
	return rum_memdup(v->text, v->len);
}

static char *text_or_empty(const struct val *v)
{
	return v->type == J_STRING ? rum_memdup(v->text, v->len) : rum_strdup("");
}

/* A sudi value: {"udi_pid": ..., "udi_serial_number": ...}. */
struct udi_cap {
	enum jtype type;
	struct val pid, sn;
};

static void udi_reset(struct udi_cap *c, enum jtype type)
{
	val_dispose(&c->pid);
	val_dispose(&c->sn);
	c->type = type;
}

static int udi_part(char *dst, const struct val *v, const char *where, const char *name)
{
	if (v->type != J_STRING)
		return rum_err_set(RUM_EINVAL, "%s.%s is missing or not a string", where, name);
	if (v->len == 0 || v->len > RUM_UDI_PART_MAX)
		return rum_err_set(RUM_EINVAL, "%s.%s must be 1 to %d bytes", where, name,
				   RUM_UDI_PART_MAX);
	for (size_t i = 0; i < v->len; i++)
		if ((unsigned char)v->text[i] < 0x20 || v->text[i] == 0x7f)
			return rum_err_set(RUM_EINVAL, "%s.%s has a control character", where,
					   name);
	memcpy(dst, v->text, v->len);
	dst[v->len] = '\0';
	return 0;
}

/* *found is false (and 0 returned) when the sudi is not an object or has
 * neither part; a present but bad part is RUM_EINVAL naming `where`. */
static int udi_from(struct rum_udi *out, bool *found, const struct udi_cap *c, const char *where)
{
	struct rum_udi u;
	int rc;

	*found = false;
	if (c->type != J_OBJECT || (c->pid.type == J_ABSENT && c->sn.type == J_ABSENT))
		return 0;
	if ((rc = udi_part(u.pid, &c->pid, where, "udi_pid")) != 0 ||
	    (rc = udi_part(u.sn, &c->sn, where, "udi_serial_number")) != 0)
		return rc;
	*out = u;
	*found = true;
	return 0;
}

/* ------------------------------------------------------------------------ */
/* The walk: the parser's events on a path stack */

#define R_SKIP 0 /* role of a container nothing is read from */

/* A container being followed: what it is (a pass's role) and, in an object,
 * what the current member is (a K_* key). */
struct frame {
	uint8_t role;
	uint8_t key;
};

struct walk;

/* What a pass does with each event. `top` is the innermost followed
 * container, NULL at the document's top. */
struct walk_ops {
	/* A member name in the object `top`: what its value will be (K_*). */
	uint8_t (*key)(struct walk *w, const struct frame *top, const char *s, size_t len);
	/* A value inside `top`: a scalar with its text (decoded string or the
	 * number as written), or the opening of an object or array at byte `at`.
	 * Returns the role to follow that container with, or R_SKIP. */
	uint8_t (*value)(struct walk *w, const struct frame *top, enum jtype type, const char *s,
			 size_t len, size_t at);
	/* The followed container `top` closed; `end` is the byte after it. */
	void (*close)(struct walk *w, const struct frame *top, size_t end);
};

struct walk {
	const struct walk_ops *ops;
	struct frame stack[MAX_FRAMES];
	size_t n;    /* frames in use */
	size_t skip; /* containers open inside a skipped one (its own included) */
};

static const struct frame *walk_top(const struct walk *w)
{
	return w->n ? &w->stack[w->n - 1] : NULL;
}

/* The role of the frame `up` levels above the top one (0: the top). */
static uint8_t walk_role(const struct walk *w, size_t up)
{
	return up < w->n ? w->stack[w->n - 1 - up].role : R_SKIP;
}

/* An object or array opens at byte `at` (its '{' or '['). */
static int walk_open(struct walk *w, enum jtype type, size_t at)
{
	uint8_t role;

	if (w->skip) {
		w->skip++;
		return 1;
	}
	role = w->ops->value(w, walk_top(w), type, NULL, 0, at);
	if (role == R_SKIP) {
		w->skip = 1;
		return 1;
	}
	if (w->n == MAX_FRAMES)
		abort(); /* cannot happen: the passes' roles nest at most 7 deep */
	w->stack[w->n++] = (struct frame){role, 0};
	return 1;
}

/* The innermost open container closes; `end` is the byte after it. */
static int walk_close(void *ctx, size_t end)
{
	struct walk *w = ctx;

	if (w->skip) {
		w->skip--;
	} else {
		w->ops->close(w, walk_top(w), end);
		w->n--;
	}
	return 1;
}

static int walk_scalar(struct walk *w, enum jtype type, const char *s, size_t len)
{
	if (!w->skip)
		w->ops->value(w, walk_top(w), type, s, len, 0);
	return 1;
}

static int cb_null(void *ctx)
{
	return walk_scalar(ctx, J_NULL, NULL, 0);
}

static int cb_boolean(void *ctx, int b)
{
	return walk_scalar(ctx, J_BOOL, NULL, 0);
}

/* Numbers arrive as their text, so that no number is too big. */
static int cb_number(void *ctx, const char *s, size_t len)
{
	return walk_scalar(ctx, J_NUMBER, s, len);
}

static int cb_string(void *ctx, const char *s, size_t len)
{
	return walk_scalar(ctx, J_STRING, s, len);
}

static int cb_start_object(void *ctx, size_t at)
{
	return walk_open(ctx, J_OBJECT, at);
}

static int cb_start_array(void *ctx, size_t at)
{
	return walk_open(ctx, J_ARRAY, at);
}

static int cb_key(void *ctx, const char *s, size_t len)
{
	struct walk *w = ctx;

	if (!w->skip)
		w->stack[w->n - 1].key = w->ops->key(w, walk_top(w), s, len);
	return 1;
}

static const struct rum_json_sax_ops walk_callbacks = {
	.null = cb_null,
	.boolean = cb_boolean,
	.number = cb_number,
	.string = cb_string,
	.key = cb_key,
	.start_object = cb_start_object,
	.start_array = cb_start_array,
	.end_object = walk_close,
	.end_array = walk_close,
};

/* "<what> is not JSON: <why> (line L, column C)", at byte `off` of text. */
static int not_json(const char *what, const char *why, const char *text, size_t off)
{
	char line[160];
	size_t ln = 1, col = 1;

	for (size_t i = 0; i < off; i++, col++)
		if (text[i] == '\n') {
			ln++;
			col = 0;
		}
	one_line(line, sizeof(line), why);
	return rum_err_set(RUM_EINVAL, "%s is not JSON: %s (line %zu, column %zu)", what, line, ln,
			   col);
}

/* Parses text[0..len) with w's pass, strictly (lib/json_sax.h: one value
 * and nothing after it, no comments, no NUL, strict UTF-8, no \u0000 or
 * unpaired surrogate escape), nesting within MAX_DEPTH. `what` ("body",
 * "payload") names the text in errors. 0 or RUM_EINVAL. */
static int walk_run(struct walk *w, const char *what, const char *text, size_t len)
{
	struct rum_json_sax_error err;

	switch (rum_json_sax_parse(text, len, MAX_DEPTH, &walk_callbacks, w, &err)) {
	case RUM_JSON_SAX_OK: return 0;
	case RUM_JSON_SAX_TOO_DEEP:
		return not_json(what, "nesting deeper than 2048 levels", text, err.offset);
	default: return not_json(what, err.reason, text, err.offset);
	}
}

/* Member names the passes know, per role. */
enum key {
	K_OTHER = 0,
	K_ENVELOPE, /* known to the envelope, not read */
	K_SUDI,
	K_HOSTNAME,
	K_TAG,
	K_NONCE,
	K_TIMESTAMP,
	K_POLL_ID,
	K_REPORTS,
	K_USAGE,
	K_PAYLOAD,
	K_SIGNATURE,
	K_LICENSES,
	K_TRUST_REQUEST,
	K_TRUST_REQUESTS,
	K_UDI_PID,
	K_UDI_SN,
	K_ASSET_ID,
	K_INSTANCE,
	K_META,
	K_VERSION,
	K_MEASUREMENTS,
	K_REPORT_ID,
	K_ENTITLEMENT_TAG,
	K_SOFTWARE_VERSION,
	K_METRIC_NAME,
	K_START_TIME,
	K_END_TIME,
	K_VALUE,
};

struct key_name {
	const char *name;
	size_t len;
	uint8_t key;
	bool envelope; /* a top-level key a hello may carry (PROTOCOL 1.3) */
};

#define N(name) name, sizeof(name) - 1
#define KEYS(t) t, sizeof(t) / sizeof((t)[0])

static uint8_t key_lookup(const struct key_name *t, size_t n, const char *s, size_t len,
			  bool *envelope)
{
	for (size_t i = 0; i < n; i++)
		if (t[i].len == len && t[i].name[0] == s[0] && memcmp(t[i].name, s, len) == 0) {
			if (envelope)
				*envelope = t[i].envelope;
			return t[i].key;
		}
	if (envelope)
		*envelope = false;
	return K_OTHER;
}

static const struct key_name udi_keys[] = {
	{N("udi_pid"), K_UDI_PID, false},
	{N("udi_serial_number"), K_UDI_SN, false},
};

static void udi_member(struct udi_cap *c, uint8_t key, enum jtype type, const char *s, size_t len)
{
	if (key == K_UDI_PID)
		val_set(&c->pid, type, s, len);
	else if (key == K_UDI_SN)
		val_set(&c->sn, type, s, len);
}

/* ------------------------------------------------------------------------ */
/* RUM payloads (PROTOCOL 1.4) */

enum payload_role { P_ROOT = 1, P_AI, P_INSTANCE, P_SUDI, P_META, P_MEASUREMENTS, P_MEAS, P_VALUE };

struct payload {
	struct walk w; /* first: the walk's callbacks get the pass from it */
	enum jtype root;
	struct val version;       /* version */
	struct val rid_a, rid_b;  /* meta.report_id, asset_identification.report_id */
	struct udi_cap sudi;      /* asset_identification.instance.sudi */
	struct val tag, swver;    /* meta.entitlement_tag, meta.software_version */
	size_t n_meas;            /* elements of measurements[] so far */
	struct val metric, start; /* measurements[0].metric_name, .start_time */
	struct val end, value;    /* measurements[last].end_time, .value or .value.value */
};

static const struct key_name payload_root_keys[] = {
	{N("asset_identification"), K_ASSET_ID, false},
	{N("meta"), K_META, false},
	{N("version"), K_VERSION, false},
	{N("measurements"), K_MEASUREMENTS, false},
};
static const struct key_name ai_keys[] = {
	{N("report_id"), K_REPORT_ID, false},
	{N("instance"), K_INSTANCE, false},
};
static const struct key_name instance_keys[] = {{N("sudi"), K_SUDI, false}};
static const struct key_name meta_keys[] = {
	{N("report_id"), K_REPORT_ID, false},
	{N("entitlement_tag"), K_ENTITLEMENT_TAG, false},
	{N("software_version"), K_SOFTWARE_VERSION, false},
};
static const struct key_name meas_keys[] = {
	{N("metric_name"), K_METRIC_NAME, false},
	{N("start_time"), K_START_TIME, false},
	{N("end_time"), K_END_TIME, false},
	{N("value"), K_VALUE, false},
};
static const struct key_name value_keys[] = {{N("value"), K_VALUE, false}};

static uint8_t payload_key(struct walk *w, const struct frame *top, const char *s, size_t len)
{
	switch (top->role) {
	case P_ROOT: return key_lookup(KEYS(payload_root_keys), s, len, NULL);
	case P_AI: return key_lookup(KEYS(ai_keys), s, len, NULL);
	case P_INSTANCE: return key_lookup(KEYS(instance_keys), s, len, NULL);
	case P_SUDI: return key_lookup(KEYS(udi_keys), s, len, NULL);
	case P_META: return key_lookup(KEYS(meta_keys), s, len, NULL);
	case P_MEAS: return key_lookup(KEYS(meas_keys), s, len, NULL);
	case P_VALUE: return key_lookup(KEYS(value_keys), s, len, NULL);
	}
	return K_OTHER;
}

/* A member of the payload object. A repeated key replaces everything the
 * earlier value gave. */
static uint8_t payload_root_member(struct payload *p, uint8_t key, enum jtype type, const char *s,
				   size_t len)
{
	switch (key) {
	case K_ASSET_ID:
		val_dispose(&p->rid_b);
		udi_reset(&p->sudi, J_ABSENT);
		return type == J_OBJECT ? P_AI : R_SKIP;
	case K_META:
		val_dispose(&p->rid_a);
		val_dispose(&p->tag);
		val_dispose(&p->swver);
		return type == J_OBJECT ? P_META : R_SKIP;
	case K_VERSION: val_set(&p->version, type, s, len); return R_SKIP;
	case K_MEASUREMENTS:
		p->n_meas = 0;
		val_dispose(&p->metric);
		val_dispose(&p->start);
		val_dispose(&p->end);
		val_dispose(&p->value);
		return type == J_ARRAY ? P_MEASUREMENTS : R_SKIP;
	}
	return R_SKIP;
}

/* A member of measurements[k]: the first element gives metric_name and
 * start_time; every element may be the last one, which gives end_time and
 * the value. */
static uint8_t meas_member(struct payload *p, uint8_t key, enum jtype type, const char *s,
			   size_t len)
{
	bool first = p->n_meas == 1;

	if (key == K_METRIC_NAME && first)
		val_set(&p->metric, type, s, len);
	else if (key == K_START_TIME && first)
		val_set(&p->start, type, s, len);
	else if (key == K_END_TIME)
		val_set(&p->end, type, s, len);
	else if (key == K_VALUE && type == J_OBJECT)
		val_clear(&p->value); /* {"type": ..., "value": ...}: read inside */
	else if (key == K_VALUE)
		val_set(&p->value, type, s, len);
	return key == K_VALUE && type == J_OBJECT ? P_VALUE : R_SKIP;
}

static uint8_t payload_value(struct walk *w, const struct frame *top, enum jtype type,
			     const char *s, size_t len, size_t at)
{
	struct payload *p = (struct payload *)w;

	if (!top) {
		p->root = type;
		return type == J_OBJECT ? P_ROOT : R_SKIP;
	}
	switch (top->role) {
	case P_ROOT: return payload_root_member(p, top->key, type, s, len);
	case P_AI:
		if (top->key == K_REPORT_ID)
			val_set(&p->rid_b, type, s, len);
		if (top->key == K_INSTANCE)
			udi_reset(&p->sudi, J_ABSENT);
		return top->key == K_INSTANCE && type == J_OBJECT ? P_INSTANCE : R_SKIP;
	case P_INSTANCE:
		if (top->key != K_SUDI)
			return R_SKIP;
		udi_reset(&p->sudi, type);
		return type == J_OBJECT ? P_SUDI : R_SKIP;
	case P_SUDI: udi_member(&p->sudi, top->key, type, s, len); return R_SKIP;
	case P_META:
		if (top->key == K_REPORT_ID)
			val_set(&p->rid_a, type, s, len);
		else if (top->key == K_ENTITLEMENT_TAG)
			val_set(&p->tag, type, s, len);
		else if (top->key == K_SOFTWARE_VERSION)
			val_set(&p->swver, type, s, len);
		return R_SKIP;
	case P_MEASUREMENTS:
		p->n_meas++;
		val_clear(&p->end);
		val_clear(&p->value);
		return type == J_OBJECT ? P_MEAS : R_SKIP;
	case P_MEAS: return meas_member(p, top->key, type, s, len);
	case P_VALUE:
		if (top->key == K_VALUE)
			val_set(&p->value, type, s, len);
		return R_SKIP;
	}
	return R_SKIP;
}

static void payload_close(struct walk *w, const struct frame *top, size_t end)
{
}

static const struct walk_ops payload_ops = {payload_key, payload_value, payload_close};

static void payload_dispose(struct payload *p)
{
	struct val *vals[] = {&p->version, &p->rid_a, &p->rid_b, &p->tag,  &p->swver,
			      &p->metric,  &p->start, &p->end,   &p->value};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		val_dispose(vals[i]);
	udi_reset(&p->sudi, J_ABSENT);
}

static bool is_version_2(const struct val *v)
{
	if (v->type == J_STRING)
		return strcmp(v->text, "2.0") == 0 || strcmp(v->text, "2") == 0;
	return v->type == J_NUMBER && strtod(v->text, NULL) == 2.0;
}

/* What the walk found, checked and stored into r, as the tree-based parser
 * did: report id first, then the instance sudi. */
static int payload_extract(struct rum_report *r, struct payload *p)
{
	bool b_first = is_version_2(&p->version), has_udi;
	const struct val *rid;
	struct rum_udi udi;
	int64_t id, t;

	if (p->root != J_OBJECT)
		return rum_err_set(RUM_EINVAL, "payload is not a JSON object");
	if (b_first)
		rid = p->rid_b.type ? &p->rid_b : &p->rid_a;
	else
		rid = p->rid_a.type ? &p->rid_a : &p->rid_b;
	if (!rid->type)
		return rum_err_set(RUM_EINVAL, "payload has no report_id");
	if (val_to_i64(rid, &id) != 0)
		return rum_err_set(RUM_EINVAL,
				   "payload report_id is not a non-negative decimal number");
	if (udi_from(&udi, &has_udi, &p->sudi, "payload asset_identification.instance.sudi") != 0)
		return RUM_EINVAL;

	r->format = rid == &p->rid_b ? 'B' : 'A';
	r->report_id = id;
	if (has_udi)
		r->udi = udi;
	r->entitlement_tag = text_or_empty(&p->tag);
	r->software_version = text_or_empty(&p->swver);
	r->metric_name = text_or_empty(&p->metric);
	r->last_value = val_to_text(&p->value);
	if (!r->last_value)
		r->last_value = rum_strdup("");
	if (val_to_i64(&p->start, &t) == 0)
		r->first_start = t;
	if (val_to_i64(&p->end, &t) == 0)
		r->last_end = t;
	return 0;
}

int rum_report_parse_payload(struct rum_report *r, const char *payload, size_t len)
{
	struct payload p;
	int rc;

	if (!r || (!payload && len))
		return rum_err_set(RUM_EINVAL, "no payload");
	memset(&p, 0, sizeof(p));
	p.w.ops = &payload_ops;
	rc = walk_run(&p.w, "payload", payload ? payload : "", len);
	if (rc == 0)
		rc = payload_extract(r, &p);
	payload_dispose(&p);
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

/* ------------------------------------------------------------------------ */
/* Device messages (PROTOCOL 1.3) */

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

enum body_role {
	B_ROOT = 1,
	B_ENV_SUDI,
	B_REPORTS,
	B_ENTRY,
	B_ENTRY_SUDI,
	B_ROOT_USAGE,
	B_ENTRY_USAGE,
	B_REPORT,
	B_SIGNATURE,
	B_SIG_SUDI,
	B_TRUST_LIST, /* a trust_requests array: its elements are counted */
};

/* A run of consecutive elements in one of the body's vectors. */
struct range {
	size_t first, n;
};

/* An element of a usage[] array, or the body itself read as a report. */
struct rep {
	enum jtype type;
	size_t start, end; /* its text, when an object: body[start..end) */
	struct val payload;
	enum jtype signature;
	struct udi_cap sig; /* signature.sudi */
};

/* An element of reports[]. */
struct entry {
	enum jtype type;
	struct udi_cap sudi;
	struct val hostname, tag;
	enum jtype usage_type;
	struct range usage; /* into body.reps */
};

struct body {
	struct walk w; /* first: the walk's callbacks get the pass from it */
	enum jtype root;
	bool unknown_key; /* a top-level key a hello does not carry */
	struct udi_cap sudi;
	struct val hostname, tag, nonce, timestamp, poll_id;
	enum jtype reports_type, usage_type, licenses, trust_request, trust_requests;
	size_t n_trust;       /* trust requests anywhere in the message */
	struct range reports; /* into ents */
	struct range usage;   /* into reps */
	struct rep bare;      /* the top-level object as a report */
	/* Everything the walk met, in document order; the ranges above select
	 * the elements of the last of duplicate keys. */
	struct entry *ents;
	size_t n_ents, cap_ents;
	struct rep *reps;
	size_t n_reps, cap_reps;
};

static const struct key_name root_keys[] = {
	{N("sudi"), K_SUDI, true},
	{N("udi"), K_ENVELOPE, true},
	{N("timestamp"), K_TIMESTAMP, true},
	{N("nonce"), K_NONCE, true},
	{N("hostname"), K_HOSTNAME, true},
	{N("software_version"), K_ENVELOPE, true},
	{N("software_tag_identifier"), K_TAG, true},
	{N("product_instance_identifier"), K_ENVELOPE, true},
	{N("poll_id"), K_POLL_ID, false},
	{N("reports"), K_REPORTS, false},
	{N("usage"), K_USAGE, false},
	{N("payload"), K_PAYLOAD, false},
	{N("signature"), K_SIGNATURE, false},
	{N("licenses"), K_LICENSES, false},
	{N("trust_request"), K_TRUST_REQUEST, false},
	{N("trust_requests"), K_TRUST_REQUESTS, false},
};
static const struct key_name entry_keys[] = {
	{N("sudi"), K_SUDI, false},         {N("trust_requests"), K_TRUST_REQUESTS, false},
	{N("hostname"), K_HOSTNAME, false}, {N("software_tag_identifier"), K_TAG, false},
	{N("usage"), K_USAGE, false},
};
static const struct key_name report_keys[] = {
	{N("payload"), K_PAYLOAD, false},
	{N("signature"), K_SIGNATURE, false},
};
static const struct key_name signature_keys[] = {{N("sudi"), K_SUDI, false}};

static uint8_t body_key(struct walk *w, const struct frame *top, const char *s, size_t len)
{
	struct body *b = (struct body *)w;
	bool envelope;
	uint8_t key;

	switch (top->role) {
	case B_ROOT:
		key = key_lookup(KEYS(root_keys), s, len, &envelope);
		if (!envelope)
			b->unknown_key = true;
		return key;
	case B_ENTRY: return key_lookup(KEYS(entry_keys), s, len, NULL);
	case B_REPORT: return key_lookup(KEYS(report_keys), s, len, NULL);
	case B_SIGNATURE: return key_lookup(KEYS(signature_keys), s, len, NULL);
	case B_ENV_SUDI:
	case B_ENTRY_SUDI:
	case B_SIG_SUDI: return key_lookup(KEYS(udi_keys), s, len, NULL);
	}
	return K_OTHER;
}

static struct entry *last_ent(struct body *b)
{
	return &b->ents[b->n_ents - 1];
}

static struct rep *last_rep(struct body *b)
{
	return &b->reps[b->n_reps - 1];
}

/* The report a frame of role `role` (B_ROOT or B_REPORT) stands for. */
static struct rep *report_of(struct body *b, uint8_t role)
{
	return role == B_ROOT ? &b->bare : last_rep(b);
}

/* A member of the top-level object, which may also be a bare report. */
static uint8_t root_member(struct body *b, uint8_t key, enum jtype type, const char *s, size_t len)
{
	switch (key) {
	case K_SUDI: udi_reset(&b->sudi, type); return type == J_OBJECT ? B_ENV_SUDI : R_SKIP;
	case K_HOSTNAME: val_set(&b->hostname, type, s, len); break;
	case K_TAG: val_set(&b->tag, type, s, len); break;
	case K_NONCE: val_set(&b->nonce, type, s, len); break;
	case K_TIMESTAMP: val_set(&b->timestamp, type, s, len); break;
	case K_POLL_ID: val_set(&b->poll_id, type, s, len); break;
	case K_PAYLOAD: val_set(&b->bare.payload, type, s, len); break;
	case K_LICENSES: b->licenses = type; break;
	case K_TRUST_REQUEST:
		b->trust_request = type;
		b->n_trust += type == J_OBJECT;
		break;
	case K_TRUST_REQUESTS:
		b->trust_requests = type;
		return type == J_ARRAY ? B_TRUST_LIST : R_SKIP;
	case K_REPORTS:
		b->reports_type = type;
		b->reports = (struct range){b->n_ents, 0};
		return type == J_ARRAY ? B_REPORTS : R_SKIP;
	case K_USAGE:
		b->usage_type = type;
		b->usage = (struct range){b->n_reps, 0};
		return type == J_ARRAY ? B_ROOT_USAGE : R_SKIP;
	case K_SIGNATURE:
		b->bare.signature = type;
		udi_reset(&b->bare.sig, J_ABSENT);
		return type == J_OBJECT ? B_SIGNATURE : R_SKIP;
	}
	return R_SKIP;
}

static uint8_t entry_member(struct body *b, uint8_t key, enum jtype type, const char *s, size_t len)
{
	struct entry *e = last_ent(b);

	switch (key) {
	case K_SUDI: udi_reset(&e->sudi, type); return type == J_OBJECT ? B_ENTRY_SUDI : R_SKIP;
	case K_HOSTNAME: val_set(&e->hostname, type, s, len); break;
	case K_TAG: val_set(&e->tag, type, s, len); break;
	case K_TRUST_REQUESTS: return type == J_ARRAY ? B_TRUST_LIST : R_SKIP;
	case K_USAGE:
		e->usage_type = type;
		e->usage = (struct range){b->n_reps, 0};
		return type == J_ARRAY ? B_ENTRY_USAGE : R_SKIP;
	}
	return R_SKIP;
}

static uint8_t reports_element(struct body *b, enum jtype type)
{
	if (b->n_ents == b->cap_ents) {
		b->cap_ents = b->cap_ents ? 2 * b->cap_ents : 8;
		b->ents = rum_realloc(b->ents, b->cap_ents * sizeof(*b->ents));
	}
	memset(&b->ents[b->n_ents++], 0, sizeof(*b->ents));
	last_ent(b)->type = type;
	b->reports.n++;
	return type == J_OBJECT ? B_ENTRY : R_SKIP;
}

static uint8_t usage_element(struct body *b, uint8_t role, enum jtype type, size_t at)
{
	if (b->n_reps == b->cap_reps) {
		b->cap_reps = b->cap_reps ? 2 * b->cap_reps : 8;
		b->reps = rum_realloc(b->reps, b->cap_reps * sizeof(*b->reps));
	}
	memset(&b->reps[b->n_reps++], 0, sizeof(*b->reps));
	last_rep(b)->type = type;
	last_rep(b)->start = at;
	if (role == B_ROOT_USAGE)
		b->usage.n++;
	else
		last_ent(b)->usage.n++;
	return type == J_OBJECT ? B_REPORT : R_SKIP;
}

static uint8_t report_member(struct rep *r, uint8_t key, enum jtype type, const char *s, size_t len)
{
	if (key == K_PAYLOAD) {
		val_set(&r->payload, type, s, len);
	} else if (key == K_SIGNATURE) {
		r->signature = type;
		udi_reset(&r->sig, J_ABSENT);
		return type == J_OBJECT ? B_SIGNATURE : R_SKIP;
	}
	return R_SKIP;
}

/* A sudi object's member: which sudi depends on what encloses it. */
static void sudi_member(struct body *b, uint8_t role, uint8_t key, enum jtype type, const char *s,
			size_t len)
{
	struct udi_cap *c;

	if (role == B_ENV_SUDI)
		c = &b->sudi;
	else if (role == B_ENTRY_SUDI)
		c = &last_ent(b)->sudi;
	else /* B_SIG_SUDI, in report.signature */
		c = &report_of(b, walk_role(&b->w, 2))->sig;
	udi_member(c, key, type, s, len);
}

static uint8_t body_value(struct walk *w, const struct frame *top, enum jtype type, const char *s,
			  size_t len, size_t at)
{
	struct body *b = (struct body *)w;

	if (!top) {
		b->root = type;
		b->bare.type = type;
		b->bare.start = at;
		return type == J_OBJECT ? B_ROOT : R_SKIP;
	}
	switch (top->role) {
	case B_ROOT: return root_member(b, top->key, type, s, len);
	case B_REPORTS: return reports_element(b, type);
	case B_ENTRY: return entry_member(b, top->key, type, s, len);
	case B_ROOT_USAGE:
	case B_ENTRY_USAGE: return usage_element(b, top->role, type, at);
	case B_REPORT: return report_member(last_rep(b), top->key, type, s, len);
	case B_SIGNATURE:
		if (top->key != K_SUDI)
			return R_SKIP;
		udi_reset(&report_of(b, walk_role(w, 1))->sig, type);
		return type == J_OBJECT ? B_SIG_SUDI : R_SKIP;
	case B_ENV_SUDI:
	case B_ENTRY_SUDI:
	case B_SIG_SUDI: sudi_member(b, top->role, top->key, type, s, len); return R_SKIP;
	case B_TRUST_LIST: b->n_trust++; return R_SKIP;
	}
	return R_SKIP;
}

static void body_close(struct walk *w, const struct frame *top, size_t end)
{
	struct body *b = (struct body *)w;

	if (top->role == B_ROOT)
		b->bare.end = end;
	else if (top->role == B_REPORT)
		last_rep(b)->end = end;
}

static const struct walk_ops body_ops = {body_key, body_value, body_close};

static void rep_dispose(struct rep *r)
{
	val_dispose(&r->payload);
	udi_reset(&r->sig, J_ABSENT);
}

static void body_dispose(struct body *b)
{
	struct val *vals[] = {&b->hostname, &b->tag, &b->nonce, &b->timestamp, &b->poll_id};

	for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++)
		val_dispose(vals[i]);
	udi_reset(&b->sudi, J_ABSENT);
	rep_dispose(&b->bare);
	for (size_t i = 0; i < b->n_ents; i++) {
		udi_reset(&b->ents[i].sudi, J_ABSENT);
		val_dispose(&b->ents[i].hostname);
		val_dispose(&b->ents[i].tag);
	}
	free(b->ents);
	for (size_t i = 0; i < b->n_reps; i++)
		rep_dispose(&b->reps[i]);
	free(b->reps);
}

/* ---- From what the walk found to the message ---- */

enum shape { SHAPE_NONE, SHAPE_REPORTS, SHAPE_USAGE, SHAPE_BARE };

/* The usage facts a report falls back on, from its reports[] entry or the
 * envelope. */
struct report_ctx {
	const struct rum_udi *udi; /* NULL when none */
	const char *hostname;
	const char *software_tag;
};

/* Fills r from the report `rep`; its text is a span of `body`. Takes rep's
 * payload string. */
static int extract_report(struct rum_report *r, struct rep *rep, const char *body,
			  const char *where, const struct report_ctx *ctx)
{
	char sig_where[96];
	bool found;
	int rc;

	if (rep->type != J_OBJECT)
		return rum_err_set(RUM_EINVAL, "%s: report is not an object", where);
	if (rep->payload.type != J_STRING)
		return rum_err_set(RUM_EINVAL, "%s: payload is missing or not a string", where);
	memset(r, 0, sizeof(*r));
	r->report_id = -1;
	r->first_start = -1;
	r->last_end = -1;
	rc = rum_report_parse_payload(r, rep->payload.text, rep->payload.len);
	if (rc != 0)
		return err_at(rc, where);
	r->raw = body + rep->start;
	r->raw_len = rep->end - rep->start;
	r->payload_len = rep->payload.len;
	r->payload = val_steal(&rep->payload);
	r->hostname = ctx->hostname;
	r->software_tag = ctx->software_tag;
	if (r->udi.pid[0])
		return 0;
	snprintf(sig_where, sizeof(sig_where), "%s.signature.sudi", where);
	rc = udi_from(&r->udi, &found, &rep->sig, sig_where);
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

/* Fills reports[*k...] from the usage[] elements `usage`. `prefix` names
 * the array in errors. */
static int extract_array(struct rum_message *msg, size_t *k, struct body *b, const char *text,
			 struct range usage, const char *prefix, const struct report_ctx *ctx)
{
	char where[96];
	int rc;

	for (size_t i = 0; i < usage.n; i++) {
		snprintf(where, sizeof(where), "%s[%zu]", prefix, i);
		rc = extract_report(&msg->reports[*k], &b->reps[usage.first + i], text, where, ctx);
		if (rc != 0)
			return rc;
		(*k)++;
	}
	return 0;
}

static const char *own(struct rum_message *msg, char *s)
{
	msg->owned[msg->n_owned++] = s; /* the caller sized owned[] */
	return s;
}

/* Counts the reports of reports[] and checks its entries' shape, before any
 * payload is parsed. */
static int count_reports(const struct body *b, size_t *total)
{
	*total = 0;
	for (size_t i = 0; i < b->reports.n; i++) {
		const struct entry *e = &b->ents[b->reports.first + i];

		if (e->type != J_OBJECT)
			return rum_err_set(RUM_EINVAL, "reports[%zu] is not an object", i);
		if (e->usage_type == J_ARRAY)
			*total += e->usage.n;
		else if (e->usage_type != J_ABSENT && e->usage_type != J_NULL)
			return rum_err_set(RUM_EINVAL, "reports[%zu].usage is not an array", i);
	}
	return 0;
}

/* One reports[] entry: its sudi, hostname and tag, then its usage[]. */
static int extract_entry(struct rum_message *msg, size_t *k, struct body *b, const char *text,
			 size_t i, const struct rum_udi *env_udi)
{
	struct entry *e = &b->ents[b->reports.first + i];
	struct report_ctx ctx = {env_udi, msg->hostname, msg->software_tag};
	struct rum_udi udi;
	char where[64];
	bool found;
	int rc;

	snprintf(where, sizeof(where), "reports[%zu].sudi", i);
	if ((rc = udi_from(&udi, &found, &e->sudi, where)) != 0)
		return rc;
	if (found) {
		ctx.udi = &udi;
		if (i == 0 && !msg->has_udi) {
			msg->udi = udi;
			msg->has_udi = true;
		}
	}
	if (e->hostname.type == J_STRING)
		ctx.hostname = own(msg, val_steal(&e->hostname));
	if (e->tag.type == J_STRING)
		ctx.software_tag = own(msg, val_steal(&e->tag));
	if (e->usage_type != J_ARRAY || e->usage.n == 0)
		return 0;
	snprintf(where, sizeof(where), "reports[%zu].usage", i);
	return extract_array(msg, k, b, text, e->usage, where, &ctx);
}

/* The CSSM reportusage shape: reports[] entries each with usage[]. */
static int extract_reports(struct rum_message *msg, struct body *b, const char *text, size_t max)
{
	/* Reports fall back on the envelope's own sudi, never on the copy of
	 * reports[0].sudi that has_udi may take. */
	struct rum_udi env = msg->udi;
	const struct rum_udi *env_udi = msg->has_udi ? &env : NULL;
	size_t total, k = 0;
	int rc;

	if ((rc = count_reports(b, &total)) != 0)
		return rc;
	if (total > max)
		return too_many(total, max);
	msg->reports = rum_calloc(total, sizeof(*msg->reports));
	msg->n_reports = total;
	msg->owned = rum_calloc(2 * b->reports.n, sizeof(*msg->owned));
	for (size_t i = 0; i < b->reports.n; i++)
		if ((rc = extract_entry(msg, &k, b, text, i, env_udi)) != 0)
			return rc;
	return 0;
}

static int extract_usage(struct rum_message *msg, struct body *b, const char *text, size_t max)
{
	struct report_ctx ctx = {msg->has_udi ? &msg->udi : NULL, msg->hostname, msg->software_tag};
	size_t k = 0;

	if (b->usage.n > max)
		return too_many(b->usage.n, max);
	msg->reports = rum_calloc(b->usage.n, sizeof(*msg->reports));
	msg->n_reports = b->usage.n;
	return extract_array(msg, &k, b, text, b->usage, "usage", &ctx);
}

static int extract_bare(struct rum_message *msg, struct body *b, const char *text)
{
	struct report_ctx ctx = {msg->has_udi ? &msg->udi : NULL, msg->hostname, msg->software_tag};

	msg->reports = rum_calloc(1, sizeof(*msg->reports));
	msg->n_reports = 1;
	return extract_report(&msg->reports[0], &b->bare, text, "report", &ctx);
}

/* Present and not null. */
static bool present(enum jtype t)
{
	return t != J_ABSENT && t != J_NULL;
}

static enum rum_msg_kind classify(const struct body *b, enum shape *shape)
{
	*shape = SHAPE_NONE;
	if (b->poll_id.type != J_ABSENT)
		return RUM_MSG_POLL;
	if (b->reports_type == J_ARRAY) {
		*shape = SHAPE_REPORTS;
		return RUM_MSG_USAGE;
	}
	if (b->usage_type == J_ARRAY) {
		*shape = SHAPE_USAGE;
		return RUM_MSG_USAGE;
	}
	if (b->bare.payload.type == J_STRING && present(b->bare.signature)) {
		*shape = SHAPE_BARE;
		return RUM_MSG_USAGE;
	}
	if (b->licenses == J_ARRAY)
		return RUM_MSG_AUTHORIZATION;
	if ((present(b->trust_request) || present(b->trust_requests)) && !present(b->usage_type))
		return RUM_MSG_TRUST;
	return RUM_MSG_HELLO;
}

static int parse_poll_id(struct rum_message *msg, const struct val *v)
{
	int64_t id;

	if (v->type == J_NUMBER && val_to_i64(v, &id) == 0) {
		msg->poll_id = val_to_text(v);
		return 0;
	}
	if (v->type != J_STRING || v->len == 0 || v->len > RUM_POLL_ID_MAX)
		return rum_err_set(RUM_EINVAL, "poll_id is not a decimal number");
	for (size_t i = 0; i < v->len; i++)
		if (v->text[i] < '0' || v->text[i] > '9')
			return rum_err_set(RUM_EINVAL, "poll_id is not a decimal number");
	msg->poll_id = rum_memdup(v->text, v->len);
	return 0;
}

static int parse_envelope(struct rum_message *msg, const struct body *b)
{
	int64_t t;

	msg->hostname = text_or_empty(&b->hostname);
	msg->software_tag = text_or_empty(&b->tag);
	msg->nonce = val_to_text(&b->nonce);
	if (!msg->nonce)
		msg->nonce = rum_strdup("");
	msg->timestamp_ms = val_to_i64(&b->timestamp, &t) == 0 ? t : -1;
	return udi_from(&msg->udi, &msg->has_udi, &b->sudi, "sudi");
}

/* From a body the walk accepted to the message, in the order of checks and
 * errors the tree-based parser had. */
static int build_message(struct rum_message *msg, struct body *b, const char *text,
			 const struct rum_message_limits *limits)
{
	size_t max = max_reports_of(limits);
	enum shape shape;
	int rc;

	msg->kind = classify(b, &shape);
	msg->confident = msg->kind != RUM_MSG_HELLO || !b->unknown_key;
	msg->n_trust_requests = b->n_trust;
	if ((rc = parse_envelope(msg, b)) != 0)
		return rc;
	if (msg->kind == RUM_MSG_POLL && (rc = parse_poll_id(msg, &b->poll_id)) != 0)
		return rc;
	if (shape == SHAPE_REPORTS)
		return extract_reports(msg, b, text, max);
	if (shape == SHAPE_USAGE)
		return extract_usage(msg, b, text, max);
	if (shape == SHAPE_BARE)
		return extract_bare(msg, b, text);
	return 0;
}

int rum_message_parse(struct rum_message **out, const char *body, size_t len,
		      const struct rum_message_limits *limits)
{
	struct rum_message *msg = NULL;
	const char *text = body ? body : "";
	struct body b;
	int rc;

	*out = NULL;
	if (!body && len)
		return rum_err_set(RUM_EINVAL, "no body");
	memset(&b, 0, sizeof(b));
	b.w.ops = &body_ops;
	if ((rc = walk_run(&b.w, "body", text, len)) != 0)
		goto out;
	if (b.root != J_OBJECT) {
		rc = rum_err_set(RUM_EINVAL, "body is not a JSON object");
		goto out;
	}
	msg = rum_calloc(1, sizeof(*msg));
	rc = build_message(msg, &b, text, limits);
out:
	body_dispose(&b);
	if (rc != 0) {
		rum_message_free(msg);
		return rc;
	}
	*out = msg;
	return 0;
}
