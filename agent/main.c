/* rum-agent: a minimal Cisco IOS-XE Smart Licensing Using Policy product
 * instance, for tests, demos and load tests of rumd. See PROTOCOL.md 4. */
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "agent/fleet.h"
#include "agent/netconf.h"
#include "agent/ops.h"
#include "agent/push.h"
#include "agent/rest.h"
#include "agent/show.h"
#include "agent/state.h"
#include "lib/err.h"
#include "lib/log.h"
#include "lib/xml.h"

static const char usage_text[] =
	"usage: rum-agent COMMAND --state DIR [options]\n"
	"  init --pid PID --serial SN --hostname NAME [--entitlement TAG=COUNT]...\n"
	"       [--software-tag TAG] [--version VER] [--rum-format A|B] [--url URL] [--interval-days D]\n"
	"  push [--url URL] [--speedup N]          device push behaviour, until SIGTERM\n"
	"  sync [--url URL] [--wait SEC] [--poll-interval SEC] [--max-polls N]\n"
	"                                          one exchange, like license smart sync all:\n"
	"                                          exit 0 ACK installed or nothing pending,\n"
	"                                          3 ACK still pending after --wait (5 s), 1 failed\n"
	"  save-usage {all|unreported|days N} FILE  (FILE: path, bootflash:NAME or http(s) URL)\n"
	"  import FILE\n"
	"  show {status|summary|usage|rum}\n"
	"  set-usage TAG=COUNT...\n"
	"  netconf                                 NETCONF subsystem on stdin/stdout\n"
	"  rest --listen ADDR:PORT --user U --password-file F --cert PEM --key PEM\n"
	"                                          the device REST API (/smartlic-service)\n"
	"  restconf --listen ADDR:PORT --user U --password-file F --cert PEM --key PEM\n"
	"                                          RESTCONF (RFC 8040, JSON) for cisco-smart-license\n"
	"  fleet --count N --state DIR --url URL [--speedup N] [--concurrency N] [--interval-days D]\n"
	"        [--pid PID] [--entitlement TAG=COUNT]... [--rum-format A|B] [--duration SEC]\n"
	"        [--rounds N] [--rounds-acked N] [--ramp SEC] [--progress SEC] [--quiet]\n"
	"                                          N simulated devices in one process (store\n"
	"                                          DIR/fleet.store), until SIGTERM, --duration or\n"
	"                                          every device has N report windows accepted\n"
	"                                          (--rounds) or acknowledged (--rounds-acked)\n"
	"  fleet --state DIR --dump [--device I]   each device's unacknowledged reports, as JSON\n";

enum {
	O_STATE = 1000,
	O_PID,
	O_SERIAL,
	O_HOSTNAME,
	O_ENT,
	O_SWTAG,
	O_VERSION,
	O_FORMAT,
	O_URL,
	O_INTERVAL,
	O_SPEEDUP,
	O_MAXPOLLS,
	O_POLLINT,
	O_LISTEN,
	O_USER,
	O_PWFILE,
	O_CERT,
	O_KEY,
	O_COUNT,
	O_QUIET,
	O_WAIT,
	O_CONCURRENCY,
	O_DURATION,
	O_ROUNDS,
	O_ROUNDS_ACKED,
	O_DUMP,
	O_DEVICE,
	O_PROGRESS,
	O_RAMP
};

