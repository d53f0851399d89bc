/* libFuzzer target: one device message body through rum_message_parse. On
 * success every report's raw span must lie inside the input and re-parse (with
 * jansson, an independent parser) to the same payload string. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/message.h"
#include "lib/err.h"

#define FUZZ_MAX_REPORTS 64

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* jansson, an independent parser, must agree on what is JSON. It refuses
 * numbers that no long long or double holds, which are JSON and which
 * rumd takes, and it may skip a NUL that rumd refuses. */
static void check_verdict(const char *p, size_t n, bool is_json)
{
	json_error_t e;
	json_t *j;

	if (memchr(p, '\0', n))
		return;
	j = json_loadb(p, n, JSON_DECODE_ANY, &e);
	if (j)
		REQUIRE(is_json);
	else if (!strstr(e.text, "too big") && !strstr(e.text, "overflow"))
		REQUIRE(!is_json);
	json_decref(j);
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

	rc = rum_message_parse(&m, body, size, &lim);
	check_verdict(body, size, rc == 0 || strncmp(rum_err_msg(), "body is not JSON", 16) != 0);
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
