/* Report generation and state transitions: formats A and B, signatures,
 * set-usage closing and opening, save usage selection, durable round trip. */
#include <ftw.h>
#include <jansson.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "agent/files.h"
#include "agent/report.h"
#include "agent/state.h"
#include "check.h"
#include "lib/err.h"

#define TAG1 "regid.2017-03.com.cisco.advantagek9,1.0_bd1da96e-ec1d-412b-a50e-53846b347d53"
#define TAG2 "regid.2017-03.com.cisco.dna-advantage,1.0_b6308627-3ab0-4a11-a3d9-586911a0d790"

static struct rum_agent_state *make(char format, char *dir_template)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	char *dir = mkdtemp(dir_template);

	snprintf(st->dir, sizeof(st->dir), "%s/dev", dir);
	snprintf(st->pid, sizeof(st->pid), "C9300-24P");
	snprintf(st->serial, sizeof(st->serial), "FOC1234X0AB");
	snprintf(st->hostname, sizeof(st->hostname), "sw1");
	st->rum_format = format;
	CHECK_INT(rum_agent_parse_usage_arg(st->ent[0].tag, &st->ent[0].count, TAG1 "=2"), 0);
	CHECK_INT(rum_agent_parse_usage_arg(st->ent[1].tag, &st->ent[1].count, TAG2 "=5"), 0);
	st->n_ent = 2;
	CHECK_INT(rum_agent_state_create(st, 1700000000), 0);
	return st;
}

static int rm_one(const char *path, const struct stat *sb, int flag, struct FTW *ftw)
{
	(void)sb;
	(void)flag;
	(void)ftw;
	return remove(path);
}

/* Frees a device from make() and removes its temporary directory. */
static void drop(struct rum_agent_state *st, const char *tmpl)
{
	rum_agent_state_dispose(st);
	free(st);
	nftw(tmpl, rm_one, 16, FTW_DEPTH | FTW_PHYS);
}

/* The parsed payload of a closed report (caller decrefs). */
static json_t *payload_of(const char *doc)
{
	json_t *d = json_loads(doc, 0, NULL);
	json_t *p = json_loads(json_string_value(json_object_get(d, "payload")), 0, NULL);

	json_decref(d);
	return p;
}

static void test_format_a_and_transitions(void)
{
	char tmpl[] = "/tmp/agent_test_report.XXXXXX";
	struct rum_agent_state *st = make('A', tmpl), loaded;
	json_t *p, *m;
	char sig[128];

	CHECK_INT(st->n_rep, 2);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_OPEN);
	CHECK_INT(rum_agent_state_set_usage(st, TAG1, 3, 1700000100), 0);
	CHECK_INT(st->n_rep, 3);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_CLOSED);
	CHECK_INT(st->rep[2].state, RUM_AGENT_REPORT_OPEN);
	CHECK_INT(st->rep[2].count, 3);
	CHECK(st->rep[2].id != st->rep[0].id && st->rep[2].id != st->rep[1].id);

	p = payload_of(st->rep[0].doc);
	CHECK(p != NULL);
	CHECK_INT(json_integer_value(json_object_get(json_object_get(p, "meta"), "report_id")),
		  st->rep[0].id);
	CHECK(json_object_get(p, "version") == NULL);
	m = json_array_get(json_object_get(p, "measurements"), 0);
	CHECK_STR(json_string_value(json_object_get(json_object_get(m, "value"), "value")), "2");
	CHECK_INT(json_integer_value(json_object_get(m, "start_time")), 1700000000);
	CHECK_INT(json_integer_value(json_object_get(m, "end_time")), 1700000100);
	CHECK_STR(json_string_value(json_object_get(m, "metric_name")), "ENTITLEMENT");
	json_decref(p);

	/* signature = base64(HMAC-SHA256(secret, payload)) */
	json_t *d = json_loads(st->rep[0].doc, 0, NULL);
	const char *ptext = json_string_value(json_object_get(d, "payload"));
	CHECK_INT(rum_agent_report_sign(sig, sizeof(sig), st->secret, ptext, strlen(ptext)), 0);
	CHECK_STR(json_string_value(json_object_get(json_object_get(d, "signature"), "value")),
		  sig);
	CHECK_STR(json_string_value(json_object_get(json_object_get(d, "signature"),
						    "signing_type")),
		  "builtin");
	CHECK_STR(json_string_value(json_object_get(json_object_get(d, "header"), "type")), "rum");
	json_decref(d);

	/* durable round trip keeps the signed document byte-exact */
	CHECK_INT(rum_agent_state_save(st), 0);
	CHECK_INT(rum_agent_state_load(&loaded, st->dir), 0);
	CHECK_INT(loaded.n_rep, 3);
	CHECK_STR(loaded.rep[0].doc, st->rep[0].doc);
	CHECK(loaded.rep[2].doc == NULL);
	CHECK_INT(loaded.next_report_id, st->next_report_id);
	rum_agent_state_dispose(&loaded);

	/* count 0: the license is no longer used, no new report */
	CHECK_INT(rum_agent_state_set_usage(st, TAG2, 0, 1700000200), 0);
	CHECK_INT(st->n_rep, 3);
	CHECK_INT(st->rep[1].state, RUM_AGENT_REPORT_CLOSED);
	drop(st, tmpl);
}