static const struct option long_opts[] = {{"state", required_argument, NULL, O_STATE},
					  {"pid", required_argument, NULL, O_PID},
					  {"serial", required_argument, NULL, O_SERIAL},
					  {"hostname", required_argument, NULL, O_HOSTNAME},
					  {"entitlement", required_argument, NULL, O_ENT},
					  {"software-tag", required_argument, NULL, O_SWTAG},
					  {"version", required_argument, NULL, O_VERSION},
					  {"rum-format", required_argument, NULL, O_FORMAT},
					  {"url", required_argument, NULL, O_URL},
					  {"interval-days", required_argument, NULL, O_INTERVAL},
					  {"speedup", required_argument, NULL, O_SPEEDUP},
					  {"max-polls", required_argument, NULL, O_MAXPOLLS},
					  {"poll-interval", required_argument, NULL, O_POLLINT},
					  {"wait", required_argument, NULL, O_WAIT},
					  {"listen", required_argument, NULL, O_LISTEN},
					  {"user", required_argument, NULL, O_USER},
					  {"password-file", required_argument, NULL, O_PWFILE},
					  {"cert", required_argument, NULL, O_CERT},
					  {"key", required_argument, NULL, O_KEY},
					  {"count", required_argument, NULL, O_COUNT},
					  {"quiet", no_argument, NULL, O_QUIET},
					  {"concurrency", required_argument, NULL, O_CONCURRENCY},
					  {"duration", required_argument, NULL, O_DURATION},
					  {"rounds", required_argument, NULL, O_ROUNDS},
					  {"rounds-acked", required_argument, NULL, O_ROUNDS_ACKED},
					  {"dump", no_argument, NULL, O_DUMP},
					  {"device", required_argument, NULL, O_DEVICE},
					  {"progress", required_argument, NULL, O_PROGRESS},
					  {"ramp", required_argument, NULL, O_RAMP},
					  {NULL, 0, NULL, 0}};

struct args {
	const char *state, *url, *swtag, *version, *pid, *serial, *hostname;
	const char *listen, *user, *pwfile, *cert, *key;
	char format;
	const char *ents[RUM_AGENT_MAX_ENT];
	int n_ents;
	double speedup, poll_interval, wait;
	unsigned long interval_days, max_polls, count;
	int quiet;
	/* fleet */
	unsigned long concurrency, rounds, rounds_acked, device;
	double duration, progress, ramp;
	int dump, has_device;
};

static int parse_ulong(unsigned long *out, const char *s, unsigned long max, const char *what)
{
	char *end;
	unsigned long v;

	errno = 0;
	v = strtoul(s, &end, 10);
	if (errno || end == s || *end || s[0] == '-' || v > max)
		return rum_err_set(RUM_EINVAL, "%s must be a number 0..%lu: %s", what, max, s);
	*out = v;
	return 0;
}

static int parse_double(double *out, const char *s, const char *what)
{
	char *end;
	double v;

	errno = 0;
	v = strtod(s, &end);
	if (errno || end == s || *end || !(v > 0) || v > 1e9)
		return rum_err_set(RUM_EINVAL, "%s must be a positive number: %s", what, s);
	*out = v;
	return 0;
}

