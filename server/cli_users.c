#include "server/cli_users.h"

#include "domain/import.h"
#include "domain/sessions.h"
#include "lib/crypto.h"
#include "lib/err.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <unistd.h>

const char *const rum_cli_user_opts[] = {"role", "tenant", "password-file", NULL};

void rum_cli_user_usage(FILE *out)
{
	fprintf(out,
		"Usage: rumd user add NAME --role admin|operator|reader [--tenant NAME] "
		"[--password-file FILE]\n"
		"       rumd user list\n"
		"       rumd user passwd NAME [--password-file FILE]\n"
		"       rumd user disable NAME | rumd user enable NAME\n\n"
		"Local users sign in to the admin console with a name and password (kept as an "
		"scrypt hash),\nas an alternative to a bearer token; --tenant binds one to a "
		"tenant. The password is read\nfrom --password-file or standard input (asked for "
		"on a terminal), %d to %d characters.\nA new password or a disabled user ends the "
		"user's open sessions. All of it is audited.\n",
		RUM_PASSWORD_MIN, RUM_PASSWORD_MAX);
}

/* One line of standard input; on a terminal, asked for without echo. */
static int rum_cli_user_read_password(char **out)
{
	struct termios old, quiet;
	bool tty = isatty(STDIN_FILENO) == 1 && tcgetattr(STDIN_FILENO, &old) == 0;
	size_t cap = 0;
	ssize_t n;

	*out = NULL;
	if (tty) {
		fprintf(stderr, "password: ");
		quiet = old;
		quiet.c_lflag &= ~(tcflag_t)ECHO;
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &quiet);
	}
	n = getline(out, &cap, stdin);
	if (tty) {
		tcsetattr(STDIN_FILENO, TCSAFLUSH, &old);
		fprintf(stderr, "\n");
	}
	if (n < 0) {
		free(*out);
		*out = NULL;
		return rum_err_set(RUM_EINVAL, "no password on standard input (or use "
					       "--password-file FILE)");
	}
	while (n > 0 && ((*out)[n - 1] == '\n' || (*out)[n - 1] == '\r'))
		(*out)[--n] = '\0';
	return 0;
}

static int rum_cli_user_password(char **out, const char *file)
{
	size_t len = 0;
	int rc;

	if (!file)
		return rum_cli_user_read_password(out);
	rc = rum_import_read_file(out, &len, file, RUM_PASSWORD_MAX + 2);
	if (rc != 0)
		return rum_err_set(rc, "--password-file: %s", rum_err_msg());
	while (len > 0 && ((*out)[len - 1] == '\n' || (*out)[len - 1] == '\r'))
		(*out)[--len] = '\0';
	if (strlen(*out) != len) {
		rum_crypto_wipe(*out, len);
		free(*out);
		*out = NULL;
		return rum_err_set(RUM_EINVAL, "--password-file: the password holds a NUL byte");
	}
	return 0;
}

static void rum_cli_user_line(void *arg, const struct rum_user *u)
{
	(void)arg;
	printf("%-24s %-9s %-16s %-20s %-20s %-8lld %s\n", u->name, u->role, u->tenant,
	       u->created_at, u->password_at, (long long)u->sessions,
	       u->disabled_at[0] ? u->disabled_at : "-");
}

int rum_cli_user(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		 int nwords, const char *(*opt)(const void *ctx, const char *name), const void *ctx)
{
	const char *sub = nwords >= 2 ? words[1] : "";
	char *password = NULL;
	int rc;

	(void)cfg;
	if (strcmp(sub, "list") == 0 && nwords == 2) {
		printf("%-24s %-9s %-16s %-20s %-20s %-8s %s\n", "NAME", "ROLE", "TENANT", "ADDED",
		       "PASSWORD SET", "SESSIONS", "DISABLED");
		return rum_users_list(dom, rum_cli_user_line, NULL);
	}
	if (nwords != 3 || !(strcmp(sub, "add") == 0 || strcmp(sub, "passwd") == 0 ||
			     strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0))
		return rum_err_set(RUM_EINVAL, "usage: rumd user add|list|passwd|disable|enable "
					       "(see rumd user --help)");
	if (strcmp(sub, "add") == 0 && !opt(ctx, "role"))
		return rum_err_set(RUM_EINVAL, "user add needs --role admin|operator|reader");
	if (strcmp(sub, "disable") == 0 || strcmp(sub, "enable") == 0) {
		rc = rum_users_update(dom, words[2], NULL, strcmp(sub, "disable") == 0);
		if (rc == 0)
			printf("user '%s' %sd%s\n", words[2], sub,
			       strcmp(sub, "disable") == 0 ? "; its sessions ended" : "");
		return rc;
	}
	rc = rum_cli_user_password(&password, opt(ctx, "password-file"));
	if (rc == 0 && strcmp(sub, "add") == 0)
		rc = rum_users_add(dom, words[2], password, opt(ctx, "role"), opt(ctx, "tenant"));
	else if (rc == 0)
		rc = rum_users_update(dom, words[2], password, -1);
	if (rc == 0)
		printf(strcmp(sub, "add") == 0 ? "user '%s' added\n"
					       : "password of '%s' set; its sessions ended\n",
		       words[2]);
	if (password) {
		rum_crypto_wipe(password, strlen(password));
		free(password);
	}
	return rc;
}
