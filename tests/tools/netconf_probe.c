/* netconf_probe: one NETCONF collection step by step against a device, for
 * the transport integration tests (tests/integration/test_collector_transport.py)
 * and for trying a real device by hand. Not installed.
 *
 * Connects (collector/ssh), says hello, gets the licensing state, and
 * optionally saves the unreported usage to a device path and copies it back
 * by SCP, or copies a file to the device and imports it. Prints one line per
 * result; on failure one line "error NAME message" (NAME as rum_err_name)
 * and exits 1. An rpc-error reply prints "rpc-error OP: ..." and exits 1. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/netconf_client.h"
#include "collector/netconf_xml.h"
#include "collector/ssh.h"
#include "lib/err.h"
#include "lib/strict.h"

#define FILE_MAX (64 * 1024 * 1024)

struct probe {
	struct rum_ssh_options ssh;
	struct rum_netconf_options nc;
	char *password, *key;
	const char *save_path, *get_path, *out_file, *put_file, *put_path;
	int scp_timeout_ms;
};

static void usage(void)
{
	fprintf(stderr,
		"usage: netconf_probe --host H --port P --user U (--password-file F | --key-file F)\n"
		"       [--known-key 'TYPE BASE64' | --known-key-file F] [--tofu]\n"
		"       [--connect-timeout MS] [--io-timeout MS] [--rpc-timeout MS] [--deadline MS]\n"
		"       [--max-reply BYTES] [--base10-only]\n"
		"       [--save-usage DEVICE_PATH] [--get DEVICE_PATH] [--out FILE]\n"
		"       [--put FILE --put-path DEVICE_PATH]\n"
		"--save-usage: rum-save-usage-unreported to the path, then copy it back by SCP;\n"
		"--get: copy a device file by SCP; --out: where the copied file goes;\n"
		"--put: copy a file to the device by SCP, then import-file it.\n");
}

static int fail(int rc)
{
	printf("error %s %s\n", rum_err_name(rc), rum_err_msg());
	return rc;
}

/* Reads a whole file (at most FILE_MAX bytes), NUL-terminated. */
static int read_file(char **out, size_t *len, const char *path)
{
	FILE *f = fopen(path, "rb");
	char *buf = malloc(FILE_MAX + 1);
	size_t n;

	if (!buf)
		abort();
	if (!f) {
		free(buf);
		return rum_err_set(RUM_ENOTFOUND, "cannot open %s", path);
	}
	n = fread(buf, 1, FILE_MAX + 1, f);
	fclose(f);
	if (n > FILE_MAX) {
		free(buf);
		return rum_err_set(RUM_ETOOBIG, "%s is larger than %d bytes", path, FILE_MAX);
	}
	buf[n] = '\0';
	*out = buf;
	if (len)
		*len = n;
	return 0;
}

/* A secret or key file's first line only is the password. */
static int read_password(char **out, const char *path)
{
	int rc = read_file(out, NULL, path);

	if (rc == 0)
		(*out)[strcspn(*out, "\r\n")] = '\0';
	return rc;
}

static int number(int64_t *out, const char *text, const char *name)
{
	if (rum_strict_int64(out, text) < 0 || *out < 0 || *out > INT32_MAX)
		return rum_err_set(RUM_EINVAL, "--%s: not a number of milliseconds or bytes: %s",
				   name, text);
	return 0;
}

static int set_option(struct probe *p, int c, const char *arg, const char *name)
{
	int64_t v = 0;
	int rc = 0;

	if (strchr("PCIRDMS", c) && (rc = number(&v, arg, name)) < 0)
		return rc;
	switch (c) {
	case 'h': p->ssh.host = arg; break;
	case 'P': p->ssh.port = (int)v; break;
	case 'u': p->ssh.username = arg; break;
	case 'w':
		rc = read_password(&p->password, arg);
		p->ssh.password = p->password;
		break;
	case 'k':
		rc = read_file(&p->key, &p->ssh.private_key_len, arg);
		p->ssh.private_key = p->key;
		break;
	case 'K': p->ssh.known_host_key = arg; break;
	case 'f': {
		char *k = NULL;
		if ((rc = read_password(&k, arg)) == 0)
			p->ssh.known_host_key = k; /* lives until exit */
		break;
	}
	case 't': p->ssh.trust_on_first_use = true; break;
	case 'C': p->ssh.connect_timeout_ms = p->ssh.auth_timeout_ms = (int)v; break;
	case 'I': p->ssh.io_timeout_ms = (int)v; break;
	case 'R': p->nc.rpc_timeout_ms = p->scp_timeout_ms = (int)v; break;
	case 'D': p->ssh.deadline_ms = p->nc.deadline_ms = rum_ssh_now_ms() + v; break;
	case 'M': p->nc.max_reply = (size_t)v; break;
	case 'b': p->nc.base10_only = true; break;
	case 's': p->save_path = arg; break;
	case 'g': p->get_path = arg; break;
	case 'o': p->out_file = arg; break;
	case 'p': p->put_file = arg; break;
	case 'q': p->put_path = arg; break;
	default: return rum_err_set(RUM_EINVAL, "unknown option");
	}
	return rc;
}