static int parse_args(struct args *a, int argc, char **argv)
{
	int c, rc = 0;

	memset(a, 0, sizeof(*a));
	a->speedup = 1;
	a->poll_interval = 1;
	a->wait = 5;
	a->max_polls = 1000;
	a->concurrency = 64;
	optind = 2;
	while (rc == 0 && (c = getopt_long(argc, argv, "", long_opts, NULL)) != -1) {
		switch (c) {
		case O_STATE: a->state = optarg; break;
		case O_PID: a->pid = optarg; break;
		case O_SERIAL: a->serial = optarg; break;
		case O_HOSTNAME: a->hostname = optarg; break;
		case O_SWTAG: a->swtag = optarg; break;
		case O_VERSION: a->version = optarg; break;
		case O_URL: a->url = optarg; break;
		case O_LISTEN: a->listen = optarg; break;
		case O_USER: a->user = optarg; break;
		case O_PWFILE: a->pwfile = optarg; break;
		case O_CERT: a->cert = optarg; break;
		case O_KEY: a->key = optarg; break;
		case O_QUIET: a->quiet = 1; break;
		case O_ENT:
			if (a->n_ents == RUM_AGENT_MAX_ENT)
				return rum_err_set(RUM_EINVAL, "at most %d entitlements",
						   RUM_AGENT_MAX_ENT);
			a->ents[a->n_ents++] = optarg;
			break;
		case O_FORMAT:
			if (strcmp(optarg, "A") && strcmp(optarg, "B"))
				return rum_err_set(RUM_EINVAL, "--rum-format is A or B");
			a->format = optarg[0];
			break;
		case O_INTERVAL:
			rc = parse_ulong(&a->interval_days, optarg, 3650, "--interval-days");
			break;
		case O_MAXPOLLS:
			rc = parse_ulong(&a->max_polls, optarg, 1000, "--max-polls");
			break;
		case O_COUNT:
			rc = parse_ulong(&a->count, optarg, RUM_AGENT_FLEET_MAX, "--count");
			break;
		case O_CONCURRENCY:
			rc = parse_ulong(&a->concurrency, optarg, 4096, "--concurrency");
			break;
		case O_ROUNDS: rc = parse_ulong(&a->rounds, optarg, 1000000, "--rounds"); break;
		case O_ROUNDS_ACKED:
			rc = parse_ulong(&a->rounds_acked, optarg, 1000000, "--rounds-acked");
			break;
		case O_DEVICE:
			rc = parse_ulong(&a->device, optarg, RUM_AGENT_FLEET_MAX, "--device");
			a->has_device = 1;
			break;
		case O_DUMP: a->dump = 1; break;
		case O_DURATION: rc = parse_double(&a->duration, optarg, "--duration"); break;
		case O_PROGRESS: rc = parse_double(&a->progress, optarg, "--progress"); break;
		case O_RAMP: rc = parse_double(&a->ramp, optarg, "--ramp"); break;
		case O_SPEEDUP: rc = parse_double(&a->speedup, optarg, "--speedup"); break;
		case O_POLLINT:
			rc = parse_double(&a->poll_interval, optarg, "--poll-interval");
			break;
		case O_WAIT:
			/* 0 is allowed: send, do not wait for the ACK. */
			if (strcmp(optarg, "0") == 0)
				a->wait = 0;
			else
				rc = parse_double(&a->wait, optarg, "--wait");
			break;
		default: return rum_err_set(RUM_EINVAL, "unknown option (see rum-agent --help)");
		}
	}
	if (rc == 0 && !a->state)
		rc = rum_err_set(RUM_EINVAL, "--state DIR is required");
	if (rc == 0 && a->speedup < 1)
		rc = rum_err_set(RUM_EINVAL, "--speedup must be >= 1");
	return rc;
}

static int copy_field(char *dst, size_t size, const char *src, const char *what)
{
	if (!src || !src[0] || strlen(src) >= size)
		return rum_err_set(RUM_EINVAL, "%s is required (1..%zu characters)", what,
				   size - 1);
	for (const char *p = src; *p; p++)
		if ((unsigned char)*p < 0x20 || *p == '"' || *p == ',')
			return rum_err_set(RUM_EINVAL, "%s has a control character, quote or comma",
					   what);
	memcpy(dst, src, strlen(src) + 1);
	return 0;
}

static int cmd_init(const struct args *a)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		abort();
	if (strlen(a->state) >= sizeof(st->dir)) {
		rc = rum_err_set(RUM_EINVAL, "state path too long");
		goto out;
	}
	snprintf(st->dir, sizeof(st->dir), "%s", a->state);
	if ((rc = copy_field(st->pid, sizeof(st->pid), a->pid, "--pid")) < 0 ||
	    (rc = copy_field(st->serial, sizeof(st->serial), a->serial, "--serial")) < 0 ||
	    (rc = copy_field(st->hostname, sizeof(st->hostname), a->hostname, "--hostname")) < 0)
		goto out;
	if (a->swtag &&
	    (rc = copy_field(st->sw_tag, sizeof(st->sw_tag), a->swtag, "--software-tag")) < 0)
		goto out;
	if (a->version &&
	    (rc = copy_field(st->sw_version, sizeof(st->sw_version), a->version, "--version")) < 0)
		goto out;
	if (a->url && (rc = copy_field(st->url, sizeof(st->url), a->url, "--url")) < 0)
		goto out;
	st->rum_format = a->format;
	st->interval_days = (uint32_t)a->interval_days;
	for (int i = 0; i < a->n_ents; i++) {
		char tag[RUM_AGENT_STR];
		uint32_t count;

		if ((rc = rum_agent_parse_usage_arg(tag, &count, a->ents[i])) < 0)
			goto out;
		for (size_t k = 0; k < st->n_ent; k++)
			if (strcmp(st->ent[k].tag, tag) == 0) {
				rc = rum_err_set(RUM_EINVAL, "entitlement %s given twice", tag);
				goto out;
			}
		snprintf(st->ent[st->n_ent].tag, RUM_AGENT_STR, "%s", tag);
		st->ent[st->n_ent++].count = count;
	}
	if ((rc = rum_agent_state_create(st, (int64_t)time(NULL))) == 0)
		printf("device PID:%s,SN:%s created in %s (%zu entitlement(s), RUM format %c)\n",
		       st->pid, st->serial, st->dir, st->n_ent, st->rum_format);
