/* rest_probe: drives rumd's device REST client (collector/rest_client) from
 * the command line, for the integration tests. Not installed.
 *
 *   rest_probe --host H --port P --user U --password-file F [--pin PIN]
 *              [--tofu] [--plain-http] [--connect-timeout MS] [--timeout MS]
 *              [--max-reply BYTES] COMMAND...
 *   COMMAND: close-reports | all-reports | import FILE | import-raw FILE
 *
 * Commands run in order on one client (one connection when the device keeps
 * it alive). Prints each result on stdout ("closed", the all-reports body,
 * the device's import answer), then "seen-pin: PIN" on stderr when a TLS
 * certificate was seen. On error prints "CODE: message" on stderr and exits
 * 1; bad usage exits 2. */
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "collector/rest_client.h"
#include "lib/err.h"
#include "lib/strict.h"

static void usage(void)
{
	fprintf(stderr,
		"usage: rest_probe --host H --port P --user U --password-file F [--pin PIN]\n"
		"       [--tofu] [--plain-http] [--connect-timeout MS] [--timeout MS]\n"
		"       [--max-reply BYTES] {close-reports|all-reports|import FILE|"
		"import-raw FILE}...\n");
	exit(2);
}

static char *read_all(const char *path, size_t *len)
{
	FILE *f = fopen(path, "rb");
	char *buf = NULL;
	size_t cap = 0, n;

	*len = 0;
	if (!f)
		return NULL;
	do {
		if (*len + 65536 + 1 > cap) {
			cap = (*len + 65536 + 1) * 2;
			buf = realloc(buf, cap);
			if (!buf)
				abort();
		}
		n = fread(buf + *len, 1, 65536, f);
		*len += n;
	} while (n > 0);
	fclose(f);
	buf[*len] = '\0';
	return buf;
}

static long number(const char *s)
{
	int64_t v;

	if (rum_strict_int64(&v, s) < 0 || v < 0 || v > 1L << 40)
		usage();
	return (long)v;
}

static int run(struct rum_rest_client *c, char **cmds, int n)
{
	char *out = NULL, *xml;
	size_t len;
	int rc = 0;

	for (int i = 0; i < n && rc == 0; i++) {
		if (strcmp(cmds[i], "close-reports") == 0) {
			if ((rc = rum_rest_client_close_reports(c)) == 0)
				printf("closed\n");
		} else if (strcmp(cmds[i], "all-reports") == 0) {
			if ((rc = rum_rest_client_all_reports(c, &out, &len)) == 0)
				printf("%s\n", out);
		} else if ((strcmp(cmds[i], "import") == 0 || strcmp(cmds[i], "import-raw") == 0) &&
			   i + 1 < n) {
			xml = read_all(cmds[i + 1], &len);
			if (!xml)
				rc = rum_err_set(RUM_ENOTFOUND, "cannot read %s", cmds[i + 1]);
			else if ((rc = rum_rest_client_import(c, xml, len, cmds[i][6] == '-',
							      &out)) == 0)
				printf("%s\n", out);
			free(xml);
			i++;
		} else {
			usage();
		}
		free(out);
		out = NULL;
		fflush(stdout);
	}
	return rc;
}

int main(int argc, char **argv)
{
	static const struct option opts[] = {{"host", required_argument, NULL, 'h'},
					     {"port", required_argument, NULL, 'p'},
					     {"user", required_argument, NULL, 'u'},
					     {"password-file", required_argument, NULL, 'f'},
					     {"pin", required_argument, NULL, 'k'},
					     {"tofu", no_argument, NULL, 't'},
					     {"plain-http", no_argument, NULL, 'H'},
					     {"connect-timeout", required_argument, NULL, 'c'},
					     {"timeout", required_argument, NULL, 'T'},
					     {"max-reply", required_argument, NULL, 'm'},
					     {NULL, 0, NULL, 0}};
	struct rum_rest_client_options o = {.host = "127.0.0.1"};
	struct rum_rest_client *c;
	char *password = NULL, *pin;
	size_t len;
	int opt, rc;

	while ((opt = getopt_long(argc, argv, "", opts, NULL)) != -1) {
		switch (opt) {
		case 'h': o.host = optarg; break;
		case 'p': o.port = (int)number(optarg); break;
		case 'u': o.username = optarg; break;
		case 'f':
			free(password);
			password = read_all(optarg, &len);
			if (!password) {
				fprintf(stderr, "ENOTFOUND: cannot read %s\n", optarg);
				return 1;
			}
			password[strcspn(password, "\r\n")] = '\0';
			break;
		case 'k': o.pin = optarg; break;
		case 't': o.trust_on_first_use = true; break;
		case 'H': o.plain_http = true; break;
		case 'c': o.connect_timeout_ms = (int)number(optarg); break;
		case 'T': o.timeout_ms = (int)number(optarg); break;
		case 'm': o.max_reply = (size_t)number(optarg); break;
		default: usage();
		}
	}
	if (optind >= argc)
		usage();
	o.password = password;
	rc = rum_rest_client_new(&c, &o);
	if (rc == 0) {
		rc = run(c, argv + optind, argc - optind);
		pin = rum_rest_client_seen_pin(c);
		if (pin)
			fprintf(stderr, "seen-pin: %s\n", pin);
		free(pin);
		rum_rest_client_free(c);
	}
	free(password);
	if (rc < 0) {
		fprintf(stderr, "%s: %s\n", rum_err_name(rc), rum_err_msg());
		return 1;
	}
	return 0;
}
