/* rumd token create|list|revoke: the admin API's bearer tokens from the
 * command line (token management is CLI-only). */
#ifndef RUM_SERVER_CLI_TOKENS_H
#define RUM_SERVER_CLI_TOKENS_H

#include "domain/domain.h"
#include "server/config.h"

/* words[0] is "token", words[1] the sub-verb. create prints the new token
 * once, on stdout; list prints no secret. RUM_EINVAL for bad usage. */
int rum_cli_token(const struct rum_config *cfg, struct rum_domain *dom, const char *const *words,
		  int nwords, const char *role, const char *tenant, const char *description);

#endif
