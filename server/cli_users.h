/* rumd user add|list|passwd|disable|enable: the admin console's local users
 * (people who sign in with a name and password rather than a token). */
#ifndef RUM_SERVER_CLI_USERS_H
#define RUM_SERVER_CLI_USERS_H

#include "domain/domain.h"
#include "server/config.h"

#include <stdio.h>

extern const char *const rum_cli_user_opts[];

void rum_cli_user_usage(FILE *out);

/* words[0] is "user". A password comes from --password-file, else from
 * standard input (prompted for, unechoed, on a terminal). */
int rum_cli_user(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		 int nwords, const char *(*opt)(const void *ctx, const char *name),
		 const void *ctx);

#endif
