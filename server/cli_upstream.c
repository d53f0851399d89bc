#include "server/cli_upstream.h"

#include "domain/import.h"
#include "domain/upstreams.h"
#include "lib/crypto.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <errno.h>
#include <inttypes.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const char *const rum_cli_upstream_opts[] = {"tenant",
					     "kind",
					     "url",
					     "client-id",
					     "client-secret-file",
					     "client-secret-stdin",
					     "client-secret",
					     "smart-account-id",
					     "virtual-account-id",
					     "smart-account",
					     "virtual-account",
					     "token-url",
					     "api-url",
					     "proxy",
					     "proxy-password-file",
					     "proxy-password",
					     "ca-file",
					     "timeout",
					     "connect-timeout",
					     "interval",
					     "sync-soon",
					     NULL};

bool rum_cli_upstream_is_flag(const char *name)
{
	return strcmp(name, "client-secret-stdin") == 0;
}

void rum_cli_upstream_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd upstream set --tenant NAME --kind cssm --client-id ID\n"
		"         [--client-secret-file FILE | --client-secret-stdin]\n"
		"         (--smart-account-id N --virtual-account-id N | --smart-account NAME "
		"--virtual-account NAME)\n"
		"         [--token-url URL] [--api-url URL] [options]\n"
		"       rumd upstream set --tenant NAME --kind collector --url URL [options]\n"
		"       rumd upstream show [--tenant NAME]\n"
		"       rumd upstream remove --tenant NAME\n\n"
		"Options: [--proxy URL|direct] [--proxy-password-file FILE] [--ca-file FILE]\n"
		"         [--connect-timeout 10s] [--timeout 2m] [--interval 1d] [--sync-soon 5m]\n\n"
		"Connected mode: a tenant's upstream is where rumd will send its usage and bring "
		"ACKs back\nfrom: cssm, Cisco's Smart Licensing REST API (an OAuth2 client id and "
		"secret, the\nSmart Account and Virtual Account by ids, or by names rumd resolves "
		"with\naccounts/search; --token-url and --api-url for Cisco's other regions or a "
		"test\ndouble), or collector, the device endpoint of another collector (such as "
		"a central\nrumd's https://HOST:8182/cslu/v1/pi/TENANT).\n\n"
		"set replaces the whole configuration. Secrets never go on the command line: "
		"the client\nsecret comes from --client-secret-file or standard input "
		"(--client-secret-stdin, asked\nfor on a terminal), the proxy password from "
		"--proxy-password-file (the proxy URL may\nname its user: http://USER@HOST:3128). "
		"Both are sealed with secret_key_file and never\nshown; a set without them keeps "
		"the client secret of the same client id, and the\nproxy password of the same "
		"proxy. --proxy defaults to the upstream_proxy setting\n(direct: none), --ca-file "
		"to upstream_ca_file. Syncs run every --interval (5 minutes\nto 366 days, "
		"default 1d) and, with --sync-soon DELAY, that long after new reports\narrive.\n");
}

/* --- secrets --- */

static void rum_cli_ups_trim(char *s, size_t *len)
{
	while (*len && (s[*len - 1] == '\n' || s[*len - 1] == '\r'))
		s[--*len] = '\0';
}

/* Standard input, at most RUM_UPSTREAM_SECRET_MAX bytes and a newline; on a
 * terminal one line, asked for without echo. */
