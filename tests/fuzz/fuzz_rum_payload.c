/* libFuzzer target: one RUM payload through rum_report_parse_payload, then
 * the same payload wrapped in a usage message, which must agree with it. */
#include <jansson.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "domain/message.h"
#include "lib/err.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#define REQUIRE(cond)            \
	do {                     \
		if (!(cond))     \
			abort(); \
	} while (0)

/* Parses {"sudi":ENV,"usage":[{"payload":<data>,"signature":{}}]}; the
 * envelope sudi makes the UDI fallback succeed. */
static void via_message(const char *p, size_t n, int direct_rc, const struct rum_report *direct)
{
	json_t *body = json_pack("{s:{s:s,s:s},s:[{s:s%,s:{}}]}", "sudi", "udi_pid", "ENV",
				 "udi_serial_number", "ENVSN", "usage", "payload", p, n,
				 "signature");
	struct rum_message *m = NULL;
	char *text;
	int rc;

	if (!body)
		return; /* not UTF-8 or has a NUL: cannot be a payload string */
	text = json_dumps(body, JSON_COMPACT);
	json_decref(body);
	REQUIRE(text);
	rc = rum_message_parse(&m, text, strlen(text), NULL);
	REQUIRE(rc == direct_rc);
	if (rc == 0) {
		const struct rum_report *r = &m->reports[0];

		REQUIRE(m->kind == RUM_MSG_USAGE && m->n_reports == 1);
		REQUIRE(r->report_id == direct->report_id && r->format == direct->format);
		REQUIRE(strcmp(r->entitlement_tag, direct->entitlement_tag) == 0);
		REQUIRE(strcmp(r->last_value, direct->last_value) == 0);
		REQUIRE(r->first_start == direct->first_start && r->last_end == direct->last_end);
		REQUIRE(r->payload_len == n && memcmp(r->payload, p, n) == 0);
		if (direct->udi.pid[0])
			REQUIRE(strcmp(r->udi.pid, direct->udi.pid) == 0);
		else
			REQUIRE(strcmp(r->udi.pid, "ENV") == 0);
	}
	rum_message_free(m);
	free(text);
}

/* jansson, an independent parser, must agree on what is JSON (except for
 * numbers no long long or double holds: JSON, refused by jansson). */
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

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
	const char *p = (const char *)data;
	struct rum_report r;
	int rc;

	memset(&r, 0, sizeof(r));
	r.report_id = -1;
	r.first_start = -1;
	r.last_end = -1;
	rc = rum_report_parse_payload(&r, p, size);
	check_verdict(p, size, rc == 0 || strncmp(rum_err_msg(), "payload is not JSON", 19) != 0);
	if (rc == 0) {
		REQUIRE(r.format == 'A' || r.format == 'B');
		REQUIRE(r.report_id >= 0);
		REQUIRE(r.entitlement_tag && r.software_version && r.metric_name && r.last_value);
		REQUIRE(!r.payload);
		REQUIRE((r.udi.pid[0] == '\0') == (r.udi.sn[0] == '\0'));
		REQUIRE(r.first_start >= -1 && r.last_end >= -1);
	} else {
		REQUIRE(rc == RUM_EINVAL && r.report_id == -1 && !r.entitlement_tag);
		REQUIRE(!strchr(rum_err_msg(), '\n'));
	}
	via_message(p, size, rc, &r);
	rum_report_dispose(&r);
	return 0;
}