static int parse_args(struct probe *p, int argc, char **argv)
{
	static const struct option opts[] = {{"host", 1, 0, 'h'},
					     {"port", 1, 0, 'P'},
					     {"user", 1, 0, 'u'},
					     {"password-file", 1, 0, 'w'},
					     {"key-file", 1, 0, 'k'},
					     {"known-key", 1, 0, 'K'},
					     {"known-key-file", 1, 0, 'f'},
					     {"tofu", 0, 0, 't'},
					     {"connect-timeout", 1, 0, 'C'},
					     {"io-timeout", 1, 0, 'I'},
					     {"rpc-timeout", 1, 0, 'R'},
					     {"deadline", 1, 0, 'D'},
					     {"max-reply", 1, 0, 'M'},
					     {"base10-only", 0, 0, 'b'},
					     {"save-usage", 1, 0, 's'},
					     {"out", 1, 0, 'o'},
					     {"put", 1, 0, 'p'},
					     {"put-path", 1, 0, 'q'},
					     {"get", 1, 0, 'g'},
					     {0, 0, 0, 0}};
	int c, idx, rc;

	while ((c = getopt_long(argc, argv, "", opts, &idx)) != -1) {
		if (c == '?') {
			usage();
			return rum_err_set(RUM_EINVAL, "bad command line");
		}
		if ((rc = set_option(p, c, optarg, opts[idx].name)) < 0)
			return rc;
	}
	if (!p->ssh.host || !p->ssh.username || (!!p->put_file != !!p->put_path)) {
		usage();
		return rum_err_set(RUM_EINVAL,
				   "--host, --user (and --put with --put-path) are required");
	}
	return 0;
}

/* Sends op and prints an rpc-error as such (returned as RUM_EINVAL). */
static int rpc(struct rum_netconf *nc, const char *name, const char *op, char **text,
	       struct rum_netconf_reply *r)
{
	size_t len;
	int rc = rum_netconf_rpc(nc, op, text, &len, r);

	if (rc < 0)
		return fail(rc);
	if (r->kind == RUM_NETCONF_REPLY_ERROR) {
		printf("rpc-error %s: %s\n", name, r->error);
		return RUM_EINVAL;
	}
	return 0;
}

static int get_state(struct rum_netconf *nc)
{
	struct rum_netconf_reply r;
	struct rum_netconf_licensing lic;
	char *text = NULL;
	size_t len;
	int rc = rpc(nc, "get",
		     "<get><filter type=\"subtree\"><licensing xmlns=\"" RUM_LICENSE_NS "\">"
		     "<state/></licensing></filter></get>",
		     &text, &r);

	if (rc < 0)
		goto out;
	len = strlen(text);
	if ((rc = rum_netconf_xml_licensing(&lic, text, len)) < 0) {
		fail(rc);
		goto out;
	}
	printf("state pid=%s sn=%s usage=%zu closed-reports=%zu\n", lic.pid ? lic.pid : "",
	       lic.sn ? lic.sn : "", lic.n_usage, lic.n_closed_reports);
	rum_netconf_licensing_dispose(&lic);
out:
	rum_netconf_reply_dispose(&r);
	free(text);
	return rc;
}

/* Runs a cisco-smart-license file operation (rum-save-usage-unreported or
 * import-file) on path; success needs return-code "success". */