out:
	rum_agent_state_dispose(st);
	free(st);
	return rc;
}

static int cmd_save_usage(const struct args *a, int argc, char **argv)
{
	enum rum_agent_save_mode mode;
	unsigned long days = 0;
	int n = argc - optind, rc;

	if (n < 2)
		return rum_err_set(RUM_EINVAL, "save-usage {all|unreported|days N} FILE");
	if ((rc = rum_agent_save_mode_parse(&mode, argv[optind])) < 0)
		return rc;
	if (mode == RUM_AGENT_SAVE_DAYS) {
		if (n != 3)
			return rum_err_set(RUM_EINVAL, "save-usage days N FILE");
		if ((rc = parse_ulong(&days, argv[optind + 1], 3650, "days")) < 0)
			return rc;
	} else if (n != 2) {
		return rum_err_set(RUM_EINVAL, "save-usage {all|unreported|days N} FILE");
	}
	rc = rum_agent_op_save_usage(a->state, mode, (uint32_t)days, argv[argc - 1], 1);
	if (rc == 0)
		printf("usage saved to %s\n", argv[argc - 1]);
	return rc;
}

static int cmd_import(const struct args *a, int argc, char **argv)
{
	char summary[512];
	int rc;

	if (argc - optind != 1)
		return rum_err_set(RUM_EINVAL, "import FILE");
	rc = rum_agent_op_import(a->state, argv[optind], 1, summary, sizeof(summary));
	if (rc == 0)
		printf("Import Data Successful: %s\n", summary);
	return rc;
}

static int cmd_show(const struct args *a, int argc, char **argv)
{
	struct rum_agent_state *st = calloc(1, sizeof(*st));
	int rc;

	if (!st)
		abort();
	if (argc - optind != 1) {
		free(st);
		return rum_err_set(RUM_EINVAL, "show {status|summary|usage|rum}");
	}
	rc = rum_agent_op_load(st, a->state);
	if (rc == 0)
		rc = rum_agent_show(stdout, st, argv[optind]);
	rum_agent_state_dispose(st);
	free(st);
	return rc;
}

static int cmd_set_usage(const struct args *a, int argc, char **argv)
{
	int rc = 0;

	if (argc - optind < 1)
		return rum_err_set(RUM_EINVAL, "set-usage TAG=COUNT...");
	for (int i = optind; i < argc && rc == 0; i++) {
		char tag[RUM_AGENT_STR];
		uint32_t count;

		rc = rum_agent_parse_usage_arg(tag, &count, argv[i]);
		if (rc == 0)
			rc = rum_agent_op_set_usage(a->state, tag, count);
	}
	return rc;
}

static void fill_push_opts(struct rum_agent_push_opts *o, const struct args *a)
{
	memset(o, 0, sizeof(*o));
	o->speedup = a->speedup;
	o->max_polls = (int)a->max_polls;
	o->poll_interval = a->poll_interval;
	o->wait = a->wait;
	o->url = a->url;
	o->quiet = a->quiet;
}

/* Says what one sync did, on standard output, and picks the exit status a
 * script can test: 0 settled, 3 ACK still pending, 1 failed. */
