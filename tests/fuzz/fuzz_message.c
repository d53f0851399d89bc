/* libFuzzer target: one device message body through rum_message_parse, and
 * the raw bytes through the JSON span scanner. On success every report's raw
 * span must lie inside the input and re-parse to the same payload string. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/message.h"
#include "util/err.h"
#include "util/json_span.h"

#define FUZZ_MAX_REPORTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)                                                                    \
	do {                                                                             \
		if (!(cond))                                                             \
			abort();                                                         \
	} while (0)

/* The scanner alone must stay in bounds on any bytes. */
static void scan_any(const char *p, size_t n)
{
	struct rum_json_span v, k, u;
	struct rum_json_span_iter it;
	int rc, count = 0;

	if (rum_json_span_value(&v, p, n) != 0)
		return;
	REQUIRE(v.p >= p && v.p + v.len <= p + n && v.len > 0);
	if (rum_json_span_iter_init(&it, v) != 0)
		return;
	while ((rc = rum_json_span_iter_next(&it, &k, &v)) == 1 && count++ < 10000) {
		REQUIRE(v.p >= p && v.p + v.len <= p + n);
		if (k.p)
			(void)rum_json_span_key_equals(k, "usage");
	}
	if (p[0] == '{')
		(void)rum_json_span_member(&u, (struct rum_json_span){p, n}, "usage");
}

static bool udi_ok(const struct rum_udi *u)
{
	size_t a = strnlen(u->pid, sizeof(u->pid)), b = strnlen(u->sn, sizeof(u->sn));

	return a >= 1 && a <= RUM_UDI_PART_MAX && b >= 1 && b <= RUM_UDI_PART_MAX;
}

static void check_report(const struct rum_report *r, const char *body, size_t size)
{
	json_t *obj, *payload;

	REQUIRE(r->raw >= body && r->raw_len >= 2 && r->raw_len <= size &&
		(size_t)(r->raw - body) <= size - r->raw_len);
	REQUIRE(r->raw[0] == '{' && r->raw[r->raw_len - 1] == '}');
	REQUIRE(r->payload && r->entitlement_tag && r->software_version && r->metric_name &&
		r->last_value && r->hostname && r->software_tag);
	REQUIRE(r->format == 'A' || r->format == 'B');
	REQUIRE(r->report_id >= 0);
	REQUIRE(udi_ok(&r->udi));
	obj = json_loadb(r->raw, r->raw_len, 0, NULL);
	REQUIRE(json_is_object(obj));
	payload = json_object_get(obj, "payload");
	REQUIRE(json_is_string(payload));
	REQUIRE(json_string_length(payload) == r->payload_len &&
		memcmp(json_string_value(payload), r->payload, r->payload_len) == 0);
	json_decref(obj);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	struct rum_message_limits lim = {FUZZ_MAX_REPORTS};
	const char *body = (const char *)data;
	struct rum_message *m = NULL;
	int rc;

	scan_any(body, size);
	rc = rum_message_parse(&m, body, size, &lim);
	if (rc != 0) {
		REQUIRE(m == NULL);
		REQUIRE(rc == RUM_EINVAL || rc == RUM_ETOOBIG);
		REQUIRE(rum_err_msg()[0] != '\0' && !strchr(rum_err_msg(), '\n'));
		return 0;
	}
	REQUIRE(m && m->hostname && m->software_tag && m->nonce);
	REQUIRE(strcmp(rum_msg_kind_name(m->kind), "unknown") != 0);
	REQUIRE(m->confident || m->kind == RUM_MSG_HELLO);
	REQUIRE((m->kind == RUM_MSG_POLL) == (m->poll_id != NULL));
	if (m->poll_id)
		REQUIRE(m->poll_id[0] && strspn(m->poll_id, "0123456789") == strlen(m->poll_id));
	REQUIRE(!m->has_udi || udi_ok(&m->udi));
	REQUIRE(m->n_reports <= FUZZ_MAX_REPORTS);
	REQUIRE(m->n_reports == 0 || m->kind == RUM_MSG_USAGE);
	for (size_t i = 0; i < m->n_reports; i++)
		check_report(&m->reports[i], body, size);
	rum_message_free(m);
	return 0;
}
