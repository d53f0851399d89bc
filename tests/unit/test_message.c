/* Device message parsing (domain/message.h): kinds, envelope, RUM
 * payloads, byte-exact report text, limits and errors. */
#include <jansson.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "domain/message.h"
#include "lib/err.h"

/* A growing string for composing bodies. */
struct sb {
	char *p;
	size_t len, cap;
};

static void sb_addn(struct sb *b, const char *s, size_t n)
{
	if (b->len + n + 1 > b->cap) {
		b->cap = (b->len + n + 1) * 2;
		b->p = realloc(b->p, b->cap);
		if (!b->p)
			abort();
	}
	memcpy(b->p + b->len, s, n);
	b->len += n;
	b->p[b->len] = '\0';
}

static void sb_add(struct sb *b, const char *s)
{
	sb_addn(b, s, strlen(s));
}

static void sb_addf(struct sb *b, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void sb_addf(struct sb *b, const char *fmt, ...)
{
	char tmp[4096];
	va_list ap;
	int n;

	va_start(ap, fmt);
	n = vsnprintf(tmp, sizeof(tmp), fmt, ap);
	va_end(ap);
	if (n < 0 || (size_t)n >= sizeof(tmp))
		abort();
	sb_addn(b, tmp, (size_t)n);
}

/* Appends s as a JSON string literal. */
static void sb_add_quoted(struct sb *b, const char *s)
{
	json_t *j = json_string(s);
	char *q = json_dumps(j, JSON_ENCODE_ANY);

	sb_add(b, q);
	free(q);
	json_decref(j);
}

/* A format A payload; pid NULL leaves out instance.sudi. rid is JSON text. */
static char *payload_a(const char *rid, const char *pid, const char *sn)
{
	struct sb b = {0};

	sb_add(&b, "{\"asset_identification\":{\"asset\":{\"name\":"
		   "\"regid.2019-10.com.example.X\"}");
	if (pid)
		sb_addf(&b,
			",\"instance\":{\"sudi\":{\"udi_pid\":\"%s\","
			"\"udi_serial_number\":\"%s\"}}",
			pid, sn);
	sb_addf(&b,
		",\"signature\":{\"signing_type\":\"builtin\"}},\"meta\":{"
		"\"entitlement_tag\":\"regid.tag.A\",\"report_id\":%s,"
		"\"software_version\":\"17.03.04\",\"ha_udi\":[]},\"measurements\":["
		"{\"log_time\":5,\"metric_name\":\"ENTITLEMENT\",\"start_time\":100,"
		"\"end_time\":200,\"value\":{\"type\":\"COUNT\",\"value\":\"3\"}},"
		"{\"metric_name\":\"TELEMETRY\",\"start_time\":300,\"end_time\":400,"
		"\"value\":{\"type\":\"COUNT\",\"value\":7}}]}",
		rid);
	return b.p;
}

/* A format B payload (version 2.0, asset_identification.report_id). */
static char *payload_b(const char *rid, const char *pid, const char *sn)
{
	struct sb b = {0};

	sb_addf(&b,
		"{\"version\":\"2.0\",\"asset_identification\":{\"report_id\":%s,"
		"\"asset\":{\"name\":\"regid.B\"},\"instance\":{\"sudi\":{\"udi_pid\":\"%s\","
		"\"udi_serial_number\":\"%s\"}}},\"meta\":{"
		"\"entitlement_tag\":\"regid.tag.B\","
		"\"software_version\":\"17.09.01\"},\"measurements\":[{\"metric_name\":"
		"\"ENTITLEMENT\",\"start_time\":1000,\"end_time\":2000,\"value\":{\"type\":"
		"\"COUNT\",\"value\":\"12\"}}]}",
		rid, pid, sn);
	return b.p;
}

/* Appends a report object carrying payload; sig_pid NULL leaves out signature.sudi. */
static void add_report(struct sb *b, const char *payload, const char *sig_pid, const char *sig_sn)
{
	sb_add(b, "{\"payload\":");
	sb_add_quoted(b, payload);
	sb_add(b, ",\"header\":{\"type\":\"rum\"},\"signature\":{");
	if (sig_pid)
		sb_addf(b, "\"sudi\":{\"udi_pid\":\"%s\",\"udi_serial_number\":\"%s\"},", sig_pid,
			sig_sn);
	sb_add(b, "\"signing_type\":\"builtin\",\"value\":\"c2ln\"}}");
}

static struct rum_message *parse_ok(const char *body, size_t len, size_t max)
{
	struct rum_message_limits lim = {max};
	struct rum_message *m = NULL;
	int rc = rum_message_parse(&m, body, len, &lim);

	if (rc != 0) {
		fprintf(stderr, "unexpected error %s: %s\nbody: %.300s\n", rum_err_name(rc),
			rum_err_msg(), body);
		rum_check_failures++;
	}
	return m;
}

static struct rum_message *parse_s(const char *body)
{
	return parse_ok(body, strlen(body), 0);
}

/* Expects parsing to fail with `code` and a message containing `what`. */
static void expect_err(const char *body, size_t len, int code, const char *what, int line)
{
	struct rum_message *m = (struct rum_message *)1;
	int rc = rum_message_parse(&m, body, len, NULL);

	if (rc != code || m != NULL || !strstr(rum_err_msg(), what)) {
		fprintf(stderr, "test_message.c:%d: expected %s \"%s\", got %s \"%s\"\n", line,
			rum_err_name(code), what, rum_err_name(rc), rum_err_msg());
		rum_check_failures++;
	}
	if (rc == 0)
		rum_message_free(m);
}

#define EXPECT_ERR(body, code, what) expect_err(body, strlen(body), code, what, __LINE__)

static void expect_kind(const char *body, enum rum_msg_kind kind, bool confident, int line)
{
	struct rum_message *m = parse_s(body);

	if (!m)
		return;
	if (m->kind != kind || m->confident != confident) {
		fprintf(stderr, "test_message.c:%d: kind %s confident %d, expected %s %d: %s\n",
			line, rum_msg_kind_name(m->kind), m->confident, rum_msg_kind_name(kind),
			confident, body);
		rum_check_failures++;
	}
	rum_message_free(m);
}

#define EXPECT_KIND(body, kind, confident) expect_kind(body, kind, confident, __LINE__)

static char *usage_body(const char *payload)
{
	struct sb b = {0};

	sb_add(&b, "{\"usage\":[");
	add_report(&b, payload, NULL, NULL);
	sb_add(&b, "]}");
	return b.p;
}

static void test_kinds(void)
{
	char *p = payload_a("1", "PID", "SN"), *body;
	struct sb b = {0};

	CHECK_STR(rum_msg_kind_name(RUM_MSG_HELLO), "hello");
	CHECK_STR(rum_msg_kind_name(RUM_MSG_USAGE), "usage");
	CHECK_STR(rum_msg_kind_name(RUM_MSG_POLL), "poll");
	CHECK_STR(rum_msg_kind_name(RUM_MSG_AUTHORIZATION), "authorization");
	CHECK_STR(rum_msg_kind_name(RUM_MSG_TRUST), "trust");
	CHECK_STR(rum_msg_kind_name((enum rum_msg_kind)99), "unknown");

	EXPECT_KIND("{}", RUM_MSG_HELLO, true);
	EXPECT_KIND(" \t\r\n{ }\n", RUM_MSG_HELLO, true);
	EXPECT_KIND("{\"sudi\":{\"udi_pid\":\"A\",\"udi_serial_number\":\"B\"},\"timestamp\":1,"
		    "\"nonce\":\"n\",\"product_instance_identifier\":\"x\",\"hostname\":\"h\","
		    "\"software_tag_identifier\":\"t\",\"software_version\":\"v\",\"udi\":{}}",
		    RUM_MSG_HELLO, true);
	EXPECT_KIND("{\"sudi\":{},\"something_new\":1}", RUM_MSG_HELLO, false);
	EXPECT_KIND("{\"reports\":{}}", RUM_MSG_HELLO, false);
	EXPECT_KIND("{\"usage\":\"x\",\"trust_request\":{}}", RUM_MSG_HELLO, false);
	EXPECT_KIND("{\"trust_request\":null}", RUM_MSG_HELLO, false);
	EXPECT_KIND("{\"payload\":\"{}\"}", RUM_MSG_HELLO, false);

	EXPECT_KIND("{\"poll_id\":\"42\"}", RUM_MSG_POLL, true);
	EXPECT_KIND("{\"poll_id\":42,\"reports\":[],\"licenses\":[]}", RUM_MSG_POLL, true);
	EXPECT_KIND("{\"reports\":[],\"usage\":[]}", RUM_MSG_USAGE, true);
	EXPECT_KIND("{\"usage\":[]}", RUM_MSG_USAGE, true);
	EXPECT_KIND("{\"licenses\":[]}", RUM_MSG_AUTHORIZATION, true);
	EXPECT_KIND("{\"licenses\":[],\"trust_request\":{}}", RUM_MSG_AUTHORIZATION, true);
	EXPECT_KIND("{\"trust_request\":{\"a\":1}}", RUM_MSG_TRUST, true);
	EXPECT_KIND("{\"trust_requests\":[]}", RUM_MSG_TRUST, true);
	EXPECT_KIND("{\"trust_requests\":[],\"usage\":[]}", RUM_MSG_USAGE, true);

	body = usage_body(p);
	EXPECT_KIND(body, RUM_MSG_USAGE, true);
	free(body);
	add_report(&b, p, NULL, NULL);
	EXPECT_KIND(b.p, RUM_MSG_USAGE, true);
	free(b.p);
	free(p);
}

static void test_poll_id(void)
{
	struct rum_message *m;

	m = parse_s("{\"poll_id\":\"0012345\",\"nonce\":\"abc\",\"timestamp\":1700000000000,"
		    "\"action\":\"acknowledgements\"}");
	if (m) {
		CHECK_STR(m->poll_id, "0012345");
		CHECK_STR(m->nonce, "abc");
		CHECK_INT(m->timestamp_ms, 1700000000000LL);
		CHECK_INT(m->n_reports, 0);
		rum_message_free(m);
	}
	m = parse_s("{\"poll_id\":9223372036854775807}");
	if (m) {
		CHECK_STR(m->poll_id, "9223372036854775807");
		rum_message_free(m);
	}
	m = parse_s("{\"poll_id\":\"12345678901234567890\"}");
	if (m) {
		CHECK_STR(m->poll_id, "12345678901234567890");
		rum_message_free(m);
	}
	m = parse_s("{}");
	if (m) {
		CHECK(m->poll_id == NULL);
		rum_message_free(m);
	}
	EXPECT_ERR("{\"poll_id\":-1}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":1.5}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":null}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":true}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":\"\"}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":\"12a\"}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":\"+1\"}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":\" 1\"}", RUM_EINVAL, "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":\"123456789012345678901\"}", RUM_EINVAL,
		   "poll_id is not a decimal number");
	EXPECT_ERR("{\"poll_id\":{}}", RUM_EINVAL, "poll_id is not a decimal number");
}

