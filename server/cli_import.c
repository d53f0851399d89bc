#include "server/cli_import.h"

#include "domain/acks.h"
#include "domain/import.h"
#include "domain/push.h"
#include "lib/err.h"
#include "server/progress.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

static void rum_cli_import_print_applied(const struct rum_import_applied *a)
{
	const struct rum_import_ack *k = a->ack;

	printf("  device %" PRId64 " (%s) <- %s:", a->device_id, a->udi, a->entry);
	if (k->has_policy) {
		printf(" policy \"%s\"", k->policy_name ? k->policy_name : "");
		if (k->policy_version)
			printf(" version %s", k->policy_version);
		if (k->reporting_days >= 0)
			printf(", reporting every %d days", k->reporting_days);
		printf(";");
	}
	if (k->has_rum_ack)
		printf(" RUM ACK (%zu report id%s named%s);", k->n_ids, k->n_ids == 1 ? "" : "s",
		       k->rum_ack_json_ok ? "" : ", data not JSON");
	if (k->has_trust)
		printf(" trust code;");
	if (k->has_auth)
		printf(" authorization code;");
	if (k->smart_account || k->virtual_account)
		printf(" account \"%s\" / \"%s\";", k->smart_account ? k->smart_account : "",
		       k->virtual_account ? k->virtual_account : "");
	printf(" %" PRId64 " report%s acknowledged", a->reports_acked,
	       a->reports_acked == 1 ? "" : "s");
	if (a->batch_id)
		printf(" (export batch %" PRId64 ")", a->batch_id);
	printf("; ACK %" PRId64 " %s\n", a->ack_id,
	       a->new_ack ? "queued for delivery" : "already held (same bytes), not queued again");
}

int rum_cli_import(const struct rum_config *cfg, struct rum_domain *dom, const char *file,
		   const char *tenant, const int64_t *devices, size_t ndevices)
{
	struct rum_import_options o = {file, tenant, devices, ndevices, {0}};
	struct rum_import_result res;
	struct rum_progress *p = rum_progress_start("importing", NULL, NULL, 0);
	int rc;

	rum_import_limits_get(dom, &o.limits);
	rc = rum_import_run(dom, &o, &res);

	rum_progress_end(p, rc == 0);

	if (rc == 0 && res.already) {
		printf("%s was already imported (import %" PRId64 ", %s) with these options; "
		       "nothing changed\n",
		       file, res.import_id, res.already_at);
		goto out;
	}
	if (rc == 0) {
		printf("imported %s (import %" PRId64 "): %" PRId64 " device%s matched, %" PRId64
		       " report%s acknowledged, %" PRId64 " polic%s and %" PRId64
		       " trust code%s received, %" PRId64 " ACK%s queued for delivery\n",
		       file, res.import_id, res.devices, res.devices == 1 ? "" : "s",
		       res.reports_acked, res.reports_acked == 1 ? "" : "s", res.policies,
		       res.policies == 1 ? "y" : "ies", res.trust_codes,
		       res.trust_codes == 1 ? "" : "s", res.acks_new, res.acks_new == 1 ? "" : "s");
		for (size_t i = 0; i < res.n_applied; i++)
			rum_cli_import_print_applied(&res.applied[i]);
	}
	for (size_t i = 0; i < res.n_skipped; i++)
		printf("  skipped %s: %s\n", res.skipped[i].entry, res.skipped[i].reason);
out:
	rum_import_result_dispose(&res);
	return rc;
}

int rum_cli_ack_file(const struct rum_config *cfg, struct rum_domain *dom, int64_t device,
		     const char *output)
{
	int64_t ack_id = 0;
	size_t len = 0;
	int rc = rum_acks_save(dom, device, output, &ack_id, &len);

	if (rc == 0 && strcmp(output, "-") != 0)
		printf("wrote ACK %" PRId64 " of device %" PRId64 " (%zu bytes) to %s; install it "
		       "on the device with `license smart import`\n",
		       ack_id, device, len, output);
	return rc;
}

int rum_cli_import_usage(const struct rum_config *cfg, struct rum_domain *dom, const char *file,
			 const char *tenant)
{
	struct rum_push p = {0};
	struct rum_push_settings s = {false, false, (size_t)cfg->max_reports_per_message};
	char *data = NULL, *body = NULL, path[512];
	size_t len = 0, body_len = 0, n = 0;
	int rc = rum_import_read_file(&data, &len, file, (size_t)cfg->netconf_max_reply_bytes);

	if (rc == 0)
		rc = rum_import_usage_message(&body, &body_len, &n, data, len, file);
	if (rc == 0 && n > s.max_reports)
		s.max_reports = n; /* one file is one upload, however many reports it holds */
	snprintf(path, sizeof(path), "import-usage:%s", file);
	p.tenant = tenant;
	p.sub_path = "";
	p.method = "POST";
	p.path = path;
	p.address = "";
	p.body = body;
	p.body_len = body_len;
	p.source = "import";
	if (rc == 0)
		rc = rum_push_run_once(&p, dom, &s);
	if (rc == 0 && p.rc != 0)
		rc = rum_err_set(p.rc, "%s", p.err);
	if (rc == 0)
		printf("loaded %s into tenant '%s' (upload %lld): %zu report%s: new %u, duplicate "
		       "%u, conflict %u\n",
		       file, tenant, (long long)p.poll_id, n, n == 1 ? "" : "s", p.n_new,
		       p.n_duplicate, p.n_conflict);
	rum_push_dispose(&p);
	free(body);
	free(data);
	return rc;
}