static int rum_cli_ups_read_stdin(char **out, size_t *len, const char *what)
{
	size_t max = RUM_UPSTREAM_SECRET_MAX + 2, n = 0;
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &old) == 0;
	char *buf = calloc(1, max + 1);
	int rc = 0;

	if (!buf)
		abort();
	if (tty) {
		fprintf(stderr, "%s: ", what);
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	while (n < max) {
		ssize_t got = read(STDIN_FILENO, buf + n, max - n);

		if (got < 0 && errno == EINTR)
			continue;
		if (got < 0)
			rc = rum_err_set(RUM_EIO, "%s: standard input: %s", what, strerror(errno));
		if (got <= 0)
			break;
		n += (size_t)got;
		if (tty && memchr(buf, '\n', n))
			break;
	}
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	buf[n] = '\0';
	if (rc == 0 && n == max)
		rc = rum_err_set(RUM_EINVAL, "%s: longer than %d bytes", what,
				 RUM_UPSTREAM_SECRET_MAX);
	rum_cli_ups_trim(buf, &n);
	if (rc == 0 && n == 0)
		rc = rum_err_set(RUM_EINVAL, "%s: nothing on standard input", what);
	if (rc != 0) {
		rum_crypto_wipe(buf, max + 1);
		free(buf);
		buf = NULL;
		n = 0;
	}
	*out = buf;
	*len = n;
	return rc;
}

static int rum_cli_ups_read_file(char **out, size_t *len, const char *path, const char *flag)
{
	int rc = rum_import_read_file(out, len, path, RUM_UPSTREAM_SECRET_MAX + 2);

	if (rc != 0)
		return rum_err_set(rc, "--%s: %s", flag, rum_err_msg());
	rum_cli_ups_trim(*out, len);
	return 0;
}

static void rum_cli_ups_free_secret(char *s, size_t len)
{
	if (s) {
		rum_crypto_wipe(s, len);
		free(s);
	}
}

/* --- show --- */

/* Seconds as the largest whole unit: 1d, 12h, 5m, 90s. */
static void rum_cli_ups_span(char *out, size_t size, int64_t s)
{
	if (s > 0 && s % 86400 == 0)
		snprintf(out, size, "%" PRId64 "d", s / 86400);
	else if (s > 0 && s % 3600 == 0)
		snprintf(out, size, "%" PRId64 "h", s / 3600);
	else if (s > 0 && s % 60 == 0)
		snprintf(out, size, "%" PRId64 "m", s / 60);
	else
		snprintf(out, size, "%" PRId64 "s", s);
}

static void rum_cli_ups_cssm(const struct rum_upstream *u)
{
	printf("client id:       %s\n", u->client_id);
	printf("client secret:   %s\n",
	       u->has_client_secret ? "set (sealed; never shown)" : "(none)");
	if (u->smart_account_id[0])
		printf("accounts:        Smart Account id %s, Virtual Account id %s\n",
		       u->smart_account_id, u->virtual_account_id);
	else
		printf("accounts:        Smart Account '%s', Virtual Account '%s' (resolved with "
		       "accounts/search)\n",
		       u->smart_account, u->virtual_account);
	printf("token URL:       %s%s\n", u->token_url, u->token_url_default ? " (Cisco's)" : "");
	printf("API URL:         %s%s\n", u->api_url, u->api_url_default ? " (Cisco's)" : "");
}

static void rum_cli_ups_show(void *arg, const struct rum_upstream *u)
{
	const struct rum_config *cfg = arg;
	char interval[32], soon[32], connect[32], request[32];
	bool cssm = strcmp(u->kind, "cssm") == 0;

	printf("tenant:          %s\n", u->tenant);
	printf("kind:            %s\n", cssm ? "cssm (Cisco's Smart Licensing REST API)"
					     : "collector (another collector's device endpoint)");
	if (cssm)
		rum_cli_ups_cssm(u);
	else
		printf("url:             %s\n", u->url);
	if (strcmp(u->proxy, "direct") == 0)
		printf("proxy:           direct (none)\n");
	else if (u->proxy[0])
		printf("proxy:           %s%s\n", u->proxy,
		       u->has_proxy_password ? ", password set (sealed; never shown)" : "");
	else if (cfg->upstream_proxy[0])
		printf("proxy:           the node's upstream_proxy: %s%s\n", cfg->upstream_proxy,
		       cfg->upstream_proxy_password_file[0] ? ", password from "
							      "upstream_proxy_password_file"
							    : "");
	else
		printf("proxy:           direct (upstream_proxy is not set)\n");
	if (u->ca_file[0])
		printf("CA bundle:       %s\n", u->ca_file);
	else if (cfg->upstream_ca_file[0])
		printf("CA bundle:       the node's upstream_ca_file: %s\n", cfg->upstream_ca_file);
	else
		printf("CA bundle:       the system's\n");
	rum_cli_ups_span(connect, sizeof(connect), u->connect_timeout_s);
	rum_cli_ups_span(request, sizeof(request), u->timeout_s);
	printf("timeouts:        connect %s, request %s\n", connect, request);
	rum_cli_ups_span(interval, sizeof(interval), u->interval_s);
	rum_cli_ups_span(soon, sizeof(soon), u->sync_soon_s);
	printf("sync:            every %s%s%s%s\n", interval, u->sync_soon_s ? ", and " : "",
	       u->sync_soon_s ? soon : "", u->sync_soon_s ? " after new reports arrive" : "");
	printf("created:         %s\nupdated:         %s\n\n", u->created_at, u->updated_at);
}