static void test_format_b_and_save_usage(void)
{
	char tmpl[] = "/tmp/agent_test_report.XXXXXX";
	struct rum_agent_state *st = make('B', tmpl);
	char *text, summary[256];
	size_t len;
	json_t *p;

	CHECK_INT(rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000500),
		  0);
	CHECK(strstr(text, "<smartLicense>") != NULL &&
	      strstr(text, "<smartLicenseSystemInfo>") != NULL);
	CHECK(strstr(text, "<RUMReport><![CDATA[{\"payload\"") != NULL);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_UNACK);
	CHECK_INT(st->rep[1].state, RUM_AGENT_REPORT_UNACK);
	CHECK_INT(st->rep[2].state, RUM_AGENT_REPORT_OPEN); /* reopened after the save */
	CHECK_INT(st->last_file_write, 1700000500);
	p = payload_of(st->rep[0].doc);
	CHECK_STR(json_string_value(json_object_get(p, "version")), "2.0");
	CHECK_INT(json_integer_value(json_object_get(json_object_get(p, "asset_identification"),
						     "report_id")),
		  st->rep[0].id);
	CHECK(json_object_get(json_object_get(p, "meta"), "report_id") == NULL);
	json_decref(p);
	free(text);

	/* The ACK marks them acknowledged; unreported then excludes them. */
	const char *ack =
		"<smartLicense><smartLicenseRumAck><data><![CDATA[[]]]></data></smartLicenseRumAck></smartLicense>";
	CHECK_INT(rum_agent_import_buf(st, ack, strlen(ack), 1700000600, summary, sizeof(summary)),
		  0);
	CHECK_INT(st->rep[0].state, RUM_AGENT_REPORT_ACK);
	CHECK_INT(st->last_ack_time, 1700000600);
	CHECK_INT(rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_UNREPORTED, 0, 1700000700),
		  0);
	/* only the two reports closed by this save remain unreported */
	size_t n = 0;
	for (const char *q = text; (q = strstr(q, "<RUMReport>")); q++)
		n++;
	CHECK_INT(n, 2);
	free(text);
	CHECK_INT(rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_ALL, 0, 1700000800), 0);
	n = 0;
	for (const char *q = text; (q = strstr(q, "<RUMReport>")); q++)
		n++;
	CHECK_INT(n, 6);
	free(text);
	/* days 0 at a time long after: nothing ended in the window */
	CHECK_INT(rum_agent_usage_build(&text, &len, st, RUM_AGENT_SAVE_DAYS, 1, 1800000000), 0);
	n = 0;
	for (const char *q = text; (q = strstr(q, "<RUMReport>")); q++)
		n++;
	CHECK_INT(n, 2); /* the two closed at 1800000000 itself */
	free(text);
	drop(st, tmpl);
}

static void test_parse_usage_arg(void)
{
	char tag[RUM_AGENT_STR];
	uint32_t c;

	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "a,1.0_x=7"), 0);
	CHECK_STR(tag, "a,1.0_x");
	CHECK_INT(c, 7);
	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "=7"), RUM_EINVAL);
	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "a=-1"), RUM_EINVAL);
	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "a=x"), RUM_EINVAL);
	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "a b=1"), RUM_EINVAL);
	CHECK_INT(rum_agent_parse_usage_arg(tag, &c, "a"), RUM_EINVAL);
}

int main(void)
{
	test_format_a_and_transitions();
	test_format_b_and_save_usage();
	test_parse_usage_arg();
	return rum_check_result("agent_test_report");
}