static void test_envelope(void)
{
	struct rum_message *m;

	m = parse_s("{\"sudi\":{\"udi_pid\":\"C9300-24P\",\"udi_serial_number\":\"FOC1234X0AB\"},"
		    "\"nonce\":1234567,\"hostname\":\"sw-1\",\"software_tag_identifier\":\"tag\","
		    "\"timestamp\":\"1700000000001\"}");
	if (m) {
		CHECK(m->has_udi);
		CHECK_STR(m->udi.pid, "C9300-24P");
		CHECK_STR(m->udi.sn, "FOC1234X0AB");
		CHECK_STR(m->nonce, "1234567");
		CHECK_STR(m->hostname, "sw-1");
		CHECK_STR(m->software_tag, "tag");
		CHECK_INT(m->timestamp_ms, 1700000000001LL);
		rum_message_free(m);
	}
	m = parse_s("{\"nonce\":{},\"hostname\":7,\"timestamp\":-5,\"sudi\":\"x\"}");
	if (m) {
		CHECK(!m->has_udi);
		CHECK_STR(m->nonce, "");
		CHECK_STR(m->hostname, "");
		CHECK_STR(m->software_tag, "");
		CHECK_INT(m->timestamp_ms, -1);
		rum_message_free(m);
	}
	m = parse_s("{\"nonce\":\"\\u00e9t\\u00e9\",\"sudi\":{}}");
	if (m) {
		CHECK_STR(m->nonce, "\xc3\xa9t\xc3\xa9");
		CHECK(!m->has_udi);
		rum_message_free(m);
	}
}

