/* show license renderings, see show.h. */
#include "agent/show.h"

#include <string.h>
#include <time.h>

#include "lib/err.h"

void rum_agent_fmt_time(char *buf, size_t size, int64_t t)
{
	time_t tt = (time_t)t;
	struct tm tm;

	if (t <= 0 || !gmtime_r(&tt, &tm)) {
		snprintf(buf, size, "<none>");
		return;
	}
	strftime(buf, size, "%b %d %H:%M:%S %Y UTC", &tm);
}

int64_t rum_agent_next_ack_deadline(const struct rum_agent_state *st)
{
	int64_t base = st->last_ack_time ? st->last_ack_time : st->created;

	return base + (int64_t)rum_agent_state_interval_days(st) * 86400;
}

static void show_account(FILE *out, const struct rum_agent_state *st)
{
	fprintf(out, "Account Information:\n  Smart Account: %s\n  Virtual Account: %s\n\n",
		st->smart_account[0] ? st->smart_account : "<none>",
		st->virtual_account[0] ? st->virtual_account : "<none>");
}

static void show_policy(FILE *out, const struct rum_agent_state *st)
{
	static const char *titles[RUM_AGENT_POL_N] = {
		"Unenforced/Non-Export Perpetual Attributes",
		"Unenforced/Non-Export Subscription Attributes",
		"Enforced (Perpetual/Subscription) License Attributes",
		"Export (Perpetual/Subscription) License Attributes"};
	const struct rum_agent_policy *p = &st->policy;
	const char *src = p->installed ? "Customer Policy" : "CISCO default";
	char t[64];

	fprintf(out, "Policy:\n");
	if (p->installed) {
		rum_agent_fmt_time(t, sizeof(t), p->install_time);
		fprintf(out, "  Policy in use: Installed On %s\n  Policy name: %s\n", t, p->name);
	} else {
		fprintf(out, "  Policy in use: Merged from multiple sources.\n");
	}
	fprintf(out, "  Reporting ACK required: %s (%s)\n", p->ack_required ? "yes" : "no", src);
	for (int i = 0; i < RUM_AGENT_POL_N; i++)
		fprintf(out,
			"  %s:\n    First report requirement (days): %u (%s)\n"
			"    Reporting frequency (days): %u (%s)\n    Report on change (days): %u (%s)\n",
			titles[i], p->attrs[i].first, src, p->attrs[i].ongoing, src,
			p->attrs[i].macd, src);
	fprintf(out, "\n");
}

static void show_status(FILE *out, const struct rum_agent_state *st)
{
	char a[64], b[64], c[64], d[64], e[64], f[64], udi[160];
	int cslu = strcmp(st->transport, "cslu") == 0;

	fprintf(out,
		"Utility:\n  Status: DISABLED\n\nSmart Licensing Using Policy:\n  Status: ENABLED\n\n");
	show_account(out, st);
	fprintf(out,
		"Data Privacy:\n  Sending Hostname: yes\n    Callhome hostname privacy: DISABLED\n"
		"    Smart Licensing hostname privacy: DISABLED\n  Version privacy: DISABLED\n\n");
	fprintf(out, "Transport:\n  Type: %s\n", cslu ? "cslu" : "Transport Off");
	if (cslu)
		fprintf(out,
			"  Cslu address: %s\n  Proxy:\n    Not Configured\n  VRF:\n    Not Configured\n",
			st->url[0] ? st->url : "<empty>");
	fprintf(out, "\nMiscellaneous:\n  Custom Id: <empty>\n\n");
	show_policy(out, st);
	rum_agent_fmt_time(a, sizeof(a), st->last_ack_time);
	rum_agent_fmt_time(b, sizeof(b), rum_agent_next_ack_deadline(st));
	rum_agent_fmt_time(c, sizeof(c), st->poll_id[0] ? st->next_poll_ms / 1000 : 0);
	rum_agent_fmt_time(d, sizeof(d), st->next_push_ms / 1000);
	rum_agent_fmt_time(e, sizeof(e), st->last_push);
	rum_agent_fmt_time(f, sizeof(f), st->last_file_write);
	fprintf(out,
		"Usage Reporting:\n  Last ACK received: %s\n  Next ACK deadline: %s\n"
		"  Reporting push interval: %u  days\n  Next ACK push check: %s\n"
		"  Next report push: %s\n  Last report push: %s\n  Last report file write: %s\n",
		a, b, rum_agent_state_interval_days(st), c, d, e, f);
	if (st->last_push_error[0])
		fprintf(out, "  Last push error: %s\n", st->last_push_error);
	fprintf(out, "\n");
	if (st->trust_time) {
		rum_agent_state_udi_key(st, udi, sizeof(udi));
		rum_agent_fmt_time(a, sizeof(a), st->trust_time);
		fprintf(out, "Trust Code Installed:\n  Active: PID:%s,SN:%s\n    INSTALLED on %s\n",
			st->pid, st->serial, a);
	} else {
		fprintf(out, "Trust Code Installed: <none>\n");
	}
}

