#include "server/cli_tokens.h"

#include "domain/tokens.h"
#include "lib/err.h"
#include "lib/strict.h"

#include <inttypes.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#define RUM_CLI_TOKEN_USAGE                                                      \
	"usage: rumd token create --role admin|operator|reader [--tenant NAME] " \
	"[--description TEXT] | rumd token list | rumd token revoke ID"

static void rum_cli_token_row(void *arg, const struct rum_token *t)
{
	printf("%" PRId64 "\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", t->id, t->prefix, t->role, t->tenant,
	       t->created_at, t->last_used_at[0] ? t->last_used_at : "-",
	       t->revoked_at[0] ? t->revoked_at : "-", t->description);
}

static int rum_cli_token_list(struct rum_domain *dom)
{
	printf("ID\tPREFIX\tROLE\tTENANT\tCREATED\tLAST_USED\tREVOKED\tDESCRIPTION\n");
	return rum_tokens_list(dom, rum_cli_token_row, NULL);
}

int rum_cli_token(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		  int nwords, const char *role, const char *tenant, const char *description)
{
	const char *sub = nwords >= 2 ? words[1] : "";
	char prefix[24];
	char *token = NULL;
	int64_t id = 0;
	int rc;

	if (strcmp(sub, "create") == 0 && nwords == 2 && role) {
		rc = rum_tokens_create(dom, role, tenant, description, &token, &id);
		if (rc == 0) {
			printf("%s\n", token);
			fprintf(stderr,
				"token %" PRId64 " created (role %s, %s%s%s); it is shown "
				"only now: rumd keeps its SHA-256 only\n",
				id, role, tenant ? "tenant '" : "every tenant",
				tenant ? tenant : "", tenant ? "'" : "");
			memset(token, 0, strlen(token));
			free(token);
		}
		return rc;
	}
	if (role || tenant || description)
		return rum_err_set(RUM_EINVAL, RUM_CLI_TOKEN_USAGE);
	if (strcmp(sub, "list") == 0 && nwords == 2)
		return rum_cli_token_list(dom);
	if (strcmp(sub, "revoke") == 0 && nwords == 3) {
		if (rum_strict_int64(&id, words[2]) != 0 || id <= 0)
			return rum_err_set(RUM_EINVAL, "'%s' is not a token id", words[2]);
		rc = rum_tokens_revoke(dom, id, prefix);
		if (rc == 0)
			printf("token %" PRId64 " (%s) revoked\n", id, prefix);
		return rc;
	}
	return rum_err_set(RUM_EINVAL, RUM_CLI_TOKEN_USAGE);
}