static void test_udi_limits(void)
{
	char pid[RUM_UDI_PART_MAX + 2];
	struct sb b = {0};
	struct rum_message *m;

	memset(pid, 'P', sizeof(pid));
	pid[RUM_UDI_PART_MAX] = '\0';
	sb_addf(&b, "{\"sudi\":{\"udi_pid\":\"%s\",\"udi_serial_number\":\"S\"}}", pid);
	m = parse_s(b.p);
	if (m) {
		CHECK_INT(strlen(m->udi.pid), RUM_UDI_PART_MAX);
		rum_message_free(m);
	}
	b.len = 0;
	pid[RUM_UDI_PART_MAX] = 'P';
	pid[RUM_UDI_PART_MAX + 1] = '\0';
	sb_addf(&b, "{\"sudi\":{\"udi_pid\":\"%s\",\"udi_serial_number\":\"S\"}}", pid);
	EXPECT_ERR(b.p, RUM_EINVAL, "sudi.udi_pid must be 1 to 128 bytes");
	free(b.p);
	EXPECT_ERR("{\"sudi\":{\"udi_pid\":\"\",\"udi_serial_number\":\"S\"}}", RUM_EINVAL,
		   "sudi.udi_pid must be 1 to 128 bytes");
	EXPECT_ERR("{\"sudi\":{\"udi_pid\":\"P\",\"udi_serial_number\":\"\"}}", RUM_EINVAL,
		   "sudi.udi_serial_number must be 1 to 128 bytes");
	EXPECT_ERR("{\"sudi\":{\"udi_pid\":\"P\"}}", RUM_EINVAL,
		   "sudi.udi_serial_number is missing or not a string");
	EXPECT_ERR("{\"sudi\":{\"udi_pid\":5,\"udi_serial_number\":\"S\"}}", RUM_EINVAL,
		   "sudi.udi_pid is missing or not a string");
	EXPECT_ERR("{\"sudi\":{\"udi_pid\":\"A\\nB\",\"udi_serial_number\":\"S\"}}", RUM_EINVAL,
		   "sudi.udi_pid has a control character");
}

static void check_report_a(const struct rum_report *r, int64_t id)
{
	CHECK_INT(r->format, 'A');
	CHECK_INT(r->report_id, id);
	CHECK_STR(r->entitlement_tag, "regid.tag.A");
	CHECK_STR(r->software_version, "17.03.04");
	CHECK_STR(r->metric_name, "ENTITLEMENT");
	CHECK_STR(r->last_value, "7");
	CHECK_INT(r->first_start, 100);
	CHECK_INT(r->last_end, 400);
}

static void test_formats(void)
{
	const char *ids[] = {"1646687408", "\"1646687408\""};
	struct rum_message *m;

	for (int i = 0; i < 2; i++) {
		char *p = payload_a(ids[i], "C9300-24P", "FOC1"), *body = usage_body(p);

		m = parse_s(body);
		if (m && m->n_reports == 1) {
			struct rum_report *r = &m->reports[0];

			check_report_a(r, 1646687408);
			CHECK_STR(r->udi.pid, "C9300-24P");
			CHECK_STR(r->udi.sn, "FOC1");
			CHECK_INT(r->payload_len, strlen(p));
			CHECK_STR(r->payload, p);
			CHECK(r->raw == body + strlen("{\"usage\":["));
			CHECK_INT(r->raw_len, strlen(body) - strlen("{\"usage\":[]}"));
		} else {
			CHECK(!"format A usage message");
		}
		rum_message_free(m);
		free(body);
		free(p);
	}
	for (int i = 0; i < 2; i++) {
		char *p = payload_b(i ? "\"9223372036854775807\"" : "77", "C8300", "FDO9"),
		     *body = usage_body(p);

		m = parse_s(body);
		if (m && m->n_reports == 1) {
			struct rum_report *r = &m->reports[0];

			CHECK_INT(r->format, 'B');
			CHECK_INT(r->report_id, i ? INT64_MAX : 77);
			CHECK_STR(r->udi.pid, "C8300");
			CHECK_STR(r->entitlement_tag, "regid.tag.B");
			CHECK_STR(r->software_version, "17.09.01");
			CHECK_STR(r->metric_name, "ENTITLEMENT");
			CHECK_STR(r->last_value, "12");
			CHECK_INT(r->first_start, 1000);
			CHECK_INT(r->last_end, 2000);
		} else {
			CHECK(!"format B usage message");
		}
		rum_message_free(m);
		free(body);
		free(p);
	}
}