static int cmd_sync(const struct args *a, struct rum_agent_push_opts *po)
{
	struct rum_agent_sync_result r = {0};
	int rc;

	po->result = &r;
	rc = rum_agent_sync(a->state, po);
	printf("hello: %s\n", r.hello_ok ? "answered" : "no answer");
	if (r.status[0] || r.error[0])
		printf("usage: %zu report%s sent: %s%s%s\n", r.reports, r.reports == 1 ? "" : "s",
		       r.status[0] ? r.status : "no answer", r.poll_id[0] ? ", poll id " : "",
		       r.poll_id);
	if (r.polls)
		printf("polls: %d\n", r.polls);
	if (r.acks)
		printf("ACK installed: %s\n", r.ack_summary);
	if (rc < 0) {
		fprintf(stderr, "rum-agent sync: %s\n",
			rum_err_msg()[0] ? rum_err_msg() : rum_err_name(rc));
		return 1;
	}
	if (rc == 0) {
		printf("sync: ACK still pending after %g s (poll id %s); the device polls again on "
		       "its own schedule (rum-agent push), or run sync again\n",
		       a->wait, r.poll_id[0] ? r.poll_id : "-");
		return 3;
	}
	printf("sync complete: %s\n", r.acks ? "ACK installed" : "nothing left to wait for");
	return 0;
}

int main(int argc, char **argv)
{
	struct args a;
	struct rum_agent_push_opts po;
	const char *cmd;
	int rc;

	if (argc < 2 || strcmp(argv[1], "--help") == 0 || strcmp(argv[1], "-h") == 0) {
		fputs(usage_text, argc < 2 ? stderr : stdout);
		return argc < 2 ? 2 : 0;
	}
	cmd = argv[1];
	rum_xml_init(); /* before fleet and rest start threads that parse ACKs */
	rum_agent_http_global_init();
	rc = parse_args(&a, argc, argv);
	fill_push_opts(&po, &a);
	if (rc < 0)
		;
	else if (strcmp(cmd, "init") == 0)
		rc = cmd_init(&a);
	else if (strcmp(cmd, "push") == 0)
		rc = rum_agent_push_run(a.state, &po, NULL);
	else if (strcmp(cmd, "sync") == 0)
		return cmd_sync(&a, &po);
	else if (strcmp(cmd, "save-usage") == 0)
		rc = cmd_save_usage(&a, argc, argv);
	else if (strcmp(cmd, "import") == 0)
		rc = cmd_import(&a, argc, argv);
	else if (strcmp(cmd, "show") == 0)
		rc = cmd_show(&a, argc, argv);
	else if (strcmp(cmd, "set-usage") == 0)
		rc = cmd_set_usage(&a, argc, argv);
	else if (strcmp(cmd, "netconf") == 0)
		rc = rum_agent_netconf_serve(a.state, 0, 1);
	else if (strcmp(cmd, "rest") == 0 || strcmp(cmd, "restconf") == 0) {
		struct rum_agent_rest_opts ro = {.listen = a.listen,
						 .user = a.user,
						 .password_file = a.pwfile,
						 .cert = a.cert,
						 .key = a.key,
						 .restconf = strcmp(cmd, "restconf") == 0};
		rc = rum_agent_rest_serve(a.state, &ro);
	} else if (strcmp(cmd, "fleet") == 0 && a.dump) {
		rc = rum_agent_fleet_dump(a.state, a.has_device ? (long)a.device : -1);
	} else if (strcmp(cmd, "fleet") == 0) {
		struct rum_agent_fleet_opts fo = {.root = a.state,
						  .count = (int)a.count,
						  .url = a.url,
						  .speedup = a.speedup,
						  .concurrency = (int)a.concurrency,
						  .interval_days = (int)a.interval_days,
						  .pid = a.pid,
						  .n_ents = a.n_ents,
						  .ents = a.ents,
						  .format = a.format,
						  .quiet = a.quiet,
						  .duration = a.duration,
						  .rounds = (int)a.rounds,
						  .rounds_acked = (int)a.rounds_acked,
						  .progress_s = a.progress,
						  .ramp_s = a.ramp};
		rc = rum_agent_fleet_run(&fo);
	} else
		rc = rum_err_set(RUM_EINVAL, "unknown command %s (see rum-agent --help)", cmd);
	if (rc < 0) {
		fprintf(stderr, "rum-agent %s: %s\n", cmd,
			rum_err_msg()[0] ? rum_err_msg() : rum_err_name(rc));
		return 1;
	}
	return 0;
}
