/* RUM report generation, see report.h. */
#include "agent/report.h"

#include <jansson.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <openssl/rand.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "lib/err.h"

int rum_agent_random_hex(char *out, size_t size, size_t nbytes)
{
	unsigned char buf[64];

	if (nbytes > sizeof(buf) || size < nbytes * 2 + 1)
		return rum_err_set(RUM_EINTERNAL, "random_hex: buffer too small");
	if (RAND_bytes(buf, (int)nbytes) != 1)
		return rum_err_set(RUM_EINTERNAL, "random_hex: RAND_bytes failed");
	for (size_t i = 0; i < nbytes; i++)
		snprintf(out + 2 * i, 3, "%02x", buf[i]);
	return 0;
}

int rum_agent_derive_hex(char out[65], const char *key, const char *msg)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (!HMAC(EVP_sha256(), key, (int)strlen(key), (const unsigned char *)msg, strlen(msg), mac,
		  &mac_len) ||
	    mac_len != 32)
		return rum_err_set(RUM_EINTERNAL, "derive_hex: HMAC failed");
	for (unsigned int i = 0; i < mac_len; i++)
		snprintf(out + 2 * i, 3, "%02x", mac[i]);
	return 0;
}

int rum_agent_report_sign(char *out, size_t size, const char *secret, const char *msg, size_t len)
{
	unsigned char mac[EVP_MAX_MD_SIZE];
	unsigned int mac_len = 0;

	if (size < 4 * ((EVP_MAX_MD_SIZE + 2) / 3) + 1)
		return rum_err_set(RUM_EINTERNAL, "report_sign: buffer too small");
	if (!HMAC(EVP_sha256(), secret, (int)strlen(secret), (const unsigned char *)msg, len, mac,
		  &mac_len))
		return rum_err_set(RUM_EINTERNAL, "report_sign: HMAC failed");
	EVP_EncodeBlock((unsigned char *)out, mac, (int)mac_len);
	return 0;
}

static json_t *sudi_new(const struct rum_agent_state *st)
{
	return json_pack("{s:s,s:s}", "udi_pid", st->pid, "udi_serial_number", st->serial);
}

/* The payload object; key order follows real devices (see the format A
 * sample in shared/fixtures/rum). */
static json_t *payload_new(const struct rum_agent_state *st, const struct rum_agent_report *r,
			   int64_t end, const char *reason)
{
	char count[16];
	json_t *asset, *meta, *m, *p;
	int64_t span = end - r->start;

	snprintf(count, sizeof(count), "%u", r->count);
	asset = json_pack("{s:{s:s},s:{s:o},s:{s:s,s:s,s:s}}", "asset", "name", st->sw_tag,
			  "instance", "sudi", sudi_new(st), "signature", "signing_type", "builtin",
			  "key", st->sw_tag, "value", st->serial);
	meta = json_pack("{s:s}", "entitlement_tag", r->tag);
	if (st->rum_format == 'B')
		json_object_set_new(asset, "report_id", json_integer((json_int_t)r->id));
	else
		json_object_set_new(meta, "report_id", json_integer((json_int_t)r->id));
	json_object_set_new(meta, "software_version", json_string(st->sw_version));
	json_object_set_new(meta, "ha_udi",
			    json_pack("[{s:s,s:o}]", "role", "Active", "sudi", sudi_new(st)));
	m = json_pack("[{s:I,s:s,s:I,s:I,s:I,s:i,s:{s:s},s:{s:s,s:s}}]", "log_time",
		      (json_int_t)end, "metric_name", "ENTITLEMENT", "start_time",
		      (json_int_t)r->start, "end_time", (json_int_t)end, "sample_interval",
		      (json_int_t)span, "num_samples", 2, "meta", "termination_reason", reason,
		      "value", "type", "COUNT", "value", count);
	if (st->rum_format == 'B')
		p = json_pack("{s:s,s:o,s:o,s:o}", "version", "2.0", "asset_identification", asset,
			      "meta", meta, "measurements", m);
	else
		p = json_pack("{s:o,s:o,s:o}", "asset_identification", asset, "meta", meta,
			      "measurements", m);
	return p;
}

int rum_agent_report_close(const struct rum_agent_state *st, struct rum_agent_report *r,
			   int64_t end, const char *reason)
{
	char sig[128];
	json_t *payload, *doc;
	char *ptext = NULL;
	int rc = 0;

	if (r->state != RUM_AGENT_REPORT_OPEN)
		return rum_err_set(RUM_EINTERNAL, "report %llu is not open",
				   (unsigned long long)r->id);
	if (end <= r->start)
		end = r->start + 1; /* a report always spans at least one second */
	payload = payload_new(st, r, end, reason);
	if (!payload)
		abort();
	ptext = json_dumps(payload, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(payload);
	if (!ptext)
		abort();
	rc = rum_agent_report_sign(sig, sizeof(sig), st->secret, ptext, strlen(ptext));
	if (rc < 0)
		goto out;
	doc = json_pack("{s:s,s:{s:s},s:{s:o,s:s,s:s,s:s}}", "payload", ptext, "header", "type",
			"rum", "signature", "sudi", sudi_new(st), "signing_type", "builtin", "key",
			st->sw_tag, "value", sig);
	if (!doc)
		abort();
	free(r->doc);
	r->doc = json_dumps(doc, JSON_COMPACT | JSON_PRESERVE_ORDER);
	json_decref(doc);
	if (!r->doc)
		abort();
	r->end = end;
	r->state = RUM_AGENT_REPORT_CLOSED;
out:
	free(ptext);
	return rc;
}

int rum_agent_report_inspect(const char *doc, uint64_t *id, char *tag, size_t tag_size)
{
	json_error_t e;
	json_t *d = json_loads(doc, 0, &e), *p = NULL, *v;
	const char *ptext, *t;
	int rc = 0;

	if (!d || !(ptext = json_string_value(json_object_get(d, "payload")))) {
		rc = rum_err_set(RUM_EINVAL, "report: no payload string");
		goto out;
	}
	p = json_loads(ptext, 0, &e);
	if (!p) {
		rc = rum_err_set(RUM_EINVAL, "report: payload is not JSON: %s", e.text);
		goto out;
	}
	v = json_object_get(json_object_get(p, "meta"), "report_id");
	if (!v)
		v = json_object_get(json_object_get(p, "asset_identification"), "report_id");
	t = json_string_value(json_object_get(json_object_get(p, "meta"), "entitlement_tag"));
	if (!json_is_integer(v) || !t) {
		rc = rum_err_set(RUM_EINVAL, "report: payload lacks report_id or entitlement_tag");
		goto out;
	}
	*id = (uint64_t)json_integer_value(v);
	snprintf(tag, tag_size, "%s", t);
out:
	json_decref(p);
	json_decref(d);
	return rc;
}

void rum_agent_base64_encode(char **out, const char *data, size_t len)
{
	char *p = malloc(4 * ((len + 2) / 3) + 1);

	if (!p)
		abort();
	EVP_EncodeBlock((unsigned char *)p, (const unsigned char *)data, (int)len);
	*out = p;
}