/* rum_report_parse_payload on its own, as usage-file import calls it. */
static void test_payload_direct(void)
{
	struct rum_report r;
	const char *p;
	int rc;

	memset(&r, 0, sizeof(r));
	r.first_start = -7;
	r.last_end = -8;
	r.report_id = -9;
	p = "{\"meta\":{\"report_id\":5}}";
	rc = rum_report_parse_payload(&r, p, strlen(p));
	CHECK_INT(rc, 0);
	CHECK_INT(r.format, 'A');
	CHECK_INT(r.report_id, 5);
	CHECK_STR(r.entitlement_tag, "");
	CHECK_STR(r.software_version, "");
	CHECK_STR(r.metric_name, "");
	CHECK_STR(r.last_value, "");
	CHECK_INT(r.first_start, -7);
	CHECK_INT(r.last_end, -8);
	CHECK_STR(r.udi.pid, "");
	rum_report_dispose(&r);
	CHECK(r.entitlement_tag == NULL);
	rum_report_dispose(&r);
	rum_report_dispose(NULL);

	/* Both places: version 2.0 prefers asset_identification, otherwise meta. */
	p = "{\"version\":\"2.0\",\"asset_identification\":{\"report_id\":2},"
	    "\"meta\":{\"report_id\":1}}";
	memset(&r, 0, sizeof(r));
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_INT(r.format, 'B');
	CHECK_INT(r.report_id, 2);
	rum_report_dispose(&r);
	p = "{\"asset_identification\":{\"report_id\":2},\"meta\":{\"report_id\":1}}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_INT(r.format, 'A');
	CHECK_INT(r.report_id, 1);
	rum_report_dispose(&r);
	p = "{\"asset_identification\":{\"report_id\":\"3\"}}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_INT(r.format, 'B');
	CHECK_INT(r.report_id, 3);
	rum_report_dispose(&r);

	/* Value as a number, as a bare scalar, measurement fields as digit strings. */
	p = "{\"meta\":{\"report_id\":0},\"measurements\":[{\"start_time\":\"11\","
	    "\"metric_name\":\"TELEMETRY\"},{},{\"end_time\":\"22\",\"value\":\"9\"}]}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_INT(r.report_id, 0);
	CHECK_INT(r.first_start, 11);
	CHECK_INT(r.last_end, 22);
	CHECK_STR(r.metric_name, "TELEMETRY");
	CHECK_STR(r.last_value, "9");
	rum_report_dispose(&r);
	p = "{\"meta\":{\"report_id\":0},\"measurements\":[{\"value\":{\"value\":2.5}}]}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_STR(r.last_value, "2.5");
	rum_report_dispose(&r);

	/* Errors leave r unchanged. */
	{
		static const char *const bad[][2] = {
			{"{}", "payload has no report_id"},
			{"{\"meta\":{}}", "payload has no report_id"},
			{"{\"meta\":{\"report_id\":-1}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"-1\"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"+1\"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\" 1\"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"1 \"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"\"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"1.0\"}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":\"9223372036854775808\"}}",
			 "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":1.5}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":null}}", "not a non-negative decimal number"},
			{"{\"meta\":{\"report_id\":true}}", "not a non-negative decimal number"},
			{"not json", "payload is not JSON"},
			{"", "payload is not JSON"},
			{"{\"meta\":{\"report_id\":1}} x", "payload is not JSON"},
			{"[1]", "payload is not a JSON object"},
			{"\"s\"", "payload is not a JSON object"},
			{"{\"meta\":{\"report_id\":1},\"asset_identification\":{\"instance\":"
			 "{\"sudi\":{\"udi_pid\":\"\",\"udi_serial_number\":\"S\"}}}}",
			 "payload asset_identification.instance.sudi.udi_pid must be 1 to 128"},
		};
		for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
			memset(&r, 0, sizeof(r));
			r.report_id = 42;
			rc = rum_report_parse_payload(&r, bad[i][0], strlen(bad[i][0]));
			CHECK_INT(rc, RUM_EINVAL);
			if (!strstr(rum_err_msg(), bad[i][1])) {
				fprintf(stderr, "payload %s: message \"%s\", expected \"%s\"\n",
					bad[i][0], rum_err_msg(), bad[i][1]);
				rum_check_failures++;
			}
			CHECK_INT(r.report_id, 42);
			CHECK(r.entitlement_tag == NULL && r.last_value == NULL);
		}
	}
	CHECK_INT(rum_report_parse_payload(&r, NULL, 3), RUM_EINVAL);
	CHECK_INT(rum_report_parse_payload(&r, "{\"meta\":{\"report_id\":1\0}}", 25), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "payload is not JSON") != NULL);
	CHECK(r.entitlement_tag == NULL);
}

static char *read_file(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	struct sb b = {0};
	char buf[4096];
	size_t n;

	if (!f)
		return NULL;
	while ((n = fread(buf, 1, sizeof(buf), f)) > 0)
		sb_addn(&b, buf, n);
	fclose(f);
	*len = b.len;
	return b.p;
}

static void test_real_sample(void)
{
	const char *dir = getenv("RUM_SHARED_DIR");
	char path[1024];
	struct sb b = {0};
	struct rum_message *m;
	size_t len = 0, off;
	char *report;

	if (!dir) {
		printf("SKIP real sample: RUM_SHARED_DIR is not set\n");
		return;
	}
	snprintf(path, sizeof(path), "%s/fixtures/rum/format-a-c8000v-17.06.02.json", dir);
	report = read_file(path, &len);
	if (!report) {
		printf("SKIP real sample: %s is absent\n", path);
		return;
	}
	while (len > 0 && (report[len - 1] == '\n' || report[len - 1] == ' '))
		len--;
	sb_add(&b, "{\"sudi\":{\"udi_pid\":\"C8000V\",\"udi_serial_number\":\"abcdef123456\"},"
		   "\"usage\":[\n  ");
	off = b.len;
	sb_addn(&b, report, len);
	sb_add(&b, "\n]}");
	m = parse_ok(b.p, b.len, 0);
	if (m && m->n_reports == 1) {
		struct rum_report *r = &m->reports[0];

		CHECK_INT(m->kind, RUM_MSG_USAGE);
		CHECK_INT(r->format, 'A');
		CHECK_INT(r->report_id, 1646687408);
		CHECK_STR(r->udi.pid, "C8000V");
		CHECK_STR(r->udi.sn, "abcdef123456");
		CHECK_STR(r->entitlement_tag, "regid.2018-12.com.cisco.DNA_P_50M_A,"
					      "1.0_100fb8b2-f5cc-459c-9253-ac77b827fd71");
		CHECK_STR(r->software_version, "17.06.02");
		CHECK_INT(r->first_start, 1657549046);
		CHECK_INT(r->last_end, 1657550382);
		CHECK_STR(r->last_value, "1");
		CHECK_STR(r->metric_name, "ENTITLEMENT");
		CHECK(r->raw == b.p + off);
		CHECK_INT(r->raw_len, len);
		CHECK(memcmp(r->raw, report, len) == 0);
		CHECK(strncmp(r->payload, "{\"asset_identification\":{\"asset\":", 33) == 0);
	} else {
		CHECK(!"real sample parsed");
	}
	rum_message_free(m);

	/* The sample itself is a bare RUM report. */
	m = parse_ok(report, len, 0);
	if (m && m->n_reports == 1) {
		CHECK_INT(m->kind, RUM_MSG_USAGE);
		CHECK(m->reports[0].raw == report);
		CHECK_INT(m->reports[0].raw_len, len);
		CHECK_INT(m->reports[0].report_id, 1646687408);
	}
	rum_message_free(m);
	free(report);
	free(b.p);
}

