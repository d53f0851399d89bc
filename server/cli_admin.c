#include "server/cli_admin.h"

#include "domain/admin.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUM_CLI_TOKEN_USAGE                                                                   \
	"usage: rumd token create --role admin|operator|reader [--tenant NAME] "              \
	"[--description TEXT] | rumd token list | rumd token revoke ID"

int rum_cli_token(const struct rum_config *cfg, const char *url, const char *const *words,
		  int nwords, const char *role, const char *tenant, const char *description)
{
	struct rum_admin_env env = {url, (int)cfg->db_timeout_ms, cfg->data_dir, NULL};
	const char *sub = nwords >= 2 ? words[1] : "";
	char prefix[24];
	char *token = NULL;
	int64_t id = 0;
	int rc;

	if (strcmp(sub, "create") == 0 && nwords == 2 && role) {
		rc = rum_admin_token_create(&env, role, tenant, description, &token, &id);
		if (rc == 0) {
			printf("%s\n", token);
			fprintf(stderr, "token %" PRId64 " created (role %s, %s%s%s); it is shown "
				"only now: rumd keeps its SHA-256 only\n", id, role,
				tenant ? "tenant '" : "every tenant", tenant ? tenant : "",
				tenant ? "'" : "");
			memset(token, 0, strlen(token));
			free(token);
		}
		return rc;
	}
	if (role || tenant || description)
		return rum_err_set(RUM_EINVAL, RUM_CLI_TOKEN_USAGE);
	if (strcmp(sub, "list") == 0 && nwords == 2)
		return rum_admin_token_print(&env);
	if (strcmp(sub, "revoke") == 0 && nwords == 3) {
		if (rum_strict_int64(&id, words[2]) != 0 || id <= 0)
			return rum_err_set(RUM_EINVAL, "'%s' is not a token id", words[2]);
		rc = rum_admin_token_revoke(&env, id, prefix);
		if (rc == 0)
			printf("token %" PRId64 " (%s) revoked\n", id, prefix);
		return rc;
	}
	return rum_err_set(RUM_EINVAL, RUM_CLI_TOKEN_USAGE);
}