/* --- set --- */

/* A duration option: 0 when absent; "off" is 0 where off allows it. */
static int rum_cli_ups_duration(int64_t *out, const char *v, const char *flag, bool off)
{
	*out = 0;
	if (!v || (off && strcmp(v, "off") == 0))
		return 0;
	if (rum_strict_duration(out, v) != 0 || *out <= 0)
		return rum_err_set(RUM_EINVAL,
				   "--%s: '%s' is not a duration (such as 30s, 5m, 12h, "
				   "1d)%s",
				   flag, v, off ? " or off" : "");
	return 0;
}

static int rum_cli_ups_spec(struct rum_upstream_spec *s,
			    const char *(*opt)(const void *, const char *), const void *ctx)
{
	int rc;

	/* Refused by name, so that the way to give them is said: on the command
	 * line a secret is anybody's to read (ps, /proc/PID/cmdline). */
	if (opt(ctx, "client-secret"))
		return rum_err_set(RUM_EINVAL,
				   "--client-secret: a secret on the command line is "
				   "visible to every user of this host; use "
				   "--client-secret-file FILE or --client-secret-stdin");
	if (opt(ctx, "proxy-password"))
		return rum_err_set(RUM_EINVAL, "--proxy-password: a password on the command line "
					       "is visible to every user of this host; use "
					       "--proxy-password-file FILE");
	*s = (struct rum_upstream_spec){.tenant = opt(ctx, "tenant"),
					.kind = opt(ctx, "kind"),
					.url = opt(ctx, "url"),
					.token_url = opt(ctx, "token-url"),
					.api_url = opt(ctx, "api-url"),
					.client_id = opt(ctx, "client-id"),
					.smart_account_id = opt(ctx, "smart-account-id"),
					.virtual_account_id = opt(ctx, "virtual-account-id"),
					.smart_account = opt(ctx, "smart-account"),
					.virtual_account = opt(ctx, "virtual-account"),
					.proxy = opt(ctx, "proxy"),
					.ca_file = opt(ctx, "ca-file")};
	if (!s->tenant)
		return rum_err_set(RUM_EINVAL, "upstream set needs --tenant NAME");
	if (!s->kind)
		return rum_err_set(RUM_EINVAL,
				   "upstream set needs --kind cssm or --kind collector");
	if (opt(ctx, "client-secret-file") && opt(ctx, "client-secret-stdin"))
		return rum_err_set(RUM_EINVAL,
				   "--client-secret-file and --client-secret-stdin exclude each other");
	if ((rc = rum_cli_ups_duration(&s->connect_timeout_s, opt(ctx, "connect-timeout"),
				       "connect-timeout", false)) != 0 ||
	    (rc = rum_cli_ups_duration(&s->timeout_s, opt(ctx, "timeout"), "timeout", false)) !=
		    0 ||
	    (rc = rum_cli_ups_duration(&s->interval_s, opt(ctx, "interval"), "interval", false)) !=
		    0)
		return rc;
	return rum_cli_ups_duration(&s->sync_soon_s, opt(ctx, "sync-soon"), "sync-soon", true);
}