/* Report text is taken byte-exact, whatever the spacing and escapes. */
static void test_raw_spans(void)
{
	char *p1 = payload_a("1", "P", "S"), *p2 = payload_a("\"2\"", "P", "S");
	const char *odd = "{ \"payload\" :\t\"{\\\"meta\\\":{\\\"report_id\\\":3,"
			  "\\\"entitlement_tag\\\":\\\"}{][\\\\\\\\\\\\\\\"\\\"}}\" ,\r\n"
			  "  \"n\\u00e9st\\\"ed\":{\"}\":\"{[\\\\\",\"a\":[[{}],[]]},"
			  "\"signature\":{\"sudi\":{\"udi_pid\":\"P\\u00e9\","
			  "\"udi_serial_number\":\"\\ud83d\\ude00\"}} }";
	size_t start[4], end[4];
	struct sb b = {0};
	struct rum_message *m;

	sb_add(&b, "\n{ \"nonce\" : \"[{\\\"usage\\\":\" ,\n\t\"us\\u0061ge\":[1],"
		   "\"usage\"\t:\n [ ");
	start[0] = b.len;
	add_report(&b, p1, NULL, NULL);
	end[0] = b.len;
	sb_add(&b, "\r\n ,\t");
	start[1] = b.len;
	sb_add(&b, odd);
	end[1] = b.len;
	sb_add(&b, ",");
	start[2] = b.len;
	add_report(&b, p2, NULL, NULL);
	end[2] = b.len;
	sb_add(&b, " ] , \"zz\":\"]}\" }\n\n");
	m = parse_ok(b.p, b.len, 0);
	if (m && m->n_reports == 3) {
		for (int i = 0; i < 3; i++) {
			CHECK(m->reports[i].raw == b.p + start[i]);
			CHECK_INT(m->reports[i].raw_len, end[i] - start[i]);
		}
		CHECK_INT(m->reports[0].report_id, 1);
		CHECK_INT(m->reports[1].report_id, 3);
		CHECK_INT(m->reports[2].report_id, 2);
		CHECK_STR(m->reports[1].entitlement_tag, "}{][\\\"");
		CHECK_STR(m->reports[1].udi.pid, "P\xc3\xa9");
		CHECK_STR(m->reports[1].udi.sn, "\xf0\x9f\x98\x80");
		CHECK_STR(m->nonce, "[{\"usage\":");
	} else {
		CHECK(!"odd-spacing usage message with 3 reports");
	}
	rum_message_free(m);

	/* A duplicated key: jansson keeps the last value, so must the spans. */
	b.len = 0;
	sb_add(&b, "{\"usage\":[");
	add_report(&b, p2, NULL, NULL);
	sb_add(&b, "],\"usage\":[");
	start[3] = b.len;
	add_report(&b, p1, NULL, NULL);
	end[3] = b.len;
	sb_add(&b, "]}");
	m = parse_ok(b.p, b.len, 0);
	if (m && m->n_reports == 1) {
		CHECK_INT(m->reports[0].report_id, 1);
		CHECK(m->reports[0].raw == b.p + start[3]);
		CHECK_INT(m->reports[0].raw_len, end[3] - start[3]);
	} else {
		CHECK(!"duplicate usage key");
	}
	rum_message_free(m);

	/* The key spelled with an escape is the same key. */
	b.len = 0;
	sb_add(&b, "{\"usage\":[],\"\\u0075sage\":[");
	start[3] = b.len;
	add_report(&b, p1, NULL, NULL);
	end[3] = b.len;
	sb_add(&b, "]}");
	m = parse_ok(b.p, b.len, 0);
	if (m && m->n_reports == 1) {
		CHECK(m->reports[0].raw == b.p + start[3]);
		CHECK_INT(m->reports[0].raw_len, end[3] - start[3]);
	} else {
		CHECK(!"escaped usage key");
	}
	rum_message_free(m);

	/* The body need not be NUL-terminated: parse a copy with no NUL. */
	{
		char *copy = malloc(b.len);

		memcpy(copy, b.p, b.len);
		m = parse_ok(copy, b.len, 0);
		CHECK(m && m->n_reports == 1 && m->reports[0].raw == copy + start[3]);
		rum_message_free(m);
		free(copy);
	}
	free(b.p);
	free(p1);
	free(p2);
}