static void show_summary(FILE *out, const struct rum_agent_state *st)
{
	char name[64];

	show_account(out, st);
	fprintf(out, "License Usage:\n  %-24s %-36s %5s %s\n", "License", "Entitlement Tag",
		"Count", "Status");
	fprintf(out,
		"  ---------------------------------------------------------------------------\n");
	for (size_t i = 0; i < st->n_ent; i++) {
		if (!st->ent[i].count)
			continue;
		rum_agent_short_name(name, sizeof(name), st->ent[i].tag);
		fprintf(out, "  %-24s (%.34s) %5u IN USE\n", name, name, st->ent[i].count);
	}
}

static void show_usage(FILE *out, const struct rum_agent_state *st)
{
	char name[64];

	fprintf(out, "License Authorization:\n  Status: Not Applicable\n\n");
	for (size_t i = 0; i < st->n_ent; i++) {
		if (!st->ent[i].count)
			continue;
		rum_agent_short_name(name, sizeof(name), st->ent[i].tag);
		fprintf(out,
			"%s (%s):\n  Description: %s\n  Count: %u\n  Version: 1.0\n  Status: IN USE\n"
			"  Export status: NOT RESTRICTED\n  Feature Name: %s\n  Feature Description: %s\n"
			"  Enforcement type: NOT ENFORCED\n  License type: Perpetual\n  Entitlement Tag: %s\n\n",
			name, name, name, st->ent[i].count, name, name, st->ent[i].tag);
	}
}

static void show_rum(FILE *out, const struct rum_agent_state *st)
{
	char name[64], s[64], e[64];

	fprintf(out, "Smart Licensing Usage Report:\n==========================\n\n");
	fprintf(out, "%-16s %-8s %-5s %-24s %-26s %s\n", "Report Id", "State", "Flag",
		"Feature Name", "Start Time", "End Time");
	fprintf(out,
		"==============================================================================\n");
	for (size_t i = 0; i < st->n_rep; i++) {
		const struct rum_agent_report *r = &st->rep[i];

		rum_agent_short_name(name, sizeof(name), r->tag);
		rum_agent_fmt_time(s, sizeof(s), r->start);
		rum_agent_fmt_time(e, sizeof(e), r->end);
		fprintf(out, "%-16llu %-8s %-5s %-24s %-26s %s\n", (unsigned long long)r->id,
			rum_agent_report_state_name(r->state), "N", name, s, e);
	}
}

int rum_agent_show(FILE *out, const struct rum_agent_state *st, const char *what)
{
	if (strcmp(what, "status") == 0)
		show_status(out, st);
	else if (strcmp(what, "summary") == 0)
		show_summary(out, st);
	else if (strcmp(what, "usage") == 0)
		show_usage(out, st);
	else if (strcmp(what, "rum") == 0)
		show_rum(out, st);
	else
		return rum_err_set(RUM_EINVAL,
				   "show: expected status, summary, usage or rum, got %s", what);
	return 0;
}