static int rum_cli_ups_set(const struct rum_config *cfg, struct rum_domain *dom,
			   const char *(*opt)(const void *, const char *), const void *ctx)
{
	struct rum_actor cli = {.actor = "cli"};
	struct rum_upstream_spec s;
	const char *secret_file = opt(ctx, "client-secret-file");
	const char *pw_file = opt(ctx, "proxy-password-file");
	char *secret = NULL, *pw = NULL;
	size_t secret_len = 0, pw_len = 0;
	bool created = false;
	int rc = rum_cli_ups_spec(&s, opt, ctx);

	/* The values are checked before a secret is asked for. */
	if (rc == 0) {
		s.client_secret = (secret_file || opt(ctx, "client-secret-stdin")) ? "x" : NULL;
		s.client_secret_len = 1;
		s.proxy_password = pw_file ? "x" : NULL;
		s.proxy_password_len = 1;
		rc = rum_upstreams_spec_check(&s);
	}
	if (rc == 0 && secret_file)
		rc = rum_cli_ups_read_file(&secret, &secret_len, secret_file, "client-secret-file");
	else if (rc == 0 && opt(ctx, "client-secret-stdin"))
		rc = rum_cli_ups_read_stdin(&secret, &secret_len, "client secret");
	if (rc == 0 && pw_file)
		rc = rum_cli_ups_read_file(&pw, &pw_len, pw_file, "proxy-password-file");
	if (rc == 0) {
		s.client_secret = secret;
		s.client_secret_len = secret_len;
		s.proxy_password = pw;
		s.proxy_password_len = pw_len;
		cli.tenant = s.tenant;
		rc = rum_upstreams_set(dom, &cli, &s, &created);
	}
	if (rc == 0) {
		printf("upstream of tenant '%s' %s:\n", s.tenant, created ? "created" : "replaced");
		rc = rum_upstreams_list(dom, s.tenant, 0, rum_cli_ups_show, (void *)cfg);
	}
	rum_cli_ups_free_secret(secret, secret_len);
	rum_cli_ups_free_secret(pw, pw_len);
	return rc;
}

struct rum_cli_ups_count {
	const struct rum_config *cfg;
	size_t n;
};

static void rum_cli_ups_show_counted(void *arg, const struct rum_upstream *u)
{
	struct rum_cli_ups_count *c = arg;

	c->n++;
	rum_cli_ups_show((void *)c->cfg, u);
}

int rum_cli_upstream(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		     int nwords, const char *(*opt)(const void *ctx, const char *name),
		     const void *ctx)
{
	const char *sub = nwords == 2 ? words[1] : "";
	const char *tenant = opt(ctx, "tenant");
	struct rum_actor cli = {.actor = "cli", .tenant = tenant};
	int rc;

	if (strcmp(sub, "set") == 0)
		return rum_cli_ups_set(cfg, dom, opt, ctx);
	if (strcmp(sub, "show") == 0 || strcmp(sub, "remove") == 0) {
		for (const char *const *o = rum_cli_upstream_opts; *o; o++)
			if (strcmp(*o, "tenant") != 0 && opt(ctx, *o))
				return rum_err_set(RUM_EINVAL, "upstream %s takes --tenant only",
						   sub);
	}
	if (strcmp(sub, "show") == 0) {
		struct rum_cli_ups_count c = {cfg, 0};

		rc = rum_upstreams_list(dom, tenant, 0, rum_cli_ups_show_counted, &c);
		if (rc == 0 && c.n == 0)
			printf("no upstreams: every tenant is in disconnected mode (rumd export and "
			       "import)\n");
		return rc;
	}
	if (strcmp(sub, "remove") == 0) {
		if (!tenant)
			return rum_err_set(RUM_EINVAL, "upstream remove needs --tenant NAME");
		rc = rum_upstreams_remove(dom, &cli, tenant);
		if (rc == 0)
			printf("upstream of tenant '%s' removed (its sealed secrets with it)\n",
			       tenant);
		return rc;
	}
	return rum_err_set(RUM_EINVAL, "usage: rumd upstream set|show|remove (see rumd upstream "
				       "--help)");
}