/* reports[]: several entries, several usage items each, with fallbacks. */
static void test_reports_shape(void)
{
	char *pa = payload_a("10", "PA", "SA"), *pn = payload_a("11", NULL, NULL),
	     *pb = payload_b("12", "PB", "SB");
	size_t start[5], end[5];
	struct sb b = {0};
	struct rum_message *m;
	int k = 0;

	sb_add(&b, "{\"timestamp\":1700000000000,\"nonce\":\"a1b2\",\"hostname\":\"env-host\","
		   "\"software_tag_identifier\":\"env-tag\",\"reports\":[");
	/* Entry 0: its own sudi, hostname and tag; three reports. */
	sb_add(&b, "{\"sudi\":{\"udi_pid\":\"E0\",\"udi_serial_number\":\"ES0\"},"
		   "\"hostname\":\"sw-core-1\",\"software_tag_identifier\":\"regid.tag0\","
		   "\"trust_requests\":[],\"usage\":[");
	start[k] = b.len;
	add_report(&b, pa, NULL, NULL); /* instance.sudi wins */
	end[k++] = b.len;
	sb_add(&b, ",");
	start[k] = b.len;
	add_report(&b, pn, "SIGP", "SIGS"); /* signature.sudi */
	end[k++] = b.len;
	sb_add(&b, ",");
	start[k] = b.len;
	add_report(&b, pn, NULL, NULL); /* entry sudi */
	end[k++] = b.len;
	sb_add(&b, "]},");
	/* Entry 1: no usage at all. */
	sb_add(&b, "{\"sudi\":{\"udi_pid\":\"E1\",\"udi_serial_number\":\"ES1\"},"
		   "\"trust_requests\":[{}]},");
	/* Entry 2: no sudi, no hostname: the envelope's; usage null in between. */
	sb_add(&b, "{\"usage\":null,\"usage\":[");
	start[k] = b.len;
	add_report(&b, pb, NULL, NULL);
	end[k++] = b.len;
	sb_add(&b, " , ");
	start[k] = b.len;
	add_report(&b, pn, NULL, NULL); /* no UDI anywhere but ... none: error below */
	end[k++] = b.len;
	sb_add(&b, "]}]}");

	/* Without an envelope sudi the last report has no UDI at all. */
	EXPECT_ERR(b.p, RUM_EINVAL, "reports[2].usage[1]: no UDI");

	/* With one it falls back to it. */
	{
		struct sb b2 = {0};

		sb_add(&b2, "{\"sudi\":{\"udi_pid\":\"ENV\",\"udi_serial_number\":\"ENVS\"},");
		sb_addn(&b2, b.p + 1, b.len - 1);
		m = parse_ok(b2.p, b2.len, 0);
		if (m && m->n_reports == 5) {
			const struct rum_report *r = m->reports;
			size_t shift = b2.len - b.len;

			CHECK_INT(m->kind, RUM_MSG_USAGE);
			CHECK(m->confident);
			CHECK(m->has_udi);
			CHECK_STR(m->udi.pid, "ENV");
			CHECK_STR(m->nonce, "a1b2");
			CHECK_INT(m->timestamp_ms, 1700000000000LL);
			CHECK_STR(m->hostname, "env-host");
			for (int i = 0; i < 5; i++) {
				CHECK(r[i].raw == b2.p + start[i] + shift);
				CHECK_INT(r[i].raw_len, end[i] - start[i]);
			}
			CHECK_STR(r[0].udi.pid, "PA");
			CHECK_STR(r[0].udi.sn, "SA");
			CHECK_STR(r[1].udi.pid, "SIGP");
			CHECK_STR(r[1].udi.sn, "SIGS");
			CHECK_STR(r[2].udi.pid, "E0");
			CHECK_STR(r[3].udi.pid, "PB");
			CHECK_STR(r[4].udi.pid, "ENV");
			CHECK_STR(r[4].udi.sn, "ENVS");
			for (int i = 0; i < 3; i++) {
				CHECK_STR(r[i].hostname, "sw-core-1");
				CHECK_STR(r[i].software_tag, "regid.tag0");
			}
			for (int i = 3; i < 5; i++) {
				CHECK_STR(r[i].hostname, "env-host");
				CHECK_STR(r[i].software_tag, "env-tag");
			}
			check_report_a(&r[0], 10);
			check_report_a(&r[1], 11);
			CHECK_INT(r[3].format, 'B');
			CHECK_INT(r[3].report_id, 12);
		} else {
			CHECK(!"reports[] message with 5 reports");
		}
		rum_message_free(m);

		/* The same under a limit of 5 passes and of 4 fails. */
		m = parse_ok(b2.p, b2.len, 5);
		CHECK(m != NULL);
		rum_message_free(m);
		{
			struct rum_message_limits lim = {4};

			m = (struct rum_message *)1;
			CHECK_INT(rum_message_parse(&m, b2.p, b2.len, &lim), RUM_ETOOBIG);
			CHECK(m == NULL);
			CHECK(strstr(rum_err_msg(), "5 reports") != NULL);
		}
		free(b2.p);
	}

	/* has_udi falls back on the first entry's sudi. */
	m = parse_s("{\"reports\":[{\"sudi\":{\"udi_pid\":\"R0\",\"udi_serial_number\":\"RS0\"}},"
		    "{\"sudi\":{\"udi_pid\":\"R1\",\"udi_serial_number\":\"RS1\"}}]}");
	if (m) {
		CHECK(m->has_udi);
		CHECK_STR(m->udi.pid, "R0");
		CHECK_INT(m->n_reports, 0);
		rum_message_free(m);
	}
	m = parse_s("{\"reports\":[{\"hostname\":\"h\"},"
		    "{\"sudi\":{\"udi_pid\":\"R1\",\"udi_serial_number\":\"RS1\"}}]}");
	if (m) {
		CHECK(!m->has_udi);
		rum_message_free(m);
	}

	/* usage[] takes hostname and tag from the envelope. */
	{
		char *body = usage_body(pa);
		struct sb b3 = {0};

		sb_add(&b3, "{\"hostname\":\"rtr-9\",\"software_tag_identifier\":\"tag-9\",");
		sb_add(&b3, body + 1);
		m = parse_s(b3.p);
		if (m && m->n_reports == 1) {
			CHECK_STR(m->reports[0].hostname, "rtr-9");
			CHECK_STR(m->reports[0].software_tag, "tag-9");
		}
		rum_message_free(m);
		m = parse_s(body);
		if (m && m->n_reports == 1) {
			CHECK_STR(m->reports[0].hostname, "");
			CHECK_STR(m->reports[0].software_tag, "");
		}
		rum_message_free(m);
		free(body);
		free(b3.p);
	}
	free(b.p);
	free(pa);
	free(pn);
	free(pb);
}

static void test_max_reports(void)
{
	char *p = payload_a("1", "P", "S");
	struct rum_message_limits lim = {3};
	struct rum_message *m;
	struct sb b = {0};

	for (int n = 0; n <= RUM_MESSAGE_MAX_REPORTS_DEFAULT + 1; n++) {
		if (n == 3 || n == 4 || n == RUM_MESSAGE_MAX_REPORTS_DEFAULT + 1) {
			char *body;
			int rc;

			sb_add(&b, "]}");
			body = b.p;
			rc = rum_message_parse(&m, body, b.len, n > 4 ? NULL : &lim);
			if (n == 3) {
				CHECK_INT(rc, 0);
				CHECK(m && m->n_reports == 3);
				rum_message_free(m);
			} else {
				CHECK_INT(rc, RUM_ETOOBIG);
				CHECK(m == NULL);
			}
			b.len -= 2;
		}
		sb_add(&b, n == 0 ? "{\"usage\":[" : ",");
		add_report(&b, p, NULL, NULL);
	}
	free(b.p);
	free(p);
}