static int file_op(struct rum_netconf *nc, const char *op, const char *path)
{
	struct rum_netconf_reply r;
	char *esc = NULL, *xml;
	size_t esc_len = 0, size;
	int rc;

	if ((rc = rum_netconf_xml_escape(&esc, &esc_len, path, 1024)) < 0)
		return fail(rc);
	size = esc_len + 2 * strlen(op) + 128;
	xml = malloc(size);
	if (!xml)
		abort();
	snprintf(xml, size, "<%s xmlns=\"" RUM_LICENSE_NS "\"><file-path>%s</file-path></%s>", op,
		 esc, op);
	rc = rpc(nc, op, xml, NULL, &r);
	if (rc == 0) {
		printf("%s %s return-code=%s%s%s\n", op, path, r.return_code ? r.return_code : "",
		       r.confirmation ? " confirmation=" : "",
		       r.confirmation ? r.confirmation : "");
		if (!r.return_code || strcmp(r.return_code, "success") != 0)
			rc = fail(rum_err_set(RUM_EIO, "%s: return-code %s", op,
					      r.return_code ? r.return_code : "(none)"));
	}
	rum_netconf_reply_dispose(&r);
	free(xml);
	free(esc);
	return rc;
}

static int64_t scp_deadline(const struct probe *p)
{
	return rum_ssh_now_ms() + (p->scp_timeout_ms > 0 ? p->scp_timeout_ms : 60000);
}

/* Copies a device file back (capped like a reply) and writes it to --out. */
static int fetch(const struct probe *p, struct rum_ssh *ssh, const char *path)
{
	char *data = NULL;
	size_t len = 0;
	int rc;
	FILE *f;

	rc = rum_ssh_scp_get(ssh, path, p->nc.max_reply ? p->nc.max_reply : FILE_MAX, &data, &len,
			     scp_deadline(p));
	if (rc < 0)
		return fail(rc);
	printf("scp-get %s bytes=%zu\n", path, len);
	if (p->out_file) {
		f = fopen(p->out_file, "wb");
		if (!f || fwrite(data, 1, len, f) != len)
			rc = fail(rum_err_set(RUM_EIO, "cannot write %s", p->out_file));
		if (f)
			fclose(f);
	}
	free(data);
	return rc;
}

static int put_and_import(const struct probe *p, struct rum_ssh *ssh, struct rum_netconf *nc)
{
	char *data = NULL;
	size_t len = 0;
	int rc;

	if ((rc = read_file(&data, &len, p->put_file)) < 0)
		return fail(rc);
	rc = rum_ssh_scp_put(ssh, p->put_path, data, len, scp_deadline(p));
	free(data);
	if (rc < 0)
		return fail(rc);
	printf("scp-put %s bytes=%zu\n", p->put_path, len);
	return file_op(nc, "import-file", p->put_path);
}

static int connect_device(struct rum_ssh **ssh, const struct probe *p)
{
	char *key = NULL, fp[80];
	int rc = rum_ssh_connect(ssh, &key, &p->ssh);

	if (key) {
		printf("host-key %s\n", key);
		if (rum_ssh_fingerprint(fp, sizeof(fp), key) == 0)
			printf("fingerprint %s\n", fp);
	}
	free(key);
	return rc < 0 ? fail(rc) : 0;
}

static int session(const struct probe *p, struct rum_ssh *ssh)
{
	struct rum_netconf *nc = NULL;
	const struct rum_netconf_hello *h;
	int rc = rum_netconf_open(&nc, ssh, &p->nc);

	if (rc < 0)
		return fail(rc);
	h = rum_netconf_peer(nc);
	printf("hello base=%d session-id=%lld licensing=%d\n", rum_netconf_base(nc),
	       (long long)h->session_id, h->licensing ? 1 : 0);
	if ((rc = get_state(nc)) == 0 && p->save_path &&
	    (rc = file_op(nc, "rum-save-usage-unreported", p->save_path)) == 0)
		rc = fetch(p, ssh, p->save_path);
	if (rc == 0 && p->get_path)
		rc = fetch(p, ssh, p->get_path);
	if (rc == 0 && p->put_file)
		rc = put_and_import(p, ssh, nc);
	rum_netconf_close(nc);
	return rc;
}

int main(int argc, char **argv)
{
	struct probe p = {.ssh = {.port = 830}};
	struct rum_ssh *ssh = NULL;
	int64_t start = rum_ssh_now_ms();
	int rc;

	setvbuf(stdout, NULL, _IOLBF, 0);
	if ((rc = parse_args(&p, argc, argv)) < 0) {
		fail(rc);
		return 2;
	}
	if ((rc = connect_device(&ssh, &p)) == 0)
		rc = session(&p, ssh);
	rum_ssh_free(ssh);
	printf("elapsed-ms %lld\n", (long long)(rum_ssh_now_ms() - start));
	free(p.password);
	free(p.key);
	return rc < 0 ? 1 : 0;
}