static void test_errors(void)
{
	char *p = payload_a("1", "P", "S"), *nojson;
	struct sb b = {0};

	EXPECT_ERR("", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("   ", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("{", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("{} x", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("{}{}", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("{\"a\":\"\x01\"}", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("{\"a\":\"\xff\"}", RUM_EINVAL, "body is not JSON");
	EXPECT_ERR("[]", RUM_EINVAL, "body is not a JSON object");
	EXPECT_ERR("42", RUM_EINVAL, "body is not a JSON object");
	EXPECT_ERR("\"{}\"", RUM_EINVAL, "body is not a JSON object");
	EXPECT_ERR("null", RUM_EINVAL, "body is not a JSON object");
	expect_err("{}\0", 3, RUM_EINVAL, "body is not JSON", __LINE__);
	/* jansson alone would accept a NUL right after a number. */
	expect_err("{\"usage\":[],\"a\":1\0}", 19, RUM_EINVAL, "NUL byte", __LINE__);
	expect_err(NULL, 4, RUM_EINVAL, "no body", __LINE__);
	expect_err(NULL, 0, RUM_EINVAL, "body is not JSON", __LINE__);
	/* The message stays one line whatever the input. */
	EXPECT_ERR("{\"a\":\n\x7f}", RUM_EINVAL, "body is not JSON");
	CHECK(strchr(rum_err_msg(), '\n') == NULL && strchr(rum_err_msg(), 0x7f) == NULL);

	EXPECT_ERR("{\"usage\":[1]}", RUM_EINVAL, "usage[0]: report is not an object");
	EXPECT_ERR("{\"usage\":[{\"signature\":{}}]}", RUM_EINVAL,
		   "usage[0]: payload is missing or not a string");
	EXPECT_ERR("{\"usage\":[{\"payload\":{}}]}", RUM_EINVAL,
		   "usage[0]: payload is missing or not a string");
	EXPECT_ERR("{\"usage\":[{\"payload\":\"nope\"}]}", RUM_EINVAL,
		   "usage[0]: payload is not JSON");
	EXPECT_ERR("{\"usage\":[{\"payload\":\"[]\"}]}", RUM_EINVAL,
		   "usage[0]: payload is not a JSON object");
	EXPECT_ERR("{\"reports\":[7]}", RUM_EINVAL, "reports[0] is not an object");
	EXPECT_ERR("{\"reports\":[{},{\"usage\":{}}]}", RUM_EINVAL,
		   "reports[1].usage is not an array");
	EXPECT_ERR("{\"reports\":[{\"sudi\":{\"udi_pid\":\"P\"},\"usage\":[]}]}", RUM_EINVAL,
		   "reports[0].sudi.udi_serial_number is missing or not a string");
	EXPECT_ERR("{\"payload\":\"{}\",\"signature\":{}}", RUM_EINVAL,
		   "report: payload has no report_id");

	/* A later report's fault names that report. */
	sb_add(&b, "{\"usage\":[");
	add_report(&b, p, NULL, NULL);
	sb_add(&b, ",");
	add_report(&b, p, NULL, NULL);
	sb_add(&b, ",");
	add_report(&b, p, NULL, NULL);
	sb_add(&b, ",");
	nojson = payload_a("\"x\"", "P", "S");
	add_report(&b, nojson, NULL, NULL);
	sb_add(&b, "]}");
	EXPECT_ERR(b.p, RUM_EINVAL, "usage[3]: payload report_id is not a non-negative decimal");
	free(nojson);
	b.len = 0;
	nojson = payload_a("1", NULL, NULL);
	sb_add(&b, "{\"reports\":[{\"usage\":[");
	add_report(&b, p, NULL, NULL);
	sb_add(&b, ",");
	add_report(&b, nojson, NULL, NULL);
	sb_add(&b, "]}]}");
	EXPECT_ERR(b.p, RUM_EINVAL, "reports[0].usage[1]: no UDI");
	b.len = 0;
	sb_add(&b, "{\"usage\":[");
	add_report(&b, nojson, "", "S");
	sb_add(&b, "]}");
	EXPECT_ERR(b.p, RUM_EINVAL, "usage[0].signature.sudi.udi_pid must be 1 to 128 bytes");
	free(nojson);
	free(b.p);
	free(p);
}

/* What a laxer parser lets through (yajl, which rumd used, did), and what JSON
 * allows that jansson did not. */
static void test_strict_json(void)
{
	static const char *const bad[] = {
		"{\v}",
		"{\f}",
		"{\"a\":\"\xc0\x80\"}",
		"{\"a\":\"\xe0\x80\x80\"}",
		"{\"a\":\"\xed\xa0\x80\"}",
		"{\"a\":\"\xf4\x90\x80\x80\"}",
		"{\"a\":\"\\ud800\"}",
		"{\"a\":\"\\ud800x\"}",
		"{\"a\":\"\\ud800\\u0041\"}",
		"{\"a\":\"\\udc00\"}",
		"{\"a\":\"\\u0000\"}",
		"{\"\\u0000\":1}",
		"{} \"x",
		"{} tr",
		"{}\"",
		"\"\"\"",
		"1 \"",
		"{/*c*/}",
		"{}// c",
		"{\"a\":01}",
		"{\"a\":1,}",
		"[1,]",
		"{\"a\" 1}",
		"{'a':1}",
		"{\"a\":.5}",
		"{\"a\":NaN}",
	};
	struct rum_message *m;
	char *deep;
	size_t n = 2047;

	for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++)
		EXPECT_ERR(bad[i], RUM_EINVAL, "body is not JSON");
	/* An escaped backslash before a 'u' is no escape; a pair is fine. */
	m = parse_s("{\"nonce\":\"\\\\ud800\\ud83d\\ude00\\u00e9\"}");
	if (m) {
		CHECK_STR(m->nonce, "\\ud800\xf0\x9f\x98\x80\xc3\xa9");
		rum_message_free(m);
	}
	/* 2048 nested containers are accepted, 2049 are not (jansson's limit). */
	for (size_t k = n; k <= n + 1; k++) {
		deep = malloc(2 * k + 7);
		memcpy(deep, "{\"a\":", 5);
		memset(deep + 5, '[', k);
		memset(deep + 5 + k, ']', k);
		memcpy(deep + 5 + 2 * k, "}", 2);
		if (k == n) {
			m = parse_s(deep);
			CHECK(m != NULL);
			rum_message_free(m);
		} else {
			EXPECT_ERR(deep, RUM_EINVAL, "body is not JSON: nesting deeper than 2048");
		}
		free(deep);
	}

	/* Numbers no int64 holds are JSON: not an id, not a time, kept as text. */
	m = parse_s("{\"timestamp\":123456789012345678901234567890,\"nonce\":1e400,"
		    "\"x\":-1e-400,\"hostname\":1E2}");
	if (m) {
		CHECK_INT(m->timestamp_ms, -1);
		CHECK_STR(m->nonce, "1e400");
		CHECK_STR(m->hostname, "");
		rum_message_free(m);
	}
	m = parse_s("{\"nonce\":1E2,\"timestamp\":-0}");
	if (m) {
		CHECK_STR(m->nonce, "100");
		CHECK_INT(m->timestamp_ms, 0);
		rum_message_free(m);
	}
	m = parse_s("{\"nonce\":-9223372036854775808}");
	if (m) {
		CHECK_STR(m->nonce, "-9223372036854775808");
		rum_message_free(m);
	}
	EXPECT_ERR("{\"poll_id\":9223372036854775808}", RUM_EINVAL,
		   "poll_id is not a decimal number");
	m = parse_s("{\"poll_id\":-0}");
	if (m) {
		CHECK_STR(m->poll_id, "0");
		rum_message_free(m);
	}
}

/* Duplicate keys: the last one wins, everywhere it matters. */
static void test_duplicate_keys(void)
{
	struct rum_report r;
	struct rum_message *m;
	const char *p;

	m = parse_s("{\"sudi\":{\"udi_pid\":\"A\",\"udi_serial_number\":\"B\"},\"sudi\":7,"
		    "\"nonce\":\"n1\",\"nonce\":\"n2\",\"hostname\":\"h\",\"hostname\":null}");
	if (m) {
		CHECK(!m->has_udi);
		CHECK_STR(m->nonce, "n2");
		CHECK_STR(m->hostname, "");
		rum_message_free(m);
	}
	m = parse_s("{\"sudi\":{\"udi_pid\":\"A\",\"udi_serial_number\":\"B\","
		    "\"udi_pid\":\"C\"}}");
	if (m) {
		CHECK_STR(m->udi.pid, "C");
		rum_message_free(m);
	}
	EXPECT_KIND("{\"reports\":[],\"reports\":{}}", RUM_MSG_HELLO, false);
	EXPECT_KIND("{\"licenses\":{},\"licenses\":[]}", RUM_MSG_AUTHORIZATION, true);

	memset(&r, 0, sizeof(r));
	p = "{\"meta\":{\"report_id\":1,\"entitlement_tag\":\"t1\"},\"meta\":{\"report_id\":2},"
	    "\"asset_identification\":{\"instance\":{\"sudi\":{\"udi_pid\":\"P\","
	    "\"udi_serial_number\":\"S\"}}},\"asset_identification\":{},"
	    "\"measurements\":[{\"start_time\":1,\"end_time\":2}],\"measurements\":["
	    "{\"metric_name\":\"M\",\"start_time\":5,\"start_time\":6,\"end_time\":7,"
	    "\"value\":{\"value\":\"1\"},\"value\":{\"value\":\"2\",\"value\":\"3\"}},"
	    "{\"end_time\":8,\"end_time\":9,\"value\":{\"value\":\"4\"},\"value\":\"5\"}]}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_INT(r.report_id, 2);
	CHECK_STR(r.entitlement_tag, "");
	CHECK_STR(r.udi.pid, "");
	CHECK_STR(r.metric_name, "M");
	CHECK_INT(r.first_start, 6);
	CHECK_INT(r.last_end, 9);
	CHECK_STR(r.last_value, "5");
	rum_report_dispose(&r);
	p = "{\"meta\":{\"report_id\":0},\"measurements\":[{\"value\":{\"value\":\"2\"},"
	    "\"value\":{}}]}";
	memset(&r, 0, sizeof(r));
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_STR(r.last_value, "");
	rum_report_dispose(&r);
	p = "{\"meta\":{\"report_id\":0},\"measurements\":[{\"value\":{\"value\":"
	    "123456789012345678901234567890}}]}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), 0);
	CHECK_STR(r.last_value, "123456789012345678901234567890");
	rum_report_dispose(&r);
	p = "{\"meta\":{\"report_id\":123456789012345678901234567890}}";
	CHECK_INT(rum_report_parse_payload(&r, p, strlen(p)), RUM_EINVAL);
	CHECK(strstr(rum_err_msg(), "not a non-negative decimal number") != NULL);
}

/* Trust requests are counted wherever a device may put them. */
static void test_trust_requests(void)
{
	struct rum_message *m;

	m = parse_s("{\"sudi\":{\"udi_pid\":\"P\",\"udi_serial_number\":\"S\"},"
		    "\"trust_requests\":[{\"a\":1},{\"b\":2}]}");
	if (m) {
		CHECK_INT(m->kind, RUM_MSG_TRUST);
		CHECK_INT(m->n_trust_requests, 2);
		rum_message_free(m);
	}
	m = parse_s("{\"trust_request\":{\"a\":1}}");
	if (m) {
		CHECK_INT(m->kind, RUM_MSG_TRUST);
		CHECK_INT(m->n_trust_requests, 1);
		rum_message_free(m);
	}
	/* A usage message: empty lists count nothing, full ones count. */
	m = parse_s("{\"reports\":[{\"trust_requests\":[],\"usage\":[]},"
		    "{\"trust_requests\":[{\"t\":[1,2]},{}],\"usage\":[]}]}");
	if (m) {
		CHECK_INT(m->kind, RUM_MSG_USAGE);
		CHECK_INT(m->n_trust_requests, 2);
		rum_message_free(m);
	}
	m = parse_s("{\"reports\":[{\"trust_requests\":[],\"usage\":[]}]}");
	if (m) {
		CHECK_INT(m->n_trust_requests, 0);
		rum_message_free(m);
	}
}

int main(void)
{
	test_kinds();
	test_poll_id();
	test_envelope();
	test_udi_limits();
	test_formats();
	test_payload_direct();
	test_real_sample();
	test_raw_spans();
	test_reports_shape();
	test_max_reports();
	test_errors();
	test_strict_json();
	test_duplicate_keys();
	test_trust_requests();
	return rum_check_result("test_message");
}
